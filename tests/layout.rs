//! The source layout stays layered: in every crate of the workspace, no file imports one that
//! imports it back, directly or through others (`tools/import-cycles.py`); and no subcommand file
//! imports another.

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn circles_in(src: &str) -> Result<String, String> {
    let out = Command::new("python3")
        .arg(format!("{ROOT}/tools/import-cycles.py"))
        .arg(format!("{ROOT}/{src}"))
        .output()
        .unwrap_or_else(|e| panic!("python3 is required for this test: {e}"));
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() && report.contains(" 0 circle(s)") { Ok(report) } else { Err(report) }
}

#[test]
fn no_import_circle_between_the_files_of_any_crate() {
    // kube-sim has its own test (crates/kube-sim/tests/layout.rs).
    let crates =
        ["src", "crates/syncer/src", "crates/translate/src", "crates/control-plane/src", "crates/kube-text/src"];
    let failures: Vec<String> = crates
        .iter()
        .filter_map(|src| circles_in(src).err().map(|report| format!("import circles in {src}/:\n{report}")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_tool_sees_a_library_behind_its_binary() {
    // A crate with both lib.rs and main.rs: lib.rs's own edges count (they were once hidden).
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("lib.rs"), "mod handle;\npub use handle::Handle;\npub struct Error;\n").unwrap();
    std::fs::write(src.join("handle.rs"), "use crate::Error;\npub struct Handle(Error);\n").unwrap();
    std::fs::write(src.join("main.rs"), "fn main() {}\n").unwrap();
    let out = Command::new("python3")
        .arg(format!("{ROOT}/tools/import-cycles.py"))
        .arg(&src)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required for this test: {e}"));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(report.contains("circle: handle.rs, lib.rs"), "{report}");
}

#[test]
fn no_subcommand_file_imports_another() {
    let dir = Path::new(ROOT).join("src/commands");
    let commands: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            (path.extension()? == "rs" && stem != "mod").then_some(stem)
        })
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    let mut offences = Vec::new();
    for file in &commands {
        let text = std::fs::read_to_string(dir.join(format!("{file}.rs"))).unwrap();
        for other in commands.iter().filter(|c| *c != file) {
            let named = [format!("commands::{other}"), format!("super::{other}")];
            if named.iter().any(|n| text.contains(n.as_str())) {
                offences.push(format!("commands/{file}.rs names commands/{other}.rs"));
            }
        }
    }
    assert!(offences.is_empty(), "{offences:?}");
}
