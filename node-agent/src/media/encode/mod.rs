//! Encoding one chunk into one or more rungs, behind a backend trait.
//!
//! | module | what it does |
//! | --- | --- |
//! | [`backend`] | [`EncodeBackend`], the request/result types, [`EncodeError`] |
//! | [`cpu`] | the `cpu` backend: ffmpeg with libx264 / libx265 / libsvtav1 |
//! | [`fake`] | a deterministic backend for the conformance suite and scheduler tests |
//! | [`conformance`] | the checks every backend must pass: success, cancel mid-task, corrupt input, capability mismatch |
//!
//! The contract: exactly the source frames `[start, end)` of the chunk, in decoded order, each
//! output starting with an IDR frame, closed GOPs, keyframes every `keyframe_interval_frames`
//! counted from the chunk start and nowhere else (so segments align across rungs), constant
//! frame rate at the job's rate. A cancelled or failed call leaves no output file behind.
//! An NVENC backend will implement the same trait behind the `nvenc` feature.

pub mod backend;
pub mod conformance;
pub mod cpu;
pub mod fake;

pub use backend::{BackendCapabilities, ChunkOutput, DecodeStart, EncodeBackend, EncodeChunkParams, EncodeChunkResult, EncodeError, EncodedOutput, EncoderSettings};
pub use cpu::CpuBackend;
pub use fake::FakeBackend;
