//! Finding virtual clusters on the host cluster: what `list`, `delete`, `pause`, `resume` and
//! `connect` share.
//!
//! A vcluster is known by its Helm release records (Secrets `owner=helm` whose newest revision
//! was made from a vcluster chart) and by its StatefulSet (label `app=vcluster`, the vcluster's
//! name in label `release`), either of which may be missing (a failed install; a vcluster whose
//! records another tool keeps). Its pods (`app=vcluster,release=<name>`) give its status. Every
//! search is the same three LISTs, sent together, however many vclusters there are, where the
//! established CLI (`find.go`, below) sends two requests per vcluster.
//!
//! Where: `-n` searches that namespace; without it every namespace, and when listing across
//! namespaces is forbidden, the namespace of the kube context, saying so. (loft-sh/vcluster
//! v0.19 `cmd/vclusterctl/cmd/find/find.go` `GetVCluster`, `ListVClusters`)
//!
//! Which host: `--context`, else the current context — unless that is a vcluster's own context
//! (made by `connect`), whose host context is then used ([`host_context`]), as the established
//! CLI searches the parent context.

use std::collections::BTreeMap;
use std::time::Instant;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::ListParams;

use crate::cluster::{ClusterError, Connection};
use crate::error::Hinted;
use crate::kubeconfig::{ConnectRecord, Kind, Loaded};
use crate::printer::Printer;
use crate::release::{self, Release, Status, codec};
use crate::workload;

/// The label every vcluster StatefulSet and pod carries. (the chart's `app: vcluster`)
pub(crate) const APP_SELECTOR: &str = "app=vcluster";
/// The label naming the vcluster (the Helm release) on its StatefulSet and pods.
pub(crate) const RELEASE_LABEL: &str = "release";
/// A paused vcluster's StatefulSet carries `loft.sh/paused: "true"`.
/// (loft-sh/vcluster v0.19 `pkg/constants/annotation.go` `PausedAnnotation`)
pub(crate) const PAUSED_ANNOTATION: &str = "loft.sh/paused";

/// Where to search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    Namespace(String),
    AllNamespaces,
}

impl Scope {
    /// `-n NAMESPACE`: that namespace; without `-n`: every namespace.
    pub(crate) fn from_flag(namespace: Option<&str>) -> Scope {
        namespace.map_or(Scope::AllNamespaces, |ns| Scope::Namespace(ns.to_owned()))
    }

    fn namespace(&self) -> Option<&str> {
        match self {
            Scope::Namespace(ns) => Some(ns),
            Scope::AllNamespaces => None,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Namespace(ns) => write!(f, "namespace {ns}"),
            Scope::AllNamespaces => f.write_str("any namespace"),
        }
    }
}

/// The host cluster's kube context, and why it is not the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostContext {
    /// `None`: the current context.
    pub(crate) context: Option<String>,
    /// Said to the user when the current context is a vcluster's and its host is used instead.
    pub(crate) note: Option<String>,
}

/// `--context`, else the current context; when the current context reaches a vcluster (it was
/// made by `connect`), the host context it was made from, if the kubeconfig still has it.
pub(crate) fn host_context(loaded: &Loaded, flag: Option<&str>) -> HostContext {
    if let Some(context) = flag {
        return HostContext { context: Some(context.to_owned()), note: None };
    }
    let current = loaded.current_context();
    let record = current.and_then(|c| ConnectRecord::of_context(loaded, c));
    match (current, record) {
        (Some(current), Some(record))
            if record.host_context != current && loaded.entry(Kind::Context, &record.host_context).is_some() =>
        {
            HostContext {
                note: Some(format!(
                    "the current context {current} is vcluster {}'s; using its host context {} (pass --context to choose another)",
                    record.vcluster, record.host_context
                )),
                context: Some(record.host_context),
            }
        }
        _ => HostContext { context: None, note: None },
    }
}

/// Connect to the host cluster of [`host_context`] (saying so when it is not the current
/// context); `namespace` is `-n`.
pub(crate) async fn connect_host(
    loaded: &Loaded,
    context: Option<&str>,
    namespace: Option<&str>,
    request_timeout: std::time::Duration,
    printer: &Printer,
) -> Result<Connection, ClusterError> {
    let host = host_context(loaded, context);
    if let Some(note) = &host.note {
        printer.info(note);
    }
    Connection::connect(loaded, host.context.as_deref(), namespace, request_timeout).await
}

/// Why `name` cannot be a vcluster's name: it goes into label selectors, so it must be a label
/// value (kube-apiserver: `staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go`
/// `IsValidLabelValue`), and not empty.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let inner_ok = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let ends_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    if name.is_empty() {
        Some("the name is empty".into())
    } else if name.len() > 63 {
        Some(format!("{name:?} is longer than 63 characters"))
    } else if !inner_ok || !ends_ok(name.bytes().next()) || !ends_ok(name.bytes().last()) {
        Some(format!(
            "{name:?} is not a valid name: letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    } else {
        None
    }
}

/// One virtual cluster on the host.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Vcluster {
    pub(crate) name: String,
    /// Its host namespace.
    pub(crate) namespace: String,
    /// The newest release record; `None` when only the StatefulSet was found.
    pub(crate) release: Option<Release>,
    pub(crate) statefulset: Option<StatefulSet>,
    /// Its own pods (`app=vcluster,release=<name>`), oldest first.
    pub(crate) pods: Vec<Pod>,
}

impl Vcluster {
    /// Scaled down by `vcluster pause` (annotation `loft.sh/paused: "true"`).
    pub(crate) fn paused(&self) -> bool {
        self.statefulset
            .as_ref()
            .and_then(|s| s.metadata.annotations.as_ref())
            .is_some_and(|a| a.get(PAUSED_ANNOTATION).is_some_and(|v| v == "true"))
    }

    /// The pod that serves it: the StatefulSet's first (`<name>-0`), else the newest that is
    /// not terminating, else the newest.
    pub(crate) fn pod(&self) -> Option<&Pod> {
        let first = self.statefulset.as_ref().and_then(|s| s.metadata.name.as_deref()).map(|n| format!("{n}-0"));
        let live = |p: &&Pod| p.metadata.deletion_timestamp.is_none();
        self.pods
            .iter()
            .find(|p| p.metadata.name.is_some() && p.metadata.name == first)
            .or_else(|| self.pods.iter().rev().find(live))
            .or_else(|| self.pods.last())
    }

    /// What `list` shows: `Paused`; else the pod's status as kubectl shows it (`Running`,
    /// `ContainerCreating`, `CrashLoopBackOff`, `Terminating`, …); without a pod, from the
    /// release: `Pending` (an install or upgrade in progress, or no pod yet), `Failed`,
    /// `Uninstalling`; `Stopped` when scaled to 0 other than by `pause`; else `Unknown`.
    pub(crate) fn status(&self) -> String {
        if self.paused() {
            return "Paused".into();
        }
        // A release that is not deployed says so, whatever its pods do (a failed install's pod may
        // well be Running).
        let record = self.release.as_ref().map(|r| r.info.status);
        match record {
            Some(s) if s.is_pending() => return "Pending".into(),
            Some(Status::Failed) => return "Failed".into(),
            Some(Status::Uninstalling) => return "Uninstalling".into(),
            _ => {}
        }
        if let Some(pod) = self.pod() {
            return workload::pod_status(pod);
        }
        let replicas = self.statefulset.as_ref().map(workload::desired_replicas);
        match replicas {
            Some(0) => "Stopped",
            Some(_) => "Pending",
            None => "Unknown",
        }
        .into()
    }

    /// When it was installed: the release's first deployment, else the StatefulSet's creation.
    pub(crate) fn created(&self) -> Option<Timestamp> {
        let first_deployed = self.release.as_ref().and_then(|r| r.info.first_deployed);
        first_deployed.or_else(|| Some(self.statefulset.as_ref()?.metadata.creation_timestamp.as_ref()?.0))
    }
}

/// What a search found, and where it looked in the end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    /// Sorted by namespace, then name.
    pub(crate) vclusters: Vec<Vcluster>,
    pub(crate) searched: Scope,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum FindError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("vcluster {name} not found in {searched} (context {context:?})")]
    NotFound { name: String, searched: Scope, context: String },
    #[error("vcluster {name} exists in {} namespaces: {}", namespaces.len(), namespaces.join(", "))]
    Ambiguous { name: String, namespaces: Vec<String> },
}

impl FindError {
    pub(crate) fn hints(&self) -> Vec<String> {
        match self {
            FindError::Cluster(e) => e.hint().into_iter().collect(),
            FindError::NotFound { searched: Scope::Namespace(ns), .. } => vec![
                format!("`vcluster list -n {ns}` shows the vclusters of namespace {ns}"),
                "without -n every namespace is searched".into(),
            ],
            FindError::NotFound { .. } => vec!["`vcluster list` shows the vclusters there are".into()],
            FindError::Ambiguous { namespaces, .. } => {
                vec![format!("pass -n NAMESPACE to choose one, e.g. -n {}", namespaces[0])]
            }
        }
    }
}

impl From<FindError> for Hinted {
    fn from(err: FindError) -> Hinted {
        err.hints().into_iter().fold(Hinted::new(err), Hinted::hint)
    }
}

/// Every vcluster in `scope`.
pub(crate) async fn list(cluster: &Connection, scope: &Scope, printer: &Printer) -> Result<Found, FindError> {
    search(cluster, scope, None, printer).await
}

/// The vcluster `name` in `scope`. Several namespaces holding one of that name: a person at a
/// terminal picks one; otherwise [`FindError::Ambiguous`] names them.
pub(crate) async fn find(
    cluster: &Connection,
    name: &str,
    scope: &Scope,
    printer: &Printer,
) -> Result<Vcluster, FindError> {
    let found = search(cluster, scope, Some(name), printer).await?;
    let mut candidates = found.vclusters;
    match candidates.len() {
        0 => Err(FindError::NotFound {
            name: name.to_owned(),
            searched: found.searched,
            context: cluster.context.clone(),
        }),
        1 => Ok(candidates.remove(0)),
        _ => {
            let items: Vec<String> =
                candidates.iter().map(|v| format!("{} (namespace {}, {})", v.name, v.namespace, v.status())).collect();
            let pick = printer.select(&format!("vcluster {name} exists in several namespaces; which one?"), &items);
            match pick {
                Ok(Some(index)) => Ok(candidates.remove(index)),
                _ => Err(FindError::Ambiguous {
                    name: name.to_owned(),
                    namespaces: candidates.into_iter().map(|v| v.namespace).collect(),
                }),
            }
        }
    }
}

/// The three LISTs, at once; across namespaces, falling back to the context's namespace when
/// that is forbidden.
async fn search(
    cluster: &Connection,
    scope: &Scope,
    name: Option<&str>,
    printer: &Printer,
) -> Result<Found, FindError> {
    let started = Instant::now();
    let found = search_in(cluster, scope, name, printer).await?;
    printer.debug(format!(
        "found {} vclusters in {:.1} ms",
        found.vclusters.len(),
        started.elapsed().as_secs_f64() * 1000.0
    ));
    Ok(found)
}

async fn search_in(
    cluster: &Connection,
    scope: &Scope,
    name: Option<&str>,
    printer: &Printer,
) -> Result<Found, FindError> {
    match lists(cluster, scope, name).await {
        Err(kube::Error::Api(status)) if status.code == 403 && *scope == Scope::AllNamespaces => {
            let fallback = Scope::Namespace(cluster.namespace.clone());
            printer.info(format!(
                "listing vclusters across all namespaces is forbidden for context {}; searching namespace {} only (pass -n to choose)",
                cluster.context, cluster.namespace
            ));
            let listed = lists(cluster, &fallback, name).await.map_err(|e| cluster.error(e))?;
            Ok(Found { vclusters: assemble(listed, printer), searched: fallback })
        }
        Err(e) => Err(cluster.error(e).into()),
        Ok(listed) => Ok(Found { vclusters: assemble(listed, printer), searched: scope.clone() }),
    }
}

/// What the three LISTs return.
struct Listed {
    records: Vec<Secret>,
    statefulsets: Vec<StatefulSet>,
    pods: Vec<Pod>,
}

async fn lists(cluster: &Connection, scope: &Scope, name: Option<&str>) -> kube::Result<Listed> {
    fn api<K>(cluster: &Connection, scope: &Scope) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match scope.namespace() {
            Some(ns) => Api::namespaced(cluster.client.clone(), ns),
            None => Api::all(cluster.client.clone()),
        }
    }
    let records = match name {
        Some(name) => codec::history_selector(name),
        None => format!("owner={}", codec::OWNER),
    };
    let workload = match name {
        Some(name) => format!("{APP_SELECTOR},{RELEASE_LABEL}={name}"),
        None => APP_SELECTOR.to_owned(),
    };
    let secrets: Api<Secret> = api(cluster, scope);
    let statefulsets: Api<StatefulSet> = api(cluster, scope);
    let pods: Api<Pod> = api(cluster, scope);
    let (by_owner, by_app) = (ListParams::default().labels(&records), ListParams::default().labels(&workload));
    let (records, statefulsets, pods) =
        futures::try_join!(secrets.list(&by_owner), statefulsets.list(&by_app), pods.list(&by_app))?;
    Ok(Listed { records: records.items, statefulsets: statefulsets.items, pods: pods.items })
}

/// Group what the LISTs returned into vclusters (pure but for warnings about records that
/// cannot be read).
fn assemble(listed: Listed, printer: &Printer) -> Vec<Vcluster> {
    let started = Instant::now();
    let objects = listed.records.len() + listed.statefulsets.len() + listed.pods.len();
    let (vclusters, problems) = group(listed);
    printer.debug(format!(
        "read {objects} objects (records, StatefulSets, pods) in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    ));
    for problem in problems {
        printer.warn(problem);
    }
    vclusters
}

/// `(vclusters, problems)`: only the newest record of each release is decoded.
fn group(listed: Listed) -> (Vec<Vcluster>, Vec<String>) {
    type Key = (String, String);
    let meta = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, label: &str| {
        let ns = m.namespace.clone().unwrap_or_default();
        m.labels.as_ref().and_then(|l| l.get(label)).map(|name| (ns, name.clone()))
    };
    let mut newest: BTreeMap<Key, (u32, &Secret)> = BTreeMap::new();
    for secret in listed.records.iter().filter(|s| s.type_.as_deref() == Some(codec::SECRET_TYPE)) {
        let Some(key) = meta(&secret.metadata, "name") else { continue };
        let version = secret.metadata.labels.as_ref().and_then(|l| l.get("version")).and_then(|v| v.parse().ok());
        let version = version.unwrap_or(0);
        if newest.get(&key).is_none_or(|(v, _)| *v < version) {
            newest.insert(key, (version, secret));
        }
    }
    let mut out: BTreeMap<Key, Vcluster> = BTreeMap::new();
    let mut problems = Vec::new();
    let empty = |(namespace, name): &Key| Vcluster {
        name: name.clone(),
        namespace: namespace.clone(),
        release: None,
        statefulset: None,
        pods: Vec::new(),
    };
    let records: Vec<(&Key, &Secret)> = newest.iter().map(|(key, (_, secret))| (key, *secret)).collect();
    for ((key, secret), decoded) in records.iter().zip(decode_all(&records)) {
        match decoded {
            Ok(r) if !release::history::VCLUSTER_CHART_NAMES.contains(&r.chart_name()) => {}
            Ok(r) if r.info.status == Status::Uninstalled => {}
            Ok(r) => out.entry((*key).clone()).or_insert_with(|| empty(key)).release = Some(r),
            Err(e) => problems.push(format!(
                "release record {} in namespace {} cannot be read: {e}",
                secret.metadata.name.as_deref().unwrap_or_default(),
                key.0
            )),
        }
    }
    for sts in listed.statefulsets {
        let Some(key) = meta(&sts.metadata, RELEASE_LABEL) else { continue };
        out.entry(key.clone()).or_insert_with(|| empty(&key)).statefulset = Some(sts);
    }
    let mut pods = listed.pods;
    pods.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    for pod in pods {
        let Some(key) = meta(&pod.metadata, RELEASE_LABEL) else { continue };
        if let Some(v) = out.get_mut(&key) {
            v.pods.push(pod);
        }
    }
    (out.into_values().collect(), problems)
}

/// Decode release records, on several threads when there are many (gunzip and JSON are most of
/// what `list` itself spends with many vclusters); in order.
fn decode_all<K: Sync>(records: &[(K, &Secret)]) -> Vec<Result<Release, codec::CodecError>> {
    const PER_THREAD: usize = 32;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(records.len().div_ceil(PER_THREAD));
    if threads <= 1 {
        return records.iter().map(|(_, s)| codec::from_secret(s)).collect();
    }
    let chunk = records.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = records
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|(_, s)| codec::from_secret(s)).collect::<Vec<_>>()))
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("decoding a record does not panic")).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubeconfig::{Document, Sources};
    use crate::release::{Chart, Metadata, RecordWrite};
    use serde_json::json;
    use std::path::Path;

    fn record(namespace: &str, name: &str, version: u32, status: Status, chart: &str) -> Secret {
        let mut r = Release {
            name: name.into(),
            namespace: namespace.into(),
            version,
            chart: Some(Chart {
                metadata: Some(Metadata { name: chart.into(), ..Metadata::vcluster() }),
                ..Chart::default()
            }),
            ..Release::default()
        };
        r.set_status(status, "");
        r.info.first_deployed = Some("2025-01-01T00:00:00Z".parse().unwrap());
        release::to_secret(&r, RecordWrite::Create(Timestamp::UNIX_EPOCH)).unwrap()
    }

    fn sts(namespace: &str, name: &str, annotations: serde_json::Value, replicas: i32) -> StatefulSet {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace, "annotations": annotations,
            "labels": {"app": "vcluster", "release": name}, "creationTimestamp": "2024-06-01T00:00:00Z"},
            "spec": {"replicas": replicas, "selector": {}, "serviceName": "", "template": {}}}))
        .unwrap()
    }

    fn pod(namespace: &str, release: &str, name: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": namespace,
            "labels": {"app": "vcluster", "release": release}}, "status": status}))
        .unwrap()
    }

    fn crash() -> serde_json::Value {
        json!({"phase": "Running", "containerStatuses": [{"name": "syncer", "ready": false, "restartCount": 4,
            "image": "i", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
    }

    #[test]
    fn records_statefulsets_and_pods_group_into_vclusters() {
        let listed = Listed {
            records: vec![
                record("a", "one", 1, Status::Superseded, "vcluster"),
                record("a", "one", 2, Status::Deployed, "vcluster"),
                record("a", "web", 3, Status::Deployed, "nginx"),
                record("b", "gone", 2, Status::Uninstalled, "vcluster"),
                record("b", "failed", 1, Status::Failed, "vcluster-k8s"),
            ],
            statefulsets: vec![
                sts("a", "one", json!({}), 1),
                sts("b", "failed", json!({}), 1),
                sts("c", "paused", json!({"loft.sh/paused": "true"}), 0),
                sts("c", "scaled", json!({}), 0),
            ],
            pods: vec![
                pod("a", "one", "one-0", crash()),
                // A failed release's pod may run: the release's status is shown.
                pod("b", "failed", "failed-0", json!({"phase": "Running"})),
                pod("c", "paused", "x", json!({"phase": "Running"})),
                pod("z", "orphan", "orphan-0", json!({"phase": "Running"})),
            ],
        };
        let (found, problems) = group(listed);
        assert!(problems.is_empty());
        let summary: Vec<(String, String, Option<u32>, String)> = found
            .iter()
            .map(|v| (v.namespace.clone(), v.name.clone(), v.release.as_ref().map(|r| r.version), v.status()))
            .collect();
        assert_eq!(
            summary,
            [
                ("a".into(), "one".into(), Some(2), "CrashLoopBackOff".into()),
                ("b".into(), "failed".into(), Some(1), "Failed".into()),
                ("c".into(), "paused".into(), None, "Paused".into()),
                ("c".into(), "scaled".into(), None, "Stopped".into()),
            ]
        );
        assert_eq!(found[0].created(), Some("2025-01-01T00:00:00Z".parse().unwrap()), "from the record");
        assert_eq!(found[2].created(), Some("2024-06-01T00:00:00Z".parse().unwrap()), "from the StatefulSet");
    }

    #[test]
    fn many_records_decode_on_several_threads_in_order() {
        let records: Vec<Secret> =
            (0..100).map(|i| record("a", &format!("vc-{i}"), i + 1, Status::Deployed, "vcluster")).collect();
        let pairs: Vec<((), &Secret)> = records.iter().map(|s| ((), s)).collect();
        let versions: Vec<u32> = decode_all(&pairs).into_iter().map(|r| r.unwrap().version).collect();
        assert_eq!(versions, (1..=100).collect::<Vec<u32>>());
    }

    #[test]
    fn an_unreadable_record_is_a_warning() {
        let mut bad = record("a", "one", 1, Status::Deployed, "vcluster");
        bad.data = Some([("release".to_owned(), k8s_openapi::ByteString(b"%%%".to_vec()))].into());
        let listed = Listed { records: vec![bad], statefulsets: vec![sts("a", "one", json!({}), 1)], pods: vec![] };
        let (found, problems) = group(listed);
        assert_eq!(found.len(), 1, "the StatefulSet still finds it");
        assert_eq!(found[0].status(), "Pending");
        assert!(problems[0].starts_with("release record sh.helm.release.v1.one.v1 in namespace a cannot be read"));
    }

    #[test]
    fn the_serving_pod_is_the_first_ordinal_else_the_newest_live_one() {
        let mut v = Vcluster {
            name: "vc".into(),
            namespace: "ns".into(),
            release: None,
            statefulset: Some(sts("ns", "vc", json!({}), 1)),
            pods: vec![pod("ns", "vc", "vc-0", json!({"phase": "Pending"})), pod("ns", "vc", "other", json!({}))],
        };
        assert_eq!(v.pod().unwrap().metadata.name.as_deref(), Some("vc-0"));
        v.statefulset = None;
        assert_eq!(v.pod().unwrap().metadata.name.as_deref(), Some("other"));
        v.pods[1].metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time("2025-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(v.pod().unwrap().metadata.name.as_deref(), Some("vc-0"));
        assert_eq!(v.status(), "Pending");
    }

    fn loaded(text: &str) -> Loaded {
        Loaded::new(Sources::new(Some("/k".into()), None, None), vec![Document::parse(Path::new("/k"), text).unwrap()])
    }

    #[test]
    fn a_vcluster_context_leads_to_its_host_context() {
        let text = "contexts:\n- name: kind\n  context: {cluster: k, user: k}\n- name: vcluster_vc_team_kind\n  context: {cluster: v, user: v}\n- name: custom\n  context:\n    cluster: v\n    user: v\n    extensions:\n    - name: vcluster.loft.sh/connect\n      extension: {vcluster: vc, namespace: team, hostContext: kind}\ncurrent-context: custom\n";
        let chosen = host_context(&loaded(text), None);
        assert_eq!(chosen.context.as_deref(), Some("kind"));
        assert!(chosen.note.unwrap().contains("vcluster vc's; using its host context kind"));
        let flagged = host_context(&loaded(text), Some("custom"));
        assert_eq!(flagged, HostContext { context: Some("custom".into()), note: None });
        let plain = host_context(&loaded(&text.replace("current-context: custom", "current-context: kind")), None);
        assert_eq!(plain, HostContext { context: None, note: None });
        // The host context is gone from the kubeconfig: stay with the current one.
        let orphan =
            "contexts:\n- name: vcluster_vc_team_gone\n  context: {}\ncurrent-context: vcluster_vc_team_gone\n";
        assert_eq!(host_context(&loaded(orphan), None).context, None);
    }

    #[test]
    fn names_must_be_label_values() {
        assert_eq!(name_problem("my-vc"), None);
        assert_eq!(name_problem("A.b_c-9"), None);
        for bad in ["", "a,b", "-a", "a-", "release=x", &"a".repeat(64)] {
            assert!(name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_scope_and_hint() {
        let err = FindError::NotFound {
            name: "vc".into(),
            searched: Scope::Namespace("team".into()),
            context: "kind".into(),
        };
        assert_eq!(err.to_string(), "vcluster vc not found in namespace team (context \"kind\")");
        assert!(err.hints()[0].contains("vcluster list -n team"));
        let err = FindError::NotFound { name: "vc".into(), searched: Scope::AllNamespaces, context: "kind".into() };
        assert_eq!(err.to_string(), "vcluster vc not found in any namespace (context \"kind\")");
        let err = FindError::Ambiguous { name: "vc".into(), namespaces: vec!["a".into(), "b".into()] };
        assert_eq!(err.to_string(), "vcluster vc exists in 2 namespaces: a, b");
        assert_eq!(err.hints(), ["pass -n NAMESPACE to choose one, e.g. -n a"]);
    }
}
