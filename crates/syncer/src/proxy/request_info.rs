//! What a request addresses, as kube-apiserver reads it
//! (k8s.io/apiserver `pkg/endpoints/request/requestinfo.go` `RequestInfoFactory.NewRequestInfo`).

use http::Method;

/// A request's verb, resource and object, parsed from its method, path and query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Whether the path is under `/api` or `/apis` with a group and version.
    pub is_resource_request: bool,
    /// `api` or `apis` (empty for non-resource requests).
    pub api_prefix: String,
    /// Empty for the core group.
    pub api_group: String,
    pub api_version: String,
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection,
    /// proxy; for non-resource requests the lowercased HTTP method.
    pub verb: String,
    pub namespace: String,
    pub resource: String,
    pub subresource: String,
    pub name: String,
    /// `dryRun=All` in the query.
    pub dry_run: bool,
    /// The URL path.
    pub path: String,
}

impl RequestInfo {
    pub fn parse(method: &Method, path: &str, query: Option<&str>) -> RequestInfo {
        let mut info =
            RequestInfo { path: path.to_string(), verb: method.as_str().to_ascii_lowercase(), ..Default::default() };
        let query: Vec<(String, String)> = query.map(parse_query).unwrap_or_default();
        let param = |key: &'static str| query.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str());
        info.dry_run = param("dryRun").any(|v| v == "All");

        let trimmed = path.trim_matches('/');
        let mut parts: Vec<&str> = if trimmed.is_empty() { Vec::new() } else { trimmed.split('/').collect() };
        if parts.len() < 3 || !matches!(parts[0], "api" | "apis") {
            // Non-resource requests: /version, /healthz, /api, /apis/apps, ...
            return info;
        }
        let prefix = parts.remove(0);
        if prefix == "apis" {
            if parts.len() < 3 {
                return info;
            }
            info.api_group = parts.remove(0).to_string();
        }
        info.api_prefix = prefix.to_string();
        info.api_version = parts.remove(0).to_string();
        info.is_resource_request = true;

        info.verb = match *method {
            Method::POST => "create",
            Method::GET | Method::HEAD => "get",
            Method::PUT => "update",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            _ => "",
        }
        .to_string();
        // Legacy /watch/ and /proxy/ path segments.
        if matches!(parts.first(), Some(&"watch") | Some(&"proxy")) {
            if parts.len() < 2 {
                return RequestInfo { is_resource_request: false, ..info };
            }
            info.verb = parts.remove(0).to_string();
        }
        if parts.first() == Some(&"namespaces")
            && let Some(namespace) = parts.get(1)
        {
            info.namespace = namespace.to_string();
            // A namespace's own subresources (status, finalize) keep "namespaces" as resource.
            if parts.len() > 2 && !matches!(parts[2], "status" | "finalize") {
                parts.drain(..2);
            }
        }
        if parts.len() >= 3 && info.verb != "proxy" {
            info.subresource = parts[2].to_string();
        }
        if parts.len() >= 2 {
            info.name = parts[1].to_string();
        }
        if let Some(resource) = parts.first() {
            info.resource = resource.to_string();
        }
        if info.name.is_empty() && info.verb == "get" {
            info.verb = "list".into();
        }
        if info.verb == "list" && param("watch").any(|v| v == "true" || v == "1") {
            info.verb = "watch".into();
        }
        if info.name.is_empty() && info.verb == "delete" {
            info.verb = "deletecollection".into();
        }
        info
    }

    /// A request whose response may stream indefinitely (watch, followed logs): ended at
    /// shutdown instead of waited for (`BasicLongRunningRequestCheck` in upstream's
    /// `pkg/server/server.go` also counts exec/attach/portforward, which are upgrades here).
    pub(crate) fn is_long_running(&self, query: Option<&str>) -> bool {
        self.verb == "watch"
            || (self.subresource == "log"
                && query
                    .map(parse_query)
                    .unwrap_or_default()
                    .iter()
                    .any(|(k, v)| k == "follow" && (v == "true" || v == "1")))
    }
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, target: &str) -> RequestInfo {
        let (path, query) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
        RequestInfo::parse(&method, path, query)
    }

    #[test]
    fn resources_as_requestinfo_go_reads_them() {
        let i = parse(Method::POST, "/api/v1/namespaces/team/services?dryRun=All&fieldManager=kubectl");
        assert_eq!(
            (
                i.verb.as_str(),
                i.api_group.as_str(),
                i.api_version.as_str(),
                i.namespace.as_str(),
                i.resource.as_str(),
                i.dry_run
            ),
            ("create", "", "v1", "team", "services", true)
        );
        let i = parse(Method::PUT, "/api/v1/namespaces/team/services/web");
        assert_eq!((i.verb.as_str(), i.name.as_str(), i.dry_run), ("update", "web", false));
        let i = parse(Method::GET, "/apis/apps/v1/namespaces/team/deployments?watch=1");
        assert_eq!((i.verb.as_str(), i.api_group.as_str(), i.resource.as_str()), ("watch", "apps", "deployments"));
        let i = parse(Method::GET, "/api/v1/namespaces/team/pods/web-0/log?follow=true");
        assert_eq!((i.verb.as_str(), i.subresource.as_str()), ("get", "log"));
        assert!(i.is_long_running(Some("follow=true")));
        let i = parse(Method::GET, "/api/v1/namespaces/team");
        assert_eq!(
            (i.verb.as_str(), i.resource.as_str(), i.name.as_str(), i.namespace.as_str()),
            ("get", "namespaces", "team", "team")
        );
        let i = parse(Method::PUT, "/api/v1/namespaces/team/finalize");
        assert_eq!((i.resource.as_str(), i.name.as_str(), i.subresource.as_str()), ("namespaces", "team", "finalize"));
        let i = parse(Method::DELETE, "/api/v1/namespaces/team/pods");
        assert_eq!(i.verb, "deletecollection");
        let i = parse(Method::GET, "/api/v1/watch/namespaces/team/pods");
        assert_eq!((i.verb.as_str(), i.resource.as_str(), i.namespace.as_str()), ("watch", "pods", "team"));
        let i = parse(Method::GET, "/api/v1/nodes");
        assert_eq!((i.verb.as_str(), i.resource.as_str(), i.namespace.as_str()), ("list", "nodes", ""));
        let i = parse(Method::POST, "/api/v1/namespaces/team/pods/web-0/portforward");
        assert_eq!((i.verb.as_str(), i.subresource.as_str()), ("create", "portforward"));
    }

    #[test]
    fn non_resource_requests() {
        for path in ["/version", "/healthz", "/api", "/api/v1", "/apis/apps", "/openapi/v3"] {
            let i = parse(Method::GET, path);
            assert!(!i.is_resource_request, "{path}");
            assert_eq!(i.verb, "get");
        }
    }
}
