//! Waiting until the virtual cluster works, by watching (never polling): the StatefulSet's
//! rollout complete as `kubectl rollout status` defines it (its `readyReplicas` counts the pods
//! whose Ready condition is true, so every pod is Ready), then the Secret `vc-<name>` the syncer
//! writes once the virtual API server answers. Pod statuses (kubectl's STATUS column) and the
//! Warning events of pods in a critical state are shown meanwhile; the pods are watched only once
//! the rollout takes longer than a moment, so a cluster that is ready at once costs no request
//! for them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::{ListParams, WatchParams};

use super::error::HostError;
use super::host::Host;
use super::watch::{Change, Follow};
use crate::interrupt::Interrupt;
use crate::printer::Progress;
use crate::workload;

/// How long the rollout may take before the pods are watched and shown.
const SHOW_PODS_AFTER: Duration = Duration::from_secs(1);
/// Warning events shown for a pod in a critical state.
const EVENTS_SHOWN: usize = 3;
/// How long the timeout report may spend reading the pods (the server may be what is stuck).
const REPORT_WITHIN: Duration = Duration::from_secs(5);

/// What to wait for.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) namespace: String,
    /// The StatefulSet as the apply returned it (its resourceVersion starts the watch).
    pub(crate) statefulset: StatefulSet,
    /// The Secret the syncer writes (`vc-<name>`).
    pub(crate) secret: String,
}

/// What the wait saw last, for the report when it times out.
#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    /// kubectl's rollout message.
    pub(crate) rollout: String,
    pub(crate) rollout_done: bool,
    /// Pod name → kubectl-style status.
    pub(crate) pods: BTreeMap<String, String>,
}

fn selector(sts: &StatefulSet) -> String {
    let labels = sts.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Wait until the target is ready, at most `timeout`; a timeout says what is stuck.
pub(crate) async fn until_ready(
    host: &Host,
    target: &Target,
    timeout: Duration,
    interrupt: &Interrupt,
    progress: &Progress,
) -> Result<(), HostError> {
    let seen = Mutex::new(Seen::default());
    let name = target.statefulset.metadata.name.clone().unwrap_or_default();
    match tokio::time::timeout(timeout, interrupt.guard(ready(host, target, progress, &seen))).await {
        Ok(result) => result?,
        Err(_) => {
            let seen = seen.lock().expect("wait state").clone();
            Err(HostError::Timeout {
                what: format!("vcluster {name}"),
                waited: timeout,
                stuck: stuck(host, target, &seen).await,
            })
        }
    }
}

/// Wait until the target is ready; the caller bounds it with the timeout and the interrupt.
pub(crate) async fn ready(
    host: &Host,
    target: &Target,
    progress: &Progress,
    seen: &Mutex<Seen>,
) -> Result<(), HostError> {
    let main = async {
        rollout(host, target, progress, seen).await?;
        secret(host, target, progress).await
    };
    let pods = async {
        tokio::time::sleep(SHOW_PODS_AFTER).await;
        if let Err(e) = show_pods(host, target, progress, seen).await {
            progress.println(&format!("cannot show the pods' status: {e}"));
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        result = main => result,
        () = pods => unreachable!("the pod display never ends"),
    }
}

async fn rollout(host: &Host, target: &Target, progress: &Progress, seen: &Mutex<Seen>) -> Result<(), HostError> {
    let name = target.statefulset.metadata.name.clone().unwrap_or_default();
    let mut current = target.statefulset.clone();
    let api: Api<StatefulSet> = host.api(&target.namespace);
    let rv = current.metadata.resource_version.clone().unwrap_or_default();
    let mut follow = Follow::new(api, WatchParams::default().fields(&format!("metadata.name={name}")), rv);
    loop {
        let state = workload::statefulset_rollout(&current);
        {
            let mut seen = seen.lock().expect("wait state");
            seen.rollout.clone_from(&state.message);
            seen.rollout_done = state.done;
        }
        if state.done {
            return Ok(());
        }
        progress.set_message(&pods_line(&state.message, seen));
        current = match follow.next().await.map_err(|e| HostError::from(host.connection.error(e)))? {
            Change::Applied(sts) => sts,
            Change::Relisted(mut items) if !items.is_empty() => items.remove(0),
            Change::Deleted(_) | Change::Relisted(_) => {
                return Err(HostError::Vanished { object: format!("StatefulSet/{name}") });
            }
        };
    }
}

fn pods_line(rollout: &str, seen: &Mutex<Seen>) -> String {
    let seen = seen.lock().expect("wait state");
    let pods: Vec<String> = seen.pods.iter().map(|(pod, status)| format!("{pod}: {status}")).collect();
    let rollout = rollout.trim_end_matches("...");
    if pods.is_empty() { rollout.to_owned() } else { format!("{rollout} ({})", pods.join(", ")) }
}

async fn secret(host: &Host, target: &Target, progress: &Progress) -> Result<(), HostError> {
    let api: Api<Secret> = host.api(&target.namespace);
    let params = WatchParams::default().fields(&format!("metadata.name={}", target.secret));
    let mut follow = Follow::new(api, params, String::new());
    loop {
        match follow.next().await.map_err(|e| HostError::from(host.connection.error(e)))? {
            Change::Applied(_) => return Ok(()),
            Change::Relisted(items) if !items.is_empty() => return Ok(()),
            _ => progress.set_message(&format!(
                "waiting for Secret {} (the syncer writes it once the virtual cluster's API answers)",
                target.secret
            )),
        }
    }
}

/// Watch the StatefulSet's pods, showing their status; a pod entering a critical state gets
/// its latest Warning events printed once.
async fn show_pods(host: &Host, target: &Target, progress: &Progress, seen: &Mutex<Seen>) -> Result<(), HostError> {
    let api: Api<Pod> = host.api(&target.namespace);
    let mut follow = Follow::new(api, WatchParams::default().labels(&selector(&target.statefulset)), String::new());
    let mut pods: BTreeMap<String, Pod> = BTreeMap::new();
    loop {
        match follow.next().await.map_err(|e| HostError::from(host.connection.error(e)))? {
            Change::Applied(pod) => {
                pods.insert(pod.metadata.name.clone().unwrap_or_default(), pod);
            }
            Change::Deleted(pod) => {
                pods.remove(pod.metadata.name.as_deref().unwrap_or_default());
            }
            Change::Relisted(items) => {
                pods = items.into_iter().map(|p| (p.metadata.name.clone().unwrap_or_default(), p)).collect();
            }
        }
        let statuses: BTreeMap<String, String> =
            pods.iter().map(|(n, p)| (n.clone(), workload::pod_status(p))).collect();
        let newly_critical: Vec<(String, String)> = {
            let mut seen = seen.lock().expect("wait state");
            let fresh = statuses
                .iter()
                .filter(|(n, s)| workload::is_critical(s) && seen.pods.get(*n) != Some(*s))
                .map(|(n, s)| (n.clone(), s.clone()))
                .collect();
            seen.pods = statuses;
            fresh
        };
        let rollout = seen.lock().expect("wait state").rollout.clone();
        progress.set_message(&pods_line(&rollout, seen));
        for (pod, status) in newly_critical {
            progress.println(&format!(
                "pod {pod} has critical status {status}; waiting continues, but this might time out"
            ));
            for event in host.warnings(&target.namespace, &pod, EVENTS_SHOWN).await.unwrap_or_default() {
                progress.println(&format!("  {event}"));
            }
        }
    }
}

/// What is stuck, for the timeout error: the rollout, each pod that is not Ready with its status
/// and latest Warning event (as last seen, when the pods cannot be read within a few seconds),
/// or the missing Secret.
pub(crate) async fn stuck(host: &Host, target: &Target, seen: &Seen) -> String {
    if seen.rollout_done {
        return format!(
            "Secret {} was not written (the syncer writes it once the virtual cluster's API answers)",
            target.secret
        );
    }
    let mut parts = vec![if seen.rollout.is_empty() {
        "the StatefulSet's rollout did not start".to_owned()
    } else {
        let name = target.statefulset.metadata.name.as_deref().unwrap_or_default();
        format!("StatefulSet {name}: {}", seen.rollout.trim_end_matches("..."))
    }];
    match tokio::time::timeout(REPORT_WITHIN, pods_not_ready(host, target)).await {
        Ok(Ok(pods)) => parts.extend(pods),
        _ => parts.extend(seen.pods.iter().map(|(pod, status)| format!("pod {pod}: {status}"))),
    }
    parts.join("; ")
}

/// Each pod that is not Ready, with its status and latest Warning event (or that there is none).
async fn pods_not_ready(host: &Host, target: &Target) -> kube::Result<Vec<String>> {
    let api: Api<Pod> = host.api(&target.namespace);
    let pods = api.list(&ListParams::default().labels(&selector(&target.statefulset))).await?.items;
    if pods.is_empty() {
        return Ok(vec!["no pod was created".into()]);
    }
    let mut out = Vec::new();
    for pod in pods.iter().filter(|p| !workload::pod_ready(p)) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let events = host.warnings(&target.namespace, &name, 1).await.unwrap_or_default();
        let last = events.last().map(|e| format!(" ({e})")).unwrap_or_default();
        out.push(format!("pod {name}: {}{last}", workload::pod_status(pod)));
    }
    Ok(out)
}
