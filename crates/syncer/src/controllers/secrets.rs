//! The Secrets controller (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/secrets/syncer.go`):
//! a Secret is on the host while a virtual pod or Ingress uses it (or with `--sync-all-secrets`).

use std::sync::Arc;

use futures::Stream;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::engine::{self, Kind};
use super::lean::Packed;
use super::shared::Shared;
use crate::error::SyncError;
use crate::translate::secrets;

pub(crate) struct SecretKind {
    shared: Arc<Shared>,
    host: Store<Packed<Secret>>,
}

impl Kind for SecretKind {
    type K = Secret;
    type Stored = Packed<Secret>;
    const NAME: &'static str = "secret";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<Packed<Secret>> {
        &self.host
    }

    fn wanted(&self, v: &Secret) -> bool {
        secrets::forced(self.shared.config.sync_all_secrets, v)
            || self.shared.index.secret_used(&v.namespace().unwrap_or_default(), &v.name_any())
    }

    async fn create(&self, v: &Arc<Secret>) -> Result<Option<Secret>, SyncError> {
        Ok(Some(secrets::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<Secret>, h: &Arc<Secret>) -> Result<Action, SyncError> {
        match secrets::update(&self.shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    host: Store<Packed<Secret>>,
    host_stream: impl Stream<Item = Result<Packed<Secret>, watcher::Error>> + Send + 'static,
    used: UnboundedReceiver<ObjectRef<Packed<Secret>>>,
) {
    // "used" is only known once the pod index has listed the virtual pods (and ingresses).
    shared.index.ready().await;
    if shared.enabled("ingresses") {
        shared.index.ingresses_ready().await;
    }
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<Packed<Secret>>(&shared)
        .watches_stream(host_stream, move |h: Packed<Secret>| engine::host_to_virtual(&mapper_shared, &h))
        .reconcile_on(used);
    engine::run(ctrl, Arc::new(SecretKind { shared, host })).await;
}
