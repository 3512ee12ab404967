//! The `ladder` section of `report.json` for a per-title or per-shot job: each codec's hull,
//! and for every rung what the analysis predicted beside what the rendition measured (VMAF
//! over every scored frame, bitrate of the validated stream), with the per-shot settings.

use serde::{Deserialize, Serialize};
use shotfarm_proto::analysis::{HullPoint, LadderDecision};

use super::report::RenditionReport;

/// How the ladder was chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderReport {
    /// `per-title` or `per-shot`.
    pub kind: String,
    pub codecs: Vec<CodecLadderReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodecLadderReport {
    pub codec: String,
    pub hull: Vec<HullPoint>,
    pub rungs: Vec<RungLadderReport>,
}

/// One rung: predicted by the analysis, measured on the rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RungLadderReport {
    pub name: String,
    pub predicted_vmaf: f64,
    /// `None` when the job did not score its chunks.
    pub measured_vmaf: Option<f64>,
    pub predicted_bitrate_kbps: f64,
    pub measured_bitrate_kbps: Option<u32>,
    /// The setting the title's hull interpolates at the rung's bitrate.
    pub title_setting: f64,
    /// Each chunk's setting, by chunk index (per title all the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunk_settings: Vec<f64>,
}

pub fn ladder_report(decision: &LadderDecision, renditions: &[RenditionReport]) -> LadderReport {
    let codecs = decision
        .codecs
        .iter()
        .map(|codec| CodecLadderReport {
            codec: codec.codec.as_str().to_owned(),
            hull: codec.hull.clone(),
            rungs: codec
                .rungs
                .iter()
                .map(|rung| {
                    let rendition = renditions.iter().find(|rendition| rendition.name == rung.rung);
                    RungLadderReport {
                        name: rung.rung.clone(),
                        predicted_vmaf: rung.predicted_vmaf,
                        measured_vmaf: rendition.and_then(|rendition| rendition.quality.as_ref()).map(|quality| quality.stats.vmaf_mean),
                        predicted_bitrate_kbps: rung.predicted_bitrate_kbps,
                        measured_bitrate_kbps: rendition.map(|rendition| rendition.bitrate_kbps),
                        title_setting: rung.title_setting,
                        chunk_settings: rung.chunk_settings.clone(),
                    }
                })
                .collect(),
        })
        .collect();
    LadderReport { kind: decision.ladder.as_str().to_owned(), codecs }
}
