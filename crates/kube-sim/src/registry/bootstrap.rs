//! What a fresh cluster holds (kube-apiserver's own objects) and the seeding of test objects.

use serde_json::{Value, json};

use super::Cluster;
use crate::admission::services::ServiceNetwork;
use crate::model::jsonpath;
use crate::model::options::{FieldValidation, Sub, WriteOpts};
use crate::model::resources;
use crate::model::util;

/// The field manager of objects the cluster's own components create at start.
const APISERVER_MANAGER: &str = "kube-apiserver";
/// The field manager of kube-controller-manager's writes.
const KCM_MANAGER: &str = "kube-controller-manager";
/// The field manager of objects seeded by tests.
const SEED_MANAGER: &str = "kube-sim-seed";

/// The objects a fresh kube-apiserver creates: the four system namespaces, the
/// `default/kubernetes` Service with its Endpoints and EndpointSlice
/// (pkg/controlplane/controller/{systemnamespaces,kubernetesservice}) and the default
/// ServiceCIDR (pkg/controlplane/controller/defaultservicecidr).
/// `system` objects (group, resource, cluster-scoped object) are created first (the RBAC
/// bootstrap policy when RBAC is on).
pub fn bootstrap(
    cluster: &mut Cluster,
    network: &ServiceNetwork,
    port: u16,
    system: Vec<(&str, &str, Value)>,
) -> Result<(), String> {
    let opts = WriteOpts { dry_run: false, manager: APISERVER_MANAGER.into(), validation: FieldValidation::Strict };
    for (group, plural, object) in system {
        let res = resources::find(group, "v1", plural).ok_or_else(|| format!("{plural}.{group} is not served"))?;
        cluster.create(res, "", object, &opts).map_err(|e| e.message)?;
    }
    let ns_res = resources::find("", "v1", "namespaces").expect("served");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        cluster.create(ns_res, "", json!({ "metadata": { "name": ns } }), &opts).map_err(|e| e.message)?;
    }
    let first_ip = network.cidrs[0].nth(1).to_string();
    let objects = [
        (
            ("", "services"),
            json!({
                "metadata": { "name": "kubernetes", "labels": { "component": "apiserver", "provider": "kubernetes" } },
                "spec": { "clusterIP": first_ip, "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443 }], "type": "ClusterIP" }
            }),
        ),
        (
            ("", "endpoints"),
            json!({
                "metadata": { "name": "kubernetes", "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" } },
                "subsets": [{ "addresses": [{ "ip": "127.0.0.1" }], "ports": [{ "name": "https", "port": port, "protocol": "TCP" }] }]
            }),
        ),
        (
            ("discovery.k8s.io", "endpointslices"),
            json!({
                "metadata": { "name": "kubernetes", "labels": { "kubernetes.io/service-name": "kubernetes" } },
                "addressType": "IPv4",
                "endpoints": [{ "addresses": ["127.0.0.1"], "conditions": { "ready": true } }],
                "ports": [{ "name": "https", "port": port, "protocol": "TCP" }]
            }),
        ),
    ];
    for ((group, plural), body) in objects {
        let res = resources::find(group, "v1", plural).expect("served");
        cluster.create(res, "default", body, &opts).map_err(|e| e.message)?;
    }
    default_service_cidr(cluster, network)
}

/// default_servicecidr_controller.go: the ServiceCIDR `kubernetes` holds the
/// `--service-cluster-ip-range` ranges, primary first; the controller then applies (forced, as
/// its own field manager) a `Ready` condition with no reason. Then what a cluster shows from
/// seconds after start on: kube-controller-manager's ServiceCIDR controller
/// (pkg/controller/servicecidrs/servicecidrs_controller.go `sync`) adds its finalizer
/// `networking.k8s.io/service-cidr-finalizer` and applies its own Ready condition, `Kubernetes
/// Service CIDR is ready` (kubernetes v1.33). `reason` stays, empty: metav1.Condition's
/// `reason` has no omitempty.
fn default_service_cidr(cluster: &mut Cluster, network: &ServiceNetwork) -> Result<(), String> {
    const CONTROLLER: &str = "kubernetes-service-cidr-controller";
    const KCM_CONTROLLER: &str = "service-cidr-controller";
    let res = resources::find("networking.k8s.io", "v1", "servicecidrs").expect("served");
    let cidrs: Vec<String> = network.cidrs.iter().map(ToString::to_string).collect();
    let opts = WriteOpts { dry_run: false, manager: APISERVER_MANAGER.into(), validation: FieldValidation::Strict };
    let mut created = cluster
        .create(res, "", json!({ "metadata": { "name": "kubernetes" }, "spec": { "cidrs": cidrs } }), &opts)
        .map_err(|e| e.message)?
        .object;
    let ready = |message: &str| {
        json!({ "conditions": [{
            "type": "Ready",
            "status": "True",
            "lastTransitionTime": util::now_rfc3339(),
            "reason": "",
            "message": message,
        }] })
    };
    created["status"] = ready("Kubernetes default Service CIDR is ready");
    let status_opts = WriteOpts { manager: CONTROLLER.into(), ..opts.clone() };
    let mut updated =
        cluster.update(res, "", "kubernetes", created, Sub::Status, &status_opts).map_err(|e| e.message)?.object;
    updated["metadata"]["finalizers"] = json!(["networking.k8s.io/service-cidr-finalizer"]);
    let kcm = WriteOpts { manager: KCM_MANAGER.into(), ..opts.clone() };
    let mut updated = cluster.update(res, "", "kubernetes", updated, Sub::Main, &kcm).map_err(|e| e.message)?.object;
    updated["status"] = ready("Kubernetes Service CIDR is ready");
    let kcm_status = WriteOpts { manager: KCM_CONTROLLER.into(), ..opts };
    cluster.update(res, "", "kubernetes", updated, Sub::Status, &kcm_status).map_err(|e| e.message)?;
    Ok(())
}

pub fn seed_one(cluster: &mut Cluster, doc: Value) -> Result<Value, String> {
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    let res = resources::find_kind(api_version, kind)
        .ok_or_else(|| format!("kind {api_version}/{kind} is not served by kube-sim"))?;
    let ns = doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
    let opts = WriteOpts { dry_run: false, manager: SEED_MANAGER.into(), validation: FieldValidation::Strict };
    let status = doc.get("status").cloned();
    let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let created = cluster.create(res, &ns, doc, &opts).map_err(|e| e.message)?.object;
    match status {
        Some(status) if resources::by_id(res).has_status() => {
            let mut with_status = created;
            with_status["status"] = status;
            let name = if name.is_empty() { jsonpath::name(&with_status).to_string() } else { name };
            cluster.update(res, &ns, &name, with_status, Sub::Status, &opts).map(|w| w.object).map_err(|e| e.message)
        }
        _ => Ok(created),
    }
}
