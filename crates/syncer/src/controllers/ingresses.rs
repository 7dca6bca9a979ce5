//! The Ingresses controller, with `--sync=ingresses` (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/ingresses/syncer.go`): each virtual Ingress becomes a host Ingress
//! served by the host's ingress controller ([`crate::translate::ingresses`]); the host's
//! load-balancer status and a defaulted `ingressClassName` come back. Beside it runs the index of
//! the Secrets the virtual Ingresses reference (TLS, ingress-nginx annotations), which makes the
//! Secrets controller sync them without `--sync-all-secrets` (`secrets/syncer.go`,
//! `IndexByIngressSecret`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use k8s_openapi::api::networking::v1::Ingress;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::runtime::watcher::Event;
use kube::{Api, ResourceExt};

use super::engine::{self, Kind};
use super::informer;
use super::lean;
use super::shared::Shared;
use crate::error::{SyncError, is_code};
use crate::translate::ingresses;

pub(crate) struct IngressKind {
    shared: Arc<Shared>,
    host: Store<Ingress>,
}

impl IngressKind {
    async fn write_virtual(&self, v: &Ingress, updated: &Ingress, status: bool) -> Result<Action, SyncError> {
        let namespace = v.namespace().unwrap_or_default();
        let api: Api<Ingress> = Api::namespaced(self.shared.virtual_.clone(), &namespace);
        let pp = self.shared.post_params();
        let result = if status {
            api.replace_status(&v.name_any(), &pp, updated).await
        } else {
            api.replace(&v.name_any(), &pp, updated).await
        };
        match result {
            Ok(_) => Ok(Action::await_change()),
            Err(e) if is_code(&e, 409) => Ok(Action::requeue(Duration::from_millis(200))),
            Err(e) => Err(SyncError::api("update", Self::NAME, "virtual", &namespace, &v.name_any(), e)),
        }
    }
}

impl Kind for IngressKind {
    type K = Ingress;
    type Stored = Ingress;
    const NAME: &'static str = "ingress";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<Ingress> {
        &self.host
    }

    async fn create(&self, v: &Arc<Ingress>) -> Result<Option<Ingress>, SyncError> {
        if v.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        Ok(Some(ingresses::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<Ingress>, h: &Arc<Ingress>) -> Result<Action, SyncError> {
        if let Some(updated) = ingresses::class_backwards(v, h) {
            tracing::info!(
                "update virtual ingress {}/{}, because ingress class name is out of sync",
                v.namespace().unwrap_or_default(),
                v.name_any()
            );
            return self.write_virtual(v, &updated, false).await;
        }
        if let Some(status) = ingresses::status_for_virtual(v, h) {
            tracing::info!(
                "update virtual ingress {}/{}, because status is out of sync",
                v.namespace().unwrap_or_default(),
                v.name_any()
            );
            let updated = Ingress { status: Some(status), ..(**v).clone() };
            return self.write_virtual(v, &updated, true).await;
        }
        match ingresses::update(&self.shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let (host, host_stream) = engine::host_watch::<Ingress>(&shared);
    let mapper_shared = shared.clone();
    // One watch of the virtual Ingresses for the controller and the Secret index.
    let mut virtual_ingresses = informer::Informer::new(Api::all(shared.virtual_.clone()), lean::stored_config());
    let (controller, index) = (virtual_ingresses.subscribe(), virtual_ingresses.subscribe());
    let ctrl = engine::shared_virtual_controller(controller.store, controller.events)
        .watches_stream(host_stream, move |h: Ingress| engine::host_to_virtual::<Ingress, Ingress>(&mapper_shared, &h));
    tokio::join!(
        virtual_ingresses.run(shared.shutdown.clone()),
        run_secret_index(shared.clone(), index.events),
        engine::run(ctrl, Arc::new(IngressKind { shared, host }))
    );
}

fn key_of(i: &Ingress) -> (String, String) {
    (i.namespace().unwrap_or_default(), i.name_any())
}

/// Keep the pod index's Secret references of the virtual Ingresses until shutdown.
async fn run_secret_index(shared: Arc<Shared>, events: impl Stream<Item = informer::SharedEvent<Ingress>> + Unpin) {
    let mut events = events;
    let mut relist: Option<HashSet<(String, String)>> = None;
    while let Some(event) = informer::next_until(&mut events, &shared.shutdown).await {
        match event {
            Event::Init => relist = Some(HashSet::new()),
            Event::InitApply(i) => {
                if let Some(seen) = relist.as_mut() {
                    seen.insert(key_of(&i));
                }
                shared.index.set_ingress_secrets(key_of(&i), ingresses::secret_refs(&i));
            }
            Event::InitDone => {
                // Ingresses deleted while the watch was down.
                if let Some(seen) = relist.take() {
                    for key in shared.index.ingress_keys().into_iter().filter(|k| !seen.contains(k)) {
                        shared.index.set_ingress_secrets(key, Vec::new());
                    }
                }
                shared.index.ingresses_listed();
            }
            Event::Apply(i) => shared.index.set_ingress_secrets(key_of(&i), ingresses::secret_refs(&i)),
            Event::Delete(i) => shared.index.set_ingress_secrets(key_of(&i), Vec::new()),
        }
    }
}
