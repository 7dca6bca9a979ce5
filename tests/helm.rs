//! Helm itself reading and writing the releases `vcluster` records: the real `helm` (v3, built
//! from its Go module by `scripts/helm build`, see tools/helm/go.mod) and the real `vcluster`
//! binary take turns on one simulated host. The record format is Helm's storage driver
//! (helm v3.21 pkg/storage/driver/secrets.go, pkg/release/release.go); these tests fail, never
//! skip, when helm cannot be built.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::cluster::{Host, Run, finish};

/// The helm binary: `VCLUSTER_HELM_BIN` (set by scripts/test), else what `scripts/helm build`
/// builds or finds cached.
fn helm_binary() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        if let Some(bin) = std::env::var_os("VCLUSTER_HELM_BIN") {
            return PathBuf::from(bin);
        }
        let out = Command::new(support::repo().join("scripts/helm"))
            .arg("build")
            .stderr(Stdio::inherit())
            .output()
            .expect("run scripts/helm build");
        assert!(out.status.success(), "scripts/helm build failed: helm is needed by these tests");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// `helm ARGS` against the host, with its own (empty) configuration and cache.
fn helm(host: &Host, args: &[&str]) -> Run {
    let home = host.home.path().join("helm");
    let child = Command::new(helm_binary())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", host.home.path())
        .env("KUBECONFIG", host.sim.kubeconfig_path())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run helm");
    finish(child)
}

/// `(revision, status)` of each revision `helm history` lists.
fn history(host: &Host, name: &str, namespace: &str) -> Vec<(u64, String, String)> {
    let out = helm(host, &["history", name, "-n", namespace, "-o", "json"]);
    out.succeeds();
    out.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["revision"].as_u64().unwrap(),
                r["status"].as_str().unwrap().to_owned(),
                r["chart"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn values_of(host: &Host, name: &str, namespace: &str, revision: &str) -> Value {
    let out = helm(host, &["get", "values", name, "-n", namespace, "--revision", revision, "-o", "json"]);
    out.succeeds().json()
}

/// The syncer container's arguments in the stored StatefulSet.
fn syncer_args(host: &Host, namespace: &str, name: &str) -> Vec<String> {
    let sts = host.object("apps/v1", "StatefulSet", namespace, name).expect("the StatefulSet");
    let containers = sts["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    let syncer = containers.iter().find(|c| c["name"] == "syncer").expect("a syncer container");
    syncer["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
}

/// The chart this CLI records (`vcluster-<its version>`).
fn ours() -> String {
    format!("vcluster-{}", env!("CARGO_PKG_VERSION"))
}

#[test]
fn helm_reads_what_vcluster_records_and_vcluster_follows_a_helm_rollback() {
    let host = Host::new();
    let (name, ns) = ("my-vc", "vcluster-my-vc");
    let values = host.home.path().join("values.yaml");
    std::fs::write(&values, "sync:\n  ingresses:\n    enabled: true\n").unwrap();
    host.run(&["create", name, "-f", values.to_str().unwrap(), "--no-wait"]).succeeds();
    host.run(&["create", name, "--upgrade", "--reuse-values", "--set", "syncer.extraArgs[0]=--debug", "--no-wait"])
        .succeeds();

    let listed = helm(&host, &["list", "-n", ns, "-o", "json"]);
    let listed = listed.succeeds().json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], name);
    assert_eq!(listed[0]["revision"], "2");
    assert_eq!(listed[0]["status"], "deployed");
    assert_eq!(listed[0]["chart"], ours());
    assert_eq!(history(&host, name, ns), [(1, "superseded".to_owned(), ours()), (2, "deployed".to_owned(), ours())]);

    // The user-supplied values of each revision, as helm reads them.
    let first = values_of(&host, name, ns, "1");
    assert_eq!(first["sync"], json!({"ingresses": {"enabled": true}}), "{first}");
    assert!(first.get("syncer").is_none(), "{first}");
    let second = values_of(&host, name, ns, "2");
    assert_eq!(second["syncer"]["extraArgs"], json!(["--debug"]), "{second}");
    assert_eq!(second["sync"], first["sync"], "--reuse-values kept the first revision's values");

    // The manifest helm reads is what those values render to.
    let manifest = helm(&host, &["get", "manifest", name, "-n", ns]);
    manifest.succeeds();
    let helm_values = host.home.path().join("helm-values.yaml");
    let out = helm(&host, &["get", "values", name, "-n", ns, "-o", "yaml"]);
    std::fs::write(&helm_values, &out.succeeds().stdout).unwrap();
    let rendered = host.run(&["render", name, "-n", ns, "-f", helm_values.to_str().unwrap()]);
    rendered.succeeds();
    assert_eq!(manifest.stdout.trim_end(), rendered.stdout.trim_end(), "helm get manifest vs vcluster render");

    // helm rolls back (a third revision with the first one's manifest and values) ...
    helm(&host, &["rollback", name, "1", "-n", ns, "--wait=false"]).succeeds();
    assert!(!syncer_args(&host, ns, name).contains(&"--debug".to_owned()), "helm applied revision 1 again");
    let list = host.run(&["list", "-o", "json"]);
    let list = list.succeeds().json();
    assert_eq!((list[0]["revision"].clone(), list[0]["releaseStatus"].clone()), (json!(3), json!("deployed")));

    // ... and vcluster goes on from there, reusing the rolled-back values.
    host.run(&["create", name, "--upgrade", "--reuse-values", "--no-wait"]).succeeds();
    let statuses: Vec<(u64, String)> = history(&host, name, ns).into_iter().map(|(r, s, _)| (r, s)).collect();
    assert_eq!(
        statuses,
        [(1, "superseded"), (2, "superseded"), (3, "superseded"), (4, "deployed")].map(|(r, s)| (r, s.to_owned()))
    );
    assert!(values_of(&host, name, ns, "4").get("syncer").is_none(), "revision 3's values were reused");

    // helm uninstall removes everything vcluster applied, and its records.
    helm(&host, &["uninstall", name, "-n", ns, "--wait=false"]).succeeds();
    assert_eq!(host.release_objects(ns, name), Vec::<String>::new());
    assert!(host.record_secrets(ns, name).is_empty());
    assert_eq!(host.run(&["list", "-o", "json"]).succeeds().json(), json!([]));
}

#[test]
fn vcluster_upgrades_and_deletes_a_release_helm_installed() {
    let host = Host::new();
    let (name, ns) = ("other", "team");
    let values = host.home.path().join("values.yaml");
    std::fs::write(&values, "sync:\n  ingresses:\n    enabled: true\n").unwrap();

    // A chart whose one template is what `vcluster render` prints (Go template actions escaped:
    // the CoreDNS bundle carries the syncer's own `{{…}}` placeholders), installed by helm.
    let chart = host.home.path().join("chart");
    std::fs::create_dir_all(chart.join("templates")).unwrap();
    std::fs::write(chart.join("Chart.yaml"), "apiVersion: v2\nname: vcluster\nversion: 0.15.7\nappVersion: 0.15.7\n")
        .unwrap();
    let rendered = host.run(&["render", name, "-n", ns, "-f", values.to_str().unwrap()]);
    let template = rendered.succeeds().stdout.replace("{{", "{{\"{{\"}}");
    std::fs::write(chart.join("templates/vcluster.yaml"), template).unwrap();
    let install = helm(
        &host,
        &["install", name, chart.to_str().unwrap(), "-n", ns, "--create-namespace", "-f", values.to_str().unwrap()],
    );
    install.succeeds();

    let list = host.run(&["list", "-o", "json"]);
    let list = list.succeeds().json();
    assert_eq!(list[0]["name"], name);
    assert_eq!(list[0]["chartVersion"], "0.15.7", "{list}");
    assert_eq!(list[0]["revision"], 1);

    host.run(&[
        "create",
        name,
        "-n",
        ns,
        "--upgrade",
        "--reuse-values",
        "--set",
        "syncer.extraArgs[0]=--debug",
        "--no-wait",
    ])
    .succeeds();
    assert_eq!(
        history(&host, name, ns),
        [(1, "superseded".to_owned(), "vcluster-0.15.7".to_owned()), (2, "deployed".to_owned(), ours())]
    );
    let latest = values_of(&host, name, ns, "2");
    assert_eq!(latest["sync"], json!({"ingresses": {"enabled": true}}), "helm's values were reused: {latest}");
    assert_eq!(latest["syncer"]["extraArgs"], json!(["--debug"]));
    assert!(syncer_args(&host, ns, name).contains(&"--debug".to_owned()));

    host.run(&["delete", name, "-n", ns, "--yes"]).succeeds();
    assert_eq!(helm(&host, &["list", "-A", "-o", "json"]).succeeds().json(), json!([]));
}
