//! Lists: selectors, consistent pages with continue tokens, lists at a resourceVersion
//! (kubernetes v1.33 staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go `GetList`,
//! staging/src/k8s.io/apiserver/pkg/storage/continue.go).

use std::sync::Arc;

use serde_json::{Value, json};

use super::cluster::Cluster;
use super::store::Key;
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
        let objects: Vec<(Key, Arc<Value>)> = match at {
            Some(rv) => self
                .store
                .snapshot_at(rv, res_id, ns)
                .ok_or_else(|| ApiError::too_old_resource_version(rv, self.store.compacted()))?
                .into_iter()
                .collect(),
            None => self.store.list(res_id, ns).map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        let filtered: Vec<(Key, Arc<Value>)> = objects
            .into_iter()
            .filter(|(k, _)| start_after.as_ref().is_none_or(|s| continue_key(k) > *s))
            .filter(|(_, v)| opts.labels.matches(jsonpath::labels(v)) && opts.fields.matches(v))
            .collect();
        // A resourceVersion=0 list is served from the watch cache, which does not paginate.
        let paginate = opts.resource_version.as_deref() != Some("0") || opts.continue_token.is_some();
        let limit = opts.limit.filter(|l| *l > 0 && paginate).map(|l| l as usize);
        let (items, rest) = match limit {
            Some(l) if filtered.len() > l => (&filtered[..l], &filtered[l..]),
            _ => (&filtered[..], &filtered[..0]),
        };
        let continue_token =
            (!rest.is_empty()).then(|| encode_continue(list_rv, &continue_key(&items[items.len() - 1].0)));
        let selective = !opts.labels.0.is_empty() || !opts.fields.0.is_empty();
        let remaining = (!rest.is_empty() && !selective).then_some(rest.len() as u64);
        Ok(Listed {
            items: items.iter().map(|(_, v)| v.clone()).collect(),
            resource_version: list_rv,
            continue_token,
            remaining,
        })
    }
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

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, "default/web\u{0}");
        assert_eq!(decode_continue(&t).unwrap(), (42, "default/web\u{0}".to_string()));
        assert_eq!(decode_continue("!!").unwrap_err().code, 400);
    }
}
