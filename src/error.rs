//! Exit statuses and the edge-of-program error report.
//!
//! Library modules return their own `thiserror` enums; commands wrap them with context
//! (`anyhow`), and [`format_report`] prints the chain plus any hints once, on stderr.

use std::fmt;

/// How the process ends: 0 success, 1 any failure after the arguments were parsed, 2 a usage error
/// (clap's own exit), 130 interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// 0
    Success,
    /// 1: any failure after argument parsing.
    Failure,
    /// 130: interrupted by SIGINT/SIGTERM.
    Interrupted,
    /// A child's status passed through (`connect -- CMD`).
    External(u8),
}

impl ExitStatus {
    pub(crate) fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Interrupted => 130,
            ExitStatus::External(code) => code,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> Self {
        std::process::ExitCode::from(status.code())
    }
}

/// An error with advice attached: what to do about it. The error itself stays inside, so the
/// report can print its whole `caused by:` chain and a caller can still downcast through it.
/// Put it anywhere in an error chain; [`format_report`] prints every hint it finds after the chain.
#[derive(Debug)]
pub(crate) struct Hinted {
    error: Box<dyn std::error::Error + Send + Sync + 'static>,
    hints: Vec<String>,
}

impl Hinted {
    /// `error`: a typed error, or a message (`&str`, `String`).
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Hinted { error: error.into(), hints: Vec::new() }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    #[cfg(test)]
    pub(crate) fn hints(&self) -> &[String] {
        &self.hints
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error.as_ref())
    }
}

/// An error that knows what to do about it, for the vcluster `name` in `namespace`.
pub(crate) trait Advice: std::error::Error + Send + Sync + Sized + 'static {
    fn hints(&self, name: &str, namespace: &str) -> Vec<String>;

    /// The error for the report: its hints attached, its chain kept (an interrupt still exits 130).
    fn into_report(self, name: &str, namespace: &str) -> anyhow::Error {
        let hints = self.hints(name, namespace);
        anyhow::Error::new(hints.into_iter().fold(Hinted::new(self), Hinted::hint))
    }
}

/// The user interrupted the command (first SIGINT/SIGTERM). Maps to exit 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub(crate) struct Interrupted;

/// Writing data to stdout failed because the reader went away (`| head -1`): not an error.
#[derive(Debug, thiserror::Error)]
#[error("broken pipe")]
pub(crate) struct BrokenPipe;

/// Map an error to its exit status, without printing anything.
pub(crate) fn exit_status_of(err: &anyhow::Error) -> ExitStatus {
    if err.chain().any(|e| e.is::<BrokenPipe>()) {
        ExitStatus::Success
    } else if err.chain().any(|e| e.is::<Interrupted>()) {
        ExitStatus::Interrupted
    } else {
        ExitStatus::Failure
    }
}

/// Render an error chain the way it is printed on stderr: `error: top`, one `  caused by: …` per
/// source (skipping repeats), then `  hint: …` lines. The chain below a [`Hinted`] error is its
/// message's own detail, printed only with `full` (`--debug`).
pub(crate) fn format_report(err: &anyhow::Error, full: bool) -> String {
    let mut out = format!("error: {err}\n");
    let mut last = err.to_string();
    let mut hints = Vec::new();
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            hints.extend(h.hints.iter().cloned());
        }
    }
    let mut below_hinted = false;
    for cause in err.chain() {
        if below_hinted && !full {
            break;
        }
        below_hinted |= cause.is::<Hinted>();
        let text = cause.to_string();
        // Error types that print their source inline would otherwise repeat it.
        if last.contains(&text) {
            continue;
        }
        out.push_str(&format!("  caused by: {text}\n"));
        last = text;
    }
    for hint in hints {
        out.push_str(&format!("  hint: {hint}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_prints_chain_and_hints_once() {
        let err = anyhow::Error::new(Hinted::new("bad thing").hint("do this")).context("while rendering");
        let text = format_report(&err, false);
        assert_eq!(text, "error: while rendering\n  caused by: bad thing\n  hint: do this\n");
        assert_eq!(exit_status_of(&err), ExitStatus::Failure);
    }

    #[test]
    fn broken_pipe_and_interrupt_map_to_their_codes() {
        assert_eq!(exit_status_of(&anyhow::Error::new(BrokenPipe)).code(), 0);
        assert_eq!(exit_status_of(&anyhow::Error::new(Interrupted).context("x")).code(), 130);
        let hinted = anyhow::Error::new(Hinted::new(Interrupted).hint("h"));
        assert_eq!(exit_status_of(&hinted).code(), 130, "found through the hinted error");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read the file")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_hinted_error_keeps_its_chain_for_debug() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let err = anyhow::Error::new(Hinted::new(Outer(io)).hint("check the mode"));
        assert_eq!(format_report(&err, false), "error: cannot read the file\n  hint: check the mode\n");
        assert_eq!(
            format_report(&err, true),
            "error: cannot read the file\n  caused by: permission denied\n  hint: check the mode\n"
        );
        assert!(err.chain().any(|e| e.is::<Outer>()), "still downcastable");
    }
}
