//! The RBAC objects a fresh RBAC-enabled cluster holds (created at start when RBAC is on,
//! through the registry like kube-apiserver's own objects).
//!
//! kube-apiserver 1.33: plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go
//! (`ClusterRoles`, `ClusterRoleBindings`: cluster-admin, admin/edit/view and their
//! `system:aggregate-to-*` parts, system:basic-user, system:discovery,
//! system:public-info-viewer; labels `kubernetes.io/bootstrapping: rbac-defaults`, annotation
//! `rbac.authorization.kubernetes.io/autoupdate`), and kubeadm's binding of its admin group
//! (cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go `kubeadm:cluster-admins`). The rules of
//! admin/edit/view are those of their aggregated parts written in at once (what the
//! clusterrole-aggregation controller does), restricted to the resources kube-sim serves plus
//! the common ones; the controller roles (`system:controller:*`, `system:kube-*`) are left out.

use serde_json::{Value, json};

use super::rbac::{rule, url_rule};

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];
const READ_WRITE: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// policy.go `aggregate-to-view`.
fn view_rules() -> Vec<Value> {
    vec![
        rule(
            READ,
            &[""],
            &[
                "pods",
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/status",
                "endpoints",
                "persistentvolumeclaims",
                "persistentvolumeclaims/status",
                "configmaps",
            ],
        ),
        rule(
            READ,
            &[""],
            &[
                "limitranges",
                "resourcequotas",
                "bindings",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "replicationcontrollers/status",
                "pods/log",
            ],
        ),
        rule(READ, &[""], &["namespaces"]),
        rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
        rule(
            READ,
            &["apps"],
            &[
                "controllerrevisions",
                "statefulsets",
                "statefulsets/status",
                "statefulsets/scale",
                "daemonsets",
                "daemonsets/status",
                "deployments",
                "deployments/status",
                "deployments/scale",
                "replicasets",
                "replicasets/status",
                "replicasets/scale",
            ],
        ),
        rule(READ, &["autoscaling"], &["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        rule(READ, &["batch"], &["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
        rule(READ, &["policy"], &["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        rule(READ, &["networking.k8s.io"], &["networkpolicies", "ingresses", "ingresses/status"]),
    ]
}

/// policy.go `aggregate-to-edit`.
fn edit_rules() -> Vec<Value> {
    vec![
        rule(READ, &[""], &["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"]),
        rule(&["impersonate"], &[""], &["serviceaccounts"]),
        rule(WRITE, &[""], &["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
        rule(&["create"], &[""], &["pods/eviction"]),
        rule(
            WRITE,
            &[""],
            &[
                "replicationcontrollers",
                "replicationcontrollers/scale",
                "serviceaccounts",
                "services",
                "services/proxy",
                "persistentvolumeclaims",
                "configmaps",
                "secrets",
                "events",
            ],
        ),
        rule(&["create"], &[""], &["serviceaccounts/token"]),
        rule(
            WRITE,
            &["apps"],
            &[
                "statefulsets",
                "statefulsets/scale",
                "daemonsets",
                "deployments",
                "deployments/scale",
                "deployments/rollback",
                "replicasets",
                "replicasets/scale",
            ],
        ),
        rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
        rule(WRITE, &["batch"], &["jobs", "cronjobs"]),
        rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
        rule(WRITE, &["networking.k8s.io"], &["networkpolicies", "ingresses"]),
    ]
}

/// policy.go `aggregate-to-admin`.
fn admin_rules() -> Vec<Value> {
    vec![
        rule(&["create"], &["authorization.k8s.io"], &["localsubjectaccessreviews"]),
        rule(READ_WRITE, &["rbac.authorization.k8s.io"], &["roles", "rolebindings"]),
    ]
}

fn cluster_role(name: &str, rules: Vec<Value>, labels: Value, aggregate_to: Option<&str>) -> Value {
    let mut labels = labels;
    labels["kubernetes.io/bootstrapping"] = "rbac-defaults".into();
    let mut role = json!({
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": { "rbac.authorization.kubernetes.io/autoupdate": "true" }
        },
        "rules": rules
    });
    if let Some(key) = aggregate_to {
        role["aggregationRule"] = json!({ "clusterRoleSelectors": [{ "matchLabels": { key: "true" } }] });
    }
    role
}

fn binding(name: &str, role: &str, subjects: Value, bootstrap: bool) -> Value {
    let mut b = json!({
        "metadata": { "name": name },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role },
        "subjects": subjects
    });
    if bootstrap {
        b["metadata"]["labels"] = json!({ "kubernetes.io/bootstrapping": "rbac-defaults" });
        b["metadata"]["annotations"] = json!({ "rbac.authorization.kubernetes.io/autoupdate": "true" });
    }
    b
}

fn group(name: &str) -> Value {
    json!({ "apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name })
}

/// The bootstrap ClusterRoles and ClusterRoleBindings: (group, resource, object).
pub fn bootstrap_objects() -> Vec<(&'static str, &'static str, Value)> {
    const TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
    const TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
    const TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";
    let (view, edit, admin) = (view_rules(), edit_rules(), admin_rules());
    let roles = [
        cluster_role("cluster-admin", vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])], json!({}), None),
        cluster_role("admin", [admin.clone(), edit.clone(), view.clone()].concat(), json!({}), Some(TO_ADMIN)),
        cluster_role("edit", [edit.clone(), view.clone()].concat(), json!({ TO_ADMIN: "true" }), Some(TO_EDIT)),
        cluster_role("view", view.clone(), json!({ TO_EDIT: "true" }), Some(TO_VIEW)),
        cluster_role("system:aggregate-to-admin", admin, json!({ TO_ADMIN: "true" }), None),
        cluster_role("system:aggregate-to-edit", edit, json!({ TO_ADMIN: "true", TO_EDIT: "true" }), None),
        cluster_role(
            "system:aggregate-to-view",
            view,
            json!({ TO_ADMIN: "true", TO_EDIT: "true", TO_VIEW: "true" }),
            None,
        ),
        cluster_role(
            "system:basic-user",
            vec![
                rule(&["create"], &["authorization.k8s.io"], &["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                rule(&["create"], &["authentication.k8s.io"], &["selfsubjectreviews"]),
            ],
            json!({}),
            None,
        ),
        cluster_role(
            "system:discovery",
            vec![url_rule(
                &["get"],
                &[
                    "/livez",
                    "/readyz",
                    "/healthz",
                    "/version",
                    "/version/",
                    "/openapi",
                    "/openapi/*",
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                ],
            )],
            json!({}),
            None,
        ),
        cluster_role(
            "system:public-info-viewer",
            vec![url_rule(&["get"], &["/livez", "/readyz", "/healthz", "/version", "/version/"])],
            json!({}),
            None,
        ),
    ];
    let bindings = [
        binding("cluster-admin", "cluster-admin", json!([group("system:masters")]), true),
        binding("system:basic-user", "system:basic-user", json!([group("system:authenticated")]), true),
        binding("system:discovery", "system:discovery", json!([group("system:authenticated")]), true),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            json!([group("system:authenticated"), group("system:unauthenticated")]),
            true,
        ),
        binding("kubeadm:cluster-admins", "cluster-admin", json!([group("kubeadm:cluster-admins")]), false),
    ];
    const RBAC: &str = "rbac.authorization.k8s.io";
    let roles = roles.into_iter().map(|r| (RBAC, "clusterroles", r));
    roles.chain(bindings.into_iter().map(|b| (RBAC, "clusterrolebindings", b))).collect()
}
