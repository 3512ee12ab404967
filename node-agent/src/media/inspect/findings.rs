//! What inspection finds wrong with a source: a rejection (a code, what was found, the frame or
//! byte where, and what to fix), the error that carries it, and recoverable oddities (warnings).

use serde::{Deserialize, Serialize};

use crate::media::artifacts::ArtifactError;
use crate::media::chunking::ChunkingError;
use crate::media::process::ToolError;

/// Why a source was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The file cannot be opened or read.
    Unreadable,
    /// Not a container/stream ffmpeg recognises.
    NotMedia,
    /// Read by a demuxer the farm does not allow: text (`tty`), playlists (`hls`, `concat`),
    /// image sequences, generated sources (`shotfarm_kernels::decode::input_pins`).
    FormatNotAllowed,
    /// Media, but no video stream (audio only, subtitles, cover art only).
    NoVideoStream,
    /// A still picture (PNG, JPEG, a one-frame GIF, a video stream of a single frame).
    StillImage,
    /// The file ends early: the index is missing, a size the container declares runs past the
    /// end of the file, or the last packet is cut off.
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
            RejectionCode::FormatNotAllowed => "format_not_allowed",
            RejectionCode::NoVideoStream => "no_video_stream",
            RejectionCode::StillImage => "still_image",
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

pub(super) fn reject(code: RejectionCode, message: impl Into<String>, fix: impl Into<String>) -> InspectError {
    InspectError::Rejected(Box::new(Rejection { code, message: message.into(), frame: None, byte: None, fix: fix.into() }))
}

pub(super) fn reject_at(code: RejectionCode, message: impl Into<String>, frame: Option<u64>, byte: Option<u64>, fix: impl Into<String>) -> InspectError {
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
    /// Frame durations vary; every frame is kept, at its own time when the timestamps are usable
    /// (otherwise at a constant average rate).
    VariableFrameRate,
    /// Width or height is odd; renditions are scaled to even sizes.
    OddDimensions,
    /// More than one video stream; the default one (else the first) is used.
    SeveralVideoStreams,
    /// More than one audio stream; each becomes its own AAC rendition.
    SeveralAudioStreams,
    /// Some frames may not be seekable: chunks decode from the start of the file.
    NotSeekable,
    /// The container lists frames that hold no data ("repeat the previous frame" entries of a
    /// variable-frame-rate AVI); the decoded frames are kept.
    SkippedFrames,
    /// Frames are evenly spaced at another rate than the container declares; that rate is used.
    FrameRateFromTimestamps,
    /// A subtitle stream holds pictures (PGS, DVB, DVD), not text: it is not packaged.
    ImageSubtitlesSkipped,
    /// The source is interlaced; every stage deinterlaces it (bwdif, one frame per frame).
    Interlaced,
    /// The source carries a display rotation; renditions are written upright.
    Rotated,
    /// HDR (PQ or HLG): HEVC/AV1 rungs keep it in 10 bits, H.264 rungs are tone-mapped to SDR.
    HighDynamicRange,
    /// More than 8 bits per sample (SDR): HEVC/AV1 rungs keep 10 bits, H.264 rungs are 8-bit.
    HighBitDepth,
    /// Long enough to be inspected in segments across the farm, but it cannot be cut exactly
    /// (no keyframe index in its container, timestamps not from 0, interlaced…): one task
    /// decoded the whole file, however many agents the farm has.
    InspectedInOnePass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectWarning {
    pub code: WarningCode,
    pub message: String,
}
