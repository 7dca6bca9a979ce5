//! What every controller shares: the configuration, the counters, the clients and the state of
//! the run.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::PostParams;
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{podindex, podnetwork, writes};
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
    /// Host objects the controllers replaced that their stores do not show yet.
    pub recent_updates: crate::recent::RecentUpdates,
}

impl Shared {
    pub(crate) fn new(
        config: Config,
        shutdown: CancellationToken,
        index: Arc<podindex::PodIndex>,
        network: Arc<podnetwork::PodNetwork>,
    ) -> Shared {
        Shared {
            virtual_: config.virtual_client.clone(),
            host: config.host_client.clone(),
            tctx: config.translate.clone(),
            pod_settings: config.pods.clone(),
            config,
            shutdown,
            index,
            failures: Mutex::new(HashMap::new()),
            nodes_lock: tokio::sync::Mutex::new(()),
            known_nodes: Mutex::new(std::collections::HashSet::new()),
            network,
            recent_updates: crate::recent::RecentUpdates::default(),
        }
    }

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
}
