//! "Does this request from this pod arrive, and where": the join of the three pure models (test
//! support, no I/O). From a host pod (a synced virtual pod, or any host pod), a URL's name is
//! resolved the way that pod resolves (`dns_support`: the virtual cluster's CoreDNS when the
//! pod's nameserver is the vcluster's DNS Service, else the host cluster's DNS), the address is
//! routed on the host as kube-proxy does (`traffic_support`), and each possible destination pod is
//! checked against the host's NetworkPolicies as a CNI does (`netpol`).
//!
//! The host cluster's DNS is CoreDNS's `kubernetes` plugin over the host Services (the same model
//! as the virtual one), with the kubelet's resolver for a `ClusterFirst` pod (kubernetes v1.33
//! `pkg/kubelet/network/dns/dns.go` `generateSearchesForDNSClusterFirst`: `<ns>.svc.<domain>`,
//! `svc.<domain>`, `<domain>`, `ndots:5`). Names outside the cluster domains resolve to nothing.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;

use crate::dns_support::{self, Answer, Resolution, ResolvConf};
use crate::netpol::{self, Network};
use crate::traffic_support::{Endpoint, Host, Origin, Route};

/// What the two clusters hold, as far as traffic is concerned.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// The vcluster's name (`--name`).
    pub vcluster: String,
    /// The cluster domain of both clusters.
    pub domain: String,
    /// The host ClusterIP of the vcluster's DNS Service (`kube-dns-x-kube-system-x-<vc>`): a
    /// pod whose first nameserver it is asks the virtual cluster's CoreDNS.
    pub virtual_dns: Option<String>,
    pub virtual_services: Vec<Service>,
    pub virtual_endpoints: Vec<Endpoints>,
    pub virtual_pods: Vec<Pod>,
    pub host: Host,
    pub host_endpoints: Vec<Endpoints>,
    pub host_namespaces: Vec<Namespace>,
    pub host_policies: Vec<NetworkPolicy>,
}

/// One possible destination of a request, and whether the host's policies admit it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub endpoint: Endpoint,
    /// False also when no pod has the address (nothing answers).
    pub admitted: bool,
}

/// What became of a request.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub url: String,
    /// The lookup of the URL's name (`None` for an address).
    pub resolution: Option<Resolution>,
    /// Each address, and where the host sends a connection to it.
    pub routes: Vec<(String, Route)>,
    pub deliveries: Vec<Delivery>,
}

impl Outcome {
    /// Every pod the request may land on (kube-proxy picks one per connection), policies aside.
    pub fn lands_on(&self) -> Vec<Origin> {
        let mut out: Vec<Origin> = self.deliveries.iter().map(|d| d.endpoint.origin.clone()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The pods it lands on that the host's policies let it reach.
    pub fn reaches(&self) -> Vec<Origin> {
        let mut out: Vec<Origin> =
            self.deliveries.iter().filter(|d| d.admitted).map(|d| d.endpoint.origin.clone()).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// `scheme://host[:port][/path]`: the host and the port (the scheme's default for http, https).
fn parse_url(url: &str) -> (String, i32) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.chars().all(|c| c.is_ascii_digit()) => {
            (h.trim_matches(|c| c == '[' || c == ']').to_owned(), p.parse().ok())
        }
        _ => (authority.trim_matches(|c| c == '[' || c == ']').to_owned(), None),
    };
    let port = port.or(match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    });
    (host, port.unwrap_or_else(|| panic!("{url}: no port")))
}

impl World {
    /// The host pod synced from the virtual pod `namespace/name` of this vcluster.
    pub fn pod_of_virtual(&self, namespace: &str, name: &str) -> Option<&Pod> {
        let want = Origin::virtual_pod(&self.vcluster, namespace, name);
        self.host.pods.iter().find(|p| Origin::of(p) == want)
    }

    /// The host pod `namespace/name`.
    pub fn host_pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        self.host
            .pods
            .iter()
            .find(|p| p.metadata.namespace.as_deref() == Some(namespace) && p.metadata.name.as_deref() == Some(name))
    }

    /// The IP the virtual cluster shows for its pod `namespace/name` (the host pod's, synced back).
    pub fn virtual_pod_ip(&self, namespace: &str, name: &str) -> Option<&str> {
        let pod = self
            .virtual_pods
            .iter()
            .find(|p| p.metadata.namespace.as_deref() == Some(namespace) && p.metadata.name.as_deref() == Some(name))?;
        pod.status.as_ref()?.pod_ip.as_deref().filter(|ip| !ip.is_empty())
    }

    /// The resolver of `pod` (`None`: it does not use a cluster DNS).
    fn resolver(&self, pod: &Pod) -> Option<ResolvConf> {
        let spec = pod.spec.clone().unwrap_or_default();
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let host_network = spec.host_network.unwrap_or(false);
        match spec.dns_policy.as_deref().unwrap_or("ClusterFirst") {
            "None" => spec.dns_config.as_ref().map(ResolvConf::of_pod_dns),
            "ClusterFirst" if host_network => None,
            "ClusterFirst" | "ClusterFirstWithHostNet" => Some(ResolvConf {
                nameservers: vec!["host cluster DNS".into()],
                searches: vec![
                    format!("{namespace}.svc.{}", self.domain),
                    format!("svc.{}", self.domain),
                    self.domain.clone(),
                ],
                ndots: 5,
            }),
            _ => None,
        }
    }

    /// The DNS a resolver asks: the virtual cluster's CoreDNS or the host's.
    fn dns_for(&self, conf: &ResolvConf) -> dns_support::Cluster {
        let virtual_dns = self.virtual_dns.as_ref().is_some_and(|ip| conf.nameservers.first() == Some(ip));
        let (services, endpoints) = if virtual_dns {
            (self.virtual_services.clone(), self.virtual_endpoints.clone())
        } else {
            (self.host.services.clone(), self.host_endpoints.clone())
        };
        dns_support::Cluster {
            domain: self.domain.clone(),
            services,
            endpoints,
            node_hosts: String::new(),
            upstream: dns_support::Upstream::NodeResolver,
            upstream_answers: Some(Default::default()),
        }
    }

    /// A request from the host pod `from` to `url` over TCP.
    pub fn reach(&self, from: &Pod, url: &str) -> Outcome {
        let (name, port) = parse_url(url);
        let (resolution, addresses) = if name.parse::<std::net::IpAddr>().is_ok() {
            (None, vec![name])
        } else {
            let resolution = match self.resolver(from) {
                Some(conf) => dns_support::resolve(&conf, &name, &self.dns_for(&conf)),
                None => Resolution { answer: Answer::NxDomain, name: None, tried: Vec::new() },
            };
            let addresses = match &resolution.answer {
                Answer::Ips(ips) => ips.clone(),
                _ => Vec::new(),
            };
            (Some(resolution), addresses)
        };
        let network = Network {
            pods: self.host.pods.clone(),
            namespaces: self.host_namespaces.clone(),
            policies: self.host_policies.clone(),
        };
        let routes: Vec<(String, Route)> =
            addresses.into_iter().map(|a| (a.clone(), self.host.route(&a, port, "TCP"))).collect();
        let deliveries = routes
            .iter()
            .flat_map(|(_, route)| route.endpoints())
            .map(|endpoint| {
                let to = endpoint.pod.as_ref().map(|(namespace, name)| network.pod(namespace, name));
                let admitted = to.is_some_and(|to| network.allowed(from, to, netpol::tcp(endpoint.port)));
                Delivery { endpoint: endpoint.clone(), admitted }
            })
            .collect();
        Outcome { url: url.to_owned(), resolution, routes, deliveries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn urls() {
        assert_eq!(parse_url("http://web.default"), ("web.default".into(), 80));
        assert_eq!(parse_url("https://web.default.svc.cluster.local/x"), ("web.default.svc.cluster.local".into(), 443));
        assert_eq!(parse_url("tcp://10.244.0.2:5432"), ("10.244.0.2".into(), 5432));
        assert_eq!(parse_url("http://[fd00::1]:8080/"), ("fd00::1".into(), 8080));
    }

    fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    /// A virtual pod `client` resolving through the vcluster's DNS, a virtual Service `web`
    /// whose host copy selects the synced `web`, a host pod `probe` with the host's DNS.
    fn world(policies: Vec<NetworkPolicy>) -> World {
        let ns = "vcluster-my-vc";
        let synced = |name: &str, ip: &str| -> Pod {
            obj(json!({
                "metadata": {"name": format!("{name}-x-default-x-my-vc"), "namespace": ns,
                             "labels": {"vcluster.loft.sh/managed-by": "my-vc", "app": name},
                             "annotations": {"vcluster.loft.sh/object-name": name, "vcluster.loft.sh/object-namespace": "default"}},
                "spec": {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["10.96.0.10"],
                         "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
                         "options": [{"name": "ndots", "value": "5"}]},
                         "containers": [{"name": "c", "image": "i"}]},
                "status": {"podIP": ip}
            }))
        };
        let web_svc = |namespace: &str, name: &str| -> Service {
            obj(json!({"metadata": {"name": name, "namespace": namespace},
                       "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}))
        };
        World {
            vcluster: "my-vc".into(),
            domain: "cluster.local".into(),
            virtual_dns: Some("10.96.0.10".into()),
            virtual_services: vec![web_svc("default", "web")],
            host: Host {
                services: vec![web_svc(ns, "web-x-default-x-my-vc")],
                slices: vec![obj(json!({
                    "metadata": {"name": "s", "namespace": ns, "labels": {"kubernetes.io/service-name": "web-x-default-x-my-vc"}},
                    "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                    "endpoints": [{"addresses": ["10.244.0.2"], "conditions": {"ready": true}}]
                }))],
                pods: vec![
                    synced("web", "10.244.0.2"),
                    synced("client", "10.244.0.3"),
                    obj(json!({"metadata": {"name": "probe", "namespace": ns},
                               "spec": {"containers": [{"name": "c", "image": "i"}]}, "status": {"podIP": "10.244.0.4"}})),
                ],
            },
            host_namespaces: vec![obj(json!({"metadata": {"name": ns}}))],
            host_policies: policies,
            ..World::default()
        }
    }

    #[test]
    fn names_resolve_where_the_pod_resolves_and_land_on_the_virtual_pod() {
        let w = world(vec![]);
        let client = w.pod_of_virtual("default", "client").unwrap();
        let web = Origin::virtual_pod("my-vc", "default", "web");
        for url in ["http://web", "http://web.default", "http://web.default.svc.cluster.local", "tcp://10.244.0.2:8080"]
        {
            let o = w.reach(client, url);
            assert_eq!(o.reaches(), std::slice::from_ref(&web), "{o:?}");
        }
        // The virtual name means nothing to the host's DNS; the host name nothing to the virtual one.
        let probe = w.host_pod("vcluster-my-vc", "probe").unwrap();
        assert!(w.reach(probe, "http://web.default").lands_on().is_empty());
        assert_eq!(w.reach(probe, "http://web-x-default-x-my-vc").reaches(), std::slice::from_ref(&web));
        assert!(w.reach(client, "http://web-x-default-x-my-vc").lands_on().is_empty());
        // A port the Service does not serve.
        let o = w.reach(client, "http://web.default:81");
        assert!(o.lands_on().is_empty());
        assert!(matches!(o.routes[0].1, Route::NoServicePort { .. }), "{o:?}");
    }

    #[test]
    fn policies_decide_between_landing_and_reaching() {
        let deny_all: NetworkPolicy = obj(json!({"metadata": {"name": "deny", "namespace": "vcluster-my-vc"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}}));
        let w = world(vec![deny_all]);
        let o = w.reach(w.pod_of_virtual("default", "client").unwrap(), "http://web.default");
        assert_eq!(o.lands_on(), [Origin::virtual_pod("my-vc", "default", "web")]);
        assert!(o.reaches().is_empty());
    }
}
