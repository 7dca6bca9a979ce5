//! managedFields of non-apply writes (operation `Update`): POST, PUT and merge/JSON/strategic
//! PATCH, with expectations from kube-apiserver behaviour (what `kubectl get
//! --show-managed-fields` shows after `kubectl create`, the "Server-Side Apply" documentation
//! on Update entries and on clearing managedFields, managedfields/internal tests).

use kube_sim::merge::{Gvk, Schema, apply, record_update};
use serde_json::{Value, json};

const T0: &str = "2026-01-01T10:00:00Z";
const T1: &str = "2026-01-01T11:00:00+01:00";
const T2: &str = "2026-01-01T12:00:00Z";

fn deploy_gvk() -> Gvk {
    Gvk::new("apps", "v1", "Deployment")
}

fn update(old: Option<&Value>, new: &Value, manager: &str, now: &str) -> Value {
    record_update(Schema::k8s_1_33(), &deploy_gvk(), old, new.clone(), manager, "", now).unwrap()
}

/// `kubectl create deployment web --image=nginx` as kube-apiserver holds it after defaulting.
fn created_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
                        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                    "dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                    "securityContext": {}, "terminationGracePeriodSeconds": 30
                }
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600
        },
        "status": {}
    })
}

fn stored(mut object: Value) -> Value {
    object["metadata"]["uid"] = json!("0f0e0d0c-0000-4000-8000-000000000001");
    object
}

#[test]
fn create_owns_every_field_set_including_defaults_with_dots_for_new_maps() {
    let out = update(None, &created_deployment(), "kubectl-create", T0);
    let entries = out["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    // The entry kube-apiserver records for `kubectl create deployment` ("." where a map or
    // list-map element appeared that the empty Go object did not have: labels, rollingUpdate,
    // the container; none for by-value structs like strategy or template, nor for containers,
    // which the empty object has as null). status is reset by the strategy, never owned.
    let expected = r#"{"manager":"kubectl-create","operation":"Update","apiVersion":"apps/v1","time":"2026-01-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}}}}}"#;
    assert_eq!(serde_json::to_string(&entries[0]).unwrap(), expected);
}

#[test]
fn an_unchanged_write_leaves_managed_fields_alone() {
    let live = stored(update(None, &created_deployment(), "kubectl-create", T0));
    let out = update(Some(&live), &live, "kubectl-replace", T2);
    assert_eq!(out, live);
    // A PUT without managedFields keeps the stored ones too.
    let mut put = live.clone();
    put["metadata"].as_object_mut().unwrap().remove("managedFields");
    assert_eq!(update(Some(&live), &put, "kubectl-replace", T2), live);
}

#[test]
fn changed_fields_move_to_the_updating_manager() {
    let live = stored(update(None, &created_deployment(), "kubectl-create", T0));
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(3);
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.27");
    let out = update(Some(&live), &scaled, "kubectl-edit", T1);
    let entries = out["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let edit = entries.iter().find(|e| e["manager"] == "kubectl-edit").unwrap();
    // Times are normalised to UTC seconds, as metav1.Time marshals.
    assert_eq!(edit["time"], "2026-01-01T10:00:00Z");
    assert_eq!(
        edit["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
        "k:{\"name\":\"nginx\"}": {"f:image": {}}}}}}})
    );
    let create =
        serde_json::to_string(&entries.iter().find(|e| e["manager"] == "kubectl-create").unwrap()["fieldsV1"]).unwrap();
    assert!(!create.contains("f:replicas") && !create.contains(r#""f:image":{}"#), "{create}");
    assert!(create.contains("f:imagePullPolicy"));
    // Entries sort by operation, then time, then manager.
    let order: Vec<_> = entries.iter().map(|e| e["manager"].as_str().unwrap()).collect();
    assert_eq!(order, ["kubectl-create", "kubectl-edit"]);
}

#[test]
fn an_update_takes_fields_from_an_applier_without_conflict() {
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}});
    let live = stored(apply(Schema::k8s_1_33(), &deploy_gvk(), None, &config, "vcluster", "", false, T0).unwrap());
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(5);
    let out = update(Some(&live), &scaled, "kube-controller-manager", T2);
    let entries = out["metadata"]["managedFields"].as_array().unwrap();
    let applier = entries.iter().find(|e| e["manager"] == "vcluster").unwrap();
    assert!(applier["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert_eq!(applier["time"], T0, "losing a field does not touch the loser's time");
    let updater = entries.iter().find(|e| e["manager"] == "kube-controller-manager").unwrap();
    assert_eq!(updater["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
}

#[test]
fn removed_fields_leave_every_manager() {
    let live = stored(update(None, &created_deployment(), "kubectl-create", T0));
    let mut edited = live.clone();
    edited["metadata"]["labels"].as_object_mut().unwrap().remove("app");
    edited["metadata"]["labels"]["tier"] = json!("web");
    let out = update(Some(&live), &edited, "kubectl-edit", T2);
    let entries = out["metadata"]["managedFields"].as_array().unwrap();
    let create = &entries.iter().find(|e| e["manager"] == "kubectl-create").unwrap()["fieldsV1"]["f:metadata"];
    // The creator still owns the labels map itself; a member without children encodes as {}.
    assert_eq!(create, &json!({"f:labels": {}}));
    let edit = &entries.iter().find(|e| e["manager"] == "kubectl-edit").unwrap()["fieldsV1"];
    assert_eq!(edit, &json!({"f:metadata": {"f:labels": {"f:tier": {}}}}));
}

#[test]
fn managed_fields_can_be_cleared_and_then_stay_untracked() {
    let live = stored(update(None, &created_deployment(), "kubectl-create", T0));
    for reset in [json!([{}]), json!([])] {
        let mut cleared = live.clone();
        cleared["metadata"]["managedFields"] = reset;
        let out = update(Some(&live), &cleared, "kubectl-patch", T2);
        assert!(out["metadata"].get("managedFields").is_none(), "{out}");
        // An existing object without managedFields is not tracked by later updates.
        let mut later = out.clone();
        later["spec"]["replicas"] = json!(4);
        assert!(update(Some(&out), &later, "kubectl-scale", T2)["metadata"].get("managedFields").is_none());
    }
}

#[test]
fn managed_fields_sent_with_a_write_replace_the_stored_ones() {
    let live = stored(update(None, &created_deployment(), "kubectl-create", T0));
    let mut renamed = live.clone();
    renamed["metadata"]["managedFields"][0]["manager"] = json!("renamed");
    let out = update(Some(&live), &renamed, "kubectl-replace", T2);
    assert_eq!(out["metadata"]["managedFields"][0]["manager"], "renamed");
    // ...except through a subresource, where the stored ones win.
    let out = record_update(Schema::k8s_1_33(), &deploy_gvk(), Some(&live), renamed.clone(), "kubelet", "status", T2)
        .unwrap();
    assert_eq!(out["metadata"]["managedFields"], live["metadata"]["managedFields"]);
}

#[test]
fn status_writes_are_tracked_per_subresource() {
    let live = stored(update(None, &created_deployment(), "kubectl-create", T0));
    let mut status = live.clone();
    status["status"] = json!({"replicas": 1, "readyReplicas": 1});
    let out = record_update(
        Schema::k8s_1_33(),
        &deploy_gvk(),
        Some(&live),
        status.clone(),
        "kube-controller-manager",
        "status",
        T2,
    )
    .unwrap();
    let entry = out["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == "kube-controller-manager")
        .unwrap()
        .clone();
    assert_eq!(entry["subresource"], "status");
    assert_eq!(entry["fieldsV1"], json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}));
    assert_eq!(
        serde_json::to_string(&entry).unwrap().find("\"subresource\""),
        Some(serde_json::to_string(&entry).unwrap().len() - "\"subresource\":\"status\"}".len()),
        "subresource comes last"
    );
}

#[test]
fn more_than_ten_updaters_are_merged_into_ancient_changes() {
    let mut live = stored(update(None, &created_deployment(), "kubectl-create", T0));
    for i in 0..11 {
        let mut next = live.clone();
        next["metadata"]["labels"][format!("l{i}")] = json!("x");
        live = update(Some(&live), &next, &format!("writer-{i:02}"), &format!("2026-01-01T10:{:02}:00Z", i + 1));
    }
    let entries = live["metadata"]["managedFields"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    let ancient = entries.iter().find(|e| e["manager"] == "ancient-changes").expect("bucket");
    let labels = ancient["fieldsV1"]["f:metadata"]["f:labels"].as_object().unwrap();
    assert!(labels.contains_key("f:app") && labels.contains_key("f:l0") && labels.contains_key("f:l1"), "{labels:?}");
    assert_eq!(ancient["time"], "2026-01-01T10:02:00Z", "the bucket takes the newest merged time");
}
