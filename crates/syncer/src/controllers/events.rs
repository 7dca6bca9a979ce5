//! The events controller, host → virtual (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/events/syncer.go`): its primary is the host Event (the direction
//! of this kind), mapped to the virtual object of the synced host object it is about.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Resource, ResourceExt};

use super::Shared;
use crate::error::{SyncError, is_code};
use crate::translate::{events, virtual_name_of};

/// The host stores events are mapped through.
pub(crate) struct HostStores {
    pub pods: Store<Pod>,
    pub configmaps: Store<ConfigMap>,
    pub secrets: Store<Secret>,
}

struct Ctx {
    shared: Arc<Shared>,
    stores: HostStores,
}

fn host_meta<K: Resource<DynamicType = ()> + Clone>(
    store: &Store<K>,
    namespace: &str,
    name: &str,
) -> Option<ObjectMeta> {
    store.get(&ObjectRef::new(name).within(namespace)).map(|o| o.meta().clone())
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

async fn reconcile(h: Arc<Event>, ctx: Arc<Ctx>) -> Result<Action, SyncError> {
    let result = reconcile_event(&h, &ctx).await;
    // Counted once finished with, not while its object may still come.
    if !matches!(result, Ok(Handled::Later)) {
        ctx.shared.config.stats.events.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    result.map(|handled| match handled {
        Handled::Done(action) => action,
        Handled::Later => Action::requeue(UNSEEN_RETRY),
    })
}

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
    let api: Api<Event> = Api::namespaced(shared.virtual_.clone(), &vns);
    let event_name = desired.name_any();
    let existing =
        api.get_opt(&event_name).await.map_err(|e| SyncError::api("get", "event", "virtual", &vns, &event_name, e))?;
    let result = match existing {
        None => api.create(&shared.post_params(), &desired).await.map(|_| ()),
        Some(existing) => match events::update(&existing, &desired) {
            Some(updated) => api.replace(&event_name, &shared.post_params(), &updated).await.map(|_| ()),
            None => Ok(()),
        },
    };
    match result {
        Ok(()) => Ok(Handled::Done(Action::await_change())),
        Err(e) if is_code(&e, 409) => Ok(Handled::Done(Action::requeue(Duration::from_millis(200)))),
        Err(e) => Err(SyncError::api("write", "event", "virtual", &vns, &event_name, e)),
    }
}

fn error_policy(_e: Arc<Event>, _err: &SyncError, _ctx: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

pub(crate) async fn run(shared: Arc<Shared>, stores: HostStores) {
    let api: Api<Event> = Api::namespaced(shared.host.clone(), shared.tctx.host_namespace());
    let shutdown = shared.shutdown.clone();
    // A store without managedFields (events are many and small).
    let (reader, writer) = reflector::store();
    let trigger = reflector(writer, watcher(api, watcher::Config::default()).modify(super::engine::lean))
        .default_backoff()
        .applied_objects();
    Controller::for_stream(trigger, reader)
        .with_config(controller::Config::default().concurrency(10))
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, Arc::new(Ctx { shared, stores }))
        .for_each(|r| async move {
            if let Err(e @ controller::Error::ReconcilerFailed(..)) = r {
                tracing::debug!(error = %e, "event");
            }
        })
        .await;
}
