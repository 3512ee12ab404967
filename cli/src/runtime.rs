//! The async runtime for subcommands that talk to the farm. (Their shutdown on signals is
//! `shotfarm_agent::runtime::Shutdown::on_signals`.)

use std::future::Future;

use crate::exit::{CommandError, CommandResult};

/// Runs `future` on a multi-threaded runtime.
pub fn block_on<F: Future<Output = CommandResult>>(future: F) -> CommandResult {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|err| CommandError::from(anyhow::anyhow!("cannot start the async runtime: {err}")))?;
    runtime.block_on(future)
}
