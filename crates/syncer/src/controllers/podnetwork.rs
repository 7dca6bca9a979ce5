//! What the pod translation needs about the network (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/pods/syncer.go` `findKubernetesIP`, `findKubernetesDNSIP`,
//! `translateAndFindService` and the namespace's Service list): kept up to date by watches
//! instead of a GET per pod.
//!
//! - the DNS IP: the host ClusterIP of `kube-dns-x-kube-system-x-<vc>` (the virtual
//!   `kube-system/kube-dns` Service of the CoreDNS bundle, synced by the services controller);
//! - the kube IP: the host ClusterIP of the vcluster Service `--service-name`;
//! - the virtual Services of each namespace (service-link variables), from the watch of the
//!   virtual Services the Services and Endpoints controllers share ([`informer`]).
//!
//! Each watch reports "known" only after its first complete list, and pods are translated only
//! then, so a pod created at start never misses an IP that exists. When the DNS IP appears or
//! changes while pods wait for it, [`PodNetwork::dns_changes`] asks the pods controller to
//! reconcile them again.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use super::informer;
use super::lean::{self, Lean};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A value a watch has either not listed yet, or knows (possibly as absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Known<T> {
    Unknown,
    Known(T),
}

/// The IPs and Services pods are translated with.
pub(crate) struct PodNetwork {
    dns_ip: watch::Receiver<Known<Option<String>>>,
    kube_ip: watch::Receiver<Known<Option<String>>>,
    services: Arc<ServiceIndex>,
    /// Set when a pod waits for the DNS IP; the next DNS IP change triggers a reconcile of all
    /// pods only then (at start the controller reconciles every pod anyway).
    waiting: Arc<AtomicBool>,
}

impl PodNetwork {
    /// Start the two host watches and the index of the virtual Services (ending on `shutdown`).
    /// The stream yields when the DNS IP appeared or changed while a pod waited for it.
    pub(crate) fn start(
        host: &Client,
        virtual_services: impl Stream<Item = informer::SharedEvent<Service>> + Send + 'static,
        host_namespace: &str,
        dns_service: &str,
        kube_service: &str,
        shutdown: &CancellationToken,
    ) -> (Arc<Self>, impl Stream<Item = ()> + Send + 'static) {
        let (trigger_tx, trigger_rx) = unbounded::<()>();
        let waiting = Arc::new(AtomicBool::new(false));
        let dns_ip = watch_service_ip(host, host_namespace, dns_service, shutdown, Some((trigger_tx, waiting.clone())));
        let kube_ip = watch_service_ip(host, host_namespace, kube_service, shutdown, None);
        let services = Arc::new(ServiceIndex::default());
        tokio::spawn(services.clone().run(virtual_services, shutdown.clone()));
        (Arc::new(PodNetwork { dns_ip, kube_ip, services, waiting }), trigger_rx)
    }

    /// Wait until the two host watches and the index have listed once (false: shut down first).
    pub(crate) async fn ready(&self) -> bool {
        let mut dns = self.dns_ip.clone();
        let mut kube = self.kube_ip.clone();
        let mut services = self.services.ready.subscribe();
        dns.wait_for(|k| *k != Known::Unknown).await.is_ok()
            && kube.wait_for(|k| *k != Known::Unknown).await.is_ok()
            && services.wait_for(|r| *r).await.is_ok()
    }

    /// The DNS IP, when the host Service exists and has one.
    pub(crate) fn dns_ip(&self) -> Option<String> {
        match &*self.dns_ip.borrow() {
            Known::Known(ip) => ip.clone(),
            Known::Unknown => None,
        }
    }

    /// The kube IP, when the vcluster Service exists and has one.
    pub(crate) fn kube_ip(&self) -> Option<String> {
        match &*self.kube_ip.borrow() {
            Known::Known(ip) => ip.clone(),
            Known::Unknown => None,
        }
    }

    /// Note that a pod waits for the DNS IP.
    pub(crate) fn waiting_for_dns(&self) {
        self.waiting.store(true, Ordering::Relaxed);
    }

    /// The virtual Services of `namespace` (name, ClusterIP and ports only), by name.
    pub(crate) fn services(&self, namespace: &str) -> Vec<Service> {
        let index = self.services.by_namespace.read().unwrap_or_else(|e| e.into_inner());
        index.get(namespace).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }
}

/// The ClusterIP of a Service (`None` when missing, empty or `None`).
fn cluster_ip(svc: &Service) -> Option<String> {
    svc.spec.as_ref().and_then(|s| s.cluster_ip.clone()).filter(|ip| !ip.is_empty() && ip != "None")
}

/// Watch one host Service by name; the receiver holds its ClusterIP once listed.
fn watch_service_ip(
    host: &Client,
    namespace: &str,
    name: &str,
    shutdown: &CancellationToken,
    trigger: Option<(UnboundedSender<()>, Arc<AtomicBool>)>,
) -> watch::Receiver<Known<Option<String>>> {
    let (tx, rx) = watch::channel(Known::Unknown);
    let api: Api<Lean<Service>> = Api::namespaced(host.clone(), namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let shutdown = shutdown.clone();
    let name = name.to_owned();
    tokio::spawn(async move {
        let mut events = lean::watcher(api, config).default_backoff().boxed();
        let mut listed: Option<String> = None;
        let set = |ip: Option<String>| {
            let changed = tx.send_if_modified(|current| {
                let next = Known::Known(ip.clone());
                let changed = *current != next;
                *current = next;
                changed
            });
            if changed {
                tracing::debug!(service = %name, ?ip, "host service IP");
                if let (Some(_), Some((trigger, waiting))) = (&ip, &trigger)
                    && waiting.swap(false, Ordering::Relaxed)
                {
                    let _ = trigger.unbounded_send(());
                }
            }
        };
        while let Some(event) = informer::next_until(&mut events, &shutdown).await {
            match event {
                Err(e) => tracing::debug!(error = %e, "watch of host service {name}"),
                Ok(watcher::Event::Init) => listed = None,
                Ok(watcher::Event::InitApply(svc)) => listed = cluster_ip(&svc),
                Ok(watcher::Event::InitDone) => set(listed.take()),
                Ok(watcher::Event::Apply(svc)) => set(cluster_ip(&svc)),
                Ok(watcher::Event::Delete(_)) => set(None),
            }
        }
    });
    rx
}

/// The virtual Services by namespace and name, trimmed to what the variables need.
#[derive(Default)]
struct ServiceIndex {
    by_namespace: RwLock<HashMap<String, BTreeMap<String, Service>>>,
    ready: watch::Sender<bool>,
}

impl ServiceIndex {
    async fn run(
        self: Arc<Self>,
        events: impl Stream<Item = informer::SharedEvent<Service>> + Send + 'static,
        shutdown: CancellationToken,
    ) {
        let mut events = std::pin::pin!(events);
        let mut staging: HashMap<String, BTreeMap<String, Service>> = HashMap::new();
        while let Some(event) = informer::next_until(&mut events, &shutdown).await {
            let index = || self.by_namespace.write().unwrap_or_else(|e| e.into_inner());
            match event {
                watcher::Event::Init => staging.clear(),
                watcher::Event::InitApply(svc) => {
                    staging.entry(svc.namespace().unwrap_or_default()).or_default().insert(svc.name_any(), trim(&svc));
                }
                watcher::Event::InitDone => {
                    *index() = std::mem::take(&mut staging);
                    self.ready.send_replace(true);
                }
                watcher::Event::Apply(svc) => {
                    index().entry(svc.namespace().unwrap_or_default()).or_default().insert(svc.name_any(), trim(&svc));
                }
                watcher::Event::Delete(svc) => {
                    if let Some(names) = index().get_mut(&svc.namespace().unwrap_or_default()) {
                        names.remove(&svc.name_any());
                    }
                }
            }
        }
    }
}

/// A Service with only its name, namespace, ClusterIP and ports (name, port, protocol).
fn trim(svc: &Service) -> Service {
    let spec = svc.spec.as_ref();
    Service {
        metadata: ObjectMeta {
            name: svc.metadata.name.clone(),
            namespace: svc.metadata.namespace.clone(),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: spec.and_then(|s| s.cluster_ip.clone()),
            ports: spec.and_then(|s| s.ports.as_ref()).map(|ports| {
                ports
                    .iter()
                    .map(|p| ServicePort {
                        name: p.name.clone(),
                        port: p.port,
                        protocol: p.protocol.clone(),
                        ..ServicePort::default()
                    })
                    .collect()
            }),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}
