//! The default scheduler and the node's kubelet.
//!
//! Scheduler (pkg/scheduler): a pending pod whose volumes are bound is bound to the node
//! (event Scheduled); a pod held Unschedulable gets condition PodScheduled False and event
//! FailedScheduling with the scheduler's message.
//!
//! Kubelet (pkg/kubelet): the pod status it reports (pkg/kubelet/status/generate.go and
//! kubelet_pods.go `generateAPIPodStatus`: phase, the five conditions in the kubelet's order,
//! host and pod IPs, start time, init and container statuses) as the pod goes from
//! ContainerCreating to Running and Ready; the container events of
//! pkg/kubelet/kuberuntime/kuberuntime_container.go and pkg/kubelet/images/image_manager.go
//! (Pulling, Pulled, Created, Started, Killing, and the failure events of the holds); and the
//! end of a graceful deletion (the final delete with grace period 0).

use std::collections::{BTreeSet, HashSet};
use std::time::Instant;

use serde_json::{Map, Value, json};

use super::events::{Event, Recorder, record};
use super::helpers::{being_deleted, condition, delete, objects, rid, set_status};
use super::node::{NODE, NODE_IP};
use super::state::{Pass, PodHold, Runtime, State};
use crate::model::jsonpath::{self, get, get_str, items};
use crate::registry::Cluster;
use crate::registry::store::{EventType, Key};

/// One pass of the scheduler and the kubelet over the pods that changed since the last pass,
/// those whose timed step is due, and those waiting for a pod IP once one is freed (every pod
/// on the first pass); a pod none of these touched has nothing to do.
pub fn reconcile(cluster: &mut Cluster, node: &mut State, pass: &mut Pass) {
    let pods_res = rid("", "pods");
    let claims = rid("", "persistentvolumeclaims");
    let now = Instant::now();
    let keys: Vec<Key> = match node.kubelet.changes(&cluster.store) {
        None => {
            let pods = objects(cluster, pods_res, None);
            let live: HashSet<&str> = pods.iter().map(|p| jsonpath::uid(p)).collect();
            let state = &mut *node;
            state.runtimes.retain(|uid, _| live.contains(uid.as_str()));
            state.ips.retain(|uid| live.contains(uid));
            state.timed.clear();
            state.ip_waiters.clear();
            cluster.store.list(pods_res, None).map(|(k, _)| k.clone()).collect()
        }
        Some(events) => {
            let mut keys = BTreeSet::new();
            let mut freed = false;
            for e in &events {
                if e.key.res == pods_res {
                    if e.kind == EventType::Deleted {
                        let uid = jsonpath::uid(&e.object);
                        node.runtimes.remove(uid);
                        freed |= node.ips.remove(uid).is_some();
                        node.timed.remove(&e.key);
                        node.ip_waiters.remove(&e.key);
                    }
                    keys.insert(e.key.clone());
                } else if e.key.res == claims {
                    // The scheduler's VolumeBinding waits for the claims of the namespace's pods.
                    keys.extend(cluster.store.list(pods_res, Some(&e.key.namespace)).map(|(k, _)| k.clone()));
                }
            }
            keys.extend(node.timed.iter().filter(|(_, due)| **due <= now).map(|(k, _)| k.clone()));
            if freed {
                keys.extend(node.ip_waiters.iter().cloned());
            }
            keys.into_iter().collect()
        }
    };
    // The pods as the pass starts.
    let pods: Vec<(Key, std::sync::Arc<Value>)> =
        keys.into_iter().filter_map(|k| cluster.store.get(&k).cloned().map(|p| (k, p))).collect();
    for (key, pod) in pods {
        let before = pass.wake.take();
        let waiting_for_ip = match get_str(&pod, &["spec", "nodeName"]).unwrap_or_default() {
            "" => {
                schedule(cluster, node, pass, &pod);
                false
            }
            NODE if being_deleted(&pod) => {
                terminate(cluster, node, pass, &pod, now);
                false
            }
            NODE => run(cluster, node, pass, &pod, now),
            _ => false,
        };
        match pass.wake {
            Some(due) => node.timed.insert(key.clone(), due),
            None => node.timed.remove(&key),
        };
        if waiting_for_ip {
            node.ip_waiters.insert(key);
        } else {
            node.ip_waiters.remove(&key);
        }
        pass.wake = before;
    }
    // The timed steps of pods this pass did not look at.
    if let Some(due) = node.timed.values().min() {
        pass.wake_at(*due);
    }
}

// ---------------------------------------------------------------- scheduler

/// The scheduler's message for a pod that fits no node (pkg/scheduler/schedule_one.go
/// `FitError.Error` with the preemption diagnosis).
const UNSCHEDULABLE: &str = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";

fn schedule(cluster: &mut Cluster, node: &mut State, pass: &mut Pass, pod: &Value) {
    if being_deleted(pod)
        || get_str(pod, &["spec", "schedulerName"]).unwrap_or("default-scheduler") != "default-scheduler"
    {
        return;
    }
    let pods = rid("", "pods");
    if node.hold_of(pod) == Some(&PodHold::Unschedulable) {
        let status = pod.get("status").cloned().unwrap_or(json!({}));
        let already = items(&status, "conditions")
            .any(|c| get_str(c, &["type"]) == Some("PodScheduled") && get_str(c, &["reason"]) == Some("Unschedulable"));
        if !already {
            let now = crate::model::util::now_rfc3339();
            let mut updated = status.clone();
            updated["phase"] = "Pending".into();
            updated["conditions"] =
                json!([condition(&status, "PodScheduled", false, "Unschedulable", UNSCHEDULABLE, &now)]);
            set_status(cluster, pass, pods, pod, updated, "kube-scheduler");
            record(
                cluster,
                pass,
                Recorder::Scheduler("Scheduling"),
                Event::warning(pod, "FailedScheduling", UNSCHEDULABLE.into()),
            );
        }
        return;
    }
    // VolumeBinding: every claim must exist and be bound first.
    let claims = rid("", "persistentvolumeclaims");
    let ns = jsonpath::namespace(pod).to_string();
    let unbound = items(pod.get("spec").unwrap_or(&Value::Null), "volumes")
        .filter_map(|v| get_str(v, &["persistentVolumeClaim", "claimName"]))
        .any(|claim| {
            cluster.get(claims, &ns, claim).map_or(true, |c| get_str(&c, &["status", "phase"]) != Some("Bound"))
        });
    if unbound {
        return;
    }
    let binding = json!({ "metadata": { "name": jsonpath::name(pod) }, "target": { "kind": "Node", "name": NODE } });
    if cluster.bind(&ns, jsonpath::name(pod), &binding, &super::helpers::opts("kube-scheduler")).is_ok() {
        pass.changed = true;
        let message = format!("Successfully assigned {ns}/{} to {NODE}", jsonpath::name(pod));
        record(cluster, pass, Recorder::Scheduler("Binding"), Event::normal(pod, "Scheduled", message));
    }
}

// ---------------------------------------------------------------- kubelet

/// How one container is doing.
enum Container {
    Waiting { reason: &'static str, message: Option<String> },
    Running { ready: bool },
    Completed,
    CrashLoop { restarts: u32, backoff: String },
}

/// `docker.io/library/nginx:latest` for `nginx` (the reference containerd reports).
fn normalized_image(image: &str) -> String {
    let (name, tagged) = match image.split_once('@') {
        Some((name, _)) => (name.to_string(), true),
        None => (image.to_string(), image.rsplit('/').next().is_some_and(|last| last.contains(':'))),
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_registry = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = match (has_registry, name.contains('/')) {
        (true, _) => name,
        (false, true) => format!("docker.io/{name}"),
        (false, false) => format!("docker.io/library/{name}"),
    };
    if let Some((_, digest)) = image.split_once('@') {
        full = format!("{full}@{digest}");
    } else if !tagged {
        full.push_str(":latest");
    }
    full
}

fn hex_digest(seed: &str) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(seed.as_bytes()))
}

fn image_id(image: &str) -> String {
    let full = normalized_image(image);
    let repo = full.split('@').next().unwrap_or_default();
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    format!("{repo}@sha256:{}", hex_digest(&full))
}

/// pkg/kubelet/util/format `Pod`: `name_namespace(uid)`.
fn format_pod(pod: &Value) -> String {
    format!("{}_{}({})", jsonpath::name(pod), jsonpath::namespace(pod), jsonpath::uid(pod))
}

/// The crash-loop back-off after `restarts` restarts (10s doubling, at most 5m), as Go
/// prints durations.
fn backoff(restarts: u32) -> String {
    let secs = (10u64 << restarts.saturating_sub(1).min(5)).min(300);
    if secs < 60 { format!("{secs}s") } else { format!("{}m{}s", secs / 60, secs % 60) }
}

fn status_of(previous: &Value, name: &str, list: &str) -> Option<Value> {
    items(previous, list).find(|c| get_str(c, &["name"]) == Some(name)).cloned()
}

/// A `v1.ContainerStatus` (field order of the Go type), times kept from the previous status.
fn container_status(pod: &Value, spec: &Value, state: &Container, previous: Option<&Value>, now: &str) -> Value {
    let name = get_str(spec, &["name"]).unwrap_or_default();
    let image = get_str(spec, &["image"]).unwrap_or_default();
    let container_id = format!("containerd://{}", hex_digest(&format!("{}/{name}", jsonpath::uid(pod))));
    let since = |path: &[&str]| previous.and_then(|p| get_str(p, path)).unwrap_or(now).to_string();
    let mut s = Map::new();
    s.insert("name".into(), name.into());
    let (state_value, last, ready, restarts, started, created) = match state {
        Container::Waiting { reason, message } => {
            let mut w = Map::new();
            w.insert("reason".into(), (*reason).into());
            if let Some(m) = message {
                w.insert("message".into(), m.clone().into());
            }
            (json!({ "waiting": w }), json!({}), false, 0, false, false)
        }
        Container::Running { ready } => (
            json!({ "running": { "startedAt": since(&["state", "running", "startedAt"]) } }),
            json!({}),
            *ready,
            0,
            true,
            true,
        ),
        Container::Completed => (
            json!({ "terminated": {
                "exitCode": 0, "reason": "Completed",
                "startedAt": since(&["state", "terminated", "startedAt"]),
                "finishedAt": since(&["state", "terminated", "finishedAt"]),
                "containerID": container_id
            } }),
            json!({}),
            false,
            0,
            false,
            true,
        ),
        Container::CrashLoop { restarts, backoff } => (
            json!({ "waiting": {
                "reason": "CrashLoopBackOff",
                "message": format!("back-off {backoff} restarting failed container={name} pod={}", format_pod(pod))
            } }),
            json!({ "terminated": {
                "exitCode": 1, "reason": "Error",
                "startedAt": since(&["lastState", "terminated", "startedAt"]),
                "finishedAt": since(&["lastState", "terminated", "finishedAt"]),
                "containerID": container_id
            } }),
            false,
            *restarts,
            false,
            true,
        ),
    };
    s.insert("state".into(), state_value);
    s.insert("lastState".into(), last);
    s.insert("ready".into(), ready.into());
    s.insert("restartCount".into(), restarts.into());
    s.insert("image".into(), normalized_image(image).into());
    s.insert("imageID".into(), if created { image_id(image) } else { String::new() }.into());
    if created {
        s.insert("containerID".into(), container_id.into());
    }
    s.insert("started".into(), started.into());
    let mounts: Vec<Value> = items(spec, "volumeMounts")
        .map(|m| {
            let mut v = Map::new();
            v.insert("name".into(), get(m, &["name"]).cloned().unwrap_or_default());
            v.insert("mountPath".into(), get(m, &["mountPath"]).cloned().unwrap_or_default());
            if m.get("readOnly").and_then(Value::as_bool) == Some(true) {
                v.insert("readOnly".into(), true.into());
                v.insert("recursiveReadOnly".into(), "Disabled".into());
            }
            Value::Object(v)
        })
        .collect();
    if !mounts.is_empty() {
        s.insert("volumeMounts".into(), Value::Array(mounts));
    }
    Value::Object(s)
}

/// The node's IP for the pod (kept across passes).
fn allocate_ip(node: &mut State, uid: &str) -> Option<String> {
    let cidr = node.config.pod_cidr.clone();
    node.ips.allocate(&cidr, uid)
}

/// Record a container event once per pod (keyed by `key`).
fn once(cluster: &mut Cluster, node: &mut State, pass: &mut Pass, pod: &Value, key: &str, event: Event<'_>) {
    let uid = jsonpath::uid(pod).to_string();
    let fresh = node.runtimes.entry(uid).or_default().reported.insert(key.into());
    if fresh {
        record(cluster, pass, Recorder::Kubelet(NODE), event);
    }
}

/// The image events of starting a container: a pull, unless the image is present and the
/// policy allows using it.
fn pull_events(cluster: &mut Cluster, node: &mut State, pass: &mut Pass, pod: &Value, spec: &Value) {
    let name = get_str(spec, &["name"]).unwrap_or_default();
    let image = get_str(spec, &["image"]).unwrap_or_default();
    let policy = get_str(spec, &["imagePullPolicy"]).unwrap_or("IfNotPresent");
    let present = node.images.contains(&normalized_image(image));
    if present && policy != "Always" {
        let message = format!("Container image {} already present on machine", crate::model::status::go_quote(image));
        once(
            cluster,
            node,
            pass,
            pod,
            &format!("pulled/{name}"),
            Event::normal(pod, "Pulled", message).container(name),
        );
        return;
    }
    let quoted = crate::model::status::go_quote(image);
    once(
        cluster,
        node,
        pass,
        pod,
        &format!("pulling/{name}"),
        Event::normal(pod, "Pulling", format!("Pulling image {quoted}")).container(name),
    );
    let size = 10_000_000 + (u64::from_str_radix(&hex_digest(image)[..6], 16).unwrap_or(0) % 90_000_000);
    let message =
        format!("Successfully pulled image {quoted} in 1.2s (1.2s including waiting). Image size: {size} bytes.");
    once(cluster, node, pass, pod, &format!("pulled/{name}"), Event::normal(pod, "Pulled", message).container(name));
    node.images.insert(normalized_image(image));
}

fn start_events(cluster: &mut Cluster, node: &mut State, pass: &mut Pass, pod: &Value, spec: &Value, times: u32) {
    let name = get_str(spec, &["name"]).unwrap_or_default();
    pull_events(cluster, node, pass, pod, spec);
    once(
        cluster,
        node,
        pass,
        pod,
        &format!("created/{name}"),
        Event::normal(pod, "Created", format!("Created container: {name}")).container(name).times(times),
    );
    once(
        cluster,
        node,
        pass,
        pod,
        &format!("started/{name}"),
        Event::normal(pod, "Started", format!("Started container {name}")).container(name).times(times),
    );
}

/// The kubelet's sync of a pod bound to its node; returns whether the pod waits for a free
/// pod IP.
fn run(cluster: &mut Cluster, node: &mut State, pass: &mut Pass, pod: &Value, now: Instant) -> bool {
    let uid = jsonpath::uid(pod).to_string();
    let hold = node.hold_of(pod).cloned();
    let config = node.config.clone();
    let runtime: &mut Runtime = node.runtimes.entry(uid.clone()).or_default();
    let admitted = *runtime.admitted.get_or_insert(now);
    let sandbox_due = admitted + config.start_delay;
    let sandbox_ready = hold != Some(PodHold::ContainerCreating) && now >= sandbox_due;
    if hold != Some(PodHold::ContainerCreating) && !sandbox_ready {
        pass.wake_at(sandbox_due);
    }
    if sandbox_ready && runtime.started.is_none() {
        runtime.started = Some(now);
    }
    let started = runtime.started;
    let ready_due = started.map(|s| s + config.ready_delay);
    if let Some(due) = ready_due.filter(|d| *d > now) {
        pass.wake_at(due);
    }
    let host_network = get(pod, &["spec", "hostNetwork"]).and_then(Value::as_bool) == Some(true);
    let ip = if !sandbox_ready {
        None
    } else if host_network {
        Some(NODE_IP.to_string())
    } else {
        allocate_ip(node, &uid)
    };
    if let Some(ip) = &ip {
        node.runtimes.entry(uid.clone()).or_default().ip = Some(ip.clone());
    }
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    let previous = pod.get("status").cloned().unwrap_or(json!({}));
    let now_text = crate::model::util::now_rfc3339();
    let containers: Vec<Value> = items(&spec, "containers").cloned().collect();
    let inits: Vec<Value> = items(&spec, "initContainers").cloned().collect();

    // Init containers run to completion once the sandbox is up.
    let mut init_statuses = Vec::new();
    for c in &inits {
        let state = if sandbox_ready {
            start_events(cluster, node, pass, pod, c, 1);
            Container::Completed
        } else {
            Container::Waiting { reason: "PodInitializing", message: None }
        };
        let name = get_str(c, &["name"]).unwrap_or_default();
        init_statuses.push(container_status(
            pod,
            c,
            &state,
            status_of(&previous, name, "initContainerStatuses").as_ref(),
            &now_text,
        ));
    }
    let mut statuses = Vec::new();
    let mut unready = Vec::new();
    let ready_now = ready_due.is_some_and(|d| now >= d);
    for (i, c) in containers.iter().enumerate() {
        let name = get_str(c, &["name"]).unwrap_or_default().to_string();
        let image = get_str(c, &["image"]).unwrap_or_default().to_string();
        let first = i == 0;
        let state = if !sandbox_ready {
            let reason = if inits.is_empty() { "ContainerCreating" } else { "PodInitializing" };
            Container::Waiting { reason, message: None }
        } else {
            match &hold {
                Some(PodHold::ImagePullBackOff) if first => {
                    image_pull_failure(cluster, node, pass, pod, c);
                    Container::Waiting {
                        reason: "ImagePullBackOff",
                        message: Some(format!(
                            "Back-off pulling image {}: ErrImagePull: {}",
                            crate::model::status::go_quote(&image),
                            pull_error(&image)
                        )),
                    }
                }
                Some(PodHold::CrashLoopBackOff { restarts }) if first => {
                    start_events(cluster, node, pass, pod, c, restarts + 1);
                    let message = format!("Back-off restarting failed container {name} in pod {}", format_pod(pod));
                    once(
                        cluster,
                        node,
                        pass,
                        pod,
                        &format!("backoff/{name}/{restarts}"),
                        Event::warning(pod, "BackOff", message).container(&name).times(*restarts),
                    );
                    Container::CrashLoop { restarts: *restarts, backoff: backoff(*restarts) }
                }
                Some(PodHold::NotReady) => {
                    start_events(cluster, node, pass, pod, c, 1);
                    if let Some(probe) = c.get("readinessProbe") {
                        let message = format!(
                            "Readiness probe failed: {}",
                            probe_failure(probe, ip.as_deref().unwrap_or(NODE_IP))
                        );
                        once(
                            cluster,
                            node,
                            pass,
                            pod,
                            &format!("unhealthy/{name}"),
                            Event::warning(pod, "Unhealthy", message).container(&name),
                        );
                    }
                    Container::Running { ready: false }
                }
                _ => {
                    start_events(cluster, node, pass, pod, c, 1);
                    Container::Running { ready: ready_now }
                }
            }
        };
        if !matches!(state, Container::Running { ready: true }) {
            unready.push(name.clone());
        }
        statuses.push(container_status(
            pod,
            c,
            &state,
            status_of(&previous, &name, "containerStatuses").as_ref(),
            &now_text,
        ));
    }

    let running = sandbox_ready
        && !matches!(hold, Some(PodHold::ImagePullBackOff))
        && statuses.iter().all(|s| {
            get(s, &["state", "waiting"]).is_none()
                || get_str(s, &["state", "waiting", "reason"]) == Some("CrashLoopBackOff")
        });
    let phase = if running { "Running" } else { "Pending" };
    let all_ready = unready.is_empty();
    let names = |list: &[String]| format!("containers with unready status: [{}]", list.join(" "));
    let init_pending: Vec<String> = if sandbox_ready {
        Vec::new()
    } else {
        inits.iter().filter_map(|c| get_str(c, &["name"]).map(str::to_string)).collect()
    };
    let ready_message = if all_ready { String::new() } else { names(&unready) };
    let ready_reason = if all_ready { "" } else { "ContainersNotReady" };
    let conditions = vec![
        condition(&previous, "PodReadyToStartContainers", sandbox_ready, "", "", &now_text),
        if init_pending.is_empty() {
            condition(&previous, "Initialized", true, "", "", &now_text)
        } else {
            let message = format!("containers with incomplete status: [{}]", init_pending.join(" "));
            condition(&previous, "Initialized", false, "ContainersNotInitialized", &message, &now_text)
        },
        condition(&previous, "Ready", all_ready, ready_reason, &ready_message, &now_text),
        condition(&previous, "ContainersReady", all_ready, ready_reason, &ready_message, &now_text),
        condition(&previous, "PodScheduled", true, "", "", &now_text),
    ];
    let mut status = Map::new();
    status.insert("phase".into(), phase.into());
    status.insert("conditions".into(), Value::Array(conditions));
    status.insert("hostIP".into(), NODE_IP.into());
    status.insert("hostIPs".into(), json!([{ "ip": NODE_IP }]));
    if let Some(ip) = &ip {
        status.insert("podIP".into(), ip.clone().into());
        status.insert("podIPs".into(), json!([{ "ip": ip }]));
    }
    status.insert("startTime".into(), get(&previous, &["startTime"]).cloned().unwrap_or(now_text.clone().into()));
    if !init_statuses.is_empty() {
        status.insert("initContainerStatuses".into(), Value::Array(init_statuses));
    }
    status.insert("containerStatuses".into(), Value::Array(statuses));
    status.insert("qosClass".into(), get(&previous, &["qosClass"]).cloned().unwrap_or("BestEffort".into()));
    set_status(cluster, pass, rid("", "pods"), pod, Value::Object(status), "kubelet");
    sandbox_ready && !host_network && ip.is_none()
}

/// containerd's error for an image that does not exist (what a held ImagePullBackOff reports).
fn pull_error(image: &str) -> String {
    let full = normalized_image(image);
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image {}: failed to resolve reference {}: {full}: not found",
        crate::model::status::go_quote(&full),
        crate::model::status::go_quote(&full)
    )
}

fn image_pull_failure(cluster: &mut Cluster, node: &mut State, pass: &mut Pass, pod: &Value, spec: &Value) {
    let name = get_str(spec, &["name"]).unwrap_or_default();
    let image = get_str(spec, &["image"]).unwrap_or_default();
    let quoted = crate::model::status::go_quote(image);
    let events = [
        ("pulling", Event::normal(pod, "Pulling", format!("Pulling image {quoted}"))),
        ("failed", Event::warning(pod, "Failed", format!("Failed to pull image {quoted}: {}", pull_error(image)))),
        ("errimagepull", Event::warning(pod, "Failed", "Error: ErrImagePull".into())),
        ("backoff", Event::normal(pod, "BackOff", format!("Back-off pulling image {quoted}"))),
        ("imagepullbackoff", Event::warning(pod, "Failed", "Error: ImagePullBackOff".into())),
    ];
    for (key, event) in events {
        once(cluster, node, pass, pod, &format!("{key}/{name}"), event.container(name));
    }
}

/// pkg/kubelet/prober: the failure output of each probe kind.
fn probe_failure(probe: &Value, ip: &str) -> String {
    let port = |p: &Value| match p.get("port") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "80".into(),
    };
    if probe.get("httpGet").is_some() {
        "HTTP probe failed with statuscode: 503".into()
    } else if let Some(tcp) = probe.get("tcpSocket") {
        format!("dial tcp {ip}:{}: connect: connection refused", port(tcp))
    } else if probe.get("grpc").is_some() {
        "timeout: failed to connect service within 1s".into()
    } else {
        String::new()
    }
}

/// A pod being deleted gracefully: the kubelet stops its containers (event Killing) and,
/// once they are gone, deletes the pod for good (grace period 0).
fn terminate(cluster: &mut Cluster, node: &mut State, pass: &mut Pass, pod: &Value, now: Instant) {
    let uid = jsonpath::uid(pod).to_string();
    let delay = node.config.termination_delay;
    let runtime = node.runtimes.entry(uid).or_default();
    let killing = *runtime.killing.get_or_insert(now);
    let running: Vec<String> = items(pod.get("status").unwrap_or(&Value::Null), "containerStatuses")
        .filter(|s| get(s, &["state", "running"]).is_some())
        .filter_map(|s| get_str(s, &["name"]).map(str::to_string))
        .collect();
    for name in running {
        once(
            cluster,
            node,
            pass,
            pod,
            &format!("killing/{name}"),
            Event::normal(pod, "Killing", format!("Stopping container {name}")).container(&name),
        );
    }
    if now >= killing + delay {
        delete(cluster, pass, rid("", "pods"), pod, Some(0));
    } else {
        pass.wake_at(killing + delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_normalized_like_containerd() {
        assert_eq!(normalized_image("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalized_image("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(normalized_image("rancher/k3s:v1.33.1-k3s1"), "docker.io/rancher/k3s:v1.33.1-k3s1");
        assert_eq!(normalized_image("ghcr.io/loft-sh/vcluster:0.19"), "ghcr.io/loft-sh/vcluster:0.19");
        assert_eq!(normalized_image("localhost:5000/x"), "localhost:5000/x:latest");
        assert!(image_id("nginx:1.27").starts_with("docker.io/library/nginx@sha256:"));
    }

    #[test]
    fn crash_loop_backoff_doubles_to_five_minutes() {
        assert_eq!(backoff(1), "10s");
        assert_eq!(backoff(3), "40s");
        assert_eq!(backoff(4), "1m20s");
        assert_eq!(backoff(9), "5m0s");
    }
}
