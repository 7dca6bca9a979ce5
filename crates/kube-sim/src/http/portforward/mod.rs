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

mod backend;
mod spdy;
mod websocket;

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request};

use crate::auth::RequestInfo;
use crate::http::reply::Reply;
use crate::model::jsonpath;
use crate::model::query::{Query, Verb};
use crate::model::resources;
use crate::model::status::{ApiError, ApiResult};
use crate::shared::Shared;
pub use backend::FORWARD_ANNOTATION;
use backend::Pod;

pub fn is_request(info: &RequestInfo) -> bool {
    info.resource_request && info.group.is_empty() && info.resource == "pods" && info.subresource == "portforward"
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
    // pkg/registry/core/pod/rest/subresources.go PortForwardREST `ConnectMethods`: GET and
    // POST routes only, so go-restful answers any other method.
    if !matches!(*method, Method::GET | Method::POST) {
        return Err(ApiError::method_not_allowed());
    }
    query.check(Verb::Connect)?;
    let object = shared.lock().get(pods, &info.namespace, &info.name)?;
    // pkg/registry/core/pod/strategy.go `streamLocation`.
    if jsonpath::get_str(&object, &["spec", "nodeName"]).unwrap_or_default().is_empty() {
        return Err(ApiError::bad_request(format!("pod {} does not have a host assigned", info.name)));
    }
    Ok(Pod::new(shared.clone(), &info.namespace, &info.name, object))
}
