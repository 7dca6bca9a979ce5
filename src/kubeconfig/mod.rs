//! Kubeconfig files exactly as client-go's loading rules and `clientcmd.ModifyConfig` treat them.
//!
//! - [`Sources`]: `--kubeconfig` (that file only), else the files of `KUBECONFIG`, else
//!   `~/.kube/config`; which file a new entry goes to.
//! - [`Document`]: one file, kept as a JSON document so every unknown field and extension survives.
//! - [`Loaded`]: the files merged (first file wins per entry and for `current-context`) and changed
//!   by [`Edit`]s as `ModifyConfig` writes them (pure).
//! - `store`: the I/O — [`load`], and [`modify`] (read-modify-write under client-go's
//!   `<file>.lock`, atomic replacement, modes and symlinks respected).
//! - [`vcluster`]: context names, the `vcluster.loft.sh/connect` extension, the vcluster's own
//!   kubeconfig renamed for merging, and what `disconnect` removes.
//!
//! Deliberate differences from client-go: comments and formatting of a rewritten file are not kept
//! (client-go drops them too) but unknown fields are (client-go drops those); a held lock is waited
//! for instead of failing at once; writes are atomic. kubectl's `PathOptions.GetDefaultFilename`
//! (the last `KUBECONFIG` file when none exists) is followed rather than the loading rules' (the
//! first), so we and `kubectl config` create the same file.

pub(crate) mod document;
pub(crate) mod error;
pub(crate) mod loaded;
pub(crate) mod sources;
pub(crate) mod store;
pub mod vcluster;

pub use document::{Document, Kind};
pub use error::KubeconfigError;
pub use loaded::{Edit, Loaded};
pub use sources::Sources;
pub(crate) use store::modify_async;
pub(crate) use store::write_private;
pub use store::{load, lock_path, modify, write_atomic};
pub(crate) use vcluster::contexts_of;
pub use vcluster::{ConnectRecord, Disconnect, VclusterCredentials, context_name, disconnect};

/// The namespace of `context_override` or else the current context, when it sets one (the
/// namespace resolver of `render` and `create` falls back to it).
pub(crate) fn context_namespace(loaded: &Loaded, context_override: Option<&str>) -> Option<String> {
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
        assert_eq!(hinted.to_string(), "context \"prod\" is not a vcluster context");
        assert_eq!(hinted.hints().len(), 1);
    }
}
