//! The files of one running control plane, in its temporary folder (also listed by
//! `control-plane up --help`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Common names of the two CAs (see [`crate::pki::Ca::load`]).
pub const SERVER_CA_NAME: &str = "control-plane-server-ca";
pub const CLIENT_CA_NAME: &str = "control-plane-client-ca";

/// The admin identity of the kubeconfig (kubeadm's `kubernetes-admin` in `system:masters`).
pub const ADMIN_USER: &str = "kubernetes-admin";
pub const ADMIN_GROUP: &str = "system:masters";

/// The name of the cluster and context in every kubeconfig written here.
pub const CLUSTER_NAME: &str = "control-plane";

#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        Layout { dir: dir.to_path_buf() }
    }
    /// The admin kubeconfig.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
    /// [`State`] as JSON, written once the control plane is ready.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    pub fn pki(&self) -> PathBuf {
        self.dir.join("pki")
    }
    pub fn pki_file(&self, name: &str) -> PathBuf {
        self.pki().join(name)
    }
    /// Kubeconfigs of the components and of users issued later.
    pub fn kubeconfigs(&self) -> PathBuf {
        self.dir.join("kubeconfigs")
    }
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
    pub fn log(&self, program: &str) -> PathBuf {
        self.logs().join(format!("{program}.log"))
    }
    pub fn etcd_data(&self) -> PathBuf {
        self.dir.join("etcd")
    }
    /// kwok's HOME: kwok always reads `~/.kwok/kwok.yaml` when it exists (sigs.k8s.io/kwok v0.7.0,
    /// pkg/config/flags.go `InitFlags`), so it gets an empty home of its own.
    pub fn kwok_home(&self) -> PathBuf {
        self.dir.join("kwok-home")
    }
}

/// What a ready control plane tells its users (`state.json` in its folder).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct State {
    /// `https://127.0.0.1:PORT`
    pub url: String,
    pub kubeconfig: PathBuf,
    pub dir: PathBuf,
    /// etcd's client URL (`http://127.0.0.1:PORT`).
    pub etcd_url: String,
    /// The kwok-managed Node names (empty without kwok).
    pub nodes: Vec<String>,
    /// The port of kwok's kubelet server on 127.0.0.1 (every node's InternalIP and kubelet port).
    pub kubelet_port: Option<u16>,
    pub service_cidr: String,
    /// Process id of each program, by name.
    pub pids: Vec<(String, u32)>,
    /// Process id of the supervisor (`control-plane`).
    pub supervisor_pid: u32,
}

/// The failure report the supervisor prints on stdout instead of the READY line
/// (`FAILED {json}`), so the library returns a typed error.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failure {
    pub program: String,
    pub what: String,
    pub log_tail: String,
}
