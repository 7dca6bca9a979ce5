//! "Where does this name go": a pure model of a virtual pod's name resolution through the
//! virtual cluster's CoreDNS, over the virtual objects. No I/O.
//!
//! - the pod's resolver (glibc `res_search`): a name with a trailing dot is tried as it is; a
//!   name with at least `ndots` dots is tried as it is first, then with each search domain;
//!   any other name with each search domain first, then as it is. The first answer wins.
//! - CoreDNS as the chart's Corefile configures it (loft-sh/vcluster v0.15.7
//!   `charts/k3s/templates/coredns.yaml`), plugins in CoreDNS's fixed order (coredns/coredns
//!   v1.10.1 `plugin.cfg`): `rewrite` (`*.nodes.vcluster.com` → `kubernetes.default.svc.<domain>`),
//!   `hosts` over `NodeHosts` (falls through), `kubernetes <domain>` (coredns/coredns v1.10.1
//!   `plugin/kubernetes/kubernetes.go`: `<svc>.<ns>.svc.<domain>` → the ClusterIPs, a headless
//!   Service → its ready endpoint addresses, ExternalName → a CNAME;
//!   `<hostname>.<svc>.<ns>.svc.<domain>` → that endpoint; `<a-b-c-d>.<ns>.pod.<domain>` → the
//!   address, `pods insecure`), whose misses are NXDOMAIN unless the Corefile falls through the
//!   zone (`fallbackHostDns`), then `forward` to the host DNS (`HOST_CLUSTER_DNS` with
//!   `fallbackHostDns`, else the CoreDNS pod's `/etc/resolv.conf`).
#![allow(dead_code)]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Endpoints, PodDNSConfig, Service};

/// A pod's resolver configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    pub ndots: usize,
}

impl ResolvConf {
    /// The resolver of a pod with `dnsPolicy: None` and this `dnsConfig` (ndots defaults to 1,
    /// as in glibc).
    pub fn of_pod_dns(config: &PodDNSConfig) -> ResolvConf {
        let ndots = config
            .options
            .iter()
            .flatten()
            .filter(|o| o.name.as_deref() == Some("ndots"))
            .filter_map(|o| o.value.as_deref()?.parse().ok())
            .next_back()
            .unwrap_or(1);
        ResolvConf {
            nameservers: config.nameservers.clone().unwrap_or_default(),
            searches: config.searches.clone().unwrap_or_default(),
            ndots,
        }
    }
}

/// Where CoreDNS forwards what it does not answer itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// `fallbackHostDns`: the host cluster's DNS (`forward . <HOST_CLUSTER_DNS>`), and the
    /// `kubernetes` plugin falls through the cluster domain.
    HostDns(String),
    /// `forward . /etc/resolv.conf` (the CoreDNS pod's own resolver, `dnsPolicy: Default`).
    NodeResolver,
}

/// What the virtual cluster holds, and what the upstream answers.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `--cluster-domain`.
    pub domain: String,
    /// The virtual Services and Endpoints.
    pub services: Vec<Service>,
    pub endpoints: Vec<Endpoints>,
    /// The `NodeHosts` key of `kube-system/coredns`.
    pub node_hosts: String,
    pub upstream: Upstream,
    /// What the upstream answers, when known: a forwarded name it lacks is NXDOMAIN and the
    /// search goes on. `None`: the upstream is outside the model and a forwarded query ends
    /// the search.
    pub upstream_answers: Option<BTreeMap<String, Vec<String>>>,
}

/// The answer for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Addresses CoreDNS answers itself (Service, endpoints, pod, NodeHosts).
    Ips(Vec<String>),
    /// An ExternalName Service: CoreDNS answers a CNAME to this name.
    Cname(String),
    /// Sent upstream, whose answers are not known: the pod gets whatever `to` answers for `name`.
    Forwarded { to: String, name: String },
    /// Sent upstream, which answered these addresses.
    FromUpstream { to: String, ips: Vec<String> },
    /// No candidate exists.
    NxDomain,
}

/// The outcome of a lookup: the answer, the name that produced it, every name queried in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub answer: Answer,
    pub name: Option<String>,
    pub tried: Vec<String>,
}

/// Resolve `name` as a pod with `conf` does, through CoreDNS over `cluster`. With
/// `fallbackHostDns`, misses in the cluster domain are forwarded too.
pub fn resolve(conf: &ResolvConf, name: &str, cluster: &Cluster) -> Resolution {
    let name = name.to_ascii_lowercase();
    let candidates: Vec<String> = if let Some(absolute) = name.strip_suffix('.') {
        vec![absolute.to_owned()]
    } else {
        let searched = conf.searches.iter().map(|s| format!("{name}.{}", s.trim_end_matches('.')));
        if name.matches('.').count() >= conf.ndots {
            std::iter::once(name.clone()).chain(searched).collect()
        } else {
            searched.chain(std::iter::once(name.clone())).collect()
        }
    };
    let mut tried = Vec::new();
    for candidate in candidates {
        tried.push(candidate.clone());
        let answer = query(&candidate, cluster);
        if answer != Answer::NxDomain {
            return Resolution { answer, name: Some(candidate), tried };
        }
    }
    Resolution { answer: Answer::NxDomain, name: None, tried }
}

/// One query to CoreDNS.
pub fn query(name: &str, cluster: &Cluster) -> Answer {
    let domain = cluster.domain.trim_end_matches('.').to_ascii_lowercase();
    let mut name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.ends_with(".nodes.vcluster.com") {
        name = format!("kubernetes.default.svc.{domain}");
    }
    let hosts: Vec<String> = cluster
        .node_hosts
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let ip = words.next()?;
            words.any(|h| h.eq_ignore_ascii_case(&name)).then(|| ip.to_owned())
        })
        .collect();
    if !hosts.is_empty() {
        return Answer::Ips(hosts);
    }
    let in_zone = name == domain || name.ends_with(&format!(".{domain}"));
    if in_zone {
        let labels = name[..name.len() - domain.len()].trim_end_matches('.');
        let answer = kubernetes(labels, cluster);
        let falls_through = matches!(cluster.upstream, Upstream::HostDns(_));
        if answer != Answer::NxDomain || !falls_through {
            return answer;
        }
    }
    let to = match &cluster.upstream {
        Upstream::HostDns(ip) => ip.clone(),
        Upstream::NodeResolver => "/etc/resolv.conf".into(),
    };
    match &cluster.upstream_answers {
        None => Answer::Forwarded { to, name },
        Some(known) => match known.get(&name) {
            Some(ips) => Answer::FromUpstream { to, ips: ips.clone() },
            None => Answer::NxDomain,
        },
    }
}

/// The `kubernetes` plugin for the labels before the cluster domain.
fn kubernetes(labels: &str, cluster: &Cluster) -> Answer {
    let parts: Vec<&str> = labels.split('.').collect();
    match parts.as_slice() {
        [service, namespace, "svc"] => match find_service(cluster, namespace, service) {
            None => Answer::NxDomain,
            Some(svc) => service_answer(svc, cluster),
        },
        [hostname, service, namespace, "svc"] => {
            let Some(svc) = find_service(cluster, namespace, service) else { return Answer::NxDomain };
            if !is_headless(svc) {
                return Answer::NxDomain;
            }
            let ips: Vec<String> = ready_addresses(cluster, namespace, service)
                .into_iter()
                .filter(|(_, h)| h.as_deref() == Some(*hostname))
                .map(|(ip, _)| ip)
                .collect();
            if ips.is_empty() { Answer::NxDomain } else { Answer::Ips(ips) }
        }
        [dashed, _namespace, "pod"] => {
            let v4 = dashed.replace('-', ".");
            if v4.parse::<std::net::Ipv4Addr>().is_ok() {
                return Answer::Ips(vec![v4]);
            }
            let v6 = dashed.replace('-', ":");
            if v6.parse::<std::net::Ipv6Addr>().is_ok() { Answer::Ips(vec![v6]) } else { Answer::NxDomain }
        }
        _ => Answer::NxDomain,
    }
}

fn find_service<'a>(cluster: &'a Cluster, namespace: &str, name: &str) -> Option<&'a Service> {
    cluster
        .services
        .iter()
        .find(|s| s.metadata.namespace.as_deref() == Some(namespace) && s.metadata.name.as_deref() == Some(name))
}

fn is_headless(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

fn service_answer(svc: &Service, cluster: &Cluster) -> Answer {
    let spec = svc.spec.clone().unwrap_or_default();
    if spec.type_.as_deref() == Some("ExternalName") {
        return spec.external_name.map_or(Answer::NxDomain, Answer::Cname);
    }
    if is_headless(svc) {
        let namespace = svc.metadata.namespace.as_deref().unwrap_or_default();
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let ips: Vec<String> = ready_addresses(cluster, namespace, name).into_iter().map(|(ip, _)| ip).collect();
        return if ips.is_empty() { Answer::NxDomain } else { Answer::Ips(ips) };
    }
    let ips: Vec<String> = match spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips,
        _ => spec.cluster_ip.into_iter().collect(),
    };
    let ips: Vec<String> = ips.into_iter().filter(|ip| !ip.is_empty()).collect();
    if ips.is_empty() { Answer::NxDomain } else { Answer::Ips(ips) }
}

/// Ready addresses of the Endpoints `namespace/name`, with their hostnames.
fn ready_addresses(cluster: &Cluster, namespace: &str, name: &str) -> Vec<(String, Option<String>)> {
    let mut seen = BTreeMap::new();
    for ep in cluster
        .endpoints
        .iter()
        .filter(|e| e.metadata.namespace.as_deref() == Some(namespace) && e.metadata.name.as_deref() == Some(name))
    {
        for subset in ep.subsets.iter().flatten() {
            for a in subset.addresses.iter().flatten() {
                seen.entry(a.ip.clone()).or_insert_with(|| a.hostname.clone());
            }
        }
    }
    seen.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(namespace: &str, name: &str, spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace}, "spec": spec})).unwrap()
    }

    fn cluster(upstream: Upstream) -> Cluster {
        Cluster {
            domain: "cluster.local".into(),
            services: vec![
                service("default", "web", json!({"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"]})),
                service("default", "kubernetes", json!({"clusterIP": "10.96.0.1"})),
                service("kube-system", "kube-dns", json!({"clusterIP": "10.96.0.10"})),
                service("db", "pg", json!({"clusterIP": "None"})),
                service("default", "ext", json!({"type": "ExternalName", "externalName": "db.example.com"})),
            ],
            endpoints: vec![
                serde_json::from_value(json!({
                    "metadata": {"name": "pg", "namespace": "db"},
                    "subsets": [{"addresses": [
                        {"ip": "10.244.0.5", "hostname": "pg-0"}, {"ip": "10.244.0.6", "hostname": "pg-1"}
                    ], "notReadyAddresses": [{"ip": "10.244.0.7", "hostname": "pg-2"}]}]
                }))
                .unwrap(),
            ],
            node_hosts: "10.0.0.2 worker-a\n10.0.0.3 worker-b".into(),
            upstream,
            upstream_answers: None,
        }
    }

    /// What the syncer writes for a pod in `default` (translateDNSClusterFirstConfig).
    fn pod_conf() -> ResolvConf {
        ResolvConf::of_pod_dns(
            &serde_json::from_value(json!({
                "nameservers": ["10.96.0.10"],
                "searches": ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"],
                "options": [{"name": "ndots", "value": "5"}]
            }))
            .unwrap(),
        )
    }

    fn ips(list: &[&str]) -> Answer {
        Answer::Ips(list.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn short_names_expand_through_the_search_path() {
        let c = cluster(Upstream::NodeResolver);
        let conf = pod_conf();
        assert_eq!(conf.ndots, 5);
        let r = resolve(&conf, "web", &c);
        assert_eq!(r.answer, ips(&["10.96.0.20"]));
        assert_eq!(r.tried, ["web.default.svc.cluster.local"]);
        let r = resolve(&conf, "kube-dns.kube-system", &c);
        assert_eq!(r.answer, ips(&["10.96.0.10"]));
        assert_eq!(
            r.tried,
            ["kube-dns.kube-system.default.svc.cluster.local", "kube-dns.kube-system.svc.cluster.local"]
        );
        let r = resolve(&conf, "kubernetes.default.svc", &c);
        assert_eq!(r.name.as_deref(), Some("kubernetes.default.svc.cluster.local"));
        assert_eq!(r.answer, ips(&["10.96.0.1"]));
    }

    #[test]
    fn headless_services_answer_ready_endpoints() {
        let c = cluster(Upstream::NodeResolver);
        let conf = pod_conf();
        assert_eq!(resolve(&conf, "pg.db", &c).answer, ips(&["10.244.0.5", "10.244.0.6"]));
        assert_eq!(resolve(&conf, "pg-1.pg.db.svc.cluster.local.", &c).answer, ips(&["10.244.0.6"]));
        assert_eq!(resolve(&conf, "pg-2.pg.db.svc.cluster.local.", &c).answer, Answer::NxDomain, "not ready");
        assert_eq!(resolve(&conf, "ext", &c).answer, Answer::Cname("db.example.com".into()));
        assert_eq!(resolve(&conf, "10-244-0-9.db.pod.cluster.local.", &c).answer, ips(&["10.244.0.9"]));
    }

    #[test]
    fn node_hosts_and_the_nodes_rewrite() {
        let c = cluster(Upstream::NodeResolver);
        let conf = pod_conf();
        let r = resolve(&conf, "worker-b", &c);
        // The search candidates are tried first; only the bare name is in NodeHosts.
        assert_eq!(r.answer, ips(&["10.0.0.3"]));
        assert_eq!(r.name.as_deref(), Some("worker-b"));
        assert_eq!(r.tried.len(), 4);
        assert_eq!(resolve(&conf, "worker-a.nodes.vcluster.com.", &c).answer, ips(&["10.96.0.1"]));
    }

    #[test]
    fn outside_names_go_upstream_and_misses_are_nxdomain() {
        let c = cluster(Upstream::NodeResolver);
        let conf = pod_conf();
        let r = resolve(&conf, "example.com", &c);
        // ndots 5: the three cluster searches are NXDOMAIN first (the zone does not fall through).
        assert_eq!(r.tried.len(), 4);
        assert_eq!(r.answer, Answer::Forwarded { to: "/etc/resolv.conf".into(), name: "example.com".into() });
        let r = resolve(&conf, "nope.default.svc.cluster.local.", &c);
        assert_eq!(r.answer, Answer::NxDomain);
        // A name with ndots dots or more is tried as it is first.
        let r = resolve(&conf, "a.b.c.d.e.example.com", &c);
        assert_eq!(r.tried, ["a.b.c.d.e.example.com"]);
    }

    #[test]
    fn fallback_host_dns_forwards_cluster_domain_misses_to_the_host() {
        let c = cluster(Upstream::HostDns("10.43.0.10".into()));
        let conf = pod_conf();
        // A host Service name: unknown in the virtual cluster, so the host DNS gets it.
        let host_svc = "web-x-default-x-my-vc.vcluster-my-vc.svc.cluster.local.";
        assert_eq!(
            resolve(&conf, host_svc, &c).answer,
            Answer::Forwarded { to: "10.43.0.10".into(), name: host_svc.trim_end_matches('.').into() }
        );
        // Virtual names still answer from the virtual cluster.
        assert_eq!(resolve(&conf, "web", &c).answer, ips(&["10.96.0.20"]));
        // Without fallbackHostDns the same name is NXDOMAIN.
        let c = cluster(Upstream::NodeResolver);
        assert_eq!(resolve(&conf, host_svc, &c).answer, Answer::NxDomain);
        // A known host DNS: each search candidate is asked, the first it knows answers.
        let mut c = cluster(Upstream::HostDns("10.43.0.10".into()));
        let known = [("example.com".to_owned(), vec!["93.184.216.34".to_owned()])];
        c.upstream_answers = Some(known.into_iter().collect());
        let r = resolve(&conf, "example.com", &c);
        assert_eq!(r.answer, Answer::FromUpstream { to: "10.43.0.10".into(), ips: vec!["93.184.216.34".into()] });
        assert_eq!(r.tried.len(), 4);
        assert_eq!(resolve(&conf, "unknown.example.org", &c).answer, Answer::NxDomain);
    }

    #[test]
    fn another_cluster_domain() {
        let mut c = cluster(Upstream::NodeResolver);
        c.domain = "corp.internal".into();
        let conf = ResolvConf {
            nameservers: vec!["10.96.0.10".into()],
            searches: vec!["default.svc.corp.internal".into(), "svc.corp.internal".into(), "corp.internal".into()],
            ndots: 5,
        };
        assert_eq!(resolve(&conf, "web", &c).answer, ips(&["10.96.0.20"]));
        assert_eq!(
            resolve(&conf, "web.default.svc.cluster.local.", &c).answer,
            Answer::Forwarded { to: "/etc/resolv.conf".into(), name: "web.default.svc.cluster.local".into() }
        );
    }
}
