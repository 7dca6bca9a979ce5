//! Kubernetes `Status` answers (k8s.io/apimachinery `pkg/apis/meta/v1` `Status`), the way
//! kube-apiserver writes errors, so clients show the message.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use super::body::ProxyBody;

/// A `Status` failure response: `code`, `reason` (e.g. `ServiceUnavailable`) and `message`.
pub fn status_response(code: StatusCode, reason: &str, message: &str) -> Response<ProxyBody> {
    status_with_details(code, reason, message, None)
}

pub(crate) fn status_with_details(
    code: StatusCode,
    reason: &str,
    message: &str,
    details: Option<serde_json::Value>,
) -> Response<ProxyBody> {
    let mut status = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    if let Some(details) = details {
        status["details"] = details;
    }
    let mut response = Response::new(full(status.to_string()));
    *response.status_mut() = code;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A plain-text response (health checks).
pub(crate) fn text(code: StatusCode, body: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = code;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

pub(crate) fn full(body: impl Into<Bytes>) -> ProxyBody {
    Full::new(body.into()).map_err(|never| match never {}).boxed_unsync()
}

pub(crate) fn empty() -> ProxyBody {
    full(Bytes::new())
}
