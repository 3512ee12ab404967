//! Every audio track of a source encoded whole, each rendition to an MP4 of AAC with no edit
//! list: the audio task's work, done beside the video's stages rather than at the end of the
//! job. Packaging cuts each file into segments by stream copy ([`super::segmenter`]); the
//! samples and their times are the encoder's, so the segments are the ones an encode straight
//! into the segmenter wrote before this split (byte for byte, measured when it was made; only
//! the init segment's declared bitrates differ, now filled in). `tests/package_output.rs`
//! checks their timing from the boxes: start at 0, priming, the end within one AAC frame.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::AudioRenditionFacts;
use tokio_util::sync::CancellationToken;

use super::audio_renditions::{AudioTimeline, plan_audio_renditions};
use super::{PackageError, run_ffmpeg, video_start_seconds};
use crate::media::probe::probe_file;
use crate::media::tracks::audio_tracks;

/// One audio rendition encoded whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioFile {
    pub facts: AudioRenditionFacts,
    /// The MP4 (AAC, no edit list).
    pub path: PathBuf,
}

/// Encodes every audio rendition of `source` ([`plan_audio_renditions`]) under `dir`, one
/// after the other (each keeps about one core busy: what the audio task asks of a node);
/// none when the source has no audio.
pub async fn encode_audio_files(source: &Path, timeline: AudioTimeline, dir: &Path, cancel: &CancellationToken) -> Result<Vec<AudioFile>, PackageError> {
    let probe = probe_file(source, false, cancel).await?;
    let renditions = plan_audio_renditions(&audio_tracks(&probe), video_start_seconds(&probe), timeline);
    if renditions.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(|source| PackageError::Io { operation: "creating", path: dir.to_owned(), source })?;
    let mut files = Vec::with_capacity(renditions.len());
    for rendition in renditions {
        // `audio/a1-stereo` → `audio_a1-stereo.mp4`: one folder for every file.
        let path = dir.join(format!("{}.mp4", rendition.facts.name.replace('/', "_")));
        let mut args = rendition.encode.ffmpeg_args(source);
        args.extend(["-use_editlist".to_owned(), "0".to_owned(), "-f".to_owned(), "mp4".to_owned(), path.display().to_string()]);
        let what = format!("audio rendition {} (source stream {})", rendition.facts.name, rendition.facts.source_stream);
        run_ffmpeg(args, what, cancel).await?;
        files.push(AudioFile { facts: rendition.facts, path });
    }
    Ok(files)
}
