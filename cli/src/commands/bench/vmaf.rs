//! `shotfarm bench vmaf`: how fast the CPU VMAF path is on this machine.
//!
//! Synthesizes a 1080p reference (ffmpeg's `testsrc2`) and a distorted clip (an x264
//! CRF 28 encode of it), both kept as .y4m in a temporary folder; then, with
//! `--libvmaf PATH`, races Netflix's `vmaf` tool and `shotfarm vmaf` on them
//! ([`super::vmaf_versus_libvmaf`]: frames/s of both at 1 and 2 threads, the ratio, the
//! pooled scores), or else prints
//! - frames/s of the CPU path on frames already in memory, at 1 and at 2 threads (`--threads`);
//! - frames/s of the CUDA path (VIF, ADM and motion on the GPU) on the same frames,
//!   upload included, at the same thread counts (each thread drives a CUDA stream of its
//!   own), or why it cannot run in this build or on this machine;
//! - the wall time of `shotfarm vmaf`'s library path on the two .y4m files (2 threads)
//!   and of `ffmpeg -threads 2 -i REF.y4m -c:v libx264 -preset fast -threads 2 -f null -`,
//!   measured alternately, and the ratio of their medians. libvmaf's own ratio on this
//!   machine class is 0.77 (shared/vmaf/README.md), so a ratio below that is faster
//!   than libvmaf.
//!
//! `--reference REF.y4m --distorted DIST.y4m` measures on a pair of your own instead of the
//! synthetic clip, and `--no-x264` leaves out the yardstick (a GPU host without ffmpeg).
//!
//! With `--libvmaf` the x264 line stays as a secondary yardstick, its `shotfarm vmaf` time
//! taken from the 2-thread race.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};
use shotfarm_kernels::simd::SimdLevel;
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::decode::frame_source::{FrameSource, MemorySource};
use shotfarm_kernels::decode::y4m::Y4mReader;
use shotfarm_kernels::backend::{BackendRequest, resolve};
use shotfarm_kernels::{Frame, FrameFormat, VmafOptions};

use super::statistics::median;
use super::vmaf_versus_libvmaf::{HeadToHead, Race};
use crate::commands::vmaf::SimdArg;
use crate::exit::{CommandError, CommandResult};
use crate::stdout::outln;

/// libvmaf's wall-time ratio against the x264 encode on this machine class.
const LIBVMAF_RATIO: f64 = 0.77;

#[derive(Debug, clap::Args)]
pub struct BenchVmafArgs {
    /// Frames of the synthetic 1080p clip.
    #[arg(long, default_value_t = 240)]
    pub frames: u32,
    /// Alternating runs of each comparison (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Netflix's `vmaf` tool (kernels/scripts/build-libvmaf.sh builds it): race it head to
    /// head with `shotfarm vmaf` on the same .y4m pair at 1 and 2 threads.
    #[arg(long)]
    pub libvmaf: Option<PathBuf>,
    /// Vector instructions of our CPU kernels: scalar, avx2 or avx512 (default: the best).
    #[arg(long, value_enum)]
    pub simd: Option<SimdArg>,
    /// A reference .y4m to measure on instead of the synthetic clip (with --distorted).
    #[arg(long, requires = "distorted")]
    pub reference: Option<PathBuf>,
    /// The distorted .y4m of --reference (same size, format and frame count).
    #[arg(long, requires = "reference")]
    pub distorted: Option<PathBuf>,
    /// CPU worker threads to measure the in-memory path at, one figure each.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2])]
    pub threads: Vec<usize>,
    /// Leave out the x264 yardstick (for machines without ffmpeg, with --reference).
    #[arg(long, conflicts_with = "libvmaf")]
    pub no_x264: bool,
    /// Print one JSON document instead of lines of text.
    #[arg(long)]
    pub json: bool,
}

/// A temporary folder removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ffmpeg(args: &[&str]) -> anyhow::Result<f64> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"]).args(args);
    let start = Instant::now();
    let out = cmd.output().context("cannot start ffmpeg (is it installed and on PATH?)")?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
        bail!(
            "`ffmpeg {}` ended with {}: {}",
            args.join(" "),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(secs)
}

fn load(path: &Path) -> anyhow::Result<(FrameFormat, Vec<Frame>)> {
    let mut reader = Y4mReader::open(path)?;
    let mut frames = Vec::new();
    while let Some(f) = reader.next_frame()? {
        frames.push(f);
    }
    Ok((reader.format(), frames))
}

fn frames_per_second(
    format: FrameFormat,
    reference: &[Frame],
    distorted: &[Frame],
    threads: usize,
    backend: BackendRequest,
    simd: Option<SimdLevel>,
) -> anyhow::Result<f64> {
    let r = MemorySource::new(format, reference.to_vec(), "reference").ok_or_else(|| anyhow!("bad frames"))?;
    let d = MemorySource::new(format, distorted.to_vec(), "distorted").ok_or_else(|| anyhow!("bad frames"))?;
    let options = VmafOptions { threads, backend, simd, ..VmafOptions::default() };
    let start = Instant::now();
    let report = shotfarm_kernels::vmaf_streams(Box::new(r), Box::new(d), &options)?;
    Ok(report.frames.len() as f64 / start.elapsed().as_secs_f64())
}

pub fn run(args: BenchVmafArgs) -> CommandResult {
    if args.frames < 2 || args.runs == 0 {
        return Err(CommandError::usage(anyhow!("--frames must be at least 2 and --runs at least 1")));
    }
    if args.threads.is_empty() || args.threads.contains(&0) {
        return Err(CommandError::usage(anyhow!("--threads takes thread counts of 1 or more, e.g. --threads 1,2,8")));
    }
    if args.no_x264 && args.reference.is_none() {
        return Err(CommandError::usage(anyhow!("--no-x264 goes with --reference and --distorted (the synthetic clip needs ffmpeg anyway)")));
    }
    let simd = args.simd.map(SimdArg::checked_level).transpose()?;
    let dir = Scratch(std::env::temp_dir().join(format!("shotfarm-bench-vmaf-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).with_context(|| format!("creating {}", dir.0.display()))?;
    let (reference, distorted) = match (&args.reference, &args.distorted) {
        (Some(reference), Some(distorted)) => (reference.clone(), distorted.clone()),
        _ => (dir.0.join("ref.y4m"), dir.0.join("dist.y4m")),
    };
    let head_to_head = args.libvmaf.as_deref().map(|libvmaf| HeadToHead {
        libvmaf,
        reference: &reference,
        distorted: &distorted,
        runs: args.runs,
        simd,
        scratch: &dir.0,
    });
    if let Some(race) = &head_to_head {
        race.check_tool().map_err(CommandError::usage)?;
    }
    let text = !args.json;
    let frames = match &args.reference {
        Some(_) => {
            let frames = Y4mReader::open(&reference).and_then(|mut reader| {
                let mut count = 0u32;
                while reader.next_frame()?.is_some() {
                    count += 1;
                }
                Ok(count)
            });
            frames.map_err(|error| CommandError::usage(anyhow!("--reference {}: {error} (a .y4m file is needed)", reference.display())))?
        }
        None => {
            if text {
                outln!("synthesizing {} frames of 1920x1080 (testsrc2, x264 crf 28) in {}", args.frames, dir.0.display());
            }
            synthesize(&dir.0, args.frames)?;
            args.frames
        }
    };
    let options = VmafOptions { threads: 2, backend: BackendRequest::Cpu, simd, ..VmafOptions::default() };
    let mut document = json!({ "frames": frames, "runs": args.runs, "simd": options.simd.unwrap_or(SimdLevel::detect()).name() });
    let ours_two_threads = match &head_to_head {
        Some(race) => {
            let races = [race.race(1)?, race.race(2)?];
            if text {
                print_races(&races, frames, args.runs);
            }
            document["head_to_head"] = json!(races.iter().map(|r| r.to_json(frames)).collect::<Vec<_>>());
            if let Some(disagreement) = races.iter().find(|r| !r.scores_agree()) {
                return Err(CommandError::from(anyhow!(
                    "the pooled scores differ at {} thread(s): libvmaf {:.6}, shotfarm {:.6}",
                    disagreement.threads,
                    disagreement.libvmaf_score,
                    disagreement.ours_score
                )));
            }
            None
        }
        None => {
            in_memory_lines(&reference, &distorted, &args.threads, simd, text, &mut document)?;
            Some(options)
        }
    };
    if args.no_x264 {
        if !text {
            outln!("{document}");
        }
        return Ok(());
    }
    let (ours, x264) = x264_yardstick(&reference, &distorted, ours_two_threads.as_ref(), args.runs)?;
    let ours = ours.or_else(|| document["head_to_head"][1]["ours_seconds"].as_f64()).unwrap_or(f64::NAN);
    let ratio = ours / x264;
    document["x264_yardstick"] = json!({ "ours_seconds": ours, "x264_seconds": x264, "ratio": ratio, "libvmaf_ratio_on_this_machine_class": LIBVMAF_RATIO });
    if text {
        outln!("secondary yardstick, `ffmpeg -threads 2 -i REF.y4m -c:v libx264 -preset fast -threads 2 -f null -`, median of {} runs:", args.runs);
        outln!("  shotfarm vmaf (2 threads, two .y4m): {ours:.3} s; x264 -preset fast encode: {x264:.3} s");
        outln!(
            "  ratio {ratio:.2} (libvmaf measured {LIBVMAF_RATIO:.2} on this machine class; below it = faster, i.e. ~{:.1}x libvmaf's speed)",
            LIBVMAF_RATIO / ratio
        );
    } else {
        outln!("{document}");
    }
    Ok(())
}

/// The reference (`testsrc2`) and the distorted clip (its x264 CRF 28 encode, decoded), as .y4m.
fn synthesize(dir: &Path, frames: u32) -> anyhow::Result<()> {
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (reference, encoded, distorted) = (path("ref.y4m"), path("dist.mp4"), path("dist.y4m"));
    let frames = frames.to_string();
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-frames:v", &frames, "-pix_fmt", "yuv420p", &reference])?;
    ffmpeg(&["-i", &reference, "-c:v", "libx264", "-preset", "medium", "-crf", "28", &encoded])?;
    ffmpeg(&["-i", &encoded, "-pix_fmt", "yuv420p", "-fps_mode", "passthrough", &distorted])?;
    Ok(())
}

fn print_races(races: &[Race], frames: u32, runs: u32) {
    outln!("head to head, whole processes on the two .y4m files, median of {runs} alternating runs:");
    for race in races {
        outln!(
            "  {} thread{}: libvmaf {:.1} frames/s ({:.3} s), shotfarm {:.1} frames/s ({:.3} s): ours/libvmaf {:.2}x",
            race.threads,
            if race.threads == 1 { " " } else { "s" },
            race.libvmaf_fps(frames),
            race.libvmaf_seconds,
            race.ours_fps(frames),
            race.ours_seconds,
            race.speed_ratio()
        );
        outln!(
            "             CPU time: libvmaf {:.3} s, shotfarm {:.3} s: libvmaf/ours {:.2}x",
            race.libvmaf_cpu_seconds,
            race.ours_cpu_seconds,
            race.cpu_ratio()
        );
        outln!(
            "             pooled VMAF: libvmaf {:.6}, shotfarm {:.6} ({})",
            race.libvmaf_score,
            race.ours_score,
            if race.scores_agree() { "agree" } else { "DIFFER" }
        );
    }
}

/// The CPU path's frames/s on frames already in memory (at each thread count), and the CUDA path's.
fn in_memory_lines(reference: &Path, distorted: &Path, threads: &[usize], simd: Option<SimdLevel>, text: bool, document: &mut Value) -> anyhow::Result<()> {
    let (format, ref_frames) = load(reference)?;
    let (distorted_format, dis_frames) = load(distorted)?;
    if distorted_format != format || dis_frames.len() != ref_frames.len() {
        bail!(
            "{} ({format:?}, {} frames) and {} ({distorted_format:?}, {} frames) differ: a pair needs the same size, format and frame count",
            reference.display(),
            ref_frames.len(),
            distorted.display(),
            dis_frames.len()
        );
    }
    let pair = (format, ref_frames.as_slice(), dis_frames.as_slice());
    let heading = format!("cpu path ({}), frames in memory:", resolve(BackendRequest::Cpu).map(|b| b.describe()).unwrap_or_default());
    document["in_memory"] = thread_sweep(pair, threads, BackendRequest::Cpu, simd, text.then_some(heading.as_str()))?;
    match resolve(BackendRequest::Cuda) {
        Ok(backend) => {
            let heading = format!("cuda path ({}), frames in host memory, upload included:", backend.describe());
            document["cuda"] = thread_sweep(pair, threads, BackendRequest::Cuda, simd, text.then_some(heading.as_str()))?;
        }
        Err(error) if text => outln!("cuda path: skipped, {error}"),
        Err(_) => {}
    }
    Ok(())
}

/// Frames/s of `backend` on the in-memory `pair` at each thread count, as JSON rows; printed
/// under `heading` when there is one.
fn thread_sweep(
    (format, reference, distorted): (FrameFormat, &[Frame], &[Frame]),
    threads: &[usize],
    backend: BackendRequest,
    simd: Option<SimdLevel>,
    heading: Option<&str>,
) -> anyhow::Result<Value> {
    if let Some(heading) = heading {
        outln!("{heading}");
    }
    let mut rows = Vec::new();
    for &threads in threads {
        let fps = frames_per_second(format, reference, distorted, threads, backend, simd)?;
        if heading.is_some() {
            outln!("  {threads} thread{}: {fps:.1} frames/s", if threads == 1 { "" } else { "s" });
        }
        rows.push(json!({ "threads": threads, "fps": fps }));
    }
    Ok(json!(rows))
}

/// Median wall times of `shotfarm vmaf`'s library path at 2 threads (when `options` is
/// given) and of an x264 `-preset fast` encode of the reference, run alternately.
fn x264_yardstick(reference: &Path, distorted: &Path, options: Option<&VmafOptions>, runs: u32) -> anyhow::Result<(Option<f64>, f64)> {
    let source = reference.to_string_lossy();
    let (mut ours, mut x264) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        if let Some(options) = options {
            let start = Instant::now();
            shotfarm_kernels::vmaf_files(&FfmpegPrograms::from_env(), reference, distorted, options).context("vmaf on the .y4m pair")?;
            ours.push(start.elapsed().as_secs_f64());
        }
        x264.push(ffmpeg(&["-threads", "2", "-i", &source, "-c:v", "libx264", "-preset", "fast", "-threads", "2", "-f", "null", "-"])?);
    }
    Ok((options.map(|_| median(ours)), median(x264)))
}
