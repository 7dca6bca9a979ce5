//! The background forwarder: this program re-executed as `vcluster __forwarder …`, so `connect`
//! can return while the virtual cluster's API stays reachable on a local port; `delete` and
//! `disconnect` [`stop`] it.
//!
//! The launcher ([`start`]) runs it with stdin from /dev/null, stdout a pipe for one report line,
//! stderr the log file, and nothing else (std opens every descriptor close-on-exec, and the
//! forwarder closes whatever its launcher inherited: `main.rs`). The forwarder ([`run`]) starts a
//! session of its own (`setsid`: no controlling terminal, so no SIGHUP or Ctrl-C from the terminal
//! that ran `connect`), takes its key's lock, binds the local port, publishes its record, reports
//! `{"ready": …}` on the pipe and points stdout at /dev/null: once `connect` exits, nothing of its
//! stdout or stderr is held open. It serves until it is signalled (SIGTERM/SIGINT), the vcluster's
//! StatefulSet is deleted, or its files vanish from the state directory (nobody could find it any
//! more); it follows the StatefulSet's pods by label, so a restarted or replaced pod is used as soon
//! as it is Ready.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt as _;

use super::error::ForwardError;
use super::follow::{Log, Pods, until_deleted};
use super::registry::{Claim, FORWARDER_COMMAND, ForwarderKey, ForwarderRecord, Registry, STEM_FLAG};
use super::{Forward, Listener, PodPort, bind};
use crate::cluster::Connection;
use crate::printer::Printer;
use crate::state::{StateDir, StateError};

/// How long the launcher waits for the report line.
const REPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the forwarder checks its files (and the size of its log).
const WATCHDOG_PERIOD: Duration = Duration::from_secs(2);
/// The log is rotated (`.log` → `.log.1`) past this size: at most twice this on disk.
const LOG_LIMIT: u64 = 1024 * 1024;

/// What the launcher asks for.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub(crate) key: ForwarderKey,
    /// `--kubeconfig` of the launching command (else the forwarder inherits `KUBECONFIG`).
    pub(crate) kubeconfig: Option<PathBuf>,
    /// `--address` (kubectl's syntax) and `--local-port` (0: a free one).
    pub(crate) address: String,
    pub(crate) port: u16,
    /// The pod port of the virtual cluster's API (8443).
    pub(crate) remote_port: u16,
}

/// The one line a forwarder reports to its launcher.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Report {
    Ready {
        port: u16,
        pid: u32,
    },
    /// Another forwarder holds the key (started at the same moment): use it.
    Busy,
    Error(String),
}

/// Start a forwarder for `launch` and return its record once it listens.
pub(crate) async fn start(registry: &Registry, launch: &Launch) -> Result<ForwarderRecord, ForwardError> {
    let paths = registry.paths(&launch.key);
    let log = open_log(&paths.log).map_err(StateError::io(&paths.log))?;
    let exe = std::env::current_exe().map_err(ForwardError::Spawn)?;
    let mut command = tokio::process::Command::new(exe);
    command.arg(FORWARDER_COMMAND).arg(STEM_FLAG).arg(launch.key.stem());
    if let Some(kubeconfig) = &launch.kubeconfig {
        command.arg("--kubeconfig").arg(kubeconfig);
    }
    command
        .args(["--context", &launch.key.host_context, "--namespace", &launch.key.namespace])
        .args(["--address", &launch.address, "--local-port", &launch.port.to_string()])
        .args(["--remote-port", &launch.remote_port.to_string(), "--", &launch.key.vcluster])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    let mut child = command.spawn().map_err(ForwardError::Spawn)?;
    let stdout = child.stdout.take().expect("piped");
    let failed = |message: String| ForwardError::Failed { message, log: paths.log.clone() };
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stdout);
    match tokio::time::timeout(REPORT_TIMEOUT, reader.read_line(&mut line)).await {
        Err(_) => {
            let _ = child.start_kill();
            return Err(ForwardError::Silent { log: paths.log.clone(), waited: REPORT_TIMEOUT });
        }
        Ok(Err(e)) => return Err(failed(format!("cannot read its report: {e}"))),
        Ok(Ok(_)) => {}
    }
    match serde_json::from_str::<Report>(line.trim()) {
        Ok(Report::Ready { .. } | Report::Busy) => {
            // `running` waits for the record by sleeping: on a blocking thread.
            let (registry, key) = (registry.clone(), launch.key.clone());
            let running = tokio::task::spawn_blocking(move || registry.running(&key))
                .await
                .map_err(|e| failed(format!("cannot read its record: {e}")))??;
            running.ok_or_else(|| failed("it exited right after starting".into()))
        }
        Ok(Report::Error(message)) => Err(failed(message)),
        Err(_) => {
            let status = child.wait().await.map(|s| s.to_string()).unwrap_or_default();
            Err(failed(format!("it exited ({status}) without reporting: {}", log_tail(&paths.log))))
        }
    }
}

/// The forwarder's own arguments (from its command line).
#[derive(Debug, Clone)]
pub(crate) struct Serve {
    pub(crate) stem: String,
    pub(crate) key: ForwarderKey,
    pub(crate) addresses: Vec<IpAddr>,
    pub(crate) address_text: String,
    pub(crate) port: u16,
    pub(crate) remote_port: u16,
}

/// The forwarder process: report, then serve until told to stop. Returns whether it ran cleanly.
pub(crate) async fn run(
    serve: &Serve,
    loaded: &crate::kubeconfig::Loaded,
    registry: &Registry,
    printer: &Printer,
) -> bool {
    // A session of our own: the launcher's terminal (and its Ctrl-C and hang-up) is not ours.
    // Fails only for a process-group leader, which this freshly spawned child is not.
    let _ = rustix::process::setsid();
    let progress = Arc::new(printer.progress(&format!(
        "forwarder for vcluster {} in namespace {} (context {}) starting",
        serve.key.vcluster, serve.key.namespace, serve.key.host_context
    )));
    let log: Log = {
        let progress = progress.clone();
        Arc::new(move |line: String| progress.println(&line))
    };
    if serve.stem != serve.key.stem() {
        report(&Report::Error("inconsistent forwarder arguments".into()));
        return false;
    }
    let claim = match registry.claim(&serve.key) {
        Ok(Some(claim)) => claim,
        Ok(None) => {
            log("another forwarder serves this vcluster; exiting".into());
            report(&Report::Busy);
            return true;
        }
        Err(e) => {
            report(&Report::Error(e.to_string()));
            return false;
        }
    };
    match prepare(serve, loaded, &claim).await.map_err(|e| e.to_string()) {
        Ok((cluster, selector, sockets, record)) => {
            report(&Report::Ready { port: record.port, pid: record.pid });
            log(format!(
                "listening on {}:{} -> pods {selector} port {}",
                record.address, record.port, serve.remote_port
            ));
            let listeners =
                sockets.into_iter().map(|socket| Listener { socket, remote: PodPort::Number(serve.remote_port) });
            let forward =
                Forward::new(cluster.client.clone(), &serve.key.namespace, &Pods::Selector(selector), log.clone());
            let statefulsets = kube::Api::<StatefulSet>::namespaced(cluster.client.clone(), &serve.key.namespace);
            let stop = async {
                let reason = tokio::select! {
                    signal = terminated() => signal,
                    () = until_deleted(statefulsets, &serve.key.vcluster) => {
                        format!("StatefulSet {} was deleted", serve.key.vcluster)
                    }
                    () = watchdog(&claim) => "its files were removed from the state directory".to_owned(),
                };
                log(format!("stopping: {reason}"));
            };
            forward.serve(listeners.collect(), stop).await;
            claim.release();
            true
        }
        Err(message) => {
            log(message.clone());
            report(&Report::Error(message));
            false
        }
    }
}

/// Bind, reach the host cluster, find the StatefulSet's selector, publish the record.
async fn prepare(
    serve: &Serve,
    loaded: &crate::kubeconfig::Loaded,
    claim: &Claim,
) -> anyhow::Result<(Connection, String, Vec<tokio::net::TcpListener>, ForwarderRecord)> {
    let sockets = bind(&serve.addresses, serve.port).await?;
    let port = sockets.first().and_then(|s| s.local_addr().ok()).map(|a| a.port()).unwrap_or(serve.port);
    let cluster = Connection::connect(
        loaded,
        Some(&serve.key.host_context),
        Some(&serve.key.namespace),
        crate::cluster::timeout::DEFAULT_REQUEST_TIMEOUT,
    )
    .await?;
    let api = kube::Api::<StatefulSet>::namespaced(cluster.client.clone(), &serve.key.namespace);
    let sts = api.get(&serve.key.vcluster).await.map_err(|e| cluster.error(e))?;
    let selector = crate::workload::pod_selector(&sts);
    let record = ForwarderRecord {
        pid: std::process::id(),
        vcluster: serve.key.vcluster.clone(),
        namespace: serve.key.namespace.clone(),
        host_context: serve.key.host_context.clone(),
        host_server: cluster.server.clone(),
        address: serve.address_text.clone(),
        port,
        remote_port: serve.remote_port,
        started_at: jiff::Timestamp::now().to_string(),
        log: claim.paths.log.clone(),
    };
    claim.publish(&record)?;
    Ok((cluster, selector, sockets, record))
}

/// What [`stop`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stopped {
    /// No forwarder runs for this vcluster.
    NoForwarder,
    /// This forwarder was stopped.
    Stopped(Box<ForwarderRecord>),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::NoForwarder => f.write_str("no forwarder"),
            Stopped::Stopped(record) => write!(f, "stopped forwarder (pid {})", record.pid),
        }
    }
}

/// Stop the background forwarder of `key`, if one runs, once verified as ours
/// ([`Registry::stop`]).
pub(crate) fn stop(key: &ForwarderKey) -> Result<Stopped, ForwardError> {
    let failed = |source| ForwardError::Stop { name: key.vcluster.clone(), namespace: key.namespace.clone(), source };
    let stop = || -> Result<Option<ForwarderRecord>, StateError> { Registry::open(&StateDir::from_env()?)?.stop(key) };
    // Stopping waits (briefly) for the process to let go of its lock: keep the runtime's other
    // tasks going meanwhile.
    let stopped = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(stop)
        }
        _ => stop(),
    };
    Ok(match stopped.map_err(failed)? {
        Some(record) => Stopped::Stopped(Box::new(record)),
        None => Stopped::NoForwarder,
    })
}

/// Write the report line, then point stdout at /dev/null: the launcher's pipe is let go.
fn report(report: &Report) {
    let line = serde_json::to_string(report).expect("a report serializes") + "\n";
    let mut stdout = std::io::stdout().lock();
    // The launcher may be gone; nothing to do about it.
    let _ = stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush());
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

async fn terminated() -> String {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM".into(),
            _ = int.recv() => "SIGINT".into(),
        },
        _ => std::future::pending().await,
    }
}

/// Resolves once the forwarder's files no longer name it; rotates the log meanwhile.
async fn watchdog(claim: &Claim) {
    let mut tick = tokio::time::interval(WATCHDOG_PERIOD);
    loop {
        tick.tick().await;
        if !claim.still_ours() {
            return;
        }
        if fs::metadata(&claim.paths.log).is_ok_and(|m| m.len() > LOG_LIMIT)
            && let Ok(fresh) = open_log(&claim.paths.log)
        {
            let _ = rustix::stdio::dup2_stderr(&fresh);
        }
    }
}

/// Open a fresh log (the previous one kept as `.log.1`), private, for appending.
fn open_log(path: &Path) -> std::io::Result<File> {
    if path.exists() {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        fs::rename(path, old)?;
    }
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// The last lines of a log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(3).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn stopped_says_what_happened() {
        assert_eq!(Stopped::NoForwarder.to_string(), "no forwarder");
        let record = ForwarderRecord::sample(&ForwarderKey::new("ctx", "ns", "vc"), 7);
        assert_eq!(Stopped::Stopped(Box::new(record)).to_string(), "stopped forwarder (pid 7)");
    }

    #[test]
    fn logs_rotate_once_and_stay_private() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("f.log");
        let mut first = open_log(&log).unwrap();
        first.write_all(b"one\ntwo\nthree\nfour\n").unwrap();
        assert_eq!(log_tail(&log), "two | three | four");
        let mut second = open_log(&log).unwrap();
        second.write_all(b"fresh\n").unwrap();
        assert_eq!(fs::read_to_string(&log).unwrap(), "fresh\n");
        assert_eq!(fs::read_to_string(dir.path().join("f.log.1")).unwrap(), "one\ntwo\nthree\nfour\n");
        open_log(&log).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("f.log.1")).unwrap(), "fresh\n", "one old log kept");
        assert_eq!(fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
