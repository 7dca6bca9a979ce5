//! The "kubelet and controllers" mode: what a cluster's scheduler, kubelet and
//! kube-controller-manager do to workloads, so that objects come alive as in a real cluster.
//!
//! - `node`: one Node, Ready, with a pod CIDR;
//! - `volumes`: PVCs bound (to a PersistentVolume the simulator does not serve) and the
//!   `kubernetes.io/pvc-protection` finalizer (pkg/controller/volume/{persistentvolume,pvcprotection});
//! - `statefulset`, `deployment`: pkg/controller/{statefulset,deployment,replicaset};
//! - `kubelet`: the default scheduler binding pods, and the kubelet running them through
//!   their phases with the real status and events, graceful deletion, and the test holds;
//! - `endpoints`: pkg/controller/{endpoint,endpointslice}.
//!
//! Each pass reads the store and writes what differs, through the same pipeline as API
//! requests (defaults, validation, managedFields under each component's field manager, watch
//! events). The simulator runs passes after every write and when a timed step is due.

mod deployment;
mod endpoints;
mod events;
mod helpers;
mod kubelet;
mod node;
mod state;
mod statefulset;
mod volumes;

pub use state::{Pass, PodHold, PodMatch, State, Workloads};

use crate::registry::Cluster;

/// One pass of every workload component.
pub fn reconcile(cluster: &mut Cluster, state: &mut State) -> Pass {
    let mut pass = Pass::default();
    if !state.runs_controllers() {
        return pass;
    }
    let kubelet = state.runs_kubelet();
    if kubelet {
        node::ensure(cluster, state, &mut pass);
    }
    // A control plane alone binds no claims: k3s in a vcluster runs without the
    // persistentvolume-binder controller (the syncer writes the claims' status).
    volumes::reconcile(cluster, &mut pass, kubelet);
    statefulset::reconcile(cluster, &mut pass);
    deployment::reconcile(cluster, &mut pass);
    if kubelet {
        kubelet::reconcile(cluster, state, &mut pass);
    }
    endpoints::reconcile(cluster, &mut state.endpoints, &mut pass);
    pass
}
