//! Pods (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/pods/translate/translator.go`,
//! `diff.go`, `hosts.go`, `image_translator.go`, `pkg/controllers/resources/pods/syncer.go`):
//! the host pod for a virtual pod, the later updates of its mutable fields, and the status
//! copied back.
//!
//! Part 2 extension points: [`Inputs::dns_ip`] (the host ClusterIP of
//! `kube-dns-x-kube-system-x-<vc>`; `None` leaves the DNS policy alone), [`Inputs::kube_ip`]
//! (the host ClusterIP of the vcluster Service: `kubernetes` host aliases and the
//! `KUBERNETES_*` variables; `None` leaves them out) and [`Inputs::services`] (the virtual
//! Services of the pod's namespace, for the service-link variables).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, DownwardAPIProjection, DownwardAPIVolumeFile, EmptyDirVolumeSource, EnvFromSource, EnvVar, HostAlias,
    ObjectFieldSelector, PersistentVolumeClaimVolumeSource, Pod, PodAffinityTerm, PodDNSConfig, PodDNSConfigOption,
    PodSpec, PodStatus, ResourceRequirements, Service, ServicePort, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use vcluster_translate::metadata::{Map, labels_annotation};
use vcluster_translate::{MANAGED_BY_LABEL, NAMESPACE_LABEL};

use super::{Context, has_controller};

pub const OWNER_SET_KIND_ANNOTATION: &str = "vcluster.loft.sh/owner-set-kind";
pub const NAMESPACE_ANNOTATION: &str = "vcluster.loft.sh/namespace";
pub const NAME_ANNOTATION: &str = "vcluster.loft.sh/name";
pub const LABELS_ANNOTATION: &str = "vcluster.loft.sh/labels";
pub const UID_ANNOTATION: &str = "vcluster.loft.sh/uid";
pub const SAFE_TO_EVICT_ANNOTATION: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";
pub const DAEMONSET_POD_ANNOTATION: &str = "cluster-autoscaler.kubernetes.io/daemonset-pod";
pub const SERVICE_ACCOUNT_NAME_ANNOTATION: &str = "vcluster.loft.sh/service-account-name";
pub const TOKEN_ANNOTATION_PREFIX: &str = "vcluster.loft.sh/token-";
pub const HOSTS_REWRITTEN_ANNOTATION: &str = "vcluster.loft.sh/hosts-rewritten";
pub const DISABLE_SUBDOMAIN_REWRITE_ANNOTATION: &str = "vcluster.loft.sh/disable-subdomain-rewrite";
pub const HOSTS_REWRITE_CONTAINER: &str = "vcluster-rewrite-hosts";
/// `translate.NamespaceLabelPrefix` / `translator.go` `NamespaceLabelPrefix`.
pub use vcluster_translate::NAMESPACE_LABEL_PREFIX;

/// Pod translation settings, from the flags.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--cluster-domain`.
    pub cluster_domain: String,
    /// `--service-account`: the host account of every pod (empty: the namespace default).
    pub service_account: String,
    /// `--sync=serviceaccounts`: pods run as the translated virtual account instead.
    pub serviceaccounts_enabled: bool,
    /// `--override-hosts`.
    pub override_hosts: bool,
    /// `--default-image-registry` + `--override-hosts-container-image`.
    pub hosts_rewrite_image: String,
    /// `--translate-image` pairs.
    pub image_translations: BTreeMap<String, String>,
    /// `--node-selector` labels when `--enforce-node-selector` (pods without a node name).
    pub node_selector: Option<Map>,
    /// `--enforce-toleration`.
    pub tolerations: Vec<Toleration>,
    /// Pods that resolve through the cluster DNS wait for the host ClusterIP of
    /// `kube-dns-x-kube-system-x-<vc>` before they are created on the host (upstream's "waiting
    /// for DNS service IP"). Set when the CoreDNS bundle exists and Services are synced: without
    /// them that Service never comes, and such pods keep their DNS policy instead.
    pub wait_for_dns: bool,
}

impl Settings {
    /// `--translate-image`: exact image names (`ImageTranslator.Translate`).
    pub fn image(&self, image: &str) -> String {
        self.image_translations.get(image).cloned().unwrap_or_else(|| image.to_owned())
    }
}

/// What the controller fetched for one translation.
#[derive(Debug, Clone, Default)]
pub struct Inputs<'a> {
    /// Labels of the pod's virtual namespace.
    pub namespace_labels: Option<&'a Map>,
    /// One `(annotation key, token)` per projected service-account token source, in volume order.
    pub tokens: Vec<(String, String)>,
    pub dns_ip: Option<&'a str>,
    pub kube_ip: Option<&'a str>,
    pub services: &'a [Service],
}

/// A projected service-account token the pod needs: which account, which audiences.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSource {
    pub service_account: String,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
}

/// The tokens to request for `v`, in the order [`to_host`] consumes them: virtual account
/// (default `default`), audiences `https://kubernetes.default.svc.<domain>`,
/// `https://kubernetes.default.svc`, `https://kubernetes.default` unless the source names one,
/// ten years. (`translateProjectedVolume`)
pub fn token_sources(settings: &Settings, v: &Pod) -> Vec<TokenSource> {
    let Some(spec) = &v.spec else { return Vec::new() };
    let account = [&spec.service_account_name, &spec.service_account]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "default".into());
    let mut out = Vec::new();
    for volume in spec.volumes.iter().flatten() {
        for source in volume.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(token) = &source.service_account_token {
                let audiences = match token.audience.as_deref().filter(|a| !a.is_empty()) {
                    Some(a) => vec![a.to_owned()],
                    None => vec![
                        format!("https://kubernetes.default.svc.{}", settings.cluster_domain),
                        "https://kubernetes.default.svc".into(),
                        "https://kubernetes.default".into(),
                    ],
                };
                out.push(TokenSource {
                    service_account: account.clone(),
                    audiences,
                    expiration_seconds: 10 * 365 * 24 * 60 * 60,
                });
            }
        }
    }
    out
}

/// The host pod for the virtual pod `v`. (`translator.Translate`)
pub fn to_host(ctx: &Context, settings: &Settings, v: &Pod, inputs: &Inputs<'_>) -> Pod {
    let namespace = v.metadata.namespace.clone().unwrap_or_default();
    let name = v.metadata.name.clone().unwrap_or_default();
    let tr = &ctx.translator;
    let host_name_of = |n: &str| tr.host_name(&namespace, n);
    let mut meta = ctx.host_metadata(&v.metadata, &[]);
    let mut spec = v.spec.clone().unwrap_or_default();

    spec.service_account = None;
    spec.service_account_name = (!settings.service_account.is_empty()).then(|| settings.service_account.clone());
    if settings.serviceaccounts_enabled
        && let Some(sa) = [
            &v.spec.as_ref().and_then(|s| s.service_account_name.clone()),
            &v.spec.as_ref().and_then(|s| s.service_account.clone()),
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
    {
        spec.service_account_name = Some(host_name_of(sa));
    }
    spec.automount_service_account_token = Some(false);
    spec.enable_service_links = Some(false);
    // Priority classes are not synced: the host decides (`priorityClassesEnabled` false).
    spec.priority_class_name = None;
    spec.priority = None;

    // Pod annotations: the virtual values win when the virtual pod already carries them.
    let annotations = meta.annotations.get_or_insert_with(Map::new);
    let v_ann = v.metadata.annotations.clone().unwrap_or_default();
    let mut put_default = |key: &str, fallback: String| {
        let value = v_ann.get(key).filter(|s| !s.is_empty()).cloned().unwrap_or(fallback);
        annotations.insert(key.to_owned(), value);
    };
    put_default(NAMESPACE_ANNOTATION, namespace.clone());
    put_default(NAME_ANNOTATION, name.clone());
    put_default(UID_ANNOTATION, v.metadata.uid.clone().unwrap_or_default());
    put_default(
        SERVICE_ACCOUNT_NAME_ANNOTATION,
        v.spec.as_ref().and_then(|s| s.service_account_name.clone()).unwrap_or_default(),
    );
    let labels_value =
        v_ann.get(LABELS_ANNOTATION).cloned().unwrap_or_else(|| labels_annotation(v.metadata.labels.as_ref()));
    annotations.insert(LABELS_ANNOTATION.into(), labels_value);
    if !annotations.contains_key(SAFE_TO_EVICT_ANNOTATION) {
        annotations.insert(SAFE_TO_EVICT_ANNOTATION.into(), has_controller(&v.metadata).to_string());
        if controller_kind(v) == Some("DaemonSet") {
            annotations.insert(DAEMONSET_POD_ANNOTATION.into(), "true".into());
        }
    }
    if let Some(kind) = owner_set_kind(v) {
        annotations.insert(OWNER_SET_KIND_ANNOTATION.into(), kind.to_owned());
    }

    // Namespace labels projected onto the pod.
    let labels = meta.labels.get_or_insert_with(Map::new);
    for (k, val) in inputs.namespace_labels.into_iter().flatten() {
        labels.insert(tr.namespace_label_key(k), val.clone());
    }

    // Environment of every container kind.
    let service_env = service_env(
        v.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true),
        inputs.services,
        inputs.kube_ip,
    );
    if let Some(kube_ip) = inputs.kube_ip {
        spec.host_aliases.get_or_insert_with(Vec::new).push(HostAlias {
            ip: kube_ip.to_owned(),
            hostnames: Some(vec!["kubernetes".into(), "kubernetes.default".into(), "kubernetes.default.svc".into()]),
        });
    }
    translate_dns(&mut spec, &namespace, &settings.cluster_domain, inputs.dns_ip);

    // Hostname: the virtual name (≤ 63, dots → dashes, no trailing dash) unless set.
    if spec.hostname.as_deref().unwrap_or_default().is_empty() {
        let short: String = name.chars().take(63).collect();
        spec.hostname = Some(short.replace('.', "-").trim_end_matches('-').to_owned());
    }
    if let Some(subdomain) = spec.subdomain.take().filter(|s| !s.is_empty()) {
        let hostname = spec.hostname.clone().unwrap_or_default();
        let disabled = v_ann.get(DISABLE_SUBDOMAIN_REWRITE_ANNOTATION).is_some_and(|v| v == "true");
        if settings.override_hosts && !disabled {
            let fqdn = format!("{hostname}.{subdomain}.{namespace}.svc.{}", settings.cluster_domain);
            rewrite_hosts(&mut spec, annotations_mut(&mut meta.annotations), settings, &hostname, &fqdn);
        }
    }

    for c in spec.containers.iter_mut() {
        translate_container(c, &namespace, ctx, &service_env, settings);
    }
    for c in spec.init_containers.iter_mut().flatten() {
        if c.name != HOSTS_REWRITE_CONTAINER {
            translate_container(c, &namespace, ctx, &service_env, settings);
        }
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        let (env, env_from) = translate_env(c.env.take(), c.env_from.take(), &namespace, ctx, &service_env);
        c.env = env;
        c.env_from = env_from;
        c.image = c.image.as_deref().map(|i| settings.image(i));
    }
    for s in spec.image_pull_secrets.iter_mut().flatten() {
        s.name = host_name_of(&s.name);
    }

    translate_volumes(&mut spec, v, ctx, annotations_mut(&mut meta.annotations), &inputs.tokens);

    // Scheduling: selectors hashed and pinned to this vcluster and namespace.
    for c in spec.topology_spread_constraints.iter_mut().flatten() {
        if let Some(sel) = c.label_selector.as_ref() {
            let mut sel = translate_label_selector(ctx, sel);
            let ml = sel.match_labels.get_or_insert_with(BTreeMap::new);
            ml.insert(NAMESPACE_LABEL.into(), namespace.clone());
            ml.insert(MANAGED_BY_LABEL.into(), tr.vcluster.clone());
            c.label_selector = Some(sel);
        }
    }
    if let Some(affinity) = spec.affinity.as_mut() {
        let fix = |t: &mut PodAffinityTerm| *t = translate_affinity_term(ctx, &namespace, t);
        if let Some(a) = affinity.pod_affinity.as_mut() {
            a.required_during_scheduling_ignored_during_execution.iter_mut().flatten().for_each(fix);
            for w in a.preferred_during_scheduling_ignored_during_execution.iter_mut().flatten() {
                w.pod_affinity_term = translate_affinity_term(ctx, &namespace, &w.pod_affinity_term);
            }
        }
        if let Some(a) = affinity.pod_anti_affinity.as_mut() {
            a.required_during_scheduling_ignored_during_execution.iter_mut().flatten().for_each(fix);
            for w in a.preferred_during_scheduling_ignored_during_execution.iter_mut().flatten() {
                w.pod_affinity_term = translate_affinity_term(ctx, &namespace, &w.pod_affinity_term);
            }
        }
    }
    // `--node-selector` with `--enforce-node-selector` (pods/syncer.go `SyncDown`).
    if let Some(selector) = &settings.node_selector
        && spec.node_name.as_deref().unwrap_or_default().is_empty()
    {
        spec.node_selector = Some(selector.clone());
    }
    for t in &settings.tolerations {
        let list = spec.tolerations.get_or_insert_with(Vec::new);
        if !list.contains(t) {
            list.push(t.clone());
        }
    }

    Pod { metadata: meta, spec: Some(spec), status: None }
}

fn annotations_mut(a: &mut Option<Map>) -> &mut Map {
    a.get_or_insert_with(Map::new)
}

fn controller_kind(v: &Pod) -> Option<&str> {
    v.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true)).map(|o| o.kind.as_str())
}

fn owner_set_kind(v: &Pod) -> Option<&str> {
    v.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.api_version == "apps/v1" && matches!(o.kind.as_str(), "StatefulSet" | "ReplicaSet" | "DaemonSet"))
        .map(|o| o.kind.as_str())
}

/// Apply `f` to the env and envFrom of every container, init container and ephemeral container.
pub fn for_each_env(spec: &PodSpec, mut f: impl FnMut(&[EnvVar], &[EnvFromSource])) {
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        f(c.env.as_deref().unwrap_or_default(), c.env_from.as_deref().unwrap_or_default());
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        f(c.env.as_deref().unwrap_or_default(), c.env_from.as_deref().unwrap_or_default());
    }
}

/// The Secret names volume plugins reference (iSCSI, RBD, FlexVolume, Cinder, CephFS, AzureFile,
/// ScaleIO, StorageOS, CSI).
pub fn volume_secret_refs(volume: &Volume) -> Vec<&str> {
    [
        volume.iscsi.as_ref().and_then(|v| v.secret_ref.as_ref()).map(|r| &r.name),
        volume.rbd.as_ref().and_then(|v| v.secret_ref.as_ref()).map(|r| &r.name),
        volume.flex_volume.as_ref().and_then(|v| v.secret_ref.as_ref()).map(|r| &r.name),
        volume.cinder.as_ref().and_then(|v| v.secret_ref.as_ref()).map(|r| &r.name),
        volume.cephfs.as_ref().and_then(|v| v.secret_ref.as_ref()).map(|r| &r.name),
        volume.azure_file.as_ref().map(|v| &v.secret_name),
        volume.scale_io.as_ref().map(|v| &v.secret_ref.name),
        volume.storageos.as_ref().and_then(|v| v.secret_ref.as_ref()).map(|r| &r.name),
        volume.csi.as_ref().and_then(|v| v.node_publish_secret_ref.as_ref()).map(|r| &r.name),
    ]
    .into_iter()
    .flatten()
    .filter(|n| !n.is_empty())
    .map(String::as_str)
    .collect()
}

fn translate_container(
    c: &mut Container,
    namespace: &str,
    ctx: &Context,
    service_env: &BTreeMap<String, String>,
    settings: &Settings,
) {
    let (env, env_from) = translate_env(c.env.take(), c.env_from.take(), namespace, ctx, service_env);
    c.env = env;
    c.env_from = env_from;
    c.image = c.image.as_deref().map(|i| settings.image(i));
}

/// Env rewrite (`TranslateContainerEnv`): downward API field refs, ConfigMap/Secret key refs
/// and envFrom names translated; the service variables the container does not define itself
/// prepended, sorted.
fn translate_env(
    env: Option<Vec<EnvVar>>,
    env_from: Option<Vec<EnvFromSource>>,
    namespace: &str,
    ctx: &Context,
    service_env: &BTreeMap<String, String>,
) -> (Option<Vec<EnvVar>>, Option<Vec<EnvFromSource>>) {
    let mut env = env.unwrap_or_default();
    let defined: BTreeSet<String> = env.iter().map(|e| e.name.clone()).collect();
    for e in env.iter_mut() {
        if let Some(from) = e.value_from.as_mut() {
            if let Some(f) = from.field_ref.as_mut() {
                translate_field_ref(ctx, f);
            }
            if let Some(r) = from.config_map_key_ref.as_mut().filter(|r| !r.name.is_empty()) {
                r.name = ctx.translator.host_name(namespace, &r.name);
            }
            if let Some(r) = from.secret_key_ref.as_mut().filter(|r| !r.name.is_empty()) {
                r.name = ctx.translator.host_name(namespace, &r.name);
            }
        }
    }
    let env_from = env_from.map(|mut list| {
        for f in list.iter_mut() {
            if let Some(r) = f.config_map_ref.as_mut().filter(|r| !r.name.is_empty()) {
                r.name = ctx.translator.host_name(namespace, &r.name);
            }
            if let Some(r) = f.secret_ref.as_mut().filter(|r| !r.name.is_empty()) {
                r.name = ctx.translator.host_name(namespace, &r.name);
            }
        }
        list
    });
    let mut out: Vec<EnvVar> = service_env
        .iter()
        .filter(|(k, _)| !defined.contains(*k))
        .map(|(k, v)| EnvVar { name: k.clone(), value: Some(v.clone()), value_from: None })
        .collect();
    out.append(&mut env);
    (Some(out), env_from)
}

/// Downward API field paths pointing at what differs on the host (`translateFieldRef`).
pub fn translate_field_ref(ctx: &Context, f: &mut ObjectFieldSelector) {
    if let Some(key) = f.field_path.strip_prefix("metadata.labels['").and_then(|r| r.strip_suffix("']")) {
        f.field_path = format!("metadata.labels['{}']", ctx.translator.label_key(key));
        return;
    }
    let annotation = match f.field_path.as_str() {
        "metadata.labels" => LABELS_ANNOTATION,
        "metadata.name" => NAME_ANNOTATION,
        "metadata.namespace" => NAMESPACE_ANNOTATION,
        "metadata.uid" => UID_ANNOTATION,
        "spec.serviceAccountName" => SERVICE_ACCOUNT_NAME_ANNOTATION,
        _ => return,
    };
    f.field_path = format!("metadata.annotations['{annotation}']");
}

/// Service-link variables of the virtual services (only when the virtual pod enables service
/// links), then the `KUBERNETES_*` variables of the host's vcluster Service
/// (`ServicesToEnvironmentVariables`; the kubelet's `envvars.FromServices` format).
pub fn service_env(enable_links: bool, services: &[Service], kube_ip: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if enable_links {
        for svc in services {
            let Some(spec) = &svc.spec else { continue };
            let Some(ip) = spec.cluster_ip.as_deref().filter(|ip| !ip.is_empty() && *ip != "None") else { continue };
            let Some(first) = spec.ports.as_ref().and_then(|p| p.first()) else { continue };
            let prefix = svc.metadata.name.clone().unwrap_or_default().to_uppercase().replace('-', "_");
            out.insert(format!("{prefix}_SERVICE_HOST"), ip.to_owned());
            out.insert(format!("{prefix}_SERVICE_PORT"), first.port.to_string());
            for p in spec.ports.iter().flatten() {
                if let Some(pn) = p.name.as_deref().filter(|n| !n.is_empty()) {
                    out.insert(
                        format!("{prefix}_SERVICE_PORT_{}", pn.to_uppercase().replace('-', "_")),
                        p.port.to_string(),
                    );
                }
            }
            // `net.JoinHostPort`: IPv6 addresses in brackets.
            let host_port =
                |port: i32| if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };
            let proto_of =
                |p: &ServicePort| p.protocol.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "TCP".into());
            out.insert(
                format!("{prefix}_PORT"),
                format!("{}://{}", proto_of(first).to_lowercase(), host_port(first.port)),
            );
            for p in spec.ports.iter().flatten() {
                let proto = proto_of(p);
                let base = format!("{prefix}_PORT_{}_{}", p.port, proto.to_uppercase());
                out.insert(base.clone(), format!("{}://{}", proto.to_lowercase(), host_port(p.port)));
                out.insert(format!("{base}_PROTO"), proto.to_lowercase());
                out.insert(format!("{base}_PORT"), p.port.to_string());
                out.insert(format!("{base}_ADDR"), ip.to_owned());
            }
        }
    }
    if let Some(ip) = kube_ip {
        // Upstream substitutes the IP into `tcp://IP:443` as it is; an IPv6 address is
        // bracketed here, as the kubelet writes it.
        let url = if ip.contains(':') { format!("tcp://[{ip}]:443") } else { format!("tcp://{ip}:443") };
        for (k, v) in [
            ("KUBERNETES_PORT", url.clone()),
            ("KUBERNETES_PORT_443_TCP", url),
            ("KUBERNETES_PORT_443_TCP_ADDR", ip.to_owned()),
            ("KUBERNETES_PORT_443_TCP_PORT", "443".into()),
            ("KUBERNETES_PORT_443_TCP_PROTO", "tcp".into()),
            ("KUBERNETES_SERVICE_HOST", ip.to_owned()),
            ("KUBERNETES_SERVICE_PORT", "443".into()),
            ("KUBERNETES_SERVICE_PORT_HTTPS", "443".into()),
        ] {
            out.insert(k.to_owned(), v);
        }
    }
    out
}

/// Whether a pod resolves through the cluster DNS, so its host pod's DNS is rewritten to the
/// vcluster's: `ClusterFirstWithHostNet`, and `ClusterFirst` without host network (`Default`,
/// `None` and host-network `ClusterFirst` are left alone). An unset policy is the API server's
/// default, `ClusterFirst`. (`translateDNSConfig`)
pub fn uses_cluster_dns(spec: Option<&PodSpec>) -> bool {
    let policy = spec.and_then(|s| s.dns_policy.as_deref()).unwrap_or("ClusterFirst");
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    policy == "ClusterFirstWithHostNet" || (policy == "ClusterFirst" && !host_network)
}

/// Cluster-DNS pods resolve through the vcluster's DNS (`translateDNSConfig`,
/// `translateDNSClusterFirstConfig`): policy `None`, the DNS IP first then the pod's own
/// nameservers, the three cluster searches then the pod's own (duplicates dropped), `ndots: 5`
/// (the pod's own options are not kept).
fn translate_dns(spec: &mut PodSpec, namespace: &str, cluster_domain: &str, dns_ip: Option<&str>) {
    let Some(ip) = dns_ip.filter(|ip| !ip.is_empty()) else { return };
    if !uses_cluster_dns(Some(spec)) {
        return;
    }
    let mut config = PodDNSConfig {
        nameservers: Some(vec![ip.to_owned()]),
        options: Some(vec![PodDNSConfigOption { name: Some("ndots".into()), value: Some("5".into()) }]),
        searches: None,
    };
    if !cluster_domain.is_empty() {
        config.searches = Some(vec![
            format!("{namespace}.svc.{cluster_domain}"),
            format!("svc.{cluster_domain}"),
            cluster_domain.to_owned(),
        ]);
    }
    if let Some(existing) = spec.dns_config.take() {
        let dedup = |a: Option<Vec<String>>, b: Option<Vec<String>>| {
            let mut seen = BTreeSet::new();
            let v: Vec<String> =
                a.into_iter().flatten().chain(b.into_iter().flatten()).filter(|s| seen.insert(s.clone())).collect();
            Some(v)
        };
        config.nameservers = dedup(config.nameservers, existing.nameservers);
        config.searches = dedup(config.searches, existing.searches);
    }
    spec.dns_policy = Some("None".into());
    spec.dns_config = Some(config);
}

/// The init container that rewrites `/etc/hosts` so the pod's FQDN is its virtual one
/// (`rewritePodHostnameFQDN`).
fn rewrite_hosts(spec: &mut PodSpec, annotations: &mut Map, settings: &Settings, hostname: &str, fqdn: &str) {
    let resources: BTreeMap<String, Quantity> =
        [("cpu", "30m"), ("memory", "64Mi")].into_iter().map(|(k, v)| (k.to_owned(), Quantity(v.to_owned()))).collect();
    let init = Container {
        name: HOSTS_REWRITE_CONTAINER.into(),
        image: Some(settings.hosts_rewrite_image.clone()),
        command: Some(vec!["sh".into()]),
        args: Some(vec![
            "-c".into(),
            format!(
                "sed -E -e 's/^(\\d+.\\d+.\\d+.\\d+\\s+){hostname}$/\\1 {fqdn} {hostname}/' /etc/hosts > /hosts/hosts"
            ),
        ]),
        resources: Some(ResourceRequirements {
            limits: Some(resources.clone()),
            requests: Some(resources),
            claims: None,
        }),
        volume_mounts: Some(vec![VolumeMount {
            mount_path: "/hosts".into(),
            name: HOSTS_REWRITE_CONTAINER.into(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    spec.volumes.get_or_insert_with(Vec::new).push(Volume {
        name: HOSTS_REWRITE_CONTAINER.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    });
    let mount = VolumeMount {
        mount_path: "/etc/hosts".into(),
        name: HOSTS_REWRITE_CONTAINER.into(),
        sub_path: Some("hosts".into()),
        ..VolumeMount::default()
    };
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        c.volume_mounts.get_or_insert_with(Vec::new).push(mount.clone());
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        c.volume_mounts.get_or_insert_with(Vec::new).push(mount.clone());
    }
    let mut inits = vec![init];
    inits.extend(spec.init_containers.take().unwrap_or_default());
    spec.init_containers = Some(inits);
    annotations.insert(HOSTS_REWRITTEN_ANNOTATION.into(), "true".into());
}

fn translate_volumes(spec: &mut PodSpec, v: &Pod, ctx: &Context, annotations: &mut Map, tokens: &[(String, String)]) {
    let namespace = v.metadata.namespace.clone().unwrap_or_default();
    let pod_name = v.metadata.name.clone().unwrap_or_default();
    let hn = |n: &str| ctx.translator.host_name(&namespace, n);
    let mut tokens = tokens.iter();
    for volume in spec.volumes.iter_mut().flatten() {
        if let Some(cm) = volume.config_map.as_mut() {
            cm.name = hn(&cm.name);
        }
        if let Some(s) = volume.secret.as_mut() {
            s.secret_name = s.secret_name.as_deref().map(hn);
        }
        if let Some(c) = volume.persistent_volume_claim.as_mut() {
            c.claim_name = hn(&c.claim_name);
        }
        if volume.ephemeral.take().is_some() {
            // The virtual cluster's ephemeral-volume controller creates `<pod>-<volume>`; the
            // host pod uses that claim once synced (`ephemeral.VolumeClaimName`).
            volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
                claim_name: hn(&format!("{pod_name}-{}", volume.name)),
                read_only: None,
            });
        }
        if let Some(projected) = volume.projected.as_mut() {
            for source in projected.sources.iter_mut().flatten() {
                if let Some(s) = source.secret.as_mut() {
                    s.name = hn(&s.name);
                }
                if let Some(c) = source.config_map.as_mut() {
                    c.name = hn(&c.name);
                }
                for item in source.downward_api.iter_mut().flat_map(|d| d.items.iter_mut().flatten()) {
                    if let Some(f) = item.field_ref.as_mut() {
                        translate_field_ref(ctx, f);
                    }
                }
                if let Some(token) = source.service_account_token.take() {
                    let Some((key, value)) = tokens.next() else {
                        source.service_account_token = Some(token);
                        continue;
                    };
                    annotations.insert(key.clone(), value.clone());
                    source.downward_api = Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: token.path,
                            field_ref: Some(ObjectFieldSelector {
                                api_version: Some("v1".into()),
                                field_path: format!("metadata.annotations['{key}']"),
                            }),
                            mode: Some(0o644),
                            resource_field_ref: None,
                        }]),
                    });
                }
            }
        }
        for item in volume.downward_api.iter_mut().flat_map(|d| d.items.iter_mut().flatten()) {
            if let Some(f) = item.field_ref.as_mut() {
                translate_field_ref(ctx, f);
            }
        }
        if let Some(r) = volume.iscsi.as_mut().and_then(|x| x.secret_ref.as_mut()) {
            r.name = hn(&r.name);
        }
        if let Some(r) = volume.rbd.as_mut().and_then(|x| x.secret_ref.as_mut()) {
            r.name = hn(&r.name);
        }
        if let Some(r) = volume.flex_volume.as_mut().and_then(|x| x.secret_ref.as_mut()) {
            r.name = hn(&r.name);
        }
        if let Some(r) = volume.cinder.as_mut().and_then(|x| x.secret_ref.as_mut()) {
            r.name = hn(&r.name);
        }
        if let Some(r) = volume.cephfs.as_mut().and_then(|x| x.secret_ref.as_mut()) {
            r.name = hn(&r.name);
        }
        if let Some(a) = volume.azure_file.as_mut().filter(|a| !a.secret_name.is_empty()) {
            a.secret_name = hn(&a.secret_name);
        }
        if let Some(s) = volume.scale_io.as_mut() {
            s.secret_ref.name = hn(&s.secret_ref.name);
        }
        if let Some(r) = volume.storageos.as_mut().and_then(|x| x.secret_ref.as_mut()) {
            r.name = hn(&r.name);
        }
        if let Some(r) = volume.csi.as_mut().and_then(|x| x.node_publish_secret_ref.as_mut()) {
            r.name = hn(&r.name);
        }
        if let Some(g) = volume.glusterfs.as_mut().filter(|g| !g.endpoints.is_empty()) {
            g.endpoints = hn(&g.endpoints);
        }
    }
}

/// A label selector with hashed keys (`TranslateLabelSelector`).
pub fn translate_label_selector(ctx: &Context, s: &LabelSelector) -> LabelSelector {
    super::pvcs::translate_selector(ctx, s)
}

/// An inter-pod affinity term restricted to this vcluster and the right virtual namespaces
/// (`translatePodAffinityTerm`).
fn translate_affinity_term(ctx: &Context, namespace: &str, term: &PodAffinityTerm) -> PodAffinityTerm {
    let mut out = PodAffinityTerm {
        label_selector: term.label_selector.as_ref().map(|s| translate_label_selector(ctx, s)),
        topology_key: term.topology_key.clone(),
        ..PodAffinityTerm::default()
    };
    let Some(selector) = out.label_selector.as_mut() else { return out };
    let ns_selector_empty = term.namespace_selector.as_ref().is_some_and(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
    });
    let namespaces = term.namespaces.clone().unwrap_or_default();
    if !namespaces.is_empty() {
        if term.namespace_selector.is_none() || !ns_selector_empty {
            selector.match_expressions.get_or_insert_with(Vec::new).push(LabelSelectorRequirement {
                key: NAMESPACE_LABEL.into(),
                operator: "In".into(),
                values: Some(namespaces),
            });
        }
    } else if let Some(ns_selector) = &term.namespace_selector {
        *selector = LabelSelector {
            match_labels: ns_selector
                .match_labels
                .as_ref()
                .map(|m| m.iter().map(|(k, v)| (ctx.translator.namespace_label_key(k), v.clone())).collect()),
            match_expressions: ns_selector.match_expressions.as_ref().filter(|e| !e.is_empty()).map(|e| {
                e.iter()
                    .map(|r| LabelSelectorRequirement {
                        key: ctx.translator.namespace_label_key(&r.key),
                        operator: r.operator.clone(),
                        values: r.values.clone(),
                    })
                    .collect()
            }),
        };
    } else {
        selector.match_labels.get_or_insert_with(BTreeMap::new).insert(NAMESPACE_LABEL.into(), namespace.to_owned());
    }
    selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(MANAGED_BY_LABEL.into(), ctx.translator.vcluster.clone());
    out
}

/// Annotations never copied from the virtual pod nor dropped from the host pod on update: the
/// ones the translation stamps, and the token annotations the host pod's volumes read
/// (`GetExcludedAnnotations`).
pub fn excluded_annotations(h: &Pod) -> Vec<String> {
    let mut out: Vec<String> = [
        SAFE_TO_EVICT_ANNOTATION,
        OWNER_SET_KIND_ANNOTATION,
        NAMESPACE_ANNOTATION,
        NAME_ANNOTATION,
        UID_ANNOTATION,
        SERVICE_ACCOUNT_NAME_ANNOTATION,
        HOSTS_REWRITTEN_ANNOTATION,
        LABELS_ANNOTATION,
        DAEMONSET_POD_ANNOTATION,
        // Written by newer established syncers (v0.16+): kept as they are.
        "vcluster.loft.sh/owner-references",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for volume in h.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        for source in volume.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            for item in source.downward_api.iter().flat_map(|d| d.items.iter().flatten()) {
                let Some(f) = &item.field_ref else { continue };
                if let Some(key) =
                    f.field_path.strip_prefix("metadata.annotations['").and_then(|r| r.strip_suffix("']"))
                    && key.starts_with(TOKEN_ANNOTATION_PREFIX)
                {
                    out.push(key.to_owned());
                }
            }
        }
    }
    out
}

/// The updated host pod, or `None` when nothing changed: images of containers and init
/// containers (`--translate-image` applied; the hosts-rewrite container skipped),
/// `activeDeadlineSeconds`, labels (with the namespace projection) and annotations
/// (`translator.Diff`, `calcSpecDiff`).
pub fn diff(ctx: &Context, settings: &Settings, v: &Pod, h: &Pod, namespace_labels: Option<&Map>) -> Option<Pod> {
    let mut out = h.clone();
    let mut changed = false;
    let (Some(vs), Some(hs)) = (v.spec.as_ref(), out.spec.as_mut()) else { return None };
    if vs.active_deadline_seconds != hs.active_deadline_seconds {
        hs.active_deadline_seconds = vs.active_deadline_seconds;
        changed = true;
    }
    changed |= sync_images(&mut hs.containers, &vs.containers, settings);
    if let Some(inits) = hs.init_containers.as_mut() {
        changed |= sync_images(inits, vs.init_containers.as_deref().unwrap_or_default(), settings);
    }
    if vs.scheduling_gates != hs.scheduling_gates && hs.scheduling_gates.as_ref().is_some_and(|g| !g.is_empty()) {
        hs.scheduling_gates = vs.scheduling_gates.clone();
        changed = true;
    }

    let excluded = excluded_annotations(h);
    let excluded: Vec<&str> = excluded.iter().map(String::as_str).collect();
    let (mut labels, mut annotations) = ctx.desired_labels_annotations(&v.metadata, &h.metadata, &excluded);
    annotations.insert(LABELS_ANNOTATION.into(), labels_annotation(v.metadata.labels.as_ref()));
    for (k, val) in namespace_labels.into_iter().flatten() {
        labels.insert(ctx.translator.namespace_label_key(k), val.clone());
    }
    if Some(&labels) != h.metadata.labels.as_ref() {
        out.metadata.labels = Some(labels);
        changed = true;
    }
    if Some(&annotations) != h.metadata.annotations.as_ref() {
        out.metadata.annotations = Some(annotations);
        changed = true;
    }
    changed.then_some(out)
}

fn sync_images(host: &mut [Container], virtual_containers: &[Container], settings: &Settings) -> bool {
    let mut changed = false;
    for hc in host.iter_mut() {
        if hc.name == HOSTS_REWRITE_CONTAINER {
            continue;
        }
        if let Some(vc) = virtual_containers.iter().find(|c| c.name == hc.name) {
            let want = vc.image.as_deref().map(|i| settings.image(i));
            if want.is_some() && hc.image != want {
                hc.image = want;
                changed = true;
            }
        }
    }
    changed
}

/// The virtual pod's new status when the host's differs (the hosts-rewrite init container's
/// status left out). (`pods/syncer.go` `Sync`, `stripHostRewriteContainer`)
pub fn status_for_virtual(v: &Pod, h: &Pod) -> Option<PodStatus> {
    let mut status = h.status.clone().unwrap_or_default();
    let rewritten =
        h.metadata.annotations.as_ref().and_then(|a| a.get(HOSTS_REWRITTEN_ANNOTATION)).is_some_and(|x| x == "true");
    if rewritten && let Some(list) = status.init_container_statuses.as_mut() {
        list.retain(|s| s.name != HOSTS_REWRITE_CONTAINER);
    }
    (v.status.clone().unwrap_or_default() != status).then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::map;
    use crate::translate::testing::{ctx, meta};
    use k8s_openapi::api::core::v1::{
        ConfigMapVolumeSource, EnvVarSource, ProjectedVolumeSource, SecretKeySelector, ServiceAccountTokenProjection,
        VolumeProjection,
    };

    fn settings() -> Settings {
        Settings {
            cluster_domain: "cluster.local".into(),
            service_account: "vc-workload-vcluster".into(),
            override_hosts: true,
            hosts_rewrite_image: "library/alpine:3.13.1".into(),
            ..Settings::default()
        }
    }

    fn pod() -> Pod {
        let mut m = meta("default", "web");
        m.labels = Some(map([("app", "web")]));
        Pod {
            metadata: m,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    image: Some("nginx".into()),
                    env: Some(vec![
                        EnvVar {
                            name: "POD".into(),
                            value_from: Some(EnvVarSource {
                                field_ref: Some(ObjectFieldSelector {
                                    api_version: None,
                                    field_path: "metadata.name".into(),
                                }),
                                ..Default::default()
                            }),
                            value: None,
                        },
                        EnvVar {
                            name: "PW".into(),
                            value_from: Some(EnvVarSource {
                                secret_key_ref: Some(SecretKeySelector {
                                    name: "db".into(),
                                    key: "pw".into(),
                                    optional: None,
                                }),
                                ..Default::default()
                            }),
                            value: None,
                        },
                    ]),
                    ..Container::default()
                }],
                service_account_name: Some("default".into()),
                volumes: Some(vec![
                    Volume {
                        name: "cfg".into(),
                        config_map: Some(ConfigMapVolumeSource { name: "settings".into(), ..Default::default() }),
                        ..Volume::default()
                    },
                    Volume {
                        name: "kube-api-access".into(),
                        projected: Some(ProjectedVolumeSource {
                            sources: Some(vec![VolumeProjection {
                                service_account_token: Some(ServiceAccountTokenProjection {
                                    path: "token".into(),
                                    audience: None,
                                    expiration_seconds: Some(3607),
                                }),
                                ..Default::default()
                            }]),
                            default_mode: Some(420),
                        }),
                        ..Volume::default()
                    },
                ]),
                ..PodSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn translates_a_pod_like_upstream() {
        let v = pod();
        let ns_labels = map([("kubernetes.io/metadata.name", "default")]);
        let inputs = Inputs {
            namespace_labels: Some(&ns_labels),
            tokens: vec![("vcluster.loft.sh/token-abcdefgh".into(), "TOKEN".into())],
            kube_ip: Some("10.96.0.10"),
            ..Inputs::default()
        };
        let h = to_host(&ctx(), &settings(), &v, &inputs);
        assert_eq!(h.metadata.name.as_deref(), Some("web-x-default-x-vcluster"));
        assert_eq!(h.metadata.namespace.as_deref(), Some("test"));
        let labels = h.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["vcluster.loft.sh/label-vcluster-x-a172cedcae"], "web");
        // printf %s kubernetes.io/metadata.name | sha256sum → cf1227b7b2…
        assert_eq!(labels["vcluster.loft.sh/ns-label-vcluster-x-cf1227b7b2"], "default");
        let a = h.metadata.annotations.as_ref().unwrap();
        assert_eq!(a[NAME_ANNOTATION], "web");
        assert_eq!(a[NAMESPACE_ANNOTATION], "default");
        assert_eq!(a[UID_ANNOTATION], "uid-web");
        assert_eq!(a[SERVICE_ACCOUNT_NAME_ANNOTATION], "default");
        assert_eq!(a[LABELS_ANNOTATION], "app=\"web\"");
        assert_eq!(a[SAFE_TO_EVICT_ANNOTATION], "false");
        assert_eq!(a["vcluster.loft.sh/token-abcdefgh"], "TOKEN");
        let s = h.spec.as_ref().unwrap();
        assert_eq!(s.service_account_name.as_deref(), Some("vc-workload-vcluster"));
        assert_eq!(s.automount_service_account_token, Some(false));
        assert_eq!(s.enable_service_links, Some(false));
        assert_eq!(s.hostname.as_deref(), Some("web"));
        assert_eq!(s.host_aliases.as_ref().unwrap()[0].ip, "10.96.0.10");
        let env = s.containers[0].env.as_ref().unwrap();
        assert_eq!(env[0].name, "KUBERNETES_PORT", "service variables first, sorted");
        let pod_env = env.iter().find(|e| e.name == "POD").unwrap();
        assert_eq!(
            pod_env.value_from.as_ref().unwrap().field_ref.as_ref().unwrap().field_path,
            "metadata.annotations['vcluster.loft.sh/name']"
        );
        let pw = env.iter().find(|e| e.name == "PW").unwrap();
        assert_eq!(pw.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap().name, "db-x-default-x-vcluster");
        let vols = s.volumes.as_ref().unwrap();
        assert_eq!(vols[0].config_map.as_ref().unwrap().name, "settings-x-default-x-vcluster");
        let token = vols[1].projected.as_ref().unwrap().sources.as_ref().unwrap()[0].clone();
        assert!(token.service_account_token.is_none());
        let item = &token.downward_api.unwrap().items.unwrap()[0];
        assert_eq!(item.path, "token");
        assert_eq!(
            item.field_ref.as_ref().unwrap().field_path,
            "metadata.annotations['vcluster.loft.sh/token-abcdefgh']"
        );
        assert_eq!(item.mode, Some(0o644));
        // No DNS IP yet (part 2): the DNS policy is left alone.
        assert_eq!(s.dns_policy, None);
        assert!(h.status.is_none());
    }

    #[test]
    fn token_sources_use_the_virtual_account_and_default_audiences() {
        let sources = token_sources(&settings(), &pod());
        assert_eq!(sources.len(), 1);
        assert_eq!(sources[0].service_account, "default");
        assert_eq!(
            sources[0].audiences,
            [
                "https://kubernetes.default.svc.cluster.local",
                "https://kubernetes.default.svc",
                "https://kubernetes.default"
            ]
        );
        assert_eq!(sources[0].expiration_seconds, 315_360_000);
    }

    #[test]
    fn dns_points_at_the_vcluster_dns() {
        let inputs = Inputs { dns_ip: Some("10.96.0.53"), ..Inputs::default() };
        let h = to_host(&ctx(), &settings(), &pod(), &inputs);
        let s = h.spec.unwrap();
        assert_eq!(s.dns_policy.as_deref(), Some("None"));
        let c = s.dns_config.unwrap();
        assert_eq!(c.nameservers.unwrap(), ["10.96.0.53"]);
        assert_eq!(c.searches.unwrap(), ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    }

    #[test]
    fn dns_policies_that_use_the_vcluster_dns() {
        let spec = |policy: Option<&str>, host_network: bool| PodSpec {
            dns_policy: policy.map(str::to_owned),
            host_network: Some(host_network),
            ..PodSpec::default()
        };
        assert!(uses_cluster_dns(None), "unset is the API server's ClusterFirst");
        assert!(uses_cluster_dns(Some(&spec(Some("ClusterFirst"), false))));
        assert!(!uses_cluster_dns(Some(&spec(Some("ClusterFirst"), true))));
        assert!(uses_cluster_dns(Some(&spec(Some("ClusterFirstWithHostNet"), true))));
        assert!(uses_cluster_dns(Some(&spec(Some("ClusterFirstWithHostNet"), false))));
        assert!(!uses_cluster_dns(Some(&spec(Some("Default"), false))));
        assert!(!uses_cluster_dns(Some(&spec(Some("None"), false))));
        for policy in ["Default", "None"] {
            let mut v = pod();
            v.spec.as_mut().unwrap().dns_policy = Some(policy.into());
            let inputs = Inputs { dns_ip: Some("10.96.0.53"), ..Inputs::default() };
            let s = to_host(&ctx(), &settings(), &v, &inputs).spec.unwrap();
            assert_eq!(s.dns_policy.as_deref(), Some(policy));
            assert_eq!(s.dns_config, None);
        }
        // No DNS IP (no CoreDNS): the policy is left alone.
        let s = to_host(&ctx(), &settings(), &pod(), &Inputs::default()).spec.unwrap();
        assert_eq!((s.dns_policy, s.dns_config), (None, None));
    }

    #[test]
    fn dns_config_merges_the_pods_own_and_follows_the_cluster_domain() {
        let mut v = pod();
        v.metadata.namespace = Some("team-a".into());
        let spec = v.spec.as_mut().unwrap();
        spec.dns_policy = Some("ClusterFirst".into());
        spec.dns_config = Some(PodDNSConfig {
            nameservers: Some(vec!["1.1.1.1".into(), "10.96.0.53".into()]),
            searches: Some(vec!["corp.example".into(), "svc.corp.internal".into()]),
            options: Some(vec![PodDNSConfigOption { name: Some("edns0".into()), value: None }]),
        });
        let settings = Settings { cluster_domain: "corp.internal".into(), ..settings() };
        let inputs = Inputs { dns_ip: Some("10.96.0.53"), ..Inputs::default() };
        let s = to_host(&ctx(), &settings, &v, &inputs).spec.unwrap();
        assert_eq!(s.dns_policy.as_deref(), Some("None"));
        let c = s.dns_config.unwrap();
        assert_eq!(c.nameservers.unwrap(), ["10.96.0.53", "1.1.1.1"]);
        assert_eq!(
            c.searches.unwrap(),
            ["team-a.svc.corp.internal", "svc.corp.internal", "corp.internal", "corp.example"]
        );
        // Only ndots:5; the pod's own options are not kept (as upstream).
        assert_eq!(c.options.unwrap(), [PodDNSConfigOption { name: Some("ndots".into()), value: Some("5".into()) }]);
    }

    #[test]
    fn kubernetes_variables_and_service_links_with_ipv6() {
        let env = service_env(true, &[], Some("fd00::1"));
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "fd00::1");
        assert_eq!(env["KUBERNETES_SERVICE_PORT"], "443");
        assert_eq!(env["KUBERNETES_PORT"], "tcp://[fd00::1]:443");
        assert_eq!(env["KUBERNETES_PORT_443_TCP_ADDR"], "fd00::1");
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "dns", "namespace": "default"},
            "spec": {"clusterIP": "fd00::a", "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "tcp", "port": 53, "protocol": ""}
            ]}
        }))
        .unwrap();
        let env = service_env(true, &[svc], None);
        assert_eq!(env["DNS_SERVICE_HOST"], "fd00::a");
        assert_eq!(env["DNS_PORT"], "udp://[fd00::a]:53");
        assert_eq!(env["DNS_PORT_53_UDP"], "udp://[fd00::a]:53");
        assert_eq!(env["DNS_PORT_53_TCP"], "tcp://[fd00::a]:53", "an empty protocol is TCP");
        assert_eq!(env["DNS_PORT_53_TCP_PROTO"], "tcp");
    }

    #[test]
    fn subdomain_rewrites_hosts() {
        let mut v = pod();
        let spec = v.spec.as_mut().unwrap();
        spec.subdomain = Some("headless".into());
        v.metadata.name = Some("web-0".into());
        let h = to_host(&ctx(), &settings(), &v, &Inputs::default());
        let s = h.spec.unwrap();
        assert_eq!(s.subdomain, None);
        let init = &s.init_containers.unwrap()[0];
        assert_eq!(init.name, HOSTS_REWRITE_CONTAINER);
        assert!(init.args.as_ref().unwrap()[1].contains("web-0.headless.default.svc.cluster.local web-0"));
        assert_eq!(h.metadata.annotations.unwrap()[HOSTS_REWRITTEN_ANNOTATION], "true");
        assert_eq!(s.containers[0].volume_mounts.as_ref().unwrap()[0].mount_path, "/etc/hosts");
    }

    #[test]
    fn hostname_with_dots_and_long_names() {
        let mut v = pod();
        v.metadata.name = Some("a.b.".into());
        let h = to_host(&ctx(), &settings(), &v, &Inputs::default());
        assert_eq!(h.spec.unwrap().hostname.as_deref(), Some("a-b"));
    }

    #[test]
    fn diff_updates_images_and_labels_only() {
        let c = ctx();
        let v = pod();
        let ns = map([("team", "a")]);
        let inputs = Inputs { namespace_labels: Some(&ns), ..Inputs::default() };
        let h = to_host(&c, &settings(), &v, &inputs);
        assert!(diff(&c, &settings(), &v, &h, Some(&ns)).is_none(), "fresh translation needs no update");
        let mut v2 = v.clone();
        v2.spec.as_mut().unwrap().containers[0].image = Some("nginx:2".into());
        v2.metadata.labels = Some(map([("app", "web2")]));
        let updated = diff(&c, &settings(), &v2, &h, Some(&ns)).unwrap();
        assert_eq!(updated.spec.as_ref().unwrap().containers[0].image.as_deref(), Some("nginx:2"));
        assert_eq!(updated.metadata.labels.as_ref().unwrap()["vcluster.loft.sh/label-vcluster-x-a172cedcae"], "web2");
        assert_eq!(updated.metadata.annotations.as_ref().unwrap()[LABELS_ANNOTATION], "app=\"web2\"");
        // Namespace label change only.
        let ns2 = map([("team", "b")]);
        assert!(diff(&c, &settings(), &v, &h, Some(&ns2)).is_some());
    }

    #[test]
    fn status_back_without_the_rewrite_container() {
        let v = pod();
        let mut h = to_host(&ctx(), &settings(), &v, &Inputs::default());
        assert!(status_for_virtual(&v, &h).is_none());
        h.metadata.annotations.as_mut().unwrap().insert(HOSTS_REWRITTEN_ANNOTATION.into(), "true".into());
        h.status = Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some("10.244.0.5".into()),
            init_container_statuses: Some(vec![k8s_openapi::api::core::v1::ContainerStatus {
                name: HOSTS_REWRITE_CONTAINER.into(),
                ..Default::default()
            }]),
            ..PodStatus::default()
        });
        let s = status_for_virtual(&v, &h).unwrap();
        assert_eq!(s.pod_ip.as_deref(), Some("10.244.0.5"));
        assert_eq!(s.init_container_statuses, Some(vec![]));
    }

    #[test]
    fn affinity_terms_are_pinned() {
        let c = ctx();
        let term = PodAffinityTerm {
            label_selector: Some(LabelSelector { match_labels: Some(map([("app", "db")])), match_expressions: None }),
            topology_key: "kubernetes.io/hostname".into(),
            ..PodAffinityTerm::default()
        };
        let out = translate_affinity_term(&c, "default", &term);
        assert_eq!(
            out.label_selector.unwrap().match_labels.unwrap(),
            map([
                ("vcluster.loft.sh/label-vcluster-x-a172cedcae", "db"),
                ("vcluster.loft.sh/managed-by", "vcluster"),
                ("vcluster.loft.sh/namespace", "default"),
            ])
        );
    }

    #[test]
    fn image_translation_and_service_links() {
        let mut s = settings();
        s.image_translations.insert("nginx".into(), "mirror.io/nginx".into());
        let h = to_host(&ctx(), &s, &pod(), &Inputs::default());
        assert_eq!(h.spec.unwrap().containers[0].image.as_deref(), Some("mirror.io/nginx"));
        let svc = Service {
            metadata: meta("default", "my-db"),
            spec: Some(k8s_openapi::api::core::v1::ServiceSpec {
                cluster_ip: Some("10.96.1.2".into()),
                ports: Some(vec![k8s_openapi::api::core::v1::ServicePort {
                    port: 5432,
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        };
        let env = service_env(true, std::slice::from_ref(&svc), None);
        assert_eq!(env["MY_DB_SERVICE_HOST"], "10.96.1.2");
        assert_eq!(env["MY_DB_PORT_5432_TCP"], "tcp://10.96.1.2:5432");
        assert!(service_env(false, &[svc], None).is_empty());
    }
}
