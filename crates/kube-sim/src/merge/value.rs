//! JSON values as kube-apiserver's Go code sees them: structured-merge-diff's total order and
//! equality, and the Go formatting (`%v`, `%#v`, `%q`, `%T`, `encoding/json`) that shows up in
//! the messages and encodings reproduced here.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

fn number_cmp(a: &Number, b: &Number) -> Ordering {
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
    }
}

/// The total order of structured-merge-diff values (numbers < strings < booleans < lists <
/// maps < null; ints and floats compare numerically).
// structured-merge-diff: value/value.go (Compare), value/list.go, value/map.go
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_cmp(x, y),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                let c = compare(l, r);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((lk, lv), (rk, rv)) in xs.iter().zip(&ys) {
                let c = lk.cmp(rk).then_with(|| compare(lv, rv));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// structured-merge-diff's value equality (ints and floats equal when numerically equal).
pub(crate) fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b) == Ordering::Equal
}

/// `equal` without sorting or allocating: how an update's unchanged parts are recognised.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(l, r)| same(l, r)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => equal(a, b),
    }
}

/// Go's `==` on two `interface{}` values decoded from JSON (int64 and float64 differ; maps
/// and slices never compare equal, where Go would panic).
pub(crate) fn go_scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x.is_f64() == y.is_f64() && number_cmp(x, y).is_eq(),
        _ => false,
    }
}

/// The Go type name of a decoded JSON value (`%T`, `reflect.TypeOf`).
pub(crate) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go `strconv.Quote` (`%q`): printable characters kept, the rest escaped as Go does. The one
/// copy in the crate (`status::go_quote` re-exports it).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() && (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits the shortest round-trip representation of `f` into digits and decimal exponent.
fn float_parts(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mantissa, exp) = e.split_once('e').unwrap_or((&e, "0"));
    (mantissa.to_string(), exp.parse().unwrap_or(0))
}

fn exp_notation(f: f64, min_exp_digits: usize) -> String {
    let (mantissa, exp) = float_parts(f);
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let exp_sign = if exp < 0 { '-' } else { '+' };
    format!("{sign}{mantissa}e{exp_sign}{:0width$}", exp.abs(), width = min_exp_digits)
}

/// Go `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`).
fn go_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return format!("{f}");
    }
    let (_, exp) = float_parts(f);
    if !(-4..6).contains(&exp) { exp_notation(f, 2) } else { format!("{f}") }
}

fn go_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => go_float(f),
        _ => n.to_string(),
    }
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// Go `%v` of a decoded JSON value (`map[a:1 b:[x y]]`).
pub(crate) fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            format!("[{}]", items.iter().map(go_v).collect::<Vec<_>>().join(" "))
        }
        Value::Object(map) => {
            let entries: Vec<_> = sorted(map).into_iter().map(|(k, v)| format!("{k}:{}", go_v(v))).collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

/// Go `%s` of an `interface{}` (strings as they are, anything else flagged by fmt).
pub(crate) fn go_s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".into(),
        other => format!("%!s({}={})", go_type(other), go_v(other)),
    }
}

/// Go `%#v` of a decoded JSON value inside an `interface{}`.
pub(crate) fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::String(s) => go_quote(s),
        Value::Array(items) => {
            let items: Vec<_> = items.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", items.join(", "))
        }
        Value::Object(map) => {
            let entries: Vec<_> =
                sorted(map).into_iter().map(|(k, v)| format!("{}:{}", go_quote(k), go_sharp_v(v))).collect();
            format!("map[string]interface {{}}{{{}}}", entries.join(", "))
        }
        scalar => go_v(scalar),
    }
}

/// Go `encoding/json` string encoding (HTML-safe, as `json.Marshal` writes it).
pub(crate) fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn go_json_number(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() => {
            let abs = f.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) { exp_notation(f, 1) } else { format!("{f}") }
        }
        _ => n.to_string(),
    }
}

/// Go `json.Marshal` of a decoded JSON value: object keys sorted, HTML characters escaped.
pub(crate) fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

pub(crate) fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_json_number(n)),
        Value::String(s) => go_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in sorted(map).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                write_go_json(v, out);
            }
            out.push('}');
        }
    }
}

/// structured-merge-diff's `value.ToString`, used in field paths (`[name="syncer"]`).
pub(crate) fn smd_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::String(s) => go_quote(s),
        Value::Array(items) => format!("[{}]", items.iter().map(smd_string).collect::<Vec<_>>().join(",")),
        Value::Object(map) => {
            let entries: Vec<_> = sorted(map).into_iter().map(|(k, v)| format!("{k}={}", smd_string(v))).collect();
            format!("{{{}}}", entries.join(","))
        }
    }
}

/// Removes object keys whose value is null, recursively (what decoding into Go structs does).
pub(crate) fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_matches_structured_merge_diff() {
        let ordered = [json!(1.5), json!(2), json!("a"), json!(false), json!([1]), json!({"a": 1}), json!(null)];
        for pair in ordered.windows(2) {
            assert_eq!(compare(&pair[0], &pair[1]), Ordering::Less, "{pair:?}");
        }
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(!go_scalar_eq(&json!(1), &json!(1.0)));
    }

    #[test]
    fn go_formatting() {
        let v = json!({"name": "web", "ports": [{"containerPort": 80}], "x": null, "f": 1.5});
        assert_eq!(go_v(&v), "map[f:1.5 name:web ports:[map[containerPort:80]] x:<nil>]");
        assert_eq!(go_sharp_v(&json!({"a": "b", "c": 1})), r#"map[string]interface {}{"a":"b", "c":1}"#);
        assert_eq!(go_v(&json!(1000000.0)), "1e+06");
        assert_eq!(go_v(&json!(123456.0)), "123456");
        assert_eq!(go_s(&json!(5)), "%!s(int64=5)");
        assert_eq!(go_json(&json!({"b": "<&>", "a": 1e21})), r#"{"a":1e+21,"b":"\u003c\u0026\u003e"}"#);
        assert_eq!(smd_string(&json!("syncer")), "\"syncer\"");
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }
}
