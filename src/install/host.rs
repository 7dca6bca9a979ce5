//! Requests to the host cluster that an install makes: objects (get, server-side apply, delete
//! with a uid precondition), the namespace, detection (version; service CIDR from the default
//! ServiceCIDR, else dry-run probes), permissions and watches. One of the few places that hold a
//! `kube::Client`; every error is classified by [`Cluster::error`] so it names the context and
//! server.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use futures::{StreamExt, stream::BoxStream};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, ResourceRule, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SelfSubjectRulesReview,
    SelfSubjectRulesReviewSpec,
};
use k8s_openapi::api::core::v1::{Event, Namespace, Service};
use k8s_openapi::api::networking::v1::ServiceCIDR;
use kube::api::{
    DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
    WatchEvent, WatchParams,
};
use kube::discovery::ApiResource;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::InstallError;
use super::cidr::{self, Detected};
use super::objects::{ObjectKey, ScopedResource, known_resource};
use super::ownership::FIELD_MANAGER;
use super::permissions::{self, Permission};
use crate::cluster::{Cluster, ClusterError};
use crate::interrupt::Interrupt;
use crate::render::Manifest;

/// Live objects looked up at the same time.
const LOOKUP_CONCURRENCY: usize = 8;

/// The annotation the established CLI puts on namespaces it creates, so `delete` knows it may
/// remove them. (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/create.go`)
pub const CREATED_ANNOTATION: &str = "vcluster.loft.sh/created";

/// The host cluster, as an install uses it.
pub struct Host {
    pub cluster: Cluster,
    resources: Mutex<HashMap<(String, String), Option<ScopedResource>>>,
}

/// What happened to the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceState {
    Missing,
    Exists,
    /// Being deleted: wait until it is gone.
    Terminating,
    /// Not readable (forbidden): assumed to exist, as the established CLI assumes.
    Unknown,
}

/// What creating the namespace did.
#[derive(Debug)]
pub enum Creation {
    Created,
    /// 409: it exists (perhaps terminating).
    Exists,
    /// 403: not allowed; it may exist all the same.
    Forbidden(ClusterError),
}

/// What a permission check found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PermissionReport {
    pub missing: Vec<Permission>,
    /// Why some permissions could not be checked (a non-RBAC authorizer, an old cluster).
    pub unchecked: Option<String>,
}

impl Host {
    pub fn new(cluster: Cluster) -> Host {
        Host { cluster, resources: Mutex::new(HashMap::new()) }
    }

    fn err(&self, e: kube::Error) -> InstallError {
        InstallError::Cluster(self.cluster.error(e))
    }

    /// `gitVersion` of the API server (`v1.33.1`).
    pub async fn version(&self) -> Result<String, InstallError> {
        Ok(self.cluster.client.apiserver_version().await.map_err(|e| self.err(e))?.git_version)
    }

    /// The API resource of a kind: from the built-in table, else by discovery (cached); `None`
    /// when the cluster does not serve it (a kind an old release had, since removed).
    pub async fn served(&self, api_version: &str, kind: &str) -> Result<Option<ScopedResource>, InstallError> {
        if let Some(known) = known_resource(api_version, kind) {
            return Ok(Some(known));
        }
        let cache_key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.resources.lock().expect("resource cache").get(&cache_key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let found = match kube::discovery::pinned_kind(&self.cluster.client, &gvk).await {
            Ok((resource, caps)) => Some((resource, caps.scope == kube::discovery::Scope::Namespaced)),
            Err(kube::Error::Discovery(_)) => None,
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(e) => return Err(self.err(e)),
        };
        self.resources.lock().expect("resource cache").insert(cache_key, found.clone());
        Ok(found)
    }

    /// [`Host::served`], where a kind that is not served is an error naming it.
    pub async fn resource(&self, api_version: &str, kind: &str) -> Result<ScopedResource, InstallError> {
        self.served(api_version, kind)
            .await?
            .ok_or_else(|| InstallError::NotServed { api_version: api_version.to_owned(), kind: kind.to_owned() })
    }

    async fn dynamic(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, InstallError> {
        let (resource, namespaced) = self.resource(api_version, kind).await?;
        Ok(self.api_for(&resource, namespaced, namespace))
    }

    fn api_for(&self, resource: &ApiResource, namespaced: bool, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| namespaced) {
            Some(ns) => Api::namespaced_with(self.cluster.client.clone(), ns, resource),
            None => Api::all_with(self.cluster.client.clone(), resource),
        }
    }

    /// The live object, if it exists (an object of a kind the cluster does not serve does not).
    pub async fn get(&self, m: &Manifest) -> Result<Option<Value>, InstallError> {
        let Some((resource, namespaced)) = self.served(&m.api_version, &m.kind).await? else { return Ok(None) };
        let api = self.api_for(&resource, namespaced, m.namespace.as_deref());
        match api.get_opt(&m.name).await.map_err(|e| self.err(e))? {
            Some(obj) => Ok(Some(to_value(&obj))),
            None => Ok(None),
        }
    }

    /// The live objects among `manifests` (each looked up once, several at a time); a key
    /// missing from the answer does not exist.
    pub async fn get_all<'m>(
        &self,
        manifests: impl Iterator<Item = &'m Manifest>,
        interrupt: &Interrupt,
    ) -> Result<BTreeMap<ObjectKey, Value>, InstallError> {
        let mut seen = BTreeSet::new();
        let wanted: Vec<&Manifest> = manifests.filter(|m| seen.insert(ObjectKey::of(m))).collect();
        let found: Vec<Result<(ObjectKey, Option<Value>), InstallError>> = futures::stream::iter(wanted)
            .map(|m| async move { Ok((ObjectKey::of(m), interrupt.guard(self.get(m)).await??)) })
            .buffer_unordered(LOOKUP_CONCURRENCY)
            .collect()
            .await;
        let mut out = BTreeMap::new();
        for item in found {
            if let (key, Some(value)) = item? {
                out.insert(key, value);
            }
        }
        Ok(out)
    }

    /// Server-side apply with this tool's field manager (strict field validation); the result
    /// as the server stored it (or would, with `dry_run`). A conflict with another manager is
    /// [`InstallError::Conflict`].
    pub async fn apply(&self, m: &Manifest, force: bool, dry_run: bool) -> Result<Value, InstallError> {
        let api = self.dynamic(&m.api_version, &m.kind, m.namespace.as_deref()).await?;
        let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
        params.force = force;
        params.dry_run = dry_run;
        match api.patch(&m.name, &params, &Patch::Apply(&m.object)).await {
            Ok(obj) => Ok(to_value(&obj)),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Err(InstallError::Conflict { object: ObjectKey::of(m).to_string(), message: status.message.clone() })
            }
            Err(e) => Err(InstallError::Apply {
                object: ObjectKey::of(m).to_string(),
                source: Box::new(self.cluster.error(e)),
            }),
        }
    }

    /// Replace an object's managedFields (taking over Helm's fields), if it is still at
    /// `resource_version`. (client-go `util/csaupgrade` sends the same JSON patch)
    pub async fn replace_managed_fields(
        &self,
        m: &Manifest,
        resource_version: &str,
        fields: &[Value],
    ) -> Result<(), InstallError> {
        let api = self.dynamic(&m.api_version, &m.kind, m.namespace.as_deref()).await?;
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "replace", "path": "/metadata/managedFields", "value": fields},
        ]))
        .expect("a valid JSON patch");
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        api.patch(&m.name, &params, &Patch::Json::<()>(patch)).await.map_err(|e| InstallError::Apply {
            object: ObjectKey::of(m).to_string(),
            source: Box::new(self.cluster.error(e)),
        })?;
        Ok(())
    }

    /// Delete an object only if it is still the one with `uid`; `false` when it is gone or has
    /// been replaced by another object of the same name.
    pub async fn delete(&self, key: &ObjectKey, api_version: &str, uid: &str) -> Result<bool, InstallError> {
        let api = self.dynamic(api_version, &key.kind, key.namespace.as_deref()).await?;
        let dp = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &dp).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
            Err(e) => Err(InstallError::Delete { object: key.to_string(), source: Box::new(self.cluster.error(e)) }),
        }
    }

    pub async fn namespace_state(&self, name: &str) -> Result<(NamespaceState, Option<Namespace>), InstallError> {
        let api: Api<Namespace> = Api::all(self.cluster.client.clone());
        match api.get_opt(name).await {
            Ok(None) => Ok((NamespaceState::Missing, None)),
            Ok(Some(ns)) if ns.metadata.deletion_timestamp.is_some() => Ok((NamespaceState::Terminating, Some(ns))),
            Ok(Some(ns)) => Ok((NamespaceState::Exists, Some(ns))),
            Err(kube::Error::Api(status)) if status.code == 403 => Ok((NamespaceState::Unknown, None)),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Create the namespace, annotated as created by this tool.
    pub async fn create_namespace(&self, name: &str) -> Result<Creation, InstallError> {
        let api: Api<Namespace> = Api::all(self.cluster.client.clone());
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {CREATED_ANNOTATION: "true"}}
        }))
        .expect("a valid Namespace");
        let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
        match api.create(&pp, &ns).await {
            Ok(_) => Ok(Creation::Created),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Creation::Exists),
            Err(kube::Error::Api(status)) if status.code == 403 => {
                Ok(Creation::Forbidden(self.cluster.error(kube::Error::Api(status))))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Wait (watching) until a terminating namespace is gone.
    pub async fn namespace_gone(&self, terminating: &Namespace) -> Result<(), InstallError> {
        let api: Api<Namespace> = Api::all(self.cluster.client.clone());
        let name = terminating.metadata.name.clone().unwrap_or_default();
        let rv = terminating.metadata.resource_version.clone().unwrap_or_default();
        let mut follow = Follow::new(api, WatchParams::default().fields(&format!("metadata.name={name}")), rv);
        loop {
            match follow.next().await.map_err(|e| self.err(e))? {
                Change::Deleted(_) => return Ok(()),
                Change::Relisted(items) if items.is_empty() => return Ok(()),
                _ => {}
            }
        }
    }

    /// The host's service CIDR: the default ServiceCIDR's ranges where the cluster serves them,
    /// else dry-run probe Services in `namespace` (which must exist; the GET needs none).
    pub async fn detect_service_cidr(&self, namespace: &str) -> Result<Detected, InstallError> {
        // One request instead of the probes' two or three, and exact on dual stack: both
        // families in kube-apiserver's own order.
        if let Some(found) = self.default_service_cidr().await? {
            return Ok(Detected::Found(found));
        }
        self.probe_service_cidr(namespace).await
    }

    /// The ranges of the ServiceCIDR `kubernetes` (Kubernetes 1.33+); `None` when the cluster
    /// does not serve it (404: an older cluster, or the API turned off), this user may not read
    /// it (403), or it names no usable range.
    async fn default_service_cidr(&self) -> Result<Option<String>, InstallError> {
        let api: Api<ServiceCIDR> = Api::all(self.cluster.client.clone());
        match api.get(cidr::DEFAULT_SERVICE_CIDR).await {
            Ok(found) => Ok(cidr::from_service_cidr(&found.spec.and_then(|s| s.cidrs).unwrap_or_default())),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 403 => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// The host's service CIDR from dry-run probe Services in `namespace`.
    async fn probe_service_cidr(&self, namespace: &str) -> Result<Detected, InstallError> {
        let api: Api<Service> = Api::namespaced(self.cluster.client.clone(), namespace);
        let probe = |ip: Option<&str>, dual: bool| {
            let mut spec = json!({"ports": [{"port": 80}]});
            if let Some(ip) = ip {
                spec["clusterIP"] = ip.into();
            }
            if dual {
                spec["ipFamilyPolicy"] = "PreferDualStack".into();
            }
            let svc: Service =
                serde_json::from_value(json!({"metadata": {"generateName": "test-service-"}, "spec": spec}))
                    .expect("a valid Service");
            let api = api.clone();
            async move { api.create(&PostParams { dry_run: true, ..PostParams::default() }, &svc).await }
        };
        let range = |result: Result<Service, kube::Error>| match result {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(status)) if status.code == 403 => Err(status.message.clone()),
            Err(kube::Error::Api(status)) => Ok(cidr::range_in_message(&status.message)),
            Err(other) => Err(self.cluster.error(other).to_string()),
        };
        let (v4, v6) = futures::join!(probe(Some(cidr::PROBE_V4), false), probe(Some(cidr::PROBE_V6), false));
        let (v4, v6) = match (range(v4), range(v6)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(reason), _) | (_, Err(reason)) => {
                return Ok(Detected::Fallback { reason: format!("the probe Service was refused: {reason}") });
            }
        };
        let ipv6_primary = if v4.is_some() && v6.is_some() {
            let dual = probe(None, true).await.map_err(|e| self.err(e))?;
            dual.spec.and_then(|s| s.ip_families).and_then(|f| f.first().cloned()).as_deref() == Some("IPv6")
        } else {
            false
        };
        Ok(match cidr::combine(v4, v6, ipv6_primary) {
            Some(found) => Detected::Found(found),
            None => Detected::Fallback { reason: "no probe answer named the service IP range".into() },
        })
    }

    /// Which of `needed` are not granted: one SelfSubjectRulesReview for the namespace, one
    /// SelfSubjectAccessReview per cluster-scoped permission.
    pub async fn check_permissions(
        &self,
        namespace: &str,
        needed: &[Permission],
    ) -> Result<PermissionReport, InstallError> {
        let mut report = PermissionReport::default();
        let namespaced: Vec<&Permission> = needed.iter().filter(|p| p.namespaced).collect();
        let cluster: Vec<&Permission> = needed.iter().filter(|p| !p.namespaced).collect();
        let rules = async {
            let api: Api<SelfSubjectRulesReview> = Api::all(self.cluster.client.clone());
            let review = SelfSubjectRulesReview {
                spec: SelfSubjectRulesReviewSpec { namespace: Some(namespace.to_owned()) },
                ..SelfSubjectRulesReview::default()
            };
            api.create(&PostParams::default(), &review).await
        };
        let access = futures::future::join_all(cluster.iter().map(|p| async move {
            let api: Api<SelfSubjectAccessReview> = Api::all(self.cluster.client.clone());
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(p.verb.to_owned()),
                        group: Some(p.group.clone()),
                        resource: Some(p.resource.clone()),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            (p, api.create(&PostParams::default(), &review).await)
        }));
        let (rules, access) = futures::join!(rules, access);
        match rules {
            Ok(review) => {
                let status = review.status.unwrap_or_default();
                let granted: &[ResourceRule] = &status.resource_rules;
                for p in namespaced.iter().filter(|p| !permissions::allowed(granted, p)) {
                    if status.incomplete {
                        report.unchecked = Some(format!(
                            "the cluster's authorizer lists rules incompletely{}",
                            status.evaluation_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
                        ));
                    } else {
                        report.missing.push((*p).clone());
                    }
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                report.unchecked = Some("the cluster does not serve SelfSubjectRulesReview".into());
            }
            Err(e) => return Err(self.err(e)),
        }
        for (p, result) in access {
            match result {
                Ok(review) if review.status.as_ref().is_some_and(|s| s.allowed) => {}
                Ok(_) => report.missing.push((*p).clone()),
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    report.unchecked = Some("the cluster does not serve SelfSubjectAccessReview".into());
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        Ok(report)
    }

    /// The latest Warning events of an object (newest last, at most `limit`).
    pub async fn warnings(&self, namespace: &str, name: &str, limit: usize) -> Result<Vec<String>, ClusterError> {
        let api: Api<Event> = Api::namespaced(self.cluster.client.clone(), namespace);
        let lp = ListParams::default().fields(&format!("involvedObject.name={name},type=Warning"));
        let mut events = api.list(&lp).await.map_err(|e| self.cluster.error(e))?.items;
        let when = |e: &Event| {
            e.last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or_else(|| e.event_time.as_ref().map(|t| t.0))
                .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
        };
        events.sort_by_key(when);
        Ok(events
            .iter()
            .rev()
            .take(limit)
            .rev()
            .map(|e| {
                format!("{}: {}", e.reason.as_deref().unwrap_or("Warning"), e.message.as_deref().unwrap_or("").trim())
            })
            .collect())
    }

    /// A typed API in the namespace.
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.cluster.client.clone(), namespace)
    }
}

fn to_value(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

/// A change seen by [`Follow`].
#[derive(Debug)]
pub enum Change<K> {
    Applied(K),
    Deleted(K),
    /// The watch's history was gone (410): the current list instead.
    Relisted(Vec<K>),
}

/// One watch followed from a resourceVersion: reopened when the server ends it, relisted when
/// the resourceVersion is too old (410 Gone), bookmarks followed. Never polls.
pub struct Follow<K> {
    api: Api<K>,
    params: WatchParams,
    rv: String,
    stream: Option<BoxStream<'static, kube::Result<WatchEvent<K>>>>,
}

impl<K> Follow<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    /// `rv` empty: from the current state (a LIST first).
    pub fn new(api: Api<K>, params: WatchParams, rv: String) -> Follow<K> {
        Follow { api, params: params.timeout(290), rv, stream: None }
    }

    pub async fn next(&mut self) -> kube::Result<Change<K>> {
        loop {
            if self.rv.is_empty() {
                return self.relist().await;
            }
            if self.stream.is_none() {
                self.stream = Some(self.api.watch(&self.params, &self.rv).await?.boxed());
            }
            let stream = self.stream.as_mut().expect("opened above");
            match stream.next().await {
                None => self.stream = None,
                Some(Err(e)) => {
                    self.stream = None;
                    if !is_stream_end(&e) {
                        return Err(e);
                    }
                }
                Some(Ok(event)) => match event {
                    WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                        self.advance(&o);
                        return Ok(Change::Applied(o));
                    }
                    WatchEvent::Deleted(o) => {
                        self.advance(&o);
                        return Ok(Change::Deleted(o));
                    }
                    WatchEvent::Bookmark(b) => self.rv = b.metadata.resource_version,
                    WatchEvent::Error(status) if status.code == 410 => {
                        self.stream = None;
                        return self.relist().await;
                    }
                    WatchEvent::Error(status) => return Err(kube::Error::Api(status)),
                },
            }
        }
    }

    fn advance(&mut self, o: &K) {
        if let Some(rv) = o.meta().resource_version.clone() {
            self.rv = rv;
        }
    }

    async fn relist(&mut self) -> kube::Result<Change<K>> {
        let lp = ListParams {
            label_selector: self.params.label_selector.clone(),
            field_selector: self.params.field_selector.clone(),
            ..ListParams::default()
        };
        let list = self.api.list(&lp).await?;
        self.rv = list.metadata.resource_version.unwrap_or_default();
        Ok(Change::Relisted(list.items))
    }
}

/// A watch body that ended mid-stream (connection dropped): reopen rather than fail.
fn is_stream_end(e: &kube::Error) -> bool {
    matches!(e, kube::Error::ReadEvents(_) | kube::Error::HyperError(_) | kube::Error::Service(_))
}
