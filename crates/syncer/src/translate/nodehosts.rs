//! The `NodeHosts` key of the virtual ConfigMap `kube-system/coredns` (loft-sh/vcluster v0.15.7
//! `pkg/controllers/coredns/nodehosts.go` `compileNodeHosts`): one `<InternalIP> <hostname>`
//! line per virtual node, sorted, joined by newlines. CoreDNS's `hosts` plugin serves it, so
//! node names resolve inside the virtual cluster.
//!
//! The hostname is the node's `Hostname` address, else its name. A node without an
//! `InternalIP` is left out: upstream writes ` <hostname>` for it, a line the `hosts` plugin
//! cannot parse (our fake nodes have no address until the fake kubelet Services exist).

use k8s_openapi::api::core::v1::Node;

/// The `NodeHosts` value for `nodes`.
pub fn node_hosts<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> String {
    let mut lines: Vec<String> = nodes
        .into_iter()
        .filter_map(|node| {
            let addresses = node.status.as_ref().and_then(|s| s.addresses.as_ref());
            let mut ip = None;
            let mut hostname = node.metadata.name.clone().unwrap_or_default();
            // The last address of each type wins, as in upstream's loop.
            for a in addresses.into_iter().flatten() {
                match a.type_.as_str() {
                    "InternalIP" => ip = Some(a.address.clone()),
                    "Hostname" => hostname = a.address.clone(),
                    _ => {}
                }
            }
            let ip = ip.filter(|ip| !ip.is_empty())?;
            Some(format!("{ip} {hostname}"))
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeAddress, NodeStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(name: &str, addresses: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
            status: Some(NodeStatus {
                addresses: Some(
                    addresses.iter().map(|(t, a)| NodeAddress { type_: (*t).into(), address: (*a).into() }).collect(),
                ),
                ..NodeStatus::default()
            }),
            spec: None,
        }
    }

    #[test]
    fn sorted_lines_of_internal_ip_and_hostname() {
        let nodes = [
            node("worker-b", &[("InternalIP", "10.0.0.3"), ("Hostname", "worker-b.local")]),
            node("worker-a", &[("ExternalIP", "203.0.113.1"), ("InternalIP", "10.0.0.2")]),
            node("fake-no-ip", &[]),
            node("v6", &[("InternalIP", "fd00::4")]),
        ];
        assert_eq!(node_hosts(&nodes), "10.0.0.2 worker-a\n10.0.0.3 worker-b.local\nfd00::4 v6");
        assert_eq!(node_hosts(&[]), "");
    }
}
