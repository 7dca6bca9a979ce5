//! One request: health checks, identity, interception, then the forward (plain or upgraded).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONNECTION, EXPECT, HOST, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version};
use http_body::{Body, Frame};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use super::body::{BoxError, ProxyBody};
use super::identity::{Caller, UserInfo};
use super::impersonation;
use super::intercept::{InterceptedRequest, Interceptor, MAX_INTERCEPTED_BODY};
use super::request_info::RequestInfo;
use super::status::{self, status_response, text};
use super::upstream::{Upstream, UpstreamError};

/// What every request of a running endpoint shares.
pub(crate) struct State {
    pub(crate) upstream: Upstream,
    pub(crate) interceptors: Vec<Arc<dyn Interceptor>>,
    pub(crate) readiness: watch::Receiver<bool>,
    /// Cancelled at shutdown: watches end and tunnels close.
    pub(crate) shutdown: CancellationToken,
    /// Tunnels of upgraded connections (waited for at shutdown).
    pub(crate) tasks: TaskTracker,
}

/// Who is at the other end of a connection.
pub(crate) struct Peer {
    pub(crate) address: std::net::SocketAddr,
    pub(crate) certificate: PeerCertificate,
}

/// What the connection's client certificate says.
pub(crate) enum PeerCertificate {
    None,
    User(UserInfo),
    /// Verified, but without a usable CommonName.
    Unusable,
}

pub(crate) async fn handle(state: &State, peer: &Peer, request: Request<Incoming>) -> Response<ProxyBody> {
    match request.uri().path() {
        "/healthz" | "/livez" => return text(StatusCode::OK, "ok"),
        "/readyz" => {
            let ready = *state.readiness.borrow();
            // kube-apiserver answers a failing readyz with 500 (k8s.io/apiserver
            // `pkg/server/healthz/healthz.go` handleRootHealth).
            return if ready {
                text(StatusCode::OK, "ok")
            } else {
                text(StatusCode::INTERNAL_SERVER_ERROR, "readyz check failed")
            };
        }
        _ => {}
    }
    let certificate = match &peer.certificate {
        PeerCertificate::None => None,
        PeerCertificate::User(user) => Some(user),
        // The x509 authenticator rejects an empty CommonName; kube-apiserver then answers 401.
        PeerCertificate::Unusable => return status_response(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized"),
    };
    let caller = match Caller::from_request(certificate, request.headers()) {
        Ok(caller) => caller,
        Err(e) => return status_response(StatusCode::BAD_REQUEST, "BadRequest", &e.to_string()),
    };
    let caller = match impersonation::authorize(&state.upstream, &caller, request.headers()).await {
        Ok(Some(acting)) => acting,
        Ok(None) => caller,
        Err(refused) => return refused,
    };
    let info = RequestInfo::parse(request.method(), request.uri().path(), request.uri().query());
    if let Some(interceptor) = state.interceptors.iter().find(|i| i.wants(&info, &caller)) {
        return intercept(state, interceptor.as_ref(), info, caller, request).await;
    }
    forward(state, caller, info, peer, request).await
}

async fn intercept(
    state: &State,
    interceptor: &dyn Interceptor,
    info: RequestInfo,
    caller: Caller,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let (mut parts, body) = request.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    parts.extensions = http::Extensions::new();
    let body = match Limited::new(body, MAX_INTERCEPTED_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            // kube-apiserver's answer to an oversized body (`pkg/endpoints/handlers/rest.go` limitedReadBody).
            return status_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Request entity too large: limit is {MAX_INTERCEPTED_BODY}"),
            );
        }
        Err(e) => return status_response(StatusCode::BAD_REQUEST, "BadRequest", &crate::error::chain(e.as_ref())),
    };
    let request = Request::from_parts(parts, body);
    match interceptor.handle(InterceptedRequest { info, caller, request }, state.upstream.clone()).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %crate::error::chain(&e), "an interceptor failed");
            status_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                &format!("Internal error occurred: {}", crate::error::chain(&e)),
            )
        }
    }
}

async fn forward(
    state: &State,
    caller: Caller,
    info: RequestInfo,
    peer: &Peer,
    mut request: Request<Incoming>,
) -> Response<ProxyBody> {
    let upgrade = is_upgrade(&request);
    let downstream = upgrade.then(|| hyper::upgrade::on(&mut request));
    let long_running = info.is_long_running(request.uri().query());
    let (parts, body) = request.into_parts();
    let body = if upgrade { status::empty() } else { body.map_err(BoxError::from).boxed_unsync() };
    let mut outgoing = Request::new(body);
    *outgoing.method_mut() = parts.method;
    *outgoing.uri_mut() = parts.uri;
    *outgoing.headers_mut() = parts.headers;
    strip_hop_by_hop(outgoing.headers_mut(), upgrade);
    add_forwarded_for(outgoing.headers_mut(), peer.address);

    let response = match state.upstream.send(&caller, outgoing).await {
        Ok(response) => response,
        Err(e) => return unavailable(&e),
    };
    if let Some(downstream) = downstream
        && response.status() == StatusCode::SWITCHING_PROTOCOLS
    {
        return tunnel(state, downstream, response);
    }
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    let body = body.map_err(BoxError::from).boxed_unsync();
    let body = if long_running { UntilShutdown::new(body, state.shutdown.clone()).boxed_unsync() } else { body };
    Response::from_parts(parts, body)
}

/// 503 with a `Status`, as kube-apiserver's aggregator answers for an unreachable backend.
fn unavailable(error: &UpstreamError) -> Response<ProxyBody> {
    let message = crate::error::chain(error);
    tracing::warn!(error = %message, "forwarding failed");
    status_response(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", &message)
}

/// Answer the client's upgrade with the upstream's 101, then copy bytes both ways until either
/// side closes (or shutdown).
fn tunnel(
    state: &State,
    downstream: hyper::upgrade::OnUpgrade,
    mut response: Response<Incoming>,
) -> Response<ProxyBody> {
    let upstream = hyper::upgrade::on(&mut response);
    let shutdown = state.shutdown.clone();
    state.tasks.spawn(async move {
        let (client, server) = match tokio::try_join!(downstream, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "an upgrade did not complete");
                return;
            }
        };
        let (mut client, mut server) = (TokioIo::new(client), TokioIo::new(server));
        tokio::select! {
            // 64 KiB buffers: port-forwarded bulk transfers move in fewer, larger writes.
            result = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, 64 * 1024, 64 * 1024) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "an upgraded stream ended with an error");
                }
            }
            _ = shutdown.cancelled() => {}
        }
    });
    let (parts, _) = response.into_parts();
    Response::from_parts(parts, status::empty())
}

/// The client's address for the upstream's audit log and events (`X-Forwarded-For`, which
/// kube-apiserver reads for a request's source IPs; upstream's proxy sets it through Go's
/// `httputil.ReverseProxy`).
fn add_forwarded_for(headers: &mut HeaderMap, address: std::net::SocketAddr) {
    let ip = address.ip().to_canonical().to_string();
    let value = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, {ip}"),
        None => ip,
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("x-forwarded-for", value);
    }
}

/// An HTTP/1.1 upgrade (`Connection: Upgrade` and an `Upgrade` protocol): SPDY or WebSocket.
fn is_upgrade(request: &Request<Incoming>) -> bool {
    request.version() <= Version::HTTP_11
        && request.headers().contains_key(UPGRADE)
        && connection_tokens(request.headers()).any(|t| t.eq_ignore_ascii_case("upgrade"))
}

fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Remove what belongs to one connection only (RFC 9110 §7.6.1: `Connection` and the headers
/// it names, and the classic hop-by-hop set), keeping `Connection: Upgrade` and `Upgrade` for an
/// upgrade. `Expect` goes too: the server side already answered `100 Continue`.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> =
        connection_tokens(headers).filter_map(|t| HeaderName::from_bytes(t.as_bytes()).ok()).collect();
    for name in named {
        if !(upgrade && name == UPGRADE) {
            headers.remove(name);
        }
    }
    for name in [TE, TRAILER, TRANSFER_ENCODING, EXPECT, HOST, http::header::PROXY_AUTHORIZATION] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
    headers.remove(CONNECTION);
    if upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    } else {
        headers.remove(UPGRADE);
    }
}

/// A streamed body that ends (cleanly, between frames) when shutdown starts: watch clients then
/// re-establish their watch against the next server.
struct UntilShutdown {
    inner: ProxyBody,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
    ended: bool,
}

impl UntilShutdown {
    fn new(inner: ProxyBody, shutdown: CancellationToken) -> UntilShutdown {
        UntilShutdown { inner, shutdown: Box::pin(shutdown.cancelled_owned()), ended: false }
    }
}

impl Body for UntilShutdown {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if this.shutdown.as_mut().poll(cx).is_ready() {
            this.ended = true;
            return Poll::Ready(None);
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECTION, HeaderValue::from_static("keep-alive, X-Private, Upgrade"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(UPGRADE, HeaderValue::from_static("SPDY/3.1"));
        headers.insert("x-stream-protocol-version", HeaderValue::from_static("v4.channel.k8s.io"));
        let mut plain = headers.clone();
        strip_hop_by_hop(&mut plain, false);
        assert_eq!(plain.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-stream-protocol-version"]);
        strip_hop_by_hop(&mut headers, true);
        let mut kept: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["connection", "upgrade", "x-stream-protocol-version"]);
    }
}
