//! A connection to a cluster: a client, and the context, server and namespace it points at.

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::error::{ClusterError, classify};
use super::timeout::RequestTimeout;
use crate::kubeconfig::{Kind, Loaded};

/// The context name reported when the in-cluster service account is used.
pub(crate) const IN_CLUSTER_CONTEXT: &str = "in-cluster";

/// A connected cluster: the client and what it points at.
#[derive(Clone)]
pub(crate) struct Connection {
    pub(crate) client: kube::Client,
    /// The kube context used ([`IN_CLUSTER_CONTEXT`] in a pod).
    pub(crate) context: String,
    /// The API server URL.
    pub(crate) server: String,
    /// `-n`, else the context's namespace, else `default`.
    pub(crate) namespace: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// Where the client configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Kubeconfig { context: String },
    InCluster,
}

impl Connection {
    /// Build the client. No request is made: an unreachable server shows on the first request,
    /// whose error [`Connection::error`] classifies.
    pub(crate) async fn connect(
        loaded: &Loaded,
        context: Option<&str>,
        namespace: Option<&str>,
        request_timeout: std::time::Duration,
    ) -> Result<Connection, ClusterError> {
        let (config, context) = match source(loaded, context)? {
            Source::Kubeconfig { context } => (kubeconfig_config(loaded, &context).await?, context),
            Source::InCluster => {
                let config = kube::Config::incluster().map_err(|e| ClusterError::NoConfiguration {
                    searched: format!("{}; in-cluster: {e}", searched(loaded)),
                })?;
                (config, IN_CLUSTER_CONTEXT.to_owned())
            }
        };
        let server = config.cluster_url.to_string().trim_end_matches('/').to_owned();
        let namespace = namespace.map_or_else(|| config.default_namespace.clone(), str::to_owned);
        // Every request bounded (the client itself sets no read timeout); 0 leaves it unbounded.
        let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| classify(e, &context, &server))?;
        let client = if request_timeout.is_zero() {
            builder.build()
        } else {
            builder.with_layer(&RequestTimeout(request_timeout)).build()
        };
        Ok(Connection { client, context, server, namespace })
    }

    /// Classify an error of a request made with this cluster's client.
    pub(crate) fn error(&self, err: kube::Error) -> ClusterError {
        classify(err, &self.context, &self.server)
    }
}

/// client-go's choice (`DeferredLoadingClientConfig`): in-cluster when the kubeconfig files define
/// nothing and no context is asked for; else the asked-for or current context, which must exist.
fn source(loaded: &Loaded, context: Option<&str>) -> Result<Source, ClusterError> {
    if let (Some(path), Some(file)) = (loaded.sources().explicit(), loaded.files().first())
        && !file.exists
    {
        return Err(ClusterError::KubeconfigMissing { path: path.display().to_string() });
    }
    if loaded.is_empty() && context.is_none() {
        return Ok(Source::InCluster);
    }
    let available = || loaded.names(Kind::Context).into_iter().map(str::to_owned).collect();
    let context = context
        .or(loaded.current_context())
        .ok_or_else(|| ClusterError::NoCurrentContext { available: available() })?;
    if loaded.entry(Kind::Context, context).is_none() {
        return Err(ClusterError::ContextNotFound { context: context.to_owned(), available: available() });
    }
    Ok(Source::Kubeconfig { context: context.to_owned() })
}

async fn kubeconfig_config(loaded: &Loaded, context: &str) -> Result<kube::Config, ClusterError> {
    let invalid = |detail: String| ClusterError::InvalidContext { context: context.to_owned(), detail };
    let kubeconfig: Kubeconfig =
        serde_json::from_value(loaded.client_document()).map_err(|e| invalid(e.to_string()))?;
    let options = KubeConfigOptions { context: Some(context.to_owned()), ..KubeConfigOptions::default() };
    kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| invalid(e.to_string()))
}

fn searched(loaded: &Loaded) -> String {
    let files: Vec<String> = loaded.files().iter().map(|f| f.path.display().to_string()).collect();
    if files.is_empty() {
        "no kubeconfig path: HOME and KUBECONFIG are unset".into()
    } else {
        format!("looked at {}", files.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubeconfig::{Document, Sources};
    use k8s_openapi::api::core::v1::Secret;
    use kube::Api;
    use std::path::Path;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::cluster::timeout::DEFAULT_REQUEST_TIMEOUT as REQUEST_TIMEOUT;
    use tokio::net::TcpListener;

    fn loaded_for(server: &str, extra: &str) -> Loaded {
        let text = format!(
            "clusters:\n- name: c\n  cluster: {{server: '{server}'{extra}}}\nusers:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: dev\n  context: {{cluster: c, user: u, namespace: team-a, extensions: [{{name: vcluster.loft.sh/connect, extension: {{vcluster: v}}}}]}}\n- name: bare\n  context: {{cluster: c, user: u}}\ncurrent-context: dev\n"
        );
        Loaded::new(Sources::new(Some("/k".into()), None, None), vec![Document::parse(Path::new("/k"), &text).unwrap()])
    }

    #[tokio::test]
    async fn context_and_namespace_resolution() {
        let loaded = loaded_for("https://127.0.0.1:1", "");
        let c = Connection::connect(&loaded, None, None, REQUEST_TIMEOUT).await.unwrap();
        assert_eq!(
            (c.context.as_str(), c.server.as_str(), c.namespace.as_str()),
            ("dev", "https://127.0.0.1:1", "team-a")
        );
        let c = Connection::connect(&loaded, Some("bare"), None, REQUEST_TIMEOUT).await.unwrap();
        assert_eq!(c.namespace, "default");
        let c = Connection::connect(&loaded, None, Some("flag-ns"), REQUEST_TIMEOUT).await.unwrap();
        assert_eq!(c.namespace, "flag-ns");
        let err = Connection::connect(&loaded, Some("nope"), None, REQUEST_TIMEOUT).await.unwrap_err();
        assert!(
            matches!(&err, ClusterError::ContextNotFound { available, .. } if available == &["dev", "bare"]),
            "{err:?}"
        );
        assert_eq!(err.hint().unwrap(), "pass --context with one of: dev, bare");
    }

    #[test]
    fn in_cluster_only_when_the_kubeconfig_defines_nothing() {
        let empty = Loaded::new(
            Sources::new(None, None, Some(Path::new("/nonexistent-home"))),
            vec![Document::missing(Path::new("/nonexistent-home/.kube/config"))],
        );
        assert_eq!(source(&empty, None).unwrap(), Source::InCluster);
        assert!(matches!(
            source(&empty, Some("x")),
            Err(ClusterError::NoCurrentContext { .. }) | Err(ClusterError::ContextNotFound { .. })
        ));
        let no_current = Loaded::new(
            Sources::new(Some("/k".into()), None, None),
            vec![Document::parse(Path::new("/k"), "contexts:\n- name: a\n  context: {}\n").unwrap()],
        );
        assert!(
            matches!(source(&no_current, None), Err(ClusterError::NoCurrentContext { available }) if available == ["a"])
        );
        let missing =
            Loaded::new(Sources::new(Some("/nope".into()), None, None), vec![Document::missing(Path::new("/nope"))]);
        assert!(matches!(source(&missing, None), Err(ClusterError::KubeconfigMissing { .. })));
    }

    /// Serve one canned HTTP response per connection, after reading the request (or at once).
    async fn responder(response: String) -> String {
        serve(response, true).await
    }

    async fn serve(response: String, read_request_first: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut seen = Vec::new();
                    while read_request_first && !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        format!("127.0.0.1:{}", addr.port())
    }

    fn status_response(code: u16, text: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {code} {text}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    async fn list_secrets(cluster: &Connection) -> ClusterError {
        let api: Api<Secret> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        cluster.error(api.list(&Default::default()).await.unwrap_err())
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable_naming_context_and_server() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let server = format!("http://127.0.0.1:{port}");
        let cluster = Connection::connect(&loaded_for(&server, ""), None, None, REQUEST_TIMEOUT).await.unwrap();
        let err = list_secrets(&cluster).await;
        assert!(matches!(err, ClusterError::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("cannot reach the cluster of context \"dev\" at {server}: ")), "{text}");
        assert!(err.hint().unwrap().contains("reachable"));
    }

    #[tokio::test]
    async fn a_plain_http_server_behind_https_is_a_tls_failure() {
        // Answers the TLS ClientHello with plain HTTP.
        let addr = serve("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".into(), false).await;
        let cluster = Connection::connect(
            &loaded_for(&format!("https://{addr}"), ", insecure-skip-tls-verify: true"),
            None,
            None,
            REQUEST_TIMEOUT,
        )
        .await
        .unwrap();
        let err = list_secrets(&cluster).await;
        assert!(matches!(err, ClusterError::Tls { .. }), "{err:?}");
    }

    /// A server whose certificate another authority signed: the handshake fails inside kube's own
    /// rustls, and the error is classified as TLS (were kube to move to another rustls, the
    /// classification would stop matching here, not only in production).
    #[tokio::test]
    async fn a_server_certificate_from_another_authority_is_a_tls_failure() {
        use base64::Engine as _;
        let tls = || kube_sim::SimConfig { tls: true, ..kube_sim::SimConfig::default() };
        let server = kube_sim::Simulator::start_with(tls()).await.unwrap();
        let other = kube_sim::Simulator::start_with(tls()).await.unwrap();
        let ca = base64::engine::general_purpose::STANDARD.encode(other.ca_pem().unwrap());
        let loaded = loaded_for(server.url(), &format!(", certificate-authority-data: {ca}"));
        let err = list_secrets(&Connection::connect(&loaded, None, None, REQUEST_TIMEOUT).await.unwrap()).await;
        assert!(matches!(err, ClusterError::Tls { .. }), "{err:?}");
        assert!(err.hint().unwrap().contains("certificate"), "{err:?}");
    }

    #[tokio::test]
    async fn status_401_is_unauthorized() {
        let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;
        let addr = responder(status_response(401, "Unauthorized", body)).await;
        let cluster =
            Connection::connect(&loaded_for(&format!("http://{addr}"), ""), None, None, REQUEST_TIMEOUT).await.unwrap();
        let err = list_secrets(&cluster).await;
        assert!(matches!(err, ClusterError::Unauthorized { .. }), "{err:?}");
        assert!(err.hint().unwrap().contains("expired"));
    }

    #[tokio::test]
    async fn status_403_names_the_denied_access() {
        let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets is forbidden: User \"system:serviceaccount:ci:deployer\" cannot list resource \"secrets\" in API group \"\" in the namespace \"team-a\"","reason":"Forbidden","details":{"kind":"secrets"},"code":403}"#;
        let addr = responder(status_response(403, "Forbidden", body)).await;
        let cluster =
            Connection::connect(&loaded_for(&format!("http://{addr}"), ""), None, None, REQUEST_TIMEOUT).await.unwrap();
        let err = list_secrets(&cluster).await;
        let ClusterError::Forbidden { access: Some(access), context, .. } = &err else { panic!("{err:?}") };
        assert_eq!((access.verb.as_str(), access.resource.as_str(), context.as_str()), ("list", "secrets", "dev"));
        assert!(err.hint().unwrap().contains("kubectl auth can-i list secrets -n team-a"));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_fails_the_request_in_bounded_time() {
        // Accepts connections, reads, never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let bound = std::time::Duration::from_millis(300);
        let cluster = Connection::connect(&loaded_for(&format!("http://{addr}"), ""), None, None, bound).await.unwrap();
        let started = std::time::Instant::now();
        let err = tokio::time::timeout(std::time::Duration::from_secs(20), list_secrets(&cluster))
            .await
            .expect("the request is bounded");
        assert!(started.elapsed() >= bound);
        assert!(matches!(err, ClusterError::Unreachable { .. }), "{err:?}");
        // The cause a person can act on, not kube's wrappers; the chain stays under the source.
        let text = err.to_string();
        assert!(text.contains("did not answer within"), "{text}");
        assert!(!text.contains("ServiceError"), "{text}");
        assert!(std::error::Error::source(&err).is_some());
    }
}
