//! `vcluster list` (`ls`): every virtual cluster in `-n` or in all namespaces, as a table or, for
//! scripts, as JSON or YAML (one array; the field names below are stable). Three LISTs however
//! many vclusters there are ([`crate::find`]).

use clap::Args;
use jiff::Timestamp;
use serde::Serialize;

use crate::context::args::{HostArgs, formats};
use crate::context::host::{self, load_kubeconfig};
use crate::context::{Context, OutputFormat};
use crate::error::{ExitStatus, Hinted};
use crate::find::{self, Scope, Vcluster};
use crate::kubeconfig::{self, ConnectRecord, Loaded};
use crate::printer::text::human_duration;
use crate::render;

/// The examples of `--help` (a test parses each and finds it in the README).
pub(crate) const EXAMPLES: &str = concat!(
    "Examples:\n",
    "  vcluster list                   # every namespace, as a table\n",
    "  vcluster list -n team -o json   # one namespace, as JSON",
);

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Output format
    #[arg(short = 'o', long, value_name = "FORMAT", default_value = "table",
          value_parser = formats(&[OutputFormat::Table, OutputFormat::Json, OutputFormat::Yaml]))]
    pub(crate) output: OutputFormat,
    #[command(flatten)]
    pub(crate) host: HostArgs,
}

/// One vcluster, as `-o json|yaml` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) namespace: String,
    /// `Running`, `Pending`, `Paused`, `Failed`, `Uninstalling`, `Stopped`, `Unknown`, or the
    /// pod's status as kubectl shows it (`ContainerCreating`, `CrashLoopBackOff`, …).
    pub(crate) status: String,
    /// The newest release revision's Helm status (`deployed`, `failed`, …); `null` without records.
    pub(crate) release_status: Option<String>,
    pub(crate) revision: Option<u32>,
    pub(crate) chart_version: Option<String>,
    /// The current kube context reaches this vcluster.
    pub(crate) connected: bool,
    /// A kube context of the kubeconfig that reaches it, if any.
    pub(crate) context: Option<String>,
    /// The host kube context it was found through.
    pub(crate) host_context: String,
    /// RFC 3339, UTC.
    pub(crate) created: Option<String>,
    pub(crate) age_seconds: Option<i64>,
}

/// A row per vcluster (pure: `now` and the kubeconfig given).
pub(crate) fn rows(vclusters: &[Vcluster], kubeconfig: &Loaded, host_context: &str, now: Timestamp) -> Vec<Row> {
    let reaches = |context: &str, v: &Vcluster| {
        ConnectRecord::of_context(kubeconfig, context)
            .is_some_and(|r| r.vcluster == v.name && r.namespace == v.namespace && r.host_context == host_context)
    };
    vclusters
        .iter()
        .map(|v| {
            let created = v.created();
            let context =
                kubeconfig::contexts_of(kubeconfig, &v.name, &v.namespace).into_iter().find(|c| reaches(c, v));
            Row {
                name: v.name.clone(),
                namespace: v.namespace.clone(),
                status: v.status(),
                release_status: v.release.as_ref().map(|r| r.info.status.to_string()),
                revision: v.release.as_ref().map(|r| r.version),
                chart_version: v
                    .release
                    .as_ref()
                    .and_then(|r| r.chart.as_ref()?.metadata.as_ref())
                    .map(|m| m.version.clone())
                    .or_else(|| chart_label_version(v)),
                connected: kubeconfig.current_context().is_some_and(|c| reaches(c, v)),
                context,
                host_context: host_context.to_owned(),
                created: created.map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string()),
                age_seconds: created.map(|t| now.duration_since(t).as_secs()),
            }
        })
        .collect()
}

/// The chart version from the StatefulSet's `chart: vcluster-<version>` label (no records).
fn chart_label_version(v: &Vcluster) -> Option<String> {
    let labels = v.statefulset.as_ref()?.metadata.labels.as_ref()?;
    Some(labels.get("chart")?.rsplit_once('-')?.1.to_owned())
}

/// The table: kubectl's layout (columns padded to their widest cell plus three spaces).
pub(crate) fn table(rows: &[Row]) -> String {
    let header = ["NAME", "NAMESPACE", "STATUS", "REVISION", "CHART VERSION", "CONNECTED", "CREATED", "AGE"];
    let dash = || "-".to_owned();
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.namespace.clone(),
                r.status.clone(),
                r.revision.map_or_else(dash, |v| v.to_string()),
                r.chart_version.clone().unwrap_or_else(dash),
                r.connected.to_string(),
                r.created.clone().unwrap_or_else(dash),
                r.age_seconds.map_or_else(dash, human_duration),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(&header);
    for row in &cells {
        out.push_str(&line(&row.iter().map(String::as_str).collect::<Vec<_>>()));
    }
    out
}

pub(crate) fn run(_args: ListArgs, ctx: &Context) -> anyhow::Result<ExitStatus> {
    let kubeconfig = load_kubeconfig(ctx)?;
    let printer = &ctx.printer;
    let (found, host_context) = ctx.block_on(async {
        let host = host::host_cluster(ctx, &kubeconfig, None).await?;
        let found =
            find::list(&host, &host::scope(ctx), printer).await.map_err(|e| anyhow::Error::new(Hinted::from(e)))?;
        Ok::<_, anyhow::Error>((found, host.context.clone()))
    })??;
    let rows = rows(&found.vclusters, &kubeconfig, &host_context, Timestamp::now());
    match ctx.output {
        Some(OutputFormat::Json) => printer.data((serde_json::to_string_pretty(&rows)? + "\n").as_bytes())?,
        Some(OutputFormat::Yaml) => printer.data(render::to_yaml(&rows)?.as_bytes())?,
        _ if rows.is_empty() => printer.info(match &found.searched {
            Scope::Namespace(ns) => format!("No vclusters found in namespace {ns}."),
            Scope::AllNamespaces => "No vclusters found.".into(),
        }),
        _ => printer.data(table(&rows).as_bytes())?,
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubeconfig::{Document, Sources};
    use crate::release::{Chart, Metadata, Release, Status};
    use std::path::Path;

    fn vcluster(name: &str, ns: &str, revision: u32) -> Vcluster {
        let mut release = Release {
            name: name.into(),
            namespace: ns.into(),
            version: revision,
            chart: Some(Chart {
                metadata: Some(Metadata { version: "0.15.7".into(), ..Metadata::vcluster() }),
                ..Chart::default()
            }),
            ..Release::default()
        };
        release.set_status(Status::Deployed, "Install complete");
        release.info.first_deployed = Some("2025-01-01T00:00:00.4Z".parse().unwrap());
        Vcluster { name: name.into(), namespace: ns.into(), release: Some(release), statefulset: None, pods: vec![] }
    }

    #[test]
    fn rows_say_which_vcluster_the_current_context_reaches() {
        let text = "contexts:\n- name: kind\n  context: {}\n- name: vcluster_one_team_kind\n  context: {}\n- name: vcluster_two_team_other-host\n  context: {}\ncurrent-context: vcluster_one_team_kind\n";
        let loaded = Loaded::new(
            Sources::new(Some("/k".into()), None, None),
            vec![Document::parse(Path::new("/k"), text).unwrap()],
        );
        let now: Timestamp = "2025-01-01T01:00:00Z".parse().unwrap();
        let rows = rows(&[vcluster("one", "team", 2), vcluster("two", "team", 1)], &loaded, "kind", now);
        assert!(rows[0].connected);
        assert_eq!(rows[0].context.as_deref(), Some("vcluster_one_team_kind"));
        assert!(!rows[1].connected);
        assert_eq!(rows[1].context, None, "a context made from another host does not reach it");
        assert_eq!(rows[0].created.as_deref(), Some("2025-01-01T00:00:00Z"));
        assert_eq!(rows[0].age_seconds, Some(3599));
        assert_eq!(rows[0].chart_version.as_deref(), Some("0.15.7"));
        let text = table(&rows);
        insta::assert_snapshot!(text);
        assert!(text.lines().nth(1).unwrap().starts_with("one    team        Unknown   2          "), "{text}");
    }
}
