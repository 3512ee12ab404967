//! VMAF per shot and rung: one row per shot, its mean (and lowest frame) in each rung.

use super::table::{Table, fixed};
use crate::media::report::JobReport;

/// The table, or `None` when no shot was scored.
pub fn shot_table(report: &JobReport) -> Option<String> {
    if report.shots.is_empty() {
        return None;
    }
    let rungs: Vec<&str> = report.renditions.iter().map(|rendition| rendition.name.as_str()).collect();
    let headers: Vec<String> = ["shot".to_owned(), "frames".to_owned()].into_iter().chain(rungs.iter().map(|rung| format!("{rung} VMAF mean (min)"))).collect();
    let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
    let rows = report
        .shots
        .iter()
        .map(|shot| {
            let cells = rungs.iter().map(|rung| match shot.vmaf.iter().find(|vmaf| vmaf.rung == *rung) {
                Some(vmaf) => format!("{} ({})", fixed(Some(vmaf.mean), 2), fixed(Some(vmaf.min), 2)),
                None => "–".to_owned(),
            });
            [shot.index.to_string(), format!("{}–{}", shot.start_frame, shot.end_frame)].into_iter().chain(cells).collect()
        })
        .collect();
    Some(Table { id: "shots", caption: "VMAF per shot", headers: &header_refs, rows }.html())
}
