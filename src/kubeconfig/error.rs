//! Why a kubeconfig could not be read, understood or written.

use std::path::PathBuf;
use std::time::Duration;

/// Why a kubeconfig could not be read, understood or written.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot read kubeconfig {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("kubeconfig {} is not valid YAML: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("kubeconfig {}: {problem}", path.display())]
    Invalid { path: PathBuf, problem: String },
    #[error("cannot serialize kubeconfig {}: {message}", path.display())]
    Serialize { path: PathBuf, message: String },
    #[error("cannot write kubeconfig {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("kubeconfig is locked: {} still exists after {}s", lock.display(), waited.as_secs_f32())]
    Locked { lock: PathBuf, waited: Duration },
    #[error("cannot create the kubeconfig lock {}: {source}", lock.display())]
    Lock { lock: PathBuf, source: std::io::Error },
    #[error("no kubeconfig file to write to")]
    NoFile,
    #[error("the vcluster's kubeconfig cannot be used: {0}")]
    VclusterConfig(String),
    #[error("the kubeconfig has no current context")]
    NoCurrentContext,
    #[error("context {context:?} is not a vcluster context")]
    NotAVclusterContext { context: String },
}

impl KubeconfigError {
    /// Advice for the user, when there is any.
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            KubeconfigError::Locked { lock, .. } => Some(format!(
                "another kubectl or vcluster is writing the kubeconfig, or one was killed while writing; if none is running, remove {}",
                lock.display()
            )),
            KubeconfigError::NoFile => Some("pass --kubeconfig FILE, set KUBECONFIG, or set HOME".into()),
            KubeconfigError::NotAVclusterContext { .. } => {
                Some("it was not created by `vcluster connect`; switch with `kubectl config use-context NAME`".into())
            }
            KubeconfigError::Parse { path, .. } | KubeconfigError::Invalid { path, .. } => {
                Some(format!("fix {} or point --kubeconfig/KUBECONFIG elsewhere", path.display()))
            }
            _ => None,
        }
    }
}

impl From<KubeconfigError> for crate::error::Hinted {
    fn from(err: KubeconfigError) -> crate::error::Hinted {
        let hint = err.hint();
        hint.into_iter().fold(crate::error::Hinted::new(err), crate::error::Hinted::hint)
    }
}
