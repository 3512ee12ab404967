//! `shotfarm bench …`: benchmarks of the farm's parts, one subcommand each.
//!
//! | module | what |
//! | --- | --- |
//! | [`vmaf`] | CPU (and CUDA) VMAF frames/s against libvmaf (`--libvmaf`) and an x264 yardstick |
//! | [`vmaf_versus_libvmaf`] | `shotfarm vmaf` and libvmaf's `vmaf` tool raced head to head |
//! | [`pipeline`] | the in-process farm against one plain ffmpeg process |
//! | [`ladder`] | BD-rate of the per-title and per-shot ladders against the fixed one, on a corpus of different content |
//! | [`ladder_corpus`] | the six synthesised sources `ladder` runs on, cached |
//! | [`brute_force_hull`] | the best hull full encodes at every size × a fine CRF grid reach, for `ladder`'s gap |
//! | [`bd_rate`] | the Bjøntegaard delta rate of two rate–quality curves (PCHIP in log-rate) |
//! | [`scheduler`] | runs `shotfarm-bench-scheduler`, built beside the harness it needs |
//! | [`task_graph`] | a job's work, span, parallelism and modelled wall on N agents, from its report.json |
//! | [`source_cache`] | synthesized sources kept under ~/.cache/shotfarm/bench-sources |
//! | [`statistics`] | medians of repeated runs |
//! | [`cpu_time`] | CPU seconds of this process and its children |

pub mod bd_rate;
pub mod brute_force_hull;
pub mod cpu_time;
pub mod ladder;
pub mod ladder_corpus;
pub mod pipeline;
pub mod scheduler;
pub mod source_cache;
pub mod statistics;
pub mod task_graph;
pub mod vmaf;
pub mod vmaf_versus_libvmaf;

use crate::exit::{CommandError, CommandResult};

/// A benchmark's failure, with its message.
fn failure(error: impl std::fmt::Display) -> CommandError {
    CommandError::from(anyhow::anyhow!("{error}"))
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Frames/s of the CPU VMAF path against libvmaf's (`--libvmaf PATH`) and an x264 encode.
    Vmaf(vmaf::BenchVmafArgs),
    /// Committed assignments/s, ready→assigned latency and leader failover of real replicas
    /// (runs the `shotfarm-bench-scheduler` binary; `--help` shows its flags).
    Scheduler(scheduler::BenchSchedulerArgs),
    /// The farm's wall time for a 1080p source against one plain ffmpeg process.
    Pipeline(pipeline::BenchPipelineArgs),
    /// BD-rate of the per-title and per-shot ladders against the fixed one, on synthesised
    /// sources of very different content (and your own files).
    Ladder(ladder::BenchLadderArgs),
}

pub fn run(args: BenchArgs) -> CommandResult {
    match args.command {
        BenchCommand::Vmaf(a) => vmaf::run(a),
        BenchCommand::Scheduler(a) => scheduler::run(a),
        BenchCommand::Pipeline(a) => pipeline::run(a),
        BenchCommand::Ladder(a) => ladder::run(a),
    }
}
