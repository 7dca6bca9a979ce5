//! Release records against independent implementations: fixtures written in Helm's exact format by
//! `tests/support/make_helm_release.py` (not by our encoder), and our records read back by the
//! independent decoder `tests/support/decode_release.py`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};
use vcluster::release::{self, Chart, Metadata, RecordWrite, Release, Status};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> Value {
    let path = root().join("tests/fixtures/release").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn secret_fixture(name: &str) -> Secret {
    serde_json::from_value(fixture(name)).unwrap()
}

/// Run the independent Python decoder on a Secret's JSON. Fails (never skips) without python3.
fn python_decode(secret_json: &Value) -> Value {
    let script = root().join("tests/support/decode_release.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is required for this test (the independent decoder): {e}"));
    child.stdin.take().unwrap().write_all(secret_json.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "decode_release.py failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn helm_written_record_decodes_to_the_same_document() {
    let decoded = release::from_secret(&secret_fixture("helm-v3-my-vc.v2.secret.json")).unwrap();
    assert_eq!(decoded.name, "my-vc");
    assert_eq!(decoded.namespace, "vcluster-my-vc");
    assert_eq!(decoded.version, 2);
    assert_eq!(decoded.info.status, Status::Deployed);
    assert_eq!(decoded.info.description, "Upgrade complete");
    assert_eq!(decoded.info.last_deployed.unwrap().to_string(), "2024-06-01T09:30:00.5Z");
    assert_eq!(decoded.chart_name(), "vcluster");
    assert_eq!(decoded.config["vcluster"]["image"], "rancher/k3s:v1.29.0-k3s1");
    assert!(decoded.manifest.contains("a <b>bold</b> & ampersand"), "Go's \\u003c escapes decode");
    assert_eq!(decoded.hooks.len(), 1);
    assert_eq!(decoded.labels, [("team".to_owned(), "platform".to_owned())].into());
    // Everything Helm wrote is what we would write back: same fields, same omissions and nulls.
    assert_eq!(serde_json::to_value(&decoded).unwrap(), fixture("helm-v3-my-vc.v2.release.json"));
}

#[test]
fn helm_record_without_gzip_and_with_offset_times_decodes() {
    let decoded = release::from_secret(&secret_fixture("helm-v3-my-vc.v1.nogzip.secret.json")).unwrap();
    assert_eq!(decoded.version, 1);
    assert_eq!(decoded.info.status, Status::Superseded);
    assert_eq!(decoded.info.first_deployed.unwrap().to_string(), "2024-05-04T08:11:12.123456789Z");
    assert_eq!(decoded.info.deleted, None);
    assert!(decoded.labels.is_empty(), "modifiedAt is a system label");
}

#[test]
fn established_cli_sees_helms_deployed_release_as_existing() {
    let history: Vec<Release> = ["helm-v3-my-vc.v1.nogzip.secret.json", "helm-v3-my-vc.v2.secret.json"]
        .into_iter()
        .map(|f| release::from_secret(&secret_fixture(f)).unwrap())
        .collect();
    assert_eq!(release::existing_vcluster_release(&history).unwrap().version, 2);
    assert_eq!(release::next_revision(&history), 3);
}

fn our_release() -> Release {
    let mut rel = Release {
        name: "my-vc".into(),
        namespace: "vcluster-my-vc".into(),
        version: 1,
        chart: Some(Chart {
            metadata: Some(Metadata::vcluster()),
            values: Some(json!({"sync": {"ingresses": {"enabled": false}}}).as_object().unwrap().clone()),
            ..Chart::default()
        }),
        config: json!({"serviceCIDR": "10.96.0.0/12", "vcluster": {"image": "rancher/k3s:v1.33.1-k3s1"}})
            .as_object()
            .unwrap()
            .clone(),
        manifest:
            "---\n# Source: vcluster/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: my-vc\n"
                .into(),
        ..Release::default()
    };
    let now = "2025-02-03T04:05:06.789Z".parse().unwrap();
    rel.info.first_deployed = Some(now);
    rel.info.last_deployed = Some(now);
    rel.set_status(Status::Deployed, "Install complete");
    rel
}

#[test]
fn independent_decoder_reads_our_records() {
    let ours = our_release();
    let secret = release::to_secret(&ours, RecordWrite::Create("2025-02-03T04:05:06Z".parse().unwrap())).unwrap();
    let wire = serde_json::to_value(&secret).unwrap();
    let decoded = python_decode(&wire);
    assert_eq!(decoded, serde_json::to_value(&ours).unwrap());
    assert_eq!(decoded["info"]["deleted"], "", "Helm's zero time");
    assert_eq!(decoded["chart"]["metadata"]["name"], "vcluster");
    assert_eq!(decoded["chart"]["metadata"]["apiVersion"], "v2");
    assert_eq!(decoded["config"]["serviceCIDR"], "10.96.0.0/12");
    // The established CLI's predicate holds for our record too.
    let back = release::from_secret(&secret).unwrap();
    assert_eq!(release::existing_vcluster_release(std::slice::from_ref(&back)), Some(&back));
}

#[test]
fn independent_decoder_agrees_with_the_helm_fixture() {
    // The decoder itself is checked against the fixture, so the test above cannot pass by a
    // decoder that mirrors our encoder's mistakes.
    let decoded = python_decode(&fixture("helm-v3-my-vc.v2.secret.json"));
    assert_eq!(decoded, fixture("helm-v3-my-vc.v2.release.json"));
}

#[test]
fn fixtures_are_what_the_generator_writes() {
    // The committed fixtures are the generator's output (so they can be reviewed as Python, and
    // regenerated): rerun it into a temp dir and compare the decoded documents.
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(root().join("tests/support/make_helm_release.py"))
        .arg(dir.path())
        .status()
        .expect("python3 is required for this test");
    assert!(status.success());
    for name in ["helm-v3-my-vc.v2.release.json", "helm-v3-my-vc.v1.nogzip.secret.json"] {
        let fresh: Value =
            serde_json::from_str(&std::fs::read_to_string(Path::new(dir.path()).join(name)).unwrap()).unwrap();
        assert_eq!(fresh, fixture(name), "{name}: regenerate with tests/support/make_helm_release.py");
    }
    let fresh: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("helm-v3-my-vc.v2.secret.json")).unwrap())
            .unwrap();
    assert_eq!(python_decode(&fresh), fixture("helm-v3-my-vc.v2.release.json"));
}
