//! `pods/<name>/portforward` through kube-rs (WebSocket, `v4.channel.k8s.io`) and kubectl 1.33
//! (SPDY/3.1 tunnelled in a WebSocket, and raw SPDY when websockets are turned off), carrying
//! bytes to local echo servers mapped to pod ports.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Kubectl, eventually};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube_sim::{SimConfig, Simulator, Workloads};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A TCP echo server; each connection's bytes come back prefixed with `tag`.
async fn echo(tag: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut first = true;
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if first {
                                first = false;
                                if conn.write_all(tag).await.is_err() {
                                    break;
                                }
                            }
                            if conn.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A simulator with the kubelet on and a running pod `web`, its ports 8080 and 9090 leading
/// to echo servers answering with `A:` and `B:` first.
async fn start_with_echoes(tls: bool) -> (Simulator, Api<Pod>) {
    let (sim, pods) = start(tls).await;
    sim.forward_port("default", "web", 8080, &echo(b"A:").await.to_string());
    sim.forward_port("default", "web", 9090, &echo(b"B:").await.to_string());
    (sim, pods)
}

/// A simulator with the kubelet on and a running pod `web` (ports 8080 and 9090 declared).
async fn start(tls: bool) -> (Simulator, Api<Pod>) {
    let config = SimConfig { tls, workloads: Workloads { enabled: true, ..Default::default() }, ..Default::default() };
    let sim = Simulator::start_with(config).await.unwrap();
    let pods: Api<Pod> = Api::default_namespaced(sim.client().await.unwrap());
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 8080}, {"containerPort": 9090}]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let api = pods.clone();
    eventually(Duration::from_secs(10), || async {
        let p = api.get("web").await.ok()?;
        (p.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await;
    (sim, pods)
}

async fn round_trip<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    send: &[u8],
    expect: &[u8],
) {
    stream.write_all(send).await.unwrap();
    let mut got = vec![0u8; expect.len()];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut got)).await.expect("reply in time").unwrap();
    assert_eq!(got, expect);
}

#[tokio::test]
async fn kube_rs_carries_bytes_both_ways_on_two_ports_and_concurrent_streams() {
    let (sim, pods) = start_with_echoes(false).await;

    let mut pf = pods.portforward("web", &[8080, 9090]).await.unwrap();
    let mut first = pf.take_stream(8080).unwrap();
    let mut second = pf.take_stream(9090).unwrap();
    round_trip(&mut first, b"ping", b"A:ping").await;
    round_trip(&mut second, b"pong", b"B:pong").await;
    // A large payload in both directions.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    round_trip(&mut first, &big, &big).await;

    // Concurrent streams: several port-forward connections at once, interleaved.
    let mut streams = Vec::new();
    for _ in 0..4 {
        let mut pf = pods.portforward("web", &[8080]).await.unwrap();
        streams.push((pf.take_stream(8080).unwrap(), pf));
    }
    for (i, (s, _)) in streams.iter_mut().enumerate() {
        s.write_all(format!("hello {i}").as_bytes()).await.unwrap();
    }
    for (i, (s, _)) in streams.iter_mut().enumerate() {
        let expect = format!("A:hello {i}");
        let mut got = vec![0u8; expect.len()];
        s.read_exact(&mut got).await.unwrap();
        assert_eq!(got, expect.as_bytes());
    }
    drop(first);
    drop(second);
    pf.join().await.unwrap();
    sim.stop().await;
}

#[tokio::test]
async fn unreachable_ports_get_the_kubelets_error_and_unknown_pods_a_404() {
    let (sim, pods) = start(false).await;
    // Port 9090 has no backend; 8080's backend was closed.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    sim.forward_port("default", "web", 8080, &closed.to_string());
    let uid = pods.get("web").await.unwrap().metadata.uid.unwrap();
    let sandbox: String = {
        use sha2::Digest as _;
        sha2::Sha256::digest(uid.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    };
    for port in [8080u16, 9090] {
        let mut pf = pods.portforward("web", &[port]).await.unwrap();
        let error = pf.take_error(port).unwrap();
        let message = tokio::time::timeout(Duration::from_secs(10), error).await.unwrap().expect("an error");
        // kubelet portforward: "error forwarding port %d to pod %s, uid %v: %v" around
        // containerd's refused dial.
        let expected_prefix = format!(
            "error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward in network namespace \"/var/run/netns/cni-"
        );
        assert!(message.starts_with(&expected_prefix), "{message}");
        assert!(
            message.ends_with(&format!(
                "failed to connect to localhost:{port} inside namespace \"{sandbox}\", IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused "
            )),
            "{message}"
        );
    }
    match pods.portforward("nope", &[80]).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.message, "pods \"nope\" not found");
        }
        other => panic!("expected a 404, got {:?}", other.map(|_| ())),
    }
    // A pod without a node has nowhere to forward to (pod/strategy.go streamLocation).
    sim.update_workloads(|w| w.enabled = false);
    let pending: Pod = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "pending"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pending).await.unwrap();
    match pods.portforward("pending", &[80]).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
            assert_eq!(status.message, "pod pending does not have a host assigned");
        }
        other => panic!("expected a 400, got {:?}", other.map(|_| ())),
    }
    sim.stop().await;
}

#[tokio::test]
async fn kubectl_port_forward_over_websocket_tunnel_and_raw_spdy() {
    let (sim, _pods) = start_with_echoes(true).await;
    let kubectl = Kubectl::new(sim.kubeconfig_path()).await;
    for websockets in [true, false] {
        let (mut child, ports) = kubectl.port_forward(websockets, &["pod/web", ":8080", ":9090"]).await;
        let mut conns = Vec::new();
        for (i, port) in [ports[0], ports[1], ports[0]].into_iter().enumerate() {
            let mut c = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            c.write_all(format!("m{i}").as_bytes()).await.unwrap();
            conns.push(c);
        }
        for (i, (c, tag)) in conns.iter_mut().zip(["A:", "B:", "A:"]).enumerate() {
            let expect = format!("{tag}m{i}");
            let mut got = vec![0u8; expect.len()];
            tokio::time::timeout(Duration::from_secs(10), c.read_exact(&mut got)).await.unwrap().unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), expect, "websockets={websockets}");
        }
        let big: Vec<u8> = (0..2_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut expect = b"A:".to_vec();
        expect.extend(&big);
        let mut c = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
        let (mut r, mut w) = c.split();
        let send = async {
            w.write_all(&big).await.unwrap();
        };
        let recv = async {
            let mut got = vec![0u8; expect.len()];
            r.read_exact(&mut got).await.unwrap();
            got
        };
        let ((), got) =
            tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(send, recv) }).await.unwrap();
        assert!(got == expect, "2 MB echoed intact (websockets={websockets})");
        child.kill().await.unwrap();
    }
    // A refused port: kubectl reports the kubelet's error and gives up on the pod.
    let (mut child, ports) = kubectl.port_forward(true, &["pod/web", ":7070"]).await;
    let mut c = TcpStream::connect(("127.0.0.1", ports[0])).await.unwrap();
    c.write_all(b"x").await.unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), async {
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).await.unwrap();
        err
    })
    .await
    .unwrap();
    assert!(output.contains("an error occurred forwarding"), "{output}");
    assert!(output.contains("error forwarding port 7070 to pod "), "{output}");
    assert!(output.contains("dial tcp4 127.0.0.1:7070: connect: connection refused"), "{output}");
    let status = child.wait().await.unwrap();
    assert!(!status.success());
    sim.stop().await;
}
