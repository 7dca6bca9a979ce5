//! Objects on the host cluster by kind (pure): their identity across revisions, and the API
//! resource of the kinds this tool knows without discovery.

use std::any::TypeId;
use std::fmt;
use std::sync::LazyLock;

use kube::discovery::ApiResource;
use serde_json::Value;

use crate::render::Manifest;

/// An object's identity across revisions: group, kind, namespace and name (the version may
/// change between revisions; helm `pkg/kube/resource.go` `isMatchingInfo` compares the same).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub(crate) group: String,
    pub(crate) kind: String,
    /// `None` for cluster-scoped kinds.
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
}

impl ObjectKey {
    pub(crate) fn of(manifest: &Manifest) -> ObjectKey {
        ObjectKey {
            group: group_of(&manifest.api_version).to_owned(),
            kind: manifest.kind.clone(),
            namespace: manifest.namespace.clone(),
            name: manifest.name.clone(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// `apps` of `apps/v1`, `` of `v1`.
pub(crate) fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// An API resource and whether it is namespaced.
pub(crate) type ScopedResource = (ApiResource, bool);

/// The API resource of a kind this tool knows without discovery, and whether it is namespaced.
/// Every kind the chart renders is here, and the kinds Helm charts of the established vcluster
/// rendered; others are found by discovery.
pub(crate) fn known_resource(api_version: &str, kind: &str) -> Option<ScopedResource> {
    // Built once: every request of a run looks a kind up here.
    static TABLE: LazyLock<Vec<ScopedResource>> = LazyLock::new(|| {
        use k8s_openapi::api::{apps, core, networking, policy, rbac, scheduling, storage};
        fn entry<K>() -> ScopedResource
        where
            K: kube::Resource<DynamicType = ()>,
            K::Scope: 'static,
        {
            let namespaced = TypeId::of::<K::Scope>() == TypeId::of::<k8s_openapi::NamespaceResourceScope>();
            (ApiResource::erase::<K>(&()), namespaced)
        }
        vec![
            entry::<core::v1::Namespace>(),
            entry::<core::v1::ServiceAccount>(),
            entry::<core::v1::Secret>(),
            entry::<core::v1::ConfigMap>(),
            entry::<core::v1::Service>(),
            entry::<core::v1::Endpoints>(),
            entry::<core::v1::PersistentVolumeClaim>(),
            entry::<core::v1::PersistentVolume>(),
            entry::<core::v1::Pod>(),
            entry::<core::v1::ResourceQuota>(),
            entry::<core::v1::LimitRange>(),
            entry::<rbac::v1::Role>(),
            entry::<rbac::v1::RoleBinding>(),
            entry::<rbac::v1::ClusterRole>(),
            entry::<rbac::v1::ClusterRoleBinding>(),
            entry::<apps::v1::StatefulSet>(),
            entry::<apps::v1::Deployment>(),
            entry::<apps::v1::DaemonSet>(),
            entry::<apps::v1::ReplicaSet>(),
            entry::<networking::v1::Ingress>(),
            entry::<networking::v1::IngressClass>(),
            entry::<networking::v1::NetworkPolicy>(),
            entry::<policy::v1::PodDisruptionBudget>(),
            entry::<scheduling::v1::PriorityClass>(),
            entry::<storage::v1::StorageClass>(),
        ]
    });
    TABLE.iter().find(|(r, _)| r.api_version == api_version && r.kind == kind).cloned()
}

/// A value's `metadata.<field>` as text.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// One annotation of an object.
pub(crate) fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_kinds_have_plural_and_scope() {
        let (svc, namespaced) = known_resource("v1", "Service").unwrap();
        assert_eq!((svc.plural.as_str(), namespaced), ("services", true));
        let (cr, namespaced) = known_resource("rbac.authorization.k8s.io/v1", "ClusterRole").unwrap();
        assert_eq!((cr.plural.as_str(), namespaced), ("clusterroles", false));
        assert!(known_resource("example.com/v1", "Widget").is_none());
        assert!(known_resource("apps/v1beta1", "StatefulSet").is_none());
    }
}
