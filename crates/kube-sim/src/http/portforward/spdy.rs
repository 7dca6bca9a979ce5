//! SPDY/3.1 port-forwarding as kubectl speaks it: the server side of moby/spdystream's
//! framing (SPDY/3 draft, frames and the zlib-compressed header blocks with the protocol's
//! preset dictionary) and of the kubelet's stream pairing
//! (pkg/kubelet/cri/streaming/portforward/httpstream.go: each forwarded connection opens an
//! error stream and a data stream carrying the headers `streamType`, `port` and `requestID`;
//! the server replies to both, dials the port, writes a failure on the error stream, and
//! closes both streams when forwarding ends).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::mpsc;
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateError, InflateFlush};

use super::backend::{Pod, chunks, closed};
use crate::http::reply::Reply;

/// pkg/kubelet/cri/streaming/portforward/constants.go `ProtocolV1Name`.
const PROTOCOL: &str = "portforward.k8s.io";

/// Raw SPDY after an HTTP upgrade (staging/src/k8s.io/apimachinery/pkg/util/httpstream:
/// `Handshake` negotiates `X-Stream-Protocol-Version`; spdy/upgrade.go answers 101 with
/// `Upgrade: SPDY/3.1`).
pub fn upgrade(pod: Pod, mut req: Request<Incoming>) -> Reply {
    let offered: Vec<String> = req
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    if offered.is_empty() {
        return Reply::text(400, "unable to upgrade: X-Stream-Protocol-Version is required");
    }
    if !offered.iter().any(|p| p == PROTOCOL) {
        let mut reply = Reply::text(
            403,
            &format!(
                "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{PROTOCOL}]",
                offered.join(" ")
            ),
        );
        reply.headers.push(("X-Accepted-Stream-Protocol-Versions", PROTOCOL.into()));
        return reply;
    }
    let upgrade = hyper::upgrade::on(&mut req);
    let shared = pod.shared.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        tokio::select! {
            _ = serve(pod, TokioIo::new(upgraded)) => {}
            _ = closed(&shared) => {}
        }
    });
    let mut reply = Reply::raw(101, "", Bytes::new());
    reply.headers.push(("Connection", "Upgrade".into()));
    reply.headers.push(("Upgrade", "SPDY/3.1".into()));
    reply.headers.push(("X-Stream-Protocol-Version", PROTOCOL.into()));
    reply
}

// SPDY/3 control frame types and flags.
const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const FLAG_FIN: u8 = 0x01;

fn control_frame(kind: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&[0x80, 0x03]);
    frame.extend_from_slice(&kind.to_be_bytes());
    frame.push(flags);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    frame.extend_from_slice(payload);
    frame
}

fn data_frame(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    frame.push(flags);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    frame.extend_from_slice(payload);
    frame
}

/// The SPDY/3 header-compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1;
/// moby/spdystream spdy/dictionary.go): length-prefixed header names and values, then
/// common value fragments. 1,423 bytes.
fn dictionary() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
    ];
    const TAIL: &[&str] = &[
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized",
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable",
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,",
        "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.",
    ];
    let mut dict = Vec::with_capacity(1423);
    for w in WORDS {
        dict.extend_from_slice(&(w.len() as u32).to_be_bytes());
        dict.extend_from_slice(w.as_bytes());
    }
    for t in TAIL {
        dict.extend_from_slice(t.as_bytes());
    }
    dict
}

/// One zlib stream per direction and connection, flushed after every header block.
struct HeaderCodec {
    dictionary: Vec<u8>,
    inflate: Inflate,
    deflate: Deflate,
}

impl HeaderCodec {
    fn new() -> Result<HeaderCodec, String> {
        let dictionary = dictionary();
        let mut deflate = Deflate::new(6, true, 15);
        deflate.set_dictionary(&dictionary).map_err(|e| e.as_str().to_string())?;
        Ok(HeaderCodec { dictionary, inflate: Inflate::new(true, 15), deflate })
    }

    fn decode(&mut self, block: &[u8]) -> Result<HashMap<String, String>, String> {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let mut pos = 0;
        loop {
            let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
            match self.inflate.decompress(&block[pos..], &mut buf, InflateFlush::SyncFlush) {
                Ok(_) => {}
                Err(InflateError::NeedDict { .. }) => {
                    self.inflate.set_dictionary(&self.dictionary).map_err(|e| e.as_str().to_string())?;
                }
                Err(e) => return Err(format!("header block: {}", e.as_str())),
            }
            let consumed = (self.inflate.total_in() - before_in) as usize;
            let produced = (self.inflate.total_out() - before_out) as usize;
            pos += consumed;
            raw.extend_from_slice(&buf[..produced]);
            if (pos >= block.len() && produced < buf.len()) || (consumed == 0 && produced == 0 && pos >= block.len()) {
                break;
            }
        }
        parse_headers(&raw)
    }

    fn encode(&mut self, headers: &[(&str, &str)]) -> Result<Vec<u8>, String> {
        let mut raw = Vec::new();
        raw.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            for s in [name, value] {
                raw.extend_from_slice(&(s.len() as u32).to_be_bytes());
                raw.extend_from_slice(s.as_bytes());
            }
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let mut pos = 0;
        loop {
            let (before_in, before_out) = (self.deflate.total_in(), self.deflate.total_out());
            self.deflate
                .compress(&raw[pos..], &mut buf, DeflateFlush::SyncFlush)
                .map_err(|e| e.as_str().to_string())?;
            pos += (self.deflate.total_in() - before_in) as usize;
            let produced = (self.deflate.total_out() - before_out) as usize;
            out.extend_from_slice(&buf[..produced]);
            if pos >= raw.len() && produced < buf.len() {
                return Ok(out);
            }
        }
    }
}

/// A decompressed header block: a count, then length-prefixed names and values (several
/// values of one name are NUL-separated; the first is kept).
fn parse_headers(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    struct Cursor<'a>(&'a [u8]);
    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if self.0.len() < n {
                return Err("truncated header block".into());
            }
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }
        fn length(&mut self) -> Result<usize, String> {
            let b = self.take(4)?;
            Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        }
        fn string(&mut self) -> Result<String, String> {
            let n = self.length()?;
            Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
        }
    }
    let mut cursor = Cursor(raw);
    let count = cursor.length()?;
    let mut headers = HashMap::new();
    for _ in 0..count {
        let name = cursor.string()?.to_ascii_lowercase();
        let value = cursor.string()?;
        headers.insert(name, value.split('\0').next().unwrap_or_default().to_string());
    }
    Ok(headers)
}

/// The streams of one forwarded connection, paired by `requestID`.
#[derive(Default)]
struct Pair {
    port: u16,
    data: Option<(u32, mpsc::Receiver<Bytes>)>,
    error: Option<u32>,
}

/// Serve one SPDY session on `io` until the client goes away.
pub async fn serve<S: AsyncRead + AsyncWrite + Send + 'static>(pod: Pod, io: S) {
    let (mut read, mut write) = tokio::io::split(io);
    let (out, mut outbound) = mpsc::channel::<Vec<u8>>(256);
    let writer = async move {
        while let Some(frame) = outbound.recv().await {
            if write.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    };
    let reader = async move {
        let Ok(mut codec) = HeaderCodec::new() else { return };
        let mut pairs: HashMap<String, Pair> = HashMap::new();
        let mut to_backend: HashMap<u32, mpsc::Sender<Bytes>> = HashMap::new();
        let mut header = [0u8; 8];
        loop {
            if read.read_exact(&mut header).await.is_err() {
                return;
            }
            let flags = header[4];
            let len = u32::from_be_bytes([0, header[5], header[6], header[7]]) as usize;
            let mut payload = vec![0u8; len];
            if read.read_exact(&mut payload).await.is_err() {
                return;
            }
            if header[0] & 0x80 == 0 {
                // A data frame: bytes for a data stream's backend; FIN half-closes it.
                let stream = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
                if let Some(tx) = to_backend.get(&stream)
                    && !payload.is_empty()
                    && tx.send(Bytes::from(payload)).await.is_err()
                {
                    to_backend.remove(&stream);
                }
                if flags & FLAG_FIN != 0 {
                    to_backend.remove(&stream);
                }
                continue;
            }
            let stream_of = |p: &[u8]| p.get(..4).map(|b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]));
            match u16::from_be_bytes([header[2], header[3]]) {
                SYN_STREAM if payload.len() >= 10 => {
                    let Some(stream) = stream_of(&payload) else { continue };
                    let Ok(headers) = codec.decode(&payload[10..]) else { return };
                    let Ok(block) = codec.encode(&[]) else { return };
                    let mut reply = stream.to_be_bytes().to_vec();
                    reply.extend(block);
                    if out.send(control_frame(SYN_REPLY, 0, &reply)).await.is_err() {
                        return;
                    }
                    let id = headers.get("requestid").cloned().unwrap_or_default();
                    let pair = pairs.entry(id.clone()).or_default();
                    pair.port = headers.get("port").and_then(|p| p.parse().ok()).unwrap_or(pair.port);
                    match headers.get("streamtype").map(String::as_str) {
                        Some("data") => {
                            let (tx, rx) = mpsc::channel(64);
                            to_backend.insert(stream, tx);
                            pair.data = Some((stream, rx));
                        }
                        Some("error") => pair.error = Some(stream),
                        _ => {}
                    }
                    if pair.data.is_some() && pair.error.is_some() {
                        let pair = pairs.remove(&id).unwrap_or_default();
                        tokio::spawn(forward(pod.clone(), pair, out.clone()));
                    }
                }
                RST_STREAM => {
                    if let Some(stream) = stream_of(&payload) {
                        to_backend.remove(&stream);
                    }
                }
                PING if out.send(control_frame(PING, 0, &payload)).await.is_err() => return,
                GOAWAY => return,
                // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do (spdystream does no flow control).
                _ => {}
            }
        }
    };
    tokio::select! {
        _ = reader => {}
        _ = writer => {}
    }
}

/// One forwarded connection: dial the port, copy both ways; when one direction ends, give
/// the other a second to finish (containerd's portForward), then close both streams.
async fn forward(pod: Pod, pair: Pair, out: mpsc::Sender<Vec<u8>>) {
    let (Some((data, mut from_client)), Some(error)) = (pair.data, pair.error) else { return };
    match pod.dial(pair.port).await {
        Err(message) => {
            let _ = out.send(data_frame(error, 0, message.as_bytes())).await;
        }
        Ok(conn) => {
            let (backend_read, mut backend_write) = conn.into_split();
            let to_pod = async {
                while let Some(bytes) = from_client.recv().await {
                    if backend_write.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                let _ = backend_write.shutdown().await;
            };
            let from_pod = async {
                let mut from_pod = std::pin::pin!(chunks(backend_read));
                while let Some(chunk) = from_pod.next().await {
                    if out.send(data_frame(data, 0, &chunk)).await.is_err() {
                        break;
                    }
                }
            };
            tokio::pin!(to_pod, from_pod);
            tokio::select! {
                _ = &mut to_pod => { let _ = tokio::time::timeout(Duration::from_secs(1), from_pod).await; }
                _ = &mut from_pod => { let _ = tokio::time::timeout(Duration::from_secs(1), to_pod).await; }
            }
        }
    }
    for stream in [error, data] {
        let _ = out.send(data_frame(stream, FLAG_FIN, &[])).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    #[test]
    fn the_dictionary_is_spdy3s() {
        let dict = dictionary();
        assert_eq!(dict.len(), 1423);
        assert_eq!(
            format!("{:x}", sha2::Sha256::digest(&dict)),
            "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
        );
    }

    #[test]
    fn header_blocks_round_trip_across_frames() {
        let mut server = HeaderCodec::new().unwrap();
        let mut client = HeaderCodec::new().unwrap();
        for id in ["0", "1"] {
            let block = client.encode(&[("streamtype", "data"), ("port", "8443"), ("requestid", id)]).unwrap();
            let headers = server.decode(&block).unwrap();
            assert_eq!(headers["port"], "8443");
            assert_eq!(headers["requestid"], id);
        }
    }
}
