//! The simulated cluster's objects and the REST writes on them, with kube-apiserver's
//! pipeline: decode (typed, fieldValidation), admission, defaulting, allocation, validation,
//! managedFields, optimistic concurrency, no-op detection, dry run.
//!
//! Handlers modelled on kubernetes v1.33 staging/src/k8s.io/apiserver/pkg/endpoints/handlers/
//! {create,update,patch,delete,get}.go and
//! staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go.

use std::sync::Arc;

use serde_json::Value;

use super::decode;
use super::store::{Key, Store};
use crate::admission::{
    self,
    services::{InUse, ServiceNetwork},
};
use crate::merge;
use crate::model::jsonpath::{self, get, get_str, object_at};
use crate::model::options::{PatchKind, Sub, WriteOpts};
use crate::model::resources::{self, ResId, ResourceDef};
use crate::model::status::{ApiError, ApiResult};
use crate::model::util::{name_suffix, now_rfc3339};

pub struct Cluster {
    pub store: Store,
    pub network: ServiceNetwork,
    /// Whether the graceful deletion of a pod bound to a node waits for its final delete (by
    /// the simulated kubelet, or by a client when the control plane runs alone); otherwise
    /// (neither workload mode) it completes at once.
    pub graceful_pod_deletion: bool,
    /// The CA bundle kube-controller-manager publishes in every namespace's
    /// `kube-root-ca.crt` ConfigMap (`--root-ca-file`): the serving CA with TLS, else a CA
    /// generated for it alone.
    pub root_ca: String,
}

/// Whether writing `new` over `old` changes nothing: they are equal but for what no-op
/// detection ignores, managedFields timestamps (the only thing an identical apply or update
/// would change, and the apiserver keeps the old ones) and the resourceVersion `new` was sent
/// with (it gets `old`'s). Compared in place: most writes reach this check, and copies of
/// both sides cost more than the comparison.
pub(super) fn changes_nothing(new: &Value, old: &Value) -> bool {
    let (Value::Object(new), Value::Object(old)) = (new, old) else { return new == old };
    new.len() == old.len()
        && old.iter().all(|(key, o)| match (key.as_str(), new.get(key)) {
            (_, None) => false,
            ("metadata", Some(n)) => same_metadata(n, o),
            (_, Some(n)) => n == o,
        })
}

fn same_metadata(new: &Value, old: &Value) -> bool {
    let (Value::Object(new), Value::Object(old)) = (new, old) else { return new == old };
    // The resourceVersion `new` is stored with is `old`'s, when `old` has one.
    let gains_version = old.contains_key("resourceVersion") && !new.contains_key("resourceVersion");
    new.len() + usize::from(gains_version) == old.len()
        && old.iter().all(|(key, o)| match (key.as_str(), new.get(key)) {
            ("resourceVersion", _) => true,
            (_, None) => false,
            ("managedFields", Some(n)) => same_but_times(n, o),
            (_, Some(n)) => n == o,
        })
}

/// managedFields entries equal but for their `time`.
fn same_but_times(new: &Value, old: &Value) -> bool {
    let (Value::Array(new), Value::Array(old)) = (new, old) else { return new == old };
    let fields = |e: &serde_json::Map<String, Value>| e.iter().filter(|(k, _)| k.as_str() != "time").count();
    new.len() == old.len()
        && new.iter().zip(old).all(|(n, o)| match (n, o) {
            (Value::Object(n), Value::Object(o)) => {
                fields(n) == fields(o)
                    && o.iter().filter(|(k, _)| k.as_str() != "time").all(|(k, v)| n.get(k) == Some(v))
            }
            _ => n == o,
        })
}

/// Whether finalizers still hold an object that is being deleted (a namespace's
/// `spec.finalizers` hold it too).
pub(super) fn holds_deletion(obj: &Value) -> bool {
    let spec_finalizers = get(obj, &["spec", "finalizers"]).and_then(Value::as_array).is_some_and(|f| !f.is_empty());
    let is_namespace = get_str(obj, &["kind"]) == Some("Namespace") && get_str(obj, &["apiVersion"]) == Some("v1");
    !jsonpath::finalizers(obj).is_empty() || (is_namespace && spec_finalizers)
}

/// applyPatcher: the applied configuration names the URL's group version and kind.
fn check_apply_identity(res: &ResourceDef, patch: &Value) -> ApiResult<()> {
    let api_version = get_str(patch, &["apiVersion"]).unwrap_or_default();
    let kind = get_str(patch, &["kind"]).unwrap_or_default();
    if api_version != res.api_version() {
        return Err(ApiError::bad_request(format!(
            "Incorrect version specified in apply patch. Specified patch version: {api_version}, expected: {}",
            res.api_version()
        )));
    }
    if kind != res.kind {
        return Err(ApiError::bad_request(format!(
            "Incorrect kind specified in apply patch. Specified patch kind: {kind}, expected: {}",
            res.kind
        )));
    }
    Ok(())
}

/// The result of a write.
#[derive(Debug)]
pub struct Written {
    pub object: Value,
    pub created: bool,
    pub warnings: Vec<String>,
}

pub(super) fn key(res: ResId, ns: &str, name: &str) -> Key {
    let namespaced = resources::by_id(res).namespaced;
    Key { res, namespace: if namespaced { ns.to_string() } else { String::new() }, name: name.to_string() }
}

impl Cluster {
    pub fn new(network: ServiceNetwork, history_limit: usize) -> Self {
        Cluster { store: Store::new(history_limit), network, graceful_pod_deletion: false, root_ca: String::new() }
    }

    pub(super) fn live(&self, res: ResId, ns: &str, name: &str) -> ApiResult<Arc<Value>> {
        self.store.get(&key(res, ns, name)).cloned().ok_or_else(|| ApiError::not_found(resources::by_id(res), name))
    }

    pub fn get(&self, res: ResId, ns: &str, name: &str) -> ApiResult<Arc<Value>> {
        self.live(res, ns, name)
    }

    /// Every object, sorted by group, kind, namespace and name.
    pub fn snapshot(&self) -> Vec<Value> {
        self.store.all().map(|(_, v)| (**v).clone()).collect()
    }

    /// NamespaceLifecycle admission for a create of `name` in `ns`.
    fn namespace_admission(&self, res: &ResourceDef, ns: &str, name: &str) -> ApiResult<()> {
        let ns_res = resources::find("", "v1", "namespaces").expect("namespaces served");
        let namespace = self.store.get(&key(ns_res, "", ns));
        admission::namespace_lifecycle(res, ns, name, namespace.map(|n| &**n))
    }

    /// The ServiceAccount admission plugin on a pod create (kubernetes v1.33
    /// plugin/pkg/admission/serviceaccount/admission.go `Admit`, `getServiceAccount`): the pod's
    /// ServiceAccount (`default` when unnamed) must exist, else 403 `pods "<name>" is forbidden:
    /// error looking up service account <ns>/<sa>: serviceaccount "<sa>" not found`, the name
    /// being the generateName before one is generated (admission/errors.go
    /// `extractResourceName`). Mirror pods are left alone. The plugin retries the `default`
    /// ServiceAccount for a while, as the service-account controller creates it a moment after
    /// the namespace: here it is created at once when missing from an active namespace, what
    /// that controller would do.
    fn service_account_admission(&mut self, ns: &str, pod: &Value, shown: &str, dry_run: bool) -> ApiResult<()> {
        if get(pod, &["metadata", "annotations", "kubernetes.io/config.mirror"]).is_some() {
            return Ok(());
        }
        let sa = get_str(pod, &["spec", "serviceAccountName"]).filter(|s| !s.is_empty()).unwrap_or("default");
        let sa_res = resources::find("", "v1", "serviceaccounts").expect("serviceaccounts served");
        if self.store.get(&key(sa_res, ns, sa)).is_some() {
            return Ok(());
        }
        if sa == "default" {
            let opts = WriteOpts {
                dry_run: false,
                manager: "kube-controller-manager".into(),
                validation: crate::model::options::FieldValidation::Ignore,
            };
            if dry_run
                || self.create(sa_res, ns, serde_json::json!({ "metadata": { "name": "default" } }), &opts).is_ok()
            {
                return Ok(());
            }
        }
        Err(ApiError::forbidden(
            "",
            "pods",
            shown,
            &format!("error looking up service account {ns}/{sa}: serviceaccount {} not found", merge::go_quote(sa)),
        ))
    }

    /// The IPs and node ports of every stored Service but the one at `except` (from the
    /// store's index, as kube-apiserver's allocators keep them: kubernetes v1.33
    /// pkg/registry/core/service/ipallocator, pkg/registry/core/service/portallocator).
    fn services_in_use(&self, except: Option<&Key>) -> InUse<'_> {
        let except = except.and_then(|k| self.store.get(k)).map(|v| &**v);
        InUse::new(&self.store.index().allocated, except)
    }

    /// Admission of a write (see [`admission::admit`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit(
        &self,
        res_id: ResId,
        ns: &str,
        new: Value,
        old: Option<&Value>,
        sub: Sub,
        manager: Option<&str>,
        dry_run: bool,
    ) -> ApiResult<Value> {
        let write = admission::Write { res_id, ns, sub, manager, dry_run };
        // An update does not collide with the Service's own addresses.
        let except = old.map(|_| key(res_id, ns, jsonpath::name(&new)));
        admission::admit(&write, &self.network, || self.services_in_use(except.as_ref()), new, old)
    }

    /// Store `new` unless it changes nothing; an object being deleted whose last finalizer is
    /// gone is deleted instead (store.go `deleteWithoutFinalizers`).
    pub(super) fn commit(&mut self, res_id: ResId, new: Value, old: Option<&Value>, dry_run: bool) -> Value {
        if let Some(old) = old {
            if changes_nothing(&new, old) {
                return old.clone();
            }
            if dry_run {
                let mut candidate = new;
                if let Some(rv) = get(old, &["metadata", "resourceVersion"]) {
                    object_at(&mut candidate, &["metadata"]).insert("resourceVersion".into(), rv.clone());
                }
                return candidate;
            }
        } else if dry_run {
            return new;
        }
        let k = key(res_id, jsonpath::namespace(&new), jsonpath::name(&new));
        if get(&new, &["metadata", "deletionTimestamp"]).is_some() && !holds_deletion(&new) {
            self.store.put(k.clone(), new);
            return (*self.store.remove(&k).expect("just stored")).clone();
        }
        (*self.store.put(k, new)).clone()
    }

    // ---------------------------------------------------------------- create / update / patch

    pub fn create(&mut self, res_id: ResId, ns: &str, body: Value, opts: &WriteOpts) -> ApiResult<Written> {
        let res = resources::by_id(res_id);
        let mut warnings = Vec::new();
        let mut obj = decode::body(res, body, opts.validation, &mut warnings)?;
        self.ensure_namespace_matches(res, ns, &mut obj)?;
        if !opts.dry_run && get_str(&obj, &["metadata", "resourceVersion"]).is_some_and(|rv| !rv.is_empty()) {
            // staging/src/k8s.io/apiserver/pkg/storage/errors.go ErrResourceVersionSetOnCreate
            return Err(ApiError::unconverted("resourceVersion should not be set on objects to be created"));
        }
        let object = self.create_decoded(res_id, ns, obj, Some(&opts.manager), opts.dry_run)?;
        Ok(Written { object, created: true, warnings })
    }

    /// Create an already-decoded object (`manager` None: managedFields already computed).
    fn create_decoded(
        &mut self,
        res_id: ResId,
        ns: &str,
        mut obj: Value,
        manager: Option<&str>,
        dry_run: bool,
    ) -> ApiResult<Value> {
        let res = resources::by_id(res_id);
        let generate = get_str(&obj, &["metadata", "generateName"]).unwrap_or_default().to_string();
        // What admission errors call the object: its name, else its generateName.
        let shown = if jsonpath::name(&obj).is_empty() { generate.clone() } else { jsonpath::name(&obj).to_string() };
        if jsonpath::name(&obj).is_empty() && !generate.is_empty() {
            // staging/src/k8s.io/apiserver/pkg/storage/names/generate.go: base truncated to 58.
            let base: String = generate.chars().take(58).collect();
            let name = (0..8)
                .map(|_| format!("{base}{}", name_suffix()))
                .find(|n| self.store.get(&key(res_id, ns, n)).is_none())
                .unwrap_or_else(|| format!("{base}{}", name_suffix()));
            object_at(&mut obj, &["metadata"]).insert("name".into(), name.into());
        }
        object_at(&mut obj, &["metadata"]).remove("resourceVersion");
        self.namespace_admission(res, ns, jsonpath::name(&obj))?;
        if res.kind == "Pod" && res.group.is_empty() {
            self.service_account_admission(ns, &obj, if shown.is_empty() { "Unknown" } else { &shown }, dry_run)?;
        }
        let new = self.admit(res_id, ns, obj, None, Sub::Main, manager, dry_run)?;
        let name = jsonpath::name(&new).to_string();
        if self.store.get(&key(res_id, ns, &name)).is_some() {
            return Err(ApiError::already_exists(res, &name));
        }
        Ok(self.commit(res_id, new, None, dry_run))
    }

    /// rest.EnsureObjectNamespaceMatchesRequestNamespace
    fn ensure_namespace_matches(&self, res: &ResourceDef, ns: &str, obj: &mut Value) -> ApiResult<()> {
        let body_ns = jsonpath::namespace(obj).to_string();
        let request_ns = if res.namespaced { ns } else { "" };
        if body_ns == request_ns || body_ns.is_empty() || request_ns.is_empty() {
            let meta = object_at(obj, &["metadata"]);
            if request_ns.is_empty() {
                meta.remove("namespace");
            } else {
                meta.insert("namespace".into(), request_ns.into());
            }
            return Ok(());
        }
        Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ))
    }

    /// handlers/rest.go `checkName`
    fn ensure_name_matches(obj: &Value, name: &str) -> ApiResult<()> {
        let body_name = jsonpath::name(obj);
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        Ok(())
    }

    pub fn update(
        &mut self,
        res_id: ResId,
        ns: &str,
        name: &str,
        body: Value,
        sub: Sub,
        opts: &WriteOpts,
    ) -> ApiResult<Written> {
        let res = resources::by_id(res_id);
        let mut warnings = Vec::new();
        let mut obj = decode::body(res, body, opts.validation, &mut warnings)?;
        Self::ensure_name_matches(&obj, name)?;
        self.ensure_namespace_matches(res, ns, &mut obj)?;
        let Some(old) = self.store.get(&key(res_id, ns, name)).cloned() else {
            if res.create_on_update && sub == Sub::Main {
                let object = self.create_decoded(res_id, ns, obj, Some(&opts.manager), opts.dry_run)?;
                return Ok(Written { object, created: true, warnings });
            }
            return Err(ApiError::not_found(res, name));
        };
        let requested_rv = get_str(&obj, &["metadata", "resourceVersion"]).unwrap_or_default();
        if !requested_rv.is_empty() && Some(requested_rv) != get_str(&old, &["metadata", "resourceVersion"]) {
            return Err(ApiError::stale_resource_version(res, name));
        }
        let new = self.admit(res_id, ns, obj, Some(&old), sub, Some(&opts.manager), opts.dry_run)?;
        let object = self.commit(res_id, new, Some(&old), opts.dry_run);
        Ok(Written { object, created: false, warnings })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &mut self,
        res_id: ResId,
        ns: &str,
        name: &str,
        kind: PatchKind,
        patch: Value,
        sub: Sub,
        force: bool,
        opts: &WriteOpts,
    ) -> ApiResult<Written> {
        let res = resources::by_id(res_id);
        let mut warnings = Vec::new();
        let schema = merge::Schema::k8s_1_33();
        let gvk = res.gvk();
        let old = self.store.get(&key(res_id, ns, name)).cloned();
        if kind == PatchKind::Apply {
            check_apply_identity(res, &patch)?;
            let now = now_rfc3339();
            let merged = merge::apply(schema, &gvk, old.as_deref(), &patch, &opts.manager, sub.name(), force, &now)
                .map_err(ApiError::from)?;
            let mut merged = decode::patched(res, merged, opts.validation, &mut warnings)?;
            Self::ensure_name_matches(&merged, name)?;
            self.ensure_namespace_matches(res, ns, &mut merged)?;
            return match old {
                None => {
                    let object = self.create_decoded(res_id, ns, merged, None, opts.dry_run)?;
                    Ok(Written { object, created: true, warnings })
                }
                Some(old) => {
                    let new = self.admit(res_id, ns, merged, Some(&old), sub, None, opts.dry_run)?;
                    let object = self.commit(res_id, new, Some(&old), opts.dry_run);
                    Ok(Written { object, created: false, warnings })
                }
            };
        }
        let old = old.ok_or_else(|| ApiError::not_found(res, name))?;
        let patched = match kind {
            PatchKind::Merge => Ok(merge::json_merge_patch(&old, &patch)),
            PatchKind::Json => merge::json_patch(&old, &patch),
            PatchKind::Strategic => merge::strategic_merge_patch(schema, &gvk, &old, &patch),
            PatchKind::Apply => unreachable!("handled above"),
        }
        .map_err(ApiError::from)?;
        let mut patched = decode::patched(res, patched, opts.validation, &mut warnings)?;
        Self::ensure_name_matches(&patched, name)?;
        self.ensure_namespace_matches(res, ns, &mut patched)?;
        if get_str(&patched, &["metadata", "resourceVersion"]) != get_str(&old, &["metadata", "resourceVersion"])
            && get_str(&patched, &["metadata", "resourceVersion"]).is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::stale_resource_version(res, name));
        }
        let new = self.admit(res_id, ns, patched, Some(&old), sub, Some(&opts.manager), opts.dry_run)?;
        let object = self.commit(res_id, new, Some(&old), opts.dry_run);
        Ok(Written { object, created: false, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::changes_nothing;
    use serde_json::json;

    #[test]
    fn a_write_changes_nothing_when_only_times_and_the_sent_version_differ() {
        let old = json!({
            "metadata": {"name": "a", "resourceVersion": "7", "managedFields": [{"manager": "m", "time": "t1"}]},
            "data": {"k": "v"}
        });
        let resent = json!({
            "metadata": {"name": "a", "resourceVersion": "3", "managedFields": [{"manager": "m", "time": "t2"}]},
            "data": {"k": "v"}
        });
        assert!(changes_nothing(&resent, &old));
        let mut without_version = resent.clone();
        without_version["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        assert!(changes_nothing(&without_version, &old), "the stored object gets the old version");
        let untimed = json!({"metadata": {"name": "a", "managedFields": [{"manager": "m"}]}, "data": {"k": "v"}});
        assert!(changes_nothing(&untimed, &old), "an entry without a time is one whose time differs");
        for changed in [
            json!({"metadata": {"name": "a", "resourceVersion": "7", "managedFields": [{"manager": "n", "time": "t1"}]}, "data": {"k": "v"}}),
            json!({"metadata": {"name": "a", "resourceVersion": "7", "managedFields": [{"manager": "m", "time": "t1"}]}, "data": {"k": "w"}}),
            json!({"metadata": {"name": "a", "resourceVersion": "7", "managedFields": [{"manager": "m", "time": "t1"}], "labels": {}}, "data": {"k": "v"}}),
            json!({"metadata": {"name": "a", "resourceVersion": "7"}, "data": {"k": "v"}}),
            json!({"metadata": {"name": "a", "resourceVersion": "7", "managedFields": [{"manager": "m", "time": "t1"}]}}),
        ] {
            assert!(!changes_nothing(&changed, &old), "{changed}");
        }
        let unversioned = json!({"metadata": {"name": "a"}, "data": {}});
        assert!(changes_nothing(&unversioned, &unversioned));
        assert!(!changes_nothing(
            &json!({"metadata": {"name": "a", "resourceVersion": "1"}, "data": {}}),
            &unversioned
        ));
    }
}
