//! The resources the simulator serves, with the discovery facts kube-apiserver 1.33 reports for
//! them (verbs, shortNames, singularName, categories, kind, scope, subresources) and the
//! per-kind behaviour the REST layer needs.
//!
//! Facts from kube-apiserver 1.33: `pkg/registry/*/*/storage/storage.go` (ShortNames,
//! Categories, subresource storages), `staging/src/k8s.io/apiserver/pkg/endpoints/installer.go`
//! (verbs derived from the storage interfaces), and the etcd key prefixes (`/registry/<prefix>`)
//! each registry uses.

/// How a kind validates `metadata.name`
/// (kube-apiserver: `pkg/apis/*/validation/validation.go`, `Validate*Name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// `apimachineryvalidation.NameIsDNSSubdomain`
    Subdomain,
    /// `apimachineryvalidation.NameIsDNSLabel`
    Label,
    /// `apimachineryvalidation.NameIsDNS1035Label`
    Dns1035,
    /// `path.IsValidPathSegmentName` (RBAC objects)
    PathSegment,
}

#[derive(Debug)]
pub struct SubresourceDef {
    pub name: &'static str,
    /// Group/version/kind of the subresource's body when it differs from the parent's.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub verbs: &'static [&'static str],
}

#[derive(Debug)]
pub struct ResourceDef {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub verbs: &'static [&'static str],
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub subresources: &'static [SubresourceDef],
    pub name_rule: NameRule,
    /// The registry sets `metadata.generation` and bumps it on spec changes.
    pub tracks_generation: bool,
    /// `AllowCreateOnUpdate()` of the registry strategy.
    pub create_on_update: bool,
    /// `ReturnDeletedObject` of the generic store: DELETE answers with the object, not a Status.
    pub returns_deleted_object: bool,
    /// Field selector labels beyond `metadata.name`/`metadata.namespace`
    /// (kube-apiserver: `AddFieldLabelConversionFunc` in `pkg/apis/*/v1/conversion.go`); empty
    /// for kinds without such a function (see `FieldSelector::check`).
    pub field_labels: &'static [&'static str],
}

// kube-apiserver: staging/src/k8s.io/apiserver/pkg/endpoints/installer.go derives these
// lists from the storage interfaces and sorts them.
const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const NO_COLLECTION_DELETE: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

const fn status(kind: &'static str) -> SubresourceDef {
    SubresourceDef { name: "status", group: "", version: "", kind, verbs: STATUS_VERBS }
}
const SCALE: SubresourceDef =
    SubresourceDef { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: STATUS_VERBS };

const fn res(
    group: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> ResourceDef {
    ResourceDef {
        group,
        version: "v1",
        plural,
        singular,
        kind,
        namespaced,
        verbs: ALL_VERBS,
        short_names: &[],
        categories: &[],
        subresources: &[],
        name_rule: NameRule::Subdomain,
        tracks_generation: false,
        create_on_update: false,
        returns_deleted_object: false,
        field_labels: &[],
    }
}

/// Every served resource, in the order discovery lists them (alphabetical per group version,
/// as kube-apiserver sorts them).
pub static RESOURCES: &[ResourceDef] = &[
    // ---- core/v1 ----
    ResourceDef { short_names: &["cm"], ..res("", "configmaps", "configmap", "ConfigMap", true) },
    ResourceDef {
        short_names: &["ep"],
        create_on_update: true,
        ..res("", "endpoints", "endpoints", "Endpoints", true)
    },
    ResourceDef {
        short_names: &["ev"],
        create_on_update: true,
        field_labels: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ..res("", "events", "event", "Event", true)
    },
    ResourceDef {
        verbs: NO_COLLECTION_DELETE,
        short_names: &["ns"],
        subresources: &[
            SubresourceDef { name: "finalize", group: "", version: "", kind: "Namespace", verbs: &["update"] },
            status("Namespace"),
        ],
        name_rule: NameRule::Label,
        returns_deleted_object: true,
        field_labels: &["status.phase"],
        ..res("", "namespaces", "namespace", "Namespace", false)
    },
    ResourceDef { short_names: &["limits"], ..res("", "limitranges", "limitrange", "LimitRange", true) },
    ResourceDef {
        short_names: &["no"],
        subresources: &[status("Node")],
        field_labels: &["spec.unschedulable"],
        ..res("", "nodes", "node", "Node", false)
    },
    ResourceDef {
        short_names: &["pvc"],
        subresources: &[status("PersistentVolumeClaim")],
        ..res("", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true)
    },
    ResourceDef {
        short_names: &["po"],
        categories: &["all"],
        subresources: &[
            SubresourceDef { name: "binding", group: "", version: "", kind: "Binding", verbs: &["create"] },
            SubresourceDef { name: "eviction", group: "policy", version: "v1", kind: "Eviction", verbs: &["create"] },
            SubresourceDef {
                name: "portforward",
                group: "",
                version: "",
                kind: "PodPortForwardOptions",
                verbs: &["create", "get"],
            },
            status("Pod"),
        ],
        tracks_generation: true,
        returns_deleted_object: true,
        field_labels: &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        ..res("", "pods", "pod", "Pod", true)
    },
    ResourceDef {
        short_names: &["quota"],
        subresources: &[status("ResourceQuota")],
        ..res("", "resourcequotas", "resourcequota", "ResourceQuota", true)
    },
    ResourceDef { field_labels: &["type"], ..res("", "secrets", "secret", "Secret", true) },
    ResourceDef {
        short_names: &["sa"],
        subresources: &[SubresourceDef {
            name: "token",
            group: "authentication.k8s.io",
            version: "v1",
            kind: "TokenRequest",
            verbs: &["create"],
        }],
        ..res("", "serviceaccounts", "serviceaccount", "ServiceAccount", true)
    },
    ResourceDef {
        short_names: &["svc"],
        categories: &["all"],
        subresources: &[status("Service")],
        name_rule: NameRule::Dns1035,
        returns_deleted_object: true,
        field_labels: &["spec.clusterIP", "spec.type"],
        ..res("", "services", "service", "Service", true)
    },
    // ---- apps/v1 ----
    ResourceDef { ..res("apps", "controllerrevisions", "controllerrevision", "ControllerRevision", true) },
    ResourceDef {
        short_names: &["deploy"],
        categories: &["all"],
        subresources: &[SCALE, status("Deployment")],
        tracks_generation: true,
        ..res("apps", "deployments", "deployment", "Deployment", true)
    },
    ResourceDef {
        short_names: &["rs"],
        categories: &["all"],
        subresources: &[SCALE, status("ReplicaSet")],
        tracks_generation: true,
        // No field labels: apps/v1 registers no field label conversion (only v1beta1/v1beta2
        // StatefulSets do), so `status.replicas` of ReplicaSetToSelectableFields is refused.
        ..res("apps", "replicasets", "replicaset", "ReplicaSet", true)
    },
    ResourceDef {
        short_names: &["sts"],
        categories: &["all"],
        subresources: &[SCALE, status("StatefulSet")],
        // pkg/apis/apps/validation/validation.go ValidateStatefulSetName: NameIsDNSLabel
        name_rule: NameRule::Label,
        tracks_generation: true,
        ..res("apps", "statefulsets", "statefulset", "StatefulSet", true)
    },
    // ---- authentication.k8s.io/v1, authorization.k8s.io/v1: reviews, create-only ----
    ResourceDef {
        verbs: &["create"],
        ..res("authentication.k8s.io", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false)
    },
    ResourceDef {
        verbs: &["create"],
        ..res(
            "authorization.k8s.io",
            "selfsubjectaccessreviews",
            "selfsubjectaccessreview",
            "SelfSubjectAccessReview",
            false,
        )
    },
    ResourceDef {
        verbs: &["create"],
        ..res(
            "authorization.k8s.io",
            "selfsubjectrulesreviews",
            "selfsubjectrulesreview",
            "SelfSubjectRulesReview",
            false,
        )
    },
    ResourceDef {
        verbs: &["create"],
        ..res("authorization.k8s.io", "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false)
    },
    // ---- coordination.k8s.io/v1 ----
    ResourceDef { create_on_update: true, ..res("coordination.k8s.io", "leases", "lease", "Lease", true) },
    // ---- discovery.k8s.io/v1 ----
    ResourceDef {
        tracks_generation: true,
        ..res("discovery.k8s.io", "endpointslices", "endpointslice", "EndpointSlice", true)
    },
    // ---- events.k8s.io/v1 ----
    ResourceDef {
        short_names: &["ev"],
        create_on_update: true,
        field_labels: &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        ..res("events.k8s.io", "events", "event", "Event", true)
    },
    // ---- networking.k8s.io/v1 ----
    ResourceDef {
        tracks_generation: true,
        ..res("networking.k8s.io", "ingressclasses", "ingressclass", "IngressClass", false)
    },
    ResourceDef {
        short_names: &["ing"],
        subresources: &[status("Ingress")],
        tracks_generation: true,
        ..res("networking.k8s.io", "ingresses", "ingress", "Ingress", true)
    },
    ResourceDef {
        short_names: &["netpol"],
        tracks_generation: true,
        ..res("networking.k8s.io", "networkpolicies", "networkpolicy", "NetworkPolicy", true)
    },
    // pkg/registry/networking/servicecidr/storage/storage.go: no ShortNames, no Categories; a
    // status subresource; the strategy sets no generation.
    ResourceDef {
        subresources: &[status("ServiceCIDR")],
        ..res("networking.k8s.io", "servicecidrs", "servicecidr", "ServiceCIDR", false)
    },
    // ---- policy/v1 ----
    ResourceDef {
        short_names: &["pdb"],
        subresources: &[status("PodDisruptionBudget")],
        tracks_generation: true,
        ..res("policy", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true)
    },
    // ---- rbac.authorization.k8s.io/v1 ----
    ResourceDef {
        name_rule: NameRule::PathSegment,
        create_on_update: true,
        ..res("rbac.authorization.k8s.io", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false)
    },
    ResourceDef {
        name_rule: NameRule::PathSegment,
        create_on_update: true,
        ..res("rbac.authorization.k8s.io", "clusterroles", "clusterrole", "ClusterRole", false)
    },
    ResourceDef {
        name_rule: NameRule::PathSegment,
        create_on_update: true,
        ..res("rbac.authorization.k8s.io", "rolebindings", "rolebinding", "RoleBinding", true)
    },
    ResourceDef {
        name_rule: NameRule::PathSegment,
        create_on_update: true,
        ..res("rbac.authorization.k8s.io", "roles", "role", "Role", true)
    },
];

/// The API groups in the order kube-apiserver lists them under `/apis`
/// (kube-apiserver: `pkg/controlplane/apiserver/options` group priorities).
pub const GROUP_ORDER: &[&str] = &[
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
];

impl ResourceDef {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_string() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `statefulsets.apps` or `configmaps` (`schema.GroupResource.String()`).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() { self.plural.to_string() } else { format!("{}.{}", self.plural, self.group) }
    }

    pub fn subresource(&'static self, name: &str) -> Option<&'static SubresourceDef> {
        self.subresources.iter().find(|s| s.name == name)
    }

    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s.name == "status")
    }

    /// The review kinds answered from the authenticator and authorizer: created, never stored
    /// (so discovery gives them no storageVersionHash).
    pub fn is_review(&self) -> bool {
        matches!(self.group, "authentication.k8s.io" | "authorization.k8s.io")
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.contains(&verb)
    }

    /// The merge engine's view of this kind.
    pub fn gvk(&self) -> crate::merge::Gvk {
        crate::merge::Gvk::new(self.group, self.version, self.kind)
    }

    /// kube-apiserver: staging/src/k8s.io/apiserver/pkg/endpoints/discovery/storageversionhash.go,
    /// of the version the resource is stored as (kubernetes v1.33
    /// pkg/kubeapiserver/default_storage_factory_builder.go: events.k8s.io Events cohabit
    /// with core v1 Events and are stored as them; ServiceCIDRs are still stored as v1beta1).
    pub fn storage_version_hash(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let stored = match (self.group, self.plural) {
            ("events.k8s.io", "events") => "/v1/Event".to_string(),
            ("networking.k8s.io", "servicecidrs") => "networking.k8s.io/v1beta1/ServiceCIDR".to_string(),
            _ => format!("{}/{}/{}", self.group, self.version, self.kind),
        };
        let digest = sha2::Sha256::digest(stored);
        base64::engine::general_purpose::STANDARD.encode(&digest[..8])
    }
}

/// Resource index into [`RESOURCES`]: cheap to copy and store.
pub type ResId = usize;

pub fn by_id(id: ResId) -> &'static ResourceDef {
    &RESOURCES[id]
}

pub fn find(group: &str, version: &str, plural: &str) -> Option<ResId> {
    RESOURCES.iter().position(|r| r.group == group && r.version == version && r.plural == plural)
}

pub fn find_kind(api_version: &str, kind: &str) -> Option<ResId> {
    RESOURCES.iter().position(|r| r.api_version() == api_version && r.kind == kind)
}

/// Group versions served under `/apis`, in discovery order.
pub fn served_groups() -> impl Iterator<Item = &'static str> {
    GROUP_ORDER.iter().copied()
}

pub fn in_group_version<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static ResourceDef> + use<'a> {
    RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_version_hash_matches_kube_apiserver() {
        // Values a kube-apiserver 1.33 reports in /api/v1 and /apis/apps/v1.
        let pods = &RESOURCES[find("", "v1", "pods").unwrap()];
        assert_eq!(pods.storage_version_hash(), "xPOwRZ+Yhw8=");
        let cms = &RESOURCES[find("", "v1", "configmaps").unwrap()];
        assert_eq!(cms.storage_version_hash(), "qFsyl6wFWjQ=");
        let deploy = &RESOURCES[find("apps", "v1", "deployments").unwrap()];
        assert_eq!(deploy.storage_version_hash(), "8aSe+NMegvE=");
        // Stored as another version (the real control plane's /apis/events.k8s.io/v1 and
        // /apis/networking.k8s.io/v1).
        let events = &RESOURCES[find("events.k8s.io", "v1", "events").unwrap()];
        assert_eq!(events.storage_version_hash(), "r2yiGXH7wu8=");
        let cidrs = &RESOURCES[find("networking.k8s.io", "v1", "servicecidrs").unwrap()];
        assert_eq!(cidrs.storage_version_hash(), "8ufAXOnr3Yg=");
    }

    #[test]
    fn every_group_is_ordered_and_every_resource_is_in_a_served_group() {
        for r in RESOURCES {
            assert!(r.group.is_empty() || GROUP_ORDER.contains(&r.group), "{}", r.group);
        }
    }

    #[test]
    fn names_and_kinds_render_like_apimachinery() {
        let sts = &RESOURCES[find("apps", "v1", "statefulsets").unwrap()];
        assert_eq!(sts.group_resource(), "statefulsets.apps");
    }
}
