//! Helm's two merges of values trees.
//!
//! - [`merge_layer`] stacks user layers (CLI-computed values, `-f` files in order): maps merge
//!   recursively, anything else replaces, a `null` replaces too (helm: pkg/cli/values/options.go
//!   `mergeMaps`).
//! - [`coalesce`] lays the user values over the chart defaults: maps merge, scalars and lists
//!   replace, and a user `null` deletes the default (helm: pkg/chart/common/util/coalesce.go).
//!   Nulls never survive into the result.

use serde_json::{Map, Value};

/// Merge `layer` over `base` (later layers win).
pub fn merge_layer(base: &mut Map<String, Value>, layer: Map<String, Value>) {
    for (key, value) in layer {
        match (base.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge_layer(existing, incoming),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The user values over the defaults: the values the templates see.
pub fn coalesce(defaults: &Map<String, Value>, user: &Map<String, Value>) -> Map<String, Value> {
    let mut out = defaults.clone();
    coalesce_into(&mut out, user);
    out
}

fn coalesce_into(out: &mut Map<String, Value>, user: &Map<String, Value>) {
    for (key, value) in user {
        match value {
            Value::Null => {
                out.shift_remove(key);
            }
            Value::Object(user_map) => match out.get_mut(key) {
                Some(Value::Object(default_map)) => coalesce_into(default_map, user_map),
                _ => {
                    out.insert(key.clone(), Value::Object(without_nulls(user_map)));
                }
            },
            other => {
                out.insert(key.clone(), other.clone());
            }
        }
    }
}

/// A user map with no default underneath: its `null` entries have nothing to delete.
pub fn without_nulls(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::Object(inner) => (k.clone(), Value::Object(without_nulls(inner))),
            other => (k.clone(), other.clone()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn layers_merge_maps_and_replace_the_rest() {
        let mut base = map(json!({"a": {"x": 1, "y": [1, 2]}, "b": "keep", "c": 1}));
        merge_layer(&mut base, map(json!({"a": {"y": [3], "z": true}, "c": null})));
        assert_eq!(Value::Object(base), json!({"a": {"x": 1, "y": [3], "z": true}, "b": "keep", "c": null}));
    }

    #[test]
    fn coalesce_replaces_scalars_and_lists_and_null_deletes() {
        let defaults = map(json!({"a": {"x": 1, "y": [1, 2], "n": {"deep": 1}}, "b": "d", "keep": 1}));
        let user = map(json!({"a": {"y": [], "n": null}, "b": null, "new": {"k": null, "v": 1}}));
        assert_eq!(
            Value::Object(coalesce(&defaults, &user)),
            json!({"a": {"x": 1, "y": []}, "keep": 1, "new": {"v": 1}})
        );
    }
}
