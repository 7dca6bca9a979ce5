//! The CLI end to end against a real cluster: by default the real control plane of
//! `crates/control-plane` (kube-apiserver, etcd, kube-controller-manager, kube-scheduler v1.33
//! and kwok's fake node), with a second control plane as the virtual cluster's API server; see
//! `tests/support/e2e_world.rs`. The tests fail, never skip, when it cannot be built or started.
//! `VCLUSTER_E2E_KUBECONFIG=/path/to/kubeconfig` points them at another cluster.
//!
//! Every test makes a vcluster of its own in a namespace of its own and deletes it at the end.

#[path = "support/e2e_world.rs"]
mod world;

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use serde_json::Value;
use world::{Run, StandIn, World, block_on, eventually, output, world};

/// Bound for everything the cluster does for one step (a pod scheduled and Running, a
/// namespace finalized).
const STEP: Duration = Duration::from_secs(120);

/// One vcluster of one test: its names, the CLI's home and host kubeconfig, the stand-in syncer.
struct Case {
    world: &'static World,
    name: String,
    namespace: String,
    home: PathBuf,
    kubeconfig: PathBuf,
    user: String,
    _stand_in: Option<StandIn>,
}

impl Case {
    fn new(test: &str) -> Case {
        let world = world();
        let name = world.unique(test);
        let namespace = format!("e2e-{name}");
        let home = world.fresh_dir(test);
        let (kubeconfig, user) = world.admin_for(test);
        let stand_in = world.stand_in_for_syncer(&namespace, &name);
        Case { world, name, namespace, home, kubeconfig, user, _stand_in: stand_in }
    }

    fn command(&self, args: &[&str]) -> Command {
        self.world.vcluster_command(&self.home, &self.kubeconfig, args)
    }

    /// `vcluster ARGS -n NAMESPACE`, finished.
    fn vcluster(&self, args: &[&str]) -> Run {
        output(self.command(args).args(["-n", &self.namespace]))
    }

    fn kubectl(&self, kubeconfig: &Path, args: &[&str]) -> Run {
        self.world.kubectl(kubeconfig, &self.home.join("kubectl-cache"), args)
    }

    fn create(&self, extra: &[&str]) -> Value {
        let mut args = vec!["create", self.name.as_str(), "--timeout", "5m", "-o", "json"];
        args.extend_from_slice(extra);
        self.vcluster(&args).succeeds().json()
    }

    fn statefulset(&self) -> Option<StatefulSet> {
        block_on(async {
            let api: Api<StatefulSet> = Api::namespaced(self.world.client().await, &self.namespace);
            api.get_opt(&self.name).await.unwrap()
        })
    }

    fn pods(&self) -> Vec<Pod> {
        block_on(async {
            let api: Api<Pod> = Api::namespaced(self.world.client().await, &self.namespace);
            let selector = format!("app=vcluster,release={}", self.name);
            api.list(&ListParams::default().labels(&selector)).await.unwrap().items
        })
    }

    fn namespace_exists(&self) -> bool {
        block_on(async {
            let api: Api<Namespace> = Api::all(self.world.client().await);
            api.get_opt(&self.namespace).await.unwrap().is_some()
        })
    }

    /// `list -o json`'s entry of this vcluster.
    fn listed(&self) -> Option<Value> {
        let list = self.vcluster(&["list", "-o", "json"]).succeeds().json();
        list.as_array().unwrap().iter().find(|v| v["name"] == self.name.as_str()).cloned()
    }

    fn delete(&self) -> Value {
        self.vcluster(&["delete", &self.name, "-y", "--timeout", "3m", "-o", "json"]).succeeds().json()
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        // Emptying the state directory stops the background forwarders of `connect`.
        let _ = std::fs::remove_dir_all(self.home.join("state"));
        if std::thread::panicking() {
            let _ = output(&mut self.command(&["delete", &self.name, "-n", &self.namespace, "-y", "--no-wait"]));
        }
    }
}

#[test]
fn create_with_a_values_file_upgrade_list_and_delete() {
    let case = Case::new("create");
    let values = case.home.join("values.yaml");
    std::fs::write(&values, "syncer:\n  extraArgs:\n  - --tls-san=e2e.example.com\n").unwrap();
    let values = values.to_str().unwrap();

    let created = case.create(&["-f", values]);
    assert_eq!(created["revision"], 1, "{created}");
    assert_eq!(created["status"], "deployed");
    assert_eq!(created["action"], "install");
    let sts = case.statefulset().expect("the StatefulSet");
    let args = serde_json::to_string(&sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers).unwrap();
    assert!(args.contains("--tls-san=e2e.example.com"), "the values file reached the syncer's args: {args}");
    assert!(case.pods().iter().all(is_ready), "create waited for a Ready pod");

    // An existing release without --upgrade: nothing written (the audit log says so), exit 1
    // with the hints.
    let writes = |case: &Case| case.world.audit(&case.user).into_iter().filter(|e| e.is_write()).count();
    let before = writes(&case);
    let again = case.vcluster(&["create", &case.name]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("--upgrade"), "{}", again.stderr);
    if case.world.is_control_plane() {
        assert!(before > 0, "the install's writes are in the audit log");
        assert_eq!(writes(&case), before, "a rerun without --upgrade writes nothing");
    }

    // The same values again: revision 2, every object unchanged.
    let same = case.create(&["--upgrade", "-f", values]);
    assert_eq!(same["revision"], 2, "{same}");
    assert_eq!(same["action"], "upgrade");
    let changed: Vec<&Value> =
        same["objects"].as_array().unwrap().iter().filter(|o| o["action"] != "unchanged").collect();
    assert!(changed.is_empty(), "an upgrade with the same values changes nothing: {changed:?}");

    // New values (a file, then --set over it): the StatefulSet rolls out again.
    let upgraded = case.create(&["--upgrade", "-f", values, "--set", "syncer.extraArgs={--tls-san=e2e-2.example.com}"]);
    assert_eq!(upgraded["revision"], 3, "{upgraded}");
    let configured: Vec<String> = upgraded["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "configured")
        .map(|o| format!("{}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()))
        .collect();
    assert!(configured.contains(&format!("StatefulSet/{}", case.name)), "{configured:?}");
    let sts = case.statefulset().unwrap();
    let status = sts.status.unwrap();
    assert_eq!(status.update_revision, status.current_revision, "create waited for the rollout");
    assert_eq!(status.ready_replicas, Some(1));

    let listed = case.listed().expect("list shows the vcluster");
    assert_eq!(listed["namespace"], case.namespace.as_str());
    assert_eq!(listed["status"], "Running", "{listed}");
    assert_eq!(listed["releaseStatus"], "deployed");
    assert_eq!(listed["revision"], 3);
    assert_eq!(listed["connected"], false);

    let deleted = case.delete();
    assert_eq!(deleted["found"], true, "{deleted}");
    let actions: Vec<String> = deleted["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{} {}", o["kind"].as_str().unwrap(), o["action"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&"StatefulSet deleted".to_owned()), "{actions:?}");
    assert!(actions.contains(&"PersistentVolumeClaim deleted".to_owned()), "{actions:?}");
    assert!(actions.contains(&"Namespace deleted".to_owned()), "{actions:?}");
    assert!(!case.namespace_exists(), "delete waited until the namespace was gone");
    assert!(case.listed().is_none());
    let missing = case.vcluster(&["delete", &case.name, "-y"]);
    assert_eq!(missing.code, 1, "{missing:?}");
    case.vcluster(&["delete", &case.name, "-y", "--ignore-not-found"]).succeeds();
    // The control plane's audit log: every request of this test's user succeeded or was an
    // expected answer (404 of a lookup, 409 of a create that found an existing object).
    let refused: Vec<String> = case
        .world
        .audit(&case.user)
        .into_iter()
        .filter(|e| e.code >= 400 && !matches!(e.code, 404 | 409))
        .map(|e| format!("{} {} {}", e.verb, e.uri, e.code))
        .collect();
    assert!(refused.is_empty(), "requests the real server refused: {refused:#?}");
}

#[test]
fn every_example_renders_into_objects_the_real_server_accepts() {
    let world = world();
    let namespace = world.unique("e2e-render");
    let home = world.fresh_dir("render");
    let (kubeconfig, user) = world.admin_for("render");
    let cache = home.join("kubectl-cache");
    world.kubectl(&kubeconfig, &cache, &["create", "namespace", &namespace]).succeeds();
    let mut examples: Vec<PathBuf> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    examples.sort();
    let mut inputs: Vec<Vec<String>> = vec![Vec::new()];
    inputs.extend(examples.iter().map(|p| vec!["-f".to_owned(), p.display().to_string()]));
    for input in inputs {
        let mut args = vec!["render", "my-vcluster", "-n", namespace.as_str()];
        args.extend(input.iter().map(String::as_str));
        let rendered = output(&mut world.vcluster_command(&home, &kubeconfig, &args));
        rendered.succeeds();
        let file = home.join("rendered.yaml");
        std::fs::write(&file, &rendered.stdout).unwrap();
        let file = file.to_str().unwrap();
        let applied = world.kubectl(&kubeconfig, &cache, &["apply", "--server-side", "--dry-run=server", "-f", file]);
        assert_eq!(applied.code, 0, "{input:?}: the real server refuses the render:\n{}", applied.stderr);
    }
    // `create --dry-run` writes nothing either.
    let dry =
        output(&mut world.vcluster_command(&home, &kubeconfig, &["create", "dry", "-n", &namespace, "--dry-run"]));
    dry.succeeds();
    let writes: Vec<String> = world
        .audit(&user)
        .into_iter()
        .filter(|e| e.is_write() && e.resource != "namespaces")
        .map(|e| format!("{} {}", e.verb, e.uri))
        .collect();
    assert!(writes.is_empty(), "dry runs wrote: {writes:#?}");
    world.kubectl(&kubeconfig, &cache, &["delete", "namespace", &namespace, "--wait=false"]).succeeds();
}

#[test]
#[allow(clippy::print_stderr)]
fn a_forbidden_verb_under_rbac_is_reported_before_any_write() {
    let world = world();
    let Some(host) = world.host() else {
        eprintln!("notice: users of their own need the control plane's client CA; not on another cluster");
        return;
    };
    let namespace = world.unique("e2e-rbac");
    let home = world.fresh_dir("rbac");
    let cache = home.join("kubectl-cache");
    let user = format!("e2e-rbac-{}", world.suffix);
    world.kubectl(&world.kubeconfig, &cache, &["create", "namespace", &namespace]).succeeds();
    // ClusterRole `edit` in the namespace: every workload, no Roles or RoleBindings (which the
    // chart has), nothing cluster-scoped.
    world
        .kubectl(
            &world.kubeconfig,
            &cache,
            &["create", "rolebinding", "edit", "--clusterrole=edit", &format!("--user={user}"), "-n", &namespace],
        )
        .succeeds();
    let kubeconfig = host.kubeconfig_for(&user, &[]).unwrap();
    let run = output(&mut world.vcluster_command(&home, &kubeconfig, &["create", "rbac", "-n", &namespace]));
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("missing permissions in namespace"), "{}", run.stderr);
    assert!(run.stderr.contains("roles.rbac.authorization.k8s.io"), "{}", run.stderr);
    let writes: Vec<String> =
        world.audit(&user).into_iter().filter(|e| e.is_write()).map(|e| format!("{} {}", e.verb, e.uri)).collect();
    assert!(writes.is_empty(), "writes before the refusal: {writes:#?}");
    world.kubectl(&world.kubeconfig, &cache, &["delete", "namespace", &namespace, "--wait=false"]).succeeds();
}

#[test]
fn two_concurrent_creates_of_one_vcluster_install_it_once() {
    let case = Case::new("twice");
    let spawn = || {
        case.command(&["create", &case.name, "-n", &case.namespace, "--timeout", "5m", "-o", "json"]).spawn().unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let runs: Vec<Run> = [first, second]
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .collect();
    let codes: Vec<i32> = runs.iter().map(|r| r.code).collect();
    // One installs; the other finds the release pending (locked) or deployed, and exits 1.
    assert!(codes == [0, 1] || codes == [1, 0], "{runs:#?}");
    let winner = runs.iter().find(|r| r.code == 0).unwrap().json();
    assert_eq!(winner["revision"], 1, "{winner}");
    let listed = case.listed().expect("list shows the vcluster");
    assert_eq!(listed["revision"], 1, "{listed}");
    assert_eq!(listed["releaseStatus"], "deployed");
    case.delete();
}

#[test]
fn pause_and_resume() {
    let case = Case::new("pause");
    case.create(&[]);

    let paused = case.vcluster(&["pause", &case.name, "--timeout", "2m", "-o", "json"]).succeeds().json();
    assert_eq!(paused["action"], "pause", "{paused}");
    assert_eq!(paused["changed"], true);
    assert_eq!(paused["replicas"], 1);
    let sts = case.statefulset().unwrap();
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(0));
    let annotations = sts.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get("loft.sh/paused").map(String::as_str), Some("true"), "{annotations:?}");
    assert_eq!(annotations.get("loft.sh/paused-replicas").map(String::as_str), Some("1"));
    assert!(case.pods().is_empty(), "pause waited until no replica was left");
    assert_eq!(case.listed().unwrap()["status"], "Paused");
    let again = case.vcluster(&["pause", &case.name, "-o", "json"]).succeeds().json();
    assert_eq!(again["changed"], false, "{again}");

    let resumed = case.vcluster(&["resume", &case.name, "--timeout", "3m", "-o", "json"]).succeeds().json();
    assert_eq!(resumed["action"], "resume", "{resumed}");
    assert_eq!(resumed["changed"], true);
    assert_eq!(resumed["replicas"], 1);
    let sts = case.statefulset().unwrap();
    assert_eq!(sts.spec.as_ref().unwrap().replicas, Some(1));
    assert!(!sts.metadata.annotations.unwrap_or_default().contains_key("loft.sh/paused"));
    let pods = case.pods();
    assert!(pods.len() == 1 && pods.iter().all(is_ready), "resume waited for a Ready pod");
    assert_eq!(case.listed().unwrap()["status"], "Running");

    case.delete();
}

#[test]
fn connect_writes_a_private_kubeconfig_and_runs_commands_through_the_forward() {
    let case = Case::new("connect");
    case.create(&[]);

    // `--kube-config FILE`: a new 0600 file; a background forward serves it.
    let file = case.home.join("vc.yaml");
    case.vcluster(&["connect", &case.name, "--kube-config", file.to_str().unwrap()]).succeeds();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the kubeconfig's mode");
    let namespaces = case.kubectl(&file, &["get", "ns", "-o", "name"]);
    namespaces.succeeds();
    for ns in ["namespace/default", "namespace/kube-system"] {
        assert!(namespaces.stdout.lines().any(|l| l == ns), "{ns} in the virtual cluster: {}", namespaces.stdout);
    }
    // The virtual cluster is not the host: the host's namespace of this test is not there.
    assert!(!namespaces.stdout.contains(&case.namespace), "{}", namespaces.stdout);

    // `connect -- CMD`: the command's exit status, a private temporary kubeconfig.
    let cache = case.home.join("kubectl-cache");
    let cache = cache.to_str().unwrap();
    let run = case.vcluster(&["connect", &case.name, "--", "kubectl", "get", "ns", "-o", "name", "--cache-dir", cache]);
    run.succeeds();
    assert!(run.stdout.lines().any(|l| l == "namespace/kube-system"), "{}", run.stdout);
    let run = case.vcluster(&["connect", &case.name, "--", "sh", "-c", "stat -c %a \"$KUBECONFIG\"; exit 7"]);
    assert_eq!(run.code, 7, "{run:?}");
    assert_eq!(run.stdout.trim(), "600", "{run:?}");
    let run = case.vcluster(&["connect", &case.name, "--", "kubectl", "get", "ns", "no-such-ns", "--cache-dir", cache]);
    assert_eq!(run.code, 1, "kubectl's own failure: {run:?}");
    assert!(run.stderr.contains("\"no-such-ns\" not found"), "{}", run.stderr);
    let run = case.vcluster(&["connect", &case.name, "--", "no-such-command-e2e"]);
    assert_eq!(run.code, 127, "{run:?}");

    // delete stops the background forward.
    let deleted = case.delete();
    assert!(deleted["forwarder"].as_str().is_some_and(|f| f.starts_with("stopped forwarder")), "{deleted}");
}

#[test]
fn port_forward_reaches_the_virtual_api_and_a_pod() {
    let case = Case::new("portfwd");
    case.create(&[]);

    let mut child = case.command(&["port-forward", &case.name, "-n", &case.namespace]).spawn().unwrap();
    let _stop = Kill(&mut child);
    let port = forwarding_port(_stop.0, " -> 8443");

    // The virtual cluster's admin kubeconfig (the Secret vc-NAME) pointed at the local port.
    let config = case.kubectl(
        &case.kubeconfig,
        &["-n", &case.namespace, "get", "secret", &format!("vc-{}", case.name), "-o", "jsonpath={.data.config}"],
    );
    config.succeeds();
    use base64::Engine as _;
    let config = base64::engine::general_purpose::STANDARD.decode(config.stdout.trim()).unwrap();
    let config =
        String::from_utf8(config).unwrap().replace("https://localhost:8443", &format!("https://localhost:{port}"));
    let file = case.home.join("forwarded.yaml");
    std::fs::write(&file, config).unwrap();
    let version = eventually(STEP, "the virtual API answers through port-forward", || {
        let run = case.kubectl(&file, &["version", "-o", "json", "--request-timeout", "10s"]);
        (run.code == 0).then(|| run.json())
    });
    assert_eq!(version["serverVersion"]["minor"], "33", "{version}");
    let namespaces = case.kubectl(&file, &["get", "ns", "kube-system", "-o", "name"]);
    assert_eq!(namespaces.succeeds().stdout.trim(), "namespace/kube-system");

    // Ctrl-C ends it cleanly, as kubectl's.
    interrupt(_stop.0);
    drop(_stop);

    // pod/NAME inside the virtual cluster: its host copy, named as the syncer names it, here a
    // pod of the test whose port `http` kwok forwards to an echo server of the test.
    let Some(host) = case.world.host() else {
        case.delete();
        return;
    };
    let host_pod = format!("web-x-default-x-{}", case.name);
    let echo = echo_server();
    block_on(async {
        let pods: Api<Pod> = Api::namespaced(case.world.client().await, &case.namespace);
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": host_pod, "labels": {"vcluster.loft.sh/managed-by": case.name}},
            "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1", "ports": [{"name": "http", "containerPort": 80}]}]},
        }))
        .unwrap();
        pods.create(&Default::default(), &pod).await.unwrap();
        host.forward_pod_port(&case.namespace, &host_pod, 80, echo).await.unwrap();
    });
    let mut child =
        case.command(&["port-forward", &case.name, "-n", &case.namespace, "pod/web", ":http"]).spawn().unwrap();
    let _stop = Kill(&mut child);
    let port = forwarding_port(_stop.0, " -> 80");
    let echoed = eventually(STEP, "an echo through port-forward pod/web", || echo_through(port, b"hello through kwok"));
    assert_eq!(echoed, b"hello through kwok");
    interrupt(_stop.0);
    drop(_stop);
    case.delete();
}

/// SIGINT, then the exit status must be 0 (as kubectl port-forward ends on Ctrl-C).
fn interrupt(child: &mut Child) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = eventually(STEP, "port-forward ends on SIGINT", || child.try_wait().unwrap());
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// The local port of the first `Forwarding from 127.0.0.1:PORT -> REMOTE` line, read by a
/// thread so that the wait is bounded.
fn forwarding_port(child: &mut Child, remote: &str) -> u16 {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(STEP).expect("port-forward prints its listener");
    line.trim_end()
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.strip_suffix(remote))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output: {line:?}"))
}

/// A loopback TCP server echoing what it reads, for the rest of the process.
fn echo_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = conn.try_clone().unwrap();
                let mut writer = conn;
                let _ = std::io::copy(&mut reader, &mut writer);
            });
        }
    });
    addr
}

/// `payload` sent to 127.0.0.1:`port` and read back, or `None` when the connection fails (the
/// forward may not be in place yet).
fn echo_through(port: u16, payload: &[u8]) -> Option<Vec<u8>> {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    conn.write_all(payload).ok()?;
    let mut back = vec![0; payload.len()];
    conn.read_exact(&mut back).ok()?;
    Some(back)
}

/// A child process killed (SIGKILL) and reaped when dropped.
struct Kill<'a>(&'a mut Child);

impl Drop for Kill<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[test]
fn upgrade_prunes_and_delete_leaves_other_releases_alone() {
    use k8s_openapi::api::core::v1::ResourceQuota;
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    let (case, other) = (Case::new("prune"), Case::new("neighbour"));
    let counts = |namespace: &str| {
        block_on(async {
            let client = case.world.client().await;
            let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), namespace);
            let quotas: Api<ResourceQuota> = Api::namespaced(client, namespace);
            let lp = ListParams::default();
            (policies.list(&lp).await.unwrap().items.len(), quotas.list(&lp).await.unwrap().items.len())
        })
    };
    // Isolation renders a NetworkPolicy and a ResourceQuota; turning it off prunes both. (No
    // wait: the LimitRange's default ephemeral-storage request does not fit kwok's node, which
    // reports no ephemeral storage.)
    case.create(&["--set", "isolation.enabled=true", "--no-wait"]);
    let (policies, quotas) = counts(&case.namespace);
    assert!(policies > 0 && quotas > 0, "isolation objects: {policies} policies, {quotas} quotas");
    let upgraded = case.create(&["--upgrade", "--set", "isolation.enabled=false", "--no-wait"]);
    assert_eq!(upgraded["revision"], 2, "{upgraded}");
    assert_eq!(counts(&case.namespace), (0, 0), "the upgrade pruned what the values no longer render");

    // A second release beside it: deleting the first touches nothing of it.
    other.create(&[]);
    let before = other.statefulset().expect("the other StatefulSet").metadata.uid;
    case.delete();
    assert!(case.statefulset().is_none());
    let after = other.statefulset().expect("the other release survives").metadata.uid;
    assert_eq!(before, after, "the other StatefulSet was not replaced");
    assert_eq!(other.listed().expect("still listed")["releaseStatus"], "deployed");
    other.delete();
}

#[test]
fn rollback_on_failure_removes_a_failed_fresh_install() {
    let world = world();
    // No stand-in syncer for this name: the Secret `vc-<name>` never comes, the wait fails.
    let name = world.unique("rollback");
    let namespace = format!("e2e-{name}");
    let home = world.fresh_dir("rollback");
    let (kubeconfig, _) = world.admin_for("rollback");
    let run = output(&mut world.vcluster_command(
        &home,
        &kubeconfig,
        &["create", &name, "-n", &namespace, "--rollback-on-failure", "--timeout", "20s"],
    ));
    assert_eq!(run.code, 1, "{run:#?}");
    let (statefulset, namespace_left) = block_on(async {
        let client = world.client().await;
        let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
        let ns: Api<Namespace> = Api::all(client);
        let sts = sts.get_opt(&name).await.unwrap();
        let ns = ns.get_opt(&namespace).await.unwrap();
        (sts, ns.filter(|n| n.metadata.deletion_timestamp.is_none()))
    });
    assert!(statefulset.is_none(), "the failed install's StatefulSet is removed");
    assert!(namespace_left.is_none(), "the namespace this run created is removed (or terminating)");
}

/// The image `syncer.image` names for our syncer; the harness runs our binary for it.
const OUR_SYNCER: &str = "localhost/vcluster-syncer:e2e";

#[test]
#[allow(clippy::print_stderr)]
fn our_syncer_runs_a_deployment_of_the_virtual_cluster_on_the_host() {
    let world = world();
    let name = world.unique("ours");
    // A namespace made beforehand: `delete` leaves it, so what the syncer made must go by itself.
    let namespace = format!("e2e-{name}");
    let home = world.fresh_dir("ours");
    let (kubeconfig, _) = world.admin_for("ours");
    let cache = home.join("kubectl-cache");
    let Some(pod) = world.run_vcluster_pod(&namespace, &name, OUR_SYNCER) else {
        eprintln!("notice: on another cluster the vcluster pod runs for real; this test needs the control plane");
        return;
    };
    let syncer = world::service_account_user(&namespace, &format!("vc-{name}"));
    let show_log = ShowLog(&pod);
    world.kubectl(&kubeconfig, &cache, &["create", "namespace", &namespace]).succeeds();
    let vcluster = |args: &[&str]| output(world.vcluster_command(&home, &kubeconfig, args).args(["-n", &namespace]));

    // `create` returns once the Secret `vc-<name>` exists, and our syncer wrote it.
    let image = format!("syncer.image={OUR_SYNCER}");
    vcluster(&["create", &name, "--set", &image, "--timeout", "3m", "-o", "json"]).succeeds();
    let secret_writes: Vec<String> = world
        .audit(&syncer)
        .into_iter()
        .filter(|e| e.is_write() && e.resource == "secrets" && e.name == format!("vc-{name}"))
        .map(|e| format!("{} {}", e.verb, e.code))
        .collect();
    assert_eq!(secret_writes, ["create 201"], "the syncer's writes of vc-{name}");

    // A Deployment in the virtual cluster, through `connect` (the syncer's API endpoint).
    let cache_dir = cache.to_str().unwrap();
    let in_virtual = |args: &[&str]| {
        let mut all =
            vec!["connect", name.as_str(), "-n", namespace.as_str(), "--", "kubectl", "--cache-dir", cache_dir];
        all.extend_from_slice(args);
        output(&mut world.vcluster_command(&home, &kubeconfig, &all))
    };
    in_virtual(&["create", "deployment", "web", "--image=nginx", "--replicas=3"]).succeeds();

    // Three host pods `web-…-x-default-x-<name>`, Running on kwok's node with an IP.
    let suffix = format!("-x-default-x-{name}");
    let host_pods = eventually(STEP, "three Running host pods of the Deployment", || {
        let pods: Vec<Pod> = block_on(async {
            let api: Api<Pod> = Api::namespaced(world.client().await, &namespace);
            api.list(&ListParams::default()).await.unwrap().items
        });
        let web: Vec<Pod> = pods
            .into_iter()
            .filter(|p| p.metadata.name.as_deref().is_some_and(|n| n.starts_with("web-") && n.ends_with(&suffix)))
            .collect();
        let running = web.iter().all(|p| {
            let status = p.status.as_ref();
            status.and_then(|s| s.phase.as_deref()) == Some("Running")
                && status.and_then(|s| s.pod_ip.as_deref()).is_some_and(|ip| !ip.is_empty())
        });
        (web.len() == 3 && running).then_some(web)
    });
    let node = host_pods[0].spec.as_ref().and_then(|s| s.node_name.clone()).expect("a scheduled host pod");
    assert!(world.host().unwrap().nodes().contains(&node), "{node} is a kwok node");
    let host_ips: std::collections::BTreeMap<String, String> = host_pods
        .iter()
        .map(|p| {
            let name = p.metadata.name.as_deref().unwrap().strip_suffix(&suffix).unwrap().to_owned();
            (name, p.status.as_ref().unwrap().pod_ip.clone().unwrap())
        })
        .collect();

    // The virtual pods: Running, with the host pods' IPs, on a node of the host pods' name.
    let virtual_pods = eventually(STEP, "the virtual pods Running with the host pods' IPs", || {
        let run = in_virtual(&["get", "pods", "-n", "default", "-l", "app=web", "-o", "json"]);
        let pods: std::collections::BTreeMap<String, (String, String, String)> = run.succeeds().json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let s = |pointer: &str| p.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
                (s("/metadata/name"), (s("/status/phase"), s("/status/podIP"), s("/spec/nodeName")))
            })
            .collect();
        let ips: std::collections::BTreeMap<String, String> =
            pods.iter().map(|(n, (_, ip, _))| (n.clone(), ip.clone())).collect();
        (ips == host_ips && pods.values().all(|(phase, _, _)| phase == "Running")).then_some(pods)
    });
    assert!(virtual_pods.values().all(|(_, _, n)| *n == node), "{virtual_pods:?} on {node}");
    let nodes = in_virtual(&["get", "nodes", "-o", "name"]);
    assert_eq!(nodes.succeeds().stdout.trim(), format!("node/{node}"), "the virtual cluster's fake node");

    // The chart's RBAC lets the syncer do its work (until `delete` removes it while the syncer
    // still runs): nothing refused but the read of the cluster-scoped ServiceCIDR `kubernetes`,
    // which a namespaced Role cannot grant (the detection then falls back to dry-run probes).
    let forbidden: Vec<String> = world
        .audit(&syncer)
        .iter()
        .filter(|e| e.code == 403 && e.resource != "servicecidrs")
        .map(|e| format!("{} {}", e.verb, e.uri))
        .collect();
    assert!(forbidden.is_empty(), "requests of the syncer its RBAC refused: {forbidden:#?}");

    // `delete`: the vcluster and everything the syncer made in the host namespace go.
    let deleted = vcluster(&["delete", &name, "-y", "--timeout", "3m", "-o", "json"]).succeeds().json();
    assert_eq!(deleted["found"], true, "{deleted}");
    let made: std::collections::BTreeSet<(String, String)> = world
        .audit(&syncer)
        .into_iter()
        .filter(|e| e.verb == "create" && e.code == 201 && e.subresource.is_empty())
        .map(|e| (e.resource, e.name))
        .collect();
    assert!(made.iter().any(|(r, _)| r == "pods"), "the syncer created host pods: {made:?}");
    // Owner references make the garbage collector remove them, a moment after their owner; the
    // ConfigMap `vc-cidr-<name>`, which the syncer creates with no owner and no label
    // (loft-sh/vcluster v0.15.7 pkg/util/servicecidr/servicecidr.go `EnsureServiceCIDRConfigmap`),
    // `delete` removes itself.
    let cidr = ("configmaps".to_owned(), format!("vc-cidr-{name}"));
    assert!(made.contains(&cidr), "the syncer wrote the service CIDR: {made:?}");
    let objects: Vec<String> = made.iter().map(|(resource, object)| format!("{resource}/{object}")).collect();
    let mut args = vec!["get", "-n", namespace.as_str(), "--ignore-not-found", "-o", "name"];
    args.extend(objects.iter().map(String::as_str));
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let left = world.kubectl(&kubeconfig, &cache, &args);
        if left.succeeds().stdout.trim().is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "left behind by delete:\n{}", left.stdout);
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(show_log);
    world.kubectl(&kubeconfig, &cache, &["delete", "namespace", &namespace, "--wait=false"]).succeeds();
}

/// Prints the syncer's log when the test fails.
struct ShowLog<'a>(&'a world::VclusterPod);

impl Drop for ShowLog<'_> {
    #[allow(clippy::print_stderr)]
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- the syncer's log ---\n{}", self.0.syncer_log());
        }
    }
}
