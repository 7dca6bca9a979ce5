//! What kube-controller-manager, the scheduler and the kubelet do to stored objects: the
//! garbage collector, namespace and service-account controllers (always on), and the workload
//! mode.

pub mod cursor;
pub mod lifecycle;
pub mod workloads;
