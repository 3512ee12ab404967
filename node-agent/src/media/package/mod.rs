//! Packaging: HLS with CMAF (fMP4) segments and a DASH MPD over the very same segments, the
//! video's and the audio's: each audio rendition comes encoded whole (AAC, [`audio_files`]: the
//! audio task's work, beside the video's stages) and is cut into segments here by stream copy;
//! each text subtitle track comes converted to WebVTT ([`subtitles`]: the subtitles task's
//! work). Packaging never reads the source.
//!
//! Layout under the output dir (`<media>`: [`PackageParams::media_folder`], the manifests name
//! every file through it with relative URIs):
//! ```text
//! master.m3u8                    HLS master playlist
//! manifest.mpd                   DASH manifest (SegmentTemplate + SegmentTimeline over the same files)
//! <media>/<rung>/playlist.m3u8   media playlist; <rung>/init.mp4; <rung>/seg_00000.m4s …
//! <media>/<rung>/iframes.m3u8    I-frame playlist: byte ranges of each segment's keyframe
//! <media>/<rung>/trick_00000.m4s … DASH trick-mode segments: each segment's keyframe alone (renditions ≤ 720 lines)
//! <media>/audio/a<N>/…           one AAC rendition per source audio track (N: its audio stream number)
//! <media>/audio/a<N>-stereo/…    a stereo downmix of the default track when it has more channels
//! <media>/subtitles/s<N>/…       one WebVTT rendition per text subtitle track: subtitles.vtt, playlist.m3u8
//! <media>/thumbnails/…           sprite sheets sheet_00000.jpg …, thumbnails.vtt, images.m3u8, poster.jpg
//! ```
//!
//! | module | what it does |
//! | --- | --- |
//! | [`segmenter`] | ffmpeg's HLS muxer into CMAF segments: no edit list, signed composition offsets |
//! | [`audio`] | the AAC encode fitted to the video: sync, encoder priming, whole frames within the video |
//! | [`audio_renditions`] | which renditions the audio tracks become: labels, channels, default, downmix |
//! | [`audio_files`] | every audio rendition of a source encoded whole, each to an MP4 that packaging segments |
//! | [`fragments`] | a track's timing read from its boxes (timescale, edit list, `tfdt`, `trun`) |
//! | [`hls`] | media playlists with the boxes' durations; I-frame playlists; the master playlist |
//! | [`iframes`] | each video segment's keyframe as a byte range (moof, mdat header, keyframe) |
//! | [`trick_mode`] | DASH trick-mode segments: each segment's keyframe as a one-sample fragment of its own |
//! | [`thumbnails`] | JPEG sprite sheets every N seconds, their WebVTT track and HLS image playlist |
//! | [`poster`] | the poster: a chosen time's frame, or the middle of the longest shot |
//! | [`subtitles`] | text subtitle tracks converted to WebVTT on the video's timeline, and published with a playlist |
//! | [`labels`] | unique names players list for renditions |
//! | [`language_tags`] | container language codes as the BCP 47 tags players expect |
//! | [`dash`] | the MPD, its timelines from the boxes |
//! | [`codec_string`] | RFC 6381 codec strings from init segments |
//! | [`encryption`] | Common Encryption (`cbcs`, `cenc`) of the written tracks, and how the manifests signal it |
//! | [`declared_colour`] | a rendition's colour from its init segment: HLS `VIDEO-RANGE`, DASH CICP descriptors |
//!
//! Alignment: every rung has keyframes at the same frame indices (chunk starts and every
//! keyframe interval within a chunk, see [`super::encode`]), and the segmenter cuts at every
//! keyframe (its target duration is set below one frame), so segment `k` holds the same
//! frames in every rung. Packaging checks that from the boxes and fails if the segments
//! differ. It also checks, from the boxes, what players need: each track's first sample is
//! presented at 0 with no edit list, segments follow each other without gaps, every rendition
//! holds exactly the source's frames, and the audio ends within one AAC frame before the video.

pub mod audio;
pub mod audio_files;
pub mod audio_renditions;
pub mod codec_string;
mod dash;
pub mod declared_colour;
pub mod encryption;
pub mod fragments;
mod hls;
pub mod iframes;
pub(crate) mod labels;
pub(crate) mod language_tags;
pub mod poster;
mod segmenter;
pub mod subtitles;
pub mod thumbnails;
pub mod trick_mode;

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use shotfarm_proto::pipeline::Rung;
use shotfarm_proto::thumbnails::{ThumbnailOptions, ThumbnailOptionsError};
use self::audio::AAC_FRAME_SAMPLES;
use self::audio_files::AudioFile;
use self::codec_string::{AAC_LC, codec_string};
use self::dash::{DashVideo, dash_manifest_text};
use self::declared_colour::DeclaredColour;
use self::encryption::{ContentProtection, ProtectionSummary, TrackType, hls_key_lines, protect_track};
use self::fragments::TrackTiming;
use self::iframes::{PackagedIFrames, write_iframe_playlist};
use self::hls::{master_playlist_text, media_playlist_text, micros, segment_files, segment_starts};
use self::segmenter::{segment, stream_copy};
use self::poster::write_poster;
use self::thumbnails::{PackagedThumbnails, TilePlan, write_sprites};
use self::trick_mode::{PackagedTrickMode, read_trick_mode, trick_mode_rungs, write_trick_segments};
use self::subtitles::{PackagedSubtitles, SubtitleFile, place_subtitles};
use super::probe::{ProbeError, ProbeOutput, Rational, parse_number};

/// One validated rendition to package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRendition {
    pub rung: Rung,
    /// The assembled mp4.
    pub path: PathBuf,
}

/// The audio renditions to package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioPackaging {
    /// Every rendition, encoded whole ([`audio_files`]), in the order players list them.
    pub files: Vec<AudioFile>,
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
    /// Every text subtitle rendition, converted to WebVTT ([`subtitles`]), in the order
    /// players list them.
    #[serde(default)]
    pub subtitles: Vec<SubtitleFile>,
    /// The folder under `output_dir` (plain names, `/`-separated) that every media file goes
    /// under, the manifests staying at the root; empty: the media beside the manifests.
    #[serde(default)]
    pub media_folder: String,
    /// Sprite sheets, their tracks and a poster (see [`thumbnails`]); none: no thumbnails.
    #[serde(default)]
    pub thumbnails: Option<ThumbnailOptions>,
    /// The frames where the source's shots start (its inspection's; frame 0 is implied),
    /// ascending: the poster is the middle of the longest shot unless its time is given.
    #[serde(default)]
    pub shot_starts: Vec<u64>,
    /// Encrypt every video and audio track (see [`encryption`]); the keys live only in memory,
    /// never serialized.
    #[serde(skip)]
    pub protection: Option<ContentProtection>,
}

impl PackageParams {
    /// Where the media files go.
    fn media_dir(&self) -> PathBuf {
        self.output_dir.join(&self.media_folder)
    }

    /// What the manifests put before a media file's path: the media folder and a slash.
    fn media_prefix(&self) -> String {
        if self.media_folder.is_empty() { String::new() } else { format!("{}/", self.media_folder) }
    }
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
    /// A video rendition's colour as its init segment declares it (none: SDR, undeclared).
    #[serde(default)]
    pub colour: Option<DeclaredColour>,
    /// Each segment's bitrate, in playlist order (report.html plots them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_bitrates: Vec<SegmentBitrate>,
    /// A video rendition's I-frame playlist (HLS trick play).
    #[serde(default)]
    pub iframes: Option<PackagedIFrames>,
    /// A video rendition's trick-mode track (DASH trick play), when it has one.
    #[serde(default)]
    pub trick_mode: Option<PackagedTrickMode>,
}

/// One media segment: where it starts on the track's timeline, how long it plays, its bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegmentBitrate {
    pub start_seconds: f64,
    pub seconds: f64,
    pub kbps: f64,
}

/// One packaged audio rendition and what players are told about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagedAudio {
    pub rendition: PackagedRendition,
    pub language: Option<String>,
    /// HLS `NAME`, DASH `Label`.
    pub label: String,
    pub channels: u32,
    pub default: bool,
    /// The source stream it was encoded from.
    pub source_stream: u32,
}

/// What packaging produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageResult {
    pub master_playlist: PathBuf,
    pub dash_manifest: PathBuf,
    pub renditions: Vec<PackagedRendition>,
    /// The default audio rendition.
    pub audio: Option<PackagedRendition>,
    /// Every audio rendition.
    #[serde(default)]
    pub audio_renditions: Vec<PackagedAudio>,
    /// Every text subtitle rendition.
    #[serde(default)]
    pub subtitles: Vec<PackagedSubtitles>,
    /// The default audio rendition's duration minus the video's, after fitting (seconds;
    /// never positive, less than one AAC frame).
    pub audio_video_offset_seconds: Option<f64>,
    /// The thumbnails and poster, when asked for.
    #[serde(default)]
    pub thumbnails: Option<PackagedThumbnails>,
    /// The encryption, when asked for: scheme, key ids, systems (never a key).
    #[serde(default)]
    pub protection: Option<ProtectionSummary>,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("nothing to package; pass at least one validated rendition")]
    NoRenditions,
    #[error("media folder {0:?} is not a relative path of plain names; name a folder inside the output")]
    MediaFolder(String),
    #[error("packaging cancelled")]
    Cancelled,
    #[error("packaging {what}: {source}")]
    Tool { what: String, source: ToolError },
    #[error("probing the source's tracks: {0}")]
    Probe(#[from] ProbeError),
    #[error("{operation} {path}: {source}")]
    Io { operation: &'static str, path: PathBuf, source: std::io::Error },
    #[error("rendition {rung}: {message}")]
    Playlist { rung: String, message: String },
    #[error("segments are not aligned: rendition {rung} has {found:?} frames per segment; {reference} has {expected:?}")]
    Misaligned { rung: String, reference: String, found: Vec<u32>, expected: Vec<u32> },
    #[error("thumbnails: {0}")]
    Thumbnails(String),
    #[error(transparent)]
    ThumbnailOptions(#[from] ThumbnailOptionsError),
    #[error("audio rendition {rendition} ends at {audio:.6}s and the video at {video:.6}s; the audio must end within one AAC frame ({frame:.6}s) before the video")]
    AudioDuration { rendition: String, audio: f64, video: f64, frame: f64 },
}

use super::process::{Tool, ToolCommand, ToolError, ToolProgress, run_with_progress};

/// Runs ffmpeg quietly (progress on stdout, overwriting its outputs) with `args` for packaging `what`.
async fn run_ffmpeg(args: Vec<String>, what: String, cancel: &CancellationToken) -> Result<(), PackageError> {
    let command = ToolCommand::new(Tool::Ffmpeg).args(["-hide_banner", "-nostdin", "-nostats", "-y", "-progress", "pipe:1"]).args(args);
    run_with_progress(&command, cancel, &mut |_: ToolProgress| {}).await.map(|_| ()).map_err(|error| match error {
        ToolError::Cancelled { .. } => PackageError::Cancelled,
        source => PackageError::Tool { what, source },
    })
}

/// What packaging knows about one written track.
struct WrittenTrack {
    packaged: PackagedRendition,
    timing: TrackTiming,
    /// Its segment files, in order.
    files: Vec<String>,
}

/// Reads a segmented track back: its segment files, their timing from the boxes (checked for
/// what players need), its bitrates; rewrites its media playlist with the boxes' durations.
/// `keys`: its `EXT-X-KEY` lines (empty when clear).
fn read_track(dir: &Path, name: &str, codecs: String, keys: &str) -> Result<WrittenTrack, PackageError> {
    let playlist_path = dir.join("playlist.m3u8");
    let fault = |message: String| PackageError::Playlist { rung: name.to_owned(), message };
    let text = std::fs::read_to_string(&playlist_path).map_err(|source| PackageError::Io { operation: "reading", path: playlist_path.clone(), source })?;
    let files = segment_files(&text);
    if files.is_empty() {
        return Err(fault("the segmenter wrote no segments".to_owned()));
    }
    let timing = TrackTiming::read(dir, &files).map_err(fault)?;
    if let Some(problem) = timing.timing_fault() {
        return Err(fault(problem));
    }
    let mut total_bytes = 0u64;
    let mut peak = 0u64;
    let mut segment_bitrates = Vec::with_capacity(files.len());
    for (file, segment) in files.iter().zip(&timing.segments) {
        let segment_path = dir.join(file);
        let bytes = std::fs::metadata(&segment_path).map_err(|source| PackageError::Io { operation: "reading", path: segment_path, source })?.len();
        total_bytes += bytes;
        let seconds = timing.seconds(segment.duration);
        if seconds > 0.0 {
            peak = peak.max((bytes as f64 * 8.0 / seconds) as u64);
        }
        let kbps = if seconds > 0.0 { bytes as f64 * 8.0 / seconds / 1000.0 } else { 0.0 };
        segment_bitrates.push(SegmentBitrate { start_seconds: timing.seconds(segment.decode_start), seconds, kbps });
    }
    std::fs::write(&playlist_path, media_playlist_text(&timing, &files, keys)).map_err(|source| PackageError::Io { operation: "writing", path: playlist_path.clone(), source })?;
    let duration_seconds = timing.seconds(timing.end());
    let packaged = PackagedRendition {
        name: name.to_owned(),
        playlist: playlist_path,
        codecs,
        segments: files.len(),
        duration_seconds,
        peak_bitrate_bps: peak,
        average_bitrate_bps: if duration_seconds > 0.0 { (total_bytes as f64 * 8.0 / duration_seconds) as u64 } else { 0 },
        colour: None,
        segment_bitrates,
        iframes: None,
        trick_mode: None,
    };
    Ok(WrittenTrack { packaged, timing, files })
}

/// Encrypts the track segmented in `dir` (and its trick-mode segments `trick_files`) when the
/// ladder is protected, but for the segments that start within the clear lead; its playlists'
/// `EXT-X-KEY` lines (empty when clear). The codec string and colour are read before, from the
/// clear init segment.
fn protect(protection: Option<&ContentProtection>, dir: &Path, name: &str, track: TrackType, trick_files: &[String]) -> Result<String, PackageError> {
    let Some(protection) = protection else { return Ok(String::new()) };
    let fault = |message: String| PackageError::Playlist { rung: name.to_owned(), message: format!("encrypting it: {message}") };
    let playlist_path = dir.join("playlist.m3u8");
    let text = std::fs::read_to_string(&playlist_path).map_err(|source| PackageError::Io { operation: "reading", path: playlist_path, source })?;
    let files = segment_files(&text);
    let clear = segment_starts(&text).iter().take_while(|start| **start < protection.clear_lead_seconds).count().min(files.len());
    protect_track(dir, &[&files, trick_files], clear, protection, track).map_err(fault)?;
    Ok(hls_key_lines(protection, &protection.keys.for_track(track).kid))
}

/// Writes the trick-mode segments of the clear video track segmented in `dir` (see
/// [`trick_mode`]); their file names.
fn clear_trick_segments(dir: &Path) -> Result<Vec<String>, String> {
    let playlist_path = dir.join("playlist.m3u8");
    let text = std::fs::read_to_string(&playlist_path).map_err(|error| format!("reading {}: {error}", playlist_path.display()))?;
    let files = segment_files(&text);
    let timing = TrackTiming::read(dir, &files)?;
    write_trick_segments(dir, &files, &timing)
}

/// Seconds of the source's timeline at which the video's first frame is shown: where its
/// video stream starts (0 when it does not say). Audio and subtitles are moved by as much.
fn video_start_seconds(probe: &ProbeOutput) -> f64 {
    probe.streams.iter().find(|stream| stream.is_video()).and_then(|stream| parse_number::<f64>(stream.start_time.as_ref())).unwrap_or(0.0)
}

/// Packages `params.renditions` (and audio and subtitles) under `params.output_dir`; see the module docs.
pub async fn package_ladder(params: &PackageParams, cancel: &CancellationToken) -> Result<PackageResult, PackageError> {
    let started = Instant::now();
    if params.renditions.is_empty() {
        return Err(PackageError::NoRenditions);
    }
    if !Path::new(&params.media_folder).components().all(|component| matches!(component, Component::Normal(_))) {
        return Err(PackageError::MediaFolder(params.media_folder.clone()));
    }
    if let Some(options) = &params.thumbnails {
        options.check(None)?;
    }
    let media_dir = params.media_dir();
    let frame_duration = params.frame_rate.period_seconds();
    let audio_files: &[AudioFile] = params.audio.as_ref().map_or(&[], |audio| &audio.files);
    // Every rendition, video and audio, is segmented at once (stream copies: each is mostly
    // process start and file writes); the video is checked in ladder order and tiled into
    // thumbnails, the one decode here that grows with the title.
    let video_part = async {
        futures::future::try_join_all(params.renditions.iter().map(|rendition| {
            let name = &rendition.rung.name;
            segment(stream_copy(&rendition.path, "0:v:0"), media_dir.join(name), frame_duration * 0.5, format!("rendition {name}"), cancel)
        }))
        .await?;
        let videos = read_video_tracks(params, &media_dir)?;
        let timing = &videos[0].timing;
        let thumbnails = match &params.thumbnails {
            Some(options) => Some(make_thumbnails(params, options, &media_dir, micros(timing.end(), timing.init.timescale), cancel).await?),
            None => None,
        };
        Ok::<_, PackageError>((videos, thumbnails))
    };
    let audios = futures::future::try_join_all(params.audio.iter().flat_map(|audio| {
        audio.files.iter().map(|file| {
            let what = format!("audio rendition {} (source stream {})", file.facts.name, file.facts.source_stream);
            segment(stream_copy(&file.path, "0:a:0"), media_dir.join(&file.facts.name), audio.segment_seconds.max(frame_duration), what, cancel)
        })
    }));
    let ((videos, thumbnails), _) = tokio::try_join!(video_part, audios)?;

    let video_timing = &videos[0].timing;
    let video_end_micros = micros(video_timing.end(), video_timing.init.timescale);
    let video_end = video_timing.seconds(video_timing.end());

    let mut audios: Vec<(PackagedAudio, TrackTiming)> = Vec::with_capacity(audio_files.len());
    for AudioFile { facts, .. } in audio_files {
        let dir = media_dir.join(&facts.name);
        let keys = protect(params.protection.as_ref(), &dir, &facts.name, TrackType::Audio, &[])?;
        let track = read_track(&dir, &facts.name, AAC_LC.to_owned(), &keys)?;
        if track.timing.init.timescale != facts.sample_rate {
            let message = format!("its samples are timed at {} Hz; it was reported as {} Hz audio", track.timing.init.timescale, facts.sample_rate);
            return Err(PackageError::Playlist { rung: facts.name.clone(), message });
        }
        let audio_end = track.timing.seconds(track.timing.end());
        let frame = AAC_FRAME_SAMPLES as f64 / f64::from(facts.sample_rate.max(1));
        // One microsecond of slack for the rounding of the two timescales.
        if audio_end > video_end + 1e-6 || video_end - audio_end >= frame {
            return Err(PackageError::AudioDuration { rendition: facts.name.clone(), audio: audio_end, video: video_end, frame });
        }
        let packaged = PackagedAudio {
            rendition: track.packaged,
            language: facts.language.clone(),
            label: facts.label.clone(),
            channels: facts.channels,
            default: facts.default,
            source_stream: facts.source_stream,
        };
        audios.push((packaged, track.timing));
    }
    let audio_list: Vec<PackagedAudio> = audios.iter().map(|(audio, _)| audio.clone()).collect();
    let subtitles = params.subtitles.iter().map(|file| place_subtitles(file, &media_dir, video_end_micros)).collect::<Result<Vec<_>, _>>()?;
    let default_audio = audio_list.iter().find(|audio| audio.default).map(|audio| audio.rendition.clone());

    let master_playlist = params.output_dir.join("master.m3u8");
    let pairs: Vec<(&PackagedRendition, &PackageRendition)> = videos.iter().map(|track| &track.packaged).zip(&params.renditions).collect();
    let media_prefix = params.media_prefix();
    let master = master_playlist_text(params.frame_rate.as_f64(), &pairs, &audio_list, &subtitles, thumbnails.as_ref(), &media_prefix);
    std::fs::write(&master_playlist, master).map_err(|source| PackageError::Io { operation: "writing", path: master_playlist.clone(), source })?;
    let dash_manifest = params.output_dir.join("manifest.mpd");
    let dash_videos: Vec<DashVideo<'_>> =
        videos.iter().zip(&params.renditions).map(|(track, rendition)| DashVideo { packaged: &track.packaged, rendition, timing: &track.timing }).collect();
    let dash_audios: Vec<(&PackagedAudio, &TrackTiming)> = audios.iter().map(|(audio, timing)| (audio, timing)).collect();
    let mpd = dash_manifest_text(params.protection.as_ref(), params.frame_rate, &dash_videos, &dash_audios, (&subtitles, thumbnails.as_ref()), video_end_micros, &media_prefix);
    std::fs::write(&dash_manifest, mpd).map_err(|source| PackageError::Io { operation: "writing", path: dash_manifest.clone(), source })?;
    let result = PackageResult {
        master_playlist,
        dash_manifest,
        audio_video_offset_seconds: default_audio.as_ref().map(|audio| audio.duration_seconds - video_end),
        audio: default_audio,
        audio_renditions: audio_list,
        subtitles,
        thumbnails,
        protection: params.protection.as_ref().map(ContentProtection::summary),
        renditions: videos.into_iter().map(|track| track.packaged).collect(),
        seconds: started.elapsed().as_secs_f64(),
    };
    tracing::info!(renditions = result.renditions.len(), audio_renditions = result.audio_renditions.len(), seconds = result.seconds, "ladder packaged");
    Ok(result)
}

/// Each video rendition's segments under `media_dir`, checked in ladder order (codec string,
/// trick-mode and I-frame tracks, protection, frame count, segments aligned with the first
/// rendition's) and read back as written tracks.
fn read_video_tracks(params: &PackageParams, media_dir: &Path) -> Result<Vec<WrittenTrack>, PackageError> {
    let mut videos: Vec<WrittenTrack> = Vec::with_capacity(params.renditions.len());
    let with_trick_mode = trick_mode_rungs(&params.renditions.iter().map(|rendition| &rendition.rung).collect::<Vec<_>>());
    for (rendition, trick_mode) in params.renditions.iter().zip(with_trick_mode) {
        let name = &rendition.rung.name;
        let dir = media_dir.join(name);
        let fault = |what: &str, message: String| PackageError::Playlist { rung: name.clone(), message: format!("{what}: {message}") };
        let init_path = dir.join("init.mp4");
        let init = std::fs::read(&init_path).map_err(|source| PackageError::Io { operation: "reading", path: init_path, source })?;
        let codecs = codec_string(&init, rendition.rung.codec)
            .ok_or_else(|| PackageError::Playlist { rung: name.clone(), message: "the init segment has no codec configuration box".to_owned() })?;
        let trick_files = if trick_mode { clear_trick_segments(&dir).map_err(|message| fault("its trick-mode segments", message))? } else { Vec::new() };
        let keys = protect(params.protection.as_ref(), &dir, name, TrackType::Video { height: rendition.rung.height }, &trick_files)?;
        let mut track = read_track(&dir, name, codecs, &keys)?;
        track.packaged.colour = DeclaredColour::of_init(&init);
        let iframes = write_iframe_playlist(&dir, &track.timing, &track.files, &keys).map_err(|message| fault("its I-frames", message))?;
        track.packaged.iframes = Some(iframes);
        if trick_mode {
            let trick = read_trick_mode(&dir, &trick_files, &track.timing, params.frame_rate).map_err(|message| fault("its trick-mode track", message))?;
            track.packaged.trick_mode = Some(trick);
        }
        if track.timing.samples() != params.frames {
            return Err(PackageError::Playlist { rung: name.clone(), message: format!("its segments hold {} frames; the source has {}", track.timing.samples(), params.frames) });
        }
        let frames_per_segment = |track: &WrittenTrack| track.timing.segments.iter().map(|segment| segment.samples).collect::<Vec<u32>>();
        if let Some(reference) = videos.first()
            && frames_per_segment(reference) != frames_per_segment(&track)
        {
            return Err(PackageError::Misaligned {
                rung: name.clone(),
                reference: reference.packaged.name.clone(),
                found: frames_per_segment(&track),
                expected: frames_per_segment(reference),
            });
        }
        videos.push(track);
    }
    Ok(videos)
}

/// The thumbnails, tiled from a rendition of their size, and the poster of the largest
/// rendition (see [`thumbnails`] and [`poster`]), under `<media>/thumbnails`.
async fn make_thumbnails(
    params: &PackageParams,
    options: &ThumbnailOptions,
    media_dir: &Path,
    video_end_micros: u64,
    cancel: &CancellationToken,
) -> Result<PackagedThumbnails, PackageError> {
    options.check(Some(video_end_micros as f64 / 1e6))?;
    let area = |rendition: &&PackageRendition| u64::from(rendition.rung.width) * u64::from(rendition.rung.height);
    let Some(largest) = params.renditions.iter().max_by_key(area) else {
        return Err(PackageError::NoRenditions);
    };
    let name = "thumbnails".to_owned();
    let dir = media_dir.join(&name);
    let plan = TilePlan::new(options, params.frame_rate, params.frames, video_end_micros, (largest.rung.width, largest.rung.height))?;
    // The tiles come from the smallest rendition at least twice a tile's size each way: a
    // decode of every frame of it costs a fraction of the largest's, and shrinking it at least
    // 2:1 hides its coding.
    let tiles_from = params
        .renditions
        .iter()
        .filter(|rendition| rendition.rung.width >= 2 * plan.tile_width && rendition.rung.height >= 2 * plan.tile_height)
        .min_by_key(area)
        .unwrap_or(largest);
    let (sheet_bytes, poster) = tokio::try_join!(
        write_sprites(&tiles_from.path, &plan, params.frame_rate, &dir, cancel),
        write_poster(options.poster_seconds, &params.shot_starts, &largest.path, params.frame_rate, params.frames, &dir, cancel),
    )?;
    let seconds = video_end_micros as f64 / 1e6;
    Ok(PackagedThumbnails {
        vtt: dir.join(thumbnails::THUMBNAILS_VTT),
        image_playlist: dir.join(thumbnails::IMAGE_PLAYLIST),
        name,
        sheets: plan.sheets(),
        cues: plan.cue_frames.len(),
        interval_seconds: options.interval_seconds,
        tile_width: plan.tile_width,
        tile_height: plan.tile_height,
        columns: plan.columns,
        rows: plan.rows,
        bandwidth_bps: if seconds > 0.0 { (sheet_bytes as f64 * 8.0 / seconds) as u64 } else { 0 },
        poster,
    })
}
