//! Field paths and field sets as structured-merge-diff models them, and their FieldsV1
//! encoding in `metadata.managedFields`.
// structured-merge-diff: fieldpath/element.go, fieldpath/path.go, fieldpath/set.go,
// fieldpath/serialize.go, fieldpath/serialize-pe.go

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::value::{compare, go_json_string, smd_string, write_go_json};

/// One step of a field path.
#[derive(Debug, Clone)]
pub(crate) enum PathElement {
    /// A struct field or map key: `f:name`, printed `.name`.
    Field(String),
    /// An element of a list-map, by its keys sorted by name: `k:{"name":"web"}`,
    /// printed `[name="web"]`.
    Key(Vec<(String, Value)>),
    /// An element of a set: `v:"value"`, printed `[="value"]`.
    Value(Value),
    /// An element of an atomic list by position: `i:0`, printed `[0]`.
    Index(usize),
}

impl PathElement {
    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// The FieldsV1 key (`f:…`, `k:…`, `v:…`, `i:…`).
    pub(crate) fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let mut out = String::from("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go_json_string(name, &mut out);
                    out.push(':');
                    write_go_json(value, &mut out);
                }
                out.push('}');
                out
            }
            PathElement::Value(value) => {
                let mut out = String::from("v:");
                write_go_json(value, &mut out);
                out
            }
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses a FieldsV1 key.
    pub(crate) fn decode(key: &str) -> Result<PathElement, String> {
        let (kind, rest) = key.split_at(key.len().min(2));
        let json = || serde_json::from_str::<Value>(rest).map_err(|e| format!("{key}: {e}"));
        match kind {
            "f:" => Ok(PathElement::Field(rest.to_string())),
            "v:" => Ok(PathElement::Value(json()?)),
            "k:" => match json()? {
                Value::Object(map) => Ok(PathElement::key_of(map.into_iter().collect())),
                _ => Err(format!("{key}: expected a JSON object")),
            },
            "i:" => rest.parse().map(PathElement::Index).map_err(|e| format!("{key}: {e}")),
            _ => Err("unknown path element type".into()),
        }
    }

    /// A key element with its fields sorted by name, as structured-merge-diff keeps them.
    pub(crate) fn key_of(mut fields: Vec<(String, Value)>) -> PathElement {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.as_bytes().cmp(b.as_bytes()),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an.as_bytes().cmp(bn.as_bytes()).then_with(|| compare(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl std::fmt::Display for PathElement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<_> = fields.iter().map(|(n, v)| format!("{n}={}", smd_string(v))).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={}]", smd_string(v)),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path as structured-merge-diff prints it: `.spec.template.spec.containers[name="web"].image`.
pub(crate) fn path_string(path: &[PathElement]) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// A set of field paths as a tree: `members` are paths ending here, `children` continue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    pub(crate) fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    pub(crate) fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert(rest),
                None => self.children.entry(first.clone()).or_default().insert(rest),
            },
        }
    }

    #[cfg(test)]
    pub(crate) fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// The paths below `pe`, without `pe` itself.
    pub(crate) fn with_prefix(&self, pe: &PathElement) -> Option<&Set> {
        self.children.get(pe)
    }

    pub(crate) fn is_member(&self, pe: &PathElement) -> bool {
        self.members.contains(pe)
    }

    pub(crate) fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, child) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// `union`, consuming both sides: nothing is copied.
    pub(crate) fn absorb(&mut self, other: Set) {
        self.members.extend(other.members);
        for (pe, child) in other.children {
            match self.children.get_mut(&pe) {
                Some(mine) => mine.absorb(child),
                None => {
                    self.children.insert(pe, child);
                }
            }
        }
    }

    pub(crate) fn difference(&self, other: &Set) -> Set {
        self.subtract(other, false)
    }

    /// Removes `other`'s members and everything below them.
    pub(crate) fn recursive_difference(&self, other: &Set) -> Set {
        self.subtract(other, true)
    }

    fn subtract(&self, other: &Set, below_members_too: bool) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(pe, _)| !(below_members_too && other.members.contains(pe)))
            .filter_map(|(pe, child)| {
                let rest = match other.children.get(pe) {
                    Some(theirs) => child.subtract(theirs, below_members_too),
                    None => child.clone(),
                };
                (!rest.is_empty()).then(|| (pe.clone(), rest))
            })
            .collect();
        Set { members, children }
    }

    /// `difference` (or with `below_members_too`, `recursive_difference`) in place: the other
    /// set is walked, not this one, which on an update is a manager's whole set and the other
    /// the few fields that changed.
    pub(crate) fn remove(&mut self, other: &Set, below_members_too: bool) {
        for pe in &other.members {
            self.members.remove(pe);
            if below_members_too {
                self.children.remove(pe);
            }
        }
        for (pe, theirs) in &other.children {
            if let Some(mine) = self.children.get_mut(pe) {
                mine.remove(theirs, below_members_too);
                if mine.is_empty() {
                    self.children.remove(pe);
                }
            }
        }
    }

    pub(crate) fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, child)| {
                let both = child.intersection(other.children.get(pe)?);
                (!both.is_empty()).then(|| (pe.clone(), both))
            })
            .collect();
        Set { members, children }
    }

    /// Every member path, members of a node before its children (structured-merge-diff's
    /// `Set.Iterate` order).
    pub(crate) fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        for pe in &self.members {
            let mut path = prefix.clone();
            path.push(pe.clone());
            out.push(path);
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = (&PathElement, &Set)> {
        self.children.iter()
    }

    pub(crate) fn from_parts(members: BTreeSet<PathElement>, children: BTreeMap<PathElement, Set>) -> Set {
        let children = children.into_iter().filter(|(_, c)| !c.is_empty()).collect();
        Set { members, children }
    }

    /// The FieldsV1 object: keys in path-element order, `"."` first where an element is both
    /// a member and has children.
    pub(crate) fn to_fields_v1(&self) -> Value {
        Value::Object(self.fields_v1_contents(false))
    }

    fn fields_v1_contents(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self && !self.is_empty() {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        let mut keys: Vec<&PathElement> = self.members.iter().chain(self.children.keys()).collect();
        keys.sort();
        keys.dedup();
        for pe in keys {
            let value = match self.children.get(pe) {
                Some(child) => child.fields_v1_contents(self.members.contains(pe)),
                None => Map::new(),
            };
            out.insert(pe.encode(), Value::Object(value));
        }
        out
    }

    /// Parses a FieldsV1 object.
    pub(crate) fn from_fields_v1(value: &Value) -> Result<Set, String> {
        let Value::Object(map) = value else {
            return Err("expected a FieldsV1 object".into());
        };
        let mut set = Set::default();
        for (key, child) in map {
            if key == "." {
                continue;
            }
            let pe = PathElement::decode(key)?;
            let child_set = Set::from_fields_v1(child)?;
            let self_member = child.get(".").is_some();
            if child_set.is_empty() || self_member {
                set.members.insert(pe.clone());
            }
            if !child_set.is_empty() {
                set.children.insert(pe, child_set);
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
pub(crate) fn field(name: &str) -> PathElement {
    PathElement::Field(name.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_round_trips_with_apiserver_layout() {
        let v1 = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:ports": {
                    "k:{\"port\":443,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:targetPort": {}}
                },
                "f:replicas": {}
            }
        });
        let set = Set::from_fields_v1(&v1).unwrap();
        assert!(set.has(&[field("metadata"), field("labels")]));
        assert!(set.has(&[field("spec"), field("replicas")]));
        assert_eq!(set.to_fields_v1(), v1);
        assert_eq!(serde_json::to_string(&set.to_fields_v1()).unwrap(), serde_json::to_string(&v1).unwrap());
        let paths: Vec<_> = set.paths().iter().map(|p| path_string(p)).collect();
        assert_eq!(
            paths,
            [
                ".metadata.labels",
                ".metadata.labels.app",
                ".spec.replicas",
                ".spec.ports[port=443,protocol=\"TCP\"]",
                ".spec.ports[port=443,protocol=\"TCP\"].port",
                ".spec.ports[port=443,protocol=\"TCP\"].targetPort",
            ]
        );
    }

    #[test]
    fn elements_order_like_structured_merge_diff() {
        let key = |n: i64| PathElement::key_of(vec![("port".into(), json!(n)), ("protocol".into(), json!("TCP"))]);
        let mut pes = [key(8443), PathElement::Value(json!("b")), field("z"), key(443), field("a")];
        pes.sort();
        let encoded: Vec<_> = pes.iter().map(PathElement::encode).collect();
        assert_eq!(
            encoded,
            ["f:a", "f:z", r#"k:{"port":443,"protocol":"TCP"}"#, r#"k:{"port":8443,"protocol":"TCP"}"#, r#"v:"b""#,]
        );
    }

    #[test]
    fn set_algebra() {
        let mut a = Set::default();
        a.insert(&[field("spec"), field("replicas")]);
        a.insert(&[field("spec"), field("template"), field("x")]);
        let mut b = Set::default();
        b.insert(&[field("spec"), field("template")]);
        let rd = a.recursive_difference(&b);
        assert_eq!(rd.paths().len(), 1);
        let mut absorbed = a.clone();
        absorbed.absorb(b.clone());
        assert_eq!(absorbed, a.union(&b));
        for below in [false, true] {
            let (mut in_place, mut all) = (a.clone(), a.clone());
            in_place.remove(&b, below);
            assert_eq!(in_place, a.subtract(&b, below), "in place as by copy ({below})");
            all.remove(&a, below);
            assert!(all.is_empty());
        }
        assert!(a.difference(&a).is_empty());
        assert_eq!(a.intersection(&b), Set::default());
        assert_eq!(a.union(&b).paths().len(), 3);
        assert!(PathElement::decode("x:1").is_err());
    }
}
