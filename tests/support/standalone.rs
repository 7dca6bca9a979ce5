//! The standalone simulator binary (`kube-sim`) as a process, and the CLI run against it without
//! a terminal. The binary is built on demand (`workspace_bin`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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

/// `kube-sim`, built next to these tests unless it is current.
pub fn simulator_binary() -> PathBuf {
    super::workspace_bin::built("kube-sim", "kube-sim")
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
