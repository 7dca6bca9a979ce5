//! `vcluster connect NAME`: reach a virtual cluster, and return.
//!
//! Finds the vcluster (resuming it when paused), waits until it works, reads its credentials, picks
//! a route to its API — `--server`, a LoadBalancer with an address, else a port-forward (a detached
//! background forwarder by default, this process with `--foreground` or `-- CMD`) — checks that the
//! API answers there, and only then writes: the user's kubeconfig (merged as client-go does, the
//! previous context recorded in the new one), `--kube-config FILE`, `--print` on stdout, or a
//! temporary kubeconfig for `-- CMD`. It never blocks unless asked to (`--foreground`, `-- CMD`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args};
use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;
use tokio_util::sync::CancellationToken;

use crate::access::{self, Exposure, FORWARD_ANSWER_TIMEOUT, URL_ANSWER_TIMEOUT, service_account};
use crate::cli::Context;
use crate::cluster::Cluster;
use crate::commands::create::parse_duration;
use crate::commands::render::load_kubeconfig;
use crate::error::{ExitStatus, Hinted, Interrupted};
use crate::find::{self, Scope};
use crate::forward::registry::{ForwarderKey, ForwarderRecord, Registry};
use crate::forward::{self, Forward, Listener, Log, PodPort, Pods, forwarder};
use crate::install::Host;
use crate::install::wait::{self, Target};
use crate::interrupt::Interrupt;
use crate::kubeconfig::{self, ConnectRecord, KubeconfigError, Loaded, Sources, VclusterCredentials};
use crate::lifecycle::{LifecycleError, pause};
use crate::printer::Printer;
use crate::state::StateDir;

/// Exit status when connecting itself failed in `connect NAME -- CMD` (like `env`, `nice`, `timeout`).
const CONNECT_FAILED: u8 = 125;
/// The command was found but could not be run.
const NOT_EXECUTABLE: u8 = 126;
const NOT_FOUND: u8 = 127;
/// How long a command gets to exit after the forward died and it was sent SIGTERM.
const COMMAND_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Name of the virtual cluster
    pub name: String,
    /// Run COMMAND with KUBECONFIG set to a temporary kubeconfig for the virtual cluster (through a
    /// port-forward in this process), then exit with its status
    #[arg(last = true, value_name = "COMMAND", conflicts_with_all = ["print", "kube_config", "foreground"])]
    pub command: Vec<OsString>,
    /// Name of the kube context to add (default: vcluster_<name>_<namespace>_<host context>)
    #[arg(long, value_name = "NAME")]
    pub kube_config_context_name: Option<String>,
    /// Switch the current context to the virtual cluster (`--update-current=false` only adds it)
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_value_t = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub update_current: bool,
    /// Print a kubeconfig for the virtual cluster on stdout (and nothing else); your kubeconfig is
    /// left alone
    #[arg(long, conflicts_with_all = ["kube_config", "foreground"])]
    pub print: bool,
    /// Write the virtual cluster's kubeconfig to FILE (mode 0600, atomically) instead of merging it
    /// into yours (`--kubeconfig` selects the host cluster's)
    #[arg(long, value_name = "FILE")]
    pub kube_config: Option<PathBuf>,
    /// Reach the virtual cluster's API at URL instead of a port-forward (checked before anything is
    /// written)
    #[arg(long, value_name = "URL", conflicts_with_all = ["foreground", "local_port"])]
    pub server: Option<String>,
    /// Keep the port-forward in this process until Ctrl-C, which also switches back and removes
    /// the added context
    #[arg(long)]
    pub foreground: bool,
    /// Local port of the port-forward (default: a free one)
    #[arg(long, value_name = "PORT")]
    pub local_port: Option<u16>,
    /// Local addresses of the port-forward (comma-separated IPs, or localhost)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub address: String,
    /// Authenticate with a token of this service account of the virtual cluster
    /// ([NAMESPACE/]NAME; namespace kube-system by default) instead of the admin certificate
    #[arg(long, value_name = "[NAMESPACE/]NAME")]
    pub service_account: Option<String>,
    /// With --service-account: create the account when missing and bind it to this cluster role
    #[arg(long, requires = "service_account", value_name = "ROLE")]
    pub cluster_role: Option<String>,
    /// With --service-account: the token's lifetime in seconds (0: ten years)
    #[arg(long, requires = "service_account", default_value_t = 0, value_name = "SECONDS")]
    pub token_expiration: i64,
    /// Do not verify the virtual cluster's serving certificate
    #[arg(long)]
    pub insecure: bool,
    /// How long to wait for the virtual cluster to work (resuming it, pod Ready, credentials)
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// Where the result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    /// A kubeconfig, written once.
    Write(Destination),
    /// Run this command with a temporary kubeconfig.
    Command(Vec<OsString>),
}

/// Where the kubeconfig is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Destination {
    /// Merged into the user's kubeconfig (switching to it when `switch`).
    Merge {
        switch: bool,
    },
    Print,
    File(PathBuf),
}

/// How the port-forward runs, when one is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ForwardMode {
    Background,
    Foreground,
}

/// A connect, fully resolved from flags (or from `create`).
#[derive(Debug, Clone)]
pub struct Request {
    name: String,
    /// Where to find it (`create` knows); else `-n`, else any namespace.
    namespace: Option<String>,
    context_name: Option<String>,
    output: Output,
    forward: ForwardMode,
    server: Option<String>,
    address: String,
    local_port: u16,
    service_account: Option<(service_account::Account, Option<String>, i64)>,
    insecure: bool,
    timeout: Duration,
}

impl Request {
    /// What `create` does after installing: connect in the background, merge and switch.
    fn after_create(name: &str, namespace: &str, context_name: Option<&str>, timeout: Duration) -> Request {
        Request {
            name: name.to_owned(),
            namespace: Some(namespace.to_owned()),
            context_name: context_name.map(str::to_owned),
            output: Output::Write(Destination::Merge { switch: true }),
            forward: ForwardMode::Background,
            server: None,
            address: "127.0.0.1".into(),
            local_port: 0,
            service_account: None,
            insecure: false,
            timeout,
        }
    }

    fn from_args(args: ConnectArgs) -> anyhow::Result<Request> {
        if let Some(problem) = crate::values::check_name(&args.name) {
            anyhow::bail!("invalid vcluster name: {}", problem.message);
        }
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

pub fn run(args: ConnectArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let command_mode = !args.command.is_empty();
    let result = Request::from_args(args).and_then(|request| {
        let loaded = load_kubeconfig(ctx)?;
        ctx.block_on(async {
            let interrupt = Interrupt::manual();
            let _signals = SignalsTo::start(&interrupt)?;
            let host = host_cluster(ctx, &loaded, None).await?;
            connect(ctx, &host, &request, &interrupt).await
        })?
    });
    match result {
        // `connect -- CMD`: our own failure is 125, so the command's statuses stay distinguishable.
        Err(err) if command_mode && crate::error::exit_status_of(&err) == ExitStatus::Failure => {
            ctx.printer.error_report(&crate::error::format_report(&err));
            Ok(ExitStatus::External(CONNECT_FAILED))
        }
        other => other,
    }
}

/// `create`'s connect: in the background, merged and switched to, once the vcluster it just
/// installed (or found) in `namespace` works.
pub fn after_create(
    ctx: &Context,
    loaded: &Loaded,
    name: &str,
    namespace: &str,
    context_name: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<ExitStatus> {
    let request = Request::after_create(name, namespace, context_name, timeout);
    ctx.block_on(async {
        let interrupt = Interrupt::manual();
        let _signals = SignalsTo::start(&interrupt)?;
        let host = host_cluster(ctx, loaded, Some(namespace)).await?;
        connect(ctx, &host, &request, &interrupt).await
    })?
}

/// The host cluster: `--context`, else the current context — unless that is a vcluster's context,
/// whose host context is meant then ([`find::connect_host`]).
pub async fn host_cluster(ctx: &Context, loaded: &Loaded, namespace: Option<&str>) -> anyhow::Result<Cluster> {
    let namespace = namespace.or(ctx.global.namespace.as_deref());
    find::connect_host(loaded, ctx.global.context.as_deref(), namespace, &ctx.printer)
        .await
        .map_err(|e| anyhow::Error::new(Hinted::from(e)))
}

/// The vcluster `name` (in `-n`, else in any namespace) and its StatefulSet, as `delete` and
/// `list` find it.
pub async fn locate(
    ctx: &Context,
    host: &Cluster,
    name: &str,
    namespace: Option<&str>,
) -> anyhow::Result<(find::Vcluster, StatefulSet)> {
    let scope = Scope::from_flag(namespace.or(ctx.global.namespace.as_deref()));
    let vcluster =
        find::find(host, name, &scope, &ctx.printer).await.map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
    let Some(sts) = vcluster.statefulset.clone() else {
        let missing =
            LifecycleError::NoStatefulSet { name: vcluster.name.clone(), namespace: vcluster.namespace.clone() };
        return Err(missing.into_report(&vcluster.name, &vcluster.namespace));
    };
    Ok((vcluster, sts))
}

/// SIGINT/SIGTERM ask the running step to stop (every wait is guarded by the interrupt); unlike
/// `create`'s handler a second signal does not exit at once, so a kubeconfig write is never cut
/// short holding client-go's lock. Stopped when dropped (the command mode then takes signals over).
struct SignalsTo(tokio::task::JoinHandle<()>);

impl SignalsTo {
    fn start(interrupt: &Interrupt) -> std::io::Result<SignalsTo> {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut int, mut term) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        let interrupt = interrupt.clone();
        Ok(SignalsTo(tokio::spawn(async move {
            loop {
                tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
                interrupt.trigger();
            }
        })))
    }
}

impl Drop for SignalsTo {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Connect as `request` says, to a vcluster on `host`.
pub async fn connect(
    ctx: &Context,
    host: &Cluster,
    request: &Request,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitStatus> {
    let name = request.name.as_str();
    let (sts, credentials) = working(ctx, host, request, interrupt).await?;
    let namespace = sts.metadata.namespace.clone().unwrap_or_default();
    let context_name =
        request.context_name.clone().unwrap_or_else(|| kubeconfig::context_name(name, &namespace, &host.context));
    let route = interrupt.guard(route(ctx, host, request, &sts, &credentials, &context_name)).await??;
    let mut credentials = credentials.with_server(&route.server);
    if let Some((account, role, expiration)) = &request.service_account {
        let admin = answering(&credentials, &context_name, &route, interrupt).await?;
        let token = interrupt
            .guard(service_account::token(&admin, account, role.as_deref(), *expiration))
            .await?
            .map_err(hinted)?;
        credentials.user = serde_json::Map::from_iter([("token".to_owned(), token.into())]);
        ctx.printer.info(format!("Using a token of service account {}/{}", account.namespace, account.name));
    }
    // Nothing is written before the API has answered through the route.
    answering(&credentials, &context_name, &route, interrupt).await?;

    let record = ConnectRecord::new(name, &namespace, &host.context);
    let destination = match &request.output {
        Output::Command(command) => {
            return run_command(&ctx.printer, &credentials, &context_name, command, route.forward, interrupt).await;
        }
        Output::Write(destination) => destination,
    };
    deliver(ctx, destination, &credentials, &context_name, record)?;
    if let Some(forwarder) = &route.background {
        ctx.printer.info(format!(
            "- The port-forward {}:{} -> {name}:{} runs in the background (pid {}, log {})",
            forwarder.address,
            forwarder.port,
            forwarder.remote_port,
            forwarder.pid,
            forwarder.log.display()
        ));
    }
    match route.forward {
        Some(forward) => foreground(ctx, request, &context_name, forward, interrupt).await,
        None => Ok(ExitStatus::Success),
    }
}

/// Find the vcluster (resuming it when paused), wait until it works, read its credentials.
async fn working(
    ctx: &Context,
    host: &Cluster,
    request: &Request,
    interrupt: &Interrupt,
) -> anyhow::Result<(StatefulSet, VclusterCredentials)> {
    let name = request.name.as_str();
    let (vcluster, mut sts) = interrupt.guard(locate(ctx, host, name, request.namespace.as_deref())).await??;
    let namespace = vcluster.namespace.clone();
    let host_access = Host::new(host.clone());
    let progress = ctx.printer.progress(&format!("Waiting for vcluster {name} in namespace {namespace}"));
    if vcluster.paused() {
        progress.println(&format!("vcluster {name} is paused: resuming it"));
        pause::resume(&host_access, &vcluster, None, interrupt, &progress)
            .await
            .map_err(|e| e.into_report(name, &namespace))?;
        let api: Api<StatefulSet> = Api::namespaced(host.client.clone(), &namespace);
        sts = interrupt.guard(api.get(name)).await?.map_err(|e| anyhow::Error::new(Hinted::from(host.error(e))))?;
        ctx.printer.info(format!("Resumed vcluster {name} in namespace {namespace}"));
    }
    let target = Target { namespace: namespace.clone(), statefulset: sts.clone(), secret: access::secret_name(name) };
    wait::until_ready(&host_access, &target, request.timeout, interrupt, &progress)
        .await
        .map_err(|e| e.into_report(name, &namespace))?;
    drop(progress);
    let mut credentials = access::credentials(host, &namespace, name).await.map_err(hinted)?;
    if request.insecure {
        credentials.cluster.remove("certificate-authority-data");
        credentials.cluster.remove("certificate-authority");
        credentials.cluster.insert("insecure-skip-tls-verify".into(), true.into());
    }
    Ok((sts, credentials))
}

/// A client with `credentials`, once the virtual API has answered it through the route.
async fn answering(
    credentials: &VclusterCredentials,
    context_name: &str,
    route: &Route,
    interrupt: &Interrupt,
) -> anyhow::Result<kube::Client> {
    let client = access::client(credentials, context_name).await.map_err(hinted)?;
    interrupt
        .guard(access::check_answers(&client, context_name, &route.server, route.patience))
        .await?
        .map_err(hinted)?;
    Ok(client)
}

/// Write the kubeconfig to `destination`.
fn deliver(
    ctx: &Context,
    destination: &Destination,
    credentials: &VclusterCredentials,
    context_name: &str,
    record: ConnectRecord,
) -> anyhow::Result<()> {
    let printer = &ctx.printer;
    let yaml = || serde_saphyr::to_string(&credentials.document(context_name));
    match destination {
        Destination::Print => printer.data(yaml()?.as_bytes())?,
        Destination::File(path) => {
            kubeconfig::write_private(path, yaml()?.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            printer.success(format!("Virtual cluster kube config written to: {}", path.display()));
            let path = path.display();
            printer.info(format!("- Use `kubectl --kubeconfig {path} get namespaces` to access the vcluster"));
        }
        Destination::Merge { switch } => {
            let sources = Sources::from_env(ctx.global.kubeconfig.as_deref());
            let merged = kubeconfig::modify::<KubeconfigError>(&sources, |loaded| {
                Ok(credentials.connect_edits(loaded, context_name, record, *switch))
            })
            .map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
            if *switch {
                printer.success(format!("Switched active kube context to {context_name}"));
            } else {
                printer.success(format!("Added kube context {context_name} (the current context is unchanged)"));
            }
            printer.info("- Use `kubectl get namespaces` to access the vcluster");
            if *switch {
                let previous = ConnectRecord::of_context(&merged, context_name).and_then(|r| r.previous_context);
                let back = previous.map(|p| format!(" ({p})")).unwrap_or_default();
                printer.info(format!("- Use `vcluster disconnect` to return to your previous kube context{back}"));
            }
        }
    }
    Ok(())
}

/// `--foreground`: serve until Ctrl-C (exit 0) or until the forward dies, then undo the merge.
async fn foreground(
    ctx: &Context,
    request: &Request,
    context_name: &str,
    mut forward: InProcess,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitStatus> {
    let printer = &ctx.printer;
    printer.info("- Press Ctrl-C to stop the port-forward and return to your previous kube context");
    let died = tokio::select! {
        () = interrupt.wait() => None,
        reason = forward.died() => Some(reason),
    };
    forward.stop().await;
    if let Output::Write(Destination::Merge { .. }) = request.output {
        let sources = Sources::from_env(ctx.global.kubeconfig.as_deref());
        let left = kubeconfig::modify::<KubeconfigError>(&sources, |loaded| {
            Ok(kubeconfig::disconnect(loaded, Some(context_name), false).map(|d| d.edits).unwrap_or_default())
        });
        match left.map(|loaded| loaded.current_context().map(str::to_owned)) {
            Ok(current) => printer.info(format!(
                "Removed kube context {context_name}; the current context is {}",
                current.as_deref().unwrap_or("unset")
            )),
            Err(e) => printer.warn(format!("cannot remove kube context {context_name}: {e}")),
        }
    }
    match died {
        None => Ok(ExitStatus::Success),
        Some(reason) => Err(anyhow::anyhow!("the port-forward to vcluster {} ended: {reason}", request.name)),
    }
}

fn hinted(e: access::AccessError) -> anyhow::Error {
    anyhow::Error::new(Hinted::from(e))
}

/// How the virtual API is reached.
struct Route {
    server: String,
    /// How long the API may take to answer there.
    patience: Duration,
    /// The background forwarder serving it.
    background: Option<ForwarderRecord>,
    /// The forward running in this process.
    forward: Option<InProcess>,
}

/// The route to the virtual API: `--server`, a reachable LoadBalancer, or a port-forward (in the
/// background, or in this process).
async fn route(
    ctx: &Context,
    host: &Cluster,
    request: &Request,
    sts: &StatefulSet,
    credentials: &VclusterCredentials,
    context_name: &str,
) -> anyhow::Result<Route> {
    let namespace = sts.metadata.namespace.clone().unwrap_or_default();
    let key = ForwarderKey::new(&host.context, &namespace, &request.name);
    let remote_port = access::api_port(credentials);
    let printer = &ctx.printer;
    if let Some(server) = &request.server {
        return Ok(Route { server: server.clone(), patience: URL_ANSWER_TIMEOUT, background: None, forward: None });
    }
    if request.forward == ForwardMode::Background {
        match access::load_balancer(host, &key.namespace, &key.vcluster).await.map_err(hinted)? {
            Exposure::Address(lb) => {
                let through = credentials.clone().with_server(&lb.url);
                let reached = match access::client(&through, context_name).await {
                    Ok(client) => access::check_answers(&client, context_name, &lb.url, URL_ANSWER_TIMEOUT).await,
                    Err(e) => Err(e),
                };
                match reached {
                    Ok(()) => {
                        printer.info(format!("Using vcluster {} load balancer endpoint: {}", key.vcluster, lb.url));
                        return Ok(Route {
                            server: lb.url,
                            patience: URL_ANSWER_TIMEOUT,
                            background: None,
                            forward: None,
                        });
                    }
                    Err(e) => printer.warn(format!(
                        "LoadBalancer {} at {} is not reachable from here ({e}); using a port-forward instead",
                        lb.service, lb.url
                    )),
                }
            }
            Exposure::Pending { service } => {
                printer.info(format!("LoadBalancer {service} has no address yet; using a port-forward"))
            }
            Exposure::None => {}
        }
    }
    match request.forward {
        ForwardMode::Background => {
            let record = background(ctx, request, &key, remote_port)?;
            let server = server_url(&record.address, record.port)?;
            Ok(Route { server, patience: FORWARD_ANSWER_TIMEOUT, background: Some(record), forward: None })
        }
        ForwardMode::Foreground => {
            let addresses = forward::parse_addresses(&request.address).map_err(anyhow::Error::msg)?;
            let sockets = forward::bind(&addresses, request.local_port).await?;
            let port = sockets.first().map(|s| s.local_addr().map(|a| a.port())).transpose()?.unwrap_or_default();
            let in_process = InProcess::start(printer, host, sts, sockets, remote_port, request.timeout);
            // The command's output stays its own; --foreground shows where it listens.
            let quiet = matches!(request.output, Output::Command(_));
            for listener in &in_process.locals {
                let line = format!("Forwarding from {listener} -> {remote_port}");
                if quiet { printer.debug(line) } else { printer.info(line) }
            }
            let server = server_url(&request.address, port)?;
            Ok(Route { server, patience: FORWARD_ANSWER_TIMEOUT, background: None, forward: Some(in_process) })
        }
    }
}

/// `https://<address>:<port>` for the first local address (a wildcard one is reached on loopback).
fn server_url(address: &str, port: u16) -> anyhow::Result<String> {
    let first = forward::parse_addresses(address).map_err(anyhow::Error::msg)?[0];
    let reachable = forward::reachable_address(std::net::SocketAddr::new(first, port));
    Ok(format!("https://{reachable}"))
}

/// Reuse the vcluster's background forwarder when it listens where asked; else (re)start it.
fn background(
    ctx: &Context,
    request: &Request,
    key: &ForwarderKey,
    remote_port: u16,
) -> anyhow::Result<ForwarderRecord> {
    let registry = Registry::open(&StateDir::from_env()?)?;
    if let Some(running) = registry.running(key)? {
        let same = running.address == request.address
            && running.remote_port == remote_port
            && (request.local_port == 0 || running.port == request.local_port);
        if same {
            ctx.printer.debug(format!("reusing the port-forward of pid {}", running.pid));
            return Ok(running);
        }
        ctx.printer.info(format!("Restarting the port-forward (pid {}) on {}", running.pid, request.address));
        registry.stop(key)?;
    }
    let launch = forwarder::Launch {
        key: key.clone(),
        kubeconfig: ctx.global.kubeconfig.clone(),
        address: request.address.clone(),
        port: request.local_port,
        remote_port,
    };
    let handle = tokio::runtime::Handle::current();
    Ok(tokio::task::block_in_place(|| handle.block_on(forwarder::start(&registry, &launch)))?)
}

/// A port-forward served by this process.
struct InProcess {
    locals: Vec<std::net::SocketAddr>,
    stop: CancellationToken,
    serving: tokio::task::JoinHandle<()>,
    died: tokio::task::JoinHandle<String>,
}

impl InProcess {
    fn start(
        printer: &Printer,
        host: &Cluster,
        sts: &StatefulSet,
        sockets: Vec<tokio::net::TcpListener>,
        remote_port: u16,
        grace: Duration,
    ) -> InProcess {
        let namespace = sts.metadata.namespace.clone().unwrap_or_default();
        let name = sts.metadata.name.clone().unwrap_or_default();
        let log: Log = {
            let printer = printer.clone();
            Arc::new(move |line: String| printer.debug(line))
        };
        let pods = Pods::Selector(access::pod_selector(sts));
        let forward = Arc::new(Forward::new(host.client.clone(), &namespace, &pods, log));
        let locals = sockets.iter().filter_map(|s| s.local_addr().ok()).collect();
        let listeners: Vec<Listener> =
            sockets.into_iter().map(|socket| Listener { socket, remote: PodPort::Number(remote_port) }).collect();
        let stop = CancellationToken::new();
        let serving = {
            let (forward, stop) = (forward.clone(), stop.clone());
            tokio::spawn(async move { forward.serve(listeners, stop.cancelled_owned()).await })
        };
        let statefulsets: Api<StatefulSet> = Api::namespaced(host.client.clone(), &namespace);
        let died = tokio::spawn(async move {
            tokio::select! {
                () = forward::until_deleted(statefulsets, &name) => format!("StatefulSet {name} was deleted"),
                () = forward.follower().absent_for(grace) => {
                    format!("no pod of the vcluster was Ready for {}", crate::install::humanize(grace))
                }
            }
        });
        InProcess { locals, stop, serving, died }
    }

    /// Resolves when the forward can no longer work, with the reason (await it once).
    async fn died(&mut self) -> String {
        (&mut self.died).await.unwrap_or_else(|e| format!("the forward's watch failed: {e}"))
    }

    async fn stop(self) {
        self.stop.cancel();
        self.died.abort();
        let _ = self.serving.await;
    }
}

/// `connect NAME -- CMD`: run the command with a temporary kubeconfig (0600, removed however this
/// ends) while the forward (none with `--server`) serves; SIGINT/SIGTERM go to the command, and it
/// is stopped when the forward dies. The status is the command's (128+n when a signal n ended it); 126 when it cannot
/// be run, 127 when it is not found.
async fn run_command(
    printer: &Printer,
    credentials: &VclusterCredentials,
    context_name: &str,
    command: &[OsString],
    mut forward: Option<InProcess>,
    interrupt: &Interrupt,
) -> anyhow::Result<ExitStatus> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut file = tempfile::Builder::new().prefix("vcluster-kubeconfig-").suffix(".yaml").tempfile()?;
    {
        use std::io::Write as _;
        let yaml = serde_saphyr::to_string(&credentials.document(context_name))?;
        file.write_all(yaml.as_bytes())?;
        file.as_file().sync_all()?;
    }
    if interrupt.is_set() {
        stop(forward).await;
        return Err(anyhow::Error::new(Interrupted));
    }
    let (program, rest) = command.split_first().expect("clap requires a command");
    // Signals are the command's from here on; this process only passes them on.
    let (mut int, mut term) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    let spawned = tokio::process::Command::new(program).args(rest).env("KUBECONFIG", file.path()).spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            stop(forward).await;
            let program = Path::new(program).display();
            let (status, what) = match e.kind() {
                std::io::ErrorKind::NotFound => (NOT_FOUND, "not found"),
                _ => (NOT_EXECUTABLE, "cannot be run"),
            };
            printer.error_report(&format!("error: command {program} {what}: {e}\n"));
            return Ok(ExitStatus::External(status));
        }
    };
    let pid = child.id().and_then(|id| rustix::process::Pid::from_raw(id as i32));
    let pass = |sig: rustix::process::Signal| {
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, sig);
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            _ = int.recv() => {
                // At a terminal, Ctrl-C already reached the command (our process group is the
                // terminal's foreground group); passing it on would deliver it twice.
                if !in_terminal_foreground() {
                    pass(rustix::process::Signal::INT);
                }
            }
            _ = term.recv() => pass(rustix::process::Signal::TERM),
            reason = died(&mut forward) => {
                printer.warn(format!("the port-forward ended ({reason}); stopping the command"));
                pass(rustix::process::Signal::TERM);
                match tokio::time::timeout(COMMAND_GRACE, child.wait()).await {
                    Ok(status) => break status?,
                    Err(_) => {
                        let _ = child.start_kill();
                        break child.wait().await?;
                    }
                }
            }
        }
    };
    stop(forward).await;
    drop(file);
    Ok(ExitStatus::External(exit_code(&status)))
}

async fn died(forward: &mut Option<InProcess>) -> String {
    match forward {
        Some(forward) => forward.died().await,
        None => std::future::pending().await,
    }
}

async fn stop(forward: Option<InProcess>) {
    if let Some(forward) = forward {
        forward.stop().await;
    }
}

/// The status a shell would report: the exit code, or 128+n for a signal n.
fn exit_code(status: &std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => (128 + signal).clamp(0, 255) as u8,
        (None, None) => 1,
    }
}

/// Whether this process is in the foreground process group of its controlling terminal.
fn in_terminal_foreground() -> bool {
    let stdin = std::io::stdin();
    rustix::termios::tcgetpgrp(&stdin).is_ok_and(|group| group == rustix::process::getpgrp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt as _;

    #[test]
    fn exit_codes_are_what_a_shell_reports() {
        assert_eq!(exit_code(&std::process::ExitStatus::from_raw(7 << 8)), 7);
        assert_eq!(exit_code(&std::process::ExitStatus::from_raw(15)), 143, "SIGTERM");
        assert_eq!(exit_code(&std::process::ExitStatus::from_raw(9)), 137, "SIGKILL");
    }

    #[test]
    fn servers_get_a_scheme() {
        assert_eq!(normalize_server("vc.example.com:443/"), "https://vc.example.com:443");
        assert_eq!(normalize_server("https://10.0.0.1"), "https://10.0.0.1");
        assert_eq!(server_url("0.0.0.0", 5).unwrap(), "https://127.0.0.1:5");
        assert_eq!(server_url("localhost", 5).unwrap(), "https://127.0.0.1:5");
        assert_eq!(server_url("::1", 5).unwrap(), "https://[::1]:5");
    }
}
