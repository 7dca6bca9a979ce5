//! `EnsureServiceCIDR` (loft-sh/vcluster v0.15.7 `cmd/vcluster/cmd/start.go`,
//! `pkg/util/servicecidr/servicecidr.go` `EnsureServiceCIDRConfigmap`): the ConfigMap
//! `vc-cidr-<name>` (key `cidr`) in the current namespace holds the host's service CIDR; the
//! chart reads it into k3s's `--service-cidr` when `serviceCIDR` is unset. Created when missing,
//! patched when its value is not a CIDR, left alone otherwise (no write on a restart).
//!
//! Detection: the 1.33 ServiceCIDR `kubernetes` when served and readable, else the probe
//! Services (dry-run creates with an invalid cluster IP, whose error names the range).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::{ApiResource, DynamicObject, GroupVersionKind};
use kube::{Api, Client};
use vcluster_translate::cidr;

use crate::error::is_code;

pub use cidr::{CONFIGMAP_KEY, configmap_name};

/// Make sure the ConfigMap holds a CIDR; returns the CIDR.
pub async fn ensure(client: &Client, namespace: &str, vcluster: &str) -> Result<String, kube::Error> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let name = configmap_name(vcluster);
    let existing = api.get_opt(&name).await?;
    if let Some(value) = existing.as_ref().and_then(|c| c.data.as_ref()).and_then(|d| d.get(CONFIGMAP_KEY))
        && cidr::is_valid_stored(value)
    {
        return Ok(value.clone());
    }
    let detected = detect(client, namespace).await;
    let value = detected.cidr().to_owned();
    if let cidr::Detected::Fallback { reason } = &detected {
        tracing::warn!(
            "failed to detect service CIDR, will fallback to {}, however this is probably wrong: {reason}",
            cidr::FALLBACK
        );
    }
    if existing.is_some() {
        let patch = serde_json::json!({ "data": { CONFIGMAP_KEY: value } });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    } else {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(CONFIGMAP_KEY.to_owned(), value.clone())])),
            ..ConfigMap::default()
        };
        match api.create(&PostParams::default(), &cm).await {
            Ok(_) => {}
            // Another replica was faster.
            Err(e) if is_code(&e, 409) => {}
            Err(e) => return Err(e),
        }
    }
    tracing::info!("service CIDR {value} written to ConfigMap {namespace}/{name}");
    Ok(value)
}

/// Detect the host's service CIDR.
pub async fn detect(client: &Client, namespace: &str) -> cidr::Detected {
    let gvk = GroupVersionKind::gvk("networking.k8s.io", "v1", "ServiceCIDR");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "servicecidrs");
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    if let Ok(Some(obj)) = api.get_opt(cidr::DEFAULT_SERVICE_CIDR).await {
        let cidrs: Vec<String> = obj.data["spec"]["cidrs"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if let Some(found) = cidr::from_service_cidr(&cidrs) {
            return cidr::Detected::Found(found);
        }
    }
    let v4 = probe(client, namespace, cidr::PROBE_V4).await;
    let v6 = probe(client, namespace, cidr::PROBE_V6).await;
    match cidr::combine(v4.clone().ok(), v6.clone().ok(), false) {
        Some(found) => cidr::Detected::Found(found),
        None => cidr::Detected::Fallback {
            reason: format!(
                "failed to find IPv4 service CIDR: {} ; or IPv6 service CIDR: {}",
                v4.err().unwrap_or_default(),
                v6.err().unwrap_or_default()
            ),
        },
    }
}

async fn probe(client: &Client, namespace: &str, ip: &str) -> Result<String, String> {
    let api: Api<Service> = Api::namespaced(client.clone(), namespace);
    let svc = Service {
        metadata: ObjectMeta { generate_name: Some("test-service-".into()), ..ObjectMeta::default() },
        spec: Some(ServiceSpec {
            cluster_ip: Some(ip.to_owned()),
            ports: Some(vec![ServicePort { port: 80, ..ServicePort::default() }]),
            ..ServiceSpec::default()
        }),
        status: None,
    };
    match api.create(&PostParams { dry_run: true, field_manager: None }, &svc).await {
        Ok(_) => Err("couldn't find host cluster Service CIDR".into()),
        Err(kube::Error::Api(status)) => cidr::range_in_message(&status.message)
            .ok_or_else(|| format!("couldn't find host cluster Service CIDR (\"{}\")", status.message)),
        Err(e) => Err(e.to_string()),
    }
}
