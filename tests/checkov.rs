//! checkov's Kubernetes checks (PyPI checkov, pinned in scripts/test) on the defaults and the
//! combined example: every finding is fixed except the exceptions documented, with their
//! reasons, in README.md between the `checkov-exceptions` markers; `--isolate` also clears
//! the NetworkPolicy finding. Fails (never skips) when checkov is missing. Runs offline
//! (`--skip-download`).

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;
use support::*;

/// Check IDs listed in the README's checkov exception table.
fn documented_exceptions() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme.find("<!-- checkov-exceptions:start -->").expect("README has the checkov exception table");
    let end = readme.find("<!-- checkov-exceptions:end -->").unwrap();
    readme[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(String::from)
        .collect()
}

/// (failed, passed) check IDs per file name.
fn checkov(files: &[(&str, String)]) -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    // Not a dot-directory: checkov skips those.
    let dir = tempfile::Builder::new().prefix("checkov-").tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let out = Command::new("checkov")
        .args(["-d", dir.path().to_str().unwrap(), "--framework", "kubernetes", "-o", "json", "--skip-download"])
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .unwrap_or_else(|e| panic!("checkov is required (pip install checkov==3.3.30): {e}"));
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("checkov output is not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let results = &report["results"];
    files
        .iter()
        .map(|(name, _)| {
            let ids = |key: &str| -> BTreeSet<String> {
                results[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["file_path"].as_str().is_some_and(|p| p.ends_with(name)))
                    .map(|c| c["check_id"].as_str().unwrap().to_string())
                    .collect()
            };
            (name.to_string(), ids("failed_checks"), ids("passed_checks"))
        })
        .collect()
}

#[test]
fn only_documented_checkov_findings_remain() {
    let yaml = |r: vcluster::render::Rendered| vcluster::render::to_yaml_stream(&r.manifests).unwrap();
    let networking = std::fs::read_to_string(repo().join("examples/networking.yaml")).unwrap();
    let results = checkov(&[
        // Distinct releases, so checkov's graph checks cannot connect objects across files.
        ("defaults.yaml", yaml(render_yaml("", "defaults", "vcluster-defaults"))),
        ("networking.yaml", yaml(render_yaml(&networking, "networking", "vcluster-networking"))),
        ("isolated.yaml", yaml(render_yaml("isolation: {enabled: true}", "isolated", "vcluster-isolated"))),
    ]);
    let documented = documented_exceptions();
    assert_eq!(documented, ["CKV2_K8S_6", "CKV_K8S_22", "CKV_K8S_43"].map(String::from).into());
    for (name, failed, passed) in &results {
        assert!(passed.len() > 50, "{name}: checkov scanned nothing ({results:?})");
        let expected: BTreeSet<String> = if name == "isolated.yaml" {
            documented.iter().filter(|id| *id != "CKV2_K8S_6").cloned().collect()
        } else {
            documented.clone()
        };
        assert_eq!(failed, &expected, "{name}: checkov findings differ from the README's exceptions ({results:?})");
        // The hardening that was fixed stays fixed: probes, requests and limits, no privilege
        // escalation, NET_RAW/ALL dropped, seccomp, token mounts, non-root with a high UID.
        for id in [
            "CKV_K8S_8",
            "CKV_K8S_9",
            "CKV_K8S_10",
            "CKV_K8S_11",
            "CKV_K8S_12",
            "CKV_K8S_13",
            "CKV_K8S_15",
            "CKV_K8S_20",
            "CKV_K8S_23",
            "CKV_K8S_28",
            "CKV_K8S_31",
            "CKV_K8S_37",
            "CKV_K8S_38",
            "CKV_K8S_40",
        ] {
            assert!(passed.contains(id), "{name}: {id} no longer passes");
        }
    }
}
