//! The `vcluster-syncer` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    vcluster_syncer::cli::main_with(std::env::args_os().collect())
}
