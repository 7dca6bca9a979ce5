//! `vcluster port-forward NAME [svc/NAME | pod/NAME] [LOCAL:]REMOTE…`: forward local ports to a
//! Service or Pod **inside** the virtual cluster, by its virtual name, or (without a target) to the
//! virtual cluster's API server.
//!
//! The virtual object is reached through its host object, `<name>-x-<virtual namespace>-x-<vcluster>`
//! in the vcluster's host namespace ([`crate::translate`], shared with the syncer): a Service's
//! host copy carries the translated selector, which is followed to a Ready host pod (a replacement
//! pod, under a new name too, takes the next connections), and its ports resolve named target ports
//! per pod, as kubectl resolves them. `-n` is the vcluster's host namespace as in every command; the
//! namespace inside the virtual cluster is `-N/--virtual-namespace` (default `default`).
//! Lines as kubectl prints them go to stdout (`Forwarding from 127.0.0.1:8080 -> 80`); Ctrl-C ends
//! the forward (exit 0, as kubectl).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Api;

use crate::access;
use crate::cluster::Connection;
use crate::context::Context;
use crate::context::args::{HostArgs, check_name, parse_duration};
use crate::context::complete;
use crate::context::host::{host_cluster, load_kubeconfig, locate};
use crate::error::{ExitStatus, Hinted};
use crate::forward::{self, Forward, Listener, Log, PodPort, Pods};
use crate::interrupt::Interrupt;
use crate::printer::text::humanize;
use crate::translate::Translator;
use crate::workload;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster port-forward my-vcluster svc/web 8080:http -N shop   # http://127.0.0.1:8080 to web.shop\n",
    "  vcluster port-forward my-vcluster pod/db-0 :5432 -N data      # a free local port, printed\n",
    "  vcluster port-forward my-vcluster 9443                        # the virtual API on 127.0.0.1:9443",
);

#[derive(Debug, Args)]
pub(crate) struct PortForwardArgs {
    /// Name of the virtual cluster
    #[arg(add = complete::vcluster_names())]
    pub(crate) name: String,
    /// `svc/NAME` or `pod/NAME` inside the virtual cluster, then `[LOCAL:]REMOTE` ports (REMOTE a
    /// number or a port name); without a target, `[LOCAL]` forwards to the virtual cluster's API
    #[arg(value_name = "TARGET_AND_PORTS")]
    pub(crate) rest: Vec<String>,
    /// Namespace of the service or pod inside the virtual cluster (`-n` is the vcluster's host
    /// namespace, as for every command)
    #[arg(
        short = 'N',
        long,
        visible_alias = "namespace-in-vcluster",
        default_value = "default",
        value_name = "NAMESPACE"
    )]
    pub(crate) virtual_namespace: String,
    /// Local addresses to listen on (comma-separated IPs, or localhost for 127.0.0.1 and ::1)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDRESS")]
    pub(crate) address: String,
    /// How long to wait for a Ready pod before the first line is printed
    #[arg(long, default_value = "1m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
    #[command(flatten)]
    pub(crate) host: HostArgs,
}

/// What to forward to, inside the virtual cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Service(String),
    Pod(String),
}

/// `[LOCAL:]REMOTE`: `LOCAL` empty means a free port, absent means the same as the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortSpec {
    pub(crate) local: Option<u16>,
    pub(crate) remote: PodPort,
}

/// Split the positional words into the target and the ports. (kubectl's resource prefixes:
/// `svc`, `service`, `services`; `po`, `pod`, `pods`)
pub(crate) fn parse(words: &[String]) -> Result<(Option<Target>, Vec<PortSpec>), String> {
    let (target, ports) = match words.first().and_then(|w| w.split_once('/')) {
        Some((kind, name)) => {
            if name.is_empty() {
                return Err(format!("{:?}: the name is missing", words[0]));
            }
            let target = match kind {
                "svc" | "service" | "services" => Target::Service(name.to_owned()),
                "po" | "pod" | "pods" => Target::Pod(name.to_owned()),
                _ => return Err(format!("{:?}: only svc/NAME and pod/NAME can be forwarded", words[0])),
            };
            (Some(target), &words[1..])
        }
        None => (None, words),
    };
    let specs = ports.iter().map(|p| parse_port(p)).collect::<Result<Vec<_>, _>>()?;
    match &target {
        Some(_) if specs.is_empty() => Err("at least one port is needed, e.g. 8080:80".into()),
        None if specs.len() > 1 || specs.iter().any(|s| s.local.is_some() || matches!(s.remote, PodPort::Name(_))) => {
            Err("without svc/NAME or pod/NAME, give at most one local port: it forwards to the virtual cluster's API"
                .into())
        }
        _ => Ok((target, specs)),
    }
}

fn parse_port(text: &str) -> Result<PortSpec, String> {
    let number = |s: &str| s.parse::<u16>().map_err(|_| format!("{text:?}: {s:?} is not a port number"));
    let remote = |s: &str| -> Result<PodPort, String> {
        match s.parse::<u16>() {
            Ok(0) => Err(format!("{text:?}: the remote port must not be 0")),
            Ok(n) => Ok(PodPort::Number(n)),
            Err(_) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                Ok(PodPort::Name(s.to_owned()))
            }
            Err(_) => Err(format!("{text:?}: {s:?} is neither a port number nor a port name")),
        }
    };
    match text.split_once(':') {
        Some(("", r)) => Ok(PortSpec { local: Some(0), remote: remote(r)? }),
        Some((l, r)) => Ok(PortSpec { local: Some(number(l)?), remote: remote(r)? }),
        None => Ok(PortSpec { local: None, remote: remote(text)? }),
    }
}

/// One resolved forward: local port (0: free) → pod port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) local: u16,
    pub(crate) remote: PodPort,
}

/// Ports of a Service to pod ports: `REMOTE` is a service port (by number or name); its
/// `targetPort` (a number, or a container port name) is the pod port; the local port defaults to
/// the service port. (kubectl: staging/src/k8s.io/kubectl/pkg/cmd/portforward/portforward.go
/// `translateServicePortToTargetPort`; messages from kubectl/pkg/util/service_port.go)
pub(crate) fn resolve_service_ports(
    service: &Service,
    virtual_name: &str,
    specs: &[PortSpec],
) -> Result<Vec<Resolved>, String> {
    let ports = service.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    specs
        .iter()
        .map(|spec| {
            let port = match &spec.remote {
                PodPort::Number(n) => ports
                    .iter()
                    .find(|p| p.port == i32::from(*n))
                    .ok_or_else(|| format!("service {virtual_name} does not have a service port {n}"))?,
                PodPort::Name(name) => ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .ok_or_else(|| format!("Service '{virtual_name}' does not have a named port '{name}'"))?,
            };
            let service_port = u16::try_from(port.port).map_err(|_| format!("invalid service port {}", port.port))?;
            let remote = match &port.target_port {
                None => PodPort::Number(service_port),
                Some(IntOrString::Int(n)) => {
                    PodPort::Number(u16::try_from(*n).map_err(|_| format!("invalid target port {n}"))?)
                }
                Some(IntOrString::String(name)) => match name.parse::<u16>() {
                    Ok(n) => PodPort::Number(n),
                    Err(_) => PodPort::Name(name.clone()),
                },
            };
            Ok(Resolved { local: spec.local.unwrap_or(service_port), remote })
        })
        .collect()
}

/// Ports of a Pod: named ports resolve against its containers; the local port defaults to the
/// number. (kubectl `convertPodNamedPortToNumber`)
pub(crate) fn resolve_pod_ports(pod: &Pod, virtual_name: &str, specs: &[PortSpec]) -> Result<Vec<Resolved>, String> {
    specs
        .iter()
        .map(|spec| {
            let number = spec
                .remote
                .resolve(pod)
                .ok_or_else(|| format!("Pod '{virtual_name}' does not have a named port '{}'", spec.remote))?;
            Ok(Resolved { local: spec.local.unwrap_or(number), remote: PodPort::Number(number) })
        })
        .collect()
}

pub(crate) fn run(args: PortForwardArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    check_name(&args.name)?;
    if let Some(problem) = crate::values::check_namespace(&args.virtual_namespace) {
        anyhow::bail!("invalid --virtual-namespace: {}", problem.message);
    }
    let (target, specs) = parse(&args.rest).map_err(anyhow::Error::msg)?;
    let addresses = forward::parse_addresses(&args.address).map_err(|e| anyhow::anyhow!("--address: {e}"))?;
    let loaded = load_kubeconfig(ctx)?;
    ctx.block_on(async {
        let interrupt = Interrupt::install(|| {})?;
        let host = host_cluster(ctx, &loaded, None).await?;
        let (vcluster, sts) = interrupt.guard(locate(ctx, &host, &args.name, None)).await??;
        let namespace = vcluster.namespace;
        let plan = interrupt.guard(plan(&host, &sts, &namespace, target.as_ref(), &specs, &args)).await??;
        // Pod changes and failing connections, on stderr (kubectl prints its errors there too).
        let log: Log = {
            let printer = ctx.printer.clone();
            Arc::new(move |line: String| printer.info(line))
        };
        let forward = Forward::new(host.client.clone(), &namespace, &plan.pods, log);
        let mut listeners = Vec::new();
        let mut lines = String::new();
        let first = match interrupt.guard(forward.follower().pod(args.timeout)).await? {
            Some(pod) => pod,
            None => anyhow::bail!("no Ready pod for {} within {}", plan.what, humanize(args.timeout)),
        };
        for resolved in &plan.ports {
            let sockets = forward::bind(&addresses, resolved.local).await?;
            let shown = resolved.remote.resolve(&first).map_or_else(|| resolved.remote.to_string(), |n| n.to_string());
            for socket in sockets {
                // kubectl: "Forwarding from 127.0.0.1:8080 -> 80" (client-go tools/portforward)
                lines.push_str(&format!("Forwarding from {} -> {shown}\n", socket.local_addr()?));
                listeners.push(Listener { socket, remote: resolved.remote.clone() });
            }
        }
        ctx.printer.data(lines.as_bytes())?;
        let ended = tokio::select! {
            () = interrupt.wait() => None,
            reason = plan.ends(&host, &namespace) => Some(reason),
            () = forward.serve(listeners, std::future::pending()) => None,
        };
        match ended {
            None => Ok(ExitStatus::Success),
            Some(reason) => Err(anyhow::anyhow!("the port-forward to {} ended: {reason}", plan.what)),
        }
    })?
}

/// The forward to set up.
struct Plan {
    /// For messages: `service web in namespace shop of vcluster my-vc`.
    what: String,
    pods: Pods,
    ports: Vec<Resolved>,
    /// The host object whose deletion ends the forward.
    anchor: Anchor,
}

enum Anchor {
    StatefulSet(String),
    Service(String),
    Pod(String),
}

impl Plan {
    async fn ends(&self, host: &Connection, namespace: &str) -> String {
        let client = host.client.clone();
        match &self.anchor {
            Anchor::StatefulSet(name) => {
                forward::until_deleted(Api::<StatefulSet>::namespaced(client, namespace), name).await;
                format!("StatefulSet {name} was deleted")
            }
            Anchor::Service(name) => {
                forward::until_deleted(Api::<Service>::namespaced(client, namespace), name).await;
                format!("host Service {name} was deleted")
            }
            Anchor::Pod(name) => {
                forward::until_deleted(Api::<Pod>::namespaced(client, namespace), name).await;
                format!("host pod {name} was deleted")
            }
        }
    }
}

async fn plan(
    host: &Connection,
    sts: &StatefulSet,
    namespace: &str,
    target: Option<&Target>,
    specs: &[PortSpec],
    args: &PortForwardArgs,
) -> anyhow::Result<Plan> {
    let translator = Translator::new(args.name.as_str(), namespace);
    let vns = args.virtual_namespace.as_str();
    let missing = |kind: &str, virtual_name: &str, host_name: &str| {
        anyhow::Error::new(
            Hinted::new(format!(
                "{kind} {virtual_name} in namespace {vns} of vcluster {} not found (no host {kind} {host_name} in namespace {namespace})",
                args.name
            ))
            .hint(format!("check with `vcluster connect {} -- kubectl get {kind}s -n {vns}`", args.name)),
        )
    };
    let get_error = |e: kube::Error| anyhow::Error::new(Hinted::from(host.error(e)));
    match target {
        None => {
            let credentials = access::credentials(host, namespace, &args.name)
                .await
                .map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
            let remote = access::api_port(&credentials);
            Ok(Plan {
                what: format!("the API of vcluster {}", args.name),
                pods: Pods::Selector(workload::pod_selector(sts)),
                ports: vec![Resolved { local: local_from(specs), remote: PodPort::Number(remote) }],
                anchor: Anchor::StatefulSet(args.name.clone()),
            })
        }
        Some(Target::Service(name)) => {
            let host_name = translator.host_name(vns, name);
            let api: Api<Service> = Api::namespaced(host.client.clone(), namespace);
            let service = api
                .get_opt(&host_name)
                .await
                .map_err(get_error)?
                .ok_or_else(|| missing("service", name, &host_name))?;
            let selector = service.spec.as_ref().and_then(|s| s.selector.clone()).filter(|s| !s.is_empty());
            let Some(selector) = selector else {
                // kubectl: "invalid service '%s': Service is defined without a selector"
                anyhow::bail!("invalid service '{name}': Service is defined without a selector");
            };
            let ports = resolve_service_ports(&service, name, specs).map_err(anyhow::Error::msg)?;
            Ok(Plan {
                what: format!("service {name} in namespace {vns} of vcluster {}", args.name),
                pods: Pods::Selector(workload::label_selector(&selector)),
                ports,
                anchor: Anchor::Service(host_name),
            })
        }
        Some(Target::Pod(name)) => {
            let host_name = translator.host_name(vns, name);
            let api: Api<Pod> = Api::namespaced(host.client.clone(), namespace);
            let pod =
                api.get_opt(&host_name).await.map_err(get_error)?.ok_or_else(|| missing("pod", name, &host_name))?;
            let ports = resolve_pod_ports(&pod, name, specs).map_err(anyhow::Error::msg)?;
            Ok(Plan {
                what: format!("pod {name} in namespace {vns} of vcluster {}", args.name),
                pods: Pods::Named(host_name.clone()),
                ports,
                anchor: Anchor::Pod(host_name),
            })
        }
    }
}

/// Without a target, the one spec (if any) is the local port; none means a free one.
fn local_from(specs: &[PortSpec]) -> u16 {
    match specs.first() {
        Some(PortSpec { local: None, remote: PodPort::Number(n) }) => *n,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn targets_and_ports_parse_like_kubectl() {
        let (target, specs) = parse(&words(&["svc/web", "8080:http", ":80", "9090"])).unwrap();
        assert_eq!(target, Some(Target::Service("web".into())));
        assert_eq!(
            specs,
            [
                PortSpec { local: Some(8080), remote: PodPort::Name("http".into()) },
                PortSpec { local: Some(0), remote: PodPort::Number(80) },
                PortSpec { local: None, remote: PodPort::Number(9090) },
            ]
        );
        assert_eq!(parse(&words(&["pods/db", "5432"])).unwrap().0, Some(Target::Pod("db".into())));
        assert_eq!(parse(&words(&[])).unwrap(), (None, vec![]));
        assert_eq!(local_from(&parse(&words(&["9443"])).unwrap().1), 9443);
        for bad in [
            &["deploy/x", "80"][..],
            &["svc/", "80"],
            &["svc/web"],
            &["svc/web", "x:80"],
            &["svc/web", "80:"],
            &["1", "2"],
            &["8080:80"],
        ] {
            assert!(parse(&words(bad)).is_err(), "{bad:?}");
        }
    }

    fn service() -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web-x-shop-x-my-vc"},
            "spec": {"selector": {"a": "b"}, "ports": [
                {"name": "http", "port": 80, "targetPort": "web"},
                {"name": "metrics", "port": 9090, "targetPort": 9100},
                {"name": "plain", "port": 7000}
            ]}
        }))
        .unwrap()
    }

    #[test]
    fn service_ports_resolve_to_target_ports() {
        let specs = parse(&words(&["svc/web", "8080:http", "9090", ":7000"])).unwrap().1;
        assert_eq!(
            resolve_service_ports(&service(), "web", &specs).unwrap(),
            [
                Resolved { local: 8080, remote: PodPort::Name("web".into()) },
                Resolved { local: 9090, remote: PodPort::Number(9100) },
                Resolved { local: 0, remote: PodPort::Number(7000) },
            ]
        );
        let http_only = parse(&words(&["svc/web", "http"])).unwrap().1;
        assert_eq!(resolve_service_ports(&service(), "web", &http_only).unwrap()[0].local, 80, "the service port");
        let missing = parse(&words(&["svc/web", "81"])).unwrap().1;
        assert_eq!(
            resolve_service_ports(&service(), "web", &missing).unwrap_err(),
            "service web does not have a service port 81"
        );
        let unnamed = parse(&words(&["svc/web", "grpc"])).unwrap().1;
        assert_eq!(
            resolve_service_ports(&service(), "web", &unnamed).unwrap_err(),
            "Service 'web' does not have a named port 'grpc'"
        );
    }

    #[test]
    fn pod_ports_resolve_names() {
        let pod: Pod = serde_json::from_value(
            json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "web", "containerPort": 8080}]}]}}),
        )
        .unwrap();
        let specs = parse(&words(&["pod/p", "web", "9000:web", "81"])).unwrap().1;
        assert_eq!(
            resolve_pod_ports(&pod, "p", &specs).unwrap(),
            [
                Resolved { local: 8080, remote: PodPort::Number(8080) },
                Resolved { local: 9000, remote: PodPort::Number(8080) },
                Resolved { local: 81, remote: PodPort::Number(81) },
            ]
        );
        let bad = parse(&words(&["pod/p", "grpc"])).unwrap().1;
        assert!(resolve_pod_ports(&pod, "p", &bad).is_err());
    }
}
