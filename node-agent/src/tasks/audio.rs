//! The audio task: every audio track of the source encoded as AAC, each rendition whole and
//! fitted to the video's frames ([`crate::media::package::audio_files`]), and uploaded
//! (`audio/a<N>[-stereo].a<attempt>.mp4`) for the package task, which only cuts them into
//! segments. It is planned right after inspection, so the audio is encoded beside the video's
//! stages instead of in the job's last task.

use shotfarm_proto::pipeline::{EncodedAudio, JobLocations, SourceSummary, TaskOutput};
use tokio_util::sync::CancellationToken;

use super::job_cache::local_source;
use super::job_locations::check_locations;
use super::spec_checks::{check_audio_renditions, frame_rate};
use super::work_area::WorkArea;
use super::{TaskContext, TaskError, task_errors};
use crate::media::package::audio_files::encode_audio_files;
use crate::media::package::audio_renditions::AudioTimeline;

/// A stereo AAC rendition's bitrate; others get the same per channel.
pub const AUDIO_BITRATE_KBPS: u32 = 128;

pub async fn run(locations: &JobLocations, source: &SourceSummary, ctx: &TaskContext, cancel: &CancellationToken) -> Result<TaskOutput, TaskError> {
    check_locations(locations, &ctx.roots)?;
    let timeline = AudioTimeline { frames: source.frames, frame_rate: frame_rate(source)?, stereo_bitrate_kbps: AUDIO_BITRATE_KBPS };
    let work_area = WorkArea::open(&locations.work_url)?;
    let source_path = local_source(&locations.input_url, ctx).await?;
    let files = encode_audio_files(&source_path, timeline, &ctx.scratch_dir.join("audio"), cancel).await.map_err(task_errors::audio)?;
    if files.is_empty() && source.has_audio {
        return Err(TaskError::final_error("inspection found audio in the source, but it has no audio stream now; was the input replaced during the job? Submit it again"));
    }
    // What package will check, checked before anything is uploaded.
    check_audio_renditions(files.iter().map(|file| &file.facts))?;
    let mut renditions = Vec::with_capacity(files.len());
    for file in files {
        let artifact = work_area.upload(&file.path, &WorkArea::audio_key(&file.facts.name, ctx.attempt)?).await?;
        renditions.push(EncodedAudio { rendition: file.facts, artifact });
    }
    tracing::info!(task_id = ctx.task_id, attempt = ctx.attempt, renditions = renditions.len(), "audio encoded");
    Ok(TaskOutput::Audio { renditions })
}
