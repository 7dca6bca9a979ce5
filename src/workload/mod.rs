//! How workloads look to a person, computed exactly as kubectl computes it (pure): a pod's STATUS
//! column ([`pod_status`]), whether a status is one the established CLI calls critical
//! ([`is_critical`]), and whether a StatefulSet's rollout is complete ([`statefulset_rollout`]).
//! `create` shows these while waiting; `list` and `connect` reuse them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};

/// The STATUS column of `kubectl get pods`.
/// (kubectl: kubernetes `pkg/printers/internalversion/printers.go` `printPod`, 1.33)
pub(crate) fn pod_status(pod: &Pod) -> String {
    let empty = PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&empty);
    let phase = status.phase.clone().unwrap_or_default();
    let mut reason = status.reason.clone().filter(|r| !r.is_empty()).unwrap_or_else(|| phase.clone());
    let conditions = status.conditions.as_deref().unwrap_or_default();
    if conditions.iter().any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated")) {
        reason = "SchedulingGated".into();
    }
    let spec_init: &[Container] = pod.spec.as_ref().and_then(|s| s.init_containers.as_deref()).unwrap_or_default();
    let restartable =
        |name: &str| spec_init.iter().any(|c| c.name == name && c.restart_policy.as_deref() == Some("Always"));

    let mut initializing = false;
    for (i, container) in status.init_container_statuses.iter().flatten().enumerate() {
        let state = container.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting = state.and_then(|s| s.waiting.as_ref());
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if restartable(&container.name) && container.started == Some(true) {
            continue;
        }
        if let Some(t) = terminated {
            reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None if t.signal.unwrap_or(0) != 0 => format!("Init:Signal:{}", t.signal.unwrap_or(0)),
                None => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(r) =
            waiting.and_then(|w| w.reason.as_deref()).filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{}", spec_init.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions.iter().any(|c| c.type_ == "Initialized" && c.status == "True");
    if !initializing || initialized {
        let mut has_running = false;
        for container in status.container_statuses.iter().flatten().rev() {
            let state = container.state.as_ref();
            let waiting =
                state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()).filter(|r| !r.is_empty());
            let terminated = state.and_then(|s| s.terminated.as_ref());
            if let Some(r) = waiting {
                reason = r.to_owned();
            } else if let Some(t) = terminated {
                reason = match t.reason.as_deref().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_owned(),
                    None if t.signal.unwrap_or(0) != 0 => format!("Signal:{}", t.signal.unwrap_or(0)),
                    None => format!("ExitCode:{}", t.exit_code),
                };
            } else if container.ready && state.is_some_and(|s| s.running.is_some()) {
                has_running = true;
            }
        }
        // A pod whose containers completed but one still runs is shown as running.
        if reason == "Completed" && has_running {
            let ready = conditions.iter().any(|c| c.type_ == "Ready" && c.status == "True");
            reason = if ready { "Running" } else { "NotReady" }.into();
        }
    }

    if pod.metadata.deletion_timestamp.is_some() {
        // kubernetes `pkg/util/node` NodeUnreachablePodReason
        if status.reason.as_deref() == Some("NodeLost") {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }
    reason
}

/// Statuses the established CLI reports as critical while it waits, with or without the `Init:`
/// prefix. (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/app/podprinter/podprinter.go`)
pub(crate) const CRITICAL_STATUSES: [&str; 8] = [
    "Error",
    "Unknown",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "RunContainerError",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
];

/// Whether a pod status (from [`pod_status`]) means the pod will not get better by itself.
pub(crate) fn is_critical(status: &str) -> bool {
    let bare = status.strip_prefix("Init:").unwrap_or(status);
    CRITICAL_STATUSES.contains(&bare)
}

/// The pod's `Ready` condition is true.
pub(crate) fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The replicas a StatefulSet asks for (`1` when unset, as the API server defaults it).
pub(crate) fn desired_replicas(sts: &StatefulSet) -> i32 {
    sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Where a StatefulSet's rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rollout {
    pub(crate) done: bool,
    /// kubectl's message (`Waiting for 1 pods to be ready...`).
    pub(crate) message: String,
}

/// Whether a StatefulSet's rollout is complete, as `kubectl rollout status` decides it, and
/// additionally every replica updated and the current revision equal to the update revision (so
/// `create` never reports a half-rolled StatefulSet as done) — kubectl stops checking at its partition test,
/// which a defaulted `partition: 0` always reaches.
/// (kubectl: kubernetes `staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go`
/// `StatefulSetStatusViewer.Status`)
pub(crate) fn statefulset_rollout(sts: &StatefulSet) -> Rollout {
    let waiting = |message: String| Rollout { done: false, message };
    let spec = sts.spec.as_ref();
    let status = sts.status.clone().unwrap_or_default();
    let strategy = spec.and_then(|s| s.update_strategy.as_ref());
    let replicas = desired_replicas(sts);
    if strategy.and_then(|s| s.type_.as_deref()).is_some_and(|t| t != "RollingUpdate") {
        // kubectl refuses to watch OnDelete rollouts; readiness is all that can be checked.
        let ready = status.ready_replicas.unwrap_or(0);
        return if ready >= replicas {
            Rollout { done: true, message: format!("{ready} of {replicas} pods ready (OnDelete strategy)") }
        } else {
            waiting(format!("Waiting for {} pods to be ready...", replicas - ready))
        };
    }
    let generation = sts.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    if observed == 0 || generation > observed {
        return waiting("Waiting for statefulset spec update to be observed...".into());
    }
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < replicas {
        return waiting(format!("Waiting for {} pods to be ready...", replicas - ready));
    }
    let partition = strategy.and_then(|s| s.rolling_update.as_ref()).and_then(|r| r.partition).unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    if updated < replicas - partition {
        return waiting(format!(
            "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
            replicas - partition
        ));
    }
    let update_revision = status.update_revision.unwrap_or_default();
    if partition == 0 && status.current_revision.as_deref() != Some(update_revision.as_str()) {
        return waiting(format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        ));
    }
    Rollout {
        done: true,
        message: format!("statefulset rolling update complete {updated} pods at revision {update_revision}..."),
    }
}

/// The label selector of a vcluster StatefulSet's pods (`app=vcluster,release=<name>` as the chart
/// renders it), from its `spec.selector.matchLabels`.
pub(crate) fn pod_selector(sts: &StatefulSet) -> String {
    let labels = sts.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
    if labels.is_empty() {
        let name = sts.metadata.name.as_deref().unwrap_or_default();
        return format!("app=vcluster,release={name}");
    }
    label_selector(&labels)
}

/// `k1=v1,k2=v2`: the equality-based label selector matching all of `labels`.
pub(crate) fn label_selector(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn running(name: &str, ready: bool) -> serde_json::Value {
        json!({"name": name, "ready": ready, "restartCount": 0, "image": "i", "imageID": "",
               "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}})
    }

    fn waiting(name: &str, reason: &str) -> serde_json::Value {
        json!({"name": name, "ready": false, "restartCount": 3, "image": "i", "imageID": "",
               "state": {"waiting": {"reason": reason}}})
    }

    #[test]
    fn phases_and_container_reasons() {
        assert_eq!(pod_status(&pod(json!({"status": {"phase": "Pending"}}))), "Pending");
        let creating =
            pod(json!({"status": {"phase": "Pending", "containerStatuses": [waiting("syncer", "ContainerCreating")]}}));
        assert_eq!(pod_status(&creating), "ContainerCreating");
        // The first container (iterated last) wins.
        let crash = pod(json!({"status": {"phase": "Running", "containerStatuses": [
            waiting("syncer", "CrashLoopBackOff"), running("other", true)]}}));
        assert_eq!(pod_status(&crash), "CrashLoopBackOff");
        let ok = pod(json!({"status": {"phase": "Running", "containerStatuses": [running("syncer", true)]}}));
        assert_eq!(pod_status(&ok), "Running");
        let evicted = pod(json!({"status": {"phase": "Failed", "reason": "Evicted"}}));
        assert_eq!(pod_status(&evicted), "Evicted");
        let gated = pod(json!({"status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}}));
        assert_eq!(pod_status(&gated), "SchedulingGated");
    }

    #[test]
    fn terminated_containers() {
        let exit = pod(json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"terminated": {"exitCode": 2}}}]}}));
        assert_eq!(pod_status(&exit), "ExitCode:2");
        let signal = pod(json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "a", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}}));
        assert_eq!(pod_status(&signal), "Signal:9");
        let completed_but_running = pod(json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [running("b", true),
                {"name": "a", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}));
        assert_eq!(pod_status(&completed_but_running), "NotReady");
    }

    #[test]
    fn init_containers() {
        let spec = json!({"initContainers": [{"name": "one"}, {"name": "two"}], "containers": [{"name": "main"}]});
        let first_running = pod(json!({"spec": spec, "status": {"phase": "Pending", "initContainerStatuses": [
            running("one", false), waiting("two", "PodInitializing")]}}));
        assert_eq!(pod_status(&first_running), "Init:0/2");
        let second = pod(json!({"spec": spec, "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "one", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
            running("two", false)]}}));
        assert_eq!(pod_status(&second), "Init:1/2");
        let crash = pod(json!({"spec": spec, "status": {"phase": "Pending", "initContainerStatuses": [
            waiting("one", "CrashLoopBackOff")]}}));
        assert_eq!(pod_status(&crash), "Init:CrashLoopBackOff");
        let failed = pod(json!({"spec": spec, "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "one", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"terminated": {"exitCode": 1}}}]}}));
        assert_eq!(pod_status(&failed), "Init:ExitCode:1");
        // A started sidecar (restartable init container) does not hold initialization.
        let sidecar =
            json!({"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "main"}]});
        let with_sidecar = pod(json!({"spec": sidecar, "status": {"phase": "Running", "initContainerStatuses": [
            {"name": "side", "ready": true, "started": true, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"running": {}}}], "containerStatuses": [running("main", true)]}}));
        assert_eq!(pod_status(&with_sidecar), "Running");
    }

    #[test]
    fn terminating_pods() {
        let mut p = pod(json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"},
                               "status": {"phase": "Running", "containerStatuses": [running("a", true)]}}));
        assert_eq!(pod_status(&p), "Terminating");
        p.status.as_mut().unwrap().reason = Some("NodeLost".into());
        assert_eq!(pod_status(&p), "Unknown");
        let done =
            pod(json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}, "status": {"phase": "Succeeded"}}));
        assert_eq!(pod_status(&done), "Succeeded");
    }

    #[test]
    fn critical_statuses() {
        assert!(is_critical("CrashLoopBackOff"));
        assert!(is_critical("Init:ErrImagePull"));
        assert!(!is_critical("ContainerCreating"));
        assert!(!is_critical("Init:0/1"));
    }

    fn sts(generation: i64, status: serde_json::Value) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "vc", "generation": generation},
            "spec": {"replicas": 1, "serviceName": "vc", "selector": {}, "template": {},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn rollout_follows_kubectl_and_requires_the_revisions_to_match() {
        assert_eq!(
            statefulset_rollout(&sts(2, json!({"replicas": 1, "observedGeneration": 1}))).message,
            "Waiting for statefulset spec update to be observed..."
        );
        assert_eq!(
            statefulset_rollout(&sts(2, json!({"replicas": 1, "observedGeneration": 2, "readyReplicas": 0}))).message,
            "Waiting for 1 pods to be ready..."
        );
        let rolling = sts(
            2,
            json!({"replicas": 1, "observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 1,
                                    "currentRevision": "vc-a", "updateRevision": "vc-b"}),
        );
        assert!(!statefulset_rollout(&rolling).done);
        let done = sts(
            2,
            json!({"replicas": 1, "observedGeneration": 2, "readyReplicas": 1, "updatedReplicas": 1,
                                 "currentRevision": "vc-b", "updateRevision": "vc-b"}),
        );
        assert_eq!(
            statefulset_rollout(&done),
            Rollout { done: true, message: "statefulset rolling update complete 1 pods at revision vc-b...".into() }
        );
    }

    #[test]
    fn pod_selectors() {
        let sts: StatefulSet = serde_json::from_value(json!({
            "metadata": {"name": "vc"},
            "spec": {"selector": {"matchLabels": {"release": "vc", "app": "vcluster"}}, "serviceName": "x", "template": {}}
        }))
        .unwrap();
        assert_eq!(pod_selector(&sts), "app=vcluster,release=vc");
        let bare: StatefulSet = serde_json::from_value(json!({"metadata": {"name": "vc"}})).unwrap();
        assert_eq!(pod_selector(&bare), "app=vcluster,release=vc");
    }
}
