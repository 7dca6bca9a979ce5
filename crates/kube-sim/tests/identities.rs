//! TLS and identities: HTTPS with the simulator's CA, client certificates (CN user, O group),
//! bearer tokens, TokenRequest tokens authenticating as their ServiceAccount, anonymous
//! requests accepted or refused (401), forbid rules answered with kube-apiserver's 403, and
//! the self-subject reviews — through kube-rs and kubectl 1.33.

mod common;

use common::Kubectl;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams};
use kube_sim::{ADMIN_GROUP, ADMIN_USER, Forbid, SimConfig, Simulator};
use serde_json::{Value, json};

async fn tls_sim() -> Simulator {
    Simulator::start_with(SimConfig { tls: true, tls_sans: vec!["sim.example".into()], ..Default::default() })
        .await
        .expect("simulator starts")
}

/// A kubeconfig file for `text` in a temporary directory.
fn kubeconfig_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The simulator's kubeconfig with the user's credentials replaced by `user` (YAML flow map).
fn with_user(sim: &Simulator, user: &str) -> String {
    let text = std::fs::read_to_string(sim.kubeconfig_path()).unwrap();
    let head = text.split("users:").next().unwrap();
    format!("{head}users:\n- name: {ADMIN_USER}\n  user: {user}\n")
}

#[tokio::test]
async fn kubectl_authenticates_with_certificates_tokens_and_anonymously() {
    let sim = tls_sim().await;
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let admin = Kubectl::new(sim.kubeconfig_path()).await;
    // The simulator's own kubeconfig: kubeadm's admin identity by client certificate.
    let whoami: Value = serde_json::from_str(&admin.ok(&["auth", "whoami", "-o", "json"]).await).unwrap();
    assert_eq!(whoami["kind"], "SelfSubjectReview");
    assert_eq!(
        whoami["status"]["userInfo"],
        json!({"username": ADMIN_USER, "groups": [ADMIN_GROUP, "system:authenticated"]})
    );

    // A certificate for another user and group.
    let (_d, alice_path) = kubeconfig_file(&sim.kubeconfig_for("alice", &["devs"]).unwrap());
    let alice = Kubectl::new(&alice_path).await;
    let whoami: Value = serde_json::from_str(&alice.ok(&["auth", "whoami", "-o", "json"]).await).unwrap();
    assert_eq!(whoami["status"]["userInfo"], json!({"username": "alice", "groups": ["devs", "system:authenticated"]}));

    // `kubectl create token` (TokenRequest): the token authenticates as the ServiceAccount.
    admin.ok(&["create", "serviceaccount", "deployer", "-n", "default"]).await;
    let token = admin.ok(&["create", "token", "deployer", "-n", "default"]).await;
    let token = token.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let (_d, sa_path) = kubeconfig_file(&with_user(&sim, &format!("{{token: {token}}}")));
    let deployer = Kubectl::new(&sa_path).await;
    let whoami: Value = serde_json::from_str(&deployer.ok(&["auth", "whoami", "-o", "json"]).await).unwrap();
    let info = &whoami["status"]["userInfo"];
    assert_eq!(info["username"], "system:serviceaccount:default:deployer");
    assert_eq!(
        info["groups"],
        json!(["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"])
    );
    let sa = sim.object("v1", "ServiceAccount", "default", "deployer").unwrap();
    assert_eq!(info["uid"], sa["metadata"]["uid"]);
    assert!(info["extra"]["authentication.kubernetes.io/credential-id"][0].as_str().unwrap().starts_with("JTI="));
    // The token dies with its ServiceAccount (the authenticator checks the uid).
    admin.ok(&["delete", "serviceaccount", "deployer", "-n", "default"]).await;
    let out = deployer.run(&["get", "configmaps", "-n", "default"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // kubectl's wording for a 401 during discovery (the body is the Status asserted below).
    assert!(stderr.contains("error: You must be logged in to the server ("), "{stderr}");

    // No credentials over TLS (kube-rs; kubectl would prompt for a password instead).
    let anonymous = kube::config::Kubeconfig::from_yaml(&with_user(&sim, "{}")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(anonymous, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let review: Value = client
        .request(
            hyper::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
                .header("Content-Type", "application/json")
                .body(br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#.to_vec())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        review["status"]["userInfo"],
        json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]})
    );
    sim.set_reject_anonymous(true);
    match Api::<Namespace>::all(client).list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str(), s.message.as_str()), (401, "Unauthorized", "Unauthorized"))
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
    sim.stop().await;
}

#[tokio::test]
async fn kubectl_without_credentials_is_anonymous_or_refused() {
    // Plain HTTP: kubectl reads no credentials for an insecure server (clientcmd
    // `ClientConfig` only loads them for TLS), so it is anonymous without prompting.
    let sim = Simulator::start().await.unwrap();
    let text = std::fs::read_to_string(sim.kubeconfig_path()).unwrap();
    let head = text.split("users:").next().unwrap();
    let (_d, path) = kubeconfig_file(&format!("{head}users:\n- name: {ADMIN_USER}\n  user: {{}}\n"));
    let anonymous = Kubectl::new(&path).await;
    let whoami: Value = serde_json::from_str(&anonymous.ok(&["auth", "whoami", "-o", "json"]).await).unwrap();
    assert_eq!(
        whoami["status"]["userInfo"],
        json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]})
    );
    anonymous.ok(&["get", "namespaces"]).await;
    sim.set_reject_anonymous(true);
    sim.clear_requests();
    let out = anonymous.run(&["get", "namespaces"]).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: You must be logged in to the server ("), "{stderr}");
    let requests = sim.requests();
    assert!(!requests.is_empty() && requests.iter().all(|r| r.status == 401 && r.user.is_empty()), "{requests:?}");
    // The simulator's own kubeconfig carries a token that kube-rs sends even over HTTP.
    let client = sim.client().await.unwrap();
    Api::<Namespace>::all(client).list(&ListParams::default()).await.unwrap();
    sim.stop().await;
}

#[tokio::test]
async fn the_401_body_is_the_authentication_filters() {
    let sim = Simulator::start_with(SimConfig { reject_anonymous: true, ..Default::default() }).await.unwrap();
    let url = format!("{}/api/v1/namespaces", sim.url());
    let (code, body) = raw_get(&url).await;
    assert_eq!(code, 401);
    // staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go Unauthorized.
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
    );
    // The simulator's kubeconfig carries a token over plain HTTP.
    let client = sim.client().await.unwrap();
    Api::<Namespace>::all(client).list(&ListParams::default()).await.unwrap();
    sim.stop().await;
}

async fn raw_get(url: &str) -> (u16, Value) {
    let addr = url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let path = format!("/{}", url.trim_start_matches("http://").split_once('/').unwrap().1);
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path).header("Host", "x").body(http_body_util::Empty::<bytes::Bytes>::new()).unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let code = resp.status().as_u16();
    use http_body_util::BodyExt as _;
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn forbid_rules_answer_403s_and_the_reviews_agree() {
    let sim = tls_sim().await;
    sim.forbid(Forbid::user("alice").verb("create").resource("apps", "statefulsets").in_namespace("team-a"));
    sim.forbid(Forbid::group("devs").verb("delete").resource("", "configmaps"));
    sim.forbid(Forbid::user("alice").verb("list").resource("", "namespaces"));
    let admin = Kubectl::new(sim.kubeconfig_path()).await;
    admin.ok(&["create", "namespace", "team-a"]).await;
    admin.ok(&["create", "namespace", "team-b"]).await;
    let (_d, path) = kubeconfig_file(&sim.kubeconfig_for("alice", &["devs"]).unwrap());
    let alice = Kubectl::new(&path).await;

    // kubectl auth can-i: SelfSubjectAccessReview answered from the rules.
    let can = |args: &'static [&'static str]| {
        let alice = &alice;
        async move {
            let out = alice.run(&[&["auth", "can-i"][..], args].concat()).await;
            (out.status.code(), String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
    };
    assert_eq!(can(&["create", "statefulsets.apps", "-n", "team-a"]).await, (Some(1), "no".into()));
    assert_eq!(can(&["create", "statefulsets", "-n", "team-b"]).await, (Some(0), "yes".into()));
    assert_eq!(can(&["get", "statefulsets", "-n", "team-a"]).await, (Some(0), "yes".into()));
    assert_eq!(can(&["delete", "configmaps", "-n", "team-b"]).await, (Some(1), "no".into()));
    assert_eq!(can(&["list", "namespaces"]).await, (Some(1), "no".into()));
    assert_eq!(can(&["get", "pods", "--subresource=portforward", "-n", "team-a"]).await, (Some(0), "yes".into()));
    // kubectl auth can-i --list: SelfSubjectRulesReview.
    let list = alice.ok(&["auth", "can-i", "--list", "-n", "team-a"]).await;
    let statefulsets = list.lines().find(|l| l.starts_with("statefulsets.apps ")).expect(&list);
    assert!(statefulsets.ends_with("[delete deletecollection get list patch update watch]"), "{statefulsets}");
    let admin_list = admin.ok(&["auth", "can-i", "--list", "-n", "team-a"]).await;
    assert!(admin_list.lines().any(|l| l.starts_with("*.* ") && l.trim_end().ends_with("[*]")), "{admin_list}");

    // The refusals themselves, as kubectl shows them.
    let sts = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: postgres}]}\n";
    let out = alice.run_with_stdin(&["create", "-n", "team-a", "-f", "-"], Some(sts)).await;
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        r#"Error from server (Forbidden): error when creating "STDIN": statefulsets.apps is forbidden: User "alice" cannot create resource "statefulsets" in API group "apps" in the namespace "team-a""#
    );
    let out = alice.run(&["get", "namespaces"]).await;
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        r#"Error from server (Forbidden): namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope"#
    );
    alice.ok_with_stdin(&["create", "-n", "team-b", "-f", "-"], Some(sts)).await;

    // Through kube-rs too: the Status of a 403, with details naming the resource.
    let client = sim.client_for("alice", &["devs"]).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, "team-b");
    cms.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "c"}})).unwrap())
        .await
        .unwrap();
    match cms.delete("c", &Default::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
            assert_eq!(
                s.message,
                r#"configmaps "c" is forbidden: User "alice" cannot delete resource "configmaps" in API group "" in the namespace "team-b""#
            );
        }
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    sim.clear_forbids();
    cms.delete("c", &Default::default()).await.unwrap();
    sim.stop().await;
}
