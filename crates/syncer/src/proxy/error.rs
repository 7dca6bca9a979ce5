//! Why the endpoint could not be served.

use std::net::SocketAddr;

use super::body::BoxError;

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
