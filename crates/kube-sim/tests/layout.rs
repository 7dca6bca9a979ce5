//! The source layout stays layered: no two files of src/ import each other, directly or
//! through others (the workspace's tools/import-cycles.py, which needs python3 as the root crate's tests do).

use std::process::Command;

#[test]
fn no_import_circle_between_source_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/../../tools/import-cycles.py"))
        .arg(format!("{root}/src"))
        .output()
        .unwrap_or_else(|e| panic!("python3 is required for this test: {e}"));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "import circles in kube-sim's src/:\n{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" 0 circle(s)"), "{report}");
}
