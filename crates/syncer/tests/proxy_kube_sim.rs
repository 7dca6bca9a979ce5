//! The API endpoint in front of kube-sim as the virtual API server, used by kube-rs clients with
//! a kubeconfig pointing at the proxy: lists, watches, port-forwards, and each identity kind.
//!
//! kube-sim runs with RBAC and implements impersonation as kube-apiserver does: a certificate
//! user arrives there as itself (the proxy impersonates it with the upstream's admin
//! credentials), so the virtual cluster's RBAC applies to it through the proxy; a certificate
//! user's own `Impersonate-*` headers pass only when kube-sim's SubjectAccessReview allows them;
//! token and anonymous requests keep their own identity. kube-sim client certificates carry
//! at most one group (O).

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
    let sim = Simulator::start_with(SimConfig { tls: true, rbac: true, ..Default::default() }).await.unwrap();
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

/// Bind ClusterRole `role` to a subject (`User`/`Group` `name`): in `namespace` with a
/// RoleBinding, cluster-wide with a ClusterRoleBinding when `namespace` is empty.
fn bind(sim: &Simulator, namespace: &str, role: &str, kind: &str, name: &str) {
    let binding = format!("{role}-{}", name.replace(':', "-"));
    let (kind_of_binding, metadata) = if namespace.is_empty() {
        ("ClusterRoleBinding", format!("  name: {binding}\n"))
    } else {
        ("RoleBinding", format!("  name: {binding}\n  namespace: {namespace}\n"))
    };
    sim.seed_yaml(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind_of_binding}\nmetadata:\n{metadata}roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: {role}\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: {kind}\n  name: {name}\n"
    ))
    .unwrap();
}

fn status_of(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(status) => (status.code, status.message),
        other => panic!("expected kube-sim's answer, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_clients_list_as_themselves_through_the_proxy() {
    let (sim, proxy) = sim_and_proxy().await;

    // A certificate user arrives in kube-sim as itself: without a binding, RBAC refuses it.
    let alice = certificate_client(&sim, &proxy, "alice", &["devs"]).await;
    let configmaps = Api::<ConfigMap>::namespaced(alice.clone(), "default");
    let (code, message) = status_of(configmaps.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert_eq!(
        message,
        r#"configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default""#
    );
    assert_eq!(last_user(&sim, "/api/v1/namespaces/default/configmaps"), "alice");
    // Its certificate group counts: a RoleBinding of `edit` to devs lets it list there…
    bind(&sim, "default", "edit", "Group", "devs");
    configmaps.list(&ListParams::default()).await.unwrap();
    assert_eq!(last_user(&sim, "/api/v1/namespaces/default/configmaps"), "alice");
    let requests = sim.requests();
    let record = requests.iter().rev().find(|r| r.path == "/api/v1/namespaces/default/configmaps").unwrap();
    assert_eq!(record.impersonator, kube_sim::ADMIN_USER, "the proxy's upstream identity impersonated alice");
    // …but not cluster-wide.
    let (code, _) = status_of(Api::<Namespace>::all(alice).list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);

    sim.add_token("s3cr3t", "bob", &["ops"]);
    let bob = client(&proxy, "    token: s3cr3t\n").await;
    let (code, _) = status_of(Api::<Namespace>::all(bob.clone()).list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403, "the token authenticated upstream, no admin rights lent");
    assert_eq!(last_user(&sim, "/api/v1/namespaces"), "bob");
    bind(&sim, "", "view", "User", "bob");
    Api::<Namespace>::all(bob.clone()).list(&ListParams::default()).await.unwrap();
    assert_eq!(last_user(&sim, "/api/v1/namespaces"), "bob");
    sim.forbid(Forbid::user("bob").verb("list").resource("", "namespaces"));
    let (code, message) = status_of(Api::<Namespace>::all(bob).list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert!(message.contains(r#"User "bob" cannot list resource "namespaces""#), "{message}");

    let nobody = client(&proxy, "    {}\n").await;
    let (code, _) = status_of(Api::<Namespace>::all(nobody).list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert_eq!(last_user(&sim, "/api/v1/namespaces"), "system:anonymous");
    sim.set_reject_anonymous(true);
    let nobody = client(&proxy, "    {}\n").await;
    let err = Api::<Namespace>::all(nobody).list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 401), "{err:?}");
}

#[tokio::test]
async fn certificate_users_impersonate_what_kube_sim_allows_them() {
    let (sim, proxy) = sim_and_proxy().await;
    bind(&sim, "", "view", "User", "bob");
    let alice = certificate_client(&sim, &proxy, "alice", &["devs"]).await;
    let send = |headers: &'static [(&'static str, &'static str)]| {
        let alice = alice.clone();
        async move {
            use http_body_util::BodyExt as _;
            let mut req = http::Request::get("/api/v1/namespaces");
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            let resp = alice.send(req.body(kube::client::Body::empty()).unwrap()).await.unwrap();
            let code = resp.status().as_u16();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            (code, serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default())
        }
    };

    // The proxy asks kube-sim (a SubjectAccessReview as the admin) whether alice may
    // impersonate bob: no binding grants it, so the proxy answers kube-apiserver's 403.
    sim.clear_requests();
    let (code, body) = send(&[("Impersonate-User", "bob")]).await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        r#"users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );
    let requests = sim.requests();
    assert!(requests.iter().all(|r| r.path != "/api/v1/namespaces"), "the request was not forwarded");
    let review = requests.iter().find(|r| r.path == "/apis/authorization.k8s.io/v1/subjectaccessreviews").unwrap();
    assert_eq!((review.status, review.user.as_str()), (201, kube_sim::ADMIN_USER));

    // A ClusterRole with verb impersonate on users, bound to alice's group: allowed, and the
    // request runs as bob in kube-sim (who may list namespaces with view).
    sim.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: impersonator\nrules:\n- apiGroups: ['']\n  resources: [users]\n  verbs: [impersonate]\n",
    )
    .unwrap();
    bind(&sim, "", "impersonator", "Group", "devs");
    let (code, body) = send(&[("Impersonate-User", "bob")]).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(last_user(&sim, "/api/v1/namespaces"), "bob");
    // Groups are not covered by the role: refused for the group.
    let (code, body) = send(&[("Impersonate-User", "bob"), ("Impersonate-Group", "admins")]).await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        r#"groups "admins" is forbidden: User "alice" cannot impersonate resource "groups" in API group "" at the cluster scope"#
    );
    // A group without a user is an internal error (kube-apiserver: plain text; the proxy: a Status).
    let (code, _) = send(&[("Impersonate-Group", "admins")]).await;
    assert_eq!(code, 500);
}

#[tokio::test]
async fn watches_deliver_events_through_the_proxy() {
    let (sim, proxy) = sim_and_proxy().await;
    bind(&sim, "default", "view", "User", "alice");
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

    // edit grants get on pods and create on pods/portforward.
    bind(&sim, "default", "edit", "Group", "devs");
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
