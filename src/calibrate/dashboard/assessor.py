"""Assessor page: one assessor among their peers, with the evidence behind each flag.

Thin over :func:`calibrate.services.assessor_flags` (every test's figure for every assessor:
severity among peers, fit and scale use, agreement in double scoring, accuracy on validity
anchors), :func:`calibrate.services.drift_report` (their control chart over time) and, for
administrators, :func:`calibrate.services.qualifications` and
:func:`~calibrate.services.suspensions` (their calibration rounds and what suspended them).
The assessor comes from the page's address (``?assessor=A0007``) or the select box.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate import services
from calibrate.dashboard import charts, data
from calibrate.dashboard.text import error, escape
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.flags import FlagReport

SECTIONS = {
    "Fit and use of the scale": ("inconsistent", "central", "differential", "halo"),
    "Agreement with the other reader in double scoring": (
        "exact", "adjacent", "qwk", "correlation", "smd",
    ),
    "Accuracy on validity anchors": ("anchor_deviation", "inaccurate", "drift"),
}  # fmt: skip
"""The tests shown in each table, by name (:data:`calibrate.flags.TESTS`)."""


def render(actor: Actor) -> None:
    st.title("Assessor")
    st.caption(
        "One assessor against their peers: every figure the flags test, with its 95% interval "
        "and the programme's threshold, so a flag can be checked, and a missing flag too."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    rubric = data.choose_rubric(st, versions, key="assessor_rubric")
    try:
        report = data.flags(url, actor, rubric, None, None)
    except CalibrateError as exc:
        error(exc)
        return
    names = sorted(report.assessors, key=lambda a: (-len(report.of(a)), a))  # flagged first
    asked = st.query_params.get("assessor")
    who: str = st.selectbox(
        "Assessor",
        names,
        index=names.index(asked) if asked in names else 0,
        format_func=lambda a: f"{a} · {len(report.of(a))} flags",
        key="assessor_who",
    )
    st.query_params["assessor"] = who
    st.markdown(f"**Data read:** {escape(report.window)}")
    _flags(report, who)
    _severity(report, who)
    for title, tests in SECTIONS.items():
        _table(report, who, title, tests)
    _chart(url, actor, rubric, who)
    if actor.may("workflow.manage"):
        _standing(actor, rubric, who)


def _flags(report: FlagReport, who: str) -> None:
    mine = report.of(who)
    st.subheader(f"Flags ({len(mine)})", anchor=False)
    if not mine:
        st.markdown("No flag in this window.")
    for flag in mine:
        st.markdown(f"- **{escape(flag.kind)}**: {escape(flag.reason)}")
    untested = [
        (r.test.statistic, why)
        for r in report.results
        for name, why in r.not_tested.items()
        if name == who
    ]
    if untested:
        st.caption(
            "Not tested, so neither flagged nor cleared: "
            + "; ".join(f"{escape(s)} ({escape(w)})" for s, w in untested)
            + "."
        )


def _severity(report: FlagReport, who: str) -> None:
    result = report.result("severity")
    if result is None:
        return
    st.subheader("Severity among peers", anchor=False)
    mine = [f for f in result.figures if f.assessor == who]
    if not mine or not mine[0].tested:
        why = result.not_tested.get(who, "no rating in this window")
        st.markdown(f"Not placed among peers: {escape(why)}.")
        return
    st.altair_chart(
        charts.among_peers(result, who, band=result.threshold),
        key=f"assessor_severity_{who}",
        width="stretch",
    )
    st.caption(
        "Each line is an assessor's severity from the rater model with its 95% interval, in "
        "score levels (how much lower, +, or higher, -, they score the same work than the "
        "average assessor would; logits converted at their own ratings). The shaded band is "
        f"the programme's tolerance, ±{result.threshold:g} levels (rule flags.severity_levels)."
    )


def _table(report: FlagReport, who: str, title: str, tests: tuple[str, ...]) -> None:
    rows = []
    for name in tests:
        result = report.result(name)
        if result is None:
            continue
        flagged = {(f.criterion or "") for f in result.flags if f.assessor == who}
        for fig in result.figures:
            if fig.assessor != who:
                continue
            label = f"{result.test.statistic}" + (f" · {fig.criterion}" if fig.criterion else "")
            rows.append(
                {
                    "statistic": label,
                    "value": _number(fig.value),
                    "low": _number(fig.low),
                    "high": _number(fig.high),
                    "threshold": f"{result.threshold:.3g} ({result.test.rule})",
                    "evidence": fig.n,
                    "verdict": "flagged"
                    if (fig.criterion or "") in flagged
                    else ("not flagged" if fig.tested else "not tested"),
                }
            )
    if not rows:
        return
    st.subheader(title, anchor=False)
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key=f"assessor_{title}",
        column_config={
            "statistic": st.column_config.TextColumn(width="large"),
            "value": st.column_config.TextColumn(width=65),
            "low": st.column_config.TextColumn(width=65, help="95% interval, lower end"),
            "high": st.column_config.TextColumn(width=65, help="95% interval, upper end"),
            "threshold": st.column_config.TextColumn(width=190),
            "evidence": st.column_config.NumberColumn(
                width=70, help="Ratings, paired scores or readings behind the figure."
            ),
            "verdict": st.column_config.TextColumn(
                width=95,
                help="flagged: beyond the threshold by more than chance allows; not flagged: "
                "tested, within it or too uncertain to say; not tested: too little evidence.",
            ),
        },
    )
    st.caption("– : the figure is undefined on this assessor's data (no such ratings).")


def _number(x: float) -> str:
    return "–" if x != x else f"{x:.3f}"


def _chart(url: str, actor: Actor, rubric: str, who: str) -> None:
    st.subheader("Control chart on validity anchors", anchor=False)
    try:
        report = data.drift(url, actor, rubric)
    except CalibrateError as exc:
        error(exc)
        return
    chart = next((c for c in report.charts if c.assessor == who), None)
    if chart is None:
        st.markdown("No validity-anchor reading by this assessor in the period.")
        return
    st.altair_chart(charts.cusum_chart(chart, report.h), key=f"assessor_chart_{who}")
    st.caption(charts.cusum_caption(report, chart))


def _standing(actor: Actor, rubric: str, who: str) -> None:
    engine = data.engine(data.database_url())
    try:
        standing = [
            q
            for q in services.qualifications(engine=engine, actor=actor, rubric=rubric)
            if q.assessor == who
        ]
        held = [
            s
            for s in services.suspensions(engine=engine, actor=actor, rubric=rubric)
            if s["assessor"] == who
        ]
    except CalibrateError as exc:
        error(exc)
        return
    st.subheader("Calibration rounds and suspensions", anchor=False)
    for q in standing:
        st.markdown(f"Status on {escape(q.rubric)}: **{escape(q.status)}**. {escape(q.reason)}")
        if q.rounds:
            rounds = pd.DataFrame(list(q.rounds)).astype(object)
            st.dataframe(rounds.where(rounds.notna(), "–"), hide_index=True, key="assessor_rounds")
    if not standing:
        st.markdown("No qualification rounds recorded for this assessor on this rubric.")
    for s in held:
        state = "in force" if s["active"] else "lifted"
        st.markdown(
            f"- Suspended {escape(str(s['started_at'])[:10])} by {escape(s['started_by'])} "
            f"({state}): {escape(s['reason'])}"
        )
