//! Decoding of request bodies as the resource's type (kubernetes v1.33
//! staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go `transformDecodeError`,
//! handlers/patch.go, and the runtime's strict decoding errors).

use serde_json::Value;

use crate::model::options::FieldValidation;
use crate::model::resources::{self, ResourceDef};
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError, go_quote};

/// The internal (hub) package name of a group, as conversion errors print it.
fn internal_package(group: &str) -> &str {
    match group {
        "" | "events.k8s.io" => "core",
        "rbac.authorization.k8s.io" => "rbac",
        other => other.split('.').next().unwrap_or(other),
    }
}

/// Decode a request body (POST/PUT) as the resource's type: apiVersion/kind defaulting
/// and checks, type mismatches, unknown fields per `fieldValidation`
/// (handlers/create.go `transformDecodeError`, runtime strict decoding errors).
pub fn body(
    res: &ResourceDef,
    mut body: Value,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
) -> ApiResult<Value> {
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            match body {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => "null",
            }
        )));
    };
    let api_version = obj.get("apiVersion").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let kind = obj.get("kind").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let body_api_version = api_version.clone().unwrap_or_else(|| res.api_version());
    let body_kind = kind.clone().unwrap_or_else(|| res.kind.to_string());
    let body_version = body_api_version.rsplit('/').next().unwrap_or_default().to_string();
    let prefix = format!("{body_kind} in version {} cannot be handled as a {}: ", go_quote(&body_version), res.kind);
    if body_api_version != res.api_version() || body_kind != res.kind {
        // The decoder decodes the body's own kind, then converting it to the URL's fails.
        let reason = match resources::find_kind(&body_api_version, &body_kind) {
            Some(other) => format!(
                "converting (v1.{}) to ({}.{}): unknown conversion",
                body_kind,
                internal_package(res.group),
                res.kind
            )
            .replace("v1.", &format!("{}.", resources::by_id(other).version)),
            None => format!(
                "no kind {} is registered for version {} in scheme \"pkg/api/legacyscheme/scheme.go:30\"",
                go_quote(&body_kind),
                go_quote(&body_api_version)
            ),
        };
        return Err(ApiError::bad_request(format!("{prefix}{reason}")));
    }
    obj.insert("apiVersion".into(), res.api_version().into());
    obj.insert("kind".into(), res.kind.into());
    let def =
        crate::model::schema::definition_for(res.group, res.version, res.kind).expect("every served kind has a schema");
    let unknown =
        crate::model::schema::check(def, &mut body).map_err(|e| ApiError::bad_request(format!("{prefix}{}", e.0)))?;
    crate::model::schema::typed_decode(res.group, res.kind, &body)
        .map_err(|e| ApiError::bad_request(format!("{prefix}{e}")))?;
    unknown_fields(unknown, validation, warnings, Some(&prefix))?;
    Ok(body)
}

/// Decode the result of a patch (handlers/patch.go: type errors are 422 on `patch`,
/// strict errors are 400 without the kind prefix).
pub fn patched(
    res: &ResourceDef,
    mut obj: Value,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
) -> ApiResult<Value> {
    let def =
        crate::model::schema::definition_for(res.group, res.version, res.kind).expect("every served kind has a schema");
    let shown = serde_json::to_string(&obj).unwrap_or_default();
    let unknown = crate::model::schema::check(def, &mut obj)
        .map_err(|e| ApiError::invalid("", "", "", &[FieldError::invalid("patch", BadValue::Str(shown), e.0)]))?;
    crate::model::schema::typed_decode(res.group, res.kind, &obj).map_err(ApiError::bad_request)?;
    unknown_fields(unknown, validation, warnings, None)?;
    Ok(obj)
}

fn unknown_fields(
    unknown: Vec<String>,
    validation: FieldValidation,
    warnings: &mut Vec<String>,
    prefix: Option<&str>,
) -> ApiResult<()> {
    if unknown.is_empty() {
        return Ok(());
    }
    let errs: Vec<String> = unknown.iter().map(|f| format!("unknown field {}", go_quote(f))).collect();
    match validation {
        FieldValidation::Ignore => Ok(()),
        FieldValidation::Warn => {
            warnings.extend(errs);
            Ok(())
        }
        FieldValidation::Strict => Err(ApiError::bad_request(format!(
            "{}strict decoding error: {}",
            prefix.unwrap_or_default(),
            errs.join(", ")
        ))),
    }
}
