//! Task handlers: one per task kind, turning a `shotfarm_proto::pipeline::TaskSpec` into media
//! work (`crate::media`) on local files, moving artifacts to and from the job's object store,
//! and answering with a `TaskOutput`.
//!
//! The runtime (`crate::runtime`) calls [`execute`] for every assignment it accepts.
//!
//! | module | what it does |
//! | --- | --- |
//! | [`inspect`] | inspects the source, or cuts a long one into segments and later joins their decodes; uploads the inspection (report + per-frame data) |
//! | [`inspect_segment`] | one segment of a cut source decoded and analysed, for the inspect task that joins them |
//! | [`analyze`] | trial encodes of one chunk at one size and every setting of the grid, each scored against the source |
//! | [`ladder`] | the ladder per requested codec, as `pipeline::Rung`s: fixed, custom, or from the analysis (per-title, per-shot) |
//! | [`encode`] | one chunk at one or more rungs (one decode) through the backend placement chose, each output checked frame by frame against the source |
//! | [`score`] | VMAF/PSNR/SSIM of one encoded chunk against its source frames |
//! | [`assemble`] | a rung's chunks joined into one stream |
//! | [`validate`] | the join check of the assembled stream: the verified chunks in order, timestamps, each chunk's first frame decoded and its samples' digest |
//! | [`audio`] | every audio track of the source encoded whole as AAC renditions, beside the video's stages |
//! | [`subtitles`] | every text subtitle track of the source converted to WebVTT, beside the video's stages |
//! | [`package`] | HLS + DASH (video, audio, subtitles, thumbnails) written under the job's `output_url`; never reads the source |
//! | [`report`] | `report.json` from the job facts and every output; the work area removed |
//! | [`work_area`] | attempt-keyed artifact keys under `work_url`, uploads and downloads |
//! | [`content_keys`] | an encrypted job's key file, read from under the input roots into memory only |
//! | [`job_cache`] | the per-job local cache: the source copy, inspections (one download per job) |
//! | [`inspection`] | the inspection artifact's format; loading the committed one a spec names |
//! | [`job_locations`] | a spec's input, output and work area checked against this agent's roots before any file is touched |
//! | [`output_location`] | what the output location holds: refused when not empty (unless `overwrite`) or reached through a symlink; stale outputs removed |
//! | [`output_generation`] | the folder one package attempt's media go under; publishing it: media first, then the manifests switched |
//! | [`spec_checks`] | what a spec must hold: rung names safe as keys and dirs, audio and subtitle renditions safe as folders and playlist entries, a positive frame rate |
//! | [`job_facts`] | the scheduler's replicated job facts (attempts, timings) as typed data |
//! | [`task_errors`] | how each stage's errors become retryable or final task errors |
//!
//! Fencing: every artifact a task writes under `work_url` carries the attempt in its key
//! (`chunks/<rung>/<chunk:05>.a<attempt>.mp4`) and is complete before the task reports success;
//! the output names the key, and the scheduler records only the successful attempt's output.
//! Only `package` (once per job, after every validation) writes to `output_url`, its media under
//! a folder of the attempt's own (`<work area name>-a<attempt>/`) and the manifests last, and
//! `report` adds `report.json` there.

pub mod analyze;
pub mod assemble;
pub mod audio;
pub mod content_keys;
pub mod encode;
pub mod inspect;
pub mod inspect_segment;
pub mod inspection;
pub mod job_cache;
pub mod job_facts;
pub mod job_locations;
pub mod ladder;
pub mod output_generation;
pub mod output_location;
pub mod package;
pub mod report;
pub mod score;
pub mod spec_checks;
pub mod subtitles;
pub mod task_errors;
pub mod validate;
pub mod work_area;

use std::path::PathBuf;
use std::sync::Arc;

use shotfarm_proto::pipeline::{TaskOutput, TaskSpec};
use shotfarm_proto::storage::JobRoots;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::media::capabilities::MediaCapabilities;

/// Who is running what, and where it may write.
#[derive(Debug, Clone)]
pub struct TaskContext {
    pub task_id: u64,
    /// The fencing attempt: artifacts are written under attempt-specific keys.
    pub attempt: u32,
    pub job_id: String,
    /// The backend placement chose: `cpu`, `nvenc` or `cuda`.
    pub backend: String,
    pub gpu_index: u32,
    /// A scratch directory owned by this attempt, removed by the runtime afterwards.
    pub scratch_dir: PathBuf,
    /// A directory shared by all tasks of the job on this agent (downloaded sources, the
    /// inspection), kept until the job's report task ran here or the agent restarts.
    pub job_cache_dir: PathBuf,
    pub capabilities: Arc<MediaCapabilities>,
    /// Where this agent lets tasks read and write (`--allow-input`, `--allow-output`).
    pub roots: Arc<JobRoots>,
}

/// Live progress: frames done, frames in total, frames per second.
pub type ProgressFn = Arc<dyn Fn(u64, u64, f64) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A retry (maybe elsewhere) may succeed: a crashed encoder, a storage hiccup.
    #[error("{0}")]
    Retryable(String),
    /// No retry can help: the source was rejected, the spec asks for something impossible.
    #[error("{0}")]
    Final(String),
    #[error("cancelled")]
    Cancelled,
}

/// Runs one task: the handler of the spec's kind, inside a span naming the task.
pub async fn execute(spec: TaskSpec, ctx: &TaskContext, progress: ProgressFn, cancel: &CancellationToken) -> Result<TaskOutput, TaskError> {
    let kind = spec.kind().as_str();
    let span = tracing::info_span!("task", task_id = ctx.task_id, attempt = ctx.attempt, job_id = %ctx.job_id, kind);
    async move {
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let started = std::time::Instant::now();
        let outcome = match job_locations::check_locations(spec.locations(), &ctx.roots) {
            Err(refused) => Err(refused),
            Ok(_) => run_handler(spec, ctx, progress, cancel).await,
        };
        let seconds = started.elapsed().as_secs_f64();
        match &outcome {
            Ok(_) => tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, seconds, "task succeeded"),
            Err(TaskError::Cancelled) => tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, seconds, "task cancelled"),
            Err(error) => tracing::warn!(task_id = ctx.task_id, attempt = ctx.attempt, seconds, %error, "task failed"),
        }
        // A cancellation that raced with a failure is reported as what it is.
        match outcome {
            Err(TaskError::Retryable(_)) if cancel.is_cancelled() => Err(TaskError::Cancelled),
            other => other,
        }
    }
    .instrument(span)
    .await
}

/// The handler of the spec's kind.
async fn run_handler(spec: TaskSpec, ctx: &TaskContext, progress: ProgressFn, cancel: &CancellationToken) -> Result<TaskOutput, TaskError> {
    match spec {
        TaskSpec::Inspect { locations, chunk_min_ms, chunk_max_ms, segments } => {
            inspect::run(&locations, chunk_min_ms, chunk_max_ms, &segments, ctx, cancel).await
        }
        TaskSpec::InspectSegment { locations, segment } => inspect_segment::run(&locations, segment, ctx, cancel).await,
        TaskSpec::Ladder { locations: _, source, codecs, recipe, analysis } => ladder::run(&source, &codecs, &recipe, &analysis, ctx),
        TaskSpec::Analyze { locations, source, inspection, chunk, codec, trials, preset } => {
            analyze::run(&locations, &source, &inspection, chunk, codec, &trials, preset.as_deref(), ctx, &progress, cancel).await
        }
        TaskSpec::Encode { locations, source, inspection, chunk, rungs, preset, settings } => {
            encode::run(&locations, &source, &inspection, chunk, &rungs, preset.as_deref(), &settings, ctx, &progress, cancel).await
        }
        TaskSpec::Score { locations, source, inspection, chunk, renditions } => {
            score::run(&locations, &source, &inspection, chunk, &renditions, ctx, &progress, cancel).await
        }
        TaskSpec::Assemble { locations, source, rung, chunks } => assemble::run(&locations, &source, &rung, &chunks, ctx, &progress, cancel).await,
        TaskSpec::Validate { locations, source, inspection, rung, stream, chunks } => {
            validate::run(&locations, &source, &inspection, &rung, &stream, &chunks, ctx, cancel).await
        }
        TaskSpec::Audio { locations, source } => audio::run(&locations, &source, ctx, cancel).await,
        TaskSpec::Subtitles { locations } => subtitles::run(&locations, ctx, cancel).await,
        TaskSpec::Package { locations, source, inspection, renditions, audio, subtitles, thumbnails, encryption } => {
            package::run(&locations, (&source, &inspection), (&renditions, &audio, &subtitles), (thumbnails, encryption.as_ref()), ctx, cancel).await
        }
        TaskSpec::Report { locations, job_facts, outputs } => report::run(&locations, &job_facts, &outputs, ctx, cancel).await,
    }
}
