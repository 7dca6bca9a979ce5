//! Where values come from: the chart defaults, `-f` sources and the layers of one command.

use std::io::Read;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::error::ValuesError;
use super::strvals::SetKind;
use super::yaml::MAX_INPUT_BYTES;

/// The chart defaults, embedded in the binary.
pub const DEFAULTS_YAML: &str = include_str!("../../templates/values.yaml");

/// One values input: its display name (path, `<stdin>`) and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// Read one `-f` argument: a file path, or `-` for stdin. URLs and base64 strings (which Helm
/// also accepts) are refused with a hint, and inputs over [`MAX_INPUT_BYTES`] are refused.
pub(crate) fn read_source(spec: &str, stdin: &mut dyn Read) -> Result<Source, ValuesError> {
    if spec == "-" {
        return read_limited("<stdin>", stdin);
    }
    let path = std::path::Path::new(spec);
    if !path.exists() {
        if let Some((scheme, _)) = spec.split_once("://")
            && !scheme.is_empty()
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return Err(ValuesError::Refused {
                spec: spec.to_string(),
                reason: "URLs are not fetched (render and create never reach the network for values)",
                hint: format!("download it first: curl -fsSL '{spec}' | vcluster render NAME -f -"),
            });
        }
        if looks_like_base64(spec) {
            return Err(ValuesError::Refused {
                spec: abbreviate(spec),
                reason: "it looks like base64-encoded values, which are not accepted inline",
                hint: "decode it into a file or pipe: echo '…' | base64 -d | vcluster render NAME -f -".into(),
            });
        }
    }
    let mut file =
        std::fs::File::open(path).map_err(|source| ValuesError::Read { source_name: spec.to_string(), source })?;
    read_limited(spec, &mut file)
}

fn read_limited(name: &str, input: &mut dyn Read) -> Result<Source, ValuesError> {
    let mut bytes = Vec::new();
    input
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ValuesError::Read { source_name: name.to_string(), source })?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(ValuesError::TooLarge { source_name: name.to_string(), limit: MAX_INPUT_BYTES });
    }
    let text = String::from_utf8(bytes).map_err(|_| ValuesError::Read {
        source_name: name.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })?;
    Ok(Source { name: name.to_string(), text })
}

fn looks_like_base64(s: &str) -> bool {
    s.len() >= 8
        && s.len().is_multiple_of(4)
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        && !s.contains('.')
}

fn abbreviate(s: &str) -> String {
    if s.chars().count() > 40 { s.chars().take(37).collect::<String>() + "…" } else { s.to_string() }
}

/// The chart defaults as JSON, converted from `DEFAULTS_YAML` by `build.rs` (a JSON read is
/// much cheaper than a YAML parse, and every command loads the defaults).
const DEFAULTS_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/values-defaults.json"));

/// The chart defaults as a values tree (parsed once).
pub fn defaults() -> &'static Map<String, Value> {
    static DEFAULTS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        serde_json::from_str(DEFAULTS_JSON)
            .unwrap_or_else(|e| unreachable!("build.rs writes the defaults as a JSON object (tested): {e}"))
    })
}

/// Every values input of one command, lowest precedence first.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    /// Values computed from CLI flags (`--kubernetes-version`, `--expose`, …). Like the
    /// established CLI's first values file, every user input overrides them.
    pub computed: Map<String, Value>,
    /// `-f` sources in the order given.
    pub files: Vec<Source>,
    /// `--set-json`/`--set`/`--set-string` flag values; applied by flag type (Helm's
    /// order), each type in the order given.
    pub sets: Vec<(SetKind, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_refuse_urls_base64_and_big_input() {
        let mut empty: &[u8] = b"";
        let err = read_source("https://example.com/values.yaml", &mut empty).unwrap_err();
        assert!(err.hint().unwrap().contains("curl"), "{err}");
        let err = read_source("c3luYzoKICBpbmdyZXNzZXM6CiAgICBlbmFibGVkOiB0cnVlCg==", &mut empty).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
        let big = vec![b'#'; MAX_INPUT_BYTES + 1];
        let err = read_source("-", &mut big.as_slice()).unwrap_err();
        assert!(matches!(err, ValuesError::TooLarge { .. }), "{err}");
        let src = read_source("-", &mut &b"a: 1\n"[..]).unwrap();
        assert_eq!(src, Source { name: "<stdin>".into(), text: "a: 1\n".into() });
        assert!(read_source("/nonexistent/values.yaml", &mut empty).unwrap_err().to_string().contains("No such file"));
    }
}
