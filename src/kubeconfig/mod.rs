//! Kubeconfig files exactly as client-go's loading rules and `clientcmd.ModifyConfig` treat them.
//!
//! - [`Sources`]: `--kubeconfig` (that file only), else the files of `KUBECONFIG`, else
//!   `~/.kube/config`; which file a new entry goes to.
//! - [`Document`]: one file, kept as a JSON document so every unknown field and extension survives.
//! - [`Loaded`]: the files merged (first file wins per entry and for `current-context`) and changed
//!   by [`Edit`]s as `ModifyConfig` writes them (pure).
//! - [`store`]: the I/O — [`load`], and [`modify`] (read-modify-write under client-go's
//!   `<file>.lock`, atomic replacement, modes and symlinks respected).
//! - [`vcluster`]: context names, the `vcluster.loft.sh/connect` extension, the vcluster's own
//!   kubeconfig renamed for merging, and what `disconnect` removes.
//!
//! Deliberate differences from client-go: comments and formatting of a rewritten file are not kept
//! (client-go drops them too) but unknown fields are (client-go drops those); a held lock is waited
//! for instead of failing at once; writes are atomic. kubectl's `PathOptions.GetDefaultFilename`
//! (the last `KUBECONFIG` file when none exists) is followed rather than the loading rules' (the
//! first), so we and `kubectl config` create the same file.

pub mod document;
pub mod loaded;
pub mod sources;
pub mod store;
pub mod vcluster;

use std::path::PathBuf;
use std::time::Duration;

pub use document::{Document, Kind};
pub use loaded::{Edit, Loaded};
pub use sources::Sources;
pub use store::{load, lock_path, modify, write_atomic, write_private};
pub use vcluster::{ConnectRecord, Disconnect, VclusterCredentials, context_name, contexts_of, disconnect};

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
    pub fn hint(&self) -> Option<String> {
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
        hint.into_iter().fold(crate::error::Hinted::new(err.to_string()), crate::error::Hinted::hint)
    }
}

/// The namespace of `context_override` or else the current context, when it sets one (the
/// namespace resolver of `render` and `create` falls back to it).
pub fn context_namespace(loaded: &Loaded, context_override: Option<&str>) -> Option<String> {
    let context = context_override.or(loaded.current_context())?;
    loaded.entry(Kind::Context, context)?.get("namespace")?.as_str().filter(|ns| !ns.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn context_namespace_reads_the_chosen_context() {
        let text = "contexts:\n- name: a\n  context: {namespace: team-a}\n- name: b\n  context: {namespace: ''}\n- name: c\n  context: {}\ncurrent-context: a\n";
        let loaded = Loaded::new(
            Sources::new(Some("/k".into()), None, None),
            vec![Document::parse(Path::new("/k"), text).unwrap()],
        );
        assert_eq!(context_namespace(&loaded, None).as_deref(), Some("team-a"));
        assert_eq!(context_namespace(&loaded, Some("b")), None);
        assert_eq!(context_namespace(&loaded, Some("c")), None);
        assert_eq!(context_namespace(&loaded, Some("missing")), None);
    }

    #[test]
    fn errors_become_hinted_reports() {
        let hinted = crate::error::Hinted::from(KubeconfigError::NotAVclusterContext { context: "prod".into() });
        assert_eq!(hinted.message, "context \"prod\" is not a vcluster context");
        assert_eq!(hinted.hints.len(), 1);
    }
}
