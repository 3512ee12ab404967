//! The poster: one JPEG of the largest rendition at full size, at the job's poster time, or
//! by default the middle frame of the longest shot (the earliest one on a tie): a frame well
//! inside a shot rather than at a cut or a fade, from the part of the title that holds the
//! screen longest. Shots come from the same detector inspection uses, run on the smallest
//! rendition (its 128x72 analysis frames cost one cheap decode).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shotfarm_kernels::scene::ShotDetectionParams;
use tokio_util::sync::CancellationToken;

use super::{PackageError, run_ffmpeg};
use crate::media::frame_analysis::{AnalysisDepth, decode_and_analyse};
use crate::media::probe::Rational;
use crate::media::source_picture::SourcePicture;

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

/// The longest run of frames between shot starts (`starts[i]`: frame `i` opens a shot; frame 0
/// always does), the earliest on a tie: its first frame and length.
fn longest_shot(starts: &[bool]) -> (u64, u64) {
    let mut best = (0u64, 0u64);
    let mut current = 0u64;
    for (index, starts_shot) in starts.iter().enumerate() {
        let index = index as u64;
        if *starts_shot && index > current {
            if index - current > best.1 {
                best = (current, index - current);
            }
            current = index;
        }
    }
    let total = starts.len() as u64;
    if total - current > best.1 {
        best = (current, total - current);
    }
    best
}

/// The poster's frame: the requested time's frame, else the middle of the longest shot of `smallest`.
async fn poster_frame(requested_seconds: Option<f64>, smallest: &Path, frame_rate: Rational, frames: u64, cancel: &CancellationToken) -> Result<(u64, PosterChoice), PackageError> {
    if let Some(seconds) = requested_seconds {
        let frame = (seconds * frame_rate.as_f64() + 1e-9).floor() as u64;
        if frame >= frames {
            return Err(PackageError::Thumbnails(format!("the poster time {seconds} s is past the video's last frame; give a time before its end")));
        }
        return Ok((frame, PosterChoice::Requested));
    }
    let decoded = decode_and_analyse(smallest, &SourcePicture::default(), AnalysisDepth::Full(ShotDetectionParams::default()), cancel).await.map_err(|error| match error {
        crate::media::frame_analysis::DecodePassError::Tool(crate::media::process::ToolError::Cancelled { .. }) => PackageError::Cancelled,
        error => PackageError::Thumbnails(format!("finding the shots for the poster: {error}")),
    })?;
    let starts: Vec<bool> = decoded.scene.iter().map(|features| features.starts_shot).collect();
    if starts.is_empty() {
        return Err(PackageError::Thumbnails("the smallest rendition decoded to no frames; the poster needs one".to_owned()));
    }
    let (shot_start, shot_frames) = longest_shot(&starts);
    Ok((shot_start + shot_frames / 2, PosterChoice::MiddleOfLongestShot { shot_start, shot_frames }))
}

/// Writes the poster of `largest` into `dir` (see the module docs).
pub(super) async fn write_poster(
    requested_seconds: Option<f64>,
    (largest, smallest): (&Path, &Path),
    frame_rate: Rational,
    frames: u64,
    dir: &Path,
    cancel: &CancellationToken,
) -> Result<PackagedPoster, PackageError> {
    let (frame, choice) = poster_frame(requested_seconds, smallest, frame_rate, frames, cancel).await?;
    let path = dir.join(POSTER_FILE);
    let args: Vec<String> = ["-i".to_owned(), largest.display().to_string()]
        .into_iter()
        .chain([ "-map".to_owned(), "0:v:0".to_owned(), "-vf".to_owned(), format!("select='eq(n,{frame})'")])
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
        let starts = |shots: &[u64]| {
            let total: u64 = shots.iter().sum();
            let mut flags = vec![false; total as usize];
            let mut at = 0;
            for length in shots {
                flags[at as usize] = true;
                at += length;
            }
            flags
        };
        assert_eq!(longest_shot(&starts(&[30, 25, 40])), (55, 40));
        assert_eq!(longest_shot(&starts(&[30, 25, 30])), (0, 30));
        assert_eq!(longest_shot(&starts(&[10, 50, 5])), (10, 50));
        assert_eq!(longest_shot(&[true]), (0, 1));
    }
}
