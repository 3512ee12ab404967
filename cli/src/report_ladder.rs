//! A per-title or per-shot job's ladder decision, read from its `report.json`, as one line per
//! rung: where the rung sits on the hull, what the analysis predicted and what the rendition
//! measured (`dev`).

use serde_json::Value;

/// The heading and one line per rung; empty for a fixed or custom ladder.
pub fn ladder_lines(report: &Value) -> Vec<String> {
    let ladder = &report["ladder"];
    let Some(codecs) = ladder["codecs"].as_array() else { return Vec::new() };
    let kind = ladder["kind"].as_str().unwrap_or("?");
    let mut lines = Vec::new();
    for codec in codecs {
        let hull = codec["hull"].as_array().map_or(0, Vec::len);
        lines.push(format!("{kind} ladder, {}: {hull} points on the rate-quality hull of the trial encodes", codec["codec"].as_str().unwrap_or("?")));
        for rung in codec["rungs"].as_array().into_iter().flatten() {
            lines.push(rung_line(rung));
        }
    }
    lines
}

fn rung_line(rung: &Value) -> String {
    let number = |value: &Value, digits: usize| value.as_f64().map_or("-".to_owned(), |number| format!("{number:.digits$}"));
    let settings: Vec<f64> = rung["chunk_settings"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
    let per_shot = match (settings.iter().copied().reduce(f64::min), settings.iter().copied().reduce(f64::max)) {
        (Some(low), Some(high)) => format!("; per shot CRF {low:.0}-{high:.0} over {} chunks", settings.len()),
        _ => String::new(),
    };
    format!(
        "{:<14} predicted VMAF {} at {} kb/s (CRF {} on the hull) -> measured VMAF {} at {} kb/s{per_shot}",
        rung["name"].as_str().unwrap_or("?"),
        number(&rung["predicted_vmaf"], 2),
        number(&rung["predicted_bitrate_kbps"], 0),
        number(&rung["title_setting"], 1),
        number(&rung["measured_vmaf"], 2),
        rung["measured_bitrate_kbps"].as_u64().map_or("-".to_owned(), |kbps| kbps.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_rung_under_a_heading_per_codec() {
        let report = serde_json::json!({"ladder": {"kind": "per-shot", "codecs": [{"codec": "h264", "hull": [{}, {}, {}], "rungs": [
            {"name": "h264_720p", "predicted_vmaf": 95.004, "predicted_bitrate_kbps": 2400.4, "title_setting": 22.75, "measured_vmaf": 95.61, "measured_bitrate_kbps": 2210, "chunk_settings": [20.0, 27.0, 23.0]},
            {"name": "h264_480p", "predicted_vmaf": 90.0, "predicted_bitrate_kbps": 1600.0, "title_setting": 26.0, "measured_vmaf": null, "measured_bitrate_kbps": null}
        ]}]}});
        assert_eq!(
            ladder_lines(&report),
            vec![
                "per-shot ladder, h264: 3 points on the rate-quality hull of the trial encodes".to_owned(),
                "h264_720p      predicted VMAF 95.00 at 2400 kb/s (CRF 22.8 on the hull) -> measured VMAF 95.61 at 2210 kb/s; per shot CRF 20-27 over 3 chunks".to_owned(),
                "h264_480p      predicted VMAF 90.00 at 1600 kb/s (CRF 26.0 on the hull) -> measured VMAF - at - kb/s".to_owned(),
            ]
        );
        assert!(ladder_lines(&serde_json::json!({"renditions": []})).is_empty(), "a fixed ladder has no decision to print");
    }
}
