//! The WebSocket side: the upgrade handshake (RFC 6455 with the subprotocol choice of
//! staging/src/k8s.io/apiserver/pkg/util/wsstream/conn.go `handshake`: the first protocol
//! the client lists that the server supports), then either the kubelet's channel protocol
//! or a tunnel carrying SPDY.
//!
//! Channel protocol (pkg/kubelet/cri/streaming/portforward/websocket.go): each requested port
//! `i` has a data channel `2i` and an error channel `2i+1`; every message starts with its
//! channel byte (`v4.base64.channel.k8s.io`: an ASCII digit, then base64 text); the server
//! first writes the port number (2 bytes, little-endian) on both channels of every port.

use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{Message, handshake::derive_accept_key};

use super::backend::{Pod, chunks, closed};
use super::spdy;
use crate::http::reply::Reply;
use crate::model::query::Query;

const BINARY: &str = "v4.channel.k8s.io";
const BASE64: &str = "v4.base64.channel.k8s.io";
/// staging/src/k8s.io/apimachinery/pkg/util/httpstream/wsstream: `constants.WebsocketsSPDYTunnelingPortForwardV1`.
const SPDY_TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Binary,
    Base64,
    SpdyTunnel,
}

pub async fn upgrade(pod: Pod, query: &Query, mut req: Request<Incoming>) -> Reply {
    let header =
        |name: &str| req.headers().get_all(name).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let key = header("sec-websocket-key");
    let offered: Vec<String> =
        header("sec-websocket-protocol").split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    let chosen = if offered.is_empty() {
        Some((String::new(), Framing::Binary))
    } else {
        offered.iter().find_map(|p| match p.as_str() {
            BINARY => Some((p.clone(), Framing::Binary)),
            BASE64 => Some((p.clone(), Framing::Base64)),
            SPDY_TUNNEL => Some((p.clone(), Framing::SpdyTunnel)),
            _ => None,
        })
    };
    let Some((protocol, framing)) = chosen else {
        // golang.org/x/net/websocket answers a refused handshake with a bare 403.
        return Reply::raw(403, "text/plain; charset=utf-8", Bytes::new());
    };
    if key.is_empty() {
        return Reply::text(400, "Bad Request");
    }
    let ports = if framing == Framing::SpdyTunnel {
        Vec::new()
    } else {
        match ports(query) {
            Ok(p) => p,
            Err(e) => return Reply::text(400, &e),
        }
    };
    let upgrade = hyper::upgrade::on(&mut req);
    let shared = pod.shared.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        tokio::select! {
            _ = run(ws, pod, ports, framing) => {}
            _ = closed(&shared) => {}
        }
    });
    let mut reply = Reply::raw(101, "", Bytes::new());
    reply.headers.push(("Upgrade", "websocket".into()));
    reply.headers.push(("Connection", "Upgrade".into()));
    reply.headers.push(("Sec-WebSocket-Accept", derive_accept_key(key.as_bytes())));
    if !protocol.is_empty() {
        reply.headers.push(("Sec-WebSocket-Protocol", protocol));
    }
    reply
}

/// The `ports` parameter (PodPortForwardOptions; a comma-separated list or repeated), with
/// the kubelet's checks (portforward/websocket.go `NewV4Options`).
fn ports(query: &Query) -> Result<Vec<u16>, String> {
    let values = query.0.get("ports").cloned().unwrap_or_default();
    if values.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    let mut out = Vec::new();
    for value in &values {
        for p in value.split(',') {
            let port: u16 = p.trim().parse().map_err(|e| format!("unable to parse {value:?} as a port: {e}"))?;
            if port < 1 {
                return Err(format!("port {value:?} must be > 0"));
            }
            out.push(port);
        }
    }
    Ok(out)
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

async fn run(ws: Ws, pod: Pod, ports: Vec<u16>, framing: Framing) {
    if framing == Framing::SpdyTunnel {
        // The tunnel's binary messages are a byte stream carrying SPDY frames.
        let (local, remote) = tokio::io::duplex(256 * 1024);
        tokio::join!(pump(ws, remote), spdy::serve(pod, local));
        return;
    }
    let (mut sink, mut stream) = ws.split();
    let encode = |channel: u8, data: &[u8]| -> Message {
        if framing == Framing::Base64 {
            use base64::Engine as _;
            let text =
                format!("{}{}", (b'0' + channel) as char, base64::engine::general_purpose::STANDARD.encode(data));
            Message::text(text)
        } else {
            let mut frame = Vec::with_capacity(data.len() + 1);
            frame.push(channel);
            frame.extend_from_slice(data);
            Message::binary(frame)
        }
    };
    enum FromBackend {
        Data(usize, Bytes),
        Eof(usize),
    }
    let (tx, mut rx) = mpsc::channel::<FromBackend>(64);
    let mut writers = Vec::new();
    let mut open = 0;
    for (i, port) in ports.iter().enumerate() {
        let channel = 2 * i as u8;
        for c in [channel, channel + 1] {
            if sink.feed(encode(c, &port.to_le_bytes())).await.is_err() {
                return;
            }
        }
        match pod.dial(*port).await {
            Ok(conn) => {
                let (read, write) = conn.into_split();
                writers.push(Some(write));
                open += 1;
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut from_pod = std::pin::pin!(chunks(read));
                    while let Some(chunk) = from_pod.next().await {
                        if tx.send(FromBackend::Data(i, chunk)).await.is_err() {
                            return;
                        }
                    }
                    let _ = tx.send(FromBackend::Eof(i)).await;
                });
            }
            Err(message) => {
                writers.push(None);
                if sink.send(encode(channel + 1, message.as_bytes())).await.is_err() {
                    return;
                }
            }
        }
    }
    drop(tx);
    while open > 0 {
        tokio::select! {
            message = stream.next() => {
                let frame = match message {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) if framing == Framing::Base64 => {
                        use base64::Engine as _;
                        let t = t.as_str();
                        let Some(channel) = t.bytes().next().map(|c| c.wrapping_sub(b'0')) else { continue };
                        let Ok(data) = base64::engine::general_purpose::STANDARD.decode(&t[1..]) else { continue };
                        let mut frame = vec![channel];
                        frame.extend(data);
                        Bytes::from(frame)
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Some((&channel, data)) = frame.split_first() else { continue };
                // Data written on a data channel goes to that port's backend; the error
                // channels are the server's to write.
                if channel % 2 == 0
                    && let Some(Some(writer)) = writers.get_mut(usize::from(channel / 2))
                    && writer.write_all(data).await.is_err()
                {
                    writers[usize::from(channel / 2)] = None;
                }
            }
            event = rx.recv() => match event {
                Some(FromBackend::Data(i, data)) => {
                    if sink.send(encode(2 * i as u8, &data)).await.is_err() {
                        return;
                    }
                }
                Some(FromBackend::Eof(i)) => {
                    writers[i] = None;
                    open -= 1;
                }
                None => break,
            },
        }
    }
    // Sends a Close frame (or the reply to the client's) and flushes it.
    let _ = sink.close().await;
}

/// Binary WebSocket messages ⇄ a byte stream.
async fn pump(ws: Ws, io: tokio::io::DuplexStream) {
    let (sink, mut stream) = ws.split();
    let (read, mut write) = tokio::io::split(io);
    let inbound = async {
        while let Some(Ok(message)) = stream.next().await {
            match message {
                Message::Binary(b) if write.write_all(&b).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = write.shutdown().await;
    };
    // Forwarding closes the sink at the end (a Close frame).
    let outbound = chunks(read).map(|chunk| Ok(Message::binary(chunk))).forward(sink);
    tokio::select! {
        _ = inbound => {}
        _ = outbound => {}
    }
}
