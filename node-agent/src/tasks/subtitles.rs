//! The subtitles task: every text subtitle track of the source converted to WebVTT on the
//! video's timeline ([`crate::media::package::subtitles`]) and uploaded
//! (`subtitles/s<N>.a<attempt>.vtt`) for the package task, which publishes them. It is planned
//! right after inspection when inspection found a text track, so the package task, the job's
//! last, never reads the source.

use shotfarm_proto::pipeline::{EncodedSubtitles, JobLocations, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::job_cache::local_source;
use super::job_locations::check_locations;
use super::spec_checks::check_subtitle_renditions;
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, task_errors};
use crate::media::package::subtitles::convert_subtitle_files;

pub async fn run(locations: &JobLocations, ctx: &TaskContext, cancel: &CancellationToken) -> Result<TaskOutput, TaskError> {
    check_locations(locations, &ctx.roots)?;
    let work_area = WorkArea::open(&locations.work_url)?;
    let source_path = local_source(&locations.input_url, ctx).await?;
    let files = convert_subtitle_files(&source_path, &ctx.scratch_dir.join("subtitles"), cancel).await.map_err(task_errors::subtitles)?;
    if files.is_empty() {
        return Err(TaskError::final_error("inspection found a text subtitle track in the source, but it has none now; was the input replaced during the job? Submit it again"));
    }
    // What package will check, checked before anything is uploaded.
    check_subtitle_renditions(files.iter().map(|file| &file.facts))?;
    let mut renditions = Vec::with_capacity(files.len());
    for file in files {
        let artifact = work_area.upload(&file.path, &WorkArea::subtitles_key(&file.facts.name, ctx.attempt)?).await?;
        renditions.push(EncodedSubtitles { rendition: file.facts, artifact });
    }
    tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, renditions = renditions.len(), "subtitles converted");
    Ok(TaskOutput::Subtitles { renditions })
}
