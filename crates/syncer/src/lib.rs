//! The vcluster syncer: the second container of the vcluster pod. It serves the virtual cluster's
//! API on :8443 ([`proxy`]) and copies the virtual cluster's workloads to the host namespace under
//! translated names (`vcluster-translate`), reproducing the established syncer of loft-sh/vcluster
//! v0.15.7 so either can take over the other's host objects.
//!
//! Layout: [`options`] (flags), [`translate`] (pure: virtual object → host object, diffs),
//! [`controllers`] (one kube-runtime `Controller` per kind: fetch, call the pure code, write),
//! [`startup`] (clients, service CIDR, leader election, kubeconfig Secret, readiness), [`cli`]
//! (the binary's entry point).
#![forbid(unsafe_code)]

pub mod cli;
pub mod controllers;
pub(crate) mod coredns;
pub mod error;
pub mod options;
pub mod proxy;
pub mod recent;
pub mod redirect;
pub mod startup;
pub mod translate;
