//! Adoption: host objects written by an established 0.15.x syncer
//! (`fixtures/adoption-host.yaml`, derived from the upstream source) are taken over as they
//! are: with the virtual side agreeing (`fixtures/adoption-virtual.yaml`), our syncer makes no
//! write at all, on either cluster.

mod common;

use base64::Engine as _;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn established_syncers_objects_are_adopted_without_writes() {
    // Host without kubelet: the seeded objects stay exactly as written.
    let clusters = Clusters::start(false).await;
    clusters.virt.seed_yaml(include_str!("fixtures/adoption-virtual.yaml")).await;
    let uid = |kind: &str, name: &str| {
        let obj = clusters.virt.sim().object("v1", kind, "default", name).unwrap_or_else(|| panic!("{kind} {name}"));
        s(&obj, &["metadata", "uid"]).unwrap().to_owned()
    };
    let owner = clusters.host_object("Service", "my-vc").await.unwrap();

    // The kubeconfig Secret as the established syncer writes it (clientcmd.Write's YAML) for the
    // virtual cluster's admin kubeconfig.
    let sim_config = kube::config::Kubeconfig::read_from(clusters.virt.kubeconfig_path()).unwrap();
    let cluster = sim_config.clusters[0].cluster.clone().unwrap();
    let user = sim_config.auth_infos[0].auth_info.clone().unwrap();
    let ca = cluster.certificate_authority_data.unwrap();
    let cert = user.client_certificate_data.unwrap();
    let key = {
        use secrecy::ExposeSecret;
        user.client_key_data.unwrap().expose_secret().to_owned()
    };
    let go_kubeconfig = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: https://localhost:8443\n  name: my-vcluster\ncontexts:\n- context:\n    cluster: my-vcluster\n    namespace: default\n    user: my-vcluster\n  name: my-vcluster\ncurrent-context: my-vcluster\nkind: Config\npreferences: {{}}\nusers:\n- name: my-vcluster\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n"
    );
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let plain = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).unwrap();
    let host_yaml = include_str!("fixtures/adoption-host.yaml")
        .replace("{{OWNER_UID}}", s(&owner, &["metadata", "uid"]).unwrap())
        .replace("{{CM_UID}}", &uid("ConfigMap", "settings"))
        .replace("{{SECRET_UID}}", &uid("Secret", "db"))
        .replace("{{PVC_UID}}", &uid("PersistentVolumeClaim", "data"))
        .replace("{{POD_UID}}", &uid("Pod", "web"))
        .replace("{{KUBECONFIG_B64}}", &b64(go_kubeconfig.as_bytes()))
        .replace("{{CA_B64}}", &b64(&plain(&ca)))
        .replace("{{CERT_B64}}", &b64(&plain(&cert)))
        .replace("{{KEY_B64}}", &b64(&plain(&key)));
    clusters.host.seed_yaml(&host_yaml).await;
    // Virtual default/kubernetes as the established syncer leaves it: the vcluster Service's
    // ClusterIP and its ports without `kubelet` (v0.15.7 `SyncKubernetesService`).
    let virt = clusters.virt_client().await;
    let services: kube::Api<k8s_openapi::api::core::v1::Service> = kube::Api::namespaced(virt, "default");
    services.delete("kubernetes", &Default::default()).await.unwrap();
    let kubernetes = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "kubernetes", "namespace": "default" },
        "spec": {
            "clusterIP": s(&owner, &["spec", "clusterIP"]).unwrap(),
            "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443 }]
        }
    }))
    .unwrap();
    services.create(&Default::default(), &kubernetes).await.unwrap();
    clusters.clear_requests();

    let mut syncer = clusters.syncer(&[]).await;
    syncer.wait_ready(true, DEADLINE).await;
    // Pod, ConfigMap, Secret, claim reconciled; the kubeconfig Secret looked at.
    let stats = syncer.stats.clone();
    eventually("every virtual object reconciled", DEADLINE, || {
        let stats = stats.clone();
        async move { (stats.reconciled() >= 4).then_some(()) }
    })
    .await;
    eventually("the kubeconfig Secret checked", DEADLINE, || async {
        clusters
            .host
            .sim()
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path == format!("/api/v1/namespaces/{HOST_NS}/secrets/vc-my-vc"))
            .then_some(())
    })
    .await;
    let writes = clusters.writes();
    assert!(writes.is_empty(), "adopting the established syncer's objects wrote: {writes:#?}");

    // And the adopted objects are really managed: a virtual change goes through.
    let virt = clusters.virt_client().await;
    let cms: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(virt, "default");
    let mut live = cms.get("settings").await.unwrap();
    live.data.as_mut().unwrap().insert("value".into(), "two".into());
    cms.replace("settings", &Default::default(), &live).await.unwrap();
    eventually("adopted configmap updated", DEADLINE, || async {
        clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.filter(|c| c["data"]["value"] == "two")
    })
    .await;
    syncer.stop().await;
}
