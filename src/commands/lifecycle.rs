//! What `delete`, `pause` and `resume` share: their waiting flags, and the steps before their
//! first request (the name checked, the kubeconfig read) and after their last (the result).

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::cli::{Context, OutputFormat};
use crate::commands::create::parse_duration;
use crate::commands::render::load_kubeconfig;
use crate::error::Hinted;
use crate::find::{self, Scope};
use crate::install::Host;
use crate::interrupt::Interrupt;
use crate::kubeconfig::Loaded;

/// `--wait[=BOOL]` / `--no-wait` and `--timeout`.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        conflicts_with = "no_wait"
    )]
    pub wait: Option<bool>,
    /// Return without waiting
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait: 90s, 10m, 1h
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

impl WaitArgs {
    /// The bound of the wait, or `None` for no wait.
    pub fn wait(&self) -> Option<Duration> {
        (!self.no_wait && self.wait != Some(false)).then_some(self.timeout)
    }
}

/// Everything before the first request: the name checked, the kubeconfig read.
pub fn start(name: &str, ctx: &Context) -> anyhow::Result<Loaded> {
    if let Some(problem) = find::name_problem(name) {
        anyhow::bail!("invalid vcluster name: {problem}");
    }
    load_kubeconfig(ctx)
}

/// `-n`, else every namespace.
pub fn scope(ctx: &Context) -> Scope {
    Scope::from_flag(ctx.global.namespace.as_deref())
}

/// The host cluster (see [`find::connect_host`]).
pub async fn host(ctx: &Context, kubeconfig: &Loaded) -> anyhow::Result<Host> {
    let cluster =
        find::connect_host(kubeconfig, ctx.global.context.as_deref(), ctx.global.namespace.as_deref(), &ctx.printer)
            .await
            .map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
    Ok(Host::new(cluster))
}

/// SIGINT/SIGTERM: the first stops the operation before its next request (exit 130), the
/// second exits at once.
pub fn interrupt(ctx: &Context) -> anyhow::Result<Interrupt> {
    let printer = ctx.printer.clone();
    Ok(Interrupt::install(move || printer.warn("interrupted: stopping (interrupt again to exit at once)"))?)
}

/// With `-o json`, the result as one JSON object on stdout; `true` when printed.
pub fn print_json<T: Serialize>(ctx: &Context, value: &T) -> anyhow::Result<bool> {
    if ctx.output != Some(OutputFormat::Json) {
        return Ok(false);
    }
    ctx.printer.data((serde_json::to_string_pretty(value)? + "\n").as_bytes())?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        wait: WaitArgs,
    }

    fn wait(args: &[&str]) -> Option<Duration> {
        Cmd::try_parse_from(std::iter::once("x").chain(args.iter().copied())).unwrap().wait.wait()
    }

    #[test]
    fn waiting_is_the_default_and_can_be_turned_off_either_way() {
        assert_eq!(wait(&[]), Some(Duration::from_secs(600)));
        assert_eq!(wait(&["--wait", "--timeout", "90s"]), Some(Duration::from_secs(90)));
        assert_eq!(wait(&["--wait=true"]), Some(Duration::from_secs(600)));
        assert_eq!(wait(&["--wait=false"]), None);
        assert_eq!(wait(&["--no-wait"]), None);
        assert!(Cmd::try_parse_from(["x", "--wait", "--no-wait"]).is_err());
    }
}
