//! What an accepted inspection reports: the source's facts, its shots, and the chunk plan with a
//! seek point and boundary fingerprints per chunk.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::fingerprint::Fingerprint;

use crate::media::chunking::FrameRange;
use crate::media::probe::Rational;
use crate::media::tracks::{AudioTrack, SubtitleTrack};
use crate::media::source_picture::SourcePicture;
use super::findings::InspectWarning;

/// Facts about the video stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoFacts {
    pub stream_index: u32,
    pub codec: String,
    pub profile: Option<String>,
    /// The displayed picture's size (what the ladder fits): the stored size turned by
    /// [`SourcePicture::rotation`].
    pub width: u32,
    pub height: u32,
    pub pix_fmt: Option<String>,
    /// Of the displayed picture (inverted by a quarter turn).
    pub sample_aspect_ratio: Rational,
    /// The rate renditions are encoded at: the nominal rate when constant, the average when
    /// variable.
    pub frame_rate: Rational,
    pub variable_frame_rate: bool,
    /// Renditions keep each frame's presentation time (a variable rate with usable
    /// timestamps; [`crate::media::frame_timing`]); otherwise they are constant rate.
    #[serde(default)]
    pub keeps_frame_times: bool,
    /// Decoded frames: the ground truth every rendition must match.
    pub frames: u64,
    /// `frames / frame_rate`; with kept frame times, from the first frame's time to the end
    /// of the last.
    pub duration_seconds: f64,
    pub bitrate_kbps: Option<u32>,
    /// The stream used, its rotation and deinterlacing: what every stage that decodes the
    /// source applies.
    #[serde(default)]
    pub picture: SourcePicture,
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
    /// The first audio stream (what older reports name); every one is in `audio_tracks`.
    pub audio: Option<AudioFacts>,
    /// Every audio stream, each packaged as its own AAC rendition.
    #[serde(default)]
    pub audio_tracks: Vec<AudioTrack>,
    /// Every subtitle stream; text ones become WebVTT renditions, image ones are skipped.
    #[serde(default)]
    pub subtitle_tracks: Vec<SubtitleTrack>,
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
    /// With kept frame times: µs from the chunk's first frame to the next chunk's first (the
    /// last chunk: to the end of the source); see [`crate::media::frame_timing`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_us: Option<u64>,
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
    /// How many segments the decode was cut into (1: decoded whole; see [`super::segments`]).
    #[serde(default)]
    pub decoded_in_segments: u32,
}
