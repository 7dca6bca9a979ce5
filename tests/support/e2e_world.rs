//! The world of the end-to-end suite (`tests/e2e.rs`): a real Kubernetes cluster and what the
//! tests need around it.
//!
//! By default it is the real control plane of `crates/control-plane` (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler v1.33.13 and kwok), started once per test process
//! with an audit log, plus a second instance without nodes playing the virtual cluster's API
//! server (what k3s runs in the vcluster pod). When it cannot be built or started, every test
//! fails; nothing is skipped. `VCLUSTER_E2E_KUBECONFIG=/path/to/kubeconfig` points the same
//! suite at any other cluster instead (a real syncer then writes `vc-<name>`, a provisioner
//! binds the claims; what needs kwok or the audit log is left out there, saying so).
#![allow(dead_code)]

#[path = "workspace_bin.rs"]
mod workspace_bin;

#[path = "basics.rs"]
mod basics;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use basics::{Run, eventually};
use control_plane::{ControlPlane, Options};
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::{Discovery, Scope, verbs};
use serde_json::{Value, json};

/// Points the suite at another cluster.
pub const ENV: &str = "VCLUSTER_E2E_KUBECONFIG";
/// The port the syncer serves the virtual API on in the vcluster pod (the chart's
/// `--port`, and the `https://localhost:8443` of the Secret `vc-<name>`).
pub const VIRTUAL_API_PORT: u16 = 8443;

/// What requests are recorded in the control plane's audit log: everything but the cluster's
/// own components (their service accounts, kwok, the scheduler), at `Metadata` level, once
/// the response is complete (watches also when it started).
const AUDIT_POLICY: &str = r#"apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:kube-controller-manager", "system:kube-scheduler", "kwok-controller", "system:apiserver"]
- level: None
  userGroups: ["system:serviceaccounts", "system:nodes"]
- level: Metadata
"#;

enum Kind {
    ControlPlane { host: Box<ControlPlane>, virt: Box<ControlPlane>, audit_log: PathBuf, virt_admin: PathBuf },
    External,
}

pub struct World {
    kind: Kind,
    /// The admin kubeconfig of the host cluster.
    pub kubeconfig: PathBuf,
    /// Home of the CLI and kubectl caches (kept for the process's life).
    pub dir: tempfile::TempDir,
    /// Distinguishes names made in this process (a real cluster outlives test runs).
    pub suffix: String,
    counter: AtomicU64,
}

/// The world's folder in the temporary directory: `vcluster-e2e-<pid>-XXXXXX`.
const DIR_PREFIX: &str = "vcluster-e2e-";

fn sweep_folders_of_ended_processes() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.map_while(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(DIR_PREFIX).and_then(|rest| rest.split_once('-')).map(|(pid, _)| pid) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

static WORLD: OnceLock<Result<World, String>> = OnceLock::new();

/// The world, started by the first test that asks; a failed start fails every test.
pub fn world() -> &'static World {
    match WORLD.get_or_init(World::start) {
        Ok(world) => world,
        Err(e) => panic!("the end-to-end suite needs a real cluster and has none:\n{e}"),
    }
}

/// Run a future on a runtime of its own (plain `#[test]`s talking to the cluster directly).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

pub fn output(command: &mut Command) -> Run {
    let out = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{command:?} cannot run: {e}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl World {
    fn start() -> Result<World, String> {
        // The world lives in a static, never dropped: its folder is named after the process, and
        // the folders of processes that ended are removed here.
        sweep_folders_of_ended_processes();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| e.to_string())?;
        let suffix = format!(
            "{:x}",
            std::process::id() ^ (std::time::UNIX_EPOCH.elapsed().unwrap_or_default().as_secs() as u32)
        );
        let kind = match std::env::var_os(ENV).filter(|v| !v.is_empty()) {
            Some(path) => {
                let world =
                    World { kind: Kind::External, kubeconfig: PathBuf::from(path), dir, suffix, counter: 0.into() };
                world.check_kubectl();
                return Ok(world);
            }
            None => {
                let policy = dir.path().join("audit-policy.yaml");
                std::fs::write(&policy, AUDIT_POLICY).map_err(|e| e.to_string())?;
                let audit_log = dir.path().join("audit.log");
                let host_options = Options::host()
                    .arg("kube-apiserver", &format!("--audit-policy-file={}", policy.display()))
                    .arg("kube-apiserver", &format!("--audit-log-path={}", audit_log.display()))
                    .arg("kube-apiserver", "--audit-log-format=json")
                    .arg("kube-apiserver", "--audit-log-mode=blocking");
                // Both at once: each takes several seconds.
                let virt = std::thread::spawn(|| ControlPlane::start_blocking(&Options::virtual_cluster()));
                let host = ControlPlane::start_blocking(&host_options).map_err(|e| format!("host: {e}"))?;
                let virt = virt.join().map_err(|_| "the start-up thread panicked".to_string())?;
                let virt = virt.map_err(|e| format!("virtual cluster: {e}"))?;
                // What k3s's admin kubeconfig is, and the syncer copies into `vc-<name>`.
                let virt_admin = virt.kubeconfig_for("system:admin", &["system:masters"]).map_err(|e| e.to_string())?;
                Kind::ControlPlane { audit_log, virt_admin, host: Box::new(host), virt: Box::new(virt) }
            }
        };
        let kubeconfig = match &kind {
            Kind::ControlPlane { host, .. } => host.kubeconfig_path().to_path_buf(),
            Kind::External => unreachable!(),
        };
        let world = World { kind, kubeconfig, dir, suffix, counter: 0.into() };
        world.check_kubectl();
        Ok(world)
    }

    /// The machine's kubectl is a dispatcher picking the client by the server's version: the
    /// tests speak to kubectl 1.33.
    fn check_kubectl(&self) {
        let run = self.kubectl(&self.kubeconfig, &self.dir.path().join("kubectl-version"), &["version", "-o", "json"]);
        run.succeeds();
        assert_eq!(run.json()["clientVersion"]["minor"], "33", "kubectl client is not 1.33: {}", run.stdout);
    }

    /// Whether this is the real control plane of `crates/control-plane` (kwok, audit log).
    pub fn is_control_plane(&self) -> bool {
        matches!(self.kind, Kind::ControlPlane { .. })
    }

    pub fn host(&self) -> Option<&ControlPlane> {
        match &self.kind {
            Kind::ControlPlane { host, .. } => Some(host),
            Kind::External => None,
        }
    }

    /// A name unique to this process: `<base>-<suffix>` (a DNS label).
    pub fn unique(&self, base: &str) -> String {
        format!("{base}-{}", self.suffix)
    }

    /// A fresh folder under the world's.
    pub fn fresh_dir(&self, label: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.path().join(format!("{label}-{n}"));
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    /// A kubeconfig for the CLI in one test: on the control plane a user of its own in
    /// `system:masters` (so the audit log tells its requests apart), else the admin's.
    pub fn admin_for(&self, test: &str) -> (PathBuf, String) {
        match &self.kind {
            Kind::ControlPlane { host, .. } => {
                let user = format!("e2e-{test}");
                (host.kubeconfig_for(&user, &["system:masters"]).unwrap(), user)
            }
            Kind::External => (self.kubeconfig.clone(), String::new()),
        }
    }

    /// A client of the host cluster as its admin.
    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig).await
    }

    pub fn kubectl(&self, kubeconfig: &Path, cache: &Path, args: &[&str]) -> Run {
        output(Command::new("kubectl").args(args).arg("--kubeconfig").arg(kubeconfig).arg("--cache-dir").arg(cache))
    }

    /// The CLI as a command: no terminal, a home of its own, `kubeconfig` as its host.
    pub fn vcluster_command(&self, home: &Path, kubeconfig: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vcluster"));
        cmd.args(args)
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env("NO_COLOR", "1")
            .current_dir(home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts what the syncer of vcluster `name` in `namespace` would do outside the pod: the
    /// syncer container cannot run on a kwok node, so the test stands in for it (on another
    /// cluster, the real syncer does this and nothing is started):
    /// - port 8443 of pod `<name>-0` leads to the virtual cluster's API server (kwok's
    ///   PortForward object), as the syncer serves it there;
    /// - once that pod runs, the test writes the Secret `vc-<name>` the syncer writes: the
    ///   virtual cluster's admin kubeconfig with server `https://localhost:8443`, owned by the
    ///   StatefulSet (`--set-owner`), written again when a new StatefulSet replaces it;
    /// - a PersistentVolume bound to the claim `data-<name>-0` (the control plane has no
    ///   storage provisioner), as a provisioner would make it.
    pub fn stand_in_for_syncer(&'static self, namespace: &str, name: &str) -> Option<StandIn> {
        let Kind::ControlPlane { host, virt, virt_admin, .. } = &self.kind else { return None };
        let target: SocketAddr = virt.url().trim_start_matches("https://").parse().unwrap();
        let config = syncer_kubeconfig(virt_admin);
        self.provide_volume(namespace, name);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let kubeconfig = self.kubeconfig.clone();
        let (namespace, name) = (namespace.to_owned(), name.to_owned());
        let thread = std::thread::spawn(move || {
            block_on(async move {
                let forward = Forward { host, target };
                tokio::select! {
                    _ = stopped => {}
                    () = keep_secret(&kubeconfig, &namespace, &name, &config, forward) => {}
                }
            });
        });
        Some(StandIn { stop: Some(stop), thread: Some(thread) })
    }

    /// A PersistentVolume bound to the claim `data-<name>-0` of vcluster `name` in `namespace`
    /// (the control plane has no storage provisioner), as a provisioner would make it.
    fn provide_volume(&self, namespace: &str, name: &str) {
        block_on(async {
            let pvs: Api<DynamicObject> = Api::all_with(self.client().await, &persistent_volume());
            let pv = json!({
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": format!("{namespace}-{name}"), "labels": {"e2e": "stand-in"}},
                "spec": {
                    "capacity": {"storage": "5Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": format!("/tmp/e2e/{namespace}/{name}")},
                    "claimRef": {"namespace": namespace, "name": format!("data-{name}-0")},
                },
            });
            let params = PatchParams::apply("e2e").force();
            pvs.patch(&format!("{namespace}-{name}"), &params, &Patch::Apply(pv)).await.unwrap();
        });
    }

    /// Runs, for the pod `<name>-0` of vcluster `name` in `namespace`, what its two containers
    /// run (control plane only; `None` on another cluster, where the pod really runs):
    /// - `vcluster` (k3s): a virtual control plane of its own (kube-apiserver and
    ///   kube-controller-manager, no scheduler, no nodes), its CAs and admin kubeconfig written
    ///   where k3s writes them under the pod's `/data`;
    /// - `syncer`: our `vcluster-syncer` binary, started once kwok runs the pod, with the
    ///   arguments and environment of the pod's `syncer` container (paths inside the pod moved
    ///   under a folder standing for its filesystem; port 8443 on a loopback address of the
    ///   pod's own, which kwok forwards the pod's 8443 to), the `<release>-coredns` ConfigMap
    ///   mounted as the chart mounts it, and the host reached as the pod's service account (a client certificate
    ///   with its user name, so the chart's RBAC applies); stopped (SIGTERM) when the pod is
    ///   deleted, as the kubelet stops a container.
    ///
    /// The claim `data-<name>-0` gets a volume as in [`World::stand_in_for_syncer`].
    ///
    /// `image` is the syncer image the pod must name: the harness runs our binary for no other.
    pub fn run_vcluster_pod(&'static self, namespace: &str, name: &str, image: &str) -> Option<VclusterPod> {
        let Kind::ControlPlane { host, .. } = &self.kind else { return None };
        let virt = ControlPlane::start_blocking(&Options::virtual_cluster())
            .unwrap_or_else(|e| panic!("the virtual cluster's control plane: {e}"));
        let root = self.fresh_dir(&format!("pod-{name}"));
        let tls = root.join("data/server/tls");
        let cred = root.join("data/server/cred");
        for dir in [&tls, &cred, &root.join("etc")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        // k3s's files the syncer reads (its defaults): the CA that signs the API server's
        // serving certificate (and so the syncer's on :8443), the client CA, the admin kubeconfig.
        std::fs::write(tls.join("server-ca.crt"), &virt.server_ca().cert_pem).unwrap();
        std::fs::write(tls.join("server-ca.key"), &virt.server_ca().key_pem).unwrap();
        std::fs::write(tls.join("client-ca.crt"), &virt.client_ca().cert_pem).unwrap();
        // No front proxy here: the syncer only needs the file to be there.
        std::fs::write(tls.join("request-header-ca.crt"), &virt.client_ca().cert_pem).unwrap();
        std::fs::copy(virt.kubeconfig_path(), cred.join("admin.kubeconfig")).unwrap();
        let admin = cred.join("admin.kubeconfig");
        // The pod's resolver file: the syncer puts its first nameserver into the Corefile's
        // `forward` (nothing in the tests resolves names through it).
        std::fs::write(root.join("etc/resolv.conf"), "nameserver 10.96.0.10\n").unwrap();
        self.provide_volume(namespace, name);
        let binary = workspace_bin::built("vcluster-syncer", "vcluster-syncer");
        let log = root.join("syncer.log");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let pod = PodSite {
            namespace: namespace.to_owned(),
            name: format!("{name}-0"),
            image: image.to_owned(),
            root: root.clone(),
            admin,
            log: log.clone(),
        };
        let kubeconfig = self.kubeconfig.clone();
        let thread = std::thread::spawn(move || {
            block_on(async move {
                let mut containers = Containers { host, kubeconfig, pod, binary, child: None, forward: None };
                tokio::select! {
                    _ = stopped => {}
                    () = containers.follow() => {}
                }
                containers.stop_syncer().await;
            });
        });
        Some(VclusterPod { virt: Some(virt), root, log, stop: Some(stop), thread: Some(thread) })
    }

    /// The audit log's requests of `user` so far (control plane only): every request the API
    /// server answered before this call was made. Another cluster has no audit log to read: the
    /// list is empty, and each check made on it is said not to be made.
    #[allow(clippy::print_stderr)] // what a test does not check, said where it runs
    pub fn audit(&self, user: &str) -> Vec<AuditEvent> {
        let Kind::ControlPlane { host, audit_log, .. } = &self.kind else {
            eprintln!("notice: no audit log on another cluster; a check of {user}'s requests is not made");
            return Vec::new();
        };
        // A request of the same user, marked, written after everything answered before it.
        let marker = format!("e2e-audit-marker-{}", self.counter.fetch_add(1, Ordering::Relaxed));
        let kubeconfig = host.kubeconfig_for(user, &["system:masters"]).unwrap();
        block_on(async {
            let api: Api<Secret> = Api::namespaced(client_for(&kubeconfig).await, "default");
            let _ = api.get_opt(&marker).await;
        });
        eventually(Duration::from_secs(20), "the audit log records the marker", || {
            let events = read_audit(audit_log);
            events.iter().any(|e| e.uri.contains(&marker)).then_some(events)
        })
        .into_iter()
        .filter(|e| e.user == user && !e.uri.contains("e2e-audit-marker-"))
        .collect()
    }

    pub fn audit_log(&self) -> Option<&Path> {
        match &self.kind {
            Kind::ControlPlane { audit_log, .. } => Some(audit_log),
            Kind::External => None,
        }
    }
}

/// The stand-in syncer of one vcluster, stopped when dropped.
pub struct StandIn {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The vcluster pod's containers of one test ([`World::run_vcluster_pod`]): the syncer is
/// stopped, then the virtual control plane, when dropped.
pub struct VclusterPod {
    virt: Option<ControlPlane>,
    /// The folder standing for the pod's filesystem.
    pub root: PathBuf,
    log: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl VclusterPod {
    /// The virtual cluster's admin kubeconfig (the API server itself, not through the syncer).
    pub fn virtual_admin(&self) -> &Path {
        self.virt.as_ref().expect("running").kubeconfig_path()
    }

    /// What the syncer printed so far (each start appends).
    pub fn syncer_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for VclusterPod {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        drop(self.virt.take());
    }
}

/// The user name the API server gives a service account's tokens
/// (`system:serviceaccount:<namespace>:<name>`), which RBAC bindings to it match.
pub fn service_account_user(namespace: &str, service_account: &str) -> String {
    format!("system:serviceaccount:{namespace}:{service_account}")
}

/// Where one vcluster pod's containers run.
struct PodSite {
    namespace: String,
    name: String,
    /// The syncer image this harness stands for.
    image: String,
    root: PathBuf,
    /// The virtual cluster's admin kubeconfig under `root`.
    admin: PathBuf,
    log: PathBuf,
}

/// The syncer container of one pod, followed by a watch of the pod.
struct Containers {
    host: &'static ControlPlane,
    /// The host's admin kubeconfig (what the kubelet reads the pod and its ConfigMaps with).
    kubeconfig: PathBuf,
    pod: PodSite,
    binary: PathBuf,
    /// The running syncer and the uid of the pod it runs for.
    child: Option<(tokio::process::Child, String)>,
    /// The uid of the pod whose port 8443 is forwarded, and the loopback address it leads to.
    forward: Option<(String, std::net::Ipv4Addr)>,
}

impl Containers {
    /// Starts the syncer once the pod runs; stops it when the pod is deleted or terminating,
    /// and starts it again for a new pod of the same name.
    async fn follow(&mut self) {
        use kube::runtime::WatchStreamExt as _;
        use kube::runtime::watcher::{Config, Event, watcher};
        let pods: Api<Pod> = Api::namespaced(client_for(&self.kubeconfig).await, &self.pod.namespace);
        let config = Config::default().fields(&format!("metadata.name={}", self.pod.name));
        let mut events = watcher(pods, config).default_backoff().boxed();
        while let Some(event) = events.next().await {
            // A failed watch is retried with backoff, as the kubelet's.
            let Ok(event) = event else { continue };
            match event {
                Event::Apply(pod) | Event::InitApply(pod) => {
                    let uid = pod.metadata.uid.clone().unwrap_or_default();
                    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                    let terminating = pod.metadata.deletion_timestamp.is_some();
                    let current = self.child.as_ref().map(|(_, u)| u.clone());
                    if current.is_some() && (terminating || current.as_deref() != Some(uid.as_str())) {
                        self.stop_syncer().await;
                    }
                    // The pod's port 8443 from its creation on, forwarded by kwok (which picks a
                    // PortForward up a moment after it is written) to where its syncer listens.
                    if self.forward.as_ref().is_none_or(|(u, _)| *u != uid) {
                        let address = pod_address();
                        let target: SocketAddr = (address, VIRTUAL_API_PORT).into();
                        let (namespace, name) = (&self.pod.namespace, &self.pod.name);
                        self.host.forward_pod_port(namespace, name, VIRTUAL_API_PORT, target).await.unwrap();
                        self.forward = Some((uid.clone(), address));
                    }
                    if self.child.is_none() && running && !terminating {
                        let address = self.forward.as_ref().map(|(_, a)| *a).unwrap();
                        self.start_syncer(&pod, address).await;
                    }
                }
                Event::Delete(_) => self.stop_syncer().await,
                Event::Init | Event::InitDone => {}
            }
        }
    }

    async fn start_syncer(&mut self, pod: &Pod, address: std::net::Ipv4Addr) {
        let site = &self.pod;
        let spec = pod.spec.as_ref().expect("a pod spec");
        let container = spec.containers.iter().find(|c| c.name == "syncer").expect("the pod's syncer container");
        assert_eq!(container.image.as_deref(), Some(site.image.as_str()), "the syncer container runs another image");
        // k3s also writes its admin kubeconfig where `--write-kubeconfig` says (the syncer's
        // `--kube-config`); its TLS files are under `--data-dir`, `/data` here.
        let vcluster = spec.containers.iter().find(|c| c.name == "vcluster").expect("the pod's vcluster container");
        let k3s = [vcluster.command.as_deref(), vcluster.args.as_deref()].into_iter().flatten().flatten();
        let k3s: Vec<&str> = k3s.flat_map(|part| part.split_whitespace()).collect();
        assert!(k3s.contains(&"--data-dir=/data"), "k3s's data under /data: {k3s:?}");
        if let Some(path) = k3s.iter().find_map(|a| a.strip_prefix("--write-kubeconfig=")) {
            let path = site.root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::copy(&site.admin, path).unwrap();
        }
        // The ConfigMap volumes the container mounts, as files.
        let client = client_for(&self.kubeconfig).await;
        let configmaps: Api<ConfigMap> = Api::namespaced(client, &site.namespace);
        for mount in container.volume_mounts.iter().flatten() {
            let volume = spec.volumes.iter().flatten().find(|v| v.name == mount.name);
            let Some(source) = volume.and_then(|v| v.config_map.as_ref()) else { continue };
            let configmap = configmaps.get(&source.name).await.unwrap();
            let dir = site.root.join(mount.mount_path.trim_start_matches('/'));
            std::fs::create_dir_all(&dir).unwrap();
            for (key, value) in configmap.data.unwrap_or_default() {
                std::fs::write(dir.join(key), value).unwrap();
            }
        }
        // The host as the pod's service account, in the pod's namespace. No groups: the audit
        // log leaves out `system:serviceaccounts`, and RBAC matches service accounts by user.
        let account = spec.service_account_name.clone().unwrap_or_else(|| "default".into());
        let user = service_account_user(&site.namespace, &account);
        let kubeconfig = self.host.kubeconfig_for(&user, &[]).unwrap();
        let kubeconfig = with_namespace(&kubeconfig, &site.namespace);
        let status = pod.status.clone().unwrap_or_default();
        let field = |path: &str| match path {
            "status.podIP" => status.pod_ip.clone().unwrap_or_default(),
            "spec.nodeName" => spec.node_name.clone().unwrap_or_default(),
            "metadata.name" => site.name.clone(),
            "metadata.namespace" => site.namespace.clone(),
            "spec.serviceAccountName" => account.clone(),
            other => panic!("the syncer container's env reads {other}, which this harness does not provide"),
        };
        let mut command = tokio::process::Command::new(&self.binary);
        command.env_clear();
        for var in container.env.iter().flatten() {
            let value = match (&var.value, var.value_from.as_ref().and_then(|f| f.field_ref.as_ref())) {
                (Some(value), _) => value.clone(),
                (None, Some(field_ref)) => field(&field_ref.field_path),
                (None, None) => {
                    panic!("env {} of the syncer container: only values and fieldRefs are provided", var.name)
                }
            };
            command.env(&var.name, value);
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&site.log).unwrap();
        command
            .args(pod_command_line(container.args.as_deref().unwrap_or_default(), &site.root, address))
            .env("HOSTNAME", &site.name)
            .env("KUBECONFIG", &kubeconfig)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .kill_on_drop(true);
        let child = command.spawn().unwrap_or_else(|e| panic!("{}: {e}", self.binary.display()));
        self.child = Some((child, pod.metadata.uid.clone().unwrap_or_default()));
    }

    /// SIGTERM, then SIGKILL after the pod's default grace period (30 s).
    async fn stop_syncer(&mut self) {
        let Some((mut child, _)) = self.child.take() else { return };
        if let Some(pid) = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32)) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(Duration::from_secs(30), child.wait()).await.is_err() {
            let _ = child.kill().await;
        }
    }
}

/// A loopback address of its own for one pod (Linux routes all of 127.0.0.0/8 to the loopback
/// device), where port 8443 is free: the syncer keeps the port the pod has, which it also
/// writes into `vc-<name>` (`https://localhost:8443`) and `connect` forwards to.
fn pod_address() -> std::net::Ipv4Addr {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 4096, "no loopback address with port {VIRTUAL_API_PORT} free");
        let address = std::net::Ipv4Addr::new(127, (pid >> 8) as u8, pid as u8, 2 + (n % 250) as u8);
        if std::net::TcpListener::bind((address, VIRTUAL_API_PORT)).is_ok() {
            return address;
        }
    }
}

/// The syncer container's arguments with what points into the pod moved under `root`: absolute
/// paths in values, and the path flags the chart leaves at their defaults (k3s's files under
/// `/data`, the CoreDNS bundle, the resolver file); the address it listens on, the pod's.
fn pod_command_line(args: &[String], root: &Path, address: std::net::Ipv4Addr) -> Vec<String> {
    const PATH_DEFAULTS: [(&str, &str); 7] = [
        ("--kube-config", "/data/server/cred/admin.kubeconfig"),
        ("--server-ca-cert", "/data/server/tls/server-ca.crt"),
        ("--server-ca-key", "/data/server/tls/server-ca.key"),
        ("--client-ca-cert", "/data/server/tls/client-ca.crt"),
        ("--request-header-ca-cert", "/data/server/tls/request-header-ca.crt"),
        ("--coredns-manifest", "/manifests/coredns/coredns.yaml"),
        ("--resolv-conf", "/etc/resolv.conf"),
    ];
    let inside = |path: &str| format!("{}/{}", root.display(), path.trim_start_matches('/'));
    let mut out = Vec::new();
    for arg in args {
        let (flag, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        assert!(
            !value.is_empty() || !arg.starts_with("--") || !PATH_DEFAULTS.iter().any(|(f, _)| *f == flag),
            "{arg}: only --flag=value is rewritten"
        );
        if flag == "--bind-address" {
            continue;
        }
        out.push(if value.starts_with('/') { format!("{flag}={}", inside(value)) } else { arg.clone() });
    }
    for (flag, default) in PATH_DEFAULTS {
        if !args.iter().any(|a| a.split_once('=').map_or(a.as_str(), |(f, _)| f) == flag) {
            out.push(format!("{flag}={}", inside(default)));
        }
    }
    out.push(format!("--bind-address={address}"));
    out
}

/// A copy of `kubeconfig` whose context names `namespace` (outside a pod, the syncer's own
/// namespace comes from there).
fn with_namespace(kubeconfig: &Path, namespace: &str) -> PathBuf {
    let mut doc: Value = serde_saphyr::from_str(&std::fs::read_to_string(kubeconfig).unwrap()).unwrap();
    for context in doc["contexts"].as_array_mut().into_iter().flatten() {
        context["context"]["namespace"] = json!(namespace);
    }
    let path = kubeconfig.with_extension("namespaced.kubeconfig");
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    path
}

fn persistent_volume() -> kube::discovery::ApiResource {
    kube::discovery::ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "PersistentVolume".into(),
        plural: "persistentvolumes".into(),
    }
}

pub async fn client_for(kubeconfig: &Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The kubeconfig the syncer writes into `vc-<name>` (loft-sh/vcluster v0.15
/// `pkg/util/kubeconfig/kubeconfig.go` `WriteKubeConfig`, keys `config`,
/// `certificate-authority`, `client-certificate`, `client-key`): the virtual cluster's admin credentials, server
/// `https://localhost:8443`, cluster, user and context `my-vcluster`.
fn syncer_kubeconfig(admin: &Path) -> String {
    let text = std::fs::read_to_string(admin).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    let field = |pointer: &str| doc.pointer(pointer).and_then(Value::as_str).unwrap().to_owned();
    let ca = field("/clusters/0/cluster/certificate-authority-data");
    let cert = field("/users/0/user/client-certificate-data");
    let key = field("/users/0/user/client-key-data");
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://localhost:{VIRTUAL_API_PORT}\n  name: my-vcluster\ncontexts:\n- context:\n    cluster: my-vcluster\n    user: my-vcluster\n  name: my-vcluster\ncurrent-context: my-vcluster\nkind: Config\npreferences: {{}}\nusers:\n- name: my-vcluster\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n"
    )
}

/// Where kwok forwards port 8443 of the vcluster pod to.
struct Forward {
    host: &'static ControlPlane,
    target: SocketAddr,
}

/// Watches pod `<name>-0`; once it exists (so does its namespace), has kwok forward its port
/// 8443 to the virtual API server; whenever it runs and `vc-<name>` is missing or owned by
/// another StatefulSet than the current one, writes it.
async fn keep_secret(kubeconfig: &Path, namespace: &str, name: &str, config: &str, forward: Forward) {
    use base64::Engine as _;
    // The Secret's other keys: the same credentials as PEM (base64 in `data`, as in the kubeconfig).
    let doc: Value = serde_saphyr::from_str(config).unwrap();
    let field = |pointer: &str| doc.pointer(pointer).and_then(Value::as_str).unwrap().to_owned();
    let ca = field("/clusters/0/cluster/certificate-authority-data");
    let cert = field("/users/0/user/client-certificate-data");
    let key = field("/users/0/user/client-key-data");
    let client = client_for(kubeconfig).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let watch = kube::runtime::watcher::Config::default().fields(&format!("metadata.name={name}-0"));
    let mut events = kube::runtime::watcher(pods, watch).boxed();
    let mut forwarded = false;
    while let Ok(Some(event)) = events.try_next().await {
        if !forwarded
            && matches!(event, kube::runtime::watcher::Event::Apply(_) | kube::runtime::watcher::Event::InitApply(_))
        {
            // The PortForward object is namespaced: written once the namespace exists.
            forwarded = forward
                .host
                .forward_pod_port(namespace, &format!("{name}-0"), VIRTUAL_API_PORT, forward.target)
                .await
                .is_ok();
        }
        let running = match event {
            kube::runtime::watcher::Event::Apply(pod) | kube::runtime::watcher::Event::InitApply(pod) => {
                pod.status.and_then(|s| s.phase).as_deref() == Some("Running")
            }
            _ => false,
        };
        if !running {
            continue;
        }
        let Ok(Some(sts)) = statefulsets.get_opt(name).await else { continue };
        let uid = sts.metadata.uid.clone().unwrap_or_default();
        let secret_name = format!("vc-{name}");
        let current = secrets.get_opt(&secret_name).await.ok().flatten();
        let owner = current.as_ref().and_then(|s| s.metadata.owner_references.as_ref()?.first().map(|o| o.uid.clone()));
        if owner.as_deref() == Some(uid.as_str()) {
            continue;
        }
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {
                "name": secret_name, "namespace": namespace,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": uid}],
            },
            "type": "Opaque",
            "data": {
                "config": b64(config),
                "certificate-authority": ca,
                "client-certificate": cert,
                "client-key": key,
            },
        });
        // A failed write is tried again at the next event, as the syncer retries.
        let _ =
            secrets.patch(&secret_name, &PatchParams::apply("vcluster-syncer").force(), &Patch::Apply(secret)).await;
    }
}

/// One request in the audit log.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: String,
    pub user: String,
    pub user_agent: String,
    pub verb: String,
    pub uri: String,
    pub code: u16,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
}

impl AuditEvent {
    pub fn dry_run(&self) -> bool {
        self.uri.contains("dryRun=All")
    }

    /// A request that could change stored state: a write verb, not a dry run, not a review
    /// (SelfSubject*Reviews are creates that store nothing).
    pub fn is_write(&self) -> bool {
        matches!(self.verb.as_str(), "create" | "update" | "patch" | "delete" | "deletecollection")
            && !self.dry_run()
            && !self.resource.ends_with("reviews")
    }
}

/// Every request of the audit log, one entry per audit ID (a watch logs two stages).
pub fn read_audit(path: &Path) -> Vec<AuditEvent> {
    let Ok(file) = std::fs::File::open(path) else { return Vec::new() };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for line in BufReader::new(file).lines().map_while(Result::ok) {
        let Ok(e) = serde_json::from_str::<Value>(&line) else { continue };
        let id = e["auditID"].as_str().unwrap_or_default().to_owned();
        if !seen.insert(id.clone()) {
            continue;
        }
        let s = |pointer: &str| e.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
        out.push(AuditEvent {
            id,
            user: s("/user/username"),
            user_agent: s("/userAgent"),
            verb: s("/verb"),
            uri: s("/requestURI"),
            code: e.pointer("/responseStatus/code").and_then(Value::as_u64).unwrap_or(0) as u16,
            resource: s("/objectRef/resource"),
            subresource: s("/objectRef/subresource"),
            namespace: s("/objectRef/namespace"),
            name: s("/objectRef/name"),
        });
    }
    out
}

/// `Kind namespace/name` → resourceVersion of every object in `namespace` (every listable
/// namespaced kind the server serves, by discovery), Events and Leases left out: what the
/// cluster's components keep writing.
pub async fn inventory(client: &kube::Client, namespace: &str) -> BTreeMap<String, Value> {
    let discovery = Discovery::new(client.clone()).run().await.unwrap();
    let mut lists = Vec::new();
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced || !caps.supports_operation(verbs::LIST) {
                continue;
            }
            if matches!(resource.kind.as_str(), "Event" | "Lease") {
                continue;
            }
            let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
            lists.push(async move { (resource, api.list(&ListParams::default()).await) });
        }
    }
    let mut out = BTreeMap::new();
    for (resource, list) in futures::future::join_all(lists).await {
        let Ok(list) = list else { continue };
        for o in list.items {
            let key = format!("{} {}/{}", resource.kind, namespace, o.metadata.name.clone().unwrap_or_default());
            out.insert(key, serde_json::to_value(&o).unwrap());
        }
    }
    out
}

/// Only the resourceVersions of an inventory.
pub fn versions(inventory: &BTreeMap<String, Value>) -> BTreeMap<String, String> {
    inventory
        .iter()
        .map(|(k, o)| (k.clone(), o["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned()))
        .collect()
}
