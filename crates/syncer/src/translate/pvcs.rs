//! PersistentVolumeClaims (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/persistentvolumeclaims/{syncer,translate}.go`): spec copied on
//! create (selector labels hashed; the data source names translated), metadata kept up to date,
//! and the host's binding (`spec.volumeName`) and `status` copied back to the virtual claim.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::Context;

/// The host claim for `v`.
pub fn to_host(ctx: &Context, v: &PersistentVolumeClaim) -> PersistentVolumeClaim {
    let namespace = v.metadata.namespace.as_deref().unwrap_or_default();
    let mut spec = v.spec.clone().unwrap_or_default();
    spec.selector = spec.selector.map(|s| translate_selector(ctx, &s));
    if let Some(ds) = spec.data_source.as_mut().filter(|d| d.api_group.is_none()) {
        ds.name = ctx.translator.host_name(namespace, &ds.name);
    }
    if let Some(ds) = spec.data_source_ref.as_mut().filter(|d| d.api_group.is_none() && d.namespace.is_none()) {
        ds.name = ctx.translator.host_name(namespace, &ds.name);
    }
    PersistentVolumeClaim { metadata: ctx.host_metadata(&v.metadata, &[]), spec: Some(spec), status: None }
}

/// A label selector with every key hashed (`TranslateLabelSelector`).
pub fn translate_selector(ctx: &Context, s: &LabelSelector) -> LabelSelector {
    LabelSelector {
        match_labels: s
            .match_labels
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (ctx.translator.label_key(k), v.clone())).collect()),
        match_expressions: s.match_expressions.as_ref().filter(|e| !e.is_empty()).map(|e| {
            e.iter()
                .map(|r| LabelSelectorRequirement {
                    key: ctx.translator.label_key(&r.key),
                    operator: r.operator.clone(),
                    values: r.values.clone(),
                })
                .collect()
        }),
    }
}

/// The updated host claim (metadata only: the spec is immutable past creation except for
/// resize, which follows the virtual request), or `None`.
pub fn update(ctx: &Context, v: &PersistentVolumeClaim, h: &PersistentVolumeClaim) -> Option<PersistentVolumeClaim> {
    let meta = ctx.metadata_update(&v.metadata, &h.metadata, &[]);
    let v_req = v.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.clone());
    let h_req = h.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.clone());
    let resize = v_req.is_some() && v_req != h_req;
    if meta.is_none() && !resize {
        return None;
    }
    let mut out = h.clone();
    if let Some((labels, annotations)) = meta {
        out.metadata.labels = Some(labels);
        out.metadata.annotations = Some(annotations);
    }
    if resize && let Some(spec) = out.spec.as_mut() {
        spec.resources.get_or_insert_with(Default::default).requests = v_req;
    }
    Some(out)
}

/// What the virtual claim should get from the host: its volume name (set once bound) and its
/// status; `None` when both already match.
pub fn backsync(
    v: &PersistentVolumeClaim,
    h: &PersistentVolumeClaim,
) -> Option<(Option<String>, Option<PersistentVolumeClaimStatus>)> {
    let h_volume = h.spec.as_ref().and_then(|s| s.volume_name.clone());
    let v_volume = v.spec.as_ref().and_then(|s| s.volume_name.clone());
    let volume = (h_volume.is_some() && v_volume.is_none()).then_some(h_volume);
    let status = (h.status != v.status && h.status.is_some()).then(|| h.status.clone());
    (volume.is_some() || status.is_some()).then(|| (volume.flatten(), status.flatten()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::map;
    use crate::translate::testing::{ctx, meta};
    use k8s_openapi::api::core::v1::PersistentVolumeClaimSpec;

    fn pvc() -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: meta("default", "data"),
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                selector: Some(LabelSelector { match_labels: Some(map([("app", "db")])), match_expressions: None }),
                ..PersistentVolumeClaimSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn create_forward_hashes_the_selector() {
        let h = to_host(&ctx(), &pvc());
        assert_eq!(h.metadata.name.as_deref(), Some("data-x-default-x-vcluster"));
        let selector = h.spec.unwrap().selector.unwrap().match_labels.unwrap();
        assert_eq!(selector, map([("vcluster.loft.sh/label-vcluster-x-a172cedcae", "db")]));
    }

    #[test]
    fn backsync_volume_and_status() {
        let v = pvc();
        let mut h = to_host(&ctx(), &v);
        assert!(backsync(&v, &h).is_none());
        assert!(update(&ctx(), &v, &h).is_none());
        h.spec.as_mut().unwrap().volume_name = Some("pvc-1".into());
        h.status = Some(PersistentVolumeClaimStatus { phase: Some("Bound".into()), ..Default::default() });
        let (volume, status) = backsync(&v, &h).unwrap();
        assert_eq!(volume.as_deref(), Some("pvc-1"));
        assert_eq!(status.unwrap().phase.as_deref(), Some("Bound"));
    }
}
