//! Helm 3 release records: the `pkg/release/v1` JSON (`model`), its Secret form (`codec`),
//! questions about a release's history (`history`) and the pending-revision lock (`lock`).
//!
//! Records written here are read by `helm list/history/get/upgrade/rollback` and by the
//! established vcluster CLI, and records they wrote are read here. Pure (the lock's host name
//! aside), except `store`, which lists, creates, updates and deletes the Secrets.

pub(crate) mod codec;
pub(crate) mod history;
pub(crate) mod lock;
pub(crate) mod model;
pub(crate) mod store;

pub use codec::{CodecError, RecordWrite, decode, encode, from_secret, secret_name, to_secret};
pub use history::{existing_vcluster_release, last_deployed, latest, next_revision};
pub(crate) use history::{revisions_to_prune, since_last_deployed};
pub(crate) use lock::{LockHolder, PendingAction};
pub use model::{Chart, ChartFile, Info, Metadata, Object, Release, Status};
pub(crate) use store::{ReleaseStore, StoreError, Stored};
