//! The Endpoints controller (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/endpoints/syncer.go`): the Endpoints of
//! selectorless virtual Services on the host, pod `targetRef`s translated. A Service that gains
//! a selector loses its synced host Endpoints (the host's endpoints controller takes over). A
//! Service created after its Endpoints re-enqueues them (loft-sh/vcluster issue #2719).

use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::engine::{self, Kind};
use super::informer;
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
    mut services: informer::Subscription<Service>,
) {
    // The virtual Services, for "selectorless"; complete before the first decision, since a
    // missing Service means "delete the host Endpoints". A Service event triggers its Endpoints
    // after the store holds it (the informer stores before it hands an event on).
    if !services.ready().await {
        return;
    }
    let informer::Subscription { store: services, events, .. } = services;
    let triggers = events.filter_map(|event| {
        let service = informer::touched(&event);
        futures::future::ready(
            service.map(|s| ObjectRef::<Endpoints>::new(&s.name).within(s.namespace.as_deref().unwrap_or_default())),
        )
    });
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<Endpoints>(&shared)
        .watches_stream(host_stream, move |h: Endpoints| {
            engine::host_to_virtual::<Endpoints, Endpoints>(&mapper_shared, &h)
        })
        .reconcile_on(triggers);
    let kind = Arc::new(EndpointsKind { shared, host, services });
    engine::run(ctrl, kind).await;
}
