//! Services (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/services/{syncer,translate}.go`,
//! `pkg/server/filters/service.go`): the host Service carries the translated
//! metadata and selector; the virtual ClusterIP, node ports, load-balancer status,
//! `externalIPs` and `loadBalancerIP` come from the host; the fields of the forward diff go to
//! the host.
//!
//! Differences from upstream, on purpose:
//! - `healthCheckNodePort` is never sent to the host on update (upstream sends the virtual
//!   value, which the host refuses as immutable in a loop, loft-sh/vcluster issue #240); the host allocates it
//!   and a recreated virtual Service takes the host's. The syncer path's create does not ask
//!   the host for the virtual cluster's own allocation either.
//! - The recreate copies the host's `clusterIPs`, `ipFamilies` and `ipFamilyPolicy` with the
//!   ClusterIP (upstream clears `clusterIPs`, which lets a dual-stack virtual cluster allocate a
//!   second address the host does not route).
//! - A host Service without a ClusterIP (ExternalName, or a type switch in flight) never makes
//!   the virtual Service recreate (upstream would recreate it with an empty ClusterIP, which
//!   the virtual API server fills with an address of its own, forever).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{LoadBalancerIngress, Service, ServicePort, ServiceSpec, ServiceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};

use super::Context;

/// Annotation on a host Service created through the API endpoint before its virtual Service
/// exists: the syncer does not delete it for having no virtual object (`ServiceBlockDeletion`).
pub const BLOCK_DELETION_ANNOTATION: &str = "vcluster.loft.sh/block-deletion";
/// Rancher writes this annotation on Services on both sides; copying it would flap.
pub const RANCHER_PUBLIC_ENDPOINTS_ANNOTATION: &str = "field.cattle.io/publicEndpoints";
/// Annotations never copied to the host.
const EXCLUDED: &[&str] = &[RANCHER_PUBLIC_ENDPOINTS_ANNOTATION];
/// The ports of the vcluster's host Service that `default/kubernetes` leaves out.
const KUBELET_PORT_NAME: &str = "kubelet";

const EXTERNAL_NAME: &str = "ExternalName";

/// The spec, or an empty one: read by reference, since every reconcile of every Service asks.
fn spec(s: &Service) -> &ServiceSpec {
    static EMPTY: LazyLock<ServiceSpec> = LazyLock::new(ServiceSpec::default);
    s.spec.as_ref().unwrap_or(&EMPTY)
}

fn service_type(s: &ServiceSpec) -> &str {
    s.type_.as_deref().unwrap_or("ClusterIP")
}

fn cluster_ip(s: &ServiceSpec) -> &str {
    s.cluster_ip.as_deref().unwrap_or_default()
}

fn ports(s: &ServiceSpec) -> &[ServicePort] {
    s.ports.as_deref().unwrap_or_default()
}

fn strings(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or_default()
}

/// `ports` without node ports (`StripNodePorts`).
pub fn strip_node_ports(ports: &[ServicePort]) -> Vec<ServicePort> {
    ports.iter().cloned().map(|p| ServicePort { node_port: None, ..p }).collect()
}

/// Equal ignoring node ports (`portsEqual`).
fn ports_equal_ignoring_node_ports(a: &[ServicePort], b: &[ServicePort]) -> bool {
    strip_node_ports(a) == strip_node_ports(b)
}

/// The host metadata and selector of a virtual Service (`TranslateMetadata` + selector).
fn host_base(ctx: &Context, v: &Service) -> Service {
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    let mut spec = spec(v).clone();
    spec.selector = ctx.translator.host_service_selector(spec.selector.as_ref(), namespace);
    Service { metadata: ctx.host_metadata(&v.metadata, EXCLUDED), spec: Some(spec), status: None }
}

/// The host Service for a virtual Service that reached the virtual API without the endpoint
/// (`translate`): ClusterIP left to the host unless headless, families and policy left to the
/// host, node ports and the health-check node port stripped.
pub fn to_host(ctx: &Context, v: &Service) -> Service {
    let mut host = host_base(ctx, v);
    let spec = host.spec.get_or_insert_with(ServiceSpec::default);
    if spec.cluster_ip.as_deref() != Some("None") {
        spec.cluster_ip = None;
    }
    spec.cluster_ips = None;
    spec.ip_families = None;
    spec.ip_family_policy = None;
    spec.health_check_node_port = None;
    if let Some(ports) = spec.ports.as_mut() {
        *ports = strip_node_ports(ports);
    }
    host
}

/// The host Service the API endpoint creates before the virtual one (`createService`): the
/// request's spec as it is (requested ClusterIP, `None`, node ports honoured), translated
/// metadata and selector, and [`BLOCK_DELETION_ANNOTATION`].
pub fn to_host_intercepted(ctx: &Context, v: &Service) -> Service {
    let mut host = host_base(ctx, v);
    host.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(BLOCK_DELETION_ANNOTATION.into(), "true".into());
    host
}

/// The fields of a created (or type-switched) host Service the virtual request takes over:
/// `clusterIP`, `clusterIPs`, `ports` (with the allocated node ports) and
/// `healthCheckNodePort`. Applied to the request body as JSON, so fields this code does not
/// model reach the virtual API server unchanged.
pub fn take_allocation(body: &mut serde_json::Value, host: &Service) {
    let spec = spec(host);
    let Some(object) = body.as_object_mut() else { return };
    let target = object.entry("spec").or_insert_with(|| serde_json::json!({}));
    let Some(target) = target.as_object_mut() else { return };
    let mut set = |key: &str, value: serde_json::Value| {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.into(), value);
        }
    };
    set("clusterIP", serde_json::json!(spec.cluster_ip));
    set("clusterIPs", serde_json::json!(spec.cluster_ips));
    set("ports", serde_json::json!(spec.ports));
    set("healthCheckNodePort", serde_json::json!(spec.health_check_node_port));
}

/// A virtual Service is ExternalName while its host Service already switched to a type with a
/// ClusterIP: the endpoint's type switch is between its two writes (`isSwitchingFromExternalName`).
pub fn switching_from_external_name(v: &Service, h: &Service) -> bool {
    let (vs, hs) = (spec(v), spec(h));
    service_type(vs) == EXTERNAL_NAME && service_type(hs) != EXTERNAL_NAME && !cluster_ip(hs).is_empty()
}

/// A write to the virtual Service the host asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Backward {
    /// The ClusterIP differs (immutable): delete the virtual Service and create this one.
    Recreate(Service),
    /// Replace the virtual Service with this one (same resourceVersion).
    Update(Service),
}

/// Host → virtual (`translateUpdateBackwards`): the ClusterIP (by recreation), `externalIPs`,
/// `loadBalancerIP`, and node ports when both sides have the same type and the same ports
/// otherwise.
pub fn backward(v: &Service, h: &Service) -> Option<Backward> {
    let (vs, hs) = (spec(v), spec(h));
    let recreate = !cluster_ip(hs).is_empty() && service_type(vs) != EXTERNAL_NAME && cluster_ip(vs) != cluster_ip(hs);
    let external_ips = strings(&vs.external_ips) != strings(&hs.external_ips);
    let load_balancer_ip =
        vs.load_balancer_ip.as_deref().unwrap_or_default() != hs.load_balancer_ip.as_deref().unwrap_or_default();
    let (vp, hp) = (ports(vs), ports(hs));
    let node_ports = service_type(vs) == service_type(hs) && vp != hp && ports_equal_ignoring_node_ports(vp, hp);
    if !(recreate || external_ips || load_balancer_ip || node_ports) {
        return None;
    }
    let mut updated = vs.clone();
    if recreate {
        updated.cluster_ip = hs.cluster_ip.clone();
        updated.cluster_ips = hs.cluster_ips.clone();
        updated.ip_families = hs.ip_families.clone();
        updated.ip_family_policy = hs.ip_family_policy.clone();
        updated.health_check_node_port = hs.health_check_node_port;
    }
    if external_ips {
        updated.external_ips = hs.external_ips.clone();
    }
    if load_balancer_ip {
        updated.load_balancer_ip = hs.load_balancer_ip.clone();
    }
    if node_ports {
        updated.ports = hs.ports.clone();
    }
    let mut service = Service { spec: Some(updated), ..v.clone() };
    if recreate {
        service.metadata = for_recreate(&v.metadata);
        service.status = None;
        Some(Backward::Recreate(service))
    } else {
        Some(Backward::Update(service))
    }
}

/// The metadata of a virtual object created again under the same name (`recreateService`: no
/// resourceVersion, uid, deletion timestamp, generation; nor what the server sets itself).
pub fn for_recreate(meta: &ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        resource_version: None,
        uid: None,
        deletion_timestamp: None,
        deletion_grace_period_seconds: None,
        generation: None,
        creation_timestamp: None,
        managed_fields: None,
        ..meta.clone()
    }
}

/// The load-balancer ingress of a status (none and empty alike).
fn ingress(s: Option<&ServiceStatus>) -> &[LoadBalancerIngress] {
    s.and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_deref()).unwrap_or_default()
}

/// The conditions of a status (none and empty alike).
fn conditions(s: Option<&ServiceStatus>) -> &[Condition] {
    s.and_then(|s| s.conditions.as_deref()).unwrap_or_default()
}

/// The host's status when the virtual one differs (load-balancer ingress, conditions). The
/// load-balancer ingress only while the virtual Service is a LoadBalancer: kube-apiserver
/// refuses it on other types, and the host keeps it until its own type follows.
pub fn status_update(v: &Service, h: &Service) -> Option<ServiceStatus> {
    let load_balancer = service_type(spec(v)) == "LoadBalancer";
    let wanted_ingress = if load_balancer { ingress(h.status.as_ref()) } else { &[] };
    if ingress(v.status.as_ref()) == wanted_ingress && conditions(v.status.as_ref()) == conditions(h.status.as_ref()) {
        return None;
    }
    let mut wanted = h.status.clone().unwrap_or_default();
    if !load_balancer {
        wanted.load_balancer = None;
    }
    Some(wanted)
}

/// Virtual → host (`translateUpdate`): the host Service to write, or `None` when it matches.
/// Labels and annotations (managed keys; [`BLOCK_DELETION_ANNOTATION`] dropped once the
/// ClusterIPs agree), ports (node ports stripped: the host keeps or allocates its own),
/// `publishNotReadyAddresses`, `type`, `externalName`, `externalTrafficPolicy`,
/// `sessionAffinity(Config)`, `loadBalancerSourceRanges`, the translated selector. Everything
/// else stays as the host has it (immutable fields, `externalIPs`/`loadBalancerIP` which the
/// host owns, `healthCheckNodePort`).
pub fn forward(ctx: &Context, v: &Service, h: &Service) -> Option<Service> {
    let (vs, hs) = (spec(v), spec(h));
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    let mut out = h.clone();
    let mut changed = false;

    let (labels, mut annotations) = ctx.desired_labels_annotations(&v.metadata, &h.metadata, EXCLUDED);
    if cluster_ip(vs) == cluster_ip(hs) {
        annotations.remove(BLOCK_DELETION_ANNOTATION);
    }
    if Some(&labels) != h.metadata.labels.as_ref() || Some(&annotations) != h.metadata.annotations.as_ref() {
        out.metadata.labels = Some(labels);
        out.metadata.annotations = Some(annotations);
        changed = true;
    }
    // The endpoint's create may run before the owner is known; the first sync adds it.
    if let Some(owner) = ctx.owner_references(Some(&v.metadata))
        && h.metadata.owner_references.as_ref().is_none_or(|refs| refs.is_empty())
    {
        out.metadata.owner_references = Some(owner);
        changed = true;
    }

    let spec = out.spec.get_or_insert_with(ServiceSpec::default);
    if ports(vs) != ports(hs) {
        spec.ports = vs.ports.as_deref().map(strip_node_ports);
        changed = true;
    }
    macro_rules! copy {
        ($field:ident) => {
            if vs.$field != hs.$field {
                spec.$field = vs.$field.clone();
                changed = true;
            }
        };
    }
    copy!(publish_not_ready_addresses);
    copy!(type_);
    copy!(external_name);
    copy!(external_traffic_policy);
    copy!(session_affinity);
    copy!(session_affinity_config);
    if strings(&vs.load_balancer_source_ranges) != strings(&hs.load_balancer_source_ranges) {
        spec.load_balancer_source_ranges = vs.load_balancer_source_ranges.clone();
        changed = true;
    }
    let selector = ctx.translator.host_service_selector(vs.selector.as_ref(), namespace);
    if selector != hs.selector {
        spec.selector = selector;
        changed = true;
    }
    changed.then_some(out)
}

/// Whether the host Service is still protected by [`BLOCK_DELETION_ANNOTATION`].
pub fn blocks_deletion(h: &Service) -> bool {
    h.metadata.annotations.as_ref().and_then(|a| a.get(BLOCK_DELETION_ANNOTATION)).is_some_and(|v| v == "true")
}

/// How long a host Service without a virtual one protected by [`BLOCK_DELETION_ANNOTATION`] is
/// still kept, `now` being the current time: the endpoint creates the host Service before the
/// virtual one (v0.15.7 `pkg/controllers/resources/services/syncer.go` requeues while the
/// annotation is set). Bounded by [`BLOCK_DELETION_GRACE`] after its creation, as later upstream
/// releases bound it (loft-sh/vcluster v0.20 `pkg/controllers/resources/services/syncer.go`
/// `SyncToVirtual`), so a host Service whose virtual create failed and whose clean-up failed
/// too does not stay forever.
pub fn deletion_blocked_for(h: &Service, now: k8s_openapi::jiff::Timestamp) -> Option<std::time::Duration> {
    if !blocks_deletion(h) {
        return None;
    }
    let Some(created) = h.metadata.creation_timestamp.as_ref() else { return Some(BLOCK_DELETION_GRACE) };
    let age = now.duration_since(created.0);
    let remaining = k8s_openapi::jiff::SignedDuration::try_from(BLOCK_DELETION_GRACE).ok()?.checked_sub(age)?;
    std::time::Duration::try_from(remaining).ok().filter(|d| !d.is_zero())
}

/// See [`deletion_blocked_for`].
pub const BLOCK_DELETION_GRACE: std::time::Duration = std::time::Duration::from_secs(120);

/// The ports of `default/kubernetes`: the vcluster's host Service's ports without `kubelet`,
/// with no node ports (v0.15.7 `TranslateKubernetesServicePorts`).
pub fn kubernetes_ports(host: &Service) -> Vec<ServicePort> {
    ports(spec(host))
        .iter()
        .filter(|p| p.name.as_deref() != Some(KUBELET_PORT_NAME))
        .map(|p| ServicePort { node_port: None, ..p.clone() })
        .collect()
}

/// `default/kubernetes` following the vcluster's host Service (`SyncKubernetesService`): its
/// ClusterIP (families included; by recreation) and [`kubernetes_ports`].
pub fn kubernetes_service(v: &Service, host: &Service) -> Option<Backward> {
    let (vs, hs) = (spec(v), spec(host));
    let wanted_ports = kubernetes_ports(host);
    let ip_differs = !cluster_ip(hs).is_empty() && cluster_ip(vs) != cluster_ip(hs);
    if !ip_differs && ports(vs) == wanted_ports.as_slice() {
        return None;
    }
    let mut updated = vs.clone();
    updated.ports = Some(wanted_ports);
    if ip_differs {
        updated.cluster_ip = hs.cluster_ip.clone();
        updated.cluster_ips = hs.cluster_ips.clone();
        updated.ip_families = hs.ip_families.clone();
        updated.ip_family_policy = hs.ip_family_policy.clone();
        let service = Service { metadata: for_recreate(&v.metadata), spec: Some(updated), status: None };
        Some(Backward::Recreate(service))
    } else {
        Some(Backward::Update(Service { spec: Some(updated), ..v.clone() }))
    }
}

#[cfg(test)]
mod tests {
    //! Upstream's service syncer cases (v0.15.7 pkg/controllers/resources/services/syncer_test.go) with literal expectations.
    use super::*;
    use crate::translate::map;
    use crate::translate::testing::{ctx, meta};
    use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    fn port(name: &str, port: i32, node_port: Option<i32>) -> ServicePort {
        ServicePort {
            name: Some(name.into()),
            port,
            protocol: Some("TCP".into()),
            target_port: Some(IntOrString::Int(port)),
            node_port,
            ..ServicePort::default()
        }
    }

    fn virtual_service() -> Service {
        let mut metadata = meta("default", "web");
        metadata.labels = Some(map([("app", "web")]));
        metadata.annotations = Some(map([("note", "x"), (RANCHER_PUBLIC_ENDPOINTS_ANNOTATION, "[]")]));
        Service {
            metadata,
            spec: Some(ServiceSpec {
                selector: Some(map([("app", "web")])),
                cluster_ip: Some("10.96.0.20".into()),
                cluster_ips: Some(vec!["10.96.0.20".into()]),
                ip_families: Some(vec!["IPv4".into()]),
                ip_family_policy: Some("SingleStack".into()),
                ports: Some(vec![port("http", 80, None)]),
                type_: Some("ClusterIP".into()),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    /// The host Service as the host stores it after `to_host`, with `ip` allocated.
    fn stored_host(v: &Service, ip: &str) -> Service {
        let mut h = to_host(&ctx(), v);
        let spec = h.spec.as_mut().unwrap();
        spec.cluster_ip = Some(ip.into());
        spec.cluster_ips = Some(vec![ip.into()]);
        spec.ip_families = Some(vec!["IPv4".into()]);
        spec.ip_family_policy = Some("SingleStack".into());
        h
    }

    #[test]
    fn create_forward() {
        let h = to_host(&ctx(), &virtual_service());
        assert_eq!(h.metadata.name.as_deref(), Some("web-x-default-x-vcluster"));
        assert_eq!(h.metadata.namespace.as_deref(), Some("test"));
        let annotations = h.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations.get("note").map(String::as_str), Some("x"));
        assert!(!annotations.contains_key(RANCHER_PUBLIC_ENDPOINTS_ANNOTATION));
        assert!(!annotations.contains_key(BLOCK_DELETION_ANNOTATION));
        let spec = h.spec.unwrap();
        assert_eq!(
            spec.selector.unwrap(),
            map([
                // printf %s app | sha256sum → a172cedcae…
                ("vcluster.loft.sh/label-vcluster-x-a172cedcae", "web"),
                ("vcluster.loft.sh/managed-by", "vcluster"),
                ("vcluster.loft.sh/namespace", "default"),
            ])
        );
        assert_eq!(
            (spec.cluster_ip, spec.cluster_ips, spec.ip_families, spec.ip_family_policy),
            (None, None, None, None)
        );
    }

    #[test]
    fn create_forward_keeps_headless_and_strips_node_ports() {
        let mut v = virtual_service();
        let spec = v.spec.as_mut().unwrap();
        spec.cluster_ip = Some("None".into());
        spec.type_ = Some("NodePort".into());
        spec.ports = Some(vec![port("http", 80, Some(31000))]);
        spec.health_check_node_port = Some(32000);
        let h = to_host(&ctx(), &v).spec.unwrap();
        assert_eq!(h.cluster_ip.as_deref(), Some("None"));
        assert_eq!(h.ports.unwrap()[0].node_port, None);
        assert_eq!(h.health_check_node_port, None);
    }

    #[test]
    fn selectorless_stays_selectorless() {
        let mut v = virtual_service();
        v.spec.as_mut().unwrap().selector = None;
        assert_eq!(to_host(&ctx(), &v).spec.unwrap().selector, None);
    }

    #[test]
    fn intercepted_create_keeps_the_request_and_blocks_deletion() {
        let mut v = virtual_service();
        let spec = v.spec.as_mut().unwrap();
        spec.type_ = Some("NodePort".into());
        spec.cluster_ip = Some("None".into());
        spec.ports = Some(vec![port("http", 80, Some(30080))]);
        let h = to_host_intercepted(&ctx(), &v);
        assert_eq!(h.metadata.annotations.as_ref().unwrap()[BLOCK_DELETION_ANNOTATION], "true");
        let spec = h.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert_eq!(spec.ports.unwrap()[0].node_port, Some(30080));
        assert!(spec.selector.unwrap().contains_key("vcluster.loft.sh/managed-by"));
    }

    #[test]
    fn take_allocation_copies_the_host_values_into_the_body() {
        let mut host = stored_host(&virtual_service(), "10.96.7.7");
        let spec = host.spec.as_mut().unwrap();
        spec.ports = Some(vec![port("http", 80, Some(30123))]);
        spec.health_check_node_port = Some(31999);
        let mut body = serde_json::json!({
            "metadata": { "name": "web" },
            "spec": { "ports": [{ "port": 80 }], "healthCheckNodePort": 1, "x-unknown": true }
        });
        take_allocation(&mut body, &host);
        assert_eq!(
            body["spec"],
            serde_json::json!({
                "clusterIP": "10.96.7.7",
                "clusterIPs": ["10.96.7.7"],
                "ports": [{ "name": "http", "port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30123 }],
                "healthCheckNodePort": 31999,
                "x-unknown": true
            })
        );
        host.spec.as_mut().unwrap().health_check_node_port = None;
        take_allocation(&mut body, &host);
        assert!(body["spec"].get("healthCheckNodePort").is_none());
        let mut no_spec = serde_json::json!({ "metadata": {} });
        take_allocation(&mut no_spec, &host);
        assert_eq!(no_spec["spec"]["clusterIP"], "10.96.7.7");
    }

    #[test]
    fn update_backward_spec_with_recreation() {
        let v = virtual_service();
        let h = stored_host(&v, "10.96.3.3");
        let Some(Backward::Recreate(new)) = backward(&v, &h) else { panic!("expected a recreate") };
        let spec = new.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.3.3"));
        assert_eq!(spec.cluster_ips, Some(vec!["10.96.3.3".to_string()]));
        assert_eq!(new.metadata.resource_version, None);
        assert_eq!(new.metadata.uid, None);
        assert_eq!(new.metadata.name.as_deref(), Some("web"));
        assert_eq!(new.metadata.labels, v.metadata.labels);
    }

    #[test]
    fn update_backward_spec_no_recreation() {
        let mut v = virtual_service();
        let mut h = stored_host(&v, "10.96.0.20");
        h.spec.as_mut().unwrap().external_ips = Some(vec!["192.0.2.1".into()]);
        h.spec.as_mut().unwrap().load_balancer_ip = Some("192.0.2.2".into());
        let Some(Backward::Update(new)) = backward(&v, &h) else { panic!("expected an update") };
        let spec = new.spec.unwrap();
        assert_eq!(spec.external_ips, Some(vec!["192.0.2.1".to_string()]));
        assert_eq!(spec.load_balancer_ip.as_deref(), Some("192.0.2.2"));
        assert_eq!(new.metadata.resource_version.as_deref(), Some("7"));
        // The virtual edit of externalIPs is overwritten by the host's (loft-sh/vcluster issue #438).
        v.spec.as_mut().unwrap().external_ips = Some(vec!["198.51.100.1".into()]);
        let Some(Backward::Update(new)) = backward(&v, &h) else { panic!("expected an update") };
        assert_eq!(new.spec.unwrap().external_ips, Some(vec!["192.0.2.1".to_string()]));
    }

    #[test]
    fn sync_node_ports_physical_to_virtual() {
        let mut v = virtual_service();
        v.spec.as_mut().unwrap().type_ = Some("NodePort".into());
        v.spec.as_mut().unwrap().ports = Some(vec![port("http", 80, Some(30001))]);
        let mut h = stored_host(&v, "10.96.0.20");
        h.spec.as_mut().unwrap().ports = Some(vec![port("http", 80, Some(32222))]);
        let Some(Backward::Update(new)) = backward(&v, &h) else { panic!("expected an update") };
        assert_eq!(new.spec.unwrap().ports.unwrap()[0].node_port, Some(32222));
        // Different types: the node ports wait for the forward type change.
        h.spec.as_mut().unwrap().type_ = Some("LoadBalancer".into());
        assert_eq!(backward(&v, &h), None);
    }

    #[test]
    fn update_backward_not_needed() {
        let v = virtual_service();
        let h = stored_host(&v, "10.96.0.20");
        assert_eq!(backward(&v, &h), None);
    }

    #[test]
    fn no_recreation_towards_an_empty_or_external_name_host() {
        let v = virtual_service();
        let mut h = stored_host(&v, "10.96.0.20");
        h.spec.as_mut().unwrap().cluster_ip = None;
        h.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
        assert_eq!(backward(&v, &h), None);
        let mut external = virtual_service();
        external.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
        external.spec.as_mut().unwrap().cluster_ip = None;
        let h = stored_host(&v, "10.96.4.4");
        assert_eq!(backward(&external, &h), None);
        assert!(switching_from_external_name(&external, &h));
        assert!(!switching_from_external_name(&v, &h));
    }

    #[test]
    fn recreate_takes_the_health_check_node_port() {
        let mut v = virtual_service();
        v.spec.as_mut().unwrap().health_check_node_port = Some(30500);
        let mut h = stored_host(&v, "10.96.9.9");
        h.spec.as_mut().unwrap().health_check_node_port = Some(31500);
        let Some(Backward::Recreate(new)) = backward(&v, &h) else { panic!("expected a recreate") };
        assert_eq!(new.spec.unwrap().health_check_node_port, Some(31500));
    }

    #[test]
    fn no_load_balancer_status_on_other_types() {
        let v = virtual_service();
        let mut h = stored_host(&v, "10.96.0.20");
        h.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(vec![LoadBalancerIngress { ip: Some("203.0.113.10".into()), ..Default::default() }]),
            }),
            conditions: None,
        });
        assert_eq!(status_update(&v, &h), None);
    }

    #[test]
    fn update_backward_status() {
        let mut v = virtual_service();
        v.spec.as_mut().unwrap().type_ = Some("LoadBalancer".into());
        let mut h = stored_host(&v, "10.96.0.20");
        assert_eq!(status_update(&v, &h), None);
        h.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(vec![LoadBalancerIngress { ip: Some("203.0.113.10".into()), ..Default::default() }]),
            }),
            conditions: None,
        });
        let status = status_update(&v, &h).unwrap();
        assert_eq!(status.load_balancer.unwrap().ingress.unwrap()[0].ip.as_deref(), Some("203.0.113.10"));
        // An empty load balancer is no status at all.
        let mut empty = v.clone();
        empty.status = Some(ServiceStatus { load_balancer: Some(LoadBalancerStatus::default()), conditions: None });
        assert_eq!(status_update(&empty, &stored_host(&v, "10.96.0.20")), None);
    }

    #[test]
    fn update_forward_not_needed() {
        let c = ctx();
        let v = virtual_service();
        let h = stored_host(&v, "10.96.0.20");
        assert_eq!(forward(&c, &v, &h), None);
    }

    #[test]
    fn update_forward() {
        let c = ctx();
        let v = virtual_service();
        let h = stored_host(&v, "10.96.0.20");
        let mut changed = v.clone();
        let spec = changed.spec.as_mut().unwrap();
        spec.ports = Some(vec![port("http", 8080, Some(30080))]);
        spec.type_ = Some("NodePort".into());
        spec.publish_not_ready_addresses = Some(true);
        spec.external_traffic_policy = Some("Local".into());
        spec.session_affinity = Some("ClientIP".into());
        spec.load_balancer_source_ranges = Some(vec!["10.0.0.0/8".into()]);
        spec.selector = Some(map([("app", "api")]));
        spec.health_check_node_port = Some(31111);
        spec.external_ips = Some(vec!["198.51.100.1".into()]);
        changed.metadata.labels = Some(map([("app", "api")]));
        let out = forward(&c, &changed, &h).unwrap();
        let spec = out.spec.unwrap();
        assert_eq!(spec.ports.unwrap(), vec![port("http", 8080, None)]);
        assert_eq!(spec.type_.as_deref(), Some("NodePort"));
        assert_eq!(spec.publish_not_ready_addresses, Some(true));
        assert_eq!(spec.external_traffic_policy.as_deref(), Some("Local"));
        assert_eq!(spec.session_affinity.as_deref(), Some("ClientIP"));
        assert_eq!(spec.load_balancer_source_ranges, Some(vec!["10.0.0.0/8".to_string()]));
        assert_eq!(spec.selector.unwrap()["vcluster.loft.sh/label-vcluster-x-a172cedcae"], "api");
        // Host-owned and immutable fields stay as the host has them (loft-sh/vcluster issues #438, #240).
        assert_eq!(spec.health_check_node_port, None);
        assert_eq!(spec.external_ips, None);
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.20"));
        assert_eq!(spec.ip_families, Some(vec!["IPv4".to_string()]));
        assert_eq!(out.metadata.labels.unwrap()["vcluster.loft.sh/label-vcluster-x-a172cedcae"], "api");
    }

    #[test]
    fn forward_drops_block_deletion_once_the_cluster_ips_agree() {
        let c = ctx();
        let v = virtual_service();
        let mut h = to_host_intercepted(&c, &v);
        // The endpoint created the host first: no uid yet, the request's ClusterIP.
        h.metadata.annotations.as_mut().unwrap().insert("vcluster.loft.sh/object-uid".into(), String::new());
        let out = forward(&c, &v, &h).unwrap();
        let annotations = out.metadata.annotations.unwrap();
        assert!(!annotations.contains_key(BLOCK_DELETION_ANNOTATION));
        assert_eq!(annotations["vcluster.loft.sh/object-uid"], "uid-web");
        assert!(blocks_deletion(&h));
        let mut other_ip = h.clone();
        other_ip.spec.as_mut().unwrap().cluster_ip = Some("10.96.1.1".into());
        let out = forward(&c, &v, &other_ip).unwrap();
        assert!(out.metadata.annotations.unwrap().contains_key(BLOCK_DELETION_ANNOTATION));
    }

    #[test]
    fn type_change_to_external_name_goes_forward() {
        let c = ctx();
        let v = virtual_service();
        let h = stored_host(&v, "10.96.0.20");
        let mut external = v.clone();
        let spec = external.spec.as_mut().unwrap();
        spec.type_ = Some("ExternalName".into());
        spec.external_name = Some("example.com".into());
        spec.cluster_ip = None;
        spec.cluster_ips = None;
        spec.selector = None;
        let out = forward(&c, &external, &h).unwrap().spec.unwrap();
        assert_eq!(out.type_.as_deref(), Some("ExternalName"));
        assert_eq!(out.external_name.as_deref(), Some("example.com"));
        assert_eq!(out.selector, None);
    }

    fn host_vcluster_service() -> Service {
        Service {
            metadata: meta("vcluster", "vcluster"),
            spec: Some(ServiceSpec {
                cluster_ip: Some("10.96.0.50".into()),
                cluster_ips: Some(vec!["10.96.0.50".into()]),
                ports: Some(vec![
                    ServicePort { target_port: Some(IntOrString::Int(8443)), ..port("https", 443, Some(30443)) },
                    ServicePort { target_port: Some(IntOrString::Int(8443)), ..port("kubelet", 10250, None) },
                ]),
                type_: Some("NodePort".into()),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    fn virtual_kubernetes(ip: &str) -> Service {
        Service {
            metadata: meta("default", "kubernetes"),
            spec: Some(ServiceSpec {
                cluster_ip: Some(ip.into()),
                cluster_ips: Some(vec![ip.into()]),
                ports: Some(vec![ServicePort {
                    target_port: Some(IntOrString::Int(6443)),
                    ..port("https", 443, None)
                }]),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn sync_kubernetes_service_with_recreation() {
        let Some(Backward::Recreate(new)) =
            kubernetes_service(&virtual_kubernetes("10.96.0.1"), &host_vcluster_service())
        else {
            panic!("expected a recreate")
        };
        let spec = new.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.50"));
        assert_eq!(
            spec.ports.unwrap(),
            vec![ServicePort { target_port: Some(IntOrString::Int(8443)), ..port("https", 443, None) }]
        );
        assert_eq!(new.metadata.uid, None);
    }

    #[test]
    fn sync_kubernetes_service_without_recreation() {
        let host = host_vcluster_service();
        let Some(Backward::Update(new)) = kubernetes_service(&virtual_kubernetes("10.96.0.50"), &host) else {
            panic!("expected an update")
        };
        assert_eq!(new.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].target_port, Some(IntOrString::Int(8443)));
        assert_eq!(kubernetes_service(&new, &host), None);
    }
}
