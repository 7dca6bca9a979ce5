//! The registry: the versioned object store and the REST operations on it (kubernetes v1.33
//! staging/src/k8s.io/apiserver/pkg/registry/generic/registry and pkg/registry/*/storage).

pub mod bootstrap;
mod cluster;
pub mod decode;
mod deletion;
pub mod index;
mod key;
mod list;
pub mod store;
mod subresources;

pub use cluster::Cluster;
pub use list::Listed;
