//! Validating an assembled rendition against the source: the same number of frames, each
//! one the source's frame of the same index (fingerprints, so a dropped, duplicated or
//! reordered frame at any chunk boundary is caught and located), contiguous timestamps (or, with
//! kept frame times, each frame at its source frame's time), and the codec, size and bitrate
//! the rung asked for.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use shotfarm_kernels::fingerprint::Fingerprint;
use shotfarm_kernels::frame_sequence::{FrameFault, MatchTolerance, SequenceComparator, SequenceComparison};
use tokio_util::sync::CancellationToken;

use super::artifacts::ArtifactError;
use super::frame_analysis::{DecodePassError, decode_fingerprints};
use super::frame_stream::{FramesWithin, stream_frames};
use shotfarm_proto::pipeline::Rung;
use super::probe::{ColourTags, ProbeError, Rational, parse_number, probe_file};
use super::process::ToolError;

/// Largest difference between an output frame's time and its source frame's, both from their
/// first frames, when the rendition keeps the source's frame times: 1 ms, far under any
/// frame's duration and far over the roundings on the way (90 kHz, µs).
const KEPT_TIME_TOLERANCE_SECONDS: f64 = 0.001;

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
    /// Fingerprint distance to the source frame of the same index: the worst and the mean.
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
    // The source's fingerprints are read from the file and the rendition's come out of its
    // decode while a third thread compares them: neither side is ever held whole (see the
    // module docs). The probe runs meanwhile; its verdicts still come first below.
    let (source_prints, source_queue) = mpsc::sync_channel::<Fingerprint>(COMPARISON_QUEUE_FRAMES);
    let (output_prints, output_queue) = mpsc::sync_channel::<Fingerprint>(COMPARISON_QUEUE_FRAMES);
    let source_reader = tokio::task::spawn_blocking({
        let (path, within, tone_mapped) = (params.source_frames.clone(), params.source_frames_within, params.tone_mapped);
        move || read_source(&path, within, tone_mapped, &source_prints)
    });
    let tolerance = params.tolerance.unwrap_or_default();
    let comparison = tokio::task::spawn_blocking(move || compare_streams(&source_queue, &output_queue, tolerance));
    let (probe, decoded) = tokio::join!(probe_file(&params.rendition, false, cancel), decode_fingerprints(&params.rendition, output_prints, cancel));
    let thread_failed = |error: tokio::task::JoinError| ValidateError::Thread(error.to_string());
    let source = source_reader.await.map_err(thread_failed)??;
    let comparison = comparison.await.map_err(thread_failed)?;
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

    let decoded = match decoded {
        Ok(decoded) => decoded,
        Err(DecodePassError::Tool(error)) if error.is_cancelled() => return Err(ValidateError::Cancelled),
        Err(DecodePassError::Tool(error)) => return Err(ValidateError::Tool(error)),
        Err(error) => return Err(fail(name, None, error.to_string())),
    };
    if source.without_sdr_twin {
        return Err(fail(name, None, "the rung is tone-mapped to SDR but the inspection has no tone-mapped fingerprints of the source (it was not inspected as HDR)".to_owned()));
    }
    if let Some(mismatch) = &comparison.first_mismatch {
        let what = match (mismatch.fault, mismatch.best_source_frame) {
            (FrameFault::Dropped, Some(best)) => format!("it shows source frame {best}: source frame(s) {}..{best} were dropped or reordered", mismatch.output_frame),
            (FrameFault::Duplicated, Some(best)) => format!("it shows source frame {best} again: a frame was duplicated or reordered"),
            _ => "it does not look like any nearby source frame".to_owned(),
        };
        return Err(fail(
            name,
            Some(mismatch.output_frame as u64),
            format!(
                "output frame {} should be source frame {} (fingerprint distance {:.2}); {what} (rendition has {} frames, source {})",
                mismatch.output_frame, mismatch.output_frame, mismatch.distance_to_expected, comparison.output_frames, comparison.source_frames
            ),
        ));
    }
    if comparison.output_frames != comparison.source_frames {
        let (frame, message) = if comparison.output_frames < comparison.source_frames {
            (comparison.output_frames as u64, format!("the rendition has {} frames; the source has {}: the last {} source frame(s) are missing", comparison.output_frames, comparison.source_frames, comparison.source_frames - comparison.output_frames))
        } else {
            (comparison.source_frames as u64, format!("the rendition has {} frames; the source has {}: {} extra frame(s) at the end", comparison.output_frames, comparison.source_frames, comparison.output_frames - comparison.source_frames))
        };
        return Err(fail(name, Some(frame), message));
    }

    let frame_duration = f64::from(params.frame_rate.den) / f64::from(params.frame_rate.num);
    if params.keeps_frame_times {
        check_kept_times(name, &decoded.times, &source.times)?;
    } else {
        check_constant_rate(name, &decoded.times, frame_duration)?;
    }

    let frames = comparison.output_frames as u64;
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
        max_fingerprint_distance: comparison.max_distance,
        mean_fingerprint_distance: comparison.mean_distance,
        seconds: started.elapsed().as_secs_f64(),
        frame_rate: Some(params.frame_rate),
        keeps_frame_times: params.keeps_frame_times,
    };
    tracing::info!(rung = %report.rung, frames, max_distance = report.max_fingerprint_distance, "rendition validated");
    Ok(report)
}

/// Fingerprints in flight between a reader and the comparison (144 bytes each).
const COMPARISON_QUEUE_FRAMES: usize = 256;

/// What reading the source's frames leaves besides the fingerprints it sent: each frame's
/// time, and whether a tone-mapped comparison found a frame without its SDR fingerprint.
struct SourceRead {
    times: Vec<Option<f64>>,
    without_sdr_twin: bool,
}

/// Streams the source's fingerprints (tone-mapped ones for a tone-mapped rung) to `prints`.
fn read_source(path: &Path, within: FramesWithin, tone_mapped: bool, prints: &mpsc::SyncSender<Fingerprint>) -> Result<SourceRead, ValidateError> {
    let mut read = SourceRead { times: Vec::new(), without_sdr_twin: false };
    stream_frames(path, within, &mut |frame| {
        read.times.push(frame.pts_seconds);
        let print = match (tone_mapped, frame.sdr_fingerprint) {
            (false, _) => frame.fingerprint,
            (true, Some(sdr)) => sdr,
            (true, None) => {
                read.without_sdr_twin = true;
                return false;
            }
        };
        prints.send(print).is_ok()
    })?;
    Ok(read)
}

/// Feeds the comparator from both queues, taking next from the side that is behind, until
/// both are closed.
fn compare_streams(source: &mpsc::Receiver<Fingerprint>, output: &mpsc::Receiver<Fingerprint>, tolerance: MatchTolerance) -> SequenceComparison {
    let mut comparator = SequenceComparator::new(tolerance);
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
                Ok(print) => comparator.push_output(print),
                Err(_) => output_open = false,
            }
        }
    }
    comparator.finish()
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
