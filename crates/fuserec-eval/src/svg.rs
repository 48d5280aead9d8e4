//! Minimal SVG charts for reports (no plotting dependency): grouped bars with error bars, and
//! lines over categorical x.

use std::fmt::Write;

const PALETTE: &[&str] = &["#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#bbbbbb"];
const W: f64 = 800.0;
const H: f64 = 400.0;
const L: f64 = 64.0;
const R: f64 = 230.0;
const T: f64 = 40.0;
const B: f64 = 56.0;

/// One named series of a chart: a value per category on the x axis.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// One value per category.
    pub values: Vec<f64>,
    /// Optional `(lo, hi)` per value, drawn as error bars.
    pub intervals: Option<Vec<(f64, f64)>>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A "nice" axis top and tick step (1, 2 or 5 × 10ⁿ) covering `ymax`.
fn nice_axis(ymax: f64) -> (f64, f64) {
    if !(ymax > 0.0 && ymax.is_finite()) {
        return (1.0, 0.2);
    }
    let raw = ymax / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|&s| s >= raw).unwrap_or(10.0 * mag);
    ((ymax / step).ceil() * step, step)
}

/// A nice axis `[lo', hi']` around a range that need not start at zero (e.g. gains that can be
/// negative, or AUCs between 0.6 and 0.7).
fn nice_range(lo: f64, hi: f64) -> (f64, f64, f64) {
    let (_, step) = nice_axis((hi - lo).max(1e-9));
    let (a, b) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    (a, if b > a { b } else { a + step }, step)
}

/// Draws the frame; returns the y range `(lo, hi)` the plot uses. `lo = 0` keeps the
/// zero-based axis.
fn frame(title: &str, ylabel: &str, lo: f64, ymax: f64, groups: &[String], out: &mut String) -> (f64, f64) {
    let (lo, ymax, step) = if lo == 0.0 {
        let (h, s) = nice_axis(ymax);
        (0.0, h, s)
    } else {
        nice_range(lo, ymax)
    };
    let ticks = ((ymax - lo) / step).round() as usize;
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>"#
    );
    let _ = write!(out, r#"<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>"#, (L + W - R) / 2.0, esc(title));
    let _ = write!(out, r#"<text transform="translate(16,{}) rotate(-90)" text-anchor="middle">{}</text>"#, (T + H - B) / 2.0, esc(ylabel));
    for t in 0..=ticks {
        let v = lo + step * t as f64;
        let y = H - B - (H - T - B) * (v - lo) / (ymax - lo);
        let _ = write!(
            out,
            r##"<line x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - R,
            L - 6.0,
            y + 4.0,
            fmt_tick(v)
        );
    }
    let gw = (W - L - R) / groups.len().max(1) as f64;
    for (g, name) in groups.iter().enumerate() {
        let _ = write!(out, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, L + gw * (g as f64 + 0.5), H - B + 18.0, esc(name));
    }
    let _ = write!(
        out,
        r##"<line x1="{L}" x2="{L}" y1="{T}" y2="{}" stroke="#333"/><line x1="{L}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
        H - B,
        W - R,
        H - B,
        H - B
    );
    (lo, ymax)
}

fn fmt_tick(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".into() } else { s.to_string() }
}

fn legend(series: &[Series], out: &mut String) {
    for (s, ser) in series.iter().enumerate() {
        let y = T + 10.0 + 18.0 * s as f64;
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            W - R + 14.0,
            y - 10.0,
            PALETTE[s % PALETTE.len()],
            W - R + 32.0,
            y,
            esc(&truncate(&ser.name, 30))
        );
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

fn y_of(v: f64, (lo, hi): (f64, f64)) -> f64 {
    H - B - (H - T - B) * ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
}

/// Grouped bars: one group per `groups` entry, one bar per series. Non-finite values are left out.
pub fn bar_chart(title: &str, ylabel: &str, groups: &[String], series: &[Series]) -> String {
    let ymax = series
        .iter()
        .flat_map(|s| s.values.iter().copied().chain(s.intervals.iter().flatten().map(|i| i.1)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let mut out = String::new();
    let ymax = frame(title, ylabel, 0.0, ymax, groups, &mut out);
    let gw = (W - L - R) / groups.len().max(1) as f64;
    let bw = gw * 0.8 / series.len().max(1) as f64;
    for (s, ser) in series.iter().enumerate() {
        for (g, &v) in ser.values.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            let x = L + gw * g as f64 + gw * 0.1 + bw * s as f64;
            let y = y_of(v, ymax);
            let _ = write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {v:.4}</title></rect>"#,
                bw * 0.92,
                H - B - y,
                PALETTE[s % PALETTE.len()],
                esc(&ser.name)
            );
            if let Some((lo, hi)) = ser.intervals.as_ref().and_then(|iv| iv.get(g)).filter(|(a, b)| a.is_finite() && b.is_finite()) {
                let cx = x + bw * 0.46;
                let _ = write!(
                    out,
                    r##"<line x1="{cx:.1}" x2="{cx:.1}" y1="{:.1}" y2="{:.1}" stroke="#222"/>"##,
                    y_of(*lo, ymax),
                    y_of(*hi, ymax)
                );
            }
        }
    }
    legend(series, &mut out);
    out.push_str("</svg>\n");
    out
}

/// Lines over categorical x positions; non-finite points break the line.
pub fn line_chart(title: &str, ylabel: &str, xs: &[String], series: &[Series]) -> String {
    let ymax = series.iter().flat_map(|s| s.values.iter().copied()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    lines(title, ylabel, xs, series, 0.0, ymax, false)
}

/// [`line_chart`] with the y axis fitted to the data instead of starting at zero: for values in a
/// narrow band (AUCs) or of either sign (gains over a baseline). A series measured at only some
/// x positions (NaN elsewhere) is drawn as one line through its points.
pub fn line_chart_fitted(title: &str, ylabel: &str, xs: &[String], series: &[Series]) -> String {
    let finite = || series.iter().flat_map(|s| s.values.iter().copied()).filter(|v| v.is_finite());
    let (lo, hi) = (finite().fold(f64::INFINITY, f64::min), finite().fold(f64::NEG_INFINITY, f64::max));
    if !lo.is_finite() {
        return line_chart(title, ylabel, xs, series);
    }
    // A non-zero lower end selects the fitted axis, even when the data's minimum is exactly 0.
    let lo = if lo == 0.0 { -f64::EPSILON } else { lo };
    lines(title, ylabel, xs, series, lo, hi, true)
}

fn lines(title: &str, ylabel: &str, xs: &[String], series: &[Series], lo: f64, ymax: f64, bridge_gaps: bool) -> String {
    let mut out = String::new();
    let ymax = frame(title, ylabel, lo, ymax, xs, &mut out);
    let gw = (W - L - R) / xs.len().max(1) as f64;
    for (s, ser) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let mut path = String::new();
        let mut pen_down = false;
        for (i, &v) in ser.values.iter().enumerate() {
            if !v.is_finite() {
                pen_down &= bridge_gaps;
                continue;
            }
            let (x, y) = (L + gw * (i as f64 + 0.5), y_of(v, ymax));
            let _ = write!(path, "{}{x:.1},{y:.1} ", if pen_down { "L" } else { "M" });
            pen_down = true;
            let _ =
                write!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{color}"><title>{}: {v:.4}</title></circle>"#, esc(&ser.name));
        }
        let _ = write!(out, r#"<path d="{}" fill="none" stroke="{color}" stroke-width="2"/>"#, path.trim_end());
    }
    legend(series, &mut out);
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bars_scale_to_the_largest_value_and_skip_nan() {
        let s =
            bar_chart("t", "y", &["a".into(), "b".into()], &[Series { name: "m<1>".into(), values: vec![1.0, f64::NAN], intervals: None }]);
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<rect x=").count(), 2, "one bar + one legend swatch");
        assert!(s.contains("m&lt;1&gt;"));
        // Axis 0–1 in steps of 0.2: the bar for 1.0 fills the plot height.
        assert_eq!(nice_axis(1.0), (1.0, 0.2));
        assert_eq!(nice_axis(0.17), (0.2, 0.05));
        assert_eq!(nice_axis(0.926), (1.0, 0.2));
        assert!(s.contains(">0.6</text>"));
        let h = H - T - B;
        assert!(s.contains(&format!("height=\"{h:.1}\"")), "{s}");
    }

    #[test]
    fn fitted_lines_cover_negative_and_narrow_ranges() {
        let xs: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let s = line_chart_fitted("t", "y", &xs, &[Series { name: "gain".into(), values: vec![-0.013, 0.0, 0.021], intervals: None }]);
        let (lo, hi, step) = nice_range(-0.013, 0.021);
        assert!((lo + 0.02).abs() < 1e-12 && (hi - 0.03).abs() < 1e-12 && (step - 0.01).abs() < 1e-12, "{lo} {hi} {step}");
        assert!(s.contains(">-0.02</text>") && s.contains(">0.03</text>"), "{s}");
        // Every point inside the plot, the lowest at the bottom edge of the data range.
        let ys: Vec<f64> = s.split("cy=\"").skip(1).map(|r| r.split('"').next().unwrap().parse().unwrap()).collect();
        assert_eq!(ys.len(), 3);
        assert!(ys.iter().all(|&y| y > T && y < H - B), "{ys:?}");
        assert!(ys[0] > ys[1] && ys[1] > ys[2]);
        // A narrow band of AUCs gets its own axis instead of 0–1.
        assert!((nice_range(0.612, 0.648).0 - 0.61).abs() < 1e-12);
    }
}
