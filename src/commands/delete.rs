//! `vcluster delete NAME` (`rm`): remove a virtual cluster and exactly what belongs to it (see
//! [`crate::lifecycle::uninstall`]), after a confirmation at a terminal (`--yes` without one).

use clap::Args;

use crate::context::Context;
use crate::context::args::{HostArgs, JsonOutput, WaitArgs};
use crate::context::complete;
use crate::context::host;
use crate::error::{Advice, ExitStatus, Hinted};
use crate::find::{self, FindError};
use crate::interrupt::Interrupt;
use crate::lifecycle::uninstall::{self, Local, NamespaceFate, Options, Outcome};

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster delete my-vcluster --yes                           # CI: no prompt\n",
    "  vcluster delete my-vcluster -n team --keep-pvc -y           # keep the data for a later create\n",
    "  vcluster delete my-vcluster -y --ignore-not-found -o json   # what went, as JSON",
);

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Name of the virtual cluster
    #[arg(add = complete::vcluster_names())]
    pub(crate) name: String,
    /// Delete the host namespace too, unless another vcluster lives there (default: only when
    /// vcluster created it)
    #[arg(long, conflicts_with = "keep_pvc")]
    pub(crate) delete_namespace: bool,
    /// Keep the PersistentVolumeClaims (the virtual cluster's data), and so the namespace
    #[arg(long)]
    pub(crate) keep_pvc: bool,
    /// Exit 0 when the virtual cluster does not exist
    #[arg(long)]
    pub(crate) ignore_not_found: bool,
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    /// Delete without asking (required when stdin is not a terminal)
    #[arg(short = 'y', long)]
    pub(crate) yes: bool,
    #[command(flatten)]
    pub(crate) output: JsonOutput,
    #[command(flatten)]
    pub(crate) host: HostArgs,
}

pub(crate) fn run(args: DeleteArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let kubeconfig = host::start(&args.name, ctx)?;
    let opts = Options {
        keep_pvc: args.keep_pvc,
        delete_namespace: args.delete_namespace,
        wait: args.wait.wait().is_some(),
        timeout: args.wait.timeout,
    };
    let printer = &ctx.printer;
    let outcome = ctx.block_on(async {
        let host = host::host(ctx, &kubeconfig).await?;
        let vcluster = match find::find(&host.connection, &args.name, &host::scope(ctx), printer).await {
            Ok(v) => v,
            Err(FindError::NotFound { .. }) if args.ignore_not_found => {
                printer.info(format!("vcluster {} not found; nothing to delete (--ignore-not-found)", args.name));
                return Ok(Outcome::not_found(&args.name));
            }
            Err(e) => return Err(anyhow::Error::new(Hinted::from(e))),
        };
        let (name, ns) = (vcluster.name.clone(), vcluster.namespace.clone());
        // Reads only: an interrupt before the confirmation ends the process as usual.
        let prepared = uninstall::prepare(&host, vcluster, &opts, printer, &Interrupt::manual())
            .await
            .map_err(|e| e.into_report(&name, &ns))?;
        let what = format!("deleting vcluster {name} in namespace {ns}");
        let prompt = format!(
            "Delete vcluster {name} in namespace {ns} (context {})? This deletes {}",
            host.connection.context,
            prepared.summary()
        );
        if !printer.confirm(&what, &prompt)? {
            anyhow::bail!("not confirmed: vcluster {name} was not deleted");
        }
        if let NamespaceFate::Keep { reason } = &prepared.namespace {
            printer.info(format!("namespace {ns} stays: {reason}"));
        }
        let interrupt = ctx.interrupt()?;
        let local =
            Local { kubeconfig: Some(kubeconfig.sources().clone()), host_context: host.connection.context.clone() };
        let progress = printer.progress(&format!("Deleting vcluster {name} in namespace {ns}"));
        let outcome = uninstall::execute(&host, &prepared, &opts, &local, &interrupt, &progress)
            .await
            .map_err(|e| e.into_report(&name, &ns))?;
        progress.finish();
        Ok(outcome)
    })??;
    report(ctx, &outcome)
}

fn report(ctx: &Context, outcome: &Outcome) -> anyhow::Result<ExitStatus> {
    ctx.print_json(outcome)?;
    let printer = &ctx.printer;
    let Some(ns) = &outcome.namespace else { return Ok(ExitStatus::Success) };
    for context in &outcome.contexts_removed {
        printer.info(format!("removed kube context {context}"));
    }
    if let Some(current) = &outcome.switched_to {
        printer.info(format!("switched the current kube context to {current}"));
    }
    let count = |action: &str| outcome.objects.iter().filter(|o| o.action == action).count();
    let namespace_gone = outcome.objects.iter().any(|o| o.kind == "Namespace" && o.action == "deleted");
    printer.success(format!(
        "Deleted vcluster {} in namespace {ns} ({} objects deleted{}{}){}",
        outcome.name,
        count("deleted"),
        match count("kept") {
            0 => String::new(),
            n => format!(", {n} kept"),
        },
        if namespace_gone { ", the namespace included" } else { "" },
        if outcome.waited { "" } else { "; not waiting until everything is gone" }
    ));
    for leftover in &outcome.leftovers {
        printer.warn(format!(
            "left behind: {}/{} in namespace {ns} (labelled {})",
            leftover.kind, leftover.name, leftover.label
        ));
    }
    Ok(ExitStatus::Success)
}
