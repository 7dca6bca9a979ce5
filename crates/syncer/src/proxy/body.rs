//! The body and error types of streamed requests and responses.

/// The body type of requests and responses the proxy handles.
pub type ProxyBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;
/// Errors of streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
