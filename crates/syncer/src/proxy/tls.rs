//! The serving side of TLS: a certificate signed by the virtual cluster's server CA, re-issued
//! when the SANs change (loft-sh/vcluster v0.15.x `pkg/server/cert/syncer.go` and `cert.go`), and
//! the client-certificate verifier.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use super::body::BoxError;
use super::config::CaMaterial;
use super::error::ProxyError;

/// How long an issued serving certificate is valid (client-go's `certutil` default, one year);
/// it is re-issued after half of that.
const VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
pub(crate) const RENEW_AFTER: Duration = Duration::from_secs(VALIDITY.as_secs() / 2);

/// The TLS configuration of the endpoint and the certificate it currently serves.
pub(crate) struct ServingTls {
    issuing: Issuing,
    resolver: Arc<CurrentCert>,
    config: Arc<rustls::ServerConfig>,
}

/// What issuing a serving certificate needs.
struct Issuing {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    cluster_domain: String,
    provider: Arc<CryptoProvider>,
}

/// The certificate handed to every handshake; swapped when re-issued.
struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl fmt::Debug for CurrentCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentCert")
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // A poisoned lock still holds a complete certificate: serve it.
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

impl ServingTls {
    pub(crate) fn new(
        ca: &CaMaterial,
        client_ca_pem: &str,
        cluster_domain: &str,
        sans: &BTreeSet<String>,
    ) -> Result<ServingTls, ProxyError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (issuer, ca_der) = load_ca(ca)?;
        let issuing =
            Issuing { issuer, ca_der, cluster_domain: cluster_domain.to_string(), provider: provider.clone() };
        let resolver = Arc::new(CurrentCert(RwLock::new(issuing.issue(sans)?)));

        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(ProxyError::Tls)?;
        let builder = if client_ca_pem.trim().is_empty() {
            builder.with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()) {
                let cert = cert.map_err(|e| ProxyError::ClientCa(e.into()))?;
                roots.add(cert).map_err(|e| ProxyError::ClientCa(e.into()))?;
            }
            // A client certificate is optional (tokens, anonymous, probes); one that is presented
            // must verify, or the handshake fails: kube-apiserver answers 401 to a certificate it
            // cannot verify (x509 authenticator errors are not skipped over to anonymous), so no
            // request from an unverifiable certificate is ever served there either.
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| ProxyError::ClientCa(e.into()))?;
            builder.with_client_cert_verifier(verifier)
        };
        let mut config = builder.with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(ServingTls { issuing, resolver, config: Arc::new(config) })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }

    /// Issue a certificate for `sans` and serve it from the next handshake on.
    pub(crate) fn reissue(&self, sans: &BTreeSet<String>) -> Result<(), ProxyError> {
        let certified = self.issuing.issue(sans)?;
        *self.resolver.0.write().unwrap_or_else(|e| e.into_inner()) = certified;
        Ok(())
    }

    #[cfg(test)]
    fn current(&self) -> Arc<CertifiedKey> {
        self.resolver.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Issuing {
    /// A certificate for kube-apiserver's default names plus `sans` (`pkg/server/cert/cert.go`
    /// `GenServingCerts`: CN kube-apiserver, server auth, the CA appended to the chain).
    fn issue(&self, sans: &BTreeSet<String>) -> Result<Arc<CertifiedKey>, ProxyError> {
        let mut names: Vec<String> = vec![
            format!("kubernetes.default.svc.{}", self.cluster_domain),
            "kubernetes.default.svc".into(),
            "kubernetes.default".into(),
            "kubernetes".into(),
            "localhost".into(),
            "127.0.0.1".into(),
        ];
        for san in sans {
            let san = san.trim();
            if !san.is_empty() && !names.iter().any(|n| n == san) {
                names.push(san.to_string());
            }
        }
        let mut params = CertificateParams::default();
        for name in &names {
            match san_type(name) {
                Some(san) => params.subject_alt_names.push(san),
                None => tracing::warn!(name, "not a DNS name or IP address; left out of the serving certificate"),
            }
        }
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "kube-apiserver");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = SystemTime::now();
        // An hour of slack for clocks behind ours.
        params.not_before = (now - Duration::from_secs(3600)).into();
        params.not_after = (now + VALIDITY).into();
        // A new key per issue, as upstream's regeneration does; issues are rare (SAN changes).
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(ProxyError::Issue)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(ProxyError::Issue)?;
        let signing = self
            .provider
            .key_provider
            .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
            .map_err(ProxyError::Tls)?;
        tracing::info!(sans = ?names, "serving certificate issued");
        Ok(Arc::new(CertifiedKey::new(vec![cert.der().clone(), self.ca_der.clone()], signing)))
    }
}

fn san_type(name: &str) -> Option<SanType> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Some(SanType::IpAddress(ip));
    }
    // rcgen checks IA5; reject what no client could match anyway.
    let valid = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*' || b == b'_')
    });
    if !valid || name.len() > 253 {
        return None;
    }
    name.to_string().try_into().ok().map(SanType::DnsName)
}

/// The issuer (subject and key identifier of the CA certificate) and the CA's DER.
fn load_ca(ca: &CaMaterial) -> Result<(Issuer<'static, KeyPair>, CertificateDer<'static>), ProxyError> {
    let err = |what: &'static str| move |e: BoxError| ProxyError::ServerCa { what, source: Some(e) };
    let ca_der = CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes())
        .next()
        .ok_or(ProxyError::ServerCa { what: "no CERTIFICATE block in the certificate PEM", source: None })?
        .map_err(|e| err("the certificate PEM does not parse")(Box::new(e)))?;
    let key = PrivateKeyDer::from_pem_slice(ca.key_pem.as_bytes())
        .map_err(|e| err("the key PEM does not parse")(Box::new(e)))?;
    let pkcs8 = to_pkcs8(&key).ok_or(ProxyError::ServerCa { what: "unsupported private key type", source: None })?;
    let key = KeyPair::try_from(&PrivatePkcs8KeyDer::from(pkcs8))
        .map_err(|e| err("the private key is not usable for signing")(Box::new(e)))?;
    let issuer =
        Issuer::from_ca_cert_der(&ca_der, key).map_err(|e| err("the certificate does not parse")(Box::new(e)))?;
    Ok((issuer, ca_der))
}

/// PKCS#8 for what ring signs with: k3s writes its CA keys as SEC1 (`EC PRIVATE KEY`,
/// client-go `certutil.MakeEllipticPrivateKeyPEM`), kubeadm as PKCS#1 (`RSA PRIVATE KEY`).
fn to_pkcs8(key: &PrivateKeyDer<'_>) -> Option<Vec<u8>> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const RSA_ENCRYPTION: &[u8] = &[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let (algorithm, inner) = match key {
        PrivateKeyDer::Pkcs8(k) => return Some(k.secret_pkcs8_der().to_vec()),
        PrivateKeyDer::Sec1(k) => {
            // RFC 5915: ECPrivateKey ::= SEQUENCE { version, privateKey, [0] parameters, [1] publicKey }.
            let der = k.secret_sec1_der();
            let curve = sec1_curve(der).unwrap_or(P256);
            ([EC_PUBLIC_KEY, curve].concat(), der)
        }
        PrivateKeyDer::Pkcs1(k) => (RSA_ENCRYPTION.to_vec(), k.secret_pkcs1_der()),
        _ => return None,
    };
    // RFC 5208: PrivateKeyInfo ::= SEQUENCE { version 0, AlgorithmIdentifier, OCTET STRING key }.
    let body = [&[0x02, 0x01, 0x00][..], &der_tlv(0x30, &algorithm), &der_tlv(0x04, inner)].concat();
    Some(der_tlv(0x30, &body))
}

/// The named-curve OID TLV in an ECPrivateKey's `[0] parameters`, when present.
fn sec1_curve(der: &[u8]) -> Option<&[u8]> {
    let (tag, mut fields, _) = read_tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    while let Some((tag, content, rest)) = read_tlv(fields) {
        if tag == 0xa0 {
            return Some(content);
        }
        fields = rest;
    }
    None
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// One DER element: (tag, content, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, IsCa};

    fn ca() -> (CaMaterial, KeyPair) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "k3s-server-ca@1700000000");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap();
        (CaMaterial { cert_pem: cert.pem(), key_pem: key.serialize_pem() }, key)
    }

    /// The ECPrivateKey inside a PKCS#8 EC key, as k3s writes its CA keys.
    fn sec1_pem(key: &KeyPair) -> String {
        use base64::Engine as _;
        let der = key.serialize_der();
        let (_, info, _) = read_tlv(&der).unwrap();
        let (_, _, rest) = read_tlv(info).unwrap(); // version
        let (_, _, rest) = read_tlv(rest).unwrap(); // algorithm
        let (_, sec1, _) = read_tlv(rest).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(sec1);
        let pem = format!("-----BEGIN EC PRIVATE KEY-----\n{b64}\n-----END EC PRIVATE KEY-----\n");
        assert!(matches!(PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap(), PrivateKeyDer::Sec1(_)));
        pem
    }

    #[test]
    fn sec1_ca_keys_sign_like_pkcs8_ones() {
        let (mut material, key) = ca();
        material.key_pem = sec1_pem(&key);
        let tls = ServingTls::new(&material, "", "cluster.local", &BTreeSet::from(["10.0.0.1".to_string()])).unwrap();
        let current = tls.current();
        assert_eq!(current.cert.len(), 2, "leaf and CA");
        let (_, leaf) = x509_parser::parse_x509_certificate(&current.cert[0]).unwrap();
        let (_, ca) = x509_parser::parse_x509_certificate(&current.cert[1]).unwrap();
        assert_eq!(leaf.issuer(), ca.subject());
        leaf.verify_signature(Some(ca.public_key())).unwrap();
        let sans = leaf
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>();
        assert!(sans.contains(&"DNSName(kubernetes.default.svc.cluster.local)".to_string()), "{sans:?}");
        assert!(sans.contains(&"IPAddress(0a:00:00:01)".to_string()), "{sans:?}");
    }

    #[test]
    fn bad_sans_are_left_out_not_fatal() {
        let (material, _) = ca();
        let sans = BTreeSet::from(["ok.example".to_string(), "not valid!".to_string(), String::new()]);
        assert!(ServingTls::new(&material, "", "cluster.local", &sans).is_ok());
    }

    #[test]
    fn unusable_cas_are_errors() {
        let (mut material, _) = ca();
        material.key_pem = "nonsense".into();
        assert!(matches!(ServingTls::new(&material, "", "c", &BTreeSet::new()), Err(ProxyError::ServerCa { .. })));
        let (material, _) = ca();
        let err = ServingTls::new(
            &material,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "c",
            &BTreeSet::new(),
        );
        assert!(matches!(err, Err(ProxyError::ClientCa(_))));
    }
}
