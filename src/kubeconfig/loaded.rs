//! The kubeconfig files of an invocation, read together as client-go merges them, and changed as
//! client-go's `ModifyConfig` changes them. Pure: reading and writing the files is [`super::store`].
//!
//! Merge (client-go `tools/clientcmd/loader.go` `ClientConfigLoadingRules.Load`): for each entry
//! name and for `current-context`, the first file that defines it wins; nothing is merged inside an
//! entry. Modify (client-go `tools/clientcmd/config.go` `ModifyConfig`, `writeCurrentContext`): a
//! changed or removed entry is written to the file it came from, a new one to the default file
//! ([`Sources::default_file`]); a new current context goes to the default file (the explicit one
//! with `--kubeconfig`), and clearing it clears the first file that sets it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::document::{Document, Kind};
use super::error::KubeconfigError;
use super::sources::Sources;

/// One change to the kubeconfig.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Create or replace the entry `name` of `kind` with `body` (the value under
    /// `cluster:`/`user:`/`context:`).
    Set { kind: Kind, name: String, body: Value },
    /// Remove the entry `name` of `kind` from the file it came from.
    Remove { kind: Kind, name: String },
    /// Switch the current context (`None` clears it).
    CurrentContext(Option<String>),
}

/// The files of one invocation, in precedence order (missing ones included, so a new entry can
/// create them).
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    sources: Sources,
    files: Vec<Document>,
}

impl Loaded {
    /// Build from documents read for `sources` (one per [`Sources::precedence`] path, in order).
    pub(crate) fn new(sources: Sources, files: Vec<Document>) -> Loaded {
        Loaded { sources, files }
    }

    pub(crate) fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The files, in precedence order.
    pub(crate) fn files(&self) -> &[Document] {
        &self.files
    }

    /// No file exists, or none defines anything: client-go then falls back to in-cluster config.
    pub(crate) fn is_empty(&self) -> bool {
        self.current_context().is_none() && Kind::ALL.iter().all(|k| self.names(*k).is_empty())
    }

    /// The merged current context: the first file that sets a non-empty one.
    pub fn current_context(&self) -> Option<&str> {
        self.files.iter().find_map(Document::current_context)
    }

    /// The body of entry `name` of `kind`, from the first file that defines it.
    pub fn entry(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.files.iter().find_map(|f| f.entry(kind, name))
    }

    /// The file that owns entry `name` of `kind` (client-go's `LocationOfOrigin`).
    #[cfg(test)]
    pub(crate) fn origin(&self, kind: Kind, name: &str) -> Option<&Path> {
        self.files.iter().find(|f| f.entry(kind, name).is_some()).map(|f| f.path.as_path())
    }

    /// Every entry name of `kind`, in order of first appearance.
    pub(crate) fn names(&self, kind: Kind) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in self.files.iter().flat_map(|f| f.entries(kind)) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// The merged configuration as one kubeconfig document, relative file references (certificate,
    /// key and token files, exec commands with a `/`) resolved against the directory of the file that
    /// defines each entry, as client-go resolves them for a client. (client-go `loader.go`
    /// `ResolveLocalPaths`)
    pub(crate) fn client_document(&self) -> Value {
        let mut root = Map::new();
        root.insert("apiVersion".into(), "v1".into());
        root.insert("kind".into(), "Config".into());
        for kind in Kind::ALL {
            let entries = self
                .names(kind)
                .into_iter()
                .filter_map(|name| {
                    let owner = self.files.iter().find(|f| f.entry(kind, name).is_some())?;
                    let mut body = owner.entry(kind, name)?.clone();
                    if let Some(dir) = owner.path.parent() {
                        resolve_local_paths(kind, &mut body, dir);
                    }
                    let mut entry = Map::new();
                    entry.insert("name".into(), name.into());
                    entry.insert(kind.body_key().into(), body);
                    Some(Value::Object(entry))
                })
                .collect();
            root.insert(kind.list_key().into(), Value::Array(entries));
        }
        if let Some(current) = self.current_context() {
            root.insert("current-context".into(), current.into());
        }
        Value::Object(root)
    }

    /// Apply `edits` in order, as `ModifyConfig` would write them; returns the paths of the files
    /// that changed (and so must be written).
    pub(crate) fn apply(&mut self, edits: &[Edit]) -> Result<BTreeSet<PathBuf>, KubeconfigError> {
        let mut changed = BTreeSet::new();
        for edit in edits {
            let index = match edit {
                Edit::Set { kind, name, body } => {
                    let index = match self.owner_index(*kind, name) {
                        Some(i) => i,
                        None => self.default_index()?,
                    };
                    self.files[index].set_entry(*kind, name, body.clone()).then_some(index)
                }
                Edit::Remove { kind, name } => {
                    self.owner_index(*kind, name).filter(|i| self.files[*i].remove_entry(*kind, name))
                }
                Edit::CurrentContext(name) => self.set_current_context(name.as_deref())?,
            };
            if let Some(i) = index {
                self.files[i].exists = true;
                changed.insert(self.files[i].path.clone());
            }
        }
        Ok(changed)
    }

    fn owner_index(&self, kind: Kind, name: &str) -> Option<usize> {
        self.files.iter().position(|f| f.entry(kind, name).is_some())
    }

    fn default_index(&self) -> Result<usize, KubeconfigError> {
        let path = self
            .sources
            .default_file(|p| self.files.iter().any(|f| f.path == p && f.exists))
            .ok_or(KubeconfigError::NoFile)?;
        self.files.iter().position(|f| f.path == path).ok_or(KubeconfigError::NoFile)
    }

    /// `writeCurrentContext`: which file changes, if any.
    fn set_current_context(&mut self, name: Option<&str>) -> Result<Option<usize>, KubeconfigError> {
        if self.current_context() == name {
            return Ok(None);
        }
        let index = match name {
            Some(_) => self.default_index()?,
            None if self.sources.explicit().is_some() => self.default_index()?,
            None => self
                .files
                .iter()
                .position(|f| f.exists && f.current_context().is_some())
                .ok_or(KubeconfigError::NoFile)?,
        };
        self.files[index].set_current_context(name);
        Ok(Some(index))
    }
}

/// Resolve the file references client-go resolves, against `dir`.
fn resolve_local_paths(kind: Kind, body: &mut Value, dir: &Path) {
    let fields: &[&str] = match kind {
        Kind::Cluster => &["certificate-authority"],
        Kind::User => &["client-certificate", "client-key", "tokenFile"],
        Kind::Context => &[],
    };
    let Some(body) = body.as_object_mut() else { return };
    for field in fields {
        if let Some(Value::String(path)) = body.get_mut(*field) {
            resolve(path, dir);
        }
    }
    if kind == Kind::User
        && let Some(Value::String(command)) = body.get_mut("exec").and_then(|e| e.get_mut("command"))
        && command.contains('/')
    {
        resolve(command, dir);
    }
}

fn resolve(path: &mut String, dir: &Path) {
    if !path.is_empty() && Path::new(path.as_str()).is_relative() {
        *path = dir.join(path.as_str()).to_string_lossy().into_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::ffi::OsStr;

    fn doc(path: &str, text: &str) -> Document {
        Document::parse(Path::new(path), text).unwrap()
    }

    /// KUBECONFIG=/a:/b:/c where /c does not exist.
    fn three() -> Loaded {
        let a = doc(
            "/a",
            "clusters:\n- name: shared\n  cluster: {server: https://from-a}\ncontexts:\n- name: ctx-a\n  context: {cluster: shared, user: u}\n",
        );
        let b = doc(
            "/b",
            "clusters:\n- name: shared\n  cluster: {server: https://from-b}\n- name: only-b\n  cluster: {server: https://b}\nusers:\n- name: u\n  user: {token: t}\ncurrent-context: ctx-b\n",
        );
        Loaded::new(
            Sources::new(None, Some(OsStr::new("/a:/b:/c")), None),
            vec![a, b, Document::missing(Path::new("/c"))],
        )
    }

    #[test]
    fn first_file_wins_per_entry_and_for_current_context() {
        let l = three();
        assert_eq!(l.entry(Kind::Cluster, "shared").unwrap()["server"], "https://from-a");
        assert_eq!(l.origin(Kind::Cluster, "shared"), Some(Path::new("/a")));
        assert_eq!(l.origin(Kind::Cluster, "only-b"), Some(Path::new("/b")));
        assert_eq!(l.names(Kind::Cluster), ["shared", "only-b"]);
        assert_eq!(l.current_context(), Some("ctx-b"));
        assert!(!l.is_empty());
    }

    #[test]
    fn changes_go_to_the_owner_and_new_entries_to_the_default_file() {
        let mut l = three();
        let changed = l
            .apply(&[
                Edit::Set { kind: Kind::Cluster, name: "only-b".into(), body: json!({"server": "https://b2"}) },
                Edit::Set { kind: Kind::Cluster, name: "brand-new".into(), body: json!({"server": "https://n"}) },
            ])
            .unwrap();
        assert_eq!(changed, BTreeSet::from([PathBuf::from("/a"), PathBuf::from("/b")]));
        assert_eq!(l.files()[1].entry(Kind::Cluster, "only-b").unwrap()["server"], "https://b2");
        assert!(l.files()[0].entry(Kind::Cluster, "brand-new").is_some(), "first existing file");
    }

    #[test]
    fn unchanged_entries_write_nothing() {
        let mut l = three();
        let same = l.entry(Kind::User, "u").unwrap().clone();
        let changed = l
            .apply(&[
                Edit::Set { kind: Kind::User, name: "u".into(), body: same },
                Edit::CurrentContext(Some("ctx-b".into())),
                Edit::Remove { kind: Kind::Context, name: "absent".into() },
            ])
            .unwrap();
        assert!(changed.is_empty());
    }

    #[test]
    fn current_context_goes_to_the_default_file_and_clearing_clears_its_setter() {
        let mut l = three();
        assert_eq!(
            l.apply(&[Edit::CurrentContext(Some("ctx-a".into()))]).unwrap(),
            BTreeSet::from([PathBuf::from("/a")])
        );
        assert_eq!(l.files()[0].current_context(), Some("ctx-a"));
        assert_eq!(l.files()[1].current_context(), Some("ctx-b"), "left alone, but shadowed");
        assert_eq!(l.current_context(), Some("ctx-a"));
        // Clearing clears only the first file that sets it: /b's value shows through again.
        assert_eq!(l.apply(&[Edit::CurrentContext(None)]).unwrap(), BTreeSet::from([PathBuf::from("/a")]));
        assert_eq!(l.current_context(), Some("ctx-b"));
    }

    #[test]
    fn removal_reveals_a_shadowed_entry_as_in_client_go() {
        let mut l = three();
        l.apply(&[Edit::Remove { kind: Kind::Cluster, name: "shared".into() }]).unwrap();
        assert_eq!(l.entry(Kind::Cluster, "shared").unwrap()["server"], "https://from-b");
    }

    #[test]
    fn nothing_existing_means_the_last_kubeconfig_file_is_created() {
        let sources = Sources::new(None, Some(OsStr::new("/x:/y")), None);
        let mut l = Loaded::new(sources, vec![Document::missing(Path::new("/x")), Document::missing(Path::new("/y"))]);
        assert!(l.is_empty());
        let changed = l.apply(&[Edit::Set { kind: Kind::Context, name: "c".into(), body: json!({}) }]).unwrap();
        assert_eq!(changed, BTreeSet::from([PathBuf::from("/y")]));
        assert!(l.files()[1].exists);
        assert!(matches!(
            Loaded::new(Sources::new(None, None, None), vec![]).apply(&[Edit::CurrentContext(Some("c".into()))]),
            Err(KubeconfigError::NoFile)
        ));
    }

    #[test]
    fn client_document_resolves_relative_paths_per_owner() {
        let a = doc(
            "/home/u/.kube/a",
            "clusters:\n- name: c\n  cluster: {server: https://c, certificate-authority: ca.crt}\nusers:\n- name: u\n  user:\n    client-certificate: certs/u.crt\n    client-key: /abs/u.key\n    tokenFile: tok\n    exec: {command: ./bin/plugin}\n- name: v\n  user: {exec: {command: aws}}\ncurrent-context: x\n",
        );
        let l = Loaded::new(Sources::new(Some("/home/u/.kube/a".into()), None, None), vec![a]);
        let d = l.client_document();
        assert_eq!(d["clusters"][0]["cluster"]["certificate-authority"], "/home/u/.kube/ca.crt");
        assert_eq!(d["users"][0]["user"]["client-certificate"], "/home/u/.kube/certs/u.crt");
        assert_eq!(d["users"][0]["user"]["client-key"], "/abs/u.key");
        assert_eq!(d["users"][0]["user"]["tokenFile"], "/home/u/.kube/tok");
        assert_eq!(d["users"][0]["user"]["exec"]["command"], "/home/u/.kube/./bin/plugin");
        assert_eq!(d["users"][1]["user"]["exec"]["command"], "aws", "PATH lookups stay");
        assert_eq!(d["current-context"], "x");
        // The files themselves are untouched.
        assert_eq!(l.files()[0].entry(Kind::Cluster, "c").unwrap()["certificate-authority"], "ca.crt");
    }
}
