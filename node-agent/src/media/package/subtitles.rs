//! Text subtitle tracks as WebVTT renditions: each text track of the source (SRT, ASS,
//! mov_text, WebVTT…) is converted by ffmpeg to one `subtitles.vtt` whose cue times are on
//! the video's timeline (the source's times minus the video's start, as for audio), with an
//! `X-TIMESTAMP-MAP` tying cue time 0 to media time 0 (what HLS players use to place cues),
//! and a single-segment HLS playlist over it as long as the video. DASH names the same file
//! (`BaseURL`). Image subtitles (PGS, DVB, DVD) would need OCR: they are skipped, and the
//! result lists them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shotfarm_kernels::decode::input_pins::pinned_input;
use tokio_util::sync::CancellationToken;

use super::{PackageError, run_ffmpeg};
use super::hls::seconds_text;
use super::labels::unique_label;
use super::language_tags::bcp47;
use crate::media::tracks::SubtitleTrack;

/// The WebVTT file of each subtitle rendition.
pub const SUBTITLES_FILE: &str = "subtitles.vtt";

/// One packaged subtitle rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedSubtitles {
    /// Folder under the output root: `subtitles/s<N>` (N: the source's subtitle stream number).
    pub name: String,
    pub playlist: PathBuf,
    /// BCP 47 (`en`, not the container's `eng`).
    pub language: Option<String>,
    /// HLS `NAME`, DASH `Label`.
    pub label: String,
    pub default: bool,
    pub source_stream: u32,
    /// Its index among the source's subtitle streams (`0:s:N`).
    pub subtitle_index: u32,
    pub source_codec: String,
}

/// A subtitle stream that was not packaged, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedSubtitles {
    pub source_stream: u32,
    pub codec: String,
    pub reason: String,
}

/// The text tracks to convert (with their folders and labels) and the image ones skipped.
pub fn plan_subtitles(tracks: &[SubtitleTrack], output_dir: &Path) -> (Vec<PackagedSubtitles>, Vec<SkippedSubtitles>) {
    let mut packaged: Vec<PackagedSubtitles> = Vec::new();
    let mut skipped = Vec::new();
    for track in tracks {
        if !track.text {
            skipped.push(SkippedSubtitles {
                source_stream: track.stream_index,
                codec: track.codec.clone(),
                reason: "pictures, not text (would need OCR); add a text track of it to carry it".to_owned(),
            });
            continue;
        }
        let base = track.title.clone().or_else(|| track.language.clone()).unwrap_or_else(|| format!("Subtitles {}", track.subtitle_index + 1));
        let label = unique_label(&base, |candidate| packaged.iter().any(|earlier| earlier.label == candidate));
        let name = format!("subtitles/s{}", track.subtitle_index);
        packaged.push(PackagedSubtitles {
            playlist: output_dir.join(&name).join("playlist.m3u8"),
            name,
            language: track.language.as_deref().and_then(bcp47),
            label,
            default: track.default,
            source_stream: track.stream_index,
            subtitle_index: track.subtitle_index,
            source_codec: track.codec.clone(),
        });
    }
    (packaged, skipped)
}

/// `WEBVTT` text with the timestamp map after its first line.
fn with_timestamp_map(vtt: &str) -> String {
    let (first, rest) = vtt.split_once('\n').unwrap_or((vtt, ""));
    format!("{}\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n{rest}", first.trim_end())
}

/// The single-segment playlist over the WebVTT file.
fn playlist_text(duration_micros: u64) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:{},\n{SUBTITLES_FILE}\n#EXT-X-ENDLIST\n",
        duration_micros.div_ceil(1_000_000).max(1),
        seconds_text(duration_micros)
    )
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PackageError {
    let path = path.to_owned();
    move |source| PackageError::Io { operation, path, source }
}

/// Converts the source's subtitle stream of `subtitles` to WebVTT on the video's timeline.
pub async fn convert_subtitles(source: &Path, subtitles: &PackagedSubtitles, video_start_seconds: f64, output_dir: &Path, cancel: &CancellationToken) -> Result<(), PackageError> {
    let dir = output_dir.join(&subtitles.name);
    let io = io_error;
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    let vtt = dir.join(SUBTITLES_FILE);
    let mut args: Vec<String> = ["-copyts", "-itsoffset"].map(String::from).to_vec();
    args.push(format!("{:.6}", -video_start_seconds));
    args.extend(pinned_input(source));
    args.extend(["-map".to_owned(), format!("0:s:{}", subtitles.subtitle_index), "-c:s".to_owned(), "webvtt".to_owned(), "-f".to_owned(), "webvtt".to_owned()]);
    args.push(vtt.display().to_string());
    run_ffmpeg(args, format!("subtitle stream {} to WebVTT", subtitles.source_stream), cancel).await?;
    let text = std::fs::read_to_string(&vtt).map_err(io("reading", &vtt))?;
    std::fs::write(&vtt, with_timestamp_map(&text)).map_err(io("writing", &vtt))
}

/// Writes the playlist of `subtitles`: one segment as long as the video.
pub fn write_subtitles_playlist(subtitles: &PackagedSubtitles, duration_micros: u64) -> Result<(), PackageError> {
    std::fs::write(&subtitles.playlist, playlist_text(duration_micros)).map_err(io_error("writing", &subtitles.playlist))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(subtitle_index: u32, codec: &str, language: Option<&str>, text: bool) -> SubtitleTrack {
        SubtitleTrack { stream_index: subtitle_index + 2, subtitle_index, codec: codec.to_owned(), language: language.map(str::to_owned), title: None, default: false, text }
    }

    #[test]
    fn text_tracks_are_planned_and_pictures_skipped() {
        let tracks = [track(0, "subrip", Some("eng"), true), track(1, "hdmv_pgs_subtitle", Some("eng"), false), track(2, "ass", Some("eng"), true), track(3, "mov_text", None, true)];
        let (packaged, skipped) = plan_subtitles(&tracks, Path::new("/out"));
        let summary: Vec<(&str, &str)> = packaged.iter().map(|subtitles| (subtitles.name.as_str(), subtitles.label.as_str())).collect();
        assert_eq!(summary, vec![("subtitles/s0", "eng"), ("subtitles/s2", "eng 2"), ("subtitles/s3", "Subtitles 4")]);
        assert_eq!(packaged[0].playlist, Path::new("/out/subtitles/s0/playlist.m3u8"));
        assert_eq!(skipped.len(), 1);
        assert_eq!((skipped[0].source_stream, skipped[0].codec.as_str()), (3, "hdmv_pgs_subtitle"));
    }

    #[test]
    fn the_webvtt_file_maps_cue_time_zero_to_media_time_zero() {
        assert_eq!(with_timestamp_map("WEBVTT\n\n00:00.500 --> 00:01.500\nHello\n"), "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n00:00.500 --> 00:01.500\nHello\n");
        assert_eq!(playlist_text(4_000_000), "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.000000,\nsubtitles.vtt\n#EXT-X-ENDLIST\n");
    }
}
