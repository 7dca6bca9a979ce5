//! `control-plane`: a real Kubernetes control plane on 127.0.0.1 until SIGINT/SIGTERM (see
//! `--help` and the library documentation). `scripts/control-plane up` builds and runs it.

use clap::Parser as _;

// One thread: every program is spawned from the main thread, which lives as long as the
// supervisor, so their parent-death signal fires only when the supervisor dies.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = control_plane::supervisor::Args::parse();
    let code = control_plane::supervisor::main(args).await;
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
