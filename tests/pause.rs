//! `vcluster pause` and `vcluster resume` against the API-server simulator with live workloads:
//! the real binary (no terminal), the StatefulSet, its pods and the request log read back.

mod support;

use kube_sim::Fault;
use support::cluster::Host;
use support::lifecycle::inventory;

const NS: &str = "vcluster-my-vc";

/// A workload pod the syncer made on the host for `vcluster`.
fn workload(name: &str, vcluster: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {NS}\n  labels: {{vcluster.loft.sh/managed-by: {vcluster}}}\nspec:\n  containers: [{{name: c, image: nginx}}]\n"
    )
}

#[test]
fn pause_then_resume_round_trip_and_both_are_idempotent() {
    let mut host = Host::alive();
    host.with_syncer(NS, "my-vc");
    host.run(&["create", "my-vc", "--timeout", "60s", "--set", "syncer.replicas=2"]).succeeds();
    host.sim.seed_yaml(&workload("web-x-default-x-my-vc", "my-vc")).unwrap();
    host.sim.seed_yaml(&format!("---\n{}", workload("web-x-default-x-other", "other"))).unwrap();
    let claim = host.object("v1", "PersistentVolumeClaim", NS, "data-my-vc-0").unwrap();

    // Connected to it: the current context goes back to the host's, the context stays.
    let base = std::fs::read_to_string(host.sim.kubeconfig_path()).unwrap();
    let context = "vcluster_my-vc_vcluster-my-vc_kube-sim";
    let kubeconfig = host.home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        base.replace(
            "contexts:\n",
            &format!("contexts:\n- name: {context}\n  context: {{cluster: kube-sim, user: kubernetes-admin}}\n"),
        )
        .replace("current-context: kube-sim", &format!("current-context: {context}")),
    )
    .unwrap();

    let run = host.run_with(&kubeconfig, &["pause", "my-vc", "-o", "json"]);
    let out = run.succeeds().json();
    assert!(run.stderr.contains("switched the current kube context to kube-sim"), "{}", run.stderr);
    let after = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(after.contains("current-context: kube-sim") && after.contains(context), "{after}");
    assert_eq!(
        out,
        serde_json::json!({"name": "my-vc", "namespace": NS, "action": "pause", "changed": true, "replicas": 2,
                           "workloadPodsDeleted": 1})
    );
    assert!(
        run.stderr.contains(
            "done Paused vcluster my-vc in namespace vcluster-my-vc (2 replicas recorded, 1 workload pod deleted)"
        ),
        "{}",
        run.stderr
    );
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    assert_eq!(sts["spec"]["replicas"], 0);
    let annotations = &sts["metadata"]["annotations"];
    assert_eq!(annotations["loft.sh/paused"], "true");
    assert_eq!(annotations["loft.sh/paused-replicas"], "2");
    let date = annotations["loft.sh/paused-date"].as_str().unwrap();
    assert_eq!(date.len(), "2025-01-01T00:00:00.000Z".len(), "{date}");
    let paused_at: jiff::Timestamp = date.parse().unwrap();
    assert!(jiff::Timestamp::now().duration_since(paused_at).as_secs() < 60);
    assert_eq!(sts["status"]["replicas"], 0, "it waited until the pods were gone");
    for pod in ["my-vc-0", "my-vc-1", "web-x-default-x-my-vc"] {
        assert!(host.object("v1", "Pod", NS, pod).is_none(), "{pod}");
    }
    assert!(host.object("v1", "Pod", NS, "web-x-default-x-other").is_some(), "another vcluster's workload stays");
    let kept = host.object("v1", "PersistentVolumeClaim", NS, "data-my-vc-0").unwrap();
    assert_eq!(kept["metadata"]["uid"], claim["metadata"]["uid"], "the data stays");

    // Pausing again: says so, exits 0, writes nothing.
    host.sim.clear_requests();
    let before = inventory(&host.sim);
    let again = host.run(&["pause", "my-vc"]);
    again.succeeds();
    assert!(again.stderr.contains("vcluster my-vc in namespace vcluster-my-vc is already paused"), "{}", again.stderr);
    assert!(!again.stderr.contains("Pausing"), "{}", again.stderr);
    assert!(host.writes().is_empty(), "{:?}", host.writes());
    assert_eq!(inventory(&host.sim), before);

    let run = host.run(&["resume", "my-vc", "--timeout", "60s", "-o", "json"]);
    let out = run.succeeds().json();
    assert_eq!(
        out,
        serde_json::json!({"name": "my-vc", "namespace": NS, "action": "resume", "changed": true, "replicas": 2,
                           "waited": true})
    );
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    assert_eq!(sts["spec"]["replicas"], 2);
    let annotations = sts["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
    assert!(annotations.keys().all(|k| !k.starts_with("loft.sh/paused")), "{annotations:?}");
    assert_eq!(sts["status"]["readyReplicas"], 2, "it waited until ready, as create does");
    assert!(run.stderr.contains("done Resumed vcluster my-vc in namespace vcluster-my-vc (2 replicas); it is ready"));

    // Resuming a running vcluster: says so, exits 0, writes nothing.
    host.sim.clear_requests();
    let again = host.run(&["wakeup", "my-vc"]);
    again.succeeds();
    assert!(again.stderr.contains("vcluster my-vc in namespace vcluster-my-vc is not paused; nothing to resume"));
    assert!(host.writes().is_empty(), "{:?}", host.writes());
}

#[test]
fn a_conflicting_change_fails_the_pause_and_a_rerun_pauses() {
    let mut host = Host::alive();
    host.with_syncer(NS, "my-vc");
    host.run(&["create", "my-vc", "--timeout", "60s"]).succeeds();
    host.sim.inject(Fault::on("PATCH", "/apis/apps/v1/namespaces/*/statefulsets/my-vc").nth(1).respond(409));
    let failed = host.run(&["sleep", "my-vc"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    // The whole report: what happened and what to do, no client internals.
    let report = &failed.stderr[failed.stderr.find("error: ").unwrap_or_else(|| panic!("{}", failed.stderr))..];
    assert_eq!(
        report,
        "error: vcluster my-vc in namespace vcluster-my-vc was changed by another operation at the same time\n  hint: wait for the other operation to finish, then run the command again\n"
    );
    assert_eq!(failed.stdout, "");
    assert_eq!(host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap()["spec"]["replicas"], 1);
    host.run(&["pause", "my-vc"]).succeeds();
    assert_eq!(host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap()["spec"]["replicas"], 0);
}

#[test]
fn pause_and_resume_of_a_missing_vcluster_exit_1() {
    let host = Host::alive();
    for command in ["pause", "resume"] {
        let run = host.run(&[command, "nope"]);
        assert_eq!(run.code, 1);
        assert!(run.stderr.starts_with("error: vcluster nope not found in any namespace"), "{}", run.stderr);
    }
}
