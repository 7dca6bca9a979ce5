//! A real Kubernetes control plane for tests (dev-only, never shipped): etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler (Kubernetes v1.33.13) and kwok (fake nodes, v0.7.0),
//! built from their Go modules (`tools/control-plane`, `scripts/control-plane build`) and run on
//! 127.0.0.1 with every port chosen free, so instances run side by side.
//!
//! ```no_run
//! # async fn demo() -> Result<(), control_plane::Error> {
//! use control_plane::{ControlPlane, Options};
//! // One instance for the whole test process (started once, stopped when the process ends):
//! let shared = ControlPlane::shared().await?;
//! let kubeconfig = shared.kubeconfig_path(); // e.g. for VCLUSTER_E2E_KUBECONFIG
//! // Or one of the test's own, stopped by `stop()` or on drop:
//! let virt = ControlPlane::start(Options::virtual_cluster()).await?; // no kwok, no scheduler
//! let client = virt.client().await?;
//! let alice = virt.kubeconfig_for("alice", &["devs"])?; // RBAC tests
//! virt.stop().await?;
//! # Ok(()) }
//! ```
//!
//! How it works: [`ControlPlane::start`] runs the `control-plane` binary of this crate (the
//! supervisor) with a piped stdin and `--exit-on-stdin-close`, and waits for its
//! `READY <url> <kubeconfig>` line. The supervisor stops every program when that pipe closes, so
//! nothing is left behind when the test process panics, exits or is killed; the Go programs also
//! get SIGKILL as parent-death signal in case the supervisor itself is killed.
//!
//! Where the programs come from, first found:
//! - the supervisor: [`Options::supervisor`], `$VCLUSTER_CONTROL_PLANE_BIN`, else
//!   `cargo build -p control-plane --bin control-plane` once per process;
//! - the Go programs: [`Options::bin_dir`], `$VCLUSTER_CONTROL_PLANE_BIN_DIR`, else
//!   `scripts/control-plane build` once per process (cached by pins; the first build on a fresh
//!   2-core machine takes about 7 minutes).
//!
//! A test that needs the control plane fails when it cannot be built or started: every failure
//! is an [`Error`], and start-up failures name the program and carry the tail of its log.

#![forbid(unsafe_code)]

mod error;
mod layout;
mod pki;
mod programs;
#[doc(hidden)]
pub mod supervisor;

use std::io::BufRead as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use error::Error;
pub use layout::State;
pub use pki::CertPair;
use programs::WORKSPACE;
pub use programs::{BIN_DIR_ENV, PROGRAMS, go_programs};

/// The `control-plane` binary to run instead of building it.
pub const SUPERVISOR_ENV: &str = "VCLUSTER_CONTROL_PLANE_BIN";

/// What to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// kube-apiserver's `--service-cluster-ip-range` (default `10.96.0.0/12`).
    pub service_cidr: String,
    /// Fake nodes managed by kwok (default 1).
    pub nodes: u32,
    /// Run kwok and its nodes (default true).
    pub kwok: bool,
    /// Run kube-scheduler (default true).
    pub scheduler: bool,
    /// How long start-up may take (default 180 s), past a build.
    pub start_timeout: Duration,
    /// The Go programs' folder (default: see the crate documentation).
    pub bin_dir: Option<PathBuf>,
    /// The `control-plane` binary (default: see the crate documentation).
    pub supervisor: Option<PathBuf>,
    /// Extra arguments, `(program, argument)`, e.g. `("kube-apiserver", "--v=4")`.
    pub extra_args: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Options {
        Options::host()
    }
}

impl Options {
    /// A host cluster: every program, one kwok node.
    pub fn host() -> Options {
        Options {
            service_cidr: "10.96.0.0/12".into(),
            nodes: 1,
            kwok: true,
            scheduler: true,
            start_timeout: Duration::from_secs(180),
            bin_dir: None,
            supervisor: None,
            extra_args: Vec::new(),
        }
    }

    /// What k3s runs inside a virtual cluster: kube-apiserver and kube-controller-manager, no
    /// scheduler, no nodes.
    pub fn virtual_cluster() -> Options {
        Options { kwok: false, scheduler: false, nodes: 0, ..Options::host() }
    }

    pub fn nodes(mut self, nodes: u32) -> Options {
        self.nodes = nodes;
        self
    }

    pub fn service_cidr(mut self, cidr: &str) -> Options {
        self.service_cidr = cidr.into();
        self
    }

    pub fn arg(mut self, program: &str, arg: &str) -> Options {
        self.extra_args.push((program.into(), arg.into()));
        self
    }
}

struct Supervised {
    child: Child,
    stdin: Option<ChildStdin>,
}

/// A running control plane.
pub struct ControlPlane {
    state: State,
    server_ca: CertPair,
    client_ca: CertPair,
    process: Mutex<Option<Supervised>>,
    issued: AtomicU64,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane").field("url", &self.state.url).field("dir", &self.state.dir).finish()
    }
}

static SHARED: OnceLock<Result<ControlPlane, Error>> = OnceLock::new();

impl ControlPlane {
    /// Builds what is missing, starts a control plane and waits until it is ready.
    pub async fn start(options: Options) -> Result<ControlPlane, Error> {
        tokio::task::spawn_blocking(move || ControlPlane::start_blocking(&options))
            .await
            .map_err(|e| Error::Io { context: "the start-up task".into(), message: e.to_string() })?
    }

    /// The host control plane ([`Options::host`]) shared by every test of this process: started
    /// by the first call, stopped when the process ends (its supervisor sees its stdin close).
    /// A failed start is returned to every caller.
    pub async fn shared() -> Result<&'static ControlPlane, Error> {
        if let Some(result) = SHARED.get() {
            return result.as_ref().map_err(Clone::clone);
        }
        tokio::task::spawn_blocking(|| {
            SHARED.get_or_init(|| ControlPlane::start_blocking(&Options::host())).as_ref().map_err(Clone::clone)
        })
        .await
        .map_err(|e| Error::Io { context: "the start-up task".into(), message: e.to_string() })?
    }

    /// [`ControlPlane::start`] without async. A free port chosen for a program can be taken by
    /// another process before the program binds it (instances start side by side): such a start
    /// is tried again, up to three times.
    pub fn start_blocking(options: &Options) -> Result<ControlPlane, Error> {
        let mut attempt = 1;
        loop {
            match ControlPlane::start_once(options) {
                Err(Error::Program { ref log_tail, .. })
                    if attempt < 3 && log_tail.contains("address already in use") =>
                {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn start_once(options: &Options) -> Result<ControlPlane, Error> {
        let supervisor = match &options.supervisor {
            Some(path) => path.clone(),
            None => supervisor_binary()?,
        };
        let bin_dir = match &options.bin_dir {
            Some(dir) => dir.clone(),
            None => go_programs()?,
        };
        let mut command = Command::new(&supervisor);
        command
            .arg("--bin-dir")
            .arg(&bin_dir)
            .args(["--exit-on-stdin-close", "--service-cidr", &options.service_cidr])
            .args(["--nodes", &options.nodes.to_string()])
            .args(["--timeout", &options.start_timeout.as_secs().max(1).to_string()]);
        if !options.kwok {
            command.arg("--no-kwok");
        }
        if !options.scheduler {
            command.arg("--no-scheduler");
        }
        for (program, arg) in &options.extra_args {
            command.arg(format!("--arg={program}={arg}"));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(Error::io(format!("cannot run {}", supervisor.display())))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let mut process = Supervised { child, stdin };

        // The first line, read by a thread so that the wait is bounded.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(stdout) = stdout {
                let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(options.start_timeout + Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                shut_down(&mut process, Duration::from_secs(15));
                return Err(Error::Program {
                    program: "control-plane".into(),
                    what: format!("printed no READY line within {:?}", options.start_timeout + Duration::from_secs(30)),
                    log_tail: String::new(),
                });
            }
        };
        let line = line.trim_end();
        if let Some(json) = line.strip_prefix("FAILED ") {
            shut_down(&mut process, Duration::from_secs(15));
            let failure: layout::Failure = serde_json::from_str(json).map_err(|e| Error::Program {
                program: "control-plane".into(),
                what: format!("reported a failure that is not JSON ({e}): {json}"),
                log_tail: String::new(),
            })?;
            return Err(Error::Program { program: failure.program, what: failure.what, log_tail: failure.log_tail });
        }
        let Some(kubeconfig) = line.strip_prefix("READY ").and_then(|rest| rest.split_once(' ')).map(|(_, k)| k) else {
            let status = shut_down(&mut process, Duration::from_secs(15));
            return Err(Error::Program {
                program: "control-plane".into(),
                what: format!("ended ({status}) without a READY line (its output: {line:?})"),
                log_tail: String::new(),
            });
        };
        let dir = Path::new(kubeconfig).parent().unwrap_or(Path::new("/")).to_path_buf();
        let text = std::fs::read_to_string(dir.join("state.json"))
            .map_err(Error::io(format!("cannot read {}", dir.join("state.json").display())))?;
        let state: State = serde_json::from_str(&text).map_err(|e| Error::Io {
            context: format!("{}", dir.join("state.json").display()),
            message: e.to_string(),
        })?;
        let l = layout::Layout::new(&dir);
        let pair = |name: &str| -> Result<CertPair, Error> {
            let cert_path = l.pki_file(&format!("{name}.crt"));
            let key_path = l.pki_file(&format!("{name}.key"));
            Ok(CertPair {
                cert_pem: std::fs::read_to_string(&cert_path)
                    .map_err(Error::io(format!("cannot read {}", cert_path.display())))?,
                key_pem: std::fs::read_to_string(&key_path)
                    .map_err(Error::io(format!("cannot read {}", key_path.display())))?,
                cert_path,
                key_path,
            })
        };
        Ok(ControlPlane {
            server_ca: pair("server-ca")?,
            client_ca: pair("client-ca")?,
            state,
            process: Mutex::new(Some(process)),
            issued: AtomicU64::new(0),
        })
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.state.url
    }

    /// The admin kubeconfig (client certificate CN=kubernetes-admin, O=system:masters).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.state.kubeconfig
    }

    /// The instance's temporary folder (removed when it stops); `control-plane --help` lists
    /// its files.
    pub fn dir(&self) -> &Path {
        &self.state.dir
    }

    /// Everything `state.json` says: etcd's URL, node names, kwok's kubelet port, pids.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The supervisor's process id while it runs (not after [`ControlPlane::stop`]).
    pub fn supervisor_pid(&self) -> Option<u32> {
        self.process.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|p| p.child.id())
    }

    /// The kwok-managed nodes (`kwok-node-0`, …), Ready at start.
    pub fn nodes(&self) -> &[String] {
        &self.state.nodes
    }

    /// The server CA: signs kube-apiserver's and kwok's serving certificates; a syncer under
    /// test can sign its own serving certificate with it.
    pub fn server_ca(&self) -> &CertPair {
        &self.server_ca
    }

    /// The client CA: kube-apiserver trusts client certificates it signed (`--client-ca-file`).
    pub fn client_ca(&self) -> &CertPair {
        &self.client_ca
    }

    /// A program's log file (`etcd`, `kube-apiserver`, …; see [`PROGRAMS`]).
    pub fn log_path(&self, program: &str) -> PathBuf {
        layout::Layout::new(&self.state.dir).log(program)
    }

    /// The last `lines` lines of a program's log.
    pub fn log_tail(&self, program: &str, lines: usize) -> String {
        supervisor::log_tail(&self.log_path(program), lines)
    }

    /// An admin client (a new one each call: a client belongs to the runtime that made it).
    pub async fn client(&self) -> Result<kube::Client, Error> {
        supervisor::admin_client(&self.state.kubeconfig).await.map_err(Error::Api)
    }

    /// A kubeconfig authenticating as `user` in `groups` (at most two) by a client certificate
    /// that the client CA signs; written into the instance's folder. Users have no rights
    /// until RBAC grants them some (`system:masters` has all).
    pub fn kubeconfig_for(&self, user: &str, groups: &[&str]) -> Result<PathBuf, Error> {
        let ca =
            pki::Ca::load(layout::CLIENT_CA_NAME, self.client_ca.cert_pem.clone(), self.client_ca.key_pem.clone())?;
        let (cert, key) = ca.issue_client(user, groups)?;
        let text = pki::kubeconfig(layout::CLUSTER_NAME, &self.state.url, &self.server_ca.cert_pem, user, &cert, &key);
        let safe: String = user.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let path = layout::Layout::new(&self.state.dir).kubeconfigs().join(format!("user-{safe}-{n}.kubeconfig"));
        pki::write_private(&path, &text)?;
        Ok(path)
    }

    /// Makes kwok's kubelet forward connections to `port` of pod `namespace/pod` to `target`
    /// (e.g. a listener of the test on 127.0.0.1): the pod's `PortForward` object
    /// (kwok.x-k8s.io/v1alpha1, named like the pod), created or updated for that port. The pod
    /// need not exist yet. kwok picks the change up through a watch, a moment later.
    pub async fn forward_pod_port(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        target: SocketAddr,
    ) -> Result<(), Error> {
        use kube::api::{Api, DynamicObject, PostParams};
        use kube::discovery::ApiResource;
        let resource = ApiResource {
            group: "kwok.x-k8s.io".into(),
            version: "v1alpha1".into(),
            api_version: "kwok.x-k8s.io/v1alpha1".into(),
            kind: "PortForward".into(),
            plural: "portforwards".into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client().await?, namespace, &resource);
        let forward =
            serde_json::json!({"ports": [port], "target": {"address": target.ip().to_string(), "port": target.port()}});
        let api_error = |e: kube::Error| Error::Api(format!("PortForward {namespace}/{pod}: {e}"));
        // Retried on conflicts: another forward of the same pod may be written concurrently.
        for _ in 0..5 {
            match api.get_opt(pod).await.map_err(api_error)? {
                None => {
                    let object: DynamicObject = serde_json::from_value(serde_json::json!({
                        "apiVersion": "kwok.x-k8s.io/v1alpha1",
                        "kind": "PortForward",
                        "metadata": {"name": pod, "namespace": namespace},
                        "spec": {"forwards": [forward]},
                    }))
                    .map_err(|e| Error::Api(e.to_string()))?;
                    match api.create(&PostParams::default(), &object).await {
                        Err(kube::Error::Api(s)) if s.code == 409 => continue,
                        other => return other.map(drop).map_err(api_error),
                    }
                }
                Some(mut object) => {
                    let forwards = object.data["spec"]["forwards"].as_array().cloned().unwrap_or_default();
                    let mut kept: Vec<serde_json::Value> = forwards
                        .into_iter()
                        .filter(|f| {
                            !f["ports"]
                                .as_array()
                                .is_some_and(|ps| ps.iter().any(|p| p.as_u64() == Some(u64::from(port))))
                        })
                        .collect();
                    kept.push(forward.clone());
                    object.data["spec"] = serde_json::json!({"forwards": kept});
                    match api.replace(pod, &PostParams::default(), &object).await {
                        Err(kube::Error::Api(s)) if s.code == 409 => continue,
                        other => return other.map(drop).map_err(api_error),
                    }
                }
            }
        }
        Err(Error::Api(format!("PortForward {namespace}/{pod}: conflicting updates")))
    }

    /// Stops every program (SIGTERM, SIGKILL after a grace period) and removes the folder.
    pub async fn stop(self) -> Result<(), Error> {
        tokio::task::spawn_blocking(move || {
            let Some(mut process) = self.process.lock().unwrap_or_else(|e| e.into_inner()).take() else {
                return Ok(());
            };
            let status = shut_down(&mut process, Duration::from_secs(30));
            if status.success() {
                Ok(())
            } else {
                Err(Error::Program {
                    program: "control-plane".into(),
                    what: format!("stopped with {status}"),
                    log_tail: String::new(),
                })
            }
        })
        .await
        .map_err(|e| Error::Io { context: "the stop task".into(), message: e.to_string() })?
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.lock().unwrap_or_else(|e| e.into_inner()).take() {
            shut_down(&mut process, Duration::from_secs(30));
        }
    }
}

/// Closes the supervisor's stdin (it stops everything and exits) and waits up to `patience`;
/// then SIGKILL (its programs die with it: parent-death signal).
fn shut_down(process: &mut Supervised, patience: Duration) -> std::process::ExitStatus {
    drop(process.stdin.take());
    let deadline = Instant::now() + patience;
    loop {
        match process.child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = process.child.kill();
                if let Ok(status) = process.child.wait() {
                    return status;
                }
                return std::os::unix::process::ExitStatusExt::from_raw(9);
            }
        }
    }
}

/// The `control-plane` binary: `$VCLUSTER_CONTROL_PLANE_BIN`, else built by cargo once per
/// process.
fn supervisor_binary() -> Result<PathBuf, Error> {
    if let Some(path) = std::env::var_os(SUPERVISOR_ENV) {
        return Ok(PathBuf::from(path));
    }
    static BUILT: OnceLock<Result<PathBuf, Error>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let failed = |message: String| Error::Build { what: "the control-plane binary".into(), message };
            let mut command = Command::new(cargo);
            // Without the variables cargo sets for the test process it runs (CARGO_MANIFEST_DIR,
            // CARGO_PKG_NAME, …): build scripts that rerun when they change (ring's does) would
            // otherwise see them changed and rebuild half the dependency tree, twice.
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy();
                if key.starts_with("CARGO_PKG_")
                    || key.starts_with("CARGO_MANIFEST_")
                    || key.starts_with("CARGO_BIN_")
                    || ["CARGO_CRATE_NAME", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*key)
                {
                    command.env_remove(&*key);
                }
            }
            let output = command
                .args(["build", "--quiet", "-p", "control-plane", "--bin", "control-plane"])
                .args(["--message-format=json-render-diagnostics", "--manifest-path"])
                .arg(Path::new(WORKSPACE).join("Cargo.toml"))
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| failed(format!("cannot run cargo: {e}")))?;
            if !output.status.success() {
                return Err(failed(format!("cargo build exited with {}", output.status)));
            }
            String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
                .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "control-plane")
                .find_map(|m| m["executable"].as_str().map(PathBuf::from))
                .ok_or_else(|| failed("cargo build reported no executable".into()))
        })
        .clone()
}
