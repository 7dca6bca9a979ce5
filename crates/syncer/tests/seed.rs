//! The networking sentences of the vcluster documentation ("Network & DNS") as tests: each
//! request goes through the join of the traffic models (`reach`): the name resolved as the
//! requesting pod resolves (`dns_support`: the virtual cluster's CoreDNS for a synced pod, the
//! host's DNS for a host pod), the address routed on the host as kube-proxy does
//! (`traffic_support`), the destination pod checked against the host's NetworkPolicies as a CNI
//! does (`netpol`).
//!
//! On both kinds of server (`on_both_servers!`: a kube-sim pair and two real control planes). The
//! syncer runs with exactly what `vcluster render` gives its container for
//! `fixtures/rendered/<case>.yaml`, and the chart's CoreDNS bundle where the chart mounts it
//! (`--coredns-manifest`, `--resolv-conf`: only the files' paths), so synced pods resolve through
//! the vcluster's DNS as in a deployed vcluster. Waits poll the clusters with deadlines until the
//! request lands where the sentence says.

mod common;
mod dns_support;
mod netpol;
mod reach;
mod traffic_support;

use std::time::Duration;

use common::{Backend, Clusters, HOST_NS, HostSetup, NAME, Side, Syncer, eventually_ok, pod_value};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::{Api, Client};
use reach::{Outcome, World};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use traffic_support::{Host, Origin, Route};
use vcluster_syncer::startup::Timings;

on_both_servers!(
    pods_reach_pods_by_ip_and_services_by_name,
    a_host_service_mapped_into_the_vcluster,
    a_virtual_service_mapped_to_the_host,
    synced_network_policies_admit_only_web_to_db,
);

const DEADLINE: Duration = Duration::from_secs(90);

/// The clusters with the scenario's objects, and the syncer between them.
struct Scene {
    clusters: Clusters,
    syncer: Syncer,
    _files: tempfile::TempDir,
}

/// Create `docs` in order, through the API; a pod after its namespace's default ServiceAccount.
async fn create_all(side: &Side, docs: Vec<Value>) {
    for doc in docs {
        if doc["kind"] == "Pod" {
            side.default_account(doc["metadata"]["namespace"].as_str().unwrap()).await;
        }
        side.create(doc).await;
    }
}

/// The clusters with `host` and `virt` created, and the syncer started for the rendered `case`.
async fn start(backend: Backend, case: &str, host: Vec<Value>, virt: Vec<Value>) -> Scene {
    // The syncer's log, shown for a failing test.
    let _ = tracing_subscriber::fmt().with_env_filter("info,kube=warn").with_test_writer().try_init();
    let clusters = Clusters::on(backend, HostSetup { workloads: true, ..HostSetup::default() }).await;
    create_all(&clusters.host, host).await;
    create_all(&clusters.virt, virt).await;
    let files = tempfile::tempdir().unwrap();
    let manifest = files.path().join("coredns.yaml");
    std::fs::write(&manifest, common::coredns_bundle()).unwrap();
    let resolv = files.path().join("resolv.conf");
    std::fs::write(&resolv, "nameserver 10.96.0.10\n").unwrap();
    let mut args = common::rendered_args(case);
    args.push(format!("--coredns-manifest={}", manifest.display()));
    args.push(format!("--resolv-conf={}", resolv.display()));
    let timings = Timings { health_interval: Duration::from_millis(200), ..Timings::default() };
    let mut syncer = clusters.syncer_from_args(args, timings, "seed-test").await;
    syncer.wait_ready(true, DEADLINE).await;
    Scene { clusters, syncer, _files: files }
}

async fn all<K>(client: &Client) -> Vec<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + DeserializeOwned,
{
    Api::<K>::all(client.clone()).list(&Default::default()).await.unwrap().items
}

/// What both clusters hold now, for the traffic models.
async fn world(clusters: &Clusters) -> World {
    let (host, virt) = (clusters.host_client().await, clusters.virt_client().await);
    let dns = vcluster_translate::Translator::new(NAME, HOST_NS).host_name("kube-system", "kube-dns");
    let services: Vec<Service> = all(&host).await;
    let virtual_dns = services
        .iter()
        .find(|s| s.metadata.namespace.as_deref() == Some(HOST_NS) && s.metadata.name.as_deref() == Some(&dns))
        .and_then(|s| s.spec.as_ref()?.cluster_ip.clone());
    World {
        vcluster: NAME.into(),
        domain: "cluster.local".into(),
        virtual_dns,
        virtual_services: all(&virt).await,
        virtual_endpoints: all(&virt).await,
        virtual_pods: all(&virt).await,
        host: Host { services, slices: all::<EndpointSlice>(&host).await, pods: all(&host).await },
        host_endpoints: all::<Endpoints>(&host).await,
        host_namespaces: all::<Namespace>(&host).await,
        host_policies: all::<NetworkPolicy>(&host).await,
    }
}

/// Wait until `check` holds of the clusters' traffic (failing with its last complaint).
async fn until<F>(clusters: &Clusters, what: &str, check: F) -> World
where
    F: Fn(&World) -> Result<(), String>,
{
    eventually_ok(what, DEADLINE, || async {
        let w = world(clusters).await;
        check(&w).map(|()| w)
    })
    .await
}

/// The request from `from` to `url` reaches exactly `want`.
fn reaches(w: &World, from: &Pod, url: &str, want: &[Origin]) -> Result<Outcome, String> {
    let outcome = w.reach(from, url);
    if outcome.reaches() == want {
        Ok(outcome)
    } else {
        Err(format!("{url} from {:?}: {outcome:#?}", from.metadata.name))
    }
}

fn synced<'a>(w: &'a World, namespace: &str, name: &str) -> Result<&'a Pod, String> {
    w.pod_of_virtual(namespace, name).ok_or_else(|| format!("the virtual {namespace}/{name} is not on the host yet"))
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// A Service selecting `app=<app>`, serving `port` on the pods' `targetPort`.
fn service(namespace: &str, name: &str, app: &str, port: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
           "spec": {"selector": {"app": app}, "ports": [port]}})
}

fn http(target: Value) -> Value {
    json!({"name": "http", "port": 80, "targetPort": target})
}

/// The route of the request's only address.
fn service_route(outcome: &Outcome) -> (&str, &str) {
    match &outcome.routes[..] {
        [(_, Route::Service { namespace, name, .. })] => (namespace, name),
        other => panic!("{other:?}"),
    }
}

/// "Pods … can communicate with each other via IP-based networking"; "users can connect to
/// these DNS names which in fact map to the IP address of the synchronized services".
async fn pods_reach_pods_by_ip_and_services_by_name(backend: Backend) {
    let virt = vec![
        service("default", "web", "web", http(json!(8080))),
        pod_value("default", "web", json!({"app": "web"})),
        pod_value("default", "client", json!({"app": "client"})),
    ];
    let host = vec![pod_value(HOST_NS, "curl", json!({"app": "curl"}))];
    let scene = start(backend, "defaults", host, virt).await;
    let web = Origin::virtual_pod(NAME, "default", "web");
    let urls = ["http://web.default", "http://web.default.svc.cluster.local", "http://web"];
    let w = until(&scene.clusters, "client → web by IP and by name", |w| {
        let client = synced(w, "default", "client")?;
        let ip = w.virtual_pod_ip("default", "web").ok_or("no virtual IP of web yet")?;
        // The way back (below) needs the client's too: its status is copied on its own.
        w.virtual_pod_ip("default", "client").ok_or("no virtual IP of client yet")?;
        reaches(w, client, &format!("tcp://{ip}:8080"), std::slice::from_ref(&web))?;
        for url in urls {
            reaches(w, client, url, std::slice::from_ref(&web))?;
        }
        Ok(())
    })
    .await;
    let client = w.pod_of_virtual("default", "client").unwrap();
    // The virtual CoreDNS answers the host ClusterIP: kube-proxy takes it to the synced Service.
    let by_name = w.reach(client, urls[0]);
    assert_eq!(service_route(&by_name), (HOST_NS, "web-x-default-x-my-vc"));
    assert_eq!(by_name.resolution.as_ref().unwrap().name.as_deref(), Some("web.default.svc.cluster.local"));
    assert_eq!(by_name.deliveries[0].endpoint.port, 8080);
    // The virtual IP is the host pod's; the other way round too.
    let web_host = w.pod_of_virtual("default", "web").unwrap();
    assert_eq!(
        w.virtual_pod_ip("default", "web"),
        web_host.status.as_ref().and_then(|s| s.pod_ip.as_deref()),
        "the virtual pod shows its host pod's IP"
    );
    let client_ip = w.virtual_pod_ip("default", "client").unwrap();
    let back = w.reach(web_host, &format!("tcp://{client_ip}:5432"));
    assert_eq!(back.reaches(), [Origin::virtual_pod(NAME, "default", "client")]);
    // A port the Service does not serve goes nowhere.
    assert!(w.reach(client, "http://web.default:81").lands_on().is_empty());
    // "host pods can only access virtual cluster services by their synced name".
    let curl = w.host_pod(HOST_NS, "curl").unwrap();
    assert!(w.reach(curl, "http://web.default").lands_on().is_empty());
    assert_eq!(w.reach(curl, "http://web-x-default-x-my-vc").reaches(), std::slice::from_ref(&web));
    scene.syncer.stop().await;
}

/// "mapServices.fromHost: my-host-namespace/my-host-service → my-virtual-namespace/my-virtual-service
/// … pods inside the vcluster will be able to access the host service via e.g. curl
/// http://my-virtual-service.my-virtual-namespace".
async fn a_host_service_mapped_into_the_vcluster(backend: Backend) {
    let host = vec![
        namespace("my-host-namespace"),
        service("my-host-namespace", "my-host-service", "backend", http(json!("http"))),
        pod_value("my-host-namespace", "backend", json!({"app": "backend"})),
    ];
    let virt = vec![pod_value("default", "client", json!({"app": "client"}))];
    let scene = start(backend, "networking", host, virt).await;
    let backend_pod = Origin::host_pod("my-host-namespace", "backend");
    let url = "http://my-virtual-service.my-virtual-namespace";
    let w = until(&scene.clusters, "client → the host service's pods", |w| {
        reaches(w, synced(w, "default", "client")?, url, std::slice::from_ref(&backend_pod)).map(drop)
    })
    .await;
    let outcome = w.reach(w.pod_of_virtual("default", "client").unwrap(), url);
    // The virtual name is a headless Service whose Endpoints hold the host ClusterIP.
    assert_eq!(service_route(&outcome), ("my-host-namespace", "my-host-service"));
    assert_eq!(outcome.deliveries[0].endpoint.port, 8080, "the host Service's named target port");
    scene.syncer.stop().await;
}

/// "mapServices.fromVirtual: my-virtual-namespace/my-virtual-service → my-host-service … pods in
/// the host cluster will be able to access the virtual service via e.g. curl
/// http://my-host-service" (from the namespace the vcluster's workloads are synced to).
async fn a_virtual_service_mapped_to_the_host(backend: Backend) {
    let host = vec![
        pod_value(HOST_NS, "curl", json!({"app": "curl"})),
        namespace("my-host-namespace"),
        pod_value("my-host-namespace", "curl", json!({"app": "curl"})),
    ];
    let virt = vec![
        namespace("my-virtual-namespace"),
        service("my-virtual-namespace", "my-virtual-service", "web", http(json!("http"))),
        pod_value("my-virtual-namespace", "web", json!({"app": "web"})),
    ];
    let scene = start(backend, "map-from-virtual", host, virt).await;
    let web = Origin::virtual_pod(NAME, "my-virtual-namespace", "web");
    let w = until(&scene.clusters, "a host pod → the virtual workload", |w| {
        let curl = w.host_pod(HOST_NS, "curl").ok_or("no host pod curl")?;
        reaches(w, curl, "http://my-host-service", std::slice::from_ref(&web)).map(drop)
    })
    .await;
    let outcome = w.reach(w.host_pod(HOST_NS, "curl").unwrap(), "http://my-host-service");
    let resolved = outcome.resolution.as_ref().unwrap();
    assert_eq!(resolved.name.as_deref(), Some("my-host-service.vcluster-my-vc.svc.cluster.local"));
    assert_eq!(service_route(&outcome), (HOST_NS, "my-host-service"));
    assert_eq!(outcome.deliveries[0].endpoint.port, 8080, "the virtual Service's named target port");
    // The short name is the vcluster's namespace's: elsewhere it takes the namespace.
    let elsewhere = w.host_pod("my-host-namespace", "curl").unwrap();
    assert!(w.reach(elsewhere, "http://my-host-service").lands_on().is_empty());
    assert_eq!(w.reach(elsewhere, &format!("http://my-host-service.{HOST_NS}")).reaches(), std::slice::from_ref(&web));
    scene.syncer.stop().await;
}

/// "Enable Network Policy Sync … vcluster will ensure correct policies are created in the host
/// cluster": a virtual policy letting only app=web reach app=db on 5432 admits exactly that pair
/// among all host pods: nothing from another vcluster, nor from host pods outside the vcluster.
async fn synced_network_policies_admit_only_web_to_db(backend: Backend) {
    let mut host = vec![namespace("my-host-namespace"), namespace("vcluster-other")];
    host.extend(common::foreign_host_pods());
    let virt = vec![
        service("default", "db", "db", json!({"name": "pg", "port": 5432, "targetPort": "pg"})),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "db-from-web", "namespace": "default"},
               "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                     "ports": [{"port": 5432, "protocol": "TCP"}]}]}}),
        pod_value("default", "web", json!({"app": "web"})),
        pod_value("default", "db", json!({"app": "db"})),
        pod_value("default", "batch", json!({"app": "batch"})),
    ];
    let foreign = common::foreign_host_pods().len();
    let scene = start(backend, "networking", host, virt).await;
    let db = Origin::virtual_pod(NAME, "default", "db");
    let w = until(&scene.clusters, "only web → db:5432 among the host pods", |w| {
        let web = synced(w, "default", "web")?;
        synced(w, "default", "batch")?;
        let ip = w.virtual_pod_ip("default", "db").ok_or("no virtual IP of db yet")?;
        // Used after the wait; each pod's status is copied on its own.
        w.virtual_pod_ip("default", "web").ok_or("no virtual IP of web yet")?;
        let sources: Vec<&Pod> = w.host.pods.iter().filter(|p| p.metadata.name.as_deref() != Some("db")).collect();
        let others = sources.iter().filter(|p| matches!(Origin::of(p), Origin::Host { .. })).count();
        if others < foreign {
            return Err(format!("{others} of the {foreign} foreign host pods"));
        }
        for from in sources {
            let want = if std::ptr::eq(from, web) { std::slice::from_ref(&db) } else { &[] };
            let by_ip = reaches(w, from, &format!("tcp://{ip}:5432"), want)?;
            if by_ip.lands_on() != [db.clone()] {
                return Err(format!("the db's IP leads elsewhere: {by_ip:#?}"));
            }
            // By name as the pod resolves: the virtual name for the vcluster's pods, the host
            // name for the others.
            let url = match Origin::of(from) {
                Origin::Virtual { vcluster, .. } if vcluster == NAME => "http://db.default:5432".to_owned(),
                _ => format!("http://db-x-default-x-{NAME}.{HOST_NS}:5432"),
            };
            let by_name = reaches(w, from, &url, want)?;
            if from.spec.as_ref().and_then(|s| s.dns_policy.as_deref()) != Some("Default")
                && by_name.lands_on() != [db.clone()]
            {
                return Err(format!("{url} leads elsewhere: {by_name:#?}"));
            }
        }
        Ok(())
    })
    .await;
    // web lands on db's other ports, and is refused there; the policy isolates db only.
    let web = w.pod_of_virtual("default", "web").unwrap();
    let batch = w.pod_of_virtual("default", "batch").unwrap();
    let db_ip = w.virtual_pod_ip("default", "db").unwrap();
    let other_port = w.reach(web, &format!("tcp://{db_ip}:8080"));
    assert_eq!(other_port.lands_on(), std::slice::from_ref(&db));
    assert!(other_port.reaches().is_empty(), "web → db:8080");
    let web_ip = w.virtual_pod_ip("default", "web").unwrap();
    assert_eq!(
        w.reach(batch, &format!("tcp://{web_ip}:8080")).reaches(),
        [Origin::virtual_pod(NAME, "default", "web")]
    );
    scene.syncer.stop().await;
}
