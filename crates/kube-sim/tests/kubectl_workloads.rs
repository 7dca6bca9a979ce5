//! kubectl 1.33 against live workloads: `rollout status` completes for a StatefulSet applied
//! server-side and blocks while a pod is held not Ready; `get events` shows a held pod's
//! Warning events; `get pods` prints the kubelet's statuses.

mod common;

use common::Kubectl;
use kube_sim::{PodHold, PodMatch, SimConfig, Simulator, Workloads};

fn manifest(name: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: default
spec:
  clusterIP: None
  selector:
    app: {name}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {name}
  namespace: default
spec:
  serviceName: {name}
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: main
        image: ghcr.io/example/server:1.0
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet:
            path: /readyz
            port: http
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests:
          storage: 1Gi
"#
    )
}

async fn start() -> (Simulator, Kubectl) {
    let config = SimConfig { workloads: Workloads { enabled: true, ..Default::default() }, ..Default::default() };
    let sim = Simulator::start_with(config).await.unwrap();
    let kubectl = Kubectl::new(sim.kubeconfig_path()).await;
    (sim, kubectl)
}

#[tokio::test]
async fn rollout_status_completes_and_blocks_while_a_pod_is_held() {
    let (sim, kubectl) = start().await;
    kubectl.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest("web", 3))).await;
    let out = kubectl.ok(&["rollout", "status", "statefulset/web", "--timeout=30s"]).await;
    // kubectl's StatefulSetStatusViewer with the defaulted partition 0.
    assert!(out.trim_end().ends_with("partitioned roll out complete: 3 new pods have been updated..."), "{out}");
    let pods = kubectl
        .ok(&[
            "get",
            "pods",
            "-o",
            "custom-columns=NAME:.metadata.name,READY:.status.containerStatuses[0].ready,IP:.status.podIP",
        ])
        .await;
    assert_eq!(pods.lines().count(), 4, "{pods}");
    assert!(pods.lines().skip(1).all(|l| l.contains("true") && l.contains("10.244.0.")), "{pods}");

    // A pod held not Ready keeps the rollout from completing.
    sim.hold_pods(PodMatch::name("default", "held-1"), PodHold::NotReady);
    kubectl.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest("held", 2))).await;
    let out = kubectl.run(&["rollout", "status", "statefulset/held", "--timeout=3s"]).await;
    assert!(!out.status.success(), "rollout status must not complete while held-1 is not Ready");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Waiting for 1 pods to be ready..."), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timed out waiting for the condition"), "{stderr}");
    let table = kubectl.ok(&["get", "pod", "held-1", "--no-headers"]).await;
    let columns: Vec<&str> = table.split_whitespace().collect();
    assert_eq!(&columns[..4], ["held-1", "0/1", "Running", "0"], "{table}");

    // kubectl get events --field-selector involvedObject.name=<pod>: the Warning is there.
    let events = kubectl.ok(&["get", "events", "--field-selector", "involvedObject.name=held-1"]).await;
    let warning = events.lines().find(|l| l.contains("Warning")).unwrap_or_else(|| panic!("{events}"));
    assert!(warning.contains("Unhealthy"), "{warning}");
    assert!(warning.contains("pod/held-1"), "{warning}");
    assert!(warning.contains("Readiness probe failed: HTTP probe failed with statuscode: 503"), "{warning}");
    let warnings = kubectl
        .ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=held-1,type=Warning",
            "-o",
            "jsonpath={.items[*].reason}",
        ])
        .await;
    assert_eq!(warnings, "Unhealthy");

    sim.release_pods(&PodMatch::name("default", "held-1"));
    let out = kubectl.ok(&["rollout", "status", "statefulset/held", "--timeout=30s"]).await;
    assert!(out.contains("partitioned roll out complete: 2 new pods have been updated..."), "{out}");

    // Deployments too (DeploymentStatusViewer), through an image change.
    kubectl.ok(&["create", "deployment", "api", "--image=nginx:1.27", "--replicas=2"]).await;
    let out = kubectl.ok(&["rollout", "status", "deployment/api", "--timeout=30s"]).await;
    assert!(out.trim_end().ends_with("deployment \"api\" successfully rolled out"), "{out}");
    kubectl.ok(&["set", "image", "deployment/api", "nginx=nginx:1.28"]).await;
    let out = kubectl.ok(&["rollout", "status", "deployment/api", "--timeout=30s"]).await;
    assert!(out.trim_end().ends_with("deployment \"api\" successfully rolled out"), "{out}");
    let history = kubectl.ok(&["rollout", "history", "deployment/api"]).await;
    assert!(history.contains("1 ") && history.contains("2 "), "{history}");
    sim.stop().await;
}

#[tokio::test]
async fn kubectl_shows_held_pods_as_users_see_them() {
    let (sim, kubectl) = start().await;
    sim.hold_pods(PodMatch::name("default", "pull-0"), PodHold::ImagePullBackOff);
    sim.hold_pods(PodMatch::name("default", "crash-0"), PodHold::CrashLoopBackOff { restarts: 5 });
    sim.hold_pods(PodMatch::name("default", "pending-0"), PodHold::Unschedulable);
    sim.hold_pods(PodMatch::name("default", "creating-0"), PodHold::ContainerCreating);
    for name in ["pull", "crash", "pending", "creating"] {
        kubectl.ok_with_stdin(&["apply", "--server-side", "-f", "-"], Some(&manifest(name, 1))).await;
    }
    let expected = [
        ("pull-0", "ImagePullBackOff"),
        ("crash-0", "CrashLoopBackOff"),
        ("pending-0", "Pending"),
        ("creating-0", "ContainerCreating"),
    ];
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let table = kubectl.ok(&["get", "pods", "--no-headers"]).await;
        let ok = expected.iter().all(|(pod, status)| {
            table.lines().any(|l| l.starts_with(pod) && l.split_whitespace().nth(2) == Some(status))
        });
        if ok {
            let crash = table.lines().find(|l| l.starts_with("crash-0")).unwrap();
            assert!(crash.split_whitespace().nth(3).unwrap().starts_with('5'), "{crash}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{table}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let events = kubectl
        .ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=pull-0,type=Warning",
            "-o",
            "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}",
        ])
        .await;
    assert!(events.contains("Failed: Error: ErrImagePull"), "{events}");
    assert!(events.contains("Failed: Error: ImagePullBackOff"), "{events}");
    assert!(
        events.contains("Failed: Failed to pull image \"ghcr.io/example/server:1.0\": rpc error: code = NotFound"),
        "{events}"
    );
    let events = kubectl.ok(&["get", "events", "--field-selector", "involvedObject.name=pending-0"]).await;
    assert!(
        events.contains("FailedScheduling") && events.contains("0/1 nodes are available: 1 Insufficient cpu."),
        "{events}"
    );
    let describe = kubectl.ok(&["describe", "pod", "crash-0"]).await;
    assert!(describe.contains("Back-off restarting failed container main in pod crash-0_default"), "{describe}");
    sim.stop().await;
}
