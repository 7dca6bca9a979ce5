//! vcluster: create, connect to and manage virtual Kubernetes clusters.
//!
//! Layout (dependency direction top to bottom):
//! - [`cli`]: clap types and dispatch; the only place that parses arguments.
//! - [`commands`]: one file per subcommand; takes resolved arguments and a [`printer::Printer`].
//! - [`printer`]: the one output/progress/prompt layer (the only user of indicatif and dialoguer).
//! - pure modules: [`values`] (load, merge, validate), [`render`] (values -> manifests),
//!   [`workload`] (kubectl's pod status and rollout conditions).
//! - [`install`]: install and upgrade (pure planning plus the requests); [`release`] records;
//!   [`cluster`] access; [`interrupt`] (SIGINT/SIGTERM).
//! - [`access`]: reaching a virtual cluster (credentials, routes, tokens); [`forward`]: port-forwards
//!   (in process, or the detached background forwarder) and their files in the [`state`] directory.
//! - [`find`]: finding vclusters on the host (list, delete, pause, resume, connect);
//!   [`forwarder`]: the background port-forward of `connect`; [`lifecycle`]: delete, pause, resume.
#![forbid(unsafe_code)]

mod access;
pub mod cli;
mod cluster;
pub mod commands;
mod context;
mod error;
mod find;
mod forward;
mod install;
mod interrupt;
pub mod kubeconfig;
mod lifecycle;
mod printer;
pub mod release;
pub mod render;
mod state;
// The host-name translation shared with the syncer; it moves into a crate of its own, whose users
// decide what of it stays.
#[allow(dead_code)]
mod translate;
pub mod values;
mod workload;

/// Version of this CLI.
pub const CLI_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Version of the embedded chart (templates/). Releases record it as `chart.metadata.version`
/// and objects carry it in their `chart: vcluster-<version>` label.
pub const CHART_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Chart name, as the established CLI's existing-release predicate expects
/// (loft-sh/vcluster `cmd/vclusterctl/cmd/create.go`: chart name `vcluster` for k3s).
pub const CHART_NAME: &str = "vcluster";
