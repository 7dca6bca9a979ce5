//! A NetworkPolicy evaluator as a CNI applies the policies (pure, test support): given the host's
//! pods, namespaces and policies, is a connection from pod A to pod B on a port allowed?
//!
//! Semantics of the `networking.k8s.io/v1` API (kubernetes/api v0.33.1
//! `networking/v1/types.go`): a pod is isolated for ingress (egress) when a policy of its
//! namespace selects it and has `Ingress` (`Egress`) among its policy types (absent types:
//! `Ingress`, plus `Egress` when it has egress rules); an isolated direction admits what the
//! union of the selecting policies' rules admits. A connection needs both the source's egress
//! and the destination's ingress. Peers: `ipBlock` (the peer pod's IP in the CIDR, outside every
//! `except`), else `podSelector` over the policy's namespace, or over the namespaces that
//! `namespaceSelector` selects. Ports: absent or empty admits every port; a numeric port (with
//! `endPort`, a range) or a named container port of the destination; the protocol defaults to TCP.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// What the evaluator sees of a cluster.
#[derive(Default, Clone)]
pub struct Network {
    pub pods: Vec<Pod>,
    pub namespaces: Vec<Namespace>,
    pub policies: Vec<NetworkPolicy>,
}

/// A connection's destination port.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub number: i32,
    pub protocol: &'static str,
}

pub fn tcp(number: i32) -> Port {
    Port { number, protocol: "TCP" }
}

fn labels(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// Whether `selector` selects an object with `labels` (`metav1.LabelSelectorAsSelector`).
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_labels = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let by_expressions = selector.match_expressions.iter().flatten().all(|r| {
        let values = r.values.clone().unwrap_or_default();
        match r.operator.as_str() {
            "In" => labels.get(&r.key).is_some_and(|v| values.contains(v)),
            "NotIn" => labels.get(&r.key).is_none_or(|v| !values.contains(v)),
            "Exists" => labels.contains_key(&r.key),
            "DoesNotExist" => !labels.contains_key(&r.key),
            other => panic!("unknown selector operator {other}"),
        }
    });
    by_labels && by_expressions
}

fn namespace_of(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or_default()
}

fn pod_ip(pod: &Pod) -> Option<IpAddr> {
    pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
}

/// Whether `ip` is in `cidr` (`a.b.c.d/n` or an IPv6 prefix).
pub fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let Some((base, bits)) = cidr.split_once('/') else { return false };
    let (Ok(base), Ok(bits)) = (base.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    match (ip, base) {
        (IpAddr::V4(ip), IpAddr::V4(base)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(ip) & mask == u32::from(base) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(base)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(ip) & mask == u128::from(base) & mask
        }
        _ => false,
    }
}

impl Network {
    fn namespace_labels(&self, name: &str) -> BTreeMap<String, String> {
        self.namespaces
            .iter()
            .find(|n| n.metadata.name.as_deref() == Some(name))
            .map(|n| labels(&n.metadata))
            .unwrap_or_default()
    }

    /// The pod named `namespace/name` (panics when missing: a test names pods it created).
    pub fn pod(&self, namespace: &str, name: &str) -> &Pod {
        self.pods
            .iter()
            .find(|p| namespace_of(p) == namespace && p.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no pod {namespace}/{name}"))
    }

    fn peer_matches(&self, policy: &NetworkPolicy, peer: &NetworkPolicyPeer, pod: &Pod) -> bool {
        if let Some(block) = &peer.ip_block {
            let Some(ip) = pod_ip(pod) else { return false };
            return in_cidr(ip, &block.cidr) && !block.except.iter().flatten().any(|e| in_cidr(ip, e));
        }
        let namespace_ok = match &peer.namespace_selector {
            None => namespace_of(pod) == policy.metadata.namespace.as_deref().unwrap_or_default(),
            Some(s) => selects(s, &self.namespace_labels(namespace_of(pod))),
        };
        let pod_ok = peer.pod_selector.as_ref().is_none_or(|s| selects(s, &labels(&pod.metadata)));
        namespace_ok && pod_ok
    }

    fn port_matches(rule_ports: Option<&Vec<NetworkPolicyPort>>, destination: &Pod, port: Port) -> bool {
        let Some(ports) = rule_ports.filter(|p| !p.is_empty()) else { return true };
        ports.iter().any(|p| {
            if p.protocol.as_deref().unwrap_or("TCP") != port.protocol {
                return false;
            }
            match &p.port {
                None => true,
                Some(IntOrString::Int(n)) => {
                    port.number == *n || p.end_port.is_some_and(|end| (*n..=end).contains(&port.number))
                }
                Some(IntOrString::String(name)) => destination
                    .spec
                    .iter()
                    .flat_map(|s| &s.containers)
                    .flat_map(|c| c.ports.iter().flatten())
                    .any(|cp| cp.name.as_deref() == Some(name.as_str()) && cp.container_port == port.number),
            }
        })
    }

    fn policy_types(policy: &NetworkPolicy) -> Vec<String> {
        let spec = policy.spec.clone().unwrap_or_default();
        match spec.policy_types {
            Some(types) if !types.is_empty() => types,
            _ => {
                let mut types = vec!["Ingress".to_owned()];
                if spec.egress.is_some_and(|e| !e.is_empty()) {
                    types.push("Egress".to_owned());
                }
                types
            }
        }
    }

    /// The policies isolating `pod` in `direction` (`Ingress` or `Egress`).
    fn isolating<'a>(&'a self, pod: &'a Pod, direction: &'a str) -> impl Iterator<Item = &'a NetworkPolicy> + 'a {
        self.policies.iter().filter(move |p| {
            p.metadata.namespace.as_deref() == Some(namespace_of(pod))
                && p.spec
                    .as_ref()
                    .and_then(|s| s.pod_selector.as_ref())
                    .is_none_or(|s| selects(s, &labels(&pod.metadata)))
                && Self::policy_types(p).iter().any(|t| t == direction)
        })
    }

    fn ingress_allowed(&self, from: &Pod, to: &Pod, port: Port) -> bool {
        let mut isolated = false;
        for policy in self.isolating(to, "Ingress") {
            isolated = true;
            for rule in policy.spec.iter().flat_map(|s| s.ingress.iter().flatten()) {
                let peer_ok = rule
                    .from
                    .as_ref()
                    .filter(|f| !f.is_empty())
                    .is_none_or(|peers| peers.iter().any(|peer| self.peer_matches(policy, peer, from)));
                if peer_ok && Self::port_matches(rule.ports.as_ref(), to, port) {
                    return true;
                }
            }
        }
        !isolated
    }

    fn egress_allowed(&self, from: &Pod, to: &Pod, port: Port) -> bool {
        let mut isolated = false;
        for policy in self.isolating(from, "Egress") {
            isolated = true;
            for rule in policy.spec.iter().flat_map(|s| s.egress.iter().flatten()) {
                let peer_ok = rule
                    .to
                    .as_ref()
                    .filter(|t| !t.is_empty())
                    .is_none_or(|peers| peers.iter().any(|peer| self.peer_matches(policy, peer, to)));
                if peer_ok && Self::port_matches(rule.ports.as_ref(), to, port) {
                    return true;
                }
            }
        }
        !isolated
    }

    /// Whether a connection from `from` to `to` on `port` is allowed.
    pub fn allowed(&self, from: &Pod, to: &Pod, port: Port) -> bool {
        self.egress_allowed(from, to, port) && self.ingress_allowed(from, to, port)
    }
}

#[cfg(test)]
mod tests {
    //! The evaluator on hand-written policies (the examples of the Kubernetes documentation,
    //! "Network Policies").
    use super::*;
    use serde_json::json;

    fn pod(namespace: &str, name: &str, labels: serde_json::Value, ip: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"name": "pg", "containerPort": 5432}]}]},
            "status": {"podIP": ip}
        }))
        .unwrap()
    }

    fn policy(namespace: &str, spec: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": namespace}, "spec": spec})).unwrap()
    }

    fn network(policies: Vec<NetworkPolicy>) -> Network {
        Network {
            pods: vec![
                pod("shop", "web", json!({"app": "web"}), "10.0.0.1"),
                pod("shop", "db", json!({"app": "db"}), "10.0.0.2"),
                pod("shop", "batch", json!({"app": "batch"}), "10.0.0.3"),
                pod("ops", "web", json!({"app": "web"}), "10.1.0.1"),
            ],
            namespaces: vec![
                serde_json::from_value(json!({"metadata": {"name": "shop", "labels": {"team": "shop"}}})).unwrap(),
                serde_json::from_value(json!({"metadata": {"name": "ops", "labels": {"team": "ops"}}})).unwrap(),
            ],
            policies,
        }
    }

    #[test]
    fn no_policy_admits_everything() {
        let n = network(vec![]);
        assert!(n.allowed(n.pod("ops", "web"), n.pod("shop", "db"), tcp(1)));
    }

    #[test]
    fn ingress_rule_admits_only_its_peers_and_ports() {
        let n = network(vec![policy(
            "shop",
            json!({"podSelector": {"matchLabels": {"app": "db"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 5432}]}]}),
        )]);
        let (web, db, batch, ops_web) =
            (n.pod("shop", "web"), n.pod("shop", "db"), n.pod("shop", "batch"), n.pod("ops", "web"));
        assert!(n.allowed(web, db, tcp(5432)));
        assert!(!n.allowed(web, db, tcp(80)));
        assert!(!n.allowed(web, db, Port { number: 5432, protocol: "UDP" }));
        assert!(!n.allowed(batch, db, tcp(5432)));
        assert!(!n.allowed(ops_web, db, tcp(5432)), "another namespace without namespaceSelector");
        assert!(n.allowed(db, web, tcp(80)), "web is not isolated");
    }

    #[test]
    fn namespace_selectors_ip_blocks_named_ports_and_egress() {
        let n = network(vec![
            policy(
                "shop",
                json!({"podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [
                  {"from": [{"namespaceSelector": {"matchLabels": {"team": "ops"}},
                             "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}}],
                   "ports": [{"port": "pg"}]},
                  {"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.0.1/32"]}}], "ports": [{"port": 5000, "endPort": 5500}]}
                ]}),
            ),
            policy(
                "ops",
                json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 5432}]}]}),
            ),
        ]);
        let (web, db, batch, ops_web) =
            (n.pod("shop", "web"), n.pod("shop", "db"), n.pod("shop", "batch"), n.pod("ops", "web"));
        assert!(n.allowed(ops_web, db, tcp(5432)), "named port, namespace selector");
        assert!(!n.allowed(ops_web, db, tcp(5433)));
        assert!(!n.allowed(ops_web, web, tcp(80)), "egress of ops is limited to 5432");
        assert!(n.allowed(batch, db, tcp(5432)), "ipBlock with a port range");
        assert!(!n.allowed(web, db, tcp(5432)), "except");
        assert!(in_cidr("fd00::1".parse().unwrap(), "fd00::/8") && !in_cidr("10.0.0.1".parse().unwrap(), "fd00::/8"));
    }
}
