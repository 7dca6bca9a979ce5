//! The three classes of values keys.
//!
//! - supported: present in `templates/values.yaml` (the defaults define the key structure;
//!   maps listed in [`FREE_FORM`] hold user data such as labels, so their keys are not checked);
//! - known to the era chart but not supported here (every key of loft-sh/vcluster v0.15.7
//!   `charts/k3s/values.yaml` this chart does not render, read from its key list, plus a few keys
//!   of other era tags): accepted with one warning, because releases made by the established
//!   tool contain them;
//! - unknown to both: an error naming the dotted path and the closest known key.

use serde_json::{Map, Value};

/// Maps whose keys are data (label keys, resource names, Kubernetes object fields).
pub const FREE_FORM: &[&str] = &[
    "syncer.resources",
    "syncer.serviceAnnotations",
    "vcluster.resources",
    "ingress.annotations",
    "coredns.resources",
    "coredns.podAnnotations",
    "coredns.podLabels",
    "isolation.resourceQuota.quota",
    "isolation.limitRange.default",
    "isolation.limitRange.defaultRequest",
    "securityContext",
    "podSecurityContext",
    "labels",
    "annotations",
    "podLabels",
    "podAnnotations",
    "nodeSelector",
    "affinity",
    "globalAnnotations",
];

/// Every leaf key of the established chart at v0.15.7 with the type of its default (loft-sh/vcluster
/// v0.15.7 `charts/k3s/values.yaml`; provenance in the file's header). The era keys below are
/// derived from it: each of its keys this chart does not support is accepted with a warning.
pub const V0_15_7_KEYS_TSV: &str = include_str!("../../templates/era/v0.15.7-values-keys.tsv");

/// Keys of other era tags that v0.15.7 does not have (loft-sh/vcluster `charts/k3s/values.yaml` at
/// v0.12.0 and v0.19.7), accepted for releases the established CLI made with those charts. Each
/// covers everything below it.
pub(crate) const OTHER_ERA_KEYS: &[&str] = &[
    // whole maps whose children differ between tags (v0.19.7 adds some)
    "telemetry",
    "sync.nodes",
    "sync.generic",
    "sync.legacy-storageclasses",
    "sync.csinodes",
    "sync.csidrivers",
    "sync.csistoragecapacities",
    "syncer.storage",
    "syncer.imagePullPolicy",
    "syncer.priorityClassName",
    "syncer.labels",
    "syncer.annotations",
    "syncer.podLabels",
    "syncer.podAnnotations",
    "syncer.nodeSelector",
    "syncer.affinity",
    "syncer.tolerations",
    "syncer.securityContext",
    "syncer.podSecurityContext",
    "vcluster.extraVolumeMounts",
    "vcluster.imagePullPolicy",
    "vcluster.priorityClassName",
    "vcluster.securityContext",
    "service.httpsNodePort",
    "service.kubeletNodePort",
    "service.loadBalancerAnnotations",
    "coredns.integrated",
    "coredns.fallback",
    "coredns.plugin",
    "coredns.nodeSelector",
    "coredns.podSecurityContext",
    "coredns.securityContext",
    "rbac.clusterRole.extraRules",
    "rbac.role.extraRules",
    "rbac.role.excludedApiResources",
    "serviceAccount.name",
    "plugins",
    "monitoring",
    "hostpathMapper",
    "job",
    "k3sToken",
    "embeddedEtcd",
    "etcd",
    "controller",
    "api",
    "scheduler",
    "fsGroup",
    "podManagementPolicy",
    "serviceAccountName",
    "imagePullSecrets",
    "enableServiceLinks",
    "pro",
    "proLicenseSecret",
];

/// The keys of [`V0_15_7_KEYS_TSV`] (first column).
pub fn v0_15_7_keys() -> impl Iterator<Item = &'static str> {
    v0_15_7_keys_with_types().map(|(key, _)| key)
}

/// The keys of [`V0_15_7_KEYS_TSV`] with the type of their default (second column).
pub fn v0_15_7_keys_with_types() -> impl Iterator<Item = (&'static str, &'static str)> {
    V0_15_7_KEYS_TSV
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once('\t').unwrap_or((l, "")))
}

/// Whether the chart renders `path`: a key of the defaults (a map or a leaf), or anything inside
/// a free-form map of them.
fn supported(defaults: &Map<String, Value>, path: &str) -> bool {
    let mut node = defaults;
    let mut walked = String::new();
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        walked = join(&walked, part);
        if FREE_FORM.contains(&walked.as_str()) {
            return true;
        }
        match node.get(part) {
            Some(Value::Object(inner)) => node = inner,
            Some(_) => return parts.peek().is_none(),
            None => return false,
        }
    }
    true
}

/// The era keys: those of v0.15.7 this chart does not render (derived from the data file), and
/// [`OTHER_ERA_KEYS`]. Each covers everything below it.
pub fn era_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let defaults = super::sources::defaults();
        let mut keys: Vec<String> = v0_15_7_keys().filter(|k| !supported(defaults, k)).map(str::to_string).collect();
        keys.extend(OTHER_ERA_KEYS.iter().map(|k| k.to_string()));
        keys
    })
}

/// How the user's keys were classified.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Classified {
    /// Era keys that are accepted but not rendered (dotted, in input order).
    pub(crate) unsupported: Vec<String>,
    /// Unknown keys: (dotted leaf path, closest known key).
    pub(crate) unknown: Vec<(String, Option<String>)>,
}

/// Classify every key of `user` against the structure of `defaults`.
pub(crate) fn classify(defaults: &Map<String, Value>, user: &Map<String, Value>) -> Classified {
    let mut out = Classified::default();
    walk(defaults, user, "", &mut out, &known_paths(defaults));
    out
}

/// Remove era keys (from [`classify`]) from a values tree so the typed model never sees them.
pub(crate) fn without_paths(values: &Map<String, Value>, paths: &[String]) -> Map<String, Value> {
    let mut out = values.clone();
    for path in paths {
        remove_path(&mut out, path);
    }
    out
}

fn remove_path(map: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            map.shift_remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(inner)) = map.get_mut(head) {
                remove_path(inner, rest);
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

fn walk(
    defaults: &Map<String, Value>,
    user: &Map<String, Value>,
    prefix: &str,
    out: &mut Classified,
    known: &[String],
) {
    for (key, value) in user {
        let path = join(prefix, key);
        match defaults.get(key) {
            Some(Value::Object(default_child)) if !FREE_FORM.contains(&path.as_str()) => {
                if let Value::Object(user_child) = value {
                    walk(default_child, user_child, &path, out, known);
                }
            }
            Some(_) => {}
            None => outside(&path, value, out, known),
        }
    }
}

/// A user key the defaults do not have: an era key (or inside one) is accepted; a map above era
/// keys is looked into, and named as one era key when everything in it is; anything else is
/// unknown, each leaf with the closest known key.
fn outside(path: &str, value: &Value, out: &mut Classified, known: &[String]) {
    if is_era_key(path) {
        out.unsupported.push(path.to_string());
        return;
    }
    if is_era_ancestor(path) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                let mut inner = Classified::default();
                for (key, child) in map {
                    outside(&join(path, key), child, &mut inner, known);
                }
                if inner.unknown.is_empty() {
                    out.unsupported.push(path.to_string());
                } else {
                    out.unsupported.extend(inner.unsupported);
                    out.unknown.extend(inner.unknown);
                }
            }
            _ => out.unsupported.push(path.to_string()),
        }
        return;
    }
    for leaf in leaf_paths(value, path) {
        let suggestion = suggest(path, &leaf, known);
        out.unknown.push((leaf, suggestion));
    }
}

/// Is `path` an era key or below one?
pub(crate) fn is_era_key(path: &str) -> bool {
    era_keys()
        .iter()
        .any(|era| path == era || path.strip_prefix(era.as_str()).is_some_and(|rest| rest.starts_with('.')))
}

/// Are there era keys below `path`?
fn is_era_ancestor(path: &str) -> bool {
    era_keys().iter().any(|era| era.strip_prefix(path).is_some_and(|rest| rest.starts_with('.')))
}

/// Every dotted path the user may write: supported keys (down to free-form maps) and era keys.
pub fn known_paths(defaults: &Map<String, Value>) -> Vec<String> {
    fn collect(map: &Map<String, Value>, prefix: &str, out: &mut Vec<String>) {
        for (key, value) in map {
            let path = join(prefix, key);
            out.push(path.clone());
            if let Value::Object(inner) = value
                && !FREE_FORM.contains(&path.as_str())
            {
                collect(inner, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    collect(defaults, "", &mut out);
    out.extend(era_keys().iter().cloned());
    out
}

/// The leaf paths under an unknown key (the key itself when it holds a scalar or list).
fn leaf_paths(value: &Value, path: &str) -> Vec<String> {
    match value {
        Value::Object(map) if !map.is_empty() => map.iter().flat_map(|(k, v)| leaf_paths(v, &join(path, k))).collect(),
        _ => vec![path.to_string()],
    }
}

/// The closest known key to the unknown leaf `leaf` (below `path`, where the user's keys left the
/// known structure), compared by the whole dotted path, so `sync.ingres.enabled` finds
/// `sync.ingresses.enabled`. Supported keys win over era keys at the same distance, then the
/// shorter one. No suggestion when even the closest differs by more than half of the misspelt key.
fn suggest(path: &str, leaf: &str, known: &[String]) -> Option<String> {
    let wanted = leaf.to_lowercase();
    let best = known
        .iter()
        .map(|k| (strsim::levenshtein(&wanted, &k.to_lowercase()), is_era_key(k), k.len(), k))
        .min_by(|a, b| (a.0, a.1, a.2, a.3).cmp(&(b.0, b.1, b.2, b.3)))?;
    let last = path.rsplit('.').next().unwrap_or(path);
    if best.0 > (last.chars().count() / 2).max(2) {
        return None;
    }
    Some(best.3.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn classifies_supported_era_and_unknown_keys() {
        let defaults = map(json!({"sync": {"ingresses": {"enabled": false}, "services": {"enabled": true}},
                                  "labels": {}, "syncer": {"image": "x"}}));
        let user = map(json!({"sync": {"ingress": {"enabled": true}, "nodes": {"enabled": true},
                                       "services": {"enabled": false}},
                              "labels": {"anything": "goes"}, "telemetry": {"disabled": true},
                              "syncer": {"imagee": "y"}}));
        let c = classify(&defaults, &user);
        assert_eq!(c.unsupported, vec!["sync.nodes", "telemetry"]);
        assert_eq!(
            c.unknown,
            vec![
                ("sync.ingress.enabled".to_string(), Some("sync.ingresses.enabled".to_string())),
                ("syncer.imagee".to_string(), Some("syncer.image".to_string())),
            ]
        );
        assert_eq!(
            Value::Object(without_paths(&user, &c.unsupported))["sync"],
            json!({"ingress": {"enabled": true}, "services": {"enabled": false}})
        );
    }

    #[test]
    fn far_away_keys_get_no_suggestion() {
        let defaults = map(json!({"sync": {"services": {"enabled": true}}}));
        let c = classify(&defaults, &map(json!({"completelyDifferent": 1})));
        assert_eq!(c.unknown, vec![("completelyDifferent".to_string(), None)]);
    }
}
