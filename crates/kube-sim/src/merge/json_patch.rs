//! JSON patch (RFC 6902) and JSON merge patch (RFC 7386) with the semantics and messages of
//! evanphx/json-patch v4, the library kube-apiserver applies them with.
// evanphx/json-patch v4: patch.go (Patch.Apply, findObject, partialDoc, partialArray,
// lazyNode.equal), merge.go (MergePatch)

use serde_json::{Map, Value};

use super::types::MergeError;
use super::value::{go_quote, strip_nulls};

/// errors.Wrapf's `<message>: <cause>` with json-patch's sentinel causes.
const MISSING: &str = "missing value";
const INVALID_INDEX: &str = "invalid index referenced";
const TEST_FAILED: &str = "test failed";

/// The JSON type word in Go's `json: cannot unmarshal <word> into Go value of type …`.
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go `strconv.Atoi`.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)));
    }
    s.parse().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))
}

fn invalid_index(idx: i64) -> String {
    format!("Unable to access invalid index: {idx}: {INVALID_INDEX}")
}

/// A negative index counts from the end (json-patch v4 `SupportNegativeIndices`).
fn resolve_index(idx: i64, len: usize) -> Result<usize, String> {
    let len = len as i64;
    if idx < -len {
        return Err(invalid_index(idx));
    }
    Ok(if idx < 0 { idx + len } else { idx } as usize)
}

fn decode_pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Locates the container of `path`'s last token: the token list to reach it and the key.
/// Like json-patch, the first token is never looked up (`spec/x` means `/x`).
fn find_object(doc: &Value, path: &str) -> Option<(Vec<String>, String)> {
    let split: Vec<&str> = path.split('/').collect();
    if split.len() < 2 {
        return None;
    }
    let mut steps = Vec::new();
    let mut node = doc;
    for part in &split[1..split.len() - 1] {
        let part = decode_pointer_token(part);
        let next = match node {
            Value::Object(map) => map.get(&part),
            Value::Array(items) => {
                let idx = resolve_index(atoi(&part).ok()?, items.len()).ok()?;
                items.get(idx)
            }
            _ => None,
        }?;
        if !next.is_object() && !next.is_array() {
            return None;
        }
        steps.push(part);
        node = next;
    }
    Some((steps, decode_pointer_token(split[split.len() - 1])))
}

fn container<'d>(doc: &'d mut Value, steps: &[String]) -> &'d mut Value {
    steps.iter().fold(doc, |node, step| match node {
        Value::Object(map) => map.get_mut(step).expect("find_object checked the step"),
        Value::Array(items) => {
            let idx = resolve_index(atoi(step).unwrap_or(0), items.len()).unwrap_or(0);
            &mut items[idx]
        }
        _ => unreachable!("find_object only steps through objects and arrays"),
    })
}

/// A missing object key, like an explicit null, reads as nothing.
fn get(con: &Value, key: &str) -> Result<Option<Value>, String> {
    match con {
        Value::Object(map) => Ok(map.get(key).filter(|v| !v.is_null()).cloned()),
        Value::Array(items) => {
            let idx = atoi(key)?;
            let at = resolve_index(idx, items.len())?;
            match items.get(at) {
                Some(v) => Ok(Some(v.clone()).filter(|v| !v.is_null())),
                None => Err(invalid_index(idx)),
            }
        }
        _ => Ok(None),
    }
}

fn add(con: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match con {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            if key == "-" {
                items.push(value);
                return Ok(());
            }
            let idx = atoi(key).map_err(|e| format!("value was not a proper array index: '{key}': {e}"))?;
            let size = items.len() + 1;
            if idx >= size as i64 {
                return Err(invalid_index(idx));
            }
            items.insert(resolve_index(idx, size)?, value);
            Ok(())
        }
        _ => Ok(()),
    }
}

fn set(con: &mut Value, key: &str, value: Value) -> Result<(), String> {
    match con {
        Value::Array(items) => {
            let at = resolve_index(atoi(key)?, items.len())?;
            match items.get_mut(at) {
                Some(slot) => *slot = value,
                None => return Err(invalid_index(at as i64)),
            }
            Ok(())
        }
        other => add(other, key, value),
    }
}

fn remove(con: &mut Value, key: &str) -> Result<(), String> {
    match con {
        Value::Object(map) => match map.shift_remove(key) {
            Some(_) => Ok(()),
            None => Err(format!("Unable to remove nonexistent key: {key}: {MISSING}")),
        },
        Value::Array(items) => {
            let idx = atoi(key)?;
            if idx >= items.len() as i64 {
                return Err(invalid_index(idx));
            }
            let at = resolve_index(idx, items.len())?;
            items.remove(at);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// json-patch's `lazyNode.equal`: documents and arrays structurally, scalars by their
/// compact JSON text (so `1` and `1.0` differ).
fn json_patch_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| (v.is_null() && w.is_null()) || json_patch_equal(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_patch_equal(v, w))
        }
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        _ => a == b,
    }
}

/// `Operation.Path()` / `Operation.From()`.
fn op_field(op: &Map<String, Value>, name: &str) -> Result<String, String> {
    match op.get(name) {
        None | Some(Value::Null) => Err(format!("operation missing {name} field: {MISSING}")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(format!("json: cannot unmarshal {} into Go value of type string", json_kind(other))),
    }
}

fn apply_op(doc: &mut Value, op: &Map<String, Value>) -> Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    let value = || op.get("value").cloned().unwrap_or(Value::Null);
    let path = || op_field(op, "path");
    let from = || op_field(op, "from");
    match kind {
        "add" => {
            let path = path().map_err(|_| format!("add operation failed to decode path: {MISSING}"))?;
            let (steps, key) = find_object(doc, &path)
                .ok_or_else(|| format!("add operation does not apply: doc is missing path: \"{path}\": {MISSING}"))?;
            add(container(doc, &steps), &key, value()).map_err(|e| format!("error in add for path: '{path}': {e}"))
        }
        "remove" => {
            let path = path().map_err(|e| format!("remove operation failed to decode path: {e}"))?;
            let (steps, key) = find_object(doc, &path).ok_or_else(|| {
                format!("remove operation does not apply: doc is missing path: \"{path}\": {MISSING}")
            })?;
            remove(container(doc, &steps), &key).map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "replace" => {
            let path = path().map_err(|e| format!("replace operation failed to decode path: {e}"))?;
            if path.is_empty() {
                // A scalar replacing the whole document is silently ignored by json-patch v4.
                let value = value();
                if value.is_object() || value.is_array() {
                    *doc = value;
                }
                return Ok(());
            }
            let (steps, key) = find_object(doc, &path)
                .ok_or_else(|| format!("replace operation does not apply: doc is missing path: {path}: {MISSING}"))?;
            let con = container(doc, &steps);
            get(con, &key)
                .map_err(|_| format!("replace operation does not apply: doc is missing key: {path}: {MISSING}"))?;
            set(con, &key, value()).map_err(|e| format!("error in remove for path: '{path}': {e}"))
        }
        "move" => {
            let from = from().map_err(|e| format!("move operation failed to decode from: {e}"))?;
            let (steps, key) = find_object(doc, &from)
                .ok_or_else(|| format!("move operation does not apply: doc is missing from path: {from}: {MISSING}"))?;
            let con = container(doc, &steps);
            let moved = get(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            remove(con, &key).map_err(|e| format!("error in move for path: '{key}': {e}"))?;
            let path = path().map_err(|e| format!("move operation failed to decode path: {e}"))?;
            let (steps, key) = find_object(doc, &path).ok_or_else(|| {
                format!("move operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            add(container(doc, &steps), &key, moved.unwrap_or(Value::Null))
                .map_err(|e| format!("error in move for path: '{path}': {e}"))
        }
        "test" => {
            let path = path().map_err(|e| format!("test operation failed to decode path: {e}"))?;
            let failed = || format!("testing value {path} failed: {TEST_FAILED}");
            let expected = op.get("value");
            let actual = if path.is_empty() {
                Some(doc.clone())
            } else {
                let (steps, key) = find_object(doc, &path)
                    .ok_or_else(|| format!("test operation does not apply: is missing path: {path}: {MISSING}"))?;
                get(container(doc, &steps), &key).map_err(|e| format!("error in test for path: '{path}': {e}"))?
            };
            match (actual, expected) {
                (None, None | Some(Value::Null)) => Ok(()),
                (Some(actual), Some(expected)) if json_patch_equal(&actual, expected) => Ok(()),
                _ => Err(failed()),
            }
        }
        "copy" => {
            let from = from().map_err(|e| format!("copy operation failed to decode from: {e}"))?;
            let (steps, key) = find_object(doc, &from)
                .ok_or_else(|| format!("copy operation does not apply: doc is missing from path: {from}: {MISSING}"))?;
            let copied =
                get(container(doc, &steps), &key).map_err(|e| format!("error in copy for from: '{from}': {e}"))?;
            let path = path().map_err(|_| format!("copy operation failed to decode path: {MISSING}"))?;
            let (steps, key) = find_object(doc, &path).ok_or_else(|| {
                format!("copy operation does not apply: doc is missing destination path: {path}: {MISSING}")
            })?;
            add(container(doc, &steps), &key, copied.unwrap_or(Value::Null))
                .map_err(|e| format!("error while adding value during copy: {e}"))
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

pub(crate) fn apply(target: &Value, patch: &Value) -> Result<Value, MergeError> {
    // jsonpatch.DecodePatch: a list of operation objects (null is an empty patch).
    let ops: &[Value] = match patch {
        Value::Null => &[],
        Value::Array(ops) => ops,
        other => {
            return Err(MergeError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
                json_kind(other)
            )));
        }
    };
    if let Some(bad) = ops.iter().find(|op| !op.is_object() && !op.is_null()) {
        return Err(MergeError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            json_kind(bad)
        )));
    }
    let mut doc = target.clone();
    let empty = Map::new();
    for op in ops {
        apply_op(&mut doc, op.as_object().unwrap_or(&empty)).map_err(MergeError::Invalid)?;
    }
    Ok(doc)
}

fn merge_docs(doc: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            doc.shift_remove(key);
            continue;
        }
        let merged = match doc.get_mut(key) {
            Some(current @ Value::Object(_)) if value.is_object() => {
                if let (Value::Object(cur), Value::Object(p)) = (&mut *current, value) {
                    merge_docs(cur, p);
                }
                continue;
            }
            // An object replaced by a non-object keeps the patch's nulls (json-patch's merge()).
            Some(Value::Object(_)) => value.clone(),
            _ => {
                let mut value = value.clone();
                strip_nulls(&mut value);
                value
            }
        };
        doc.insert(key.clone(), merged);
    }
}

pub(crate) fn merge_patch(target: &Value, patch: &Value) -> Value {
    match (target, patch) {
        (Value::Object(doc), Value::Object(p)) => {
            let mut doc = doc.clone();
            merge_docs(&mut doc, p);
            Value::Object(doc)
        }
        (_, Value::Object(_) | Value::Array(_)) => {
            let mut value = patch.clone();
            strip_nulls(&mut value);
            value
        }
        _ => patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sts() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "vc", "labels": {"app": "vcluster"}},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "syncer", "image": "s:1"}]}}}})
    }

    fn invalid(patch: Value) -> String {
        match apply(&sts(), &patch) {
            Err(MergeError::Invalid(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn operations_apply_in_order() {
        let patch = json!([
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/labels/tier", "value": "control-plane"},
            {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "k3s"}},
            {"op": "copy", "from": "/spec/template/spec/containers/0/image", "path": "/metadata/labels/image"},
            {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/app.kubernetes.io~1name"},
            {"op": "remove", "path": "/spec/template/spec/containers/-2"}
        ]);
        let out = apply(&sts(), &patch).unwrap();
        assert_eq!(out["spec"]["replicas"], 3);
        assert_eq!(
            out["metadata"]["labels"],
            json!({"tier": "control-plane", "image": "s:1", "app.kubernetes.io/name": "vcluster"})
        );
        assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "k3s"}]));
    }

    #[test]
    fn failures_carry_json_patch_messages() {
        assert_eq!(
            invalid(json!([{"op": "test", "path": "/spec/replicas", "value": 2}])),
            "testing value /spec/replicas failed: test failed"
        );
        assert_eq!(
            invalid(json!([{"op": "test", "path": "/spec/replicas", "value": 1.0}])),
            "testing value /spec/replicas failed: test failed"
        );
        assert_eq!(
            invalid(json!([{"op": "add", "path": "/spec/selector/matchLabels", "value": {}}])),
            "add operation does not apply: doc is missing path: \"/spec/selector/matchLabels\": missing value"
        );
        assert_eq!(
            invalid(json!([{"op": "remove", "path": "/metadata/annotations"}])),
            "error in remove for path: '/metadata/annotations': Unable to remove nonexistent key: annotations: missing value"
        );
        assert_eq!(
            invalid(json!([{"op": "replace", "path": "/spec/template/spec/containers/5", "value": {}}])),
            "replace operation does not apply: doc is missing key: /spec/template/spec/containers/5: missing value"
        );
        assert_eq!(
            invalid(json!([{"op": "add", "path": "/spec/template/spec/containers/x", "value": {}}])),
            "error in add for path: '/spec/template/spec/containers/x': value was not a proper array index: 'x': strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            invalid(json!([{"op": "remove"}])),
            "remove operation failed to decode path: operation missing path field: missing value"
        );
        assert_eq!(invalid(json!([{"op": "frobnicate", "path": "/a"}])), "Unexpected kind: frobnicate");
        assert_eq!(invalid(json!([{"path": "/a"}])), "Unexpected kind: unknown");
        assert_eq!(
            apply(&sts(), &json!({"op": "add"})),
            Err(MergeError::BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch".into()))
        );
        assert_eq!(
            apply(&sts(), &json!(["add"])),
            Err(MergeError::BadRequest(
                "json: cannot unmarshal string into Go value of type jsonpatch.Operation".into()
            ))
        );
    }

    #[test]
    fn json_patch_v4_quirks() {
        // replace of a missing object key adds it; a test for null matches a missing key.
        let out = apply(
            &sts(),
            &json!([
                {"op": "replace", "path": "/spec/serviceName", "value": "vc-headless"},
                {"op": "test", "path": "/spec/minReadySeconds", "value": null}
            ]),
        )
        .unwrap();
        assert_eq!(out["spec"]["serviceName"], "vc-headless");
    }

    #[test]
    fn merge_patch_follows_evanphx() {
        let target = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"ports": [{"port": 80}]}});
        let patch = json!({"metadata": {"labels": {"a": null, "c": "3"}, "annotations": {"x": null, "y": "1"}},
                           "spec": {"ports": [{"port": 443, "name": null}]}});
        let out = merge_patch(&target, &patch);
        assert_eq!(
            out,
            json!({"metadata": {"labels": {"b": "2", "c": "3"}, "annotations": {"y": "1"}},
                               "spec": {"ports": [{"port": 443}]}})
        );
        assert_eq!(merge_patch(&target, &json!({"metadata": null})), json!({"spec": {"ports": [{"port": 80}]}}));
    }
}
