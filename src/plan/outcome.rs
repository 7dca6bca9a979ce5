//! What a run did, or would do, to one object: what `create -o json` and `delete -o json` report.

use serde::Serialize;

use crate::cluster::objects::ObjectKey;

/// One object's fate.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectOutcome {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
    /// `created`, `configured`, `unchanged`, `pruned`, `kept`; a dry run says `create`,
    /// `change`, `unchanged`, `prune`, and `recreate` for a StatefulSet `--recreate-statefulset` recreates.
    pub(crate) action: String,
    /// Managers whose fields this run took over (`helm`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) taken_over_from: Vec<String>,
    /// Adopted from another release or from none (`--take-ownership`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) adopted: bool,
    /// A dry run's unified diff, live to applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) diff: Option<String>,
}

impl ObjectOutcome {
    pub(crate) fn new(api_version: &str, key: &ObjectKey, action: &str) -> ObjectOutcome {
        ObjectOutcome {
            api_version: api_version.to_owned(),
            kind: key.kind.clone(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            action: action.to_owned(),
            taken_over_from: Vec::new(),
            adopted: false,
            diff: None,
        }
    }
}
