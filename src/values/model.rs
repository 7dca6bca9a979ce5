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
pub type StringMap = BTreeMap<String, String>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Values {
    pub sync: Sync,
    pub map_services: MapServices,
    pub fallback_host_dns: bool,
    #[serde(rename = "serviceCIDR")]
    pub service_cidr: String,
    pub default_image_registry: String,
    pub syncer: Syncer,
    pub vcluster: Vcluster,
    pub storage: Storage,
    pub service: Service,
    pub ingress: Ingress,
    pub coredns: Coredns,
    pub isolation: Isolation,
    pub rbac: Rbac,
    pub init: Init,
    pub security_context: Value,
    pub pod_security_context: Value,
    pub labels: StringMap,
    pub annotations: StringMap,
    pub pod_labels: StringMap,
    pub pod_annotations: StringMap,
    pub node_selector: StringMap,
    pub affinity: Value,
    pub tolerations: Vec<Value>,
    pub priority_class_name: String,
    pub global_annotations: StringMap,
}

/// `sync.*`: one entry per syncer controller this chart knows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sync {
    pub services: Toggle,
    pub configmaps: ToggleAll,
    pub secrets: ToggleAll,
    pub endpoints: Toggle,
    pub pods: Toggle,
    pub events: Toggle,
    pub persistentvolumeclaims: Toggle,
    pub ingresses: Toggle,
    pub ingressclasses: OptionalToggle,
    pub networkpolicies: Toggle,
    #[serde(rename = "fake-nodes")]
    pub fake_nodes: Toggle,
    #[serde(rename = "fake-persistentvolumes")]
    pub fake_persistentvolumes: Toggle,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToggleAll {
    pub enabled: bool,
    pub all: bool,
}

/// `enabled: null` means "decide from another key" (ingress classes follow ingresses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptionalToggle {
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MapServices {
    pub from_host: Vec<ServiceMapping>,
    pub from_virtual: Vec<ServiceMapping>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceMapping {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Syncer {
    pub image: String,
    pub extra_args: Vec<String>,
    pub env: Vec<Value>,
    pub resources: Resources,
    pub replicas: i64,
    pub kube_config_context_name: String,
    pub service_annotations: StringMap,
    pub liveness_probe: Toggle,
    pub readiness_probe: Toggle,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Vcluster {
    pub image: String,
    pub command: Vec<String>,
    pub base_args: Vec<String>,
    pub extra_args: Vec<String>,
    pub resources: Resources,
    pub env: Vec<Value>,
}

/// Container resources: resource name → quantity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Resources {
    pub limits: BTreeMap<String, Quantity>,
    pub requests: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Storage {
    pub persistence: bool,
    pub size: Quantity,
    pub class_name: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    #[serde(rename = "type")]
    pub type_: ServiceType,
    #[serde(rename = "externalIPs")]
    pub external_ips: Vec<String>,
    pub external_traffic_policy: String,
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: String,
    pub load_balancer_source_ranges: Vec<String>,
    pub load_balancer_class: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Ingress {
    pub enabled: bool,
    pub path_type: String,
    pub ingress_class_name: String,
    pub host: String,
    pub annotations: StringMap,
    pub tls: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Coredns {
    pub enabled: bool,
    pub replicas: i64,
    pub image: String,
    pub resources: Resources,
    pub service: CorednsService,
    pub pod_annotations: StringMap,
    pub pod_labels: StringMap,
    pub config: String,
    pub manifests: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorednsService {
    #[serde(rename = "type")]
    pub type_: ServiceType,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Isolation {
    pub enabled: bool,
    pub pod_security_standard: PodSecurityStandard,
    pub resource_quota: ResourceQuota,
    pub limit_range: LimitRange,
    pub network_policy: NetworkPolicy,
}

/// Pod Security Standards levels (kubernetes.io/docs/concepts/security/pod-security-standards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityStandard {
    Privileged,
    #[default]
    Baseline,
    Restricted,
}

impl PodSecurityStandard {
    pub fn as_str(self) -> &'static str {
        match self {
            PodSecurityStandard::Privileged => "privileged",
            PodSecurityStandard::Baseline => "baseline",
            PodSecurityStandard::Restricted => "restricted",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceQuota {
    pub enabled: bool,
    pub quota: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitRange {
    pub enabled: bool,
    pub default: BTreeMap<String, Quantity>,
    pub default_request: BTreeMap<String, Quantity>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct NetworkPolicy {
    pub enabled: bool,
    pub outgoing_connections: OutgoingConnections,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct OutgoingConnections {
    pub ip_block: IpBlock,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpBlock {
    pub cidr: String,
    pub except: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Rbac {
    pub cluster_role: Create,
    pub role: Create,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Create {
    pub create: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Init {
    pub manifests: String,
}

/// A Kubernetes resource quantity (`500m`, `2Gi`, `1e3`). YAML numbers are accepted like the
/// API server accepts them and kept as their decimal text; the format is checked in `validate`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(pub String);

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
