//! The stage timeline: a Gantt chart of every task attempt on the node that ran it, from the
//! job's first lease, coloured by task kind (failed attempts faded). Attempts that overlap on
//! one node stack in lanes of that node's row.

use plotters::prelude::{BLACK, ChartBuilder, Color, IntoFont, Rectangle, ShapeStyle, Text, TextStyle};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::chart::{Figure, PlotError, draw_svg, figure, series_colour, series_legend};
use crate::media::report::{JobTimings, TaskTiming};

/// One bar: an attempt of a task.
#[derive(Debug, Clone, PartialEq)]
struct Bar {
    kind: usize,
    row: usize,
    lane: usize,
    start_seconds: f64,
    end_seconds: f64,
    succeeded: bool,
}

/// The rows (nodes, in order of their first lease), kinds (in order of first appearance) and
/// bars of the timeline, with how many lanes each row needs.
#[derive(Debug, Default, PartialEq)]
struct Timeline {
    nodes: Vec<String>,
    lanes: Vec<usize>,
    kinds: Vec<String>,
    bars: Vec<Bar>,
    end_seconds: f64,
}

impl Timeline {
    fn of(tasks: &[TaskTiming]) -> Self {
        let mut attempts: Vec<(&TaskTiming, &crate::media::report::AttemptTiming)> = tasks.iter().flat_map(|task| task.attempts.iter().map(move |attempt| (task, attempt))).collect();
        attempts.sort_by_key(|(task, attempt)| (attempt.started_at_ms, task.task_id));
        let Some(origin) = attempts.first().map(|(_, attempt)| attempt.started_at_ms) else { return Self::default() };
        let mut timeline = Self::default();
        // Per row, per lane: when its last bar ends.
        let mut lane_ends: Vec<Vec<u64>> = Vec::new();
        for (task, attempt) in attempts {
            let row = position_or_push(&mut timeline.nodes, &attempt.node);
            let kind = position_or_push(&mut timeline.kinds, &task.kind);
            if lane_ends.len() <= row {
                lane_ends.push(Vec::new());
            }
            let ends = &mut lane_ends[row];
            let finished = attempt.finished_at_ms.max(attempt.started_at_ms);
            let lane = match ends.iter().position(|&end| end <= attempt.started_at_ms) {
                Some(free) => free,
                None => {
                    ends.push(0);
                    ends.len() - 1
                }
            };
            ends[lane] = finished;
            let seconds = |ms: u64| ms.saturating_sub(origin) as f64 / 1000.0;
            timeline.end_seconds = timeline.end_seconds.max(seconds(finished));
            timeline.bars.push(Bar { kind, row, lane, start_seconds: seconds(attempt.started_at_ms), end_seconds: seconds(finished), succeeded: attempt.outcome == "succeeded" });
        }
        timeline.lanes = lane_ends.iter().map(Vec::len).collect();
        timeline
    }
}

fn position_or_push(names: &mut Vec<String>, name: &str) -> usize {
    names.iter().position(|known| known == name).unwrap_or_else(|| {
        names.push(name.to_owned());
        names.len() - 1
    })
}

/// The timeline figure, or `None` when the report has no task timings.
pub fn timeline_figure(timings: &JobTimings) -> Result<Option<String>, PlotError> {
    let timeline = Timeline::of(&timings.tasks);
    if timeline.bars.is_empty() {
        return Ok(None);
    }
    let rows = timeline.nodes.len();
    let end = timeline.end_seconds.max(0.001);
    let svg = draw_svg("timeline", |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(120)
            .build_cartesian_2d(0.0..end * 1.02, 0.0..rows as f64)?;
        chart.configure_mesh().disable_y_mesh().y_labels(0).x_desc("seconds since the first task started").draw()?;
        // Each node's name left of its row, in the label area.
        let label_style = TextStyle::from(("sans-serif", 13).into_font()).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
        for (row, node) in timeline.nodes.iter().enumerate() {
            let (_, y) = chart.backend_coord(&(0.0, row as f64 + 0.5));
            area.draw(&Text::new(node.clone(), (16, y), label_style.clone()))?;
        }
        chart.draw_series(timeline.bars.iter().map(|bar| {
            let height = 0.8 / timeline.lanes[bar.row].max(1) as f64;
            let bottom = bar.row as f64 + 0.1 + height * bar.lane as f64;
            let colour = series_colour(bar.kind);
            let style = if bar.succeeded { ShapeStyle::from(colour).filled() } else { ShapeStyle::from(colour.mix(0.35)).filled() };
            Rectangle::new([(bar.start_seconds, bottom + height * 0.1), (bar.end_seconds.max(bar.start_seconds + end / 1000.0), bottom + height * 0.9)], style)
        }))?;
        Ok(())
    })?;
    let legend = series_legend(timeline.kinds.iter().map(String::as_str));
    let note = "Bars: each task attempt from its lease to its result, on the node that ran it; faded bars ended without success.";
    Ok(Some(figure(&Figure { id: "timeline", caption: "Stage timeline", series: timeline.kinds.len(), legend: &legend, note }, &svg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::report::AttemptTiming;

    fn task(task_id: u64, kind: &str, attempts: &[(&str, u64, u64, &str)]) -> TaskTiming {
        let attempts = attempts
            .iter()
            .enumerate()
            .map(|(index, &(node, started_at_ms, finished_at_ms, outcome))| AttemptTiming { attempt: index as u32 + 1, node: node.to_owned(), started_at_ms, finished_at_ms, cpu_seconds: None, outcome: outcome.to_owned() })
            .collect();
        TaskTiming { task_id, kind: kind.to_owned(), deps: Vec::new(), cpu_milli: None, attempts }
    }

    #[test]
    fn overlapping_attempts_on_a_node_take_lanes_and_time_starts_at_the_first_lease() {
        let tasks = [
            task(1, "inspect", &[("a", 10_000, 11_000, "succeeded")]),
            task(2, "encode", &[("a", 11_000, 15_000, "agent lost"), ("b", 15_500, 18_000, "succeeded")]),
            task(3, "encode", &[("a", 12_000, 13_000, "succeeded")]),
            task(4, "score", &[("a", 13_000, 14_000, "succeeded")]),
        ];
        let timeline = Timeline::of(&tasks);
        assert_eq!(timeline.nodes, ["a", "b"]);
        assert_eq!(timeline.kinds, ["inspect", "encode", "score"]);
        assert_eq!(timeline.lanes, [2, 1]);
        let lanes: Vec<(usize, usize, f64, bool)> = timeline.bars.iter().map(|bar| (bar.row, bar.lane, bar.start_seconds, bar.succeeded)).collect();
        assert_eq!(lanes, [(0, 0, 0.0, true), (0, 0, 1.0, false), (0, 1, 2.0, true), (0, 1, 3.0, true), (1, 0, 5.5, true)]);
        assert_eq!(timeline.end_seconds, 8.0);
        assert_eq!(Timeline::of(&[]), Timeline::default());
    }
}
