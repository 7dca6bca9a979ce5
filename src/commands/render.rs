//! `vcluster render NAME`: the manifests of a virtual cluster, without cluster access.

use clap::Args;

use crate::cli::{Context, OutputFormat};
use crate::error::{ExitStatus, Hinted};
use crate::kubeconfig::{self, Kind, Loaded, Sources};
use crate::render::{self, ReleaseInfo, RenderInput};
use crate::values::{self, FlagValues, Layers, SetKind, ValuesError};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Name of the virtual cluster (a DNS-1035 label of at most 51 characters)
    pub name: String,
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Print the merged values instead of the manifests
    #[arg(long)]
    pub show_values: bool,
}

/// The values flags `render` and `create` share.
#[derive(Debug, Args)]
pub struct ValuesArgs {
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
}

impl ValuesArgs {
    /// Read every input (files, stdin) and the flag values: the layers `values::load` takes,
    /// and notes worth a warning.
    pub fn layers(&self) -> anyhow::Result<(Layers, Vec<String>)> {
        let (computed, notes) = values::flag_values(&FlagValues {
            kubernetes_version: self.kubernetes_version.clone(),
            expose: self.expose,
            isolate: self.isolate,
        })?;
        let mut files = Vec::new();
        let mut stdin_used = false;
        for spec in &self.values {
            if spec == "-" {
                anyhow::ensure!(!stdin_used, "-f - (stdin) can be given only once");
                stdin_used = true;
            }
            files.push(values::read_source(spec, &mut std::io::stdin().lock()).map_err(values_error)?);
        }
        let sets = [(SetKind::Json, &self.set_json), (SetKind::Typed, &self.set), (SetKind::String, &self.set_string)]
            .into_iter()
            .flat_map(|(kind, list)| list.iter().map(move |text| (kind, text.clone())))
            .collect();
        Ok((Layers { computed, files, sets }, notes))
    }
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
    let (layers, notes) = args.values.layers()?;
    let loaded = values::load(&layers).map_err(values_error)?;

    let context_ns = match &ctx.global.namespace {
        Some(_) => None,
        None => {
            let kubeconfig = load_kubeconfig(ctx)?;
            if let Some(context) = ctx.global.context.as_deref()
                && kubeconfig.entry(Kind::Context, context).is_none()
            {
                return Err(anyhow::Error::new(
                    Hinted::new(format!("context {context:?} not found in the kubeconfig")).hint(NAMESPACE_HINT),
                ));
            }
            kubeconfig::context_namespace(&kubeconfig, ctx.global.context.as_deref())
        }
    };
    let namespace = resolve_namespace(ctx.global.namespace.as_deref(), context_ns.as_deref(), &args.name);
    check_namespace(&namespace)?;

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

const NAMESPACE_HINT: &str = "pass -n NAMESPACE to choose the namespace without reading the kubeconfig";

/// The kubeconfig files of this invocation, read as client-go's loading rules read them
/// (`--kubeconfig`, else `KUBECONFIG`, else `~/.kube/config`); an explicit `--kubeconfig` must
/// exist. `render` and `create` read it the same way.
pub fn load_kubeconfig(ctx: &Context) -> anyhow::Result<Loaded> {
    let sources = Sources::from_env(ctx.global.kubeconfig.as_deref());
    let loaded = kubeconfig::load(&sources).map_err(|e| anyhow::Error::new(Hinted::from(e).hint(NAMESPACE_HINT)))?;
    if let (Some(path), Some(file)) = (sources.explicit(), loaded.files().first())
        && !file.exists
    {
        return Err(anyhow::Error::new(
            Hinted::new(format!("cannot read kubeconfig {}: no such file", path.display())).hint(NAMESPACE_HINT),
        ));
    }
    Ok(loaded)
}

/// A namespace the API server would accept.
pub fn check_namespace(namespace: &str) -> anyhow::Result<()> {
    match values::check_namespace(namespace) {
        Some(problem) => anyhow::bail!("invalid namespace: {}", problem.message),
        None => Ok(()),
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
}
