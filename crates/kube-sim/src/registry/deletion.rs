//! Deletion: preconditions, propagation policies and their finalizers (the garbage collector
//! in crate::controllers::lifecycle does the rest), graceful pod deletion, namespace deletion,
//! deletecollection (kubernetes v1.33 staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go
//! `Delete`, pkg/registry/rest/delete.go `BeforeDelete`).

use serde_json::{Map, Value, json};

use super::cluster::{Cluster, changes_nothing, key};
use crate::model::jsonpath::{self, get, get_str, object_at};
use crate::model::options::{DeleteOpts, ListOpts};
use crate::model::resources::{self, ResId, ResourceDef};
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError};
use crate::model::util::now_rfc3339;

/// Namespaces that always exist and may not be deleted
/// (plugin/pkg/admission/namespace/lifecycle: immortal namespaces).
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// The answer to a delete: the body and its status code.
#[derive(Debug)]
pub struct Deleted {
    pub body: Value,
    pub code: u16,
}

impl Cluster {
    /// staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/validation `ValidateDeleteOptions`.
    pub fn validate_delete_opts(opts: &DeleteOpts) -> ApiResult<()> {
        let mut errs = Vec::new();
        if opts.orphan_dependents.is_some() && opts.propagation.is_some() {
            errs.push(FieldError::invalid(
                "propagationPolicy",
                BadValue::Str(opts.propagation.clone().unwrap_or_default()),
                "orphanDependents and deletionPropagation cannot be both set",
            ));
        }
        if let Some(p) = &opts.propagation
            && !["Foreground", "Background", "Orphan"].contains(&p.as_str())
        {
            errs.push(FieldError::not_supported(
                "propagationPolicy",
                BadValue::str(p),
                &["Foreground", "Background", "Orphan", "nil"],
            ));
        }
        if errs.is_empty() { Ok(()) } else { Err(ApiError::invalid("meta.k8s.io", "DeleteOptions", "", &errs)) }
    }

    pub fn delete(&mut self, res_id: ResId, ns: &str, name: &str, opts: &DeleteOpts) -> ApiResult<Deleted> {
        Self::validate_delete_opts(opts)?;
        let res = resources::by_id(res_id);
        let k = key(res_id, ns, name);
        let live = self.live(res_id, ns, name)?;
        let obj_uid = jsonpath::uid(&live).to_string();
        let obj_rv = get_str(&live, &["metadata", "resourceVersion"]).unwrap_or_default().to_string();
        let is_namespace = res.kind == "Namespace" && res.group.is_empty();
        if is_namespace {
            // pkg/registry/core/namespace/storage/storage.go `Delete` checks the preconditions
            // itself, before anything else: `errors.NewConflict(namespaces, …)`.
            if let Some(uid) = opts.uid_precondition.as_ref().filter(|uid| **uid != obj_uid) {
                return Err(ApiError::conflict(
                    res,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {obj_uid}"),
                ));
            }
            if let Some(rv) = opts.rv_precondition.as_ref().filter(|rv| **rv != obj_rv) {
                return Err(ApiError::conflict(
                    res,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {obj_rv}"
                    ),
                ));
            }
        }
        // staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go `BeforeDelete` checks the
        // preconditions against the live object "to fail early", with a Conflict on the
        // object's *kind* (`schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}`:
        // `ConfigMap`, `StatefulSet.apps`). The storage layer's own check (`StorageError: invalid
        // object, Code: 4 …`) answers only a write racing in between, which cannot happen here.
        if let Some(uid) = opts.uid_precondition.as_ref().filter(|uid| **uid != obj_uid) {
            return Err(ApiError::conflict_on(
                res.group,
                res.kind,
                name,
                &format!(
                    "the UID in the precondition ({uid}) does not match the UID in record ({obj_uid}). The object might have been deleted and then recreated"
                ),
            ));
        }
        if let Some(rv) = opts.rv_precondition.as_ref().filter(|rv| **rv != obj_rv) {
            return Err(ApiError::conflict_on(
                res.group,
                res.kind,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({obj_rv}). The object might have been modified"
                ),
            ));
        }
        let now = now_rfc3339();
        if is_namespace {
            return self.delete_namespace(res_id, &live, opts, &now);
        }
        let policy = match (&opts.propagation, opts.orphan_dependents) {
            (Some(p), _) => p.clone(),
            (None, Some(true)) => "Orphan".into(),
            _ => "Background".into(),
        };
        let mut finalizers = jsonpath::finalizers(&live);
        finalizers.retain(|f| f != "orphan" && f != "foregroundDeletion");
        match policy.as_str() {
            "Orphan" => finalizers.push("orphan".into()),
            "Foreground" => finalizers.push("foregroundDeletion".into()),
            _ => {}
        }
        // A policy that needs the garbage collector keeps its finalizer only when it was asked
        // for explicitly or the object already carried one.
        let already_deleting = get(&live, &["metadata", "deletionTimestamp"]).is_some();
        // pkg/registry/rest/delete.go `BeforeDelete`: a pod already terminating whose grace
        // period is cut to 0 (the kubelet's final delete, or a forced one) goes at once.
        let is_pod = res.kind == "Pod" && res.group.is_empty();
        if is_pod && already_deleting && opts.grace_period == Some(0) && finalizers.is_empty() && !opts.dry_run {
            let last = self.store.remove(&k).expect("live object exists");
            return Ok(Deleted { body: deleted_body(res, &last), code: 200 });
        }
        if !finalizers.is_empty() || already_deleting {
            let mut updated = (*live).clone();
            if !already_deleting {
                let meta = object_at(&mut updated, &["metadata"]);
                meta.insert("deletionTimestamp".into(), now.clone().into());
                meta.insert("deletionGracePeriodSeconds".into(), 0.into());
                if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
                    meta.insert("generation".into(), (g + 1).into());
                }
            }
            if !finalizers.is_empty() || jsonpath::finalizers(&live).is_empty() {
                jsonpath::set_finalizers(&mut updated, &finalizers);
            }
            let body = if opts.dry_run || changes_nothing(&updated, &live) {
                updated
            } else if finalizers.is_empty() {
                // Re-deleting an object whose finalizers are gone completes the deletion.
                self.store.put(k.clone(), updated);
                (*self.store.remove(&k).expect("just stored")).clone()
            } else {
                (*self.store.put(k, updated)).clone()
            };
            let code = if opts.orphan_dependents == Some(false) { 202 } else { 200 };
            return Ok(Deleted { body, code });
        }
        let graceful_pod = is_pod
            && !get_str(&live, &["spec", "nodeName"]).unwrap_or_default().is_empty()
            && opts.grace_period.unwrap_or(1) > 0
            && !matches!(get_str(&live, &["status", "phase"]), Some("Succeeded" | "Failed"));
        if opts.dry_run {
            return Ok(Deleted { body: deleted_body(res, &live), code: 200 });
        }
        if graceful_pod {
            // pkg/registry/core/pod/strategy.go CheckGracefulDelete: a bound pod is marked and
            // the kubelet deletes it (without either workload mode, the deletion completes at
            // once).
            let grace = opts
                .grace_period
                .or_else(|| get(&live, &["spec", "terminationGracePeriodSeconds"]).and_then(Value::as_i64))
                .unwrap_or(30);
            let mut marked = (*live).clone();
            let deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
            let meta = object_at(&mut marked, &["metadata"]);
            meta.insert("deletionTimestamp".into(), crate::model::util::format_time(deadline).into());
            meta.insert("deletionGracePeriodSeconds".into(), grace.into());
            if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
                meta.insert("generation".into(), (g + 1).into());
            }
            let marked = (*self.store.put(k.clone(), marked)).clone();
            if !self.graceful_pod_deletion {
                self.store.remove(&k);
            }
            return Ok(Deleted { body: marked, code: 200 });
        }
        let last = self.store.remove(&k).expect("live object exists");
        Ok(Deleted { body: deleted_body(res, &last), code: 200 })
    }

    /// pkg/registry/core/namespace/storage/storage.go `Delete`: a namespace with finalizers
    /// becomes Terminating; the namespace controller empties and finalizes it.
    fn delete_namespace(&mut self, res_id: ResId, live: &Value, opts: &DeleteOpts, now: &str) -> ApiResult<Deleted> {
        let name = jsonpath::name(live).to_string();
        if IMMORTAL_NAMESPACES.contains(&name.as_str()) {
            return Err(ApiError::forbidden("", "namespaces", &name, "this namespace may not be deleted"));
        }
        // Deleted again while Terminating: the namespace as it is, 200 (storage.go: "prior to
        // final deletion, we must ensure that finalizers is empty" — `return namespace, false,
        // nil` while `spec.finalizers` is not; the namespace controller empties it last, and
        // removes the namespace itself here).
        if get(live, &["metadata", "deletionTimestamp"]).is_some() {
            return Ok(Deleted { body: live.clone(), code: 200 });
        }
        let mut updated = live.clone();
        let meta = object_at(&mut updated, &["metadata"]);
        meta.insert("deletionTimestamp".into(), now.into());
        meta.insert("deletionGracePeriodSeconds".into(), 0.into());
        object_at(&mut updated, &["status"]).insert("phase".into(), "Terminating".into());
        let has_spec_finalizers =
            get(&updated, &["spec", "finalizers"]).and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if opts.dry_run {
            return Ok(Deleted { body: updated, code: 200 });
        }
        let k = key(res_id, "", &name);
        if !has_spec_finalizers && jsonpath::finalizers(&updated).is_empty() {
            let last = self.store.remove(&k).expect("live");
            return Ok(Deleted { body: (*last).clone(), code: 200 });
        }
        let stored = (*self.store.put(k, updated)).clone();
        Ok(Deleted { body: stored, code: 200 })
    }

    pub fn delete_collection(
        &mut self,
        res_id: ResId,
        ns: Option<&str>,
        list: &ListOpts,
        opts: &DeleteOpts,
    ) -> ApiResult<Value> {
        Self::validate_delete_opts(opts)?;
        let res = resources::by_id(res_id);
        let listed = self.list(res_id, ns, &ListOpts { limit: None, continue_token: None, ..list.clone() })?;
        let mut items = Vec::new();
        for obj in listed.items {
            match self.delete(res_id, jsonpath::namespace(&obj), jsonpath::name(&obj), opts) {
                Ok(_) => items.push((*obj).clone()),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "kind": format!("{}List", res.kind),
            "apiVersion": res.api_version(),
            "metadata": { "resourceVersion": self.store.resource_version().to_string() },
            "items": items,
        }))
    }
}

/// store.go `finalizeDelete`: the deleted object, or a Status naming it.
fn deleted_body(res: &ResourceDef, last: &Value) -> Value {
    if res.returns_deleted_object {
        return last.clone();
    }
    let mut details = Map::new();
    details.insert("name".into(), jsonpath::name(last).into());
    if !res.group.is_empty() {
        details.insert("group".into(), res.group.into());
    }
    details.insert("kind".into(), res.plural.into());
    details.insert("uid".into(), jsonpath::uid(last).into());
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details })
}
