//! The PersistentVolumeClaims controller (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/persistentvolumeclaims/syncer.go`): claims are created on the
//! host; the host's binding and status are copied back.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};

use super::engine::{self, Kind};
use super::shared::Shared;
use crate::error::{SyncError, is_code};
use crate::translate::pvcs;

pub(crate) struct PvcKind {
    shared: Arc<Shared>,
    host: Store<PersistentVolumeClaim>,
}

impl Kind for PvcKind {
    type K = PersistentVolumeClaim;
    type Stored = PersistentVolumeClaim;
    const NAME: &'static str = "persistentvolumeclaim";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<PersistentVolumeClaim> {
        &self.host
    }

    async fn create(&self, v: &Arc<PersistentVolumeClaim>) -> Result<Option<PersistentVolumeClaim>, SyncError> {
        if v.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        Ok(Some(pvcs::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<PersistentVolumeClaim>, h: &Arc<PersistentVolumeClaim>) -> Result<Action, SyncError> {
        let shared = &self.shared;
        let namespace = v.namespace().unwrap_or_default();
        let api: Api<PersistentVolumeClaim> = Api::namespaced(shared.virtual_.clone(), &namespace);
        if let Some((volume, status)) = pvcs::backsync(v, h) {
            let params =
                PatchParams { field_manager: Some(super::shared::FIELD_MANAGER.into()), ..PatchParams::default() };
            if let Some(volume) = volume {
                let patch = serde_json::json!({ "spec": { "volumeName": volume } });
                if let Err(e) = api.patch(&v.name_any(), &params, &Patch::Merge(&patch)).await {
                    // An API server that keeps the claim's spec immutable: the status still follows.
                    tracing::debug!(error = %e, "cannot set the virtual claim's volume name");
                }
            }
            if let Some(status) = status {
                let patch = serde_json::json!({ "status": status });
                return match api.patch_status(&v.name_any(), &params, &Patch::Merge(&patch)).await {
                    Ok(_) => Ok(Action::await_change()),
                    Err(e) if is_code(&e, 409) => Ok(Action::requeue(Duration::from_millis(200))),
                    Err(e) => {
                        Err(SyncError::api("update status of", Self::NAME, "virtual", &namespace, &v.name_any(), e))
                    }
                };
            }
        }
        match pvcs::update(&shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let (host, host_stream) = engine::host_watch::<PersistentVolumeClaim>(&shared);
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<PersistentVolumeClaim>(&shared).watches_stream(
        host_stream,
        move |h: PersistentVolumeClaim| {
            engine::host_to_virtual::<PersistentVolumeClaim, PersistentVolumeClaim>(&mapper_shared, &h)
        },
    );
    engine::run(ctrl, Arc::new(PvcKind { shared, host })).await;
}
