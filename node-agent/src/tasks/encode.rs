//! The encode task: one chunk at one or more rungs (the job's `rungs_per_encode`) through the
//! backend placement chose, from the job's cached source, decoding the chunk once from its seek
//! point (the inspection's keyframe, verified by the boundary fingerprints); each rung's output
//! then checked frame by frame against the source's frames of the chunk, every rung's output
//! decoded in one ffmpeg run ([`crate::media::chunk_check`]; a mismatch fails the attempt,
//! retryable like an encode failure) and uploaded as `chunks/<rung>/<chunk:05>.a<attempt>.mp4`, the output recording
//! what was verified (frame count, first and last fingerprints) for the validate task's join
//! check.

use std::sync::Arc;

use shotfarm_proto::pipeline::{Artifact, Chunk, ChunkVerification, EncodedRendition, JobLocations, Rung, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::job_cache::local_source;
use super::spec_checks::{check_chunk_in_source, check_rung_name, frame_rate};
use super::work_area::WorkArea;
use super::{ProgressFn, TaskContext, TaskError, inspection, task_errors};
use crate::media::chunk_check::{ChunkCheckError, ChunkCheckParams, VerifiedChunk, check_chunk_renditions};
use crate::media::chunking::FrameRange;
use crate::media::encode::{ChunkOutput, CpuBackend, EncodeBackend, EncodeChunkParams, EncoderSettings};
use crate::media::frame_stream::FramesWithin;
use crate::media::process::ToolProgress;
use crate::media::source_colour::RungColour;

/// Seconds between forced keyframes (the HLS/DASH segment length).
pub const SEGMENT_SECONDS: f64 = 4.0;

/// The encoder knobs of a job: the same in every encode task of the job, so that keyframes
/// (and so segments) line up across rungs; the recipe's preset, or the farm's default.
pub fn encoder_settings(source: &SourceSummary, preset: Option<&str>) -> EncoderSettings {
    let rate = f64::from(source.frame_rate_num) / f64::from(source.frame_rate_den.max(1));
    let interval = (rate * SEGMENT_SECONDS).round().clamp(1.0, 100_000.0) as u32;
    EncoderSettings { keyframe_interval_frames: interval, preset: preset.map_or_else(|| EncoderSettings::default().preset, str::to_owned) }
}

/// Constant-quality settings (CRF) a spec may carry: none, or one per rung, each in 0..=63
/// (the widest encoder range: SVT-AV1's).
pub fn check_settings(settings: &[f64], rungs: usize) -> Result<(), TaskError> {
    if !settings.is_empty() && settings.len() != rungs {
        return Err(TaskError::final_error(format!("the spec has {} quality settings for {rungs} rungs; the plan is inconsistent", settings.len())));
    }
    match settings.iter().find(|setting| !(0.0..=63.0).contains(*setting)) {
        Some(bad) => Err(TaskError::final_error(format!("quality setting {bad} is outside 0..=63 (CRF); the plan is inconsistent"))),
        None => Ok(()),
    }
}

/// The backend `name` on this agent.
pub fn backend_named(name: &str, ctx: &TaskContext) -> Result<Arc<dyn EncodeBackend>, TaskError> {
    match name {
        "cpu" => Ok(Arc::new(CpuBackend::new(&ctx.capabilities))),
        // Placement may send nvenc work only to agents advertising it; this build cannot.
        "nvenc" => Err(TaskError::retryable(
            "this agent build has no nvenc backend (built without the `nvenc` feature); run the task on an agent built with it, or on the cpu backend",
        )),
        other => Err(TaskError::final_error(format!("unknown encode backend {other:?}; this agent offers cpu"))),
    }
}

#[expect(clippy::too_many_arguments, reason = "the fields of one spec variant plus the task's context")]
pub async fn run(
    locations: &JobLocations,
    source: &SourceSummary,
    inspection: &Artifact,
    chunk: Chunk,
    rungs: &[Rung],
    preset: Option<&str>,
    settings: &[f64],
    ctx: &TaskContext,
    progress: &ProgressFn,
    cancel: &CancellationToken,
) -> Result<TaskOutput, TaskError> {
    let backend = backend_named(&ctx.backend, ctx)?;
    if rungs.is_empty() {
        return Err(TaskError::final_error(format!("the encode task of chunk {} names no rung; the plan is inconsistent", chunk.index)));
    }
    let max_outputs = backend.capabilities().max_outputs_per_call;
    if rungs.len() > max_outputs {
        return Err(TaskError::final_error(format!(
            "the encode task of chunk {} asks for {} rungs; backend {} encodes at most {max_outputs} from one decode: submit the job with a smaller rungs_per_encode",
            chunk.index,
            rungs.len(),
            backend.name()
        )));
    }
    // Rung names become file names and keys: refuse a bad one before any work.
    for rung in rungs {
        check_rung_name(&rung.name)?;
    }
    check_settings(settings, rungs.len())?;
    check_chunk_in_source(&chunk, source)?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let (inspected_chunk, picture, inspection_file) = inspection::committed_chunk(&work_area, inspection, source, &chunk, ctx).await?;
    let local_source = local_source(&locations.input_url, ctx).await?;
    let outputs = rungs
        .iter()
        .cloned()
        .enumerate()
        .map(|(index, rung)| {
            let path = ctx.scratch_dir.join("encode").join(format!("{}.{:05}.mp4", rung.name, chunk.index));
            let output = ChunkOutput::new(rung, path);
            match settings.get(index) {
                Some(&setting) => output.at_setting(setting),
                None => output,
            }
        })
        .collect();
    let params = EncodeChunkParams {
        source: local_source,
        chunk: inspected_chunk,
        frame_rate: frame_rate(source)?,
        outputs,
        settings: encoder_settings(source, preset),
        picture,
    };
    let remove_outputs = || async {
        for output in &params.outputs {
            let _ = tokio::fs::remove_file(&output.path).await;
        }
    };
    let total = chunk.frames();
    let report_progress = |update: ToolProgress| progress(update.frames_done.min(total), total, f64::from(update.fps));
    report_progress(ToolProgress { frames_done: 0, fps: 0.0, finished: false });
    let result = backend.encode_chunk(&params, &report_progress, cancel).await.map_err(task_errors::encode)?;
    if cancel.is_cancelled() {
        remove_outputs().await;
        return Err(TaskError::Cancelled);
    }
    if result.outputs.len() != rungs.len() {
        remove_outputs().await;
        return Err(TaskError::retryable(format!(
            "backend {} returned {} outputs for chunk {}; it was asked for {} rungs",
            backend.name(),
            result.outputs.len(),
            chunk.index,
            rungs.len()
        )));
    }
    if let Some(short) = result.outputs.iter().find(|encoded| encoded.frames != total) {
        remove_outputs().await;
        return Err(TaskError::retryable(format!(
            "backend {} encoded {} frames of chunk {} at {}; it has {total} (frames {}..{})",
            backend.name(),
            short.frames,
            chunk.index,
            short.rung,
            chunk.start_frame,
            chunk.end_frame
        )));
    }
    progress(total, total, total as f64 / result.seconds.max(1e-3));
    let mut encoded_outputs = Vec::with_capacity(rungs.len());
    for rung in rungs {
        let Some(encoded) = result.outputs.iter().find(|encoded| encoded.rung == rung.name) else {
            remove_outputs().await;
            return Err(TaskError::retryable(format!("backend {} returned no {} output for chunk {}", backend.name(), rung.name, chunk.index)));
        };
        encoded_outputs.push((rung, encoded));
    }
    // Every output decoded and compared with the source's frames of the chunk, all rungs in
    // one decoding run.
    let checks: Vec<ChunkCheckParams> = encoded_outputs
        .iter()
        .map(|(rung, encoded)| ChunkCheckParams {
            rung: rung.name.clone(),
            codec: rung.codec,
            chunk: chunk.index,
            encoded: encoded.path.clone(),
            frames: FrameRange { start: chunk.start_frame, end: chunk.end_frame },
            source_frames: inspection_file.clone(),
            source_frames_within: FramesWithin::Inspection,
            tone_mapped: params.picture.colour.for_codec(rung.codec) == RungColour::ToneMappedToSdr,
            tolerance: None,
        })
        .collect();
    let verified = match check_chunk_renditions(&checks, &ctx.scratch_dir.join("encode"), cancel).await {
        Ok(verified) => verified,
        Err(error) => {
            remove_outputs().await;
            return Err(chunk_check_failed(error));
        }
    };
    let mut renditions = Vec::with_capacity(rungs.len());
    for ((rung, encoded), verified) in encoded_outputs.into_iter().zip(verified) {
        let key = WorkArea::chunk_key(&rung.name, chunk.index, ctx.attempt)?;
        let artifact = work_area.upload(&encoded.path, &key).await?;
        let _ = tokio::fs::remove_file(&encoded.path).await;
        tracing::info!(
            task_id = ctx.task_id,
            attempt = ctx.attempt,
            chunk = chunk.index,
            rung = %rung.name,
            key = %artifact.key,
            bytes = artifact.bytes,
            decode_start = ?result.decode_start,
            seconds = result.seconds,
            max_fingerprint_distance = verified.max_fingerprint_distance,
            "chunk encoded, verified and uploaded"
        );
        renditions.push(EncodedRendition { rung: rung.name.clone(), artifact, frames: total, verified: Some(verification_record(&verified)) });
    }
    Ok(TaskOutput::Encode { chunk, renditions })
}

/// What the encode output records of a verified chunk.
fn verification_record(verified: &VerifiedChunk) -> ChunkVerification {
    ChunkVerification {
        frames: verified.frames,
        first_fingerprint: verified.first_fingerprint.to_hex(),
        last_fingerprint: verified.last_fingerprint.to_hex(),
        samples_sha256: verified.samples_sha256.clone(),
    }
}

/// A failed chunk check as the task's error: a chunk that is not its source frames is retried
/// like a failed encode (another attempt, maybe on another node, encodes it again).
fn chunk_check_failed(error: ChunkCheckError) -> TaskError {
    match error {
        ChunkCheckError::Cancelled => TaskError::Cancelled,
        ChunkCheckError::Tool(tool) if tool.is_cancelled() => TaskError::Cancelled,
        ChunkCheckError::Mismatch(mismatch) => TaskError::retryable(mismatch.to_string()),
        other => TaskError::retryable(format!("the encoded chunk could not be checked: {other}")),
    }
}
