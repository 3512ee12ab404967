//! The ladder's tables: every rendition with its size, bitrates and quality; and for a
//! per-title or per-shot job, each rung as the analysis predicted it beside what it measured.

use super::table::{Table, fixed};
use crate::media::ladder_report::LadderReport;
use crate::media::report::JobReport;

const RENDITION_HEADERS: [&str; 13] =
    ["rung", "codec", "size", "kb/s", "peak kb/s", "segments", "VMAF mean", "VMAF harmonic", "VMAF min", "VMAF 1st pct", "PSNR-Y dB", "SSIM", "frames scored"];

/// One row per rendition, in the report's order (best first).
pub fn rendition_table(report: &JobReport) -> String {
    let rows = report
        .renditions
        .iter()
        .map(|rendition| {
            let stats = rendition.quality.as_ref().map(|quality| quality.stats);
            vec![
                rendition.name.clone(),
                rendition.codecs_string.clone(),
                format!("{}×{}", rendition.width, rendition.height),
                rendition.bitrate_kbps.to_string(),
                rendition.peak_bitrate_kbps.to_string(),
                rendition.segments.to_string(),
                fixed(stats.map(|stats| stats.vmaf_mean), 2),
                fixed(stats.map(|stats| stats.vmaf_harmonic_mean), 2),
                fixed(stats.map(|stats| stats.vmaf_min), 2),
                fixed(stats.map(|stats| stats.vmaf_p1), 2),
                fixed(stats.map(|stats| stats.psnr_y), 2),
                fixed(stats.map(|stats| stats.ssim), 4),
                rendition.quality.as_ref().map_or_else(|| "–".to_owned(), |quality| quality.frames_scored.to_string()),
            ]
        })
        .collect();
    Table { id: "ladder", caption: "Ladder", headers: &RENDITION_HEADERS, rows }.html()
}

const ANALYSIS_HEADERS: [&str; 7] = ["codec", "rung", "predicted VMAF", "measured VMAF", "predicted kb/s", "measured kb/s", "setting"];

/// One row per rung the analysis chose.
pub fn analysis_table(ladder: &LadderReport) -> String {
    let rows = ladder
        .codecs
        .iter()
        .flat_map(|codec| {
            codec.rungs.iter().map(|rung| {
                vec![
                    codec.codec.clone(),
                    rung.name.clone(),
                    fixed(Some(rung.predicted_vmaf), 2),
                    fixed(rung.measured_vmaf, 2),
                    fixed(Some(rung.predicted_bitrate_kbps), 0),
                    fixed(rung.measured_bitrate_kbps.map(f64::from), 0),
                    fixed(Some(rung.title_setting), 1),
                ]
            })
        })
        .collect();
    let caption = format!("The {} ladder: predicted and measured", ladder.kind);
    Table { id: "analysis", caption: &caption, headers: &ANALYSIS_HEADERS, rows }.html()
}
