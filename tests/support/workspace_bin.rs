//! Binaries of the workspace's other packages, which have no `CARGO_BIN_EXE_…` here: each is
//! built on demand, once per test process, by the cargo that builds these tests, so a plain
//! `cargo test` needs no step before it and a binary older than its sources is rebuilt, never
//! used.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// `bin` of `package`, built next to these tests (`target/<profile>/<bin>`) unless it is current.
/// `cargo build` is a quick no-op for a current binary and rebuilds a stale one; test processes
/// building at the same moment wait for each other on cargo's lock of the target directory.
pub fn built(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(bin) {
        return path.clone();
    }
    // target/<profile>/deps/<test>-… → target/<profile>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).expect("a test binary in target/<profile>/deps");
    let target_dir = profile_dir.parent().expect("target/<profile>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let mut cargo = Command::new(env!("CARGO"));
    // Without the variables cargo sets for this test process: build scripts that watch them
    // (ring's watches `CARGO_PKG_NAME`, `CARGO_MANIFEST_DIR`, …) would see them change, and this
    // build and the next `cargo test` would rebuild them in turn.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let set_by_cargo = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_", "CARGO_PRIMARY_"]
            .iter()
            .any(|prefix| key.starts_with(prefix));
        if set_by_cargo || matches!(&*key, "CARGO_TARGET_TMPDIR" | "OUT_DIR") {
            cargo.env_remove(&*key);
        }
    }
    let status = cargo
        .args(["build", "--quiet", "--package", package, "--bin", bin, "--profile", profile])
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap_or_else(|e| panic!("run cargo to build {bin}: {e}"));
    assert!(status.success(), "cargo build --package {package} --bin {bin} failed");
    let path = profile_dir.join(bin);
    built.insert(bin.to_owned(), path.clone());
    path
}
