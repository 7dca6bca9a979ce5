//! Label and field selectors as list and watch requests carry them.
//!
//! Syntax and messages: staging/src/k8s.io/apimachinery/pkg/labels/selector.go (label
//! selectors), staging/src/k8s.io/apimachinery/pkg/fields/selector.go (field selectors); the
//! per-kind field labels: `AddFieldLabelConversionFunc` in pkg/apis/*/v1/conversion.go.

use serde_json::{Map, Value};

use crate::model::jsonpath::{get, get_str};
use crate::model::resources::ResourceDef;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Equals,
    NotEquals,
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub value: String,
}

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(pub Vec<Requirement>);

impl LabelSelector {
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.0.iter().all(|r| {
            let value = labels.and_then(|l| l.get(&r.key)).and_then(Value::as_str);
            match &r.op {
                Op::Equals => value == Some(r.value.as_str()),
                Op::NotEquals => value != Some(r.value.as_str()),
                Op::In(vs) => value.is_some_and(|v| vs.iter().any(|x| x == v)),
                Op::NotIn(vs) => value.is_none_or(|v| !vs.iter().any(|x| x == v)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
                Op::Gt(n) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
                Op::Lt(n) => value.and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
            }
        })
    }
}

/// Tokens of labels/selector.go's lexer.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Identifier(String),
    Comma,
    Equals,
    DoubleEquals,
    NotEquals,
    Not,
    OpenPar,
    ClosePar,
    In,
    NotIn,
    Gt,
    Lt,
    End,
}

impl Token {
    fn literal(&self) -> String {
        match self {
            Token::Identifier(s) => s.clone(),
            Token::Comma => ",".into(),
            Token::Equals => "=".into(),
            Token::DoubleEquals => "==".into(),
            Token::NotEquals => "!=".into(),
            Token::Not => "!".into(),
            Token::OpenPar => "(".into(),
            Token::ClosePar => ")".into(),
            Token::In => "in".into(),
            Token::NotIn => "notin".into(),
            Token::Gt => ">".into(),
            Token::Lt => "<".into(),
            Token::End => String::new(),
        }
    }
}

fn lex(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let special = |c: char| matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if special(c) {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let (tok, len) = match two.as_str() {
                "==" => (Token::DoubleEquals, 2),
                "!=" => (Token::NotEquals, 2),
                _ => (
                    match c {
                        '=' => Token::Equals,
                        '!' => Token::Not,
                        '(' => Token::OpenPar,
                        ')' => Token::ClosePar,
                        ',' => Token::Comma,
                        '>' => Token::Gt,
                        _ => Token::Lt,
                    },
                    1,
                ),
            };
            out.push(tok);
            i += len;
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !special(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            out.push(match word.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier(word),
            });
        }
    }
    out.push(Token::End);
    out
}

/// labels.Parse: the string form of a label selector (`labelSelector=` query parameter).
pub fn parse_label_selector(s: &str) -> Result<LabelSelector, String> {
    let tokens = lex(s);
    let mut pos = 0;
    let mut reqs = Vec::new();
    if tokens[0] == Token::End {
        return Ok(LabelSelector(reqs));
    }
    loop {
        let (req, next) = parse_requirement(&tokens, pos)?;
        reqs.push(req);
        pos = next;
        match &tokens[pos] {
            Token::End => break,
            Token::Comma => {
                pos += 1;
                if tokens[pos] == Token::End {
                    return Err(format!("found '{}', expected: identifier after ','", ""));
                }
            }
            t => return Err(format!("found '{}', expected: ',' or 'end of string'", t.literal())),
        }
    }
    for r in &reqs {
        validate_requirement(r)?;
    }
    Ok(LabelSelector(reqs))
}

fn parse_requirement(tokens: &[Token], mut pos: usize) -> Result<(Requirement, usize), String> {
    let negated = tokens[pos] == Token::Not;
    if negated {
        pos += 1;
    }
    let key = match &tokens[pos] {
        Token::Identifier(k) => k.clone(),
        t => return Err(format!("found '{}', expected: identifier", t.literal())),
    };
    pos += 1;
    if negated {
        return Ok((Requirement { key, op: Op::DoesNotExist, value: String::new() }, pos));
    }
    let op_tok = tokens[pos].clone();
    match op_tok {
        Token::End | Token::Comma => Ok((Requirement { key, op: Op::Exists, value: String::new() }, pos)),
        Token::Equals | Token::DoubleEquals | Token::NotEquals | Token::Gt | Token::Lt => {
            pos += 1;
            let value = match &tokens[pos] {
                Token::Identifier(v) => {
                    pos += 1;
                    v.clone()
                }
                Token::End | Token::Comma => String::new(),
                t => return Err(format!("found '{}', expected: identifier", t.literal())),
            };
            let op = match op_tok {
                Token::NotEquals => Op::NotEquals,
                Token::Gt | Token::Lt => {
                    let n: i64 = value
                        .parse()
                        .map_err(|_| "for 'Gt', 'Lt' operators, the value must be an integer".to_string())?;
                    if op_tok == Token::Gt { Op::Gt(n) } else { Op::Lt(n) }
                }
                _ => Op::Equals,
            };
            Ok((Requirement { key, op, value }, pos))
        }
        Token::In | Token::NotIn => {
            pos += 1;
            if tokens[pos] != Token::OpenPar {
                return Err(format!("found '{}', expected: '('", tokens[pos].literal()));
            }
            pos += 1;
            let mut values = Vec::new();
            loop {
                match &tokens[pos] {
                    Token::Identifier(v) => {
                        values.push(v.clone());
                        pos += 1;
                    }
                    Token::ClosePar if values.is_empty() => {
                        values.push(String::new());
                    }
                    t => return Err(format!("found '{}', expected: ',', ')' or identifier", t.literal())),
                }
                match &tokens[pos] {
                    Token::Comma => pos += 1,
                    Token::ClosePar => {
                        pos += 1;
                        break;
                    }
                    t => return Err(format!("found '{}', expected: ',' or ')'", t.literal())),
                }
            }
            let op = if op_tok == Token::In { Op::In(values) } else { Op::NotIn(values) };
            Ok((Requirement { key, op, value: String::new() }, pos))
        }
        t => Err(format!("found '{}', expected: in, notin, =, ==, !=, gt, lt", t.literal())),
    }
}

/// labels.NewRequirement's key and value validation.
fn validate_requirement(r: &Requirement) -> Result<(), String> {
    if let Some(msg) = crate::model::names::qualified_name(&r.key).into_iter().next() {
        return Err(format!("key: Invalid value: {}: {msg}", crate::model::status::go_quote(&r.key)));
    }
    let values: Vec<&str> = match &r.op {
        Op::In(v) | Op::NotIn(v) => v.iter().map(String::as_str).collect(),
        Op::Equals | Op::NotEquals => vec![r.value.as_str()],
        _ => vec![],
    };
    for (i, v) in values.iter().enumerate() {
        if let Some(msg) = crate::model::names::label_value(v).into_iter().next() {
            return Err(format!("values[{i}][{}]: Invalid value: {}: {msg}", r.key, crate::model::status::go_quote(v)));
        }
    }
    Ok(())
}

/// Does a `metav1.LabelSelector` object (matchLabels/matchExpressions) select `labels`?
pub fn label_selector_matches(selector: &Value, labels: &Map<String, Value>) -> bool {
    let mut reqs = Vec::new();
    if let Some(m) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push(Requirement { key: k.clone(), op: Op::Equals, value: v.as_str().unwrap_or_default().into() });
        }
    }
    for e in crate::model::jsonpath::items(selector, "matchExpressions") {
        let key = get_str(e, &["key"]).unwrap_or_default().to_string();
        let values: Vec<String> =
            crate::model::jsonpath::items(e, "values").filter_map(Value::as_str).map(str::to_string).collect();
        let op = match get_str(e, &["operator"]).unwrap_or_default() {
            "In" => Op::In(values),
            "NotIn" => Op::NotIn(values),
            "Exists" => Op::Exists,
            _ => Op::DoesNotExist,
        };
        reqs.push(Requirement { key, op, value: String::new() });
    }
    LabelSelector(reqs).matches(Some(labels))
}

/// A parsed field selector: `field=value`, `field==value`, `field!=value` terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(pub Vec<(String, bool, String)>);

/// fields.ParseSelector (with `\,`, `\=`, `\\` escapes).
pub fn parse_field_selector(s: &str) -> Result<FieldSelector, String> {
    let mut terms = Vec::new();
    if s.is_empty() {
        return Ok(FieldSelector(terms));
    }
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            cur.push('\\');
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    for part in parts {
        let (field, equal, value) = if let Some((f, v)) = split_unescaped(&part, "!=") {
            (f, false, v)
        } else if let Some((f, v)) = split_unescaped(&part, "==") {
            (f, true, v)
        } else if let Some((f, v)) = split_unescaped(&part, "=") {
            (f, true, v)
        } else {
            return Err(format!("invalid selector: '{s}'; can't understand '{part}'"));
        };
        terms.push((field, equal, unescape(&value)));
    }
    Ok(FieldSelector(terms))
}

fn split_unescaped(s: &str, op: &str) -> Option<(String, String)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if s[i..].starts_with(op) {
            return Some((s[..i].to_string(), s[i + op.len()..].to_string()));
        }
        i += 1;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl FieldSelector {
    /// The field labels this kind does not support, as the scheme's `ConvertFieldLabel`
    /// rejects the first (kubernetes v1.33 staging/src/k8s.io/apimachinery/pkg/runtime/scheme.go):
    /// a kind with an `AddFieldLabelConversionFunc` (pkg/apis/core/v1/conversion.go,
    /// pkg/apis/events/v1/conversion.go; the kinds with `field_labels`) answers `field label not
    /// supported: <label>` and accepts `metadata.namespace` only when namespaced (the Node and
    /// Namespace functions list `metadata.name` alone); every other kind gets
    /// apimachinery/pkg/runtime/conversion.go `DefaultMetaV1FieldSelectorConversion`.
    pub fn check(&self, res: &ResourceDef) -> Result<(), String> {
        for (field, _, _) in &self.0 {
            if res.field_labels.is_empty() {
                if field != "metadata.name" && field != "metadata.namespace" {
                    return Err(format!(
                        "{} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                        crate::merge::go_quote(field)
                    ));
                }
                continue;
            }
            let known = field == "metadata.name"
                || (field == "metadata.namespace" && res.namespaced)
                || res.field_labels.contains(&field.as_str());
            if !known {
                return Err(format!("field label not supported: {field}"));
            }
        }
        Ok(())
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| (field_value(obj, field) == *value) == *equal)
    }
}

/// The value of a field label on an object, as the per-kind `*ToSelectableFields` functions
/// compute it (booleans and numbers as their string forms, absent fields as "").
fn field_value(obj: &Value, field: &str) -> String {
    let path: Vec<&str> = field.split('.').collect();
    if field == "status.podIPs" {
        return crate::model::jsonpath::items(obj.get("status").unwrap_or(&Value::Null), "podIPs")
            .filter_map(|p| p.get("ip").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(",");
    }
    if field == "source" {
        return get_str(obj, &["source", "component"]).unwrap_or_default().to_string();
    }
    match get(obj, &path) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ if field == "spec.unschedulable" || field == "spec.hostNetwork" => "false".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn label_selector_operators() {
        let l = labels(json!({"app": "web", "tier": "front", "n": "5"}));
        for (sel, want) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web,db)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier=back", false),
            ("n>4", true),
            ("n<4", false),
            ("", true),
        ] {
            assert_eq!(parse_label_selector(sel).unwrap().matches(Some(&l)), want, "{sel}");
        }
    }

    #[test]
    fn label_selector_syntax_errors() {
        assert!(parse_label_selector("app=web tier").is_err());
        assert!(parse_label_selector("app in web").is_err());
        assert!(parse_label_selector("a b=c").is_err());
    }

    #[test]
    fn field_selectors() {
        let sel = parse_field_selector("metadata.name=a,status.phase!=Running").unwrap();
        assert!(sel.matches(&json!({"metadata": {"name": "a"}, "status": {"phase": "Pending"}})));
        assert_eq!(parse_field_selector("foo").unwrap_err(), "invalid selector: 'foo'; can't understand 'foo'");
    }
}
