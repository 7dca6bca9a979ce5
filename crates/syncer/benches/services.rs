//! Services per second through the syncer, beside the host's raw create rate in the same run.
//!
//! `cargo bench -p vcluster-syncer --bench services [-- 1000 10000] [--repeat=3] [--syncer-workers=1]`
//!
//! Each count runs `--repeat` times (3 unless told), raw and endpoint side by side in each round
//! on fresh simulators; the table shows medians (ratios: the median of each round's ratio),
//! and the wrong IPs and 409s of all rounds together. Each round's figures go to stderr.
//!
//! Per count N: N Services with a selector, each selecting 3 running pods (3N pods, made and
//! synced before the timed part, which starts once the syncer is idle over them, so the host's
//! endpoint controllers have real work per Service), 32 creates in
//! flight, every simulator on a runtime of its own (host: kubelet and controllers; virtual:
//! control plane only, TLS), the syncer's controllers and its API endpoint (with the Service
//! create redirect) in-process, the bench's clients on a runtime of their own.
//! - raw: one client creating the N translated host Services directly on a fresh host simulator
//!   holding the same 3N translated pods; two rates, until the last create returned and until a
//!   watch of the host's Endpoints (started before the first create) saw every Service's with
//!   addresses: both simulators run their endpoints controllers on the thread that serves them;
//! - endpoint, until every host Endpoints: the same second measure over the endpoint's creates;
//! - endpoint: N creates through the API endpoint (host first, then virtual): Services per second,
//!   create latency p50/p99 (the answer holds the host's ClusterIP);
//! - direct: N creates on the virtual API (the syncer's recreate path): time until every virtual
//!   Service holds its host's ClusterIP, latency p50/p99 from the create to that;
//! - wrong IPs: endpoint-made Services ever seen (a watch of the virtual Services from the start)
//!   with a ClusterIP that is not their host Service's. (A Service created on the virtual API
//!   directly holds the virtual cluster's own IP until the syncer recreates it, as upstream.)
//! - 409s: requests either server answered with a conflict during both phases.
//! - host CPU: the host simulator's thread's CPU time per Service, raw against endpoint (the
//!   goal's cost model counts the host: two writes per endpoint-made Service against one);
//! - endpoint CPU: where the endpoint phase's CPU time per Service went, by role: the host
//!   simulator, the virtual simulator, the syncer (its controllers and its API endpoint, on the
//!   main runtime) and the bench (its clients and watches, on a runtime of their own named
//!   `bench-client`, and the driver), all on the same two cores;
//! - ceiling without the syncer's CPU: the endpoint rate these two cores would leave room for
//!   if the syncer cost nothing (the rest of the endpoint phase's CPU per Service spread over
//!   both cores, each simulator's thread on at most one), and that as a share of the raw rate:
//!   the physical ceiling the goal is measured against on this machine;
//! - on stderr, per phase: the CPU time each thread used per Service.
//!
//! The syncer's runtime has one worker thread unless `--syncer-workers` says otherwise: the
//! chart gives the syncer container `limits.cpu: 1000m`, and the binary's runtime takes its
//! size from `std::thread::available_parallelism`, which reads that cgroup quota (tokio 1.x
//! `src/loom/std/mod.rs` `num_cpus`), so a deployed syncer runs one worker on any node that
//! enforces CPU limits (the kubelet's default, `--cpu-cfs-quota=true`).
// A benchmark reports on stdout, progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "support/first_seen.rs"]
mod first_seen;
#[path = "../tests/proxy_support/mod.rs"]
mod proxy_support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use first_seen::FirstSeen;
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Pod, Service, ServiceAccount};
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use kube_sim::{SimConfig, Simulator, Workloads};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::redirect::ServiceRedirect;
use vcluster_syncer::startup::{self, Environment, Timings};
use vcluster_syncer::translate::{self, pods, services};

const HOST_NS: &str = "vcluster-my-vc";
const IN_FLIGHT: usize = 32;
const PODS_PER_SERVICE: usize = 3;

fn service(name: &str, app: &str) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "namespace": "default", "labels": { "app": app } },
        "spec": { "selector": { "app": app }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] }
    }))
    .unwrap()
}

/// The 3 pods of Service `web-{i}`.
fn virtual_pods(n: usize) -> Vec<Pod> {
    (0..n * PODS_PER_SERVICE)
        .map(|j| {
            let app = format!("web-{}", j / PODS_PER_SERVICE);
            serde_json::from_value(serde_json::json!({
                "metadata": { "name": format!("{app}-{}", j % PODS_PER_SERVICE), "namespace": "default", "labels": { "app": app } },
                "spec": { "containers": [{ "name": "web", "image": "nginx", "ports": [{ "containerPort": 8080 }] }] }
            }))
            .unwrap()
        })
        .collect()
}

/// Each virtual Service's ClusterIPs as a watch saw them, and when.
type Sightings = HashMap<String, Vec<(Instant, String)>>;

/// CPU seconds used so far by each thread of this process, by (name, thread id).
fn cpu_by_thread() -> BTreeMap<(String, u32), f64> {
    let ticks = 100.0; // USER_HZ, the unit of /proc's utime and stime
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let time = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        out.insert((stat[open + 1..close].to_string(), tid), (time(11) + time(12)) / ticks);
    }
    out
}

/// Where a phase's CPU time went, per Service, by role.
#[derive(Default)]
struct CpuSplit {
    /// The host simulator's thread.
    host: f64,
    /// The virtual simulator's thread (endpoint phase only).
    virtual_: f64,
    /// The syncer's runtime: its controllers and its API endpoint.
    syncer: f64,
    /// The bench's own: its clients' runtime and the driver (the main thread).
    bench: f64,
}

impl CpuSplit {
    /// The rate (per second) a syncer costing no CPU would leave room for on these two cores:
    /// each simulator is one thread (at most one core), and everything but the syncer shares
    /// both cores.
    fn ceiling_without_syncer(&self) -> f64 {
        1000.0 / self.host.max(self.virtual_).max((self.host + self.virtual_ + self.bench) / 2.0)
    }
}

/// The CPU time each thread used since `before`, per Service: where a phase's time went, on
/// stderr thread by thread, returned by role. Both simulators' threads are named `kube-sim`,
/// the host's started first; the syncer runs on the main runtime's `tokio-rt-worker`s, the
/// bench's clients and watches on `bench-client`, the driver on the main thread.
fn report_cpu(phase: &str, before: &BTreeMap<(String, u32), f64>, n: usize) -> CpuSplit {
    let per_service: Vec<((String, u32), f64)> = cpu_by_thread()
        .into_iter()
        .map(|(thread, t)| {
            let ms = (t - before.get(&thread).copied().unwrap_or(0.0)) * 1000.0 / n as f64;
            (thread, ms)
        })
        .filter(|(_, ms)| *ms >= 0.005)
        .collect();
    let shown: Vec<String> = per_service.iter().map(|((name, tid), ms)| format!("{name}:{tid} {ms:.2}")).collect();
    eprintln!("{phase}: CPU ms per Service by thread: {}", shown.join(", "));
    let mut split = CpuSplit::default();
    let mut host_seen = false;
    for ((name, _), ms) in per_service {
        match name.as_str() {
            "kube-sim" if !host_seen => (split.host, host_seen) = (ms, true),
            "kube-sim" => split.virtual_ += ms,
            "tokio-rt-worker" => split.syncer += ms,
            _ => split.bench += ms,
        }
    }
    split
}

/// The bench's clients run on a runtime of their own (`bench-client`), so the syncer's CPU is
/// told apart from theirs: a client built here spawns its connections here.
async fn bench_client(clients: &tokio::runtime::Handle, kubeconfig: Kubeconfig) -> Client {
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    let _on_clients = clients.enter();
    Client::try_from(config).unwrap()
}

/// Run `work` on the clients' runtime and wait for it.
async fn on_clients<T: Send + 'static>(
    clients: &tokio::runtime::Handle,
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    clients.spawn(work).await.unwrap()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ip(s: &Service) -> String {
    s.spec.as_ref().and_then(|s| s.cluster_ip.clone()).unwrap_or_default()
}

async fn create_all<K>(api: &Api<K>, objects: impl IntoIterator<Item = K>)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    stream::iter(objects)
        .map(|o| {
            let api = api.clone();
            async move { api.create(&PostParams::default(), &o).await.map(|_| ()) }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

/// A host simulator with a kubelet whose pod network holds every pod of the run.
fn host_simulator() -> Simulator {
    Simulator::start_blocking(SimConfig {
        workloads: Workloads { enabled: true, pod_cidr: "10.244.0.0/16".into(), ..Workloads::default() },
        history_limit: 4_000_000,
        ..SimConfig::default()
    })
    .unwrap()
}

/// The vcluster's namespace, its Service and the workloads' service account.
async fn seed_host(client: &Client) {
    let pp = PostParams::default();
    let ns: Namespace = serde_json::from_value(serde_json::json!({ "metadata": { "name": HOST_NS } })).unwrap();
    Api::<Namespace>::all(client.clone()).create(&pp, &ns).await.unwrap();
    let sa: ServiceAccount =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "vc-workload-my-vc" } })).unwrap();
    Api::<ServiceAccount>::namespaced(client.clone(), HOST_NS).create(&pp, &sa).await.unwrap();
    let own = serde_json::json!({ "metadata": { "name": "my-vc" }, "spec": { "ports": [{ "port": 443, "targetPort": 8443 }] } });
    Api::<Service>::namespaced(client.clone(), HOST_NS)
        .create(&pp, &serde_json::from_value(own).unwrap())
        .await
        .unwrap();
}

/// Until every host pod of this vcluster has an IP.
async fn wait_host_pods(client: &Client, count: usize) {
    let api: Api<Pod> = Api::namespaced(client.clone(), HOST_NS);
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let list = api.list(&ListParams::default().labels("vcluster.loft.sh/managed-by=my-vc")).await.unwrap();
        let with_ip = list.items.iter().filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()).count();
        if with_ip >= count {
            return;
        }
        assert!(Instant::now() < deadline, "host pods: {with_ip} of {count} have IPs");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Until every virtual pod shows its host pod's IP and the syncer has made no reconcile and
/// copied no Event for a second: the pods' own sync (bindings, status and Event copies) is over
/// before the timed part, so it does not share the machine with the Services.
async fn wait_pods_settled(client: &Client, stats: &vcluster_syncer::controllers::Stats, count: usize) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let list = api.list(&ListParams::default()).await.unwrap();
        let with_ip = list.items.iter().filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()).count();
        if with_ip >= count {
            break;
        }
        assert!(Instant::now() < deadline, "virtual pods: {with_ip} of {count} have IPs");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut last = (stats.reconciled(), stats.events());
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = (stats.reconciled(), stats.events());
        if now == last {
            return;
        }
        assert!(Instant::now() < deadline, "the syncer did not settle over the pods");
        last = now;
    }
}

/// When a watch of the host's Endpoints first saw each one with addresses: the host's
/// endpoints controller has done its part of a Service.
fn host_endpoints_seen(clients: &tokio::runtime::Handle, host: &Client) -> FirstSeen {
    let _on_clients = clients.enter();
    FirstSeen::start(Api::<Endpoints>::namespaced(host.clone(), HOST_NS), |e: &Endpoints| {
        e.subsets.iter().flatten().any(|s| s.addresses.as_ref().is_some_and(|a| !a.is_empty()))
    })
}

/// The raw phase: two rates, as the endpoint phase's (until the last create returned, and until
/// the host's endpoints controller had made every Service's Endpoints), and the host's CPU.
struct Raw {
    rate: f64,
    with_endpoints: f64,
    cpu: CpuSplit,
}

async fn raw_rate(host: &Simulator, n: usize, clients: &tokio::runtime::Handle) -> Raw {
    let client = bench_client(clients, Kubeconfig::read_from(host.kubeconfig_path()).unwrap()).await;
    seed_host(&client).await;
    let ctx = translate::Context::new("my-vc", HOST_NS);
    let settings = pods::Settings {
        cluster_domain: "cluster.local".into(),
        service_account: "vc-workload-my-vc".into(),
        ..Default::default()
    };
    let host_pods = virtual_pods(n).into_iter().map(|mut p| {
        p.metadata.uid = Some("u".into());
        pods::to_host(&ctx, &settings, &p, &pods::Inputs::default())
    });
    create_all(&Api::namespaced(client.clone(), HOST_NS), host_pods).await;
    wait_host_pods(&client, n * PODS_PER_SERVICE).await;
    let endpoints = host_endpoints_seen(clients, &client);
    let api: Api<Service> = Api::namespaced(client, HOST_NS);
    let raw: Vec<Service> =
        (0..n).map(|i| services::to_host(&ctx, &service(&format!("raw-{i}"), &format!("web-{i}")))).collect();
    let cpu = cpu_by_thread();
    let start = Instant::now();
    on_clients(clients, async move { create_all(&api, raw).await }).await;
    let created = start.elapsed().as_secs_f64();
    let with_endpoints = (endpoints.all("raw-", n, "host Endpoints").await - start).as_secs_f64();
    let cpu = report_cpu("raw", &cpu, n);
    Raw { rate: n as f64 / created, with_endpoints: n as f64 / with_endpoints, cpu }
}

/// One round's endpoint and direct phases.
struct Round {
    rate: f64,
    with_endpoints: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu: CpuSplit,
    direct_secs: f64,
    direct_p50_ms: f64,
    direct_p99_ms: f64,
    wrong: usize,
    conflicts: usize,
}

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("VCLUSTER_SYNCER_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .try_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let counts: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() { vec![1000, 10_000] } else { counts };
    let number = |flag: &str, default: usize, example: &str| match args
        .iter()
        .find_map(|a| a.strip_prefix(flag))
        .map_or(Ok(default), str::parse::<usize>)
    {
        Ok(r) => r.max(1),
        Err(e) => {
            eprintln!("error: {flag} takes a number, such as {flag}{example}: {e}");
            std::process::exit(2);
        }
    };
    let repeat = number("--repeat=", 3, "3");
    let syncer_workers = number("--syncer-workers=", 1, "1");
    println!(
        "| services (3 pods each) | raw host rate | endpoint rate | raw, until every host Endpoints | endpoint, until every host Endpoints | host CPU per Service: raw / endpoint | endpoint CPU per Service: host + virtual + syncer + bench | ceiling without the syncer's CPU | endpoint p50 / p99 | direct: all host IPs | direct rate | direct p50 / p99 | wrong IPs | 409s |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    // The syncer's runtime (see the module comment); the simulators have runtimes of their own.
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(syncer_workers).enable_all().build().unwrap();
    eprintln!("the syncer's runtime: {syncer_workers} worker thread(s)");
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("bench-client")
        .enable_all()
        .build()
        .unwrap();
    for n in counts {
        let mut rounds = Vec::new();
        for round in 1..=repeat {
            let raw_host = host_simulator();
            let raw = runtime.block_on(raw_rate(&raw_host, n, clients.handle()));
            drop(raw_host);
            eprintln!(
                "raw: {:.0} services/s until the last create returned, {:.0} until every Endpoints",
                raw.rate, raw.with_endpoints
            );
            // Each simulator on a runtime of its own, made outside the syncer's.
            let host = host_simulator();
            let virt = Simulator::start_blocking(SimConfig {
                tls: true,
                control_plane_only: true,
                history_limit: 4_000_000,
                ..SimConfig::default()
            })
            .unwrap();
            let r = runtime.block_on(run(n, &host, &virt, clients.handle()));
            eprintln!(
                "round {round} of {repeat} at {n}: endpoint {:.0} against raw {:.0} /s ({:.0} %); host CPU {:.2} against {:.2} ms per Service ({:.0} %); syncer {:.2} ms per Service; without the syncer's CPU at most {:.0} /s ({:.0} %)",
                r.rate,
                raw.rate,
                100.0 * r.rate / raw.rate,
                r.cpu.host,
                raw.cpu.host,
                100.0 * raw.cpu.host / r.cpu.host,
                r.cpu.syncer,
                r.cpu.ceiling_without_syncer(),
                100.0 * r.cpu.ceiling_without_syncer() / raw.rate
            );
            rounds.push((raw, r));
        }
        print_row(n, &rounds);
    }
}

/// The table row of one count: medians over its rounds.
fn print_row(n: usize, rounds: &[(Raw, Round)]) {
    let m = |f: &dyn Fn(&Raw, &Round) -> f64| median(rounds.iter().map(|(raw, r)| f(raw, r)).collect());
    println!(
        "| {n} | {:.0} /s | {:.0} /s ({:.0} %) | {:.0} /s | {:.0} /s ({:.0} %) | {:.2} / {:.2} ms ({:.0} %) | {:.2} + {:.2} + {:.2} + {:.2} ms | {:.0} /s ({:.0} %) | {:.0} ms / {:.0} ms | {:.1} s | {:.0} /s ({:.0} %) | {:.0} ms / {:.0} ms | {} | {} |",
        m(&|raw, _| raw.rate),
        m(&|_, r| r.rate),
        m(&|raw, r| 100.0 * r.rate / raw.rate),
        m(&|raw, _| raw.with_endpoints),
        m(&|_, r| r.with_endpoints),
        m(&|raw, r| 100.0 * r.with_endpoints / raw.with_endpoints),
        m(&|raw, _| raw.cpu.host),
        m(&|_, r| r.cpu.host),
        m(&|raw, r| 100.0 * raw.cpu.host / r.cpu.host),
        m(&|_, r| r.cpu.host),
        m(&|_, r| r.cpu.virtual_),
        m(&|_, r| r.cpu.syncer),
        m(&|_, r| r.cpu.bench),
        m(&|_, r| r.cpu.ceiling_without_syncer()),
        m(&|raw, r| 100.0 * r.cpu.ceiling_without_syncer() / raw.rate),
        m(&|_, r| r.p50_ms),
        m(&|_, r| r.p99_ms),
        m(&|_, r| r.direct_secs),
        m(&|_, r| n as f64 / r.direct_secs),
        m(&|raw, r| 100.0 * n as f64 / r.direct_secs / raw.rate),
        m(&|_, r| r.direct_p50_ms),
        m(&|_, r| r.direct_p99_ms),
        rounds.iter().map(|(_, r)| r.wrong).sum::<usize>(),
        rounds.iter().map(|(_, r)| r.conflicts).sum::<usize>(),
    );
}

async fn run(n: usize, host: &Simulator, virt: &Simulator, clients: &tokio::runtime::Handle) -> Round {
    let host_client = host.client().await.unwrap();
    seed_host(&host_client).await;
    let virt_client = virt.client().await.unwrap();
    let virt_kubeconfig = Kubeconfig::read_from(virt.kubeconfig_path()).unwrap();
    let options = vcluster_syncer::options::parse([
        "vcluster-syncer",
        "--name=my-vc",
        "--service-account=vc-workload-my-vc",
        "--sync=-ingressclasses",
    ])
    .unwrap()
    .options;
    let stats: Arc<vcluster_syncer::controllers::Stats> = Arc::default();
    let env = Environment {
        virtual_client: virt_client.clone(),
        virtual_kubeconfig: virt_kubeconfig.clone(),
        host_client: host_client.clone(),
        current_namespace: HOST_NS.into(),
        identity: "bench".into(),
        stats: stats.clone(),
        recent_creates: Arc::default(),
    };
    let redirect = ServiceRedirect::new(
        host_client.clone(),
        startup::translation_context(&options, HOST_NS),
        env.recent_creates.clone(),
    );
    let (readiness, mut ready) = watch::channel(false);
    let shutdown = CancellationToken::new();
    let syncer = tokio::spawn(startup::run_with(options, env, Timings::default(), readiness, shutdown.clone()));
    ready.wait_for(|r| *r).await.unwrap();
    let upstream = kube::Config::from_custom_kubeconfig(virt_kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    let client_ca = virt.ca_pem().unwrap().to_string();
    let proxy = proxy_support::start_proxy(upstream, move |c| {
        c.client_ca_pem = client_ca;
        c.connect_timeout = Duration::from_secs(10);
        c.interceptors.push(redirect);
    })
    .await;
    let mut user = Kubeconfig::from_yaml(&virt.kubeconfig_for("bench", &["system:masters"]).unwrap()).unwrap();
    for cluster in &mut user.clusters {
        let c = cluster.cluster.as_mut().unwrap();
        c.server = Some(format!("https://localhost:{}", proxy.addr.port()));
        use base64::Engine as _;
        c.certificate_authority_data =
            Some(base64::engine::general_purpose::STANDARD.encode(&proxy.server_ca.material.cert_pem));
    }
    let user = bench_client(clients, user).await;
    // The bench's watches have clients of their own, apart from the syncer's.
    let host_watching = bench_client(clients, Kubeconfig::read_from(host.kubeconfig_path()).unwrap()).await;
    let virt_watching = bench_client(clients, Kubeconfig::read_from(virt.kubeconfig_path()).unwrap()).await;

    // The pods, synced and running before the Services come.
    let start = Instant::now();
    create_all(&Api::namespaced(virt_client.clone(), "default"), virtual_pods(n)).await;
    wait_host_pods(&host_client, n * PODS_PER_SERVICE).await;
    wait_pods_settled(&virt_client, &stats, n * PODS_PER_SERVICE).await;
    eprintln!("{} pods synced, running and settled after {:.1} s", n * PODS_PER_SERVICE, start.elapsed().as_secs_f64());

    // Every ClusterIP each virtual Service is seen with, and when.
    let seen: Arc<Mutex<Sightings>> = Arc::default();
    let watch_task = {
        let seen = seen.clone();
        let api: Api<Service> = Api::namespaced(virt_watching, "default");
        clients.spawn(async move {
            let mut events = watcher(api, watcher::Config::default()).boxed();
            while let Some(Ok(event)) = events.next().await {
                if let watcher::Event::Apply(s) | watcher::Event::InitApply(s) = event {
                    seen.lock().unwrap().entry(s.name_any()).or_default().push((Instant::now(), ip(&s)));
                }
            }
        })
    };
    let hsvc: Api<Service> = Api::namespaced(host_client.clone(), HOST_NS);

    // Through the endpoint: the answer holds the host's IP.
    let usvc: Api<Service> = Api::namespaced(user, "default");
    let host_endpoints = host_endpoints_seen(clients, &host_watching);
    // Conflicts answered from here on (a create racing the syncer's own, a stale update).
    host.clear_requests();
    virt.clear_requests();
    let cpu = cpu_by_thread();
    let start = Instant::now();
    let mut endpoint: Vec<Duration> = on_clients(clients, async move {
        stream::iter(0..n)
            .map(|i| {
                let usvc = usvc.clone();
                async move {
                    let t = Instant::now();
                    usvc.create(&PostParams::default(), &service(&format!("web-{i}"), &format!("web-{i}"))).await?;
                    Ok::<_, kube::Error>(t.elapsed())
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect()
            .await
    })
    .await
    .unwrap();
    let endpoint_secs = start.elapsed().as_secs_f64();
    let endpoint_with_endpoints = (host_endpoints.all("web-", n, "host Endpoints").await - start).as_secs_f64();
    drop(host_endpoints);
    let cpu = report_cpu("endpoint", &cpu, n);
    endpoint.sort();
    eprintln!("endpoint: {n} in {endpoint_secs:.1} s, every host Endpoints after {endpoint_with_endpoints:.1} s");

    // Directly on the virtual API: the recreate path.
    let vsvc: Api<Service> = Api::namespaced(virt_client.clone(), "default");
    let created_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let start = Instant::now();
    stream::iter(0..n)
        .map(|i| {
            let (vsvc, created_at) = (vsvc.clone(), created_at.clone());
            async move {
                let name = format!("db-{i}");
                created_at.lock().unwrap().insert(name.clone(), Instant::now());
                vsvc.create(&PostParams::default(), &service(&name, &format!("web-{i}"))).await.map(|_| ())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1800);
    let mut report = Instant::now();
    let host_ips = loop {
        let host_ips: HashMap<String, String> = hsvc
            .list(&ListParams::default().labels("vcluster.loft.sh/managed-by=my-vc"))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|s| Some((s.annotations().get("vcluster.loft.sh/object-name")?.clone(), ip(&s))))
            .collect();
        let settled = {
            let seen = seen.lock().unwrap();
            (0..n)
                .filter(|i| {
                    let name = format!("db-{i}");
                    let last = seen.get(&name).and_then(|s| s.last()).map(|(_, ip)| ip);
                    matches!((host_ips.get(&name), last), (Some(h), Some(v)) if !h.is_empty() && h == v)
                })
                .count()
        };
        if settled == n {
            break host_ips;
        }
        assert!(Instant::now() < deadline, "direct creates did not converge: {settled} of {n}");
        if report.elapsed() > Duration::from_secs(10) {
            eprintln!("direct: {settled} of {n} hold their host IP after {:.0} s", start.elapsed().as_secs_f64());
            report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    watch_task.abort();
    let conflicts: Vec<String> = [("host", host), ("virtual", virt)]
        .iter()
        .flat_map(|(side, s)| s.requests().into_iter().map(move |r| (side, r)))
        .filter(|(_, r)| r.status == 409)
        .map(|(side, r)| format!("{side} {} {}", r.method, r.path))
        .collect();
    for c in conflicts.iter().take(10) {
        eprintln!("  409: {c}");
    }
    let conflicts = conflicts.len();
    let seen = seen.lock().unwrap().clone();
    let direct_end = (0..n)
        .filter_map(|i| seen.get(&format!("db-{i}")).and_then(|s| s.last()).map(|(t, _)| *t))
        .max()
        .unwrap_or(start);
    let direct_secs = (direct_end - start).as_secs_f64();
    let created_at = created_at.lock().unwrap().clone();
    let mut direct: Vec<Duration> = created_at
        .iter()
        .filter_map(|(name, t)| {
            let host_ip = host_ips.get(name)?;
            let (at, _) = seen.get(name)?.iter().find(|(_, ip)| ip == host_ip)?;
            Some(at.saturating_duration_since(*t))
        })
        .collect();
    direct.sort();
    let wrong: HashSet<String> = (0..n)
        .map(|i| format!("web-{i}"))
        .filter(|name| {
            let host_ip = host_ips.get(name);
            seen.get(name).is_none_or(|s| s.iter().any(|(_, ip)| Some(ip) != host_ip))
        })
        .collect();
    if !wrong.is_empty() {
        eprintln!("wrong IPs: {:?}", wrong.iter().take(10).collect::<Vec<_>>());
    }

    shutdown.cancel();
    proxy.shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(10), syncer).await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Round {
        rate: n as f64 / endpoint_secs,
        with_endpoints: n as f64 / endpoint_with_endpoints,
        p50_ms: ms(percentile(&endpoint, 0.5)),
        p99_ms: ms(percentile(&endpoint, 0.99)),
        cpu,
        direct_secs,
        direct_p50_ms: ms(percentile(&direct, 0.5)),
        direct_p99_ms: ms(percentile(&direct, 0.99)),
        wrong: wrong.len(),
        conflicts,
    }
}
