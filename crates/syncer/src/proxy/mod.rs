//! The virtual cluster's API endpoint on `--bind-address:--port` (0.0.0.0:8443): what the chart's
//! Services target, what `vcluster connect` reaches through a port-forward, and what the kubelet
//! probes (`/healthz`, `/readyz`).
//!
//! Contract between this module and the rest of the syncer (the start-up code calls [`serve`], or
//! [`bind`] then [`Proxy::run`] to learn the address and fail early on a bad listener or CA):
//! - TLS is terminated here with a serving certificate signed by the virtual cluster's server CA
//!   ([`ProxyConfig::server_ca`], PKCS#8, SEC1 or PKCS#1 key) for the names and addresses in
//!   [`ProxyConfig::sans`] plus kube-apiserver's defaults (`localhost`, `127.0.0.1`, `kubernetes`,
//!   `kubernetes.default`, `kubernetes.default.svc`, `kubernetes.default.svc.<cluster_domain>`;
//!   loft-sh/vcluster v0.15.x `pkg/server/cert/cert.go`). A change of the set re-issues the
//!   certificate without a restart (new ECDSA P-256 key per issue, one year, renewed after half).
//!   ALPN offers `h2` and `http/1.1`.
//! - Requests are forwarded to the virtual API server ([`ProxyConfig::upstream`]) keeping the
//!   caller's identity ([`Identity`]):
//!   - a client certificate is verified against [`ProxyConfig::client_ca_pem`] at the handshake
//!     (an untrusted one fails the handshake; none is fine) and becomes impersonation of its
//!     subject (`Impersonate-User: <CN>`, one `Impersonate-Group` per O) on a request sent with
//!     the upstream's admin credentials; its own `Authorization` header is dropped (x509 wins, as
//!     in kube-apiserver's union authenticator);
//!   - a certificate user's own `Impersonate-*` headers are honoured only after the upstream
//!     answers a SubjectAccessReview allowing the certificate user to `impersonate` each of them
//!     (kube-apiserver's impersonation filter); otherwise 403, like kube-apiserver;
//!   - any other `Authorization` header (bearer token) is passed through unchanged over a
//!     connection that presents no client certificate and carries no admin credentials, so the
//!     upstream authenticates the token and never sees the admin identity; `Impersonate-*`
//!     headers go along and the upstream checks them for the token's user;
//!   - a request without credentials goes over that same credential-less connection: anonymous.
//!
//!   The client's address is appended to `X-Forwarded-For` (kube-apiserver's source IPs).
//!   Everything passes through: all verbs and paths, query strings, streamed bodies both ways
//!   (watches flushed per chunk), HTTP/1.1 and HTTP/2 clients, and HTTP/1.1 upgrades (exec,
//!   attach, port-forward over SPDY or WebSocket). The upstream is spoken to over HTTP/1.1 with
//!   pooled connections; connecting (TCP and TLS) is bounded by
//!   [`ProxyConfig::connect_timeout`]. An unreachable upstream answers 503 with a Kubernetes
//!   `Status` (`reason: ServiceUnavailable`).
//! - [`ProxyConfig::interceptors`] are consulted, in order, before forwarding (the Service
//!   create redirect): the first whose [`Interceptor::wants`] returns true gets the parsed
//!   request ([`RequestInfo`]), the caller and the body (at most 3 MiB, kube-apiserver's limit),
//!   and answers it, typically through [`Upstream::send`] as the caller.
//! - `/healthz` and `/livez` answer 200 `ok` while the process serves; `/readyz` answers 200 `ok`
//!   only while `readiness` holds `true`, else 500 `readyz check failed` (kube-apiserver's
//!   failing health check status, `k8s.io/apiserver/pkg/server/healthz/healthz.go`). None of
//!   them needs credentials (kubelet probes carry none).
//! - [`serve`] returns when `shutdown` is cancelled: the listener closes at once, idle
//!   connections close, HTTP/2 clients get GOAWAY, watches (and `follow` logs) end cleanly and
//!   upgraded streams close so clients reconnect elsewhere; other in-flight requests get up to
//!   [`ProxyConfig::shutdown_grace`] to finish, then their connections are dropped.
//!
//! Changes to the first contract: [`ProxyConfig::new`] (fills the new fields with defaults),
//! fields `cluster_domain`, `connect_timeout`, `shutdown_grace`, `interceptors`; [`bind`] and
//! [`Proxy`]; [`ProxyError`] variants.
//!
//! Wiring (v0.15.7 flags): `bind` = `--bind-address`:`--port`; `upstream` = the kubeconfig of
//! `--kube-config` (k3s's admin, `/data/k3s-config/kube-config.yaml`); `server_ca` =
//! `/data/server/tls/server-ca.{crt,key}`, `client_ca_pem` = `/data/server/tls/client-ca.crt`
//! (k3s's layout); `cluster_domain` = `--cluster-domain`; `sans` = `--tls-san` values plus the
//! names and addresses upstream puts in its serving certificate (v0.15.7 pkg/certs; service names, ClusterIP, load-balancer ingress,
//! `POD_IP`, …) as the syncer learns them; `readiness` = the syncer's own readiness.
//!
//! Differences from upstream (loft-sh/vcluster v0.15.x `pkg/server/server.go`): upstream
//! authenticates tokens itself (TokenReview) and impersonates their users; here they pass
//! through, so the virtual API server sees the token's own user, uid and extras. Upstream
//! proxies `/healthz` and `/readyz` to k3s; here they answer for the syncer. Not supported yet:
//! WebSockets over HTTP/2 (RFC 8441 extended CONNECT; kubectl and client-go upgrade over
//! HTTP/1.1), HTTP/2 towards the upstream.

mod handler;
mod identity;
mod impersonation;
mod intercept;
mod request_info;
mod server;
mod status;
mod tls;
mod upstream;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use identity::{Caller, Identity, UserInfo};
pub use intercept::{InterceptError, InterceptedRequest, Interceptor, MAX_INTERCEPTED_BODY};
pub use request_info::RequestInfo;
pub use status::status_response;
pub use upstream::{Upstream, UpstreamError};

/// The body type of requests and responses the proxy handles.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;
/// Errors of streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A certificate authority in PEM: the certificate and its private key.
#[derive(Clone)]
pub struct CaMaterial {
    pub cert_pem: String,
    pub key_pem: String,
}

/// What [`serve`] needs.
pub struct ProxyConfig {
    /// Address to listen on (`--bind-address`, `--port`).
    pub bind: SocketAddr,
    /// The virtual API server, with credentials allowed to impersonate (k3s's admin kubeconfig):
    /// its CA, client certificate and key or token (file or exec plugin) are used as configured.
    pub upstream: kube::Config,
    /// Signs the serving certificate (k3s: `/data/server/tls/server-ca.{crt,key}`).
    pub server_ca: CaMaterial,
    /// Verifies client certificates (k3s: `/data/server/tls/client-ca.crt`); empty: client
    /// certificates are not requested.
    pub client_ca_pem: String,
    /// DNS names and IP addresses the serving certificate covers; updated by the syncer as the
    /// host Services and load balancers change.
    pub sans: watch::Receiver<BTreeSet<String>>,
    /// `--cluster-domain`: the serving certificate names `kubernetes.default.svc.<domain>`.
    pub cluster_domain: String,
    /// Bound on connecting to the upstream (TCP and TLS handshake).
    pub connect_timeout: Duration,
    /// How long in-flight requests may run on after `shutdown` before their connections drop.
    pub shutdown_grace: Duration,
    /// Consulted in order before a request is forwarded (the Service create redirect).
    pub interceptors: Vec<Arc<dyn Interceptor>>,
}

impl ProxyConfig {
    /// A configuration with the defaults of the fields that have one: cluster domain
    /// `cluster.local`, 10 s connect timeout, 5 s shutdown grace (the pod's
    /// `terminationGracePeriodSeconds` is 10), no interceptors.
    pub fn new(
        bind: SocketAddr,
        upstream: kube::Config,
        server_ca: CaMaterial,
        client_ca_pem: String,
        sans: watch::Receiver<BTreeSet<String>>,
    ) -> ProxyConfig {
        ProxyConfig {
            bind,
            upstream,
            server_ca,
            client_ca_pem,
            sans,
            cluster_domain: "cluster.local".into(),
            connect_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            interceptors: Vec::new(),
        }
    }
}

/// Why the endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server CA is unusable: {what}")]
    ServerCa {
        what: &'static str,
        #[source]
        source: Option<BoxError>,
    },
    #[error("the client CA (client_ca_pem) is unusable")]
    ClientCa(#[source] BoxError),
    #[error("cannot issue the serving certificate")]
    Issue(#[source] rcgen::Error),
    #[error("cannot configure TLS")]
    Tls(#[source] rustls::Error),
    #[error("cannot build a client for the virtual API server {url}")]
    Upstream {
        url: String,
        #[source]
        source: BoxError,
    },
}

/// A bound endpoint, not serving yet.
pub struct Proxy {
    listener: tokio::net::TcpListener,
    upstream: Upstream,
    interceptors: Vec<Arc<dyn Interceptor>>,
    tls: Arc<tls::ServingTls>,
    sans: watch::Receiver<BTreeSet<String>>,
    issued_sans: BTreeSet<String>,
    shutdown_grace: Duration,
}

impl Proxy {
    /// Where the endpoint listens (the actual port when [`ProxyConfig::bind`] asked for 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serve until `shutdown` is cancelled (see the module documentation).
    pub async fn run(self, readiness: watch::Receiver<bool>, shutdown: CancellationToken) -> Result<(), ProxyError> {
        server::run(self, readiness, shutdown).await
    }
}

/// Check the configuration, issue the first serving certificate and listen.
pub async fn bind(config: ProxyConfig) -> Result<Proxy, ProxyError> {
    let mut sans = config.sans;
    // Marked seen: any change from here on re-issues.
    let issued_sans = sans.borrow_and_update().clone();
    let tls =
        Arc::new(tls::ServingTls::new(&config.server_ca, &config.client_ca_pem, &config.cluster_domain, &issued_sans)?);
    let upstream = Upstream::new(&config.upstream, config.connect_timeout)?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ProxyError::Bind { address: config.bind, source })?;
    Ok(Proxy {
        listener,
        upstream,
        interceptors: config.interceptors,
        tls,
        sans,
        issued_sans,
        shutdown_grace: config.shutdown_grace,
    })
}

/// Serve until `shutdown` is cancelled: [`bind`] then [`Proxy::run`].
pub async fn serve(
    config: ProxyConfig,
    readiness: watch::Receiver<bool>,
    shutdown: CancellationToken,
) -> Result<(), ProxyError> {
    bind(config).await?.run(readiness, shutdown).await
}
