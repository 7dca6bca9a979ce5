//! Lists: selectors, consistent pages with continue tokens, lists at a resourceVersion
//! (kubernetes v1.33 staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go `GetList`,
//! staging/src/k8s.io/apiserver/pkg/storage/continue.go).

use std::sync::Arc;

use serde_json::{Value, json};

use super::cluster::Cluster;
use super::store::{Key, Store};
use crate::model::jsonpath;
use crate::model::options::ListOpts;
use crate::model::resources::ResId;
use crate::model::status::{ApiError, ApiResult, go_quote};

/// One page of a list.
pub struct Listed {
    pub items: Vec<Arc<Value>>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

impl Cluster {
    pub fn list(&self, res_id: ResId, ns: Option<&str>, opts: &ListOpts) -> ApiResult<Listed> {
        let current = self.store.resource_version();
        let mut start_after: Option<String> = None;
        let mut at: Option<u64> = None;
        if let Some(token) = &opts.continue_token {
            let (rv, start) = decode_continue(token)?;
            if rv < self.store.compacted() {
                // staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go: compacted continue.
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                ));
            }
            at = Some(rv);
            start_after = Some(start);
        } else if let Some(rv) = opts.resource_version.as_deref().filter(|rv| !rv.is_empty() && *rv != "0") {
            let rv: u64 = rv.parse().map_err(|e: std::num::ParseIntError| {
                ApiError::bad_request(format!(
                    "resourceVersion: Invalid value: {}: strconv.ParseUint: parsing {}: {}",
                    go_quote(rv),
                    go_quote(rv),
                    if e.to_string().contains("invalid digit") { "invalid syntax" } else { "value out of range" }
                ))
            })?;
            if rv > current {
                return Err(ApiError::too_large_resource_version(rv, current));
            }
            if opts.exact || opts.limit.is_some() {
                if rv < self.store.compacted() {
                    return Err(ApiError::too_old_resource_version(rv, self.store.compacted()));
                }
                at = Some(rv);
            }
        }
        let list_rv = at.unwrap_or(current);
        // The objects at `list_rv` after the continue key, in key order, read one at a time:
        // a page reads its own items (and, unfiltered, counts the rest), not the whole kind.
        let after = |k: &Key| start_after.as_ref().is_none_or(|s| continue_key(k) > *s);
        let undone = match at {
            Some(rv) => Some(
                self.store
                    .undone_since(rv, res_id, ns)
                    .ok_or_else(|| ApiError::too_old_resource_version(rv, self.store.compacted()))?,
            ),
            None => None,
        };
        let current_objects = objects_after(&self.store, res_id, ns, start_after.as_deref());
        let objects: Box<dyn Iterator<Item = (&Key, &Arc<Value>)>> = match &undone {
            Some(undone) => Box::new(merge_undone(current_objects, undone.iter().filter(|(k, _)| after(k)))),
            None => Box::new(current_objects),
        };
        let selective = !opts.labels.0.is_empty() || !opts.fields.0.is_empty();
        let mut matching =
            objects.filter(|(_, v)| !selective || (opts.labels.matches(jsonpath::labels(v)) && opts.fields.matches(v)));
        // A resourceVersion=0 list is served from the watch cache, which does not paginate.
        let paginate = opts.resource_version.as_deref() != Some("0") || opts.continue_token.is_some();
        let limit = opts.limit.filter(|l| *l > 0 && paginate).map(|l| l as usize);
        let mut items: Vec<(&Key, &Arc<Value>)> = Vec::new();
        let mut more = false;
        for item in matching.by_ref() {
            if limit.is_some_and(|l| items.len() == l) {
                more = true;
                break;
            }
            items.push(item);
        }
        let continue_token = more.then(|| encode_continue(list_rv, &continue_key(items[items.len() - 1].0)));
        let remaining = (more && !selective).then(|| 1 + matching.count() as u64);
        Ok(Listed {
            items: items.into_iter().map(|(_, v)| v.clone()).collect(),
            resource_version: list_rv,
            continue_token,
            remaining,
        })
    }
}

/// The objects of `res` (in `ns`) whose continue key is after `start`, in key order: what
/// `store.list(res, ns)` filtered by `continue_key(k) > start` yields, without reading the
/// objects before the start. Within a namespace continue keys (`<ns>/<name>\0`, `<name>\0`
/// when cluster-scoped) grow with the name, so each namespace is wholly after the start,
/// wholly before it, or after it from one name on.
fn objects_after<'a>(
    store: &'a Store,
    res: ResId,
    ns: Option<&'a str>,
    start: Option<&'a str>,
) -> Box<dyn Iterator<Item = (&'a Key, &'a Arc<Value>)> + 'a> {
    let Some(start) = start else { return Box::new(store.list(res, ns)) };
    let in_namespace = move |namespace: String| -> Box<dyn Iterator<Item = (&'a Key, &'a Arc<Value>)> + 'a> {
        let prefix = if namespace.is_empty() { String::new() } else { format!("{namespace}/") };
        let first = match start.strip_prefix(prefix.as_str()) {
            Some(rest) => rest.split('\0').next().unwrap_or_default().to_string(),
            None if prefix.as_str() > start => String::new(),
            None => return Box::new(std::iter::empty()),
        };
        let from = Key { res, namespace: namespace.clone(), name: first };
        Box::new(
            store
                .range_from(from)
                .take_while(move |(k, _)| k.res == res && k.namespace == namespace)
                // Only the first keys can be at or before the start (keys grow with the name):
                // the rest pass without building their continue keys.
                .skip_while(move |(k, _)| continue_key(k).as_str() <= start),
        )
    };
    match ns {
        Some(ns) => in_namespace(ns.to_string()),
        None => {
            // Each namespace holding objects of `res`, in order.
            let mut next = Some(String::new());
            let namespaces = std::iter::from_fn(move || {
                let from = Key { res, namespace: next.take()?, name: String::new() };
                let (k, _) = store.range_from(from).next().filter(|(k, _)| k.res == res)?;
                next = Some(format!("{}\0", k.namespace));
                Some(k.namespace.clone())
            });
            Box::new(namespaces.flat_map(in_namespace))
        }
    }
}

/// The objects of `current` with the keys `undone` names replaced by their state then (None:
/// absent then), both in key order.
fn merge_undone<'a>(
    current: impl Iterator<Item = (&'a Key, &'a Arc<Value>)>,
    undone: impl Iterator<Item = (&'a Key, &'a Option<Arc<Value>>)>,
) -> impl Iterator<Item = (&'a Key, &'a Arc<Value>)> {
    let mut current = current.peekable();
    let mut undone = undone.peekable();
    std::iter::from_fn(move || {
        loop {
            let next = match (current.peek(), undone.peek()) {
                (None, None) => return None,
                (Some(_), None) => current.next().map(|(k, v)| (k, Some(v))),
                (None, Some(_)) => undone.next().map(|(k, v)| (k, v.as_ref())),
                (Some((ck, _)), Some((uk, _))) => match ck.cmp(uk) {
                    std::cmp::Ordering::Less => current.next().map(|(k, v)| (k, Some(v))),
                    std::cmp::Ordering::Greater => undone.next().map(|(k, v)| (k, v.as_ref())),
                    std::cmp::Ordering::Equal => {
                        current.next();
                        undone.next().map(|(k, v)| (k, v.as_ref()))
                    }
                },
            };
            match next {
                Some((k, Some(v))) => return Some((k, v)),
                Some((_, None)) => continue,
                None => return None,
            }
        }
    })
}

/// The storage key a continue token resumes after.
fn continue_key(k: &Key) -> String {
    if k.namespace.is_empty() { format!("{}\u{0}", k.name) } else { format!("{}/{}\u{0}", k.namespace, k.name) }
}

/// staging/src/k8s.io/apiserver/pkg/storage/continue.go `EncodeContinue`.
fn encode_continue(rv: u64, start: &str) -> String {
    use base64::Engine as _;
    let token = json!({ "v": "meta.k8s.io/v1", "rv": rv, "start": start });
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    use base64::Engine as _;
    let invalid = |why: String| {
        ApiError::bad_request(format!("continue: Invalid value: {}: continue key is not valid: {why}", go_quote(token)))
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|e| invalid(e.to_string()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()));
    }
    let rv = v
        .get("rv")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into()))?;
    let start = v.get("start").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok((rv, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page starts where filtering every object by its continue key would, even where the
    /// namespaces' order differs from their keys' (`a` and `a-x`: `a-x/` sorts before `a/`).
    #[test]
    fn pages_start_after_the_continue_key_as_a_filter_would() {
        let mut store = Store::new(1000);
        let res = crate::model::resources::find("", "v1", "pods").expect("served");
        for ns in ["a", "a-x", "a0", "b", "b-1-2"] {
            for name in ["p", "p-1", "p.2", "q", "x"] {
                let key = Key { res, namespace: ns.into(), name: name.into() };
                store.put(key, json!({ "metadata": { "name": name, "namespace": ns } }));
            }
        }
        let mut starts: Vec<String> = store.list(res, None).map(|(k, _)| continue_key(k)).collect();
        starts.extend(["", "a", "a/", "a-", "a-x/p-1", "a/zz\u{0}", "c/", "\u{0}"].map(String::from));
        for start in &starts {
            for ns in [None, Some("a"), Some("a-x"), Some("b"), Some("none")] {
                let expected: Vec<&Key> =
                    store.list(res, ns).map(|(k, _)| k).filter(|k| continue_key(k) > *start).collect();
                let got: Vec<&Key> = objects_after(&store, res, ns, Some(start)).map(|(k, _)| k).collect();
                assert_eq!(got, expected, "start {start:?} in {ns:?}");
            }
        }
        // Cluster-scoped: keys without a namespace.
        let namespaces = crate::model::resources::find("", "v1", "namespaces").expect("served");
        for name in ["a", "a-x", "a0", "b"] {
            let key = Key { res: namespaces, namespace: String::new(), name: name.into() };
            store.put(key, json!({ "metadata": { "name": name } }));
        }
        for start in ["", "a\u{0}", "a-x\u{0}", "a", "a-", "b\u{0}", "c"] {
            let expected: Vec<&Key> =
                store.list(namespaces, None).map(|(k, _)| k).filter(|k| continue_key(k).as_str() > start).collect();
            let got: Vec<&Key> = objects_after(&store, namespaces, None, Some(start)).map(|(k, _)| k).collect();
            assert_eq!(got, expected, "start {start:?}");
        }
    }

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, "default/web\u{0}");
        assert_eq!(decode_continue(&t).unwrap(), (42, "default/web\u{0}".to_string()));
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
