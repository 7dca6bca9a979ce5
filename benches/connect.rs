//! Benchmark of `vcluster connect` and `vcluster port-forward` (the release binary, as whole
//! processes) against two in-process simulators — the host, and over TLS the virtual API server
//! behind the vcluster pod's port 8443 (`kube_sim::fixtures::vcluster`) — in one run:
//!
//! (a) `connect NAME -- kubectl get ns` beside `kubectl get ns` with a direct kubeconfig to the
//!     virtual simulator (both with a warm kubectl cache): the median difference is connect's
//!     overhead (find, wait, credentials, forward, API check, temporary kubeconfig).
//! (b) a 100 MB download from a local TCP backend behind a host pod's port: directly (the ceiling),
//!     through `vcluster port-forward`, and through `kubectl port-forward` (SPDY), interleaved, with
//!     the CPU time of each forwarding process and of this process (simulators, backend, client).
//!
//! Run it with `scripts/bench-connect`. Environment: `BENCH_RUNS` (default 15 for (a), 5 for (b)),
//! `VCLUSTER_BIN` (default `target/release/vcluster`), `BENCH_MB` (default 100).
#![allow(clippy::print_stdout)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{median, timed};
use kube_sim::fixtures::vcluster::{self, SyncerOptions};
use kube_sim::{SimConfig, Simulator, Workloads};

const STATEFULSET: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: my-vc, namespace: team, labels: {app: vcluster, release: my-vc}}\nspec:\n  serviceName: my-vc-headless\n  replicas: 1\n  selector: {matchLabels: {app: vcluster, release: my-vc}}\n  template:\n    metadata: {labels: {app: vcluster, release: my-vc}}\n    spec: {containers: [{name: syncer, image: ghcr.io/loft-sh/vcluster:0.19.7, ports: [{name: https, containerPort: 8443}]}]}\n";

/// User plus system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(") ").map(|(_, rest)| rest.split(' ').collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; the kernel's
    // USER_HZ is 100 on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The CPU of a process and of its descendants still running (kubectl's dispatcher runs the real
/// kubectl as a child).
fn cpu_tree(pid: u32) -> f64 {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    cpu_seconds(pid) + children.split_whitespace().filter_map(|c| c.parse().ok()).map(cpu_tree).sum::<f64>()
}

/// A backend that sends `bytes` to every connection, then closes it.
fn source(bytes: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let chunk = vec![0x5au8; 256 * 1024];
        for stream in listener.incoming().flatten() {
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if stream.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n;
                }
            });
        }
    });
    address
}

/// Download everything from `port`; returns the seconds it took.
fn download(port: u16, expected: usize) -> f64 {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("read: {e}"),
        }
    }
    assert_eq!(total, expected, "the whole transfer arrived");
    started.elapsed().as_secs_f64()
}

/// Start a port-forwarding process and read its port from its `Forwarding from 127.0.0.1:P` line.
fn forwarder(mut cmd: Command) -> (Child, u16) {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    std::thread::spawn(move || for _ in stdout.lines() {});
    (child, port)
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(15);
    let megabytes: usize = std::env::var("BENCH_MB").ok().and_then(|r| r.parse().ok()).unwrap_or(100);
    let bin = std::env::var_os("VCLUSTER_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(Path::parent).unwrap().join("vcluster")
    });
    assert!(bin.is_file(), "{} is missing: build it with cargo build --release --bin vcluster", bin.display());
    let host = Simulator::start_blocking(SimConfig {
        workloads: Workloads { enabled: true, ..Default::default() },
        ..Default::default()
    })
    .unwrap();
    let virtual_cluster = Simulator::start_blocking(SimConfig { tls: true, ..Default::default() }).unwrap();
    vcluster::stand_in_for_syncer(&host, &virtual_cluster, "team", "my-vc", &SyncerOptions::default());
    host.seed_yaml(STATEFULSET).unwrap();
    let work = tempfile::tempdir().unwrap();
    let vc = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(args)
            .env("KUBECONFIG", host.kubeconfig_path())
            .env("HOME", work.path())
            .env("XDG_STATE_HOME", work.path().join("state"));
        cmd
    };
    let cache = |name: &str| work.path().join(name).display().to_string();

    // A direct kubeconfig to the virtual simulator: the vcluster's own, server pointed at it.
    let printed = {
        let mut cmd = vc(&["connect", "my-vc", "-n", "team", "--server", virtual_cluster.url(), "--print"]);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let direct = work.path().join("direct.yaml");
    std::fs::write(&direct, printed).unwrap();
    let version =
        Command::new("kubectl").args(["version", "-o", "json", "--kubeconfig"]).arg(&direct).output().unwrap();
    let version: serde_json::Value = serde_json::from_slice(&version.stdout).unwrap();
    assert_eq!(version["clientVersion"]["minor"], "33", "kubectl client is not 1.33");

    // (a) connect -- kubectl get ns, beside kubectl get ns.
    let through_connect = || {
        let mut cmd =
            vc(&["connect", "my-vc", "-n", "team", "--", "kubectl", "get", "ns", "--cache-dir", &cache("c1")]);
        timed(&mut cmd)
    };
    let direct_get = || {
        let mut cmd = Command::new("kubectl");
        cmd.args(["get", "ns", "--cache-dir", &cache("c2"), "--kubeconfig"]).arg(&direct);
        timed(&mut cmd)
    };
    through_connect();
    direct_get();
    let mut wall: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for i in 0..runs {
        if i % 2 == 0 {
            wall.entry("connect -- kubectl get ns").or_default().push(through_connect());
            wall.entry("kubectl get ns (direct)").or_default().push(direct_get());
        } else {
            wall.entry("kubectl get ns (direct)").or_default().push(direct_get());
            wall.entry("connect -- kubectl get ns").or_default().push(through_connect());
        }
    }
    println!("(a) connect overhead: {runs} runs per case, interleaved, warm kubectl caches");
    println!("| case | median wall (ms) |");
    println!("|---|---|");
    let mut medians = BTreeMap::new();
    for (case, times) in &mut wall {
        let m = median(times);
        medians.insert(*case, m);
        println!("| {case} | {m:.1} |");
    }
    println!(
        "\nconnect overhead: {:.1} ms (goal < 1000)\n",
        medians["connect -- kubectl get ns"] - medians["kubectl get ns (direct)"]
    );

    // (b) 100 MB through the forwards.
    let bytes = megabytes * 1024 * 1024;
    let backend = source(bytes);
    host.seed_yaml(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bench-x-default-x-my-vc\n  namespace: team\n  annotations: {{sim.vcluster.dev/forward-9000: \"{backend}\"}}\nspec:\n  containers: [{{name: c, image: nginx, ports: [{{name: data, containerPort: 9000}}]}}]\n"
    ))
    .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let backend_port: u16 = backend.rsplit_once(':').unwrap().1.parse().unwrap();
    let (mut ours, ours_port) = forwarder(vc(&["port-forward", "my-vc", "-n", "team", "pod/bench", ":9000"]));
    let mut kubectl_cmd = Command::new("kubectl");
    kubectl_cmd
        .args([
            "port-forward",
            "-n",
            "team",
            "pod/bench-x-default-x-my-vc",
            ":9000",
            "--cache-dir",
            &cache("c3"),
            "--kubeconfig",
        ])
        .arg(host.kubeconfig_path());
    let (mut theirs, theirs_port) = forwarder(kubectl_cmd);
    let rounds = runs.div_ceil(3).max(3);
    let mut seconds: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut cpu: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut own_cpu: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let cases = [
        ("direct TCP (ceiling)", backend_port, None),
        ("vcluster port-forward", ours_port, Some(ours.id())),
        ("kubectl port-forward", theirs_port, Some(theirs.id())),
    ];
    for round in 0..rounds {
        for c in 0..cases.len() {
            let (case, port, pid) = cases[(c + round) % cases.len()];
            let (before, self_before) = (pid.map(cpu_tree), cpu_seconds(std::process::id()));
            let s = download(port, bytes);
            seconds.entry(case).or_default().push(s);
            own_cpu.entry(case).or_default().push(cpu_seconds(std::process::id()) - self_before);
            if let (Some(pid), Some(before)) = (pid, before) {
                cpu.entry(case).or_default().push(cpu_tree(pid) - before);
            }
        }
    }
    let _ = ours.kill();
    let _ = theirs.kill();
    let _ = (ours.wait(), theirs.wait());
    println!("(b) {megabytes} MB download from a host pod's port: {rounds} rounds, interleaved");
    println!("| case | median MB/s | forwarder CPU (s) | this process's CPU (s): simulators, backend, client |");
    println!("|---|---|---|---|");
    let mut rates = BTreeMap::new();
    for (case, _, _) in cases {
        let s = median(seconds.get_mut(case).unwrap());
        let rate = megabytes as f64 / s;
        rates.insert(case, rate);
        let forwarder = cpu.get_mut(case).map(|c| format!("{:.2}", median(c))).unwrap_or_else(|| "-".into());
        println!("| {case} | {rate:.0} | {forwarder} | {:.2} |", median(own_cpu.get_mut(case).unwrap()));
    }
    println!(
        "\nvcluster / kubectl: {:.2} (goal >= 1); vcluster / direct: {:.2}",
        rates["vcluster port-forward"] / rates["kubectl port-forward"],
        rates["vcluster port-forward"] / rates["direct TCP (ceiling)"]
    );
    host.clear_requests();
    drop(virtual_cluster);
}
