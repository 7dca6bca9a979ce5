//! Everything that can be wrong with values input.

use super::strvals::SetError;
use super::validate::Problem;

/// Everything that can be wrong with values input. Each message says where and what.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    #[error("cannot read values from {source_name}: {source}")]
    Read {
        source_name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{spec:?} is not a values file: {reason}")]
    Refused { spec: String, reason: &'static str, hint: String },
    #[error("{source_name} is larger than {} MiB; values inputs are limited to that size", limit / (1024 * 1024))]
    TooLarge { source_name: String, limit: usize },
    #[error("{source_name}:{line}:{column}: {message}")]
    Syntax { source_name: String, line: usize, column: usize, message: String },
    #[error("{source_name}:{line}:{column}: duplicate key {key:?}{}", first_line.map(|l| format!(" (first defined on line {l})")).unwrap_or_default())]
    DuplicateKey { source_name: String, key: String, first_line: Option<usize>, line: usize, column: usize },
    #[error("{source_name}: refused: {message} (limits: {max_aliases} aliases, nesting depth {max_depth})")]
    Budget { source_name: String, message: String, max_aliases: usize, max_depth: usize },
    #[error("{source_name}: a values file must be a YAML mapping at the top, found {found}")]
    NotAMap { source_name: String, found: String },
    #[error("{flag} {text:?}: {error}")]
    Set { flag: &'static str, text: String, error: SetError },
    #[error("{}", unknown_keys_message(.0))]
    UnknownKeys(Vec<(String, Option<String>)>),
    #[error("values: {path}: {message}")]
    Type { path: String, message: String },
    #[error("invalid values:{}", .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Invalid(Vec<Problem>),
}

fn unknown_keys_message(keys: &[(String, Option<String>)]) -> String {
    let items: Vec<String> = keys
        .iter()
        .map(|(path, hint)| match hint {
            Some(h) => format!("{path} (did you mean {h}?)"),
            None => path.clone(),
        })
        .collect();
    if items.len() == 1 {
        format!("unknown values key {}", items[0])
    } else {
        format!("unknown values keys: {}", items.join(", "))
    }
}

impl ValuesError {
    /// Advice for the person at the keyboard, when there is some beyond the message.
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            ValuesError::Refused { hint, .. } => Some(hint.clone()),
            ValuesError::UnknownKeys(_) => {
                Some("the values reference in README.md lists every supported key".to_string())
            }
            ValuesError::TooLarge { .. } | ValuesError::Budget { .. } => {
                Some("split the values into smaller files, or avoid YAML aliases that expand into huge trees".into())
            }
            _ => None,
        }
    }
}
