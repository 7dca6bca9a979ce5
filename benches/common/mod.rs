//! What the CLI's benchmarks share: medians, timing a whole process, classifying `create`'s
//! requests by phase, and the tables they print.
#![allow(dead_code, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Instant;

pub const PHASES: [&str; 5] = ["namespace", "detection", "release records", "apply", "wait"];

/// One request as the phase classifier needs it (from the simulator's log or the audit log).
pub struct Request<'a> {
    pub path: &'a str,
    pub query: &'a str,
    /// A dry-run create (`POST …?dryRun=All`): a detection probe.
    pub dry_run_create: bool,
}

/// Which phase of `create` a request belongs to.
pub fn phase(r: &Request, namespace: &str) -> &'static str {
    let ns_path = format!("/api/v1/namespaces/{namespace}");
    if r.path == "/api/v1/namespaces" || r.path == ns_path {
        "namespace"
    } else if r.path == "/version"
        || r.path.contains("/selfsubject")
        || r.path.starts_with("/apis/networking.k8s.io/v1/servicecidrs/")
        || r.dry_run_create
    {
        "detection"
    } else if r.query.contains("watch=") || r.query.contains("fieldSelector=metadata.name%3Dvc-") {
        "wait"
    } else if r.path.contains("/secrets") {
        "release records"
    } else {
        "apply"
    }
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// Runs `cmd`, which must succeed; its wall time in ms.
pub fn timed(cmd: &mut Command) -> f64 {
    let started = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().expect("run");
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ms
}

/// The median wall time and request count of each case, then `create`'s requests per phase.
pub fn print_tables<'a>(
    cases: &[&'a str],
    wall: &mut BTreeMap<&'a str, Vec<f64>>,
    requests: &mut BTreeMap<&'a str, Vec<f64>>,
    per_phase: &mut BTreeMap<&'a str, Vec<f64>>,
) {
    println!("| case | median wall (ms) | median requests |");
    println!("|---|---|---|");
    for case in cases {
        let w = median(wall.get_mut(case).unwrap());
        let r = median(requests.get_mut(case).unwrap());
        println!("| {case} | {w:.1} | {r:.0} |");
    }
    println!();
    println!("| vcluster create phase | median requests |");
    println!("|---|---|");
    for p in PHASES {
        println!("| {p} | {:.0} |", median(per_phase.get_mut(p).unwrap()));
    }
}
