//! Running the real `vcluster` binary against the API-server simulator (in-process, listening on
//! a real port, on a runtime of its own), and reading the results back independently: release
//! records through the Python decoder, objects and the request log from the simulator.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kube_sim::fixtures::vcluster;
use kube_sim::{RequestRecord, SimConfig, Simulator, Workloads};
use serde_json::{Value, json};

/// The simulator plus a clean home directory for the CLI.
pub struct Host {
    pub sim: Simulator,
    pub home: tempfile::TempDir,
    /// Virtual API servers behind stand-in syncers ([`Host::with_syncer`]).
    virtual_clusters: Vec<Simulator>,
}

pub use super::basics::Run;

pub fn vcluster_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vcluster"))
}

impl Host {
    pub fn start(config: SimConfig) -> Host {
        Host {
            sim: Simulator::start_blocking(config).unwrap(),
            home: tempfile::tempdir().unwrap(),
            virtual_clusters: Vec::new(),
        }
    }

    pub fn new() -> Host {
        Host::start(SimConfig { service_cidrs: vec!["10.100.0.0/16".into()], ..SimConfig::default() })
    }

    /// A host whose workloads come alive at once (scheduler, kubelet, controllers).
    pub fn alive() -> Host {
        Host::start(SimConfig {
            service_cidrs: vec!["10.100.0.0/16".into()],
            workloads: Workloads { enabled: true, ..Workloads::default() },
            ..SimConfig::default()
        })
    }

    /// Stand in for the syncer of `name` in `namespace` (the simulator's fixture): once pod
    /// `<name>-0` runs, the Secret `vc-<name>` appears, for a virtual API server of its own.
    pub fn with_syncer(&mut self, namespace: &str, name: &str) {
        let virtual_cluster = Simulator::start_blocking(SimConfig { tls: true, ..SimConfig::default() }).unwrap();
        vcluster::stand_in_for_syncer(
            &self.sim,
            &virtual_cluster,
            namespace,
            name,
            &vcluster::SyncerOptions::default(),
        );
        self.virtual_clusters.push(virtual_cluster);
    }

    /// The command, without a terminal, with the simulator's kubeconfig and nothing of the
    /// user's environment.
    pub fn command(&self, kubeconfig: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(vcluster_binary());
        cmd.args(args)
            .env_remove("KUBECONFIG")
            .env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env("KUBECONFIG", kubeconfig)
            .current_dir(self.home.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(self.sim.kubeconfig_path(), args)
    }

    pub fn run_with(&self, kubeconfig: &Path, args: &[&str]) -> Run {
        finish(self.command(kubeconfig, args).spawn().expect("run vcluster"))
    }

    /// A kubeconfig file authenticating as `user`.
    pub fn kubeconfig_for(&self, user: &str) -> PathBuf {
        let path = self.home.path().join(format!("kubeconfig-{user}"));
        std::fs::write(&path, self.sim.kubeconfig_for(user, &[]).unwrap()).unwrap();
        path
    }

    /// Requests that changed (or could have changed) state: non-dry-run writes, except the
    /// SelfSubject*Reviews, which are POSTs that store nothing.
    pub fn writes(&self) -> Vec<RequestRecord> {
        self.sim.requests().into_iter().filter(|r| r.is_write() && !r.path.contains("/selfsubject")).collect()
    }

    /// The release records of `name` in `namespace` as stored Secrets, oldest first.
    pub fn record_secrets(&self, namespace: &str, name: &str) -> Vec<Value> {
        let mut secrets: Vec<Value> = self
            .sim
            .objects("v1", "Secret")
            .into_iter()
            .filter(|s| {
                s["metadata"]["namespace"] == namespace
                    && s["metadata"]["labels"]["owner"] == "helm"
                    && s["metadata"]["labels"]["name"] == name
            })
            .collect();
        secrets.sort_by_key(|s| s["metadata"]["labels"]["version"].as_str().unwrap().parse::<u32>().unwrap());
        secrets
    }

    /// The records decoded by the independent decoder (`tests/support/decode_release.py`).
    pub fn records(&self, namespace: &str, name: &str) -> Vec<Value> {
        python_decode(&json!({"items": self.record_secrets(namespace, name)})).as_array().unwrap().clone()
    }

    /// `(status label, decoded status, description)` of every revision, oldest first.
    pub fn statuses(&self, namespace: &str, name: &str) -> Vec<(String, String, String)> {
        let secrets = self.record_secrets(namespace, name);
        let decoded = self.records(namespace, name);
        secrets
            .iter()
            .zip(&decoded)
            .map(|(s, r)| {
                (
                    s["metadata"]["labels"]["status"].as_str().unwrap().to_owned(),
                    r["info"]["status"].as_str().unwrap().to_owned(),
                    r["info"]["description"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    pub fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.sim.object(api_version, kind, namespace, name)
    }

    /// `Kind/name` of every object in `namespace` (and cluster-scoped) whose Helm annotations
    /// name release `name` in `namespace`, sorted; objects a controller made (an owner
    /// reference: ControllerRevisions copy the StatefulSet's annotations) left out.
    pub fn release_objects(&self, namespace: &str, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .sim
            .snapshot()
            .into_iter()
            .filter(|o| {
                let annotations = &o["metadata"]["annotations"];
                annotations["meta.helm.sh/release-name"] == name
                    && annotations["meta.helm.sh/release-namespace"] == namespace
                    && (o["metadata"]["namespace"] == namespace || o["metadata"].get("namespace").is_none())
                    && o["metadata"].get("ownerReferences").is_none()
            })
            .map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap()))
            .collect();
        out.sort();
        out
    }
}

/// A CLI run in progress whose stderr is read as it comes, so a test can wait for what the CLI
/// says it is doing (a phase, a warning) instead of guessing how long it takes.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: String,
    reader: std::thread::JoinHandle<()>,
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        let mut child = command.spawn().expect("run vcluster");
        let stderr = child.stderr.take().expect("stderr piped");
        let (send, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, lines, stderr: String::new(), reader }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait (at most `within`) until the CLI prints a stderr line containing `text`.
    pub fn wait_for_line(&mut self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(text);
                    self.stderr.push_str(&line);
                    self.stderr.push('\n');
                    if found {
                        return;
                    }
                }
                Err(_) => panic!("no stderr line with {text:?} within {within:?}; stderr so far:\n{}", self.stderr),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll vcluster").is_none()
    }

    /// Send `signal` (`INT`, `TERM`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill").args([&format!("-{signal}"), &self.pid().to_string()]).status().unwrap();
        assert!(sent.success(), "kill -{signal}");
    }

    /// Wait for the process to exit and collect its output.
    pub fn finish(mut self) -> Run {
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).expect("read stdout");
        }
        let status = self.child.wait().expect("wait for vcluster");
        self.reader.join().expect("stderr reader");
        self.stderr.extend(self.lines.try_iter().map(|line| line + "\n"));
        Run { code: status.code().unwrap_or(-1), stdout, stderr: self.stderr }
    }
}

/// Wait for a spawned CLI and collect its output.
pub fn finish(child: std::process::Child) -> Run {
    let out = child.wait_with_output().expect("wait for vcluster");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Decode Secrets (one, or `{"items": [...]}`) with the independent Python decoder. Fails
/// (never skips) without python3.
pub fn python_decode(secrets: &Value) -> Value {
    serde_json::from_slice(&super::run_python("decode_release.py", secrets.to_string().as_bytes())).unwrap()
}

/// The established vcluster CLI's "already exists" predicate, written independently of the
/// library from its description (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/create.go`): over
/// the release Secrets, skip `superseded`/`uninstalled` (by the decoded status), take the highest
/// version; it exists when its chart is `vcluster`, `vcluster-k0s` or `vcluster-k8s` and the
/// Secret's `status` label is `deployed`.
pub fn established_cli_sees_existing(secrets: &[Value]) -> bool {
    let decoded = python_decode(&json!({"items": secrets}));
    let latest = secrets
        .iter()
        .zip(decoded.as_array().unwrap())
        .filter(|(_, r)| !matches!(r["info"]["status"].as_str(), Some("superseded" | "uninstalled")))
        .max_by_key(|(_, r)| r["version"].as_u64());
    latest.is_some_and(|(s, r)| {
        matches!(r["chart"]["metadata"]["name"].as_str(), Some("vcluster" | "vcluster-k0s" | "vcluster-k8s"))
            && s["metadata"]["labels"]["status"] == "deployed"
    })
}
