//! Semantic checks of the typed values, the release name and the namespace. Every problem is
//! collected, so one run reports them all; nothing renders until there are none.
//!
//! Name and label rules and their messages follow Kubernetes
//! (staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{Quantity, Resources, ServiceMapping, ServiceType, StringMap, Values};

/// The longest vcluster name: the workload service account `vc-workload-<name>` must stay a
/// 63-character DNS label.
pub(crate) const MAX_NAME_LEN: usize = 63 - "vc-workload-".len();

/// One thing wrong with the input: where (a dotted values path, `name` or `namespace`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub(crate) path: String,
    pub(crate) message: String,
    /// Where the value came from (`values.yaml:12`, `--set "a=b"`), when known.
    pub(crate) source: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(source) = &self.source {
            write!(f, "{source}: ")?;
        }
        write!(f, "{}: {}", self.path, self.message)
    }
}

pub(crate) fn problem(path: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem { path: path.into(), message: message.into(), source: None }
}

const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', \
start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', or 'abc-123')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

/// The vcluster (release) name: a DNS-1035 label of at most [`MAX_NAME_LEN`] characters.
pub(crate) fn check_name(name: &str) -> Option<Problem> {
    if name.is_empty() {
        return Some(problem("name", "must not be empty"));
    }
    let dns1035 = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-');
    if !dns1035 {
        return Some(problem("name", format!("{name:?} is not valid: {DNS1035_LABEL_MSG}")));
    }
    if name.len() > MAX_NAME_LEN {
        return Some(problem(
            "name",
            format!(
                "{name:?} is {} characters long; it must be no more than {MAX_NAME_LEN}, because the service \
                 account vc-workload-<name> must stay within the 63-character limit of a DNS label",
                name.len()
            ),
        ));
    }
    None
}

/// The host namespace: a DNS-1123 label.
pub(crate) fn check_namespace(namespace: &str) -> Option<Problem> {
    if namespace.len() > 63 {
        return Some(problem("namespace", format!("{namespace:?} must be no more than 63 characters")));
    }
    (!is_dns1123_label(namespace))
        .then(|| problem("namespace", format!("{namespace:?} is not valid: {DNS1123_LABEL_MSG}")))
}

/// Label and annotation keys: an optional DNS subdomain prefix and `/`, then a name of at most
/// 63 alphanumerics, `-`, `_` or `.`, starting and ending alphanumeric.
fn qualified_name_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns1123_subdomain(prefix)
    {
        return Some(format!("key {key:?}: prefix part {DNS1123_SUBDOMAIN_MSG}"));
    }
    if name.is_empty() || name.len() > 63 || !is_label_value(name) {
        return Some(format!(
            "key {key:?}: name part must be 1 to 63 characters, consist of alphanumeric characters, '-', '_' or '.', \
             and must start and end with an alphanumeric character"
        ));
    }
    None
}

fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric())
}

fn check_labels(path: &str, labels: &StringMap, reserved: &[&str], out: &mut Vec<Problem>) {
    for (key, value) in labels {
        if let Some(msg) = qualified_name_problem(key) {
            out.push(problem(path, msg));
        }
        if !is_label_value(value) {
            out.push(problem(
                format!("{path}.{key}"),
                format!(
                    "label value {value:?} must be no more than 63 characters, consist of alphanumeric characters, \
                     '-', '_' or '.', and start and end with an alphanumeric character"
                ),
            ));
        }
        if reserved.contains(&key.as_str()) {
            out.push(problem(
                format!("{path}.{key}"),
                "this label is set by the chart (selectors and Helm ownership depend on it) and cannot be overridden",
            ));
        }
    }
}

/// Total size limit of an object's annotations (apimachinery: TotalAnnotationSizeLimitB).
const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

fn check_annotations(path: &str, annotations: &StringMap, out: &mut Vec<Problem>) {
    for key in annotations.keys() {
        if let Some(msg) = qualified_name_problem(key) {
            out.push(problem(path, msg));
        }
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_ANNOTATIONS_BYTES {
        out.push(problem(path, format!("annotations total {size} bytes; Kubernetes allows {MAX_ANNOTATIONS_BYTES}")));
    }
}

/// Kubernetes quantity syntax (apimachinery: pkg/api/resource/quantity.go ParseQuantity).
pub(crate) fn is_quantity(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let number_end = unsigned.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(unsigned.len());
    let (number, suffix) = unsigned.split_at(number_end);
    let digits = number.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 || number.matches('.').count() > 1 {
        return false;
    }
    const SUFFIXES: &[&str] = &["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"];
    if SUFFIXES.contains(&suffix) {
        return true;
    }
    match suffix.strip_prefix(['e', 'E']) {
        Some(exp) => {
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn check_quantities<'a>(
    path: &str,
    items: impl IntoIterator<Item = (&'a String, &'a Quantity)>,
    out: &mut Vec<Problem>,
) {
    for (name, quantity) in items {
        if !is_quantity(&quantity.0) {
            out.push(problem(
                format!("{path}.{name}"),
                format!("{:?} is not a Kubernetes quantity (e.g. 500m, 2Gi, 1)", quantity.0),
            ));
        }
    }
}

fn check_resources(path: &str, r: &Resources, out: &mut Vec<Problem>) {
    check_quantities(&format!("{path}.limits"), &r.limits, out);
    check_quantities(&format!("{path}.requests"), &r.requests, out);
}

fn parse_cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, bits) = text.split_once('/')?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (bits <= max && !ip.to_string().is_empty()).then_some((ip, bits))
}

fn check_cidr(path: &str, text: &str, out: &mut Vec<Problem>) {
    if parse_cidr(text).is_none() {
        out.push(problem(path, format!("{text:?} is not a CIDR such as 10.96.0.0/12 or fd00::/108")));
    }
}

fn check_ip(path: &str, text: &str, out: &mut Vec<Problem>) {
    if text.parse::<std::net::IpAddr>().is_err() {
        out.push(problem(path, format!("{text:?} is not an IP address")));
    }
}

fn check_image(path: &str, image: &str, out: &mut Vec<Problem>) {
    if image.is_empty() {
        out.push(problem(path, "must not be empty"));
    } else if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        out.push(problem(path, format!("{image:?} is not an image reference (it contains whitespace)")));
    }
}

/// `mapServices` entries: `fromHost` maps `[namespace/]name` → `namespace/name`, `fromVirtual`
/// maps `namespace/name` → `name`; every part a DNS-1123 label (syncer:
/// pkg/controllers/servicesync/servicesync.go parses them the same way).
fn check_mapping(path: &str, entry: &ServiceMapping, from_needs_ns: bool, to_needs_ns: bool, out: &mut Vec<Problem>) {
    let check = |field: &str, value: &str, needs_ns: bool, allow_ns: bool, out: &mut Vec<Problem>| {
        let form = match (needs_ns, allow_ns) {
            (true, _) => "namespace/name",
            (false, true) => "[namespace/]name",
            (false, false) => "name (no namespace)",
        };
        let parts: Vec<&str> = value.split('/').collect();
        let shape_ok = match parts.len() {
            1 => !needs_ns,
            2 => allow_ns,
            _ => false,
        };
        if !shape_ok {
            out.push(problem(format!("{path}.{field}"), format!("{value:?} must have the form {form}")));
            return;
        }
        for part in parts {
            if !is_dns1123_label(part) {
                out.push(problem(
                    format!("{path}.{field}"),
                    format!("{part:?} in {value:?} is not valid: {DNS1123_LABEL_MSG}"),
                ));
            }
        }
    };
    check("from", &entry.from, from_needs_ns, true, out);
    check("to", &entry.to, to_needs_ns, to_needs_ns, out);
}

/// Deserialize a Kubernetes object from values and make sure nothing was dropped on the way:
/// a misspelt field is an error, not silently ignored.
fn check_object<T: DeserializeOwned + Serialize>(path: &str, value: &Value, out: &mut Vec<Problem>) {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Err(e) => out.push(problem(join_path(path, &e.path().to_string()), describe_serde(&e.inner().to_string()))),
        Ok(typed) => {
            let back = serde_json::to_value(&typed).unwrap_or(Value::Null);
            if let Some(unknown) = first_dropped(value, &back, path) {
                out.push(problem(unknown, "unknown field (not part of the Kubernetes type)"));
            }
        }
    }
}

fn first_dropped(original: &Value, back: &Value, path: &str) -> Option<String> {
    match (original, back) {
        (Value::Object(o), Value::Object(b)) => o.iter().find_map(|(k, v)| match b.get(k) {
            Some(bv) => first_dropped(v, bv, &join_path(path, k)),
            None if v.is_null() => None,
            None => Some(join_path(path, k)),
        }),
        (Value::Object(o), _) if !o.is_empty() => o.keys().next().map(|k| join_path(path, k)),
        (Value::Array(o), Value::Array(b)) => {
            o.iter().zip(b).enumerate().find_map(|(i, (ov, bv))| first_dropped(ov, bv, &format!("{path}[{i}]")))
        }
        _ => None,
    }
}

pub(crate) fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty() || rest == ".") {
        (_, true) => prefix.to_string(),
        (true, false) => rest.to_string(),
        (false, false) if rest.starts_with('[') => format!("{prefix}{rest}"),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// serde's `invalid type: string "x", expected a boolean` → `expected a boolean, found string "x"`.
pub(crate) fn describe_serde(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.rsplit_once(", expected ")
    {
        return format!("expected {expected}, found {found}");
    }
    message.to_string()
}

/// The cluster domain the syncer is told with `--cluster-domain=` in `syncer.extraArgs`
/// (the last one wins, like Go's flag package); `cluster.local` otherwise.
pub(crate) fn cluster_domain(values: &Values) -> &str {
    values.syncer.extra_args.iter().rev().find_map(|a| a.strip_prefix("--cluster-domain=")).unwrap_or("cluster.local")
}

/// Labels the chart sets itself on the StatefulSet and its pods.
pub(crate) const RESERVED_LABELS: &[&str] = &["app", "release", "chart", "heritage", "app.kubernetes.io/managed-by"];

/// Check everything the templates rely on. An empty list means the values render.
pub(crate) fn check_values(v: &Values) -> Vec<Problem> {
    use k8s_openapi::api::core::v1 as core;
    let mut out = Vec::new();
    let o = &mut out;

    for (i, e) in v.map_services.from_host.iter().enumerate() {
        check_mapping(&format!("mapServices.fromHost[{i}]"), e, false, true, o);
    }
    for (i, e) in v.map_services.from_virtual.iter().enumerate() {
        check_mapping(&format!("mapServices.fromVirtual[{i}]"), e, true, false, o);
    }
    if !v.service_cidr.is_empty() {
        let cidrs: Vec<&str> = v.service_cidr.split(',').collect();
        if cidrs.len() > 2 {
            o.push(problem("serviceCIDR", "at most two CIDRs (one per IP family) separated by a comma"));
        }
        for cidr in cidrs {
            check_cidr("serviceCIDR", cidr, o);
        }
    }
    if v.default_image_registry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        o.push(problem("defaultImageRegistry", "must not contain whitespace"));
    }

    check_image("syncer.image", &v.syncer.image, o);
    check_resources("syncer.resources", &v.syncer.resources, o);
    if !(1..=i64::from(i32::MAX)).contains(&v.syncer.replicas) {
        o.push(problem("syncer.replicas", format!("{} is not allowed; use a number from 1", v.syncer.replicas)));
    }
    if v.syncer.kube_config_context_name.is_empty() {
        o.push(problem("syncer.kubeConfigContextName", "must not be empty"));
    }
    check_annotations("syncer.serviceAnnotations", &v.syncer.service_annotations, o);
    let domain = cluster_domain(v);
    if !is_dns1123_subdomain(domain) {
        o.push(problem("syncer.extraArgs", format!("--cluster-domain={domain:?}: {DNS1123_SUBDOMAIN_MSG}")));
    }
    for (i, env) in v.syncer.env.iter().enumerate() {
        check_object::<core::EnvVar>(&format!("syncer.env[{i}]"), env, o);
    }

    check_image("vcluster.image", &v.vcluster.image, o);
    if v.vcluster.command.is_empty() {
        o.push(problem("vcluster.command", "must name the k3s executable (default /bin/k3s)"));
    }
    check_resources("vcluster.resources", &v.vcluster.resources, o);
    for (i, env) in v.vcluster.env.iter().enumerate() {
        check_object::<core::EnvVar>(&format!("vcluster.env[{i}]"), env, o);
    }

    if v.storage.persistence && !is_quantity(&v.storage.size.0) {
        o.push(problem("storage.size", format!("{:?} is not a Kubernetes quantity (e.g. 5Gi)", v.storage.size.0)));
    }
    if !v.storage.class_name.is_empty() && !is_dns1123_subdomain(&v.storage.class_name) {
        o.push(problem("storage.className", DNS1123_SUBDOMAIN_MSG));
    }

    for (i, ip) in v.service.external_ips.iter().enumerate() {
        check_ip(&format!("service.externalIPs[{i}]"), ip, o);
    }
    match v.service.external_traffic_policy.as_str() {
        "" => {}
        "Cluster" | "Local" if v.service.type_ != ServiceType::ClusterIP => {}
        "Cluster" | "Local" => o.push(problem(
            "service.externalTrafficPolicy",
            "only applies to service.type NodePort or LoadBalancer (Kubernetes rejects it on a ClusterIP Service)",
        )),
        other => o.push(problem("service.externalTrafficPolicy", format!("{other:?} must be Cluster or Local"))),
    }
    if !v.service.load_balancer_ip.is_empty() {
        check_ip("service.loadBalancerIP", &v.service.load_balancer_ip, o);
    }
    for (i, cidr) in v.service.load_balancer_source_ranges.iter().enumerate() {
        check_cidr(&format!("service.loadBalancerSourceRanges[{i}]"), cidr, o);
    }
    if !v.service.load_balancer_class.is_empty()
        && let Some(msg) = qualified_name_problem(&v.service.load_balancer_class)
    {
        o.push(problem("service.loadBalancerClass", msg));
    }

    if !["Exact", "Prefix", "ImplementationSpecific"].contains(&v.ingress.path_type.as_str()) {
        o.push(problem(
            "ingress.pathType",
            format!("{:?} must be Exact, Prefix or ImplementationSpecific", v.ingress.path_type),
        ));
    }
    let host = v.ingress.host.strip_prefix("*.").unwrap_or(&v.ingress.host);
    if v.ingress.enabled && !is_dns1123_subdomain(host) {
        o.push(problem("ingress.host", format!("{:?} is not valid: {DNS1123_SUBDOMAIN_MSG}", v.ingress.host)));
    }
    if !v.ingress.ingress_class_name.is_empty() && !is_dns1123_subdomain(&v.ingress.ingress_class_name) {
        o.push(problem("ingress.ingressClassName", DNS1123_SUBDOMAIN_MSG));
    }
    check_annotations("ingress.annotations", &v.ingress.annotations, o);
    for (i, tls) in v.ingress.tls.iter().enumerate() {
        check_object::<k8s_openapi::api::networking::v1::IngressTLS>(&format!("ingress.tls[{i}]"), tls, o);
    }

    if !(0..=i64::from(i32::MAX)).contains(&v.coredns.replicas) {
        o.push(problem("coredns.replicas", format!("{} is not allowed; use a number from 0", v.coredns.replicas)));
    }
    if !v.coredns.image.is_empty() {
        check_image("coredns.image", &v.coredns.image, o);
    }
    check_resources("coredns.resources", &v.coredns.resources, o);
    check_labels("coredns.podLabels", &v.coredns.pod_labels, &["k8s-app"], o);
    check_annotations("coredns.podAnnotations", &v.coredns.pod_annotations, o);

    check_quantities("isolation.resourceQuota.quota", &v.isolation.resource_quota.quota, o);
    check_quantities("isolation.limitRange.default", &v.isolation.limit_range.default, o);
    check_quantities("isolation.limitRange.defaultRequest", &v.isolation.limit_range.default_request, o);
    let ip_block = &v.isolation.network_policy.outgoing_connections.ip_block;
    check_cidr("isolation.networkPolicy.outgoingConnections.ipBlock.cidr", &ip_block.cidr, o);
    for (i, cidr) in ip_block.except.iter().enumerate() {
        check_cidr(&format!("isolation.networkPolicy.outgoingConnections.ipBlock.except[{i}]"), cidr, o);
    }

    const MAX_CONFIGMAP_BYTES: usize = 1024 * 1024;
    if v.init.manifests.len() > MAX_CONFIGMAP_BYTES {
        o.push(problem("init.manifests", "larger than the 1 MiB a ConfigMap can hold"));
    }
    if v.coredns.manifests.len() + v.coredns.config.len() > MAX_CONFIGMAP_BYTES {
        o.push(problem(
            "coredns",
            "coredns.manifests and coredns.config are larger than the 1 MiB a ConfigMap can hold",
        ));
    }

    check_object::<core::SecurityContext>("securityContext", &v.security_context, o);
    check_object::<core::PodSecurityContext>("podSecurityContext", &v.pod_security_context, o);
    check_object::<core::Affinity>("affinity", &v.affinity, o);
    for (i, t) in v.tolerations.iter().enumerate() {
        check_object::<core::Toleration>(&format!("tolerations[{i}]"), t, o);
    }
    check_labels("labels", &v.labels, RESERVED_LABELS, o);
    check_labels("podLabels", &v.pod_labels, RESERVED_LABELS, o);
    check_labels("nodeSelector", &v.node_selector, &[], o);
    check_annotations("annotations", &v.annotations, o);
    check_annotations("podAnnotations", &v.pod_annotations, o);
    check_annotations("globalAnnotations", &v.global_annotations, o);
    if !v.priority_class_name.is_empty() && !is_dns1123_subdomain(&v.priority_class_name) {
        o.push(problem("priorityClassName", DNS1123_SUBDOMAIN_MSG));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_1035_and_the_length_budget() {
        assert_eq!(check_name("my-vc"), None);
        assert_eq!(check_name(&"a".repeat(51)), None);
        let long = check_name(&"a".repeat(52)).unwrap();
        assert!(long.message.contains("no more than 51") && long.message.contains("vc-workload-"), "{long}");
        for bad in ["", "1abc", "My-vc", "a_b", "abc-", "-abc", "a.b", &"é".repeat(40)] {
            assert!(check_name(bad).is_some(), "{bad}");
        }
        assert!(check_name("1abc").unwrap().message.contains("DNS-1035"));
    }

    #[test]
    fn namespaces_are_dns_1123_labels() {
        assert_eq!(check_namespace("vcluster-my-vc"), None);
        assert_eq!(check_namespace("1team"), None);
        assert!(check_namespace("Team").is_some());
        assert!(check_namespace(&"a".repeat(64)).unwrap().message.contains("63"));
    }

    #[test]
    fn quantities() {
        for good in ["1", "500m", "2Gi", "1.5", "+1", "-1", "1e3", "1E-3", ".5", "5.", "100Ki", "3E"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "m", "1.2.3", "1Gib", "abc", "1 Gi", "1e", "--1", "Gi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }

    #[test]
    fn service_mappings_per_direction() {
        let mut out = Vec::new();
        let m = |f: &str, t: &str| ServiceMapping { from: f.into(), to: t.into() };
        check_mapping("h", &m("name", "ns/name"), false, true, &mut out);
        check_mapping("h", &m("ns/name", "ns/name"), false, true, &mut out);
        check_mapping("v", &m("ns/name", "name"), true, false, &mut out);
        assert!(out.is_empty(), "{out:?}");
        check_mapping("h", &m("a/b/c", "name"), false, true, &mut out);
        check_mapping("v", &m("name", "ns/name"), true, false, &mut out);
        check_mapping("v", &m("ns/Name", "x_y"), true, false, &mut out);
        let paths: Vec<String> = out.iter().map(|p| p.path.clone()).collect();
        assert_eq!(paths, ["h.from", "h.to", "v.from", "v.to", "v.from", "v.to"], "{out:?}");
    }

    #[test]
    fn kubernetes_objects_reject_unknown_fields_and_wrong_types() {
        let mut out = Vec::new();
        let affinity = serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpression": []}]}}});
        check_object::<k8s_openapi::api::core::v1::Affinity>("affinity", &affinity, &mut out);
        check_object::<k8s_openapi::api::core::v1::EnvVar>("env[0]", &serde_json::json!({"name": 5}), &mut out);
        assert_eq!(
            out[0].path,
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpression"
        );
        assert_eq!(out[1].path, "env[0].name");
        assert!(out[1].message.starts_with("expected a string, found integer"), "{}", out[1]);
    }

    #[test]
    fn label_rules() {
        let mut out = Vec::new();
        let labels: StringMap = [
            ("good/key".into(), "v".into()),
            ("bad key".into(), "v".into()),
            ("k".into(), "-bad".into()),
            ("app".into(), "x".into()),
        ]
        .into();
        check_labels("labels", &labels, RESERVED_LABELS, &mut out);
        assert_eq!(out.len(), 3, "{out:?}");
    }
}
