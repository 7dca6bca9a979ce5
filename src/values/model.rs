//! The typed values model. Its keys match `templates/values.yaml` exactly (a test compares
//! them); every struct rejects unknown fields and takes its defaults from that file, so a key
//! deleted with `null` becomes empty/false here.
//!
//! Kubernetes objects inside the values (env vars, affinity, tolerations, security contexts,
//! ingress TLS) stay JSON here and are checked against the Kubernetes types in `validate`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A string-to-string map (labels, annotations, node selectors). Sorted, so output is stable.
pub(crate) type StringMap = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Values {
    pub(crate) sync: Sync,
    pub(crate) map_services: MapServices,
    pub(crate) fallback_host_dns: bool,
    #[serde(rename = "serviceCIDR")]
    pub(crate) service_cidr: String,
    pub(crate) default_image_registry: String,
    #[serde(rename = "enableHA")]
    pub(crate) enable_ha: bool,
    pub(crate) syncer: Syncer,
    pub(crate) vcluster: Vcluster,
    pub(crate) storage: Storage,
    pub(crate) service: Service,
    pub(crate) ingress: Ingress,
    pub(crate) coredns: Coredns,
    pub(crate) isolation: Isolation,
    pub(crate) rbac: Rbac,
    pub(crate) init: Init,
    pub(crate) security_context: Value,
    pub(crate) pod_security_context: Value,
    pub(crate) labels: StringMap,
    pub(crate) annotations: StringMap,
    pub(crate) pod_labels: StringMap,
    pub(crate) pod_annotations: StringMap,
    pub(crate) node_selector: StringMap,
    pub(crate) affinity: Value,
    pub(crate) tolerations: Vec<Value>,
    pub(crate) priority_class_name: String,
    pub(crate) global_annotations: StringMap,
}

/// `sync.*`: one entry per syncer controller this chart knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Sync {
    pub(crate) services: Toggle,
    pub(crate) configmaps: ToggleAll,
    pub(crate) secrets: ToggleAll,
    pub(crate) endpoints: Toggle,
    pub(crate) pods: Toggle,
    pub(crate) events: Toggle,
    pub(crate) persistentvolumeclaims: Toggle,
    pub(crate) ingresses: Toggle,
    pub(crate) ingressclasses: OptionalToggle,
    pub(crate) networkpolicies: Toggle,
    #[serde(rename = "fake-nodes")]
    pub(crate) fake_nodes: Toggle,
    #[serde(rename = "fake-persistentvolumes")]
    pub(crate) fake_persistentvolumes: Toggle,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Toggle {
    pub(crate) enabled: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ToggleAll {
    pub(crate) enabled: bool,
    pub(crate) all: bool,
}

/// `enabled: null` means "decide from another key" (ingress classes follow ingresses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct OptionalToggle {
    pub(crate) enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct MapServices {
    pub(crate) from_host: Vec<ServiceMapping>,
    pub(crate) from_virtual: Vec<ServiceMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceMapping {
    pub(crate) from: String,
    pub(crate) to: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Syncer {
    pub(crate) image: String,
    pub(crate) extra_args: Vec<String>,
    pub(crate) env: Vec<Value>,
    pub(crate) resources: Resources,
    pub(crate) replicas: i64,
    pub(crate) kube_config_context_name: String,
    pub(crate) service_annotations: StringMap,
    pub(crate) liveness_probe: Toggle,
    pub(crate) readiness_probe: Toggle,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Vcluster {
    pub(crate) image: String,
    pub(crate) command: Vec<String>,
    pub(crate) base_args: Vec<String>,
    pub(crate) extra_args: Vec<String>,
    pub(crate) resources: Resources,
    pub(crate) env: Vec<Value>,
}

/// Container resources: resource name → quantity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Resources {
    pub(crate) limits: BTreeMap<String, Quantity>,
    pub(crate) requests: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Storage {
    pub(crate) persistence: bool,
    pub(crate) size: Quantity,
    pub(crate) class_name: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Service {
    #[serde(rename = "type")]
    pub(crate) type_: ServiceType,
    #[serde(rename = "externalIPs")]
    pub(crate) external_ips: Vec<String>,
    pub(crate) external_traffic_policy: String,
    #[serde(rename = "loadBalancerIP")]
    pub(crate) load_balancer_ip: String,
    pub(crate) load_balancer_source_ranges: Vec<String>,
    pub(crate) load_balancer_class: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Ingress {
    pub(crate) enabled: bool,
    pub(crate) path_type: String,
    pub(crate) ingress_class_name: String,
    pub(crate) host: String,
    pub(crate) annotations: StringMap,
    pub(crate) tls: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Coredns {
    pub(crate) enabled: bool,
    pub(crate) replicas: i64,
    pub(crate) image: String,
    pub(crate) resources: Resources,
    pub(crate) service: CorednsService,
    pub(crate) pod_annotations: StringMap,
    pub(crate) pod_labels: StringMap,
    pub(crate) config: String,
    pub(crate) manifests: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct CorednsService {
    #[serde(rename = "type")]
    pub(crate) type_: ServiceType,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Isolation {
    pub(crate) enabled: bool,
    pub(crate) pod_security_standard: PodSecurityStandard,
    pub(crate) resource_quota: ResourceQuota,
    pub(crate) limit_range: LimitRange,
    pub(crate) network_policy: NetworkPolicy,
}

/// Pod Security Standards levels (kubernetes.io/docs/concepts/security/pod-security-standards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PodSecurityStandard {
    Privileged,
    #[default]
    Baseline,
    Restricted,
}

impl PodSecurityStandard {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PodSecurityStandard::Privileged => "privileged",
            PodSecurityStandard::Baseline => "baseline",
            PodSecurityStandard::Restricted => "restricted",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ResourceQuota {
    pub(crate) enabled: bool,
    pub(crate) quota: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LimitRange {
    pub(crate) enabled: bool,
    pub(crate) default: BTreeMap<String, Quantity>,
    pub(crate) default_request: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NetworkPolicy {
    pub(crate) enabled: bool,
    pub(crate) outgoing_connections: OutgoingConnections,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct OutgoingConnections {
    pub(crate) ip_block: IpBlock,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct IpBlock {
    pub(crate) cidr: String,
    pub(crate) except: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Rbac {
    pub(crate) cluster_role: Create,
    pub(crate) role: Create,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Create {
    pub(crate) create: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Init {
    pub(crate) manifests: String,
}

/// A Kubernetes resource quantity (`500m`, `2Gi`, `1e3`). YAML numbers are accepted like the
/// API server accepts them and kept as their decimal text; the format is checked in `validate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Quantity(pub String);

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a quantity such as \"500m\", \"2Gi\" or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                if v.is_finite() { Ok(Quantity(v.to_string())) } else { Err(E::custom("a quantity must be finite")) }
            }
        }
        d.deserialize_any(V)
    }
}
