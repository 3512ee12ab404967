//! The score task: VMAF (vmaf_v0.6.1), PSNR-Y and SSIM of one encoded chunk against exactly the
//! source frames `[start, end)` it was made from, through the kernels crate.
//!
//! The encoded chunk is decoded and upscaled to the source's size with bit-exact bicubic
//! (`ffmpeg_decoder::open_as`); the reference frames come from [`crate::media::source_range`], which
//! seeks to the chunk's keyframe like the encoder does and verifies where it landed (a wrong
//! landing is scored again from frame 0). The metric work runs on a blocking thread; a ticker on
//! the async side reports progress four times a second, and cancellation stops the frame
//! sources at the next frame.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shotfarm_kernels::backend::{BackendRequest, resolve};
use shotfarm_kernels::decode::decode_error::DecodeError;
use shotfarm_kernels::decode::ffmpeg_decoder::{self, probe_format};
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::frame::{Frame, FrameFormat};
use shotfarm_kernels::decode::frame_source::FrameSource;
use shotfarm_kernels::{FeatureSelection, VmafError, VmafOptions, VmafReport, vmaf_streams};
use shotfarm_proto::pipeline::{Artifact, Chunk, JobLocations, Rung, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use crate::media::quality::chunk_summary;
use crate::media::process::configured_programs;
use crate::media::source_range::{SourceRange, check_boundaries};

use super::job_cache::local_source;
use super::spec_checks::{check_rung_name, frame_rate};
use super::work_area::WorkArea;
use super::{ProgressFn, TaskContext, TaskError, inspection};

/// How often progress is reported while frames are scored.
const PROGRESS_PERIOD: Duration = Duration::from_millis(250);

#[expect(clippy::too_many_arguments, reason = "the fields of one spec variant plus the task's context")]
pub async fn run(
    locations: &JobLocations,
    source: &SourceSummary,
    inspection: &Artifact,
    chunk: Chunk,
    rung: &Rung,
    encoded: &Artifact,
    ctx: &TaskContext,
    progress: &ProgressFn,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    check_rung_name(&rung.name)?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let inspection = inspection::committed(&work_area, inspection, source, Some(&chunk), ctx).await?;
    let inspected_chunk = inspection
        .document
        .chunk(&chunk)
        .cloned()
        .ok_or_else(|| TaskError::retryable(format!("the inspection has no chunk {} at frames {}..{}", chunk.index, chunk.start_frame, chunk.end_frame)))?;
    let local_source = local_source(&locations.input_url, ctx).await?;
    let encoded_path = ctx.scratch_dir.join("score").join(format!("{}.{:05}.mp4", rung.name, chunk.index));
    work_area.download(encoded, &encoded_path).await?;

    let request = metric_backend(&ctx.backend)?;
    let range = SourceRange {
        source: local_source,
        chunk: inspected_chunk,
        frame_rate: frame_rate(source)?,
        use_seek: true,
        boundary_file: ctx.scratch_dir.join("score").join(format!("{}.{:05}.boundary.gray", rung.name, chunk.index)),
    };
    let total = chunk.frames();
    let scored = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let work = {
        let (scored, cancel, encoded_path) = (Arc::clone(&scored), cancel.clone(), encoded_path.clone());
        let programs = configured_programs();
        tokio::task::spawn_blocking(move || score_chunk(&programs, range, &encoded_path, request, &scored, &cancel))
    };
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(PROGRESS_PERIOD);
    let outcome = loop {
        tokio::select! {
            joined = &mut work => break joined,
            _ = ticker.tick() => {
                let done = scored.load(Ordering::Relaxed).min(total);
                progress(done, total, done as f64 / started.elapsed().as_secs_f64().max(1e-3));
            }
        }
    };
    let _ = tokio::fs::remove_file(&encoded_path).await;
    if cancel.is_cancelled() {
        return Err(TaskError::Cancelled);
    }
    let report = outcome.map_err(|error| TaskError::retryable(format!("the scoring thread failed: {error}")))??;
    let per_frame_vmaf: Vec<f64> = report.frames.iter().map(|frame| frame.vmaf).collect();
    let psnr_y: Vec<f64> = report.frames.iter().filter_map(|frame| frame.psnr.map(|psnr| psnr[0])).collect();
    let ssim: Vec<f64> = report.frames.iter().filter_map(|frame| frame.ssim).collect();
    let quality = chunk_summary(per_frame_vmaf, &psnr_y, &ssim).ok_or_else(|| {
        TaskError::retryable(format!("scoring chunk {} produced {} frames without complete PSNR/SSIM", chunk.index, report.frames.len()))
    })?;
    progress(total, total, report.fps);
    tracing::info!(
        task_id = ctx.task_id,
        attempt = ctx.attempt,
        chunk = chunk.index,
        rung = %rung.name,
        vmaf_mean = quality.vmaf_mean,
        vmaf_min = quality.vmaf_min,
        psnr_y = quality.psnr_y,
        ssim = quality.ssim,
        backend = %report.backend,
        fps = report.fps,
        "chunk scored"
    );
    Ok(TaskOutput::Score { chunk, rung: rung.name.clone(), quality })
}

/// The metric backend for the one placement chose: `cuda` when the kernels can run it here,
/// otherwise the CPU reference (same numbers, slower), with a warning.
fn metric_backend(placed_on: &str) -> Result<BackendRequest, TaskError> {
    match placed_on {
        "cuda" => match resolve(BackendRequest::Cuda) {
            Ok(_) => Ok(BackendRequest::Cuda),
            Err(error) => {
                tracing::warn!(%error, "scoring on the cpu instead of cuda");
                Ok(BackendRequest::Cpu)
            }
        },
        "cpu" => Ok(BackendRequest::Cpu),
        other => Err(TaskError::final_error(format!("unknown score backend {other:?}; this agent offers cpu (and cuda where the kernels have it)"))),
    }
}

/// Scores on this (blocking) thread: seeking first, again from frame 0 if the seek landed wrong.
fn score_chunk(programs: &FfmpegPrograms, range: SourceRange, encoded: &std::path::Path, backend: BackendRequest, scored: &Arc<AtomicU64>, cancel: &CancellationToken) -> Result<VmafReport, TaskError> {
    let reference_format = probe_format(&programs.ffprobe, &range.source).map_err(|error| TaskError::retryable(format!("probing the source for scoring: {error}")))?;
    let seeking = range.seeks();
    match score_once(programs, &range, reference_format, encoded, backend, scored, cancel) {
        Ok(report) => Ok(report),
        Err(ScoreFailure::Landing(message)) if seeking && !cancel.is_cancelled() => {
            tracing::warn!(chunk = range.chunk.index, %message, "the source seek landed on the wrong frame; scoring from frame 0");
            scored.store(0, Ordering::Relaxed);
            let from_start = SourceRange { use_seek: false, ..range };
            score_once(programs, &from_start, reference_format, encoded, backend, scored, cancel).map_err(|failure| failure.into_task_error(cancel))
        }
        Err(failure) => Err(failure.into_task_error(cancel)),
    }
}

/// Why one scoring pass failed.
enum ScoreFailure {
    /// The reference frames were not the chunk's (count or boundary fingerprints).
    Landing(String),
    Other(TaskError),
}

impl ScoreFailure {
    fn into_task_error(self, cancel: &CancellationToken) -> TaskError {
        if cancel.is_cancelled() {
            return TaskError::Cancelled;
        }
        match self {
            ScoreFailure::Landing(message) => TaskError::retryable(format!("the source frames of the chunk could not be decoded exactly: {message}")),
            ScoreFailure::Other(error) => error,
        }
    }
}

fn score_once(programs: &FfmpegPrograms, range: &SourceRange, format: FrameFormat, encoded: &std::path::Path, backend: BackendRequest, scored: &Arc<AtomicU64>, cancel: &CancellationToken) -> Result<VmafReport, ScoreFailure> {
    let reference = range.open(programs, format).map_err(|error| ScoreFailure::Other(TaskError::retryable(format!("decoding the source frames: {error}"))))?;
    let distorted = ffmpeg_decoder::open_as(programs, encoded, format)
        .map_err(|error| ScoreFailure::Other(TaskError::final_error(format!("the encoded chunk {} cannot be decoded: {error}", encoded.display()))))?;
    let reference = Cancellable { inner: Box::new(reference), cancel: cancel.clone(), delivered: None };
    let distorted = Cancellable { inner: Box::new(distorted), cancel: cancel.clone(), delivered: Some(Arc::clone(scored)) };
    let options = VmafOptions { threads: 0, features: FeatureSelection { psnr: true, ssim: true }, backend, simd: None, max_frames: None };
    let outcome = vmaf_streams(Box::new(reference), Box::new(distorted), &options);
    let report = match outcome {
        Ok(report) => report,
        Err(VmafError::FrameCountMismatch { reference, distorted }) => {
            let _ = check_boundaries(range);
            return Err(ScoreFailure::Landing(format!("{reference} source frames were decoded for a chunk of {} (the encoded chunk has {distorted})", range.chunk.frames.len())));
        }
        Err(VmafError::Reference(error)) => return Err(ScoreFailure::Other(TaskError::retryable(format!("decoding the source frames: {error}")))),
        Err(VmafError::Distorted(error)) => return Err(ScoreFailure::Other(TaskError::final_error(format!("decoding the encoded chunk: {error}")))),
        Err(error @ (VmafError::Metric { .. } | VmafError::Empty)) => return Err(ScoreFailure::Other(TaskError::final_error(format!("vmaf cannot score this chunk: {error}")))),
        Err(error) => return Err(ScoreFailure::Other(TaskError::retryable(format!("vmaf failed: {error}")))),
    };
    check_boundaries(range).map_err(ScoreFailure::Landing)?;
    Ok(report)
}

/// A frame source that stops at the next frame once the task is cancelled, and counts what it
/// delivered (for progress).
struct Cancellable {
    inner: Box<dyn FrameSource>,
    cancel: CancellationToken,
    delivered: Option<Arc<AtomicU64>>,
}

impl FrameSource for Cancellable {
    fn format(&self) -> FrameFormat {
        self.inner.format()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if self.cancel.is_cancelled() {
            return Err(DecodeError::Io { path: PathBuf::from(self.inner.name()), source: std::io::Error::new(std::io::ErrorKind::Interrupted, "scoring cancelled") });
        }
        let frame = self.inner.next_frame()?;
        if let (Some(counter), Some(_)) = (&self.delivered, &frame) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(frame)
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}
