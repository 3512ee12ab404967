//! Text subtitle tracks as WebVTT renditions. The subtitles task converts each text track of
//! the source (SRT, ASS, mov_text, WebVTT…) with ffmpeg to one WebVTT file whose cue times are
//! on the video's timeline (the source's times minus the video's start, as for audio), with an
//! `X-TIMESTAMP-MAP` tying cue time 0 to media time 0 (what HLS players use to place cues)
//! ([`convert_subtitle_files`]). Packaging publishes each as `<media>/subtitles/s<N>/subtitles.vtt`
//! with a single-segment HLS playlist over it as long as the video ([`place_subtitles`]); DASH
//! names the same file (`BaseURL`). Image subtitles (PGS, DVB, DVD) would need OCR: they are
//! not converted, and inspection warns of each.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shotfarm_kernels::decode::input_pins::pinned_input;
use shotfarm_proto::pipeline::SubtitleRenditionFacts;
use tokio_util::sync::CancellationToken;

use super::{PackageError, run_ffmpeg, video_start_seconds};
use super::hls::seconds_text;
use super::labels::unique_label;
use super::language_tags::bcp47;
use crate::media::probe::probe_file;
use crate::media::tracks::{SubtitleTrack, subtitle_tracks};

/// The WebVTT file of each subtitle rendition.
pub const SUBTITLES_FILE: &str = "subtitles.vtt";

/// One subtitle rendition converted: its WebVTT file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleFile {
    pub facts: SubtitleRenditionFacts,
    pub path: PathBuf,
}

/// One packaged subtitle rendition: what players are told of it, and its playlist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedSubtitles {
    #[serde(flatten)]
    pub rendition: SubtitleRenditionFacts,
    pub playlist: PathBuf,
}

/// The renditions the text tracks become, with their folders and labels; the first track the
/// source marks default is the default one (HLS allows one per group).
pub fn plan_subtitles(tracks: &[SubtitleTrack]) -> Vec<SubtitleRenditionFacts> {
    let mut planned: Vec<SubtitleRenditionFacts> = Vec::new();
    for track in tracks.iter().filter(|track| track.text) {
        let base = track.title.clone().or_else(|| track.language.clone()).unwrap_or_else(|| format!("Subtitles {}", track.subtitle_index + 1));
        let label = unique_label(&base, |candidate| planned.iter().any(|earlier| earlier.label == candidate));
        let default = track.default && !planned.iter().any(|earlier| earlier.default);
        planned.push(SubtitleRenditionFacts {
            name: format!("subtitles/s{}", track.subtitle_index),
            language: track.language.as_deref().and_then(bcp47),
            label,
            default,
            source_stream: track.stream_index,
            subtitle_index: track.subtitle_index,
            source_codec: track.codec.clone(),
        });
    }
    planned
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

/// Converts every text subtitle track of `source` ([`plan_subtitles`]) to a WebVTT file on the
/// video's timeline under `dir`, all in one ffmpeg run (one read of the source, one process
/// start); none when it has no text track.
pub async fn convert_subtitle_files(source: &Path, dir: &Path, cancel: &CancellationToken) -> Result<Vec<SubtitleFile>, PackageError> {
    let probe = probe_file(source, false, cancel).await?;
    let renditions = plan_subtitles(&subtitle_tracks(&probe));
    if renditions.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(dir).map_err(io_error("creating", dir))?;
    let mut args: Vec<String> = ["-copyts", "-itsoffset"].map(String::from).to_vec();
    args.push(format!("{:.6}", -video_start_seconds(&probe)));
    args.extend(pinned_input(source));
    // `subtitles/s2` → `subtitles_s2.vtt`: one folder for every file.
    let files: Vec<SubtitleFile> = renditions.into_iter().map(|facts| SubtitleFile { path: dir.join(format!("{}.vtt", facts.name.replace('/', "_"))), facts }).collect();
    for file in &files {
        args.extend(["-map".to_owned(), format!("0:s:{}", file.facts.subtitle_index), "-c:s".to_owned(), "webvtt".to_owned(), "-f".to_owned(), "webvtt".to_owned()]);
        args.push(file.path.display().to_string());
    }
    let streams: Vec<String> = files.iter().map(|file| file.facts.source_stream.to_string()).collect();
    run_ffmpeg(args, format!("subtitle streams {} to WebVTT", streams.join(", ")), cancel).await?;
    for SubtitleFile { facts, path } in &files {
        let text = std::fs::read_to_string(path).map_err(io_error("reading", path))?;
        // A track without a cue may come back as no file content at all: an empty WebVTT file.
        let text = with_timestamp_map(if text.trim().is_empty() { "WEBVTT\n" } else { &text });
        if !is_webvtt(&text) {
            let message = format!("ffmpeg wrote no WebVTT for it (its first line is {:?})", text.lines().next().unwrap_or_default());
            return Err(PackageError::Playlist { rung: facts.name.clone(), message });
        }
        std::fs::write(path, text).map_err(io_error("writing", path))?;
    }
    Ok(files)
}

/// Whether `text` reads as a WebVTT file: its first line the `WEBVTT` signature (alone, or
/// followed by a space or a tab and a header), and no NUL anywhere.
fn is_webvtt(text: &str) -> bool {
    let first = text.strip_prefix('\u{feff}').unwrap_or(text).lines().next().unwrap_or_default();
    let signed = first.strip_prefix("WEBVTT").is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    signed && !text.contains('\0')
}

/// Publishes the converted `file` under `media_dir` (`<name>/subtitles.vtt`) with its playlist:
/// one segment as long as the video (`duration_micros`). A file that is not UTF-8 WebVTT is
/// refused.
pub fn place_subtitles(file: &SubtitleFile, media_dir: &Path, duration_micros: u64) -> Result<PackagedSubtitles, PackageError> {
    let facts = &file.facts;
    let text = std::fs::read(&file.path).map_err(io_error("reading", &file.path))?;
    if !std::str::from_utf8(&text).is_ok_and(is_webvtt) {
        let message = "its file is not UTF-8 WebVTT (a first line of WEBVTT, no NUL); the subtitles task converts the source's track to WebVTT".to_owned();
        return Err(PackageError::Playlist { rung: facts.name.clone(), message });
    }
    let dir = media_dir.join(&facts.name);
    std::fs::create_dir_all(&dir).map_err(io_error("creating", &dir))?;
    let vtt = dir.join(SUBTITLES_FILE);
    std::fs::write(&vtt, &text).map_err(io_error("writing", &vtt))?;
    let playlist = dir.join("playlist.m3u8");
    std::fs::write(&playlist, playlist_text(duration_micros)).map_err(io_error("writing", &playlist))?;
    Ok(PackagedSubtitles { rendition: facts.clone(), playlist })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(subtitle_index: u32, codec: &str, language: Option<&str>, text: bool) -> SubtitleTrack {
        SubtitleTrack { stream_index: subtitle_index + 2, subtitle_index, codec: codec.to_owned(), language: language.map(str::to_owned), title: None, default: false, text }
    }

    #[test]
    fn text_tracks_are_planned_and_pictures_left_out() {
        let tracks = [track(0, "subrip", Some("eng"), true), track(1, "hdmv_pgs_subtitle", Some("eng"), false), track(2, "ass", Some("eng"), true), track(3, "mov_text", None, true)];
        let planned = plan_subtitles(&tracks);
        let summary: Vec<(&str, &str)> = planned.iter().map(|facts| (facts.name.as_str(), facts.label.as_str())).collect();
        assert_eq!(summary, vec![("subtitles/s0", "eng"), ("subtitles/s2", "eng 2"), ("subtitles/s3", "Subtitles 4")]);
        assert_eq!((planned[0].language.as_deref(), planned[0].source_stream, planned[0].source_codec.as_str()), (Some("en"), 2, "subrip"));
    }

    #[test]
    fn only_the_first_track_marked_default_is_the_default_rendition() {
        let mut tracks = [track(0, "subrip", Some("eng"), true), track(1, "subrip", Some("fra"), true), track(2, "subrip", Some("deu"), true)];
        tracks[1].default = true;
        tracks[2].default = true;
        let defaults: Vec<bool> = plan_subtitles(&tracks).iter().map(|facts| facts.default).collect();
        assert_eq!(defaults, vec![false, true, false]);
    }

    #[test]
    fn only_webvtt_text_is_published() {
        for good in ["WEBVTT\n\n00:00.500 --> 00:01.500\nHello\n", "WEBVTT", "\u{feff}WEBVTT - a header\n", "WEBVTT\tx\r\n"] {
            assert!(is_webvtt(good), "{good:?}");
        }
        for bad in ["", "WEBVTTX\n", "1\n00:00:00,500 --> 00:00:01,500\nHello\n", "WEBVTT\n\0", "<html>WEBVTT"] {
            assert!(!is_webvtt(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_webvtt_file_maps_cue_time_zero_to_media_time_zero() {
        assert_eq!(with_timestamp_map("WEBVTT\n\n00:00.500 --> 00:01.500\nHello\n"), "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n00:00.500 --> 00:01.500\nHello\n");
        assert_eq!(playlist_text(4_000_000), "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:4.000000,\nsubtitles.vtt\n#EXT-X-ENDLIST\n");
    }
}
