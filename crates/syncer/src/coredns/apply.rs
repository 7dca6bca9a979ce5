//! Apply manifest objects to the virtual cluster, `kubectl apply`-style: each object created
//! when missing, changed when it differs from what it should be, left alone otherwise.
//!
//! Upstream (loft-sh/vcluster v0.15.7 `pkg/util/applier/direct.go`) runs kubectl's client-side
//! apply with field manager `vcluster`: a three-way strategic merge of the last applied
//! configuration (annotation), the manifest and the live object, which needs every type's
//! merge keys. This uses **server-side apply** instead (same field manager, `force`): the
//! API server does the merge with the real schema, for any kind a user bundle holds, and fields
//! a previous apply set and this one drops are removed as with client-side apply. To stay
//! idempotent — a restart with nothing changed makes **no write** — each existing object is
//! applied as a dry run first and written only when the answer differs from the live object
//! (ignoring `managedFields` and `resourceVersion`). Objects the established syncer applied
//! (client-side, annotation `kubectl.kubernetes.io/last-applied-configuration`) compare equal
//! when their fields are the same, so taking over from it writes nothing either.

use std::collections::HashMap;

use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::{Api, Client};
use serde_json::Value;

use super::error::CorednsError;

/// The field manager of the apply (upstream's `applier.ApplyManifest` uses `vcluster`).
pub(crate) const FIELD_MANAGER: &str = "vcluster";

/// How many objects were created, changed and left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// Apply `objects` in order. Every object is tried; the errors are returned together (the
/// caller retries the whole bundle, as upstream re-runs `kubectl apply`). `keep` may copy
/// fields of the live object into the desired one before the comparison.
pub(crate) async fn apply_all(
    client: &Client,
    objects: Vec<Value>,
    keep: fn(&mut Value, &Value),
) -> Result<Report, CorednsError> {
    let mut report = Report::default();
    let mut errors = Vec::new();
    let mut kinds: HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)> = HashMap::new();
    let total = objects.len();
    for (index, object) in objects.into_iter().enumerate() {
        match apply_one(client, index, object, keep, &mut kinds).await {
            Ok(Applied::Created) => report.created += 1,
            Ok(Applied::Updated) => report.updated += 1,
            Ok(Applied::Unchanged) => report.unchanged += 1,
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(report),
        1 => Err(errors.remove(0)),
        _ => Err(CorednsError::Several(errors, total)),
    }
}

enum Applied {
    Created,
    Updated,
    Unchanged,
}

async fn apply_one(
    client: &Client,
    index: usize,
    mut object: Value,
    keep: fn(&mut Value, &Value),
    kinds: &mut HashMap<GroupVersionKind, (ApiResource, ApiCapabilities)>,
) -> Result<Applied, CorednsError> {
    let invalid = |reason: &str| CorednsError::Object { index, reason: reason.to_owned() };
    let api_version =
        object["apiVersion"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| invalid("no apiVersion"))?.to_owned();
    let kind = object["kind"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| invalid("no kind"))?.to_owned();
    let name = object["metadata"]["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("no metadata.name"))?
        .to_owned();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (String::new(), api_version.clone()),
    };
    let gvk = GroupVersionKind { group, version, kind: kind.clone() };
    if !kinds.contains_key(&gvk) {
        let found = kube::discovery::pinned_kind(client, &gvk).await.map_err(|source| CorednsError::Discovery {
            api_version: api_version.clone(),
            kind: kind.clone(),
            source,
        })?;
        kinds.insert(gvk.clone(), found);
    }
    let (resource, capabilities) = &kinds[&gvk];
    let metadata = object.get_mut("metadata").and_then(Value::as_object_mut).ok_or_else(|| invalid("no metadata"))?;
    let api: Api<DynamicObject> = if capabilities.scope == Scope::Namespaced {
        // kubectl's default namespace for objects without one.
        let namespace =
            metadata.get("namespace").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("default").to_owned();
        metadata.insert("namespace".into(), Value::String(namespace.clone()));
        Api::namespaced_with(client.clone(), &namespace, resource)
    } else {
        metadata.remove("namespace");
        Api::all_with(client.clone(), resource)
    };
    let shown = match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    let failed = |verb: &'static str| {
        let (kind, display) = (kind.clone(), shown.clone());
        move |source| CorednsError::Apply { verb, kind, name: display, source }
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let live = api.get_opt(&name).await.map_err(failed("get"))?;
    let Some(live) = live else {
        tracing::info!("coredns: create {kind} {shown}");
        api.patch(&name, &params, &Patch::Apply(&object)).await.map_err(failed("create"))?;
        return Ok(Applied::Created);
    };
    let live = serde_json::to_value(&live).unwrap_or_default();
    keep(&mut object, &live);
    let dry =
        api.patch(&name, &params.clone().dry_run(), &Patch::Apply(&object)).await.map_err(failed("dry-run apply"))?;
    let dry = serde_json::to_value(&dry).unwrap_or_default();
    if comparable(dry) == comparable(live) {
        return Ok(Applied::Unchanged);
    }
    tracing::info!("coredns: update {kind} {shown}, because the manifest differs");
    api.patch(&name, &params, &Patch::Apply(&object)).await.map_err(failed("apply"))?;
    Ok(Applied::Updated)
}

/// An object without what every write changes by itself.
fn comparable(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
        metadata.remove("resourceVersion");
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_ignores_bookkeeping_only() {
        let a = serde_json::json!({"metadata": {"name": "x", "resourceVersion": "1", "managedFields": [1]}, "data": {"k": "v"}});
        let b = serde_json::json!({"metadata": {"name": "x", "resourceVersion": "2"}, "data": {"k": "v"}});
        assert_eq!(comparable(a.clone()), comparable(b));
        let c = serde_json::json!({"metadata": {"name": "x"}, "data": {"k": "w"}});
        assert_ne!(comparable(a), comparable(c));
    }
}
