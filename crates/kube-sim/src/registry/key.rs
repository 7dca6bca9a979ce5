//! Where an object is stored: its resource, namespace (empty when cluster-scoped) and name,
//! ordered as the store lists them.

use crate::model::resources::ResId;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub res: ResId,
    pub namespace: String,
    pub name: String,
}
