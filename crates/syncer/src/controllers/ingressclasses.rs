//! The IngressClasses controller, host → virtual (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/ingressclasses/syncer.go`): every host class is mirrored into the
//! virtual cluster under its own name ([`crate::translate::ingressclasses`]) and kept equal; a
//! virtual class whose host class is missing is deleted ("delete virtual ingress class X, because
//! physical object is missing"). On with ingress sync unless `--sync=-ingressclasses`; needs
//! cluster-wide read on the host's ingressclasses (the chart's ClusterRole).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::runtime::{WatchStreamExt, reflector as reflect};
use kube::{Api, ResourceExt};

use super::lean::{self, Lean};
use super::shared::Shared;
use crate::error::{SyncError, is_code};
use crate::translate::ingressclasses;

const NAME: &str = "ingressclass";

struct Ctx {
    shared: Arc<Shared>,
    virtual_classes: Store<IngressClass>,
}

pub(crate) async fn run(shared: Arc<Shared>) {
    let host_api: Api<Lean<IngressClass>> = Api::all(shared.host.clone());
    let virtual_api: Api<Lean<IngressClass>> = Api::all(shared.virtual_.clone());
    let (virtual_classes, writer) = reflector::store();
    let virtual_stream =
        reflect(writer, lean::watcher(virtual_api, watcher::Config::default())).default_backoff().touched_objects();
    // Triggered by host deletions too (`Controller::new` would miss them): a deleted host class
    // reconciles to `ObjectNotFound`, handled by `host_gone`.
    let (host_classes, host_writer) = reflector::store();
    let host_trigger =
        reflect(host_writer, lean::watcher(host_api, watcher::Config::default())).default_backoff().touched_objects();
    let ctrl = Controller::for_stream(host_trigger, host_classes)
        .watches_stream(virtual_stream, |v: IngressClass| Some(ObjectRef::new(&v.name_any())));
    let ctx = Arc::new(Ctx { shared: shared.clone(), virtual_classes });
    let shutdown = shared.shutdown.clone();
    ctrl.graceful_shutdown_on(async move { shutdown.cancelled().await })
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| {
            let ctx = ctx.clone();
            async move {
                match result {
                    Ok(_) | Err(controller::Error::ReconcilerFailed(..)) => {}
                    Err(controller::Error::ObjectNotFound(obj)) => {
                        if let Err(e) = host_gone(&ctx, &obj.name).await {
                            tracing::warn!(kind = NAME, error = %crate::error::chain(&e), "cleanup of {} failed", obj.name);
                        }
                    }
                    Err(e) => tracing::debug!(kind = NAME, error = %e, "controller"),
                }
            }
        })
        .await;
}

async fn reconcile(h: Arc<IngressClass>, ctx: Arc<Ctx>) -> Result<Action, SyncError> {
    if !super::engine::store_ready(&ctx.virtual_classes, "virtual").map_err(|e| *e)? {
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    let api: Api<IngressClass> = Api::all(ctx.shared.virtual_.clone());
    let name = h.name_any();
    let result = match ctx.virtual_classes.get(&ObjectRef::new(&name)) {
        None => {
            tracing::info!(kind = NAME, "create ingress class {name}, because it does not exist in virtual cluster");
            api.create(&ctx.shared.post_params(), &ingressclasses::to_virtual(&h)).await.map(|_| ())
        }
        Some(v) => match ingressclasses::update(&v, &h) {
            Some(updated) => {
                tracing::info!(kind = NAME, "update ingress class {name}");
                api.replace(&name, &ctx.shared.post_params(), &updated).await.map(|_| ())
            }
            None => Ok(()),
        },
    };
    match result {
        Ok(()) => Ok(Action::await_change()),
        // The store has not seen our own create or the latest version yet.
        Err(e) if is_code(&e, 409) => Ok(Action::requeue(Duration::from_millis(500))),
        Err(e) => Err(SyncError::api("sync", NAME, "virtual", "", &name, e)),
    }
}

fn error_policy(h: Arc<IngressClass>, err: &SyncError, ctx: Arc<Ctx>) -> Action {
    let failures = ctx.shared.record_failure(&format!("ingressclass/{}", h.name_any()));
    tracing::warn!(kind = NAME, object = %h.name_any(), error = %crate::error::chain(err), "reconcile failed");
    Action::requeue(Duration::from_millis(500u64.saturating_mul(1u64 << failures.min(6)).min(30_000)))
}

/// No host class `name` in the store: delete the virtual one once a live read confirms the host
/// has none (`SyncToHost` of the mirror syncer).
async fn host_gone(ctx: &Ctx, name: &str) -> Result<(), SyncError> {
    if !super::engine::store_ready(&ctx.virtual_classes, "virtual").map_err(|e| *e)? {
        return Err(SyncError::NotReady("virtual"));
    }
    let Some(v) = ctx.virtual_classes.get(&ObjectRef::new(name)) else { return Ok(()) };
    let host: Api<IngressClass> = Api::all(ctx.shared.host.clone());
    match host.get_opt(name).await {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(e) => return Err(SyncError::api("get", NAME, "host", "", name, e)),
    }
    tracing::info!(kind = NAME, "delete virtual ingress class {name}, because physical object is missing");
    let dp = DeleteParams {
        preconditions: v.metadata.uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    let api: Api<IngressClass> = Api::all(ctx.shared.virtual_.clone());
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) || is_code(&e, 409) => Ok(()),
        Err(e) => Err(SyncError::api("delete", NAME, "virtual", "", name, e)),
    }
}
