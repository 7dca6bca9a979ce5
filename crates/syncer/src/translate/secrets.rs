//! Secrets (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/secrets/{syncer,translate}.go`):
//! synced only while a virtual pod uses them (or with `--sync-all-secrets`, or
//! `vcluster.loft.sh/force-sync`); a service-account-token Secret becomes `Opaque` on the host
//! (the host's token controller would otherwise reject or rewrite it).

use k8s_openapi::api::core::v1::{Pod, Secret};

use super::Context;
use vcluster_translate::metadata::FORCE_SYNC_ANNOTATION;

const SA_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";

fn host_type(v: &Secret) -> Option<String> {
    match v.type_.as_deref() {
        Some(SA_TOKEN_TYPE) => Some("Opaque".into()),
        other => other.map(str::to_owned),
    }
}

/// The host Secret for `v`.
pub fn to_host(ctx: &Context, v: &Secret) -> Secret {
    Secret {
        metadata: ctx.host_metadata(&v.metadata, &[]),
        data: v.data.clone(),
        string_data: None,
        type_: host_type(v),
        immutable: v.immutable,
    }
}

/// The updated host Secret, or `None` when it already matches.
pub fn update(ctx: &Context, v: &Secret, h: &Secret) -> Option<Secret> {
    let meta = ctx.metadata_update(&v.metadata, &h.metadata, &[]);
    if meta.is_none() && v.data == h.data {
        return None;
    }
    let mut out = h.clone();
    if let Some((labels, annotations)) = meta {
        out.metadata.labels = Some(labels);
        out.metadata.annotations = Some(annotations);
    }
    out.data = v.data.clone();
    Some(out)
}

/// Whether the Secret is synced regardless of pods.
pub fn forced(all: bool, v: &Secret) -> bool {
    all || v.metadata.annotations.as_ref().and_then(|a| a.get(FORCE_SYNC_ANNOTATION)).is_some_and(|f| f == "true")
}

/// The names of the Secrets a pod references: volumes, projected sources, env, envFrom,
/// imagePullSecrets and the secret references of volume plugins (`SecretNamesFromPod`).
pub fn names_from_pod(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    let Some(spec) = &pod.spec else { return out };
    out.extend(spec.image_pull_secrets.iter().flatten().map(|r| r.name.clone()));
    for volume in spec.volumes.iter().flatten() {
        if let Some(s) = &volume.secret {
            out.extend(s.secret_name.clone());
        }
        for source in volume.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &source.secret {
                out.push(s.name.clone());
            }
        }
        out.extend(super::pods::volume_secret_refs(volume).into_iter().map(str::to_owned));
    }
    super::pods::for_each_env(spec, |env, env_from| {
        for e in env {
            if let Some(r) = e.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref()) {
                out.push(r.name.clone());
            }
        }
        for f in env_from {
            if let Some(r) = &f.secret_ref {
                out.push(r.name.clone());
            }
        }
    });
    out.retain(|n| !n.is_empty());
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::testing::{ctx, meta};
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    #[test]
    fn token_secrets_become_opaque() {
        let v = Secret {
            metadata: meta("default", "tok"),
            type_: Some(SA_TOKEN_TYPE.into()),
            data: Some(BTreeMap::from([("token".to_owned(), ByteString(b"x".to_vec()))])),
            ..Secret::default()
        };
        let h = to_host(&ctx(), &v);
        assert_eq!(h.type_.as_deref(), Some("Opaque"));
        assert_eq!(h.metadata.name.as_deref(), Some("tok-x-default-x-vcluster"));
        assert!(update(&ctx(), &v, &h).is_none());
    }
}
