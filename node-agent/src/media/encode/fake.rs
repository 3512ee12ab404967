//! A deterministic backend for the conformance suite and for tests of the code that calls
//! backends (the scheduler's placement, the agent's task runner). It does not decode: it checks
//! that the source starts like a media container, "encodes" one frame per millisecond (so a
//! cancel can land mid-task), and writes a small JSON description per output. It is never
//! chosen to produce real renditions.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::backend::{
    BackendCapabilities, DecodeStart, EncodeBackend, EncodeChunkParams, EncodeChunkResult, EncodeError, EncodeFuture, EncodedOutput, ProgressCallback,
    check_request,
};
use shotfarm_proto::pipeline::Codec;
use crate::media::process::ToolProgress;

/// What the fake writes in place of a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FakeEncodedChunk {
    pub rung: String,
    pub start: u64,
    pub end: u64,
    pub width: u32,
    pub height: u32,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct FakeBackend {
    capabilities: BackendCapabilities,
    frame_time: Duration,
}

impl Default for FakeBackend {
    fn default() -> Self {
        Self {
            capabilities: BackendCapabilities { codecs: vec![Codec::H264], max_outputs_per_call: 8, hardware: false },
            frame_time: Duration::from_millis(1),
        }
    }
}

impl FakeBackend {
    /// A fake that takes `frame_time` per frame.
    pub fn with_frame_time(frame_time: Duration) -> Self {
        Self { frame_time, ..Self::default() }
    }
}

/// Container signatures the fake accepts: ISO BMFF (`ftyp` at byte 4), Matroska/WebM (EBML),
/// MPEG-TS (sync byte every 188 bytes), RIFF (AVI), raw H.264/H.265 (start code).
fn looks_like_media(head: &[u8]) -> bool {
    (head.len() >= 8 && &head[4..8] == b"ftyp")
        || head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
        || (head.len() > 188 && head[0] == 0x47 && head[188] == 0x47)
        || head.starts_with(b"RIFF")
        || head.starts_with(&[0, 0, 0, 1])
}

impl EncodeBackend for FakeBackend {
    fn name(&self) -> &str {
        "fake"
    }

    fn capabilities(&self) -> &BackendCapabilities {
        &self.capabilities
    }

    fn encode_chunk<'a>(&'a self, params: &'a EncodeChunkParams, progress: ProgressCallback<'a>, cancel: &'a CancellationToken) -> EncodeFuture<'a> {
        Box::pin(async move {
            check_request(self, params)?;
            let started = Instant::now();
            let chunk = params.chunk.index;
            let head = tokio::fs::read(&params.source)
                .await
                .map_err(|error| EncodeError::Input { chunk, message: format!("cannot read {}: {error}", params.source.display()) })?;
            if !looks_like_media(&head[..head.len().min(400)]) {
                return Err(EncodeError::Input { chunk, message: format!("{} does not start like a media container", params.source.display()) });
            }
            let frames = params.chunk.frames.len();
            for done in 1..=frames {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => return Err(EncodeError::Cancelled { chunk }),
                    () = tokio::time::sleep(self.frame_time) => {}
                }
                if done % 10 == 0 || done == frames {
                    progress(ToolProgress { frames_done: done, fps: 1.0 / self.frame_time.as_secs_f32().max(1e-6), finished: done == frames });
                }
            }
            let mut outputs = Vec::new();
            for output in &params.outputs {
                let description = FakeEncodedChunk {
                    rung: output.rung.name.clone(),
                    start: params.chunk.frames.start,
                    end: params.chunk.frames.end,
                    width: output.rung.width,
                    height: output.rung.height,
                };
                let json = serde_json::to_vec(&description).map_err(|error| EncodeError::InvalidRequest(error.to_string()))?;
                if let Some(parent) = output.path.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(|source| EncodeError::Io { operation: "creating", path: parent.to_owned(), source })?;
                }
                tokio::fs::write(&output.path, &json).await.map_err(|source| EncodeError::Io { operation: "writing", path: output.path.clone(), source })?;
                outputs.push(EncodedOutput { rung: output.rung.name.clone(), path: output.path.clone(), frames, bytes: json.len() as u64 });
            }
            Ok(EncodeChunkResult { backend: self.name().to_owned(), chunk, outputs, decode_start: DecodeStart::NotApplicable, seconds: started.elapsed().as_secs_f64() })
        })
    }
}
