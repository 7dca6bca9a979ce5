//! Pure merge engine of the simulator: structural schema, JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902), strategic merge patch, and server-side apply with managedFields
//! (FieldsV1), modelled on k8s.io/apimachinery (`pkg/util/strategicpatch`,
//! `pkg/util/managedfields`) and sigs.k8s.io/structured-merge-diff/v4.
//!
//! No I/O, no HTTP, no store: the REST layer calls these functions with JSON values.
//!
//! The REST layer (`crate::registry`) and the merge tests call the functions below; a
//! [`Conflict`] carries `operation` and `subresource` because kube-apiserver's message names
//! them.
//!
//! Not reproduced (do not rely on them): conversion between API versions (every manager is
//! compared in the request's version); reset fields per resource strategy beyond "`status` on
//! the main resource, `spec` on the status subresource"; the `scale` subresource's field
//! mapping; schema defaults other than list-map keys (`protocol: TCP`); unions; the 10000
//! operation limit of JSON patch (the REST layer's 413); kube-apiserver's panics (e.g. a JSON
//! patch `test` without `value` on a missing path passes here).
#![allow(clippy::too_many_arguments)]

mod fieldpath;
mod json_patch;
mod managed;
mod schema;
mod strategic;
mod typed;
mod types;
mod value;

pub use schema::Schema;
pub use types::{ApplyError, Conflict, Gvk, MergeError, Operation};
// Go formatting shared with the REST layer's messages (one copy each).
pub(crate) use json_patch::json_kind;
use serde_json::Value;
pub(crate) use value::go_quote;

/// RFC 7386 JSON merge patch (`application/merge-patch+json`) as evanphx/json-patch v4
/// (`MergePatch`) applies it for kube-apiserver: `null` deletes, objects merge, anything else
/// replaces, and nulls inside newly added objects are dropped. A non-object patch replaces the
/// target. The REST layer rejects what kube-apiserver rejects before merging: with
/// `fieldValidation` Strict or Warn (the default) a patch that is not a JSON object is 400
/// `error decoding patch: json: cannot unmarshal array into Go value of type
/// map[string]interface {}`; with Ignore, `null` or a scalar is 400 `Invalid JSON Patch`.
// kubernetes: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/patch.go (jsonPatcher)
pub fn json_merge_patch(target: &Value, patch: &Value) -> Value {
    json_patch::merge_patch(target, patch)
}

/// RFC 6902 JSON patch (`application/json-patch+json`) with evanphx/json-patch v4 semantics
/// and messages: a body that is not a list of operation objects is [`MergeError::BadRequest`],
/// an operation that does not apply is [`MergeError::Invalid`] (e.g. `testing value
/// /spec/replicas failed: test failed`), more than 10000 operations is a 413 the REST layer
/// checks itself.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, MergeError> {
    json_patch::apply(target, patch)
}

/// Strategic merge patch (`application/strategic-merge-patch+json`) with the schema's merge
/// keys and strategies, including the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList`
/// and `$setElementOrder` directives kubectl sends.
pub fn strategic_merge_patch(schema: &Schema, gvk: &Gvk, target: &Value, patch: &Value) -> Result<Value, MergeError> {
    strategic::apply(schema.root(gvk), target, patch)
}

/// kube-apiserver's 409 message for apply conflicts, e.g.
/// `Apply failed with 1 conflict: conflict with "helm" using apps/v1: .spec.replicas`, or for
/// several, one `conflicts with "<manager>":` line per manager (sorted) followed by its
/// `- <path>` lines. The Status is built like `errors.NewApplyConflict`: reason `Conflict`,
/// code 409, `details.causes[]` = `{type: FieldManagerConflict, message:`
/// [`Conflict::cause_message`]`, field:` [`Conflict::field`]`}`.
pub fn conflicts_message(conflicts: &[Conflict]) -> String {
    managed::conflicts_message(conflicts)
}

/// Server-side apply (`application/apply-patch+yaml`, already parsed to JSON) of `applied` by
/// `manager` onto `live` (None: the object does not exist yet). Returns the merged object whose
/// `metadata.managedFields` is updated (one `Apply` entry per manager and subresource, with
/// `time` = `now`, RFC 3339). Fields the manager applied before but no longer applies are
/// removed when no other manager owns them. Conflicts with other managers' fields (including
/// `Update` entries) are errors unless `force`, in which case ownership moves to `manager`.
/// `subresource` is "" or e.g. "status".
///
/// As kube-apiserver: `time` moves only when the object changes (a new manager applying what
/// is already there gets an entry without `time`); an object nobody tracked yet first gets a
/// `before-first-apply` Update entry owning its fields; manager `kubectl` takes over fields its
/// client-side apply recorded in `kubectl.kubernetes.io/last-applied-configuration` without
/// conflict and keeps that annotation current; `status` (main resource) or `spec` (status
/// subresource) is never owned. Defaulting is the caller's job, after this.
pub fn apply(
    schema: &Schema,
    gvk: &Gvk,
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    subresource: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    managed::Request::new(schema, gvk, subresource, now).apply(live, applied, manager, force)
}

/// Record a non-apply write (POST, PUT, merge/JSON/strategic PATCH: operation `Update`) by
/// `manager`: returns `new` with `metadata.managedFields` updated as kube-apiserver does
/// (the manager's `Update` entry gains every field it set or changed; those fields leave other
/// managers' sets). `old` is None for a create. Pass `new` after defaulting, as kube-apiserver
/// does: an `Update` owns the defaulted fields too.
///
/// As kube-apiserver: a write that changes nothing leaves managedFields as they were;
/// `managedFields` sent in `new` replace the stored ones (`[]` or `[{}]` clears them, and an
/// existing object without managedFields stays untracked); on a subresource the stored ones
/// are kept. Never fails today (kube-apiserver's `UpdateNoErrors` keeps the old managedFields
/// where it would).
pub fn record_update(
    schema: &Schema,
    gvk: &Gvk,
    old: Option<&Value>,
    new: Value,
    manager: &str,
    subresource: &str,
    now: &str,
) -> Result<Value, MergeError> {
    Ok(managed::Request::new(schema, gvk, subresource, now).record_update(old, new, manager))
}
