//! Two simulators (host with the kubelet and controllers, virtual without — what k3s runs inside
//! a vcluster) and the syncer in-process between them. Waits poll with deadlines; nothing
//! sleeps for a fixed time to let something happen.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::config::Kubeconfig;
use kube::{Api, Client};
use kube_sim::{RequestRecord, SimConfig, Simulator, Workloads};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::startup::{self, Environment, Timings};

pub const NAME: &str = "my-vc";
pub const HOST_NS: &str = "vcluster-my-vc";

/// The arguments the chart renders by default for `my-vc` (tests/render.rs of the CLI).
pub fn chart_args() -> Vec<String> {
    [
        "--name=my-vc",
        "--service-account=vc-workload-my-vc",
        "--kube-config-context-name=my-vcluster",
        "--sync=-ingressclasses",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The host namespace, the vcluster's Service (the owner of synced objects) and the workload
/// service account, as the chart creates them.
pub const HOST_SEED: &str = "
apiVersion: v1
kind: Namespace
metadata:
  name: vcluster-my-vc
---
apiVersion: v1
kind: Service
metadata:
  name: my-vc
  namespace: vcluster-my-vc
spec:
  ports:
  - name: https
    port: 443
    targetPort: 8443
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: vc-workload-my-vc
  namespace: vcluster-my-vc
";

pub struct Clusters {
    pub host: Simulator,
    pub virt: Simulator,
}

impl Clusters {
    pub async fn start(workloads: bool) -> Clusters {
        Self::start_with(workloads, SimConfig::default()).await
    }

    pub async fn start_with(workloads: bool, host_config: SimConfig) -> Clusters {
        let host = Simulator::start_with(SimConfig {
            workloads: Workloads { enabled: workloads, ..Workloads::default() },
            ..host_config
        })
        .await
        .unwrap();
        host.seed_yaml(HOST_SEED).unwrap();
        // The virtual cluster: a control plane only (no kubelet, no scheduler, no node), TLS as k3s.
        let virt = Simulator::start_with(SimConfig { tls: true, ..SimConfig::default() }).await.unwrap();
        Clusters { host, virt }
    }

    pub async fn host_client(&self) -> Client {
        self.host.client().await.unwrap()
    }

    pub async fn virt_client(&self) -> Client {
        self.virt.client().await.unwrap()
    }

    pub async fn environment(&self, identity: &str) -> Environment {
        let text = std::fs::read_to_string(self.virt.kubeconfig_path()).unwrap();
        Environment {
            virtual_client: self.virt_client().await,
            virtual_kubeconfig: Kubeconfig::from_yaml(&text).unwrap(),
            host_client: self.host_client().await,
            current_namespace: HOST_NS.into(),
            identity: identity.into(),
            stats: std::sync::Arc::default(),
        }
    }

    /// Start a syncer with the chart's arguments plus `extra`.
    pub async fn syncer(&self, extra: &[&str]) -> Syncer {
        self.syncer_with(
            extra,
            Timings { health_interval: Duration::from_millis(200), ..Timings::default() },
            "test-syncer",
        )
        .await
    }

    pub async fn syncer_with(&self, extra: &[&str], timings: Timings, identity: &str) -> Syncer {
        let mut args = vec!["vcluster-syncer".to_string()];
        args.extend(chart_args());
        args.extend(extra.iter().map(|s| s.to_string()));
        let options = vcluster_syncer::options::parse(args).unwrap().options;
        let env = self.environment(identity).await;
        let stats = env.stats.clone();
        let (readiness, ready) = watch::channel(false);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(startup::run_with(options, env, timings, readiness, shutdown.clone()));
        Syncer { shutdown, task, ready, stats }
    }

    /// Every write clients made to either simulator since the last clear.
    pub fn writes(&self) -> Vec<(String, RequestRecord)> {
        let mut out: Vec<(String, RequestRecord)> =
            self.host.requests().into_iter().filter(|r| r.is_write()).map(|r| ("host".into(), r)).collect();
        out.extend(self.virt.requests().into_iter().filter(|r| r.is_write()).map(|r| ("virtual".into(), r)));
        out
    }

    pub fn clear_requests(&self) {
        self.host.clear_requests();
        self.virt.clear_requests();
    }

    pub fn host_object(&self, kind: &str, name: &str) -> Option<serde_json::Value> {
        self.host.object("v1", kind, HOST_NS, name)
    }

    pub fn virt_object(&self, kind: &str, namespace: &str, name: &str) -> Option<serde_json::Value> {
        self.virt.object("v1", kind, namespace, name)
    }
}

pub struct Syncer {
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), vcluster_syncer::error::StartError>>,
    pub ready: watch::Receiver<bool>,
    pub stats: std::sync::Arc<vcluster_syncer::controllers::Stats>,
}

impl Syncer {
    pub async fn wait_ready(&mut self, ready: bool, deadline: Duration) {
        tokio::time::timeout(deadline, self.ready.wait_for(|r| *r == ready))
            .await
            .unwrap_or_else(|_| panic!("readiness did not become {ready} within {deadline:?}"))
            .unwrap();
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(10), self.task).await.expect("the syncer stops").unwrap();
        result.unwrap();
    }

    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

/// Poll `check` until it returns `Some`, failing after `deadline` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A virtual pod using a ConfigMap volume, a Secret env var and the service-account token.
pub fn web_pod(name: &str, configmap: &str, secret: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": "default", "labels": { "app": "web" } },
        "spec": {
            "containers": [{
                "name": "web",
                "image": "nginx",
                "env": [{ "name": "PASSWORD", "valueFrom": { "secretKeyRef": { "name": secret, "key": "password" } } }],
                "volumeMounts": [{ "name": "config", "mountPath": "/config" }]
            }],
            "volumes": [
                { "name": "config", "configMap": { "name": configmap } },
                { "name": "kube-api-access", "projected": { "sources": [
                    { "serviceAccountToken": { "path": "token", "expirationSeconds": 3607 } }
                ] } }
            ]
        }
    }))
    .unwrap()
}

pub async fn create<K>(client: &Client, namespace: &str, obj: &K) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    Api::<K>::namespaced(client.clone(), namespace).create(&Default::default(), obj).await.unwrap()
}

pub fn configmap(name: &str, value: &str) -> k8s_openapi::api::core::v1::ConfigMap {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": "default" },
        "data": { "value": value }
    }))
    .unwrap()
}

pub fn secret(name: &str) -> k8s_openapi::api::core::v1::Secret {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": { "name": name, "namespace": "default" },
        "stringData": { "password": "s3cret" }
    }))
    .unwrap()
}

pub const DEADLINE: Duration = Duration::from_secs(30);

/// `json["a"]["b"]` as a str.
pub fn s<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(|v| v.as_str())
}
