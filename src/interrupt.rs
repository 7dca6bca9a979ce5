//! SIGINT/SIGTERM for long operations: the first signal asks the operation to stop (it starts no
//! new request, records what it was doing as failed, and exits 130 through
//! [`crate::error::Interrupted`]); a second signal exits at once with 130.

use tokio_util::sync::CancellationToken;

use crate::error::Interrupted;

/// A shared "stop now" flag. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interrupt {
    token: CancellationToken,
}

impl Interrupt {
    /// A flag nothing sets but [`Interrupt::trigger`] (tests, commands without signals).
    pub(crate) fn manual() -> Interrupt {
        Interrupt::default()
    }

    /// Listen for SIGINT and SIGTERM on the current tokio runtime. `on_first` runs once, when
    /// the first signal arrives (to tell the person what happens now).
    pub(crate) fn install(on_first: impl Fn() + Send + 'static) -> std::io::Result<Interrupt> {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = Interrupt::default();
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let token = interrupt.token.clone();
        tokio::spawn(async move {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            // Said before the stop is asked for: once cancelled, the command may exit 130 (which
            // prints nothing more) before this task runs again.
            on_first();
            token.cancel();
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            std::process::exit(i32::from(crate::error::ExitStatus::Interrupted.code()));
        });
        Ok(interrupt)
    }

    /// Ask the operation to stop (what the first signal does).
    pub(crate) fn trigger(&self) {
        self.token.cancel();
    }

    pub(crate) fn is_set(&self) -> bool {
        self.token.is_cancelled()
    }

    /// `Err(Interrupted)` once a stop was asked for: call before starting a request.
    pub(crate) fn check(&self) -> Result<(), Interrupted> {
        if self.is_set() { Err(Interrupted) } else { Ok(()) }
    }

    /// Resolves when a stop is asked for.
    pub(crate) async fn wait(&self) {
        self.token.cancelled().await
    }

    /// Run `fut` unless a stop is asked for first.
    pub(crate) async fn guard<F: std::future::Future>(&self, fut: F) -> Result<F::Output, Interrupted> {
        self.check()?;
        tokio::select! {
            biased;
            _ = self.token.cancelled() => Err(Interrupted),
            out = fut => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_stops_new_and_pending_work() {
        let interrupt = Interrupt::manual();
        assert_eq!(interrupt.guard(async { 7 }).await.unwrap(), 7);
        let waiting = interrupt.clone();
        let pending = tokio::spawn(async move { waiting.guard(std::future::pending::<()>()).await });
        interrupt.trigger();
        assert!(pending.await.unwrap().is_err());
        assert!(interrupt.check().is_err());
        assert!(interrupt.guard(async { 7 }).await.is_err(), "nothing new starts");
    }
}
