//! Two small inline-SVG line charts (no library): the size and the duration of the
//! successful backups on the current page of the history, oldest on the left.

use crate::api::Backup;
use crate::format::format_time;
use chrono::{DateTime, Utc};
use leptos::prelude::*;

// Geometry of one chart, in SVG user units (it scales with its box).
const WIDTH: f64 = 320.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

/// One value to plot.
#[derive(Clone, Debug, PartialEq)]
struct Point {
    at: DateTime<Utc>,
    value: f64,
}

#[component]
pub fn BackupChart(items: Vec<Backup>) -> impl IntoView {
    // The page is newest first; the charts read left to right, oldest first.
    let ok: Vec<&Backup> = items.iter().rev().filter(|b| b.succeeded()).collect();
    let sizes: Vec<Point> = ok
        .iter()
        .filter_map(|b| {
            b.size_bytes.map(|s| Point {
                at: b.started_at,
                value: s as f64 / 1_000_000.0,
            })
        })
        .collect();
    let durations: Vec<Point> = ok
        .iter()
        .filter_map(|b| {
            b.duration_ms.map(|ms| Point {
                at: b.started_at,
                value: ms as f64 / 1000.0,
            })
        })
        .collect();
    let empty = ok.is_empty();
    view! {
        <section class="chart-card" data-testid="backup-chart" aria-labelledby="backup-chart-title">
            <h2 id="backup-chart-title" class="section-title">
                "Successful backups on this page"
            </h2>
            {if empty {
                view! {
                    <p class="muted chart-empty">
                        "No successful backup on this page yet: nothing to chart."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <div class="charts">
                        <LineChart title="Size" unit="MB" series="size" points=sizes />
                        <LineChart title="Duration" unit="s" series="duration" points=durations />
                    </div>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn LineChart(
    title: &'static str,
    unit: &'static str,
    /// CSS modifier: `chart-size`, `chart-duration`.
    series: &'static str,
    points: Vec<Point>,
) -> impl IntoView {
    let max = points.iter().map(|p| p.value).fold(0.0_f64, f64::max);
    let top = nice_ceiling(max);
    let n = points.len();
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = move |i: usize| {
        if n <= 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = move |v: f64| TOP + plot_h - (v / top).clamp(0.0, 1.0) * plot_h;
    let line = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.value)))
        .collect::<Vec<_>>()
        .join(" ");
    let summary = match (points.first(), points.last()) {
        (Some(first), Some(last)) if n > 1 => format!(
            "{title} of the {n} successful backups on this page, from {} {unit} to {} {unit}; highest {} {unit}.",
            tick(first.value),
            tick(last.value),
            tick(max)
        ),
        (Some(only), _) => format!("{title} of the one successful backup on this page: {} {unit}.", tick(only.value)),
        _ => format!("No {title} to show."),
    };

    let grid = [0.0, top / 2.0, top]
        .into_iter()
        .map(|v| {
            let gy = y(v);
            view! {
                <g>
                    <line class="chart-grid" x1=LEFT x2=WIDTH - RIGHT y1=gy y2=gy></line>
                    <text class="chart-label" x=LEFT - 6.0 y=gy + 3.5 text-anchor="end">
                        {tick(v)}
                    </text>
                </g>
            }
        })
        .collect_view();
    let dots = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let label = format!("{}: {} {unit}", format_time(&p.at), tick(p.value));
            view! {
                <g class="chart-point">
                    <circle cx=x(i) cy=y(p.value) r="3.5"></circle>
                    <title>{label}</title>
                </g>
            }
        })
        .collect_view();
    let x_labels = x_labels(&points, x);

    view! {
        <figure class=format!("chart chart-{series}")>
            <figcaption class="chart-title">{format!("{title} ({unit})")}</figcaption>
            <svg
                class="chart-svg"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=summary
                preserveAspectRatio="xMidYMid meet"
            >
                {grid}
                <line class="chart-axis" x1=LEFT x2=LEFT y1=TOP y2=TOP + plot_h></line>
                <line class="chart-axis" x1=LEFT x2=WIDTH - RIGHT y1=TOP + plot_h y2=TOP + plot_h></line>
                {(n > 1).then(|| view! { <polyline class="chart-line" points=line></polyline> })}
                {dots}
                {x_labels}
            </svg>
        </figure>
    }
}

/// The dates under the x axis: the first and the last backup (one label for one point).
fn x_labels(points: &[Point], x: impl Fn(usize) -> f64) -> impl IntoView {
    let base = HEIGHT - BOTTOM + 16.0;
    let short = |at: &DateTime<Utc>| at.format("%m-%d %H:%M").to_string();
    let mut labels = Vec::new();
    match points {
        [] => {}
        [only] => labels.push((x(0), "middle", short(&only.at))),
        [first, .., last] => {
            labels.push((x(0), "start", short(&first.at)));
            labels.push((x(points.len() - 1), "end", short(&last.at)));
        }
    }
    labels
        .into_iter()
        .map(|(lx, anchor, text)| {
            view! {
                <text class="chart-label" x=lx y=base text-anchor=anchor>
                    {text}
                </text>
            }
        })
        .collect_view()
}

/// The smallest "round" number (1, 2, 2.5, 5 × 10ⁿ) at or above `v`; 1 when there is
/// nothing to scale (no value, or all zero).
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * magnitude)
}

/// An axis or tooltip number: no decimals when whole, one above 1, two below.
fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(2.2), 2.5);
        assert_eq!(nice_ceiling(52.45), 100.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
    }

    #[test]
    fn ticks() {
        assert_eq!(tick(0.0), "0");
        assert_eq!(tick(50.0), "50");
        assert_eq!(tick(12.5), "12.5");
        assert_eq!(tick(0.25), "0.25");
    }
}
