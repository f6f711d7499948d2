"""Reliability page: a G study and D study, and how many assessors each submission needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.stats._interval import ConfidenceInterval
    from calibrate.stats.gtheory import Coefficients, GStudy


def render(actor: Actor) -> None:
    st.title("Reliability (G study)")
    st.caption(
        "How much of the spread in scores reflects real differences between submissions rather "
        "than who scored them, and how many assessors a submission needs for a dependable "
        "decision."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    inputs = st.columns([3, 2, 2, 2])
    rubric = data.choose_rubric(inputs[0], versions, key="reliability_rubric")
    context = data.choose_context(inputs[1], key="reliability_context")
    target = inputs[2].number_input(
        "Target",
        min_value=0.05,
        max_value=0.99,
        value=0.8,
        step=0.05,
        key="reliability_target",
        help="The coefficient a dependable decision needs (0.8 is a common standard).",
    )
    most = inputs[3].number_input(
        "Up to assessors",
        min_value=1,
        max_value=50,
        value=10,
        step=1,
        key="reliability_max_assessors",
        help="The D study covers 1 to this many assessors per submission.",
    )
    keep = data.keep_choice(url, actor, rubric, context, key="reliability_keep")
    ratings = data.selection(url, actor, rubric, context, keep).ratings
    if not len(ratings):
        data.no_ratings_notice(rubric, context)
        return
    try:
        study = data.reliability(url, actor, rubric, context, keep, float(target), int(most))
    except CalibrateError as exc:
        st.warning(f"A G study cannot be run on these ratings: {escape(exc)}.")
        return

    vc, obs = study.components, study.observed
    sizes = st.columns(4)
    sizes[0].metric("Ratings", f"{vc.n_ratings:,}")
    sizes[1].metric("Submissions", f"{vc.n_submissions:,}")
    sizes[2].metric("Assessors", f"{vc.n_assessors:,}")
    sizes[3].metric("Criteria", f"{vc.n_criteria:,}")
    st.caption(
        f"{vc.assessors_per_submission:.2f} assessors per submission (harmonic mean). "
        f"Design: {vc.design} ({vc.notation}), {'balanced' if vc.balanced else 'unbalanced'}; "
        f"estimator: {vc.estimator}. p: submissions, r: assessors, i: criteria."
    )

    ci = study.intervals
    assert ci is not None  # data.reliability resamples
    st.subheader("At the observed design")
    coefficients = [*st.columns(2), *st.columns(2)]  # two by two: labels and intervals fit
    coefficients[0].metric(
        "Φ (absolute)",
        _number(obs.phi),
        delta=_interval(ci.observed.phi),
        delta_color="off",
        delta_arrow="off",
        help="Dependability of pass/not-yet decisions against the rubric's standard, with its "
        f"{ci.level:.0%} interval from {ci.n_boot:,} resamples of submissions.",
    )
    coefficients[1].metric(
        "G (relative, Eρ²)",
        _number(obs.g),
        delta=_interval(ci.observed.g),
        delta_color="off",
        delta_arrow="off",
        help="Dependability of ranking submissions, with its interval.",
    )
    coefficients[2].metric(
        f"Assessors needed, Φ ≥ {study.target:g}",
        _needed(study.assessors_needed_phi),
        delta=_assured(ci.assessors_needed_phi.assured, ci.assessors_needed_phi.max_assessors),
        delta_color="off",
        delta_arrow="off",
        help="By the estimate; below it, by the interval's lower bound (the number that "
        f"reaches the target with {1 - (1 - ci.level) / 2:.1%} confidence). With unlimited "
        f"assessors Φ reaches at most {_number(study.limit.phi)}.",
    )
    coefficients[3].metric(
        f"Assessors needed, G ≥ {study.target:g}",
        _needed(study.assessors_needed_g),
        delta=_assured(ci.assessors_needed_g.assured, ci.assessors_needed_g.max_assessors),
        delta_color="off",
        delta_arrow="off",
        help=f"As for Φ. With unlimited assessors G reaches at most {_number(study.limit.g)}.",
    )
    st.markdown(_reading(study))

    st.subheader("Variance components")
    st.dataframe(
        _components(study),
        hide_index=True,
        height="content",
        key="reliability_components",
        column_config={
            "raw": st.column_config.NumberColumn(format="%.4f"),
            "estimate": st.column_config.NumberColumn(format="%.4f"),
            "share": st.column_config.NumberColumn(format="percent"),
        },
    )
    st.caption(
        "Share of the score variance each source explains. Negative estimates (sampling error "
        "around a small component) are kept in raw and set to 0."
    )

    st.subheader("D study: more or fewer assessors per submission")
    rows = study.d_study
    if vc.n_criteria > 1:
        as_rated = round(obs.n_criteria)
        n_criteria = st.number_input(
            "Criteria per submission",
            min_value=1,
            max_value=40,
            value=as_rated,
            step=1,
            key="reliability_criteria",
            help="A shorter or longer rubric: the D study with this many criteria, from the "
            f"same variance components (as rated: {obs.n_criteria:g}).",
        )
        if n_criteria != as_rated:  # the same components, another rubric length
            rows = vc.d_study(range(1, int(most) + 1), [float(n_criteria)])
    d_study = _d_study(study, rows)
    st.altair_chart(_chart(d_study, study.target), key="reliability_chart")
    st.dataframe(
        d_study,
        hide_index=True,
        height="content",
        key="reliability_d_study",
        column_config={
            "assessors": st.column_config.NumberColumn(format="%g"),
            "relative error": st.column_config.NumberColumn(format="%.4f"),
            "absolute error": st.column_config.NumberColumn(format="%.4f"),
            "G": st.column_config.NumberColumn(format="%.3f"),
            "G low": st.column_config.NumberColumn(format="%.3f"),
            "G high": st.column_config.NumberColumn(format="%.3f"),
            "Φ": st.column_config.NumberColumn(format="%.3f"),
            "Φ low": st.column_config.NumberColumn(format="%.3f"),
            "Φ high": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    st.caption(
        f"With {rows[0].n_criteria:g} criteria per submission. Low and high: the 95% interval "
        f"from {ci.n_boot:,} resamples of whole submissions (the bands in the chart); a number "
        "of assessors is enough when the interval's low end reaches the target. Where the two "
        "lines coincide, G and Φ are equal."
    )


def _number(x: float) -> str:
    return "–" if x != x else f"{x:.3f}"


def _needed(n: int | None) -> str:
    return "not reachable" if n is None else str(n)


def _interval(bounds: ConfidenceInterval) -> str:
    return f"95% interval {_number(bounds.low)} to {_number(bounds.high)}"


def _assured(n: int | None, most: int) -> str:
    return f"{n} by the lower bound" if n is not None else f"not assured up to {most}"


def _reading(study: GStudy) -> str:
    """The verdict at the observed design, which follows Φ's interval, and what would help."""
    verdict = study.verdict()
    assert study.intervals is not None
    needed = study.intervals.assessors_needed_phi
    if verdict.verdict == "dependable":
        return f"**Dependable decisions.** {_capital(verdict.reason)}."
    if verdict.verdict == "not dependable":
        more = (
            f" {needed.assured} assessors per submission would reach it by the lower bound."
            if needed.assured is not None
            else f" No number up to {needed.max_assessors} reaches it by the lower bound."
        )
        return f":orange[**Decisions not dependable.**] {_capital(verdict.reason)}.{more}"
    return f"**Too few submissions to tell.** {_capital(verdict.reason)}."


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _components(study: GStudy) -> pd.DataFrame:
    components = study.components.components
    total = sum(c.estimate for c in components)
    return pd.DataFrame(
        {
            "effect": [c.effect for c in components],
            "source": [c.source for c in components],
            "raw": [c.raw for c in components],
            "estimate": [c.estimate for c in components],
            "share": [c.estimate / total if total > 0 else float("nan") for c in components],
        }
    )


def _d_study(study: GStudy, rows: Sequence[Coefficients]) -> pd.DataFrame:
    g = [study.confidence_interval("g", r.n_assessors, r.n_criteria) for r in rows]
    phi = [study.confidence_interval("phi", r.n_assessors, r.n_criteria) for r in rows]
    return pd.DataFrame(
        {
            "assessors": [row.n_assessors for row in rows],
            "relative error": [row.relative_error for row in rows],
            "absolute error": [row.absolute_error for row in rows],
            "G": [row.g for row in rows],
            "G low": [b.low for b in g],
            "G high": [b.high for b in g],
            "Φ": [row.phi for row in rows],
            "Φ low": [b.low for b in phi],
            "Φ high": [b.high for b in phi],
        }
    )


def _chart(d_study: pd.DataFrame, target: float) -> alt.LayerChart:
    """G and Φ by assessors per submission, each with its bootstrap band, and the target."""
    names = {"Φ": "Φ (absolute)", "G": "G (relative)"}
    long = pd.concat(
        [
            pd.DataFrame(
                {
                    "assessors": d_study["assessors"],
                    "coefficient": name,
                    "value": d_study[key],
                    "low": d_study[f"{key} low"],
                    "high": d_study[f"{key} high"],
                }
            )
            for key, name in names.items()
        ]
    )
    colour = alt.Color(
        "coefficient:N",
        title="coefficient (band: 95% interval)",
        scale=alt.Scale(domain=list(names.values()), range=["#4e79a7", "#f28e2b"]),
        legend=alt.Legend(orient="bottom", labelLimit=0, titleLimit=0, symbolOpacity=1),
    )
    x = alt.X("assessors:Q", title="assessors per submission", axis=alt.Axis(tickMinStep=1))
    band = alt.Chart(long).mark_area(opacity=0.15).encode(x=x, y="low:Q", y2="high:Q", color=colour)
    lines = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("value:Q", title="coefficient", scale=alt.Scale(domain=[0, 1])),
            color=colour,
            strokeDash=alt.StrokeDash(
                "coefficient:N",
                scale=alt.Scale(domain=list(names.values()), range=[[1, 0], [6, 3]]),
                legend=None,
            ),
            shape=alt.Shape(
                "coefficient:N",
                scale=alt.Scale(domain=list(names.values()), range=["circle", "diamond"]),
                legend=None,
            ),
            tooltip=[
                "assessors",
                "coefficient",
                alt.Tooltip("value:Q", format=".3f"),
                alt.Tooltip("low:Q", format=".3f"),
                alt.Tooltip("high:Q", format=".3f"),
            ],
        )
    )
    mark = pd.DataFrame({"target": [target], "label": [f"target {target:g}"]})
    rule = alt.Chart(mark).mark_rule(strokeDash=[2, 2], color="gray").encode(y="target:Q")
    label = (
        alt.Chart(mark)
        .mark_text(align="left", baseline="bottom", dx=3, dy=-3, color="gray")
        .encode(y="target:Q", x=alt.value(0), text="label:N")
    )
    return alt.LayerChart(layer=[band, lines, rule, label])
