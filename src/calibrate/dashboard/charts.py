"""Charts shared by pages: an assessor's control chart (Drift, Assessor) and a statistic of
every assessor with its interval among their peers (Assessor)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

if TYPE_CHECKING:
    from calibrate.analyses.drift import AssessorChart, DriftReport
    from calibrate.flags import FlagTestResult


def cusum_chart(chart: AssessorChart, h: float) -> alt.LayerChart:
    """The CUSUM's two paths against time, the decision interval ``h`` and the alarm."""
    time = pd.to_datetime(list(chart.time), utc=True)
    reading = list(range(1, chart.n_readings + 1))
    paths = pd.DataFrame(
        {
            "time": [*time, *time],
            "reading": [*reading, *reading],
            "statistic": [*chart.upper, *chart.lower],
            "path": ["lenient (upper)"] * chart.n_readings + ["severe (lower)"] * chart.n_readings,
        }
    )
    colour = alt.Color(
        "path:N",
        title="CUSUM",
        scale=alt.Scale(domain=["lenient (upper)", "severe (lower)"], range=["#c0504d", "#4f81bd"]),
        legend=alt.Legend(orient="top"),
    )
    x = alt.X("time:T", title="reading time")
    y = alt.Y("statistic:Q", title="cumulative sum (SD units)")
    lines = (
        alt.Chart(paths)
        .mark_line(point=True)
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                alt.Tooltip("reading:Q", title="reading"),
                alt.Tooltip("time:T", title="time", format="%Y-%m-%d %H:%M"),
                alt.Tooltip("path:N", title="statistic"),
                alt.Tooltip("statistic:Q", format=".2f"),
            ],
        )
    )
    limit = (
        alt.Chart(pd.DataFrame({"h": [h], "label": [f"h = {h:.2f}"]}))
        .mark_rule(strokeDash=[6, 4], color="#555")
        .encode(y="h:Q")
    )
    limit_label = (
        alt.Chart(pd.DataFrame({"h": [h], "time": [time[-1]], "label": [f"h = {h:.2f}"]}))
        .mark_text(align="right", baseline="bottom", dy=-3, color="#555")
        .encode(y="h:Q", x="time:T", text="label:N")
    )
    layers: list[alt.Chart] = [lines, limit, limit_label]
    if chart.alarm is not None:
        a = chart.alarm
        mark = pd.DataFrame(
            {
                "time": pd.to_datetime([a.time], utc=True),
                "statistic": [a.statistic],
                "label": [f"alarm: {a.direction}"],
            }
        )
        layers.append(
            alt.Chart(mark)
            .mark_point(shape="diamond", size=220, filled=True, color="#222")
            .encode(x="time:T", y="statistic:Q", tooltip=["label:N"])
        )
        layers.append(
            alt.Chart(mark)
            .mark_text(align="left", dx=10, dy=-10, fontWeight="bold")
            .encode(x="time:T", y="statistic:Q", text="label:N")
        )
    return alt.LayerChart(layer=layers).properties(height=320)


def cusum_caption(report: DriftReport, chart: AssessorChart) -> str:
    """What the chart is, in plain words, and the assessor's outcome."""
    what = (
        f"Each point is one validity-anchor reading by {chart.assessor}. The red line adds up "
        "how far their readings score above their own level (their mean deviation from the "
        f"experts over their first {report.min_readings} readings), the blue line how far "
        f"below, beyond a margin of {report.k:g} standard deviation of a reading (one SD is "
        f"{report.sd:.2f} score levels per criterion); each falls back to 0 when readings are "
        "back at that level, so the chart shows change, not a steady leniency or severity "
        f"(the Flags page tests those). A line crossing the dashed line (h = {report.h:.2f}) is an "
        f"alarm. An assessor who has not drifted crosses it by chance about once in "
        f"{report.arl0:.0f} readings; a shift of {2 * report.k:g} SD is caught after about "
        f"{report.arl1:.0f} readings on average."
    )
    if chart.alarm is not None:
        return f"{what} {chart.alarm.sentence}."
    if chart.status == "too few readings":
        return (
            f"{what} No alarm on {chart.n_readings} readings: too few to tell (the programme "
            f"asks for {report.min_readings})."
        )
    return f"{what} No alarm on {chart.n_readings} readings: no drift detected."


def among_peers(result: FlagTestResult, chosen: str, *, band: float | None) -> alt.LayerChart:
    """Every tested assessor's figure of one test with its interval, sorted (a caterpillar
    plot), ``chosen`` highlighted, and a shaded band of ``-band..band`` (the tolerance) when
    given."""
    rows = [f for f in result.figures if f.tested and f.criterion is None]
    frame = pd.DataFrame(
        {
            "assessor": [f.assessor for f in rows],
            "value": [f.value for f in rows],
            "low": [f.low for f in rows],
            "high": [f.high for f in rows],
            "who": ["this assessor" if f.assessor == chosen else "others" for f in rows],
        }
    ).sort_values("value")
    order = list(frame["assessor"])
    unit = result.test.unit
    y = alt.Y("assessor:N", sort=order, title=None, axis=alt.Axis(labels=len(order) <= 40))
    colour = alt.Color(
        "who:N",
        title=None,
        scale=alt.Scale(domain=["this assessor", "others"], range=["#d62728", "#9aa7b8"]),
        legend=alt.Legend(orient="top"),
    )
    x_title = f"{result.test.statistic} ({unit})"
    rules = (
        alt.Chart(frame)
        .mark_rule(strokeWidth=2)
        .encode(x=alt.X("low:Q", title=x_title), x2="high:Q", y=y, color=colour)
    )
    dots = (
        alt.Chart(frame)
        .mark_point(filled=True, size=50)
        .encode(
            x="value:Q",
            y=y,
            color=colour,
            tooltip=[
                "assessor:N",
                alt.Tooltip("value:Q", format=".2f"),
                alt.Tooltip("low:Q", format=".2f", title="95% low"),
                alt.Tooltip("high:Q", format=".2f", title="95% high"),
            ],
        )
    )
    layers: list[alt.Chart] = []
    if band is not None:
        shade = pd.DataFrame({"low": [-band], "high": [band]})
        layers.append(
            alt.Chart(shade).mark_rect(opacity=0.15, color="#59a14f").encode(x="low:Q", x2="high:Q")
        )
    layers += [rules, dots]
    return alt.LayerChart(layer=layers).properties(height=max(160, 14 * len(order)))
