//! `vcluster __forwarder` (hidden): the background port-forward `connect` starts. Not for people;
//! its command line is how `/proc/<pid>/cmdline` proves a pid is ours ([`crate::forward::registry`]).

use clap::Args;

use crate::cli::Context;
use crate::commands::render::load_kubeconfig;
use crate::error::ExitStatus;
use crate::forward::forwarder::{self, Serve};
use crate::forward::parse_addresses;
use crate::forward::registry::{ForwarderKey, Registry};
use crate::state::StateDir;

#[derive(Debug, Args)]
pub struct ForwarderArgs {
    /// The key's file stem (checked against the other arguments)
    #[arg(long)]
    pub stem: String,
    #[arg(long)]
    pub address: String,
    #[arg(long)]
    pub local_port: u16,
    #[arg(long)]
    pub remote_port: u16,
    /// The vcluster
    pub name: String,
}

pub fn run(args: ForwarderArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let (Some(context), Some(namespace)) = (ctx.global.context.as_deref(), ctx.global.namespace.as_deref()) else {
        anyhow::bail!("the forwarder needs --context and --namespace");
    };
    let serve = Serve {
        stem: args.stem,
        key: ForwarderKey::new(context, namespace, &args.name),
        addresses: parse_addresses(&args.address).map_err(anyhow::Error::msg)?,
        address_text: args.address,
        port: args.local_port,
        remote_port: args.remote_port,
    };
    let loaded = load_kubeconfig(ctx)?;
    let registry = Registry::open(&StateDir::from_env()?)?;
    let clean = ctx.block_on(forwarder::run(&serve, &loaded, &registry, &ctx.printer))?;
    Ok(if clean { ExitStatus::Success } else { ExitStatus::Failure })
}
