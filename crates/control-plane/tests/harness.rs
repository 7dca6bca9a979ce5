//! The harness itself against the real programs: kubectl through the version dispatcher,
//! workloads on kwok nodes, port-forward to a loopback backend, RBAC, side-by-side instances,
//! and cleanup after stop, after the test process dies and after the supervisor dies.
//!
//! Waits poll a condition until a deadline (never a fixed sleep for an event).

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use control_plane::{ControlPlane, Error, Options};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};

const DEADLINE: Duration = Duration::from_secs(90);

/// The supervisor cargo built with these tests (the library would build it otherwise).
fn options(options: Options) -> Options {
    Options { supervisor: Some(env!("CARGO_BIN_EXE_control-plane").into()), ..options }
}

/// Polls `check` until it gives `Some`, or panics after `DEADLINE` saying `what` was awaited.
async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {DEADLINE:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A new namespace with its `default` ServiceAccount (pods need it: ServiceAccount admission).
async fn namespace(client: &kube::Client, prefix: &str) -> String {
    let name = format!("{prefix}-{:06x}", std::process::id() ^ (rand_u32() & 0xffffff));
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.unwrap();
    let sa: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
    wait_for("the namespace's default ServiceAccount", || async { sa.get_opt("default").await.ok().flatten() }).await;
    name
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64);
    h.finish() as u32
}

fn is_running_and_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        && status.and_then(|s| s.pod_ip.as_deref()).is_some_and(|ip| !ip.is_empty())
}

async fn running_pod(client: &kube::Client, ns: &str, name: &str, port: i32) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1", "ports": [{"containerPort": port}]}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_for(&format!("pod {ns}/{name} Running and Ready"), || async {
        pods.get(name).await.ok().filter(is_running_and_ready)
    })
    .await
}

/// A TCP echo server on 127.0.0.1 (a pod's "container" for port-forward tests).
async fn echo_backend() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

async fn echo_through<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut stream: S,
    payload: &[u8],
) -> Vec<u8> {
    stream.write_all(payload).await.unwrap();
    let mut back = vec![0u8; payload.len()];
    tokio::time::timeout(Duration::from_secs(20), stream.read_exact(&mut back)).await.expect("echo in time").unwrap();
    back
}

fn kubectl(kubeconfig: &Path, cache: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("kubectl");
    command.arg("--kubeconfig").arg(kubeconfig).arg("--cache-dir").arg(cache).kill_on_drop(true);
    command
}

/// Whether any process's command line mentions `dir` (every program's flags name its folder).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if !entry.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) {
                found.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Whether a process runs (exists and is no zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')))
}

async fn assert_all_gone(dir: &Path, folder_too: bool) {
    wait_for(&format!("no process of {} left", dir.display()), || async {
        let left = processes_mentioning(dir);
        left.is_empty().then_some(())
    })
    .await;
    if folder_too {
        wait_for(&format!("{} removed", dir.display()), || async { (!dir.exists()).then_some(()) }).await;
    }
}

#[tokio::test]
async fn kubectl_through_the_dispatcher_is_1_33() {
    let cp = ControlPlane::shared().await.expect("the shared control plane starts");
    let cache = tempfile::tempdir().unwrap();
    let out = kubectl(cp.kubeconfig_path(), cache.path()).args(["version", "-o", "json"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let version: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(version["serverVersion"]["gitVersion"], "v1.33.13", "{version}");
    assert_eq!(version["serverVersion"]["minor"], "33", "{version}");
    assert_eq!(version["clientVersion"]["minor"], "33", "the dispatcher picks kubectl by /version: {version}");

    let out = kubectl(cp.kubeconfig_path(), cache.path()).args(["get", "ns", "-o", "name"]).output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let names = String::from_utf8_lossy(&out.stdout);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.lines().any(|l| l == format!("namespace/{ns}")), "{names}");
    }
}

#[tokio::test]
async fn a_deployment_runs_ready_pods_with_ips_on_the_kwok_node() {
    let cp = ControlPlane::shared().await.expect("the shared control plane starts");
    assert_eq!(cp.nodes(), ["kwok-node-0"]);
    let client = cp.client().await.unwrap();
    let ns = namespace(&client, "deploy").await;
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
            },
        },
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &ns).create(&PostParams::default(), &deployment).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let ready = wait_for("2 pods Running and Ready", || async {
        let list = pods.list(&ListParams::default().labels("app=web")).await.ok()?;
        let ready: Vec<Pod> = list.items.into_iter().filter(is_running_and_ready).collect();
        (ready.len() == 2).then_some(ready)
    })
    .await;
    for pod in &ready {
        assert_eq!(pod.spec.as_ref().unwrap().node_name.as_deref(), Some("kwok-node-0"));
    }
    let ips: std::collections::BTreeSet<_> =
        ready.iter().map(|p| p.status.as_ref().unwrap().pod_ip.clone().unwrap()).collect();
    assert_eq!(ips.len(), 2, "distinct pod IPs: {ips:?}");
    let deployments: Api<Deployment> = Api::namespaced(client, &ns);
    wait_for("the Deployment's status: 2 available", || async {
        let d = deployments.get("web").await.ok()?;
        (d.status?.available_replicas == Some(2)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn port_forward_reaches_a_loopback_backend_through_kwok() {
    let cp = ControlPlane::shared().await.expect("the shared control plane starts");
    let client = cp.client().await.unwrap();
    let ns = namespace(&client, "pf").await;
    running_pod(&client, &ns, "my-vc-0", 8443).await;
    let backend = echo_backend().await;
    cp.forward_pod_port(&ns, "my-vc-0", 8443, backend).await.unwrap();

    // kube-rs: the apiserver's pods/portforward (WebSocket) to kwok's kubelet server. kwok reads
    // the PortForward object through a watch: retried until it has it.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let echoed = wait_for("an echo through kube-rs port-forward", || async {
        let mut forwarder = pods.portforward("my-vc-0", &[8443]).await.ok()?;
        let stream = forwarder.take_stream(8443)?;
        let payload = b"hello through kube-rs";
        let mut stream = stream;
        stream.write_all(payload).await.ok()?;
        let mut back = vec![0u8; payload.len()];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut back)).await.ok()?.ok()?;
        drop(stream);
        let _ = forwarder.join().await;
        Some(back)
    })
    .await;
    assert_eq!(echoed, b"hello through kube-rs");

    // kubectl port-forward (SPDY or WebSocket, as kubectl 1.33 negotiates) to a local port.
    let cache = tempfile::tempdir().unwrap();
    let mut child = kubectl(cp.kubeconfig_path(), cache.path())
        .args(["-n", &ns, "port-forward", "--address", "127.0.0.1", "pod/my-vc-0", ":8443"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(DEADLINE, lines.next_line()).await.expect("kubectl port-forward starts").unwrap();
    let line = line.unwrap_or_default();
    // "Forwarding from 127.0.0.1:PORT -> 8443"
    let port: u16 = line
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected kubectl output: {line:?}"));
    let conn = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(echo_through(conn, b"hello through kubectl").await, b"hello through kubectl");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_user_without_rights_is_forbidden_until_a_role_binds_them() {
    let cp = ControlPlane::shared().await.expect("the shared control plane starts");
    let admin = cp.client().await.unwrap();
    let ns = namespace(&admin, "rbac").await;
    let user = cp.kubeconfig_for("alice", &["devs", "testers"]).unwrap();
    let kc = kube::config::Kubeconfig::read_from(&user).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    let alice = kube::Client::try_from(config).unwrap();
    let pods: Api<Pod> = Api::namespaced(alice.clone(), &ns);
    match pods.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(status.message.contains("User \"alice\" cannot list resource \"pods\""), "{}", status.message);
        }
        other => panic!("alice must be Forbidden, got {other:?}"),
    }
    // The certificate carries both groups: a RoleBinding to the second one grants the list.
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "testers-view", "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "testers"}],
    });
    let bindings: Api<k8s_openapi::api::rbac::v1::RoleBinding> = Api::namespaced(admin, &ns);
    bindings.create(&PostParams::default(), &serde_json::from_value(binding).unwrap()).await.unwrap();
    wait_for("alice may list pods through her group", || async { pods.list(&ListParams::default()).await.ok() }).await;
}

#[tokio::test]
async fn a_virtual_instance_runs_beside_the_host_and_stops_clean() {
    let host = ControlPlane::shared().await.expect("the shared control plane starts");
    let virt = ControlPlane::start(options(Options::virtual_cluster().service_cidr("10.128.0.0/16")))
        .await
        .expect("the virtual control plane starts");
    assert_ne!(host.url(), virt.url());
    assert!(virt.nodes().is_empty());
    let names: Vec<&str> = virt.state().pids.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["etcd", "kube-apiserver", "kube-controller-manager"]);
    for (name, path) in [("server", &virt.server_ca().cert_path), ("client", &virt.client_ca().key_path)] {
        assert!(path.starts_with(virt.dir()) && path.is_file(), "{name} CA file {}", path.display());
    }
    assert!(virt.log_path("kube-apiserver").is_file());

    let client = virt.client().await.unwrap();
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(client, "default");
    let kubernetes = services.get("kubernetes").await.unwrap();
    assert_eq!(kubernetes.spec.unwrap().cluster_ip.as_deref(), Some("10.128.0.1"));
    let host_nodes = Api::<k8s_openapi::api::core::v1::Node>::all(host.client().await.unwrap());
    assert_eq!(host_nodes.list(&ListParams::default()).await.unwrap().items.len(), 1);

    let dir = virt.dir().to_path_buf();
    assert!(!processes_mentioning(&dir).is_empty());
    virt.stop().await.expect("a clean stop");
    // stop() returns once the supervisor has exited, which waited for every program.
    assert!(processes_mentioning(&dir).is_empty(), "{:?}", processes_mentioning(&dir));
    assert!(!dir.exists());
}

#[tokio::test]
async fn start_up_failures_name_the_program_and_its_log() {
    let err = ControlPlane::start(options(Options::virtual_cluster().arg("kube-apiserver", "--no-such-flag")))
        .await
        .expect_err("kube-apiserver refuses an unknown flag");
    match &err {
        Error::Program { program, what, log_tail } => {
            assert_eq!(program, "kube-apiserver", "{err}");
            assert!(what.contains("exited"), "{err}");
            assert!(log_tail.contains("unknown flag: --no-such-flag"), "{err}");
        }
        other => panic!("expected a program failure, got {other:?}"),
    }
    let empty = tempfile::tempdir().unwrap();
    let err =
        ControlPlane::start(Options { bin_dir: Some(empty.path().into()), ..options(Options::virtual_cluster()) })
            .await
            .expect_err("no programs in an empty folder");
    assert!(matches!(&err, Error::Program { program, .. } if program == "etcd"), "{err}");
}

#[tokio::test]
async fn nothing_is_left_when_the_supervisor_is_killed() {
    let virt = ControlPlane::start(options(Options::virtual_cluster())).await.expect("starts");
    let dir = virt.dir().to_path_buf();
    let pid = virt.supervisor_pid().expect("running");
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid as i32).unwrap(), rustix::process::Signal::KILL)
        .unwrap();
    // The programs get SIGKILL as their parent-death signal; the folder stays (nobody removes it).
    assert_all_gone(&dir, false).await;
    drop(virt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Run by `nothing_is_left_when_the_test_process_dies` as a child process: starts an instance,
/// says where, and waits to be killed.
#[tokio::test]
#[ignore = "a child process of nothing_is_left_when_the_test_process_dies"]
async fn child_holds_an_instance_until_killed() {
    use std::io::Write as _;
    let cp = ControlPlane::start(options(Options::virtual_cluster())).await.expect("starts");
    let line = format!("\nCHILD-STATE {}\n", serde_json::to_string(cp.state()).unwrap());
    let mut out = std::io::stdout();
    out.write_all(line.as_bytes()).unwrap();
    out.flush().unwrap();
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn nothing_is_left_when_the_test_process_dies() {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_holds_an_instance_until_killed", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let state: control_plane::State = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // libtest prints "test NAME ... " before the test's own output, on the same line.
            if let Some((_, json)) = line.split_once("CHILD-STATE ") {
                return serde_json::from_str(json).unwrap();
            }
        }
        panic!("the child test ended without starting an instance");
    })
    .await
    .expect("the child test starts an instance");
    assert!(!processes_mentioning(&state.dir).is_empty());
    child.kill().await.unwrap(); // SIGKILL: no destructor runs in the child
    assert_all_gone(&state.dir, true).await;
    wait_for("the supervisor gone", || async { (!alive(state.supervisor_pid)).then_some(()) }).await;
    for (name, pid) in &state.pids {
        assert!(!alive(*pid), "{name} ({pid}) still runs");
    }
}
