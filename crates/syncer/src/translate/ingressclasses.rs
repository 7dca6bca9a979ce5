//! IngressClasses, host → virtual (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/ingressclasses/{syncer,translate}.go`, the "mirror physical"
//! translator): the virtual class has the host class's name, labels, annotations (so
//! `ingressclass.kubernetes.io/is-default-class` too), controller and parameters; a virtual class
//! without a host class is deleted, so users cannot define classes of their own.

use k8s_openapi::api::networking::v1::IngressClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::semantic;

/// The virtual class for the host class `h` (`TranslateMetadata` of the mirror translator: the
/// metadata reset to name, labels and annotations).
pub(crate) fn to_virtual(h: &IngressClass) -> IngressClass {
    IngressClass {
        metadata: ObjectMeta {
            name: h.metadata.name.clone(),
            labels: h.metadata.labels.clone(),
            annotations: h.metadata.annotations.clone(),
            ..ObjectMeta::default()
        },
        spec: h.spec.clone(),
    }
}

/// The updated virtual class, or `None` when labels, annotations, controller and parameters
/// already match the host's (`updateVirtual`).
pub(crate) fn update(v: &IngressClass, h: &IngressClass) -> Option<IngressClass> {
    let mut out = v.clone();
    let mut changed = false;
    if !semantic::eq(&v.metadata.labels, &h.metadata.labels)
        || !semantic::eq(&v.metadata.annotations, &h.metadata.annotations)
    {
        out.metadata.labels = h.metadata.labels.clone();
        out.metadata.annotations = h.metadata.annotations.clone();
        changed = true;
    }
    let (v_spec, h_spec) = (v.spec.clone().unwrap_or_default(), h.spec.clone().unwrap_or_default());
    if v_spec.controller != h_spec.controller || !semantic::eq(&v_spec.parameters, &h_spec.parameters) {
        let spec = out.spec.get_or_insert_with(Default::default);
        spec.controller = h_spec.controller;
        spec.parameters = h_spec.parameters;
        changed = true;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    //! Upstream ingressclasses cases (v0.15.7 pkg/controllers/resources/ingressclasses/syncer_test.go): Sync Up (host → virtual create), Sync (update); Sync
    //! Down (a virtual-only class is deleted) is the controller's decision, tested in-process.
    use super::*;
    use serde_json::json;

    fn class(value: serde_json::Value) -> IngressClass {
        serde_json::from_value(value).unwrap()
    }

    fn host() -> IngressClass {
        class(json!({
            "metadata": {
                "name": "nginx", "uid": "host-uid", "resourceVersion": "9",
                "labels": {"app.kubernetes.io/name": "ingress-nginx"},
                "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Namespace", "name": "x", "uid": "u"}]
            },
            "spec": {"controller": "k8s.io/ingress-nginx",
                     "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p", "scope": "Cluster"}}
        }))
    }

    #[test]
    fn sync_up_mirrors_the_host_class() {
        let v = to_virtual(&host());
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            json!({
                "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                "metadata": {
                    "name": "nginx",
                    "labels": {"app.kubernetes.io/name": "ingress-nginx"},
                    "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}
                },
                "spec": {"controller": "k8s.io/ingress-nginx",
                         "parameters": {"apiGroup": "k8s.example.com", "kind": "Params", "name": "p", "scope": "Cluster"}}
            })
        );
        assert!(update(&v, &host()).is_none());
    }

    #[test]
    fn sync_updates_metadata_and_spec() {
        let v = to_virtual(&host());
        let mut h = host();
        h.metadata.annotations = None;
        h.spec.as_mut().unwrap().controller = Some("example.com/other".into());
        let out = update(&v, &h).unwrap();
        assert_eq!(out.metadata.annotations, None);
        assert_eq!(out.spec.unwrap().controller.as_deref(), Some("example.com/other"));
    }
}
