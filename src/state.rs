//! The per-user state directory (XDG Base Directory specification): `$XDG_STATE_HOME/vcluster`,
//! else `~/.local/state/vcluster`, mode 0700. It holds what outlives one command: the background
//! port-forwarders' lock, pid and log files ([`crate::forward::registry`]). Nothing in it is needed
//! to undo a connect: the kubeconfig itself records that (`kubeconfig::ConnectRecord`), so an
//! emptied state directory loses nothing but running forwarders, which then stop by themselves.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The application's directory name under the XDG state home.
const APP: &str = "vcluster";

#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("no state directory: neither XDG_STATE_HOME nor HOME is set")]
    NoHome,
    #[error("cannot use the state directory {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

impl StateError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
        move |source| StateError::Io { path: path.to_path_buf(), source }
    }
}

/// The state directory of this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Pure: `$XDG_STATE_HOME/vcluster` when it is set to an absolute path (the specification
    /// says to ignore relative ones), else `$HOME/.local/state/vcluster`.
    pub(crate) fn locate(xdg_state_home: Option<&Path>, home: Option<&Path>) -> Option<StateDir> {
        let base = match xdg_state_home.filter(|p| p.is_absolute()) {
            Some(xdg) => xdg.to_path_buf(),
            None => home.filter(|h| !h.as_os_str().is_empty())?.join(".local").join("state"),
        };
        Some(StateDir { root: base.join(APP) })
    }

    /// From this process's environment.
    pub(crate) fn from_env() -> Result<StateDir, StateError> {
        let xdg = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from);
        let home = std::env::var_os("HOME").map(PathBuf::from).or_else(std::env::home_dir);
        StateDir::locate(xdg.as_deref(), home.as_deref()).ok_or(StateError::NoHome)
    }

    #[cfg(test)]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The subdirectory `name`, created with the root as needed, both private (0700).
    pub(crate) fn subdir(&self, name: &str) -> Result<PathBuf, StateError> {
        private_dir(&self.root)?;
        let dir = self.root.join(name);
        private_dir(&dir)?;
        Ok(dir)
    }
}

/// Create `dir` (and its parents) mode 0700; an existing directory of ours that others can read is
/// tightened, since it holds credentials' neighbours (pids, logs naming servers).
fn private_dir(dir: &Path) -> Result<(), StateError> {
    let err = StateError::io(dir);
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            if meta.mode() & 0o077 != 0 && meta.uid() == rustix::process::geteuid().as_raw() {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(StateError::io(dir))?;
            }
            Ok(())
        }
        Ok(_) => Err(err(io::Error::new(io::ErrorKind::AlreadyExists, "not a directory"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_state_home_wins_when_absolute() {
        let at = |xdg: Option<&str>, home: Option<&str>| {
            StateDir::locate(xdg.map(Path::new), home.map(Path::new)).map(|s| s.root().to_path_buf())
        };
        assert_eq!(at(Some("/x/state"), Some("/home/u")), Some("/x/state/vcluster".into()));
        assert_eq!(at(Some("relative"), Some("/home/u")), Some("/home/u/.local/state/vcluster".into()));
        assert_eq!(at(None, Some("/home/u")), Some("/home/u/.local/state/vcluster".into()));
        assert_eq!(at(None, Some("")), None);
        assert_eq!(at(None, None), None);
    }

    #[test]
    fn directories_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::locate(Some(&tmp.path().join("s")), None).unwrap();
        let dir = state.subdir("forwarders").unwrap();
        for d in [state.root(), dir.as_path()] {
            assert_eq!(fs::metadata(d).unwrap().mode() & 0o777, 0o700, "{}", d.display());
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        state.subdir("forwarders").unwrap();
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o777, 0o700, "tightened");
        fs::write(state.root().join("file"), "").unwrap();
        assert!(matches!(state.subdir("file"), Err(StateError::Io { .. })));
    }
}
