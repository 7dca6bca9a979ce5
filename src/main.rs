//! The `vcluster` binary: parse, run, map to an exit code. Everything else lives in the library.
fn main() -> std::process::ExitCode {
    vcluster::cli::main(std::env::args_os())
}
