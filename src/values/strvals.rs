//! `--set`, `--set-string` and `--set-json`: Helm's strvals syntax, applied into a values tree.
//!
//! Syntax (helm: pkg/strvals/parser.go): comma-separated `path=value` pairs; a path is keys joined
//! by `.` with optional list indexes (`list[0].key`, `m[1][2]`); a backslash makes the next
//! character literal (`a\.b=1` sets the key `a.b`); `{x,y}` is a list. `--set` infers only
//! booleans (`true`/`false`, any case), `null` and int64 (no leading zero except `0` itself);
//! `--set-string` keeps every value a string; `--set-json` reads one JSON value per key.

use serde_json::{Map, Value};

/// Which flag a `key=value` list came from; it decides how values are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// `--set-json`
    Json,
    /// `--set`
    Typed,
    /// `--set-string`
    String,
}

impl SetKind {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            SetKind::Json => "--set-json",
            SetKind::Typed => "--set",
            SetKind::String => "--set-string",
        }
    }
}

/// Helm's limits (helm: pkg/strvals/parser.go `MaxIndex`, `MaxNestedNameLevel`).
pub(crate) const MAX_INDEX: usize = 65536;
pub(crate) const MAX_NESTED_NAME_LEVEL: usize = 30;

/// A malformed `--set` argument: what is wrong and where (character offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct SetError {
    pub(crate) message: String,
    pub(crate) position: usize,
}

/// Parse one flag value (`a.b=1,c[0]=x`) and set every pair into `data`, in order.
pub fn parse_into(text: &str, kind: SetKind, data: &mut Map<String, Value>) -> Result<(), SetError> {
    let mut parser = Parser { chars: text.chars().collect(), pos: 0, kind };
    while !parser.at_end() {
        parser.key(data, 0)?;
    }
    Ok(())
}

/// Escape a key or value so that `parse_into` reads it back literally (for messages and tests).
pub fn escape(text: &str, specials: &[char]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' || specials.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    kind: SetKind,
}

/// How a run of characters ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Stop(char),
    Eof,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, SetError> {
        Err(SetError { message: message.into(), position: self.pos })
    }

    /// Read until an unescaped stop character (consumed) or the end.
    fn until(&mut self, stops: &[char]) -> (String, End) {
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.pos) {
            self.pos += 1;
            if c == '\\' {
                if let Some(&next) = self.chars.get(self.pos) {
                    self.pos += 1;
                    out.push(next);
                }
                continue;
            }
            if stops.contains(&c) {
                return (out, End::Stop(c));
            }
            out.push(c);
        }
        (out, End::Eof)
    }

    /// One `path=value` pair into `data` (helm: parser.key).
    fn key(&mut self, data: &mut Map<String, Value>, level: usize) -> Result<(), SetError> {
        let (key, end) = self.until(&['=', '[', ',', '.']);
        match end {
            End::Eof if key.is_empty() => Ok(()),
            End::Eof => self.err(format!("key {key:?} has no value")),
            End::Stop(',') => self.err(format!("key {key:?} has no value (cannot end with ,)")),
            End::Stop('=') => {
                let value = self.value()?;
                data.insert(key, value);
                Ok(())
            }
            End::Stop('.') => {
                if level + 1 > MAX_NESTED_NAME_LEVEL {
                    return self.err(format!(
                        "value name nested level is greater than maximum supported nested level of {MAX_NESTED_NAME_LEVEL}"
                    ));
                }
                let mut inner = match data.remove(&key) {
                    None | Some(Value::Null) => Map::new(),
                    Some(Value::Object(m)) => m,
                    Some(other) => {
                        let found = type_name(&other);
                        data.insert(key.clone(), other);
                        return self.err(format!("cannot set a key below {key:?}: it is {found}, not a map"));
                    }
                };
                let result = self.key(&mut inner, level + 1);
                if result.is_ok() && inner.is_empty() {
                    return self.err(format!("key map {key:?} has no value"));
                }
                data.insert(key, Value::Object(inner));
                result
            }
            End::Stop(_) => {
                // '[': an index into a list.
                let index = self.index()?;
                let mut list = match data.remove(&key) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(l)) => l,
                    Some(other) => {
                        let found = type_name(&other);
                        data.insert(key.clone(), other);
                        return self.err(format!("cannot index {key:?}: it is {found}, not a list"));
                    }
                };
                let result = self.list_item(&mut list, index, level);
                data.insert(key, Value::Array(list));
                result
            }
        }
    }

    /// The digits between `[` and `]` (helm: parser.keyIndex).
    fn index(&mut self) -> Result<usize, SetError> {
        let (digits, end) = self.until(&[']']);
        if end == End::Eof {
            return self.err("error parsing index: missing ']'");
        }
        let parsed: i64 = match digits.trim().parse() {
            Ok(n) => n,
            Err(_) => return self.err(format!("error parsing index: {digits:?} is not a number")),
        };
        if parsed < 0 {
            return self.err(format!("negative {parsed} index not allowed"));
        }
        let index = parsed as usize;
        if index > MAX_INDEX {
            return self.err(format!("index of {index} is greater than maximum supported index of {MAX_INDEX}"));
        }
        Ok(index)
    }

    /// What follows `name[i]`: `=value`, `.key…` or another `[j]` (helm: parser.listItem).
    fn list_item(&mut self, list: &mut Vec<Value>, index: usize, level: usize) -> Result<(), SetError> {
        let (rest, end) = self.until(&['[', '.', '=']);
        if !rest.is_empty() {
            return self.err(format!("unexpected data at end of array index: {rest:?}"));
        }
        if list.len() <= index {
            list.resize(index + 1, Value::Null);
        }
        match end {
            End::Eof => self.err("list index has no value"),
            End::Stop('=') => {
                list[index] = self.value()?;
                Ok(())
            }
            End::Stop('[') => {
                let next = self.index()?;
                let mut inner = match std::mem::take(&mut list[index]) {
                    Value::Array(l) => l,
                    Value::Null => Vec::new(),
                    other => {
                        let found = type_name(&other);
                        list[index] = other;
                        return self.err(format!("cannot index list element {index}: it is {found}, not a list"));
                    }
                };
                let result = self.list_item(&mut inner, next, level);
                list[index] = Value::Array(inner);
                result
            }
            End::Stop(_) => {
                // '.': a map inside the list; a non-map element is replaced (helm: "indices out of order").
                let mut inner = match std::mem::take(&mut list[index]) {
                    Value::Object(m) => m,
                    _ => Map::new(),
                };
                let result = self.key(&mut inner, level);
                list[index] = Value::Object(inner);
                result
            }
        }
    }

    /// The value after `=`, up to the next unescaped `,` (consumed) or the end.
    fn value(&mut self) -> Result<Value, SetError> {
        if self.kind == SetKind::Json {
            return self.json_value();
        }
        if self.chars.get(self.pos) == Some(&'{') {
            self.pos += 1;
            return self.list_literal();
        }
        let (text, _) = self.until(&[',']);
        Ok(self.typed(text))
    }

    /// `{a,b,c}` (helm: parser.valList). Like Helm, `{}` is a list with one empty string.
    fn list_literal(&mut self) -> Result<Value, SetError> {
        let mut list = Vec::new();
        loop {
            let (text, end) = self.until(&[',', '}']);
            match end {
                End::Eof => return self.err("list must terminate with '}'"),
                End::Stop('}') => {
                    list.push(self.typed(text));
                    if self.chars.get(self.pos) == Some(&',') {
                        self.pos += 1;
                    } else if !self.at_end() {
                        let (rest, _) = self.until(&[',']);
                        return self.err(format!("unexpected data after list: {rest:?}"));
                    }
                    return Ok(Value::Array(list));
                }
                End::Stop(_) => list.push(self.typed(text)),
            }
        }
    }

    /// One JSON value, then optional blanks and a `,` or the end (helm: ParseJSON). An empty
    /// value is null.
    fn json_value(&mut self) -> Result<Value, SetError> {
        let rest: String = self.chars[self.pos..].iter().collect();
        if rest.trim_start().is_empty() || rest.trim_start().starts_with(',') {
            self.skip_to_next_pair()?;
            return Ok(Value::Null);
        }
        let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
        let value = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => return self.err(format!("invalid JSON value: {e}")),
            None => Value::Null,
        };
        let consumed_bytes = stream.byte_offset();
        self.pos += rest[..consumed_bytes].chars().count();
        self.skip_to_next_pair()?;
        Ok(value)
    }

    fn skip_to_next_pair(&mut self) -> Result<(), SetError> {
        while let Some(&c) = self.chars.get(self.pos) {
            if c.is_whitespace() {
                self.pos += 1;
            } else if c == ',' {
                self.pos += 1;
                return Ok(());
            } else {
                return self.err(format!("unexpected {c:?} after a JSON value (separate pairs with ',')"));
            }
        }
        Ok(())
    }

    /// helm: pkg/strvals/parser.go typedVal.
    fn typed(&self, text: String) -> Value {
        if self.kind == SetKind::String {
            return Value::String(text);
        }
        if text.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if text.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if text.eq_ignore_ascii_case("null") {
            return Value::Null;
        }
        if text == "0" {
            return Value::from(0i64);
        }
        if !text.starts_with('0')
            && let Some(n) = parse_go_int64(&text)
        {
            return Value::from(n);
        }
        Value::String(text)
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, ASCII digits, no other characters.
fn parse_go_int64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str, kind: SetKind) -> Result<Value, SetError> {
        let mut map = Map::new();
        parse_into(text, kind, &mut map)?;
        Ok(Value::Object(map))
    }

    #[test]
    fn set_infers_only_bool_null_and_int64() {
        let v = parse(
            "a=true,b=FALSE,c=null,d=0,e=42,f=-7,g=007,h=1.5,i=1e3,j=yes,k=,l=9223372036854775808",
            SetKind::Typed,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": null, "d": 0, "e": 42, "f": -7, "g": "007", "h": "1.5",
                   "i": "1e3", "j": "yes", "k": "", "l": "9223372036854775808"})
        );
    }

    #[test]
    fn set_string_keeps_strings() {
        assert_eq!(
            parse("a=true,b=1,c={x,2}", SetKind::String).unwrap(),
            json!({"a": "true", "b": "1", "c": ["x", "2"]})
        );
    }

    #[test]
    fn nested_paths_lists_and_escapes() {
        let v = parse(r"a.b.c=1,list[1].name=x,m[0][1]=y,k\.dot=z,e=a\,b,l={1,two}", SetKind::Typed).unwrap();
        assert_eq!(
            v,
            json!({"a": {"b": {"c": 1}}, "list": [null, {"name": "x"}], "m": [[null, "y"]], "k.dot": "z",
                   "e": "a,b", "l": [1, "two"]})
        );
        // Like Helm, `{}` is a list holding one empty string.
        assert_eq!(parse("a={}", SetKind::Typed).unwrap(), json!({"a": [""]}));
    }

    #[test]
    fn set_json_reads_json_values() {
        let v = parse(r#"a={"b":[1,2]},c="x,y" ,d=null,e="#, SetKind::Json).unwrap();
        assert_eq!(v, json!({"a": {"b": [1, 2]}, "c": "x,y", "d": null, "e": null}));
    }

    #[test]
    fn later_pairs_merge_into_existing_maps_and_lists() {
        let mut map = serde_json::from_value::<Map<String, Value>>(json!({"a": {"x": 1}, "l": [1, 2]})).unwrap();
        parse_into("a.y=2,l[3]=4", SetKind::Typed, &mut map).unwrap();
        assert_eq!(Value::Object(map), json!({"a": {"x": 1, "y": 2}, "l": [1, 2, null, 4]}));
    }

    #[test]
    fn malformed_input_is_an_error() {
        let cases = [
            ("a", "key \"a\" has no value"),
            ("a,b=1", "cannot end with ,"),
            ("a[x]=1", "not a number"),
            ("a[-1]=1", "negative -1 index"),
            ("a[70000]=1", "greater than maximum supported index"),
            ("a={1,2", "list must terminate"),
            ("a=1,a.b=2", "it is an integer, not a map"),
            ("a[0]x=1", "unexpected data at end of array index"),
        ];
        for (text, want) in cases {
            let err = parse(text, SetKind::Typed).unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
        let err = parse("a={bad", SetKind::Json).unwrap_err();
        assert!(err.to_string().contains("invalid JSON"), "{err}");
        let deep = (0..40).map(|i| format!("k{i}")).collect::<Vec<_>>().join(".") + "=1";
        assert!(parse(&deep, SetKind::Typed).unwrap_err().to_string().contains("nested level"));
    }
}
