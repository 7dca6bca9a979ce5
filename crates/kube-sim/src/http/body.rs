//! Request bodies: JSON (with Go's syntax error wording), YAML and protobuf objects, patches
//! by Content-Type, and DeleteOptions (kubernetes v1.33
//! staging/src/k8s.io/apiserver/pkg/endpoints/handlers/{rest,patch,delete}.go).

use serde_json::Value;

use crate::api::protobuf;
use crate::model::jsonpath::get;
use crate::model::options::{DeleteOpts, FieldValidation, PatchKind};
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError};

/// Decode a JSON or YAML request body.
pub fn parse_body(content_type: &str, body: &[u8]) -> ApiResult<Value> {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media.as_str() {
        "application/json" | "" => parse_json(body),
        "application/yaml" => serde_saphyr::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}"))),
        "application/vnd.kubernetes.protobuf" => protobuf::decode(body).map_err(ApiError::bad_request),
        _ => Err(ApiError::unsupported_media_type(&[
            "application/json",
            "application/yaml",
            "application/vnd.kubernetes.protobuf",
        ])),
    }
}

/// JSON with the decoder's wording for syntax errors (Go encoding/json `SyntaxError`).
fn parse_json(body: &[u8]) -> ApiResult<Value> {
    parse_json_as(body, "couldn't get version/kind; json parse error: ")
}

fn parse_json_as(body: &[u8], prefix: &str) -> ApiResult<Value> {
    serde_json::from_slice(body).map_err(|e| {
        let why = if e.is_eof() {
            "unexpected end of JSON input".to_string()
        } else {
            let offset =
                body.split(|b| *b == b'\n').take(e.line().saturating_sub(1)).map(|l| l.len() + 1).sum::<usize>()
                    + e.column().saturating_sub(1);
            let c = body.get(offset).map(|b| *b as char).unwrap_or(' ');
            format!("invalid character {} looking for beginning of value", go_char(c))
        };
        ApiError::bad_request(format!("{prefix}{why}"))
    })
}

fn go_char(c: char) -> String {
    if c == '\'' { "'\\''".into() } else { format!("'{c}'") }
}

/// PATCH bodies by Content-Type (handlers/patch.go): merge and strategic patches must be JSON
/// objects; a JSON patch is checked by the merge engine.
pub fn parse_patch(content_type: &str, body: &[u8], validation: FieldValidation) -> ApiResult<(PatchKind, Value)> {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let kind = match media.as_str() {
        "application/json-patch+json" => PatchKind::Json,
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => PatchKind::Strategic,
        "application/apply-patch+yaml" => PatchKind::Apply,
        _ => {
            return Err(ApiError::unsupported_media_type(&[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]));
        }
    };
    let value = if kind == PatchKind::Apply {
        serde_saphyr::from_slice::<Value>(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        parse_json_as(body, "error decoding patch: ")?
    };
    let go_kind = match &value {
        Value::Object(_) => None,
        Value::Array(_) => Some("array"),
        Value::String(_) => Some("string"),
        Value::Number(_) => Some("number"),
        Value::Bool(_) => Some("bool"),
        Value::Null => Some("null"),
    };
    match (kind, go_kind) {
        (PatchKind::Json, _) | (_, None) => Ok((kind, value)),
        (PatchKind::Merge, Some(_)) if validation == FieldValidation::Ignore => {
            if value.is_array() {
                Ok((kind, value))
            } else {
                Err(ApiError::bad_request("Invalid JSON Patch"))
            }
        }
        (PatchKind::Strategic, Some(k)) if validation == FieldValidation::Ignore => Err(ApiError::bad_request(
            format!("json: cannot unmarshal {k} into Go value of type map[string]interface {{}}"),
        )),
        (_, Some(k)) => Err(ApiError::bad_request(format!(
            "error decoding patch: json: cannot unmarshal {k} into Go value of type map[string]interface {{}}"
        ))),
    }
}

/// A DELETE body (`DeleteOptions`): preconditions, propagation, grace period, dryRun.
pub fn merge_delete_body(del: &mut DeleteOpts, content_type: &str, body: &[u8]) -> ApiResult<()> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let v = parse_body(content_type, body)?;
    if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
        del.grace_period = Some(g);
    }
    if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
        del.propagation = Some(p.to_string());
    }
    if let Some(o) = v.get("orphanDependents").and_then(Value::as_bool) {
        del.orphan_dependents = Some(o);
    }
    if let Some(uid) = get(&v, &["preconditions", "uid"]).and_then(Value::as_str) {
        del.uid_precondition = Some(uid.to_string());
    }
    if let Some(rv) = get(&v, &["preconditions", "resourceVersion"]).and_then(Value::as_str) {
        del.rv_precondition = Some(rv.to_string());
    }
    if let Some(dry) = v.get("dryRun").and_then(Value::as_array) {
        if dry.iter().any(|d| d.as_str() != Some("All")) {
            let values: Vec<String> = dry.iter().map(|d| d.as_str().unwrap_or_default().to_string()).collect();
            let errs = [FieldError::not_supported("dryRun", BadValue::string_slice(&values), &["All"])];
            return Err(ApiError::invalid("meta.k8s.io", "DeleteOptions", "", &errs));
        }
        del.dry_run |= !dry.is_empty();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_syntax_errors_read_like_go() {
        assert_eq!(
            parse_json(b"{x").unwrap_err().message,
            "couldn't get version/kind; json parse error: invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            parse_json(b"{").unwrap_err().message,
            "couldn't get version/kind; json parse error: unexpected end of JSON input"
        );
    }
}
