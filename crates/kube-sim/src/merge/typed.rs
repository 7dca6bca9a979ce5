//! Schema-aware walks over JSON objects, as structured-merge-diff's `typed` package does them:
//! validation, field sets, comparison, merge (keep the applied side) and removal.
// structured-merge-diff: typed/validate.go, typed/tofieldset.go, typed/compare.go,
// typed/merge.go, typed/remove.go, typed/helpers.go, fieldpath/set.go
// (EnsureNamedFieldsAreMembers)

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::fieldpath::{PathElement, Set, path_string};
use super::schema::{ListKind, ScalarKind, Shape, Ty};
use super::value::{equal, go_quote, go_sharp_v, go_type, go_v, same};

/// One structured-merge-diff validation error (`.spec.replicas: expected numeric …`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValidationError {
    path: String,
    message: String,
}

/// Errors print one per line after `errors:` when there are several.
// structured-merge-diff: typed/validate.go (ValidationErrors.Error)
pub(crate) fn errors_text(errors: &[ValidationError]) -> String {
    let one = |e: &ValidationError| format!("{}: {}", e.path, e.message);
    match errors {
        [single] => one(single),
        many => {
            let lines: Vec<_> = many.iter().map(|e| format!("  {}", one(e))).collect();
            format!("errors:\n{}", lines.join("\n"))
        }
    }
}

/// How a value is walked: as a leaf (scalars, atomic lists and maps), a granular map or
/// struct, or an associative list (list-map or set).
#[derive(Clone, Copy, PartialEq)]
enum Node {
    Leaf,
    Map,
    List,
}

fn node(ty: Ty, value: Option<&Value>) -> Node {
    node_of(ty, ty.shape(), value)
}

/// `node` with the type's shape already read (reading it takes several schema lookups).
fn node_of(ty: Ty, shape: Shape, value: Option<&Value>) -> Node {
    match shape {
        Shape::Map { atomic: false } => Node::Map,
        Shape::List if ty.list_kind() != ListKind::Atomic => Node::List,
        Shape::Deduced if value.is_some_and(Value::is_object) => Node::Map,
        _ => Node::Leaf,
    }
}

fn child_ty<'s>(ty: Ty<'s>, key: &str) -> Ty<'s> {
    ty.field(key).unwrap_or_else(|| ty.schema().deduced())
}

/// Defaults of list-map keys that kube-openapi publishes (`+default="TCP"`); structured-merge-diff
/// uses them when an element omits the key.
// kubernetes: staging/src/k8s.io/api/core/v1/types.go (ContainerPort.Protocol, ServicePort.Protocol)
fn key_default(item: Ty, key: &str) -> Option<Value> {
    match (item.def_name()?, key) {
        ("io.k8s.api.core.v1.ContainerPort" | "io.k8s.api.core.v1.ServicePort", "protocol") => Some(json!("TCP")),
        _ => None,
    }
}

/// The path element of a list item (`k:{…}` for list-maps, `v:…` for sets).
// structured-merge-diff: typed/helpers.go (listItemToPathElement)
pub(crate) fn list_item_pe(list: Ty, item: &Value) -> Result<PathElement, String> {
    match list.list_kind() {
        ListKind::Map(keys) if !keys.is_empty() => {
            let fields = match item {
                Value::Null => return Err("associative list with keys may not have a null element".into()),
                Value::Object(fields) => fields,
                _ => return Err("associative list with keys may not have non-map elements".into()),
            };
            let mut key = Vec::new();
            for name in keys.iter().filter_map(Value::as_str) {
                let value = match fields.get(name) {
                    Some(value) => value.clone(),
                    None => key_default(list.items(), name).ok_or_else(|| {
                        format!(
                            "associative list with keys has an element that omits key field {} (and doesn't have default value)",
                            go_quote(name)
                        )
                    })?,
                };
                key.push((name.to_string(), value));
            }
            Ok(PathElement::key_of(key))
        }
        ListKind::Atomic => Err("invalid atom".into()),
        _ => match item {
            Value::Object(_) => Err("associative list without keys has an element that's a map type".into()),
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => Err("associative list without keys has an element that's an explicit null".into()),
            scalar => Ok(PathElement::Value(scalar.clone())),
        },
    }
}

/// The items of an associative list with their path elements (items whose element cannot be
/// built are skipped: validation reports them).
fn keyed_items<'v>(list: Ty, value: Option<&'v Value>) -> Vec<(PathElement, &'v Value)> {
    let items = value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    items.iter().filter_map(|item| Some((list_item_pe(list, item).ok()?, item))).collect()
}

// ---------------------------------------------------------------------------------------------
// Validation

fn unstructured_v(v: &Value) -> String {
    format!("&{{{}}}", go_v(v))
}

/// Validates `value` against the schema like `ObjectToTyped` does (duplicates allowed only
/// for live objects).
// structured-merge-diff: typed/validate.go
pub(crate) fn validate(ty: Ty, value: &Value, allow_duplicates: bool) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    validate_at(ty, value, &mut Vec::new(), allow_duplicates, &mut errors);
    errors
}

fn validate_at(ty: Ty, value: &Value, path: &mut Vec<PathElement>, dups: bool, errors: &mut Vec<ValidationError>) {
    let mut fail = |message: String| errors.push(ValidationError { path: path_string(path), message });
    if value.is_null() {
        return;
    }
    match ty.shape() {
        Shape::Scalar(kind) => {
            let ok = match kind {
                ScalarKind::Numeric => value.is_number(),
                ScalarKind::String => value.is_string(),
                ScalarKind::Boolean => value.is_boolean(),
                ScalarKind::Untyped => !value.is_object() && !value.is_array(),
            };
            if !ok {
                fail(match kind {
                    ScalarKind::Numeric => format!("expected numeric (int or float), got {}", go_type(value)),
                    ScalarKind::String => {
                        format!("expected string, got &value.valueUnstructured{{Value:{}}}", go_sharp_v(value))
                    }
                    ScalarKind::Boolean => format!("expected boolean, got {}", unstructured_v(value)),
                    ScalarKind::Untyped => format!("expected any scalar, got {}", unstructured_v(value)),
                });
            }
        }
        Shape::Map { .. } | Shape::Deduced if value.is_object() => {
            for (key, child) in value.as_object().into_iter().flatten() {
                path.push(PathElement::Field(key.clone()));
                match ty.field(key) {
                    Some(child_ty) => validate_at(child_ty, child, path, dups, errors),
                    None => {
                        errors.push(ValidationError {
                            path: path_string(path),
                            message: "field not declared in schema".into(),
                        });
                        path.pop();
                        return;
                    }
                }
                path.pop();
            }
        }
        Shape::Map { .. } => fail(format!("expected map, got {}", unstructured_v(value))),
        Shape::List | Shape::Deduced if value.is_array() => {
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            let associative = matches!(ty.shape(), Shape::List) && ty.list_kind() != ListKind::Atomic;
            let mut seen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let pe = if associative {
                    match list_item_pe(ty, item) {
                        Ok(pe) => pe,
                        Err(e) => {
                            errors.push(ValidationError {
                                path: path_string(path),
                                message: format!("element {i}: {e}"),
                            });
                            return;
                        }
                    }
                } else {
                    PathElement::Index(i)
                };
                if associative && !seen.insert(pe.clone()) && !dups {
                    errors.push(ValidationError {
                        path: path_string(path),
                        message: format!("duplicate entries for key {pe}"),
                    });
                }
                path.push(pe);
                validate_at(ty.items(), item, path, dups, errors);
                path.pop();
            }
        }
        Shape::List => fail(format!("expected list, got {}", unstructured_v(value))),
        Shape::Deduced => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Field sets

/// The set of fields a (validated) object sets.
// structured-merge-diff: typed/tofieldset.go
pub(crate) fn to_field_set(ty: Ty, value: &Value) -> Set {
    let mut set = Set::default();
    field_set_at(ty, value, &mut Vec::new(), &mut set);
    set
}

fn field_set_at(ty: Ty, value: &Value, path: &mut Vec<PathElement>, set: &mut Set) {
    match node(ty, Some(value)) {
        Node::Leaf => set.insert(path),
        Node::List => {
            for (pe, item) in keyed_items(ty, Some(value)) {
                path.push(pe);
                field_set_at(ty.items(), item, path, set);
                set.insert(path);
                path.pop();
            }
        }
        Node::Map => {
            for (key, child) in value.as_object().into_iter().flatten() {
                path.push(PathElement::Field(key.clone()));
                field_set_at(child_ty(ty, key), child, path, set);
                let empty_map = child.as_object().is_some_and(Map::is_empty);
                if child.is_null() || empty_map || ty.declared_field(key).is_none() {
                    set.insert(path);
                }
                path.pop();
            }
        }
    }
}

/// Adds struct fields that have children as members themselves (so removing them removes
/// the whole field), as prune does before removing.
// structured-merge-diff: fieldpath/set.go (EnsureNamedFieldsAreMembers)
pub(crate) fn ensure_named_fields_are_members(ty: Option<Ty>, set: &Set) -> Set {
    let mut members: BTreeSet<PathElement> = set.members().cloned().collect();
    let mut children = std::collections::BTreeMap::new();
    for (pe, child) in set.children() {
        let child_ty = match (pe, ty) {
            (PathElement::Field(name), Some(ty)) => {
                if ty.declared_field(name).is_some() {
                    members.insert(pe.clone());
                }
                ty.field(name)
            }
            (PathElement::Key(_), Some(ty)) if matches!(ty.shape(), Shape::List) => Some(ty.items()),
            _ => None,
        };
        children.insert(pe.clone(), ensure_named_fields_are_members(child_ty, child));
    }
    Set::from_parts(members, children)
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// What changed between two versions of an object.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub(crate) added: Set,
    pub(crate) modified: Set,
    pub(crate) removed: Set,
}

impl Comparison {
    pub(crate) fn filter(mut self, ignored: &Set) -> Comparison {
        for set in [&mut self.added, &mut self.modified, &mut self.removed] {
            set.remove(ignored, true);
        }
        self
    }
}

// structured-merge-diff: typed/compare.go
pub(crate) fn compare(ty: Ty, lhs: &Value, rhs: &Value) -> Comparison {
    let mut out = Comparison::default();
    compare_at(ty, Some(lhs), Some(rhs), &mut Vec::new(), &mut out);
    out
}

fn compare_at(ty: Ty, lhs: Option<&Value>, rhs: Option<&Value>, path: &mut Vec<PathElement>, out: &mut Comparison) {
    if lhs.is_none() && rhs.is_none() {
        return;
    }
    let shape = ty.shape();
    let kind = node_of(ty, shape, rhs.or(lhs));
    let mismatched = lhs.is_some() && rhs.is_some() && node_of(ty, shape, lhs) != kind;
    match kind {
        _ if mismatched => {
            if !equal(lhs.unwrap_or(&Value::Null), rhs.unwrap_or(&Value::Null)) {
                out.modified.insert(path);
            }
            return;
        }
        Node::Leaf => {
            match (lhs, rhs) {
                (None, _) => out.added.insert(path),
                (_, None) => out.removed.insert(path),
                (Some(l), Some(r)) if !equal(l, r) => out.modified.insert(path),
                _ => {}
            }
            return;
        }
        Node::Map => {
            let (l, r) = (lhs.and_then(Value::as_object), rhs.and_then(Value::as_object));
            let only_right = r.into_iter().flatten().filter(|(k, _)| !l.is_some_and(|l| l.contains_key(*k)));
            let keys = l.into_iter().flatten().chain(only_right).map(|(k, _)| k);
            for key in keys {
                path.push(PathElement::Field(key.clone()));
                compare_at(child_ty(ty, key), l.and_then(|m| m.get(key)), r.and_then(|m| m.get(key)), path, out);
                path.pop();
            }
        }
        Node::List => {
            let (l, r) = (keyed_items(ty, lhs), keyed_items(ty, rhs));
            let mut pes: Vec<&PathElement> = Vec::new();
            for (pe, _) in l.iter().chain(&r) {
                if !pes.contains(&pe) {
                    pes.push(pe);
                }
            }
            for pe in pes {
                let ls: Vec<&Value> = l.iter().filter(|(p, _)| p == pe).map(|(_, v)| *v).collect();
                let rs: Vec<&Value> = r.iter().filter(|(p, _)| p == pe).map(|(_, v)| *v).collect();
                path.push(pe.clone());
                if ls.len() <= 1 && rs.len() <= 1 {
                    compare_at(ty.items(), ls.first().copied(), rs.first().copied(), path, out);
                } else if rs.is_empty() {
                    out.removed.insert(path);
                } else if ls.is_empty() {
                    out.added.insert(path);
                } else if ls.len() != rs.len() || ls.iter().zip(&rs).any(|(a, b)| !equal(a, b)) {
                    out.modified.insert(path);
                }
                path.pop();
            }
        }
    }
    if lhs.is_none() {
        out.added.insert(path);
    } else if rhs.is_none() {
        out.removed.insert(path);
    }
}

// ---------------------------------------------------------------------------------------------
// Merge

/// Merges `rhs` (the applied configuration) onto `lhs` (the live object): the applied side
/// wins for leaves; maps merge by key; list-maps and sets merge by element, keeping live
/// order for live-only items and applied order for shared ones.
// structured-merge-diff: typed/merge.go (ruleKeepRHS, visitListItems)
pub(crate) fn merge(ty: Ty, lhs: Option<&Value>, rhs: Option<&Value>) -> Option<Value> {
    let (l, r) = match (lhs, rhs) {
        (None, None) => return None,
        (Some(l), None) => return Some(l.clone()),
        (None, Some(r)) => return Some(r.clone()),
        (Some(l), Some(r)) => (l, r),
    };
    let kind = node(ty, Some(r));
    if node(ty, Some(l)) != kind && !r.is_null() {
        return Some(r.clone());
    }
    match kind {
        Node::Leaf => Some(r.clone()),
        Node::Map => {
            let (lm, rm) = (l.as_object(), r.as_object());
            if lm.is_none_or(Map::is_empty) && rm.is_none_or(Map::is_empty) {
                return Some(r.clone());
            }
            let mut out = Map::new();
            let keys = lm.into_iter().flatten().chain(rm.into_iter().flatten()).map(|(k, _)| k);
            for key in keys {
                if out.contains_key(key) {
                    continue;
                }
                let merged = merge(child_ty(ty, key), lm.and_then(|m| m.get(key)), rm.and_then(|m| m.get(key)));
                if let Some(v) = merged {
                    out.insert(key.clone(), v);
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Node::List => {
            let merged = merge_list_items(ty, &keyed_items(ty, Some(l)), &keyed_items(ty, Some(r)));
            (!merged.is_empty()).then_some(Value::Array(merged))
        }
    }
}

/// Item order of a merged associative list: live-only items stay where they were; items the
/// applied configuration has come in its order, each shared one when its turn comes.
fn find_item<'v>(items: &[(PathElement, &'v Value)], pe: &PathElement) -> Option<&'v Value> {
    items.iter().find(|(p, _)| p == pe).map(|(_, v)| *v)
}

fn merge_list_items(ty: Ty, lhs: &[(PathElement, &Value)], rhs: &[(PathElement, &Value)]) -> Vec<Value> {
    let find = find_item;
    let mut shared = rhs.iter().map(|(pe, _)| pe).filter(|pe| find(lhs, pe).is_some());
    let mut next_shared = shared.next();
    let mut done: Vec<&PathElement> = Vec::new();
    let mut out = Vec::new();
    let (mut li, mut ri) = (0, 0);
    let emit = |pe: &PathElement, out: &mut Vec<Value>| {
        if let Some(v) = merge(ty.items(), find(lhs, pe), find(rhs, pe)) {
            out.push(v);
        }
    };
    while li < lhs.len() || ri < rhs.len() {
        if li < lhs.len() && ri < rhs.len() {
            let pe = &lhs[li].0;
            if *pe == rhs[ri].0 {
                done.push(pe);
                emit(pe, &mut out);
                li += 1;
                ri += 1;
                next_shared = shared.next();
                continue;
            }
            if find(rhs, pe).is_some() && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            let pe = &lhs[li].0;
            if find(rhs, pe).is_none() {
                if let Some(v) = merge(ty.items(), Some(lhs[li].1), None) {
                    out.push(v);
                }
                li += 1;
                continue;
            }
            if done.contains(&pe) {
                li += 1;
                continue;
            }
        }
        if ri < rhs.len() {
            let pe = &rhs[ri].0;
            done.push(pe);
            emit(pe, &mut out);
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.next();
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Removal

/// Removes the members of `set` (and everything below them) from `value`. Containers left
/// empty become null, as in structured-merge-diff.
// structured-merge-diff: typed/remove.go
pub(crate) fn remove_items(ty: Ty, value: &Value, set: &Set) -> Value {
    match node(ty, Some(value)) {
        Node::Leaf if value.is_array() || value.is_object() => Value::Null,
        Node::Leaf => value.clone(),
        Node::List => {
            let mut items = Vec::new();
            for item in value.as_array().into_iter().flatten() {
                match list_item_pe(ty, item) {
                    Ok(pe) if set.is_member(&pe) => {}
                    Ok(pe) => match set.with_prefix(&pe) {
                        Some(sub) => items.push(remove_items(ty.items(), item, sub)),
                        None => items.push(item.clone()),
                    },
                    Err(_) => items.push(item.clone()),
                }
            }
            if items.is_empty() { Value::Null } else { Value::Array(items) }
        }
        Node::Map => {
            let mut out = Map::new();
            for (key, child) in value.as_object().into_iter().flatten() {
                let pe = PathElement::Field(key.clone());
                if set.is_member(&pe) {
                    continue;
                }
                let kept = match set.with_prefix(&pe) {
                    Some(sub) => remove_items(child_ty(ty, key), child, sub),
                    None => child.clone(),
                };
                out.insert(key.clone(), kept);
            }
            if out.is_empty() { Value::Null } else { Value::Object(out) }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Go object shape

/// Struct fields that Go holds by value (never nil): an empty Go object has them as `{}`.
/// `metadata`, `spec` and `status` are by value in every built-in kind and template; the rest
/// are listed from k8s.io/api.
// kubernetes: staging/src/k8s.io/api/{apps,batch,core,events,networking,rbac}/v1/types.go
const VALUE_STRUCT_FIELDS: &[(&str, &str)] = &[
    ("io.k8s.api.apps.v1.DaemonSetSpec", "template"),
    ("io.k8s.api.apps.v1.DaemonSetSpec", "updateStrategy"),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy"),
    ("io.k8s.api.apps.v1.DeploymentSpec", "template"),
    ("io.k8s.api.apps.v1.ReplicaSetSpec", "template"),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "template"),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "updateStrategy"),
    ("io.k8s.api.batch.v1.CronJobSpec", "jobTemplate"),
    ("io.k8s.api.batch.v1.JobSpec", "template"),
    ("io.k8s.api.core.v1.Container", "resources"),
    ("io.k8s.api.core.v1.EphemeralContainer", "resources"),
    ("io.k8s.api.core.v1.Event", "involvedObject"),
    ("io.k8s.api.core.v1.Event", "source"),
    ("io.k8s.api.core.v1.NodeDaemonEndpoints", "kubeletEndpoint"),
    ("io.k8s.api.core.v1.NodeStatus", "daemonEndpoints"),
    ("io.k8s.api.core.v1.NodeStatus", "nodeInfo"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "resources"),
    ("io.k8s.api.core.v1.PodTemplate", "template"),
    ("io.k8s.api.core.v1.ServiceStatus", "loadBalancer"),
    ("io.k8s.api.events.v1.Event", "deprecatedSource"),
    ("io.k8s.api.events.v1.Event", "regarding"),
    ("io.k8s.api.networking.v1.IngressStatus", "loadBalancer"),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector"),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", "roleRef"),
    ("io.k8s.api.rbac.v1.RoleBinding", "roleRef"),
];

/// List fields without `omitempty`: an empty Go object has them as `null`.
// kubernetes: staging/src/k8s.io/api/core/v1/types.go (PodSpec.Containers)
const NULL_LIST_FIELDS: &[(&str, &str)] = &[("io.k8s.api.core.v1.PodSpec", "containers")];

/// The object as Go's typed round trip presents it to the field manager: nulls dropped,
/// by-value structs present as `{}`, non-omitempty lists present as null. Comparisons for
/// `Update` ownership run on this shape, so `.` markers match kube-apiserver's.
pub(crate) fn go_shape(ty: Ty, value: &Value) -> Value {
    match value {
        Value::Object(map) if shapes_as_struct(ty, value) => {
            let mut out = Map::new();
            for (key, child) in map.iter().filter(|(_, v)| !v.is_null()) {
                out.insert(key.clone(), go_shape(child_ty(ty, key), child));
            }
            for (name, field) in ty.declared_fields() {
                if !out.contains_key(name)
                    && let Some(absent) = absent_field(ty, name, field)
                {
                    out.insert(name.to_string(), absent);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) if matches!(ty.shape(), Shape::List) => {
            Value::Array(items.iter().map(|item| go_shape(ty.items(), item)).collect())
        }
        other => other.clone(),
    }
}

fn shapes_as_struct(ty: Ty, value: &Value) -> bool {
    value.is_object() && (matches!(node(ty, Some(value)), Node::Map) || ty.is_struct())
}

/// Whether Go's typed round trip shows a declared field the object lacks (a by-value struct
/// as `{}`, a non-omitempty list as null).
fn shown_when_absent(parent: Ty, name: &str, field: Ty) -> bool {
    let parent_name = parent.def_name().unwrap_or("");
    by_value(parent_name, name, field) || NULL_LIST_FIELDS.contains(&(parent_name, name))
}

fn by_value(parent_name: &str, name: &str, field: Ty) -> bool {
    (matches!(name, "metadata" | "spec" | "status") && field.is_struct())
        || VALUE_STRUCT_FIELDS.contains(&(parent_name, name))
}

/// What Go's typed round trip shows for a declared field the object lacks, if anything.
fn absent_field(parent: Ty, name: &str, field: Ty) -> Option<Value> {
    let parent_name = parent.def_name().unwrap_or("");
    if by_value(parent_name, name, field) {
        Some(go_shape(field, &Value::Object(Map::new())))
    } else if NULL_LIST_FIELDS.contains(&(parent_name, name)) {
        Some(Value::Null)
    } else {
        None
    }
}

/// `go_shape` of an object's old and new versions, for `compare`: where a field is the same
/// on both sides, both get `null` instead (`compare` finds nothing there either way), so
/// the part an update leaves alone is neither copied nor walked. `old_metadata` stands in for
/// the old object's `metadata` (the field manager compares without `managedFields`).
pub(crate) fn go_shape_pair(ty: Ty, old: &Value, new: &Value, old_metadata: Option<&Value>) -> (Value, Value) {
    let (Value::Object(ma), Value::Object(mb)) = (old, new) else {
        return (go_shape(ty, old), go_shape(ty, new));
    };
    if !shapes_as_struct(ty, old) || !shapes_as_struct(ty, new) {
        return (go_shape(ty, old), go_shape(ty, new));
    }
    let old_child = |key: &str| match (key, old_metadata) {
        ("metadata", Some(metadata)) => Some(metadata),
        _ => ma.get(key),
    };
    let (mut out_a, mut out_b) = (Map::new(), Map::new());
    for key in ma.keys() {
        let Some(a) = old_child(key).filter(|v| !v.is_null()) else { continue };
        let child = child_ty(ty, key);
        match mb.get(key).filter(|v| !v.is_null()) {
            Some(b) if same(a, b) => {
                out_a.insert(key.clone(), Value::Null);
                out_b.insert(key.clone(), Value::Null);
            }
            Some(b) => {
                let (a, b) = go_shape_pair(child, a, b, None);
                out_a.insert(key.clone(), a);
                out_b.insert(key.clone(), b);
            }
            None => {
                out_a.insert(key.clone(), go_shape(child, a));
            }
        }
    }
    for (key, b) in mb.iter().filter(|(k, v)| !v.is_null() && !out_a.contains_key(*k)) {
        out_b.insert(key.clone(), go_shape(child_ty(ty, key), b));
    }
    for (name, field) in ty.declared_fields() {
        match (out_a.contains_key(name), out_b.contains_key(name)) {
            (true, true) => {}
            // Absent from both: the same on both sides.
            (false, false) => {
                if shown_when_absent(ty, name, field) {
                    out_a.insert(name.to_string(), Value::Null);
                    out_b.insert(name.to_string(), Value::Null);
                }
            }
            (false, true) => {
                if let Some(absent) = absent_field(ty, name, field) {
                    out_a.insert(name.to_string(), absent);
                }
            }
            (true, false) => {
                if let Some(absent) = absent_field(ty, name, field) {
                    out_b.insert(name.to_string(), absent);
                }
            }
        }
    }
    (Value::Object(out_a), Value::Object(out_b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::{Gvk, Schema};
    use serde_json::json;

    fn pod_spec() -> Ty<'static> {
        Schema::k8s_1_33().root(&Gvk::new("", "v1", "Pod")).field("spec").unwrap()
    }

    fn encoded(set: &Set) -> String {
        serde_json::to_string(&set.to_fields_v1()).unwrap()
    }

    #[test]
    fn associative_list_merge_keeps_live_only_items_in_place() {
        // structured-merge-diff typed/merge_test.go: shared items in applied order, live-only
        // items where they were.
        let meta = Schema::k8s_1_33().root(&Gvk::new("", "v1", "Pod")).field("metadata").unwrap();
        let finalizers = meta.field("finalizers").unwrap();
        let merged = merge(finalizers, Some(&json!(["a", "b", "c"])), Some(&json!(["c", "x", "a"])));
        assert_eq!(merged, Some(json!(["b", "c", "x", "a"])));
        let merged = merge(finalizers, Some(&json!(["a"])), Some(&json!([])));
        assert_eq!(merged, Some(json!(["a"])), "an empty applied list adds nothing");
        assert_eq!(merge(finalizers, None, Some(&json!(["a"]))), Some(json!(["a"])));
    }

    #[test]
    fn field_sets_own_leaves_items_empty_maps_and_map_keys() {
        let spec = json!({
            "containers": [{"name": "web", "resources": {}, "env": [{"name": "A", "value": null}]}],
            "nodeSelector": {"disk": "ssd"},
            "securityContext": {},
            "tolerations": [{"key": "k"}],
            "overhead": {"cpu": "1"}
        });
        assert_eq!(
            encoded(&to_field_set(pod_spec(), &spec)),
            concat!(
                r#"{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}},"#,
                r#""f:name":{},"f:resources":{}}},"f:nodeSelector":{},"f:overhead":{"f:cpu":{}},"f:securityContext":{},"f:tolerations":{}}"#
            )
        );
    }

    #[test]
    fn comparison_marks_new_maps_and_elements_as_added() {
        let old = json!({"containers": [{"name": "web", "image": "a"}]});
        let new = json!({"containers": [{"name": "web", "image": "b", "ports": [{"containerPort": 80}]}],
                         "securityContext": {"runAsUser": 1}});
        let cmp = compare(pod_spec(), &old, &new);
        assert_eq!(encoded(&cmp.modified), r#"{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}"#);
        assert_eq!(
            encoded(&cmp.added),
            concat!(
                r#"{"f:containers":{"k:{\"name\":\"web\"}":{"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":"#,
                r#"{".":{},"f:containerPort":{}}}}},"f:securityContext":{".":{},"f:runAsUser":{}}}"#
            )
        );
        assert!(cmp.removed.is_empty());
    }

    #[test]
    fn removal_empties_containers_to_null() {
        let mut set = Set::default();
        set.insert(&[PathElement::Field("nodeSelector".into()), PathElement::Field("disk".into())]);
        let out = remove_items(pod_spec(), &json!({"nodeSelector": {"disk": "ssd"}, "hostname": "h"}), &set);
        assert_eq!(out, json!({"nodeSelector": null, "hostname": "h"}));
    }

    #[test]
    fn go_shape_adds_by_value_structs_and_null_containers() {
        let deploy = Schema::k8s_1_33().root(&Gvk::new("apps", "v1", "Deployment"));
        assert_eq!(
            go_shape(deploy, &json!({"metadata": {"name": "x", "labels": null}})),
            json!({
                "metadata": {"name": "x"},
                "spec": {"strategy": {}, "template": {"metadata": {}, "spec": {"containers": null}}},
                "status": {}
            })
        );
    }

    #[test]
    fn shaping_both_versions_at_once_compares_as_shaping_each() {
        let deploy = Schema::k8s_1_33().root(&Gvk::new("apps", "v1", "Deployment"));
        let base = json!({
            "metadata": {"name": "x", "labels": {"app": "web"}, "managedFields": [{"manager": "m"}]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx"}]}}},
            "status": {"replicas": 1}
        });
        let versions = [
            json!({}),
            json!({"metadata": {"name": "x"}}),
            json!({"metadata": {"name": "x", "labels": null}, "spec": null}),
            json!({"metadata": {"name": "x", "labels": {"app": "web"}}, "spec": {"replicas": 2}}),
            json!({"metadata": {"name": "x", "labels": {"app": "web"}}, "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}, "status": {"replicas": 1}}),
            json!({"metadata": {"name": "x", "labels": {"app": "db"}}, "spec": {"replicas": 1, "strategy": {"type": "Recreate"}}, "status": {"replicas": 3}}),
            json!({"metadata": {"name": "x"}, "spec": "not a struct"}),
        ];
        let stripped = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.shift_remove("managedFields");
            }
            v
        };
        let text = |c: &Comparison| {
            [&c.added, &c.modified, &c.removed].map(|s| s.paths().iter().map(|p| path_string(p)).collect::<Vec<_>>())
        };
        for old in versions.iter().chain([&base]) {
            for new in versions.iter().chain([&base]) {
                let metadata = old.get("metadata").map(|m| stripped(&json!({"metadata": m}))["metadata"].clone());
                let (a, b) = go_shape_pair(deploy, old, &stripped(new), metadata.as_ref());
                let expected = compare(deploy, &go_shape(deploy, &stripped(old)), &go_shape(deploy, &stripped(new)));
                assert_eq!(text(&compare(deploy, &a, &b)), text(&expected), "{old} -> {new}");
            }
        }
    }

    #[test]
    fn validation_messages_match_structured_merge_diff() {
        let errors = validate(pod_spec(), &json!({"hostname": 5, "hostNetwork": "yes", "containers": {"a": 1}}), false);
        assert_eq!(
            errors_text(&errors),
            concat!(
                "errors:\n",
                "  .hostname: expected string, got &value.valueUnstructured{Value:5}\n",
                "  .hostNetwork: expected boolean, got &{yes}\n",
                "  .containers: expected list, got &{map[a:1]}"
            )
        );
    }
}
