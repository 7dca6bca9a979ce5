//! The fake-nodes controller (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/nodes/fake_syncer.go` `FakeSync`): a fake virtual node no virtual
//! pod is bound to any more is deleted. (Creation happens in the pods controller, which needs
//! the node before it can bind the pod.)

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::shared::Shared;
use crate::error::{SyncError, is_code};
use crate::translate::nodes;

async fn reconcile(node: Arc<Node>, shared: Arc<Shared>) -> Result<Action, SyncError> {
    if !nodes::is_fake(&node) || shared.index.node_needed(&node.name_any()) {
        return Ok(Action::await_change());
    }
    // The index lags behind a bind the pods controller just made: decide under the nodes lock
    // with a live list (`nodeNeeded` reads the cache under `sharedNodesMutex` upstream).
    let _guard = shared.nodes_lock.lock().await;
    let pods: Api<Pod> = Api::all(shared.virtual_.clone());
    let assigned = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={}", node.name_any())))
        .await
        .map_err(|e| SyncError::api("list", "pod", "virtual", "", &node.name_any(), e))?;
    if assigned.items.iter().any(|p| nodes::keeps_node_alive(p).is_some()) {
        return Ok(Action::await_change());
    }
    tracing::info!("delete fake node {} as it is not needed anymore", node.name_any());
    shared.known_nodes.lock().unwrap_or_else(|e| e.into_inner()).remove(&node.name_any());
    let api: Api<Node> = Api::all(shared.virtual_.clone());
    match api.delete(&node.name_any(), &DeleteParams::default()).await {
        Ok(_) => Ok(Action::await_change()),
        Err(e) if is_code(&e, 404) => Ok(Action::await_change()),
        Err(e) => Err(SyncError::api("delete", "node", "virtual", "", &node.name_any(), e)),
    }
}

fn error_policy(_node: Arc<Node>, _err: &SyncError, _shared: Arc<Shared>) -> Action {
    Action::requeue(Duration::from_secs(5))
}

pub(crate) async fn run(shared: Arc<Shared>, needed_changes: UnboundedReceiver<ObjectRef<Node>>) {
    shared.index.ready().await;
    let api: Api<Node> = Api::all(shared.virtual_.clone());
    let config = watcher::Config::default().labels(&format!("{}=true", nodes::FAKE_NODE_LABEL));
    let shutdown = shared.shutdown.clone();
    Controller::new(api, config)
        .reconcile_on(needed_changes)
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, shared)
        .for_each(|r| async move {
            if let Err(e @ controller::Error::ReconcilerFailed(..)) = r {
                tracing::warn!(error = %e, "fake node");
            }
        })
        .await;
}
