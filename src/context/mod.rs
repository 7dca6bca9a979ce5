//! What a command runs with: the global flags, the output format it prints, the printer and a
//! runtime — and the plumbing the commands share: flag groups and their parsers ([`args`]), and
//! reading the kubeconfig, reaching the host cluster and finding a vcluster on it ([`host`]).
//!
//! Commands import this module, never each other; `cli` builds the [`Context`] and dispatches.

pub(crate) mod args;
pub(crate) mod complete;
pub(crate) mod host;

pub(crate) use args::OutputFormat;

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;

use crate::error::{self, ExitStatus};
use crate::interrupt::Interrupt;
use crate::printer::Printer;

/// The flags a command was given, resolved: what a command does not take is left at its default.
#[derive(Debug, Clone, Default)]
pub(crate) struct GlobalArgs {
    pub(crate) kubeconfig: Option<PathBuf>,
    pub(crate) context: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) quiet: bool,
    pub(crate) debug: bool,
    pub(crate) yes: bool,
    /// Zero: no bound (commands that send no request).
    pub(crate) request_timeout: std::time::Duration,
}

impl GlobalArgs {
    /// `-q` and `--debug`, which every command takes.
    pub(crate) fn new(common: &args::CommonArgs) -> Self {
        GlobalArgs { quiet: common.quiet, debug: common.debug, ..GlobalArgs::default() }
    }

    pub(crate) fn kubeconfig(mut self, flags: &args::KubeconfigArgs) -> Self {
        self.kubeconfig = flags.kubeconfig.clone();
        self.context = flags.context.clone();
        self
    }

    pub(crate) fn namespace(mut self, flags: &args::NamespaceArgs) -> Self {
        self.namespace = flags.namespace.clone();
        self
    }

    /// Everything a command that talks to the host cluster takes.
    pub(crate) fn host(self, flags: &args::HostArgs) -> Self {
        let mut out = self.kubeconfig(&flags.kubeconfig).namespace(&flags.namespace);
        out.request_timeout = flags.request_timeout;
        out
    }

    pub(crate) fn yes(mut self, yes: bool) -> Self {
        self.yes = yes;
        self
    }
}

/// What every command gets: the resolved global flags and the printer.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) global: GlobalArgs,
    /// The `-o` given (one the command accepts), else the command's default, if it has one.
    pub(crate) output: Option<OutputFormat>,
    pub(crate) printer: Printer,
}

impl Context {
    /// Run a future on a fresh multi-threaded runtime, shut down without waiting for
    /// stray tasks so nothing hangs at exit.
    pub(crate) fn block_on<F: std::future::Future>(&self, fut: F) -> anyhow::Result<F::Output> {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let out = rt.block_on(fut);
        rt.shutdown_background();
        Ok(out)
    }

    /// SIGINT/SIGTERM: the first stops the operation before its next request (exit 130), the
    /// second exits at once.
    pub(crate) fn interrupt(&self) -> anyhow::Result<Interrupt> {
        let printer = self.printer.clone();
        Ok(Interrupt::install(move || printer.warn("interrupted: stopping (interrupt again to exit at once)"))?)
    }

    /// With `-o json`, the result as one JSON object on stdout; `true` when printed.
    pub(crate) fn print_json<T: Serialize>(&self, value: &T) -> anyhow::Result<bool> {
        if self.output != Some(OutputFormat::Json) {
            return Ok(false);
        }
        self.printer.data((serde_json::to_string_pretty(value)? + "\n").as_bytes())?;
        Ok(true)
    }
}

/// The exit code of a command's result, its error reported.
pub(crate) fn finish(result: anyhow::Result<ExitStatus>, printer: &Printer) -> ExitCode {
    let status = match result {
        Ok(status) => status,
        Err(err) => {
            let status = error::exit_status_of(&err);
            if status == ExitStatus::Failure {
                printer.error_report(&error::format_report(&err, printer.config().debug));
            }
            status
        }
    };
    status.into()
}

/// The exit code of an argument-parsing failure, its message printed: help and version on stdout
/// (exit 0), usage errors on stderr (exit 2).
pub(crate) fn exit_clap(e: clap::Error) -> ExitCode {
    // A closed stdout while printing --help is not worth a panic or a message.
    let _ = e.print();
    ExitCode::from(if e.use_stderr() { 2 } else { 0 })
}
