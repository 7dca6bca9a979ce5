//! `list`, `pause`, `resume` and `delete` as processes against the standalone simulator binary
//! (`kube-sim`, workloads alive), without a terminal: what goes to stdout and stderr, and the exit
//! codes.

mod support;

use serde_json::Value;
use support::standalone::{Standalone, vcluster};

/// The namespace, and the Secret the syncer would write (the standalone simulator has no
/// stand-in syncer), so that waiting for readiness ends.
const SEED: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: vc-my-vc, namespace: team}\ndata: {config: ''}\n";

/// Every stderr line before the result is a timestamped progress line (no terminal: no spinner,
/// no escape codes).
fn progress_then(stderr: &str, result: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines.iter().position(|l| l.starts_with(result)).unwrap_or_else(|| panic!("{result}:\n{stderr}"));
    assert!(lines[..at].iter().all(|l| l.starts_with("[20")), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
}

#[test]
fn list_pause_resume_delete_from_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.yaml");
    std::fs::write(&seed, SEED).unwrap();
    let sim = Standalone::start_with(&["--seed", seed.to_str().unwrap()]);
    let kc = &sim.kubeconfig;
    let run = vcluster(kc, &["create", "my-vc", "-n", "team", "--timeout", "60s"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let run = vcluster(kc, &["list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[1].starts_with("my-vc   team        Running   1          "), "{}", run.stdout);

    let run = vcluster(kc, &["pause", "my-vc"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    progress_then(&run.stderr, "done Paused vcluster my-vc in namespace team");
    assert!(run.stderr.ends_with("- Use `vcluster resume my-vc -n team` to resume it\n"), "{}", run.stderr);
    let run = vcluster(kc, &["list", "-o", "json"]);
    let rows: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[0]["status"], "Paused");

    let run = vcluster(kc, &["resume", "my-vc", "-o", "json", "--timeout", "60s"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).expect("stdout is one JSON object");
    assert_eq!((out["changed"].as_bool(), out["waited"].as_bool()), (Some(true), Some(true)));
    progress_then(&run.stderr, "done Resumed vcluster my-vc in namespace team");

    let run = vcluster(kc, &["delete", "my-vc"]);
    assert_eq!((run.code, run.stdout.as_str()), (1, ""));
    assert!(run.stderr.ends_with("  hint: pass --yes to confirm without a prompt\n"), "{}", run.stderr);
    let run = vcluster(kc, &["delete", "my-vc", "-y", "--timeout", "60s"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""), "{}", run.stderr);
    assert!(run.stderr.contains("namespace team stays: it was not created by vcluster"), "{}", run.stderr);
    assert!(run.stderr.contains("\ndone Deleted vcluster my-vc in namespace team ("), "{}", run.stderr);
    let run = vcluster(kc, &["list", "-n", "team"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "No vclusters found in namespace team.\n")
    );
    let run = vcluster(kc, &["delete", "my-vc", "-y"]);
    assert_eq!(run.code, 1);
    let run = vcluster(kc, &["delete", "my-vc", "-y", "--ignore-not-found"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
}

#[test]
fn the_same_name_in_two_namespaces_needs_n() {
    let sim = Standalone::start();
    for ns in ["ns-a", "ns-b"] {
        let run = vcluster(&sim.kubeconfig, &["create", "vc", "-n", ns, "--no-wait"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    for command in ["delete", "pause", "resume"] {
        // -y is delete's alone.
        let yes: &[&str] = if command == "delete" { &["-y"] } else { &[] };
        let args: Vec<&str> = [command, "vc"].into_iter().chain(yes.iter().copied()).collect();
        let run = vcluster(&sim.kubeconfig, &args);
        assert_eq!(run.code, 1, "{command}");
        assert_eq!(
            run.stderr,
            "error: vcluster vc exists in 2 namespaces: ns-a, ns-b\n  hint: pass -n NAMESPACE to choose one, e.g. -n ns-a\n",
            "{command}"
        );
    }
    let run = vcluster(&sim.kubeconfig, &["delete", "vc", "-n", "ns-b", "-y"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = vcluster(&sim.kubeconfig, &["list", "-o", "json"]);
    let rows: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["namespace"], "ns-a");
}

#[test]
fn usage_errors_exit_2_and_bad_names_1_before_any_request() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("none");
    for args in [
        vec!["delete"],
        vec!["delete", "vc", "--wait", "false"],
        vec!["delete", "vc", "--keep-pvc", "--delete-namespace"],
        vec!["pause", "vc", "-o", "yaml"],
        // Each command takes its own formats and flags, nothing else.
        vec!["pause", "vc", "-o", "table"],
        vec!["resume", "vc", "-y"],
        vec!["list", "-y"],
        vec!["list", "-o", "wide"],
        vec!["version", "-n", "team"],
        vec!["version", "-o", "table"],
        vec!["completion", "bash", "-o", "json"],
        vec!["completion", "bash", "--kubeconfig", "x"],
        vec!["disconnect", "-n", "team"],
        vec!["render", "vc", "--request-timeout", "5s"],
        vec!["list", "extra"],
        vec!["resume", "vc", "--timeout", "soon"],
    ] {
        let run = vcluster(&kubeconfig, &args);
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{args:?}: {}", run.stderr);
    }
    let run = vcluster(&kubeconfig, &["delete", "a,b", "-y"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("error: invalid vcluster name: \"a,b\" is not a valid name"), "{}", run.stderr);
    let run = vcluster(&kubeconfig, &["rm", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("[possible values: json]"), "{}", run.stdout);
    for flag in ["--delete-namespace", "--keep-pvc", "--wait", "--timeout", "--ignore-not-found"] {
        assert!(run.stdout.contains(flag), "{flag}");
    }
}

/// A host nobody listens at: one line saying what is wrong and where, a hint, and no client
/// internals; `--debug` adds the client's chain below it.
#[test]
fn an_unreachable_host_is_reported_as_such_and_its_chain_only_with_debug() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\nusers: [{{name: u, user: {{}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\n"),
    )
    .unwrap();
    let first = format!(
        "error: cannot reach the cluster of context \"c\" at https://127.0.0.1:{port}: connection refused (nothing listens at that address)\n"
    );
    let hint = "  hint: check that the cluster is running and reachable from here";
    for args in [
        vec!["list"],
        vec!["pause", "vc"],
        vec!["resume", "vc"],
        vec!["delete", "vc", "-y"],
        vec!["port-forward", "vc", "80"],
    ] {
        let run = vcluster(&kubeconfig, &args);
        assert_eq!((run.code, run.stdout.as_str()), (1, ""), "{args:?}: {}", run.stderr);
        assert!(run.stderr.starts_with(&first), "{args:?}: {}", run.stderr);
        let second = run.stderr.lines().nth(1).unwrap_or_default();
        assert!(second.starts_with(hint), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 2, "{args:?}: {}", run.stderr);

        let debug: Vec<&str> = args.iter().copied().chain(["--debug"]).collect();
        let run = vcluster(&kubeconfig, &debug);
        assert_eq!(run.code, 1, "{debug:?}");
        let report = &run.stderr[run.stderr.find("error: ").unwrap_or_else(|| panic!("{}", run.stderr))..];
        assert!(report.starts_with(&first), "{debug:?}: {}", run.stderr);
        let cause = report.lines().nth(1).unwrap_or_default();
        assert!(cause.starts_with("  caused by: ") && cause.contains("Connection refused"), "{debug:?}: {report}");
    }
}
