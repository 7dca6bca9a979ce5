//! The state every connection, controller and test control shares: the cluster, the
//! workload mode's state, the request log, authentication, faults, TLS and the signals that
//! end watches and connections.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::api::openapi::OpenApi;
use crate::auth::tls::Pki;
use crate::auth::{Auth, Presented, UserInfo};
use crate::controllers::workloads;
use crate::http::faults::Faults;
use crate::model::jsonpath;
use crate::model::resources;
use crate::model::status::ApiResult;
use crate::registry::Cluster;

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
    /// The authenticated user ("" when authentication failed).
    pub user: String,
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
}
