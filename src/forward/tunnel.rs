//! One local TCP connection carried to a pod's port over `pods/<name>/portforward`, as a WebSocket
//! with the `v4.channel.k8s.io` framing kube-apiserver proxies to the kubelet
//! (kubernetes `pkg/kubelet/cri/streaming/portforward/websocket.go`): every binary message starts
//! with a channel byte, channel 0 carries the port's data and channel 1 its error text, and the
//! first message on each channel is the port number (2 bytes, little endian).
//!
//! kube's `Portforwarder` speaks the same protocol, but through 4 KiB reads, an extra channel hop
//! and a flush per message; this pump moves up to 256 KiB per message straight between the socket
//! and the WebSocket, which is what lets a forward run near the speed of the connection.
//! The v4 protocol has no half-close: the local side's EOF closes the WebSocket (as kube and the
//! kubelet treat it), after which data still arriving from the pod is delivered until it closes.

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use super::error::ForwardError;

/// Largest payload read from the local socket into one message.
const CHUNK: usize = 256 * 1024;

/// Carry `local` to `port` of pod `namespace/pod` until either side closes.
pub(crate) async fn carry(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    port: u16,
    local: TcpStream,
) -> Result<(), ForwardError> {
    let request = kube::core::Request::new(format!("/api/v1/namespaces/{namespace}/pods"))
        .portforward(pod, &[port])
        .map_err(|e| ForwardError::Protocol(e.to_string()))?;
    let connection =
        client.connect(request).await.map_err(|source| ForwardError::Open { pod: pod.to_owned(), source })?;
    let (mut sink, mut stream) = connection.into_stream().split();
    let (mut read, mut write) = local.into_split();

    let upstream = async {
        loop {
            let mut frame = Vec::with_capacity(CHUNK + 1);
            frame.push(0u8);
            let n = read.read_buf(&mut frame).await?;
            if n == 0 {
                // Local EOF: close; the pod's remaining data still arrives (see the module docs).
                sink.send(Message::Close(None)).await?;
                return Ok::<(), ForwardError>(());
            }
            sink.send(Message::binary(frame)).await?;
        }
    };
    let downstream = async {
        let mut opened = [false; 2];
        let mut error = Vec::new();
        while let Some(message) = stream.next().await {
            let payload = match message? {
                Message::Binary(payload) => payload,
                Message::Close(_) => break,
                // Pings are answered by the WebSocket layer; text is not used by this protocol.
                _ => continue,
            };
            let Some((&channel, data)) = payload.split_first() else { continue };
            let index = usize::from(channel);
            if index > 1 {
                return Err(ForwardError::Protocol(format!("channel {channel}")));
            }
            if !opened[index] {
                // The port number announcing the channel.
                opened[index] = true;
                continue;
            }
            if index == 1 {
                error.extend_from_slice(data);
                continue;
            }
            if write.write_all(data).await.is_err() {
                // The local side went away; nothing more to deliver.
                break;
            }
        }
        let _ = write.shutdown().await;
        if error.is_empty() { Ok(()) } else { Err(ForwardError::Pod(String::from_utf8_lossy(&error).into_owned())) }
    };
    tokio::pin!(upstream, downstream);
    // Downstream decides the end: it sees the pod close (or fail). Upstream ending first (local EOF
    // or a send error) only stops reading locally.
    tokio::select! {
        result = &mut downstream => result,
        up = &mut upstream => {
            up?;
            downstream.await
        }
    }
}
