//! The score task: the VMAF, PSNR-Y and SSIM of one chunk's encodes at one or more rungs of one
//! codec against its source frames, decoded once for all of them. The spec's inspection,
//! source and encoded chunks are fetched, the media stage ([`crate::media::score`]) scores on a
//! blocking thread while a ticker on the async side reports progress four times a second, and
//! each rung's pooled quality goes back as the output.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shotfarm_kernels::backend::{BackendRequest, resolve};
use shotfarm_kernels::cpu_account::charged;
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use std::path::PathBuf;

use shotfarm_proto::pipeline::{Artifact, Chunk, Codec, JobLocations, RenditionToScore, ScoredRendition, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::job_cache::local_source;
use super::spec_checks::{check_rung_name, frame_rate};
use super::work_area::WorkArea;
use super::{ProgressFn, TaskContext, TaskError, inspection, task_errors};
use crate::media::source_colour::RungColour;
use crate::media::inspect::Chunk as InspectedChunk;
use crate::media::score::{ScoreError, ScoreParams, score_chunk};
use crate::media::source_picture::SourcePicture;
use crate::media::source_range::SourceRange;

/// How often progress is reported while frames are scored.
const PROGRESS_PERIOD: Duration = Duration::from_millis(250);

#[expect(clippy::too_many_arguments, reason = "the fields of one spec variant plus the task's context")]
pub async fn run(
    locations: &JobLocations,
    source: &SourceSummary,
    inspection: &Artifact,
    chunk: Chunk,
    renditions: &[RenditionToScore],
    ctx: &TaskContext,
    progress: &ProgressFn,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    let codec = one_codec(renditions)?;
    for rendition in renditions {
        check_rung_name(&rendition.rung.name)?;
    }
    let work_area = WorkArea::open(&locations.work_url)?;
    let (inspected_chunk, picture, _) = inspection::committed_chunk(&work_area, inspection, source, &chunk, ctx).await?;
    let local_source = local_source(&locations.input_url, ctx).await?;
    let directory = ctx.scratch_dir.join("score");
    let mut encoded_paths = Vec::with_capacity(renditions.len());
    for rendition in renditions {
        let path = directory.join(format!("{}.{:05}.mp4", rendition.rung.name, chunk.index));
        work_area.download(&rendition.encoded, &path).await?;
        encoded_paths.push(path);
    }

    let params = ScoreParams {
        programs: FfmpegPrograms::from_env(),
        range: reference_range(local_source, inspected_chunk, source, picture, codec, directory.join(format!("{:05}.boundary.gray", chunk.index)))?,
        encoded: encoded_paths.clone(),
        backend: metric_backend(&ctx.backend)?,
    };
    let total = chunk.frames();
    let outcome = score_reporting(move |scored, cancel| score_chunk(&params, scored, cancel), &|done, fps| progress(done.min(total), total, fps), cancel).await;
    for path in &encoded_paths {
        let _ = tokio::fs::remove_file(path).await;
    }
    let scores = outcome?;
    if scores.len() != renditions.len() {
        return Err(TaskError::retryable(format!("scoring chunk {} gave {} scores for {} renditions", chunk.index, scores.len(), renditions.len())));
    }
    progress(total, total, scores.first().map_or(0.0, |score| score.fps));
    let mut scored = Vec::with_capacity(scores.len());
    for (rendition, score) in renditions.iter().zip(scores) {
        let quality = score.quality;
        tracing::info!(
            task_id = ctx.task_id,
            attempt = ctx.attempt,
            chunk = chunk.index,
            rung = %rendition.rung.name,
            vmaf_mean = quality.stats.vmaf_mean,
            vmaf_min = quality.stats.vmaf_min,
            psnr_y = quality.stats.psnr_y,
            ssim = quality.stats.ssim,
            backend = %score.backend,
            fps = score.fps,
            "chunk scored"
        );
        scored.push(ScoredRendition { rung: rendition.rung.name.clone(), quality });
    }
    Ok(TaskOutput::Score { chunk, renditions: scored })
}

/// The one codec of the renditions a score task scores (their reference is that codec's form
/// of the source: tone-mapped or not).
fn one_codec(renditions: &[RenditionToScore]) -> Result<Codec, TaskError> {
    let first = renditions.first().ok_or_else(|| TaskError::final_error("the score task names no rendition to score"))?.rung.codec;
    match renditions.iter().find(|rendition| rendition.rung.codec != first) {
        Some(other) => Err(TaskError::final_error(format!("a score task scores rungs of one codec, but {} is {} and {} is {}", renditions[0].rung.name, first.as_str(), other.rung.name, other.rung.codec.as_str()))),
        None => Ok(first),
    }
}

/// The source frames of `chunk` as the reference of a rendition in `codec` (tone-mapped when
/// the rendition was), starting at the chunk's seek point.
pub(super) fn reference_range(local_source: PathBuf, chunk: InspectedChunk, source: &SourceSummary, picture: SourcePicture, codec: Codec, boundary_file: PathBuf) -> Result<SourceRange, TaskError> {
    Ok(SourceRange {
        source: local_source,
        chunk,
        frame_rate: frame_rate(source)?,
        tone_map: picture.colour.for_codec(codec) == RungColour::ToneMappedToSdr,
        picture,
        use_seek: true,
        boundary_file,
    })
}

/// Runs `score(frames scored so far, cancel)` on a blocking thread while `report(frames
/// scored, frames/s)` hears about it four times a second.
pub(super) async fn score_reporting<T: Send + 'static>(
    score: impl FnOnce(&Arc<AtomicU64>, &CancellationToken) -> Result<T, ScoreError> + Send + 'static,
    report: &(dyn Fn(u64, f64) + Sync),
    cancel: &CancellationToken,
) -> Result<T, TaskError> {
    let scored = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let work = {
        let (scored, cancel) = (Arc::clone(&scored), cancel.clone());
        tokio::task::spawn_blocking(charged(move || score(&scored, &cancel)))
    };
    tokio::pin!(work);
    let mut ticker = tokio::time::interval(PROGRESS_PERIOD);
    let outcome = loop {
        tokio::select! {
            joined = &mut work => break joined,
            _ = ticker.tick() => {
                let done = scored.load(Ordering::Relaxed);
                report(done, done as f64 / started.elapsed().as_secs_f64().max(1e-3));
            }
        }
    };
    if cancel.is_cancelled() {
        return Err(TaskError::Cancelled);
    }
    outcome.map_err(|error| TaskError::retryable(format!("the scoring thread failed: {error}")))?.map_err(task_errors::score)
}

/// The metric backend for the one placement chose: `cuda` when the kernels can run it here,
/// otherwise the CPU reference (same numbers, slower), with a warning.
pub(super) fn metric_backend(placed_on: &str) -> Result<BackendRequest, TaskError> {
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
