//! `vcluster delete`: remove a vcluster and exactly what belongs to it.
//!
//! Everything is read and decided before the first write ([`prepare`]), so the confirmation
//! names what goes; then [`execute`]:
//! 1. The newest release record is marked `uninstalling`, as `helm uninstall` marks it (Helm
//!    `pkg/action/uninstall.go`); the write carries the record's resourceVersion, so a create
//!    running at the same time loses its lock instead of racing.
//! 2. The background port-forward is stopped ([`crate::forward::background::stop`]).
//! 3. The objects of every stored revision's manifest are deleted in Helm's uninstall order
//!    (helm `pkg/release/v1/util/kind_sorter.go` `UninstallOrder`), one kind at a time — only
//!    objects whose `meta.helm.sh/release-name/-namespace` annotations name this release, each
//!    with its uid as precondition, never one marked `helm.sh/resource-policy: keep` (the
//!    planning `create` uses to prune, with nothing desired).
//! 4. The vcluster's kube contexts are removed from the kubeconfig.
//! 5. The StatefulSet's claims (`data-<name>-<ordinal>`, found by its volumeClaimTemplates and
//!    selector labels, never by name alone) unless `--keep-pvc`.
//!    Then the syncer's `vc-cidr-<name>` ConfigMap, which it creates at start without owner or
//!    labels (loft-sh/vcluster v0.15.7 `pkg/util/servicecidr/servicecidr.go`
//!    `EnsureServiceCIDRConfigmap`), so nothing else would ever remove it — when it is plainly
//!    that: no owner, no data but `cidr`.
//! 6. The namespace, when this tool created it (annotation `vcluster.loft.sh/created: "true"`)
//!    or `--delete-namespace` asks, and no other vcluster lives there.
//! 7. The release records, last: until then a rerun after a failure finds the vcluster by them
//!    and finishes the job (Helm purges them even when deleting objects failed, orphaning them).
//!
//! With `--wait`, it watches until the pods, the claims and the namespace are gone; then it
//! reports what is left labelled `vcluster.loft.sh/managed-by=<name>` or `release=<name>`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use kube::api::{ListParams, WatchParams};
use kube::{Api, ResourceExt};
use serde::Serialize;
use serde_json::Value;

use super::LifecycleError;
use super::gone::{Watched, until_gone};
use crate::cluster::objects::{ObjectKey, known_resource, meta_str};
use crate::cluster::{CREATED_ANNOTATION, Host, HostError, NamespaceState};
use crate::find::{self, Scope, Vcluster};
use crate::forward::background;
use crate::forward::registry::ForwarderKey;
use crate::interrupt::Interrupt;
use crate::kubeconfig::Sources;
use crate::plan::manifest::parse_manifest;
use crate::plan::{self, ObjectOutcome, Plan, PlanInput, PruneStep};
use crate::printer::text::plural;
use crate::printer::{Printer, Progress};
use crate::release::{self, ReleaseStore, Status, StoreError, Stored};
use crate::render::Manifest;
use crate::translate::MANAGED_BY_LABEL;

/// Objects of one kind deleted at the same time.
const DELETE_CONCURRENCY: usize = 4;
/// Namespaces the API server never deletes.
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];
/// Kinds searched for leftovers: what the chart, the StatefulSet controller and the syncer make.
const LEFTOVER_KINDS: [(&str, &str); 9] = [
    ("v1", "Pod"),
    ("v1", "Service"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "ServiceAccount"),
    ("apps/v1", "StatefulSet"),
    ("networking.k8s.io/v1", "Ingress"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
];
/// helm `pkg/action/uninstall.go`: the description of a release being uninstalled.
const UNINSTALLING_DESCRIPTION: &str = "Deletion in progress (or silently failed)";

/// The flags of `delete`.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) keep_pvc: bool,
    pub(crate) delete_namespace: bool,
    pub(crate) wait: bool,
    pub(crate) timeout: Duration,
}

/// What the release's StatefulSet says about its pods and claims: its name, selector and claim
/// templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Workload {
    pub(crate) statefulset: String,
    pub(crate) selector: BTreeMap<String, String>,
    pub(crate) claim_templates: Vec<String>,
}

impl Workload {
    /// From a StatefulSet, live or as a manifest recorded it.
    pub(crate) fn of(statefulset: &Value) -> Option<Workload> {
        let spec = statefulset.get("spec")?;
        let claim_templates = spec
            .get("volumeClaimTemplates")
            .and_then(Value::as_array)
            .map(|ts| ts.iter().filter_map(|t| meta_str(t, "name").map(str::to_owned)).collect())
            .unwrap_or_default();
        let selector: BTreeMap<String, String> = spec
            .pointer("/selector/matchLabels")
            .and_then(Value::as_object)
            .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
            .unwrap_or_default();
        // An empty selector would select everything.
        (!selector.is_empty()).then(|| Workload {
            statefulset: meta_str(statefulset, "name").unwrap_or_default().to_owned(),
            selector,
            claim_templates,
        })
    }

    /// The StatefulSet's selector, which its pods and claims carry.
    fn label_selector(&self) -> String {
        self.selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
    }

    /// A claim the StatefulSet controller made: named `<template>-<statefulset>-<ordinal>` and
    /// labelled with the selector. (kubernetes `pkg/controller/statefulset/stateful_set_utils.go`
    /// `getPersistentVolumeClaimName`, `getPersistentVolumeClaims`)
    pub(crate) fn made(&self, claim: &PersistentVolumeClaim) -> bool {
        let name = claim.name_any();
        let labels = claim.labels();
        let named = self.claim_templates.iter().any(|t| {
            name.strip_prefix(&format!("{t}-{}-", self.statefulset))
                .is_some_and(|ordinal| !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit()))
        });
        named && self.selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// What becomes of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamespaceFate {
    Delete { uid: String },
    Keep { reason: String },
}

/// Whether the namespace goes: only when this tool created it or `--delete-namespace` asks,
/// `--keep-pvc` does not forbid it (the claims would go with it), no other vcluster lives there,
/// and the API server may delete it at all.
pub(crate) fn namespace_fate(namespace: Option<&Namespace>, opts: &Options, others: &[String]) -> NamespaceFate {
    let keep = |reason: String| NamespaceFate::Keep { reason };
    let Some(ns) = namespace else { return keep("it is gone".into()) };
    let name = ns.name_any();
    let created = ns.annotations().get(CREATED_ANNOTATION).is_some_and(|v| v == "true");
    if !created && !opts.delete_namespace {
        return keep(format!(
            "it was not created by vcluster (no {CREATED_ANNOTATION} annotation); --delete-namespace deletes it"
        ));
    }
    if opts.keep_pvc && !opts.delete_namespace {
        return keep("--keep-pvc keeps the claims, which would go with it".into());
    }
    if !others.is_empty() {
        return keep(format!("other vclusters live there: {}", others.join(", ")));
    }
    if SYSTEM_NAMESPACES.contains(&name.as_str()) {
        return keep("it is a system namespace".into());
    }
    match ns.uid() {
        Some(uid) => NamespaceFate::Delete { uid },
        None => keep("it has no uid".into()),
    }
}

/// An object left behind, labelled as the vcluster's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Leftover {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    /// The label that ties it to the vcluster (`release=<name>`).
    pub(crate) label: String,
}

/// The objects among `listed` that stay: not being deleted, not owned by anything deleted or
/// being deleted (the garbage collector takes those), not kept on purpose.
pub(crate) fn leftovers(
    listed: &[(String, String, Value)],
    label: &str,
    deleted_uids: &BTreeSet<String>,
    kept: &BTreeSet<(String, String)>,
) -> Vec<Leftover> {
    listed
        .iter()
        .filter(|(_, kind, o)| {
            let name = meta_str(o, "name").unwrap_or_default();
            let deleting = o.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
            let owned = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str().is_some_and(|u| deleted_uids.contains(u))));
            !deleting && !owned && !kept.contains(&(kind.clone(), name.to_owned()))
        })
        .map(|(api_version, kind, o)| Leftover {
            api_version: api_version.clone(),
            kind: kind.clone(),
            name: meta_str(o, "name").unwrap_or_default().to_owned(),
            label: label.to_owned(),
        })
        .collect()
}

/// Everything `delete` read and decided before its first write.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) vcluster: Vcluster,
    /// The release records, oldest first.
    pub(crate) history: Vec<Stored>,
    /// The release's objects: deleted (in uninstall order), kept, or not this release's.
    pub(crate) objects: Plan,
    /// The apiVersion each object had in the newest record naming it.
    pub(crate) api_versions: BTreeMap<ObjectKey, String>,
    /// The release's StatefulSets (deleted now, or gone before): their pods and claims go.
    pub(crate) workloads: Vec<Workload>,
    pub(crate) claims: Vec<PruneStep>,
    /// Claims kept by `--keep-pvc`.
    pub(crate) kept_claims: Vec<ObjectKey>,
    /// The syncer's `vc-cidr-<name>` ConfigMap, when there is one.
    pub(crate) cidr_config: Option<PruneStep>,
    pub(crate) namespace: NamespaceFate,
}

impl Prepared {
    fn name(&self) -> &str {
        &self.vcluster.name
    }

    fn ns(&self) -> &str {
        &self.vcluster.namespace
    }

    fn api_version(&self, key: &ObjectKey) -> String {
        self.api_versions.get(key).cloned().unwrap_or_else(|| "v1".into())
    }

    /// What goes, in one line (for the confirmation).
    pub(crate) fn summary(&self) -> String {
        let namespace = matches!(self.namespace, NamespaceFate::Delete { .. }).then(|| self.ns());
        // The syncer's CIDR ConfigMap goes too, though no release record names it.
        let objects = self.objects.prunes.len() + usize::from(self.cidr_config.is_some());
        summary(objects, self.claims.len(), self.history.len(), namespace)
    }
}

fn summary(objects: usize, claims: usize, records: usize, namespace: Option<&str>) -> String {
    let mut parts = vec![plural(objects, "object")];
    if claims > 0 {
        parts.push(plural(claims, "PersistentVolumeClaim"));
    }
    parts.push(plural(records, "release record"));
    if let Some(ns) = namespace {
        parts.push(format!("namespace {ns}"));
    }
    parts.join(", ")
}

/// Read everything `delete` needs: the records, the live objects their manifests name, the
/// claims, the namespace (and, when it could go, the other vclusters in it).
pub(crate) async fn prepare(
    host: &Host,
    vcluster: Vcluster,
    opts: &Options,
    printer: &Printer,
    interrupt: &Interrupt,
) -> Result<Prepared, LifecycleError> {
    let (name, ns) = (vcluster.name.clone(), vcluster.namespace.clone());
    let store = ReleaseStore::new(&host.connection, &ns, &name);
    let (history, namespace) =
        interrupt.guard(async { futures::join!(store.history(), host.namespace_state(&ns)) }).await?;
    let history = history?;
    if history.is_empty() {
        return Err(LifecycleError::NoRecords { name, namespace: ns });
    }
    let namespace = namespace?;
    let mut manifests: Vec<Manifest> = Vec::new();
    for stored in &history {
        manifests.extend(parse_manifest(&stored.release.manifest, &ns)?);
    }
    let live = host.get_all(manifests.iter(), interrupt).await?;
    let objects = plan::plan(&PlanInput {
        release: &name,
        namespace: &ns,
        desired: &[],
        previous: &manifests,
        live: &live,
        take_ownership: false,
    });

    let mut api_versions = BTreeMap::new();
    for m in manifests.iter().rev() {
        api_versions.entry(ObjectKey::of(m)).or_insert_with(|| m.api_version.clone());
    }

    // The release's StatefulSets: those deleted now, as they live, and those gone already, as the
    // newest record has them (a rerun after a failure).
    let mut workloads: Vec<Workload> = Vec::new();
    for m in manifests.iter().rev().filter(|m| m.kind == "StatefulSet" && m.api_version == "apps/v1") {
        let key = ObjectKey::of(m);
        let sts = match live.get(&key) {
            Some(_) if !objects.prunes.iter().any(|p| p.key == key) => continue,
            Some(live) => live,
            None => &m.object,
        };
        if let Some(workload) = Workload::of(sts)
            && !workloads.iter().any(|w| w.statefulset == workload.statefulset)
        {
            workloads.push(workload);
        }
    }
    let pvcs: Api<PersistentVolumeClaim> = host.api(&ns);
    let mut claims = Vec::new();
    let mut kept_claims = Vec::new();
    for source in workloads.iter().filter(|w| !w.claim_templates.is_empty()) {
        let lp = ListParams::default().labels(&source.label_selector());
        let listed = interrupt.guard(pvcs.list(&lp)).await?.map_err(|e| HostError::from(host.connection.error(e)))?;
        for claim in listed.items.iter().filter(|c| source.made(c)) {
            let key = ObjectKey {
                group: String::new(),
                kind: "PersistentVolumeClaim".into(),
                namespace: Some(ns.clone()),
                name: claim.name_any(),
            };
            match (opts.keep_pvc, claim.uid()) {
                (true, _) => kept_claims.push(key),
                (false, Some(uid)) => claims.push(PruneStep { key, api_version: "v1".into(), uid }),
                (false, None) => {}
            }
        }
    }

    let cidr_config = syncer_cidr_config(host, &name, &ns, interrupt).await?;

    // Another vcluster there keeps it: looked for only when it would go otherwise.
    let mut fate = match namespace {
        NamespaceState::Unknown => NamespaceFate::Keep { reason: "reading it is forbidden".into() },
        _ => namespace_fate(namespace.object(), opts, &[]),
    };
    if matches!(fate, NamespaceFate::Delete { .. }) {
        let found = find::list(&host.connection, &Scope::Namespace(ns.clone()), printer).await?;
        let others: Vec<String> = found.vclusters.into_iter().map(|v| v.name).filter(|n| *n != name).collect();
        fate = namespace_fate(namespace.object(), opts, &others);
    }
    Ok(Prepared {
        vcluster,
        history,
        objects,
        api_versions,
        workloads,
        claims,
        kept_claims,
        cidr_config,
        namespace: fate,
    })
}

/// The ConfigMap `vc-cidr-<name>` the syncer writes at start (the host's service CIDR, which
/// k3s reads when `serviceCIDR` is not set), when it is only that: no owner, no data but `cidr`.
async fn syncer_cidr_config(
    host: &Host,
    name: &str,
    ns: &str,
    interrupt: &Interrupt,
) -> Result<Option<PruneStep>, LifecycleError> {
    use k8s_openapi::api::core::v1::ConfigMap;
    let api: Api<ConfigMap> = host.api(ns);
    let config_name = vcluster_translate::cidr::configmap_name(name);
    let found =
        interrupt.guard(api.get_opt(&config_name)).await?.map_err(|e| HostError::from(host.connection.error(e)))?;
    Ok(found.and_then(|cm| {
        let plain = cm.metadata.owner_references.as_ref().is_none_or(Vec::is_empty)
            && cm.binary_data.as_ref().is_none_or(BTreeMap::is_empty)
            && cm.data.as_ref().is_some_and(|d| d.keys().all(|k| k == vcluster_translate::cidr::CONFIGMAP_KEY));
        let key =
            ObjectKey { group: String::new(), kind: "ConfigMap".into(), namespace: Some(ns.into()), name: config_name };
        plain.then(|| PruneStep { key, api_version: "v1".into(), uid: cm.metadata.uid.clone().unwrap_or_default() })
    }))
}

/// Local state `delete` changes besides the cluster: the kubeconfig (`None`: leave it).
#[derive(Debug, Clone)]
pub(crate) struct Local {
    pub(crate) kubeconfig: Option<Sources>,
    /// The host cluster's kube context (contexts made from it are removed).
    pub(crate) host_context: String,
}

/// What `delete` did, for people (stderr) and scripts (`-o json`). Field names are stable.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Outcome {
    pub(crate) name: String,
    /// `null` when it was not found (`--ignore-not-found`).
    pub(crate) namespace: Option<String>,
    pub(crate) found: bool,
    /// Every object deleted or left in place on purpose: `deleted`, `kept` (`helm.sh/resource-policy:
    /// keep`, `--keep-pvc`), `skipped` (not this release's); the namespace and the release records
    /// included.
    pub(crate) objects: Vec<ObjectOutcome>,
    /// Kube contexts removed from the kubeconfig.
    pub(crate) contexts_removed: Vec<String>,
    /// The current context switched to, when it was one of those.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) switched_to: Option<String>,
    /// `no forwarder`, `stopped forwarder (pid N)`, or `not stopped: <why>`.
    pub(crate) forwarder: String,
    /// Whether it waited until everything was gone.
    pub(crate) waited: bool,
    /// Objects still there, labelled as the vcluster's.
    pub(crate) leftovers: Vec<Leftover>,
}

impl Outcome {
    /// The result of `--ignore-not-found` when there was nothing.
    pub(crate) fn not_found(name: &str) -> Outcome {
        Outcome {
            name: name.to_owned(),
            namespace: None,
            found: false,
            objects: Vec::new(),
            contexts_removed: Vec::new(),
            switched_to: None,
            forwarder: background::Stopped::NoForwarder.to_string(),
            waited: false,
            leftovers: Vec::new(),
        }
    }
}

/// Delete what [`prepare`] decided.
pub(crate) async fn execute(
    host: &Host,
    prepared: &Prepared,
    opts: &Options,
    local: &Local,
    interrupt: &Interrupt,
    progress: &Progress,
) -> Result<Outcome, LifecycleError> {
    let (name, ns) = (prepared.name(), prepared.ns());
    let store = ReleaseStore::new(&host.connection, ns, name);
    let mut outcome = Outcome::not_found(name);
    outcome.namespace = Some(ns.to_owned());
    outcome.found = true;

    interrupt.check()?;
    mark_uninstalling(&store, &prepared.history, name, ns).await?;
    // The local forward is not worth failing the deletion for.
    outcome.forwarder = match background::stop(&ForwarderKey::new(&local.host_context, ns, name)) {
        Ok(stopped) => stopped.to_string(),
        Err(e) => {
            progress.println(&e.to_string());
            format!("not stopped: {e}")
        }
    };

    let mut deleted_uids = BTreeSet::new();
    for tier in prepared.objects.prunes.chunk_by(|a, b| a.key.kind == b.key.kind) {
        progress.set_message(&format!("deleting {}", plural(tier.len(), &tier[0].key.kind)));
        let results: Vec<Result<(bool, &PruneStep), HostError>> = futures::stream::iter(tier)
            .map(|step| async move {
                let gone = interrupt.guard(host.delete(&step.key, &step.api_version, &step.uid)).await??;
                Ok((gone, step))
            })
            .buffered(DELETE_CONCURRENCY)
            .collect()
            .await;
        for result in results {
            let (deleted, step) = result?;
            deleted_uids.insert(step.uid.clone());
            if deleted {
                outcome.objects.push(ObjectOutcome::new(&step.api_version, &step.key, "deleted"));
            }
        }
    }
    for key in &prepared.objects.kept {
        progress.println(&format!("kept {key} (helm.sh/resource-policy: keep)"));
        outcome.objects.push(ObjectOutcome::new(&prepared.api_version(key), key, "kept"));
    }
    for (key, why) in &prepared.objects.disowned {
        progress.println(&format!("left {key} in place: {why}"));
        outcome.objects.push(ObjectOutcome::new(&prepared.api_version(key), key, "skipped"));
    }

    if let Some(sources) = &local.kubeconfig {
        let left = super::leave_contexts(sources, name, ns, &local.host_context, false).await?;
        outcome.contexts_removed = left.removed;
        outcome.switched_to = left.switched_to;
    }

    // Said only when there are claims to delete (`--keep-pvc` keeps them all).
    if !prepared.claims.is_empty() {
        progress.set_message(&format!("deleting {}", plural(prepared.claims.len(), "PersistentVolumeClaim")));
    }
    for claim in &prepared.claims {
        if interrupt.guard(host.delete(&claim.key, &claim.api_version, &claim.uid)).await?? {
            outcome.objects.push(ObjectOutcome::new("v1", &claim.key, "deleted"));
        }
        deleted_uids.insert(claim.uid.clone());
    }
    for key in &prepared.kept_claims {
        outcome.objects.push(ObjectOutcome::new("v1", key, "kept"));
    }
    if let Some(config) = &prepared.cidr_config {
        if interrupt.guard(host.delete(&config.key, &config.api_version, &config.uid)).await?? {
            outcome.objects.push(ObjectOutcome::new("v1", &config.key, "deleted"));
        }
        deleted_uids.insert(config.uid.clone());
    }

    let namespace_key =
        ObjectKey { group: String::new(), kind: "Namespace".into(), namespace: None, name: ns.to_owned() };
    if let NamespaceFate::Delete { uid } = &prepared.namespace {
        if interrupt.guard(host.delete(&namespace_key, "v1", uid)).await?? {
            outcome.objects.push(ObjectOutcome::new("v1", &namespace_key, "deleted"));
        }
        deleted_uids.insert(uid.clone());
    }

    for stored in &prepared.history {
        interrupt.check()?;
        store.delete(stored).await?;
        let key = ObjectKey {
            group: String::new(),
            kind: "Secret".into(),
            namespace: Some(ns.to_owned()),
            name: release::secret_name(name, stored.release.version),
        };
        outcome.objects.push(ObjectOutcome::new("v1", &key, "deleted"));
    }

    if opts.wait {
        wait_gone(host, prepared, opts.timeout, interrupt, progress).await?;
        outcome.waited = true;
    }
    if matches!(prepared.namespace, NamespaceFate::Keep { .. }) {
        // Left in place on purpose, and said so already.
        let kept: BTreeSet<(String, String)> = prepared
            .objects
            .kept
            .iter()
            .chain(&prepared.kept_claims)
            .chain(prepared.objects.disowned.iter().map(|(k, _)| k))
            .map(|k| (k.kind.clone(), k.name.clone()))
            .collect();
        outcome.leftovers = find_leftovers(host, name, ns, &deleted_uids, &kept, interrupt).await?;
    }
    Ok(outcome)
}

/// Mark the newest record `uninstalling` (unless it is already), as `helm uninstall` does.
async fn mark_uninstalling(
    store: &ReleaseStore,
    history: &[Stored],
    name: &str,
    ns: &str,
) -> Result<(), LifecycleError> {
    let Some(newest) = history.last() else { return Ok(()) };
    if newest.release.info.status == Status::Uninstalling {
        return Ok(());
    }
    let mut release = newest.release.clone();
    release.set_status(Status::Uninstalling, UNINSTALLING_DESCRIPTION);
    release.info.deleted = Some(jiff::Timestamp::now());
    match store.update(newest, &release).await {
        Ok(_) => Ok(()),
        Err(StoreError::Changed { .. }) => {
            Err(LifecycleError::Concurrent { name: name.to_owned(), namespace: ns.to_owned() })
        }
        Err(e) => Err(e.into()),
    }
}

/// Watch until the vcluster's pods, the deleted claims and the namespace are gone.
async fn wait_gone(
    host: &Host,
    prepared: &Prepared,
    timeout: Duration,
    interrupt: &Interrupt,
    progress: &Progress,
) -> Result<(), LifecycleError> {
    let ns = prepared.ns();
    let waiting_for = Mutex::new(String::new());
    let set = |what: String| {
        progress.set_message(&format!("waiting for {what} to be deleted"));
        *waiting_for.lock().expect("wait state") = what;
    };
    let all = async {
        for workload in &prepared.workloads {
            let pods: Api<Pod> = host.api(ns);
            let params = WatchParams::default().labels(&workload.label_selector());
            until_gone(pods, params, &Watched::All, |n| set(plural(n, "pod"))).await?;
        }
        if !prepared.claims.is_empty() {
            let claims: Api<PersistentVolumeClaim> = host.api(ns);
            let names = prepared.claims.iter().map(|c| c.key.name.clone()).collect();
            until_gone(claims, WatchParams::default(), &Watched::Named(names), |n| {
                set(plural(n, "PersistentVolumeClaim"))
            })
            .await?;
        }
        if matches!(prepared.namespace, NamespaceFate::Delete { .. }) {
            let namespaces: Api<Namespace> = Api::all(host.connection.client.clone());
            let params = WatchParams::default().fields(&format!("metadata.name={ns}"));
            until_gone(namespaces, params, &Watched::All, |_| set(format!("namespace {ns}"))).await?;
        }
        Ok::<_, kube::Error>(())
    };
    progress.set_phase(&format!("Waiting for vcluster {} to be deleted", prepared.name()));
    let what = format!("vcluster {} to be deleted", prepared.name());
    let stuck = || format!("still waiting for {}", waiting_for.lock().expect("wait state"));
    super::bounded(host, timeout, interrupt, all, what, stuck).await
}

/// LIST the kinds that may hold leftovers, by both labels, at once.
async fn find_leftovers(
    host: &Host,
    name: &str,
    ns: &str,
    deleted_uids: &BTreeSet<String>,
    kept: &BTreeSet<(String, String)>,
    interrupt: &Interrupt,
) -> Result<Vec<Leftover>, LifecycleError> {
    let labels = [format!("{MANAGED_BY_LABEL}={name}"), format!("{}={name}", find::RELEASE_LABEL)];
    let queries: Vec<(&str, &str, &String)> = LEFTOVER_KINDS
        .iter()
        .flat_map(|(api_version, kind)| labels.iter().map(move |label| (*api_version, *kind, label)))
        .collect();
    let results: Vec<Result<Vec<Leftover>, HostError>> = futures::stream::iter(queries)
        .map(|(api_version, kind, label)| async move {
            let (resource, _) = known_resource(api_version, kind).expect("a known kind");
            let api: Api<kube::api::DynamicObject> =
                Api::namespaced_with(host.connection.client.clone(), ns, &resource);
            let list = interrupt
                .guard(api.list(&ListParams::default().labels(label)))
                .await?
                .map_err(|e| HostError::from(host.connection.error(e)))?;
            let listed: Vec<(String, String, Value)> = list
                .items
                .iter()
                .map(|o| (api_version.to_owned(), kind.to_owned(), serde_json::to_value(o).unwrap_or(Value::Null)))
                .collect();
            Ok(leftovers(&listed, label, deleted_uids, kept))
        })
        .buffered(8)
        .collect()
        .await;
    let mut out: Vec<Leftover> = Vec::new();
    for found in results {
        for leftover in found? {
            if !out.iter().any(|l| l.kind == leftover.kind && l.name == leftover.name) {
                out.push(leftover);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(keep_pvc: bool, delete_namespace: bool) -> Options {
        Options { keep_pvc, delete_namespace, wait: false, timeout: Duration::from_secs(1) }
    }

    fn namespace(name: &str, created: bool) -> Namespace {
        let annotations = if created { json!({CREATED_ANNOTATION: "true"}) } else { json!({}) };
        serde_json::from_value(json!({"metadata": {"name": name, "uid": "ns-uid", "annotations": annotations}}))
            .unwrap()
    }

    #[test]
    fn the_namespace_goes_only_when_it_should() {
        let created = namespace("vcluster-vc", true);
        let plain = namespace("team", false);
        let delete = NamespaceFate::Delete { uid: "ns-uid".into() };
        assert_eq!(namespace_fate(Some(&created), &opts(false, false), &[]), delete);
        assert_eq!(namespace_fate(Some(&plain), &opts(false, true), &[]), delete);
        let reason = |fate: NamespaceFate| match fate {
            NamespaceFate::Keep { reason } => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(namespace_fate(Some(&plain), &opts(false, false), &[])).contains("--delete-namespace"));
        assert!(reason(namespace_fate(Some(&created), &opts(true, false), &[])).contains("--keep-pvc"));
        assert_eq!(
            reason(namespace_fate(Some(&created), &opts(false, false), &["other".into()])),
            "other vclusters live there: other"
        );
        assert!(reason(namespace_fate(Some(&namespace("default", false)), &opts(false, true), &[])).contains("system"));
        assert_eq!(reason(namespace_fate(None, &opts(false, true), &[])), "it is gone");
    }

    #[test]
    fn the_confirmation_counts_the_syncers_cidr_config_map() {
        let key = |kind: &str, name: &str| ObjectKey {
            group: String::new(),
            kind: kind.into(),
            namespace: Some("team".into()),
            name: name.into(),
        };
        let step =
            |kind: &str, name: &str| PruneStep { key: key(kind, name), api_version: "v1".into(), uid: name.into() };
        let mut prepared = Prepared {
            vcluster: Vcluster {
                name: "a".into(),
                namespace: "team".into(),
                release: None,
                statefulset: None,
                pods: vec![],
            },
            history: vec![],
            objects: Plan { prunes: vec![step("Service", "a"), step("ServiceAccount", "vc-a")], ..Plan::default() },
            api_versions: BTreeMap::new(),
            workloads: vec![],
            claims: vec![step("PersistentVolumeClaim", "data-a-0")],
            kept_claims: vec![],
            cidr_config: None,
            namespace: NamespaceFate::Delete { uid: "ns-uid".into() },
        };
        assert_eq!(prepared.summary(), "2 objects, 1 PersistentVolumeClaim, 0 release records, namespace team");
        prepared.cidr_config = Some(step("ConfigMap", "vc-cidr-a"));
        prepared.namespace = NamespaceFate::Keep { reason: "it is gone".into() };
        assert_eq!(prepared.summary(), "3 objects, 1 PersistentVolumeClaim, 0 release records");
    }

    fn claim(name: &str, labels: Value) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels, "uid": name}})).unwrap()
    }

    #[test]
    fn claims_are_found_by_template_statefulset_ordinal_and_labels() {
        let sts = json!({"metadata": {"name": "vc"}, "spec": {
            "selector": {"matchLabels": {"app": "vcluster", "release": "vc"}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}});
        let source = Workload::of(&sts).unwrap();
        assert_eq!(source.label_selector(), "app=vcluster,release=vc");
        let labels = json!({"app": "vcluster", "release": "vc"});
        assert!(source.made(&claim("data-vc-0", labels.clone())));
        assert!(source.made(&claim("data-vc-12", labels.clone())));
        assert!(!source.made(&claim("data-vc-0", json!({"app": "vcluster"}))), "labels must match");
        assert!(!source.made(&claim("data-vc-x", labels.clone())));
        assert!(!source.made(&claim("data-vc-", labels.clone())));
        assert!(!source.made(&claim("data-vc2-0", labels.clone())), "another StatefulSet's");
        assert!(!source.made(&claim("logs-vc-0", labels)));
        let no_claims = Workload::of(&json!({"metadata": {"name": "vc"}, "spec": {
            "selector": {"matchLabels": {"app": "vcluster"}}}}))
        .unwrap();
        assert!(no_claims.claim_templates.is_empty());
        assert_eq!(Workload::of(&json!({"metadata": {"name": "vc"}, "spec": {}})), None, "no selector, no pods");
    }

    #[test]
    fn leftovers_leave_out_what_is_going_or_kept() {
        let object = |name: &str, extra: Value| {
            let mut meta = json!({"name": name});
            meta.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            ("v1".to_owned(), "Pod".to_owned(), json!({"metadata": meta}))
        };
        let listed = [
            object("stays", json!({})),
            object("terminating", json!({"deletionTimestamp": "2025-01-01T00:00:00Z"})),
            object("collected", json!({"ownerReferences": [{"uid": "sts-uid"}]})),
            object("kept", json!({})),
        ];
        let deleted: BTreeSet<String> = ["sts-uid".to_owned()].into();
        let kept: BTreeSet<(String, String)> = [("Pod".to_owned(), "kept".to_owned())].into();
        let found = leftovers(&listed, "release=vc", &deleted, &kept);
        assert_eq!(
            found,
            [Leftover {
                api_version: "v1".into(),
                kind: "Pod".into(),
                name: "stays".into(),
                label: "release=vc".into()
            }]
        );
    }
}
