//! The requests only an install makes: detecting the host's service CIDR (the default ServiceCIDR,
//! else dry-run probe Services) and checking permissions before the first write.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, ResourceRule, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SelfSubjectRulesReview,
    SelfSubjectRulesReviewSpec,
};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::ServiceCIDR;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use super::error::InstallError;
use super::permissions::{self, Permission};
use crate::cluster::Connection;
use vcluster_translate::cidr::{self, Detected};

/// What a permission check found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PermissionReport {
    pub(crate) missing: Vec<Permission>,
    /// Why some permissions could not be checked (a non-RBAC authorizer, an old cluster).
    pub(crate) unchecked: Option<String>,
}

/// The host's service CIDR: the default ServiceCIDR's ranges where the cluster serves them,
/// else dry-run probe Services in `namespace` (which must exist; the GET needs none).
pub(crate) async fn detect_service_cidr(cluster: &Connection, namespace: &str) -> Result<Detected, InstallError> {
    // One request instead of the probes' two or three, and exact on dual stack: both
    // families in kube-apiserver's own order.
    if let Some(found) = default_service_cidr(cluster).await? {
        return Ok(Detected::Found(found));
    }
    probe_service_cidr(cluster, namespace).await
}

/// The ranges of the ServiceCIDR `kubernetes` (Kubernetes 1.33+); `None` when the cluster
/// does not serve it (404: an older cluster, or the API turned off), this user may not read
/// it (403), or it names no usable range.
async fn default_service_cidr(cluster: &Connection) -> Result<Option<String>, InstallError> {
    let api: Api<ServiceCIDR> = Api::all(cluster.client.clone());
    match api.get(cidr::DEFAULT_SERVICE_CIDR).await {
        Ok(found) => Ok(cidr::from_service_cidr(&found.spec.and_then(|s| s.cidrs).unwrap_or_default())),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 403 => Ok(None),
        Err(e) => Err(InstallError::from(cluster.error(e))),
    }
}

/// The host's service CIDR from dry-run probe Services in `namespace`.
async fn probe_service_cidr(cluster: &Connection, namespace: &str) -> Result<Detected, InstallError> {
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), namespace);
    let probe = |ip: Option<&str>, dual: bool| {
        let mut spec = json!({"ports": [{"port": 80}]});
        if let Some(ip) = ip {
            spec["clusterIP"] = ip.into();
        }
        if dual {
            spec["ipFamilyPolicy"] = "PreferDualStack".into();
        }
        let svc: Service = serde_json::from_value(json!({"metadata": {"generateName": "test-service-"}, "spec": spec}))
            .expect("a valid Service");
        let api = api.clone();
        async move { api.create(&PostParams { dry_run: true, ..PostParams::default() }, &svc).await }
    };
    let range = |result: Result<Service, kube::Error>| match result {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(status.message.clone()),
        Err(kube::Error::Api(status)) => Ok(cidr::range_in_message(&status.message)),
        Err(other) => Err(cluster.error(other).to_string()),
    };
    let (v4, v6) = futures::join!(probe(Some(cidr::PROBE_V4), false), probe(Some(cidr::PROBE_V6), false));
    let (v4, v6) = match (range(v4), range(v6)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(reason), _) | (_, Err(reason)) => {
            return Ok(Detected::Fallback { reason: format!("the probe Service was refused: {reason}") });
        }
    };
    let ipv6_primary = if v4.is_some() && v6.is_some() {
        let dual = probe(None, true).await.map_err(|e| InstallError::from(cluster.error(e)))?;
        dual.spec.and_then(|s| s.ip_families).and_then(|f| f.first().cloned()).as_deref() == Some("IPv6")
    } else {
        false
    };
    Ok(match cidr::combine(v4, v6, ipv6_primary) {
        Some(found) => Detected::Found(found),
        None => Detected::Fallback { reason: "no probe answer named the service IP range".into() },
    })
}

/// Which of `needed` are not granted: one SelfSubjectRulesReview for the namespace, one
/// SelfSubjectAccessReview per cluster-scoped permission.
pub(crate) async fn check_permissions(
    cluster: &Connection,
    namespace: &str,
    needed: &[Permission],
) -> Result<PermissionReport, InstallError> {
    let mut report = PermissionReport::default();
    let namespaced: Vec<&Permission> = needed.iter().filter(|p| p.namespaced).collect();
    let cluster_wide: Vec<&Permission> = needed.iter().filter(|p| !p.namespaced).collect();
    let rules = async {
        let api: Api<SelfSubjectRulesReview> = Api::all(cluster.client.clone());
        let review = SelfSubjectRulesReview {
            spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.to_owned()) },
            ..SelfSubjectRulesReview::default()
        };
        api.create(&PostParams::default(), &review).await
    };
    let access = futures::future::join_all(cluster_wide.iter().map(|p| async move {
        let api: Api<SelfSubjectAccessReview> = Api::all(cluster.client.clone());
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(p.verb.to_owned()),
                    group: Some(p.group.clone()),
                    resource: Some(p.resource.clone()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        (p, api.create(&PostParams::default(), &review).await)
    }));
    let (rules, access) = futures::join!(rules, access);
    match rules {
        Ok(review) => {
            let status = review.status.unwrap_or_default();
            let granted: &[ResourceRule] = &status.resource_rules;
            for p in namespaced.iter().filter(|p| !permissions::allowed(granted, p)) {
                if status.incomplete {
                    report.unchecked = Some(format!(
                        "the cluster's authorizer lists rules incompletely{}",
                        status.evaluation_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                    ));
                } else {
                    report.missing.push((*p).clone());
                }
            }
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {
            report.unchecked = Some("the cluster does not serve SelfSubjectRulesReview".into());
        }
        Err(e) => return Err(InstallError::from(cluster.error(e))),
    }
    for (p, result) in access {
        match result {
            Ok(review) if review.status.as_ref().is_some_and(|s| s.allowed) => {}
            Ok(_) => report.missing.push((*p).clone()),
            Err(kube::Error::Api(status)) if status.code == 404 => {
                report.unchecked = Some("the cluster does not serve SelfSubjectAccessReview".into());
            }
            Err(e) => return Err(InstallError::from(cluster.error(e))),
        }
    }
    Ok(report)
}
