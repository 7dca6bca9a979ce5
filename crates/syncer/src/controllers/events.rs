//! The events controller, host → virtual (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/events/syncer.go`): its primary is the host Event (the direction
//! of this kind), mapped to the virtual object of the synced host object it is about.
//!
//! Events are the most numerous objects a vcluster has (several per pod), so this controller
//! keeps none of them: a watch of the host Events hands each to one of [`WORKERS`] queues (one
//! Event always to the same queue, so its versions are handled in order), and what it remembers
//! of each copy is a digest. At start it lists the virtual Events once and keeps their digests
//! until the host Events they belong to come: a restart then compares in memory instead of
//! reading every virtual Event back.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use tokio::sync::mpsc;

use super::lean::{self, Lean, Packed};
use super::shared::Shared;
use super::writes;
use crate::error::{SyncError, is_code};
use crate::translate::{events, virtual_name_of};

/// The host stores events are mapped through.
pub(crate) struct HostStores {
    pub pods: Store<Packed<Pod>>,
    pub configmaps: Store<Packed<ConfigMap>>,
    pub secrets: Store<Packed<Secret>>,
}

struct Ctx {
    shared: Arc<Shared>,
    stores: HostStores,
    copies: Mutex<Copies>,
}

fn host_meta<K: lean::Stored>(store: &Store<K>, namespace: &str, name: &str) -> Option<ObjectMeta> {
    store.get(&ObjectRef::new(name).within(namespace)).map(|o| o.index_meta().into_owned())
}

async fn virtual_meta<K>(shared: &Shared, namespace: &str, name: &str) -> Result<Option<ObjectMeta>, SyncError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(shared.virtual_.clone(), namespace);
    api.get_opt(name)
        .await
        .map(|o| o.map(|o| o.meta().clone()))
        .map_err(|e| SyncError::api("get", "object", "virtual", namespace, name, e))
}

/// How long an event about a Pod, ConfigMap or Secret the host stores have not seen is looked at
/// again: the event and its object come on two watches, so the event may come first. Upstream
/// drops such an event (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/events/syncer.go`,
/// NotFound → done), and its copy is then missing until the syncer restarts.
const UNSEEN_GRACE: Duration = Duration::from_secs(10);
const UNSEEN_RETRY: Duration = Duration::from_millis(500);

enum Handled {
    Done(Action),
    /// The event's object is not in the host stores yet.
    Later,
}

/// Whether the event is young enough that its object may still be on its way to the stores.
fn young(h: &Event) -> bool {
    h.metadata.creation_timestamp.as_ref().is_none_or(|t| {
        let age = k8s_openapi::jiff::Timestamp::now().duration_since(t.0);
        age < k8s_openapi::jiff::SignedDuration::try_from(UNSEEN_GRACE).unwrap_or_default()
    })
}

async fn reconcile_event(h: &Event, ctx: &Ctx) -> Result<Handled, SyncError> {
    let shared = &ctx.shared;
    let involved = &h.involved_object;
    let kind = involved.kind.as_deref().unwrap_or_default();
    if involved.api_version.as_deref().unwrap_or("v1") != "v1" || !events::ACCEPTED_KINDS.contains(&kind) {
        return Ok(Handled::Done(Action::await_change()));
    }
    let namespace = h.namespace().unwrap_or_default();
    let name = involved.name.clone().unwrap_or_default();
    let host = match kind {
        "Pod" => host_meta(&ctx.stores.pods, &namespace, &name),
        "ConfigMap" => host_meta(&ctx.stores.configmaps, &namespace, &name),
        "Secret" => host_meta(&ctx.stores.secrets, &namespace, &name),
        // Services and Endpoints are synced in part 2.
        _ => None,
    };
    let Some(host) = host else {
        let stored_kind = matches!(kind, "Pod" | "ConfigMap" | "Secret");
        return Ok(if stored_kind && young(h) { Handled::Later } else { Handled::Done(Action::await_change()) });
    };
    if !shared.tctx.is_managed(&host) {
        return Ok(Handled::Done(Action::await_change()));
    }
    let Some((vns, vname)) = virtual_name_of(&host) else { return Ok(Handled::Done(Action::await_change())) };
    let vmeta = match kind {
        "Pod" => match shared.index.pod_identity(&vns, &vname) {
            Some((uid, rv)) => Some(ObjectMeta { uid: Some(uid), resource_version: Some(rv), ..ObjectMeta::default() }),
            None => virtual_meta::<Pod>(shared, &vns, &vname).await?,
        },
        "ConfigMap" => virtual_meta::<ConfigMap>(shared, &vns, &vname).await?,
        _ => virtual_meta::<Secret>(shared, &vns, &vname).await?,
    };
    let Some(vmeta) = vmeta else { return Ok(Handled::Done(Action::await_change())) };
    let desired = events::to_virtual(
        h,
        &events::Involved {
            namespace: &vns,
            name: &vname,
            uid: vmeta.uid.as_deref().unwrap_or_default(),
            resource_version: vmeta.resource_version.as_deref().unwrap_or_default(),
        },
    );
    // Cannot create events in terminating namespaces.
    match shared.index.namespace_active(&vns) {
        Some(true) => {}
        Some(false) => return Ok(Handled::Done(Action::await_change())),
        None => {
            let ns_api: Api<Namespace> = Api::all(shared.virtual_.clone());
            match ns_api.get_opt(&vns).await {
                Ok(Some(ns)) if ns.metadata.deletion_timestamp.is_none() => {}
                Ok(_) => return Ok(Handled::Done(Action::await_change())),
                Err(e) => return Err(SyncError::api("get", "namespace", "virtual", "", &vns, e)),
            }
        }
    }
    let event_name = desired.name_any();
    let (host_key, virtual_key) = (hashed(&key(&namespace, &h.name_any())), hashed(&key(&vns, &event_name)));
    let wanted = digest(&desired);
    let api: Api<Event> = Api::namespaced(shared.virtual_.clone(), &vns);
    let pp = shared.post_params();
    let result = match ctx.copy_of(host_key, virtual_key, wanted) {
        Copy::Current => return Ok(Handled::Done(Action::await_change())),
        // Upstream reads the virtual Event first (`events/syncer.go`); for an Event no copy was
        // made of, that read is a 404 (one request per Event), so it is created at once.
        Copy::Missing => match writes::create(&api, &pp, &desired).await {
            Err(e) if is_code(&e, 409) => update_copy(&api, &pp, &desired).await,
            other => other,
        },
        Copy::Stale => update_copy(&api, &pp, &desired).await,
    };
    match result {
        Ok(()) => {
            ctx.copied(host_key, virtual_key, wanted);
            Ok(Handled::Done(Action::await_change()))
        }
        Err(e) if is_code(&e, 409) => Ok(Handled::Done(Action::requeue(Duration::from_millis(200)))),
        Err(e) => Err(SyncError::api("write", "event", "virtual", &vns, &event_name, e)),
    }
}

/// Bring the virtual Event up to date (or create it, gone since).
async fn update_copy(api: &Api<Event>, pp: &PostParams, desired: &Event) -> kube::Result<()> {
    let name = desired.name_any();
    match api.get_opt(&name).await? {
        None => writes::create(api, pp, desired).await,
        Some(existing) => match events::update(&existing, desired) {
            Some(updated) => writes::replace(api, &name, pp, &updated).await,
            None => Ok(()),
        },
    }
}

/// Queues (and Events handled at once).
const WORKERS: usize = 10;
/// Events waiting in each queue: when the Events come faster than they are copied (a burst of
/// new pods, the first list after a start), the watch waits instead of this process holding
/// them all (at 10,000 pods there are about 50,000).
const QUEUE: usize = 64;
/// How long a failed Event waits before it is tried again.
const ERROR_RETRY: Duration = Duration::from_secs(5);

/// What the copies made or found look like, by digest ([`digest`]).
#[derive(Default)]
struct Copies {
    /// Virtual Events listed at start (hash of `namespace/name` → digest), until a host Event
    /// matches. (Hashes, not names: there is an entry per Event.)
    listed: HashMap<u64, u64>,
    /// Host Event (hash of `namespace/name`) → (its virtual Event's, digest).
    by_host: HashMap<u64, (u64, u64)>,
    /// Host Events waiting for a retry: the latest version seen of each.
    retrying: HashMap<String, Arc<Event>>,
}

impl Copies {
    /// Forget every host Event not in `seen` (hashes of `namespace/name`).
    fn keep_only(&mut self, seen: &HashSet<u64>) {
        self.by_host.retain(|host, _| seen.contains(host));
        self.retrying.retain(|host, _| seen.contains(&hashed(host)));
    }
}

/// What is known of a host Event's virtual copy.
enum Copy {
    /// Made (or listed at start) with what the host Event says now.
    Current,
    /// Made or listed, but the host Event changed since.
    Stale,
    /// None made or listed.
    Missing,
}

/// A digest of what [`events::update`] compares: everything but the metadata and the involved
/// object's resourceVersion.
fn digest(e: &Event) -> u64 {
    let mut e = e.clone();
    e.metadata = ObjectMeta::default();
    e.involved_object.resource_version = None;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(&e).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn hashed(key: &str) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

impl Ctx {
    fn copies(&self) -> std::sync::MutexGuard<'_, Copies> {
        self.copies.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is known of the copy of host Event `host_key`, against the `digest` it should have.
    fn copy_of(&self, host_key: u64, virtual_key: u64, digest: u64) -> Copy {
        let mut copies = self.copies();
        if copies.by_host.get(&host_key) == Some(&(virtual_key, digest)) {
            return Copy::Current;
        }
        if copies.listed.get(&virtual_key) == Some(&digest) {
            copies.listed.remove(&virtual_key);
            copies.by_host.insert(host_key, (virtual_key, digest));
            return Copy::Current;
        }
        if copies.by_host.contains_key(&host_key) || copies.listed.contains_key(&virtual_key) {
            Copy::Stale
        } else {
            Copy::Missing
        }
    }

    fn copied(&self, host_key: u64, virtual_key: u64, digest: u64) {
        let mut copies = self.copies();
        copies.listed.remove(&virtual_key);
        copies.by_host.insert(host_key, (virtual_key, digest));
        self.count(&copies);
    }

    /// The gauge of host Events with a known copy ([`super::Stats::event_copies`]).
    fn count(&self, copies: &Copies) {
        self.shared.config.stats.event_copies.store(copies.by_host.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The digests of the virtual Events there are (a paginated list).
async fn list_virtual(shared: &Shared) -> HashMap<u64, u64> {
    let api: Api<Event> = Api::all(shared.virtual_.clone());
    let mut listed = HashMap::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = match api.list(&params).await {
            Ok(page) => page,
            Err(e) => {
                // Without it every Event is read back once: slower, not wrong.
                tracing::debug!(error = %e, "list virtual events");
                return listed;
            }
        };
        for e in &page.items {
            listed.insert(hashed(&key(&e.namespace().unwrap_or_default(), &e.name_any())), digest(e));
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return listed,
        }
    }
}

/// Handle one host Event; a retry is queued again after its delay with the latest version.
async fn handle(h: Arc<Event>, ctx: &Arc<Ctx>, queue: &mpsc::Sender<Arc<Event>>) {
    let result = reconcile_event(&h, ctx).await;
    let retry = match &result {
        Ok(Handled::Done(action)) if *action == Action::await_change() => None,
        Ok(Handled::Done(_)) => Some(Duration::from_millis(200)),
        Ok(Handled::Later) => Some(UNSEEN_RETRY),
        Err(e) => {
            tracing::debug!(error = %crate::error::chain(e), "event");
            Some(ERROR_RETRY)
        }
    };
    // Counted once finished with, not while its object may still come.
    if !matches!(result, Ok(Handled::Later)) {
        ctx.shared.config.stats.events.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let Some(delay) = retry else { return };
    let host_key = key(&h.namespace().unwrap_or_default(), &h.name_any());
    {
        let mut copies = ctx.copies();
        if copies.retrying.contains_key(&host_key) {
            return;
        }
        copies.retrying.insert(host_key.clone(), h);
    }
    let (ctx, queue, shutdown) = (ctx.clone(), queue.clone(), ctx.shared.shutdown.clone());
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(delay) => {
                let latest = ctx.copies().retrying.remove(&host_key);
                if let Some(latest) = latest {
                    let _ = queue.send(latest).await;
                }
            }
        }
    });
}

pub(crate) async fn run(shared: Arc<Shared>, stores: HostStores) {
    let listed = list_virtual(&shared).await;
    let ctx = Arc::new(Ctx { shared, stores, copies: Mutex::new(Copies { listed, ..Copies::default() }) });
    let mut queues = Vec::with_capacity(WORKERS);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let (tx, mut rx) = mpsc::channel::<Arc<Event>>(QUEUE);
        let (ctx, queue) = (ctx.clone(), tx.clone());
        workers.spawn(async move {
            while let Some(h) = rx.recv().await {
                handle(h, &ctx, &queue).await;
            }
        });
        queues.push(tx);
    }
    let api: Api<Lean<Event>> = Api::namespaced(ctx.shared.host.clone(), ctx.shared.tctx.host_namespace());
    let mut stream = lean::watcher(api, watcher::Config::default()).default_backoff().boxed();
    let shutdown = ctx.shared.shutdown.clone();
    // The host Events of a (re)list, from `Init` to `InitDone`.
    let mut relisted: Option<HashSet<u64>> = None;
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            event = stream.next() => event,
        };
        let h = match event {
            None => break,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "host event watch");
                continue;
            }
            Some(Ok(watcher::Event::Init)) => {
                relisted = Some(HashSet::new());
                continue;
            }
            Some(Ok(watcher::Event::InitApply(h))) => {
                if let Some(seen) = relisted.as_mut() {
                    seen.insert(hashed(&key(&h.namespace().unwrap_or_default(), &h.name_any())));
                }
                h
            }
            Some(Ok(watcher::Event::InitDone)) => {
                // Host Events deleted while the watch was down (and its history gone) are not
                // in the new list and no Delete comes for them: forget their copies.
                if let Some(seen) = relisted.take() {
                    let mut copies = ctx.copies();
                    copies.keep_only(&seen);
                    ctx.count(&copies);
                }
                continue;
            }
            Some(Ok(watcher::Event::Apply(h))) => h,
            Some(Ok(watcher::Event::Delete(h))) => {
                let host_key = key(&h.namespace().unwrap_or_default(), &h.name_any());
                let mut copies = ctx.copies();
                copies.by_host.remove(&hashed(&host_key));
                copies.retrying.remove(&host_key);
                ctx.count(&copies);
                continue;
            }
        };
        let host_key = key(&h.namespace().unwrap_or_default(), &h.name_any());
        let h = Arc::new(h);
        {
            // A retry is pending: it takes this version when its time comes.
            let mut copies = ctx.copies();
            if let Some(waiting) = copies.retrying.get_mut(&host_key) {
                *waiting = h;
                continue;
            }
        }
        // A full queue holds the watch back (the Events wait on the server, not in memory here).
        let queue = &queues[(hashed(&host_key) % WORKERS as u64) as usize];
        tokio::select! {
            () = shutdown.cancelled() => break,
            sent = queue.send(h) => if sent.is_err() { break },
        }
    }
    drop(queues);
    workers.abort_all();
}
