//! Endpoints and EndpointSlices of Services with a selector (pkg/controller/endpoint,
//! pkg/controller/endpointslice): the selected pods that have an IP, ready or not, with the
//! service's ports resolved against each pod's container ports (named target ports too).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::helpers::{
    being_deleted, condition_true, controller_ref, controller_uid, delete, objects, opts, rid, update,
};
use super::state::Pass;
use crate::controllers::cursor::Cursor;
use crate::model::jsonpath::{self, get, get_str, items};
use crate::model::selectors::label_selector_matches;
use crate::registry::Cluster;
use crate::registry::store::{Event, Key};

/// The EndpointSlice controller's name (discovery.k8s.io `LabelManagedBy` value).
const MANAGED_BY: &str = "endpointslice-controller.k8s.io";
/// pkg/controller/endpoint: the marker of Endpoints the controller manages.
const ENDPOINTS_MANAGED_BY: &str = "endpoint-controller";

struct Address {
    ip: String,
    ready: bool,
    terminating: bool,
    pod: Arc<Value>,
}

/// podutil.FindPort: a target port by number or by a container port's name.
fn target_port(port: &Value, pod: &Value) -> Option<i64> {
    match port.get("targetPort") {
        Some(Value::String(name)) => items(pod.get("spec").unwrap_or(&Value::Null), "containers")
            .flat_map(|c| items(c, "ports"))
            .find(|p| get_str(p, &["name"]) == Some(name.as_str()))
            .and_then(|p| get(p, &["containerPort"]).and_then(Value::as_i64)),
        Some(Value::Number(n)) => n.as_i64(),
        _ => get(port, &["port"]).and_then(Value::as_i64),
    }
}

/// An Endpoints port (`name` omitted when empty: core/v1 `EndpointPort.Name` is a plain string
/// with omitempty), or an EndpointSlice port, whose name is always written, `""` for an unnamed
/// Service port (kubernetes v1.33 staging/src/k8s.io/endpointslice/utils.go `getEndpointPorts`
/// takes the address of the Service port's name; discovery/v1 `EndpointPort.Name` is a pointer).
fn endpoint_port(port: &Value, number: i64, slice: bool) -> Value {
    let mut p = Map::new();
    let name = get_str(port, &["name"]).unwrap_or_default();
    if slice || !name.is_empty() {
        p.insert("name".into(), name.into());
    }
    p.insert("port".into(), number.into());
    p.insert("protocol".into(), get_str(port, &["protocol"]).unwrap_or("TCP").into());
    if let Some(a) = get_str(port, &["appProtocol"]) {
        p.insert("appProtocol".into(), a.into());
    }
    Value::Object(p)
}

fn target_ref(pod: &Value) -> Value {
    json!({ "kind": "Pod", "namespace": jsonpath::namespace(pod), "name": jsonpath::name(pod), "uid": jsonpath::uid(pod) })
}

/// The pod's hostname in the service's DNS (a pod whose subdomain is the service).
fn hostname<'a>(pod: &'a Value, service: &str) -> Option<&'a str> {
    let subdomain = get_str(pod, &["spec", "subdomain"])?;
    (subdomain == service).then(|| get_str(pod, &["spec", "hostname"])).flatten().filter(|h| !h.is_empty())
}

/// Endpoints by (namespace, name).
type Names = BTreeSet<(String, String)>;

/// The Services (with their Endpoints' names) a pass must look at after `events`: changed
/// Services, those whose selector may match a changed pod's old or new labels, and those of
/// changed Endpoints and EndpointSlices (pkg/controller/endpoint/endpoints_controller.go
/// `addPod`/`updatePod`/`onServiceUpdate`/`onEndpointsDelete`,
/// pkg/controller/endpointslice/endpointslice_controller.go `onEndpointSliceUpdate` enqueue the
/// same). Returns the Services' keys and the (namespace, name) of the Endpoints to check.
fn affected(cluster: &Cluster, events: &[Arc<Event>]) -> (BTreeSet<Key>, Names) {
    let (services, pods) = (rid("", "services"), rid("", "pods"));
    let (endpoints, slices) = (rid("", "endpoints"), rid("discovery.k8s.io", "endpointslices"));
    let index = cluster.store.index();
    let mut keys = BTreeSet::new();
    let mut names = BTreeSet::new();
    for e in events {
        let both = || std::iter::once(&e.object).chain(e.prev.as_ref());
        if e.key.res == services || e.key.res == endpoints {
            keys.insert(Key { res: services, namespace: e.key.namespace.clone(), name: e.key.name.clone() });
            names.insert((e.key.namespace.clone(), e.key.name.clone()));
        } else if e.key.res == pods {
            for pod in both() {
                keys.extend(index.services_maybe_selecting(&e.key.namespace, pod).cloned());
            }
        } else if e.key.res == slices {
            for slice in both() {
                if let Some(owner) = controller_uid(slice).and_then(|uid| index.by_uid(uid)) {
                    keys.insert(owner.clone());
                }
            }
        }
    }
    (keys, names)
}

/// The pods of `ns` that `selector` (a Service's, not empty) selects, in key order: those
/// labelled with its first term, as the store indexes pods by label.
fn selected_pods(cluster: &Cluster, ns: &str, selector: &Map<String, Value>) -> Vec<Arc<Value>> {
    let Some((k, v)) = selector.iter().next() else { return Vec::new() };
    let matching = json!({ "matchLabels": selector });
    cluster
        .store
        .index()
        .pods_labelled(ns, k, v.as_str().unwrap_or_default())
        .filter_map(|key| cluster.store.get(key).cloned())
        .filter(|p| jsonpath::labels(p).is_some_and(|l| label_selector_matches(&matching, l)))
        .collect()
}

/// One pass over the Services that changed since the last pass, or whose pods, Endpoints or
/// EndpointSlices did (every Service on the first pass).
pub fn reconcile(cluster: &mut Cluster, cursor: &mut Cursor, pass: &mut Pass) {
    let res = rid("", "endpoints");
    let (services, endpoints_to_check): (Vec<Arc<Value>>, Option<Names>) = match cursor.changes(&cluster.store) {
        None => (objects(cluster, rid("", "services"), None), None),
        Some(events) => {
            let (keys, names) = affected(cluster, &events);
            (keys.iter().filter_map(|k| cluster.store.get(k).cloned()).collect(), Some(names))
        }
    };
    for service in &services {
        let selector = get(service, &["spec", "selector"]).and_then(Value::as_object).filter(|s| !s.is_empty());
        if selector.is_none() || get_str(service, &["spec", "type"]) == Some("ExternalName") || being_deleted(service) {
            continue;
        }
        let ns = jsonpath::namespace(service).to_string();
        let publish_not_ready =
            get(service, &["spec", "publishNotReadyAddresses"]).and_then(Value::as_bool) == Some(true);
        let mut addresses: Vec<Address> = selected_pods(cluster, &ns, selector.expect("checked above"))
            .into_iter()
            .filter(|p| !matches!(get_str(p, &["status", "phase"]), Some("Failed" | "Succeeded")))
            .filter_map(|p| {
                let ip = get_str(&p, &["status", "podIP"]).filter(|ip| !ip.is_empty())?.to_string();
                Some(Address {
                    ip,
                    ready: condition_true(&p, "Ready") || publish_not_ready,
                    terminating: being_deleted(&p),
                    pod: p,
                })
            })
            .collect();
        addresses.sort_by_key(|a| a.ip.parse::<std::net::IpAddr>().ok());
        endpoints(cluster, pass, service, &addresses);
        slice(cluster, pass, service, &addresses);
    }
    // Endpoints whose service is gone (or lost its selector) are the controller's to delete.
    let with_selector =
        |s: &Value| get(s, &["spec", "selector"]).and_then(Value::as_object).is_some_and(|m| !m.is_empty());
    let candidates: Vec<Arc<Value>> = match endpoints_to_check {
        None => objects(cluster, res, None),
        Some(names) => names.iter().filter_map(|(ns, name)| cluster.get(res, ns, name).ok()).collect(),
    };
    let services_res = rid("", "services");
    for ep in candidates {
        let managed =
            get_str(&ep, &["metadata", "labels", "endpoints.kubernetes.io/managed-by"]) == Some(ENDPOINTS_MANAGED_BY);
        let live =
            cluster.get(services_res, jsonpath::namespace(&ep), jsonpath::name(&ep)).is_ok_and(|s| with_selector(&s));
        if managed && !live {
            delete(cluster, pass, res, &ep, None);
        }
    }
}

fn labels_for(service: &Value, extra: &[(&str, &str)]) -> Map<String, Value> {
    let mut labels = jsonpath::labels(service).cloned().unwrap_or_default();
    for (k, v) in extra {
        labels.insert((*k).into(), (*v).into());
    }
    if get_str(service, &["spec", "clusterIP"]) == Some("None") {
        labels.insert("service.kubernetes.io/headless".into(), "".into());
    }
    labels
}

/// endpoints_controller.go `syncService`: one subset per distinct port set, ready pods in
/// `addresses`, the others in `notReadyAddresses`.
fn endpoints(cluster: &mut Cluster, pass: &mut Pass, service: &Value, addresses: &[Address]) {
    let res = rid("", "endpoints");
    let name = jsonpath::name(service);
    let ns = jsonpath::namespace(service);
    // Subsets by port set: (ready addresses, not-ready addresses, ports).
    type Subset = (Vec<Value>, Vec<Value>, Vec<Value>);
    let mut subsets: BTreeMap<String, Subset> = BTreeMap::new();
    for a in addresses.iter().filter(|a| !a.terminating) {
        let ports: Vec<Value> = items(service.get("spec").unwrap_or(&Value::Null), "ports")
            .filter_map(|p| target_port(p, &a.pod).map(|n| endpoint_port(p, n, false)))
            .collect();
        let mut address = Map::new();
        address.insert("ip".into(), a.ip.clone().into());
        if let Some(h) = hostname(&a.pod, name) {
            address.insert("hostname".into(), h.into());
        }
        if let Some(node) = get_str(&a.pod, &["spec", "nodeName"]) {
            address.insert("nodeName".into(), node.into());
        }
        address.insert("targetRef".into(), target_ref(&a.pod));
        let entry =
            subsets.entry(serde_json::to_string(&ports).unwrap_or_default()).or_insert((Vec::new(), Vec::new(), ports));
        if a.ready { entry.0.push(Value::Object(address)) } else { entry.1.push(Value::Object(address)) }
    }
    let subsets: Vec<Value> = subsets
        .into_values()
        .map(|(ready, not_ready, ports)| {
            let mut s = Map::new();
            if !ready.is_empty() {
                s.insert("addresses".into(), Value::Array(ready));
            }
            if !not_ready.is_empty() {
                s.insert("notReadyAddresses".into(), Value::Array(not_ready));
            }
            s.insert("ports".into(), Value::Array(ports));
            Value::Object(s)
        })
        .collect();
    let labels = Value::Object(labels_for(service, &[("endpoints.kubernetes.io/managed-by", ENDPOINTS_MANAGED_BY)]));
    let subsets = (!subsets.is_empty()).then_some(Value::Array(subsets));
    let existing = cluster.get(res, ns, name).ok();
    // Compared before anything is copied: most passes find the Endpoints as they should be.
    if let Some(e) = &existing
        && get(e, &["subsets"]) == subsets.as_ref()
        && get(e, &["metadata", "labels"]) == Some(&labels)
    {
        return;
    }
    let mut desired = match &existing {
        Some(e) => (**e).clone(),
        None => json!({ "apiVersion": "v1", "kind": "Endpoints", "metadata": { "name": name } }),
    };
    jsonpath::object_at(&mut desired, &["metadata"]).insert("labels".into(), labels);
    let obj = desired.as_object_mut().expect("object");
    match subsets {
        Some(subsets) => obj.insert("subsets".into(), subsets),
        None => obj.remove("subsets"),
    };
    stamp_trigger(&mut desired);
    match existing {
        Some(e) => update(cluster, pass, res, &e, desired, "kube-controller-manager"),
        None => pass.changed |= cluster.create(res, ns, desired, &opts("kube-controller-manager")).is_ok(),
    }
}

/// `endpoints.kubernetes.io/last-change-trigger-time`: RFC 3339 of the triggering change
/// (object times have whole seconds).
fn stamp_trigger(obj: &mut Value) {
    let now = crate::model::util::now_rfc3339();
    jsonpath::object_at(obj, &["metadata", "annotations"])
        .insert("endpoints.kubernetes.io/last-change-trigger-time".into(), now.into());
}

/// endpointslice/reconciler.go: one slice per address family with every endpoint and its
/// ready/serving/terminating conditions (a placeholder with no endpoints when none match).
fn slice(cluster: &mut Cluster, pass: &mut Pass, service: &Value, addresses: &[Address]) {
    let res = rid("discovery.k8s.io", "endpointslices");
    let name = jsonpath::name(service);
    let ns = jsonpath::namespace(service);
    let uid = jsonpath::uid(service);
    let existing = cluster
        .store
        .index()
        .dependents(uid)
        .filter(|k| k.res == res && k.namespace == ns)
        .filter_map(|k| cluster.store.get(k).cloned())
        .find(|s| {
            controller_uid(s) == Some(uid)
                && get_str(s, &["metadata", "labels", "endpointslice.kubernetes.io/managed-by"]) == Some(MANAGED_BY)
        });
    let endpoints: Vec<Value> = addresses
        .iter()
        .map(|a| {
            let mut e = Map::new();
            e.insert("addresses".into(), json!([a.ip]));
            e.insert(
                "conditions".into(),
                json!({ "ready": a.ready && !a.terminating, "serving": a.ready, "terminating": a.terminating }),
            );
            if let Some(h) = hostname(&a.pod, name) {
                e.insert("hostname".into(), h.into());
            }
            e.insert("targetRef".into(), target_ref(&a.pod));
            if let Some(node) = get_str(&a.pod, &["spec", "nodeName"]) {
                e.insert("nodeName".into(), node.into());
            }
            Value::Object(e)
        })
        .collect();
    let ports: Value = match addresses.first() {
        Some(a) => Value::Array(
            items(service.get("spec").unwrap_or(&Value::Null), "ports")
                .filter_map(|p| target_port(p, &a.pod).map(|n| endpoint_port(p, n, true)))
                .collect(),
        ),
        None => Value::Null,
    };
    let labels = labels_for(
        service,
        &[("kubernetes.io/service-name", name), ("endpointslice.kubernetes.io/managed-by", MANAGED_BY)],
    );
    let family = match items(service.get("spec").unwrap_or(&Value::Null), "ipFamilies").next().and_then(Value::as_str) {
        Some("IPv6") => "IPv6",
        _ => "IPv4",
    };
    match existing {
        Some(e) => {
            let (endpoints, labels) = (Value::Array(endpoints), Value::Object(labels));
            // A field the object lacks reads as null, as indexing `desired` below writes it.
            let field = |path: &[&str]| get(&e, path).unwrap_or(&Value::Null);
            if field(&["endpoints"]) == &endpoints
                && field(&["ports"]) == &ports
                && get(&e, &["metadata", "labels"]) == Some(&labels)
            {
                return;
            }
            let mut desired = (*e).clone();
            desired["endpoints"] = endpoints;
            desired["ports"] = ports;
            jsonpath::object_at(&mut desired, &["metadata"]).insert("labels".into(), labels);
            stamp_trigger(&mut desired);
            update(cluster, pass, res, &e, desired, "kube-controller-manager");
        }
        None => {
            let mut body = json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": { "generateName": format!("{name}-"), "labels": labels, "ownerReferences": [controller_ref(service)] },
                "addressType": family,
                "endpoints": endpoints,
                "ports": ports
            });
            stamp_trigger(&mut body);
            pass.changed |= cluster.create(res, ns, body, &opts("kube-controller-manager")).is_ok();
        }
    }
}
