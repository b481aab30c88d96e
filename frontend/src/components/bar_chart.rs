//! Bar charts as SVG: counts per day or hour, bars of several groups side by side in each slot,
//! the series of one group stacked.
//!
//! Drawn here into an SVG string: round-numbered grid lines with their labels, the axes, a
//! label under the slots that carry one, the axis titles and the bars. It used to be `plotters`
//! (its SVG backend only), which cost 26 KB of the gzipped bundle (`gzip -9` of the wasm built by
//! `scripts/build-frontend.sh`, with these charts and with `draw` left out) for what is a few
//! dozen lines of layout; the bundle's budget of 500 KB gzipped had no room for it. The legend is
//! HTML under the chart (translated, each series with its total), and the numbers are in a table
//! too: a screen reader gets the chart's label and the table.

use std::fmt;

use yew::prelude::*;

use crate::hooks::use_app;
use crate::i18n::{Fixed, Lang};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 300.0;
/// The stylesheet's `--text` and `--border-strong`, and a lighter grid line.
const TEXT: Rgb = Rgb(0x37, 0x41, 0x51);
const AXIS: Rgb = Rgb(0xc5, 0xcc, 0xd8);
const GRID: Rgb = Rgb(0xea, 0xed, 0xf2);

/// A colour of a series, used for its bars and its legend swatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    fn css(self) -> String {
        format!("background: {self}")
    }
}

/// As CSS and SVG write it: `#rrggbb`.
impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// One position on the x axis: a day or an hour.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    /// How the table names it (e.g. the date and hour).
    pub label: String,
    /// The axis label under it, on the slots that carry one.
    pub tick: Option<String>,
}

/// One series of counts, a value per slot.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub label: String,
    pub color: Rgb,
    pub values: Vec<i64>,
}

impl Series {
    fn total(&self) -> i64 {
        self.values.iter().sum()
    }
}

#[derive(Properties, PartialEq)]
pub struct BarChartProps {
    /// What the chart shows; its accessible name starts with it.
    pub title: AttrValue,
    /// The axis titles, with their units.
    pub x_axis: AttrValue,
    pub y_axis: AttrValue,
    pub slots: Vec<Slot>,
    /// The bars of each slot, side by side: one per group, each the series of its group stacked.
    pub groups: Vec<Vec<Series>>,
    pub testid: AttrValue,
}

/// A bar chart with its legend and, on request, its numbers as a table.
#[function_component]
pub fn BarChart(props: &BarChartProps) -> Html {
    let app = use_app();
    let lang = app.lang;
    let series: Vec<&Series> = props.groups.iter().flatten().collect();
    let summary = format!(
        "{}: {}",
        props.title,
        series.iter().map(|s| format!("{} {}", s.label, lang.number(s.total()))).collect::<Vec<_>>().join(", ")
    );
    let svg = draw(props, lang);
    let rows = props.slots.iter().enumerate().filter(|(i, _)| series.iter().any(|s| s.values.get(*i) > Some(&0)));

    html! {
        <figure class="chart" data-testid={props.testid.clone()}>
            <div class="chart-canvas" role="img" aria-label={summary}>
                { Html::from_html_unchecked(AttrValue::from(svg)) }
            </div>
            <ul class="chart-legend">
                { for series.iter().map(|s| html! {
                    <li>
                        <span class="chart-swatch" style={s.color.css()}></span>
                        { s.label.clone() }
                        <span class="muted">{ format!(" ({})", lang.number(s.total())) }</span>
                    </li>
                }) }
            </ul>
            <details class="chart-data">
                <summary>{ app.t("overview.chart_numbers") }</summary>
                <div class="table-wrap">
                    <table class="table">
                        <caption class="visually-hidden">{ props.title.clone() }</caption>
                        <thead><tr>
                            <th scope="col">{ props.x_axis.clone() }</th>
                            { for series.iter().map(|s| html! { <th scope="col" class="num">{ s.label.clone() }</th> }) }
                        </tr></thead>
                        <tbody>
                            { for rows.map(|(i, slot)| html! {
                                <tr>
                                    <th scope="row">{ slot.label.clone() }</th>
                                    { for series.iter().map(|s| html! {
                                        <td class="num">{ lang.number(s.values.get(i).copied().unwrap_or(0)) }</td>
                                    }) }
                                </tr>
                            }) }
                            <tr class="total">
                                <th scope="row">{ app.t("overview.total") }</th>
                                { for series.iter().map(|s| html! { <td class="num">{ lang.number(s.total()) }</td> }) }
                            </tr>
                        </tbody>
                    </table>
                </div>
            </details>
        </figure>
    }
}

/// Where the plot sits in the SVG's coordinates: room for the y labels on the left and the x
/// labels with the axis title below.
const LEFT: f64 = 84.0;
const RIGHT: f64 = WIDTH - 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = HEIGHT - 60.0;

/// The step between the y axis's labels: the smallest of 1, 2 or 5 times a power of ten that
/// needs at most five steps up to `top`, so labels are round numbers.
fn y_step(top: i64) -> i64 {
    let mut power = 1_i64;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * power;
            if top / step <= 5 {
                return step;
            }
        }
        power *= 10;
    }
}

/// `text` with the characters that mean something in SVG markup escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The chart as an SVG document: horizontal grid lines at round numbers, the axes, a label
/// under every slot that carries one, the axis titles, and the bars.
fn draw(props: &BarChartProps, lang: Lang) -> String {
    let slots = props.slots.len().max(1);
    let stack_height =
        |group: &Vec<Series>, slot: usize| group.iter().map(|s| s.values.get(slot).copied().unwrap_or(0)).sum::<i64>();
    let highest =
        (0..slots).flat_map(|slot| props.groups.iter().map(move |g| stack_height(g, slot))).max().unwrap_or(0);
    // Head room over the highest bar, and at least one unit so an empty chart still has an axis.
    let y_top = highest + (highest / 10).max(1);
    let x = |slot: f64| LEFT + slot / slots as f64 * (RIGHT - LEFT);
    let y = |value: i64| BOTTOM - value as f64 / y_top as f64 * (BOTTOM - TOP);

    let (width, height) = (Fixed(WIDTH, 0), Fixed(HEIGHT, 0));
    let (left, right, top, bottom) = (Fixed(LEFT, 0), Fixed(RIGHT, 0), Fixed(TOP, 0), Fixed(BOTTOM, 0));
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="sans-serif" fill="{TEXT}">"#
    );
    let step = y_step(y_top);
    for value in (0..=y_top).step_by(step as usize) {
        let at = Fixed(y(value), 1);
        if value > 0 {
            svg += &format!(r#"<line x1="{left}" y1="{at}" x2="{right}" y2="{at}" stroke="{GRID}"/>"#);
        }
        svg += &format!(
            r#"<text x="{}" y="{at}" font-size="15" text-anchor="end" dominant-baseline="middle">{}</text>"#,
            Fixed(LEFT - 6.0, 0),
            lang.number(value)
        );
    }
    svg += &format!(r#"<path d="M{left} {top}V{bottom}H{right}" fill="none" stroke="{AXIS}"/>"#);
    for (slot, tick) in props.slots.iter().enumerate().filter_map(|(i, s)| Some((i, s.tick.as_deref()?))) {
        svg += &format!(
            r#"<text x="{}" y="{}" font-size="15" text-anchor="middle">{}</text>"#,
            Fixed(x(slot as f64 + 0.5), 1),
            Fixed(BOTTOM + 20.0, 0),
            escape(tick)
        );
    }
    svg += &format!(
        r#"<text x="{}" y="{}" font-size="16" text-anchor="middle">{}</text>"#,
        Fixed((LEFT + RIGHT) / 2.0, 0),
        Fixed(HEIGHT - 8.0, 0),
        escape(&props.x_axis)
    );
    svg += &format!(
        r#"<text transform="translate(24 {}) rotate(-90)" font-size="16" text-anchor="middle">{}</text>"#,
        Fixed((TOP + BOTTOM) / 2.0, 0),
        escape(&props.y_axis)
    );

    let group_width = 0.84 / props.groups.len().max(1) as f64;
    for (g, group) in props.groups.iter().enumerate() {
        let left = 0.08 + g as f64 * group_width;
        let mut stacked = vec![0_i64; slots];
        for series in group {
            for (slot, value) in series.values.iter().enumerate().filter(|(_, v)| **v > 0) {
                let bottom = stacked.get(slot).copied().unwrap_or(0);
                let (x0, x1) = (x(slot as f64 + left), x(slot as f64 + left + group_width * 0.92));
                let (y0, y1) = (y(bottom + value), y(bottom));
                svg += &format!(
                    r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
                    Fixed(x0, 1),
                    Fixed(y0, 1),
                    Fixed(x1 - x0, 1),
                    Fixed(y1 - y0, 1),
                    series.color
                );
                if let Some(top) = stacked.get_mut(slot) {
                    *top += value;
                }
            }
        }
    }
    svg + "</svg>"
}
