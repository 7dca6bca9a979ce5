//! NetworkPolicies (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/networkpolicies/{syncer,translate}.go`): the host policy selects
//! only this vcluster's pods. `podSelector` is hashed and pinned to the policy's virtual namespace
//! and the vcluster; every peer without `ipBlock` becomes one pod selector (hashed pod labels,
//! the namespace selector over the namespace labels projected onto host pods, `managed-by`, and
//! the policy's namespace when the peer names no namespaces) with no namespace selector; `ipBlock`
//! peers, ports and policy types are copied as they are. The selector arithmetic lives in
//! `vcluster_translate::selectors`.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use vcluster_translate::selectors::{Requirement, Selector};

use super::{Context, semantic};

/// `metav1.LabelSelector` → the translate crate's selector.
pub(crate) fn from_k8s(s: &LabelSelector) -> Selector {
    Selector {
        match_labels: s.match_labels.clone(),
        match_expressions: s.match_expressions.as_ref().map(|e| {
            e.iter()
                .map(|r| Requirement { key: r.key.clone(), operator: r.operator.clone(), values: r.values.clone() })
                .collect()
        }),
    }
}

/// The translate crate's selector → `metav1.LabelSelector`.
pub(crate) fn to_k8s(s: Selector) -> LabelSelector {
    LabelSelector {
        match_labels: s.match_labels,
        match_expressions: s.match_expressions.map(|e| {
            e.into_iter()
                .map(|r| LabelSelectorRequirement { key: r.key, operator: r.operator, values: r.values })
                .collect()
        }),
    }
}

/// The host policy for `v`.
pub(crate) fn to_host(ctx: &Context, v: &NetworkPolicy) -> NetworkPolicy {
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    NetworkPolicy {
        metadata: ctx.host_metadata(&v.metadata, &[]),
        spec: Some(translate_spec(ctx, &v.spec.clone().unwrap_or_default(), namespace)),
    }
}

/// The updated host policy (spec re-translated, metadata), or `None` when it already matches.
pub(crate) fn update(ctx: &Context, v: &NetworkPolicy, h: &NetworkPolicy) -> Option<NetworkPolicy> {
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    let spec = translate_spec(ctx, &v.spec.clone().unwrap_or_default(), namespace);
    let spec_changed = !semantic::eq(&Some(&spec), &h.spec.as_ref());
    let meta = ctx.metadata_update(&v.metadata, &h.metadata, &[]);
    if !spec_changed && meta.is_none() {
        return None;
    }
    let mut out = h.clone();
    if spec_changed {
        out.spec = Some(spec);
    }
    if let Some((labels, annotations)) = meta {
        out.metadata.labels = Some(labels);
        out.metadata.annotations = Some(annotations);
    }
    Some(out)
}

/// `translateSpec`.
pub(crate) fn translate_spec(ctx: &Context, spec: &NetworkPolicySpec, namespace: &str) -> NetworkPolicySpec {
    let pod_selector = spec.pod_selector.as_ref().map(from_k8s).unwrap_or_default();
    NetworkPolicySpec {
        pod_selector: Some(to_k8s(ctx.translator.network_policy_pod_selector(&pod_selector, namespace))),
        ingress: spec.ingress.as_ref().filter(|r| !r.is_empty()).map(|rules| {
            rules
                .iter()
                .map(|r| NetworkPolicyIngressRule {
                    ports: r.ports.clone(),
                    from: r.from.as_ref().map(|p| peers(ctx, p, namespace)),
                })
                .collect()
        }),
        egress: spec.egress.as_ref().filter(|r| !r.is_empty()).map(|rules| {
            rules
                .iter()
                .map(|r| NetworkPolicyEgressRule {
                    ports: r.ports.clone(),
                    to: r.to.as_ref().map(|p| peers(ctx, p, namespace)),
                })
                .collect()
        }),
        policy_types: spec.policy_types.clone(),
    }
}

/// `translateNetworkPolicyPeers`.
fn peers(ctx: &Context, peers: &[NetworkPolicyPeer], namespace: &str) -> Vec<NetworkPolicyPeer> {
    peers
        .iter()
        .map(|peer| match &peer.ip_block {
            Some(block) => NetworkPolicyPeer {
                ip_block: Some(block.clone()),
                // The API rejects a peer with both; upstream hashes whatever pod selector is there.
                pod_selector: peer.pod_selector.as_ref().map(|s| to_k8s(ctx.translator.label_selector(&from_k8s(s)))),
                namespace_selector: None,
            },
            None => {
                let pods = peer.pod_selector.as_ref().map(from_k8s);
                let namespaces = peer.namespace_selector.as_ref().map(from_k8s);
                NetworkPolicyPeer {
                    ip_block: None,
                    pod_selector: Some(to_k8s(ctx.translator.network_policy_peer_selector(
                        pods.as_ref(),
                        namespaces.as_ref(),
                        namespace,
                    ))),
                    namespace_selector: None,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Upstream networkpolicies cases (v0.15.7 pkg/controllers/resources/networkpolicies/syncer_test.go), with the upstream test context
    //! (vcluster `vcluster`, host namespace `test`). Hashes: `printf %s KEY | sha256sum`
    //! (app a172cedcae, role 4b168d88dc, tier e29ccc00b2, kubernetes.io/metadata.name cf1227b7b2).
    use super::*;
    use crate::translate::testing::{ctx, meta};
    use serde_json::json;

    fn policy(spec: serde_json::Value) -> NetworkPolicy {
        NetworkPolicy { metadata: meta("default", "allow"), spec: Some(serde_json::from_value(spec).unwrap()) }
    }

    fn host_spec(v: &NetworkPolicy) -> serde_json::Value {
        serde_json::to_value(to_host(&ctx(), v).spec.unwrap()).unwrap()
    }

    const APP: &str = "vcluster.loft.sh/label-vcluster-x-a172cedcae";
    const ROLE: &str = "vcluster.loft.sh/label-vcluster-x-4b168d88dc";
    const NS_NAME: &str = "vcluster.loft.sh/ns-label-vcluster-x-cf1227b7b2";

    #[test]
    fn create_forward() {
        let v = policy(json!({"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}));
        let h = to_host(&ctx(), &v);
        assert_eq!(h.metadata.name.as_deref(), Some("allow-x-default-x-vcluster"));
        assert_eq!(h.metadata.namespace.as_deref(), Some("test"));
        assert_eq!(
            serde_json::to_value(h.spec.unwrap()).unwrap(),
            json!({
                "podSelector": {"matchLabels": {
                    APP: "db", "vcluster.loft.sh/managed-by": "vcluster", "vcluster.loft.sh/namespace": "default"
                }},
                "policyTypes": ["Ingress"]
            })
        );
    }

    #[test]
    fn create_forward_empty_pod_selector() {
        let v = policy(json!({"podSelector": {}}));
        assert_eq!(
            host_spec(&v),
            json!({"podSelector": {"matchLabels": {
                "vcluster.loft.sh/managed-by": "vcluster", "vcluster.loft.sh/namespace": "default"
            }}})
        );
    }

    #[test]
    fn update_forward_and_not_needed() {
        let c = ctx();
        let v = policy(json!({"podSelector": {"matchLabels": {"app": "db"}}}));
        let h = to_host(&c, &v);
        assert!(update(&c, &v, &h).is_none(), "same spec and metadata: no update");
        // The API server drops empty lists: still no update.
        let mut stored = h.clone();
        stored.spec.as_mut().unwrap().policy_types = Some(vec![]);
        assert!(update(&c, &v, &stored).is_none());
        let changed = policy(json!({"podSelector": {"matchLabels": {"app": "api"}}, "policyTypes": ["Egress"]}));
        let out = update(&c, &changed, &h).unwrap();
        let spec = out.spec.unwrap();
        assert_eq!(spec.pod_selector.unwrap().match_labels.unwrap()[APP], "api");
        assert_eq!(spec.policy_types, Some(vec!["Egress".to_owned()]));
    }

    #[test]
    fn ingress_ip_block_verbatim() {
        let v = policy(json!({
            "podSelector": {},
            "ingress": [{
                "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                "ports": [{"port": 5432, "protocol": "TCP"}, {"port": "dns", "endPort": 2000}]
            }]
        }));
        let spec = host_spec(&v);
        assert_eq!(
            spec["ingress"],
            json!([{
                "from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                "ports": [{"port": 5432, "protocol": "TCP"}, {"port": "dns", "endPort": 2000}]
            }])
        );
    }

    #[test]
    fn ingress_with_pod_label_selector() {
        let v = policy(json!({
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "web"}}}], "ports": [{"port": 5432}]}]
        }));
        assert_eq!(
            host_spec(&v)["ingress"],
            json!([{
                "from": [{"podSelector": {"matchLabels": {
                    ROLE: "web", "vcluster.loft.sh/managed-by": "vcluster", "vcluster.loft.sh/namespace": "default"
                }}}],
                "ports": [{"port": 5432}]
            }])
        );
    }

    #[test]
    fn ingress_with_pod_selector_and_empty_namespace_selector() {
        let v = policy(json!({
            "podSelector": {},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "web"}}, "namespaceSelector": {}}]}]
        }));
        assert_eq!(
            host_spec(&v)["ingress"][0]["from"],
            json!([{"podSelector": {"matchLabels": {ROLE: "web", "vcluster.loft.sh/managed-by": "vcluster"}}}])
        );
    }

    #[test]
    fn ingress_with_pod_and_namespace_selector() {
        let v = policy(json!({
            "podSelector": {},
            "ingress": [{"from": [{
                "podSelector": {"matchLabels": {"role": "web"}},
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}}
            }]}]
        }));
        assert_eq!(
            host_spec(&v)["ingress"][0]["from"],
            json!([{"podSelector": {"matchLabels": {
                ROLE: "web", NS_NAME: "shop", "vcluster.loft.sh/managed-by": "vcluster"
            }}}])
        );
    }

    #[test]
    fn ingress_with_match_expressions() {
        let v = policy(json!({
            "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]},
            "ingress": [{"from": [{
                "podSelector": {"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["batch"]}]},
                "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "Exists"}]}
            }]}]
        }));
        let spec = host_spec(&v);
        assert_eq!(
            spec["podSelector"],
            json!({
                "matchExpressions": [{"key": "vcluster.loft.sh/label-vcluster-x-e29ccc00b2", "operator": "In", "values": ["db"]}],
                "matchLabels": {"vcluster.loft.sh/managed-by": "vcluster", "vcluster.loft.sh/namespace": "default"}
            })
        );
        assert_eq!(
            spec["ingress"][0]["from"][0]["podSelector"],
            json!({
                "matchExpressions": [
                    {"key": ROLE, "operator": "NotIn", "values": ["batch"]},
                    {"key": NS_NAME, "operator": "Exists"}
                ],
                "matchLabels": {"vcluster.loft.sh/managed-by": "vcluster"}
            })
        );
    }

    #[test]
    fn egress_with_pod_label_selector_and_dns_port() {
        let v = policy(json!({
            "podSelector": {"matchLabels": {"app": "web"}},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]},
                {"ports": [{"port": 1053, "protocol": "UDP"}]}
            ]
        }));
        let spec = host_spec(&v);
        assert_eq!(
            spec["egress"],
            json!([
                {"to": [{"podSelector": {"matchLabels": {
                    APP: "db", "vcluster.loft.sh/managed-by": "vcluster", "vcluster.loft.sh/namespace": "default"
                }}}], "ports": [{"port": 5432}]},
                {"ports": [{"port": 1053, "protocol": "UDP"}]}
            ])
        );
        assert_eq!(spec["policyTypes"], json!(["Egress"]));
    }

    /// The docs' example policy (vcluster docs v0.15, "Network & DNS"): only `app=web` may reach
    /// `app=db`, on 5432. On the host both ends are
    /// this vcluster's pods of the policy's namespace, by their hashed labels.
    #[test]
    fn only_web_to_db_on_5432() {
        let v = policy(json!({
            "podSelector": {"matchLabels": {"app": "db"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 5432, "protocol": "TCP"}]}]
        }));
        let pinned = |app: &str| json!({"matchLabels": {APP: app, "vcluster.loft.sh/managed-by": "vcluster", "vcluster.loft.sh/namespace": "default"}});
        assert_eq!(
            host_spec(&v),
            json!({
                "podSelector": pinned("db"),
                "ingress": [{"from": [{"podSelector": pinned("web")}], "ports": [{"port": 5432, "protocol": "TCP"}]}],
                "policyTypes": ["Ingress"]
            })
        );
    }

    #[test]
    fn selector_conversions_round_trip() {
        let s: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"a": "b"},
            "matchExpressions": [{"key": "c", "operator": "In", "values": ["d"]}]
        }))
        .unwrap();
        assert_eq!(to_k8s(from_k8s(&s)), s);
    }
}
