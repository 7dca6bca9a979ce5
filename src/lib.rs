//! vcluster: create, connect to and manage virtual Kubernetes clusters.
//!
//! Layout (dependency direction top to bottom; no two files import each other, directly or
//! through others: `tools/import-cycles.py`, run by `tests/layout.rs`):
//! - [`cli`]: clap types and dispatch only, the one place that parses arguments.
//! - [`commands`]: one file per subcommand, none importing another; `context`: what they share
//!   (global flags, the printer, a runtime, values and wait flags, the one duration parser,
//!   kubeconfig loading, the host cluster, finding a vcluster).
//! - operations: `install` (create and upgrade), `lifecycle` (delete, pause, resume),
//!   `access` (connect: credentials, routes, tokens, `-- CMD`; `access::connect` drives the
//!   `connect` command and so takes the `context` a command gets), `forward` (port-forwards, in
//!   process or the background forwarder, one `ForwardError`), `find` (vclusters on the host).
//! - the host cluster: `cluster` (a `Connection`; `Host` for objects by kind, namespaces,
//!   events; watches; waiting until a vcluster works), [`release`] (Helm records and their store).
//! - pure: [`values`], [`render`], `plan` (a release's objects: apply, prune, ownership; shared
//!   by install and uninstall), `workload` (kubectl's statuses, pod selectors), [`kubeconfig`] (documents,
//!   and client-go's locked writes), `translate` (the crate shared with the syncer).
//! - edges: `printer` (the one output layer: stdout data, stderr the rest; `printer::text`),
//!   `error` (exit statuses, hinted errors, the report), `interrupt`, `state`.
//!
//! Clients are made in `cluster` (the host) and `access` (the virtual cluster); `find`,
//! `release::store`, `install`, `lifecycle`, `forward` and the `port-forward` command send requests
//! through them.
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
mod plan;
mod printer;
pub mod release;
pub mod render;
mod state;
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
