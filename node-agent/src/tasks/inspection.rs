//! The inspection artifact (`inspection/a<attempt>.json` in the work area): the whole
//! [`InspectReport`] (source facts, warnings, shots, chunks with seek points and boundary
//! fingerprints) and the per-frame data of `frames.json`, in one object so that it is
//! published whole.
//!
//! Finding it: `report` gets the committed key from the inspect task's output. `encode`,
//! `score`, `validate` and `package` get no key in their specs (see the module docs of
//! [`super`]), so they take the newest complete inspection in the work area whose plan agrees
//! with their spec (same frame count, same chunk boundaries). Every inspection of a job reads
//! the same source with the same parameters and is deterministic, so any complete one that
//! agrees is equivalent to the committed one; a disagreeing one is skipped, never used.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::{Chunk as PlannedChunk, SourceSummary};

use super::job_cache::fill_once;
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, task_errors};
use crate::media::artifacts::FrameArtifact;
use crate::media::inspect::{Chunk as InspectedChunk, InspectReport};
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

/// The newest complete inspection that agrees with the spec (see the module docs).
pub async fn find(work_area: &WorkArea, source: &SourceSummary, chunk: Option<&PlannedChunk>, ctx: &TaskContext) -> Result<CachedInspection, TaskError> {
    let attempts = work_area.attempts_of("inspection", "", "json").await?;
    let mut skipped = Vec::new();
    for attempt in &attempts {
        let key = WorkArea::inspection_key(*attempt)?;
        match load(work_area, &key, ctx).await {
            Ok(inspection) if inspection.document.agrees_with(source, chunk) => return Ok(inspection),
            Ok(_) => skipped.push(format!("{key} (a different plan)")),
            Err(error) if error.is_final() => skipped.push(format!("{key} ({error})")),
            Err(error) => return Err(error),
        }
    }
    let found = if skipped.is_empty() { "none".to_owned() } else { skipped.join(", ") };
    Err(TaskError::retryable(format!(
        "no inspection in the work area {} matches this task ({} frames{}); found: {found}",
        work_area.url(),
        source.frames,
        chunk.map(|chunk| format!(", chunk {} = frames {}..{}", chunk.index, chunk.start_frame, chunk.end_frame)).unwrap_or_default()
    )))
}
