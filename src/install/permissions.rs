//! Which permissions an install needs, and which of them a SelfSubjectRulesReview's rules grant
//! (pure). The client asks kube-apiserver once per namespace (SelfSubjectRulesReview) and once
//! per cluster-scoped check (SelfSubjectAccessReview), before the first write, so a missing
//! permission is reported with nothing applied.

use std::collections::BTreeSet;
use std::fmt;

use k8s_openapi::api::authorization::v1::ResourceRule;

/// One permission: `verb` on `resource` of `group`, in the namespace or cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Permission {
    pub(crate) verb: &'static str,
    pub(crate) group: String,
    /// The plural resource name (`statefulsets`).
    pub(crate) resource: String,
    pub(crate) namespaced: bool,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() { String::new() } else { format!(".{}", self.group) };
        write!(f, "{} {}{group}", self.verb, self.resource)
    }
}

fn permission(verb: &'static str, group: &str, resource: &str, namespaced: bool) -> Permission {
    Permission { verb, group: group.to_owned(), resource: resource.to_owned(), namespaced }
}

/// What the install needs beyond applying objects: its release records (Secrets), the
/// service-CIDR probes (dry-run Service creates) and the wait (StatefulSets, Pods, Secrets).
pub(crate) fn baseline(wait: bool) -> Vec<Permission> {
    let mut out: Vec<Permission> =
        ["list", "create", "update", "delete"].into_iter().map(|verb| permission(verb, "", "secrets", true)).collect();
    out.push(permission("create", "", "services", true));
    if wait {
        for (group, resource) in [("apps", "statefulsets"), ("", "pods"), ("", "secrets")] {
            out.push(permission("list", group, resource, true));
            out.push(permission("watch", group, resource, true));
        }
    }
    out
}

/// What applying (server-side apply: get for ownership, create and patch) an object of `resource`
/// needs, and deleting when it may be pruned.
pub(crate) fn for_objects(resource: &str, group: &str, namespaced: bool, prune: bool) -> Vec<Permission> {
    let mut verbs = vec!["get", "create", "patch"];
    if prune {
        verbs.push("delete");
    }
    verbs.into_iter().map(|verb| permission(verb, group, resource, namespaced)).collect()
}

/// Deduplicate and order.
pub(crate) fn unique(list: Vec<Permission>) -> Vec<Permission> {
    list.into_iter().collect::<BTreeSet<_>>().into_iter().collect()
}

/// Whether one of `rules` grants `p` (RBAC's matching: `*` matches every verb, group and
/// resource; rules restricted to resource names never grant list, watch or create).
/// (kubernetes `plugin/pkg/auth/authorizer/rbac/rbac.go` `RuleAllows`)
pub(crate) fn allowed(rules: &[ResourceRule], p: &Permission) -> bool {
    let has = |list: &[String], want: &str| list.iter().any(|x| x == "*" || x == want);
    rules.iter().any(|r| {
        has(&r.verbs, p.verb)
            && has(r.api_groups.as_deref().unwrap_or_default(), &p.group)
            && has(r.resources.as_deref().unwrap_or_default(), &p.resource)
            && r.resource_names.as_deref().unwrap_or_default().is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> ResourceRule {
        let s = |l: &[&str]| l.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        ResourceRule {
            verbs: s(verbs),
            api_groups: Some(s(groups)),
            resources: Some(s(resources)),
            resource_names: (!names.is_empty()).then(|| s(names)),
        }
    }

    #[test]
    fn rbac_matching() {
        let rules = [
            rule(&["get", "create", "patch"], &["apps"], &["statefulsets"], &[]),
            rule(&["*"], &[""], &["secrets"], &[]),
            rule(&["get"], &[""], &["configmaps"], &["only-this"]),
        ];
        assert!(allowed(&rules, &permission("patch", "apps", "statefulsets", true)));
        assert!(!allowed(&rules, &permission("delete", "apps", "statefulsets", true)));
        assert!(!allowed(&rules, &permission("patch", "", "statefulsets", true)), "group matters");
        assert!(allowed(&rules, &permission("delete", "", "secrets", true)));
        assert!(!allowed(&rules, &permission("get", "", "configmaps", true)), "name-restricted rules do not count");
        let admin = [rule(&["*"], &["*"], &["*"], &[])];
        assert!(allowed(&admin, &permission("create", "rbac.authorization.k8s.io", "roles", true)));
    }

    #[test]
    fn needed_permissions_read_like_kubectl_auth_can_i() {
        let list = unique([baseline(true), for_objects("statefulsets", "apps", true, false)].concat());
        let text: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert!(text.contains(&"patch statefulsets.apps".to_string()), "{text:?}");
        assert!(text.contains(&"watch pods".to_string()), "{text:?}");
        assert_eq!(list.iter().filter(|p| p.resource == "secrets" && p.verb == "list").count(), 1);
        assert!(!baseline(false).iter().any(|p| p.verb == "watch"));
    }
}
