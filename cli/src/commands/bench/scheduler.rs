//! `shotfarm bench scheduler …`: hands over to the `shotfarm-bench-scheduler` binary.
//!
//! That benchmark starts real replicas and a swarm of simulated agents with the multi-process
//! harness of `shotfarm-cluster-tests`, which also holds the fault proxies and the
//! linearizability checker. The shipped `shotfarm` binary does not link that harness: the
//! benchmark is its own binary, built with `cargo build --release -p shotfarm-cluster-tests`,
//! and this subcommand runs it from beside the `shotfarm` executable with every argument as
//! given, telling it which `shotfarm` to start as replicas (`SHOTFARM_BIN`).

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

use crate::exit::{CommandError, CommandResult};

/// The benchmark's executable, looked for beside `shotfarm`.
pub const BENCH_SCHEDULER_BINARY: &str = "shotfarm-bench-scheduler";

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub struct BenchSchedulerArgs {
    /// The benchmark's own flags (`--replicas`, `--agents`, `--tasks`, `--failovers`,
    /// `--latency-seconds`, `--latency-load`, `--json`, `--insecure`, `--connection-per-agent`; `--in-process` with
    /// `--farm-sizes`, `--queued`, `--rounds`, `--batch` for placement and apply alone; `--help` lists them).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

pub fn run(args: BenchSchedulerArgs) -> CommandResult {
    let shotfarm = std::env::current_exe()
        .map_err(|err| CommandError::from(anyhow::anyhow!("cannot find the running shotfarm executable: {err}")))?;
    let bench = shotfarm.parent().map(|dir| dir.join(BENCH_SCHEDULER_BINARY)).unwrap_or_else(|| PathBuf::from(BENCH_SCHEDULER_BINARY));
    if !bench.is_file() {
        return Err(CommandError::usage(anyhow::anyhow!(
            "bench scheduler runs {}, which is not there: build it beside shotfarm with \
             `cargo build --release -p shotfarm-cluster-tests` (the shipped binary leaves the test harness out)",
            bench.display()
        )));
    }
    // exec only returns on failure; on success the benchmark's exit status is this process's.
    let err = std::process::Command::new(&bench).args(&args.args).env("SHOTFARM_BIN", &shotfarm).exec();
    Err(CommandError::from(anyhow::anyhow!("cannot run {}: {err}", bench.display())))
}
