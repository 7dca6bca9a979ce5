//! Services and Endpoints between a host and a virtual cluster, the same scenarios on two kinds
//! of servers: a kube-sim pair (the virtual one control plane only) and two real control planes
//! (`control-plane` crate; the virtual one without scheduler and nodes, and with
//! `--endpoint-reconciler-type=none` as k3s runs inside a vcluster). Users write through the API
//! endpoint (the proxy with the Service create redirect) as a client certificate of the virtual
//! cluster; the syncer runs in-process. Waits poll with deadlines.

mod common;
mod proxy_support;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use common::{HOST_NS, chart_args, eventually};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Service, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::redirect::ServiceRedirect;
use vcluster_syncer::startup::{self, Environment, Timings};

const DEADLINE: Duration = Duration::from_secs(60);
const MANAGED: &str = "vcluster.loft.sh/managed-by=my-vc";

/// Both clusters as the tests use them, whatever serves them.
struct Pair {
    host: Client,
    virt: Client,
    /// The virtual cluster's admin kubeconfig (the syncer's and the endpoint's upstream).
    virt_kubeconfig: Kubeconfig,
    /// A user of the virtual cluster (client certificate, `system:masters`).
    user_kubeconfig: Kubeconfig,
    /// The CA the virtual cluster verifies client certificates with.
    virt_client_ca: String,
}

fn obj<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

/// The host namespace, the vcluster's Service with its Endpoints, the workload service account.
async fn seed_host(host: &Client) {
    let pp = PostParams::default();
    Api::<Namespace>::all(host.clone()).create(&pp, &obj(json!({ "metadata": { "name": HOST_NS } }))).await.unwrap();
    let service = json!({
        "metadata": { "name": "my-vc", "namespace": HOST_NS },
        "spec": { "ports": [
            { "name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP" },
            { "name": "kubelet", "port": 10250, "targetPort": 8443, "protocol": "TCP" }
        ] }
    });
    Api::<Service>::namespaced(host.clone(), HOST_NS).create(&pp, &obj(service)).await.unwrap();
    let endpoints = json!({
        "metadata": { "name": "my-vc", "namespace": HOST_NS },
        "subsets": [{
            "addresses": [{ "ip": "10.244.0.9", "nodeName": "node-1" }],
            "ports": [
                { "name": "https", "port": 8443, "protocol": "TCP" },
                { "name": "kubelet", "port": 8443, "protocol": "TCP" }
            ]
        }]
    });
    Api::<Endpoints>::namespaced(host.clone(), HOST_NS).create(&pp, &obj(endpoints)).await.unwrap();
    let sa = json!({ "metadata": { "name": "vc-workload-my-vc", "namespace": HOST_NS } });
    Api::<ServiceAccount>::namespaced(host.clone(), HOST_NS).create(&pp, &obj(sa)).await.unwrap();
}

/// The syncer (controllers) and the API endpoint with the redirect; a client of the endpoint.
struct Running {
    user: Client,
    shutdown: CancellationToken,
    syncer: tokio::task::JoinHandle<Result<(), vcluster_syncer::error::StartError>>,
    proxy: proxy_support::Running,
    stats: std::sync::Arc<vcluster_syncer::controllers::Stats>,
}

async fn start(pair: &Pair) -> Running {
    let mut args = vec!["vcluster-syncer".to_string()];
    args.extend(chart_args());
    let options = vcluster_syncer::options::parse(args).unwrap().options;
    let env = Environment {
        virtual_client: pair.virt.clone(),
        virtual_kubeconfig: pair.virt_kubeconfig.clone(),
        host_client: pair.host.clone(),
        current_namespace: HOST_NS.into(),
        identity: "services-test".into(),
        stats: std::sync::Arc::default(),
        recent_creates: std::sync::Arc::default(),
    };
    let stats = env.stats.clone();
    let redirect = ServiceRedirect::new(
        pair.host.clone(),
        startup::translation_context(&options, HOST_NS),
        env.recent_creates.clone(),
    );
    let (readiness, _ready) = watch::channel(false);
    let shutdown = CancellationToken::new();
    let timings = Timings { health_interval: Duration::from_millis(200), ..Timings::default() };
    let syncer = tokio::spawn(startup::run_with(options, env, timings, readiness, shutdown.clone()));

    let upstream = kube::Config::from_custom_kubeconfig(pair.virt_kubeconfig.clone(), &KubeConfigOptions::default())
        .await
        .unwrap();
    let client_ca = pair.virt_client_ca.clone();
    let proxy = proxy_support::start_proxy(upstream, move |c| {
        c.client_ca_pem = client_ca;
        c.interceptors.push(redirect);
    })
    .await;
    let mut kubeconfig = pair.user_kubeconfig.clone();
    for cluster in &mut kubeconfig.clusters {
        let c = cluster.cluster.as_mut().unwrap();
        c.server = Some(format!("https://localhost:{}", proxy.addr.port()));
        c.certificate_authority = None;
        c.certificate_authority_data =
            Some(base64::engine::general_purpose::STANDARD.encode(&proxy.server_ca.material.cert_pem));
    }
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    let user = Client::try_from(config).unwrap();
    Running { user, shutdown, syncer, proxy, stats }
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        self.proxy.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.syncer).await.expect("the syncer stops").unwrap().unwrap();
    }
}

fn spec(s: &Service) -> k8s_openapi::api::core::v1::ServiceSpec {
    s.spec.clone().unwrap_or_default()
}

fn cluster_ip(s: &Service) -> String {
    spec(s).cluster_ip.unwrap_or_default()
}

fn node_ports(s: &Service) -> Vec<Option<i32>> {
    spec(s).ports.unwrap_or_default().iter().map(|p| p.node_port).collect()
}

async fn get(api: &Api<Service>, name: &str) -> Option<Service> {
    api.get_opt(name).await.unwrap()
}

/// The names of this vcluster's host Services.
async fn managed_services(host: &Api<Service>) -> BTreeSet<String> {
    host.list(&ListParams::default().labels(MANAGED)).await.unwrap().items.iter().map(|s| s.name_any()).collect()
}

/// The names of the host Endpoints the syncer wrote (its `object-name` annotation).
async fn synced_endpoints(host: &Api<Endpoints>) -> Vec<String> {
    let list = host.list(&ListParams::default().labels(MANAGED)).await.unwrap().items;
    list.iter().filter(|e| e.annotations().contains_key("vcluster.loft.sh/object-name")).map(|e| e.name_any()).collect()
}

/// The host Service of virtual `default/clash` with ClusterIP `ip`, as the endpoint writes it
/// before the virtual one (block-deletion keeps it until the virtual Service comes).
fn clash_host_service(ip: &str) -> Service {
    obj(json!({
        "metadata": {
            "name": "clash-x-default-x-my-vc",
            "labels": { "vcluster.loft.sh/managed-by": "my-vc" },
            "annotations": {
                "vcluster.loft.sh/object-name": "clash",
                "vcluster.loft.sh/object-namespace": "default",
                "vcluster.loft.sh/block-deletion": "true"
            }
        },
        "spec": { "clusterIP": ip, "ports": [{ "port": 80 }] }
    }))
}

/// Every scenario, in order, on one pair.
async fn scenarios(pair: Pair) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("VCLUSTER_SYNCER_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    seed_host(&pair.host).await;
    let running = start(&pair).await;
    let hsvc: Api<Service> = Api::namespaced(pair.host.clone(), HOST_NS);
    let vsvc: Api<Service> = Api::namespaced(pair.virt.clone(), "default");
    let usvc: Api<Service> = Api::namespaced(running.user.clone(), "default");
    let pp = PostParams::default();

    // 1. A Service created through the endpoint has the host's ClusterIP at once.
    let web: Service = obj(json!({
        "metadata": { "name": "web", "labels": { "app": "web" } },
        "spec": { "selector": { "app": "web" }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] }
    }));
    let created = usvc.create(&pp, &web).await.unwrap();
    let host_web = get(&hsvc, "web-x-default-x-my-vc").await.expect("the host Service exists before the answer");
    assert!(!cluster_ip(&created).is_empty());
    assert_eq!(cluster_ip(&created), cluster_ip(&host_web), "virtual ClusterIP == host ClusterIP");
    assert_eq!(cluster_ip(&get(&vsvc, "web").await.unwrap()), cluster_ip(&host_web));
    let selector = spec(&host_web).selector.unwrap();
    assert_eq!(selector.get("vcluster.loft.sh/label-my-vc-x-a172cedcae").map(String::as_str), Some("web"));
    assert_eq!(selector.get("vcluster.loft.sh/namespace").map(String::as_str), Some("default"));
    // The syncer takes over: block-deletion dropped, the virtual uid and the owner recorded.
    let uid = created.metadata.uid.clone().unwrap();
    let host_web = eventually("the host Service adopted", DEADLINE, || async {
        get(&hsvc, "web-x-default-x-my-vc").await.filter(|h| {
            let a = h.annotations();
            !a.contains_key("vcluster.loft.sh/block-deletion")
                && a.get("vcluster.loft.sh/object-uid") == Some(&uid)
                && h.owner_references().iter().any(|o| o.name == "my-vc" && o.kind == "Service")
        })
    })
    .await;
    assert_eq!(cluster_ip(&host_web), cluster_ip(&created));
    // Headless stays headless on both sides.
    let headless: Service = obj(json!({
        "metadata": { "name": "db-headless" },
        "spec": { "clusterIP": "None", "selector": { "app": "db" }, "ports": [{ "port": 5432 }] }
    }));
    let created = usvc.create(&pp, &headless).await.unwrap();
    assert_eq!(cluster_ip(&created), "None");
    assert_eq!(cluster_ip(&get(&hsvc, "db-headless-x-default-x-my-vc").await.unwrap()), "None");

    // 2. A virtual create that fails leaves no host Service behind.
    let elsewhere: Api<Service> = Api::namespaced(running.user.clone(), "no-such-namespace");
    let err = elsewhere.create(&pp, &web).await.expect_err("the namespace does not exist");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 404), "{err:?}");
    assert!(get(&hsvc, "web-x-no-such-namespace-x-my-vc").await.is_none(), "the host Service was deleted again");
    // A name taken on the host is AlreadyExists for the virtual name.
    let err = usvc.create(&pp, &web).await.expect_err("exists");
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 409), "{err:?}");

    // 3. A Service that reaches the virtual API another way is recreated with the host's IP;
    // its (selectorless) Endpoints land on the host with translated pod references.
    let db: Service = obj(json!({
        "metadata": { "name": "db" },
        "spec": { "ports": [{ "name": "pg", "port": 5432, "protocol": "TCP" }] }
    }));
    vsvc.create(&pp, &db).await.unwrap();
    let host_db = eventually("host db", DEADLINE, || async { get(&hsvc, "db-x-default-x-my-vc").await }).await;
    let virt_db = eventually("virtual db with the host ClusterIP", DEADLINE, || async {
        let h = get(&hsvc, "db-x-default-x-my-vc").await?;
        get(&vsvc, "db").await.filter(|v| !cluster_ip(&h).is_empty() && cluster_ip(v) == cluster_ip(&h))
    })
    .await;
    assert_eq!(spec(&host_db).selector, None);
    assert_eq!(cluster_ip(&virt_db), cluster_ip(&get(&hsvc, "db-x-default-x-my-vc").await.unwrap()));
    let endpoints: Endpoints = obj(json!({
        "metadata": { "name": "db", "namespace": "default" },
        "subsets": [{
            "addresses": [{ "ip": "10.244.1.7", "targetRef": { "kind": "Pod", "name": "db-0", "namespace": "default" } }],
            "ports": [{ "name": "pg", "port": 5432, "protocol": "TCP" }]
        }]
    }));
    // The virtual control plane's endpoints controller deletes the Endpoints named like a Service
    // it saw deleted (kubernetes v1.33 pkg/controller/endpoint/endpoints_controller.go
    // `syncService`), and the recreate above deleted `db`: on a loaded machine it may do so after
    // the create below, which then is made again (as its owner would).
    let vep: Api<Endpoints> = Api::namespaced(pair.virt.clone(), "default");
    let ensure_virtual_endpoints = || async {
        if vep.get_opt("db").await.unwrap().is_none() {
            let _ = vep.create(&pp, &endpoints).await;
        }
    };
    let hep: Api<Endpoints> = Api::namespaced(pair.host.clone(), HOST_NS);
    let host_ep = eventually("host Endpoints of db", DEADLINE, || async {
        ensure_virtual_endpoints().await;
        hep.get_opt("db-x-default-x-my-vc").await.unwrap()
    })
    .await;
    let address = &host_ep.subsets.as_ref().unwrap()[0].addresses.as_ref().unwrap()[0];
    assert_eq!(address.ip, "10.244.1.7");
    let target = address.target_ref.as_ref().unwrap();
    assert_eq!(target.name.as_deref(), Some("db-0-x-default-x-my-vc"));
    assert_eq!(target.namespace.as_deref(), Some(HOST_NS));
    // Services with selectors get no synced Endpoints (the host's controller makes them, with
    // the Service's labels but not the syncer's annotations).
    eventually("only db's Endpoints synced", DEADLINE, || async {
        ensure_virtual_endpoints().await;
        (synced_endpoints(&hep).await == ["db-x-default-x-my-vc"]).then_some(())
    })
    .await;

    // 4. default/kubernetes follows the vcluster's host Service and its Endpoints.
    let own_ip = cluster_ip(&get(&hsvc, "my-vc").await.unwrap());
    let kubernetes = eventually("default/kubernetes with the vcluster's ClusterIP", DEADLINE, || async {
        get(&vsvc, "kubernetes").await.filter(|k| cluster_ip(k) == own_ip)
    })
    .await;
    let ports = spec(&kubernetes).ports.unwrap();
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!((ports[0].name.as_deref(), ports[0].port), (Some("https"), 443));
    let vep: Api<Endpoints> = Api::namespaced(pair.virt.clone(), "default");
    eventually("default/kubernetes Endpoints", DEADLINE, || async {
        let e = vep.get_opt("kubernetes").await.unwrap()?;
        let subset = e.subsets.as_ref()?.first()?.clone();
        let ok = subset.addresses.as_ref()?.first()?.ip == "10.244.0.9"
            && subset.ports.as_ref()?.iter().map(|p| (p.name.clone(), p.port)).collect::<Vec<_>>()
                == vec![(Some("https".to_string()), 8443)];
        ok.then_some(())
    })
    .await;

    // 5. Type changes through the endpoint, host following, nothing leaked.
    // ClusterIP → NodePort: the host allocates the node port, the virtual Service takes it.
    let mut current = usvc.get("web").await.unwrap();
    current.spec.as_mut().unwrap().type_ = Some("NodePort".into());
    usvc.replace("web", &pp, &current).await.unwrap();
    let (v, h) = eventually("NodePort on both sides with the host's node port", DEADLINE, || async {
        let h = get(&hsvc, "web-x-default-x-my-vc").await?;
        let v = get(&vsvc, "web").await?;
        let same = spec(&h).type_.as_deref() == Some("NodePort")
            && node_ports(&h)[0].is_some()
            && node_ports(&v) == node_ports(&h);
        same.then_some((v, h))
    })
    .await;
    assert_eq!(cluster_ip(&v), cluster_ip(&h));
    // NodePort → LoadBalancer: the host's load-balancer address comes back.
    let mut current = usvc.get("web").await.unwrap();
    current.spec.as_mut().unwrap().type_ = Some("LoadBalancer".into());
    usvc.replace("web", &pp, &current).await.unwrap();
    eventually("LoadBalancer on the host", DEADLINE, || async {
        get(&hsvc, "web-x-default-x-my-vc").await.filter(|h| spec(h).type_.as_deref() == Some("LoadBalancer"))
    })
    .await;
    let status = json!({ "status": { "loadBalancer": { "ingress": [{ "ip": "203.0.113.10" }] } } });
    hsvc.patch_status("web-x-default-x-my-vc", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    eventually("the load-balancer address in the virtual cluster", DEADLINE, || async {
        let v = get(&vsvc, "web").await?;
        let h = get(&hsvc, "web-x-default-x-my-vc").await?;
        let ip = v.status.clone()?.load_balancer?.ingress?.first()?.ip.clone()?;
        (ip == "203.0.113.10" && node_ports(&v) == node_ports(&h) && spec(&v).type_.as_deref() == Some("LoadBalancer"))
            .then_some(())
    })
    .await;
    // LoadBalancer → ExternalName.
    let mut current = usvc.get("web").await.unwrap();
    let s = current.spec.as_mut().unwrap();
    s.type_ = Some("ExternalName".into());
    s.external_name = Some("example.com".into());
    s.external_traffic_policy = None;
    s.allocate_load_balancer_node_ports = None;
    s.cluster_ip = None;
    s.cluster_ips = None;
    s.ip_families = None;
    s.ip_family_policy = None;
    s.internal_traffic_policy = None;
    s.session_affinity = None;
    for p in s.ports.iter_mut().flatten() {
        p.node_port = None;
    }
    usvc.replace("web", &pp, &current).await.unwrap();
    eventually("ExternalName on the host", DEADLINE, || async {
        get(&hsvc, "web-x-default-x-my-vc").await.filter(|h| {
            spec(h).type_.as_deref() == Some("ExternalName")
                && spec(h).external_name.as_deref() == Some("example.com")
                && cluster_ip(h).is_empty()
        })
    })
    .await;
    // ExternalName → ClusterIP: the endpoint switches the host first; the virtual Service gets
    // the host's new ClusterIP in the same request.
    let mut current = usvc.get("web").await.unwrap();
    let s = current.spec.as_mut().unwrap();
    s.type_ = Some("ClusterIP".into());
    s.external_name = None;
    let updated = usvc.replace("web", &pp, &current).await.unwrap();
    let h = get(&hsvc, "web-x-default-x-my-vc").await.unwrap();
    assert_eq!(spec(&h).type_.as_deref(), Some("ClusterIP"));
    assert!(!cluster_ip(&updated).is_empty());
    assert_eq!(cluster_ip(&updated), cluster_ip(&h));
    let uid = updated.metadata.uid.clone();
    // Converged without a recreate of the virtual Service.
    eventually("web converged", DEADLINE, || async {
        let v = get(&vsvc, "web").await?;
        let h = get(&hsvc, "web-x-default-x-my-vc").await?;
        (v.metadata.uid == uid && cluster_ip(&v) == cluster_ip(&h) && spec(&h).external_name.is_none()).then_some(())
    })
    .await;
    assert_eq!(
        managed_services(&hsvc).await,
        BTreeSet::from([
            "web-x-default-x-my-vc".into(),
            "db-x-default-x-my-vc".into(),
            "db-headless-x-default-x-my-vc".into()
        ])
    );

    // 6. Deletions follow.
    usvc.delete("web", &DeleteParams::default()).await.unwrap();
    vsvc.delete("db", &DeleteParams::default()).await.unwrap();
    eventually("host Services and Endpoints deleted", DEADLINE, || async {
        let gone = managed_services(&hsvc).await == BTreeSet::from(["db-headless-x-default-x-my-vc".into()])
            && synced_endpoints(&hep).await.is_empty();
        gone.then_some(())
    })
    .await;

    // 7. The host's ClusterIP is held by another virtual Service (both clusters allocate from
    // one range): the recreate waits for it instead of deleting a Service it cannot create
    // again (upstream deletes, fails to create, and then deletes the host Service too), and
    // completes once the IP is free.
    let holder: Service = obj(json!({
        "metadata": { "name": "holder", "labels": { "vcluster.loft.sh/controlled-by": "someone-else" } },
        "spec": { "ports": [{ "port": 80 }] }
    }));
    let held_ip = cluster_ip(&vsvc.create(&pp, &holder).await.unwrap());
    hsvc.create(&pp, &clash_host_service(&held_ip)).await.unwrap();
    let clash: Service = obj(json!({ "metadata": { "name": "clash" }, "spec": { "ports": [{ "port": 80 }] } }));
    let first = vsvc.create(&pp, &clash).await.unwrap();
    eventually("a Warning that the host's ClusterIP is held", DEADLINE, || async {
        let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(pair.virt.clone(), "default");
        let list = events.list(&ListParams::default()).await.unwrap().items;
        list.iter()
            .any(|e| {
                e.involved_object.name.as_deref() == Some("clash")
                    && e.message.as_deref().is_some_and(|m| m.contains("virtual Service default/holder holds it"))
            })
            .then_some(())
    })
    .await;
    let still = get(&vsvc, "clash").await.expect("the virtual Service is not deleted while its IP is held");
    assert_eq!(still.metadata.uid, first.metadata.uid);
    assert!(get(&hsvc, "clash-x-default-x-my-vc").await.is_some(), "the host Service is kept");
    vsvc.delete("holder", &DeleteParams::default()).await.unwrap();
    eventually("clash recreated with the host's ClusterIP once it is free", DEADLINE, || async {
        get(&vsvc, "clash").await.filter(|v| cluster_ip(v) == held_ip)
    })
    .await;
    assert!(get(&hsvc, "clash-x-default-x-my-vc").await.is_some(), "the host Service is kept");

    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_on_kube_sim() {
    let (_host, _virt, pair) = sim_pair().await;
    scenarios(pair).await;
}

/// A host simulator and a virtual one (control plane only, TLS), and the pair the tests use.
async fn sim_pair() -> (kube_sim::Simulator, kube_sim::Simulator, Pair) {
    use kube_sim::{SimConfig, Simulator};
    let host = Simulator::start_with(SimConfig::default()).await.unwrap();
    let virt =
        Simulator::start_with(SimConfig { tls: true, control_plane_only: true, ..SimConfig::default() }).await.unwrap();
    let pair = Pair {
        host: host.client().await.unwrap(),
        virt: virt.client().await.unwrap(),
        virt_kubeconfig: Kubeconfig::read_from(virt.kubeconfig_path()).unwrap(),
        user_kubeconfig: Kubeconfig::from_yaml(&virt.kubeconfig_for("admin", &["system:masters"]).unwrap()).unwrap(),
        virt_client_ca: virt.ca_pem().unwrap().to_string(),
    };
    (host, virt, pair)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_on_real_control_planes() {
    use control_plane::{ControlPlane, Options};
    let host = ControlPlane::shared().await.expect("the host control plane starts (binaries built?)");
    // k3s inside a vcluster: no endpoint reconciler (the syncer writes default/kubernetes's).
    let virt = ControlPlane::start(Options::virtual_cluster().arg("kube-apiserver", "--endpoint-reconciler-type=none"))
        .await
        .expect("the virtual control plane starts (binaries built?)");
    let pair = Pair {
        host: host.client().await.unwrap(),
        virt: virt.client().await.unwrap(),
        virt_kubeconfig: Kubeconfig::read_from(virt.kubeconfig_path()).unwrap(),
        user_kubeconfig: Kubeconfig::read_from(virt.kubeconfig_for("admin", &["system:masters"]).unwrap()).unwrap(),
        virt_client_ca: virt.client_ca().cert_pem.clone(),
    };
    scenarios(pair).await;
    virt.stop().await.unwrap();
}

/// Services created through the endpoint cost the host one create each, whichever side's watch
/// shows them first: a Service the endpoint just created is waited for on the host watch instead
/// of being created again (409 and a GET), and a host Service seen before its virtual one is not
/// read back from the virtual API once the virtual one is in the store. Each side's watches are
/// held back in turn while Services are created, as happens under load; the simulators' request
/// logs count what each side was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_creates_cost_one_host_create_each_on_kube_sim() {
    use futures::{StreamExt, TryStreamExt, stream};
    use kube_sim::Simulator;
    const SERVICES: usize = 20;
    let (host, virt, pair) = sim_pair().await;
    seed_host(&pair.host).await;
    let running = start(&pair).await;
    let usvc: Api<Service> = Api::namespaced(running.user.clone(), "default");
    let hsvc: Api<Service> = Api::namespaced(pair.host.clone(), HOST_NS);
    eventually("the syncer's first lists", DEADLINE, || async {
        host.requests().iter().any(|r| r.path.ends_with("/services") && r.query.contains("watch=true")).then_some(())
    })
    .await;
    host.clear_requests();
    virt.clear_requests();
    let create_all = |prefix: &'static str| {
        let usvc = usvc.clone();
        stream::iter(0..SERVICES)
            .map(move |i| {
                let usvc = usvc.clone();
                async move {
                    let s: Service = obj(json!({
                        "metadata": { "name": format!("web-{prefix}-{i}") },
                        "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80 }] }
                    }));
                    usvc.create(&PostParams::default(), &s).await.map(|_| ())
                }
            })
            .buffer_unordered(8)
            .try_collect::<Vec<_>>()
    };
    // Synced: every host Service lost its block-deletion annotation (one update each).
    let synced = |count: usize| {
        let hsvc = hsvc.clone();
        eventually("every host Service synced", DEADLINE, move || {
            let hsvc = hsvc.clone();
            async move {
                let list = hsvc.list(&ListParams::default().labels(MANAGED)).await.ok()?;
                let synced = list
                    .items
                    .iter()
                    .filter(|h| !h.annotations().contains_key("vcluster.loft.sh/block-deletion"))
                    .count();
                (synced == count).then_some(())
            }
        })
    };

    // The host watches held back: the controller sees each virtual Service first.
    host.stall_watches();
    let reconciled = running.stats.reconciled();
    create_all("a").await.unwrap();
    eventually("every virtual Service reconciled while the host watch is held", DEADLINE, || async {
        (running.stats.reconciled() >= reconciled + SERVICES as u64).then_some(())
    })
    .await;
    host.resume_watches();
    synced(SERVICES).await;

    // The virtual watches held back: the host Services come first, without virtual ones.
    virt.stall_watches();
    create_all("b").await.unwrap();
    eventually("a cleanup check for every host Service", DEADLINE, || async {
        (running.stats.pending_cleanups() >= SERVICES as u64).then_some(())
    })
    .await;
    virt.resume_watches();
    synced(2 * SERVICES).await;
    eventually("no cleanup pending", DEADLINE, || async { (running.stats.pending_cleanups() == 0).then_some(()) })
        .await;

    let created = |status: u16| answered(&host, "POST", "/services", status);
    assert_eq!(created(201), 2 * SERVICES, "one host create per Service");
    assert_eq!(created(409), 0, "no host create of a Service the endpoint made");
    // Reads of one of the new Services (host `web-…-x-default-x-my-vc`, virtual `web-…`).
    let reads = |sim: &Simulator| {
        sim.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.contains("/services/web-") && !r.query.contains("watch"))
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(reads(&host), Vec::<String>::new(), "no host Service read back");
    assert_eq!(reads(&virt), Vec::<String>::new(), "no virtual Service read back");
    assert_eq!(managed_services(&hsvc).await.len(), 2 * SERVICES);
    running.stop().await;
}

/// How many `method` requests to a path ending in `path_end` the simulator answered with `status`.
fn answered(sim: &kube_sim::Simulator, method: &str, path_end: &str, status: u16) -> usize {
    sim.requests().iter().filter(|r| r.method == method && r.path.ends_with(path_end) && r.status == status).count()
}

/// A host Service the controller has just updated is waited for in its store: a second change
/// of the virtual Service while the host watch still shows the version the update replaced is
/// synced once the watch shows the update, not sent at once over that stale resourceVersion
/// (409, again every 200 ms while the watch lags).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_change_waits_for_the_host_watch_to_show_the_first_on_kube_sim() {
    let (host, _virt, pair) = sim_pair().await;
    seed_host(&pair.host).await;
    let running = start(&pair).await;
    let vsvc: Api<Service> = Api::namespaced(pair.virt.clone(), "default");
    let hsvc: Api<Service> = Api::namespaced(pair.host.clone(), HOST_NS);
    let usvc: Api<Service> = Api::namespaced(running.user.clone(), "default");
    let s: Service = obj(json!({
        "metadata": { "name": "web", "annotations": { "tier": "0" } },
        "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80 }] }
    }));
    usvc.create(&PostParams::default(), &s).await.unwrap();
    let host_tier = |tier: &'static str| {
        let hsvc = hsvc.clone();
        async move {
            let what = format!("the host Service's tier {tier}");
            eventually(&what, DEADLINE, move || {
                let hsvc = hsvc.clone();
                async move {
                    let h = hsvc.get("web-x-default-x-my-vc").await.ok()?;
                    let synced = !h.annotations().contains_key("vcluster.loft.sh/block-deletion");
                    (synced && h.annotations().get("tier").map(String::as_str) == Some(tier)).then_some(())
                }
            })
            .await
        }
    };
    host_tier("0").await;
    // The controller's host store current before the watch is held: a condition set on the host
    // after its update reaches the virtual Service only through that watch.
    let condition = json!({ "status": { "conditions": [{
        "type": "Probed", "status": "True", "reason": "Test", "message": "",
        "lastTransitionTime": "2026-01-01T00:00:00Z"
    }] } });
    hsvc.patch_status("web-x-default-x-my-vc", &PatchParams::default(), &Patch::Merge(&condition)).await.unwrap();
    eventually("the host's condition on the virtual Service", DEADLINE, || async {
        let v = vsvc.get("web").await.ok()?;
        v.status?.conditions?.iter().any(|c| c.type_ == "Probed").then_some(())
    })
    .await;
    let retier = |tier: &'static str| {
        let vsvc = vsvc.clone();
        async move {
            let mut v = vsvc.get("web").await.unwrap();
            v.annotations_mut().insert("tier".into(), tier.into());
            vsvc.replace("web", &PostParams::default(), &v).await.unwrap();
        }
    };

    host.stall_watches();
    host.clear_requests();
    retier("1").await;
    host_tier("1").await;
    let reconciled = running.stats.reconciled();
    retier("2").await;
    eventually("the second change reconciled, and once more", DEADLINE, || async {
        (running.stats.reconciled() >= reconciled + 2).then_some(())
    })
    .await;
    let puts = |status: u16| answered(&host, "PUT", "/services/web-x-default-x-my-vc", status);
    assert_eq!(puts(409), 0, "no update over the version the first one replaced");
    assert_eq!(puts(200), 1, "the first change only, while the watch lags");
    host.resume_watches();
    host_tier("2").await;
    assert_eq!(puts(409), 0);
    assert_eq!(puts(200), 2, "one update per change");
    running.stop().await;
}

/// A virtual Service created directly whose host ClusterIP is held by another virtual Service
/// that has no host Service yet (its create keeps failing here) waits for that holder, which
/// will move to its own host IP: no "holds it" Warning, and the Service is not deleted. Once
/// the holder's host Service exists, both end on their host IPs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_without_a_host_service_yet_is_waited_for_on_kube_sim() {
    use k8s_openapi::api::core::v1::Event;
    use kube_sim::{ADMIN_USER, Forbid};
    let (host, _virt, pair) = sim_pair().await;
    seed_host(&pair.host).await;
    let running = start(&pair).await;
    let pp = PostParams::default();
    let vsvc: Api<Service> = Api::namespaced(pair.virt.clone(), "default");
    let seeder = host.client_for("seeder", &["system:masters"]).await.unwrap();
    let hsvc: Api<Service> = Api::namespaced(seeder, HOST_NS);
    let events = Api::<Event>::namespaced(pair.virt.clone(), "default");
    let warnings_on = |name: &'static str| {
        let events = events.clone();
        async move {
            let list = events.list(&ListParams::default()).await.unwrap().items;
            list.into_iter()
                .filter(|e| e.involved_object.name.as_deref() == Some(name) && e.type_.as_deref() == Some("Warning"))
                .filter_map(|e| e.message)
                .collect::<Vec<_>>()
        }
    };

    // The syncer may not create host Services: the holder stays without one.
    host.forbid(Forbid::user(ADMIN_USER).verb("create").resource("", "services"));
    let holder = vsvc
        .create(&pp, &obj(json!({ "metadata": { "name": "holder" }, "spec": { "ports": [{ "port": 80 }] } })))
        .await
        .unwrap();
    let held_ip = cluster_ip(&holder);
    eventually("the holder's host create refused", DEADLINE, || async {
        (!warnings_on("holder").await.is_empty()).then_some(())
    })
    .await;
    // The host Service of `clash` holds the holder's virtual IP.
    hsvc.create(&pp, &clash_host_service(&held_ip)).await.unwrap();
    let reconciled = running.stats.reconciled();
    let first = vsvc
        .create(&pp, &obj(json!({ "metadata": { "name": "clash" }, "spec": { "ports": [{ "port": 80 }] } })))
        .await
        .unwrap();
    // Several reconcile rounds after the create (the first of them `clash`'s).
    eventually("reconciles after the create", DEADLINE, || async {
        (running.stats.reconciled() >= reconciled + 5).then_some(())
    })
    .await;
    let held: Vec<String> = warnings_on("clash").await.into_iter().filter(|m| m.contains("holds it")).collect();
    assert_eq!(held, Vec::<String>::new(), "a holder about to get its host IP is not reported");
    assert_eq!(get(&vsvc, "clash").await.unwrap().metadata.uid, first.metadata.uid, "not deleted while waiting");

    // The holder gets its host Service and IP; `clash` then takes the IP it was waiting for.
    host.clear_forbids();
    eventually("clash recreated with its host's ClusterIP", DEADLINE, || async {
        get(&vsvc, "clash").await.filter(|v| cluster_ip(v) == held_ip)
    })
    .await;
    let holder_host = hsvc.get("holder-x-default-x-my-vc").await.unwrap();
    assert_eq!(cluster_ip(&get(&vsvc, "holder").await.unwrap()), cluster_ip(&holder_host));
    running.stop().await;
}

/// The Services controller, the Endpoints controller and the pods' service-link index read the
/// virtual Services from one watch, as the established syncer's informers share one per kind:
/// the virtual API server lists and watches them once, and a selectorless Service created
/// there reaches both controllers (its host Service, its host Endpoints). The service-link
/// variables the index serves are asserted in `dns.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_services_are_listed_and_watched_once_on_kube_sim() {
    let (host, virt, pair) = sim_pair().await;
    seed_host(&pair.host).await;
    let running = start(&pair).await;
    let usvc: Api<Service> = Api::namespaced(running.user.clone(), "default");
    let hsvc: Api<Service> = Api::namespaced(pair.host.clone(), HOST_NS);
    let hep: Api<Endpoints> = Api::namespaced(pair.host.clone(), HOST_NS);
    let s: Service = obj(json!({ "metadata": { "name": "db" }, "spec": { "ports": [{ "port": 5432 }] } }));
    usvc.create(&PostParams::default(), &s).await.unwrap();
    let e: Endpoints = obj(json!({
        "metadata": { "name": "db" },
        "subsets": [{ "addresses": [{ "ip": "10.0.0.9" }], "ports": [{ "port": 5432 }] }]
    }));
    Api::<Endpoints>::namespaced(pair.virt.clone(), "default").create(&PostParams::default(), &e).await.unwrap();
    eventually("the host Service, synced", DEADLINE, || async {
        let h = hsvc.get("db-x-default-x-my-vc").await.ok()?;
        (!h.annotations().contains_key("vcluster.loft.sh/block-deletion")).then_some(())
    })
    .await;
    eventually("the selectorless Service's host Endpoints", DEADLINE, || async {
        hep.get("db-x-default-x-my-vc").await.ok().map(|_| ())
    })
    .await;
    let services = |watch: bool| {
        virt.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path == "/api/v1/services" && r.query.contains("watch=true") == watch)
            .count()
    };
    assert_eq!(services(false), 1, "one list of the virtual Services");
    assert_eq!(services(true), 1, "one watch of the virtual Services");
    drop(host);
    running.stop().await;
}
