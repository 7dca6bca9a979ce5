//! kube-apiserver's RBAC authorizer over the stored ClusterRoles, Roles and their bindings.
//!
//! Modelled on kube-apiserver 1.33: plugin/pkg/auth/authorizer/rbac/rbac.go (`Authorize`,
//! `RuleAllows`, the `RBAC: allowed by …` reason, resolution errors as the reason of a
//! denial), pkg/registry/rbac/validation/rule.go (`VisitRulesFor`: every ClusterRoleBinding,
//! then the RoleBindings of the request's namespace; `appliesTo`; `GetRoleReferenceRules`;
//! the binding describers) and staging/src/k8s.io/component-helpers/auth/rbac/validation
//! (`VerbMatches`, `APIGroupMatches`, `ResourceMatches`, `ResourceNameMatches`,
//! `NonResourceURLMatches`). RBAC only allows: a request no rule allows gets no opinion.

use std::sync::Arc;

use serde_json::{Value, json};

use super::attributes::{RequestInfo, UserInfo};
use crate::model::status::go_quote;

/// The RBAC objects the authorizer reads (kube-apiserver reads them from informers).
pub trait RbacObjects {
    /// Every ClusterRoleBinding, in the lister's order.
    fn cluster_role_bindings(&self) -> Vec<Arc<Value>>;
    /// The RoleBindings of `namespace`.
    fn role_bindings(&self, namespace: &str) -> Vec<Arc<Value>>;
    fn cluster_role(&self, name: &str) -> Option<Arc<Value>>;
    fn role(&self, namespace: &str, name: &str) -> Option<Arc<Value>>;
}

/// An authorizer's answer: allowed, or no opinion (with the reason either way).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub allowed: bool,
    pub reason: String,
}

impl Decision {
    pub fn allow(reason: impl Into<String>) -> Decision {
        Decision { allowed: true, reason: reason.into() }
    }

    pub fn no_opinion(reason: impl Into<String>) -> Decision {
        Decision { allowed: false, reason: reason.into() }
    }
}

/// rbac.go `RBACAuthorizer.Authorize`.
pub fn authorize(objects: &dyn RbacObjects, user: &UserInfo, info: &RequestInfo) -> Decision {
    let mut errors: Vec<String> = Vec::new();
    let mut allowed_by = None;
    visit_rules_for(objects, user, &info.namespace, &mut |source, rule| match rule {
        Ok(rule) if rule_allows(info, rule) => {
            allowed_by = Some(source.to_string());
            false
        }
        Ok(_) => true,
        Err(e) => {
            errors.push(e);
            true
        }
    });
    if let Some(source) = allowed_by {
        return Decision::allow(format!("RBAC: allowed by {source}"));
    }
    if errors.is_empty() {
        Decision::no_opinion("")
    } else {
        Decision::no_opinion(format!("RBAC: {}", aggregate(&errors)))
    }
}

/// Every rule that applies to `user` in `namespace` (rule.go `RulesFor`), with the resolution
/// errors.
pub fn rules_for(objects: &dyn RbacObjects, user: &UserInfo, namespace: &str) -> (Vec<Value>, Vec<String>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    visit_rules_for(objects, user, namespace, &mut |_, rule| {
        match rule {
            Ok(rule) => rules.push(rule.clone()),
            Err(e) => errors.push(e),
        }
        true
    });
    (rules, errors)
}

/// utilerrors.NewAggregate(...).Error(): one message alone, several in brackets (deduplicated).
fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for e in errors {
        if !seen.contains(&e.as_str()) {
            seen.push(e);
        }
    }
    if seen.len() == 1 { seen[0].to_string() } else { format!("[{}]", seen.join(", ")) }
}

/// rule.go `VisitRulesFor`: the visitor gets each applicable rule with the binding that grants
/// it (described as `fmt.Stringer` would), or a resolution error; returning false stops.
fn visit_rules_for(
    objects: &dyn RbacObjects,
    user: &UserInfo,
    namespace: &str,
    visitor: &mut dyn FnMut(&str, Result<&Value, String>) -> bool,
) {
    for binding in objects.cluster_role_bindings() {
        let Some(subject) = applies_to(user, &binding, "") else { continue };
        let rules = match role_reference_rules(objects, &binding, "") {
            Ok(rules) => rules,
            Err(e) => {
                if !visitor("", Err(e)) {
                    return;
                }
                continue;
            }
        };
        // rule.go clusterRoleBindingDescriber
        let source = format!(
            "ClusterRoleBinding {} of {} {} to {}",
            go_quote(str_at(&binding, &["metadata", "name"])),
            str_at(&binding, &["roleRef", "kind"]),
            go_quote(str_at(&binding, &["roleRef", "name"])),
            describe_subject(subject, "")
        );
        for rule in &rules {
            if !visitor(&source, Ok(rule)) {
                return;
            }
        }
    }
    if namespace.is_empty() {
        return;
    }
    for binding in objects.role_bindings(namespace) {
        let Some(subject) = applies_to(user, &binding, namespace) else { continue };
        let rules = match role_reference_rules(objects, &binding, namespace) {
            Ok(rules) => rules,
            Err(e) => {
                if !visitor("", Err(e)) {
                    return;
                }
                continue;
            }
        };
        // rule.go roleBindingDescriber: "name/namespace"
        let source = format!(
            "RoleBinding {} of {} {} to {}",
            go_quote(&format!("{}/{namespace}", str_at(&binding, &["metadata", "name"]))),
            str_at(&binding, &["roleRef", "kind"]),
            go_quote(str_at(&binding, &["roleRef", "name"])),
            describe_subject(subject, namespace)
        );
        for rule in &rules {
            if !visitor(&source, Ok(rule)) {
                return;
            }
        }
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or_default()
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// rule.go `GetRoleReferenceRules`; the listers' NotFound errors name the singular resource
/// (`clusterrole.rbac.authorization.k8s.io "x" not found`).
fn role_reference_rules(objects: &dyn RbacObjects, binding: &Value, namespace: &str) -> Result<Vec<Value>, String> {
    let name = str_at(binding, &["roleRef", "name"]);
    let role = match str_at(binding, &["roleRef", "kind"]) {
        "Role" => objects
            .role(namespace, name)
            .ok_or_else(|| format!("role.rbac.authorization.k8s.io {} not found", go_quote(name)))?,
        "ClusterRole" => objects
            .cluster_role(name)
            .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {} not found", go_quote(name)))?,
        other => return Err(format!("unsupported role reference kind: {}", go_quote(other))),
    };
    Ok(role.get("rules").and_then(Value::as_array).cloned().unwrap_or_default())
}

/// rule.go `appliesTo`/`appliesToUser`: the first subject naming the user, one of its groups, or
/// its service account (a subject without namespace takes the binding's).
fn applies_to<'a>(user: &UserInfo, binding: &'a Value, namespace: &str) -> Option<&'a Value> {
    binding.get("subjects")?.as_array()?.iter().find(|s| {
        let name = str_at(s, &["name"]);
        match str_at(s, &["kind"]) {
            "User" => user.username == name,
            "Group" => user.groups.iter().any(|g| g == name),
            "ServiceAccount" => {
                let ns = match str_at(s, &["namespace"]) {
                    "" => namespace,
                    ns => ns,
                };
                !ns.is_empty() && user.username == format!("system:serviceaccount:{ns}:{name}")
            }
            _ => false,
        }
    })
}

/// rule.go `describeSubject`.
fn describe_subject(subject: &Value, binding_namespace: &str) -> String {
    let kind = str_at(subject, &["kind"]);
    let name = str_at(subject, &["name"]);
    if kind == "ServiceAccount" {
        let ns = match str_at(subject, &["namespace"]) {
            "" => binding_namespace,
            ns => ns,
        };
        return format!("{kind} {}", go_quote(&format!("{name}/{ns}")));
    }
    format!("{kind} {}", go_quote(name))
}

/// rbac.go `RuleAllows`.
pub fn rule_allows(info: &RequestInfo, rule: &Value) -> bool {
    let verbs = strings(rule.get("verbs"));
    let verb_matches = verbs.iter().any(|v| *v == "*" || *v == info.verb);
    if !info.resource_request {
        // NonResourceURLMatches: "*", the exact path, or a prefix ending in "*".
        return verb_matches
            && strings(rule.get("nonResourceURLs")).iter().any(|u| {
                *u == "*" || *u == info.path || (u.ends_with('*') && info.path.starts_with(u.trim_end_matches('*')))
            });
    }
    let combined = info.full_resource();
    verb_matches
        && strings(rule.get("apiGroups")).iter().any(|g| *g == "*" || *g == info.group)
        && strings(rule.get("resources")).iter().any(|r| {
            *r == "*"
                || *r == combined
                || (!info.subresource.is_empty()
                    && r.len() == info.subresource.len() + 2
                    && r.starts_with("*/")
                    && r.ends_with(info.subresource.as_str()))
        })
        && {
            let names = strings(rule.get("resourceNames"));
            names.is_empty() || names.contains(&info.name.as_str())
        }
}

/// A rule as `rbacv1helpers.NewRule(verbs).Groups(..).Resources(..)` builds it.
pub fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> Value {
    json!({ "verbs": verbs, "apiGroups": groups, "resources": resources })
}

/// `rbacv1helpers.NewRule(verbs).URLs(..)`.
pub fn url_rule(verbs: &[&str], urls: &[&str]) -> Value {
    json!({ "verbs": verbs, "nonResourceURLs": urls })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Default)]
    struct Objects {
        cluster_roles: BTreeMap<String, Arc<Value>>,
        roles: BTreeMap<(String, String), Arc<Value>>,
        cluster_bindings: Vec<Arc<Value>>,
        bindings: Vec<Arc<Value>>,
    }

    impl RbacObjects for Objects {
        fn cluster_role_bindings(&self) -> Vec<Arc<Value>> {
            self.cluster_bindings.clone()
        }
        fn role_bindings(&self, namespace: &str) -> Vec<Arc<Value>> {
            self.bindings.iter().filter(|b| b["metadata"]["namespace"] == namespace).cloned().collect()
        }
        fn cluster_role(&self, name: &str) -> Option<Arc<Value>> {
            self.cluster_roles.get(name).cloned()
        }
        fn role(&self, namespace: &str, name: &str) -> Option<Arc<Value>> {
            self.roles.get(&(namespace.into(), name.into())).cloned()
        }
    }

    fn resource(verb: &str, group: &str, resource: &str, namespace: &str, name: &str) -> RequestInfo {
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        RequestInfo {
            resource_request: true,
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn bindings_grant_their_roles_rules_and_name_themselves() {
        let mut objects = Objects::default();
        objects
            .cluster_roles
            .insert("impersonator".into(), Arc::new(json!({"rules": [rule(&["impersonate"], &[""], &["users"])]})));
        objects.cluster_bindings.push(Arc::new(json!({
            "metadata": {"name": "alice-impersonates"},
            "roleRef": {"kind": "ClusterRole", "name": "impersonator"},
            "subjects": [{"kind": "User", "name": "alice"}]
        })));
        objects.roles.insert(
            ("team".into(), "pod-reader".into()),
            Arc::new(json!({"rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods", "*/status"], "resourceNames": ["web"]}]})),
        );
        objects.bindings.push(Arc::new(json!({
            "metadata": {"name": "read", "namespace": "team"},
            "roleRef": {"kind": "Role", "name": "pod-reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "builder"}]
        })));
        let alice = UserInfo::authenticated("alice", &[]);
        let d = authorize(&objects, &alice, &resource("impersonate", "", "users", "", "bob"));
        assert_eq!(
            d,
            Decision::allow(
                r#"RBAC: allowed by ClusterRoleBinding "alice-impersonates" of ClusterRole "impersonator" to User "alice""#
            )
        );
        assert_eq!(authorize(&objects, &alice, &resource("impersonate", "", "groups", "", "x")), Decision::default());
        let sa = UserInfo::authenticated("system:serviceaccount:team:builder", &[]);
        let d = authorize(&objects, &sa, &resource("get", "", "pods/status", "team", "web"));
        assert_eq!(
            d.reason,
            r#"RBAC: allowed by RoleBinding "read/team" of Role "pod-reader" to ServiceAccount "builder/team""#
        );
        assert!(!authorize(&objects, &sa, &resource("get", "", "pods", "team", "db")).allowed);
        assert!(!authorize(&objects, &sa, &resource("get", "", "pods", "other", "web")).allowed);
    }

    #[test]
    fn missing_roles_are_the_reason_of_a_denial() {
        let mut objects = Objects::default();
        objects.cluster_bindings.push(Arc::new(json!({
            "metadata": {"name": "b"},
            "roleRef": {"kind": "ClusterRole", "name": "gone"},
            "subjects": [{"kind": "Group", "name": "devs"}]
        })));
        let bob = UserInfo::authenticated("bob", &["devs"]);
        let d = authorize(&objects, &bob, &resource("list", "", "pods", "", ""));
        assert_eq!(d, Decision::no_opinion(r#"RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found"#));
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_prefix() {
        let rule = url_rule(&["get"], &["/version", "/apis/*"]);
        let path = |p: &str| RequestInfo { verb: "get".into(), path: p.into(), ..Default::default() };
        assert!(rule_allows(&path("/version"), &rule));
        assert!(rule_allows(&path("/apis/apps/v1"), &rule));
        assert!(!rule_allows(&path("/apis"), &rule));
        assert!(!rule_allows(&path("/version/x"), &rule));
    }
}
