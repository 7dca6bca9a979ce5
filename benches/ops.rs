//! Benchmark of `vcluster list` and `vcluster delete` (the release binary, as whole processes)
//! against the API-server simulator. Run it with `scripts/bench-ops`.
//!
//! - `list -o json` with 1, 100 and 1,000 vclusters, each seeded as `create` leaves it (its
//!   release record with the rendered manifest and chart values, its StatefulSet, its running
//!   pod): requests, wall time, and beside it the same three LISTs made directly (a kube client in
//!   this process, in parallel, bodies parsed) — the transfer the command cannot avoid.
//! - `delete --yes` of one vcluster created by `create` (live workloads, the simulator's
//!   stand-in syncer), with `--no-wait` and waiting: requests and wall time.
//!
//! Environment: `BENCH_RUNS` (default 9), `VCLUSTER_BIN` (default `target/release/vcluster`).
#![allow(clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::median;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::ListParams;
use kube_sim::fixtures::vcluster::{SyncerOptions, stand_in_for_syncer};
use kube_sim::{SimConfig, Simulator, Workloads};
use serde_json::{Value, json};
use vcluster::release::{self, Chart, Metadata, RecordWrite, Release, Status};
use vcluster::render::{self, ReleaseInfo, RenderInput};
use vcluster::values::{self, Layers};

/// What `create` leaves for `name` in `namespace`: the record (rendered manifest, chart values,
/// computed config), the rendered StatefulSet, and its pod, running.
fn vcluster_objects(namespace: &str, name: &str) -> Vec<Value> {
    let computed = json!({"vcluster": {"image": "rancher/k3s:v1.27.3-k3s1"}, "serviceCIDR": "10.96.0.0/12"});
    let layers = Layers { computed: computed.as_object().unwrap().clone(), ..Layers::default() };
    let loaded = values::load(&layers).unwrap();
    let rendered = render::render(&RenderInput {
        release: ReleaseInfo { name: name.into(), namespace: namespace.into() },
        values: &loaded.values,
    })
    .unwrap();
    let mut record = Release {
        name: name.into(),
        namespace: namespace.into(),
        version: 1,
        chart: Some(Chart {
            metadata: Some(Metadata::vcluster()),
            values: Some(values::defaults().clone()),
            ..Chart::default()
        }),
        config: loaded.user,
        manifest: render::to_yaml_stream(&rendered.manifests).unwrap(),
        ..Release::default()
    };
    record.set_status(Status::Deployed, "Install complete");
    record.info.first_deployed = Some(jiff::Timestamp::now());
    let secret = release::to_secret(&record, RecordWrite::Create(jiff::Timestamp::now())).unwrap();
    let sts = rendered.manifests.iter().find(|m| m.kind == "StatefulSet").unwrap().object.clone();
    let labels = json!({"app": "vcluster", "release": name});
    // The pod as the StatefulSet controller makes it: the claim template becomes a volume.
    let mut spec = sts["spec"]["template"]["spec"].clone();
    let claim = json!({"name": "data", "persistentVolumeClaim": {"claimName": format!("data-{name}-0")}});
    spec["volumes"].as_array_mut().unwrap().push(claim);
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-0"), "namespace": namespace, "labels": labels},
        "spec": spec,
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    vec![serde_json::to_value(secret).unwrap(), sts, pod]
}

/// Seed vclusters `from..to`, in ten namespaces (a hundred at a time: the simulator's YAML reader
/// takes at most 1,024 documents at once).
fn seed(sim: &Simulator, from: usize, to: usize) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(100) {
        let mut yaml = String::new();
        for &i in chunk {
            let ns = format!("bench-{}", i % 10);
            if i < 10 {
                let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                yaml.push_str(&format!("---\n{namespace}\n"));
            }
            for object in vcluster_objects(&ns, &format!("vc-{i:04}")) {
                yaml.push_str(&format!("---\n{object}\n"));
            }
        }
        sim.seed_yaml(&yaml).unwrap();
    }
}

/// The three LISTs `list` makes, made directly, in parallel, bodies parsed.
fn direct_lists(client: &kube::Client, runtime: &tokio::runtime::Runtime) -> f64 {
    runtime.block_on(async {
        let (secrets, statefulsets, pods) = (
            Api::<Secret>::all(client.clone()),
            Api::<StatefulSet>::all(client.clone()),
            Api::<Pod>::all(client.clone()),
        );
        let (records, workloads) =
            (ListParams::default().labels("owner=helm"), ListParams::default().labels("app=vcluster"));
        let started = Instant::now();
        let (s, t, p) = futures::join!(secrets.list(&records), statefulsets.list(&workloads), pods.list(&workloads));
        let (_, _, _) = (s.unwrap(), t.unwrap(), p.unwrap());
        started.elapsed().as_secs_f64() * 1000.0
    })
}

/// Run the CLI: wall time, stdout, stderr.
fn run(bin: &Path, kubeconfig: &Path, home: &Path, args: &[&str]) -> (f64, String, String) {
    let started = Instant::now();
    let out = Command::new(bin).args(args).env("KUBECONFIG", kubeconfig).env("HOME", home).output().unwrap();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    (ms, String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The milliseconds a `--debug` line starting with `prefix` reports (`… in 12.3 ms`).
fn debug_ms(stderr: &str, prefix: &str) -> f64 {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("debug: ")?.strip_prefix(prefix)?.rsplit_once(" in ")?.1.strip_suffix(" ms")?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no debug line {prefix:?}: {stderr}"))
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(9);
    let bin = std::env::var_os("VCLUSTER_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(Path::parent).unwrap().join("vcluster")
    });
    assert!(bin.is_file(), "{} is missing: build it with cargo build --release --bin vcluster", bin.display());
    let home = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    println!("list benchmark: {runs} runs per size; simulator in-process (no workloads)");
    println!(
        "| vclusters | requests | median wall (ms) | median direct LISTs (ms) | median decode and group (ms) | stdout (KiB) |"
    );
    println!("|---|---|---|---|---|---|");
    let sim = Simulator::start_blocking(SimConfig::default()).unwrap();
    let kubeconfig = sim.kubeconfig_path().to_path_buf();
    let client = runtime.block_on(sim.client()).unwrap();
    let mut seeded = 0;
    for size in [1, 100, 1000] {
        seed(&sim, seeded, size);
        seeded = size;
        let (mut wall, mut direct, mut requests, mut decode, mut bytes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
        for _ in 0..runs {
            sim.clear_requests();
            let (ms, out, stderr) = run(&bin, &kubeconfig, home.path(), &["list", "-o", "json", "--debug"]);
            decode.push(debug_ms(&stderr, "read "));
            requests.push(sim.requests().len() as f64);
            let rows: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(rows.as_array().unwrap().len(), size);
            bytes = out.len();
            wall.push(ms);
            direct.push(direct_lists(&client, &runtime));
        }
        println!(
            "| {size} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} |",
            median(&mut requests),
            median(&mut wall),
            median(&mut direct),
            median(&mut decode),
            bytes as f64 / 1024.0
        );
    }
    drop(sim);

    println!();
    println!(
        "delete benchmark: {runs} runs per case, one vcluster made by create each time (live workloads, stand-in syncer)"
    );
    println!("| case | median requests | median wall (ms) |");
    println!("|---|---|---|");
    let workloads = Workloads { enabled: true, ..Workloads::default() };
    let sim = Simulator::start_blocking(SimConfig { workloads, ..SimConfig::default() }).unwrap();
    let virtual_cluster = Simulator::start_blocking(SimConfig { tls: true, ..SimConfig::default() }).unwrap();
    let kubeconfig = sim.kubeconfig_path().to_path_buf();
    for (case, extra) in [("delete --yes --no-wait", Some("--no-wait")), ("delete --yes (waits)", None)] {
        let (mut wall, mut requests) = (Vec::new(), Vec::new());
        for i in 0..runs {
            let name = format!("d{i}-{}", extra.is_some() as u8);
            stand_in_for_syncer(&sim, &virtual_cluster, &format!("vcluster-{name}"), &name, &SyncerOptions::default());
            run(&bin, &kubeconfig, home.path(), &["create", &name]);
            sim.clear_requests();
            let mut args = vec!["delete", name.as_str(), "--yes"];
            args.extend(extra);
            let (ms, _, _) = run(&bin, &kubeconfig, home.path(), &args);
            wall.push(ms);
            requests.push(sim.requests().len() as f64);
        }
        println!("| {case} | {:.0} | {:.1} |", median(&mut requests), median(&mut wall));
    }
}
