//! Which live objects belong to a release, and taking over the fields Helm holds on them (pure).
//!
//! An object belongs to the release its Helm annotations name (helm `pkg/action/validate.go`
//! `checkOwnership`, `setMetadataVisitor`). Objects of this release that Helm (or the established
//! vcluster CLI, which runs Helm) created or updated carry field-manager entries of `helm`; their
//! fields move to our manager before our first apply, as kubectl's client-side→server-side
//! migration moves them (client-go `util/csaupgrade`), so that fields the chart no longer renders
//! are removed by the apply and no conflict arises with Helm's old values.

use serde_json::{Map, Value};

use crate::cluster::FIELD_MANAGER;
use crate::cluster::objects::annotation;

/// helm `pkg/action/validate.go` / `pkg/kube/client.go`: ownership annotations.
pub(crate) const RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
pub(crate) const RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
/// helm `pkg/kube/resource_policy.go`: `helm.sh/resource-policy: keep` objects are never deleted.
pub(crate) const RESOURCE_POLICY_ANNOTATION: &str = "helm.sh/resource-policy";
pub(crate) const KEEP_POLICY: &str = "keep";
/// Managers that write on Helm's behalf: Helm 3.x names its manager after its binary (`helm`,
/// helm `pkg/kube/client.go` `getManagedFieldsManager`); Helm releases before that were named
/// by client-go after the User-Agent `Helm/3.x` (`Helm`).
pub(crate) const HELM_MANAGERS: [&str; 2] = ["helm", "Helm"];

/// Who owns a live object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The annotations name this release in this namespace.
    ThisRelease,
    /// The annotations name another release.
    OtherRelease { name: String, namespace: String },
    /// No (or incomplete) release annotations.
    Nobody,
}

/// The owner of `live` as seen from release `name` in `namespace`.
pub(crate) fn owner(live: &Value, name: &str, namespace: &str) -> Owner {
    match (annotation(live, RELEASE_NAME_ANNOTATION), annotation(live, RELEASE_NAMESPACE_ANNOTATION)) {
        (Some(n), Some(ns)) if n == name && ns == namespace => Owner::ThisRelease,
        (Some(n), Some(ns)) => Owner::OtherRelease { name: n.to_owned(), namespace: ns.to_owned() },
        _ => Owner::Nobody,
    }
}

/// `helm.sh/resource-policy: keep`.
pub(crate) fn keep(live: &Value) -> bool {
    annotation(live, RESOURCE_POLICY_ANNOTATION) == Some(KEEP_POLICY)
}

/// Why an existing object cannot become part of the release, in Helm's words
/// (helm `pkg/action/validate.go` `existingResourceConflict`, `checkOwnership`).
pub(crate) fn ownership_problem(owner: &Owner, name: &str, namespace: &str) -> Option<String> {
    match owner {
        Owner::ThisRelease => None,
        Owner::OtherRelease { name: other, .. } if other != name => Some(format!(
            "annotation validation error: key \"{RELEASE_NAME_ANNOTATION}\" must equal \"{name}\": current value is \"{other}\""
        )),
        Owner::OtherRelease { namespace: other_ns, .. } => Some(format!(
            "annotation validation error: key \"{RELEASE_NAMESPACE_ANNOTATION}\" must equal \"{namespace}\": current value is \"{other_ns}\""
        )),
        Owner::Nobody => Some(format!(
            "annotation validation error: missing key \"{RELEASE_NAME_ANNOTATION}\": must be set to \"{name}\""
        )),
    }
}

/// New `metadata.managedFields` with every Helm manager's entries of `api_version` (main
/// resource) merged into this tool's `Apply` entry, and the managers taken over; `None` when no
/// Helm manager holds fields.
pub(crate) fn take_over_helm_fields(live: &Value, api_version: &str) -> Option<(Vec<Value>, Vec<String>)> {
    let entries = live.get("metadata")?.get("managedFields")?.as_array()?;
    let is_main = |e: &Value| e.get("subresource").and_then(Value::as_str).is_none_or(str::is_empty);
    let same_version = |e: &Value| e.get("apiVersion").and_then(Value::as_str) == Some(api_version);
    let manager = |e: &Value| e.get("manager").and_then(Value::as_str).unwrap_or_default().to_owned();
    let is_helm = |e: &Value| HELM_MANAGERS.contains(&manager(e).as_str()) && is_main(e) && same_version(e);
    if !entries.iter().any(is_helm) {
        return None;
    }
    let is_ours = |e: &Value| {
        manager(e) == FIELD_MANAGER
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
            && is_main(e)
            && same_version(e)
    };
    let mut fields = Value::Object(Map::new());
    let mut time: Option<String> = None;
    let mut taken = Vec::new();
    let mut kept = Vec::new();
    for entry in entries {
        if is_helm(entry) || is_ours(entry) {
            if let Some(f) = entry.get("fieldsV1") {
                union_fields(&mut fields, f);
            }
            if let Some(t) = entry.get("time").and_then(Value::as_str)
                && time.as_deref().is_none_or(|old| old < t)
            {
                time = Some(t.to_owned());
            }
            if is_helm(entry) && !taken.contains(&manager(entry)) {
                taken.push(manager(entry));
            }
        } else {
            kept.push(entry.clone());
        }
    }
    let mut ours = Map::new();
    ours.insert("manager".into(), FIELD_MANAGER.into());
    ours.insert("operation".into(), "Apply".into());
    ours.insert("apiVersion".into(), api_version.into());
    if let Some(t) = time {
        ours.insert("time".into(), t.into());
    }
    ours.insert("fieldsType".into(), "FieldsV1".into());
    ours.insert("fieldsV1".into(), fields);
    kept.push(Value::Object(ours));
    Some((kept, taken))
}

/// The union of two `FieldsV1` sets (tries of `f:`/`k:`/`v:`/`i:` keys ending in `{}`).
fn union_fields(into: &mut Value, from: &Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (key, sub) in b {
            union_fields(a.entry(key.clone()).or_insert_with(|| Value::Object(Map::new())), sub);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(annotations: Value) -> Value {
        json!({"metadata": {"name": "x", "annotations": annotations}})
    }

    #[test]
    fn owner_from_annotations() {
        let ours = object(json!({RELEASE_NAME_ANNOTATION: "vc", RELEASE_NAMESPACE_ANNOTATION: "ns"}));
        assert_eq!(owner(&ours, "vc", "ns"), Owner::ThisRelease);
        let other = object(json!({RELEASE_NAME_ANNOTATION: "other", RELEASE_NAMESPACE_ANNOTATION: "ns"}));
        assert_eq!(owner(&other, "vc", "ns"), Owner::OtherRelease { name: "other".into(), namespace: "ns".into() });
        assert_eq!(owner(&json!({"metadata": {}}), "vc", "ns"), Owner::Nobody);
        assert_eq!(
            ownership_problem(&owner(&other, "vc", "ns"), "vc", "ns").unwrap(),
            "annotation validation error: key \"meta.helm.sh/release-name\" must equal \"vc\": current value is \"other\""
        );
        let moved = object(json!({RELEASE_NAME_ANNOTATION: "vc", RELEASE_NAMESPACE_ANNOTATION: "old"}));
        assert!(ownership_problem(&owner(&moved, "vc", "ns"), "vc", "ns").unwrap().contains("release-namespace"));
        assert!(ownership_problem(&Owner::Nobody, "vc", "ns").unwrap().contains("missing key"));
        assert!(keep(&object(json!({RESOURCE_POLICY_ANNOTATION: "keep"}))));
        assert!(!keep(&ours));
    }

    #[test]
    fn helm_fields_move_to_our_apply_entry() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "helm", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:ports": {}}}},
            {"manager": "vcluster", "operation": "Apply", "apiVersion": "v1", "time": "2024-02-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:b": {}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "subresource": "status",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {}}},
            {"manager": "helm", "operation": "Update", "apiVersion": "v1", "subresource": "status",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:x": {}}}}
        ]}});
        let (fields, taken) = take_over_helm_fields(&live, "v1").unwrap();
        assert_eq!(taken, ["helm"]);
        assert_eq!(fields.len(), 3, "status entries stay, helm's main entry merges into ours");
        let ours = fields.last().unwrap();
        assert_eq!(ours["manager"], "vcluster");
        assert_eq!(ours["operation"], "Apply");
        assert_eq!(ours["time"], "2024-02-01T00:00:00Z");
        assert_eq!(
            ours["fieldsV1"],
            json!({"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}, "f:spec": {"f:ports": {}}})
        );
        assert!(take_over_helm_fields(&json!({"metadata": {"managedFields": [ours]}}), "v1").is_none());
        assert!(take_over_helm_fields(&live, "v2").is_none(), "other versions' fields are left alone");
    }
}
