//! `vcluster list` against the API-server simulator: the real binary (no terminal), the requests
//! it makes read from the simulator's log.

mod support;

use std::time::Duration;

use kube_sim::{Fault, Forbid, PodHold, PodMatch};
use serde_json::{Value, json};
use support::cluster::{Host, Run};
use vcluster::release::{self, Chart, Metadata, RecordWrite, Release, Status};

/// What `create` leaves for vcluster `name` in `namespace`, minimally: its release record, its
/// StatefulSet and its running pod.
fn seeded_vcluster(namespace: &str, name: &str) -> String {
    let mut record = Release {
        name: name.into(),
        namespace: namespace.into(),
        version: 1,
        chart: Some(Chart { metadata: Some(Metadata::vcluster()), ..Chart::default() }),
        ..Release::default()
    };
    record.set_status(Status::Deployed, "Install complete");
    record.info.first_deployed = Some("2025-01-01T00:00:00Z".parse().unwrap());
    let secret = release::to_secret(&record, RecordWrite::Create(jiff::Timestamp::now())).unwrap();
    let labels = json!({"app": "vcluster", "release": name});
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"serviceName": name, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "syncer", "image": "s"}]}}}});
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-0"), "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "syncer", "image": "s"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "syncer", "ready": true, "restartCount": 0, "image": "s", "imageID": "",
                                          "state": {"running": {"startedAt": "2025-01-01T00:00:00Z"}}}]}});
    [serde_json::to_value(secret).unwrap(), sts, pod].iter().map(|o| format!("---\n{o}\n")).collect()
}

fn seed(host: &Host, namespaces: impl IntoIterator<Item = String>) {
    let mut yaml = String::new();
    for ns in namespaces {
        yaml.push_str(&format!("---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"));
        yaml.push_str(&seeded_vcluster(&ns, "vc"));
    }
    host.sim.seed_yaml(&yaml).unwrap();
}

/// `list -o json`, and how many requests it made.
fn list(host: &Host, args: &[&str]) -> (Run, usize) {
    host.sim.clear_requests();
    let mut all = vec!["list"];
    all.extend(args);
    let run = host.run(&all);
    let requests = host.sim.requests();
    assert!(requests.iter().all(|r| r.method == "GET" && !r.query.contains("watch")), "{requests:?}");
    (run, requests.len())
}

#[test]
fn the_requests_do_not_grow_with_the_number_of_vclusters() {
    let host = Host::new();
    let (none, zero) = list(&host, &[]);
    none.succeeds();
    assert_eq!(none.stdout, "");
    assert_eq!(none.stderr, "No vclusters found.\n");
    assert_eq!(list(&host, &["-o", "json"]).0.json(), json!([]));

    seed(&host, ["ns-000".to_owned()]);
    let (one, one_count) = list(&host, &["-o", "json"]);
    assert_eq!(one.succeeds().json().as_array().unwrap().len(), 1);

    seed(&host, (1..100).map(|i| format!("ns-{i:03}")));
    let (hundred, hundred_count) = list(&host, &["-o", "json"]);
    let rows = hundred.succeeds().json();
    assert_eq!(rows.as_array().unwrap().len(), 100);
    assert!(rows.as_array().unwrap().iter().all(|r| r["status"] == "Running" && r["revision"] == 1));
    assert_eq!(rows[99]["namespace"], "ns-099", "sorted by namespace");
    assert_eq!(one_count, hundred_count, "the same requests for 1 and 100 vclusters");
    assert_eq!(zero, one_count);
    assert_eq!(one_count, 3, "records, StatefulSets and pods: one LIST each");

    let (table, _) = list(&host, &["-n", "ns-042"]);
    let table = table.succeeds();
    assert_eq!(table.stdout.lines().count(), 2, "{}", table.stdout);
    assert!(table.stdout.starts_with("NAME   NAMESPACE   STATUS    REVISION   CHART VERSION   CONNECTED   CREATED"));
    assert!(table.stdout.lines().nth(1).unwrap().starts_with("vc     ns-042      Running   1          "));
}

#[test]
fn json_and_yaml_have_the_documented_fields() {
    let host = Host::new();
    host.run(&["create", "my-vc", "--no-wait"]).succeeds();
    // What `connect` adds, current: this vcluster is the connected one, and the host context
    // is found through it.
    let base = std::fs::read_to_string(host.sim.kubeconfig_path()).unwrap();
    let vc_context =
        "- name: vcluster_my-vc_vcluster-my-vc_kube-sim\n  context: {cluster: kube-sim, user: kubernetes-admin}\n";
    let kubeconfig = host.home.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        base.replace("contexts:\n", &format!("contexts:\n{vc_context}"))
            .replace("current-context: kube-sim", "current-context: vcluster_my-vc_vcluster-my-vc_kube-sim"),
    )
    .unwrap();
    let run = host.run_with(&kubeconfig, &["list", "-o", "json"]);
    let rows = run.succeeds().json();
    let row = &rows[0];
    let keys: Vec<&str> = row.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "name",
            "namespace",
            "status",
            "releaseStatus",
            "revision",
            "chartVersion",
            "connected",
            "context",
            "hostContext",
            "created",
            "ageSeconds"
        ]
    );
    assert_eq!(row["name"], "my-vc");
    assert_eq!(row["namespace"], "vcluster-my-vc");
    assert_eq!(row["status"], "Pending", "no kubelet here: the pod never comes");
    assert_eq!(row["releaseStatus"], "deployed");
    assert_eq!(row["revision"], 1);
    assert_eq!(row["chartVersion"], vcluster::CHART_VERSION);
    assert_eq!(row["connected"], true);
    assert_eq!(row["context"], "vcluster_my-vc_vcluster-my-vc_kube-sim");
    assert_eq!(row["hostContext"], "kube-sim");
    let created: jiff::Timestamp = row["created"].as_str().unwrap().parse().unwrap();
    assert!(jiff::Timestamp::now().duration_since(created).as_secs() < 60);
    assert!(row["ageSeconds"].as_i64().unwrap() >= 0);

    let yaml = host.run(&["ls", "-o", "yaml"]);
    let parsed: Value = serde_saphyr::from_str(&yaml.succeeds().stdout).unwrap();
    assert_eq!(parsed[0]["name"], "my-vc");
    assert_eq!(parsed[0]["connected"], false, "the simulator's own kubeconfig is not connected to it");
    assert_eq!(host.run(&["list", "-o", "wide"]).code, 2);
}

/// `list -o json` until `done` accepts it (pods change state on their own).
fn list_until(host: &Host, done: impl Fn(&Value) -> bool) -> Value {
    let started = std::time::Instant::now();
    loop {
        let rows = host.run(&["list", "-o", "json"]).succeeds().json();
        if done(&rows) {
            return rows;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "never: {rows:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_of<'a>(rows: &'a Value, name: &str) -> &'a str {
    rows.as_array().unwrap().iter().find(|r| r["name"] == name).map_or("", |r| r["status"].as_str().unwrap())
}

#[test]
fn paused_crashing_and_failed_vclusters_show_as_such() {
    let mut host = Host::alive();
    host.with_syncer("vcluster-sleepy", "sleepy");
    host.run(&["create", "sleepy", "--timeout", "60s"]).succeeds();
    host.sim.hold_pods(
        PodMatch::labels("vcluster-crashy", "app=vcluster,release=crashy").unwrap(),
        PodHold::CrashLoopBackOff { restarts: 4 },
    );
    host.run(&["create", "crashy", "--no-wait"]).succeeds();
    host.sim.inject(Fault::on("PATCH", "/apis/apps/v1/namespaces/vcluster-broken/statefulsets/*").respond(500));
    assert_eq!(host.run(&["create", "broken", "--no-wait"]).code, 1);
    host.run(&["pause", "sleepy"]).succeeds();

    let rows = list_until(&host, |rows| status_of(rows, "crashy") == "CrashLoopBackOff");
    assert_eq!(status_of(&rows, "sleepy"), "Paused");
    assert_eq!(status_of(&rows, "broken"), "Failed");
    let broken = rows.as_array().unwrap().iter().find(|r| r["name"] == "broken").unwrap();
    assert_eq!(broken["releaseStatus"], "failed");

    host.run(&["resume", "sleepy", "--timeout", "60s"]).succeeds();
    let rows = host.run(&["list", "-o", "json"]).succeeds().json();
    assert_eq!(status_of(&rows, "sleepy"), "Running");
}

#[test]
fn forbidden_across_namespaces_falls_back_to_the_context_namespace() {
    let host = Host::new();
    seed(&host, ["team".to_owned()]);
    host.sim.seed_yaml(&seeded_vcluster("default", "here")).unwrap();
    let alice = host.kubeconfig_for("alice");
    host.sim.forbid(Forbid::user("alice").verb("list").resource("", "secrets").in_namespace(""));

    let run = host.run_with(&alice, &["list", "-o", "json"]);
    let rows = run.succeeds().json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows:#}");
    assert_eq!(rows[0]["name"], "here");
    assert!(
        run.stderr
            .contains("listing vclusters across all namespaces is forbidden for context kube-sim; searching namespace default only"),
        "{}",
        run.stderr
    );
    // With the permission, every namespace.
    let admin = host.run(&["list", "-o", "json"]).succeeds().json();
    assert_eq!(admin.as_array().unwrap().len(), 2);
    // Only the cluster scope is forbidden: -n reaches another namespace.
    assert_eq!(host.run_with(&alice, &["list", "-n", "team", "-o", "json"]).succeeds().json()[0]["name"], "vc");
}
