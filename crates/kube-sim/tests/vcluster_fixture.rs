//! The vcluster fixture: a stand-in syncer writes `vc-<name>` once the vcluster pod runs,
//! and the host pod's port 8443 leads to a second simulator serving the virtual API over TLS
//! — reached here the way `vcluster connect` reaches it: kubectl port-forward, then kubectl
//! with the Secret's kubeconfig pointed at the forwarded port.

mod common;

use std::time::Duration;

use common::{Kubectl, eventually};
use kube_sim::fixtures::vcluster::{self, SyncerOptions};
use kube_sim::{SimConfig, Simulator, Workloads};
use serde_json::Value;

const STATEFULSET: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: my-vc
  namespace: team
spec:
  serviceName: my-vc-headless
  replicas: 1
  selector:
    matchLabels: {app: vcluster, release: my-vc}
  template:
    metadata:
      labels: {app: vcluster, release: my-vc}
    spec:
      containers:
      - name: syncer
        image: ghcr.io/loft-sh/vcluster:0.19.7
        ports: [{name: https, containerPort: 8443}]
"#;

fn decode(secret: &Value, key: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(secret["data"][key].as_str().unwrap()).unwrap();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn the_stand_in_syncer_writes_the_secret_and_the_forward_reaches_the_virtual_api() {
    let host = Simulator::start_with(SimConfig {
        tls: true,
        workloads: Workloads { enabled: true, ..Default::default() },
        ..Default::default()
    })
    .await
    .unwrap();
    let virtual_cluster = vcluster::start_virtual_cluster().await.unwrap();
    virtual_cluster
        .seed_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: only-in-the-virtual-cluster}\n")
        .unwrap();
    vcluster::stand_in_for_syncer(&host, &virtual_cluster, "team", "my-vc", &SyncerOptions::default());
    let kubectl = Kubectl::new(host.kubeconfig_path()).await;
    kubectl.ok(&["create", "namespace", "team"]).await;
    kubectl.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(STATEFULSET)).await;
    let secret =
        eventually(Duration::from_secs(10), || async { host.object("v1", "Secret", "team", "vc-my-vc") }).await;
    let pod = host.object("v1", "Pod", "team", "my-vc-0").unwrap();
    assert_eq!(pod["status"]["phase"], "Running", "the syncer writes the Secret once its pod runs");
    let sts = host.object("apps/v1", "StatefulSet", "team", "my-vc").unwrap();
    assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], sts["metadata"]["uid"]);
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    let config = decode(&secret, "config");
    let kubeconfig: Value = serde_saphyr::from_str(&config).unwrap();
    assert_eq!(kubeconfig["current-context"], "my-vcluster");
    assert_eq!(kubeconfig["clusters"][0]["cluster"]["server"], "https://localhost:8443");
    assert_eq!(decode(&secret, "certificate-authority"), virtual_cluster.ca_pem().unwrap());
    assert!(decode(&secret, "client-certificate").starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(decode(&secret, "client-key").contains("PRIVATE KEY-----"));

    // connect: forward a local port to my-vc-0:8443, then talk TLS to the virtual API.
    let (mut forward, ports) = kubectl.port_forward(true, &["-n", "team", "pod/my-vc-0", ":8443"]).await;
    let port = ports[0];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vcluster.yaml");
    std::fs::write(&path, config.replace("https://localhost:8443", &format!("https://localhost:{port}"))).unwrap();
    let inside = Kubectl::new(&path).await;
    let namespaces = inside.ok(&["get", "namespaces", "-o", "name"]).await;
    assert!(namespaces.contains("namespace/only-in-the-virtual-cluster"), "{namespaces}");
    let whoami: Value = serde_json::from_str(&inside.ok(&["auth", "whoami", "-o", "json"]).await).unwrap();
    assert_eq!(whoami["status"]["userInfo"]["username"], "system:admin");
    assert_eq!(whoami["status"]["userInfo"]["groups"][0], "system:masters");
    forward.kill().await.unwrap();

    // The syncer writes the Secret again when it goes missing, and for a new StatefulSet.
    kubectl.ok(&["delete", "secret", "vc-my-vc", "-n", "team"]).await;
    eventually(Duration::from_secs(10), || async { host.object("v1", "Secret", "team", "vc-my-vc") }).await;
    kubectl.ok(&["delete", "statefulset", "my-vc", "-n", "team", "--wait=true"]).await;
    eventually(Duration::from_secs(10), || async {
        host.object("v1", "Secret", "team", "vc-my-vc").is_none().then_some(())
    })
    .await;
    kubectl.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(STATEFULSET)).await;
    let secret =
        eventually(Duration::from_secs(10), || async { host.object("v1", "Secret", "team", "vc-my-vc") }).await;
    let sts = host.object("apps/v1", "StatefulSet", "team", "my-vc").unwrap();
    assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], sts["metadata"]["uid"]);
    host.stop().await;
    virtual_cluster.stop().await;
}

/// `kube-sim --vcluster-fixture`: every StatefulSet labelled app=vcluster gets a stand-in
/// syncer and a virtual cluster of its own (control plane only), its Secret following the
/// syncer's arguments — what `vcluster create` then `vcluster connect` need from a standalone
/// simulator.
#[tokio::test]
async fn the_standalone_fixture_serves_every_vcluster_installed() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut sim = tokio::process::Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .args(["--port", "0", "--vcluster-fixture", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kube-sim starts");
    let mut stdout = tokio::io::BufReader::new(sim.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), stdout.next_line()).await.unwrap().unwrap().unwrap();
    assert!(ready.starts_with("READY http://127.0.0.1:"), "{ready}");

    let kubectl = Kubectl::new(&kubeconfig).await;
    kubectl.ok(&["create", "namespace", "team"]).await;
    // As the chart renders it: the syncer's arguments name the context and the server.
    let with_args = STATEFULSET.replace(
        "        ports: [{name: https, containerPort: 8443}]\n",
        "        ports: [{name: https, containerPort: 8443}]\n        args: [--name=my-vc, --kube-config-context-name=team-ctx, --out-kube-config-server, https://my-vc.team:443]\n",
    );
    let labelled =
        with_args.replace("metadata:\n  name: my-vc\n", "metadata:\n  name: my-vc\n  labels: {app: vcluster}\n");
    kubectl.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&labelled)).await;
    // A StatefulSet without the label is someone else's.
    let other = STATEFULSET.replace("name: my-vc\n  namespace", "name: not-a-vc\n  namespace");
    kubectl.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&other)).await;

    let secret: Value = eventually(Duration::from_secs(20), || async {
        let out = kubectl.run(&["get", "secret", "vc-my-vc", "-n", "team", "-o", "json"]).await;
        out.status.success().then(|| serde_json::from_slice(&out.stdout).unwrap())
    })
    .await;
    let config = decode(&secret, "config");
    let parsed: Value = serde_saphyr::from_str(&config).unwrap();
    assert_eq!(parsed["current-context"], "team-ctx");
    assert_eq!(parsed["clusters"][0]["cluster"]["server"], "https://my-vc.team:443");
    let pod: Value =
        serde_json::from_str(&kubectl.ok(&["get", "pod", "my-vc-0", "-n", "team", "-o", "json"]).await).unwrap();
    assert_eq!(pod["status"]["phase"], "Running", "the Secret comes once the pod runs");

    // `vcluster connect`: a forward to my-vc-0:8443, then the virtual API over TLS.
    let (mut forward, ports) = kubectl.port_forward(true, &["-n", "team", "pod/my-vc-0", ":8443"]).await;
    let local = config.replace("https://my-vc.team:443", &format!("https://localhost:{}", ports[0]));
    let path = dir.path().join("vcluster.yaml");
    std::fs::write(&path, local).unwrap();
    let inside = Kubectl::new(&path).await;
    let namespaces = inside.ok(&["get", "namespaces", "-o", "name"]).await;
    assert!(namespaces.contains("namespace/kube-system"), "{namespaces}");
    assert!(!namespaces.contains("namespace/team"), "the virtual cluster is another cluster: {namespaces}");
    assert_eq!(inside.ok(&["get", "nodes", "-o", "name"]).await, "", "a control plane without nodes");
    forward.kill().await.unwrap();
    let out = kubectl.run(&["get", "secret", "vc-not-a-vc", "-n", "team"]).await;
    assert!(!out.status.success(), "no stand-in for a StatefulSet without app=vcluster");

    let status = std::process::Command::new("kill").args(["-TERM", &sim.id().unwrap().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(20), sim.wait()).await.unwrap().unwrap();
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn syncer_options_follow_the_statefulset_arguments() {
    let sts = |args: Value| {
        serde_json::json!({ "spec": { "template": { "spec": { "containers": [
            { "name": "vcluster", "args": ["--service-cidr=10.96.0.0/12"] },
            { "name": "syncer", "args": args }
        ] } } } })
    };
    let options = SyncerOptions::of_statefulset(&sts(serde_json::json!([
        "--name=my-vc",
        "--kube-config-context-name=ctx",
        "--out-kube-config-server=https://vc.example.com"
    ])));
    assert_eq!((options.context_name.as_str(), options.server.as_str()), ("ctx", "https://vc.example.com"));
    let options = SyncerOptions::of_statefulset(&sts(serde_json::json!(["--kube-config-context-name", "spaced"])));
    assert_eq!((options.context_name.as_str(), options.server.as_str()), ("spaced", "https://localhost:8443"));
    let defaults = SyncerOptions::of_statefulset(&sts(serde_json::json!([])));
    assert_eq!(defaults.context_name, SyncerOptions::default().context_name);
}
