//! A bound on every request to a cluster: the response (its status line and headers) must arrive
//! within `--request-timeout` (30 s by default), else the request fails with [`NoAnswer`]. A server that accepts
//! connections and never answers would otherwise hold a command forever (kube's client sets no
//! read timeout). Watches, logs and port-forwards answer their headers at once and then stream,
//! so the bound does not cut them; how long they may stream is up to their callers.
//!
//! The figure follows kubectl, whose requests give up after about 30 s against a silent server
//! (kubernetes/kubernetes staging/src/k8s.io/client-go/discovery/discovery_client.go
//! `defaultTimeout = 32 * time.Second`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The bound where no `--request-timeout` reaches (the detached port-forwarder).
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The server did not answer a request within the bound (`--request-timeout`).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the server did not answer within {} (--request-timeout)", shown(*.0))]
pub(crate) struct NoAnswer(pub(crate) Duration);

fn shown(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

/// The layer kube's client stack gets ([`kube::client::ClientBuilder::with_layer`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestTimeout(pub(crate) Duration);

impl<S> tower::Layer<S> for RequestTimeout {
    type Service = Bounded<S>;

    fn layer(&self, inner: S) -> Bounded<S> {
        Bounded { inner, limit: self.0 }
    }
}

/// A service whose every call is bounded.
#[derive(Debug, Clone)]
pub(crate) struct Bounded<S> {
    inner: S,
    limit: Duration,
}

impl<S, R> tower::Service<R> for Bounded<S>
where
    S: tower::Service<R>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let answer = self.inner.call(request);
        let limit = self.limit;
        Box::pin(async move {
            match tokio::time::timeout(limit, answer).await {
                Ok(result) => result.map_err(Into::into),
                Err(_) => Err(Box::new(NoAnswer(limit)) as BoxError),
            }
        })
    }
}
