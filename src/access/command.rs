//! `connect NAME -- CMD`: the command run against the virtual cluster, its status passed through.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use super::in_process::InProcess;
use crate::error::{ExitStatus, Interrupted};
use crate::interrupt::Interrupt;
use crate::kubeconfig::VclusterCredentials;
use crate::printer::Printer;

/// The command was found but could not be run.
const NOT_EXECUTABLE: u8 = 126;
const NOT_FOUND: u8 = 127;
/// How long a command gets to exit after the forward died and it was sent SIGTERM.
const COMMAND_GRACE: Duration = Duration::from_secs(10);

/// `connect NAME -- CMD`: run the command with a temporary kubeconfig (0600, removed however this
/// ends) while the forward (none with `--server`) serves; SIGINT/SIGTERM go to the command, and it
/// is stopped when the forward dies. The status is the command's (128+n when a signal n ended it); 126 when it cannot
/// be run, 127 when it is not found.
pub(crate) async fn run(
    printer: &Printer,
    credentials: &VclusterCredentials,
    context_name: &str,
    command: &[OsString],
    mut forward: Option<InProcess>,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitStatus> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut file = tempfile::Builder::new().prefix("vcluster-kubeconfig-").suffix(".yaml").tempfile()?;
    {
        use std::io::Write as _;
        let yaml = serde_saphyr::to_string(&credentials.document(context_name))?;
        file.write_all(yaml.as_bytes())?;
        file.as_file().sync_all()?;
    }
    if interrupt.is_set() {
        stop(forward).await;
        return Err(anyhow::Error::new(Interrupted));
    }
    let (program, rest) = command.split_first().expect("clap requires a command");
    // Signals are the command's from here on; this process only passes them on.
    let (mut int, mut term) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    let spawned = tokio::process::Command::new(program).args(rest).env("KUBECONFIG", file.path()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            stop(forward).await;
            let program = Path::new(program).display();
            let (status, what) = match e.kind() {
                std::io::ErrorKind::NotFound => (NOT_FOUND, "not found"),
                _ => (NOT_EXECUTABLE, "cannot be run"),
            };
            printer.error_report(&format!("error: command {program} {what}: {e}\n"));
            return Ok(ExitStatus::External(status));
        }
    };
    let pid = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32));
    let pass = |sig: rustix::process::Signal| {
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, sig);
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = int.recv() => {
                // At a terminal, Ctrl-C already reached the command (our process group is the
                // terminal's foreground group); passing it on would deliver it twice.
                if !in_terminal_foreground() {
                    pass(rustix::process::Signal::INT);
                }
            }
            _ = term.recv() => pass(rustix::process::Signal::TERM),
            reason = died(&mut forward) => {
                printer.warn(format!("the port-forward ended ({reason}); stopping the command"));
                pass(rustix::process::Signal::TERM);
                match tokio::time::timeout(COMMAND_GRACE, child.wait()).await {
                    Ok(status) => break status?,
                    Err(_) => {
                        let _ = child.start_kill();
                        break child.wait().await?;
                    }
                }
            }
        }
    };
    stop(forward).await;
    drop(file);
    Ok(ExitStatus::External(exit_code(&status)))
}

async fn died(forward: &mut Option<InProcess>) -> String {
    match forward {
        Some(forward) => forward.died().await,
        None => std::future::pending().await,
    }
}

async fn stop(forward: Option<InProcess>) {
    if let Some(forward) = forward {
        forward.stop().await;
    }
}

/// The status a shell would report: the exit code, or 128+n for a signal n.
fn exit_code(status: &std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}

/// Whether this process is in the foreground process group of its controlling terminal.
fn in_terminal_foreground() -> bool {
    let stdin = std::io::stdin();
    rustix::termios::tcgetpgrp(&stdin).is_ok_and(|group| group == rustix::process::getpgrp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;

    #[test]
    fn exit_codes_are_what_a_shell_reports() {
        assert_eq!(exit_code(&std::process::ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(&std::process::ExitStatus::from_raw(15)), 143, "SIGTERM");
        assert_eq!(exit_code(&std::process::ExitStatus::from_raw(9)), 137, "SIGKILL");
    }
}
