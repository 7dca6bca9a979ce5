//! PersistentVolumeClaims: bound at once, as the PV controller binds a claim to a volume it
//! provisioned (pkg/controller/volume/persistentvolume/pv_controller.go: `spec.volumeName`,
//! the `pv.kubernetes.io/bind-completed` and `bound-by-controller` annotations, status Bound
//! with the access modes and capacity). The PersistentVolume itself is not served. The
//! StorageObjectInUseProtection finalizer is added, and removed once a claim being deleted is
//! used by no pod (pkg/controller/volume/pvcprotection).

use serde_json::{Value, json};

use super::helpers::{being_deleted, objects, rid, set_status, update};
use super::state::Pass;
use crate::model::jsonpath::{self, get, get_str, items};
use crate::registry::Cluster;

const PROTECTION: &str = "kubernetes.io/pvc-protection";

/// One pass; `bind`: the PV controller binds pending claims (else only the finalizer).
pub fn reconcile(cluster: &mut Cluster, pass: &mut Pass, bind: bool) {
    let pvcs = rid("", "persistentvolumeclaims");
    let pods = rid("", "pods");
    for claim in objects(cluster, pvcs, None) {
        let mut finalizers = jsonpath::finalizers(&claim);
        if being_deleted(&claim) {
            let ns = jsonpath::namespace(&claim);
            let used = objects(cluster, pods, Some(ns)).iter().any(|p| {
                items(p.get("spec").unwrap_or(&Value::Null), "volumes")
                    .any(|v| get_str(v, &["persistentVolumeClaim", "claimName"]) == Some(jsonpath::name(&claim)))
            });
            if !used && finalizers.iter().any(|f| f == PROTECTION) {
                finalizers.retain(|f| f != PROTECTION);
                let mut updated = (*claim).clone();
                jsonpath::set_finalizers(&mut updated, &finalizers);
                update(cluster, pass, pvcs, &claim, updated, "kube-controller-manager");
            }
            continue;
        }
        if get_str(&claim, &["status", "phase"]) == Some("Bound") {
            continue;
        }
        let mut bound = (*claim).clone();
        if !finalizers.iter().any(|f| f == PROTECTION) {
            finalizers.push(PROTECTION.into());
            jsonpath::set_finalizers(&mut bound, &finalizers);
        }
        if !bind {
            update(cluster, pass, pvcs, &claim, bound, "kube-controller-manager");
            continue;
        }
        let volume = format!("pvc-{}", jsonpath::uid(&claim));
        jsonpath::object_at(&mut bound, &["spec"]).insert("volumeName".into(), volume.into());
        let annotations = jsonpath::object_at(&mut bound, &["metadata", "annotations"]);
        annotations.insert("pv.kubernetes.io/bind-completed".into(), "yes".into());
        annotations.insert("pv.kubernetes.io/bound-by-controller".into(), "yes".into());
        update(cluster, pass, pvcs, &claim, bound, "kube-controller-manager");
        let Ok(stored) = cluster.get(pvcs, jsonpath::namespace(&claim), jsonpath::name(&claim)) else { continue };
        let status = json!({
            "phase": "Bound",
            "accessModes": get(&stored, &["spec", "accessModes"]).cloned().unwrap_or(json!([])),
            "capacity": { "storage": get(&stored, &["spec", "resources", "requests", "storage"]).cloned().unwrap_or(json!("1Gi")) }
        });
        set_status(cluster, pass, pvcs, &stored, status, "kube-controller-manager");
    }
}
