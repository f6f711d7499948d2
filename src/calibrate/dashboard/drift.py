"""Drift page: assessors and the pool over time on one rubric version.

Thin over :func:`calibrate.services.drift_report`: the pool's drift between windows with the
verdict its interval supports, the assessors whose control chart raised an alarm, and the
chosen assessor's CUSUM chart against time with its decision interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate.dashboard import charts, data
from calibrate.dashboard.text import escape

if TYPE_CHECKING:
    from calibrate.access import Actor

LEVELS = st.column_config.NumberColumn(format="%+.2f")


def render(actor: Actor) -> None:
    st.title("Drift")
    st.caption(
        "An assessor who was accurate in spring can turn lenient by autumn. Validity anchors, "
        "expert-scored work slipped into live queues, show it as it happens; a control chart "
        "per assessor says when their agreement with the experts has moved away from their own "
        "earlier level, with a stated rate of false alarms. (An assessor lenient or severe from "
        "the start is not drifting: the Flags page reports them.)"
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
    st.altair_chart(charts.cusum_chart(chart, report.h), key=f"drift_chart_{rubric}_{chosen}")
    st.caption(charts.cusum_caption(report, chart))
