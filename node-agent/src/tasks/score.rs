//! The score task: one encoded chunk's VMAF, PSNR-Y and SSIM against its source frames. The
//! spec's inspection, source and encoded chunk are fetched, the media stage
//! ([`crate::media::score`]) scores on a blocking thread while a ticker on the async side
//! reports progress four times a second, and the pooled quality goes back as the output.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shotfarm_kernels::backend::{BackendRequest, resolve};
use shotfarm_kernels::cpu_account::charged;
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use std::path::PathBuf;

use shotfarm_proto::pipeline::{Artifact, Chunk, Codec, JobLocations, Rung, SourceSummary, TaskOutput};
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
    rung: &Rung,
    encoded: &Artifact,
    ctx: &TaskContext,
    progress: &ProgressFn,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    check_rung_name(&rung.name)?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let (inspected_chunk, picture, _) = inspection::committed_chunk(&work_area, inspection, source, &chunk, ctx).await?;
    let local_source = local_source(&locations.input_url, ctx).await?;
    let encoded_path = ctx.scratch_dir.join("score").join(format!("{}.{:05}.mp4", rung.name, chunk.index));
    work_area.download(encoded, &encoded_path).await?;

    let params = ScoreParams {
        programs: FfmpegPrograms::from_env(),
        range: reference_range(local_source, inspected_chunk, source, picture, rung.codec, ctx.scratch_dir.join("score").join(format!("{}.{:05}.boundary.gray", rung.name, chunk.index)))?,
        encoded: encoded_path.clone(),
        backend: metric_backend(&ctx.backend)?,
    };
    let total = chunk.frames();
    let outcome = score_reporting(move |scored, cancel| score_chunk(&params, scored, cancel), &|done, fps| progress(done.min(total), total, fps), cancel).await;
    let _ = tokio::fs::remove_file(&encoded_path).await;
    let score = outcome?;
    let quality = score.quality;
    progress(total, total, score.fps);
    tracing::info!(
        task_id = ctx.task_id,
        attempt = ctx.attempt,
        chunk = chunk.index,
        rung = %rung.name,
        vmaf_mean = quality.stats.vmaf_mean,
        vmaf_min = quality.stats.vmaf_min,
        psnr_y = quality.stats.psnr_y,
        ssim = quality.stats.ssim,
        backend = %score.backend,
        fps = score.fps,
        "chunk scored"
    );
    Ok(TaskOutput::Score { chunk, rung: rung.name.clone(), quality })
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
