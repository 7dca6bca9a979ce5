//! Why an install or upgrade failed, and what to do about it (hints for the report).

use crate::cluster::{ClusterError, HostError};
use crate::error::{Advice, Interrupted};
use crate::printer::text::plural;
use crate::release::{Status, StoreError};
use crate::render::RenderError;
use crate::values::{self, ValuesError};

use super::permissions;

#[derive(Debug, thiserror::Error)]
pub(crate) enum InstallError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Values(#[from] ValuesError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot write the manifest as YAML: {0}")]
    Yaml(#[source] serde_saphyr::ser_error::Error),
    #[error("the cluster reports Kubernetes version {version:?}: {source}")]
    Version {
        version: String,
        #[source]
        source: values::k3s::BadVersion,
    },
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
    #[error(
        "every object of revision {revision} of vcluster {name} was applied, but recording the revision as deployed failed: {source}"
    )]
    Unrecorded {
        name: String,
        revision: u32,
        #[source]
        source: Box<StoreError>,
    },
    #[error(
        "the upgrade changes what Kubernetes does not allow to change; nothing was written:{}",
        objects.iter().map(|(o, why)| format!("\n  {o}: {why}")).collect::<String>()
    )]
    Immutable { objects: Vec<(String, String)>, statefulset: bool },
    #[error("{failure}; {recovery}")]
    RolledBack {
        #[source]
        failure: Box<InstallError>,
        recovery: String,
        /// The failed install is gone: nothing is left to look at.
        removed: bool,
    },
}

impl InstallError {
    /// An interrupt (the first SIGINT/SIGTERM) stopped the run.
    pub(crate) fn is_interrupted(&self) -> bool {
        matches!(self, InstallError::Host(HostError::Interrupted(_)))
    }
}

impl Advice for InstallError {
    fn hints(&self, name: &str, namespace: &str) -> Vec<String> {
        match self {
            InstallError::Host(e) => e.hints(name, namespace),
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
            InstallError::Immutable { statefulset, .. } => {
                let mut hints = vec!["keep the old values (--reuse-values starts from them)".to_string()];
                if *statefulset {
                    hints.push(format!(
                        "or recreate the StatefulSet, its pods and claims kept: vcluster create {name} -n {namespace} --upgrade --recreate-statefulset"
                    ));
                }
                hints
            }
            // Nothing is left to look at once the failed install is gone (its namespace may be too).
            InstallError::RolledBack { failure, removed: true, .. } => {
                let mut hints: Vec<String> = failure
                    .hints(name, namespace)
                    .into_iter()
                    .filter(|h| !h.contains("kubectl get pods") && !h.contains("look at the pods"))
                    .collect();
                hints.push("fix the cause, then run the same create again".into());
                hints
            }
            InstallError::RolledBack { failure, .. } => failure.hints(name, namespace),
            _ => Vec::new(),
        }
    }
}

impl From<Interrupted> for InstallError {
    fn from(e: Interrupted) -> Self {
        InstallError::Host(HostError::Interrupted(e))
    }
}

impl From<ClusterError> for InstallError {
    fn from(e: ClusterError) -> Self {
        InstallError::Host(HostError::Cluster(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_hints_and_interrupts_stay_typed() {
        let exists = InstallError::Exists { name: "vc".into(), namespace: "ns".into(), revision: 1 };
        assert_eq!(
            exists.hints("vc", "ns"),
            ["upgrade it: vcluster create vc -n ns --upgrade", "connect to it: vcluster connect vc -n ns"]
        );
        let report = crate::error::format_report(&exists.into_report("vc", "ns"), false);
        assert!(report.starts_with("error: vcluster vc already exists in namespace ns\n"), "{report}");
        let interrupted = InstallError::from(Interrupted).into_report("vc", "ns");
        assert_eq!(crate::error::exit_status_of(&interrupted).code(), 130);
        let refused =
            InstallError::Refused { release: "vc".into(), objects: vec![("Service/vc".into(), "why".into())] };
        assert_eq!(refused.to_string(), "1 object exists and is not part of release vc:\n  Service/vc: why");
        // A removed install (and namespace) is not pointed at.
        let timeout = HostError::Timeout {
            what: "vcluster vc".into(),
            waited: std::time::Duration::from_secs(2),
            stuck: "x".into(),
        };
        let removed = InstallError::RolledBack {
            failure: Box::new(timeout.into()),
            recovery: "the failed install was removed (--rollback-on-failure)".into(),
            removed: true,
        };
        let hints = removed.hints("vc", "ns");
        assert!(hints.iter().all(|h| !h.contains("-n ns")), "{hints:?}");
        assert_eq!(hints.last().unwrap(), "fix the cause, then run the same create again");
    }
}
