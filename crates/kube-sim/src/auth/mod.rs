//! Who is asking and what they may do: authentication (client certificates, bearer tokens,
//! anonymous requests), impersonation (`impersonation`), authorization (test-defined "forbid"
//! rules, then either everything allowed or kube-apiserver's RBAC over the stored roles and
//! bindings, `rbac`), and the reviews answered by the same authorizer (`kubectl auth whoami`,
//! `kubectl auth can-i`, SubjectAccessReview).
//!
//! Modelled on kube-apiserver 1.33: the request attributes of
//! staging/src/k8s.io/apiserver/pkg/endpoints/request/requestinfo.go, the authenticators of
//! staging/src/k8s.io/apiserver/pkg/authentication (x509 CN/O, bearer tokens, the
//! `system:authenticated` group, anonymous `system:anonymous`), the service-account token
//! authenticator of pkg/serviceaccount, and the refusals of
//! staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go.
//!
//! The authorizer chain: a forbid rule denies (RBAC cannot deny; the rules stand for the
//! permissions a test's user lacks, they win over everything); then, without RBAC, everything
//! is allowed (kube-apiserver `--authorization-mode=AlwaysAllow`); with RBAC, members of
//! `system:masters` are (the privileged-group authorizer kube-apiserver puts first,
//! pkg/kubeapiserver/authorizer/config.go) and RBAC decides the rest.

mod attributes;
pub mod impersonation;
pub mod policy;
pub mod rbac;
pub mod tls;

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use attributes::MASTERS;
pub use attributes::{RequestInfo, UserInfo};
use rbac::{Decision, RbacObjects};

use serde_json::{Value, json};

use crate::model::resources;
use crate::model::status::{ApiError, ApiResult, BadValue, FieldError, go_quote};

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
    rbac: AtomicBool,
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

    /// Authorize with RBAC (kube-apiserver `--authorization-mode=Node,RBAC`) instead of
    /// allowing everything.
    pub fn set_rbac(&self, on: bool) {
        self.rbac.store(on, Ordering::Relaxed);
    }

    pub fn rbac(&self) -> bool {
        self.rbac.load(Ordering::Relaxed)
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

    /// The authorizer chain's decision on `info` for `user` (`rbac`: the stored RBAC objects,
    /// given when RBAC is on).
    pub fn decide(&self, user: &UserInfo, info: &RequestInfo, rbac: Option<&dyn RbacObjects>) -> Decision {
        if info.resource_request && self.denied(user, &info.verb, &info.group, &info.full_resource(), &info.namespace) {
            return Decision::no_opinion("");
        }
        match rbac {
            None => Decision::allow(""),
            Some(_) if user.groups.iter().any(|g| g == MASTERS) => Decision::allow(""),
            Some(objects) => rbac::authorize(objects, user, info),
        }
    }

    /// The authorization filter (staging/src/k8s.io/apiserver/pkg/endpoints/filters/authorization.go):
    /// a request the chain does not allow is a 403.
    pub fn authorize(&self, user: &UserInfo, info: &RequestInfo, rbac: Option<&dyn RbacObjects>) -> ApiResult<()> {
        let decision = self.decide(user, info, rbac);
        if decision.allowed { Ok(()) } else { Err(forbidden(user, info, &decision.reason)) }
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
    /// validation in pkg/apis/authorization/validation/validation.go): the requester's own
    /// access, decided by the chain.
    pub fn self_subject_access_review(
        &self,
        user: &UserInfo,
        review: &Value,
        rbac: Option<&dyn RbacObjects>,
    ) -> ApiResult<Value> {
        let spec = review.get("spec").cloned().unwrap_or(json!({}));
        let attributes = review_attributes(&spec)
            .map_err(|e| ApiError::invalid("authorization.k8s.io", "SelfSubjectAccessReview", "", &[e]))?;
        let decision = self.decide(user, &attributes, rbac);
        review_reply(review, "SelfSubjectAccessReview", &decision)
    }

    /// POST subjectaccessreviews (pkg/registry/authorization/subjectaccessreview/rest.go): the
    /// access of the user, groups, uid and extra the spec names (taken as given: no
    /// `system:authenticated` is added), decided by the chain.
    pub fn subject_access_review(&self, review: &Value, rbac: Option<&dyn RbacObjects>) -> ApiResult<Value> {
        let spec = review.get("spec").cloned().unwrap_or(json!({}));
        let user = UserInfo {
            username: spec.get("user").and_then(Value::as_str).unwrap_or_default().into(),
            uid: spec.get("uid").and_then(Value::as_str).unwrap_or_default().into(),
            groups: spec
                .get("groups")
                .and_then(Value::as_array)
                .map(|g| g.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            extra: spec
                .get("extra")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let values = v.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string));
                            (k.clone(), values.map(Iterator::collect).unwrap_or_default())
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        // validation.go ValidateSubjectAccessReviewSpec
        let mut errors = Vec::new();
        if let Err(e) = review_attributes(&spec) {
            errors.push(e);
        }
        if user.username.is_empty() && user.groups.is_empty() {
            errors.push(FieldError::invalid(
                "spec.user",
                BadValue::str(""),
                "at least one of user or group must be specified",
            ));
        }
        if !errors.is_empty() {
            // The kind is empty: kubernetes v1.33 pkg/registry/authorization/subjectaccessreview/rest.go
            // names the error by the decoded internal object's TypeMeta, which is not set.
            return Err(ApiError::invalid("authorization.k8s.io", "", "", &errors));
        }
        let attributes = review_attributes(&spec).expect("validated");
        let decision = self.decide(&user, &attributes, rbac);
        review_reply(review, "SubjectAccessReview", &decision)
    }

    /// POST selfsubjectrulesreviews (pkg/registry/authorization/selfsubjectrulesreview/rest.go):
    /// the rules that apply in `spec.namespace`. With RBAC, those of the user's bindings
    /// (`system:masters` first gets `*`); without, cluster-admin's `*` rule unless a forbid rule
    /// names the user, and then every served resource with the verbs left to it.
    pub fn self_subject_rules_review(&self, user: &UserInfo, review: &Value, rbac: Option<&dyn RbacObjects>) -> Value {
        let namespace = review.pointer("/spec/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
        let everything = || {
            (
                vec![json!({ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] })],
                vec![json!({ "verbs": ["*"], "nonResourceURLs": ["*"] })],
            )
        };
        let (resource_rules, non_resource_rules, errors) = match rbac {
            Some(objects) => {
                let (mut resource_rules, mut non_resource_rules) =
                    if user.groups.iter().any(|g| g == MASTERS) { everything() } else { (Vec::new(), Vec::new()) };
                let (rules, errors) = rbac::rules_for(objects, user, &namespace);
                for rule in rules {
                    let field = |k: &str| rule.get(k).filter(|v| v.as_array().is_some_and(|a| !a.is_empty()));
                    if field("resources").is_some() || field("apiGroups").is_some() {
                        let mut r = json!({ "verbs": rule["verbs"], "apiGroups": rule.get("apiGroups").cloned().unwrap_or(json!([])) });
                        for k in ["resources", "resourceNames"] {
                            if let Some(v) = field(k) {
                                r[k] = v.clone();
                            }
                        }
                        resource_rules.push(r);
                    }
                    if let Some(urls) = field("nonResourceURLs") {
                        non_resource_rules.push(json!({ "verbs": rule["verbs"], "nonResourceURLs": urls }));
                    }
                }
                (resource_rules, non_resource_rules, errors)
            }
            None => {
                let limited = {
                    let forbids = self.forbids.lock().unwrap_or_else(|p| p.into_inner());
                    forbids
                        .iter()
                        .any(|f| f.applies_to(user) && f.namespace.as_deref().is_none_or(|ns| ns == namespace))
                };
                if limited {
                    let mut rules = Vec::new();
                    for def in resources::RESOURCES {
                        let mut entries = vec![(def.plural.to_string(), def.verbs)];
                        entries
                            .extend(def.subresources.iter().map(|s| (format!("{}/{}", def.plural, s.name), s.verbs)));
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
                    (rules, everything().1, Vec::new())
                } else {
                    let (r, n) = everything();
                    (r, n, Vec::new())
                }
            }
        };
        let mut status = json!({
            "resourceRules": resource_rules,
            "nonResourceRules": non_resource_rules,
            "incomplete": !errors.is_empty()
        });
        if !errors.is_empty() {
            status["evaluationError"] = errors.join(", ").into();
        }
        json!({
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": { "creationTimestamp": Value::Null },
            "spec": { "namespace": namespace },
            "status": status
        })
    }
}

/// The attributes of an access review's spec (`resourceAttributes` or
/// `nonResourceAttributes`, exactly one), or the validation error.
fn review_attributes(spec: &Value) -> Result<RequestInfo, FieldError> {
    let attributes = spec.get("resourceAttributes").filter(|a| !a.is_null());
    let non_resource = spec.get("nonResourceAttributes").filter(|a| !a.is_null());
    let field = |a: &Value, k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    match (attributes, non_resource) {
        (Some(_), Some(n)) => Err(FieldError::invalid(
            "spec.nonResourceAttributes",
            BadValue::Raw(format!("{n}")),
            "cannot be specified in combination with resourceAttributes",
        )),
        (None, None) => Err(FieldError::invalid(
            "spec.resourceAttributes",
            BadValue::Raw("null".into()),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )),
        (Some(a), None) => Ok(RequestInfo {
            resource_request: true,
            verb: field(a, "verb"),
            group: field(a, "group"),
            namespace: field(a, "namespace"),
            resource: field(a, "resource"),
            subresource: field(a, "subresource"),
            name: field(a, "name"),
            path: String::new(),
        }),
        (None, Some(n)) => Ok(RequestInfo { verb: field(n, "verb"), path: field(n, "path"), ..Default::default() }),
    }
}

/// The review with its status (`SubjectAccessReviewStatus`: `denied`, `reason` omitted when
/// empty), as the registries return it.
fn review_reply(review: &Value, kind: &str, decision: &Decision) -> ApiResult<Value> {
    let mut out = review.clone();
    let obj = out.as_object_mut().ok_or_else(|| ApiError::bad_request(format!("{kind} is not an object")))?;
    obj.insert("kind".into(), kind.into());
    obj.insert("apiVersion".into(), "authorization.k8s.io/v1".into());
    obj.insert("metadata".into(), json!({ "creationTimestamp": Value::Null }));
    let mut status = json!({ "allowed": decision.allowed });
    if !decision.reason.is_empty() {
        status["reason"] = decision.reason.clone().into();
    }
    obj.insert("status".into(), status);
    Ok(out)
}

/// responsewriters/errors.go `Forbidden` and `forbiddenMessage` (the message sanitized, the
/// authorizer's reason appended), as `apierrors.NewForbidden` phrases it: `<resource>.<group>
/// "<name>" is forbidden: …`, or `forbidden: …` for a non-resource path.
pub fn forbidden(user: &UserInfo, info: &RequestInfo, reason: &str) -> ApiError {
    let message = if !info.resource_request {
        format!("User {} cannot {} path {}", go_quote(&user.username), info.verb, go_quote(&info.path))
    } else {
        let scope = if info.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {}", go_quote(&info.namespace))
        };
        format!(
            "User {} cannot {} resource {} in API group {} {scope}",
            go_quote(&user.username),
            info.verb,
            go_quote(&info.full_resource()),
            go_quote(&info.group)
        )
    };
    let mut message = sanitize(&message);
    if !reason.is_empty() {
        message = format!("{message}: {reason}");
    }
    if !info.resource_request {
        return ApiError {
            code: 403,
            reason: "Forbidden",
            message: format!("forbidden: {message}"),
            details: Some(json!({})),
        };
    }
    ApiError::forbidden(&info.group, &info.resource, &info.name, &message)
}

/// responsewriters/errors.go `sanitizer`: nothing that looks like HTML.
pub fn sanitize(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
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

#[cfg(test)]
mod tests {
    use hyper::Method;

    use super::*;
    use crate::model::query::Query;

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
        let e = auth
            .authorize(&alice, &info(Method::POST, "/apis/apps/v1/namespaces/ns/statefulsets", ""), None)
            .unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            r#"statefulsets.apps is forbidden: User "alice" cannot create resource "statefulsets" in API group "apps" in the namespace "ns""#
        );
        assert!(
            auth.authorize(&alice, &info(Method::POST, "/apis/apps/v1/namespaces/other/statefulsets", ""), None)
                .is_ok()
        );
        auth.forbid(Forbid::group("devs").verb("list").resource("", "namespaces"));
        let bob = UserInfo::authenticated("bob", &["devs"]);
        let e = auth.authorize(&bob, &info(Method::GET, "/api/v1/namespaces", ""), None).unwrap_err();
        assert_eq!(
            e.message,
            r#"namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" at the cluster scope"#
        );
    }

    #[test]
    fn rules_reviews_leave_out_forbidden_verbs() {
        let auth = Auth::default();
        let alice = UserInfo::authenticated("alice", &[]);
        let open = auth.self_subject_rules_review(&alice, &json!({"spec": {"namespace": "ns"}}), None);
        assert_eq!(open["status"]["resourceRules"], json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]));
        auth.forbid(Forbid::user("alice").verb("delete").resource("", "secrets"));
        let limited = auth.self_subject_rules_review(&alice, &json!({"spec": {"namespace": "ns"}}), None);
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
