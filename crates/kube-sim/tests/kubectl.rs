//! Conformance through kubectl 1.33 (required on the PATH; every test checks the client minor
//! and uses its own cache directory). The same code runs against the real control plane
//! (`kubectl_real`) or the cluster of VCLUSTER_E2E_KUBECONFIG (see `common`).

mod common;

use std::process::Stdio;

use std::time::Duration;
use tokio::io::AsyncBufReadExt as _;

use tokio::time::Instant;

use common::{Env, Kubectl, eventually};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

fn manifest(ns: &str, replicas: u32, with_b: bool, image: &str) -> String {
    let b = if with_b { "\n  b: \"2\"" } else { "" };
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: {ns}
data:
  a: "1"{b}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: {ns}
spec:
  serviceName: web
  replicas: {replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 8080
          name: http
"#
    )
}

/// resourceVersion, generation and managedFields of the manifest's objects. Where controllers
/// run, the StatefulSet controller writes the set's status at any time: its resourceVersion and
/// the entries of `status` writes are left out (generation and the other entries still show
/// any write of the spec).
async fn fingerprint(env: &Env) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!("{}/cfg", env.ns_path("configmaps")),
        format!("{}/web", env.ns_path("services")),
        format!("{}/web", env.apps_path("statefulsets")),
    ] {
        let (code, o) = env.request(Method::GET, &path, None).await;
        assert_eq!(code, StatusCode::OK, "{path}: {o}");
        let controlled = env.controllers_run() && o["kind"] == "StatefulSet";
        let managed: Vec<&Value> = o["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| !controlled || m["subresource"] != "status")
            .collect();
        let rv = if controlled { Value::Null } else { o["metadata"]["resourceVersion"].clone() };
        out.push(json!([rv, o["metadata"]["generation"], managed]));
    }
    out
}

#[tokio::test]
async fn get_prints_like_a_cluster() {
    let env = Env::for_kubectl("kget").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    k.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest(&env.ns, 2, true, "nginx:1.27"))).await;
    let out = k.ok(&["get", "cm", "cfg", "-n", &env.ns]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "DATA", "AGE"]);
    assert!(out.lines().nth(1).unwrap().starts_with("cfg "), "{out}");
    let out = k.ok(&["get", "sts,svc,cm", "-n", &env.ns]).await;
    // READY is ready/desired: 0/2 without controllers, on its way to 2/2 with them.
    let row = out.lines().find(|l| l.starts_with("statefulset.apps/web ")).unwrap_or_else(|| panic!("{out}"));
    let ready = row.split_whitespace().nth(1).unwrap();
    assert!(["0/2", "1/2", "2/2"].contains(&ready), "{out}");
    if !env.controllers_run() {
        assert_eq!(ready, "0/2");
    }
    assert!(out.contains("service/web") && out.contains("ClusterIP") && out.contains("80/TCP"), "{out}");
    assert!(out.contains("configmap/cfg"), "{out}");
    let out = k.ok(&["get", "sts", "web", "-n", &env.ns, "-o", "wide"]).await;
    assert!(out.lines().next().unwrap().contains("CONTAINERS") && out.contains("nginx:1.27"), "{out}");
    let yaml = k.ok(&["get", "sts", "web", "-n", &env.ns, "-o", "yaml"]).await;
    assert!(yaml.contains("podManagementPolicy: OrderedReady"), "{yaml}");
    assert!(yaml.contains("kind: StatefulSet") && yaml.contains("apiVersion: apps/v1"));
    let out = k.ok(&["api-resources"]).await;
    let sts = out.lines().find(|l| l.starts_with("statefulsets ")).expect("statefulsets listed");
    assert_eq!(
        sts.split_whitespace().collect::<Vec<_>>(),
        vec!["statefulsets", "sts", "apps/v1", "true", "StatefulSet"]
    );
    let out = k.ok(&["get", "ns", "kube-system"]).await;
    assert!(out.contains("Active"));
    let out = k.ok(&["explain", "statefulset.spec.updateStrategy"]).await;
    assert!(out.contains("RollingUpdateStatefulSetStrategy"), "{out}");
    env.cleanup().await;
}

#[tokio::test]
async fn get_servicecidrs_shows_the_default_range() {
    let env = Env::for_kubectl("kcidr").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    let out = k.ok(&["get", "servicecidrs"]).await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, vec!["NAME", "CIDRS", "AGE"], "{out}");
    let row = out.lines().find(|l| l.starts_with("kubernetes ")).expect("the default ServiceCIDR");
    if let Some(cidr) = env.service_cidr() {
        assert_eq!(row.split_whitespace().nth(1), Some(cidr), "{out}");
    }
    let out = k.ok(&["api-resources", "--api-group", "networking.k8s.io"]).await;
    let line = out.lines().find(|l| l.starts_with("servicecidrs ")).expect("servicecidrs listed");
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["servicecidrs", "networking.k8s.io/v1", "false", "ServiceCIDR"]
    );
    env.cleanup().await;
}

#[tokio::test]
async fn get_watch_streams_changes() {
    let env = Env::for_kubectl("kwatch").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    k.ok_with_stdin(
        &["create", "-f", "-"],
        Some(&format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n  namespace: {}\n", env.ns)),
    )
    .await;
    let mut child = tokio::process::Command::new("kubectl")
        .args(["get", "cm", "-n", &env.ns, "-w", "--cache-dir"])
        .arg(k.cache_dir())
        .env("KUBECONFIG", env.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl on the PATH");
    let mut reader = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines: Vec<String> = Vec::new();
    let mut created = false;
    while !lines.iter().any(|l| l.starts_with("second ")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = tokio::time::timeout(left, reader.next_line()).await;
        let Ok(Ok(Some(line))) = line else { panic!("kubectl get -w did not print the new ConfigMap: {lines:?}") };
        lines.push(line);
        if !created && lines.iter().any(|l| l.starts_with("first ")) {
            let (code, _) = env
                .request(
                    Method::POST,
                    &env.ns_path("configmaps"),
                    Some(json!({"metadata": {"name": "second"}, "data": {"x": "1"}})),
                )
                .await;
            assert_eq!(code, StatusCode::CREATED);
            created = true;
        }
    }
    let _ = child.kill().await;
    assert!(lines[0].starts_with("NAME"), "{lines:?}");
    env.cleanup().await;
}

#[tokio::test]
async fn server_side_apply_is_idempotent_prunes_and_detects_conflicts() {
    let env = Env::for_kubectl("kssa").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    let out =
        k.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest(&env.ns, 2, true, "nginx:1.27"))).await;
    assert!(out.contains("statefulset.apps/web serverside-applied"), "{out}");
    let before = fingerprint(&env).await;

    // Second apply: nothing changes and a watch sees no event.
    let (_, list) = env.request(Method::GET, &env.ns_path("configmaps"), None).await;
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let watch_path = format!("{}?watch=true&resourceVersion={rv}&timeoutSeconds=3", env.ns_path("configmaps"));
    let client = env.client.clone();
    let watch = tokio::spawn(async move {
        use http_body_util::BodyExt as _;
        let req = hyper::Request::get(watch_path).body(kube::client::Body::empty()).unwrap();
        let resp = client.send(req).await.unwrap();
        resp.into_body().collect().await.unwrap().to_bytes()
    });
    k.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest(&env.ns, 2, true, "nginx:1.27"))).await;
    assert_eq!(
        fingerprint(&env).await,
        before,
        "a repeated apply changed resourceVersion, generation or managedFields"
    );
    let events = watch.await.unwrap();
    assert!(
        String::from_utf8_lossy(&events).trim().is_empty(),
        "watch saw events: {}",
        String::from_utf8_lossy(&events)
    );

    // A field dropped from the applied configuration disappears.
    k.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest(&env.ns, 2, false, "nginx:1.27"))).await;
    let (_, cfg) = env.request(Method::GET, &format!("{}/cfg", env.ns_path("configmaps")), None).await;
    assert_eq!(cfg["data"], json!({"a": "1"}));

    // Another manager with a different value: a conflict, then --force-conflicts takes over.
    let out = k
        .run_with_stdin(
            &["apply", "--server-side", "--field-manager=other", "-f", "-"],
            Some(&manifest(&env.ns, 5, false, "nginx:1.27")),
        )
        .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"), "{err}");
    k.ok_with_stdin(
        &["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-"],
        Some(&manifest(&env.ns, 5, false, "nginx:1.27")),
    )
    .await;
    let (_, sts) = env.request(Method::GET, &format!("{}/web", env.apps_path("statefulsets")), None).await;
    assert_eq!(sts["spec"]["replicas"], 5);
    assert_eq!(sts["metadata"]["generation"], 2);
    let managers: Vec<&str> =
        sts["metadata"]["managedFields"].as_array().unwrap().iter().map(|m| m["manager"].as_str().unwrap()).collect();
    assert!(managers.contains(&"other") && managers.contains(&"kubectl"), "{managers:?}");
    env.cleanup().await;
}

#[tokio::test]
async fn create_dry_run_server_persists_nothing() {
    let env = Env::for_kubectl("kdry").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ghost\n  namespace: {}\ndata:\n  x: \"1\"\n",
        env.ns
    );
    let out = k.ok_with_stdin(&["create", "--dry-run=server", "-f", "-"], Some(&doc)).await;
    assert_eq!(out.trim(), "configmap/ghost created (server dry run)");
    assert_eq!(
        env.request(Method::GET, &format!("{}/ghost", env.ns_path("configmaps")), None).await.0,
        StatusCode::NOT_FOUND
    );
    let svc = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: probe\n  namespace: {}\nspec:\n  clusterIP: 4.4.4.4\n  ports:\n  - port: 80\n",
        env.ns
    );
    let out = k.run_with_stdin(&["create", "--dry-run=server", "-f", "-"], Some(&svc)).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("The range of valid IPs is "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if let Some(sim) = &env.sim {
        let kubectl_writes: Vec<_> =
            sim.requests().into_iter().filter(|r| r.user_agent.starts_with("kubectl") && r.is_write()).collect();
        assert!(kubectl_writes.is_empty(), "{kubectl_writes:?}");
    }
    env.cleanup().await;
}

#[tokio::test]
async fn delete_with_and_without_finalizers() {
    let env = Env::for_kubectl("kdel").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    let doc = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: {ns}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {ns}\n  finalizers:\n  - example.com/hold\n",
        ns = env.ns
    );
    k.ok_with_stdin(&["create", "-f", "-"], Some(&doc)).await;
    let out = k.ok(&["delete", "cm", "plain", "-n", &env.ns]).await;
    assert_eq!(out.trim(), "configmap \"plain\" deleted");
    assert_eq!(
        env.request(Method::GET, &format!("{}/plain", env.ns_path("configmaps")), None).await.0,
        StatusCode::NOT_FOUND
    );
    let out = k.ok(&["delete", "cm", "held", "-n", &env.ns, "--wait=false"]).await;
    assert_eq!(out.trim(), "configmap \"held\" deleted");
    let (code, held) = env.request(Method::GET, &format!("{}/held", env.ns_path("configmaps")), None).await;
    assert_eq!(code, StatusCode::OK);
    assert!(held["metadata"]["deletionTimestamp"].is_string());
    k.ok(&["patch", "cm", "held", "-n", &env.ns, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]).await;
    assert_eq!(
        env.request(Method::GET, &format!("{}/held", env.ns_path("configmaps")), None).await.0,
        StatusCode::NOT_FOUND
    );
    env.cleanup().await;
}

#[tokio::test]
async fn delete_namespace_cascades() {
    let env = Env::for_kubectl("kns").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    k.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest(&env.ns, 1, true, "nginx:1.27"))).await;
    let out = k.ok(&["delete", "namespace", &env.ns, "--timeout=60s"]).await;
    assert_eq!(out.trim(), format!("namespace \"{}\" deleted", env.ns));
    eventually(Duration::from_secs(60), || async {
        (env.request(Method::GET, &format!("/api/v1/namespaces/{}", env.ns), None).await.0 == StatusCode::NOT_FOUND)
            .then_some(())
    })
    .await;
    for path in [env.ns_path("configmaps"), env.ns_path("services"), env.apps_path("statefulsets")] {
        let (_, list) = env.request(Method::GET, &path, None).await;
        assert_eq!(list["items"], json!([]), "{path}");
    }
}

#[tokio::test]
async fn create_subcommands_send_protobuf() {
    // kubectl's typed clients POST application/vnd.kubernetes.protobuf bodies.
    let env = Env::for_kubectl("kproto").await;
    let k = Kubectl::new(env.kubeconfig()).await;
    let ns = env.ns.as_str();
    k.ok(&["create", "configmap", "c1", "-n", ns, "--from-literal=a=b"]).await;
    k.ok(&["create", "secret", "generic", "s1", "-n", ns, "--from-literal=a=b"]).await;
    k.ok(&["create", "deployment", "d1", "-n", ns, "--image=nginx:1.27", "--replicas=0"]).await;
    k.ok(&["create", "serviceaccount", "sa1", "-n", ns]).await;
    k.ok(&["create", "role", "r", "-n", ns, "--verb=get", "--resource=pods"]).await;
    k.ok(&["create", "rolebinding", "rb", "-n", ns, "--role=r", "--user=alice", &format!("--serviceaccount={ns}:sa1")])
        .await;
    k.ok(&["create", "service", "clusterip", "svc1", "-n", ns, "--tcp=80:8080"]).await;
    let token = k.ok(&["create", "token", "sa1", "-n", ns]).await;
    assert_eq!(token.trim().split('.').count(), 3, "{token}");
    let get = |path: String| {
        let env = &env;
        async move {
            let (code, o) = env.request(Method::GET, &path, None).await;
            assert_eq!(code, StatusCode::OK, "{path}: {o}");
            o
        }
    };
    assert_eq!(get(format!("{}/c1", env.ns_path("configmaps"))).await["data"], json!({"a": "b"}));
    let secret = get(format!("{}/s1", env.ns_path("secrets"))).await;
    assert_eq!(secret["data"], json!({"a": "Yg=="}));
    assert_eq!(secret["type"], "Opaque");
    let deploy = get(format!("{}/d1", env.apps_path("deployments"))).await;
    assert_eq!(deploy["spec"]["replicas"], 0);
    assert_eq!(deploy["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.27");
    assert_eq!(deploy["spec"]["selector"], json!({"matchLabels": {"app": "d1"}}));
    let rb = get(format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/rb")).await;
    assert_eq!(
        rb["subjects"],
        json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa1", "namespace": ns}])
    );
    let svc = get(format!("{}/svc1", env.ns_path("services"))).await;
    assert_eq!(svc["spec"]["ports"], json!([{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]));
    env.cleanup().await;
}
