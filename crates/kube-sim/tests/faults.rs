//! Every fault control, observed through kube-rs: a failed Nth request with a real Status,
//! plain-text 429s, latency, a connection dropped mid-response (after the write happened),
//! stalled and closed watches, and a server that stops listening and comes back.

use std::time::{Duration, Instant};

use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube_sim::{Fault, Simulator};
use serde_json::json;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

async fn start() -> (Simulator, Api<ConfigMap>) {
    let sim = Simulator::start().await.unwrap();
    let api = Api::default_namespaced(sim.client().await.unwrap());
    (sim, api)
}

fn status(result: Result<impl std::fmt::Debug, kube::Error>) -> kube::core::Status {
    match result {
        Err(kube::Error::Api(s)) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_nth_matching_request_fails_with_a_real_status() {
    let (sim, api) = start().await;
    sim.inject(Fault::on("POST", "/api/v1/namespaces/*/configmaps").nth(2).respond(500));
    sim.inject(Fault::on("GET", "/api/v1/namespaces/default/configmaps/c").nth(1).respond(503));
    api.create(&PostParams::default(), &config_map("a")).await.unwrap();
    let s = status(api.create(&PostParams::default(), &config_map("b")).await);
    // errors.go NewInternalError
    assert_eq!(
        (s.code, s.reason.as_str(), s.message.as_str()),
        (500, "InternalError", "Internal error occurred: injected fault")
    );
    assert!(sim.object("v1", "ConfigMap", "default", "b").is_none(), "a failed request changes nothing");
    api.create(&PostParams::default(), &config_map("c")).await.unwrap();
    // kube-rs retries 429, 503 and 504 by default: the 503 is invisible but logged.
    sim.clear_requests();
    api.get("c").await.unwrap();
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200]);

    // A custom message, and a method wildcard with `times`.
    sim.inject(Fault::on("*", "/api/v1/namespaces/default/configmaps/**").times(2).respond_with(409, "try again"));
    assert_eq!(status(api.get("a").await).message, "try again");
    assert_eq!(status(api.delete("a", &Default::default()).await).code, 409);
    api.get("a").await.unwrap();

    // 429 comes from the priority-and-fairness filter as plain text with `Retry-After: 1`,
    // which kube-rs honours before retrying.
    sim.inject(Fault::on("GET", "/api/v1/namespaces/default/configmaps").nth(1).respond(429));
    sim.clear_requests();
    let began = Instant::now();
    api.list(&ListParams::default()).await.unwrap();
    assert!(began.elapsed() >= Duration::from_secs(1), "{:?}", began.elapsed());
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    // Enough 504s and the failure surfaces.
    sim.inject(Fault::on("GET", "/api/v1/namespaces/default/configmaps/a").times(100).respond(504));
    let client = {
        let mut config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(sim.kubeconfig_path()).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        config.default_retry = false;
        kube::Client::try_from(config).unwrap()
    };
    let s = status(Api::<ConfigMap>::default_namespaced(client).get("a").await);
    assert_eq!(
        (s.code, s.reason.as_str(), s.message.as_str()),
        (504, "Timeout", "Timeout: request did not complete within requested timeout - context deadline exceeded")
    );
    sim.stop().await;
}

#[tokio::test]
async fn latency_and_a_connection_dropped_mid_response() {
    let (sim, api) = start().await;
    sim.inject(Fault::on("GET", "/api/v1/namespaces/default/configmaps/**").delay(Duration::from_millis(400)));
    api.create(&PostParams::default(), &config_map("slow")).await.unwrap();
    let began = Instant::now();
    api.get("slow").await.unwrap();
    assert!(began.elapsed() >= Duration::from_millis(400), "{:?}", began.elapsed());
    sim.clear_faults();
    let began = Instant::now();
    api.get("slow").await.unwrap();
    assert!(began.elapsed() < Duration::from_millis(400));

    // The server does the work, then the connection breaks halfway through the answer.
    sim.inject(Fault::on("POST", "/api/v1/namespaces/default/configmaps").nth(1).drop_connection());
    let err = api.create(&PostParams::default(), &config_map("dropped")).await.unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "a transport error, not a Status: {err:?}");
    assert!(api.get("dropped").await.is_ok(), "the create took effect");
    sim.stop().await;
}

#[tokio::test]
async fn watches_can_be_stalled_resumed_and_closed() {
    let (sim, api) = start().await;
    // From the current resourceVersion: what `default` already holds (its kube-root-ca.crt) is
    // not replayed.
    let rv = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut events = api.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    sim.stall_watches();
    api.create(&PostParams::default(), &config_map("during-stall")).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), events.next()).await.is_err(),
        "a stalled watch delivers nothing"
    );
    sim.resume_watches();
    let event = tokio::time::timeout(Duration::from_secs(5), events.try_next()).await.unwrap().unwrap().unwrap();
    assert!(matches!(event, WatchEvent::Added(ref cm) if cm.metadata.name.as_deref() == Some("during-stall")));

    // A watch fault: new watches get their 200 and then nothing.
    sim.inject(Fault::watch("/api/v1/namespaces/default/configmaps").nth(1).stall());
    let rv = api.list(&ListParams::default()).await.unwrap().metadata.resource_version.unwrap();
    let mut stalled = api.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    api.create(&PostParams::default(), &config_map("unseen")).await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), stalled.next()).await.is_err());

    // Closed at once: the stream ends without an event.
    sim.inject(Fault::watch("/api/v1/namespaces/default/configmaps").nth(1).close());
    let mut closed = api.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    assert!(tokio::time::timeout(Duration::from_secs(5), closed.next()).await.unwrap().is_none());
    // The next watch is served normally (the fault fired once).
    let mut normal = api.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    assert!(tokio::time::timeout(Duration::from_secs(5), normal.next()).await.unwrap().is_some());
    sim.stop().await;
}

#[tokio::test]
async fn the_server_stops_listening_and_comes_back_on_the_same_port() {
    let (sim, api) = start().await;
    api.create(&PostParams::default(), &config_map("kept")).await.unwrap();
    let mut events = api.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    let address = sim.address();
    sim.stop_listening().await;
    // Open connections end...
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while let Some(Ok(_)) = events.next().await {} }).await;
    assert!(ended.is_ok(), "the open watch ended");
    // ...and new ones are refused.
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
    let err = api.get("kept").await.unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    sim.resume_listening().await.unwrap();
    assert_eq!(sim.address(), address);
    let cm = api.get("kept").await.unwrap();
    assert_eq!(cm.data.unwrap()["k"], "v");
    sim.stop().await;
}

#[test]
fn synchronous_tests_drive_the_listener_with_block_on() {
    let sim = Simulator::start_blocking(kube_sim::SimConfig::default()).unwrap();
    let address = sim.address();
    assert!(std::net::TcpStream::connect(address).is_ok());
    sim.block_on(sim.stop_listening());
    assert!(std::net::TcpStream::connect(address).is_err());
    sim.block_on(sim.resume_listening()).unwrap();
    assert!(std::net::TcpStream::connect(address).is_ok());
}
