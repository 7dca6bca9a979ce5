//! apimachinery's `equality.Semantic.DeepEqual` for the comparisons the translations make: an
//! empty list or map equals an absent one (the API server drops them, Go's `omitempty`), so a
//! desired object that spells `[]` never looks different from the stored one.

use serde::Serialize;
use serde_json::Value;

/// Whether `a` and `b` are equal once empty lists, empty maps and nulls are dropped.
pub(crate) fn eq<T: Serialize>(a: &T, b: &T) -> bool {
    let a = serde_json::to_value(a).map(prune_top);
    let b = serde_json::to_value(b).map(prune_top);
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `prune`, and an empty value at the top is no value (`Some({})` equals `None`).
fn prune_top(v: Value) -> Value {
    let v = prune(v);
    if is_empty(&v) { Value::Null } else { v }
}

fn prune(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, prune(v))).filter(|(_, v)| !is_empty(v)).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(prune).collect()),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_equals_absent_but_values_count() {
        assert!(eq(&json!({"a": [], "b": {}, "c": null, "d": 1}), &json!({"d": 1})));
        assert!(eq(&json!({"a": {"b": {"c": []}}}), &json!({})));
        assert!(!eq(&json!({"a": [{}]}), &json!({"a": []})), "a list of one empty object is not empty");
        assert!(!eq(&json!({"a": ""}), &json!({})));
        assert!(!eq(&json!({"a": 0}), &json!({})));
        assert!(eq(&json!({"a": {}}), &json!(null)), "an empty value at the top is no value");
    }
}
