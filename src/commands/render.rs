//! `vcluster render NAME`: the manifests of a virtual cluster, without cluster access.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::{Context, OutputFormat};
use crate::error::{ExitStatus, Hinted};
use crate::render::{self, ReleaseInfo, RenderInput};
use crate::values::{self, FlagValues, Layers, SetKind, ValuesError};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Name of the virtual cluster (a DNS-1035 label of at most 51 characters)
    pub name: String,
    /// Values file (repeatable, later files win; `-` reads stdin)
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub values: Vec<String>,
    /// Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Set values, keeping every value a string
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,
    /// Set values from JSON (a.b={"x":1})
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,
    /// Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)
    #[arg(long, value_name = "VERSION")]
    pub kubernetes_version: Option<String>,
    /// Expose the virtual cluster's API with a LoadBalancer Service (service.type: LoadBalancer)
    #[arg(long)]
    pub expose: bool,
    /// Run in isolated mode (isolation.enabled: true)
    #[arg(long)]
    pub isolate: bool,
    /// Print the merged values instead of the manifests
    #[arg(long)]
    pub show_values: bool,
}

/// Turn a values error into one a person can act on (hints attached).
pub fn values_error(err: ValuesError) -> anyhow::Error {
    match err.hint() {
        Some(hint) => anyhow::Error::new(Hinted::new(err.to_string()).hint(hint)),
        None => anyhow::Error::new(err),
    }
}

pub fn run(args: RenderArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    if let Some(problem) = values::check_name(&args.name) {
        anyhow::bail!("invalid vcluster name: {}", problem.message);
    }
    let (computed, notes) = values::flag_values(&FlagValues {
        kubernetes_version: args.kubernetes_version.clone(),
        expose: args.expose,
        isolate: args.isolate,
    })?;
    let mut files = Vec::new();
    let mut stdin_used = false;
    for spec in &args.values {
        if spec == "-" {
            anyhow::ensure!(!stdin_used, "-f - (stdin) can be given only once");
            stdin_used = true;
        }
        files.push(values::read_source(spec, &mut std::io::stdin().lock()).map_err(values_error)?);
    }
    let sets = [(SetKind::Json, &args.set_json), (SetKind::Typed, &args.set), (SetKind::String, &args.set_string)]
        .into_iter()
        .flat_map(|(kind, list)| list.iter().map(move |text| (kind, text.clone())))
        .collect();
    let loaded = values::load(&Layers { computed, files, sets }).map_err(values_error)?;

    let context_ns = match &ctx.global.namespace {
        Some(_) => None,
        None => context_namespace(ctx.global.kubeconfig.as_deref(), ctx.global.context.as_deref())?,
    };
    let namespace = resolve_namespace(ctx.global.namespace.as_deref(), context_ns.as_deref(), &args.name);
    if let Some(problem) = values::check_namespace(&namespace) {
        anyhow::bail!("invalid namespace: {}", problem.message);
    }

    if let Some(warning) = loaded.unsupported_warning() {
        ctx.printer.warn(warning);
    }
    for note in notes {
        ctx.printer.warn(note);
    }
    let json = ctx.output == Some(OutputFormat::Json);
    if args.show_values {
        let text =
            if json { serde_json::to_string_pretty(&loaded.merged)? + "\n" } else { render::to_yaml(&loaded.merged)? };
        ctx.printer.data(text.as_bytes())?;
        return Ok(ExitStatus::Success);
    }

    let release = ReleaseInfo { name: args.name.clone(), namespace };
    let rendered = render::render(&RenderInput { release, values: &loaded.values })?;
    for warning in &rendered.warnings {
        ctx.printer.warn(warning);
    }
    for note in &rendered.notes {
        ctx.printer.info(format!("note: {note}"));
    }
    let text =
        if json { render::to_json_list(&rendered.manifests) } else { render::to_yaml_stream(&rendered.manifests)? };
    ctx.printer.data(text.as_bytes())?;
    Ok(ExitStatus::Success)
}

/// The host namespace of a virtual cluster, the rule `create` uses too: `-n`, else the kube
/// context's namespace when it is set and not `default`, else `vcluster-<NAME>`.
pub fn resolve_namespace(flag: Option<&str>, context_namespace: Option<&str>, name: &str) -> String {
    match (flag, context_namespace) {
        (Some(ns), _) => ns.to_string(),
        (None, Some(ns)) if !ns.is_empty() && ns != "default" => ns.to_string(),
        _ => format!("vcluster-{name}"),
    }
}

/// The namespace of the selected kube context, read the way kubectl loads kubeconfigs:
/// `--kubeconfig`, else every file in `KUBECONFIG` (missing ones skipped), else
/// `~/.kube/config`. No kubeconfig at all means no namespace.
pub fn context_namespace(kubeconfig: Option<&Path>, context: Option<&str>) -> anyhow::Result<Option<String>> {
    use kube::config::Kubeconfig;
    let hint = "pass -n NAMESPACE to choose the namespace without reading the kubeconfig";
    let read = |path: &Path| {
        Kubeconfig::read_from(path).map_err(|e| {
            anyhow::Error::new(Hinted::new(format!("cannot read kubeconfig {}: {e}", path.display())).hint(hint))
        })
    };
    let paths: Vec<PathBuf> = match (kubeconfig, std::env::var_os("KUBECONFIG")) {
        (Some(path), _) => vec![path.to_path_buf()],
        (None, Some(list)) => std::env::split_paths(&list).filter(|p| p.is_file()).collect(),
        (None, None) => {
            std::env::home_dir().map(|h| h.join(".kube").join("config")).into_iter().filter(|p| p.is_file()).collect()
        }
    };
    let mut merged: Option<Kubeconfig> = None;
    for path in &paths {
        let next = read(path)?;
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).map_err(|e| anyhow::anyhow!("cannot merge kubeconfig {}: {e}", path.display()))?,
        });
    }
    let Some(config) = merged else { return Ok(None) };
    let Some(wanted) = context.map(str::to_string).or(config.current_context.clone()).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    match config.contexts.iter().find(|c| c.name == wanted) {
        Some(named) => Ok(named.context.as_ref().and_then(|c| c.namespace.clone())),
        None if context.is_some() => {
            Err(anyhow::Error::new(Hinted::new(format!("context {wanted:?} not found in the kubeconfig")).hint(hint)))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_resolution_order() {
        assert_eq!(resolve_namespace(Some("team"), Some("ctx-ns"), "my-vc"), "team");
        assert_eq!(resolve_namespace(None, Some("ctx-ns"), "my-vc"), "ctx-ns");
        assert_eq!(resolve_namespace(None, Some("default"), "my-vc"), "vcluster-my-vc");
        assert_eq!(resolve_namespace(None, Some(""), "my-vc"), "vcluster-my-vc");
        assert_eq!(resolve_namespace(None, None, "my-vc"), "vcluster-my-vc");
    }

    #[test]
    fn context_namespace_reads_the_selected_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters: [{name: c, cluster: {server: 'https://x'}}]\n\
             users: [{name: u, user: {}}]\ncontexts:\n- {name: a, context: {cluster: c, user: u, namespace: team-a}}\n\
             - {name: b, context: {cluster: c, user: u}}\n",
        )
        .unwrap();
        assert_eq!(context_namespace(Some(&path), None).unwrap().as_deref(), Some("team-a"));
        assert_eq!(context_namespace(Some(&path), Some("b")).unwrap(), None);
        assert!(context_namespace(Some(&path), Some("nope")).is_err());
        assert!(context_namespace(Some(&dir.path().join("missing")), None).is_err());
    }
}
