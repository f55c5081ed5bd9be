//! Plots as SVG images, drawn by the `plotters` crate, for the Markdown
//! document (which embeds them as data URIs, so that it stays one file).
//! LaTeX documents draw the same plots with pgfplots instead.

use base64::Engine;
use plotters::prelude::*;

use super::document::Plot;

/// The image's size in pixels.
const SIZE: (u32, u32) = (560, 300);

/// The y range of a plot: the data's, widened a little so that no point
/// sits on the frame, and never empty (a flat line gets a range around it).
pub fn y_range(points: &[(u32, f64)]) -> (f64, f64) {
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| (lo.min(y), hi.max(y)));
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    // Relative to the values' size: a change in the 10th digit is flat.
    let magnitude = hi.abs().max(lo.abs());
    if span <= magnitude * 1e-9 {
        let pad = if magnitude > 0.0 { magnitude * 0.05 } else { 1.0 };
        return (lo - pad, hi + pad);
    }
    (lo - span * 0.05, hi + span * 0.05)
}

/// Decimal places that tell apart ticks about `span / 5` apart.
fn tick_decimals(span: f64) -> usize {
    let step = span / 5.0;
    if step.is_nan() || step <= 0.0 {
        return 2;
    }
    (-step.log10().floor()).max(0.0) as usize + 1
}

/// The plot as an SVG document (text).
pub fn svg(plot: &Plot) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let x_max = plot.points.last().map_or(1, |p| p.0).max(1);
        let (y_lo, y_hi) = y_range(&plot.points);
        let decimals = tick_decimals(y_hi - y_lo);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(0u32..x_max, y_lo..y_hi)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .x_desc("step k")
            .y_desc(plot.y_text.as_str())
            .x_labels(x_max.min(10) as usize + 1)
            .y_label_formatter(&|y| format!("{y:.decimals$}"))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        let blue = RGBColor(31, 90, 180);
        chart
            .draw_series(LineSeries::new(plot.points.iter().copied(), blue.stroke_width(2)))
            .map_err(|e| e.to_string())?;
        if plot.points.len() <= 50 {
            chart
                .draw_series(plot.points.iter().map(|&p| Circle::new(p, 3, blue.filled())))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// The plot as a Markdown image whose source is a base64 data URI of its
/// SVG, with `description` as the alternative text.
pub fn markdown_image(plot: &Plot) -> Result<String, String> {
    let svg = svg(plot)?;
    let data = base64::engine::general_purpose::STANDARD.encode(svg.as_bytes());
    Ok(format!("![{}](data:image/svg+xml;base64,{data})", plot.description))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plot(points: Vec<(u32, f64)>) -> Plot {
        Plot { points, x_label: "k".into(), y_label: "L".into(), y_text: "L".into(), description: "the loss".into() }
    }

    #[test]
    fn ranges_are_never_empty() {
        assert_eq!(y_range(&[(0, 2.0), (1, 2.0)]), (1.9, 2.1));
        assert_eq!(y_range(&[(0, 0.0), (1, 0.0)]), (-1.0, 1.0));
        let (lo, hi) = y_range(&[(0, 1.0), (1, 0.0)]);
        assert!(lo < 0.0 && hi > 1.0);
    }

    /// The SVG has one polyline through every point and one circle per point.
    #[test]
    fn svg_draws_each_point() {
        let s = svg(&plot(vec![(0, 1.5), (1, 1.2), (2, 0.9), (3, 0.8)])).unwrap();
        assert!(s.starts_with("<svg"), "{s}");
        // The curve is the one polyline in the plot's colour (#1F5AB4); the grid has its own.
        assert_eq!(s.matches("<polyline fill=\"none\" opacity=\"1\" stroke=\"#1F5AB4\"").count(), 1, "{s}");
        assert_eq!(s.matches("<circle").count(), 4, "{s}");
        assert!(s.contains("step k"));
        // Deterministic, so documents can be snapshotted.
        assert_eq!(s, svg(&plot(vec![(0, 1.5), (1, 1.2), (2, 0.9), (3, 0.8)])).unwrap());
    }
}
