//! The minijinja environment: templates embedded in the binary, strict undefined, and JSON
//! auto-escaping of every `{{ … }}` so that values are always data (JSON is YAML flow syntax;
//! a string with `: `, `#`, quotes, newlines or `{{ }}` renders as exactly that string).

use std::sync::OnceLock;

use minijinja::value::Value as JinjaValue;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};

/// (name, source) of every template, in the order their objects are listed within a kind.
pub(crate) const TEMPLATES: &[(&str, &str)] = &[
    ("serviceaccounts.yaml.j2", include_str!("../../templates/serviceaccounts.yaml.j2")),
    ("rbac.yaml.j2", include_str!("../../templates/rbac.yaml.j2")),
    ("coredns-configmap.yaml.j2", include_str!("../../templates/coredns-configmap.yaml.j2")),
    ("coredns.yaml.j2", include_str!("../../templates/coredns.yaml.j2")),
    ("init-manifests.yaml.j2", include_str!("../../templates/init-manifests.yaml.j2")),
    ("services.yaml.j2", include_str!("../../templates/services.yaml.j2")),
    ("statefulset.yaml.j2", include_str!("../../templates/statefulset.yaml.j2")),
    ("ingress.yaml.j2", include_str!("../../templates/ingress.yaml.j2")),
    ("isolation.yaml.j2", include_str!("../../templates/isolation.yaml.j2")),
];

/// The shared environment (templates are compiled once per process).
pub(crate) fn environment() -> &'static Result<Environment<'static>, String> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Every template, whatever its name, escapes output as JSON: minijinja otherwise picks the
        // escaping from each template's file extension (minijinja 3.1.0 `src/defaults.rs`
        // `default_auto_escape_callback`), and no escaping at all for an unknown one.
        env.set_auto_escape_callback(|_| AutoEscape::Json);
        env.add_filter("go_literal", go_literal);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(env)
    })
}

/// Make a value inert for Go's text/template, which the syncer runs over the CoreDNS bundle:
/// every `{{` in a string (map keys included) becomes ``{{`{{`}}`` (a Go raw-string action that
/// prints `{{`; backquotes, unlike double quotes, survive the JSON encoding around it).
pub(crate) fn go_literal(value: JinjaValue) -> Result<JinjaValue, minijinja::Error> {
    let json: serde_json::Value = serde_json::to_value(&value)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::BadSerialization, e.to_string()))?;
    Ok(JinjaValue::from(minijinja::value::Serde(escape_go(json))))
}

fn escape_go(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    let esc = |s: &str| s.replace("{{", "{{`{{`}}");
    match value {
        Value::String(s) => Value::String(esc(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(escape_go).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (esc(&k), escape_go(v))).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = environment().as_ref().unwrap();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn values_render_as_json_data() {
        let env = environment().as_ref().unwrap();
        let out = env.render_str("a: {{ x }}", minijinja::context! { x => "b: c # {{ d }}\n'\"" }).unwrap();
        assert_eq!(out, r#"a: "b: c # {{ d }}\n'\"""#);
        assert!(env.render_str("{{ missing }}", minijinja::context! {}).is_err());
    }

    #[test]
    fn go_literal_escapes_template_delimiters() {
        let v = go_literal(JinjaValue::from(minijinja::value::Serde(serde_json::json!({"k{{": ["{{.IMAGE}}", 1]}))))
            .unwrap();
        let back: serde_json::Value = serde_json::to_value(&v).unwrap();
        assert_eq!(back, serde_json::json!({"k{{`{{`}}": ["{{`{{`}}.IMAGE}}", 1]}));
    }
}
