//! The vcluster-specific parts of a kubeconfig: the context name scheme of the established CLI,
//! the `vcluster.loft.sh/connect` extension that remembers what `connect` did (so `disconnect`
//! works with any context name and no state directory), and the vcluster's own kubeconfig (the
//! `config` key of Secret `vc-<name>`) renamed for merging.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::document::{Document, Kind};
use super::error::KubeconfigError;
use super::loaded::{Edit, Loaded};

/// Name of the context extension `connect` records.
pub(crate) const CONNECT_EXTENSION: &str = "vcluster.loft.sh/connect";

const CONTEXT_PREFIX: &str = "vcluster_";

/// `vcluster_<name>_<namespace>_<host-context>`. (loft-sh/vcluster v0.19
/// `cmd/vclusterctl/cmd/find/find.go` `VClusterContextName`)
pub fn context_name(vcluster: &str, namespace: &str, host_context: &str) -> String {
    format!("{CONTEXT_PREFIX}{vcluster}_{namespace}_{host_context}")
}

/// What a context (by its extension, or else by its name) says about the vcluster it reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectRecord {
    /// The vcluster's name.
    pub(crate) vcluster: String,
    /// Its host namespace.
    pub(crate) namespace: String,
    /// The host kube context it was found through.
    pub(crate) host_context: String,
    /// The current context before `connect` switched, which `disconnect` restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_context: Option<String>,
    /// Fields written by a newer version, kept.
    #[serde(flatten)]
    pub(crate) extra: Map<String, Value>,
}

impl ConnectRecord {
    pub fn new(vcluster: &str, namespace: &str, host_context: &str) -> ConnectRecord {
        ConnectRecord {
            vcluster: vcluster.to_owned(),
            namespace: namespace.to_owned(),
            host_context: host_context.to_owned(),
            previous_context: None,
            extra: Map::new(),
        }
    }

    /// Read a context name of the established scheme: `vcluster_<name>_<namespace>_<host>`, where
    /// the host context may itself contain `_` (everything after the third `_`). The previous
    /// context is taken to be the host context, as the established `disconnect` assumes.
    /// (loft-sh/vcluster v0.19 `find.VClusterFromContext`)
    pub(crate) fn from_context_name(name: &str) -> Option<ConnectRecord> {
        let rest = name.strip_prefix(CONTEXT_PREFIX)?;
        let mut parts = rest.splitn(3, '_');
        let (vcluster, namespace, host) = (parts.next()?, parts.next()?, parts.next()?);
        if vcluster.is_empty() || namespace.is_empty() || host.is_empty() {
            return None;
        }
        let mut record = ConnectRecord::new(vcluster, namespace, host);
        record.previous_context = Some(host.to_owned());
        Some(record)
    }

    /// The record in a context body's `extensions` list, if any.
    pub(crate) fn from_context(context: &Value) -> Option<ConnectRecord> {
        let extensions = context.get("extensions")?.as_array()?;
        let ext = extensions.iter().find(|e| e.get("name").and_then(Value::as_str) == Some(CONNECT_EXTENSION))?;
        serde_json::from_value(ext.get("extension")?.clone()).ok()
    }

    /// The vcluster a context reaches: its connect record, else what its name says.
    pub fn of_context(loaded: &Loaded, context: &str) -> Option<ConnectRecord> {
        loaded
            .entry(Kind::Context, context)
            .and_then(ConnectRecord::from_context)
            .or_else(|| ConnectRecord::from_context_name(context))
    }

    /// Put this record into a context body's `extensions`, replacing an older one.
    fn store_in(&self, context: &mut Map<String, Value>) {
        let entry = json!({"name": CONNECT_EXTENSION, "extension": self});
        let slot = context.entry("extensions").or_insert(Value::Null);
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        if let Value::Array(list) = slot {
            list.retain(|e| e.get("name").and_then(Value::as_str) != Some(CONNECT_EXTENSION));
            list.push(entry);
        }
    }
}

/// The vcluster's credentials: the single cluster, user and context of its kubeconfig.
#[derive(Debug, Clone, PartialEq)]
pub struct VclusterCredentials {
    pub(crate) cluster: Map<String, Value>,
    pub(crate) user: Map<String, Value>,
    pub(crate) context: Map<String, Value>,
}

impl VclusterCredentials {
    /// From the `config` key of Secret `vc-<name>`: exactly one cluster (as the established CLI
    /// requires), and the current context (or the only one) with the user it names.
    pub fn from_secret_config(text: &str) -> Result<VclusterCredentials, KubeconfigError> {
        let unusable = |problem: String| KubeconfigError::VclusterConfig(problem);
        let doc = Document::parse(std::path::Path::new("vc-config"), text).map_err(|e| unusable(e.to_string()))?;
        let clusters: Vec<_> = doc.entries(Kind::Cluster).collect();
        let [(_, cluster)] = clusters.as_slice() else {
            return Err(unusable(format!("expected exactly one cluster, found {}", clusters.len())));
        };
        let contexts: Vec<_> = doc.entries(Kind::Context).collect();
        let context = match (doc.current_context(), contexts.as_slice()) {
            (Some(current), _) => doc
                .entry(Kind::Context, current)
                .ok_or_else(|| unusable(format!("current context {current:?} is not defined")))?,
            (None, [(_, only)]) => only,
            (None, _) => return Err(unusable(format!("no current context among {} contexts", contexts.len()))),
        };
        let user_name = context.get("user").and_then(Value::as_str).unwrap_or_default();
        let user =
            doc.entry(Kind::User, user_name).ok_or_else(|| unusable(format!("user {user_name:?} is not defined")))?;
        let object = |v: &Value| v.as_object().cloned().unwrap_or_default();
        Ok(VclusterCredentials { cluster: object(cluster), user: object(user), context: object(context) })
    }

    /// The same credentials for another server URL (the local forward, a LoadBalancer, `--server`).
    pub fn with_server(mut self, server: &str) -> VclusterCredentials {
        self.cluster.insert("server".into(), server.into());
        self
    }

    /// A stand-alone kubeconfig with one cluster, user and context, all named `name`, current
    /// context `name` (for `--print`, `--kube-config FILE` and `connect -- CMD`). (loft-sh/vcluster
    /// v0.19 `cmd/vclusterctl/cmd/connect.go` `exchangeContextName`)
    pub(crate) fn document(&self, name: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": self.cluster}],
            "users": [{"name": name, "user": self.user}],
            "contexts": [{"name": name, "context": self.context_named(name)}],
            "current-context": name,
        })
    }

    /// The context body, pointing at cluster and user `name`.
    fn context_named(&self, name: &str) -> Map<String, Value> {
        let mut context = self.context.clone();
        context.insert("cluster".into(), name.into());
        context.insert("user".into(), name.into());
        context
    }

    /// The edits that merge these credentials into the user's kubeconfig as cluster, user and
    /// context `name`, record `record` in the context (its previous context being the current one,
    /// or, when reconnecting, the one recorded before), and switch to it when `switch`.
    pub fn connect_edits(&self, loaded: &Loaded, name: &str, mut record: ConnectRecord, switch: bool) -> Vec<Edit> {
        record.previous_context = match loaded.current_context() {
            Some(current) if current == name => {
                ConnectRecord::of_context(loaded, name).and_then(|r| r.previous_context)
            }
            current => current.map(str::to_owned),
        };
        let mut context = self.context_named(name);
        record.store_in(&mut context);
        let mut edits = vec![
            Edit::Set { kind: Kind::Cluster, name: name.to_owned(), body: Value::Object(self.cluster.clone()) },
            Edit::Set { kind: Kind::User, name: name.to_owned(), body: Value::Object(self.user.clone()) },
            Edit::Set { kind: Kind::Context, name: name.to_owned(), body: Value::Object(context) },
        ];
        if switch {
            edits.push(Edit::CurrentContext(Some(name.to_owned())));
        }
        edits
    }
}

/// What `disconnect` does to a kubeconfig.
#[derive(Debug, Clone, PartialEq)]
pub struct Disconnect {
    /// The vcluster context being left.
    pub(crate) context: String,
    pub(crate) record: ConnectRecord,
    /// The context switched to (when the vcluster context was current): the recorded previous
    /// context if it still exists, else the host context if it exists, else none.
    pub(crate) switch_to: Option<String>,
    pub edits: Vec<Edit>,
}

/// Plan `disconnect` from `context` (default: the current context): switch back when it is
/// current, and unless `keep_context` remove it with its cluster and user entries when no other
/// context uses them.
pub fn disconnect(loaded: &Loaded, context: Option<&str>, keep_context: bool) -> Result<Disconnect, KubeconfigError> {
    let context = context.or(loaded.current_context()).ok_or(KubeconfigError::NoCurrentContext)?;
    let record = ConnectRecord::of_context(loaded, context)
        .ok_or_else(|| KubeconfigError::NotAVclusterContext { context: context.to_owned() })?;
    let exists = |name: &&String| loaded.entry(Kind::Context, name).is_some() && name.as_str() != context;
    let switch_to =
        record.previous_context.as_ref().filter(exists).or(Some(&record.host_context).filter(exists)).cloned();
    let mut edits = Vec::new();
    if loaded.current_context() == Some(context) {
        edits.push(Edit::CurrentContext(switch_to.clone()));
    }
    if !keep_context {
        edits.extend(removal_edits(loaded, context));
    }
    Ok(Disconnect { context: context.to_owned(), record, switch_to, edits })
}

/// Every context that reaches vcluster `vcluster` in `namespace` (for `delete`).
pub fn contexts_of(loaded: &Loaded, vcluster: &str, namespace: &str) -> Vec<String> {
    loaded
        .names(Kind::Context)
        .into_iter()
        .filter(|name| {
            ConnectRecord::of_context(loaded, name).is_some_and(|r| r.vcluster == vcluster && r.namespace == namespace)
        })
        .map(str::to_owned)
        .collect()
}

/// Remove context `context`, and its cluster and user entries when no other context uses them.
fn removal_edits(loaded: &Loaded, context: &str) -> Vec<Edit> {
    let mut edits = vec![Edit::Remove { kind: Kind::Context, name: context.to_owned() }];
    let Some(body) = loaded.entry(Kind::Context, context) else { return edits };
    for (kind, key) in [(Kind::Cluster, "cluster"), (Kind::User, "user")] {
        let Some(name) = body.get(key).and_then(Value::as_str) else { continue };
        let shared = loaded.names(Kind::Context).into_iter().any(|other| {
            other != context
                && loaded.entry(Kind::Context, other).and_then(|c| c.get(key)).and_then(Value::as_str) == Some(name)
        });
        if !shared {
            edits.push(Edit::Remove { kind, name: name.to_owned() });
        }
    }
    edits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubeconfig::Sources;
    use std::path::Path;

    const VC_SECRET_CONFIG: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: my-vcluster\n  cluster:\n    server: https://localhost:8443\n    certificate-authority-data: Q0E=\ncontexts:\n- name: my-vcluster\n  context:\n    cluster: my-vcluster\n    user: my-vcluster\ncurrent-context: my-vcluster\nusers:\n- name: my-vcluster\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n";

    fn host(text: &str) -> Loaded {
        Loaded::new(Sources::new(Some("/k".into()), None, None), vec![Document::parse(Path::new("/k"), text).unwrap()])
    }

    const HOST: &str = "clusters:\n- name: kind\n  cluster: {server: https://127.0.0.1:6443}\nusers:\n- name: kind\n  user: {token: t}\ncontexts:\n- name: kind-dev\n  context: {cluster: kind, user: kind}\ncurrent-context: kind-dev\n";

    #[test]
    fn context_names_follow_the_established_scheme() {
        assert_eq!(context_name("my-vc", "vcluster-my-vc", "kind-dev"), "vcluster_my-vc_vcluster-my-vc_kind-dev");
        let r = ConnectRecord::from_context_name("vcluster_my-vc_team-a_gke_proj_zone_cluster").unwrap();
        assert_eq!(
            (r.vcluster.as_str(), r.namespace.as_str(), r.host_context.as_str()),
            ("my-vc", "team-a", "gke_proj_zone_cluster")
        );
        assert_eq!(r.previous_context.as_deref(), Some("gke_proj_zone_cluster"));
        for custom in ["my-context", "vcluster_a_b", "vcluster__b_c", "vcluster-pro_a_b_c"] {
            assert_eq!(ConnectRecord::from_context_name(custom), None, "{custom}");
        }
    }

    #[test]
    fn secret_config_is_renamed_and_pointed_at_the_new_server() {
        let creds =
            VclusterCredentials::from_secret_config(VC_SECRET_CONFIG).unwrap().with_server("https://127.0.0.1:12345");
        let doc = creds.document("vcluster_my-vc_ns_kind-dev");
        assert_eq!(
            doc,
            json!({
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": "vcluster_my-vc_ns_kind-dev", "cluster": {"server": "https://127.0.0.1:12345", "certificate-authority-data": "Q0E="}}],
                "users": [{"name": "vcluster_my-vc_ns_kind-dev", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}],
                "contexts": [{"name": "vcluster_my-vc_ns_kind-dev", "context": {"cluster": "vcluster_my-vc_ns_kind-dev", "user": "vcluster_my-vc_ns_kind-dev"}}],
                "current-context": "vcluster_my-vc_ns_kind-dev"
            })
        );
    }

    #[test]
    fn unusable_secret_configs_are_refused() {
        let two_clusters = "clusters:\n- name: a\n  cluster: {}\n- name: b\n  cluster: {}\n";
        let no_user =
            "clusters:\n- name: a\n  cluster: {}\ncontexts:\n- name: a\n  context: {cluster: a, user: nobody}\n";
        let ambiguous =
            "clusters:\n- name: a\n  cluster: {}\ncontexts:\n- name: a\n  context: {}\n- name: b\n  context: {}\n";
        for (text, problem) in [
            (two_clusters, "expected exactly one cluster, found 2"),
            (no_user, "user \"nobody\" is not defined"),
            (ambiguous, "no current context among 2 contexts"),
            ("][", ""),
        ] {
            match VclusterCredentials::from_secret_config(text) {
                Err(KubeconfigError::VclusterConfig(p)) => assert!(p.contains(problem), "{p}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn connect_then_disconnect_restores_everything() {
        let mut loaded = host(HOST);
        let before = loaded.clone();
        let creds =
            VclusterCredentials::from_secret_config(VC_SECRET_CONFIG).unwrap().with_server("https://127.0.0.1:1");
        let name = "any-name-the-user-likes";
        let edits = creds.connect_edits(&loaded, name, ConnectRecord::new("my-vc", "ns", "kind-dev"), true);
        loaded.apply(&edits).unwrap();
        assert_eq!(loaded.current_context(), Some(name));
        let record = ConnectRecord::of_context(&loaded, name).unwrap();
        assert_eq!(record.previous_context.as_deref(), Some("kind-dev"));
        assert_eq!(contexts_of(&loaded, "my-vc", "ns"), [name]);

        // Reconnecting keeps the original previous context, not the vcluster context itself.
        let again = creds.connect_edits(&loaded, name, ConnectRecord::new("my-vc", "ns", "kind-dev"), true);
        loaded.apply(&again).unwrap();
        assert_eq!(ConnectRecord::of_context(&loaded, name).unwrap().previous_context.as_deref(), Some("kind-dev"));

        let plan = disconnect(&loaded, None, false).unwrap();
        assert_eq!(plan.switch_to.as_deref(), Some("kind-dev"));
        loaded.apply(&plan.edits).unwrap();
        assert_eq!(loaded.files()[0].root(), before.files()[0].root(), "back to the original file");
    }

    #[test]
    fn disconnect_keep_context_only_switches() {
        let mut loaded = host(HOST);
        let creds = VclusterCredentials::from_secret_config(VC_SECRET_CONFIG).unwrap();
        loaded.apply(&creds.connect_edits(&loaded, "vc", ConnectRecord::new("my-vc", "ns", "kind-dev"), true)).unwrap();
        let plan = disconnect(&loaded, None, true).unwrap();
        assert_eq!(plan.edits, [Edit::CurrentContext(Some("kind-dev".into()))]);
    }

    #[test]
    fn disconnect_of_an_established_cli_context_uses_its_name() {
        let text = "clusters:\n- name: kind\n  cluster: {}\n- name: vc\n  cluster: {}\ncontexts:\n- name: kind-dev\n  context: {cluster: kind, user: kind}\n- name: vcluster_my-vc_ns_kind-dev\n  context: {cluster: vc, user: vc}\ncurrent-context: vcluster_my-vc_ns_kind-dev\n";
        let loaded = host(text);
        let plan = disconnect(&loaded, None, false).unwrap();
        assert_eq!(plan.record.vcluster, "my-vc");
        assert_eq!(plan.switch_to.as_deref(), Some("kind-dev"));
        assert!(plan.edits.contains(&Edit::Remove { kind: Kind::Cluster, name: "vc".into() }));
    }

    #[test]
    fn disconnect_refuses_non_vcluster_contexts_and_keeps_shared_entries() {
        let loaded = host(HOST);
        assert!(
            matches!(disconnect(&loaded, None, false), Err(KubeconfigError::NotAVclusterContext { context }) if context == "kind-dev")
        );
        assert!(matches!(disconnect(&host("clusters: []\n"), None, false), Err(KubeconfigError::NoCurrentContext)));

        // The previous context is gone: fall back to the host context; shared cluster entry stays.
        let text = "clusters:\n- name: kind\n  cluster: {}\ncontexts:\n- name: kind-dev\n  context: {cluster: kind, user: kind}\n- name: vc\n  context:\n    cluster: kind\n    user: vc-user\n    extensions:\n    - name: vcluster.loft.sh/connect\n      extension: {vcluster: v, namespace: ns, hostContext: kind-dev, previousContext: deleted, futureField: 1}\ncurrent-context: vc\n";
        let plan = disconnect(&host(text), None, false).unwrap();
        assert_eq!(plan.switch_to.as_deref(), Some("kind-dev"));
        assert_eq!(plan.record.extra["futureField"], 1);
        assert_eq!(
            plan.edits,
            [
                Edit::CurrentContext(Some("kind-dev".into())),
                Edit::Remove { kind: Kind::Context, name: "vc".into() },
                Edit::Remove { kind: Kind::User, name: "vc-user".into() },
            ]
        );
    }

    #[test]
    fn records_with_yaml_ambiguous_names_survive_a_file_round_trip() {
        // `no`, `y` and `0123` are valid Kubernetes names that YAML 1.1 (client-go's YAML) would read
        // as a boolean or a number unless quoted.
        let mut loaded = host(HOST);
        let creds = VclusterCredentials::from_secret_config(VC_SECRET_CONFIG).unwrap();
        let record = ConnectRecord::new("y", "no", "0123");
        loaded.apply(&creds.connect_edits(&loaded, "on", record.clone(), true)).unwrap();
        let text = loaded.files()[0].to_yaml().unwrap();
        let reread = host(&text);
        let mut expected = record;
        expected.previous_context = Some("kind-dev".into());
        assert_eq!(ConnectRecord::of_context(&reread, "on"), Some(expected), "{text}");
        assert_eq!(reread.current_context(), Some("on"));
    }
}
