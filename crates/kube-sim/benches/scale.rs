//! How the simulator's write and list rates hold up as the store grows.
//!
//! `cargo bench -p kube-sim --bench scale [-- 1000 10000]`
//!
//! Per count N, each phase on a fresh in-process simulator, one kube-rs client, 32 creates in
//! flight (what the syncer benches' "raw" lines measure):
//! - services: N Services with a selector (control plane only: allocation, garbage collector);
//! - pods: N ConfigMaps and N Pods mounting them (workload mode: scheduler, kubelet, controllers);
//! - mixed: N Services selecting N Pods one to one (workload mode: endpoints controller);
//! - owned: N ConfigMaps owned by one Service (garbage collector; the syncer's host objects all
//!   have the vcluster's Service or StatefulSet as owner);
//! - list: the N pods read back in pages of 500, and a label-selector list matching one pod.
// A benchmark reports on stdout, progress on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Instant;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use kube_sim::{SimConfig, Simulator, Workloads};

const IN_FLIGHT: usize = 32;
const NS: &str = "bench";

fn service(i: usize) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": format!("svc-{i}") },
        "spec": { "selector": { "app": format!("web-{i}") }, "ports": [{ "name": "http", "port": 80, "targetPort": 8080 }] }
    }))
    .unwrap()
}

fn pod(i: usize) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": format!("web-{i}"), "labels": { "app": format!("web-{i}"), "tier": "web" } },
        "spec": {
            "containers": [{ "name": "web", "image": "nginx", "ports": [{ "containerPort": 8080 }],
                             "volumeMounts": [{ "name": "c", "mountPath": "/c" }] }],
            "volumes": [{ "name": "c", "configMap": { "name": format!("cfg-{i}") } }]
        }
    }))
    .unwrap()
}

fn config_map(i: usize) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": format!("cfg-{i}") }, "data": { "value": i.to_string() }
    }))
    .unwrap()
}

async fn namespace(client: &Client) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({ "metadata": { "name": NS } })).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.unwrap();
}

/// Objects created per second, `per_item` creates for each of `n` items.
async fn creates<F, Fut>(n: usize, per_item: usize, f: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let start = Instant::now();
    stream::iter(0..n).map(f).buffer_unordered(IN_FLIGHT).collect::<Vec<()>>().await;
    (n * per_item) as f64 / start.elapsed().as_secs_f64()
}

fn sim(workloads: bool) -> Simulator {
    Simulator::start_blocking(SimConfig {
        // A pod network that holds every pod (the default /24 gives 253 pods an IP).
        workloads: Workloads { enabled: workloads, pod_cidr: "10.244.0.0/16".into(), ..Workloads::default() },
        history_limit: 2_000_000,
        ..SimConfig::default()
    })
    .unwrap()
}

fn main() {
    let counts: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() { vec![1000, 10_000] } else { counts };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!(
        "| N | services/s | configmaps+pods/s | services+pods/s (mixed) | owned configmaps/s | paged list (500) | selector list |"
    );
    println!("|---|---|---|---|---|---|---|");
    for n in counts {
        let s = sim(false);
        let services = runtime.block_on(async {
            let client = s.client().await.unwrap();
            namespace(&client).await;
            let api: Api<Service> = Api::namespaced(client, NS);
            creates(n, 1, |i| {
                let api = api.clone();
                async move {
                    api.create(&PostParams::default(), &service(i)).await.unwrap();
                }
            })
            .await
        });
        eprintln!("{n}: services {services:.0}/s");
        drop(s);

        let s = sim(true);
        let (pods, paged, selected) = runtime.block_on(async {
            let client = s.client().await.unwrap();
            namespace(&client).await;
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
            let pods_api: Api<Pod> = Api::namespaced(client, NS);
            let rate = creates(n, 2, |i| {
                let (cms, pods_api) = (cms.clone(), pods_api.clone());
                async move {
                    cms.create(&PostParams::default(), &config_map(i)).await.unwrap();
                    pods_api.create(&PostParams::default(), &pod(i)).await.unwrap();
                }
            })
            .await;
            let start = Instant::now();
            let mut seen = 0;
            let mut lp = ListParams::default().limit(500);
            loop {
                let page = pods_api.list(&lp).await.unwrap();
                seen += page.items.len();
                match page.metadata.continue_.filter(|c| !c.is_empty()) {
                    Some(c) => lp = lp.continue_token(&c),
                    None => break,
                }
            }
            assert!(seen >= n);
            let paged = start.elapsed();
            let start = Instant::now();
            let one = pods_api.list(&ListParams::default().labels("app=web-7")).await.unwrap();
            assert_eq!(one.items.len(), 1);
            (rate, paged, start.elapsed())
        });
        eprintln!("{n}: configmaps+pods {pods:.0}/s");
        drop(s);

        let s = sim(true);
        let mixed = runtime.block_on(async {
            let client = s.client().await.unwrap();
            namespace(&client).await;
            let svcs: Api<Service> = Api::namespaced(client.clone(), NS);
            let pods_api: Api<Pod> = Api::namespaced(client, NS);
            creates(n, 2, |i| {
                let (svcs, pods_api) = (svcs.clone(), pods_api.clone());
                async move {
                    svcs.create(&PostParams::default(), &service(i)).await.unwrap();
                    pods_api.create(&PostParams::default(), &pod(i)).await.unwrap();
                }
            })
            .await
        });
        eprintln!("{n}: mixed {mixed:.0}/s");
        drop(s);

        let s = sim(false);
        let owned = runtime.block_on(async {
            let client = s.client().await.unwrap();
            namespace(&client).await;
            let svcs: Api<Service> = Api::namespaced(client.clone(), NS);
            let owner = svcs.create(&PostParams::default(), &service(0)).await.unwrap();
            let cms: Api<ConfigMap> = Api::namespaced(client, NS);
            let reference = serde_json::json!([{
                "apiVersion": "v1", "kind": "Service", "name": "svc-0", "uid": owner.metadata.uid.unwrap()
            }]);
            creates(n, 1, |i| {
                let cms = cms.clone();
                let mut cm = config_map(i);
                cm.metadata.owner_references = serde_json::from_value(reference.clone()).unwrap();
                async move {
                    cms.create(&PostParams::default(), &cm).await.unwrap();
                }
            })
            .await
        });
        eprintln!("{n}: owned {owned:.0}/s");
        drop(s);
        println!(
            "| {n} | {services:.0} | {pods:.0} | {mixed:.0} | {owned:.0} | {:.0} ms | {:.1} ms |",
            paged.as_secs_f64() * 1e3,
            selected.as_secs_f64() * 1e3
        );
    }
}
