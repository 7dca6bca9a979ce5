//! What the delete, list and pause tests share: a host whose workloads come alive (the
//! simulator's kubelet and controllers) with a stand-in syncer writing `vc-<name>`, and an
//! inventory of the stored objects.

use std::collections::BTreeMap;

use kube_sim::fixtures::vcluster::{SyncerOptions, stand_in_for_syncer};
use kube_sim::{SimConfig, Simulator, Workloads};
use serde_json::Value;

use super::cluster::Host;

/// A host cluster whose pods run, and the simulator that plays the virtual clusters' API.
pub struct Living {
    pub host: Host,
    virtual_cluster: Simulator,
}

impl Living {
    pub fn start() -> Living {
        let host = Host::start(SimConfig {
            service_cidrs: vec!["10.100.0.0/16".into()],
            workloads: Workloads { enabled: true, ..Workloads::default() },
            ..SimConfig::default()
        });
        let virtual_cluster = Simulator::start_blocking(SimConfig { tls: true, ..SimConfig::default() }).unwrap();
        Living { host, virtual_cluster }
    }

    /// Stand in for the syncer of vcluster `name` in `namespace`: `vc-<name>` appears once its
    /// pod runs.
    pub fn syncer(&self, namespace: &str, name: &str) {
        stand_in_for_syncer(&self.host.sim, &self.virtual_cluster, namespace, name, &SyncerOptions::default());
    }
}

/// `Kind namespace/name` → resourceVersion of every stored object, without what the cluster's
/// own components keep writing (Events, the Node, Leases).
pub fn inventory(sim: &Simulator) -> BTreeMap<String, String> {
    sim.snapshot()
        .into_iter()
        .filter(|o| !matches!(o["kind"].as_str(), Some("Event" | "Node" | "Lease")))
        .map(|o| (key(&o), o["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

/// `Kind namespace/name` of a stored object.
pub fn key(o: &Value) -> String {
    format!(
        "{} {}/{}",
        o["kind"].as_str().unwrap_or_default(),
        o["metadata"]["namespace"].as_str().unwrap_or_default(),
        o["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// Run a future on a runtime of its own (plain `#[test]`s talking to the simulator directly).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}
