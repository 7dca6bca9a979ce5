//! Subresources that are not the object itself: scale, pods/binding, pods/eviction and
//! serviceaccounts/token.

use serde_json::{Map, Value, json};

use super::cluster::Cluster;
use crate::auth::ServiceAccountToken;
use crate::merge;
use crate::model::jsonpath::{self, get, get_str, object_at};
use crate::model::options::{DeleteOpts, Sub, WriteOpts};
use crate::model::resources::{self, ResId};
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError, aggregate, go_quote};
use crate::model::util::{format_time, new_uid, now_rfc3339};

impl Cluster {
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
                "selector": crate::api::table::selector_string(get(obj, &["spec", "selector"])),
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
        new = merge::record_update(schema, &res.gvk(), Some(old), new, manager, "scale", &now_rfc3339())
            .map_err(ApiError::from)?;
        Ok(new)
    }

    /// POST pods/<name>/binding (pkg/registry/core/pod/storage `BindingREST`).
    ///
    /// `BindingREST.Create`: the Binding names the pod of the URL (else 400), validation.go
    /// `ValidatePodBinding` (target kind Node or empty, target name required) fails as a plain
    /// aggregate error (500, no reason); `setPodNodeAndMetadata` refuses a pod being deleted,
    /// already assigned or with scheduling gates, each as a 409 on `pods/binding`; it sets
    /// `spec.nodeName`, merges the Binding's annotations and sets condition PodScheduled True.
    pub fn bind(&mut self, ns: &str, name: &str, binding: &Value, opts: &WriteOpts) -> ApiResult<Value> {
        let pods = resources::find("", "v1", "pods").expect("pods served");
        if jsonpath::name(binding) != name {
            return Err(ApiError::bad_request("name in URL does not match name in Binding object"));
        }
        let kind = get_str(binding, &["target", "kind"]).unwrap_or_default();
        let target = get_str(binding, &["target", "name"]).unwrap_or_default();
        let mut errs = Vec::new();
        if !kind.is_empty() && kind != "Node" {
            errs.push(FieldError::not_supported("target.kind", BadValue::str(kind), &["Node", "<empty>"]).message());
        }
        if target.is_empty() {
            errs.push(FieldError::required("target.name", "").message());
        }
        if !errs.is_empty() {
            return Err(ApiError::unconverted(aggregate(errs)));
        }
        let old = self.live(pods, ns, name)?;
        let conflict = |why: String| ApiError::conflict_on("", "pods/binding", name, &why);
        if get(&old, &["metadata", "deletionTimestamp"]).is_some() {
            return Err(conflict(format!("pod {name} is being deleted, cannot be assigned to a host")));
        }
        if let Some(node) = get_str(&old, &["spec", "nodeName"]).filter(|n| !n.is_empty()) {
            return Err(conflict(format!("pod {name} is already assigned to node {}", go_quote(node))));
        }
        if get(&old, &["spec", "schedulingGates"]).and_then(Value::as_array).is_some_and(|g| !g.is_empty()) {
            return Err(conflict(format!("pod {name} has non-empty .spec.schedulingGates")));
        }
        let mut new = (*old).clone();
        object_at(&mut new, &["spec"]).insert("nodeName".into(), target.into());
        if let Some(annotations) = get(binding, &["metadata", "annotations"]).and_then(Value::as_object) {
            object_at(&mut new, &["metadata", "annotations"]).extend(annotations.clone());
        }
        // The binding writes storage directly: no managedFields entry, no new generation.
        let mut new = self.admit(pods, ns, new, Some(&old), Sub::Main, None, opts.dry_run)?;
        if let Some(g) = get(&old, &["metadata", "generation"]) {
            object_at(&mut new, &["metadata"]).insert("generation".into(), g.clone());
        }
        // pkg/api/v1/pod `UpdatePodCondition`: in place, the transition time kept when the
        // status does not change.
        let status = object_at(&mut new, &["status"]);
        let conditions = status.entry("conditions").or_insert_with(|| json!([]));
        let scheduled = json!({ "type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339() });
        match conditions.as_array_mut() {
            Some(list) => match list.iter_mut().find(|c| get_str(c, &["type"]) == Some("PodScheduled")) {
                Some(c) if get_str(c, &["status"]) == Some("True") => {}
                Some(c) => *c = scheduled,
                None => list.push(scheduled),
            },
            None => *conditions = json!([scheduled]),
        }
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
            let selects = get(pdb, &["spec", "selector"])
                .is_some_and(|s| crate::model::selectors::label_selector_matches(s, labels));
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
    pub fn token(&self, ns: &str, name: &str, request: &Value) -> ApiResult<(Value, ServiceAccountToken)> {
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
        let minted = ServiceAccountToken {
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
            "status": { "token": token, "expirationTimestamp": format_time(exp) }
        });
        Ok((response, minted))
    }
}
