//! The options of a request once its query and body are decoded: how a write is made
//! (dry run, field manager, field validation), which subresource it goes through, the patch
//! type, delete options and list options (staging/src/k8s.io/apimachinery/pkg/apis/meta/v1
//! types.go at kubernetes v1.33: `CreateOptions`, `UpdateOptions`, `PatchOptions`,
//! `DeleteOptions`, `ListOptions`).

use crate::model::selectors::{FieldSelector, LabelSelector};

/// `fieldValidation`: what an unknown or duplicate field in a body does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// Options every write carries.
#[derive(Debug, Clone)]
pub struct WriteOpts {
    pub dry_run: bool,
    /// The field manager: the `fieldManager` parameter or the User-Agent prefix.
    pub manager: String,
    pub validation: FieldValidation,
}

/// A subresource that reads and writes the object itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
    Finalize,
}

impl Sub {
    pub fn name(self) -> &'static str {
        match self {
            Sub::Main => "",
            Sub::Status => "status",
            Sub::Finalize => "finalize",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

#[derive(Debug, Default, Clone)]
pub struct DeleteOpts {
    pub grace_period: Option<i64>,
    pub propagation: Option<String>,
    pub orphan_dependents: Option<bool>,
    pub uid_precondition: Option<String>,
    pub rv_precondition: Option<String>,
    pub dry_run: bool,
}

/// List options after parsing.
#[derive(Debug, Default, Clone)]
pub struct ListOpts {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<u64>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub exact: bool,
}
