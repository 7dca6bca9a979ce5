//! `vcluster create NAME`: install or upgrade a virtual cluster, wait until it works.
//!
//! Reads and validates every input first (name, flags, values files, `--set*`), then hands the
//! run to [`crate::install`]; prints progress on stderr and, with `-o json`, one result object on
//! stdout.

use std::time::Duration;

use clap::Args;

use crate::access::connect;
use crate::cluster::{Connection, Host};
use crate::context::Context;
use crate::context::args::{HostArgs, JsonOutput, ValuesArgs, check_name, parse_duration, values_error};
use crate::context::host::{load_kubeconfig, namespace_for};
use crate::error::{Advice, ExitStatus, Hinted};
use crate::install::{self, InstallError, Options, Outcome, Request};
use crate::interrupt::Interrupt;
use crate::{kubeconfig, values};

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster create my-vcluster -f examples/networking.yaml\n",
    "  vcluster create my-vcluster --upgrade -f examples/networking.yaml\n",
    "  vcluster create my-vcluster --upgrade --reuse-values --set sync.ingresses.enabled=true --dry-run\n",
    "  vcluster create my-vcluster --upgrade --rollback-on-failure --timeout 5m",
);

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Name of the virtual cluster (a DNS-1035 label of at most 51 characters)
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) values: ValuesArgs,
    /// Upgrade the virtual cluster if it exists already
    #[arg(long)]
    pub(crate) upgrade: bool,
    /// On upgrade, start from the values of the deployed release (the image and service CIDR
    /// recorded then included) and lay this run's values over them
    #[arg(long)]
    pub(crate) reuse_values: bool,
    /// Connect to the virtual cluster afterwards (`--connect=false` to skip; default: at a terminal)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) connect: Option<bool>,
    /// Name of the kube context `connect` creates
    #[arg(long, value_name = "NAME")]
    pub(crate) kube_config_context_name: Option<String>,
    /// Wait until the virtual cluster works (default)
    #[arg(long, overrides_with = "no_wait")]
    pub(crate) wait: bool,
    /// Return once everything is applied
    #[arg(long, overrides_with = "wait")]
    pub(crate) no_wait: bool,
    /// Bound for the whole command, its wait for the virtual cluster (and a terminating namespace)
    /// included: 90s, 10m, 1h
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
    /// On failure, remove a failed install, or roll a failed upgrade back to the last good revision
    #[arg(long, visible_alias = "atomic")]
    pub(crate) rollback_on_failure: bool,
    /// Adopt existing objects that belong to another release or to none
    #[arg(long)]
    pub(crate) take_ownership: bool,
    /// Take fields over from field managers outside this release when they conflict
    #[arg(long)]
    pub(crate) force_conflicts: bool,
    /// When the upgrade changes StatefulSet fields Kubernetes does not allow to change (storage.*):
    /// delete the StatefulSet, its pods and claims kept, and create it again
    #[arg(long)]
    pub(crate) recreate_statefulset: bool,
    /// Clear the lock a killed create/upgrade left (a pending revision), after showing who held it
    #[arg(long)]
    pub(crate) force_unlock: bool,
    /// Show what would change (server-side dry run and a diff per object); change nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Release revisions to keep (0: all)
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) history_max: usize,
    #[command(flatten)]
    pub(crate) refused: RefusedArgs,
    #[command(flatten)]
    pub(crate) output: JsonOutput,
    #[command(flatten)]
    pub(crate) host: HostArgs,
}

/// Chart-source flags of the established CLI, which this one (rendering its own embedded chart)
/// refuses with a hint instead of silently ignoring.
#[derive(Debug, Default, Args)]
pub(crate) struct RefusedArgs {
    #[arg(long, hide = true)]
    pub(crate) chart_version: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) chart_repo: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) chart_name: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) local_chart_dir: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) distro: Option<String>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub(crate) expose_local: Option<bool>,
}

impl RefusedArgs {
    fn check(&self) -> Result<(), Hinted> {
        let embedded = format!(
            "this CLI renders its own embedded chart ({} {}); install the CLI release whose chart you want",
            crate::CHART_NAME,
            crate::CHART_VERSION
        );
        let refuse = |flag: &str, hint: &str| Err(Hinted::new(format!("{flag} is not supported")).hint(hint));
        if self.chart_version.is_some() {
            return refuse("--chart-version", &embedded);
        }
        if self.chart_repo.is_some() || self.chart_name.is_some() || self.local_chart_dir.is_some() {
            let flag = if self.chart_repo.is_some() {
                "--chart-repo"
            } else if self.chart_name.is_some() {
                "--chart-name"
            } else {
                "--local-chart-dir"
            };
            return refuse(flag, &format!("{embedded}, or install another chart with helm"));
        }
        if let Some(distro) = self.distro.as_deref().filter(|d| *d != "k3s") {
            return refuse(
                &format!("--distro {distro}"),
                "only k3s is supported; pick the Kubernetes version with --kubernetes-version or vcluster.image",
            );
        }
        if self.expose_local == Some(true) {
            return refuse(
                "--expose-local",
                "set service.type: NodePort in the values (and reach the node port yourself), or use --expose",
            );
        }
        Ok(())
    }
}

pub(crate) fn run(args: CreateArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    check_name(&args.name)?;
    args.refused.check()?;
    let (layers, notes) = args.values.layers()?;
    let loaded = values::load(&layers).map_err(values_error)?;
    if let Some(warning) = loaded.unsupported_warning() {
        ctx.printer.warn(warning);
    }
    for note in notes {
        ctx.printer.warn(note);
    }

    let kubeconfig = load_kubeconfig(ctx)?;
    let context_ns = kubeconfig::context_namespace(&kubeconfig, ctx.global.context.as_deref());
    let namespace = namespace_for(ctx, context_ns.as_deref(), &args.name)?;

    let request = Request {
        name: args.name.clone(),
        namespace: namespace.clone(),
        layers,
        options: Options {
            upgrade: args.upgrade,
            reuse_values: args.reuse_values,
            dry_run: args.dry_run,
            wait: !args.no_wait,
            timeout: args.timeout,
            deadline: tokio::time::Instant::now() + args.timeout,
            rollback_on_failure: args.rollback_on_failure,
            take_ownership: args.take_ownership,
            force_conflicts: args.force_conflicts,
            force_unlock: args.force_unlock,
            recreate_statefulset: args.recreate_statefulset,
            history_max: args.history_max,
        },
    };
    let printer = ctx.printer.clone();
    let started = tokio::time::Instant::now();
    let result = ctx.block_on(async {
        let cluster = Connection::connect(
            &kubeconfig,
            ctx.global.context.as_deref(),
            Some(&namespace),
            ctx.global.request_timeout,
        )
        .await
        .map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
        let on_signal = printer.clone();
        let interrupt = Interrupt::install(move || {
            on_signal
                .warn("interrupted: stopping and recording the revision as failed (interrupt again to exit at once)")
        })?;
        let host = Host::new(cluster);
        Ok::<_, anyhow::Error>(
            bounded(install::run(&host, &request, &printer, &interrupt), &interrupt, started, args.timeout).await,
        )
    })??;
    // A person at a terminal connects by default; scripts only when they ask. Either way in the
    // background: create returns.
    let connect = args.connect.unwrap_or(ctx.printer.is_interactive());
    let connect_hint = connect_command(&args, &namespace);
    let context_name = args.kube_config_context_name.as_deref();
    match result {
        Ok(outcome) if connect && !outcome.dry_run => {
            report(ctx, &outcome, None)?;
            connect::after_create(ctx, &kubeconfig, &args.name, &namespace, context_name, args.timeout)
        }
        Ok(outcome) => report(ctx, &outcome, Some(&connect_hint)),
        Err(InstallError::Exists { .. }) if connect => {
            // As the established CLI: an existing vcluster is connected to instead.
            ctx.printer.info(format!(
                "vcluster {} already exists in namespace {namespace}; nothing was changed, connecting to it",
                args.name
            ));
            connect::after_create(ctx, &kubeconfig, &args.name, &namespace, context_name, args.timeout)
        }
        Err(e) => Err(e.into_report(&args.name, &namespace)),
    }
}

/// How long a run stopped at the deadline gets to record its revision failed before it is cut off.
const RECORD_GRACE: Duration = Duration::from_secs(5);

/// `--timeout` bounds the whole command: at the deadline the run is asked to stop as an interrupt
/// asks (it starts no new request and records the revision failed), and a run that does not stop
/// within [`RECORD_GRACE`] is cut off. Either way the error is the timeout, not an interrupt.
async fn bounded(
    run: impl std::future::Future<Output = Result<Outcome, InstallError>>,
    interrupt: &Interrupt,
    started: tokio::time::Instant,
    timeout: Duration,
) -> Result<Outcome, InstallError> {
    let deadline = started + timeout;
    let timed_out = || {
        InstallError::from(crate::cluster::HostError::Timeout {
            what: "vcluster create to finish".into(),
            waited: timeout,
            stuck: "--timeout bounds the whole command (the cluster answered too slowly, or not at all)".into(),
        })
    };
    tokio::pin!(run);
    tokio::select! {
        result = &mut run => return result,
        // A moment after the deadline: the wait's own timeout, which names what is stuck, comes first.
        _ = tokio::time::sleep_until(deadline + Duration::from_millis(500)) => interrupt.trigger(),
    }
    match tokio::time::timeout(RECORD_GRACE, run).await {
        Ok(Err(e)) if e.is_interrupted() => Err(timed_out()),
        Ok(result) => result,
        Err(_) => Err(timed_out()),
    }
}

fn connect_command(args: &CreateArgs, namespace: &str) -> String {
    let context = args.kube_config_context_name.as_deref().map(|c| format!(" --kube-config-context-name {c}"));
    format!("vcluster connect {} -n {namespace}{}", args.name, context.unwrap_or_default())
}

/// The result; `connect_hint` says how to connect when create does not.
fn report(ctx: &Context, outcome: &Outcome, connect_hint: Option<&str>) -> anyhow::Result<ExitStatus> {
    if !ctx.print_json(outcome)? && outcome.dry_run {
        let mut text = String::new();
        for o in &outcome.objects {
            text.push_str(&format!("{} {}/{}\n", o.action, o.kind, o.name));
            if let Some(diff) = &o.diff {
                text.push_str(diff);
            }
        }
        ctx.printer.data(text.as_bytes())?;
    }
    if outcome.dry_run {
        ctx.printer.info(format!("dry run: nothing was changed ({} would {})", outcome.name, outcome.action));
        return Ok(ExitStatus::Success);
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for o in &outcome.objects {
        match counts.iter_mut().find(|(a, _)| *a == o.action) {
            Some((_, n)) => *n += 1,
            None => counts.push((o.action.clone(), 1)),
        }
    }
    let summary: Vec<String> = counts.iter().map(|(a, n)| format!("{n} {a}")).collect();
    let verb = if outcome.action == "install" { "Created" } else { "Upgraded" };
    ctx.printer.success(format!(
        "{verb} vcluster {} in namespace {} (revision {}; {})",
        outcome.name,
        outcome.namespace,
        outcome.revision.unwrap_or_default(),
        summary.join(", ")
    ));
    if let Some(hint) = connect_hint {
        ctx.printer.info(format!("- Use `{hint}` to access the virtual cluster"));
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_source_flags_are_refused_with_hints() {
        assert!(RefusedArgs::default().check().is_ok());
        let k3s = RefusedArgs { distro: Some("k3s".into()), expose_local: Some(false), ..Default::default() };
        assert!(k3s.check().is_ok());
        let err = RefusedArgs { chart_version: Some("0.19.7".into()), ..Default::default() }.check().unwrap_err();
        assert_eq!(err.to_string(), "--chart-version is not supported");
        assert!(err.hints()[0].contains("embedded chart"));
        let err = RefusedArgs { distro: Some("k0s".into()), ..Default::default() }.check().unwrap_err();
        assert_eq!(err.to_string(), "--distro k0s is not supported");
        let err = RefusedArgs { expose_local: Some(true), ..Default::default() }.check().unwrap_err();
        assert!(err.hints()[0].contains("NodePort"));
    }
}
