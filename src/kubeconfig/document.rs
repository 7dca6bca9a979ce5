//! One kubeconfig file as a JSON document: every field and extension is kept as written, only the
//! entries a change names are touched. (client-go `tools/clientcmd/api/v1/types.go` for the shape)

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::KubeconfigError;

/// The three kinds of named entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Cluster,
    User,
    Context,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Cluster, Kind::User, Kind::Context];

    /// Key of the list in the file (`clusters`, `users`, `contexts`).
    pub fn list_key(self) -> &'static str {
        match self {
            Kind::Cluster => "clusters",
            Kind::User => "users",
            Kind::Context => "contexts",
        }
    }

    /// Key of the body inside a named entry (`cluster`, `user`, `context`).
    pub fn body_key(self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::User => "user",
            Kind::Context => "context",
        }
    }
}

const CURRENT_CONTEXT: &str = "current-context";

/// One kubeconfig file: where it lives, whether it exists, and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub(crate) path: PathBuf,
    pub(crate) exists: bool,
    root: Map<String, Value>,
}

impl Document {
    /// A file that does not exist (yet): empty, written as `apiVersion: v1, kind: Config` plus
    /// whatever is added.
    pub(crate) fn missing(path: &Path) -> Document {
        let mut root = Map::new();
        root.insert("apiVersion".into(), "v1".into());
        root.insert("kind".into(), "Config".into());
        Document { path: path.to_path_buf(), exists: false, root }
    }

    /// Parse YAML (or JSON) text. An empty file is an empty config, as in client-go. Entries must
    /// be named and names unique per kind (client-go refuses duplicates too).
    pub(crate) fn parse(path: &Path, text: &str) -> Result<Document, KubeconfigError> {
        let invalid = |problem: String| KubeconfigError::Invalid { path: path.to_path_buf(), problem };
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_saphyr::from_str_with_options(text, parse_options())
                .map_err(|e| KubeconfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?
        };
        let root = match value {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            other => return Err(invalid(format!("expected a mapping at the top, found {}", type_name(&other)))),
        };
        match root.get(CURRENT_CONTEXT) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => return Err(invalid(format!("current-context is {}, not a string", type_name(other)))),
        }
        let doc = Document { path: path.to_path_buf(), exists: true, root };
        for kind in Kind::ALL {
            let key = kind.list_key();
            let items = match doc.root.get(key) {
                None | Some(Value::Null) => continue,
                Some(Value::Array(items)) => items,
                Some(other) => return Err(invalid(format!("{key} is {}, not a list", type_name(other)))),
            };
            let mut seen = std::collections::HashSet::new();
            for (i, item) in items.iter().enumerate() {
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("{key}[{i}] has no name")))?;
                match item.get(kind.body_key()) {
                    None | Some(Value::Null | Value::Object(_)) => {}
                    Some(other) => {
                        return Err(invalid(format!("{key}[{i}].{} is {}", kind.body_key(), type_name(other))));
                    }
                }
                if !seen.insert(name) {
                    return Err(invalid(format!("duplicate name {name:?} in {key}")));
                }
            }
        }
        Ok(doc)
    }

    /// The file's text as written back: YAML, every field kept.
    pub(crate) fn to_yaml(&self) -> Result<String, KubeconfigError> {
        serde_saphyr::to_string(&self.root)
            .map_err(|e| KubeconfigError::Serialize { path: self.path.clone(), message: e.to_string() })
    }

    /// The whole document.
    #[cfg(test)]
    pub(crate) fn root(&self) -> &Map<String, Value> {
        &self.root
    }

    /// `current-context`, when set and not empty.
    pub fn current_context(&self) -> Option<&str> {
        self.root.get(CURRENT_CONTEXT).and_then(Value::as_str).filter(|s| !s.is_empty())
    }

    /// Set `current-context`; `None` writes `""`, as client-go clears it.
    pub(super) fn set_current_context(&mut self, name: Option<&str>) {
        self.root.insert(CURRENT_CONTEXT.into(), name.unwrap_or("").into());
    }

    /// Names and bodies of the entries of `kind`, in file order.
    pub(crate) fn entries(&self, kind: Kind) -> impl Iterator<Item = (&str, &Value)> {
        let items = self.root.get(kind.list_key()).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
        items.iter().filter_map(move |item| {
            let name = item.get("name")?.as_str()?;
            Some((name, item.get(kind.body_key()).unwrap_or(&Value::Null)))
        })
    }

    /// The body of the entry `name` of `kind`.
    pub fn entry(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.entries(kind).find(|(n, _)| *n == name).map(|(_, body)| body)
    }

    /// Replace the body of entry `name` (in place, other keys of the named entry kept) or append a
    /// new entry. Returns whether anything changed.
    pub(super) fn set_entry(&mut self, kind: Kind, name: &str, body: Value) -> bool {
        let list = self.list_mut(kind);
        match list.iter_mut().find(|item| item.get("name").and_then(Value::as_str) == Some(name)) {
            Some(Value::Object(item)) => item.insert(kind.body_key().into(), body.clone()).as_ref() != Some(&body),
            _ => {
                let mut item = Map::new();
                item.insert("name".into(), name.into());
                item.insert(kind.body_key().into(), body);
                list.push(Value::Object(item));
                true
            }
        }
    }

    /// Remove entry `name` of `kind`. Returns whether it was there.
    pub(super) fn remove_entry(&mut self, kind: Kind, name: &str) -> bool {
        let list = self.list_mut(kind);
        let before = list.len();
        list.retain(|item| item.get("name").and_then(Value::as_str) != Some(name));
        list.len() != before
    }

    fn list_mut(&mut self, kind: Kind) -> &mut Vec<Value> {
        let slot = self.root.entry(kind.list_key()).or_insert(Value::Null);
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        match slot {
            Value::Array(items) => items,
            _ => unreachable!("just made an array"),
        }
    }
}

/// YAML options: no source snippets in errors, which would print credentials to the terminal.
fn parse_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options.crop_radius = 0;
    options
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const SAMPLE: &str = r#"apiVersion: v1
kind: Config
preferences: {}
clusters:
- name: kind-dev
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTkJna3Foa2lHOXcwQkFRc0ZBREFWTVJNd0VRWURWUVFERXdwcmRXSmwKY201bGRHVnpNQjRYRFRJeU1ETXhOekV3TkRFeE5Gb1hEVE15TURNeE5ERXdOREV4TkZvd0ZURVRNQkVHQTFVRQo=
    extensions:
    - name: client.authentication.k8s.io/exec
      extension:
        audience: "yes"
        weird: "0123"
    future-field: [1, 2]
contexts:
- name: kind-dev
  context: {cluster: kind-dev, user: kind-dev, namespace: "null"}
current-context: kind-dev
users:
- name: kind-dev
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: gke-gcloud-auth-plugin
      args: ["--flag", "on"]
      interactiveMode: IfAvailable
x-unknown-top-level: {keep: me}
"#;

    #[test]
    fn round_trip_keeps_every_field_and_quotes_ambiguous_strings() {
        let doc = Document::parse(Path::new("/k"), SAMPLE).unwrap();
        let text = doc.to_yaml().unwrap();
        let again = Document::parse(Path::new("/k"), &text).unwrap();
        assert_eq!(again.root, doc.root, "{text}");
        let cluster = again.entry(Kind::Cluster, "kind-dev").unwrap();
        assert_eq!(cluster["extensions"][0]["extension"]["audience"], "yes");
        assert_eq!(cluster["extensions"][0]["extension"]["weird"], "0123");
        assert_eq!(again.entry(Kind::Context, "kind-dev").unwrap()["namespace"], "null");
        assert_eq!(again.entry(Kind::User, "kind-dev").unwrap()["exec"]["args"][1], "on");
        assert_eq!(again.root["x-unknown-top-level"], json!({"keep": "me"}));
        assert_eq!(again.current_context(), Some("kind-dev"));
    }

    #[test]
    fn empty_and_json_files_parse() {
        for text in ["", "   \n", "---\n", "null\n"] {
            let doc = Document::parse(Path::new("/k"), text).unwrap();
            assert_eq!(doc.entries(Kind::Cluster).count(), 0, "{text:?}");
            assert_eq!(doc.current_context(), None);
        }
        let json =
            r#"{"apiVersion":"v1","clusters":[{"name":"a","cluster":{"server":"https://a"}}],"current-context":""}"#;
        let doc = Document::parse(Path::new("/k"), json).unwrap();
        assert_eq!(doc.entry(Kind::Cluster, "a").unwrap()["server"], "https://a");
        assert_eq!(doc.current_context(), None, "empty is unset");
    }

    #[test]
    fn malformed_files_are_typed_errors_naming_the_problem() {
        let bad = [
            ("- a\n- b\n", "expected a mapping at the top, found a list"),
            ("clusters: {a: 1}\n", "clusters is a mapping, not a list"),
            ("users:\n- user: {}\n", "users[0] has no name"),
            ("contexts:\n- name: a\n- name: a\n", "duplicate name \"a\" in contexts"),
            ("clusters:\n- name: a\n  cluster: [1]\n", "clusters[0].cluster is a list"),
            ("current-context: [x]\n", "current-context is a list, not a string"),
        ];
        for (text, problem) in bad {
            match Document::parse(Path::new("/k"), text) {
                Err(KubeconfigError::Invalid { problem: p, .. }) => assert_eq!(p, problem, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
        assert!(matches!(Document::parse(Path::new("/k"), "a: [b\n"), Err(KubeconfigError::Parse { .. })));
    }

    #[test]
    fn parse_errors_never_echo_the_file() {
        // Tokens and keys must not reach the terminal through an error message.
        for text in [
            "users:\n- name: u\n  user:\n    token: SECRET-TOKEN-123\n   bad: [\n",
            "users:\n- name: u\n  user: {token: SECRET-TOKEN-123\n",
            "users:\n- name: u\n  user:\n    token: SECRET-TOKEN-123\n    token: SECRET-TOKEN-123\n",
            "SECRET-TOKEN-123",
        ] {
            let err = Document::parse(Path::new("/k"), text).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("SECRET-TOKEN-123"), "{shown}");
        }
    }

    #[test]
    fn set_and_remove_entries_touch_only_them() {
        let mut doc = Document::parse(Path::new("/k"), SAMPLE).unwrap();
        let before = doc.clone();
        assert!(!doc.set_entry(Kind::Context, "kind-dev", before.entry(Kind::Context, "kind-dev").unwrap().clone()));
        assert!(doc.set_entry(Kind::Context, "kind-dev", json!({"cluster": "kind-dev", "user": "other"})));
        assert!(doc.set_entry(Kind::Context, "new", json!({"cluster": "c"})));
        assert_eq!(doc.entries(Kind::Context).map(|(n, _)| n).collect::<Vec<_>>(), ["kind-dev", "new"]);
        assert!(doc.remove_entry(Kind::Context, "new"));
        assert!(!doc.remove_entry(Kind::Context, "new"));
        assert_eq!(doc.root["clusters"], before.root["clusters"]);
        assert_eq!(doc.root["users"], before.root["users"]);
        assert_eq!(doc.root["x-unknown-top-level"], before.root["x-unknown-top-level"]);
    }

    #[test]
    fn missing_file_starts_as_a_minimal_config() {
        let mut doc = Document::missing(Path::new("/new"));
        doc.set_entry(Kind::Cluster, "c", json!({"server": "https://c"}));
        assert_eq!(
            doc.to_yaml().unwrap(),
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://c\n"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            if let Ok(doc) = Document::parse(Path::new("/k"), &text) {
                let _ = doc.to_yaml();
            }
        }

        #[test]
        fn yaml_shaped_text_never_panics(lines in proptest::collection::vec(
            "( {0,4})(- )?(clusters|users|contexts|name|cluster|current-context|[a-z]{1,5})?(: )?(\\[|\\{|&a |\\*a|!!str |\\||>|'|\")?[a-z0-9:]{0,6}(\\]|\\})?",
            0..20,
        )) {
            let text = lines.join("\n");
            if let Ok(mut doc) = Document::parse(Path::new("/k"), &text) {
                doc.set_entry(Kind::Context, "x", json!({}));
                let yaml = doc.to_yaml().unwrap();
                let again = Document::parse(Path::new("/k"), &yaml).unwrap();
                prop_assert_eq!(again.root(), doc.root());
            }
        }
    }
}
