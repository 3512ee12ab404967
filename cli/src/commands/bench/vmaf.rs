//! `shotfarm bench vmaf`: how fast the CPU VMAF path is on this machine.
//!
//! Synthesizes a 1080p reference (ffmpeg's `testsrc2`) and a distorted clip (an x264
//! CRF 28 encode of it), both kept as .y4m in a temporary folder; then prints
//! - frames/s of the CPU path on frames already in memory, at 1 and at 2 threads;
//! - frames/s of the CUDA path (VIF and motion on the GPU, ADM on the CPU) on the same
//!   frames, upload included, or why it cannot run in this build or on this machine;
//! - the wall time of `shotfarm vmaf`'s library path on the two .y4m files (2 threads)
//!   and of `ffmpeg -threads 2 -i REF.y4m -c:v libx264 -preset fast -threads 2 -f null -`,
//!   measured alternately, and the ratio of their medians. libvmaf's own ratio on this
//!   machine class is 0.77 (shared/vmaf/README.md), so a ratio below that is faster
//!   than libvmaf.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::decode::frame_source::{FrameSource, MemorySource};
use shotfarm_kernels::decode::y4m::Y4mReader;
use shotfarm_kernels::backend::{BackendRequest, resolve};
use shotfarm_kernels::{Frame, FrameFormat, VmafOptions};

use super::statistics::median;
use crate::exit::{CommandError, CommandResult};
use crate::stdout::outln;

/// libvmaf's wall-time ratio against the x264 encode on this machine class.
const LIBVMAF_RATIO: f64 = 0.77;

#[derive(Debug, clap::Args)]
pub struct BenchVmafArgs {
    /// Frames of the synthetic 1080p clip.
    #[arg(long, default_value_t = 120)]
    pub frames: u32,
    /// Alternating runs for the x264 comparison (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub runs: u32,
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

fn frames_per_second(format: FrameFormat, reference: &[Frame], distorted: &[Frame], threads: usize, backend: BackendRequest) -> anyhow::Result<f64> {
    let r = MemorySource::new(format, reference.to_vec(), "reference").ok_or_else(|| anyhow!("bad frames"))?;
    let d = MemorySource::new(format, distorted.to_vec(), "distorted").ok_or_else(|| anyhow!("bad frames"))?;
    let options = VmafOptions { threads, backend, ..VmafOptions::default() };
    let start = Instant::now();
    let report = shotfarm_kernels::vmaf_streams(Box::new(r), Box::new(d), &options)?;
    Ok(report.frames.len() as f64 / start.elapsed().as_secs_f64())
}

pub fn run(args: BenchVmafArgs) -> CommandResult {
    if args.frames < 2 || args.runs == 0 {
        return Err(CommandError::usage(anyhow!("--frames must be at least 2 and --runs at least 1")));
    }
    let dir = Scratch(std::env::temp_dir().join(format!("shotfarm-bench-vmaf-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).with_context(|| format!("creating {}", dir.0.display()))?;
    let path = |name: &str| dir.0.join(name).to_string_lossy().into_owned();
    let (reference, encoded, distorted) = (path("ref.y4m"), path("dist.mp4"), path("dist.y4m"));
    let frames = args.frames.to_string();
    outln!("synthesizing {} frames of 1920x1080 (testsrc2, x264 crf 28) in {}", args.frames, dir.0.display());
    ffmpeg(&["-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30", "-frames:v", &frames, "-pix_fmt", "yuv420p", &reference])?;
    ffmpeg(&["-i", &reference, "-c:v", "libx264", "-preset", "medium", "-crf", "28", &encoded])?;
    ffmpeg(&["-i", &encoded, "-pix_fmt", "yuv420p", "-fps_mode", "passthrough", &distorted])?;

    let (format, ref_frames) = load(Path::new(&reference))?;
    let (_, dis_frames) = load(Path::new(&distorted))?;
    outln!("cpu path ({}), frames in memory:", resolve(BackendRequest::Cpu).map(|b| b.describe()).unwrap_or_default());
    for threads in [1, 2] {
        let fps = frames_per_second(format, &ref_frames, &dis_frames, threads, BackendRequest::Cpu)?;
        outln!("  {threads} thread{}: {fps:.1} frames/s", if threads == 1 { "" } else { "s" });
    }
    match resolve(BackendRequest::Cuda) {
        Ok(backend) => {
            let fps = frames_per_second(format, &ref_frames, &dis_frames, 0, BackendRequest::Cuda)?;
            outln!("cuda path ({}), frames in host memory, upload included: {fps:.1} frames/s", backend.describe());
        }
        Err(error) => outln!("cuda path: skipped, {error}"),
    }
    drop((ref_frames, dis_frames));

    outln!("wall time against `ffmpeg -threads 2 -i REF.y4m -c:v libx264 -preset fast -threads 2 -f null -`, {} alternating runs:", args.runs);
    let options = VmafOptions { threads: 2, backend: BackendRequest::Cpu, ..VmafOptions::default() };
    let (mut ours, mut x264) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let start = Instant::now();
        shotfarm_kernels::vmaf_files(&FfmpegPrograms::from_env(), Path::new(&reference), Path::new(&distorted), &options).context("vmaf on the .y4m pair")?;
        ours.push(start.elapsed().as_secs_f64());
        x264.push(ffmpeg(&["-threads", "2", "-i", &reference, "-c:v", "libx264", "-preset", "fast", "-threads", "2", "-f", "null", "-"])?);
    }
    let (ours, x264) = (median(ours), median(x264));
    let ratio = ours / x264;
    outln!("  shotfarm vmaf (2 threads, two .y4m): {ours:.3} s (median)");
    outln!("  x264 -preset fast encode:            {x264:.3} s (median)");
    outln!(
        "  ratio {ratio:.2} (libvmaf: {LIBVMAF_RATIO:.2}; below it = faster than libvmaf, i.e. ~{:.1}x libvmaf's speed)",
        LIBVMAF_RATIO / ratio
    );
    Ok(())
}
