//! `pods/<name>/portforward`: the streaming protocols kube-apiserver 1.33 and the kubelet
//! speak, carrying bytes to the TCP address a test maps the pod's port to.
//!
//! - WebSocket with `v4.channel.k8s.io` or `v4.base64.channel.k8s.io` (what kube-rs
//!   `Api::portforward` speaks): the kubelet's handler
//!   (pkg/kubelet/cri/streaming/portforward/websocket.go) behind the apiserver's proxy;
//! - SPDY/3.1 (`portforward.k8s.io`), raw after an HTTP upgrade or tunnelled in a WebSocket
//!   with the `SPDY/3.1+portforward.k8s.io` subprotocol (what kubectl 1.33 speaks):
//!   pkg/kubelet/cri/streaming/portforward/httpstream.go, and the apiserver's tunnelling of
//!   staging/src/k8s.io/apiserver/pkg/util/proxy/streamtunnel.go.
//!
//! A port's backend is the address the test mapped with
//! [`Simulator::forward_port`](crate::Simulator::forward_port), else the pod annotation
//! `sim.vcluster.dev/forward-<port>: host:port`; a port with neither, or whose backend refuses
//! the connection, gets the error the kubelet reports through containerd.

mod spdy;
mod websocket;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::Value;
use sha2::Digest as _;
use tokio::net::TcpStream;

use crate::auth::RequestInfo;
use crate::jsonpath;
use crate::query::{Query, Verb};
use crate::resources;
use crate::server::{Reply, Shared};
use crate::status::{ApiError, ApiResult, go_quote};

/// The annotation prefix mapping a pod port to a backend address (standalone use).
pub const FORWARD_ANNOTATION: &str = "sim.vcluster.dev/forward-";

pub fn is_request(info: &RequestInfo) -> bool {
    info.resource_request && info.group.is_empty() && info.resource == "pods" && info.subresource == "portforward"
}

/// Where one pod's ports lead: resolved at upgrade time, dialled per stream.
#[derive(Clone)]
pub struct Pod {
    shared: Arc<Shared>,
    namespace: String,
    name: String,
    /// The pod as it was when the connection was upgraded.
    object: Arc<Value>,
}

impl Pod {
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
        let digest = sha2::Sha256::digest(jsonpath::uid(&self.object).as_bytes());
        let sandbox: String = digest.iter().map(|b| format!("{b:02x}")).collect();
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

/// Authorized `pods/portforward` request: checks, then the protocol's upgrade.
pub async fn serve(shared: &Arc<Shared>, info: &RequestInfo, query: &Query, req: Request<Incoming>) -> Reply {
    let pod = match resolve(shared, info, query, req.method()) {
        Ok(pod) => pod,
        Err(e) => return Reply::error(&e),
    };
    let header =
        |name: &str| req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let upgrade = header("upgrade");
    if upgrade.eq_ignore_ascii_case("websocket") {
        websocket::upgrade(pod, query, req).await
    } else if upgrade.to_ascii_lowercase().starts_with("spdy/3.1") {
        spdy::upgrade(pod, req)
    } else {
        // staging/src/k8s.io/apimachinery/pkg/util/proxy/upgradeaware.go (UpgradeRequired).
        Reply::error(&ApiError::bad_request("Upgrade request required"))
    }
}

fn resolve(shared: &Arc<Shared>, info: &RequestInfo, query: &Query, method: &Method) -> ApiResult<Pod> {
    let pods = resources::find("", "v1", "pods").expect("pods served");
    if !matches!(*method, Method::GET | Method::POST) {
        let verb = if *method == Method::PUT { "update" } else { "connect" };
        return Err(ApiError::method_not_supported(resources::by_id(pods), verb));
    }
    query.check(Verb::Connect)?;
    let object = shared.lock().get(pods, &info.namespace, &info.name)?;
    // pkg/registry/core/pod/strategy.go `streamLocation`.
    if jsonpath::get_str(&object, &["spec", "nodeName"]).unwrap_or_default().is_empty() {
        return Err(ApiError::bad_request(format!("pod {} does not have a host assigned", info.name)));
    }
    Ok(Pod { shared: shared.clone(), namespace: info.namespace.clone(), name: info.name.clone(), object })
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
