//! What the endpoint is configured with.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::intercept::Interceptor;

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
