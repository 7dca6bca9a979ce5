//! Load generator for a running standalone simulator (see `benches/run.sh`, which pins the
//! simulator to one core and this generator to another):
//!
//! - requests per second for GET of one object, LIST of 100 objects, and server-side apply
//!   (each apply changes the object), over keep-alive HTTP/1.1 connections;
//! - watch fan-out: 100 watchers, p50/p99 latency from a write's start to each watcher's event;
//! - port-forward throughput (kube-rs WebSocket, and kubectl's SPDY tunnel) against a direct TCP
//!   connection to the same backend.
//!
//! Usage: `load <url> <kubeconfig> [simulator-pid]` (the pid adds the simulator's CPU time).
#![allow(clippy::print_stdout, clippy::print_stderr)] // the report is the benchmark's output

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

struct Target {
    host: String,
    token: String,
    kubeconfig: String,
    sim_pid: Option<u32>,
}

impl Target {
    async fn connect(&self) -> Sender {
        let stream = TcpStream::connect(&self.host).await.expect("connect");
        stream.set_nodelay(true).ok();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
        tokio::spawn(conn);
        sender
    }

    fn request(&self, method: &str, path: &str, content_type: &str, body: Vec<u8>) -> Request<Full<Bytes>> {
        Request::builder()
            .method(method)
            .uri(path)
            .header("Host", &self.host)
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("request")
    }

    async fn send(&self, sender: &mut Sender, req: Request<Full<Bytes>>) -> (u16, Bytes) {
        sender.ready().await.expect("ready");
        let resp = sender.send_request(req).await.expect("response");
        let code = resp.status().as_u16();
        (code, resp.into_body().collect().await.expect("body").to_bytes())
    }

    fn sim_cpu(&self) -> Option<Duration> {
        cpu_time(&self.sim_pid?.to_string())
    }
}

/// CPU time a process used so far (utime + stime of /proc/<pid>/stat, 100 ticks a second).
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn own_cpu() -> Duration {
    cpu_time("self").unwrap_or_default()
}

/// Run `make` on `connections` keep-alive connections for `duration`; print requests/second.
async fn throughput<F>(target: &Arc<Target>, label: &str, connections: usize, duration: Duration, make: F)
where
    F: Fn(u64) -> (String, String, String, Vec<u8>) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let counter = Arc::new(AtomicU64::new(0));
    let sim_before = target.sim_cpu();
    let own_before = own_cpu();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (target, make, counter) = (target.clone(), make.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = target.connect().await;
            while start.elapsed() < duration {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let (method, path, content_type, body) = make(n);
                let (code, _) = target.send(&mut sender, target.request(&method, &path, &content_type, body)).await;
                assert!(code < 300, "{method} {path}: {code}");
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = counter.load(Ordering::Relaxed);
    let sim = match (sim_before, target.sim_cpu()) {
        (Some(a), Some(b)) => format!(", simulator CPU {:.0}%", (b - a).as_secs_f64() / elapsed * 100.0),
        _ => String::new(),
    };
    println!(
        "{label:<34} {:>8.0} requests/s  ({done} in {elapsed:.1}s, {connections} connections{sim}, load generator CPU {:.0}%)",
        done as f64 / elapsed,
        (own_cpu() - own_before).as_secs_f64() / elapsed * 100.0
    );
}

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

async fn watch_fan_out(target: &Arc<Target>, watchers: usize, writes: usize) {
    let (_, body) = {
        let mut s = target.connect().await;
        target
            .send(
                &mut s,
                target.request("GET", "/api/v1/namespaces/bench-watch/configmaps", "application/json", vec![]),
            )
            .await
    };
    let list: serde_json::Value = serde_json::from_slice(&body).expect("list");
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(watchers * writes)));
    let ready = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let (target, latencies, ready, rv) = (target.clone(), latencies.clone(), ready.clone(), rv.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = target.connect().await;
            let path = format!("/api/v1/namespaces/bench-watch/configmaps?watch=true&resourceVersion={rv}");
            sender.ready().await.expect("ready");
            let resp =
                sender.send_request(target.request("GET", &path, "application/json", vec![])).await.expect("watch");
            ready.fetch_add(1, Ordering::Relaxed);
            let mut body = resp.into_body();
            let mut pending = Vec::new();
            let mut seen = 0;
            while seen < writes {
                let Some(Ok(frame)) = body.frame().await else { break };
                let Ok(data) = frame.into_data() else { continue };
                let received = now_nanos();
                pending.extend_from_slice(&data);
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    let event: serde_json::Value = serde_json::from_slice(&line).expect("event");
                    if let Some(sent) = event["object"]["data"]["sent"].as_str().and_then(|s| s.parse::<u128>().ok()) {
                        latencies.lock().unwrap().push(received.saturating_sub(sent));
                        seen += 1;
                    }
                }
            }
        }));
    }
    while ready.load(Ordering::Relaxed) < watchers as u64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut writer = target.connect().await;
    let started = Instant::now();
    for i in 0..writes {
        let body = format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"w{i}\"}},\"data\":{{\"sent\":\"{}\"}}}}",
            now_nanos()
        );
        let (code, _) = target
            .send(
                &mut writer,
                target.request(
                    "POST",
                    "/api/v1/namespaces/bench-watch/configmaps",
                    "application/json",
                    body.into_bytes(),
                ),
            )
            .await;
        assert_eq!(code, 201);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
    }
    let mut all = latencies.lock().unwrap().clone();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0) as f64 / 1e6
    };
    println!(
        "watch fan-out: {watchers} watchers x {writes} creates ({:.1}s): {} events, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        started.elapsed().as_secs_f64(),
        all.len(),
        pct(0.50),
        pct(0.99),
        all.last().copied().unwrap_or(0) as f64 / 1e6
    );
}

/// A backend that reads `total` bytes per connection and answers one byte when done.
async fn sink_backend(total: u64) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                let mut got = 0u64;
                while got < total {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n as u64,
                    }
                }
                let _ = conn.write_all(b"!").await;
            });
        }
    });
    addr
}

async fn push<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut stream: S, total: u64) -> f64 {
    let chunk = vec![7u8; 64 * 1024];
    let started = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        stream.write_all(&chunk).await.expect("write");
        sent += chunk.len() as u64;
    }
    let mut ack = [0u8; 1];
    stream.read_exact(&mut ack).await.expect("ack");
    total as f64 / started.elapsed().as_secs_f64() / 1e6
}

async fn port_forward(target: &Arc<Target>, total: u64) {
    use k8s_openapi::api::core::v1::Pod;
    let backend = sink_backend(total).await;
    let kubeconfig = kube::config::Kubeconfig::read_from(&target.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, "bench-pf");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sink", "annotations": {"sim.vcluster.dev/forward-9000": backend.to_string()}},
        "spec": {"containers": [{"name": "sink", "image": "busybox"}]}
    }))
    .expect("pod");
    pods.create(&Default::default(), &pod).await.expect("pod created");
    for _ in 0..200 {
        if pods.get("sink").await.ok().and_then(|p| p.status?.phase).as_deref() == Some("Running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mb = total / 1_000_000;
    let direct = push(TcpStream::connect(backend).await.expect("direct"), total).await;
    println!("direct TCP to the backend:         {direct:>8.0} MB/s  ({mb} MB)");
    let sim_mid = target.sim_cpu();
    let mut forward = pods.portforward("sink", &[9000]).await.expect("portforward");
    let stream = forward.take_stream(9000).expect("stream");
    let started = Instant::now();
    let via_ws = push(stream, total).await;
    let sim = match (sim_mid, target.sim_cpu()) {
        (Some(a), Some(b)) => {
            format!(", simulator CPU {:.0}%", (b - a).as_secs_f64() / started.elapsed().as_secs_f64() * 100.0)
        }
        _ => String::new(),
    };
    println!("kube-rs port-forward (WebSocket):  {via_ws:>8.0} MB/s  ({mb} MB{sim})");
    // kubectl port-forward (SPDY tunnelled in a WebSocket), when kubectl is on the PATH.
    let child = tokio::process::Command::new("kubectl")
        .args(["port-forward", "-n", "bench-pf", "pod/sink", ":9000"])
        .env("KUBECONFIG", &target.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        println!("kubectl port-forward (SPDY):       kubectl not found");
        return;
    };
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let port = loop {
        let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await else {
            println!("kubectl port-forward (SPDY):       did not start");
            return;
        };
        if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
            break rest.split(' ').next().unwrap_or_default().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let kubectl_pid = child.id();
    let cpu_of = |pid: Option<u32>| cpu_time(&pid?.to_string());
    let (k0, s0) = (cpu_of(kubectl_pid), target.sim_cpu());
    let started = Instant::now();
    let via_kubectl = push(TcpStream::connect(format!("127.0.0.1:{port}")).await.expect("local port"), total).await;
    let secs = started.elapsed().as_secs_f64();
    let share = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => format!("{:.0}%", (b - a).as_secs_f64() / secs * 100.0),
        _ => "?".into(),
    };
    println!(
        "kubectl port-forward (SPDY/WS):    {via_kubectl:>8.0} MB/s  ({mb} MB, simulator CPU {}, kubectl CPU {})",
        share(s0, target.sim_cpu()),
        share(k0, cpu_of(kubectl_pid))
    );
    let _ = child.kill().await;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let (Some(url), Some(kubeconfig)) = (args.first(), args.get(1)) else {
        eprintln!("usage: load <url> <kubeconfig> [simulator-pid]  (see benches/run.sh)");
        return;
    };
    let text = std::fs::read_to_string(kubeconfig).expect("kubeconfig readable");
    let token = text.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap_or_default().to_string();
    let target = Arc::new(Target {
        host: url.trim_start_matches("http://").to_string(),
        token,
        kubeconfig: kubeconfig.clone(),
        sim_pid: args.get(2).and_then(|p| p.parse().ok()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let mut s = target.connect().await;
        for ns in ["bench-get", "bench-list", "bench-ssa", "bench-watch", "bench-pf"] {
            let body = format!("{{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{{\"name\":\"{ns}\"}}}}");
            target.send(&mut s, target.request("POST", "/api/v1/namespaces", "application/json", body.into_bytes())).await;
        }
        for i in 0..100 {
            let body = format!("{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"cm-{i}\",\"labels\":{{\"app\":\"bench\"}}}},\"data\":{{\"key\":\"value-{i}\",\"more\":\"{}\"}}}}", "x".repeat(200));
            target.send(&mut s, target.request("POST", "/api/v1/namespaces/bench-list/configmaps", "application/json", body.into_bytes())).await;
        }
        let body = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"one\"},\"data\":{\"k\":\"v\"}}";
        target.send(&mut s, target.request("POST", "/api/v1/namespaces/bench-get/configmaps", "application/json", body.into())).await;
        let seconds = Duration::from_secs(5);
        throughput(&target, "GET one ConfigMap", 4, seconds, |_| {
            ("GET".into(), "/api/v1/namespaces/bench-get/configmaps/one".into(), "application/json".into(), vec![])
        })
        .await;
        throughput(&target, "LIST 100 ConfigMaps", 4, seconds, |_| {
            ("GET".into(), "/api/v1/namespaces/bench-list/configmaps".into(), "application/json".into(), vec![])
        })
        .await;
        throughput(&target, "server-side apply (a change each)", 4, seconds, |n| {
            let body = format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa-{}\n  labels: {{app: bench}}\ndata:\n  counter: \"{n}\"\n  fixed: value\n",
                n % 100
            );
            (
                "PATCH".into(),
                format!("/api/v1/namespaces/bench-ssa/configmaps/ssa-{}?fieldManager=bench&force=true", n % 100),
                "application/apply-patch+yaml".into(),
                body.into_bytes(),
            )
        })
        .await;
        watch_fan_out(&target, 100, 200).await;
        port_forward(&target, 256_000_000).await;
    });
}
