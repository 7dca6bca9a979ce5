//! HTTPS: a CA generated per simulator, a serving certificate signed by it, client
//! certificates for any user and groups, and the client-certificate authenticator
//! (staging/src/k8s.io/apiserver/pkg/authentication/request/x509/x509.go `CommonNameUserConversion`:
//! the subject's CommonName is the user, its Organizations the groups).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use super::UserInfo;

/// A certificate and its private key, PEM-encoded.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The simulator's certificate authority and serving configuration.
pub struct Pki {
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    server: Arc<rustls::ServerConfig>,
}

fn rcgen_error(e: rcgen::Error) -> String {
    format!("cannot generate certificates: {e}")
}

/// Validity from a day ago (clock skew) for `days`.
fn validity(params: &mut CertificateParams, days: i64) {
    let date = |t: jiff::Timestamp| {
        let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    let now = jiff::Timestamp::now();
    params.not_before = date(now - jiff::SignedDuration::from_hours(24));
    params.not_after = date(now + jiff::SignedDuration::from_hours(24 * days));
}

/// A self-signed CA certificate (CommonName `kube-sim-ca`, PEM) of its own, its key thrown
/// away: the root CA a plain-HTTP simulator publishes in `kube-root-ca.crt`.
pub fn generate_ca_pem() -> Result<String, String> {
    let key = KeyPair::generate().map_err(rcgen_error)?;
    Ok(ca_params().self_signed(&key).map_err(rcgen_error)?.pem())
}

fn ca_params() -> CertificateParams {
    let mut ca = CertificateParams::default();
    ca.distinguished_name = rcgen::DistinguishedName::new();
    ca.distinguished_name.push(DnType::CommonName, "kube-sim-ca");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut ca, 3650);
    ca
}

impl Pki {
    /// A new CA (CommonName `kube-sim-ca`) and a serving certificate for 127.0.0.1,
    /// localhost, the in-cluster names of the `kubernetes` Service and `extra_sans`.
    pub fn generate(extra_sans: &[String]) -> Result<Pki, String> {
        let ca_key = KeyPair::generate().map_err(rcgen_error)?;
        let ca = ca_params();
        let ca_cert = ca.self_signed(&ca_key).map_err(rcgen_error)?;
        let ca_pem = ca_cert.pem();
        let ca_der = ca_cert.der().clone();
        let issuer = Issuer::new(ca, ca_key);

        // kube-apiserver's default serving SANs (cmd/kube-apiserver/app/options: the
        // kubernetes Service names) plus where the simulator listens.
        let mut sans: Vec<String> =
            ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        sans.push("kubernetes.default.svc.cluster.local".into());
        sans.extend(extra_sans.iter().filter(|s| !s.is_empty()).cloned());
        let mut params = CertificateParams::new(sans).map_err(rcgen_error)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, 365);
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let cert = params.signed_by(&key, &issuer).map_err(rcgen_error)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_der).map_err(|e| format!("cannot trust the generated CA: {e}"))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| format!("cannot build the client-certificate verifier: {e}"))?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot configure TLS: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert.der().clone()], key_der)
            .map_err(|e| format!("cannot configure TLS: {e}"))?;
        // HTTP/1.1 only: upgrades (port-forward) need it, and clients fall back to it.
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Pki { ca_pem, issuer, server: Arc::new(server) })
    }

    /// The CA certificate clients trust (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
    }

    /// A client certificate authenticating as `user` with at most one group (CN and O;
    /// rcgen keeps one value per attribute type).
    pub fn issue_client(&self, user: &str, groups: &[&str]) -> Result<CertifiedKey, String> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        match groups {
            [] => {}
            [group] => params.distinguished_name.push(DnType::OrganizationName, *group),
            _ => return Err(format!("a client certificate carries at most one group, not {groups:?}")),
        }
        params.distinguished_name.push(DnType::CommonName, user);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, 365);
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(rcgen_error)?;
        Ok(CertifiedKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

/// The identity of a verified client certificate: CN the user, O the groups (as Go's
/// `pkix.Name` reads a subject: the last CommonName, every Organization in order).
pub fn certificate_user(der: &[u8]) -> Option<UserInfo> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let subject = certificate.subject();
    let cn = subject.iter_common_name().filter_map(|a| a.as_str().ok()).last()?;
    let groups: Vec<&str> = subject.iter_organization().filter_map(|a| a.as_str().ok()).collect();
    Some(UserInfo::authenticated(cn, &groups))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_carry_user_and_groups() {
        let pki = Pki::generate(&[]).unwrap();
        let issued = pki.issue_client("alice", &["devs"]).unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(issued.cert_pem.as_bytes()).unwrap();
        let user = certificate_user(&pem.contents).unwrap();
        assert_eq!(user.username, "alice");
        assert_eq!(user.groups, ["devs", "system:authenticated"]);
        assert!(pki.issue_client("bob", &["a", "b"]).is_err());
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
