//! The score stage: VMAF (vmaf_v0.6.1), PSNR-Y and SSIM of one or more encodes of a chunk against
//! exactly the source frames `[start, end)` they were made from, through the kernels crate, each
//! pooled into its [`QualitySummary`]. The source frames are decoded once for all the encodes
//! ([`vmaf_streams_against_one_reference`]).
//!
//! Each encoded chunk is decoded and upscaled to the source's size with bit-exact bicubic
//! ([`ffmpeg_decoder::open_as`]); the reference frames come from [`super::source_range`], which
//! seeks to the chunk's keyframe like the encoder does and verifies where it landed (a wrong
//! landing is scored again from frame 0). Every probe and decode runs the programs the caller
//! names ([`ScoreParams::programs`]). This runs on a blocking thread; cancellation stops the
//! frame sources at the next frame, and a counter says how many source frames were scored so far.
//!
//! A rendition's chunk ([`score_chunk`]) gets VMAF, PSNR-Y and SSIM of every frame; a trial of
//! the analysis ([`score_trials`], all of a task's together) VMAF alone, of every n-th frame (its rate–quality curve needs
//! nothing else, and SSIM alone costs as much as VMAF).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use shotfarm_kernels::backend::BackendRequest;
use shotfarm_kernels::decode::decode_error::DecodeError;
use shotfarm_kernels::decode::ffmpeg_decoder::{self, probe_stream_format};
use shotfarm_kernels::decode::ffmpeg_programs::FfmpegPrograms;
use shotfarm_kernels::decode::frame_source::FrameSource;
use shotfarm_kernels::frame::{Frame, FrameFormat};
use shotfarm_kernels::{FeatureSelection, VmafError, VmafOptions, VmafReport, vmaf_streams_against_one_reference};
use shotfarm_proto::pipeline::QualitySummary;
use tokio_util::sync::CancellationToken;

use super::quality::{VmafStats, chunk_summary};
use super::source_range::{SourceRange, check_boundaries};

/// What to score.
#[derive(Debug, Clone)]
pub struct ScoreParams {
    /// The ffmpeg and ffprobe every probe and decode runs.
    pub programs: FfmpegPrograms,
    /// The chunk's source frames (the reference).
    pub range: SourceRange,
    /// The encoded chunks (the distorted streams), scored together against one decode of the
    /// range; each gets its own score, in this order.
    pub encoded: Vec<PathBuf>,
    pub backend: BackendRequest,
}

/// A scored chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkScore {
    pub quality: QualitySummary,
    /// Frames scored per second.
    pub fps: f64,
    /// The metric backend that ran.
    pub backend: String,
}

/// A scored trial: its VMAF over the frames scored.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialScore {
    pub vmaf: VmafStats,
    /// Frames scored per second.
    pub fps: f64,
}

/// Why a chunk could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("probing the source for scoring: {0}")]
    Probe(DecodeError),
    #[error("decoding the source frames: {0}")]
    Reference(DecodeError),
    #[error("the encoded chunk {} cannot be decoded: {source}", path.display())]
    Encoded { path: PathBuf, source: DecodeError },
    #[error("decoding the encoded chunk {}: {source}", path.display())]
    EncodedStream { path: PathBuf, source: DecodeError },
    /// The reference frames were not the chunk's (count or boundary fingerprints).
    #[error("the source frames of the chunk could not be decoded exactly: {0}")]
    Landing(String),
    #[error("vmaf cannot score this chunk: {0}")]
    Unscorable(VmafError),
    #[error("vmaf cannot score the encoded chunk {}: {source}", path.display())]
    UnscorableEncode { path: PathBuf, source: VmafError },
    #[error("vmaf failed: {0}")]
    Vmaf(VmafError),
    #[error("scoring chunk {chunk} produced {frames} frames without complete PSNR/SSIM")]
    Incomplete { chunk: u32, frames: usize },
    #[error("cancelled")]
    Cancelled,
}

/// Scores each encode of a rendition's chunk on this (blocking) thread: VMAF, PSNR-Y and SSIM of
/// every frame; one score per encoded chunk, in [`ScoreParams::encoded`]'s order. `scored`
/// counts the source frames scored so far.
pub fn score_chunk(params: &ScoreParams, scored: &Arc<AtomicU64>, cancel: &CancellationToken) -> Result<Vec<ChunkScore>, ScoreError> {
    let options = VmafOptions { threads: 0, features: FeatureSelection { psnr: true, ssim: true }, backend: params.backend, ..VmafOptions::default() };
    let reports = measured(params, &options, scored, cancel)?;
    reports
        .into_iter()
        .map(|report| {
            let per_frame_vmaf: Vec<f64> = report.frames.iter().map(|frame| frame.vmaf).collect();
            let psnr_y: Vec<f64> = report.frames.iter().filter_map(|frame| frame.psnr.map(|psnr| psnr[0])).collect();
            let ssim: Vec<f64> = report.frames.iter().filter_map(|frame| frame.ssim).collect();
            let quality = chunk_summary(per_frame_vmaf, &psnr_y, &ssim).ok_or(ScoreError::Incomplete { chunk: params.range.chunk.index, frames: report.frames.len() })?;
            Ok(ChunkScore { quality, fps: report.fps, backend: report.backend })
        })
        .collect()
}

/// Scores trials of the analysis on this (blocking) thread: VMAF alone, of every
/// `subsample`-th frame (each with the VMAF a full run gives it); one score per encoded trial,
/// in [`ScoreParams::encoded`]'s order.
pub fn score_trials(params: &ScoreParams, subsample: u64, scored: &Arc<AtomicU64>, cancel: &CancellationToken) -> Result<Vec<TrialScore>, ScoreError> {
    let options = VmafOptions { threads: 0, backend: params.backend, subsample, ..VmafOptions::default() };
    let reports = measured(params, &options, scored, cancel)?;
    reports
        .into_iter()
        .map(|report| {
            let per_frame_vmaf: Vec<f64> = report.frames.iter().map(|frame| frame.vmaf).collect();
            let vmaf = VmafStats::of(&per_frame_vmaf).ok_or(ScoreError::Unscorable(VmafError::Empty))?;
            Ok(TrialScore { vmaf, fps: report.fps })
        })
        .collect()
}

/// The reports of `options` on this thread, one per encoded chunk: seeking first, again from
/// frame 0 if the seek landed wrong.
fn measured(params: &ScoreParams, options: &VmafOptions, scored: &Arc<AtomicU64>, cancel: &CancellationToken) -> Result<Vec<VmafReport>, ScoreError> {
    let stored = probe_stream_format(&params.programs.ffprobe, &params.range.source, &params.range.picture.probe_selector()).map_err(ScoreError::Probe)?;
    // The reference comes out turned as the source's picture says; the chunk is scaled to that.
    let turned = if params.range.picture.swaps_sides() { FrameFormat { width: stored.height, height: stored.width, ..stored } } else { stored };
    // A rung tone-mapped to SDR is scored against the source tone-mapped the same way, in 8 bits.
    let format = if params.range.tone_map { FrameFormat { bit_depth: 8, ..turned } } else { turned };
    match score_once(params, &params.range, format, options, scored, cancel) {
        Err(ScoreError::Landing(message)) if params.range.seeks() && !cancel.is_cancelled() => {
            tracing::warn!(chunk = params.range.chunk.index, %message, "the source seek landed on the wrong frame; scoring from frame 0");
            scored.store(0, Ordering::Relaxed);
            let from_start = SourceRange { use_seek: false, ..params.range.clone() };
            score_once(params, &from_start, format, options, scored, cancel)
        }
        outcome => outcome,
    }
    .map_err(|error| if cancel.is_cancelled() { ScoreError::Cancelled } else { error })
}

fn score_once(params: &ScoreParams, range: &SourceRange, format: FrameFormat, options: &VmafOptions, scored: &Arc<AtomicU64>, cancel: &CancellationToken) -> Result<Vec<VmafReport>, ScoreError> {
    let reference = range.open(&params.programs, format).map_err(ScoreError::Reference)?;
    let reference = Cancellable { inner: Box::new(reference), cancel: cancel.clone(), delivered: Some(Arc::clone(scored)) };
    let mut distorted: Vec<Box<dyn FrameSource>> = Vec::with_capacity(params.encoded.len());
    for path in &params.encoded {
        let decoder = ffmpeg_decoder::open_as(&params.programs, path, format).map_err(|source| ScoreError::Encoded { path: path.clone(), source })?;
        distorted.push(Box::new(Cancellable { inner: Box::new(decoder), cancel: cancel.clone(), delivered: None }));
    }
    let reports = vmaf_streams_against_one_reference(Box::new(reference), distorted, options).map_err(|error| scoring_error(error, range, &params.encoded))?;
    check_boundaries(range).map_err(ScoreError::Landing)?;
    Ok(reports)
}

/// What a failed scoring run of `range` against the `encoded` chunks means for the chunk.
fn scoring_error(error: VmafError, range: &SourceRange, encoded: &[PathBuf]) -> ScoreError {
    match error {
        VmafError::Stream { stream, source } => {
            let path = encoded.get(stream).cloned().unwrap_or_default();
            match *source {
                VmafError::FrameCountMismatch { reference, distorted } => {
                    let _ = check_boundaries(range);
                    ScoreError::Landing(format!("{reference} source frames were decoded for a chunk of {} (the encoded chunk {} has {distorted})", range.chunk.frames.len(), path.display()))
                }
                VmafError::Distorted(source) => ScoreError::EncodedStream { path, source },
                source @ (VmafError::Metric { .. } | VmafError::Empty) => ScoreError::UnscorableEncode { path, source },
                other => ScoreError::Vmaf(other),
            }
        }
        VmafError::Reference(error) => ScoreError::Reference(error),
        error @ (VmafError::Metric { .. } | VmafError::Empty) => ScoreError::Unscorable(error),
        error => ScoreError::Vmaf(error),
    }
}

/// A frame source that stops at the next frame once the task is cancelled, and counts what it
/// delivered (for progress; the reference's frames are the frames scored).
struct Cancellable {
    inner: Box<dyn FrameSource>,
    cancel: CancellationToken,
    delivered: Option<Arc<AtomicU64>>,
}

impl FrameSource for Cancellable {
    fn format(&self) -> FrameFormat {
        self.inner.format()
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if self.cancel.is_cancelled() {
            return Err(DecodeError::Io { path: PathBuf::from(self.inner.name()), source: std::io::Error::new(std::io::ErrorKind::Interrupted, "scoring cancelled") });
        }
        let frame = self.inner.next_frame()?;
        if let (Some(counter), Some(_)) = (&self.delivered, &frame) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Ok(frame)
    }

    fn recycle(&mut self, frame: Frame) {
        self.inner.recycle(frame);
    }

    fn name(&self) -> String {
        self.inner.name()
    }
}
