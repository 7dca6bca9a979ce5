//! `fidelity.rs` against the real control plane (`crates/control-plane`: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler v1.33.13, kwok): the same test code, one shared
//! instance for this test process, each test in a namespace of its own. The harness
//! (`common::backend`) picks the real control plane by this target's name; tests fail, never
//! skip, when it cannot be built or started. `scripts/test` builds it first
//! (`VCLUSTER_CONTROL_PLANE_BIN_DIR`, `VCLUSTER_CONTROL_PLANE_BIN`); without those the first
//! test builds it.

#[path = "fidelity.rs"]
mod suite;
