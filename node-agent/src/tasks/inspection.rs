//! The inspection artifact (`inspection/a<attempt>.json` in the work area): the whole
//! [`InspectReport`] (source facts, warnings, shots, chunks with seek points and boundary
//! fingerprints) and the per-frame data of `frames.json`, in one object so that it is
//! published whole.
//!
//! Finding it: the scheduler records the inspect task's successful output, and the specs of
//! `encode`, `score` and `validate` name that artifact (`report` finds it among the job's
//! outputs). A stale attempt's inspection lying in the work area is never read.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::{Artifact, Chunk as PlannedChunk, SourceSummary};

use super::job_cache::fill_once;
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, task_errors};
use crate::media::artifacts::FrameArtifact;
use crate::media::inspect::{Chunk as InspectedChunk, InspectReport};
use crate::media::source_picture::SourcePicture;
use crate::storage::ObjectKey;

/// The inspection artifact's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectionDocument {
    pub version: u32,
    /// `report.frame_artifact` is meaningless away from the inspecting agent; the frames are here.
    pub report: InspectReport,
    pub frames: FrameArtifact,
}

impl InspectionDocument {
    pub const VERSION: u32 = 1;

    /// The inspected chunk with the planned chunk's index, when its boundaries agree.
    pub fn chunk(&self, planned: &PlannedChunk) -> Option<&InspectedChunk> {
        self.report
            .chunks
            .iter()
            .find(|chunk| chunk.index == planned.index && chunk.frames.start == planned.start_frame && chunk.frames.end == planned.end_frame)
    }

    fn agrees_with(&self, source: &SourceSummary, chunk: Option<&PlannedChunk>) -> bool {
        self.report.source.video.frames == source.frames
            && self.frames.frames.len() as u64 == source.frames
            && chunk.is_none_or(|chunk| self.chunk(chunk).is_some())
    }
}

/// An inspection loaded into the job cache.
#[derive(Debug, Clone)]
pub struct CachedInspection {
    pub key: ObjectKey,
    pub document: InspectionDocument,
    /// Where its download lives in the job cache.
    pub local: PathBuf,
}

impl CachedInspection {
    /// Its frames as a `frames.json` file (what validation reads), written once per job.
    pub async fn frames_file(&self) -> Result<PathBuf, TaskError> {
        let path = self.local.with_extension("frames.json");
        let frames = &self.document.frames;
        fill_once(&path, |temporary| async move { frames.write(&temporary).await.map_err(|error| task_errors::artifact("writing the source frames", error)) }).await?;
        Ok(path)
    }
}

/// Loads the inspection stored under `key` (through the job cache).
pub async fn load(work_area: &WorkArea, key: &ObjectKey, ctx: &TaskContext) -> Result<CachedInspection, TaskError> {
    let file_name = key.as_str().rsplit('/').next().unwrap_or("inspection.json");
    let local = ctx.job_cache_dir.join("inspection").join(file_name);
    fill_once(&local, |temporary| async move { work_area.download_key(key, &temporary).await.map(drop) }).await?;
    let bytes = tokio::fs::read(&local).await.map_err(|error| task_errors::local_io("reading the inspection", &local, error))?;
    let document: InspectionDocument = serde_json::from_slice(&bytes)
        .map_err(|error| TaskError::final_error(format!("the inspection {key} is not one this agent reads ({error}); agents of one farm must run the same version")))?;
    if document.version != InspectionDocument::VERSION {
        return Err(TaskError::final_error(format!(
            "the inspection {key} has version {}; this agent reads version {}: run one agent version per farm",
            document.version,
            InspectionDocument::VERSION
        )));
    }
    Ok(CachedInspection { key: key.clone(), document, local })
}

/// The committed inspection a spec names, checked against the spec's plan: the same frame
/// count and, for a chunk's task, the same chunk boundaries. A disagreement means the plan
/// and the artifact do not belong together, which no retry can fix.
pub async fn committed(
    work_area: &WorkArea,
    artifact: &Artifact,
    source: &SourceSummary,
    chunk: Option<&PlannedChunk>,
    ctx: &TaskContext,
) -> Result<CachedInspection, TaskError> {
    let key = ObjectKey::parse(&artifact.key).map_err(|error| task_errors::key("the inspection key", error))?;
    let inspection = load(work_area, &key, ctx).await?;
    if !inspection.document.agrees_with(source, chunk) {
        return Err(TaskError::final_error(format!(
            "the inspection {key} does not match this task's plan ({} frames{}); the job's plan is inconsistent",
            source.frames,
            chunk.map(|chunk| format!(", chunk {} = frames {}..{}", chunk.index, chunk.start_frame, chunk.end_frame)).unwrap_or_default()
        )));
    }
    Ok(inspection)
}

/// The inspected chunk a chunk's task works on and the source's picture (how every decode of
/// the source turns and deinterlaces it), from the committed inspection its spec names
/// (checked like [`committed`]).
pub async fn committed_chunk(
    work_area: &WorkArea,
    artifact: &Artifact,
    source: &SourceSummary,
    chunk: &PlannedChunk,
    ctx: &TaskContext,
) -> Result<(InspectedChunk, SourcePicture), TaskError> {
    let inspection = committed(work_area, artifact, source, Some(chunk), ctx).await?;
    let picture = inspection.document.report.source.video.picture.clone();
    let inspected = inspection
        .document
        .chunk(chunk)
        .cloned()
        .ok_or_else(|| TaskError::retryable(format!("the inspection has no chunk {} at frames {}..{}", chunk.index, chunk.start_frame, chunk.end_frame)))?;
    Ok((inspected, picture))
}
