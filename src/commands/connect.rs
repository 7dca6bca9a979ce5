//! `vcluster connect NAME`: reach a virtual cluster, and return ([`crate::access::connect`]).
//!
//! This file turns the flags into a [`Request`]; with `-- CMD`, a failure to connect exits 125, so
//! the command's own statuses stay distinguishable.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

use crate::access::connect::{self, Destination, ForwardMode, Output, Request};
use crate::access::service_account;
use crate::context::Context;
use crate::context::args::{HostArgs, check_name, parse_duration};
use crate::context::complete;
use crate::context::host::load_kubeconfig;
use crate::error::{self, ExitStatus};
use crate::forward;

/// Exit status when connecting itself failed in `connect NAME -- CMD` (like `env`, `nice`, `timeout`).
const CONNECT_FAILED: u8 = 125;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster connect my-vcluster\n",
    "  vcluster connect my-vcluster -- kubectl apply -f app.yaml\n",
    "  vcluster connect my-vcluster --print\n",
    "  vcluster connect my-vcluster --service-account ci --cluster-role view -- kubectl get pods -A",
);

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// Name of the virtual cluster
    #[arg(add = complete::vcluster_names())]
    pub(crate) name: String,
    /// Run COMMAND with KUBECONFIG set to a temporary kubeconfig for the virtual cluster (through a
    /// port-forward in this process), then exit with its status
    #[arg(last = true, value_name = "COMMAND", conflicts_with_all = ["print", "kube_config", "foreground"])]
    pub(crate) command: Vec<OsString>,
    /// Name of the kube context to add (default: vcluster_<name>_<namespace>_<host context>)
    #[arg(long, value_name = "NAME")]
    pub(crate) kube_config_context_name: Option<String>,
    /// Switch the current context to the virtual cluster (`--update-current=false` only adds it)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub(crate) update_current: bool,
    /// Print a kubeconfig for the virtual cluster on stdout (and nothing else); your kubeconfig is
    /// left alone
    #[arg(long, conflicts_with_all = ["kube_config", "foreground"])]
    pub(crate) print: bool,
    /// Write the virtual cluster's kubeconfig to FILE (mode 0600, atomically) instead of merging it
    /// into yours (`--kubeconfig` selects the host cluster's)
    #[arg(long, value_name = "FILE")]
    pub(crate) kube_config: Option<PathBuf>,
    /// Reach the virtual cluster's API at URL instead of a port-forward (checked before anything is
    /// written)
    #[arg(long, value_name = "URL", conflicts_with_all = ["foreground", "local_port"])]
    pub(crate) server: Option<String>,
    /// Keep the port-forward in this process until Ctrl-C, which also switches back and removes
    /// the added context
    #[arg(long)]
    pub(crate) foreground: bool,
    /// Local port of the port-forward (default: a free one)
    #[arg(long, value_name = "PORT")]
    pub(crate) local_port: Option<u16>,
    /// Local addresses of the port-forward (comma-separated IPs, or localhost)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub(crate) address: String,
    /// Authenticate with a token of this service account of the virtual cluster
    /// ([NAMESPACE/]NAME; namespace kube-system by default) instead of the admin certificate
    #[arg(long, value_name = "[NAMESPACE/]NAME")]
    pub(crate) service_account: Option<String>,
    /// With --service-account: create the account when missing and bind it to this cluster role
    #[arg(long, requires = "service_account", value_name = "ROLE")]
    pub(crate) cluster_role: Option<String>,
    /// With --service-account: the token's lifetime in seconds (0: ten years)
    #[arg(long, requires = "service_account", default_value_t = 0, value_name = "SECONDS")]
    pub(crate) token_expiration: i64,
    /// Do not verify the virtual cluster's serving certificate
    #[arg(long)]
    pub(crate) insecure: bool,
    /// How long to wait for the virtual cluster to work (resuming it, pod Ready, credentials)
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
    #[command(flatten)]
    pub(crate) host: HostArgs,
}

fn request(args: ConnectArgs) -> anyhow::Result<Request> {
    check_name(&args.name)?;
    forward::parse_addresses(&args.address).map_err(|e| anyhow::anyhow!("--address {}: {e}", args.address))?;
    let output = if !args.command.is_empty() {
        Output::Command(args.command)
    } else if args.print {
        Output::Write(Destination::Print)
    } else if let Some(file) = args.kube_config {
        Output::Write(Destination::File(file))
    } else {
        Output::Write(Destination::Merge { switch: args.update_current })
    };
    let service_account = match args.service_account {
        Some(text) => Some((
            service_account::Account::parse(&text).map_err(anyhow::Error::msg)?,
            args.cluster_role,
            args.token_expiration,
        )),
        None => None,
    };
    let forward = if args.foreground || matches!(output, Output::Command(_)) {
        ForwardMode::Foreground
    } else {
        ForwardMode::Background
    };
    Ok(Request {
        name: args.name,
        namespace: None,
        context_name: args.kube_config_context_name,
        output,
        forward,
        server: args.server.map(|s| normalize_server(&s)),
        address: args.address,
        local_port: args.local_port.unwrap_or(0),
        service_account,
        insecure: args.insecure,
        timeout: args.timeout,
    })
}

/// `--server host:port` means `https://host:port`, as in the established CLI.
fn normalize_server(server: &str) -> String {
    let trimmed = server.trim_end_matches('/');
    if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
        trimmed.to_owned()
    } else {
        format!("https://{trimmed}")
    }
}

pub(crate) fn run(args: ConnectArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let command_mode = !args.command.is_empty();
    let result = request(args).and_then(|request| connect::run(ctx, &load_kubeconfig(ctx)?, &request));
    match result {
        // `connect -- CMD`: our own failure is 125, so the command's statuses stay distinguishable.
        Err(err) if command_mode && error::exit_status_of(&err) == ExitStatus::Failure => {
            ctx.printer.error_report(&error::format_report(&err, ctx.printer.config().debug));
            Ok(ExitStatus::External(CONNECT_FAILED))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_get_a_scheme() {
        assert_eq!(normalize_server("vc.example.com:443/"), "https://vc.example.com:443");
        assert_eq!(normalize_server("https://10.0.0.1"), "https://10.0.0.1");
    }
}
