//! `vcluster resume NAME` (`wakeup`): scale a paused virtual cluster back up and wait until it
//! works, as `create` waits (see [`crate::lifecycle::pause`]).

use clap::Args;

use crate::context::Context;
use crate::context::args::{HostArgs, JsonOutput, WaitArgs};
use crate::context::complete;
use crate::context::host;
use crate::error::{Advice, ExitStatus};
use crate::lifecycle::pause;
use crate::printer::text::plural;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster resume my-vcluster   # scale it back and wait until it works\n",
    "  vcluster resume my-vcluster -n team --no-wait",
);

#[derive(Debug, Args)]
pub(crate) struct ResumeArgs {
    /// Name of the virtual cluster
    #[arg(add = complete::vcluster_names())]
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    #[command(flatten)]
    pub(crate) output: JsonOutput,
    #[command(flatten)]
    pub(crate) host: HostArgs,
}

pub(crate) fn run(args: ResumeArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let kubeconfig = host::start(&args.name, ctx)?;
    let printer = &ctx.printer;
    let outcome = ctx.block_on(async {
        let (host, vcluster) = host::target(ctx, &kubeconfig, &args.name).await?;
        let (name, ns) = (vcluster.name.clone(), vcluster.namespace.clone());
        let interrupt = ctx.interrupt()?;
        let progress = printer.progress(&format!("Resuming vcluster {name} in namespace {ns}"));
        let outcome = pause::resume(&host, &vcluster, args.wait.wait(), &interrupt, &progress)
            .await
            .map_err(|e| e.into_report(&name, &ns))?;
        progress.finish();
        Ok::<_, anyhow::Error>(outcome)
    })??;
    ctx.print_json(&outcome)?;
    let (name, ns) = (&outcome.name, &outcome.namespace);
    if !outcome.changed {
        printer.info(format!("vcluster {name} in namespace {ns} is not paused; nothing to resume"));
    } else {
        let waited = if outcome.waited == Some(true) { "it is ready" } else { "not waiting until it is ready" };
        let replicas = plural(outcome.replicas.max(0) as usize, "replica");
        printer.success(format!("Resumed vcluster {name} in namespace {ns} ({replicas}); {waited}"));
    }
    Ok(ExitStatus::Success)
}
