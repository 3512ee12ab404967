//! The payloads of each task kind: what the scheduler's planner asks for (`TaskSpec`) and
//! what an agent reports back (`TaskOutput`). They travel as JSON in `Assignment.spec_json`
//! and `TaskSucceeded.output_json`; both ends are built from this crate, and unknown fields
//! are refused so that a mismatch fails loudly instead of silently dropping data.
//!
//! Artifacts (chunks, assembled streams, inspection data) live in the job's work area, an
//! object-store prefix; their keys carry the attempt that wrote them, and the output of the
//! successful attempt is what the replicated state records, so a retried task never leaves a
//! half-written or doubled output in use.

use serde::{Deserialize, Serialize};

use crate::analysis::{ChunkTrials, LadderDecision, TrialOutcome, TrialSpec};
use crate::recipe::LadderRecipe;

/// The stages of a job, in pipeline order but for those added later, which come last: the
/// replicated state stores a kind by its place here (postcard), so a kind is only ever added
/// at the end. [`TaskKind::ALL`] lists them in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Inspect,
    /// One segment of a long source decoded and analysed, beside the others; an inspect task
    /// joins them.
    InspectSegment,
    Analyze,
    Ladder,
    Encode,
    Score,
    Assemble,
    Validate,
    Package,
    Report,
    /// The source's audio tracks encoded as AAC renditions, beside the video's stages.
    Audio,
    /// The source's text subtitle tracks converted to WebVTT, beside the video's stages.
    Subtitles,
}

impl TaskKind {
    /// Every kind, in pipeline order.
    pub const ALL: [TaskKind; 12] = [
        TaskKind::Inspect,
        TaskKind::InspectSegment,
        TaskKind::Analyze,
        TaskKind::Ladder,
        TaskKind::Encode,
        TaskKind::Score,
        TaskKind::Assemble,
        TaskKind::Validate,
        TaskKind::Audio,
        TaskKind::Subtitles,
        TaskKind::Package,
        TaskKind::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Inspect => "inspect",
            TaskKind::InspectSegment => "inspect_segment",
            TaskKind::Analyze => "analyze",
            TaskKind::Ladder => "ladder",
            TaskKind::Encode => "encode",
            TaskKind::Score => "score",
            TaskKind::Assemble => "assemble",
            TaskKind::Validate => "validate",
            TaskKind::Audio => "audio",
            TaskKind::Subtitles => "subtitles",
            TaskKind::Package => "package",
            TaskKind::Report => "report",
        }
    }

    /// Its place in pipeline order: its index in [`TaskKind::ALL`].
    pub fn pipeline_position(self) -> usize {
        TaskKind::ALL.iter().position(|kind| *kind == self).unwrap_or(TaskKind::ALL.len())
    }

    pub fn parse(name: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// A video codec of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    H264,
    Hevc,
    Av1,
}

impl Codec {
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Hevc => "hevc",
            Codec::Av1 => "av1",
        }
    }

    pub fn parse(name: &str) -> Option<Codec> {
        match name.to_ascii_lowercase().as_str() {
            "h264" | "avc" => Some(Codec::H264),
            "hevc" | "h265" => Some(Codec::Hevc),
            "av1" => Some(Codec::Av1),
            _ => None,
        }
    }

    /// The ffmpeg software encoder of this codec.
    pub fn software_encoder(self) -> &'static str {
        match self {
            Codec::H264 => "libx264",
            Codec::Hevc => "libx265",
            Codec::Av1 => "libsvtav1",
        }
    }

    /// The ffmpeg NVENC encoder of this codec.
    pub fn nvenc_encoder(self) -> &'static str {
        match self {
            Codec::H264 => "h264_nvenc",
            Codec::Hevc => "hevc_nvenc",
            Codec::Av1 => "av1_nvenc",
        }
    }
}

/// A run of whole shots, frame-exact by decoded frame index: frames `[start_frame, end_frame)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    pub index: u32,
    pub start_frame: u64,
    pub end_frame: u64,
    /// Set when renditions keep the source's frame times (a variable-rate source): µs from
    /// the chunk's first frame to the next chunk's first (the last chunk: to the end of the
    /// source). Assembly places each chunk at the sum of the spans before it. (Always
    /// written: the replicated state stores chunks with postcard, which cannot skip fields.)
    #[serde(default)]
    pub span_us: Option<u64>,
}

impl Chunk {
    pub fn frames(&self) -> u64 {
        self.end_frame.saturating_sub(self.start_frame)
    }
}

/// One rendition of the ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// Stable name, used in keys and playlists: e.g. `h264_720p`.
    pub name: String,
    pub codec: Codec,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub maxrate_kbps: u32,
    pub bufsize_kbps: u32,
}

/// The facts about a source that later stages need (the full inspection lives in an artifact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSummary {
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    pub frame_rate_num: u32,
    pub frame_rate_den: u32,
    pub duration_ms: u64,
    pub has_audio: bool,
    /// The shape of the stored pixels (1:1 unless anamorphic): the ladder's rungs keep the
    /// display aspect with square pixels.
    pub sample_aspect_num: u32,
    pub sample_aspect_den: u32,
}

/// Where one job keeps its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobLocations {
    pub input_url: String,
    pub output_url: String,
    /// Intermediate artifacts: a prefix owned by this job.
    pub work_url: String,
    /// The job may replace what `output_url` already holds (`JobSpec.overwrite`).
    #[serde(default)]
    pub overwrite: bool,
}

/// An artifact written by one attempt of one task: an object-store key under `work_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    pub key: String,
    pub bytes: u64,
}

/// A span of the source's presented frames cut at a keyframe: what one `inspect_segment`
/// task decodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSegment {
    /// Its place among the source's segments, from 0.
    pub index: u32,
    /// Where it starts; `None`: at the source's first frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<SegmentStart>,
    /// The presentation time (in the video stream's time base) of the next segment's first
    /// frame, where this one ends; `None`: the end of the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_pts: Option<i64>,
    /// How many frames the container's index presents within it.
    pub frames: u64,
}

/// Where a segment starts: decoding starts at the keyframe at or before `seek_seconds`, and
/// the segment at the frame presented at `pts` (in the video stream's time base).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentStart {
    pub seek_seconds: f64,
    pub pts: i64,
}

/// A segment and its decode, for the inspect task that joins them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectedSegment {
    pub segment: SourceSegment,
    pub piece: Artifact,
}

/// What the encode task verified of one encoded chunk before it uploaded it: every frame of the
/// encoded file decoded and compared with the source's frame of the same index; how many there
/// were, the fingerprints (lowercase hex, the kernels' `Fingerprint`) of its first and last
/// frames as decoded from that file, and the SHA-256 of its video samples (the agent's
/// `media::sample_digest`), which the validate task's join check finds again in the assembled
/// rendition (empty from an agent older than the digest: validation refuses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkVerification {
    pub frames: u64,
    pub first_fingerprint: String,
    pub last_fingerprint: String,
    #[serde(default)]
    pub samples_sha256: String,
}

/// An encoded chunk as the assemble and validate stages need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodedChunk {
    pub chunk: Chunk,
    pub artifact: Artifact,
    /// What its encode verified (`None` from an encode output that does not say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<ChunkVerification>,
}

/// One rung of an encoded chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodedRendition {
    /// The rung's name.
    pub rung: String,
    pub artifact: Artifact,
    pub frames: u64,
    /// What the encode verified of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<ChunkVerification>,
}

/// One rung of a chunk a score task scores: the rung and its encoded chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenditionToScore {
    pub rung: Rung,
    pub encoded: Artifact,
}

/// The quality of one rung of a scored chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoredRendition {
    /// The rung's name.
    pub rung: String,
    pub quality: QualitySummary,
}

/// One AAC rendition of a source audio track, as players are told of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioRenditionFacts {
    /// Folder under the output root, also its DASH Representation id: `audio/a<N>`, or
    /// `audio/a<N>-stereo` for a downmix (N: the source's audio stream number).
    pub name: String,
    /// BCP 47 (`en`, not the container's `eng`).
    pub language: Option<String>,
    /// HLS `NAME`, DASH `Label`: unique within the ladder.
    pub label: String,
    pub channels: u32,
    /// The default rendition (the source's default track).
    pub default: bool,
    /// The source stream it comes from.
    pub source_stream: u32,
    pub sample_rate: u32,
}

/// An audio rendition encoded whole by the audio task: an MP4 of AAC with no edit list, which
/// packaging cuts into segments by stream copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodedAudio {
    pub rendition: AudioRenditionFacts,
    pub artifact: Artifact,
}

/// One WebVTT rendition of a source text subtitle track, as players are told of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubtitleRenditionFacts {
    /// Folder under the output root, also its DASH Representation id: `subtitles/s<N>` (N: its
    /// index among the source's subtitle streams).
    pub name: String,
    /// BCP 47 (`en`, not the container's `eng`).
    pub language: Option<String>,
    /// HLS `NAME`, DASH `Label`: unique among the subtitle renditions.
    pub label: String,
    /// The default rendition (the first of the source's tracks marked default).
    pub default: bool,
    /// The source stream it comes from.
    pub source_stream: u32,
    /// Its index among the source's subtitle streams (`0:s:N`).
    pub subtitle_index: u32,
    /// The source stream's codec (`subrip`, `ass`, `mov_text`…).
    pub source_codec: String,
}

/// A subtitle rendition converted by the subtitles task: one WebVTT file on the video's
/// timeline, which packaging publishes with a playlist over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncodedSubtitles {
    pub rendition: SubtitleRenditionFacts,
    pub artifact: Artifact,
}

/// What a task is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskSpec {
    /// The source inspected. A long source may come back cut into segments
    /// ([`TaskOutput::InspectSegments`]); the inspect task after their `inspect_segment` tasks
    /// carries each segment's decode in `segments` and joins them.
    Inspect {
        locations: JobLocations,
        chunk_min_ms: u32,
        chunk_max_ms: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        segments: Vec<InspectedSegment>,
    },
    /// One segment of the source decoded and analysed (its piece of the inspection).
    InspectSegment {
        locations: JobLocations,
        segment: SourceSegment,
    },
    Ladder {
        locations: JobLocations,
        source: SourceSummary,
        codecs: Vec<Codec>,
        /// How the ladder is made (the job's checked recipe).
        #[serde(default)]
        recipe: LadderRecipe,
        /// Per-title and per-shot: every analyze task's trials.
        #[serde(default)]
        analysis: Vec<ChunkTrials>,
    },
    /// Trial encodes of one chunk at one size and every setting of the grid, each scored
    /// against the source (per-title and per-shot ladders).
    Analyze {
        locations: JobLocations,
        source: SourceSummary,
        /// The committed inspection (the inspect task's output).
        inspection: Artifact,
        chunk: Chunk,
        codec: Codec,
        trials: Vec<TrialSpec>,
        /// The recipe's encoder preset (the final encodes'); `None`: the farm's default.
        #[serde(default)]
        preset: Option<String>,
    },
    /// One chunk encoded at one or more rungs (the job's `rungs_per_encode`), from one
    /// decode of the chunk.
    Encode {
        locations: JobLocations,
        source: SourceSummary,
        /// The committed inspection (the inspect task's output): chunk seek points, boundary
        /// and per-frame fingerprints.
        inspection: Artifact,
        chunk: Chunk,
        rungs: Vec<Rung>,
        /// The recipe's encoder preset; `None`: the farm's default.
        #[serde(default)]
        preset: Option<String>,
        /// Per-shot: the chunk's constant-quality setting for each rung (same order), capped
        /// by the rung's maxrate and bufsize; empty: the rung's bitrate.
        #[serde(default)]
        settings: Vec<f64>,
    },
    /// One chunk's encodes at one or more rungs of one codec, scored against one decode of
    /// the chunk's source frames.
    Score {
        locations: JobLocations,
        source: SourceSummary,
        /// The committed inspection (the inspect task's output): chunk seek points, boundary
        /// and per-frame fingerprints.
        inspection: Artifact,
        chunk: Chunk,
        renditions: Vec<RenditionToScore>,
    },
    Assemble {
        locations: JobLocations,
        source: SourceSummary,
        rung: Rung,
        chunks: Vec<EncodedChunk>,
    },
    Validate {
        locations: JobLocations,
        source: SourceSummary,
        /// The committed inspection (the inspect task's output): chunk seek points, boundary
        /// and per-frame fingerprints.
        inspection: Artifact,
        rung: Rung,
        stream: Artifact,
        /// The rung's encoded chunks in order, each with what its encode verified: where the
        /// join check looks for chunk boundaries and what it expects there.
        #[serde(default)]
        chunks: Vec<EncodedChunk>,
    },
    /// Every audio track of the source encoded as AAC, each rendition whole, fitted to the
    /// video's frames (planned right after inspection, beside the video's stages).
    Audio {
        locations: JobLocations,
        source: SourceSummary,
    },
    /// Every text subtitle track of the source converted to WebVTT on the video's timeline
    /// (planned right after inspection when it found one, beside the video's stages).
    Subtitles {
        locations: JobLocations,
    },
    Package {
        locations: JobLocations,
        source: SourceSummary,
        /// The committed inspection: the source's shots, which place the poster.
        inspection: Artifact,
        renditions: Vec<(Rung, Artifact)>,
        /// The audio task's renditions (none: the source has no audio).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        audio: Vec<EncodedAudio>,
        /// The subtitles task's renditions (none: the source has no text subtitles).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        subtitles: Vec<EncodedSubtitles>,
        /// Thumbnail sprites and the poster (none: no thumbnails, as before the field existed).
        #[serde(default)]
        thumbnails: Option<crate::thumbnails::ThumbnailOptions>,
        /// Content encryption: the scheme and the key file to read (none: clear).
        #[serde(default)]
        encryption: Option<crate::encryption::EncryptionOptions>,
    },
    Report {
        locations: JobLocations,
        /// The replicated facts of the job (timings, attempts, nodes) as a JSON document, for
        /// report.json.
        job_facts: String,
        /// Every successful task output of the job, in task order, for report.json.
        outputs: Vec<TaskOutput>,
    },
}

impl TaskSpec {
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskSpec::Inspect { .. } => TaskKind::Inspect,
            TaskSpec::InspectSegment { .. } => TaskKind::InspectSegment,
            TaskSpec::Ladder { .. } => TaskKind::Ladder,
            TaskSpec::Analyze { .. } => TaskKind::Analyze,
            TaskSpec::Encode { .. } => TaskKind::Encode,
            TaskSpec::Score { .. } => TaskKind::Score,
            TaskSpec::Assemble { .. } => TaskKind::Assemble,
            TaskSpec::Validate { .. } => TaskKind::Validate,
            TaskSpec::Audio { .. } => TaskKind::Audio,
            TaskSpec::Subtitles { .. } => TaskKind::Subtitles,
            TaskSpec::Package { .. } => TaskKind::Package,
            TaskSpec::Report { .. } => TaskKind::Report,
        }
    }

    /// Where the job keeps its files (every kind carries them).
    pub fn locations(&self) -> &JobLocations {
        match self {
            TaskSpec::Inspect { locations, .. }
            | TaskSpec::InspectSegment { locations, .. }
            | TaskSpec::Ladder { locations, .. }
            | TaskSpec::Analyze { locations, .. }
            | TaskSpec::Encode { locations, .. }
            | TaskSpec::Score { locations, .. }
            | TaskSpec::Assemble { locations, .. }
            | TaskSpec::Validate { locations, .. }
            | TaskSpec::Audio { locations, .. }
            | TaskSpec::Subtitles { locations }
            | TaskSpec::Package { locations, .. }
            | TaskSpec::Report { locations, .. } => locations,
        }
    }
}

/// Quality of a run of frames (a chunk, a rendition) against the source, pooled over its frames.
/// Embedded flat (`#[serde(flatten)]`) wherever it appears, so its fields sit beside the
/// container's own in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityStats {
    pub vmaf_mean: f64,
    pub vmaf_harmonic_mean: f64,
    pub vmaf_min: f64,
    /// 1st percentile of per-frame VMAF.
    pub vmaf_p1: f64,
    /// Mean per-frame PSNR of luma, dB.
    pub psnr_y: f64,
    /// Mean per-frame SSIM.
    pub ssim: f64,
}

/// Per-frame quality of one scored chunk, pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySummary {
    #[serde(flatten)]
    pub stats: QualityStats,
    /// Per-frame VMAF, in chunk frame order.
    pub vmaf_per_frame: Vec<f64>,
}

/// What a successful task reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskOutput {
    Inspect {
        source: SourceSummary,
        chunks: Vec<Chunk>,
        warnings: Vec<String>,
        /// The full inspection (fingerprints, shots, complexity).
        inspection: Artifact,
        /// Per chunk, its spatio-temporal complexity (the frame-weighted mean SI + TI of its
        /// shots): what a per-title analysis samples chunks by. Empty from older agents.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        chunk_complexity: Vec<f64>,
        /// The source holds a text subtitle track: the planner adds a subtitles task. (Not in
        /// [`SourceSummary`], which the replicated state stores with postcard.)
        #[serde(default)]
        text_subtitles: bool,
    },
    /// The source is long enough to be inspected in these segments, each by a task of its
    /// own, side by side.
    InspectSegments {
        segments: Vec<SourceSegment>,
    },
    /// One segment decoded: its piece of the inspection (the agent's `media::video_pieces`).
    InspectSegment {
        segment: SourceSegment,
        piece: Artifact,
    },
    Ladder {
        rungs: Vec<Rung>,
        /// Per-title and per-shot: the hull and why each rung is what it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<LadderDecision>,
    },
    Analyze {
        chunk: Chunk,
        codec: Codec,
        trials: Vec<TrialOutcome>,
    },
    /// One encoded chunk per rung of the spec, in the spec's order.
    Encode {
        chunk: Chunk,
        renditions: Vec<EncodedRendition>,
    },
    /// The quality of each rung of the spec, in the spec's order.
    Score {
        chunk: Chunk,
        renditions: Vec<ScoredRendition>,
    },
    Assemble {
        rung: String,
        stream: Artifact,
        frames: u64,
    },
    Validate {
        rung: String,
        frames: u64,
        bitrate_kbps: u32,
    },
    /// Every audio rendition of the source, in the order players list them.
    Audio {
        renditions: Vec<EncodedAudio>,
    },
    /// Every text subtitle rendition of the source, in the source's stream order.
    Subtitles {
        renditions: Vec<EncodedSubtitles>,
    },
    Package {
        master_playlist: String,
        dash_manifest: String,
    },
    Report {
        report: String,
        /// Each video rendition as the report gives it (GetJob shows them).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        renditions: Vec<ReportedRendition>,
    },
}

/// One video rendition of a finished job: what it is, its bitrates and its quality (`None`
/// when the job did not score), as report.json gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedRendition {
    pub name: String,
    pub codec: String,
    pub codecs_string: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub peak_bitrate_kbps: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<QualityStats>,
    #[serde(default)]
    pub frames_scored: u64,
}

impl TaskOutput {
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskOutput::Inspect { .. } | TaskOutput::InspectSegments { .. } => TaskKind::Inspect,
            TaskOutput::InspectSegment { .. } => TaskKind::InspectSegment,
            TaskOutput::Ladder { .. } => TaskKind::Ladder,
            TaskOutput::Analyze { .. } => TaskKind::Analyze,
            TaskOutput::Encode { .. } => TaskKind::Encode,
            TaskOutput::Score { .. } => TaskKind::Score,
            TaskOutput::Assemble { .. } => TaskKind::Assemble,
            TaskOutput::Validate { .. } => TaskKind::Validate,
            TaskOutput::Audio { .. } => TaskKind::Audio,
            TaskOutput::Subtitles { .. } => TaskKind::Subtitles,
            TaskOutput::Package { .. } => TaskKind::Package,
            TaskOutput::Report { .. } => TaskKind::Report,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_kinds_round_trip_by_name() {
        for kind in TaskKind::ALL {
            assert_eq!(TaskKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(TaskKind::parse("transcode"), None);
    }

    #[test]
    fn all_lists_every_kind_once_and_stored_kinds_keep_their_numbers() {
        // The number a stored task row holds for its kind (postcard writes the variant's
        // place): a new kind takes the next number here, and a place in `ALL`.
        let stored = |kind: TaskKind| match kind {
            TaskKind::Inspect => 0,
            TaskKind::InspectSegment => 1,
            TaskKind::Analyze => 2,
            TaskKind::Ladder => 3,
            TaskKind::Encode => 4,
            TaskKind::Score => 5,
            TaskKind::Assemble => 6,
            TaskKind::Validate => 7,
            TaskKind::Package => 8,
            TaskKind::Report => 9,
            TaskKind::Audio => 10,
            TaskKind::Subtitles => 11,
        };
        let mut numbers: Vec<usize> = TaskKind::ALL.iter().map(|kind| *kind as usize).collect();
        assert!(TaskKind::ALL.iter().all(|kind| *kind as usize == stored(*kind)));
        numbers.sort_unstable();
        assert_eq!(numbers, (0..=stored(TaskKind::Subtitles)).collect::<Vec<_>>(), "every kind once in ALL");
        assert!(TaskKind::ALL.iter().enumerate().all(|(position, kind)| kind.pipeline_position() == position));
    }

    #[test]
    fn spec_json_names_its_kind_and_refuses_unknown_fields() {
        let spec = TaskSpec::Ladder {
            locations: JobLocations {
                input_url: "file:///in.mp4".into(),
                output_url: "file:///out".into(),
                work_url: "file:///out/.work".into(),
                overwrite: false,
            },
            source: SourceSummary {
                width: 1920,
                height: 1080,
                frames: 240,
                frame_rate_num: 24,
                frame_rate_den: 1,
                duration_ms: 10_000,
                has_audio: false,
                sample_aspect_num: 1,
                sample_aspect_den: 1,
            },
            codecs: vec![Codec::H264],
            recipe: LadderRecipe::default(),
            analysis: Vec::new(),
        };
        let json = serde_json::to_value(&spec).expect("serializable");
        assert_eq!(json["kind"], "ladder");
        let mut tampered = json.clone();
        tampered["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<TaskSpec>(tampered).is_err());
        assert_eq!(serde_json::from_value::<TaskSpec>(json.clone()).expect("parses"), spec);
        // A spec from before recipes parses with the default recipe.
        let mut older = json;
        older.as_object_mut().expect("an object").remove("recipe");
        assert_eq!(serde_json::from_value::<TaskSpec>(older).expect("parses"), spec);
    }

    #[test]
    fn quality_summaries_keep_their_flat_json_and_refuse_unknown_fields() {
        let stats = QualityStats { vmaf_mean: 1.5, vmaf_harmonic_mean: 2.0, vmaf_min: 3.0, vmaf_p1: 4.0, psnr_y: 5.0, ssim: 0.5 };
        let rendition = ScoredRendition { rung: "h264_720p".into(), quality: QualitySummary { stats, vmaf_per_frame: vec![1.5] } };
        let output = TaskOutput::Score { chunk: Chunk { index: 0, start_frame: 0, end_frame: 1, span_us: None }, renditions: vec![rendition] };
        let json = serde_json::to_string(&output).expect("serializable");
        assert!(
            json.ends_with(r#""quality":{"vmaf_mean":1.5,"vmaf_harmonic_mean":2.0,"vmaf_min":3.0,"vmaf_p1":4.0,"psnr_y":5.0,"ssim":0.5,"vmaf_per_frame":[1.5]}}]}"#),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<TaskOutput>(&json).expect("parses"), output);
        let tampered = json.replace(r#""ssim":0.5"#, r#""ssim":0.5,"surprise":1"#);
        assert!(serde_json::from_str::<TaskOutput>(&tampered).is_err(), "{tampered}");
    }
}
