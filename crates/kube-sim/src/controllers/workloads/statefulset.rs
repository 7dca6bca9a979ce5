//! The StatefulSet controller (pkg/controller/statefulset): ControllerRevisions of the pod
//! template (history of pkg/controller/history), pods `<set>-<ordinal>` with their stable
//! identity and claims `<template>-<set>-<ordinal>`, OrderedReady and Parallel management,
//! scale-down from the highest ordinal, rolling updates from the highest ordinal down to the
//! partition, claims kept or deleted per `persistentVolumeClaimRetentionPolicy`, and the
//! status the controller writes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::events::{Event, Recorder, record};
use super::helpers::{
    being_deleted, controller_ref, delete, fnv32, int, objects, opts, owned_pods, pod_from_template, rid,
    running_and_ready, safe_encode, set_status, sorted_json, update,
};
use super::state::Pass;
use crate::model::jsonpath::{self, get, get_str, items};
use crate::registry::Cluster;

const RECORDER: Recorder<'static> = Recorder::Controller("statefulset-controller");
/// pkg/controller/history `ControllerRevisionHashLabel`.
const REVISION_HASH: &str = "controller.kubernetes.io/hash";

pub fn reconcile(cluster: &mut Cluster, pass: &mut Pass) {
    for set in objects(cluster, rid("apps", "statefulsets"), None) {
        if !being_deleted(&set) {
            sync(cluster, pass, &set);
        }
    }
}

/// stateful_set_utils.go `getPatch`: the template under `spec`, marked `$patch: replace`,
/// encoded as Go encodes a map (sorted keys; the template's zero `creationTimestamp`).
fn revision_data(set: &Value) -> Value {
    let mut template = get(set, &["spec", "template"]).cloned().unwrap_or(json!({}));
    jsonpath::default_field(jsonpath::object_at(&mut template, &["metadata"]), "creationTimestamp", Value::Null);
    template["$patch"] = "replace".into();
    sorted_json(&json!({ "spec": { "template": template } }))
}

/// The template a revision recorded.
fn revision_template(revision: &Value) -> Value {
    let mut template = get(revision, &["data", "spec", "template"]).cloned().unwrap_or(json!({}));
    if let Some(t) = template.as_object_mut() {
        t.remove("$patch");
    }
    template
}

fn ordinal_of(set_name: &str, pod: &Value) -> Option<i64> {
    let name = jsonpath::name(pod);
    name.strip_prefix(set_name)?.strip_prefix('-')?.parse().ok().filter(|n: &i64| *n >= 0)
}

fn revision_of(pod: &Value) -> &str {
    get_str(pod, &["metadata", "labels", "controller-revision-hash"]).unwrap_or_default()
}

fn terminal(pod: &Value) -> bool {
    matches!(get_str(pod, &["status", "phase"]), Some("Failed" | "Succeeded"))
}

fn sync(cluster: &mut Cluster, pass: &mut Pass, set: &Value) {
    let (update_revision, current_revision, templates) = revisions(cluster, pass, set);
    let name = jsonpath::name(set).to_string();
    let spec = set.get("spec").cloned().unwrap_or(Value::Null);
    let replicas = get(&spec, &["replicas"]).and_then(Value::as_i64).unwrap_or(1);
    let parallel = get_str(&spec, &["podManagementPolicy"]) == Some("Parallel");
    let rolling = get_str(&spec, &["updateStrategy", "type"]).unwrap_or("RollingUpdate") == "RollingUpdate";
    let partition = int(&spec, &["updateStrategy", "rollingUpdate", "partition"]);
    let pods = rid("", "pods");

    let mut by_ordinal: BTreeMap<i64, Arc<Value>> = BTreeMap::new();
    for pod in owned_pods(cluster, set) {
        if let Some(ordinal) = ordinal_of(&name, &pod) {
            by_ordinal.insert(ordinal, pod);
        }
    }
    // Replicas in order: failed ones replaced, missing ones created; OrderedReady waits
    // for each to be Running and Ready before the next.
    let mut waiting = false;
    for ordinal in 0..replicas {
        match by_ordinal.get(&ordinal).cloned() {
            Some(pod) if terminal(&pod) && !being_deleted(&pod) => {
                let message = format!("delete Pod {} in StatefulSet {name} successful", jsonpath::name(&pod));
                if delete(cluster, pass, pods, &pod, None) {
                    record(cluster, pass, RECORDER, Event::normal(set, "SuccessfulDelete", message));
                }
                waiting = true;
            }
            Some(pod) => {
                claim_owners(cluster, pass, set, &pod, false);
                waiting |= !running_and_ready(&pod) || being_deleted(&pod);
            }
            None => {
                let revision = if rolling && ordinal < partition { &current_revision } else { &update_revision };
                let template = templates.get(revision).cloned().unwrap_or_default();
                create_pod(cluster, pass, set, &template, revision, ordinal);
                waiting = true;
            }
        }
        if waiting && !parallel {
            break;
        }
    }
    // Condemned pods (ordinals at or above replicas), highest first.
    if !waiting || parallel {
        let condemned: Vec<Arc<Value>> = by_ordinal.range(replicas..).rev().map(|(_, p)| p.clone()).collect();
        for pod in condemned {
            claim_owners(cluster, pass, set, &pod, true);
            if being_deleted(&pod) {
                if parallel {
                    continue;
                }
                waiting = true;
                break;
            }
            let message = format!("delete Pod {} in StatefulSet {name} successful", jsonpath::name(&pod));
            if delete(cluster, pass, pods, &pod, None) {
                record(cluster, pass, RECORDER, Event::normal(set, "SuccessfulDelete", message));
            }
            if !parallel {
                waiting = true;
                break;
            }
        }
    }
    // Rolling update: one pod at a time, from the highest ordinal down to the partition.
    if rolling && !waiting {
        let unavailable = (0..replicas)
            .filter(|o| by_ordinal.get(o).is_none_or(|p| !running_and_ready(p) || being_deleted(p)))
            .count();
        let stale = (partition.max(0)..replicas)
            .rev()
            .filter_map(|o| by_ordinal.get(&o))
            .find(|p| revision_of(p) != update_revision && !being_deleted(p))
            .cloned();
        if let (0, Some(pod)) = (unavailable, stale) {
            let message = format!("delete Pod {} in StatefulSet {name} successful", jsonpath::name(&pod));
            if delete(cluster, pass, pods, &pod, None) {
                record(cluster, pass, RECORDER, Event::normal(set, "SuccessfulDelete", message));
            }
        }
    }
    write_status(cluster, pass, set, &update_revision, &current_revision, rolling);
}

/// The set's ControllerRevisions: the update revision (found by equal data, else created),
/// the current one, and each revision's template. Old unused revisions beyond
/// `revisionHistoryLimit` are deleted (stateful_set_control.go `truncateHistory`).
fn revisions(cluster: &mut Cluster, pass: &mut Pass, set: &Value) -> (String, String, BTreeMap<String, Value>) {
    let res = rid("apps", "controllerrevisions");
    let ns = jsonpath::namespace(set).to_string();
    let mut owned: Vec<Arc<Value>> = super::helpers::owned(cluster, res, set);
    owned.sort_by_key(|r| int(r, &["revision"]));
    let data = revision_data(set);
    let max = owned.last().map_or(0, |r| int(r, &["revision"]));
    let update_name = match owned.iter().find(|r| r.get("data") == Some(&data)).cloned() {
        Some(equal) => {
            if int(&equal, &["revision"]) < max {
                let mut bumped = (*equal).clone();
                bumped["revision"] = (max + 1).into();
                update(cluster, pass, res, &equal, bumped, "kube-controller-manager");
            }
            jsonpath::name(&equal).to_string()
        }
        None => {
            // history.HashControllerRevision: FNV-1 of the data and the collision count.
            let collisions = int(set, &["status", "collisionCount"]);
            let mut bytes = serde_json::to_vec(&data).unwrap_or_default();
            bytes.extend(collisions.to_string().bytes());
            let hash = safe_encode(fnv32(&bytes, false));
            let prefix: String = jsonpath::name(set).chars().take(223).collect();
            let name = format!("{prefix}-{hash}");
            let mut labels = get(set, &["spec", "template", "metadata", "labels"]).cloned().unwrap_or(json!({}));
            jsonpath::object_at(&mut labels, &[]).insert(REVISION_HASH.into(), hash.into());
            let mut metadata = Map::new();
            metadata.insert("name".into(), name.clone().into());
            metadata.insert("labels".into(), labels);
            if let Some(a) =
                get(set, &["metadata", "annotations"]).filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
            {
                metadata.insert("annotations".into(), a.clone());
            }
            metadata.insert("ownerReferences".into(), json!([controller_ref(set)]));
            let revision = json!({ "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": metadata, "data": data, "revision": max + 1 });
            pass.changed |= cluster.create(res, &ns, revision, &opts("kube-controller-manager")).is_ok();
            name
        }
    };
    let all: Vec<Arc<Value>> = super::helpers::owned(cluster, res, set);
    let current_name = get_str(set, &["status", "currentRevision"])
        .filter(|c| all.iter().any(|r| jsonpath::name(r) == *c))
        .unwrap_or(&update_name)
        .to_string();
    let templates: BTreeMap<String, Value> =
        all.iter().map(|r| (jsonpath::name(r).to_string(), revision_template(r))).collect();
    let limit = get(set, &["spec", "revisionHistoryLimit"]).and_then(Value::as_i64).unwrap_or(10).max(0) as usize;
    let in_use: std::collections::HashSet<String> =
        owned_pods(cluster, set).iter().map(|p| revision_of(p).to_string()).collect();
    let mut history: Vec<&Arc<Value>> = all
        .iter()
        .filter(|r| {
            let n = jsonpath::name(r);
            n != update_name && n != current_name && !in_use.contains(n)
        })
        .collect();
    history.sort_by_key(|r| int(r, &["revision"]));
    let excess = history.len().saturating_sub(limit);
    for old in history.into_iter().take(excess) {
        delete(cluster, pass, res, old, None);
    }
    (update_name, current_name, templates)
}

/// stateful_set_utils.go `newVersionedStatefulSetPod`: the template with the pod's identity
/// (name, hostname, subdomain, labels) and storage (claims replacing same-named volumes).
fn create_pod(cluster: &mut Cluster, pass: &mut Pass, set: &Value, template: &Value, revision: &str, ordinal: i64) {
    let set_name = jsonpath::name(set);
    let ns = jsonpath::namespace(set).to_string();
    let pod_name = format!("{set_name}-{ordinal}");
    let mut pod = pod_from_template(template, set, &format!("{set_name}-"));
    let meta = jsonpath::object_at(&mut pod, &["metadata"]);
    meta.insert("name".into(), pod_name.clone().into());
    let labels = jsonpath::object_at(&mut pod, &["metadata", "labels"]);
    labels.insert("controller-revision-hash".into(), revision.into());
    labels.insert("statefulset.kubernetes.io/pod-name".into(), pod_name.clone().into());
    labels.insert("apps.kubernetes.io/pod-index".into(), ordinal.to_string().into());
    let spec = jsonpath::object_at(&mut pod, &["spec"]);
    spec.insert("hostname".into(), pod_name.clone().into());
    if let Some(service) = get_str(set, &["spec", "serviceName"]).filter(|s| !s.is_empty()) {
        spec.insert("subdomain".into(), service.into());
    }
    let claims = rid("", "persistentvolumeclaims");
    let mut volumes: Vec<Value> = items(&pod["spec"], "volumes").cloned().collect();
    for claim_template in items(set.get("spec").unwrap_or(&Value::Null), "volumeClaimTemplates") {
        let template_name = jsonpath::name(claim_template).to_string();
        let claim_name = format!("{template_name}-{set_name}-{ordinal}");
        volumes.retain(|v| get_str(v, &["name"]) != Some(template_name.as_str()));
        volumes.push(json!({ "name": template_name, "persistentVolumeClaim": { "claimName": claim_name } }));
        if cluster.get(claims, &ns, &claim_name).is_ok() {
            continue;
        }
        let mut labels = get(claim_template, &["metadata", "labels"]).cloned().unwrap_or(json!({}));
        if let Some(selector) = get(set, &["spec", "selector", "matchLabels"]).and_then(Value::as_object) {
            jsonpath::object_at(&mut labels, &[]).extend(selector.clone());
        }
        let mut metadata = Map::new();
        metadata.insert("name".into(), claim_name.clone().into());
        metadata.insert("labels".into(), labels);
        if let Some(a) = get(claim_template, &["metadata", "annotations"]) {
            metadata.insert("annotations".into(), a.clone());
        }
        if retention(set, "whenDeleted") == "Delete" {
            metadata.insert("ownerReferences".into(), json!([owner_ref(set)]));
        }
        let claim = json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": claim_template.get("spec").cloned().unwrap_or(json!({})) });
        match cluster.create(claims, &ns, claim, &opts("kube-controller-manager")) {
            Ok(_) => {
                pass.changed = true;
                let message = format!("create Claim {claim_name} Pod {pod_name} in StatefulSet {set_name} success");
                record(cluster, pass, RECORDER, Event::normal(set, "SuccessfulCreate", message));
            }
            Err(e) => {
                let message = format!(
                    "create Claim {claim_name} for Pod {pod_name} in StatefulSet {set_name} failed error: {}",
                    e.message
                );
                record(cluster, pass, RECORDER, Event::warning(set, "FailedCreate", message));
                return;
            }
        }
    }
    if !volumes.is_empty() {
        jsonpath::object_at(&mut pod, &["spec"]).insert("volumes".into(), Value::Array(volumes));
    }
    match cluster.create(rid("", "pods"), &ns, pod, &opts("kube-controller-manager")) {
        Ok(_) => {
            pass.changed = true;
            let message = format!("create Pod {pod_name} in StatefulSet {set_name} successful");
            record(cluster, pass, RECORDER, Event::normal(set, "SuccessfulCreate", message));
        }
        Err(e) => {
            let message = format!("create Pod {pod_name} in StatefulSet {set_name} failed error: {}", e.message);
            record(cluster, pass, RECORDER, Event::warning(set, "FailedCreate", message));
        }
    }
}

fn retention<'a>(set: &'a Value, when: &str) -> &'a str {
    get_str(set, &["spec", "persistentVolumeClaimRetentionPolicy", when]).unwrap_or("Retain")
}

/// stateful_set_utils.go `setOwnerRef`: a plain (non-controller) owner reference.
fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": get_str(owner, &["apiVersion"]).unwrap_or_default(),
        "kind": get_str(owner, &["kind"]).unwrap_or_default(),
        "name": jsonpath::name(owner),
        "uid": jsonpath::uid(owner)
    })
}

/// stateful_set_utils.go `updateClaimOwnerRefForSetAndPod`: with `whenScaled: Delete` a
/// condemned pod owns its claims (they go with it); otherwise it does not.
fn claim_owners(cluster: &mut Cluster, pass: &mut Pass, set: &Value, pod: &Value, condemned: bool) {
    let claims = rid("", "persistentvolumeclaims");
    let want_pod = condemned && retention(set, "whenScaled") == "Delete";
    let pod_uid = jsonpath::uid(pod);
    for volume in items(pod.get("spec").unwrap_or(&Value::Null), "volumes") {
        let Some(name) = get_str(volume, &["persistentVolumeClaim", "claimName"]) else { continue };
        let Ok(claim) = cluster.get(claims, jsonpath::namespace(pod), name) else { continue };
        let refs: Vec<Value> =
            items(claim.get("metadata").unwrap_or(&Value::Null), "ownerReferences").cloned().collect();
        let has_pod = refs.iter().any(|r| get_str(r, &["uid"]) == Some(pod_uid));
        if has_pod == want_pod {
            continue;
        }
        let mut kept: Vec<Value> = refs.into_iter().filter(|r| get_str(r, &["uid"]) != Some(pod_uid)).collect();
        if want_pod {
            kept.push(owner_ref(pod));
        }
        let mut updated = (*claim).clone();
        let meta = jsonpath::object_at(&mut updated, &["metadata"]);
        if kept.is_empty() {
            meta.remove("ownerReferences");
        } else {
            meta.insert("ownerReferences".into(), Value::Array(kept));
        }
        update(cluster, pass, claims, &claim, updated, "kube-controller-manager");
    }
}

/// stateful_set_control.go `updateStatefulSet` status, `completeRollingUpdate`, and
/// `inconsistentStatus`; field order and `omitempty` of apps/v1 StatefulSetStatus.
fn write_status(
    cluster: &mut Cluster,
    pass: &mut Pass,
    set: &Value,
    update_revision: &str,
    current_revision: &str,
    rolling: bool,
) {
    let Ok(set) = cluster.get(rid("apps", "statefulsets"), jsonpath::namespace(set), jsonpath::name(set)) else {
        return;
    };
    let min_ready = int(&set, &["spec", "minReadySeconds"]);
    let (mut created, mut ready, mut available, mut current, mut updated) = (0, 0, 0, 0, 0);
    for pod in owned_pods(cluster, &set) {
        created += 1;
        if running_and_ready(&pod) {
            ready += 1;
            if super::deployment::available_for(&pod, min_ready, pass) {
                available += 1;
            }
        }
        if !being_deleted(&pod) {
            if revision_of(&pod) == current_revision {
                current += 1;
            }
            if revision_of(&pod) == update_revision {
                updated += 1;
            }
        }
    }
    let mut current_revision = current_revision.to_string();
    if rolling && updated == created && ready == created {
        current = updated;
        current_revision = update_revision.to_string();
    }
    let mut status = Map::new();
    status.insert("observedGeneration".into(), int(&set, &["metadata", "generation"]).into());
    status.insert("replicas".into(), created.into());
    for (key, n) in [("readyReplicas", ready), ("currentReplicas", current), ("updatedReplicas", updated)] {
        if n != 0 {
            status.insert(key.into(), n.into());
        }
    }
    status.insert("currentRevision".into(), current_revision.into());
    status.insert("updateRevision".into(), update_revision.into());
    status.insert("collisionCount".into(), int(&set, &["status", "collisionCount"]).into());
    status.insert("availableReplicas".into(), available.into());
    set_status(cluster, pass, rid("apps", "statefulsets"), &set, Value::Object(status), "kube-controller-manager");
}
