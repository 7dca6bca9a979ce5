//! `vcluster version`: the CLI version and the chart version releases record.

use clap::Args;

use crate::context::args::formats;
use serde::Serialize;

use crate::context::{Context, OutputFormat};
use crate::error::ExitStatus;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster version   # vcluster version 0.1.0 (chart vcluster-0.1.0)\n",
    "  vcluster version -o json",
);

#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Print the versions as JSON or YAML (default: one line of text)
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = formats(&[OutputFormat::Json, OutputFormat::Yaml]))]
    pub(crate) output: Option<OutputFormat>,
}

/// Stable, documented JSON: `{"cliVersion": "...", "chartVersion": "...", "chartName": "vcluster"}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionInfo {
    pub(crate) cli_version: &'static str,
    pub(crate) chart_name: &'static str,
    pub(crate) chart_version: &'static str,
}

pub(crate) fn info() -> VersionInfo {
    VersionInfo { cli_version: crate::CLI_VERSION, chart_name: crate::CHART_NAME, chart_version: crate::CHART_VERSION }
}

pub(crate) fn run(_args: VersionArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let info = info();
    let text = match ctx.output {
        Some(OutputFormat::Json) => serde_json::to_string_pretty(&info)? + "\n",
        Some(OutputFormat::Yaml) => serde_saphyr::to_string(&info)?,
        _ => format!("vcluster version {} (chart {}-{})\n", info.cli_version, info.chart_name, info.chart_version),
    };
    ctx.printer.data(text.as_bytes())?;
    Ok(ExitStatus::Success)
}
