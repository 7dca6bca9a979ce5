//! Two simulators (host with the kubelet and controllers, virtual without — what k3s runs inside
//! a vcluster) and the syncer in-process between them. Waits poll with deadlines; nothing
//! sleeps for a fixed time to let something happen.
#![allow(dead_code)]

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use control_plane::ControlPlane;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject};
use kube::config::Kubeconfig;
use kube::{Api, Client};
use kube_sim::{RequestRecord, SimConfig, Simulator, Workloads};
use serde_json::Value;
use tokio::sync::watch;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::startup::{self, Environment, Timings};

pub const NAME: &str = "my-vc";
pub const HOST_NS: &str = "vcluster-my-vc";

/// The arguments the chart renders by default for `my-vc`.
pub fn chart_args() -> Vec<String> {
    rendered_args("defaults")
}

/// What `vcluster render my-vc -n vcluster-my-vc -f fixtures/rendered/<case>.yaml` gives the
/// syncer container (kept equal to the chart by the CLI's tests/syncer_args.rs).
pub fn rendered_args(case: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rendered").join(format!("{case}.args"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::to_owned).collect()
}

/// The host namespace, the vcluster's Service (the owner of synced objects) and the workload
/// service account, as the chart creates them.
pub const HOST_SEED: &str = "
apiVersion: v1
kind: Namespace
metadata:
  name: vcluster-my-vc
---
apiVersion: v1
kind: Service
metadata:
  name: my-vc
  namespace: vcluster-my-vc
spec:
  ports:
  - name: https
    port: 443
    targetPort: 8443
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: vc-workload-my-vc
  namespace: vcluster-my-vc
";

/// Which servers a test runs on: the simulator pair, or two real control planes (the ground
/// truth; `crates/control-plane`, built by `scripts/test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sim,
    Real,
}

/// One side (host or virtual): a simulator, or a real control plane with its admin client.
pub enum Side {
    Sim(Simulator),
    Real { plane: Box<ControlPlane>, client: Client },
}

impl Side {
    async fn real(options: control_plane::Options) -> Side {
        let plane = ControlPlane::start(options).await.unwrap_or_else(|e| panic!("the real control plane: {e}"));
        let client = plane.client().await.unwrap();
        Side::Real { plane: Box::new(plane), client }
    }

    pub async fn client(&self) -> Client {
        match self {
            Side::Sim(sim) => sim.client().await.unwrap(),
            Side::Real { client, .. } => client.clone(),
        }
    }

    pub fn kubeconfig_path(&self) -> &Path {
        match self {
            Side::Sim(sim) => sim.kubeconfig_path(),
            Side::Real { plane, .. } => plane.kubeconfig_path(),
        }
    }

    /// The simulator, for what only it can do (fault injection, request records).
    pub fn sim(&self) -> &Simulator {
        match self {
            Side::Sim(sim) => sim,
            Side::Real { .. } => panic!("a simulator-only step ran against the real control plane"),
        }
    }

    /// The object as the server has it (`namespace` empty for cluster-scoped kinds).
    pub async fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        match self {
            Side::Sim(sim) => sim.object(api_version, kind, namespace, name),
            Side::Real { client, .. } => {
                let api = dynamic_api(client, api_version, kind, namespace);
                let obj = api.get_opt(name).await.unwrap_or_else(|e| panic!("get {kind} {namespace}/{name}: {e}"));
                obj.map(|o| serde_json::to_value(o).unwrap())
            }
        }
    }

    /// Every object of a kind, in all namespaces.
    pub async fn objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        match self {
            Side::Sim(sim) => sim.objects(api_version, kind),
            Side::Real { client, .. } => {
                let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(api_version, kind));
                let list = api.list(&Default::default()).await.unwrap_or_else(|e| panic!("list {kind}: {e}"));
                list.items.into_iter().map(|o| serde_json::to_value(o).unwrap()).collect()
            }
        }
    }

    /// Create every document of `yaml`, in order.
    pub async fn seed_yaml(&self, yaml: &str) {
        match self {
            Side::Sim(sim) => {
                sim.seed_yaml(yaml).unwrap();
            }
            Side::Real { .. } => {
                let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).unwrap();
                for doc in docs.into_iter().filter(|d| !d.is_null()) {
                    self.create(doc).await;
                }
            }
        }
    }

    /// Create one object described as JSON, through the API as any client does.
    pub async fn create(&self, doc: Value) {
        let obj: DynamicObject = serde_json::from_value(doc).unwrap();
        let types = obj.types.clone().expect("apiVersion and kind");
        let namespace = obj.metadata.namespace.clone().unwrap_or_default();
        let api = dynamic_api(&self.client().await, &types.api_version, &types.kind, &namespace);
        api.create(&Default::default(), &obj).await.unwrap_or_else(|e| panic!("create {}: {e}", types.kind));
    }

    /// Wait for `namespace`'s `default` ServiceAccount (ServiceAccount admission admits pods only
    /// then on a real server).
    pub async fn default_account(&self, namespace: &str) {
        eventually("the default ServiceAccount", DEADLINE, || async {
            self.object("v1", "ServiceAccount", namespace, "default").await
        })
        .await;
    }
}

/// The resource of a kind, by the plural the API uses for the kinds these tests touch.
fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let lower = kind.to_ascii_lowercase();
    let plural = if lower == "endpoints" {
        lower
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else if lower.ends_with("ss") {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    };
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural,
    }
}

fn dynamic_api(client: &Client, api_version: &str, kind: &str, namespace: &str) -> Api<DynamicObject> {
    let resource = api_resource(api_version, kind);
    if namespace.is_empty() {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), namespace, &resource)
    }
}

/// Real control planes are heavy on a 2-core machine: one pair at a time per test binary.
static REAL_PAIRS: Semaphore = Semaphore::const_new(1);

/// What the host runs besides its control plane.
#[derive(Debug, Clone, Default)]
pub struct HostSetup {
    /// Nodes, scheduler and a kubelet (kube-sim's, or kwok): pods run.
    pub workloads: bool,
    /// The host's service range (default each server's own).
    pub service_cidr: Option<&'static str>,
}

pub struct Clusters {
    pub backend: Backend,
    pub host: Side,
    pub virt: Side,
    _pair: Option<SemaphorePermit<'static>>,
}

impl Clusters {
    pub async fn start(workloads: bool) -> Clusters {
        Self::start_with(workloads, SimConfig::default()).await
    }

    pub async fn start_with(workloads: bool, host_config: SimConfig) -> Clusters {
        let host = Simulator::start_with(SimConfig {
            workloads: Workloads { enabled: workloads, ..Workloads::default() },
            ..host_config
        })
        .await
        .unwrap();
        host.seed_yaml(HOST_SEED).unwrap();
        // The virtual cluster: a control plane only (no kubelet, no scheduler, no node), TLS as k3s.
        let virt = Simulator::start_with(SimConfig { tls: true, ..SimConfig::default() }).await.unwrap();
        Clusters { backend: Backend::Sim, host: Side::Sim(host), virt: Side::Sim(virt), _pair: None }
    }

    /// The pair on `backend`, the host seeded with [`HOST_SEED`].
    pub async fn on(backend: Backend, setup: HostSetup) -> Clusters {
        match backend {
            Backend::Sim => {
                let mut config = SimConfig::default();
                if let Some(cidr) = setup.service_cidr {
                    config.service_cidrs = vec![cidr.into()];
                }
                Self::start_with(setup.workloads, config).await
            }
            Backend::Real => {
                let pair = REAL_PAIRS.acquire().await.unwrap();
                let mut options = control_plane::Options::host();
                if !setup.workloads {
                    options = control_plane::Options { kwok: false, scheduler: false, nodes: 0, ..options };
                }
                if let Some(cidr) = setup.service_cidr {
                    options = options.service_cidr(cidr);
                }
                let (host, virt) =
                    tokio::join!(Side::real(options), Side::real(control_plane::Options::virtual_cluster()));
                host.seed_yaml(HOST_SEED).await;
                let clusters = Clusters { backend, host, virt, _pair: Some(pair) };
                clusters.wait_for_default_service_account().await;
                clusters
            }
        }
    }

    /// A real virtual cluster admits pods only once kube-controller-manager made `default`'s
    /// ServiceAccount (kubernetes v1.33 plugin/pkg/admission/serviceaccount/admission.go).
    async fn wait_for_default_service_account(&self) {
        eventually("the virtual default ServiceAccount", DEADLINE, || async {
            self.virt.object("v1", "ServiceAccount", "default", "default").await
        })
        .await;
    }

    pub async fn host_client(&self) -> Client {
        self.host.client().await
    }

    pub async fn virt_client(&self) -> Client {
        self.virt.client().await
    }

    pub async fn environment(&self, identity: &str) -> Environment {
        let text = std::fs::read_to_string(self.virt.kubeconfig_path()).unwrap();
        Environment {
            virtual_client: self.virt_client().await,
            virtual_kubeconfig: Kubeconfig::from_yaml(&text).unwrap(),
            host_client: self.host_client().await,
            current_namespace: HOST_NS.into(),
            identity: identity.into(),
            stats: std::sync::Arc::default(),
            recent_creates: std::sync::Arc::default(),
        }
    }

    /// Start a syncer with the chart's arguments plus `extra`.
    pub async fn syncer(&self, extra: &[&str]) -> Syncer {
        self.syncer_with(
            extra,
            Timings { health_interval: Duration::from_millis(200), ..Timings::default() },
            "test-syncer",
        )
        .await
    }

    pub async fn syncer_with(&self, extra: &[&str], timings: Timings, identity: &str) -> Syncer {
        let mut args = chart_args();
        args.extend(extra.iter().map(|s| s.to_string()));
        self.syncer_from_args(args, timings, identity).await
    }

    /// Start a syncer with exactly `args` (what a rendered chart gives its syncer container).
    pub async fn syncer_from_args(&self, args: Vec<String>, timings: Timings, identity: &str) -> Syncer {
        let argv = std::iter::once("vcluster-syncer".to_string()).chain(args);
        let options = vcluster_syncer::options::parse(argv).unwrap().options;
        let env = self.environment(identity).await;
        let stats = env.stats.clone();
        let (readiness, ready) = watch::channel(false);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(startup::run_with(options, env, timings, readiness, shutdown.clone()));
        Syncer { shutdown, task, ready, stats }
    }

    /// Every write clients made to either simulator since the last clear.
    pub fn writes(&self) -> Vec<(String, RequestRecord)> {
        let (host, virt) = (self.host.sim(), self.virt.sim());
        let mut out: Vec<(String, RequestRecord)> =
            host.requests().into_iter().filter(|r| r.is_write()).map(|r| ("host".into(), r)).collect();
        out.extend(virt.requests().into_iter().filter(|r| r.is_write()).map(|r| ("virtual".into(), r)));
        out
    }

    pub fn clear_requests(&self) {
        self.host.sim().clear_requests();
        self.virt.sim().clear_requests();
    }

    pub async fn host_object(&self, kind: &str, name: &str) -> Option<Value> {
        self.host.object("v1", kind, HOST_NS, name).await
    }

    pub async fn virt_object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.virt.object("v1", kind, namespace, name).await
    }
}

pub struct Syncer {
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), vcluster_syncer::error::StartError>>,
    pub ready: watch::Receiver<bool>,
    pub stats: std::sync::Arc<vcluster_syncer::controllers::Stats>,
}

impl Syncer {
    pub async fn wait_ready(&mut self, ready: bool, deadline: Duration) {
        tokio::time::timeout(deadline, self.ready.wait_for(|r| *r == ready))
            .await
            .unwrap_or_else(|_| panic!("readiness did not become {ready} within {deadline:?}"))
            .unwrap();
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("the syncer stops").unwrap();
        result.unwrap();
    }

    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

/// Each named `async fn(Backend)` of the test file as two tests: `sim::<name>` on the simulator
/// pair and `real::<name>` on two real control planes (which fail, never skip, without them).
#[macro_export]
macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod sim {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::common::Backend::Sim).await
            })*
        }
        mod real {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::common::Backend::Real).await
            })*
        }
    };
}

/// Poll `check` until it returns `Some`, failing after `deadline` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_ok(what, deadline, || {
        let next = check();
        async move { next.await.ok_or_else(String::new) }
    })
    .await
}

/// Poll `check` until it returns `Ok`, failing after `deadline` with `what` and the last error.
pub async fn eventually_ok<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(v) => return v,
            Err(e) => e,
        };
        let last = if last.is_empty() { last } else { format!(": {last}") };
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}{last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A virtual pod using a ConfigMap volume, a Secret env var and the service-account token.
pub fn web_pod(name: &str, configmap: &str, secret: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": "default", "labels": { "app": "web" } },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "nginx",
                "env": [{ "name": "PASSWORD", "valueFrom": { "secretKeyRef": { "name": secret, "key": "password" } } }],
                "volumeMounts": [{ "name": "config", "mountPath": "/config" }]
            }],
            "volumes": [
                { "name": "config", "configMap": { "name": configmap } },
                { "name": "kube-api-access", "projected": { "sources": [
                    { "serviceAccountToken": { "path": "token", "expirationSeconds": 3607 } }
                ] } }
            ]
        }
    }))
    .unwrap()
}

pub async fn create<K>(client: &Client, namespace: &str, obj: &K) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    Api::<K>::namespaced(client.clone(), namespace).create(&Default::default(), obj).await.unwrap()
}

pub fn configmap(name: &str, value: &str) -> k8s_openapi::api::core::v1::ConfigMap {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": "default" },
        "data": { "value": value }
    }))
    .unwrap()
}

pub fn secret(name: &str) -> k8s_openapi::api::core::v1::Secret {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": name, "namespace": "default" },
        "stringData": { "password": "s3cret" }
    }))
    .unwrap()
}

pub const DEADLINE: Duration = Duration::from_secs(30);

/// `json["a"]["b"]` as a str.
pub fn s<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(|v| v.as_str())
}

/// A pod of one container with the named ports `http` (8080) and `pg` (5432).
pub fn pod_value(namespace: &str, name: &str, labels: Value) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": {"containers": [{"name": "c", "image": "nginx",
                    "ports": [{"name": "http", "containerPort": 8080}, {"name": "pg", "containerPort": 5432}]}]}})
}

/// Host pods that are not the vcluster's own: another vcluster's `web` (in the vcluster's host
/// namespace and in its own, `vcluster-other`), a plain host pod labelled app=web in the
/// vcluster's namespace, one in `my-host-namespace`.
pub fn foreign_host_pods() -> Vec<Value> {
    let other = |ns: &str| {
        pod_value(
            ns,
            "web-x-default-x-other",
            serde_json::json!({"vcluster.loft.sh/managed-by": "other", "vcluster.loft.sh/namespace": "default",
                   "vcluster.loft.sh/label-other-x-a172cedcae": "web"}),
        )
    };
    vec![
        other(HOST_NS),
        other("vcluster-other"),
        pod_value(HOST_NS, "intruder", serde_json::json!({"app": "web"})),
        pod_value("my-host-namespace", "outside", serde_json::json!({"app": "web"})),
    ]
}

/// The `coredns.yaml` key of the `<release>-coredns` ConfigMap the chart renders by default,
/// read from the CLI's render snapshot (tests/snapshots/render__defaults.snap at the root).
pub fn coredns_bundle() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/snapshots/render__defaults.snap");
    let text = std::fs::read_to_string(&path).unwrap();
    // The insta header is the first document.
    let body = text.splitn(3, "---\n").nth(2).unwrap();
    let docs: Vec<Value> = serde_saphyr::from_multiple(body).unwrap();
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"].as_str().is_some_and(|n| n.ends_with("-coredns")))
        .expect("the chart renders <release>-coredns");
    cm["data"]["coredns.yaml"].as_str().unwrap().to_owned()
}
