//! `vcluster create` against the API-server simulator: the real binary (no terminal) on one side,
//! the simulator's stored objects, request log and release records — decoded by the independent
//! Python decoder — on the other.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kube_sim::{Fault, Forbid};
use serde_json::{Value, json};
use support::cluster::{Host, Running, established_cli_sees_existing, finish};
use vcluster::values::{self, Layers};

const NS: &str = "vcluster-my-vc";

/// The manifest `create` should have recorded for these user values (rendered by the library
/// from the values the record holds).
fn expected_manifest(config: &Value) -> String {
    let layers = Layers { computed: config.as_object().unwrap().clone(), ..Layers::default() };
    let loaded = values::load(&layers).unwrap();
    let rendered = support::render_values(&loaded.values, "my-vc", NS);
    vcluster::render::to_yaml_stream(&rendered.manifests).unwrap()
}

fn rendered_objects(config: &Value) -> Vec<String> {
    let layers = Layers { computed: config.as_object().unwrap().clone(), ..Layers::default() };
    let loaded = values::load(&layers).unwrap();
    let mut names = support::kinds_and_names(&support::render_values(&loaded.values, "my-vc", NS).manifests);
    names.sort();
    names
}

fn resource_versions(host: &Host) -> BTreeMap<String, String> {
    host.sim
        .snapshot()
        .into_iter()
        .map(|o| {
            let key = format!("{}/{}/{}", o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]);
            (key, o["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn install_on_an_empty_cluster_then_nothing_without_upgrade() {
    let mut host = Host::alive();
    host.with_syncer(NS, "my-vc");
    let run = host.run(&["create", "my-vc"]);
    run.succeeds();
    assert!(run.stdout.is_empty(), "nothing on stdout without -o json: {}", run.stdout);
    assert!(run.stderr.contains("Created vcluster my-vc in namespace vcluster-my-vc (revision 1"), "{}", run.stderr);
    assert_eq!(detection_requests(&host), [("GET", SERVICE_CIDR.to_owned())], "the range without probe Services");

    let ns = host.object("v1", "Namespace", "", NS).expect("the namespace");
    assert_eq!(ns["metadata"]["annotations"]["vcluster.loft.sh/created"], "true");

    let records = host.records(NS, "my-vc");
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["version"], 1);
    assert_eq!(record["info"]["status"], "deployed");
    assert_eq!(record["info"]["description"], "Install complete");
    // The CLI-computed values, below the user's (none here): the image for the host's minor
    // (1.33 → the newest table entry) and the detected service CIDR.
    assert_eq!(
        record["config"],
        json!({"vcluster": {"image": "rancher/k3s:v1.27.3-k3s1"}, "serviceCIDR": "10.100.0.0/16"})
    );
    assert_eq!(record["chart"]["metadata"]["name"], "vcluster");
    assert_eq!(record["chart"]["metadata"]["version"], vcluster::CHART_VERSION);
    assert_eq!(record["chart"]["metadata"]["apiVersion"], "v2");
    assert_eq!(record["chart"]["values"], Value::Object(values::defaults().clone()));
    assert_eq!(record["manifest"].as_str().unwrap(), expected_manifest(&record["config"]));
    let labels = &host.record_secrets(NS, "my-vc")[0]["metadata"]["labels"];
    assert_eq!(
        (labels["owner"].as_str(), labels["status"].as_str(), labels["version"].as_str()),
        (Some("helm"), Some("deployed"), Some("1"))
    );
    assert!(established_cli_sees_existing(&host.record_secrets(NS, "my-vc")));

    assert_eq!(host.release_objects(NS, "my-vc"), rendered_objects(&record["config"]), "every rendered object is live");
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    let managers: Vec<&str> = sts["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["subresource"].is_null())
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["vcluster"], "one fixed field manager (the controller writes status)");
    assert_eq!(sts["status"]["readyReplicas"], 1, "create waited for the rollout");
    assert!(sts["spec"]["template"]["spec"]["containers"].to_string().contains("10.100.0.0/16"));

    // Again without --upgrade: no write at all, nothing changes, both hints.
    host.sim.clear_requests();
    let before = resource_versions(&host);
    let again = host.run(&["create", "my-vc"]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stdout.is_empty());
    assert!(
        again.stderr.contains("error: vcluster my-vc already exists in namespace vcluster-my-vc"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("hint: upgrade it: vcluster create my-vc -n vcluster-my-vc --upgrade"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("hint: connect to it: vcluster connect my-vc -n vcluster-my-vc"), "{}", again.stderr);
    let writes: Vec<_> = host.sim.requests().into_iter().filter(|r| r.is_write()).collect();
    assert!(writes.is_empty(), "zero write requests: {writes:?}");
    assert_eq!(resource_versions(&host), before);
}

#[test]
fn upgrade_with_ingress_sync_off_prunes_its_rules_and_supersedes() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait", "--set", "sync.ingresses.enabled=true"]).succeeds();
    let cluster_role = "vc-my-vc-v-vcluster-my-vc";
    assert!(host.object("rbac.authorization.k8s.io/v1", "ClusterRole", "", cluster_role).is_some());
    let role = host.object("rbac.authorization.k8s.io/v1", "Role", NS, "my-vc").unwrap();
    assert!(role["rules"].to_string().contains("ingresses"));

    let run = host.run(&["create", "my-vc", "--upgrade", "--no-wait", "-o", "json"]);
    run.succeeds();
    let out = run.json();
    assert_eq!(
        (out["revision"].as_u64(), out["status"].as_str(), out["action"].as_str()),
        (Some(2), Some("deployed"), Some("upgrade"))
    );
    let actions: BTreeMap<String, String> = out["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!("{}/{}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()),
                o["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(actions[&format!("ClusterRole/{cluster_role}")], "pruned");
    assert_eq!(actions[&format!("ClusterRoleBinding/{cluster_role}")], "pruned");
    assert_eq!(actions["Role/my-vc"], "configured");
    assert_eq!(actions["ServiceAccount/vc-my-vc"], "unchanged");

    assert!(host.object("rbac.authorization.k8s.io/v1", "ClusterRole", "", cluster_role).is_none());
    assert!(host.object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", cluster_role).is_none());
    let role = host.object("rbac.authorization.k8s.io/v1", "Role", NS, "my-vc").unwrap();
    assert!(!role["rules"].to_string().contains("ingresses"), "{}", role["rules"]);
    let statuses = host.statuses(NS, "my-vc");
    assert_eq!(statuses[0], ("superseded".into(), "superseded".into(), "Superseded".into()));
    assert_eq!(statuses[1], ("deployed".into(), "deployed".into(), "Upgrade complete".into()));
    assert!(established_cli_sees_existing(&host.record_secrets(NS, "my-vc")));
}

#[test]
fn dry_run_lists_creates_changes_and_prunes_and_writes_nothing() {
    let host = Host::new();
    host.sim.clear_requests();
    let fresh = host.run(&["create", "my-vc", "--dry-run", "-o", "json"]);
    fresh.succeeds();
    let out = fresh.json();
    assert_eq!(
        (out["dryRun"].as_bool(), out["revision"].is_null(), out["status"].as_str()),
        (Some(true), true, Some("dry-run"))
    );
    let objects = out["objects"].as_array().unwrap();
    assert_eq!(objects[0]["kind"], "Namespace");
    assert!(objects.iter().all(|o| o["action"] == "create"), "{objects:?}");
    assert_eq!(objects.len(), 1 + 8);
    assert!(host.sim.requests().iter().all(|r| !r.is_write()), "{:?}", host.sim.requests());
    assert!(host.object("v1", "Namespace", "", NS).is_none());

    host.run(&["create", "my-vc", "--no-wait", "--set", "sync.ingresses.enabled=true"]).succeeds();
    host.sim.clear_requests();
    let before = resource_versions(&host);
    let run = host.run(&["create", "my-vc", "--upgrade", "--dry-run", "--set", "syncer.replicas=2"]);
    run.succeeds();
    // Text: one line per object, diffs under changes.
    let lines: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with([' ', '-', '+', '@'])).collect();
    assert_eq!(
        lines,
        [
            "unchanged ServiceAccount/vc-my-vc",
            "unchanged ServiceAccount/vc-workload-my-vc",
            "unchanged ConfigMap/my-vc-coredns",
            "change Role/my-vc",
            "unchanged RoleBinding/my-vc",
            "unchanged Service/my-vc",
            "unchanged Service/my-vc-headless",
            "change StatefulSet/my-vc",
            "prune ClusterRoleBinding/vc-my-vc-v-vcluster-my-vc",
            "prune ClusterRole/vc-my-vc-v-vcluster-my-vc",
        ],
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--- live/StatefulSet/my-vc\n+++ dry-run/StatefulSet/my-vc\n"), "{}", run.stdout);
    assert!(run.stdout.contains("-  replicas: 1\n+  replicas: 2\n"), "{}", run.stdout);
    assert!(run.stdout.contains("-  - networking.k8s.io\n"), "{}", run.stdout);
    assert!(!run.stdout.contains("resourceVersion") && !run.stdout.contains("managedFields"), "{}", run.stdout);
    let writes: Vec<_> = host.sim.requests().into_iter().filter(|r| r.is_write()).collect();
    assert!(writes.is_empty(), "a dry run writes nothing: {writes:?}");
    assert!(host.sim.requests().iter().any(|r| r.dry_run && r.method == "PATCH"), "the server was asked (dryRun=All)");
    assert_eq!(resource_versions(&host), before);
    assert_eq!(host.records(NS, "my-vc").len(), 1);
}

#[test]
fn a_release_helm_wrote_upgrades_without_any_flag() {
    let host = Host::new();
    // Helm's records, as make_helm_release.py wrote them (not our encoder): revision 1
    // superseded, revision 2 deployed, manifest = a ServiceAccount and a Service.
    host.sim.seed_yaml(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n")).unwrap();
    for file in ["helm-v3-my-vc.v1.nogzip.secret.json", "helm-v3-my-vc.v2.secret.json"] {
        host.sim
            .seed_yaml(&std::fs::read_to_string(support::repo().join("tests/fixtures/release").join(file)).unwrap())
            .unwrap();
    }
    // The live objects, created as Helm creates them: plain POSTs by field manager `helm`, with
    // Helm's ownership metadata on top of the manifest.
    let helm_meta = json!({
        "labels": {"app.kubernetes.io/managed-by": "Helm"},
        "annotations": {"meta.helm.sh/release-name": "my-vc", "meta.helm.sh/release-namespace": NS},
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = host.sim.client().await.unwrap();
        let pp = kube::api::PostParams { field_manager: Some("helm".into()), ..Default::default() };
        let mut sa: Value =
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "vc-my-vc", "namespace": NS}});
        sa["metadata"].as_object_mut().unwrap().extend(helm_meta.as_object().unwrap().clone());
        let api: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> = kube::Api::namespaced(client.clone(), NS);
        api.create(&pp, &serde_json::from_value(sa).unwrap()).await.unwrap();
        let mut svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-vc", "namespace": NS,
            "annotations": {"note": "a <b>bold</b> & ampersand"}},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}});
        svc["metadata"]["labels"] = helm_meta["labels"].clone();
        svc["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .extend(helm_meta["annotations"].as_object().unwrap().clone());
        let api: kube::Api<k8s_openapi::api::core::v1::Service> = kube::Api::namespaced(client, NS);
        api.create(&pp, &serde_json::from_value(svc).unwrap()).await.unwrap();
    });
    assert!(established_cli_sees_existing(&host.record_secrets(NS, "my-vc")), "Helm's release is a vcluster release");

    let run = host.run(&["create", "my-vc", "--upgrade", "--no-wait", "-o", "json"]);
    run.succeeds();
    let out = run.json();
    assert_eq!(out["revision"], 3);
    let service =
        out["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "Service" && o["name"] == "my-vc").unwrap();
    assert_eq!(service["takenOverFrom"], json!(["helm"]));
    assert!(run.stderr.contains("took over the fields of helm on Service/my-vc"), "{}", run.stderr);

    let svc = host.object("v1", "Service", NS, "my-vc").unwrap();
    let managers: Vec<&str> =
        svc["metadata"]["managedFields"].as_array().unwrap().iter().map(|m| m["manager"].as_str().unwrap()).collect();
    assert_eq!(managers, ["vcluster"], "Helm's fields were taken over");
    assert!(svc["metadata"]["annotations"].get("note").is_none(), "a field only Helm's manifest had is gone");
    assert_eq!(svc["metadata"]["labels"]["release"], "my-vc");
    let statuses: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|(label, _, _)| label).collect();
    assert_eq!(statuses, ["superseded", "superseded", "deployed"]);
    // Helm's record survives our update byte-for-byte apart from the status.
    let v2 = &host.records(NS, "my-vc")[1];
    assert_eq!(v2["hooks"][0]["name"], "my-vc-test");
    assert_eq!(v2["info"]["description"], "Superseded");
}

#[test]
fn a_failed_upgrade_then_a_successful_one_prunes_the_attempts_objects() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    host.sim.inject(Fault::on("PATCH", "/apis/apps/v1/namespaces/*/statefulsets/*").nth(1).respond(500));
    let failed = host.run(&["create", "my-vc", "--upgrade", "--no-wait", "--set", "sync.ingresses.enabled=true"]);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("cannot apply StatefulSet/my-vc"), "{}", failed.stderr);
    let cluster_role = "vc-my-vc-v-vcluster-my-vc";
    assert!(
        host.object("rbac.authorization.k8s.io/v1", "ClusterRole", "", cluster_role).is_some(),
        "applied before the failure"
    );
    let statuses = host.statuses(NS, "my-vc");
    assert_eq!(statuses[1].0, "failed");
    assert!(statuses[1].2.starts_with("Upgrade \"my-vc\" failed: cannot apply StatefulSet/my-vc"), "{}", statuses[1].2);
    assert_eq!(statuses[0].0, "deployed", "the last good revision stays deployed");

    host.run(&["create", "my-vc", "--upgrade", "--no-wait"]).succeeds();
    assert!(
        host.object("rbac.authorization.k8s.io/v1", "ClusterRole", "", cluster_role).is_none(),
        "the failed attempt's object is pruned"
    );
    assert!(host.object("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", cluster_role).is_none());
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["superseded", "failed", "deployed"]);
}

#[test]
fn a_500_or_a_dropped_connection_mid_apply_fails_the_revision_and_a_rerun_converges() {
    for (label, fault) in [
        ("500", Fault::on("PATCH", "/api/v1/namespaces/*/services/*").nth(1).respond(500)),
        ("dropped connection", Fault::on("PATCH", "/api/v1/namespaces/*/services/*").nth(1).drop_connection()),
    ] {
        let host = Host::new();
        host.sim.inject(fault);
        let failed = host.run(&["create", "my-vc", "--no-wait"]);
        assert_eq!(failed.code, 1, "{label}: {}", failed.stderr);
        assert!(
            failed.stderr.starts_with("error: ") || failed.stderr.contains("\nerror: "),
            "{label}: {}",
            failed.stderr
        );
        let statuses = host.statuses(NS, "my-vc");
        assert_eq!(statuses.len(), 1, "{label}");
        assert_eq!(statuses[0].0, "failed", "{label}");
        assert!(statuses[0].2.starts_with("Release \"my-vc\" failed: "), "{label}: {}", statuses[0].2);
        assert!(host.object("apps/v1", "StatefulSet", NS, "my-vc").is_none(), "{label}: later tiers never started");

        // A failed release is re-run without --upgrade (the established CLI's rule).
        let rerun = host.run(&["create", "my-vc", "--no-wait"]);
        rerun.succeeds();
        let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
        assert_eq!(labels, ["failed", "deployed"], "{label}");
        let config = host.records(NS, "my-vc")[1]["config"].clone();
        assert_eq!(host.release_objects(NS, "my-vc"), rendered_objects(&config), "{label}");
    }
}

#[test]
fn rollback_on_failure_restores_the_previous_revision() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    let before = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    host.sim.inject(Fault::on("PATCH", "/apis/apps/v1/namespaces/*/statefulsets/*").nth(1).respond(500));
    let run = host.run(&[
        "create",
        "my-vc",
        "--upgrade",
        "--no-wait",
        "--rollback-on-failure",
        "--set",
        "sync.ingresses.enabled=true",
        "--set",
        "syncer.replicas=2",
    ]);
    assert_eq!(run.code, 1, "the upgrade failed: {}", run.stderr);
    assert!(run.stderr.contains("rolled back to revision 1 (as revision 3)"), "{}", run.stderr);
    let statuses = host.statuses(NS, "my-vc");
    let labels: Vec<&str> = statuses.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(labels, ["superseded", "failed", "deployed"]);
    assert_eq!(statuses[2].2, "Rollback to 1");
    let records = host.records(NS, "my-vc");
    assert_eq!(records[2]["manifest"], records[0]["manifest"]);
    assert_eq!(records[2]["config"], records[0]["config"]);
    assert!(host.object("rbac.authorization.k8s.io/v1", "ClusterRole", "", "vc-my-vc-v-vcluster-my-vc").is_none());
    let after = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    assert_eq!(after["spec"], before["spec"]);

    // A failed install is removed, namespace included (this run created it).
    let host = Host::new();
    host.sim.inject(Fault::on("PATCH", "/apis/apps/v1/namespaces/*/statefulsets/*").nth(1).respond(500));
    let run = host.run(&["create", "my-vc", "--no-wait", "--atomic"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("the failed install was removed"), "{}", run.stderr);
    assert!(host.record_secrets(NS, "my-vc").is_empty());
    assert!(host.release_objects(NS, "my-vc").is_empty(), "{:?}", host.release_objects(NS, "my-vc"));
    let ns = host.object("v1", "Namespace", "", NS);
    assert!(ns.is_none() || !ns.unwrap()["metadata"]["deletionTimestamp"].is_null(), "the namespace goes too");
}

#[test]
fn a_failed_rollback_that_cannot_be_recorded_says_so() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    // The upgrade's apply fails, then the rollback's; then recording the rollback as failed.
    host.sim.inject(Fault::on("PATCH", "/apis/apps/v1/namespaces/*/statefulsets/*").times(2).respond(500));
    host.sim.inject(Fault::on("PUT", "/api/v1/namespaces/*/secrets/*").nth(2).respond(500));
    let run =
        host.run(&["create", "my-vc", "--upgrade", "--no-wait", "--rollback-on-failure", "--set", "syncer.replicas=2"]);
    run.fails_with(&["the rollback to revision 1 failed too", "warning: cannot record revision 3 as failed"]);
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["deployed", "failed", "pending-rollback"], "the lock the warning speaks of");
}

#[test]
fn of_two_concurrent_creates_exactly_one_proceeds() {
    let host = Host::new();
    // Both read the (empty) history before either writes a record.
    host.sim.inject(Fault::on("GET", "/api/v1/namespaces/*/secrets").times(2).delay(Duration::from_millis(700)));
    let a = host.command(host.sim.kubeconfig_path(), &["create", "my-vc", "--no-wait"]).spawn().unwrap();
    let b = host.command(host.sim.kubeconfig_path(), &["create", "my-vc", "--no-wait"]).spawn().unwrap();
    let (a, b) = (finish(a), finish(b));
    let mut codes = [a.code, b.code];
    codes.sort();
    assert_eq!(codes, [0, 1], "a: {}\nb: {}", a.stderr, b.stderr);
    let loser = if a.code == 1 { &a } else { &b };
    // Both read an empty history, so the loser's create of revision 1 got 409 — or, on a slow
    // machine, it read the winner's pending revision: the lock either way.
    assert!(
        loser.stderr.contains("another operation on release my-vc started at the same time and holds revision 1")
            || loser.stderr.contains("is locked: revision 1 is pending-install"),
        "{}",
        loser.stderr
    );
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["deployed"]);
}

#[test]
fn sigint_mid_apply_exits_130_and_a_rerun_converges() {
    let host = Host::new();
    host.sim.inject(Fault::on("PATCH", "/api/v1/namespaces/*/services/*").delay(Duration::from_secs(5)));
    let mut create = Running::spawn(host.command(host.sim.kubeconfig_path(), &["create", "my-vc", "--no-wait"]));
    // The RoleBinding tier is applied: the Service tier is in flight (held by the fault).
    create.wait_for_line("applied 1 RoleBinding (", Duration::from_secs(20));
    let signalled = std::time::Instant::now();
    create.signal("INT");
    let run = create.finish();
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
    assert!(signalled.elapsed() < Duration::from_secs(4), "it did not wait for the held requests");
    let statuses = host.statuses(NS, "my-vc");
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].0, "failed");
    assert_eq!(statuses[0].2, "Release \"my-vc\" failed: interrupted");
    assert!(host.object("apps/v1", "StatefulSet", NS, "my-vc").is_none(), "no new request after the signal");

    host.sim.clear_faults();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["failed", "deployed"]);
    assert!(host.object("apps/v1", "StatefulSet", NS, "my-vc").is_some());
}

#[test]
fn a_killed_run_leaves_a_lock_that_force_unlock_clears() {
    let host = Host::new();
    host.sim.inject(Fault::on("PATCH", "/api/v1/namespaces/*/services/*").delay(Duration::from_secs(30)));
    let mut child = host.command(host.sim.kubeconfig_path(), &["create", "my-vc", "--no-wait"]).spawn().unwrap();
    let started = std::time::Instant::now();
    while !host.sim.requests().iter().any(|r| r.method == "PATCH" && r.path.contains("/rolebindings/")) {
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    host.sim.clear_faults();
    let statuses = host.statuses(NS, "my-vc");
    assert_eq!(statuses[0].0, "pending-install");
    assert!(statuses[0].2.contains(&format!("(pid {pid})")), "{}", statuses[0].2);

    let locked = host.run(&["create", "my-vc", "--no-wait"]);
    assert_eq!(locked.code, 1);
    assert!(locked.stderr.contains("is locked: revision 1 is pending-install"), "{}", locked.stderr);
    assert!(locked.stderr.contains(&format!("(pid {pid})")), "who holds it: {}", locked.stderr);
    assert!(locked.stderr.contains("--force-unlock"), "{}", locked.stderr);

    let unlocked = host.run(&["create", "my-vc", "--no-wait", "--force-unlock"]);
    unlocked.succeeds();
    assert!(unlocked.stderr.contains(&format!("(pid {pid})")), "it shows who held the lock: {}", unlocked.stderr);
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["failed", "deployed"]);
}

#[test]
fn a_revision_applied_but_not_recorded_says_so_and_how_to_clear_it() {
    let host = Host::new();
    // The first PUT of a release record is the one that marks the revision deployed.
    host.sim.inject(Fault::on("PUT", "/api/v1/namespaces/*/secrets/*").nth(1).respond(500));
    let run = host.run(&["create", "my-vc", "--no-wait"]);
    run.fails_with(&[
        "error: every object of revision 1 of vcluster my-vc was applied, but recording the revision as deployed failed",
        "--force-unlock",
    ]);
    let statuses = host.statuses(NS, "my-vc");
    assert_eq!(statuses[0].0, "pending-install", "the lock stays, as the error says");
    assert!(host.object("apps/v1", "StatefulSet", NS, "my-vc").is_some());
}

#[test]
fn a_forbidden_verb_is_reported_before_any_write() {
    let host = Host::new();
    host.sim.forbid(Forbid::user("alice").verb("create").resource("apps", "statefulsets"));
    let kubeconfig = host.kubeconfig_for("alice");
    host.sim.clear_requests();
    let run = host.run_with(&kubeconfig, &["create", "my-vc", "--no-wait"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: missing permissions in namespace vcluster-my-vc"), "{}", run.stderr);
    assert!(run.stderr.contains("create statefulsets.apps"), "{}", run.stderr);
    assert!(run.stderr.contains("kubectl auth can-i create statefulsets.apps -n vcluster-my-vc"), "{}", run.stderr);
    assert!(host.writes().is_empty(), "nothing written: {:?}", host.writes());
    assert!(host.sim.requests().iter().any(|r| r.path.ends_with("/selfsubjectrulesreviews")));

    // A cluster-scoped kind is checked with a SelfSubjectAccessReview.
    host.sim.clear_forbids();
    host.sim.forbid(Forbid::user("alice").verb("create").resource("rbac.authorization.k8s.io", "clusterroles"));
    let run = host.run_with(&kubeconfig, &["create", "my-vc", "--no-wait", "--set", "sync.ingresses.enabled=true"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("create clusterroles.rbac.authorization.k8s.io"), "{}", run.stderr);
    assert!(host.sim.requests().iter().any(|r| r.path.ends_with("/selfsubjectaccessreviews")));
    assert!(host.writes().is_empty(), "{:?}", host.writes());

    // Creating the namespace itself: the refused create is the first write request, and it
    // changes nothing.
    host.sim.clear_forbids();
    host.sim.forbid(Forbid::user("alice").verb("create").resource("", "namespaces"));
    host.sim.clear_requests();
    let run = host.run_with(&kubeconfig, &["create", "my-vc", "--no-wait"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot create resource \"namespaces\""), "{}", run.stderr);
    assert!(
        run.stderr.contains("hint: ask a cluster administrator for permission to create namespaces"),
        "{}",
        run.stderr
    );
    let accepted: Vec<_> = host.writes().into_iter().filter(|r| r.status < 400).collect();
    assert!(accepted.is_empty(), "{accepted:?}");
    assert!(host.object("v1", "Namespace", "", NS).is_none());
}

#[test]
fn a_readiness_timeout_names_what_is_stuck() {
    let host = Host::new();
    // --timeout bounds the whole command: room for the install before the wait runs out.
    host.run(&["create", "my-vc", "--timeout", "6s"]).fails_with(&[
        "error: timed out after 6s waiting for vcluster my-vc: StatefulSet my-vc: ",
        "hint: wait longer with --timeout",
    ]);
    let statuses = host.statuses(NS, "my-vc");
    assert_eq!(statuses[0].0, "failed");
    assert!(statuses[0].2.contains("timed out"), "{}", statuses[0].2);
}

#[test]
fn a_readiness_timeout_reports_promptly_when_the_pods_cannot_be_read() {
    let host = Host::new();
    // Every read of the pods hangs: the report names what was seen instead of waiting on them.
    host.sim.inject(Fault::on("GET", "/api/v1/namespaces/*/pods").delay(Duration::from_secs(60)));
    let started = std::time::Instant::now();
    host.run(&["create", "my-vc", "--timeout", "6s"])
        .fails_with(&["error: timed out after 6s waiting for vcluster my-vc: StatefulSet my-vc: "]);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    host.sim.clear_faults();
}

#[test]
fn reuse_values_keeps_the_recorded_values_and_history_max_trims_old_revisions() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait", "--set", "syncer.replicas=2"]).succeeds();
    host.run(&["create", "my-vc", "--no-wait", "--upgrade", "--reuse-values", "--set", "fallbackHostDns=true"])
        .succeeds();
    let config = &host.records(NS, "my-vc")[1]["config"];
    assert_eq!(config["syncer"]["replicas"], 2, "{config}");
    assert_eq!(config["fallbackHostDns"], true, "{config}");
    assert_eq!(config["serviceCIDR"], "10.100.0.0/16");
    // Without --reuse-values only this run's values (and the detected ones) count.
    host.run(&["create", "my-vc", "--no-wait", "--upgrade", "--history-max", "3"]).succeeds();
    let records = host.records(NS, "my-vc");
    assert_eq!(
        records.last().unwrap()["config"],
        json!({"vcluster": {"image": "rancher/k3s:v1.27.3-k3s1"}, "serviceCIDR": "10.100.0.0/16"})
    );
    host.run(&["create", "my-vc", "--no-wait", "--upgrade", "--history-max", "3"]).succeeds();
    let versions: Vec<u64> = host.records(NS, "my-vc").iter().map(|r| r["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [2, 3, 4], "at most 3 revisions, the oldest go first");
}

/// The default ServiceCIDR (kubernetes `pkg/controlplane/controller/defaultservicecidr`).
const SERVICE_CIDR: &str = "/apis/networking.k8s.io/v1/servicecidrs/kubernetes";

/// The requests of service CIDR detection: GETs of the ServiceCIDR, dry-run probe Services.
fn detection_requests(host: &Host) -> Vec<(&'static str, String)> {
    host.sim
        .requests()
        .into_iter()
        .filter_map(|r| match r.method.as_str() {
            "GET" if r.path == SERVICE_CIDR => Some(("GET", r.path)),
            "POST" if r.dry_run && r.path.ends_with("/services") => Some(("POST", r.path)),
            _ => None,
        })
        .collect()
}

#[test]
fn computed_values_come_from_the_host_unless_the_user_set_them() {
    let config_of = |host: &Host| host.records(NS, "my-vc").last().unwrap()["config"].clone();
    let dual_stack = |git_version: &str| kube_sim::SimConfig {
        git_version: git_version.into(),
        service_cidrs: vec!["fd00:10:96::/108".into(), "10.100.0.0/16".into()],
        ..kube_sim::SimConfig::default()
    };
    // Kubernetes 1.33: the default ServiceCIDR, read in one GET, gives both families in order;
    // no probe Service at all.
    let host = Host::start(dual_stack("v1.33.1"));
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    assert_eq!(config_of(&host)["serviceCIDR"], "fd00:10:96::/108,10.100.0.0/16");
    assert_eq!(detection_requests(&host), [("GET", SERVICE_CIDR.to_owned())]);

    // An older cluster does not serve ServiceCIDRs (404; the simulator serves them at every
    // version, so the test says so): dual stack, primary family first, from the dry-run probes
    // — two probes and the dual-stack family question. The k3s image for the host's minor.
    let host = Host::start(dual_stack("v1.26.4"));
    host.sim.inject(Fault::on("GET", SERVICE_CIDR).respond(404));
    let run = host.run(&["create", "my-vc", "--no-wait"]);
    run.succeeds();
    assert!(!run.stderr.contains("warning:"), "an exact table entry needs no warning: {}", run.stderr);
    assert_eq!(
        config_of(&host),
        json!({"vcluster": {"image": "rancher/k3s:v1.26.6-k3s1"}, "serviceCIDR": "fd00:10:96::/108,10.100.0.0/16"})
    );
    let probes: Vec<_> = detection_requests(&host).into_iter().filter(|r| r.0 == "POST").collect();
    assert_eq!(probes.len(), 3, "two probes and the dual-stack family question: {probes:?}");

    // Not allowed to read the ServiceCIDR (403): the probes, just as well.
    let host = Host::start(dual_stack("v1.33.1"));
    host.sim.forbid(Forbid::user("alice").verb("get").resource("networking.k8s.io", "servicecidrs"));
    host.run_with(&host.kubeconfig_for("alice"), &["create", "my-vc", "--no-wait"]).succeeds();
    assert_eq!(config_of(&host)["serviceCIDR"], "fd00:10:96::/108,10.100.0.0/16");
    assert!(host.sim.requests().iter().any(|r| r.path == SERVICE_CIDR && r.status == 403));
    assert_eq!(detection_requests(&host).iter().filter(|r| r.0 == "POST").count(), 3);

    // Values the user set are not detected (no /version, no probes) and win.
    let host = Host::new();
    let run = host.run(&[
        "create",
        "my-vc",
        "--no-wait",
        "--kubernetes-version",
        "v1.25",
        "--set",
        "serviceCIDR=10.0.0.0/16",
    ]);
    run.succeeds();
    assert_eq!(
        config_of(&host),
        json!({"vcluster": {"image": "rancher/k3s:v1.25.11-k3s1"}, "serviceCIDR": "10.0.0.0/16"})
    );
    assert!(!host.sim.requests().iter().any(|r| r.path == "/version"));
    assert!(detection_requests(&host).is_empty());

    // No answer names a range: the fallback, with a warning.
    let host = Host::new();
    host.sim.inject(Fault::on("GET", SERVICE_CIDR).respond(404));
    host.sim.inject(Fault::on("POST", "/api/v1/namespaces/*/services").times(2).respond(500));
    let run = host.run(&["create", "my-vc", "--no-wait"]);
    run.succeeds();
    assert!(run.stderr.contains("warning: cannot detect the host's service CIDR (no probe answer named the service IP range); using 10.96.0.0/12"), "{}", run.stderr);
    assert_eq!(config_of(&host)["serviceCIDR"], "10.96.0.0/12");

    // On upgrade both are computed again unless this run sets them.
    let host = Host::start(kube_sim::SimConfig { git_version: "v1.26.4".into(), ..kube_sim::SimConfig::default() });
    host.run(&["create", "my-vc", "--no-wait", "--kubernetes-version", "v1.25", "--set", "serviceCIDR=10.0.0.0/16"])
        .succeeds();
    host.run(&["create", "my-vc", "--no-wait", "--upgrade"]).succeeds();
    assert_eq!(
        config_of(&host),
        json!({"vcluster": {"image": "rancher/k3s:v1.26.6-k3s1"}, "serviceCIDR": "10.96.0.0/12"})
    );
}

#[test]
fn a_second_signal_exits_at_once() {
    let host = Host::new();
    host.sim.inject(Fault::on("PATCH", "/api/v1/namespaces/*/services/*").delay(Duration::from_secs(5)));
    // Recording the interrupted revision as failed hangs too.
    host.sim.inject(Fault::on("PUT", "/api/v1/namespaces/*/secrets/*").delay(Duration::from_secs(20)));
    let mut create = Running::spawn(host.command(host.sim.kubeconfig_path(), &["create", "my-vc", "--no-wait"]));
    create.wait_for_line("applied 1 RoleBinding (", Duration::from_secs(20));
    let signalled = std::time::Instant::now();
    create.signal("INT");
    // The first signal was taken (the handler says so): the second one exits at once.
    create.wait_for_line("interrupt again to exit at once", Duration::from_secs(10));
    create.signal("INT");
    let run = create.finish();
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(signalled.elapsed() < Duration::from_secs(10), "it did not wait for the held record update");
}

#[test]
fn foreign_objects_are_refused_unless_taken_and_conflicts_unless_forced() {
    let host = Host::new();
    // The user's own ConfigMap under a name the chart renders.
    host.sim
        .seed_yaml(&format!(
            "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: my-vc-coredns, namespace: {NS}}}\ndata: {{mine: 'yes'}}\n"
        ))
        .unwrap();
    host.sim.clear_requests();
    let run = host.run(&["create", "my-vc", "--no-wait"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("error: 1 object exists and is not part of release my-vc:"), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "ConfigMap/my-vc-coredns: annotation validation error: missing key \"meta.helm.sh/release-name\""
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: --take-ownership adopts them"), "{}", run.stderr);
    let accepted: Vec<_> = host.writes().into_iter().filter(|r| r.status < 400).collect();
    assert!(accepted.is_empty(), "refused before any write: {accepted:?}");

    let run = host.run(&["create", "my-vc", "--no-wait", "--take-ownership", "-o", "json"]);
    run.succeeds();
    let cm = run.json()["objects"].as_array().unwrap().iter().find(|o| o["kind"] == "ConfigMap").unwrap().clone();
    assert_eq!(cm["adopted"], true);
    let live = host.object("v1", "ConfigMap", NS, "my-vc-coredns").unwrap();
    assert_eq!(live["metadata"]["annotations"]["meta.helm.sh/release-name"], "my-vc");

    // Someone outside the release changes a field the chart sets; the next upgrade that sets it
    // differently conflicts, and --force-conflicts takes it back.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = host.sim.client().await.unwrap();
        let api: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> = kube::Api::namespaced(client, NS);
        let patch = json!({"spec": {"replicas": 3}});
        let pp = kube::api::PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
        api.patch("my-vc", &pp, &kube::api::Patch::Merge(&patch)).await.unwrap();
    });
    host.run(&["create", "my-vc", "--no-wait", "--upgrade", "--set", "syncer.replicas=2"]).fails_with(&[
        "error: applying StatefulSet/my-vc conflicts with another field manager",
        "kubectl-edit", // the server names the manager
        "hint: --force-conflicts",
    ]);
    host.run(&["create", "my-vc", "--no-wait", "--upgrade", "--set", "syncer.replicas=2", "--force-conflicts"])
        .succeeds();
    assert_eq!(host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap()["spec"]["replicas"], 2);
}

/// A cluster that accepts connections and never answers (every request held by the simulator's
/// fault): `create --timeout` bounds the whole command, and every request of any command is
/// bounded by `--request-timeout`.
#[test]
fn a_silent_cluster_holds_no_command_past_its_bounds() {
    let host = Host::new();
    host.sim.inject(Fault::on("*", "/**").delay(Duration::from_secs(3600)));

    let started = std::time::Instant::now();
    let run = host.run(&["create", "my-vc", "--timeout", "2s"]);
    let took = started.elapsed();
    run.fails_with(&["timed out after 2s waiting for vcluster create to finish", "--timeout bounds the whole command"]);
    // The deadline, then at most the grace to record a failure, and process start-up.
    assert!(took < Duration::from_secs(10), "create took {took:?}");
    assert!(host.records(NS, "my-vc").is_empty(), "nothing was written");

    let started = std::time::Instant::now();
    let run = host.run(&["list", "--request-timeout", "1s"]);
    let took = started.elapsed();
    run.fails_with(&["did not answer within 1s"]);
    assert!(!run.stderr.contains("ServiceError"), "{}", run.stderr);
    assert!(took < Duration::from_secs(10), "list took {took:?}");
}

/// Replace the live StatefulSet by one as Helm created it from the v0.15.7 chart, which leaves
/// `podManagementPolicy` unset (loft-sh/vcluster v0.15.7 charts/k3s/templates/statefulset.yaml).
fn statefulset_as_v0_15_7_rendered_it(host: &Host) {
    let spec = |spec: &mut Value| _ = spec.as_object_mut().unwrap().remove("podManagementPolicy");
    replace_statefulset(host, spec, Writer::HelmCreate);
}

/// Who writes the StatefulSet a test puts in place of the one `create` made.
enum Writer {
    /// Helm: a create by manager `helm`.
    HelmCreate,
    /// An earlier build of this CLI: a server-side apply by manager `vcluster`.
    OurApply,
}

/// Replace the StatefulSet `my-vc` (its pods orphaned) by the same one with `edit` made to its
/// spec, written by `writer`.
fn replace_statefulset(host: &Host, edit: impl FnOnce(&mut Value), writer: Writer) {
    let mut sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    let meta = sts["metadata"].as_object_mut().unwrap();
    for field in ["uid", "resourceVersion", "managedFields", "creationTimestamp", "generation"] {
        meta.remove(field);
    }
    sts.as_object_mut().unwrap().remove("status");
    edit(&mut sts["spec"]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = host.sim.client().await.unwrap();
        let api: kube::Api<k8s_openapi::api::apps::v1::StatefulSet> = kube::Api::namespaced(client, NS);
        let dp = kube::api::DeleteParams {
            propagation_policy: Some(kube::api::PropagationPolicy::Orphan),
            ..Default::default()
        };
        api.delete("my-vc", &dp).await.unwrap();
        match writer {
            Writer::HelmCreate => {
                let pp = kube::api::PostParams { field_manager: Some("helm".into()), ..Default::default() };
                api.create(&pp, &serde_json::from_value(sts).unwrap()).await.unwrap();
            }
            Writer::OurApply => {
                let pp = kube::api::PatchParams::apply("vcluster").force();
                api.patch("my-vc", &pp, &kube::api::Patch::Apply(sts)).await.unwrap();
            }
        }
    });
}

#[test]
fn a_statefulset_as_v0_15_7_rendered_it_upgrades() {
    let host = Host::new();
    let install = host.run(&["create", "my-vc", "--no-wait"]);
    install.succeeds();
    assert!(install.stderr.contains("created namespace vcluster-my-vc"), "{}", install.stderr);
    // Counters say what each step did: two ServiceAccounts at once count as two.
    assert!(install.stderr.contains("applied 2 ServiceAccounts (2/"), "{}", install.stderr);
    statefulset_as_v0_15_7_rendered_it(&host);
    let upgrade =
        host.run(&["create", "my-vc", "--upgrade", "--no-wait", "--set", "syncer.extraArgs={--tls-san=a.example.com}"]);
    upgrade.succeeds();
    // The namespace existed: nothing says it is created.
    assert!(!upgrade.stderr.to_lowercase().contains("creat"), "{}", upgrade.stderr);
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady", "the server's default, as before");
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["superseded", "deployed"]);
}

/// What an earlier build of this CLI left: its own apply (manager `vcluster`) set
/// `podManagementPolicy: Parallel`, which the chart no longer renders.
fn statefulset_as_an_earlier_build_applied_it(host: &Host) {
    replace_statefulset(host, |spec| spec["podManagementPolicy"] = json!("Parallel"), Writer::OurApply);
}

#[test]
fn an_upgrade_that_would_drop_a_fixed_field_an_earlier_build_applied_is_refused_before_any_write() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    statefulset_as_an_earlier_build_applied_it(&host);
    let effective = || host.writes().iter().filter(|w| !w.dry_run && w.status < 300).count();
    let writes = effective();
    let run = host.run(&["create", "my-vc", "--upgrade", "--no-wait"]);
    run.fails_with(&[
        "nothing was written",
        "StatefulSet/my-vc: spec.podManagementPolicy: Parallel → (unset) of the StatefulSet, \
         which Kubernetes does not allow to change",
        "--recreate-statefulset",
    ]);
    assert_eq!(effective(), writes, "no write, not even the lock");
    assert_eq!(host.statuses(NS, "my-vc").len(), 1, "no revision for a refused upgrade");
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    assert_eq!(sts["spec"]["podManagementPolicy"], "Parallel", "left as it was");

    // Recreated (pods orphaned), it takes the chart's policy.
    host.run(&["create", "my-vc", "--upgrade", "--no-wait", "--recreate-statefulset"]).succeeds();
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
}

#[test]
fn an_upgrade_of_fixed_statefulset_fields_is_refused_before_any_write_or_recreated() {
    // Alive: the StatefulSet controller makes the pod and its claim.
    let host = Host::alive();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    let uid = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap()["metadata"]["uid"].clone();
    // Writes that took effect (the namespace's create answers 409 AlreadyExists).
    let effective = || host.writes().iter().filter(|w| !w.dry_run && w.status < 300).count();
    let writes = effective();

    let run = host.run(&["create", "my-vc", "--upgrade", "--no-wait", "--set", "storage.persistence=false"]);
    run.fails_with(&[
        "nothing was written",
        "StatefulSet/my-vc: storage.persistence: true → false changes the StatefulSet's volumeClaimTemplates, \
         which Kubernetes does not allow to change",
        "hint: keep the old values",
        "--recreate-statefulset",
    ]);
    assert_eq!(effective(), writes, "no write, not even the lock");
    assert_eq!(host.statuses(NS, "my-vc").len(), 1, "no revision for a refused upgrade");

    // The user's data: the claim the StatefulSet made survives the recreate.
    let claim_uid =
        || host.object("v1", "PersistentVolumeClaim", NS, "data-my-vc-0").map(|c| c["metadata"]["uid"].clone());
    let claim = support::basics::eventually(Duration::from_secs(10), "the claim data-my-vc-0", claim_uid);
    let run = host.run(&[
        "create",
        "my-vc",
        "--upgrade",
        "--no-wait",
        "--set",
        "storage.persistence=false",
        "--recreate-statefulset",
    ]);
    run.succeeds();
    assert!(run.stderr.contains("orphaned"), "{}", run.stderr);
    assert_eq!(claim_uid(), Some(claim), "the claim is kept");
    let sts = host.object("apps/v1", "StatefulSet", NS, "my-vc").unwrap();
    assert!(sts["spec"].get("volumeClaimTemplates").is_none(), "{}", sts["spec"]);
    assert_ne!(sts["metadata"]["uid"], uid, "created again");
    let deletes: Vec<_> =
        host.writes().into_iter().filter(|w| w.method == "DELETE" && w.path.contains("statefulsets")).collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    let labels: Vec<String> = host.statuses(NS, "my-vc").into_iter().map(|s| s.0).collect();
    assert_eq!(labels, ["superseded", "deployed"]);
}
