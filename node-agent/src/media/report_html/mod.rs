//! `report.html`: the job's report as a page a person reads, beside `report.json` in the
//! job's output. Self-contained: style inline, plots as inline SVG drawn by plotters, no
//! script and no fetch (a Content-Security-Policy says so). Every string from outside (rung,
//! node and job names, warnings) is escaped.
//!
//! | module | what it makes |
//! | --- | --- |
//! | [`page`] | the document: summary, then a section per part of the report |
//! | [`ladder_table`] | the ladder (one row per rendition: size, bitrates, VMAF, PSNR, SSIM); predicted beside measured rungs |
//! | [`shot_table`] | VMAF per shot and rung |
//! | [`vmaf_plot`] | VMAF per frame per rendition with shot and chunk boundaries (per chunk when there are no per-frame scores) |
//! | [`bitrate_plot`] | bitrate per media segment per rendition |
//! | [`hull_plot`] | a per-title/per-shot job's rate–quality hull, trial points, rungs predicted and measured |
//! | [`timeline_plot`] | the stage timeline: a Gantt of task attempts per node |
//! | [`chart`] | what the plots share: colours, the SVG canvas, the `<figure>` with its legend |
//! | [`table`] | an HTML table of escaped text cells; number formatting |
//! | [`escape`] | HTML escaping |
//!
//! `tests` builds the page from a real job's report.json (`testdata/`).

mod bitrate_plot;
mod chart;
mod escape;
mod hull_plot;
mod ladder_table;
mod page;
mod shot_table;
mod table;
mod timeline_plot;
mod vmaf_plot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use chart::PlotError;

use super::report::JobReport;

/// The page's file name, beside `report.json`.
pub const REPORT_PAGE_FILE: &str = "report.html";

/// What the page shows: the report, and each rendition's VMAF per source frame (absent frames
/// were not scored) where the job has them; an empty map plots VMAF per chunk instead.
#[derive(Debug, Clone, Copy)]
pub struct PageInputs<'a> {
    pub report: &'a JobReport,
    pub vmaf_per_frame: &'a BTreeMap<String, Vec<Option<f64>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportPageError {
    #[error(transparent)]
    Plot(#[from] PlotError),
    #[error("writing report page {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// The page's HTML.
pub fn render_page(inputs: &PageInputs<'_>) -> Result<String, ReportPageError> {
    page::document(inputs)
}

/// Writes `html` to `path` (a temporary file beside it, then renamed over it).
pub fn write_page(html: &str, path: &Path) -> Result<(), ReportPageError> {
    let write_error = |source| ReportPageError::Write { path: path.to_owned(), source };
    let temporary = path.with_extension("html.partial");
    std::fs::write(&temporary, html).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(write_error)
}

#[cfg(test)]
mod tests;
