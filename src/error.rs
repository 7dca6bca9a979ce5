//! Exit statuses and the edge-of-program error report.
//!
//! Library modules return their own `thiserror` enums; commands wrap them with context
//! (`anyhow`), and [`report`] prints the chain plus any hints once, on stderr.

use std::fmt;

/// How the process ends (developers' guide, "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
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
    pub fn code(self) -> u8 {
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

/// An error with advice attached: what to do about it. Put it anywhere in an error chain;
/// [`report`] prints every hint it finds after the chain.
#[derive(Debug)]
pub struct Hinted {
    pub message: String,
    pub hints: Vec<String>,
}

impl Hinted {
    pub fn new(message: impl Into<String>) -> Self {
        Hinted { message: message.into(), hints: Vec::new() }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {}

/// The user interrupted the command (first SIGINT/SIGTERM). Maps to exit 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Writing data to stdout failed because the reader went away (`| head -1`): not an error.
#[derive(Debug, thiserror::Error)]
#[error("broken pipe")]
pub struct BrokenPipe;

/// Map an error to its exit status, without printing anything.
pub fn exit_status_of(err: &anyhow::Error) -> ExitStatus {
    if err.chain().any(|e| e.is::<BrokenPipe>()) {
        ExitStatus::Success
    } else if err.chain().any(|e| e.is::<Interrupted>()) {
        ExitStatus::Interrupted
    } else {
        ExitStatus::Failure
    }
}

/// Render an error chain the way it is printed on stderr: `error: top`, one
/// `  caused by: …` per source (skipping repeats), then `  hint: …` lines.
pub fn format_report(err: &anyhow::Error) -> String {
    let mut out = format!("error: {err}\n");
    let mut last = err.to_string();
    let mut hints = Vec::new();
    for cause in err.chain() {
        if let Some(h) = cause.downcast_ref::<Hinted>() {
            hints.extend(h.hints.iter().cloned());
        }
    }
    for cause in err.chain().skip(1) {
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
        let text = format_report(&err);
        assert_eq!(text, "error: while rendering\n  caused by: bad thing\n  hint: do this\n");
        assert_eq!(exit_status_of(&err), ExitStatus::Failure);
    }

    #[test]
    fn broken_pipe_and_interrupt_map_to_their_codes() {
        assert_eq!(exit_status_of(&anyhow::Error::new(BrokenPipe)).code(), 0);
        assert_eq!(exit_status_of(&anyhow::Error::new(Interrupted).context("x")).code(), 130);
    }
}
