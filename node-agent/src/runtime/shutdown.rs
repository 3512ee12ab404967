//! The farm's one shutdown signal, in two stages: the first SIGINT/SIGTERM cancels
//! `graceful` (stop taking work, let running work finish and report), the second cancels
//! `abort` (stop now). The agent, the scheduler (which needs only `graceful`) and the
//! in-process farm of `shotfarm dev` all take this type. After the second signal the process
//! ends within [`ABORT_DEADLINE`] even if some work ignores `abort` (a read stuck on a FIFO,
//! a hung disk): it exits with [`ABORT_EXIT_CODE`].

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long an aborted process may take to end on its own.
pub const ABORT_DEADLINE: Duration = Duration::from_secs(5);
/// The exit code of a process that had to be ended after an abort (128 + SIGTERM).
pub const ABORT_EXIT_CODE: i32 = 143;

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
                    end_after_abort_deadline();
                    return;
                }
            }
        });
        shutdown
    }
}

/// Ends the process [`ABORT_DEADLINE`] from now, from a thread of its own (the runtime's
/// threads may all be stuck), unless it has ended by then.
fn end_after_abort_deadline() {
    let spawned = std::thread::Builder::new().name("abort-deadline".to_owned()).spawn(|| {
        std::thread::sleep(ABORT_DEADLINE);
        eprintln!("error: still running {ABORT_DEADLINE:?} after the abort (work stuck in a blocking call); exiting");
        std::process::exit(ABORT_EXIT_CODE);
    });
    if let Err(err) = spawned {
        tracing::error!(%err, "cannot start the abort deadline; exiting now");
        std::process::exit(ABORT_EXIT_CODE);
    }
}
