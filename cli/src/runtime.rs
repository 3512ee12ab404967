//! The async runtime for subcommands that talk to the farm, and the shutdown signal: the
//! first SIGINT/SIGTERM cancels `graceful`, the second cancels `abort`.

use std::future::Future;

use tokio_util::sync::CancellationToken;

use crate::exit::{CommandError, CommandResult};

/// Runs `future` on a multi-threaded runtime.
pub fn block_on<F: Future<Output = CommandResult>>(future: F) -> CommandResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| CommandError::from(anyhow::anyhow!("cannot start the async runtime: {err}")))?;
    runtime.block_on(future)
}

/// Two-stage shutdown tokens.
#[derive(Clone)]
pub struct Shutdown {
    /// Stop taking work, finish what runs.
    pub graceful: CancellationToken,
    /// Stop now.
    pub abort: CancellationToken,
}

/// Installs the signal handlers (call inside the runtime).
pub fn shutdown_on_signals() -> Shutdown {
    let shutdown = Shutdown { graceful: CancellationToken::new(), abort: CancellationToken::new() };
    let tokens = shutdown.clone();
    tokio::spawn(async move {
        let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else { return };
        for stage in 0.. {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            if stage == 0 {
                tracing::warn!("shutting down: finishing running work (signal again to abort)");
                tokens.graceful.cancel();
            } else {
                tracing::warn!("aborting");
                tokens.abort.cancel();
                tokens.graceful.cancel();
                return;
            }
        }
    });
    shutdown
}
