//! The `control-plane` program: starts etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler and kwok on loopback, prints one `READY <url> <kubeconfig>` line, and stops
//! them all (SIGTERM, then SIGKILL after a grace period) on SIGINT/SIGTERM or, with
//! `--exit-on-stdin-close`, when its standard input closes.
//!
//! Every program runs in a process group of its own (so a terminal's Ctrl-C reaches only the
//! supervisor, which then stops them in order) and, where util-linux's `setpriv` exists, with
//! the parent-death signal SIGKILL, so even a supervisor killed by SIGKILL leaves none behind.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::layout::{self, Failure, Layout, State};
use crate::pki::{self, Ca};

const ABOUT: &str = "A real Kubernetes control plane on 127.0.0.1 for tests: etcd, kube-apiserver, \
kube-controller-manager, kube-scheduler and kwok (fake nodes), built from their Go modules by \
scripts/control-plane build.";

const AFTER_HELP: &str = "\
Once the API server answers and every node is Ready, prints exactly one line on stdout:
  READY https://127.0.0.1:PORT /path/to/kubeconfig
(or `FAILED {json}` and exit status 1 when start-up fails), then runs until SIGINT/SIGTERM (or,
with --exit-on-stdin-close, until stdin closes), stops every program and removes its folder.

The folder (the kubeconfig's parent, a temporary directory) holds:
  kubeconfig                  admin: client certificate CN=kubernetes-admin, O=system:masters
  state.json                  url, kubeconfig, etcd URL, node names, kubelet port, pids
  pki/server-ca.{crt,key}     the server CA: signs kube-apiserver's and kwok's serving certificates
  pki/client-ca.{crt,key}     the client CA: kube-apiserver --client-ca-file, and the signer of
                              kube-controller-manager's CSR controller
  pki/service-account.{key,pub}
                              the service-account token signing key (ECDSA P-256)
  pki/*.crt, pki/*.key        serving and client certificates of the programs
  kubeconfigs/                the components' kubeconfigs (and users' ones issued by the library)
  logs/PROGRAM.log            each program's stdout and stderr
  etcd/                       etcd's data

Pods on the kwok nodes become Running and Ready with pod IPs. `kubectl port-forward` to a pod
reaches kwok's kubelet server, which forwards as the pod's PortForward object says
(kwok.x-k8s.io/v1alpha1, with the pod's name and namespace), e.g.
  spec: {forwards: [{ports: [8443], target: {address: 127.0.0.1, port: 40000}}]}
A ClusterPortForward selects pods by namespace and name.

Exit status: 0 after a requested stop; 1 when start-up fails or when a program exits on its own
(the others are stopped then).";

/// Options of `control-plane` (and `scripts/control-plane up`).
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "control-plane", about = ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// The service CIDR (kube-apiserver's and kube-controller-manager's --service-cluster-ip-range).
    #[arg(long, default_value = "10.96.0.0/12")]
    pub service_cidr: String,
    /// How many fake nodes kwok manages (named kwok-node-0, kwok-node-1, …).
    #[arg(long, default_value_t = 1)]
    pub nodes: u32,
    /// No kwok and no nodes (with --no-scheduler: what k3s runs inside a virtual cluster).
    #[arg(long)]
    pub no_kwok: bool,
    /// No kube-scheduler.
    #[arg(long)]
    pub no_scheduler: bool,
    /// The folder of the Go programs [default: $VCLUSTER_CONTROL_PLANE_BIN_DIR, else what
    /// `scripts/control-plane build` prints, building them if needed].
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Stop when standard input closes (how the test library ties the control plane to the test
    /// process's life).
    #[arg(long)]
    pub exit_on_stdin_close: bool,
    /// Seconds start-up may take before it fails.
    #[arg(long, default_value_t = 180)]
    pub timeout: u64,
    /// Seconds between SIGTERM and SIGKILL when stopping.
    #[arg(long, default_value_t = 10)]
    pub grace: u64,
    /// An extra argument for one program, `PROGRAM=ARG` (repeatable), e.g. `kube-apiserver=--v=4`.
    #[arg(long = "arg", value_name = "PROGRAM=ARG")]
    pub extra_args: Vec<String>,
    /// Keep the folder after stopping (to read the logs).
    #[arg(long)]
    pub keep_dir: bool,
}

/// One started program.
struct Running {
    name: &'static str,
    child: Child,
    pid: u32,
}

struct Supervisor {
    args: Args,
    layout: Layout,
    bin_dir: PathBuf,
    programs: Vec<Running>,
    deadline: Instant,
    /// Why to stop, once known (a signal or stdin closing).
    stop: watch::Receiver<Option<&'static str>>,
    setpriv: Option<PathBuf>,
}

/// Runs `control-plane` with `args` to the end; the process's exit status.
pub async fn main(args: Args) -> i32 {
    let stop = watch_stop_requests(args.exit_on_stdin_close);
    let dir = match tempfile::Builder::new().prefix("vcluster-control-plane-").tempdir() {
        Ok(dir) => dir.keep(),
        Err(e) => {
            report_failure(&Failure {
                program: "control-plane".into(),
                what: format!("cannot create a temporary folder: {e}"),
                log_tail: String::new(),
            });
            return 1;
        }
    };
    let layout = Layout::new(&dir);
    let mut sup = Supervisor {
        deadline: Instant::now() + Duration::from_secs(args.timeout),
        bin_dir: PathBuf::new(),
        args,
        layout,
        programs: Vec::new(),
        stop,
        setpriv: find_on_path("setpriv"),
    };
    let code = match sup.start().await {
        Ok(state) => {
            let line = format!("READY {} {}\n", state.url, state.kubeconfig.display());
            let mut out = std::io::stdout().lock();
            // A closed stdout (nobody listening) is no reason to stop.
            let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
            drop(out);
            sup.run_until_stopped().await
        }
        Err(failure) => {
            report_failure(&failure);
            1
        }
    };
    sup.stop_all().await;
    if sup.args.keep_dir {
        note(&format!("kept {}", sup.layout.dir.display()));
    } else {
        let _ = std::fs::remove_dir_all(&sup.layout.dir);
    }
    code
}

#[allow(clippy::print_stderr)] // the supervisor's own diagnostics
fn note(message: &str) {
    eprintln!("control-plane: {message}");
}

fn report_failure(failure: &Failure) {
    let mut message = format!("{} {}", failure.program, failure.what);
    if !failure.log_tail.is_empty() {
        message.push_str(&format!("\n--- last lines of its log ---\n{}", failure.log_tail));
    }
    note(&message);
    let line = format!("FAILED {}\n", serde_json::to_string(failure).unwrap_or_default());
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
}

/// A receiver that becomes `Some(reason)` on SIGINT, SIGTERM or (when asked) stdin's end.
fn watch_stop_requests(stdin: bool) -> watch::Receiver<Option<&'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = watch::channel(None);
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let (stdin_tx, mut stdin_rx) = tokio::sync::oneshot::channel::<()>();
    if stdin {
        // A thread of its own: tokio's stdin would keep the runtime from shutting down.
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            let mut stdin = std::io::stdin();
            while matches!(std::io::Read::read(&mut stdin, &mut buf), Ok(n) if n > 0) {}
            let _ = stdin_tx.send(());
        });
    } else {
        std::mem::forget(stdin_tx);
    }
    tokio::spawn(async move {
        let term = async {
            match term.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let int = async {
            match int.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let reason = tokio::select! {
            _ = term => "SIGTERM",
            _ = int => "SIGINT",
            _ = &mut stdin_rx => "stdin closed",
        };
        let _ = tx.send(Some(reason));
    });
    rx
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, Failure> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| Failure {
        program: "control-plane".into(),
        what: format!("cannot find a free port on 127.0.0.1: {e}"),
        log_tail: String::new(),
    })
}

/// The last `lines` lines of a log file.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else { return String::new() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn io_failure(what: &str) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| failure("control-plane", format!("{what}: {e}"))
}

fn failure(program: &str, what: impl Into<String>) -> Failure {
    Failure { program: program.into(), what: what.into(), log_tail: String::new() }
}

impl Supervisor {
    fn failure_with_log(&self, program: &str, what: impl Into<String>) -> Failure {
        Failure { program: program.into(), what: what.into(), log_tail: log_tail(&self.layout.log(program), 40) }
    }

    /// Between two polls during start-up: a program that exited, a stop request or the deadline
    /// fail the start-up; `program` and `what` say what was awaited.
    async fn tick(&mut self, program: &str, what: &str) -> Result<(), Failure> {
        if let Some(dead) = self.exited() {
            return Err(dead);
        }
        if let Some(reason) = *self.stop.borrow() {
            return Err(failure("control-plane", format!("stopped during start-up ({reason})")));
        }
        if Instant::now() >= self.deadline {
            return Err(self.failure_with_log(
                program,
                format!("did not {what} within {} s (control-plane --timeout)", self.args.timeout),
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    }

    /// The first program that has exited, as a failure.
    fn exited(&mut self) -> Option<Failure> {
        let mut found = None;
        for p in &mut self.programs {
            if let Ok(Some(status)) = p.child.try_wait() {
                found = Some((p.name, status));
                break;
            }
        }
        let (name, status) = found?;
        Some(self.failure_with_log(name, format!("exited unexpectedly ({status})")))
    }

    fn spawn(&mut self, name: &'static str, mut args: Vec<String>, env: &[(&str, &Path)]) -> Result<(), Failure> {
        let binary = self.bin_dir.join(name);
        for extra in &self.args.extra_args {
            if let Some((program, arg)) = extra.split_once('=')
                && program == name
            {
                args.push(arg.to_string());
            }
        }
        let log_path = self.layout.log(name);
        let log =
            std::fs::File::create(&log_path).map_err(io_failure(&format!("cannot create {}", log_path.display())))?;
        let log2 = log.try_clone().map_err(io_failure("cannot open a log twice"))?;
        let mut command = match &self.setpriv {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&binary);
                c
            }
            None => Command::new(&binary),
        };
        command.args(&args).stdin(Stdio::null()).stdout(log).stderr(log2).process_group(0).kill_on_drop(false);
        for (key, value) in env {
            command.env(key, value);
        }
        let child =
            command.spawn().map_err(|e| failure(name, format!("cannot be started ({}): {e}", binary.display())))?;
        let pid = child.id().unwrap_or(0);
        self.programs.push(Running { name, child, pid });
        Ok(())
    }

    async fn start(&mut self) -> Result<State, Failure> {
        self.bin_dir = match &self.args.bin_dir {
            Some(dir) => dir.clone(),
            None => crate::programs::go_programs().map_err(|e| failure("control-plane", format!("{e}")))?,
        };
        for program in crate::programs::PROGRAMS {
            if !self.bin_dir.join(program).is_file() {
                return Err(failure(program, format!("is not in {}", self.bin_dir.display())));
            }
        }
        let l = self.layout.clone();
        for dir in [l.pki(), l.kubeconfigs(), l.logs(), l.kwok_home()] {
            std::fs::create_dir_all(&dir).map_err(io_failure(&format!("cannot create {}", dir.display())))?;
        }

        let pki_err = |e: crate::error::Error| failure("control-plane", format!("{e}"));
        let server_ca = Ca::generate(layout::SERVER_CA_NAME).map_err(pki_err)?;
        let client_ca = Ca::generate(layout::CLIENT_CA_NAME).map_err(pki_err)?;
        let write = |name: &str, text: &str| pki::write_private(&l.pki_file(name), text).map_err(pki_err);
        write("server-ca.crt", &server_ca.cert_pem)?;
        write("server-ca.key", &server_ca.key_pem)?;
        write("client-ca.crt", &client_ca.cert_pem)?;
        write("client-ca.key", &client_ca.key_pem)?;
        let (private, public) = pki::signing_key().map_err(pki_err)?;
        write("service-account.key", &private)?;
        write("service-account.pub", &public)?;
        // kube-apiserver's serving names: the `kubernetes` Service's in-cluster names and its
        // ClusterIP too (kubernetes v1.33.13, pkg/controlplane/apiserver/options
        // `ServiceIPRange` and cmd/kube-apiserver/app/options: the default alternate names).
        let service_ip = first_service_ip(&self.args.service_cidr).ok_or_else(|| {
            failure("control-plane", format!("--service-cidr {:?} is no IPv4 CIDR", self.args.service_cidr))
        })?;
        let (cert, key) = server_ca
            .issue_server(
                "kube-apiserver",
                &[
                    "127.0.0.1",
                    "localhost",
                    &service_ip,
                    "kubernetes",
                    "kubernetes.default",
                    "kubernetes.default.svc",
                    "kubernetes.default.svc.cluster.local",
                ],
            )
            .map_err(pki_err)?;
        write("apiserver.crt", &cert)?;
        write("apiserver.key", &key)?;
        // kube-apiserver's client certificate for kubelets (kubeadm's apiserver-kubelet-client).
        let (cert, key) =
            client_ca.issue_client("kube-apiserver-kubelet-client", &["system:masters"]).map_err(pki_err)?;
        write("kubelet-client.crt", &cert)?;
        write("kubelet-client.key", &key)?;

        let etcd_port = free_port()?;
        let peer_port = free_port()?;
        let api_port = free_port()?;
        let url = format!("https://127.0.0.1:{api_port}");
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");

        // One kubeconfig per identity, as kubeadm writes them: the admin, and the components
        // with the users their bootstrap RBAC roles are bound to (kubernetes v1.33.13,
        // plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go).
        let kubeconfig_for = |file: &Path, user: &str, groups: &[&str]| -> Result<(), Failure> {
            let (cert, key) = client_ca.issue_client(user, groups).map_err(pki_err)?;
            let text = pki::kubeconfig(layout::CLUSTER_NAME, &url, &server_ca.cert_pem, user, &cert, &key);
            pki::write_private(file, &text).map_err(pki_err)
        };
        kubeconfig_for(&l.kubeconfig(), layout::ADMIN_USER, &[layout::ADMIN_GROUP])?;
        let component = |name: &str| l.kubeconfigs().join(format!("{name}.kubeconfig"));
        kubeconfig_for(&component("kube-controller-manager"), "system:kube-controller-manager", &[])?;
        kubeconfig_for(&component("kube-scheduler"), "system:kube-scheduler", &[])?;
        kubeconfig_for(&component("kwok"), "kwok-controller", &[layout::ADMIN_GROUP])?;

        // etcd, one member; --unsafe-no-fsync as envtest sets it (sigs.k8s.io/controller-runtime v0.19.0,
        // pkg/internal/testing/controlplane/etcd.go).
        let peer = format!("http://127.0.0.1:{peer_port}");
        let etcd_args = vec![
            "--name=default".into(),
            format!("--data-dir={}", l.etcd_data().display()),
            format!("--listen-client-urls={etcd_url}"),
            format!("--advertise-client-urls={etcd_url}"),
            format!("--listen-peer-urls={peer}"),
            format!("--initial-advertise-peer-urls={peer}"),
            format!("--initial-cluster=default={peer}"),
            "--unsafe-no-fsync=true".into(),
            "--log-level=warn".into(),
        ];
        self.spawn("etcd", etcd_args, &[])?;
        loop {
            if etcd_healthy(etcd_port).await {
                break;
            }
            self.tick("etcd", "answer /health").await?;
        }

        let pki = |name: &str| l.pki_file(name).display().to_string();
        let apiserver_args = vec![
            format!("--etcd-servers={etcd_url}"),
            "--bind-address=127.0.0.1".into(),
            format!("--secure-port={api_port}"),
            "--advertise-address=127.0.0.1".into(),
            format!("--cert-dir={}", l.pki().display()),
            format!("--tls-cert-file={}", pki("apiserver.crt")),
            format!("--tls-private-key-file={}", pki("apiserver.key")),
            format!("--client-ca-file={}", pki("client-ca.crt")),
            format!("--service-cluster-ip-range={}", self.args.service_cidr),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
            format!("--service-account-key-file={}", pki("service-account.pub")),
            format!("--service-account-signing-key-file={}", pki("service-account.key")),
            "--authorization-mode=RBAC,Node".into(),
            "--allow-privileged=true".into(),
            "--profiling=false".into(),
            // kwok's kubelet server: at the node's InternalIP (127.0.0.1) and kubelet port.
            format!("--kubelet-client-certificate={}", pki("kubelet-client.crt")),
            format!("--kubelet-client-key={}", pki("kubelet-client.key")),
            format!("--kubelet-certificate-authority={}", pki("server-ca.crt")),
            "--kubelet-preferred-address-types=InternalIP".into(),
            // The `kubernetes` Service's endpoints would be the advertised 127.0.0.1, which
            // Endpoints validation refuses ("may not be in the loopback range": kubernetes
            // v1.33.13, pkg/apis/core/validation/validation.go `ValidateEndpointIP`), so no
            // reconciler: the Service exists, without endpoints.
            "--endpoint-reconciler-type=none".into(),
        ];
        self.spawn("kube-apiserver", apiserver_args, &[])?;
        let client = admin_client(&l.kubeconfig()).await.map_err(|e| failure("control-plane", e))?;
        loop {
            if readyz(&client).await {
                break;
            }
            self.tick("kube-apiserver", "answer /readyz").await?;
        }

        let kwok_port = if self.args.no_kwok { None } else { Some(free_port()?) };
        if kwok_port.is_some() {
            self.install_kwok_crds(&client).await?;
        }

        let cm = component("kube-controller-manager").display().to_string();
        let kcm_args = vec![
            format!("--kubeconfig={cm}"),
            format!("--authentication-kubeconfig={cm}"),
            format!("--authorization-kubeconfig={cm}"),
            "--bind-address=127.0.0.1".into(),
            "--secure-port=0".into(),
            "--leader-elect=false".into(),
            "--use-service-account-credentials=true".into(),
            format!("--service-account-private-key-file={}", pki("service-account.key")),
            format!("--root-ca-file={}", pki("server-ca.crt")),
            format!("--cluster-signing-cert-file={}", pki("client-ca.crt")),
            format!("--cluster-signing-key-file={}", pki("client-ca.key")),
            format!("--service-cluster-ip-range={}", self.args.service_cidr),
            "--profiling=false".into(),
        ];
        self.spawn("kube-controller-manager", kcm_args, &[])?;

        if !self.args.no_scheduler {
            let s = component("kube-scheduler").display().to_string();
            let scheduler_args = vec![
                format!("--kubeconfig={s}"),
                format!("--authentication-kubeconfig={s}"),
                format!("--authorization-kubeconfig={s}"),
                "--bind-address=127.0.0.1".into(),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
                "--profiling=false".into(),
            ];
            self.spawn("kube-scheduler", scheduler_args, &[])?;
        }

        let mut nodes = Vec::new();
        if let Some(kwok_port) = kwok_port {
            // kwok's kubelet server certificate, for the node addresses (127.0.0.1) and names.
            let names: Vec<String> = (0..self.args.nodes).map(|i| format!("kwok-node-{i}")).collect();
            let mut sans = vec!["127.0.0.1", "localhost"];
            sans.extend(names.iter().map(String::as_str));
            let (cert, key) = server_ca.issue_server("kwok", &sans).map_err(pki_err)?;
            write("kwok.crt", &cert)?;
            write("kwok.key", &key)?;
            let nodes_api: Api<Node> = Api::all(client.clone());
            for name in &names {
                let node =
                    serde_json::from_value(node_object(name)).map_err(|e| failure("control-plane", e.to_string()))?;
                nodes_api
                    .create(&PostParams::default(), &node)
                    .await
                    .map_err(|e| self.failure_with_log("kube-apiserver", format!("refused Node {name}: {e}")))?;
            }
            let kwok_args = vec![
                format!("--kubeconfig={}", component("kwok").display()),
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
                "--node-ip=127.0.0.1".into(),
                format!("--node-port={kwok_port}"),
                format!("--server-address=127.0.0.1:{kwok_port}"),
                format!("--tls-cert-file={}", pki("kwok.crt")),
                format!("--tls-private-key-file={}", pki("kwok.key")),
                "--enable-crds=PortForward,ClusterPortForward".into(),
                "--cidr=10.244.0.1/16".into(),
            ];
            let home = l.kwok_home();
            self.spawn("kwok", kwok_args, &[("HOME", &home)])?;
            loop {
                if nodes_ready(&nodes_api, &names).await {
                    break;
                }
                self.tick("kwok", "make every node Ready").await?;
            }
            nodes = names;
        }

        // kube-controller-manager works once it has made the `default` ServiceAccount (pods
        // cannot be created in a namespace before: ServiceAccount admission).
        let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
        loop {
            if matches!(service_accounts.get_opt("default").await, Ok(Some(_))) {
                break;
            }
            self.tick("kube-controller-manager", "create the default ServiceAccount").await?;
        }
        if let Some(node) = nodes.first() {
            self.warm_kwok_ip_pool(&client, node).await?;
        }

        let state = State {
            url,
            kubeconfig: l.kubeconfig(),
            dir: l.dir.clone(),
            etcd_url,
            nodes,
            kubelet_port: kwok_port,
            service_cidr: self.args.service_cidr.clone(),
            pids: self.programs.iter().map(|p| (p.name.to_string(), p.pid)).collect(),
            supervisor_pid: std::process::id(),
        };
        let text = serde_json::to_string_pretty(&state).map_err(|e| failure("control-plane", e.to_string()))?;
        std::fs::write(l.state(), text).map_err(io_failure("cannot write state.json"))?;
        Ok(state)
    }

    /// One pod through kwok before anyone else's: kwok makes its pod IP pool on first use with a
    /// load-then-store (sigs.k8s.io/kwok v0.7.0 pkg/kwok/controllers/pod_controller.go `ipPool`),
    /// so two pods arriving together at a fresh kwok can get two pools and the same IP. The pod
    /// is deleted once it has its IP (kwok recycles the address).
    async fn warm_kwok_ip_pool(&mut self, client: &kube::Client, node: &str) -> Result<(), Failure> {
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let name = "kwok-ip-pool-warm-up";
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "warm-up", "image": "registry.invalid/warm-up:1"}]},
        }))
        .map_err(|e| failure("control-plane", e.to_string()))?;
        pods.create(&PostParams::default(), &pod)
            .await
            .map_err(|e| failure("control-plane", format!("cannot create the kwok warm-up pod: {e}")))?;
        loop {
            let ip = pods.get_opt(name).await.ok().flatten().and_then(|p| p.status?.pod_ip);
            if ip.is_some() {
                break;
            }
            self.tick("kwok", "give the warm-up pod an IP").await?;
        }
        pods.delete(name, &DeleteParams { grace_period_seconds: Some(0), ..DeleteParams::default() })
            .await
            .map_err(|e| failure("control-plane", format!("cannot delete the kwok warm-up pod: {e}")))?;
        loop {
            if matches!(pods.get_opt(name).await, Ok(None)) {
                return Ok(());
            }
            self.tick("kwok", "let the warm-up pod go").await?;
        }
    }

    /// kwok's PortForward and ClusterPortForward CRDs from the build folder, Established.
    async fn install_kwok_crds(&mut self, client: &kube::Client) -> Result<(), Failure> {
        let crds_dir = self.bin_dir.parent().map(|p| p.join("crds")).unwrap_or_default();
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        let mut names = Vec::new();
        for file in ["kwok.x-k8s.io_portforwards.yaml", "kwok.x-k8s.io_clusterportforwards.yaml"] {
            let path = crds_dir.join(file);
            let text =
                std::fs::read_to_string(&path).map_err(io_failure(&format!("cannot read {}", path.display())))?;
            let crd: CustomResourceDefinition = serde_saphyr::from_str(&text)
                .map_err(|e| failure("control-plane", format!("{}: {e}", path.display())))?;
            names.push(crd.metadata.name.clone().unwrap_or_default());
            api.create(&PostParams::default(), &crd)
                .await
                .map_err(|e| self.failure_with_log("kube-apiserver", format!("refused CRD {file}: {e}")))?;
        }
        for name in names {
            loop {
                let established = api.get_opt(&name).await.ok().flatten().is_some_and(|crd| {
                    crd.status
                        .and_then(|s| s.conditions)
                        .unwrap_or_default()
                        .iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                });
                if established {
                    break;
                }
                self.tick("kube-apiserver", &format!("establish CRD {name}")).await?;
            }
        }
        Ok(())
    }

    /// After READY: until a stop request (0) or a program's unexpected exit (1).
    async fn run_until_stopped(&mut self) -> i32 {
        let mut stop = self.stop.clone();
        let mut interval = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = stop.wait_for(Option::is_some) => return 0,
                _ = interval.tick() => {
                    if let Some(dead) = self.exited() {
                        report_failure(&dead);
                        return 1;
                    }
                }
            }
        }
    }

    /// Stops the programs in three stages, each waited for: the API server's clients, then
    /// kube-apiserver (which still needs etcd while it shuts down), then etcd. A stage's programs
    /// get SIGTERM to their process group, and SIGKILL if still there after the grace period.
    /// Last, SIGKILL to every group for anything they started.
    async fn stop_all(&mut self) {
        let stages: [&[&str]; 3] =
            [&["kwok", "kube-scheduler", "kube-controller-manager"], &["kube-apiserver"], &["etcd"]];
        for stage in stages {
            self.stop_stage(stage).await;
        }
        for p in &self.programs {
            if let Some(pid) = process_group(p.pid) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }

    async fn stop_stage(&mut self, names: &[&str]) {
        use rustix::process::{Signal, kill_process_group};
        let grace = self.args.grace;
        for p in self.programs.iter().filter(|p| names.contains(&p.name)) {
            // `id()` is None once the child has been reaped.
            if let (Some(_), Some(pid)) = (p.child.id(), process_group(p.pid)) {
                let _ = kill_process_group(pid, Signal::TERM);
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(grace);
        for p in self.programs.iter_mut().filter(|p| names.contains(&p.name)) {
            if tokio::time::timeout_at(deadline, p.child.wait()).await.is_err() {
                note(&format!("{} did not stop within {grace} s of SIGTERM: SIGKILL", p.name));
                if let Some(pid) = process_group(p.pid) {
                    let _ = kill_process_group(pid, Signal::KILL);
                }
                let _ = p.child.wait().await;
            }
        }
    }
}

fn process_group(pid: u32) -> Option<rustix::process::Pid> {
    rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)
}

/// The first address of an IPv4 CIDR: the `kubernetes` Service's ClusterIP.
fn first_service_ip(cidr: &str) -> Option<String> {
    let (ip, bits) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    Some(std::net::Ipv4Addr::from((u32::from(ip) & mask) + 1).to_string())
}

/// A Node for kwok to manage, as kwok's documentation creates them (sigs.k8s.io/kwok v0.7.0,
/// site/content/en/docs/user/kwok-in-cluster.md, node.yaml): kwok fills in its status.
fn node_object(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/role": "agent",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
    })
}

async fn etcd_healthy(port: u16) -> bool {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").await.ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).await.ok()?;
        Some(body.contains("\"health\":\"true\""))
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), attempt).await, Ok(Some(true)))
}

pub(crate) async fn admin_client(kubeconfig: &Path) -> Result<kube::Client, String> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
    kube::Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))
}

async fn readyz(client: &kube::Client) -> bool {
    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else { return false };
    matches!(tokio::time::timeout(Duration::from_secs(5), client.request_text(request)).await, Ok(Ok(body)) if body.trim() == "ok")
}

async fn nodes_ready(api: &Api<Node>, names: &[String]) -> bool {
    let Ok(list) = api.list(&Default::default()).await else { return false };
    names.iter().all(|name| {
        list.items.iter().any(|node| {
            node.metadata.name.as_deref() == Some(name)
                && node
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_service_ip_is_the_kubernetes_service() {
        assert_eq!(first_service_ip("10.96.0.0/12").as_deref(), Some("10.96.0.1"));
        assert_eq!(first_service_ip("10.100.5.0/16").as_deref(), Some("10.100.0.1"));
        assert_eq!(first_service_ip("fd00::/108"), None);
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "a\nb\nc\n").unwrap();
        assert_eq!(log_tail(&path, 2), "b\nc");
        assert_eq!(log_tail(&dir.path().join("missing"), 2), "");
    }
}
