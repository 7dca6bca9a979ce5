//! What a command runs with: the global flags, the output format it prints, the printer and a
//! runtime — and the plumbing the commands share: flag groups and their parsers ([`args`]), and
//! reading the kubeconfig, reaching the host cluster and finding a vcluster on it ([`host`]).
//!
//! Commands import this module, never each other; `cli` builds the [`Context`] and dispatches.

pub(crate) mod args;
pub(crate) mod host;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::error::{self, ExitStatus};
use crate::interrupt::Interrupt;
use crate::printer::Printer;

/// Flags every command accepts.
#[derive(Debug, Clone, Args, Default)]
pub(crate) struct GlobalArgs {
    /// Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Kube context of the host cluster (default: the current context)
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) context: Option<String>,
    /// Host namespace of the virtual cluster
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub(crate) namespace: Option<String>,
    /// Output format for data on stdout
    #[arg(short = 'o', long, global = true, value_enum, value_name = "FORMAT")]
    pub(crate) output: Option<OutputFormat>,
    /// Print only warnings, errors and data
    #[arg(short = 'q', long, global = true)]
    pub(crate) quiet: bool,
    /// Print debug information (requests, timings)
    #[arg(long, global = true)]
    pub(crate) debug: bool,
    /// Answer yes to every confirmation (required when stdin is not a terminal)
    #[arg(short = 'y', long, global = true)]
    pub(crate) yes: bool,
    /// How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl's
    /// --request-timeout
    #[arg(long, global = true, default_value = "30s", value_parser = args::parse_duration, value_name = "DURATION")]
    pub(crate) request_timeout: std::time::Duration,
}

/// Formats for `-o/--output`. Each command accepts a subset (`cli::Command::output_formats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Table,
    Json,
    Yaml,
}

impl OutputFormat {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Yaml => "yaml",
        }
    }
}

/// What every command gets: the resolved global flags and the printer.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) global: GlobalArgs,
    /// The effective output format (validated against the command).
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
