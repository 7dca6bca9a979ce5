//! The conformance suites' harness: the same test code against three backends.
//!
//! - the simulator, one per test (the `fidelity`, `kube_rs`, `kubectl` targets);
//! - the real control plane of `crates/control-plane` (etcd, kube-apiserver,
//!   kube-controller-manager, kube-scheduler v1.33.13, kwok), one shared instance per test
//!   process, each test in namespaces of its own (the `*_real` targets: `tests/<suite>_real.rs`
//!   compiles `tests/<suite>.rs` again; the target's name picks the backend). It is built or
//!   started on first use; when it cannot be, the test fails — it never skips;
//! - any cluster named by `VCLUSTER_E2E_KUBECONFIG` (every target then uses it).
//!
//! Simulator-only controls (fault injection, the request log, compaction, dropped watches,
//! simulators of the test's own) run only where `env.sim` is `Some`; everything else runs on
//! every backend.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hyper::{Method, StatusCode};
use kube_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

pub const REAL_CLUSTER_ENV: &str = "VCLUSTER_E2E_KUBECONFIG";

/// Where the tests of this process run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A kube-sim simulator per test.
    Simulator,
    /// The shared real control plane of this process (`control_plane::ControlPlane::shared`).
    ControlPlane,
    /// The cluster of `VCLUSTER_E2E_KUBECONFIG`.
    Cluster,
}

/// The backend of this test process: `VCLUSTER_E2E_KUBECONFIG` if set, else the real control
/// plane in the `*_real` targets, else the simulator.
pub fn backend() -> Backend {
    if std::env::var_os(REAL_CLUSTER_ENV).is_some() {
        Backend::Cluster
    } else if env!("CARGO_CRATE_NAME").ends_with("_real") {
        Backend::ControlPlane
    } else {
        Backend::Simulator
    }
}

/// The shared control plane, or a panic naming what failed (a test that needs it fails).
pub async fn control_plane() -> &'static control_plane::ControlPlane {
    match control_plane::ControlPlane::shared().await {
        Ok(cp) => cp,
        Err(e) => panic!(
            "the real control plane (crates/control-plane) could not be built or started, so this test fails: {e}"
        ),
    }
}

pub struct Env {
    pub sim: Option<Simulator>,
    pub backend: Backend,
    kubeconfig: PathBuf,
    pub client: kube::Client,
    /// A namespace of this test's own.
    pub ns: String,
}

impl Env {
    /// A backend (see [`backend`]) and a namespace `ks-<test>-<random>` in it, once its
    /// `default` ServiceAccount and `kube-root-ca.crt` ConfigMap exist (kube-controller-manager
    /// writes them a moment after the namespace; until the ServiceAccount exists, pods are
    /// rejected by ServiceAccount admission). The simulator authorizes with RBAC, as a real
    /// cluster does (the kubeconfig's user is an admin on both).
    pub async fn new(test: &str) -> Env {
        Env::start(test, true).await
    }

    /// As [`Env::new`], for kubectl: the simulator serves plain HTTP, where kubectl sends no
    /// credentials (it is `system:anonymous` there), so it allows everything instead of RBAC.
    /// A real cluster is used as it is (kubectl authenticates over TLS there).
    pub async fn for_kubectl(test: &str) -> Env {
        Env::start(test, false).await
    }

    async fn start(test: &str, rbac: bool) -> Env {
        let backend = backend();
        let (sim, kubeconfig, client) = match backend {
            Backend::Simulator => {
                let sim =
                    Simulator::start_with(SimConfig { rbac, ..Default::default() }).await.expect("simulator starts");
                let path = sim.kubeconfig_path().to_path_buf();
                let client = sim.client().await.expect("client");
                (Some(sim), path, client)
            }
            Backend::ControlPlane => {
                let cp = control_plane().await;
                let client = cp.client().await.expect("a client of the real control plane");
                (None, cp.kubeconfig_path().to_path_buf(), client)
            }
            Backend::Cluster => {
                let path = PathBuf::from(std::env::var_os(REAL_CLUSTER_ENV).expect("set"));
                let kc = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig");
                let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("config");
                (None, path, kube::Client::try_from(config).expect("client"))
            }
        };
        let ns = format!("ks-{test}-{:04x}", fastrand_u16());
        let env = Env { sim, backend, kubeconfig, client, ns };
        let (code, body) =
            env.request(Method::POST, "/api/v1/namespaces", Some(json!({"metadata": {"name": env.ns}}))).await;
        assert_eq!(code, StatusCode::CREATED, "creating the test namespace: {body}");
        for path in [
            format!("{}/default", env.ns_path("serviceaccounts")),
            format!("{}/kube-root-ca.crt", env.ns_path("configmaps")),
        ] {
            eventually(Duration::from_secs(60), || async {
                (env.request(Method::GET, &path, None).await.0 == StatusCode::OK).then_some(())
            })
            .await;
        }
        env
    }

    /// The service CIDR the backend was started with, where the harness knows it.
    pub fn service_cidr(&self) -> Option<&'static str> {
        match self.backend {
            // SimConfig's and control_plane::Options::host's default.
            Backend::Simulator | Backend::ControlPlane => Some("10.96.0.0/12"),
            Backend::Cluster => None,
        }
    }

    /// Whether controllers and a scheduler act on what the test writes (a real cluster); the
    /// simulator runs in-process without its workload mode.
    pub fn controllers_run(&self) -> bool {
        self.backend != Backend::Simulator
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A client of the same server whose credentials `change` rewrites (a token instead of
    /// the admin's, or `Impersonate-*` fields).
    pub async fn client_with(&self, change: impl FnOnce(&mut kube::config::AuthInfo)) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.expect("config");
        change(&mut config.auth_info);
        kube::Client::try_from(config).expect("client")
    }

    /// A ServiceAccount `name` of the test namespace and a client authenticated by a token
    /// of it (TokenRequest): a user without any permission beyond the defaults.
    pub async fn service_account_client(&self, name: &str) -> (kube::Client, String) {
        let (code, body) = self
            .request(Method::POST, &self.ns_path("serviceaccounts"), Some(json!({"metadata": {"name": name}})))
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        let path = self.ns_path(&format!("serviceaccounts/{name}/token"));
        let (code, body) = self
            .request(
                Method::POST,
                &path,
                Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})),
            )
            .await;
        assert_eq!(code, StatusCode::CREATED, "{body}");
        let token = body["status"]["token"].as_str().expect("a token").to_string();
        let client = self
            .client_with(|auth| {
                *auth = kube::config::AuthInfo { token: Some(token.into()), ..Default::default() };
            })
            .await;
        (client, format!("system:serviceaccount:{}:{name}", self.ns))
    }

    /// A raw request by `client` with extra headers; status, headers and the body (JSON, or
    /// the text as a JSON string).
    pub async fn send(
        &self,
        client: &kube::Client,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, hyper::HeaderMap, Value) {
        use http_body_util::BodyExt as _;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("User-Agent", "kube-sim-conformance/v0 (test)");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let resp = client.send(req.body(kube::client::Body::from(body)).expect("request")).await.expect("send");
        let code = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (code, headers, value)
    }

    /// A raw request; JSON body in, status and JSON body out.
    pub async fn request(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (code, _, body) =
            self.request_full(method, path, "application/json", body.map(|b| b.to_string().into_bytes())).await;
        (code, body)
    }

    /// A raw request with a content type and raw body; returns the headers too.
    pub async fn request_full(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, hyper::HeaderMap, Value) {
        self.request_accept(method, path, content_type, "application/json", body).await
    }

    pub async fn request_accept(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        accept: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, hyper::HeaderMap, Value) {
        use http_body_util::BodyExt as _;
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("Content-Type", content_type)
            .header("Accept", accept)
            .header("User-Agent", "kube-sim-conformance/v0 (test)")
            .body(kube::client::Body::from(body.unwrap_or_default()))
            .expect("request");
        let resp = self.client.send(req).await.expect("send");
        let code = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (code, headers, value)
    }

    /// Lines of a watch that ends by itself (`timeoutSeconds`).
    pub async fn watch_lines(&self, path: &str) -> Vec<Value> {
        let (code, _, body) = self.request_full(Method::GET, path, "application/json", None).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        let text = match body {
            Value::String(s) => s,
            other => other.to_string(),
        };
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("event line")).collect()
    }

    pub fn ns_path(&self, resource: &str) -> String {
        format!("/api/v1/namespaces/{}/{resource}", self.ns)
    }

    pub fn apps_path(&self, resource: &str) -> String {
        format!("/apis/apps/v1/namespaces/{}/{resource}", self.ns)
    }

    /// Remove the test namespace (best effort, not awaited; a simulator is dropped anyway).
    pub async fn cleanup(self) {
        if self.sim.is_none() {
            let _ = self.request(Method::DELETE, &format!("/api/v1/namespaces/{}", self.ns), None).await;
        }
    }

    /// PUT to `path` the object `edit` makes of a fresh GET, again while a controller's
    /// concurrent write makes it stale (409). Returns the answer and the object as it was read.
    pub async fn put_fresh(&self, path: &str, edit: impl Fn(&mut Value)) -> (StatusCode, Value, Value) {
        let get_path = path.split('?').next().unwrap_or(path).trim_end_matches("/status").trim_end_matches("/scale");
        for _ in 0..20 {
            let (code, live) = self.request(Method::GET, get_path, None).await;
            assert_eq!(code, StatusCode::OK, "GET {get_path}: {live}");
            let mut edited = live.clone();
            edit(&mut edited);
            let (code, body) = self.request(Method::PUT, path, Some(edited)).await;
            if code != StatusCode::CONFLICT || body["reason"] != "Conflict" {
                return (code, body, live);
            }
        }
        panic!("PUT {path} conflicted 20 times");
    }
}

fn fastrand_u16() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish() as u16
}

/// Poll `check` until it returns Some, for up to `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not reached within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// kubectl with its own cache directory, checked to be a 1.33 client against this server
/// (the machine's kubectl dispatches by the server's version). Fails when kubectl is missing.
/// Runs as a child process without blocking the runtime that serves the simulator.
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache: tempfile::TempDir,
}

impl Kubectl {
    pub async fn new(kubeconfig: &Path) -> Kubectl {
        let k = Kubectl { kubeconfig: kubeconfig.to_path_buf(), cache: tempfile::tempdir().expect("cache dir") };
        let out = k.run(&["version", "-o", "json"]).await;
        assert!(out.status.success(), "kubectl version failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).expect("kubectl version -o json");
        assert_eq!(v["clientVersion"]["minor"], "33", "kubectl client is not 1.33: {v}");
        k
    }

    pub fn cache_dir(&self) -> &Path {
        self.cache.path()
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `kubectl port-forward ARGS` (`KUBECTL_PORT_FORWARD_WEBSOCKETS` on or off), once it has
    /// printed the local IPv4 port of each `[LOCAL]:REMOTE` argument.
    pub async fn port_forward(&self, websockets: bool, args: &[&str]) -> (tokio::process::Child, Vec<u16>) {
        use tokio::io::AsyncBufReadExt as _;
        let mut child = tokio::process::Command::new("kubectl")
            .arg("port-forward")
            .args(args)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", if websockets { "true" } else { "false" })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("kubectl must be on the PATH (it is required, not optional)");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
        let wanted = args.iter().filter(|a| a.contains(':')).count();
        let mut ports = Vec::new();
        while ports.len() < wanted {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .expect("kubectl port-forward started in time")
                .expect("stdout readable")
                .expect("a line");
            // "Forwarding from 127.0.0.1:41234 -> 8080"
            if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
                ports.push(rest.split(' ').next().unwrap_or_default().parse().expect("a port"));
            }
        }
        // Keep reading: kubectl dies of SIGPIPE when its stdout is closed.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        (child, ports)
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None).await
    }

    pub async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use tokio::io::AsyncWriteExt as _;
        let mut cmd = tokio::process::Command::new("kubectl");
        cmd.args(args)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("kubectl must be on the PATH (it is required, not optional)");
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes()).await.expect("write stdin");
            drop(pipe);
        }
        tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kubectl finished within 2 minutes")
            .expect("kubectl runs")
    }

    /// Run and require success; returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        self.ok_with_stdin(args, None).await
    }

    pub async fn ok_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run_with_stdin(args, stdin).await;
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
