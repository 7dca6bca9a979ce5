//! The kubelet and controllers mode through kube-rs: StatefulSets, Deployments and
//! ReplicaSets, pods through their phases, claims, ControllerRevisions, Endpoints and
//! EndpointSlices, events, graceful deletion, and the test controls (holds, delays, pod
//! replacement, LoadBalancer ingress). Expected texts are kube-controller-manager's and the
//! kubelet's (sources cited in src/controllers/workloads).

mod common;

use std::time::Duration;

use common::eventually;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube_sim::{PodHold, PodMatch, SimConfig, Simulator, Workloads};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

async fn start() -> (Simulator, kube::Client) {
    let config = SimConfig { workloads: Workloads { enabled: true, ..Default::default() }, ..Default::default() };
    let sim = Simulator::start_with(config).await.expect("simulator starts");
    let client = sim.client().await.expect("client");
    (sim, client)
}

fn api(client: &kube::Client, group: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(group, "v1", kind);
    Api::namespaced_with(client.clone(), "default", &ApiResource::from_gvk_with_plural(&gvk, plural))
}

fn sts(client: &kube::Client) -> Api<DynamicObject> {
    api(client, "apps", "StatefulSet", "statefulsets")
}
fn pods(client: &kube::Client) -> Api<DynamicObject> {
    api(client, "", "Pod", "pods")
}

async fn create(api: &Api<DynamicObject>, body: Value) -> Value {
    let obj: DynamicObject = serde_json::from_value(body).unwrap();
    serde_json::to_value(api.create(&PostParams::default(), &obj).await.expect("created")).unwrap()
}

async fn fetch(api: &Api<DynamicObject>, name: &str) -> Option<Value> {
    api.get_opt(name).await.expect("get").map(|o| serde_json::to_value(o).unwrap())
}

fn statefulset(name: &str, replicas: i32, image: &str, extra: Value) -> Value {
    let mut body = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": { "name": name },
        "spec": {
            "serviceName": name,
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "main", "image": image, "ports": [{ "name": "http", "containerPort": 8080 }] }] }
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data" },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } }
            }]
        }
    });
    crate::merge(&mut body["spec"], extra);
    body
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(a), Value::Object(b)) = (into, from) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

async fn rolled_out(client: &kube::Client, name: &str, replicas: i64) -> Value {
    eventually(WAIT, || async {
        let s = fetch(&sts(client), name).await?;
        let st = &s["status"];
        (st["observedGeneration"] == s["metadata"]["generation"]
            && st["readyReplicas"] == replicas
            && st["updatedReplicas"] == replicas
            && st["replicas"] == replicas
            && st["currentRevision"] == st["updateRevision"])
            .then_some(s)
    })
    .await
}

fn events_of(sim: &Simulator, name: &str) -> Vec<(String, String, String)> {
    let mut events: Vec<Value> =
        sim.objects("v1", "Event").into_iter().filter(|e| e["involvedObject"]["name"] == name).collect();
    events.sort_by_key(|e| e["metadata"]["resourceVersion"].as_str().unwrap_or_default().parse::<u64>().unwrap_or(0));
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_statefulset_gets_pods_claims_revisions_endpoints_and_the_controllers_status() {
    let (sim, client) = start().await;
    let services = api(&client, "", "Service", "services");
    create(&services, json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}))
    .await;
    create(&sts(&client), statefulset("web", 2, "nginx:1.27", json!({}))).await;
    let set = rolled_out(&client, "web", 2).await;
    let revision = set["status"]["updateRevision"].as_str().unwrap().to_string();
    // stateful_set_control.go: the status fields the controller writes, omitempty as in Go.
    assert_eq!(
        set["status"],
        json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2,
               "currentRevision": revision, "updateRevision": revision, "collisionCount": 0, "availableReplicas": 2})
    );
    let crs = sim.objects("apps/v1", "ControllerRevision");
    assert_eq!(crs.len(), 1);
    assert_eq!(crs[0]["metadata"]["name"], revision.as_str());
    assert_eq!(crs[0]["revision"], 1);
    assert_eq!(crs[0]["data"]["spec"]["template"]["$patch"], "replace");
    assert!(revision.starts_with("web-") && revision.len() > 4);

    let pod = fetch(&pods(&client), "web-0").await.unwrap();
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["controller-revision-hash"], revision.as_str());
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "web-0");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "0");
    assert_eq!(pod["metadata"]["generateName"], "web-");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    assert_eq!(pod["spec"]["hostname"], "web-0");
    assert_eq!(pod["spec"]["subdomain"], "web");
    assert_eq!(pod["spec"]["nodeName"], "kube-sim-node");
    assert_eq!(pod["metadata"]["generation"], 1, "binding does not bump the generation");
    assert_eq!(
        pod["spec"]["volumes"][0],
        json!({"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}})
    );
    let status = &pod["status"];
    assert_eq!(status["phase"], "Running");
    let types: Vec<&str> =
        status["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
    assert!(status["conditions"].as_array().unwrap().iter().all(|c| c["status"] == "True"));
    assert_eq!(status["hostIP"], "172.18.0.2");
    assert!(status["podIP"].as_str().unwrap().starts_with("10.244.0."));
    assert_eq!(status["podIPs"][0]["ip"], status["podIP"]);
    assert_eq!(status["qosClass"], "BestEffort");
    let container = &status["containerStatuses"][0];
    assert_eq!(container["image"], "docker.io/library/nginx:1.27");
    assert!(container["imageID"].as_str().unwrap().starts_with("docker.io/library/nginx@sha256:"));
    assert!(container["containerID"].as_str().unwrap().starts_with("containerd://"));
    assert_eq!((container["ready"].as_bool(), container["started"].as_bool()), (Some(true), Some(true)));
    assert!(container["state"]["running"]["startedAt"].is_string());

    let claim =
        fetch(&api(&client, "", "PersistentVolumeClaim", "persistentvolumeclaims"), "data-web-1").await.unwrap();
    assert_eq!(claim["status"]["phase"], "Bound");
    assert_eq!(claim["metadata"]["labels"]["app"], "web");
    assert_eq!(claim["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
    assert_eq!(claim["spec"]["volumeName"], format!("pvc-{}", claim["metadata"]["uid"].as_str().unwrap()));

    // kubelet events in order; the second pod finds the image present.
    let image = "\"nginx:1.27\"";
    assert_eq!(
        events_of(&sim, "web-0"),
        [
            ("Normal".into(), "Scheduled".into(), "Successfully assigned default/web-0 to kube-sim-node".into()),
            ("Normal".into(), "Pulling".into(), format!("Pulling image {image}")),
            ("Normal".into(), "Pulled".into(), events_of(&sim, "web-0")[2].2.clone()),
            ("Normal".into(), "Created".into(), "Created container: main".into()),
            ("Normal".into(), "Started".into(), "Started container main".into()),
        ]
    );
    assert!(events_of(&sim, "web-0")[2].2.starts_with(&format!("Successfully pulled image {image} in ")));
    assert_eq!(events_of(&sim, "web-1")[1].2, format!("Container image {image} already present on machine"));
    let set_events: Vec<String> = events_of(&sim, "web").into_iter().map(|e| e.2).collect();
    assert_eq!(
        set_events,
        [
            "create Claim data-web-0 Pod web-0 in StatefulSet web success",
            "create Pod web-0 in StatefulSet web successful",
            "create Claim data-web-1 Pod web-1 in StatefulSet web success",
            "create Pod web-1 in StatefulSet web successful",
        ]
    );

    // Endpoints and EndpointSlice over the ready pods, named ports resolved, hostnames set.
    let endpoints = eventually(WAIT, || async {
        let e = fetch(&api(&client, "", "Endpoints", "endpoints"), "web").await?;
        (e["subsets"][0]["addresses"].as_array().map(Vec::len) == Some(2)).then_some(e)
    })
    .await;
    assert_eq!(endpoints["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"], "endpoint-controller");
    assert_eq!(endpoints["metadata"]["labels"]["service.kubernetes.io/headless"], "");
    assert_eq!(endpoints["subsets"][0]["ports"], json!([{"name": "http", "port": 8080, "protocol": "TCP"}]));
    let hostnames: Vec<&str> = endpoints["subsets"][0]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hostnames, ["web-0", "web-1"]);
    let slices = sim.objects("discovery.k8s.io/v1", "EndpointSlice");
    let slice = slices.iter().find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "web").unwrap();
    assert_eq!(
        slice["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"],
        "endpointslice-controller.k8s.io"
    );
    assert!(slice["metadata"]["name"].as_str().unwrap().starts_with("web-"));
    assert_eq!(slice["addressType"], "IPv4");
    assert_eq!(slice["endpoints"].as_array().unwrap().len(), 2);
    assert_eq!(slice["endpoints"][0]["conditions"], json!({"ready": true, "serving": true, "terminating": false}));
    assert_eq!(slice["ports"], json!([{"name": "http", "port": 8080, "protocol": "TCP"}]));
    sim.stop().await;
}

/// An unnamed Service port: the Endpoints port has no name (core/v1 `EndpointPort.Name` is a plain
/// string, omitempty), the EndpointSlice port has `name: ""` (kubernetes v1.33
/// staging/src/k8s.io/endpointslice/utils.go `getEndpointPorts` always sets the pointer), which
/// kube-proxy needs to match the Service port (pkg/proxy/endpointslicecache.go).
#[tokio::test]
async fn an_unnamed_service_port_is_named_empty_in_endpoint_slices_only() {
    let (sim, client) = start().await;
    let services = api(&client, "", "Service", "services");
    create(
        &services,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain"},
        "spec": {"selector": {"app": "plain"}, "ports": [{"port": 80, "targetPort": 8080}]}}),
    )
    .await;
    create(&sts(&client), statefulset("plain", 1, "nginx:1.27", json!({}))).await;
    rolled_out(&client, "plain", 1).await;
    let endpoints = eventually(WAIT, || async {
        let e = fetch(&api(&client, "", "Endpoints", "endpoints"), "plain").await?;
        e["subsets"][0]["addresses"].as_array().is_some().then_some(e)
    })
    .await;
    assert_eq!(endpoints["subsets"][0]["ports"], json!([{"port": 8080, "protocol": "TCP"}]));
    let slice = eventually(WAIT, || async {
        sim.objects("discovery.k8s.io/v1", "EndpointSlice")
            .into_iter()
            .find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "plain" && s["ports"].is_array())
    })
    .await;
    assert_eq!(slice["ports"], json!([{"name": "", "port": 8080, "protocol": "TCP"}]));
    sim.stop().await;
}

#[tokio::test]
async fn a_template_change_rolls_pods_from_the_highest_ordinal_down() {
    let (sim, client) = start().await;
    create(&sts(&client), statefulset("db", 3, "postgres:16", json!({}))).await;
    let before = rolled_out(&client, "db", 3).await;
    let old_revision = before["status"]["currentRevision"].as_str().unwrap().to_string();
    let uids = |sim: &Simulator| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = sim
            .objects("v1", "Pod")
            .iter()
            .map(|p| (p["metadata"]["name"].as_str().unwrap().into(), p["metadata"]["uid"].as_str().unwrap().into()))
            .collect();
        v.sort();
        v
    };
    let original = uids(&sim);
    sim.clear_requests();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": "postgres:17"}]}}}});
    sts(&client).patch("db", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    let after = rolled_out(&client, "db", 3).await;
    let new_revision = after["status"]["updateRevision"].as_str().unwrap().to_string();
    assert_ne!(new_revision, old_revision);
    assert_eq!(after["status"]["observedGeneration"], 2);
    // Every pod was replaced, under the same name, at the new revision.
    let replaced = uids(&sim);
    for ((name, old), (name2, new)) in original.iter().zip(&replaced) {
        assert_eq!(name, name2);
        assert_ne!(old, new, "{name} was replaced");
    }
    for p in sim.objects("v1", "Pod") {
        assert_eq!(p["metadata"]["labels"]["controller-revision-hash"], new_revision.as_str());
        assert_eq!(p["spec"]["containers"][0]["image"], "postgres:17");
    }
    // The controller deleted db-2, then db-1, then db-0 (in order, one at a time).
    let deletions: Vec<String> =
        events_of(&sim, "db").into_iter().filter(|e| e.1 == "SuccessfulDelete").map(|e| e.2).collect();
    assert_eq!(
        deletions,
        [
            "delete Pod db-2 in StatefulSet db successful",
            "delete Pod db-1 in StatefulSet db successful",
            "delete Pod db-0 in StatefulSet db successful"
        ]
    );
    let revisions: Vec<i64> =
        sim.objects("apps/v1", "ControllerRevision").iter().map(|r| r["revision"].as_i64().unwrap()).collect();
    assert_eq!(revisions.len(), 2);
    assert!(revisions.contains(&2));
    sim.stop().await;
}

#[tokio::test]
async fn scaling_down_removes_the_highest_ordinals_and_claims_per_the_retention_policy() {
    let (sim, client) = start().await;
    let policy = json!({"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Delete", "whenDeleted": "Retain"}});
    create(&sts(&client), statefulset("kept", 3, "redis:7", policy)).await;
    rolled_out(&client, "kept", 3).await;
    let scale = json!({"spec": {"replicas": 1}});
    sts(&client).patch_scale("kept", &PatchParams::default(), &Patch::Merge(scale)).await.unwrap();
    rolled_out(&client, "kept", 1).await;
    let claims: Vec<String> = eventually(WAIT, || async {
        let names: Vec<String> = sim
            .objects("v1", "PersistentVolumeClaim")
            .iter()
            .map(|c| c["metadata"]["name"].as_str().unwrap().to_string())
            .collect();
        (names.len() == 1).then_some(names)
    })
    .await;
    assert_eq!(claims, ["data-kept-0"], "whenScaled: Delete removes the condemned pods' claims");
    let names: Vec<String> =
        sim.objects("v1", "Pod").iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["kept-0"]);
    // whenDeleted: Retain: deleting the set leaves the remaining claim.
    sts(&client).delete("kept", &DeleteParams::default()).await.unwrap();
    eventually(WAIT, || async { sim.objects("v1", "Pod").is_empty().then_some(()) }).await;
    assert_eq!(sim.objects("v1", "PersistentVolumeClaim").len(), 1);
    sim.stop().await;
}

#[tokio::test]
async fn a_deployment_rolls_replica_sets_and_reports_its_conditions() {
    let (sim, client) = start().await;
    let deployments = api(&client, "apps", "Deployment", "deployments");
    let body = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
                 "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "nginx:1.27"}]}}}
    });
    create(&deployments, body).await;
    let complete = |image: &'static str| {
        let deployments = deployments.clone();
        let sim = &sim;
        async move {
            eventually(WAIT, || async {
                let d = fetch(&deployments, "api").await?;
                let st = &d["status"];
                let pods_ok = sim.objects("v1", "Pod").iter().all(|p| {
                    p["spec"]["containers"][0]["image"] == image && p["metadata"]["deletionTimestamp"].is_null()
                });
                (st["observedGeneration"] == d["metadata"]["generation"]
                    && st["updatedReplicas"] == 3
                    && st["availableReplicas"] == 3
                    && st["replicas"] == 3
                    && pods_ok
                    && sim.objects("v1", "Pod").len() == 3)
                    .then_some(d)
            })
            .await
        }
    };
    let d = complete("nginx:1.27").await;
    let conditions: Vec<(String, String, String)> = d["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().into(),
                c["reason"].as_str().unwrap().into(),
                c["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    let rs_name = sim.objects("apps/v1", "ReplicaSet")[0]["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(
        conditions,
        [
            ("Available".into(), "MinimumReplicasAvailable".into(), "Deployment has minimum availability.".into()),
            (
                "Progressing".into(),
                "NewReplicaSetAvailable".into(),
                format!("ReplicaSet \"{rs_name}\" has successfully progressed.")
            ),
        ]
    );
    let rs = &sim.objects("apps/v1", "ReplicaSet")[0];
    let hash = rs["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
    assert_eq!(rs_name, format!("api-{hash}"));
    assert_eq!(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
    assert_eq!(rs["spec"]["selector"]["matchLabels"]["pod-template-hash"], hash);
    assert_eq!(
        rs["status"],
        json!({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 1})
    );
    for p in sim.objects("v1", "Pod") {
        assert!(p["metadata"]["name"].as_str().unwrap().starts_with(&format!("{rs_name}-")));
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash);
    }
    assert_eq!(events_of(&sim, "api")[0].2, format!("Scaled up replica set {rs_name} from 0 to 3"));
    assert!(events_of(&sim, &rs_name).iter().all(|e| e.1 == "SuccessfulCreate" && e.2.starts_with("Created pod: ")));

    // A new template: a second ReplicaSet takes over, the first is scaled to zero and kept.
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "nginx:1.28"}]}}}});
    deployments.patch("api", &PatchParams::default(), &Patch::Strategic(patch)).await.unwrap();
    complete("nginx:1.28").await;
    let sets = sim.objects("apps/v1", "ReplicaSet");
    assert_eq!(sets.len(), 2);
    let old = sets.iter().find(|r| r["metadata"]["name"] == rs_name.as_str()).unwrap();
    assert_eq!(old["spec"]["replicas"], 0);
    let new = sets.iter().find(|r| r["metadata"]["name"] != rs_name.as_str()).unwrap();
    assert_eq!(new["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");

    // A replaced pod of a ReplicaSet comes back under a new name.
    let victim = sim.objects("v1", "Pod")[0]["metadata"]["name"].as_str().unwrap().to_string();
    sim.replace_pod("default", &victim).unwrap();
    let names = eventually(WAIT, || async {
        let pods = sim.objects("v1", "Pod");
        let names: Vec<String> = pods.iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
        (names.len() == 3 && !names.contains(&victim) && pods.iter().all(|p| p["status"]["phase"] == "Running"))
            .then_some(names)
    })
    .await;
    assert!(!names.contains(&victim));
    sim.stop().await;
}

#[tokio::test]
async fn held_pods_report_what_the_kubelet_and_scheduler_report() {
    let (sim, client) = start().await;
    sim.hold_pods(PodMatch::name("default", "pending-0"), PodHold::Unschedulable);
    sim.hold_pods(PodMatch::name("default", "creating-0"), PodHold::ContainerCreating);
    sim.hold_pods(PodMatch::name("default", "pull-0"), PodHold::ImagePullBackOff);
    sim.hold_pods(PodMatch::name("default", "crash-0"), PodHold::CrashLoopBackOff { restarts: 3 });
    sim.hold_pods(PodMatch::labels("default", "app=unready").unwrap(), PodHold::NotReady);
    for name in ["pending", "creating", "pull", "crash"] {
        create(&sts(&client), statefulset(name, 1, "nginx:1.27", json!({}))).await;
    }
    let mut unready = statefulset("unready", 1, "nginx:1.27", json!({}));
    unready["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] =
        json!({"httpGet": {"path": "/healthz", "port": 8080}});
    create(&sts(&client), unready).await;
    let pod_where = |name: &'static str, check: fn(&Value) -> bool| {
        let pods = pods(&client);
        async move { eventually(WAIT, || async { fetch(&pods, name).await.filter(check) }).await }
    };

    let pending = pod_where("pending-0", |p| p["status"]["conditions"][0]["reason"] == "Unschedulable").await;
    let message = "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.";
    assert_eq!(pending["status"]["phase"], "Pending");
    assert_eq!(pending["status"]["conditions"][0]["type"], "PodScheduled");
    assert_eq!(pending["status"]["conditions"][0]["message"], message);
    assert!(pending["spec"]["nodeName"].is_null());
    assert_eq!(events_of(&sim, "pending-0"), [("Warning".into(), "FailedScheduling".into(), message.into())]);
    let scheduling = sim.objects("v1", "Event").into_iter().find(|e| e["reason"] == "FailedScheduling").unwrap();
    assert_eq!(scheduling["reportingComponent"], "default-scheduler");
    assert_eq!(scheduling["action"], "Scheduling");

    let creating = pod_where("creating-0", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    })
    .await;
    assert_eq!(creating["status"]["phase"], "Pending");
    assert!(creating["status"]["podIP"].is_null());
    assert_eq!(
        creating["status"]["conditions"][0],
        json!({"type": "PodReadyToStartContainers", "status": "False", "lastTransitionTime": creating["status"]["conditions"][0]["lastTransitionTime"]})
    );

    let pull = pod_where("pull-0", |p| {
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    })
    .await;
    let not_found = "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/library/nginx:1.27\": failed to resolve reference \"docker.io/library/nginx:1.27\": docker.io/library/nginx:1.27: not found";
    assert_eq!(
        pull["status"]["containerStatuses"][0]["state"]["waiting"]["message"],
        format!("Back-off pulling image \"nginx:1.27\": ErrImagePull: {not_found}")
    );
    assert_eq!(pull["status"]["phase"], "Pending");
    let pull_events: Vec<(String, String, String)> = events_of(&sim, "pull-0").into_iter().skip(1).collect();
    assert_eq!(
        pull_events,
        [
            ("Normal".into(), "Pulling".into(), "Pulling image \"nginx:1.27\"".into()),
            ("Warning".into(), "Failed".into(), format!("Failed to pull image \"nginx:1.27\": {not_found}")),
            ("Warning".into(), "Failed".into(), "Error: ErrImagePull".into()),
            ("Normal".into(), "BackOff".into(), "Back-off pulling image \"nginx:1.27\"".into()),
            ("Warning".into(), "Failed".into(), "Error: ImagePullBackOff".into()),
        ]
    );

    let crash = pod_where("crash-0", |p| p["status"]["containerStatuses"][0]["restartCount"] == 3).await;
    let c = &crash["status"]["containerStatuses"][0];
    assert_eq!(crash["status"]["phase"], "Running");
    assert_eq!(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
    let uid = crash["metadata"]["uid"].as_str().unwrap();
    assert_eq!(
        c["state"]["waiting"]["message"],
        format!("back-off 40s restarting failed container=main pod=crash-0_default({uid})")
    );
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(c["lastState"]["terminated"]["reason"], "Error");
    let backoff = sim
        .objects("v1", "Event")
        .into_iter()
        .find(|e| e["involvedObject"]["name"] == "crash-0" && e["reason"] == "BackOff")
        .unwrap();
    assert_eq!(backoff["type"], "Warning");
    assert_eq!(backoff["message"], format!("Back-off restarting failed container main in pod crash-0_default({uid})"));
    assert_eq!(backoff["count"], 3);
    assert_eq!(backoff["involvedObject"]["fieldPath"], "spec.containers{main}");

    let unready = pod_where("unready-0", |p| p["status"]["phase"] == "Running").await;
    assert_eq!(unready["status"]["conditions"][2]["type"], "Ready");
    assert_eq!(unready["status"]["conditions"][2]["status"], "False");
    assert_eq!(unready["status"]["conditions"][2]["reason"], "ContainersNotReady");
    assert_eq!(unready["status"]["conditions"][2]["message"], "containers with unready status: [main]");
    let unhealthy =
        eventually(WAIT, || async { events_of(&sim, "unready-0").into_iter().find(|e| e.1 == "Unhealthy") }).await;
    assert_eq!(
        unhealthy,
        ("Warning".into(), "Unhealthy".into(), "Readiness probe failed: HTTP probe failed with statuscode: 503".into())
    );
    let set = fetch(&sts(&client), "unready").await.unwrap();
    assert_eq!(set["status"]["replicas"], 1);
    assert!(set["status"]["readyReplicas"].is_null(), "readyReplicas is omitted when zero");

    // Released, the pods carry on to Ready.
    sim.release_pods(&PodMatch::labels("default", "app=unready").unwrap());
    sim.release_pods(&PodMatch::name("default", "pending-0"));
    rolled_out(&client, "unready", 1).await;
    rolled_out(&client, "pending", 1).await;
    sim.stop().await;
}

#[tokio::test]
async fn delays_graceful_deletion_and_load_balancer_status() {
    let config = SimConfig {
        workloads: Workloads {
            enabled: true,
            start_delay: Duration::from_millis(300),
            ready_delay: Duration::from_millis(300),
            termination_delay: Duration::from_millis(300),
            ..Default::default()
        },
        ..Default::default()
    };
    let sim = Simulator::start_with(config).await.unwrap();
    let client = sim.client().await.unwrap();
    let pods = pods(&client);
    create(
        &pods,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"},
        "spec": {"terminationGracePeriodSeconds": 5, "containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .await;
    let creating = eventually(WAIT, || async {
        fetch(&pods, "solo")
            .await
            .filter(|p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating")
    })
    .await;
    assert_eq!(creating["status"]["phase"], "Pending");
    let running =
        eventually(WAIT, || async { fetch(&pods, "solo").await.filter(|p| p["status"]["phase"] == "Running") }).await;
    assert_eq!(running["status"]["conditions"][2]["status"], "False", "not Ready before the readiness delay");
    eventually(WAIT, || async {
        fetch(&pods, "solo").await.filter(|p| p["status"]["conditions"][2]["status"] == "True")
    })
    .await;
    pods.delete("solo", &DeleteParams::default()).await.unwrap();
    let terminating = fetch(&pods, "solo").await.expect("still there while the kubelet stops it");
    assert_eq!(terminating["metadata"]["deletionGracePeriodSeconds"], 5);
    eventually(WAIT, || async { fetch(&pods, "solo").await.is_none().then_some(()) }).await;
    assert!(events_of(&sim, "solo").contains(&("Normal".into(), "Killing".into(), "Stopping container c".into())));

    let services = api(&client, "", "Service", "services");
    create(
        &services,
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 443}]}}),
    )
    .await;
    sim.set_load_balancer_ingress("default", "lb", &["203.0.113.10", "lb.example.com"]).unwrap();
    let lb = fetch(&services, "lb").await.unwrap();
    assert_eq!(
        lb["status"]["loadBalancer"]["ingress"],
        json!([{"ip": "203.0.113.10", "ipMode": "VIP"}, {"hostname": "lb.example.com"}])
    );
    sim.stop().await;
}
