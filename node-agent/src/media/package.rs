//! Packaging: HLS with CMAF (fMP4) segments and a DASH MPD over the very same segments, plus
//! an AAC audio rendition encoded once from the whole source.
//!
//! Layout under the output dir:
//! ```text
//! master.m3u8            HLS master playlist
//! manifest.mpd           DASH manifest (SegmentTemplate + SegmentTimeline over the same files)
//! <rung>/playlist.m3u8   media playlist; <rung>/init.mp4; <rung>/seg_00000.m4s …
//! audio/playlist.m3u8    when the source has audio
//! ```
//! Alignment: every rung has keyframes at the same frame indices (chunk starts and every
//! keyframe interval within a chunk, see [`super::encode`]), and the segmenter cuts at every
//! keyframe (its target duration is set below one frame), so segment `k` covers the same
//! frames in every rung. Packaging checks that and fails if the segment lists differ.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::decode::input_pins::pinned_input;
use tokio_util::sync::CancellationToken;

use shotfarm_proto::pipeline::{Codec, Rung};
use super::probe::Rational;
use super::process::{Tool, ToolCommand, ToolError, ToolProgress, run_with_progress};

/// One validated rendition to package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRendition {
    pub rung: Rung,
    /// The assembled mp4.
    pub path: PathBuf,
}

/// The audio rendition to make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioPackaging {
    /// The source; its first audio stream (the one inspection reports) is encoded.
    pub source: PathBuf,
    pub bitrate_kbps: u32,
    /// The audio segments' length: the video's keyframe interval.
    pub segment_seconds: f64,
}

/// What to package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageParams {
    pub output_dir: PathBuf,
    pub renditions: Vec<PackageRendition>,
    pub frame_rate: Rational,
    /// Total frames of every rendition (the source's decoded frame count).
    pub frames: u64,
    pub audio: Option<AudioPackaging>,
}

/// One media playlist's facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedRendition {
    pub name: String,
    pub playlist: PathBuf,
    pub codecs: String,
    pub segments: usize,
    pub duration_seconds: f64,
    /// Peak segment bitrate (HLS BANDWIDTH, before adding audio).
    pub peak_bitrate_bps: u64,
    /// Average bitrate (HLS AVERAGE-BANDWIDTH, before adding audio).
    pub average_bitrate_bps: u64,
}

/// What packaging produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageResult {
    pub master_playlist: PathBuf,
    pub dash_manifest: PathBuf,
    pub renditions: Vec<PackagedRendition>,
    pub audio: Option<PackagedRendition>,
    /// Audio duration minus video duration, after fitting (seconds).
    pub audio_video_offset_seconds: Option<f64>,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("nothing to package; pass at least one validated rendition")]
    NoRenditions,
    #[error("packaging cancelled")]
    Cancelled,
    #[error("packaging {what}: {source}")]
    Tool { what: String, source: ToolError },
    #[error("{operation} {path}: {source}")]
    Io { operation: &'static str, path: PathBuf, source: std::io::Error },
    #[error("rendition {rung}: {message}")]
    Playlist { rung: String, message: String },
    #[error("segments are not aligned: rendition {rung} has segment durations {found:?}; {reference} has {expected:?}")]
    Misaligned { rung: String, reference: String, found: Vec<f64>, expected: Vec<f64> },
    #[error("audio lasts {audio:.3}s but the video {video:.3}s; they must match within {tolerance:.3}s")]
    AudioDuration { audio: f64, video: f64, tolerance: f64 },
}

/// A media playlist, read back.
#[derive(Debug, Clone, PartialEq)]
struct MediaPlaylist {
    segments: Vec<(String, f64)>,
}

fn parse_media_playlist(text: &str) -> MediaPlaylist {
    let mut segments = Vec::new();
    let mut pending: Option<f64> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            pending = rest.split(',').next().and_then(|value| value.parse().ok());
        } else if !line.is_empty() && !line.starts_with('#')
            && let Some(duration) = pending.take() {
                segments.push((line.to_owned(), duration));
            }
    }
    MediaPlaylist { segments }
}

/// The RFC 6381 codec string from an fMP4 init segment's sample entry.
pub fn codec_string(init: &[u8], codec: Codec) -> Option<String> {
    let find = |tag: &[u8]| init.windows(4).position(|window| window == tag).map(|position| position + 4);
    match codec {
        Codec::H264 => {
            let at = find(b"avcC")?;
            let bytes = init.get(at..at + 4)?;
            Some(format!("avc1.{:02x}{:02x}{:02x}", bytes[1], bytes[2], bytes[3]))
        }
        Codec::Hevc => {
            let at = find(b"hvcC")?;
            let bytes = init.get(at..at + 13)?;
            let profile_space = ["", "A", "B", "C"][usize::from(bytes[1] >> 6)];
            let tier = if bytes[1] & 0x20 != 0 { 'H' } else { 'L' };
            let profile = bytes[1] & 0x1f;
            let compatibility = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]).reverse_bits();
            let mut constraints: Vec<u8> = bytes[6..12].to_vec();
            while constraints.last() == Some(&0) {
                constraints.pop();
            }
            let mut text = format!("hvc1.{profile_space}{profile}.{compatibility:X}.{tier}{}", bytes[12]);
            for byte in constraints {
                let _ = write!(text, ".{byte:X}");
            }
            Some(text)
        }
        Codec::Av1 => {
            let at = find(b"av1C")?;
            let bytes = init.get(at..at + 3)?;
            let profile = bytes[1] >> 5;
            let level = bytes[1] & 0x1f;
            let tier = if bytes[2] & 0x80 != 0 { 'H' } else { 'M' };
            let depth = if bytes[2] & 0x40 != 0 { if bytes[2] & 0x20 != 0 { 12 } else { 10 } } else { 8 };
            Some(format!("av01.{profile}.{level:02}{tier}.{depth:02}"))
        }
    }
}

const AUDIO_CODECS: &str = "mp4a.40.2";

async fn segment(input_args: Vec<String>, dir: PathBuf, hls_time: f64, what: String, cancel: &CancellationToken) -> Result<(), PackageError> {
    std::fs::create_dir_all(&dir).map_err(|source| PackageError::Io { operation: "creating", path: dir.clone(), source })?;
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-y", "-progress", "pipe:1"].map(String::from).to_vec();
    args.extend(input_args);
    args.extend([
        "-f".to_owned(),
        "hls".to_owned(),
        "-hls_time".to_owned(),
        format!("{hls_time:.6}"),
        "-hls_playlist_type".to_owned(),
        "vod".to_owned(),
        "-hls_segment_type".to_owned(),
        "fmp4".to_owned(),
        "-hls_flags".to_owned(),
        "independent_segments".to_owned(),
        "-hls_fmp4_init_filename".to_owned(),
        "init.mp4".to_owned(),
        "-hls_segment_filename".to_owned(),
        dir.join("seg_%05d.m4s").display().to_string(),
        dir.join("playlist.m3u8").display().to_string(),
    ]);
    let command = ToolCommand::new(Tool::Ffmpeg).args(args);
    run_with_progress(&command, cancel, &mut |_: ToolProgress| {}).await.map(|_| ()).map_err(|error| match error {
        ToolError::Cancelled { .. } => PackageError::Cancelled,
        source => PackageError::Tool { what, source },
    })
}

fn read_playlist(dir: &Path, name: &str) -> Result<(MediaPlaylist, u64, u64), PackageError> {
    let path = dir.join("playlist.m3u8");
    let text = std::fs::read_to_string(&path).map_err(|source| PackageError::Io { operation: "reading", path: path.clone(), source })?;
    let playlist = parse_media_playlist(&text);
    if playlist.segments.is_empty() {
        return Err(PackageError::Playlist { rung: name.to_owned(), message: "the segmenter wrote no segments".to_owned() });
    }
    let mut total_bytes = 0u64;
    let mut peak = 0u64;
    for (file, duration) in &playlist.segments {
        let segment_path = dir.join(file);
        let bytes = std::fs::metadata(&segment_path).map_err(|source| PackageError::Io { operation: "reading", path: segment_path, source })?.len();
        total_bytes += bytes;
        if *duration > 0.0 {
            peak = peak.max((bytes as f64 * 8.0 / duration) as u64);
        }
    }
    Ok((playlist, total_bytes, peak))
}

/// Packages `params.renditions` (and audio) under `params.output_dir`; see the module docs.
pub async fn package_ladder(params: &PackageParams, cancel: &CancellationToken) -> Result<PackageResult, PackageError> {
    let started = Instant::now();
    if params.renditions.is_empty() {
        return Err(PackageError::NoRenditions);
    }
    let frame_duration = f64::from(params.frame_rate.den) / f64::from(params.frame_rate.num);
    let video_duration = params.frames as f64 * frame_duration;
    let mut packaged = Vec::new();
    let mut timelines: Vec<Vec<u64>> = Vec::new();
    let mut reference: Option<(String, Vec<u64>, Vec<f64>)> = None;
    // Every rendition is segmented at once (stream copies: each is mostly process start and
    // file writes) while the audio is encoded, then each is checked in ladder order.
    let videos = futures::future::try_join_all(params.renditions.iter().map(|rendition| {
        let name = &rendition.rung.name;
        let input = vec!["-i".to_owned(), rendition.path.display().to_string(), "-map".to_owned(), "0:v:0".to_owned(), "-c".to_owned(), "copy".to_owned()];
        segment(input, params.output_dir.join(name), frame_duration * 0.5, format!("rendition {name}"), cancel)
    }));
    let audio_dir = params.output_dir.join("audio");
    let audio = async {
        let Some(audio) = &params.audio else { return Ok(()) };
        // Fitted to the video's duration: padded with silence or trimmed.
        let mut input = pinned_input(&audio.source);
        input.extend([
            "-map".to_owned(),
            "0:a:0".to_owned(),
            "-vn".to_owned(),
            "-af".to_owned(),
            "apad".to_owned(),
            "-t".to_owned(),
            format!("{video_duration:.6}"),
            "-c:a".to_owned(),
            "aac".to_owned(),
            "-b:a".to_owned(),
            format!("{}k", audio.bitrate_kbps),
        ]);
        segment(input, audio_dir.clone(), audio.segment_seconds.max(frame_duration), "the audio rendition".to_owned(), cancel).await
    };
    tokio::try_join!(videos, audio)?;
    for rendition in &params.renditions {
        let name = rendition.rung.name.clone();
        let dir = params.output_dir.join(&name);
        let (playlist, total_bytes, peak) = read_playlist(&dir, &name)?;
        let frames_per_segment: Vec<u64> = playlist.segments.iter().map(|(_, duration)| (duration / frame_duration).round() as u64).collect();
        let durations: Vec<f64> = playlist.segments.iter().map(|(_, duration)| *duration).collect();
        match &reference {
            None => reference = Some((name.clone(), frames_per_segment.clone(), durations.clone())),
            Some((reference_name, expected, expected_durations)) if *expected != frames_per_segment => {
                return Err(PackageError::Misaligned { rung: name, reference: reference_name.clone(), found: durations, expected: expected_durations.clone() });
            }
            Some(_) => {}
        }
        let init_path = dir.join("init.mp4");
        let init = std::fs::read(&init_path).map_err(|source| PackageError::Io { operation: "reading", path: init_path, source })?;
        let codecs = codec_string(&init, rendition.rung.codec)
            .ok_or_else(|| PackageError::Playlist { rung: name.clone(), message: "the init segment has no codec configuration box".to_owned() })?;
        let duration_seconds: f64 = durations.iter().sum();
        packaged.push(PackagedRendition {
            name: name.clone(),
            playlist: dir.join("playlist.m3u8"),
            codecs,
            segments: playlist.segments.len(),
            duration_seconds,
            peak_bitrate_bps: peak,
            average_bitrate_bps: if duration_seconds > 0.0 { (total_bytes as f64 * 8.0 / duration_seconds) as u64 } else { 0 },
        });
        timelines.push(frames_per_segment);
    }

    let mut audio_result = None;
    let mut audio_timeline = None;
    let mut offset = None;
    if params.audio.is_some() {
        let dir = audio_dir;
        let (playlist, total_bytes, peak) = read_playlist(&dir, "audio")?;
        let duration_seconds: f64 = playlist.segments.iter().map(|(_, duration)| duration).sum();
        // One AAC frame (1024 samples) at 8 kHz is 0.128 s; the usual is 0.021 s.
        let tolerance = 0.13f64.max(frame_duration);
        if (duration_seconds - video_duration).abs() > tolerance {
            return Err(PackageError::AudioDuration { audio: duration_seconds, video: video_duration, tolerance });
        }
        offset = Some(duration_seconds - video_duration);
        audio_timeline = Some(playlist.segments.iter().map(|(_, duration)| *duration).collect::<Vec<f64>>());
        audio_result = Some(PackagedRendition {
            name: "audio".to_owned(),
            playlist: dir.join("playlist.m3u8"),
            codecs: AUDIO_CODECS.to_owned(),
            segments: playlist.segments.len(),
            duration_seconds,
            peak_bitrate_bps: peak,
            average_bitrate_bps: if duration_seconds > 0.0 { (total_bytes as f64 * 8.0 / duration_seconds) as u64 } else { 0 },
        });
    }

    let master_playlist = params.output_dir.join("master.m3u8");
    let master = master_playlist_text(params, &packaged, audio_result.as_ref());
    std::fs::write(&master_playlist, master).map_err(|source| PackageError::Io { operation: "writing", path: master_playlist.clone(), source })?;
    let dash_manifest = params.output_dir.join("manifest.mpd");
    let mpd = dash_manifest_text(params, &packaged, &timelines, audio_result.as_ref(), audio_timeline.as_deref(), video_duration);
    std::fs::write(&dash_manifest, mpd).map_err(|source| PackageError::Io { operation: "writing", path: dash_manifest.clone(), source })?;
    let result = PackageResult { master_playlist, dash_manifest, renditions: packaged, audio: audio_result, audio_video_offset_seconds: offset, seconds: started.elapsed().as_secs_f64() };
    tracing::info!(renditions = result.renditions.len(), audio = result.audio.is_some(), seconds = result.seconds, "ladder packaged");
    Ok(result)
}

fn master_playlist_text(params: &PackageParams, renditions: &[PackagedRendition], audio: Option<&PackagedRendition>) -> String {
    let mut text = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if let Some(audio) = audio {
        let _ = writeln!(text, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\",DEFAULT=YES,AUTOSELECT=YES,URI=\"audio/playlist.m3u8\"");
        let _ = audio;
    }
    let frame_rate = params.frame_rate.as_f64();
    let mut order: Vec<(&PackagedRendition, &PackageRendition)> = renditions.iter().zip(&params.renditions).collect();
    order.sort_by_key(|(packaged, _)| std::cmp::Reverse(packaged.peak_bitrate_bps));
    for (packaged, rendition) in order {
        let audio_peak = audio.map_or(0, |audio| audio.peak_bitrate_bps);
        let audio_average = audio.map_or(0, |audio| audio.average_bitrate_bps);
        let codecs = match audio {
            Some(_) => format!("{},{AUDIO_CODECS}", packaged.codecs),
            None => packaged.codecs.clone(),
        };
        let _ = write!(
            text,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{codecs}\",FRAME-RATE={frame_rate:.3}",
            packaged.peak_bitrate_bps + audio_peak,
            packaged.average_bitrate_bps + audio_average,
            rendition.rung.width,
            rendition.rung.height,
        );
        if audio.is_some() {
            text.push_str(",AUDIO=\"audio\"");
        }
        let _ = writeln!(text, "\n{}/playlist.m3u8", packaged.name);
    }
    text
}

fn timeline_xml(durations: &[u64]) -> String {
    let mut xml = String::from("<SegmentTimeline>");
    let mut index = 0;
    let mut start = 0u64;
    while index < durations.len() {
        let duration = durations[index];
        let mut repeat = 0;
        while index + repeat + 1 < durations.len() && durations[index + repeat + 1] == duration {
            repeat += 1;
        }
        let _ = write!(xml, "<S t=\"{start}\" d=\"{duration}\"");
        if repeat > 0 {
            let _ = write!(xml, " r=\"{repeat}\"");
        }
        xml.push_str("/>");
        start += duration * (repeat as u64 + 1);
        index += repeat + 1;
    }
    xml.push_str("</SegmentTimeline>");
    xml
}

fn dash_manifest_text(
    params: &PackageParams,
    renditions: &[PackagedRendition],
    timelines: &[Vec<u64>],
    audio: Option<&PackagedRendition>,
    audio_durations: Option<&[f64]>,
    duration: f64,
) -> String {
    let rate = params.frame_rate;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" profiles=\"urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019\" type=\"static\" mediaPresentationDuration=\"PT{duration:.3}S\" minBufferTime=\"PT2S\">"
    );
    xml.push_str("  <Period id=\"0\" start=\"PT0S\">\n");
    let _ = writeln!(
        xml,
        "    <AdaptationSet id=\"0\" contentType=\"video\" mimeType=\"video/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\" frameRate=\"{}/{}\">",
        rate.num, rate.den
    );
    for ((packaged, rendition), frames) in renditions.iter().zip(&params.renditions).zip(timelines) {
        let ticks: Vec<u64> = frames.iter().map(|frames| frames * u64::from(rate.den)).collect();
        let _ = writeln!(
            xml,
            "      <Representation id=\"{name}\" bandwidth=\"{bandwidth}\" width=\"{w}\" height=\"{h}\" codecs=\"{codecs}\">\n        <SegmentTemplate timescale=\"{timescale}\" initialization=\"{name}/init.mp4\" media=\"{name}/seg_$Number%05d$.m4s\" startNumber=\"0\">{timeline}</SegmentTemplate>\n      </Representation>",
            name = packaged.name,
            bandwidth = packaged.peak_bitrate_bps,
            w = rendition.rung.width,
            h = rendition.rung.height,
            codecs = packaged.codecs,
            timescale = rate.num,
            timeline = timeline_xml(&ticks),
        );
    }
    xml.push_str("    </AdaptationSet>\n");
    if let (Some(audio), Some(durations)) = (audio, audio_durations) {
        // Milliseconds: the segmenter reports audio durations to the microsecond, but players
        // only need the timeline to add up.
        let ticks: Vec<u64> = durations.iter().map(|seconds| (seconds * 1000.0).round() as u64).collect();
        let _ = writeln!(
            xml,
            "    <AdaptationSet id=\"1\" contentType=\"audio\" mimeType=\"audio/mp4\" segmentAlignment=\"true\" startWithSAP=\"1\">\n      <Representation id=\"audio\" bandwidth=\"{}\" codecs=\"{}\">\n        <SegmentTemplate timescale=\"1000\" initialization=\"audio/init.mp4\" media=\"audio/seg_$Number%05d$.m4s\" startNumber=\"0\">{}</SegmentTemplate>\n      </Representation>\n    </AdaptationSet>",
            audio.peak_bitrate_bps,
            audio.codecs,
            timeline_xml(&ticks)
        );
    }
    xml.push_str("  </Period>\n</MPD>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_are_parsed() {
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.000000,\nseg_00000.m4s\n#EXTINF:1.040000,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
        assert_eq!(parse_media_playlist(text).segments, vec![("seg_00000.m4s".to_owned(), 2.0), ("seg_00001.m4s".to_owned(), 1.04)]);
    }

    #[test]
    fn timelines_compress_repeats() {
        assert_eq!(timeline_xml(&[50, 50, 50, 20, 50]), "<SegmentTimeline><S t=\"0\" d=\"50\" r=\"2\"/><S t=\"150\" d=\"20\"/><S t=\"170\" d=\"50\"/></SegmentTimeline>");
    }

    #[test]
    fn codec_strings_come_from_the_init_segment() {
        let avc = [b"xxxxavcC".as_slice(), &[1, 0x64, 0x00, 0x1f, 0xff]].concat();
        assert_eq!(codec_string(&avc, Codec::H264).as_deref(), Some("avc1.64001f"));
        let hevc = [b"hvcC".as_slice(), &[1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93]].concat();
        assert_eq!(codec_string(&hevc, Codec::Hevc).as_deref(), Some("hvc1.1.6.L93.90"));
        let av1 = [b"av1C".as_slice(), &[0x81, 0x08, 0x0c]].concat();
        assert_eq!(codec_string(&av1, Codec::Av1).as_deref(), Some("av01.0.08M.08"));
        assert_eq!(codec_string(b"nothing", Codec::H264), None);
    }
}
