//! The rendered chart is accepted by a kube-apiserver: every example, and one render with every
//! optional object switched on, applied with `kubectl apply --server-side` (kubectl 1.33, with
//! its client-side checks against the served OpenAPI) to the API-server simulator, then read
//! back. Schema validation alone (tests/render.rs) cannot catch server-side rules such as
//! "a StatefulSet's volumeMounts may name its volumeClaimTemplates" or a kind the server does
//! not serve.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use kube_sim::{SimConfig, Simulator};
use serde_json::Value;

/// kubectl against the simulator, with a private cache directory; the dispatcher must pick 1.33.
struct Kubectl {
    kubeconfig: std::path::PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    fn new(sim: &Simulator) -> Self {
        let k = Kubectl { kubeconfig: sim.kubeconfig_path().to_path_buf(), cache: tempfile::tempdir().unwrap() };
        let version: Value = serde_json::from_slice(&k.run(&["version", "-o", "json"], None)).unwrap();
        assert_eq!(version["clientVersion"]["minor"], "33", "kubectl client is not 1.33: {version}");
        k
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        let mut child = Command::new("kubectl")
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl is required on the PATH for this test");
        let mut input = child.stdin.take().unwrap();
        if let Some(bytes) = stdin {
            input.write_all(bytes).unwrap();
        }
        drop(input);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

fn apply_and_check(kubectl: &Kubectl, sim: &Simulator, values_yaml: &str, namespace: &str) {
    kubectl.run(&["create", "namespace", namespace], None);
    let rendered = support::render_yaml(values_yaml, "my-vc", namespace);
    let stream = vcluster::render::to_yaml_stream(&rendered.manifests).unwrap();
    let out = String::from_utf8(kubectl.run(&["apply", "--server-side", "-f", "-"], Some(stream.as_bytes()))).unwrap();
    for m in &rendered.manifests {
        let (group, version) = match m.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", m.api_version.as_str()),
        };
        let ns = m.namespace.as_deref().unwrap_or("");
        let stored = sim.object(&m.api_version, &m.kind, ns, &m.name);
        assert!(
            stored.is_some(),
            "{} {}/{} ({group}/{version}) was not stored; kubectl said:\n{out}",
            m.kind,
            ns,
            m.name
        );
    }
    assert_eq!(out.lines().filter(|l| l.ends_with("serverside-applied")).count(), rendered.manifests.len(), "{out}");
}

#[test]
fn every_example_and_every_optional_object_is_accepted_by_the_api_server() {
    let sim = Simulator::start_blocking(SimConfig::default()).unwrap();
    let kubectl = Kubectl::new(&sim);
    for (i, path) in support::examples().iter().enumerate() {
        apply_and_check(&kubectl, &sim, &std::fs::read_to_string(path).unwrap(), &format!("example-{i}"));
    }
    let everything = r#"
sync: {ingresses: {enabled: true}, networkpolicies: {enabled: true}}
mapServices:
  fromHost: [{from: default/db, to: data/db}]
  fromVirtual: [{from: web/api, to: api}]
isolation: {enabled: true}
ingress: {enabled: true, host: vc.example.com}
service: {type: LoadBalancer}
syncer: {replicas: 2}
storage: {persistence: false}
init: {manifests: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n"}
"#;
    apply_and_check(&kubectl, &sim, everything, "everything");
    let kinds: std::collections::BTreeSet<String> =
        support::render_yaml(everything, "my-vc", "everything").manifests.iter().map(|m| m.kind.clone()).collect();
    for kind in ["NetworkPolicy", "ResourceQuota", "LimitRange", "Ingress", "ClusterRole"] {
        assert!(kinds.contains(kind), "the everything-on render lacks a {kind}: {kinds:?}");
    }
}
