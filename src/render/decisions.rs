//! Everything the templates need that is a decision rather than layout: names, images, the
//! syncer's arguments, the k3s command line, RBAC rules and the Corefile. Pure functions of the
//! values and the release, unit-tested here; the templates only arrange them into objects.

use serde::Serialize;

use crate::values::Values;
use crate::values::model::ServiceType;

/// The k3s `--service-cidr` word when `serviceCIDR` is empty: Kubernetes expands `$(SERVICE_CIDR)`
/// from the container's env, which reads ConfigMap `vc-cidr-<name>` key `cidr` — the ConfigMap the
/// syncer writes at start (loft-sh/vcluster v0.15.7 `charts/k3s/templates/statefulset.yaml`;
/// syncer `EnsureServiceCIDR`). `create` never renders it: it sets the host's range explicitly.
pub(crate) const SERVICE_CIDR_FROM_ENV: &str = "$(SERVICE_CIDR)";

/// Where the syncer finds the virtual cluster's API: the kubeconfig k3s writes
/// (`vcluster.baseArgs` `--write-kubeconfig`), passed as v0.15.7 passes it
/// (`charts/k3s/templates/statefulset.yaml`, syncer `--kube-config`).
pub(crate) const SYNCER_KUBE_CONFIG: &str = "/data/k3s-config/kube-config.yaml";

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
    /// `serviceCIDR` is empty: the k3s container reads it from ConfigMap `vc-cidr-<name>`.
    pub(crate) service_cidr_from_configmap: Option<String>,
    pub(crate) role_rules: Vec<Rule>,
    pub(crate) cluster_role: Option<ClusterRolePlan>,
    pub(crate) corefile: String,
    /// `service.type` for the `<name>` Service (LoadBalancer gets its own `<name>-lb`).
    pub(crate) main_service_type: ServiceType,
    pub(crate) load_balancer: bool,
    /// `enableHA` or more than one replica: leader election, the Lease rule, anti-affinity.
    pub(crate) high_availability: bool,
    pub(crate) pod_anti_affinity: bool,
    pub(crate) ingressclasses: bool,
    /// `ingress.annotations`, without ingress-nginx's TLS passthrough once `ingress.tls` is set.
    pub(crate) ingress_annotations: crate::values::model::StringMap,
    /// Labels of the headless Service beyond the standard ones (v0.15.7 `app: <fullname>`).
    pub(crate) headless_app_label: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ClusterRolePlan {
    pub(crate) name: String,
    pub(crate) rules: Vec<Rule>,
}

pub(crate) fn decide(values: &Values, name: &str, namespace: &str) -> Decisions {
    let service_cidr =
        if values.service_cidr.is_empty() { SERVICE_CIDR_FROM_ENV.to_string() } else { values.service_cidr.clone() };
    let load_balancer = values.service.type_ == ServiceType::LoadBalancer;
    let registry = registry_prefix(&values.default_image_registry);
    Decisions {
        service_account: format!("vc-{name}"),
        workload_service_account: format!("vc-workload-{name}"),
        syncer_image: format!("{registry}{}", values.syncer.image),
        k3s_image: format!("{registry}{}", values.vcluster.image),
        coredns_image: if values.coredns.image.is_empty() {
            String::new()
        } else {
            format!("{registry}{}", values.coredns.image)
        },
        syncer_args: syncer_args(values, name),
        k3s_command: k3s_command(values, &service_cidr),
        service_cidr_from_configmap: values
            .service_cidr
            .is_empty()
            .then(|| vcluster_translate::cidr::configmap_name(name)),
        role_rules: role_rules(values),
        cluster_role: cluster_role(values, name, namespace),
        corefile: corefile(values),
        main_service_type: if load_balancer { ServiceType::ClusterIP } else { values.service.type_ },
        load_balancer,
        high_availability: high_availability(values),
        pod_anti_affinity: high_availability(values) && values.affinity.as_object().is_none_or(|a| a.is_empty()),
        ingressclasses: ingressclasses_enabled(values),
        ingress_annotations: ingress_annotations(values),
        headless_app_label: fullname(name),
    }
}

/// `defaultImageRegistry` as every use needs it: empty, or ending in exactly one `/`. The chart
/// puts it in front of its images and the syncer concatenates `--default-image-registry` with
/// image names as they are (loft-sh/vcluster v0.15.7 `pkg/coredns/coredns.go`,
/// `pkg/controllers/resources/pods/translate/hosts.go`), so both get the same prefix.
pub(crate) fn registry_prefix(registry: &str) -> String {
    let trimmed = registry.trim_end_matches('/');
    if trimmed.is_empty() { String::new() } else { format!("{trimmed}/") }
}

/// High availability as v0.15.7 decides it — `enableHA` turns on `--leader-elect=true`, the
/// Lease rule and the pod anti-affinity (`charts/k3s/templates/statefulset.yaml`,
/// `templates/rbac/role.yaml`) — and also more than one replica: two syncers without leader
/// election would both write to the host.
pub(crate) fn high_availability(values: &Values) -> bool {
    values.enable_ha || values.syncer.replicas > 1
}

/// v0.15.7 drops ingress-nginx's TLS passthrough once the Ingress has `tls` (the controller then
/// terminates TLS with the user's certificate; `charts/k3s/templates/ingress.yaml`).
fn ingress_annotations(values: &Values) -> crate::values::model::StringMap {
    let mut annotations = values.ingress.annotations.clone();
    if !values.ingress.tls.is_empty() {
        annotations.remove("nginx.ingress.kubernetes.io/ssl-passthrough");
    }
    annotations
}

/// Helm's `vcluster.fullname` of the era chart (`charts/k3s/templates/_helpers.tpl`): the release
/// name when it contains the chart name `vcluster`, else `<release>-vcluster`, cut to 63
/// characters without a trailing `-`.
pub(crate) fn fullname(release: &str) -> String {
    let name = if release.contains(crate::CHART_NAME) {
        release.to_string()
    } else {
        format!("{release}-{}", crate::CHART_NAME)
    };
    trunc_63(&name)
}

/// Sprig's `trunc 63 | trimSuffix "-"`: the first 63 characters, one trailing `-` removed.
fn trunc_63(name: &str) -> String {
    let cut: String = name.chars().take(63).collect();
    cut.strip_suffix('-').map(str::to_string).unwrap_or(cut)
}

/// Ingress classes follow ingress sync unless set explicitly (vcluster docs v0.15, "Network &
/// DNS": "By default, when Ingress sync is enabled, the IngressClasses will be synced").
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
    let mut args = vec![
        format!("--name={name}"),
        format!("--kube-config={SYNCER_KUBE_CONFIG}"),
        format!("--service-account=vc-workload-{name}"),
    ];
    if !values.default_image_registry.is_empty() {
        args.push(format!("--default-image-registry={}", registry_prefix(&values.default_image_registry)));
    }
    args.push(format!("--kube-config-context-name={}", values.syncer.kube_config_context_name));
    if high_availability(values) {
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
    if high_availability(values) {
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

/// `vc-<name>-v-<namespace>` cut as v0.15.7 cuts it (`charts/k3s/templates/_helpers.tpl`
/// `vcluster.clusterRoleName`: `trunc 63 | trimSuffix "-"`), so an upgrade of a release it
/// installed keeps (and never orphans) its ClusterRole. Two releases whose names share the first
/// 63 characters would share it: the second is refused as another release's object.
pub(crate) fn cluster_role_name(name: &str, namespace: &str) -> String {
    trunc_63(&format!("vc-{name}-v-{namespace}"))
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
                "--kube-config=/data/k3s-config/kube-config.yaml",
                "--service-account=vc-workload-my-vc",
                "--kube-config-context-name=my-vcluster",
                "--sync=-ingressclasses"
            ]
        );
    }

    #[test]
    fn ingress_classes_follow_ingresses_unless_set() {
        let on = values("sync: {ingresses: {enabled: true}}");
        assert_eq!(syncer_args(&on, "a")[4..], ["--sync=ingresses"]);
        assert!(cluster_role(&on, "a", "ns").is_some());
        let off = values("sync: {ingresses: {enabled: true}, ingressclasses: {enabled: false}}");
        assert_eq!(syncer_args(&off, "a")[4..], ["--sync=ingresses", "--sync=-ingressclasses"]);
        assert!(cluster_role(&off, "a", "ns").is_none());
        let only_classes = values("sync: {ingressclasses: {enabled: true}}");
        assert_eq!(syncer_args(&only_classes, "a")[4..], ["--sync=ingressclasses"]);
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
    fn cluster_role_names_are_cut_as_v0_15_7_cuts_them() {
        assert_eq!(cluster_role_name("my-vc", "team"), "vc-my-vc-v-team");
        let long = cluster_role_name(&"a".repeat(51), &"b".repeat(63));
        assert_eq!(long, format!("vc-{}-v-{}", "a".repeat(51), "b".repeat(6)));
        // A cut that ends in `-` loses it (`trunc 63 | trimSuffix "-"`).
        let dash = cluster_role_name(&"a".repeat(51), "bbbbb-cd");
        assert_eq!(dash, format!("vc-{}-v-bbbbb", "a".repeat(51)));
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
