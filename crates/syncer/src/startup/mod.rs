//! Start-up, in the established syncer's order (loft-sh/vcluster v0.15.7
//! `cmd/vcluster/cmd/start.go` `ExecuteStart`/`StartControllers`): host client, service CIDR
//! ConfigMap, virtual API (waits for it), the API endpoint, leader election, owner, kubeconfig
//! Secret (refreshed every minute, written only when it changed), controllers; readiness for
//! `/readyz` while this replica leads and both APIs answer.

pub mod cidr;
pub mod leader;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use kube::api::PostParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::controllers;
use crate::error::{OptionsError, StartError, chain, is_code};
use crate::options::{IMPLEMENTED_CONTROLLERS, Options};
use crate::proxy;
use crate::translate::{self, Owner, kubeconfig, pods};

/// The clients and namespace the syncer runs with (the binary builds them from the flags and
/// the environment; tests hand in simulator clients).
pub struct Environment {
    /// The virtual cluster's API, with the kubeconfig it was built from.
    pub virtual_client: Client,
    pub virtual_kubeconfig: Kubeconfig,
    /// The host cluster's API.
    pub host_client: Client,
    /// The namespace the syncer runs in (its pod's).
    pub current_namespace: String,
    /// This replica's identity for the leader lease.
    pub identity: String,
    /// Counters of the controllers (tests and benchmarks read them).
    pub stats: Arc<controllers::Stats>,
    /// Host objects created that the host watches have not shown yet: shared by the controllers
    /// and the API endpoint's Service redirect.
    pub recent_creates: Arc<crate::recent::RecentCreates>,
}

/// Timings (the defaults are the established syncer's; tests shorten them).
#[derive(Debug, Clone)]
pub struct Timings {
    pub kubeconfig_refresh: Duration,
    pub health_interval: Duration,
    pub lease: Option<(Duration, Duration, Duration)>,
}

impl Default for Timings {
    fn default() -> Self {
        Timings { kubeconfig_refresh: Duration::from_secs(60), health_interval: Duration::from_secs(2), lease: None }
    }
}

/// The one start-up warning: flags given whose feature is not built, and enabled controllers
/// not implemented yet.
pub fn unimplemented_warning(flags: &[String], controllers: &BTreeSet<String>) -> Option<String> {
    let missing: Vec<&str> =
        controllers.iter().map(String::as_str).filter(|c| !IMPLEMENTED_CONTROLLERS.contains(c)).collect();
    if flags.is_empty() && missing.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !flags.is_empty() {
        parts.push(format!("flags {}", flags.join(", ")));
    }
    if !missing.is_empty() {
        parts.push(format!("--sync controllers {}", missing.join(", ")));
    }
    Some(format!("not implemented yet by this syncer (accepted and ignored): {}", parts.join("; ")))
}

/// Pod settings and controller config from the flags.
pub fn controller_config(
    options: &Options,
    controllers: BTreeSet<String>,
    env: &Environment,
    target_namespace: &str,
    owner: Option<Owner>,
    virtual_version: String,
) -> Result<controllers::Config, OptionsError> {
    let mut tctx = translate::Context::new(&options.vcluster_name(), target_namespace);
    tctx.owner = owner;
    tctx.sync_labels = options.sync_labels.clone();
    let mut image_translations = std::collections::BTreeMap::new();
    for pair in &options.translate_images {
        let (from, to) = pair.split_once('=').ok_or_else(|| OptionsError::TranslateImage(pair.clone()))?;
        image_translations.insert(from.trim().to_owned(), to.trim().to_owned());
    }
    let node_selector = if options.enforce_node_selector && !options.node_selector.is_empty() {
        let mut m = std::collections::BTreeMap::new();
        for part in options.node_selector.split(',') {
            let (k, v) =
                part.split_once('=').ok_or_else(|| OptionsError::NodeSelector(options.node_selector.clone()))?;
            m.insert(k.trim().to_owned(), v.trim().to_owned());
        }
        Some(m)
    } else {
        None
    };
    let tolerations = options.tolerations.iter().map(|t| parse_toleration(t)).collect::<Result<Vec<_>, _>>()?;
    let settings = pods::Settings {
        cluster_domain: options.cluster_domain.clone(),
        service_account: options.service_account.clone(),
        serviceaccounts_enabled: controllers.contains("serviceaccounts"),
        override_hosts: options.override_hosts,
        hosts_rewrite_image: format!("{}{}", options.default_image_registry, options.override_hosts_container_image),
        image_translations,
        node_selector,
        tolerations,
        // Pods wait for the kube-dns host Service only when something will create it: the
        // CoreDNS bundle is there and Services are synced.
        wait_for_dns: std::path::Path::new(&options.coredns_manifest).exists() && controllers.contains("services"),
    };
    Ok(controllers::Config {
        virtual_client: env.virtual_client.clone(),
        host_client: env.host_client.clone(),
        translate: tctx,
        pods: settings,
        controllers,
        sync_all_configmaps: options.sync_all_configmaps,
        sync_all_secrets: options.sync_all_secrets,
        pod_security_standard: options.enforce_pod_security_standard.clone(),
        service_mappings: options.service_mappings(target_namespace)?,
        service_name: options.service_name(),
        virtual_version,
        stats: env.stats.clone(),
        recent_creates: env.recent_creates.clone(),
    })
}

/// `key[=value][:Effect]` (`toleration.ParseToleration`).
fn parse_toleration(text: &str) -> Result<k8s_openapi::api::core::v1::Toleration, OptionsError> {
    let (kv, effect) = match text.rsplit_once(':') {
        Some((kv, effect)) => (kv, Some(effect.to_owned())),
        None => (text, None),
    };
    let (key, value, operator) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_owned()), "Equal"),
        None => (kv, None, "Exists"),
    };
    if key.is_empty() && value.is_some() {
        return Err(OptionsError::Toleration(text.to_owned()));
    }
    Ok(k8s_openapi::api::core::v1::Toleration {
        key: (!key.is_empty()).then(|| key.to_owned()),
        operator: Some(operator.into()),
        value,
        effect: effect.filter(|e| !e.is_empty()),
        toleration_seconds: None,
    })
}

/// Build the environment of a syncer running as the binary: the virtual API from
/// `--kube-config` (waiting for the file and the API, as upstream's `WaitForClientConfig`), the
/// host API in-cluster or from `KUBECONFIG`.
pub async fn environment(options: &Options, shutdown: &CancellationToken) -> Result<Option<Environment>, StartError> {
    let host_config = kube::Config::infer().await.map_err(StartError::HostConfig)?;
    let current_namespace = std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| host_config.default_namespace.clone());
    let host_client = Client::try_from(host_config).map_err(StartError::Client)?;
    let path = options.kube_config.clone();
    let kubeconfig = loop {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                break Kubeconfig::from_yaml(&text)
                    .map_err(|source| StartError::ParseKubeconfig { path: path.clone(), source })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::info!("couldn't find virtual cluster kube-config {path}, will retry in 1 seconds");
            }
            Err(source) => return Err(StartError::ReadKubeconfig { path, source }),
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig.clone(), &KubeConfigOptions::default())
        .await
        .map_err(|source| StartError::ParseKubeconfig { path: path.clone(), source })?;
    let virtual_client = Client::try_from(config).map_err(StartError::Client)?;
    let hostname = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("syncer-{}", std::process::id()));
    Ok(Some(Environment {
        virtual_client,
        virtual_kubeconfig: kubeconfig,
        host_client,
        current_namespace,
        identity: format!("{hostname}-external-vcluster-controller"),
        stats: Arc::default(),
        recent_creates: Arc::default(),
    }))
}

/// Wait until the virtual API answers and has its default ServiceAccount. Returns its version.
pub async fn wait_for_virtual(client: &Client, shutdown: &CancellationToken) -> Option<String> {
    loop {
        match client.apiserver_version().await {
            Ok(version) => {
                let api: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
                match api.get_opt("default").await {
                    Ok(Some(_)) => {
                        tracing::info!("Can connect to virtual cluster with version {}", version.git_version);
                        return Some(version.git_version);
                    }
                    _ => tracing::info!("default ServiceAccount is not available yet, will retry in 1 seconds"),
                }
            }
            Err(e) => tracing::info!("couldn't retrieve virtual cluster version ({e}), will retry in 1 seconds"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// The owner of synced objects (`FindOwner`): the vcluster's Service, when `--set-owner` and
/// the syncer runs in the target namespace.
pub async fn find_owner(
    client: &Client,
    options: &Options,
    current: &str,
    target: &str,
) -> Result<Option<Owner>, kube::Error> {
    if !options.set_owner {
        return Ok(None);
    }
    if current != target {
        tracing::warn!("Skip setting owner, because current namespace {current} != target namespace {target}");
        return Ok(None);
    }
    let api: Api<Service> = Api::namespaced(client.clone(), current);
    let Some(svc) = api.get_opt(&options.service_name()).await? else {
        tracing::warn!("vcluster Service {current}/{} not found: synced objects get no owner", options.service_name());
        return Ok(None);
    };
    Ok(Some(Owner {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: svc.metadata.name.unwrap_or_default(),
        uid: svc.metadata.uid.unwrap_or_default(),
    }))
}

/// Write the kubeconfig Secret(s) when missing or different. Returns how many were written.
pub async fn write_kubeconfig_secrets(
    client: &Client,
    options: &Options,
    raw: &Kubeconfig,
    current_namespace: &str,
    owner: Option<&Owner>,
) -> Result<usize, StartError> {
    let server = if options.kube_config_server.is_empty() {
        format!("https://localhost:{}", options.port)
    } else {
        options.kube_config_server.clone()
    };
    let read = |p: &str| std::fs::read(Path::new(p)).ok();
    let converted =
        kubeconfig::convert(raw.clone(), &server, &options.kube_config_context_name, &read).map_err(|e| {
            StartError::ReadKubeconfig {
                path: options.kube_config.clone(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
    let mut targets = Vec::new();
    if !options.kube_config_secret.is_empty() {
        let ns = if options.kube_config_secret_namespace.is_empty() {
            current_namespace
        } else {
            &options.kube_config_secret_namespace
        };
        targets.push((options.kube_config_secret.clone(), ns.to_owned()));
    }
    targets.push((kubeconfig::secret_name(&options.vcluster_name()), current_namespace.to_owned()));
    let mut written = 0;
    for (name, namespace) in targets {
        // The owner only in its own namespace (`WriteKubeConfig`).
        let owner = owner.filter(|_| namespace == current_namespace);
        let desired =
            kubeconfig::secret(&converted, &name, &namespace, owner).map_err(|e| StartError::ReadKubeconfig {
                path: options.kube_config.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        let wrap = |source| StartError::Client(source);
        match api.get_opt(&name).await.map_err(wrap)? {
            Some(existing) if kubeconfig::up_to_date(&existing, &desired) => {}
            Some(existing) => {
                let mut updated = desired.clone();
                updated.metadata = existing.metadata.clone();
                if desired.metadata.owner_references.is_some() {
                    updated.metadata.owner_references = desired.metadata.owner_references.clone();
                }
                api.replace(&name, &PostParams::default(), &updated).await.map_err(wrap)?;
                written += 1;
            }
            None => match api.create(&PostParams::default(), &desired).await {
                Ok(_) => written += 1,
                Err(e) if is_code(&e, 409) => {}
                Err(e) => return Err(wrap(e)),
            },
        }
    }
    Ok(written)
}

/// Readiness: both APIs answer (checked every `interval`) while `leading`.
async fn health(
    virtual_client: Client,
    host_client: Client,
    leading: watch::Receiver<bool>,
    readiness: watch::Sender<bool>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let timeout = interval.max(Duration::from_secs(1));
        let host_ok = tokio::time::timeout(timeout, host_client.apiserver_version()).await.is_ok_and(|r| r.is_ok());
        let virtual_ok =
            tokio::time::timeout(timeout, virtual_client.apiserver_version()).await.is_ok_and(|r| r.is_ok());
        let ready = host_ok && virtual_ok && *leading.borrow();
        if readiness.send_replace(ready) != ready {
            tracing::info!(host_ok, virtual_ok, "readiness {}", if ready { "true" } else { "false" });
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Everything after the environment: returns when `shutdown` is cancelled or leadership is lost.
pub async fn run_with(
    options: Options,
    env: Environment,
    timings: Timings,
    readiness: watch::Sender<bool>,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let controllers_enabled = options.enabled_controllers()?;
    let vcluster = options.vcluster_name();
    let target_namespace = if options.target_namespace.is_empty() {
        env.current_namespace.clone()
    } else {
        options.target_namespace.clone()
    };

    // Service CIDR first, as upstream (retried every 5 s for two minutes).
    let mut attempts = 0;
    loop {
        match cidr::ensure(&env.host_client, &env.current_namespace, &vcluster).await {
            Ok(_) => break,
            Err(e) if attempts < 24 => {
                tracing::error!("failed to ensure that service CIDR range is written into the expected location: {e}");
                attempts += 1;
                tokio::select! {
                    () = shutdown.cancelled() => return Ok(()),
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
            Err(source) => return Err(StartError::ServiceCidr { name: cidr::configmap_name(&vcluster), source }),
        }
    }

    let Some(virtual_version) = wait_for_virtual(&env.virtual_client, &shutdown).await else { return Ok(()) };

    let (leading_tx, leading_rx) = watch::channel(!options.leader_elect);
    tokio::spawn(health(
        env.virtual_client.clone(),
        env.host_client.clone(),
        leading_rx,
        readiness.clone(),
        timings.health_interval,
        shutdown.clone(),
    ));

    let lease = options.leader_elect.then(|| {
        let (duration, deadline, retry) = timings.lease.unwrap_or((
            Duration::from_secs(options.lease_duration.max(1) as u64),
            Duration::from_secs(options.renew_deadline.max(1) as u64),
            Duration::from_secs(options.retry_period.max(1) as u64),
        ));
        leader::LeaseConfig {
            namespace: env.current_namespace.clone(),
            name: leader::LeaseConfig::lock_name(&vcluster),
            identity: env.identity.clone(),
            lease_duration: duration,
            renew_deadline: deadline,
            retry_period: retry,
        }
    });
    if let Some(lease) = &lease {
        if !leader::acquire(&env.host_client, lease, &shutdown).await {
            return Ok(());
        }
        leading_tx.send_replace(true);
    }

    let owner = find_owner(&env.host_client, &options, &env.current_namespace, &target_namespace)
        .await
        .map_err(StartError::Client)?;

    // The kubeconfig Secret, now and every minute.
    {
        let client = env.host_client.clone();
        let options = options.clone();
        let raw = env.virtual_kubeconfig.clone();
        let current = env.current_namespace.clone();
        let owner = owner.clone();
        let shutdown = shutdown.clone();
        let every = timings.kubeconfig_refresh;
        tokio::spawn(async move {
            loop {
                if let Err(e) = write_kubeconfig_secrets(&client, &options, &raw, &current, owner.as_ref()).await {
                    tracing::error!("Error writing kube config to secret: {}", chain(&e));
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
    }

    let config = controller_config(&options, controllers_enabled, &env, &target_namespace, owner, virtual_version)?;
    let controllers_shutdown = shutdown.child_token();
    // CoreDNS in the virtual cluster, retried in the background (loft-sh/vcluster v0.15.7
    // cmd/vcluster/cmd/start.go, `ApplyCoreDNS` in a goroutine once the controllers start).
    tokio::spawn(crate::coredns::run(
        env.virtual_client.clone(),
        crate::coredns::Settings {
            manifest: options.coredns_manifest.clone().into(),
            resolv_conf: options.resolv_conf.clone().into(),
            default_image_registry: options.default_image_registry.clone(),
            virtual_version: config.virtual_version.clone(),
        },
        controllers_shutdown.clone(),
    ));
    let controllers = tokio::spawn(controllers::run(config, controllers_shutdown.clone()));

    let result = match &lease {
        Some(lease) => match leader::hold(&env.host_client, lease, &shutdown).await {
            Ok(()) => Ok(()),
            Err(()) => Err(StartError::LostLease(lease.name.clone())),
        },
        None => {
            shutdown.cancelled().await;
            Ok(())
        }
    };
    readiness.send_replace(false);
    controllers_shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), controllers).await;
    result
}

/// The binary: environment, API endpoint, then [`run_with`].
pub async fn run(options: Options, shutdown: CancellationToken) -> Result<(), StartError> {
    let Some(env) = environment(&options, &shutdown).await? else { return Ok(()) };
    let (readiness, readiness_rx) = watch::channel(false);
    start_proxy(&options, &env, readiness_rx, shutdown.clone());
    run_with(options, env, Timings::default(), readiness, shutdown).await
}

/// Start the API endpoint (`proxy::serve`) in the background; a failure is logged, never fatal
/// for the syncing.
fn start_proxy(options: &Options, env: &Environment, readiness: watch::Receiver<bool>, shutdown: CancellationToken) {
    let bind: SocketAddr = match format!("{}:{}", options.bind_address, options.port).parse() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("invalid --bind-address/--port: {e}");
            return;
        }
    };
    let read = |p: &str| std::fs::read_to_string(p);
    let (Ok(cert_pem), Ok(key_pem), Ok(client_ca_pem)) =
        (read(&options.server_ca_cert), read(&options.server_ca_key), read(&options.client_ca_cert))
    else {
        tracing::warn!(
            "the API endpoint is not served: cannot read {}, {} or {}",
            options.server_ca_cert,
            options.server_ca_key,
            options.client_ca_cert
        );
        return;
    };
    let env_kubeconfig = env.virtual_kubeconfig.clone();
    let mut sans: BTreeSet<String> = options.tls_sans.iter().cloned().collect();
    sans.extend(["localhost".to_owned(), "127.0.0.1".to_owned(), options.service_name()]);
    let (_sans_tx, sans_rx) = watch::channel(sans);
    let cluster_domain = options.cluster_domain.clone();
    let target_namespace =
        if options.target_namespace.is_empty() { &env.current_namespace } else { &options.target_namespace };
    let redirect = crate::redirect::ServiceRedirect::new(
        env.host_client.clone(),
        translation_context(options, target_namespace),
        env.recent_creates.clone(),
    );
    tokio::spawn(async move {
        let upstream = match kube::Config::from_custom_kubeconfig(env_kubeconfig, &KubeConfigOptions::default()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("the API endpoint is not served: {e}");
                return;
            }
        };
        let mut config =
            proxy::ProxyConfig::new(bind, upstream, proxy::CaMaterial { cert_pem, key_pem }, client_ca_pem, sans_rx);
        config.cluster_domain = cluster_domain;
        config.interceptors.push(redirect);
        if let Err(e) = proxy::serve(config, readiness, shutdown).await {
            tracing::warn!("the API endpoint on {bind} is not served: {e}");
        }
        // Keep the SAN sender alive as long as the endpoint runs.
        drop(_sans_tx);
    });
}

/// The translation context for tests and tools that do not start the syncer.
pub fn translation_context(options: &Options, target_namespace: &str) -> translate::Context {
    let mut ctx = translate::Context::new(&options.vcluster_name(), target_namespace);
    ctx.sync_labels = options.sync_labels.clone();
    ctx
}
