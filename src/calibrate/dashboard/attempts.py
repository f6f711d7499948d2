"""Attempts page: consistency of scoring across earners' attempts on one rubric version.

Thin over :func:`calibrate.services.attempt_consistency`: pass rate by attempt, the share who
have earned the credential by attempt k, score change between attempts, same versus new
assessor on a resubmission, leniency toward later attempts, and assessors across their
qualification rounds. Every figure shows its 95% interval, and every verdict is the report's,
which follows the interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.analyses.attempts import Difference, Figure

PERCENT = "{:.0%}"
LEVELS = "{:+.2f}"
NOTHING = "–"
"""Shown in a cell with nothing to compare (e.g. attempt 1 against itself)."""


def render(actor: Actor) -> None:
    st.title("Attempts")
    st.caption(
        "Most credentials are earned on a resubmission. Do resubmissions pass because the work "
        "improved, or because a different assessor looked? Each figure comes with its 95% "
        "interval; a verdict is given only where the interval supports it."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    rubric = data.choose_rubric(st, versions, key="attempts_rubric")
    with st.spinner("Reading attempts"):
        report = data.attempts(url, actor, rubric)

    sizes = st.columns(4)
    sizes[0].metric("Earners", f"{report.n_earners:,}")
    sizes[1].metric("Submissions", f"{report.n_submissions:,}")
    sizes[2].metric("Resubmissions", f"{report.n_resubmissions:,}")
    sizes[3].metric(
        "Decided by the workflow",
        f"{report.n_from_results:,}",
        help="Submissions with a final result (agreeing readings or an adjudication); the others "
        "are decided by their readings when these agree on the pass decision.",
    )

    st.subheader("Pass rate by attempt")
    st.dataframe(
        _shown(
            pd.DataFrame(
                {
                    "attempt": [r.attempt for r in report.pass_rates],
                    "decided": [r.n_decided for r in report.pass_rates],
                    "passed": [r.n_passed for r in report.pass_rates],
                    **_figure("pass rate", [r.pass_rate for r in report.pass_rates]),
                    **_difference("vs attempt 1", [r.vs_first for r in report.pass_rates]),
                }
            ),
            PERCENT,
            ("pass rate", "low", "high", "vs attempt 1", "vs low", "vs high"),
        ),
        hide_index=True,
        height="content",
        key="attempts_pass_rates",
    )
    st.caption(
        "low, high: the 95% interval. vs attempt 1: the pass rate's difference from first "
        f"attempts, in percentage points, with its interval (vs low, vs high); {NOTHING} where "
        "there is nothing to compare (attempt 1 itself)."
    )
    _sentences(r.sentence for r in report.pass_rates)
    _sentences(r.sentence for r in report.earned)

    st.subheader("Score change from one attempt to the next")
    st.dataframe(
        _shown(
            pd.DataFrame(
                {
                    "criterion": [r.criterion for r in report.score_changes],
                    **_difference("change (levels)", [r.change for r in report.score_changes]),
                }
            ),
            LEVELS,
            ("change (levels)", "vs low", "vs high"),
        ),
        hide_index=True,
        height="content",
        key="attempts_score_changes",
    )
    st.caption(
        "Mean change of each criterion's score between an earner's consecutive attempts, "
        "with an interval clustered by earner (vs low, vs high; "
        f"{NOTHING}: no consecutive attempts to compare). Those who resubmit were told 'not "
        "yet', so part of any gain is regression to the mean."
    )

    st.subheader("Same or new assessor on a resubmission")
    st.markdown(escape(report.continuity.sentence))

    st.subheader("Leniency toward later attempts")
    st.markdown(escape(report.leniency.sentence))
    rows = report.leniency.assessors
    if rows:
        st.dataframe(
            _shown(
                pd.DataFrame(
                    {
                        "assessor": [a.assessor for a in rows],
                        "first attempts": [a.n_first for a in rows],
                        "resubmissions": [a.n_later for a in rows],
                        **_difference("later minus first (levels)", [a.within for a in rows]),
                    }
                ),
                LEVELS,
                ("later minus first (levels)", "vs low", "vs high"),
            ),
            hide_index=True,
            height="content",
            key="attempts_leniency",
        )
        st.caption(
            "On double-scored submissions: an assessor's score minus the other readers', on "
            "resubmissions against first attempts. Verdicts use intervals widened for the number "
            f"of assessors compared; none is given from fewer than "
            f"{report.leniency.min_double_scored} of each ({NOTHING}: too few to compute)."
        )

    if report.calibration is not None and report.calibration.rounds:
        st.subheader("Assessors across their qualification rounds")
        st.markdown(escape(report.calibration.sentence))
        _sentences(r.sentence for r in report.calibration.rounds)


def _shown(table: pd.DataFrame, number: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """The table with ``columns`` as text formatted by ``number`` and an en dash in empty cells
    (the data grid shows an empty number as "None", whatever a Styler says)."""
    for column in columns:
        table[column] = [NOTHING if x != x else number.format(x) for x in table[column]]
    return table


def _figure(name: str, figures: list[Figure]) -> dict[str, list[float]]:
    return {
        name: [f.estimate for f in figures],
        "low": [f.interval.low for f in figures],
        "high": [f.interval.high for f in figures],
    }


def _difference(name: str, figures: list[Difference | None]) -> dict[str, list[object]]:
    nan = float("nan")
    return {
        name: [nan if f is None else f.estimate for f in figures],
        "vs low": [nan if f is None else f.interval.low for f in figures],
        "vs high": [nan if f is None else f.interval.high for f in figures],
        "verdict": ["" if f is None else f.verdict for f in figures],
    }


def _sentences(sentences: Iterable[str]) -> None:
    for sentence in sentences:
        st.markdown(f"- {escape(sentence)}")
