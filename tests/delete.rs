//! `vcluster delete` against the API-server simulator: the real binary (no terminal), the
//! simulator's stored objects and request log read back.

mod support;

use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams};
use kube_sim::Fault;
use serde_json::{Value, json};
use support::cluster::{Host, Running};
use support::eventually;
use support::lifecycle::{block_on, inventory};

/// Objects that are not the vcluster's: another release's and the user's own in its namespace,
/// and objects of the same names (a release of the same name) in another namespace.
const UNRELATED: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other-config
  namespace: team
  labels: {app.kubernetes.io/managed-by: Helm}
  annotations: {meta.helm.sh/release-name: other, meta.helm.sh/release-namespace: team}
data: {a: b}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: user-notes
  namespace: team
  labels: {release: my-vc}
data: {note: mine}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data-my-vc-0-backup
  namespace: team
  labels: {app: vcluster, release: my-vc}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata:
  name: my-vc
  namespace: team-b
  labels: {app: vcluster, release: my-vc}
  annotations: {meta.helm.sh/release-name: my-vc, meta.helm.sh/release-namespace: team-b}
spec:
  ports: [{port: 443}]
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: vc-my-vc
  namespace: team-b
  annotations: {meta.helm.sh/release-name: my-vc, meta.helm.sh/release-namespace: team-b}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data-my-vc-0
  namespace: team-b
  labels: {app: vcluster, release: my-vc}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"#;

/// A workload pod the syncer made on the host for the vcluster (owned by its StatefulSet, as
/// the syncer's `--set-owner` makes it), and one it made for another vcluster.
fn synced_pods(owner_uid: &str) -> String {
    format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-x-default-x-my-vc
  namespace: team
  labels: {{vcluster.loft.sh/managed-by: my-vc}}
  ownerReferences: [{{apiVersion: apps/v1, kind: StatefulSet, name: my-vc, uid: "{owner_uid}"}}]
spec:
  containers: [{{name: web, image: nginx}}]
---
apiVersion: v1
kind: Pod
metadata:
  name: web-x-default-x-other
  namespace: team
  labels: {{vcluster.loft.sh/managed-by: other}}
spec:
  containers: [{{name: web, image: nginx}}]
"#
    )
}

#[test]
fn delete_removes_everything_create_made_and_nothing_else() {
    let mut host = Host::alive();
    host.sim.seed_yaml(UNRELATED).unwrap();
    host.with_syncer("team", "my-vc");
    // The namespaces' default ServiceAccounts come from a controller: let it catch up.
    eventually(Duration::from_secs(20), || {
        ["team", "team-b"].iter().all(|ns| host.object("v1", "ServiceAccount", ns, "default").is_some())
    });
    let before_create = inventory(&host.sim);

    host.run(&["create", "my-vc", "-n", "team", "--timeout", "60s"]).succeeds();
    let sts = host.object("apps/v1", "StatefulSet", "team", "my-vc").unwrap();
    host.sim.seed_yaml(&synced_pods(sts["metadata"]["uid"].as_str().unwrap())).unwrap();
    for (kind, name) in [("Pod", "my-vc-0"), ("PersistentVolumeClaim", "data-my-vc-0"), ("Secret", "vc-my-vc")] {
        assert!(host.object("v1", kind, "team", name).is_some(), "create made {kind}/{name}");
    }
    // One of the release's objects was taken over by another release since: it is not ours.
    block_on(async {
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> =
            Api::namespaced(host.sim.client().await.unwrap(), "team");
        let patch = json!({"metadata": {"annotations": {"meta.helm.sh/release-name": "other"}}});
        api.patch("vc-workload-my-vc", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    });
    eventually(Duration::from_secs(20), || {
        host.object("v1", "Pod", "team", "web-x-default-x-other").unwrap()["status"]["phase"] == "Running"
    });
    let before_delete = inventory(&host.sim);

    let run = host.run(&["delete", "my-vc", "-n", "team", "--yes", "-o", "json", "--timeout", "60s"]);
    run.succeeds();
    let out = run.json();
    assert_eq!(out["found"], true);
    assert_eq!(out["namespace"], "team");
    assert_eq!(out["waited"], true);
    let action = |kind: &str, name: &str| {
        out["objects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["kind"] == kind && o["name"] == name)
            .map(|o| o["action"].as_str().unwrap().to_owned())
    };
    assert_eq!(action("StatefulSet", "my-vc").as_deref(), Some("deleted"));
    assert_eq!(action("PersistentVolumeClaim", "data-my-vc-0").as_deref(), Some("deleted"));
    assert_eq!(action("Secret", "sh.helm.release.v1.my-vc.v1").as_deref(), Some("deleted"));
    assert_eq!(action("ServiceAccount", "vc-workload-my-vc").as_deref(), Some("skipped"));
    assert_eq!(action("Namespace", "team"), None, "the namespace was not created by vcluster");
    let mut leftovers: Vec<String> = out["leftovers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!("{}/{} {}", l["kind"].as_str().unwrap(), l["name"].as_str().unwrap(), l["label"].as_str().unwrap())
        })
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["ConfigMap/user-notes release=my-vc", "PersistentVolumeClaim/data-my-vc-0-backup release=my-vc"],
        "the user's objects labelled as the vcluster's are reported, nothing it deleted or the collector takes"
    );
    assert!(run.stderr.contains("left behind: ConfigMap/user-notes in namespace team (labelled release=my-vc)"));
    assert!(run.stderr.contains("left ServiceAccount/vc-workload-my-vc in place: its release annotations"));

    // Everything create made is gone — the pods, the claim, the syncer's Secret, the synced pod
    // the collector took with the StatefulSet — but what was taken over; everything else is
    // untouched (the resourceVersions it had before the delete).
    let after = inventory(&host.sim);
    let mut expected: Vec<&String> = before_create.keys().collect();
    let (taken, other) =
        ("ServiceAccount team/vc-workload-my-vc".to_owned(), "Pod team/web-x-default-x-other".to_owned());
    expected.extend([&taken, &other]);
    expected.sort();
    assert_eq!(after.keys().collect::<Vec<_>>(), expected);
    for (key, rv) in &after {
        assert_eq!(Some(rv), before_delete.get(key), "{key} was changed by the delete");
    }
}

#[test]
fn keep_pvc_keeps_the_claims_and_so_the_namespace() {
    let mut host = Host::alive();
    host.with_syncer("vcluster-my-vc", "my-vc");
    host.run(&["create", "my-vc", "--timeout", "60s"]).succeeds();
    let claim = host.object("v1", "PersistentVolumeClaim", "vcluster-my-vc", "data-my-vc-0").unwrap();

    let run = host.run(&["delete", "my-vc", "--keep-pvc", "--yes", "--timeout", "60s"]);
    run.succeeds();
    assert!(run.stderr.contains("namespace vcluster-my-vc stays: --keep-pvc keeps the claims"), "{}", run.stderr);
    assert!(!run.stderr.contains("deleting 0 PersistentVolumeClaims"), "{}", run.stderr);
    let kept = host.object("v1", "PersistentVolumeClaim", "vcluster-my-vc", "data-my-vc-0").expect("the claim stays");
    assert_eq!(kept["metadata"]["uid"], claim["metadata"]["uid"]);
    assert!(kept["metadata"]["deletionTimestamp"].is_null());
    assert!(host.object("v1", "Namespace", "", "vcluster-my-vc").is_some());
    assert!(host.object("apps/v1", "StatefulSet", "vcluster-my-vc", "my-vc").is_none());
    assert!(host.object("v1", "Pod", "vcluster-my-vc", "my-vc-0").is_none(), "waited for the pod");
    assert!(host.record_secrets("vcluster-my-vc", "my-vc").is_empty());

    // The same data serves a new vcluster of the same name; then it all goes.
    host.with_syncer("vcluster-my-vc", "my-vc");
    host.run(&["create", "my-vc", "--timeout", "60s"]).succeeds();
    let reused = host.object("v1", "PersistentVolumeClaim", "vcluster-my-vc", "data-my-vc-0").unwrap();
    assert_eq!(reused["metadata"]["uid"], claim["metadata"]["uid"]);
    host.run(&["delete", "my-vc", "--yes", "--timeout", "60s"]).succeeds();
    assert!(host.object("v1", "Namespace", "", "vcluster-my-vc").is_none(), "created by vcluster: deleted");
    assert!(host.object("v1", "PersistentVolumeClaim", "vcluster-my-vc", "data-my-vc-0").is_none());
}

#[test]
fn the_namespace_goes_only_when_it_should() {
    let host = Host::new();
    host.sim.seed_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n").unwrap();

    // Not created by vcluster: it stays, unless --delete-namespace.
    host.run(&["create", "a", "-n", "team", "--no-wait"]).succeeds();
    let run = host.run(&["delete", "a", "-n", "team", "--yes"]);
    run.succeeds();
    assert!(run.stderr.contains("namespace team stays: it was not created by vcluster"), "{}", run.stderr);
    assert!(host.object("v1", "Namespace", "", "team").is_some());
    host.run(&["create", "a", "-n", "team", "--no-wait"]).succeeds();
    host.run(&["delete", "a", "-n", "team", "--yes", "--delete-namespace"]).succeeds();
    assert!(host.object("v1", "Namespace", "", "team").is_none(), "--delete-namespace");

    // Created by vcluster, but another vcluster lives there: it stays until the last one goes.
    host.run(&["create", "a", "-n", "shared", "--no-wait"]).succeeds();
    host.run(&["create", "b", "-n", "shared", "--no-wait"]).succeeds();
    let run = host.run(&["delete", "a", "--yes"]);
    run.succeeds();
    assert!(run.stderr.contains("namespace shared stays: other vclusters live there: b"), "{}", run.stderr);
    assert!(host.object("v1", "Namespace", "", "shared").is_some());
    assert!(host.release_objects("shared", "a").is_empty());
    assert!(!host.release_objects("shared", "b").is_empty(), "the other vcluster is untouched");
    let run = host.run(&["delete", "b", "--yes", "--delete-namespace"]);
    run.succeeds();
    assert!(host.object("v1", "Namespace", "", "shared").is_none());
    // --delete-namespace with --keep-pvc is a usage error.
    assert_eq!(host.run(&["delete", "b", "--delete-namespace", "--keep-pvc"]).code, 2);
}

#[test]
fn without_a_terminal_it_needs_yes_and_changes_nothing() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    host.sim.clear_requests();
    let before = inventory(&host.sim);
    let run = host.run(&["delete", "my-vc"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.ends_with(
            "error: deleting vcluster my-vc in namespace vcluster-my-vc needs confirmation, but stdin is not a terminal\n  hint: pass --yes to confirm without a prompt\n"
        ),
        "{}",
        run.stderr
    );
    assert!(host.writes().is_empty(), "{:?}", host.writes());
    assert_eq!(inventory(&host.sim), before);
}

#[test]
fn not_found_exits_1_unless_ignored() {
    let host = Host::new();
    host.run(&["delete", "nope", "--yes"]).fails_with(&[
        "error: vcluster nope not found in any namespace (context \"kube-sim\")\n",
        "hint: `vcluster list` shows the vclusters there are",
    ]);
    host.run(&["delete", "nope", "-n", "team", "--yes"])
        .fails_with(&["error: vcluster nope not found in namespace team", "hint: `vcluster list -n team`"]);
    let run = host.run(&["rm", "nope", "--ignore-not-found", "-o", "json"]);
    run.succeeds();
    assert_eq!(run.json()["found"], false);
    assert_eq!(run.json()["namespace"], Value::Null);
    assert!(host.writes().is_empty());
}

#[test]
fn a_vcluster_without_release_records_is_not_guessed_at() {
    let host = Host::new();
    host.sim
        .seed_yaml(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: bare, namespace: default, labels: {app: vcluster, release: bare}}\nspec:\n  serviceName: bare\n  selector: {matchLabels: {app: vcluster, release: bare}}\n  template:\n    metadata: {labels: {app: vcluster, release: bare}}\n    spec: {containers: [{name: c, image: i}]}\n",
        )
        .unwrap();
    host.sim.clear_requests();
    host.run(&["delete", "bare", "--yes"]).fails_with(&[
        "error: vcluster bare in namespace default has no Helm release records",
        "hint: it was installed without Helm records here",
    ]);
    assert!(host.writes().is_empty());
    assert!(host.object("apps/v1", "StatefulSet", "default", "bare").is_some());
}

#[test]
fn a_500_or_a_dropped_connection_mid_delete_then_a_rerun_finishes() {
    for (label, fault) in [
        ("500", Fault::on("DELETE", "/apis/rbac.authorization.k8s.io/v1/namespaces/*/roles/*").nth(1).respond(500)),
        (
            "dropped connection",
            Fault::on("DELETE", "/apis/apps/v1/namespaces/*/statefulsets/*").nth(1).drop_connection(),
        ),
    ] {
        let host = Host::new();
        host.run(&["create", "my-vc", "--no-wait"]).succeeds();
        host.sim.inject(fault);
        let failed = host.run(&["delete", "my-vc", "--yes"]);
        assert_eq!(failed.code, 1, "{label}: {}", failed.stderr);
        assert!(failed.stderr.contains("error: "), "{label}: {}", failed.stderr);
        // The records stay (marked uninstalling) until everything else is gone: a rerun finds it.
        assert_eq!(host.statuses("vcluster-my-vc", "my-vc")[0].0, "uninstalling", "{label}");
        assert!(host.object("v1", "Namespace", "", "vcluster-my-vc").is_some(), "{label}");

        host.sim.clear_faults();
        let rerun = host.run(&["delete", "my-vc", "--yes"]);
        rerun.succeeds();
        assert!(host.release_objects("vcluster-my-vc", "my-vc").is_empty(), "{label}");
        assert!(host.record_secrets("vcluster-my-vc", "my-vc").is_empty(), "{label}");
        assert!(host.object("v1", "Namespace", "", "vcluster-my-vc").is_none(), "{label}");
    }
}

#[test]
fn sigint_mid_delete_exits_130_and_a_rerun_finishes() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    // Held far longer than the test may take even on a loaded machine.
    host.sim.inject(Fault::on("DELETE", "/apis/apps/v1/namespaces/*/statefulsets/*").delay(Duration::from_secs(60)));
    let started = std::time::Instant::now();
    let mut delete = Running::spawn(host.command(host.sim.kubeconfig_path(), &["delete", "my-vc", "--yes"]));
    // The StatefulSet's DELETE is in flight (held by the fault).
    delete.wait_for_line("deleting 1 StatefulSet", Duration::from_secs(20));
    delete.signal("INT");
    let run = delete.finish();
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(run.stderr.contains("interrupted"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(60), "it did not wait for the held request");
    assert!(!host.record_secrets("vcluster-my-vc", "my-vc").is_empty());

    host.sim.clear_faults();
    host.run(&["delete", "my-vc", "--yes"]).succeeds();
    assert!(host.release_objects("vcluster-my-vc", "my-vc").is_empty());
    assert!(host.object("v1", "Namespace", "", "vcluster-my-vc").is_none());
}

#[test]
fn its_kube_contexts_go_and_the_current_context_switches_back() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    let base = std::fs::read_to_string(host.sim.kubeconfig_path()).unwrap();
    // What `connect` adds: a context whose extension records the vcluster and the previous
    // context (a custom name), and one named in the established CLI's scheme.
    let extra = "- name: my-vc-custom\n  context:\n    cluster: kube-sim\n    user: kubernetes-admin\n    extensions:\n    - name: vcluster.loft.sh/connect\n      extension: {vcluster: my-vc, namespace: vcluster-my-vc, hostContext: kube-sim, previousContext: kube-sim}\n- name: vcluster_my-vc_vcluster-my-vc_kube-sim\n  context: {cluster: kube-sim, user: kubernetes-admin}\n- name: vcluster_other_vcluster-my-vc_kube-sim\n  context: {cluster: kube-sim, user: kubernetes-admin}\n";
    let text = base
        .replace("contexts:\n", &format!("contexts:\n{extra}"))
        .replace("current-context: kube-sim", "current-context: my-vc-custom");
    let kubeconfig = host.home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, text).unwrap();

    let run = host.run_with(&kubeconfig, &["delete", "my-vc", "--yes", "-o", "json"]);
    run.succeeds();
    assert!(
        run.stderr.contains("the current context my-vc-custom is vcluster my-vc's; using its host context kube-sim"),
        "{}",
        run.stderr
    );
    let out = run.json();
    assert_eq!(out["contextsRemoved"], json!(["my-vc-custom", "vcluster_my-vc_vcluster-my-vc_kube-sim"]));
    assert_eq!(out["switchedTo"], "kube-sim");
    let after = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(after.contains("current-context: kube-sim"), "{after}");
    assert!(!after.contains("my-vc-custom") && !after.contains("vcluster_my-vc_"), "{after}");
    assert!(after.contains("vcluster_other_vcluster-my-vc_kube-sim"), "another vcluster's context stays: {after}");
    assert!(after.contains("name: kube-sim"), "the shared cluster and user entries stay: {after}");
}

#[test]
fn the_syncers_service_cidr_config_map_goes_too() {
    let host = Host::new();
    host.sim.seed_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n").unwrap();
    host.run(&["create", "a", "-n", "team", "--no-wait"]).succeeds();
    host.run(&["create", "b", "-n", "team", "--no-wait"]).succeeds();
    // What the syncer writes at start (no owner, no labels), and a look-alike with more data,
    // which is someone else's.
    host.sim
        .seed_yaml(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: vc-cidr-a, namespace: team}\ndata: {cidr: 10.100.0.0/16}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: vc-cidr-b, namespace: team}\ndata: {cidr: 10.100.0.0/16, note: mine}\n",
        )
        .unwrap();
    let run = host.run(&["delete", "a", "-n", "team", "--yes", "-o", "json"]);
    run.succeeds();
    let deleted: Vec<Value> = run.json()["objects"].as_array().unwrap().clone();
    assert!(deleted.iter().any(|o| o["kind"] == "ConfigMap" && o["name"] == "vc-cidr-a"), "{deleted:?}");
    assert!(host.object("v1", "ConfigMap", "team", "vc-cidr-a").is_none());
    host.run(&["delete", "b", "-n", "team", "--yes"]).succeeds();
    assert!(host.object("v1", "ConfigMap", "team", "vc-cidr-b").is_some(), "not plainly the syncer's: it stays");
}
