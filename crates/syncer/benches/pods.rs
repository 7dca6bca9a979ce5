//! Pods per second through the syncer, against the physical limit measured in the same run.
//!
//! `cargo bench -p vcluster-syncer --bench pods [-- 1000 10000]`
//!
//! Per count N: two in-process simulators (host: kubelet and controllers, pods ready at once;
//! virtual: control plane only), the release `vcluster-syncer` binary as a subprocess between
//! them (so its RSS and CPU time are its own), N virtual pods each with a ConfigMap.
//! - syncer: from the first virtual create until every host pod exists: objects per second,
//!   create → host pod latency p50/p99, the syncer's peak RSS and CPU time;
//! - restart over the N synced pods: writes made (must be 0) and time until the syncer is idle;
//!   on stderr, what it asked each second until then;
//! - raw, after them: one client creating the host objects the syncer made (N ConfigMaps + N
//!   pods, read back and sent again) directly, 32 in flight, on a fresh host simulator of its
//!   own — the rate the host server takes them. (They are the virtual pods as the virtual
//!   server stored them, with its defaults and the ServiceAccount volume, translated: larger
//!   than the pods the bench sends.) Timed as the syncer phase is: until a watch of the host's
//!   pods saw the last one (the same watch runs in both phases); the rate until the last create
//!   returned is printed beside it.
// A benchmark reports on stdout, progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "support/first_seen.rs"]
mod first_seen;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use first_seen::FirstSeen;
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::PostParams;
use kube::{Api, Client};
use kube_sim::{SimConfig, Simulator, Workloads};

const HOST_NS: &str = "vcluster-my-vc";
const IN_FLIGHT: usize = 32;

fn virtual_objects(n: usize) -> Vec<(ConfigMap, Pod)> {
    (0..n)
        .map(|i| {
            let cm: ConfigMap = serde_json::from_value(serde_json::json!({
                "metadata": { "name": format!("cfg-{i}"), "namespace": "default" },
                "data": { "value": i.to_string() }
            }))
            .unwrap();
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "metadata": { "name": format!("web-{i}"), "namespace": "default", "labels": { "app": "web" } },
                "spec": {
                    "containers": [{ "name": "web", "image": "nginx", "volumeMounts": [{ "name": "c", "mountPath": "/c" }] }],
                    "volumes": [{ "name": "c", "configMap": { "name": format!("cfg-{i}") } }]
                }
            }))
            .unwrap();
            (cm, pod)
        })
        .collect()
}

/// The host objects the syncer made, as a client would send them again: what the servers filled
/// in dropped (uid, resourceVersion, managedFields, the node and the status), and the owner
/// references too (their owner, the vcluster's Service, has another uid on a fresh host).
async fn made_by_syncer(host: &Client, n: usize) -> Vec<(ConfigMap, Pod)> {
    let lp = kube::api::ListParams::default().labels("vcluster.loft.sh/managed-by=my-vc");
    let cms: Api<ConfigMap> = Api::namespaced(host.clone(), HOST_NS);
    let pods_api: Api<Pod> = Api::namespaced(host.clone(), HOST_NS);
    let resent = |meta: &mut kube::api::ObjectMeta| {
        *meta = kube::api::ObjectMeta {
            name: meta.name.take(),
            namespace: meta.namespace.take(),
            labels: meta.labels.take(),
            annotations: meta.annotations.take(),
            ..Default::default()
        };
    };
    let mut cms: HashMap<String, ConfigMap> =
        cms.list(&lp).await.unwrap().items.into_iter().map(|c| (c.metadata.name.clone().unwrap(), c)).collect();
    let mut pods: HashMap<String, Pod> =
        pods_api.list(&lp).await.unwrap().items.into_iter().map(|p| (p.metadata.name.clone().unwrap(), p)).collect();
    (0..n)
        .map(|i| {
            let mut cm = cms.remove(&format!("cfg-{i}-x-default-x-my-vc")).expect("the syncer made every ConfigMap");
            resent(&mut cm.metadata);
            let mut pod = pods.remove(&format!("web-{i}-x-default-x-my-vc")).expect("the syncer made every pod");
            resent(&mut pod.metadata);
            pod.status = None;
            if let Some(spec) = pod.spec.as_mut() {
                spec.node_name = None;
            }
            (cm, pod)
        })
        .collect()
}

/// When a watch of the host's pods first saw each pod: the instrument both phases measure with
/// (its work on the host is in both windows).
fn host_pods_seen(host: &Client) -> FirstSeen {
    FirstSeen::start(Api::<Pod>::namespaced(host.clone(), HOST_NS), |_| true)
}

/// The physical limit: one client creating `objects` (the syncer's host objects) on a fresh
/// host simulator, seeded as the syncer's host was. Two rates: until the last create returned,
/// and until the same watch as the syncer phase's saw the last pod.
async fn raw_rate(host: &Simulator, objects: &[(ConfigMap, Pod)]) -> (f64, f64) {
    let host = &host.client().await.unwrap();
    let ns = HOST_NS;
    let cms: Api<ConfigMap> = Api::namespaced(host.clone(), ns);
    let pods_api: Api<Pod> = Api::namespaced(host.clone(), ns);
    let seen = host_pods_seen(host);
    let start = Instant::now();
    stream::iter(objects)
        .map(|(cm, pod)| {
            let (cms, pods_api) = (cms.clone(), pods_api.clone());
            async move {
                cms.create(&PostParams::default(), cm).await.unwrap();
                pods_api.create(&PostParams::default(), pod).await.unwrap();
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let created = start.elapsed();
    // Whether the host's kubelet kept up with the creates (its work is in the window too).
    let listed = pods_api.list(&Default::default()).await.unwrap();
    let phase = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    let running = listed.items.iter().filter(|p| phase(p) == "Running").count();
    eprintln!("  raw: {running} of {} host pods running when the last create returned", listed.items.len());
    let watched = seen.all("", objects.len(), "host pods").await - start;
    let rate = |d: Duration| (2 * objects.len()) as f64 / d.as_secs_f64();
    (rate(created), rate(watched))
}

fn proc_stats(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kb = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    (hwm_kb, ticks as f64 / 100.0)
}

fn spawn_syncer(dir: &std::path::Path, virt: &Simulator) -> Child {
    Command::new(env!("CARGO_BIN_EXE_vcluster-syncer"))
        .args([
            "--name=my-vc",
            "--service-account=vc-workload-my-vc",
            "--kube-config-context-name=my-vcluster",
            "--sync=-ingressclasses",
            &format!("--kube-config={}", virt.kubeconfig_path().display()),
        ])
        .env("KUBECONFIG", dir.join("host.kubeconfig"))
        .env("VCLUSTER_SYNCER_LOG", "warn")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// Wait until the syncer made no request (other than its health checks of `/version`) for
/// `quiet`; returns when its last request was made. With `timeline`, what it asked each second
/// goes to stderr (side, method, resource, list/watch).
async fn wait_idle(host: &Simulator, virt: &Simulator, quiet: Duration, timeline: bool) -> Duration {
    let start = Instant::now();
    let requests = |s: &Simulator| s.requests().into_iter().filter(|r| r.path != "/version").collect::<Vec<_>>();
    let mut last = (0, 0);
    let mut last_change = Instant::now();
    let mut report = Instant::now();
    let mut reported = (0, 0);
    loop {
        let (h, v) = (requests(host), requests(virt));
        let now = (h.len(), v.len());
        if timeline && report.elapsed() >= Duration::from_secs(1) {
            let mut by: std::collections::BTreeMap<String, usize> = Default::default();
            for (side, r) in
                h[reported.0..].iter().map(|r| ("host", r)).chain(v[reported.1..].iter().map(|r| ("virtual", r)))
            {
                let resource =
                    r.path.rsplit('/').find(|p| p.chars().all(|c| c.is_ascii_lowercase())).unwrap_or_default();
                let how = if r.query.contains("watch=true") {
                    " watch"
                } else if r.query.contains("limit=") {
                    " list"
                } else {
                    ""
                };
                *by.entry(format!("{side} {} {resource}{how}", r.method)).or_default() += 1;
            }
            let line: Vec<String> = by.into_iter().map(|(k, n)| format!("{n} {k}")).collect();
            eprintln!("  restart +{:.0}s: {}", start.elapsed().as_secs_f64(), line.join(", "));
            reported = now;
            report = Instant::now();
        }
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() >= quiet && now.0 + now.1 > 0 {
            return last_change - start;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// The simulators, each on a runtime of its own (their kubelet and controllers must not starve
/// the measuring client, nor it them).
fn simulators() -> (Simulator, Simulator) {
    let host = host_simulator();
    let virt =
        Simulator::start_blocking(SimConfig { tls: true, history_limit: 2_000_000, ..SimConfig::default() }).unwrap();
    (host, virt)
}

/// A host with the vcluster's namespace, its Service and the workloads' ServiceAccount (as the
/// chart makes them).
fn host_simulator() -> Simulator {
    let host = Simulator::start_blocking(SimConfig {
        workloads: Workloads { enabled: true, pod_cidr: "10.244.0.0/16".into(), ..Workloads::default() },
        history_limit: 2_000_000,
        ..SimConfig::default()
    })
    .unwrap();
    host.seed_yaml(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {HOST_NS}}}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: my-vc, namespace: {HOST_NS}}}\nspec: {{ports: [{{port: 443, targetPort: 8443}}]}}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: vc-workload-my-vc, namespace: {HOST_NS}}}\n"
    ))
    .unwrap();
    host
}

/// What the syncer phase measured, printed beside the raw rate measured after it.
struct Syncing {
    elapsed: Duration,
    report: String,
    made: Vec<(ConfigMap, Pod)>,
}

async fn run(n: usize, host: &Simulator, virt: &Simulator) -> Syncing {
    let dir = tempfile::tempdir().unwrap();
    // The host kubeconfig with the vcluster's namespace as the context's (the syncer's "current namespace").
    let mut kubeconfig = kube::config::Kubeconfig::read_from(host.kubeconfig_path()).unwrap();
    for c in kubeconfig.contexts.iter_mut() {
        if let Some(ctx) = c.context.as_mut() {
            ctx.namespace = Some(HOST_NS.into());
        }
    }
    std::fs::write(dir.path().join("host.kubeconfig"), serde_json::to_string(&kubeconfig).unwrap()).unwrap();
    let hclient = host.client().await.unwrap();
    let vclient = virt.client().await.unwrap();
    let objects = virtual_objects(n);

    let mut syncer = spawn_syncer(dir.path(), virt);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(hclient.clone(), HOST_NS);
    while secrets.get_opt("vc-my-vc").await.unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let seen = host_pods_seen(&hclient);

    let created: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let (_, bench_cpu_before) = proc_stats(std::process::id());
    let cms: Api<ConfigMap> = Api::namespaced(vclient.clone(), "default");
    let vpods: Api<Pod> = Api::namespaced(vclient.clone(), "default");
    let start = Instant::now();
    stream::iter(objects.iter())
        .map(|(cm, pod)| {
            let (cms, vpods, created) = (cms.clone(), vpods.clone(), created.clone());
            async move {
                cms.create(&PostParams::default(), cm).await.unwrap();
                vpods.create(&PostParams::default(), pod).await.unwrap();
                let host_name = format!("{}-x-default-x-my-vc", pod.metadata.name.as_deref().unwrap());
                created.lock().unwrap().insert(host_name, Instant::now());
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    eprintln!("  virtual objects created after {:.1}s", start.elapsed().as_secs_f64());
    let last = seen.all("", n, "host pods").await;
    let (_, bench_cpu_after) = proc_stats(std::process::id());
    let elapsed = last - start;
    let mut latencies: Vec<Duration> = {
        let seen = seen.seen.lock().unwrap();
        let created = created.lock().unwrap();
        seen.iter().filter_map(|(k, t)| created.get(k).map(|c| t.saturating_duration_since(*c))).collect()
    };
    latencies.sort();
    drop(seen);
    // Let the syncer finish the status copies, events and configmaps before measuring it.
    wait_idle(host, virt, Duration::from_secs(3), false).await;
    let (rss_kb, cpu) = proc_stats(syncer.id());

    // What the syncer asked of the host: every write beyond the 2N creates is overhead, and a
    // create answered 409 is one the syncer made twice.
    let host_requests = host.requests();
    let host_writes = host_requests.iter().filter(|r| r.is_write()).count();
    let duplicate_creates = host_requests.iter().filter(|r| r.method == "POST" && r.status == 409).count();
    let mut conflicts: HashMap<String, usize> = HashMap::new();
    for r in host_requests.iter().filter(|r| r.method == "POST" && r.status == 409) {
        let resource = r.path.rsplit('/').next().unwrap_or_default().to_owned();
        *conflicts.entry(resource).or_default() += 1;
    }
    // What it asked of the virtual API (status copies, bindings, token requests, nodes).
    let virtual_requests = virt.requests();
    let mut virtual_writes: HashMap<String, usize> = HashMap::new();
    for r in virtual_requests.iter().filter(|r| r.is_write()) {
        // `POST …/pods` → "POST pods", `PUT …/pods/web-1/status` → "PUT status".
        let last = r.path.split('?').next().unwrap_or_default().rsplit('/').next().unwrap_or_default();
        let what = if r.method == "POST" || last == "status" || last == "binding" { last } else { "object" };
        *virtual_writes.entry(format!("{} {what}", r.method)).or_default() += 1;
    }

    // Restart over N synced pods.
    stop(&mut syncer);
    host.clear_requests();
    virt.clear_requests();
    let restart = Instant::now();
    let mut syncer = spawn_syncer(dir.path(), virt);
    let settle = wait_idle(host, virt, Duration::from_secs(3), true).await;
    let written: Vec<String> = host
        .requests()
        .into_iter()
        .map(|r| ("host", r))
        .chain(virt.requests().into_iter().map(|r| ("virtual", r)))
        .filter(|(_, r)| r.is_write())
        .map(|(side, r)| format!("{side} {} {}", r.method, r.path))
        .collect();
    let writes = written.len();
    for w in written.iter().take(20) {
        eprintln!("  restart write: {w}");
    }
    let (restart_rss, _) = proc_stats(syncer.id());
    stop(&mut syncer);
    let _ = restart;

    let made = made_by_syncer(&hclient, n).await;

    let mut report = String::new();
    let mut line = |text: String| {
        report.push_str(&text);
        report.push('\n');
    };
    line(format!(
        "  create→host pod latency: p50 {:.0} ms, p99 {:.0} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3
    ));
    line(format!(
        "  host requests: {} ({host_writes} writes, {duplicate_creates} creates answered 409)",
        host_requests.len()
    ));
    line(format!("  host creates answered 409, by resource: {conflicts:?}"));
    line(format!(
        "  virtual requests (the bench's own creates included): {} (writes: {virtual_writes:?})",
        virtual_requests.len()
    ));
    line(format!(
        "  syncer peak RSS {:.1} MB, CPU time {cpu:.1} s; the simulators and the bench's client until the last host pod: {:.1} s",
        rss_kb as f64 / 1024.0,
        bench_cpu_after - bench_cpu_before
    ));
    line(format!(
        "  restart: {writes} writes, idle after {:.2}s (peak RSS {:.1} MB)",
        settle.as_secs_f64(),
        restart_rss as f64 / 1024.0
    ));
    Syncing { elapsed, report, made }
}

fn main() {
    let counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() { vec![1000, 10_000] } else { counts };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for n in counts {
        let (host, virt) = simulators();
        let syncing = runtime.block_on(run(n, &host, &virt));
        drop((host, virt));
        // The physical limit: the same host objects on a host of its own (so neither phase
        // pays for the other's pods).
        let raw_host = host_simulator();
        let (raw_created, raw) = runtime.block_on(raw_rate(&raw_host, &syncing.made));
        drop(raw_host);
        let rate = (2 * n) as f64 / syncing.elapsed.as_secs_f64();
        println!("pods={n}");
        println!(
            "  raw host creates (one client, {IN_FLIGHT} in flight): {raw:.0} objects/s until the watch saw the last pod ({raw_created:.0} until the last create returned)"
        );
        println!(
            "  syncer: all {n} host pods after {:.2}s, {rate:.0} objects/s ({:.0}% of raw; {:.0}% of the rate until the last create returned)",
            syncing.elapsed.as_secs_f64(),
            100.0 * rate / raw,
            100.0 * rate / raw_created
        );
        print!("{}", syncing.report);
    }
}
