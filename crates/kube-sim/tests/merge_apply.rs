//! Server-side apply through the merge engine, with expectations taken from kube-apiserver
//! behaviour: the Kubernetes "Server-Side Apply" documentation (field management, conflicts,
//! merge strategy, transferring ownership, upgrading from client-side apply) and the
//! structured-merge-diff / managedfields tests (merge/multiple_appliers_test.go,
//! merge/key_test.go, managedfields/internal/*_test.go).

use kube_sim::merge::{ApplyError, Conflict, Gvk, Operation, Schema, apply, conflicts_message, record_update};
use serde_json::{Value, json};

const T0: &str = "2026-01-01T10:00:00Z";
const T1: &str = "2026-01-01T11:00:00Z";
const T2: &str = "2026-01-01T12:00:00Z";

fn sts_gvk() -> Gvk {
    Gvk::new("apps", "v1", "StatefulSet")
}

fn ssa(live: Option<&Value>, applied: &Value, manager: &str, force: bool, now: &str) -> Result<Value, ApplyError> {
    apply(Schema::k8s_1_33(), &sts_gvk(), live, applied, manager, "", force, now)
}

fn managed_fields(object: &Value) -> &Vec<Value> {
    object["metadata"]["managedFields"].as_array().expect("managedFields")
}

fn entry<'o>(object: &'o Value, manager: &str) -> &'o Value {
    managed_fields(object).iter().find(|e| e["manager"] == manager).unwrap_or_else(|| panic!("no entry for {manager}"))
}

/// The vcluster StatefulSet as our CLI renders and applies it.
fn vcluster_sts() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "my-vc", "namespace": "team-a", "labels": {"app": "vcluster", "release": "my-vc"}},
        "spec": {
            "replicas": 1,
            "serviceName": "my-vc-headless",
            "selector": {"matchLabels": {"app": "vcluster", "release": "my-vc"}},
            "template": {
                "metadata": {"labels": {"app": "vcluster", "release": "my-vc"}},
                "spec": {
                    "containers": [{
                        "name": "syncer",
                        "image": "ghcr.io/loft-sh/vcluster:0.19.0",
                        "args": ["--name=my-vc"],
                        "env": [
                            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                            {"name": "NODE_NAME", "value": "node-1"}
                        ],
                        "ports": [{"containerPort": 8443, "name": "https"}],
                        "volumeMounts": [
                            {"name": "data", "mountPath": "/data"},
                            {"name": "certs", "mountPath": "/pki", "readOnly": true}
                        ]
                    }],
                    "volumes": [{"name": "certs", "secret": {"secretName": "my-vc-certs"}}]
                }
            }
        }
    })
}

/// What kube-apiserver's defaulting adds to the applied StatefulSet (the REST layer's job,
/// simulated here so later applies run against a realistic live object).
fn defaulted(mut object: Value) -> Value {
    let spec = &mut object["spec"];
    spec["podManagementPolicy"] = json!("OrderedReady");
    spec["revisionHistoryLimit"] = json!(10);
    spec["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}});
    let pod = &mut spec["template"]["spec"];
    pod["dnsPolicy"] = json!("ClusterFirst");
    pod["restartPolicy"] = json!("Always");
    for c in pod["containers"].as_array_mut().unwrap() {
        c["imagePullPolicy"] = json!("IfNotPresent");
        c["terminationMessagePath"] = json!("/dev/termination-log");
        for p in c["ports"].as_array_mut().into_iter().flatten() {
            p["protocol"] = json!("TCP");
        }
    }
    object["metadata"]["uid"] = json!("6b7e8c9a-0000-4000-8000-000000000001");
    object["metadata"]["resourceVersion"] = json!("101");
    object
}

#[test]
fn create_by_apply_records_the_applied_fields_in_fields_v1() {
    let created = ssa(None, &vcluster_sts(), "vcluster", false, T0).unwrap();
    let entries = managed_fields(&created);
    assert_eq!(entries.len(), 1);
    // Byte layout as kube-apiserver returns it (kubectl get -o json --show-managed-fields):
    // entry keys in ManagedFieldsEntry order, f: keys sorted, "." first, k: keys sorted by
    // key name with JSON values, list-map key defaults (protocol TCP) filled in, atomic
    // structs (LabelSelector, ObjectFieldSelector) owned whole, name/namespace stripped.
    let expected = r#"{"manager":"vcluster","operation":"Apply","apiVersion":"apps/v1","time":"2026-01-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{"f:app":{},"f:release":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:serviceName":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{},"f:release":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"syncer\"}":{".":{},"f:args":{},"f:env":{"k:{\"name\":\"NODE_NAME\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_IP\"}":{".":{},"f:name":{},"f:valueFrom":{"f:fieldRef":{}}}},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":8443,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{}}},"f:volumeMounts":{"k:{\"mountPath\":\"/data\"}":{".":{},"f:mountPath":{},"f:name":{}},"k:{\"mountPath\":\"/pki\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}}}}},"f:volumes":{"k:{\"name\":\"certs\"}":{".":{},"f:name":{},"f:secret":{"f:secretName":{}}}}}}}}}"#;
    assert_eq!(serde_json::to_string(&entries[0]).unwrap(), expected);
    // The object itself is the applied configuration (defaulting comes later).
    let mut without = created.clone();
    without["metadata"].as_object_mut().unwrap().remove("managedFields");
    assert_eq!(without, vcluster_sts());
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let live = defaulted(ssa(None, &vcluster_sts(), "vcluster", false, T0).unwrap());
    let again = ssa(Some(&live), &vcluster_sts(), "vcluster", false, T1).unwrap();
    assert_eq!(again, live, "no change, and time stays at the first apply");
    assert_eq!(entry(&again, "vcluster")["time"], T0);
}

#[test]
fn a_field_dropped_from_the_configuration_is_removed() {
    let live = defaulted(ssa(None, &vcluster_sts(), "vcluster", false, T0).unwrap());
    let mut config = vcluster_sts();
    let syncer = &mut config["spec"]["template"]["spec"]["containers"][0];
    syncer.as_object_mut().unwrap().remove("args");
    syncer["env"].as_array_mut().unwrap().remove(1); // NODE_NAME
    syncer["volumeMounts"].as_array_mut().unwrap().remove(1); // /pki
    config["spec"]["template"]["spec"].as_object_mut().unwrap().remove("volumes");
    let out = ssa(Some(&live), &config, "vcluster", false, T1).unwrap();

    let pod = &out["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert!(container.get("args").is_none());
    assert_eq!(container["env"], json!([{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]));
    assert_eq!(container["volumeMounts"], json!([{"name": "data", "mountPath": "/data"}]));
    assert!(pod.get("volumes").is_none(), "the removed list-map element takes the emptied list with it");
    // Defaulted fields nobody applied stay.
    assert_eq!(container["imagePullPolicy"], "IfNotPresent");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(out["spec"]["updateStrategy"]["type"], "RollingUpdate");
    let fields = serde_json::to_string(&entry(&out, "vcluster")["fieldsV1"]).unwrap();
    assert!(!fields.contains("f:args") && !fields.contains("NODE_NAME") && !fields.contains("f:volumes"));
    assert_eq!(entry(&out, "vcluster")["time"], T1);
}

#[test]
fn a_dropped_field_another_manager_owns_is_kept() {
    let mut config = vcluster_sts();
    config["metadata"]["annotations"] = json!({"meta.helm.sh/release-name": "my-vc"});
    let live = defaulted(ssa(None, &config, "vcluster", false, T0).unwrap());
    // helm (an Update manager) and a second applier set the same values: shared ownership.
    let mut by_helm = live.clone();
    by_helm["metadata"]["labels"]["heritage"] = json!("Helm");
    let live = record_update(Schema::k8s_1_33(), &sts_gvk(), Some(&live), by_helm.clone(), "helm", "", T1).unwrap();
    let ops = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "my-vc", "namespace": "team-a",
        "annotations": {"meta.helm.sh/release-name": "my-vc"}}, "spec": {"replicas": 1}});
    let live = ssa(Some(&live), &ops, "ops", false, T1).unwrap();

    // vcluster stops applying the annotation and replicas: "ops" still owns both.
    let mut config = vcluster_sts();
    config["spec"].as_object_mut().unwrap().remove("replicas");
    let out = ssa(Some(&live), &config, "vcluster", false, T2).unwrap();
    assert_eq!(out["metadata"]["annotations"]["meta.helm.sh/release-name"], "my-vc");
    assert_eq!(out["spec"]["replicas"], 1);
    assert_eq!(out["metadata"]["labels"]["heritage"], "Helm");
    let vcluster = serde_json::to_string(&entry(&out, "vcluster")["fieldsV1"]).unwrap();
    assert!(!vcluster.contains("f:replicas") && !vcluster.contains("f:annotations"));
    // ...and once "ops" drops them too, they go.
    let ops_empty =
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "my-vc", "namespace": "team-a"}});
    let out = ssa(Some(&out), &ops_empty, "ops", false, T2).unwrap();
    assert!(out["metadata"].get("annotations").is_none());
    assert!(out["spec"].get("replicas").is_none());
    assert!(managed_fields(&out).iter().all(|e| e["manager"] != "ops"), "an empty field set drops the entry");
}

fn helm_created() -> Value {
    // helm install: POST of the rendered manifest (operation Update), after defaulting.
    let mut posted = defaulted(vcluster_sts());
    posted["metadata"].as_object_mut().unwrap().remove("uid");
    posted["metadata"].as_object_mut().unwrap().remove("resourceVersion");
    let created = record_update(Schema::k8s_1_33(), &sts_gvk(), None, posted.clone(), "helm", "", T0).unwrap();
    let mut stored = created;
    stored["metadata"]["uid"] = json!("6b7e8c9a-0000-4000-8000-000000000002");
    stored
}

#[test]
fn conflicts_with_an_update_manager_name_it_with_its_api_version() {
    let live = helm_created();
    let mut config = vcluster_sts();
    config["spec"]["replicas"] = json!(2);
    let Err(ApplyError::Conflicts(conflicts)) = ssa(Some(&live), &config, "vcluster", false, T1) else {
        panic!("expected a conflict");
    };
    assert_eq!(
        conflicts,
        [Conflict {
            manager: "helm".into(),
            api_version: "apps/v1".into(),
            field: ".spec.replicas".into(),
            operation: Operation::Update,
            subresource: String::new(),
        }]
    );
    assert_eq!(
        conflicts_message(&conflicts),
        r#"Apply failed with 1 conflict: conflict with "helm" using apps/v1: .spec.replicas"#
    );
    assert_eq!(conflicts[0].cause_message(), r#"conflict with "helm" using apps/v1"#);

    config["spec"]["template"]["spec"]["containers"][0]["image"] = json!("ghcr.io/loft-sh/vcluster:0.20.0");
    let Err(ApplyError::Conflicts(conflicts)) = ssa(Some(&live), &config, "vcluster", false, T1) else {
        panic!("expected conflicts");
    };
    assert_eq!(
        conflicts_message(&conflicts),
        "Apply failed with 2 conflicts: conflicts with \"helm\" using apps/v1:\n\
        - .spec.replicas\n\
        - .spec.template.spec.containers[name=\"syncer\"].image"
    );
}

#[test]
fn force_moves_ownership_from_the_other_manager() {
    let live = helm_created();
    let mut config = vcluster_sts();
    config["spec"]["replicas"] = json!(2);
    let out = ssa(Some(&live), &config, "vcluster", true, T1).unwrap();
    assert_eq!(out["spec"]["replicas"], 2);
    let helm = serde_json::to_string(&entry(&out, "helm")["fieldsV1"]).unwrap();
    let vcluster = serde_json::to_string(&entry(&out, "vcluster")["fieldsV1"]).unwrap();
    assert!(!helm.contains("f:replicas"), "{helm}");
    assert!(vcluster.contains("f:replicas"));
    // Fields both set to the same value are shared, not taken.
    assert!(helm.contains("f:serviceName") && vcluster.contains("f:serviceName"));
    // Apply entries sort before Update entries.
    let order: Vec<_> = managed_fields(&out).iter().map(|e| e["manager"].as_str().unwrap()).collect();
    assert_eq!(order, ["vcluster", "helm"]);
    // Now the applier owns it: applying again without force does not conflict.
    config["spec"]["replicas"] = json!(3);
    assert_eq!(ssa(Some(&out), &config, "vcluster", false, T2).unwrap()["spec"]["replicas"], 3);
}

#[test]
fn conflicts_with_another_applier_name_it_without_api_version() {
    let live = defaulted(ssa(None, &vcluster_sts(), "vcluster", false, T0).unwrap());
    let scale = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "my-vc", "namespace": "team-a"},
        "spec": {"replicas": 3}});
    let Err(ApplyError::Conflicts(conflicts)) = ssa(Some(&live), &scale, "autoscaler", false, T1) else {
        panic!("expected a conflict");
    };
    assert_eq!(
        conflicts_message(&conflicts),
        r#"Apply failed with 1 conflict: conflict with "vcluster": .spec.replicas"#
    );
    assert_eq!(conflicts[0].operation, Operation::Apply);
    // Two managers in one message: sorted by manager, one path per line.
    let both = defaulted(
        record_update(
            Schema::k8s_1_33(),
            &sts_gvk(),
            Some(&live),
            {
                let mut v = live.clone();
                v["metadata"]["labels"]["tier"] = json!("control-plane");
                v
            },
            "kubectl-edit",
            "",
            T1,
        )
        .unwrap(),
    );
    let mut clash = scale.clone();
    clash["metadata"]["labels"] = json!({"tier": "data-plane"});
    let Err(ApplyError::Conflicts(conflicts)) = ssa(Some(&both), &clash, "autoscaler", false, T2) else {
        panic!("expected conflicts");
    };
    assert_eq!(
        conflicts_message(&conflicts),
        "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n\
        - .metadata.labels.tier\n\
        conflicts with \"vcluster\":\n\
        - .spec.replicas"
    );
}

#[test]
fn service_ports_are_keyed_by_port_and_protocol() {
    let gvk = Gvk::new("", "v1", "Service");
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "my-vc", "namespace": "team-a"},
        "spec": {"selector": {"app": "vcluster"}, "ports": [
            {"name": "https", "port": 443, "targetPort": 8443},
            {"name": "kubelet", "port": 10250, "protocol": "TCP", "targetPort": 8443},
            {"name": "dns-udp", "port": 53, "protocol": "UDP", "targetPort": 1053},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 1053}
        ]}
    });
    let out = apply(Schema::k8s_1_33(), &gvk, None, &svc, "vcluster", "", false, T0).unwrap();
    let ports = &managed_fields(&out)[0]["fieldsV1"]["f:spec"]["f:ports"];
    let keys: Vec<_> = ports.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            r#"k:{"port":53,"protocol":"TCP"}"#,
            r#"k:{"port":53,"protocol":"UDP"}"#,
            r#"k:{"port":443,"protocol":"TCP"}"#,
            r#"k:{"port":10250,"protocol":"TCP"}"#,
        ]
    );
    assert_eq!(managed_fields(&out)[0]["fieldsV1"]["f:spec"]["f:selector"], json!({}));
    // Another applier changing one port's target conflicts on that element only.
    let mut other = svc.clone();
    other["spec"] = json!({"ports": [{"port": 53, "protocol": "UDP", "targetPort": 53}]});
    let Err(ApplyError::Conflicts(conflicts)) =
        apply(Schema::k8s_1_33(), &gvk, Some(&out), &other, "dns-operator", "", false, T1)
    else {
        panic!("expected a conflict");
    };
    assert_eq!(
        conflicts_message(&conflicts),
        r#"Apply failed with 1 conflict: conflict with "vcluster": .spec.ports[port=53,protocol="UDP"].targetPort"#
    );
    // Dropping one port removes exactly that element.
    let mut fewer = svc.clone();
    fewer["spec"]["ports"].as_array_mut().unwrap().remove(2);
    let out = apply(Schema::k8s_1_33(), &gvk, Some(&out), &fewer, "vcluster", "", false, T1).unwrap();
    let names: Vec<_> = out["spec"]["ports"].as_array().unwrap().iter().map(|p| p["name"].clone()).collect();
    assert_eq!(names, ["https", "kubelet", "dns-tcp"]);
}

#[test]
fn list_map_items_merge_by_key_keeping_live_order_for_others() {
    // A sidecar injected by another manager stays; the applier's containers keep its order.
    let live = defaulted(ssa(None, &vcluster_sts(), "vcluster", false, T0).unwrap());
    let mut injected = live.clone();
    injected["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .insert(0, json!({"name": "istio-proxy", "image": "istio/proxyv2"}));
    let live = record_update(Schema::k8s_1_33(), &sts_gvk(), Some(&live), injected.clone(), "istio", "", T1).unwrap();
    let mut config = vcluster_sts();
    config["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] = json!("node-2");
    config["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] = json!(false);
    let out = ssa(Some(&live), &config, "vcluster", false, T2).unwrap();
    let containers = out["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    let names: Vec<_> = containers.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["istio-proxy", "syncer"]);
    assert_eq!(containers[1]["env"][1], json!({"name": "NODE_NAME", "value": "node-2"}));
    assert_eq!(containers[1]["volumeMounts"][0], json!({"name": "data", "mountPath": "/data", "readOnly": false}));
    assert_eq!(containers[1]["imagePullPolicy"], "IfNotPresent");
}

#[test]
fn an_untracked_object_belongs_to_before_first_apply() {
    // An object created without managedFields tracking (e.g. seeded from YAML).
    let live = defaulted(vcluster_sts());
    let mut config = vcluster_sts();
    config["spec"]["replicas"] = json!(2);
    let Err(ApplyError::Conflicts(conflicts)) = ssa(Some(&live), &config, "vcluster", false, T1) else {
        panic!("expected a conflict");
    };
    assert_eq!(
        conflicts_message(&conflicts),
        r#"Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas"#
    );
    let out = ssa(Some(&live), &vcluster_sts(), "vcluster", false, T1).unwrap();
    let managers: Vec<_> =
        managed_fields(&out).iter().map(|e| (e["manager"].clone(), e["operation"].clone())).collect();
    assert_eq!(managers, [(json!("vcluster"), json!("Apply")), (json!("before-first-apply"), json!("Update"))]);
    // Applying what is already there changes nothing, so the new entry has no time.
    assert!(entry(&out, "vcluster").get("time").is_none());
}

#[test]
fn kubectl_takes_over_its_client_side_apply_fields_without_conflict() {
    // kubectl apply (client-side) recorded the annotation and an Update entry.
    let mut csa = vcluster_sts();
    let annotation = serde_json::to_string(&csa).unwrap() + "\n";
    csa["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": annotation});
    let created =
        record_update(Schema::k8s_1_33(), &sts_gvk(), None, defaulted(csa), "kubectl-client-side-apply", "", T0)
            .unwrap();
    let mut config = vcluster_sts();
    config["spec"]["replicas"] = json!(2);
    // Another field manager conflicts...
    let other = ssa(Some(&created), &config, "vcluster", false, T1);
    assert!(matches!(&other, Err(ApplyError::Conflicts(c)) if c[0].manager == "kubectl-client-side-apply"));
    // ...kubectl's own server-side apply upgrades without conflict and refreshes the annotation.
    let out = ssa(Some(&created), &config, "kubectl", false, T1).unwrap();
    assert_eq!(out["spec"]["replicas"], 2);
    let refreshed =
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"].as_str().unwrap();
    assert!(refreshed.contains(r#""replicas":2"#) && refreshed.ends_with('\n'));
    let csa_fields = serde_json::to_string(&entry(&out, "kubectl-client-side-apply")["fieldsV1"]).unwrap();
    assert!(!csa_fields.contains("f:replicas"));
    // Without the annotation kubectl server-side apply does not add one.
    let fresh = ssa(None, &vcluster_sts(), "kubectl", false, T0).unwrap();
    assert!(fresh["metadata"].get("annotations").is_none());
}

#[test]
fn status_is_not_owned_through_the_main_resource() {
    let mut config = vcluster_sts();
    config["status"] = json!({"replicas": 1});
    let out = ssa(None, &config, "vcluster", false, T0).unwrap();
    assert!(managed_fields(&out)[0]["fieldsV1"].get("f:status").is_none());
}

#[test]
fn malformed_configurations_are_rejected_like_kube_apiserver() {
    use kube_sim::merge::MergeError;
    let mut bad = vcluster_sts();
    bad["spec"]["replicas"] = json!("two");
    assert_eq!(ssa(None, &bad, "vcluster", false, T0), Err(ApplyError::Merge(MergeError::Internal(
        "failed to create typed patch object (team-a/my-vc; apps/v1, Kind=StatefulSet): .spec.replicas: expected numeric (int or float), got string".into()))));
    let mut dup = vcluster_sts();
    let containers = dup["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap();
    containers.push(containers[0].clone());
    assert_eq!(ssa(None, &dup, "vcluster", false, T0), Err(ApplyError::Merge(MergeError::Internal(
        "failed to create typed patch object (team-a/my-vc; apps/v1, Kind=StatefulSet): .spec.template.spec.containers: duplicate entries for key [name=\"syncer\"]".into()))));
    let mut unknown = vcluster_sts();
    unknown["spec"]["replica"] = json!(1);
    assert!(matches!(ssa(None, &unknown, "vcluster", false, T0),
        Err(ApplyError::Merge(MergeError::Internal(m))) if m.ends_with(".spec.replica: field not declared in schema")));
    let mut no_key = vcluster_sts();
    no_key["spec"]["template"]["spec"]["volumes"] = json!([{"secret": {"secretName": "x"}}]);
    assert!(matches!(ssa(None, &no_key, "vcluster", false, T0),
        Err(ApplyError::Merge(MergeError::Internal(m))) if m.ends_with(".spec.template.spec.volumes: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)")));
    let mut wrong_kind = vcluster_sts();
    wrong_kind["apiVersion"] = json!("apps/v1beta2");
    assert_eq!(
        ssa(None, &wrong_kind, "vcluster", false, T0),
        Err(ApplyError::Merge(MergeError::BadRequest("invalid object type: apps/v1beta2, Kind=StatefulSet".into())))
    );
    let mut with_managed = vcluster_sts();
    with_managed["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        ssa(None, &with_managed, "vcluster", false, T0),
        Err(ApplyError::Merge(MergeError::BadRequest("metadata.managedFields must be nil".into())))
    );
}

#[test]
fn config_map_data_keys_and_set_items_are_owned_one_by_one() {
    let gvk = Gvk::new("", "v1", "ConfigMap");
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "my-vc-config", "namespace": "team-a", "finalizers": ["vcluster.loft.sh/cleanup"]},
        "data": {"config.yaml": "sync: {}", "values.yaml": "{}"}});
    let out = apply(Schema::k8s_1_33(), &gvk, None, &cm, "vcluster", "", false, T0).unwrap();
    assert_eq!(
        managed_fields(&out)[0]["fieldsV1"],
        json!({
            "f:data": {"f:config.yaml": {}, "f:values.yaml": {}},
            "f:metadata": {"f:finalizers": {"v:\"vcluster.loft.sh/cleanup\"": {}}}
        })
    );
    // A second applier adds a key and a finalizer without conflict; dropping ours keeps theirs.
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "my-vc-config", "namespace": "team-a",
        "finalizers": ["example.com/audit"]}, "data": {"extra": "1"}});
    let out = apply(Schema::k8s_1_33(), &gvk, Some(&out), &theirs, "auditor", "", false, T1).unwrap();
    assert_eq!(out["metadata"]["finalizers"], json!(["vcluster.loft.sh/cleanup", "example.com/audit"]));
    let ours = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "my-vc-config", "namespace": "team-a"},
        "data": {"config.yaml": "sync: {}"}});
    let out = apply(Schema::k8s_1_33(), &gvk, Some(&out), &ours, "vcluster", "", false, T2).unwrap();
    assert_eq!(out["data"], json!({"config.yaml": "sync: {}", "extra": "1"}));
    assert_eq!(out["metadata"]["finalizers"], json!(["example.com/audit"]));
}
