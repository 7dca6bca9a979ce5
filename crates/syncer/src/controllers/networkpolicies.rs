//! The NetworkPolicies controller, with `--sync=networkpolicies` (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/networkpolicies/syncer.go`): each virtual policy becomes a host
//! policy that selects only this vcluster's pods ([`crate::translate::networkpolicies`]); spec and
//! metadata follow the virtual policy, and the host policy goes with it.

use std::sync::Arc;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;

use super::engine::{self, Kind};
use super::shared::Shared;
use crate::error::SyncError;
use crate::translate::networkpolicies;

pub(crate) struct NetworkPolicyKind {
    shared: Arc<Shared>,
    host: Store<NetworkPolicy>,
}

impl Kind for NetworkPolicyKind {
    type K = NetworkPolicy;
    type Stored = NetworkPolicy;
    const NAME: &'static str = "networkpolicy";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<NetworkPolicy> {
        &self.host
    }

    async fn create(&self, v: &Arc<NetworkPolicy>) -> Result<Option<NetworkPolicy>, SyncError> {
        if v.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        Ok(Some(networkpolicies::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<NetworkPolicy>, h: &Arc<NetworkPolicy>) -> Result<Action, SyncError> {
        match networkpolicies::update(&self.shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let (host, host_stream) = engine::host_watch::<NetworkPolicy>(&shared);
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<NetworkPolicy>(&shared)
        .watches_stream(host_stream, move |h: NetworkPolicy| {
            engine::host_to_virtual::<NetworkPolicy, NetworkPolicy>(&mapper_shared, &h)
        });
    engine::run(ctrl, Arc::new(NetworkPolicyKind { shared, host })).await;
}
