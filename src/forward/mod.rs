//! Port-forwarding to pods of the host cluster: local listeners whose connections are carried, one
//! WebSocket each, to the pod a [`Follower`] has chosen at that moment. Used by `connect` (the
//! virtual cluster's API, in this process or in the [`background`] forwarder process, whose files
//! the [`registry`] keeps) and by `port-forward` (services and pods inside the virtual cluster,
//! translated to their host objects). The hidden `__forwarder` command is a thin entry into
//! [`background::run`].
//!
//! Listeners are bound by the caller first, so a port is known (and reported) before any request is
//! made; connections accepted while no pod is Ready wait for one, bounded.

pub(crate) mod background;
pub(crate) mod error;
pub(crate) mod registry;

mod follow;
mod tunnel;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

pub(crate) use error::ForwardError;
pub(crate) use follow::{Follower, Log, Pods, until_deleted};
pub(crate) use tunnel::carry;

/// How long a new connection waits for a Ready pod before it is closed.
const WAIT_FOR_POD: Duration = Duration::from_secs(60);

/// A pod's port: a number, or the name of a container port (resolved per pod, since a replacement
/// pod may number it differently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PodPort {
    Number(u16),
    Name(String),
}

impl PodPort {
    /// The port number in `pod`, when it has it.
    pub(crate) fn resolve(&self, pod: &Pod) -> Option<u16> {
        match self {
            PodPort::Number(n) => Some(*n),
            PodPort::Name(name) => pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok()),
        }
    }
}

impl std::fmt::Display for PodPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PodPort::Number(n) => write!(f, "{n}"),
            PodPort::Name(name) => f.write_str(name),
        }
    }
}

/// One local socket and the pod port its connections go to.
pub(crate) struct Listener {
    pub(crate) socket: TcpListener,
    pub(crate) remote: PodPort,
}

/// The addresses of `--address`: a comma-separated list of IPs, where `localhost` means both
/// 127.0.0.1 and ::1, as kubectl port-forward reads it.
/// (kubectl: staging/src/k8s.io/client-go/tools/portforward/portforward.go `parseAddresses`)
pub(crate) fn parse_addresses(text: &str) -> Result<Vec<IpAddr>, String> {
    let mut out: Vec<IpAddr> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let addresses: Vec<IpAddr> = if part == "localhost" {
            vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()]
        } else {
            vec![part.parse().map_err(|_| format!("{part} is not a valid IP"))?]
        };
        for a in addresses {
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    if out.is_empty() { Err("no address given".into()) } else { Ok(out) }
}

/// Bind `port` (0: a free one) on every address. With `localhost`, the IPv6 loopback is optional
/// (as in kubectl): a host without IPv6 still forwards on 127.0.0.1. The port picked for the first
/// address is used for the others.
pub(crate) async fn bind(addresses: &[IpAddr], port: u16) -> std::io::Result<Vec<TcpListener>> {
    let mut sockets: Vec<TcpListener> = Vec::new();
    let mut port = port;
    for address in addresses {
        match TcpListener::bind(SocketAddr::new(*address, port)).await {
            Ok(socket) => {
                port = socket.local_addr()?.port();
                sockets.push(socket);
            }
            Err(_) if address.is_ipv6() && address.is_loopback() && addresses.len() > 1 => {}
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("cannot listen on {address}:{port}: {e}"))),
        }
    }
    Ok(sockets)
}

/// The URL authority a client uses to reach a listener: a wildcard address is reached on loopback.
pub(crate) fn reachable_address(local: SocketAddr) -> SocketAddr {
    match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), local.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), local.port()),
        _ => local,
    }
}

/// Listeners serving connections to the followed pods until dropped or until `stop` resolves.
pub(crate) struct Forward {
    client: kube::Client,
    namespace: String,
    follower: Arc<Follower>,
    log: Log,
}

impl Forward {
    /// Start following `pods` in `namespace`.
    pub(crate) fn new(client: kube::Client, namespace: &str, pods: &Pods, log: Log) -> Forward {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let follower = Arc::new(Follower::start(api, pods, log.clone()));
        Forward { client, namespace: namespace.to_owned(), follower, log }
    }

    pub(crate) fn follower(&self) -> &Follower {
        &self.follower
    }

    /// Serve `listeners` until `stop` resolves; open connections end with it.
    pub(crate) async fn serve(&self, listeners: Vec<Listener>, stop: impl std::future::Future<Output = ()>) {
        let mut accepting = JoinSet::new();
        for listener in listeners {
            let (client, namespace, follower, log) =
                (self.client.clone(), self.namespace.clone(), self.follower.clone(), self.log.clone());
            accepting.spawn(async move {
                let mut connections = JoinSet::new();
                loop {
                    let socket = match listener.socket.accept().await {
                        Ok((socket, _)) => socket,
                        Err(e) => {
                            // Out of descriptors and the like: back off rather than spin.
                            log(format!("accepting a connection failed: {e}"));
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let _ = socket.set_nodelay(true);
                    let connection =
                        Connection { client: client.clone(), namespace: namespace.clone(), follower: follower.clone() };
                    let (remote, log) = (listener.remote.clone(), log.clone());
                    connections.spawn(async move {
                        if let Err(e) = connection.carry(socket, &remote).await {
                            log(format!("connection to port {remote} failed: {e}"));
                        }
                    });
                    while connections.try_join_next().is_some() {}
                }
            });
        }
        stop.await;
        accepting.shutdown().await;
    }
}

/// What one accepted connection needs.
struct Connection {
    client: kube::Client,
    namespace: String,
    follower: Arc<Follower>,
}

impl Connection {
    async fn carry(&self, socket: TcpStream, remote: &PodPort) -> Result<(), ForwardError> {
        let pod = self
            .follower
            .pod(WAIT_FOR_POD)
            .await
            .ok_or_else(|| ForwardError::Pod(format!("no Ready pod within {}s", WAIT_FOR_POD.as_secs())))?;
        let name = pod.metadata.name.clone().unwrap_or_default();
        let port = remote
            .resolve(&pod)
            .ok_or_else(|| ForwardError::Pod(format!("pod {name} has no container port named {remote}")))?;
        carry(&self.client, &self.namespace, &name, port, socket).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_as_kubectl_reads_them() {
        let v4: IpAddr = Ipv4Addr::LOCALHOST.into();
        let v6: IpAddr = Ipv6Addr::LOCALHOST.into();
        assert_eq!(parse_addresses("localhost").unwrap(), [v4, v6]);
        assert_eq!(parse_addresses("127.0.0.1, localhost").unwrap(), [v4, v6]);
        assert_eq!(parse_addresses("0.0.0.0").unwrap(), [IpAddr::from([0, 0, 0, 0])]);
        assert!(parse_addresses("example.com").unwrap_err().contains("not a valid IP"));
        assert!(parse_addresses(" , ").is_err());
    }

    #[test]
    fn named_ports_resolve_per_pod() {
        let pod: Pod = serde_json::from_value(json!({"spec": {"containers": [
            {"name": "a", "ports": [{"name": "metrics", "containerPort": 9090}]},
            {"name": "b", "ports": [{"name": "http", "containerPort": 8080}]}
        ]}}))
        .unwrap();
        assert_eq!(PodPort::Name("http".into()).resolve(&pod), Some(8080));
        assert_eq!(PodPort::Name("nope".into()).resolve(&pod), None);
        assert_eq!(PodPort::Number(80).resolve(&pod), Some(80));
        assert_eq!(reachable_address("0.0.0.0:5".parse().unwrap()), "127.0.0.1:5".parse::<SocketAddr>().unwrap());
    }
}
