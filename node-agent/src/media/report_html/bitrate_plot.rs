//! Bitrate per media segment, one step line per rendition over the presentation timeline
//! (what a player downloads for each segment, as packaged).

use plotters::prelude::{ChartBuilder, LineSeries, ShapeStyle};

use super::chart::{Figure, PlotError, SERIES_STROKE_WIDTH, draw_svg, figure, series_colour, series_legend};
use crate::media::report::JobReport;

/// The per-segment bitrate figure, or `None` when the report has no segment bitrates.
pub fn bitrate_figure(report: &JobReport) -> Result<Option<String>, PlotError> {
    let renditions: Vec<_> = report.renditions.iter().filter(|rendition| !rendition.segment_bitrates.is_empty()).collect();
    if renditions.is_empty() {
        return Ok(None);
    }
    let segments = || renditions.iter().flat_map(|rendition| &rendition.segment_bitrates);
    let end = segments().map(|segment| segment.start_seconds + segment.seconds).fold(0.0_f64, f64::max).max(0.001);
    let start = segments().map(|segment| segment.start_seconds).fold(end, f64::min).min(0.0);
    let top = segments().map(|segment| segment.kbps).fold(0.0_f64, f64::max).max(1.0) * 1.1;
    let svg = draw_svg("bitrate", |area| {
        let mut chart = ChartBuilder::on(area).margin(12).x_label_area_size(36).y_label_area_size(56).build_cartesian_2d(start..end, 0.0..top)?;
        chart.configure_mesh().x_desc("seconds").y_desc("kb/s").draw()?;
        for (index, rendition) in renditions.iter().enumerate() {
            let steps = rendition.segment_bitrates.iter().flat_map(|segment| [(segment.start_seconds, segment.kbps), (segment.start_seconds + segment.seconds, segment.kbps)]);
            chart.draw_series(LineSeries::new(steps, ShapeStyle::from(series_colour(index)).stroke_width(SERIES_STROKE_WIDTH)))?;
        }
        Ok(())
    })?;
    let legend = series_legend(renditions.iter().map(|rendition| rendition.name.as_str()));
    let note = "Steps: each media segment's size over its duration (the HLS BANDWIDTH is the highest step).";
    Ok(Some(figure(&Figure { id: "bitrate", caption: "Bitrate per segment", series: renditions.len(), legend: &legend, note }, &svg)))
}
