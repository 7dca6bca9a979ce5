//! The virtual cluster's API endpoint on `--bind-address:--port` (0.0.0.0:8443): what the chart's
//! Services target, what `vcluster connect` reaches through a port-forward, and what the kubelet
//! probes (`/healthz`, `/readyz`).
//!
//! Contract between this module and the rest of the syncer (the start-up code calls [`serve`]):
//! - TLS is terminated here with a serving certificate signed by the virtual cluster's server CA
//!   ([`ProxyConfig::server_ca`]) for the names and addresses in [`ProxyConfig::sans`]; a change
//!   of that set re-issues the certificate without a restart.
//! - Requests are forwarded to the virtual API server ([`ProxyConfig::upstream`]) keeping the
//!   caller's identity: client certificates are verified against [`ProxyConfig::client_ca_pem`]
//!   and become impersonation of their subject (CN = user, O = groups); bearer tokens are passed
//!   through unchanged; anonymous requests stay anonymous. Watches and upgraded streams (exec,
//!   attach, port-forward over SPDY or WebSocket) pass through.
//! - `/healthz` answers 200 while the process serves; `/readyz` answers 200 only while
//!   `readiness` holds `true` (unauthenticated, as kubelet probes are).
//! - [`serve`] returns when `shutdown` is cancelled, after in-flight requests end.
//!
//! Not implemented yet: this file holds the contract only.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

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
    /// The virtual API server, with credentials allowed to impersonate (k3s's admin kubeconfig).
    pub upstream: kube::Config,
    /// Signs the serving certificate (k3s: `/data/server/tls/server-ca.{crt,key}`).
    pub server_ca: CaMaterial,
    /// Verifies client certificates (k3s: `/data/server/tls/client-ca.crt`).
    pub client_ca_pem: String,
    /// DNS names and IP addresses the serving certificate covers; updated by the syncer as the
    /// host Services and load balancers change.
    pub sans: watch::Receiver<BTreeSet<String>>,
}

/// Why the endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the API endpoint is not implemented yet")]
    NotImplemented,
}

/// Serve until `shutdown` is cancelled.
pub async fn serve(
    _config: ProxyConfig,
    _readiness: watch::Receiver<bool>,
    _shutdown: CancellationToken,
) -> Result<(), ProxyError> {
    Err(ProxyError::NotImplemented)
}
