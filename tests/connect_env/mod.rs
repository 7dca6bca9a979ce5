//! The world of the connect, disconnect and port-forward tests: a host simulator (workloads on, so
//! a StatefulSet gets a pod that becomes Ready, and is replaced when deleted), a second simulator
//! over TLS that rejects anonymous requests as the virtual API server behind the host pod's port
//! 8443 (`kube_sim::fixtures::vcluster`), the vcluster `my-vc` in namespace `team`, and a private
//! HOME, XDG state directory and kubeconfig for the CLI. Dropping it kills every forwarder this
//! test started, and fails the test if one was still running: no forwarder outlives a test.
#![allow(dead_code)]

#[path = "../support/basics.rs"]
mod basics;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube_sim::fixtures::vcluster::{self, SyncerOptions};
use kube_sim::{SimConfig, Simulator, Workloads};

pub const NAME: &str = "my-vc";
pub const NAMESPACE: &str = "team";
/// The host kubeconfig's context (the simulator's).
pub const HOST_CONTEXT: &str = "kube-sim";
/// The context `connect` adds by default.
pub const CONTEXT: &str = "vcluster_my-vc_team_kube-sim";
/// Only the virtual cluster has this namespace.
pub const VIRTUAL_ONLY: &str = "only-in-the-virtual-cluster";

pub const STATEFULSET: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: my-vc
  namespace: team
  labels: {app: vcluster, release: my-vc}
spec:
  serviceName: my-vc-headless
  replicas: 1
  selector:
    matchLabels: {app: vcluster, release: my-vc}
  template:
    metadata:
      labels: {app: vcluster, release: my-vc}
    spec:
      containers:
      - name: syncer
        image: ghcr.io/loft-sh/vcluster:0.19.7
        ports: [{name: https, containerPort: 8443}]
"#;

pub struct Env {
    pub host: Simulator,
    pub virtual_cluster: Simulator,
    pub dir: tempfile::TempDir,
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vcluster"))
}

impl Env {
    /// Host and virtual cluster, the vcluster's StatefulSet seeded (the CLI waits for it).
    pub fn start() -> Env {
        let env = Env::bare();
        env.host
            .seed_yaml(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NAMESPACE}}}\n---\n{STATEFULSET}"))
            .unwrap();
        env
    }

    /// Host and virtual cluster, nothing seeded on the host.
    pub fn bare() -> Env {
        let host = Simulator::start_blocking(SimConfig {
            workloads: Workloads { enabled: true, ..Default::default() },
            ..Default::default()
        })
        .unwrap();
        let virtual_cluster =
            Simulator::start_blocking(SimConfig { tls: true, reject_anonymous: true, ..Default::default() }).unwrap();
        virtual_cluster
            .seed_yaml(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {VIRTUAL_ONLY}}}\n"))
            .unwrap();
        vcluster::stand_in_for_syncer(&host, &virtual_cluster, NAMESPACE, NAME, &SyncerOptions::default());
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::copy(host.kubeconfig_path(), dir.path().join("kubeconfig")).unwrap();
        Env { host, virtual_cluster, dir }
    }

    /// The user's kubeconfig (a copy of the host simulator's).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `vcluster ARGS` with the test's HOME, XDG_STATE_HOME and KUBECONFIG, no terminal.
    pub fn vcluster(&self, args: &[&str]) -> Command {
        self.command(&binary(), args)
    }

    /// `program ARGS` in the CLI's environment (see [`Env::vcluster`]).
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_STATE_HOME", self.state_dir())
            .env("KUBECONFIG", self.kubeconfig())
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Run to completion, within a minute.
    pub fn run(&self, args: &[&str]) -> Output {
        finish(self.vcluster(args).spawn().unwrap(), Duration::from_secs(60))
    }

    /// `vcluster connect my-vc -n team CONNECT_ARGS -- kubectl KUBECTL_ARGS` (kubectl with the
    /// test's cache directory).
    pub fn connect_kubectl(&self, connect_args: &[&str], kubectl_args: &[&str]) -> Output {
        let cache = self.dir.path().join("kubectl-cache");
        let mut args = vec!["connect", NAME, "-n", NAMESPACE];
        args.extend_from_slice(connect_args);
        args.extend(["--", "kubectl"]);
        args.extend_from_slice(kubectl_args);
        args.extend(["--cache-dir", cache.to_str().unwrap()]);
        self.run(&args)
    }

    /// `kubectl ARGS` with `kubeconfig` (kubectl 1.33 checked), its own cache directory.
    pub fn kubectl(&self, kubeconfig: &Path, args: &[&str]) -> Output {
        check_kubectl(self.host.kubeconfig_path());
        let child = Command::new("kubectl")
            .args(args)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kubectl-cache"))
            .arg("--request-timeout=20s")
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", self.dir.path().join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("kubectl is required on the PATH for this test: {e}"));
        finish(child, Duration::from_secs(60))
    }

    /// The namespaces kubectl sees through `kubeconfig` (`namespace/x` lines).
    pub fn namespaces(&self, kubeconfig: &Path) -> String {
        let out = self.kubectl(kubeconfig, &["get", "namespaces", "-o", "name"]);
        assert!(out.status.success(), "kubectl get namespaces: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Pids of the forwarders this test started (found by their environment, so even one whose
    /// files were removed is found).
    pub fn forwarders(&self) -> Vec<u32> {
        let marker = format!("XDG_STATE_HOME={}", self.state_dir().display());
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if !cmdline.split(|b| *b == 0).any(|a| a == b"__forwarder") {
                continue;
            }
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            if environ.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) && !is_zombie(pid) {
                pids.push(pid);
            }
        }
        pids
    }

    /// Kill every forwarder of this test; returns how many there were.
    pub fn kill_forwarders(&self) -> usize {
        let pids = self.forwarders();
        for pid in &pids {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        eventually(Duration::from_secs(10), || self.forwarders().is_empty().then_some(()));
        pids.len()
    }

    /// The kubeconfig as parsed YAML.
    pub fn kubeconfig_value(&self) -> serde_json::Value {
        serde_saphyr::from_str(&std::fs::read_to_string(self.kubeconfig()).unwrap()).unwrap()
    }

    pub fn current_context(&self) -> String {
        self.kubeconfig_value()["current-context"].as_str().unwrap_or_default().to_owned()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let leftover = self.kill_forwarders();
        if leftover > 0 && !std::thread::panicking() {
            panic!("{leftover} forwarder(s) outlived the test");
        }
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')))
        .unwrap_or(true)
}

pub fn is_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Wait for a child with a deadline (killed and failed past it), collecting its output.
pub fn finish(mut child: std::process::Child, within: Duration) -> Output {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not finish within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() }
}

/// Retry `check` until it gives a value, for at most `within`.
pub fn eventually<T>(within: Duration, check: impl FnMut() -> Option<T>) -> T {
    basics::eventually(within, "condition", check)
}

/// kubectl is the 1.33 client: the machine's kubectl dispatches by the server's version, and every
/// simulator here reports v1.33.1; checked once against `kubeconfig`'s server.
pub fn check_kubectl(kubeconfig: &Path) {
    static CHECKED: std::sync::Once = std::sync::Once::new();
    CHECKED.call_once(|| {
        let out = Command::new("kubectl")
            .args(["version", "-o", "json"])
            .env("KUBECONFIG", kubeconfig)
            .output()
            .unwrap_or_else(|e| panic!("kubectl is required on the PATH for this test: {e}"));
        let version: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(version["clientVersion"]["minor"], "33", "{version}");
    });
}
