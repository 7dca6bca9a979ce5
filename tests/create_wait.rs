//! `vcluster create` waiting until the virtual cluster works, against the simulator with its
//! scheduler, kubelet and controllers on: the StatefulSet's rollout, the pods' kubectl-style
//! status and Warning events while stuck, the syncer's Secret, a terminating namespace.

mod support;

use std::time::Duration;

use kube_sim::{PodHold, PodMatch};
use support::cluster::{Host, Running};

const NS: &str = "vcluster-my-vc";

#[test]
fn waits_by_watching_until_the_rollout_is_complete_and_the_secret_exists() {
    let mut host = Host::alive();
    host.with_syncer(NS, "my-vc");
    let run = host.run(&["create", "my-vc", "-o", "json"]);
    run.succeeds();
    assert_eq!(run.json()["status"], "deployed");
    assert!(run.stderr.contains("Waiting for vcluster my-vc"), "{}", run.stderr);

    // Complete when create returned: the rollout as `kubectl rollout status` sees it, the pod
    // Ready, the Secret there.
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    let status = &sts["status"];
    assert_eq!(status["observedGeneration"], sts["metadata"]["generation"]);
    assert_eq!(status["readyReplicas"], 1);
    assert_eq!(status["updatedReplicas"], 1);
    assert_eq!(status["currentRevision"], status["updateRevision"]);
    assert!(host.object("v1", "Secret", NS, "vc-my-vc").is_some());

    // Watched, never polled: one watch of the StatefulSet, at most a list and a watch for the
    // Secret, no repeated GETs.
    let log = host.sim.requests();
    let sts_requests: Vec<_> = log.iter().filter(|r| r.path.contains("/statefulsets")).collect();
    assert!(sts_requests.iter().any(|r| r.query.contains("watch=true")), "{sts_requests:?}");
    assert!(sts_requests.iter().filter(|r| r.method == "GET").count() <= 2, "{sts_requests:?}");
    let secret_reads = log.iter().filter(|r| r.method == "GET" && r.query.contains("metadata.name%3Dvc-my-vc")).count();
    assert!(secret_reads <= 2, "{log:?}");

    // Without the syncer's Secret the wait does not end, and the timeout says why.
    host.run(&["create", "other", "--timeout", "6s"])
        .fails_with(&["error: timed out after 6s waiting for vcluster other: Secret vc-other was not written"]);
}

// `--timeout` bounds the whole command: each bound leaves room for the install before the wait.
#[test]
fn a_crashing_pod_is_shown_with_its_status_and_warning_events_and_the_timeout_names_it() {
    let host = Host::alive();
    host.sim.hold_pods(PodMatch::name(NS, "my-vc-0"), PodHold::CrashLoopBackOff { restarts: 3 });
    let run = host.run(&["create", "my-vc", "--timeout", "8s"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("my-vc-0: CrashLoopBackOff"), "the progress shows the pod's status: {}", run.stderr);
    assert!(
        run.stderr
            .contains("pod my-vc-0 has critical status CrashLoopBackOff; waiting continues, but this might time out"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("  BackOff: Back-off restarting failed container"),
        "its Warning events: {}",
        run.stderr
    );
    let error = run.stderr.lines().find(|l| l.starts_with("error: ")).unwrap();
    assert!(error.starts_with("error: timed out after 8s waiting for vcluster my-vc: StatefulSet my-vc: Waiting for 1 pods to be ready; pod my-vc-0: CrashLoopBackOff (BackOff: "), "{error}");
    let statuses = host.statuses(NS, "my-vc");
    assert_eq!(statuses[0].0, "failed");

    // A pod that is merely starting is shown as kubectl shows it, not as critical.
    let host = Host::alive();
    host.sim.hold_pods(PodMatch::name(NS, "my-vc-0"), PodHold::ContainerCreating);
    let run = host.run(&["create", "my-vc", "--timeout", "6s"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("(my-vc-0: ContainerCreating)"), "{}", run.stderr);
    assert!(!run.stderr.contains("critical status"), "{}", run.stderr);
    assert!(run.stderr.contains("; pod my-vc-0: ContainerCreating"), "{}", run.stderr);
}

#[test]
fn an_upgrade_waits_for_the_rolled_out_revision() {
    let mut host = Host::alive();
    host.with_syncer(NS, "my-vc");
    host.run(&["create", "my-vc"]).succeeds();
    let before = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap()["status"]["updateRevision"].clone();
    // The new revision's pod never gets Ready: the upgrade must not report success.
    host.sim.hold_pods(PodMatch::name(NS, "my-vc-0"), PodHold::NotReady);
    let run = host.run(&[
        "create",
        "my-vc",
        "--upgrade",
        "--set",
        "syncer.extraArgs={--tls-san=a.example.com}",
        "--timeout",
        "6s",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("pod my-vc-0: NotReady") || run.stderr.contains("pod my-vc-0: Running"),
        "{}",
        run.stderr
    );
    host.sim.release_pods(&PodMatch::name(NS, "my-vc-0"));

    let run = host.run(&["create", "my-vc", "--upgrade", "--set", "syncer.extraArgs={--tls-san=a.example.com}"]);
    run.succeeds();
    let status = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap()["status"].clone();
    assert_ne!(status["updateRevision"], before);
    assert_eq!(status["currentRevision"], status["updateRevision"], "the rollout finished before create returned");
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["superseded", "failed", "deployed"]);
}

#[test]
fn a_terminating_namespace_is_waited_for() {
    let mut host = Host::alive();
    host.with_syncer(NS, "my-vc");
    // A namespace held in Terminating by an object's finalizer.
    host.sim
        .seed_yaml(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: held, namespace: {NS}, finalizers: [example.com/hold]}}\n"
        ))
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = rt.block_on(host.sim.client()).unwrap();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    rt.block_on(namespaces.delete(NS, &Default::default())).unwrap();

    let run = host.run(&["create", "my-vc", "--timeout", "4s"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("Waiting for namespace vcluster-my-vc to finish terminating"), "{}", run.stderr);
    assert!(
        run.stderr.contains("timed out after 4s waiting for namespace vcluster-my-vc to be deleted"),
        "{}",
        run.stderr
    );
    assert!(host.record_secrets(NS, "my-vc").is_empty());

    // The CLI says it waits; it is still running then, and nothing of the release is written.
    let mut create = Running::spawn(host.command(host.sim.kubeconfig_path(), &["create", "my-vc"]));
    create.wait_for_line("Waiting for namespace vcluster-my-vc to finish terminating", Duration::from_secs(30));
    assert!(create.is_running(), "it returned while the namespace was terminating");
    assert!(host.record_secrets(NS, "my-vc").is_empty());
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client.clone(), NS);
    let patch = serde_json::json!({"metadata": {"finalizers": null}});
    rt.block_on(configmaps.patch("held", &Default::default(), &kube::api::Patch::Merge(&patch))).unwrap();
    create.finish().succeeds();
    // The namespace it created came after the finalizer was gone: it waited for the old one.
    let log = host.sim.requests();
    let released = log.iter().position(|r| r.method == "PATCH" && r.path.ends_with("/configmaps/held")).unwrap();
    let created = log
        .iter()
        .rposition(|r| r.method == "POST" && r.path == "/api/v1/namespaces" && r.status == 201)
        .expect("the namespace was created");
    assert!(created > released, "the namespace was created before the old one was gone");
    let ns = host.object("v1", "Namespace", "", NS).unwrap();
    assert!(ns["metadata"]["deletionTimestamp"].is_null());
    assert_eq!(ns["metadata"]["annotations"]["vcluster.loft.sh/created"], "true");
}
