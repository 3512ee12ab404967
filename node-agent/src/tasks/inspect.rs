//! The inspect task: refuse an output location that is not empty (unless the job says
//! `overwrite`), copy the source into the job cache, inspect it, upload the inspection
//! (`inspection/a<attempt>.json`), and answer with the source summary and the chunk plan. A
//! rejected source is a final error carrying the rejection's code, where, and the fix.
//!
//! A source long enough to cut into segments of at least [`SEGMENT_SECONDS`] comes back cut
//! instead (the checks that need no decoding done): the planner adds an `inspect_segment`
//! task per segment ([`super::inspect_segment`]) and a second inspect task after them, whose
//! spec names each segment's decode; that one joins them and finishes the inspection.

use shotfarm_proto::pipeline::{Artifact, Chunk, InspectedSegment, JobLocations, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::inspection::write_document;
use super::job_cache::local_source;
use super::job_locations::check_locations;
use super::output_location::check_output_free;
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, task_errors};
use crate::media::chunking::ChunkingParams;
use crate::media::inspect::{InspectParams, InspectReport, InspectStep, InspectWarning, SegmentDecode, SegmentPolicy, Shot, inspect_joined, inspect_or_cut};
use crate::storage::ObjectKey;

/// Chunk length limits used when a job leaves them at 0.
pub const DEFAULT_CHUNK_MIN_MS: u32 = 2_000;
pub const DEFAULT_CHUNK_MAX_MS: u32 = 10_000;
/// No segment of a source cut for `inspect_segment` tasks is shorter than this: a segment's
/// task costs a source probe and a seek beside its decode.
pub const SEGMENT_SECONDS: f64 = 4.0;

/// The job's chunk limits in seconds (0 = default); a minimum above the maximum is a bad job.
pub fn chunking_params(chunk_min_ms: u32, chunk_max_ms: u32) -> Result<ChunkingParams, TaskError> {
    let min_ms = if chunk_min_ms == 0 { DEFAULT_CHUNK_MIN_MS } else { chunk_min_ms };
    let max_ms = if chunk_max_ms == 0 { DEFAULT_CHUNK_MAX_MS.max(min_ms) } else { chunk_max_ms };
    if min_ms > max_ms {
        return Err(TaskError::final_error(format!(
            "chunk limits are {min_ms} ms to {max_ms} ms: the minimum is above the maximum; submit the job with chunk_min_ms <= chunk_max_ms"
        )));
    }
    Ok(ChunkingParams { min_seconds: f64::from(min_ms) / 1000.0, max_seconds: f64::from(max_ms) / 1000.0 })
}

/// Inspects the source; `segments` empty: the first pass, which may cut it; else the join of
/// those segments' decodes.
pub async fn run(locations: &JobLocations, chunk_min_ms: u32, chunk_max_ms: u32, segments: &[InspectedSegment], ctx: &TaskContext, cancel: &CancellationToken) -> Result<TaskOutput, TaskError> {
    let chunking = chunking_params(chunk_min_ms, chunk_max_ms)?;
    let checked = check_locations(locations, &ctx.roots)?;
    if segments.is_empty() {
        // Before anything is written there (the work area lies inside it): a job never mixes its
        // outputs with, or overwrites, files it did not make unless it says `overwrite`. (The
        // join comes after this job's segments wrote to its work area.)
        check_output_free(&checked, &ctx.roots, locations.overwrite).await?;
    }
    let work_area = WorkArea::open(&locations.work_url)?;
    let source = local_source(&locations.input_url, ctx).await?;
    let params = InspectParams {
        source,
        artifact_dir: ctx.scratch_dir.join("inspect"),
        chunking,
        shot_detection: Default::default(),
        limits: Default::default(),
        // Segments are tasks of their own here, never decoded side by side in this one.
        segments: SegmentPolicy::default(),
    };
    let outcome = if segments.is_empty() {
        match inspect_or_cut(&params, SEGMENT_SECONDS, cancel).await {
            Ok(InspectStep::Cut(segments)) => {
                tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, segments = segments.len(), "source cut into segments");
                return Ok(TaskOutput::InspectSegments { segments });
            }
            Ok(InspectStep::Inspected(report)) => Ok(*report),
            Err(error) => Err(error),
        }
    } else {
        let mut decodes = Vec::with_capacity(segments.len());
        for inspected in segments {
            let key = ObjectKey::parse(&inspected.piece.key).map_err(|error| task_errors::key("a segment's decode in the task spec", error))?;
            decodes.push((inspected.segment, work_area.get_json::<SegmentDecode>(&key, &ctx.scratch_dir).await?));
        }
        inspect_joined(&params, decodes, cancel).await
    };
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            if let Some(rejection) = error.rejection() {
                tracing::warn!(task_id = ctx.task_id, attempt = ctx.attempt, code = rejection.code.as_str(), %rejection, "source rejected");
                // A rejected file (a text of secrets, a playlist) does not stay in the cache.
                let _ = tokio::fs::remove_file(&params.source).await;
            }
            return Err(task_errors::inspect(error));
        }
    };
    let summary = source_summary(&report)?;
    let chunks = planned_chunks(&report);
    let chunk_complexity = chunk_complexity(&report.shots, &chunks);
    let warnings = report.warnings.iter().map(warning_text).collect();
    let text_subtitles = report.source.subtitle_tracks.iter().any(|track| track.text);
    // The document is written as a stream, its frames copied from the frame artifact's file:
    // the inspecting agent never holds the title's frames twice.
    let frames_json = report.frame_artifact.clone();
    let report = InspectReport { frame_artifact: "frames.json".into(), ..report };
    let key = WorkArea::inspection_key(ctx.attempt)?;
    let local = ctx.scratch_dir.join(key.as_str().replace('/', "__"));
    let written = {
        let local = local.clone();
        tokio::task::spawn_blocking(move || write_document(&report, &frames_json, &local))
    };
    written.await.map_err(|error| TaskError::retryable(format!("writing the inspection stopped: {error}")))?.map_err(|error| task_errors::local_io("writing the inspection", &local, error))?;
    let inspection = work_area.upload(&local, &key).await;
    let _ = tokio::fs::remove_file(&local).await;
    let inspection: Artifact = inspection?;
    tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, key = %inspection.key, frames = summary.frames, chunks = chunks.len(), "inspection uploaded");
    Ok(TaskOutput::Inspect { source: summary, chunks, warnings, inspection, chunk_complexity, text_subtitles })
}

/// The facts later stages need, from the full report.
pub fn source_summary(report: &InspectReport) -> Result<SourceSummary, TaskError> {
    let video = &report.source.video;
    if video.frame_rate.num == 0 || video.frame_rate.den == 0 {
        return Err(TaskError::final_error(format!("inspection found frame rate {}: the source has no usable frame rate", video.frame_rate)));
    }
    Ok(SourceSummary {
        width: video.width,
        height: video.height,
        frames: video.frames,
        frame_rate_num: video.frame_rate.num,
        frame_rate_den: video.frame_rate.den,
        duration_ms: (video.duration_seconds * 1000.0).round() as u64,
        has_audio: report.source.audio.is_some(),
        sample_aspect_num: video.sample_aspect_ratio.num,
        sample_aspect_den: video.sample_aspect_ratio.den,
    })
}

fn planned_chunks(report: &InspectReport) -> Vec<Chunk> {
    report.chunks.iter().map(|chunk| Chunk { index: chunk.index, start_frame: chunk.frames.start, end_frame: chunk.frames.end, span_us: chunk.span_us }).collect()
}

/// Per chunk, the frame-weighted mean of its shots' mean SI + TI (0 for a chunk no shot covers).
fn chunk_complexity(shots: &[Shot], chunks: &[Chunk]) -> Vec<f64> {
    chunks
        .iter()
        .map(|chunk| {
            let (weighted, frames) = shots.iter().fold((0.0, 0u64), |(weighted, frames), shot| {
                let overlap = shot.end.min(chunk.end_frame).saturating_sub(shot.start.max(chunk.start_frame));
                (weighted + f64::from(shot.si_mean + shot.ti_mean) * overlap as f64, frames + overlap)
            });
            if frames == 0 { 0.0 } else { weighted / frames as f64 }
        })
        .collect()
}

/// `code: message`, e.g. `variable_frame_rate: frame durations vary …`.
fn warning_text(warning: &InspectWarning) -> String {
    let code = serde_json::to_value(warning.code).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_else(|| format!("{:?}", warning.code));
    format!("{code}: {}", warning.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_chunk_limits_mean_the_defaults() {
        assert_eq!(chunking_params(0, 0).unwrap(), ChunkingParams { min_seconds: 2.0, max_seconds: 10.0 });
        assert_eq!(chunking_params(500, 1500).unwrap(), ChunkingParams { min_seconds: 0.5, max_seconds: 1.5 });
        assert_eq!(chunking_params(12_000, 0).unwrap(), ChunkingParams { min_seconds: 12.0, max_seconds: 12.0 });
        assert!(chunking_params(3000, 1000).unwrap_err().is_final());
    }

    #[test]
    fn a_chunks_complexity_weighs_its_shots_by_the_frames_it_holds() {
        let shot = |start, end, si_mean, ti_mean| Shot { start, end, si_mean, si_max: si_mean, ti_mean, ti_max: ti_mean };
        let shots = [shot(0, 30, 10.0, 2.0), shot(30, 40, 40.0, 20.0), shot(40, 100, 5.0, 1.0)];
        let chunks = [Chunk { index: 0, start_frame: 0, end_frame: 40, span_us: None }, Chunk { index: 1, start_frame: 40, end_frame: 100, span_us: None }, Chunk { index: 2, start_frame: 100, end_frame: 110, span_us: None }];
        assert_eq!(chunk_complexity(&shots, &chunks), vec![(30.0 * 12.0 + 10.0 * 60.0) / 40.0, 6.0, 0.0]);
    }
}
