//! Everything the templates need that is a decision rather than layout: names, images, the
//! syncer's arguments, the k3s command line, RBAC rules and the Corefile. Pure functions of the
//! values and the release, unit-tested here; the templates only arrange them into objects.

use serde::Serialize;

use crate::values::Values;
use crate::values::model::ServiceType;

/// The service CIDR `render` uses when `serviceCIDR` is empty (`create` detects the host's).
pub(crate) const DEFAULT_SERVICE_CIDR: &str = "10.96.0.0/12";

/// Controllers the 0.15 syncer runs without any `--sync` flag (loft-sh/vcluster v0.15
/// `pkg/controllers/register.go` / v0.19 `pkg/constants/controllers.go` `DefaultEnabledControllers`).
pub(crate) const SYNCER_DEFAULT_CONTROLLERS: &[&str] = &[
    "services",
    "configmaps",
    "secrets",
    "endpoints",
    "pods",
    "events",
    "persistentvolumeclaims",
    "fake-nodes",
    "fake-persistentvolumes",
];

/// One RBAC PolicyRule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Rule {
    pub(crate) api_groups: Vec<&'static str>,
    pub(crate) resources: Vec<&'static str>,
    pub(crate) verbs: Vec<&'static str>,
}

fn rule(group: &'static str, resources: &[&'static str], verbs: &[&'static str]) -> Rule {
    Rule { api_groups: vec![group], resources: resources.to_vec(), verbs: verbs.to_vec() }
}

const ALL_VERBS: &[&str] = &["create", "delete", "patch", "update", "get", "list", "watch"];
const READ_VERBS: &[&str] = &["get", "list", "watch"];

/// The decisions one render makes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Decisions {
    pub(crate) service_account: String,
    pub(crate) workload_service_account: String,
    pub(crate) syncer_image: String,
    pub(crate) k3s_image: String,
    /// Empty: the syncer fills in the CoreDNS image by the virtual cluster's version.
    pub(crate) coredns_image: String,
    pub(crate) syncer_args: Vec<String>,
    pub(crate) k3s_command: Vec<String>,
    pub(crate) service_cidr: String,
    pub(crate) role_rules: Vec<Rule>,
    pub(crate) cluster_role: Option<ClusterRolePlan>,
    pub(crate) corefile: String,
    /// `service.type` for the `<name>` Service (LoadBalancer gets its own `<name>-lb`).
    pub(crate) main_service_type: ServiceType,
    pub(crate) load_balancer: bool,
    pub(crate) pod_anti_affinity: bool,
    pub(crate) ingressclasses: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClusterRolePlan {
    pub(crate) name: String,
    pub(crate) rules: Vec<Rule>,
}

pub(crate) fn decide(values: &Values, name: &str, namespace: &str) -> Decisions {
    let service_cidr =
        if values.service_cidr.is_empty() { DEFAULT_SERVICE_CIDR.to_string() } else { values.service_cidr.clone() };
    let load_balancer = values.service.type_ == ServiceType::LoadBalancer;
    Decisions {
        service_account: format!("vc-{name}"),
        workload_service_account: format!("vc-workload-{name}"),
        syncer_image: with_registry(&values.default_image_registry, &values.syncer.image),
        k3s_image: with_registry(&values.default_image_registry, &values.vcluster.image),
        coredns_image: if values.coredns.image.is_empty() {
            String::new()
        } else {
            with_registry(&values.default_image_registry, &values.coredns.image)
        },
        syncer_args: syncer_args(values, name),
        k3s_command: k3s_command(values, &service_cidr),
        service_cidr,
        role_rules: role_rules(values),
        cluster_role: cluster_role(values, name, namespace),
        corefile: corefile(values),
        main_service_type: if load_balancer { ServiceType::ClusterIP } else { values.service.type_ },
        load_balancer,
        pod_anti_affinity: values.syncer.replicas > 1 && values.affinity.as_object().is_none_or(|a| a.is_empty()),
        ingressclasses: ingressclasses_enabled(values),
    }
}

/// `defaultImageRegistry` prefixes every image vcluster deploys (era `_helpers.tpl`).
fn with_registry(registry: &str, image: &str) -> String {
    if registry.is_empty() { image.to_string() } else { format!("{}/{image}", registry.trim_end_matches('/')) }
}

/// Ingress classes follow ingress sync unless set explicitly (seed: "By default, when Ingress
/// sync is enabled, the IngressClasses will be synced").
pub(crate) fn ingressclasses_enabled(values: &Values) -> bool {
    values.sync.ingressclasses.enabled.unwrap_or(values.sync.ingresses.enabled)
}

/// The `sync.*` keys in the order they appear in the values, with their effective setting.
fn sync_settings(values: &Values) -> [(&'static str, bool); 11] {
    let s = &values.sync;
    [
        ("services", s.services.enabled),
        ("configmaps", s.configmaps.enabled),
        ("secrets", s.secrets.enabled),
        ("endpoints", s.endpoints.enabled),
        ("pods", s.pods.enabled),
        ("events", s.events.enabled),
        ("persistentvolumeclaims", s.persistentvolumeclaims.enabled),
        ("ingresses", s.ingresses.enabled),
        ("networkpolicies", s.networkpolicies.enabled),
        ("fake-nodes", s.fake_nodes.enabled),
        ("fake-persistentvolumes", s.fake_persistentvolumes.enabled),
    ]
}

/// The syncer's arguments, in this order: generated flags, `--sync=` differences from the
/// syncer's default set (era `_helpers.tpl` `vcluster.syncer.syncArgs`), `--sync-all-*`,
/// `--map-host-service`, `--map-virtual-service`, then `syncer.extraArgs`.
pub(crate) fn syncer_args(values: &Values, name: &str) -> Vec<String> {
    let mut args = vec![format!("--name={name}"), format!("--service-account=vc-workload-{name}")];
    if !values.default_image_registry.is_empty() {
        args.push(format!("--default-image-registry={}", values.default_image_registry));
    }
    args.push(format!("--kube-config-context-name={}", values.syncer.kube_config_context_name));
    if values.syncer.replicas > 1 {
        args.push("--leader-elect=true".into());
    }
    if values.ingress.enabled {
        args.push(format!("--tls-san={}", values.ingress.host));
    }
    if values.isolation.enabled {
        args.push(format!("--enforce-pod-security-standard={}", values.isolation.pod_security_standard.as_str()));
    }
    for (key, enabled) in sync_settings(values) {
        let default = SYNCER_DEFAULT_CONTROLLERS.contains(&key);
        match (default, enabled) {
            (true, false) => args.push(format!("--sync=-{key}")),
            (false, true) => args.push(format!("--sync={key}")),
            _ => {}
        }
    }
    // The syncer turns ingress classes on with ingresses; the era chart says -ingressclasses
    // whenever they end up off.
    match (ingressclasses_enabled(values), values.sync.ingresses.enabled) {
        (false, _) => args.push("--sync=-ingressclasses".into()),
        (true, false) => args.push("--sync=ingressclasses".into()),
        (true, true) => {}
    }
    if values.sync.configmaps.all {
        args.push("--sync-all-configmaps=true".into());
    }
    if values.sync.secrets.all {
        args.push("--sync-all-secrets=true".into());
    }
    for m in &values.map_services.from_host {
        args.push(format!("--map-host-service={}={}", m.from, m.to));
    }
    for m in &values.map_services.from_virtual {
        args.push(format!("--map-virtual-service={}={}", m.from, m.to));
    }
    args.extend(values.syncer.extra_args.iter().cloned());
    args
}

/// k3s flags the chart adds when the virtual cluster has no scheduler (era statefulset.yaml).
pub(crate) const K3S_NO_SCHEDULER_ARGS: &[&str] = &[
    "--disable-scheduler",
    "--kube-controller-manager-arg=controllers=*,-nodeipam,-nodelifecycle,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-cloud-node-lifecycle,-ttl",
    "--kube-apiserver-arg=endpoint-reconciler-type=none",
];

/// `/bin/sh -c "<k3s …> && true"`: the shell keeps k3s from being PID 1 (cgroup v2). Every word
/// is shell-quoted, so values are passed to k3s as data and never interpreted by the shell.
pub(crate) fn k3s_command(values: &Values, service_cidr: &str) -> Vec<String> {
    let v = &values.vcluster;
    let words = v
        .command
        .iter()
        .chain(&v.base_args)
        .map(String::as_str)
        .chain(K3S_NO_SCHEDULER_ARGS.iter().copied())
        .map(str::to_string)
        .chain(std::iter::once(format!("--service-cidr={service_cidr}")))
        .chain(v.extra_args.iter().cloned())
        .map(|w| shell_quote(&w))
        .collect::<Vec<_>>();
    vec!["/bin/sh".into(), "-c".into(), format!("{} && true", words.join(" "))]
}

/// Quote a word for POSIX sh: bare when it only has safe characters, else single-quoted.
pub(crate) fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The Role of the syncer: what the enabled sync features need in the host namespace
/// (era `templates/rbac/role.yaml`, trimmed to the features that are on).
pub(crate) fn role_rules(values: &Values) -> Vec<Rule> {
    let s = &values.sync;
    let mut core = vec!["configmaps", "secrets", "services", "pods"];
    if s.pods.enabled {
        core.extend(["pods/attach", "pods/portforward", "pods/exec"]);
    }
    if s.persistentvolumeclaims.enabled {
        core.push("persistentvolumeclaims");
    }
    let mut rules = vec![rule("", &core, ALL_VERBS)];
    if s.endpoints.enabled {
        rules.push(rule("", &["endpoints"], &["create", "delete", "patch", "update"]));
    }
    rules.push(rule("", &["endpoints", "events", "pods/log"], READ_VERBS));
    if s.ingresses.enabled {
        rules.push(rule("networking.k8s.io", &["ingresses"], ALL_VERBS));
    }
    if s.networkpolicies.enabled {
        rules.push(rule("networking.k8s.io", &["networkpolicies"], ALL_VERBS));
    }
    rules.push(rule("apps", &["statefulsets", "replicasets", "deployments"], READ_VERBS));
    if values.syncer.replicas > 1 {
        rules.push(rule("coordination.k8s.io", &["leases"], ALL_VERBS));
    }
    rules
}

/// The ClusterRole, only when something needs cluster scope (era `templates/rbac/clusterrole.yaml`).
pub(crate) fn cluster_role(values: &Values, name: &str, namespace: &str) -> Option<ClusterRolePlan> {
    let mut rules = Vec::new();
    if ingressclasses_enabled(values) {
        rules.push(rule("networking.k8s.io", &["ingressclasses"], READ_VERBS));
    }
    if !values.map_services.from_host.is_empty() {
        rules.push(rule("", &["services"], READ_VERBS));
    }
    if rules.is_empty() && !values.rbac.cluster_role.create {
        return None;
    }
    Some(ClusterRolePlan { name: cluster_role_name(name, namespace), rules })
}

/// `vc-<name>-v-<namespace>`; past 63 characters, the first 52 plus `-` and 10 hex digits of
/// its SHA-256, so two long names never collide (syncer: pkg/util/translate SafeConcatName).
pub(crate) fn cluster_role_name(name: &str, namespace: &str) -> String {
    crate::translate::safe_concat_name(&["vc", name, "v", namespace])
}

/// The Corefile of the virtual cluster's CoreDNS (era `templates/coredns.yaml`), with the
/// cluster domain the syncer uses and `fallbackHostDns`. `{{.…}}` placeholders are filled in by
/// the syncer at run time.
pub(crate) fn corefile(values: &Values) -> String {
    if !values.coredns.config.is_empty() {
        return values.coredns.config.clone();
    }
    let domain = crate::values::cluster_domain(values);
    let fallthrough = if values.fallback_host_dns {
        format!("fallthrough {domain} in-addr.arpa ip6.arpa")
    } else {
        "fallthrough in-addr.arpa ip6.arpa".to_string()
    };
    let forward = if values.fallback_host_dns {
        "forward . {{.HOST_CLUSTER_DNS}}".to_string()
    } else if values.isolation.enabled && values.isolation.network_policy.enabled {
        "forward . /etc/resolv.conf 8.8.8.8 {\n        policy sequential\n    }".to_string()
    } else {
        "forward . /etc/resolv.conf".to_string()
    };
    format!(
        ".:1053 {{
    {{{{.LOG_IN_DEBUG}}}}
    errors
    health
    ready
    rewrite name regex .*\\.nodes\\.vcluster\\.com kubernetes.default.svc.{domain}
    kubernetes {domain} in-addr.arpa ip6.arpa {{
        pods insecure
        {fallthrough}
    }}
    hosts /etc/coredns/NodeHosts {{
        ttl 60
        reload 15s
        fallthrough
    }}
    prometheus :9153
    {forward}
    cache 30
    loop
    reload
    loadbalance
}}

import /etc/coredns/custom/*.server
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Layers, Source, load};

    fn values(yaml: &str) -> Values {
        let layers = Layers { files: vec![Source { name: "t".into(), text: yaml.into() }], ..Default::default() };
        load(&layers).unwrap().values
    }

    #[test]
    fn default_syncer_args() {
        assert_eq!(
            syncer_args(&values(""), "my-vc"),
            [
                "--name=my-vc",
                "--service-account=vc-workload-my-vc",
                "--kube-config-context-name=my-vcluster",
                "--sync=-ingressclasses"
            ]
        );
    }

    #[test]
    fn ingress_classes_follow_ingresses_unless_set() {
        let on = values("sync: {ingresses: {enabled: true}}");
        assert_eq!(syncer_args(&on, "a")[3..], ["--sync=ingresses"]);
        assert!(cluster_role(&on, "a", "ns").is_some());
        let off = values("sync: {ingresses: {enabled: true}, ingressclasses: {enabled: false}}");
        assert_eq!(syncer_args(&off, "a")[3..], ["--sync=ingresses", "--sync=-ingressclasses"]);
        assert!(cluster_role(&off, "a", "ns").is_none());
        let only_classes = values("sync: {ingressclasses: {enabled: true}}");
        assert_eq!(syncer_args(&only_classes, "a")[3..], ["--sync=ingressclasses"]);
    }

    #[test]
    fn shell_quoting_keeps_words_as_data() {
        assert_eq!(shell_quote("--data-dir=/data"), "--data-dir=/data");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $(x)"), r"'it'\''s $(x)'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("controllers=*,-ttl"), "'controllers=*,-ttl'");
    }

    #[test]
    fn cluster_role_names_stay_within_63() {
        assert_eq!(cluster_role_name("my-vc", "team"), "vc-my-vc-v-team");
        let long = cluster_role_name(&"a".repeat(51), &"b".repeat(63));
        assert_eq!(long.len(), 63);
        assert_ne!(long, cluster_role_name(&"a".repeat(51), &format!("{}c", "b".repeat(62))));
    }

    #[test]
    fn corefile_follows_cluster_domain_and_fallback() {
        let v = values("fallbackHostDns: true\nsyncer: {extraArgs: [--cluster-domain=corp.internal]}");
        let text = corefile(&v);
        assert!(text.contains("kubernetes corp.internal in-addr.arpa ip6.arpa"), "{text}");
        assert!(text.contains("fallthrough corp.internal in-addr.arpa ip6.arpa"), "{text}");
        assert!(text.contains("forward . {{.HOST_CLUSTER_DNS}}"), "{text}");
        assert!(text.contains("kubernetes.default.svc.corp.internal"), "{text}");
    }
}
