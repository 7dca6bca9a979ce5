//! Strategic merge patch, applied the way kube-apiserver applies it
//! (`StrategicMergeMapPatch` with `MergeParallelList` and `IgnoreUnmatchedNulls`).
// kubernetes: staging/src/k8s.io/apimachinery/pkg/util/strategicpatch/patch.go, meta.go,
// staging/src/k8s.io/apimachinery/pkg/util/mergepatch/errors.go,
// staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go (interpretStrategicMergePatchError)

use serde_json::{Map, Value};

use super::json_patch::json_kind;
use super::schema::{Shape, Ty};
use super::types::MergeError;
use super::value::{go_s, go_scalar_eq, go_type, go_v, strip_nulls};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

// mergepatch/errors.go: the errors kube-apiserver answers 400 or 422 for.
const BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";
const LIST_OF_LISTS: &str = "lists of lists are not supported";

type Result<T> = std::result::Result<T, String>;
type List = Vec<Value>;

const LIST_TYPE: &str = "[]interface {}";
const MAP_TYPE: &str = "map[string]interface {}";

fn bad_arg_type(expected: &str, actual: &Value) -> String {
    let actual = if actual.is_null() { "%!s(<nil>)" } else { go_type(actual) };
    format!("expected a {expected}, but received a {actual}")
}

fn no_merge_key(map: &Value, key: &str) -> String {
    format!("map: {} does not contain declared merge key: {key}", go_v(map))
}

fn bad_patch_type(directive: &Value, map: &Value) -> String {
    format!("unknown patch type: {} in map: {}", go_s(directive), go_v(map))
}

/// The Go type of a decoded value, as `reflect.TypeOf` compares them.
fn type_class(v: &Value) -> &'static str {
    go_type(v)
}

pub(crate) fn apply(root: Ty, target: &Value, patch: &Value) -> std::result::Result<Value, MergeError> {
    let patch = match patch {
        Value::Object(p) => p.clone(),
        Value::Null => return Ok(target.clone()),
        other => {
            return Err(MergeError::BadRequest(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                json_kind(other)
            )));
        }
    };
    let original = target.as_object().cloned().unwrap_or_default();
    merge_map(root, original, patch).map(Value::Object).map_err(|e| match e.as_str() {
        BAD_PRIMITIVE_LIST | BAD_RETAIN_KEYS | BAD_SET_ELEMENT_ORDER => MergeError::BadRequest(e),
        LIST_OF_LISTS => MergeError::Invalid(e),
        _ => MergeError::Internal(e),
    })
}

/// Field metadata for a key of a map or struct: its type, strategies and merge key.
// strategicpatch/meta.go: PatchMetaFromStruct.LookupPatchMetadataForStruct
fn lookup<'s>(ty: Ty<'s>, key: &str) -> Result<(Ty<'s>, Vec<&'s str>, &'s str)> {
    if ty.is_struct() {
        let field = ty.declared_field(key).ok_or_else(|| {
            format!("unable to find api field in struct {} for the json field {key:?}", ty.go_type_name())
        })?;
        return Ok((field, field.patch_strategies(), field.patch_merge_key()));
    }
    let elem = ty.field(key).unwrap_or_else(|| ty.schema().deduced());
    Ok((elem, Vec::new(), ""))
}

// strategicpatch/meta.go: LookupPatchMetadataForSlice
fn lookup_slice<'s>(ty: Ty<'s>, key: &str) -> Result<(Ty<'s>, Vec<&'s str>, &'s str)> {
    let (field, strategies, merge_key) = lookup(ty, key)?;
    match field.shape() {
        Shape::List => Ok((field.items(), strategies, merge_key)),
        _ if !ty.is_struct() => Ok((field, strategies, merge_key)),
        _ => Err(format!("expected slice or array type, get: {}", field.go_kind_name())),
    }
}

// strategicpatch/patch.go: extractRetainKeysPatchStrategy
fn patch_strategy<'s>(strategies: &[&'s str]) -> Result<&'s str> {
    match strategies {
        [] | ["retainKeys"] => Ok(""),
        [single] => Ok(single),
        ["retainKeys", other] | [other, "retainKeys"] => Ok(other),
        _ => Err(format!("unexpected patch strategy: [{}]", strategies.join(" "))),
    }
}

fn extract_key<'k>(key: &'k str, prefix: &str) -> Result<&'k str> {
    match key.split_once('/') {
        Some((head, rest)) if head == prefix => Ok(rest),
        _ if prefix == DELETE_FROM_PRIMITIVE_LIST => Err(BAD_PRIMITIVE_LIST.into()),
        _ => Err(BAD_SET_ELEMENT_ORDER.into()),
    }
}

/// Drops maps carrying `$patch` (a directive has nothing to apply to in new content).
fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(map) if map.contains_key(DIRECTIVE) => None,
        Value::Object(map) => {
            Some(Value::Object(map.into_iter().filter_map(|(k, v)| Some((k, remove_directives(v)?))).collect()))
        }
        Value::Array(items) => Some(Value::Array(items.into_iter().filter_map(remove_directives).collect())),
        other => Some(other),
    }
}

/// New content from the patch: nulls discarded, directives removed.
fn take_patch_value(mut v: Value) -> Option<Value> {
    strip_nulls(&mut v);
    remove_directives(v)
}

// strategicpatch/patch.go: mergeMap
fn merge_map(ty: Ty, mut original: Map<String, Value>, mut patch: Map<String, Value>) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(directive, &Value::Object(patch.clone()))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order(ty, &mut original, &mut patch)?;
    for (patch_key, patch_value) in patch {
        let (key, is_delete_list) = match patch_key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            true => (extract_key(&patch_key, DELETE_FROM_PRIMITIVE_LIST)?.to_string(), true),
            false => (patch_key, false),
        };
        if patch_value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let Some(current) = original.get(&key) else {
            if !is_delete_list {
                match take_patch_value(patch_value) {
                    Some(v) => original.insert(key, v),
                    None => original.shift_remove(&key),
                };
            }
            continue;
        };
        if type_class(current) != type_class(&patch_value) {
            if !is_delete_list {
                match take_patch_value(patch_value) {
                    Some(v) => original.insert(key, v),
                    None => original.shift_remove(&key),
                };
            }
            continue;
        }
        let merged = match (current.clone(), patch_value) {
            (Value::Object(current), Value::Object(patch_map)) => {
                let (sub, strategies, _) = lookup(ty, &key)?;
                if patch_strategy(&strategies)? == "replace" {
                    Value::Object(patch_map)
                } else {
                    Value::Object(merge_map(sub, current, patch_map)?)
                }
            }
            (Value::Array(current), Value::Array(patch_list)) => {
                let (elem, strategies, merge_key) = lookup_slice(ty, &key)?;
                let strategy = patch_strategy(&strategies)?;
                Value::Array(merge_slice_handler(elem, current, patch_list, strategy, merge_key, is_delete_list)?)
            }
            (_, patch_value) => patch_value,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

// strategicpatch/patch.go: applyRetainKeysDirective
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<()> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else { return Ok(()) };
    let Value::Array(retain) = retain else { return Err(BAD_RETAIN_KEYS.into()) };
    let retained = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (key, value) in patch.iter() {
        let exempt =
            value.is_null() || key.starts_with(DELETE_FROM_PRIMITIVE_LIST) || key.starts_with(SET_ELEMENT_ORDER);
        if !exempt && !retained(key) {
            return Err(BAD_RETAIN_KEYS.into());
        }
    }
    original.retain(|k, _| retained(k));
    Ok(())
}

// strategicpatch/patch.go: mergeSliceHandler
fn merge_slice_handler(
    elem: Ty,
    original: List,
    patch: List,
    strategy: &str,
    merge_key: &str,
    delete_list: bool,
) -> Result<List> {
    if strategy == "merge" || delete_list {
        merge_slice(elem, original, patch, merge_key, delete_list)
    } else {
        Ok(patch)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ElementKind {
    Map,
    Scalar,
}

// strategicpatch/patch.go: sliceElementType
fn element_kind(lists: &[&[Value]]) -> Result<ElementKind> {
    let mut first: Option<&'static str> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let class = type_class(item);
        match first {
            None if item.is_array() => return Err(LIST_OF_LISTS.into()),
            None => first = Some(class),
            Some(prev) if prev != class => {
                let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                return Err(format!("list element types are not identical: {}", go_v(&Value::Array(all))));
            }
            Some(_) => {}
        }
    }
    match first {
        None => Err("no elements in any of the given slices".into()),
        Some(MAP_TYPE) => Ok(ElementKind::Map),
        Some(_) => Ok(ElementKind::Scalar),
    }
}

// strategicpatch/patch.go: mergeSlice
fn merge_slice(elem: Ty, original: List, patch: List, merge_key: &str, delete_list: bool) -> Result<List> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let kind = element_kind(&[&original, &patch])?;
    let (original, patch, merged) = if kind == ElementKind::Scalar {
        if delete_list {
            return Ok(original.into_iter().filter(|v| !patch.iter().any(|d| go_scalar_eq(v, d))).collect());
        }
        let mut merged: List = Vec::new();
        for item in original.iter().chain(&patch) {
            if !merged.iter().any(|m| go_scalar_eq(m, item)) {
                merged.push(item.clone());
            }
        }
        (original, patch, merged)
    } else {
        if merge_key.is_empty() {
            return Err(format!("cannot merge lists without merge key for {}", elem.go_kind_name()));
        }
        let (original, patch) = merge_special_elements(original, patch, merge_key)?;
        let merged = merge_by_key(elem, original.clone(), &patch, merge_key)?;
        (original, patch, merged)
    };
    let (patch_items, server_only) = partition(merged, &patch, merge_key)?;
    normalize_element_order(patch_items, server_only, &patch, &original, merge_key, kind)
}

/// Applies `$patch: delete` and `$patch: replace` list elements.
// strategicpatch/patch.go: mergeSliceWithSpecialElements, deleteMatchingEntries
fn merge_special_elements(mut original: List, patch: List, merge_key: &str) -> Result<(List, List)> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = item.get(merge_key).ok_or_else(|| no_merge_key(&item, merge_key))?;
                while let Some(at) = find_by_key(&original, merge_key, value)? {
                    original.remove(at);
                }
            }
            Some("replace") => replace = true,
            Some("merge") => return Err("merging lists cannot yet be specified in the patch".into()),
            _ => return Err(bad_patch_type(directive, &item)),
        }
    }
    Ok(if replace { (plain, Vec::new()) } else { (original, plain) })
}

// strategicpatch/patch.go: findMapInSliceBasedOnKeyValue
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>> {
    for (i, item) in list.iter().enumerate() {
        let Value::Object(map) = item else { return Err(format!("value for key {i} is not a map")) };
        if map.get(key).is_some_and(|v| go_scalar_eq(v, value)) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

// strategicpatch/patch.go: mergeSliceWithoutSpecialElements
fn merge_by_key(elem: Ty, mut original: List, patch: &[Value], merge_key: &str) -> Result<List> {
    for item in patch {
        let value = item.get(merge_key).ok_or_else(|| no_merge_key(item, merge_key))?;
        match find_by_key(&original, merge_key, value)? {
            Some(at) => {
                let current = original[at].as_object().cloned().unwrap_or_default();
                let patch_map = item.as_object().cloned().unwrap_or_default();
                original[at] = Value::Object(merge_map(elem, current, patch_map)?);
            }
            None => original.push(item.clone()),
        }
    }
    Ok(original)
}

/// Splits `merged` into items present in `by` and the others (server-only).
// strategicpatch/patch.go: partitionPrimitivesByPresentInList, partitionMapsByPresentInList
fn partition(merged: List, by: &[Value], merge_key: &str) -> Result<(List, List)> {
    let (mut present, mut absent) = (Vec::new(), Vec::new());
    for item in merged {
        let found = if merge_key.is_empty() {
            by.iter().any(|b| go_scalar_eq(b, &item))
        } else {
            if !item.is_object() {
                return Err(bad_arg_type(MAP_TYPE, &item));
            }
            let value = item.get(merge_key).ok_or_else(|| no_merge_key(&item, merge_key))?;
            find_by_key(by, merge_key, value)?.is_some()
        };
        if found { present.push(item) } else { absent.push(item) }
    }
    Ok((present, absent))
}

// strategicpatch/patch.go: index
fn index_of(list: &[Value], item: &Value, merge_key: &str, kind: ElementKind) -> Option<usize> {
    let key_of = |v: &Value| match kind {
        ElementKind::Map => v.get(merge_key).cloned().unwrap_or(Value::Null),
        ElementKind::Scalar => v.clone(),
    };
    let wanted = key_of(item);
    list.iter().position(|v| go_scalar_eq(&key_of(v), &wanted))
}

fn is_delete_directive(v: &Value) -> bool {
    v.get(DIRECTIVE).and_then(Value::as_str) == Some("delete")
}

// strategicpatch/patch.go: normalizeSliceOrder, validateMergeKeyInLists, extractToDeleteItems
fn normalize_slice_order(mut items: List, order: &[Value], merge_key: &str, kind: ElementKind) -> Result<List> {
    if kind == ElementKind::Map {
        for item in items.iter().chain(order) {
            if !item.is_object() {
                return Err(bad_arg_type(MAP_TYPE, item));
            }
            if item.get(merge_key).is_none() {
                return Err(no_merge_key(item, merge_key));
            }
        }
        items.retain(|item| !order.iter().any(|o| is_delete_directive(o) && o == item));
    }
    items.sort_by_key(|item| index_of(order, item, merge_key, kind).unwrap_or(usize::MAX));
    Ok(items)
}

/// Orders patch items by the patch (or `$setElementOrder`) and server-only items by the live
/// list, then interleaves them using the live order where both sides are known.
// strategicpatch/patch.go: normalizeElementOrder, mergeSortedSlice
fn normalize_element_order(
    patch_items: List,
    server_only: List,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    kind: ElementKind,
) -> Result<List> {
    let right = normalize_slice_order(patch_items, patch_order, merge_key, kind)?;
    let left = normalize_slice_order(server_only, server_order, merge_key, kind)?;
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(left.len() + right.len());
    while i < left.len() || j < right.len() {
        let take_left = if i >= left.len() {
            false
        } else if j >= right.len() {
            true
        } else {
            let l = index_of(server_order, &left[i], merge_key, kind);
            let r = index_of(server_order, &right[j], merge_key, kind);
            matches!((l, r), (Some(l), Some(r)) if l < r)
        };
        if take_left {
            out.push(left[i].clone());
            i += 1;
        } else {
            out.push(right[j].clone());
            j += 1;
        }
    }
    Ok(out)
}

fn as_list(value: Option<&Value>) -> Result<Option<List>> {
    match value {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type(LIST_TYPE, other)),
    }
}

// strategicpatch/patch.go: validatePatchWithSetOrderList, mergeKeyValueEqual
fn validate_set_order(patch: &[Value], order: &[Value], merge_key: &str) -> Result<()> {
    if order.is_empty() || patch.is_empty() {
        return Ok(());
    }
    let kept: Vec<&Value> = if merge_key.is_empty() {
        patch.iter().collect()
    } else {
        for item in patch {
            if !item.is_object() {
                return Err(bad_arg_type(MAP_TYPE, item));
            }
        }
        patch.iter().filter(|v| !is_delete_directive(v)).collect()
    };
    let (mut p, mut s) = (0, 0);
    while p < kept.len() && s < order.len() {
        if kept[p].get(DIRECTIVE).is_some() {
            p += 1;
            continue;
        }
        let equal = if merge_key.is_empty() {
            go_scalar_eq(kept[p], &order[s])
        } else {
            let key = |v: &Value| -> Result<Value> {
                if !v.is_object() {
                    return Err(bad_arg_type(MAP_TYPE, v));
                }
                v.get(merge_key).cloned().ok_or_else(|| no_merge_key(v, merge_key))
            };
            go_scalar_eq(&key(kept[p])?, &key(&order[s])?)
        };
        if equal {
            p += 1;
        }
        s += 1;
    }
    if p < kept.len() && s >= order.len() {
        return Err(format!(
            "the order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}",
            go_v(&Value::Array(patch.to_vec())),
            go_v(&Value::Array(order.to_vec()))
        ));
    }
    Ok(())
}

/// Merges each `$setElementOrder/<list>` with its list and orders the result:
/// `$setElementOrder` first, then the patch, then the live list.
// strategicpatch/patch.go: mergePatchIntoOriginal
fn merge_set_element_order(ty: Ty, original: &mut Map<String, Value>, patch: &mut Map<String, Value>) -> Result<()> {
    let directives: Vec<String> = patch.keys().filter(|k| k.starts_with(SET_ELEMENT_ORDER)).cloned().collect();
    for directive in directives {
        let order = patch.shift_remove(&directive).unwrap_or(Value::Null);
        let Value::Array(order) = order else { return Err(bad_arg_type(LIST_TYPE, &order)) };
        let key = extract_key(&directive, SET_ELEMENT_ORDER)?.to_string();
        let original_list = as_list(original.get(&key))?;
        let patch_list = as_list(patch.get(&key))?;
        let (elem, strategies, merge_key) = lookup_slice(ty, &key)?;
        let strategy = patch_strategy(&strategies)?;
        validate_set_order(patch_list.as_deref().unwrap_or_default(), &order, merge_key)?;
        let merged = match (&original_list, &patch_list) {
            (Some(current), None) => current.clone(),
            (None, Some(added)) => match remove_directives(Value::Array(added.clone())) {
                Some(Value::Array(items)) => items,
                _ => continue,
            },
            (Some(current), Some(added)) => {
                merge_slice_handler(elem, current.clone(), added.clone(), strategy, merge_key, false)?
            }
            (None, None) => continue,
        };
        let (in_order, server_only) = partition(merged, &order, merge_key)?;
        let current = original_list.unwrap_or_default();
        let kind = element_kind(&[&current, patch_list.as_deref().unwrap_or_default()])?;
        let both = normalize_element_order(in_order, server_only, &order, &current, merge_key, kind)?;
        original.insert(key.clone(), Value::Array(both));
        patch.shift_remove(&key);
    }
    Ok(())
}
