//! The Services controller (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/services/syncer.go`): the host Service for every
//! virtual one, the host's ClusterIP (by recreation), node ports, `externalIPs`,
//! `loadBalancerIP` and status back, the forward diff to the host. Virtual `default/kubernetes`
//! takes the vcluster's own host Service's ClusterIP (v0.15.7
//! `pkg/controllers/resources/services/syncer.go` `ReconcileStart` → `SyncKubernetesService`);
//! its Endpoints are [`super::defaultendpoint`]'s.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::Stream;
use k8s_openapi::api::core::v1::Service;
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};

use super::engine::{self, Kind};
use super::informer;
use super::shared::Shared;
use super::writes;
use crate::error::{SyncError, is_code};
use crate::translate::is_excluded;
use crate::translate::services::{self, Backward};

pub(crate) struct ServiceKind {
    shared: Arc<Shared>,
    host: Store<Service>,
    /// When each Service was first seen "switching from ExternalName".
    switching: Mutex<HashMap<String, Instant>>,
    /// Virtual Services being recreated (deleted, not created again yet): their deletion must
    /// not delete the host Service.
    recreating: Mutex<HashSet<String>>,
    /// The virtual Services (the controller's store), to find who holds an IP.
    virtual_store: Store<Service>,
}

/// How long a virtual `ExternalName` Service whose host Service has a ClusterIP is taken for a
/// switch in flight (the endpoint writes the host, then the virtual Service, in one request);
/// past it, it is a change to `ExternalName` and goes forward. (Upstream waits without bound,
/// which never lets a Service with a ClusterIP become `ExternalName` through the syncer.)
const SWITCH_WINDOW: Duration = Duration::from_secs(5);

fn is_default_kubernetes(v: &Service) -> bool {
    v.namespace().as_deref() == Some("default") && v.name_any() == "kubernetes"
}

impl Kind for ServiceKind {
    type K = Service;
    type Stored = Service;
    const NAME: &'static str = "service";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<Service> {
        &self.host
    }

    fn recreate_on_uid_change(&self) -> bool {
        false
    }

    fn keep_orphan(&self, h: &Service) -> Option<Duration> {
        if let Some((namespace, name)) = crate::translate::virtual_name_of(&h.metadata)
            && self.recreating.lock().unwrap_or_else(|e| e.into_inner()).contains(&format!("{namespace}/{name}"))
        {
            return Some(Duration::from_millis(500));
        }
        services::deletion_blocked_for(h, k8s_openapi::jiff::Timestamp::now())
    }

    async fn before_create(&self, v: &Arc<Service>) -> Result<Option<Action>, SyncError> {
        if is_default_kubernetes(v) {
            return sync_kubernetes(&self.shared, v).await.map(Some);
        }
        Ok(None)
    }

    async fn create(&self, v: &Arc<Service>) -> Result<Option<Service>, SyncError> {
        if v.meta().deletion_timestamp.is_some() {
            return Ok(None);
        }
        Ok(Some(services::to_host(&self.shared.tctx, v)))
    }

    async fn sync(&self, v: &Arc<Service>, h: &Arc<Service>) -> Result<Action, SyncError> {
        // The endpoint switches the type between its two writes.
        let key = engine::key_of(v.as_ref());
        {
            let mut switching = self.switching.lock().unwrap_or_else(|e| e.into_inner());
            if services::switching_from_external_name(v, h) {
                let since = *switching.entry(key.clone()).or_insert_with(Instant::now);
                if let Some(left) = SWITCH_WINDOW.checked_sub(since.elapsed()).filter(|d| !d.is_zero()) {
                    return Ok(Action::requeue(left.min(Duration::from_secs(3))));
                }
            } else if !switching.is_empty() {
                switching.remove(&key);
            }
        }
        match services::backward(v, h) {
            Some(Backward::Recreate(new)) => {
                if let Some(wait) = self.ip_holder(v, &new).await? {
                    return Ok(wait);
                }
                tracing::info!(
                    "recreating virtual service {}/{}, because cluster ip differs",
                    v.namespace().unwrap_or_default(),
                    v.name_any()
                );
                self.recreating.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone());
                let result = recreate_virtual(&self.shared, v, &new).await;
                self.recreating.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                result?;
                return Ok(Action::await_change());
            }
            Some(Backward::Update(new)) => {
                write_virtual(&self.shared, &new).await?;
                return Ok(Action::await_change());
            }
            None => {}
        }
        if let Some(status) = services::status_update(v, h) {
            let mut updated = v.as_ref().clone();
            updated.status = Some(status);
            let api: Api<Service> = Api::namespaced(self.shared.virtual_.clone(), &v.namespace().unwrap_or_default());
            match writes::replace_status(&api, &v.name_any(), &self.shared.post_params(), &updated).await {
                Ok(()) => return Ok(Action::await_change()),
                Err(e) if is_code(&e, 409) || is_code(&e, 404) => {
                    return Ok(Action::requeue(Duration::from_millis(200)));
                }
                Err(e) => {
                    return Err(SyncError::api(
                        "update status",
                        Self::NAME,
                        "virtual",
                        &v.namespace().unwrap_or_default(),
                        &v.name_any(),
                        e,
                    ));
                }
            }
        }
        match services::forward(&self.shared.tctx, v, h) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

impl ServiceKind {
    /// Whether the host's ClusterIP `new` asks for is held by another virtual Service (both
    /// clusters allocate from the same range, so the virtual cluster may have given it away):
    /// the recreate then waits instead of deleting a Service it could not create again. A holder
    /// that is itself about to move to its own host IP, or has no host Service yet, is waited for
    /// briefly; one that waits for this Service's IP (a swap) is not, so the pair cannot block
    /// each other; one that never moves is an error (retried with backoff, a Warning on the
    /// Service).
    async fn ip_holder(&self, v: &Service, new: &Service) -> Result<Option<Action>, SyncError> {
        let Some(target) = cluster_ip(new).filter(|ip| !ip.is_empty() && *ip != "None") else {
            return Ok(None);
        };
        let Some(holder) = self
            .virtual_store
            .find(|s| cluster_ip(s) == Some(target) && (s.namespace(), s.name_any()) != (v.namespace(), v.name_any()))
        else {
            return Ok(None);
        };
        let holder_host = self.host.get(&engine::host_ref(&self.shared, holder.as_ref()));
        if !is_excluded(holder.meta(), Self::NAME) {
            match holder_host.as_deref().map(cluster_ip) {
                // Moving to this Service's IP: a swap, which waiting would deadlock.
                Some(moves_to) if moves_to.is_some() && moves_to == cluster_ip(v) => return Ok(None),
                Some(moves_to) if moves_to.is_some_and(|ip| ip != target) => {
                    return Ok(Some(Action::requeue(Duration::from_millis(500))));
                }
                // No host Service yet (created just now, directly): it will get its own IP.
                None => return Ok(Some(Action::requeue(Duration::from_millis(500)))),
                Some(_) => {}
            }
        }
        let err = SyncError::ClusterIpHeld { ip: target.to_owned(), holder: engine::key_of(holder.as_ref()) };
        self.shared.warn(v, "SyncError", &err.to_string()).await;
        Err(err)
    }
}

fn cluster_ip(s: &Service) -> Option<&str> {
    s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref())
}

/// Replace a virtual Service (resourceVersion precondition; a conflict requeues).
async fn write_virtual(shared: &Shared, new: &Service) -> Result<(), SyncError> {
    let namespace = new.namespace().unwrap_or_default();
    let api: Api<Service> = Api::namespaced(shared.virtual_.clone(), &namespace);
    match api.replace(&new.name_any(), &shared.post_params(), new).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) => Ok(()),
        Err(e) => Err(SyncError::api("update", "service", "virtual", &namespace, &new.name_any(), e)),
    }
}

/// Delete the virtual Service (uid precondition) and create `new` under its name
/// (`recreateService`).
async fn recreate_virtual(shared: &Shared, old: &Service, new: &Service) -> Result<(), SyncError> {
    let namespace = old.namespace().unwrap_or_default();
    let name = old.name_any();
    let api: Api<Service> = Api::namespaced(shared.virtual_.clone(), &namespace);
    let dp = DeleteParams {
        preconditions: old.meta().uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => {}
        Err(e) if is_code(&e, 404) => {}
        Err(e) => return Err(SyncError::api("delete", "service", "virtual", &namespace, &name, e)),
    }
    // Gone now: create it again whatever it takes, so the user's Service is not lost. Its IP
    // (or a node port) may still be held by a Service that is moving away from it; past
    // RECREATE_PATIENCE, without them, and the next reconcile tries again.
    let deadline = Instant::now() + RECREATE_PATIENCE;
    let mut last = loop {
        match api.create(&shared.post_params(), new).await {
            Ok(_) => return Ok(()),
            // Created again by someone else (the user, through the endpoint).
            Err(e) if is_code(&e, 409) => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "recreate virtual service {namespace}/{name}: retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => break e,
        }
    };
    let mut fallback = new.clone();
    if let Some(spec) = fallback.spec.as_mut() {
        spec.cluster_ip = None;
        spec.cluster_ips = None;
        for port in spec.ports.iter_mut().flatten() {
            port.node_port = None;
        }
    }
    if let Err(e) = api.create(&shared.post_params(), &fallback).await
        && !is_code(&e, 409)
    {
        tracing::error!(error = %e, "virtual service {namespace}/{name} could not be created again");
        last = e;
    }
    Err(SyncError::api("create", "service", "virtual", &namespace, &name, last))
}

/// How long a recreated virtual Service's create is retried with the host's IP and node ports.
const RECREATE_PATIENCE: Duration = Duration::from_secs(10);

/// Virtual `default/kubernetes` Service from the vcluster's host Service `--service-name` (its
/// Endpoints and EndpointSlice: [`super::defaultendpoint`]).
async fn sync_kubernetes(shared: &Shared, v: &Service) -> Result<Action, SyncError> {
    let namespace = shared.tctx.host_namespace().to_owned();
    let name = shared.config.service_name.clone();
    let hservices: Api<Service> = Api::namespaced(shared.host.clone(), &namespace);
    let host = match hservices.get_opt(&name).await {
        Ok(Some(host)) => host,
        Ok(None) => return Ok(Action::await_change()),
        Err(e) => return Err(SyncError::api("get", "service", "host", &namespace, &name, e)),
    };
    tracing::debug!(
        virtual_ip = ?v.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()),
        host_ip = ?host.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()),
        "default/kubernetes"
    );
    match services::kubernetes_service(v, &host) {
        Some(Backward::Recreate(new)) => {
            tracing::info!("recreating virtual service default/kubernetes, because cluster ip differs");
            recreate_virtual(shared, v, &new).await?;
            return Ok(Action::await_change());
        }
        Some(Backward::Update(new)) => write_virtual(shared, &new).await?,
        None => {}
    }

    Ok(Action::await_change())
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    host: Store<Service>,
    host_stream: impl Stream<Item = Result<Service, watcher::Error>> + Send + 'static,
    virtual_services: informer::Subscription<Service>,
) {
    let mapper_shared = shared.clone();
    let namespace = shared.tctx.host_namespace().to_owned();
    let own = watcher::Config::default().fields(&format!("metadata.name={}", shared.config.service_name));
    let kubernetes = || Some(ObjectRef::<Service>::new("kubernetes").within("default"));
    let ctrl = engine::shared_virtual_controller(virtual_services.store, virtual_services.events)
        .watches_stream(host_stream, move |h: Service| engine::host_to_virtual::<Service, Service>(&mapper_shared, &h))
        .watches(Api::<Service>::namespaced(shared.host.clone(), &namespace), own, move |_| kubernetes());
    let kind = Arc::new(ServiceKind {
        shared,
        host,
        switching: Mutex::new(HashMap::new()),
        recreating: Mutex::new(HashSet::new()),
        virtual_store: ctrl.store(),
    });
    engine::run(ctrl, kind).await;
}
