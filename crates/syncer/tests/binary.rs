//! The binary's exit codes and its one start-up warning.

use std::process::Command;

fn syncer(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vcluster-syncer"))
        .args(args)
        // No cluster: in-cluster variables unset, KUBECONFIG pointing nowhere.
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn unknown_flags_are_usage_errors() {
    let (code, stderr) = syncer(&["--name=my-vc", "--no-such-flag"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
    let (code, _) = syncer(&["--help"]);
    assert_eq!(code, 0);
}

#[test]
fn unknown_sync_names_and_invalid_values_exit_1() {
    let (code, stderr) = syncer(&["--name=my-vc", "--sync=pods,bananas"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("unrecognized controller bananas"), "{stderr}");
    let (code, stderr) = syncer(&["--enforce-pod-security-standard=strict"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("must be one of: privileged, baseline, restricted"), "{stderr}");
}

#[test]
fn one_warning_names_what_is_not_built() {
    let (code, stderr) =
        syncer(&["--name=my-vc", "--node-clear-image-status", "--proxy-metrics-server", "--sync=-services"]);
    // No host cluster configured: start-up fails after the warning.
    assert_eq!(code, 1, "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("not implemented yet")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("--node-clear-image-status") && warnings[0].contains("--proxy-metrics-server"),
        "{stderr}"
    );
    assert!(warnings[0].contains("fake-persistentvolumes") && !warnings[0].contains("endpoints"), "{stderr}");
    // Logged to a pipe (a container's log): plain text, no terminal colour codes.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}
