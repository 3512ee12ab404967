//! The poster: one JPEG of the largest rendition at full size, at the job's poster time, or
//! by default the middle frame of the longest shot (the earliest one on a tie): a frame well
//! inside a shot rather than at a cut or a fade, from the part of the title that holds the
//! screen longest. The shots are the source's, from its inspection (every rendition holds the
//! source's frames, frame for frame). Only the poster's group of pictures is decoded: ffmpeg
//! opens the largest rendition at the keyframe presented at or before the poster's frame (its
//! sample table says which, [`VideoTimeline::keyframe_at_or_before`]) and takes the frame that
//! many frames on, where a decode from the start would cost as many frames as the title holds.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{PackageError, run_ffmpeg};
use crate::media::keyframe_seek::KeyframeSeek;
use crate::media::mp4_samples::{VideoTimeline, video_timeline};
use crate::media::probe::Rational;

/// The poster's file, beside the thumbnails.
pub const POSTER_FILE: &str = "poster.jpg";

/// How the poster's frame was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum PosterChoice {
    /// At the job's `poster_seconds`.
    Requested,
    /// The middle of the longest shot, which starts at frame `shot_start` and holds `shot_frames`.
    MiddleOfLongestShot { shot_start: u64, shot_frames: u64 },
}

/// The poster written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedPoster {
    pub path: PathBuf,
    /// Its frame's index in the renditions, and that frame's time.
    pub frame: u64,
    pub seconds: f64,
    pub choice: PosterChoice,
}

/// The longest run of frames between shot starts (`shot_starts`: the frames that open a
/// shot, ascending; frame 0 always does, listed or not) of a video of `frames` frames, the
/// earliest on a tie: its first frame and length.
fn longest_shot(shot_starts: &[u64], frames: u64) -> (u64, u64) {
    let ends = shot_starts.iter().copied().filter(|start| (1..frames).contains(start)).chain([frames]);
    let mut best = (0u64, 0u64);
    let mut current = 0u64;
    for end in ends {
        if end > current && end - current > best.1 {
            best = (current, end - current);
        }
        current = current.max(end);
    }
    best
}

/// The poster's frame: the requested time's frame, else the middle of the longest shot.
fn poster_frame(requested_seconds: Option<f64>, shot_starts: &[u64], frame_rate: Rational, frames: u64) -> Result<(u64, PosterChoice), PackageError> {
    if let Some(seconds) = requested_seconds {
        let frame = (seconds * frame_rate.as_f64() + 1e-9).floor() as u64;
        if frame >= frames {
            return Err(PackageError::Thumbnails(format!("the poster time {seconds} s is past the video's last frame; give a time before its end")));
        }
        return Ok((frame, PosterChoice::Requested));
    }
    if frames == 0 {
        return Err(PackageError::Thumbnails("the video has no frames; the poster needs one".to_owned()));
    }
    let (shot_start, shot_frames) = longest_shot(shot_starts, frames);
    Ok((shot_start + shot_frames / 2, PosterChoice::MiddleOfLongestShot { shot_start, shot_frames }))
}

/// Writes the poster of `largest` into `dir` (see the module docs).
pub(super) async fn write_poster(
    requested_seconds: Option<f64>,
    shot_starts: &[u64],
    largest: &Path,
    frame_rate: Rational,
    frames: u64,
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<PackagedPoster, PackageError> {
    let (frame, choice) = poster_frame(requested_seconds, shot_starts, frame_rate, frames)?;
    let timeline = {
        let largest = largest.to_path_buf();
        tokio::task::spawn_blocking(move || video_timeline(&largest)).await
    };
    let unreadable = |error: String| PackageError::Thumbnails(format!("the sample table of {} cannot be read for the poster: {error}", largest.display()));
    let timeline: VideoTimeline = timeline.map_err(|error| unreadable(error.to_string()))?.map_err(|error| unreadable(error.to_string()))?;
    let Some((keyframe, keyframe_seconds, next)) = usize::try_from(frame).ok().and_then(|frame| timeline.keyframe_at_or_before(frame)) else {
        return Err(PackageError::Thumbnails(format!(
            "the poster's frame {frame} has no keyframe at or before it among the {} frames of {}",
            timeline.samples(),
            largest.display()
        )));
    };
    let seek = KeyframeSeek::halfway_past(keyframe_seconds, next.unwrap_or(frame_rate.period_seconds()));
    let path = dir.join(POSTER_FILE);
    let args: Vec<String> = seek
        .input_args()
        .into_iter()
        .chain(["-i".to_owned(), largest.display().to_string()])
        .chain(["-map".to_owned(), "0:v:0".to_owned(), "-vf".to_owned(), format!("select='eq(n,{})'", frame - keyframe as u64)])
        .chain(["-fps_mode", "passthrough", "-frames:v", "1", "-q:v", "2"].map(String::from))
        .chain([path.display().to_string()])
        .collect();
    run_ffmpeg(args, "the poster".to_owned(), cancel).await?;
    if !path.is_file() {
        return Err(PackageError::Thumbnails(format!("ffmpeg wrote no poster for frame {frame} of {}", largest.display())));
    }
    Ok(PackagedPoster { path, frame, seconds: frame as f64 / frame_rate.as_f64(), choice })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_shot_is_found_and_the_earliest_wins_a_tie() {
        assert_eq!(longest_shot(&[0, 30, 55], 95), (55, 40));
        assert_eq!(longest_shot(&[30, 55], 85), (0, 30));
        assert_eq!(longest_shot(&[10, 60], 65), (10, 50));
        assert_eq!(longest_shot(&[], 1), (0, 1));
        // Starts past the end, repeated or out of order do not make shots.
        assert_eq!(longest_shot(&[30, 30, 20, 200], 50), (0, 30));
    }

    #[test]
    fn the_poster_is_the_requested_frame_or_the_middle_of_the_longest_shot() {
        let rate = Rational { num: 25, den: 1 };
        assert_eq!(poster_frame(None, &[30, 55], rate, 110).unwrap(), (82, PosterChoice::MiddleOfLongestShot { shot_start: 55, shot_frames: 55 }));
        assert_eq!(poster_frame(Some(2.0), &[30, 55], rate, 110).unwrap(), (50, PosterChoice::Requested));
        assert!(poster_frame(Some(4.4), &[], rate, 110).is_err(), "past the last frame");
        assert!(poster_frame(None, &[], rate, 0).is_err(), "no frames");
    }
}
