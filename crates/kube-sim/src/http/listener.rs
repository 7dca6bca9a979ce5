//! The accept loop: TLS (with the client certificate's identity) or plain HTTP/1.1 with
//! upgrades, each connection served until it ends or the simulator stops listening.

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::tls;
use crate::http::server::{self, Connection};
use crate::shared::Shared;

/// Accept connections (TLS first when configured) until aborted; each connection ends when
/// the simulator stops listening.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    let acceptor = shared.pki.as_ref().map(|p| p.acceptor());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            let mut closing = shared.connection_epoch.subscribe();
            let serving = async {
                match acceptor {
                    Some(acceptor) => {
                        let Ok(tls) = acceptor.accept(stream).await else { return };
                        let certificate = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|certs| certs.first())
                            .and_then(|der| tls::certificate_user(der));
                        serve_http(shared.clone(), Connection { certificate }, tls).await;
                    }
                    None => serve_http(shared.clone(), Connection::default(), stream).await,
                }
            };
            tokio::select! {
                _ = serving => {}
                _ = closing.changed() => {}
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_http<IO>(shared: Arc<Shared>, conn: Connection, io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let conn = Arc::new(conn);
    let service = hyper::service::service_fn(move |req| server::handle(shared.clone(), conn.clone(), req));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .with_upgrades()
        .await;
}
