//! `SimConfig::control_plane_only`: what k3s runs inside a vcluster. The
//! kube-controller-manager controllers act (Deployments, ReplicaSets, StatefulSets,
//! Endpoints, PVC protection), but no scheduler, kubelet or Node: pods stay Pending until a
//! client binds them (`pods/binding`), their status is what a client writes (`pods/status`),
//! and a bound pod's graceful deletion waits for a client's final delete. Also TokenRequest
//! tokens, which a syncer uses, authenticate as their ServiceAccount.

mod common;

use std::time::Duration;

use common::eventually;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Endpoints, Node, PersistentVolumeClaim, Pod, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube_sim::{SimConfig, Simulator};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(10);

async fn control_plane() -> Simulator {
    Simulator::start_with(SimConfig { control_plane_only: true, ..Default::default() }).await.unwrap()
}

fn decode<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// POST pods/<name>/binding; the raw answer (status code, body).
async fn bind(sim: &Simulator, name: &str, binding: Value) -> (u16, Value) {
    let url = format!("/api/v1/namespaces/default/pods/{name}/binding");
    let client = sim.client().await.unwrap();
    let request = hyper::Request::post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&binding).unwrap())
        .unwrap();
    // `request_text` keeps error bodies (the kube-apiserver Status) for the assertions.
    match client.request_text(request).await {
        Ok(text) => (201, serde_json::from_str(&text).unwrap()),
        Err(kube::Error::Api(status)) => (status.code, json!({ "message": status.message, "reason": status.reason })),
        Err(e) => panic!("binding request failed: {e}"),
    }
}

#[tokio::test]
async fn controllers_run_but_pods_wait_for_a_client_to_bind_them_and_write_their_status() {
    let sim = control_plane().await;
    let client = sim.client().await.unwrap();
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    sim.seed_yaml(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: api, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: default}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"#,
    )
    .unwrap();

    // The Deployment and ReplicaSet controllers create the pods; nothing schedules them.
    let api_pods = eventually(WAIT, || async {
        let listed = pods.list(&ListParams::default().labels("app=api")).await.unwrap().items;
        (listed.len() == 2).then_some(listed)
    })
    .await;
    for pod in &api_pods {
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.node_name, None, "no scheduler binds the pod");
        let status = pod.status.as_ref().unwrap();
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        assert_eq!(status.conditions, None, "no PodScheduled condition without a scheduler");
    }
    let nodes: Api<Node> = Api::all(client.clone());
    assert!(nodes.list(&ListParams::default()).await.unwrap().items.is_empty(), "no Node objects");

    // OrderedReady: web-0 only, until it is Running and Ready.
    let sets: Api<StatefulSet> = Api::default_namespaced(client.clone());
    eventually(WAIT, || async {
        let sts = sets.get("web").await.unwrap();
        (sts.status.map(|s| s.replicas) == Some(1)).then_some(())
    })
    .await;
    assert!(pods.get_opt("web-1").await.unwrap().is_none(), "web-1 waits for web-0");

    // pods/binding as kube-apiserver answers it.
    let target = json!({ "kind": "Node", "name": "host-node-1" });
    let binding = json!({ "apiVersion": "v1", "kind": "Binding", "metadata": { "name": "web-0", "annotations": { "bound-by": "syncer" } }, "target": target });
    let (code, body) = bind(&sim, "web-0", binding.clone()).await;
    assert_eq!((code, body["status"].as_str()), (201, Some("Success")), "{body}");
    assert_eq!(body["code"], 201);
    let web0 = pods.get("web-0").await.unwrap();
    assert_eq!(web0.spec.as_ref().unwrap().node_name.as_deref(), Some("host-node-1"));
    assert_eq!(web0.metadata.annotations.as_ref().unwrap()["bound-by"], "syncer");
    let status = web0.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Pending"), "no kubelet runs it");
    let scheduled = &status.conditions.as_ref().unwrap()[0];
    assert_eq!((scheduled.type_.as_str(), scheduled.status.as_str()), ("PodScheduled", "True"));
    let (code, body) = bind(&sim, "web-0", binding).await;
    assert_eq!(code, 409);
    assert_eq!(
        body["message"],
        "Operation cannot be fulfilled on pods/binding \"web-0\": pod web-0 is already assigned to node \"host-node-1\""
    );
    let (code, body) = bind(&sim, "web-1", json!({ "metadata": { "name": "web-0" }, "target": target })).await;
    assert_eq!((code, body["message"].as_str()), (400, Some("name in URL does not match name in Binding object")));
    let api0 = api_pods[0].metadata.name.clone().unwrap();
    let (code, body) = bind(&sim, &api0, json!({ "metadata": { "name": api0 }, "target": { "kind": "Pod" } })).await;
    assert_eq!(code, 500, "ValidatePodBinding's aggregate is not an API status: {body}");
    assert_eq!(
        body["message"],
        "[target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"<empty>\", target.name: Required value]"
    );

    // pods/status: what the syncer writes back is what the pod says.
    let written = json!({ "status": {
        "phase": "Running",
        "podIP": "10.244.7.9",
        "podIPs": [{ "ip": "10.244.7.9" }],
        "conditions": [
            { "type": "Ready", "status": "True" },
            { "type": "ContainersReady", "status": "True" },
            { "type": "PodScheduled", "status": "True" }
        ]
    }});
    pods.patch_status("web-0", &PatchParams::default(), &Patch::Merge(&written)).await.unwrap();
    let web0 = pods.get("web-0").await.unwrap();
    assert_eq!(web0.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    assert_eq!(web0.status.as_ref().unwrap().pod_ip.as_deref(), Some("10.244.7.9"));
    // PUT of the status too.
    let mut replaced = web0.clone();
    replaced.status.as_mut().unwrap().message = Some("synced from the host".into());
    let replaced = pods.replace_status("web-0", &PostParams::default(), &replaced).await;
    assert_eq!(replaced.unwrap().status.unwrap().message.as_deref(), Some("synced from the host"));

    // The StatefulSet goes on to web-1; Endpoints follow the written status.
    eventually(WAIT, || async { pods.get_opt("web-1").await.unwrap() }).await;
    let endpoints: Api<Endpoints> = Api::default_namespaced(client.clone());
    eventually(WAIT, || async {
        let ep = endpoints.get_opt("web").await.unwrap()?;
        let ready: Vec<String> =
            ep.subsets?.iter().flat_map(|s| s.addresses.clone().unwrap_or_default()).map(|a| a.ip).collect();
        (ready == ["10.244.7.9"]).then_some(())
    })
    .await;
    let web0 = pods.get("web-0").await.unwrap();
    assert_eq!(web0.status.as_ref().unwrap().phase.as_deref(), Some("Running"), "nobody rewrites it");

    // A pod created with a nodeName stays as written; its graceful deletion waits for the
    // final delete (no kubelet).
    let pinned: Pod = decode(json!({
        "metadata": { "name": "pinned" },
        "spec": { "nodeName": "host-node-2", "containers": [{ "name": "c", "image": "busybox" }] }
    }));
    pods.create(&PostParams::default(), &pinned).await.unwrap();
    let pinned = pods.get("pinned").await.unwrap();
    assert_eq!(pinned.spec.as_ref().unwrap().node_name.as_deref(), Some("host-node-2"));
    assert_eq!(pinned.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
    pods.delete("pinned", &DeleteParams::default()).await.unwrap();
    let terminating = pods.get("pinned").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(30));
    pods.delete("pinned", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    assert!(pods.get_opt("pinned").await.unwrap().is_none());

    // Claims get the protection finalizer but stay Pending (no persistentvolume-binder).
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(client.clone());
    let claim = eventually(WAIT, || async {
        let c = claims.get("data").await.unwrap();
        c.metadata.finalizers.as_ref().is_some_and(|f| f.contains(&"kubernetes.io/pvc-protection".into())).then_some(c)
    })
    .await;
    assert_eq!(claim.status.unwrap().phase.as_deref(), Some("Pending"));
    assert_eq!(claim.spec.unwrap().volume_name, None);

    // The garbage collector still runs: the Deployment's ReplicaSet and pods go with it.
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    deployments.delete("api", &DeleteParams::foreground()).await.unwrap();
    eventually(WAIT, || async {
        pods.list(&ListParams::default().labels("app=api")).await.unwrap().items.is_empty().then_some(())
    })
    .await;
    sim.stop().await;
}

#[tokio::test]
async fn token_request_tokens_authenticate_as_their_service_account() {
    let sim = control_plane().await;
    let client = sim.client().await.unwrap();
    let accounts: Api<ServiceAccount> = Api::default_namespaced(client.clone());
    accounts.create(&PostParams::default(), &decode(json!({ "metadata": { "name": "syncer" } }))).await.unwrap();
    let request = TokenRequest {
        spec: TokenRequestSpec { audiences: vec![], expiration_seconds: Some(3600), ..Default::default() },
        ..Default::default()
    };
    let minted = accounts.create_token_request("syncer", &PostParams::default(), &request).await.unwrap();
    let token = minted.status.unwrap().token;

    let mut config = kube::Config::new(sim.url().parse().unwrap());
    config.auth_info.token = Some(token.into());
    let as_syncer = kube::Client::try_from(config).unwrap();
    let reviews: Api<SelfSubjectReview> = Api::all(as_syncer.clone());
    let review = reviews.create(&PostParams::default(), &decode(json!({}))).await.unwrap();
    let user = review.status.unwrap().user_info.unwrap();
    assert_eq!(user.username.as_deref(), Some("system:serviceaccount:default:syncer"));
    assert_eq!(
        user.groups.unwrap(),
        ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]
    );
    let sa = accounts.get("syncer").await.unwrap();
    assert_eq!(user.uid, sa.metadata.uid);
    // The token works for ordinary requests, and the request log names the account.
    Api::<Pod>::default_namespaced(as_syncer.clone()).list(&ListParams::default()).await.unwrap();
    let last = sim.requests().pop().unwrap();
    assert_eq!(last.user, "system:serviceaccount:default:syncer");
    // It dies with its ServiceAccount.
    accounts.delete("syncer", &DeleteParams::default()).await.unwrap();
    let refused = Api::<Pod>::default_namespaced(as_syncer).list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(refused, kube::Error::Api(ref s) if s.code == 401), "{refused}");
    sim.stop().await;
}
