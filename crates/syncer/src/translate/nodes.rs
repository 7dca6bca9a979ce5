//! Fake nodes (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/nodes/fake_syncer.go`
//! `CreateFakeNode`): a virtual Node named after the host node a synced pod runs on, so the
//! virtual pod can be bound to it; deleted when no virtual pod (other than DaemonSet pods) is
//! assigned to it any more.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeCondition, NodeDaemonEndpoints, NodeStatus, NodeSystemInfo, Pod,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::map;

/// Label of fake nodes.
pub const FAKE_NODE_LABEL: &str = "vcluster.loft.sh/fake-node";
/// The kubelet port fake nodes advertise (`nodeservice.KubeletPort`).
pub const KUBELET_PORT: i32 = 10250;

/// The fake node `name` (metadata only: the status is written through `/status`).
pub fn fake_node(name: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(map([
                (FAKE_NODE_LABEL, "true"),
                ("beta.kubernetes.io/arch", "amd64"),
                ("beta.kubernetes.io/os", "linux"),
                ("kubernetes.io/arch", "amd64"),
                ("kubernetes.io/hostname", &format!("fake-{name}")),
                ("kubernetes.io/os", "linux"),
            ])),
            annotations: Some(map([
                ("node.alpha.kubernetes.io/ttl", "0"),
                ("volumes.kubernetes.io/controller-managed-attach-detach", "false"),
            ])),
            ..ObjectMeta::default()
        },
        spec: None,
        status: None,
    }
}

/// The status of a fake node: fixed capacity, Ready, `version` as kubelet version (the virtual
/// cluster's), `ids` as boot/machine/system ids, `now` as heartbeat. The InternalIP of a fake
/// kubelet (`--fake-kubelet-ips`, a host Service per node) is part 2: `address` is left out
/// when `None`.
pub fn fake_node_status(version: &str, ids: [String; 3], now: Time, address: Option<&str>) -> NodeStatus {
    let resources: BTreeMap<String, Quantity> = [
        ("cpu", "16"),
        ("memory", "32Gi"),
        ("ephemeral-storage", "100Gi"),
        ("hugepages-1Gi", "0"),
        ("hugepages-2Mi", "0"),
        ("pods", "110"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
    .collect();
    let condition = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_heartbeat_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    };
    let [boot, machine, system] = ids;
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        conditions: Some(vec![
            condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ]),
        addresses: address.map(|a| {
            vec![k8s_openapi::api::core::v1::NodeAddress { address: a.to_owned(), type_: "InternalIP".into() }]
        }),
        daemon_endpoints: Some(NodeDaemonEndpoints { kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }) }),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".into(),
            boot_id: boot,
            container_runtime_version: "docker://19.3.12".into(),
            kernel_version: "4.19.76-fakelinux".into(),
            kube_proxy_version: version.into(),
            kubelet_version: version.into(),
            machine_id: machine,
            system_uuid: system,
            operating_system: "linux".into(),
            os_image: "Fake Kubernetes Image".into(),
            ..NodeSystemInfo::default()
        }),
        images: Some(Vec::new()),
        ..NodeStatus::default()
    }
}

/// Whether a fake node is ours to manage (never touch a node someone else created).
pub fn is_fake(node: &Node) -> bool {
    node.metadata.labels.as_ref().and_then(|l| l.get(FAKE_NODE_LABEL)).is_some_and(|v| v == "true")
}

/// Whether a virtual pod keeps its node alive: assigned to it and not a DaemonSet pod
/// (`nodeNeeded` with `filterOutDaemonSets`).
pub fn keeps_node_alive(pod: &Pod) -> Option<&str> {
    let node = pod.spec.as_ref()?.node_name.as_deref().filter(|n| !n.is_empty())?;
    let daemon =
        pod.metadata.owner_references.iter().flatten().any(|o| o.api_version == "apps/v1" && o.kind == "DaemonSet");
    (!daemon).then_some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_node_looks_like_upstreams() {
        let n = fake_node("worker-1");
        assert!(is_fake(&n));
        assert_eq!(n.metadata.labels.unwrap()["kubernetes.io/hostname"], "fake-worker-1");
        let s = fake_node_status("v1.27.3+k3s1", ["a".into(), "b".into(), "c".into()], Time(jiff_now()), None);
        assert_eq!(s.node_info.unwrap().kubelet_version, "v1.27.3+k3s1");
        assert_eq!(s.capacity.unwrap()["pods"], Quantity("110".into()));
        assert_eq!(s.conditions.unwrap()[3].status, "True");
    }

    fn jiff_now() -> k8s_openapi::jiff::Timestamp {
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH
    }
}
