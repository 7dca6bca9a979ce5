//! What the delete, list and pause tests share: an inventory of the stored objects, and a
//! runtime for talking to the simulator directly.

use std::collections::BTreeMap;

use kube_sim::Simulator;
use serde_json::Value;

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
