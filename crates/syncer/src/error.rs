//! Typed errors of the syncer.

/// A flag value the established syncer rejects at start.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error("unrecognized controller {name}, available controllers: {available}")]
    UnknownController { name: String, available: String },
    #[error("invalid argument enforce-pod-security-standard={0}, must be one of: privileged, baseline, restricted")]
    PodSecurityStandard(String),
    #[error("node sync needs to be enabled when using --sync-all-nodes OR --enable-scheduler flags")]
    NodesRequired,
    #[error("you cannot sync storageclasses and hoststorageclasses at the same time. Choose only one of them")]
    StorageClassesBoth,
    #[error("--multi-namespace-mode is not supported by this syncer (single-namespace mode only)")]
    MultiNamespaceMode,
    #[error("invalid --translate-image {0:?}: expected FROM=TO")]
    TranslateImage(String),
    #[error("invalid --enforce-toleration {0:?}: expected key[=value]:Effect")]
    Toleration(String),
    #[error("invalid --node-selector {0:?}: expected key=value[,key=value]")]
    NodeSelector(String),
    /// `--map-host-service`/`--map-virtual-service` (v0.15.7 `RegisterServiceSyncControllers`).
    #[error("parse physical service mapping: invalid service mapping, please use {0}")]
    ServiceMapping(&'static str),
}

/// Why the syncer could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Options(#[from] OptionsError),
    #[error("cannot read the virtual cluster's kubeconfig {path}")]
    ReadKubeconfig {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid virtual cluster kubeconfig {path}")]
    ParseKubeconfig {
        path: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot configure the host cluster client (neither in-cluster nor KUBECONFIG)")]
    HostConfig(#[source] kube::config::InferConfigError),
    #[error("cannot create a client")]
    Client(#[source] kube::Error),
    #[error("cannot determine the current namespace: set --target-namespace or run in a pod")]
    NoNamespace,
    #[error("ensure the service CIDR ConfigMap {name}")]
    ServiceCidr {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("cannot read the server CA {path}")]
    ReadCa {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("leader election")]
    LeaderElection(#[source] kube::Error),
    #[error("lost the leader lease {0}")]
    LostLease(String),
}

/// A reconcile failure; the controllers retry it with backoff.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{verb} {kind} {namespace}/{name} in the {side} cluster")]
    Api {
        verb: &'static str,
        kind: &'static str,
        side: &'static str,
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("waiting for the {0} cache to sync")]
    NotReady(&'static str),
    #[error("conflict: cannot sync virtual object as unmanaged physical object exists with desired name")]
    Unmanaged,
    #[error("received empty token for service account {0}")]
    EmptyToken(String),
    /// The host Service `kube-dns-x-kube-system-x-<vc>` has no ClusterIP yet (upstream's
    /// `findKubernetesDNSIP` error).
    #[error("waiting for DNS service IP")]
    WaitingForDns,
    /// A virtual Service waits for the host's ClusterIP, which another virtual Service holds and
    /// does not give up (not synced, or excluded).
    #[error("cannot take the host's ClusterIP {ip}: the virtual Service {holder} holds it")]
    ClusterIpHeld { ip: String, holder: String },
    /// A packed store object did not decode (it decoded when the watch read it).
    #[error("decode the stored {kind} {name}")]
    Unpack {
        kind: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{kind} {name} on the host is kept for {remaining:?} more")]
    Kept { kind: &'static str, name: String, remaining: std::time::Duration },
}

impl SyncError {
    pub(crate) fn api(
        verb: &'static str,
        kind: &'static str,
        side: &'static str,
        namespace: &str,
        name: &str,
        source: kube::Error,
    ) -> Self {
        SyncError::Api { verb, kind, side, namespace: namespace.into(), name: name.into(), source }
    }

    /// The API status code behind the error, when there is one.
    pub fn code(&self) -> Option<u16> {
        match self {
            SyncError::Api { source: kube::Error::Api(status), .. } => Some(status.code),
            _ => None,
        }
    }
}

/// Whether `err` is an API answer with `code`.
pub(crate) fn is_code(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(status) if status.code == code)
}

/// An error and its causes, one line (`a: b: c`).
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        // hyper and friends often repeat their source's text in their own.
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
