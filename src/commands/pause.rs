//! `vcluster pause NAME` (`sleep`): scale the virtual cluster down to nothing, keeping its data
//! (see [`crate::lifecycle::pause`]).

use std::time::Duration;

use clap::Args;

use crate::context::Context;
use crate::context::args::{HostArgs, JsonOutput, parse_duration};
use crate::context::complete;
use crate::context::host;
use crate::error::{Advice, ExitStatus};
use crate::lifecycle::{leave_contexts, pause};
use crate::printer::text::plural;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster pause my-vcluster   # scale it to nothing, keeping its data\n",
    "  vcluster pause my-vcluster -n team -o json",
);

#[derive(Debug, Args)]
pub(crate) struct PauseArgs {
    /// Name of the virtual cluster
    #[arg(add = complete::vcluster_names())]
    pub(crate) name: String,
    /// How long to wait for the pods to stop: 90s, 10m, 1h
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
    #[command(flatten)]
    pub(crate) output: JsonOutput,
    #[command(flatten)]
    pub(crate) host: HostArgs,
}

pub(crate) fn run(args: PauseArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let kubeconfig = host::start(&args.name, ctx)?;
    let printer = &ctx.printer;
    let (outcome, left) = ctx.block_on(async {
        let (host, vcluster) = host::target(ctx, &kubeconfig, &args.name).await?;
        let (name, ns) = (vcluster.name.clone(), vcluster.namespace.clone());
        let interrupt = ctx.interrupt()?;
        // A paused vcluster is not paused again: no "Pausing…" for it.
        let verb = if vcluster.paused() { "Checking" } else { "Pausing" };
        let progress = printer.progress(&format!("{verb} vcluster {name} in namespace {ns}"));
        let outcome = pause::pause(&host, &vcluster, args.timeout, &interrupt, &progress)
            .await
            .map_err(|e| e.into_report(&name, &ns))?;
        progress.finish();
        // A paused vcluster answers nobody: the current context goes back to the host's.
        let left = leave_contexts(kubeconfig.sources(), &name, &ns, &host.connection.context, true)
            .await
            .map_err(|e| e.into_report(&name, &ns))?;
        Ok::<_, anyhow::Error>((outcome, left))
    })??;
    ctx.print_json(&outcome)?;
    let (name, ns) = (&outcome.name, &outcome.namespace);
    if let Some(current) = &left.switched_to {
        printer.info(format!("switched the current kube context to {current}"));
    }
    match (outcome.changed, outcome.replicas) {
        (true, _) => printer.success(format!(
            "Paused vcluster {name} in namespace {ns} ({} recorded, {} deleted)",
            plural(outcome.replicas.max(0) as usize, "replica"),
            plural(outcome.workload_pods_deleted.unwrap_or(0), "workload pod")
        )),
        (false, 0) => printer
            .info(format!("vcluster {name} in namespace {ns} runs 0 replicas without being paused; nothing to pause")),
        (false, _) => printer.info(format!("vcluster {name} in namespace {ns} is already paused")),
    }
    printer.info(format!("- Use `vcluster resume {name} -n {ns}` to resume it"));
    Ok(ExitStatus::Success)
}
