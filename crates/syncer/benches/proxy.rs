//! List latency against kube-sim, direct and through the API endpoint (same client library, same
//! TLS, client certificates on both paths): `cargo bench -p vcluster-syncer --bench proxy`.
//! Prints the medians and p99 of `GET /api/v1/namespaces` and the ratio.
#![allow(clippy::print_stdout)]

#[path = "../tests/proxy_support/mod.rs"]
mod proxy_support;

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_sim::{SimConfig, Simulator};

const ROUNDS: usize = 2_000;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let sim = Simulator::start_with(SimConfig { tls: true, ..Default::default() }).await.unwrap();
    let kubeconfig = Kubeconfig::read_from(sim.kubeconfig_path()).unwrap();
    let upstream = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    let client_ca = sim.ca_pem().unwrap().to_string();
    let proxy = proxy_support::start_proxy(upstream, |c| c.client_ca_pem = client_ca).await;

    let direct = sim.client().await.unwrap();
    let cert = sim.issue_client_certificate("alice", &["devs"]).unwrap();
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: vc\n  cluster:\n    server: https://localhost:{}\n    certificate-authority-data: {}\ncontexts:\n- name: vc\n  context:\n    cluster: vc\n    user: u\ncurrent-context: vc\nusers:\n- name: u\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        proxy.addr.port(),
        b64(&proxy.server_ca.material.cert_pem),
        b64(&cert.cert_pem),
        b64(&cert.key_pem)
    );
    let config =
        kube::Config::from_custom_kubeconfig(Kubeconfig::from_yaml(&yaml).unwrap(), &KubeConfigOptions::default())
            .await
            .unwrap();
    let proxied = kube::Client::try_from(config).unwrap();

    let (direct, proxied) = (Api::<Namespace>::all(direct), Api::<Namespace>::all(proxied));
    let params = ListParams::default();
    for _ in 0..100 {
        direct.list(&params).await.unwrap();
        proxied.list(&params).await.unwrap();
    }
    let (mut a, mut b) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for _ in 0..ROUNDS {
        // Interleaved, so both paths see the same machine load.
        let t = Instant::now();
        direct.list(&params).await.unwrap();
        a.push(t.elapsed());
        let t = Instant::now();
        proxied.list(&params).await.unwrap();
        b.push(t.elapsed());
    }
    let (da, db) = (percentile(&mut a, 0.5), percentile(&mut b, 0.5));
    let (pa, pb) = (percentile(&mut a, 0.99), percentile(&mut b, 0.99));
    println!("list namespaces, {ROUNDS} rounds (kube-sim over TLS, kube-rs client)");
    println!("  direct:        median {:>8.1} µs   p99 {:>8.1} µs", da.as_secs_f64() * 1e6, pa.as_secs_f64() * 1e6);
    println!("  through proxy: median {:>8.1} µs   p99 {:>8.1} µs", db.as_secs_f64() * 1e6, pb.as_secs_f64() * 1e6);
    println!(
        "  ratio (median): {:.2}x, added {:.1} µs",
        db.as_secs_f64() / da.as_secs_f64(),
        (db.as_secs_f64() - da.as_secs_f64()) * 1e6
    );
    proxy.shutdown.cancel();
    let _ = proxy.task.await;
    sim.stop().await;
}
