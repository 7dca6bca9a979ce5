//! `connect --service-account [NS/]NAME`: a token for a service account of the virtual cluster
//! instead of its admin certificate; with `--cluster-role`, the account (and a ClusterRoleBinding to
//! that role) is created when missing. (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/connect.go`
//! `getServiceAccountToken`)

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{DeleteParams, ObjectMeta, PostParams};

use super::AccessError;
use crate::translate::safe_concat_name;

/// The namespace of `--service-account NAME` without one.
pub(crate) const DEFAULT_NAMESPACE: &str = "kube-system";
/// The token's audiences, as the established CLI requests them.
pub(crate) const AUDIENCES: [&str; 3] =
    ["https://kubernetes.default.svc.cluster.local", "https://kubernetes.default.svc", "https://kubernetes.default"];
/// `--token-expiration 0`: ten years, as the established CLI.
pub(crate) const DEFAULT_EXPIRATION_SECONDS: i64 = 10 * 365 * 24 * 60 * 60;

/// `[NS/]NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl Account {
    pub(crate) fn parse(text: &str) -> Result<Account, String> {
        let (namespace, name) = text.split_once('/').unwrap_or((DEFAULT_NAMESPACE, text));
        for (what, value) in [("namespace", namespace), ("name", name)] {
            if let Some(problem) = crate::values::check_namespace(value) {
                return Err(format!("--service-account {text:?}: invalid {what}: {}", problem.message));
            }
        }
        Ok(Account { namespace: namespace.into(), name: name.into() })
    }

    /// `vcluster-sa-<name>-<namespace>`, hashed past 63 characters.
    pub(crate) fn binding_name(&self) -> String {
        safe_concat_name(&["vcluster", "sa", &self.name, &self.namespace])
    }
}

/// A token for `account` through `client` (the virtual cluster's admin), valid for
/// `expiration_seconds` (0: [`DEFAULT_EXPIRATION_SECONDS`]).
pub(crate) async fn token(
    client: &kube::Client,
    account: &Account,
    cluster_role: Option<&str>,
    expiration_seconds: i64,
) -> Result<String, AccessError> {
    let failed = |what: &str, e: kube::Error| AccessError::ServiceAccount(format!("{what}: {e}"));
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &account.namespace);
    let exists = accounts.get_opt(&account.name).await.map_err(|e| failed("cannot read the service account", e))?;
    match (exists, cluster_role) {
        (Some(_), _) => {}
        (None, Some(_)) => {
            let new = ServiceAccount {
                metadata: ObjectMeta { name: Some(account.name.clone()), ..ObjectMeta::default() },
                ..ServiceAccount::default()
            };
            match accounts.create(&PostParams::default(), &new).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => {
                    return Err(failed(
                        &format!("cannot create service account {}/{}", account.namespace, account.name),
                        e,
                    ));
                }
            }
        }
        (None, None) => {
            return Err(AccessError::ServiceAccount(format!(
                "service account {}/{} does not exist in the virtual cluster (create it, or pass --cluster-role to have it created)",
                account.namespace, account.name
            )));
        }
    }
    if let Some(role) = cluster_role {
        bind(client, account, role).await?;
    }
    let expiration = if expiration_seconds > 0 { expiration_seconds } else { DEFAULT_EXPIRATION_SECONDS };
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: AUDIENCES.iter().map(|a| (*a).to_owned()).collect(),
            expiration_seconds: Some(expiration),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    let granted = accounts
        .create_token_request(&account.name, &PostParams::default(), &request)
        .await
        .map_err(|e| failed("the TokenRequest failed", e))?;
    granted
        .status
        .map(|s| s.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AccessError::ServiceAccount("the TokenRequest returned no token".into()))
}

/// The ClusterRoleBinding `vcluster-sa-<name>-<ns>` to `role`; one bound to another role is
/// replaced (roleRef is immutable).
async fn bind(client: &kube::Client, account: &Account, role: &str) -> Result<(), AccessError> {
    let failed = |e: kube::Error| AccessError::ServiceAccount(format!("cannot bind cluster role {role}: {e}"));
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let name = account.binding_name();
    if let Some(existing) = bindings.get_opt(&name).await.map_err(failed)? {
        if existing.role_ref.name == role && existing.role_ref.kind == "ClusterRole" {
            return Ok(());
        }
        bindings.delete(&name, &DeleteParams::default()).await.map_err(failed)?;
    }
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta { name: Some(name), ..ObjectMeta::default() },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: account.name.clone(),
            namespace: Some(account.namespace.clone()),
            ..Subject::default()
        }]),
    };
    bindings.create(&PostParams::default(), &binding).await.map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_parse_with_the_established_default_namespace() {
        assert_eq!(Account::parse("ci").unwrap(), Account { namespace: "kube-system".into(), name: "ci".into() });
        assert_eq!(Account::parse("team/ci").unwrap(), Account { namespace: "team".into(), name: "ci".into() });
        assert!(Account::parse("a/b/c").unwrap_err().contains("invalid name"));
        assert!(Account::parse("Team/ci").unwrap_err().contains("invalid namespace"));
    }

    #[test]
    fn binding_names_are_safe_concatenations() {
        let a = Account { namespace: "kube-system".into(), name: "ci".into() };
        assert_eq!(a.binding_name(), "vcluster-sa-ci-kube-system");
    }
}
