//! Reading one values document the way Helm reads it, with limits.
//!
//! YAML 1.1 scalars (`yes`/`no`/`on`/`off` are booleans, as go-yaml v2 under
//! sigs.k8s.io/yaml reads them for Helm), duplicate keys are an error naming both lines, and
//! aliases, nesting and size are budgeted so an alias bomb is refused like an oversized file.

use serde_json::{Map, Value};
use serde_saphyr::{DuplicateKeyPolicy, Error as YamlError};

use super::error::ValuesError;

/// Largest accepted values input (files and stdin alike).
pub(crate) const MAX_INPUT_BYTES: usize = 5 * 1024 * 1024;
/// Deepest accepted nesting of maps and lists.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most alias expansions (`*ref`) accepted in one document: generous for real files, far below
/// what a "billion laughs" document needs.
pub(crate) const MAX_ALIASES: usize = 1_000;
/// Most events alias expansion may add to a document.
pub(crate) const MAX_REPLAYED_EVENTS: usize = 100_000;

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_reader_input_bytes: Some(MAX_INPUT_BYTES),
            max_depth: MAX_DEPTH,
            max_aliases: MAX_ALIASES,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_REPLAYED_EVENTS,
            max_replay_stack_depth: 16,
        },
        duplicate_keys: DuplicateKeyPolicy::Error,
        // Comments are validated but not kept (values files are mostly comments; faster).
        emit_comments: false,
        // go-yaml v2 (Helm) reads `010` as octal 8.
        legacy_octal_numbers: true,
        with_snippet: false,
    }
}

/// Parse one values document. `source` names it in errors (a path, `<stdin>`, `defaults`).
/// An empty document is an empty map; anything but a map at the top is an error.
pub(crate) fn parse_document(source: &str, text: &str) -> Result<Map<String, Value>, ValuesError> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(ValuesError::TooLarge { source_name: source.to_string(), limit: MAX_INPUT_BYTES });
    }
    let value: Value =
        serde_saphyr::from_str_with_options(text, options()).map_err(|e| syntax_error(source, text, &e))?;
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        other => Err(ValuesError::NotAMap {
            source_name: source.to_string(),
            found: super::strvals::type_name(&other).to_string(),
        }),
    }
}

fn syntax_error(source: &str, text: &str, err: &YamlError) -> ValuesError {
    let location = err.location().map(|l| (l.line() as usize, l.column() as usize));
    let message = first_line(&err.to_string());
    if let YamlError::DuplicateMappingKey { key, .. } = err
        && let Some((line, column)) = location
    {
        let key = key.clone().unwrap_or_default();
        let first_line = first_definition(text, &key, line, column);
        return ValuesError::DuplicateKey { source_name: source.to_string(), key, first_line, line, column };
    }
    if matches!(
        err,
        YamlError::Budget { .. }
            | YamlError::AliasReplayLimitExceeded { .. }
            | YamlError::AliasExpansionLimitExceeded { .. }
            | YamlError::AliasReplayStackDepthExceeded { .. }
    ) || message.contains("limit exceeded")
        || message.contains("budget")
    {
        return ValuesError::Budget {
            source_name: source.to_string(),
            message,
            max_aliases: MAX_ALIASES,
            max_depth: MAX_DEPTH,
        };
    }
    let (line, column) = location.unwrap_or((0, 0));
    ValuesError::Syntax { source_name: source.to_string(), line, column, message }
}

/// saphyr messages may carry their own " at line X column Y" suffix; we print the location once.
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

/// Where a duplicated block-mapping key was first written: walk back from the duplicate, over
/// deeper-indented lines, to a line at the same column that starts with the same key. Flow
/// mappings (`{a: 1, a: 2}`) are looked up on the duplicate's own line.
fn first_definition(text: &str, key: &str, line: usize, column: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let indent = column.saturating_sub(1);
    let starts_with_key = |s: &str| {
        [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':"), format!("{key} :")]
            .iter()
            .any(|p| s.starts_with(p.as_str()))
    };
    let own = lines.get(line.checked_sub(1)?)?;
    if own.char_indices().nth(indent).is_some() {
        let before: String = own.chars().take(indent).collect();
        if let Some(pos) = before.find(&format!("{key}:")) {
            let preceded_by_separator = before[..pos].trim_end().ends_with(['{', ',']);
            if preceded_by_separator {
                return Some(line);
            }
        }
    }
    for n in (1..line).rev() {
        let text = lines.get(n - 1)?;
        let trimmed = text.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let this_indent = text.len() - trimmed.len();
        let item = trimmed.strip_prefix("- ").map(|s| (this_indent + 2, s)).unwrap_or((this_indent, trimmed));
        if item.0 == indent && starts_with_key(item.1) {
            return Some(n);
        }
        if this_indent < indent && !(trimmed.starts_with("- ") && item.0 == indent) {
            // Left the mapping without finding it.
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_booleans_as_helm_reads_them() {
        let map = parse_document("v.yaml", "a: yes\nb: off\nc: On\nd: 'yes'\ne: 010\nf: 1.5\ng: ~\n").unwrap();
        assert_eq!(
            Value::Object(map),
            json!({"a": true, "b": false, "c": true, "d": "yes", "e": 8, "f": 1.5, "g": null})
        );
    }

    #[test]
    fn empty_document_is_an_empty_map_and_lists_are_refused() {
        assert!(parse_document("v.yaml", "# nothing\n").unwrap().is_empty());
        let err = parse_document("v.yaml", "- a\n").unwrap_err();
        assert!(err.to_string().contains("must be a YAML mapping"), "{err}");
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = parse_document("v.yaml", "sync:\n  services:\n    enabled: [true\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("v.yaml:"), "{text}");
        match err {
            ValuesError::Syntax { line, column, .. } => assert!(line >= 3 && column > 0, "{line}:{column}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let text =
            "sync:\n  services:\n    enabled: true\n  pods:\n    enabled: true\n  services:\n    enabled: false\n";
        let err = parse_document("v.yaml", text).unwrap_err();
        match &err {
            ValuesError::DuplicateKey { key, first_line, line, .. } => {
                assert_eq!(key, "services");
                assert_eq!(*first_line, Some(2));
                assert_eq!(*line, 6);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("first defined on line 2"), "{err}");
        let err = parse_document("v.yaml", "a: {b: 1, b: 2}\n").unwrap_err();
        assert!(matches!(err, ValuesError::DuplicateKey { first_line: Some(1), line: 1, .. }), "{err:?}");
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 10].join(", ")));
        }
        let err = parse_document("bomb.yaml", &bomb).unwrap_err();
        assert!(matches!(err, ValuesError::Budget { .. }), "{err:?}");
        assert!(err.to_string().contains("bomb.yaml"), "{err}");
        let deep = "a: ".to_string() + &"[".repeat(200) + &"]".repeat(200) + "\n";
        assert!(parse_document("deep.yaml", &deep).is_err());
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let big = format!("a: \"{}\"\n", "x".repeat(MAX_INPUT_BYTES));
        assert!(matches!(parse_document("big.yaml", &big), Err(ValuesError::TooLarge { .. })));
    }
}
