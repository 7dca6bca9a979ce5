//! Virtual ↔ host name translation, shared by the CLI (`port-forward svc/NAME -n NS`) and the
//! syncer (`crates/syncer`). Pure: no I/O, no client.
//!
//! Reproduces the established vcluster's single-namespace mode of the v0.12–v0.19 era bit for bit,
//! so host objects synced by an existing vcluster are found under the names it gave them:
//! - namespaced virtual object `N` in virtual namespace `NS` → `<N>-x-<NS>-x-<vcluster>`,
//! - cluster-scoped virtual object `N` → `vcluster-<N>-x-<hostNamespace>-x-<vcluster>`,
//! - every label key → `vcluster.loft.sh/label-<vcluster>-x-<10 hex of sha256(key)>`,
//!
//! each passed through [`safe_concat_name`] so it fits in 63 characters.
//! (loft-sh/vcluster v0.19: `pkg/util/translate/translate.go`, `single_namespace.go`,
//! `multi_namespace.go` for the cluster-scoped label keys.)

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub mod cidr;
pub mod metadata;
pub mod selectors;

/// Label on every synced namespaced host object naming the vcluster that owns it.
/// (loft-sh/vcluster v0.15.7: `pkg/util/translate/types.go` `MarkerLabel`)
pub const MANAGED_BY_LABEL: &str = "vcluster.loft.sh/managed-by";
/// Label on namespaced synced host objects naming their virtual namespace. (`NamespaceLabel`)
pub const NAMESPACE_LABEL: &str = "vcluster.loft.sh/namespace";
/// Prefix of translated label keys. (`LabelPrefix`)
pub const LABEL_PREFIX: &str = "vcluster.loft.sh/label";
/// Prefix of the labels that project a pod's virtual-namespace labels onto the host pod.
/// (`NamespaceLabelPrefix`)
pub const NAMESPACE_LABEL_PREFIX: &str = "vcluster.loft.sh/ns-label";
/// Annotation on host objects holding the virtual name. (`NameAnnotation`)
pub const OBJECT_NAME_ANNOTATION: &str = "vcluster.loft.sh/object-name";
/// Annotation on namespaced host objects holding the virtual namespace. (`NamespaceAnnotation`)
pub const OBJECT_NAMESPACE_ANNOTATION: &str = "vcluster.loft.sh/object-namespace";

/// Longest Kubernetes name segment (a DNS-1123 label, and a label key's name part).
pub const MAX_NAME_LENGTH: usize = 63;

/// Join `parts` with `-`; past 63 characters keep the first 52, append `-` and the first 10 hex
/// digits of the sha256 of the whole joined string, then replace every `.-` by `-` (so the result is
/// 62 characters when the 52nd was a dot). (loft-sh/vcluster: `pkg/util/translate/translate.go`
/// `SafeConcatName`.)
///
/// Upstream cuts bytes, not characters; so does this function (non-ASCII input, which no valid
/// Kubernetes name contains, is cut at a byte and repaired lossily instead of panicking).
pub fn safe_concat_name(parts: &[&str]) -> String {
    let full = parts.join("-");
    if full.len() <= MAX_NAME_LENGTH {
        return full;
    }
    let head = String::from_utf8_lossy(&full.as_bytes()[..52]);
    format!("{head}-{}", hex10(&full)).replace(".-", "-")
}

/// The first 10 hex digits of the sha256 of `s`.
pub fn hex10(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest.iter().take(5).map(|b| format!("{b:02x}")).collect()
}

/// Translation for one virtual cluster: its name and the host namespace it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translator {
    /// The vcluster's name (the syncer's `--name`, the Helm release name).
    pub vcluster: String,
    /// The host namespace the vcluster syncs into (the syncer's `--target-namespace`).
    pub host_namespace: String,
}

impl Translator {
    pub fn new(vcluster: impl Into<String>, host_namespace: impl Into<String>) -> Self {
        Translator { vcluster: vcluster.into(), host_namespace: host_namespace.into() }
    }

    /// Host name of the namespaced virtual object `name` in `virtual_namespace`:
    /// `<name>-x-<virtual_namespace>-x-<vcluster>` (hashed past 63 characters).
    pub fn host_name(&self, virtual_namespace: &str, name: &str) -> String {
        safe_concat_name(&[name, "x", virtual_namespace, "x", &self.vcluster])
    }

    /// Host label key for the label `key` of a namespaced virtual object:
    /// `vcluster.loft.sh/label-<vcluster>-x-<10 hex>`. (`ConvertLabelKeyWithPrefix`)
    pub fn label_key(&self, key: &str) -> String {
        safe_concat_name(&[LABEL_PREFIX, &self.vcluster, "x", &hex10(key)])
    }

    /// Host label key projecting the virtual-namespace label `key` onto host pods:
    /// `vcluster.loft.sh/ns-label-<vcluster>-x-<10 hex>`. (`HostLabelNamespace`)
    pub fn namespace_label_key(&self, key: &str) -> String {
        safe_concat_name(&[NAMESPACE_LABEL_PREFIX, &self.vcluster, "x", &hex10(key)])
    }

    /// Host labels of a namespaced virtual object: every key translated by [`Self::label_key`]
    /// (values kept), plus [`MANAGED_BY_LABEL`]` = <vcluster>` and [`NAMESPACE_LABEL`]` =
    /// <virtual_namespace>`. No labels at all stays no labels. (`singleNamespace.TranslateLabels`;
    /// the syncer's `--sync-labels` pass-through is not implemented here.)
    pub fn host_labels(
        &self,
        labels: Option<&BTreeMap<String, String>>,
        virtual_namespace: &str,
    ) -> Option<BTreeMap<String, String>> {
        let labels = labels?;
        let mut host: BTreeMap<String, String> = labels.iter().map(|(k, v)| (self.label_key(k), v.clone())).collect();
        host.insert(MANAGED_BY_LABEL.to_owned(), self.vcluster.clone());
        host.insert(NAMESPACE_LABEL.to_owned(), virtual_namespace.to_owned());
        Some(host)
    }

    /// Host selector of a virtual Service's `spec.selector`: the same translation as
    /// [`Self::host_labels`], so a host service only ever selects pods of this vcluster and this
    /// virtual namespace. A selectorless service (`None`) stays selectorless.
    pub fn host_service_selector(
        &self,
        selector: Option<&BTreeMap<String, String>>,
        virtual_namespace: &str,
    ) -> Option<BTreeMap<String, String>> {
        self.host_labels(selector, virtual_namespace)
    }
}

#[cfg(test)]
mod tests {
    //! Expected names are literals computed outside this code (`printf %s … | sha256sum`, or taken
    //! from names an established vcluster syncer wrote), never produced by the functions under test.
    use super::*;
    use proptest::prelude::*;

    fn my_vc() -> Translator {
        Translator::new("my-vc", "vcluster-my-vc")
    }

    #[test]
    fn short_names_are_joined() {
        assert_eq!(my_vc().host_name("default", "nginx"), "nginx-x-default-x-my-vc");
        assert_eq!(my_vc().host_name("kube-system", "kube-dns"), "kube-dns-x-kube-system-x-my-vc");
        assert_eq!(my_vc().host_name("default", "kube-root-ca.crt"), "kube-root-ca.crt-x-default-x-my-vc");
    }

    #[test]
    fn long_names_are_hashed_as_the_reference_shows() {
        // SafeConcatName (loft-sh/vcluster v0.15.7 pkg/util/translate/util.go); sha256 prefix 18a6a108aa checked with sha256sum.
        let name = my_vc().host_name("my-namespace", "a-very-long-service-name-for-testing-purposes");
        assert_eq!(name, "a-very-long-service-name-for-testing-purposes-x-my-n-18a6a108aa");
        assert_eq!(name.len(), 63);
    }

    #[test]
    fn exactly_63_is_kept_and_64_is_hashed() {
        let a63 = "a".repeat(63);
        assert_eq!(safe_concat_name(&[&a63]), a63);
        // printf %s "$(printf 'a%.0s' $(seq 63))b" | sha256sum → 97aa7c540d…
        assert_eq!(safe_concat_name(&[&format!("{a63}b")]), format!("{}-97aa7c540d", "a".repeat(52)));
    }

    #[test]
    fn a_dot_before_the_hash_collapses() {
        // 52nd character is '.', so `.-` becomes `-` and the result has 62 characters.
        let name = my_vc().host_name("default", "settings.for.the.frontend.service.of.the.shop.app.v.json");
        assert_eq!(name, "settings.for.the.frontend.service.of.the.shop.app.v-1cfac7c9bd");
        assert_eq!(name.len(), 62);
        let name = my_vc().host_name("default", "settings.for.the.frontend.service.of.the.shop.app.v2.json");
        assert_eq!(name, "settings.for.the.frontend.service.of.the.shop.app.v2-012b23ce61");
    }

    #[test]
    fn label_keys_match_the_reference() {
        let t = my_vc();
        assert_eq!(t.label_key("app"), "vcluster.loft.sh/label-my-vc-x-a172cedcae");
        assert_eq!(
            t.namespace_label_key("kubernetes.io/metadata.name"),
            "vcluster.loft.sh/ns-label-my-vc-x-cf1227b7b2"
        );
        // A long vcluster name pushes the key past 63 characters: hashed like any name.
        let long = Translator::new("a-rather-long-virtual-cluster-name-for-tests", "ns");
        assert_eq!(long.label_key("app"), "vcluster.loft.sh/label-a-rather-long-virtual-cluster-56d923cef1");
    }

    #[test]
    fn service_selector_is_pinned_to_vcluster_and_namespace() {
        let selector = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
        let host = my_vc().host_service_selector(Some(&selector), "shop").unwrap();
        let expected = BTreeMap::from([
            ("vcluster.loft.sh/label-my-vc-x-a172cedcae".to_owned(), "web".to_owned()),
            ("vcluster.loft.sh/managed-by".to_owned(), "my-vc".to_owned()),
            ("vcluster.loft.sh/namespace".to_owned(), "shop".to_owned()),
        ]);
        assert_eq!(host, expected);
        assert_eq!(my_vc().host_service_selector(None, "shop"), None);
    }

    #[test]
    fn a_virtual_marker_label_cannot_escape_translation() {
        // A virtual object claiming to be managed by another vcluster gets the key hashed,
        // and the real marker is set by the translator.
        let labels = BTreeMap::from([(MANAGED_BY_LABEL.to_owned(), "other".to_owned())]);
        let host = my_vc().host_labels(Some(&labels), "default").unwrap();
        assert_eq!(host[MANAGED_BY_LABEL], "my-vc");
        assert_eq!(host.len(), 3);
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        let name = safe_concat_name(&[&"é".repeat(40)]);
        assert!(name.len() <= 66, "{name}");
    }

    fn dns_label() -> impl Strategy<Value = String> {
        "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
    }

    fn is_dns1123_label(s: &str) -> bool {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    }

    proptest! {
        #[test]
        fn host_names_are_short_deterministic_dns_labels(
            name in dns_label(), namespace in dns_label(), vcluster in dns_label(),
        ) {
            let t = Translator::new(vcluster.clone(), "host-ns");
            let host = t.host_name(&namespace, &name);
            prop_assert!(host.len() <= MAX_NAME_LENGTH);
            prop_assert!(is_dns1123_label(&host), "{}", host);
            prop_assert_eq!(&host, &Translator::new(vcluster, "host-ns").host_name(&namespace, &name));
            let joined = format!("{name}-x-{namespace}-x-{}", t.vcluster);
            if joined.len() <= MAX_NAME_LENGTH {
                prop_assert_eq!(host, joined);
            } else {
                prop_assert_eq!(&host[..52], &joined[..52]);
            }
        }

        #[test]
        fn any_parts_fit(parts in proptest::collection::vec(".{0,40}", 0..5)) {
            let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
            let out = safe_concat_name(&refs);
            // 52 bytes cut lossily can grow by a replacement character (3 bytes) at most.
            prop_assert!(out.len() <= MAX_NAME_LENGTH + 2);
        }
    }
}
