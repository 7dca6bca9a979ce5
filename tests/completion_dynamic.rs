//! Dynamic completion (`COMPLETE=bash`, clap_complete's protocol, as the registered bash function
//! calls the binary): vcluster names and namespaces come from the cluster of the current context;
//! an unreachable cluster gives no candidate, no output on stderr, and ends within its bound.

mod support;

use std::time::{Duration, Instant};

use support::cluster::{Host, Run, finish};

/// Candidates for the last word of `words` (the line typed so far), one per line; for an empty
/// word clap's engine offers the flags too, which are left out here.
fn complete(host: &Host, kubeconfig: &std::path::Path, words: &[&str]) -> (Run, Vec<String>) {
    let mut args = vec!["--", "vcluster"];
    args.extend_from_slice(words);
    let mut cmd = host.command(kubeconfig, &args);
    cmd.env("COMPLETE", "bash").env("_CLAP_COMPLETE_INDEX", words.len().to_string());
    let run = finish(cmd.spawn().unwrap());
    let mut candidates: Vec<String> = run.stdout.lines().filter(|c| !c.starts_with('-')).map(str::to_owned).collect();
    candidates.sort();
    (run, candidates)
}

#[test]
fn names_and_namespaces_come_from_the_current_context() {
    let host = Host::new();
    for (name, ns) in [("web", "team-a"), ("db", "team-a"), ("web2", "team-b")] {
        host.run(&["create", name, "-n", ns, "--no-wait"]).succeeds();
    }
    let kc = host.sim.kubeconfig_path();
    for command in ["connect", "delete", "pause", "resume", "port-forward", "rm"] {
        let (run, names) = complete(&host, kc, &[command, ""]);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{command}");
        assert_eq!(names, ["db", "web", "web2"], "{command}");
    }
    assert_eq!(complete(&host, kc, &["pause", "we"]).1, ["web", "web2"], "by prefix");
    assert_eq!(complete(&host, kc, &["pause", "-n", "team-b", ""]).1, ["web2"], "in the -n typed");
    assert_eq!(complete(&host, kc, &["resume", "--namespace=team-a", ""]).1, ["db", "web"]);

    let (run, namespaces) = complete(&host, kc, &["list", "-n", ""]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    for ns in ["default", "team-a", "team-b"] {
        assert!(namespaces.iter().any(|n| n == ns), "{ns}: {namespaces:?}");
    }
    assert_eq!(complete(&host, kc, &["create", "x", "-n", "team-"]).1, ["team-a", "team-b"]);

    // Another kubeconfig typed on the line is the one asked.
    let elsewhere = Host::new();
    let (_, names) =
        complete(&elsewhere, elsewhere.sim.kubeconfig_path(), &["connect", "--kubeconfig", kc.to_str().unwrap(), ""]);
    assert_eq!(names, ["db", "web", "web2"]);
    assert!(complete(&elsewhere, elsewhere.sim.kubeconfig_path(), &["connect", ""]).1.is_empty());
}

#[test]
fn a_cluster_that_never_answers_gives_nothing_quietly_within_the_bound() {
    let host = Host::new();
    // Accepts connections (the backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let kubeconfig = host.home.path().join("silent");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{{name: c, cluster: {{server: 'http://{}'}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\n",
            silent.local_addr().unwrap()
        ),
    )
    .unwrap();
    for words in [&["connect", ""][..], &["list", "-n", ""][..]] {
        let started = Instant::now();
        let (run, candidates) = complete(&host, &kubeconfig, words);
        assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{words:?}");
        assert!(candidates.is_empty(), "{candidates:?}");
        assert!(started.elapsed() < Duration::from_secs(8), "{words:?} took {:?}", started.elapsed());
    }
    // Nothing listens: the same.
    drop(silent);
    let (run, candidates) = complete(&host, &kubeconfig, &["delete", "w"]);
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str(), candidates.len()), (0, "", "", 0));
}
