//! Upgrades Kubernetes cannot apply: which changed fields of a live object are immutable, said
//! as the values that changed them. Pure: the live object and the manifest in, sentences out.
//!
//! The StatefulSet fields an update may change are those of kube-apiserver's
//! `pkg/apis/apps/validation/validation.go` `ValidateStatefulSetUpdate` (replicas, ordinals,
//! template, updateStrategy, revisionHistoryLimit, persistentVolumeClaimRetentionPolicy,
//! minReadySeconds); everything else in its spec is fixed at creation.

use serde_json::Value;

use crate::cluster::FIELD_MANAGER;

/// StatefulSet spec fields an update may change.
const STATEFULSET_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

const FIXED: &str = "which Kubernetes does not allow to change";

/// Why applying `desired` over `live` (a StatefulSet) is refused: one sentence per changed fixed
/// field, naming the value behind it where the chart has one.
pub(crate) fn statefulset_changes(live: &Value, desired: &Value) -> Vec<String> {
    let (old, new) = (&live["spec"], &desired["spec"]);
    let mut out = Vec::new();
    let claims = |spec: &Value| spec.get("volumeClaimTemplates").and_then(Value::as_array).cloned().unwrap_or_default();
    let (old_claims, new_claims) = (claims(old), claims(new));
    if old_claims.is_empty() != new_claims.is_empty() {
        out.push(format!(
            "storage.persistence: {} → {} changes the StatefulSet's volumeClaimTemplates, {FIXED}",
            !old_claims.is_empty(),
            !new_claims.is_empty()
        ));
    } else if let (Some(o), Some(n)) = (old_claims.first(), new_claims.first()) {
        let size = |c: &Value| c["spec"]["resources"]["requests"]["storage"].clone();
        if size(o) != size(n) {
            out.push(format!(
                "storage.size: {} → {} changes the StatefulSet's volumeClaimTemplates, {FIXED}",
                shown(&size(o)),
                shown(&size(n))
            ));
        }
        let class = |c: &Value| c["spec"]["storageClassName"].clone();
        if class(o) != class(n) {
            out.push(format!(
                "storage.className: {} → {} changes the StatefulSet's volumeClaimTemplates, {FIXED}",
                shown(&class(o)),
                shown(&class(n))
            ));
        }
    }
    // Other fixed fields the manifest sets.
    if let Some(fields) = new.as_object() {
        for (field, value) in fields {
            if STATEFULSET_MUTABLE.contains(&field.as_str()) || field == "volumeClaimTemplates" {
                continue;
            }
            if old.get(field) != Some(value) {
                out.push(format!(
                    "spec.{field}: {} → {} of the StatefulSet, {FIXED}",
                    shown(old.get(field).unwrap_or(&Value::Null)),
                    shown(value)
                ));
            }
        }
    }
    // Fixed fields the manifest leaves out keep their live value, unless this CLI's apply alone
    // set them: server-side apply then removes them, and the server defaults them again (an
    // earlier build's `podManagementPolicy: Parallel` becomes `OrderedReady`, a 422).
    if let Some(fields) = old.as_object() {
        for (field, value) in fields {
            if STATEFULSET_MUTABLE.contains(&field.as_str())
                || field == "volumeClaimTemplates"
                || new.get(field).is_some()
                || !applied_only_by_us(live, field)
            {
                continue;
            }
            out.push(format!("spec.{field}: {} → (unset) of the StatefulSet, {FIXED}", shown(value)));
        }
    }
    out
}

/// Whether `spec.<field>` of `live` is owned by this CLI's apply and by no other manager, so an
/// apply that leaves it out removes it (kubernetes v1.33
/// `staging/src/k8s.io/apimachinery/pkg/util/managedfields/internal/structuredmerge.go`: an
/// applier's removed fields are dropped unless another manager owns them).
fn applied_only_by_us(live: &Value, field: &str) -> bool {
    let key = format!("f:{field}");
    let owners: Vec<&Value> = live["metadata"]["managedFields"]
        .as_array()
        .map(|entries| entries.iter().filter(|e| e["fieldsV1"]["f:spec"].get(&key).is_some()).collect())
        .unwrap_or_default();
    !owners.is_empty()
        && owners
            .iter()
            .all(|e| e["manager"] == FIELD_MANAGER && e["operation"] == "Apply" && e["subresource"].is_null())
}

/// Service fields fixed once set (kube-apiserver `pkg/apis/core/validation/validation.go`
/// `ValidateServiceUpdate`): a cluster IP the manifest sets differently.
pub(crate) fn service_changes(live: &Value, desired: &Value) -> Vec<String> {
    let (old, new) = (&live["spec"], &desired["spec"]);
    let mut out = Vec::new();
    for field in ["clusterIP", "clusterIPs"] {
        if let Some(value) = new.get(field)
            && old.get(field).is_some_and(|o| o != value && o != "None" && !o.is_null())
        {
            out.push(format!(
                "spec.{field}: {} → {} of the Service, {FIXED}",
                shown(old.get(field).unwrap_or(&Value::Null)),
                shown(value)
            ));
        }
    }
    out
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "(unset)".into(),
        Value::String(s) if s.is_empty() => "\"\"".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sts(claims: Value, extra: Value) -> Value {
        let mut spec = json!({"replicas": 1, "serviceName": "vc-headless", "template": {}});
        if !claims.is_null() {
            spec["volumeClaimTemplates"] = claims;
        }
        spec.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        json!({"spec": spec})
    }

    fn claim(size: &str, class: Option<&str>) -> Value {
        let mut spec = json!({"resources": {"requests": {"storage": size}}});
        if let Some(c) = class {
            spec["storageClassName"] = json!(c);
        }
        json!([{"metadata": {"name": "data"}, "spec": spec}])
    }

    #[test]
    fn the_values_behind_fixed_statefulset_fields_are_named() {
        let persistent = sts(claim("5Gi", None), json!({}));
        assert_eq!(
            statefulset_changes(&persistent, &sts(Value::Null, json!({}))),
            [
                "storage.persistence: true → false changes the StatefulSet's volumeClaimTemplates, which Kubernetes does not allow to change"
            ]
        );
        let bigger = sts(claim("10Gi", Some("fast")), json!({}));
        assert_eq!(
            statefulset_changes(&persistent, &bigger),
            [
                "storage.size: 5Gi → 10Gi changes the StatefulSet's volumeClaimTemplates, which Kubernetes does not allow to change",
                "storage.className: (unset) → fast changes the StatefulSet's volumeClaimTemplates, which Kubernetes does not allow to change"
            ]
        );
        let parallel = sts(claim("5Gi", None), json!({"podManagementPolicy": "Parallel"}));
        assert_eq!(
            statefulset_changes(&persistent, &parallel),
            [
                "spec.podManagementPolicy: (unset) → Parallel of the StatefulSet, which Kubernetes does not allow to change"
            ]
        );
        // A fixed field an earlier apply of this CLI set and the manifest leaves out is removed by
        // the next apply, and defaulted again: a reason. Set by another manager too, it stays.
        let mut earlier = sts(claim("5Gi", None), json!({"podManagementPolicy": "Parallel"}));
        let ours = json!({"manager": "vcluster", "operation": "Apply",
            "fieldsV1": {"f:spec": {"f:podManagementPolicy": {}, "f:replicas": {}}}});
        earlier["metadata"] = json!({"managedFields": [ours.clone()]});
        assert_eq!(
            statefulset_changes(&earlier, &persistent),
            [
                "spec.podManagementPolicy: Parallel → (unset) of the StatefulSet, which Kubernetes does not allow to change"
            ]
        );
        let helm =
            json!({"manager": "helm", "operation": "Update", "fieldsV1": {"f:spec": {"f:podManagementPolicy": {}}}});
        earlier["metadata"] = json!({"managedFields": [ours, helm]});
        assert!(statefulset_changes(&earlier, &persistent).is_empty());
        earlier["metadata"] = json!({});
        assert!(statefulset_changes(&earlier, &persistent).is_empty(), "nobody's apply: it stays");
        // Mutable fields are no reason.
        let scaled = sts(claim("5Gi", None), json!({"replicas": 3, "template": {"x": 1}}));
        assert!(statefulset_changes(&persistent, &scaled).is_empty());
    }

    #[test]
    fn a_service_cluster_ip_set_differently_is_named() {
        let live = json!({"spec": {"clusterIP": "10.0.0.7", "ports": []}});
        assert!(service_changes(&live, &json!({"spec": {"ports": [1]}})).is_empty(), "left to the server");
        assert_eq!(
            service_changes(&live, &json!({"spec": {"clusterIP": "10.0.0.8"}})),
            ["spec.clusterIP: 10.0.0.7 → 10.0.0.8 of the Service, which Kubernetes does not allow to change"]
        );
    }
}
