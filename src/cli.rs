//! The command line: parse it, then dispatch to a command — nothing else.
//!
//! Parsing happens before any runtime starts; commands that talk to a cluster get a tokio
//! runtime from `Context::block_on`. Each subcommand's arguments live in its own file
//! under `commands/`; the global flags and what commands share in `crate::context`.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands;
use crate::context::{Context, GlobalArgs, OutputFormat, exit_clap, finish};
use crate::error::ExitStatus;
use crate::printer::{Printer, PrinterConfig};

/// The hidden command of the background port-forwarder (`main` closes inherited descriptors for it).
pub use crate::forward::registry::FORWARDER_COMMAND;

/// Create, connect to and manage virtual Kubernetes clusters.
#[derive(Debug, Parser)]
#[command(name = "vcluster", version, propagate_version = true, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)
    Create(commands::create::CreateArgs),
    /// Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background),
    /// print a kubeconfig, or run one command against it
    Connect(commands::connect::ConnectArgs),
    /// Switch back to the context that was current before `connect`, and stop its port-forward
    Disconnect(commands::disconnect::DisconnectArgs),
    /// Forward local ports to a service or pod inside a virtual cluster, or to its API server
    PortForward(commands::port_forward::PortForwardArgs),
    /// Delete a virtual cluster and exactly what belongs to it
    #[command(visible_alias = "rm")]
    Delete(commands::delete::DeleteArgs),
    /// List the virtual clusters in the namespace (-n) or in all namespaces
    #[command(visible_alias = "ls")]
    List(commands::list::ListArgs),
    /// Pause a virtual cluster: scale it down to nothing, keeping its data
    #[command(visible_alias = "sleep")]
    Pause(commands::pause::PauseArgs),
    /// Resume a paused virtual cluster and wait until it works
    #[command(visible_alias = "wakeup")]
    Resume(commands::resume::ResumeArgs),
    /// Render the manifests of a virtual cluster without touching a cluster (like `helm template`)
    Render(commands::render::RenderArgs),
    /// Print the CLI version and the chart version it installs
    Version(commands::version::VersionArgs),
    /// Print a shell completion script
    Completion(commands::completion::CompletionArgs),
}

impl Command {
    /// Output formats a command accepts; the first is its default. Empty: no `-o`.
    pub(crate) fn output_formats(&self) -> &'static [OutputFormat] {
        match self {
            Command::Create(_) | Command::Delete(_) | Command::Pause(_) | Command::Resume(_) => {
                &[OutputFormat::Table, OutputFormat::Json]
            }
            Command::List(_) => &[OutputFormat::Table, OutputFormat::Json, OutputFormat::Yaml],
            Command::Render(_) => &[OutputFormat::Yaml, OutputFormat::Json],
            Command::Version(_) => &[OutputFormat::Table, OutputFormat::Json, OutputFormat::Yaml],
            Command::Connect(_) | Command::Disconnect(_) | Command::PortForward(_) | Command::Completion(_) => &[],
        }
    }
}

/// Check `-o` against what the command supports; reject like clap (exit 2) so the usage
/// error reads the same as any other.
fn resolve_output(cli: &Cli) -> Result<Option<OutputFormat>, clap::Error> {
    let allowed = cli.command.output_formats();
    match cli.global.output {
        None => Ok(allowed.first().copied()),
        Some(o) if allowed.contains(&o) => Ok(Some(o)),
        Some(o) => {
            let names: Vec<&str> = allowed.iter().map(|f| f.as_str()).collect();
            let msg = if names.is_empty() {
                format!("this command has no -o/--output (got '{}')", o.as_str())
            } else {
                format!(
                    "invalid value '{}' for '--output <FORMAT>': this command supports {}",
                    o.as_str(),
                    names.join(", ")
                )
            };
            Err(Cli::command().error(clap::error::ErrorKind::InvalidValue, msg))
        }
    }
}

/// Entry point used by `main`.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // The background forwarder `connect` starts: not a command for people, so not in the help or
    // the completions.
    if args.get(1).is_some_and(|a| a == crate::forward::registry::FORWARDER_COMMAND) {
        return commands::forwarder::main(&args[1..]);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
        Err(e) => return exit_clap(e),
    };
    let output = match resolve_output(&cli) {
        Ok(o) => o,
        Err(e) => return exit_clap(e),
    };
    let printer = Printer::new(PrinterConfig::from_env(cli.global.quiet, cli.global.debug, cli.global.yes));
    let ctx = Context { global: cli.global.clone(), output, printer: printer.clone() };
    finish(run(cli.command, &ctx), &printer)
}

/// The whole command line, as clap knows it (help, completions).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Dispatch a parsed command.
fn run(command: Command, ctx: &Context) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Create(args) => commands::create::run(args, ctx),
        Command::Delete(args) => commands::delete::run(args, ctx),
        Command::List(args) => commands::list::run(args, ctx),
        Command::Pause(args) => commands::pause::run(args, ctx),
        Command::Resume(args) => commands::resume::run(args, ctx),
        Command::Render(args) => commands::render::run(args, ctx),
        Command::Version(args) => commands::version::run(args, ctx),
        Command::Completion(args) => commands::completion::run(args, ctx, Cli::command()),
        Command::Connect(args) => commands::connect::run(args, ctx),
        Command::Disconnect(args) => commands::disconnect::run(args, ctx),
        Command::PortForward(args) => commands::port_forward::run(args, ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unsupported_output_is_a_usage_error() {
        let cli = Cli::try_parse_from(["vcluster", "render", "x", "-o", "table"]).unwrap();
        let err = resolve_output(&cli).unwrap_err();
        assert!(err.use_stderr());
        assert_eq!(err.exit_code(), 2);
    }
}
