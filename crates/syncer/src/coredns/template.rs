//! The part of Go's `text/template` the CoreDNS bundle uses: the established syncer runs the
//! bundle through `template.ParseFiles(...).Execute(buf, vars)` with a `map[string]interface{}`
//! of strings (loft-sh/vcluster v0.15.7 `pkg/coredns/coredns.go` `processManifestTemplate`).
//!
//! Understood actions, with Go's meaning:
//! - `{{.NAME}}` (spaces allowed inside the delimiters): the variable; a name the map lacks
//!   prints `<no value>`, as Go prints a missing map key;
//! - string constants ``{{`raw`}}`` and `{{"quoted\n"}}` (the chart escapes a literal `{{` in
//!   user text as ``{{`{{`}}``);
//! - comments `{{/* … */}}`;
//! - the trim markers `{{- ` and ` -}}` (surrounding white space removed).
//!
//! Anything else (`if`, `range`, pipelines, functions, `.A.B`) is an [`TemplateError`]: the bundle
//! the chart renders never contains one, and guessing at Go's semantics would apply something
//! else than the established syncer would.

use std::collections::BTreeMap;

/// Why a bundle could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("line {line}: unclosed action")]
    Unclosed { line: usize },
    #[error(
        "line {line}: unsupported template action {{{{{action}}}}} (only {{{{.NAME}}}}, string constants and comments are understood)"
    )]
    Unsupported { line: usize, action: String },
    #[error("line {line}: unterminated string constant in action")]
    UnterminatedString { line: usize },
}

/// Fill `text` with `vars` as Go's `text/template` would for the actions listed above.
pub fn execute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let line_of = |rest: &str| text[..text.len() - rest.len()].matches('\n').count() + 1;
    while let Some(start) = rest.find("{{") {
        let line = line_of(&rest[start..]);
        let mut inner = &rest[start + 2..];
        let mut literal = &rest[..start];
        // `{{- ` trims the white space before the action.
        if let Some(after) =
            inner.strip_prefix("- ").or_else(|| inner.strip_prefix("-\t")).or_else(|| inner.strip_prefix("-\n"))
        {
            literal = literal.trim_end_matches(is_go_space);
            inner = after;
        }
        out.push_str(literal);
        let (output, after_action, trim_after) = action(inner, vars, line)?;
        out.push_str(&output);
        rest = if trim_after { after_action.trim_start_matches(is_go_space) } else { after_action };
    }
    out.push_str(rest);
    Ok(out)
}

/// Go's template white space: space, tab, carriage return, newline.
fn is_go_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// One action after its `{{` (and trim marker): what it prints, the text after its `}}`, and
/// whether it ends with the ` -}}` trim marker.
fn action<'a>(
    inner: &'a str,
    vars: &BTreeMap<String, String>,
    line: usize,
) -> Result<(String, &'a str, bool), TemplateError> {
    let body = inner.trim_start_matches(is_go_space);
    // A comment may contain anything up to `*/`.
    if let Some(comment) = body.strip_prefix("/*") {
        let end = comment.find("*/").ok_or(TemplateError::Unclosed { line })?;
        return close(&comment[end + 2..], line, String::new());
    }
    if let Some(raw) = body.strip_prefix('`') {
        let end = raw.find('`').ok_or(TemplateError::UnterminatedString { line })?;
        return close(&raw[end + 1..], line, raw[..end].to_owned());
    }
    if let Some(quoted) = body.strip_prefix('"') {
        let (value, after) = unquote(quoted).ok_or(TemplateError::UnterminatedString { line })?;
        return close(after, line, value);
    }
    let end = body.find("}}").ok_or(TemplateError::Unclosed { line })?;
    let (content, trim_after) = match body[..end].strip_suffix('-') {
        Some(c) if c.ends_with(is_go_space) => (c, true),
        _ => (&body[..end], false),
    };
    let content = content.trim_matches(is_go_space);
    let name =
        content.strip_prefix('.').filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    match name {
        Some(name) => {
            let value = vars.get(name).cloned().unwrap_or_else(|| "<no value>".into());
            Ok((value, &body[end + 2..], trim_after))
        }
        None => Err(TemplateError::Unsupported { line, action: content.to_owned() }),
    }
}

/// The end of an action after its operand: white space, an optional ` -` trim marker, `}}`.
fn close(after: &str, line: usize, output: String) -> Result<(String, &str, bool), TemplateError> {
    let rest = after.trim_start_matches(is_go_space);
    let trimmed_ws = rest.len() != after.len();
    if let Some(r) = rest.strip_prefix("}}") {
        return Ok((output, r, false));
    }
    if trimmed_ws && let Some(r) = rest.strip_prefix("-}}") {
        return Ok((output, r, true));
    }
    match rest.find("}}") {
        Some(end) => Err(TemplateError::Unsupported { line, action: rest[..end].trim().to_owned() }),
        None => Err(TemplateError::Unclosed { line }),
    }
}

/// A Go interpreted string constant after its opening quote: its value and the text after the
/// closing quote. Escapes: `\n \t \r \\ \" \'` and `\xHH`; others are kept as written.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' => {
                        let hex: String = [chars.next()?.1, chars.next()?.1].iter().collect();
                        out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            other => out.push(other),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("IMAGE", "coredns/coredns:1.10.1"), ("LOG_IN_DEBUG", ""), ("HOST_CLUSTER_DNS", "10.0.0.10")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn variables_and_missing_keys() {
        assert_eq!(execute("image: {{.IMAGE}}", &vars()).unwrap(), "image: coredns/coredns:1.10.1");
        assert_eq!(execute("a {{ .HOST_CLUSTER_DNS }} b", &vars()).unwrap(), "a 10.0.0.10 b");
        // Go prints a missing map key as <no value>.
        assert_eq!(execute("x: {{.RUN_AS_NON_ROOT}}", &vars()).unwrap(), "x: <no value>");
        assert_eq!(execute("no actions } { here", &vars()).unwrap(), "no actions } { here");
    }

    #[test]
    fn the_charts_escape_and_string_constants() {
        assert_eq!(execute("k: \"{{`{{`}}.IMAGE}}\"", &vars()).unwrap(), "k: \"{{.IMAGE}}\"");
        assert_eq!(execute(r#"{{"a\tb\"c"}}"#, &vars()).unwrap(), "a\tb\"c");
        assert_eq!(execute("{{`}}`}}", &vars()).unwrap(), "}}");
        assert_eq!(execute("a{{/* note {{ */}}b", &vars()).unwrap(), "ab");
    }

    #[test]
    fn trim_markers() {
        let text = ".:1053 {\n    {{.LOG_IN_DEBUG}}\n    errors\n";
        assert_eq!(execute(text, &vars()).unwrap(), ".:1053 {\n    \n    errors\n");
        assert_eq!(execute("a  \n{{- .IMAGE -}}\n  b", &vars()).unwrap(), "acoredns/coredns:1.10.1b");
        // `{{-3}}` is the number -3 in Go, not a trim marker: unsupported here.
        assert!(execute("{{-3}}", &vars()).is_err());
    }

    #[test]
    fn unsupported_actions_are_errors() {
        let err = execute("a\nb {{ if .IMAGE }}x{{ end }}", &vars()).unwrap_err();
        assert_eq!(err, TemplateError::Unsupported { line: 2, action: "if .IMAGE".into() });
        assert!(matches!(execute("{{.A.B}}", &vars()), Err(TemplateError::Unsupported { .. })));
        assert!(matches!(execute("{{ printf \"%s\" .IMAGE }}", &vars()), Err(TemplateError::Unsupported { .. })));
        assert_eq!(execute("x {{.IMAGE", &vars()).unwrap_err(), TemplateError::Unclosed { line: 1 });
        assert_eq!(execute("{{\"abc}}", &vars()).unwrap_err(), TemplateError::UnterminatedString { line: 1 });
    }
}
