//! The syncer's flags: every flag of the established syncer (loft-sh/vcluster v0.15.7
//! `cmd/vcluster/context/flag_options.go`, the union of the v0.15.x flag sets) with its meaning
//! and default, parsed as pflag parses them (`--flag`, `--flag=true|false` for booleans, repeated
//! or comma-separated lists), and the resolution of `--sync` into the set of enabled controllers
//! (`cmd/vcluster/context/enable_controllers.go`).

use std::collections::BTreeSet;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

use crate::error::OptionsError;

/// `--override-hosts-container-image`'s default (`DefaultHostsRewriteImage`).
pub const DEFAULT_HOSTS_REWRITE_IMAGE: &str = "library/alpine:3.13.1";

/// Go's `strconv.ParseBool`, as pflag uses it for boolean flags.
fn go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

/// The flags. Field docs are the established syncer's help texts.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "vcluster-syncer",
    about = "The vcluster syncer: runs a virtual cluster's workloads in the host namespace",
    version,
    disable_help_subcommand = true
)]
#[allow(clippy::struct_excessive_bools)]
pub struct Options {
    /// If set, will override the context name of the generated virtual cluster kube config with this name
    #[arg(long, default_value = "")]
    pub kube_config_context_name: String,
    /// A list of sync controllers to enable. 'foo' enables the sync controller named 'foo', '-foo' disables the sync controller named 'foo'
    #[arg(long = "sync", value_delimiter = ',', allow_hyphen_values = true)]
    pub controllers: Vec<String>,
    /// The path to the request header ca certificate
    #[arg(long, default_value = "/data/server/tls/request-header-ca.crt")]
    pub request_header_ca_cert: String,
    /// The path to the client ca certificate
    #[arg(long, default_value = "/data/server/tls/client-ca.crt")]
    pub client_ca_cert: String,
    /// The path to the server ca certificate
    #[arg(long, default_value = "/data/server/tls/server-ca.crt")]
    pub server_ca_cert: String,
    /// The path to the server ca key
    #[arg(long, default_value = "/data/server/tls/server-ca.key")]
    pub server_ca_key: String,
    /// The path to the virtual cluster admin kube config
    #[arg(long, default_value = "/data/server/cred/admin.kubeconfig")]
    pub kube_config: String,
    /// Add additional hostname or IP as a Subject Alternative Name in the TLS cert
    #[arg(long = "tls-san", value_delimiter = ',')]
    pub tls_sans: Vec<String>,
    /// If specified, the virtual cluster will write the generated kube config to the given secret
    #[arg(long = "out-kube-config-secret", default_value = "")]
    pub kube_config_secret: String,
    /// If specified, the virtual cluster will write the generated kube config in the given namespace
    #[arg(long = "out-kube-config-secret-namespace", default_value = "")]
    pub kube_config_secret_namespace: String,
    /// If specified, the virtual cluster will use this server for the generated kube config (e.g. https://my-vcluster.domain.com)
    #[arg(long = "out-kube-config-server", default_value = "")]
    pub kube_config_server: String,
    /// The namespace to run the virtual cluster in (defaults to current namespace)
    #[arg(long, default_value = "")]
    pub target_namespace: String,
    /// The service name where the vcluster proxy will be available
    #[arg(long, default_value = "")]
    pub service_name: String,
    /// If true, will set the same owner the currently running syncer pod has on the synced resources
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub set_owner: bool,
    /// The name of the virtual cluster
    #[arg(long, default_value = "")]
    pub name: String,
    /// The address to bind the server to
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: String,
    /// The port to bind to
    #[arg(long, default_value_t = 8443)]
    pub port: u16,
    /// If enabled and --fake-nodes is false, the virtual cluster will sync all nodes instead of only the needed ones
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub sync_all_nodes: bool,
    /// If enabled, will expect a scheduler running in the virtual cluster
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub enable_scheduler: bool,
    /// If disabled, the virtual cluster will not create fake kubelet endpoints to support metrics-servers
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub disable_fake_kubelets: bool,
    /// If enabled, virtual cluster will assign fake ips of type NodeInternalIP to fake the kubelets
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub fake_kubelet_ips: bool,
    /// If enabled, when syncing real nodes, the status.images data will be removed from the vcluster nodes
    #[arg(long = "node-clear-image-status", default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub clear_node_images: bool,
    /// Translates image names from the virtual pod to the physical pod (e.g. coredns/coredns=mirror.io/coredns/coredns)
    #[arg(long = "translate-image", value_delimiter = ',')]
    pub translate_images: Vec<String>,
    /// If enabled and --node-selector is set then the virtual cluster will ensure that no pods are scheduled outside of the node selector
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub enforce_node_selector: bool,
    /// If set will apply the provided tolerations to all pods in the vcluster
    #[arg(long = "enforce-toleration", value_delimiter = ',')]
    pub tolerations: Vec<String>,
    /// If nodes sync is enabled, nodes with the given node selector will be synced to the virtual cluster. If fake nodes are used, and --enforce-node-selector flag is set, then vcluster will ensure that no pods are scheduled outside of the node selector.
    #[arg(long, default_value = "")]
    pub node_selector: String,
    /// If set, will set this host service account on the synced pods
    #[arg(long, default_value = "")]
    pub service_account: String,
    /// If enabled, vcluster will override a containers /etc/hosts file if there is a subdomain specified for the pod (spec.subdomain).
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub override_hosts: bool,
    /// The image for the init container that is used for creating the override hosts file.
    #[arg(long, default_value = DEFAULT_HOSTS_REWRITE_IMAGE)]
    pub override_hosts_container_image: String,
    /// The cluster domain ending that should be used for the virtual cluster
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// If enabled, syncer will use leader election
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub leader_elect: bool,
    /// Lease duration of the leader election in seconds
    #[arg(long, default_value_t = 60)]
    pub lease_duration: i64,
    /// Renew deadline of the leader election in seconds
    #[arg(long, default_value_t = 40)]
    pub renew_deadline: i64,
    /// Retry period of the leader election in seconds
    #[arg(long, default_value_t = 15)]
    pub retry_period: i64,
    /// If enabled, vcluster will not load any plugins
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub disable_plugins: bool,
    /// The plugin address to listen to. If this is changed, you'll need to configure your plugins to connect to the updated port
    #[arg(long, default_value = "localhost:10099")]
    pub plugin_listen_address: String,
    /// This address will be prepended to all deployed system images by vcluster
    #[arg(long, default_value = "")]
    pub default_image_registry: String,
    /// This can be set to 'privileged', 'baseline', or 'restricted' to make vcluster enforce these policies during translation.
    #[arg(long, default_value = "")]
    pub enforce_pod_security_standard: String,
    /// The specified labels will be synced to physical resources, in addition to their vcluster translated versions.
    #[arg(long, value_delimiter = ',')]
    pub sync_labels: Vec<String>,
    /// The plugins to wait for during startup
    #[arg(long, value_delimiter = ',')]
    pub plugins: Vec<String>,
    /// Maps a given service inside the virtual cluster to a service inside the host cluster. E.g. default/test=physical-service
    #[arg(long = "map-virtual-service", value_delimiter = ',')]
    pub map_virtual_services: Vec<String>,
    /// Maps a given service inside the host cluster to a service inside the virtual cluster. E.g. other-namespace/my-service=my-vcluster-namespace/my-service
    #[arg(long = "map-host-service", value_delimiter = ',')]
    pub map_host_services: Vec<String>,
    /// If set, metrics for the controller manager for the resources managed in the host cluster will be exposed at this address
    #[arg(long, default_value = "0")]
    pub host_metrics_bind_address: String,
    /// If set, metrics for the controller manager for the resources managed in the virtual cluster will be exposed at this address
    #[arg(long, default_value = "0")]
    pub virtual_metrics_bind_address: String,
    /// If enabled, syncer will rewite hostpaths in synced pod volumes
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub mount_physical_host_paths: bool,
    /// If enabled, syncer will create a namespace for each virtual namespace and use the original names for the synced namespaced resources
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub multi_namespace_mode: bool,
    /// Defines one or more labels that will be added to the namespaces synced in the multi-namespace mode. Format: "labelKey=labelValue". Multiple values can be passed in a comma-separated string.
    #[arg(long, value_delimiter = ',')]
    pub namespace_labels: Vec<String>,
    /// Sync all configmaps from virtual to host cluster
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub sync_all_configmaps: bool,
    /// Sync all secrets from virtual to host cluster
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub sync_all_secrets: bool,
    /// Proxy the host cluster metrics server
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub proxy_metrics_server: bool,
    /// Create secrets for pod service account tokens instead of injecting it as annotations
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub service_account_token_secrets: bool,
    /// DEPRECATED: If enabled, syncer will rewite hostpaths in synced pod volumes
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub rewrite_host_paths: bool,
    /// If enabled and --fake-nodes is false, the virtual cluster will proxy node updates from the virtual cluster to the host cluster. This is not recommended and should only be used if you know what you are doing.
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub sync_node_changes: bool,
    /// DEPRECATED: use --disable-fake-kubelets instead
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub fake_kubelets: bool,
    /// DEPRECATED: use --sync=-fake-nodes instead
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub fake_nodes: bool,
    /// DEPRECATED: use --sync=-fake-persistentvolumes instead
    #[arg(long, default_value = "true", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub fake_persistent_volumes: bool,
    /// DEPRECATED: use --sync=storageclasses instead
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub enable_storage_classes: bool,
    /// DEPRECATED: use --sync=priorityclasses instead
    #[arg(long, default_value = "false", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = go_bool)]
    pub enable_priority_classes: bool,
    /// DEPRECATED: use --name instead
    #[arg(long, default_value = "")]
    pub suffix: String,
    /// DEPRECATED: use --set-owner instead
    #[arg(long, default_value = "")]
    pub owning_statefulset: String,
    /// DEPRECATED: use --sync instead
    #[arg(long, default_value = "")]
    pub disable_sync_resources: String,
    // Ours (hidden; the established syncer has these paths built in): where the CoreDNS bundle
    // and the syncer's resolver configuration are read from.
    /// The CoreDNS manifest bundle to apply in the virtual cluster (the chart mounts the `<release>-coredns` ConfigMap there)
    #[arg(long, default_value = "/manifests/coredns/coredns.yaml", hide = true)]
    pub coredns_manifest: String,
    /// The resolver configuration whose first nameserver fills the bundle's HOST_CLUSTER_DNS
    #[arg(long, default_value = "/etc/resolv.conf", hide = true)]
    pub resolv_conf: String,
}

/// Every controller name `--sync` accepts (`ExistingControllers`).
pub const EXISTING_CONTROLLERS: &[&str] = &[
    "services",
    "configmaps",
    "secrets",
    "endpoints",
    "pods",
    "events",
    "fake-nodes",
    "fake-persistentvolumes",
    "persistentvolumeclaims",
    "ingresses",
    "ingressclasses",
    "nodes",
    "persistentvolumes",
    "storageclasses",
    "hoststorageclasses",
    "priorityclasses",
    "networkpolicies",
    "volumesnapshots",
    "poddisruptionbudgets",
    "serviceaccounts",
    "csinodes",
    "csidrivers",
    "csistoragecapacities",
    "namespaces",
];

/// The controllers on without `--sync` (`DefaultEnabledControllers`; the chart's `syncArgs`
/// only names differences from this set).
pub const DEFAULT_CONTROLLERS: &[&str] = &[
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

/// The controllers this syncer implements; any other enabled one is named in the start-up warning.
pub const IMPLEMENTED_CONTROLLERS: &[&str] = &[
    "configmaps",
    "secrets",
    "pods",
    "events",
    "persistentvolumeclaims",
    "fake-nodes",
    "serviceaccounts",
    "ingresses",
    "ingressclasses",
    "networkpolicies",
    "services",
    "endpoints",
];

/// The flags whose feature is built; any other flag given on the command line is named in the
/// start-up warning. (The proxy's flags count as built: they are handed to the API endpoint.)
const IMPLEMENTED_FLAGS: &[&str] = &[
    "kube_config_context_name",
    "controllers",
    "request_header_ca_cert",
    "client_ca_cert",
    "server_ca_cert",
    "server_ca_key",
    "kube_config",
    "tls_sans",
    "kube_config_secret",
    "kube_config_secret_namespace",
    "kube_config_server",
    "target_namespace",
    "service_name",
    "set_owner",
    "name",
    "bind_address",
    "port",
    "translate_images",
    "enforce_node_selector",
    "tolerations",
    "node_selector",
    "service_account",
    "override_hosts",
    "override_hosts_container_image",
    "cluster_domain",
    "leader_elect",
    "lease_duration",
    "renew_deadline",
    "retry_period",
    "disable_plugins",
    "default_image_registry",
    "enforce_pod_security_standard",
    "sync_labels",
    "sync_all_configmaps",
    "sync_all_secrets",
    "map_host_services",
    "map_virtual_services",
    "suffix",
    "disable_sync_resources",
    "fake_nodes",
    "fake_persistent_volumes",
];

/// Parsed flags plus what was given explicitly.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub options: Options,
    /// Flags (long names) given on the command line whose feature is not built yet.
    pub unimplemented: Vec<String>,
}

/// Parse `args` (the first item is the program name). Usage errors are clap errors (exit 2).
pub fn parse<I, T>(args: I) -> Result<Parsed, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let command = Options::command();
    let matches = command.clone().try_get_matches_from(args)?;
    let options = Options::from_arg_matches(&matches)?;
    let unimplemented = unimplemented_flags(&command, &matches);
    Ok(Parsed { options, unimplemented })
}

fn unimplemented_flags(command: &clap::Command, matches: &ArgMatches) -> Vec<String> {
    let mut out = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if arg.is_hide_set()
            || IMPLEMENTED_FLAGS.contains(&id)
            || matches.value_source(id) != Some(ValueSource::CommandLine)
        {
            continue;
        }
        // A flag given with its default value changes nothing.
        let default: Vec<&str> = arg.get_default_values().iter().filter_map(|v| v.to_str()).collect();
        let given: Vec<String> =
            matches.get_raw(id).into_iter().flatten().filter_map(|v| v.to_str().map(String::from)).collect();
        let is_default = given.len() == default.len() && given.iter().zip(&default).all(|(g, d)| go_bool_eq(g, d));
        if is_default {
            continue;
        }
        if let Some(long) = arg.get_long() {
            out.push(format!("--{long}"));
        }
    }
    out
}

fn go_bool_eq(given: &str, default: &str) -> bool {
    match (go_bool(given), go_bool(default)) {
        (Ok(a), Ok(b)) => a == b,
        _ => given == default,
    }
}

impl Options {
    /// The vcluster's name: `--name`, else the deprecated `--suffix`, else `vcluster`. (start.go)
    pub fn vcluster_name(&self) -> String {
        [&self.name, &self.suffix].into_iter().find(|s| !s.is_empty()).cloned().unwrap_or_else(|| "vcluster".into())
    }

    /// `--service-name`, defaulting to the vcluster's name. (start.go)
    pub fn service_name(&self) -> String {
        if self.service_name.is_empty() { self.vcluster_name() } else { self.service_name.clone() }
    }

    /// Check values that upstream rejects at start (exit 1).
    pub fn validate(&self) -> Result<(), OptionsError> {
        let pss = self.enforce_pod_security_standard.as_str();
        if !pss.is_empty() && !["privileged", "baseline", "restricted"].contains(&pss) {
            return Err(OptionsError::PodSecurityStandard(pss.to_owned()));
        }
        if self.multi_namespace_mode {
            return Err(OptionsError::MultiNamespaceMode);
        }
        // The host mappings' default source namespace is only known at start; any non-empty
        // value checks the syntax.
        self.service_mappings("-")?;
        Ok(())
    }

    /// `--map-host-service` (host → virtual; a source without namespace is in `host_namespace`)
    /// and `--map-virtual-service` (virtual → host, the target in `host_namespace`), parsed as
    /// v0.15.7 `pkg/controllers/register.go` `parseMapping` does.
    pub fn service_mappings(&self, host_namespace: &str) -> Result<ServiceMappings, OptionsError> {
        Ok(ServiceMappings {
            from_host: parse_service_mappings(&self.map_host_services, host_namespace, "")?,
            from_virtual: parse_service_mappings(&self.map_virtual_services, "", host_namespace)?,
        })
    }

    /// The enabled controllers (`parseControllers`): defaults, deprecated flags, `--sync`
    /// additions and removals; an unknown name is an error.
    pub fn enabled_controllers(&self) -> Result<BTreeSet<String>, OptionsError> {
        let mut enabled: BTreeSet<String> = DEFAULT_CONTROLLERS.iter().map(|s| s.to_string()).collect();
        let mut disabled = BTreeSet::new();
        if !self.disable_sync_resources.is_empty() {
            disabled.extend(self.disable_sync_resources.split(',').map(str::to_owned));
        }
        if self.enable_priority_classes {
            enabled.insert("priorityclasses".into());
        }
        if !self.fake_persistent_volumes {
            enabled.insert("persistentvolumes".into());
        }
        if !self.fake_nodes {
            enabled.insert("nodes".into());
        }
        if self.enable_storage_classes {
            enabled.insert("storageclasses".into());
        }
        for raw in &self.controllers {
            let name = raw.trim();
            let (set, name) = match name.strip_prefix('-') {
                Some(rest) => (&mut disabled, rest),
                None => (&mut enabled, name),
            };
            if name.is_empty() || !EXISTING_CONTROLLERS.contains(&name) {
                return Err(OptionsError::UnknownController {
                    name: name.to_owned(),
                    available: {
                        let mut all = EXISTING_CONTROLLERS.to_vec();
                        all.sort_unstable();
                        all.join(", ")
                    },
                });
            }
            set.insert(name.to_owned());
        }
        // Upstream checks "ingressesclasses" (sic), so an explicit -ingressclasses only takes
        // effect through the final difference below.
        if enabled.contains("ingresses") {
            enabled.insert("ingressclasses".into());
        }
        let enabled: BTreeSet<String> = enabled.difference(&disabled).cloned().collect();
        if (self.sync_all_nodes || self.enable_scheduler) && !enabled.contains("nodes") {
            return Err(OptionsError::NodesRequired);
        }
        if enabled.contains("storageclasses") && enabled.contains("hoststorageclasses") {
            return Err(OptionsError::StorageClassesBoth);
        }
        Ok(enabled)
    }
}

/// One service mapping: the source Service and the target Service (namespace, name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMapping {
    pub from: (String, String),
    pub to: (String, String),
}

/// The parsed `--map-host-service` and `--map-virtual-service` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceMappings {
    /// Host Service → virtual Service (a headless Service with Endpoints in the virtual cluster).
    pub from_host: Vec<ServiceMapping>,
    /// Virtual Service → host Service in the host namespace (selecting the synced pods).
    pub from_virtual: Vec<ServiceMapping>,
}

impl ServiceMappings {
    pub fn is_empty(&self) -> bool {
        self.from_host.is_empty() && self.from_virtual.is_empty()
    }
}

/// `parseMapping`: `from=to`, each side `namespace/name` or a bare name taking the side's default
/// namespace (an empty default makes the bare form an error, as does a namespace on a side that
/// has a default). A source mapped twice keeps the last target (upstream fills a map).
fn parse_service_mappings(
    entries: &[String],
    from_default: &str,
    to_default: &str,
) -> Result<Vec<ServiceMapping>, OptionsError> {
    const SHORT: &str = "namespace1/service1=service2";
    const LONG: &str = "namespace1/service1=namespace2/service2";
    let mut out: Vec<ServiceMapping> = Vec::new();
    for entry in entries {
        let sides: Vec<&str> = entry.split('=').collect();
        let [from, to] = sides.as_slice() else { return Err(OptionsError::ServiceMapping(SHORT)) };
        if from.is_empty() || to.is_empty() {
            return Err(OptionsError::ServiceMapping(SHORT));
        }
        let from = match from.split('/').collect::<Vec<_>>().as_slice() {
            [name] if !from_default.is_empty() => (from_default.to_owned(), (*name).to_owned()),
            [ns, name] => ((*ns).to_owned(), (*name).to_owned()),
            _ => return Err(OptionsError::ServiceMapping(SHORT)),
        };
        let to = match to.split('/').collect::<Vec<_>>().as_slice() {
            [_] if to_default.is_empty() => return Err(OptionsError::ServiceMapping(LONG)),
            [name] => (to_default.to_owned(), (*name).to_owned()),
            [ns, name] if to_default.is_empty() => ((*ns).to_owned(), (*name).to_owned()),
            _ => return Err(OptionsError::ServiceMapping(SHORT)),
        };
        out.retain(|m| m.from != from);
        out.push(ServiceMapping { from, to });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Parsed {
        parse(std::iter::once("vcluster-syncer").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn defaults_match_the_established_syncer() {
        let o = parse_ok(&[]).options;
        assert!(o.set_owner && o.override_hosts && o.enforce_node_selector && o.fake_kubelet_ips);
        assert_eq!(o.port, 8443);
        assert_eq!(o.bind_address, "0.0.0.0");
        assert_eq!(o.cluster_domain, "cluster.local");
        assert_eq!(o.kube_config, "/data/server/cred/admin.kubeconfig");
        assert_eq!(o.server_ca_cert, "/data/server/tls/server-ca.crt");
        assert_eq!((o.lease_duration, o.renew_deadline, o.retry_period), (60, 40, 15));
        assert_eq!(o.override_hosts_container_image, "library/alpine:3.13.1");
        assert_eq!(o.host_metrics_bind_address, "0");
        assert_eq!(o.vcluster_name(), "vcluster");
        assert_eq!(o.service_name(), "vcluster");
        let enabled: Vec<String> = o.enabled_controllers().unwrap().into_iter().collect();
        let mut expected: Vec<&str> = DEFAULT_CONTROLLERS.to_vec();
        expected.sort_unstable();
        assert_eq!(enabled, expected);
    }

    #[test]
    fn pflag_forms() {
        let o = parse_ok(&[
            "--name=my-vc",
            "--set-owner=false",
            "--leader-elect",
            "--sync=-ingressclasses,serviceaccounts",
            "--sync",
            "ingresses",
            "--tls-san=a.example.com,b.example.com",
            "--port",
            "9443",
            "--sync-all-configmaps=True",
        ])
        .options;
        assert_eq!(o.name, "my-vc");
        assert!(!o.set_owner && o.leader_elect && o.sync_all_configmaps);
        assert_eq!(o.port, 9443);
        assert_eq!(o.tls_sans, ["a.example.com", "b.example.com"]);
        let enabled = o.enabled_controllers().unwrap();
        assert!(enabled.contains("serviceaccounts") && enabled.contains("ingresses"));
        assert!(!enabled.contains("ingressclasses"));
    }

    #[test]
    fn unknown_flags_are_usage_errors() {
        let err = parse(["vcluster-syncer", "--no-such-flag"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let err = parse(["vcluster-syncer", "--set-owner", "false"]).unwrap_err();
        assert_eq!(err.exit_code(), 2, "a bool flag takes its value after '=' only, as in pflag");
    }

    #[test]
    fn unknown_controllers_are_errors() {
        let o = parse_ok(&["--sync=pods,bananas"]).options;
        let err = o.enabled_controllers().unwrap_err();
        assert!(err.to_string().contains("unrecognized controller bananas"), "{err}");
        let o = parse_ok(&["--sync=-"]).options;
        assert!(o.enabled_controllers().is_err());
    }

    #[test]
    fn unbuilt_features_are_named() {
        let p = parse_ok(&[
            "--name=x",
            "--map-host-service=a/b=c/d",
            "--fake-kubelet-ips=true",
            "--enable-scheduler=false",
            "--proxy-metrics-server",
        ]);
        assert_eq!(p.unimplemented, ["--proxy-metrics-server"]);
    }

    #[test]
    fn invalid_pod_security_standard() {
        let o = parse_ok(&["--enforce-pod-security-standard=strict"]).options;
        assert!(o.validate().is_err());
        let o = parse_ok(&["--enforce-pod-security-standard=baseline"]).options;
        assert!(o.validate().is_ok());
    }

    #[test]
    fn service_mappings_parse_as_upstream() {
        let o = parse_ok(&[
            "--map-host-service=other/db=shop/db",
            "--map-host-service=cache=shop/cache",
            "--map-virtual-service=shop/web=web-public,shop/api=api",
        ])
        .options;
        assert!(o.validate().is_ok());
        let m = o.service_mappings("vcluster-my-vc").unwrap();
        let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(
            m.from_host,
            [
                ServiceMapping { from: pair("other", "db"), to: pair("shop", "db") },
                ServiceMapping { from: pair("vcluster-my-vc", "cache"), to: pair("shop", "cache") },
            ]
        );
        assert_eq!(
            m.from_virtual,
            [
                ServiceMapping { from: pair("shop", "web"), to: pair("vcluster-my-vc", "web-public") },
                ServiceMapping { from: pair("shop", "api"), to: pair("vcluster-my-vc", "api") },
            ]
        );
    }

    #[test]
    fn service_mapping_errors_read_as_upstream() {
        let short = "parse physical service mapping: invalid service mapping, please use namespace1/service1=service2";
        let long = "parse physical service mapping: invalid service mapping, please use namespace1/service1=namespace2/service2";
        for (flag, message) in [
            ("--map-host-service=a/b", short),
            ("--map-host-service=a/b=c/d=e", short),
            ("--map-host-service==c/d", short),
            ("--map-host-service=a/b/c=d/e", short),
            ("--map-host-service=a/b=svc", long),
            ("--map-host-service=a/b=c/d/e", short),
            ("--map-virtual-service=web=public", short),
            ("--map-virtual-service=shop/web=ns/public", short),
        ] {
            let o = parse_ok(&[flag]).options;
            assert_eq!(o.validate().unwrap_err().to_string(), message, "{flag}");
        }
    }
}
