//! Which pod a forward reaches right now: the pods matching a label selector (a StatefulSet's or a
//! Service's) or one name, watched — never polled — and the newest Ready one chosen. A restarted or
//! replaced pod, under the same name or a new one, is picked up as soon as it is Ready, so every new
//! connection goes to a pod that can take it. (The established CLI restarts its port-forward to
//! the pod name it started with, so a replacement under a new name was lost: loft-sh/vcluster
//! v0.19 `cmd/vclusterctl/cmd/connect.go`.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::workload;

/// Which pods a forward may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pods {
    /// `app=vcluster,release=my-vc`
    Selector(String),
    /// Exactly this pod (it may be recreated under the same name).
    Named(String),
}

impl Pods {
    fn config(&self) -> watcher::Config {
        match self {
            Pods::Selector(selector) => watcher::Config::default().labels(selector),
            Pods::Named(name) => watcher::Config::default().fields(&format!("metadata.name={name}")),
        }
    }
}

/// Something worth a log line.
pub(crate) type Log = Arc<dyn Fn(String) + Send + Sync>;

/// The chosen pod, kept current by a watch task (stopped when dropped).
pub(crate) struct Follower {
    chosen: watch::Receiver<Option<Arc<Pod>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Follower {
    pub(crate) fn start(api: Api<Pod>, pods: &Pods, log: Log) -> Follower {
        let (tx, chosen) = watch::channel(None);
        let mut stream = watcher::watcher(api, pods.config()).default_backoff().boxed();
        let task = tokio::spawn(async move {
            let mut live: BTreeMap<String, Pod> = BTreeMap::new();
            let mut listing: BTreeMap<String, Pod> = BTreeMap::new();
            let mut last_error = String::new();
            while let Some(event) = stream.next().await {
                match event {
                    Ok(Event::Apply(pod)) => {
                        live.insert(name(&pod), pod);
                    }
                    Ok(Event::Delete(pod)) => {
                        live.remove(&name(&pod));
                    }
                    Ok(Event::Init) => listing.clear(),
                    Ok(Event::InitApply(pod)) => {
                        listing.insert(name(&pod), pod);
                    }
                    Ok(Event::InitDone) => live = std::mem::take(&mut listing),
                    Err(e) => {
                        let text = e.to_string();
                        if text != last_error {
                            log(format!("watching the pods failed (retrying): {text}"));
                            last_error = text;
                        }
                        continue;
                    }
                }
                last_error.clear();
                tx.send_if_modified(|current: &mut Option<Arc<Pod>>| {
                    let next = choose(&live, current.as_deref());
                    let changed = uid(next) != current.as_deref().and_then(|p| p.metadata.uid.as_deref());
                    if changed {
                        match next {
                            Some(pod) => log(format!("forwarding to pod {}", name(pod))),
                            None if current.is_some() => log("no Ready pod; waiting for one".into()),
                            None => {}
                        }
                        *current = next.cloned().map(Arc::new);
                    } else if let (Some(pod), Some(slot)) = (next, current.as_mut()) {
                        // Same pod, newer state (its ports may matter): keep it fresh, quietly.
                        *slot = Arc::new(pod.clone());
                    }
                    changed
                });
            }
        });
        Follower { chosen, task }
    }

    /// The pod to use now, waiting up to `wait` for one to be Ready.
    pub(crate) async fn pod(&self, wait: Duration) -> Option<Arc<Pod>> {
        let mut chosen = self.chosen.clone();
        let found = tokio::time::timeout(wait, chosen.wait_for(Option::is_some)).await;
        found.ok()?.ok()?.clone()
    }

    /// Resolves once no pod has been Ready for `grace` at a stretch (the forward is then dead).
    pub(crate) async fn absent_for(&self, grace: Duration) {
        let mut chosen = self.chosen.clone();
        loop {
            if chosen.wait_for(Option::is_none).await.is_err() {
                return;
            }
            match tokio::time::timeout(grace, chosen.wait_for(Option::is_some)).await {
                Ok(Ok(_)) => continue,
                Ok(Err(_)) | Err(_) => return,
            }
        }
    }
}

/// Resolves once object `name` is gone: deleted, or absent from the start. Watch errors are
/// retried (with backoff), never taken for a deletion.
pub(crate) async fn until_deleted<K>(api: Api<K>, name: &str)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut stream = watcher::watch_object(api, name).default_backoff().boxed();
    while let Some(event) = stream.next().await {
        if matches!(event, Ok(None)) {
            return;
        }
    }
    std::future::pending().await
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

fn uid(pod: Option<&Pod>) -> Option<&str> {
    pod.and_then(|p| p.metadata.uid.as_deref())
}

fn usable(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && workload::pod_ready(pod)
}

/// Keep the current pod while it is usable (connections stay on one pod); else the newest usable.
fn choose<'a>(pods: &'a BTreeMap<String, Pod>, current: Option<&Pod>) -> Option<&'a Pod> {
    let current_uid = current.and_then(|p| p.metadata.uid.as_deref());
    let mut usable_pods = pods.values().filter(|p| usable(p));
    if let Some(still) = usable_pods.clone().find(|p| p.metadata.uid.as_deref() == current_uid && current_uid.is_some())
    {
        return Some(still);
    }
    usable_pods.by_ref().max_by(|a, b| {
        let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        created(a).cmp(&created(b)).then_with(|| name(b).cmp(&name(a)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, uid: &str, created: &str, ready: bool, deleting: bool) -> (String, Pod) {
        let mut value = json!({
            "metadata": {"name": name, "uid": uid, "creationTimestamp": created},
            "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}
        });
        if deleting {
            value["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:10:00Z");
        }
        (name.to_owned(), serde_json::from_value(value).unwrap())
    }

    #[test]
    fn the_newest_ready_pod_is_chosen_and_kept_while_usable() {
        let pods: BTreeMap<String, Pod> = [
            pod("a", "1", "2025-01-01T00:00:00Z", true, false),
            pod("b", "2", "2025-01-01T00:05:00Z", true, false),
            pod("c", "3", "2025-01-01T00:09:00Z", false, false),
            pod("d", "4", "2025-01-01T00:09:30Z", true, true),
        ]
        .into_iter()
        .collect();
        assert_eq!(choose(&pods, None).map(name).as_deref(), Some("b"), "newest Ready, not terminating");
        let a = pods["a"].clone();
        assert_eq!(choose(&pods, Some(&a)).map(name).as_deref(), Some("a"), "sticky");
        let (_, gone) = pod("z", "9", "2025-01-01T00:00:00Z", true, false);
        assert_eq!(choose(&pods, Some(&gone)).map(name).as_deref(), Some("b"));
        let none: BTreeMap<String, Pod> = [pod("c", "3", "2025-01-01T00:09:00Z", false, false)].into_iter().collect();
        assert_eq!(choose(&none, Some(&a)), None);
    }
}
