//! The controllers: one kube-runtime `Controller` per kind (reconcile, error policy, context),
//! each in its own module; [`engine`] holds the generic part. [`run`] starts the enabled ones
//! and returns when `shutdown` is cancelled.
//!
//! Adding a kind (part 2: services, endpoints, ingresses, network policies) is one module with
//! a [`engine::Kind`] implementation and one line in [`run`].

pub(crate) mod configmaps;
pub(crate) mod defaultendpoint;
pub(crate) mod endpoints;
pub(crate) mod engine;
pub(crate) mod events;
pub(crate) mod informer;
pub(crate) mod ingressclasses;
pub(crate) mod ingresses;
pub(crate) mod lean;
pub(crate) mod networkpolicies;
pub(crate) mod nodehosts;
pub(crate) mod nodes;
pub(crate) mod podindex;
pub(crate) mod podnetwork;
pub(crate) mod pods;
pub(crate) mod pvcs;
pub(crate) mod secrets;
pub(crate) mod serviceaccounts;
pub(crate) mod services;
pub(crate) mod servicesync;
pub(crate) mod shared;
pub(crate) mod workqueue;
pub(crate) mod writes;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::Api;
use tokio_util::sync::CancellationToken;

pub(crate) use shared::Shared;
pub use shared::{Config, FIELD_MANAGER, Stats};

/// Run every enabled controller until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) {
    let (index, triggers) = podindex::PodIndex::new();
    let index = Arc::new(index);
    let dns_service = config.translate.translator.host_name("kube-system", "kube-dns");
    // One watch of the virtual Services for the three controllers that read them.
    let mut virtual_services =
        informer::Informer::<Service>::new(Api::all(config.virtual_client.clone()), lean::stored_config());
    let (network, dns_changes) = podnetwork::PodNetwork::start(
        &config.host_client,
        virtual_services.subscribe().events,
        config.translate.host_namespace(),
        &dns_service,
        &config.service_name,
        &shutdown,
    );
    let shared = Arc::new(Shared::new(config, shutdown, index.clone(), network));
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(podindex::run(shared.virtual_.clone(), shared.shutdown.clone(), index));
    let podindex::Triggers { configmaps, secrets, nodes, namespaces } = triggers;
    let (host_pods, host_pods_stream) = engine::host_watch(&shared);
    let (host_configmaps, host_configmaps_stream) = engine::host_watch(&shared);
    let (host_secrets, host_secrets_stream) = engine::host_watch(&shared);
    if shared.enabled("pods") {
        tasks.spawn(pods::run(shared.clone(), host_pods.clone(), host_pods_stream, namespaces, dns_changes));
    } else {
        drop(host_pods_stream);
    }
    if shared.enabled("configmaps") {
        tasks.spawn(configmaps::run(shared.clone(), host_configmaps.clone(), host_configmaps_stream, configmaps));
    }
    if shared.enabled("secrets") {
        tasks.spawn(secrets::run(shared.clone(), host_secrets.clone(), host_secrets_stream, secrets));
    }
    if shared.enabled("persistentvolumeclaims") {
        tasks.spawn(pvcs::run(shared.clone()));
    }
    if shared.enabled("serviceaccounts") {
        tasks.spawn(serviceaccounts::run(shared.clone()));
    }
    if shared.enabled("fake-nodes") && !shared.enabled("nodes") {
        tasks.spawn(nodes::run(shared.clone(), nodes));
    }
    if shared.enabled("services") {
        let (store, stream) = engine::host_watch(&shared);
        tasks.spawn(services::run(shared.clone(), store, stream, virtual_services.subscribe()));
    }
    if shared.enabled("endpoints") {
        let (store, stream) = engine::host_watch(&shared);
        tasks.spawn(endpoints::run(shared.clone(), store, stream, virtual_services.subscribe()));
    }
    tasks.spawn(virtual_services.run(shared.shutdown.clone()));
    // Always on, as upstream registers them (loft-sh/vcluster v0.15.7 pkg/controllers/register.go).
    tasks.spawn(defaultendpoint::run(shared.clone()));
    tasks.spawn(nodehosts::run(shared.clone()));
    if shared.enabled("ingresses") {
        tasks.spawn(ingresses::run(shared.clone()));
    }
    if shared.enabled("ingressclasses") {
        tasks.spawn(ingressclasses::run(shared.clone()));
    }
    if shared.enabled("networkpolicies") {
        tasks.spawn(networkpolicies::run(shared.clone()));
    }
    tasks.spawn(servicesync::run(shared.clone()));
    if shared.enabled("events") {
        tasks.spawn(events::run(
            shared.clone(),
            events::HostStores { pods: host_pods, configmaps: host_configmaps, secrets: host_secrets },
        ));
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done
            && e.is_panic()
        {
            tracing::error!("a controller panicked: {e}");
        }
    }
}
