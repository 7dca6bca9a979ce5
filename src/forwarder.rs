//! The background port-forward `vcluster connect` starts for a vcluster, as `delete` stops it:
//! [`stop`] is a thin entry to [`crate::forward::registry`], which verifies a forwarder (its lock,
//! its record, its command line) before signalling it.

use crate::forward::registry::{ForwarderKey, Registry};
use crate::state::{StateDir, StateError};

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
/// `host_context`, if one runs.
pub fn stop(name: &str, namespace: &str, host_context: &str) -> Result<Stopped, ForwarderError> {
    let failed = |reason: String| ForwarderError::Stop { name: name.into(), namespace: namespace.into(), reason };
    let key = ForwarderKey::new(host_context, namespace, name);
    let stop = || -> Result<Option<u32>, StateError> {
        let registry = Registry::open(&StateDir::from_env()?)?;
        Ok(registry.stop(&key)?.map(|record| record.pid))
    };
    // Stopping waits (briefly) for the process to let go of its lock: keep the runtime's other
    // tasks going meanwhile.
    let stopped = match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(stop)
        }
        _ => stop(),
    };
    match stopped.map_err(|e| failed(e.to_string()))? {
        Some(pid) => Ok(Stopped::Stopped { pid }),
        None => Ok(Stopped::NoForwarder),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_says_what_happened() {
        assert_eq!(Stopped::NoForwarder.to_string(), "no forwarder");
        assert_eq!(Stopped::Stopped { pid: 7 }.to_string(), "stopped forwarder (pid 7)");
    }
}
