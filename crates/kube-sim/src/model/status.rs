//! Failures as kube-apiserver reports them: a `v1 Status` with the real `reason`, `code`,
//! `details` and message.
//!
//! Constructors mirror `staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go`; field errors
//! mirror `staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go`.

use serde_json::{Map, Value, json};

use crate::merge;
use crate::model::resources::ResourceDef;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    /// `metav1.StatusReason`; empty for `StatusReasonUnknown` (omitted on the wire).
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `metav1.StatusDetails` with its `omitempty` fields.
/// schema.GroupResource's (and GroupKind's) `String()`: `resource.group`, or the resource
/// alone for the core group.
fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") }
}

fn details(name: &str, group: &str, kind: &str) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), name.into());
    }
    if !group.is_empty() {
        d.insert("group".into(), group.into());
    }
    if !kind.is_empty() {
        d.insert("kind".into(), kind.into());
    }
    Value::Object(d)
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> Self {
        ApiError { code, reason, message, details }
    }

    /// The `v1 Status` body, fields in kube-apiserver's order.
    pub fn status(&self) -> Value {
        let mut s = Map::new();
        s.insert("kind".into(), "Status".into());
        s.insert("apiVersion".into(), "v1".into());
        s.insert("metadata".into(), json!({}));
        s.insert("status".into(), "Failure".into());
        s.insert("message".into(), self.message.clone().into());
        if !self.reason.is_empty() {
            s.insert("reason".into(), self.reason.into());
        }
        if let Some(d) = &self.details {
            s.insert("details".into(), d.clone());
        }
        s.insert("code".into(), self.code.into());
        Value::Object(s)
    }

    /// errors.go `NewNotFound`
    pub fn not_found(res: &ResourceDef, name: &str) -> Self {
        Self::not_found_resource(res.group, res.plural, name)
    }

    pub fn not_found_resource(group: &str, resource: &str, name: &str) -> Self {
        let qualified = group_resource(group, resource);
        Self::new(
            404,
            "NotFound",
            format!("{qualified} {} not found", go_quote(name)),
            Some(details(name, group, resource)),
        )
    }

    /// The generic 404 of an unknown path (`NewGenericServerResponse(404, ...)` via the
    /// apiserver's NotFound handler): `{"details":{}}`.
    pub fn path_not_found() -> Self {
        Self::new(404, "NotFound", "the server could not find the requested resource".into(), Some(json!({})))
    }

    /// errors.go `NewAlreadyExists`
    pub fn already_exists(res: &ResourceDef, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} {} already exists", res.group_resource(), go_quote(name)),
            Some(details(name, res.group, res.plural)),
        )
    }

    /// errors.go `NewConflict`
    pub fn conflict(res: &ResourceDef, name: &str, err: &str) -> Self {
        Self::conflict_on(res.group, res.plural, name, err)
    }

    /// errors.go `NewConflict` for a group and resource (which may name a subresource,
    /// `pods/binding`).
    pub fn conflict_on(group: &str, resource: &str, name: &str, err: &str) -> Self {
        let qualified = group_resource(group, resource);
        Self::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified} {}: {err}", go_quote(name)),
            Some(details(name, group, resource)),
        )
    }

    /// The optimistic-concurrency conflict of a stale `resourceVersion`
    /// (staging/src/k8s.io/apiserver/pkg/storage/errors.go `OptimisticLockErrorMsg`).
    pub fn stale_resource_version(res: &ResourceDef, name: &str) -> Self {
        Self::conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// errors.go `NewApplyConflict`: server-side apply field-manager conflicts.
    pub fn apply_conflict(causes: Vec<Value>, message: String) -> Self {
        Self::new(409, "Conflict", message, Some(json!({ "causes": causes })))
    }

    /// errors.go `NewBadRequest`
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// errors.go `NewInvalid`
    pub fn invalid(group: &str, kind: &str, name: &str, errs: &[FieldError]) -> Self {
        let qualified_kind = group_resource(group, kind);
        let causes: Vec<Value> = errs
            .iter()
            .map(|e| json!({ "reason": e.kind.cause_type(), "message": e.body(), "field": e.field }))
            .collect();
        let mut d = details(name, group, kind);
        d["causes"] = Value::Array(causes);
        let message = if errs.is_empty() {
            format!("{qualified_kind} {} is invalid", go_quote(name))
        } else {
            format!(
                "{qualified_kind} {} is invalid: {}",
                go_quote(name),
                aggregate(errs.iter().map(FieldError::message))
            )
        };
        Self::new(422, "Invalid", message, Some(d))
    }

    /// `NewInvalid` for an object of `res`.
    pub fn invalid_object(res: &ResourceDef, name: &str, errs: &[FieldError]) -> Self {
        Self::invalid(res.group, res.kind, name, errs)
    }

    /// A method the route does not serve: go-restful's 405 (`jsr311.go` "405: Method Not
    /// Allowed") as kube-apiserver's `serviceErrorHandler` (kubernetes v1.33
    /// staging/src/k8s.io/apiserver/pkg/server/handler.go) turns it into
    /// `NewGenericServerResponse(405, …)`: a fixed message, empty details, no Allow header.
    /// kube-apiserver installs routes only for the verbs a resource has, so this is its answer
    /// to every unsupported verb (a list of a create-only review, a DELETE of `pods/binding`…).
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
            Some(json!({})),
        )
    }

    /// A PATCH whose Content-Type the route does not consume: go-restful's 415 ("415:
    /// Unsupported Media Type", jsr311.go `detectRoute`) through `serviceErrorHandler`'s
    /// `NewGenericServerResponse(415, …)`, which keeps go-restful's message; before the
    /// handler, so before any query parameter is looked at (the PATCH routes consume the four
    /// patch types, staging/src/k8s.io/apiserver/pkg/endpoints/installer.go).
    pub fn route_unsupported_media_type() -> Self {
        Self::new(415, "UnsupportedMediaType", "415: Unsupported Media Type".into(), Some(json!({})))
    }

    /// errors.go `NewForbidden`
    pub fn forbidden(group: &str, resource: &str, name: &str, err: &str) -> Self {
        let qualified = group_resource(group, resource);
        let message = if name.is_empty() {
            format!("{qualified} is forbidden: {err}")
        } else {
            format!("{qualified} {} is forbidden: {err}", go_quote(name))
        };
        Self::new(403, "Forbidden", message, Some(details(name, group, resource)))
    }

    /// errors.go `NewResourceExpired` (410, reason `Expired`, no details).
    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message.into(), None)
    }

    /// The watch cache's answer to a compacted resourceVersion
    /// (staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go).
    pub fn too_old_resource_version(requested: u64, oldest: u64) -> Self {
        Self::expired(format!("too old resource version: {requested} ({oldest})"))
    }

    /// staging/src/k8s.io/apiserver/pkg/storage/errors.go `NewTooLargeResourceVersionError`
    /// (a `NewTimeoutError` with a `ResourceVersionTooLarge` cause).
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        Self::new(
            504,
            "Timeout",
            format!("Timeout: Too large resource version: {requested}, current: {current}"),
            Some(json!({
                "causes": [{ "reason": "ResourceVersionTooLarge", "message": "Too large resource version" }],
                "retryAfterSeconds": 1
            })),
        )
    }

    /// errors.go `NewInternalError`
    pub fn internal(err: &str) -> Self {
        Self::new(
            500,
            "InternalError",
            format!("Internal error occurred: {err}"),
            Some(json!({ "causes": [{ "message": err }] })),
        )
    }

    /// A plain error the apiserver did not convert (`ErrorToAPIStatus` default branch:
    /// 500 with an empty reason).
    pub fn unconverted(message: impl Into<String>) -> Self {
        Self::new(500, "", message.into(), None)
    }

    /// errors.go `NewTooManyRequests` with a message (the eviction API uses it).
    pub fn too_many_requests(message: impl Into<String>, causes: Vec<Value>) -> Self {
        let details = if causes.is_empty() { None } else { Some(json!({ "causes": causes })) };
        Self::new(429, "TooManyRequests", message.into(), details)
    }

    /// staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation/errors.go
    /// `NewNotAcceptableError`
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        Self::new(
            406,
            "NotAcceptable",
            format!("only the following media types are accepted: {}", accepted.join(", ")),
            None,
        )
    }

    /// negotiation/errors.go `NewUnsupportedMediaTypeError`
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                accepted.join(", ")
            ),
            None,
        )
    }
}

/// `field.ErrorType` (the cause `reason` is its string value, the message uses `String()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
}

impl FieldErrorType {
    pub fn cause_type(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
        }
    }

    fn text(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
        }
    }
}

/// The bad value of a field error, already in the form Go's `ErrorBody` prints it.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// `field.OmitValueType`: no value printed.
    Omit,
    /// A Go `string`: printed with `%q`.
    Str(String),
    /// Anything printed verbatim: numbers, bools, `[]string{"a"}`, `null`.
    Raw(String),
}

impl BadValue {
    pub fn str(s: &str) -> Self {
        BadValue::Str(s.to_string())
    }
    /// The value as printed in a message.
    pub fn shown(&self) -> String {
        match self {
            BadValue::Omit => String::new(),
            BadValue::Str(s) => go_quote(s),
            BadValue::Raw(s) => s.clone(),
        }
    }
    /// A Go `[]string` printed with `%#v`.
    pub fn string_slice<S: AsRef<str>>(items: &[S]) -> Self {
        let inner: Vec<String> = items.iter().map(|s| go_quote(s.as_ref())).collect();
        BadValue::Raw(format!("[]string{{{}}}", inner.join(", ")))
    }
    /// A Go `map[string]string` printed with `%#v` (keys sorted, as fmt prints maps).
    pub fn string_map(map: &Map<String, Value>) -> Self {
        let mut pairs: Vec<(&String, String)> =
            map.iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string())).collect();
        pairs.sort();
        let inner: Vec<String> = pairs.iter().map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v))).collect();
        BadValue::Raw(format!("map[string]string{{{}}}", inner.join(", ")))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorType,
    pub field: String,
    pub value: BadValue,
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { kind: FieldErrorType::Required, field: field.into(), value: BadValue::Omit, detail: detail.into() }
    }
    pub fn invalid(field: impl Into<String>, value: BadValue, detail: impl Into<String>) -> Self {
        FieldError { kind: FieldErrorType::Invalid, field: field.into(), value, detail: detail.into() }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            kind: FieldErrorType::Forbidden,
            field: field.into(),
            value: BadValue::Omit,
            detail: detail.into(),
        }
    }
    pub fn duplicate(field: impl Into<String>, value: BadValue) -> Self {
        FieldError { kind: FieldErrorType::Duplicate, field: field.into(), value, detail: String::new() }
    }
    /// field/errors.go `NotSupported`: the detail lists the valid values, each `%q`-quoted.
    pub fn not_supported(field: impl Into<String>, value: BadValue, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            format!("supported values: {}", valid.iter().map(|v| go_quote(v)).collect::<Vec<_>>().join(", "))
        };
        FieldError { kind: FieldErrorType::NotSupported, field: field.into(), value, detail }
    }
    /// field/errors.go `TooLong`
    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        let unit = if max == 1 { "byte" } else { "bytes" };
        FieldError {
            kind: FieldErrorType::TooLong,
            field: field.into(),
            value: BadValue::Omit,
            detail: format!("may not be more than {max} {unit}"),
        }
    }

    /// field/errors.go `(*Error).ErrorBody`
    pub fn body(&self) -> String {
        let mut s = match (&self.kind, &self.value) {
            (FieldErrorType::Required | FieldErrorType::Forbidden | FieldErrorType::TooLong, _)
            | (_, BadValue::Omit) => self.kind.text().to_string(),
            (_, BadValue::Str(v)) => format!("{}: {}", self.kind.text(), go_quote(v)),
            (_, BadValue::Raw(v)) => format!("{}: {v}", self.kind.text()),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// field/errors.go `(*Error).Error`
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }
}

/// `utilerrors.NewAggregate(errs).Error()` (staging/src/k8s.io/apimachinery/pkg/util/errors/errors.go):
/// one message alone, several deduplicated in `[a, b]`.
pub fn aggregate(messages: impl IntoIterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for m in messages {
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    if seen.len() == 1 { seen.remove(0) } else { format!("[{}]", seen.join(", ")) }
}

/// The Status of a merge engine error (see [`merge::MergeError`]): 400 BadRequest; 422 from
/// `errors.NewGenericServerResponse` (errors.go); a plain Go error (500, no reason).
impl From<merge::MergeError> for ApiError {
    fn from(e: merge::MergeError) -> ApiError {
        match e {
            merge::MergeError::BadRequest(m) => ApiError::bad_request(m),
            merge::MergeError::Invalid(m) => ApiError {
                code: 422,
                reason: "Invalid",
                message: "the server rejected our request due to an error in our request".into(),
                details: Some(json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": m }] })),
            },
            merge::MergeError::Internal(m) => ApiError::unconverted(m),
        }
    }
}

/// fieldmanager `NewConflictError` (errors.go `NewApplyConflict`): one `FieldManagerConflict`
/// cause per conflict.
impl From<merge::ApplyError> for ApiError {
    fn from(e: merge::ApplyError) -> ApiError {
        match e {
            merge::ApplyError::Merge(m) => m.into(),
            merge::ApplyError::Conflicts(conflicts) => {
                let causes = conflicts
                    .iter()
                    .map(
                        |c| json!({ "reason": "FieldManagerConflict", "message": c.cause_message(), "field": c.field }),
                    )
                    .collect();
                ApiError::apply_conflict(causes, merge::conflicts_message(&conflicts))
            }
        }
    }
}

/// Go's `strconv.Quote` (`%q`), as every message here prints quoted values.
pub(crate) use crate::merge::go_quote;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::resources::{RESOURCES, find};

    fn res(group: &str, plural: &str) -> &'static ResourceDef {
        &RESOURCES[find(group, "v1", plural).unwrap()]
    }

    #[test]
    fn not_found_matches_errors_go() {
        // errors.go NewNotFound: `%s %q not found`, details.kind is the resource.
        let e = ApiError::not_found(res("apps", "statefulsets"), "web");
        assert_eq!(e.code, 404);
        assert_eq!(e.message, r#"statefulsets.apps "web" not found"#);
        assert_eq!(
            e.status(),
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                   "message":"statefulsets.apps \"web\" not found","reason":"NotFound",
                   "details":{"name":"web","group":"apps","kind":"statefulsets"},"code":404})
        );
    }

    #[test]
    fn invalid_aggregates_like_apimachinery() {
        let errs = [
            FieldError::required("metadata.name", "name or generateName is required"),
            FieldError::not_supported("spec.type", BadValue::str("Foo"), &["ClusterIP", "ExternalName"]),
        ];
        let e = ApiError::invalid("", "Service", "", &errs);
        assert_eq!(
            e.message,
            r#"Service "" is invalid: [metadata.name: Required value: name or generateName is required, spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName"]"#
        );
        assert_eq!(e.status()["details"]["causes"][1]["reason"], "FieldValueNotSupported");
    }

    #[test]
    fn go_quote_escapes_like_strconv_quote() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }
}
