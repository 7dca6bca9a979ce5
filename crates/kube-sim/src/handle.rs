//! [`SimHandle`]: what software running beside a simulator (the fixtures in
//! [`crate::fixtures`], or a test's own stand-ins) uses to read and write objects the way the
//! cluster's own components do — through the write pipeline, without a request, so the
//! request log keeps holding only clients' requests.

use std::sync::{Arc, Weak};

use serde_json::Value;
use tokio::sync::broadcast;

use crate::controllers::workloads::Workloads;
use crate::error::SimError;
use crate::model::jsonpath;
use crate::model::options::{FieldValidation, Sub, WriteOpts};
use crate::model::resources;
use crate::registry::store::Event;
use crate::shared::Shared;

/// A cloneable handle on a running simulator; every call fails or returns nothing once the
/// simulator has stopped. Get one with [`Simulator::handle`](crate::Simulator::handle).
#[derive(Clone)]
pub struct SimHandle {
    pub(crate) shared: Weak<Shared>,
}

/// Store changes as they happen (see [`SimHandle::changes`]).
pub struct Changes(broadcast::Receiver<Arc<Event>>);

impl Changes {
    /// Wait for the next change (or changes: a burst may be reported once). False once the
    /// simulator has stopped.
    pub async fn next(&mut self) -> bool {
        match self.0.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => true,
            Err(broadcast::error::RecvError::Closed) => false,
        }
    }
}

impl SimHandle {
    fn shared(&self) -> Result<Arc<Shared>, SimError> {
        self.shared.upgrade().ok_or_else(|| SimError::Control("the simulator has stopped".into()))
    }

    /// One stored object (namespace "" for cluster-scoped kinds).
    pub fn object(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let res = resources::find_kind(api_version, kind)?;
        self.shared().ok()?.lock().get(res, namespace, name).ok().map(|o| (*o).clone())
    }

    /// The stored objects of one kind (`apps/v1`, `StatefulSet`), in every namespace.
    pub fn objects(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let (Some(res), Ok(shared)) = (resources::find_kind(api_version, kind), self.shared()) else {
            return Vec::new();
        };
        shared.lock().store.list(res, None).map(|(_, v)| (**v).clone()).collect()
    }

    /// Create `object` (apiVersion, kind, metadata.namespace and name set), or replace the
    /// stored one of that name, as field manager `manager` (strict field validation; no
    /// resourceVersion check). Returns the stored object.
    pub fn write_object(&self, manager: &str, mut object: Value) -> Result<Value, SimError> {
        let api_version = jsonpath::get_str(&object, &["apiVersion"]).unwrap_or_default().to_string();
        let kind = jsonpath::get_str(&object, &["kind"]).unwrap_or_default().to_string();
        let res = resources::find_kind(&api_version, &kind)
            .ok_or_else(|| SimError::Control(format!("kind {api_version}/{kind} is not served by kube-sim")))?;
        let (namespace, name) = (jsonpath::namespace(&object).to_string(), jsonpath::name(&object).to_string());
        jsonpath::object_at(&mut object, &["metadata"]).remove("resourceVersion");
        let opts = WriteOpts { dry_run: false, manager: manager.into(), validation: FieldValidation::Strict };
        let shared = self.shared()?;
        let mut cluster = shared.lock();
        let written = match cluster.get(res, &namespace, &name) {
            Ok(_) => cluster.update(res, &namespace, &name, object, Sub::Main, &opts),
            Err(_) => cluster.create(res, &namespace, object, &opts),
        }
        .map_err(|e| SimError::Control(e.message))?;
        drop(cluster);
        shared.controllers.notify_one();
        Ok(written.object)
    }

    /// Every change to the stored objects from now on.
    pub fn changes(&self) -> Result<Changes, SimError> {
        Ok(Changes(self.shared()?.lock().store.subscribe()))
    }

    /// The workload mode as configured now.
    pub fn workloads(&self) -> Result<Workloads, SimError> {
        Ok(self.shared()?.lock_workloads().config.clone())
    }

    /// Port-forwards to `port` of the pod `namespace/pod` reach `address` (see
    /// [`Simulator::forward_port`](crate::Simulator::forward_port)).
    pub fn forward_port(&self, namespace: &str, pod: &str, port: u16, address: &str) {
        if let Ok(shared) = self.shared() {
            let mut forwards = shared.forwards.lock().unwrap_or_else(|p| p.into_inner());
            forwards.insert((namespace.into(), pod.into(), port), address.into());
        }
    }
}
