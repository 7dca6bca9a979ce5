//! Faults: restart without changes makes no write; a host object deleted by
//! someone is recreated; a virtual object deleted while the syncer was down has its host
//! object deleted at start; watch 410s relist without duplicates; conflicts are retried; a host
//! API outage makes the syncer unready, it retries and recovers without crashing; a virtual
//! object deleted while the syncer runs has its host object deleted; host Events deleted while
//! the watch was down are forgotten at the relist. And leader election between two replicas.

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod};
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use kube_sim::{ADMIN_USER, Fault, Forbid};
use vcluster_syncer::startup::Timings;

on_both_servers!(leader_election_hands_over, virtual_deletions_while_running_are_followed);

/// Seed, start, wait until the pod runs and everything referenced is synced.
async fn converged(clusters: &Clusters) -> Syncer {
    let virt = clusters.virt_client().await;
    create(&virt, "default", &configmap("settings", "one")).await;
    create(&virt, "default", &secret("db")).await;
    create(&virt, "default", &web_pod("web", "settings", "db")).await;
    let mut syncer = clusters.syncer(&[]).await;
    syncer.wait_ready(true, DEADLINE).await;
    eventually("virtual pod Running", DEADLINE, || async {
        clusters.virt_object("Pod", "default", "web").await.filter(|p| s(p, &["status", "phase"]) == Some("Running"))
    })
    .await;
    eventually("configmap and secret synced", DEADLINE, || async {
        (clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.is_some()
            && clusters.host_object("Secret", "db-x-default-x-my-vc").await.is_some())
        .then_some(())
    })
    .await;
    // The virtual default/kubernetes recreated on the vcluster Service's host ClusterIP (a
    // syncer stopped before that leaves the recreate to the next one).
    eventually("default/kubernetes on the host ClusterIP", DEADLINE, || async {
        let virtual_ip = s(&clusters.virt_object("Service", "default", "kubernetes").await?, &["spec", "clusterIP"])
            .map(str::to_owned);
        let host_ip = s(&clusters.host_object("Service", "my-vc").await?, &["spec", "clusterIP"]).map(str::to_owned);
        (virtual_ip.is_some() && virtual_ip == host_ip).then_some(())
    })
    .await;
    syncer
}

/// A ready syncer, then `n` virtual pods `web-<i>` created at once, all using ConfigMap
/// `settings` and Secret `db`.
async fn pods_sharing_settings(clusters: &Clusters, n: usize) -> Syncer {
    let virt = clusters.virt_client().await;
    let mut syncer = clusters.syncer(&[]).await;
    syncer.wait_ready(true, DEADLINE).await;
    create(&virt, "default", &configmap("settings", "one")).await;
    create(&virt, "default", &secret("db")).await;
    for i in 0..n {
        create(&virt, "default", &web_pod(&format!("web-{i}"), "settings", "db")).await;
    }
    syncer
}

/// Each host object is created once: a reconcile that runs before the host store shows the
/// syncer's own create waits for it instead of creating again (which would end in 409).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_host_object_is_created_once() {
    let clusters = Clusters::start(true).await;
    // Many pods at once, sharing their ConfigMap and Secret: reconciles race their own creates.
    let syncer = pods_sharing_settings(&clusters, 20).await;
    eventually("every pod Running", DEADLINE, || async {
        let running = clusters
            .virt
            .objects("v1", "Pod")
            .await
            .iter()
            .filter(|p| s(p, &["status", "phase"]) == Some("Running"))
            .count();
        (running == 20).then_some(())
    })
    .await;
    let posts: Vec<_> = clusters
        .host
        .sim()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.status == 409 && !r.path.ends_with("/events"))
        .map(|r| r.path)
        .collect();
    assert!(posts.is_empty(), "creates that found their object there already: {posts:#?}");
    syncer.stop().await;
}

/// A host Event no copy was made of is created in the virtual cluster at once: reading it
/// first (upstream's `Get`) was a 404 per Event, about five per pod.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_events_are_copied_without_reading_first() {
    let clusters = Clusters::start(true).await;
    let syncer = pods_sharing_settings(&clusters, 5).await;
    // The host kubelet reports on each pod; every report gets its copy.
    let copies = || async {
        clusters.virt.objects("v1", "Event").await.iter().filter(|e| s(e, &["reason"]) == Some("Started")).count()
    };
    eventually("a copied Started event per pod", DEADLINE, || async { (copies().await == 5).then_some(()) }).await;
    let host_events = clusters.host.objects("v1", "Event").await.len() as u64;
    eventually("every host event handled", DEADLINE, || async { (syncer.stats.events() >= host_events).then_some(()) })
        .await;
    let reads = event_reads(&clusters);
    assert!(reads.is_empty(), "virtual Events read before their copy was made: {reads:#?}");
    syncer.stop().await;
}

/// The virtual Events read one by one (status and path), from the virtual simulator's log.
fn event_reads(clusters: &Clusters) -> Vec<String> {
    let requests = clusters.virt.sim().requests().into_iter();
    requests
        .filter(|r| r.method == "GET" && r.path.contains("/events/"))
        .map(|r| format!("{} {}", r.status, r.path))
        .collect()
}

/// The Events controller remembers each host Event's copy until the host Event is deleted. One
/// deleted while the syncer's watch was down, with its history compacted, comes back in no
/// Delete; the relist after the 410 must let go of it (else every such Event is kept forever).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_deleted_while_the_watch_was_down_are_forgotten() {
    let clusters = Clusters::start(true).await;
    let syncer = converged(&clusters).await;
    let host_events = || async {
        clusters
            .host
            .objects("v1", "Event")
            .await
            .into_iter()
            .filter(|e| s(e, &["metadata", "namespace"]) == Some(HOST_NS))
            .count() as u64
    };
    let before = host_events().await;
    assert!(before > 0, "the host kubelet reported on the pod");
    eventually("every host Event's copy remembered", DEADLINE, || async {
        (syncer.stats.event_copies() == host_events().await).then_some(())
    })
    .await;

    // The syncer's watch of the host Events breaks and cannot come back while they go.
    let host = clusters.host.sim();
    host.forbid(Forbid::user(ADMIN_USER).resource("", "events"));
    host.drop_watches();
    let cleaner = host.client_for("cleaner", &["system:masters"]).await.unwrap();
    let api: Api<Event> = Api::namespaced(cleaner, HOST_NS);
    for e in api.list(&Default::default()).await.unwrap() {
        api.delete(&e.name_any(), &DeleteParams::default()).await.unwrap();
    }
    host.compact();
    host.clear_forbids();

    eventually("the copies of the deleted Events forgotten", DEADLINE, || async {
        let (copies, now) = (syncer.stats.event_copies(), host_events().await);
        (copies == now && now < before).then_some(())
    })
    .await;
    syncer.stop().await;
}

/// Wait until a restarted syncer reconciled at least `objects` virtual objects and `events`
/// host events (so any write it would make has been made).
async fn settled(syncer: &Syncer, objects: u64, events: u64) {
    let stats = syncer.stats.clone();
    eventually("the restarted syncer to reconcile everything", DEADLINE, || {
        let stats = stats.clone();
        async move { (stats.reconciled() >= objects && stats.events() >= events).then_some(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_makes_zero_writes() {
    let clusters = Clusters::start(true).await;
    let syncer = converged(&clusters).await;
    // Let the event copies finish too: every host event has its virtual copy.
    let host_events = clusters.host.objects("v1", "Event").await.len() as u64;
    eventually("events copied", DEADLINE, || async { (syncer.stats.events() >= host_events).then_some(()) }).await;
    syncer.stop().await;
    clusters.clear_requests();
    let host_events = clusters.host.objects("v1", "Event").await.len() as u64;

    let mut syncer = clusters.syncer(&[]).await;
    syncer.wait_ready(true, DEADLINE).await;
    // 1 pod + 2 configmap/secret reconciles at least.
    settled(&syncer, 3, host_events).await;
    let writes = clusters.writes();
    assert!(writes.is_empty(), "a restart over converged objects wrote: {writes:#?}");
    // The copies are compared with one list of the virtual Events, not read back one by one
    // (10,000 pods have about 50,000 Events).
    let reads: Vec<String> = clusters
        .virt
        .sim()
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("/events/"))
        .map(|r| r.path)
        .collect();
    assert!(reads.is_empty(), "a restart read virtual Events one by one: {reads:#?}");
    syncer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_host_objects_are_recreated_and_conflicts_retried() {
    let clusters = Clusters::start(true).await;
    let syncer = converged(&clusters).await;
    let host = clusters.host_client().await;
    let host_cms: Api<ConfigMap> = Api::namespaced(host.clone(), HOST_NS);
    let before = clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.unwrap();
    host_cms.delete("settings-x-default-x-my-vc", &DeleteParams::default()).await.unwrap();
    eventually("configmap recreated", DEADLINE, || async {
        clusters
            .host_object("ConfigMap", "settings-x-default-x-my-vc")
            .await
            .filter(|c| c["metadata"]["uid"] != before["metadata"]["uid"])
    })
    .await;

    // Two conflicts on the host update, then it goes through.
    clusters
        .host
        .sim()
        .inject(Fault::on("PUT", &format!("/api/v1/namespaces/{HOST_NS}/configmaps/*")).times(2).respond(409));
    let virt = clusters.virt_client().await;
    let cms: Api<ConfigMap> = Api::namespaced(virt.clone(), "default");
    let mut live = cms.get("settings").await.unwrap();
    live.data.as_mut().unwrap().insert("value".into(), "two".into());
    cms.replace("settings", &Default::default(), &live).await.unwrap();
    eventually("update after conflicts", DEADLINE, || async {
        clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.filter(|c| c["data"]["value"] == "two")
    })
    .await;
    let conflicts = clusters.host.sim().requests().iter().filter(|r| r.method == "PUT" && r.status == 409).count();
    assert_eq!(conflicts, 2);
    clusters.host.sim().clear_faults();

    // A recreated virtual object (new uid) replaces its host object.
    cms.delete("settings", &DeleteParams::default()).await.unwrap();
    let recreated = create(&virt, "default", &configmap("settings", "three")).await;
    eventually("host object of the recreated virtual object", DEADLINE, || async {
        clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.filter(|c| {
            c["metadata"]["annotations"]["vcluster.loft.sh/object-uid"].as_str() == recreated.metadata.uid.as_deref()
                && c["data"]["value"] == "three"
        })
    })
    .await;
    syncer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_deletions_while_down_are_applied_at_start() {
    let clusters = Clusters::start(true).await;
    let syncer = converged(&clusters).await;
    syncer.stop().await;
    let virt = clusters.virt_client().await;
    // The pod goes, and with it the use of the ConfigMap; the Secret itself is deleted.
    let pods: Api<Pod> = Api::namespaced(virt.clone(), "default");
    pods.delete("web", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(virt.clone(), "default")
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    let syncer = clusters.syncer(&[]).await;
    eventually("host pod deleted at start", DEADLINE, || async {
        clusters.host_object("Pod", "web-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
    eventually("host secret deleted at start", DEADLINE, || async {
        clusters.host_object("Secret", "db-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
    eventually("unused configmap deleted at start", DEADLINE, || async {
        clusters.host_object("ConfigMap", "settings-x-default-x-my-vc").await.is_none().then_some(())
    })
    .await;
    syncer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_410_relists_without_duplicates() {
    let clusters = Clusters::start(true).await;
    let syncer = converged(&clusters).await;
    // History gone and every watch dropped: the watchers' next resume gets 410 and relists.
    clusters.host.sim().compact();
    clusters.virt.sim().compact();
    clusters.host.sim().drop_watches();
    clusters.virt.sim().drop_watches();
    let virt = clusters.virt_client().await;
    create(&virt, "default", &configmap("later", "x")).await;
    create(&virt, "default", &web_pod("web2", "later", "db")).await;
    eventually("new pod synced after the relist", DEADLINE, || async {
        clusters.virt_object("Pod", "default", "web2").await.filter(|p| s(p, &["status", "phase"]) == Some("Running"))
    })
    .await;
    let creates = clusters
        .host
        .sim()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == format!("/api/v1/namespaces/{HOST_NS}/pods") && r.status == 201)
        .count();
    assert_eq!(creates, 2, "each pod created once on the host");
    let host_pods: Vec<_> = clusters
        .host
        .objects("v1", "Pod")
        .await
        .into_iter()
        .filter(|p| s(p, &["metadata", "namespace"]) == Some(HOST_NS))
        .collect();
    assert_eq!(host_pods.len(), 2);
    syncer.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_outage_is_survived() {
    let clusters = Clusters::start(true).await;
    let mut syncer = converged(&clusters).await;
    clusters.host.sim().stop_listening().await;
    syncer.wait_ready(false, DEADLINE).await;
    // Meanwhile a change in the virtual cluster.
    let virt = clusters.virt_client().await;
    create(&virt, "default", &web_pod("during-outage", "settings", "db")).await;
    assert!(syncer.is_running(), "the syncer keeps running through the outage");
    clusters.host.sim().resume_listening().await.unwrap();
    syncer.wait_ready(true, DEADLINE).await;
    eventually("the change made during the outage reaches the host", DEADLINE, || async {
        clusters.host_object("Pod", "during-outage-x-default-x-my-vc").await
    })
    .await;
    syncer.stop().await;
}

async fn leader_election_hands_over(backend: Backend) {
    let clusters = Clusters::on(backend, HostSetup { workloads: true, ..HostSetup::default() }).await;
    let timings = Timings {
        health_interval: Duration::from_millis(200),
        lease: Some((Duration::from_secs(3), Duration::from_secs(2), Duration::from_millis(500))),
        ..Timings::default()
    };
    let mut first = clusters.syncer_with(&["--leader-elect=true"], timings.clone(), "first").await;
    first.wait_ready(true, DEADLINE).await;
    let mut second = clusters.syncer_with(&["--leader-elect=true"], timings, "second").await;
    let lease = eventually("lease", DEADLINE, || async {
        clusters.host.object("coordination.k8s.io/v1", "Lease", HOST_NS, "vcluster-my-vc-controller").await
    })
    .await;
    assert_eq!(s(&lease, &["spec", "holderIdentity"]), Some("first"));
    assert!(!*second.ready.borrow(), "the standby is not ready");
    let virt = clusters.virt_client().await;
    create(&virt, "default", &web_pod("a", "x", "y")).await;
    eventually("leader syncs", DEADLINE, || async { clusters.host_object("Pod", "a-x-default-x-my-vc").await }).await;

    // The leader dies (no lease release): the standby takes over within the lease duration.
    let died = std::time::Instant::now();
    first.task.abort();
    second.wait_ready(true, Duration::from_secs(10)).await;
    assert!(died.elapsed() < Duration::from_secs(8), "took over after {:?}", died.elapsed());
    create(&virt, "default", &web_pod("b", "x", "y")).await;
    eventually("new leader syncs", DEADLINE, || async { clusters.host_object("Pod", "b-x-default-x-my-vc").await })
        .await;
    let lease =
        clusters.host.object("coordination.k8s.io/v1", "Lease", HOST_NS, "vcluster-my-vc-controller").await.unwrap();
    assert_eq!(s(&lease, &["spec", "holderIdentity"]), Some("second"));
    second.stop().await;
}

async fn virtual_deletions_while_running_are_followed(backend: Backend) {
    // A virtual object deleted outright (no finalizer, no graceful phase) while the syncer runs.
    let clusters = Clusters::on(backend, HostSetup { workloads: true, service_cidr: None }).await;
    let virt = clusters.virt_client().await;
    create(&virt, "default", &configmap("lonely", "x")).await;
    create(&virt, "default", &secret("spare")).await;
    let account: k8s_openapi::api::core::v1::ServiceAccount =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "robot", "namespace": "default"}})).unwrap();
    create(&virt, "default", &account).await;
    let mut syncer = clusters.syncer(&["--sync-all-configmaps", "--sync-all-secrets", "--sync=serviceaccounts"]).await;
    syncer.wait_ready(true, DEADLINE).await;
    let objects = [("ConfigMap", "lonely"), ("Secret", "spare"), ("ServiceAccount", "robot")];
    for (kind, name) in objects {
        let host_name = format!("{name}-x-default-x-my-vc");
        eventually(&format!("host {kind}"), DEADLINE, || async { clusters.host_object(kind, &host_name).await }).await;
    }
    Api::<ConfigMap>::namespaced(virt.clone(), "default").delete("lonely", &DeleteParams::default()).await.unwrap();
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(virt.clone(), "default")
        .delete("spare", &DeleteParams::default())
        .await
        .unwrap();
    Api::<k8s_openapi::api::core::v1::ServiceAccount>::namespaced(virt.clone(), "default")
        .delete("robot", &DeleteParams::default())
        .await
        .unwrap();
    for (kind, name) in objects {
        let host_name = format!("{name}-x-default-x-my-vc");
        eventually(&format!("host {kind} deleted"), DEADLINE, || async {
            clusters.host_object(kind, &host_name).await.is_none().then_some(())
        })
        .await;
    }
    syncer.stop().await;
}

/// Reconciles that start before the host's first list arrives all go on once it does (kube-runtime
/// 5.0.0's `Store::wait_until_ready` woke only the last of several waiters: on a real control
/// plane, whose lists are slower, some virtual objects were never synced).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciles_waiting_for_a_slow_host_list_all_go_on() {
    let clusters = Clusters::start(true).await;
    let virt = clusters.virt_client().await;
    let names: Vec<String> = (0..8).map(|i| format!("settings-{i}")).collect();
    for name in &names {
        create(&virt, "default", &configmap(name, "x")).await;
    }
    // The host's first LIST of ConfigMaps answers late, so every reconcile starts before it.
    clusters
        .host
        .sim()
        .inject(Fault::on("GET", "/api/v1/namespaces/vcluster-my-vc/configmaps").nth(1).delay(Duration::from_secs(2)));
    let syncer = clusters.syncer(&["--sync-all-configmaps"]).await;
    for name in &names {
        let host_name = format!("{name}-x-default-x-my-vc");
        eventually(&format!("host ConfigMap {host_name}"), DEADLINE, || async {
            clusters.host_object("ConfigMap", &host_name).await
        })
        .await;
    }
    syncer.stop().await;
}
