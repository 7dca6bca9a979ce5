//! Virtual ↔ host name translation lives in the workspace crate `vcluster-translate`, shared with
//! the syncer; the CLI reaches it under this name.

pub use vcluster_translate::*;
