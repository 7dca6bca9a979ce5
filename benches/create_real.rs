//! Benchmark of `vcluster create` (the release binary, as a whole process) against the real
//! control plane of `crates/control-plane` (kube-apiserver v1.33, etcd, controllers, scheduler,
//! kwok), side by side in one run with `vcluster render NAME | kubectl apply --server-side -f -`
//! of the same manifests plus the namespace (kubectl cold with a fresh `--cache-dir`, and warm).
//! Every run is a new vcluster in a new namespace of the same cluster; each case runs as a user
//! of its own, and its requests are counted from kube-apiserver's audit log (the kubectl
//! dispatcher's own `/version` probe left out). The vcluster's syncer is stood in for as in the
//! end-to-end suite (`tests/support/e2e_world.rs`). Run it with `scripts/bench-create-real`.
//!
//! Environment: `BENCH_RUNS` (default 9), `VCLUSTER_BIN` (default `target/release/vcluster`).
#![allow(clippy::print_stdout)]

mod common;
#[path = "../tests/support/e2e_world.rs"]
mod world;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{PHASES, Request, median, phase, print_tables, timed};
use world::{AuditEvent, world};

/// An audit event as the phase classifier reads it.
fn request(e: &AuditEvent) -> Request<'_> {
    let (path, query) = e.uri.split_once('?').unwrap_or((&e.uri, ""));
    Request { path, query, dry_run_create: e.dry_run() && e.verb == "create" }
}

/// `vcluster render | kubectl apply --server-side -f -`, the namespace first.
fn render_apply(bin: &Path, name: &str, namespace: &str, kubeconfig: &Path, cache: &Path, home: &Path) -> Command {
    let script = r#"{ printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n' "$NS"; "$BIN" render "$NAME" -n "$NS"; } | kubectl apply --server-side -f - --kubeconfig "$KC" --cache-dir "$CACHE""#;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script])
        .env("BIN", bin)
        .env("NAME", name)
        .env("NS", namespace)
        .env("KC", kubeconfig)
        .env("CACHE", cache)
        .env("HOME", home)
        .env_remove("KUBECONFIG");
    cmd
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(9);
    let bin = std::env::var_os("VCLUSTER_BIN").map(PathBuf::from).unwrap_or_else(|| {
        let exe = std::env::current_exe().unwrap();
        exe.parent().and_then(Path::parent).unwrap().join("vcluster")
    });
    assert!(bin.is_file(), "{} is missing: build it with cargo build --release --bin vcluster", bin.display());
    let world = world();
    assert!(world.is_control_plane(), "this benchmark runs on the real control plane only (unset {})", world::ENV);
    let home = world.fresh_dir("home");
    let warm = world.fresh_dir("warm-cache");
    // One apply to fill the warm cache (discovery, OpenAPI).
    let (kubeconfig, _) = world.admin_for("bench-warmup");
    timed(&mut render_apply(&bin, "warmup", &world.unique("bench-warmup"), &kubeconfig, &warm, &home));

    let cases = ["vcluster create", "vcluster create --no-wait", "kubectl apply (cold)", "kubectl apply (warm)"];
    let mut wall: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut requests: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut per_phase: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut users = Vec::new();
    for i in 0..runs {
        for c in 0..cases.len() {
            let k = (c + i) % cases.len();
            let case = cases[k];
            let name = world.unique(&format!("b{i}-{k}"));
            let namespace = format!("bench-{name}");
            let (kubeconfig, user) = world.admin_for(&format!("bench-{i}-{k}"));
            let _stand_in = world.stand_in_for_syncer(&namespace, &name);
            let ms = match case {
                "vcluster create" | "vcluster create --no-wait" => {
                    let mut cmd = Command::new(&bin);
                    cmd.args(["create", &name, "-n", &namespace]).env("KUBECONFIG", &kubeconfig).env("HOME", &home);
                    if case.ends_with("--no-wait") {
                        cmd.arg("--no-wait");
                    }
                    timed(&mut cmd)
                }
                "kubectl apply (cold)" => {
                    let cold = world.fresh_dir("cold-cache");
                    timed(&mut render_apply(&bin, &name, &namespace, &kubeconfig, &cold, &home))
                }
                _ => timed(&mut render_apply(&bin, &name, &namespace, &kubeconfig, &warm, &home)),
            };
            wall.entry(case).or_default().push(ms);
            users.push((case, user, namespace));
        }
    }
    // The audit log, read once at the end (each read waits for a marker request).
    for (case, user, namespace) in &users {
        let events = world.audit(user);
        let own: Vec<&AuditEvent> =
            events.iter().filter(|e| !(e.uri == "/version" && case.starts_with("kubectl"))).collect();
        requests.entry(case).or_default().push(own.len() as f64);
        if *case == "vcluster create" {
            for p in PHASES {
                let n = own.iter().filter(|e| phase(&request(e), namespace) == p).count();
                per_phase.entry(p).or_default().push(n as f64);
            }
        }
    }

    println!("create benchmark on the real control plane: {runs} runs per case, interleaved");
    print_tables(&cases, &mut wall, &mut requests, &mut per_phase);
    for ours in ["vcluster create", "vcluster create --no-wait"] {
        let w_ours = median(wall.get_mut(ours).unwrap());
        for theirs in ["kubectl apply (cold)", "kubectl apply (warm)"] {
            let w_theirs = median(wall.get_mut(theirs).unwrap());
            println!("\n{ours} / {theirs}: wall {:.2}", w_ours / w_theirs);
        }
    }
}
