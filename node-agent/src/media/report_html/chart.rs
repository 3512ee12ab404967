//! What every plot of the page shares: the series colours, a plotters SVG canvas drawn into a
//! string, and the `<figure>` around it (caption, HTML legend, the series count the browser
//! test reads as `data-series`).
//!
//! Legends are HTML, not plotters' own. Data series are drawn [`SERIES_STROKE_WIDTH`] wide,
//! axes and ticks 1: the polylines of that width in a plot are its series.

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingAreaErrorKind, IntoDrawingArea, RGBColor, SVGBackend, WHITE};
use shotfarm_proto::pipeline::TaskKind;

use super::escape::escape_html;

/// How wide a data series' line is drawn (the browser test counts series by it).
pub const SERIES_STROKE_WIDTH: u32 = 2;

/// Size of a plot in SVG pixels (the page scales it to its width).
pub const PLOT_SIZE: (u32, u32) = (960, 360);

/// Distinct colours, cycled when there are more series: Tableau 10, a dark grey and a dark
/// green, one for each of a job's task kinds on the timeline.
const PALETTE: [RGBColor; TaskKind::ALL.len()] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
    RGBColor(0x3b, 0x3b, 0x3b),
    RGBColor(0x1e, 0x5c, 0x3a),
];

/// The colour of the `index`th series.
pub fn series_colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// A drawing error of one plot.
#[derive(Debug, thiserror::Error)]
#[error("drawing the {plot} plot: {message}")]
pub struct PlotError {
    plot: &'static str,
    message: String,
}

/// What plotters answers when drawing on the SVG backend fails.
pub type DrawError = DrawingAreaErrorKind<std::io::Error>;

/// The SVG text of what `draw` draws on a white canvas of [`PLOT_SIZE`].
pub fn draw_svg(plot: &'static str, draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), DrawError>) -> Result<String, PlotError> {
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        let drawn = area.fill(&WHITE).and_then(|()| draw(&area)).and_then(|()| area.present());
        drawn.map_err(|error| PlotError { plot, message: error.to_string() })?;
    }
    Ok(svg)
}

/// One entry of a figure's legend.
#[derive(Debug, Clone)]
pub struct LegendEntry {
    pub label: String,
    pub colour: RGBColor,
}

/// A legend of the series in order, coloured as [`series_colour`] colours them.
pub fn series_legend<'a>(labels: impl IntoIterator<Item = &'a str>) -> Vec<LegendEntry> {
    labels.into_iter().enumerate().map(|(index, label)| LegendEntry { label: label.to_owned(), colour: series_colour(index) }).collect()
}

/// What a figure shows around its SVG.
#[derive(Debug)]
pub struct Figure<'a> {
    /// The element's id (fixed by the page, never from outside).
    pub id: &'static str,
    pub caption: &'a str,
    /// How many data series (polylines) the SVG holds.
    pub series: usize,
    pub legend: &'a [LegendEntry],
    /// A sentence under the plot (how to read it); escaped.
    pub note: &'a str,
}

/// The `<figure>` holding `svg`, its caption, legend and note.
pub fn figure(figure: &Figure<'_>, svg: &str) -> String {
    let mut html = format!("<figure class=\"plot\" id=\"{}\" data-series=\"{}\">\n<figcaption>{}</figcaption>\n", figure.id, figure.series, escape_html(figure.caption));
    html.push_str(svg);
    if !figure.legend.is_empty() {
        html.push_str("<ul class=\"legend\">");
        for entry in figure.legend {
            let RGBColor(red, green, blue) = entry.colour;
            html.push_str(&format!("<li><span class=\"swatch\" style=\"background:#{red:02x}{green:02x}{blue:02x}\"></span>{}</li>", escape_html(&entry.label)));
        }
        html.push_str("</ul>\n");
    }
    if !figure.note.is_empty() {
        html.push_str(&format!("<p class=\"note\">{}</p>\n", escape_html(figure.note)));
    }
    html.push_str("</figure>\n");
    html
}
