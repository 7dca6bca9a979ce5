//! What a handler answers: a status code, a content type and a body (whole or streamed),
//! with warnings and extra headers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::model::status::ApiError;

/// Response bodies; an error aborts the connection (how a dropped connection is injected).
pub type Body = BoxBody<Bytes, std::io::Error>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub struct Reply {
    pub code: u16,
    pub content_type: String,
    pub body: Body,
    pub warnings: Vec<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(code: u16, value: &Value, pretty: bool) -> Reply {
        Reply::typed(code, "application/json", value, pretty)
    }
    pub fn typed<T: serde::Serialize + ?Sized>(code: u16, content_type: &str, value: &T, pretty: bool) -> Reply {
        let mut bytes =
            if pretty { serde_json::to_vec_pretty(value) } else { serde_json::to_vec(value) }.expect("JSON");
        bytes.push(b'\n');
        Reply::raw(code, content_type, bytes)
    }
    /// A body as Go's `http.Error` writes it (plain text, newline-terminated).
    pub fn text(code: u16, text: &str) -> Reply {
        Reply::raw(code, "text/plain; charset=utf-8", format!("{text}\n").into_bytes())
    }
    pub fn raw(code: u16, content_type: &str, bytes: impl Into<Bytes>) -> Reply {
        Reply { code, content_type: content_type.into(), body: full(bytes), warnings: Vec::new(), headers: Vec::new() }
    }
    pub fn error(e: &ApiError) -> Reply {
        Reply::json(e.code, &e.status(), false)
    }
}

/// A streaming body fed by a channel.
pub fn channel_body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    StreamBody::new(stream).boxed()
}

/// A watch event line, `{"type":…,"object":…}` (metav1.WatchEvent's field order). Written
/// around the object rather than through a `json!` envelope, which would deep-copy it first.
pub fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = Vec::with_capacity(1024);
    line.extend_from_slice(b"{\"type\":");
    serde_json::to_writer(&mut line, kind).expect("JSON");
    line.extend_from_slice(b",\"object\":");
    serde_json::to_writer(&mut line, object).expect("JSON");
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_line_is_the_watch_event_as_one_json_line() {
        let object = serde_json::json!({ "kind": "Service", "metadata": { "name": "a\"b" } });
        let line = event_line("ADDED", &object);
        assert_eq!(
            &line[..],
            b"{\"type\":\"ADDED\",\"object\":{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\\\"b\"}}}\n"
        );
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed, serde_json::json!({ "type": "ADDED", "object": object }));
    }
}
