//! Host objects this syncer created that the host watches have not shown yet. Until a watch
//! shows one (or [`GRACE`] passed), a reconcile that does not find it in its store waits instead
//! of creating it again, which would only end in 409 and a GET. The controllers record their
//! creates; so does the API endpoint's Service redirect, which creates host Services itself just
//! before the virtual Service that triggers their reconcile.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Resource;

/// How long a created host object is waited for in the host store before it is created again
/// (the host watch clears the wait as soon as it shows the object; under load it can lag by
/// tens of seconds).
const GRACE: Duration = Duration::from_secs(60);

/// How many recent replaces are kept before the expired ones are dropped.
const PRUNE_AT: usize = 4096;

/// Recent host creates by kind and name (see the module docs).
#[derive(Debug, Default)]
pub struct RecentCreates(Mutex<HashMap<String, Instant>>);

fn key<K: Resource<DynamicType = ()>>(host_name: &str) -> String {
    format!("{}/{host_name}", K::kind(&()))
}

impl RecentCreates {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host object `host_name` of kind `K` was just created.
    pub(crate) fn record<K: Resource<DynamicType = ()>>(&self, host_name: &str) {
        self.map().insert(key::<K>(host_name), Instant::now());
    }

    /// Whether it was created so recently that a store may not show it yet.
    pub(crate) fn pending<K: Resource<DynamicType = ()>>(&self, host_name: &str) -> bool {
        let mut map = self.map();
        let key = key::<K>(host_name);
        match map.get(&key) {
            Some(at) if at.elapsed() < GRACE => true,
            Some(_) => {
                map.remove(&key);
                false
            }
            None => false,
        }
    }

    /// A host watch shows it (created or gone).
    pub(crate) fn seen<K: Resource<DynamicType = ()>>(&self, host_name: &str) {
        let mut map = self.map();
        if !map.is_empty() {
            map.remove(&key::<K>(host_name));
        }
    }
}

/// Host objects this syncer replaced, with the resourceVersion each replace was made over,
/// until a host watch shows a newer version. A reconcile that still finds that version in its
/// store waits for the watch instead of comparing against it: the comparison would find the
/// change just written missing and write it again, over a stale resourceVersion (409).
#[derive(Debug, Default)]
pub(crate) struct RecentUpdates(Mutex<HashMap<String, (String, Instant)>>);

impl RecentUpdates {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host object `host_name` of kind `K` was replaced over `resource_version`.
    pub(crate) fn record<K: Resource<DynamicType = ()>>(&self, host_name: &str, resource_version: &str) {
        let mut map = self.map();
        if map.len() >= PRUNE_AT {
            // Objects deleted right after a replace are never asked about again.
            map.retain(|_, (_, at)| at.elapsed() < GRACE);
        }
        map.insert(key::<K>(host_name), (resource_version.to_owned(), Instant::now()));
    }

    /// Whether a store showing `resource_version` of it has not seen the replace yet. A newer
    /// version (or [`GRACE`] passed) ends the wait.
    pub(crate) fn pending<K: Resource<DynamicType = ()>>(&self, host_name: &str, resource_version: &str) -> bool {
        let mut map = self.map();
        if map.is_empty() {
            return false;
        }
        let key = key::<K>(host_name);
        match map.get(&key) {
            Some((replaced, at)) if replaced == resource_version && at.elapsed() < GRACE => true,
            Some(_) => {
                map.remove(&key);
                false
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ConfigMap, Service};

    use super::{RecentCreates, RecentUpdates};

    #[test]
    fn a_replace_is_pending_while_the_store_shows_the_version_it_replaced() {
        let recent = RecentUpdates::default();
        assert!(!recent.pending::<Service>("web-x-default-x-vc", "7"));
        recent.record::<Service>("web-x-default-x-vc", "7");
        assert!(recent.pending::<Service>("web-x-default-x-vc", "7"));
        assert!(!recent.pending::<ConfigMap>("web-x-default-x-vc", "7"), "kinds do not mix");
        assert!(!recent.pending::<Service>("web-x-default-x-vc", "9"), "a newer version ends the wait");
        assert!(!recent.pending::<Service>("web-x-default-x-vc", "7"), "and forgets the replace");
    }

    #[test]
    fn a_create_is_pending_until_seen_and_kinds_do_not_mix() {
        let recent = RecentCreates::default();
        recent.record::<Service>("web-x-default-x-vc");
        assert!(recent.pending::<Service>("web-x-default-x-vc"));
        assert!(!recent.pending::<ConfigMap>("web-x-default-x-vc"));
        recent.seen::<Service>("web-x-default-x-vc");
        assert!(!recent.pending::<Service>("web-x-default-x-vc"));
    }
}
