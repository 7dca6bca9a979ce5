//! The Endpoints controller (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/endpoints/syncer.go`): the Endpoints of
//! selectorless virtual Services on the host, pod `targetRef`s translated. A Service that gains
//! a selector loses its synced host Endpoints (the host's endpoints controller takes over). A
//! Service created after its Endpoints re-enqueues them (loft-sh/vcluster issue #2719).

use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};

use super::engine::{self, Kind};
use super::lean::{self, Lean};
use super::shared::Shared;
use crate::error::SyncError;
use crate::translate::endpoints;

pub(crate) struct EndpointsKind {
    shared: Arc<Shared>,
    host: Store<Endpoints>,
    services: Store<Service>,
}

impl Kind for EndpointsKind {
    type K = Endpoints;
    type Stored = Endpoints;
    const NAME: &'static str = "endpoints";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<Endpoints> {
        &self.host
    }

    fn wanted(&self, v: &Endpoints) -> bool {
        let (namespace, name) = (v.namespace().unwrap_or_default(), v.name_any());
        let service = self.services.get(&ObjectRef::new(&name).within(&namespace));
        endpoints::synced(&namespace, &name, service.as_deref())
    }

    async fn create(&self, v: &Arc<Endpoints>) -> Result<Option<Endpoints>, SyncError> {
        Ok(Some(endpoints::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<Endpoints>, h: &Arc<Endpoints>) -> Result<Action, SyncError> {
        match endpoints::update(&self.shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    host: Store<Endpoints>,
    host_stream: impl Stream<Item = Result<Endpoints, watcher::Error>> + Send + 'static,
) {
    // The virtual Services, for "selectorless"; complete before the first decision, since a
    // missing Service means "delete the host Endpoints". A Service event triggers its Endpoints
    // after the store holds it (the reflector stores before it yields).
    let (services, writer) = reflector::store();
    let service_api: Api<Lean<Service>> = Api::all(shared.virtual_.clone());
    let reflect = reflector::reflector(writer, lean::watcher(service_api, watcher::Config::default()))
        .default_backoff()
        .touched_objects();
    let (trigger, triggers) = futures::channel::mpsc::unbounded();
    let shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        let forward = reflect.for_each(|s| {
            if let Ok(s) = s {
                let _ = trigger.unbounded_send(
                    ObjectRef::<Endpoints>::new(&s.name_any()).within(&s.namespace().unwrap_or_default()),
                );
            }
            async {}
        });
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = forward => {}
        }
    });
    if services.wait_until_ready().await.is_err() {
        return;
    }
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<Endpoints>(&shared)
        .watches_stream(host_stream, move |h: Endpoints| {
            engine::host_to_virtual::<Endpoints, Endpoints>(&mapper_shared, &h)
        })
        .reconcile_on(triggers);
    let kind = Arc::new(EndpointsKind { shared, host, services });
    engine::run(ctrl, kind).await;
}
