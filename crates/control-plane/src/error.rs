//! The one error type of the control plane.

/// Everything that can go wrong, with what failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A program could not be built.
    #[error("cannot build {what}: {message}")]
    Build { what: String, message: String },
    /// A program failed to start, exited or did not get ready in time.
    #[error("{program} {what}{}", log_section(.log_tail))]
    Program { program: String, what: String, log_tail: String },
    #[error("{context}: {message}")]
    Io { context: String, message: String },
    #[error("certificates: {0}")]
    Pki(String),
    #[error("Kubernetes API: {0}")]
    Api(String),
}

fn log_section(tail: &str) -> String {
    if tail.is_empty() { String::new() } else { format!("\n--- last lines of its log ---\n{tail}") }
}

impl Error {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |e| Error::Io { context, message: e.to_string() }
    }
}
