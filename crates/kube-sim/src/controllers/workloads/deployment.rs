//! The Deployment and ReplicaSet controllers (pkg/controller/deployment,
//! pkg/controller/replicaset): a ReplicaSet `<deployment>-<pod-template-hash>` per template,
//! rolling updates within maxSurge/maxUnavailable or Recreate, old ReplicaSets kept per
//! `revisionHistoryLimit`, pods `<replicaset>-<random>`, and the status and conditions both
//! controllers write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::events::{Event, Recorder, record};
use super::helpers::{
    being_deleted, controller_ref, delete, fnv32, int, objects, opts, owned, owned_pods, pod_from_template, rid,
    running_and_ready, safe_encode, set_status, sorted_json, update,
};
use super::state::Pass;
use crate::model::jsonpath::{self, get, get_str, items};
use crate::registry::Cluster;

const DEPLOYMENTS: Recorder<'static> = Recorder::Controller("deployment-controller");
const REPLICASETS: Recorder<'static> = Recorder::Controller("replicaset-controller");
const HASH: &str = "pod-template-hash";
const REVISION: &str = "deployment.kubernetes.io/revision";

pub fn reconcile(cluster: &mut Cluster, pass: &mut Pass) {
    for d in objects(cluster, rid("apps", "deployments"), None) {
        if !being_deleted(&d) {
            sync_deployment(cluster, pass, &d);
        }
    }
    for rs in objects(cluster, rid("apps", "replicasets"), None) {
        if !being_deleted(&rs) {
            sync_replicaset(cluster, pass, &rs);
        }
    }
}

/// Whether a Ready pod has been Ready for `min_ready` seconds (podutil.IsPodAvailable);
/// when not yet, the pass wakes when it will be.
pub fn available_for(pod: &Value, min_ready: i64, pass: &mut Pass) -> bool {
    if min_ready <= 0 {
        return true;
    }
    let since = items(pod.get("status").unwrap_or(&Value::Null), "conditions")
        .find(|c| get_str(c, &["type"]) == Some("Ready"))
        .and_then(|c| get_str(c, &["lastTransitionTime"]))
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let Some(since) = since else { return false };
    let elapsed = jiff::Timestamp::now().as_second() - since.as_second();
    if elapsed >= min_ready {
        return true;
    }
    pass.wake_at(Instant::now() + Duration::from_secs((min_ready - elapsed) as u64));
    false
}

fn replicas(obj: &Value) -> i64 {
    get(obj, &["spec", "replicas"]).and_then(Value::as_i64).unwrap_or(1)
}

fn active(pod: &Value) -> bool {
    !being_deleted(pod) && !matches!(get_str(pod, &["status", "phase"]), Some("Failed" | "Succeeded"))
}

/// intstr.GetScaledValueFromIntOrPercent
fn scaled(value: Option<&Value>, default: &str, total: i64, round_up: bool) -> i64 {
    let text = match value {
        Some(Value::Number(n)) => return n.as_i64().unwrap_or(0),
        Some(Value::String(s)) => s.clone(),
        _ => default.to_string(),
    };
    let percent: i64 = text.trim_end_matches('%').parse().unwrap_or(0);
    let product = percent * total;
    if round_up { (product + 99) / 100 } else { product / 100 }
}

/// deployment/util `ResolveFenceposts`: maxSurge rounds up, maxUnavailable down, and both
/// zero means one unavailable.
fn fenceposts(d: &Value, desired: i64) -> (i64, i64) {
    let rolling = get(d, &["spec", "strategy", "rollingUpdate"]);
    let surge = scaled(rolling.and_then(|r| r.get("maxSurge")), "25%", desired, true);
    let unavailable = scaled(rolling.and_then(|r| r.get("maxUnavailable")), "25%", desired, false);
    if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
}

fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(HASH);
        if labels.is_empty() {
            t["metadata"].as_object_mut().map(|m| m.remove("labels"));
        }
    }
    t
}

fn revision(rs: &Value) -> i64 {
    get_str(rs, &["metadata", "annotations", REVISION]).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// Scale a ReplicaSet, with the deployment's event and annotations (sync.go `scaleReplicaSet`).
fn scale(cluster: &mut Cluster, pass: &mut Pass, d: &Value, rs: &Value, to: i64, surge: i64) {
    let from = replicas(rs);
    let desired = replicas(d);
    let mut scaled = rs.clone();
    scaled["spec"]["replicas"] = to.into();
    let annotations = jsonpath::object_at(&mut scaled, &["metadata", "annotations"]);
    annotations.insert("deployment.kubernetes.io/desired-replicas".into(), desired.to_string().into());
    annotations.insert("deployment.kubernetes.io/max-replicas".into(), (desired + surge).to_string().into());
    let res = rid("apps", "replicasets");
    update(cluster, pass, res, rs, scaled, "kube-controller-manager");
    if from != to {
        let direction = if to > from { "up" } else { "down" };
        let message = format!("Scaled {direction} replica set {} from {from} to {to}", jsonpath::name(rs));
        record(cluster, pass, DEPLOYMENTS, Event::normal(d, "ScalingReplicaSet", message));
    }
}

fn sync_deployment(cluster: &mut Cluster, pass: &mut Pass, d: &Value) {
    let res = rid("apps", "replicasets");
    let ns = jsonpath::namespace(d).to_string();
    let owned = |cluster: &Cluster| -> Vec<Arc<Value>> { owned(cluster, res, d) };
    let all = owned(cluster);
    let template = get(d, &["spec", "template"]).cloned().unwrap_or(json!({}));
    let desired = replicas(d);
    let (surge, max_unavailable) = fenceposts(d, desired);
    let recreate = get_str(d, &["spec", "strategy", "type"]) == Some("Recreate");
    let paused = get(d, &["spec", "paused"]).and_then(Value::as_bool) == Some(true);
    let mut new_rs =
        all.iter().find(|rs| get(rs, &["spec", "template"]).map(without_hash).as_ref() == Some(&template)).cloned();
    let mut created = false;
    if new_rs.is_none() && !paused {
        // controller.ComputeHash: FNV-1a of the template (and the collision count).
        let mut bytes = serde_json::to_vec(&sorted_json(&template)).unwrap_or_default();
        if let Some(c) = get(d, &["status", "collisionCount"]).and_then(Value::as_i64) {
            bytes.extend((c as u32).to_le_bytes());
        }
        let hash = safe_encode(fnv32(&bytes, true));
        let name = format!("{}-{hash}", jsonpath::name(d));
        let old_pods: i64 = all.iter().map(|rs| replicas(rs)).sum();
        let initial = if recreate {
            if old_pods > 0 { 0 } else { desired }
        } else {
            (desired + surge - old_pods).clamp(0, desired)
        };
        let mut labelled = template.clone();
        jsonpath::object_at(&mut labelled, &["metadata", "labels"]).insert(HASH.into(), hash.clone().into());
        let mut selector = get(d, &["spec", "selector"]).cloned().unwrap_or(json!({}));
        jsonpath::object_at(&mut selector, &["matchLabels"]).insert(HASH.into(), hash.clone().into());
        let mut annotations = Map::new();
        annotations.insert("deployment.kubernetes.io/desired-replicas".into(), desired.to_string().into());
        annotations.insert("deployment.kubernetes.io/max-replicas".into(), (desired + surge).to_string().into());
        let next = all.iter().map(|rs| revision(rs)).max().unwrap_or(0) + 1;
        annotations.insert(REVISION.into(), next.to_string().into());
        let mut spec = json!({ "replicas": initial, "selector": selector, "template": labelled });
        if let Some(m) = get(d, &["spec", "minReadySeconds"]) {
            spec["minReadySeconds"] = m.clone();
        }
        let body = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "labels": get(&labelled, &["metadata", "labels"]).cloned().unwrap_or(json!({})),
                "annotations": annotations,
                "ownerReferences": [controller_ref(d)]
            },
            "spec": spec
        });
        if cluster.create(res, &ns, body, &opts("kube-controller-manager")).is_ok() {
            pass.changed = true;
            created = true;
            let message = format!("Scaled up replica set {name} from 0 to {initial}");
            record(cluster, pass, DEPLOYMENTS, Event::normal(d, "ScalingReplicaSet", message));
            new_rs = cluster.get(res, &ns, &name).ok();
        }
    }
    if !paused && let Some(new) = new_rs.clone() {
        let old: Vec<Arc<Value>> =
            owned(cluster).into_iter().filter(|rs| jsonpath::uid(rs) != jsonpath::uid(&new)).collect();
        if recreate {
            let old_active = old.iter().any(|rs| replicas(rs) > 0)
                || old.iter().any(|rs| owned_pods(cluster, rs).iter().any(|p| active(p)));
            for rs in old.iter().filter(|rs| replicas(rs) > 0) {
                scale(cluster, pass, d, rs, 0, surge);
            }
            if !old_active && replicas(&new) != desired {
                scale(cluster, pass, d, &new, desired, surge);
            }
        } else {
            let all_count: i64 = replicas(&new) + old.iter().map(|rs| replicas(rs)).sum::<i64>();
            let new_count = replicas(&new);
            if new_count > desired {
                scale(cluster, pass, d, &new, desired, surge);
            } else if new_count < desired && all_count < desired + surge {
                let to = new_count + (desired + surge - all_count).min(desired - new_count);
                scale(cluster, pass, d, &new, to, surge);
            }
            // rolling.go `reconcileOldReplicaSets`: scale old ones down as far as availability allows.
            let new = cluster.get(res, &ns, jsonpath::name(&new)).unwrap_or_else(|_| new.clone());
            let all_count: i64 = replicas(&new) + old.iter().map(|rs| replicas(rs)).sum::<i64>();
            let new_unavailable = replicas(&new) - int(&new, &["status", "availableReplicas"]);
            let mut budget = all_count - (desired - max_unavailable) - new_unavailable;
            let mut oldest: Vec<&Arc<Value>> = old.iter().filter(|rs| replicas(rs) > 0).collect();
            oldest.sort_by_key(|rs| get_str(rs, &["metadata", "creationTimestamp"]).unwrap_or_default().to_string());
            for rs in oldest {
                if budget <= 0 {
                    break;
                }
                let down = replicas(rs).min(budget);
                scale(cluster, pass, d, rs, replicas(rs) - down, surge);
                budget -= down;
            }
        }
        cleanup(cluster, pass, d, &new);
    }
    write_deployment_status(cluster, pass, d, new_rs.as_deref(), created, max_unavailable);
}

/// sync.go `cleanupDeployment`: old, empty ReplicaSets beyond revisionHistoryLimit go.
fn cleanup(cluster: &mut Cluster, pass: &mut Pass, d: &Value, new: &Value) {
    let res = rid("apps", "replicasets");
    let limit = get(d, &["spec", "revisionHistoryLimit"]).and_then(Value::as_i64).unwrap_or(10).max(0) as usize;
    let mut empty: Vec<Arc<Value>> = owned(cluster, res, d)
        .into_iter()
        .filter(|rs| jsonpath::uid(rs) != jsonpath::uid(new))
        .filter(|rs| replicas(rs) == 0 && int(rs, &["status", "replicas"]) == 0 && !being_deleted(rs))
        .collect();
    empty.sort_by_key(|rs| revision(rs));
    let excess = empty.len().saturating_sub(limit);
    for rs in empty.into_iter().take(excess) {
        delete(cluster, pass, res, &rs, None);
    }
}

/// A deployment condition set as deployment/util `SetDeploymentCondition` sets it: an
/// unchanged one is kept; a changed one moves to the end, its transition time kept when only
/// the reason changed.
fn set_condition(conditions: &mut Vec<Value>, kind: &str, status: bool, reason: &str, message: &str, now: &str) {
    let status = if status { "True" } else { "False" };
    let existing = conditions.iter().position(|c| get_str(c, &["type"]) == Some(kind));
    if let Some(i) = existing {
        let c = &conditions[i];
        if get_str(c, &["status"]) == Some(status) && get_str(c, &["reason"]) == Some(reason) {
            if get_str(c, &["message"]) != Some(message) {
                conditions[i]["message"] = message.into();
                conditions[i]["lastUpdateTime"] = now.into();
            }
            return;
        }
    }
    let transition = existing
        .filter(|i| get_str(&conditions[*i], &["status"]) == Some(status))
        .and_then(|i| get_str(&conditions[i], &["lastTransitionTime"]).map(str::to_string))
        .unwrap_or_else(|| now.to_string());
    if let Some(i) = existing {
        conditions.remove(i);
    }
    conditions.push(json!({
        "type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": transition, "reason": reason, "message": message
    }));
}

fn write_deployment_status(
    cluster: &mut Cluster,
    pass: &mut Pass,
    d: &Value,
    new: Option<&Value>,
    created: bool,
    max_unavailable: i64,
) {
    let res = rid("apps", "replicasets");
    let all: Vec<Arc<Value>> = owned(cluster, res, d);
    let new = new.and_then(|n| all.iter().find(|rs| jsonpath::uid(rs) == jsonpath::uid(n)).cloned());
    let sum = |key: &str| all.iter().map(|rs| int(rs, &["status", key])).sum::<i64>();
    let desired = replicas(d);
    let total = sum("replicas");
    let updated = new.as_ref().map_or(0, |n| int(n, &["status", "replicas"]));
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let now = crate::model::util::now_rfc3339();
    let mut conditions: Vec<Value> = items(d.get("status").unwrap_or(&Value::Null), "conditions").cloned().collect();
    if available >= desired - max_unavailable {
        set_condition(
            &mut conditions,
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
            &now,
        );
    } else {
        set_condition(
            &mut conditions,
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &now,
        );
    }
    if let Some(new) = &new {
        let name = crate::model::status::go_quote(jsonpath::name(new));
        let complete = updated == desired && total == desired && available == desired;
        if complete {
            set_condition(
                &mut conditions,
                "Progressing",
                true,
                "NewReplicaSetAvailable",
                &format!("ReplicaSet {name} has successfully progressed."),
                &now,
            );
        } else if created {
            set_condition(
                &mut conditions,
                "Progressing",
                true,
                "NewReplicaSetCreated",
                &format!("Created new replica set {name}"),
                &now,
            );
        } else {
            set_condition(
                &mut conditions,
                "Progressing",
                true,
                "ReplicaSetUpdated",
                &format!("ReplicaSet {name} is progressing."),
                &now,
            );
        }
    }
    let mut status = Map::new();
    status.insert("observedGeneration".into(), int(d, &["metadata", "generation"]).into());
    for (key, n) in
        [("replicas", total), ("updatedReplicas", updated), ("readyReplicas", ready), ("availableReplicas", available)]
    {
        if n != 0 {
            status.insert(key.into(), n.into());
        }
    }
    if desired - available > 0 {
        status.insert("unavailableReplicas".into(), (desired - available).into());
    }
    status.insert("conditions".into(), Value::Array(conditions));
    if let Some(c) = get(d, &["status", "collisionCount"]) {
        status.insert("collisionCount".into(), c.clone());
    }
    set_status(cluster, pass, rid("apps", "deployments"), d, Value::Object(status), "kube-controller-manager");
}

/// controller_utils.go `ActivePodsWithRanks`: which pods go first when scaling down.
fn deletion_rank(pod: &Value) -> (u8, std::cmp::Reverse<String>) {
    let rank = if get_str(pod, &["spec", "nodeName"]).unwrap_or_default().is_empty() {
        0
    } else if get_str(pod, &["status", "phase"]) == Some("Pending") {
        1
    } else if !running_and_ready(pod) {
        2
    } else {
        3
    };
    (rank, std::cmp::Reverse(get_str(pod, &["metadata", "creationTimestamp"]).unwrap_or_default().to_string()))
}

fn sync_replicaset(cluster: &mut Cluster, pass: &mut Pass, rs: &Value) {
    let pods = rid("", "pods");
    let ns = jsonpath::namespace(rs).to_string();
    let name = jsonpath::name(rs).to_string();
    let mut live: Vec<Arc<Value>> = owned_pods(cluster, rs).into_iter().filter(|p| active(p)).collect();
    let desired = replicas(rs);
    let count = live.len() as i64;
    if count < desired {
        let template = get(rs, &["spec", "template"]).cloned().unwrap_or(json!({}));
        for _ in count..desired {
            let pod = pod_from_template(&template, rs, &format!("{name}-"));
            match cluster.create(pods, &ns, pod, &opts("kube-controller-manager")) {
                Ok(w) => {
                    pass.changed = true;
                    let message = format!("Created pod: {}", jsonpath::name(&w.object));
                    record(cluster, pass, REPLICASETS, Event::normal(rs, "SuccessfulCreate", message));
                }
                Err(e) => {
                    record(
                        cluster,
                        pass,
                        REPLICASETS,
                        Event::warning(rs, "FailedCreate", format!("Error creating: {}", e.message)),
                    );
                    break;
                }
            }
        }
    } else if count > desired {
        live.sort_by_key(|p| deletion_rank(p));
        for pod in live.iter().take((count - desired) as usize) {
            if delete(cluster, pass, pods, pod, None) {
                let message = format!("Deleted pod: {}", jsonpath::name(pod));
                record(cluster, pass, REPLICASETS, Event::normal(rs, "SuccessfulDelete", message));
            }
        }
    }
    // replica_set_utils.go `calculateStatus`.
    let Ok(rs) = cluster.get(rid("apps", "replicasets"), &ns, &name) else { return };
    let template_labels =
        get(&rs, &["spec", "template", "metadata", "labels"]).and_then(Value::as_object).cloned().unwrap_or_default();
    let min_ready = int(&rs, &["spec", "minReadySeconds"]);
    let (mut total, mut labelled, mut ready, mut available) = (0, 0, 0, 0);
    for pod in owned_pods(cluster, &rs).iter().filter(|p| active(p)) {
        total += 1;
        let labels = jsonpath::labels(pod).cloned().unwrap_or_default();
        if template_labels.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            labelled += 1;
        }
        if running_and_ready(pod) {
            ready += 1;
            if available_for(pod, min_ready, pass) {
                available += 1;
            }
        }
    }
    let mut status = Map::new();
    status.insert("replicas".into(), total.into());
    for (key, n) in [("fullyLabeledReplicas", labelled), ("readyReplicas", ready), ("availableReplicas", available)] {
        if n != 0 {
            status.insert(key.into(), n.into());
        }
    }
    status.insert("observedGeneration".into(), int(&rs, &["metadata", "generation"]).into());
    set_status(cluster, pass, rid("apps", "replicasets"), &rs, Value::Object(status), "kube-controller-manager");
}
