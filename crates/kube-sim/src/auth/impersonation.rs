//! The `Impersonate-*` headers: what a request asks to act as, the authorization each value
//! needs, and the user the request then runs as.
//!
//! kube-apiserver 1.33: staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go
//! (`WithImpersonation`, `buildImpersonationRequests`, `unescapeExtraKey`), header names from
//! staging/src/k8s.io/api/authentication/v1/types.go, service-account names from
//! staging/src/k8s.io/apiserver/pkg/authentication/serviceaccount/util.go.

use std::collections::BTreeMap;

use hyper::HeaderMap;

use super::attributes::{ANONYMOUS_USER, AUTHENTICATED, RequestInfo, UNAUTHENTICATED, UserInfo};

const USER: &str = "impersonate-user";
const GROUP: &str = "impersonate-group";
const UID: &str = "impersonate-uid";
const EXTRA_PREFIX: &str = "impersonate-extra-";
const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

/// One thing asked for (the `v1.ObjectReference` of `buildImpersonationRequests`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    User(String),
    ServiceAccount { namespace: String, name: String },
    Group(String),
    Extra { key: String, value: String },
    Uid(String),
}

impl Requested {
    /// The attributes authorized for the requester: verb `impersonate` on users, groups,
    /// serviceaccounts (namespaced), `userextras/<key>` or uids (authentication.k8s.io).
    pub fn attributes(&self) -> RequestInfo {
        let (group, resource, subresource, namespace, name) = match self {
            Requested::User(name) => ("", "users", "", "", name.as_str()),
            Requested::ServiceAccount { namespace, name } => {
                ("", "serviceaccounts", "", namespace.as_str(), name.as_str())
            }
            Requested::Group(name) => ("", "groups", "", "", name.as_str()),
            Requested::Extra { key, value } => {
                ("authentication.k8s.io", "userextras", key.as_str(), "", value.as_str())
            }
            Requested::Uid(uid) => ("authentication.k8s.io", "uids", "", "", uid.as_str()),
        };
        RequestInfo {
            resource_request: true,
            verb: "impersonate".into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            path: String::new(),
        }
    }

    /// Go's `%v` of the `v1.ObjectReference` (its fields Kind, Namespace, Name, UID,
    /// APIVersion, ResourceVersion, FieldPath separated by spaces; the element type has no
    /// `String` method of its own).
    fn go_value(&self) -> String {
        const AUTHN_V1: &str = "authentication.k8s.io/v1";
        let (kind, namespace, name, api_version, field_path) = match self {
            Requested::User(name) => ("User", "", name.as_str(), "", ""),
            Requested::ServiceAccount { namespace, name } => {
                ("ServiceAccount", namespace.as_str(), name.as_str(), "", "")
            }
            Requested::Group(name) => ("Group", "", name.as_str(), "", ""),
            Requested::Extra { key, value } => ("UserExtra", "", value.as_str(), AUTHN_V1, key.as_str()),
            Requested::Uid(uid) => ("UID", "", uid.as_str(), AUTHN_V1, ""),
        };
        format!("{{{kind} {namespace} {name}  {api_version}  {field_path}}}")
    }
}

/// `buildImpersonationRequests`: the user (a service account when the name parses as one),
/// each group, each extra value (keys lower-cased and path-unescaped; in key order here, Go's
/// map order is random), the uid. Groups, extras or a uid without a user are an error whose
/// text the filter answers with a 500.
pub fn requested(headers: &HeaderMap) -> Result<Vec<Requested>, String> {
    let text = |v: &hyper::header::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned();
    let mut out = Vec::new();
    let user = headers.get(USER).map(text).unwrap_or_default();
    let has_user = !user.is_empty();
    if has_user {
        out.push(match split_service_account(&user) {
            Some((namespace, name)) => Requested::ServiceAccount { namespace, name },
            None => Requested::User(user),
        });
    }
    let groups: Vec<Requested> = headers.get_all(GROUP).iter().map(|v| Requested::Group(text(v))).collect();
    let has_groups = !groups.is_empty();
    out.extend(groups);
    let mut extras: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(escaped) = name.as_str().strip_prefix(EXTRA_PREFIX) {
            extras.entry(unescape_extra_key(&escaped.to_lowercase())).or_default().push(text(value));
        }
    }
    let has_extra = !extras.is_empty();
    for (key, values) in extras {
        out.extend(values.into_iter().map(|value| Requested::Extra { key: key.clone(), value }));
    }
    let uid = headers.get(UID).map(text).unwrap_or_default();
    let has_uid = !uid.is_empty();
    if has_uid {
        out.push(Requested::Uid(uid));
    }
    if (has_groups || has_extra || has_uid) && !has_user {
        let listed: Vec<String> = out.iter().map(Requested::go_value).collect();
        return Err(format!("requested [{}] without impersonating a user", listed.join(" ")));
    }
    Ok(out)
}

/// The user a request runs as once every requested value is allowed (`WithImpersonation`):
/// a service account gets its two groups unless groups were given; a non-anonymous user gets
/// `system:authenticated` unless it or `system:unauthenticated` is among the groups;
/// `system:anonymous` gets `system:unauthenticated` unless given.
pub fn impersonated_user(requested: &[Requested]) -> UserInfo {
    let groups_specified = requested.iter().any(|r| matches!(r, Requested::Group(_)));
    let mut user = UserInfo::default();
    for r in requested {
        match r {
            Requested::User(name) => user.username = name.clone(),
            Requested::ServiceAccount { namespace, name } => {
                user.username = format!("{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}");
                if !groups_specified {
                    user.groups = vec!["system:serviceaccounts".into(), format!("system:serviceaccounts:{namespace}")];
                }
            }
            Requested::Group(group) => user.groups.push(group.clone()),
            Requested::Extra { key, value } => user.extra.entry(key.clone()).or_default().push(value.clone()),
            Requested::Uid(uid) => user.uid = uid.clone(),
        }
    }
    if user.username != ANONYMOUS_USER {
        if !user.groups.iter().any(|g| g == AUTHENTICATED || g == UNAUTHENTICATED) {
            user.groups.push(AUTHENTICATED.into());
        }
    } else if !user.groups.iter().any(|g| g == UNAUTHENTICATED) {
        user.groups.push(UNAUTHENTICATED.into());
    }
    user
}

/// serviceaccount.SplitUsername: `system:serviceaccount:<namespace>:<name>` with a valid
/// namespace (DNS label) and name (DNS subdomain).
fn split_service_account(username: &str) -> Option<(String, String)> {
    let rest = username.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let parts: Vec<&str> = rest.split(':').collect();
    let [namespace, name] = parts.as_slice() else { return None };
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let subdomain = |s: &str| s.len() <= 253 && s.split('.').all(label);
    (label(namespace) && subdomain(name)).then(|| (namespace.to_string(), name.to_string()))
}

/// `unescapeExtraKey`: `url.PathUnescape`, the raw key when that fails.
fn unescape_extra_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => return key.to_string(),
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn headers_become_requests_and_a_user() {
        let r = requested(&headers(&[
            ("Impersonate-User", "system:serviceaccount:team:builder"),
            ("Impersonate-Extra-Scopes%2Fv1", "view"),
            ("Impersonate-Uid", "1234"),
        ]))
        .unwrap();
        assert_eq!(
            r,
            [
                Requested::ServiceAccount { namespace: "team".into(), name: "builder".into() },
                Requested::Extra { key: "scopes/v1".into(), value: "view".into() },
                Requested::Uid("1234".into())
            ]
        );
        let u = impersonated_user(&r);
        assert_eq!(u.username, "system:serviceaccount:team:builder");
        assert_eq!(u.groups, ["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"]);
        assert_eq!(u.uid, "1234");
        let attrs = r[1].attributes();
        assert_eq!(
            (attrs.group.as_str(), attrs.full_resource()),
            ("authentication.k8s.io", "userextras/scopes/v1".into())
        );

        let anonymous = impersonated_user(&requested(&headers(&[("Impersonate-User", "system:anonymous")])).unwrap());
        assert_eq!(anonymous.groups, ["system:unauthenticated"]);
        let given = impersonated_user(
            &requested(&headers(&[("Impersonate-User", "bob"), ("Impersonate-Group", "system:unauthenticated")]))
                .unwrap(),
        );
        assert_eq!(given.groups, ["system:unauthenticated"]);
        assert!(
            requested(&headers(&[("Impersonate-User", "system:serviceaccount:Bad:x")])).unwrap()[0]
                == Requested::User("system:serviceaccount:Bad:x".into())
        );
    }

    #[test]
    fn groups_without_a_user_print_the_object_references() {
        let e = requested(&headers(&[
            ("Impersonate-Group", "devs"),
            ("Impersonate-Extra-Scopes", "view"),
            ("Impersonate-Uid", "1"),
        ]))
        .unwrap_err();
        assert_eq!(
            e,
            "requested [{Group  devs    } {UserExtra  view  authentication.k8s.io/v1  scopes} {UID  1  authentication.k8s.io/v1  }] without impersonating a user"
        );
        assert!(requested(&headers(&[])).unwrap().is_empty());
    }
}
