//! Dynamic shell completion (`COMPLETE=bash vcluster`, clap_complete's engine): the vcluster names
//! and the host namespaces of the current context (or of the `--kubeconfig`, `--context` and `-n`
//! typed so far). A completer asks the cluster while a person waits at a prompt, so it is bounded
//! ([`BOUND`]), prints nothing and asks nothing: on any failure it offers no candidate.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

use crate::cluster::Host;
use crate::find::{self, Scope};
use crate::kubeconfig::{self, Sources};
use crate::printer::{Printer, PrinterConfig};

/// How long a completion may take, connecting included.
const BOUND: Duration = Duration::from_secs(2);

/// The names of the vclusters on the host (in `-n` when typed).
pub(crate) fn vcluster_names() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| candidates(current, Lookup::Vclusters))
}

/// The namespaces of the host.
pub(crate) fn namespaces() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| candidates(current, Lookup::Namespaces))
}

#[derive(Debug, Clone, Copy)]
enum Lookup {
    Vclusters,
    Namespaces,
}

/// The host flags on the command line being completed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Typed {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    namespace: Option<String>,
}

/// Read `--kubeconfig`, `--context` and `-n/--namespace` (either spelling of the value) from the
/// words of the command line; the word being completed is among them and harmless.
fn typed(words: &[OsString]) -> Typed {
    let mut out = Typed::default();
    let words: Vec<&str> = words.iter().filter_map(|w| w.to_str()).collect();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let next = words.get(i + 1).map(|w| w.to_string());
        let (flag, value, used_next) = match word.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string()), false),
            _ if word.starts_with("-n") && word.len() > 2 && !word.starts_with("--") => {
                ("-n", Some(word[2..].to_string()), false)
            }
            _ => (word, next, true),
        };
        let value = value.filter(|v| !v.is_empty());
        let slot = match flag {
            "--kubeconfig" => {
                out.kubeconfig = value.map(PathBuf::from);
                true
            }
            "--context" => {
                out.context = value;
                true
            }
            "-n" | "--namespace" => {
                out.namespace = value;
                true
            }
            _ => false,
        };
        i += if slot && used_next { 2 } else { 1 };
    }
    out
}

fn candidates(current: &OsStr, lookup: Lookup) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str().map(str::to_owned) else { return Vec::new() };
    let typed = typed(&std::env::args_os().collect::<Vec<_>>());
    silence();
    // A thread of its own: whatever blocks (a credential plugin, a server that never answers) is
    // left behind when the bound passes, and ends with the process.
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(lookup_names(&typed, lookup));
    });
    let names = receive.recv_timeout(BOUND).ok().flatten().unwrap_or_default();
    names.into_iter().filter(|n| n.starts_with(&prefix)).map(CompletionCandidate::new).collect()
}

/// Nothing of the lookup reaches the terminal: stderr (warnings, a credential plugin's messages)
/// goes to /dev/null, and stdin too, so nothing can prompt. Only this process's completion
/// candidates are written, to stdout.
fn silence() {
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stderr(&null);
        let _ = rustix::stdio::dup2_stdin(&null);
    }
}

fn lookup_names(typed: &Typed, lookup: Lookup) -> Option<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let names = runtime.block_on(async {
        let loaded = kubeconfig::load(&Sources::from_env(typed.kubeconfig.as_deref())).ok()?;
        let printer = Printer::new(PrinterConfig::from_env(true, false, false));
        let connection =
            find::connect_host(&loaded, typed.context.as_deref(), typed.namespace.as_deref(), BOUND, &printer)
                .await
                .ok()?;
        match lookup {
            Lookup::Vclusters => {
                let scope = Scope::from_flag(typed.namespace.as_deref());
                let found = find::list(&connection, &scope, &printer).await.ok()?;
                let mut names: Vec<String> = found.vclusters.into_iter().map(|v| v.name).collect();
                names.sort();
                names.dedup();
                Some(names)
            }
            Lookup::Namespaces => Host::new(connection).namespace_names().await.ok(),
        }
    });
    runtime.shutdown_background();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn the_host_flags_typed_so_far_are_read_in_either_spelling() {
        let t = typed(&words("vcluster -- vcluster connect --kubeconfig /k --context=c -n team my"));
        assert_eq!(
            t,
            Typed { kubeconfig: Some("/k".into()), context: Some("c".into()), namespace: Some("team".into()) }
        );
        let t = typed(&words("vcluster -- vcluster pause -nteam --namespace=other x"));
        assert_eq!(t.namespace.as_deref(), Some("other"), "the last one counts");
        let t = typed(&words("vcluster -- vcluster delete -n"));
        assert_eq!(t, Typed::default(), "-n being completed names nothing yet");
        assert_eq!(typed(&words("vcluster -- vcluster list --no-wait x")), Typed::default());
    }
}
