//! The API endpoint in front of kube-sim as the virtual API server, used by kube-rs clients with
//! a kubeconfig pointing at the proxy: lists, watches, port-forwards, and each identity kind.
//!
//! kube-sim does not implement `Impersonate-*` yet: requests of certificate users run there as
//! the proxy's upstream identity (`kubernetes-admin`), which these tests record; token and
//! anonymous requests keep their own identity, which kube-sim does check.

mod proxy_support;

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_sim::{Forbid, SimConfig, Simulator};
use proxy_support::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn sim_and_proxy() -> (Simulator, Running) {
    let sim = Simulator::start_with(SimConfig { tls: true, ..Default::default() }).await.unwrap();
    let kubeconfig = Kubeconfig::read_from(sim.kubeconfig_path()).unwrap();
    let upstream = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    let client_ca = sim.ca_pem().unwrap().to_string();
    let proxy = start_proxy(upstream, |c| c.client_ca_pem = client_ca).await;
    (sim, proxy)
}

/// A kube client of the proxy with `credentials` (kubeconfig `user` fields).
async fn client(proxy: &Running, credentials: &str) -> kube::Client {
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: vc\n  cluster:\n    server: https://localhost:{port}\n    certificate-authority-data: {ca}\ncontexts:\n- name: vc\n  context:\n    cluster: vc\n    user: u\n    namespace: default\ncurrent-context: vc\nusers:\n- name: u\n  user:\n{credentials}",
        port = proxy.addr.port(),
        ca = b64(&proxy.server_ca.material.cert_pem),
    );
    let kubeconfig = Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn certificate_client(sim: &Simulator, proxy: &Running, user: &str, groups: &[&str]) -> kube::Client {
    let cert = sim.issue_client_certificate(user, groups).unwrap();
    let credentials =
        format!("    client-certificate-data: {}\n    client-key-data: {}\n", b64(&cert.cert_pem), b64(&cert.key_pem));
    client(proxy, &credentials).await
}

fn last_user(sim: &Simulator, path: &str) -> String {
    let requests = sim.requests();
    let record = requests.iter().rev().find(|r| r.path == path).expect("the request reached kube-sim");
    record.user.clone()
}

#[tokio::test]
async fn kube_clients_list_as_themselves_through_the_proxy() {
    let (sim, proxy) = sim_and_proxy().await;

    let alice = certificate_client(&sim, &proxy, "alice", &["devs"]).await;
    let namespaces = Api::<Namespace>::all(alice).list(&ListParams::default()).await.unwrap();
    assert!(namespaces.items.iter().any(|n| n.metadata.name.as_deref() == Some("default")));
    // Impersonation headers are ignored by kube-sim for now: the admin identity shows.
    assert_eq!(last_user(&sim, "/api/v1/namespaces"), kube_sim::ADMIN_USER);

    sim.add_token("s3cr3t", "bob", &["ops"]);
    let bob = client(&proxy, "    token: s3cr3t\n").await;
    Api::<Namespace>::all(bob.clone()).list(&ListParams::default()).await.unwrap();
    assert_eq!(last_user(&sim, "/api/v1/namespaces"), "bob", "the token authenticated upstream, no admin rights lent");
    sim.forbid(Forbid::user("bob").verb("list").resource("", "namespaces"));
    let err = Api::<Namespace>::all(bob).list(&ListParams::default()).await.unwrap_err();
    match err {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 403);
            assert!(status.message.contains(r#"User "bob" cannot list resource "namespaces""#), "{}", status.message);
        }
        other => panic!("expected kube-sim's 403, got {other:?}"),
    }

    let nobody = client(&proxy, "    {}\n").await;
    Api::<Namespace>::all(nobody).list(&ListParams::default()).await.unwrap();
    assert_eq!(last_user(&sim, "/api/v1/namespaces"), "system:anonymous");
    sim.set_reject_anonymous(true);
    let nobody = client(&proxy, "    {}\n").await;
    let err = Api::<Namespace>::all(nobody).list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 401), "{err:?}");
}

#[tokio::test]
async fn watches_deliver_events_through_the_proxy() {
    let (sim, proxy) = sim_and_proxy().await;
    let alice = certificate_client(&sim, &proxy, "alice", &[]).await;
    let configmaps = Api::<ConfigMap>::namespaced(alice, "default");
    let version = configmaps.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut events = configmaps.watch(&WatchParams::default().timeout(290), &version).await.unwrap().boxed();

    let direct = Api::<ConfigMap>::namespaced(sim.client().await.unwrap(), "default");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("through-the-proxy".into());
    direct.create(&PostParams::default(), &cm).await.unwrap();

    let event = tokio::time::timeout(DEADLINE, events.try_next()).await.expect("event in time").unwrap().unwrap();
    match event {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("through-the-proxy")),
        other => panic!("expected Added, got {other:?}"),
    }
}

#[tokio::test]
async fn port_forwards_reach_the_pod_port() {
    let (sim, proxy) = sim_and_proxy().await;
    // The "pod port": an echo server on loopback.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = tcp.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    sim.seed_yaml(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-0\n  namespace: default\n  annotations:\n    sim.vcluster.dev/forward-8080: \"{echo_addr}\"\nspec:\n  nodeName: kube-sim-node\n  containers:\n  - name: web\n    image: nginx\n"
    ))
    .unwrap();

    let alice = certificate_client(&sim, &proxy, "alice", &["devs"]).await;
    let pods = Api::<Pod>::namespaced(alice, "default");
    let mut forwarder = tokio::time::timeout(DEADLINE, pods.portforward("web-0", &[8080])).await.unwrap().unwrap();
    let mut stream = forwarder.take_stream(8080).unwrap();
    for message in [&b"hello through the proxy"[..], &[7u8; 70_000][..]] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(DEADLINE, stream.read_exact(&mut echoed)).await.unwrap().unwrap();
        assert_eq!(echoed, message);
    }
    drop(stream);
    forwarder.abort();
    let requests = sim.requests();
    assert!(requests.iter().any(|r| r.path == "/api/v1/namespaces/default/pods/web-0/portforward"));
}
