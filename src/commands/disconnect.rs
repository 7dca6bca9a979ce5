//! `vcluster disconnect`: leave a vcluster's context — switch back to the context that was current
//! before `connect` (recorded in the context's `vcluster.loft.sh/connect` extension, so any context
//! name works and the state directory is not needed; a context of the established CLI is read from
//! its name), stop the vcluster's background port-forward, and remove the entries `connect` added
//! unless `--keep-context`. `--context` names the vcluster context to leave (default: the current).

use clap::Args;

use crate::context::Context;
use crate::context::args::KubeconfigArgs;
use crate::error::{ExitStatus, Hinted};
use crate::forward::ForwardError;
use crate::forward::background::{self, Stopped};
use crate::forward::registry::ForwarderKey;
use crate::kubeconfig::{self, ConnectRecord, KubeconfigError, Sources};
use crate::printer::Printer;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster disconnect                  # back to the previous context; the port-forward stops\n",
    "  vcluster disconnect --keep-context   # keep the vcluster's context for later",
);

#[derive(Debug, Args)]
pub(crate) struct DisconnectArgs {
    /// Keep the vcluster's context, cluster and user entries (only switch back and stop the
    /// port-forward)
    #[arg(long)]
    pub(crate) keep_context: bool,
    #[command(flatten)]
    pub(crate) kubeconfig: KubeconfigArgs,
}

pub(crate) fn run(args: DisconnectArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let sources = Sources::from_env(ctx.global.kubeconfig.as_deref());
    let mut planned = None;
    kubeconfig::modify::<KubeconfigError>(&sources, |loaded| {
        let plan = kubeconfig::disconnect(loaded, ctx.global.context.as_deref(), args.keep_context)?;
        let edits = plan.edits.clone();
        planned = Some(plan);
        Ok(edits)
    })
    .map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
    let plan = planned.expect("planned inside modify");
    let record = &plan.record;
    match &plan.switch_to {
        Some(previous) => ctx.printer.success(format!(
            "Disconnected from vcluster {} (namespace {}) and switched back to context {previous}",
            record.vcluster, record.namespace
        )),
        None => ctx.printer.success(format!(
            "Disconnected from vcluster {} (namespace {}); no previous context exists, so none is current",
            record.vcluster, record.namespace
        )),
    }
    if !args.keep_context {
        ctx.printer.info(format!("Removed kube context {}", plan.context));
    }
    stop_forwarder(&ctx.printer, record);
    Ok(ExitStatus::Success)
}

/// Stop the background port-forward of the vcluster a record names (if one runs); problems with
/// the state directory are warnings, never a failure of what already succeeded.
fn stop_forwarder(printer: &Printer, record: &ConnectRecord) {
    let key = ForwarderKey::new(&record.host_context, &record.namespace, &record.vcluster);
    match background::stop(&key) {
        Ok(Stopped::Stopped(forwarder)) => printer
            .info(format!("Stopped the port-forward {}:{} (pid {})", forwarder.address, forwarder.port, forwarder.pid)),
        Ok(Stopped::NoForwarder) => {}
        Err(ForwardError::Stop { source, .. }) => {
            printer.warn(format!("cannot stop the background port-forward: {source}"))
        }
        Err(e) => printer.warn(format!("cannot stop the background port-forward: {e}")),
    }
}
