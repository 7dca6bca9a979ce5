//! The opt-in end-to-end suite against a real cluster: `VCLUSTER_E2E_KUBECONFIG=/path/to/kubeconfig
//! cargo test --test e2e -- --nocapture`. Without that variable each test prints a notice and
//! returns (CI has no cluster). It creates a virtual cluster in a namespace of its own, waits until
//! it works, upgrades it, and — when `helm` is on the PATH — checks that Helm reads the releases
//! (`helm list/history/get values/get manifest`); then it deletes the namespace.

mod support;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const ENV: &str = "VCLUSTER_E2E_KUBECONFIG";

#[allow(clippy::print_stderr)]
fn kubeconfig() -> Option<PathBuf> {
    match std::env::var_os(ENV) {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => {
            eprintln!("notice: {ENV} is not set; the end-to-end tests need a real cluster and did nothing");
            None
        }
    }
}

fn run(kubeconfig: &PathBuf, program: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot run: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn vcluster(kubeconfig: &PathBuf, args: &[&str]) -> Value {
    let binary = support::cluster::vcluster_binary();
    let (code, stdout, stderr) = run(kubeconfig, binary.to_str().unwrap(), args);
    assert_eq!(code, 0, "vcluster {args:?} failed:\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// Deletes the test namespace at the end, also when the test fails.
struct Cleanup(PathBuf, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = run(&self.0, "kubectl", &["delete", "namespace", &self.1, "--wait=false"]);
    }
}

#[allow(clippy::print_stderr)]
#[test]
fn create_wait_upgrade_and_helm_reads_the_releases() {
    let Some(kubeconfig) = kubeconfig() else { return };
    let suffix = format!("{:x}", std::process::id() ^ (std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as u32));
    let name = format!("e2e-{suffix}");
    let namespace = format!("vcluster-e2e-{suffix}");
    let _cleanup = Cleanup(kubeconfig.clone(), namespace.clone());

    let created = vcluster(&kubeconfig, &["create", &name, "-n", &namespace, "--timeout", "15m", "-o", "json"]);
    assert_eq!(created["revision"], 1);
    assert_eq!(created["status"], "deployed");
    let upgraded = vcluster(
        &kubeconfig,
        &[
            "create",
            &name,
            "-n",
            &namespace,
            "--upgrade",
            "--timeout",
            "15m",
            "-o",
            "json",
            "--set",
            "syncer.extraArgs={--tls-san=e2e.example.com}",
        ],
    );
    assert_eq!(upgraded["revision"], 2);
    let again = support::cluster::vcluster_binary();
    let (code, _, stderr) = run(&kubeconfig, again.to_str().unwrap(), &["create", &name, "-n", &namespace]);
    assert_eq!(code, 1, "an existing release without --upgrade: {stderr}");

    if run(&kubeconfig, "helm", &["version", "--short"]).0 != 0 {
        eprintln!("notice: helm is not on the PATH; the Helm checks did not run");
        return;
    }
    let (code, list, stderr) = run(&kubeconfig, "helm", &["list", "-n", &namespace, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let list: Value = serde_json::from_str(&list).unwrap();
    let entry = list.as_array().unwrap().iter().find(|r| r["name"] == name.as_str()).expect("helm lists the release");
    assert_eq!(entry["status"], "deployed");
    assert_eq!(entry["revision"], "2");
    assert_eq!(entry["chart"], format!("vcluster-{}", vcluster::CHART_VERSION));

    let (code, history, stderr) = run(&kubeconfig, "helm", &["history", &name, "-n", &namespace, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let history: Value = serde_json::from_str(&history).unwrap();
    let statuses: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["superseded", "deployed"]);

    let (code, values, stderr) = run(&kubeconfig, "helm", &["get", "values", &name, "-n", &namespace, "-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let values: Value = serde_json::from_str(&values).unwrap();
    assert_eq!(values["syncer"]["extraArgs"][0], "--tls-san=e2e.example.com");
    assert!(values["serviceCIDR"].as_str().is_some_and(|c| c.contains('/')), "the detected CIDR is recorded: {values}");
    assert!(values["vcluster"]["image"].as_str().is_some_and(|i| i.starts_with("rancher/k3s:")), "{values}");

    let (code, manifest, stderr) = run(&kubeconfig, "helm", &["get", "manifest", &name, "-n", &namespace]);
    assert_eq!(code, 0, "{stderr}");
    assert!(manifest.contains("kind: StatefulSet") && manifest.contains("--tls-san=e2e.example.com"), "{manifest}");
}
