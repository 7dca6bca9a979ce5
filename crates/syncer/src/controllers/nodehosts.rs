//! The NodeHosts controller (loft-sh/vcluster v0.15.7 `pkg/controllers/coredns/nodehosts.go`):
//! keeps the key `NodeHosts` of the virtual ConfigMap `kube-system/coredns` equal to the sorted
//! `<InternalIP> <hostname>` lines of the virtual nodes ([`nodehosts::node_hosts`]). Every node
//! change reconciles the one ConfigMap; its other keys (the Corefile) are left alone, and a
//! value already right is not written. No ConfigMap (CoreDNS not applied yet): nothing to do
//! until it appears.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};

use super::lean::{self, Lean};
use super::shared::{FIELD_MANAGER, Shared};
use crate::coredns::{CONFIGMAP_NAME, CONFIGMAP_NAMESPACE, NODE_HOSTS_KEY};
use crate::error::{SyncError, is_code};
use crate::translate::nodehosts;

struct Context {
    shared: Arc<Shared>,
    nodes: Store<Node>,
}

async fn reconcile(cm: Arc<ConfigMap>, ctx: Arc<Context>) -> Result<Action, SyncError> {
    if !super::engine::store_ready(&ctx.nodes, "virtual nodes").map_err(|e| *e)? {
        return Ok(Action::requeue(std::time::Duration::from_millis(100)));
    }
    let wanted = nodehosts::node_hosts(ctx.nodes.state().iter().map(AsRef::as_ref));
    let current = cm.data.as_ref().and_then(|d| d.get(NODE_HOSTS_KEY)).map_or("", String::as_str);
    if current == wanted {
        return Ok(Action::await_change());
    }
    tracing::info!("update {NODE_HOSTS_KEY} of virtual ConfigMap {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}");
    let api: Api<ConfigMap> = Api::namespaced(ctx.shared.virtual_.clone(), CONFIGMAP_NAMESPACE);
    let patch = serde_json::json!({ "data": { NODE_HOSTS_KEY: wanted } });
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    match api.patch(&cm.name_any(), &params, &Patch::Merge(&patch)).await {
        Ok(_) => Ok(Action::await_change()),
        Err(e) if is_code(&e, 404) => Ok(Action::await_change()),
        Err(e) => Err(SyncError::api("patch", "configmap", "virtual", CONFIGMAP_NAMESPACE, CONFIGMAP_NAME, e)),
    }
}

fn error_policy(_cm: Arc<ConfigMap>, err: &SyncError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %crate::error::chain(err), "NodeHosts");
    Action::requeue(Duration::from_secs(1))
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let (nodes, writer) = reflector::store();
    let node_events =
        reflector(writer, lean::watcher(Api::<Lean<Node>>::all(shared.virtual_.clone()), watcher::Config::default()))
            .default_backoff()
            .touched_objects();
    let configmaps: Api<ConfigMap> = Api::namespaced(shared.virtual_.clone(), CONFIGMAP_NAMESPACE);
    let shutdown = shared.shutdown.clone();
    Controller::new(configmaps, watcher::Config::default().fields(&format!("metadata.name={CONFIGMAP_NAME}")))
        .watches_stream(node_events, |_: Node| Some(ObjectRef::new(CONFIGMAP_NAME).within(CONFIGMAP_NAMESPACE)))
        .graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, Arc::new(Context { shared, nodes }))
        .for_each(|r| async move {
            if let Err(e) = r
                && !matches!(e, controller::Error::ReconcilerFailed(..) | controller::Error::ObjectNotFound(..))
            {
                tracing::debug!(error = %e, "NodeHosts controller");
            }
        })
        .await;
}
