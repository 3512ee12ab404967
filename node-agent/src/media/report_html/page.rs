//! The page itself: one HTML document with its style inline and no script, a section per
//! part of the report (summary, ladder, warnings, quality, bitrate, analysis, timeline). A
//! Content-Security-Policy forbids every fetch, so the page never reaches the network.

use super::bitrate_plot::bitrate_figure;
use super::escape::escape_html;
use super::hull_plot::hull_figure;
use super::ladder_table::{analysis_table, rendition_table};
use super::shot_table::shot_table;
use super::table::{Table, fixed};
use super::timeline_plot::timeline_figure;
use super::vmaf_plot::vmaf_figure;
use super::{PageInputs, ReportPageError};
use crate::media::report::JobReport;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:1em 0;font-size:13px;font-variant-numeric:tabular-nums;display:block;overflow-x:auto}caption{text-align:left;font-weight:600;padding:.3em 0}\
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}\
figure{margin:1em 0}figcaption{font-weight:600}svg{max-width:100%;height:auto}\
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1em}.swatch{display:inline-block;width:1.2em;height:.7em;margin-right:.35em}\
.note,.empty{color:#666}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}";

/// The whole document.
pub fn document(inputs: &PageInputs<'_>) -> Result<String, ReportPageError> {
    let report = inputs.report;
    let job = report.job_id.as_deref().unwrap_or("job");
    let mut html = String::with_capacity(64 * 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str(&format!("<title>Shotfarm report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n", escape_html(job)));
    html.push_str(&format!("<h1>Shotfarm report: {}</h1>\n", escape_html(job)));
    html.push_str(&summary(report));

    html.push_str("<h2>Ladder</h2>\n");
    html.push_str(&rendition_table(report));

    html.push_str("<h2>Warnings</h2>\n");
    html.push_str(&warnings(report));

    html.push_str("<h2>Quality</h2>\n");
    match vmaf_figure(report, inputs.vmaf_per_frame)? {
        Some(figure) => html.push_str(&figure),
        None => html.push_str("<p class=\"empty\">The job did not score its renditions.</p>\n"),
    }
    if let Some(table) = shot_table(report) {
        html.push_str(&table);
    }

    html.push_str("<h2>Bitrate</h2>\n");
    match bitrate_figure(report)? {
        Some(figure) => html.push_str(&figure),
        None => html.push_str("<p class=\"empty\">No per-segment sizes were recorded.</p>\n"),
    }

    if let Some(ladder) = &report.ladder {
        html.push_str("<h2>Analysis</h2>\n");
        if let Some(figure) = hull_figure(ladder)? {
            html.push_str(&figure);
        }
        html.push_str(&analysis_table(ladder));
    }

    html.push_str("<h2>Timeline</h2>\n");
    match timeline_figure(&report.timings)? {
        Some(figure) => html.push_str(&figure),
        None => html.push_str("<p class=\"empty\">No task timings were recorded.</p>\n"),
    }
    html.push_str(&stage_table(report));
    html.push_str("</body>\n</html>\n");
    Ok(html)
}

/// The source and the job at a glance.
fn summary(report: &JobReport) -> String {
    let video = &report.source.video;
    let mut facts = vec![
        ("source", format!("{} {}×{} {}, {} fps", report.source.container, video.width, video.height, video.codec, video.frame_rate)),
        ("frames", format!("{} ({:.2} s)", video.frames, video.duration_seconds)),
        ("audio tracks", report.source.audio_tracks.len().to_string()),
        ("renditions", report.renditions.len().to_string()),
        ("wall time", format!("{:.1} s", report.timings.total_seconds)),
    ];
    if let Some(recipe) = &report.recipe {
        facts.push(("recipe", format!("{} version {}", recipe.name, recipe.version)));
    }
    let mut html = String::from("<dl id=\"summary\">\n");
    for (name, value) in facts {
        html.push_str(&format!("<dt>{name}</dt><dd>{}</dd>\n", escape_html(&value)));
    }
    html.push_str("</dl>\n");
    html
}

fn warnings(report: &JobReport) -> String {
    if report.warnings.is_empty() {
        return "<p class=\"empty\">No warnings.</p>\n".to_owned();
    }
    let mut html = String::from("<ul id=\"warnings\">\n");
    for warning in &report.warnings {
        let code = serde_json::to_value(warning.code).ok().and_then(|code| code.as_str().map(str::to_owned)).unwrap_or_default();
        html.push_str(&format!("<li><code>{}</code> {}</li>\n", escape_html(&code), escape_html(&warning.message)));
    }
    html.push_str("</ul>\n");
    html
}

/// Wall-clock seconds per stage.
fn stage_table(report: &JobReport) -> String {
    let rows = report.timings.stages.iter().map(|(stage, seconds)| vec![stage.clone(), fixed(Some(*seconds), 2)]).collect();
    Table { id: "stages", caption: "Seconds per stage", headers: &["stage", "seconds"], rows }.html()
}
