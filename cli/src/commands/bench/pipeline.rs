//! `shotfarm bench pipeline`: the farm's wall time for a synthesized 1080p source, every
//! stage of the job included (inspection, encodes, assembly, validation, packaging, report,
//! and VMAF scoring where the job asks for it), against one plain ffmpeg process encoding the
//! same renditions with the same encoder settings (one decode, `split`, the ladder's bitrates
//! and keyframe interval, audio once), and the ratio. Two farm configurations: like for like
//! (each chunk decoded once for all rungs, no scoring: the work plain ffmpeg does, plus
//! inspection, validation and packaging) and the default job (a task per chunk and rung,
//! every chunk scored). Each farm run is measured right after its own plain ffmpeg run, so a
//! noisy machine skews both alike; with `--runs N` the pairs repeat and the medians (and the
//! spread of the pair ratios) are printed.
//!
//! Beside wall times it prints the CPU time of each side (the farm's includes its in-process
//! scheduler and agents) and the farm's stage times from its `report.json`: the farm's extra
//! work over plain ffmpeg, and where its wall time goes. `cores × plain wall` is what the
//! machine could have done while plain ffmpeg ran, so `farm CPU / (cores × plain wall)` is the
//! least ratio any schedule of the farm's work could reach.
//!
//! Per configuration it also prints the job's task graph from `report.json` (work, span,
//! parallelism, the share of the span before the first encode, and the wall time farms of
//! 1 to 256 agents would need: see [`super::task_graph`]) beside the farm's measured wall
//! time with 1 and 2 agents here. Sources are synthesized once and cached
//! ([`super::source_cache`]), so `--seconds 600` pays for its source only the first time.

use std::path::Path;
use std::time::{Duration, Instant};

use shotfarm_agent::media::ladder::{LadderSource, default_ladder};
use shotfarm_agent::runtime::Shutdown;

use super::statistics::median;
use super::cpu_time::CpuTime;
use super::source_cache::{cache_dir, cached_source};
use super::task_graph::TaskGraphFigures;
use crate::commands::dev::{FarmTransport, Observers, run_farm};
use crate::client::job_options::JobOptions;
use crate::client::job_view;
use crate::report_stages::{one_line, stage_times};
use super::failure;
use crate::exit::{CommandError, CommandResult};
use crate::runtime::block_on;
use crate::stdout::outln;

#[derive(Debug, clap::Args)]
pub struct BenchPipelineArgs {
    /// Length of the synthesized 1080p source, 1 to 600 s (made once, then kept under
    /// ~/.cache/shotfarm/bench-sources).
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    #[arg(long, default_value_t = 1)]
    pub agents: u32,
    /// Plain-then-farm pairs per configuration; the figures are the medians.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// Only the like-for-like configuration (skips the default job, which scores every chunk).
    #[arg(long)]
    pub quick: bool,
    #[arg(long)]
    pub json: bool,
    /// Run the farm without TLS and authentication (to measure what they cost).
    #[arg(long)]
    pub insecure: bool,
}

/// One ffmpeg process encoding every rung of the default H.264 ladder the way the farm's
/// cpu backend does (preset medium, high profile, VBV, closed GOPs every 4 s).
async fn plain_ffmpeg(source: &Path, out: &Path, fps: f64) -> Result<Duration, CommandError> {
    let rungs = default_ladder(&LadderSource::square(1920, 1080), shotfarm_proto::pipeline::Codec::H264)
        .map_err(failure)?;
    let interval = (fps * 4.0).round().max(1.0) as u32;
    let labels: Vec<String> = (0..rungs.len()).map(|index| format!("[r{index}]")).collect();
    let mut filter = format!("[0:v]split={}{}", rungs.len(), labels.concat());
    for (index, rung) in rungs.iter().enumerate() {
        filter.push_str(&format!(";[r{index}]scale={}:{}:flags=bicubic[o{index}]", rung.width, rung.height));
    }
    let mut command = tokio::process::Command::new("ffmpeg");
    command.args(["-hide_banner", "-loglevel", "error", "-y", "-i"]).arg(source).args(["-filter_complex", &filter]);
    for (index, rung) in rungs.iter().enumerate() {
        command.args(["-map", &format!("[o{index}]"), "-an", "-c:v", "libx264", "-profile:v", "high", "-preset", "medium"]);
        command.args(["-b:v", &format!("{}k", rung.bitrate_kbps), "-maxrate", &format!("{}k", rung.maxrate_kbps), "-bufsize", &format!("{}k", rung.bufsize_kbps)]);
        command.args(["-g", &interval.to_string(), "-keyint_min", &interval.to_string(), "-sc_threshold", "0", "-x264-params", "open-gop=0:scenecut=0"]);
        command.arg(out.join(format!("{}.mp4", rung.name)));
    }
    command.args(["-map", "0:a", "-vn", "-c:a", "aac", "-b:a", "128k"]).arg(out.join("audio.m4a"));
    let started = Instant::now();
    let output = command.stdin(std::process::Stdio::null()).kill_on_drop(true).output().await.map_err(failure)?;
    if !output.status.success() {
        return Err(failure(format!("reference ffmpeg failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr).trim())));
    }
    Ok(started.elapsed())
}

/// One plain-then-farm pair.
struct Pair {
    farm_seconds: f64,
    farm_cpu_seconds: f64,
    plain_seconds: f64,
    plain_cpu_seconds: f64,
    /// The farm's stage times from its report.json (stage name, seconds).
    stages: Vec<(String, f64)>,
    /// The job's task graph from its report.json.
    graph: TaskGraphFigures,
}

/// The farm's stage times from its `report.json`.
fn stage_seconds(report: &Path) -> Result<Vec<(String, f64)>, CommandError> {
    let text = std::fs::read_to_string(report).map_err(|error| failure(format!("reading {}: {error}", report.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|error| failure(format!("{} is not JSON: {error}", report.display())))?;
    stage_times(&value).ok_or_else(|| failure(format!("{} has no timings.stages", report.display())))
}

/// The median of each stage over the pairs.
fn median_stages(pairs: &[Pair]) -> Vec<(String, f64)> {
    let Some(first) = pairs.first() else { return Vec::new() };
    first
        .stages
        .iter()
        .map(|(name, _)| {
            let samples = pairs.iter().filter_map(|pair| pair.stages.iter().find(|(other, _)| other == name).map(|(_, seconds)| *seconds)).collect();
            (name.clone(), median(samples))
        })
        .collect()
}

/// A farm configuration the bench measures.
struct FarmRun {
    name: &'static str,
    what: &'static str,
    options: JobOptions,
}

/// The configurations: the like-for-like one (what plain ffmpeg does: one decode per chunk
/// feeding every rung, no quality scoring) and, unless `quick`, the default job (one encode
/// task per chunk and rung, every chunk scored).
fn farm_runs(quick: bool) -> Vec<FarmRun> {
    let mut runs = vec![FarmRun {
        name: "like_for_like",
        what: "farm, rungs of a chunk from one decode, no scoring",
        options: JobOptions { rungs_per_encode: 8, no_scoring: true, ..JobOptions::default() },
    }];
    if !quick {
        runs.push(FarmRun { name: "default_job", what: "farm, default job (a task per chunk and rung, VMAF scoring)", options: JobOptions::default() });
    }
    runs
}

pub fn run(args: BenchPipelineArgs) -> CommandResult {
    if args.agents == 0 || args.seconds == 0 || args.seconds > 600 || !(1..=20).contains(&args.runs) {
        return Err(CommandError::usage(anyhow::anyhow!("--agents must be at least 1, --seconds 1..=600 and --runs 1..=20")));
    }
    block_on(async move {
        let signals = Shutdown::on_signals();
        let scratch = tempfile::Builder::new().prefix("shotfarm-bench-pipeline-").tempdir().map_err(failure)?;
        let sources = cache_dir().unwrap_or_else(|| scratch.path().to_path_buf());
        let source = cached_source(&sources, (1920, 1080), args.seconds).await?;
        if !args.json {
            eprintln!("{} s 1080p source, {} agent(s); each farm run follows its own plain ffmpeg run…", args.seconds, args.agents);
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        // The modelled agents have the CPU the measured run's agents had (`run_farm` splits the cores).
        let agent_capacity_milli = (cores as u32 / args.agents).max(1) * 1000;
        let mut rows = Vec::new();
        for (index, farm_run) in farm_runs(args.quick).into_iter().enumerate() {
            let mut pairs = Vec::new();
            for run in 0..args.runs {
                let reference_out = scratch.path().join(format!("reference-{index}-{run}"));
                let farm_out = scratch.path().join(format!("farm-{index}-{run}"));
                for dir in [&reference_out, &farm_out] {
                    std::fs::create_dir_all(dir).map_err(failure)?;
                }
                let before_plain = CpuTime::now();
                let reference = plain_ffmpeg(&source, &reference_out, 24.0).await?;
                let plain_cpu = CpuTime::now().since(before_plain);
                let before_farm = CpuTime::now();
                let started = Instant::now();
                let job = run_farm(&source, &farm_out, args.agents, &farm_run.options, FarmTransport::from_insecure_flag(args.insecure), &signals, Observers::QUIET).await?;
                let farm = started.elapsed();
                let farm_cpu = CpuTime::now().since(before_farm);
                if job_view::state_name(job.state) != "succeeded" {
                    return Err(failure(format!("the farm's job ({}) {}: {}", farm_run.name, job_view::state_name(job.state), job.error)));
                }
                pairs.push(Pair {
                    farm_seconds: farm.as_secs_f64(),
                    farm_cpu_seconds: farm_cpu.total(),
                    plain_seconds: reference.as_secs_f64(),
                    plain_cpu_seconds: plain_cpu.children,
                    stages: stage_seconds(&farm_out.join("report.json"))?,
                    graph: TaskGraphFigures::from_report(&farm_out.join("report.json"), agent_capacity_milli).map_err(failure)?,
                });
                std::fs::remove_dir_all(&farm_out).map_err(failure)?;
                std::fs::remove_dir_all(&reference_out).map_err(failure)?;
            }
            let of = |field: fn(&Pair) -> f64| median(pairs.iter().map(field).collect());
            let (farm, reference) = (of(|pair| pair.farm_seconds), of(|pair| pair.plain_seconds));
            let (farm_cpu, plain_cpu) = (of(|pair| pair.farm_cpu_seconds), of(|pair| pair.plain_cpu_seconds));
            let ratios: Vec<f64> = pairs.iter().map(|pair| pair.farm_seconds / pair.plain_seconds).collect();
            let ratio = median(ratios.clone());
            let (low, high) = ratios.iter().fold((f64::INFINITY, 0.0f64), |(low, high), ratio| (low.min(*ratio), high.max(*ratio)));
            let floor = median(pairs.iter().map(|pair| pair.farm_cpu_seconds / (cores * pair.plain_seconds)).collect()).max(1.0);
            let stages = median_stages(&pairs);
            let mut measured = vec![(args.agents, farm)];
            for agents in [1, 2].into_iter().filter(|agents| *agents != args.agents) {
                measured.push((agents, farm_wall(&source, scratch.path(), agents, &farm_run, args.insecure, &signals).await?));
            }
            measured.sort_by_key(|(agents, _)| *agents);
            // The graph of the last run (its report, its CPU figures).
            let graph = pairs.last().map(|pair| pair.graph.clone()).ok_or_else(|| failure("no farm run"))?;
            if !args.json {
                let spread = if pairs.len() > 1 { format!("   (pairs {low:.2}..{high:.2}, {} runs)", pairs.len()) } else { String::new() };
                outln!("{:<62} {farm:>7.1} s   plain ffmpeg {reference:>6.1} s   ratio {ratio:.2}{spread}", farm_run.what);
                outln!("    stages: {}", one_line(&stages));
                outln!(
                    "    CPU: farm {farm_cpu:.1} s, plain ffmpeg {plain_cpu:.1} s ({:+.1} s); on {cores} cores no schedule of the farm's work beats a ratio of {floor:.2}",
                    farm_cpu - plain_cpu
                );
                for line in graph.lines(&measured) {
                    outln!("{line}");
                }
            }
            rows.push(serde_json::json!({
                "config": farm_run.name,
                "farm_seconds": farm,
                "plain_ffmpeg_seconds": reference,
                "ratio": ratio,
                "pair_ratios": ratios,
                "farm_cpu_seconds": farm_cpu,
                "plain_ffmpeg_cpu_seconds": plain_cpu,
                "cpu_floor_ratio": floor,
                "stages": stages.iter().map(|(name, seconds)| (name.clone(), serde_json::json!(seconds))).collect::<serde_json::Map<_, _>>(),
                "task_graph": graph.to_json(&measured),
            }));
        }
        if args.json {
            outln!("{}", serde_json::json!({ "source_seconds": args.seconds, "agents": args.agents, "runs": rows }));
        }
        Ok(())
    })
}

/// The wall time of one farm run of `farm_run` with `agents` agents (no plain ffmpeg beside it).
async fn farm_wall(source: &Path, scratch: &Path, agents: u32, farm_run: &FarmRun, insecure: bool, signals: &Shutdown) -> Result<f64, CommandError> {
    let out = scratch.join(format!("farm-{}-{agents}-agents", farm_run.name));
    std::fs::create_dir_all(&out).map_err(failure)?;
    let started = Instant::now();
    let job = run_farm(source, &out, agents, &farm_run.options, FarmTransport::from_insecure_flag(insecure), signals, Observers::QUIET).await?;
    let wall = started.elapsed().as_secs_f64();
    if job_view::state_name(job.state) != "succeeded" {
        return Err(failure(format!("the farm's job ({}, {agents} agents) {}: {}", farm_run.name, job_view::state_name(job.state), job.error)));
    }
    std::fs::remove_dir_all(&out).map_err(failure)?;
    Ok(wall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(stages: &[(&str, f64)]) -> Pair {
        Pair {
            farm_seconds: 1.0,
            farm_cpu_seconds: 1.0,
            plain_seconds: 1.0,
            plain_cpu_seconds: 1.0,
            stages: stages.iter().map(|(name, seconds)| ((*name).to_owned(), *seconds)).collect(),
            graph: TaskGraphFigures::of(&crate::task_dag::TaskDag::new(Vec::new()).unwrap(), 1000),
        }
    }

    #[test]
    fn stage_times_are_read_from_the_report_and_bad_reports_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        std::fs::write(&report, r#"{"timings":{"stages":{"validate":2.0,"inspect":2.5},"total_seconds":4.5}}"#).unwrap();
        assert_eq!(stage_seconds(&report).unwrap(), vec![("inspect".to_owned(), 2.5), ("validate".to_owned(), 2.0)]);
        std::fs::write(&report, r#"{"timings":{}}"#).unwrap();
        assert!(stage_seconds(&report).is_err());
        assert!(stage_seconds(&dir.path().join("missing.json")).is_err());
    }

    #[test]
    fn each_stage_gets_its_own_median() {
        let pairs = [pair(&[("inspect", 2.0), ("encode", 20.0)]), pair(&[("inspect", 3.0), ("encode", 18.0)]), pair(&[("inspect", 2.5), ("encode", 30.0)])];
        assert_eq!(median_stages(&pairs), vec![("inspect".to_owned(), 2.5), ("encode".to_owned(), 20.0)]);
        assert!(median_stages(&[]).is_empty());
    }
}
