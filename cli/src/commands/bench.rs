//! `shotfarm bench …`: micro-benchmarks of the farm's parts, one subcommand each.

use crate::commands::bench_pipeline::{self, BenchPipelineArgs};
use crate::commands::bench_scheduler::{self, BenchSchedulerArgs};
use crate::commands::bench_vmaf::{self, BenchVmafArgs};
use crate::exit::CommandResult;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Frames/s of the CPU VMAF path, and its wall time against an x264 encode.
    Vmaf(BenchVmafArgs),
    /// Committed assignments/s, ready→assigned latency and leader failover of real replicas.
    Scheduler(BenchSchedulerArgs),
    /// The farm's wall time for a 1080p source against one plain ffmpeg process.
    Pipeline(BenchPipelineArgs),
}

pub fn run(args: BenchArgs) -> CommandResult {
    match args.command {
        BenchCommand::Vmaf(a) => bench_vmaf::run(a),
        BenchCommand::Scheduler(a) => bench_scheduler::run(a),
        BenchCommand::Pipeline(a) => bench_pipeline::run(a),
    }
}
