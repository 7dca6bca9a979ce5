//! The errors of starting and driving a simulator.

use std::path::PathBuf;

/// Why a simulator could not start, or a test control failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulator configuration: {0}")]
    Config(String),
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("cannot write the kubeconfig {path}: {source}")]
    Kubeconfig { path: PathBuf, source: std::io::Error },
    #[error("cannot seed objects: {0}")]
    Seed(String),
    #[error("cannot build a client for the simulator: {0}")]
    Client(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("test control failed: {0}")]
    Control(String),
}
