//! The async runtime for subcommands that talk to the farm. (Their shutdown on signals is
//! `shotfarm_agent::runtime::Shutdown::on_signals`.)

use std::future::Future;
use std::time::Duration;

use crate::exit::{CommandError, CommandResult};

/// How long blocking work (a file read stuck on a FIFO, a hung disk) may hold the process
/// once the command's future has ended.
const BLOCKING_WORK_GRACE: Duration = Duration::from_secs(1);

/// Runs `future` on a multi-threaded runtime. The process does not wait for blocking work
/// still running when the future ends: dropping a runtime would wait for it forever.
pub fn block_on<F: Future<Output = CommandResult>>(future: F) -> CommandResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| CommandError::from(anyhow::anyhow!("cannot start the async runtime: {err}")))?;
    let result = runtime.block_on(future);
    runtime.shutdown_timeout(BLOCKING_WORK_GRACE);
    result
}
