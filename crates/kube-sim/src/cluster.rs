//! The simulated cluster's state and the REST operations on it, with kube-apiserver's
//! pipeline: decode (typed, fieldValidation), admission (namespace lifecycle), defaulting,
//! allocation, validation, managedFields, optimistic concurrency, no-op detection, dry run.
//!
//! Handlers modelled on staging/src/k8s.io/apiserver/pkg/endpoints/handlers/{create,update,
//! patch,delete,get}.go and staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::jsonpath::{self, get, get_str, object_at};
use crate::merge;
use crate::resources::{self, ResId, ResourceDef};
use crate::selectors::{FieldSelector, LabelSelector};
use crate::services::{InUse, ServiceNetwork};
use crate::status::{ApiError, ApiResult, BadValue, FieldError, go_quote};
use crate::store::{Key, Store};
use crate::util::{name_suffix, new_uid, now_rfc3339};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// Options every write carries.
#[derive(Debug, Clone)]
pub struct WriteOpts {
    pub dry_run: bool,
    /// The field manager: the `fieldManager` parameter or the User-Agent prefix.
    pub manager: String,
    pub validation: FieldValidation,
}

/// A subresource that reads and writes the object itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
    Finalize,
}

impl Sub {
    fn name(self) -> &'static str {
        match self {
            Sub::Main => "",
            Sub::Status => "status",
            Sub::Finalize => "finalize",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

/// The result of a write.
#[derive(Debug)]
pub struct Written {
    pub object: Value,
    pub created: bool,
    pub warnings: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct DeleteOpts {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub orphan_dependents: Option<bool>,
    pub uid_precondition: Option<String>,
    pub rv_precondition: Option<String>,
    pub dry_run: bool,
}

#[derive(Debug)]
pub struct Deleted {
    pub body: Value,
    pub code: u16,
}

/// List options after parsing.
#[derive(Debug, Default, Clone)]
pub struct ListOpts {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<u64>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub exact: bool,
}

pub struct Listed {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Namespaces that always exist and may not be deleted
/// (plugin/pkg/admission/namespace/lifecycle: immortal namespaces).
pub const IMMORTAL_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

pub struct Cluster {
    pub store: Store,
    pub network: ServiceNetwork,
    /// The kubelet and controllers mode (see [`crate::workloads`]).
    pub workloads: crate::workloads::State,
}

fn key(res: ResId, ns: &str, name: &str) -> Key {
    let namespaced = resources::by_id(res).namespaced;
    Key { res, namespace: if namespaced { ns.to_string() } else { String::new() }, name: name.to_string() }
}

/// The object without what no-op detection ignores: managedFields timestamps (the only thing
/// an identical apply or update would change, and the apiserver keeps the old ones).
fn without_times(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(entries) = jsonpath::get_mut(&mut v, &["metadata", "managedFields"]).and_then(Value::as_array_mut) {
        for e in entries.iter_mut().filter_map(Value::as_object_mut) {
            e.remove("time");
        }
    }
    v
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

/// The internal (hub) package name of a group, as conversion errors print it.
fn internal_package(group: &str) -> &str {
    match group {
        "" | "events.k8s.io" => "core",
        "rbac.authorization.k8s.io" => "rbac",
        other => other.split('.').next().unwrap_or(other),
    }
}

impl Cluster {
    pub fn new(network: ServiceNetwork, history_limit: usize, workloads: crate::workloads::State) -> Self {
        Cluster { store: Store::new(history_limit), network, workloads }
    }

    fn live(&self, res: ResId, ns: &str, name: &str) -> ApiResult<Arc<Value>> {
        self.store.get(&key(res, ns, name)).cloned().ok_or_else(|| ApiError::not_found(resources::by_id(res), name))
    }

    pub fn get(&self, res: ResId, ns: &str, name: &str) -> ApiResult<Arc<Value>> {
        self.live(res, ns, name)
    }

    // ---------------------------------------------------------------- decoding

    /// Decode a request body (POST/PUT) as the resource's type: apiVersion/kind defaulting
    /// and checks, type mismatches, unknown fields per `fieldValidation`
    /// (handlers/create.go `transformDecodeError`, runtime strict decoding errors).
    pub fn decode_body(
        &self,
        res: &ResourceDef,
        mut body: Value,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
    ) -> ApiResult<Value> {
        let Some(obj) = body.as_object_mut() else {
            return Err(ApiError::bad_request(format!(
                "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
                match body {
                    Value::Array(_) => "array",
                    Value::String(_) => "string",
                    Value::Number(_) => "number",
                    Value::Bool(_) => "bool",
                    _ => "null",
                }
            )));
        };
        let api_version = obj.get("apiVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        let kind = obj.get("kind").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        let body_api_version = api_version.clone().unwrap_or_else(|| res.api_version());
        let body_kind = kind.clone().unwrap_or_else(|| res.kind.to_string());
        let body_version = body_api_version.rsplit('/').next().unwrap_or_default().to_string();
        let prefix =
            format!("{body_kind} in version {} cannot be handled as a {}: ", go_quote(&body_version), res.kind);
        if body_api_version != res.api_version() || body_kind != res.kind {
            // The decoder decodes the body's own kind, then converting it to the URL's fails.
            let reason = match resources::find_kind(&body_api_version, &body_kind) {
                Some(other) => format!(
                    "converting (v1.{}) to ({}.{}): unknown conversion",
                    body_kind,
                    internal_package(res.group),
                    res.kind
                )
                .replace("v1.", &format!("{}.", resources::by_id(other).version)),
                None => format!(
                    "no kind {} is registered for version {} in scheme \"pkg/api/legacyscheme/scheme.go:30\"",
                    go_quote(&body_kind),
                    go_quote(&body_api_version)
                ),
            };
            return Err(ApiError::bad_request(format!("{prefix}{reason}")));
        }
        obj.insert("apiVersion".into(), res.api_version().into());
        obj.insert("kind".into(), res.kind.into());
        let def =
            crate::schema::definition_for(res.group, res.version, res.kind).expect("every served kind has a schema");
        let unknown =
            crate::schema::check(def, &mut body).map_err(|e| ApiError::bad_request(format!("{prefix}{}", e.0)))?;
        crate::schema::typed_decode(res.group, res.kind, &body)
            .map_err(|e| ApiError::bad_request(format!("{prefix}{e}")))?;
        self.unknown_fields(unknown, validation, warnings, Some(&prefix))?;
        Ok(body)
    }

    /// Decode the result of a patch (handlers/patch.go: type errors are 422 on `patch`,
    /// strict errors are 400 without the kind prefix).
    fn decode_patched(
        &self,
        res: &ResourceDef,
        mut obj: Value,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
    ) -> ApiResult<Value> {
        let def =
            crate::schema::definition_for(res.group, res.version, res.kind).expect("every served kind has a schema");
        let shown = serde_json::to_string(&obj).unwrap_or_default();
        let unknown = crate::schema::check(def, &mut obj)
            .map_err(|e| ApiError::invalid("", "", "", &[FieldError::invalid("patch", BadValue::Str(shown), e.0)]))?;
        crate::schema::typed_decode(res.group, res.kind, &obj).map_err(ApiError::bad_request)?;
        self.unknown_fields(unknown, validation, warnings, None)?;
        Ok(obj)
    }

    fn unknown_fields(
        &self,
        unknown: Vec<String>,
        validation: FieldValidation,
        warnings: &mut Vec<String>,
        prefix: Option<&str>,
    ) -> ApiResult<()> {
        if unknown.is_empty() {
            return Ok(());
        }
        let errs: Vec<String> = unknown.iter().map(|f| format!("unknown field {}", go_quote(f))).collect();
        match validation {
            FieldValidation::Ignore => Ok(()),
            FieldValidation::Warn => {
                warnings.extend(errs);
                Ok(())
            }
            FieldValidation::Strict => Err(ApiError::bad_request(format!(
                "{}strict decoding error: {}",
                prefix.unwrap_or_default(),
                errs.join(", ")
            ))),
        }
    }

    // ---------------------------------------------------------------- admission and commit

    /// NamespaceLifecycle admission for a create (plugin/pkg/admission/namespace/lifecycle).
    fn namespace_admission(&self, res: &ResourceDef, ns: &str, name: &str) -> ApiResult<()> {
        if !res.namespaced {
            return Ok(());
        }
        let ns_res = resources::find("", "v1", "namespaces").expect("namespaces served");
        let Some(namespace) = self.store.get(&key(ns_res, "", ns)) else {
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

    fn services_in_use(&self, except: Option<&Key>) -> InUse {
        let svc = resources::find("", "v1", "services").expect("services served");
        let mut in_use = InUse::default();
        for (k, v) in self.store.list(svc, None) {
            if Some(k) != except {
                in_use.add(v);
            }
        }
        in_use
    }

    /// Everything between a decoded object and storage: identity, system metadata, status
    /// handling per subresource, defaults, allocation, validation, generation, managedFields.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        res_id: ResId,
        ns: &str,
        mut new: Value,
        old: Option<&Value>,
        sub: Sub,
        manager: Option<&str>,
        dry_run: bool,
    ) -> ApiResult<Value> {
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
                for k in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "deletionGracePeriodSeconds",
                    "generation",
                    "name",
                ] {
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
            crate::defaults::apply(res.group, res.kind, &mut new);
        }
        if res.group.is_empty() && res.kind == "Namespace" {
            // pkg/registry/core/namespace/strategy.go: PrepareForCreate and PrepareForUpdate
            // keep the kubernetes.io/metadata.name label equal to the name.
            let name = jsonpath::name(&new).to_string();
            object_at(&mut new, &["metadata", "labels"]).insert("kubernetes.io/metadata.name".into(), name.into());
        }
        if res.kind == "Service" && res.group.is_empty() {
            let except = old.map(|_| key(res_id, ns, jsonpath::name(&new)));
            let in_use = self.services_in_use(except.as_ref());
            self.network.allocate(&mut new, old, &in_use, dry_run)?;
        }
        let name = jsonpath::name(&new).to_string();
        let mut errs = crate::validation::validate(res, &new, old);
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
            new =
                merge::record_update(schema, &res.gvk(), old, &new, manager, sub.name(), &now).map_err(merge_error)?;
        }
        Ok(new)
    }

    /// Store `new` unless it changes nothing; an object being deleted whose last finalizer is
    /// gone is deleted instead (store.go `deleteWithoutFinalizers`).
    fn commit(&mut self, res_id: ResId, new: Value, old: Option<&Value>, dry_run: bool) -> Value {
        if let Some(old) = old {
            let mut candidate = new.clone();
            if let Some(rv) = get(old, &["metadata", "resourceVersion"]) {
                object_at(&mut candidate, &["metadata"]).insert("resourceVersion".into(), rv.clone());
            }
            if without_times(&candidate) == without_times(old) {
                return old.clone();
            }
            if dry_run {
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
        let mut obj = self.decode_body(res, body, opts.validation, &mut warnings)?;
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
        let mut obj = self.decode_body(res, body, opts.validation, &mut warnings)?;
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
                .map_err(apply_error)?;
            let mut merged = self.decode_patched(res, merged, opts.validation, &mut warnings)?;
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
        .map_err(merge_error)?;
        let mut patched = self.decode_patched(res, patched, opts.validation, &mut warnings)?;
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

    // ---------------------------------------------------------------- scale

    /// The `autoscaling/v1 Scale` of a workload (pkg/registry/apps/*/storage scale REST).
    pub fn scale_of(obj: &Value) -> Value {
        let meta = obj.get("metadata").cloned().unwrap_or(json!({}));
        let pick = |k: &str| meta.get(k).cloned().unwrap_or(Value::Null);
        let mut m = Map::new();
        for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if !pick(k).is_null() {
                m.insert(k.into(), pick(k));
            }
        }
        json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": m,
            "spec": { "replicas": get(obj, &["spec", "replicas"]).cloned().unwrap_or(json!(1)) },
            "status": {
                "replicas": get(obj, &["status", "replicas"]).cloned().unwrap_or(json!(0)),
                "selector": crate::table::selector_string(get(obj, &["spec", "selector"])),
            }
        })
    }

    /// PUT or PATCH of `/scale`: `scale` is the new Scale object.
    pub fn update_scale(
        &mut self,
        res_id: ResId,
        ns: &str,
        name: &str,
        scale: Value,
        opts: &WriteOpts,
    ) -> ApiResult<Value> {
        let res = resources::by_id(res_id);
        let old = self.live(res_id, ns, name)?;
        let replicas = match get(&scale, &["spec", "replicas"]) {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => n.as_i64().unwrap_or(0),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal {} into Go struct field ScaleSpec.spec.replicas of type int32",
                    match other {
                        Value::String(_) => "string",
                        Value::Bool(_) => "bool",
                        Value::Array(_) => "array",
                        Value::Object(_) => "object",
                        _ => "number",
                    }
                )));
            }
        };
        let requested_rv = get_str(&scale, &["metadata", "resourceVersion"]).unwrap_or_default();
        if !requested_rv.is_empty() && Some(requested_rv) != get_str(&old, &["metadata", "resourceVersion"]) {
            return Err(ApiError::stale_resource_version(res, name));
        }
        if replicas < 0 {
            let errs = [FieldError::invalid(
                "spec.replicas",
                BadValue::Raw(replicas.to_string()),
                "must be greater than or equal to 0",
            )];
            return Err(ApiError::invalid("autoscaling", "Scale", name, &errs));
        }
        let mut new = (*old).clone();
        object_at(&mut new, &["spec"]).insert("replicas".into(), replicas.into());
        let admitted = self.admit_scale(res_id, ns, new, &old, &opts.manager, opts.dry_run)?;
        let stored = self.commit(res_id, admitted, Some(&old), opts.dry_run);
        Ok(Self::scale_of(&stored))
    }

    fn admit_scale(
        &self,
        res_id: ResId,
        ns: &str,
        new: Value,
        old: &Value,
        manager: &str,
        dry_run: bool,
    ) -> ApiResult<Value> {
        let res = resources::by_id(res_id);
        let mut new = self.admit(res_id, ns, new, Some(old), Sub::Main, None, dry_run)?;
        let schema = merge::Schema::k8s_1_33();
        new = merge::record_update(schema, &res.gvk(), Some(old), &new, manager, "scale", &now_rfc3339())
            .map_err(merge_error)?;
        Ok(new)
    }

    // ---------------------------------------------------------------- list

    pub fn list(&self, res_id: ResId, ns: Option<&str>, opts: &ListOpts) -> ApiResult<Listed> {
        let res = resources::by_id(res_id);
        let current = self.store.resource_version();
        let mut start_after: Option<String> = None;
        let mut at: Option<u64> = None;
        if let Some(token) = &opts.continue_token {
            let (rv, start) = decode_continue(token)?;
            if rv < self.store.compacted() {
                // staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go: compacted continue.
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            at = Some(rv);
            start_after = Some(start);
        } else if let Some(rv) = opts.resource_version.as_deref().filter(|rv| !rv.is_empty() && *rv != "0") {
            let rv: u64 = rv.parse().map_err(|e: std::num::ParseIntError| {
                ApiError::bad_request(format!(
                    "resourceVersion: Invalid value: {}: strconv.ParseUint: parsing {}: {}",
                    go_quote(rv),
                    go_quote(rv),
                    if e.to_string().contains("invalid digit") { "invalid syntax" } else { "value out of range" }
                ))
            })?;
            if rv > current {
                return Err(ApiError::too_large_resource_version(rv, current));
            }
            if opts.exact || opts.limit.is_some() {
                if rv < self.store.compacted() {
                    return Err(ApiError::too_old_resource_version(rv, self.store.compacted()));
                }
                at = Some(rv);
            }
        }
        let list_rv = at.unwrap_or(current);
        let objects: Vec<(Key, Arc<Value>)> = match at {
            Some(rv) => self
                .store
                .snapshot_at(rv, res_id, ns)
                .ok_or_else(|| ApiError::too_old_resource_version(rv, self.store.compacted()))?
                .into_iter()
                .collect(),
            None => self.store.list(res_id, ns).map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        let filtered: Vec<(Key, Arc<Value>)> = objects
            .into_iter()
            .filter(|(k, _)| start_after.as_ref().is_none_or(|s| continue_key(k) > *s))
            .filter(|(_, v)| opts.labels.matches(jsonpath::labels(v)) && opts.fields.matches(v))
            .collect();
        // A resourceVersion=0 list is served from the watch cache, which does not paginate.
        let paginate = opts.resource_version.as_deref() != Some("0") || opts.continue_token.is_some();
        let limit = opts.limit.filter(|l| *l > 0 && paginate).map(|l| l as usize);
        let (items, rest) = match limit {
            Some(l) if filtered.len() > l => (&filtered[..l], &filtered[l..]),
            _ => (&filtered[..], &filtered[..0]),
        };
        let continue_token =
            (!rest.is_empty()).then(|| encode_continue(list_rv, &continue_key(&items[items.len() - 1].0)));
        let selective = !opts.labels.0.is_empty() || !opts.fields.0.is_empty();
        let remaining = (!rest.is_empty() && !selective).then_some(rest.len() as u64);
        let _ = res;
        Ok(Listed {
            items: items.iter().map(|(_, v)| v.clone()).collect(),
            resource_version: list_rv,
            continue_token,
            remaining,
        })
    }

    // ---------------------------------------------------------------- delete

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
        let storage_error = |msg: String| {
            ApiError::conflict(
                res,
                name,
                &format!(
                    "StorageError: invalid object, Code: 4, Key: {}, ResourceVersion: 0, AdditionalErrorMsg: {msg}",
                    res.etcd_key(ns, name)
                ),
            )
        };
        // staging/src/k8s.io/apiserver/pkg/storage/interfaces.go `Preconditions.Check`
        if let Some(uid) = &opts.uid_precondition
            && *uid != obj_uid
        {
            return Err(storage_error(format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {obj_uid}"
            )));
        }
        if let Some(rv) = &opts.rv_precondition
            && *rv != obj_rv
        {
            return Err(storage_error(format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {obj_rv}"
            )));
        }
        let now = now_rfc3339();
        if res.kind == "Namespace" && res.group.is_empty() {
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
            let body = if opts.dry_run || without_times(&updated) == without_times(&live) {
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
            // the kubelet deletes it (without the kubelet mode, the deletion completes at once).
            let grace = opts
                .grace_period
                .or_else(|| get(&live, &["spec", "terminationGracePeriodSeconds"]).and_then(Value::as_i64))
                .unwrap_or(30);
            let mut marked = (*live).clone();
            let deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
            let meta = object_at(&mut marked, &["metadata"]);
            meta.insert("deletionTimestamp".into(), crate::util::format_time(deadline).into());
            meta.insert("deletionGracePeriodSeconds".into(), grace.into());
            if let Some(g) = meta.get("generation").and_then(Value::as_i64) {
                meta.insert("generation".into(), (g + 1).into());
            }
            let marked = (*self.store.put(k.clone(), marked)).clone();
            if !self.workloads.config.enabled {
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
        let res = resources::by_id(res_id);
        let name = jsonpath::name(live).to_string();
        if IMMORTAL_NAMESPACES.contains(&name.as_str()) {
            return Err(ApiError::forbidden("", "namespaces", &name, "this namespace may not be deleted"));
        }
        if get(live, &["metadata", "deletionTimestamp"]).is_some() {
            return Err(ApiError::conflict(
                res,
                &name,
                "The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
            ));
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

    // ---------------------------------------------------------------- pod and SA subresources

    /// POST pods/<name>/binding (pkg/registry/core/pod/storage `BindingREST`).
    pub fn bind(&mut self, ns: &str, name: &str, binding: &Value, opts: &WriteOpts) -> ApiResult<Value> {
        let pods = resources::find("", "v1", "pods").expect("pods served");
        let target = get_str(binding, &["target", "name"]).unwrap_or_default();
        if target.is_empty() {
            let errs = [FieldError::required("target.name", "")];
            return Err(ApiError::invalid("", "Binding", name, &errs));
        }
        let old = self.live(pods, ns, name)?;
        if let Some(node) = get_str(&old, &["spec", "nodeName"]).filter(|n| !n.is_empty()) {
            return Err(ApiError::conflict(
                resources::by_id(pods),
                name,
                &format!("pod {name} is already assigned to node {}", go_quote(node)),
            ));
        }
        let mut new = (*old).clone();
        object_at(&mut new, &["spec"]).insert("nodeName".into(), target.into());
        // storage.go `assignPod` writes storage directly: no managedFields entry, no new
        // generation, and podutil.UpdatePodCondition(PodScheduled=True).
        let mut new = self.admit(pods, ns, new, Some(&old), Sub::Main, None, opts.dry_run)?;
        if let Some(g) = get(&old, &["metadata", "generation"]) {
            object_at(&mut new, &["metadata"]).insert("generation".into(), g.clone());
        }
        let conditions: Vec<Value> = jsonpath::items(new.get("status").unwrap_or(&Value::Null), "conditions")
            .filter(|c| get_str(c, &["type"]) != Some("PodScheduled"))
            .cloned()
            .chain([json!({ "type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339() })])
            .collect();
        object_at(&mut new, &["status"]).insert("conditions".into(), Value::Array(conditions));
        self.commit(pods, new, Some(&old), opts.dry_run);
        Ok(json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 }))
    }

    /// POST pods/<name>/eviction (pkg/registry/core/pod/storage/eviction.go): refused while a
    /// PodDisruptionBudget selecting the pod allows no disruption.
    pub fn evict(&mut self, ns: &str, name: &str, eviction: &Value, dry_run: bool) -> ApiResult<Value> {
        let pods = resources::find("", "v1", "pods").expect("pods served");
        let pdbs = resources::find("policy", "v1", "poddisruptionbudgets").expect("pdbs served");
        let pod = self.live(pods, ns, name)?;
        let empty = Map::new();
        let labels = jsonpath::labels(&pod).unwrap_or(&empty);
        for (_, pdb) in self.store.list(pdbs, Some(ns)) {
            let selects =
                get(pdb, &["spec", "selector"]).is_some_and(|s| crate::selectors::label_selector_matches(s, labels));
            if selects && get(pdb, &["status", "disruptionsAllowed"]).and_then(Value::as_i64).unwrap_or(0) < 1 {
                let message = format!(
                    "The disruption budget {} needs {} healthy pods and has {} currently",
                    jsonpath::name(pdb),
                    get(pdb, &["status", "desiredHealthy"]).and_then(Value::as_i64).unwrap_or(0),
                    get(pdb, &["status", "currentHealthy"]).and_then(Value::as_i64).unwrap_or(0)
                );
                return Err(ApiError::too_many_requests(
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    vec![json!({ "reason": "DisruptionBudget", "message": message })],
                ));
            }
        }
        let grace = get(eviction, &["deleteOptions", "gracePeriodSeconds"]).and_then(Value::as_i64);
        self.delete(pods, ns, name, &DeleteOpts { grace_period: grace, dry_run, ..Default::default() })?;
        Ok(json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201 }))
    }

    /// POST serviceaccounts/<name>/token (pkg/registry/core/serviceaccount/storage/token.go):
    /// a TokenRequest answered with a JWT-shaped token (claims of pkg/serviceaccount/claims.go;
    /// the signature is random: the simulator authenticates the token by lookup).
    pub fn token(&self, ns: &str, name: &str, request: &Value) -> ApiResult<(Value, crate::auth::ServiceAccountToken)> {
        use base64::Engine as _;
        let sas = resources::find("", "v1", "serviceaccounts").expect("serviceaccounts served");
        let sa = self.live(sas, ns, name)?;
        let seconds = get(request, &["spec", "expirationSeconds"]).and_then(Value::as_i64).unwrap_or(3600);
        if seconds < 600 {
            let errs = [FieldError::invalid(
                "spec.expirationSeconds",
                BadValue::Raw(seconds.to_string()),
                "may not specify a duration less than 10 minutes",
            )];
            return Err(ApiError::invalid("authentication.k8s.io", "TokenRequest", "", &errs));
        }
        let audiences =
            get(request, &["spec", "audiences"]).cloned().filter(|a| a.as_array().is_some_and(|a| !a.is_empty()));
        let audiences = audiences.unwrap_or(json!(["https://kubernetes.default.svc.cluster.local"]));
        let now = jiff::Timestamp::now();
        let exp = now + jiff::SignedDuration::from_secs(seconds);
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let jti = new_uid();
        let claims = json!({
            "aud": audiences, "exp": exp.as_second(), "iat": now.as_second(), "iss": "https://kubernetes.default.svc.cluster.local",
            "jti": jti,
            "kubernetes.io": { "namespace": ns, "serviceaccount": { "name": name, "uid": jsonpath::uid(&sa) } },
            "nbf": now.as_second(), "sub": format!("system:serviceaccount:{ns}:{name}")
        });
        let token = format!(
            "{}.{}.{}",
            b64(&json!({"alg": "RS256", "kid": "kube-sim"})),
            b64(&claims),
            new_uid().replace('-', "")
        );
        let minted = crate::auth::ServiceAccountToken {
            token: token.clone(),
            namespace: ns.into(),
            name: name.into(),
            uid: jsonpath::uid(&sa).into(),
            jti,
            expires: exp.as_second(),
        };
        let response = json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "name": name, "namespace": ns, "creationTimestamp": Value::Null },
            "spec": { "audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": get(request, &["spec", "boundObjectRef"]).cloned().unwrap_or(Value::Null) },
            "status": { "token": token, "expirationTimestamp": crate::util::format_time(exp) }
        });
        Ok((response, minted))
    }

    /// Every object, sorted by group, kind, namespace and name.
    pub fn snapshot(&self) -> Vec<Value> {
        self.store.all().map(|(_, v)| (**v).clone()).collect()
    }
}

/// Whether finalizers still hold an object that is being deleted (a namespace's
/// `spec.finalizers` hold it too).
fn holds_deletion(obj: &Value) -> bool {
    let spec_finalizers = get(obj, &["spec", "finalizers"]).and_then(Value::as_array).is_some_and(|f| !f.is_empty());
    let is_namespace = get_str(obj, &["kind"]) == Some("Namespace") && get_str(obj, &["apiVersion"]) == Some("v1");
    !jsonpath::finalizers(obj).is_empty() || (is_namespace && spec_finalizers)
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

/// The storage key a continue token resumes after.
fn continue_key(k: &Key) -> String {
    if k.namespace.is_empty() { format!("{}\u{0}", k.name) } else { format!("{}/{}\u{0}", k.namespace, k.name) }
}

/// staging/src/k8s.io/apiserver/pkg/storage/continue.go `EncodeContinue`.
fn encode_continue(rv: u64, start: &str) -> String {
    use base64::Engine as _;
    let token = json!({ "v": "meta.k8s.io/v1", "rv": rv, "start": start });
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    use base64::Engine as _;
    let invalid = |why: String| {
        ApiError::bad_request(format!("continue: Invalid value: {}: continue key is not valid: {why}", go_quote(token)))
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|e| invalid(e.to_string()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()));
    }
    let rv = v
        .get("rv")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()))?;
    let start = v.get("start").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok((rv, start))
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

/// The Status of a merge engine error (see [`merge::MergeError`]): 400 BadRequest; 422 from
/// `errors.NewGenericServerResponse` (errors.go); a plain Go error (500, no reason).
fn merge_error(e: merge::MergeError) -> ApiError {
    match e {
        merge::MergeError::BadRequest(m) => ApiError::bad_request(m),
        merge::MergeError::Invalid(m) => ApiError {
            code: 422,
            reason: "Invalid",
            message: "the server rejected our request due to an error in our request".into(),
            details: Some(json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": m }] })),
        },
        merge::MergeError::Internal(m) => ApiError::unconverted(m),
    }
}

/// fieldmanager `NewConflictError` (errors.go `NewApplyConflict`): one `FieldManagerConflict`
/// cause per conflict.
fn apply_error(e: merge::ApplyError) -> ApiError {
    match e {
        merge::ApplyError::Merge(m) => merge_error(m),
        merge::ApplyError::Conflicts(conflicts) => {
            let causes = conflicts
                .iter()
                .map(|c| json!({ "reason": "FieldManagerConflict", "message": c.cause_message(), "field": c.field }))
                .collect();
            ApiError::apply_conflict(causes, merge::conflicts_message(&conflicts))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, "default/web\u{0}");
        assert_eq!(decode_continue(&t).unwrap(), (42, "default/web\u{0}".to_string()));
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(Some(&json!({"containers": [{"name": "a"}]}))), "BestEffort");
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class(Some(&g)), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class(Some(&b)), "Burstable");
    }
}
