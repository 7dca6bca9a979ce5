//! The ServiceAccounts controller, with `--sync=serviceaccounts` (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/serviceaccounts/syncer.go`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;

use super::engine::{self, Kind};
use super::shared::Shared;
use crate::error::SyncError;
use crate::translate::serviceaccounts;

pub(crate) struct ServiceAccountKind {
    shared: Arc<Shared>,
    host: Store<ServiceAccount>,
}

impl Kind for ServiceAccountKind {
    type K = ServiceAccount;
    type Stored = ServiceAccount;
    const NAME: &'static str = "serviceaccount";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<ServiceAccount> {
        &self.host
    }

    async fn create(&self, v: &Arc<ServiceAccount>) -> Result<Option<ServiceAccount>, SyncError> {
        Ok(Some(serviceaccounts::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<ServiceAccount>, h: &Arc<ServiceAccount>) -> Result<Action, SyncError> {
        match serviceaccounts::update(&self.shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let (host, host_stream) = engine::host_watch::<ServiceAccount>(&shared);
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<ServiceAccount>(&shared)
        .watches_stream(host_stream, move |h: ServiceAccount| {
            engine::host_to_virtual::<ServiceAccount, ServiceAccount>(&mapper_shared, &h)
        });
    engine::run(ctrl, Arc::new(ServiceAccountKind { shared, host })).await;
}
