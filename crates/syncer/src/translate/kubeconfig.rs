//! The kubeconfig Secret `vc-<name>` (loft-sh/vcluster v0.15.7 `cmd/vcluster/cmd/start.go`
//! `CreateVClusterKubeConfig`/`WriteKubeConfigToSecret`, `pkg/util/kubeconfig/kubeconfig.go`
//! `WriteKubeConfig`): the virtual cluster's admin kubeconfig with file references inlined,
//! every server set to `https://localhost:<port>` (or `--out-kube-config-server`), the
//! cluster, user and context renamed to `--kube-config-context-name`; the Secret holds it under
//! `config` plus the CA, client certificate and key of the current context, owned by the
//! vcluster's Service (`GetOwnerReference(nil)`: `controller: false`).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::config::Kubeconfig;
use secrecy::{ExposeSecret, SecretString};

use super::Owner;

pub const KUBECONFIG_KEY: &str = "config";
pub const CA_KEY: &str = "certificate-authority";
pub const CERT_KEY: &str = "client-certificate";
pub const KEY_KEY: &str = "client-key";

/// Why the kubeconfig could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    #[error("cannot read {0}")]
    Read(String),
    #[error("cannot encode the kubeconfig: {0}")]
    Encode(String),
    #[error("invalid base64 in the kubeconfig's {0}")]
    Base64(&'static str),
}

/// The name of the default Secret: `vc-<name>` (`GetDefaultSecretName`).
pub fn secret_name(vcluster: &str) -> String {
    format!("vc-{vcluster}")
}

/// Convert the virtual cluster's kubeconfig. `read` returns the contents of a referenced file.
pub fn convert(
    mut config: Kubeconfig,
    server: &str,
    context_name: &str,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Result<Kubeconfig, KubeconfigError> {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    for named in config.clusters.iter_mut() {
        let Some(cluster) = named.cluster.as_mut() else { continue };
        if cluster.certificate_authority_data.is_none()
            && let Some(path) = cluster.certificate_authority.take()
        {
            let data = read(&path).ok_or(KubeconfigError::Read(path))?;
            cluster.certificate_authority_data = Some(b64(&data));
        }
        cluster.server = Some(server.to_owned());
    }
    for named in config.auth_infos.iter_mut() {
        let Some(auth) = named.auth_info.as_mut() else { continue };
        if auth.client_certificate_data.is_none()
            && let Some(path) = auth.client_certificate.take()
        {
            let data = read(&path).ok_or(KubeconfigError::Read(path))?;
            auth.client_certificate_data = Some(b64(&data));
        }
        if auth.client_key_data.is_none()
            && let Some(path) = auth.client_key.take()
        {
            let data = read(&path).ok_or(KubeconfigError::Read(path))?;
            auth.client_key_data = Some(SecretString::from(b64(&data)));
        }
    }
    if !context_name.is_empty() {
        config.current_context = Some(context_name.to_owned());
        config.auth_infos.truncate(1);
        config.clusters.truncate(1);
        config.contexts.truncate(1);
        for a in config.auth_infos.iter_mut() {
            a.name = context_name.to_owned();
        }
        for c in config.clusters.iter_mut() {
            c.name = context_name.to_owned();
        }
        for c in config.contexts.iter_mut() {
            c.name = context_name.to_owned();
            if let Some(ctx) = c.context.as_mut() {
                ctx.cluster = context_name.to_owned();
                ctx.user = Some(context_name.to_owned());
            }
        }
    }
    Ok(config)
}

/// The Secret holding `config` (already converted).
pub fn secret(
    config: &Kubeconfig,
    name: &str,
    namespace: &str,
    owner: Option<&Owner>,
) -> Result<Secret, KubeconfigError> {
    use base64::Engine as _;
    let decode = |s: &str, what: &'static str| {
        base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|_| KubeconfigError::Base64(what))
    };
    let text = serde_saphyr::to_string(config).map_err(|e| KubeconfigError::Encode(e.to_string()))?;
    let current = config.current_context.clone().unwrap_or_default();
    let context =
        config.contexts.iter().find(|c| c.name == current).or(config.contexts.first()).and_then(|c| c.context.clone());
    let cluster = context
        .as_ref()
        .and_then(|c| config.clusters.iter().find(|n| n.name == c.cluster))
        .and_then(|n| n.cluster.clone());
    let auth = context
        .as_ref()
        .and_then(|c| c.user.as_ref())
        .and_then(|u| config.auth_infos.iter().find(|n| &n.name == u))
        .and_then(|n| n.auth_info.clone());
    let mut data = BTreeMap::new();
    data.insert(KUBECONFIG_KEY.to_owned(), ByteString(text.into_bytes()));
    let ca = match cluster.and_then(|c| c.certificate_authority_data) {
        Some(s) => decode(&s, "certificate-authority-data")?,
        None => Vec::new(),
    };
    let cert = match auth.as_ref().and_then(|a| a.client_certificate_data.clone()) {
        Some(s) => decode(&s, "client-certificate-data")?,
        None => Vec::new(),
    };
    let key = match auth.as_ref().and_then(|a| a.client_key_data.as_ref()) {
        Some(s) => decode(s.expose_secret(), "client-key-data")?,
        None => Vec::new(),
    };
    data.insert(CA_KEY.to_owned(), ByteString(ca));
    data.insert(CERT_KEY.to_owned(), ByteString(cert));
    data.insert(KEY_KEY.to_owned(), ByteString(key));
    let owner_references = owner.map(|o| {
        vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: o.api_version.clone(),
            kind: o.kind.clone(),
            name: o.name.clone(),
            uid: o.uid.clone(),
            controller: Some(false),
            block_owner_deletion: None,
        }]
    });
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            owner_references,
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Secret::default()
    })
}

/// Whether the stored Secret already holds what `desired` holds: the same kubeconfig (compared
/// as documents, so another writer's formatting counts as equal), keys, type and owner.
pub fn up_to_date(existing: &Secret, desired: &Secret) -> bool {
    let parse = |s: &Secret| -> Option<serde_json::Value> {
        let bytes = &s.data.as_ref()?.get(KUBECONFIG_KEY)?.0;
        let config = Kubeconfig::from_yaml(std::str::from_utf8(bytes).ok()?).ok()?;
        serde_json::to_value(config).ok()
    };
    let others = |s: &Secret| -> BTreeMap<String, ByteString> {
        s.data.clone().unwrap_or_default().into_iter().filter(|(k, _)| k != KUBECONFIG_KEY).collect()
    };
    let owners = |s: &Secret| s.metadata.owner_references.clone().unwrap_or_default();
    parse(existing).is_some()
        && parse(existing) == parse(desired)
        && others(existing) == others(desired)
        && existing.type_.as_deref().unwrap_or("Opaque") == desired.type_.as_deref().unwrap_or("Opaque")
        && (desired.metadata.owner_references.is_none() || owners(existing) == owners(desired))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K3S: &str = "apiVersion: v1
clusters:
- cluster:
    certificate-authority: /data/server/tls/server-ca.crt
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate: /data/server/tls/client-admin.crt
    client-key: /data/server/tls/client-admin.key
";

    fn read(path: &str) -> Option<Vec<u8>> {
        Some(format!("PEM of {path}").into_bytes())
    }

    #[test]
    fn converts_like_the_established_syncer() {
        let config =
            convert(Kubeconfig::from_yaml(K3S).unwrap(), "https://localhost:8443", "my-vcluster", &read).unwrap();
        assert_eq!(config.current_context.as_deref(), Some("my-vcluster"));
        assert_eq!(config.clusters[0].name, "my-vcluster");
        assert_eq!(config.clusters[0].cluster.as_ref().unwrap().server.as_deref(), Some("https://localhost:8443"));
        assert_eq!(config.contexts[0].context.as_ref().unwrap().user.as_deref(), Some("my-vcluster"));
        let owner = Owner { api_version: "v1".into(), kind: "Service".into(), name: "my-vc".into(), uid: "u".into() };
        let s = secret(&config, "vc-my-vc", "ns", Some(&owner)).unwrap();
        let data = s.data.as_ref().unwrap();
        assert_eq!(data[CA_KEY].0, b"PEM of /data/server/tls/server-ca.crt");
        assert_eq!(data[CERT_KEY].0, b"PEM of /data/server/tls/client-admin.crt");
        assert_eq!(data[KEY_KEY].0, b"PEM of /data/server/tls/client-admin.key");
        let text = std::str::from_utf8(&data[KUBECONFIG_KEY].0).unwrap();
        let back = Kubeconfig::from_yaml(text).unwrap();
        assert_eq!(back.current_context.as_deref(), Some("my-vcluster"));
        assert_eq!(s.metadata.owner_references.as_ref().unwrap()[0].controller, Some(false));
        assert!(up_to_date(&s, &s));
        let other = secret(
            &convert(Kubeconfig::from_yaml(K3S).unwrap(), "https://x:1", "my-vcluster", &read).unwrap(),
            "vc-my-vc",
            "ns",
            Some(&owner),
        )
        .unwrap();
        assert!(!up_to_date(&s, &other));
        assert_eq!(secret_name("my-vc"), "vc-my-vc");
    }
}
