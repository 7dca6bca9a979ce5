//! Reaching a virtual cluster from outside: its credentials (Secret `vc-<name>`, written by the
//! syncer once the virtual API answers), the port its API listens on in the pod, a LoadBalancer
//! address when it has one, a client for it through whatever URL reaches it, the check that the API
//! answers there, and a service account token instead of the admin certificate.
//! (loft-sh/vcluster v0.19 `cmd/vclusterctl/cmd/connect.go`, `pkg/util/kubeconfig/kubeconfig.go`)

pub(crate) mod command;
pub(crate) mod connect;
pub(crate) mod in_process;
pub(crate) mod service_account;

use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use kube::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cluster::{ClusterError, Connection, classify};
use crate::kubeconfig::{KubeconfigError, VclusterCredentials};

/// The port the syncer serves the virtual API on inside the pod, when the kubeconfig's server URL
/// names none. (vcluster chart: the syncer's `--port`, and its Secret's `https://localhost:8443`)
pub(crate) const DEFAULT_API_PORT: u16 = 8443;
/// The Secret holding the kubeconfig is `vc-<name>`. (vcluster `pkg/util/kubeconfig` `DefaultSecretPrefix`)
pub(crate) const SECRET_PREFIX: &str = "vc-";
/// The Secret's key holding the kubeconfig.
pub(crate) const SECRET_CONFIG_KEY: &str = "config";
/// How long the API may take to answer through a port-forward just started (the pod may be
/// moments from Ready), and through a given URL (`--server`, a LoadBalancer), which either answers
/// or does not.
pub(crate) const FORWARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(20);
pub(crate) const URL_ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub(crate) enum AccessError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("Secret {namespace}/{secret} has no key {SECRET_CONFIG_KEY:?} holding the vcluster's kubeconfig")]
    NoConfig { namespace: String, secret: String },
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error("the vcluster's API at {server} does not answer: {source}")]
    NoAnswer {
        server: String,
        #[source]
        source: Box<ClusterError>,
    },
    #[error("{0}")]
    ServiceAccount(String),
}

impl AccessError {
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            AccessError::Cluster(e) => e.hint(),
            AccessError::Kubeconfig(e) => e.hint(),
            AccessError::NoAnswer { source, .. } => source.hint(),
            AccessError::NoConfig { .. } => Some("the syncer rewrites it within a minute; try again".into()),
            AccessError::ServiceAccount(_) => None,
        }
    }
}

impl From<AccessError> for crate::error::Hinted {
    fn from(err: AccessError) -> crate::error::Hinted {
        let hint = err.hint();
        hint.into_iter().fold(crate::error::Hinted::new(err), crate::error::Hinted::hint)
    }
}

/// `vc-<name>`.
pub fn secret_name(vcluster: &str) -> String {
    format!("{SECRET_PREFIX}{vcluster}")
}

/// The vcluster's credentials from Secret `vc-<name>`.
pub(crate) async fn credentials(
    cluster: &Connection,
    namespace: &str,
    vcluster: &str,
) -> Result<VclusterCredentials, AccessError> {
    let secret = secret_name(vcluster);
    let api: Api<Secret> = Api::namespaced(cluster.client.clone(), namespace);
    let found = api.get(&secret).await.map_err(|e| cluster.error(e))?;
    let config = found
        .data
        .as_ref()
        .and_then(|d| d.get(SECRET_CONFIG_KEY))
        .map(|bytes| String::from_utf8_lossy(&bytes.0).into_owned())
        .ok_or_else(|| AccessError::NoConfig { namespace: namespace.to_owned(), secret: secret.clone() })?;
    Ok(VclusterCredentials::from_secret_config(&config)?)
}

/// The pod port of the virtual API: the port of the Secret's server URL (`https://localhost:8443`),
/// which the established CLI forwards to. (v0.19 `connect.go`: the server is split on `:`)
pub(crate) fn api_port(credentials: &VclusterCredentials) -> u16 {
    let server = credentials.cluster.get("server").and_then(|s| s.as_str()).unwrap_or_default();
    let authority = server.split("://").nth(1).unwrap_or(server).split('/').next().unwrap_or_default();
    authority.rsplit_once(':').and_then(|(_, port)| port.parse().ok()).unwrap_or(DEFAULT_API_PORT)
}

/// A LoadBalancer in front of the virtual API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadBalancer {
    pub(crate) service: String,
    /// `https://<hostname or IP>[:<port> unless 443]`.
    pub(crate) url: String,
}

/// What [`load_balancer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Exposure {
    /// No LoadBalancer Service (`<name>-lb`, else `<name>`).
    None,
    /// A LoadBalancer Service without an address yet.
    Pending {
        service: String,
    },
    Address(LoadBalancer),
}

/// `<name>-lb`, else `<name>`, when it is a LoadBalancer Service. (v0.19 `connect.go`
/// `getVClusterServiceIP`, and the chart's `<name>-lb` for `service.type: LoadBalancer`)
pub(crate) async fn load_balancer(
    cluster: &Connection,
    namespace: &str,
    vcluster: &str,
) -> Result<Exposure, AccessError> {
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), namespace);
    for name in [format!("{vcluster}-lb"), vcluster.to_owned()] {
        let Some(service) = api.get_opt(&name).await.map_err(|e| cluster.error(e))? else { continue };
        return Ok(exposure(&service));
    }
    Ok(Exposure::None)
}

/// Pure: what a Service offers as a LoadBalancer. The hostname wins over the IP, as in the
/// established CLI; the port is the one named `https` (else the first).
pub(crate) fn exposure(service: &Service) -> Exposure {
    let name = service.metadata.name.clone().unwrap_or_default();
    let spec = service.spec.as_ref();
    if spec.and_then(|s| s.type_.as_deref()) != Some("LoadBalancer") {
        return Exposure::None;
    }
    let ingress = service.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref());
    let address = ingress.and_then(|list| list.first()).and_then(|i| {
        i.hostname.clone().filter(|h| !h.is_empty()).or_else(|| i.ip.clone().filter(|ip| !ip.is_empty()))
    });
    let Some(address) = address else { return Exposure::Pending { service: name } };
    let ports = spec.and_then(|s| s.ports.as_ref());
    let port = ports
        .and_then(|ps| ps.iter().find(|p| p.name.as_deref() == Some("https")).or_else(|| ps.first()))
        .map_or(443, |p| p.port);
    let host = if address.contains(':') { format!("[{address}]") } else { address };
    let url = if port == 443 { format!("https://{host}") } else { format!("https://{host}:{port}") };
    Exposure::Address(LoadBalancer { service: name, url })
}

/// A client for the virtual cluster with `credentials` (their server URL included).
pub(crate) async fn client(credentials: &VclusterCredentials, context: &str) -> Result<kube::Client, AccessError> {
    let server = credentials.cluster.get("server").and_then(|s| s.as_str()).unwrap_or_default().to_owned();
    let invalid =
        |detail: String| AccessError::Cluster(ClusterError::InvalidContext { context: context.into(), detail });
    let kubeconfig: Kubeconfig =
        serde_json::from_value(credentials.document(context)).map_err(|e| invalid(e.to_string()))?;
    let options = KubeConfigOptions { context: Some(context.to_owned()), ..KubeConfigOptions::default() };
    let mut config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| invalid(e.to_string()))?;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(15));
    kube::Client::try_from(config).map_err(|e| AccessError::Cluster(classify(e, context, &server)))
}

/// Wait until the virtual API answers with these credentials: any answer but 401 (a 403 or 404 for
/// `namespaces/default` still proves the route and the credentials). Connection and TLS failures are
/// retried for up to `within`, as a fresh route may need a moment.
pub(crate) async fn check_answers(
    client: &kube::Client,
    context: &str,
    server: &str,
    within: Duration,
) -> Result<(), AccessError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = Duration::from_millis(50);
    loop {
        let failure = match api.get_opt("default").await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(status)) if status.code != 401 && status.code < 500 => return Ok(()),
            Err(e) => classify(e, context, server),
        };
        let retry =
            matches!(failure, ClusterError::Unreachable { .. } | ClusterError::Api { .. } | ClusterError::Other { .. });
        if !retry || tokio::time::Instant::now() + pause > deadline {
            return Err(AccessError::NoAnswer { server: server.to_owned(), source: Box::new(failure) });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(value: serde_json::Value) -> Service {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn load_balancer_urls() {
        let lb = |ports: serde_json::Value, ingress: serde_json::Value| {
            exposure(&service(json!({
                "metadata": {"name": "vc-lb"},
                "spec": {"type": "LoadBalancer", "ports": ports},
                "status": {"loadBalancer": {"ingress": ingress}}
            })))
        };
        let https = json!([{"name": "https", "port": 443}]);
        let url = |e: Exposure| match e {
            Exposure::Address(lb) => lb.url,
            other => panic!("{other:?}"),
        };
        assert_eq!(url(lb(https.clone(), json!([{"ip": "203.0.113.7"}]))), "https://203.0.113.7");
        assert_eq!(
            url(lb(https.clone(), json!([{"ip": "1.2.3.4", "hostname": "vc.example.com"}]))),
            "https://vc.example.com"
        );
        assert_eq!(url(lb(https.clone(), json!([{"ip": "2001:db8::1"}]))), "https://[2001:db8::1]");
        assert_eq!(
            url(lb(
                json!([{"name": "kubelet", "port": 10250}, {"name": "https", "port": 8443}]),
                json!([{"ip": "10.0.0.1"}])
            )),
            "https://10.0.0.1:8443"
        );
        assert_eq!(lb(https, json!([])), Exposure::Pending { service: "vc-lb".into() });
        let cluster_ip = service(json!({"metadata": {"name": "vc"}, "spec": {"type": "ClusterIP"}}));
        assert_eq!(exposure(&cluster_ip), Exposure::None);
    }

    #[test]
    fn api_port_comes_from_the_secret_server() {
        let creds = |server: &str| {
            VclusterCredentials::from_secret_config(&format!(
                "clusters:\n- name: c\n  cluster: {{server: '{server}'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user: {{}}\ncurrent-context: c\n"
            ))
            .unwrap()
        };
        assert_eq!(api_port(&creds("https://localhost:8443")), 8443);
        assert_eq!(api_port(&creds("https://localhost:9443/")), 9443);
        assert_eq!(api_port(&creds("https://vc.example.com")), DEFAULT_API_PORT);
    }
}
