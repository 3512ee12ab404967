//! The rate–quality plot of a per-title or per-shot job: each codec's hull over its trial
//! sizes (the trial points that make it, joined), the rungs the analysis predicted on it and
//! what each rendition measured. Bitrate on a log scale, as ladders are spaced.

use plotters::prelude::{BLACK, ChartBuilder, Circle, IntoLogRange, LineSeries, ShapeStyle};

use super::chart::{Figure, PlotError, SERIES_STROKE_WIDTH, draw_svg, figure, series_colour, series_legend};
use crate::media::ladder_report::LadderReport;

/// The hull figure, or `None` when no codec has a hull.
pub fn hull_figure(ladder: &LadderReport) -> Result<Option<String>, PlotError> {
    let codecs: Vec<_> = ladder.codecs.iter().filter(|codec| !codec.hull.is_empty()).collect();
    if codecs.is_empty() {
        return Ok(None);
    }
    let bitrates = || {
        codecs.iter().flat_map(|codec| {
            let hull = codec.hull.iter().map(|point| point.bitrate_kbps);
            let rungs = codec.rungs.iter().flat_map(|rung| [Some(rung.predicted_bitrate_kbps), rung.measured_bitrate_kbps.map(f64::from)]).flatten();
            hull.chain(rungs)
        })
    };
    let vmafs = || codecs.iter().flat_map(|codec| codec.hull.iter().map(|point| point.vmaf).chain(codec.rungs.iter().flat_map(|rung| [Some(rung.predicted_vmaf), rung.measured_vmaf]).flatten()));
    let low = bitrates().filter(|kbps| *kbps > 0.0).fold(f64::INFINITY, f64::min).max(1.0) * 0.8;
    let high = bitrates().fold(low, f64::max) * 1.25;
    let floor = ((vmafs().fold(100.0_f64, f64::min) / 10.0).floor() * 10.0).clamp(0.0, 90.0);
    let svg = draw_svg("rate–quality", |area| {
        let mut chart = ChartBuilder::on(area).margin(12).x_label_area_size(36).y_label_area_size(44).build_cartesian_2d((low..high).log_scale(), floor..100.0)?;
        chart.configure_mesh().x_desc("kb/s (log)").y_desc("VMAF").draw()?;
        for (index, codec) in codecs.iter().enumerate() {
            let colour = series_colour(index);
            let hull: Vec<(f64, f64)> = codec.hull.iter().map(|point| (point.bitrate_kbps.max(low), point.vmaf)).collect();
            chart.draw_series(LineSeries::new(hull.iter().copied(), ShapeStyle::from(colour).stroke_width(SERIES_STROKE_WIDTH)))?;
            chart.draw_series(hull.iter().map(|&point| Circle::new(point, 3, ShapeStyle::from(colour).filled())))?;
            chart.draw_series(codec.rungs.iter().map(|rung| Circle::new((rung.predicted_bitrate_kbps.max(low), rung.predicted_vmaf), 7, ShapeStyle::from(colour).stroke_width(2))))?;
            let measured = codec.rungs.iter().filter_map(|rung| Some((f64::from(rung.measured_bitrate_kbps?).max(low), rung.measured_vmaf?)));
            chart.draw_series(measured.map(|point| Circle::new(point, 4, ShapeStyle::from(BLACK).filled())))?;
        }
        Ok(())
    })?;
    let legend = series_legend(codecs.iter().map(|codec| codec.codec.as_str()));
    let note = "Lines: each codec's hull through its trial points (small dots). Rings: the rungs as the analysis predicted them; black dots: what each rendition measured.";
    Ok(Some(figure(&Figure { id: "hull", caption: "Rate–quality hull", series: codecs.len(), legend: &legend, note }, &svg)))
}
