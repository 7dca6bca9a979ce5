//! The Go programs of the control plane and where they are built.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::error::Error;

/// The Go programs, in start order.
pub const PROGRAMS: [&str; 5] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];

/// The folder of the Go programs to use instead of `scripts/control-plane build`.
pub const BIN_DIR_ENV: &str = "VCLUSTER_CONTROL_PLANE_BIN_DIR";

/// The workspace root (the Go module and its build script live there).
pub(crate) const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The Go programs' folder: `$VCLUSTER_CONTROL_PLANE_BIN_DIR`, else `scripts/control-plane
/// build` once per process (which builds only when a pin changed).
pub fn go_programs() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    static BUILT: OnceLock<Result<PathBuf, Error>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let script = Path::new(WORKSPACE).join("scripts/control-plane");
            let failed = |message: String| Error::Build { what: "the Go programs".into(), message };
            let output = Command::new(&script)
                .arg("build")
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| failed(format!("cannot run {}: {e}", script.display())))?;
            if !output.status.success() {
                return Err(failed(format!("{} build exited with {}", script.display(), output.status)));
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let dir = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
            if !dir.is_dir() {
                return Err(failed(format!("{} build printed no folder: {stdout:?}", script.display())));
            }
            Ok(dir)
        })
        .clone()
}
