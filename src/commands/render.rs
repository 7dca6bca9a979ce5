//! `vcluster render NAME`: the manifests of a virtual cluster, without cluster access.

use clap::Args;

use crate::context::args::{KubeconfigArgs, NamespaceArgs, ValuesArgs, check_name, formats, values_error};
use crate::context::host::{check_context, load_kubeconfig, namespace_for};
use crate::context::{Context, OutputFormat};
use crate::error::ExitStatus;
use crate::kubeconfig;
use crate::render::{self, ReleaseInfo, RenderInput};
use crate::values;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster render my-vcluster -f examples/networking.yaml           # YAML stream\n",
    "  vcluster render my-vcluster -f examples/networking.yaml -o json   # one JSON List\n",
    "  vcluster render my-vcluster --kubernetes-version v1.26 --isolate -n team-a\n",
    "  vcluster render my-vcluster -f - --show-values",
);

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// Name of the virtual cluster (a DNS-1035 label of at most 51 characters)
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) values: ValuesArgs,
    /// Print the merged values instead of the manifests
    #[arg(long)]
    pub(crate) show_values: bool,
    /// Output format: a YAML stream, or one JSON `List`
    #[arg(short = 'o', long, value_name = "FORMAT", default_value = "yaml",
          value_parser = formats(&[OutputFormat::Yaml, OutputFormat::Json]))]
    pub(crate) output: OutputFormat,
    #[command(flatten)]
    pub(crate) kubeconfig: KubeconfigArgs,
    #[command(flatten)]
    pub(crate) namespace: NamespaceArgs,
}

pub(crate) fn run(args: RenderArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    check_name(&args.name)?;
    let (layers, notes) = args.values.layers()?;
    let loaded = values::load(&layers).map_err(values_error)?;

    let context_ns = match &ctx.global.namespace {
        Some(_) => None,
        None => {
            let kubeconfig = load_kubeconfig(ctx)?;
            check_context(ctx, &kubeconfig)?;
            kubeconfig::context_namespace(&kubeconfig, ctx.global.context.as_deref())
        }
    };
    let namespace = namespace_for(ctx, context_ns.as_deref(), &args.name)?;

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
