//! The three classes of values keys.
//!
//! - supported: present in `templates/values.yaml` (the defaults define the key structure;
//!   maps listed in [`FREE_FORM`] hold user data such as labels, so their keys are not checked);
//! - known to the era chart (loft-sh/vcluster v0.12–v0.19 `charts/k3s/values.yaml`) but not
//!   supported here: accepted with one warning, because releases made by the established tool
//!   contain them;
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

/// Keys of the era chart that this chart does not render (dotted prefixes: everything below
/// them is covered). Sources: loft-sh/vcluster `charts/k3s/values.yaml` at v0.12.0, v0.15.0 and
/// v0.19.7.
pub const ERA_KEYS: &[&str] = &[
    // sync.* controllers that are off by default in the era and not rendered here
    "sync.nodes",
    "sync.persistentvolumes",
    "sync.storageclasses",
    "sync.hoststorageclasses",
    "sync.legacy-storageclasses",
    "sync.priorityclasses",
    "sync.volumesnapshots",
    "sync.poddisruptionbudgets",
    "sync.serviceaccounts",
    "sync.csinodes",
    "sync.csidrivers",
    "sync.csistoragecapacities",
    "sync.generic",
    "sync.pods.ephemeralContainers",
    "sync.pods.status",
    // syncer / k3s container extras
    "syncer.volumeMounts",
    "syncer.extraVolumeMounts",
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
    "vcluster.volumeMounts",
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
    "coredns.service.externalIPs",
    "coredns.service.externalTrafficPolicy",
    "coredns.service.annotations",
    "coredns.nodeSelector",
    "coredns.podSecurityContext",
    "coredns.securityContext",
    "isolation.namespace",
    "isolation.nodeProxyPermission",
    "rbac.clusterRole.extraRules",
    "rbac.role.extraRules",
    "rbac.role.excludedApiResources",
    "init.manifestsTemplate",
    "init.helm",
    // whole features
    "telemetry",
    "plugin",
    "plugins",
    "enableHA",
    "replicas",
    "headless",
    "multiNamespaceMode",
    "serviceAccount",
    "workloadServiceAccount",
    "openshift",
    "proxy",
    "monitoring",
    "podDisruptionBudget",
    "hostpathMapper",
    "job",
    "k3sToken",
    "embeddedEtcd",
    "etcd",
    "controller",
    "api",
    "scheduler",
    "volumes",
    "fsGroup",
    "podManagementPolicy",
    "serviceAccountName",
    "imagePullSecrets",
    "enableServiceLinks",
    "pro",
    "proLicenseSecret",
];

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
            None if is_era_key(&path) => out.unsupported.push(path),
            None => {
                for leaf in leaf_paths(value, &path) {
                    let suggestion = suggest(&path, &leaf, known);
                    out.unknown.push((leaf, suggestion));
                }
            }
        }
    }
}

/// Is `path` an era key or below one?
pub fn is_era_key(path: &str) -> bool {
    ERA_KEYS.iter().any(|era| path == *era || path.strip_prefix(era).is_some_and(|rest| rest.starts_with('.')))
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
    out.extend(ERA_KEYS.iter().map(|k| k.to_string()));
    out
}

/// The leaf paths under an unknown key (the key itself when it holds a scalar or list).
fn leaf_paths(value: &Value, path: &str) -> Vec<String> {
    match value {
        Value::Object(map) if !map.is_empty() => map.iter().flat_map(|(k, v)| leaf_paths(v, &join(path, k))).collect(),
        _ => vec![path.to_string()],
    }
}

/// The closest known key to the unknown `path` (where the user's keys left the known
/// structure), extended by the rest of `leaf` when that longer key exists too:
/// `sync.ingress.enabled` → `sync.ingresses.enabled`.
fn suggest(path: &str, leaf: &str, known: &[String]) -> Option<String> {
    let depth = path.split('.').count();
    let best = known
        .iter()
        .filter(|k| k.split('.').count() == depth)
        .map(|k| (strsim::levenshtein(&path.to_lowercase(), &k.to_lowercase()), k))
        .min_by_key(|(d, k)| (*d, k.len()))?;
    let last = path.rsplit('.').next().unwrap_or(path);
    if best.0 > (last.chars().count() / 2).max(2) {
        return None;
    }
    let rest = &leaf[path.len()..];
    let longer = format!("{}{rest}", best.1);
    Some(if known.contains(&longer) { longer } else { best.1.clone() })
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
