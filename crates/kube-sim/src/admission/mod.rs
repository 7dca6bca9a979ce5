//! Admission: everything between a decoded object and storage, in kube-apiserver's order —
//! the registry strategies' PrepareForCreate/PrepareForUpdate (identity, system metadata,
//! status per subresource), defaulting, Service IP and port allocation, validation,
//! generation, managedFields — and the NamespaceLifecycle admission plugin.
//!
//! Sources (kubernetes v1.33): staging/src/k8s.io/apiserver/pkg/registry/rest/{create,update}.go,
//! plugin/pkg/admission/namespace/lifecycle/admission.go, pkg/registry/*/strategy.go.

pub mod defaults;
pub mod services;
pub mod validation;

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::merge;
use crate::model::jsonpath::{self, get, get_str, object_at};
use crate::model::options::Sub;
use crate::model::resources::{self, ResId, ResourceDef};
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError};
use crate::model::util::{new_uid, now_rfc3339};
use services::{InUse, ServiceNetwork};

/// Who writes what: the resource, the request namespace, the subresource, the field manager
/// (None: managedFields already computed, as by server-side apply) and dry run.
pub struct Write<'a> {
    pub res_id: ResId,
    pub ns: &'a str,
    pub sub: Sub,
    pub manager: Option<&'a str>,
    pub dry_run: bool,
}

/// NamespaceLifecycle for a create of `name` in namespace `ns` (`namespace`: the stored
/// Namespace, if any): a missing namespace is a 404, a terminating one a 403.
pub fn namespace_lifecycle(res: &ResourceDef, ns: &str, name: &str, namespace: Option<&Value>) -> ApiResult<()> {
    if !res.namespaced {
        return Ok(());
    }
    let Some(namespace) = namespace else {
        return Err(ApiError::not_found_resource("", "namespaces", ns));
    };
    if get_str(namespace, &["status", "phase"]) == Some("Terminating") {
        let mut err = ApiError::forbidden(
            res.group,
            res.plural,
            name,
            &format!("unable to create new content in namespace {ns} because it is being terminated"),
        );
        if let Some(d) = err.details.as_mut() {
            d["causes"] = json!([{ "reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace" }]);
        }
        return Err(err);
    }
    Ok(())
}

/// Everything but metadata and status: what bumps `metadata.generation` when it changes.
fn generation_relevant(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

/// Everything between a decoded object and storage: identity, system metadata, status
/// handling per subresource, defaults, allocation, validation, generation, managedFields.
pub fn admit<'s>(
    write: &Write<'_>,
    network: &ServiceNetwork,
    services_in_use: impl FnOnce() -> InUse<'s>,
    mut new: Value,
    old: Option<&Value>,
) -> ApiResult<Value> {
    let Write { res_id, ns, sub, manager, dry_run } = *write;
    let res = resources::by_id(res_id);
    let now = now_rfc3339();
    if let Some(old) = old {
        new = match sub {
            Sub::Main => new,
            Sub::Status => {
                let mut merged = old.clone();
                merged["status"] = new.get("status").cloned().unwrap_or(json!({}));
                if let Some(mf) = get(&new, &["metadata", "managedFields"]) {
                    object_at(&mut merged, &["metadata"]).insert("managedFields".into(), mf.clone());
                }
                merged
            }
            Sub::Finalize => {
                let mut merged = old.clone();
                let finalizers = get(&new, &["spec", "finalizers"]).cloned().unwrap_or(json!([]));
                object_at(&mut merged, &["spec"]).insert("finalizers".into(), finalizers);
                merged
            }
        };
    }
    {
        let obj = new.as_object_mut().expect("objects are JSON objects");
        obj.insert("apiVersion".into(), res.api_version().into());
        obj.insert("kind".into(), res.kind.into());
    }
    let meta = object_at(&mut new, &["metadata"]);
    if res.namespaced {
        meta.insert("namespace".into(), ns.into());
    } else {
        meta.remove("namespace");
    }
    meta.remove("selfLink");
    match old {
        Some(old) => {
            for k in
                ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name"]
            {
                match get(old, &["metadata", k]) {
                    Some(v) => {
                        meta.insert(k.into(), v.clone());
                    }
                    None => {
                        meta.remove(k);
                    }
                }
            }
            if sub == Sub::Main && res.has_status() {
                match old.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        new.as_object_mut().expect("object").remove("status");
                    }
                }
            }
            if res.kind == "Namespace" && res.group.is_empty() && sub == Sub::Main {
                let finalizers = get(old, &["spec", "finalizers"]).cloned();
                let spec = object_at(&mut new, &["spec"]);
                match finalizers {
                    Some(f) => spec.insert("finalizers".into(), f),
                    None => spec.remove("finalizers"),
                };
            }
        }
        None => {
            meta.insert("uid".into(), new_uid().into());
            meta.insert("creationTimestamp".into(), now.clone().into());
            for k in ["deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
                meta.remove(k);
            }
            prepare_for_create(res, &mut new);
        }
    }
    if sub == Sub::Main {
        defaults::apply(res.group, res.kind, &mut new);
    }
    if res.group.is_empty() && res.kind == "Namespace" {
        // pkg/registry/core/namespace/strategy.go: PrepareForCreate and PrepareForUpdate
        // keep the kubernetes.io/metadata.name label equal to the name.
        let name = jsonpath::name(&new).to_string();
        object_at(&mut new, &["metadata", "labels"]).insert("kubernetes.io/metadata.name".into(), name.into());
    }
    if res.kind == "Service" && res.group.is_empty() {
        network.allocate(&mut new, old, &services_in_use(), dry_run)?;
    }
    let name = jsonpath::name(&new).to_string();
    let mut errs = validation::validate(res, &new, old);
    if sub == Sub::Status && res.group == "apps" && res.kind == "StatefulSet" {
        validation::statefulset_status(&new, old, &mut errs);
    }
    if let Some(old) = old
        && get(old, &["metadata", "deletionTimestamp"]).is_some()
    {
        let before: HashSet<String> = jsonpath::finalizers(old).into_iter().collect();
        let added: Vec<String> = jsonpath::finalizers(&new).into_iter().filter(|f| !before.contains(f)).collect();
        if !added.is_empty() {
            errs.push(FieldError::forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    BadValue::string_slice(&added).shown()
                ),
            ));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid_object(res, &name, &errs));
    }
    if res.tracks_generation {
        let generation = match old {
            None => 1,
            Some(old) => {
                let g = get(old, &["metadata", "generation"]).and_then(Value::as_i64).unwrap_or(1);
                if generation_relevant(old) != generation_relevant(&new) { g + 1 } else { g }
            }
        };
        object_at(&mut new, &["metadata"]).insert("generation".into(), generation.into());
    }
    if let Some(manager) = manager {
        let schema = merge::Schema::k8s_1_33();
        new = merge::record_update(schema, &res.gvk(), old, new, manager, sub.name(), &now).map_err(ApiError::from)?;
    }
    Ok(new)
}

/// The status of a freshly created object (the registries' `PrepareForCreate`).
fn prepare_for_create(res: &ResourceDef, obj: &mut Value) {
    let o = obj.as_object_mut().expect("object");
    let is_namespace = res.group.is_empty() && res.kind == "Namespace";
    if !(res.has_status() || is_namespace) {
        return;
    }
    let status = match (res.group, res.kind) {
        ("", "Pod") => json!({ "phase": "Pending", "qosClass": qos_class(o.get("spec")) }),
        ("", "Service") | ("networking.k8s.io", "Ingress") => json!({ "loadBalancer": {} }),
        ("", "PersistentVolumeClaim") => json!({ "phase": "Pending" }),
        ("", "Namespace") => json!({ "phase": "Active" }),
        ("apps", "StatefulSet") => json!({ "replicas": 0, "availableReplicas": 0 }),
        ("apps", "ReplicaSet") => json!({ "replicas": 0 }),
        ("policy", "PodDisruptionBudget") => {
            json!({ "disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0 })
        }
        ("", "Node") => o.get("status").cloned().unwrap_or(json!({})),
        _ => json!({}),
    };
    o.insert("status".into(), status);
    if res.group.is_empty() && res.kind == "Namespace" {
        // pkg/registry/core/namespace/strategy.go PrepareForCreate: the kubernetes finalizer.
        object_at(obj, &["spec"]).insert("finalizers".into(), json!(["kubernetes"]));
    }
}

/// pkg/apis/core/helper/qos `GetPodQOS` (Guaranteed, Burstable or BestEffort).
fn qos_class(spec: Option<&Value>) -> &'static str {
    let containers: Vec<&Value> = spec.map(|s| jsonpath::items(s, "containers").collect()).unwrap_or_default();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let requests = get(c, &["resources", "requests"]).and_then(Value::as_object);
        let limits = get(c, &["resources", "limits"]).and_then(Value::as_object);
        any |= requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty());
        let full =
            |m: Option<&Map<String, Value>>| m.is_some_and(|m| m.contains_key("cpu") && m.contains_key("memory"));
        guaranteed &=
            full(limits) && requests.is_none_or(|r| r.iter().all(|(k, v)| limits.and_then(|l| l.get(k)) == Some(v)));
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(Some(&json!({"containers": [{"name": "a"}]}))), "BestEffort");
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class(Some(&g)), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class(Some(&b)), "Burstable");
    }
}
