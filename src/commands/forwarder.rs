//! `vcluster __forwarder`: the entry into the background port-forward `connect` starts
//! ([`crate::forward::background`]). Not for people (it is in neither the help nor the
//! completions); its command line is how `/proc/<pid>/cmdline` proves a pid is ours
//! ([`crate::forward::registry`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::context::host::load_kubeconfig;
use crate::context::{Context, GlobalArgs, exit_clap, finish};
use crate::error::ExitStatus;
use crate::forward::background::{self, Serve};
use crate::forward::parse_addresses;
use crate::forward::registry::{ForwarderKey, Registry};
use crate::printer::{Printer, PrinterConfig};
use crate::state::StateDir;

#[derive(Debug, Parser)]
#[command(name = "__forwarder")]
pub(crate) struct ForwarderArgs {
    /// The key's file stem (checked against the other arguments)
    #[arg(long)]
    pub(crate) stem: String,
    #[arg(long)]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// The host context
    #[arg(long)]
    pub(crate) context: String,
    /// The vcluster's namespace
    #[arg(long)]
    pub(crate) namespace: String,
    #[arg(long)]
    pub(crate) address: String,
    #[arg(long)]
    pub(crate) local_port: u16,
    #[arg(long)]
    pub(crate) remote_port: u16,
    /// The vcluster
    pub(crate) name: String,
}

/// `args` starts with the command's own name.
pub(crate) fn main(args: &[OsString]) -> ExitCode {
    let args = match ForwarderArgs::try_parse_from(args) {
        Ok(args) => args,
        Err(e) => return exit_clap(e),
    };
    // stderr is the log file: plain timestamped lines.
    let printer = Printer::new(PrinterConfig::from_env(false, false, false));
    let global = GlobalArgs {
        kubeconfig: args.kubeconfig.clone(),
        context: Some(args.context.clone()),
        namespace: Some(args.namespace.clone()),
        ..GlobalArgs::default()
    };
    let ctx = Context { global, output: None, printer: printer.clone() };
    finish(run(args, &ctx), &printer)
}

fn run(args: ForwarderArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let serve = Serve {
        stem: args.stem,
        key: ForwarderKey::new(&args.context, &args.namespace, &args.name),
        addresses: parse_addresses(&args.address).map_err(anyhow::Error::msg)?,
        address_text: args.address,
        port: args.local_port,
        remote_port: args.remote_port,
    };
    let loaded = load_kubeconfig(ctx)?;
    let registry = Registry::open(&StateDir::from_env()?)?;
    let clean = ctx.block_on(background::run(&serve, &loaded, &registry, &ctx.printer))?;
    Ok(if clean { ExitStatus::Success } else { ExitStatus::Failure })
}
