//! The merge engine's vocabulary: the kind being merged, the operations that own fields, and
//! the errors and conflicts a merge reports.

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

/// A patch or apply body that cannot be applied. `message` is kube-apiserver's text for the
/// same situation (the REST layer wraps it in a `v1 Status` with `reason`/`code`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// 400 BadRequest (`errors.NewBadRequest(message)`: reason `BadRequest`).
    #[error("{0}")]
    BadRequest(String),
    /// 422 from `errors.NewGenericServerResponse(422, …, message)`, as kube-apiserver answers a
    /// JSON patch that does not apply (e.g. a failed `test`) and some malformed strategic merge
    /// patches: the Status has reason `Invalid`, message `the server rejected our request due
    /// to an error in our request`, and `details.causes: [{reason: UnexpectedServerResponse,
    /// message: <this text>}]` (kubectl prints `The request is invalid: …`).
    // kubernetes: staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go (NewGenericServerResponse)
    #[error("{0}")]
    Invalid(String),
    /// A plain Go error in kube-apiserver: `responsewriters.ErrorToAPIStatus` makes it a 500
    /// Status with an empty reason (`StatusReasonUnknown`) and this message (kubectl prints
    /// `Error from server: …`), e.g. a malformed apply configuration or an unknown `$patch`.
    // kubernetes: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/status.go
    #[error("{0}")]
    Internal(String),
}

/// Which write produced a managedFields entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// POST, PUT and non-apply PATCH.
    Update,
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
    /// The other manager's operation: kube-apiserver names `Update` managers with their
    /// apiVersion and `Apply` managers without (see [`Conflict::manager_description`]).
    pub operation: Operation,
    /// The subresource the other manager wrote through ("" for the main resource).
    pub subresource: String,
}

/// The outcome of server-side apply that could not proceed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// 409 Conflict; the REST layer builds the Status from [`conflicts_message`].
    Conflicts(Vec<Conflict>),
    Merge(MergeError),
}
