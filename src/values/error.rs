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
    #[error("invalid values:{}", .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Invalid(Vec<Problem>),
}

fn unknown_keys_message(keys: &[(String, Option<String>)]) -> String {
    let (empty, named): (Vec<_>, Vec<_>) = keys.iter().partition(|(path, _)| path.split('.').any(str::is_empty));
    let mut parts: Vec<String> = empty.iter().map(|(path, _)| empty_key_message(path)).collect();
    let items: Vec<String> = named
        .iter()
        .map(|(path, hint)| match hint {
            Some(h) => format!("{path} (did you mean {h}?)"),
            None => path.clone(),
        })
        .collect();
    match items.len() {
        0 => {}
        1 => parts.push(format!("unknown values key {}", items[0])),
        _ => parts.push(format!("unknown values keys: {}", items.join(", "))),
    }
    parts.join("; ")
}

/// A key with an empty name (`--set '=true'`, `"": 1`, `a..b=1`): said as such, with where it is.
fn empty_key_message(path: &str) -> String {
    let parent = path.split('.').take_while(|s| !s.is_empty()).collect::<Vec<_>>().join(".");
    if parent.is_empty() {
        "a values key has an empty name (a `--set` without a key before `=`, or an empty key in a file)".into()
    } else {
        format!("a values key under {parent} has an empty name")
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
