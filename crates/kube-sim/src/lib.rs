//! kube-sim: an in-process and standalone simulator of kube-apiserver 1.33 on the wire.
//! Test support only; the release `vcluster` binary contains none of it.

pub mod merge;
