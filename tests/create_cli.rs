//! `vcluster create` as a process against the standalone simulator binary (`kube-sim`), without a
//! terminal: what goes to stdout and stderr, and the exit codes.
//!
//! `scripts/test` builds the simulator binary first (`cargo build -p kube-sim --bin kube-sim`).

mod support;

use support::standalone::{Standalone, vcluster};

#[test]
fn success_prints_progress_lines_on_stderr_and_data_only_with_json() {
    let sim = Standalone::start();
    let run = vcluster(&sim.kubeconfig, &["create", "my-vc", "--no-wait"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "", "no data without -o json");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with('[') && l.contains("] Applying 8 objects")), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "no escape codes without a terminal: {}", run.stderr);
    let done = lines
        .iter()
        .position(|l| l.starts_with("done Created vcluster my-vc in namespace vcluster-my-vc (revision 1"))
        .unwrap();
    assert_eq!(lines[done + 1], "- Use `vcluster connect my-vc -n vcluster-my-vc` to access the virtual cluster");
    // Every line before the result is a timestamped progress line or a warning.
    assert!(lines[..done].iter().all(|l| l.starts_with("[20") || l.starts_with("warning: ")), "{}", run.stderr);

    let json = vcluster(
        &sim.kubeconfig,
        &["create", "my-vc", "--upgrade", "--no-wait", "-o", "json", "--set", "syncer.replicas=2"],
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let out: serde_json::Value = serde_json::from_str(&json.stdout).expect("stdout is one JSON object");
    assert_eq!(out["revision"], 2);
    assert_eq!(out["status"], "deployed");
    let sts = out["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "StatefulSet").unwrap();
    assert_eq!(sts["action"], "configured");

    let again = vcluster(&sim.kubeconfig, &["create", "my-vc"]);
    assert_eq!(again.code, 1);
    assert_eq!(again.stdout, "");
    assert!(again.stderr.ends_with(
        "error: vcluster my-vc already exists in namespace vcluster-my-vc\n  hint: upgrade it: vcluster create my-vc -n vcluster-my-vc --upgrade\n  hint: connect to it: vcluster connect my-vc -n vcluster-my-vc\n"
    ), "{}", again.stderr);
}

#[test]
fn bad_input_fails_before_any_request() {
    // Nothing listens at this kubeconfig's server: reaching it would be a different error.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\nusers: [{{name: u, user: {{}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "sync:\n  ingress:\n    enabled: true\n").unwrap();
    let bad = dir.path().join("bad.yaml");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["create", "My_VC"], "invalid vcluster name"),
        (vec!["create", "my-vc", "-f", bad.to_str().unwrap()], "unknown values key sync.ingress.enabled"),
        (vec!["create", "my-vc", "--set", "a[x]=1"], "error parsing index"),
        (vec!["create", "my-vc", "--chart-version", "0.19.7"], "--chart-version is not supported"),
        (vec!["create", "my-vc", "--chart-repo", "https://charts.loft.sh"], "--chart-repo is not supported"),
        (vec!["create", "my-vc", "--distro", "k0s"], "--distro k0s is not supported"),
        (vec!["create", "my-vc", "--expose-local"], "--expose-local is not supported"),
        (vec!["create", "my-vc", "-n", "Bad_NS"], "invalid namespace"),
    ];
    for (args, want) in cases {
        let run = vcluster(&kubeconfig, &args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        assert!(run.stderr.starts_with("error: "), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(want), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("cannot reach"), "{args:?} contacted the cluster: {}", run.stderr);
    }
    let hinted = vcluster(&kubeconfig, &["create", "my-vc", "--chart-version", "0.19.7"]);
    assert!(hinted.stderr.contains("hint: this CLI renders its own embedded chart"), "{}", hinted.stderr);

    let unreachable = vcluster(&kubeconfig, &["create", "my-vc"]);
    assert_eq!(unreachable.code, 1);
    assert!(
        unreachable.stderr.contains(&format!("cannot reach the cluster of context \"c\" at http://127.0.0.1:{port}")),
        "{}",
        unreachable.stderr
    );
    assert!(unreachable.stderr.contains("hint: check that the cluster is running"), "{}", unreachable.stderr);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("none");
    for args in [
        vec!["create"],
        // `--connect false` would make `false` a second name (the established CLI's trap): refused.
        vec!["create", "my-vc", "--connect", "false"],
        vec!["create", "my-vc", "-o", "yaml"],
        vec!["create", "my-vc", "--timeout", "soon"],
    ] {
        let run = vcluster(&kubeconfig, &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    let run = vcluster(&kubeconfig, &["create", "--help"]);
    assert_eq!(run.code, 0);
    for flag in
        ["--upgrade", "--dry-run", "--rollback-on-failure", "--take-ownership", "--force-conflicts", "--force-unlock"]
    {
        assert!(run.stdout.contains(flag), "{flag}");
    }
    assert!(!run.stdout.contains("--chart-version"), "refused flags stay hidden");
}
