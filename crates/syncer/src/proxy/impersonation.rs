//! `Impersonate-*` headers of certificate-authenticated callers.
//!
//! Such a request reaches the upstream with the admin credentials, whose impersonation rights
//! are unlimited: forwarding the caller's headers as they are would let any certificate user act
//! as anyone. So the proxy does what kube-apiserver's impersonation filter does for it
//! (k8s.io/apiserver `pkg/endpoints/filters/impersonation.go` `WithImpersonation`; upstream
//! loft-sh/vcluster v0.15.x chains the same filter before its impersonating handler in
//! `pkg/server/server.go`): every requested user, group, uid and extra value is authorized for
//! the certificate user with verb `impersonate`, here by a SubjectAccessReview on the upstream
//! (the virtual cluster's RBAC decides), and only then forwarded. Token callers need none of
//! this: their headers go along with their own token and the upstream checks them itself.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt as _;

use super::body::ProxyBody;
use super::identity::{
    Caller, IMPERSONATE_EXTRA_PREFIX, IMPERSONATE_GROUP, IMPERSONATE_UID, IMPERSONATE_USER, UserInfo,
    is_impersonation_header,
};
use super::status::{self, status_response, status_with_details};
use super::upstream::Upstream;

/// What is checked for one impersonated value (an `authorizer.AttributesRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Check {
    group: &'static str,
    resource: &'static str,
    subresource: String,
    namespace: String,
    name: String,
}

/// The caller acting as the impersonated user once every value is allowed, `None` without
/// impersonation headers, or the response refusing the request.
pub(crate) async fn authorize(
    upstream: &Upstream,
    caller: &Caller,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Response<ProxyBody>> {
    let requested: Vec<(HeaderName, HeaderValue)> =
        headers.iter().filter(|(name, _)| is_impersonation_header(name)).map(|(n, v)| (n.clone(), v.clone())).collect();
    if requested.is_empty() {
        return Ok(None);
    }
    let Some(requester) = caller.certificate_user() else {
        return Ok(None);
    };
    let (user, checks) = parse(&requested).map_err(|message| {
        status_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            &format!("Internal error occurred: {message}"),
        )
    })?;
    for check in &checks {
        match review(upstream, requester, check).await {
            Ok((true, _)) => {}
            Ok((false, reason)) => return Err(forbidden(requester, check, &reason)),
            Err(response) => return Err(response),
        }
    }
    Ok(Some(caller.acting_as(user, requested)))
}

/// The impersonated user and the checks, as `buildImpersonationRequests` reads the headers.
fn parse(requested: &[(HeaderName, HeaderValue)]) -> Result<(UserInfo, Vec<Check>), String> {
    let text = |v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    let check = |group, resource, subresource: &str, namespace: &str, name: String| Check {
        group,
        resource,
        subresource: subresource.into(),
        namespace: namespace.into(),
        name,
    };
    let mut user = UserInfo::default();
    let mut checks = Vec::new();
    let mut kinds = Vec::new();
    for (name, value) in requested {
        let value = text(value);
        match name.as_str() {
            IMPERSONATE_USER => {
                if let Some((namespace, sa)) =
                    value.strip_prefix("system:serviceaccount:").and_then(|s| s.split_once(':'))
                {
                    checks.push(check("", "serviceaccounts", "", namespace, sa.to_string()));
                } else {
                    checks.push(check("", "users", "", "", value.clone()));
                }
                kinds.push(format!("user {value}"));
                user.name = value;
            }
            IMPERSONATE_GROUP => {
                checks.push(check("", "groups", "", "", value.clone()));
                kinds.push(format!("group {value}"));
                user.groups.push(value);
            }
            IMPERSONATE_UID => {
                checks.push(check("authentication.k8s.io", "uids", "", "", value.clone()));
                kinds.push(format!("uid {value}"));
                user.uid = Some(value);
            }
            other => {
                let Some(escaped) = other.strip_prefix(IMPERSONATE_EXTRA_PREFIX) else {
                    return Err(format!("unknown impersonation header {other}"));
                };
                let key = percent_encoding::percent_decode_str(escaped).decode_utf8_lossy().to_lowercase();
                checks.push(check("authentication.k8s.io", "userextras", &key, "", value.clone()));
                kinds.push(format!("extra {key}={value}"));
                user.extra.entry(key).or_default().push(value);
            }
        }
    }
    if user.name.is_empty() {
        return Err(format!("requested [{}] without impersonating a user", kinds.join(", ")));
    }
    Ok((user, checks))
}

/// Ask the upstream whether `requester` may impersonate what `check` names.
async fn review(
    upstream: &Upstream,
    requester: &UserInfo,
    check: &Check,
) -> Result<(bool, String), Response<ProxyBody>> {
    // The groups the upstream would give the certificate user itself (x509 plus
    // system:authenticated, k8s.io/apiserver `pkg/authentication/group/authenticated_group_adder.go`).
    let mut groups = requester.groups.clone();
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    let review = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": requester.name,
            "groups": groups,
            "resourceAttributes": {
                "verb": "impersonate",
                "group": check.group,
                "resource": check.resource,
                "subresource": check.subresource,
                "namespace": check.namespace,
                "name": check.name,
            },
        },
    });
    let request = Request::post("/apis/authorization.k8s.io/v1/subjectaccessreviews")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(status::full(review.to_string()))
        .map_err(|e| internal(&e))?;
    let response = upstream.send_as_admin(request).await.map_err(|e| {
        status_response(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", &crate::error::chain(&e))
    })?;
    let code = response.status();
    let body: Bytes = response.into_body().collect().await.map_err(|e| internal(&e))?.to_bytes();
    if !code.is_success() {
        // kube-apiserver answers Forbidden when the authorizer fails, with its error as reason.
        return Ok((false, format!("cannot check impersonation: SubjectAccessReview answered {code}")));
    }
    let review: serde_json::Value = serde_json::from_slice(&body).map_err(|e| internal(&e))?;
    let allowed =
        review["status"]["allowed"].as_bool().unwrap_or(false) && review["status"]["denied"].as_bool() != Some(true);
    Ok((allowed, review["status"]["reason"].as_str().unwrap_or_default().to_string()))
}

fn internal(error: &(dyn std::error::Error + 'static)) -> Response<ProxyBody> {
    status_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        &format!("Internal error occurred: {}", crate::error::chain(error)),
    )
}

/// kube-apiserver's 403 (`responsewriters.Forbidden`, `forbiddenMessage`, `apierrors.NewForbidden`).
fn forbidden(requester: &UserInfo, check: &Check, reason: &str) -> Response<ProxyBody> {
    let resource = if check.subresource.is_empty() {
        check.resource.to_string()
    } else {
        format!("{}/{}", check.resource, check.subresource)
    };
    let scope = if check.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace {:?}", check.namespace)
    };
    let mut message = format!(
        "User {:?} cannot impersonate resource {:?} in API group {:?} {scope}",
        requester.name, resource, check.group
    );
    if !reason.is_empty() {
        message = format!("{message}: {reason}");
    }
    let qualified =
        if check.group.is_empty() { check.resource.to_string() } else { format!("{}.{}", check.resource, check.group) };
    let message = if check.name.is_empty() {
        format!("{qualified} is forbidden: {message}")
    } else {
        format!("{qualified} {:?} is forbidden: {message}", check.name)
    };
    let details = serde_json::json!({ "name": check.name, "group": check.group, "kind": check.resource });
    status_with_details(StatusCode::FORBIDDEN, "Forbidden", &message, Some(details))
}

/// Values of the headers as the tests want them.
#[cfg(test)]
fn headers(pairs: &[(&str, &str)]) -> Vec<(HeaderName, HeaderValue)> {
    pairs
        .iter()
        .map(|(k, v)| (HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn each_value_is_one_check() {
        let (user, checks) = parse(&headers(&[
            ("impersonate-user", "system:serviceaccount:team:builder"),
            ("impersonate-group", "devs"),
            ("impersonate-uid", "1234"),
            ("impersonate-extra-scopes%2Fv1", "view"),
        ]))
        .unwrap();
        assert_eq!(user.name, "system:serviceaccount:team:builder");
        assert_eq!(user.groups, ["devs"]);
        assert_eq!(user.extra, BTreeMap::from([("scopes/v1".to_string(), vec!["view".to_string()])]));
        let summary: Vec<_> = checks
            .iter()
            .map(|c| (c.group, c.resource, c.subresource.as_str(), c.namespace.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(
            summary,
            [
                ("", "serviceaccounts", "", "team", "builder"),
                ("", "groups", "", "", "devs"),
                ("authentication.k8s.io", "uids", "", "", "1234"),
                ("authentication.k8s.io", "userextras", "scopes/v1", "", "view"),
            ]
        );
    }

    #[test]
    fn groups_without_a_user_are_an_error() {
        let err = parse(&headers(&[("impersonate-group", "devs")])).unwrap_err();
        assert!(err.contains("without impersonating a user"), "{err}");
    }

    #[tokio::test]
    async fn forbidden_reads_like_kube_apiserver() {
        let requester = UserInfo { name: "alice".into(), ..Default::default() };
        let check = Check {
            group: "",
            resource: "users",
            subresource: String::new(),
            namespace: String::new(),
            name: "bob".into(),
        };
        let response = forbidden(&requester, &check, "");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            status["message"],
            r#"users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope"#
        );
        assert_eq!(status["reason"], "Forbidden");
    }
}
