//! Bar charts as SVG: counts per day or hour, bars of several groups side by side in each slot,
//! the series of one group stacked.
//!
//! Drawn by `plotters` (without default features: its SVG backend only) into an SVG string;
//! it lays out the axes, ticks and labels. In wasm it measures text in the page itself (a
//! hidden `<span>`), so no font files or font crates come along. What it costs, measured as
//! `gzip -9` of the wasm built by `scripts/build-frontend.sh`, with these charts drawn and with
//! `draw` left out: 50.2 KB under the release profile of the time (codegen-units 4, no LTO), and
//! 25.7 KB under a profile for size (opt-level "z", LTO, one codegen unit, panic = abort). That
//! is within the ~50 KB a chart library may cost here, so there is no chart drawing of our own.
//! The legend is HTML under the chart (translated, each series with its total), and the numbers
//! are in a table too: a screen reader gets the chart's label and the table.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use yew::prelude::*;

use crate::hooks::use_app;
use crate::i18n::Lang;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 300;
const FONT: &str = "sans-serif";
/// The stylesheet's `--text` and `--border-strong`, and a lighter grid line.
const TEXT: RGBColor = RGBColor(0x37, 0x41, 0x51);
const AXIS: RGBColor = RGBColor(0xc5, 0xcc, 0xd8);
const GRID: RGBColor = RGBColor(0xea, 0xed, 0xf2);

/// A colour of a series, used for its bars and its legend swatch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    fn css(self) -> String {
        format!("background: rgb({}, {}, {})", self.0, self.1, self.2)
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
    let svg = draw(props, lang).unwrap_or_default();
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

/// The x axis: `slots` positions of width 1, labelled at the middle of the slots in `ticks`
/// (plotters would otherwise choose round numbers, not midnights).
struct SlotAxis {
    slots: usize,
    ticks: Vec<f64>,
}

impl Ranged for SlotAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let share = value / self.slots.max(1) as f64;
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.ticks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        0.0..self.slots.max(1) as f64
    }
}

/// The chart as an SVG document.
fn draw(props: &BarChartProps, lang: Lang) -> Result<String, Box<dyn std::error::Error>> {
    let slots = props.slots.len();
    let stack_height =
        |group: &Vec<Series>, slot: usize| group.iter().map(|s| s.values.get(slot).copied().unwrap_or(0)).sum::<i64>();
    let highest =
        (0..slots).flat_map(|slot| props.groups.iter().map(move |g| stack_height(g, slot))).max().unwrap_or(0);
    // Head room over the highest bar, and at least one unit so an empty chart still has an axis.
    let y_top = highest + (highest / 10).max(1);
    let ticks: Vec<f64> =
        props.slots.iter().enumerate().filter(|(_, s)| s.tick.is_some()).map(|(i, _)| i as f64 + 0.5).collect();

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(SlotAxis { slots, ticks }, 0i64..y_top)?;
        let tick_label = |x: &f64| props.slots.get(*x as usize).and_then(|s| s.tick.clone()).unwrap_or_default();
        let number = |y: &i64| lang.number(*y);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(0)
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .y_labels(6)
            .x_label_formatter(&tick_label)
            .y_label_formatter(&number)
            .label_style((FONT, 15).into_font().color(&TEXT))
            .axis_desc_style((FONT, 16).into_font().color(&TEXT))
            .x_desc(props.x_axis.as_str())
            .y_desc(props.y_axis.as_str())
            .draw()?;

        let group_width = 0.84 / props.groups.len().max(1) as f64;
        for (g, group) in props.groups.iter().enumerate() {
            let left = 0.08 + g as f64 * group_width;
            let mut stacked = vec![0_i64; slots];
            for series in group {
                let color = RGBColor(series.color.0, series.color.1, series.color.2);
                let mut bars = Vec::new();
                for (slot, value) in series.values.iter().enumerate().filter(|(_, v)| **v > 0) {
                    let x = slot as f64 + left;
                    let bottom = stacked[slot];
                    bars.push(Rectangle::new([(x, bottom), (x + group_width * 0.92, bottom + value)], color.filled()));
                    stacked[slot] += value;
                }
                chart.draw_series(bars)?;
            }
        }
        root.present()?;
    }
    Ok(svg)
}
