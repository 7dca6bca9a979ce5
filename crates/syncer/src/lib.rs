//! The vcluster syncer: the second container of the vcluster pod. It serves the virtual cluster's
//! API on :8443 ([`proxy`]) and copies the virtual cluster's workloads to the host namespace under
//! translated names (`vcluster-translate`), reproducing the established syncer of loft-sh/vcluster
//! v0.15.7 so either can take over the other's host objects.
#![forbid(unsafe_code)]

pub mod proxy;
