//! Label selectors rewritten for the host (pure): hashed keys, the namespace-label projection
//! (`ns-label` keys), and the restrictions NetworkPolicies add so that a host policy can only
//! ever select pods of this vcluster. Reproduces loft-sh/vcluster v0.15.7
//! `pkg/util/translate/translate.go` (`TranslateLabelSelectorWithPrefix`, `MergeLabelSelectors`)
//! and `pkg/controllers/resources/networkpolicies/translate.go` (`translateSpec`,
//! `translateNetworkPolicyPeers`).
//!
//! The types mirror `metav1.LabelSelector` without depending on a Kubernetes client crate; `None`
//! and `Some(empty)` are kept apart as Go keeps `nil` and empty apart.

use std::collections::BTreeMap;

use crate::{MANAGED_BY_LABEL, NAMESPACE_LABEL, Translator};

/// One `matchExpressions` entry (`metav1.LabelSelectorRequirement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist` (kept as given).
    pub operator: String,
    pub values: Option<Vec<String>>,
}

/// A label selector (`metav1.LabelSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub match_labels: Option<BTreeMap<String, String>>,
    pub match_expressions: Option<Vec<Requirement>>,
}

impl Selector {
    /// Whether the selector has neither labels nor expressions (`{}` selects everything).
    pub fn is_empty(&self) -> bool {
        self.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
            && self.match_expressions.as_ref().is_none_or(Vec::is_empty)
    }
}

/// The union of the selectors' requirements, in order; a later label wins (`MergeLabelSelectors`:
/// the maps and the list are created only when something goes into them).
pub fn merge(selectors: &[Option<&Selector>]) -> Selector {
    let mut out = Selector::default();
    for s in selectors.iter().flatten() {
        for (k, v) in s.match_labels.iter().flatten() {
            out.match_labels.get_or_insert_with(BTreeMap::new).insert(k.clone(), v.clone());
        }
        for r in s.match_expressions.iter().flatten() {
            out.match_expressions.get_or_insert_with(Vec::new).push(r.clone());
        }
    }
    out
}

impl Translator {
    fn rekey(&self, s: &Selector, key: impl Fn(&str) -> String) -> Selector {
        Selector {
            match_labels: s.match_labels.as_ref().map(|m| m.iter().map(|(k, v)| (key(k), v.clone())).collect()),
            match_expressions: s.match_expressions.as_ref().filter(|e| !e.is_empty()).map(|e| {
                e.iter()
                    .map(|r| Requirement { key: key(&r.key), operator: r.operator.clone(), values: r.values.clone() })
                    .collect()
            }),
        }
    }

    /// Every key of `s` hashed as a label key of a namespaced object (`TranslateLabelSelector`).
    pub fn label_selector(&self, s: &Selector) -> Selector {
        self.rekey(s, |k| self.label_key(k))
    }

    /// A selector over virtual **namespace** labels rewritten to select host pods by the
    /// namespace labels projected onto them (`TranslateLabelSelectorWithPrefix(NamespaceLabelPrefix, …)`).
    pub fn namespace_label_selector(&self, s: &Selector) -> Selector {
        self.rekey(s, |k| self.namespace_label_key(k))
    }

    /// A NetworkPolicy's `podSelector` on the host: hashed, plus `vcluster.loft.sh/namespace =
    /// <policy namespace>` and `managed-by = <vcluster>` (an empty virtual selector selects
    /// exactly this vcluster's pods of the policy's virtual namespace).
    pub fn network_policy_pod_selector(&self, s: &Selector, policy_namespace: &str) -> Selector {
        let mut out = self.label_selector(s);
        let labels = out.match_labels.get_or_insert_with(BTreeMap::new);
        labels.insert(NAMESPACE_LABEL.to_owned(), policy_namespace.to_owned());
        labels.insert(MANAGED_BY_LABEL.to_owned(), self.vcluster.clone());
        out
    }

    /// A NetworkPolicy peer without `ipBlock` on the host: one pod selector (the host policy's
    /// `namespaceSelector` is always unset: every pod of the vcluster lives in the host
    /// namespace) made of the hashed pod selector, the namespace selector over the projected
    /// namespace labels, `managed-by`, and — only when the peer has no namespace selector — the
    /// policy's own namespace. `Some({})` as namespace selector thus means "any namespace of this
    /// vcluster"; pods outside the vcluster never match.
    pub fn network_policy_peer_selector(
        &self,
        pod_selector: Option<&Selector>,
        namespace_selector: Option<&Selector>,
        policy_namespace: &str,
    ) -> Selector {
        let pods = pod_selector.map(|s| self.label_selector(s));
        let namespaces = namespace_selector.map(|s| self.namespace_label_selector(s));
        let mut out = merge(&[pods.as_ref(), namespaces.as_ref()]);
        let labels = out.match_labels.get_or_insert_with(BTreeMap::new);
        if namespace_selector.is_none() {
            labels.insert(NAMESPACE_LABEL.to_owned(), policy_namespace.to_owned());
        }
        labels.insert(MANAGED_BY_LABEL.to_owned(), self.vcluster.clone());
        out
    }
}

#[cfg(test)]
mod tests {
    //! Hashes computed outside this code: `printf %s KEY | sha256sum | cut -c1-10`
    //! (app a172cedcae, role 4b168d88dc, team ca8b22d0db, tier e29ccc00b2,
    //! kubernetes.io/metadata.name cf1227b7b2).
    use super::*;

    fn vc() -> Translator {
        Translator::new("vcluster", "test")
    }

    fn labels(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn req(key: &str, operator: &str, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator: operator.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn keys_are_hashed_and_operators_kept() {
        let s = Selector {
            match_labels: labels(&[("app", "db")]),
            match_expressions: Some(vec![req("tier", "In", &["backend", "cache"]), req("role", "Exists", &[])]),
        };
        let out = vc().label_selector(&s);
        assert_eq!(out.match_labels, labels(&[("vcluster.loft.sh/label-vcluster-x-a172cedcae", "db")]));
        assert_eq!(
            out.match_expressions,
            Some(vec![
                req("vcluster.loft.sh/label-vcluster-x-e29ccc00b2", "In", &["backend", "cache"]),
                req("vcluster.loft.sh/label-vcluster-x-4b168d88dc", "Exists", &[]),
            ])
        );
        // nil stays nil, empty labels stay empty, an empty expression list becomes nil.
        let empty = Selector { match_labels: Some(BTreeMap::new()), match_expressions: Some(vec![]) };
        assert_eq!(
            vc().label_selector(&empty),
            Selector { match_labels: Some(BTreeMap::new()), match_expressions: None }
        );
        assert_eq!(vc().label_selector(&Selector::default()), Selector::default());
    }

    #[test]
    fn namespace_selectors_use_the_projected_keys() {
        let s = Selector {
            match_labels: labels(&[("kubernetes.io/metadata.name", "shop")]),
            match_expressions: Some(vec![req("team", "NotIn", &["ops"])]),
        };
        let out = vc().namespace_label_selector(&s);
        assert_eq!(out.match_labels, labels(&[("vcluster.loft.sh/ns-label-vcluster-x-cf1227b7b2", "shop")]));
        assert_eq!(
            out.match_expressions,
            Some(vec![req("vcluster.loft.sh/ns-label-vcluster-x-ca8b22d0db", "NotIn", &["ops"])])
        );
    }

    #[test]
    fn policy_pod_selector_is_pinned() {
        let out = vc().network_policy_pod_selector(&Selector::default(), "default");
        assert_eq!(
            out.match_labels,
            labels(&[("vcluster.loft.sh/managed-by", "vcluster"), ("vcluster.loft.sh/namespace", "default")])
        );
        let out = vc().network_policy_pod_selector(
            &Selector { match_labels: labels(&[("app", "db")]), ..Default::default() },
            "shop",
        );
        assert_eq!(
            out.match_labels,
            labels(&[
                ("vcluster.loft.sh/label-vcluster-x-a172cedcae", "db"),
                ("vcluster.loft.sh/managed-by", "vcluster"),
                ("vcluster.loft.sh/namespace", "shop"),
            ])
        );
    }

    #[test]
    fn peers() {
        let t = vc();
        let web = Selector { match_labels: labels(&[("app", "web")]), ..Default::default() };
        // Pod selector only: same namespace as the policy.
        let out = t.network_policy_peer_selector(Some(&web), None, "shop");
        assert_eq!(
            out.match_labels,
            labels(&[
                ("vcluster.loft.sh/label-vcluster-x-a172cedcae", "web"),
                ("vcluster.loft.sh/managed-by", "vcluster"),
                ("vcluster.loft.sh/namespace", "shop"),
            ])
        );
        // Empty namespace selector: any namespace of this vcluster.
        let out = t.network_policy_peer_selector(Some(&web), Some(&Selector::default()), "shop");
        assert_eq!(
            out.match_labels,
            labels(&[
                ("vcluster.loft.sh/label-vcluster-x-a172cedcae", "web"),
                ("vcluster.loft.sh/managed-by", "vcluster")
            ])
        );
        // Namespace selector with labels and expressions folded into the pod selector.
        let ns = Selector {
            match_labels: labels(&[("kubernetes.io/metadata.name", "db")]),
            match_expressions: Some(vec![req("team", "In", &["a"])]),
        };
        let pods = Selector { match_expressions: Some(vec![req("tier", "Exists", &[])]), ..Default::default() };
        let out = t.network_policy_peer_selector(Some(&pods), Some(&ns), "shop");
        assert_eq!(
            out.match_labels,
            labels(&[
                ("vcluster.loft.sh/managed-by", "vcluster"),
                ("vcluster.loft.sh/ns-label-vcluster-x-cf1227b7b2", "db"),
            ])
        );
        assert_eq!(
            out.match_expressions,
            Some(vec![
                req("vcluster.loft.sh/label-vcluster-x-e29ccc00b2", "Exists", &[]),
                req("vcluster.loft.sh/ns-label-vcluster-x-ca8b22d0db", "In", &["a"]),
            ])
        );
        // Neither: this vcluster's pods of the policy's namespace.
        let out = t.network_policy_peer_selector(None, None, "shop");
        assert_eq!(
            out,
            Selector {
                match_labels: labels(&[
                    ("vcluster.loft.sh/managed-by", "vcluster"),
                    ("vcluster.loft.sh/namespace", "shop")
                ]),
                match_expressions: None
            }
        );
    }

    #[test]
    fn merge_keeps_order_and_laziness() {
        assert_eq!(merge(&[None, Some(&Selector::default())]), Selector::default());
        let a =
            Selector { match_labels: labels(&[("x", "1")]), match_expressions: Some(vec![req("a", "Exists", &[])]) };
        let b = Selector {
            match_labels: labels(&[("x", "2"), ("y", "3")]),
            match_expressions: Some(vec![req("b", "Exists", &[])]),
        };
        let m = merge(&[Some(&a), Some(&b)]);
        assert_eq!(m.match_labels, labels(&[("x", "2"), ("y", "3")]));
        assert_eq!(m.match_expressions, Some(vec![req("a", "Exists", &[]), req("b", "Exists", &[])]));
        assert!(Selector { match_labels: Some(BTreeMap::new()), match_expressions: Some(vec![]) }.is_empty());
    }
}
