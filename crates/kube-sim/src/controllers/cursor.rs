//! Where a controller is in the store's event history, so that a pass looks only at what
//! changed since the last one (as kube-controller-manager's controllers work from their
//! informers' events through a queue of keys: kubernetes v1.33
//! staging/src/k8s.io/client-go/util/workqueue).

use std::sync::Arc;

use crate::registry::store::{Event, Store};

#[derive(Debug, Default)]
pub struct Cursor {
    /// The resourceVersion of the last pass (None: none yet, or a resync is due).
    seen: Option<u64>,
}

impl Cursor {
    /// The changes since the last call; None when every object must be looked at: the first
    /// pass, after [`Cursor::resync`], or when the history no longer holds them (as an
    /// informer relists after its watch expired).
    pub fn changes(&mut self, store: &Store) -> Option<Vec<Arc<Event>>> {
        let since = self.seen.replace(store.resource_version())?;
        Some(store.changes_since(since)?.cloned().collect())
    }

    /// Look at every object on the next pass.
    pub fn resync(&mut self) {
        self.seen = None;
    }
}
