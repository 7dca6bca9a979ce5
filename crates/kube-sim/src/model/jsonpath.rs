//! Small helpers over `serde_json::Value` objects (the simulator keeps every object as JSON).

use serde_json::{Map, Value};

/// The value at `path` (object keys only).
pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

pub fn get_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// The object at `path`, created (and any non-object replaced) on the way.
pub fn object_at<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = v;
    for key in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur.as_object_mut().expect("object").entry(key.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    cur.as_object_mut().expect("object")
}

/// Set `key` in `obj` when it is missing or null (the defaulting rule `if x == nil { x = ... }`).
pub fn default_field(obj: &mut Map<String, Value>, key: &str, value: Value) {
    match obj.get(key) {
        None | Some(Value::Null) => {
            obj.insert(key.to_string(), value);
        }
        _ => {}
    }
}

/// Set `key` when missing, null or the empty string (`if x == "" { x = ... }`).
pub fn default_string(obj: &mut Map<String, Value>, key: &str, value: &str) {
    match obj.get(key) {
        None | Some(Value::Null) => {
            obj.insert(key.to_string(), value.into());
        }
        Some(Value::String(s)) if s.is_empty() => {
            obj.insert(key.to_string(), value.into());
        }
        _ => {}
    }
}

/// Mutable elements of the array at `key` (nothing when absent).
pub fn items_mut<'a>(obj: &'a mut Map<String, Value>, key: &str) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    obj.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flat_map(|a| a.iter_mut())
        .filter_map(Value::as_object_mut)
}

pub fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

pub fn meta<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    get_str(obj, &["metadata", key])
}

pub fn name(obj: &Value) -> &str {
    meta(obj, "name").unwrap_or_default()
}

pub fn namespace(obj: &Value) -> &str {
    meta(obj, "namespace").unwrap_or_default()
}

pub fn uid(obj: &Value) -> &str {
    meta(obj, "uid").unwrap_or_default()
}

pub fn labels(obj: &Value) -> Option<&Map<String, Value>> {
    get(obj, &["metadata", "labels"]).and_then(Value::as_object)
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    get(obj, &["metadata", "finalizers"])
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

pub fn set_finalizers(obj: &mut Value, finalizers: &[String]) {
    let meta = object_at(obj, &["metadata"]);
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), finalizers.iter().map(|f| Value::from(f.as_str())).collect());
    }
}
