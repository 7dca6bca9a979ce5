//! Pure merge engine of the simulator: structural schema, JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902), strategic merge patch, and server-side apply with managedFields
//! (FieldsV1), modelled on k8s.io/apimachinery (`pkg/util/strategicpatch`,
//! `pkg/util/managedfields`) and sigs.k8s.io/structured-merge-diff/v4.
//!
//! No I/O, no HTTP, no store: the REST layer calls these functions with JSON values.
//!
//! INTERFACE CONTRACT (agreed between the REST layer and this module; change only together):
//! every function below keeps its name and signature. Bodies marked `unimplemented!` are being
//! written; do not rely on them until they are.
#![allow(clippy::too_many_arguments)]

use serde_json::Value;

/// Group/version/kind of the object being merged (`group` is "" for core).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk { group: group.into(), version: version.into(), kind: kind.into() }
    }
    /// `apps/v1` or `v1`, as in `apiVersion` and in managedFields entries.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }
}

/// The Kubernetes 1.33 structural schema, from `data/k8s-v1.33-definitions.json.gz`
/// (see `tools/refresh-definitions.sh`): definitions keyed like
/// `io.k8s.api.apps.v1.StatefulSet`, with `x-kubernetes-group-version-kind`,
/// `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`,
/// `x-kubernetes-patch-strategy` and `x-kubernetes-patch-merge-key`.
pub struct Schema {
    _private: (),
}

impl Schema {
    /// The embedded 1.33 schema, parsed once and cached for the process.
    pub fn k8s_1_33() -> &'static Schema {
        unimplemented!("merge engine: Schema::k8s_1_33")
    }

    /// All definitions as they appear in the data file (`$defs` map), for generating the
    /// `/openapi/v3` documents.
    pub fn definitions(&self) -> &serde_json::Map<String, Value> {
        unimplemented!("merge engine: Schema::definitions")
    }

    /// Definition name for a kind, e.g. `io.k8s.api.apps.v1.StatefulSet`.
    pub fn definition_name(&self, _gvk: &Gvk) -> Option<&str> {
        unimplemented!("merge engine: Schema::definition_name")
    }
}

/// A patch or apply body that cannot be applied. `message` is kube-apiserver's text for the
/// same situation (the REST layer wraps it in a `v1 Status` with `reason`/`code`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// 400 BadRequest (malformed patch, wrong directive, type mismatch).
    #[error("{0}")]
    BadRequest(String),
    /// 422 Invalid (e.g. JSON patch `test` op failed: kube-apiserver answers 422 for some cases).
    #[error("{0}")]
    Invalid(String),
    /// 500 InternalError from the merge layer (should not happen for valid input).
    #[error("{0}")]
    Internal(String),
}

/// RFC 7386 JSON merge patch (`application/merge-patch+json`).
pub fn json_merge_patch(_target: &Value, _patch: &Value) -> Value {
    unimplemented!("merge engine: json_merge_patch")
}

/// RFC 6902 JSON patch (`application/json-patch+json`).
pub fn json_patch(_target: &Value, _patch: &Value) -> Result<Value, MergeError> {
    unimplemented!("merge engine: json_patch")
}

/// Strategic merge patch (`application/strategic-merge-patch+json`) with the schema's merge
/// keys and strategies, including the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList`
/// and `$setElementOrder` directives kubectl sends.
pub fn strategic_merge_patch(
    _schema: &Schema,
    _gvk: &Gvk,
    _target: &Value,
    _patch: &Value,
) -> Result<Value, MergeError> {
    unimplemented!("merge engine: strategic_merge_patch")
}

/// One field-ownership conflict (`details.causes[]` of the 409: type `FieldManagerConflict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The other manager, e.g. `helm` or `kubectl-client-side-apply`.
    pub manager: String,
    /// Its operation's apiVersion, e.g. `apps/v1` (the message says `conflict with "helm" using apps/v1`).
    pub api_version: String,
    /// Field path in kube-apiserver's notation, e.g. `.spec.replicas`,
    /// `.spec.template.spec.containers[name="syncer"].image`.
    pub field: String,
}

/// The outcome of server-side apply that could not proceed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// 409 Conflict; the REST layer builds the Status from [`conflicts_message`].
    Conflicts(Vec<Conflict>),
    Merge(MergeError),
}

/// kube-apiserver's 409 message for apply conflicts, e.g.
/// `Apply failed with 1 conflict: conflict with "helm" using apps/v1: .spec.replicas`.
pub fn conflicts_message(_conflicts: &[Conflict]) -> String {
    unimplemented!("merge engine: conflicts_message")
}

/// Server-side apply (`application/apply-patch+yaml`, already parsed to JSON) of `applied` by
/// `manager` onto `live` (None: the object does not exist yet). Returns the merged object whose
/// `metadata.managedFields` is updated (one `Apply` entry per manager and subresource, with
/// `time` = `now`, RFC 3339). Fields the manager applied before but no longer applies are
/// removed when no other manager owns them. Conflicts with other managers' fields (including
/// `Update` entries) are errors unless `force`, in which case ownership moves to `manager`.
/// `subresource` is "" or e.g. "status".
pub fn apply(
    _schema: &Schema,
    _gvk: &Gvk,
    _live: Option<&Value>,
    _applied: &Value,
    _manager: &str,
    _subresource: &str,
    _force: bool,
    _now: &str,
) -> Result<Value, ApplyError> {
    unimplemented!("merge engine: apply")
}

/// Record a non-apply write (POST, PUT, merge/JSON/strategic PATCH: operation `Update`) by
/// `manager`: returns `new` with `metadata.managedFields` updated as kube-apiserver does
/// (the manager's `Update` entry gains every field it set or changed; those fields leave other
/// managers' sets). `old` is None for a create.
pub fn record_update(
    _schema: &Schema,
    _gvk: &Gvk,
    _old: Option<&Value>,
    _new: &Value,
    _manager: &str,
    _subresource: &str,
    _now: &str,
) -> Result<Value, MergeError> {
    unimplemented!("merge engine: record_update")
}
