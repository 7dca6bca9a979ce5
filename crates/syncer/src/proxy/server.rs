//! Accepting connections, TLS, HTTP/1.1 and HTTP/2, certificate re-issue and shutdown.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::config::ProxyConfig;
use super::error::ProxyError;
use super::handler::{self, Peer, PeerCertificate, State};
use super::identity::certificate_user;
use super::intercept::Interceptor;
use super::tls::{RENEW_AFTER, ServingTls};
use super::upstream::Upstream;

/// A bound endpoint, not serving yet.
pub struct Proxy {
    listener: tokio::net::TcpListener,
    upstream: Upstream,
    interceptors: Vec<Arc<dyn Interceptor>>,
    tls: Arc<ServingTls>,
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
        run(self, readiness, shutdown).await
    }
}

/// Check the configuration, issue the first serving certificate and listen.
pub async fn bind(config: ProxyConfig) -> Result<Proxy, ProxyError> {
    let mut sans = config.sans;
    // Marked seen: any change from here on re-issues.
    let issued_sans = sans.borrow_and_update().clone();
    let tls =
        Arc::new(ServingTls::new(&config.server_ca, &config.client_ca_pem, &config.cluster_domain, &issued_sans)?);
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

/// A client that does not finish its TLS handshake in this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn run(
    proxy: Proxy,
    readiness: watch::Receiver<bool>,
    shutdown: CancellationToken,
) -> Result<(), ProxyError> {
    let Proxy { listener, upstream, interceptors, tls, sans, issued_sans, shutdown_grace } = proxy;
    let tasks = TaskTracker::new();
    let hard_stop = CancellationToken::new();
    let state = Arc::new(State { upstream, interceptors, readiness, shutdown: shutdown.clone(), tasks: tasks.clone() });
    tasks.spawn(reissue(tls.clone(), sans, issued_sans, shutdown.clone()));

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(30));
    // kube-apiserver's and upstream's HTTP2MaxStreamsPerConnection (`pkg/server/server.go`).
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(1000);
    let builder = Arc::new(builder);
    tracing::info!(address = ?listener.local_addr().ok(), upstream = state.upstream.url(), "serving the virtual cluster's API");

    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = connection(stream, peer, tls.clone(), builder.clone(), state.clone(), hard_stop.clone());
                    tasks.spawn(connection);
                }
                Err(e) => {
                    // Out of file descriptors and the like: let in-flight work drain a little.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            }
        }
    }
    drop(listener);
    tasks.close();
    if tokio::time::timeout(shutdown_grace, tasks.wait()).await.is_err() {
        tracing::info!(grace = ?shutdown_grace, "requests still in flight after the shutdown grace; closing their connections");
        hard_stop.cancel();
        tasks.wait().await;
    }
    Ok(())
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Arc<ServingTls>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    state: Arc<State>,
    hard_stop: CancellationToken,
) {
    // Small frames (watch events, exec keystrokes) go out at once.
    let _ = stream.set_nodelay(true);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let certificate = match stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()) {
        None => PeerCertificate::None,
        Some(der) => certificate_user(der).map_or(PeerCertificate::Unusable, PeerCertificate::User),
    };
    let peer_info = Arc::new(Peer { address: peer, certificate });
    let shutdown = state.shutdown.clone();
    let service = service_fn(move |request| {
        let state = state.clone();
        let peer = peer_info.clone();
        async move { Ok::<_, Infallible>(handler::handle(&state, &peer, request).await) }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        _ = shutdown.cancelled() => {}
    }
    // Idle HTTP/1.1 connections close, HTTP/2 clients get GOAWAY; in-flight requests finish
    // (watches end by themselves at shutdown) unless the grace runs out.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = hard_stop.cancelled() => {}
    }
}

/// Re-issue the serving certificate when the SANs change, and before it expires.
async fn reissue(
    tls: Arc<ServingTls>,
    mut sans: watch::Receiver<BTreeSet<String>>,
    mut issued: BTreeSet<String>,
    shutdown: CancellationToken,
) {
    let mut renew_at = Instant::now() + RENEW_AFTER;
    let mut watching = true;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = sans.changed(), if watching => {
                if changed.is_err() {
                    // The syncer dropped the sender: the set stays as it is.
                    watching = false;
                    continue;
                }
                let current = sans.borrow_and_update().clone();
                if current == issued {
                    continue;
                }
                issued = current;
            }
            _ = tokio::time::sleep_until(renew_at) => {}
        }
        match tls.reissue(&issued) {
            Ok(()) => renew_at = Instant::now() + RENEW_AFTER,
            Err(e) => {
                tracing::error!(error = %crate::error::chain(&e), "cannot re-issue the serving certificate; serving the previous one");
                renew_at = Instant::now() + Duration::from_secs(60);
            }
        }
    }
}
