//! Benchmark of `vcluster create` (the release binary, as a whole process) against the API-server
//! simulator, side by side in one run with `kubectl apply --server-side -f` of the same rendered
//! manifests plus the namespace (kubectl cold with a fresh `--cache-dir`, and warm). Requests are
//! counted per User-Agent from the simulator's request log (the kubectl dispatcher's own
//! `/version` probe left out) and, for `create`, per phase. Run it with `scripts/bench-create`.
//!
//! Environment: `BENCH_RUNS` (default 15), `VCLUSTER_BIN` (default `target/release/vcluster`),
//! `BENCH_NO_WAIT` (run `create --no-wait`).
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod common;

use common::{PHASES, Request, median, phase, print_tables, timed};
use kube_sim::fixtures::vcluster;
use kube_sim::{RequestRecord, SimConfig, Simulator, Workloads};

fn kubectl(kubeconfig: &Path, cache: &Path, file: &Path) -> Command {
    let mut cmd = Command::new("kubectl");
    cmd.args(["apply", "--server-side", "-f"])
        .arg(file)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache);
    cmd
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(15);
    let bin = std::env::var_os("VCLUSTER_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(Path::parent).unwrap().join("vcluster")
    });
    assert!(bin.is_file(), "{} is missing: build it with cargo build --release --bin vcluster", bin.display());
    let wait = std::env::var("BENCH_NO_WAIT").is_err();
    // Each run gets a fresh simulator (an empty cluster) on the same port, so kubectl's warm
    // cache stays valid. Immediate readiness: the scheduler, kubelet and controllers on without
    // delays, and the simulator's stand-in syncer writing `vc-<name>` once the pod runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = work.path().join("kubeconfig");
    let fresh = || {
        let workloads = Workloads { enabled: true, ..Workloads::default() };
        let config = SimConfig { port, workloads, kubeconfig: Some(kubeconfig.clone()), ..SimConfig::default() };
        // The previous instance's socket may take a moment to close.
        for _ in 0..100 {
            if let Ok(sim) = Simulator::start_blocking(config.clone()) {
                return sim;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("port {port} did not become free");
    };
    let virtual_cluster = Simulator::start_blocking(SimConfig { tls: true, ..SimConfig::default() }).unwrap();
    let warm = work.path().join("warm-cache");
    let sim = fresh();

    // The machine's kubectl dispatcher picks the client by the server's version.
    let version = Command::new("kubectl")
        .args(["version", "-o", "json", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--cache-dir")
        .arg(&warm)
        .output()
        .expect("kubectl");
    let version: serde_json::Value = serde_json::from_slice(&version.stdout).unwrap();
    assert_eq!(version["clientVersion"]["minor"], "33", "kubectl client is not 1.33");

    // The manifests `create` applies for a name, plus the namespace, as one file for kubectl.
    let manifests = |name: &str| {
        let ns = format!("vcluster-{name}");
        let out = Command::new(&bin).args(["render", name, "-n", &ns]).env("HOME", work.path()).output().unwrap();
        assert!(out.status.success());
        let path = work.path().join(format!("{name}.yaml"));
        let text = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n---\n{}",
            String::from_utf8(out.stdout).unwrap()
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    timed(&mut kubectl(&kubeconfig, &warm, &manifests("warmup")));
    drop(sim);

    let mut wall: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut requests: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut per_phase: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut phase_ms: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let cases = ["vcluster create", "kubectl apply (cold)", "kubectl apply (warm)"];
    for i in 0..runs {
        for c in 0..cases.len() {
            let case = cases[(c + i) % cases.len()];
            let name = format!("b{i}-{}", (c + i) % cases.len());
            let sim = fresh();
            let ms = match case {
                "vcluster create" => {
                    let options = vcluster::SyncerOptions::default();
                    vcluster::stand_in_for_syncer(&sim, &virtual_cluster, &format!("vcluster-{name}"), &name, &options);
                    let mut cmd = Command::new(&bin);
                    cmd.args(["create", &name, "--debug"]).env("KUBECONFIG", &kubeconfig).env("HOME", work.path());
                    if !wait {
                        cmd.arg("--no-wait");
                    }
                    let started = Instant::now();
                    let out = cmd.output().unwrap();
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    assert!(out.status.success(), "{stderr}");
                    for line in stderr.lines() {
                        if let Some((phase, rest)) = line.strip_prefix("debug: phase ").and_then(|l| l.split_once(": "))
                            && let Some(t) = rest.strip_suffix(" ms").and_then(|t| t.parse::<f64>().ok())
                        {
                            phase_ms.entry(phase.to_owned()).or_default().push(t);
                        }
                    }
                    ms
                }
                "kubectl apply (cold)" => {
                    let file = manifests(&name);
                    let cold = work.path().join(format!("cold-{name}"));
                    timed(&mut kubectl(&kubeconfig, &cold, &file))
                }
                _ => {
                    let file = manifests(&name);
                    timed(&mut kubectl(&kubeconfig, &warm, &file))
                }
            };
            wall.entry(case).or_default().push(ms);
            let log = sim.requests();
            let own: Vec<&RequestRecord> = log
                .iter()
                .filter(|r| {
                    if case == "vcluster create" {
                        !r.user_agent.starts_with("kubectl")
                    } else {
                        r.user_agent.starts_with("kubectl/")
                    }
                })
                .collect();
            requests.entry(case).or_default().push(own.len() as f64);
            if case == "vcluster create" {
                let ns = format!("vcluster-{name}");
                for p in PHASES {
                    let n = own
                        .iter()
                        .filter(|r| {
                            phase(
                                &Request {
                                    path: &r.path,
                                    query: &r.query,
                                    dry_run_create: r.dry_run && r.method == "POST",
                                },
                                &ns,
                            ) == p
                        })
                        .count();
                    per_phase.entry(p).or_default().push(n as f64);
                }
            }
        }
    }

    println!("create benchmark: {runs} runs per case, interleaved; simulator in-process; wait: {wait}");
    print_tables(&cases, &mut wall, &mut requests, &mut per_phase);
    println!();
    println!("| create step (--debug) | median ms |");
    println!("|---|---|");
    for (step, times) in &mut phase_ms {
        println!("| {step} | {:.1} |", median(times));
    }
    let ours = median(wall.get_mut("vcluster create").unwrap());
    for case in ["kubectl apply (cold)", "kubectl apply (warm)"] {
        let theirs = median(wall.get_mut(case).unwrap());
        let (rq_ours, rq_theirs) =
            (median(requests.get_mut("vcluster create").unwrap()), median(requests.get_mut(case).unwrap()));
        println!(
            "\ncreate / {case}: wall {:.2} (goal <= 0.5), requests {rq_ours:.0} vs {rq_theirs:.0} (goal: fewer)",
            ours / theirs
        );
    }
}
