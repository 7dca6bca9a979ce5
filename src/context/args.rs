//! Flag groups several commands share, and the parsers of their values.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::error::Hinted;
use crate::values::{self, FlagValues, Layers, SetKind, ValuesError};

/// The flags of every command, before or after its name.
#[derive(Debug, Clone, Args)]
pub(crate) struct CommonArgs {
    /// Print only warnings, errors and data
    #[arg(short = 'q', long, global = true)]
    pub(crate) quiet: bool,
    /// Print debug information (requests, timings, the whole chain of an error)
    #[arg(long, global = true)]
    pub(crate) debug: bool,
}

/// Which kubeconfig and context: the commands that read the kubeconfig.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Host cluster")]
pub(crate) struct KubeconfigArgs {
    /// Path to the kubeconfig file of the host cluster (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Kube context of the host cluster (default: the current context)
    #[arg(long, value_name = "NAME")]
    pub(crate) context: Option<String>,
}

/// `-n`: the commands that work in a host namespace.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Host cluster")]
pub(crate) struct NamespaceArgs {
    /// Host namespace of the virtual cluster
    #[arg(short = 'n', long, value_name = "NAMESPACE", add = super::complete::namespaces())]
    pub(crate) namespace: Option<String>,
}

/// The commands that send requests to the host cluster.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Host cluster")]
pub(crate) struct HostArgs {
    #[command(flatten)]
    pub(crate) kubeconfig: KubeconfigArgs,
    #[command(flatten)]
    pub(crate) namespace: NamespaceArgs,
    /// How long one request to a cluster may wait for its answer (`0`: no bound), as kubectl's
    /// --request-timeout
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) request_timeout: Duration,
}

/// `-o json`, of the commands whose only data is one JSON result (progress and the human summary
/// go to stderr either way).
#[derive(Debug, Clone, Args)]
pub(crate) struct JsonOutput {
    /// Print the result as one JSON object on stdout
    #[arg(short = 'o', long, value_name = "FORMAT", value_parser = formats(&[OutputFormat::Json]))]
    pub(crate) output: Option<OutputFormat>,
}

/// The `-o` parser of a command: exactly `allowed`, listed in its help; anything else is a usage
/// error (exit 2).
pub(crate) fn formats(allowed: &'static [OutputFormat]) -> impl TypedValueParser<Value = OutputFormat> {
    PossibleValuesParser::new(allowed.iter().map(|f| f.as_str()))
        .try_map(|name| OutputFormat::from_name(&name).ok_or(format!("unknown format {name:?}")))
}

/// The values flags `render` and `create` share.
#[derive(Debug, Args)]
pub(crate) struct ValuesArgs {
    /// Values file (repeatable, later files win; `-` reads stdin)
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub(crate) values: Vec<String>,
    /// Set values (Helm syntax: a.b=1,list[0].key=x; infers booleans, null and integers)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
    /// Set values, keeping every value a string
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub(crate) set_string: Vec<String>,
    /// Set values from JSON (a.b={"x":1})
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub(crate) set_json: Vec<String>,
    /// Kubernetes version of the virtual cluster (picks the k3s image, e.g. v1.27)
    #[arg(long, value_name = "VERSION")]
    pub(crate) kubernetes_version: Option<String>,
    /// Expose the virtual cluster's API with a LoadBalancer Service (service.type: LoadBalancer)
    #[arg(long)]
    pub(crate) expose: bool,
    /// Run in isolated mode (isolation.enabled: true)
    #[arg(long)]
    pub(crate) isolate: bool,
}

impl ValuesArgs {
    /// Read every input (files, stdin) and the flag values: the layers `values::load` takes,
    /// and notes worth a warning.
    pub(crate) fn layers(&self) -> anyhow::Result<(Layers, Vec<String>)> {
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
pub(crate) fn values_error(err: ValuesError) -> anyhow::Error {
    match err.hint() {
        Some(hint) => anyhow::Error::new(Hinted::new(err).hint(hint)),
        None => anyhow::Error::new(err),
    }
}

/// A vcluster name `render` and `create` accept (the chart's names are derived from it).
pub(crate) fn check_name(name: &str) -> anyhow::Result<()> {
    match values::check_name(name) {
        Some(problem) => anyhow::bail!("invalid vcluster name: {}", problem.message),
        None => Ok(()),
    }
}

/// `--wait[=BOOL]` / `--no-wait` and `--timeout`, as `delete` and `resume` take them.
#[derive(Debug, Clone, Args)]
pub(crate) struct WaitArgs {
    /// Wait until it is done (default; `--wait=false` or `--no-wait` to return at once)
    #[arg(
        long,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_name = "BOOL",
        conflicts_with = "no_wait"
    )]
    pub(crate) wait: Option<bool>,
    /// Return without waiting
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// How long to wait: 90s, 10m, 1h
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
}

impl WaitArgs {
    /// The bound of the wait, or `None` for no wait.
    pub(crate) fn wait(&self) -> Option<Duration> {
        (!self.no_wait && self.wait != Some(false)).then_some(self.timeout)
    }
}

const NANOS_PER_SECOND: u128 = 1_000_000_000;
/// Fraction digits read; more cannot change a nanosecond count of any unit below.
const FRACTION_DIGITS: usize = 20;

/// A `--timeout`: `90s`, `10m`, `1h30m`, `1.5h`, `250ms`, or plain seconds. Go's duration syntax
/// with the units h, m, s and ms (go `src/time/format.go` `ParseDuration`), in whole nanoseconds:
/// a fraction is truncated to the nanosecond, as Go truncates it.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration like 90s, 10m or 1h30m");
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    if text.is_empty() {
        return Err(bad());
    }
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut rest = text;
    let mut nanos: u128 = 0;
    while !rest.is_empty() {
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(bad());
        }
        let (unit, after) = after.split_at(after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len()));
        let per_unit = match unit {
            "h" => 3600 * NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "s" => NANOS_PER_SECOND,
            "ms" => NANOS_PER_SECOND / 1000,
            _ => return Err(bad()),
        };
        let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
        let fraction = &fraction[..fraction.len().min(FRACTION_DIGITS)];
        let part = match fraction.parse::<u128>() {
            Ok(f) => f * per_unit / 10u128.pow(fraction.len() as u32),
            Err(_) => 0,
        };
        nanos = whole
            .checked_mul(per_unit)
            .and_then(|n| n.checked_add(part))
            .and_then(|n| n.checked_add(nanos))
            .ok_or_else(bad)?;
        rest = after;
    }
    // A total too large for a Duration is an error, not a panic.
    let secs = u64::try_from(nanos / NANOS_PER_SECOND).map_err(|_| bad())?;
    Ok(Duration::new(secs, (nanos % NANOS_PER_SECOND) as u32))
}

/// Formats for `-o/--output`. Each command accepts its own subset ([`formats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Table,
    Json,
    Yaml,
}

impl OutputFormat {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Yaml => "yaml",
        }
    }

    fn from_name(name: &str) -> Option<OutputFormat> {
        [OutputFormat::Table, OutputFormat::Json, OutputFormat::Yaml].into_iter().find(|f| f.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration(".5m").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m0.000000001s").unwrap(), Duration::new(60, 1));
        assert_eq!(parse_duration("0.1234567891s").unwrap(), Duration::new(0, 123_456_789), "truncated");
        assert_eq!(parse_duration("45").unwrap(), Duration::from_secs(45));
        for bad in ["", "10x", "m", "1h30", "-1s", ".s", "1..5s", "1.5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_duration_too_long_to_hold_is_an_error_not_a_panic() {
        for huge in ["99999999999999999999s", "9999999999999999h", "1.5e3s", "999999999999999999999999999999999999999h"]
        {
            assert!(parse_duration(huge).is_err(), "{huge}");
        }
        let max = format!("{}s", u64::MAX);
        assert_eq!(parse_duration(&max).unwrap(), Duration::from_secs(u64::MAX));
    }

    #[derive(Debug, Parser)]
    struct Cmd {
        #[command(flatten)]
        wait: WaitArgs,
    }

    fn wait(args: &[&str]) -> Option<Duration> {
        Cmd::try_parse_from(std::iter::once("x").chain(args.iter().copied())).unwrap().wait.wait()
    }

    #[test]
    fn waiting_is_the_default_and_can_be_turned_off_either_way() {
        assert_eq!(wait(&[]), Some(Duration::from_secs(600)));
        assert_eq!(wait(&["--wait", "--timeout", "90s"]), Some(Duration::from_secs(90)));
        assert_eq!(wait(&["--wait=true"]), Some(Duration::from_secs(600)));
        assert_eq!(wait(&["--wait=false"]), None);
        assert_eq!(wait(&["--no-wait"]), None);
        assert!(Cmd::try_parse_from(["x", "--wait", "--no-wait"]).is_err());
    }
}
