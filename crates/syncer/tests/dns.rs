//! DNS of the virtual cluster (loft-sh/vcluster v0.15.7 `pkg/coredns/coredns.go`,
//! `pkg/controllers/coredns/nodehosts.go`, `pkg/controllers/resources/pods/translate/translator.go`):
//! the CoreDNS bundle the chart renders is applied in the virtual `kube-system` with its
//! placeholders filled, `NodeHosts` follows the virtual nodes, and a synced pod resolves through
//! the host ClusterIP of `kube-dns-x-kube-system-x-<vc>` once that host Service exists.
//!
//! One scenario, run twice: on a kube-sim pair (host with kubelet, virtual control plane only)
//! and on two real control planes (`control_plane::Options::host()` and `virtual_cluster()`).
//! Waits poll with deadlines.

mod common;
mod dns_support;

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use kube::{Api, Client};
use kube_sim::{SimConfig, Simulator, Workloads};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::startup::{self, Environment, Timings};

use common::{HOST_NS, HOST_SEED, NAME, eventually};

const DEADLINE: Duration = Duration::from_secs(60);
/// What the fake resolver configuration of the syncer names first (`HOST_CLUSTER_DNS`).
const HOST_DNS: &str = "10.43.0.10";

/// The bundle as the chart renders it with `fallbackHostDns` (src/render/plan.rs `corefile`, after
/// loft-sh/vcluster v0.15.7 charts/k3s/templates/coredns.yaml: the zone falls through and the
/// Corefile forwards to `{{.HOST_CLUSTER_DNS}}` instead of CoreDNS's resolv.conf).
fn bundle_with_fallback_host_dns() -> String {
    let bundle = common::coredns_bundle();
    assert!(bundle.contains("forward . /etc/resolv.conf") && bundle.contains("fallthrough in-addr.arpa ip6.arpa"));
    bundle
        .replace("forward . /etc/resolv.conf", "forward . {{.HOST_CLUSTER_DNS}}")
        .replace("fallthrough in-addr.arpa ip6.arpa", "fallthrough cluster.local in-addr.arpa ip6.arpa")
}

/// Two clusters and what the syncer needs to reach them.
struct Pair {
    host: Client,
    virt: Client,
    virtual_kubeconfig: Kubeconfig,
}

impl Pair {
    fn environment(&self) -> Environment {
        Environment {
            virtual_client: self.virt.clone(),
            virtual_kubeconfig: self.virtual_kubeconfig.clone(),
            host_client: self.host.clone(),
            current_namespace: HOST_NS.into(),
            identity: "dns-test".into(),
            stats: std::sync::Arc::default(),
            recent_creates: std::sync::Arc::default(),
        }
    }
}

/// Apply the chart's host seed (namespace, vcluster Service, workload service account).
async fn seed_host(host: &Client) {
    let docs: Vec<Value> = serde_saphyr::from_multiple(HOST_SEED).unwrap();
    for doc in docs {
        let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
        let params = PatchParams::apply("dns-test").force();
        match doc["kind"].as_str().unwrap() {
            "Namespace" => {
                Api::<k8s_openapi::api::core::v1::Namespace>::all(host.clone())
                    .patch(&name, &params, &Patch::Apply(&doc))
                    .await
                    .unwrap();
            }
            "Service" => {
                Api::<Service>::namespaced(host.clone(), HOST_NS)
                    .patch(&name, &params, &Patch::Apply(&doc))
                    .await
                    .unwrap();
            }
            "ServiceAccount" => {
                Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(host.clone(), HOST_NS)
                    .patch(&name, &params, &Patch::Apply(&doc))
                    .await
                    .unwrap();
            }
            other => panic!("unexpected seed kind {other}"),
        }
    }
}

fn pod(name: &str, dns_policy: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "default" },
        "spec": {
            "dnsPolicy": dns_policy,
            "containers": [{ "name": "app", "image": "busybox" }]
        }
    }))
    .unwrap()
}

fn cluster_ip(svc: &Service) -> Option<String> {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.clone()).filter(|ip| !ip.is_empty() && ip != "None")
}

async fn host_pod(host: &Client, name: &str) -> Option<Pod> {
    Api::<Pod>::namespaced(host.clone(), HOST_NS).get_opt(&format!("{name}-x-default-x-{NAME}")).await.unwrap()
}

/// The scenario, on any pair of clusters.
async fn scenario(pair: Pair) {
    seed_host(&pair.host).await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("coredns.yaml");
    // A last object marks the end of an apply pass (the bundle is applied in order).
    let bundle = format!("{}\n---\n{SENTINEL}", bundle_with_fallback_host_dns());
    std::fs::write(&manifest, bundle).unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, format!("search svc.cluster.local\nnameserver {HOST_DNS}\noptions ndots:5\n")).unwrap();

    // A virtual Service before the pods: its service-link variables reach the host pod.
    let web: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "web", "namespace": "default" },
        "spec": { "ports": [{ "name": "http", "port": 80 }], "selector": { "app": "web" } }
    }))
    .unwrap();
    Api::<Service>::namespaced(pair.virt.clone(), "default").create(&PostParams::default(), &web).await.unwrap();

    let (shutdown, task) = start_syncer(&pair, &manifest, &resolv);

    // 1. The CoreDNS objects in the virtual kube-system, placeholders filled.
    let version = pair.virt.apiserver_version().await.unwrap().git_version;
    let minor: String = version.split('.').nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect();
    let expected_image = match minor.as_str() {
        "26" => "coredns/coredns:1.9.3",
        _ => "coredns/coredns:1.10.1",
    };
    let deployments: Api<Deployment> = Api::namespaced(pair.virt.clone(), "kube-system");
    let deployment = eventually("the CoreDNS Deployment", DEADLINE, || async {
        deployments.get_opt("coredns").await.ok().flatten()
    })
    .await;
    let container = &deployment.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some(expected_image), "virtual version {version}");
    let security = container.security_context.as_ref().unwrap();
    let uid = security.run_as_user.unwrap();
    assert!(uid > 0, "root runs CoreDNS as 1001, anyone else as themselves");
    assert_eq!(security.run_as_group, Some(uid_gid().1));
    let services: Api<Service> = Api::namespaced(pair.virt.clone(), "kube-system");
    let kube_dns =
        eventually("the kube-dns Service", DEADLINE, || async { services.get_opt("kube-dns").await.ok().flatten() })
            .await;
    assert_eq!(
        kube_dns.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].target_port,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1053))
    );
    let configmaps: Api<ConfigMap> = Api::namespaced(pair.virt.clone(), "kube-system");
    let corefile = eventually("the coredns ConfigMap", DEADLINE, || async {
        configmaps.get_opt("coredns").await.ok().flatten()?.data?.get("Corefile").cloned()
    })
    .await;
    assert!(corefile.contains(&format!("forward . {HOST_DNS}\n")), "{corefile}");
    assert!(corefile.contains("kubernetes cluster.local in-addr.arpa ip6.arpa"), "{corefile}");
    assert!(!corefile.contains("{{"), "every placeholder is filled: {corefile}");

    // 2. NodeHosts follows the virtual nodes' InternalIPs.
    let nodes: Api<Node> = Api::all(pair.virt.clone());
    let node: Node =
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dns-node-a"}}))
            .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {"addresses": [
        {"type": "InternalIP", "address": "10.0.0.7"}, {"type": "Hostname", "address": "dns-node-a"}
    ]}});
    nodes.patch_status("dns-node-a", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    let node_hosts = || async { configmaps.get_opt("coredns").await.ok().flatten()?.data?.get("NodeHosts").cloned() };
    eventually("NodeHosts with dns-node-a", DEADLINE, || async {
        node_hosts().await.filter(|h| h.lines().any(|l| l == "10.0.0.7 dns-node-a"))
    })
    .await;
    let moved = json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.8"}]}});
    nodes.patch_status("dns-node-a", &PatchParams::default(), &Patch::Merge(&moved)).await.unwrap();
    eventually("NodeHosts after the node's IP changed", DEADLINE, || async {
        node_hosts().await.filter(|h| h.lines().any(|l| l == "10.0.0.8 dns-node-a") && !h.contains("10.0.0.7"))
    })
    .await;
    nodes.delete("dns-node-a", &Default::default()).await.unwrap();
    eventually("NodeHosts after the node is gone", DEADLINE, || async {
        node_hosts().await.filter(|h| !h.contains("dns-node-a"))
    })
    .await;

    // 3. A ClusterFirst pod runs with the host ClusterIP of kube-dns, which the services syncer
    // puts on the host from the bundle's virtual Service; a Default one is left alone.
    // First `web` is recreated with its host ClusterIP (the services syncer): that is the
    // address its service-link variables carry.
    let host_web = vcluster_translate::Translator::new(NAME, HOST_NS).host_name("default", "web");
    let web_ip = eventually("web's virtual ClusterIP equal to the host's", DEADLINE, || async {
        let host = Api::<Service>::namespaced(pair.host.clone(), HOST_NS).get_opt(&host_web).await.unwrap()?;
        let virt = Api::<Service>::namespaced(pair.virt.clone(), "default").get_opt("web").await.unwrap()?;
        let ip = cluster_ip(&host)?;
        (cluster_ip(&virt).as_deref() == Some(ip.as_str())).then_some(ip)
    })
    .await;
    let pods: Api<Pod> = Api::namespaced(pair.virt.clone(), "default");
    pods.create(&PostParams::default(), &pod("resolver", "ClusterFirst")).await.unwrap();
    pods.create(&PostParams::default(), &pod("plain", "Default")).await.unwrap();
    let plain = eventually("the Default-policy host pod", DEADLINE, || host_pod(&pair.host, "plain")).await;
    assert!(plain.spec.as_ref().unwrap().dns_config.is_none());

    let dns_host_name = vcluster_translate_host_name();
    let host_services = Api::<Service>::namespaced(pair.host.clone(), HOST_NS);
    let dns_host = eventually("the kube-dns host Service", DEADLINE, || async {
        host_services.get_opt(&dns_host_name).await.unwrap()
    })
    .await;
    let dns_ip = cluster_ip(&dns_host).expect("a host ClusterIP");
    // The virtual kube-dns is recreated with the host's ClusterIP (the services syncer).
    let virtual_dns = Api::<Service>::namespaced(pair.virt.clone(), "kube-system");
    eventually("the virtual kube-dns with the host ClusterIP", DEADLINE, || async {
        let v = virtual_dns.get_opt("kube-dns").await.unwrap()?;
        (cluster_ip(&v).as_deref() == Some(dns_ip.as_str())).then_some(())
    })
    .await;
    let vc_ip = cluster_ip(&Api::<Service>::namespaced(pair.host.clone(), HOST_NS).get(NAME).await.unwrap()).unwrap();

    let resolver = eventually("the ClusterFirst host pod", DEADLINE, || host_pod(&pair.host, "resolver")).await;
    let spec = resolver.spec.as_ref().unwrap();
    assert_eq!(spec.dns_policy.as_deref(), Some("None"));
    let config = spec.dns_config.as_ref().unwrap();
    assert_eq!(config.nameservers.as_deref(), Some(&[dns_ip.clone()][..]));
    assert_eq!(
        config.searches.as_deref(),
        Some(&["default.svc.cluster.local".to_owned(), "svc.cluster.local".into(), "cluster.local".into()][..])
    );
    let options = config.options.as_ref().unwrap();
    assert_eq!(options.len(), 1);
    assert_eq!((options[0].name.as_deref(), options[0].value.as_deref()), (Some("ndots"), Some("5")));
    let alias = &spec.host_aliases.as_ref().unwrap()[0];
    assert_eq!(alias.ip, vc_ip);
    assert_eq!(
        alias.hostnames.as_deref(),
        Some(&["kubernetes".to_owned(), "kubernetes.default".into(), "kubernetes.default.svc".into()][..])
    );
    let env: std::collections::BTreeMap<String, String> = spec.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect();
    assert_eq!(env.get("KUBERNETES_SERVICE_HOST"), Some(&vc_ip));
    assert_eq!(env.get("KUBERNETES_PORT"), Some(&format!("tcp://{vc_ip}:443")));
    assert_eq!(env.get("WEB_SERVICE_HOST"), Some(&web_ip));
    assert_eq!(env.get("WEB_PORT_80_TCP"), Some(&format!("tcp://{web_ip}:80")));

    // 4. The resolver helper over what the virtual cluster now holds: the pod's resolv.conf
    // reaches the kube-dns Service by a short name, and an outside name goes to the host DNS.
    let conf = dns_support::ResolvConf::of_pod_dns(config);
    let virtual_services = Api::<Service>::all(pair.virt.clone()).list(&Default::default()).await.unwrap().items;
    let view = dns_support::Cluster {
        domain: "cluster.local".into(),
        services: virtual_services,
        endpoints: Vec::new(),
        node_hosts: String::new(),
        upstream: dns_support::Upstream::HostDns(HOST_DNS.into()),
        // The host DNS knows the outside world and the host Services.
        upstream_answers: Some(
            [
                ("example.com".to_owned(), vec!["93.184.216.34".to_owned()]),
                (format!("{dns_host_name}.{HOST_NS}.svc.cluster.local"), vec![dns_ip.clone()]),
            ]
            .into_iter()
            .collect(),
        ),
    };
    // The virtual kube-dns now has the host's ClusterIP: the name leads to the host Service.
    let kube_dns_ip = dns_ip.clone();
    let answer = dns_support::resolve(&conf, "kube-dns.kube-system", &view);
    assert_eq!(answer.answer, dns_support::Answer::Ips(vec![kube_dns_ip]));
    assert_eq!(answer.name.as_deref(), Some("kube-dns.kube-system.svc.cluster.local"));
    let answer = dns_support::resolve(&conf, "web", &view);
    assert_eq!(answer.answer, dns_support::Answer::Ips(vec![web_ip]));
    let answer = dns_support::resolve(&conf, "example.com", &view);
    let upstream = |ip: &str| dns_support::Answer::FromUpstream { to: HOST_DNS.into(), ips: vec![ip.to_owned()] };
    assert_eq!(answer.answer, upstream("93.184.216.34"));
    assert_eq!(answer.tried.len(), 4, "the three cluster searches first (ndots 5)");
    // fallbackHostDns: a host Service name misses in the virtual zone and reaches the host DNS.
    let answer = dns_support::resolve(&conf, &format!("{dns_host_name}.{HOST_NS}"), &view);
    assert_eq!(answer.answer, upstream(&dns_ip));

    stop_syncer(shutdown, task).await;

    // 5. A restart over the applied bundle changes none of its objects, NodeHosts included.
    let node: Node =
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "dns-node-b"}}))
            .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let status = json!({"status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.9"}]}});
    nodes.patch_status("dns-node-b", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    let (shutdown, task) = start_syncer(&pair, &manifest, &resolv);
    eventually("NodeHosts with dns-node-b", DEADLINE, || async {
        node_hosts().await.filter(|h| h.lines().any(|l| l == "10.0.0.9 dns-node-b"))
    })
    .await;
    let versions = bundle_versions(&pair.virt).await;
    let sentinels: Api<ConfigMap> = Api::namespaced(pair.virt.clone(), "kube-system");
    sentinels.delete("dns-test-sentinel", &Default::default()).await.unwrap();
    stop_syncer(shutdown, task).await;
    let (shutdown, task) = start_syncer(&pair, &manifest, &resolv);
    eventually("the apply pass after the restart", DEADLINE, || async {
        sentinels.get_opt("dns-test-sentinel").await.ok().flatten()
    })
    .await;
    assert_eq!(bundle_versions(&pair.virt).await, versions, "no object of the bundle was written");
    stop_syncer(shutdown, task).await;
}

/// Appended to the bundle: its creation means an apply pass reached the end.
const SENTINEL: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dns-test-sentinel\n  namespace: kube-system\n";

/// The resourceVersions of the bundle's objects in the virtual cluster (the Deployment's
/// generation: its status moves on its own).
async fn bundle_versions(virt: &Client) -> Vec<(String, Option<String>)> {
    use k8s_openapi::api::core::v1::ServiceAccount;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let rv = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| m.resource_version.clone();
    vec![
        (
            "serviceaccount".into(),
            rv(&Api::<ServiceAccount>::namespaced(virt.clone(), "kube-system").get("coredns").await.unwrap().metadata),
        ),
        (
            "clusterrole".into(),
            rv(&Api::<ClusterRole>::all(virt.clone()).get("system:coredns").await.unwrap().metadata),
        ),
        (
            "clusterrolebinding".into(),
            rv(&Api::<ClusterRoleBinding>::all(virt.clone()).get("system:coredns").await.unwrap().metadata),
        ),
        (
            "configmap".into(),
            rv(&Api::<ConfigMap>::namespaced(virt.clone(), "kube-system").get("coredns").await.unwrap().metadata),
        ),
        (
            "service".into(),
            rv(&Api::<Service>::namespaced(virt.clone(), "kube-system").get("kube-dns").await.unwrap().metadata),
        ),
        (
            "deployment generation".into(),
            Api::<Deployment>::namespaced(virt.clone(), "kube-system")
                .get("coredns")
                .await
                .unwrap()
                .metadata
                .generation
                .map(|g| g.to_string()),
        ),
    ]
}

/// Start the syncer with the chart's arguments, the bundle and the resolver file.
fn start_syncer(
    pair: &Pair,
    manifest: &Path,
    resolv: &Path,
) -> (CancellationToken, tokio::task::JoinHandle<Result<(), vcluster_syncer::error::StartError>>) {
    let mut args: Vec<String> = vec!["vcluster-syncer".into()];
    args.extend(common::chart_args());
    args.push(format!("--coredns-manifest={}", manifest.display()));
    args.push(format!("--resolv-conf={}", resolv.display()));
    let options = vcluster_syncer::options::parse(args).unwrap().options;
    let (readiness, _ready) = watch::channel(false);
    let shutdown = CancellationToken::new();
    let timings = Timings { health_interval: Duration::from_millis(200), ..Timings::default() };
    let task = tokio::spawn(startup::run_with(options, pair.environment(), timings, readiness, shutdown.clone()));
    (shutdown, task)
}

async fn stop_syncer(
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), vcluster_syncer::error::StartError>>,
) {
    shutdown.cancel();
    let result = tokio::time::timeout(Duration::from_secs(10), task).await.expect("the syncer stops").unwrap();
    result.unwrap();
}

/// The host name of the virtual `kube-system/kube-dns` (the translate crate's rule).
fn vcluster_translate_host_name() -> String {
    vcluster_translate::Translator::new(NAME, HOST_NS).host_name("kube-system", "kube-dns")
}

/// This process's user and group ids as the syncer fills them (0 → 1001).
fn uid_gid() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let id = |key: &str| {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap();
        let id: i64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        if id == 0 { 1001 } else { id }
    };
    (id("Uid:"), id("Gid:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredns_nodehosts_and_pod_dns_on_kube_sim() {
    let host = Simulator::start_with(SimConfig {
        workloads: Workloads { enabled: true, ..Workloads::default() },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    host.seed_yaml(HOST_SEED).unwrap();
    // The virtual side as k3s: a control plane only, on an older minor to check the image map.
    let virt = Simulator::start_with(SimConfig {
        tls: true,
        control_plane_only: true,
        git_version: "v1.26.4+k3s1".into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(virt.kubeconfig_path()).unwrap();
    scenario(Pair {
        host: host.client().await.unwrap(),
        virt: virt.client().await.unwrap(),
        virtual_kubeconfig: Kubeconfig::from_yaml(&text).unwrap(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredns_nodehosts_and_pod_dns_on_real_control_planes() {
    let (host, virt) = tokio::join!(
        control_plane::ControlPlane::start(control_plane::Options::host()),
        // The virtual API serves the host's service range, as the chart makes k3s do: Services are
        // recreated there with their host ClusterIPs.
        control_plane::ControlPlane::start(control_plane::Options::virtual_cluster()),
    );
    let (host, virt) = (host.unwrap(), virt.unwrap());
    let text = std::fs::read_to_string(virt.kubeconfig_path()).unwrap();
    scenario(Pair {
        host: host.client().await.unwrap(),
        virt: virt.client().await.unwrap(),
        virtual_kubeconfig: Kubeconfig::from_yaml(&text).unwrap(),
    })
    .await;
    virt.stop().await.unwrap();
    host.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredns_apply_is_retried_until_it_succeeds() {
    let host = Simulator::start_with(SimConfig::default()).await.unwrap();
    host.seed_yaml(HOST_SEED).unwrap();
    let virt =
        Simulator::start_with(SimConfig { tls: true, control_plane_only: true, ..SimConfig::default() }).await.unwrap();
    let text = std::fs::read_to_string(virt.kubeconfig_path()).unwrap();
    let pair = Pair {
        host: host.client().await.unwrap(),
        virt: virt.client().await.unwrap(),
        virtual_kubeconfig: Kubeconfig::from_yaml(&text).unwrap(),
    };
    // An object in a namespace that does not exist yet: every pass fails on it until it does.
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("coredns.yaml");
    let late = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late\n  namespace: dns-late\n";
    std::fs::write(&manifest, format!("{}\n---\n{late}", common::coredns_bundle())).unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 10.43.0.10\n").unwrap();
    let (shutdown, task) = start_syncer(&pair, &manifest, &resolv);

    // The other objects are applied by the first pass all the same.
    let services: Api<Service> = Api::namespaced(pair.virt.clone(), "kube-system");
    eventually("the kube-dns Service", DEADLINE, || async { services.get_opt("kube-dns").await.ok().flatten() }).await;
    let refused = |virt: &Simulator| {
        virt.requests()
            .iter()
            .filter(|r| {
                r.method == "PATCH" && r.path.ends_with("/namespaces/dns-late/configmaps/late") && r.status == 404
            })
            .count()
    };
    eventually("two refused passes", DEADLINE, || async { (refused(&virt) >= 2).then_some(()) }).await;
    let namespace: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dns-late"}}))
            .unwrap();
    Api::all(pair.virt.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let late: Api<ConfigMap> = Api::namespaced(pair.virt.clone(), "dns-late");
    eventually("the late object, on a retry", DEADLINE, || async { late.get_opt("late").await.ok().flatten() }).await;
    stop_syncer(shutdown, task).await;
}
