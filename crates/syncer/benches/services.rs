//! Services per second through the syncer, beside the host's raw create rate in the same run.
//!
//! `cargo bench -p vcluster-syncer --bench services [-- 1000]` (`--profile dev` for a debug build)
//!
//! Per count N: two simulators, each on a runtime of its own (host; virtual: control plane only,
//! TLS), the syncer's controllers and the API endpoint (with the Service create redirect)
//! in-process, N virtual Services with a selector, 32 creates in flight.
//! - raw: one client creating the N translated host Services directly on a fresh host simulator;
//! - endpoint: N creates through the API endpoint (host first, then virtual): objects per second,
//!   create latency p50/p99 (the virtual ClusterIP is the host's in the answer), answers whose
//!   ClusterIP is not the host Service's;
//! - direct: N creates on the virtual API (the syncer's recreate path): time until every virtual
//!   Service has its host's ClusterIP, latency p50/p99 from the create to the virtual Service
//!   holding the host's ClusterIP.
// A benchmark reports on stdout, progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/proxy_support/mod.rs"]
mod proxy_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use kube_sim::{SimConfig, Simulator};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::redirect::ServiceRedirect;
use vcluster_syncer::startup::{self, Environment, Timings};
use vcluster_syncer::translate::{self, services};

const HOST_NS: &str = "vcluster-my-vc";
const IN_FLIGHT: usize = 32;

fn service(name: &str, namespace: &str) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": name, "namespace": namespace, "labels": { "app": name } },
        "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] }
    }))
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({ "metadata": { "name": name } })).unwrap();
    let _ = Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await;
}

async fn raw_rate(host: &Simulator, n: usize) -> f64 {
    let client = host.client().await.unwrap();
    namespace(&client, HOST_NS).await;
    let ctx = translate::Context::new("my-vc", HOST_NS);
    let api: Api<Service> = Api::namespaced(client, HOST_NS);
    let start = Instant::now();
    stream::iter(0..n)
        .map(|i| {
            let obj = services::to_host(&ctx, &service(&format!("raw-{i}"), "default"));
            let api = api.clone();
            async move { api.create(&PostParams::default(), &obj).await.map(|_| ()) }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("VCLUSTER_SYNCER_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .try_init();
    let counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() { vec![1000] } else { counts };
    println!(
        "| services | raw host rate | endpoint rate | endpoint p50 / p99 | wrong IPs | direct: all host IPs | direct rate | direct p50 / p99 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for n in counts {
        // Each simulator on a runtime of its own, made outside the syncer's.
        let raw_host = Simulator::start_blocking(SimConfig::default()).unwrap();
        let host = Simulator::start_blocking(SimConfig::default()).unwrap();
        let virt = Simulator::start_blocking(SimConfig { tls: true, control_plane_only: true, ..SimConfig::default() })
            .unwrap();
        runtime.block_on(run(n, &raw_host, &host, &virt));
    }
}

async fn run(n: usize, raw_host: &Simulator, host: &Simulator, virt: &Simulator) {
    {
        let raw = raw_rate(raw_host, n).await;
        eprintln!("raw: {raw:.0} obj/s");
        let host_client = host.client().await.unwrap();
        namespace(&host_client, HOST_NS).await;
        let virt_client = virt.client().await.unwrap();
        namespace(&virt_client, "direct").await;
        let virt_kubeconfig = Kubeconfig::read_from(virt.kubeconfig_path()).unwrap();
        let options = vcluster_syncer::options::parse([
            "vcluster-syncer",
            "--name=my-vc",
            "--service-account=vc-workload-my-vc",
            "--sync=-ingressclasses",
        ])
        .unwrap()
        .options;
        let redirect = ServiceRedirect::new(host_client.clone(), startup::translation_context(&options, HOST_NS));
        let env = Environment {
            virtual_client: virt_client.clone(),
            virtual_kubeconfig: virt_kubeconfig.clone(),
            host_client: host_client.clone(),
            current_namespace: HOST_NS.into(),
            identity: "bench".into(),
            stats: Arc::default(),
        };
        let (readiness, mut ready) = watch::channel(false);
        let shutdown = CancellationToken::new();
        let syncer = tokio::spawn(startup::run_with(options, env, Timings::default(), readiness, shutdown.clone()));
        ready.wait_for(|r| *r).await.unwrap();
        let upstream =
            kube::Config::from_custom_kubeconfig(virt_kubeconfig, &KubeConfigOptions::default()).await.unwrap();
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
        let user =
            Client::try_from(kube::Config::from_custom_kubeconfig(user, &KubeConfigOptions::default()).await.unwrap())
                .unwrap();
        let hsvc: Api<Service> = Api::namespaced(host_client.clone(), HOST_NS);

        // Through the endpoint.
        let usvc: Api<Service> = Api::namespaced(user, "default");
        let start = Instant::now();
        let results: Vec<(Duration, String, String)> = stream::iter(0..n)
            .map(|i| {
                let (usvc, hsvc) = (usvc.clone(), hsvc.clone());
                async move {
                    let t = Instant::now();
                    let created = usvc.create(&PostParams::default(), &service(&format!("web-{i}"), "default")).await?;
                    let latency = t.elapsed();
                    let host = hsvc.get(&format!("web-{i}-x-default-x-my-vc")).await?;
                    let ip = |s: &Service| s.spec.as_ref().and_then(|s| s.cluster_ip.clone()).unwrap_or_default();
                    Ok::<_, kube::Error>((latency, ip(&created), ip(&host)))
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect()
            .await
            .unwrap();
        let endpoint_secs = start.elapsed().as_secs_f64();
        let wrong = results.iter().filter(|(_, v, h)| v != h || v.is_empty()).count();
        let mut lat: Vec<Duration> = results.iter().map(|r| r.0).collect();
        lat.sort();
        eprintln!("endpoint: {n} in {endpoint_secs:.1} s");

        // Directly on the virtual API: the recreate path.
        let vsvc: Api<Service> = Api::namespaced(virt_client.clone(), "direct");
        let created_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let settled: Arc<Mutex<HashMap<String, (Instant, String)>>> = Arc::default();
        let watch_task = {
            let settled = settled.clone();
            let api = vsvc.clone();
            tokio::spawn(async move {
                let mut events = watcher(api, watcher::Config::default()).boxed();
                while let Some(Ok(event)) = events.next().await {
                    if let watcher::Event::Apply(s) | watcher::Event::InitApply(s) = event {
                        let ip = s.spec.as_ref().and_then(|s| s.cluster_ip.clone()).unwrap_or_default();
                        settled.lock().unwrap().insert(s.name_any(), (Instant::now(), ip));
                    }
                }
            })
        };
        let start = Instant::now();
        stream::iter(0..n)
            .map(|i| {
                let (vsvc, created_at) = (vsvc.clone(), created_at.clone());
                async move {
                    let name = format!("db-{i}");
                    created_at.lock().unwrap().insert(name.clone(), Instant::now());
                    vsvc.create(&PostParams::default(), &service(&name, "direct")).await.map(|_| ())
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .try_collect::<Vec<_>>()
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(600);
        let all = loop {
            let host_ips: HashMap<String, String> = hsvc
                .list(&ListParams::default().labels("vcluster.loft.sh/managed-by=my-vc"))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|s| (s.name_any(), s.spec.and_then(|s| s.cluster_ip).unwrap_or_default()))
                .collect();
            let settled = settled.lock().unwrap().clone();
            let done = (0..n).all(|i| {
                let host = host_ips.get(&format!("db-{i}-x-direct-x-my-vc"));
                let virt = settled.get(&format!("db-{i}"));
                matches!((host, virt), (Some(h), Some((_, v))) if !h.is_empty() && h == v)
            });
            if done {
                break start.elapsed();
            }
            assert!(Instant::now() < deadline, "direct creates did not converge");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        watch_task.abort();
        let created_at = created_at.lock().unwrap().clone();
        let settled = settled.lock().unwrap().clone();
        let mut direct: Vec<Duration> =
            created_at.iter().filter_map(|(name, t)| settled.get(name).map(|(s, _)| s.duration_since(*t))).collect();
        direct.sort();

        println!(
            "| {n} | {raw:.0} obj/s | {:.0} obj/s ({:.0} %) | {:.0} ms / {:.0} ms | {wrong} | {:.1} s | {:.0} obj/s ({:.0} %) | {:.0} ms / {:.0} ms |",
            n as f64 / endpoint_secs,
            100.0 * n as f64 / endpoint_secs / raw,
            percentile(&lat, 0.5).as_secs_f64() * 1000.0,
            percentile(&lat, 0.99).as_secs_f64() * 1000.0,
            all.as_secs_f64(),
            n as f64 / all.as_secs_f64(),
            100.0 * n as f64 / all.as_secs_f64() / raw,
            percentile(&direct, 0.5).as_secs_f64() * 1000.0,
            percentile(&direct, 0.99).as_secs_f64() * 1000.0,
        );
        shutdown.cancel();
        proxy.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), syncer).await;
    }
}
