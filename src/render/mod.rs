//! Rendering: values -> Kubernetes manifests (pure).
//!
//! [`render`] is the function `vcluster render` prints and `vcluster create` applies: typed,
//! validated values plus the release (name, namespace) in, ordered manifests out. Same input,
//! byte-identical output.

pub(crate) mod decisions;
pub(crate) mod engine;
pub(crate) mod manifest;
pub(crate) mod order;

use minijinja::context;
use minijinja::value::Serde;
use serde_json::{Map, Value};

pub use manifest::Manifest;

use crate::values::{Problem, Values, check_name, check_namespace};

/// The Helm release a render is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// The vcluster name (release name).
    pub name: String,
    /// The host namespace.
    pub namespace: String,
}

/// Everything a render depends on.
#[derive(Debug, Clone)]
pub struct RenderInput<'a> {
    pub release: ReleaseInfo,
    pub values: &'a Values,
}

/// The manifests in install order, plus what to tell the person running the command.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub manifests: Vec<Manifest>,
    /// Information (a default that `create` decides differently).
    pub notes: Vec<String>,
    /// Risks in the values (HA without an external datastore).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid release:{}", .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Invalid(Vec<Problem>),
    #[error("template {template} failed: {source}")]
    Template {
        template: &'static str,
        #[source]
        source: minijinja::Error,
    },
    /// A template produced something that is not a Kubernetes object (a bug in the chart).
    #[error("template {template} produced an invalid object: {message}")]
    Output { template: &'static str, message: String },
}

/// Labels every object carries (era `_helpers.tpl`; Helm ownership: helm
/// pkg/action/validate.go checks `app.kubernetes.io/managed-by: Helm`).
pub(crate) fn standard_labels(release: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert("app".into(), "vcluster".into());
    labels.insert("chart".into(), format!("{}-{}", crate::CHART_NAME, crate::CHART_VERSION).into());
    labels.insert("release".into(), release.into());
    labels.insert("heritage".into(), "Helm".into());
    labels.insert("app.kubernetes.io/managed-by".into(), "Helm".into());
    labels
}

/// Kinds without a namespace among those this chart renders.
fn cluster_scoped(kind: &str) -> bool {
    matches!(kind, "ClusterRole" | "ClusterRoleBinding")
}

/// Render the chart.
pub fn render(input: &RenderInput) -> Result<Rendered, RenderError> {
    let RenderInput { release, values } = input;
    let problems: Vec<Problem> =
        [check_name(&release.name), check_namespace(&release.namespace)].into_iter().flatten().collect();
    if !problems.is_empty() {
        return Err(RenderError::Invalid(problems));
    }
    let env = engine::environment()
        .as_ref()
        .map_err(|e| RenderError::Output { template: "(templates)", message: e.clone() })?;
    let plan = decisions::decide(values, &release.name, &release.namespace);

    let mut pod_labels = Map::new();
    pod_labels.insert("app".into(), "vcluster".into());
    pod_labels.insert("release".into(), release.name.clone().into());
    pod_labels.extend(values.pod_labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))));
    let mut coredns_pod_labels = Map::new();
    coredns_pod_labels.insert("k8s-app".into(), "kube-dns".into());
    coredns_pod_labels.extend(values.coredns.pod_labels.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))));

    let base = context! {
        release => context! { name => &release.name, namespace => &release.namespace },
        v => Serde(values),
        plan => Serde(&plan),
        pod_labels => Serde(&pod_labels),
        coredns_pod_labels => Serde(&coredns_pod_labels),
        corefile => &plan.corefile,
    };
    let render_one = |template: &'static str, ctx: minijinja::Value| {
        env.get_template(template)
            .and_then(|t| t.render(ctx))
            .map_err(|source| RenderError::Template { template, source })
    };
    let coredns_bundle = if !values.coredns.enabled {
        String::new()
    } else if values.coredns.manifests.is_empty() {
        render_one("coredns.yaml.j2", base.clone())?
    } else {
        values.coredns.manifests.clone()
    };
    let ctx = context! { coredns_bundle => coredns_bundle, ..base };

    let wanted = |template: &str| match template {
        "coredns.yaml.j2" => false,
        "coredns-configmap.yaml.j2" => values.coredns.enabled,
        "init-manifests.yaml.j2" => !values.init.manifests.is_empty(),
        "ingress.yaml.j2" => values.ingress.enabled,
        "isolation.yaml.j2" => values.isolation.enabled,
        _ => true,
    };
    let mut manifests = Vec::new();
    for (template, _) in engine::TEMPLATES.iter().filter(|(t, _)| wanted(t)) {
        let text = render_one(template, ctx.clone())?;
        for object in parse_documents(template, &text)? {
            manifests.push(finish(template, object, release, values)?);
        }
    }
    order::sort_for_install(&mut manifests);

    let mut notes = Vec::new();
    if values.service_cidr.is_empty() {
        notes.push(format!(
            "serviceCIDR is not set: k3s reads it from ConfigMap vc-cidr-{} (key cidr), which the syncer writes \
             at start; `vcluster create` detects the host cluster's service range and sets it",
            release.name
        ));
    }
    let mut warnings = Vec::new();
    if values.syncer.replicas > 1 {
        warnings.push(
            "syncer.replicas > 1: k3s stores its state in SQLite on one pod's volume; for HA give k3s an external \
             datastore (vcluster.extraArgs: --datastore-endpoint=...)"
                .into(),
        );
    }
    Ok(Rendered { manifests, notes, warnings })
}

/// Split a template's output into objects (empty documents are skipped).
pub(crate) fn parse_documents(template: &'static str, text: &str) -> Result<Vec<Value>, RenderError> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_documents: 100, max_nodes: 10_000_000, max_events: 50_000_000 },
        emit_comments: false,
    };
    let docs: Vec<Value> = serde_saphyr::from_str_multiple_with_options(text, options)
        .map_err(|e| RenderError::Output { template, message: e.to_string() })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Stamp the standard metadata on one object and describe it.
fn finish(
    template: &'static str,
    mut object: Value,
    release: &ReleaseInfo,
    values: &Values,
) -> Result<Manifest, RenderError> {
    let bad = |message: &str| RenderError::Output { template, message: message.to_string() };
    let obj = object.as_object_mut().ok_or_else(|| bad("not a mapping"))?;
    let api_version = obj.get("apiVersion").and_then(Value::as_str).ok_or_else(|| bad("no apiVersion"))?.to_string();
    let kind = obj.get("kind").and_then(Value::as_str).ok_or_else(|| bad("no kind"))?.to_string();
    let mut meta = match obj.shift_remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => return Err(bad("no metadata")),
    };
    let name = meta.get("name").and_then(Value::as_str).ok_or_else(|| bad("no metadata.name"))?.to_string();
    let namespace = (!cluster_scoped(&kind)).then(|| release.namespace.clone());

    let mut labels = standard_labels(&release.name);
    if let Some(Value::Object(own)) = meta.shift_remove("labels") {
        labels.extend(own);
    }
    let mut annotations = match meta.shift_remove("annotations") {
        Some(Value::Object(own)) => own,
        _ => Map::new(),
    };
    annotations.extend(values.global_annotations.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))));
    // Helm's ownership annotations (helm: pkg/action/validate.go setMetadataVisitor).
    annotations.insert("meta.helm.sh/release-name".into(), release.name.clone().into());
    annotations.insert("meta.helm.sh/release-namespace".into(), release.namespace.clone().into());

    let mut metadata = Map::new();
    metadata.insert("name".into(), name.clone().into());
    if let Some(ns) = &namespace {
        metadata.insert("namespace".into(), ns.clone().into());
    }
    metadata.insert("labels".into(), Value::Object(labels));
    metadata.insert("annotations".into(), Value::Object(annotations));
    metadata.extend(meta);

    // apiVersion, kind, metadata first, then the rest in template order.
    let mut ordered = Map::new();
    ordered.insert("apiVersion".into(), api_version.clone().into());
    ordered.insert("kind".into(), kind.clone().into());
    ordered.insert("metadata".into(), Value::Object(metadata));
    for (k, v) in std::mem::take(obj) {
        if k != "apiVersion" && k != "kind" {
            ordered.insert(k, v);
        }
    }
    Ok(Manifest { api_version, kind, namespace, name, template, object: Value::Object(ordered) })
}

/// Multi-document YAML, each object after `---` and a `# Source:` line (like `helm template`).
pub fn to_yaml_stream(manifests: &[Manifest]) -> Result<String, serde_saphyr::ser_error::Error> {
    let mut out = String::new();
    for m in manifests {
        out.push_str("---\n# Source: ");
        out.push_str(crate::CHART_NAME);
        out.push_str("/templates/");
        out.push_str(m.template.trim_end_matches(".j2"));
        out.push('\n');
        out.push_str(&to_yaml(&m.object)?);
    }
    Ok(out)
}

/// YAML the way this tool prints it: YAML-1.1-ambiguous strings quoted (so `"yes"` stays a
/// string for every reader), multi-line strings as literal blocks, and long lines never folded.
pub(crate) fn to_yaml<T: serde::Serialize>(value: &T) -> Result<String, serde_saphyr::ser_error::Error> {
    let options = serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX / 2 };
    serde_saphyr::to_string_with_options(value, options)
}

/// One `v1/List` holding every object (`-o json`).
pub fn to_json_list(manifests: &[Manifest]) -> String {
    let items: Vec<&Value> = manifests.iter().map(|m| &m.object).collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
    text.push('\n');
    text
}
