"""Drift page: assessors and the pool over time on one rubric version.

Thin over :func:`calibrate.services.drift_report`: the pool's drift between windows with the
verdict its interval supports, the assessors whose control chart raised an alarm, and the
chosen assessor's CUSUM chart against time with its decision interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.analyses.drift import AssessorChart, DriftReport

LEVELS = st.column_config.NumberColumn(format="%+.2f")


def render(actor: Actor) -> None:
    st.title("Drift")
    st.caption(
        "An assessor who was accurate in spring can turn lenient by autumn. Validity anchors, "
        "expert-scored work slipped into live queues, show it as it happens; a control chart "
        "per assessor says when an assessor's scoring has moved away from the experts', with "
        "a stated rate of false alarms."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    rubric = data.choose_rubric(st, versions, key="drift_rubric")
    with st.spinner("Charting the assessors (the severity model takes a moment)"):
        report = data.drift(url, actor, rubric)

    top = st.columns(4)
    top[0].metric("Assessors charted", f"{len(report.charts):,}")
    top[1].metric("Anchor readings", f"{report.n_readings:,}")
    top[2].metric("Alarms", f"{len(report.alarms):,}")
    top[3].metric(
        "False alarms expected",
        f"{report.expected_false_alarms:.1f}",
        help="Alarms that chance alone would raise over these readings if no assessor had "
        f"drifted: readings / {report.arl0:.0f}, the in-control average run length.",
    )

    st.subheader("The pool between windows")
    st.caption(
        f"Windows of {report.window_days} days from the first rating (the store has no terms). "
        "The pool's mean deviation from the experts on validity anchors read in both windows; "
        "a verdict only where the interval lies clear of 0."
    )
    if report.pool:
        for p in report.pool:
            st.markdown(f"- {escape(p.sentence)}")
    else:
        st.info("No two consecutive windows both hold validity-anchor readings.")

    st.subheader("Assessors with an alarm")
    alarms = report.alarms
    if alarms:
        st.dataframe(
            pd.DataFrame(
                {
                    "assessor": [a.assessor for a in alarms],
                    "direction": [a.direction for a in alarms],
                    "alarm at": [a.time[:10] for a in alarms],
                    "reading": [f"{a.reading} of {a.readings}" for a in alarms],
                    "likely from": [a.start_time[:10] for a in alarms],
                    "shift (levels)": [a.shift_score for a in alarms],
                }
            ),
            hide_index=True,
            height="content",
            key="drift_alarms",
            column_config={
                "shift (levels)": st.column_config.NumberColumn(
                    format="%+.2f",
                    help="Estimated change of the assessor's mean deviation from the experts "
                    "since the likely start, in score levels per criterion.",
                )
            },
        )
        for a in alarms:
            st.markdown(f"- {escape(a.sentence)}")
    else:
        st.success("No assessor's chart raised an alarm.")
    for note in report.notes:
        st.caption(escape(note))
    if not report.charts:
        return

    st.subheader("An assessor's control chart")
    names = [c.assessor for c in report.charts]
    first = names.index(alarms[0].assessor) if alarms else 0
    chosen = st.selectbox(
        "Assessor",
        names,
        index=first,
        format_func=lambda n: f"{n} · {report.chart(n).status}",
        key="drift_assessor",
    )
    chart = report.chart(chosen)
    st.altair_chart(_chart(chart, report.h), key=f"drift_chart_{rubric}_{chosen}")
    st.caption(_caption(report, chart))


def _chart(chart: AssessorChart, h: float) -> alt.LayerChart:
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


def _caption(report: DriftReport, chart: AssessorChart) -> str:
    """What the chart is, in plain words, and the assessor's outcome."""
    what = (
        f"Each point is one validity-anchor reading by {chart.assessor}. The red line adds up "
        "how far their readings score above the experts, the blue line how far below, beyond a "
        f"margin of {report.k:g} standard deviation of a reading (one SD is "
        f"{report.sd:.2f} score levels per criterion); each falls back to 0 when readings "
        f"agree with the experts. A line crossing the dashed line (h = {report.h:.2f}) is an "
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
