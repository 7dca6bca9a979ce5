//! The binary's entry point: parse (usage errors exit 2), validate (exit 1), warn once about
//! what is not built yet, run until SIGINT/SIGTERM.

use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

use crate::options;
use crate::startup;

/// Run the syncer with `args` (the first is the program name).
pub fn main_with(args: Vec<std::ffi::OsString>) -> ExitCode {
    let parsed = match options::parse(args) {
        Ok(p) => p,
        Err(e) => {
            let code = e.exit_code();
            let _ = e.print();
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
    };
    init_logging();
    let options = parsed.options;
    let controllers = match options.validate().and_then(|()| options.enabled_controllers()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(1);
        }
    };
    if let Some(warning) = startup::unimplemented_warning(&parsed.unimplemented, &controllers) {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            signal.cancel();
        });
        match startup::run(options, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{}", crate::error::chain(&e));
                ExitCode::from(1)
            }
        }
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("VCLUSTER_SYNCER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    // Colour only at a terminal: container logs are files, where escape codes are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
