//! One ffmpeg HLS muxer run that cuts a track into CMAF segments: `init.mp4`, `seg_%05d.m4s`
//! and a media playlist naming them (whose durations packaging rewrites from the boxes).
//!
//! ffmpeg 5.1's HLS muxer writes, for video with B-frames, an edit list opening with an empty
//! edit as long as the B-frame delay (80 ms at 25 fps), so players show the first frame late;
//! hls.js ignores edit lists altogether. The segments are therefore written with
//! `movflags=+cmaf+negative_cts_offsets` and `use_editlist=0`: a version-1 `trun` with signed
//! composition offsets puts the first frame at presentation time 0 with no edit list, and
//! audio starts at decode time 0 (its encoder priming is handled by [`super::audio`]).

use std::path::{Path, PathBuf};

use tokio_util::sync::CancellationToken;

use super::{PackageError, run_ffmpeg};

/// The HLS muxer's options for its fMP4 segments (see the module docs).
const SEGMENT_OPTIONS: &str = "movflags=+cmaf+negative_cts_offsets:use_editlist=0";

/// The input arguments that take `stream` (an ffmpeg stream specifier, `0:v:0`) of the
/// already encoded file at `path` into [`segment`] unchanged.
pub(super) fn stream_copy(path: &Path, stream: &str) -> Vec<String> {
    ["-i", &path.display().to_string(), "-map", stream, "-c", "copy"].map(str::to_owned).to_vec()
}

/// Runs ffmpeg with `input_args` (inputs, maps, codec options) into `dir`, cutting at every
/// keyframe at least `hls_time` seconds after the previous cut.
pub(super) async fn segment(input_args: Vec<String>, dir: PathBuf, hls_time: f64, what: String, cancel: &CancellationToken) -> Result<(), PackageError> {
    std::fs::create_dir_all(&dir).map_err(|source| PackageError::Io { operation: "creating", path: dir.clone(), source })?;
    let mut args = input_args;
    args.extend([
        "-f".to_owned(),
        "hls".to_owned(),
        "-hls_time".to_owned(),
        format!("{hls_time:.6}"),
        "-hls_playlist_type".to_owned(),
        "vod".to_owned(),
        "-hls_segment_type".to_owned(),
        "fmp4".to_owned(),
        "-hls_segment_options".to_owned(),
        SEGMENT_OPTIONS.to_owned(),
        "-hls_flags".to_owned(),
        "independent_segments".to_owned(),
        "-hls_fmp4_init_filename".to_owned(),
        "init.mp4".to_owned(),
        "-hls_segment_filename".to_owned(),
        dir.join("seg_%05d.m4s").display().to_string(),
        dir.join("playlist.m3u8").display().to_string(),
    ]);
    run_ffmpeg(args, what, cancel).await
}
