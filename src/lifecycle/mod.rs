//! What happens to a vcluster after `create`: [`uninstall`] (`vcluster delete`) and [`pause`]
//! (`vcluster pause` / `resume`). Each has a pure part (what to do, decided from what was read)
//! and the requests, made through [`crate::cluster::Host`] like an install's.

pub(crate) mod gone;
pub(crate) mod pause;
pub(crate) mod uninstall;

use std::time::Duration;

use crate::cluster::{ClusterError, Host, HostError};
use crate::error::{Advice, Interrupted};
use crate::find::FindError;
use crate::interrupt::Interrupt;
use crate::kubeconfig::{self, ConnectRecord, Edit, KubeconfigError, Loaded, Sources};
use crate::release::StoreError;
use crate::render::RenderError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum LifecycleError {
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(
        "vcluster {name} in namespace {namespace} has no Helm release records (Secrets sh.helm.release.v1.{name}.v*), so what belongs to it is not known"
    )]
    NoRecords { name: String, namespace: String },
    #[error("vcluster {name} in namespace {namespace} has no StatefulSet")]
    NoStatefulSet { name: String, namespace: String },
    #[error("vcluster {name} in namespace {namespace} was changed by another operation at the same time")]
    Concurrent { name: String, namespace: String },
}

impl From<Interrupted> for LifecycleError {
    fn from(e: Interrupted) -> Self {
        LifecycleError::Host(HostError::Interrupted(e))
    }
}

impl From<ClusterError> for LifecycleError {
    fn from(e: ClusterError) -> Self {
        LifecycleError::Host(HostError::Cluster(e))
    }
}

impl Advice for LifecycleError {
    fn hints(&self, name: &str, namespace: &str) -> Vec<String> {
        match self {
            LifecycleError::Host(e) => e.hints(name, namespace),
            LifecycleError::Store(StoreError::Cluster(e)) => e.hint().into_iter().collect(),
            LifecycleError::Kubeconfig(e) => e.hint().into_iter().collect(),
            LifecycleError::Find(e) => e.hints(),
            LifecycleError::NoRecords { .. } => vec![format!(
                "it was installed without Helm records here; delete its objects yourself, e.g. `kubectl delete statefulset,service,serviceaccount,role,rolebinding,configmap -n {namespace} -l release={name}`"
            )],
            LifecycleError::NoStatefulSet { .. } => vec![
                format!("`vcluster list -n {namespace}` shows its status"),
                format!("`vcluster create {name} -n {namespace} --upgrade` re-creates what is missing"),
            ],
            LifecycleError::Concurrent { .. } => {
                vec!["wait for the other operation to finish, then run the command again".into()]
            }
            _ => Vec::new(),
        }
    }
}

/// Run `watch` for at most `timeout`, stopping at an interrupt; a timeout is
/// [`HostError::Timeout`] waiting for `what`, `stuck` saying what was still awaited.
async fn bounded<T>(
    host: &Host,
    timeout: Duration,
    interrupt: &Interrupt,
    watch: impl Future<Output = kube::Result<T>>,
    what: String,
    stuck: impl FnOnce() -> String,
) -> Result<T, LifecycleError> {
    match tokio::time::timeout(timeout, interrupt.guard(watch)).await {
        Ok(result) => Ok(result?.map_err(|e| host.connection.error(e))?),
        Err(_) => Err(HostError::Timeout { what, waited: timeout, stuck: stuck() }.into()),
    }
}

/// What [`leave_contexts`] did to the kubeconfig.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Left {
    /// Contexts removed (none when they are kept).
    pub(crate) removed: Vec<String>,
    /// The current context switched to, when it reached the vcluster.
    pub(crate) switched_to: Option<String>,
}

/// Leave every kube context that reaches vcluster `name` in `namespace` of `host_context`: the
/// current context switches back (to the recorded previous context, else the host context) when
/// it is one of them, and unless `keep` they are removed with the cluster and user entries only
/// they use. Under client-go's kubeconfig lock; nothing is written when no context matches.
pub(crate) async fn leave_contexts(
    sources: &Sources,
    name: &str,
    namespace: &str,
    host_context: &str,
    keep: bool,
) -> Result<Left, LifecycleError> {
    let matching = |loaded: &Loaded| -> Vec<String> {
        kubeconfig::contexts_of(loaded, name, namespace)
            .into_iter()
            .filter(|c| ConnectRecord::of_context(loaded, c).is_some_and(|r| r.host_context == host_context))
            .collect()
    };
    if matching(&kubeconfig::load(sources)?).is_empty() {
        return Ok(Left::default());
    }
    let mut left = Left::default();
    kubeconfig::modify_async(sources, |loaded| {
        let mut working = loaded.clone();
        let mut edits: Vec<Edit> = Vec::new();
        for context in matching(loaded) {
            let plan = kubeconfig::disconnect(&working, Some(&context), keep)?;
            if working.current_context() == Some(context.as_str()) {
                left.switched_to = plan.switch_to.clone();
            }
            working.apply(&plan.edits)?;
            edits.extend(plan.edits);
            if !keep {
                left.removed.push(context);
            }
        }
        Ok::<_, LifecycleError>(edits)
    })
    .await?;
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupts_exit_130_and_the_rest_carry_hints() {
        let interrupted = LifecycleError::from(Interrupted).into_report("vc", "ns");
        assert_eq!(crate::error::exit_status_of(&interrupted).code(), 130);
        let report = crate::error::format_report(
            &LifecycleError::NoStatefulSet { name: "vc".into(), namespace: "ns".into() }.into_report("vc", "ns"),
            false,
        );
        assert!(report.starts_with("error: vcluster vc in namespace ns has no StatefulSet\n"), "{report}");
        assert!(report.contains("hint: `vcluster create vc -n ns --upgrade`"), "{report}");
    }
}
