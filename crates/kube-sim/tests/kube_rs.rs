//! Conformance through kube-rs: typed `Api`, `Discovery`, `runtime::watcher` and a
//! `Controller` reconciling 120 objects while the test drops watch connections and forces a
//! 410. The same code runs against the real control plane (`kube_rs_real`) or the cluster of
//! VCLUSTER_E2E_KUBECONFIG (see `common`; the simulator-only controls — dropped watches,
//! compaction, the request log — run only where `env.sim` is set).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{Env, eventually};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::ServiceCIDR;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

fn config_map(name: &str, v: &str) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "ctl"}},
        "data": {"v": v}
    }))
    .expect("configmap")
}

#[tokio::test]
async fn discovery_finds_served_kinds() {
    let env = Env::new("krdisc").await;
    for discovery in [
        Discovery::new(env.client.clone()).run().await.unwrap(),
        Discovery::new(env.client.clone()).run_aggregated().await.unwrap(),
    ] {
        let gvk = kube::api::GroupVersionKind::gvk("apps", "v1", "StatefulSet");
        let (ar, caps) = discovery.resolve_gvk(&gvk).expect("statefulsets discovered");
        assert_eq!(ar.plural, "statefulsets");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(caps.supports_operation(verbs::WATCH) && caps.supports_operation(verbs::PATCH));
        assert!(caps.subresources.iter().any(|(sub, _)| sub.plural == "statefulsets/scale" || sub.plural == "scale"));
        let ns = discovery.resolve_gvk(&kube::api::GroupVersionKind::gvk("", "v1", "Namespace")).expect("namespaces");
        assert_eq!(ns.1.scope, Scope::Cluster);
    }
    env.cleanup().await;
}

#[tokio::test]
async fn typed_api_round_trips() {
    let env = Env::new("krapi").await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &env.ns);
    let created = cms
        .create(&PostParams { field_manager: Some("krtest".into()), ..Default::default() }, &config_map("a", "1"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    let mf = created.metadata.managed_fields.as_ref().unwrap();
    assert_eq!(mf[0].manager.as_deref(), Some("krtest"));
    assert_eq!(mf[0].operation.as_deref(), Some("Update"));

    let patched = cms.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"w": "2"}}))).await.unwrap();
    assert_eq!(patched.data.as_ref().unwrap()["w"], "2");
    let applied = cms
        .patch(
            "b",
            &PatchParams::apply("krtest-apply"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}, "data": {"x": "1"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(applied.metadata.managed_fields.as_ref().unwrap()[0].operation.as_deref(), Some("Apply"));

    let list = cms.list(&ListParams::default().labels("app=ctl")).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let err = cms.get("missing").await.unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.reason, "NotFound");
        }
        other => panic!("expected a Status, got {other:?}"),
    }

    let sts: Api<StatefulSet> = Api::namespaced(env.client.clone(), &env.ns);
    let web: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "web",
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}
    }))
    .unwrap();
    let web = sts.create(&PostParams::default(), &web).await.unwrap();
    assert_eq!(web.spec.as_ref().unwrap().replicas, Some(1));
    assert_eq!(web.spec.as_ref().unwrap().pod_management_policy.as_deref(), Some("OrderedReady"));
    let scale = sts.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    sts.patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.unwrap();
    assert_eq!(sts.get("web").await.unwrap().spec.unwrap().replicas, Some(3));
    cms.delete("a", &DeleteParams::default()).await.unwrap();
    assert!(cms.get_opt("a").await.unwrap().is_none());
    env.cleanup().await;
}

#[tokio::test]
async fn watcher_reports_creates_updates_deletes() {
    let env = Env::new("krwatch").await;
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &env.ns);
    let stream = watcher(cms.clone(), watcher::Config::default().labels("app=ctl")).applied_objects();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(Ok(cm)) = stream.next().await {
            let _ = tx.send(cm);
        }
    });
    cms.create(&PostParams::default(), &config_map("w", "1")).await.unwrap();
    cms.patch("w", &PatchParams::default(), &Patch::Merge(json!({"data": {"v": "2"}}))).await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let cm: ConfigMap = rx.recv().await.expect("stream open");
            if cm.data.as_ref().and_then(|d| d.get("v")).map(String::as_str) == Some("2") {
                return cm;
            }
        }
    })
    .await
    .expect("watcher saw the update");
    assert_eq!(seen.metadata.name.as_deref(), Some("w"));
    task.abort();
    env.cleanup().await;
}

struct Ctx {
    api: Api<ConfigMap>,
}

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

/// Mirror `data.v` into the `observed` annotation (a write per change, so the controller's own
/// writes flow back through the watch).
async fn reconcile(cm: Arc<ConfigMap>, ctx: Arc<Ctx>) -> Result<Action, ReconcileError> {
    let v = cm.data.as_ref().and_then(|d| d.get("v")).cloned().unwrap_or_default();
    let observed = cm.metadata.annotations.as_ref().and_then(|a| a.get("observed")).cloned();
    if observed.as_deref() != Some(v.as_str()) {
        let name = cm.metadata.name.clone().unwrap_or_default();
        let patch = json!({"metadata": {"annotations": {"observed": v}}});
        match ctx.api.patch(&name, &PatchParams::default(), &Patch::Merge(patch)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::await_change())
}

fn error_policy(_: Arc<ConfigMap>, _: &ReconcileError, _: Arc<Ctx>) -> Action {
    Action::requeue(Duration::from_millis(50))
}

#[tokio::test]
async fn controller_converges_through_dropped_watches_and_gone() {
    let env = Env::new("krctl").await;
    let api: Api<ConfigMap> = Api::namespaced(env.client.clone(), &env.ns);
    for i in 0..120 {
        api.create(&PostParams::default(), &config_map(&format!("o{i:03}"), "0")).await.unwrap();
    }
    let controller = Controller::new(api.clone(), watcher::Config::default().labels("app=ctl"));
    let store = controller.store();
    let ctx = Arc::new(Ctx { api: api.clone() });
    let task = tokio::spawn(controller.run(reconcile, error_policy, ctx).for_each(|_| async {}));

    let converged = |api: Api<ConfigMap>| async move {
        let list = api.list(&ListParams::default().labels("app=ctl")).await.ok()?;
        let all = list.items.iter().all(|cm| {
            let v = cm.data.as_ref().and_then(|d| d.get("v"));
            cm.metadata.annotations.as_ref().and_then(|a| a.get("observed")) == v
        });
        all.then_some(list.items)
    };
    eventually(Duration::from_secs(60), || converged(api.clone())).await;

    let lists_before = env.sim.as_ref().map(|s| relists(s, &env.ns));
    if let Some(sim) = &env.sim {
        sim.drop_watches();
    }
    for i in (0..120).step_by(2) {
        api.patch(&format!("o{i:03}"), &PatchParams::default(), &Patch::Merge(json!({"data": {"v": "1"}})))
            .await
            .unwrap();
    }
    if let Some(sim) = &env.sim {
        // Compact while the watch is down: the watcher resumes from an older
        // resourceVersion, gets 410 Gone and relists.
        sim.drop_watches();
        sim.compact();
    }
    for i in (1..120).step_by(4) {
        api.delete(&format!("o{i:03}"), &DeleteParams::default()).await.unwrap();
    }
    for i in 120..130 {
        api.create(&PostParams::default(), &config_map(&format!("o{i:03}"), "2")).await.unwrap();
    }
    let items = eventually(Duration::from_secs(60), || converged(api.clone())).await;
    assert_eq!(items.len(), 120 - 30 + 10);

    // The reflector's store ends equal to the server's state.
    let server: BTreeMap<String, String> = match &env.sim {
        Some(sim) => sim
            .objects("v1", "ConfigMap")
            .into_iter()
            .filter(|o| o["metadata"]["namespace"] == env.ns.as_str() && o["metadata"]["labels"]["app"] == "ctl")
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                    o["metadata"]["resourceVersion"].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        None => items
            .iter()
            .map(|c| (c.metadata.name.clone().unwrap(), c.metadata.resource_version.clone().unwrap()))
            .collect(),
    };
    eventually(Duration::from_secs(30), || {
        let store = store.clone();
        let server = server.clone();
        async move {
            let cached: BTreeMap<String, String> = store
                .state()
                .iter()
                .map(|c| (c.metadata.name.clone().unwrap(), c.metadata.resource_version.clone().unwrap()))
                .collect();
            (cached == server).then_some(())
        }
    })
    .await;
    if let (Some(sim), Some(before)) = (&env.sim, lists_before) {
        assert!(relists(sim, &env.ns) > before, "the watcher relisted after the 410");
        let gone_watch =
            sim.requests().iter().any(|r| r.path.ends_with("/configmaps") && r.query.contains("watch=true"));
        assert!(gone_watch);
    }
    task.abort();
    env.cleanup().await;
}

/// LIST (not watch) requests for the namespace's ConfigMaps so far.
fn relists(sim: &kube_sim::Simulator, ns: &str) -> usize {
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    sim.requests().iter().filter(|r| r.method == "GET" && r.path == path && !r.query.contains("watch=")).count()
}

/// default_servicecidr_controller.go: `spec.cidrs` of the ServiceCIDR `kubernetes` lists the
/// configured ranges primary first, whichever family that is.
///
/// Simulator only: it starts dual-stack simulators of its own (on the real backend it would
/// need control planes of its own, which the suite's time budget does not allow), so it
/// checks nothing in `kube_rs_real`.
#[tokio::test]
async fn the_default_service_cidr_lists_both_families_primary_first() {
    if common::backend() != common::Backend::Simulator {
        return;
    }
    for cidrs in [["fd00:10:96::/108", "10.100.0.0/16"], ["10.100.0.0/16", "fd00:10:96::/108"]] {
        let config = kube_sim::SimConfig { service_cidrs: cidrs.map(String::from).to_vec(), ..Default::default() };
        let sim = kube_sim::Simulator::start_with(config).await.unwrap();
        let api: Api<ServiceCIDR> = Api::all(sim.client().await.unwrap());
        let default = api.get("kubernetes").await.unwrap();
        assert_eq!(default.spec.and_then(|s| s.cidrs).unwrap(), cidrs);
        let ready = default.status.and_then(|s| s.conditions).unwrap();
        assert_eq!((ready[0].type_.as_str(), ready[0].status.as_str()), ("Ready", "True"));
        sim.stop().await;
    }
}

#[tokio::test]
async fn kube_rs_impersonates_and_reviews_access() {
    use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
    use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};

    let env = Env::new("krimp").await;
    let ns = env.ns.clone();
    let dave = format!("{ns}-dave");
    // The admin may impersonate anyone (cluster-admin); kube-rs sends Impersonate-User.
    let as_dave = env.client_with(|auth| auth.impersonate = Some(dave.clone())).await;
    let cms: Api<ConfigMap> = Api::namespaced(as_dave.clone(), &ns);
    match cms.list(&ListParams::default()).await.unwrap_err() {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 403);
            assert_eq!(
                status.message,
                format!(
                    r#"configmaps is forbidden: User "{dave}" cannot list resource "configmaps" in API group "" in the namespace "{ns}""#
                )
            );
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    let reviews: Api<SubjectAccessReview> = Api::all(env.client.clone());
    let review = |verb: &str| SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(dave.clone()),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(ns.clone()),
                verb: Some(verb.into()),
                resource: Some("configmaps".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = reviews.create(&PostParams::default(), &review("list")).await.unwrap().status.unwrap();
    assert!(!answer.allowed && answer.denied.is_none() && answer.reason.is_none(), "{answer:?}");

    let bindings: Api<RoleBinding> = Api::namespaced(env.client.clone(), &ns);
    let binding = RoleBinding {
        metadata: kube::api::ObjectMeta { name: Some("dave-views".into()), ..Default::default() },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "view".into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "User".into(),
            name: dave.clone(),
            namespace: None,
        }]),
    };
    bindings.create(&PostParams::default(), &binding).await.unwrap();
    eventually(Duration::from_secs(10), || async { cms.list(&ListParams::default()).await.ok() }).await;
    let answer = reviews.create(&PostParams::default(), &review("watch")).await.unwrap().status.unwrap();
    assert!(answer.allowed);
    assert_eq!(
        answer.reason.as_deref(),
        Some(
            format!(r#"RBAC: allowed by RoleBinding "dave-views/{ns}" of ClusterRole "view" to User "{dave}""#)
                .as_str()
        )
    );
    // view does not write.
    let err = cms.create(&PostParams::default(), &config_map("x", "1")).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 403), "{err:?}");
    if let Some(sim) = &env.sim {
        let last = sim.requests().into_iter().rev().find(|r| r.method == "POST" && r.path.ends_with("/configmaps"));
        let last = last.expect("the create reached the simulator");
        assert_eq!((last.user.as_str(), last.impersonator.as_str()), (dave.as_str(), kube_sim::ADMIN_USER));
    }
    env.cleanup().await;
}
