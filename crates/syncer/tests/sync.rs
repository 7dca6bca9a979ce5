//! The syncer between a host simulator (kubelet and controllers on) and a virtual one (control
//! plane only): pods run on the host, their status, node and events come back; referenced
//! ConfigMaps and Secrets follow; start-up writes the CIDR ConfigMap and the kubeconfig Secret.

mod common;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::DeleteParams;

on_both_servers!(
    pods_run_on_the_host_and_come_back,
    all_configmaps_pvcs_and_serviceaccounts,
    a_host_object_of_someone_else_is_never_touched,
    pod_security_standard_blocks_violating_pods,
    default_kubernetes_endpoints_follow_the_host_without_the_services_syncer,
    an_event_that_comes_before_its_object_is_still_copied,
);

async fn pods_run_on_the_host_and_come_back(backend: Backend) {
    let clusters = Clusters::on(backend, HostSetup { workloads: true, service_cidr: Some("10.100.0.0/16") }).await;
    let virt = clusters.virt_client().await;
    create(&virt, "default", &configmap("settings", "one")).await;
    create(&virt, "default", &configmap("unused", "x")).await;
    create(&virt, "default", &secret("db")).await;
    create(&virt, "default", &web_pod("web", "settings", "db")).await;
    let mut syncer = clusters.syncer(&[]).await;
    syncer.wait_ready(true, DEADLINE).await;

    // Start-up: the CIDR ConfigMap from the host's ServiceCIDR, the kubeconfig Secret.
    let cidr = clusters.host_object("ConfigMap", "vc-cidr-my-vc").await.expect("vc-cidr-my-vc");
    assert_eq!(cidr["data"]["cidr"], "10.100.0.0/16");
    let secret = eventually("vc-my-vc", DEADLINE, || async { clusters.host_object("Secret", "vc-my-vc").await }).await;
    for key in ["config", "certificate-authority", "client-certificate", "client-key"] {
        assert!(secret["data"][key].is_string(), "key {key} in {secret}");
    }
    let owner = clusters.host_object("Service", "my-vc").await.unwrap();
    assert_eq!(secret["metadata"]["ownerReferences"][0]["uid"], owner["metadata"]["uid"]);
    assert_eq!(secret["metadata"]["ownerReferences"][0]["kind"], "Service");

    // The host pod runs; the virtual pod gets its status and node.
    let host_pod = eventually("host pod Running", DEADLINE, || async {
        clusters
            .host_object("Pod", "web-x-default-x-my-vc")
            .await
            .filter(|p| s(p, &["status", "phase"]) == Some("Running"))
    })
    .await;
    let labels = &host_pod["metadata"]["labels"];
    assert_eq!(labels["vcluster.loft.sh/managed-by"], "my-vc");
    assert_eq!(labels["vcluster.loft.sh/label-my-vc-x-a172cedcae"], "web");
    assert_eq!(labels["vcluster.loft.sh/ns-label-my-vc-x-cf1227b7b2"], "default");
    assert_eq!(host_pod["metadata"]["ownerReferences"][0]["uid"], owner["metadata"]["uid"]);
    assert_eq!(host_pod["spec"]["serviceAccountName"], "vc-workload-my-vc");
    let annotations = host_pod["metadata"]["annotations"].as_object().unwrap();
    let token_key = annotations.keys().find(|k| k.starts_with("vcluster.loft.sh/token-")).expect("token annotation");
    assert_eq!(token_key.len(), "vcluster.loft.sh/token-".len() + 8);
    assert!(!annotations[token_key].as_str().unwrap().is_empty());
    assert_eq!(host_pod["spec"]["volumes"][0]["configMap"]["name"], "settings-x-default-x-my-vc");
    let host_ip = s(&host_pod, &["status", "podIP"]).unwrap().to_owned();
    let node = s(&host_pod, &["spec", "nodeName"]).unwrap().to_owned();

    let vpod = eventually("virtual pod Running with the host IP", DEADLINE, || async {
        clusters
            .virt_object("Pod", "default", "web")
            .await
            .filter(|p| s(p, &["status", "podIP"]) == Some(host_ip.as_str()))
    })
    .await;
    assert_eq!(s(&vpod, &["status", "phase"]), Some("Running"));
    assert_eq!(s(&vpod, &["spec", "nodeName"]), Some(node.as_str()));
    let vnode = clusters.virt.object("v1", "Node", "", &node).await.expect("fake node");
    assert_eq!(vnode["metadata"]["labels"]["vcluster.loft.sh/fake-node"], "true");
    // The fake node reports the virtual cluster's version, as k3s's kubelet would.
    let version = virt.apiserver_version().await.unwrap().git_version;
    assert_eq!(s(&vnode, &["status", "nodeInfo", "kubeletVersion"]), Some(version.as_str()));

    // Referenced ConfigMap and Secret are on the host; the unused ConfigMap is not.
    // (kwok starts a pod without waiting for its volumes, so the ConfigMap may come after.)
    let cm = eventually("used configmap synced", DEADLINE, || async {
        clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await
    })
    .await;
    assert_eq!(cm["data"]["value"], "one");
    eventually("used secret synced", DEADLINE, || async {
        clusters.host_object("Secret", "db-x-default-x-my-vc").await
    })
    .await;
    assert!(clusters.host_object("ConfigMap", "unused-x-default-x-my-vc").await.is_none());

    // Host events about the pod appear in the virtual cluster.
    eventually("a virtual event about web", DEADLINE, || async {
        clusters.virt.objects("v1", "Event").await.into_iter().find(|e| {
            s(e, &["involvedObject", "name"]) == Some("web") && s(e, &["metadata", "namespace"]) == Some("default")
        })
    })
    .await;

    // A virtual ConfigMap change reaches the host.
    let cms: Api<ConfigMap> = Api::namespaced(virt.clone(), "default");
    let mut live = cms.get("settings").await.unwrap();
    live.data.as_mut().unwrap().insert("value".into(), "two".into());
    cms.replace("settings", &Default::default(), &live).await.unwrap();
    eventually("host configmap updated", DEADLINE, || async {
        clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.filter(|c| c["data"]["value"] == "two")
    })
    .await;

    // Deleting the virtual pod deletes the host pod, then the virtual pod, the now unused
    // ConfigMap and Secret, and the fake node.
    let pods: Api<Pod> = Api::namespaced(virt.clone(), "default");
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("host pod gone", DEADLINE, || async {
        clusters.host_object("Pod", "web-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
    eventually("virtual pod gone", DEADLINE, || async {
        clusters.virt_object("Pod", "default", "web").await.is_none().then_some(())
    })
    .await;
    eventually("unused configmap removed", DEADLINE, || async {
        clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
    eventually("unused secret removed", DEADLINE, || async {
        clusters.host_object("Secret", "db-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
    eventually("fake node removed", DEADLINE, || async {
        clusters.virt.object("v1", "Node", "", &node).await.is_none().then_some(())
    })
    .await;
    syncer.stop().await;
}

async fn all_configmaps_pvcs_and_serviceaccounts(backend: Backend) {
    let clusters = Clusters::on(backend, HostSetup { workloads: true, ..HostSetup::default() }).await;
    let virt = clusters.virt_client().await;
    create(&virt, "default", &configmap("lonely", "x")).await;
    let pvc: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": { "name": "data", "namespace": "default" },
        "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } } }
    }))
    .unwrap();
    create(&virt, "default", &pvc).await;
    if backend == Backend::Real {
        // The real host has no volume provisioner: a volume the claim can bind to, as an admin
        // would have made (kube-sim binds claims itself).
        clusters
            .host
            .seed_yaml(
                "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: data-volume}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /tmp/data}}\n",
            )
            .await;
    }
    let sa: k8s_openapi::api::core::v1::ServiceAccount =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "builder", "namespace": "default" } }))
            .unwrap();
    create(&virt, "default", &sa).await;
    let mut syncer = clusters
        .syncer(&[
            "--sync-all-configmaps=true",
            "--sync=serviceaccounts",
            "--out-kube-config-secret=extra-kubeconfig",
            "--out-kube-config-server=https://vc.example.com",
        ])
        .await;
    syncer.wait_ready(true, DEADLINE).await;
    // --out-kube-config-secret: the same kubeconfig in a second Secret, with the given server.
    let extra = eventually("extra kubeconfig Secret", DEADLINE, || async {
        clusters.host_object("Secret", "extra-kubeconfig").await
    })
    .await;
    use base64::Engine as _;
    let config = base64::engine::general_purpose::STANDARD.decode(s(&extra, &["data", "config"]).unwrap()).unwrap();
    let config = String::from_utf8(config).unwrap();
    assert!(config.contains("server: https://vc.example.com"), "{config}");
    assert!(config.contains("current-context: my-vcluster"), "{config}");
    eventually("all configmaps synced", DEADLINE, || async {
        clusters.host_object("ConfigMap", "lonely-x-default-x-my-vc").await
    })
    .await;
    eventually("service account synced", DEADLINE, || async {
        clusters.host_object("ServiceAccount", "builder-x-default-x-my-vc").await
    })
    .await;
    // The claim is bound on the host; the virtual claim follows.
    eventually("host claim", DEADLINE, || async {
        clusters.host_object("PersistentVolumeClaim", "data-x-default-x-my-vc").await
    })
    .await;
    eventually("virtual claim Bound", DEADLINE, || async {
        clusters
            .virt_object("PersistentVolumeClaim", "default", "data")
            .await
            .filter(|c| s(c, &["status", "phase"]) == Some("Bound"))
    })
    .await;
    // With serviceaccounts synced, pods run as the translated account.
    let mut pod = web_pod("builder-pod", "lonely", "none");
    pod.spec.as_mut().unwrap().service_account_name = Some("builder".into());
    pod.spec.as_mut().unwrap().containers[0].env = None;
    create(&virt, "default", &pod).await;
    let host_pod = eventually("host pod", DEADLINE, || async {
        clusters.host_object("Pod", "builder-pod-x-default-x-my-vc").await
    })
    .await;
    assert_eq!(host_pod["spec"]["serviceAccountName"], "builder-x-default-x-my-vc");
    syncer.stop().await;
}

async fn a_host_object_of_someone_else_is_never_touched(backend: Backend) {
    let clusters = Clusters::on(backend, HostSetup::default()).await;
    // A ConfigMap with the translated name, but not written by this vcluster.
    clusters
        .host
        .seed_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: taken-x-default-x-my-vc, namespace: vcluster-my-vc}\ndata: {owner: someone-else}\n")
        .await;
    let virt = clusters.virt_client().await;
    create(&virt, "default", &configmap("taken", "mine")).await;
    let mut syncer = clusters.syncer(&["--sync-all-configmaps"]).await;
    syncer.wait_ready(true, DEADLINE).await;
    eventually("SyncError event on the virtual ConfigMap", DEADLINE, || async {
        clusters.virt.objects("v1", "Event").await.into_iter().find(|e| {
            s(e, &["reason"]) == Some("SyncError")
                && s(e, &["involvedObject", "name"]) == Some("taken")
                && s(e, &["type"]) == Some("Warning")
        })
    })
    .await;
    let host = clusters.host_object("ConfigMap", "taken-x-default-x-my-vc").await.unwrap();
    assert_eq!(host["data"]["owner"], "someone-else");
    syncer.stop().await;
}

async fn pod_security_standard_blocks_violating_pods(backend: Backend) {
    let clusters = Clusters::on(backend, HostSetup::default()).await;
    let virt = clusters.virt_client().await;
    let mut syncer = clusters.syncer(&["--enforce-pod-security-standard=baseline"]).await;
    syncer.wait_ready(true, DEADLINE).await;
    let mut bad = web_pod("privileged", "none", "none");
    bad.spec.as_mut().unwrap().containers[0].security_context =
        Some(k8s_openapi::api::core::v1::SecurityContext { privileged: Some(true), ..Default::default() });
    create(&virt, "default", &bad).await;
    create(&virt, "default", &web_pod("fine", "none", "none")).await;
    eventually("compliant pod synced", DEADLINE, || async {
        clusters.host_object("Pod", "fine-x-default-x-my-vc").await
    })
    .await;
    eventually("violation event", DEADLINE, || async {
        clusters
            .virt
            .objects("v1", "Event")
            .await
            .into_iter()
            .find(|e| s(e, &["reason"]) == Some("PodSecurityStandardViolation"))
    })
    .await;
    assert!(clusters.host_object("Pod", "privileged-x-default-x-my-vc").await.is_none());
    syncer.stop().await;
}

/// The virtual `default/kubernetes` Endpoints and EndpointSlice are the vcluster's host
/// Endpoints (only `https`), and follow them, with the Services syncer off: upstream runs that
/// controller unconditionally (loft-sh/vcluster v0.15.7 `pkg/controllers/register.go`).
async fn default_kubernetes_endpoints_follow_the_host_without_the_services_syncer(backend: Backend) {
    let clusters = Clusters::on(backend, HostSetup::default()).await;
    let endpoints = |ip: &str| {
        format!(
            "apiVersion: v1\nkind: Endpoints\nmetadata: {{name: my-vc, namespace: vcluster-my-vc}}\n\
             subsets:\n- addresses: [{{ip: {ip}, nodeName: node-1}}]\n  \
             ports: [{{name: https, port: 8443, protocol: TCP}}, {{name: kubelet, port: 8443, protocol: TCP}}]\n"
        )
    };
    clusters.host.seed_yaml(&endpoints("10.244.0.9")).await;
    let mut syncer = clusters.syncer(&["--sync=-services"]).await;
    syncer.wait_ready(true, DEADLINE).await;
    let follows = |ip: &'static str| {
        let clusters = &clusters;
        async move {
            eventually(&format!("default/kubernetes Endpoints and EndpointSlice at {ip}"), DEADLINE, || async {
                let e = clusters.virt.object("v1", "Endpoints", "default", "kubernetes").await?;
                let slice =
                    clusters.virt.object("discovery.k8s.io/v1", "EndpointSlice", "default", "kubernetes").await?;
                let subset = &e["subsets"][0];
                let ok = subset["addresses"][0]["ip"] == ip
                    && subset["addresses"][0].get("nodeName").is_none()
                    && subset["ports"] == serde_json::json!([{ "name": "https", "port": 8443, "protocol": "TCP" }])
                    && slice["endpoints"][0]["addresses"][0] == ip;
                ok.then_some(())
            })
            .await
        }
    };
    follows("10.244.0.9").await;
    // The host Endpoints move (the vcluster pod was rescheduled): the virtual ones follow.
    let host = clusters.host_client().await;
    let api: Api<k8s_openapi::api::core::v1::Endpoints> = Api::namespaced(host, HOST_NS);
    let mut current = api.get("my-vc").await.unwrap();
    current.subsets.as_mut().unwrap()[0].addresses.as_mut().unwrap()[0].ip = "10.244.0.10".into();
    api.replace("my-vc", &Default::default(), &current).await.unwrap();
    follows("10.244.0.10").await;
    syncer.stop().await;
}

/// Host events and their objects come on two watches: an event about a synced object the host
/// stores have not seen yet is copied once they have (upstream drops it).
async fn an_event_that_comes_before_its_object_is_still_copied(backend: Backend) {
    let clusters = Clusters::on(backend, HostSetup::default()).await;
    let mut syncer = clusters.syncer(&["--sync-all-configmaps"]).await;
    syncer.wait_ready(true, DEADLINE).await;
    // The event about the host ConfigMap first, the ConfigMap (through its virtual one) after.
    clusters
        .host
        .seed_yaml(
            "apiVersion: v1\nkind: Event\nmetadata: {name: early.1, namespace: vcluster-my-vc}\n\
             involvedObject: {apiVersion: v1, kind: ConfigMap, name: early-x-default-x-my-vc, namespace: vcluster-my-vc}\n\
             reason: Checked\nmessage: seen before its object\ntype: Normal\n",
        )
        .await;
    let virt = clusters.virt_client().await;
    create(&virt, "default", &configmap("early", "one")).await;
    eventually("the virtual copy of the early event", DEADLINE, || async {
        clusters.virt.objects("v1", "Event").await.into_iter().find(|e| {
            s(e, &["involvedObject", "name"]) == Some("early")
                && s(e, &["involvedObject", "kind"]) == Some("ConfigMap")
                && s(e, &["reason"]) == Some("Checked")
        })
    })
    .await;
    syncer.stop().await;
}

/// The Ingresses controller and the pods' Secret index read the virtual Ingresses from one watch
/// (`src/controllers/informer.rs`): the virtual API server lists and watches them once, and an
/// Ingress created there still reaches the host with its TLS Secret (which only the index
/// makes a Secret to sync without `--sync-all-secrets`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_ingresses_are_listed_and_watched_once_on_kube_sim() {
    let clusters = Clusters::start(false).await;
    let mut syncer = clusters.syncer(&["--sync=ingresses,-ingressclasses"]).await;
    syncer.wait_ready(true, DEADLINE).await;
    clusters
        .virt
        .seed_yaml(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: web-tls, namespace: default}\ntype: Opaque\n\
             data: {tls.crt: eA==}\n---\n\
             apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: default}\n\
             spec:\n  tls: [{hosts: [web.example.com], secretName: web-tls}]\n  \
             defaultBackend: {service: {name: web, port: {number: 80}}}\n",
        )
        .await;
    eventually("the host Ingress and its TLS Secret", DEADLINE, || async {
        clusters.host.object("networking.k8s.io/v1", "Ingress", HOST_NS, "web-x-default-x-my-vc").await?;
        clusters.host.object("v1", "Secret", HOST_NS, "web-tls-x-default-x-my-vc").await.map(|_| ())
    })
    .await;
    let ingresses = |watch: bool| {
        let path = "/apis/networking.k8s.io/v1/ingresses";
        let requests = clusters.virt.sim().requests();
        requests
            .iter()
            .filter(|r| r.method == "GET" && r.path == path && r.query.contains("watch=true") == watch)
            .count()
    };
    assert_eq!(ingresses(false), 1, "one list of the virtual Ingresses");
    assert_eq!(ingresses(true), 1, "one watch of the virtual Ingresses");
    syncer.stop().await;
}
