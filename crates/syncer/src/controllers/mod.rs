//! The controllers: one kube-runtime `Controller` per kind (reconcile, error policy, context),
//! each in its own module; [`engine`] holds the generic part. [`run`] starts the enabled ones
//! and returns when `shutdown` is cancelled.
//!
//! Adding a kind (part 2: services, endpoints, ingresses, network policies) is one module with
//! a [`engine::Kind`] implementation and one line in [`run`].

pub(crate) mod configmaps;
pub(crate) mod defaultendpoint;
pub(crate) mod endpoints;
pub(crate) mod engine;
pub(crate) mod events;
pub(crate) mod ingressclasses;
pub(crate) mod ingresses;
pub(crate) mod lean;
pub(crate) mod networkpolicies;
pub(crate) mod nodehosts;
pub(crate) mod nodes;
pub(crate) mod podindex;
pub(crate) mod podnetwork;
pub(crate) mod pods;
pub(crate) mod pvcs;
pub(crate) mod secrets;
pub(crate) mod serviceaccounts;
pub(crate) mod services;
pub(crate) mod servicesync;
pub(crate) mod writes;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::PostParams;
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use crate::translate::{self, pods::Settings};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "vcluster-syncer";

/// Counters for tests and benchmarks: reconciles finished (generic kinds), events handled,
/// cleanups waiting to be checked again, Event copies remembered.
#[derive(Debug, Default)]
pub struct Stats {
    pub reconciled: std::sync::atomic::AtomicU64,
    pub events: std::sync::atomic::AtomicU64,
    /// Host objects whose virtual object was missing, being checked again later.
    pub(crate) pending_cleanups: std::sync::atomic::AtomicU64,
    /// Host Events whose virtual copy is known (what the Events controller remembers).
    pub(crate) event_copies: std::sync::atomic::AtomicU64,
}

impl Stats {
    pub fn reconciled(&self) -> u64 {
        self.reconciled.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn events(&self) -> u64 {
        self.events.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn pending_cleanups(&self) -> u64 {
        self.pending_cleanups.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn event_copies(&self) -> u64 {
        self.event_copies.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What the controllers are configured with.
#[derive(Clone)]
pub struct Config {
    /// The virtual cluster's API (k3s's admin kubeconfig).
    pub virtual_client: Client,
    /// The host cluster's API.
    pub host_client: Client,
    /// Names, owner and `--sync-labels`.
    pub translate: translate::Context,
    /// Pod translation settings from the flags.
    pub pods: Settings,
    /// Enabled controllers (`--sync`).
    pub controllers: BTreeSet<String>,
    /// `--sync-all-configmaps`, `--sync-all-secrets`.
    pub sync_all_configmaps: bool,
    pub sync_all_secrets: bool,
    /// `--enforce-pod-security-standard` (empty: none).
    pub pod_security_standard: String,
    /// `--map-host-service`, `--map-virtual-service`.
    pub service_mappings: crate::options::ServiceMappings,
    /// The vcluster's Service (kube IP for the pods' `kubernetes` host aliases).
    pub service_name: String,
    /// The virtual cluster's version (fake nodes' kubelet version).
    pub virtual_version: String,
    /// Counters.
    pub stats: Arc<Stats>,
    /// Host objects created that the host watches have not shown yet (shared with the API
    /// endpoint's Service redirect).
    pub recent_creates: Arc<crate::recent::RecentCreates>,
}

/// State shared by the controllers.
pub(crate) struct Shared {
    pub virtual_: Client,
    pub host: Client,
    pub tctx: translate::Context,
    pub pod_settings: Settings,
    pub config: Config,
    pub shutdown: CancellationToken,
    pub index: Arc<podindex::PodIndex>,
    failures: Mutex<HashMap<String, u32>>,
    /// Held while a fake node is created and a pod bound to it, and while the fake-node
    /// controller decides to delete one (`sharedNodesMutex`).
    pub nodes_lock: tokio::sync::Mutex<()>,
    /// Fake nodes known to exist in the virtual cluster (skips the lock and the GET for pods
    /// already bound to them).
    pub known_nodes: Mutex<std::collections::HashSet<String>>,
    /// The DNS and kube IPs and the virtual Services pods are translated with.
    pub network: Arc<podnetwork::PodNetwork>,
}

impl Shared {
    pub(crate) fn post_params(&self) -> PostParams {
        PostParams { dry_run: false, field_manager: Some(FIELD_MANAGER.into()) }
    }

    pub(crate) fn enabled(&self, controller: &str) -> bool {
        self.config.controllers.contains(controller)
    }

    pub(crate) fn record_failure(&self, key: &str) -> u32 {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    }

    pub(crate) fn forget_failures(&self, key: &str) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if !f.is_empty() {
            f.remove(key);
        }
    }

    /// A Warning event on a virtual object, as the established syncer's event recorder writes
    /// it (core/v1, source component `<kind>-syncer`). Best effort.
    pub(crate) async fn warn<K: Resource<DynamicType = ()>>(&self, obj: &K, reason: &str, message: &str) {
        let namespace = obj.namespace().unwrap_or_else(|| "default".into());
        let now = k8s_openapi::jiff::Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", obj.name_any(), now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(obj.name_any()),
                namespace: obj.namespace(),
                uid: obj.meta().uid.clone(),
                resource_version: obj.meta().resource_version.clone(),
                field_path: None,
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            type_: Some("Warning".into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            source: Some(EventSource {
                component: Some(format!("{}-syncer", K::kind(&()).to_lowercase())),
                host: None,
            }),
            ..Event::default()
        };
        let api: Api<Event> = Api::namespaced(self.virtual_.clone(), &namespace);
        if let Err(e) = writes::create(&api, &self.post_params(), &event).await {
            tracing::debug!(error = %e, "cannot record event {reason}");
        }
    }

    /// Retry the deletion of a host object whose virtual object is gone, with backoff.
    pub(crate) fn retry_cleanup<S: engine::Kind>(
        &self,
        kind: Arc<S>,
        virtual_store: kube::runtime::reflector::Store<S::Stored>,
        namespace: String,
        name: String,
    ) {
        let shutdown = self.shutdown.clone();
        let stats = self.config.stats.clone();
        stats.pending_cleanups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(async move {
            // Counted down however the task ends.
            struct Done(Arc<Stats>);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.pending_cleanups.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            let _done = Done(stats);
            for attempt in 0..10u32 {
                let delay = Duration::from_millis(500u64 << attempt.min(6));
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                if engine::virtual_gone::<S>(&kind, &virtual_store, &namespace, &name).await.is_ok() {
                    return;
                }
            }
        });
    }
}

/// Run every enabled controller until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) {
    let (index, triggers) = podindex::PodIndex::new();
    let index = Arc::new(index);
    let dns_service = config.translate.translator.host_name("kube-system", "kube-dns");
    let (network, dns_changes) = podnetwork::PodNetwork::start(
        &config.host_client,
        &config.virtual_client,
        config.translate.host_namespace(),
        &dns_service,
        &config.service_name,
        &shutdown,
    );
    let shared = Arc::new(Shared {
        virtual_: config.virtual_client.clone(),
        host: config.host_client.clone(),
        tctx: config.translate.clone(),
        pod_settings: config.pods.clone(),
        config: config.clone(),
        shutdown: shutdown.clone(),
        index: index.clone(),
        failures: Mutex::new(HashMap::new()),
        nodes_lock: tokio::sync::Mutex::new(()),
        known_nodes: Mutex::new(std::collections::HashSet::new()),
        network,
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(podindex::run(shared.clone(), index));
    let podindex::Triggers { configmaps, secrets, nodes, namespaces } = triggers;
    let (host_pods, host_pods_stream) = engine::host_watch(&shared);
    let (host_configmaps, host_configmaps_stream) = engine::host_watch(&shared);
    let (host_secrets, host_secrets_stream) = engine::host_watch(&shared);
    if shared.enabled("pods") {
        tasks.spawn(pods::run(shared.clone(), host_pods.clone(), host_pods_stream, namespaces, dns_changes));
    } else {
        drop(host_pods_stream);
    }
    if shared.enabled("configmaps") {
        tasks.spawn(configmaps::run(shared.clone(), host_configmaps.clone(), host_configmaps_stream, configmaps));
    }
    if shared.enabled("secrets") {
        tasks.spawn(secrets::run(shared.clone(), host_secrets.clone(), host_secrets_stream, secrets));
    }
    if shared.enabled("persistentvolumeclaims") {
        tasks.spawn(pvcs::run(shared.clone()));
    }
    if shared.enabled("serviceaccounts") {
        tasks.spawn(serviceaccounts::run(shared.clone()));
    }
    if shared.enabled("fake-nodes") && !shared.enabled("nodes") {
        tasks.spawn(nodes::run(shared.clone(), nodes));
    }
    if shared.enabled("services") {
        let (store, stream) = engine::host_watch(&shared);
        tasks.spawn(services::run(shared.clone(), store, stream));
    }
    if shared.enabled("endpoints") {
        let (store, stream) = engine::host_watch(&shared);
        tasks.spawn(endpoints::run(shared.clone(), store, stream));
    }
    // Always on, as upstream registers them (loft-sh/vcluster v0.15.7 pkg/controllers/register.go).
    tasks.spawn(defaultendpoint::run(shared.clone()));
    tasks.spawn(nodehosts::run(shared.clone()));
    if shared.enabled("ingresses") {
        tasks.spawn(ingresses::run(shared.clone()));
    }
    if shared.enabled("ingressclasses") {
        tasks.spawn(ingressclasses::run(shared.clone()));
    }
    if shared.enabled("networkpolicies") {
        tasks.spawn(networkpolicies::run(shared.clone()));
    }
    tasks.spawn(servicesync::run(shared.clone()));
    if shared.enabled("events") {
        tasks.spawn(events::run(
            shared.clone(),
            events::HostStores { pods: host_pods, configmaps: host_configmaps, secrets: host_secrets },
        ));
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done
            && e.is_panic()
        {
            tracing::error!("a controller panicked: {e}");
        }
    }
}
