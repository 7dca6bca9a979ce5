//! Why an install or upgrade failed, and what to do about it (hints for the report).

use std::time::Duration;

use crate::cluster::ClusterError;
use crate::error::{Hinted, Interrupted};
use crate::release::{Status, StoreError};
use crate::render::RenderError;
use crate::values::{self, ValuesError};

use super::permissions;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Values(#[from] ValuesError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot write the manifest as YAML: {0}")]
    Yaml(String),
    #[error("the cluster reports Kubernetes version {version:?}: {source}")]
    Version {
        version: String,
        #[source]
        source: values::k3s::BadVersion,
    },
    #[error("interrupted")]
    Interrupted(#[source] Interrupted),
    #[error("vcluster {name} already exists in namespace {namespace}")]
    Exists { name: String, namespace: String, revision: u32 },
    #[error("release {name} in namespace {namespace} is locked: revision {revision} is {status} ({description})")]
    Locked { name: String, namespace: String, revision: u32, status: Status, description: String },
    #[error("another operation on release {name} started at the same time and holds revision {revision}")]
    Concurrent { name: String, revision: u32 },
    #[error(
        "{} exist{} and {} not part of release {release}:{}",
        plural(objects.len(), "object"),
        if objects.len() == 1 { "s" } else { "" },
        if objects.len() == 1 { "is" } else { "are" },
        objects.iter().map(|(o, why)| format!("\n  {o}: {why}")).collect::<String>()
    )]
    Refused { release: String, objects: Vec<(String, String)> },
    #[error(
        "missing permissions in namespace {namespace} on the cluster of context {context:?} at {server}: {}",
        missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    Forbidden { namespace: String, context: String, server: String, missing: Vec<permissions::Permission> },
    #[error("applying {object} conflicts with another field manager: {message}")]
    Conflict { object: String, message: String },
    #[error("cannot apply {object}: {source}")]
    Apply {
        object: String,
        #[source]
        source: Box<ClusterError>,
    },
    #[error("cannot delete {object}: {source}")]
    Delete {
        object: String,
        #[source]
        source: Box<ClusterError>,
    },
    #[error("the cluster does not serve {kind} of {api_version}")]
    NotServed { api_version: String, kind: String },
    #[error("{object} was deleted while waiting for it")]
    Vanished { object: String },
    #[error("timed out after {} waiting for {what}: {stuck}", humanize(*waited))]
    Timeout { what: String, waited: Duration, stuck: String },
    #[error(
        "every object of revision {revision} of vcluster {name} was applied, but recording the revision as deployed failed: {source}"
    )]
    Unrecorded {
        name: String,
        revision: u32,
        #[source]
        source: Box<StoreError>,
    },
    #[error("{failure}; {recovery}")]
    RolledBack {
        #[source]
        failure: Box<InstallError>,
        recovery: String,
    },
}

pub fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// `10m`, `1m30s`, `45s`, `1.5s`.
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, _) if d.subsec_millis() != 0 => format!("{:.1}s", d.as_secs_f64()),
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

impl InstallError {
    /// What to do about it.
    pub fn hints(&self, name: &str, namespace: &str) -> Vec<String> {
        match self {
            InstallError::Cluster(e) => e.hint().into_iter().collect(),
            InstallError::Apply { source, .. } | InstallError::Delete { source, .. } => {
                source.hint().into_iter().collect()
            }
            InstallError::Store(StoreError::Cluster(e)) => e.hint().into_iter().collect(),
            InstallError::Values(e) => e.hint().into_iter().collect(),
            InstallError::Exists { .. } => vec![
                format!("upgrade it: vcluster create {name} -n {namespace} --upgrade"),
                format!("connect to it: vcluster connect {name} -n {namespace}"),
            ],
            InstallError::Locked { .. } => vec![
                "another create, upgrade or rollback is running, or one was killed; wait for it to finish".into(),
                "if no such process runs any more, rerun with --force-unlock".into(),
            ],
            InstallError::Concurrent { .. } => {
                vec!["wait for the other operation to finish, then run the command again".into()]
            }
            InstallError::Refused { .. } => vec![
                "--take-ownership adopts them into this release (their current release loses them)".into(),
                "or delete or rename them, or pick another vcluster name".into(),
            ],
            InstallError::Forbidden { missing, namespace, .. } => {
                let first = missing.first().map(|p| {
                    let resource =
                        if p.group.is_empty() { p.resource.clone() } else { format!("{}.{}", p.resource, p.group) };
                    let ns = if p.namespaced { format!(" -n {namespace}") } else { String::new() };
                    format!("; check with `kubectl auth can-i {} {resource}{ns}`", p.verb)
                });
                vec![format!("ask a cluster administrator for these permissions{}", first.unwrap_or_default())]
            }
            InstallError::Conflict { .. } => {
                vec!["--force-conflicts takes these fields over from their current manager".into()]
            }
            InstallError::Timeout { .. } => vec![
                "wait longer with --timeout (e.g. --timeout 20m), or look at the pods:".into(),
                format!("kubectl get pods -n {namespace} -l app=vcluster,release={name}"),
            ],
            InstallError::Unrecorded { source, .. } => {
                let mut hints: Vec<String> = match source.as_ref() {
                    StoreError::Cluster(e) => e.hint().into_iter().collect(),
                    _ => Vec::new(),
                };
                hints.push(format!(
                    "a revision left pending locks the release: run the same create again with --upgrade --force-unlock (`vcluster create {name} -n {namespace} --upgrade --force-unlock`)"
                ));
                hints
            }
            InstallError::RolledBack { failure, .. } => failure.hints(name, namespace),
            _ => Vec::new(),
        }
    }

    /// The error for the report: interrupts stay typed (exit 130), the rest carry their hints.
    pub fn into_report(self, name: &str, namespace: &str) -> anyhow::Error {
        if matches!(self, InstallError::Interrupted(_)) {
            return anyhow::Error::new(self);
        }
        let hints = self.hints(name, namespace);
        anyhow::Error::new(hints.into_iter().fold(Hinted::new(self.to_string()), Hinted::hint))
    }
}

impl From<Interrupted> for InstallError {
    fn from(e: Interrupted) -> Self {
        InstallError::Interrupted(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(humanize(Duration::from_secs(600)), "10m");
        assert_eq!(humanize(Duration::from_secs(90)), "1m30s");
        assert_eq!(humanize(Duration::from_secs(45)), "45s");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn errors_carry_hints_and_interrupts_stay_typed() {
        let exists = InstallError::Exists { name: "vc".into(), namespace: "ns".into(), revision: 1 };
        assert_eq!(
            exists.hints("vc", "ns"),
            ["upgrade it: vcluster create vc -n ns --upgrade", "connect to it: vcluster connect vc -n ns"]
        );
        let report = crate::error::format_report(&exists.into_report("vc", "ns"));
        assert!(report.starts_with("error: vcluster vc already exists in namespace ns\n"), "{report}");
        let interrupted = InstallError::Interrupted(Interrupted).into_report("vc", "ns");
        assert_eq!(crate::error::exit_status_of(&interrupted).code(), 130);
        let refused =
            InstallError::Refused { release: "vc".into(), objects: vec![("Service/vc".into(), "why".into())] };
        assert_eq!(refused.to_string(), "1 object exists and is not part of release vc:\n  Service/vc: why");
    }
}
