//! ConfigMaps (loft-sh/vcluster v0.15.7 `pkg/controllers/resources/configmaps/{syncer,translate}.go`):
//! synced only while a virtual pod uses them (or with `--sync-all-configmaps`, or the
//! `vcluster.loft.sh/force-sync` annotation); data copied; updated when data or metadata change.

use k8s_openapi::api::core::v1::{ConfigMap, Pod};

use super::Context;
use vcluster_translate::metadata::FORCE_SYNC_ANNOTATION;

/// The host ConfigMap for `v`.
pub fn to_host(ctx: &Context, v: &ConfigMap) -> ConfigMap {
    ConfigMap {
        metadata: ctx.host_metadata(&v.metadata, &[]),
        data: v.data.clone(),
        binary_data: v.binary_data.clone(),
        immutable: v.immutable,
    }
}

/// The updated host ConfigMap, or `None` when it already matches. (`translateUpdate`)
pub fn update(ctx: &Context, v: &ConfigMap, h: &ConfigMap) -> Option<ConfigMap> {
    let meta = ctx.metadata_update(&v.metadata, &h.metadata, &[]);
    if meta.is_none() && v.data == h.data && v.binary_data == h.binary_data {
        return None;
    }
    let mut out = h.clone();
    if let Some((labels, annotations)) = meta {
        out.metadata.labels = Some(labels);
        out.metadata.annotations = Some(annotations);
    }
    out.data = v.data.clone();
    out.binary_data = v.binary_data.clone();
    Some(out)
}

/// Whether the ConfigMap is synced regardless of pods (`isConfigMapUsed`).
pub fn forced(all: bool, v: &ConfigMap) -> bool {
    all || v.metadata.annotations.as_ref().and_then(|a| a.get(FORCE_SYNC_ANNOTATION)).is_some_and(|f| f == "true")
}

/// The names of the ConfigMaps a pod references: volumes, projected sources, env and envFrom
/// of every container kind (`ConfigNamesFromPod`).
pub fn names_from_pod(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    let Some(spec) = &pod.spec else { return out };
    for volume in spec.volumes.iter().flatten() {
        if let Some(cm) = &volume.config_map {
            out.push(cm.name.clone());
        }
        for source in volume.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(cm) = &source.config_map {
                out.push(cm.name.clone());
            }
        }
    }
    super::pods::for_each_env(spec, |env, env_from| {
        for e in env {
            if let Some(r) = e.value_from.as_ref().and_then(|f| f.config_map_key_ref.as_ref()) {
                out.push(r.name.clone());
            }
        }
        for f in env_from {
            if let Some(r) = &f.config_map_ref {
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
    use crate::translate::map;
    use crate::translate::testing::{ctx, meta};

    fn cm() -> ConfigMap {
        ConfigMap { metadata: meta("default", "settings"), data: Some(map([("k", "v")])), ..ConfigMap::default() }
    }

    #[test]
    fn create_forward() {
        let h = to_host(&ctx(), &cm());
        assert_eq!(h.metadata.name.as_deref(), Some("settings-x-default-x-vcluster"));
        assert_eq!(h.data, Some(map([("k", "v")])));
    }

    #[test]
    fn update_forward_and_not_needed() {
        let c = ctx();
        let h = to_host(&c, &cm());
        assert!(update(&c, &cm(), &h).is_none());
        let mut changed = cm();
        changed.data = Some(map([("k", "w")]));
        assert_eq!(update(&c, &changed, &h).unwrap().data, Some(map([("k", "w")])));
    }

    #[test]
    fn force_sync() {
        let mut v = cm();
        assert!(!forced(false, &v));
        assert!(forced(true, &v));
        v.metadata.annotations = Some(map([(FORCE_SYNC_ANNOTATION, "true")]));
        assert!(forced(false, &v));
    }
}
