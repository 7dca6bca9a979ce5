//! Endpoints (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/endpoints/{syncer,translate}.go`,
//! `pkg/controllers/k8sdefaultendpoint/`): only the Endpoints of selectorless
//! virtual Services reach the host, with pod `targetRef`s renamed to the host pods; the
//! Endpoints of a Service with a selector are the host's endpoints controller's. The virtual
//! `default/kubernetes` Endpoints (and EndpointSlice) follow the vcluster's host Service's.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort as SlicePort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Context;

/// Disables EndpointSlice mirroring on the host; never copied (upstream deletes it).
pub const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";
/// Label of `default/kubernetes` Endpoints: not mirrored into EndpointSlices
/// (`discovery.LabelSkipMirror`).
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
/// The EndpointSlice label naming its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The API port's name in `default/kubernetes`.
const HTTPS: &str = "https";

/// Whether the virtual Endpoints `namespace/name` belong on the host, given their virtual
/// Service: it exists, has no selector, and is not `default/kubernetes` (`ReconcileStart`).
pub fn synced(namespace: &str, name: &str, service: Option<&Service>) -> bool {
    if namespace == "default" && name == "kubernetes" {
        return false;
    }
    service.is_some_and(|s| s.spec.as_ref().and_then(|spec| spec.selector.as_ref()).is_none())
}

fn translate_addresses(
    ctx: &Context,
    namespace: &str,
    addresses: &Option<Vec<EndpointAddress>>,
) -> Option<Vec<EndpointAddress>> {
    addresses.as_ref().map(|list| {
        list.iter()
            .cloned()
            .map(|mut address| {
                if let Some(target) = address.target_ref.as_mut().filter(|t| t.kind.as_deref() == Some("Pod")) {
                    // A reference without a namespace is to a pod of the Endpoints' namespace.
                    let namespace = target.namespace.clone().filter(|n| !n.is_empty()).unwrap_or(namespace.to_owned());
                    let name = target.name.clone().unwrap_or_default();
                    target.name = Some(ctx.translator.host_name(&namespace, &name));
                    target.namespace = Some(ctx.host_namespace().to_owned());
                    target.uid = None;
                    target.resource_version = None;
                }
                address
            })
            .collect()
    })
}

/// The subsets of Endpoints in `namespace` with pod `targetRef`s pointing at the host pods
/// (`translateSpec`).
pub fn host_subsets(
    ctx: &Context,
    namespace: &str,
    subsets: &Option<Vec<EndpointSubset>>,
) -> Option<Vec<EndpointSubset>> {
    subsets.as_ref().map(|list| {
        list.iter()
            .map(|s| EndpointSubset {
                addresses: translate_addresses(ctx, namespace, &s.addresses),
                not_ready_addresses: translate_addresses(ctx, namespace, &s.not_ready_addresses),
                ports: s.ports.clone(),
            })
            .collect()
    })
}

/// The host Endpoints of a selectorless virtual Service (`translate`).
pub fn to_host(ctx: &Context, v: &Endpoints) -> Endpoints {
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    Endpoints {
        metadata: ctx.host_metadata(&v.metadata, &[LEADER_ANNOTATION]),
        subsets: host_subsets(ctx, namespace, &v.subsets),
    }
}

fn nonempty(subsets: &Option<Vec<EndpointSubset>>) -> &[EndpointSubset] {
    subsets.as_deref().unwrap_or_default()
}

/// The updated host Endpoints, or `None` when subsets and metadata match (`translateUpdate`).
pub fn update(ctx: &Context, v: &Endpoints, h: &Endpoints) -> Option<Endpoints> {
    let subsets = host_subsets(ctx, v.metadata.namespace.as_deref().unwrap_or_default(), &v.subsets);
    let meta = ctx.metadata_update(&v.metadata, &h.metadata, &[LEADER_ANNOTATION]);
    if meta.is_none() && nonempty(&subsets) == nonempty(&h.subsets) {
        return None;
    }
    let mut out = h.clone();
    if let Some((labels, annotations)) = meta {
        out.metadata.labels = Some(labels);
        out.metadata.annotations = Some(annotations);
    }
    out.subsets = subsets;
    Some(out)
}

fn strip_address(mut a: EndpointAddress) -> EndpointAddress {
    a.hostname = None;
    a.node_name = None;
    a.target_ref = None;
    a
}

/// The subsets of the virtual `default/kubernetes` Endpoints: the vcluster's host Service's
/// Endpoints with hostnames, node names and target references cleared, and only the API port,
/// named `https` (v0.15.7 `k8sdefaultendpoint.go`; upstream renames every port `https`, which
/// gives the chart's Service — ports `https` and `kubelet`, both to 8443 — two ports of one
/// name; the `kubelet` port is left out here as `default/kubernetes` leaves it out).
pub fn kubernetes_subsets(host: &Endpoints) -> Vec<EndpointSubset> {
    nonempty(&host.subsets)
        .iter()
        .map(|s| {
            let ports: Vec<EndpointPort> = s.ports.clone().unwrap_or_default();
            let api: Vec<EndpointPort> = match ports.iter().find(|p| p.name.as_deref() == Some(HTTPS)) {
                Some(p) => vec![p.clone()],
                None => ports.into_iter().take(1).map(|p| EndpointPort { name: Some(HTTPS.into()), ..p }).collect(),
            };
            EndpointSubset {
                addresses: s.addresses.clone().map(|a| a.into_iter().map(strip_address).collect()),
                not_ready_addresses: s.not_ready_addresses.clone().map(|a| a.into_iter().map(strip_address).collect()),
                ports: Some(api),
            }
        })
        .collect()
}

/// The virtual `default/kubernetes` Endpoints to write, or `None` when `current` matches.
pub fn kubernetes_endpoints(current: Option<&Endpoints>, host: &Endpoints) -> Option<Endpoints> {
    let subsets = kubernetes_subsets(host);
    let mut out = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: Some("kubernetes".into()),
            namespace: Some("default".into()),
            ..ObjectMeta::default()
        },
        subsets: None,
    });
    let labels = out.metadata.labels.get_or_insert_with(BTreeMap::new);
    let label_missing = labels.get(SKIP_MIRROR_LABEL).map(String::as_str) != Some("true");
    labels.insert(SKIP_MIRROR_LABEL.into(), "true".into());
    if current.is_some() && !label_missing && nonempty(&out.subsets) == subsets.as_slice() {
        return None;
    }
    out.subsets = Some(subsets);
    Some(out)
}

fn is_ipv6(ip: &str) -> bool {
    ip.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_ipv6())
}

/// The virtual `default/kubernetes` EndpointSlice of those Endpoints (v0.15.7
/// `k8sdefaultendpoint/provider.go` `endpointSliceFromEndpoints`: the first subset, one address
/// family, ready and not-ready endpoints).
pub fn kubernetes_slice(subsets: &[EndpointSubset]) -> EndpointSlice {
    let mut slice = EndpointSlice {
        metadata: ObjectMeta {
            name: Some("kubernetes".into()),
            namespace: Some("default".into()),
            labels: Some(BTreeMap::from([(SERVICE_NAME_LABEL.to_string(), "kubernetes".to_string())])),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".into(),
        endpoints: Vec::new(),
        ports: None,
    };
    let Some(subset) = subsets.first() else { return slice };
    slice.ports = Some(
        subset
            .ports
            .iter()
            .flatten()
            .map(|p| SlicePort {
                name: p.name.clone(),
                port: Some(p.port),
                protocol: p.protocol.clone(),
                app_protocol: None,
            })
            .collect(),
    );
    let ready = subset.addresses.clone().unwrap_or_default();
    let not_ready = subset.not_ready_addresses.clone().unwrap_or_default();
    let all: Vec<&EndpointAddress> = ready.iter().chain(not_ready.iter()).collect();
    let v6 = !all.is_empty() && all.iter().all(|a| is_ipv6(&a.ip));
    if v6 {
        slice.address_type = "IPv6".into();
    }
    for (addresses, is_ready) in [(&ready, true), (&not_ready, false)] {
        for a in addresses.iter().filter(|a| is_ipv6(&a.ip) == v6) {
            slice.endpoints.push(Endpoint {
                addresses: vec![a.ip.clone()],
                conditions: Some(EndpointConditions { ready: Some(is_ready), serving: None, terminating: None }),
                ..Endpoint::default()
            });
        }
    }
    slice
}

/// The slice to write over `current`, or `None` when it matches.
pub fn kubernetes_slice_update(current: Option<&EndpointSlice>, wanted: EndpointSlice) -> Option<EndpointSlice> {
    match current {
        None => Some(wanted),
        Some(c) => {
            let same = c.address_type == wanted.address_type
                && c.endpoints == wanted.endpoints
                && c.ports.as_deref().unwrap_or_default() == wanted.ports.as_deref().unwrap_or_default()
                && c.metadata.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)).map(String::as_str)
                    == Some("kubernetes");
            if same {
                return None;
            }
            let mut out = c.clone();
            let labels = out.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.insert(SERVICE_NAME_LABEL.into(), "kubernetes".into());
            out.address_type = wanted.address_type;
            out.endpoints = wanted.endpoints;
            out.ports = wanted.ports;
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    //! Upstream's endpoints cases (v0.15.7 pkg/controllers/resources/endpoints/syncer_test.go: forward create, forward update, don't sync
    //! default/kubernetes) and the default endpoint's.
    use super::*;
    use crate::translate::map;
    use crate::translate::testing::{ctx, meta};
    use k8s_openapi::api::core::v1::{ObjectReference, ServiceSpec};

    fn address(ip: &str, pod: &str) -> EndpointAddress {
        EndpointAddress {
            ip: ip.into(),
            hostname: Some("h".into()),
            node_name: Some("node-1".into()),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".into()),
                name: Some(pod.into()),
                namespace: Some("default".into()),
                uid: Some("pod-uid".into()),
                resource_version: Some("12".into()),
                ..ObjectReference::default()
            }),
        }
    }

    fn virtual_endpoints() -> Endpoints {
        let mut metadata = meta("default", "db");
        metadata.annotations = Some(map([(LEADER_ANNOTATION, "{}"), ("keep", "1")]));
        Endpoints {
            metadata,
            subsets: Some(vec![EndpointSubset {
                addresses: Some(vec![address("10.244.0.5", "db-0")]),
                not_ready_addresses: Some(vec![EndpointAddress {
                    ip: "192.0.2.9".into(),
                    ..EndpointAddress::default()
                }]),
                ports: Some(vec![EndpointPort { name: Some("pg".into()), port: 5432, ..EndpointPort::default() }]),
            }]),
        }
    }

    #[test]
    fn forward_create() {
        let h = to_host(&ctx(), &virtual_endpoints());
        assert_eq!(h.metadata.name.as_deref(), Some("db-x-default-x-vcluster"));
        let annotations = h.metadata.annotations.unwrap();
        assert!(!annotations.contains_key(LEADER_ANNOTATION));
        assert_eq!(annotations["keep"], "1");
        let subset = &h.subsets.unwrap()[0];
        let target = subset.addresses.as_ref().unwrap()[0].target_ref.clone().unwrap();
        assert_eq!(target.name.as_deref(), Some("db-0-x-default-x-vcluster"));
        assert_eq!(target.namespace.as_deref(), Some("test"));
        assert_eq!((target.uid, target.resource_version), (None, None));
        // Non-pod addresses and the other fields stay.
        assert_eq!(subset.addresses.as_ref().unwrap()[0].node_name.as_deref(), Some("node-1"));
        assert_eq!(subset.not_ready_addresses.as_ref().unwrap()[0].ip, "192.0.2.9");
        assert_eq!(subset.ports.as_ref().unwrap()[0].port, 5432);
    }

    #[test]
    fn forward_update() {
        let c = ctx();
        let v = virtual_endpoints();
        let h = to_host(&c, &v);
        assert_eq!(update(&c, &v, &h), None);
        let mut moved = v.clone();
        moved.subsets.as_mut().unwrap()[0].addresses = Some(vec![address("10.244.0.6", "db-1")]);
        let out = update(&c, &moved, &h).unwrap();
        let target = out.subsets.unwrap()[0].addresses.as_ref().unwrap()[0].target_ref.clone().unwrap();
        assert_eq!(target.name.as_deref(), Some("db-1-x-default-x-vcluster"));
        // Empty and missing subsets are the same.
        let mut empty = v.clone();
        empty.subsets = Some(vec![]);
        let mut host_empty = h.clone();
        host_empty.subsets = None;
        assert_eq!(update(&c, &empty, &host_empty), None);
    }

    #[test]
    fn dont_sync_default_kubernetes_nor_selector_services() {
        let selectorless = Service { spec: Some(ServiceSpec::default()), ..Service::default() };
        let with_selector = Service {
            spec: Some(ServiceSpec { selector: Some(map([("app", "db")])), ..ServiceSpec::default() }),
            ..Service::default()
        };
        assert!(!synced("default", "kubernetes", Some(&selectorless)));
        assert!(synced("default", "db", Some(&selectorless)));
        assert!(!synced("default", "db", Some(&with_selector)));
        assert!(!synced("default", "db", None));
    }

    fn host_api_endpoints() -> Endpoints {
        Endpoints {
            metadata: meta("vcluster", "vcluster"),
            subsets: Some(vec![EndpointSubset {
                addresses: Some(vec![address("10.244.0.2", "vcluster-0")]),
                not_ready_addresses: None,
                ports: Some(vec![
                    EndpointPort {
                        name: Some("kubelet".into()),
                        port: 8443,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                    EndpointPort {
                        name: Some("https".into()),
                        port: 8443,
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    },
                ]),
            }]),
        }
    }

    #[test]
    fn default_endpoint_follows_the_host_service_endpoints() {
        let wanted = kubernetes_endpoints(None, &host_api_endpoints()).unwrap();
        assert_eq!(wanted.metadata.name.as_deref(), Some("kubernetes"));
        assert_eq!(wanted.metadata.labels.as_ref().unwrap()[SKIP_MIRROR_LABEL], "true");
        let subset = &wanted.subsets.as_ref().unwrap()[0];
        assert_eq!(
            subset.addresses.as_ref().unwrap(),
            &vec![EndpointAddress { ip: "10.244.0.2".into(), ..EndpointAddress::default() }]
        );
        assert_eq!(
            subset.ports.as_ref().unwrap(),
            &vec![EndpointPort {
                name: Some("https".into()),
                port: 8443,
                protocol: Some("TCP".into()),
                ..Default::default()
            }]
        );
        assert_eq!(kubernetes_endpoints(Some(&wanted), &host_api_endpoints()), None);

        let slice = kubernetes_slice(wanted.subsets.as_deref().unwrap());
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(slice.endpoints.len(), 1);
        assert_eq!(slice.endpoints[0].addresses, vec!["10.244.0.2".to_string()]);
        assert_eq!(slice.endpoints[0].conditions.as_ref().unwrap().ready, Some(true));
        assert_eq!(slice.ports.as_ref().unwrap()[0].port, Some(8443));
        assert_eq!(slice.metadata.labels.as_ref().unwrap()[SERVICE_NAME_LABEL], "kubernetes");
        assert_eq!(kubernetes_slice_update(Some(&slice), slice.clone()), None);
        assert!(kubernetes_slice_update(None, slice).is_some());
    }

    #[test]
    fn default_endpoint_renames_an_unnamed_port() {
        let mut host = host_api_endpoints();
        host.subsets.as_mut().unwrap()[0].ports =
            Some(vec![EndpointPort { name: None, port: 6443, ..EndpointPort::default() }]);
        let subsets = kubernetes_subsets(&host);
        assert_eq!(subsets[0].ports.as_ref().unwrap()[0].name.as_deref(), Some("https"));
    }
}
