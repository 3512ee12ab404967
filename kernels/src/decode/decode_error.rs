//! What can go wrong while turning a file into frames.

use std::path::PathBuf;

use super::process_evidence::ProcessFailure;

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    #[error("cannot start `{program}` (is ffmpeg installed and on PATH?): {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("ffmpeg could not decode {path}: {failure}")]
    Ffmpeg { path: PathBuf, failure: ProcessFailure },
    #[error("ffprobe found no video stream in {path}: {detail}")]
    NoVideoStream { path: PathBuf, detail: String },
    #[error("bad y4m header in {source_name}: {detail}")]
    BadY4mHeader { source_name: String, detail: String },
    #[error("unsupported y4m colour space `{colorspace}` in {source_name}: only 4:2:0 (C420*, C420p10…) is supported")]
    UnsupportedY4mColorspace { source_name: String, colorspace: String },
    #[error("{source_name}: frame {frame} is truncated ({got} of {expected} bytes)")]
    TruncatedFrame { source_name: String, frame: u64, got: usize, expected: usize },
    #[error("{source_name}: frame {frame} does not start with FRAME")]
    BadFrameMarker { source_name: String, frame: u64 },
    #[error("{source_name}: unsupported frame size {width}x{height} or bit depth {bit_depth}")]
    UnsupportedFormat { source_name: String, width: usize, height: usize, bit_depth: u8 },
}
