//! Synthetic task outputs, for simulated agents: the scheduler benchmark and the consensus
//! simulation drive real jobs through the real planner without any media work. An output
//! is derived from the task's spec alone, so a simulated farm behaves deterministically.

use shotfarm_proto::analysis::{ChunkTrials, CodecDecision, LadderDecision, RungDecision, TrialOutcome, TrialQuality};
use shotfarm_proto::recipe::LadderKind;
use shotfarm_proto::pipeline::{Artifact, AudioRenditionFacts, Chunk, Codec, EncodedAudio, EncodedRendition, EncodedSubtitles, QualityStats, QualitySummary, Rung, ScoredRendition, SourceSummary, SubtitleRenditionFacts, TaskSpec, TaskOutput};

/// Chunks a synthetic source of `chunks` × 48 frames is cut into.
pub fn synthetic_chunks(chunks: u32) -> Vec<Chunk> {
    (0..chunks)
        .map(|index| Chunk { index, start_frame: u64::from(index) * 48, end_frame: u64::from(index + 1) * 48, span_us: None })
        .collect()
}

/// A plausible output for a task spec. `chunks` and `rungs` size the inspection and ladder
/// results (and so the job's DAG: chunks × rungs encodes).
pub fn output_for(spec: &TaskSpec, chunks: u32, rungs: u32) -> TaskOutput {
    let artifact = |key: String| Artifact { key, bytes: 1 };
    match spec {
        TaskSpec::Inspect { .. } => TaskOutput::Inspect {
            source: SourceSummary {
                width: 1920,
                height: 1080,
                frames: u64::from(chunks) * 48,
                frame_rate_num: 24,
                frame_rate_den: 1,
                duration_ms: u64::from(chunks) * 2000,
                has_audio: false,
                sample_aspect_num: 1,
                sample_aspect_den: 1,
            },
            chunks: synthetic_chunks(chunks),
            warnings: Vec::new(),
            inspection: artifact("inspection.json".to_owned()),
            chunk_complexity: (0..chunks).map(|chunk| f64::from(chunk % 7)).collect(),
            text_subtitles: false,
        },
        TaskSpec::InspectSegment { segment, .. } => TaskOutput::InspectSegment { segment: *segment, piece: artifact(format!("inspection/segments/{}.json", segment.index)) },
        TaskSpec::Ladder { recipe, analysis, .. } => TaskOutput::Ladder {
            decision: (!analysis.is_empty()).then(|| decision_for(recipe.ladder, analysis, rungs)),
            rungs: (0..rungs)
                .map(|index| Rung {
                    name: format!("h264_{index}"),
                    codec: Codec::H264,
                    width: 1920 >> index.min(4),
                    height: 1080 >> index.min(4),
                    bitrate_kbps: 6000 >> index.min(4),
                    maxrate_kbps: 9000 >> index.min(4),
                    bufsize_kbps: 12000 >> index.min(4),
                })
                .collect(),
        },
        TaskSpec::Analyze { chunk, codec, trials, .. } => TaskOutput::Analyze {
            chunk: *chunk,
            codec: *codec,
            trials: trials
                .iter()
                .map(|trial| TrialOutcome {
                    width: trial.width,
                    height: trial.height,
                    setting: trial.setting,
                    bits: (u64::from(trial.width) * u64::from(trial.height) * chunk.frames()) >> (trial.setting as u32 / 6).min(20),
                    frames: chunk.frames(),
                    quality: TrialQuality { vmaf_mean: 100.0 - trial.setting, vmaf_harmonic_mean: 99.0 - trial.setting, vmaf_min: 90.0 - trial.setting, vmaf_p1: 91.0 - trial.setting, scored_frames: chunk.frames() },
                })
                .collect(),
        },
        TaskSpec::Encode { chunk, rungs, .. } => TaskOutput::Encode {
            chunk: *chunk,
            renditions: rungs
                .iter()
                .map(|rung| EncodedRendition {
                    rung: rung.name.clone(),
                    artifact: artifact(format!("chunks/{}/{}.mp4", rung.name, chunk.index)),
                    frames: chunk.frames(),
                    verified: None,
                })
                .collect(),
        },
        TaskSpec::Score { chunk, renditions, .. } => TaskOutput::Score {
            chunk: *chunk,
            renditions: renditions
                .iter()
                .map(|rendition| ScoredRendition {
                    rung: rendition.rung.name.clone(),
                    quality: QualitySummary {
                        stats: QualityStats { vmaf_mean: 95.0, vmaf_harmonic_mean: 94.9, vmaf_min: 90.0, vmaf_p1: 90.5, psnr_y: 42.0, ssim: 0.99 },
                        vmaf_per_frame: Vec::new(),
                    },
                })
                .collect(),
        },
        TaskSpec::Assemble { rung, chunks, .. } => TaskOutput::Assemble {
            rung: rung.name.clone(),
            stream: artifact(format!("streams/{}.mp4", rung.name)),
            frames: chunks.iter().map(|chunk| chunk.chunk.frames()).sum(),
        },
        TaskSpec::Validate { rung, source, .. } => {
            TaskOutput::Validate { rung: rung.name.clone(), frames: source.frames, bitrate_kbps: rung.bitrate_kbps }
        }
        TaskSpec::Audio { .. } => TaskOutput::Audio {
            renditions: vec![EncodedAudio {
                rendition: AudioRenditionFacts {
                    name: "audio/a0".to_owned(),
                    language: None,
                    label: "Audio 1".to_owned(),
                    channels: 2,
                    default: true,
                    source_stream: 1,
                    sample_rate: 48000,
                },
                artifact: artifact("audio/a0.mp4".to_owned()),
            }],
        },
        TaskSpec::Subtitles { .. } => TaskOutput::Subtitles {
            renditions: vec![EncodedSubtitles {
                rendition: SubtitleRenditionFacts {
                    name: "subtitles/s0".to_owned(),
                    language: Some("en".to_owned()),
                    label: "English".to_owned(),
                    default: false,
                    source_stream: 2,
                    subtitle_index: 0,
                    source_codec: "subrip".to_owned(),
                },
                artifact: artifact("subtitles/s0.vtt".to_owned()),
            }],
        },
        TaskSpec::Package { .. } => {
            TaskOutput::Package { master_playlist: "master.m3u8".to_owned(), dash_manifest: "manifest.mpd".to_owned() }
        }
        TaskSpec::Report { .. } => TaskOutput::Report { report: "report.json".to_owned(), renditions: Vec::new() },
    }
}

/// The decision behind a synthetic ladder made from `analysis`: per shot, chunk `i` of every
/// rung gets setting `20 + i`; per title every chunk gets the title setting, 23.
fn decision_for(ladder: LadderKind, analysis: &[ChunkTrials], rungs: u32) -> LadderDecision {
    let chunks = analysis.iter().map(|trials| trials.chunk.index + 1).max().unwrap_or(0);
    let rungs = (0..rungs)
        .map(|index| RungDecision {
            rung: format!("h264_{index}"),
            predicted_vmaf: 95.0 - f64::from(index),
            predicted_bitrate_kbps: f64::from(6000 >> index.min(4)),
            title_setting: 23.0,
            chunk_settings: if ladder == LadderKind::PerShot { (0..chunks).map(|chunk| 20.0 + f64::from(chunk)).collect() } else { Vec::new() },
        })
        .collect();
    LadderDecision { ladder, codecs: vec![CodecDecision { codec: Codec::H264, hull: Vec::new(), rungs }] }
}
