//! The structural schema: the 1.33 definitions (JSON-Schema form with `x-kubernetes-*`
//! extensions) and the navigation the merge algorithms need.
//!
//! Two readings of the same definitions coexist, as in kube-apiserver:
//! - server-side apply (structured-merge-diff, built by kube-openapi `pkg/schemaconv`) reads
//!   `x-kubernetes-list-type`, `x-kubernetes-list-map-keys` and `x-kubernetes-map-type`;
//! - strategic merge patch (apimachinery `pkg/util/strategicpatch`, from Go struct tags) reads
//!   `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`.

use std::collections::HashMap;
use std::io::Read;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::types::Gvk;

static DEFINITIONS_GZ: &[u8] = include_bytes!("../../data/k8s-v1.33-definitions.json.gz");

/// A node whose structure is unknown: structured-merge-diff's "deduced" type.
static DEDUCED: Value = Value::Null;

/// The Kubernetes 1.33 structural schema, from `data/k8s-v1.33-definitions.json.gz`
/// (see `tools/refresh-definitions.sh`): definitions keyed like
/// `io.k8s.api.apps.v1.StatefulSet`, with `x-kubernetes-group-version-kind`,
/// `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`,
/// `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`.
pub struct Schema {
    definitions: Map<String, Value>,
    by_gvk: HashMap<(String, String, String), String>,
}

impl Schema {
    /// The embedded 1.33 schema, parsed once and cached for the process.
    pub fn k8s_1_33() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let mut json = String::new();
            flate2::read::GzDecoder::new(DEFINITIONS_GZ)
                .read_to_string(&mut json)
                .expect("embedded definitions are gzip-compressed UTF-8");
            let document: Value = serde_json::from_str(&json).expect("embedded definitions are JSON");
            let definitions = match document.get("$defs") {
                Some(Value::Object(defs)) => defs.clone(),
                _ => panic!("embedded definitions have no $defs object"),
            };
            Schema::from_definitions(definitions)
        })
    }

    fn from_definitions(definitions: Map<String, Value>) -> Schema {
        let mut by_gvk = HashMap::new();
        for (name, definition) in &definitions {
            let gvks = definition.get("x-kubernetes-group-version-kind").and_then(Value::as_array);
            for gvk in gvks.into_iter().flatten() {
                let part = |k: &str| gvk.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let key = (part("group"), part("version"), part("kind"));
                // Several definitions list shared kinds (e.g. DeleteOptions, WatchEvent):
                // prefer the one named after the kind itself.
                let named_after_kind = name.rsplit('.').next() == Some(key.2.as_str());
                if named_after_kind || !by_gvk.contains_key(&key) {
                    by_gvk.insert(key, name.clone());
                }
            }
        }
        Schema { definitions, by_gvk }
    }

    /// All definitions as they appear in the data file (`$defs` map), for generating the
    /// `/openapi/v3` documents.
    pub fn definitions(&self) -> &serde_json::Map<String, Value> {
        &self.definitions
    }

    /// Definition name for a kind, e.g. `io.k8s.api.apps.v1.StatefulSet`.
    pub fn definition_name(&self, gvk: &Gvk) -> Option<&str> {
        let key = (gvk.group.clone(), gvk.version.clone(), gvk.kind.clone());
        self.by_gvk.get(&key).map(String::as_str)
    }

    /// The type of a whole object of this kind; deduced (schemaless) for unknown kinds.
    pub(crate) fn root(&self, gvk: &Gvk) -> Ty<'_> {
        match self.definition_name(gvk).and_then(|name| self.definitions.get_key_value(name)) {
            Some((name, definition)) => {
                Ty { schema: self, node: definition, resolved: definition, def_name: Some(name) }
            }
            None => self.deduced(),
        }
    }

    pub(crate) fn deduced(&self) -> Ty<'_> {
        Ty { schema: self, node: &DEDUCED, resolved: &DEDUCED, def_name: None }
    }

    fn ty<'s>(&'s self, node: &'s Value) -> Ty<'s> {
        let target = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|name| self.definitions.get_key_value(name));
        match target {
            Some((name, definition)) => Ty { schema: self, node, resolved: definition, def_name: Some(name) },
            None => Ty { schema: self, node, resolved: node, def_name: None },
        }
    }
}

/// Scalar kinds as structured-merge-diff validates them (`schema.Scalar`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarKind {
    String,
    Numeric,
    Boolean,
    /// int-or-string, quantity: any scalar.
    Untyped,
}

/// How server-side apply treats a list (`x-kubernetes-list-type`; absent means atomic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind<'s> {
    Atomic,
    Set,
    Map(&'s [Value]),
}

/// The structural shape of a schema node.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    Scalar(ScalarKind),
    /// `properties` (a struct), possibly with `additionalProperties`, or `additionalProperties`
    /// only (a map); `atomic` from `x-kubernetes-map-type`.
    Map {
        atomic: bool,
    },
    List,
    /// No structure known: maps are granular, lists atomic, like structured-merge-diff's
    /// `__untyped_deduced_`.
    Deduced,
}

/// A schema node seen from the field that holds it: list and patch extensions live on the
/// field, the structure on the referenced definition.
#[derive(Clone, Copy)]
pub(crate) struct Ty<'s> {
    schema: &'s Schema,
    node: &'s Value,
    resolved: &'s Value,
    def_name: Option<&'s str>,
}

impl<'s> Ty<'s> {
    fn extension(&self, name: &str) -> Option<&'s Value> {
        self.node.get(name).or_else(|| self.resolved.get(name))
    }

    fn primary_type(&self) -> Option<&'s str> {
        match self.resolved.get("type")? {
            Value::String(t) => Some(t.as_str()),
            Value::Array(types) => types.iter().filter_map(Value::as_str).find(|t| *t != "null"),
            _ => None,
        }
    }

    pub(crate) fn schema(&self) -> &'s Schema {
        self.schema
    }

    /// Declared struct fields with their types.
    pub(crate) fn declared_fields(&self) -> impl Iterator<Item = (&'s str, Ty<'s>)> + use<'s> {
        let schema = self.schema;
        self.properties().into_iter().flatten().map(move |(name, node)| (name.as_str(), schema.ty(node)))
    }

    /// The definition this node refers to, e.g. `io.k8s.api.core.v1.ContainerPort`.
    pub(crate) fn def_name(&self) -> Option<&'s str> {
        self.def_name
    }

    pub(crate) fn shape(&self) -> Shape {
        let r = self.resolved;
        if r.get("oneOf").is_some() || r.get("anyOf").is_some() {
            return Shape::Scalar(ScalarKind::Untyped);
        }
        let atomic = self.extension("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic");
        if r.get("properties").is_some() || r.get("additionalProperties").is_some_and(Value::is_object) {
            return Shape::Map { atomic };
        }
        match self.primary_type() {
            Some("array") => Shape::List,
            Some("string") => Shape::Scalar(ScalarKind::String),
            Some("integer" | "number") => Shape::Scalar(ScalarKind::Numeric),
            Some("boolean") => Shape::Scalar(ScalarKind::Boolean),
            _ => Shape::Deduced,
        }
    }

    fn properties(&self) -> Option<&'s Map<String, Value>> {
        self.resolved.get("properties").and_then(Value::as_object)
    }

    /// A declared struct field (not a map key).
    pub(crate) fn declared_field(&self, name: &str) -> Option<Ty<'s>> {
        self.properties()?.get(name).map(|node| self.schema.ty(node))
    }

    /// Whether this node is a struct (has declared fields).
    pub(crate) fn is_struct(&self) -> bool {
        self.properties().is_some()
    }

    /// The type of the value under `key` in a map or struct: the declared field, else the
    /// map's element type; `None` when the key is not allowed (a struct without
    /// `additionalProperties`).
    pub(crate) fn field(&self, key: &str) -> Option<Ty<'s>> {
        if let Some(field) = self.declared_field(key) {
            return Some(field);
        }
        match self.resolved.get("additionalProperties") {
            Some(elem @ Value::Object(_)) => Some(self.schema.ty(elem)),
            _ if self.properties().is_some() => None,
            _ => Some(self.schema.deduced()),
        }
    }

    /// The element type of a list.
    pub(crate) fn items(&self) -> Ty<'s> {
        match self.resolved.get("items") {
            Some(items) => self.schema.ty(items),
            None => self.schema.deduced(),
        }
    }

    /// Server-side apply's list semantics.
    pub(crate) fn list_kind(&self) -> ListKind<'s> {
        match self.extension("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ListKind::Set,
            Some("map") => {
                let keys = self.extension("x-kubernetes-list-map-keys").and_then(Value::as_array);
                ListKind::Map(keys.map(Vec::as_slice).unwrap_or_default())
            }
            _ => ListKind::Atomic,
        }
    }

    /// Strategic merge patch strategies of the field (`merge`, `retainKeys`, `replace`).
    pub(crate) fn patch_strategies(&self) -> Vec<&'s str> {
        match self.node.get("x-kubernetes-patch-strategy").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => s.split(',').collect(),
            _ => Vec::new(),
        }
    }

    /// Strategic merge patch merge key of a list field.
    pub(crate) fn patch_merge_key(&self) -> &'s str {
        self.node.get("x-kubernetes-patch-merge-key").and_then(Value::as_str).unwrap_or("")
    }

    /// The Go type name as strategic merge patch names it in errors (`PodSpec`).
    pub(crate) fn go_type_name(&self) -> &'s str {
        self.def_name.and_then(|n| n.rsplit('.').next()).unwrap_or("")
    }

    /// The Go `reflect.Kind` of the type (strategic merge patch prints it in one error).
    pub(crate) fn go_kind_name(&self) -> &'static str {
        match self.shape() {
            Shape::Scalar(ScalarKind::String) => "string",
            Shape::Scalar(ScalarKind::Boolean) => "bool",
            Shape::Scalar(ScalarKind::Numeric) => match self.resolved.get("format").and_then(Value::as_str) {
                Some("int32") => "int32",
                Some("double" | "float") => "float64",
                _ => "int64",
            },
            Shape::Map { .. } if self.is_struct() => "struct",
            Shape::Map { .. } | Shape::Deduced => "map",
            Shape::List => "slice",
            Shape::Scalar(ScalarKind::Untyped) => "struct",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_path<'s>(root: Ty<'s>, path: &[&str]) -> Ty<'s> {
        path.iter().fold(root, |ty, step| if *step == "[]" { ty.items() } else { ty.field(step).expect(step) })
    }

    #[test]
    fn definitions_are_indexed_by_kind() {
        let schema = Schema::k8s_1_33();
        assert!(schema.definitions().len() > 500);
        let sts = Gvk::new("apps", "v1", "StatefulSet");
        assert_eq!(schema.definition_name(&sts), Some("io.k8s.api.apps.v1.StatefulSet"));
        let svc = Gvk::new("", "v1", "Service");
        assert_eq!(schema.definition_name(&svc), Some("io.k8s.api.core.v1.Service"));
        assert_eq!(
            schema.definition_name(&Gvk::new("", "v1", "DeleteOptions")),
            Some("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        );
        assert_eq!(schema.definition_name(&Gvk::new("example.com", "v1", "Nope")), None);
    }

    #[test]
    fn ssa_and_smp_read_different_extensions_for_container_ports() {
        let schema = Schema::k8s_1_33();
        let deploy = schema.root(&Gvk::new("apps", "v1", "Deployment"));
        let ports = field_path(deploy, &["spec", "template", "spec", "containers", "[]", "ports"]);
        let keys: Vec<_> = match ports.list_kind() {
            ListKind::Map(keys) => keys.iter().filter_map(Value::as_str).collect(),
            other => panic!("{other:?}"),
        };
        assert_eq!(keys, ["containerPort", "protocol"]);
        assert_eq!(ports.patch_merge_key(), "containerPort");
        assert_eq!(ports.patch_strategies(), ["merge"]);
        assert_eq!(ports.items().def_name(), Some("io.k8s.api.core.v1.ContainerPort"));
    }

    #[test]
    fn shapes_follow_the_extensions() {
        let schema = Schema::k8s_1_33();
        let svc = schema.root(&Gvk::new("", "v1", "Service"));
        assert!(matches!(field_path(svc, &["spec", "selector"]).shape(), Shape::Map { atomic: true }));
        assert!(matches!(field_path(svc, &["metadata", "labels"]).shape(), Shape::Map { atomic: false }));
        assert_eq!(field_path(svc, &["spec", "ipFamilies"]).list_kind(), ListKind::Atomic);
        assert_eq!(field_path(svc, &["metadata", "finalizers"]).list_kind(), ListKind::Set);
        let target_port = field_path(svc, &["spec", "ports", "[]", "targetPort"]);
        assert!(matches!(target_port.shape(), Shape::Scalar(ScalarKind::Untyped)));
        let pod = schema.root(&Gvk::new("", "v1", "Pod"));
        let volumes = field_path(pod, &["spec", "volumes"]);
        assert_eq!(volumes.patch_strategies(), ["merge", "retainKeys"]);
        let selector = field_path(pod, &["metadata", "ownerReferences", "[]"]);
        assert!(matches!(selector.shape(), Shape::Map { atomic: true }));
        assert!(svc.field("nope").is_none());
        let cr = schema.root(&Gvk::new("apps", "v1", "ControllerRevision"));
        assert!(matches!(field_path(cr, &["data"]).shape(), Shape::Deduced));
    }
}
