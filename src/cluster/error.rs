//! The errors people see when talking to a cluster: one clear message naming the context and the
//! server, classified so every command reports unreachable clusters, TLS failures, bad
//! credentials, missing permissions, conflicts and other API answers the same way, with a hint.

use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use crate::error::{Advice, Hinted, Interrupted};
use crate::kubeconfig::KubeconfigError;
use crate::printer::text::humanize;

/// Why the cluster could not be used. Every variant maps to exit status 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClusterError {
    #[error("no kubeconfig found ({searched}) and not running inside a cluster")]
    NoConfiguration { searched: String },
    #[error("kubeconfig {path} does not exist")]
    KubeconfigMissing { path: String },
    #[error(transparent)]
    Kubeconfig(#[from] KubeconfigError),
    #[error("context {context:?} is not in the kubeconfig")]
    ContextNotFound { context: String, available: Vec<String> },
    #[error("the kubeconfig has no current context")]
    NoCurrentContext { available: Vec<String> },
    #[error("context {context:?} cannot be used: {detail}")]
    InvalidContext { context: String, detail: String },
    #[error("cannot reach the cluster of context {context:?} at {server}: {detail}")]
    Unreachable {
        context: String,
        server: String,
        detail: String,
        /// The client's whole error (printed with --debug).
        #[source]
        source: Transport,
    },
    #[error("TLS with the cluster of context {context:?} at {server} failed: {detail}")]
    Tls {
        context: String,
        server: String,
        detail: String,
        #[source]
        source: Transport,
    },
    #[error("the cluster of context {context:?} at {server} rejected the credentials (401 Unauthorized): {message}")]
    Unauthorized { context: String, server: String, message: String },
    #[error("cannot get credentials for context {context:?} (server {server}): {detail}")]
    Credentials { context: String, server: String, detail: String },
    #[error("forbidden by the cluster of context {context:?} at {server}: {message}")]
    Forbidden { context: String, server: String, access: Option<Box<Access>>, message: String },
    #[error("not found (context {context:?}, server {server}): {message}")]
    NotFound { context: String, server: String, message: String },
    #[error("conflict (context {context:?}, server {server}): {message}")]
    Conflict { context: String, server: String, already_exists: bool, message: String },
    #[error("the cluster of context {context:?} at {server} answered {code} {reason}: {message}")]
    Api { context: String, server: String, code: u16, reason: String, message: String },
    #[error("request to the cluster of context {context:?} at {server} failed: {detail}")]
    Other {
        context: String,
        server: String,
        detail: String,
        #[source]
        source: Transport,
    },
}

/// The client's own error below a transport failure: its chain (`ServiceError: client error
/// (Connect): …`) is detail for `--debug`, not for the message.
#[derive(Debug, thiserror::Error)]
#[error("{}", chain_text(.0.as_ref()))]
pub(crate) struct Transport(Box<kube::Error>);

/// Why a request through [`super::Host`], or a wait on the host cluster, failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("interrupted")]
    Interrupted(#[from] Interrupted),
    #[error("applying {object} conflicts with another field manager: {message}")]
    Conflict { object: String, message: String },
    #[error("cannot apply {object}: {source}")]
    Apply {
        object: String,
        #[source]
        source: Box<ClusterError>,
    },
    #[error("cannot delete {object}: {source}")]
    Delete {
        object: String,
        #[source]
        source: Box<ClusterError>,
    },
    #[error("the cluster does not serve {kind} of {api_version}")]
    NotServed { api_version: String, kind: String },
    #[error("{object} was deleted while waiting for it")]
    Vanished { object: String },
    #[error("timed out after {} waiting for {what}: {stuck}", humanize(*waited))]
    Timeout { what: String, waited: Duration, stuck: String },
}

impl Advice for HostError {
    fn hints(&self, name: &str, namespace: &str) -> Vec<String> {
        match self {
            HostError::Cluster(e) => e.hint().into_iter().collect(),
            HostError::Apply { source, .. } | HostError::Delete { source, .. } => source.hint().into_iter().collect(),
            HostError::Conflict { .. } => {
                vec!["--force-conflicts takes these fields over from their current manager".into()]
            }
            HostError::Timeout { .. } => vec![
                "wait longer with --timeout (e.g. --timeout 20m), or look at the pods:".into(),
                format!("kubectl get pods -n {namespace} -l app=vcluster,release={name}"),
            ],
            HostError::Interrupted(_) | HostError::NotServed { .. } | HostError::Vanished { .. } => Vec::new(),
        }
    }
}

/// The access a 403 denied, read from the API server's message
/// (`User "u" cannot list resource "secrets" in API group "" in the namespace "ns"`;
/// kube-apiserver: `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Access {
    pub(crate) verb: String,
    /// `resource` or `resource.group`, with `/subresource` when named.
    pub(crate) resource: String,
    /// `None` at the cluster scope.
    pub(crate) namespace: Option<String>,
}

impl Access {
    fn parse(message: &str) -> Option<Access> {
        let after = message.split_once(" cannot ")?.1;
        let (verb, rest) = after.split_once(" resource ")?;
        let resource = quoted(rest)?;
        let group = rest.split_once(" in API group ").and_then(|(_, g)| quoted(g)).unwrap_or_default();
        let namespace = rest.split_once(" in the namespace ").and_then(|(_, n)| quoted(n)).map(str::to_owned);
        let resource = if group.is_empty() { resource.to_owned() } else { format!("{resource}.{group}") };
        Some(Access { verb: verb.trim().to_owned(), resource, namespace })
    }
}

/// The text between the first pair of double quotes.
fn quoted(text: &str) -> Option<&str> {
    let start = text.find('"')? + 1;
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

impl ClusterError {
    /// What to do about it.
    pub(crate) fn hint(&self) -> Option<String> {
        Some(match self {
            ClusterError::NoConfiguration { .. } => {
                "pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config (e.g. with your cloud's CLI or `kind create cluster`)".into()
            }
            ClusterError::KubeconfigMissing { .. } => "check the --kubeconfig path".into(),
            ClusterError::Kubeconfig(e) => return e.hint(),
            ClusterError::ContextNotFound { available, .. } | ClusterError::NoCurrentContext { available } => {
                if available.is_empty() {
                    "the kubeconfig defines no contexts".into()
                } else {
                    format!("pass --context with one of: {}", available.join(", "))
                }
            }
            ClusterError::InvalidContext { .. } => "check the context's cluster and user entries (`kubectl config view`)".into(),
            ClusterError::Unreachable { .. } => {
                "check that the cluster is running and reachable from here (VPN, proxy, firewall), and that --context selects the right one".into()
            }
            ClusterError::Tls { .. } => {
                "the server's certificate does not match the kubeconfig's certificate authority or server name; refresh the kubeconfig".into()
            }
            ClusterError::Unauthorized { .. } | ClusterError::Credentials { .. } => {
                "the credentials are missing, wrong or expired: log in again or refresh the kubeconfig (e.g. your cloud CLI's get-credentials)".into()
            }
            ClusterError::Forbidden { access: Some(a), .. } => {
                let ns = a.namespace.as_deref().map(|n| format!(" -n {n}")).unwrap_or_default();
                format!(
                    "ask a cluster administrator for permission to {} {}; check with `kubectl auth can-i {} {}{ns}`",
                    a.verb, a.resource, a.verb, a.resource
                )
            }
            ClusterError::Forbidden { access: None, .. } => "ask a cluster administrator for the missing permission".into(),
            ClusterError::Conflict { already_exists: true, .. } => "the object already exists".into(),
            ClusterError::Conflict { .. } => "the object changed meanwhile; run the command again".into(),
            ClusterError::NotFound { .. } | ClusterError::Api { .. } | ClusterError::Other { .. } => return None,
        })
    }
}

impl From<ClusterError> for Hinted {
    fn from(err: ClusterError) -> Hinted {
        let hint = err.hint();
        hint.into_iter().fold(Hinted::new(err), Hinted::hint)
    }
}

/// Classify an error of a request to the cluster of `context` at `server`.
pub(crate) fn classify(err: kube::Error, context: &str, server: &str) -> ClusterError {
    let (context, server) = (context.to_owned(), server.to_owned());
    match err {
        kube::Error::Api(status) => {
            let message = status.message.clone();
            match status.code {
                401 => ClusterError::Unauthorized { context, server, message },
                403 => {
                    ClusterError::Forbidden { context, server, access: Access::parse(&message).map(Box::new), message }
                }
                404 => ClusterError::NotFound { context, server, message },
                409 => ClusterError::Conflict {
                    context,
                    server,
                    already_exists: status.reason == "AlreadyExists",
                    message,
                },
                code => ClusterError::Api { context, server, code, reason: status.reason.clone(), message },
            }
        }
        kube::Error::Auth(e) => ClusterError::Credentials { context, server, detail: chain_text(&e) },
        other => {
            // The cause a person can act on (`connection refused`, `no answer within 30s`); the
            // whole chain of kube's and hyper's wrappers only with --debug.
            let detail = actionable_cause(&other);
            let failure = transport_failure(&other);
            let source = Transport(Box::new(other));
            match failure {
                Some(Failure::Tls) => ClusterError::Tls { context, server, detail, source },
                Some(Failure::Unreachable) => ClusterError::Unreachable { context, server, detail, source },
                None => ClusterError::Other { context, server, detail, source },
            }
        }
    }
}

enum Failure {
    Tls,
    Unreachable,
}

/// What went wrong on the wire, from anywhere in the cause chain.
fn transport_failure(err: &(dyn StdError + 'static)) -> Option<Failure> {
    let causes = causes(err);
    if causes.iter().any(|e| e.downcast_ref::<rustls::Error>().is_some()) {
        return Some(Failure::Tls);
    }
    let unreachable = causes.iter().any(|e| {
        use io::ErrorKind::*;
        let refused = e.downcast_ref::<io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | TimedOut
                    | HostUnreachable
                    | NetworkUnreachable
                    | AddrNotAvailable
                    | NotConnected
            )
        });
        // hyper-util's connector names its failures in text only (`dns error`, `tcp connect error`).
        let text = e.to_string();
        refused || text.contains("dns error") || text.contains("tcp connect error")
    });
    let no_answer = causes.iter().any(|e| e.is::<super::timeout::NoAnswer>());
    (unreachable || no_answer).then_some(Failure::Unreachable)
}

/// The innermost cause worth reading, without the client's wrappers (`ServiceError: client error
/// (Connect): …`): an I/O failure's kind (`connection refused`), a DNS failure, the request
/// timeout, a TLS refusal; else the innermost message.
fn actionable_cause(err: &(dyn StdError + 'static)) -> String {
    let causes = causes(err);
    if let Some(tls) = causes.iter().rev().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return tls.to_string();
    }
    if let Some(no_answer) = causes.iter().find_map(|e| e.downcast_ref::<super::timeout::NoAnswer>()) {
        return no_answer.to_string();
    }
    if causes.iter().any(|e| e.to_string().contains("dns error")) {
        return "the server's host name cannot be resolved (DNS)".into();
    }
    if let Some(io) = causes.iter().rev().find_map(|e| e.downcast_ref::<io::Error>()) {
        use io::ErrorKind::*;
        let said = match io.kind() {
            ConnectionRefused => Some("connection refused (nothing listens at that address)"),
            ConnectionReset => Some("the connection was reset"),
            ConnectionAborted => Some("the connection was aborted"),
            TimedOut => Some("the connection timed out"),
            HostUnreachable => Some("the host is unreachable"),
            NetworkUnreachable => Some("the network is unreachable"),
            UnexpectedEof => Some("the server closed the connection"),
            _ => None,
        };
        if let Some(said) = said {
            return said.into();
        }
    }
    causes.last().map(|e| e.to_string()).unwrap_or_default()
}

/// The error and its causes, outermost first. An `io::Error`'s `source()` skips the error it
/// wraps (TLS errors hide there), so descend through `get_ref()` instead.
fn causes<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        out.push(e);
        current = match e.downcast_ref::<io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// `outer: inner: innermost`, without repeating a cause an outer message already includes.
fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for part in causes(err).iter().map(|e| e.to_string()) {
        if !text.contains(&part) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&part);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure(message, reason).with_code(code)))
    }

    fn run(err: kube::Error) -> ClusterError {
        classify(err, "kind-dev", "https://127.0.0.1:6443")
    }

    #[test]
    fn forbidden_names_verb_resource_and_namespace() {
        let msg = r#"secrets is forbidden: User "system:serviceaccount:ci:deployer" cannot list resource "secrets" in API group "" in the namespace "team-a""#;
        let err = run(api(403, "Forbidden", msg));
        let ClusterError::Forbidden { access: Some(access), .. } = &err else { panic!("{err:?}") };
        assert_eq!(
            **access,
            Access { verb: "list".into(), resource: "secrets".into(), namespace: Some("team-a".into()) }
        );
        assert_eq!(
            err.hint().unwrap(),
            "ask a cluster administrator for permission to list secrets; check with `kubectl auth can-i list secrets -n team-a`"
        );
        assert!(err.to_string().contains("context \"kind-dev\" at https://127.0.0.1:6443"), "{err}");

        let cluster_scoped = r#"clusterroles.rbac.authorization.k8s.io is forbidden: User "u" cannot create resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope"#;
        let ClusterError::Forbidden { access: Some(access), .. } = run(api(403, "Forbidden", cluster_scoped)) else {
            panic!()
        };
        assert_eq!(
            *access,
            Access {
                verb: "create".into(),
                resource: "clusterroles.rbac.authorization.k8s.io".into(),
                namespace: None
            }
        );
        assert!(matches!(run(api(403, "Forbidden", "nope")), ClusterError::Forbidden { access: None, .. }));
    }

    #[test]
    fn status_codes_map_to_their_kinds() {
        assert!(matches!(run(api(401, "Unauthorized", "Unauthorized")), ClusterError::Unauthorized { .. }));
        assert!(matches!(run(api(404, "NotFound", r#"secrets "x" not found"#)), ClusterError::NotFound { .. }));
        assert!(matches!(
            run(api(409, "AlreadyExists", "exists")),
            ClusterError::Conflict { already_exists: true, .. }
        ));
        assert!(matches!(run(api(409, "Conflict", "changed")), ClusterError::Conflict { already_exists: false, .. }));
        let err = run(api(500, "InternalError", "etcd is down"));
        assert!(matches!(&err, ClusterError::Api { code: 500, .. }));
        assert_eq!(
            err.to_string(),
            r#"the cluster of context "kind-dev" at https://127.0.0.1:6443 answered 500 InternalError: etcd is down"#
        );
        assert!(err.hint().is_none());
    }

    #[test]
    fn io_errors_in_the_chain_are_classified() {
        let refused = kube::Error::Service(Box::new(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        )));
        assert!(matches!(run(refused), ClusterError::Unreachable { .. }));
        // TLS failures: through a real handshake, `connection::tests`.
        // hyper-util's connector errors carry the failure in their text (no DNS lookup in tests:
        // they may send traffic to loopback only).
        #[derive(Debug)]
        struct ConnectError(&'static str);
        impl std::fmt::Display for ConnectError {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for ConnectError {}
        let dns = kube::Error::Service(Box::new(ConnectError("dns error: failed to lookup address information")));
        assert!(matches!(run(dns), ClusterError::Unreachable { .. }));
        let other = kube::Error::Service(Box::new(io::Error::other("something odd")));
        assert!(matches!(run(other), ClusterError::Other { .. }));
    }

    #[test]
    fn every_error_becomes_a_hinted_report() {
        let hinted = Hinted::from(run(api(401, "Unauthorized", "Unauthorized")));
        assert!(hinted.to_string().contains("401 Unauthorized"));
        assert_eq!(hinted.hints().len(), 1);
        let none = Hinted::from(run(api(500, "InternalError", "x")));
        assert!(none.hints().is_empty());
    }
}
