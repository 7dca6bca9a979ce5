//! kube-sim: an in-process and standalone simulator of kube-apiserver 1.33 on the wire.
//! Test support only; the release `vcluster` binary contains none of it.
//!
//! Paths cited in comments (`pkg/…`, `staging/src/k8s.io/…`, `plugin/…`, `cmd/…`) are files of
//! kubernetes/kubernetes at tag v1.33.1 unless a comment names another project (vcluster,
//! containerd, moby/spdystream, sigs.k8s.io/structured-merge-diff, evanphx/json-patch).
//!
//! Modules, lowest first: `model` (the API's vocabulary: resources, schema, Status errors,
//! selectors, name rules, options, query parameters), `registry` (the object store and the
//! REST operations), `admission` (defaults, allocation, validation), `controllers` (garbage
//! collection, namespaces, the workload mode), `auth` (authentication, impersonation, authorization: forbid rules and RBAC, TLS),
//! `api` (discovery, OpenAPI, Tables, protobuf bodies), `http` (routing, watch,
//! port-forward, faults); `merge` is the merge engine and `fixtures` stand-ins built on the
//! public API.
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

pub mod fixtures;
pub mod merge;

mod admission;
mod api;
mod auth;
mod controllers;
mod error;
mod handle;
mod http;
mod model;
mod registry;
mod shared;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch as tokio_watch};
use tokio::task::JoinHandle;

pub use auth::tls::CertifiedKey;
pub use auth::{Forbid, Subject, UserInfo};
pub use controllers::workloads::{PodHold, PodMatch, Workloads};
pub use error::SimError;
pub use handle::{Changes, SimHandle};
pub use http::faults::{Fault, FaultAction, FaultMatch};
pub use http::portforward::FORWARD_ANNOTATION;
pub use shared::RequestRecord;

use admission::services::{Cidr, ServiceNetwork};
use controllers::{lifecycle, workloads};
use model::jsonpath;
use model::options::{DeleteOpts, FieldValidation, Sub, WriteOpts};
use model::{resources, util};
use registry::Cluster;
use shared::Shared;

/// The user the simulator's own kubeconfig authenticates as (kubeadm's admin identity).
pub const ADMIN_USER: &str = "kubernetes-admin";
/// The group of [`ADMIN_USER`].
pub const ADMIN_GROUP: &str = "kubeadm:cluster-admins";

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
    /// Serve HTTPS with a generated CA; the kubeconfig then carries a client certificate.
    /// Off: plain HTTP, the kubeconfig carries a bearer token.
    pub tls: bool,
    /// Extra subject alternative names of the serving certificate (127.0.0.1, localhost and
    /// the `kubernetes` Service names are always there).
    pub tls_sans: Vec<String>,
    /// Answer requests without credentials with 401 (kube-apiserver `--anonymous-auth=false`).
    pub reject_anonymous: bool,
    /// The scheduler, kubelet and workload controllers (off unless enabled).
    pub workloads: Workloads,
    /// A control plane without nodes, as k3s runs inside a vcluster: kube-controller-manager's
    /// controllers run (Deployments, ReplicaSets, StatefulSets, Endpoints and EndpointSlices,
    /// PVC protection; garbage collection, namespaces and service accounts always do), but no
    /// scheduler, no kubelet and no Node. Pods stay Pending until a client binds them
    /// (`pods/binding` or a create with `spec.nodeName`); their status is what clients write
    /// through `pods/status`. `workloads` (its delays and holds) then does not apply.
    pub control_plane_only: bool,
    /// Authorize with RBAC over the stored roles and bindings (kube-apiserver
    /// `--authorization-mode=Node,RBAC`, kubeadm's setup): the bootstrap ClusterRoles and
    /// ClusterRoleBindings are created at start, `system:masters` and the admin's
    /// `kubeadm:cluster-admins` may do everything, other users what their bindings grant.
    /// Off: everything a forbid rule does not deny is allowed.
    pub rbac: bool,
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
            tls: false,
            tls_sans: Vec::new(),
            reject_anonymous: false,
            workloads: Workloads::default(),
            control_plane_only: false,
            rbac: false,
        }
    }
}

/// A running simulator. Dropping it stops serving; `stop` also waits for the tasks to end.
pub struct Simulator {
    pub(crate) shared: Arc<Shared>,
    url: String,
    addr: SocketAddr,
    kubeconfig: PathBuf,
    _dir: Option<tempfile::TempDir>,
    /// The accept loop (None while not listening).
    listener: Mutex<Option<JoinHandle<()>>>,
    /// The controllers and the tasks spawned beside the simulator (aborted when it stops).
    tasks: Mutex<Vec<JoinHandle<()>>>,
    pub(crate) handle: tokio::runtime::Handle,
    /// The simulator's own runtime when started with [`Simulator::start_blocking`].
    runtime: Option<tokio::runtime::Runtime>,
}

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
        let pki =
            if config.tls { Some(auth::tls::Pki::generate(&config.tls_sans).map_err(SimError::Tls)?) } else { None };
        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| SimError::Listen { port: config.port, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Listen { port: config.port, source })?;
        let url = format!("{}://{addr}", if pki.is_some() { "https" } else { "http" });
        let shared = Arc::new(Shared {
            cluster: Mutex::new(Cluster::new(network.clone(), config.history_limit)),
            workloads: Mutex::new(workloads::State::new(
                config.workloads.clone(),
                &config.git_version,
                config.control_plane_only,
            )),
            requests: Mutex::new(Vec::new()),
            controllers: Notify::new(),
            openapi: api::openapi::OpenApi::build(&config.git_version),
            git_version: config.git_version.clone(),
            server_address: Mutex::new(addr.to_string()),
            watch_epoch: tokio_watch::channel(0u64).0,
            watch_stall: tokio_watch::channel(false).0,
            connection_epoch: tokio_watch::channel(0u64).0,
            bookmark_interval: config.bookmark_interval,
            auth: auth::Auth::default(),
            faults: http::faults::Faults::default(),
            pki,
            forwards: Mutex::new(Default::default()),
        });
        shared.auth.set_reject_anonymous(config.reject_anonymous);
        shared.auth.set_rbac(config.rbac);
        shared.lock().graceful_pod_deletion = shared.lock_workloads().runs_controllers();
        shared.lock().root_ca = match &shared.pki {
            Some(pki) => pki.ca_pem().to_string(),
            None => auth::tls::generate_ca_pem().map_err(SimError::Tls)?,
        };
        let system = if config.rbac { auth::policy::bootstrap_objects() } else { Vec::new() };
        registry::bootstrap::bootstrap(&mut shared.lock(), &network, addr.port(), system).map_err(SimError::Seed)?;
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
        let handle = tokio::runtime::Handle::current();
        let sim = Simulator {
            listener: Mutex::new(Some(tokio::spawn(http::listener::serve(listener, shared.clone())))),
            tasks: Mutex::new(vec![tokio::spawn(run_controllers(shared.clone()))]),
            shared,
            url,
            addr,
            kubeconfig,
            _dir: dir,
            handle,
            runtime: None,
        };
        let text = sim.kubeconfig_for(ADMIN_USER, &[ADMIN_GROUP])?;
        write_atomically(&sim.kubeconfig, &text)
            .map_err(|source| SimError::Kubeconfig { path: sim.kubeconfig.clone(), source })?;
        sim.shared.controllers.notify_one();
        Ok(sim)
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

    /// Run an async test control (`stop_listening`, `resume_listening`) from a
    /// synchronous test, on the runtime of a simulator started with
    /// [`Simulator::start_blocking`]. Panics for a simulator started on the caller's runtime
    /// (await the control there instead).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.as_ref().expect("block_on needs a simulator started with start_blocking").block_on(future)
    }

    /// `http://127.0.0.1:<port>`, or `https://…` with TLS.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The address the simulator listens on.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig (mode 0600) whose current context points at the simulator as
    /// [`ADMIN_USER`].
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kube client configured from the simulator's kubeconfig.
    pub async fn client(&self) -> Result<kube::Client, SimError> {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).map_err(|e| SimError::Client(e.to_string()))?;
        client_from(kubeconfig).await
    }

    /// A kube client authenticating as `user` with `groups` (see [`Simulator::kubeconfig_for`]).
    pub async fn client_for(&self, user: &str, groups: &[&str]) -> Result<kube::Client, SimError> {
        let text = self.kubeconfig_for(user, groups)?;
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&text).map_err(|e| SimError::Client(e.to_string()))?;
        client_from(kubeconfig).await
    }

    /// The text of a kubeconfig for this simulator authenticating as `user` with `groups`:
    /// with TLS a client certificate signed by the simulator's CA (for at most one group),
    /// otherwise a bearer token registered for that identity.
    pub fn kubeconfig_for(&self, user: &str, groups: &[&str]) -> Result<String, SimError> {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let cluster = match &self.shared.pki {
            Some(pki) => format!("    certificate-authority-data: {}\n", b64(pki.ca_pem())),
            None => String::new(),
        };
        let credentials = match &self.shared.pki {
            Some(pki) if groups.len() <= 1 => {
                let cert = pki.issue_client(user, groups).map_err(SimError::Tls)?;
                format!(
                    "    client-certificate-data: {}\n    client-key-data: {}\n",
                    b64(&cert.cert_pem),
                    b64(&cert.key_pem)
                )
            }
            _ => {
                let token = util::new_uid().replace('-', "");
                self.shared.auth.add_token(&token, UserInfo::authenticated(user, groups));
                format!("    token: {token}\n")
            }
        };
        Ok(format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n{cluster}    server: {}\ncontexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: {user}\n    namespace: default\ncurrent-context: kube-sim\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n{credentials}",
            self.url
        ))
    }

    /// The CA certificate (PEM) clients trust, with TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.shared.pki.as_ref().map(|p| p.ca_pem())
    }

    /// A client certificate (CN `user`, O `groups`) signed by the simulator's CA (TLS only).
    pub fn issue_client_certificate(&self, user: &str, groups: &[&str]) -> Result<CertifiedKey, SimError> {
        let pki = self.shared.pki.as_ref().ok_or_else(|| SimError::Tls("the simulator serves plain HTTP".into()))?;
        pki.issue_client(user, groups).map_err(SimError::Tls)
    }

    /// Register a static bearer token authenticating as `user` with `groups`.
    pub fn add_token(&self, token: &str, user: &str, groups: &[&str]) {
        self.shared.auth.add_token(token, UserInfo::authenticated(user, groups));
    }

    /// Deny what `rule` names (403 with kube-apiserver's message; the reviews agree).
    pub fn forbid(&self, rule: Forbid) {
        self.shared.auth.forbid(rule);
    }

    pub fn clear_forbids(&self) {
        self.shared.auth.clear_forbids();
    }

    /// Answer requests without credentials with 401 (or accept them as `system:anonymous`).
    pub fn set_reject_anonymous(&self, reject: bool) {
        self.shared.auth.set_reject_anonymous(reject);
    }

    /// Port-forwards to `port` of the pod `namespace/pod` reach `address` (`127.0.0.1:PORT`).
    /// The mapping outlives the pod: a replacement with the same name is reached the same way.
    pub fn forward_port(&self, namespace: &str, pod: &str, port: u16, address: &str) {
        self.handle().forward_port(namespace, pod, port, address);
    }

    /// A handle for software running beside the simulator (see [`SimHandle`]).
    pub fn handle(&self) -> SimHandle {
        SimHandle { shared: Arc::downgrade(&self.shared) }
    }

    /// Run `task` beside the simulator, on its runtime; it is aborted when the simulator stops.
    pub fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = self.handle.spawn(task);
        let mut tasks = self.tasks.lock().unwrap_or_else(|p| p.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    /// Inject a fault (see [`Fault`]); faults apply in the order injected.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults.inject(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Test control: open watches stop delivering anything (events are kept, not lost).
    pub fn stall_watches(&self) {
        self.shared.watch_stall.send_replace(true);
    }

    /// Test control: stalled watches deliver what they held back and continue.
    pub fn resume_watches(&self) {
        self.shared.watch_stall.send_replace(false);
    }

    /// Test control: close the listening socket and every open connection (watches,
    /// port-forwards); clients see connection refused until [`Simulator::resume_listening`].
    pub async fn stop_listening(&self) {
        let task = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        self.shared.connection_epoch.send_modify(|e| *e += 1);
    }

    /// Listen again on the same address (state is kept).
    pub async fn resume_listening(&self) -> Result<(), SimError> {
        let listener =
            TcpListener::bind(self.addr).await.map_err(|source| SimError::Listen { port: self.addr.port(), source })?;
        let task = self.handle.spawn(http::listener::serve(listener, self.shared.clone()));
        if let Some(old) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).replace(task) {
            old.abort();
        }
        Ok(())
    }

    /// Change the workload mode (switch it on or off, change its delays); takes effect at once.
    pub fn update_workloads(&self, change: impl FnOnce(&mut Workloads)) {
        let mut cluster = self.shared.lock();
        let mut state = self.shared.lock_workloads();
        change(&mut state.config);
        state.resync();
        cluster.graceful_pod_deletion = state.runs_controllers();
        drop((state, cluster));
        self.shared.controllers.notify_one();
    }

    /// Test control: hold the matching pods (present and future) in a state, with the status
    /// and events the kubelet or scheduler reports for it, until released.
    pub fn hold_pods(&self, pods: PodMatch, hold: PodHold) {
        self.shared.lock_workloads().hold(pods, hold);
        self.shared.controllers.notify_one();
    }

    /// Test control: release the hold set with an equal match; the pods carry on.
    pub fn release_pods(&self, pods: &PodMatch) {
        self.shared.lock_workloads().release(pods);
        self.shared.controllers.notify_one();
    }

    /// Test control: delete a pod at once (as `kubectl delete --force --grace-period=0`),
    /// so that its controller replaces it (a StatefulSet's under the same name, a
    /// ReplicaSet's under a new one).
    pub fn replace_pod(&self, namespace: &str, name: &str) -> Result<(), SimError> {
        let pods = resources::find("", "v1", "pods").expect("served");
        let opts = DeleteOpts { grace_period: Some(0), ..Default::default() };
        self.shared.lock().delete(pods, namespace, name, &opts).map_err(|e| SimError::Control(e.message))?;
        self.shared.controllers.notify_one();
        Ok(())
    }

    /// Test control: what a cloud controller writes for a LoadBalancer Service:
    /// `status.loadBalancer.ingress` with an entry per IP (`ipMode: VIP`) or hostname.
    pub fn set_load_balancer_ingress(
        &self,
        namespace: &str,
        service: &str,
        addresses: &[&str],
    ) -> Result<(), SimError> {
        let services = resources::find("", "v1", "services").expect("served");
        let ingress: Vec<Value> = addresses
            .iter()
            .map(|a| match a.parse::<std::net::IpAddr>() {
                Ok(_) => json!({ "ip": a, "ipMode": "VIP" }),
                Err(_) => json!({ "hostname": a }),
            })
            .collect();
        let mut cluster = self.shared.lock();
        let mut svc = (*cluster.get(services, namespace, service).map_err(|e| SimError::Control(e.message))?).clone();
        svc["status"] = json!({ "loadBalancer": { "ingress": ingress } });
        jsonpath::object_at(&mut svc, &["metadata"]).remove("resourceVersion");
        let opts = WriteOpts {
            dry_run: false,
            manager: "cloud-controller-manager".into(),
            validation: FieldValidation::Ignore,
        };
        cluster
            .update(services, namespace, service, svc, Sub::Status, &opts)
            .map_err(|e| SimError::Control(e.message))?;
        drop(cluster);
        self.shared.controllers.notify_one();
        Ok(())
    }

    /// Create the objects of a (multi-document) YAML text through the same pipeline as a
    /// POST (validation, defaulting, allocation); a `status` given in the YAML is then written
    /// through the status subresource. Returns the stored objects.
    pub fn seed_yaml(&self, yaml: &str) -> Result<Vec<Value>, SimError> {
        let docs: Vec<Value> = serde_saphyr::from_multiple(yaml).map_err(|e| SimError::Seed(e.to_string()))?;
        let mut cluster = self.shared.lock();
        let mut out = Vec::new();
        for doc in docs.into_iter().filter(|d| !d.is_null()) {
            out.push(registry::bootstrap::seed_one(&mut cluster, doc).map_err(SimError::Seed)?);
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
        self.handle().objects(api_version, kind)
    }

    /// One stored object (namespace "" for cluster-scoped kinds).
    pub fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.handle().object(api_version, kind, namespace, name)
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
    pub async fn stop(self) {
        self.shutdown();
        let listener = self.listener.lock().unwrap_or_else(|p| p.into_inner()).take();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks.into_iter().chain(listener) {
            let _ = t.await;
        }
    }

    fn shutdown(&self) {
        self.drop_watches();
        self.shared.connection_epoch.send_modify(|e| *e += 1);
        for t in self.tasks.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            t.abort();
        }
        if let Some(t) = self.listener.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
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

async fn client_from(kubeconfig: kube::config::Kubeconfig) -> Result<kube::Client, SimError> {
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| SimError::Client(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| SimError::Client(e.to_string()))
}

/// Write a file atomically (a temporary file renamed into place), mode 0600.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
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

/// The controllers (garbage collector, namespace controller, and the workload mode's),
/// woken after every write and when a timed workload step is due; each round runs passes
/// until nothing changes.
async fn run_controllers(shared: Arc<Shared>) {
    let mut wake: Option<tokio::time::Instant> = None;
    let mut collector = controllers::cursor::Cursor::default();
    loop {
        match wake {
            Some(at) => tokio::select! {
                _ = shared.controllers.notified() => {}
                _ = tokio::time::sleep_until(at) => {}
            },
            None => shared.controllers.notified().await,
        }
        loop {
            let (changed, next) = {
                let mut cluster = shared.lock();
                let collected = lifecycle::reconcile(&mut cluster, &mut collector);
                let pass = workloads::reconcile(&mut cluster, &mut shared.lock_workloads());
                (collected || pass.changed, pass.wake)
            };
            wake = next.map(tokio::time::Instant::from_std);
            if !changed {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
}
