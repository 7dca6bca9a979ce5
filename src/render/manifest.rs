//! One rendered object, as `render` prints it and `create` applies it.

use serde_json::Value;

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub api_version: String,
    pub kind: String,
    /// `None` for cluster-scoped kinds.
    pub namespace: Option<String>,
    pub name: String,
    /// The template it came from (`# Source:` in the YAML stream, like `helm template`).
    pub(crate) template: &'static str,
    /// The whole object.
    pub object: Value,
}
