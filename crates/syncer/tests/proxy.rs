//! The API endpoint against a tiny in-test upstream that records what reaches it: identities,
//! streaming, upgrades, HTTP/2, health, certificates, failures, shutdown, interception.

mod proxy_support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt as _;
use futures::channel::mpsc;
use futures::future::BoxFuture;
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use kube::config::AuthInfo;
use proxy_support::*;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use vcluster_syncer::proxy::{
    Caller, Identity, InterceptError, InterceptedRequest, Interceptor, ProxyBody, RequestInfo, Upstream,
    status_response,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type TestBody = UnsyncBoxBody<Bytes, BoxError>;

/// What the upstream received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
    /// CN of the client certificate the proxy presented on that connection.
    client_cn: Option<String>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }
}

/// A TLS upstream answering like a (very) small API server.
struct TestUpstream {
    addr: SocketAddr,
    ca: Ca,
    /// Signs the admin certificate the proxy presents.
    admin_ca: Ca,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    /// Lets the held watch send its second event and end.
    release: Arc<Notify>,
}

impl TestUpstream {
    async fn start() -> TestUpstream {
        let ca = Ca::new("upstream-ca");
        let admin_ca = Ca::new("upstream-client-ca");
        let (certs, key) = chain(&ca.server(&["127.0.0.1", "localhost"]));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(admin_ca.der()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let (s, a, r) = (seen.clone(), arrived.clone(), release.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let acceptor = acceptor.clone();
                let (seen, arrived, release) = (s.clone(), a.clone(), r.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let client_cn = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).map(common_name);
                    let service = service_fn(move |request| {
                        respond(request, client_cn.clone(), seen.clone(), arrived.clone(), release.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        TestUpstream { addr, ca, admin_ca, seen, arrived, release }
    }

    /// A kube::Config for the proxy: this server, its CA, an admin client certificate.
    fn config(&self) -> kube::Config {
        let mut config = kube::Config::new(format!("https://127.0.0.1:{}", self.addr.port()).parse().unwrap());
        config.root_cert = Some(vec![self.ca.der().to_vec()]);
        let admin = self.admin_ca.client("admin", &["system:masters"]);
        config.auth_info = AuthInfo {
            client_certificate_data: Some(b64(&admin.cert)),
            client_key_data: Some(b64(&admin.key).into()),
            ..Default::default()
        };
        config
    }

    /// The requests seen so far, waiting (with a deadline) until there are at least `n`.
    async fn wait_seen(&self, n: usize) -> Vec<Seen> {
        tokio::time::timeout(DEADLINE, async {
            loop {
                let notified = self.arrived.notified();
                let seen = self.seen.lock().unwrap().clone();
                if seen.len() >= n {
                    return seen;
                }
                notified.await;
            }
        })
        .await
        .expect("the upstream did not receive the requests in time")
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn common_name(der: &CertificateDer<'_>) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_string()
}

fn text_body(text: impl Into<Bytes>) -> TestBody {
    Full::new(text.into()).map_err(|never| match never {}).boxed_unsync()
}

async fn respond(
    mut request: Request<hyper::body::Incoming>,
    client_cn: Option<String>,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: Arc<Notify>,
    release: Arc<Notify>,
) -> Result<Response<TestBody>, Infallible> {
    let upgrade = request.headers().get("upgrade").cloned();
    let on_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
    let method = request.method().to_string();
    let target = request.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let version = request.version();
    let headers = request.headers().clone();
    let body = request.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let record = Seen { method, target: target.clone(), version, headers, body: body.clone(), client_cn };
    seen.lock().unwrap().push(record.clone());
    arrived.notify_waiters();

    if let (Some(protocol), Some(on_upgrade)) = (upgrade, on_upgrade) {
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else { return };
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 1024];
            // Echo, upper-cased, so the test tells the echo from its own bytes.
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n].to_ascii_uppercase()).await.is_err() {
                    break;
                }
            }
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "Upgrade")
            .header("upgrade", protocol)
            .header("x-stream-protocol-version", "portforward.k8s.io")
            .body(text_body(""))
            .unwrap();
        return Ok(response);
    }
    if target.starts_with("/apis/authorization.k8s.io/v1/subjectaccessreviews") {
        // alice may impersonate user bob and group testers, nothing else.
        let review: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let spec = &review["spec"];
        let attrs = &spec["resourceAttributes"];
        let allowed = spec["user"] == "alice"
            && attrs["verb"] == "impersonate"
            && ((attrs["resource"] == "users" && attrs["name"] == "bob")
                || (attrs["resource"] == "groups" && attrs["name"] == "testers"));
        let answer = serde_json::json!({"kind": "SubjectAccessReview", "status": {"allowed": allowed}});
        return Ok(Response::new(text_body(answer.to_string())));
    }
    if target.contains("watch=1") {
        let (mut tx, rx) = mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
        tokio::spawn(async move {
            let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"{\"type\":\"ADDED\"}\n")))).await;
            release.notified().await;
            let _ = tx.send(Ok(Frame::data(Bytes::from_static(b"{\"type\":\"MODIFIED\"}\n")))).await;
        });
        return Ok(Response::new(StreamBody::new(rx).boxed_unsync()));
    }
    let answer = serde_json::json!({"kind": "Echo", "target": target, "bytes": body.len()});
    let response = Response::builder().header("content-type", "application/json").body(text_body(answer.to_string()));
    Ok(response.unwrap())
}

async fn setup() -> (TestUpstream, Running) {
    let upstream = TestUpstream::start().await;
    let proxy = start_proxy(upstream.config(), |_| {}).await;
    (upstream, proxy)
}

#[tokio::test]
async fn client_certificates_become_impersonation_with_admin_credentials() {
    let (upstream, proxy) = setup().await;
    // rcgen keeps one O per subject; several groups are covered by the unit tests.
    let alice = proxy.client_ca.client("alice", &["devs"]);
    let request = Request::post("/api/v1/namespaces/team/configmaps?fieldManager=kubectl")
        .header("host", "localhost")
        .header("authorization", "Bearer ignored-because-x509-wins")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"metadata\":{\"name\":\"a\"}}")))
        .unwrap();
    let response = send_h1(proxy.connect(Some(&alice)).await, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body_text(response).await.contains("\"kind\":\"Echo\""));

    let seen = upstream.wait_seen(1).await;
    let s = &seen[0];
    assert_eq!(
        (s.method.as_str(), s.target.as_str()),
        ("POST", "/api/v1/namespaces/team/configmaps?fieldManager=kubectl")
    );
    assert_eq!(s.header("impersonate-user").as_deref(), Some("alice"));
    assert_eq!(s.all("impersonate-group"), ["devs"]);
    assert_eq!(s.client_cn.as_deref(), Some("admin"), "forwarded with the admin certificate");
    assert_eq!(s.header("authorization"), None, "the caller's token is dropped for x509 callers");
    assert_eq!(&s.body[..], b"{\"metadata\":{\"name\":\"a\"}}");
    assert_eq!(s.header("content-type").as_deref(), Some("application/json"));
    assert_eq!(s.version, Version::HTTP_11);
    assert_eq!(s.header("x-forwarded-for").as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn bearer_tokens_pass_through_without_admin_credentials() {
    let (upstream, proxy) = setup().await;
    let request = Request::get("/api/v1/pods?limit=1")
        .header("host", "localhost")
        .header("authorization", "Bearer user-token")
        .header("impersonate-user", "bob")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = send_h1(proxy.connect(None).await, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let s = &upstream.wait_seen(1).await[0];
    assert_eq!(s.header("authorization").as_deref(), Some("Bearer user-token"));
    assert_eq!(s.client_cn, None, "no client certificate on token requests");
    // The upstream checks the token user's right to impersonate.
    assert_eq!(s.header("impersonate-user").as_deref(), Some("bob"));
    assert!(s.all("impersonate-group").is_empty());
}

#[tokio::test]
async fn anonymous_requests_stay_anonymous() {
    let (upstream, proxy) = setup().await;
    let response = send_h1(proxy.connect(None).await, get("/version")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let s = &upstream.wait_seen(1).await[0];
    assert_eq!((s.header("authorization"), s.header("impersonate-user"), s.client_cn.clone()), (None, None, None));
}

#[tokio::test]
async fn an_admin_token_upstream_lends_its_token_only_to_certificate_callers() {
    let upstream = TestUpstream::start().await;
    let mut config = upstream.config();
    config.auth_info = AuthInfo { token: Some("admin-token".to_string().into()), ..Default::default() };
    let proxy = start_proxy(config, |_| {}).await;
    let alice = proxy.client_ca.client("alice", &[]);
    send_h1(proxy.connect(Some(&alice)).await, get("/api/v1/namespaces")).await.unwrap();
    let with_token = Request::get("/api/v1/namespaces")
        .header("authorization", "Bearer user-token")
        .body(Full::new(Bytes::new()))
        .unwrap();
    send_h1(proxy.connect(None).await, with_token).await.unwrap();
    send_h1(proxy.connect(None).await, get("/api/v1/namespaces")).await.unwrap();
    let seen = upstream.wait_seen(3).await;
    let summary: Vec<_> = seen.iter().map(|s| (s.header("authorization"), s.header("impersonate-user"))).collect();
    assert_eq!(
        summary,
        [
            (Some("Bearer admin-token".to_string()), Some("alice".to_string())),
            (Some("Bearer user-token".to_string()), None),
            (None, None),
        ]
    );
    assert!(seen.iter().all(|s| s.client_cn.is_none()));
}

#[tokio::test]
async fn untrusted_client_certificates_fail_the_handshake() {
    let (upstream, proxy) = setup().await;
    let stranger = Ca::new("someone-else").client("mallory", &["system:masters"]);
    // TLS 1.3 clients learn of the rejection on their first read.
    let outcome = async {
        let stream = tls_connect(proxy.addr, &proxy.server_ca, "localhost", Some(&stranger), &[b"http/1.1"]).await?;
        send_h1(stream, get("/api/v1/secrets")).await.map_err(std::io::Error::other)
    }
    .await;
    assert!(outcome.is_err(), "a certificate from an unknown CA must not be served");
    assert!(upstream.seen().is_empty());
}

#[tokio::test]
async fn certificate_users_impersonate_only_what_the_upstream_authorizes() {
    let (upstream, proxy) = setup().await;
    let alice = proxy.client_ca.client("alice", &["devs"]);
    let allowed = Request::get("/api/v1/namespaces/team/pods")
        .header("impersonate-user", "bob")
        .header("impersonate-group", "testers")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = send_h1(proxy.connect(Some(&alice)).await, allowed).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = upstream.wait_seen(3).await;
    let reviews: Vec<_> =
        seen[..2].iter().map(|s| serde_json::from_slice::<serde_json::Value>(&s.body).unwrap()).collect();
    assert_eq!(reviews[0]["spec"]["user"], "alice");
    assert_eq!(reviews[0]["spec"]["groups"], serde_json::json!(["devs", "system:authenticated"]));
    assert_eq!(reviews[0]["spec"]["resourceAttributes"]["resource"], "users");
    assert_eq!(reviews[1]["spec"]["resourceAttributes"]["resource"], "groups");
    assert!(
        seen[..2].iter().all(|s| s.header("impersonate-user").is_none() && s.client_cn.as_deref() == Some("admin"))
    );
    let forwarded = &seen[2];
    assert_eq!(forwarded.target, "/api/v1/namespaces/team/pods");
    assert_eq!(forwarded.header("impersonate-user").as_deref(), Some("bob"));
    assert_eq!(forwarded.all("impersonate-group"), ["testers"]);

    let denied = Request::get("/api/v1/namespaces/team/secrets")
        .header("impersonate-user", "carol")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = send_h1(proxy.connect(Some(&alice)).await, denied).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let status: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        r#"users "carol" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );
    let seen = upstream.seen();
    assert_eq!(seen.len(), 4, "only the review reached the upstream");
    assert!(seen[3].target.starts_with("/apis/authorization.k8s.io/"));
}

#[tokio::test]
async fn health_and_readiness_need_no_credentials() {
    let (upstream, proxy) = setup().await;
    let response = send_h1(proxy.connect(None).await, get("/healthz")).await.unwrap();
    assert_eq!((response.status(), body_text(response).await.as_str()), (StatusCode::OK, "ok"));
    let response = send_h1(proxy.connect(None).await, get("/readyz")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    proxy.ready.send(true).unwrap();
    let response = send_h1(proxy.connect(None).await, get("/readyz")).await.unwrap();
    assert_eq!((response.status(), body_text(response).await.as_str()), (StatusCode::OK, "ok"));
    proxy.ready.send(false).unwrap();
    let response = send_h1(proxy.connect(None).await, get("/readyz?verbose")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(upstream.seen().is_empty());
}

#[tokio::test]
async fn a_san_change_reissues_the_serving_certificate() {
    let (_upstream, proxy) = setup().await;
    let stream = proxy.connect(None).await;
    let served = stream.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert!(tls_connect(proxy.addr, &proxy.server_ca, "new.example", None, &[]).await.is_err());
    for name in ["vc.example", "kubernetes.default.svc.cluster.local", "127.0.0.1"] {
        tls_connect(proxy.addr, &proxy.server_ca, name, None, &[]).await.unwrap();
    }

    proxy.sans.send_modify(|sans| {
        sans.insert("new.example".into());
        sans.insert("10.96.0.10".into());
    });
    let stream = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Ok(stream) = tls_connect(proxy.addr, &proxy.server_ca, "new.example", None, &[]).await {
                return stream;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the new name is served");
    assert_ne!(stream.get_ref().1.peer_certificates().unwrap()[0], served);
    tls_connect(proxy.addr, &proxy.server_ca, "10.96.0.10", None, &[]).await.unwrap();
}

#[tokio::test]
async fn watches_stream_before_the_response_ends() {
    let (upstream, proxy) = setup().await;
    for http2 in [false, true] {
        let alpn: &[&[u8]] = if http2 { &[b"h2"] } else { &[b"http/1.1"] };
        let stream = tls_connect(proxy.addr, &proxy.server_ca, "localhost", None, alpn).await.unwrap();
        let request = get("/api/v1/namespaces?watch=1");
        let response = if http2 { send_h2(stream, request).await } else { send_h1(stream, request).await }.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        let first = tokio::time::timeout(DEADLINE, body.frame()).await.expect("first event in time");
        let first = first.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"{\"type\":\"ADDED\"}\n", "delivered while the upstream holds the response open");
        upstream.release.notify_one();
        let rest = tokio::time::timeout(DEADLINE, body.collect()).await.unwrap().unwrap().to_bytes();
        assert_eq!(&rest[..], b"{\"type\":\"MODIFIED\"}\n");
    }
}

#[tokio::test]
async fn http2_clients_are_served_over_http1_upstream() {
    let (upstream, proxy) = setup().await;
    let alice = proxy.client_ca.client("alice", &["devs"]);
    let stream =
        tls_connect(proxy.addr, &proxy.server_ca, "localhost", Some(&alice), &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let request = Request::put("https://localhost/api/v1/namespaces/team/configmaps/a")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let response = send_h2(stream, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    let s = &upstream.wait_seen(1).await[0];
    assert_eq!(
        (s.method.as_str(), s.target.as_str(), s.version),
        ("PUT", "/api/v1/namespaces/team/configmaps/a", Version::HTTP_11)
    );
    assert_eq!(s.header("impersonate-user").as_deref(), Some("alice"));
    assert_eq!(&s.body[..], b"{}");
}

#[tokio::test]
async fn upgraded_streams_carry_bytes_both_ways() {
    let (upstream, proxy) = setup().await;
    let alice = proxy.client_ca.client("alice", &[]);
    for protocol in ["SPDY/3.1", "websocket"] {
        let request = Request::post("/api/v1/namespaces/team/pods/web-0/portforward")
            .header("host", "localhost")
            .header("connection", "Upgrade")
            .header("upgrade", protocol)
            .header("x-stream-protocol-version", "portforward.k8s.io")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let mut response = send_h1(proxy.connect(Some(&alice)).await, request).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.headers()["upgrade"], protocol);
        assert_eq!(response.headers()["x-stream-protocol-version"], "portforward.k8s.io");
        let upgraded = tokio::time::timeout(DEADLINE, hyper::upgrade::on(&mut response)).await.unwrap().unwrap();
        let mut io = TokioIo::new(upgraded);
        for message in [&b"ping"[..], b"second message"] {
            io.write_all(message).await.unwrap();
            let mut echoed = vec![0u8; message.len()];
            tokio::time::timeout(DEADLINE, io.read_exact(&mut echoed)).await.unwrap().unwrap();
            assert_eq!(echoed, message.to_ascii_uppercase());
        }
    }
    let seen = upstream.wait_seen(2).await;
    assert_eq!(seen[0].header("upgrade").as_deref(), Some("SPDY/3.1"));
    assert_eq!(seen[0].header("connection").as_deref(), Some("Upgrade"));
    assert_eq!(seen[0].header("impersonate-user").as_deref(), Some("alice"));
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_503_status() {
    // Nothing listens: connection refused.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused: SocketAddr = closed.local_addr().unwrap();
    drop(closed);
    // Accepts TCP but never speaks TLS: only the connect timeout ends the wait.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let _held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            held.push(tcp);
        }
    });
    for addr in [refused, silent_addr] {
        let config = kube::Config::new(format!("https://{addr}").parse().unwrap());
        let proxy = start_proxy(config, |c| c.connect_timeout = Duration::from_millis(300)).await;
        let response = tokio::time::timeout(DEADLINE, send_h1(proxy.connect(None).await, get("/api/v1/namespaces")))
            .await
            .expect("answered, not hung")
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["content-type"], "application/json");
        let status: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!((status["kind"].as_str(), status["status"].as_str()), (Some("Status"), Some("Failure")));
        assert_eq!((status["reason"].as_str(), status["code"].as_u64()), (Some("ServiceUnavailable"), Some(503)));
        let message = status["message"].as_str().unwrap();
        assert!(message.contains(&format!("https://{addr}")), "{message}");
    }
}

#[tokio::test]
async fn shutdown_ends_watches_and_tunnels_then_returns() {
    let (upstream, proxy) = setup().await;
    let response = send_h1(proxy.connect(None).await, get("/api/v1/pods?watch=1")).await.unwrap();
    let mut watch = response.into_body();
    tokio::time::timeout(DEADLINE, watch.frame()).await.unwrap().unwrap().unwrap();
    let request = Request::get("/api/v1/namespaces/team/pods/web-0/exec")
        .header("connection", "Upgrade")
        .header("upgrade", "SPDY/3.1")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut response = send_h1(proxy.connect(None).await, request).await.unwrap();
    let mut tunnel = TokioIo::new(hyper::upgrade::on(&mut response).await.unwrap());

    proxy.shutdown.cancel();
    let served = tokio::time::timeout(DEADLINE, proxy.task).await.expect("serve returns after shutdown");
    served.unwrap().unwrap();
    // The watch ended cleanly, before the upstream sent its second event.
    let rest = tokio::time::timeout(DEADLINE, watch.collect()).await.unwrap().unwrap().to_bytes();
    assert!(rest.is_empty());
    let mut buf = [0u8; 8];
    let read = tokio::time::timeout(DEADLINE, tunnel.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "the tunnel is closed");
    assert!(tls_connect(proxy.addr, &proxy.server_ca, "localhost", None, &[]).await.is_err(), "no longer listening");
    drop(upstream);
}

/// Takes over non-dry-run Service creates, forwards them (annotated) as the caller, and marks
/// its answer.
struct ServiceCreates;

impl Interceptor for ServiceCreates {
    fn wants(&self, request: &RequestInfo, _caller: &Caller) -> bool {
        request.verb == "create" && request.resource == "services" && request.api_group.is_empty() && !request.dry_run
    }

    fn handle(
        &self,
        request: InterceptedRequest,
        upstream: Upstream,
    ) -> BoxFuture<'static, Result<Response<ProxyBody>, InterceptError>> {
        Box::pin(async move {
            let InterceptedRequest { info, caller, request } = request;
            if info.namespace == "fail" {
                return Err(InterceptError { message: "the host said no".into(), source: None });
            }
            if caller.identity() == &Identity::Anonymous {
                return Ok(status_response(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "anonymous Service creates are refused",
                ));
            }
            let mut object: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
            object["spec"]["clusterIP"] = "10.96.0.42".into();
            let (parts, _) = request.into_parts();
            let body = Full::new(Bytes::from(object.to_string())).map_err(|never| match never {}).boxed_unsync();
            let response = upstream
                .send(&caller, Request::from_parts(parts, body))
                .await
                .map_err(|e| InterceptError { message: "forwarding failed".into(), source: Some(Box::new(e)) })?;
            let (mut parts, body) = response.into_parts();
            parts.headers.insert("x-intercepted", "service-create".parse().unwrap());
            Ok(Response::from_parts(parts, body.map_err(BoxError::from).boxed_unsync()))
        })
    }
}

#[tokio::test]
async fn interceptors_answer_matching_requests_as_the_caller() {
    let upstream = TestUpstream::start().await;
    let proxy = start_proxy(upstream.config(), |c| c.interceptors = vec![Arc::new(ServiceCreates)]).await;
    let alice = proxy.client_ca.client("alice", &["devs"]);
    let create = |query: &str, namespace: &str| {
        Request::post(format!("/api/v1/namespaces/{namespace}/services{query}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{\"metadata\":{\"name\":\"web\"},\"spec\":{}}")))
            .unwrap()
    };
    let response = send_h1(proxy.connect(Some(&alice)).await, create("", "team")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-intercepted"], "service-create");
    let s = &upstream.wait_seen(1).await[0];
    assert_eq!(s.header("impersonate-user").as_deref(), Some("alice"));
    assert_eq!(s.header("content-type").as_deref(), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
    assert_eq!(sent["spec"]["clusterIP"], "10.96.0.42");

    // Dry runs and other resources pass by the interceptor.
    let response = send_h1(proxy.connect(Some(&alice)).await, create("?dryRun=All", "team")).await.unwrap();
    assert!(!response.headers().contains_key("x-intercepted"));
    let seen = upstream.wait_seen(2).await;
    assert_eq!(&seen[1].body[..], b"{\"metadata\":{\"name\":\"web\"},\"spec\":{}}");

    let response = send_h1(proxy.connect(None).await, create("", "team")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = send_h1(proxy.connect(Some(&alice)).await, create("", "fail")).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let status: serde_json::Value = serde_json::from_str(&body_text(response).await).unwrap();
    assert_eq!(status["reason"], "InternalError");
    assert!(status["message"].as_str().unwrap().contains("the host said no"));
    assert_eq!(upstream.seen().len(), 2);
}

#[tokio::test]
async fn sans_changed_before_serving_are_served() {
    let upstream = TestUpstream::start().await;
    let server_ca = Ca::new("server-ca");
    let (sans, sans_rx) = tokio::sync::watch::channel(std::collections::BTreeSet::from(["first.example".to_string()]));
    let config = vcluster_syncer::proxy::ProxyConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        upstream.config(),
        server_ca.material.clone(),
        String::new(),
        sans_rx,
    );
    let bound = vcluster_syncer::proxy::bind(config).await.unwrap();
    let addr = bound.local_addr();
    sans.send_replace(std::collections::BTreeSet::from(["second.example".to_string()]));
    let (_ready, ready_rx) = tokio::sync::watch::channel(true);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(bound.run(ready_rx, shutdown.clone()));
    tokio::time::timeout(DEADLINE, async {
        while tls_connect(addr, &server_ca, "second.example", None, &[]).await.is_err() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the set changed between bind and run is served");
    shutdown.cancel();
    tokio::time::timeout(DEADLINE, task).await.unwrap().unwrap().unwrap();
}
