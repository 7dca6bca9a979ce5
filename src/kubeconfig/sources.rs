//! Which kubeconfig files are read, and which one a new entry goes to, as client-go decides.
//! (client-go `tools/clientcmd/config.go` `PathOptions`, `loader.go` `ClientConfigLoadingRules`)

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The kubeconfig files of this invocation: `--kubeconfig` (exactly that file), else every file of
/// `KUBECONFIG` (`:`-separated, duplicates and empty entries dropped), else `~/.kube/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    explicit: Option<PathBuf>,
    env_files: Vec<PathBuf>,
    home_file: Option<PathBuf>,
}

impl Sources {
    /// Pure constructor: `explicit` from `--kubeconfig`, `kubeconfig_env` the value of `KUBECONFIG`,
    /// `home` the user's home directory.
    pub fn new(explicit: Option<PathBuf>, kubeconfig_env: Option<&OsStr>, home: Option<&Path>) -> Sources {
        let mut env_files: Vec<PathBuf> = Vec::new();
        for path in kubeconfig_env.map(std::env::split_paths).into_iter().flatten() {
            if !path.as_os_str().is_empty() && !env_files.contains(&path) {
                env_files.push(path);
            }
        }
        Sources {
            explicit: explicit.filter(|p| !p.as_os_str().is_empty()),
            env_files,
            home_file: home.map(|h| h.join(".kube").join("config")),
        }
    }

    /// From this process's environment (`KUBECONFIG`, `HOME`).
    pub(crate) fn from_env(explicit: Option<&Path>) -> Sources {
        let env = std::env::var_os("KUBECONFIG");
        let home = std::env::var_os("HOME").map(PathBuf::from).filter(|h| !h.as_os_str().is_empty());
        Sources::new(explicit.map(Path::to_path_buf), env.as_deref(), home.or_else(std::env::home_dir).as_deref())
    }

    /// The `--kubeconfig` file, if given.
    pub(crate) fn explicit(&self) -> Option<&Path> {
        self.explicit.as_deref()
    }

    /// Files in the order they are read; the first to define an entry owns it.
    /// (`PathOptions.GetLoadingPrecedence`)
    pub(crate) fn precedence(&self) -> Vec<PathBuf> {
        if let Some(explicit) = &self.explicit {
            vec![explicit.clone()]
        } else if !self.env_files.is_empty() {
            self.env_files.clone()
        } else {
            self.home_file.iter().cloned().collect()
        }
    }

    /// The file a new entry or a new current context goes to: the explicit file; else the only
    /// `KUBECONFIG` file, the first one that exists, or the last one when none exists; else
    /// `~/.kube/config`. (`PathOptions.GetDefaultFilename`, as kubectl uses it)
    pub(crate) fn default_file(&self, exists: impl Fn(&Path) -> bool) -> Option<PathBuf> {
        if let Some(explicit) = &self.explicit {
            return Some(explicit.clone());
        }
        if let Some(last) = self.env_files.last() {
            let first_existing = self.env_files.iter().find(|p| exists(p));
            return Some(first_existing.unwrap_or(last).clone());
        }
        self.home_file.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn explicit_file_wins_over_everything() {
        let s = Sources::new(Some("/x".into()), Some(OsStr::new("/a:/b")), Some(Path::new("/home/u")));
        assert_eq!(s.precedence(), paths(&["/x"]));
        assert_eq!(s.default_file(|_| false), Some("/x".into()));
    }

    #[test]
    fn kubeconfig_env_is_split_deduplicated_and_cleaned() {
        let s = Sources::new(None, Some(OsStr::new("/a::/b:/a:")), Some(Path::new("/home/u")));
        assert_eq!(s.precedence(), paths(&["/a", "/b"]));
    }

    #[test]
    fn home_file_when_nothing_else() {
        let s = Sources::new(None, Some(OsStr::new("")), Some(Path::new("/home/u")));
        assert_eq!(s.precedence(), paths(&["/home/u/.kube/config"]));
        assert_eq!(s.default_file(|_| false), Some("/home/u/.kube/config".into()));
        assert_eq!(Sources::new(None, None, None).precedence(), Vec::<PathBuf>::new());
    }

    #[test]
    fn default_file_is_first_existing_else_last() {
        let s = Sources::new(None, Some(OsStr::new("/a:/b:/c")), None);
        assert_eq!(s.default_file(|p| p == Path::new("/b") || p == Path::new("/c")), Some("/b".into()));
        assert_eq!(s.default_file(|_| false), Some("/c".into()));
        let single = Sources::new(None, Some(OsStr::new("/only")), None);
        assert_eq!(single.default_file(|_| false), Some("/only".into()));
    }
}
