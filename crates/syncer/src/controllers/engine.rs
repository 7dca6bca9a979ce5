//! The generic reconcile of one namespaced kind (loft-sh/vcluster v0.15.7
//! `pkg/controllers/syncer/syncer.go` `syncerController.Reconcile`, `DeleteObject`; the
//! create/update helpers of `translator/namespaced_translator.go`): a kube-runtime `Controller`
//! whose primary is the virtual object, with a watch on the host objects of this vcluster
//! (host namespace, `vcluster.loft.sh/managed-by=<name>`) mapped back through their
//! `object-name`/`object-namespace` annotations.
//!
//! For one virtual object:
//! - its host object missing → [`Kind::create`] (unless [`Kind::wanted`] says no);
//! - both present, the host's `object-uid` differs → delete the host object (recreated next);
//! - both present → [`Kind::sync`] (two-way: host update, virtual status);
//! - the virtual object gone (kube-runtime reports it as `ObjectNotFound`) → delete the host
//!   object, after a live GET confirms the virtual one is gone.
//!
//! Host objects that are not this vcluster's (no marker, other name) are never touched: a
//! virtual object whose host name is taken gets a `SyncError` event.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::controller::{self, Action};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::informer;
use super::lean::{self, Stored as _};
use super::shared::Shared;
use super::workqueue::{Done, Queued};
use super::writes;
use crate::error::{SyncError, is_code};
use crate::translate::{is_excluded, recorded_uid, virtual_name_of};

/// Reconciles in flight per kind. Upstream runs 10 (`MaxConcurrentReconciles`) on goroutines;
/// a reconcile here mostly waits on the API, so more run at once without more threads.
const CONCURRENCY: u16 = 32;

/// What one kind adds to the generic reconcile.
pub(crate) trait Kind: Send + Sync + 'static {
    type K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static;
    /// How the stores keep `K` (pods: packed, [`lean::Packed`]).
    type Stored: lean::Stored<Object = Self::K> + Resource<Scope = NamespaceResourceScope>;
    /// The syncer's name in logs and events (`pod`, `configmap`, …).
    const NAME: &'static str;

    fn shared(&self) -> &Arc<Shared>;

    /// The host objects of this kind (the reflector behind the host watch).
    fn host_store(&self) -> &Store<Self::Stored>;

    /// Whether the virtual object should exist on the host now (ConfigMaps and Secrets: only
    /// while used).
    fn wanted(&self, _v: &Self::K) -> bool {
        true
    }

    /// The host object to create; `None` to create nothing (yet).
    fn create(&self, v: &Arc<Self::K>) -> impl Future<Output = Result<Option<Self::K>, SyncError>> + Send;

    /// Both exist: make the writes the diff asks for.
    fn sync(&self, v: &Arc<Self::K>, h: &Arc<Self::K>) -> impl Future<Output = Result<Action, SyncError>> + Send;

    /// Whether a host object whose recorded `object-uid` differs is deleted and recreated
    /// (Services: no, upstream's `DisableUIDDeletion`; their virtual objects are recreated).
    fn recreate_on_uid_change(&self) -> bool {
        true
    }

    /// How long a host object without a virtual one is still kept (Services created through
    /// the API endpoint, host first); `None` to delete it now.
    fn keep_orphan(&self, _h: &Self::K) -> Option<Duration> {
        None
    }

    /// The virtual object is being created while deleted, or similar special cases before
    /// anything else; `Some` short-circuits. (pods: delete a terminating virtual pod that never
    /// reached the host)
    fn before_create(&self, _v: &Arc<Self::K>) -> impl Future<Output = Result<Option<Action>, SyncError>> + Send {
        async { Ok(None) }
    }
}

/// Whether a reflector's store has had its first list, without waiting. Reconciles check and
/// requeue instead of awaiting `Store::wait_until_ready`: kube-runtime 5.0.0
/// (src/utils/delayed_init.rs) parks every waiter on one futures oneshot receiver, which keeps
/// only the waker of the task that polled it last, so of several reconciles waiting at once all
/// but one were never woken (seen on a real control plane, whose first lists take longer than
/// the simulator's).
pub(crate) fn store_ready<K: reflector::Lookup + Clone + 'static>(
    store: &Store<K>,
    side: &'static str,
) -> Result<bool, Box<SyncError>>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    match store.wait_until_ready().now_or_never() {
        None => Ok(false),
        Some(Ok(())) => Ok(true),
        Some(Err(_)) => Err(Box::new(SyncError::NotReady(side))),
    }
}

/// The host name of a virtual object.
pub(crate) fn host_ref<K: Resource<DynamicType = ()>>(shared: &Shared, v: &K) -> ObjectRef<K> {
    let name = shared.tctx.translator.host_name(&v.namespace().unwrap_or_default(), &v.name_any());
    ObjectRef::new(&name).within(shared.tctx.host_namespace())
}

/// The generic reconcile of one virtual object.
pub(crate) async fn reconcile<S: Kind>(stored: Arc<S::Stored>, kind: Arc<S>) -> Result<Action, SyncError> {
    let shared = kind.shared().clone();
    if is_excluded(&stored.index_meta(), S::NAME) {
        return Ok(Action::await_change());
    }
    if !store_ready(kind.host_store(), "host").map_err(|e| *e)? {
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    let host_key = host_ref(&shared, stored.as_ref());
    let host = kind.host_store().get(&host_key);
    let waiting = match &host {
        Some(h) => {
            shared.config.recent_creates.seen::<S::K>(&host_key.name);
            let version = h.meta().resource_version.as_deref().unwrap_or_default();
            shared.recent_updates.pending::<S::K>(&host_key.name, version)
        }
        None => shared.config.recent_creates.pending::<S::K>(&host_key.name),
    };
    if waiting {
        // The host watch brings our own write soon, and with it another reconcile.
        shared.config.stats.reconciled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    // Decoded (packed kinds) only once past the early returns.
    let v = S::Stored::object(&stored).map_err(|e| *e)?;
    let host = host.as_ref().map(S::Stored::object).transpose().map_err(|e| *e)?;
    let result = match host {
        Some(h) if is_excluded(h.meta(), S::NAME) => Ok(Action::await_change()),
        // Not wanted on the host: whatever holds the name there is none of this object's
        // business (Endpoints of a Service with a selector: the host's controller makes them).
        Some(h) if !shared.tctx.is_managed(h.meta()) && !kind.wanted(&v) => Ok(Action::await_change()),
        Some(h) if !shared.tctx.is_managed(h.meta()) => {
            shared.warn(v.as_ref(), "SyncError", &SyncError::Unmanaged.to_string()).await;
            Err(SyncError::Unmanaged)
        }
        None => {
            if let Some(action) = kind.before_create(&v).await? {
                return Ok(action);
            }
            if !kind.wanted(&v) {
                return Ok(Action::await_change());
            }
            match kind.create(&v).await? {
                Some(obj) => create_host(&kind, &v, obj).await,
                None => Ok(Action::await_change()),
            }
        }
        Some(h) => {
            let uid = v.meta().uid.clone().unwrap_or_default();
            if kind.recreate_on_uid_change() && recorded_uid(h.meta()).is_some_and(|recorded| recorded != uid) {
                if h.meta().deletion_timestamp.is_some() {
                    return Ok(Action::requeue(Duration::from_secs(1)));
                }
                delete_host(&shared, h.as_ref(), S::NAME, "virtual object uid is different").await?;
                Ok(Action::await_change())
            } else if !kind.wanted(&v) {
                delete_host(&shared, h.as_ref(), S::NAME, "it is not used anymore").await?;
                Ok(Action::await_change())
            } else {
                kind.sync(&v, &h).await
            }
        }
    };
    if result.is_ok() {
        shared.forget_failures(&key_of(v.as_ref()));
    }
    shared.config.stats.reconciled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    result
}

async fn create_host<S: Kind>(kind: &Arc<S>, v: &Arc<S::K>, obj: S::K) -> Result<Action, SyncError> {
    let shared = kind.shared();
    let api: Api<S::K> = Api::namespaced(shared.host.clone(), shared.tctx.host_namespace());
    tracing::info!(kind = S::NAME, "create physical {}/{}", shared.tctx.host_namespace(), obj.name_any());
    match writes::create(&api, &shared.post_params(), &obj).await {
        Ok(()) => {
            shared.config.recent_creates.record::<S::K>(&obj.name_any());
            Ok(Action::await_change())
        }
        // Exists: our own create the store has not seen yet (retry), or an object with the name
        // that is not this vcluster's (the store only holds ours; never touch it).
        Err(e) if is_code(&e, 409) => match api.get_opt(&obj.name_any()).await {
            Ok(Some(existing))
                if !is_excluded(existing.meta(), S::NAME) && !shared.tctx.is_managed(existing.meta()) =>
            {
                shared.warn(v.as_ref(), "SyncError", &SyncError::Unmanaged.to_string()).await;
                Err(SyncError::Unmanaged)
            }
            _ => Ok(Action::requeue(Duration::from_millis(500))),
        },
        // The namespace is being created: retry.
        Err(e) if is_code(&e, 404) => Ok(Action::requeue(Duration::from_secs(1))),
        Err(e) => {
            let message = format!("Error syncing to physical cluster: {}", api_message(&e));
            shared.warn(v.as_ref(), "SyncError", &message).await;
            Err(SyncError::api("create", S::NAME, "host", shared.tctx.host_namespace(), &obj.name_any(), e))
        }
    }
}

/// Replace the host object (`SyncDownUpdate`: PUT with the stored resourceVersion; a conflict
/// requeues).
pub(crate) async fn update_host<S: Kind>(kind: &S, v: &S::K, obj: S::K) -> Result<Action, SyncError> {
    let shared = kind.shared();
    let api: Api<S::K> = Api::namespaced(shared.host.clone(), shared.tctx.host_namespace());
    let name = obj.name_any();
    tracing::info!(
        kind = S::NAME,
        "updating physical {}/{name}, because virtual {} have changed",
        shared.tctx.host_namespace(),
        S::NAME
    );
    match writes::replace(&api, &name, &shared.post_params(), &obj).await {
        Ok(()) => {
            if let Some(replaced) = obj.meta().resource_version.as_deref() {
                shared.recent_updates.record::<S::K>(&name, replaced);
            }
            Ok(Action::await_change())
        }
        Err(e) if is_code(&e, 409) => Ok(Action::requeue(Duration::from_millis(200))),
        Err(e) => {
            let message = format!("Error syncing to physical cluster: {}", api_message(&e));
            shared.warn(v, "SyncError", &message).await;
            Err(SyncError::api("update", S::NAME, "host", shared.tctx.host_namespace(), &name, e))
        }
    }
}

/// Delete a host object, with its uid as precondition (`DeleteObject`).
pub(crate) async fn delete_host<K>(shared: &Shared, h: &K, kind: &'static str, reason: &str) -> Result<(), SyncError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + Serialize,
{
    let api: Api<K> = Api::namespaced(shared.host.clone(), shared.tctx.host_namespace());
    let name = h.name_any();
    tracing::info!(kind, "delete physical {}/{name}, because {reason}", shared.tctx.host_namespace());
    let dp = DeleteParams {
        preconditions: h.meta().uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) || is_code(&e, 409) => Ok(()),
        Err(e) => Err(SyncError::api("delete", kind, "host", shared.tctx.host_namespace(), &name, e)),
    }
}

/// The message of an API error, as the Go client prints it.
pub(crate) fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => status.message.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn key_of<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// The error policy: retry with per-object exponential backoff (0.5 s doubling to 30 s).
pub(crate) fn error_policy<S: Kind>(v: Arc<S::Stored>, err: &SyncError, kind: Arc<S>) -> Action {
    let failures = kind.shared().record_failure(&key_of(v.as_ref()));
    if err.code() == Some(409) {
        return Action::requeue(Duration::from_millis(200));
    }
    tracing::warn!(kind = S::NAME, object = %key_of(v.as_ref()), error = %crate::error::chain(err), "reconcile failed");
    let millis = 500u64.saturating_mul(1u64 << failures.min(6)).min(30_000);
    Action::requeue(Duration::from_millis(millis))
}

/// The watch of this vcluster's host objects of one kind: a reflector (the kind's host store)
/// whose events trigger the virtual object they were synced from.
pub(crate) fn host_watch<K>(
    shared: &Shared,
) -> (Store<K>, impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let api = Api::namespaced(shared.host.clone(), shared.tctx.host_namespace());
    let config = lean::stored_config().labels(&format!(
        "{}={}",
        vcluster_translate::MANAGED_BY_LABEL,
        shared.tctx.translator.vcluster
    ));
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, lean::watcher(api, config)).default_backoff().touched_objects();
    (reader, stream)
}

/// A `Controller` over every virtual object of `K` that is triggered by deletions too:
/// `Controller::new` triggers on applied objects only, so a virtual object deleted while the
/// syncer runs (no finalizer, no graceful phase) would leave its host object until the next
/// start. A deleted object's reconcile ends in `ObjectNotFound`, which [`run`] turns into
/// [`virtual_gone`].
pub(crate) fn virtual_controller<K>(shared: &Shared) -> Queued<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let api = Api::all(shared.virtual_.clone());
    let (reader, writer) = reflector::store();
    let trigger = reflector(writer, lean::watcher(api, lean::stored_config())).default_backoff().touched_objects();
    Queued::new(trigger, reader, CONCURRENCY.into())
}

/// [`virtual_controller`] over a virtual watch other readers share ([`informer::Informer`]).
pub(crate) fn shared_virtual_controller<K>(
    store: Store<K>,
    events: impl futures::Stream<Item = informer::SharedEvent<K>> + Send + 'static,
) -> Queued<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let touched = events.filter_map(|event| futures::future::ready(informer::touched(&event)));
    Queued::from_refs(touched, store, CONCURRENCY.into())
}

/// Map a host object to the virtual object it was synced from.
pub(crate) fn host_to_virtual<K, V>(shared: &Shared, h: &K) -> Option<ObjectRef<V>>
where
    K: lean::Stored,
    V: Resource<DynamicType = ()>,
{
    // The host store has seen it now (created or gone): a reconcile decides from the store again.
    shared.config.recent_creates.seen::<K>(&h.name_any());
    let meta = h.index_meta();
    if !shared.tctx.is_managed(&meta) {
        return None;
    }
    let (namespace, name) = virtual_name_of(&meta)?;
    Some(ObjectRef::new(&name).within(&namespace))
}

/// Run a kind's controller until shutdown. `ctrl` is the prepared `Controller` (primary: the
/// virtual objects, plus the host watch and any extra triggers).
pub(crate) async fn run<S: Kind>(ctrl: Queued<S::Stored>, kind: Arc<S>) {
    let shared = kind.shared().clone();
    let shutdown = shared.shutdown.clone();
    let virtual_store = ctrl.store();
    let (ctrl, queue) = ctrl.finish();
    let reconciled = queue.clone();
    // The queue lets CONCURRENCY objects in at a time; the requeues run beside them.
    ctrl.with_config(controller::Config::default().concurrency(2 * CONCURRENCY))
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(
            move |stored: Arc<S::Stored>, kind: Arc<S>| {
                let done = Done::new(&reconciled, stored.as_ref());
                async move {
                    let result = reconcile::<S>(stored, kind).await;
                    drop(done);
                    result
                }
            },
            error_policy::<S>,
            kind.clone(),
        )
        .for_each_concurrent(16, |result| {
            let (kind, virtual_store, queue) = (kind.clone(), virtual_store.clone(), queue.clone());
            async move {
                match result {
                    Ok(_) => {}
                    Err(controller::Error::ObjectNotFound(obj)) => {
                        // Not in the store when its turn came: no reconcile ran to report it.
                        let mut object = ObjectRef::new(&obj.name);
                        object.namespace = obj.namespace.clone();
                        queue.done(&object);
                        let (namespace, name) = (obj.namespace.unwrap_or_default(), obj.name);
                        if let Err(e) = virtual_gone::<S>(&kind, &virtual_store, &namespace, &name).await {
                            if matches!(e, SyncError::Kept { .. }) {
                                tracing::debug!(kind = S::NAME, "{e}");
                            } else {
                                tracing::warn!(kind = S::NAME, error = %crate::error::chain(&e), "cleanup of {namespace}/{name} failed");
                            }
                            retry_cleanup::<S>(kind.shared(), kind.clone(), virtual_store, namespace, name);
                        }
                    }
                    Err(controller::Error::ReconcilerFailed(..)) => {}
                    Err(e) => tracing::debug!(kind = S::NAME, error = %e, "controller"),
                }
            }
        })
        .await;
}

/// The virtual object `namespace/name` is gone from the store: delete its host object when the
/// virtual API confirms it is gone (`Reconcile`, vObj == nil && pObj != nil).
pub(crate) async fn virtual_gone<S: Kind>(
    kind: &Arc<S>,
    virtual_store: &Store<S::Stored>,
    namespace: &str,
    name: &str,
) -> Result<(), SyncError> {
    let shared = kind.shared();
    if !store_ready(kind.host_store(), "host").map_err(|e| *e)? {
        return Err(SyncError::NotReady("host"));
    }
    let host_name = shared.tctx.translator.host_name(namespace, name);
    let Some(h) = kind.host_store().get(&ObjectRef::new(&host_name).within(shared.tctx.host_namespace())) else {
        return Ok(());
    };
    let meta = h.index_meta();
    if is_excluded(&meta, S::NAME) || !shared.tctx.is_managed(&meta) {
        return Ok(());
    }
    let h = S::Stored::object(&h).map_err(|e| *e)?;
    if let Some(remaining) = kind.keep_orphan(h.as_ref()) {
        return Err(SyncError::Kept { kind: S::NAME, name: host_name, remaining });
    }
    // Back in the store since (a host object made before its virtual one, as the endpoint's
    // Service redirect does): nothing to ask the virtual API.
    if virtual_store.get(&ObjectRef::new(name).within(namespace)).is_some() {
        return Ok(());
    }
    let vapi: Api<S::K> = Api::namespaced(shared.virtual_.clone(), namespace);
    match vapi.get_opt(name).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(e) => return Err(SyncError::api("get", S::NAME, "virtual", namespace, name, e)),
    }
    delete_host(shared, h.as_ref(), S::NAME, "virtual object was deleted").await
}

/// Retry the deletion of a host object whose virtual object is gone, with backoff.
fn retry_cleanup<S: Kind>(
    shared: &Shared,
    kind: Arc<S>,
    virtual_store: kube::runtime::reflector::Store<S::Stored>,
    namespace: String,
    name: String,
) {
    let shutdown = shared.shutdown.clone();
    let stats = shared.config.stats.clone();
    stats.pending_cleanups.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tokio::spawn(async move {
        // Counted down however the task ends.
        struct Done(Arc<super::shared::Stats>);
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
            if virtual_gone::<S>(&kind, &virtual_store, &namespace, &name).await.is_ok() {
                return;
            }
        }
    });
}
