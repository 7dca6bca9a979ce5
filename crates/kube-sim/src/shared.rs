//! The state every connection, controller and test control shares: the cluster, the
//! workload mode's state, the request log, authentication, faults, TLS and the signals that
//! end watches and connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::api::openapi::OpenApi;
use crate::auth::rbac::RbacObjects;
use crate::auth::tls::Pki;
use crate::auth::{Auth, Presented, UserInfo};
use crate::controllers::workloads;
use crate::http::faults::Faults;
use crate::model::jsonpath;
use crate::model::resources;
use crate::model::status::ApiResult;
use crate::registry::Cluster;
use serde_json::Value;

/// One request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The raw query string (without `?`).
    pub query: String,
    pub user_agent: String,
    pub status: u16,
    /// The request carried `dryRun` (it persisted nothing).
    pub dry_run: bool,
    /// The user the request ran as: the authenticated user, or the one it impersonated ("" when
    /// authentication failed; the requester when its impersonation was refused).
    pub user: String,
    /// The authenticated user when the request impersonated another ("" otherwise).
    pub impersonator: String,
}

impl RequestRecord {
    /// A write that could change state: POST, PUT, PATCH or DELETE without dryRun.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") && !self.dry_run
    }
}

/// State shared by every connection.
pub struct Shared {
    pub cluster: Mutex<Cluster>,
    /// The workload mode's state (lock it after `cluster` when both are needed).
    pub workloads: Mutex<workloads::State>,
    pub requests: Mutex<Vec<RequestRecord>>,
    /// Wakes the controllers (garbage collector, namespace controller, workloads) after a write.
    pub controllers: Notify,
    pub openapi: OpenApi,
    pub git_version: String,
    pub server_address: Mutex<String>,
    /// Bumped to end every open watch (test control), and at shutdown.
    pub watch_epoch: watch::Sender<u64>,
    /// While true, open watches deliver nothing (test control).
    pub watch_stall: watch::Sender<bool>,
    /// Bumped to end every open connection (the simulator stops listening).
    pub connection_epoch: watch::Sender<u64>,
    pub bookmark_interval: Duration,
    pub auth: Auth,
    pub faults: Faults,
    pub pki: Option<Pki>,
    /// Where pod ports are port-forwarded to: (namespace, pod, port) → `host:port`.
    pub forwards: Mutex<HashMap<(String, String, u16), String>>,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// kube-apiserver's WatchList feature gate at this version (staging/src/k8s.io/apiserver/pkg/
    /// features/kube_features.go): Alpha and off from 1.27, Beta and on in 1.32, off again in
    /// 1.33 ("the json and proto streaming encoders appear to work better").
    pub fn watch_list_enabled(&self) -> bool {
        self.git_version.trim_start_matches('v').split('.').nth(1) == Some("32")
    }

    pub fn lock_workloads(&self) -> MutexGuard<'_, workloads::State> {
        self.workloads.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn authenticate(&self, certificate: Option<&UserInfo>, authorization: &str) -> ApiResult<UserInfo> {
        let sa = resources::find("", "v1", "serviceaccounts").expect("served");
        self.auth.authenticate(&Presented { certificate, authorization }, |ns, name| {
            self.lock().get(sa, ns, name).ok().map(|o| jsonpath::uid(&o).to_string())
        })
    }

    /// Run `f` with the stored RBAC objects when RBAC is on (the cluster locked meanwhile),
    /// with None otherwise.
    pub fn with_rbac<T>(&self, f: impl FnOnce(Option<&dyn RbacObjects>) -> T) -> T {
        if self.auth.rbac() {
            let cluster = self.lock();
            f(Some(&ClusterRbac(&cluster)))
        } else {
            f(None)
        }
    }
}

/// The RBAC authorizer's view of the store (kube-apiserver reads informers' caches).
struct ClusterRbac<'a>(&'a Cluster);

impl ClusterRbac<'_> {
    fn all(&self, plural: &str, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let res = resources::find("rbac.authorization.k8s.io", "v1", plural).expect("served");
        self.0.store.list(res, namespace).map(|(_, v)| v.clone()).collect()
    }

    fn one(&self, plural: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let res = resources::find("rbac.authorization.k8s.io", "v1", plural).expect("served");
        self.0.get(res, namespace, name).ok()
    }
}

impl RbacObjects for ClusterRbac<'_> {
    fn cluster_role_bindings(&self) -> Vec<Arc<Value>> {
        self.all("clusterrolebindings", None)
    }

    fn role_bindings(&self, namespace: &str) -> Vec<Arc<Value>> {
        self.all("rolebindings", Some(namespace))
    }

    fn cluster_role(&self, name: &str) -> Option<Arc<Value>> {
        self.one("clusterroles", "", name)
    }

    fn role(&self, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.one("roles", namespace, name)
    }
}
