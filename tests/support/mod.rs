//! Helpers shared by the integration tests: rendering through the library, and the Python
//! tools (strict Kubernetes schema validation, a YAML 1.1 reader). A missing tool fails the
//! test that needs it; nothing is skipped.
#![allow(dead_code)]

pub mod basics;
pub mod cluster;
pub mod lifecycle;
pub mod standalone;
pub mod workspace_bin;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Map, Value, json};
use vcluster::render::{self, Manifest, ReleaseInfo, RenderInput, Rendered};
use vcluster::values::{self, Layers, SetKind, Source};

/// Poll `ready` (test code reading the simulator or the file system) until it holds, for at most
/// `within`.
pub fn eventually(within: std::time::Duration, mut ready: impl FnMut() -> bool) {
    basics::eventually(within, "condition", || ready().then_some(()));
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example files, sorted by name.
pub fn examples() -> Vec<PathBuf> {
    let mut list: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    list.sort();
    list
}

pub fn load_layers(files: &[(&str, &str)], sets: &[(SetKind, &str)]) -> Result<values::Loaded, values::ValuesError> {
    values::load(&Layers {
        computed: Map::new(),
        files: files.iter().map(|(n, t)| Source { name: n.to_string(), text: t.to_string() }).collect(),
        sets: sets.iter().map(|(k, t)| (*k, t.to_string())).collect(),
    })
}

/// Render values given as one YAML text, for release `name` in `namespace`.
pub fn render_yaml(text: &str, name: &str, namespace: &str) -> Rendered {
    let loaded = load_layers(&[("values.yaml", text)], &[]).unwrap_or_else(|e| panic!("{e}\n{text}"));
    render_values(&loaded.values, name, namespace)
}

pub fn render_values(values: &values::Values, name: &str, namespace: &str) -> Rendered {
    let release = ReleaseInfo { name: name.into(), namespace: namespace.into() };
    render::render(&RenderInput { release, values }).unwrap()
}

pub fn render_file(path: &Path) -> Rendered {
    render_yaml(&std::fs::read_to_string(path).unwrap(), "my-vcluster", "vcluster-my-vcluster")
}

pub fn kinds_and_names(manifests: &[Manifest]) -> Vec<String> {
    manifests.iter().map(|m| format!("{}/{}", m.kind, m.name)).collect()
}

pub fn find<'a>(manifests: &'a [Manifest], kind: &str) -> Option<&'a Value> {
    manifests.iter().find(|m| m.kind == kind).map(|m| &m.object)
}

pub fn container<'a>(manifests: &'a [Manifest], name: &str) -> &'a Value {
    let sts = find(manifests, "StatefulSet").expect("a StatefulSet");
    sts["spec"]["template"]["spec"]["containers"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

pub fn syncer_args(manifests: &[Manifest]) -> Vec<String> {
    container(manifests, "syncer")["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect()
}

fn run_python(script: &str, input: &[u8]) -> Vec<u8> {
    let path = repo().join("tests/support").join(script);
    let mut child = Command::new("python3")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is required for this test: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{script} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Strict (no unknown fields) validation against the Kubernetes 1.33 schemas of
/// kubernetes-validate==1.37.0. Identical objects are validated once. Returns the problems of
/// every invalid object, with the object's kind and name.
pub fn validate_objects(objects: &[Value]) -> Vec<String> {
    let mut unique: Vec<&Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for o in objects {
        if seen.insert(serde_json::to_string(o).unwrap()) {
            unique.push(o);
        }
    }
    let request = json!({"version": "1.33", "objects": unique});
    let out = run_python("k8s_validate.py", &serde_json::to_vec(&request).unwrap());
    let results: Vec<Vec<String>> = serde_json::from_slice(&out).unwrap();
    assert_eq!(results.len(), unique.len());
    unique
        .iter()
        .zip(results)
        .filter(|(_, errors)| !errors.is_empty())
        .map(|(o, errors)| format!("{}/{}: {}", o["kind"], o["metadata"]["name"], errors.join("; ")))
        .collect()
}

/// Parse a YAML stream with PyYAML (YAML 1.1, as go-yaml v2 reads it).
pub fn yaml11_load(text: &str) -> Vec<Value> {
    serde_json::from_slice(&run_python("yaml11_load.py", text.as_bytes())).unwrap()
}

/// What the established syncer does with the CoreDNS bundle before applying it: run it
/// through Go's text/template with IMAGE, RUN_AS_USER, RUN_AS_GROUP, LOG_IN_DEBUG and
/// HOST_CLUSTER_DNS (loft-sh/vcluster v0.15 `pkg/coredns`). Only the forms the chart emits are
/// understood (`{{.NAME}}` and the escape ``{{`{{`}}``); anything else fails the test.
pub fn substitute_coredns(bundle: &str) -> String {
    let vars = [
        ("IMAGE", "coredns/coredns:1.10.1"),
        ("RUN_AS_USER", "12345"),
        ("RUN_AS_GROUP", "12345"),
        ("LOG_IN_DEBUG", ""),
        ("HOST_CLUSTER_DNS", "10.96.0.10"),
    ];
    let mut out = String::new();
    let mut rest = bundle;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").unwrap_or_else(|| panic!("unclosed action in bundle: {after}"));
        let action = &after[..end];
        if action == "`{{`" {
            out.push_str("{{");
        } else {
            let name = action.strip_prefix('.').unwrap_or_else(|| panic!("unexpected action {{{{{action}}}}}"));
            let value = vars.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("unknown variable {name}")).1;
            out.push_str(value);
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The CoreDNS bundle of a render, substituted and parsed into objects.
pub fn coredns_objects(manifests: &[Manifest]) -> Vec<Value> {
    let cm =
        manifests.iter().find(|m| m.kind == "ConfigMap" && m.name.ends_with("-coredns")).expect("coredns ConfigMap");
    let bundle = cm.object["data"]["coredns.yaml"].as_str().unwrap();
    let text = substitute_coredns(bundle);
    serde_saphyr::from_str_multiple::<Value, _>(&text).unwrap_or_else(|e| panic!("bundle does not parse: {e}\n{text}"))
}
