//! Waiting until objects are gone, by watching (a LIST, then the watch from its
//! resourceVersion; never polling).

use std::collections::BTreeSet;

use kube::api::WatchParams;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::cluster::watch::{Change, Follow};

/// Which of the watched objects count.
#[derive(Debug, Clone)]
pub(crate) enum Watched {
    /// Every object the selector matches.
    All,
    /// Only these names (other matches are ignored).
    Named(BTreeSet<String>),
}

impl Watched {
    fn counts(&self, name: &str) -> bool {
        match self {
            Watched::All => true,
            Watched::Named(names) => names.contains(name),
        }
    }
}

/// Return once no object that `params` selects (and `watched` names) exists; `remaining` is
/// told how many are left whenever that changes.
pub(crate) async fn until_gone<K>(
    api: Api<K>,
    params: WatchParams,
    watched: &Watched,
    remaining: impl Fn(usize),
) -> kube::Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut follow = Follow::new(api, params, String::new());
    let mut present: BTreeSet<String> = BTreeSet::new();
    loop {
        let before = present.len();
        match follow.next().await? {
            Change::Relisted(items) => {
                present = items.iter().map(|o| o.name_any()).filter(|n| watched.counts(n)).collect();
            }
            Change::Applied(o) if watched.counts(&o.name_any()) => {
                present.insert(o.name_any());
            }
            Change::Applied(_) => {}
            Change::Deleted(o) => {
                present.remove(&o.name_any());
            }
        }
        if present.is_empty() {
            return Ok(());
        }
        if present.len() != before {
            remaining(present.len());
        }
    }
}
