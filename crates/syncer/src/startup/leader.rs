//! Leader election on a Lease, as client-go's `leaderelection` does it for the established
//! syncer (loft-sh/vcluster v0.15.7 `pkg/leaderelection/leaderelection.go`): Lease
//! `vcluster-<name>-controller` in the current namespace, identity
//! `<hostname>-external-vcluster-controller`, `--lease-duration`/`--renew-deadline`/
//! `--retry-period`. A candidate takes the lease when it is free or its holder has not renewed
//! it within the lease duration; the leader renews every retry period and gives up (the process
//! exits, as upstream's `OnStoppedLeading` does) when it could not renew within the renew
//! deadline. Same Lease and fields as upstream, so an established syncer and this one can
//! stand in for each other.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::is_code;

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// The established syncer's lock name for vcluster `name`.
    pub fn lock_name(vcluster: &str) -> String {
        vcluster_translate::safe_concat_name(&["vcluster", vcluster, "controller"])
    }
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

/// Whether the lease is held by someone else and still valid.
fn held_by_other(lease: &Lease, me: &str, duration: Duration) -> bool {
    let Some(spec) = &lease.spec else { return false };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder.is_empty() || holder == me {
        return false;
    }
    let seconds = spec.lease_duration_seconds.map(|s| Duration::from_secs(s.max(0) as u64)).unwrap_or(duration);
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else { return false };
    let age = k8s_openapi::jiff::Timestamp::now().duration_since(renewed.0);
    age.as_secs_f64() < seconds.as_secs_f64()
}

/// Try once to acquire or renew. Returns whether we hold the lease afterwards.
async fn try_acquire_or_renew(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    let existing = api.get_opt(&cfg.name).await?;
    let seconds = i32::try_from(cfg.lease_duration.as_secs()).unwrap_or(i32::MAX);
    match existing {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    namespace: Some(cfg.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(cfg.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now()),
                    renew_time: Some(now()),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_code(&e, 409) => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(lease) => {
            if held_by_other(&lease, &cfg.identity, cfg.lease_duration) {
                return Ok(false);
            }
            let mut updated = lease.clone();
            let spec = updated.spec.get_or_insert_with(LeaseSpec::default);
            let was_mine = spec.holder_identity.as_deref() == Some(cfg.identity.as_str());
            if !was_mine {
                spec.acquire_time = Some(now());
                spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            }
            spec.holder_identity = Some(cfg.identity.clone());
            spec.lease_duration_seconds = Some(seconds);
            spec.renew_time = Some(now());
            match api.replace(&cfg.name, &PostParams::default(), &updated).await {
                Ok(_) => Ok(true),
                Err(e) if is_code(&e, 409) => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

/// Block until this process holds the lease (or `shutdown`). Returns false on shutdown.
pub async fn acquire(client: &Client, cfg: &LeaseConfig, shutdown: &CancellationToken) -> bool {
    let api: Api<Lease> = Api::namespaced(client.clone(), &cfg.namespace);
    loop {
        match try_acquire_or_renew(&api, cfg).await {
            Ok(true) => {
                tracing::info!("Acquired leadership ({}/{}) and run vcluster in leader mode", cfg.namespace, cfg.name);
                return true;
            }
            Ok(false) => tracing::debug!("lease {} is held by another replica", cfg.name),
            Err(e) => tracing::warn!(error = %e, "leader election"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(cfg.retry_period) => {}
        }
    }
}

/// Keep renewing until `shutdown` (returns `Ok`) or the renew deadline passes without a
/// successful renewal (returns `Err`: leadership lost).
pub async fn hold(client: &Client, cfg: &LeaseConfig, shutdown: &CancellationToken) -> Result<(), ()> {
    let api: Api<Lease> = Api::namespaced(client.clone(), &cfg.namespace);
    let mut last = Instant::now();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(cfg.retry_period) => {}
        }
        match try_acquire_or_renew(&api, cfg).await {
            Ok(true) => last = Instant::now(),
            Ok(false) => {
                tracing::error!("leader election lost: lease {} taken by another replica", cfg.name);
                return Err(());
            }
            Err(e) => tracing::warn!(error = %e, "renewing the lease"),
        }
        if last.elapsed() > cfg.renew_deadline {
            tracing::error!("leader election lost: could not renew lease {} within the renew deadline", cfg.name);
            return Err(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_name_matches_upstream() {
        assert_eq!(LeaseConfig::lock_name("my-vc"), "vcluster-my-vc-controller");
    }

    #[test]
    fn expiry() {
        let mut lease = Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some("other".into()),
                lease_duration_seconds: Some(60),
                renew_time: Some(now()),
                ..LeaseSpec::default()
            }),
        };
        assert!(held_by_other(&lease, "me", Duration::from_secs(60)));
        assert!(!held_by_other(&lease, "other", Duration::from_secs(60)));
        lease.spec.as_mut().unwrap().renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert!(!held_by_other(&lease, "me", Duration::from_secs(60)));
    }
}
