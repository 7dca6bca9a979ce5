//! Query parameters as kube-apiserver decodes them for each verb
//! (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1 `*Options`, converted by the parameter
//! codec), their validation (staging/src/k8s.io/apiserver/pkg/apis/meta/v1/validation), and
//! the rule of this simulator: a parameter it does not implement is rejected, never ignored.

use std::collections::BTreeMap;

use crate::model::options::{DeleteOpts, FieldValidation, ListOpts};
use crate::model::selectors::{parse_field_selector, parse_label_selector};
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError, go_quote};

/// The verbs whose options differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Create,
    Update,
    Patch,
    Delete,
    DeleteCollection,
    Connect,
}

impl Verb {
    /// Whether the options of this verb have the parameter `key`.
    fn accepts(self, key: &str) -> bool {
        const LIST: &[&str] = &[
            "labelSelector",
            "fieldSelector",
            "limit",
            "continue",
            "resourceVersion",
            "resourceVersionMatch",
            "timeoutSeconds",
        ];
        const WATCH: &[&str] = &["watch", "allowWatchBookmarks", "sendInitialEvents", "includeObject"];
        const WRITE: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
        const DELETE: &[&str] = &["dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"];
        let sets: &[&[&str]] = match self {
            Verb::Get => &[&["resourceVersion", "includeObject"]],
            Verb::List => &[LIST, WATCH],
            Verb::Create | Verb::Update => &[WRITE],
            Verb::Patch => &[WRITE, &["force"]],
            Verb::Delete => &[DELETE],
            Verb::DeleteCollection => &[DELETE, LIST],
            Verb::Connect => &[&["ports"]],
        };
        sets.iter().any(|set| set.contains(&key))
    }

    /// The options kind named in validation errors.
    fn options_kind(self) -> &'static str {
        match self {
            Verb::Create => "CreateOptions",
            Verb::Update => "UpdateOptions",
            Verb::Patch => "PatchOptions",
            Verb::Delete | Verb::DeleteCollection => "DeleteOptions",
            _ => "ListOptions",
        }
    }
}

/// Parsed query: every value of every parameter.
#[derive(Debug, Clone, Default)]
pub struct Query(pub BTreeMap<String, Vec<String>>);

impl Query {
    pub fn parse(raw: &str) -> Query {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Query(map)
    }

    pub fn first(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// Reject parameters `verb` does not take (`pretty` and `timeout` apply to every request).
    pub fn check(&self, verb: Verb) -> ApiResult<()> {
        for key in self.0.keys() {
            if key == "pretty" || key == "timeout" || verb.accepts(key) {
                continue;
            }
            return Err(ApiError::bad_request(format!(
                "unsupported query parameter {}: kube-sim rejects parameters it does not implement for this request",
                go_quote(key)
            )));
        }
        Ok(())
    }

    pub fn pretty(&self) -> ApiResult<bool> {
        Ok(self.bool("pretty")?.unwrap_or(false))
    }

    /// Go's `strconv.ParseBool`.
    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.first(key) {
            None => Ok(None),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(Some(true)),
            Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(Some(false)),
            Some(other) => {
                Err(ApiError::bad_request(format!("strconv.ParseBool: parsing {}: invalid syntax", go_quote(other))))
            }
        }
    }

    /// Go's `strconv.ParseInt`.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.first(key) {
            None => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|e| {
                let why =
                    if matches!(e.kind(), std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow) {
                        "value out of range"
                    } else {
                        "invalid syntax"
                    };
                ApiError::bad_request(format!("strconv.ParseInt: parsing {}: {why}", go_quote(v)))
            }),
        }
    }

    /// `dryRun` (validation.go `ValidateDryRun`: only "All").
    pub fn dry_run(&self, verb: Verb) -> ApiResult<bool> {
        let values = self.0.get("dryRun").cloned().unwrap_or_default();
        if values.is_empty() {
            return Ok(false);
        }
        if values.iter().any(|v| v != "All") {
            let errs = [FieldError::not_supported("dryRun", BadValue::string_slice(&values), &["All"])];
            return Err(ApiError::invalid("meta.k8s.io", verb.options_kind(), "", &errs));
        }
        Ok(true)
    }

    /// `fieldValidation` (validation.go `ValidateFieldValidation`); Warn is the default.
    pub fn field_validation(&self, verb: Verb) -> ApiResult<FieldValidation> {
        match self.first("fieldValidation").unwrap_or("") {
            "" | "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            "Strict" => Ok(FieldValidation::Strict),
            other => {
                let errs = [FieldError::not_supported(
                    "fieldValidation",
                    BadValue::str(other),
                    &["", "Ignore", "Strict", "Warn"],
                )];
                Err(ApiError::invalid("meta.k8s.io", verb.options_kind(), "", &errs))
            }
        }
    }

    /// The field manager of a write: the parameter, else the User-Agent's prefix
    /// (handlers/rest.go `managerOrUserAgent`, `prefixFromUserAgent`), validated
    /// (validation.go `ValidateFieldManager`, `ValidatePatchOptions`).
    pub fn field_manager(&self, verb: Verb, user_agent: &str, apply: bool) -> ApiResult<String> {
        let given = self.first("fieldManager").unwrap_or("");
        let mut errs = Vec::new();
        if verb == Verb::Patch {
            if apply {
                if given.is_empty() {
                    errs.push(FieldError::required("fieldManager", "is required for apply patch"));
                }
            } else if self.first("force").is_some() {
                errs.push(FieldError::forbidden("force", "may not be specified for non-apply patch"));
            }
        }
        if given.chars().count() > 128 {
            errs.push(FieldError::too_long("fieldManager", 128));
        }
        for (i, c) in given.chars().enumerate() {
            if c.is_control() {
                errs.push(FieldError::invalid(
                    "fieldManager",
                    BadValue::str(given),
                    format!("invalid character {} (at position {i})", go_rune(c)),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::invalid("meta.k8s.io", verb.options_kind(), "", &errs));
        }
        if !given.is_empty() {
            return Ok(given.to_string());
        }
        let prefix: String =
            user_agent.split('/').next().unwrap_or_default().chars().filter(|c| !c.is_control()).collect();
        Ok(prefix.chars().take(128).collect())
    }

    /// List and watch options (metav1 `ListOptions`) with their validation
    /// (internalversion/validation `ValidateListOptions`). `watch_list`: whether the WatchList
    /// feature gate is on (kubernetes v1.33 staging/src/k8s.io/apiserver/pkg/features/
    /// kube_features.go: Beta and on in 1.32 only, switched off again in 1.33).
    pub fn list_opts(&self, watch: bool, watch_list: bool) -> ApiResult<ListOpts> {
        let labels = parse_label_selector(self.first("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
        let fields = parse_field_selector(self.first("fieldSelector").unwrap_or("")).map_err(ApiError::bad_request)?;
        let limit = self.int("limit")?.map(|l| l.max(0) as u64);
        let continue_token = self.first("continue").filter(|c| !c.is_empty()).map(str::to_string);
        let resource_version = self.first("resourceVersion").map(str::to_string);
        let rv_match = self.first("resourceVersionMatch").unwrap_or("");
        let send_initial = self.bool("sendInitialEvents")?;
        let mut errs = Vec::new();
        let rv_empty = resource_version.as_deref().is_none_or(str::is_empty);
        if watch {
            if send_initial.is_some() && rv_match != "NotOlderThan" {
                errs.push(FieldError::forbidden(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            if send_initial.is_some() && !watch_list {
                errs.push(FieldError::forbidden(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
                ));
            }
            if !rv_match.is_empty() {
                if send_initial.is_none() {
                    errs.push(FieldError::forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                    ));
                }
                if rv_match != "NotOlderThan" {
                    errs.push(FieldError::not_supported(
                        "resourceVersionMatch",
                        BadValue::str(rv_match),
                        &["NotOlderThan"],
                    ));
                }
                if continue_token.is_some() {
                    errs.push(FieldError::forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden when continue is provided",
                    ));
                }
            }
        } else {
            if !rv_match.is_empty() {
                if rv_empty {
                    errs.push(FieldError::forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    ));
                }
                if continue_token.is_some() {
                    errs.push(FieldError::forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden when continue is provided",
                    ));
                }
                if rv_match != "Exact" && rv_match != "NotOlderThan" {
                    errs.push(FieldError::not_supported(
                        "resourceVersionMatch",
                        BadValue::str(rv_match),
                        &["Exact", "NotOlderThan", ""],
                    ));
                }
                if rv_match == "Exact" && resource_version.as_deref() == Some("0") {
                    errs.push(FieldError::forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                    ));
                }
            }
            if send_initial.is_some() {
                errs.push(FieldError::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"));
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", &errs));
        }
        Ok(ListOpts { labels, fields, limit, continue_token, resource_version, exact: rv_match == "Exact" })
    }

    /// Delete options from the query (the body may add preconditions).
    pub fn delete_opts(&self, verb: Verb) -> ApiResult<DeleteOpts> {
        Ok(DeleteOpts {
            grace_period: self.int("gracePeriodSeconds")?,
            propagation: self.first("propagationPolicy").map(str::to_string),
            orphan_dependents: self.bool("orphanDependents")?,
            dry_run: self.dry_run(verb)?,
            ..Default::default()
        })
    }
}

/// Go's `%#U` of a rune (`U+0007`).
fn go_rune(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_requires_a_field_manager() {
        // staging/src/k8s.io/apiserver/pkg/apis/meta/v1/validation ValidatePatchOptions,
        // wrapped by handlers/patch.go in NewInvalid(PatchOptions.meta.k8s.io).
        let q = Query::parse("");
        let err = q.field_manager(Verb::Patch, "kubectl/v1.33.1", true).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#
        );
        let q = Query::parse("force=true");
        let err = q.field_manager(Verb::Patch, "kubectl", false).unwrap_err();
        assert_eq!(
            err.message,
            r#"PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch"#
        );
    }

    #[test]
    fn manager_defaults_to_the_user_agent_prefix() {
        let q = Query::parse("");
        assert_eq!(
            q.field_manager(Verb::Update, "kubectl-edit/v1.33.1 (linux/amd64) kubernetes/abc", false).unwrap(),
            "kubectl-edit"
        );
    }

    #[test]
    fn dry_run_and_field_validation_values() {
        let err = Query::parse("dryRun=Yes").dry_run(Verb::Create).unwrap_err();
        assert_eq!(
            err.message,
            r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Yes"}: supported values: "All""#
        );
        let err = Query::parse("fieldValidation=strict").field_validation(Verb::Create).unwrap_err();
        assert_eq!(
            err.message,
            r#"CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn""#
        );
    }

    #[test]
    fn unknown_parameters_are_rejected() {
        assert_eq!(Query::parse("foo=1").check(Verb::Get).unwrap_err().code, 400);
        assert!(Query::parse("pretty=true&resourceVersion=0").check(Verb::Get).is_ok());
    }

    #[test]
    fn send_initial_events_rules() {
        let err = Query::parse("sendInitialEvents=true").list_opts(true, true).unwrap_err();
        assert_eq!(
            err.message,
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"#
        );
        assert!(Query::parse("sendInitialEvents=true&resourceVersionMatch=NotOlderThan").list_opts(true, true).is_ok());
        let err = Query::parse("sendInitialEvents=true").list_opts(false, true).unwrap_err();
        assert!(err.message.contains("sendInitialEvents is forbidden for list"));
        let err = Query::parse("sendInitialEvents=true&resourceVersionMatch=NotOlderThan")
            .list_opts(true, false)
            .unwrap_err();
        assert_eq!(
            err.message,
            r#"ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"#
        );
    }
}
