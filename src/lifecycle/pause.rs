//! `vcluster pause` (`sleep`) and `vcluster resume` (`wakeup`), as the established CLI does them
//! (loft-sh/vcluster v0.19 `pkg/lifecycle/lifecycle.go`), with the same
//! annotations so either CLI resumes what the other paused:
//! - pause: one merge patch scales the StatefulSet to 0 and records `loft.sh/paused: "true"`,
//!   `loft.sh/paused-replicas` and `loft.sh/paused-date`; then, watching, it waits until no
//!   replica is left, and deletes the workload pods the syncer made on the host (labelled
//!   `vcluster.loft.sh/managed-by=<name>`) in one request, when there are any;
//! - resume: one merge patch restores the replica count and drops the annotations; then it waits
//!   for readiness exactly as `create` waits.
//!
//! Both patches carry the resourceVersion read, so a concurrent change fails instead of being
//! overwritten. Both are idempotent: pausing a paused vcluster finishes what an interrupted pause
//! left (no patch), resuming a running one changes nothing.

use std::cell::Cell;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, WatchParams};
use kube::{Api, ResourceExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::LifecycleError;
use crate::cluster::watch::{Change, Follow};
use crate::cluster::{FIELD_MANAGER, Host, wait};
use crate::find::{PAUSED_ANNOTATION, Vcluster};
use crate::interrupt::Interrupt;
use crate::printer::Progress;
use crate::translate::MANAGED_BY_LABEL;
use crate::workload::desired_replicas;

/// The replica count a pause recorded. (loft-sh/vcluster v0.19 `pkg/constants`)
pub(crate) const PAUSED_REPLICAS_ANNOTATION: &str = "loft.sh/paused-replicas";
/// When it was paused. (loft-sh/vcluster v0.19 `pkg/constants`)
pub(crate) const PAUSED_DATE_ANNOTATION: &str = "loft.sh/paused-date";

/// `loft.sh/paused-date` as the established CLI writes it: Go layout `2006-01-02T15:04:05.000Z`
/// (milliseconds and a literal `Z`; it formats local time, this writes UTC, which the `Z` says).
pub(crate) fn paused_date(now: Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The merge patch that pauses a StatefulSet running `replicas` replicas.
pub(crate) fn pause_patch(sts: &StatefulSet, now: Timestamp) -> Value {
    json!({
        "metadata": {
            "resourceVersion": sts.resource_version(),
            "annotations": {
                PAUSED_ANNOTATION: "true",
                PAUSED_REPLICAS_ANNOTATION: desired_replicas(sts).to_string(),
                PAUSED_DATE_ANNOTATION: paused_date(now),
            }
        },
        "spec": {"replicas": 0}
    })
}

/// The replica count to restore: the recorded one, else 1 (with why), as the established CLI
/// falls back.
pub(crate) fn paused_replicas(sts: &StatefulSet) -> (i32, Option<String>) {
    match sts.annotations().get(PAUSED_REPLICAS_ANNOTATION) {
        None => (1, Some(format!("no {PAUSED_REPLICAS_ANNOTATION} annotation; resuming with 1 replica"))),
        Some(text) => match text.parse::<i32>() {
            Ok(n) if n > 0 => (n, None),
            _ => (1, Some(format!("{PAUSED_REPLICAS_ANNOTATION} is {text:?}; resuming with 1 replica"))),
        },
    }
}

/// The merge patch that resumes: the replica count back, the pause annotations gone.
pub(crate) fn resume_patch(sts: &StatefulSet, replicas: i32) -> Value {
    json!({
        "metadata": {
            "resourceVersion": sts.resource_version(),
            "annotations": {PAUSED_ANNOTATION: null, PAUSED_REPLICAS_ANNOTATION: null, PAUSED_DATE_ANNOTATION: null}
        },
        "spec": {"replicas": replicas}
    })
}

/// What `pause` or `resume` did, for people (stderr) and scripts (`-o json`). Field names are
/// stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Outcome {
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// `pause` or `resume`.
    pub(crate) action: String,
    /// Whether the StatefulSet was changed (`false`: it already was paused, or running).
    pub(crate) changed: bool,
    /// The replicas recorded (pause) or restored (resume).
    pub(crate) replicas: i32,
    /// Workload pods deleted (pause).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) workload_pods_deleted: Option<usize>,
    /// Whether it waited for the vcluster to be ready (resume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) waited: Option<bool>,
}

impl Outcome {
    fn new(vcluster: &Vcluster, action: &str, sts: &StatefulSet) -> Outcome {
        Outcome {
            name: vcluster.name.clone(),
            namespace: vcluster.namespace.clone(),
            action: action.into(),
            changed: false,
            replicas: desired_replicas(sts),
            workload_pods_deleted: None,
            waited: None,
        }
    }
}

fn statefulset(vcluster: &Vcluster) -> Result<&StatefulSet, LifecycleError> {
    vcluster.statefulset.as_ref().ok_or_else(|| LifecycleError::NoStatefulSet {
        name: vcluster.name.clone(),
        namespace: vcluster.namespace.clone(),
    })
}

/// Merge-patch the StatefulSet; a concurrent change is [`LifecycleError::Concurrent`].
async fn patch(
    host: &Host,
    vcluster: &Vcluster,
    sts: &StatefulSet,
    body: &Value,
) -> Result<StatefulSet, LifecycleError> {
    let api: Api<StatefulSet> = host.api(&vcluster.namespace);
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..PatchParams::default() };
    match api.patch(&sts.name_any(), &params, &Patch::Merge(body)).await {
        Ok(patched) => Ok(patched),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            Err(LifecycleError::Concurrent { name: vcluster.name.clone(), namespace: vcluster.namespace.clone() })
        }
        Err(e) => Err(LifecycleError::from(host.connection.error(e))),
    }
}

/// Scale down, wait until no replica is left, delete the workload pods.
pub(crate) async fn pause(
    host: &Host,
    vcluster: &Vcluster,
    timeout: Duration,
    interrupt: &Interrupt,
    progress: &Progress,
) -> Result<Outcome, LifecycleError> {
    let sts = statefulset(vcluster)?;
    let mut outcome = Outcome::new(vcluster, "pause", sts);
    let current = if vcluster.paused() {
        outcome.replicas = paused_replicas(sts).0;
        sts.clone()
    } else if outcome.replicas == 0 {
        return Ok(outcome);
    } else {
        interrupt.check()?;
        outcome.changed = true;
        patch(host, vcluster, sts, &pause_patch(sts, Timestamp::now())).await?
    };
    progress.set_phase(&format!("Waiting for vcluster {} to scale down", vcluster.name));
    scaled_down(host, &current, timeout, interrupt, progress).await?;

    // Looked for first, so that pausing a paused vcluster writes nothing.
    let pods: Api<Pod> = host.api(&vcluster.namespace);
    let selector = ListParams::default().labels(&format!("{MANAGED_BY_LABEL}={}", vcluster.name));
    let cluster_error = |e| LifecycleError::from(host.connection.error(e));
    let workloads = interrupt.guard(pods.list_metadata(&selector)).await?.map_err(cluster_error)?;
    outcome.workload_pods_deleted = Some(0);
    if !workloads.items.is_empty() {
        progress.set_phase(&format!("Deleting the workloads of vcluster {}", vcluster.name));
        let deleted = interrupt
            .guard(pods.delete_collection(&DeleteParams::default(), &selector))
            .await?
            .map_err(cluster_error)?;
        outcome.workload_pods_deleted = Some(deleted.left().map_or(workloads.items.len(), |list| list.items.len()));
    }
    Ok(outcome)
}

/// Watch the StatefulSet until its controller reports no replica (`status.replicas` 0 for the
/// generation the pause wrote), at most `timeout`.
async fn scaled_down(
    host: &Host,
    sts: &StatefulSet,
    timeout: Duration,
    interrupt: &Interrupt,
    progress: &Progress,
) -> Result<(), LifecycleError> {
    let name = sts.name_any();
    let api: Api<StatefulSet> = host.api(&sts.namespace().unwrap_or_default());
    let params = WatchParams::default().fields(&format!("metadata.name={name}"));
    let mut follow = Follow::new(api, params, sts.resource_version().unwrap_or_default());
    let mut current = sts.clone();
    let left = Cell::new(0);
    let watch = async {
        loop {
            let status = current.status.clone().unwrap_or_default();
            let observed = status.observed_generation.unwrap_or(0) >= current.metadata.generation.unwrap_or(0);
            left.set(status.replicas);
            if observed && status.replicas == 0 {
                return Ok(());
            }
            progress.set_message(&format!("{} of the StatefulSet's pods left", status.replicas));
            current = match follow.next().await? {
                Change::Applied(s) => s,
                Change::Relisted(mut items) if !items.is_empty() => items.remove(0),
                Change::Deleted(_) | Change::Relisted(_) => return Ok(()),
            };
        }
    };
    let what = format!("StatefulSet {name} to scale down");
    super::bounded(host, timeout, interrupt, watch, what, || format!("{} pods are still there", left.get())).await
}

/// Restore the replica count, drop the annotations, and (with `wait`) wait for readiness as
/// `create` does.
pub(crate) async fn resume(
    host: &Host,
    vcluster: &Vcluster,
    wait: Option<Duration>,
    interrupt: &Interrupt,
    progress: &Progress,
) -> Result<Outcome, LifecycleError> {
    let sts = statefulset(vcluster)?;
    let mut outcome = Outcome::new(vcluster, "resume", sts);
    if !vcluster.paused() {
        return Ok(outcome);
    }
    let (replicas, note) = paused_replicas(sts);
    if let Some(note) = note {
        progress.println(&note);
    }
    interrupt.check()?;
    let resumed = patch(host, vcluster, sts, &resume_patch(sts, replicas)).await?;
    outcome.changed = true;
    outcome.replicas = replicas;
    outcome.waited = Some(wait.is_some());
    if let Some(timeout) = wait {
        let target = wait::Target {
            namespace: vcluster.namespace.clone(),
            statefulset: resumed,
            secret: format!("vc-{}", vcluster.name),
        };
        progress.set_phase(&format!("Waiting for vcluster {}", vcluster.name));
        wait::until_ready(host, &target, timeout, interrupt, progress).await?;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(replicas: Option<i32>, annotations: Value) -> StatefulSet {
        serde_json::from_value(json!({"metadata": {"name": "vc", "resourceVersion": "42", "annotations": annotations},
            "spec": {"replicas": replicas, "selector": {}, "serviceName": "", "template": {}}}))
        .unwrap()
    }

    #[test]
    fn the_date_reads_like_the_established_clis() {
        let at: Timestamp = "2025-03-04T05:06:07.089123Z".parse().unwrap();
        assert_eq!(paused_date(at), "2025-03-04T05:06:07.089Z");
        assert_eq!(paused_date("2025-03-04T05:06:07Z".parse().unwrap()), "2025-03-04T05:06:07.000Z");
    }

    #[test]
    fn pause_records_the_replicas_and_scales_to_zero_at_the_version_read() {
        let at: Timestamp = "2025-03-04T05:06:07Z".parse().unwrap();
        assert_eq!(
            pause_patch(&sts(Some(3), json!({})), at),
            json!({"metadata": {"resourceVersion": "42", "annotations": {
                "loft.sh/paused": "true", "loft.sh/paused-replicas": "3", "loft.sh/paused-date": "2025-03-04T05:06:07.000Z"}},
                "spec": {"replicas": 0}})
        );
        assert_eq!(pause_patch(&sts(None, json!({})), at)["metadata"]["annotations"]["loft.sh/paused-replicas"], "1");
    }

    #[test]
    fn resume_restores_the_recorded_replicas_or_one() {
        let paused = sts(Some(0), json!({"loft.sh/paused": "true", "loft.sh/paused-replicas": "2"}));
        assert_eq!(paused_replicas(&paused), (2, None));
        assert_eq!(
            resume_patch(&paused, 2),
            json!({"metadata": {"resourceVersion": "42", "annotations": {
                "loft.sh/paused": null, "loft.sh/paused-replicas": null, "loft.sh/paused-date": null}},
                "spec": {"replicas": 2}})
        );
        let (n, why) = paused_replicas(&sts(Some(0), json!({"loft.sh/paused-replicas": "many"})));
        assert_eq!(n, 1);
        assert!(why.unwrap().contains("\"many\""));
        assert_eq!(paused_replicas(&sts(Some(0), json!({"loft.sh/paused-replicas": "0"}))).0, 1);
        assert_eq!(paused_replicas(&sts(Some(0), json!({}))).0, 1);
    }
}
