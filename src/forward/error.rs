//! Why a port-forward, or the background forwarder, failed.

use std::path::PathBuf;
use std::time::Duration;

use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot start the port-forwarder: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("the port-forwarder failed: {message} (log: {})", log.display())]
    Failed { message: String, log: PathBuf },
    #[error("the port-forwarder did not report within {}s (log: {})", waited.as_secs(), log.display())]
    Silent { log: PathBuf, waited: Duration },
    #[error("cannot stop the port-forward of vcluster {name} in namespace {namespace}: {source}")]
    Stop {
        name: String,
        namespace: String,
        #[source]
        source: StateError,
    },
    #[error("cannot open the port-forward to pod {pod}: {source}")]
    Open {
        pod: String,
        #[source]
        source: kube::Error,
    },
    /// The kubelet's error channel: the port could not be reached in the pod.
    #[error("{0}")]
    Pod(String),
    #[error("the port-forward connection failed: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the local connection failed: {0}")]
    Local(#[from] std::io::Error),
    #[error("unexpected port-forward message: {0}")]
    Protocol(String),
}
