//! Who is asking and what they may do: authentication (client certificates, bearer tokens,
//! anonymous requests), authorization by test-defined "forbid" rules, and the self-subject
//! reviews answered from the same rules (`kubectl auth whoami`, `kubectl auth can-i`).
//!
//! Modelled on kube-apiserver 1.33: the request attributes of
//! staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go, the authenticators of
//! staging/src/k8s.io/apiserver/pkg/authentication (x509 CN/O, bearer tokens, the
//! `system:authenticated` group, anonymous `system:anonymous`), the service-account token
//! authenticator of pkg/serviceaccount, and the refusals of
//! staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go.
//!
//! The authorizer allows everything a forbid rule does not deny (RBAC cannot deny; the rules
//! stand for the permissions a test's user lacks).

pub mod tls;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use hyper::Method;
use serde_json::{Map, Value, json};

use crate::model::query::Query;
use crate::model::resources;
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError, go_quote};

/// An authenticated identity (`user.Info`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub username: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// staging/src/k8s.io/apiserver/pkg/authentication/user/user.go
const AUTHENTICATED: &str = "system:authenticated";
const ANONYMOUS_USER: &str = "system:anonymous";
const UNAUTHENTICATED: &str = "system:unauthenticated";

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
    fn to_json(&self) -> Value {
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

/// Who a forbid rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    User(String),
    Group(String),
}

/// A rule denying `verb` on `resource` (optionally `resource/subresource`) of API group
/// `group` to a user or group, in one namespace or everywhere. `*` matches any verb, group or
/// resource (a `*` resource includes subresources, as in RBAC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbid {
    pub subject: Subject,
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
}

impl Forbid {
    /// Everything forbidden to the user `name`; narrow it with the builder methods.
    pub fn user(name: &str) -> Forbid {
        Forbid::new(Subject::User(name.into()))
    }

    /// Everything forbidden to members of `group`; narrow it with the builder methods.
    pub fn group(group: &str) -> Forbid {
        Forbid::new(Subject::Group(group.into()))
    }

    fn new(subject: Subject) -> Forbid {
        Forbid { subject, verb: "*".into(), group: "*".into(), resource: "*".into(), namespace: None }
    }

    pub fn verb(mut self, verb: &str) -> Forbid {
        self.verb = verb.into();
        self
    }

    /// `group` "" is the core group; `resource` may name a subresource (`pods/portforward`).
    pub fn resource(mut self, group: &str, resource: &str) -> Forbid {
        self.group = group.into();
        self.resource = resource.into();
        self
    }

    pub fn in_namespace(mut self, namespace: &str) -> Forbid {
        self.namespace = Some(namespace.into());
        self
    }

    fn applies_to(&self, user: &UserInfo) -> bool {
        match &self.subject {
            Subject::User(u) => *u == user.username,
            Subject::Group(g) => user.groups.contains(g),
        }
    }

    fn denies(&self, verb: &str, group: &str, resource: &str, namespace: &str) -> bool {
        let any = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        any(&self.verb, verb)
            && any(&self.group, group)
            && any(&self.resource, resource)
            && self.namespace.as_deref().is_none_or(|ns| ns == namespace)
    }
}

/// What a registered bearer token authenticates as.
#[derive(Debug, Clone)]
enum Credential {
    Static(UserInfo),
    /// A TokenRequest token: valid while unexpired and while its ServiceAccount (same uid)
    /// exists (pkg/serviceaccount/claims.go `Validate`).
    ServiceAccount(ServiceAccountToken),
}

/// A token minted by `serviceaccounts/<name>/token`.
#[derive(Debug, Clone)]
pub struct ServiceAccountToken {
    pub token: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub jti: String,
    pub expires: i64,
}

impl ServiceAccountToken {
    /// pkg/serviceaccount/util.go `UserInfo`: the username, the two service-account groups and
    /// the credential id the 1.33 authenticator reports.
    fn user(&self) -> UserInfo {
        let mut user = UserInfo::authenticated(
            &format!("system:serviceaccount:{}:{}", self.namespace, self.name),
            &["system:serviceaccounts", &format!("system:serviceaccounts:{}", self.namespace)],
        );
        user.uid = self.uid.clone();
        user.extra.insert("authentication.kubernetes.io/credential-id".into(), vec![format!("JTI={}", self.jti)]);
        user
    }
}

/// The authenticator's and authorizer's state, shared by every connection.
#[derive(Default)]
pub struct Auth {
    tokens: Mutex<HashMap<String, Credential>>,
    forbids: Mutex<Vec<Forbid>>,
    reject_anonymous: AtomicBool,
}

/// A request's credentials as the server saw them.
pub struct Presented<'a> {
    /// The verified client certificate's identity (TLS only).
    pub certificate: Option<&'a UserInfo>,
    /// The `Authorization` header.
    pub authorization: &'a str,
}

impl Auth {
    pub fn add_token(&self, token: &str, user: UserInfo) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token.into(), Credential::Static(user));
    }

    pub fn add_service_account_token(&self, minted: ServiceAccountToken) {
        let token = minted.token.clone();
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token, Credential::ServiceAccount(minted));
    }

    pub fn forbid(&self, rule: Forbid) {
        self.forbids.lock().unwrap_or_else(|p| p.into_inner()).push(rule);
    }

    pub fn clear_forbids(&self) {
        self.forbids.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn set_reject_anonymous(&self, reject: bool) {
        self.reject_anonymous.store(reject, Ordering::Relaxed);
    }

    /// The union authenticator: a client certificate, else a bearer token, else anonymous
    /// (when allowed). An invalid token is a 401 even when anonymous requests are allowed.
    /// `service_account_uid` looks a ServiceAccount's current uid up.
    pub fn authenticate(
        &self,
        presented: &Presented<'_>,
        service_account_uid: impl Fn(&str, &str) -> Option<String>,
    ) -> ApiResult<UserInfo> {
        if let Some(user) = presented.certificate {
            return Ok(user.clone());
        }
        if let Some(token) = bearer_token(presented.authorization) {
            let credential = self.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(token).cloned();
            return match credential {
                Some(Credential::Static(user)) => Ok(user),
                Some(Credential::ServiceAccount(sa))
                    if sa.expires > jiff::Timestamp::now().as_second()
                        && service_account_uid(&sa.namespace, &sa.name).as_deref() == Some(sa.uid.as_str()) =>
                {
                    Ok(sa.user())
                }
                _ => Err(unauthorized()),
            };
        }
        if self.reject_anonymous.load(Ordering::Relaxed) {
            return Err(unauthorized());
        }
        Ok(UserInfo::anonymous())
    }

    fn denied(&self, user: &UserInfo, verb: &str, group: &str, resource: &str, namespace: &str) -> bool {
        let forbids = self.forbids.lock().unwrap_or_else(|p| p.into_inner());
        forbids.iter().any(|f| f.applies_to(user) && f.denies(verb, group, resource, namespace))
    }

    /// The authorization filter: 403 with kube-apiserver's message for a denied resource
    /// request (responsewriters/errors.go `Forbidden`, `forbiddenMessage`; the RBAC authorizer
    /// gives no reason when no rule allows).
    pub fn authorize(&self, user: &UserInfo, info: &RequestInfo) -> ApiResult<()> {
        if !info.resource_request || !self.denied(user, &info.verb, &info.group, &info.full_resource(), &info.namespace)
        {
            return Ok(());
        }
        let scope = if info.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {}", go_quote(&info.namespace))
        };
        let message = format!(
            "User {} cannot {} resource {} in API group {} {scope}",
            go_quote(&user.username),
            info.verb,
            go_quote(&info.full_resource()),
            go_quote(&info.group)
        );
        Err(ApiError::forbidden(&info.group, &info.resource, &info.name, &message))
    }

    /// POST selfsubjectreviews (pkg/registry/authentication/selfsubjectreview/rest.go).
    pub fn self_subject_review(&self, user: &UserInfo) -> Value {
        json!({
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "creationTimestamp": Value::Null },
            "status": { "userInfo": user.to_json() }
        })
    }

    /// POST selfsubjectaccessreviews (pkg/registry/authorization/selfsubjectaccessreview/rest.go,
    /// validation in pkg/apis/authorization/validation/validation.go).
    pub fn self_subject_access_review(&self, user: &UserInfo, review: &Value) -> ApiResult<Value> {
        let spec = review.get("spec").cloned().unwrap_or(json!({}));
        let attributes = spec.get("resourceAttributes").filter(|a| !a.is_null());
        let non_resource = spec.get("nonResourceAttributes").filter(|a| !a.is_null());
        let error = match (attributes, non_resource) {
            (Some(_), Some(n)) => Some(FieldError::invalid(
                "spec.nonResourceAttributes",
                BadValue::Raw(format!("{n}")),
                "cannot be specified in combination with resourceAttributes",
            )),
            (None, None) => Some(FieldError::invalid(
                "spec.resourceAttributes",
                BadValue::Raw("null".into()),
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )),
            _ => None,
        };
        if let Some(e) = error {
            return Err(ApiError::invalid("authorization.k8s.io", "SelfSubjectAccessReview", "", &[e]));
        }
        let allowed = attributes.is_none_or(|a| {
            let field = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default();
            let resource = match field("subresource") {
                "" => field("resource").to_string(),
                sub => format!("{}/{sub}", field("resource")),
            };
            !self.denied(user, field("verb"), field("group"), &resource, field("namespace"))
        });
        let mut out = review.clone();
        let obj =
            out.as_object_mut().ok_or_else(|| ApiError::bad_request("SelfSubjectAccessReview is not an object"))?;
        obj.insert("kind".into(), "SelfSubjectAccessReview".into());
        obj.insert("apiVersion".into(), "authorization.k8s.io/v1".into());
        obj.insert("metadata".into(), json!({ "creationTimestamp": Value::Null }));
        obj.insert("status".into(), json!({ "allowed": allowed }));
        Ok(out)
    }

    /// POST selfsubjectrulesreviews (pkg/registry/authorization/selfsubjectrulesreview/rest.go):
    /// the rules that apply in `spec.namespace`. Without a forbid rule for the user this is
    /// cluster-admin's `*` rule; with one, every served resource with the verbs left to it.
    pub fn self_subject_rules_review(&self, user: &UserInfo, review: &Value) -> Value {
        let namespace = review.pointer("/spec/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
        let limited = {
            let forbids = self.forbids.lock().unwrap_or_else(|p| p.into_inner());
            forbids.iter().any(|f| f.applies_to(user) && f.namespace.as_deref().is_none_or(|ns| ns == namespace))
        };
        let resource_rules: Vec<Value> = if limited {
            let mut rules = Vec::new();
            for def in resources::RESOURCES {
                let mut entries = vec![(def.plural.to_string(), def.verbs)];
                entries.extend(def.subresources.iter().map(|s| (format!("{}/{}", def.plural, s.name), s.verbs)));
                for (resource, verbs) in entries {
                    let left: Vec<&str> = verbs
                        .iter()
                        .copied()
                        .filter(|v| !self.denied(user, v, def.group, &resource, &namespace))
                        .collect();
                    if !left.is_empty() {
                        rules.push(json!({ "verbs": left, "apiGroups": [def.group], "resources": [resource] }));
                    }
                }
            }
            rules
        } else {
            vec![json!({ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] })]
        };
        json!({
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": { "creationTimestamp": Value::Null },
            "spec": { "namespace": namespace },
            "status": {
                "resourceRules": resource_rules,
                "nonResourceRules": [{ "verbs": ["*"], "nonResourceURLs": ["*"] }],
                "incomplete": false
            }
        })
    }
}

/// `Authorization: Bearer <token>` (staging/src/k8s.io/apiserver/pkg/authentication/request/bearertoken).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// errors.go `NewUnauthorized("Unauthorized")`, as the authentication filter writes it
/// (staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go `Unauthorized`).
pub fn unauthorized() -> ApiError {
    ApiError { code: 401, reason: "Unauthorized", message: "Unauthorized".into(), details: None }
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
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] => ("", rest),
            ["apis", group, _version, rest @ ..] => (*group, rest),
            _ => return RequestInfo { verb: verb.into(), ..Default::default() },
        };
        if rest.is_empty() {
            return RequestInfo { verb: verb.into(), ..Default::default() };
        }
        let mut info =
            RequestInfo { resource_request: true, verb: verb.into(), group: group.into(), ..Default::default() };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str, query: &str) -> RequestInfo {
        RequestInfo::parse(&method, path, &Query::parse(query))
    }

    #[test]
    fn request_attributes_follow_requestinfo_go() {
        let i = info(Method::GET, "/apis/apps/v1/namespaces/ns/statefulsets", "watch=true");
        assert_eq!((i.verb.as_str(), i.group.as_str(), i.resource.as_str()), ("watch", "apps", "statefulsets"));
        let i = info(Method::GET, "/api/v1/namespaces/ns/pods", "fieldSelector=metadata.name%3Dweb-0");
        assert_eq!((i.verb.as_str(), i.name.as_str()), ("list", "web-0"));
        let i = info(Method::POST, "/api/v1/namespaces/ns/pods/web-0/portforward", "");
        assert_eq!(i.full_resource(), "pods/portforward");
        let i = info(Method::DELETE, "/api/v1/namespaces/ns/secrets", "");
        assert_eq!(i.verb, "deletecollection");
        let i = info(Method::PUT, "/api/v1/namespaces/ns/finalize", "");
        assert_eq!((i.resource.as_str(), i.name.as_str(), i.subresource.as_str()), ("namespaces", "ns", "finalize"));
        assert!(!info(Method::GET, "/apis/apps/v1", "").resource_request);
    }

    #[test]
    fn forbidden_messages_read_like_the_authorization_filter() {
        let auth = Auth::default();
        auth.forbid(Forbid::user("alice").verb("create").resource("apps", "statefulsets").in_namespace("ns"));
        let alice = UserInfo::authenticated("alice", &[]);
        let e =
            auth.authorize(&alice, &info(Method::POST, "/apis/apps/v1/namespaces/ns/statefulsets", "")).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            r#"statefulsets.apps is forbidden: User "alice" cannot create resource "statefulsets" in API group "apps" in the namespace "ns""#
        );
        assert!(auth.authorize(&alice, &info(Method::POST, "/apis/apps/v1/namespaces/other/statefulsets", "")).is_ok());
        auth.forbid(Forbid::group("devs").verb("list").resource("", "namespaces"));
        let bob = UserInfo::authenticated("bob", &["devs"]);
        let e = auth.authorize(&bob, &info(Method::GET, "/api/v1/namespaces", "")).unwrap_err();
        assert_eq!(
            e.message,
            r#"namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" at the cluster scope"#
        );
    }

    #[test]
    fn rules_reviews_leave_out_forbidden_verbs() {
        let auth = Auth::default();
        let alice = UserInfo::authenticated("alice", &[]);
        let open = auth.self_subject_rules_review(&alice, &json!({"spec": {"namespace": "ns"}}));
        assert_eq!(open["status"]["resourceRules"], json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]));
        auth.forbid(Forbid::user("alice").verb("delete").resource("", "secrets"));
        let limited = auth.self_subject_rules_review(&alice, &json!({"spec": {"namespace": "ns"}}));
        let secrets = limited["status"]["resourceRules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resources"] == json!(["secrets"]))
            .unwrap()
            .clone();
        assert_eq!(secrets["verbs"], json!(["create", "deletecollection", "get", "list", "patch", "update", "watch"]));
    }

    #[test]
    fn service_account_tokens_need_their_account() {
        let auth = Auth::default();
        auth.add_service_account_token(ServiceAccountToken {
            token: "t".into(),
            namespace: "ns".into(),
            name: "sa".into(),
            uid: "u1".into(),
            jti: "j".into(),
            expires: i64::MAX,
        });
        let presented = Presented { certificate: None, authorization: "Bearer t" };
        let user = auth.authenticate(&presented, |_, _| Some("u1".into())).unwrap();
        assert_eq!(user.username, "system:serviceaccount:ns:sa");
        assert_eq!(user.groups, ["system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"]);
        assert_eq!(auth.authenticate(&presented, |_, _| None).unwrap_err().code, 401);
        let none = Presented { certificate: None, authorization: "" };
        assert_eq!(auth.authenticate(&none, |_, _| None).unwrap().username, "system:anonymous");
        auth.set_reject_anonymous(true);
        assert_eq!(auth.authenticate(&none, |_, _| None).unwrap_err().status()["reason"], "Unauthorized");
    }
}
