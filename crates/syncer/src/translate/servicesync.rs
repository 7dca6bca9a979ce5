//! mapServices (loft-sh/vcluster v0.15.7 `pkg/controllers/servicesync/servicesync.go`): the
//! objects the service mappings make, and when they need a write.
//!
//! - fromHost (`--map-host-service`): a virtual **headless** Service with the source's ports
//!   (node ports stripped) and virtual Endpoints holding the source's ClusterIP (one subset, the
//!   target's ports), or — for a headless source — the source's Endpoints subsets; the source's
//!   load-balancer status mirrored.
//! - fromVirtual (`--map-virtual-service`): a host Service in the host namespace with the
//!   source's ports, headless when the source is, owned like every synced object, whose selector
//!   is the source's translated selector (hashed keys, `managed-by`, `namespace`), so the host's
//!   kube-proxy routes straight to the synced pods.
//!
//! Everything made here carries `vcluster.loft.sh/controlled-by: vcluster`; the ordinary syncers
//! skip objects with that label, and a target without it belongs to someone else.

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort, ServiceSpec, ServiceStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vcluster_translate::metadata::CONTROLLED_BY_LABEL;

use super::{Context, semantic};

/// The value of `vcluster.loft.sh/controlled-by` on mapped objects (`translate.ControllerLabel`).
pub(crate) const CONTROLLER: &str = "vcluster";

/// Whether the object was made by a service mapping (`vcluster.loft.sh/controlled-by:
/// vcluster`, v0.15.7 `pkg/controllers/servicesync/servicesync.go` `translate.ControllerLabel`).
/// The ordinary Service and Endpoints syncers must leave such objects alone, on both sides.
pub(crate) fn is_controlled_by_servicesync(meta: &ObjectMeta) -> bool {
    meta.labels.as_ref().and_then(|l| l.get(CONTROLLED_BY_LABEL)).is_some_and(|v| v == CONTROLLER)
}

fn controlled_meta(namespace: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some([(CONTROLLED_BY_LABEL.to_owned(), CONTROLLER.to_owned())].into()),
        ..ObjectMeta::default()
    }
}

/// Whether the Service is headless (`clusterIP: None`).
pub(crate) fn is_headless(s: &Service) -> bool {
    s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// The source's ports without node ports (`services.StripNodePorts`).
pub(crate) fn source_ports(source: &Service) -> Option<Vec<ServicePort>> {
    source
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .map(|ports| ports.into_iter().map(|p| ServicePort { node_port: None, ..p }).collect())
}

fn ports_of(s: &Service) -> Option<&Vec<ServicePort>> {
    s.spec.as_ref().and_then(|s| s.ports.as_ref())
}

/// fromHost: the virtual target Service to create (always headless: its Endpoints are ours).
pub(crate) fn virtual_target(source: &Service, namespace: &str, name: &str) -> Service {
    Service {
        metadata: controlled_meta(namespace, name),
        spec: Some(ServiceSpec {
            ports: source_ports(source),
            cluster_ip: Some("None".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// fromHost: the target with the source's ports, when they differ.
pub(crate) fn virtual_target_update(source: &Service, target: &Service) -> Option<Service> {
    let ports = source_ports(source);
    if semantic::eq(&ports.as_ref(), &ports_of(target)) {
        return None;
    }
    let mut out = target.clone();
    out.spec.get_or_insert_with(Default::default).ports = ports;
    Some(out)
}

/// fromHost: the source's load-balancer status, when the source is a LoadBalancer and the
/// target's status differs (loft-sh/vcluster issue #732).
pub(crate) fn load_balancer_status(source: &Service, target: &Service) -> Option<ServiceStatus> {
    let is_lb = source.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    let lb = |s: &Service| s.status.as_ref().and_then(|s| s.load_balancer.clone());
    if !is_lb || semantic::eq(&lb(source), &lb(target)) {
        return None;
    }
    let mut status = target.status.clone().unwrap_or_default();
    status.load_balancer = lb(source);
    Some(status)
}

/// fromHost: the subsets the virtual Endpoints must hold: the source's ClusterIP with the
/// target's ports, or, for a headless source, its Endpoints' subsets (`None`: not known yet).
/// A source without a ClusterIP (ExternalName) gives no address.
pub(crate) fn expected_subsets(
    source: &Service,
    source_endpoints: Option<&Endpoints>,
    target: &Service,
) -> Option<Vec<EndpointSubset>> {
    if is_headless(source) {
        return source_endpoints.map(|e| e.subsets.clone().unwrap_or_default());
    }
    let ip = source.spec.as_ref().and_then(|s| s.cluster_ip.clone()).filter(|ip| !ip.is_empty());
    let Some(ip) = ip else { return Some(Vec::new()) };
    Some(vec![EndpointSubset {
        addresses: Some(vec![EndpointAddress { ip, ..EndpointAddress::default() }]),
        ports: Some(
            ports_of(target)
                .into_iter()
                .flatten()
                .map(|p| EndpointPort {
                    name: p.name.clone(),
                    port: p.port,
                    protocol: p.protocol.clone(),
                    app_protocol: p.app_protocol.clone(),
                })
                .collect(),
        ),
        not_ready_addresses: None,
    }])
}

/// fromHost: the virtual Endpoints to create.
pub(crate) fn virtual_endpoints(namespace: &str, name: &str, subsets: Vec<EndpointSubset>) -> Endpoints {
    Endpoints { metadata: controlled_meta(namespace, name), subsets: Some(subsets) }
}

/// fromHost: the Endpoints with `subsets`, when they differ.
pub(crate) fn endpoints_update(current: &Endpoints, subsets: Vec<EndpointSubset>) -> Option<Endpoints> {
    if semantic::eq(&current.subsets.as_ref(), &Some(&subsets)) {
        return None;
    }
    Some(Endpoints { subsets: Some(subsets), ..current.clone() })
}

fn host_selector(ctx: &Context, source: &Service) -> Option<std::collections::BTreeMap<String, String>> {
    let namespace = source.metadata.namespace.as_deref().unwrap_or_default();
    ctx.translator.host_service_selector(source.spec.as_ref().and_then(|s| s.selector.as_ref()), namespace)
}

/// fromVirtual: the host target Service to create in the host namespace.
///
/// A selectorless source stays selectorless (v0.15.7 would give the host Service the selector
/// `managed-by` + `namespace` alone, routing to every synced pod of that virtual namespace).
pub(crate) fn host_target(ctx: &Context, source: &Service, name: &str) -> Service {
    let mut metadata = controlled_meta(ctx.host_namespace(), name);
    metadata.owner_references = ctx.owner_references(None);
    Service {
        metadata,
        spec: Some(ServiceSpec {
            ports: source_ports(source),
            cluster_ip: is_headless(source).then(|| "None".to_owned()),
            selector: host_selector(ctx, source),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// fromVirtual: the target with the source's ports and translated selector, when either differs.
pub(crate) fn host_target_update(ctx: &Context, source: &Service, target: &Service) -> Option<Service> {
    let ports = source_ports(source);
    let selector = host_selector(ctx, source);
    let current_selector = target.spec.as_ref().and_then(|s| s.selector.as_ref());
    if semantic::eq(&ports.as_ref(), &ports_of(target)) && semantic::eq(&selector.as_ref(), &current_selector) {
        return None;
    }
    let mut out = target.clone();
    let spec = out.spec.get_or_insert_with(Default::default);
    spec.ports = ports;
    spec.selector = selector;
    Some(out)
}

#[cfg(test)]
mod tests {
    //! Cases of upstream's servicesync e2e (v0.15.7 test/e2e/servicesync/servicesync.go: port `custom` 8080, selector of exactly three
    //! keys), with the upstream test context (vcluster `vcluster`, host namespace `test`).
    //! Hash: `printf %s test | sha256sum` → 9f86d08188.
    use super::*;
    use crate::translate::testing::ctx;
    use serde_json::json;

    fn service(value: serde_json::Value) -> Service {
        serde_json::from_value(value).unwrap()
    }

    fn source() -> Service {
        service(json!({
            "metadata": {"name": "test", "namespace": "test", "uid": "s"},
            "spec": {
                "type": "NodePort", "clusterIP": "10.96.0.20", "selector": {"test": "test"},
                "ports": [{"name": "custom", "port": 8080, "protocol": "TCP", "targetPort": 8080, "nodePort": 31000}]
            }
        }))
    }

    #[test]
    fn from_host_target_is_headless_without_node_ports() {
        let t = virtual_target(&source(), "default", "test");
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "test", "namespace": "default", "labels": {"vcluster.loft.sh/controlled-by": "vcluster"}},
                "spec": {"clusterIP": "None", "ports": [{"name": "custom", "port": 8080, "protocol": "TCP", "targetPort": 8080}]}
            })
        );
        assert!(is_controlled_by_servicesync(&t.metadata));
        assert!(virtual_target_update(&source(), &t).is_none());
        let mut changed = source();
        changed.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].port = 9090;
        let updated = virtual_target_update(&changed, &t).unwrap();
        assert_eq!(updated.spec.unwrap().ports.unwrap()[0].port, 9090);
    }

    #[test]
    fn from_host_endpoints_point_at_the_cluster_ip() {
        let t = virtual_target(&source(), "default", "test");
        let subsets = expected_subsets(&source(), None, &t).unwrap();
        assert_eq!(
            serde_json::to_value(&subsets).unwrap(),
            json!([{"addresses": [{"ip": "10.96.0.20"}], "ports": [{"name": "custom", "port": 8080, "protocol": "TCP"}]}])
        );
        let e = virtual_endpoints("default", "test", subsets.clone());
        assert!(is_controlled_by_servicesync(&e.metadata));
        assert!(endpoints_update(&e, subsets).is_none());
        assert!(endpoints_update(&e, vec![]).is_some());
    }

    #[test]
    fn from_host_headless_follows_the_source_endpoints() {
        let mut headless = source();
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        let t = virtual_target(&headless, "default", "test");
        assert_eq!(expected_subsets(&headless, None, &t), None, "not known until the source Endpoints are read");
        let eps: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "test", "namespace": "test"},
            "subsets": [{"addresses": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}], "ports": [{"name": "custom", "port": 8080}]}]
        }))
        .unwrap();
        let subsets = expected_subsets(&headless, Some(&eps), &t).unwrap();
        assert_eq!(subsets, eps.subsets.unwrap());
    }

    #[test]
    fn load_balancer_status_is_mirrored() {
        let mut lb = source();
        lb.spec.as_mut().unwrap().type_ = Some("LoadBalancer".into());
        let t = virtual_target(&lb, "default", "test");
        assert!(load_balancer_status(&lb, &t).is_none(), "no addresses yet");
        lb.status =
            Some(serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}})).unwrap());
        let status = load_balancer_status(&lb, &t).unwrap();
        assert_eq!(status.load_balancer.unwrap().ingress.unwrap()[0].ip.as_deref(), Some("203.0.113.9"));
        assert!(load_balancer_status(&source(), &t).is_none(), "not a LoadBalancer");
    }

    #[test]
    fn from_virtual_target_selects_the_synced_pods() {
        let t = host_target(&ctx(), &source(), "test");
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {
                    "name": "test", "namespace": "test",
                    "labels": {"vcluster.loft.sh/controlled-by": "vcluster"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "vcluster", "uid": "owner-uid", "controller": false}]
                },
                "spec": {
                    "ports": [{"name": "custom", "port": 8080, "protocol": "TCP", "targetPort": 8080}],
                    "selector": {
                        "vcluster.loft.sh/label-vcluster-x-9f86d08188": "test",
                        "vcluster.loft.sh/managed-by": "vcluster",
                        "vcluster.loft.sh/namespace": "test"
                    }
                }
            })
        );
        assert!(host_target_update(&ctx(), &source(), &t).is_none());
        let mut changed = source();
        changed.spec.as_mut().unwrap().selector = Some([("test".to_owned(), "other".to_owned())].into());
        let updated = host_target_update(&ctx(), &changed, &t).unwrap();
        assert_eq!(updated.spec.unwrap().selector.unwrap()["vcluster.loft.sh/label-vcluster-x-9f86d08188"], "other");
        let mut headless = source();
        headless.spec.as_mut().unwrap().cluster_ip = Some("None".into());
        assert_eq!(host_target(&ctx(), &headless, "test").spec.unwrap().cluster_ip.as_deref(), Some("None"));
    }

    #[test]
    fn a_target_without_the_label_is_not_ours() {
        let user = service(json!({"metadata": {"name": "test", "namespace": "default", "labels": {"app": "x"}}}));
        assert!(!is_controlled_by_servicesync(&user.metadata));
        let other =
            service(json!({"metadata": {"name": "t", "labels": {"vcluster.loft.sh/controlled-by": "someone"}}}));
        assert!(!is_controlled_by_servicesync(&other.metadata));
    }
}
