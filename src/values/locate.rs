//! Where a value came from, for error messages: `values.yaml:12`, or the `--set` that gave it.
//!
//! Only used once something is wrong, so the files are parsed a second time here (with line
//! numbers) instead of slowing down every load.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

use super::sources::{Layers, Source};
use super::strvals::{self, SetKind};

/// A YAML node with the line of every value in it.
#[derive(Debug)]
enum Node {
    Map(Vec<(String, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Value>()? {
                    let key = match key {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    entries.push((key, map.next_value::<Spanned<Node>>()?));
                }
                Ok(Node::Map(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// The first segment of `path` that `key` is: the key itself followed by `.`, `[` or the end
/// (keys may contain dots, e.g. annotation names). The rest of the path after it.
fn strip_key<'p>(path: &'p str, key: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(key)?;
    if rest.is_empty() || rest.starts_with('[') { Some(rest) } else { rest.strip_prefix('.') }
}

/// `[3]rest` → (3, rest without a leading `.`).
fn strip_index(path: &str) -> Option<(usize, &str)> {
    let inner = path.strip_prefix('[')?;
    let (index, rest) = inner.split_once(']')?;
    Some((index.parse().ok()?, rest.strip_prefix('.').unwrap_or(rest)))
}

/// The line of the deepest node of `node` on `path` (a dotted path with `[i]` indices).
fn line_in(node: &Spanned<Node>, path: &str) -> Option<u64> {
    if path.is_empty() {
        return Some(node.referenced.line());
    }
    let deeper = match &node.value {
        Node::Map(entries) => entries
            .iter()
            .filter_map(|(key, child)| strip_key(path, key).map(|rest| (key.len(), child, rest)))
            .max_by_key(|(len, _, _)| *len)
            .and_then(|(_, child, rest)| line_in(child, rest)),
        Node::Seq(items) => strip_index(path).and_then(|(i, rest)| items.get(i).and_then(|c| line_in(c, rest))),
        Node::Scalar => None,
    };
    // A path into a value the file gives whole (a list or a scalar where a map is expected): the
    // value's own line.
    deeper.or_else(|| (!matches!(node.value, Node::Scalar) || path.is_empty()).then_some(node.referenced.line()))
}

/// Whether a values tree gives a value at `path` (or above it, whole).
fn sets(map: &Map<String, Value>, path: &str) -> bool {
    fn walk(value: &Value, path: &str) -> bool {
        if path.is_empty() {
            return true;
        }
        match value {
            Value::Object(map) => map.iter().any(|(k, v)| strip_key(path, k).is_some_and(|rest| walk(v, rest))),
            Value::Array(items) => {
                strip_index(path).is_some_and(|(i, rest)| items.get(i).is_some_and(|v| walk(v, rest)))
            }
            _ => true,
        }
    }
    walk(&Value::Object(map.clone()), path)
}

fn file_line(source: &Source, path: &str) -> Option<u64> {
    let root: Spanned<Node> = serde_saphyr::from_str(&source.text).ok()?;
    let top = match &root.value {
        Node::Map(entries) => entries,
        _ => return None,
    };
    // Only a path the file has reaches a line (the root's own line would say nothing).
    top.iter()
        .filter_map(|(key, child)| strip_key(path, key).map(|rest| (key.len(), child, rest)))
        .max_by_key(|t| t.0)?;
    line_in(&root, path).filter(|line| *line > 0)
}

/// Where the value at `path` came from: the input of highest precedence that sets it
/// (`--set-string`, `--set`, `--set-json`, each last first; then the files, last first).
pub(crate) fn locate(layers: &Layers, path: &str) -> Option<String> {
    for kind in [SetKind::String, SetKind::Typed, SetKind::Json] {
        for (_, text) in layers.sets.iter().rev().filter(|(k, _)| *k == kind) {
            let mut parsed = Map::new();
            if strvals::parse_into(text, kind, &mut parsed).is_ok() && sets(&parsed, path) {
                return Some(format!("{} {text:?}", kind.flag()));
            }
        }
    }
    for source in layers.files.iter().rev() {
        let Ok(parsed) = super::yaml::parse_document(&source.name, &source.text) else { continue };
        if sets(&parsed, path) {
            return Some(match file_line(source, path) {
                Some(line) => format!("{}:{line}", source.name),
                None => source.name.clone(),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(files: &[(&str, &str)], sets: &[(SetKind, &str)]) -> Layers {
        Layers {
            computed: Map::new(),
            files: files.iter().map(|(n, t)| Source { name: n.to_string(), text: t.to_string() }).collect(),
            sets: sets.iter().map(|(k, t)| (*k, t.to_string())).collect(),
        }
    }

    #[test]
    fn lines_of_nested_keys_list_items_and_dotted_keys() {
        let text = "sync:\n  ingresses:\n    enabled: maybe\nmapServices:\n  fromHost:\n    - from: a\n      to: 7\n\
                    ingress:\n  annotations:\n    example.com/x: 1\n";
        let l = layers(&[("v.yaml", text)], &[]);
        assert_eq!(locate(&l, "sync.ingresses.enabled").as_deref(), Some("v.yaml:3"));
        assert_eq!(locate(&l, "mapServices.fromHost[0].to").as_deref(), Some("v.yaml:7"));
        assert_eq!(locate(&l, "ingress.annotations.example.com/x").as_deref(), Some("v.yaml:10"));
        assert_eq!(locate(&l, "syncer.image"), None);
    }

    #[test]
    fn the_input_of_highest_precedence_wins() {
        let l = layers(
            &[("a.yaml", "storage: {size: 1}\n"), ("b.yaml", "\n\nstorage:\n  size: x\n")],
            &[(SetKind::Typed, "storage.size=y"), (SetKind::Json, "storage={\"size\": 2}")],
        );
        assert_eq!(locate(&l, "storage.size").as_deref(), Some("--set \"storage.size=y\""));
        let l = layers(&[("a.yaml", "storage: {size: 1}\n"), ("b.yaml", "\n\nstorage:\n  size: x\n")], &[]);
        assert_eq!(locate(&l, "storage.size").as_deref(), Some("b.yaml:4"));
        let l = layers(&[("a.yaml", "storage: {size: 1}\n"), ("b.yaml", "other: 1\n")], &[]);
        assert_eq!(locate(&l, "storage.size").as_deref(), Some("a.yaml:1"));
    }
}
