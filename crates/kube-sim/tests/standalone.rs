//! The standalone `kube-sim` binary: one `READY <url> <kubeconfig>` line once it accepts
//! connections, an atomically written 0600 kubeconfig, exit 0 on SIGTERM and SIGINT.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

fn start(kubeconfig: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kube-sim"))
        .args(["--port", "0", "--kubeconfig"])
        .arg(kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kube-sim starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("READY line");
    (child, line)
}

fn signal(child: &std::process::Child, sig: &str) {
    let status = Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    panic!("kube-sim did not exit after the signal");
}

#[test]
fn prints_ready_serves_and_exits_zero_on_signals() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("sub").join("kubeconfig");
    for sig in ["TERM", "INT"] {
        let (mut child, line) = start(&kubeconfig);
        let parts: Vec<&str> = line.trim_end().split(' ').collect();
        assert_eq!(parts.len(), 3, "{line:?}");
        assert_eq!(parts[0], "READY");
        assert!(parts[1].starts_with("http://127.0.0.1:"), "{line}");
        assert_eq!(parts[2], kubeconfig.to_str().unwrap());
        let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&kubeconfig).unwrap();
        assert!(text.contains(&format!("server: {}", parts[1])), "{text}");
        // It accepts connections as soon as READY is printed.
        let addr = parts[1].trim_start_matches("http://");
        let mut conn = std::net::TcpStream::connect(addr).expect("accepting connections");
        use std::io::{Read as _, Write as _};
        write!(conn, "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut resp = String::new();
        conn.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(resp.contains("\"minor\":\"33\""));
        signal(&child, sig);
        let status = wait_exit(&mut child);
        assert_eq!(status.code(), Some(0), "exit after SIG{sig}");
        let mut stdout_rest = String::new();
        if let Some(mut out) = child.stdout.take() {
            out.read_to_string(&mut stdout_rest).unwrap();
        }
        assert!(stdout_rest.is_empty(), "only the READY line on stdout: {stdout_rest:?}");
    }
}

#[test]
fn bad_configuration_fails_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_kube-sim")).args(["--service-cidr", "nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: invalid simulator configuration"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn blocking_start_serves_synchronous_tests() {
    // A plain #[test] that blocks its thread on a child process, as CLI tests do.
    let sim = kube_sim::Simulator::start_blocking(kube_sim::SimConfig::default()).expect("starts");
    sim.seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seeded\n  namespace: default\ndata:\n  k: v\n")
        .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let version = Command::new("kubectl")
        .args(["version", "-o", "json", "--cache-dir"])
        .arg(cache.path())
        .env("KUBECONFIG", sim.kubeconfig_path())
        .output()
        .expect("kubectl must be on the PATH");
    let version: serde_json::Value = serde_json::from_slice(&version.stdout).expect("kubectl version -o json");
    assert_eq!(version["clientVersion"]["minor"], "33", "{version}");
    let out = Command::new("kubectl")
        .args(["get", "cm", "seeded", "-o", "jsonpath={.data.k}", "--cache-dir"])
        .arg(cache.path())
        .env("KUBECONFIG", sim.kubeconfig_path())
        .output()
        .expect("kubectl must be on the PATH");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v");
    assert!(sim.requests().iter().any(|r| r.user_agent.starts_with("kubectl/v1.33")));
    assert!(!sim.requests().iter().any(|r| r.is_write()));
}
