//! The analyze task (per-title and per-shot ladders): one chunk encoded at one trial size and
//! every constant-quality setting of the grid, from one decode, at the job's preset; then the
//! trials scored together against one decode of the chunk's source frames at the source's
//! size (its motion measured once for all), VMAF alone on every n-th frame, n odd
//! ([`trial_subsample`]: each scored frame gets exactly the VMAF a full run gives it, motion
//! being measured on every frame). The output is a [`TrialOutcome`] per setting:
//! the bits of its video stream and its pooled VMAF.
//!
//! The trials are the cpu backend's (the analysis is about the codec's rate–quality curve on
//! this content; the final encodes then run wherever placement puts them). Trial files stay
//! in this attempt's scratch directory; each trial's outcome is written to the job's work area
//! once the trials are scored ([`WorkArea::trial_key`]), and a retry of the task — on any node,
//! after a lost lease, a crash or a cancelled attempt — reuses every outcome found there and
//! encodes and scores only the trials that were not finished.

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
use crate::media::score::{ScoreParams, score_trials};

/// The largest trial picture side.
const MAX_TRIAL_SIDE: u32 = 16_384;
/// A trial scores every n-th frame, n odd and at most this…
const MAX_TRIAL_SUBSAMPLE: u64 = 7;
/// …while still scoring at least this many frames where the chunk has them.
const MIN_SCORED_FRAMES: u64 = 16;

/// Every how many frames a trial of a chunk of `frames` is scored: 1 up to 47 frames, then
/// as sparsely as keeps [`MIN_SCORED_FRAMES`], at most every [`MAX_TRIAL_SUBSAMPLE`]-th, and
/// always an odd stride. An even one lands on the same places of every group of pictures
/// (2-second groups of an even frame count; x264's B-frames in runs of up to 3, reference
/// frames every 2nd or 4th): measured on a 360p camera pan of 144 frames at three
/// settings, every 4th frame read 0.18–1.05 VMAF under the full run's mean, every 5th and
/// every 7th frame 0.03–0.58 either side of it.
pub fn trial_subsample(frames: u64) -> u64 {
    let stride = (frames / MIN_SCORED_FRAMES).clamp(1, MAX_TRIAL_SUBSAMPLE);
    if stride.is_multiple_of(2) { stride - 1 } else { stride }
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
    let mut outcomes = finished_trials(&work_area, &chunk, codec, trials, ctx).await?;
    let pending: Vec<(usize, TrialSpec)> = trials.iter().copied().enumerate().filter(|(index, _)| outcomes[*index].is_none()).collect();
    let frames = chunk.frames();
    // Progress counts every frame once encoded and once scored (the pending trials together, each time).
    let total = if pending.is_empty() { frames } else { frames.saturating_mul(2) };
    if !pending.is_empty() {
        let (inspected_chunk, picture, _) = inspection::committed_chunk(&work_area, inspection, source, &chunk, ctx).await?;
        let rate = frame_rate(source)?;
        let local_source = local_source(&locations.input_url, ctx).await?;
        let directory = ctx.scratch_dir.join("analyze");
        let outputs = pending
            .iter()
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
        let report_encode = |update: ToolProgress| progress(update.frames_done.min(frames), total, f64::from(update.fps));
        let encoded = backend.encode_chunk(&params, &report_encode, cancel).await.map_err(task_errors::encode)?;
        if cancel.is_cancelled() {
            return Err(TaskError::Cancelled);
        }
        let mut bits = Vec::with_capacity(pending.len());
        for ((index, _), output) in pending.iter().zip(&encoded.outputs) {
            bits.push(mp4_samples::video_bytes(&output.path).map_err(|error| TaskError::retryable(format!("measuring trial {index} of chunk {}: {error}", chunk.index)))? * 8);
        }
        // Every pending trial against one decode of the chunk's source frames.
        let score_params = ScoreParams {
            programs: FfmpegPrograms::from_env(),
            range: reference_range(local_source.clone(), inspected_chunk.clone(), source, picture.clone(), codec, directory.join("trials.boundary.gray"))?,
            encoded: encoded.outputs.iter().map(|output| output.path.clone()).collect(),
            backend: metric_backend(&ctx.backend)?,
        };
        let subsample = trial_subsample(frames);
        let scores = score_reporting(move |scored, cancel| score_trials(&score_params, subsample, scored, cancel), &|done, fps| progress(frames + done.min(frames), total, fps), cancel).await?;
        if scores.len() != pending.len() {
            return Err(TaskError::retryable(format!("scoring the {} trials of chunk {} gave {} scores", pending.len(), chunk.index, scores.len())));
        }
        for ((((index, trial), output), score), bits) in pending.iter().zip(&encoded.outputs).zip(&scores).zip(bits) {
            let _ = tokio::fs::remove_file(&output.path).await;
            let vmaf = score.vmaf;
            let quality = TrialQuality { vmaf_mean: vmaf.mean, vmaf_harmonic_mean: vmaf.harmonic_mean, vmaf_min: vmaf.min, vmaf_p1: vmaf.p1, scored_frames: vmaf.frames };
            let outcome = TrialOutcome { width: trial.width, height: trial.height, setting: trial.setting, bits, frames: output.frames, quality };
            keep_trial(&work_area, &chunk, codec, &outcome, ctx).await;
            outcomes[*index] = Some(outcome);
        }
    }
    let outcomes: Vec<TrialOutcome> = outcomes.into_iter().flatten().collect();
    progress(total, total, 0.0);
    tracing::info!(
        task_id = ctx.task_id,
        attempt = ctx.attempt,
        chunk = chunk.index,
        codec = codec.as_str(),
        reused = trials.len() - pending.len(),
        trials = ?outcomes.iter().map(|trial| (trial.width, trial.height, trial.setting, trial.bits, (trial.quality.vmaf_mean * 100.0).round() / 100.0)).collect::<Vec<_>>(),
        "chunk analysed"
    );
    Ok(TaskOutput::Analyze { chunk, codec, trials: outcomes })
}

/// Each trial's outcome as an earlier attempt kept it in the work area, in `trials`' order
/// (`None`: not finished, or kept by an agent that measured something else — a mismatched
/// or unreadable one is measured again, with a warning).
async fn finished_trials(work_area: &WorkArea, chunk: &Chunk, codec: Codec, trials: &[TrialSpec], ctx: &TaskContext) -> Result<Vec<Option<TrialOutcome>>, TaskError> {
    let kept = work_area.keys_under(&WorkArea::trials_prefix(codec.as_str(), chunk.index)?).await?;
    let mut outcomes = Vec::with_capacity(trials.len());
    for trial in trials {
        let key = WorkArea::trial_key(codec.as_str(), chunk.index, trial.width, trial.height, trial.setting)?;
        if !kept.iter().any(|kept| kept == key.as_str()) {
            outcomes.push(None);
            continue;
        }
        let outcome = match work_area.get_json::<TrialOutcome>(&key, &ctx.scratch_dir).await {
            Ok(outcome) if outcome.width == trial.width && outcome.height == trial.height && outcome.setting == trial.setting && outcome.frames == chunk.frames() => Some(outcome),
            Ok(outcome) => {
                tracing::warn!(task_id = ctx.task_id, %key, ?outcome, "a kept trial does not match its key or chunk; measuring it again");
                None
            }
            Err(error) => {
                tracing::warn!(task_id = ctx.task_id, %key, %error, "a kept trial cannot be read; measuring it again");
                None
            }
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// Keeps a scored trial in the work area for a retry. Failing to keep it costs a retry the
/// trial's work, not this attempt its result: a warning, not an error.
async fn keep_trial(work_area: &WorkArea, chunk: &Chunk, codec: Codec, outcome: &TrialOutcome, ctx: &TaskContext) {
    let kept = match WorkArea::trial_key(codec.as_str(), chunk.index, outcome.width, outcome.height, outcome.setting) {
        Ok(key) => work_area.put_json(outcome, &key, &ctx.scratch_dir).await.map(drop),
        Err(error) => Err(error),
    };
    if let Err(error) = kept {
        tracing::warn!(task_id = ctx.task_id, chunk = chunk.index, %error, "a scored trial could not be kept for a retry");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_are_scored_at_an_odd_stride_keeping_sixteen_frames() {
        let strides: Vec<u64> = [1, 31, 47, 48, 64, 96, 112, 144, 1000].iter().map(|&frames| trial_subsample(frames)).collect();
        assert_eq!(strides, vec![1, 1, 1, 3, 3, 5, 7, 7, 7]);
        for frames in 1..2000 {
            let stride = trial_subsample(frames);
            assert!(!stride.is_multiple_of(2) && stride <= MAX_TRIAL_SUBSAMPLE, "{frames}: {stride}");
            assert!(frames.div_ceil(stride) >= MIN_SCORED_FRAMES.min(frames), "{frames}: {stride}");
        }
    }
}
