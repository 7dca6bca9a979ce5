//! The one Node workloads run on, as a kubelet registers it
//! (pkg/kubelet/kubelet_node_status.go, nodestatus/setters.go): labels, pod CIDR, addresses,
//! capacity, the four conditions with the kubelet's reasons and messages, node info.

use serde_json::json;

use super::helpers::{opts, rid};
use super::state::{Pass, State};
use crate::registry::Cluster;

/// The node's name (`kubernetes.io/hostname`).
pub const NODE: &str = "kube-sim-node";
/// The node's InternalIP (pods' `hostIP`).
pub const NODE_IP: &str = "172.18.0.2";

pub fn ensure(cluster: &mut Cluster, state: &State, pass: &mut Pass) {
    let nodes = rid("", "nodes");
    if cluster.get(nodes, "", NODE).is_ok() {
        return;
    }
    let now = crate::model::util::now_rfc3339();
    let cidr = state.config.pod_cidr.clone();
    let condition = |kind: &str, status: &str, reason: &str, message: &str| json!({ "type": kind, "status": status, "lastHeartbeatTime": now, "lastTransitionTime": now, "reason": reason, "message": message });
    let capacity = json!({ "cpu": "8", "ephemeral-storage": "102400000Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "16384000Ki", "pods": "110" });
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": NODE,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": NODE,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": ""
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"
            }
        },
        "spec": { "podCIDR": cidr, "podCIDRs": [cidr] },
        "status": {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
            ],
            "addresses": [{ "type": "InternalIP", "address": NODE_IP }, { "type": "Hostname", "address": NODE }],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
            "nodeInfo": {
                "machineID": "6c6f63616c6b7562652d73696d2d6e6f",
                "systemUUID": "6c6f6361-6c6b-7562-652d-73696d2d6e6f",
                "bootID": "0d3c7a36-8a1b-4a64-9a2f-1c6f0b2d4e5a",
                "kernelVersion": "6.8.0-kube-sim",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://2.1.1",
                "kubeletVersion": state.kubelet_version,
                "operatingSystem": "linux",
                "architecture": "amd64"
            }
        }
    });
    pass.changed |= cluster.create(nodes, "", node, &opts("kubelet")).is_ok();
}
