//! The virtual cluster's CoreDNS (loft-sh/vcluster v0.15.7 `pkg/coredns/coredns.go`,
//! `pkg/coredns/resolv.go`, the `ApplyCoreDNS` backoff of `cmd/vcluster/cmd/start.go`): at
//! start, read the bundle the chart mounts from the `<release>-coredns` ConfigMap
//! (`/manifests/coredns/coredns.yaml`), fill its placeholders as the established syncer does,
//! and apply its objects inside the virtual cluster, retried with backoff (1 s × 1.5, at most
//! 1 min) until it succeeds. No file: nothing to do ("No CoreDNS manifests found").
//!
//! Placeholders ([`variables`]): `IMAGE` (by the virtual cluster's Kubernetes version,
//! `--default-image-registry` prepended as it is), `RUN_AS_USER`/`RUN_AS_GROUP` (the syncer's
//! own ids, 1001 for root), `LOG_IN_DEBUG` (`log` when the environment has `DEBUG=true`),
//! `HOST_CLUSTER_DNS` (the first nameserver of the syncer's `/etc/resolv.conf`, else the
//! literal `/etc/resolv.conf`). The cluster domain is rendered into the Corefile by the chart
//! (`--cluster-domain` from `syncer.extraArgs`), so the syncer fills nothing for it.
//!
//! The objects are applied by [`apply`] (server-side apply with a dry-run check first: see
//! there why). The `NodeHosts` key of `kube-system/coredns` belongs to the NodeHosts
//! controller (`controllers::nodehosts`): its live value is kept, so a restart does not blank
//! it for the controller to write back (upstream's `kubectl apply` does, once per start).

pub(crate) mod apply;
mod error;
pub(crate) mod template;

pub(crate) use error::CorednsError;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::Client;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The CoreDNS image when the virtual version is not in [`VERSION_IMAGES`] (`DefaultImage`).
pub(crate) const DEFAULT_IMAGE: &str = "coredns/coredns:1.10.1";
/// The namespace and name of CoreDNS's ConfigMap, and the key the NodeHosts controller owns.
pub(crate) const CONFIGMAP_NAMESPACE: &str = "kube-system";
pub(crate) const CONFIGMAP_NAME: &str = "coredns";
pub(crate) const NODE_HOSTS_KEY: &str = "NodeHosts";

/// CoreDNS image by the virtual cluster's `major.minor` (`constants.CoreDNSVersionMap` of the
/// v0.15 series).
const VERSION_IMAGES: &[(&str, &str)] = &[
    ("1.27", "coredns/coredns:1.10.1"),
    ("1.26", "coredns/coredns:1.9.3"),
    ("1.25", "coredns/coredns:1.9.3"),
    ("1.24", "coredns/coredns:1.8.7"),
    ("1.23", "coredns/coredns:1.8.6"),
    ("1.22", "coredns/coredns:1.8.4"),
    ("1.21", "coredns/coredns:1.8.3"),
    ("1.20", "coredns/coredns:1.8.0"),
    ("1.19", "coredns/coredns:1.6.9"),
    ("1.18", "coredns/coredns:1.6.9"),
    ("1.17", "coredns/coredns:1.6.9"),
    ("1.16", "coredns/coredns:1.6.3"),
];

/// Ids used when the syncer runs as root (`defaultUID`, `defaultGID`).
const DEFAULT_ID: u32 = 1001;

/// Where the bundle and the resolver configuration are, and what fills the bundle.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The bundle (`--coredns-manifest`, default `/manifests/coredns/coredns.yaml`).
    pub manifest: PathBuf,
    /// The syncer's resolver configuration (`--resolv-conf`, default `/etc/resolv.conf`).
    pub resolv_conf: PathBuf,
    /// `--default-image-registry`, prepended to the image as it is.
    pub default_image_registry: String,
    /// The virtual cluster's git version (`v1.27.3+k3s1`).
    pub virtual_version: String,
}

/// The image for a virtual cluster version (`v1.27.3+k3s1` → the `1.27` entry; a minor such as
/// EKS's `27+` reads as 27), with the registry prefix.
pub(crate) fn image(default_image_registry: &str, virtual_version: &str) -> String {
    let version = virtual_version.trim_start_matches('v');
    let mut parts = version.split(['.', '+', '-']);
    let major = parts.next().unwrap_or_default();
    let minor: String = parts.next().unwrap_or_default().chars().take_while(char::is_ascii_digit).collect();
    let key = format!("{major}.{minor}");
    let image = VERSION_IMAGES.iter().find(|(v, _)| *v == key).map_or(DEFAULT_IMAGE, |(_, i)| *i);
    format!("{default_image_registry}{image}")
}

/// The nameservers of a resolv.conf (`GetNameservers`: `#` starts a comment; a line is
/// `nameserver <IPv4 or IPv6[%zone]>`).
pub(crate) fn nameservers(resolv_conf: &str) -> Vec<String> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            if words.next() != Some("nameserver") {
                return None;
            }
            let address = words.next()?;
            if words.next().is_some() {
                return None;
            }
            let ip = address.split('%').next().unwrap_or_default();
            ip.parse::<std::net::IpAddr>().is_ok().then(|| address.to_owned())
        })
        .collect()
}

/// `HOST_CLUSTER_DNS`: the first nameserver of `path`, else `/etc/resolv.conf` (`getNameserver`).
pub(crate) fn host_dns(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| nameservers(&text).into_iter().next())
        .unwrap_or_else(|| "/etc/resolv.conf".into())
}

/// The process's real user and group ids, from `/proc/self/status` (`os.Getuid`, `os.Getgid`);
/// 0 (root, or unknown) becomes 1001 (`GetUserID`, `GetGroupID`).
pub(crate) fn process_ids() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let real = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|id| id.parse::<u32>().ok())
            .filter(|id| *id != 0)
            .unwrap_or(DEFAULT_ID)
    };
    (real("Uid:"), real("Gid:"))
}

/// The template variables (`getManifestVariables`).
pub(crate) fn variables(settings: &Settings, ids: (u32, u32), debug: bool, host_dns: &str) -> BTreeMap<String, String> {
    [
        ("IMAGE", image(&settings.default_image_registry, &settings.virtual_version)),
        ("RUN_AS_USER", ids.0.to_string()),
        ("RUN_AS_GROUP", ids.1.to_string()),
        ("LOG_IN_DEBUG", if debug { "log".into() } else { String::new() }),
        ("HOST_CLUSTER_DNS", host_dns.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The bundle's objects: parse the filled-in text as a YAML stream (YAML 1.1 octals, as
/// kubectl's decoder reads them), skip empty documents, flatten `kind: List`.
pub(crate) fn objects(text: &str) -> Result<Vec<Value>, serde_saphyr::Error> {
    let options = serde_saphyr::options! { legacy_octal_numbers: true };
    let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options)?;
    let mut out = Vec::new();
    for doc in docs {
        match doc {
            Value::Null => {}
            Value::Object(ref map) if map.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List")) => {
                out.extend(map.get("items").and_then(Value::as_array).cloned().unwrap_or_default());
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// What one attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No bundle at the path.
    NoManifest,
    /// Applied: how many objects were created, changed, already as wanted.
    Applied(apply::Report),
}

/// One attempt: read, fill, parse, apply.
pub(crate) async fn apply_once(client: &Client, settings: &Settings) -> Result<Outcome, CorednsError> {
    let text = match std::fs::read_to_string(&settings.manifest) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::NoManifest),
        Err(source) => return Err(CorednsError::Read { path: settings.manifest.clone(), source }),
    };
    let debug = std::env::var("DEBUG").is_ok_and(|v| v == "true");
    let vars = variables(settings, process_ids(), debug, &host_dns(&settings.resolv_conf));
    let filled = template::execute(&text, &vars)
        .map_err(|source| CorednsError::Template { path: settings.manifest.clone(), source })?;
    let objects = objects(&filled).map_err(CorednsError::Yaml)?;
    let report = apply::apply_all(client, objects, keep_node_hosts).await?;
    Ok(Outcome::Applied(report))
}

/// Keep the live `NodeHosts` of `kube-system/coredns` (the NodeHosts controller's).
fn keep_node_hosts(desired: &mut Value, live: &Value) {
    let is_it = desired["kind"] == "ConfigMap"
        && desired["metadata"]["namespace"] == CONFIGMAP_NAMESPACE
        && desired["metadata"]["name"] == CONFIGMAP_NAME;
    if !is_it {
        return;
    }
    if let (Some(value), Some(data)) =
        (live["data"].get(NODE_HOSTS_KEY).cloned(), desired.get_mut("data").and_then(Value::as_object_mut))
        && data.contains_key(NODE_HOSTS_KEY)
    {
        data.insert(NODE_HOSTS_KEY.into(), value);
    }
}

/// Apply the bundle until it succeeds or there is none (`ApplyCoreDNS`: exponential backoff
/// from 1 s, factor 1.5, capped at 1 min, retried for ever), or until `shutdown`.
pub(crate) async fn run(client: Client, settings: Settings, shutdown: CancellationToken) -> Option<Outcome> {
    let mut delay = Duration::from_secs(1);
    loop {
        match apply_once(&client, &settings).await {
            Ok(Outcome::NoManifest) => {
                tracing::info!(
                    "No CoreDNS manifests found at {}, skipping CoreDNS configuration",
                    settings.manifest.display()
                );
                return Some(Outcome::NoManifest);
            }
            Ok(Outcome::Applied(report)) => {
                tracing::info!(
                    created = report.created,
                    updated = report.updated,
                    unchanged = report.unchanged,
                    "CoreDNS configuration from the manifest file applied successfully"
                );
                return Some(Outcome::Applied(report));
            }
            Err(e) => {
                tracing::warn!(
                    "Failed to apply CoreDNS configuration from the manifest file (retry in {delay:?}): {}",
                    crate::error::chain(&e)
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = delay.mul_f64(1.5).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(registry: &str, version: &str) -> Settings {
        Settings {
            manifest: PathBuf::from("/nonexistent/coredns.yaml"),
            resolv_conf: PathBuf::from("/nonexistent/resolv.conf"),
            default_image_registry: registry.into(),
            virtual_version: version.into(),
        }
    }

    #[test]
    fn image_by_virtual_version() {
        assert_eq!(image("", "v1.27.3+k3s1"), "coredns/coredns:1.10.1");
        assert_eq!(image("", "v1.24.17"), "coredns/coredns:1.8.7");
        assert_eq!(image("", "v1.23.5-eks-1-23"), "coredns/coredns:1.8.6");
        assert_eq!(image("", "v1.20+"), "coredns/coredns:1.8.0");
        assert_eq!(image("", "v1.33.1"), DEFAULT_IMAGE);
        assert_eq!(image("", ""), DEFAULT_IMAGE);
        // The registry is prepended as it is: it needs its trailing slash (Corrections).
        assert_eq!(
            image("my-registry.example.com/mirror/", "v1.26.0"),
            "my-registry.example.com/mirror/coredns/coredns:1.9.3"
        );
    }

    #[test]
    fn nameservers_as_upstream_reads_them() {
        let text = "# generated\nsearch svc.cluster.local cluster.local\nnameserver 10.96.0.10\nnameserver   fd00::a%eth0  # v6\nnameserver not-an-ip\noptions ndots:5\n  nameserver 1.1.1.1\n";
        assert_eq!(nameservers(text), ["10.96.0.10", "fd00::a%eth0", "1.1.1.1"]);
        assert!(nameservers("search x\n").is_empty());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolv.conf");
        assert_eq!(host_dns(&path), "/etc/resolv.conf", "unreadable: the literal path");
        std::fs::write(&path, "options edns0\n").unwrap();
        assert_eq!(host_dns(&path), "/etc/resolv.conf", "no nameserver: the literal path");
        std::fs::write(&path, "nameserver 10.43.0.10\nnameserver 8.8.8.8\n").unwrap();
        assert_eq!(host_dns(&path), "10.43.0.10");
    }

    #[test]
    fn variables_like_get_manifest_variables() {
        let vars = variables(&settings("r.io/", "v1.27.3+k3s1"), (12345, 12345), false, "10.43.0.10");
        let expected: BTreeMap<String, String> = [
            ("HOST_CLUSTER_DNS", "10.43.0.10"),
            ("IMAGE", "r.io/coredns/coredns:1.10.1"),
            ("LOG_IN_DEBUG", ""),
            ("RUN_AS_GROUP", "12345"),
            ("RUN_AS_USER", "12345"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(vars, expected);
        assert_eq!(variables(&settings("", "v1.27.0"), (1, 2), true, "x")["LOG_IN_DEBUG"], "log");
        let (uid, gid) = process_ids();
        assert!(uid > 0 && gid > 0);
    }

    #[test]
    fn objects_skip_empty_documents_and_flatten_lists() {
        let text = "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n- {apiVersion: v1, kind: Secret, metadata: {name: c}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {mode: 0644}\n";
        let objs = objects(text).unwrap();
        let names: Vec<&str> = objs.iter().map(|o| o["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(objs[3]["data"]["mode"], 420, "YAML 1.1 octal, as kubectl's decoder reads it");
        assert!(objects("a: [").is_err());
    }

    #[test]
    fn node_hosts_stay_as_they_are_live() {
        let mut desired = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": ".:1053 {}", "NodeHosts": ""}
        });
        let live = serde_json::json!({"data": {"Corefile": "old", "NodeHosts": "10.0.0.1 node-a"}});
        keep_node_hosts(&mut desired, &live);
        assert_eq!(desired["data"], serde_json::json!({"Corefile": ".:1053 {}", "NodeHosts": "10.0.0.1 node-a"}));
        let mut other = serde_json::json!({"kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"}, "data": {"NodeHosts": ""}});
        keep_node_hosts(&mut other, &live);
        assert_eq!(other["data"]["NodeHosts"], "");
    }
}
