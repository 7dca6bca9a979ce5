//! The one output, progress and prompt layer.
//!
//! Data goes to stdout, everything else to stderr. Progress bars (indicatif) and prompts
//! (dialoguer) appear only at a terminal; without one, progress becomes plain timestamped
//! lines and prompts refuse with a hint (`--yes`). Nothing else in the crate may use
//! indicatif or dialoguer, or print directly.
#![allow(clippy::print_stderr)]

pub(crate) mod text;

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{BrokenPipe, Hinted, Interrupted};

/// Which of the standard streams are terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Terminals {
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
}

impl Terminals {
    pub(crate) fn detect() -> Self {
        Terminals {
            stdin: io::stdin().is_terminal(),
            stdout: io::stdout().is_terminal(),
            stderr: io::stderr().is_terminal(),
        }
    }
}

/// Settings the printer is built from (the global flags plus the environment).
#[derive(Debug, Clone, Default)]
pub(crate) struct PrinterConfig {
    pub(crate) quiet: bool,
    pub(crate) debug: bool,
    pub(crate) yes: bool,
    /// `NO_COLOR` set (non-empty) or `TERM=dumb`.
    pub(crate) no_color: bool,
    pub(crate) terminals: Terminals,
}

impl PrinterConfig {
    /// Read the terminal state and `NO_COLOR`/`TERM` from the real environment.
    pub(crate) fn from_env(quiet: bool, debug: bool, yes: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var_os("TERM").is_some_and(|v| v == "dumb");
        PrinterConfig { quiet, debug, yes, no_color, terminals: Terminals::detect() }
    }
}

/// Where stderr messages go; tests capture them.
#[derive(Clone)]
enum Sink {
    Std,
    #[cfg(test)]
    Captured(Arc<Mutex<Vec<u8>>>, Arc<Mutex<Vec<u8>>>),
}

/// Cheap to clone; share it with tasks.
#[derive(Clone)]
pub(crate) struct Printer {
    config: Arc<PrinterConfig>,
    sink: Sink,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer").field("config", &self.config).finish()
    }
}

/// A prompt could not be shown.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PromptError {
    #[error("{what} needs confirmation, but stdin is not a terminal")]
    NotATerminal { what: String },
    #[error("prompt failed: {0}")]
    Io(#[from] dialoguer::Error),
}

/// A prompt's failure; Ctrl-C at a prompt (console reads it as a key and reports `Interrupted`)
/// is an interruption, exit 130, like Ctrl-C anywhere else.
fn prompt_failed(err: dialoguer::Error) -> anyhow::Error {
    let dialoguer::Error::IO(io) = &err;
    if io.kind() == io::ErrorKind::Interrupted {
        anyhow::Error::new(Interrupted)
    } else {
        anyhow::Error::new(PromptError::from(err))
    }
}

impl Printer {
    pub fn new(config: PrinterConfig) -> Self {
        Printer { config: Arc::new(config), sink: Sink::Std }
    }

    /// A printer whose stdout and stderr are captured in memory (for tests). Never a terminal.
    #[cfg(test)]
    pub(crate) fn captured(quiet: bool, debug: bool, yes: bool) -> (Self, Captured) {
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let config = PrinterConfig { quiet, debug, yes, no_color: true, terminals: Terminals::default() };
        let printer = Printer { config: Arc::new(config), sink: Sink::Captured(out.clone(), err.clone()) };
        (printer, Captured { out, err })
    }

    pub(crate) fn config(&self) -> &PrinterConfig {
        &self.config
    }

    /// A person is at the keyboard: stdin and stderr are terminals.
    pub(crate) fn is_interactive(&self) -> bool {
        self.config.terminals.stdin && self.config.terminals.stderr
    }

    fn color(&self) -> bool {
        !self.config.no_color && self.config.terminals.stderr
    }

    /// Write data to stdout. A closed reader (`| head -1`) becomes [`BrokenPipe`], which the
    /// edge maps to a quiet exit 0; any other failure (a full disk) is an error: the data is lost.
    pub(crate) fn data(&self, bytes: &[u8]) -> anyhow::Result<()> {
        let result = match &self.sink {
            Sink::Std => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            #[cfg(test)]
            Sink::Captured(out, _) => {
                out.lock().expect("capture lock").extend_from_slice(bytes);
                Ok(())
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(anyhow::Error::new(BrokenPipe)),
            Err(e) => Err(anyhow::Error::new(e).context("cannot write to stdout")),
        }
    }

    fn stderr_line(&self, line: &str) {
        match &self.sink {
            Sink::Std => {
                let mut err = io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }
            #[cfg(test)]
            Sink::Captured(_, err) => {
                let mut buf = err.lock().expect("capture lock");
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
            }
        }
    }

    fn tagged(&self, tag: &str, ansi: &str, msg: &str) {
        if self.color() {
            self.stderr_line(&format!("\x1b[{ansi}m{tag}\x1b[0m {msg}"));
        } else {
            self.stderr_line(&format!("{tag} {msg}"));
        }
    }

    /// Progress or status information for a person; hidden by `--quiet`.
    pub(crate) fn info(&self, msg: impl AsRef<str>) {
        if !self.config.quiet {
            self.stderr_line(msg.as_ref());
        }
    }

    /// A completed step; hidden by `--quiet`.
    pub(crate) fn success(&self, msg: impl AsRef<str>) {
        if !self.config.quiet {
            self.tagged("done", "32", msg.as_ref());
        }
    }

    /// Something the user should know even with `--quiet`.
    pub(crate) fn warn(&self, msg: impl AsRef<str>) {
        self.tagged("warning:", "33", msg.as_ref());
    }

    /// Only with `--debug`.
    pub(crate) fn debug(&self, msg: impl AsRef<str>) {
        if self.config.debug {
            self.tagged("debug:", "2", msg.as_ref());
        }
    }

    /// The final error report (already formatted, possibly several lines).
    pub(crate) fn error_report(&self, report: &str) {
        for line in report.lines() {
            if let Some(rest) = line.strip_prefix("error: ") {
                self.tagged("error:", "31", rest);
            } else {
                self.stderr_line(line);
            }
        }
    }

    /// Ask a yes/no question. `--yes` answers yes without asking; without a terminal the
    /// prompt is refused with a hint to pass `--yes`, so scripts never hang.
    pub(crate) fn confirm(&self, what: &str, prompt: &str) -> anyhow::Result<bool> {
        if self.config.yes {
            return Ok(true);
        }
        if !self.is_interactive() || !matches!(self.sink, Sink::Std) {
            return Err(anyhow::Error::new(
                Hinted::new(PromptError::NotATerminal { what: what.to_string() })
                    .hint("pass --yes to confirm without a prompt"),
            ));
        }
        let answer =
            dialoguer::Confirm::new().with_prompt(prompt).default(false).interact_opt().map_err(prompt_failed)?;
        Ok(answer.unwrap_or(false))
    }

    /// Let a person pick one item; `None` when there is no terminal (callers then report
    /// the ambiguity as an error listing the candidates).
    pub(crate) fn select(&self, prompt: &str, items: &[String]) -> anyhow::Result<Option<usize>> {
        if !self.is_interactive() || !matches!(self.sink, Sink::Std) {
            return Ok(None);
        }
        let choice = dialoguer::Select::new()
            .with_prompt(prompt)
            .items(items)
            .default(0)
            .interact_opt()
            .map_err(prompt_failed)?;
        Ok(choice)
    }

    /// Start a progress display for a long operation: a spinner at a terminal, plain
    /// timestamped lines otherwise, nothing with `--quiet`.
    pub(crate) fn progress(&self, initial: &str) -> Progress {
        self.progress_every(initial, HEARTBEAT)
    }

    /// [`Printer::progress`] whose line-mode heartbeat comes every `heartbeat`.
    fn progress_every(&self, initial: &str, heartbeat: Duration) -> Progress {
        let mode = if self.config.quiet {
            ProgressMode::Hidden
        } else if self.config.terminals.stderr && matches!(self.sink, Sink::Std) {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg}")
                    .expect("static template")
                    .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            ProgressMode::Bar(bar)
        } else {
            ProgressMode::Lines(Heartbeat::start(self.clone(), heartbeat))
        };
        let progress = Progress { printer: self.clone(), mode, last: Arc::new(Mutex::new(String::new())) };
        progress.set_phase(initial);
        progress
    }
}

/// Captured output of [`Printer::captured`].
#[cfg(test)]
#[derive(Clone)]
pub(crate) struct Captured {
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
}

#[cfg(test)]
impl Captured {
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().expect("capture lock")).into_owned()
    }
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().expect("capture lock")).into_owned()
    }
}

/// Without a terminal, a line at least this often while a progress display is up.
const HEARTBEAT: Duration = Duration::from_secs(30);

enum ProgressMode {
    Hidden,
    Lines(Heartbeat),
    Bar(indicatif::ProgressBar),
}

/// What the line-mode display last said, and when.
struct Said {
    at: std::time::Instant,
    phase: String,
    message: String,
    stopped: bool,
}

/// Without a terminal, long quiet stretches (a wait that sees no change for minutes) still get a
/// line every interval saying what is awaited, so a CI log shows the run is alive.
struct Heartbeat {
    said: Arc<(Mutex<Said>, std::sync::Condvar)>,
}

impl Heartbeat {
    fn start(printer: Printer, every: Duration) -> Heartbeat {
        let said = Said { at: std::time::Instant::now(), phase: String::new(), message: String::new(), stopped: false };
        let said = Arc::new((Mutex::new(said), std::sync::Condvar::new()));
        let shared = Arc::clone(&said);
        std::thread::spawn(move || {
            let (lock, wake) = &*shared;
            let mut state = lock.lock().expect("heartbeat lock");
            loop {
                if state.stopped {
                    return;
                }
                let due = state.at + every;
                let now = std::time::Instant::now();
                if now >= due {
                    let detail = if state.message.is_empty() { String::new() } else { format!(" ({})", state.message) };
                    let text = format!("still: {}{detail}", state.phase);
                    state.at = now;
                    drop(state);
                    Progress::stamped(&printer, &text);
                    state = lock.lock().expect("heartbeat lock");
                    continue;
                }
                state = wake.wait_timeout(state, due - now).expect("heartbeat lock").0;
            }
        });
        Heartbeat { said }
    }

    fn said(&self, update: impl FnOnce(&mut Said)) {
        let mut state = self.said.0.lock().expect("heartbeat lock");
        update(&mut state);
        state.at = std::time::Instant::now();
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.said.0.lock().expect("heartbeat lock").stopped = true;
        self.said.1.notify_all();
    }
}

/// A running progress display. Dropping it clears the spinner.
pub(crate) struct Progress {
    printer: Printer,
    mode: ProgressMode,
    last: Arc<Mutex<String>>,
}

impl Progress {
    /// Enter a new phase (`Applying 12 objects`, `Waiting for my-vc-0`).
    pub(crate) fn set_phase(&self, phase: &str) {
        match &self.mode {
            ProgressMode::Hidden => {}
            ProgressMode::Bar(bar) => bar.set_prefix(phase.to_string()),
            ProgressMode::Lines(beat) => {
                beat.said(|s| {
                    s.phase = phase.to_string();
                    s.message.clear();
                });
                self.line(phase)
            }
        }
    }

    /// Update the detail (pod status, objects applied). Without a terminal, a line is
    /// printed only when the text changes, so logs stay short.
    pub(crate) fn set_message(&self, msg: &str) {
        match &self.mode {
            ProgressMode::Hidden => {}
            ProgressMode::Bar(bar) => bar.set_message(msg.to_string()),
            ProgressMode::Lines(beat) => {
                let mut last = self.last.lock().expect("progress lock");
                if *last != msg {
                    *last = msg.to_string();
                    drop(last);
                    beat.said(|s| s.message = msg.to_string());
                    self.line(msg);
                }
            }
        }
    }

    /// A permanent line above the spinner (warnings, events).
    pub(crate) fn println(&self, msg: &str) {
        match &self.mode {
            ProgressMode::Hidden => {}
            ProgressMode::Bar(bar) => bar.println(msg),
            ProgressMode::Lines(beat) => {
                beat.said(|_| {});
                self.line(msg)
            }
        }
    }

    fn line(&self, msg: &str) {
        Progress::stamped(&self.printer, msg);
    }

    fn stamped(printer: &Printer, msg: &str) {
        let now = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
        printer.stderr_line(&format!("[{now}] {msg}"));
    }

    /// Stop the display.
    pub(crate) fn finish(self) {}
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let ProgressMode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_c_at_a_prompt_is_an_interruption() {
        let ctrl_c = dialoguer::Error::IO(io::Error::new(io::ErrorKind::Interrupted, "read interrupted"));
        assert_eq!(crate::error::exit_status_of(&prompt_failed(ctrl_c)).code(), 130);
        let eof = dialoguer::Error::IO(io::Error::new(io::ErrorKind::UnexpectedEof, "Reached end of file"));
        assert_eq!(crate::error::exit_status_of(&prompt_failed(eof)).code(), 1);
    }

    #[test]
    fn data_goes_to_stdout_and_messages_to_stderr() {
        let (p, cap) = Printer::captured(false, false, false);
        p.data(b"kind: List\n").unwrap();
        p.info("rendering");
        p.warn("careful");
        assert_eq!(cap.stdout(), "kind: List\n");
        assert_eq!(cap.stderr(), "rendering\nwarning: careful\n");
    }

    #[test]
    fn quiet_hides_info_but_not_warnings() {
        let (p, cap) = Printer::captured(true, false, false);
        p.info("hidden");
        p.success("hidden");
        p.warn("shown");
        assert_eq!(cap.stderr(), "warning: shown\n");
    }

    #[test]
    fn confirm_refuses_without_terminal_unless_yes() {
        let (p, _) = Printer::captured(false, false, false);
        let err = p.confirm("deleting my-vc", "Delete?").unwrap_err();
        let report = crate::error::format_report(&err, false);
        assert!(report.contains("stdin is not a terminal"), "{report}");
        assert!(report.contains("hint: pass --yes"), "{report}");
        let (p, _) = Printer::captured(false, false, true);
        assert!(p.confirm("deleting my-vc", "Delete?").unwrap());
    }

    #[test]
    fn progress_without_terminal_prints_changed_lines_only() {
        let (p, cap) = Printer::captured(false, false, false);
        let progress = p.progress("Waiting");
        progress.set_message("ContainerCreating");
        progress.set_message("ContainerCreating");
        progress.set_message("Running");
        let err = cap.stderr();
        assert_eq!(err.lines().count(), 3, "{err}");
        assert!(err.lines().all(|l| l.starts_with('[')), "{err}");
    }

    #[test]
    fn progress_without_terminal_says_what_is_awaited_when_nothing_changes() {
        let (p, cap) = Printer::captured(false, false, false);
        let progress = p.progress_every("Waiting for vcluster my-vc", Duration::from_millis(50));
        progress.set_message("pod my-vc-0: ContainerCreating");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !cap.stderr().contains("still: ") {
            assert!(std::time::Instant::now() < deadline, "no heartbeat line: {}", cap.stderr());
            std::thread::yield_now();
        }
        drop(progress);
        let err = cap.stderr();
        assert!(err.contains("] still: Waiting for vcluster my-vc (pod my-vc-0: ContainerCreating)"), "{err}");
    }
}
