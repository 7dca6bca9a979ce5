//! The controllers of kube-controller-manager that object lifecycles need, always on: the
//! garbage collector (pkg/controller/garbagecollector: background, foreground and orphan
//! propagation through ownerReferences), the namespace controller
//! (pkg/controller/namespace/deletion: Terminating namespaces are emptied, their conditions
//! reported, then finalized), the service-account controller
//! (pkg/controller/serviceaccount: a `default` ServiceAccount in every namespace) and the root
//! CA publisher (pkg/controller/certificates/rootcacertpublisher: a `kube-root-ca.crt`
//! ConfigMap in every namespace).
//!
//! `reconcile` makes one pass over what changed since the last and says whether it changed
//! anything; the simulator runs it after writes until nothing changes, so dependents
//! disappear shortly after their owner, as in a real cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::cursor::Cursor;
use crate::model::jsonpath::{self, get, get_str, items};
use crate::model::options::{DeleteOpts, FieldValidation, Sub, WriteOpts};
use crate::model::resources::{self, ResId};
use crate::registry::Cluster;
use crate::registry::store::{Event, Key};

/// The field manager kube-controller-manager's clients write as.
const MANAGER: &str = "kube-controller-manager";

fn controller_opts() -> WriteOpts {
    WriteOpts { dry_run: false, manager: MANAGER.into(), validation: FieldValidation::Ignore }
}

fn being_deleted(obj: &Value) -> bool {
    get(obj, &["metadata", "deletionTimestamp"]).is_some()
}

/// An object as a pass sees it when it starts: its dependents (each with whether it has
/// dependents of its own), its owners that exist, and for a namespace being deleted its
/// content.
struct Seen {
    key: Key,
    obj: Arc<Value>,
    deps: Vec<(Key, Arc<Value>, bool)>,
    owners: HashMap<String, Arc<Value>>,
    has_dependents: bool,
    content: Vec<(Key, Arc<Value>)>,
}

/// The objects a pass must look at after `events`: each changed object, its namespace (whose
/// content, ServiceAccount and root CA ConfigMap the namespace controllers look after), its
/// owners and its dependents (the garbage collector's graph, kubernetes v1.33
/// pkg/controller/garbagecollector/graph_builder.go `processGraphChanges`, enqueues the same).
fn affected(cluster: &Cluster, events: &[Arc<Event>], ns_res: ResId) -> BTreeSet<Key> {
    let index = cluster.store.index();
    let mut keys = BTreeSet::new();
    for e in events {
        keys.insert(e.key.clone());
        if !e.key.namespace.is_empty() {
            keys.insert(Key { res: ns_res, namespace: String::new(), name: e.key.namespace.clone() });
        }
        for obj in std::iter::once(&e.object).chain(e.prev.as_ref()) {
            for r in items(obj.get("metadata").unwrap_or(&Value::Null), "ownerReferences") {
                if let Some(owner) = get_str(r, &["uid"]).and_then(|uid| index.by_uid(uid)) {
                    keys.insert(owner.clone());
                }
            }
            keys.extend(index.dependents(jsonpath::uid(obj)).cloned());
        }
    }
    keys
}

/// One pass of the garbage collector and the namespace controller over what changed since
/// the last pass (every object on the first); an object nothing touched has nothing to do.
pub fn reconcile(cluster: &mut Cluster, cursor: &mut Cursor) -> bool {
    let mut changed = false;
    let ns_res = resources::find("", "v1", "namespaces").expect("namespaces served");
    let sa_res = resources::find("", "v1", "serviceaccounts").expect("serviceaccounts served");
    let cm_res = resources::find("", "v1", "configmaps").expect("configmaps served");
    // Shared references, not copies: a pass runs after every write.
    let objects: Vec<(Key, Arc<Value>)> = match cursor.changes(&cluster.store) {
        None => cluster.store.all().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(events) if events.is_empty() => return false,
        Some(events) => affected(cluster, &events, ns_res)
            .into_iter()
            .filter_map(|k| cluster.store.get(&k).cloned().map(|v| (k, v)))
            .collect(),
    };
    // The graph as the pass starts (its writes show in the next pass).
    let seen: Vec<Seen> = {
        let store = &cluster.store;
        let index = store.index();
        let lookup = |k: &Key| store.get(k).map(|v| (k.clone(), v.clone()));
        objects
            .into_iter()
            .map(|(key, obj)| {
                let uid = jsonpath::uid(&obj);
                // Only an owner being deleted looks at its dependents (orphan or foreground
                // propagation); an owner with many dependents is touched by each of their
                // changes, so collecting them always made every pass grow with their number.
                let deps = if being_deleted(&obj) {
                    index
                        .dependents(uid)
                        .filter_map(lookup)
                        .map(|(k, v)| {
                            let has_own = index.has_dependents(jsonpath::uid(&v));
                            (k, v, has_own)
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                let owners = items(obj.get("metadata").unwrap_or(&Value::Null), "ownerReferences")
                    .filter_map(|r| get_str(r, &["uid"]))
                    .filter_map(|ruid| Some((ruid.to_string(), store.get(index.by_uid(ruid)?)?.clone())))
                    .collect();
                let content = if key.res == ns_res && being_deleted(&obj) {
                    store.in_namespace(jsonpath::name(&obj)).map(|(k, v)| (k.clone(), v.clone())).collect()
                } else {
                    Vec::new()
                };
                Seen { has_dependents: index.has_dependents(uid), key, obj, deps, owners, content }
            })
            .collect()
    };

    for Seen { key: k, obj, deps, owners, has_dependents, content } in &seen {
        if k.res == ns_res {
            if being_deleted(obj) {
                changed |= finalize_namespace(cluster, content, obj);
            } else {
                changed |= ensure_default_service_account(cluster, sa_res, jsonpath::name(obj));
                changed |= publish_root_ca(cluster, cm_res, jsonpath::name(obj));
            }
            continue;
        }
        let uid = jsonpath::uid(obj).to_string();
        let finalizers = jsonpath::finalizers(obj);
        if being_deleted(obj) && finalizers.iter().any(|f| f == "orphan") {
            for (dk, dep, _) in deps {
                changed |= remove_owner_refs(cluster, dk, dep, |r| get_str(r, &["uid"]) == Some(uid.as_str()));
            }
            changed |= remove_finalizer(cluster, k, "orphan");
            continue;
        }
        if being_deleted(obj) && finalizers.iter().any(|f| f == "foregroundDeletion") {
            let mut blocking = false;
            for (dk, dep, has_own) in deps {
                if !being_deleted(dep) {
                    let propagation = if *has_own { "Foreground" } else { "Background" };
                    changed |= delete(cluster, dk, propagation);
                }
                let blocks = items(dep.get("metadata").unwrap_or(&Value::Null), "ownerReferences").any(|r| {
                    get_str(r, &["uid"]) == Some(uid.as_str())
                        && r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
                });
                blocking |= blocks && cluster.store.get(dk).is_some();
            }
            if !blocking {
                changed |= remove_finalizer(cluster, k, "foregroundDeletion");
            }
            continue;
        }
        // Dependents whose owners are gone (or waiting for their dependents).
        let refs: Vec<&Value> = items(obj.get("metadata").unwrap_or(&Value::Null), "ownerReferences").collect();
        if refs.is_empty() || being_deleted(obj) {
            continue;
        }
        let mut solid = 0;
        let mut dangling = Vec::new();
        for r in &refs {
            let ruid = get_str(r, &["uid"]).unwrap_or_default();
            match owners.get(ruid) {
                Some(owner)
                    if !(being_deleted(owner)
                        && jsonpath::finalizers(owner).iter().any(|f| f == "foregroundDeletion")) =>
                {
                    solid += 1;
                }
                Some(_) => {}
                None if owner_kind_unknown(r) => solid += 1,
                None => dangling.push(ruid.to_string()),
            }
        }
        if solid == 0 {
            let policy = if finalizers.iter().any(|f| f == "orphan") {
                "Orphan"
            } else if *has_dependents
                && refs.iter().any(|r| owners.contains_key(get_str(r, &["uid"]).unwrap_or_default()))
            {
                "Foreground"
            } else {
                "Background"
            };
            changed |= delete(cluster, k, policy);
        } else if !dangling.is_empty() {
            changed |= remove_owner_refs(cluster, k, obj, |r| {
                dangling.iter().any(|d| Some(d.as_str()) == get_str(r, &["uid"]))
            });
        }
    }
    changed
}

/// pkg/controller/serviceaccount/serviceaccounts_controller.go: every active namespace has a
/// `default` ServiceAccount (without token secrets since 1.24).
fn ensure_default_service_account(cluster: &mut Cluster, sa_res: ResId, namespace: &str) -> bool {
    if cluster.store.get(&Key { res: sa_res, namespace: namespace.into(), name: "default".into() }).is_some() {
        return false;
    }
    let sa = json!({ "metadata": { "name": "default" } });
    cluster.create(sa_res, namespace, sa, &controller_opts()).is_ok()
}

/// kubernetes v1.33 pkg/controller/certificates/rootcacertpublisher/publisher.go
/// `syncNamespace`: every active namespace has the ConfigMap `kube-root-ca.crt` with the
/// cluster's CA bundle (`data["ca.crt"]`) and the `kubernetes.io/description` annotation; it is
/// recreated when deleted, and its data and annotation are put back when changed (other fields
/// are left as they are).
fn publish_root_ca(cluster: &mut Cluster, cm_res: ResId, namespace: &str) -> bool {
    const NAME: &str = "kube-root-ca.crt";
    const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";
    let data = json!({ "ca.crt": cluster.root_ca });
    let k = Key { res: cm_res, namespace: namespace.into(), name: NAME.into() };
    let Some(live) = cluster.store.get(&k) else {
        let cm = json!({
            "metadata": { "name": NAME, "annotations": { "kubernetes.io/description": DESCRIPTION } },
            "data": data,
        });
        return cluster.create(cm_res, namespace, cm, &controller_opts()).is_ok();
    };
    let described =
        get_str(live, &["metadata", "annotations", "kubernetes.io/description"]).is_some_and(|d| !d.is_empty());
    if live.get("data") == Some(&data) && described {
        return false;
    }
    let mut fixed = Value::clone(live);
    fixed["data"] = data;
    jsonpath::object_at(&mut fixed, &["metadata", "annotations"])
        .insert("kubernetes.io/description".into(), DESCRIPTION.into());
    write(cluster, &k, fixed, Sub::Main)
}

/// An owner reference to a kind the simulator does not serve cannot be resolved; the real
/// garbage collector leaves such dependents alone too.
fn owner_kind_unknown(r: &Value) -> bool {
    resources::find_kind(get_str(r, &["apiVersion"]).unwrap_or_default(), get_str(r, &["kind"]).unwrap_or_default())
        .is_none()
}

fn delete(cluster: &mut Cluster, k: &Key, propagation: &str) -> bool {
    let opts = DeleteOpts { propagation: Some(propagation.into()), ..Default::default() };
    cluster.delete(k.res, &k.namespace, &k.name, &opts).is_ok()
}

fn remove_finalizer(cluster: &mut Cluster, k: &Key, finalizer: &str) -> bool {
    let Some(live) = cluster.store.get(k).cloned() else { return false };
    let mut updated = (*live).clone();
    let remaining: Vec<String> = jsonpath::finalizers(&live).into_iter().filter(|f| f != finalizer).collect();
    jsonpath::set_finalizers(&mut updated, &remaining);
    write(cluster, k, updated, Sub::Main)
}

fn remove_owner_refs(cluster: &mut Cluster, k: &Key, dep: &Value, drop: impl Fn(&Value) -> bool) -> bool {
    let kept: Vec<Value> =
        items(dep.get("metadata").unwrap_or(&Value::Null), "ownerReferences").filter(|r| !drop(r)).cloned().collect();
    let mut updated = dep.clone();
    let meta = jsonpath::object_at(&mut updated, &["metadata"]);
    if kept.is_empty() {
        meta.remove("ownerReferences");
    } else {
        meta.insert("ownerReferences".into(), Value::Array(kept));
    }
    write(cluster, k, updated, Sub::Main)
}

fn write(cluster: &mut Cluster, k: &Key, mut obj: Value, sub: Sub) -> bool {
    jsonpath::object_at(&mut obj, &["metadata"]).remove("resourceVersion");
    cluster.update(k.res, &k.namespace, &k.name, obj, sub, &controller_opts()).is_ok()
}

/// pkg/controller/namespace/deletion/namespaced_resources_deleter.go: delete the content,
/// report the conditions, and finalize once nothing is left.
fn finalize_namespace(cluster: &mut Cluster, objects: &[(Key, Arc<Value>)], ns: &Value) -> bool {
    let name = jsonpath::name(ns).to_string();
    let ns_res = resources::find("", "v1", "namespaces").expect("namespaces served");
    let mut changed = false;
    let mut remaining: BTreeMap<ResId, u64> = BTreeMap::new();
    let mut by_finalizer: BTreeMap<String, u64> = BTreeMap::new();
    for (k, obj) in objects.iter().filter(|(k, _)| k.namespace == name && k.res != ns_res) {
        if !being_deleted(obj) {
            changed |= delete(cluster, k, "Background");
        }
        if cluster.store.get(k).is_some() {
            *remaining.entry(k.res).or_default() += 1;
            for f in jsonpath::finalizers(obj) {
                *by_finalizer.entry(f).or_default() += 1;
            }
        }
    }
    let Some(live) = cluster.store.get(&Key { res: ns_res, namespace: String::new(), name: name.clone() }).cloned()
    else {
        return changed;
    };
    let conditions = namespace_conditions(&live, &remaining, &by_finalizer);
    if get(&live, &["status", "conditions"]) != Some(&conditions) {
        let mut updated = (*live).clone();
        jsonpath::object_at(&mut updated, &["status"]).insert("conditions".into(), conditions);
        changed |=
            write(cluster, &Key { res: ns_res, namespace: String::new(), name: name.clone() }, updated, Sub::Status);
        return changed;
    }
    if remaining.is_empty() {
        let has_kubernetes = get(&live, &["spec", "finalizers"])
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|x| x.as_str() == Some("kubernetes")));
        if has_kubernetes {
            let mut updated = (*live).clone();
            let kept: Vec<Value> = get(&live, &["spec", "finalizers"])
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|f| f.as_str() != Some("kubernetes"))
                .cloned()
                .collect();
            jsonpath::object_at(&mut updated, &["spec"]).insert("finalizers".into(), Value::Array(kept));
            changed |= write(
                cluster,
                &Key { res: ns_res, namespace: String::new(), name: name.clone() },
                updated,
                Sub::Finalize,
            );
        }
        let live = cluster.store.get(&Key { res: ns_res, namespace: String::new(), name: name.clone() }).cloned();
        if let Some(live) = live {
            let spec_empty = get(&live, &["spec", "finalizers"]).and_then(Value::as_array).is_none_or(Vec::is_empty);
            if spec_empty && jsonpath::finalizers(&live).is_empty() {
                cluster.store.remove(&Key { res: ns_res, namespace: String::new(), name });
                changed = true;
            }
        }
    }
    changed
}

/// A condition the namespace controller reports: status, reason, message.
type Reported = (&'static str, &'static str, String);

/// pkg/controller/namespace/deletion/status_condition_utils.go: the five deletion conditions.
fn namespace_conditions(ns: &Value, remaining: &BTreeMap<ResId, u64>, by_finalizer: &BTreeMap<String, u64>) -> Value {
    let previous: Vec<&Value> = items(ns.get("status").unwrap_or(&Value::Null), "conditions").collect();
    let mut content = None;
    if !remaining.is_empty() {
        let mut parts: Vec<String> = remaining
            .iter()
            .map(|(r, n)| {
                let def = resources::by_id(*r);
                format!("{}.{} has {n} resource instances", def.plural, def.group)
            })
            .collect();
        parts.sort();
        content = Some(("True", "SomeResourcesRemain", format!("Some resources are remaining: {}", parts.join(", "))));
    }
    let mut finalizers = None;
    if !by_finalizer.is_empty() {
        let mut parts: Vec<String> =
            by_finalizer.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect();
        parts.sort();
        finalizers = Some((
            "True",
            "SomeFinalizersRemain",
            format!("Some content in the namespace has finalizers remaining: {}", parts.join(", ")),
        ));
    }
    let table: [(&str, Option<Reported>, &str, &str); 5] = [
        ("NamespaceDeletionDiscoveryFailure", None, "ResourcesDiscovered", "All resources successfully discovered"),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            None,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        (
            "NamespaceDeletionContentFailure",
            None,
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        ("NamespaceContentRemaining", content, "ContentRemoved", "All content successfully removed"),
        (
            "NamespaceFinalizersRemaining",
            finalizers,
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished",
        ),
    ];
    let now = crate::model::util::now_rfc3339();
    let conditions: Vec<Value> = table
        .into_iter()
        .map(|(t, custom, ok_reason, ok_message)| {
            let (status, reason, message) = custom.unwrap_or(("False", ok_reason, ok_message.to_string()));
            let prev = previous.iter().find(|c| get_str(c, &["type"]) == Some(t));
            let transition = match prev {
                Some(p) if get_str(p, &["status"]) == Some(status) => get_str(p, &["lastTransitionTime"]).unwrap_or(&now).to_string(),
                _ => now.clone(),
            };
            json!({ "type": t, "status": status, "lastTransitionTime": transition, "reason": reason, "message": message })
        })
        .collect();
    Value::Array(conditions)
}
