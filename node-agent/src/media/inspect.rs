//! Inspection: probe a source, decode every frame once, and either accept it with its facts,
//! shots, chunk plan and per-frame fingerprints, or reject it with a specific code, the frame
//! or byte where it went wrong, and what to fix.
//!
//! Steps: (1) the file exists and is not empty; (2) ffprobe with packet counting (reads the
//! whole file without decoding) — unreadable files, missing video, absurd dimensions stop here;
//! (3) one decode pass ([`super::frame_analysis`]) — frame count, timestamps, keyframes,
//! fingerprints, shots, SI/TI; (4) the verdict: zero frames, a truncated file (the container
//! declares more frames than the file holds, or the mp4 index is missing), undecodable frames
//! beyond [`InspectLimits`]; recoverable oddities become [`InspectWarning`]s; (5) the chunk
//! plan with a seek point per chunk; (6) the frame artifact (`frames.json`).
//!
//! The frame count is the number of frames the decoder produced, and every index in the
//! results (shots, chunks, seek points, fingerprints) is a decoded-frame index.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::fingerprint::Fingerprint;
use shotfarm_kernels::scene::ShotDetectionParams;
use tokio_util::sync::CancellationToken;

use super::artifacts::{ArtifactError, FrameArtifact, FRAME_ARTIFACT_FILE};
use super::chunking::{ChunkingError, ChunkingParams, FrameRange, limits_in_frames, plan_chunks};
use super::frame_analysis::{ANALYSIS_HEIGHT, ANALYSIS_WIDTH, AnalysisDepth, DecodePassError, DecodedVideo, decode_and_analyse};
use super::probe::{ProbeError, ProbeOutput, ProbeStream, Rational, parse_number, probe_file};
use super::process::ToolError;

/// What inspection is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectParams {
    /// The source, a local file.
    pub source: PathBuf,
    /// Where `frames.json` is written (created if missing).
    pub artifact_dir: PathBuf,
    #[serde(default)]
    pub chunking: ChunkingParams,
    #[serde(default)]
    pub shot_detection: ShotDetectionParams,
    #[serde(default)]
    pub limits: InspectLimits,
}

/// Where acceptance ends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectLimits {
    /// The smallest width and height accepted: the smallest frame VMAF scores (its ADM needs
    /// four halvings), so every accepted source can be scored.
    pub min_dimension: u32,
    pub max_dimension: u32,
    /// Frames may be lost to decoding errors up to this many…
    pub max_lost_frames: u64,
    /// …or this fraction of the packets, whichever is larger.
    pub max_lost_fraction: f64,
}

impl Default for InspectLimits {
    fn default() -> Self {
        Self { min_dimension: shotfarm_kernels::adm::MIN_ADM_SIZE as u32, max_dimension: 16384, max_lost_frames: 2, max_lost_fraction: 0.005 }
    }
}

/// Why a source was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The file cannot be opened or read.
    Unreadable,
    /// Not a container/stream ffmpeg recognises.
    NotMedia,
    /// Media, but no video stream (audio only, subtitles, cover art only).
    NoVideoStream,
    /// The file ends early: the index is missing or frames it declares are not there.
    Truncated,
    /// Too many frames failed to decode.
    UndecodableFrames,
    /// The video stream decodes to nothing.
    ZeroFrames,
    /// Width or height is zero, tiny or enormous.
    AbsurdDimensions,
    /// This ffmpeg has no decoder for the video codec.
    UnsupportedCodec,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::Unreadable => "unreadable",
            RejectionCode::NotMedia => "not_media",
            RejectionCode::NoVideoStream => "no_video_stream",
            RejectionCode::Truncated => "truncated",
            RejectionCode::UndecodableFrames => "undecodable_frames",
            RejectionCode::ZeroFrames => "zero_frames",
            RejectionCode::AbsurdDimensions => "absurd_dimensions",
            RejectionCode::UnsupportedCodec => "unsupported_codec",
        }
    }
}

/// A rejection: the code, what was found, where, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub code: RejectionCode,
    pub message: String,
    /// Decoded frame index where it went wrong, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
    /// Byte offset in the file where it went wrong, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub byte: Option<u64>,
    pub fix: String,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "source rejected ({}): {}", self.code.as_str(), self.message)?;
        if let Some(frame) = self.frame {
            write!(f, " at frame {frame}")?;
        }
        if let Some(byte) = self.byte {
            write!(f, " at byte {byte}")?;
        }
        write!(f, "; {}", self.fix)
    }
}

/// Why inspection did not produce a verdict, or the verdict "rejected".
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{0}")]
    Rejected(Box<Rejection>),
    #[error("inspection cancelled")]
    Cancelled,
    #[error("running ffmpeg/ffprobe: {0}")]
    Tool(ToolError),
    #[error("frame analysis: {0}")]
    Analysis(String),
    #[error("writing the frame artifact: {0}")]
    Artifact(#[from] ArtifactError),
    #[error("chunk plan: {0}")]
    Chunking(#[from] ChunkingError),
}

impl InspectError {
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            InspectError::Rejected(rejection) => Some(rejection),
            _ => None,
        }
    }
}

fn reject(code: RejectionCode, message: impl Into<String>, fix: impl Into<String>) -> InspectError {
    InspectError::Rejected(Box::new(Rejection { code, message: message.into(), frame: None, byte: None, fix: fix.into() }))
}

fn reject_at(code: RejectionCode, message: impl Into<String>, frame: Option<u64>, byte: Option<u64>, fix: impl Into<String>) -> InspectError {
    InspectError::Rejected(Box::new(Rejection { code, message: message.into(), frame, byte, fix: fix.into() }))
}

/// A recoverable oddity, handled, reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningCode {
    /// The decoder concealed corrupt data (and maybe lost a few frames, within limits).
    CorruptDataConcealed,
    /// The container has no timestamps; frames are timed from the frame rate.
    MissingTimestamps,
    /// Timestamps go backwards or repeat; decoded order is used.
    NonMonotonicTimestamps,
    /// Frame durations vary; renditions are constant rate at the average rate, every frame kept.
    VariableFrameRate,
    /// Width or height is odd; renditions are scaled to even sizes.
    OddDimensions,
    /// More than one video stream; the first is used.
    SeveralVideoStreams,
    /// More than one audio stream; the first is used.
    SeveralAudioStreams,
    /// Some frames may not be seekable: chunks decode from the start of the file.
    NotSeekable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectWarning {
    pub code: WarningCode,
    pub message: String,
}

/// Facts about the video stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoFacts {
    pub stream_index: u32,
    pub codec: String,
    pub profile: Option<String>,
    pub width: u32,
    pub height: u32,
    pub pix_fmt: Option<String>,
    pub sample_aspect_ratio: Rational,
    /// The rate renditions are encoded at: the nominal rate when constant, the average when
    /// variable.
    pub frame_rate: Rational,
    pub variable_frame_rate: bool,
    /// Decoded frames: the ground truth every rendition must match.
    pub frames: u64,
    /// `frames / frame_rate`.
    pub duration_seconds: f64,
    pub bitrate_kbps: Option<u32>,
}

/// Facts about the audio stream that will become the AAC rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioFacts {
    pub stream_index: u32,
    pub codec: String,
    pub channels: Option<u32>,
    pub sample_rate: Option<u32>,
    pub duration_seconds: Option<f64>,
}

/// Facts about the source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFacts {
    pub container: String,
    pub size_bytes: u64,
    /// The container's duration, when it states one.
    pub container_duration_seconds: Option<f64>,
    pub video: VideoFacts,
    pub audio: Option<AudioFacts>,
}

/// One shot and its complexity (SI/TI on the 128×72 analysis frames; see
/// [`shotfarm_kernels::scene`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Shot {
    pub start: u64,
    pub end: u64,
    pub si_mean: f32,
    pub si_max: f32,
    pub ti_mean: f32,
    pub ti_max: f32,
}

/// Where decoding a chunk can start: a keyframe at or before the chunk's first frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeekPoint {
    /// Decoded index of the keyframe.
    pub keyframe: u64,
    /// Its presentation time, seconds from the start of the file (what `-ss` takes).
    pub seconds: f64,
}

/// A chunk to encode, frame-exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    pub index: u32,
    pub frames: FrameRange,
    /// `None`: decode from the start of the file (no keyframe after frame 0 before this chunk,
    /// or the file is not reliably seekable).
    pub seek: Option<SeekPoint>,
    /// Fingerprints of the chunk's first and last source frames: the encoder checks that the
    /// frames it encoded start and end where they should.
    pub first_fingerprint: Fingerprint,
    pub last_fingerprint: Fingerprint,
}

/// What an accepted inspection reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectReport {
    pub source: SourceFacts,
    pub warnings: Vec<InspectWarning>,
    pub shots: Vec<Shot>,
    pub chunks: Vec<Chunk>,
    /// `frames.json`: per-frame fingerprints, timestamps and keyframe flags.
    pub frame_artifact: PathBuf,
    pub decode_seconds: f64,
    pub total_seconds: f64,
}

/// Inspects `params.source`; see the module docs.
pub async fn inspect_source(params: &InspectParams, cancel: &CancellationToken) -> Result<InspectReport, InspectError> {
    let started = Instant::now();
    let source = &params.source;
    let size_bytes = match tokio::fs::metadata(source).await {
        Ok(metadata) if metadata.is_file() => metadata.len(),
        Ok(_) => return Err(reject(RejectionCode::Unreadable, format!("{} is not a regular file", source.display()), "pass the path of a video file")),
        Err(error) => {
            return Err(reject(RejectionCode::Unreadable, format!("cannot open {}: {error}", source.display()), "check the path and its permissions"));
        }
    };
    if size_bytes == 0 {
        return Err(reject(RejectionCode::NotMedia, "the file is empty (0 bytes)", "upload the source again; the copy is empty"));
    }
    let probe = match probe_file(source, true, cancel).await {
        Ok(probe) => probe,
        Err(ProbeError::Tool(error)) if error.is_cancelled() => return Err(InspectError::Cancelled),
        Err(ProbeError::Tool(ToolError::Failed(failure))) => return Err(classify_probe_failure(&failure.stderr_tail, source, size_bytes).await),
        Err(ProbeError::Tool(error)) => return Err(InspectError::Tool(error)),
        Err(ProbeError::Json(error)) => return Err(reject(RejectionCode::NotMedia, format!("ffprobe could not describe the file: {error}"), "check that the file is a video")),
    };
    let mut warnings = Vec::new();
    let (video_stream, audio_stream) = pick_streams(&probe, &mut warnings)?;
    let (width, height) = check_dimensions(video_stream, &params.limits, &mut warnings)?;

    let decode_started = Instant::now();
    let decoded = match decode_and_analyse(source, AnalysisDepth::Full(params.shot_detection), cancel).await {
        Ok(decoded) => decoded,
        Err(DecodePassError::Tool(error)) if error.is_cancelled() => return Err(InspectError::Cancelled),
        Err(DecodePassError::Tool(ToolError::Failed(failure))) => return Err(classify_decode_failure(&failure.stderr_tail, video_stream)),
        Err(DecodePassError::Tool(error)) => return Err(InspectError::Tool(error)),
        Err(error) => return Err(InspectError::Analysis(error.to_string())),
    };
    let decode_seconds = decode_started.elapsed().as_secs_f64();
    let frames = decoded.frames.len() as u64;
    check_completeness(&decoded, video_stream, size_bytes, &params.limits, &mut warnings)?;

    let timing = analyse_timing(&decoded, video_stream, &mut warnings);
    let frame_rate = timing.frame_rate;
    let duration_seconds = frames as f64 / frame_rate.as_f64();
    let video = VideoFacts {
        stream_index: video_stream.index.unwrap_or(0),
        codec: video_stream.codec_name.clone().unwrap_or_else(|| "unknown".to_owned()),
        profile: video_stream.profile.clone(),
        width,
        height,
        pix_fmt: video_stream.pix_fmt.clone(),
        sample_aspect_ratio: video_stream.sample_aspect_ratio.as_deref().and_then(Rational::parse).unwrap_or(Rational { num: 1, den: 1 }),
        frame_rate,
        variable_frame_rate: timing.variable,
        frames,
        duration_seconds,
        bitrate_kbps: parse_number::<u64>(video_stream.bit_rate.as_ref()).map(|bps| (bps / 1000) as u32),
    };
    let audio = audio_stream.map(|stream| AudioFacts {
        stream_index: stream.index.unwrap_or(0),
        codec: stream.codec_name.clone().unwrap_or_else(|| "unknown".to_owned()),
        channels: stream.channels,
        sample_rate: parse_number(stream.sample_rate.as_ref()),
        duration_seconds: parse_number(stream.duration.as_ref()),
    });
    let format = probe.format.clone().unwrap_or_default();
    let facts = SourceFacts {
        container: format.format_name.unwrap_or_else(|| "unknown".to_owned()),
        size_bytes,
        container_duration_seconds: parse_number(format.duration.as_ref()),
        video,
        audio,
    };

    let shots = summarise_shots(&decoded);
    let shot_starts: Vec<u64> = shots.iter().skip(1).map(|shot| shot.start).collect();
    let (min_frames, max_frames) = limits_in_frames(&params.chunking, frame_rate.as_f64())?;
    let ranges = plan_chunks(frames, &shot_starts, min_frames, max_frames)?;
    let chunks = attach_seek_points(&ranges, &decoded, timing.seekable);

    let artifact = FrameArtifact {
        version: FrameArtifact::VERSION,
        analysis_width: ANALYSIS_WIDTH as u32,
        analysis_height: ANALYSIS_HEIGHT as u32,
        frame_rate,
        frames: decoded.frames,
    };
    let frame_artifact = params.artifact_dir.join(FRAME_ARTIFACT_FILE);
    artifact.write(&frame_artifact).await?;
    let report = InspectReport { source: facts, warnings, shots, chunks, frame_artifact, decode_seconds, total_seconds: started.elapsed().as_secs_f64() };
    tracing::info!(
        source = %source.display(),
        frames,
        shots = report.shots.len(),
        chunks = report.chunks.len(),
        warnings = report.warnings.len(),
        decode_seconds,
        "source inspected"
    );
    Ok(report)
}

async fn classify_probe_failure(stderr_tail: &[String], source: &std::path::Path, size_bytes: u64) -> InspectError {
    let text = stderr_tail.join("\n");
    // An mp4 cut short still starts with its `ftyp` box; random bytes named .mp4 do not.
    let starts_like_mp4 = read_head(source).await.is_some_and(|head| head.len() >= 8 && &head[4..8] == b"ftyp");
    if text.contains("moov atom not found") && starts_like_mp4 {
        return reject_at(
            RejectionCode::Truncated,
            "the mp4/mov index (moov atom) is missing: the file was cut short before its index was written",
            None,
            Some(size_bytes),
            "upload the complete file, or re-export it with the index at the front (ffmpeg -movflags +faststart)",
        );
    }
    let last_line = stderr_tail.last().cloned().unwrap_or_default();
    reject(
        RejectionCode::NotMedia,
        format!("ffprobe does not recognise it as audio or video ({})", last_line.trim()),
        "check that the file is a video (mp4, mov, mkv, webm, ts…) and was not corrupted in transfer",
    )
}

async fn read_head(path: &std::path::Path) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut file = tokio::fs::File::open(path).await.ok()?;
    let mut head = vec![0u8; 16];
    let read = file.read(&mut head).await.ok()?;
    head.truncate(read);
    Some(head)
}

fn classify_decode_failure(stderr_tail: &[String], video: &ProbeStream) -> InspectError {
    let text = stderr_tail.join("\n");
    let codec = video.codec_name.clone().unwrap_or_else(|| "unknown".to_owned());
    if text.contains("Decoder (codec") && text.contains("not found") || text.contains("Unsupported codec") {
        return reject(
            RejectionCode::UnsupportedCodec,
            format!("this ffmpeg has no decoder for the video codec {codec}"),
            "transcode the source to H.264, HEVC, VP9 or AV1 first, or install an ffmpeg that decodes it",
        );
    }
    reject(
        RejectionCode::UndecodableFrames,
        format!("ffmpeg failed to decode the video stream ({codec}): {}", stderr_tail.last().map(|s| s.trim()).unwrap_or("no message")),
        "re-export the source; the video data is damaged",
    )
}

fn pick_streams<'a>(probe: &'a ProbeOutput, warnings: &mut Vec<InspectWarning>) -> Result<(&'a ProbeStream, Option<&'a ProbeStream>), InspectError> {
    let videos: Vec<&ProbeStream> = probe.streams.iter().filter(|stream| stream.is_video()).collect();
    let audios: Vec<&ProbeStream> = probe.streams.iter().filter(|stream| stream.is_audio()).collect();
    let Some(&video) = videos.first() else {
        let kinds: Vec<String> = probe
            .streams
            .iter()
            .map(|stream| format!("{} ({})", stream.codec_type.as_deref().unwrap_or("unknown"), stream.codec_name.as_deref().unwrap_or("?")))
            .collect();
        let found = if kinds.is_empty() { "no streams at all".to_owned() } else { format!("only {}", kinds.join(", ")) };
        return Err(reject(RejectionCode::NoVideoStream, format!("the file has no video stream: {found}"), "submit a file that contains video"));
    };
    if videos.len() > 1 {
        warnings.push(InspectWarning {
            code: WarningCode::SeveralVideoStreams,
            message: format!("{} video streams; using stream {} and ignoring the others", videos.len(), video.index.unwrap_or(0)),
        });
    }
    if audios.len() > 1 {
        warnings.push(InspectWarning {
            code: WarningCode::SeveralAudioStreams,
            message: format!("{} audio streams; using stream {} for the audio rendition", audios.len(), audios[0].index.unwrap_or(0)),
        });
    }
    Ok((video, audios.first().copied()))
}

fn check_dimensions(video: &ProbeStream, limits: &InspectLimits, warnings: &mut Vec<InspectWarning>) -> Result<(u32, u32), InspectError> {
    let (width, height) = (video.width.unwrap_or(0), video.height.unwrap_or(0));
    if width < limits.min_dimension || height < limits.min_dimension || width > limits.max_dimension || height > limits.max_dimension {
        return Err(reject(
            RejectionCode::AbsurdDimensions,
            format!(
                "the video is {width}x{height}; accepted sizes are {min}x{min} to {max}x{max}",
                min = limits.min_dimension,
                max = limits.max_dimension
            ),
            "check the source's video stream; re-export it at a normal size",
        ));
    }
    if width % 2 == 1 || height % 2 == 1 {
        warnings.push(InspectWarning {
            code: WarningCode::OddDimensions,
            message: format!("the video is {width}x{height} (odd); renditions are scaled to even sizes"),
        });
    }
    Ok((width, height))
}

fn check_completeness(decoded: &DecodedVideo, video: &ProbeStream, size_bytes: u64, limits: &InspectLimits, warnings: &mut Vec<InspectWarning>) -> Result<(), InspectError> {
    let frames = decoded.frames.len() as u64;
    let packets: Option<u64> = parse_number(video.nb_read_packets.as_ref());
    let declared: Option<u64> = parse_number(video.nb_frames.as_ref());
    let last_byte = decoded.frames.iter().rev().find_map(|frame| frame.byte_position);
    let truncated_hint = decoded.complaints.iter().any(|complaint| complaint.message.contains("partial file"));
    if let (Some(declared), Some(packets)) = (declared, packets)
        && declared > packets + 1
    {
        return Err(reject_at(
            RejectionCode::Truncated,
            format!("the container declares {declared} video frames but the file holds only {packets} ({size_bytes} bytes): it was cut short"),
            Some(frames),
            last_byte.or(Some(size_bytes)),
            "upload the complete file",
        ));
    }
    if frames == 0 {
        if truncated_hint {
            return Err(reject_at(RejectionCode::Truncated, "the file ends before its first frame", Some(0), Some(size_bytes), "upload the complete file"));
        }
        return Err(reject_at(
            RejectionCode::ZeroFrames,
            format!("the video stream decodes to no frames ({} packets read)", packets.unwrap_or(0)),
            Some(0),
            None,
            "check that the source actually contains video frames; re-export it",
        ));
    }
    let lost = packets.map_or(0, |packets| packets.saturating_sub(frames));
    let allowed = limits.max_lost_frames.max((packets.unwrap_or(frames) as f64 * limits.max_lost_fraction) as u64);
    if lost > allowed {
        let first = decoded.complaints.first();
        return Err(reject_at(
            RejectionCode::UndecodableFrames,
            format!(
                "{lost} of {} video frames could not be decoded (at most {allowed} are tolerated){}",
                packets.unwrap_or(frames),
                first.map(|complaint| format!("; first decoder error: {}", complaint.message)).unwrap_or_default()
            ),
            Some(first.map_or(frames, |complaint| complaint.near_frame)),
            None,
            "re-export or re-transfer the source; its video data is damaged",
        ));
    }
    // Demuxers of index-less containers (MPEG-TS) drop damaged packets before anyone counts
    // them; the hole shows as a timestamp gap. Only with decoder complaints: a clean source
    // with gaps is variable frame rate, not damage.
    let nominal = video.r_frame_rate.as_deref().and_then(Rational::parse).filter(|rate| rate.as_f64() <= 1000.0);
    if decoded.complaint_count > 0
        && let Some(rate) = nominal
    {
        let period = 1.0 / rate.as_f64();
        let mut missing = 0u64;
        let mut first_gap = None;
        for (index, pair) in decoded.frames.windows(2).enumerate() {
            if let (Some(a), Some(b)) = (pair[0].pts_seconds, pair[1].pts_seconds) {
                let gap_frames = ((b - a) / period).round() as i64 - 1;
                if gap_frames > 0 {
                    missing += gap_frames as u64;
                    first_gap.get_or_insert((index as u64 + 1, pair[1].byte_position));
                }
            }
        }
        let allowed = limits.max_lost_frames.max(((frames + missing) as f64 * limits.max_lost_fraction) as u64);
        if missing > allowed {
            let (frame, byte) = first_gap.unwrap_or((frames, None));
            return Err(reject_at(
                RejectionCode::UndecodableFrames,
                format!(
                    "about {missing} video frames are missing from damaged data (timestamps jump; at most {allowed} tolerated); first decoder error: {}",
                    decoded.complaints.first().map_or("none kept", |complaint| complaint.message.as_str())
                ),
                Some(frame),
                byte,
                "re-export or re-transfer the source; its video data is damaged",
            ));
        }
    }
    if lost > 0 || decoded.complaint_count > 0 {
        let first = decoded.complaints.first();
        warnings.push(InspectWarning {
            code: WarningCode::CorruptDataConcealed,
            message: format!(
                "the decoder reported {} error(s){}{}; {lost} frame(s) lost, within tolerance",
                decoded.complaint_count,
                first.map(|complaint| format!(" starting near frame {}", complaint.near_frame)).unwrap_or_default(),
                first.map(|complaint| format!(" ({})", complaint.message)).unwrap_or_default(),
            ),
        });
    }
    Ok(())
}

struct Timing {
    frame_rate: Rational,
    variable: bool,
    seekable: bool,
}

fn analyse_timing(decoded: &DecodedVideo, video: &ProbeStream, warnings: &mut Vec<InspectWarning>) -> Timing {
    let frames = &decoded.frames;
    let missing = video.start_time.is_none() || frames.iter().any(|frame| frame.pts_seconds.is_none());
    if missing {
        warnings.push(InspectWarning {
            code: WarningCode::MissingTimestamps,
            message: "the video has no timestamps of its own; frames are timed by the frame rate, in decoded order".to_owned(),
        });
    }
    let times: Vec<f64> = frames.iter().filter_map(|frame| frame.pts_seconds).collect();
    let mut deltas: Vec<f64> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    let non_monotonic = deltas.iter().filter(|&&delta| delta <= 0.0).count();
    if non_monotonic > 0 {
        warnings.push(InspectWarning {
            code: WarningCode::NonMonotonicTimestamps,
            message: format!("{non_monotonic} frame timestamp(s) go backwards or repeat; frames are kept in decoded order"),
        });
    }
    deltas.retain(|&delta| delta > 0.0);
    let mut sorted = deltas.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied();
    let irregular = median.map_or(0, |median| deltas.iter().filter(|&&delta| (delta - median).abs() > median * 0.1).count());
    let variable = !missing && irregular > 0 && irregular * 200 >= deltas.len().max(1);
    let nominal = video.r_frame_rate.as_deref().and_then(Rational::parse).filter(|rate| rate.as_f64() <= 1000.0);
    let average = video.avg_frame_rate.as_deref().and_then(Rational::parse).filter(|rate| rate.as_f64() <= 1000.0);
    let measured = match (times.first(), times.last(), median) {
        (Some(first), Some(last), Some(median)) if last > first => Rational::from_rate((times.len() - 1) as f64 / (last - first)).or(Rational::from_rate(1.0 / median)),
        _ => None,
    };
    let frame_rate = if variable { measured.or(average).or(nominal) } else { nominal.or(average).or(measured) }
        .unwrap_or(Rational { num: 25, den: 1 });
    if variable {
        warnings.push(InspectWarning {
            code: WarningCode::VariableFrameRate,
            message: format!(
                "frame durations vary ({irregular} of {} differ from the typical one); renditions are constant rate at {frame_rate} fps with every decoded frame kept",
                deltas.len()
            ),
        });
    }
    let seekable = !missing && non_monotonic == 0;
    if !seekable {
        warnings.push(InspectWarning {
            code: WarningCode::NotSeekable,
            message: "timestamps are not reliable enough to seek by; each chunk is decoded from the start of the file (slower, still frame-exact)".to_owned(),
        });
    }
    Timing { frame_rate, variable, seekable }
}

fn summarise_shots(decoded: &DecodedVideo) -> Vec<Shot> {
    let total = decoded.scene.len() as u64;
    let mut starts: Vec<u64> = decoded.scene.iter().enumerate().filter(|(_, features)| features.starts_shot).map(|(index, _)| index as u64).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut shots = Vec::with_capacity(starts.len());
    for (position, &start) in starts.iter().enumerate() {
        let end = starts.get(position + 1).copied().unwrap_or(total);
        if end <= start {
            continue;
        }
        let features = &decoded.scene[start as usize..end as usize];
        let count = features.len() as f32;
        let si: Vec<f32> = features.iter().map(|f| f.spatial_information).collect();
        let ti: Vec<f32> = features.iter().skip(1).map(|f| f.temporal_information).collect();
        shots.push(Shot {
            start,
            end,
            si_mean: si.iter().sum::<f32>() / count,
            si_max: si.iter().copied().fold(0.0, f32::max),
            ti_mean: if ti.is_empty() { 0.0 } else { ti.iter().sum::<f32>() / ti.len() as f32 },
            ti_max: ti.iter().copied().fold(0.0, f32::max),
        });
    }
    shots
}

fn attach_seek_points(ranges: &[FrameRange], decoded: &DecodedVideo, seekable: bool) -> Vec<Chunk> {
    let keyframes: Vec<(u64, f64)> = decoded
        .frames
        .iter()
        .enumerate()
        .filter_map(|(index, frame)| frame.keyframe.then_some(()).and(frame.pts_seconds).map(|seconds| (index as u64, seconds)))
        .collect();
    ranges
        .iter()
        .enumerate()
        .map(|(index, range)| {
            let seek = if seekable {
                keyframes
                    .iter()
                    .rev()
                    .find(|(keyframe, _)| *keyframe <= range.start)
                    .filter(|(keyframe, _)| *keyframe > 0)
                    .map(|&(keyframe, seconds)| SeekPoint { keyframe, seconds })
            } else {
                None
            };
            let fingerprint_at = |frame: u64| decoded.frames[frame as usize].fingerprint.clone();
            Chunk {
                index: index as u32,
                frames: *range,
                seek,
                first_fingerprint: fingerprint_at(range.start),
                last_fingerprint: fingerprint_at(range.end - 1),
            }
        })
        .collect()
}
