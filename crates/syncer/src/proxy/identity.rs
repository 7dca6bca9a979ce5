//! Who a request comes from and how that identity reaches the upstream.

use std::collections::BTreeMap;
use std::fmt;

use http::{HeaderMap, HeaderName, HeaderValue};

/// A user the proxy vouches for to the upstream (by impersonation with admin credentials).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
    pub uid: Option<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// The identity a request carries to the upstream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Authenticated here (a verified client certificate, possibly acting as another user after
    /// a checked impersonation): sent with the upstream's admin credentials and `Impersonate-*`.
    User(UserInfo),
    /// An `Authorization` header (bearer token) the upstream authenticates itself; who it is
    /// becomes known only there.
    Token,
    /// No credentials.
    Anonymous,
}

/// The caller of a request: its [`Identity`] and the credentials that carry it upstream.
#[derive(Clone)]
pub struct Caller {
    identity: Identity,
    /// The user of the verified client certificate, when there is one.
    certificate: Option<UserInfo>,
    /// What is sent upstream: the caller's `Authorization` (token identities) or the
    /// `Impersonate-*` headers (user identities).
    credentials: Credentials,
}

#[derive(Clone)]
pub(crate) enum Credentials {
    Impersonate(Vec<(HeaderName, HeaderValue)>),
    Authorization(HeaderValue),
    None,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print tokens.
        f.debug_struct("Caller").field("identity", &self.identity).field("certificate", &self.certificate).finish()
    }
}

/// kube-apiserver's impersonation headers (k8s.io/api/authentication/v1 `ImpersonateUserHeader`
/// and friends); matched case-insensitively, as header names are.
pub(crate) const IMPERSONATE_USER: &str = "impersonate-user";
pub(crate) const IMPERSONATE_GROUP: &str = "impersonate-group";
pub(crate) const IMPERSONATE_UID: &str = "impersonate-uid";
pub(crate) const IMPERSONATE_EXTRA_PREFIX: &str = "impersonate-extra-";

pub(crate) fn is_impersonation_header(name: &HeaderName) -> bool {
    name.as_str().starts_with("impersonate-")
}

impl Caller {
    /// The identity the upstream will see.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The user of the verified client certificate of the connection, if any (differs from
    /// [`Caller::identity`] when that user impersonates someone).
    pub fn certificate_user(&self) -> Option<&UserInfo> {
        self.certificate.as_ref()
    }

    pub(crate) fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The caller of a request on a connection whose client certificate (if any) authenticated
    /// `certificate`. x509 comes first, then the `Authorization` header, as in kube-apiserver's
    /// union authenticator (`pkg/kubeapiserver/authenticator/config.go`).
    pub(crate) fn from_request(certificate: Option<&UserInfo>, headers: &HeaderMap) -> Result<Caller, InvalidIdentity> {
        if let Some(user) = certificate {
            return Ok(Caller {
                identity: Identity::User(user.clone()),
                certificate: Some(user.clone()),
                credentials: Credentials::Impersonate(impersonation_headers(user)?),
            });
        }
        Ok(match headers.get(http::header::AUTHORIZATION) {
            Some(value) => Caller {
                identity: Identity::Token,
                certificate: None,
                credentials: Credentials::Authorization(value.clone()),
            },
            None => Caller::anonymous(),
        })
    }

    /// A caller without credentials.
    pub fn anonymous() -> Caller {
        Caller { identity: Identity::Anonymous, certificate: None, credentials: Credentials::None }
    }

    /// The certificate user acting as `user` after its impersonation was authorized: the
    /// upstream receives exactly the checked headers.
    pub(crate) fn acting_as(&self, user: UserInfo, headers: Vec<(HeaderName, HeaderValue)>) -> Caller {
        Caller {
            identity: Identity::User(user),
            certificate: self.certificate.clone(),
            credentials: Credentials::Impersonate(headers),
        }
    }
}

/// A certificate subject that cannot travel in an HTTP header.
#[derive(Debug, thiserror::Error)]
#[error("the client certificate's subject {0:?} cannot be sent in an HTTP header")]
pub(crate) struct InvalidIdentity(String);

/// `Impersonate-User: <name>`, one `Impersonate-Group` per group, `Impersonate-Uid`, and
/// `Impersonate-Extra-<key>` per extra value (client-go `transport.NewImpersonatingRoundTripper`).
fn impersonation_headers(user: &UserInfo) -> Result<Vec<(HeaderName, HeaderValue)>, InvalidIdentity> {
    let value = |s: &str| HeaderValue::from_bytes(s.as_bytes()).map_err(|_| InvalidIdentity(s.to_string()));
    let mut headers = vec![(HeaderName::from_static(IMPERSONATE_USER), value(&user.name)?)];
    for group in &user.groups {
        headers.push((HeaderName::from_static(IMPERSONATE_GROUP), value(group)?));
    }
    if let Some(uid) = &user.uid {
        headers.push((HeaderName::from_static(IMPERSONATE_UID), value(uid)?));
    }
    for (key, values) in &user.extra {
        let escaped = percent_encoding::utf8_percent_encode(key, EXTRA_KEY_ESCAPE).to_string();
        let name = HeaderName::try_from(format!("{IMPERSONATE_EXTRA_PREFIX}{escaped}"))
            .map_err(|_| InvalidIdentity(key.clone()))?;
        for v in values {
            headers.push((name.clone(), value(v)?));
        }
    }
    Ok(headers)
}

/// Extra keys are percent-encoded in header names (client-go `headerKeyEscape`: everything but
/// RFC 7230 token characters minus `%`).
const EXTRA_KEY_ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'*')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The user of a verified client certificate: CN the name, each O a group
/// (k8s.io/apiserver `pkg/authentication/request/x509/x509.go` `CommonNameUserConversion`).
pub(crate) fn certificate_user(der: &[u8]) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = cert.subject();
    let name = subject.iter_common_name().next()?.as_str().ok()?.to_string();
    if name.is_empty() {
        return None;
    }
    let groups = subject.iter_organization().filter_map(|o| o.as_str().ok()).map(str::to_string).collect();
    Some(UserInfo { name, groups, uid: None, extra: BTreeMap::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_users_impersonate_cn_and_each_o() {
        let user = UserInfo { name: "alice".into(), groups: vec!["devs".into(), "ops".into()], ..Default::default() };
        let caller = Caller::from_request(Some(&user), &HeaderMap::new()).unwrap();
        let Credentials::Impersonate(headers) = caller.credentials() else { panic!("impersonation expected") };
        let rendered: Vec<(String, String)> =
            headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
        assert_eq!(
            rendered,
            [
                ("impersonate-user".to_string(), "alice".to_string()),
                ("impersonate-group".to_string(), "devs".to_string()),
                ("impersonate-group".to_string(), "ops".to_string())
            ]
        );
    }

    #[test]
    fn extra_keys_are_escaped() {
        let mut extra = BTreeMap::new();
        extra.insert("example.com/scopes key".to_string(), vec!["a".to_string()]);
        let user = UserInfo { name: "u".into(), extra, ..Default::default() };
        let headers = impersonation_headers(&user).unwrap();
        assert_eq!(headers[1].0.as_str(), "impersonate-extra-example.com%2fscopes%20key");
    }

    #[test]
    fn tokens_and_nothing() {
        let mut headers = HeaderMap::new();
        assert_eq!(Caller::from_request(None, &headers).unwrap().identity(), &Identity::Anonymous);
        headers.insert(http::header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        let caller = Caller::from_request(None, &headers).unwrap();
        assert_eq!(caller.identity(), &Identity::Token);
        assert!(!format!("{caller:?}").contains("abc"));
    }
}
