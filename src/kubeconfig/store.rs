//! Reading and writing kubeconfig files: the only I/O of this module.
//!
//! Writes follow client-go's protocol so a concurrent `kubectl config …` or a second `connect`
//! loses no update: every file of the invocation is locked by creating `<file>.lock` exclusively
//! (client-go `tools/clientcmd/loader.go` `lockFile`, taken in sorted order by `ModifyConfig`), the
//! files are read *under* the lock, changed, and written back before the locks go. Unlike
//! client-go, which fails at once when a lock exists, a held lock is waited for (bounded), and each
//! file is replaced atomically: a temporary file in the same directory, fsync, rename, fsync of the
//! directory. A symlinked kubeconfig's target is replaced, not the link; a new file is mode 0600 and
//! an existing file keeps its mode and owner.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::document::Document;
use super::error::KubeconfigError;
use super::loaded::{Edit, Loaded};
use super::sources::Sources;

/// How long a write waits for another process's lock before giving up.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// Read every file of `sources` (a missing file is an empty one, as client-go's
/// `getConfigFromFile` treats it).
pub fn load(sources: &Sources) -> Result<Loaded, KubeconfigError> {
    let files = sources.precedence().iter().map(|p| read_document(p)).collect::<Result<_, _>>()?;
    Ok(Loaded::new(sources.clone(), files))
}

fn read_document(path: &Path) -> Result<Document, KubeconfigError> {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|e| KubeconfigError::Parse { path: path.to_path_buf(), message: format!("not UTF-8: {e}") })?;
            Document::parse(path, &text)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Document::missing(path)),
        Err(source) => Err(KubeconfigError::Read { path: path.to_path_buf(), source }),
    }
}

/// Read-modify-write under client-go's lock: lock every file of `sources`, read them, let `change`
/// decide the edits from what is on disk *now*, apply them and write the files that changed.
/// Returns the configuration as written. A held lock is waited for by sleeping this thread: for
/// code outside an async runtime (`modify_async` inside one).
pub fn modify<E>(sources: &Sources, change: impl FnOnce(&Loaded) -> Result<Vec<Edit>, E>) -> Result<Loaded, E>
where
    E: From<KubeconfigError>,
{
    modify_with(sources, LOCK_TIMEOUT, change)
}

pub(super) fn modify_with<E: From<KubeconfigError>>(
    sources: &Sources,
    lock_timeout: Duration,
    change: impl FnOnce(&Loaded) -> Result<Vec<Edit>, E>,
) -> Result<Loaded, E> {
    write_locked(sources, Locking::new(&sources.precedence(), lock_timeout).blocking()?, change)
}

/// [`modify`] for async code: a lock another process holds is waited for on the runtime's timer,
/// so the runtime's other tasks (a port-forward being served) keep running meanwhile.
pub(crate) async fn modify_async<E: From<KubeconfigError>>(
    sources: &Sources,
    change: impl FnOnce(&Loaded) -> Result<Vec<Edit>, E>,
) -> Result<Loaded, E> {
    write_locked(sources, Locking::new(&sources.precedence(), LOCK_TIMEOUT).awaited().await?, change)
}

/// The read-modify-write itself, with every lock held (released when `_locks` drops).
fn write_locked<E>(
    sources: &Sources,
    _locks: Locks,
    change: impl FnOnce(&Loaded) -> Result<Vec<Edit>, E>,
) -> Result<Loaded, E>
where
    E: From<KubeconfigError>,
{
    let mut loaded = load(sources)?;
    let edits = change(&loaded)?;
    let changed = loaded.apply(&edits)?;
    for doc in loaded.files().iter().filter(|d| changed.contains(&d.path)) {
        let text = doc.to_yaml()?;
        write_atomic(&doc.path, text.as_bytes())
            .map_err(|source| KubeconfigError::Write { path: doc.path.clone(), source })?;
    }
    Ok(loaded)
}

/// client-go's `<file>.lock` files, held together and removed on drop.
struct Locks(Vec<PathBuf>);

impl Drop for Locks {
    fn drop(&mut self) {
        for lock in &self.0 {
            // Nothing useful to do if it is already gone.
            let _ = fs::remove_file(lock);
        }
    }
}

/// How long the first wait for a held lock is; each further wait doubles, up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// Taking the locks of several files, in sorted order (as client-go's `ModifyConfig` takes them),
/// one step at a time, so the caller decides how to wait between steps.
struct Locking {
    /// Still to take, the next one last.
    pending: Vec<PathBuf>,
    held: Locks,
    deadline: Instant,
    timeout: Duration,
    pause: Duration,
}

impl Locking {
    fn new(files: &[PathBuf], timeout: Duration) -> Locking {
        let mut pending = files.to_vec();
        pending.sort();
        pending.dedup();
        pending.reverse();
        let held = Locks(Vec::with_capacity(pending.len()));
        Locking { pending, held, deadline: Instant::now() + timeout, timeout, pause: FIRST_PAUSE }
    }

    /// Every lock, a held one waited for by sleeping this thread.
    fn blocking(mut self) -> Result<Locks, KubeconfigError> {
        while let Some(pause) = self.step()? {
            std::thread::sleep(pause);
        }
        Ok(self.held)
    }

    /// Every lock, a held one waited for on the async runtime's timer.
    async fn awaited(mut self) -> Result<Locks, KubeconfigError> {
        while let Some(pause) = self.step()? {
            tokio::time::sleep(pause).await;
        }
        Ok(self.held)
    }

    /// Take every lock that is free, in order; `Some(pause)` when the next one is held by another
    /// process: wait that long, then step again. An error once the deadline has passed.
    fn step(&mut self) -> Result<Option<Duration>, KubeconfigError> {
        while let Some(file) = self.pending.last() {
            let lock = lock_path(file);
            if let Some(dir) = lock.parent() {
                create_dir(dir).map_err(|source| KubeconfigError::Lock { lock: lock.clone(), source })?;
            }
            // O_CREAT|O_EXCL, mode 0: exactly what client-go creates.
            match OpenOptions::new().write(true).create_new(true).mode(0o000).open(&lock) {
                Ok(_) => {
                    self.held.0.push(lock);
                    self.pending.pop();
                    self.pause = FIRST_PAUSE;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && Instant::now() < self.deadline => {
                    let pause = self.pause;
                    self.pause = (pause * 2).min(MAX_PAUSE);
                    return Ok(Some(pause));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(KubeconfigError::Locked { lock, waited: self.timeout });
                }
                Err(source) => return Err(KubeconfigError::Lock { lock, source }),
            }
        }
        Ok(None)
    }
}

/// `<file>.lock`, next to the file as named (not its symlink target), as client-go names it.
pub fn lock_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// The mode of a replaced file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// An existing file's mode (a user's kubeconfig, as client-go keeps it); 0600 for a new one.
    Keep,
    /// Always 0600: a file holding nothing but credentials.
    Private,
}

/// Replace `path` (its final symlink target) with `contents`, atomically; an existing file keeps
/// its mode and owner, a new one is 0600.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_with(path, contents, Mode::Keep, |_| Ok(()))
}

/// [`write_atomic`], but mode 0600 whatever mode an existing file had (its owner is kept): for a
/// file of credentials alone, such as `connect --kube-config FILE`.
pub fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_with(path, contents, Mode::Private, |_| Ok(()))
}

/// [`write_atomic`] with a hook between the temporary file being complete and the rename (tests
/// inject a crash there).
fn write_atomic_with(
    path: &Path,
    contents: &[u8],
    mode: Mode,
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let target = symlink_target(path)?;
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    create_dir(dir)?;
    let existing = fs::metadata(&target).ok();
    let tmp = temp_path(&target);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(contents)?;
        if let Some(meta) = &existing {
            keep_owner_and_mode(&file, meta, mode)?;
        }
        file.sync_all()?;
        drop(file);
        before_rename(&tmp)?;
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(dir)?.sync_all()
}

/// With [`Mode::Keep`], the existing file's mode, exactly (never loosened to the temp file's
/// defaults, nor tightened against the user's choice); and, when we may (as root), its owner:
/// `sudo vcluster connect` must not leave a root-owned kubeconfig behind.
fn keep_owner_and_mode(file: &File, meta: &fs::Metadata, mode: Mode) -> io::Result<()> {
    // Not permitted unless root (or already ours): then the file simply stays ours.
    let _ = std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()));
    match mode {
        Mode::Keep => file.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777)),
        // The temporary file was created 0600.
        Mode::Private => Ok(()),
    }
}

/// Follow `path` through symlinks (relative targets against the link's directory) to the file
/// that is actually written, which may not exist yet.
fn symlink_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("too many levels of symbolic links at {}", path.display())))
}

fn temp_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = format!(".{name}.{}.{}.tmp", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    target.with_file_name(unique)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubeconfig::Kind;
    use serde_json::json;
    use std::ffi::OsStr;
    use std::os::unix::fs::symlink;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn set(name: &str) -> Edit {
        Edit::Set { kind: Kind::Context, name: name.into(), body: json!({"cluster": "c", "user": "u"}) }
    }

    #[test]
    fn an_injected_crash_before_rename_leaves_the_old_file_and_no_debris() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, "old").unwrap();
        let err = write_atomic_with(&path, b"new", Mode::Keep, |_| Err(io::Error::other("crash"))).unwrap_err();
        assert_eq!(err.to_string(), "crash");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "temp file removed");
    }

    #[test]
    fn a_crash_leaves_the_temporary_complete_and_the_target_untouched() {
        // What a reader sees at the moment of the crash: the old file, whole.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let mut seen = None;
        let _ = write_atomic_with(&path, b"new content", Mode::Keep, |tmp| {
            seen = Some((fs::read_to_string(tmp)?, fs::read_to_string(&path)?, mode(tmp)));
            Err(io::Error::other("killed"))
        });
        assert_eq!(seen, Some(("new content".into(), "old".into(), 0o640)), "complete, synced, final mode");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
    }

    #[test]
    fn new_files_are_0600_and_existing_modes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("sub/dir/config");
        write_atomic(&fresh, b"a").unwrap();
        assert_eq!(mode(&fresh), 0o600);
        let existing = dir.path().join("shared");
        fs::write(&existing, "x").unwrap();
        fs::set_permissions(&existing, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&existing, b"y").unwrap();
        assert_eq!(mode(&existing), 0o640);
        assert_eq!(fs::read_to_string(&existing).unwrap(), "y");
    }

    #[test]
    fn private_files_are_0600_even_over_a_looser_file() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("vc.yaml");
        fs::write(&existing, "x").unwrap();
        fs::set_permissions(&existing, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&existing, b"credentials").unwrap();
        assert_eq!(mode(&existing), 0o600);
        assert_eq!(fs::read_to_string(&existing).unwrap(), "credentials");
        let fresh = dir.path().join("new.yaml");
        write_private(&fresh, b"credentials").unwrap();
        assert_eq!(mode(&fresh), 0o600);
    }

    #[test]
    fn a_symlinked_kubeconfig_has_its_target_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/kubeconfig");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("config");
        symlink("real/kubeconfig", &link).unwrap();
        let chain = dir.path().join("config2");
        symlink(&link, &chain).unwrap();
        write_atomic(&chain, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert!(fs::symlink_metadata(&chain).unwrap().file_type().is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(mode(&target), 0o600);
        // A dangling link creates its target.
        let dangling = dir.path().join("dangling");
        symlink("real/not-yet", &dangling).unwrap();
        write_atomic(&dangling, b"created").unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("real/not-yet")).unwrap(), "created");
    }

    #[test]
    fn modify_writes_only_changed_files_and_releases_the_locks() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "contexts:\n- name: x\n  context: {cluster: c}\n").unwrap();
        fs::write(&b, "# a comment that only a rewrite would drop\nusers: []\n").unwrap();
        let env = std::env::join_paths([&a, &b]).unwrap();
        let sources = Sources::new(None, Some(env.as_os_str()), None);
        let loaded = modify::<KubeconfigError>(&sources, |l| {
            assert!(
                fs::metadata(lock_path(&a)).is_ok() && fs::metadata(lock_path(&b)).is_ok(),
                "locked while deciding"
            );
            assert_eq!(l.names(Kind::Context), ["x"]);
            Ok(vec![set("y")])
        })
        .unwrap();
        assert_eq!(loaded.names(Kind::Context), ["x", "y"]);
        let reread = load(&sources).unwrap();
        assert_eq!(reread.origin(Kind::Context, "y"), Some(a.as_path()));
        assert!(fs::read_to_string(&b).unwrap().starts_with("# a comment"), "untouched file not rewritten");
        assert!(fs::metadata(lock_path(&a)).is_err() && fs::metadata(lock_path(&b)).is_err());
    }

    #[test]
    fn a_failing_change_writes_nothing_and_releases_the_locks() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, "contexts: []\n").unwrap();
        let sources = Sources::new(Some(a.clone()), None, None);
        let err = modify::<KubeconfigError>(&sources, |_| Err(KubeconfigError::NoFile)).unwrap_err();
        assert!(matches!(err, KubeconfigError::NoFile));
        assert_eq!(fs::read_to_string(&a).unwrap(), "contexts: []\n");
        assert!(fs::metadata(lock_path(&a)).is_err());
    }

    #[test]
    fn a_held_lock_is_waited_for_then_reported() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(lock_path(&a), "").unwrap();
        let sources = Sources::new(None, Some(OsStr::new(a.as_os_str())), None);
        let err =
            modify_with::<KubeconfigError>(&sources, Duration::from_millis(50), |_| Ok(vec![set("y")])).unwrap_err();
        assert!(matches!(&err, KubeconfigError::Locked { lock, .. } if *lock == lock_path(&a)), "{err}");
        assert!(!a.exists(), "nothing written");
        assert!(lock_path(&a).exists(), "someone else's lock is left alone");
        // Released by its holder: the next write goes through.
        fs::remove_file(lock_path(&a)).unwrap();
        modify::<KubeconfigError>(&sources, |_| Ok(vec![set("y")])).unwrap();
        assert_eq!(mode(&a), 0o600);
    }

    /// On a one-thread runtime the lock's holder (a task here) can only let go while the waiting
    /// write yields: a thread-blocking wait would keep it from ever running, and time out.
    #[tokio::test(flavor = "current_thread")]
    async fn an_async_write_waits_for_a_lock_without_blocking_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(lock_path(&a), "").unwrap();
        let sources = Sources::new(None, Some(OsStr::new(a.as_os_str())), None);
        let lock = lock_path(&a);
        let holder = tokio::spawn(async move { fs::remove_file(lock).unwrap() });
        let loaded = modify_async::<KubeconfigError>(&sources, |_| Ok(vec![set("y")])).await.unwrap();
        assert_eq!(loaded.names(Kind::Context), ["y"]);
        assert!(holder.is_finished(), "the holder ran while the write waited");
        assert!(fs::metadata(lock_path(&a)).is_err(), "our own lock released");
    }

    #[test]
    fn unreadable_and_malformed_files_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        fs::write(&a, "clusters: 7\n").unwrap();
        let sources = Sources::new(Some(a.clone()), None, None);
        assert!(matches!(load(&sources), Err(KubeconfigError::Invalid { .. })));
        fs::write(&a, [0xff, 0xfe]).unwrap();
        assert!(matches!(load(&sources), Err(KubeconfigError::Parse { .. })));
        let as_dir = Sources::new(Some(dir.path().to_path_buf()), None, None);
        assert!(matches!(load(&as_dir), Err(KubeconfigError::Read { .. })));
    }
}
