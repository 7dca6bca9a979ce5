//! Virtual `default/kubernetes` Endpoints and EndpointSlice follow the vcluster's own host
//! Service's Endpoints (`--service-name` in the host namespace): addresses without hostname,
//! node or target, only the `https` port (loft-sh/vcluster v0.15.7
//! `pkg/controllers/k8sdefaultendpoint/k8sdefaultendpoint.go`). Independent of the Services
//! controller and always on, as upstream registers it unconditionally (v0.15.7
//! `pkg/controllers/register.go` `RegisterControllers`): with `--sync=-services` pods still reach
//! the API through `kubernetes.default`. The Service's ClusterIP stays with the Services
//! controller (`SyncKubernetesService`).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Endpoints;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::shared::Shared;
use crate::error::{SyncError, is_code};
use crate::translate::endpoints as tendpoints;

const NAME: &str = "kubernetes-endpoints";

pub(crate) async fn run(shared: Arc<Shared>) {
    let host_namespace = shared.tctx.host_namespace().to_owned();
    let service_name = shared.config.service_name.clone();
    let own = watcher::Config::default().fields(&format!("metadata.name={service_name}"));
    let kubernetes = watcher::Config::default().fields("metadata.name=kubernetes");
    let primary = move || Some(ObjectRef::<Endpoints>::new(&service_name).within(&host_namespace));
    let on_slice = primary.clone();
    let ctrl = Controller::new(Api::<Endpoints>::namespaced(shared.host.clone(), shared.tctx.host_namespace()), own)
        .watches(Api::<Endpoints>::namespaced(shared.virtual_.clone(), "default"), kubernetes.clone(), move |_| {
            primary()
        })
        .watches(Api::<EndpointSlice>::namespaced(shared.virtual_.clone(), "default"), kubernetes, move |_| on_slice());
    let shutdown = shared.shutdown.clone();
    ctrl.graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, shared)
        .for_each(|result| async move {
            if let Err(e) = result
                && !matches!(e, controller::Error::ReconcilerFailed(..))
            {
                tracing::debug!(kind = NAME, error = %e, "controller");
            }
        })
        .await;
}

async fn reconcile(host: Arc<Endpoints>, shared: Arc<Shared>) -> Result<Action, SyncError> {
    tracing::debug!(subsets = ?host.subsets, "host endpoints of default/kubernetes");
    let endpoints: Api<Endpoints> = Api::namespaced(shared.virtual_.clone(), "default");
    let current = endpoints
        .get_opt("kubernetes")
        .await
        .map_err(|e| SyncError::api("get", "endpoints", "virtual", "default", "kubernetes", e))?;
    if let Some(wanted) = tendpoints::kubernetes_endpoints(current.as_ref(), &host)
        && let Some(requeue) = write(&shared, &endpoints, current.is_some(), &wanted, "endpoints").await?
    {
        return Ok(requeue);
    }
    let slices: Api<EndpointSlice> = Api::namespaced(shared.virtual_.clone(), "default");
    let current = slices
        .get_opt("kubernetes")
        .await
        .map_err(|e| SyncError::api("get", "endpointslice", "virtual", "default", "kubernetes", e))?;
    let wanted = tendpoints::kubernetes_slice(&tendpoints::kubernetes_subsets(&host));
    if let Some(slice) = tendpoints::kubernetes_slice_update(current.as_ref(), wanted)
        && let Some(requeue) = write(&shared, &slices, current.is_some(), &slice, "endpointslice").await?
    {
        return Ok(requeue);
    }
    shared.forget_failures(NAME);
    Ok(Action::await_change())
}

/// Create or replace the virtual `default/kubernetes` object; a conflict asks for a requeue.
async fn write<K>(
    shared: &Shared,
    api: &Api<K>,
    exists: bool,
    object: &K,
    kind: &'static str,
) -> Result<Option<Action>, SyncError>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::Serialize + serde::de::DeserializeOwned,
{
    let result = if exists {
        api.replace("kubernetes", &shared.post_params(), object).await
    } else {
        api.create(&shared.post_params(), object).await
    };
    match result {
        Ok(_) => Ok(None),
        Err(e) if is_code(&e, 409) => Ok(Some(Action::requeue(Duration::from_millis(200)))),
        Err(e) => Err(SyncError::api("write", kind, "virtual", "default", "kubernetes", e)),
    }
}

fn error_policy(host: Arc<Endpoints>, err: &SyncError, shared: Arc<Shared>) -> Action {
    let failures = shared.record_failure(NAME);
    tracing::warn!(kind = NAME, object = %host.name_any(), error = %crate::error::chain(err), "reconcile failed");
    Action::requeue(Duration::from_millis(500u64.saturating_mul(1u64 << failures.min(6)).min(30_000)))
}
