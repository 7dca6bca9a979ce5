//! `vcluster render` as a process: bad input gives a clear error, exit 1 and nothing on
//! stdout; good input prints manifests (YAML stream or a v1/List) or the merged values.

mod support;

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use serde_json::Value;

fn vcluster(home: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("vcluster").unwrap();
    // No user kubeconfig or environment leaks into the tests.
    cmd.env_remove("KUBECONFIG").env("HOME", home).env("NO_COLOR", "1").current_dir(home);
    cmd
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(home: &Path, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut cmd = vcluster(home);
    cmd.args(args);
    let out = match stdin {
        Some(input) => cmd.write_stdin(input.to_vec()).output().unwrap(),
        None => cmd.output().unwrap(),
    };
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn bad_input_is_a_clear_error_with_exit_1_and_no_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
    write("unknown.yaml", "sync:\n  ingress:\n    enabled: true\n");
    write("syntax.yaml", "sync:\n  ingresses:\n    enabled: [true\n");
    write("dup.yaml", "fallbackHostDns: true\nsyncer:\n  replicas: 1\nfallbackHostDns: false\n");
    write("type.yaml", "sync:\n  ingresses:\n    enabled: sometimes\n");
    write(
        "virtual.yaml",
        "mapServices:\n  fromVirtual:\n    - from: my-virtual-service\n      to: ns/my-host-service\n",
    );
    write("label.yaml", "podLabels:\n  team: \"-bad-\"\n");
    write("quantity.yaml", "syncer:\n  resources:\n    limits:\n      memory: lots\n");
    write("list.yaml", "- a\n- b\n");
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
    }
    write("bomb.yaml", &bomb);
    let big = format!("init:\n  manifests: \"{}\"\n", "x".repeat(6 * 1024 * 1024));
    write("big.yaml", &big);
    write(
        "kubeconfig",
        "apiVersion: v1\nkind: Config\ncontexts: [{name: a, context: {cluster: c, namespace: team}}]\n",
    );

    let long_name = "a".repeat(52);
    // (arguments, stdin, texts the error must contain)
    type Case<'a> = (Vec<&'a str>, Option<&'a [u8]>, Vec<&'a str>);
    let cases: Vec<Case> = vec![
        (vec!["render", "My_VC"], None, vec!["invalid vcluster name", "DNS-1035"]),
        (vec!["render", &long_name], None, vec!["no more than 51", "vc-workload-<name>"]),
        (vec!["render", "my-vc", "-n", "Bad_NS"], None, vec!["invalid namespace", "RFC 1123 label"]),
        (
            vec!["render", "my-vc", "-f", "unknown.yaml"],
            None,
            vec!["unknown values key sync.ingress.enabled (did you mean sync.ingresses.enabled?)"],
        ),
        (vec!["render", "my-vc", "-f", "syntax.yaml"], None, vec!["syntax.yaml:3:14: unclosed bracket"]),
        (
            vec!["render", "my-vc", "-f", "dup.yaml"],
            None,
            vec!["dup.yaml:4:1: duplicate key \"fallbackHostDns\" (first defined on line 1)"],
        ),
        (
            vec!["render", "my-vc", "-f", "type.yaml"],
            None,
            vec!["sync.ingresses.enabled: expected a boolean, found string \"sometimes\""],
        ),
        (
            vec!["render", "my-vc", "-f", "virtual.yaml"],
            None,
            vec![
                "mapServices.fromVirtual[0].from: \"my-virtual-service\" must have the form namespace/name",
                "mapServices.fromVirtual[0].to",
            ],
        ),
        (vec!["render", "my-vc", "-f", "label.yaml"], None, vec!["podLabels.team: label value \"-bad-\""]),
        (
            vec!["render", "my-vc", "-f", "quantity.yaml"],
            None,
            vec!["syncer.resources.limits.memory: \"lots\" is not a Kubernetes quantity"],
        ),
        (vec!["render", "my-vc", "-f", "list.yaml"], None, vec!["must be a YAML mapping at the top, found a list"]),
        (vec!["render", "my-vc", "-f", "bomb.yaml"], None, vec!["bomb.yaml: refused"]),
        (vec!["render", "my-vc", "-f", "big.yaml"], None, vec!["big.yaml is larger than 5 MiB"]),
        (vec!["render", "my-vc", "-f", "-"], Some(big.as_bytes()), vec!["<stdin> is larger than 5 MiB"]),
        (vec!["render", "my-vc", "-f", "-", "-f", "-"], Some(b"a: 1\n"), vec!["can be given only once"]),
        (vec!["render", "my-vc", "-f", "missing.yaml"], None, vec!["cannot read values from missing.yaml"]),
        (
            vec!["render", "my-vc", "-f", "https://example.com/v.yaml"],
            None,
            vec!["URLs are not fetched", "hint: download it first"],
        ),
        (vec!["render", "my-vc", "-f", "c3luYzoKICBpbmdyZXNzZXM6CiAgICBlbmFibGVkOiB0cnVlCg=="], None, vec!["base64"]),
        (
            vec!["render", "my-vc", "--set", "sync.ingresses.enabled"],
            None,
            vec!["--set \"sync.ingresses.enabled\": key \"enabled\" has no value"],
        ),
        (vec!["render", "my-vc", "--set", "a[x]=1"], None, vec!["error parsing index"]),
        (vec!["render", "my-vc", "--set-json", "syncer.extraArgs=[1,"], None, vec!["--set-json", "invalid JSON"]),
        (
            vec!["render", "my-vc", "--set-string", "syncer.replicas=2"],
            None,
            vec!["syncer.replicas: expected i64, found string \"2\""],
        ),
        (vec!["render", "my-vc", "--kubernetes-version", "latest"], None, vec!["kubernetes version \"latest\""]),
        (
            vec!["render", "my-vc", "--kubeconfig", "kubeconfig", "--context", "nope"],
            None,
            vec!["context \"nope\" not found", "hint: pass -n"],
        ),
        (vec!["render", "my-vc", "--kubeconfig", "no-such-kubeconfig"], None, vec!["cannot read kubeconfig"]),
    ];
    for (args, stdin, wants) in cases {
        let r = run(d, &args, stdin);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?} printed on stdout: {}", r.stdout);
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
        for want in wants {
            assert!(r.stderr.contains(want), "{args:?}: expected {want:?} in:\n{}", r.stderr);
        }
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(dir.path(), &["render", "my-vc", "-o", "table"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stdout.is_empty());
    let r = run(dir.path(), &["render"], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn renders_yaml_json_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = support::repo().join("examples/networking.yaml");
    let example = example.to_str().unwrap();
    let r = run(d, &["render", "my-vcluster", "-f", example], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(&r.stdout).unwrap();
    assert_eq!(docs.len(), 10);
    assert!(
        docs.iter().all(|d| d["metadata"]["namespace"] == "vcluster-my-vcluster"
            || d["kind"].as_str().unwrap().starts_with("Cluster"))
    );
    assert!(r.stderr.contains("create` detects the host cluster's service range"), "{}", r.stderr);

    let r = run(d, &["render", "my-vcluster", "-f", example, "-o", "json", "-n", "team"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let list: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((list["apiVersion"].as_str(), list["kind"].as_str()), (Some("v1"), Some("List")));
    assert_eq!(list["items"].as_array().unwrap().len(), 10);
    assert_eq!(list["items"][0]["metadata"]["namespace"], "team");

    // stdin, --set over the file, --show-values prints the merged values.
    let r = run(
        d,
        &["render", "x", "-f", "-", "--set", "syncer.replicas=2", "--show-values", "-o", "json"],
        Some(b"syncer: {replicas: 3}\n"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let merged: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(merged["syncer"]["replicas"], 2);
    assert_eq!(merged["syncer"]["image"], "ghcr.io/loft-sh/vcluster:0.15.7");

    // CLI-computed values sit below -f: the file's image wins over --kubernetes-version.
    let r = run(d, &["render", "x", "--kubernetes-version", "v1.25.4", "--expose", "--isolate", "--show-values"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let merged: Value = serde_saphyr::from_str(&r.stdout).unwrap();
    assert_eq!(merged["vcluster"]["image"], "rancher/k3s:v1.25.11-k3s1");
    assert_eq!(merged["service"]["type"], "LoadBalancer");
    assert_eq!(merged["isolation"]["enabled"], true);
    let r = run(
        d,
        &["render", "x", "--kubernetes-version", "v1.25", "-f", "-", "--show-values"],
        Some(b"vcluster: {image: my/k3s:1}\n"),
    );
    assert_eq!(serde_saphyr::from_str::<Value>(&r.stdout).unwrap()["vcluster"]["image"], "my/k3s:1");

    // Era keys: accepted, one warning naming them.
    let r = run(d, &["render", "x", "-f", "-"], Some(b"telemetry: {disabled: true}\nheadless: false\n"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.matches("warning:").count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("telemetry, headless"), "{}", r.stderr);
}

#[test]
fn namespace_comes_from_flag_then_context_then_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
        users: [{name: u, user: {}}]\ncontexts:\n- {name: a, context: {cluster: c, user: u, namespace: team-a}}\n\
        - {name: b, context: {cluster: c, user: u, namespace: default}}\n";
    std::fs::create_dir_all(d.join(".kube")).unwrap();
    std::fs::write(d.join(".kube/config"), kubeconfig).unwrap();
    std::fs::write(d.join("other"), kubeconfig.replace("team-a", "team-other")).unwrap();
    let ns_of = |extra: &[&str], env: Option<&str>| {
        let mut cmd = vcluster(d);
        cmd.args(["render", "my-vc", "-o", "json"]).args(extra);
        if let Some(k) = env {
            cmd.env("KUBECONFIG", k);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        list["items"][0]["metadata"]["namespace"].as_str().unwrap().to_string()
    };
    assert_eq!(ns_of(&[], None), "team-a", "~/.kube/config current context");
    assert_eq!(ns_of(&["-n", "flag"], None), "flag");
    assert_eq!(ns_of(&["--context", "b"], None), "vcluster-my-vc", "namespace default is not used");
    let list = format!("{}:{}", d.join("missing").display(), d.join("other").display());
    assert_eq!(ns_of(&[], Some(&list)), "team-other", "KUBECONFIG list, missing files skipped");
    assert_eq!(ns_of(&["--kubeconfig", d.join("other").to_str().unwrap()], Some("/nonexistent")), "team-other");
    std::fs::remove_file(d.join(".kube/config")).unwrap();
    assert_eq!(ns_of(&[], None), "vcluster-my-vc", "no kubeconfig, no namespace");
}

#[test]
fn closed_stdout_ends_quietly_with_0() {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<String> = (0..5000).map(|i| format!("    - {{from: ns/s{i}, to: h{i}}}\n")).collect();
    std::fs::write(dir.path().join("big.yaml"), format!("mapServices:\n  fromVirtual:\n{}", entries.concat())).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("vcluster");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; '{}' render my-vc -f big.yaml 2>err.txt | head -1", bin.display()))
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "---\n");
    let err = std::fs::read_to_string(dir.path().join("err.txt")).unwrap();
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
}

#[test]
fn a_failed_write_to_stdout_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("vcluster"))
        .args(["render", "my-vc"])
        .env_remove("KUBECONFIG")
        .env("HOME", dir.path())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the manifests were lost");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: cannot write to stdout"), "{stderr}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The real binary over generated `--set` flags: exit 1 with an error and no stdout, or
    /// exit 0 with a YAML stream that parses.
    #[test]
    fn binary_exits_0_with_parsable_output_or_1_with_an_error(
        sets in prop::collection::vec(
            (prop::sample::select(vec!["sync.ingresses.enabled", "syncer.replicas", "service.type", "labels.a", "mapServices.fromHost[0].from",
                "mapServices.fromHost[0].to", "syncer.extraArgs[0]", "storage.size", "isolation.enabled", "nope.key", "coredns.replicas"]),
             prop::sample::select(vec!["true", "2", "LoadBalancer", "x", "ns/svc", "-1", "5Gi", "{a,b}", "null", "a,b", "{{ x }}"])),
            0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["render".to_string(), "gen".to_string()];
        for (k, v) in &sets {
            args.push("--set".into());
            args.push(format!("{k}={v}"));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(dir.path(), &args, None);
        match r.code {
            0 => {
                let docs: Vec<Value> = serde_saphyr::from_str_multiple(&r.stdout).unwrap();
                prop_assert!(docs.len() >= 8);
            }
            1 => {
                prop_assert!(r.stdout.is_empty());
                prop_assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
            }
            other => prop_assert!(false, "exit {}: {}", other, r.stderr),
        }
    }
}
