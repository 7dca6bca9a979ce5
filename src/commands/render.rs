//! `vcluster render NAME`: the manifests of a virtual cluster, without cluster access.

use clap::Args;

use crate::cli::Context;
use crate::error::ExitStatus;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Name of the virtual cluster (a DNS-1035 label of at most 51 characters)
    pub name: String,
}

pub fn run(_args: RenderArgs, _ctx: &Context) -> anyhow::Result<ExitStatus> {
    anyhow::bail!("render is not implemented yet")
}
