//! The backend trait and the types of an encode call.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::media::inspect::Chunk;
use shotfarm_proto::pipeline::{Codec, Rung};
use crate::media::probe::Rational;
use crate::media::source_picture::SourcePicture;
use crate::media::process::{ToolError, ToolProgress};

/// Encoder knobs shared by all rungs of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderSettings {
    /// x264/x265 preset (`ultrafast` … `veryslow`); SVT-AV1 maps it to its numeric presets.
    pub preset: String,
    /// A keyframe every this many frames from the chunk's start (the HLS segment length).
    pub keyframe_interval_frames: u32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self { preset: "medium".to_owned(), keyframe_interval_frames: 96 }
    }
}

/// One output of an encode call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkOutput {
    pub rung: Rung,
    /// Where the encoded chunk (mp4) is written.
    pub path: PathBuf,
    /// A constant-quality setting (CRF) instead of the rung's bitrate: capped by the rung's
    /// maxrate and bufsize when they are set (a per-shot rung), uncapped otherwise (a trial).
    #[serde(default)]
    pub constant_quality: Option<f64>,
}

impl ChunkOutput {
    /// An output at the rung's bitrate.
    pub fn new(rung: Rung, path: PathBuf) -> Self {
        ChunkOutput { rung, path, constant_quality: None }
    }

    /// The same output at a constant-quality setting.
    pub fn at_setting(self, setting: f64) -> Self {
        ChunkOutput { constant_quality: Some(setting), ..self }
    }
}

/// An encode call: one chunk, one or more rungs. One rung per call is the (chunk, rung) task
/// of the design; several rungs per call share one decode of the chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodeChunkParams {
    pub source: PathBuf,
    pub chunk: Chunk,
    /// The constant output rate ([`crate::media::inspect::VideoFacts::frame_rate`]).
    pub frame_rate: Rational,
    pub outputs: Vec<ChunkOutput>,
    #[serde(default)]
    pub settings: EncoderSettings,
    /// The source's stream, rotation and deinterlacing ([`crate::media::inspect::VideoFacts::picture`]).
    #[serde(default)]
    pub picture: SourcePicture,
}

/// How the decode of the chunk started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DecodeStart {
    /// Seeked to the chunk's keyframe.
    Seek { keyframe: u64 },
    /// Decoded from frame 0.
    FromStart,
    /// The seek landed on the wrong frame; the encode was redone from frame 0.
    FellBackToStart { keyframe: u64 },
    /// No decode at all (the fake backend).
    NotApplicable,
}

/// One encoded output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodedOutput {
    pub rung: String,
    pub path: PathBuf,
    pub frames: u64,
    pub bytes: u64,
}

/// What an encode call returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncodeChunkResult {
    pub backend: String,
    pub chunk: u32,
    pub outputs: Vec<EncodedOutput>,
    pub decode_start: DecodeStart,
    pub seconds: f64,
}

/// What a backend can encode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendCapabilities {
    pub codecs: Vec<Codec>,
    /// Most rungs one call may carry.
    pub max_outputs_per_call: usize,
    pub hardware: bool,
}

/// Why an encode call failed.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("backend {backend} cannot encode {codec:?}: {reason}")]
    Unsupported { backend: String, codec: Codec, reason: String },
    #[error("bad encode request: {0}")]
    InvalidRequest(String),
    #[error("the source cannot be decoded for chunk {chunk}: {message}")]
    Input { chunk: u32, message: String },
    #[error("encode of chunk {chunk} cancelled")]
    Cancelled { chunk: u32 },
    #[error("encoder failed on chunk {chunk}: {source}")]
    Tool { chunk: u32, source: ToolError },
    #[error("chunk {chunk} rung {rung}: {message}")]
    FrameMismatch { chunk: u32, rung: String, message: String },
    #[error("{operation} {path}: {source}")]
    Io { operation: &'static str, path: PathBuf, source: std::io::Error },
}

/// Called with progress while a chunk encodes.
pub type ProgressCallback<'a> = &'a (dyn Fn(ToolProgress) + Send + Sync);

/// The future an encode call returns (boxed so the trait stays object safe).
pub type EncodeFuture<'a> = Pin<Box<dyn Future<Output = Result<EncodeChunkResult, EncodeError>> + Send + 'a>>;

/// An encoder the agent can run chunks on.
pub trait EncodeBackend: Send + Sync + std::fmt::Debug {
    /// `cpu`, `nvenc`, `fake`…
    fn name(&self) -> &str;
    fn capabilities(&self) -> &BackendCapabilities;
    /// Encodes `params.chunk` into every output, or fails leaving no output file.
    fn encode_chunk<'a>(&'a self, params: &'a EncodeChunkParams, progress: ProgressCallback<'a>, cancel: &'a CancellationToken) -> EncodeFuture<'a>;
}

/// Checks a request against a backend's capabilities and the basic invariants, before any
/// work starts. Every backend calls this first.
pub fn check_request(backend: &dyn EncodeBackend, params: &EncodeChunkParams) -> Result<(), EncodeError> {
    let capabilities = backend.capabilities();
    if params.outputs.is_empty() {
        return Err(EncodeError::InvalidRequest(format!("chunk {} has no outputs; give at least one rung", params.chunk.index)));
    }
    if params.outputs.len() > capabilities.max_outputs_per_call {
        return Err(EncodeError::InvalidRequest(format!(
            "{} outputs in one call; backend {} takes at most {}",
            params.outputs.len(),
            backend.name(),
            capabilities.max_outputs_per_call
        )));
    }
    if params.chunk.frames.is_empty() {
        return Err(EncodeError::InvalidRequest(format!("chunk {} is empty ({:?})", params.chunk.index, params.chunk.frames)));
    }
    if params.settings.keyframe_interval_frames == 0 {
        return Err(EncodeError::InvalidRequest("keyframe interval is 0 frames; use at least 1".to_owned()));
    }
    for output in &params.outputs {
        if !capabilities.codecs.contains(&output.rung.codec) {
            return Err(EncodeError::Unsupported {
                backend: backend.name().to_owned(),
                codec: output.rung.codec,
                reason: format!("it offers {:?}", capabilities.codecs),
            });
        }
        if output.rung.width < 2 || output.rung.height < 2 || output.rung.width % 2 == 1 || output.rung.height % 2 == 1 {
            return Err(EncodeError::InvalidRequest(format!("rung {} is {}x{}; sizes must be even and at least 2x2", output.rung.name, output.rung.width, output.rung.height)));
        }
    }
    Ok(())
}
