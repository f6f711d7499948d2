"""Accuracy page: how close each assessor's scores of anchors come to the experts' scores.

Thin over :func:`calibrate.services.stored_accuracy` (as ``calibrate accuracy --context C --keep
K``): per assessor and per criterion, exact agreement, the mean signed deviation with its
interval, quadratic weighted kappa and pass-decision accuracy; each verdict is the report's
(:meth:`calibrate.analyses.accuracy.AccuracyRow.verdict`), which follows the interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape
from calibrate.errors import AccessDenied, CalibrateError

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.analyses.accuracy import AccuracyRow, Verdict

CONTEXTS = ("validity", "qualification", "practice")
VERDICT_SENTENCES: dict[Verdict, str] = {
    "harsher": "harsher than the experts",
    "more lenient": "more lenient than the experts",
    "in line": "in line with the experts",
    "cannot tell yet": "cannot tell yet",
    "too few anchors": "too few anchors for an interval",
}
"""Each :meth:`~calibrate.analyses.accuracy.AccuracyRow.verdict` in words."""
CONTEXT_HELP = (
    "Validity: anchors slipped unannounced into assessors' live queues (how they score when "
    "they do not know they are checked). Qualification: the rounds an assessor must pass "
    "before scoring live work. Practice: practice rounds with feedback."
)
EXACT_HELP = "Share of ratings equal to the experts' score of that anchor and criterion."
ADJACENT_HELP = "Share of ratings within one level of the experts' score."
DEVIATION_HELP = (
    "Mean signed deviation: the assessor's score minus the experts', averaged over ratings, in "
    "rubric levels. Below 0: harsher than the experts (severe); above 0: more lenient."
)
INTERVAL_HELP = (
    "95% interval of the mean deviation (Student's t, standard error clustered by anchor: "
    "ratings of one anchor are not independent)."
)
QWK_HELP = (
    "Quadratic weighted kappa with the experts' scores: 1 = always the experts' score, 0 = no "
    "better than chance; a near miss costs less than a far one (Cohen 1968)."
)
VERDICT_HELP = (
    "Follows the interval, not the estimate: harsher or more lenient only when the whole "
    "interval lies on one side of 0; cannot tell yet when it holds 0."
)
DECISION_HELP = (
    "Complete readings (every criterion scored) whose pass decision under the rubric's pass "
    "rule equals the experts' decision on that anchor."
)
COLUMNS = {
    "ratings": st.column_config.NumberColumn(help="Ratings paired with an expert score."),
    "anchors": st.column_config.NumberColumn(help="Distinct anchors rated."),
    "exact": st.column_config.NumberColumn(format="percent", help=EXACT_HELP),
    "adjacent": st.column_config.NumberColumn(format="percent", help=ADJACENT_HELP),
    "mean dev.": st.column_config.NumberColumn(format="%+.2f", help=DEVIATION_HELP),
    "low": st.column_config.NumberColumn(format="%+.2f", help=INTERVAL_HELP),
    "high": st.column_config.NumberColumn(format="%+.2f", help=INTERVAL_HELP),
    "verdict": st.column_config.TextColumn(help=VERDICT_HELP),
    "QWK": st.column_config.NumberColumn(format="%.2f", help=QWK_HELP),
    "decisions": st.column_config.NumberColumn(help=DECISION_HELP),
    "same decision": st.column_config.NumberColumn(format="percent", help=DECISION_HELP),
}


def render(actor: Actor) -> None:
    st.title("Accuracy")
    st.caption(
        "Do assessors give anchors (submissions the experts have scored) the experts' scores? "
        "Each figure comes with its 95% interval; a verdict is given only where the interval "
        "supports it."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    left, right = st.columns([3, 2])
    rubric = data.choose_rubric(left, versions, key="accuracy_rubric")
    context = right.selectbox(
        "Anchors", CONTEXTS, format_func=lambda c: f"{c} anchors", key="accuracy_context",
        help=CONTEXT_HELP,
    )  # fmt: skip
    keep = data.keep_choice(url, actor, rubric, context, key="accuracy_keep")
    try:
        report = data.accuracy(url, actor, rubric, context, keep)
    except AccessDenied:
        raise
    except CalibrateError as exc:
        st.info(f"No accuracy to show: {escape(exc)}.")
        return

    o = report.overall
    sizes = st.columns(4)
    sizes[0].metric("Assessors", f"{len(report.assessors):,}")
    sizes[1].metric("Ratings", f"{o.n:,}", help="Ratings of anchors paired with an expert score.")
    sizes[2].metric("Anchors", f"{o.n_anchors:,}", help="Distinct anchors rated.")
    sizes[3].metric("Exact", _percent(o.exact), help=f"Exact agreement. {EXACT_HELP}")
    figures = st.columns(4)
    figures[0].metric(
        "Mean dev.",
        _levels(o.mean_deviation),
        delta=f"{_levels(o.mean_deviation_ci.low)} to {_levels(o.mean_deviation_ci.high)}",
        delta_color="off",
        delta_arrow="off",
        help=f"{DEVIATION_HELP} {INTERVAL_HELP}",
    )
    figures[1].metric("Adjacent", _percent(o.adjacent), help=ADJACENT_HELP)
    figures[2].metric("QWK", _number(o.qwk), help=QWK_HELP)
    figures[3].metric(
        "Decisions",
        _percent(o.decision_accuracy),
        help=f"Same pass decision as the experts. {DECISION_HELP} Over "
        f"{o.n_decisions or 0:,} complete readings.",
    )
    st.caption(
        f"{escape(rubric)}, {context} anchors of {escape(', '.join(report.anchor_sets))}. "
        + _explained()
    )

    st.subheader("Each assessor against the experts")
    st.altair_chart(_chart(report.assessors), key="accuracy_chart")
    st.caption(
        "Dot: the assessor's mean signed deviation; bar: its 95% interval; the dashed line at 0 "
        "is the experts' score. A verdict here compares the interval with 0 (any systematic "
        "deviation); the Flags page tests it against the programme's tolerance, rule "
        "flags.deviation_levels (a quarter of a level by default), over the validity anchors."
    )
    st.dataframe(
        _table("assessor", report.assessors),
        hide_index=True,
        height="content",
        key="accuracy_assessors",
        column_config=COLUMNS,
    )
    for name, row in report.assessors.items():
        if row.verdict() in ("harsher", "more lenient"):
            st.markdown(f"- {_sentence(name, row)}")

    st.subheader("Each criterion")
    st.dataframe(
        _table("criterion", report.criteria),
        hide_index=True,
        height="content",
        key="accuracy_criteria",
        column_config=COLUMNS,
    )
    st.caption(
        "All assessors together on each criterion: a criterion read harsher or more leniently "
        "than the experts by most assessors points to its level descriptors or anchors. – : "
        "undefined on these data (e.g. QWK when every rating is the same)."
    )


def _explained() -> str:
    return (
        "Exact agreement: share of ratings equal to the experts' score. Mean signed deviation: "
        "assessor minus experts, in rubric levels (below 0 harsher, above 0 more lenient). "
        "QWK: quadratic weighted kappa with the experts (1 = always their score, 0 = chance)."
    )


def _percent(x: float | None) -> str:
    return "–" if x is None or x != x else f"{100 * x:.0f}%"


def _levels(x: float) -> str:
    return "–" if x != x else f"{x:+.2f}"


def _number(x: float) -> str:
    return "–" if x != x else f"{x:.2f}"


def _sentence(name: str, row: AccuracyRow) -> str:
    ci = row.mean_deviation_ci
    return (
        f"**{escape(name)}** scores {VERDICT_SENTENCES[row.verdict()]}: "
        f"{_levels(row.mean_deviation)} levels on average (95% {_levels(ci.low)} to "
        f"{_levels(ci.high)}) over {row.n:,} ratings of {row.n_anchors:,} anchors."
    )


def _table(label: str, rows: dict[str, AccuracyRow]) -> pd.DataFrame:
    decisions = any(r.n_decisions is not None for r in rows.values())
    table = pd.DataFrame(
        {
            label: list(rows),
            "verdict": [VERDICT_SENTENCES[r.verdict()] for r in rows.values()],
            "mean dev.": [r.mean_deviation for r in rows.values()],
            "low": [r.mean_deviation_ci.low for r in rows.values()],
            "high": [r.mean_deviation_ci.high for r in rows.values()],
            "exact": [r.exact for r in rows.values()],
            "adjacent": [r.adjacent for r in rows.values()],
            "QWK": [r.qwk for r in rows.values()],
            "ratings": [r.n for r in rows.values()],
            "anchors": [r.n_anchors for r in rows.values()],
        }
    )
    if decisions:
        table["decisions"] = [r.n_decisions for r in rows.values()]
        table["same decision"] = [r.decision_accuracy for r in rows.values()]
    return table


def _chart(rows: dict[str, AccuracyRow]) -> alt.LayerChart:
    """Each assessor's mean deviation with its interval, sorted, against the experts' 0."""
    points = pd.DataFrame(
        {
            "assessor": list(rows),
            "deviation": [r.mean_deviation for r in rows.values()],
            "low": [r.mean_deviation_ci.low for r in rows.values()],
            "high": [r.mean_deviation_ci.high for r in rows.values()],
            "verdict": [r.verdict() for r in rows.values()],
            "ratings": [r.n for r in rows.values()],
        }
    ).sort_values("deviation")
    y = alt.Y("assessor:N", sort=list(points["assessor"]), title=None)
    colour = alt.Color(
        "verdict:N",
        title="verdict (against the experts)",
        scale=alt.Scale(
            domain=list(VERDICT_SENTENCES),
            range=["#e15759", "#4e79a7", "#59a14f", "#9c9c9c", "#bab0ac"],
        ),
        legend=alt.Legend(orient="bottom", columns=3, labelLimit=0, titleLimit=0),
    )
    x = alt.X("deviation:Q", title="mean signed deviation from the experts (levels), 95% interval")
    bars = (
        alt.Chart(points).mark_rule(strokeWidth=2).encode(x="low:Q", x2="high:Q", y=y, color=colour)
    )
    dots = (
        alt.Chart(points)
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                "assessor",
                alt.Tooltip("deviation:Q", format="+.2f"),
                alt.Tooltip("low:Q", format="+.2f"),
                alt.Tooltip("high:Q", format="+.2f"),
                "verdict",
                "ratings",
            ],
        )
    )
    zero = pd.DataFrame({"at": [0.0], "label": ["experts' score"]})
    line = alt.Chart(zero).mark_rule(strokeDash=[4, 4], color="gray").encode(x="at:Q")
    text = (
        alt.Chart(zero)
        .mark_text(align="left", dx=4, dy=-6, color="gray", baseline="bottom")
        .encode(x="at:Q", text="label:N", y=alt.value(0))
    )
    # A step per assessor: a fixed total height is squashed by Streamlit 1.67's sizing.
    return alt.LayerChart(layer=[bars, dots, line, text]).properties(height=alt.Step(28))
