//! The host cluster as `create`, `delete`, `pause`, `resume` and `connect` use it: objects of any
//! kind (the built-in table, else discovery, cached), read, server-side applied and deleted with a
//! uid precondition; the namespace; Warning events. Every error is classified by
//! [`Connection::error`], so it names the context and the server.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{
    DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
    WatchParams,
};
use kube::discovery::ApiResource;
use kube::{Api, Resource};
use serde_json::{Value, json};

use super::connection::Connection;
use super::error::{ClusterError, HostError};
use super::objects::{ObjectKey, ScopedResource, known_resource};
use super::watch::{Change, Follow};
use crate::interrupt::Interrupt;
use crate::render::Manifest;

/// Live objects looked up at the same time.
const LOOKUP_CONCURRENCY: usize = 8;

/// The annotation the established CLI puts on namespaces it creates, so `delete` knows it may
/// remove them. (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/create.go`)
pub(crate) const CREATED_ANNOTATION: &str = "vcluster.loft.sh/created";

/// The field manager of every write this tool makes (server-side apply and creates).
pub(crate) const FIELD_MANAGER: &str = "vcluster";

/// A [`Connection`] and what requests by kind need: the API resources found by discovery.
pub(crate) struct Host {
    pub(crate) connection: Connection,
    resources: Mutex<HashMap<(String, String), Option<ScopedResource>>>,
}

/// What the namespace is like.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NamespaceState {
    Missing,
    Exists(Box<Namespace>),
    /// Being deleted: wait until it is gone.
    Terminating(Box<Namespace>),
    /// Not readable (forbidden): assumed to exist, as the established CLI assumes.
    Unknown,
}

impl NamespaceState {
    /// The namespace as read, when it could be.
    pub(crate) fn object(&self) -> Option<&Namespace> {
        match self {
            NamespaceState::Exists(ns) | NamespaceState::Terminating(ns) => Some(ns),
            NamespaceState::Missing | NamespaceState::Unknown => None,
        }
    }
}

/// What creating the namespace did.
#[derive(Debug)]
pub(crate) enum Creation {
    Created,
    /// 409: it exists (perhaps terminating).
    Exists,
    /// 403: not allowed; it may exist all the same.
    Forbidden(ClusterError),
}

impl Host {
    pub(crate) fn new(connection: Connection) -> Host {
        Host { connection, resources: Mutex::new(HashMap::new()) }
    }

    fn err(&self, e: kube::Error) -> HostError {
        HostError::Cluster(self.connection.error(e))
    }

    /// `gitVersion` of the API server (`v1.33.1`).
    pub(crate) async fn version(&self) -> Result<String, HostError> {
        Ok(self.connection.client.apiserver_version().await.map_err(|e| self.err(e))?.git_version)
    }

    /// The API resource of a kind: from the built-in table, else by discovery (cached); `None`
    /// when the cluster does not serve it (a kind an old release had, since removed).
    pub(crate) async fn served(&self, api_version: &str, kind: &str) -> Result<Option<ScopedResource>, HostError> {
        if let Some(known) = known_resource(api_version, kind) {
            return Ok(Some(known));
        }
        let cache_key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.resources.lock().expect("resource cache").get(&cache_key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        let found = match kube::discovery::pinned_kind(&self.connection.client, &gvk).await {
            Ok((resource, caps)) => Some((resource, caps.scope == kube::discovery::Scope::Namespaced)),
            Err(kube::Error::Discovery(_)) => None,
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(e) => return Err(self.err(e)),
        };
        self.resources.lock().expect("resource cache").insert(cache_key, found.clone());
        Ok(found)
    }

    /// [`Host::served`], where a kind that is not served is an error naming it.
    pub(crate) async fn resource(&self, api_version: &str, kind: &str) -> Result<ScopedResource, HostError> {
        self.served(api_version, kind)
            .await?
            .ok_or_else(|| HostError::NotServed { api_version: api_version.to_owned(), kind: kind.to_owned() })
    }

    async fn dynamic(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, HostError> {
        let (resource, namespaced) = self.resource(api_version, kind).await?;
        Ok(self.api_for(&resource, namespaced, namespace))
    }

    fn api_for(&self, resource: &ApiResource, namespaced: bool, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| namespaced) {
            Some(ns) => Api::namespaced_with(self.connection.client.clone(), ns, resource),
            None => Api::all_with(self.connection.client.clone(), resource),
        }
    }

    /// The live object, if it exists (an object of a kind the cluster does not serve does not).
    pub(crate) async fn get(&self, m: &Manifest) -> Result<Option<Value>, HostError> {
        let Some((resource, namespaced)) = self.served(&m.api_version, &m.kind).await? else { return Ok(None) };
        let api = self.api_for(&resource, namespaced, m.namespace.as_deref());
        match api.get_opt(&m.name).await.map_err(|e| self.err(e))? {
            Some(obj) => Ok(Some(to_value(&obj))),
            None => Ok(None),
        }
    }

    /// The live objects among `manifests` (each looked up once, several at a time); a key
    /// missing from the answer does not exist.
    pub(crate) async fn get_all<'m>(
        &self,
        manifests: impl Iterator<Item = &'m Manifest>,
        interrupt: &Interrupt,
    ) -> Result<BTreeMap<ObjectKey, Value>, HostError> {
        let mut seen = BTreeSet::new();
        let wanted: Vec<&Manifest> = manifests.filter(|m| seen.insert(ObjectKey::of(m))).collect();
        let found: Vec<Result<(ObjectKey, Option<Value>), HostError>> = futures::stream::iter(wanted)
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
    /// [`HostError::Conflict`].
    pub(crate) async fn apply(&self, m: &Manifest, force: bool, dry_run: bool) -> Result<Value, HostError> {
        let api = self.dynamic(&m.api_version, &m.kind, m.namespace.as_deref()).await?;
        let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
        params.force = force;
        params.dry_run = dry_run;
        match api.patch(&m.name, &params, &Patch::Apply(&m.object)).await {
            Ok(obj) => Ok(to_value(&obj)),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Err(HostError::Conflict { object: ObjectKey::of(m).to_string(), message: status.message.clone() })
            }
            Err(e) => Err(HostError::Apply {
                object: ObjectKey::of(m).to_string(),
                source: Box::new(self.connection.error(e)),
            }),
        }
    }

    /// Replace an object's managedFields (taking over Helm's fields), if it is still at
    /// `resource_version`. (client-go `util/csaupgrade` sends the same JSON patch)
    pub(crate) async fn replace_managed_fields(
        &self,
        m: &Manifest,
        resource_version: &str,
        fields: &[Value],
    ) -> Result<(), HostError> {
        let api = self.dynamic(&m.api_version, &m.kind, m.namespace.as_deref()).await?;
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "replace", "path": "/metadata/managedFields", "value": fields},
        ]))
        .expect("a valid JSON patch");
        let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
        api.patch(&m.name, &params, &Patch::Json::<()>(patch)).await.map_err(|e| HostError::Apply {
            object: ObjectKey::of(m).to_string(),
            source: Box::new(self.connection.error(e)),
        })?;
        Ok(())
    }

    /// Delete an object only if it is still the one with `uid`; `false` when it is gone or has
    /// been replaced by another object of the same name.
    pub(crate) async fn delete(&self, key: &ObjectKey, api_version: &str, uid: &str) -> Result<bool, HostError> {
        let api = self.dynamic(api_version, &key.kind, key.namespace.as_deref()).await?;
        let dp = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match api.delete(&key.name, &dp).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(false),
            Err(e) => Err(HostError::Delete { object: key.to_string(), source: Box::new(self.connection.error(e)) }),
        }
    }

    pub(crate) async fn namespace_state(&self, name: &str) -> Result<NamespaceState, HostError> {
        let api: Api<Namespace> = Api::all(self.connection.client.clone());
        match api.get_opt(name).await {
            Ok(None) => Ok(NamespaceState::Missing),
            Ok(Some(ns)) if ns.metadata.deletion_timestamp.is_some() => Ok(NamespaceState::Terminating(Box::new(ns))),
            Ok(Some(ns)) => Ok(NamespaceState::Exists(Box::new(ns))),
            Err(kube::Error::Api(status)) if status.code == 403 => Ok(NamespaceState::Unknown),
            Err(e) => Err(self.err(e)),
        }
    }

    /// The names of every namespace (one metadata-only LIST), sorted.
    pub(crate) async fn namespace_names(&self) -> Result<Vec<String>, HostError> {
        let api: Api<Namespace> = Api::all(self.connection.client.clone());
        let list = api.list_metadata(&ListParams::default()).await.map_err(|e| self.err(e))?;
        let mut names: Vec<String> = list.items.into_iter().filter_map(|ns| ns.metadata.name).collect();
        names.sort();
        Ok(names)
    }

    /// Create the namespace, annotated as created by this tool.
    pub(crate) async fn create_namespace(&self, name: &str) -> Result<Creation, HostError> {
        let api: Api<Namespace> = Api::all(self.connection.client.clone());
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {CREATED_ANNOTATION: "true"}}
        }))
        .expect("a valid Namespace");
        let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
        match api.create(&pp, &ns).await {
            Ok(_) => Ok(Creation::Created),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(Creation::Exists),
            Err(kube::Error::Api(status)) if status.code == 403 => {
                Ok(Creation::Forbidden(self.connection.error(kube::Error::Api(status))))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// Wait (watching) until a terminating namespace is gone.
    pub(crate) async fn namespace_gone(&self, terminating: &Namespace) -> Result<(), HostError> {
        let api: Api<Namespace> = Api::all(self.connection.client.clone());
        let name = terminating.metadata.name.clone().unwrap_or_default();
        let rv = terminating.metadata.resource_version.clone().unwrap_or_default();
        self.gone(api, &name, rv).await
    }

    /// Wait (watching from `rv`) until the object `name` that `api` serves is deleted.
    async fn gone<K>(&self, api: Api<K>, name: &str, rv: String) -> Result<(), HostError>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    {
        let mut follow = Follow::new(api, WatchParams::default().fields(&format!("metadata.name={name}")), rv);
        loop {
            match follow.next().await.map_err(|e| self.err(e))? {
                Change::Deleted(_) => return Ok(()),
                Change::Relisted(items) if items.is_empty() => return Ok(()),
                _ => {}
            }
        }
    }

    /// Delete a StatefulSet (if it is still the one with `uid`) leaving its pods and claims in
    /// place (`propagationPolicy: Orphan`), and wait (watching) until it is gone, so that it can be
    /// created again with fields an update may not change.
    pub(crate) async fn delete_statefulset_orphaning(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
    ) -> Result<(), HostError> {
        use k8s_openapi::api::apps::v1::StatefulSet;
        let api: Api<StatefulSet> = self.api(namespace);
        let dp = DeleteParams {
            preconditions: Some(Preconditions { uid: Some(uid.to_owned()), resource_version: None }),
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..DeleteParams::default()
        };
        let object = format!("StatefulSet/{name}");
        match api.delete(name, &dp).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(()),
            Err(e) => return Err(HostError::Delete { object, source: Box::new(self.connection.error(e)) }),
        }
        let listed = api.list(&kube::api::ListParams::default().fields(&format!("metadata.name={name}"))).await;
        let listed = listed.map_err(|e| self.err(e))?;
        if listed.items.is_empty() {
            return Ok(());
        }
        self.gone(api, name, listed.metadata.resource_version.unwrap_or_default()).await
    }

    /// The latest Warning events of an object (newest last, at most `limit`).
    pub(crate) async fn warnings(
        &self,
        namespace: &str,
        name: &str,
        limit: usize,
    ) -> Result<Vec<String>, ClusterError> {
        let api: Api<Event> = Api::namespaced(self.connection.client.clone(), namespace);
        let lp = ListParams::default().fields(&format!("involvedObject.name={name},type=Warning"));
        let mut events = api.list(&lp).await.map_err(|e| self.connection.error(e))?.items;
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
    pub(crate) fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.connection.client.clone(), namespace)
    }
}

fn to_value(obj: &DynamicObject) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}
