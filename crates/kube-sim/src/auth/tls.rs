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

/// Validity from an hour ago (clock skew) for `days`.
fn validity(params: &mut CertificateParams, days: i64) {
    let date = |t: jiff::Timestamp| {
        let d = t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    let now = jiff::Timestamp::now();
    params.not_before = date(now - jiff::SignedDuration::from_hours(24));
    params.not_after = date(now + jiff::SignedDuration::from_hours(24 * days));
}

impl Pki {
    /// A new CA (CommonName `kube-sim-ca`) and a serving certificate for 127.0.0.1,
    /// localhost, the in-cluster names of the `kubernetes` Service and `extra_sans`.
    pub fn generate(extra_sans: &[String]) -> Result<Pki, String> {
        let ca_key = KeyPair::generate().map_err(rcgen_error)?;
        let mut ca = CertificateParams::default();
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name.push(DnType::CommonName, "kube-sim-ca");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        validity(&mut ca, 3650);
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

/// The identity of a verified client certificate: CN the user, O the groups.
pub fn certificate_user(der: &[u8]) -> Option<UserInfo> {
    let (cn, orgs) = subject_names(der)?;
    let groups: Vec<&str> = orgs.iter().map(String::as_str).collect();
    Some(UserInfo::authenticated(&cn, &groups))
}

/// One DER element: (tag, content, rest).
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The subject's CommonName and Organizations of an X.509 certificate (RFC 5280 §4.1).
fn subject_names(der: &[u8]) -> Option<(String, Vec<String>)> {
    const SEQUENCE: u8 = 0x30;
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    let (_, certificate, _) = tlv(der).filter(|(t, _, _)| *t == SEQUENCE)?;
    let (_, tbs, _) = tlv(certificate).filter(|(t, _, _)| *t == SEQUENCE)?;
    let mut fields = tbs;
    let mut elements = Vec::new();
    while let Some((tag, content, rest)) = tlv(fields) {
        elements.push((tag, content));
        fields = rest;
    }
    // [0] version (optional), serialNumber, signature, issuer, validity, subject.
    let skip = usize::from(elements.first()?.0 == 0xa0);
    let (_, subject) = *elements.get(skip + 4)?;
    let mut cn = None;
    let mut orgs = Vec::new();
    let mut rdns = subject;
    while let Some((_, set, rest)) = tlv(rdns) {
        let mut atvs = set;
        while let Some((_, atv, more)) = tlv(atvs) {
            let (_, oid, value) = tlv(atv)?;
            let (_, text, _) = tlv(value)?;
            let text = String::from_utf8_lossy(text).into_owned();
            if oid == CN {
                cn = Some(text);
            } else if oid == O {
                orgs.push(text);
            }
            atvs = more;
        }
        rdns = rest;
    }
    Some((cn?, orgs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;

    fn pem_to_der(pem: &str) -> Result<CertificateDer<'static>, String> {
        use base64::Engine as _;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| e.to_string())?;
        Ok(CertificateDer::from(der))
    }

    #[test]
    fn client_certificates_carry_user_and_groups() {
        let pki = Pki::generate(&[]).unwrap();
        let issued = pki.issue_client("alice", &["devs"]).unwrap();
        let der = pem_to_der(&issued.cert_pem).unwrap();
        let user = certificate_user(&der).unwrap();
        assert_eq!(user.username, "alice");
        assert_eq!(user.groups, ["devs", "system:authenticated"]);
        assert!(pki.issue_client("bob", &["a", "b"]).is_err());
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
