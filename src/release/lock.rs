//! The release lock: a new revision's record is *created* in a pending state before any object is
//! applied, so two concurrent operations cannot both proceed (the loser's create gets 409
//! AlreadyExists). The pending record says who holds it — tool, host, process and time — in
//! `info.description`, where `helm history` shows it too.

use jiff::Timestamp;

use super::model::{Info, Status};

/// The operation that holds a pending revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PendingAction {
    Install,
    Upgrade,
    /// Re-applying revision `to` as a new revision.
    Rollback {
        to: u32,
    },
}

impl PendingAction {
    pub(crate) fn status(self) -> Status {
        match self {
            PendingAction::Install => Status::PendingInstall,
            PendingAction::Upgrade => Status::PendingUpgrade,
            PendingAction::Rollback { .. } => Status::PendingRollback,
        }
    }

    /// The description Helm gives a pending revision. (Helm v3 `pkg/action/install.go`,
    /// `upgrade.go`, `rollback.go`)
    pub(crate) fn helm_description(self) -> String {
        match self {
            PendingAction::Install => "Initial install underway".to_owned(),
            PendingAction::Upgrade => "Preparing upgrade".to_owned(),
            PendingAction::Rollback { to } => format!("Rollback to {to}"),
        }
    }
}

/// Who holds a pending revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LockHolder {
    /// `vcluster/<version>`.
    pub(crate) tool: String,
    pub(crate) host: String,
    pub(crate) pid: u32,
    pub(crate) since: Timestamp,
}

const HELD_BY: &str = "; locked by ";

impl LockHolder {
    /// This process, now.
    pub(crate) fn this_process(now: Timestamp) -> LockHolder {
        LockHolder {
            tool: format!("vcluster/{}", crate::CLI_VERSION),
            host: hostname(),
            pid: std::process::id(),
            since: now,
        }
    }

    /// `Preparing upgrade; locked by vcluster/0.1.0 on host build-7 (pid 4242) since 2025-01-02T03:04:05Z`.
    pub(crate) fn describe(&self, action: PendingAction) -> String {
        format!(
            "{}{HELD_BY}{} on host {} (pid {}) since {}",
            action.helm_description(),
            self.tool,
            self.host,
            self.pid,
            self.since
        )
    }
}

impl Info {
    /// The info of a new revision's pending record: the lock. `first_deployed` is the release's
    /// first deployment (for an upgrade), or now (for an install).
    pub(crate) fn pending(action: PendingAction, holder: &LockHolder, first_deployed: Option<Timestamp>) -> Info {
        Info {
            first_deployed: Some(first_deployed.unwrap_or(holder.since)),
            last_deployed: Some(holder.since),
            description: holder.describe(action),
            status: action.status(),
            ..Info::default()
        }
    }
}

/// The host name, for the lock record (`/proc/sys/kernel/hostname` on Linux, else `$HOSTNAME`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> LockHolder {
        LockHolder {
            tool: "vcluster/0.1.0".into(),
            host: "build-7".into(),
            pid: 4242,
            since: "2025-01-02T03:04:05Z".parse().unwrap(),
        }
    }

    #[test]
    fn description_reads_like_helm_and_names_the_holder() {
        let text = holder().describe(PendingAction::Upgrade);
        assert_eq!(
            text,
            "Preparing upgrade; locked by vcluster/0.1.0 on host build-7 (pid 4242) since 2025-01-02T03:04:05Z"
        );
    }

    #[test]
    fn pending_info_holds_the_lock() {
        let first: Timestamp = "2024-12-01T00:00:00Z".parse().unwrap();
        let info = Info::pending(PendingAction::Upgrade, &holder(), Some(first));
        assert_eq!(info.status, Status::PendingUpgrade);
        assert_eq!(info.first_deployed, Some(first));
        assert_eq!(info.last_deployed, Some(holder().since));
        assert_eq!(info.description, holder().describe(PendingAction::Upgrade));

        let install = Info::pending(PendingAction::Install, &holder(), None);
        assert_eq!(install.status, Status::PendingInstall);
        assert_eq!(install.first_deployed, Some(holder().since));
        assert!(install.description.starts_with("Initial install underway; locked by "));

        let rollback = Info::pending(PendingAction::Rollback { to: 3 }, &holder(), None);
        assert_eq!(rollback.status, Status::PendingRollback);
        assert!(rollback.description.starts_with("Rollback to 3; "));
    }

    #[test]
    fn this_process_names_this_host_and_pid() {
        let me = LockHolder::this_process(Timestamp::UNIX_EPOCH);
        assert_eq!(me.pid, std::process::id());
        assert!(!me.host.is_empty() && !me.host.contains(' '));
        assert_eq!(me.tool, format!("vcluster/{}", crate::CLI_VERSION));
    }
}
