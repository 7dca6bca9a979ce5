//! What the virtual pods reference, kept from one watch of the virtual pods (the field indices
//! of the established syncer: `IndexByConfigMap`, `IndexBySecret`, `IndexByAssigned`): which
//! ConfigMaps and Secrets are used (only those are synced), which nodes are needed (fake nodes
//! live as long as a pod is bound to them). After each change of the index it triggers the
//! affected ConfigMaps, Secrets and nodes, so their controllers never see a stale index; and the
//! pods of a namespace whose labels changed (the namespace-label projection).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use futures::channel::mpsc;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret};
use kube::ResourceExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::lean::{self, Lean, Packed};
use crate::translate::{configmaps, nodes, secrets};

type Key = (String, String);

#[derive(Default)]
struct State {
    /// pod → what it references.
    pods: HashMap<Key, PodRefs>,
    /// pod → (uid, resourceVersion), for the events controller.
    identities: HashMap<Key, (String, String)>,
    configmaps: HashMap<Key, usize>,
    secrets: HashMap<Key, usize>,
    nodes: HashMap<String, usize>,
    /// namespace → pods in it.
    by_namespace: HashMap<String, HashSet<String>>,
    namespace_labels: HashMap<String, BTreeMap<String, String>>,
    terminating: HashSet<String>,
    /// ingress → the Secrets it references (`ingresses::run_secret_index`).
    ingresses: HashMap<Key, Vec<Key>>,
}

#[derive(Default, Clone, PartialEq, Eq)]
struct PodRefs {
    configmaps: Vec<String>,
    secrets: Vec<String>,
    node: Option<String>,
}

/// The index.
pub(crate) struct PodIndex {
    state: Mutex<State>,
    ready: watch::Sender<bool>,
    ingresses_ready: watch::Sender<bool>,
    tx: Senders,
}

struct Senders {
    configmaps: mpsc::UnboundedSender<ObjectRef<Packed<ConfigMap>>>,
    secrets: mpsc::UnboundedSender<ObjectRef<Packed<Secret>>>,
    nodes: mpsc::UnboundedSender<ObjectRef<Node>>,
    namespaces: mpsc::UnboundedSender<ObjectRef<Packed<Pod>>>,
}

/// The trigger streams for the controllers.
pub(crate) struct Triggers {
    pub configmaps: mpsc::UnboundedReceiver<ObjectRef<Packed<ConfigMap>>>,
    pub secrets: mpsc::UnboundedReceiver<ObjectRef<Packed<Secret>>>,
    pub nodes: mpsc::UnboundedReceiver<ObjectRef<Node>>,
    /// Pods whose namespace's labels changed.
    pub namespaces: mpsc::UnboundedReceiver<ObjectRef<Packed<Pod>>>,
}

impl PodIndex {
    pub(crate) fn new() -> (PodIndex, Triggers) {
        let (c_tx, c_rx) = mpsc::unbounded();
        let (s_tx, s_rx) = mpsc::unbounded();
        let (n_tx, n_rx) = mpsc::unbounded();
        let (ns_tx, ns_rx) = mpsc::unbounded();
        let (ready, _) = watch::channel(false);
        let (ingresses_ready, _) = watch::channel(false);
        (
            PodIndex {
                state: Mutex::new(State::default()),
                ready,
                ingresses_ready,
                tx: Senders { configmaps: c_tx, secrets: s_tx, nodes: n_tx, namespaces: ns_tx },
            },
            Triggers { configmaps: c_rx, secrets: s_rx, nodes: n_rx, namespaces: ns_rx },
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until the first list of virtual pods is in.
    pub(crate) async fn ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    pub(crate) fn configmap_used(&self, namespace: &str, name: &str) -> bool {
        self.lock().configmaps.get(&(namespace.to_owned(), name.to_owned())).is_some_and(|n| *n > 0)
    }

    pub(crate) fn secret_used(&self, namespace: &str, name: &str) -> bool {
        self.lock().secrets.get(&(namespace.to_owned(), name.to_owned())).is_some_and(|n| *n > 0)
    }

    pub(crate) fn node_needed(&self, name: &str) -> bool {
        self.lock().nodes.get(name).is_some_and(|n| *n > 0)
    }

    /// The uid and resourceVersion of a virtual pod, as last seen.
    pub(crate) fn pod_identity(&self, namespace: &str, name: &str) -> Option<(String, String)> {
        self.lock().identities.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    /// Whether the virtual namespace exists and is not being deleted (`None`: not seen yet).
    pub(crate) fn namespace_active(&self, namespace: &str) -> Option<bool> {
        let state = self.lock();
        state.namespace_labels.contains_key(namespace).then(|| !state.terminating.contains(namespace))
    }

    /// The labels of a virtual namespace, once seen.
    pub(crate) fn namespace_labels(&self, namespace: &str) -> Option<BTreeMap<String, String>> {
        self.lock().namespace_labels.get(namespace).cloned()
    }

    /// Secrets referenced by a virtual Ingress count as used like a pod's (v0.15.7
    /// `secrets/syncer.go`, `IndexByIngressSecret`); the Secrets controller is triggered for
    /// every Secret that gains or loses a reference.
    pub(crate) fn set_ingress_secrets(&self, ingress: Key, secrets: Vec<Key>) {
        let old = {
            let mut state = self.lock();
            let old = state.ingresses.insert(ingress, secrets.clone()).unwrap_or_default();
            if old == secrets {
                return;
            }
            for key in &old {
                if let Some(n) = state.secrets.get_mut(key) {
                    *n = n.saturating_sub(1);
                }
            }
            for key in &secrets {
                *state.secrets.entry(key.clone()).or_default() += 1;
            }
            old
        };
        for (namespace, name) in old.iter().chain(&secrets) {
            let _ = self.tx.secrets.unbounded_send(ObjectRef::new(name).within(namespace));
        }
    }

    /// The ingresses indexed, for a relist.
    pub(crate) fn ingress_keys(&self) -> Vec<Key> {
        self.lock().ingresses.keys().cloned().collect()
    }

    /// The first list of virtual Ingresses is in.
    pub(crate) fn ingresses_listed(&self) {
        self.ingresses_ready.send_replace(true);
    }

    /// Wait until the first list of virtual Ingresses is in (with ingress sync on).
    pub(crate) async fn ingresses_ready(&self) {
        let mut rx = self.ingresses_ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    fn apply(&self, pod: &Pod) {
        let key = (pod.namespace().unwrap_or_default(), pod.name_any());
        let refs = PodRefs {
            configmaps: configmaps::names_from_pod(pod),
            secrets: secrets::names_from_pod(pod),
            node: nodes::keeps_node_alive(pod).map(str::to_owned),
        };
        let old = {
            let mut state = self.lock();
            let identity = (
                pod.metadata.uid.clone().unwrap_or_default(),
                pod.metadata.resource_version.clone().unwrap_or_default(),
            );
            state.identities.insert(key.clone(), identity);
            state.by_namespace.entry(key.0.clone()).or_default().insert(key.1.clone());
            let old = state.pods.insert(key.clone(), refs.clone());
            if old.as_ref() == Some(&refs) {
                return;
            }
            if let Some(old) = &old {
                remove_refs(&mut state, &key.0, old);
            }
            add_refs(&mut state, &key.0, &refs);
            old
        };
        self.trigger(&key.0, old.as_ref(), Some(&refs));
    }

    fn delete(&self, namespace: &str, name: &str) {
        let old = {
            let mut state = self.lock();
            if let Some(set) = state.by_namespace.get_mut(namespace) {
                set.remove(name);
            }
            state.identities.remove(&(namespace.to_owned(), name.to_owned()));
            let old = state.pods.remove(&(namespace.to_owned(), name.to_owned()));
            if let Some(old) = &old {
                remove_refs(&mut state, namespace, old);
            }
            old
        };
        self.trigger(namespace, old.as_ref(), None);
    }

    fn trigger(&self, namespace: &str, old: Option<&PodRefs>, new: Option<&PodRefs>) {
        for refs in [old, new].into_iter().flatten() {
            for c in &refs.configmaps {
                let _ = self.tx.configmaps.unbounded_send(ObjectRef::new(c).within(namespace));
            }
            for s in &refs.secrets {
                let _ = self.tx.secrets.unbounded_send(ObjectRef::new(s).within(namespace));
            }
            if let Some(n) = &refs.node {
                let _ = self.tx.nodes.unbounded_send(ObjectRef::new(n));
            }
        }
    }

    fn namespace_changed(&self, ns: &Namespace) {
        let name = ns.name_any();
        let labels = ns.labels().clone();
        let pods: Vec<String> = {
            let mut state = self.lock();
            if ns.metadata.deletion_timestamp.is_some() {
                state.terminating.insert(name.clone());
            } else {
                state.terminating.remove(&name);
            }
            let previous = state.namespace_labels.insert(name.clone(), labels.clone());
            if previous.is_none() || previous.as_ref() == Some(&labels) {
                return;
            }
            state.by_namespace.get(&name).map(|s| s.iter().cloned().collect()).unwrap_or_default()
        };
        for pod in pods {
            let _ = self.tx.namespaces.unbounded_send(ObjectRef::new(&pod).within(&name));
        }
    }
}

fn add_refs(state: &mut State, namespace: &str, refs: &PodRefs) {
    for c in &refs.configmaps {
        *state.configmaps.entry((namespace.to_owned(), c.clone())).or_default() += 1;
    }
    for s in &refs.secrets {
        *state.secrets.entry((namespace.to_owned(), s.clone())).or_default() += 1;
    }
    if let Some(n) = &refs.node {
        *state.nodes.entry(n.clone()).or_default() += 1;
    }
}

fn remove_refs(state: &mut State, namespace: &str, refs: &PodRefs) {
    for c in &refs.configmaps {
        if let Some(n) = state.configmaps.get_mut(&(namespace.to_owned(), c.clone())) {
            *n = n.saturating_sub(1);
        }
    }
    for s in &refs.secrets {
        if let Some(n) = state.secrets.get_mut(&(namespace.to_owned(), s.clone())) {
            *n = n.saturating_sub(1);
        }
    }
    if let Some(node) = &refs.node
        && let Some(n) = state.nodes.get_mut(node)
    {
        *n = n.saturating_sub(1);
    }
}

/// Keep the index from the virtual pods and namespaces until shutdown.
pub(crate) async fn run(virtual_: Client, shutdown: CancellationToken, index: Arc<PodIndex>) {
    let pods: Api<Lean<Pod>> = Api::all(virtual_.clone());
    let namespaces: Api<Lean<Namespace>> = Api::all(virtual_);
    let mut pod_events = lean::watcher(pods, lean::stored_config()).default_backoff().boxed();
    let mut ns_events =
        lean::watcher(namespaces, watcher::Config::default()).default_backoff().touched_objects().boxed();
    let mut relist: Option<HashSet<Key>> = None;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            Some(event) = pod_events.next() => match event {
                Ok(Event::Init) => relist = Some(HashSet::new()),
                Ok(Event::InitApply(pod)) => {
                    if let Some(seen) = relist.as_mut() {
                        seen.insert((pod.namespace().unwrap_or_default(), pod.name_any()));
                    }
                    index.apply(&pod);
                }
                Ok(Event::InitDone) => {
                    // Pods deleted while the watch was down.
                    if let Some(seen) = relist.take() {
                        let gone: Vec<Key> = index.lock().pods.keys().filter(|k| !seen.contains(*k)).cloned().collect();
                        for (ns, name) in gone {
                            index.delete(&ns, &name);
                        }
                    }
                    index.ready.send_replace(true);
                }
                Ok(Event::Apply(pod)) => index.apply(&pod),
                Ok(Event::Delete(pod)) => index.delete(&pod.namespace().unwrap_or_default(), &pod.name_any()),
                Err(e) => tracing::debug!(error = %e, "virtual pod watch"),
            },
            Some(ns) = ns_events.next() => {
                if let Ok(ns) = ns {
                    index.namespace_changed(&ns);
                }
            }
        }
    }
}
