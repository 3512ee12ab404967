//! The inspection artifact (`inspection/a<attempt>.json` in the work area): the whole
//! [`InspectReport`] (source facts, warnings, shots, chunks with seek points and boundary
//! fingerprints) and the per-frame data of `frames.json`, in one object so that it is
//! published whole.
//!
//! Finding it: the scheduler records the inspect task's successful output, and the specs of
//! `encode`, `score` and `validate` name that artifact (`report` finds it among the job's
//! outputs). A stale attempt's inspection lying in the work area is never read. No task parses
//! the frames whole: tasks read the report alone, and validation streams the frames
//! (`media::frame_stream`).

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
}

/// Writes the inspection document to `out` as serializing an [`InspectionDocument`] would,
/// without holding its frames: the report, then the bytes of the frame artifact the
/// inspection wrote (`frames_json`, already that JSON) copied through. Blocking.
pub fn write_document(report: &InspectReport, frames_json: &std::path::Path, out: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(out)?);
    write!(file, "{{\"version\":{},\"report\":", InspectionDocument::VERSION)?;
    serde_json::to_writer(&mut file, report)?;
    file.write_all(b",\"frames\":")?;
    std::io::copy(&mut std::fs::File::open(frames_json)?, &mut file)?;
    file.write_all(b"}")?;
    file.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()
}

/// The inspection without its per-frame data: all a task needs but validation's frames,
/// which it streams from the same file. Read from the file as a stream with the frames
/// skipped unparsed, so no task's memory grows with the title (a 30-minute title's frames are
/// about 17 MB of JSON).
#[derive(Deserialize)]
struct InspectionHead {
    version: u32,
    report: InspectReport,
}

/// The local copy of the inspection stored under `key`, downloaded once per job.
async fn cached_copy(work_area: &WorkArea, key: &ObjectKey, ctx: &TaskContext) -> Result<PathBuf, TaskError> {
    let file_name = key.as_str().rsplit('/').next().unwrap_or("inspection.json");
    let local = ctx.job_cache_dir.join("inspection").join(file_name);
    fill_once(&local, |temporary| async move { work_area.download_key(key, &temporary).await.map(drop) }).await?;
    Ok(local)
}

fn unreadable(key: &ObjectKey, error: &serde_json::Error) -> TaskError {
    TaskError::final_error(format!("the inspection {key} is not one this agent reads ({error}); agents of one farm must run the same version"))
}

fn check_version(key: &ObjectKey, version: u32) -> Result<(), TaskError> {
    if version == InspectionDocument::VERSION {
        return Ok(());
    }
    Err(TaskError::final_error(format!(
        "the inspection {key} has version {version}; this agent reads version {}: run one agent version per farm",
        InspectionDocument::VERSION
    )))
}

/// The report of the inspection stored under `key` (through the job cache), its frames
/// skipped unparsed.
pub async fn load_report(work_area: &WorkArea, key: &ObjectKey, ctx: &TaskContext) -> Result<InspectReport, TaskError> {
    load_head(work_area, key, ctx).await.map(|(head, _)| head.report)
}

/// Loads the inspection's [`InspectionHead`] (through the job cache), streaming the file;
/// and where that file is.
async fn load_head(work_area: &WorkArea, key: &ObjectKey, ctx: &TaskContext) -> Result<(InspectionHead, PathBuf), TaskError> {
    let local = cached_copy(work_area, key, ctx).await?;
    let path = local.clone();
    let parsed = tokio::task::spawn_blocking(move || -> std::io::Result<Result<InspectionHead, serde_json::Error>> {
        let file = std::fs::File::open(&path)?;
        Ok(serde_json::from_reader(std::io::BufReader::with_capacity(1 << 16, file)))
    })
    .await
    .map_err(|error| TaskError::retryable(format!("reading the inspection {key}: {error}")))?
    .map_err(|error| task_errors::local_io("reading the inspection", &local, error))?;
    let head = parsed.map_err(|error| unreadable(key, &error))?;
    check_version(key, head.version)?;
    Ok((head, local))
}

/// The committed inspection's report, and its local file, whose frames validation streams
/// (`frames.frames` of the document) rather than parse whole; checked against the spec's plan
/// like [`committed`] (the frame count the report gives; validation counts the frames).
pub async fn committed_report(work_area: &WorkArea, artifact: &Artifact, source: &SourceSummary, ctx: &TaskContext) -> Result<(InspectReport, PathBuf), TaskError> {
    let key = ObjectKey::parse(&artifact.key).map_err(|error| task_errors::key("the inspection key", error))?;
    let (head, local) = load_head(work_area, &key, ctx).await?;
    if head.report.source.video.frames != source.frames {
        return Err(TaskError::final_error(format!("the inspection {key} does not match this task's plan ({} frames); the job's plan is inconsistent", source.frames)));
    }
    Ok((head.report, local))
}

/// The inspected chunk a chunk's task works on, the source's picture (how every decode of
/// the source turns and deinterlaces it) and the inspection's local file (whose frames the
/// encode task's chunk check streams), from the committed inspection its spec names (checked
/// like [`committed`], from its [`InspectionHead`] alone).
pub async fn committed_chunk(
    work_area: &WorkArea,
    artifact: &Artifact,
    source: &SourceSummary,
    chunk: &PlannedChunk,
    ctx: &TaskContext,
) -> Result<(InspectedChunk, SourcePicture, PathBuf), TaskError> {
    let key = ObjectKey::parse(&artifact.key).map_err(|error| task_errors::key("the inspection key", error))?;
    let (head, local) = load_head(work_area, &key, ctx).await?;
    let inspected = head
        .report
        .chunks
        .iter()
        .find(|inspected| inspected.index == chunk.index && inspected.frames.start == chunk.start_frame && inspected.frames.end == chunk.end_frame);
    match inspected {
        // The frames' count is the report's own (the document is published whole).
        Some(inspected) if head.report.source.video.frames == source.frames => Ok((inspected.clone(), head.report.source.video.picture.clone(), local)),
        _ => Err(TaskError::final_error(format!(
            "the inspection {key} does not match this task's plan ({} frames, chunk {} = frames {}..{}); the job's plan is inconsistent",
            source.frames, chunk.index, chunk.start_frame, chunk.end_frame
        ))),
    }
}
