//! The farm's one shutdown signal, in two stages: the first SIGINT/SIGTERM cancels
//! `graceful` (stop taking work, let running work finish and report), the second cancels
//! `abort` (stop now). The agent, the scheduler (which needs only `graceful`) and the
//! in-process farm of `shotfarm dev` all take this type.

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop taking work, finish what runs.
    pub graceful: CancellationToken,
    /// Stop now.
    pub abort: CancellationToken,
}

impl Shutdown {
    /// A shutdown that follows this one's two stages and can also be triggered on its own
    /// (one farm part stopped without stopping the rest).
    pub fn child(&self) -> Shutdown {
        Shutdown { graceful: self.graceful.child_token(), abort: self.abort.child_token() }
    }

    /// Stages driven by this process's SIGINT and SIGTERM (call inside a tokio runtime).
    pub fn on_signals() -> Shutdown {
        let shutdown = Shutdown::default();
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
}
