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

mod body;
mod config;
mod error;
mod handler;
mod identity;
mod impersonation;
mod intercept;
mod request_info;
mod server;
mod status;
mod tls;
mod upstream;

pub use body::{BoxError, ProxyBody};
pub use config::{CaMaterial, ProxyConfig};
pub use error::ProxyError;
pub use identity::{Caller, Identity, UserInfo};
pub use intercept::{InterceptError, InterceptedRequest, Interceptor, MAX_INTERCEPTED_BODY};
pub use request_info::RequestInfo;
pub use server::{Proxy, bind, serve};
pub use status::status_response;
pub use upstream::{Upstream, UpstreamError};
