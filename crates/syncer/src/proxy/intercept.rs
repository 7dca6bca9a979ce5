//! Hooks consulted before a request is forwarded: the Service create/update redirect (`src/redirect.rs`)
//! (loft-sh/vcluster v0.15.x `pkg/server/filters/service.go` `WithServiceCreateRedirect`: create
//! the host Service first, then the virtual one with the host's cluster IP as the caller).

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response};

use super::body::ProxyBody;
use super::identity::Caller;
use super::request_info::RequestInfo;
use super::upstream::Upstream;

/// The largest body handed to an interceptor (kube-apiserver's `MaxRequestBodyBytes`, 3 MiB);
/// a larger one is answered 413 without calling it.
pub const MAX_INTERCEPTED_BODY: usize = 3 * 1024 * 1024;

/// A request taken over by an [`Interceptor`], body read.
#[derive(Debug)]
pub struct InterceptedRequest {
    pub info: RequestInfo,
    /// Who sent it; pass it to [`Upstream::send`] to act with the caller's identity.
    pub caller: Caller,
    /// Method, URI (path and query as received), headers (hop-by-hop ones removed) and body.
    pub request: Request<Bytes>,
}

/// Why an interceptor could not answer; the caller gets a 500 `Status` with this chain (use
/// [`super::status_response`] for answers the caller should see as Kubernetes errors, e.g. 409).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InterceptError {
    pub message: String,
    #[source]
    pub source: Option<super::body::BoxError>,
}

/// Handles some requests itself instead of the plain forward.
pub trait Interceptor: Send + Sync + 'static {
    /// Whether to take `request` over; decided before its body is read, so keep it cheap.
    fn wants(&self, request: &RequestInfo, caller: &Caller) -> bool;

    /// Answer the request. `upstream` reaches the virtual API server: [`Upstream::send`] with
    /// `request.caller` keeps the caller's identity (RBAC and admission inside the virtual
    /// cluster apply); [`Upstream::send_as_admin`] is the syncer's own identity.
    fn handle(
        &self,
        request: InterceptedRequest,
        upstream: Upstream,
    ) -> BoxFuture<'static, Result<Response<ProxyBody>, InterceptError>>;
}
