//! A pod's ports as port-forward streams reach them: the backend address a test mapped (or
//! the pod's annotation), the kubelet's error when it refuses, and the stream plumbing the
//! protocols share.

use std::sync::Arc;

use serde_json::Value;
use sha2::Digest as _;
use tokio::net::TcpStream;

use crate::model::jsonpath;
use crate::model::status::go_quote;
use crate::shared::Shared;

/// The annotation prefix mapping a pod port to a backend address (standalone use).
pub const FORWARD_ANNOTATION: &str = "sim.vcluster.dev/forward-";

/// Where one pod's ports lead: resolved at upgrade time, dialled per stream.
#[derive(Clone)]
pub struct Pod {
    pub(super) shared: Arc<Shared>,
    namespace: String,
    name: String,
    /// The pod as it was when the connection was upgraded.
    object: Arc<Value>,
}

impl Pod {
    pub fn new(shared: Arc<Shared>, namespace: &str, name: &str, object: Arc<Value>) -> Pod {
        Pod { shared, namespace: namespace.into(), name: name.into(), object }
    }

    fn backend(&self, port: u16) -> Option<String> {
        let key = (self.namespace.clone(), self.name.clone(), port);
        let mapped = self.shared.forwards.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        mapped.or_else(|| {
            jsonpath::get_str(&self.object, &["metadata", "annotations", &format!("{FORWARD_ANNOTATION}{port}")])
                .map(str::to_string)
        })
    }

    /// Connect to the port's backend, or the error text the kubelet writes on the error stream.
    pub async fn dial(&self, port: u16) -> Result<TcpStream, String> {
        let connected = match self.backend(port) {
            Some(address) => TcpStream::connect(address).await.ok(),
            None => None,
        };
        connected.inspect(|s| drop(s.set_nodelay(true))).ok_or_else(|| self.refused(port))
    }

    /// pkg/kubelet/cri/streaming/portforward/{websocket,httpstream}.go `portForward` wraps the
    /// runtime's error as `error forwarding port %d to pod %s, uid %v: %v`; containerd (the
    /// runtime, which names the pod by its sandbox id and passes no uid) reports a refused
    /// dial from internal/cri/server/sandbox_portforward_linux.go. The sandbox id and network
    /// namespace are derived from the pod's uid.
    fn refused(&self, port: u16) -> String {
        let sandbox = format!("{:x}", sha2::Sha256::digest(jsonpath::uid(&self.object).as_bytes()));
        let netns = format!(
            "/var/run/netns/cni-{}-{}-{}-{}-{}",
            &sandbox[0..8],
            &sandbox[8..12],
            &sandbox[12..16],
            &sandbox[16..20],
            &sandbox[20..32]
        );
        format!(
            "error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward in network namespace {}: \
             failed to connect to localhost:{port} inside namespace {}, IPv4: dial tcp4 127.0.0.1:{port}: connect: \
             connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused ",
            go_quote(&netns),
            go_quote(&sandbox)
        )
    }
}

/// The bytes of `read` as chunks, until it ends or fails.
pub fn chunks<R: tokio::io::AsyncRead + Unpin>(read: R) -> impl futures::Stream<Item = bytes::Bytes> {
    use tokio::io::AsyncReadExt as _;
    futures::stream::unfold((read, vec![0u8; 64 * 1024]), |(mut read, mut buf)| async move {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some((bytes::Bytes::copy_from_slice(&buf[..n]), (read, buf))),
        }
    })
}

/// Whether the connection should end: the simulator stops listening or shuts down.
pub async fn closed(shared: &Shared) {
    let mut connections = shared.connection_epoch.subscribe();
    let mut watches = shared.watch_epoch.subscribe();
    tokio::select! {
        _ = connections.changed() => {}
        _ = watches.changed() => {}
    }
}
