//! Who a request comes from and what it asks (`user.Info`, `authorizer.Attributes`).

use std::collections::BTreeMap;

use hyper::Method;
use serde_json::{Map, Value, json};

use crate::model::query::Query;

/// An authenticated identity (`user.Info`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// staging/src/k8s.io/apiserver/pkg/authentication/user/user.go
pub(super) const AUTHENTICATED: &str = "system:authenticated";
pub(super) const ANONYMOUS_USER: &str = "system:anonymous";
pub(super) const UNAUTHENTICATED: &str = "system:unauthenticated";
/// staging/src/k8s.io/apiserver/pkg/authentication/user/user.go `SystemPrivilegedGroup`.
pub(super) const MASTERS: &str = "system:masters";

impl UserInfo {
    /// A user with the groups of its credential; the authenticator adds `system:authenticated`
    /// (staging/src/k8s.io/apiserver/pkg/authentication/group/authenticated_group_adder.go).
    pub fn authenticated(username: &str, groups: &[&str]) -> UserInfo {
        let mut groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        UserInfo { username: username.into(), groups, ..Default::default() }
    }

    /// staging/src/k8s.io/apiserver/pkg/authentication/request/anonymous/anonymous.go
    pub fn anonymous() -> UserInfo {
        UserInfo { username: ANONYMOUS_USER.into(), groups: vec![UNAUTHENTICATED.into()], ..Default::default() }
    }

    /// `authenticationv1.UserInfo` (omitempty fields left out).
    pub(super) fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("username".into(), self.username.clone().into());
        if !self.uid.is_empty() {
            m.insert("uid".into(), self.uid.clone().into());
        }
        m.insert("groups".into(), json!(self.groups));
        if !self.extra.is_empty() {
            m.insert("extra".into(), json!(self.extra));
        }
        Value::Object(m)
    }
}

/// The attributes of a request (requestinfo.go `RequestInfoFactory.NewRequestInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub resource_request: bool,
    pub verb: String,
    pub group: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// The URL path (what non-resource rules match).
    pub path: String,
}

impl RequestInfo {
    /// `resource/subresource`, as authorization and its messages name it.
    pub fn full_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }

    pub fn parse(method: &Method, path: &str, query: &Query) -> RequestInfo {
        let verb = match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        };
        // A non-resource request's verb is the lower-cased method.
        let non_resource =
            || RequestInfo { verb: method.as_str().to_lowercase(), path: path.into(), ..Default::default() };
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] => ("", rest),
            ["apis", group, _version, rest @ ..] => (*group, rest),
            _ => return non_resource(),
        };
        if rest.is_empty() {
            return non_resource();
        }
        let mut info = RequestInfo {
            resource_request: true,
            verb: verb.into(),
            group: group.into(),
            path: path.into(),
            ..Default::default()
        };
        let mut parts: &[&str] = rest;
        if parts[0] == "namespaces" && parts.len() > 1 {
            info.namespace = parts[1].into();
            // `status` and `finalize` are subresources of the namespace itself.
            if parts.len() > 2 && !["status", "finalize"].contains(&parts[2]) {
                parts = &parts[2..];
            }
        }
        info.resource = parts[0].into();
        if let Some(name) = parts.get(1) {
            info.name = (*name).into();
        }
        if let Some(sub) = parts.get(2) {
            info.subresource = (*sub).into();
        }
        if info.name.is_empty() && info.verb == "get" {
            let watch = matches!(query.first("watch"), Some("1" | "t" | "T" | "true" | "True" | "TRUE"));
            info.verb = if watch { "watch" } else { "list" }.into();
            if let Some(name) = query.first("fieldSelector").and_then(exact_name) {
                info.name = name;
            }
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".into();
        }
        info
    }
}

/// `fieldSelector.RequiresExactMatch("metadata.name")`: a list narrowed to one name is
/// authorized as a request for that name.
fn exact_name(selector: &str) -> Option<String> {
    let mut found = None;
    for term in selector.split(',') {
        let (k, v) = term.split_once("==").or_else(|| term.split_once('='))?;
        if k.trim() == "metadata.name" {
            found = Some(v.trim().to_string());
        }
    }
    found.filter(|n| !n.is_empty() && !n.contains('/') && n != "." && n != "..")
}
