//! The host cluster. [`Connection`]: a `kube::Client` for the kubeconfig files of this invocation
//! (`--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`, read by [`crate::kubeconfig`]), the
//! context (`--context`, else the current one) and namespace (`-n`, else the context's, else
//! `default`); with no kubeconfig at all, the in-cluster service account, as client-go's deferred
//! loading does. Errors name the context and the server ([`ClusterError`]).
//!
//! On top of a connection: [`Host`], objects of any kind by their manifests ([`objects`]: identity
//! and the kinds known without discovery), the namespace, events; [`watch`], following a watch;
//! [`wait`], until a vcluster's StatefulSet is rolled out and its syncer answers.
//!
//! Clients are made here, and for the virtual cluster in [`crate::access`]; requests go through
//! them from `host`, `wait`, [`crate::find`], [`crate::release::store`], [`crate::lifecycle`],
//! [`crate::install`], [`crate::access`] and [`crate::forward`].

pub(crate) mod connection;
pub(crate) mod error;
pub(crate) mod host;
pub(crate) mod objects;
pub(crate) mod timeout;
pub(crate) mod wait;
pub(crate) mod watch;

pub(crate) use connection::Connection;
pub(crate) use error::{ClusterError, HostError, classify};
pub(crate) use host::{CREATED_ANNOTATION, Creation, FIELD_MANAGER, Host, NamespaceState};
