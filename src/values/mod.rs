//! Values: load, merge and validate a values.yaml (pure; no I/O except reading inputs).
//!
//! [`load`] is the whole path `create` and `render` share: the chart defaults
//! (`templates/values.yaml`) < values computed from CLI flags < each `-f` source in order <
//! `--set-json` < `--set` < `--set-string`, then key classification, typing and validation.
//! The result keeps the user values (what a Helm release stores as `config`) apart from the
//! merged values the templates see.

mod error;
pub(crate) mod k3s;
mod keys;
mod locate;
mod merge;
pub(crate) mod model;
mod sources;
pub mod strvals;
pub(crate) mod validate;
mod yaml;

use serde_json::{Map, Value};

pub use error::ValuesError;
pub use keys::{FREE_FORM, era_keys, known_paths, v0_15_7_keys, v0_15_7_keys_with_types};
pub use merge::{coalesce, merge_layer, without_nulls};
pub use model::Values;
pub(crate) use sources::read_source;
pub use sources::{DEFAULTS_YAML, Layers, Source, defaults};
pub use strvals::{SetError, SetKind};
pub use validate::Problem;
pub(crate) use validate::{check_name, check_namespace, cluster_domain};

/// Loaded, validated values.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The user's values (computed + files + sets, nulls kept): what a Helm release stores as
    /// `config`.
    pub user: Map<String, Value>,
    /// The chart defaults with the user values laid over them: what `--show-values` prints.
    pub(crate) merged: Map<String, Value>,
    /// The typed values the templates render.
    pub values: Values,
    /// Era keys given by the user that this chart does not render (warn once, naming them).
    pub unsupported: Vec<String>,
}

impl Loaded {
    /// The one warning about accepted-but-ignored era keys, if any.
    pub fn unsupported_warning(&self) -> Option<String> {
        (!self.unsupported.is_empty()).then(|| {
            format!(
                "ignoring values keys of the established vcluster chart that this chart does not support: {}",
                self.unsupported.join(", ")
            )
        })
    }
}

/// CLI flags that become values, as the established CLI's default release values make them
/// (loft-sh/vcluster v0.15 `vendor/github.com/loft-sh/utils/pkg/helm/values/k3s.go`); `create` and
/// `render` share them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlagValues {
    /// `--kubernetes-version`: picks `vcluster.image` from [`k3s::K3S_IMAGES`].
    pub(crate) kubernetes_version: Option<String>,
    /// `--expose`: `service.type: LoadBalancer`.
    pub(crate) expose: bool,
    /// `--isolate`: `isolation.enabled: true`.
    pub(crate) isolate: bool,
}

/// The values computed from CLI flags (lowest user precedence), and notes worth printing (an
/// image picked for a version outside the table).
pub(crate) fn flag_values(flags: &FlagValues) -> Result<(Map<String, Value>, Vec<String>), k3s::BadVersion> {
    let mut map = Map::new();
    let mut notes = Vec::new();
    if let Some(version) = &flags.kubernetes_version {
        let picked = k3s::image_for_version(version)?;
        notes.extend(picked.fallback_note);
        map.insert("vcluster".into(), serde_json::json!({"image": picked.image}));
    }
    if flags.expose {
        map.insert("service".into(), serde_json::json!({"type": "LoadBalancer"}));
    }
    if flags.isolate {
        map.insert("isolation".into(), serde_json::json!({"enabled": true}));
    }
    Ok((map, notes))
}

/// Merge every layer over the defaults, classify keys, type and validate (Helm's precedence).
pub fn load(layers: &Layers) -> Result<Loaded, ValuesError> {
    let mut user = layers.computed.clone();
    for source in &layers.files {
        merge_layer(&mut user, yaml::parse_document(&source.name, &source.text)?);
    }
    for kind in [SetKind::Json, SetKind::Typed, SetKind::String] {
        for (_, text) in layers.sets.iter().filter(|(k, _)| *k == kind) {
            strvals::parse_into(text, kind, &mut user).map_err(|error| ValuesError::Set {
                flag: kind.flag(),
                text: text.clone(),
                error,
            })?;
        }
    }
    from_user(user).map_err(|e| match e {
        ValuesError::Invalid(problems) => ValuesError::Invalid(
            problems.into_iter().map(|p| Problem { source: locate::locate(layers, &p.path), ..p }).collect(),
        ),
        other => other,
    })
}

/// Classify, merge over the defaults, type and validate user values (already stacked).
pub(crate) fn from_user(user: Map<String, Value>) -> Result<Loaded, ValuesError> {
    let defaults = defaults();
    let classified = keys::classify(defaults, &user);
    if !classified.unknown.is_empty() {
        return Err(ValuesError::UnknownKeys(classified.unknown));
    }
    let merged = coalesce(defaults, &user);
    let supported = keys::without_paths(&merged, &classified.unsupported);
    // Every wrong type and every wrong value, in one report.
    let (values, mut problems) = typed(supported);
    if let Some(values) = &values {
        problems.extend(validate::check_values(values));
    }
    match values {
        Some(values) if problems.is_empty() => Ok(Loaded { user, merged, values, unsupported: classified.unsupported }),
        _ => Err(ValuesError::Invalid(problems)),
    }
}

/// Most type errors collected from one input.
const MAX_TYPE_ERRORS: usize = 100;

/// Type the values, collecting every type error: each wrong value is reported, replaced by the
/// chart's default (or left out), and typing goes on. `None` when typing cannot go on (more
/// than [`MAX_TYPE_ERRORS`], or an error the repair cannot reach).
fn typed(mut map: Map<String, Value>) -> (Option<Values>, Vec<Problem>) {
    use serde_path_to_error::Segment;
    let mut problems = Vec::new();
    // List elements left out so far, by list path: later errors name their original index.
    let mut removed: Vec<(String, usize)> = Vec::new();
    loop {
        let value = Value::Object(map.clone());
        let err = match serde_path_to_error::deserialize::<_, Values>(&value) {
            Ok(values) => return (Some(values), problems),
            Err(e) => e,
        };
        let mut shown = String::new();
        let mut segments = Vec::new();
        for segment in err.path().iter() {
            match segment {
                Segment::Map { key } => {
                    shown = validate::join_path(&shown, key);
                    segments.push(PathPart::Key(key.clone()));
                }
                Segment::Seq { index } => {
                    let mut original = *index;
                    let mut gone: Vec<usize> =
                        removed.iter().filter(|(list, _)| *list == shown).map(|(_, i)| *i).collect();
                    gone.sort_unstable();
                    for i in gone {
                        if i <= original {
                            original += 1;
                        }
                    }
                    segments.push(PathPart::Index(*index, original));
                    shown = format!("{shown}[{original}]");
                }
                Segment::Enum { .. } | Segment::Unknown => break,
            }
        }
        problems.push(validate::problem(shown, validate::describe_serde(&err.inner().to_string())));
        if problems.len() >= MAX_TYPE_ERRORS || !repair(&mut map, &segments, &mut removed) {
            return (None, problems);
        }
    }
}

/// One step of a path into the values: a key, or a list index (as typing saw it, and as the
/// input had it before elements were left out).
enum PathPart {
    Key(String),
    Index(usize, usize),
}

/// Put the chart's default where a wrong value was (or take it out), so typing goes on. Inside a
/// list the whole element goes: its other fields may be required, and it was reported already.
fn repair(map: &mut Map<String, Value>, path: &[PathPart], removed: &mut Vec<(String, usize)>) -> bool {
    let path = match path.iter().rposition(|p| matches!(p, PathPart::Index(..))) {
        Some(last_index) => &path[..=last_index],
        None => path,
    };
    let mut root = Value::Object(std::mem::take(map));
    let repaired = repair_value(&mut root, path, Some(defaults()), String::new(), removed);
    if let Value::Object(back) = root {
        *map = back;
    }
    repaired
}

fn repair_value(
    node: &mut Value,
    path: &[PathPart],
    default: Option<&Map<String, Value>>,
    shown: String,
    removed: &mut Vec<(String, usize)>,
) -> bool {
    match (path, node) {
        ([PathPart::Key(key)], Value::Object(map)) => {
            match default.and_then(|d| d.get(key)) {
                Some(chart_default) => map.insert(key.clone(), chart_default.clone()),
                None => map.shift_remove(key),
            };
            true
        }
        ([PathPart::Index(index, original)], Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            removed.push((shown, *original));
            true
        }
        ([PathPart::Key(key), rest @ ..], Value::Object(map)) => match map.get_mut(key) {
            Some(child) => {
                let default = default.and_then(|d| d.get(key)).and_then(Value::as_object);
                repair_value(child, rest, default, validate::join_path(&shown, key), removed)
            }
            None => false,
        },
        ([PathPart::Index(index, original), rest @ ..], Value::Array(items)) => match items.get_mut(*index) {
            Some(child) => repair_value(child, rest, None, format!("{shown}[{original}]"), removed),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn layers(files: &[&str], sets: &[(SetKind, &str)]) -> Layers {
        Layers {
            computed: Map::new(),
            files: files
                .iter()
                .enumerate()
                .map(|(i, t)| Source { name: format!("f{i}.yaml"), text: t.to_string() })
                .collect(),
            sets: sets.iter().map(|(k, t)| (*k, t.to_string())).collect(),
        }
    }

    #[test]
    fn defaults_parse_type_and_validate() {
        let loaded = load(&Layers::default()).unwrap();
        assert_eq!(loaded.values.syncer.image, "ghcr.io/loft-sh/vcluster:0.15.7");
        assert_eq!(loaded.values.vcluster.image, "rancher/k3s:v1.27.3-k3s1");
        assert!(loaded.user.is_empty());
        assert_eq!(&loaded.merged, defaults());
    }

    #[test]
    fn build_time_defaults_equal_the_yaml() {
        let from_yaml = yaml::parse_document("templates/values.yaml", DEFAULTS_YAML).unwrap();
        // Same keys in the same order, same values (the order is what --show-values prints).
        assert_eq!(serde_json::to_string(&from_yaml).unwrap(), serde_json::to_string(defaults()).unwrap());
    }

    #[test]
    fn precedence_is_helms() {
        let mut l = layers(
            &["syncer: {replicas: 2, kubeConfigContextName: a}\n", "syncer: {kubeConfigContextName: b}\n"],
            &[
                (SetKind::String, "syncer.kubeConfigContextName=from-string"),
                (SetKind::Typed, "syncer.kubeConfigContextName=from-set,syncer.replicas=3"),
                (SetKind::Json, r#"syncer.kubeConfigContextName="from-json""#),
            ],
        );
        l.computed =
            serde_json::from_value(json!({"syncer": {"replicas": 5}, "service": {"type": "LoadBalancer"}})).unwrap();
        let loaded = load(&l).unwrap();
        assert_eq!(loaded.values.syncer.kube_config_context_name, "from-string");
        assert_eq!(loaded.values.syncer.replicas, 3);
        assert_eq!(loaded.values.service.type_, model::ServiceType::LoadBalancer);
        assert_eq!(loaded.user["syncer"]["replicas"], json!(3));
    }

    #[test]
    fn null_deletes_a_default_and_lists_replace() {
        let loaded =
            load(&layers(&["syncer:\n  resources:\n    limits: null\nvcluster:\n  baseArgs: [server]\n"], &[]))
                .unwrap();
        assert!(loaded.values.syncer.resources.limits.is_empty());
        assert_eq!(loaded.values.vcluster.base_args, ["server"]);
        assert!(loaded.merged["syncer"]["resources"].get("limits").is_none());
    }

    #[test]
    fn era_keys_warn_and_unknown_keys_fail() {
        let loaded =
            load(&layers(&["telemetry:\n  disabled: true\nsync:\n  nodes:\n    enabled: true\n"], &[])).unwrap();
        assert_eq!(loaded.unsupported, ["telemetry", "sync.nodes"]);
        assert!(loaded.unsupported_warning().unwrap().contains("telemetry, sync.nodes"));
        let err = load(&layers(&["sync:\n  ingress:\n    enabled: true\n"], &[])).unwrap_err();
        assert_eq!(err.to_string(), "unknown values key sync.ingress.enabled (did you mean sync.ingresses.enabled?)");
    }

    #[test]
    fn wrong_types_name_path_expected_and_found() {
        let err = load(&layers(&["sync:\n  ingresses:\n    enabled: maybe\n"], &[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid values:\n  f0.yaml:3: sync.ingresses.enabled: expected a boolean, found string \"maybe\""
        );
        let err = load(&layers(&[], &[(SetKind::String, "syncer.replicas=2")])).unwrap_err();
        assert!(
            err.to_string()
                .contains("--set-string \"syncer.replicas=2\": syncer.replicas: expected i64, found string \"2\""),
            "{err}"
        );
    }

    #[test]
    fn every_wrong_value_is_reported_at_once_with_where_it_came_from() {
        let file = "sync:\n  ingresses:\n    enabled: maybe\nstorage:\n  size: lots\n  persistence: 3\n\
                    mapServices:\n  fromHost:\n    - {from: a/b, to: c/d, extra: 1}\n    - {from: a/b, to: 7}\n\
                    coredns:\n  replicas: many\n";
        let err = load(&layers(
            &[file],
            &[
                (SetKind::Typed, "syncer.replicas=x"),
                (SetKind::Typed, "fallbackHostDns=1"),
                (SetKind::Typed, "vcluster.image="),
            ],
        ))
        .unwrap_err();
        let text = err.to_string();
        for want in [
            "f0.yaml:3: sync.ingresses.enabled: expected a boolean",
            "f0.yaml:6: storage.persistence: expected a boolean, found integer `3`",
            "f0.yaml:9: mapServices.fromHost[0].extra: unknown field `extra`",
            "f0.yaml:10: mapServices.fromHost[1].to: expected a string, found integer `7`",
            "f0.yaml:12: coredns.replicas: expected i64",
            "--set \"syncer.replicas=x\": syncer.replicas: expected i64, found string \"x\"",
            "--set \"fallbackHostDns=1\": fallbackHostDns: expected a boolean",
            // value checks in the same report
            "f0.yaml:5: storage.size:",
            "--set \"vcluster.image=\": vcluster.image:",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        assert_eq!(text.lines().count(), 10, "{text}");
    }

    #[test]
    fn set_errors_name_the_flag() {
        let err = load(&layers(&[], &[(SetKind::Typed, "a[x]=1")])).unwrap_err();
        assert!(err.to_string().starts_with("--set \"a[x]=1\": error parsing index"), "{err}");
    }
}
