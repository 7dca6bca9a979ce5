//! The client side: pooled HTTP/1.1 connections to the virtual API server, two kinds of them.
//!
//! - *admin* connections present the upstream's own credentials (k3s's admin client certificate,
//!   or its token through kube's auth layer) and carry requests the proxy vouches for with
//!   `Impersonate-*` headers (upstream loft-sh/vcluster v0.15.x `pkg/server/handler/handler.go`
//!   `ImpersonatingHandler` does the same with client-go's impersonating round tripper);
//! - *plain* connections verify the upstream's certificate but present no client certificate
//!   and no token: bearer-token and anonymous requests travel there, so the upstream
//!   authenticates exactly what the caller sent and the admin identity can never be lent to them
//!   (TLS client authentication is per connection, so one pool per identity kind is required).

use std::future::Future;

use futures::TryFutureExt as _;
use futures::future::BoxFuture;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::header::AUTHORIZATION;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::client::ConfigExt as _;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt as _};

use super::body::{BoxError, ProxyBody};
use super::error::ProxyError;
use super::identity::{Caller, Credentials, is_impersonation_header};

type Connector = TimeoutConnector<hyper_rustls::HttpsConnector<HttpConnector>>;
type AdminService = BoxCloneSyncService<Request<ProxyBody>, Response<Incoming>, BoxError>;

/// The virtual API server, reachable as any caller.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    scheme: Scheme,
    authority: Authority,
    /// The server URL's path without its trailing `/` (Rancher-style `/k8s/clusters/x`).
    base_path: String,
    admin: AdminService,
    plain: Client<Connector, ProxyBody>,
}

/// A request the upstream did not answer.
#[derive(Debug, thiserror::Error)]
#[error("the virtual cluster's API server {url} did not answer")]
pub struct UpstreamError {
    url: String,
    #[source]
    source: BoxError,
}

impl UpstreamError {
    /// Whether connecting failed (or timed out): nothing reached the upstream.
    pub fn is_connect(&self) -> bool {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(self.source.as_ref());
        while let Some(e) = source {
            if e.downcast_ref::<ConnectTimeout>().is_some()
                || e.downcast_ref::<hyper_util::client::legacy::Error>().is_some_and(|e| e.is_connect())
            {
                return true;
            }
            source = e.source();
        }
        false
    }
}

impl Upstream {
    pub(crate) fn new(config: &kube::Config, connect_timeout: Duration) -> Result<Upstream, ProxyError> {
        let url = config.cluster_url.to_string();
        let err = |source: BoxError| ProxyError::Upstream { url: url.clone(), source };
        let (Some(scheme), Some(authority)) =
            (config.cluster_url.scheme().cloned(), config.cluster_url.authority().cloned())
        else {
            return Err(err("the server URL has no scheme or host".into()));
        };
        let base_path = config.cluster_url.path().trim_end_matches('/').to_string();

        let mut builder = Client::builder(TokioExecutor::new());
        builder.pool_timer(TokioTimer::new()).pool_idle_timeout(Duration::from_secs(90));
        let connector = |config: &kube::Config| -> Result<Connector, ProxyError> {
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            http.set_connect_timeout(Some(connect_timeout));
            let https = config.rustls_https_connector_with_connector(http).map_err(|e| err(e.into()))?;
            Ok(TimeoutConnector { inner: https, timeout: connect_timeout })
        };

        let admin_client: Client<Connector, ProxyBody> = builder.build(connector(config)?);
        let auth = config.auth_layer().map_err(|e| err(e.into()))?;
        let admin = BoxCloneSyncService::new(
            ServiceBuilder::new().option_layer(auth).service(admin_client.map_err(BoxError::from)),
        );

        // Same server, CA and server name; no client certificate, token or exec plugin.
        let mut anonymous = config.clone();
        anonymous.auth_info = kube::config::AuthInfo::default();
        let plain = builder.build(connector(&anonymous)?);

        Ok(Upstream { inner: Arc::new(Inner { url, scheme, authority, base_path, admin, plain }) })
    }

    /// The server URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Send `request` (its URI's path and query; method, headers and body as they are) to the
    /// virtual API server as `caller`: with admin credentials and the caller's `Impersonate-*`
    /// headers for user identities (its own `Authorization` and `Impersonate-*` replaced), or with
    /// the caller's own `Authorization` (or none) over a connection without admin credentials.
    pub async fn send(
        &self,
        caller: &Caller,
        mut request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        self.target(&mut request)?;
        let headers = request.headers_mut();
        match caller.credentials() {
            Credentials::Impersonate(impersonation) => {
                headers.remove(AUTHORIZATION);
                strip_impersonation(headers);
                for (name, value) in impersonation {
                    headers.append(name.clone(), value.clone());
                }
                self.admin(request).await
            }
            Credentials::Authorization(value) => {
                headers.insert(AUTHORIZATION, value.clone());
                self.plain(request).await
            }
            Credentials::None => {
                headers.remove(AUTHORIZATION);
                self.plain(request).await
            }
        }
    }

    /// Send `request` as the syncer itself (the upstream's admin identity; any `Authorization`
    /// and `Impersonate-*` headers removed). Never use this on a caller's behalf.
    pub async fn send_as_admin(&self, mut request: Request<ProxyBody>) -> Result<Response<Incoming>, UpstreamError> {
        self.target(&mut request)?;
        request.headers_mut().remove(AUTHORIZATION);
        strip_impersonation(request.headers_mut());
        self.admin(request).await
    }

    // Boxed: the erased future keeps rustc from re-checking `Send` for every lifetime of the
    // body's error type in callers' futures (rust-lang/rust#102211).
    fn admin(&self, request: Request<ProxyBody>) -> BoxFuture<'static, Result<Response<Incoming>, UpstreamError>> {
        let service = self.inner.admin.clone();
        let url = self.inner.url.clone();
        Box::pin(service.oneshot(request).map_err(move |source| UpstreamError { url, source }))
    }

    async fn plain(&self, request: Request<ProxyBody>) -> Result<Response<Incoming>, UpstreamError> {
        self.inner.plain.request(request).await.map_err(|e| self.error(e.into()))
    }

    fn error(&self, source: BoxError) -> UpstreamError {
        UpstreamError { url: self.inner.url.clone(), source }
    }

    /// Point the request at the upstream over HTTP/1.1 (the only version pooled here; HTTP/2
    /// callers are translated).
    fn target(&self, request: &mut Request<ProxyBody>) -> Result<(), UpstreamError> {
        let path_and_query = request.uri().path_and_query().map_or("/", PathAndQuery::as_str);
        let path_and_query = format!("{}{}", self.inner.base_path, path_and_query);
        let uri = Uri::builder()
            .scheme(self.inner.scheme.clone())
            .authority(self.inner.authority.clone())
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| self.error(e.into()))?;
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        // The client writes the upstream's Host.
        request.headers_mut().remove(http::header::HOST);
        // A body an interceptor replaced must not travel under the old length.
        if let Some(length) = http_body::Body::size_hint(request.body()).exact()
            && (length > 0 || request.headers().contains_key(http::header::CONTENT_LENGTH))
        {
            request.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
        }
        Ok(())
    }
}

fn strip_impersonation(headers: &mut http::HeaderMap) {
    let names: Vec<_> = headers.keys().filter(|name| is_impersonation_header(name)).cloned().collect();
    for name in names {
        headers.remove(name);
    }
}

/// Connecting (TCP and the TLS handshake) took too long.
#[derive(Debug, thiserror::Error)]
#[error("connecting timed out after {0:?}")]
pub(crate) struct ConnectTimeout(Duration);

/// Bounds the whole connect of `inner` (the TCP connect timeout alone leaves the TLS handshake
/// unbounded).
#[derive(Clone)]
pub(crate) struct TimeoutConnector<C> {
    inner: C,
    timeout: Duration,
}

impl<C> Service<Uri> for TimeoutConnector<C>
where
    C: Service<Uri>,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(ConnectTimeout(timeout).into()),
            }
        })
    }
}
