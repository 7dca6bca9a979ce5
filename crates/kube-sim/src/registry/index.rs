//! Secondary indexes over the stored objects, kept up to date by every write to the store (as
//! kube-apiserver's allocators and kube-controller-manager's informer indexers are):
//! the object of each uid, the dependents of each owner uid, the Service IPs and node ports
//! in use, pods by label, Services by selector and Events by involved object. They answer
//! what would otherwise read every object of a kind on each write (kubernetes v1.33
//! staging/src/k8s.io/client-go/tools/cache/index.go `Indexer`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use serde_json::Value;

use super::key::Key;
use crate::model::jsonpath::{self, get, get_str, items};
use crate::model::resources::{self, ResId};

/// The cluster IPs and node ports that stored Services hold, each counted once per Service
/// (pkg/registry/core/service/ipallocator and portallocator keep the same as bitmaps).
#[derive(Debug, Default)]
pub struct Allocated {
    ips: BTreeMap<IpAddr, u32>,
    node_ports: BTreeMap<i64, u32>,
}

/// What one Service holds (each value once).
#[derive(Debug, Default)]
pub struct Held {
    pub ips: BTreeSet<IpAddr>,
    pub node_ports: BTreeSet<i64>,
}

impl Held {
    pub fn of(svc: &Value) -> Held {
        let mut held = Held::default();
        let spec = svc.get("spec").unwrap_or(&Value::Null);
        for ip in items(spec, "clusterIPs").filter_map(Value::as_str) {
            if let Ok(ip) = ip.parse() {
                held.ips.insert(ip);
            }
        }
        for p in items(spec, "ports") {
            if let Some(n) = p.get("nodePort").and_then(Value::as_i64) {
                held.node_ports.insert(n);
            }
        }
        if let Some(n) = spec.get("healthCheckNodePort").and_then(Value::as_i64) {
            held.node_ports.insert(n);
        }
        held
    }
}

impl Allocated {
    pub const fn new() -> Allocated {
        Allocated { ips: BTreeMap::new(), node_ports: BTreeMap::new() }
    }

    /// Count `svc`'s values (`add`) or stop counting them.
    fn change(&mut self, svc: &Value, add: bool) {
        fn bump<K: Ord + Copy>(map: &mut BTreeMap<K, u32>, k: K, add: bool) {
            if add {
                *map.entry(k).or_default() += 1;
            } else if let Some(n) = map.get_mut(&k) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&k);
                }
            }
        }
        let held = Held::of(svc);
        for ip in held.ips {
            bump(&mut self.ips, ip, add);
        }
        for n in held.node_ports {
            bump(&mut self.node_ports, n, add);
        }
    }

    /// How many Services hold `ip`.
    pub fn ip_holders(&self, ip: &IpAddr) -> u32 {
        self.ips.get(ip).copied().unwrap_or(0)
    }

    /// How many Services hold node port `n`.
    pub fn node_port_holders(&self, n: i64) -> u32 {
        self.node_ports.get(&n).copied().unwrap_or(0)
    }
}

/// An index from a string to the keys of the objects it names, in key order.
type Multi<K> = HashMap<K, BTreeSet<Key>>;

fn insert<K: std::hash::Hash + Eq>(map: &mut Multi<K>, k: K, key: &Key) {
    map.entry(k).or_default().insert(key.clone());
}

fn remove<K: std::hash::Hash + Eq>(map: &mut Multi<K>, k: &K, key: &Key) {
    if let Some(set) = map.get_mut(k) {
        set.remove(key);
        if set.is_empty() {
            map.remove(k);
        }
    }
}

/// A label (or selector term) in a namespace: (namespace, key, value).
pub type NsLabel = (String, String, String);

pub struct Indexes {
    pods: ResId,
    services: ResId,
    events: ResId,
    /// The object of each uid.
    uids: HashMap<String, Key>,
    /// The objects whose ownerReferences name each uid.
    dependents: Multi<String>,
    /// The IPs and node ports Services hold.
    pub allocated: Allocated,
    /// Pods by each of their labels.
    pod_labels: Multi<NsLabel>,
    /// Services with a selector, by their selector's first term (every pod a Service selects
    /// carries that label).
    service_selectors: Multi<NsLabel>,
    /// Events by the uid of their involved object.
    involved: Multi<String>,
}

fn owner_uids(obj: &Value) -> impl Iterator<Item = &str> {
    items(obj.get("metadata").unwrap_or(&Value::Null), "ownerReferences").filter_map(|r| get_str(r, &["uid"]))
}

fn label_terms<'a>(obj: &'a Value) -> impl Iterator<Item = (&'a String, &'a str)> + 'a {
    jsonpath::labels(obj).into_iter().flatten().filter_map(|(k, v)| v.as_str().map(|v| (k, v)))
}

/// The first term of a Service's selector (None: it selects nothing).
fn first_selector_term(svc: &Value) -> Option<(&String, &str)> {
    get(svc, &["spec", "selector"])
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
        .map(|(k, v)| (k, v.as_str().unwrap_or_default()))
}

impl Default for Indexes {
    fn default() -> Self {
        Indexes {
            pods: resources::find("", "v1", "pods").expect("pods served"),
            services: resources::find("", "v1", "services").expect("services served"),
            events: resources::find("", "v1", "events").expect("events served"),
            uids: HashMap::new(),
            dependents: HashMap::new(),
            allocated: Allocated::new(),
            pod_labels: HashMap::new(),
            service_selectors: HashMap::new(),
            involved: HashMap::new(),
        }
    }
}

impl Indexes {
    /// Index `obj` stored under `key` (`add`), or forget it.
    pub fn change(&mut self, key: &Key, obj: &Value, add: bool) {
        let uid = jsonpath::uid(obj);
        if !uid.is_empty() {
            if add {
                self.uids.insert(uid.to_string(), key.clone());
            } else if self.uids.get(uid) == Some(key) {
                self.uids.remove(uid);
            }
        }
        for owner in owner_uids(obj) {
            if add {
                insert(&mut self.dependents, owner.to_string(), key);
            } else {
                remove(&mut self.dependents, &owner.to_string(), key);
            }
        }
        let ns = &key.namespace;
        if key.res == self.services {
            self.allocated.change(obj, add);
            if let Some((k, v)) = first_selector_term(obj) {
                let term = (ns.clone(), k.clone(), v.to_string());
                if add {
                    insert(&mut self.service_selectors, term, key)
                } else {
                    remove(&mut self.service_selectors, &term, key)
                }
            }
        } else if key.res == self.pods {
            for (k, v) in label_terms(obj) {
                let term = (ns.clone(), k.clone(), v.to_string());
                if add { insert(&mut self.pod_labels, term, key) } else { remove(&mut self.pod_labels, &term, key) }
            }
        } else if key.res == self.events
            && let Some(involved) = get_str(obj, &["involvedObject", "uid"])
        {
            if add {
                insert(&mut self.involved, involved.to_string(), key);
            } else {
                remove(&mut self.involved, &involved.to_string(), key);
            }
        }
    }

    /// The key of the object with `uid`.
    pub fn by_uid(&self, uid: &str) -> Option<&Key> {
        self.uids.get(uid)
    }

    /// The objects whose ownerReferences name `uid`, in key order.
    pub fn dependents(&self, uid: &str) -> impl Iterator<Item = &Key> {
        self.dependents.get(uid).into_iter().flatten()
    }

    pub fn has_dependents(&self, uid: &str) -> bool {
        self.dependents.contains_key(uid)
    }

    /// The pods of `ns` labelled `key=value`, in key order.
    pub fn pods_labelled(&self, ns: &str, key: &str, value: &str) -> impl Iterator<Item = &Key> {
        self.pod_labels.get(&(ns.to_string(), key.to_string(), value.to_string())).into_iter().flatten()
    }

    /// The Services of `ns` whose selector may select a pod with these labels (their
    /// selector's first term is one of them), in no particular order.
    pub fn services_maybe_selecting<'a>(&'a self, ns: &'a str, pod: &'a Value) -> impl Iterator<Item = &'a Key> + 'a {
        label_terms(pod)
            .filter_map(move |(k, v)| self.service_selectors.get(&(ns.to_string(), k.clone(), v.to_string())))
            .flatten()
    }

    /// The Events whose involved object has `uid`, in key order.
    pub fn events_about(&self, uid: &str) -> impl Iterator<Item = &Key> {
        self.involved.get(uid).into_iter().flatten()
    }
}
