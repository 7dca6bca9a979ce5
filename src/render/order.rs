//! Helm's install and uninstall orders: objects sorted by kind, the same kind kept in template
//! order (helm: pkg/release/v1/util/kind_sorter.go `InstallOrder`, `UninstallOrder`,
//! `sortManifestsByKind`).

use super::manifest::Manifest;

/// helm: pkg/release/v1/util/kind_sorter.go `InstallOrder`.
pub(crate) const INSTALL_ORDER: &[&str] = &[
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

/// helm: pkg/release/v1/util/kind_sorter.go `UninstallOrder` (not quite the install order
/// reversed: Services go before the workloads, PersistentVolumeClaims before ConfigMaps).
pub(crate) const UNINSTALL_ORDER: &[&str] = &[
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "Ingress",
    "IngressClass",
    "Service",
    "CronJob",
    "Job",
    "StatefulSet",
    "HorizontalPodAutoscaler",
    "Deployment",
    "ReplicaSet",
    "ReplicationController",
    "Pod",
    "DaemonSet",
    "RoleBindingList",
    "RoleBinding",
    "RoleList",
    "Role",
    "ClusterRoleBindingList",
    "ClusterRoleBinding",
    "ClusterRoleList",
    "ClusterRole",
    "CustomResourceDefinition",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "ConfigMap",
    "SecretList",
    "Secret",
    "ServiceAccount",
    "PodDisruptionBudget",
    "PodSecurityPolicy",
    "LimitRange",
    "ResourceQuota",
    "NetworkPolicy",
    "Namespace",
    "PriorityClass",
];

/// Position of a kind in `order`; unknown kinds go last, alphabetically (helm `lessByKind`).
fn rank<'k>(order: &[&str], kind: &'k str) -> (usize, &'k str) {
    match order.iter().position(|k| *k == kind) {
        Some(i) => (i, ""),
        None => (order.len(), kind),
    }
}

/// Stable sort into install order.
pub(crate) fn sort_for_install(manifests: &mut [Manifest]) {
    manifests.sort_by(|a, b| rank(INSTALL_ORDER, &a.kind).cmp(&rank(INSTALL_ORDER, &b.kind)));
}

/// The sort key of a kind in uninstall order (sort by it stably).
pub(crate) fn uninstall_rank(kind: &str) -> (usize, &str) {
    rank(UNINSTALL_ORDER, kind)
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
        list.sort_by(|a, b| uninstall_rank(&a.kind).cmp(&uninstall_rank(&b.kind)));
        let names: Vec<_> = list.iter().map(|m| format!("{}/{}", m.kind, m.name)).collect();
        assert_eq!(names, ["Service/b", "Service/a", "StatefulSet/a", "ServiceAccount/s", "Gadget/g", "Widget/w"]);
    }

    #[test]
    fn uninstall_order_holds_every_install_kind() {
        let mut install: Vec<&str> = INSTALL_ORDER.to_vec();
        let mut uninstall: Vec<&str> = UNINSTALL_ORDER.to_vec();
        install.sort_unstable();
        uninstall.sort_unstable();
        assert_eq!(install, uninstall);
    }
}
