//! The standalone simulator binary (`kube-sim`) as a process, and the CLI run against it without
//! a terminal. The binary is built on demand, once per test process, by the cargo that builds these
//! tests: a plain `cargo test` needs no step before it, and a binary older than its sources is
//! rebuilt, never used.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use super::cluster::{Run, finish, vcluster_binary};

/// The standalone simulator, stopped when dropped.
pub struct Standalone {
    child: Child,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Standalone {
    pub fn start() -> Standalone {
        Standalone::start_with(&[])
    }

    /// With more flags (`--seed FILE`, `--pod-start-delay-ms N`, …).
    pub fn start_with(flags: &[&str]) -> Standalone {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(simulator_binary())
            .args(["--port", "0", "--service-cidr", "10.100.0.0/16", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.starts_with("READY http://127.0.0.1:"), "{line}");
        Standalone { child, kubeconfig, _dir: dir }
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kube-sim`, built next to these tests (`target/<profile>/kube-sim`) unless it is current.
/// `cargo build` is a quick no-op for a current binary and rebuilds a stale one; test processes
/// building at the same moment wait for each other on cargo's lock of the target directory.
pub fn simulator_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // target/<profile>/deps/<test>-… → target/<profile>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).expect("a test binary in target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("target/<profile>");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let built = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--package", "kube-sim", "--bin", "kube-sim", "--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo to build the simulator");
        assert!(built.success(), "cargo build --package kube-sim --bin kube-sim failed");
        profile_dir.join("kube-sim")
    })
}

/// The CLI with `kubeconfig`, a fresh home, no terminal and no colour.
pub fn vcluster(kubeconfig: &Path, args: &[&str]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(vcluster_binary())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .current_dir(home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish(child)
}
