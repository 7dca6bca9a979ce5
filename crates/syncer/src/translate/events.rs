//! Events, host → virtual (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/events/syncer.go`):
//! a host Event about a synced object becomes a virtual Event about the virtual object, with
//! the names in its name and message rewritten.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The kinds whose events are copied (`AcceptedKinds`, core/v1).
pub const ACCEPTED_KINDS: &[&str] = &["Pod", "Service", "Endpoint", "Secret", "ConfigMap"];

/// The virtual object an event is about.
#[derive(Debug, Clone)]
pub struct Involved<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
    pub resource_version: &'a str,
}

/// The virtual Event for the host event `h` about the virtual object `v`.
pub fn to_virtual(h: &Event, v: &Involved<'_>) -> Event {
    let host_name = h.involved_object.name.clone().unwrap_or_default();
    let host_namespace = h.involved_object.namespace.clone().unwrap_or_default();
    let mut out = h.clone();
    let mut name = h.metadata.name.clone().unwrap_or_default();
    if !host_name.is_empty() && name.starts_with(&host_name) {
        name = name.replacen(&host_name, v.name, 1);
    }
    out.metadata = ObjectMeta {
        name: Some(name),
        namespace: Some(v.namespace.to_owned()),
        labels: h.metadata.labels.clone(),
        annotations: h.metadata.annotations.clone(),
        ..ObjectMeta::default()
    };
    out.involved_object.namespace = Some(v.namespace.to_owned());
    out.involved_object.name = Some(v.name.to_owned());
    out.involved_object.uid = Some(v.uid.to_owned());
    out.involved_object.resource_version = Some(v.resource_version.to_owned());
    if let Some(message) = out.message.as_mut() {
        *message = message.replace(&format!("{host_namespace}/{host_name}"), &format!("{}/{}", v.namespace, v.name));
        if !host_name.is_empty() {
            *message = message.replace(&host_name, v.name);
        }
    }
    out
}

/// The existing virtual event updated to `desired`, or `None` when equal (everything but the
/// metadata is compared, as upstream copies the old metadata before comparing). Unlike
/// upstream, the involved object's resourceVersion alone does not make a difference: it moves
/// with every status update of the pod, and would rewrite every event on each restart.
pub fn update(existing: &Event, desired: &Event) -> Option<Event> {
    let mut candidate = desired.clone();
    candidate.metadata = existing.metadata.clone();
    candidate.involved_object.resource_version = existing.involved_object.resource_version.clone();
    (candidate != *existing).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ObjectReference;

    #[test]
    fn rewrites_names() {
        let h = Event {
            metadata: ObjectMeta {
                name: Some("web-x-default-x-vcluster.17a".into()),
                namespace: Some("test".into()),
                uid: Some("host".into()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                kind: Some("Pod".into()),
                api_version: Some("v1".into()),
                name: Some("web-x-default-x-vcluster".into()),
                namespace: Some("test".into()),
                uid: Some("host-uid".into()),
                ..Default::default()
            },
            message: Some("Successfully assigned test/web-x-default-x-vcluster to node-1".into()),
            reason: Some("Scheduled".into()),
            ..Default::default()
        };
        let v = to_virtual(&h, &Involved { namespace: "default", name: "web", uid: "vuid", resource_version: "5" });
        assert_eq!(v.metadata.name.as_deref(), Some("web.17a"));
        assert_eq!(v.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(v.metadata.uid, None);
        assert_eq!(v.involved_object.uid.as_deref(), Some("vuid"));
        assert_eq!(v.message.as_deref(), Some("Successfully assigned default/web to node-1"));
        let mut stored = v.clone();
        stored.metadata.uid = Some("x".into());
        stored.involved_object.resource_version = Some("4".into());
        assert!(update(&stored, &v).is_none());
        let mut counted = h.clone();
        counted.count = Some(2);
        let desired =
            to_virtual(&counted, &Involved { namespace: "default", name: "web", uid: "vuid", resource_version: "5" });
        assert_eq!(update(&stored, &desired).unwrap().count, Some(2));
    }
}
