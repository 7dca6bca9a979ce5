//! What the controllers share (kubernetes v1.33 pkg/controller/controller_utils.go and the
//! writes every component makes through the registry).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::state::Pass;
use crate::model::jsonpath::{self, get, get_str, items};
use crate::model::options::{DeleteOpts, FieldValidation, Sub, WriteOpts};
use crate::model::resources::{self, ResId};
use crate::registry::Cluster;

pub(super) fn rid(group: &str, plural: &str) -> ResId {
    resources::find(group, "v1", plural).expect("served resource")
}

pub(super) fn opts(manager: &str) -> WriteOpts {
    WriteOpts { dry_run: false, manager: manager.into(), validation: FieldValidation::Ignore }
}

/// The stored objects of a resource (in a namespace).
pub(super) fn objects(cluster: &Cluster, res: ResId, namespace: Option<&str>) -> Vec<Arc<Value>> {
    cluster.store.list(res, namespace).map(|(_, v)| v.clone()).collect()
}

pub(super) fn being_deleted(obj: &Value) -> bool {
    get(obj, &["metadata", "deletionTimestamp"]).is_some()
}

/// The uid of the object's controller (the owner reference with `controller: true`).
pub(super) fn controller_uid(obj: &Value) -> Option<&str> {
    items(obj.get("metadata").unwrap_or(&Value::Null), "ownerReferences")
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| get_str(r, &["uid"]))
}

/// metav1.NewControllerRef
pub(super) fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": get_str(owner, &["apiVersion"]).unwrap_or_default(),
        "kind": get_str(owner, &["kind"]).unwrap_or_default(),
        "name": jsonpath::name(owner),
        "uid": jsonpath::uid(owner),
        "controller": true,
        "blockOwnerDeletion": true
    })
}

pub(super) fn condition_true(obj: &Value, kind: &str) -> bool {
    items(obj.get("status").unwrap_or(&Value::Null), "conditions")
        .any(|c| get_str(c, &["type"]) == Some(kind) && get_str(c, &["status"]) == Some("True"))
}

/// pkg/api/v1/pod `IsPodReady`, with the phase (controllers' `isRunningAndReady`).
pub(super) fn running_and_ready(pod: &Value) -> bool {
    get_str(pod, &["status", "phase"]) == Some("Running") && condition_true(pod, "Ready")
}

/// A condition with the transition time kept while its status does not change.
pub(super) fn condition(previous: &Value, kind: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    let status = if status { "True" } else { "False" };
    let before = items(previous, "conditions").find(|c| get_str(c, &["type"]) == Some(kind));
    let since = match before {
        Some(c) if get_str(c, &["status"]) == Some(status) => {
            get_str(c, &["lastTransitionTime"]).unwrap_or(now).to_string()
        }
        _ => now.to_string(),
    };
    let mut c = Map::new();
    c.insert("type".into(), kind.into());
    c.insert("status".into(), status.into());
    c.insert("lastTransitionTime".into(), since.into());
    if !reason.is_empty() {
        c.insert("reason".into(), reason.into());
    }
    if !message.is_empty() {
        c.insert("message".into(), message.into());
    }
    Value::Object(c)
}

/// Write `status` through the status subresource unless it is already there.
pub(super) fn set_status(
    cluster: &mut Cluster,
    pass: &mut Pass,
    res: ResId,
    obj: &Value,
    status: Value,
    manager: &str,
) {
    if obj.get("status") == Some(&status) {
        return;
    }
    let mut updated = obj.clone();
    updated["status"] = status;
    write(cluster, pass, res, obj, updated, Sub::Status, manager);
}

/// Write `obj` (a modified copy of a stored object) unless nothing changed.
pub(super) fn update(cluster: &mut Cluster, pass: &mut Pass, res: ResId, before: &Value, obj: Value, manager: &str) {
    if *before != obj {
        write(cluster, pass, res, before, obj, Sub::Main, manager);
    }
}

/// An unconditional update; the pass changed something only when a new resourceVersion was
/// written (the server's no-op detection may find nothing to write).
pub(super) fn write(
    cluster: &mut Cluster,
    pass: &mut Pass,
    res: ResId,
    before: &Value,
    mut obj: Value,
    sub: Sub,
    manager: &str,
) {
    jsonpath::object_at(&mut obj, &["metadata"]).remove("resourceVersion");
    let (ns, name) = (jsonpath::namespace(before).to_string(), jsonpath::name(before).to_string());
    if let Ok(w) = cluster.update(res, &ns, &name, obj, sub, &opts(manager)) {
        pass.changed |= jsonpath::meta(&w.object, "resourceVersion") != jsonpath::meta(before, "resourceVersion");
    }
}

pub(super) fn delete(cluster: &mut Cluster, pass: &mut Pass, res: ResId, obj: &Value, grace: Option<i64>) -> bool {
    let opts = DeleteOpts {
        grace_period: grace,
        uid_precondition: Some(jsonpath::uid(obj).to_string()),
        ..Default::default()
    };
    let done = cluster.delete(res, jsonpath::namespace(obj), jsonpath::name(obj), &opts).is_ok();
    pass.changed |= done;
    done
}

/// Go's `hash/fnv` 32-bit FNV-1 (`New32`) and FNV-1a (`New32a`).
pub(super) fn fnv32(data: &[u8], alternate: bool) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, b| {
        if alternate {
            (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
        } else {
            h.wrapping_mul(0x0100_0193) ^ u32::from(*b)
        }
    })
}

/// staging/src/k8s.io/apimachinery/pkg/util/rand `SafeEncodeString` of a hash's decimal form.
pub(super) fn safe_encode(hash: u32) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// JSON with object keys sorted at every level, as Go marshals a `map[string]interface{}`.
pub(super) fn sorted_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted_json(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_json).collect()),
        other => other.clone(),
    }
}

/// A pod's object created from a controller's template (pkg/controller/controller_utils.go
/// `GetPodFromTemplate`): the template's labels, annotations, finalizers and spec, the
/// controller reference, and `generateName`.
pub(super) fn pod_from_template(template: &Value, owner: &Value, generate_name: &str) -> Value {
    let meta = template.get("metadata").cloned().unwrap_or(json!({}));
    let mut metadata = Map::new();
    metadata.insert("generateName".into(), generate_name.into());
    for key in ["labels", "annotations", "finalizers"] {
        if let Some(v) = meta.get(key).filter(|v| !v.is_null()) {
            metadata.insert(key.into(), v.clone());
        }
    }
    metadata.insert("ownerReferences".into(), json!([controller_ref(owner)]));
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
}

/// The objects of `res` in `owner`'s namespace whose controller is `owner`, in key order
/// (from the store's index of dependents, as controllers look them up through their
/// informers' controller-ref indexes: kubernetes v1.33 pkg/controller/controller_ref_manager.go).
pub(super) fn owned(cluster: &Cluster, res: ResId, owner: &Value) -> Vec<Arc<Value>> {
    let (uid, ns) = (jsonpath::uid(owner), jsonpath::namespace(owner));
    cluster
        .store
        .index()
        .dependents(uid)
        .filter(|k| k.res == res && k.namespace == ns)
        .filter_map(|k| cluster.store.get(k).cloned())
        .filter(|o| controller_uid(o) == Some(uid))
        .collect()
}

/// Pods whose controller is `owner`.
pub(super) fn owned_pods(cluster: &Cluster, owner: &Value) -> Vec<Arc<Value>> {
    owned(cluster, rid("", "pods"), owner)
}

pub(super) fn int(v: &Value, path: &[&str]) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_go() {
        // hash/fnv test vectors: FNV-1 and FNV-1a of "a".
        assert_eq!(fnv32(b"a", false), 0x050c5d7e);
        assert_eq!(fnv32(b"a", true), 0xe40c292c);
        // rand.SafeEncodeString maps each byte modulo the alphabet.
        assert_eq!(safe_encode(0), "4");
        assert_eq!(safe_encode(123), "567");
    }
}
