//! ServiceAccounts, with `--sync=serviceaccounts` (loft-sh/vcluster v0.15.7
//! `pkg/controllers/resources/serviceaccounts/syncer.go`): the host account carries no secrets
//! and mounts no token (pods get their token from the virtual cluster), so only metadata is
//! synced; pods then run as the translated account instead of `--service-account`.

use k8s_openapi::api::core::v1::ServiceAccount;

use super::Context;

/// The host ServiceAccount for `v`.
pub fn to_host(ctx: &Context, v: &ServiceAccount) -> ServiceAccount {
    ServiceAccount {
        metadata: ctx.host_metadata(&v.metadata, &[]),
        automount_service_account_token: Some(false),
        image_pull_secrets: None,
        secrets: None,
    }
}

/// The updated host ServiceAccount, or `None`.
pub fn update(ctx: &Context, v: &ServiceAccount, h: &ServiceAccount) -> Option<ServiceAccount> {
    let (labels, annotations) = ctx.metadata_update(&v.metadata, &h.metadata, &[])?;
    let mut out = h.clone();
    out.metadata.labels = Some(labels);
    out.metadata.annotations = Some(annotations);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::testing::{ctx, meta};

    #[test]
    fn create_and_no_update() {
        let v = ServiceAccount { metadata: meta("default", "builder"), ..Default::default() };
        let h = to_host(&ctx(), &v);
        assert_eq!(h.metadata.name.as_deref(), Some("builder-x-default-x-vcluster"));
        assert_eq!(h.automount_service_account_token, Some(false));
        assert!(update(&ctx(), &v, &h).is_none());
    }
}
