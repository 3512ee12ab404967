//! Validating an assembled rendition against the source with a cheap join check, no full
//! decode: the frame-by-frame comparison happened chunk by chunk in the encode tasks
//! ([`super::chunk_check`]), so what is left is to show the rendition is exactly those
//! verified chunks, in order, joined without a frame lost or added:
//!
//! - the chunks (from the plan, each with what its encode verified) follow one another from
//!   frame 0 to the source's last, each holding the frames its range has;
//! - the rendition's sample table ([`super::mp4_samples::video_timeline`], read from the box
//!   tree) has the source's frame count, and every chunk's first frame is a sync sample where
//!   the chunks before it end;
//! - its timestamps are contiguous at the constant rate, or, for a source whose renditions keep
//!   its frame times, every frame is at its source frame's time within 1 ms (from the same
//!   table);
//! - the first frame of every chunk, decoded from the rendition by seeking to the chunk's
//!   keyframe ([`super::frame_analysis::decode_keyframe_fingerprints`]: many chunks in one
//!   ffmpeg run), is the frame its
//!   encode verified and matches the source's frame at that index
//!   ([`shotfarm_kernels::frame_sequence::judge_lone_frame`]); decoding it also shows the
//!   parameter sets the join put in force for the chunk are its own;
//! - every sample of every chunk is, byte for byte, what its encode decoded and compared with
//!   the source ([`super::sample_digest`]: one SHA-256 per chunk, read from the rendition
//!   without decoding; the parameter sets the join writes into keyframes left out), so its
//!   last frame is the one its encode verified (the chunk before a misplaced one is left to
//!   the misplaced verdict, which says where frames were lost or added);
//! - the codec, size and bitrate are what the rung asked for.
//!
//! So a frame dropped, duplicated or reordered at any chunk boundary, a chunk left out, joined
//! twice or out of order, or a chunk encoded from the wrong frame range is caught by one of the
//! two halves, and located.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::fingerprint::Fingerprint;
use shotfarm_kernels::frame_sequence::{FrameFault, MatchTolerance, judge_lone_frame};
use tokio_util::sync::CancellationToken;

use super::artifacts::ArtifactError;
use super::chunk_check::fault_name;
use super::chunking::FrameRange;
use super::frame_analysis::{DecodePassError, decode_keyframe_fingerprints};
use super::keyframe_seek::KeyframeSeek;
use super::frame_stream::{FramesWithin, stream_frames};
use super::mp4_samples::{VideoTimeline, video_timeline};
use shotfarm_proto::pipeline::Rung;
use super::probe::{ColourTags, ProbeError, Rational, parse_number, probe_file};
use super::process::ToolError;
use super::sample_digest::digest_sample_runs;

/// Largest difference between an output frame's time and its source frame's, both from their
/// first frames, when the rendition keeps the source's frame times: 1 ms, far under any
/// frame's duration and far over the roundings on the way (90 kHz, µs).
const KEPT_TIME_TOLERANCE_SECONDS: f64 = 0.001;

/// Largest fingerprint distance between a chunk's boundary frame decoded from the rendition
/// and the one its encode decoded from the chunk's own file: the same bitstream through the
/// same decoder and scaler, so normally identical (the encoder's landing check's bound).
const VERIFIED_MATCH_DISTANCE: f32 = 0.25;

/// One chunk of the rendition as its encode verified it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinedChunk {
    pub index: u32,
    /// The source frames it holds.
    pub frames: FrameRange,
    /// The frame count its encode verified.
    pub verified_frames: u64,
    /// Its first and last frames as its encode decoded them.
    pub first_fingerprint: Fingerprint,
    pub last_fingerprint: Fingerprint,
    /// The digest of the encoded file's video samples ([`super::sample_digest`]).
    pub samples_sha256: String,
}

/// What to validate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateParams {
    pub rung: Rung,
    /// The assembled rendition.
    pub rendition: PathBuf,
    /// The source's frames: a `frames.json` from inspect, or the inspection document that
    /// holds them (`source_frames_within`).
    pub source_frames: PathBuf,
    #[serde(default)]
    pub source_frames_within: FramesWithin,
    /// The constant rate the rendition must have (the average when it keeps the source's
    /// frame times).
    pub frame_rate: Rational,
    /// Each frame must be at its source frame's presentation time instead
    /// ([`crate::media::frame_timing`]).
    #[serde(default)]
    pub keeps_frame_times: bool,
    #[serde(default)]
    pub tolerance: Option<MatchTolerance>,
    /// The rung was tone-mapped from an HDR source to SDR: it is compared with the source's
    /// tone-mapped fingerprints.
    #[serde(default)]
    pub tone_mapped: bool,
    /// The rendition's chunks, in order.
    pub chunks: Vec<JoinedChunk>,
}

/// A passed validation: the facts that go into the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    pub rung: String,
    pub codec: String,
    pub profile: Option<String>,
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub duration_seconds: f64,
    pub bitrate_kbps: u32,
    /// The rendition's pixel format and colour tags as ffprobe reads them.
    #[serde(default)]
    pub pix_fmt: Option<String>,
    #[serde(flatten, default)]
    pub colour: ColourTags,
    /// Tone-mapped from an HDR source to SDR BT.709.
    #[serde(default)]
    pub tone_mapped: bool,
    /// Fingerprint distance of the chunks' boundary frames to the source frames of the same
    /// index: the worst and the mean.
    pub max_fingerprint_distance: f32,
    pub mean_fingerprint_distance: f32,
    pub seconds: f64,
    /// The rate the rendition's timestamps were checked at: one frame every `1 / frame_rate`
    /// seconds, or the average rate when the rendition keeps the source's frame times.
    #[serde(default)]
    pub frame_rate: Option<Rational>,
    /// Every frame was checked at its source frame's presentation time (a variable-rate
    /// source); otherwise the rendition is constant rate.
    #[serde(default)]
    pub keeps_frame_times: bool,
    /// Chunks joined, and the frames the join check decoded (each chunk's first).
    #[serde(default)]
    pub chunks: u64,
    #[serde(default)]
    pub decoded_frames: u64,
}

/// A failed check, precisely.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationFailure {
    pub rung: String,
    /// The output frame where it went wrong, when it is about a frame.
    pub frame: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "rendition {} failed validation: {}", self.rung, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("{0}")]
    Failed(Box<ValidationFailure>),
    #[error("validation cancelled")]
    Cancelled,
    #[error("decoding the rendition: {0}")]
    Tool(ToolError),
    #[error("reading the source frames: {0}")]
    Artifact(#[from] ArtifactError),
    #[error("probing the rendition: {0}")]
    Probe(String),
    #[error("a validation thread stopped: {0}")]
    Thread(String),
}

impl ValidateError {
    pub fn failure(&self) -> Option<&ValidationFailure> {
        match self {
            ValidateError::Failed(failure) => Some(failure),
            _ => None,
        }
    }
}

fn fail(rung: &str, frame: Option<u64>, message: String) -> ValidateError {
    ValidateError::Failed(Box::new(ValidationFailure { rung: rung.to_owned(), frame, message }))
}

/// Validates `params.rendition`; see the module docs.
pub async fn validate_rendition(params: &ValidateParams, cancel: &CancellationToken) -> Result<ValidationReport, ValidateError> {
    let started = Instant::now();
    let rung = &params.rung;
    let name = rung.name.as_str();
    let tolerance = params.tolerance.unwrap_or_default();
    // The source is read for the frames around every chunk boundary (and every frame's time)
    // and the sample table from the box tree while ffprobe runs; the probe's verdicts come first.
    let wanted = boundary_neighbourhoods(&params.chunks, tolerance.search_window);
    let source_reader = tokio::task::spawn_blocking({
        let (path, within, tone_mapped) = (params.source_frames.clone(), params.source_frames_within, params.tone_mapped);
        move || read_source(&path, within, tone_mapped, &wanted)
    });
    let timeline_reader = tokio::task::spawn_blocking({
        let path = params.rendition.clone();
        move || video_timeline(&path)
    });
    let probe = probe_file(&params.rendition, false, cancel).await;
    let thread_failed = |error: tokio::task::JoinError| ValidateError::Thread(error.to_string());
    let source = source_reader.await.map_err(thread_failed)??;
    let timeline = timeline_reader.await.map_err(thread_failed)?;
    let probe = match probe {
        Ok(probe) => probe,
        Err(ProbeError::Tool(error)) if error.is_cancelled() => return Err(ValidateError::Cancelled),
        Err(error) => return Err(fail(name, None, format!("the rendition cannot be read as video: {error}"))),
    };
    let Some(stream) = probe.streams.iter().find(|stream| stream.is_video()) else {
        return Err(fail(name, None, "the rendition has no video stream".to_owned()));
    };
    let codec = stream.codec_name.clone().unwrap_or_default();
    if codec != rung.codec.as_str() {
        return Err(fail(name, None, format!("codec is {codec}; the rung asked for {}", rung.codec.as_str())));
    }
    let (width, height) = (stream.width.unwrap_or(0), stream.height.unwrap_or(0));
    if (width, height) != (rung.width, rung.height) {
        return Err(fail(name, None, format!("picture is {width}x{height}; the rung asked for {}x{}", rung.width, rung.height)));
    }
    let timeline = timeline.map_err(|error| fail(name, None, format!("the rendition's sample table cannot be read: {error}")))?;
    if source.without_sdr_twin {
        return Err(fail(name, None, "the rung is tone-mapped to SDR but the inspection has no tone-mapped fingerprints of the source (it was not inspected as HDR)".to_owned()));
    }
    let source_frames = source.times.len() as u64;
    check_chunk_plan(name, &params.chunks, source_frames)?;
    // The chunks found in place are checked first, so a fault is reported at the first chunk
    // it touches; a frame lost or added at the end of a chunk moves the next chunk's keyframe,
    // and that verdict (`misplaced`) says where.
    let (in_place, misplaced) = chunks_in_place(name, &params.chunks, &timeline, source_frames);
    let times = timeline.presentation_seconds();
    let boundaries = check_boundaries(params, &params.chunks[..in_place], misplaced.is_some(), &times, &source.prints, &tolerance, cancel).await?;
    if let Some(misplaced) = misplaced {
        return Err(misplaced);
    }
    let frames = timeline.samples() as u64;
    if frames != source_frames {
        let (frame, message) = if frames < source_frames {
            (frames, format!("the rendition has {frames} frames; the source has {source_frames}: the last {} source frame(s) are missing", source_frames - frames))
        } else {
            (source_frames, format!("the rendition has {frames} frames; the source has {source_frames}: {} extra frame(s) at the end", frames - source_frames))
        };
        return Err(fail(name, Some(frame), message));
    }

    let frame_duration = params.frame_rate.period_seconds();
    let frame_times: Vec<Option<f64>> = times.iter().copied().map(Some).collect();
    if params.keeps_frame_times {
        check_kept_times(name, &frame_times, &source.times)?;
    } else {
        check_constant_rate(name, &frame_times, frame_duration)?;
    }

    let duration_seconds = frames as f64 * frame_duration;
    let bytes = std::fs::metadata(&params.rendition).map(|metadata| metadata.len()).unwrap_or(0);
    let bitrate_kbps = parse_number::<u64>(stream.bit_rate.as_ref())
        .map(|bps| (bps / 1000) as u32)
        .unwrap_or_else(|| if duration_seconds > 0.0 { (bytes as f64 * 8.0 / duration_seconds / 1000.0) as u32 } else { 0 });
    // VBV bounds the average: at most maxrate plus one buffer over the whole duration.
    let limit_kbps = f64::from(rung.maxrate_kbps) * 1.05 + f64::from(rung.bufsize_kbps) / duration_seconds.max(0.001);
    if f64::from(bitrate_kbps) > limit_kbps {
        return Err(fail(
            name,
            None,
            format!("average bitrate is {bitrate_kbps} kb/s; the rung's VBV (maxrate {} kb/s, buffer {} kbit) allows at most {limit_kbps:.0} kb/s over {duration_seconds:.2}s", rung.maxrate_kbps, rung.bufsize_kbps),
        ));
    }
    let report = ValidationReport {
        rung: rung.name.clone(),
        codec,
        profile: stream.profile.clone(),
        width,
        height,
        frames,
        duration_seconds,
        bitrate_kbps,
        pix_fmt: stream.pix_fmt.clone(),
        colour: stream.colour.clone(),
        tone_mapped: params.tone_mapped,
        max_fingerprint_distance: boundaries.max_distance,
        mean_fingerprint_distance: boundaries.mean_distance,
        seconds: started.elapsed().as_secs_f64(),
        frame_rate: Some(params.frame_rate),
        keeps_frame_times: params.keeps_frame_times,
        chunks: params.chunks.len() as u64,
        decoded_frames: boundaries.decoded_frames,
    };
    tracing::info!(rung = %report.rung, frames, chunks = report.chunks, decoded_frames = report.decoded_frames, max_distance = report.max_fingerprint_distance, "rendition validated");
    Ok(report)
}

/// The source frames the boundary checks look at: each chunk's first frame and
/// `search_window` frames on either side (a first frame's verdict), and its last frame (the
/// distance of the one its encode verified).
fn boundary_neighbourhoods(chunks: &[JoinedChunk], search_window: usize) -> BTreeSet<u64> {
    let window = search_window as u64;
    let mut wanted = BTreeSet::new();
    for chunk in chunks {
        wanted.extend(chunk.frames.start.saturating_sub(window)..=chunk.frames.start + window);
        wanted.insert(chunk.frames.end.saturating_sub(1));
    }
    wanted
}

/// What validation reads of the source: every frame's time (a few bytes a frame), the
/// fingerprints around the chunk boundaries, and whether a tone-mapped comparison found a
/// frame without its SDR fingerprint.
struct SourceRead {
    times: Vec<Option<f64>>,
    prints: BTreeMap<u64, Fingerprint>,
    without_sdr_twin: bool,
}

/// Reads the source's frames, keeping the fingerprints (tone-mapped ones for a tone-mapped
/// rung) of the frames in `wanted`.
fn read_source(path: &Path, within: FramesWithin, tone_mapped: bool, wanted: &BTreeSet<u64>) -> Result<SourceRead, ValidateError> {
    let mut read = SourceRead { times: Vec::new(), prints: BTreeMap::new(), without_sdr_twin: false };
    stream_frames(path, within, &mut |frame| {
        let index = read.times.len() as u64;
        read.times.push(frame.pts_seconds);
        if wanted.contains(&index) {
            let print = match (tone_mapped, frame.sdr_fingerprint) {
                (false, _) => frame.fingerprint,
                (true, Some(sdr)) => sdr,
                (true, None) => {
                    read.without_sdr_twin = true;
                    return false;
                }
            };
            read.prints.insert(index, print);
        }
        true
    })?;
    Ok(read)
}

/// The chunks follow one another from frame 0 to the source's last, each as long as its
/// encode verified.
fn check_chunk_plan(name: &str, chunks: &[JoinedChunk], source_frames: u64) -> Result<(), ValidateError> {
    let mut next = 0u64;
    for chunk in chunks {
        if chunk.frames.start != next || chunk.frames.is_empty() {
            return Err(fail(name, Some(next), format!("chunk {} holds source frames {}..{}; the chunk before it ends at frame {next}: the plan's chunks do not follow one another", chunk.index, chunk.frames.start, chunk.frames.end)));
        }
        if chunk.verified_frames != chunk.frames.len() {
            return Err(fail(name, Some(chunk.frames.start), format!("chunk {}'s encode verified {} frames; its range {}..{} has {}", chunk.index, chunk.verified_frames, chunk.frames.start, chunk.frames.end, chunk.frames.len())));
        }
        next = chunk.frames.end;
    }
    if next != source_frames {
        return Err(fail(name, Some(next), format!("the chunks cover source frames 0..{next}; the source has {source_frames}")));
    }
    Ok(())
}

/// How many chunks, from the first, the rendition's sample table holds in place (each
/// starting with a sync sample where the chunks before it end, and ending within the table);
/// and, where one is not, why.
fn chunks_in_place(name: &str, chunks: &[JoinedChunk], timeline: &VideoTimeline, source_frames: u64) -> (usize, Option<ValidateError>) {
    let samples = timeline.samples() as u64;
    for (position, chunk) in chunks.iter().enumerate() {
        let (start, end) = (chunk.frames.start, chunk.frames.end);
        let message = if start >= samples || end > samples {
            format!("the rendition has {samples} frames (the source {source_frames}): it ends inside or before chunk {} (source frames {start}..{end}), whose last frames are missing", chunk.index)
        } else if !timeline.sync[start as usize] {
            format!(
                "chunk {} should start at rendition frame {start} with a keyframe, but that frame is not one: frames were dropped or added before it (the rendition has {samples} frames, the source {source_frames})",
                chunk.index
            )
        } else {
            continue;
        };
        return (position, Some(fail(name, Some(start.min(samples)), message)));
    }
    (chunks.len(), None)
}

/// What the boundary checks found.
struct BoundaryCheck {
    decoded_frames: u64,
    max_distance: f32,
    mean_distance: f32,
}

/// Checks each of `chunks` (found in place in the rendition), in order: its first frame,
/// decoded from the rendition, is the frame its encode verified and the source's frame of that
/// index; its samples are the bytes its encode verified, so its last frame is the one the
/// encode compared with the source's. When the chunk after the last of `chunks` is
/// `misplaced_after`, the last one's samples are left to that verdict, which says where the
/// frames were lost or added.
async fn check_boundaries(
    params: &ValidateParams,
    chunks: &[JoinedChunk],
    misplaced_after: bool,
    times: &[f64],
    source: &BTreeMap<u64, Fingerprint>,
    tolerance: &MatchTolerance,
    cancel: &CancellationToken,
) -> Result<BoundaryCheck, ValidateError> {
    let name = params.rung.name.as_str();
    let frame_duration = params.frame_rate.period_seconds();
    let digests = tokio::task::spawn_blocking({
        let (path, codec, runs) = (params.rendition.clone(), params.rung.codec, chunks.iter().map(|chunk| chunk.frames.start as usize..chunk.frames.end as usize).collect::<Vec<_>>());
        move || digest_sample_runs(&path, codec, &runs)
    });
    let seeks: Vec<KeyframeSeek> = chunks
        .iter()
        .map(|chunk| {
            let at = chunk.frames.start as usize;
            let gap = times.get(at + 1).map_or(frame_duration, |next| next - times[at]);
            KeyframeSeek::halfway_past(times[at], gap)
        })
        .collect();
    let first_frames = match decode_keyframe_fingerprints(&params.rendition, &seeks, cancel).await {
        Ok(first_frames) => first_frames,
        Err(DecodePassError::Tool(error)) if error.is_cancelled() => return Err(ValidateError::Cancelled),
        Err(DecodePassError::Tool(error)) => return Err(ValidateError::Tool(error)),
        Err(error) => return Err(fail(name, None, format!("decoding the chunks' first frames: {error}"))),
    };
    let digests = digests.await.map_err(|error| ValidateError::Thread(error.to_string()))?.map_err(|error| fail(name, None, format!("the rendition's samples cannot be read: {error}")))?;
    let mut found = BoundaryCheck { decoded_frames: 0, max_distance: 0.0, mean_distance: 0.0 };
    let mut sum_distance = 0f64;
    for (position, ((chunk, digest), shown)) in chunks.iter().zip(&digests).zip(first_frames).enumerate() {
        let start = chunk.frames.start;
        let Some(shown) = shown else {
            return Err(fail(name, Some(start), format!("decoding chunk {} from its keyframe at rendition frame {start} gave no frame", chunk.index)));
        };
        found.decoded_frames += 1;
        let at_source = |index: usize| source.get(&(index as u64)).cloned();
        let verdict = judge_lone_frame(&shown, start as usize, &at_source, tolerance);
        let own = source.get(&start).map_or(f32::INFINITY, |expected| shown.distance(expected));
        let from_verified = shown.distance(&chunk.first_fingerprint);
        if verdict.is_some() || from_verified > VERIFIED_MATCH_DISTANCE {
            let what = match verdict {
                Some(mismatch) => match (mismatch.fault, mismatch.best_source_frame) {
                    (FrameFault::Dropped, Some(best)) => format!("{} frames: it shows source frame {best} (source frame(s) {start}..{best} dropped or reordered)", fault_name(FrameFault::Dropped)),
                    (FrameFault::Duplicated, Some(best)) => format!("{} or reordered frames: it shows source frame {best}", fault_name(FrameFault::Duplicated)),
                    _ => "a different frame: it does not look like any nearby source frame (a chunk out of order or from the wrong frame range)".to_owned(),
                },
                None => format!("not the frame the chunk's encode verified (fingerprint distance {from_verified:.2}): the rendition does not hold that encode's chunk there"),
            };
            return Err(fail(name, Some(start), format!("the first frame of chunk {} (rendition frame {start}) should be source frame {start} (fingerprint distance {own:.2}); it is {what}", chunk.index)));
        }
        if *digest != chunk.samples_sha256 && !(misplaced_after && position + 1 == chunks.len()) {
            return Err(fail(
                name,
                Some(start),
                format!(
                    "rendition frames {start}..{} are not the samples chunk {}'s encode verified (their SHA-256 differs): a frame of it was changed, added, dropped or reordered, or another file was joined there; assemble the rung again",
                    chunk.frames.end,
                    chunk.index
                ),
            ));
        }
        let last = chunk.frames.end - 1;
        let last_distance = source.get(&last).map_or(f32::INFINITY, |expected| chunk.last_fingerprint.distance(expected));
        found.max_distance = found.max_distance.max(own).max(last_distance);
        sum_distance += f64::from(own) + f64::from(last_distance);
    }
    found.mean_distance = if chunks.is_empty() { 0.0 } else { (sum_distance / (2 * chunks.len()) as f64) as f32 };
    Ok(found)
}

/// Contiguous timestamps, one frame every `frame_duration` seconds.
fn check_constant_rate(name: &str, times: &[Option<f64>], frame_duration: f64) -> Result<(), ValidateError> {
    for (index, pair) in times.windows(2).enumerate() {
        match (pair[0], pair[1]) {
            (Some(a), Some(b)) if ((b - a) - frame_duration).abs() <= frame_duration * 0.25 => {}
            (a, b) => {
                return Err(fail(
                    name,
                    Some(index as u64 + 1),
                    format!("timestamps are not contiguous at output frame {}: {a:?} then {b:?}, expected steps of {frame_duration:.6}s", index + 1),
                ));
            }
        }
    }
    Ok(())
}

/// Every frame at its source frame's time, both counted from their first frames, within
/// [`KEPT_TIME_TOLERANCE_SECONDS`] (the 90 kHz and µs roundings on the way are far smaller).
fn check_kept_times(name: &str, times: &[Option<f64>], source_times: &[Option<f64>]) -> Result<(), ValidateError> {
    let (Some(Some(first)), Some(Some(source_first))) = (times.first(), source_times.first()) else {
        return Err(fail(name, Some(0), "the first frame has no timestamp; the rendition should keep the source's frame times".to_owned()));
    };
    for (index, (time, source_time)) in times.iter().zip(source_times).enumerate() {
        let (Some(time), Some(source_time)) = (time, source_time) else {
            return Err(fail(name, Some(index as u64), format!("output frame {index} has no timestamp (or its source frame has none); the rendition should keep the source's frame times")));
        };
        let (shown, expected) = (time - first, source_time - source_first);
        if (shown - expected).abs() > KEPT_TIME_TOLERANCE_SECONDS {
            return Err(fail(
                name,
                Some(index as u64),
                format!("output frame {index} is shown at {shown:.6}s; its source frame is at {expected:.6}s (from the first frame): the source's frame times were not kept"),
            ));
        }
    }
    Ok(())
}
