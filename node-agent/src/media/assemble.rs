//! Joining a rung's encoded chunks, in chunk order, into one mp4 — stream copy, no re-encode.
//!
//! ffmpeg's concat demuxer reads the chunks one after another and offsets each one's
//! timestamps by the durations before it, so the result's timestamps are contiguous. Each
//! chunk starts with an IDR frame, so the join needs no re-encode. A constant-rate chunk lasts
//! its frames; a chunk that keeps the source's frame times is given its span (`duration` in the
//! list), the time from its first frame to the next chunk's.

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::mp4_samples::video_sample_count;
use super::process::{Tool, ToolCommand, ToolError, ToolProgress, run_with_progress};

/// What to join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssembleParams {
    /// Rung name, for messages.
    pub rung: String,
    /// Encoded chunks, in chunk order.
    pub chunks: Vec<PathBuf>,
    /// The joined mp4.
    pub output: PathBuf,
    /// With kept frame times, each chunk's span in µs (same order): chunk k starts at the sum
    /// of the spans before it ([`crate::media::frame_timing`]). Empty: constant rate, each
    /// chunk after the whole duration of the one before.
    #[serde(default)]
    pub spans_us: Vec<u64>,
}

/// What the join produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssembleResult {
    pub rung: String,
    pub output: PathBuf,
    /// Packets in the joined video stream (one per frame).
    pub frames: u64,
    pub bytes: u64,
    pub seconds: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("rung {rung}: nothing to assemble; pass the encoded chunks in order")]
    NoChunks { rung: String },
    #[error("rung {rung}: chunk {index} ({path}) is missing: {source}")]
    MissingChunk { rung: String, index: usize, path: PathBuf, source: std::io::Error },
    #[error("rung {rung}: chunk path {path} contains a newline or quote; it cannot go into a concat list")]
    UnsafePath { rung: String, path: PathBuf },
    #[error("rung {rung}: {spans} chunk spans for {chunks} chunks; pass one span per chunk, or none for a constant rate")]
    Spans { rung: String, spans: usize, chunks: usize },
    #[error("rung {rung}: assembling cancelled")]
    Cancelled { rung: String },
    #[error("rung {rung}: {source}")]
    Tool { rung: String, source: ToolError },
    #[error("rung {rung}: {operation} {path}: {source}")]
    Io { rung: String, operation: &'static str, path: PathBuf, source: std::io::Error },
}

/// Joins `params.chunks` into `params.output`.
pub async fn assemble_rendition(params: &AssembleParams, cancel: &CancellationToken) -> Result<AssembleResult, AssembleError> {
    let started = Instant::now();
    let rung = params.rung.clone();
    if params.chunks.is_empty() {
        return Err(AssembleError::NoChunks { rung });
    }
    if !params.spans_us.is_empty() && params.spans_us.len() != params.chunks.len() {
        return Err(AssembleError::Spans { rung, spans: params.spans_us.len(), chunks: params.chunks.len() });
    }
    let mut list = String::from("ffconcat version 1.0\n");
    for (index, chunk) in params.chunks.iter().enumerate() {
        std::fs::metadata(chunk).map_err(|source| AssembleError::MissingChunk { rung: rung.clone(), index, path: chunk.clone(), source })?;
        let absolute = std::path::absolute(chunk).map_err(|source| AssembleError::Io { rung: rung.clone(), operation: "resolving", path: chunk.clone(), source })?;
        let text = absolute.display().to_string();
        if text.contains(['\n', '\r', '\'']) {
            return Err(AssembleError::UnsafePath { rung, path: chunk.clone() });
        }
        list.push_str(&format!("file '{text}'\n"));
        if let Some(span) = params.spans_us.get(index) {
            list.push_str(&format!("duration {}.{:06}\n", span / 1_000_000, span % 1_000_000));
        }
    }
    if let Some(parent) = params.output.parent() {
        std::fs::create_dir_all(parent).map_err(|source| AssembleError::Io { rung: rung.clone(), operation: "creating", path: parent.to_owned(), source })?;
    }
    let list_path = params.output.with_extension("concat.txt");
    std::fs::write(&list_path, list).map_err(|source| AssembleError::Io { rung: rung.clone(), operation: "writing", path: list_path.clone(), source })?;
    let command = ToolCommand::new(Tool::Ffmpeg).args([
        "-hide_banner".to_owned(),
        "-nostdin".to_owned(),
        "-nostats".to_owned(),
        "-y".to_owned(),
        "-progress".to_owned(),
        "pipe:1".to_owned(),
        "-f".to_owned(),
        "concat".to_owned(),
        "-safe".to_owned(),
        "0".to_owned(),
        "-i".to_owned(),
        list_path.display().to_string(),
        "-map".to_owned(),
        "0:v:0".to_owned(),
        "-c".to_owned(),
        "copy".to_owned(),
        // No `+faststart`: the joined file is an intermediate that validation and packaging
        // read whole from a local disk, and moving its index to the front rewrote the file.
        params.output.display().to_string(),
    ]);
    let outcome = run_with_progress(&command, cancel, &mut |_: ToolProgress| {}).await;
    let _ = std::fs::remove_file(&list_path);
    if let Err(error) = outcome {
        let _ = std::fs::remove_file(&params.output);
        return Err(match error {
            ToolError::Cancelled { .. } => AssembleError::Cancelled { rung },
            source => AssembleError::Tool { rung, source },
        });
    }
    let frames = video_sample_count(&params.output).map_err(|error| AssembleError::Io {
        rung: rung.clone(),
        operation: "counting the frames of",
        path: params.output.clone(),
        source: std::io::Error::other(error.to_string()),
    })?;
    let bytes = std::fs::metadata(&params.output).map(|metadata| metadata.len()).unwrap_or(0);
    let result = AssembleResult { rung, output: params.output.clone(), frames, bytes, seconds: started.elapsed().as_secs_f64() };
    tracing::info!(rung = %result.rung, chunks = params.chunks.len(), frames, "rendition assembled");
    Ok(result)
}
