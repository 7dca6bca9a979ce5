//! Why applying the CoreDNS bundle failed.

use std::path::PathBuf;

use super::template;

/// Why one attempt failed (the attempt is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CorednsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}")]
    Template {
        path: PathBuf,
        #[source]
        source: template::TemplateError,
    },
    #[error("the filled-in bundle is not YAML")]
    Yaml(#[source] serde_saphyr::Error),
    #[error("object {index} of the bundle: {reason}")]
    Object { index: usize, reason: String },
    #[error("cannot resolve {api_version}/{kind} in the virtual cluster")]
    Discovery {
        api_version: String,
        kind: String,
        #[source]
        source: kube::Error,
    },
    #[error("{verb} {kind} {name}")]
    Apply {
        verb: &'static str,
        kind: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("{} of {} objects failed; first: {}", .0.len(), .1, crate::error::chain(&.0[0]))]
    Several(Vec<CorednsError>, usize),
}
