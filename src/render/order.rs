//! Helm's install order: objects sorted by kind, the same kind kept in template order
//! (helm: pkg/release/v1/util/kind_sorter.go `InstallOrder`, `sortManifestsByKind`).

use super::Manifest;

/// helm: pkg/release/v1/util/kind_sorter.go `InstallOrder`.
pub const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

/// Position of a kind in the install order; unknown kinds go last, alphabetically.
fn rank(kind: &str) -> (usize, &str) {
    match INSTALL_ORDER.iter().position(|k| *k == kind) {
        Some(i) => (i, ""),
        None => (INSTALL_ORDER.len(), kind),
    }
}

/// Stable sort into install order.
pub fn sort_for_install(manifests: &mut [Manifest]) {
    manifests.sort_by(|a, b| rank(&a.kind).cmp(&rank(&b.kind)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: &str, name: &str) -> Manifest {
        Manifest {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: None,
            name: name.into(),
            template: "t",
            object: serde_json::Value::Null,
        }
    }

    #[test]
    fn sorts_by_kind_and_keeps_template_order_within_a_kind() {
        let mut list = vec![
            m("StatefulSet", "a"),
            m("Widget", "w"),
            m("Service", "b"),
            m("Service", "a"),
            m("Gadget", "g"),
            m("ServiceAccount", "s"),
        ];
        sort_for_install(&mut list);
        let names: Vec<_> = list.iter().map(|m| format!("{}/{}", m.kind, m.name)).collect();
        assert_eq!(names, ["ServiceAccount/s", "Service/b", "Service/a", "StatefulSet/a", "Gadget/g", "Widget/w"]);
    }
}
