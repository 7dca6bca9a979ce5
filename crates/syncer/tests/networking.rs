//! Ingresses, ingress classes, network policies and mapServices, the same scenario on two kinds
//! of server: a kube-sim pair (host with kubelet and controllers, virtual control plane only) and
//! two real control planes (`control_plane::Options::host()` and `::virtual_cluster()`). The
//! scenario talks to both sides through API clients only. The syncer runs with exactly what
//! `vcluster render` gives its container for the values files in `fixtures/rendered/`
//! (`defaults`, `ingresses-without-classes`, `networking`), so chart and syncer are tested together.
//!
//! First with the chart's default switches (ingresses, ingress classes and network policies
//! off): nothing of them appears. With ingresses on and `--sync=-ingressclasses`: the ingress
//! syncs, the virtual classes are left as they are. Then with `--sync=ingresses,networkpolicies` and service
//! mappings: the ingress on the host with its translated backend, TLS Secret and cert-manager
//! annotation, its status back; the host's ingress class mirrored and a virtual-only class
//! removed; mapServices in both directions, a foreign target left alone with a Warning; the host
//! network policy, which — evaluated as a CNI would (`netpol`) — admits only web → db on 5432.

mod common;
mod netpol;

use std::path::PathBuf;
use std::time::Duration;

use common::{HOST_NS, NAME, eventually, pod_value as pod, s};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Endpoints, Event, Namespace, Pod, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass, NetworkPolicy};
use kube::api::{ListParams, PostParams};
use kube::config::Kubeconfig;
use kube::{Api, Client, Resource};
use kube_sim::{SimConfig, Simulator, Workloads};
use netpol::{Network, tcp};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::startup::{self, Environment, Timings};

const DEADLINE: Duration = Duration::from_secs(90);

/// Hashed label keys of `my-vc` (`printf %s KEY | sha256sum | cut -c1-10`).
const APP: &str = "vcluster.loft.sh/label-my-vc-x-a172cedcae";

/// Two clusters, whatever serves them.
struct Pair {
    host: Client,
    virt: Client,
    virt_kubeconfig: PathBuf,
}

impl Pair {
    /// Seed the host as the chart does (namespace, the vcluster's Service, workload account).
    async fn seed(&self) {
        apply(&self.host, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HOST_NS}})).await;
        apply(
            &self.host,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": NAME, "namespace": HOST_NS},
                   "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}}),
        )
        .await;
        apply(
            &self.host,
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "vc-workload-my-vc", "namespace": HOST_NS}}),
        )
        .await;
    }

    /// Start the syncer with what the chart renders for `fixtures/rendered/<case>.yaml`.
    async fn syncer(&self, case: &str) -> Running {
        let args = std::iter::once("vcluster-syncer".to_string()).chain(common::rendered_args(case));
        let options = vcluster_syncer::options::parse(args).unwrap().options;
        let text = std::fs::read_to_string(&self.virt_kubeconfig).unwrap();
        let env = Environment {
            virtual_client: self.virt.clone(),
            virtual_kubeconfig: Kubeconfig::from_yaml(&text).unwrap(),
            host_client: self.host.clone(),
            current_namespace: HOST_NS.into(),
            identity: "test-syncer".into(),
            stats: std::sync::Arc::default(),
            recent_creates: std::sync::Arc::default(),
        };
        let (readiness, mut ready) = watch::channel(false);
        let shutdown = CancellationToken::new();
        let timings = Timings { health_interval: Duration::from_millis(200), ..Timings::default() };
        let task = tokio::spawn(startup::run_with(options, env, timings, readiness, shutdown.clone()));
        tokio::time::timeout(DEADLINE, ready.wait_for(|r| *r)).await.expect("the syncer gets ready").unwrap();
        Running { shutdown, task }
    }
}

struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), vcluster_syncer::error::StartError>>,
}

impl Running {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task).await.expect("the syncer stops").unwrap().unwrap();
    }
}

/// Create an object described as JSON (any kind the test uses), through the client.
async fn apply(client: &Client, object: Value) {
    let kind = object["kind"].as_str().unwrap().to_owned();
    let namespace = s(&object, &["metadata", "namespace"]).unwrap_or_default().to_owned();
    async fn post<K>(api: Api<K>, object: Value)
    where
        K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Serialize + DeserializeOwned,
    {
        let object: K = serde_json::from_value(object).unwrap();
        match api.create(&PostParams::default(), &object).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => panic!("create {}: {e}", K::kind(&())),
        }
    }
    async fn create<K>(client: &Client, namespace: &str, object: Value)
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + Serialize
            + DeserializeOwned,
    {
        post(Api::<K>::namespaced(client.clone(), namespace), object).await;
    }
    match kind.as_str() {
        "Namespace" => post(Api::<Namespace>::all(client.clone()), object).await,
        "Service" => create::<Service>(client, &namespace, object).await,
        "ServiceAccount" => create::<k8s_openapi::api::core::v1::ServiceAccount>(client, &namespace, object).await,
        "Secret" => create::<k8s_openapi::api::core::v1::Secret>(client, &namespace, object).await,
        "Pod" => create::<Pod>(client, &namespace, object).await,
        "Ingress" => create::<Ingress>(client, &namespace, object).await,
        "IngressClass" => post(Api::<IngressClass>::all(client.clone()), object).await,
        "NetworkPolicy" => create::<NetworkPolicy>(client, &namespace, object).await,
        other => panic!("the test does not create {other}"),
    }
}

async fn get<K>(client: &Client, namespace: &str, name: &str) -> Option<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + std::fmt::Debug + DeserializeOwned,
{
    Api::<K>::namespaced(client.clone(), namespace).get_opt(name).await.unwrap()
}

async fn list<K>(client: &Client) -> Vec<K>
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + DeserializeOwned,
{
    Api::<K>::all(client.clone()).list(&ListParams::default()).await.unwrap().items
}

/// Wait for the namespace's `default` ServiceAccount (pods need it: ServiceAccount admission).
async fn default_account(client: &Client, namespace: &str) {
    eventually("the default ServiceAccount", DEADLINE, || async {
        get::<k8s_openapi::api::core::v1::ServiceAccount>(client, namespace, "default").await
    })
    .await;
}

fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// The virtual objects of the scenario, made before any syncer runs.
async fn seed_virtual(pair: &Pair) {
    let v = &pair.virt;
    apply(
        v,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "shop-tls", "namespace": "default"},
               "type": "kubernetes.io/tls", "stringData": {"tls.crt": "crt", "tls.key": "key"}}),
    )
    .await;
    apply(
        v,
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "shop", "namespace": "default",
                            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}},
               "spec": {"ingressClassName": "nginx",
                        "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                        "rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
    )
    .await;
    // The vcluster docs' example policy (v0.15, "Network & DNS"): only app=web may reach app=db, on 5432.
    apply(
        v,
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "db-from-web", "namespace": "default"},
               "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}],
                                     "ports": [{"port": 5432, "protocol": "TCP"}]}]}}),
    )
    .await;
    // A class of the user's own: the class sync removes it (no host class of that name).
    apply(
        v,
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "mine"},
               "spec": {"controller": "example.com/mine"}}),
    )
    .await;
    default_account(v, "default").await;
    for (name, app) in [("web", "web"), ("db", "db"), ("batch", "batch")] {
        apply(v, pod("default", name, json!({"app": app}))).await;
    }
}

/// The host objects of the scenario: an ingress class, the source of the fromHost mapping, a
/// Service named like a fromVirtual target that is not vcluster's, pods outside the vcluster.
async fn seed_host(pair: &Pair) {
    let h = &pair.host;
    apply(
        h,
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
               "spec": {"controller": "k8s.io/ingress-nginx"}}),
    )
    .await;
    for ns in ["my-host-namespace", "vcluster-other"] {
        apply(h, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})).await;
    }
    apply(
        h,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-host-service", "namespace": "my-host-namespace"},
               "spec": {"selector": {"app": "backend"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
    )
    .await;
    apply(
        h,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "taken", "namespace": HOST_NS, "labels": {"owner": "ops"}},
               "spec": {"selector": {"app": "ops"}, "ports": [{"port": 9000}]}}),
    )
    .await;
}

/// Host pods that must never reach the vcluster's db (`common::foreign_host_pods`).
async fn seed_host_pods(pair: &Pair) {
    let h = &pair.host;
    for ns in [HOST_NS, "vcluster-other", "my-host-namespace"] {
        default_account(h, ns).await;
    }
    for pod in common::foreign_host_pods() {
        apply(h, pod).await;
    }
}

async fn scenario(pair: Pair) {
    // The syncer's log, shown for a failing test.
    let _ = tracing_subscriber::fmt().with_env_filter("info,kube=warn").with_test_writer().try_init();
    pair.seed().await;
    seed_host(&pair).await;
    seed_virtual(&pair).await;

    // The chart's defaults: ingresses, ingress classes and network policies off.
    let syncer = pair.syncer("defaults").await;
    eventually("host pod of web", DEADLINE, || async { get::<Pod>(&pair.host, HOST_NS, "db-x-default-x-my-vc").await })
        .await;
    assert!(get::<Ingress>(&pair.host, HOST_NS, "shop-x-default-x-my-vc").await.is_none(), "ingress sync is off");
    assert!(get::<NetworkPolicy>(&pair.host, HOST_NS, "db-from-web-x-default-x-my-vc").await.is_none());
    assert!(list::<NetworkPolicy>(&pair.host).await.is_empty(), "no host policy without the switch");
    let classes: Vec<String> =
        list::<IngressClass>(&pair.virt).await.into_iter().filter_map(|c| c.metadata.name).collect();
    assert_eq!(classes, ["mine"], "no class mirrored with ingress classes off");
    assert!(
        get::<k8s_openapi::api::core::v1::Secret>(&pair.host, HOST_NS, "shop-tls-x-default-x-my-vc").await.is_none(),
        "an ingress's Secret is not synced with ingress sync off"
    );
    syncer.stop().await;

    // Ingress sync on, ingress classes switched off (`sync.ingressclasses.enabled: false`).
    let syncer = pair.syncer("ingresses-without-classes").await;
    eventually("host ingress", DEADLINE, || async {
        get::<Ingress>(&pair.host, HOST_NS, "shop-x-default-x-my-vc").await
    })
    .await;
    let classes: Vec<String> =
        list::<IngressClass>(&pair.virt).await.into_iter().filter_map(|c| c.metadata.name).collect();
    assert_eq!(classes, ["mine"], "classes neither mirrored nor removed with ingress classes off");
    syncer.stop().await;

    // Ingresses (and with them ingress classes), network policies, service mappings.
    let syncer = pair.syncer("networking").await;

    // The ingress on the host: translated backend and TLS Secret name, class and cert-manager
    // annotation kept; the TLS Secret synced without --sync-all-secrets.
    let ingress = eventually("host ingress", DEADLINE, || async {
        get::<Ingress>(&pair.host, HOST_NS, "shop-x-default-x-my-vc").await
    })
    .await;
    let spec = value(ingress.spec.as_ref().unwrap());
    assert_eq!(spec["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"], "web-x-default-x-my-vc");
    assert_eq!(spec["tls"][0]["secretName"], "shop-tls-x-default-x-my-vc");
    assert_eq!(spec["ingressClassName"], "nginx");
    assert_eq!(ingress.metadata.annotations.as_ref().unwrap()["cert-manager.io/cluster-issuer"], "letsencrypt-prod");
    let tls = eventually("host TLS Secret", DEADLINE, || async {
        get::<k8s_openapi::api::core::v1::Secret>(&pair.host, HOST_NS, "shop-tls-x-default-x-my-vc").await
    })
    .await;
    assert_eq!(tls.type_.as_deref(), Some("kubernetes.io/tls"));

    // The host's ingress controller publishes an address: it comes back.
    let mut published = ingress.clone();
    published.status =
        Some(serde_json::from_value(json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}})).unwrap());
    Api::<Ingress>::namespaced(pair.host.clone(), HOST_NS)
        .replace_status("shop-x-default-x-my-vc", &PostParams::default(), &published)
        .await
        .unwrap();
    eventually("virtual ingress status", DEADLINE, || async {
        get::<Ingress>(&pair.virt, "default", "shop")
            .await
            .filter(|i| value(&i.status)["loadBalancer"]["ingress"][0]["ip"] == "203.0.113.7")
    })
    .await;

    // Ingress classes: the host's mirrored, the virtual-only one removed.
    let classes = eventually("virtual ingress classes = host's", DEADLINE, || async {
        let names: Vec<String> =
            list::<IngressClass>(&pair.virt).await.into_iter().filter_map(|c| c.metadata.name).collect();
        (names == ["nginx"]).then_some(names)
    })
    .await;
    assert_eq!(classes, ["nginx"]);
    let nginx = Api::<IngressClass>::all(pair.virt.clone()).get("nginx").await.unwrap();
    assert_eq!(nginx.spec.unwrap().controller.as_deref(), Some("k8s.io/ingress-nginx"));
    assert_eq!(nginx.metadata.annotations.unwrap()["ingressclass.kubernetes.io/is-default-class"], "true");

    // fromHost: a virtual headless Service whose Endpoints hold the host ClusterIP, in a virtual
    // namespace the syncer created.
    let host_service = get::<Service>(&pair.host, "my-host-namespace", "my-host-service").await.unwrap();
    let cluster_ip = host_service.spec.unwrap().cluster_ip.unwrap();
    let endpoints = eventually("fromHost endpoints", DEADLINE, || async {
        get::<Endpoints>(&pair.virt, "my-virtual-namespace", "my-virtual-service").await
    })
    .await;
    let endpoints = value(&endpoints);
    assert_eq!(endpoints["subsets"][0]["addresses"][0]["ip"], cluster_ip.as_str(), "{endpoints}");
    assert_eq!(endpoints["subsets"][0]["ports"][0]["port"], 80);
    let target = get::<Service>(&pair.virt, "my-virtual-namespace", "my-virtual-service").await.unwrap();
    assert_eq!(target.metadata.labels.unwrap()["vcluster.loft.sh/controlled-by"], "vcluster");
    assert_eq!(target.spec.unwrap().cluster_ip.as_deref(), Some("None"));

    // fromVirtual: the host Service selects the synced pods by the translated selector; a host
    // Service of the same name as a target that vcluster did not make is left alone, with a
    // Warning on the virtual source.
    for (name, app) in [("my-virtual-web", "web"), ("my-virtual-db", "db")] {
        apply(
            &pair.virt,
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "my-virtual-namespace"},
                   "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": 8080}]}}),
        )
        .await;
    }
    let host_target = eventually("fromVirtual host service", DEADLINE, || async {
        get::<Service>(&pair.host, HOST_NS, "my-host-service").await
    })
    .await;
    assert_eq!(
        value(&host_target.spec.as_ref().unwrap().selector),
        json!({APP: "web", "vcluster.loft.sh/managed-by": NAME, "vcluster.loft.sh/namespace": "my-virtual-namespace"})
    );
    assert_eq!(host_target.metadata.labels.unwrap()["vcluster.loft.sh/controlled-by"], "vcluster");
    eventually("a Warning about the foreign target", DEADLINE, || async {
        list::<Event>(&pair.virt).await.into_iter().find(|e| {
            e.involved_object.name.as_deref() == Some("my-virtual-db") && e.type_.as_deref() == Some("Warning")
        })
    })
    .await;
    let taken = get::<Service>(&pair.host, HOST_NS, "taken").await.unwrap();
    assert_eq!(value(&taken.spec.unwrap().selector), json!({"app": "ops"}), "the foreign Service is untouched");
    assert!(!taken.metadata.labels.unwrap().contains_key("vcluster.loft.sh/controlled-by"));

    // The network policy on the host, evaluated over the host's pods as a CNI would.
    seed_host_pods(&pair).await;
    let policy = eventually("host network policy", DEADLINE, || async {
        get::<NetworkPolicy>(&pair.host, HOST_NS, "db-from-web-x-default-x-my-vc").await
    })
    .await;
    assert_eq!(
        value(&policy.spec.as_ref().unwrap().pod_selector),
        json!({"matchLabels": {APP: "db", "vcluster.loft.sh/managed-by": NAME, "vcluster.loft.sh/namespace": "default"}})
    );
    let network = Network {
        pods: list::<Pod>(&pair.host).await,
        namespaces: list::<Namespace>(&pair.host).await,
        policies: list::<NetworkPolicy>(&pair.host).await,
    };
    let (web, db, batch) = (
        network.pod(HOST_NS, "web-x-default-x-my-vc"),
        network.pod(HOST_NS, "db-x-default-x-my-vc"),
        network.pod(HOST_NS, "batch-x-default-x-my-vc"),
    );
    assert!(network.allowed(web, db, tcp(5432)), "web → db:5432");
    assert!(!network.allowed(web, db, tcp(80)), "web → db on another port");
    assert!(!network.allowed(batch, db, tcp(5432)), "batch → db");
    for (ns, name) in [
        (HOST_NS, "web-x-default-x-other"),
        ("vcluster-other", "web-x-default-x-other"),
        (HOST_NS, "intruder"),
        ("my-host-namespace", "outside"),
    ] {
        assert!(!network.allowed(network.pod(ns, name), db, tcp(5432)), "{ns}/{name} → db:5432");
    }
    assert!(network.allowed(batch, web, tcp(80)), "the policy isolates db only");
    updates_and_deletions(&pair).await;
    syncer.stop().await;
}

/// Updates and deletions in both directions, with the second syncer still running.
async fn updates_and_deletions(pair: &Pair) {
    let (host, virt) = (&pair.host, &pair.virt);

    // fromHost, headless source: the virtual Endpoints hold the host pods' IPs.
    apply(
        host,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "headless", "namespace": "my-host-namespace"},
               "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}),
    )
    .await;
    let outside_ip = eventually("host pod outside has an IP", DEADLINE, || async {
        get::<Pod>(host, "my-host-namespace", "outside").await.and_then(|p| p.status?.pod_ip)
    })
    .await;
    eventually("headless fromHost endpoints = the host pod IPs", DEADLINE, || async {
        let e = value(&get::<Endpoints>(virt, "my-virtual-namespace", "headless").await?);
        (e["subsets"][0]["addresses"][0]["ip"] == outside_ip.as_str()).then_some(())
    })
    .await;

    // fromHost: a port change follows; the source's deletion removes the target and its Endpoints.
    let services: Api<Service> = Api::namespaced(host.clone(), "my-host-namespace");
    let mut source = services.get("my-host-service").await.unwrap();
    source.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].port = 81;
    services.replace("my-host-service", &PostParams::default(), &source).await.unwrap();
    eventually("fromHost endpoints on port 81", DEADLINE, || async {
        let e = value(&get::<Endpoints>(virt, "my-virtual-namespace", "my-virtual-service").await?);
        (e["subsets"][0]["ports"][0]["port"] == 81).then_some(())
    })
    .await;
    services.delete("my-host-service", &Default::default()).await.unwrap();
    eventually("fromHost target gone", DEADLINE, || async {
        let service = get::<Service>(virt, "my-virtual-namespace", "my-virtual-service").await;
        let endpoints = get::<Endpoints>(virt, "my-virtual-namespace", "my-virtual-service").await;
        (service.is_none() && endpoints.is_none()).then_some(())
    })
    .await;

    // fromVirtual: a selector change follows; the source's deletion removes the target, and the
    // foreign target stays when its source goes.
    let sources: Api<Service> = Api::namespaced(virt.clone(), "my-virtual-namespace");
    let mut web = sources.get("my-virtual-web").await.unwrap();
    web.spec.as_mut().unwrap().selector = Some([("app".to_owned(), "batch".to_owned())].into());
    sources.replace("my-virtual-web", &PostParams::default(), &web).await.unwrap();
    eventually("fromVirtual selector follows", DEADLINE, || async {
        let t = get::<Service>(host, HOST_NS, "my-host-service").await?;
        (t.spec?.selector?.get(APP)? == "batch").then_some(())
    })
    .await;
    sources.delete("my-virtual-web", &Default::default()).await.unwrap();
    sources.delete("my-virtual-db", &Default::default()).await.unwrap();
    eventually("fromVirtual target gone", DEADLINE, || async {
        get::<Service>(host, HOST_NS, "my-host-service").await.is_none().then_some(())
    })
    .await;
    assert!(get::<Service>(host, HOST_NS, "taken").await.is_some(), "a foreign target is never deleted");

    // Ingress: an update follows; deleting it removes the host ingress and its TLS Secret.
    let ingresses: Api<Ingress> = Api::namespaced(virt.clone(), "default");
    let mut shop = ingresses.get("shop").await.unwrap();
    shop.spec.as_mut().unwrap().rules.as_mut().unwrap()[0].host = Some("www.example.com".into());
    ingresses.replace("shop", &PostParams::default(), &shop).await.unwrap();
    eventually("host ingress rule follows", DEADLINE, || async {
        let i = get::<Ingress>(host, HOST_NS, "shop-x-default-x-my-vc").await?;
        (i.spec?.rules?[0].host.as_deref() == Some("www.example.com")).then_some(())
    })
    .await;
    ingresses.delete("shop", &Default::default()).await.unwrap();
    eventually("host ingress gone", DEADLINE, || async {
        get::<Ingress>(host, HOST_NS, "shop-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
    eventually("host TLS Secret gone", DEADLINE, || async {
        let secret = get::<k8s_openapi::api::core::v1::Secret>(host, HOST_NS, "shop-tls-x-default-x-my-vc").await;
        secret.is_none().then_some(())
    })
    .await;

    // Ingress classes: a host change follows; the host class's deletion removes the virtual one.
    let host_classes: Api<IngressClass> = Api::all(host.clone());
    let mut nginx = host_classes.get("nginx").await.unwrap();
    nginx.metadata.annotations = Some([("team".to_owned(), "edge".to_owned())].into());
    host_classes.replace("nginx", &PostParams::default(), &nginx).await.unwrap();
    eventually("virtual class annotations follow", DEADLINE, || async {
        let c = Api::<IngressClass>::all(virt.clone()).get_opt("nginx").await.unwrap()?;
        (c.metadata.annotations? == [("team".to_owned(), "edge".to_owned())].into()).then_some(())
    })
    .await;
    host_classes.delete("nginx", &Default::default()).await.unwrap();
    eventually("virtual class gone", DEADLINE, || async {
        Api::<IngressClass>::all(virt.clone()).get_opt("nginx").await.unwrap().is_none().then_some(())
    })
    .await;

    // Network policy: an update follows; its deletion removes the host policy.
    let policies: Api<NetworkPolicy> = Api::namespaced(virt.clone(), "default");
    let mut policy = policies.get("db-from-web").await.unwrap();
    policy.spec.as_mut().unwrap().ingress.as_mut().unwrap()[0].ports.as_mut().unwrap()[0].port =
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(5433));
    policies.replace("db-from-web", &PostParams::default(), &policy).await.unwrap();
    eventually("host policy port follows", DEADLINE, || async {
        let p = value(&get::<NetworkPolicy>(host, HOST_NS, "db-from-web-x-default-x-my-vc").await?);
        (p["spec"]["ingress"][0]["ports"][0]["port"] == 5433).then_some(())
    })
    .await;
    policies.delete("db-from-web", &Default::default()).await.unwrap();
    eventually("host policy gone", DEADLINE, || async {
        get::<NetworkPolicy>(host, HOST_NS, "db-from-web-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networking_on_kube_sim() {
    let host = Simulator::start_with(SimConfig {
        workloads: Workloads { enabled: true, ..Workloads::default() },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let virt =
        Simulator::start_with(SimConfig { tls: true, control_plane_only: true, ..SimConfig::default() }).await.unwrap();
    let pair = Pair {
        host: host.client().await.unwrap(),
        virt: virt.client().await.unwrap(),
        virt_kubeconfig: virt.kubeconfig_path().to_owned(),
    };
    scenario(pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networking_on_real_control_planes() {
    use control_plane::{ControlPlane, Options};
    let (host, virt) =
        tokio::join!(ControlPlane::start(Options::host()), ControlPlane::start(Options::virtual_cluster()));
    let (host, virt) = (host.unwrap(), virt.unwrap());
    let pair = Pair {
        host: host.client().await.unwrap(),
        virt: virt.client().await.unwrap(),
        virt_kubeconfig: virt.kubeconfig_path().to_owned(),
    };
    scenario(pair).await;
    host.stop().await.unwrap();
    virt.stop().await.unwrap();
}
