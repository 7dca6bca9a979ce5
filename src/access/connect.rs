//! `vcluster connect`'s work, which `create` does too once it installed: find the vcluster (resuming
//! it when paused), wait until it works, read its credentials, pick a route to its API —
//! `--server`, a LoadBalancer with an address, else a port-forward (a detached background forwarder
//! by default, this process with `--foreground` or `-- CMD`) — check that the API answers there,
//! and only then write: the user's kubeconfig (merged as client-go does, the previous context
//! recorded in the new one), `--kube-config FILE`, `--print` on stdout, or a temporary kubeconfig
//! for `-- CMD` ([`super::command`]). It never blocks unless asked to (`--foreground`, `-- CMD`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use kube::Api;

use super::command;
use super::in_process::InProcess;
use super::{Exposure, FORWARD_ANSWER_TIMEOUT, URL_ANSWER_TIMEOUT, service_account};
use crate::cluster::{Connection, Host, wait};
use crate::context::Context;
use crate::context::host::{host_cluster, locate};
use crate::error::{Advice, ExitStatus, Hinted};
use crate::forward;
use crate::forward::background::{self, Launch};
use crate::forward::registry::{ForwarderKey, ForwarderRecord, Registry};
use crate::interrupt::Interrupt;
use crate::kubeconfig::{self, ConnectRecord, KubeconfigError, Loaded, Sources, VclusterCredentials};
use crate::lifecycle::pause;
use crate::state::{StateDir, StateError};

/// Where the result goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// A kubeconfig, written once.
    Write(Destination),
    /// Run this command with a temporary kubeconfig.
    Command(Vec<OsString>),
}

/// Where the kubeconfig is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Destination {
    /// Merged into the user's kubeconfig (switching to it when `switch`).
    Merge {
        switch: bool,
    },
    Print,
    File(PathBuf),
}

/// How the port-forward runs, when one is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ForwardMode {
    Background,
    Foreground,
}

/// A connect, fully resolved from flags (or from `create`).
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) name: String,
    /// Where to find it (`create` knows); else `-n`, else any namespace.
    pub(crate) namespace: Option<String>,
    pub(crate) context_name: Option<String>,
    pub(crate) output: Output,
    pub(crate) forward: ForwardMode,
    pub(crate) server: Option<String>,
    pub(crate) address: String,
    pub(crate) local_port: u16,
    pub(crate) service_account: Option<(service_account::Account, Option<String>, i64)>,
    pub(crate) insecure: bool,
    pub(crate) timeout: Duration,
}

impl Request {
    /// What `create` does after installing: connect in the background, merge and switch.
    pub(crate) fn after_create(name: &str, namespace: &str, context_name: Option<&str>, timeout: Duration) -> Request {
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
}

/// Connect as `request` says, on the host cluster of this invocation's kubeconfig.
pub(crate) fn run(ctx: &Context, loaded: &Loaded, request: &Request) -> anyhow::Result<ExitStatus> {
    ctx.block_on(async {
        let interrupt = Interrupt::manual();
        let _signals = SignalsTo::start(&interrupt)?;
        let host = host_cluster(ctx, loaded, request.namespace.as_deref()).await?;
        connect(ctx, &host, request, &interrupt).await
    })?
}

/// `create`'s connect: in the background, merged and switched to, once the vcluster it just
/// installed (or found) in `namespace` works.
pub(crate) fn after_create(
    ctx: &Context,
    loaded: &Loaded,
    name: &str,
    namespace: &str,
    context_name: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<ExitStatus> {
    run(ctx, loaded, &Request::after_create(name, namespace, context_name, timeout))
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
async fn connect(
    ctx: &Context,
    host: &Connection,
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
            return command::run(&ctx.printer, &credentials, &context_name, command, route.forward, interrupt).await;
        }
        Output::Write(destination) => destination,
    };
    deliver(ctx, destination, &credentials, &context_name, record).await?;
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
    host: &Connection,
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
    let target =
        wait::Target { namespace: namespace.clone(), statefulset: sts.clone(), secret: super::secret_name(name) };
    wait::until_ready(&host_access, &target, request.timeout, interrupt, &progress)
        .await
        .map_err(|e| e.into_report(name, &namespace))?;
    drop(progress);
    let mut credentials = super::credentials(host, &namespace, name).await.map_err(hinted)?;
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
    let client = super::client(credentials, context_name).await.map_err(hinted)?;
    interrupt
        .guard(super::check_answers(&client, context_name, &route.server, route.patience))
        .await?
        .map_err(hinted)?;
    Ok(client)
}

/// Write the kubeconfig to `destination`.
async fn deliver(
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
            let merged = kubeconfig::modify_async::<KubeconfigError>(&sources, |loaded| {
                Ok(credentials.connect_edits(loaded, context_name, record, *switch))
            })
            .await
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
        let left = kubeconfig::modify_async::<KubeconfigError>(&sources, |loaded| {
            Ok(kubeconfig::disconnect(loaded, Some(context_name), false).map(|d| d.edits).unwrap_or_default())
        })
        .await;
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

fn hinted(e: super::AccessError) -> anyhow::Error {
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
    host: &Connection,
    request: &Request,
    sts: &StatefulSet,
    credentials: &VclusterCredentials,
    context_name: &str,
) -> anyhow::Result<Route> {
    let namespace = sts.metadata.namespace.clone().unwrap_or_default();
    let key = ForwarderKey::new(&host.context, &namespace, &request.name);
    let remote_port = super::api_port(credentials);
    let printer = &ctx.printer;
    if let Some(server) = &request.server {
        return Ok(Route { server: server.clone(), patience: URL_ANSWER_TIMEOUT, background: None, forward: None });
    }
    if request.forward == ForwardMode::Background {
        match super::load_balancer(host, &key.namespace, &key.vcluster).await.map_err(hinted)? {
            Exposure::Address(lb) => {
                let through = credentials.clone().with_server(&lb.url);
                let reached = match super::client(&through, context_name).await {
                    Ok(client) => super::check_answers(&client, context_name, &lb.url, URL_ANSWER_TIMEOUT).await,
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
            let record = background(ctx, request, &key, remote_port).await?;
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
async fn background(
    ctx: &Context,
    request: &Request,
    key: &ForwarderKey,
    remote_port: u16,
) -> anyhow::Result<ForwarderRecord> {
    let registry = Registry::open(&StateDir::from_env()?)?;
    // The registry waits for a starting or stopping forwarder by sleeping: on a blocking thread.
    let on_registry = |act: fn(&Registry, &ForwarderKey) -> Result<Option<ForwarderRecord>, StateError>| {
        let (registry, key) = (registry.clone(), key.clone());
        tokio::task::spawn_blocking(move || act(&registry, &key))
    };
    if let Some(running) = on_registry(Registry::running).await?? {
        let same = running.address == request.address
            && running.remote_port == remote_port
            && (request.local_port == 0 || running.port == request.local_port);
        if same {
            ctx.printer.debug(format!("reusing the port-forward of pid {}", running.pid));
            return Ok(running);
        }
        ctx.printer.info(format!("Restarting the port-forward (pid {}) on {}", running.pid, request.address));
        on_registry(Registry::stop).await??;
    }
    let launch = Launch {
        key: key.clone(),
        kubeconfig: ctx.global.kubeconfig.clone(),
        address: request.address.clone(),
        port: request.local_port,
        remote_port,
    };
    Ok(background::start(&registry, &launch).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_reached_on_loopback() {
        assert_eq!(server_url("0.0.0.0", 5).unwrap(), "https://127.0.0.1:5");
        assert_eq!(server_url("localhost", 5).unwrap(), "https://127.0.0.1:5");
        assert_eq!(server_url("::1", 5).unwrap(), "https://[::1]:5");
    }
}
