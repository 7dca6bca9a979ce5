//! `application/vnd.kubernetes.protobuf` request bodies, as kubectl's typed clients send them
//! (`kubectl create configmap|secret|deployment|role|token …`): the `k8s\0` magic, a
//! `runtime.Unknown` envelope naming apiVersion/kind, and the object's protobuf, turned into
//! the JSON form the rest of the simulator works on.
//!
//! Wire format: staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go;
//! field numbers: the generated.proto files of k8s.io/api and k8s.io/apimachinery, tabulated in
//! `data/k8s-protobuf-fields.json.gz` (see `tools/refresh-protobuf-fields.sh`).

use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{Map, Value};

/// Message name → field number → [jsonName, kind, repeated, messageType].
fn table() -> &'static Map<String, Value> {
    static TABLE: OnceLock<Map<String, Value>> = OnceLock::new();
    TABLE.get_or_init(|| {
        use std::io::Read as _;
        let gz: &[u8] = include_bytes!("../../data/k8s-protobuf-fields.json.gz");
        let mut text = String::new();
        flate2::read::GzDecoder::new(gz).read_to_string(&mut text).expect("embedded protobuf table is gzip");
        serde_json::from_str(&text).expect("embedded protobuf table is JSON")
    })
}

/// The magic every Kubernetes protobuf body starts with.
const MAGIC: &[u8] = b"k8s\0";

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or("unexpected EOF")?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err("proto: integer overflow".into())
    }
    fn fixed(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos + n;
        let bytes = self.buf.get(self.pos..end).ok_or("unexpected EOF")?;
        self.pos = end;
        Ok(bytes)
    }
    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = self.varint()? as usize;
        self.fixed(len)
    }
    /// The next field's number and wire type.
    fn key(&mut self) -> Result<(u64, u8), String> {
        let key = self.varint()?;
        Ok((key >> 3, (key & 7) as u8))
    }
    fn skip(&mut self, wire: u8) -> Result<(), String> {
        match wire {
            0 => self.varint().map(drop),
            1 => self.fixed(8).map(drop),
            2 => self.bytes().map(drop),
            5 => self.fixed(4).map(drop),
            other => Err(format!("proto: illegal wireType {other}")),
        }
    }
}

/// Decode a protobuf request body into (apiVersion, kind, JSON object).
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")?;
    // runtime.Unknown: typeMeta (1), raw (2), contentEncoding (3), contentType (4).
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    let mut r = Reader::new(rest);
    while !r.done() {
        match r.key()? {
            (1, 2) => {
                let mut tm = Reader::new(r.bytes()?);
                while !tm.done() {
                    match tm.key()? {
                        (1, 2) => api_version = utf8(tm.bytes()?)?,
                        (2, 2) => kind = utf8(tm.bytes()?)?,
                        (_, wire) => tm.skip(wire)?,
                    }
                }
            }
            (2, 2) => raw = r.bytes()?,
            (_, wire) => r.skip(wire)?,
        }
    }
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version.as_str()));
    let def = crate::model::schema::definition_for(group, version, &kind)
        .ok_or_else(|| format!("no kind {kind:?} is registered for version {api_version:?}"))?;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), api_version.clone().into());
    obj.insert("kind".into(), kind.clone().into());
    message_into(raw, def, &mut obj)?;
    Ok(Value::Object(obj))
}

fn utf8(b: &[u8]) -> Result<String, String> {
    String::from_utf8(b.to_vec()).map_err(|_| "proto: invalid UTF-8 string".to_string())
}

fn message(buf: &[u8], name: &str) -> Result<Value, String> {
    match name {
        // metav1.Time / MicroTime: a Timestamp {seconds, nanos}; zero is JSON null.
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time" | "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => {
            let (mut seconds, mut nanos) = (0i64, 0i64);
            let mut r = Reader::new(buf);
            while !r.done() {
                match r.key()? {
                    (1, 0) => seconds = r.varint()? as i64,
                    (2, 0) => nanos = i64::from(r.varint()? as i32),
                    (_, wire) => r.skip(wire)?,
                }
            }
            if seconds == 0 && nanos == 0 {
                return Ok(Value::Null);
            }
            let t = jiff::Timestamp::new(seconds, nanos as i32).map_err(|e| e.to_string())?;
            Ok(if name.ends_with("MicroTime") {
                t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string().into()
            } else {
                crate::model::util::format_time(t).into()
            })
        }
        // resource.Quantity: its string form (field 1).
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            let mut r = Reader::new(buf);
            let mut s = String::new();
            while !r.done() {
                match r.key()? {
                    (1, 2) => s = utf8(r.bytes()?)?,
                    (_, wire) => r.skip(wire)?,
                }
            }
            Ok(s.into())
        }
        // intstr.IntOrString: type (1: 0 int, 1 string), intVal (2), strVal (3).
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            let (mut is_string, mut int, mut string) = (false, 0i64, String::new());
            let mut r = Reader::new(buf);
            while !r.done() {
                match r.key()? {
                    (1, 0) => is_string = r.varint()? == 1,
                    (2, 0) => int = i64::from(r.varint()? as i32),
                    (3, 2) => string = utf8(r.bytes()?)?,
                    (_, wire) => r.skip(wire)?,
                }
            }
            Ok(if is_string { string.into() } else { int.into() })
        }
        // runtime.RawExtension and metav1.FieldsV1: embedded JSON bytes (field 1).
        "io.k8s.apimachinery.pkg.runtime.RawExtension" | "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1" => {
            let mut r = Reader::new(buf);
            let mut raw = &[][..];
            while !r.done() {
                match r.key()? {
                    (1, 2) => raw = r.bytes()?,
                    (_, wire) => r.skip(wire)?,
                }
            }
            if raw.is_empty() {
                return Ok(Value::Null);
            }
            serde_json::from_slice(raw).map_err(|e| e.to_string())
        }
        _ => {
            let mut obj = Map::new();
            message_into(buf, name, &mut obj)?;
            Ok(Value::Object(obj))
        }
    }
}

/// Decode the fields of message `name` into `obj` (inline embedded messages land in it too).
fn message_into(buf: &[u8], name: &str, obj: &mut Map<String, Value>) -> Result<(), String> {
    let empty = Map::new();
    let fields = table().get(name).and_then(Value::as_object).unwrap_or(&empty);
    let mut r = Reader::new(buf);
    while !r.done() {
        let (tag, wire) = r.key()?;
        let Some(desc) = fields.get(&tag.to_string()).and_then(Value::as_array) else {
            r.skip(wire)?;
            continue;
        };
        let json_name = desc[0].as_str().unwrap_or_default();
        let kind = desc[1].as_str().unwrap_or_default();
        let repeated = desc[2].as_bool().unwrap_or(false);
        let target = desc[3].as_str().unwrap_or_default();
        if kind == "inline" {
            message_into(r.bytes()?, target, obj)?;
            continue;
        }
        if kind.starts_with("map_") {
            let (key, value) = map_entry(r.bytes()?, kind, target)?;
            let map = obj.entry(json_name).or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = map.as_object_mut() {
                m.insert(key, value);
            }
            continue;
        }
        let values = if repeated && wire == 2 && matches!(kind, "int32" | "int64" | "bool" | "double") {
            // A packed repeated scalar.
            let mut packed = Reader::new(r.bytes()?);
            let mut out = Vec::new();
            while !packed.done() {
                out.push(scalar(&mut packed, kind, if kind == "double" { 1 } else { 0 }, target)?);
            }
            out
        } else {
            vec![scalar(&mut r, kind, wire, target)?]
        };
        if repeated {
            let list = obj.entry(json_name).or_insert_with(|| Value::Array(Vec::new()));
            if let Some(l) = list.as_array_mut() {
                l.extend(values);
            }
        } else if let Some(v) = values.into_iter().next() {
            // Go's generated marshaller writes non-pointer fields even when zero; the JSON
            // the apiserver returns omits them (`omitempty`). Empty strings and `false` of
            // optional fields are dropped here; zero numbers are kept (pointer fields such as
            // `replicas: 0` are meaningful).
            let zero = v.is_null() || v.as_str() == Some("") || v.as_bool() == Some(false);
            if !zero || required(name, json_name) {
                obj.insert(json_name.to_string(), v);
            }
        }
    }
    Ok(())
}

/// Whether the definition (of a table named `Def` or `Parent/Inline`) requires the field.
fn required(table_name: &str, field: &str) -> bool {
    let def = table_name.split('/').next().unwrap_or(table_name);
    crate::model::schema::definitions()
        .get(def)
        .and_then(|d| d.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|f| f.as_str() == Some(field)))
}

fn scalar(r: &mut Reader<'_>, kind: &str, wire: u8, target: &str) -> Result<Value, String> {
    Ok(match (kind, wire) {
        ("string", 2) => utf8(r.bytes()?)?.into(),
        ("bytes", 2) => base64::engine::general_purpose::STANDARD.encode(r.bytes()?).into(),
        ("bool", 0) => (r.varint()? != 0).into(),
        ("int32", 0) => i64::from(r.varint()? as i32).into(),
        ("int64", 0) => (r.varint()? as i64).into(),
        ("double", 1) => f64::from_le_bytes(r.fixed(8)?.try_into().expect("8 bytes")).into(),
        ("message", 2) => message(r.bytes()?, target)?,
        (kind, wire) => return Err(format!("proto: wrong wireType = {wire} for field of kind {kind}")),
    })
}

/// A map entry message: key (1) string, value (2) of the map's kind.
fn map_entry(buf: &[u8], kind: &str, target: &str) -> Result<(String, Value), String> {
    let (mut key, mut value) = (String::new(), Value::Null);
    let mut r = Reader::new(buf);
    while !r.done() {
        match r.key()? {
            (1, 2) => key = utf8(r.bytes()?)?,
            (2, 2) => {
                value = match kind {
                    "map_string" => utf8(r.bytes()?)?.into(),
                    "map_bytes" => base64::engine::general_purpose::STANDARD.encode(r.bytes()?).into(),
                    _ => message(r.bytes()?, target)?,
                }
            }
            (_, wire) => r.skip(wire)?,
        }
    }
    if value.is_null() {
        value = match kind {
            "map_message" => Value::Object(Map::new()),
            _ => "".into(),
        };
    }
    Ok((key, value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(tag: u64, bytes: &[u8], out: &mut Vec<u8>) {
        varint(tag << 3 | 2, out);
        varint(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    }

    #[test]
    fn decodes_an_envelope_with_a_config_map() {
        // ConfigMap{metadata{name: "c", creationTimestamp: {}}, data{"a": "1"}} as generated.proto numbers it.
        let mut meta = Vec::new();
        field(1, b"c", &mut meta);
        field(8, b"", &mut meta);
        let mut entry = Vec::new();
        field(1, b"a", &mut entry);
        field(2, b"1", &mut entry);
        let mut cm = Vec::new();
        field(1, &meta, &mut cm);
        field(2, &entry, &mut cm);
        let mut type_meta = Vec::new();
        field(1, b"v1", &mut type_meta);
        field(2, b"ConfigMap", &mut type_meta);
        let mut body = MAGIC.to_vec();
        field(1, &type_meta, &mut body);
        field(2, &cm, &mut body);
        assert_eq!(
            decode(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}})
        );
        assert!(decode(b"{}").unwrap_err().contains("expected prefix [107 56 115 0]"));
    }
}
