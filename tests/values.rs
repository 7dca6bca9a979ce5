//! The values model: defaults file vs typed model, the three key classes, and property tests
//! of the `--set` parser, the merge and the whole load -> validate -> render path.

mod support;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use vcluster::values::{self, FREE_FORM, SetKind, Values, coalesce, merge_layer, without_nulls};

/// Dotted key paths of a values tree, stopping at free-form maps and lists.
fn key_paths(map: &Map<String, Value>, prefix: &str, out: &mut Vec<String>) {
    for (k, v) in map {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        out.push(path.clone());
        if let Value::Object(inner) = v
            && !FREE_FORM.contains(&path.as_str())
        {
            key_paths(inner, &path, out);
        }
    }
}

#[test]
fn typed_model_and_defaults_file_agree_on_keys() {
    let defaults = values::defaults();
    // Keys in the file that the model lacks fail here (the model denies unknown fields) ...
    let typed: Values = serde_json::from_value(Value::Object(defaults.clone())).unwrap();
    // ... and keys of the model missing from the file show up after serializing it back.
    let back = match serde_json::to_value(&typed).unwrap() {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let (mut from_file, mut from_model) = (Vec::new(), Vec::new());
    key_paths(defaults, "", &mut from_file);
    key_paths(&back, "", &mut from_model);
    from_file.sort();
    from_model.sort();
    assert_eq!(from_file, from_model);
}

/// Line number (1-based) of each key in a block-style YAML file, by indentation.
fn key_lines(text: &str) -> Vec<(String, usize)> {
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("- ") {
            continue;
        }
        let Some((key, _)) = trimmed.split_once(':') else { continue };
        let indent = line.len() - trimmed.len();
        while stack.last().is_some_and(|(ind, _)| *ind >= indent) {
            stack.pop();
        }
        stack.push((indent, key.trim_matches('"').to_string()));
        out.push((stack.iter().map(|(_, k)| k.as_str()).collect::<Vec<_>>().join("."), i + 1));
    }
    out
}

#[test]
fn every_key_of_the_defaults_is_documented() {
    let text = values::DEFAULTS_YAML;
    let lines: Vec<&str> = text.lines().collect();
    let located = key_lines(text);
    let line_of = |path: &str| located.iter().find(|(p, _)| p == path).map(|(_, l)| *l);
    let commented = |line: usize| line >= 2 && lines[line - 2].trim_start().starts_with('#');
    let mut supported = Vec::new();
    key_paths(values::defaults(), "", &mut supported);
    for path in supported {
        let line = line_of(&path).unwrap_or_else(|| panic!("{path} not found in templates/values.yaml"));
        // A key is documented by a comment right above it, or (for `enabled`-style leaves) above its parent.
        let parent = path.rsplit_once('.').and_then(|(p, _)| line_of(p));
        assert!(commented(line) || parent.is_some_and(commented), "{path} (line {line}) has no comment");
    }
}

#[test]
fn era_keys_are_accepted_with_one_warning_naming_them() {
    let fixture = std::fs::read_to_string(support::repo().join("tests/fixtures/era-keys.txt")).unwrap();
    let keys: Vec<&str> = fixture.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert!(keys.len() > 100);
    let defaults = Value::Object(values::defaults().clone());
    let mut user = Value::Object(Map::new());
    let mut unsupported = Vec::new();
    for key in &keys {
        let default = key.split('.').try_fold(&defaults, |v, k| v.get(k));
        let value = match default {
            Some(v) => v.clone(),
            None => {
                unsupported.push(*key);
                json!(true)
            }
        };
        let mut node = &mut user;
        let parts: Vec<&str> = key.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            node = node.as_object_mut().unwrap().entry(*part).or_insert_with(|| json!({}));
        }
        node.as_object_mut().unwrap().insert(parts[parts.len() - 1].to_string(), value);
    }
    let text = user.to_string();
    let loaded = support::load_layers(&[("era.yaml", &text)], &[]).unwrap_or_else(|e| panic!("{e}"));
    let warning = loaded.unsupported_warning().expect("one warning");
    for key in &unsupported {
        assert!(
            loaded.unsupported.iter().any(|u| *key == u || key.starts_with(&format!("{u}."))),
            "{key} is not named in: {warning}"
        );
    }
    // Nothing supported is reported as unsupported.
    for u in &loaded.unsupported {
        assert!(u.split('.').try_fold(&defaults, |v, k| v.get(k)).is_none(), "{u} is supported");
    }
    // The era keys do not change what is rendered.
    let plain = support::render_values(&support::load_layers(&[], &[]).unwrap().values, "a", "b");
    let with_era = support::render_values(&loaded.values, "a", "b");
    assert_eq!(plain.manifests.len(), with_era.manifests.len());
}

/// A value of the type the v0.15.7 default has (`bool`, `int`, `string`, `list`, `map`, `null`).
fn of_type(kind: &str) -> Value {
    match kind {
        "bool" => json!(false),
        "int" => json!(1),
        // v0.15.7's string defaults this chart lacks are mostly quantities (`quota.limits.memory: 40Gi`).
        "string" => json!("1Gi"),
        "list" => json!([]),
        "map" => json!({}),
        "null" => Value::Null,
        other => panic!("type {other} in the key list"),
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
        Value::Null => "null",
    }
}

/// Every key of loft-sh/vcluster v0.15.7 `charts/k3s/values.yaml` (its key list, with the type of
/// each default) loads: supported, or warned about as era-only; never an error. Supported keys
/// keep this chart's default where it has the same type (so value checks pass), else get a value
/// of v0.15.7's type (`isolation.resourceQuota.quota.requests.cpu: 10` is an int there).
#[test]
fn the_whole_v0_15_7_values_file_loads() {
    let defaults = Value::Object(values::defaults().clone());
    let keys: Vec<(&str, &str)> = values::v0_15_7_keys_with_types().collect();
    assert!(keys.len() > 140, "{}", keys.len());
    let mut user = Value::Object(Map::new());
    for (key, kind) in &keys {
        let ours = key.split('.').try_fold(&defaults, |v, k| v.get(k));
        let value = match ours {
            Some(v) if type_of(v) == *kind => v.clone(),
            _ => of_type(kind),
        };
        // Keys of these maps contain dots (`ingress.annotations.nginx.ingress.kubernetes.io/…`,
        // `isolation.resourceQuota.quota.requests.cpu`).
        let split = [".annotations.", ".quota."].iter().find_map(|m| key.find(m).map(|at| (at, m.len())));
        let (parent, leaf) = match split {
            Some((at, len)) => (&key[..at + len - 1], &key[at + len..]),
            None => key.rsplit_once('.').unwrap_or(("", key)),
        };
        let mut node = &mut user;
        for part in parent.split('.').filter(|p| !p.is_empty()) {
            node = node.as_object_mut().unwrap().entry(part).or_insert_with(|| json!({}));
        }
        node.as_object_mut().unwrap().insert(leaf.to_string(), value);
    }
    let loaded = support::load_layers(&[("values.yaml", &user.to_string())], &[]).unwrap_or_else(|e| panic!("{e}"));
    for (key, _) in &keys {
        let supported = key.split('.').try_fold(&defaults, |v, k| v.get(k)).is_some()
            || FREE_FORM.iter().any(|f| key.starts_with(&format!("{f}.")));
        let warned = loaded.unsupported.iter().any(|u| key == u || key.starts_with(&format!("{u}.")));
        assert!(supported || warned, "{key}: neither supported nor warned about");
    }
    // The keys named in the review: accepted.
    for key in ["ingress.apiVersion", "rbac.role.extended", "serverToken.value", "isolation.resourceQuota.scopes"] {
        assert!(loaded.unsupported.iter().any(|u| key.starts_with(u.as_str())), "{key}: {:?}", loaded.unsupported);
    }
}

#[test]
fn unknown_keys_are_errors_with_the_closest_known_key() {
    let cases = [
        ("sync: {ingress: {enabled: true}}", "sync.ingress.enabled (did you mean sync.ingresses.enabled?)"),
        ("mapService: {fromHost: []}", "mapService.fromHost (did you mean mapServices.fromHost?)"),
        ("syncer: {extraArg: [x]}", "syncer.extraArg (did you mean syncer.extraArgs?)"),
        ("fallbackHostDNS: true", "fallbackHostDNS (did you mean fallbackHostDns?)"),
        (
            "isolation: {networkPolicy: {enable: true}}",
            "isolation.networkPolicy.enable (did you mean isolation.networkPolicy.enabled?)",
        ),
    ];
    for (yaml, want) in cases {
        let err = support::load_layers(&[("v.yaml", yaml)], &[]).unwrap_err();
        assert_eq!(err.to_string(), format!("unknown values key {want}"), "{yaml}");
    }
    // By the full path, supported keys first: not `sync.nodes` (a shorter era key at the same
    // distance from `sync.ingres`).
    let err = support::load_layers(&[], &[(SetKind::Typed, "sync.ingres.enabled=true")]).unwrap_err();
    assert_eq!(err.to_string(), "unknown values key sync.ingres.enabled (did you mean sync.ingresses.enabled?)");
    // An empty key has a message of its own.
    let err = support::load_layers(&[], &[(SetKind::Typed, "=true")]).unwrap_err().to_string();
    assert!(err.contains("empty name"), "{err}");
    assert!(!err.contains("unknown values key "), "{err}");
}

// ---------------------------------------------------------------------------------------
// Property tests

fn segment() -> impl Strategy<Value = String> {
    // Keys with characters that need escaping in strvals.
    "[a-z][a-z0-9.,=\\[\\]\\\\-]{0,6}".prop_map(String::from)
}

fn set_value() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("no leading { (a list literal)", |s| !s.starts_with('{'))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any `path=value` written with escapes reads back as that value at that path.
    #[test]
    fn set_string_round_trips(path in prop::collection::vec(segment(), 1..5), value in set_value()) {
        let text = format!(
            "{}={}",
            path.iter().map(|p| values::strvals::escape(p, &['.', ',', '=', '['])).collect::<Vec<_>>().join("."),
            values::strvals::escape(&value, &[','])
        );
        let mut map = Map::new();
        values::strvals::parse_into(&text, SetKind::String, &mut map).unwrap();
        let got = path.iter().try_fold(&Value::Object(map.clone()), |v, k| v.get(k)).cloned();
        prop_assert_eq!(got, Some(Value::String(value)));
    }

    /// The parser never panics, whatever the input and flag type.
    #[test]
    fn set_parser_never_panics(text in any::<String>(), kind in prop::sample::select(vec![SetKind::Json, SetKind::Typed, SetKind::String])) {
        let mut map = Map::new();
        let _ = values::strvals::parse_into(&text, kind, &mut map);
    }

    /// `--set` on a fresh path: integers come back as int64, `true`/`false` as booleans.
    #[test]
    fn set_infers_int64_and_bool(n in any::<i64>(), b in any::<bool>()) {
        let mut map = Map::new();
        values::strvals::parse_into(&format!("n={n},b={b}"), SetKind::Typed, &mut map).unwrap();
        prop_assert_eq!(Value::Object(map), json!({"n": n, "b": b}));
    }

    /// Layer merge: the layer's non-map leaves win, keys only in the base survive.
    #[test]
    fn merge_layer_keeps_base_and_layer_wins(base in tree(3), layer in tree(3)) {
        let (Value::Object(b), Value::Object(l)) = (base, layer) else { unreachable!() };
        let mut merged = b.clone();
        merge_layer(&mut merged, l.clone());
        check_merged(&b, &l, &merged)?;
    }

    /// Coalesce: defaults survive unless replaced, a user null deletes, nothing null remains
    /// in maps, and merging nothing changes nothing.
    #[test]
    fn coalesce_semantics(defaults in tree(3), user in tree(3)) {
        let (Value::Object(d), Value::Object(u)) = (defaults, user) else { unreachable!() };
        let d = without_nulls(&d);
        prop_assert_eq!(coalesce(&d, &Map::new()), d.clone());
        let out = coalesce(&d, &u);
        check_coalesced(&d, &u, &out)?;
    }

    /// Whole path: generated value trees over real and made-up keys either load, render and
    /// print YAML that parses back to the same objects, or fail with a message.
    #[test]
    fn load_validate_render(tree in values_tree()) {
        let text = tree.to_string();
        match support::load_layers(&[("gen.yaml", &text)], &[]) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(loaded) => {
                let release = vcluster::render::ReleaseInfo { name: "gen".into(), namespace: "gen-ns".into() };
                let rendered = vcluster::render::render(&vcluster::render::RenderInput { release, values: &loaded.values });
                let rendered = rendered.map_err(|e| TestCaseError::fail(format!("valid values failed to render: {e}\n{text}")))?;
                let yaml = vcluster::render::to_yaml_stream(&rendered.manifests).unwrap();
                let back: Vec<Value> = serde_saphyr::from_str_multiple(&yaml).unwrap();
                prop_assert_eq!(back, rendered.manifests.iter().map(|m| m.object.clone()).collect::<Vec<_>>());
            }
        }
    }
}

fn check_merged(
    base: &Map<String, Value>,
    layer: &Map<String, Value>,
    merged: &Map<String, Value>,
) -> Result<(), TestCaseError> {
    for (k, v) in base {
        prop_assert!(merged.contains_key(k));
        if !layer.contains_key(k) {
            prop_assert_eq!(&merged[k], v);
        }
    }
    for (k, v) in layer {
        match (base.get(k), v) {
            (Some(Value::Object(bm)), Value::Object(lm)) => {
                let Value::Object(mm) = &merged[k] else { return Err(TestCaseError::fail("map became non-map")) };
                check_merged(bm, lm, mm)?;
            }
            _ => prop_assert_eq!(&merged[k], v),
        }
    }
    Ok(())
}

fn check_coalesced(
    d: &Map<String, Value>,
    u: &Map<String, Value>,
    out: &Map<String, Value>,
) -> Result<(), TestCaseError> {
    for (k, v) in out {
        prop_assert!(!v.is_null(), "null survived at {}", k);
    }
    for (k, dv) in d {
        match u.get(k) {
            None => prop_assert_eq!(out.get(k), Some(dv)),
            Some(Value::Null) => prop_assert!(!out.contains_key(k)),
            Some(Value::Object(um)) => match (dv, out.get(k)) {
                (Value::Object(dm), Some(Value::Object(om))) => check_coalesced(dm, um, om)?,
                (_, Some(Value::Object(_))) => {}
                _ => return Err(TestCaseError::fail(format!("{k}: user map lost"))),
            },
            Some(other) => prop_assert_eq!(out.get(k), Some(other)),
        }
    }
    Ok(())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z0-9 :#{}/.-]{0,8}".prop_map(Value::from),
        prop::collection::vec(any::<u8>().prop_map(Value::from), 0..3).prop_map(Value::Array),
    ]
}

fn tree(depth: u32) -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec!["a", "b", "c", "d"]);
    leaf()
        .prop_recursive(depth, 24, 4, move |inner| {
            prop::collection::vec((keys.clone(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
        })
        .prop_map(|v| if v.is_object() { v } else { json!({ "a": v }) })
}

/// Values trees over the real keys (with plausible and implausible values) and a few made-up ones.
fn values_tree() -> impl Strategy<Value = Value> {
    let mut paths: Vec<String> = values::known_paths(values::defaults());
    paths.extend(["madeUp".to_string(), "sync.madeUp.enabled".to_string()]);
    let value = prop_oneof![
        leaf(),
        prop::sample::select(vec![
            json!("LoadBalancer"),
            json!("NodePort"),
            json!("1Gi"),
            json!("500m"),
            json!("ns/name"),
            json!("name"),
            json!(2),
            json!(0),
            json!([{"from": "a/b", "to": "c/d"}]),
            json!([{"from": "a/b", "to": "c"}]),
            json!({"app": "x"}),
            json!({"team": "a", "tier": "b"}),
            json!(["--cluster-domain=corp.local"]),
            json!([{"name": "A", "value": "b"}]),
            json!("10.0.0.0/16"),
            json!("baseline"),
            json!(true),
            json!(false),
        ]),
    ];
    prop::collection::vec((prop::sample::select(paths), value), 0..8).prop_map(|entries| {
        let mut root = Value::Object(Map::new());
        for (path, value) in entries {
            let parts: Vec<&str> = path.split('.').collect();
            let mut node = &mut root;
            for part in &parts[..parts.len() - 1] {
                let map = node.as_object_mut().unwrap();
                let child = map.entry(*part).or_insert_with(|| json!({}));
                if !child.is_object() {
                    *child = json!({});
                }
                node = child;
            }
            node.as_object_mut().unwrap().insert(parts[parts.len() - 1].to_string(), value);
        }
        root
    })
}

#[test]
fn readme_values_reference_names_every_supported_key() {
    let readme = std::fs::read_to_string(support::repo().join("README.md")).unwrap();
    let mut supported = Vec::new();
    key_paths(values::defaults(), "", &mut supported);
    let leaves: Vec<&String> = supported
        .iter()
        .filter(|p| {
            FREE_FORM.contains(&p.as_str())
                || !supported
                    .iter()
                    .any(|q| q.len() > p.len() && q.starts_with(p.as_str()) && q.as_bytes()[p.len()] == b'.')
        })
        .collect();
    for path in leaves {
        let last = path.rsplit('.').next().unwrap();
        assert!(
            readme.contains(&format!("`{path}`"))
                || readme.contains(&format!("…{last}`"))
                || readme.contains(&format!("…ipBlock.{last}`")),
            "README's values reference does not mention {path}"
        );
    }
}
