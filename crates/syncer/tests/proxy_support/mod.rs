//! Shared by the proxy tests: certificate authorities, TLS clients of the proxy, and starting it.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::client::TlsStream;
use tokio_util::sync::CancellationToken;
use vcluster_syncer::proxy::{self, CaMaterial, ProxyConfig, ProxyError};

/// Generous bound for anything a test waits for.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// A certificate authority that issues server and client certificates.
pub struct Ca {
    pub material: CaMaterial,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, PEM.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap();
        let material = CaMaterial { cert_pem: cert.pem(), key_pem: key.serialize_pem() };
        Ca { material, issuer: Issuer::new(params, key) }
    }

    pub fn client(&self, user: &str, groups: &[&str]) -> Pem {
        let mut params = CertificateParams::default();
        for group in groups {
            params.distinguished_name.push(DnType::OrganizationName, *group);
        }
        params.distinguished_name.push(DnType::CommonName, user);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    pub fn server(&self, names: &[&str]) -> Pem {
        let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "test-upstream");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Pem {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pem { cert: cert.pem(), key: key.serialize_pem() }
    }

    pub fn der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(self.material.cert_pem.as_bytes()).unwrap()
    }
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn chain(pem: &Pem) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let certs = CertificateDer::pem_slice_iter(pem.cert.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    (certs, PrivateKeyDer::from_pem_slice(pem.key.as_bytes()).unwrap())
}

/// A TLS connection to `addr` trusting `ca`, for `server_name`, presenting `client` if given.
pub async fn tls_connect(
    addr: SocketAddr,
    ca: &Ca,
    server_name: &str,
    client: Option<&Pem>,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Some(pem) => {
            let (certs, key) = chain(pem);
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await?;
    connector.connect(ServerName::try_from(server_name.to_string()).unwrap(), tcp).await
}

/// One request over a fresh HTTP/1.1 connection (upgrades allowed).
pub async fn send_h1(stream: TlsStream<TcpStream>, request: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.with_upgrades().await;
    });
    sender.send_request(request).await
}

/// One request over a fresh HTTP/2 connection.
pub async fn send_h2(stream: TlsStream<TcpStream>, request: Request<Full<Bytes>>) -> hyper::Result<Response<Incoming>> {
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    sender.send_request(request).await
}

pub async fn body_text(response: Response<Incoming>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

pub fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path).header("host", "localhost").body(Full::new(Bytes::new())).unwrap()
}

/// A running proxy and its controls.
pub struct Running {
    pub addr: SocketAddr,
    /// Signs the serving certificate (clients trust it).
    pub server_ca: Ca,
    /// Signs client certificates the proxy accepts.
    pub client_ca: Ca,
    pub sans: watch::Sender<BTreeSet<String>>,
    pub ready: watch::Sender<bool>,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<(), ProxyError>>,
}

/// Start the proxy in front of `upstream`, `adjust` changing the configuration first.
pub async fn start_proxy(upstream: kube::Config, adjust: impl FnOnce(&mut ProxyConfig)) -> Running {
    start_proxy_with_cas(upstream, Ca::new("server-ca"), Ca::new("client-ca"), adjust).await
}

pub async fn start_proxy_with_cas(
    upstream: kube::Config,
    server_ca: Ca,
    client_ca: Ca,
    adjust: impl FnOnce(&mut ProxyConfig),
) -> Running {
    let (sans, sans_rx) = watch::channel(BTreeSet::from(["vc.example".to_string()]));
    let (ready, ready_rx) = watch::channel(false);
    let mut config = ProxyConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        upstream,
        server_ca.material.clone(),
        client_ca.material.cert_pem.clone(),
        sans_rx,
    );
    config.connect_timeout = Duration::from_millis(500);
    adjust(&mut config);
    let bound = proxy::bind(config).await.unwrap();
    let addr = bound.local_addr();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(bound.run(ready_rx, shutdown.clone()));
    Running { addr, server_ca, client_ca, sans, ready, shutdown, task }
}

impl Running {
    pub async fn connect(&self, client: Option<&Pem>) -> TlsStream<TcpStream> {
        tls_connect(self.addr, &self.server_ca, "localhost", client, &[b"http/1.1"]).await.unwrap()
    }
}
