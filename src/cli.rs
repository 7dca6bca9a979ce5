//! The command line: parse it, then dispatch to a command — nothing else.
//!
//! Parsing happens before any runtime starts; commands that talk to a cluster get a tokio
//! runtime from `Context::block_on`. Each subcommand's arguments live in its own file
//! under `commands/`; the global flags and what commands share in `crate::context`.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands;
use crate::context::args::CommonArgs;
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
    pub(crate) common: CommonArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create a virtual cluster, or upgrade it with --upgrade (no helm binary needed)
    #[command(after_help = commands::create::EXAMPLES)]
    Create(commands::create::CreateArgs),
    /// Connect to a virtual cluster: switch kubectl to it (a port-forward runs in the background),
    /// print a kubeconfig, or run one command against it
    #[command(after_help = commands::connect::EXAMPLES)]
    Connect(commands::connect::ConnectArgs),
    /// Switch back to the context that was current before `connect`, and stop its port-forward
    #[command(after_help = commands::disconnect::EXAMPLES)]
    Disconnect(commands::disconnect::DisconnectArgs),
    /// Forward local ports to a service or pod inside a virtual cluster, or to its API server
    #[command(after_help = commands::port_forward::EXAMPLES)]
    PortForward(commands::port_forward::PortForwardArgs),
    /// Delete a virtual cluster and exactly what belongs to it
    #[command(visible_alias = "rm", after_help = commands::delete::EXAMPLES)]
    Delete(commands::delete::DeleteArgs),
    /// List the virtual clusters in the namespace (-n) or in all namespaces
    #[command(visible_alias = "ls", after_help = commands::list::EXAMPLES)]
    List(commands::list::ListArgs),
    /// Pause a virtual cluster: scale it down to nothing, keeping its data
    #[command(visible_alias = "sleep", after_help = commands::pause::EXAMPLES)]
    Pause(commands::pause::PauseArgs),
    /// Resume a paused virtual cluster and wait until it works
    #[command(visible_alias = "wakeup", after_help = commands::resume::EXAMPLES)]
    Resume(commands::resume::ResumeArgs),
    /// Render the manifests of a virtual cluster without touching a cluster (like `helm template`)
    #[command(after_help = commands::render::EXAMPLES)]
    Render(commands::render::RenderArgs),
    /// Print the CLI version and the chart version it installs
    #[command(after_help = commands::version::EXAMPLES)]
    Version(commands::version::VersionArgs),
    /// Print a shell completion script
    #[command(after_help = commands::completion::EXAMPLES)]
    Completion(commands::completion::CompletionArgs),
}

impl Command {
    /// The flags this command was given, and its output format (`-o`, else its default).
    fn flags(&self, common: &CommonArgs) -> (GlobalArgs, Option<OutputFormat>) {
        let base = GlobalArgs::new(common);
        match self {
            Command::Create(a) => (base.host(&a.host), a.output.output),
            Command::Delete(a) => (base.host(&a.host).yes(a.yes), a.output.output),
            Command::Pause(a) => (base.host(&a.host), a.output.output),
            Command::Resume(a) => (base.host(&a.host), a.output.output),
            Command::List(a) => (base.host(&a.host), Some(a.output)),
            Command::Render(a) => (base.kubeconfig(&a.kubeconfig).namespace(&a.namespace), Some(a.output)),
            Command::Version(a) => (base, a.output),
            Command::Connect(a) => (base.host(&a.host), None),
            Command::PortForward(a) => (base.host(&a.host), None),
            Command::Disconnect(a) => (base.kubeconfig(&a.kubeconfig), None),
            Command::Completion(_) => (base, None),
        }
    }
}

/// Entry point used by `main`.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cwd = std::env::current_dir().ok();
    // The background forwarder `connect` starts: not a command for people, so not in the help or
    // the completions.
    if args.get(1).is_some_and(|a| a == crate::forward::registry::FORWARDER_COMMAND) {
        return commands::forwarder::main(&args[1..]);
    }
    // `COMPLETE=bash vcluster …`: the shell asks for candidates (names from the cluster included).
    match clap_complete::CompleteEnv::with_factory(Cli::command).try_complete(args.clone(), cwd.as_deref()) {
        Ok(true) => return ExitCode::SUCCESS,
        Ok(false) => {}
        Err(e) => return exit_clap(e),
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
        Err(e) => return exit_clap(e),
    };
    let (global, output) = cli.command.flags(&cli.common);
    let printer = Printer::new(PrinterConfig::from_env(global.quiet, global.debug, global.yes));
    let ctx = Context { global, output, printer: printer.clone() };
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
    fn each_command_takes_its_own_output_formats_and_nothing_else() {
        let accepted = |args: &str| Cli::try_parse_from(format!("vcluster {args}").split(' ')).is_ok();
        for ok in ["render x -o json", "render x -o yaml", "list -o table", "list -o yaml", "pause x -o json"] {
            assert!(accepted(ok), "{ok}");
        }
        for refused in ["render x -o table", "pause x -o table", "create x -o yaml", "version -o table"] {
            let err = Cli::try_parse_from(format!("vcluster {refused}").split(' ')).unwrap_err();
            assert_eq!((err.kind(), err.exit_code()), (clap::error::ErrorKind::InvalidValue, 2), "{refused}");
        }
        for refused in ["connect x -o json", "completion bash -o json", "version -n x", "list -y", "render x -y"] {
            let err = Cli::try_parse_from(format!("vcluster {refused}").split(' ')).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "{refused}");
        }
    }

    /// The examples of a command's help: its `  vcluster …` lines, without their comments.
    fn examples(command: &clap::Command) -> Vec<String> {
        let text = command.get_after_help().map(|h| h.to_string()).unwrap_or_default();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("Examples:"), "{}", command.get_name());
        lines
            .map(|l| l.strip_prefix("  ").unwrap_or_else(|| panic!("{l:?}")))
            .map(|l| l.split("   # ").next().unwrap().trim_end().to_owned())
            .collect()
    }

    #[test]
    fn every_command_has_two_to_four_examples_that_parse_and_the_readme_shows() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let cli = Cli::command();
        let commands: Vec<&clap::Command> = cli.get_subcommands().collect();
        assert_eq!(commands.len(), 11);
        for command in commands {
            let name = command.get_name();
            let examples = examples(command);
            assert!((2..=4).contains(&examples.len()), "{name}: {examples:?}");
            for example in examples {
                let words: Vec<&str> = example.split(' ').collect();
                assert_eq!(words[..2], ["vcluster", name], "{example}");
                let parsed = Cli::try_parse_from(&words);
                assert!(parsed.is_ok(), "{example}: {}", parsed.unwrap_err());
                // In the README as a command line: alone, commented, piped or redirected.
                let shown = readme.lines().any(|line| {
                    line.find(&example).is_some_and(|at| {
                        let rest = &line[at + example.len()..];
                        rest.is_empty() || [" #", " |", " >"].iter().any(|p| rest.trim_start().starts_with(&p[1..]))
                    })
                });
                assert!(shown, "{example} is not in the README");
            }
        }
    }

    #[test]
    fn defaults_and_flags_reach_the_context() {
        let cli = Cli::try_parse_from(["vcluster", "--debug", "list", "-n", "team"]).unwrap();
        let (global, output) = cli.command.flags(&cli.common);
        assert_eq!(
            (global.debug, global.namespace.as_deref(), output),
            (true, Some("team"), Some(OutputFormat::Table))
        );
        assert_eq!(global.request_timeout, std::time::Duration::from_secs(30));
        let cli = Cli::try_parse_from(["vcluster", "render", "x"]).unwrap();
        assert_eq!(cli.command.flags(&cli.common).1, Some(OutputFormat::Yaml));
        let cli = Cli::try_parse_from(["vcluster", "delete", "x", "-y", "-q"]).unwrap();
        let (global, output) = cli.command.flags(&cli.common);
        assert_eq!((global.yes, global.quiet, output), (true, true, None));
    }
}
