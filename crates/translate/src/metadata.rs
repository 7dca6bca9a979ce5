//! Labels and annotations of synced host objects (pure): the marker labels, the hashed label
//! keys, the `--sync-labels` pass-through, the `object-name`/`object-namespace`/`object-uid`
//! annotations and the `managed-annotations` bookkeeping that lets annotations added on the host
//! survive updates. Reproduces loft-sh/vcluster v0.15.7 `pkg/util/translate/single_namespace.go`
//! (`ApplyAnnotations`, `ApplyLabels`, `TranslateLabels`) and `pkg/util/translate/translate.go`
//! (`applyAnnotations`, `applyMaps`).

use std::collections::{BTreeMap, BTreeSet};

use crate::{MANAGED_BY_LABEL, NAMESPACE_LABEL, Translator};

pub type Map = BTreeMap<String, String>;

/// Annotation on host objects: the virtual object's uid (recreate detection). (`UIDAnnotation`)
pub const OBJECT_UID_ANNOTATION: &str = "vcluster.loft.sh/object-uid";
/// Annotation listing (newline-joined, sorted) the annotation keys copied from the virtual object.
/// (`ManagedAnnotationsAnnotation`)
pub const MANAGED_ANNOTATIONS_ANNOTATION: &str = "vcluster.loft.sh/managed-annotations";
/// The same for labels (`ManagedLabelsAnnotation`; used by cluster-scoped translators only).
pub const MANAGED_LABELS_ANNOTATION: &str = "vcluster.loft.sh/managed-labels";
/// Label of objects owned by another controller (servicesync): never synced. (`ControllerLabel`)
pub const CONTROLLED_BY_LABEL: &str = "vcluster.loft.sh/controlled-by";
/// Annotation that forces a ConfigMap or Secret to be synced although no pod uses it.
/// (v0.15.7 `pkg/constants/indices.go` `SyncResourceAnnotation`)
pub const FORCE_SYNC_ANNOTATION: &str = "vcluster.loft.sh/force-sync";

/// Merge `from` (virtual) into `to` (host): every key of `from` not excluded is copied and
/// becomes "managed"; excluded keys keep the host's value when it is not empty; host keys that
/// are neither managed now nor listed in `previously_managed` are kept (added on the host).
/// Returns the merged map and the managed keys, sorted and newline-joined. (`applyMaps`)
pub fn apply_maps(from: &Map, to: &Map, previously_managed: &BTreeSet<&str>, exclude: &[&str]) -> (Map, String) {
    let mut merged = Map::new();
    let mut managed = Vec::new();
    for (k, v) in from {
        if exclude.contains(&k.as_str()) {
            continue;
        }
        merged.insert(k.clone(), v.clone());
        managed.push(k.as_str());
    }
    for (k, v) in to {
        if exclude.contains(&k.as_str()) {
            if !v.is_empty() {
                merged.insert(k.clone(), v.clone());
            }
            continue;
        }
        if from.contains_key(k) || previously_managed.contains(k.as_str()) {
            continue;
        }
        merged.insert(k.clone(), v.clone());
    }
    managed.sort_unstable();
    (merged, managed.join("\n"))
}

/// Host annotations of a namespaced object: the virtual annotations (minus `excluded` and the
/// bookkeeping keys) merged over the host's (`host`: `None` on create), plus
/// `managed-annotations`, `object-name`, `object-uid` and `object-namespace`.
/// (`singleNamespace.ApplyAnnotations` + `applyAnnotations`)
pub fn host_annotations(
    virtual_annotations: Option<&Map>,
    host: Option<&Map>,
    excluded: &[&str],
    name: &str,
    namespace: &str,
    uid: &str,
) -> Map {
    let empty = Map::new();
    let to = host.unwrap_or(&empty);
    let mut exclude: Vec<&str> = vec![MANAGED_ANNOTATIONS_ANNOTATION, MANAGED_LABELS_ANNOTATION];
    exclude.extend_from_slice(excluded);
    exclude.extend_from_slice(&[
        crate::OBJECT_NAME_ANNOTATION,
        OBJECT_UID_ANNOTATION,
        crate::OBJECT_NAMESPACE_ANNOTATION,
    ]);
    let previously: BTreeSet<&str> =
        to.get(MANAGED_ANNOTATIONS_ANNOTATION).map(|s| s.split('\n').collect()).unwrap_or_default();
    let (mut merged, managed) = apply_maps(virtual_annotations.unwrap_or(&empty), to, &previously, &exclude);
    if managed.is_empty() {
        merged.remove(MANAGED_ANNOTATIONS_ANNOTATION);
    } else {
        merged.insert(MANAGED_ANNOTATIONS_ANNOTATION.into(), managed);
    }
    merged.insert(crate::OBJECT_NAME_ANNOTATION.into(), name.into());
    merged.insert(OBJECT_UID_ANNOTATION.into(), uid.into());
    if namespace.is_empty() {
        merged.remove(crate::OBJECT_NAMESPACE_ANNOTATION);
    } else {
        merged.insert(crate::OBJECT_NAMESPACE_ANNOTATION.into(), namespace.into());
    }
    merged
}

/// Whether `key` is passed through verbatim by `--sync-labels` (`prefix/*` matches every key
/// under `prefix/`). (`TranslateLabels`: the `/*` suffix becomes the regexp `/.*`, unanchored)
fn passes_through(sync_labels: &[String], key: &str) -> bool {
    sync_labels.iter().any(|pattern| match pattern.strip_suffix("/*") {
        Some(prefix) => key.contains(&format!("{prefix}/")),
        None => pattern == key,
    })
}

impl Translator {
    /// Host labels of a namespaced object (always at least the two marker labels): keys hashed,
    /// `--sync-labels` copied verbatim in addition, `managed-by`, `namespace`, and the host's
    /// `controlled-by` kept. (`singleNamespace.ApplyLabels`/`TranslateLabels`)
    pub fn host_object_labels(
        &self,
        virtual_labels: Option<&Map>,
        virtual_namespace: &str,
        sync_labels: &[String],
        host: Option<&Map>,
    ) -> Map {
        let empty = Map::new();
        let from = virtual_labels.unwrap_or(&empty);
        let mut labels: Map = from.iter().map(|(k, v)| (self.label_key(k), v.clone())).collect();
        for (k, v) in from {
            if passes_through(sync_labels, k) {
                labels.insert(k.clone(), v.clone());
            }
        }
        labels.insert(MANAGED_BY_LABEL.into(), self.vcluster.clone());
        if virtual_namespace.is_empty() {
            labels.remove(NAMESPACE_LABEL);
        } else {
            labels.insert(NAMESPACE_LABEL.into(), virtual_namespace.into());
        }
        if let Some(controlled) = host.and_then(|h| h.get(CONTROLLED_BY_LABEL)).filter(|v| !v.is_empty()) {
            labels.insert(CONTROLLED_BY_LABEL.into(), controlled.clone());
        }
        labels
    }

    /// Whether a host object is one this vcluster synced: it carries `managed-by=<vcluster>`,
    /// and its name is the translation of its `object-name`/`object-namespace` annotations.
    /// (`singleNamespace.IsManaged`; the namespace check is the caller's, which only lists the
    /// target namespace.)
    pub fn is_managed(&self, host_name: &str, labels: Option<&Map>, annotations: Option<&Map>) -> bool {
        let Some(labels) = labels else { return false };
        let Some(annotations) = annotations else { return false };
        let Some(name) = annotations.get(crate::OBJECT_NAME_ANNOTATION).filter(|n| !n.is_empty()) else {
            return false;
        };
        let namespace = annotations.get(crate::OBJECT_NAMESPACE_ANNOTATION).map(String::as_str).unwrap_or("");
        host_name == self.host_name(namespace, name) && labels.get(MANAGED_BY_LABEL) == Some(&self.vcluster)
    }
}

/// `metadata.labels` of a pod as the annotation `vcluster.loft.sh/labels` holds it: one
/// `key=<JSON string>` per label, sorted as whole lines, joined by newlines.
/// (pods `translate/translator.go` `LabelsAnnotation`; the JSON is Go's `json.Marshal`.)
pub fn labels_annotation(labels: Option<&Map>) -> String {
    let mut lines: Vec<String> =
        labels.into_iter().flatten().map(|(k, v)| format!("{k}={}", go_json_string(v))).collect();
    lines.sort();
    lines.join("\n")
}

/// A string as Go's `encoding/json` marshals it: `"`, `\` and control characters escaped
/// (`\n`, `\r`, `\t`, others `\u00XX`), and — HTML-safe by default — `<`, `>`, `&`, U+2028 and
/// U+2029 as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.
pub fn go_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Map {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn create_copies_virtual_annotations_and_stamps_the_object() {
        let v = map(&[("b", "2"), ("a", "1")]);
        let got = host_annotations(Some(&v), None, &[], "web", "shop", "u-1");
        assert_eq!(
            got,
            map(&[
                ("a", "1"),
                ("b", "2"),
                ("vcluster.loft.sh/managed-annotations", "a\nb"),
                ("vcluster.loft.sh/object-name", "web"),
                ("vcluster.loft.sh/object-namespace", "shop"),
                ("vcluster.loft.sh/object-uid", "u-1"),
            ])
        );
        // No virtual annotations: no bookkeeping key.
        let got = host_annotations(None, None, &[], "web", "shop", "u-1");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn host_added_annotations_survive_and_removed_virtual_ones_go() {
        let host = map(&[
            ("a", "1"),
            ("gone", "x"),
            ("host-only", "h"),
            ("vcluster.loft.sh/managed-annotations", "a\ngone"),
            ("vcluster.loft.sh/object-name", "web"),
        ]);
        let v = map(&[("a", "2")]);
        let got = host_annotations(Some(&v), Some(&host), &[], "web", "shop", "u-1");
        assert_eq!(got.get("a").map(String::as_str), Some("2"));
        assert_eq!(got.get("gone"), None);
        assert_eq!(got.get("host-only").map(String::as_str), Some("h"));
        assert_eq!(got["vcluster.loft.sh/managed-annotations"], "a");
    }

    #[test]
    fn excluded_keys_keep_the_host_value() {
        let host = map(&[("vcluster.loft.sh/token-abcdefgh", "tok")]);
        let v = map(&[("vcluster.loft.sh/token-abcdefgh", "virtual")]);
        let got = host_annotations(Some(&v), Some(&host), &["vcluster.loft.sh/token-abcdefgh"], "p", "d", "u");
        assert_eq!(got["vcluster.loft.sh/token-abcdefgh"], "tok");
        assert!(!got.contains_key(MANAGED_ANNOTATIONS_ANNOTATION));
    }

    #[test]
    fn labels_are_hashed_marked_and_passed_through() {
        let t = Translator::new("my-vc", "vcluster-my-vc");
        let v = map(&[("app", "web"), ("team.io/owner", "x")]);
        let host = map(&[(CONTROLLED_BY_LABEL, "vcluster")]);
        let got = t.host_object_labels(Some(&v), "default", &["team.io/*".into()], Some(&host));
        assert_eq!(
            got,
            map(&[
                ("team.io/owner", "x"),
                // printf %s app | sha256sum → a172cedcae…; team.io/owner → b4c452bc83…
                ("vcluster.loft.sh/label-my-vc-x-a172cedcae", "web"),
                ("vcluster.loft.sh/label-my-vc-x-b4c452bc83", "x"),
                ("vcluster.loft.sh/managed-by", "my-vc"),
                ("vcluster.loft.sh/namespace", "default"),
                (CONTROLLED_BY_LABEL, "vcluster"),
            ])
        );
        // No labels at all still gets the markers (ApplyLabels starts from an empty map).
        assert_eq!(t.host_object_labels(None, "default", &[], None).len(), 2);
    }

    #[test]
    fn managed_objects() {
        let t = Translator::new("my-vc", "vcluster-my-vc");
        let labels = map(&[(MANAGED_BY_LABEL, "my-vc")]);
        let ann = map(&[("vcluster.loft.sh/object-name", "web"), ("vcluster.loft.sh/object-namespace", "default")]);
        assert!(t.is_managed("web-x-default-x-my-vc", Some(&labels), Some(&ann)));
        assert!(!t.is_managed("web-x-default-x-other", Some(&labels), Some(&ann)));
        assert!(!t.is_managed("web-x-default-x-my-vc", Some(&map(&[(MANAGED_BY_LABEL, "x")])), Some(&ann)));
        assert!(!t.is_managed("web-x-default-x-my-vc", Some(&labels), None));
    }

    #[test]
    fn labels_annotation_is_gos_json() {
        let labels = map(&[("app", "web"), ("a-b", "x<y>&\"z\""), ("a", "1")]);
        // Whole lines sorted: "a-b=" < "a=" because '-' < '='.
        assert_eq!(labels_annotation(Some(&labels)), "a-b=\"x\\u003cy\\u003e\\u0026\\\"z\\\"\"\na=\"1\"\napp=\"web\"");
        assert_eq!(labels_annotation(None), "");
        assert_eq!(go_json_string("tab\there\u{1}"), "\"tab\\there\\u0001\"");
    }
}
