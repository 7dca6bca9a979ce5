//! mapServices (loft-sh/vcluster v0.15.7 `pkg/controllers/servicesync/servicesync.go`, wired in
//! `pkg/controllers/register.go` `RegisterServiceSyncControllers`): one reconcile per mapping,
//! triggered by watches of the mapping's source and target objects (by name, in their
//! namespaces), retried with backoff. The objects and diffs are in
//! [`crate::translate::servicesync`].
//!
//! - fromHost: source host Service (watched in its namespace — the chart's ClusterRole grants
//!   cluster-wide read on Services), target virtual Service and Endpoints. The virtual
//!   namespace is created when missing. A headless source's Endpoints are watched as well, so
//!   pod IP changes follow (loft-sh/vcluster PR #1481, after v0.15.7; v0.15.7 followed them only when the
//!   Service itself changed).
//! - fromVirtual: source virtual Service, target host Service in the host namespace.
//!
//! Deliberately different from v0.15.7: when the source is gone, a target without
//! `vcluster.loft.sh/controlled-by: vcluster` is not deleted (upstream deletes whatever has the
//! target's name), and a target without the label gets a Warning event on the virtual object
//! naming the reason, once per target.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Preconditions};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::lean::{self, Lean};
use super::shared::Shared;
use crate::error::{SyncError, is_code};
use crate::options::ServiceMapping;
use crate::translate::servicesync as tr;

const NAME: &str = "servicesync";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    FromHost,
    FromVirtual,
}

struct Job {
    direction: Direction,
    mapping: ServiceMapping,
}

/// Pending reconciles (mapping indices) and the wake-up of the worker.
#[derive(Default)]
struct Queue {
    pending: Mutex<BTreeSet<usize>>,
    notify: Notify,
}

impl Queue {
    fn push(&self, job: usize) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).insert(job);
        self.notify.notify_one();
    }

    fn take(&self) -> BTreeSet<usize> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

struct Ctx {
    shared: Arc<Shared>,
    jobs: Vec<Job>,
    queue: Arc<Queue>,
    /// fromHost jobs whose source Endpoints are watched (headless sources).
    endpoint_watches: Mutex<HashSet<usize>>,
    /// Targets already warned about (job, target uid).
    warned: Mutex<HashSet<(usize, String)>>,
}

/// Run the mappings until shutdown (returns at once without any).
pub(crate) async fn run(shared: Arc<Shared>) {
    let mappings = shared.config.service_mappings.clone();
    let jobs: Vec<Job> = mappings
        .from_host
        .into_iter()
        .map(|mapping| Job { direction: Direction::FromHost, mapping })
        .chain(mappings.from_virtual.into_iter().map(|mapping| Job { direction: Direction::FromVirtual, mapping }))
        .collect();
    if jobs.is_empty() {
        return;
    }
    let queue = Arc::new(Queue::default());
    let ctx = Arc::new(Ctx {
        shared: shared.clone(),
        jobs,
        queue: queue.clone(),
        endpoint_watches: Mutex::new(HashSet::new()),
        warned: Mutex::new(HashSet::new()),
    });
    for (i, job) in ctx.jobs.iter().enumerate() {
        let ((source_client, source), (target_client, target)) = match job.direction {
            Direction::FromHost => ((&shared.host, &job.mapping.from), (&shared.virtual_, &job.mapping.to)),
            Direction::FromVirtual => ((&shared.virtual_, &job.mapping.from), (&shared.host, &job.mapping.to)),
        };
        spawn_watch::<Service>(&ctx, i, source_client.clone(), source);
        spawn_watch::<Service>(&ctx, i, target_client.clone(), target);
        if job.direction == Direction::FromHost {
            spawn_watch::<Endpoints>(&ctx, i, target_client.clone(), target);
        }
        queue.push(i);
    }
    let mut failures: HashMap<usize, u32> = HashMap::new();
    loop {
        tokio::select! {
            () = shared.shutdown.cancelled() => return,
            () = queue.notify.notified() => {}
        }
        for i in queue.take() {
            let job = &ctx.jobs[i];
            let result = match job.direction {
                Direction::FromHost => from_host(&ctx, i).await,
                Direction::FromVirtual => from_virtual(&ctx, i).await,
            };
            match result {
                Ok(()) => {
                    failures.remove(&i);
                }
                Err(e) => {
                    let n = failures.entry(i).or_insert(0);
                    *n = n.saturating_add(1);
                    let delay = Duration::from_millis(500u64.saturating_mul(1u64 << (*n).min(6)).min(30_000));
                    tracing::warn!(
                        kind = NAME,
                        mapping = %describe(job),
                        error = %crate::error::chain(&e),
                        "service mapping failed, retrying in {delay:?}"
                    );
                    let (queue, shutdown) = (queue.clone(), shared.shutdown.clone());
                    tokio::spawn(async move {
                        tokio::select! {
                            () = shutdown.cancelled() => {}
                            () = tokio::time::sleep(delay) => queue.push(i),
                        }
                    });
                }
            }
        }
    }
}

fn describe(job: &Job) -> String {
    let ((fns, fname), (tns, tname)) = (&job.mapping.from, &job.mapping.to);
    let side = match job.direction {
        Direction::FromHost => "host",
        Direction::FromVirtual => "virtual",
    };
    format!("{side} {fns}/{fname} -> {tns}/{tname}")
}

/// Watch the object `namespace/name` of kind `K`; every change queues job `i`.
fn spawn_watch<K>(ctx: &Ctx, i: usize, client: Client, (namespace, name): &(String, String))
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let api: Api<Lean<K>> = Api::namespaced(client, namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let (queue, shutdown) = (ctx.queue.clone(), ctx.shared.shutdown.clone());
    let what = format!("{} {namespace}/{name}", K::kind(&()));
    tokio::spawn(async move {
        let mut events = lean::watcher(api, config).default_backoff().boxed();
        let mut warned = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                event = events.next() => match event {
                    None => return,
                    Some(Ok(_)) => queue.push(i),
                    Some(Err(e)) if !warned => {
                        warned = true;
                        tracing::warn!(kind = NAME, "cannot watch {what} (retrying): {e}");
                    }
                    Some(Err(e)) => tracing::debug!(kind = NAME, "cannot watch {what}: {e}"),
                },
            }
        }
    });
}

fn api_err(verb: &'static str, side: &'static str, (namespace, name): &(String, String), e: kube::Error) -> SyncError {
    SyncError::api(verb, "service", side, namespace, name, e)
}

async fn get<K>(client: &Client, target: &(String, String), side: &'static str) -> Result<Option<K>, SyncError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned,
{
    let api: Api<K> = Api::namespaced(client.clone(), &target.0);
    api.get_opt(&target.1).await.map_err(|e| api_err("get", side, target, e))
}

/// Delete `obj` if a service mapping made it (uid precondition; gone already is fine).
async fn delete_ours<K>(client: &Client, obj: Option<K>, side: &'static str) -> Result<(), SyncError>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + Serialize,
{
    let Some(obj) = obj.filter(|o| tr::is_controlled_by_servicesync(o.meta())) else { return Ok(()) };
    let target = (obj.namespace().unwrap_or_default(), obj.name_any());
    tracing::info!(
        kind = NAME,
        "delete target {} {}/{} because the source service is missing",
        K::kind(&()),
        target.0,
        target.1
    );
    let api: Api<K> = Api::namespaced(client.clone(), &target.0);
    let dp = DeleteParams {
        preconditions: obj.meta().uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..DeleteParams::default()
    };
    match api.delete(&target.1, &dp).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 404) || is_code(&e, 409) => Ok(()),
        Err(e) => Err(api_err("delete", side, &target, e)),
    }
}

/// A Warning on the virtual object `on` that the target exists and is not ours (once per target).
async fn warn_foreign(ctx: &Ctx, i: usize, on: &Service, target: &Service, side: &str) {
    let uid = target.metadata.uid.clone().unwrap_or_default();
    if !ctx.warned.lock().unwrap_or_else(|e| e.into_inner()).insert((i, uid)) {
        return;
    }
    let message = format!(
        "service mapping {}: the {side} service {}/{} already exists and was not created by vcluster \
         (no label vcluster.loft.sh/controlled-by=vcluster), so it is left as it is",
        describe(&ctx.jobs[i]),
        target.namespace().unwrap_or_default(),
        target.name_any()
    );
    tracing::warn!(kind = NAME, "{message}");
    ctx.shared.warn(on, "SyncError", &message).await;
}

/// Host Service → virtual headless Service + Endpoints.
async fn from_host(ctx: &Ctx, i: usize) -> Result<(), SyncError> {
    let shared = &ctx.shared;
    let ServiceMapping { from, to } = &ctx.jobs[i].mapping;
    let (host, virt) = (&shared.host, &shared.virtual_);
    let Some(source) = get::<Service>(host, from, "host").await? else {
        delete_ours(virt, get::<Service>(virt, to, "virtual").await?, "virtual").await?;
        return delete_ours(virt, get::<Endpoints>(virt, to, "virtual").await?, "virtual").await;
    };
    let services: Api<Service> = Api::namespaced(virt.clone(), &to.0);
    let pp = shared.post_params();
    let mut target = match get::<Service>(virt, to, "virtual").await? {
        None => {
            ensure_namespace(ctx, &to.0).await?;
            tracing::info!(kind = NAME, "create target service {}/{} because it is missing", to.0, to.1);
            match services.create(&pp, &tr::virtual_target(&source, &to.0, &to.1)).await {
                Ok(created) => created,
                Err(e) if is_code(&e, 409) => return Ok(()), // the target watch brings it back
                Err(e) => return Err(api_err("create", "virtual", to, e)),
            }
        }
        Some(t) if !tr::is_controlled_by_servicesync(&t.metadata) => {
            warn_foreign(ctx, i, &t, &t, "virtual").await;
            return Ok(());
        }
        Some(t) => t,
    };
    if let Some(status) = tr::load_balancer_status(&source, &target) {
        tracing::info!(kind = NAME, "update target service {}/{} because the loadbalancer status changed", to.0, to.1);
        let updated = Service { status: Some(status), ..target.clone() };
        match services.replace_status(&to.1, &pp, &updated).await {
            Ok(t) => target = t,
            Err(e) if is_code(&e, 409) => return Err(api_err("update status of", "virtual", to, e)),
            // Kubernetes 1.29+ refuses load-balancer addresses on a non-LoadBalancer Service
            // (the target is headless): keep the rest of the mapping working.
            Err(e) if is_code(&e, 422) => {
                let uid = format!("lb-{}", target.metadata.uid.clone().unwrap_or_default());
                if ctx.warned.lock().unwrap_or_else(|e| e.into_inner()).insert((i, uid)) {
                    tracing::warn!(kind = NAME, "cannot mirror the load balancer status to {}/{}: {e}", to.0, to.1);
                }
            }
            Err(e) => return Err(api_err("update status of", "virtual", to, e)),
        }
    }
    if let Some(updated) = tr::virtual_target_update(&source, &target) {
        tracing::info!(kind = NAME, "update target service {}/{} because ports are different", to.0, to.1);
        target = services.replace(&to.1, &pp, &updated).await.map_err(|e| api_err("update", "virtual", to, e))?;
    }
    let source_endpoints = if tr::is_headless(&source) {
        ensure_endpoints_watch(ctx, i, from);
        match get::<Endpoints>(host, from, "host").await? {
            Some(e) => Some(e),
            None => return Ok(()), // the source Endpoints watch brings us back
        }
    } else {
        None
    };
    let Some(subsets) = tr::expected_subsets(&source, source_endpoints.as_ref(), &target) else { return Ok(()) };
    let endpoints: Api<Endpoints> = Api::namespaced(virt.clone(), &to.0);
    match get::<Endpoints>(virt, to, "virtual").await? {
        None => {
            tracing::info!(kind = NAME, "create target endpoints {}/{} because they are missing", to.0, to.1);
            match endpoints.create(&pp, &tr::virtual_endpoints(&to.0, &to.1, subsets)).await {
                Ok(_) => Ok(()),
                Err(e) if is_code(&e, 409) => Ok(()),
                Err(e) => Err(api_err("create endpoints", "virtual", to, e)),
            }
        }
        Some(current) => match tr::endpoints_update(&current, subsets) {
            Some(updated) => {
                tracing::info!(kind = NAME, "update target endpoints {}/{} because subsets are different", to.0, to.1);
                endpoints
                    .replace(&to.1, &pp, &updated)
                    .await
                    .map(|_| ())
                    .map_err(|e| api_err("update endpoints", "virtual", to, e))
            }
            None => Ok(()),
        },
    }
}

/// Virtual Service → host Service selecting the synced pods.
async fn from_virtual(ctx: &Ctx, i: usize) -> Result<(), SyncError> {
    let shared = &ctx.shared;
    let ServiceMapping { from, to } = &ctx.jobs[i].mapping;
    let (host, virt) = (&shared.host, &shared.virtual_);
    let Some(source) = get::<Service>(virt, from, "virtual").await? else {
        return delete_ours(host, get::<Service>(host, to, "host").await?, "host").await;
    };
    let services: Api<Service> = Api::namespaced(host.clone(), &to.0);
    let pp = shared.post_params();
    match get::<Service>(host, to, "host").await? {
        None => {
            tracing::info!(kind = NAME, "create target service {}/{} because it is missing", to.0, to.1);
            match services.create(&pp, &tr::host_target(&shared.tctx, &source, &to.1)).await {
                Ok(_) => Ok(()),
                Err(e) if is_code(&e, 409) => Ok(()),
                Err(e) => Err(api_err("create", "host", to, e)),
            }
        }
        Some(t) if !tr::is_controlled_by_servicesync(&t.metadata) => {
            warn_foreign(ctx, i, &source, &t, "host").await;
            Ok(())
        }
        Some(t) => match tr::host_target_update(&shared.tctx, &source, &t) {
            Some(updated) => {
                tracing::info!(
                    kind = NAME,
                    "update target service {}/{} because ports or selector are different",
                    to.0,
                    to.1
                );
                services.replace(&to.1, &pp, &updated).await.map(|_| ()).map_err(|e| api_err("update", "host", to, e))
            }
            None => Ok(()),
        },
    }
}

/// Create the virtual namespace of a fromHost target when it is missing (`CreateNamespace`).
async fn ensure_namespace(ctx: &Ctx, name: &str) -> Result<(), SyncError> {
    let api: Api<Namespace> = Api::all(ctx.shared.virtual_.clone());
    let err = |verb, e| SyncError::api(verb, "namespace", "virtual", "", name, e);
    if api.get_opt(name).await.map_err(|e| err("get", e))?.is_some() {
        return Ok(());
    }
    tracing::info!(kind = NAME, "create namespace {name} because it is missing");
    let ns = Namespace {
        metadata: ObjectMeta { name: Some(name.to_owned()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    match api.create(&ctx.shared.post_params(), &ns).await {
        Ok(_) => Ok(()),
        Err(e) if is_code(&e, 409) => Ok(()),
        Err(e) => Err(err("create", e)),
    }
}

/// Watch a headless fromHost source's Endpoints (started on the first reconcile that needs them,
/// so a mapping of a ClusterIP Service needs no read access to Endpoints in its namespace).
fn ensure_endpoints_watch(ctx: &Ctx, i: usize, source: &(String, String)) {
    if ctx.endpoint_watches.lock().unwrap_or_else(|e| e.into_inner()).insert(i) {
        spawn_watch::<Endpoints>(ctx, i, ctx.shared.host.clone(), source);
    }
}
