//! Install or upgrade a virtual cluster: what `vcluster create` does after reading its input.
//!
//! The order of a run, and why ([`Run::execute`]: decide, detect, lock, apply or recover):
//! 1. Read the release history and the host's version at once.
//! 2. Decide: a pending revision is a lock held by another run (`--force-unlock` clears it); a
//!    deployed release without `--upgrade` is left alone — no write at all; otherwise install
//!    (no history) or upgrade (Helm's `upgrade --install`).
//! 3. Render, look at the live objects the render and the revisions since the last deployed one
//!    name, and refuse objects of other releases — all before the first write.
//! 4. Check permissions (one SelfSubjectRulesReview, SelfSubjectAccessReviews for cluster-scoped
//!    kinds), create the namespace, detect the service CIDR (one GET of the default ServiceCIDR;
//!    dry-run probes in the namespace where that is not served or readable) and render again.
//! 5. Take the lock: **create** the new revision's record as pending.
//! 6. Apply (server-side apply, install-order tiers, each tier concurrently), prune, wait.
//! 7. Record the revision deployed (and the previous one superseded) — or failed, rolled back when
//!    asked, and exit 130 on an interrupt.
//!
//! Pure parts: [`crate::plan`] (shared with uninstall), [`diff`], [`permissions`]; the
//! requests only an install makes: [`requests`]; the rest go through [`crate::cluster::Host`].

pub(crate) mod diff;
pub(crate) mod error;
pub(crate) mod immutable;
pub(crate) mod permissions;
pub(crate) mod requests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use serde_json::{Map, Value, json};

pub(crate) use error::InstallError;

use crate::cluster::objects::{self, ObjectKey};
use crate::cluster::{ClusterError, Creation, Host, HostError, NamespaceState, wait};
use crate::interrupt::Interrupt;
use crate::plan::{self, Existing, ObjectOutcome, Plan, PlanInput, manifest};
use crate::printer::text::plural;
use crate::printer::{Printer, Progress};
use crate::release::{
    self, Chart, Info, LockHolder, Metadata, PendingAction, Release, ReleaseStore, Status, StoreError, Stored,
};
use crate::render::{self, Manifest, ReleaseInfo, RenderInput};
use crate::values::{self, Layers};
use vcluster_translate::cidr;

/// Objects of one tier applied at the same time.
const APPLY_CONCURRENCY: usize = 4;

/// How the run behaves (the flags of `create`).
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) upgrade: bool,
    pub(crate) reuse_values: bool,
    pub(crate) dry_run: bool,
    pub(crate) wait: bool,
    pub(crate) timeout: Duration,
    /// When the whole command must end (`--timeout` from its start): what waits get.
    pub(crate) deadline: tokio::time::Instant,
    pub(crate) rollback_on_failure: bool,
    pub(crate) take_ownership: bool,
    pub(crate) force_conflicts: bool,
    pub(crate) force_unlock: bool,
    /// A StatefulSet whose fixed fields change is deleted (pods and claims orphaned) and created
    /// again, instead of refusing the upgrade.
    pub(crate) recreate_statefulset: bool,
    /// Revisions kept (0: all).
    pub(crate) history_max: usize,
}

/// One install or upgrade.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// The user's values: computed from flags (lowest), files, `--set*`. The image and the service
    /// CIDR detected from the cluster go below all of them.
    pub(crate) layers: Layers,
    pub(crate) options: Options,
}

/// What happened, for people (stderr) and scripts (`-o json`). Field names are stable.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Outcome {
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// The revision written (none for a dry run).
    pub(crate) revision: Option<u32>,
    /// The revision's status (`deployed`), or `dry-run`.
    pub(crate) status: String,
    /// `install` or `upgrade`.
    pub(crate) action: String,
    pub(crate) dry_run: bool,
    pub(crate) objects: Vec<ObjectOutcome>,
}

/// Values and manifests of one render.
struct Prepared {
    config: Map<String, Value>,
    manifests: Vec<Manifest>,
    text: String,
}

/// Render with `detected` values below the user's (and, with `--reuse-values`, the previous
/// release's values between the two, as `helm upgrade --reuse-values` keeps them).
fn prepare(
    req: &Request,
    reuse: Option<&Map<String, Value>>,
    detected: &Map<String, Value>,
) -> Result<Prepared, InstallError> {
    let mut layers = req.layers.clone();
    let mut computed = detected.clone();
    values::merge_layer(&mut computed, std::mem::take(&mut layers.computed));
    if let Some(previous) = reuse {
        values::merge_layer(&mut computed, previous.clone());
    }
    layers.computed = computed;
    let loaded = values::load(&layers)?;
    let release = ReleaseInfo { name: req.name.clone(), namespace: req.namespace.clone() };
    let rendered = render::render(&RenderInput { release, values: &loaded.values })?;
    let text = render::to_yaml_stream(&rendered.manifests).map_err(InstallError::Yaml)?;
    Ok(Prepared { config: loaded.user, manifests: rendered.manifests, text })
}

/// Whether a values tree sets `path` to something other than null or "".
fn sets(tree: &Map<String, Value>, path: &[&str]) -> bool {
    let mut value = tree.get(path[0]);
    for key in &path[1..] {
        value = value.and_then(|v| v.get(*key));
    }
    value.is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
}

/// What a run does, decided from the release records before anything is rendered.
struct Decision {
    /// An install (no records, or only an uninstalled release), else an upgrade.
    install: bool,
    /// `--reuse-values`: the values of the revision upgraded from.
    reuse: Option<Map<String, Value>>,
    /// Kept from the revision upgraded from.
    first_deployed: Option<jiff::Timestamp>,
    /// The host's Kubernetes version, read when the image is not set.
    version: Option<String>,
    /// The service CIDR is not set: detect it.
    need_cidr: bool,
}

impl Decision {
    fn action(&self) -> &'static str {
        if self.install { "install" } else { "upgrade" }
    }
}

/// What the run will write, found before the lock.
struct Target {
    prepared: Prepared,
    plan: Plan,
    live: BTreeMap<ObjectKey, Value>,
    /// The namespace existed before this run.
    ns_existed: bool,
    namespace_created: bool,
    /// StatefulSets to delete (orphaning pods and claims) and create again: their fixed fields
    /// change and `--recreate-statefulset` was given. Name and uid.
    recreate: Vec<(ObjectKey, String)>,
}

/// Times the phases of a run for `--debug` (the benchmark reads these lines).
struct Phases<'a> {
    printer: &'a Printer,
    started: Instant,
}

impl Phases<'_> {
    fn done(&mut self, phase: &str) {
        let now = Instant::now();
        self.printer.debug(format!("phase {phase}: {:.1} ms", (now - self.started).as_secs_f64() * 1000.0));
        self.started = now;
    }
}

/// The run's shared pieces.
struct Run<'a> {
    host: &'a Host,
    store: ReleaseStore,
    req: &'a Request,
    printer: &'a Printer,
    interrupt: &'a Interrupt,
    progress: Progress,
}

/// Install or upgrade.
pub(crate) async fn run(
    host: &Host,
    req: &Request,
    printer: &Printer,
    interrupt: &Interrupt,
) -> Result<Outcome, InstallError> {
    let run = Run {
        host,
        store: ReleaseStore::new(&host.connection, &req.namespace, &req.name),
        req,
        printer,
        interrupt,
        progress: printer.progress(&format!("Reading release {} in namespace {}", req.name, req.namespace)),
    };
    run.execute().await
}

impl Run<'_> {
    fn name(&self) -> &str {
        &self.req.name
    }

    fn ns(&self) -> &str {
        &self.req.namespace
    }

    async fn execute(&self) -> Result<Outcome, InstallError> {
        let mut phases = Phases { printer: self.printer, started: Instant::now() };
        let (mut history, decision) = self.decide(&mut phases).await?;
        let mut target = self.detect(&history, &decision, &mut phases).await?;
        target.recreate = self.check_immutable(&target).await?;
        phases.done("immutable fields (server-side dry run)");
        if self.req.options.dry_run {
            return self.dry_run(&target, decision.action()).await;
        }
        let pending = self.lock(&history, &decision, &target, &mut phases).await?;
        self.apply_or_recover(&mut history, &decision, &target, &pending, &mut phases).await
    }

    /// Read the records and the host's version (when the image is not set), clear a lock with
    /// `--force-unlock`, and decide: install, upgrade, or leave an existing release alone.
    async fn decide(&self, phases: &mut Phases<'_>) -> Result<(Vec<Stored>, Decision), InstallError> {
        let opts = &self.req.options;
        let own = values::load(&self.req.layers)?.user;
        let need_image = !sets(&own, &["vcluster", "image"]);
        let version = async {
            match need_image {
                true => self.host.version().await.map(Some),
                false => Ok(None),
            }
        };
        let (history, version) = self.interrupt.guard(async { futures::join!(self.store.history(), version) }).await?;
        let mut history = history?;
        let version = version?;
        phases.done("read (release records, version)");

        self.unlock(&mut history).await?;
        if let Some(existing) = release::existing_vcluster_release(&history)
            && !opts.upgrade
        {
            return Err(InstallError::Exists {
                name: self.name().into(),
                namespace: self.ns().into(),
                revision: existing.version,
            });
        }
        let install = release::latest(&history).is_none_or(|r| r.info.status == Status::Uninstalled);
        let base = release::last_deployed(&history).or(release::latest(&history));
        let decision = Decision {
            install,
            reuse: base.filter(|_| opts.reuse_values).map(|r| r.config.clone()),
            first_deployed: if install { None } else { base.and_then(|r| r.info.first_deployed) },
            version,
            need_cidr: !sets(&own, &["serviceCIDR"]),
        };
        Ok((history, decision))
    }

    /// A pending newest revision is a lock held by another run; `--force-unlock` records it failed.
    async fn unlock(&self, history: &mut [Stored]) -> Result<(), InstallError> {
        let opts = &self.req.options;
        let Some(latest) = release::latest(history).filter(|r| r.info.status.is_pending()) else { return Ok(()) };
        let revision = latest.version;
        let locked = InstallError::Locked {
            name: self.name().into(),
            namespace: self.ns().into(),
            revision,
            status: latest.info.status,
            description: latest.info.description.clone(),
        };
        if !opts.force_unlock {
            return Err(locked);
        }
        self.printer.warn(format!("--force-unlock: {locked}"));
        if !opts.dry_run
            && let Some(index) = history.iter().position(|s| s.release.version == revision)
        {
            let mut cleared = history[index].release.clone();
            cleared
                .set_status(Status::Failed, format!("lock cleared by --force-unlock ({})", cleared.info.description));
            history[index] = self.store.update(&history[index], &cleared).await?;
        }
        Ok(())
    }

    /// Detect what the values leave to the host (the image from its version, the service CIDR),
    /// look at the live objects, make sure the namespace exists (not for a dry run), and plan:
    /// everything before the lock, objects of other releases refused.
    async fn detect(
        &self,
        history: &[Stored],
        decision: &Decision,
        phases: &mut Phases<'_>,
    ) -> Result<Target, InstallError> {
        let opts = &self.req.options;
        let mut detected = Map::new();
        if let Some(version) = &decision.version {
            let picked = values::k3s::image_for_version(version)
                .map_err(|source| InstallError::Version { version: version.clone(), source })?;
            if let Some(note) = picked.fallback_note {
                self.printer.warn(note);
            }
            detected.insert("vcluster".into(), json!({"image": picked.image}));
        }
        if decision.need_cidr {
            detected.insert("serviceCIDR".into(), cidr::FALLBACK.into());
        }
        let draft = prepare(self.req, decision.reuse.as_ref(), &detected)?;

        let previous = self.previous_objects(history)?;
        // Cluster-scoped objects first: they do not depend on the namespace, and one of another
        // release is refused before anything is written.
        let mut live = self.lookup(draft.manifests.iter().chain(&previous), false).await?;
        self.refuse(&self.plan(&draft.manifests, &previous, &live))?;
        phases.done("plan (render, cluster-scoped objects)");

        let (ns_existed, namespace_created) = if opts.dry_run {
            let state = self.interrupt.guard(self.host.namespace_state(self.ns())).await??;
            (state != NamespaceState::Missing, false)
        } else {
            self.check_permissions(&draft.manifests, &previous).await?;
            phases.done("permissions");
            let created = self.ensure_namespace().await?;
            phases.done("namespace");
            (!created, created)
        };
        // A namespace this run created holds none of the release's objects: no lookups needed.
        if ns_existed {
            let namespaced = draft.manifests.iter().chain(&previous).filter(|m| m.namespace.is_some());
            live.extend(self.lookup(namespaced, true).await?);
        }
        if decision.need_cidr {
            // A dry run creates no namespace: where it is missing, the probes go to `default`.
            let probe_ns = if !ns_existed && opts.dry_run { "default" } else { self.ns() };
            self.progress.set_phase("Detecting the host's service CIDR");
            let found = self.interrupt.guard(requests::detect_service_cidr(&self.host.connection, probe_ns)).await??;
            if let cidr::Detected::Fallback { reason } = &found {
                self.printer
                    .warn(format!("cannot detect the host's service CIDR ({reason}); using {}", cidr::FALLBACK));
            }
            detected.insert("serviceCIDR".into(), found.cidr().into());
            phases.done("detection (service CIDR)");
        }
        let prepared = prepare(self.req, decision.reuse.as_ref(), &detected)?;
        let new_keys =
            prepared.manifests.iter().filter(|m| !draft.manifests.iter().any(|d| ObjectKey::of(d) == ObjectKey::of(m)));
        live.extend(self.lookup(new_keys, ns_existed).await?);
        let plan = self.plan(&prepared.manifests, &previous, &live);
        self.refuse(&plan)?;
        Ok(Target { prepared, plan, live, ns_existed, namespace_created, recreate: Vec::new() })
    }

    /// Before any write: a server-side dry run of every live StatefulSet and Service whose fixed
    /// fields the upgrade changes ([`immutable`] compares them first, so other upgrades make no
    /// extra request) confirms what Kubernetes will refuse (422). Refused, naming the values
    /// behind it — unless `--recreate-statefulset` allows recreating the StatefulSets (returned).
    async fn check_immutable(&self, target: &Target) -> Result<Vec<(ObjectKey, String)>, InstallError> {
        let mut refused = Vec::new();
        let mut recreate = Vec::new();
        let mut statefulset = false;
        for step in &target.plan.applies {
            if !matches!(step.key.kind.as_str(), "StatefulSet" | "Service") {
                continue;
            }
            let Some(live) = target.live.get(&step.key) else { continue };
            let m = &target.prepared.manifests[step.index];
            let reasons = match step.key.kind.as_str() {
                "StatefulSet" => immutable::statefulset_changes(live, &m.object),
                _ => immutable::service_changes(live, &m.object),
            };
            if reasons.is_empty() {
                continue;
            }
            let message = match self.interrupt.guard(self.host.apply(m, true, true)).await? {
                Ok(_) => continue,
                Err(HostError::Apply { source, .. }) => match *source {
                    ClusterError::Api { code: 422, message, .. } => message,
                    other => return Err(HostError::Cluster(other).into()),
                },
                Err(e) => return Err(e.into()),
            };
            if step.key.kind != "StatefulSet" {
                refused.push((step.key.to_string(), format!("{}; {message}", reasons.join("; "))));
                continue;
            }
            if self.req.options.recreate_statefulset {
                let uid = live["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
                recreate.push((step.key.clone(), uid));
                continue;
            }
            statefulset = true;
            refused.push((step.key.to_string(), reasons.join("; ")));
        }
        if refused.is_empty() { Ok(recreate) } else { Err(InstallError::Immutable { objects: refused, statefulset }) }
    }

    /// Take the lock: **create** the new revision's record as pending (a concurrent run's create
    /// of the same revision fails with 409).
    async fn lock(
        &self,
        history: &[Stored],
        decision: &Decision,
        target: &Target,
        phases: &mut Phases<'_>,
    ) -> Result<Stored, InstallError> {
        let revision = release::next_revision(history);
        let pending_action = if decision.install { PendingAction::Install } else { PendingAction::Upgrade };
        let holder = LockHolder::this_process(jiff::Timestamp::now());
        let record = Release {
            name: self.name().into(),
            namespace: self.ns().into(),
            version: revision,
            info: Info::pending(pending_action, &holder, decision.first_deployed),
            chart: Some(Chart {
                metadata: Some(Metadata::vcluster()),
                values: Some(values::defaults().clone()),
                ..Chart::default()
            }),
            config: target.prepared.config.clone(),
            manifest: target.prepared.text.clone(),
            ..Release::default()
        };
        self.progress.set_phase(&format!(
            "{} {} (revision {revision})",
            if decision.install { "Installing" } else { "Upgrading" },
            self.name()
        ));
        let pending = self.store.create(&record).await.map_err(|e| match e {
            StoreError::Taken { name, revision } => InstallError::Concurrent { name, revision },
            other => other.into(),
        })?;
        phases.done("release record (pending)");
        Ok(pending)
    }

    /// Apply, prune and wait; then record the revision deployed — or failed, and with
    /// `--rollback-on-failure` remove the failed install or roll back to the last good revision.
    async fn apply_or_recover(
        &self,
        history: &mut Vec<Stored>,
        decision: &Decision,
        target: &Target,
        pending: &Stored,
        phases: &mut Phases<'_>,
    ) -> Result<Outcome, InstallError> {
        let mut applied = Applied::default();
        if target.namespace_created {
            applied.objects.push(namespace_outcome(self.ns(), "created"));
        }
        let failure =
            match self.deploy(&target.prepared.manifests, &target.plan, &target.recreate, &mut applied, phases).await {
                Ok(()) => {
                    let description = if decision.install { "Install complete" } else { "Upgrade complete" };
                    self.finish(pending, history, description).await?;
                    phases.done("release record (deployed)");
                    let revision = pending.release.version;
                    return Ok(self.outcome(Some(revision), "deployed", decision.action(), applied.objects));
                }
                Err(failure) => failure,
            };
        let verb = if decision.install { "Release" } else { "Upgrade" };
        // helm pkg/action/install.go failRelease, upgrade.go failRelease.
        let description = format!("{verb} \"{}\" failed: {failure}", self.name());
        let Some(failed_record) = self.record_failed(pending, description).await else {
            return Err(failure);
        };
        if !self.req.options.rollback_on_failure || failure.is_interrupted() {
            return Err(failure);
        }
        let (recovery, removed) = if decision.install {
            self.uninstall(&applied, target.namespace_created).await
        } else {
            history.push(failed_record);
            (self.rollback(history).await, false)
        };
        Err(InstallError::RolledBack { failure: Box::new(failure), recovery, removed })
    }

    /// The objects of every revision since the last deployed one: they may be live, and what the
    /// new render lacks is pruned.
    fn previous_objects(&self, history: &[Stored]) -> Result<Vec<Manifest>, InstallError> {
        let mut previous = Vec::new();
        for r in release::since_last_deployed(history) {
            previous.extend(manifest::parse_manifest(&r.manifest, self.ns())?);
        }
        Ok(previous)
    }

    /// GET the live objects among `manifests` (deduplicated); when the namespace did not exist,
    /// only the cluster-scoped ones (nothing can be in a namespace that is not there).
    async fn lookup<'m>(
        &self,
        manifests: impl Iterator<Item = &'m Manifest>,
        namespace_exists: bool,
    ) -> Result<BTreeMap<ObjectKey, Value>, InstallError> {
        let wanted = manifests.filter(|m| namespace_exists || m.namespace.is_none());
        Ok(self.host.get_all(wanted, self.interrupt).await?)
    }

    fn plan(&self, desired: &[Manifest], previous: &[Manifest], live: &BTreeMap<ObjectKey, Value>) -> Plan {
        plan::plan(&PlanInput {
            release: self.name(),
            namespace: self.ns(),
            desired,
            previous,
            live,
            take_ownership: self.req.options.take_ownership,
        })
    }

    fn refuse(&self, plan: &Plan) -> Result<(), InstallError> {
        if plan.refused.is_empty() {
            return Ok(());
        }
        Err(InstallError::Refused {
            release: self.name().into(),
            objects: plan.refused.iter().map(|(k, why)| (k.to_string(), why.clone())).collect(),
        })
    }

    async fn check_permissions(&self, desired: &[Manifest], previous: &[Manifest]) -> Result<(), InstallError> {
        self.progress.set_phase("Checking permissions");
        let mut needed = permissions::baseline(self.req.options.wait);
        let wanted: BTreeSet<ObjectKey> = desired.iter().map(ObjectKey::of).collect();
        let pruned = previous.iter().filter(|m| !wanted.contains(&ObjectKey::of(m)));
        for (m, prune) in desired.iter().map(|m| (m, false)).chain(pruned.map(|m| (m, true))) {
            if let Some((resource, namespaced)) = self.host.served(&m.api_version, &m.kind).await? {
                needed.extend(permissions::for_objects(&resource.plural, &resource.group, namespaced, prune));
            }
        }
        let needed = permissions::unique(needed);
        let report =
            self.interrupt.guard(requests::check_permissions(&self.host.connection, self.ns(), &needed)).await??;
        if let Some(why) = &report.unchecked {
            self.printer.debug(format!("some permissions were not checked in advance: {why}"));
        }
        if report.missing.is_empty() {
            return Ok(());
        }
        Err(InstallError::Forbidden {
            namespace: self.ns().into(),
            context: self.host.connection.context.clone(),
            server: self.host.connection.server.clone(),
            missing: report.missing,
        })
    }

    /// Make sure the namespace exists: created (annotated `vcluster.loft.sh/created`) when
    /// missing — a forbidden or conflicting create writes nothing and says whether it exists —,
    /// a terminating one waited for first. `true` when this run created it.
    async fn ensure_namespace(&self) -> Result<bool, InstallError> {
        // Said as what happens: "created" only when this run created it (not on every upgrade).
        self.progress.set_phase(&format!("Checking namespace {}", self.ns()));
        let deadline = self.req.options.deadline;
        loop {
            self.interrupt.check()?;
            let refused = match self.host.create_namespace(self.ns()).await? {
                Creation::Created => {
                    self.progress.println(&format!("created namespace {}", self.ns()));
                    return Ok(true);
                }
                Creation::Exists => None,
                Creation::Forbidden(e) => Some(e),
            };
            match self.interrupt.guard(self.host.namespace_state(self.ns())).await?? {
                NamespaceState::Exists(_) | NamespaceState::Unknown => return Ok(false),
                NamespaceState::Missing => match refused {
                    Some(e) => return Err(e.into()),
                    None => continue, // deleted since: create it again
                },
                NamespaceState::Terminating(object) => {
                    self.progress.set_phase(&format!("Waiting for namespace {} to finish terminating", self.ns()));
                    let gone = self.interrupt.guard(self.host.namespace_gone(&object));
                    if tokio::time::timeout_at(deadline, gone).await.is_err() {
                        return Err(HostError::Timeout {
                            what: format!("namespace {} to be deleted", self.ns()),
                            waited: self.req.options.timeout,
                            stuck: "it is still terminating (finalizers or objects that cannot be deleted)".into(),
                        }
                        .into());
                    }
                    self.progress.set_phase(&format!("Checking namespace {}", self.ns()));
                }
            }
        }
    }

    /// Apply, prune, wait.
    async fn deploy(
        &self,
        desired: &[Manifest],
        plan: &Plan,
        recreate: &[(ObjectKey, String)],
        applied: &mut Applied,
        phases: &mut Phases<'_>,
    ) -> Result<(), InstallError> {
        let opts = &self.req.options;
        for (key, uid) in recreate {
            self.interrupt.check()?;
            self.progress.set_phase(&format!("Recreating {key} (its pods and claims are kept)"));
            self.interrupt.guard(self.host.delete_statefulset_orphaning(self.ns(), &key.name, uid)).await??;
            self.progress.println(&format!("deleted {key} with its pods and claims orphaned; it is created again"));
        }
        let total = plan.applies.len();
        self.progress.set_phase(&format!("Applying {}", plural(total, "object")));
        let mut done = 0;
        // The steps keep the install order of `desired`: each run of one kind is a tier.
        for tier in plan.applies.chunk_by(|a, b| a.key.kind == b.key.kind) {
            let results: Vec<Result<(&plan::ApplyStep, Value), InstallError>> = futures::stream::iter(tier)
                .map(|step| async move {
                    let m = &desired[step.index];
                    self.interrupt.check()?;
                    if let (Some((fields, _)), Some(rv)) = (&step.take_over, &step.resource_version) {
                        self.interrupt.guard(self.host.replace_managed_fields(m, rv, fields)).await??;
                    }
                    self.interrupt.check()?;
                    // Taking ownership takes the fields the previous owner's managers hold, too.
                    let force = opts.force_conflicts || matches!(step.existing, Existing::Adopted(_));
                    let result = self.interrupt.guard(self.host.apply(m, force, false)).await??;
                    Ok((step, result))
                })
                .buffer_unordered(APPLY_CONCURRENCY)
                .collect()
                .await;
            for result in results {
                let (step, live) = result?;
                applied.record(&desired[step.index], step, &live);
                done += 1;
            }
            // What this tier did, then the count (tiers of several objects move it by more than one).
            self.progress.set_message(&format!("applied {} ({done}/{total})", plural(tier.len(), &tier[0].key.kind)));
        }
        for step in plan.applies.iter().filter(|s| s.take_over.is_some()) {
            let managers = step.take_over.as_ref().map(|(_, m)| m.join(", ")).unwrap_or_default();
            self.progress.println(&format!("took over the fields of {managers} on {}", step.key));
        }
        phases.done("apply");

        if !plan.prunes.is_empty() {
            self.progress.set_phase(&format!("Pruning {}", plural(plan.prunes.len(), "object")));
            for prune in &plan.prunes {
                self.interrupt.check()?;
                if self.host.delete(&prune.key, &prune.api_version, &prune.uid).await? {
                    applied.objects.push(ObjectOutcome::new(&prune.api_version, &prune.key, "pruned"));
                }
            }
            phases.done("prune");
        }
        for key in &plan.kept {
            self.progress.println(&format!("kept {key} (helm.sh/resource-policy: keep)"));
        }
        for (key, why) in &plan.disowned {
            self.progress.println(&format!("left {key} in place: {why}"));
        }

        if opts.wait {
            self.wait(applied).await?;
            phases.done("wait");
        }
        Ok(())
    }

    async fn wait(&self, applied: &Applied) -> Result<(), InstallError> {
        let Some(sts) = applied.statefulset.clone() else { return Ok(()) };
        let target =
            wait::Target { namespace: self.ns().into(), statefulset: sts, secret: format!("vc-{}", self.name()) };
        self.progress.set_phase(&format!("Waiting for vcluster {}", self.name()));
        // What is left of the command's --timeout.
        let left = self.req.options.deadline.saturating_duration_since(tokio::time::Instant::now());
        match wait::until_ready(self.host, &target, left, self.interrupt, &self.progress).await {
            // Said as the bound the user gave.
            Err(HostError::Timeout { what, stuck, .. }) => {
                Err(HostError::Timeout { what, waited: self.req.options.timeout, stuck }.into())
            }
            other => Ok(other?),
        }
    }

    /// The new revision deployed, earlier deployed ones superseded, history trimmed.
    async fn finish(&self, pending: &Stored, history: &[Stored], description: &str) -> Result<(), InstallError> {
        let mut deployed = pending.release.clone();
        deployed.set_status(Status::Deployed, description);
        deployed.info.last_deployed = Some(jiff::Timestamp::now());
        // Everything is applied: an error here must say so, and that the lock stays.
        self.store.update(pending, &deployed).await.map_err(|source| InstallError::Unrecorded {
            name: self.name().into(),
            revision: deployed.version,
            source: Box::new(source),
        })?;
        for old in history
            .iter()
            .filter(|s| s.release.info.status == Status::Deployed && s.release.version != deployed.version)
        {
            let mut superseded = old.release.clone();
            superseded.set_status(Status::Superseded, "Superseded");
            if let Err(e) = self.store.update(old, &superseded).await {
                self.printer.warn(format!("cannot mark revision {} superseded: {e}", old.release.version));
            }
        }
        for version in release::revisions_to_prune(history, self.req.options.history_max) {
            if let Some(old) = history.iter().find(|s| s.release.version == version)
                && let Err(e) = self.store.delete(old).await
            {
                self.printer.warn(format!("cannot delete old revision {version}: {e}"));
            }
        }
        Ok(())
    }

    /// `--rollback-on-failure` after a failed install: remove what this attempt created and the
    /// release's records (helm `pkg/action/install.go` `failRelease` uninstalls).
    /// `true` when everything of the failed install is gone (its namespace too, when it created it).
    async fn uninstall(&self, applied: &Applied, namespace_created: bool) -> (String, bool) {
        self.progress.set_phase(&format!("Removing the failed install of {}", self.name()));
        let mut problems = Vec::new();
        for (key, api_version, uid) in applied.created.iter().rev() {
            if let Err(e) = self.host.delete(key, api_version, uid).await {
                problems.push(e.to_string());
            }
        }
        match self.store.history().await {
            Ok(records) => {
                for record in &records {
                    if let Err(e) = self.store.delete(record).await {
                        problems.push(e.to_string());
                    }
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
        if namespace_created {
            let key =
                ObjectKey { group: String::new(), kind: "Namespace".into(), namespace: None, name: self.ns().into() };
            if let Ok(state) = self.host.namespace_state(self.ns()).await
                && let Some(uid) = state.object().and_then(|ns| ns.metadata.uid.as_deref())
                && let Err(e) = self.host.delete(&key, "v1", uid).await
            {
                problems.push(e.to_string());
            }
        }
        if problems.is_empty() {
            ("the failed install was removed (--rollback-on-failure)".into(), true)
        } else {
            (format!("removing the failed install left problems: {}", problems.join("; ")), false)
        }
    }

    /// `--rollback-on-failure` after a failed upgrade: re-apply the last good revision as a new
    /// revision, as `helm rollback` does (helm `pkg/action/rollback.go`).
    async fn rollback(&self, history: &[Stored]) -> String {
        let good = history
            .iter()
            .filter(|s| matches!(s.release.info.status, Status::Deployed | Status::Superseded))
            .max_by_key(|s| s.release.version);
        let Some(good) = good else { return "no earlier successful revision to roll back to".into() };
        match self.rollback_to(good, history).await {
            Ok(revision) => format!("rolled back to revision {} (as revision {revision})", good.release.version),
            Err(e) => format!("the rollback to revision {} failed too: {e}", good.release.version),
        }
    }

    async fn rollback_to(&self, good: &Stored, history: &[Stored]) -> Result<u32, InstallError> {
        let to = good.release.version;
        self.progress.set_phase(&format!("Rolling back {} to revision {to}", self.name()));
        let desired = manifest::parse_manifest(&good.release.manifest, self.ns())?;
        let previous = self.previous_objects(history)?;
        let live = self.lookup(desired.iter().chain(&previous), true).await?;
        let plan = self.plan(&desired, &previous, &live);
        self.refuse(&plan)?;
        let revision = release::next_revision(history);
        let action = PendingAction::Rollback { to };
        let mut record = good.release.clone();
        record.version = revision;
        record.info =
            Info::pending(action, &LockHolder::this_process(jiff::Timestamp::now()), good.release.info.first_deployed);
        let pending = self.store.create(&record).await?;
        let mut applied = Applied::default();
        let mut phases = Phases { printer: self.printer, started: Instant::now() };
        match self.deploy(&desired, &plan, &[], &mut applied, &mut phases).await {
            Ok(()) => {
                self.finish(&pending, history, &format!("Rollback to {to}")).await?;
                Ok(revision)
            }
            Err(e) => {
                self.record_failed(&pending, format!("Rollback \"{}\" failed: {e}", self.name())).await;
                Err(e)
            }
        }
    }

    /// Mark a pending revision failed; when that fails, say so (the revision stays pending and
    /// locks the release) and return `None`.
    async fn record_failed(&self, pending: &Stored, description: String) -> Option<Stored> {
        let mut failed = pending.release.clone();
        failed.set_status(Status::Failed, description);
        match self.store.update(pending, &failed).await {
            Ok(stored) => Some(stored),
            Err(e) => {
                let revision = failed.version;
                self.printer.warn(format!("cannot record revision {revision} as failed: {e}"));
                None
            }
        }
    }

    /// `--dry-run`: each object as the server would apply it (dryRun=All), compared with the
    /// live object; nothing is written.
    async fn dry_run(&self, target: &Target, action: &str) -> Result<Outcome, InstallError> {
        let (desired, plan, live, ns_existed) =
            (&target.prepared.manifests, &target.plan, &target.live, target.ns_existed);
        self.progress.set_phase(&format!("Dry run: {}", plural(plan.applies.len(), "object")));
        let mut objects = Vec::new();
        if !ns_existed {
            objects.push(namespace_outcome(self.ns(), "create"));
        }
        let results: Vec<Result<ObjectOutcome, InstallError>> = futures::stream::iter(&plan.applies)
            .map(|step| async move {
                let m = &desired[step.index];
                let live = live.get(&step.key);
                if target.recreate.iter().any(|(key, _)| *key == step.key) {
                    // --recreate-statefulset: deleted (pods and claims orphaned) and created again.
                    return Ok(ObjectOutcome::new(&m.api_version, &step.key, "recreate"));
                }
                let change = if m.namespace.is_some() && !ns_existed {
                    diff::Change::Create
                } else {
                    // The real run takes Helm's fields over before applying; forcing is the same here.
                    let force = self.req.options.force_conflicts
                        || step.take_over.is_some()
                        || matches!(step.existing, Existing::Adopted(_));
                    let result = self.interrupt.guard(self.host.apply(m, force, true)).await??;
                    diff::change(live, &result, &step.key.to_string())
                };
                let mut outcome = ObjectOutcome::new(&m.api_version, &step.key, "");
                (outcome.action, outcome.diff) = match change {
                    diff::Change::Create => ("create".into(), None),
                    diff::Change::Unchanged => ("unchanged".into(), None),
                    diff::Change::Changed(d) => ("change".into(), Some(d)),
                };
                outcome.adopted = matches!(step.existing, Existing::Adopted(_));
                outcome.taken_over_from = step.take_over.as_ref().map(|(_, m)| m.clone()).unwrap_or_default();
                Ok(outcome)
            })
            .buffered(APPLY_CONCURRENCY)
            .collect()
            .await;
        for r in results {
            objects.push(r?);
        }
        objects.extend(plan.prunes.iter().map(|p| ObjectOutcome::new(&p.api_version, &p.key, "prune")));
        Ok(self.outcome(None, "dry-run", action, objects))
    }

    fn outcome(&self, revision: Option<u32>, status: &str, action: &str, objects: Vec<ObjectOutcome>) -> Outcome {
        Outcome {
            name: self.name().into(),
            namespace: self.ns().into(),
            revision,
            status: status.into(),
            action: action.into(),
            dry_run: self.req.options.dry_run,
            objects,
        }
    }
}

fn namespace_outcome(name: &str, action: &str) -> ObjectOutcome {
    let key = ObjectKey { group: String::new(), kind: "Namespace".into(), namespace: None, name: name.into() };
    ObjectOutcome::new("v1", &key, action)
}

/// What the apply phase did so far.
#[derive(Default)]
struct Applied {
    objects: Vec<ObjectOutcome>,
    /// Objects this run created (key, apiVersion, uid): what `--rollback-on-failure` removes
    /// after a failed install.
    created: Vec<(ObjectKey, String, String)>,
    /// The StatefulSet as applied (the wait starts from it).
    statefulset: Option<k8s_openapi::api::apps::v1::StatefulSet>,
}

impl Applied {
    fn record(&mut self, m: &Manifest, step: &plan::ApplyStep, live: &Value) {
        let rv = objects::meta_str(live, "resourceVersion");
        let action = match (&step.existing, &step.resource_version) {
            (Existing::Absent, _) => "created",
            (_, Some(before)) if Some(before.as_str()) == rv && step.take_over.is_none() => "unchanged",
            _ => "configured",
        };
        if step.existing == Existing::Absent
            && let Some(uid) = objects::meta_str(live, "uid")
        {
            self.created.push((step.key.clone(), m.api_version.clone(), uid.to_owned()));
        }
        if m.kind == "StatefulSet" && m.api_version == "apps/v1" {
            self.statefulset = serde_json::from_value(live.clone()).ok();
        }
        let mut outcome = ObjectOutcome::new(&m.api_version, &step.key, action);
        outcome.adopted = matches!(step.existing, Existing::Adopted(_));
        outcome.taken_over_from = step.take_over.as_ref().map(|(_, managers)| managers.clone()).unwrap_or_default();
        self.objects.push(outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_the_user_set_are_not_detected() {
        let tree: Map<String, Value> =
            serde_json::from_value(json!({"vcluster": {"image": "x"}, "serviceCIDR": ""})).unwrap();
        assert!(sets(&tree, &["vcluster", "image"]));
        assert!(!sets(&tree, &["serviceCIDR"]));
        assert!(!sets(&tree, &["syncer", "image"]));
    }
}
