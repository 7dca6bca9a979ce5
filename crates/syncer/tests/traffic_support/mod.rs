//! "Where does this traffic go" on the host: a pure model of kube-proxy's routing of a
//! connection to an address and port, over the host's Services, EndpointSlices and Pods, down to
//! the pod that answers and the virtual pod it was synced from. No I/O.
//!
//! What is reproduced (kubernetes v1.33):
//! - Services that are not proxied (`pkg/proxy/util/utils.go` `ShouldSkipService`): a headless
//!   Service (ClusterIP `None` or empty) and an `ExternalName` one. A headless Service's DNS
//!   answers are pod IPs, which go straight to the pods.
//! - A Service port is `(namespace/name, port name, protocol)` (`pkg/proxy/servicechangetracker.go`
//!   `serviceToServiceMap`), matched on a ClusterIP (`spec.clusterIPs`) and the port number
//!   (`pkg/proxy/iptables/proxier.go` `syncProxyRules`: the `KUBE-SERVICES` jump per ClusterIP,
//!   protocol and port). A ClusterIP on another port matches no rule: nothing answers.
//! - Its endpoints (`pkg/proxy/endpointslicecache.go`): the EndpointSlices of the Service's
//!   namespace labelled `kubernetes.io/service-name: <name>`, of an IP address type
//!   (`pkg/proxy/endpointschangetracker.go`: FQDN slices are dropped); per slice port with the
//!   Service port's name and protocol (a port without a name or number is ignored), each
//!   endpoint's first address of the destination's family with that port's number, duplicates
//!   across slices counted once. `Ready` and `Serving` default to true, `Terminating` to false
//!   (`newEndpointSliceInfo`).
//! - The usable endpoints (`pkg/proxy/topology.go` `CategorizeEndpoints`, cluster traffic
//!   policy, no topology hints: one node): the ready ones, else the serving and terminating
//!   ones. None: the proxier REJECTs the connection (`"has no endpoints"`). With several, each
//!   connection goes to one of them at random (`KUBE-SVC-*` statistic rules): every one is a
//!   possible destination.
//! - The port the endpoint listens on is the slice's port number: the EndpointSlice controller
//!   resolved the Service's `targetPort` by number or by a container port's name
//!   (`pkg/api/v1/pod/util.go` `FindPort`, reproduced in [`find_port`]).
//! - An address that is no ClusterIP but a pod's IP is routed to that pod as it is (pod network).
//!
//! The endpoint's pod: its `targetRef`, else the pod with that IP. The pod's origin: the virtual
//! pod named by its `vcluster.loft.sh/object-name` and `vcluster.loft.sh/object-namespace`
//! annotations in the vcluster of its `vcluster.loft.sh/managed-by` label, or a host pod that no
//! vcluster synced.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const OBJECT_NAME: &str = "vcluster.loft.sh/object-name";
pub const OBJECT_NAMESPACE: &str = "vcluster.loft.sh/object-namespace";
pub const MANAGED_BY: &str = "vcluster.loft.sh/managed-by";
/// discovery.k8s.io `LabelServiceName`.
const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// What kube-proxy sees of the host.
#[derive(Debug, Clone, Default)]
pub struct Host {
    pub services: Vec<Service>,
    pub slices: Vec<EndpointSlice>,
    pub pods: Vec<Pod>,
}

/// Where a pod came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// Synced from the virtual pod `namespace/name` of the vcluster `vcluster`.
    Virtual { vcluster: String, namespace: String, name: String },
    /// A host pod that is not synced from a virtual cluster: `namespace/name` on the host.
    Host { namespace: String, name: String },
    /// No pod has the address.
    NoPod,
}

impl Origin {
    pub fn virtual_pod(vcluster: &str, namespace: &str, name: &str) -> Origin {
        Origin::Virtual { vcluster: vcluster.into(), namespace: namespace.into(), name: name.into() }
    }

    pub fn host_pod(namespace: &str, name: &str) -> Origin {
        Origin::Host { namespace: namespace.into(), name: name.into() }
    }

    /// The origin of a host pod.
    pub fn of(pod: &Pod) -> Origin {
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        match (annotations.get(OBJECT_NAMESPACE), annotations.get(OBJECT_NAME)) {
            (Some(namespace), Some(name)) => Origin::Virtual {
                vcluster: labels.get(MANAGED_BY).cloned().unwrap_or_default(),
                namespace: namespace.clone(),
                name: name.clone(),
            },
            _ => Origin::Host {
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                name: pod.metadata.name.clone().unwrap_or_default(),
            },
        }
    }
}

/// One address and port traffic is sent to, and who answers there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: String,
    pub port: i32,
    /// The host pod `(namespace, name)` behind the address.
    pub pod: Option<(String, String)>,
    pub origin: Origin,
}

/// Where a connection to an address and port goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A Service's ClusterIP and port: DNAT to one of `endpoints`.
    Service { namespace: String, name: String, port: String, endpoints: Vec<Endpoint> },
    /// A Service's ClusterIP and port without a usable endpoint: rejected.
    NoEndpoints { namespace: String, name: String, port: String },
    /// A Service's ClusterIP on a port it does not serve: no rule, nothing answers.
    NoServicePort { namespace: String, name: String },
    /// A pod's IP: to that pod, on the port as it is.
    Pod(Endpoint),
    /// Neither a ClusterIP nor a pod IP of this cluster.
    Unknown,
}

impl Route {
    /// The possible destinations (empty when nothing answers).
    pub fn endpoints(&self) -> &[Endpoint] {
        match self {
            Route::Service { endpoints, .. } => endpoints,
            Route::Pod(endpoint) => std::slice::from_ref(endpoint),
            _ => &[],
        }
    }
}

/// `podutil.FindPort`: the container port a Service port's `targetPort` names on `pod` (a
/// number as it is, a name by the container port of that name and protocol; unset: the port).
pub fn find_port(port: &ServicePort, pod: &Pod) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match &port.target_port {
        Some(IntOrString::String(name)) => pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name.as_str()) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
            .map(|p| p.container_port),
        Some(IntOrString::Int(n)) => Some(*n),
        None => Some(port.port),
    }
}

fn same_ip(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn is_v6(ip: &str) -> bool {
    matches!(ip.parse::<IpAddr>(), Ok(IpAddr::V6(_)))
}

/// `ShouldSkipService`: no ClusterIP (headless) or `ExternalName`.
fn proxied(service: &Service) -> bool {
    let spec = service.spec.clone().unwrap_or_default();
    let ip = spec.cluster_ip.unwrap_or_default();
    !(ip.is_empty() || ip == "None" || spec.type_.as_deref() == Some("ExternalName"))
}

fn cluster_ips(service: &Service) -> Vec<String> {
    let spec = service.spec.clone().unwrap_or_default();
    match spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips,
        _ => spec.cluster_ip.into_iter().collect(),
    }
}

/// An endpoint as the cache keeps it: address, port, conditions, target.
struct Cached {
    endpoint: Endpoint,
    ready: bool,
    serving: bool,
    terminating: bool,
}

impl Host {
    fn pod_named(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.pods
            .iter()
            .find(|p| p.metadata.namespace.as_deref() == Some(namespace) && p.metadata.name.as_deref() == Some(name))
    }

    /// The running pod with `ip` on the pod network (host-network pods share the node's address).
    pub fn pod_with_ip(&self, ip: &str) -> Option<&Pod> {
        self.pods.iter().find(|p| {
            let spec = p.spec.clone().unwrap_or_default();
            let status = p.status.clone().unwrap_or_default();
            let ended = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
            let ips = status.pod_ips.iter().flatten().map(|i| i.ip.clone()).chain(status.pod_ip.clone());
            !spec.host_network.unwrap_or(false) && !ended && ips.into_iter().any(|i| same_ip(&i, ip))
        })
    }

    fn endpoint(&self, ip: &str, port: i32, pod: Option<&Pod>) -> Endpoint {
        let pod = pod.or_else(|| self.pod_with_ip(ip));
        Endpoint {
            ip: ip.to_owned(),
            port,
            pod: pod.map(|p| {
                (p.metadata.namespace.clone().unwrap_or_default(), p.metadata.name.clone().unwrap_or_default())
            }),
            origin: pod.map_or(Origin::NoPod, Origin::of),
        }
    }

    /// The endpoints of one Service port for addresses of `v6`'s family (`endpointInfoByServicePort`
    /// and `addEndpoints`), each once, in the order of their `ip:port`.
    fn cached(&self, service: &Service, port: &ServicePort, v6: bool) -> Vec<Cached> {
        let namespace = service.metadata.namespace.as_deref().unwrap_or_default();
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let port_name = port.name.clone().unwrap_or_default();
        let protocol = port.protocol.as_deref().unwrap_or("TCP");
        let mut out: BTreeMap<String, Cached> = BTreeMap::new();
        let slices = self.slices.iter().filter(|s| {
            s.metadata.namespace.as_deref() == Some(namespace)
                && s.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME)).map(String::as_str) == Some(name)
                && matches!(s.address_type.as_str(), "IPv4" | "IPv6")
        });
        for slice in slices {
            for slice_port in slice.ports.iter().flatten() {
                let Some(number) = slice_port.port.filter(|n| *n != 0) else { continue };
                if slice_port.name.as_deref() != Some(port_name.as_str())
                    || slice_port.protocol.as_deref().unwrap_or("TCP") != protocol
                {
                    continue;
                }
                for e in &slice.endpoints {
                    let Some(ip) = e.addresses.first() else { continue };
                    if is_v6(ip) != v6 {
                        continue;
                    }
                    let conditions = e.conditions.clone().unwrap_or_default();
                    let target = e.target_ref.as_ref().filter(|t| t.kind.as_deref().is_none_or(|k| k == "Pod"));
                    let pod = target.and_then(|t| {
                        self.pod_named(
                            t.namespace.as_deref().unwrap_or(namespace),
                            t.name.as_deref().unwrap_or_default(),
                        )
                    });
                    out.entry(format!("{ip}:{number}")).or_insert_with(|| Cached {
                        endpoint: self.endpoint(ip, number, pod),
                        ready: conditions.ready.unwrap_or(true),
                        serving: conditions.serving.unwrap_or(true),
                        terminating: conditions.terminating.unwrap_or(false),
                    });
                }
            }
        }
        out.into_values().collect()
    }

    /// Where a connection to `ip`:`port` over `protocol` goes.
    pub fn route(&self, ip: &str, port: i32, protocol: &str) -> Route {
        let service =
            self.services.iter().filter(|s| proxied(s)).find(|s| cluster_ips(s).iter().any(|c| same_ip(c, ip)));
        if let Some(service) = service {
            let namespace = service.metadata.namespace.clone().unwrap_or_default();
            let name = service.metadata.name.clone().unwrap_or_default();
            let spec = service.spec.clone().unwrap_or_default();
            let Some(service_port) = spec
                .ports
                .iter()
                .flatten()
                .find(|p| p.port == port && p.protocol.as_deref().unwrap_or("TCP") == protocol)
            else {
                return Route::NoServicePort { namespace, name };
            };
            let cached = self.cached(service, service_port, is_v6(ip));
            let mut usable: Vec<Endpoint> = cached.iter().filter(|c| c.ready).map(|c| c.endpoint.clone()).collect();
            if usable.is_empty() {
                usable = cached.iter().filter(|c| c.serving && c.terminating).map(|c| c.endpoint.clone()).collect();
            }
            let port = service_port.name.clone().unwrap_or_default();
            return if usable.is_empty() {
                Route::NoEndpoints { namespace, name, port }
            } else {
                Route::Service { namespace, name, port, endpoints: usable }
            };
        }
        match self.pod_with_ip(ip) {
            Some(pod) => Route::Pod(self.endpoint(ip, port, Some(pod))),
            None => Route::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(namespace: &str, name: &str, ip: &str, extra: Value) -> Pod {
        let mut pod = json!({
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
        });
        merge(&mut pod, extra);
        serde_json::from_value(pod).unwrap()
    }

    fn merge(into: &mut Value, from: Value) {
        match (into, from) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (slot, v) => *slot = v,
        }
    }

    /// A pod the syncer of `vcluster` made from the virtual `namespace/name`.
    fn synced(vcluster: &str, namespace: &str, name: &str, ip: &str) -> Pod {
        let host = format!("{name}-x-{namespace}-x-{vcluster}");
        pod(
            &format!("vcluster-{vcluster}"),
            &host,
            ip,
            json!({"metadata": {"labels": {MANAGED_BY: vcluster},
                   "annotations": {OBJECT_NAME: name, OBJECT_NAMESPACE: namespace}}}),
        )
    }

    fn service(namespace: &str, name: &str, spec: Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec})).unwrap()
    }

    /// An endpoint of a slice: address, conditions and (optionally) the pod it targets.
    fn ep(ip: &str, ready: bool, target: Option<(&str, &str)>) -> Value {
        let mut e = json!({"addresses": [ip], "conditions": {"ready": ready, "serving": ready, "terminating": false}});
        if let Some((namespace, name)) = target {
            e["targetRef"] = json!({"kind": "Pod", "namespace": namespace, "name": name});
        }
        e
    }

    fn slice(namespace: &str, name: &str, service: &str, ports: Value, endpoints: Vec<Value>) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace, "labels": {SERVICE_NAME: service}},
            "addressType": "IPv4", "ports": ports, "endpoints": endpoints
        }))
        .unwrap()
    }

    /// A host with the vcluster `my-vc` (web, two replicas, one not ready), another vcluster's pod,
    /// a host pod of its own, and Services of each kind.
    fn host() -> Host {
        let ns = "vcluster-my-vc";
        Host {
            services: vec![
                service(
                    ns,
                    "web-x-default-x-my-vc",
                    json!({"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                           "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                                     {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 5353}]}),
                ),
                service("shop", "backend", json!({"clusterIP": "10.96.0.30", "ports": [{"port": 5432}]})),
                service("shop", "empty", json!({"clusterIP": "10.96.0.40", "ports": [{"name": "p", "port": 80}]})),
                service("shop", "headless", json!({"clusterIP": "None", "ports": [{"name": "p", "port": 80}]})),
                service(
                    "shop",
                    "ext",
                    json!({"type": "ExternalName", "externalName": "db.example.com", "clusterIP": "10.96.0.50",
                           "ports": [{"name": "p", "port": 80}]}),
                ),
            ],
            slices: vec![
                slice(
                    ns,
                    "web-abc",
                    "web-x-default-x-my-vc",
                    json!([{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "dns", "port": 5353, "protocol": "UDP"}]),
                    vec![
                        ep("10.244.0.2", true, Some((ns, "web-x-default-x-my-vc"))),
                        ep("10.244.0.3", false, Some((ns, "web-2-x-default-x-my-vc"))),
                    ],
                ),
                // The same endpoint again in a second slice (a move between slices): once.
                slice(
                    ns,
                    "web-def",
                    "web-x-default-x-my-vc",
                    json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
                    vec![ep("10.244.0.2", true, None)],
                ),
                // Not the Service's (another name), not IP-typed, a port without a name.
                slice("shop", "x", "other", json!([{"name": "", "port": 1}]), vec![ep("10.244.0.9", true, None)]),
                serde_json::from_value(json!({
                    "metadata": {"name": "fqdn", "namespace": "shop", "labels": {SERVICE_NAME: "backend"}},
                    "addressType": "FQDN", "ports": [{"name": "", "port": 5432}], "endpoints": [{"addresses": ["db.example.com"]}]
                }))
                .unwrap(),
                slice("shop", "backend-a", "backend", json!([{"port": 5432}]), vec![ep("10.244.1.5", true, None)]),
                slice("shop", "backend-b", "backend", json!([{"name": "", "port": 5432}]), vec![ep("10.244.1.6", true, None)]),
                slice("shop", "empty-a", "empty", json!([{"name": "p", "port": 80}]), vec![ep("10.244.1.7", false, None)]),
            ],
            pods: vec![
                synced("my-vc", "default", "web", "10.244.0.2"),
                synced("my-vc", "default", "web-2", "10.244.0.3"),
                synced("other", "default", "web", "10.244.2.2"),
                pod("shop", "db-0", "10.244.1.5", json!({})),
                pod("shop", "db-1", "10.244.1.6", json!({})),
                pod("shop", "job", "10.244.1.8", json!({"status": {"phase": "Succeeded"}})),
                pod("kube-system", "node-agent", "172.18.0.2", json!({"spec": {"hostNetwork": true}})),
            ],
        }
    }

    fn origins(route: &Route) -> Vec<Origin> {
        route.endpoints().iter().map(|e| e.origin.clone()).collect()
    }

    #[test]
    fn a_cluster_ip_goes_to_the_ready_endpoints_on_the_target_port() {
        let h = host();
        let route = h.route("10.96.0.20", 80, "TCP");
        let Route::Service { namespace, name, port, endpoints } = &route else { panic!("{route:?}") };
        assert_eq!(
            (namespace.as_str(), name.as_str(), port.as_str()),
            ("vcluster-my-vc", "web-x-default-x-my-vc", "http")
        );
        assert_eq!(endpoints.len(), 1, "the not-ready replica is left out, the duplicate counted once");
        assert_eq!((endpoints[0].ip.as_str(), endpoints[0].port), ("10.244.0.2", 8080));
        assert_eq!(endpoints[0].pod, Some(("vcluster-my-vc".into(), "web-x-default-x-my-vc".into())));
        assert_eq!(origins(&route), [Origin::virtual_pod("my-vc", "default", "web")]);
        // The same address on UDP 53: the other Service port, its own target port.
        let udp = h.route("10.96.0.20", 53, "UDP");
        assert_eq!(udp.endpoints()[0].port, 5353);
        assert_eq!(
            h.route("10.96.0.20", 53, "TCP"),
            Route::NoServicePort { namespace: "vcluster-my-vc".into(), name: "web-x-default-x-my-vc".into() }
        );
    }

    #[test]
    fn the_target_port_by_name_or_number_is_what_the_slice_carries() {
        let h = host();
        let ports = h.services[0].spec.as_ref().unwrap().ports.clone().unwrap();
        let web = &h.pods[0];
        assert_eq!(find_port(&ports[0], web), Some(8080), "by the container port's name");
        assert_eq!(find_port(&ports[1], web), Some(5353), "by number");
        let unnamed: ServicePort = serde_json::from_value(json!({"port": 80, "targetPort": "nope"})).unwrap();
        assert_eq!(find_port(&unnamed, web), None);
        let unset: ServicePort = serde_json::from_value(json!({"port": 80})).unwrap();
        assert_eq!(find_port(&unset, web), Some(80));
        assert_eq!(h.route("10.96.0.20", 80, "TCP").endpoints()[0].port, find_port(&ports[0], web).unwrap());
    }

    #[test]
    fn unnamed_ports_and_host_pods_that_are_not_synced() {
        let h = host();
        let route = h.route("10.96.0.30", 5432, "TCP");
        // The slice port without a name is ignored; the FQDN slice too.
        assert_eq!(origins(&route), [Origin::host_pod("shop", "db-1")], "by pod IP, no targetRef");
    }

    #[test]
    fn no_ready_endpoint_falls_back_to_serving_terminating_else_rejects() {
        let mut h = host();
        assert_eq!(
            h.route("10.96.0.40", 80, "TCP"),
            Route::NoEndpoints { namespace: "shop".into(), name: "empty".into(), port: "p".into() }
        );
        let endpoints = &mut h.slices[6].endpoints;
        endpoints[0].conditions =
            Some(serde_json::from_value(json!({"ready": false, "serving": true, "terminating": true})).unwrap());
        assert_eq!(h.route("10.96.0.40", 80, "TCP").endpoints()[0].ip, "10.244.1.7");
        // Absent conditions are ready.
        h.slices[6].endpoints[0].conditions = None;
        assert_eq!(h.route("10.96.0.40", 80, "TCP").endpoints()[0].origin, Origin::NoPod);
    }

    #[test]
    fn pod_ips_go_to_the_pod_headless_and_external_names_are_not_proxied() {
        let h = host();
        let route = h.route("10.244.2.2", 9999, "TCP");
        assert_eq!(route.endpoints()[0].port, 9999, "the port as it is");
        assert_eq!(origins(&route), [Origin::virtual_pod("other", "default", "web")]);
        assert_eq!(h.route("10.96.0.50", 80, "TCP"), Route::Unknown, "ExternalName: no rule even with an IP");
        assert_eq!(h.route("10.244.1.8", 80, "TCP"), Route::Unknown, "a finished pod's IP is free");
        assert_eq!(h.route("172.18.0.2", 80, "TCP"), Route::Unknown, "host network: the node's address");
        assert_eq!(h.route("192.0.2.1", 80, "TCP"), Route::Unknown);
        // A headless Service's DNS answers are pod IPs: those route to the pods.
        assert_eq!(origins(&h.route("10.244.1.5", 80, "TCP")), [Origin::host_pod("shop", "db-0")]);
    }
}
