//! The background port-forward `vcluster connect` starts for a vcluster (issue "`vcluster
//! connect`, `disconnect` and `port-forward`"). `delete` stops it through [`stop`]; until
//! `connect` starts forwarders there is never one to stop.

/// What [`stop`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// No forwarder runs for this vcluster.
    NoForwarder,
    /// The forwarder with this process id was stopped.
    Stopped { pid: u32 },
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::NoForwarder => f.write_str("no forwarder"),
            Stopped::Stopped { pid } => write!(f, "stopped forwarder (pid {pid})"),
        }
    }
}

/// Why a forwarder could not be stopped.
#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    #[error("cannot stop the port-forward of vcluster {name} in namespace {namespace}: {reason}")]
    Stop { name: String, namespace: String, reason: String },
}

/// Stop the background port-forward of vcluster `name` in `namespace` of host context
/// `host_context`, if one runs. (`connect` implements it; today none runs.)
pub fn stop(name: &str, namespace: &str, host_context: &str) -> Result<Stopped, ForwarderError> {
    let _ = (name, namespace, host_context);
    Ok(Stopped::NoForwarder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_to_stop_yet() {
        let stopped = stop("vc", "team", "kind").unwrap();
        assert_eq!(stopped, Stopped::NoForwarder);
        assert_eq!(stopped.to_string(), "no forwarder");
    }
}
