//! RBAC and impersonation in the simulator itself (the over-the-wire cases are in
//! fidelity.rs and kube_rs.rs, which also run against a real cluster): certificate users
//! bound or not, anonymous non-resource requests, resolution errors as reasons, forbid rules
//! on impersonation without RBAC, the rules review, and the request log.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams};
use kube_sim::{Forbid, SimConfig, Simulator};
use serde_json::{Value, json};

async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    use http_body_util::BodyExt as _;
    let mut req = hyper::Request::builder().method(method).uri(path).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let resp = client.send(req.body(kube::client::Body::from(body)).unwrap()).await.unwrap();
    let code = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (code, serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())))
}

fn api_error(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn certificate_users_get_what_their_bindings_grant() {
    let sim = Simulator::start_with(SimConfig { tls: true, rbac: true, ..Default::default() }).await.unwrap();
    let alice = sim.client_for("alice", &["devs"]).await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(alice.clone(), "default");
    let (code, message) = api_error(cms.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert_eq!(
        message,
        r#"configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default""#
    );
    // system:discovery lets every authenticated user read discovery.
    let (code, _) = raw(&alice, "GET", "/apis", &[], None).await;
    assert_eq!(code, 200);
    sim.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: devs-edit\n  namespace: default\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: edit\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: Group\n  name: devs\n",
    )
    .unwrap();
    cms.list(&ListParams::default()).await.unwrap();
    // Namespaces are cluster-scoped: a RoleBinding does not reach them.
    let (code, _) = api_error(Api::<Namespace>::all(alice.clone()).list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);

    // A binding to a missing role: its resolution error is the reason of the denial.
    sim.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: dangling\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: gone\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: alice\n",
    )
    .unwrap();
    let (_, message) = api_error(Api::<Namespace>::all(alice.clone()).list(&ListParams::default()).await.unwrap_err());
    assert_eq!(
        message,
        r#"namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found"#
    );

    // The rules review lists what the bindings grant (and the resolution error).
    let (code, review) = raw(
        &alice,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        &[],
        Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}})),
    )
    .await;
    assert_eq!(code, 201, "{review}");
    let rules = review["status"]["resourceRules"].as_array().unwrap();
    assert!(rules.iter().any(|r| r["resources"].as_array().unwrap().contains(&json!("configmaps"))
        && r["verbs"].as_array().unwrap().contains(&json!("create"))));
    assert_eq!(review["status"]["incomplete"], true);

    // Anonymous: only the public info (system:public-info-viewer), forbidden paths otherwise.
    let anonymous = {
        let kc = kube::config::Kubeconfig::read_from(sim.kubeconfig_path()).unwrap();
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
        config.auth_info = Default::default();
        kube::Client::try_from(config).unwrap()
    };
    assert_eq!(raw(&anonymous, "GET", "/version", &[], None).await.0, 200);
    let (code, body) = raw(&anonymous, "GET", "/api", &[], None).await;
    assert_eq!(code, 403);
    assert_eq!(body["message"], r#"forbidden: User "system:anonymous" cannot get path "/api""#);
    assert_eq!(body["details"], json!({}));
}

#[tokio::test]
async fn impersonation_runs_the_request_as_the_impersonated_user() {
    let sim = Simulator::start_with(SimConfig { tls: true, rbac: true, ..Default::default() }).await.unwrap();
    let alice = sim.client_for("alice", &[]).await.unwrap();
    let (code, body) =
        raw(&alice, "GET", "/api/v1/namespaces/default/configmaps", &[("Impersonate-User", "bob")], None).await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        r#"users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );
    let last = sim.requests().pop().unwrap();
    assert_eq!((last.user.as_str(), last.impersonator.as_str()), ("alice", ""));

    sim.seed_yaml(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: impersonator\nrules:\n- apiGroups: ['']\n  resources: [users, groups]\n  verbs: [impersonate]\n- apiGroups: [authentication.k8s.io]\n  resources: ['userextras/scopes']\n  verbs: [impersonate]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: alice-impersonates\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: impersonator\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: User\n  name: alice\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: admins\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- apiGroup: rbac.authorization.k8s.io\n  kind: Group\n  name: admins\n",
    )
    .unwrap();
    let headers = [("Impersonate-User", "bob"), ("Impersonate-Group", "admins"), ("Impersonate-Extra-Scopes", "all")];
    let (code, body) = raw(&alice, "GET", "/api/v1/namespaces/default/configmaps", &headers, None).await;
    assert_eq!(code, 200, "{body}");
    let last = sim.requests().pop().unwrap();
    assert_eq!((last.user.as_str(), last.impersonator.as_str()), ("bob", "alice"));
    let (code, body) = raw(
        &alice,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &headers,
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(
        body["status"]["userInfo"],
        json!({"username": "bob", "groups": ["admins", "system:authenticated"], "extra": {"scopes": ["all"]}})
    );
    // An extra key the role does not name, and a uid, are refused.
    let (code, body) =
        raw(&alice, "GET", "/api/v1/namespaces", &[("Impersonate-User", "bob"), ("Impersonate-Uid", "u-1")], None)
            .await;
    assert_eq!(code, 403);
    assert_eq!(
        body["message"],
        r#"uids.authentication.k8s.io "u-1" is forbidden: User "alice" cannot impersonate resource "uids" in API group "authentication.k8s.io" at the cluster scope"#
    );
    assert_eq!(body["details"], json!({"name": "u-1", "group": "authentication.k8s.io", "kind": "uids"}));
}

#[tokio::test]
async fn without_rbac_forbid_rules_deny_impersonation() {
    let sim = Simulator::start().await.unwrap();
    let alice = sim.client_for("alice", &[]).await.unwrap();
    let (code, _) = raw(&alice, "GET", "/api/v1/namespaces", &[("Impersonate-User", "bob")], None).await;
    assert_eq!(code, 200);
    assert_eq!(sim.requests().pop().unwrap().user, "bob");
    sim.forbid(Forbid::user("alice").verb("impersonate").resource("", "users"));
    let (code, body) = raw(&alice, "GET", "/api/v1/namespaces", &[("Impersonate-User", "bob")], None).await;
    assert_eq!(code, 403);
    assert!(
        body["message"].as_str().unwrap().starts_with(r#"users "bob" is forbidden: User "alice" cannot impersonate"#)
    );
    // Everything else is allowed without RBAC: a subject access review says so, without reason.
    let (code, body) = raw(
        &alice,
        "POST",
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        &[],
        Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": "carol", "nonResourceAttributes": {"path": "/healthz", "verb": "get"}}})),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"], json!({"allowed": true}));
    // No ClusterRoles are created without RBAC.
    assert!(sim.objects("rbac.authorization.k8s.io/v1", "ClusterRole").is_empty());
}
