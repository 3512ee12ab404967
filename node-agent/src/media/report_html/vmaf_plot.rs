//! VMAF per frame, one line per rendition, with the shot boundaries (thin grey) and chunk
//! boundaries (dark) marked. A report without per-frame scores (read back from report.json
//! alone) gets each rung's VMAF per chunk instead, one step line per rung.
//!
//! Long titles are thinned to [`MAX_POINTS`] points per line, each the lowest VMAF of its run
//! of frames, so a dip is never averaged away.

use std::collections::BTreeMap;

use plotters::prelude::{BLACK, ChartBuilder, LineSeries, RGBColor, Rectangle, ShapeStyle};

use super::chart::{Figure, PlotError, SERIES_STROKE_WIDTH, draw_svg, figure, series_colour, series_legend};
use crate::media::report::JobReport;

/// Points per line at most.
pub const MAX_POINTS: usize = 1500;

/// One line: a rendition's name and its (frame, VMAF) points.
type Series = (String, Vec<(f64, f64)>);

/// The VMAF figure, or `None` when nothing was scored.
pub fn vmaf_figure(report: &JobReport, per_frame: &BTreeMap<String, Vec<Option<f64>>>) -> Result<Option<String>, PlotError> {
    let frames: Vec<Series> = report
        .renditions
        .iter()
        .filter_map(|rendition| per_frame.get(&rendition.name).map(|values| (rendition.name.clone(), thinned(values, MAX_POINTS))))
        .filter(|(_, points)| !points.is_empty())
        .collect();
    let (series, caption, note) = if !frames.is_empty() {
        (frames, "VMAF per frame", "Lines: each rendition's VMAF at every source frame (on long titles, the lowest of each run of frames). Grey marks: shot boundaries; dark marks: chunk boundaries.")
    } else {
        let chunks = per_chunk(report);
        if chunks.is_empty() {
            return Ok(None);
        }
        (chunks, "VMAF per chunk", "Steps: each rung's mean VMAF over each chunk's frames. Grey marks: shot boundaries; dark marks: chunk boundaries.")
    };
    let total_frames = report.source.video.frames.max(1) as f64;
    let lowest = series.iter().flat_map(|(_, points)| points.iter().map(|&(_, vmaf)| vmaf)).fold(100.0_f64, f64::min);
    let floor = ((lowest / 10.0).floor() * 10.0).clamp(0.0, 90.0);
    let shots: Vec<f64> = report.shots.iter().map(|shot| shot.start_frame as f64).filter(|&frame| frame > 0.0).collect();
    let chunks: Vec<f64> = report.chunks.iter().map(|chunk| chunk.start_frame as f64).filter(|&frame| frame > 0.0).collect();
    let svg = draw_svg("VMAF", |area| {
        let mut chart = ChartBuilder::on(area).margin(12).x_label_area_size(36).y_label_area_size(44).build_cartesian_2d(0.0..total_frames, floor..100.0)?;
        chart.configure_mesh().x_desc("source frame").y_desc("VMAF").draw()?;
        let boundary = |frame: f64, colour: RGBColor, width: u32| Rectangle::new([(frame, floor), (frame, 100.0)], ShapeStyle::from(colour).stroke_width(width));
        chart.draw_series(shots.iter().map(|&frame| boundary(frame, RGBColor(0xc8, 0xc8, 0xc8), 1)))?;
        chart.draw_series(chunks.iter().map(|&frame| boundary(frame, BLACK, 2)))?;
        for (index, (_, points)) in series.iter().enumerate() {
            chart.draw_series(LineSeries::new(points.iter().copied(), ShapeStyle::from(series_colour(index)).stroke_width(SERIES_STROKE_WIDTH)))?;
        }
        Ok(())
    })?;
    let legend = series_legend(series.iter().map(|(name, _)| name.as_str()));
    Ok(Some(figure(&Figure { id: "vmaf", caption, series: series.len(), legend: &legend, note }, &svg)))
}

/// `(frame, VMAF)` of the scored frames, in runs of `ceil(len / max_points)` frames, each run
/// its lowest score at its first scored frame.
fn thinned(values: &[Option<f64>], max_points: usize) -> Vec<(f64, f64)> {
    let run = values.len().div_ceil(max_points.max(1)).max(1);
    values
        .chunks(run)
        .enumerate()
        .filter_map(|(index, frames)| {
            let first = frames.iter().position(Option::is_some)?;
            let lowest = frames.iter().flatten().copied().fold(f64::INFINITY, f64::min);
            Some(((index * run + first) as f64, lowest))
        })
        .collect()
}

/// Each rung's VMAF per chunk as steps over the chunk's frames, rungs in the report's order.
fn per_chunk(report: &JobReport) -> Vec<Series> {
    report
        .renditions
        .iter()
        .map(|rendition| {
            let points = report
                .chunks
                .iter()
                .filter_map(|chunk| chunk.quality.iter().find(|quality| quality.rung == rendition.name).map(|quality| (chunk, quality.stats.vmaf_mean)))
                .flat_map(|(chunk, vmaf)| [(chunk.start_frame as f64, vmaf), (chunk.end_frame as f64, vmaf)])
                .collect();
            (rendition.name.clone(), points)
        })
        .filter(|(_, points): &Series| !points.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_each_runs_lowest_score_and_skips_unscored_frames() {
        let values = [Some(90.0), Some(80.0), None, None, Some(70.0), Some(95.0), None];
        assert_eq!(thinned(&values, 10), vec![(0.0, 90.0), (1.0, 80.0), (4.0, 70.0), (5.0, 95.0)]);
        assert_eq!(thinned(&values, 3), vec![(0.0, 80.0), (4.0, 70.0)]);
        assert!(thinned(&[None, None], 5).is_empty());
        let long: Vec<Option<f64>> = (0..10_000).map(|frame| Some(f64::from(frame % 100))).collect();
        let points = thinned(&long, MAX_POINTS);
        assert!(points.len() <= MAX_POINTS, "{}", points.len());
        // Runs of 7 frames: 98..105 holds 98, 99, 0..=4.
        assert_eq!((points[1], points[14]), ((7.0, 7.0), (98.0, 0.0)));
    }
}
