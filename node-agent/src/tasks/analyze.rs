//! The analyze task (per-title and per-shot ladders): one chunk encoded at one trial size and
//! every constant-quality setting of the grid, from one decode, at the job's preset; then each
//! trial scored against the chunk's source frames at the source's size, VMAF alone on every
//! n-th frame ([`trial_subsample`]: each scored frame gets exactly the VMAF a full run gives
//! it, motion being measured on every frame). The output is a [`TrialOutcome`] per setting:
//! the bits of its video stream and its pooled VMAF.
//!
//! The trials are the cpu backend's (the analysis is about the codec's rate–quality curve on
//! this content; the final encodes then run wherever placement puts them). Trial files stay
//! in this attempt's scratch directory: nothing is uploaded.

use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_proto::analysis::{TrialOutcome, TrialQuality, TrialSpec};
use shotfarm_proto::pipeline::{Artifact, Chunk, Codec, JobLocations, Rung, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::encode::{check_settings, encoder_settings};
use super::job_cache::local_source;
use super::score::{metric_backend, reference_range, score_reporting};
use super::spec_checks::{check_chunk_in_source, frame_rate};
use super::work_area::WorkArea;
use super::{ProgressFn, TaskContext, TaskError, inspection, task_errors};
use crate::media::encode::{ChunkOutput, CpuBackend, EncodeBackend, EncodeChunkParams};
use crate::media::mp4_samples;
use crate::media::process::ToolProgress;
use crate::media::score::{ScoreParams, score_trial};

/// The largest trial picture side.
const MAX_TRIAL_SIDE: u32 = 16_384;
/// A trial scores every n-th frame, n at most this…
const MAX_TRIAL_SUBSAMPLE: u64 = 4;
/// …while still scoring at least this many frames where the chunk has them.
const MIN_SCORED_FRAMES: u64 = 24;

/// Every how many frames a trial of a chunk of `frames` is scored: 1 up to 47 frames, then
/// as sparsely as keeps [`MIN_SCORED_FRAMES`], at most every [`MAX_TRIAL_SUBSAMPLE`]-th.
pub fn trial_subsample(frames: u64) -> u64 {
    (frames / MIN_SCORED_FRAMES).clamp(1, MAX_TRIAL_SUBSAMPLE)
}

#[expect(clippy::too_many_arguments, reason = "the fields of one spec variant plus the task's context")]
pub async fn run(
    locations: &JobLocations,
    source: &SourceSummary,
    inspection: &Artifact,
    chunk: Chunk,
    codec: Codec,
    trials: &[TrialSpec],
    preset: Option<&str>,
    ctx: &TaskContext,
    progress: &ProgressFn,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    let backend = CpuBackend::new(&ctx.capabilities);
    check_trials(trials, codec, &backend, &chunk, source)?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let (inspected_chunk, picture) = inspection::committed_chunk(&work_area, inspection, source, &chunk, ctx).await?;
    let rate = frame_rate(source)?;
    let local_source = local_source(&locations.input_url, ctx).await?;
    let directory = ctx.scratch_dir.join("analyze");
    let outputs = trials
        .iter()
        .enumerate()
        .map(|(index, trial)| {
            let rung = Rung { name: format!("trial{index}"), codec, width: trial.width, height: trial.height, bitrate_kbps: 0, maxrate_kbps: 0, bufsize_kbps: 0 };
            ChunkOutput::new(rung, directory.join(format!("trial{index}.mp4"))).at_setting(trial.setting)
        })
        .collect();
    let params = EncodeChunkParams {
        source: local_source.clone(),
        chunk: inspected_chunk.clone(),
        frame_rate: rate,
        outputs,
        settings: encoder_settings(source, preset),
        picture: picture.clone(),
    };
    // Progress counts every frame once encoded (all trials together) and once scored per trial.
    let frames = chunk.frames();
    let total = frames.saturating_mul(1 + trials.len() as u64);
    let report_encode = |update: ToolProgress| progress(update.frames_done.min(frames), total, f64::from(update.fps));
    let encoded = backend.encode_chunk(&params, &report_encode, cancel).await.map_err(task_errors::encode)?;
    let (programs, metric_backend, subsample) = (FfmpegPrograms::from_env(), metric_backend(&ctx.backend)?, trial_subsample(frames));
    let mut outcomes = Vec::with_capacity(trials.len());
    for (index, (trial, output)) in trials.iter().zip(&encoded.outputs).enumerate() {
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let bits = mp4_samples::video_bytes(&output.path).map_err(|error| TaskError::retryable(format!("measuring trial {index} of chunk {}: {error}", chunk.index)))? * 8;
        let done_before = frames * (1 + index as u64);
        let score_params = ScoreParams {
            programs: programs.clone(),
            range: reference_range(local_source.clone(), inspected_chunk.clone(), source, picture.clone(), codec, directory.join(format!("trial{index}.boundary.gray")))?,
            encoded: output.path.clone(),
            backend: metric_backend,
        };
        let score = score_reporting(move |scored, cancel| score_trial(&score_params, subsample, scored, cancel), &|done, fps| progress(done_before + done.min(frames), total, fps), cancel).await?;
        let _ = tokio::fs::remove_file(&output.path).await;
        let vmaf = score.vmaf;
        let quality = TrialQuality { vmaf_mean: vmaf.mean, vmaf_harmonic_mean: vmaf.harmonic_mean, vmaf_min: vmaf.min, vmaf_p1: vmaf.p1, scored_frames: vmaf.frames };
        outcomes.push(TrialOutcome { width: trial.width, height: trial.height, setting: trial.setting, bits, frames: output.frames, quality });
    }
    progress(total, total, 0.0);
    tracing::info!(
        task_id = ctx.task_id,
        attempt = ctx.attempt,
        chunk = chunk.index,
        codec = codec.as_str(),
        trials = ?outcomes.iter().map(|trial| (trial.width, trial.height, trial.setting, trial.bits, (trial.quality.vmaf_mean * 100.0).round() / 100.0)).collect::<Vec<_>>(),
        "chunk analysed"
    );
    Ok(TaskOutput::Analyze { chunk, codec, trials: outcomes })
}

/// What an analyze spec must hold before any work: trials this backend can encode in one
/// call, even sizes, settings in range, a chunk inside the source.
fn check_trials(trials: &[TrialSpec], codec: Codec, backend: &CpuBackend, chunk: &Chunk, source: &SourceSummary) -> Result<(), TaskError> {
    if trials.is_empty() {
        return Err(TaskError::final_error(format!("the analyze task of chunk {} names no trial; the plan is inconsistent", chunk.index)));
    }
    let capabilities = backend.capabilities();
    if trials.len() > capabilities.max_outputs_per_call {
        return Err(TaskError::final_error(format!("{} trials in one analyze task; at most {}", trials.len(), capabilities.max_outputs_per_call)));
    }
    if !capabilities.codecs.contains(&codec) {
        return Err(TaskError::final_error(format!(
            "the job asks for {} but this agent's ffmpeg has no {} encoder; install an ffmpeg built with it or drop {} from the job's codecs",
            codec.as_str(),
            codec.software_encoder(),
            codec.as_str()
        )));
    }
    for trial in trials {
        if [trial.width, trial.height].iter().any(|side| !(2..=MAX_TRIAL_SIDE).contains(side) || side % 2 == 1) {
            return Err(TaskError::final_error(format!("trial size {}x{} is not even within 2..={MAX_TRIAL_SIDE}; the plan is inconsistent", trial.width, trial.height)));
        }
    }
    check_settings(&trials.iter().map(|trial| trial.setting).collect::<Vec<_>>(), trials.len())?;
    check_chunk_in_source(chunk, source)
}
