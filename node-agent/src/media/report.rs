//! `report.json`: what a job produced and how it went. The media stages fill source facts,
//! warnings and per-rendition facts; the scheduler side fills chunk attempts and job timings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shotfarm_proto::pipeline::{QualityStats, ReportedRendition};

use super::inspect::{InspectWarning, SourceFacts};
use super::ladder_report::LadderReport;
use super::package::{PackageResult, SegmentBitrate};
use super::probe::Rational;
use super::probe::ColourTags;
use super::validate::ValidationReport;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    pub version: u32,
    pub job_id: Option<String>,
    pub source: SourceFacts,
    pub warnings: Vec<InspectWarning>,
    pub renditions: Vec<RenditionReport>,
    pub audio: Option<AudioReport>,
    pub chunks: Vec<ChunkReport>,
    /// VMAF per shot and rung (filled when the job scored its chunks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shots: Vec<ShotQuality>,
    /// Per-title and per-shot jobs: the hull, and each rung predicted beside measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<LadderReport>,
    pub timings: JobTimings,
    /// The saved recipe the job was submitted with, when it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<RecipeReport>,
    /// How the outputs are encrypted (scheme, key ids, DRM systems; never a key), when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<super::package::encryption::ProtectionSummary>,
}

/// The exact recipe a job ran with: its name, version and the job's resolved settings (the
/// recipe's with the submission's fields over them), as the scheduler recorded them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecipeReport {
    pub name: String,
    pub version: u32,
    #[serde(default)]
    pub settings: serde_json::Value,
}

impl JobReport {
    pub const VERSION: u32 = 1;
}

/// One video rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionReport {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub codec: String,
    pub codecs_string: String,
    pub profile: Option<String>,
    pub bitrate_kbps: u32,
    pub peak_bitrate_kbps: u32,
    pub frames: u64,
    pub duration_seconds: f64,
    pub segments: usize,
    pub max_fingerprint_distance: f32,
    pub playlist: String,
    /// Pixel format and colour tags of the rendition (`yuv420p10le`, `bt2020`, `smpte2084`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pix_fmt: Option<String>,
    #[serde(flatten, default)]
    pub colour: ColourTags,
    /// Tone-mapped from the HDR source to SDR BT.709 (an H.264 rung of an HDR source).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tone_mapped: bool,
    /// Quality over every scored frame of the rendition (absent when nothing was scored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<RenditionQuality>,
    /// The rendition's frame rate, and whether it is constant. Every decoded source frame is
    /// in it once, in order. A variable-rate source with usable timestamps
    /// (`source.video.keeps_frame_times`) gives renditions that keep each frame's time
    /// (`constant_frame_rate: false`, `frame_rate` the average), each checked by validation;
    /// any other is constant rate, one frame every `1 / frame_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<Rational>,
    #[serde(default = "constant")]
    pub constant_frame_rate: bool,
    /// Each media segment's bitrate, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_bitrates: Vec<SegmentBitrate>,
}

fn constant() -> bool {
    true
}

impl RenditionReport {
    /// What the report task answers the scheduler about this rendition (GetJob shows it).
    pub fn summary(&self) -> ReportedRendition {
        ReportedRendition {
            name: self.name.clone(),
            codec: self.codec.clone(),
            codecs_string: self.codecs_string.clone(),
            width: self.width,
            height: self.height,
            bitrate_kbps: self.bitrate_kbps,
            peak_bitrate_kbps: self.peak_bitrate_kbps,
            quality: self.quality.as_ref().map(|quality| quality.stats),
            frames_scored: self.quality.as_ref().map_or(0, |quality| quality.frames_scored),
        }
    }
}

/// A rendition's quality against the source, pooled over all its frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionQuality {
    #[serde(flatten)]
    pub stats: QualityStats,
    /// Frames scored (the source's frame count when every chunk was scored).
    pub frames_scored: u64,
}

/// One chunk's quality in one rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkQuality {
    pub rung: String,
    #[serde(flatten)]
    pub stats: QualityStats,
}

/// One shot (frames `[start_frame, end_frame)`) and its VMAF in each rung.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShotQuality {
    pub index: u32,
    pub start_frame: u64,
    pub end_frame: u64,
    pub vmaf: Vec<ShotRungVmaf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShotRungVmaf {
    pub rung: String,
    pub mean: f64,
    pub harmonic_mean: f64,
    pub min: f64,
    pub p1: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioReport {
    pub codecs_string: String,
    pub bitrate_kbps: u32,
    pub duration_seconds: f64,
    pub offset_from_video_seconds: f64,
    pub playlist: String,
}

/// One chunk and the attempts at each of its rungs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkReport {
    pub index: u32,
    pub start_frame: u64,
    pub end_frame: u64,
    pub attempts: Vec<ChunkAttempt>,
    /// Per-rung quality of this chunk (filled when the job scored its chunks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<ChunkQuality>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkAttempt {
    /// Rung names this attempt encoded.
    pub rungs: Vec<String>,
    pub attempt: u32,
    pub node: Option<String>,
    pub backend: Option<String>,
    pub seconds: f64,
    /// `succeeded`, or the error.
    pub outcome: String,
}

/// Wall-clock seconds per stage (`inspect`, `encode`, `assemble`, `validate`, `package`…) and
/// for the whole job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobTimings {
    pub stages: BTreeMap<String, f64>,
    pub total_seconds: f64,
    /// Every task but the report's own, with the tasks it waited for and each attempt's
    /// node, times and CPU: the measured task graph (`shotfarm bench pipeline` replays it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskTiming>,
}

/// One task of the job as it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskTiming {
    pub task_id: u64,
    /// `inspect`, `encode`, `score`, `assemble`, `validate`, `package`…
    pub kind: String,
    /// The tasks that had to succeed before this one was ready.
    pub deps: Vec<u64>,
    /// The CPU it asks of a node on the CPU backend (millicores), as placement counts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_milli: Option<u32>,
    pub attempts: Vec<AttemptTiming>,
}

/// One finished attempt of a task: leased at `started_at_ms`, its result applied at
/// `finished_at_ms` (the scheduler's clock, milliseconds since the Unix epoch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptTiming {
    pub attempt: u32,
    pub node: String,
    pub started_at_ms: u64,
    pub finished_at_ms: u64,
    /// User + system CPU the agent measured for the attempt (its ffmpeg children and its
    /// own threads working for it); absent when it failed or was not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// `succeeded`, or why it ended.
    pub outcome: String,
}

/// Builds the rendition part of the report from validation and packaging results (matched by
/// rung name; a rendition missing from either is left out).
pub fn rendition_reports(validations: &[ValidationReport], package: &PackageResult, output_dir: &Path) -> Vec<RenditionReport> {
    validations
        .iter()
        .filter_map(|validation| {
            let packaged = package.renditions.iter().find(|packaged| packaged.name == validation.rung)?;
            Some(RenditionReport {
                name: validation.rung.clone(),
                width: validation.width,
                height: validation.height,
                codec: validation.codec.clone(),
                codecs_string: packaged.codecs.clone(),
                profile: validation.profile.clone(),
                bitrate_kbps: validation.bitrate_kbps,
                peak_bitrate_kbps: (packaged.peak_bitrate_bps / 1000) as u32,
                frames: validation.frames,
                duration_seconds: validation.duration_seconds,
                segments: packaged.segments,
                max_fingerprint_distance: validation.max_fingerprint_distance,
                playlist: relative(&packaged.playlist, output_dir),
                pix_fmt: validation.pix_fmt.clone(),
                colour: validation.colour.clone(),
                tone_mapped: validation.tone_mapped,
                quality: None,
                frame_rate: validation.frame_rate,
                // What validation checked: contiguous timestamps at `frame_rate`, or each
                // frame at its source frame's time.
                constant_frame_rate: !validation.keeps_frame_times,
                segment_bitrates: packaged.segment_bitrates.clone(),
            })
        })
        .collect()
}

/// The audio part of the report.
pub fn audio_report(package: &PackageResult, output_dir: &Path) -> Option<AudioReport> {
    let audio = package.audio.as_ref()?;
    Some(AudioReport {
        codecs_string: audio.codecs.clone(),
        bitrate_kbps: (audio.average_bitrate_bps / 1000) as u32,
        duration_seconds: audio.duration_seconds,
        offset_from_video_seconds: package.audio_video_offset_seconds.unwrap_or(0.0),
        playlist: relative(&audio.playlist, output_dir),
    })
}

fn relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base).unwrap_or(path).display().to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing report {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Writes `report` as pretty JSON to `path` (temp file, then rename).
pub fn write_report(report: &JobReport, path: &Path) -> Result<(), ReportError> {
    let write_error = |source| ReportError::Write { path: path.to_owned(), source };
    let json = serde_json::to_vec_pretty(report).map_err(|error| write_error(std::io::Error::other(error)))?;
    let temporary = path.with_extension("json.partial");
    std::fs::write(&temporary, json).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(write_error)
}
