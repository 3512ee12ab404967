//! The page built from a real job's report.json (`testdata/job_report.json`, written by the
//! report task in `tests/task_handlers.rs`'s whole job: two rungs, three shots, three chunks).

use std::collections::BTreeMap;

use shotfarm_proto::analysis::{CodecDecision, HullPoint, LadderDecision, RungDecision};
use shotfarm_proto::pipeline::Codec;
use shotfarm_proto::recipe::LadderKind;

use super::{PageInputs, render_page};
use crate::media::ladder_report::ladder_report;
use crate::media::report::JobReport;

fn real_report() -> JobReport {
    serde_json::from_str(include_str!("testdata/job_report.json")).expect("the fixture is a report.json")
}

fn page(report: &JobReport, per_frame: &BTreeMap<String, Vec<Option<f64>>>) -> String {
    render_page(&PageInputs { report, vmaf_per_frame: per_frame }).expect("the page renders")
}

/// The HTML of the element `<tag … id="id"` up to its closing tag.
fn element<'a>(html: &'a str, tag: &str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in the page"));
    let end = html[start..].find(&format!("</{tag}>")).unwrap_or_else(|| panic!("#{id} is not closed"));
    &html[start..start + end]
}

/// The polylines drawn at the series' width.
fn series_lines(figure: &str) -> usize {
    figure.split("<polyline").skip(1).filter(|tag| tag.split('>').next().is_some_and(|attributes| attributes.contains("stroke-width=\"2\""))).count()
}

fn body_rows(table: &str) -> usize {
    table.split("<tbody>").nth(1).map_or(0, |body| body.matches("<tr>").count())
}

#[test]
fn a_real_jobs_report_reads_as_a_page_with_a_row_and_a_line_per_rung() {
    let report = real_report();
    assert_eq!(report.renditions.len(), 2);
    let html = page(&report, &BTreeMap::new());
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("Content-Security-Policy") && !html.contains("<script"), "{html}");
    // Nothing to fetch: the only URL is the SVG namespace.
    assert!(!html.contains(" src=") && !html.contains(" href=") && !html.contains("https:") && html.matches("http:").count() == html.matches("http://www.w3.org/2000/svg").count());
    assert_eq!(body_rows(element(&html, "table", "ladder")), report.renditions.len());
    for rendition in &report.renditions {
        let quality = rendition.quality.as_ref().expect("the fixture's rungs were scored");
        assert!(html.contains(&format!("<td>{}</td>", rendition.name)) && html.contains(&format!("<td>{:.2}</td>", quality.stats.vmaf_harmonic_mean)));
    }
    // report.json alone has no per-frame scores: VMAF per chunk, one step line per rung.
    let vmaf = element(&html, "figure", "vmaf");
    assert!(vmaf.contains("VMAF per chunk") && vmaf.contains("data-series=\"2\""), "{vmaf}");
    assert_eq!(series_lines(vmaf), 2);
    let bitrate = element(&html, "figure", "bitrate");
    assert_eq!(series_lines(bitrate), 2);
    assert_eq!(bitrate.matches("<li>").count(), 2);
    assert_eq!(body_rows(element(&html, "table", "shots")), report.shots.len());
    let timeline = element(&html, "figure", "timeline");
    assert!(timeline.contains("test-agent"), "the node's row is labelled");
    assert!(!html.contains("id=\"hull\""), "a fixed ladder has no analysis");
}

#[test]
fn per_frame_scores_draw_one_line_per_rendition_with_every_boundary_marked() {
    let report = real_report();
    // Each chunk's mean at each of its frames; the last chunk of the second rung unscored.
    let mut per_frame = BTreeMap::new();
    for (rung_index, rendition) in report.renditions.iter().enumerate() {
        let mut values = vec![None; report.source.video.frames as usize];
        for (chunk_index, chunk) in report.chunks.iter().enumerate() {
            if rung_index == 1 && chunk_index == report.chunks.len() - 1 {
                continue;
            }
            let mean = chunk.quality.iter().find(|quality| quality.rung == rendition.name).map(|quality| quality.stats.vmaf_mean);
            values[chunk.start_frame as usize..chunk.end_frame as usize].fill(mean);
        }
        per_frame.insert(rendition.name.clone(), values);
    }
    let html = page(&report, &per_frame);
    let vmaf = element(&html, "figure", "vmaf");
    assert!(vmaf.contains("VMAF per frame") && vmaf.contains("data-series=\"2\""), "{vmaf}");
    assert_eq!(series_lines(vmaf), 2);
    let boundaries = report.shots.iter().filter(|shot| shot.start_frame > 0).count() + report.chunks.iter().filter(|chunk| chunk.start_frame > 0).count();
    assert_eq!(vmaf.matches("width=\"0\"").count(), boundaries);
}

#[test]
fn strings_from_outside_are_escaped_everywhere() {
    let mut report = real_report();
    let hostile = "<img src=x onerror=alert(1)>";
    report.job_id = Some(format!("job {hostile}"));
    report.renditions[0].name = hostile.to_owned();
    report.renditions[0].codecs_string = "\"><script>alert(2)</script>".to_owned();
    report.timings.tasks[0].attempts[0].node = format!("node {hostile}");
    let warning = serde_json::json!({"code": "missing_timestamps", "message": "</li><script>alert(3)</script>"});
    report.warnings.push(serde_json::from_value(warning).expect("a warning"));
    let html = page(&report, &BTreeMap::new());
    assert!(!html.contains("<img") && !html.contains("<script"), "{html}");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;") && html.contains("&lt;/li&gt;&lt;script&gt;alert(3)"), "{html}");
    assert_eq!(element(&html, "ul", "warnings").matches("<li>").count(), 1);
}

#[test]
fn an_analysed_job_shows_each_codecs_hull_and_its_rungs_predicted_beside_measured() {
    let mut report = real_report();
    let point = |width, height, setting, bitrate_kbps, vmaf| HullPoint { width, height, setting, bitrate_kbps, vmaf };
    let rung = |rendition: &str, predicted_vmaf, predicted_bitrate_kbps| RungDecision { rung: rendition.to_owned(), predicted_vmaf, predicted_bitrate_kbps, title_setting: 28.0, chunk_settings: Vec::new() };
    let decision = LadderDecision {
        ladder: LadderKind::PerTitle,
        codecs: vec![
            CodecDecision { codec: Codec::H264, hull: vec![point(160, 90, 34.0, 80.0, 70.0), point(320, 180, 28.0, 220.0, 92.0)], rungs: vec![rung(&report.renditions[0].name, 92.0, 220.0)] },
            CodecDecision { codec: Codec::Hevc, hull: vec![point(160, 90, 34.0, 60.0, 72.0), point(320, 180, 30.0, 190.0, 91.0)], rungs: vec![rung(&report.renditions[1].name, 91.0, 190.0)] },
        ],
    };
    report.ladder = Some(ladder_report(&decision, &report.renditions));
    let html = page(&report, &BTreeMap::new());
    let hull = element(&html, "figure", "hull");
    assert!(hull.contains("data-series=\"2\"") && hull.contains("<li>"), "{hull}");
    assert_eq!(series_lines(hull), 2);
    // Trial points, predicted rings and measured dots: 2 + 1 + 1 per codec.
    assert_eq!(hull.matches("<circle").count(), 8);
    let analysis = element(&html, "table", "analysis");
    assert_eq!(body_rows(analysis), 2);
    assert!(analysis.contains("per_title") || analysis.contains("per-title"), "{analysis}");
}
