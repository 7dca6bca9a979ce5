//! The background forwarders' files in the state directory, one set per vcluster and host context:
//!
//! - `<stem>.lock`: `flock`ed by the running forwarder for its whole life, never removed. The kernel
//!   drops the lock when the process dies, however it dies, so "the lock is held" is the proof that
//!   the forwarder lives; a pid is never trusted on its own.
//! - `<stem>.pid`: the forwarder's [`ForwarderRecord`] (pid, address, port, …), written by the lock
//!   holder. Found while the lock is free, it is stale: removed, never acted on.
//! - `<stem>.log` (and `.log.1`): the forwarder's stderr, bounded by rotation.
//!
//! Before a pid is signalled it is checked three ways: the lock is held, the record names that pid,
//! and `/proc/<pid>/cmdline` is this program's hidden forwarder command for this very key.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::state::{StateDir, StateError};

/// The hidden subcommand that runs a forwarder; also how `/proc/<pid>/cmdline` is recognised.
pub const FORWARDER_COMMAND: &str = "__forwarder";
/// The flag carrying the key's stem on the forwarder's command line.
pub(crate) const STEM_FLAG: &str = "--stem";

/// How long a stopped forwarder may take to let go of its lock before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a lock holder may take to publish its record (it does so right after binding).
const PUBLISH_GRACE: Duration = Duration::from_secs(3);
/// Subdirectory of the state directory.
const DIR: &str = "forwarders";

/// Which forwarder: one per vcluster and host context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ForwarderKey {
    pub(crate) host_context: String,
    pub(crate) namespace: String,
    pub(crate) vcluster: String,
}

impl ForwarderKey {
    pub(crate) fn new(host_context: &str, namespace: &str, vcluster: &str) -> ForwarderKey {
        ForwarderKey { host_context: host_context.into(), namespace: namespace.into(), vcluster: vcluster.into() }
    }

    /// `<vcluster>_<namespace>_<10 hex>`: readable, and unique per host context (which may hold
    /// any character) through the hash of all three.
    pub(crate) fn stem(&self) -> String {
        let hex = crate::translate::hex10(&format!("{}\0{}\0{}", self.host_context, self.namespace, self.vcluster));
        format!("{}_{}_{hex}", self.vcluster, self.namespace)
    }
}

/// What a running forwarder publishes about itself (the `.pid` file, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ForwarderRecord {
    pub(crate) pid: u32,
    pub(crate) vcluster: String,
    pub(crate) namespace: String,
    pub(crate) host_context: String,
    /// The host API server it forwards through.
    pub(crate) host_server: String,
    /// The local address and port it listens on.
    pub(crate) address: String,
    pub(crate) port: u16,
    /// The pod port it forwards to.
    pub(crate) remote_port: u16,
    pub(crate) started_at: String,
    pub(crate) log: PathBuf,
}

/// The files of one key.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) lock: PathBuf,
    pub(crate) pid: PathBuf,
    pub(crate) log: PathBuf,
}

/// The forwarders' directory.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// Open (creating it, private) the forwarders' directory of `state`.
    pub(crate) fn open(state: &StateDir) -> Result<Registry, StateError> {
        Ok(Registry { dir: state.subdir(DIR)? })
    }

    pub(crate) fn paths(&self, key: &ForwarderKey) -> Paths {
        let stem = key.stem();
        Paths {
            lock: self.dir.join(format!("{stem}.lock")),
            pid: self.dir.join(format!("{stem}.pid")),
            log: self.dir.join(format!("{stem}.log")),
        }
    }

    /// The live forwarder of `key`, if any. A stale record is removed.
    pub(crate) fn running(&self, key: &ForwarderKey) -> Result<Option<ForwarderRecord>, StateError> {
        let paths = self.paths(key);
        let lock = match open_lock(&paths.lock, false) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                remove_stale(&paths.pid)?;
                return Ok(None);
            }
            Err(e) => return Err(StateError::io(&paths.lock)(e)),
        };
        let deadline = Instant::now() + PUBLISH_GRACE;
        loop {
            match lock.try_lock() {
                // Nobody holds it: whatever record is there is stale. Removed while we hold the
                // lock, so a forwarder starting now cannot have published yet.
                Ok(()) => {
                    remove_stale(&paths.pid)?;
                    return Ok(None);
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(StateError::io(&paths.lock)(e)),
            }
            match read_record(&paths.pid) {
                Some(record) if is_our_forwarder(record.pid, &key.stem()) => return Ok(Some(record)),
                // Held, but the record is not (yet) its holder's: a forwarder is starting.
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => return Ok(None),
            }
        }
    }

    /// Stop the forwarder of `key` (SIGTERM, then SIGKILL after a grace period), only once verified
    /// as ours; returns the record of the one stopped.
    pub(crate) fn stop(&self, key: &ForwarderKey) -> Result<Option<ForwarderRecord>, StateError> {
        let Some(record) = self.running(key)? else { return Ok(None) };
        let paths = self.paths(key);
        let lock = open_lock(&paths.lock, false).map_err(StateError::io(&paths.lock))?;
        let signal = |signal| {
            if let Some(pid) = rustix::process::Pid::from_raw(record.pid as i32) {
                // Already gone is fine: the lock tells.
                let _ = rustix::process::kill_process(pid, signal);
            }
        };
        signal(rustix::process::Signal::TERM);
        if !wait_for_lock(&lock, STOP_GRACE) {
            signal(rustix::process::Signal::KILL);
            wait_for_lock(&lock, STOP_GRACE);
        }
        remove_stale(&paths.pid)?;
        Ok(Some(record))
    }

    /// Take the key's lock for a forwarder process; `None` when another forwarder holds it.
    pub(crate) fn claim(&self, key: &ForwarderKey) -> Result<Option<Claim>, StateError> {
        let paths = self.paths(key);
        let lock = open_lock(&paths.lock, true).map_err(StateError::io(&paths.lock))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(StateError::io(&paths.lock)(e)),
        }
        let inode = lock.metadata().map_err(StateError::io(&paths.lock))?.ino();
        Ok(Some(Claim { _lock: lock, inode, paths }))
    }
}

/// A forwarder's hold on its key: the flock, for as long as the process lives.
#[derive(Debug)]
pub(crate) struct Claim {
    _lock: File,
    inode: u64,
    pub(crate) paths: Paths,
}

impl Claim {
    /// Publish the record (atomically: readers see the old one or the new one).
    pub(crate) fn publish(&self, record: &ForwarderRecord) -> Result<(), StateError> {
        let text = serde_json::to_vec_pretty(record).expect("a record serializes");
        crate::kubeconfig::write_atomic(&self.paths.pid, &text).map_err(StateError::io(&self.paths.pid))
    }

    /// Whether the files still say this process is the forwarder: the lock file is the one locked
    /// and the record names this pid. Someone emptying the state directory makes the forwarder
    /// unfindable, so it should stop rather than linger.
    pub(crate) fn still_ours(&self) -> bool {
        let lock_same = fs::metadata(&self.paths.lock).is_ok_and(|m| m.ino() == self.inode);
        lock_same && read_record(&self.paths.pid).is_some_and(|r| r.pid == std::process::id())
    }

    /// Remove the record (on a clean exit); the lock goes with the process.
    pub(crate) fn release(self) {
        if read_record(&self.paths.pid).is_some_and(|r| r.pid == std::process::id()) {
            let _ = fs::remove_file(&self.paths.pid);
        }
    }
}

fn open_lock(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(create).truncate(false).mode(0o600).open(path)
}

fn read_record(path: &Path) -> Option<ForwarderRecord> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

fn remove_stale(path: &Path) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateError::io(path)(e)),
    }
}

/// Poll for the lock to be free (a stopping process lets go within milliseconds); leaves it
/// unlocked either way.
fn wait_for_lock(lock: &File, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if lock.try_lock().is_ok() {
            let _ = lock.unlock();
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl ForwarderRecord {
    /// A record of `key` for tests, naming process `pid`.
    #[cfg(test)]
    pub(crate) fn sample(key: &ForwarderKey, pid: u32) -> ForwarderRecord {
        ForwarderRecord {
            pid,
            vcluster: key.vcluster.clone(),
            namespace: key.namespace.clone(),
            host_context: key.host_context.clone(),
            host_server: "https://h".into(),
            address: "127.0.0.1".into(),
            port: 1,
            remote_port: 8443,
            started_at: "now".into(),
            log: "/l".into(),
        }
    }
}

/// `/proc/<pid>/cmdline` is `… __forwarder … --stem <stem> …`.
fn is_our_forwarder(pid: u32, stem: &str) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.contains(&FORWARDER_COMMAND.as_bytes())
        && args.windows(2).any(|w| w[0] == STEM_FLAG.as_bytes() && w[1] == stem.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> (tempfile::TempDir, Registry) {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::locate(Some(tmp.path()), None).unwrap();
        let registry = Registry::open(&state).unwrap();
        (tmp, registry)
    }

    #[test]
    fn stems_are_readable_and_distinguish_host_contexts() {
        let a = ForwarderKey::new("kind-a", "team", "my-vc");
        let b = ForwarderKey::new("kind-b", "team", "my-vc");
        assert!(a.stem().starts_with("my-vc_team_") && a.stem().len() == "my-vc_team_".len() + 10);
        assert_ne!(a.stem(), b.stem());
        assert_eq!(a.stem(), ForwarderKey::new("kind-a", "team", "my-vc").stem());
        // printf 'kind-a\0team\0my-vc' | sha256sum: the files of running forwarders stay findable.
        assert_eq!(a.stem(), "my-vc_team_d0b339cf22");
    }

    #[test]
    fn a_record_without_a_lock_holder_is_stale_and_removed() {
        let (_tmp, registry) = registry();
        let key = ForwarderKey::new("ctx", "ns", "vc");
        let paths = registry.paths(&key);
        // Our own pid, which must never be signalled on the strength of a file alone.
        fs::write(&paths.pid, serde_json::to_vec(&ForwarderRecord::sample(&key, std::process::id())).unwrap()).unwrap();
        assert_eq!(registry.running(&key).unwrap(), None);
        assert!(!paths.pid.exists(), "stale pid file removed");
        fs::write(&paths.pid, serde_json::to_vec(&ForwarderRecord::sample(&key, std::process::id())).unwrap()).unwrap();
        fs::write(&paths.lock, "").unwrap();
        assert_eq!(registry.stop(&key).unwrap(), None, "nothing signalled");
        assert!(!paths.pid.exists());
    }

    #[test]
    fn a_held_lock_whose_holder_is_not_a_forwarder_is_not_trusted() {
        let (_tmp, registry) = registry();
        let key = ForwarderKey::new("ctx", "ns", "vc");
        let claim = registry.claim(&key).unwrap().expect("free");
        assert!(registry.claim(&key).unwrap().is_none(), "one holder at a time");
        // This test process holds the lock but is not `vcluster __forwarder --stem …`.
        claim.publish(&ForwarderRecord::sample(&key, std::process::id())).unwrap();
        assert!(claim.still_ours());
        let started = Instant::now();
        assert_eq!(registry.running(&key).unwrap(), None);
        assert!(started.elapsed() >= PUBLISH_GRACE, "waited for a publishing forwarder first");
        assert!(claim.paths.pid.exists(), "a held lock's record is left alone");
        fs::remove_file(&claim.paths.pid).unwrap();
        assert!(!claim.still_ours(), "an emptied directory is noticed");
        claim.release();
        assert!(registry.claim(&key).unwrap().is_some(), "released with the file");
    }

    #[test]
    fn command_lines_are_matched_exactly() {
        assert!(!is_our_forwarder(std::process::id(), "x"));
        assert!(!is_our_forwarder(u32::MAX, "x"));
    }
}
