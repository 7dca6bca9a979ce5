//! kube-sim: an in-process and standalone simulator of kube-apiserver 1.33 on the wire.
//! Test support only; the release `vcluster` binary contains none of it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kube_sim::SimError> {
//! let sim = kube_sim::Simulator::start().await?;
//! sim.seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n")?;
//! let client = sim.client().await?;
//! // ... drive the code under test with `client` or `sim.kubeconfig_path()` ...
//! assert!(sim.requests().iter().all(|r| !r.is_write()));
//! sim.stop().await;
//! # Ok(()) }
//! ```

pub mod merge;

mod cluster;
mod defaults;
mod discovery;
mod jsonpath;
mod lifecycle;
mod openapi;
mod protobuf;
mod query;
mod resources;
mod schema;
mod selectors;
mod server;
mod services;
mod status;
mod store;
mod table;
mod util;
mod validation;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch as tokio_watch};
use tokio::task::JoinHandle;

pub use server::RequestRecord;

use cluster::{Cluster, FieldValidation, Sub, WriteOpts};
use server::Shared;
use services::{Cidr, ServiceNetwork};

/// How a simulator instance behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// What `/version` reports (`v1.33.1`); its minor selects version-dependent behaviour.
    pub git_version: String,
    /// Service CIDRs, primary first; two (one per family) make the cluster dual-stack.
    pub service_cidrs: Vec<String>,
    /// The NodePort range (`--service-node-port-range`).
    pub node_port_range: (u16, u16),
    /// How often a watch with `allowWatchBookmarks` receives a bookmark.
    pub bookmark_interval: Duration,
    /// Events kept for watch resumption before the oldest are compacted away.
    pub history_limit: usize,
    /// Where to write the kubeconfig; None: a temporary directory the simulator removes.
    pub kubeconfig: Option<PathBuf>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            git_version: "v1.33.1".into(),
            service_cidrs: vec!["10.96.0.0/12".into()],
            node_port_range: (30000, 32767),
            bookmark_interval: Duration::from_secs(5),
            history_limit: 100_000,
            kubeconfig: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("cannot write the kubeconfig {path}: {source}")]
    Kubeconfig { path: PathBuf, source: std::io::Error },
    #[error("cannot seed objects: {0}")]
    Seed(String),
    #[error("cannot build a client for the simulator: {0}")]
    Client(String),
}

/// A running simulator. Dropping it stops serving; `stop` also waits for the tasks to end.
pub struct Simulator {
    shared: Arc<Shared>,
    url: String,
    kubeconfig: PathBuf,
    _dir: Option<tempfile::TempDir>,
    tasks: Vec<JoinHandle<()>>,
    /// The simulator's own runtime when started with [`Simulator::start_blocking`].
    runtime: Option<tokio::runtime::Runtime>,
}

/// The field manager of objects the cluster's own components create at start.
const APISERVER_MANAGER: &str = "kube-apiserver";
/// The field manager of objects seeded by tests.
const SEED_MANAGER: &str = "kube-sim-seed";

impl Simulator {
    /// Start with the default configuration on a free port.
    pub async fn start() -> Result<Simulator, SimError> {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Result<Simulator, SimError> {
        let cidrs = config
            .service_cidrs
            .iter()
            .map(|c| Cidr::parse(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SimError::Config)?;
        if cidrs.is_empty() || cidrs.len() > 2 || (cidrs.len() == 2 && cidrs[0].family() == cidrs[1].family()) {
            return Err(SimError::Config("service CIDRs: one, or one IPv4 and one IPv6".into()));
        }
        let minor =
            config.git_version.trim_start_matches('v').split('.').nth(1).and_then(|m| m.parse().ok()).ok_or_else(
                || SimError::Config(format!("version {:?} is not vMAJOR.MINOR.PATCH", config.git_version)),
            )?;
        let network = ServiceNetwork { cidrs, node_ports: config.node_port_range, minor };
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| SimError::Listen { port: config.port, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Listen { port: config.port, source })?;
        let url = format!("http://{addr}");
        let (watch_epoch, _) = tokio_watch::channel(0u64);
        let shared = Arc::new(Shared {
            cluster: Mutex::new(Cluster::new(network.clone(), config.history_limit)),
            requests: Mutex::new(Vec::new()),
            controllers: Notify::new(),
            openapi: openapi::OpenApi::build(&config.git_version),
            git_version: config.git_version.clone(),
            server_address: Mutex::new(addr.to_string()),
            watch_epoch,
            bookmark_interval: config.bookmark_interval,
        });
        bootstrap(&mut shared.lock(), &network, addr.port()).map_err(SimError::Seed)?;
        let (dir, kubeconfig) = match &config.kubeconfig {
            Some(path) => (None, path.clone()),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("kube-sim-")
                    .tempdir()
                    .map_err(|source| SimError::Kubeconfig { path: std::env::temp_dir(), source })?;
                let path = dir.path().join("kubeconfig");
                (Some(dir), path)
            }
        };
        write_kubeconfig(&kubeconfig, &url)
            .map_err(|source| SimError::Kubeconfig { path: kubeconfig.clone(), source })?;
        let tasks = vec![tokio::spawn(serve(listener, shared.clone())), tokio::spawn(run_controllers(shared.clone()))];
        shared.controllers.notify_one();
        Ok(Simulator { shared, url, kubeconfig, _dir: dir, tasks, runtime: None })
    }

    /// Start on a runtime of its own, for synchronous tests that block their thread (running
    /// the CLI with `assert_cmd`, `std::process`). Call it outside any async runtime.
    pub fn start_blocking(config: SimConfig) -> Result<Simulator, SimError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kube-sim")
            .enable_all()
            .build()
            .map_err(|e| SimError::Config(format!("cannot start the simulator's runtime: {e}")))?;
        let mut sim = runtime.block_on(Self::start_with(config))?;
        sim.runtime = Some(runtime);
        Ok(sim)
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A kubeconfig (mode 0600) whose current context points at the simulator.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kube client configured from the simulator's kubeconfig.
    pub async fn client(&self) -> Result<kube::Client, SimError> {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).map_err(|e| SimError::Client(e.to_string()))?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| SimError::Client(e.to_string()))?;
        kube::Client::try_from(config).map_err(|e| SimError::Client(e.to_string()))
    }

    /// Create the objects of a (multi-document) YAML text through the same pipeline as a
    /// POST (validation, defaulting, allocation); a `status` given in the YAML is then written
    /// through the status subresource. Returns the stored objects.
    pub fn seed_yaml(&self, yaml: &str) -> Result<Vec<Value>, SimError> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).map_err(|e| SimError::Seed(e.to_string()))?;
        let mut cluster = self.shared.lock();
        let mut out = Vec::new();
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            out.push(seed_one(&mut cluster, doc).map_err(SimError::Seed)?);
        }
        drop(cluster);
        self.shared.controllers.notify_one();
        Ok(out)
    }

    /// Every stored object (with apiVersion and kind), in storage order.
    pub fn snapshot(&self) -> Vec<Value> {
        self.shared.lock().snapshot()
    }

    /// The stored objects of one kind (`apps/v1`, `StatefulSet`).
    pub fn objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        self.snapshot()
            .into_iter()
            .filter(|o| {
                o.get("apiVersion").and_then(Value::as_str) == Some(api_version)
                    && o.get("kind").and_then(Value::as_str) == Some(kind)
            })
            .collect()
    }

    /// One stored object (namespace "" for cluster-scoped kinds).
    pub fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let res = resources::find_kind(api_version, kind)?;
        self.shared.lock().get(res, namespace, name).ok().map(|o| (*o).clone())
    }

    /// The global resourceVersion (etcd revision) now.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().store.resource_version()
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn clear_requests(&self) {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Test control: compact the history, so that a watch or an exact list at any older
    /// resourceVersion gets `410 Gone` (`too old resource version`).
    pub fn compact(&self) {
        self.shared.lock().store.compact();
    }

    /// Test control: end every open watch stream (clients see the connection close).
    pub fn drop_watches(&self) {
        self.shared.watch_epoch.send_modify(|e| *e += 1);
    }

    /// Stop serving and wait for the tasks to end.
    pub async fn stop(mut self) {
        self.shutdown();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }

    fn shutdown(&self) {
        self.drop_watches();
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The objects a fresh kube-apiserver creates: the four system namespaces and the
/// `default/kubernetes` Service with its Endpoints and EndpointSlice
/// (pkg/controlplane/controller/{systemnamespaces,kubernetesservice}).
fn bootstrap(cluster: &mut Cluster, network: &ServiceNetwork, port: u16) -> Result<(), String> {
    let opts = WriteOpts { dry_run: false, manager: APISERVER_MANAGER.into(), validation: FieldValidation::Strict };
    let ns_res = resources::find("", "v1", "namespaces").expect("served");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        cluster.create(ns_res, "", json!({ "metadata": { "name": ns } }), &opts).map_err(|e| e.message)?;
    }
    let first_ip = network.cidrs[0].nth(1).to_string();
    let objects = [
        (
            ("", "services"),
            json!({
                "metadata": { "name": "kubernetes", "labels": { "component": "apiserver", "provider": "kubernetes" } },
                "spec": { "clusterIP": first_ip, "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443 }], "type": "ClusterIP" }
            }),
        ),
        (
            ("", "endpoints"),
            json!({
                "metadata": { "name": "kubernetes", "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" } },
                "subsets": [{ "addresses": [{ "ip": "127.0.0.1" }], "ports": [{ "name": "https", "port": port, "protocol": "TCP" }] }]
            }),
        ),
        (
            ("discovery.k8s.io", "endpointslices"),
            json!({
                "metadata": { "name": "kubernetes", "labels": { "kubernetes.io/service-name": "kubernetes" } },
                "addressType": "IPv4",
                "endpoints": [{ "addresses": ["127.0.0.1"], "conditions": { "ready": true } }],
                "ports": [{ "name": "https", "port": port, "protocol": "TCP" }]
            }),
        ),
    ];
    for ((group, plural), body) in objects {
        let res = resources::find(group, "v1", plural).expect("served");
        cluster.create(res, "default", body, &opts).map_err(|e| e.message)?;
    }
    Ok(())
}

fn seed_one(cluster: &mut Cluster, doc: Value) -> Result<Value, String> {
    let api_version = doc.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
    let res = resources::find_kind(api_version, kind)
        .ok_or_else(|| format!("kind {api_version}/{kind} is not served by kube-sim"))?;
    let ns = doc.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
    let opts = WriteOpts { dry_run: false, manager: SEED_MANAGER.into(), validation: FieldValidation::Strict };
    let status = doc.get("status").cloned();
    let name = doc.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let created = cluster.create(res, &ns, doc, &opts).map_err(|e| e.message)?.object;
    match status {
        Some(status) if resources::by_id(res).has_status() => {
            let mut with_status = created;
            with_status["status"] = status;
            let name = if name.is_empty() { jsonpath::name(&with_status).to_string() } else { name };
            cluster.update(res, &ns, &name, with_status, Sub::Status, &opts).map(|w| w.object).map_err(|e| e.message)
        }
        _ => Ok(created),
    }
}

/// Write the kubeconfig atomically (a temporary file renamed into place), mode 0600.
fn write_kubeconfig(path: &Path, url: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n    server: {url}\ncontexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n    namespace: default\ncurrent-context: kube-sim\npreferences: {{}}\nusers:\n- name: kube-sim\n  user: {{}}\n"
    );
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".kubeconfig-").tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| server::handle(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

/// The garbage collector and namespace controller, woken after every write.
async fn run_controllers(shared: Arc<Shared>) {
    loop {
        shared.controllers.notified().await;
        loop {
            let changed = lifecycle::reconcile(&mut shared.lock());
            if !changed {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
