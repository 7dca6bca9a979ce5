//! The ConfigMaps controller (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/configmaps/syncer.go`):
//! a ConfigMap is on the host while a virtual pod uses it (or with `--sync-all-configmaps`).

use std::sync::Arc;

use futures::Stream;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;

use super::engine::{self, Kind};
use super::lean::Packed;
use super::shared::Shared;
use crate::error::SyncError;
use crate::translate::configmaps;

pub(crate) struct ConfigMapKind {
    shared: Arc<Shared>,
    host: Store<Packed<ConfigMap>>,
}

impl Kind for ConfigMapKind {
    type K = ConfigMap;
    type Stored = Packed<ConfigMap>;
    const NAME: &'static str = "configmap";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<Packed<ConfigMap>> {
        &self.host
    }

    fn wanted(&self, v: &ConfigMap) -> bool {
        configmaps::forced(self.shared.config.sync_all_configmaps, v)
            || self.shared.index.configmap_used(&v.namespace().unwrap_or_default(), &v.name_any())
    }

    async fn create(&self, v: &Arc<ConfigMap>) -> Result<Option<ConfigMap>, SyncError> {
        Ok(Some(configmaps::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<ConfigMap>, h: &Arc<ConfigMap>) -> Result<Action, SyncError> {
        match configmaps::update(&self.shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    host: Store<Packed<ConfigMap>>,
    host_stream: impl Stream<Item = Result<Packed<ConfigMap>, watcher::Error>> + Send + 'static,
    used: UnboundedReceiver<ObjectRef<Packed<ConfigMap>>>,
) {
    // "used" is only known once the pod index has listed the virtual pods.
    shared.index.ready().await;
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<Packed<ConfigMap>>(&shared)
        .watches_stream(host_stream, move |h: Packed<ConfigMap>| engine::host_to_virtual(&mapper_shared, &h))
        .reconcile_on(used);
    engine::run(ctrl, Arc::new(ConfigMapKind { shared, host })).await;
}
