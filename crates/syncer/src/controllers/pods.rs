//! The pods controller (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/pods/syncer.go`):
//! virtual pods run as host pods; the host pod's node becomes a fake virtual node the virtual
//! pod is bound to; the host status is copied back; deletions follow either side.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use futures::channel::mpsc::UnboundedReceiver;
use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Binding, Namespace, Node, ObjectReference, Pod, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use super::engine::{self, Kind};
use super::lean::Packed;
use super::shared::Shared;
use super::writes;
use crate::error::{SyncError, is_code};
use crate::translate::{nodes, pods, security};

/// Grace period when the host pod goes away first (`minimumGracePeriodInSeconds`).
const MINIMUM_GRACE_PERIOD: i64 = 30;

pub(crate) struct PodKind {
    shared: Arc<Shared>,
    host: Store<Packed<Pod>>,
}

impl PodKind {
    async fn namespace_labels(&self, namespace: &str) -> Result<Option<BTreeMap<String, String>>, SyncError> {
        if let Some(labels) = self.shared.index.namespace_labels(namespace) {
            return Ok(Some(labels));
        }
        let api: Api<Namespace> = Api::all(self.shared.virtual_.clone());
        api.get_opt(namespace)
            .await
            .map(|ns| ns.map(|n| n.labels().clone()))
            .map_err(|e| SyncError::api("get", "namespace", "virtual", "", namespace, e))
    }

    /// Mint the tokens the pod's projected service-account sources need, on the virtual API
    /// (`translateProjectedVolume`: TokenRequest bound to the virtual pod).
    async fn tokens(&self, v: &Pod) -> Result<Vec<(String, String)>, SyncError> {
        let namespace = v.namespace().unwrap_or_default();
        let api: Api<ServiceAccount> = Api::namespaced(self.shared.virtual_.clone(), &namespace);
        let mut out = Vec::new();
        for source in pods::token_sources(&self.shared.pod_settings, v) {
            let request = TokenRequest {
                metadata: ObjectMeta::default(),
                spec: TokenRequestSpec {
                    audiences: source.audiences.clone(),
                    bound_object_ref: Some(BoundObjectReference {
                        api_version: Some("v1".into()),
                        kind: Some("Pod".into()),
                        name: v.metadata.name.clone(),
                        uid: v.metadata.uid.clone(),
                    }),
                    expiration_seconds: Some(source.expiration_seconds),
                },
                status: None,
            };
            let answer = api
                .create_token_request(&source.service_account, &PostParams::default(), &request)
                .await
                .map_err(|e| {
                    SyncError::api(
                        "create token for",
                        "serviceaccount",
                        "virtual",
                        &namespace,
                        &source.service_account,
                        e,
                    )
                })?;
            let token = answer.status.map(|s| s.token).filter(|t| !t.is_empty());
            let token = token.ok_or_else(|| SyncError::EmptyToken(source.service_account.clone()))?;
            let key = loop {
                let key = format!("{}{}", pods::TOKEN_ANNOTATION_PREFIX, random_suffix(8));
                if !out.iter().any(|(k, _): &(String, String)| *k == key) {
                    break key;
                }
            };
            out.push((key, token));
        }
        Ok(out)
    }

    /// Make sure the virtual node exists (a fake one) and bind the virtual pod to it
    /// (`ensureNode`, `assignNodeToPod`). Returns whether the pod was bound now.
    async fn ensure_node(&self, v: &Pod, node_name: &str) -> Result<bool, SyncError> {
        let shared = &self.shared;
        let bound = v.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name);
        let known = || shared.known_nodes.lock().unwrap_or_else(|e| e.into_inner()).contains(node_name);
        if bound && known() {
            return Ok(false);
        }
        let _guard = shared.nodes_lock.lock().await;
        if !known() {
            let api: Api<Node> = Api::all(shared.virtual_.clone());
            let existing =
                api.get_opt(node_name).await.map_err(|e| SyncError::api("get", "node", "virtual", "", node_name, e))?;
            if existing.is_none() {
                tracing::info!(
                    "create virtual fake node {node_name}, because pod {}/{} uses it",
                    v.namespace().unwrap_or_default(),
                    v.name_any()
                );
                match api.create(&shared.post_params(), &nodes::fake_node(node_name)).await {
                    Ok(_) => {}
                    Err(e) if is_code(&e, 409) => {}
                    Err(e) => return Err(SyncError::api("create", "node", "virtual", "", node_name, e)),
                }
                let ids = [random_guid(), random_guid(), random_guid()];
                let status = nodes::fake_node_status(
                    &shared.config.virtual_version,
                    ids,
                    Time(k8s_openapi::jiff::Timestamp::now()),
                    None,
                );
                let patch = serde_json::json!({ "status": status });
                api.patch_status(node_name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(|e| SyncError::api("patch status of", "node", "virtual", "", node_name, e))?;
            }
            shared.known_nodes.lock().unwrap_or_else(|e| e.into_inner()).insert(node_name.to_owned());
        }
        if bound {
            return Ok(false);
        }
        let namespace = v.namespace().unwrap_or_default();
        tracing::info!("bind virtual pod {namespace}/{} to node {node_name}", v.name_any());
        let binding = Binding {
            metadata: ObjectMeta {
                name: v.metadata.name.clone(),
                namespace: Some(namespace.clone()),
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                kind: Some("Node".into()),
                name: Some(node_name.to_owned()),
                api_version: Some("v1".into()),
                ..ObjectReference::default()
            },
        };
        let api: Api<Pod> = Api::namespaced(shared.virtual_.clone(), &namespace);
        match writes::create_subresource(&api, "binding", &v.name_any(), &PostParams::default(), &binding).await {
            Ok(()) => Ok(true),
            // Bound already (our previous bind, not yet in the store).
            Err(e) if is_code(&e, 409) => Ok(true),
            Err(e) => {
                shared.warn(v, "SyncError", &format!("Error binding pod: {}", engine::api_message(&e))).await;
                Err(SyncError::api("bind", "pod", "virtual", &namespace, &v.name_any(), e))
            }
        }
    }

    async fn delete_virtual(&self, v: &Pod, grace: i64, reason: &str) -> Result<(), SyncError> {
        let namespace = v.namespace().unwrap_or_default();
        tracing::info!("delete virtual pod {namespace}/{}, because {reason}", v.name_any());
        let api: Api<Pod> = Api::namespaced(self.shared.virtual_.clone(), &namespace);
        let dp = DeleteParams {
            grace_period_seconds: u32::try_from(grace.max(0)).ok(),
            preconditions: v.metadata.uid.clone().map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
            ..DeleteParams::default()
        };
        match api.delete(&v.name_any(), &dp).await {
            Ok(_) => Ok(()),
            Err(e) if is_code(&e, 404) || is_code(&e, 409) => Ok(()),
            Err(e) => Err(SyncError::api("delete", "pod", "virtual", &namespace, &v.name_any(), e)),
        }
    }
}

impl Kind for PodKind {
    type K = Pod;
    type Stored = Packed<Pod>;
    const NAME: &'static str = "pod";

    fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn host_store(&self) -> &Store<Packed<Pod>> {
        &self.host
    }

    async fn before_create(&self, v: &Arc<Pod>) -> Result<Option<Action>, SyncError> {
        if v.metadata.deletion_timestamp.is_some() {
            // Never reached the host: delete at once (`SyncDown`).
            self.delete_virtual(v, 0, "it is being deleted & there is no physical pod").await?;
            return Ok(Some(Action::await_change()));
        }
        Ok(None)
    }

    async fn create(&self, v: &Arc<Pod>) -> Result<Option<Pod>, SyncError> {
        let shared = &self.shared;
        let level = shared.config.pod_security_standard.as_str();
        if !level.is_empty() {
            let violations = security::violations(level, v);
            if !violations.is_empty() {
                let message = format!("Pod violates the {level:?} pod security standard: {}", violations.join("; "));
                shared.warn(v.as_ref(), "PodSecurityStandardViolation", &message).await;
                return Ok(None);
            }
        }
        let namespace = v.namespace().unwrap_or_default();
        let labels = self.namespace_labels(&namespace).await?;
        let tokens = self.tokens(v).await?;
        let network = &shared.network;
        if !network.ready().await {
            return Err(SyncError::NotReady("host services"));
        }
        let mut dns_ip = network.dns_ip();
        if dns_ip.is_none() && shared.pod_settings.wait_for_dns && pods::uses_cluster_dns(v.spec.as_ref()) {
            // Noted before the second look, so an IP arriving in between still triggers a retry.
            network.waiting_for_dns();
            dns_ip = network.dns_ip();
            if dns_ip.is_none() {
                return Err(SyncError::WaitingForDns);
            }
        }
        let kube_ip = network.kube_ip();
        let services = network.services(&namespace);
        let inputs = pods::Inputs {
            namespace_labels: labels.as_ref(),
            tokens,
            dns_ip: dns_ip.as_deref(),
            kube_ip: kube_ip.as_deref(),
            services: &services,
        };
        Ok(Some(pods::to_host(&shared.tctx, &shared.pod_settings, v, &inputs)))
    }

    async fn sync(&self, v: &Arc<Pod>, h: &Arc<Pod>) -> Result<Action, SyncError> {
        let shared = &self.shared;
        if h.metadata.deletion_timestamp.is_some() {
            if v.metadata.deletion_timestamp.is_none() {
                let grace =
                    v.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(MINIMUM_GRACE_PERIOD);
                self.delete_virtual(v, grace, "the physical pod is being deleted").await?;
            } else if v.metadata.deletion_grace_period_seconds != h.metadata.deletion_grace_period_seconds {
                let grace = h.metadata.deletion_grace_period_seconds.unwrap_or(0);
                self.delete_virtual(v, grace, "the physical pod is being deleted with another grace period").await?;
            }
            return Ok(Action::await_change());
        }
        if v.metadata.deletion_timestamp.is_some() {
            let namespace = shared.tctx.host_namespace();
            tracing::info!("delete physical pod {namespace}/{}, because virtual pod is being deleted", h.name_any());
            let api: Api<Pod> = Api::namespaced(shared.host.clone(), namespace);
            let dp = DeleteParams {
                grace_period_seconds: v.metadata.deletion_grace_period_seconds.and_then(|g| u32::try_from(g).ok()),
                preconditions: h
                    .metadata
                    .uid
                    .clone()
                    .map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
                ..DeleteParams::default()
            };
            return match api.delete(&h.name_any(), &dp).await {
                Ok(_) => Ok(Action::await_change()),
                Err(e) if is_code(&e, 404) => Ok(Action::await_change()),
                Err(e) => Err(SyncError::api("delete", "pod", "host", namespace, &h.name_any(), e)),
            };
        }
        if let Some(node) = h.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
            && shared.enabled("fake-nodes")
            && self.ensure_node(v, node).await?
        {
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        if let Some(status) = pods::status_for_virtual(v, h) {
            let namespace = v.namespace().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(shared.virtual_.clone(), &namespace);
            let mut updated = (**v).clone();
            updated.status = Some(status);
            return match writes::replace_status(&api, &v.name_any(), &shared.post_params(), &updated).await {
                Ok(()) => Ok(Action::await_change()),
                Err(e) if is_code(&e, 409) => Ok(Action::requeue(Duration::from_millis(200))),
                Err(e) => {
                    shared
                        .warn(v.as_ref(), "SyncError", &format!("Error updating pod: {}", engine::api_message(&e)))
                        .await;
                    Err(SyncError::api("update status of", "pod", "virtual", &namespace, &v.name_any(), e))
                }
            };
        }
        let labels = self.namespace_labels(&v.namespace().unwrap_or_default()).await?;
        match pods::diff(&shared.tctx, &shared.pod_settings, v, h, labels.as_ref()) {
            Some(updated) => engine::update_host(self, v, updated).await,
            None => Ok(Action::await_change()),
        }
    }
}

/// `random.RandomString`: lowercase letters and digits.
fn random_suffix(n: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n).map(|_| CHARS[fastrand::usize(..CHARS.len())] as char).collect()
}

fn random_guid() -> String {
    [8, 4, 4, 4, 12].iter().map(|n| random_suffix(*n)).collect::<Vec<_>>().join("-")
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    host: Store<Packed<Pod>>,
    host_stream: impl Stream<Item = Result<Packed<Pod>, watcher::Error>> + Send + 'static,
    namespace_changes: UnboundedReceiver<ObjectRef<Packed<Pod>>>,
    dns_changes: impl Stream<Item = ()> + Send + 'static,
) {
    let mapper_shared = shared.clone();
    let ctrl = engine::virtual_controller::<Packed<Pod>>(&shared)
        .watches_stream(host_stream, move |h: Packed<Pod>| engine::host_to_virtual(&mapper_shared, &h))
        .reconcile_on(namespace_changes)
        // Pods waiting for the DNS IP are retried as soon as it appears.
        .reconcile_all_on(dns_changes);
    let kind = Arc::new(PodKind { shared, host });
    engine::run(ctrl, kind).await;
}
