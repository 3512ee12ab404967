//! Checking one encoded chunk right after its encode, before it is uploaded: every frame of the
//! encoded file decoded and fingerprinted ([`super::frame_analysis::decode_frame_files`] for
//! the renditions of a chunk together, [`super::frame_analysis::decode_fingerprints`] for one
//! alone) and
//! compared in order with the source's fingerprints of exactly the chunk's frame range (read
//! from the inspection, [`super::frame_stream`]), by the kernels' [`SequenceComparator`]. A
//! frame dropped, duplicated or reordered inside the chunk or at its ends, or a chunk encoded
//! from the wrong frame range, is a [`ChunkMismatch`] naming the rung, the chunk, the source
//! frame and the fault. What passed ([`VerifiedChunk`]: the frame count, the fingerprints of
//! the first and last frames as decoded from this file, and the digest of its samples,
//! [`super::sample_digest`]) goes into the encode output, where the validate task's
//! join check ([`super::validate`]) finds it again in the assembled rendition.
//!
//! The renditions an encode task made of one chunk are decoded together, in one ffmpeg run
//! ([`check_chunk_renditions`]), and each checked from its frames.
//!
//! This is the frame-by-frame half of validation, spread over the encode tasks; nothing
//! decodes a whole rendition any more.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::Codec;
use shotfarm_kernels::fingerprint::Fingerprint;
use shotfarm_kernels::frame_sequence::{FrameFault, MatchTolerance, SequenceComparator, SequenceComparison};
use tokio_util::sync::CancellationToken;

use super::artifacts::ArtifactError;
use super::chunking::FrameRange;
use super::frame_analysis::{DecodePassError, FrameFileDecode, decode_fingerprints, decode_frame_files, send_frame_file_fingerprints};
use super::frame_stream::{FramesWithin, stream_frames};
use super::process::ToolError;
use super::sample_digest::{SampleDigestError, digest_all_samples};

/// What to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkCheckParams {
    /// Rung name, for messages.
    pub rung: String,
    /// The rung's codec (how its samples are digested).
    pub codec: Codec,
    pub chunk: u32,
    /// The encoded chunk.
    pub encoded: PathBuf,
    /// The source frames the chunk must hold, in order.
    pub frames: FrameRange,
    /// The source's frames: a `frames.json` from inspect, or the inspection document that
    /// holds them (`source_frames_within`).
    pub source_frames: PathBuf,
    #[serde(default)]
    pub source_frames_within: FramesWithin,
    /// The rung was tone-mapped from an HDR source to SDR: it is compared with the source's
    /// tone-mapped fingerprints.
    #[serde(default)]
    pub tone_mapped: bool,
    #[serde(default)]
    pub tolerance: Option<MatchTolerance>,
}

/// A chunk that holds exactly its source frames: what the join check needs of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifiedChunk {
    pub frames: u64,
    /// Its first and last frames as decoded from the encoded file.
    pub first_fingerprint: Fingerprint,
    pub last_fingerprint: Fingerprint,
    /// Fingerprint distance to the source frame of the same index: the worst and the mean.
    pub max_fingerprint_distance: f32,
    pub mean_fingerprint_distance: f32,
    /// The digest of the file's video samples ([`super::sample_digest`]): the bytes decoded.
    pub samples_sha256: String,
}

/// A chunk that does not hold exactly its source frames, precisely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkMismatch {
    pub rung: String,
    pub chunk: u32,
    /// The source frame where it went wrong (the chunk's frame of that index), when it is
    /// about a frame.
    pub source_frame: Option<u64>,
    /// What went wrong there, when the fingerprints tell.
    pub fault: Option<FrameFault>,
    pub message: String,
}

impl std::fmt::Display for ChunkMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "chunk {} of rung {} failed validation: {}", self.chunk, self.rung, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChunkCheckError {
    #[error("{0}")]
    Mismatch(Box<ChunkMismatch>),
    #[error("checking the encoded chunk cancelled")]
    Cancelled,
    #[error("decoding the encoded chunk: {0}")]
    Tool(ToolError),
    #[error("decoding the encoded chunk: {0}")]
    Decode(String),
    #[error("reading the source frames: {0}")]
    Artifact(#[from] ArtifactError),
    #[error("reading the encoded chunk's samples: {0}")]
    Samples(#[from] SampleDigestError),
    #[error("a chunk check thread stopped: {0}")]
    Thread(String),
}

/// Fingerprints in flight between a reader and the comparison (144 bytes each).
const COMPARISON_QUEUE_FRAMES: usize = 256;

/// Checks `params.encoded`, decoding it in a run of its own; see the module docs.
pub async fn check_chunk(params: &ChunkCheckParams, cancel: &CancellationToken) -> Result<VerifiedChunk, ChunkCheckError> {
    check_frames_of(params, EncodedFrames::Decode, cancel).await
}

/// Checks the renditions of one chunk, `checks` (what one encode task made), decoding all of
/// them in one ffmpeg run ([`decode_frame_files`]) into raw frame files under `scratch`, each
/// then checked as [`check_chunk`] checks it. When that run fails, each rendition is decoded
/// and checked again in a run of its own, so the error names the rendition at fault.
pub async fn check_chunk_renditions(checks: &[ChunkCheckParams], scratch: &Path, cancel: &CancellationToken) -> Result<Vec<VerifiedChunk>, ChunkCheckError> {
    // Up to twice the chunk's frames are written: enough to tell how many a rendition has too
    // many, never a disk filled by a runaway file.
    let files: Vec<FrameFileDecode> = checks
        .iter()
        .enumerate()
        .map(|(index, check)| FrameFileDecode {
            encoded: check.encoded.clone(),
            frame_file: scratch.join(format!("chunk-check-{index}.gray")),
            most_frames: 2 * check.frames.len() + 16,
        })
        .collect();
    let decoded = decode_frame_files(&files, cancel).await;
    let verified = match decoded {
        Ok(_) => {
            let each = checks.iter().zip(&files).map(|(check, file)| check_frames_of(check, EncodedFrames::File(file.frame_file.clone()), cancel));
            futures::future::try_join_all(each).await
        }
        Err(error) if error.is_cancelled() => Err(ChunkCheckError::Cancelled),
        Err(error) => {
            tracing::warn!(%error, renditions = checks.len(), "decoding a chunk's renditions together failed; checking each alone");
            futures::future::try_join_all(checks.iter().map(|check| check_chunk(check, cancel))).await
        }
    };
    for file in &files {
        let _ = tokio::fs::remove_file(&file.frame_file).await;
    }
    verified
}

/// Where a check's decoded frames of the encoded chunk come from.
enum EncodedFrames {
    /// A decode of its own, streamed as it runs.
    Decode,
    /// A raw frame file [`decode_frame_files`] wrote.
    File(PathBuf),
}

async fn check_frames_of(params: &ChunkCheckParams, frames: EncodedFrames, cancel: &CancellationToken) -> Result<VerifiedChunk, ChunkCheckError> {
    let mismatch = |source_frame: Option<u64>, fault: Option<FrameFault>, message: String| {
        ChunkCheckError::Mismatch(Box::new(ChunkMismatch { rung: params.rung.clone(), chunk: params.chunk, source_frame, fault, message }))
    };
    let (source_prints, source_queue) = mpsc::sync_channel::<Fingerprint>(COMPARISON_QUEUE_FRAMES);
    let (output_prints, output_queue) = mpsc::sync_channel::<Fingerprint>(COMPARISON_QUEUE_FRAMES);
    let source_reader = tokio::task::spawn_blocking({
        let (path, within, range, tone_mapped) = (params.source_frames.clone(), params.source_frames_within, params.frames, params.tone_mapped);
        move || read_source_range(&path, within, range, tone_mapped, &source_prints)
    });
    let tolerance = params.tolerance.unwrap_or_default();
    let comparison = tokio::task::spawn_blocking(move || compare_streams(&source_queue, &output_queue, tolerance));
    let digest = tokio::task::spawn_blocking({
        let (path, codec) = (params.encoded.clone(), params.codec);
        move || digest_all_samples(&path, codec)
    });
    let thread_failed = |error: tokio::task::JoinError| ChunkCheckError::Thread(error.to_string());
    let decoded = match frames {
        EncodedFrames::Decode => decode_fingerprints(&params.encoded, output_prints, cancel).await.map(drop),
        EncodedFrames::File(frame_file) => tokio::task::spawn_blocking(move || send_frame_file_fingerprints(&frame_file, &output_prints)).await.map_err(thread_failed)?,
    };
    let without_sdr_twin = source_reader.await.map_err(thread_failed)??;
    let (comparison, ends) = comparison.await.map_err(thread_failed)?;
    let samples_sha256 = digest.await.map_err(thread_failed)??;
    match decoded {
        Ok(_) => {}
        Err(DecodePassError::Tool(error)) if error.is_cancelled() => return Err(ChunkCheckError::Cancelled),
        Err(DecodePassError::Tool(error)) => return Err(ChunkCheckError::Tool(error)),
        Err(error) => return Err(ChunkCheckError::Decode(format!("{} of rung {}: {error}", params.encoded.display(), params.rung))),
    }
    if without_sdr_twin {
        return Err(mismatch(None, None, "the rung is tone-mapped to SDR but the inspection has no tone-mapped fingerprints of the source (it was not inspected as HDR)".to_owned()));
    }
    let start = params.frames.start;
    if let Some(found) = &comparison.first_mismatch {
        let at = start + found.output_frame as u64;
        let what = match (found.fault, found.best_source_frame) {
            (FrameFault::Dropped, Some(best)) => format!("it shows source frame {}: source frame(s) {at}..{} were dropped or reordered", start + best as u64, start + best as u64),
            (FrameFault::Duplicated, Some(best)) => format!("it shows source frame {} again: a frame was duplicated or reordered", start + best as u64),
            _ => "it does not look like any nearby source frame (the chunk holds other frames than its range)".to_owned(),
        };
        return Err(mismatch(
            Some(at),
            Some(found.fault),
            format!(
                "{} frame: its frame {} should be source frame {at} (fingerprint distance {:.2}); {what} (the chunk has {} frames, its range {}..{} has {})",
                fault_name(found.fault),
                found.output_frame,
                found.distance_to_expected,
                comparison.output_frames,
                params.frames.start,
                params.frames.end,
                comparison.source_frames
            ),
        ));
    }
    let expected = params.frames.len();
    let frames = comparison.output_frames as u64;
    if comparison.source_frames as u64 != expected {
        return Err(mismatch(None, None, format!("the source has {} of the chunk's frames {}..{}; the inspection and the plan disagree", comparison.source_frames, params.frames.start, params.frames.end)));
    }
    if frames != expected {
        let (at, message) = if frames < expected {
            (start + frames, format!("dropped frames: the chunk has {frames} frames; its range {}..{} has {expected}: its last {} source frame(s) are missing", params.frames.start, params.frames.end, expected - frames))
        } else {
            (params.frames.end, format!("duplicated frames: the chunk has {frames} frames; its range {}..{} has {expected}: {} extra frame(s) at its end", params.frames.start, params.frames.end, frames - expected))
        };
        let fault = if frames < expected { FrameFault::Dropped } else { FrameFault::Duplicated };
        return Err(mismatch(Some(at), Some(fault), message));
    }
    let Some((first_fingerprint, last_fingerprint)) = ends else {
        return Err(mismatch(None, None, "the encoded chunk decodes to no frames".to_owned()));
    };
    Ok(VerifiedChunk {
        frames,
        first_fingerprint,
        last_fingerprint,
        max_fingerprint_distance: comparison.max_distance,
        mean_fingerprint_distance: comparison.mean_distance,
        samples_sha256,
    })
}

/// How a fault reads in a message.
pub fn fault_name(fault: FrameFault) -> &'static str {
    match fault {
        FrameFault::Dropped => "dropped",
        FrameFault::Duplicated => "duplicated",
        FrameFault::Different => "different",
    }
}

/// Streams the source's fingerprints of `range` (tone-mapped ones for a tone-mapped rung) to
/// `prints`, stopping after its last frame; returns whether a tone-mapped comparison found a
/// frame without its SDR fingerprint.
fn read_source_range(path: &Path, within: FramesWithin, range: FrameRange, tone_mapped: bool, prints: &mpsc::SyncSender<Fingerprint>) -> Result<bool, ChunkCheckError> {
    let mut index = 0u64;
    let mut without_sdr_twin = false;
    stream_frames(path, within, &mut |frame| {
        let at = index;
        index += 1;
        if at < range.start {
            return true;
        }
        if at >= range.end {
            return false;
        }
        let print = match (tone_mapped, frame.sdr_fingerprint) {
            (false, _) => frame.fingerprint,
            (true, Some(sdr)) => sdr,
            (true, None) => {
                without_sdr_twin = true;
                return false;
            }
        };
        prints.send(print).is_ok() && at + 1 < range.end
    })?;
    Ok(without_sdr_twin)
}

/// Feeds the comparator from both queues, taking next from the side that is behind, until
/// both are closed; also returns the first and last output fingerprints.
fn compare_streams(source: &mpsc::Receiver<Fingerprint>, output: &mpsc::Receiver<Fingerprint>, tolerance: MatchTolerance) -> (SequenceComparison, Option<(Fingerprint, Fingerprint)>) {
    let mut comparator = SequenceComparator::new(tolerance);
    let mut ends: Option<(Fingerprint, Fingerprint)> = None;
    let (mut source_open, mut output_open) = (true, true);
    while source_open || output_open {
        let (sources, outputs) = comparator.pushed();
        if source_open && (!output_open || sources <= outputs) {
            match source.recv() {
                Ok(print) => comparator.push_source(print),
                Err(_) => source_open = false,
            }
        } else {
            match output.recv() {
                Ok(print) => {
                    match &mut ends {
                        Some((_, last)) => *last = print.clone(),
                        None => ends = Some((print.clone(), print.clone())),
                    }
                    comparator.push_output(print);
                }
                Err(_) => output_open = false,
            }
        }
    }
    (comparator.finish(), ends)
}
