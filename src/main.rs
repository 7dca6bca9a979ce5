//! The `vcluster` binary: parse, run, map to an exit code. Everything else lives in the library.

use std::ffi::OsString;

fn main() -> std::process::ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == vcluster::cli::FORWARDER_COMMAND) {
        close_inherited_descriptors();
    }
    vcluster::cli::main(args)
}

/// The background forwarder must hold nothing its launcher inherited without close-on-exec (a CI
/// job's pipe, a make jobserver): such a descriptor would keep that pipeline waiting for as long as
/// the forwarder lives. Everything std opens is close-on-exec, so above 2 only inherited
/// descriptors can be open at this point; std (and rustix) offer no safe way to close a descriptor
/// no Rust value owns, hence the one `unsafe` of the program.
#[allow(unsafe_code)]
fn close_inherited_descriptors() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let listed: Vec<i32> =
        entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).filter(|fd| *fd > 2).collect();
    for fd in listed {
        // The directory's own descriptor is in the list but closed by now: only close what is open.
        if std::fs::symlink_metadata(format!("/proc/self/fd/{fd}")).is_err() {
            continue;
        }
        // SAFETY: `fd` is open (checked just above, single-threaded, nothing opened since) and was
        // inherited through exec: no Rust value owns it, so taking ownership and dropping it
        // (closing it) cannot invalidate anything this program uses.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}
