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
mod kubelet;
mod node;
mod statefulset;
mod volumes;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::cluster::{Cluster, DeleteOpts, FieldValidation, Sub, WriteOpts};
use crate::jsonpath::{self, get, get_str, items};
use crate::resources::{self, ResId};
use crate::selectors::{LabelSelector, parse_label_selector};

/// How workloads behave.
#[derive(Debug, Clone)]
pub struct Workloads {
    /// Run the scheduler, kubelet and controllers (off in-process unless enabled; on in the
    /// standalone binary).
    pub enabled: bool,
    /// From a pod's binding to its containers running (sandbox, image pull, start).
    pub start_delay: Duration,
    /// From containers running to the pod being Ready.
    pub ready_delay: Duration,
    /// From a graceful pod deletion to the kubelet's final delete.
    pub termination_delay: Duration,
    /// The node's pod CIDR (IPv4), where pod IPs come from.
    pub pod_cidr: String,
}

impl Default for Workloads {
    fn default() -> Self {
        Workloads {
            enabled: false,
            start_delay: Duration::ZERO,
            ready_delay: Duration::ZERO,
            termination_delay: Duration::ZERO,
            pod_cidr: "10.244.0.0/24".into(),
        }
    }
}

/// A state a pod is held in (test control), with the status and Warning events the kubelet
/// or scheduler reports for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodHold {
    /// Pending, not scheduled: condition PodScheduled False/Unschedulable, event
    /// FailedScheduling.
    Unschedulable,
    /// Bound, its sandbox never ready: waiting/ContainerCreating.
    ContainerCreating,
    /// Its first container's image cannot be pulled: ErrImagePull, then ImagePullBackOff.
    ImagePullBackOff,
    /// Its first container keeps exiting with code 1: waiting/CrashLoopBackOff after
    /// `restarts` restarts.
    CrashLoopBackOff { restarts: u32 },
    /// Running, its readiness failing: Ready False (event Unhealthy when it has a readiness
    /// probe).
    NotReady,
}

/// Which pods a hold applies to: by name, or by label selector, in one namespace.
#[derive(Debug, Clone)]
pub struct PodMatch {
    namespace: String,
    name: Option<String>,
    selector: Option<LabelSelector>,
}

impl PodMatch {
    pub fn name(namespace: &str, name: &str) -> PodMatch {
        PodMatch { namespace: namespace.into(), name: Some(name.into()), selector: None }
    }

    /// Pods whose labels match `selector` (label selector syntax: `app=web,tier!=db`).
    pub fn labels(namespace: &str, selector: &str) -> Result<PodMatch, String> {
        let selector = parse_label_selector(selector)?;
        Ok(PodMatch { namespace: namespace.into(), name: None, selector: Some(selector) })
    }

    fn matches(&self, pod: &Value) -> bool {
        jsonpath::namespace(pod) == self.namespace
            && self.name.as_deref().is_none_or(|n| n == jsonpath::name(pod))
            && self.selector.as_ref().is_none_or(|s| s.matches(jsonpath::labels(pod)))
    }
}

/// What the kubelet remembers about a pod it runs (by uid).
#[derive(Debug, Default)]
struct Runtime {
    /// When the kubelet first saw the pod bound to its node.
    admitted: Option<Instant>,
    /// Sandbox ready: the pod IP.
    ip: Option<String>,
    /// Containers started.
    started: Option<Instant>,
    /// Graceful deletion noticed.
    killing: Option<Instant>,
    /// Events already reported (so each is reported once per transition).
    reported: HashSet<String>,
}

/// The mode's state, kept with the cluster.
#[derive(Debug, Default)]
pub struct State {
    pub config: Workloads,
    /// What the node's kubelet reports (the server's version).
    kubelet_version: String,
    holds: Vec<(PodMatch, PodHold)>,
    runtimes: HashMap<String, Runtime>,
    /// Images present on the node (pulled once).
    images: HashSet<String>,
    /// Pod IPs in use, by pod uid.
    ips: HashMap<String, String>,
}

impl State {
    pub fn new(config: Workloads, kubelet_version: &str) -> State {
        State { config, kubelet_version: kubelet_version.into(), ..Default::default() }
    }

    pub fn hold(&mut self, pods: PodMatch, hold: PodHold) {
        self.release(&pods);
        self.holds.push((pods, hold));
    }

    /// Remove the holds set with an equal match.
    pub fn release(&mut self, pods: &PodMatch) {
        self.holds
            .retain(|(m, _)| !(m.namespace == pods.namespace && m.name == pods.name && m.selector == pods.selector));
    }

    fn hold_of(&self, pod: &Value) -> Option<&PodHold> {
        self.holds.iter().rev().find(|(m, _)| m.matches(pod)).map(|(_, h)| h)
    }
}

/// The outcome of a pass: whether anything was written, and when the next timed step is due.
#[derive(Debug, Default)]
pub struct Pass {
    pub changed: bool,
    pub wake: Option<Instant>,
}

impl Pass {
    fn wake_at(&mut self, at: Instant) {
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }
}

/// One pass of every workload component.
pub fn reconcile(cluster: &mut Cluster) -> Pass {
    let mut pass = Pass::default();
    if !cluster.workloads.config.enabled {
        return pass;
    }
    node::ensure(cluster, &mut pass);
    volumes::reconcile(cluster, &mut pass);
    statefulset::reconcile(cluster, &mut pass);
    deployment::reconcile(cluster, &mut pass);
    kubelet::reconcile(cluster, &mut pass);
    endpoints::reconcile(cluster, &mut pass);
    pass
}

// ---------------------------------------------------------------- shared helpers

fn rid(group: &str, plural: &str) -> ResId {
    resources::find(group, "v1", plural).expect("served resource")
}

fn opts(manager: &str) -> WriteOpts {
    WriteOpts { dry_run: false, manager: manager.into(), validation: FieldValidation::Ignore }
}

/// The stored objects of a resource (in a namespace).
fn objects(cluster: &Cluster, res: ResId, namespace: Option<&str>) -> Vec<Arc<Value>> {
    cluster.store.list(res, namespace).map(|(_, v)| v.clone()).collect()
}

fn being_deleted(obj: &Value) -> bool {
    get(obj, &["metadata", "deletionTimestamp"]).is_some()
}

/// The uid of the object's controller (the owner reference with `controller: true`).
fn controller_uid(obj: &Value) -> Option<&str> {
    items(obj.get("metadata").unwrap_or(&Value::Null), "ownerReferences")
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| get_str(r, &["uid"]))
}

/// metav1.NewControllerRef
fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": get_str(owner, &["apiVersion"]).unwrap_or_default(),
        "kind": get_str(owner, &["kind"]).unwrap_or_default(),
        "name": jsonpath::name(owner),
        "uid": jsonpath::uid(owner),
        "controller": true,
        "blockOwnerDeletion": true
    })
}

fn condition_true(obj: &Value, kind: &str) -> bool {
    items(obj.get("status").unwrap_or(&Value::Null), "conditions")
        .any(|c| get_str(c, &["type"]) == Some(kind) && get_str(c, &["status"]) == Some("True"))
}

/// pkg/api/v1/pod `IsPodReady`, with the phase (controllers' `isRunningAndReady`).
fn running_and_ready(pod: &Value) -> bool {
    get_str(pod, &["status", "phase"]) == Some("Running") && condition_true(pod, "Ready")
}

/// A condition with the transition time kept while its status does not change.
fn condition(previous: &Value, kind: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    let status = if status { "True" } else { "False" };
    let before = items(previous, "conditions").find(|c| get_str(c, &["type"]) == Some(kind));
    let since = match before {
        Some(c) if get_str(c, &["status"]) == Some(status) => {
            get_str(c, &["lastTransitionTime"]).unwrap_or(now).to_string()
        }
        _ => now.to_string(),
    };
    let mut c = Map::new();
    c.insert("type".into(), kind.into());
    c.insert("status".into(), status.into());
    c.insert("lastTransitionTime".into(), since.into());
    if !reason.is_empty() {
        c.insert("reason".into(), reason.into());
    }
    if !message.is_empty() {
        c.insert("message".into(), message.into());
    }
    Value::Object(c)
}

/// Write `status` through the status subresource unless it is already there.
fn set_status(cluster: &mut Cluster, pass: &mut Pass, res: ResId, obj: &Value, status: Value, manager: &str) {
    if obj.get("status") == Some(&status) {
        return;
    }
    let mut updated = obj.clone();
    updated["status"] = status;
    write(cluster, pass, res, obj, updated, Sub::Status, manager);
}

/// Write `obj` (a modified copy of a stored object) unless nothing changed.
fn update(cluster: &mut Cluster, pass: &mut Pass, res: ResId, before: &Value, obj: Value, manager: &str) {
    if *before != obj {
        write(cluster, pass, res, before, obj, Sub::Main, manager);
    }
}

/// An unconditional update; the pass changed something only when a new resourceVersion was
/// written (the server's no-op detection may find nothing to write).
fn write(cluster: &mut Cluster, pass: &mut Pass, res: ResId, before: &Value, mut obj: Value, sub: Sub, manager: &str) {
    jsonpath::object_at(&mut obj, &["metadata"]).remove("resourceVersion");
    let (ns, name) = (jsonpath::namespace(before).to_string(), jsonpath::name(before).to_string());
    if let Ok(w) = cluster.update(res, &ns, &name, obj, sub, &opts(manager)) {
        pass.changed |= jsonpath::meta(&w.object, "resourceVersion") != jsonpath::meta(before, "resourceVersion");
    }
}

fn delete(cluster: &mut Cluster, pass: &mut Pass, res: ResId, obj: &Value, grace: Option<i64>) -> bool {
    let opts = DeleteOpts {
        grace_period: grace,
        uid_precondition: Some(jsonpath::uid(obj).to_string()),
        ..Default::default()
    };
    let done = cluster.delete(res, jsonpath::namespace(obj), jsonpath::name(obj), &opts).is_ok();
    pass.changed |= done;
    done
}

/// Go's `hash/fnv` 32-bit FNV-1 (`New32`) and FNV-1a (`New32a`).
fn fnv32(data: &[u8], alternate: bool) -> u32 {
    data.iter().fold(0x811c_9dc5u32, |h, b| {
        if alternate {
            (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
        } else {
            h.wrapping_mul(0x0100_0193) ^ u32::from(*b)
        }
    })
}

/// staging/src/k8s.io/apimachinery/pkg/util/rand `SafeEncodeString` of a hash's decimal form.
fn safe_encode(hash: u32) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

/// JSON with object keys sorted at every level, as Go marshals a `map[string]interface{}`.
fn sorted_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted_json(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_json).collect()),
        other => other.clone(),
    }
}

/// A pod's object created from a controller's template (pkg/controller/controller_utils.go
/// `GetPodFromTemplate`): the template's labels, annotations, finalizers and spec, the
/// controller reference, and `generateName`.
fn pod_from_template(template: &Value, owner: &Value, generate_name: &str) -> Value {
    let meta = template.get("metadata").cloned().unwrap_or(json!({}));
    let mut metadata = Map::new();
    metadata.insert("generateName".into(), generate_name.into());
    for key in ["labels", "annotations", "finalizers"] {
        if let Some(v) = meta.get(key).filter(|v| !v.is_null()) {
            metadata.insert(key.into(), v.clone());
        }
    }
    metadata.insert("ownerReferences".into(), json!([controller_ref(owner)]));
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
}

/// Pods whose controller is `owner`.
fn owned_pods(cluster: &Cluster, owner: &Value) -> Vec<Arc<Value>> {
    let uid = jsonpath::uid(owner);
    objects(cluster, rid("", "pods"), Some(jsonpath::namespace(owner)))
        .into_iter()
        .filter(|p| controller_uid(p) == Some(uid))
        .collect()
}

fn int(v: &Value, path: &[&str]) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_go() {
        // hash/fnv test vectors: FNV-1 and FNV-1a of "a".
        assert_eq!(fnv32(b"a", false), 0x050c5d7e);
        assert_eq!(fnv32(b"a", true), 0xe40c292c);
        // rand.SafeEncodeString maps each byte modulo the alphabet.
        assert_eq!(safe_encode(0), "4");
        assert_eq!(safe_encode(123), "567");
    }
}
