"""Flags page: which assessors the evidence says to look at, and why.

Thin over :func:`calibrate.services.assessor_flags` (and, for administrators,
:func:`calibrate.services.suspend_flagged`): an assessors table with their flags in words
(sortable, filterable by kind), every flag with its figure, interval, threshold and evidence,
what each test read and how many of its flags may be false.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate import services
from calibrate.dashboard import data
from calibrate.dashboard.text import error, escape
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.flags import FlagReport

KIND_WORDS = {
    "severe": "severe: scores lower than the others or the experts",
    "lenient": "lenient: scores higher than the others or the experts",
    "discrepant": "discrepant: agrees too little with the other reader in double scoring",
    "halo": "halo: scores every criterion of a submission alike",
    "inconsistent": "inconsistent: scores the model cannot predict (erratic)",
    "central": "central tendency: avoids the top and bottom levels",
    "differential": "differential: severe or lenient on one criterion only",
    "inaccurate": "inaccurate: misses the experts' scores on validity anchors",
    "drift": "drift: their scoring has moved over time",
}
DONE = "flags_done"


def render(actor: Actor) -> None:
    st.title("Flags")
    st.caption(
        "Each flag is a test: a figure about an assessor, its 95% interval, the programme's "
        "threshold (Programme rules page) and the evidence behind it. An assessor is flagged "
        "only when the interval lies beyond the threshold by more than chance allows, with "
        "the share of false flags held at the false discovery rate; assessors with too few "
        "ratings are neither flagged nor cleared."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(escape(done), icon=":material/check:")
    pick, end, span = st.columns([3, 1, 1])
    rubric = data.choose_rubric(pick, versions, key="flags_rubric")
    until: date | None = end.date_input(
        "Window ends", value=None, key="flags_until",
        help="Last day of the ratings read; empty: the day of the latest rating.",
    )  # fmt: skip
    days = span.number_input(
        "Days", min_value=1, value=None, step=30, key="flags_days",
        help="Days of ratings read, up to the end; empty: the rule flags.window_days.",
    )  # fmt: skip
    try:
        report = data.flags(url, actor, rubric, until, None if days is None else int(days))
    except CalibrateError as exc:
        error(exc)
        return
    _summary(report)
    _assessors(report)
    _details(report)
    _tests(report)
    if actor.may("workflow.manage"):
        _suspend(url, actor, rubric, until, days)


def _summary(report: FlagReport) -> None:
    st.markdown(f"**Data read:** {escape(report.window)}")
    flagged = {f.assessor for f in report.flags}
    cols = st.columns(4)
    cols[0].metric("Assessors", f"{len(report.assessors):,}")
    cols[1].metric("Flagged", f"{len(flagged):,}", help="Assessors with at least one flag.")
    cols[2].metric("Flags", f"{len(report.flags):,}")
    cols[3].metric(
        "Expected false",
        f"≤ {report.expected_false:.1f}",
        help=f"Each test holds the false discovery rate at {report.fdr:.0%} (Benjamini & "
        "Hochberg 1995): of the flags a test raises, at most that share is expected to be "
        "false, on average.",
    )
    for note in report.notes:
        st.info(escape(note))


def _assessors(report: FlagReport) -> None:
    st.subheader("Assessors", anchor=False)
    kinds = sorted({f.kind for f in report.flags})
    chosen = st.multiselect(
        "Show assessors flagged for",
        kinds,
        format_func=lambda k: KIND_WORDS.get(k, k),
        key="flags_kinds",
        placeholder="any kind (or none: every assessor)",
    )
    untested: dict[str, int] = {}
    for r in report.results:
        for who in r.not_tested:
            name = who.split(" / ")[0]
            untested[name] = untested.get(name, 0) + 1
    rows = []
    for who in report.assessors:
        mine = report.of(who)
        if chosen and not any(f.kind in chosen for f in mine):
            continue
        rows.append(
            {
                "assessor": who,
                "page": f"assessor?assessor={who}",
                "flags": len(mine),
                "kinds": ", ".join(sorted({f.kind for f in mine})),
                "not tested on": untested.get(who, 0),
            }
        )
    frame = pd.DataFrame(rows, columns=["assessor", "page", "flags", "kinds", "not tested on"])
    st.dataframe(
        frame.sort_values(["flags", "assessor"], ascending=[False, True]),
        hide_index=True,
        key="flags_assessors",
        column_config={
            "assessor": st.column_config.TextColumn(width=90, pinned=True),
            "page": st.column_config.LinkColumn(
                "details", display_text="open", width=70,
                help="The assessor's page: every figure with its interval among their peers, "
                "their control chart and calibration rounds (opens in a new tab).",
            ),
            "flags": st.column_config.NumberColumn(width=60),
            "kinds": st.column_config.TextColumn(
                width=190, help="Every flag, in words, is listed below the table."
            ),
            "not tested on": st.column_config.NumberColumn(
                width=110,
                help="Tests this assessor was left out of (too few ratings, or a statistic the "
                "data cannot give); see 'What was tested'.",
            ),
        },
    )  # fmt: skip
    st.caption(
        "Sort by any column; filter by kind above. " + "; ".join(KIND_WORDS[k] for k in kinds)
        if kinds
        else "No assessor is flagged in this window."
    )


def _details(report: FlagReport) -> None:
    flags = report.flags
    if not flags:
        return
    st.subheader("Every flag", anchor=False)
    who = st.selectbox(
        "Assessor", ["all", *sorted({f.assessor for f in flags})], key="flags_who",
    )  # fmt: skip
    shown = [f for f in flags if who in ("all", f.assessor)]
    for f in shown:
        st.markdown(f"- **{escape(f.assessor)} · {escape(f.kind)}**: {escape(f.reason)}")
    st.dataframe(
        pd.DataFrame(
            {
                "assessor": [f.assessor for f in shown],
                "kind": [f.kind for f in shown],
                "figure": [_statistic(report, f.test) for f in shown],
                "value": [f.value for f in shown],
                "low": [f.low for f in shown],
                "high": [f.high for f in shown],
                "threshold": [f.threshold for f in shown],
                "evidence": [f.n for f in shown],
                "q": [f.q_value for f in shown],
            }
        ),
        hide_index=True,
        key="flags_details",
        column_config={
            "assessor": st.column_config.TextColumn(width=90, pinned=True),
            "kind": st.column_config.TextColumn(width=90),
            "figure": st.column_config.TextColumn(width="large"),
            "value": st.column_config.NumberColumn(format="%.3f", width=70),
            "low": st.column_config.NumberColumn(
                format="%.3f", width=70, help="95% interval, lower end."
            ),
            "high": st.column_config.NumberColumn(
                format="%.3f", width=70, help="95% interval, upper end."
            ),
            "threshold": st.column_config.NumberColumn(format="%.3f", width=80),
            "evidence": st.column_config.NumberColumn(
                width=80, help="Ratings, paired scores or readings behind the figure."
            ),
            "q": st.column_config.NumberColumn(
                format="%.4f", width=70,
                help="Benjamini-Hochberg adjusted p-value; flagged at or below the false "
                "discovery rate (empty for a control chart, which holds false alarms by its "
                "run length instead).",
            ),
        },
    )  # fmt: skip


def _statistic(report: FlagReport, name: str) -> str:
    for r in report.results:
        if r.test.name == name:
            return f"{r.test.statistic} ({r.test.unit})"
    return name


def _tests(report: FlagReport) -> None:
    with st.expander("What was tested", expanded=False):
        st.dataframe(
            pd.DataFrame(
                {
                    "statistic": [r.test.statistic for r in report.results],
                    "from": [r.test.source for r in report.results],
                    "threshold": [
                        f"{r.threshold:.3g} {r.test.unit} ({r.test.rule})" for r in report.results
                    ],
                    "tested": [r.tested for r in report.results],
                    "flagged": [len(r.flags) for r in report.results],
                    "false flags expected": [r.expected_false for r in report.results],
                    "not tested": [len(r.not_tested) for r in report.results],
                }
            ),
            hide_index=True,
            key="flags_tests",
            column_config={
                "statistic": st.column_config.TextColumn(width="medium"),
                "threshold": st.column_config.TextColumn(width="medium"),
                "false flags expected": st.column_config.NumberColumn(format="≤ %.1f"),
            },
        )
        st.caption(
            "Tested: assessors with enough evidence (rule flags.min_ratings) whom the data can "
            "place. The thresholds are programme rules, per rubric where the issuer sets them."
        )


def _suspend(url: str, actor: Actor, rubric: str, until: date | None, days: float | None) -> None:
    rules = data.programme_rules(url, rubric, actor).flags
    st.subheader("Apply to the workflow", anchor=False)
    if not rules.suspend:
        st.markdown(
            "No kind of flag suspends an assessor on this rubric: an issuer turns that on per "
            "kind with the rules `flags.suspend_<kind>` (Programme rules page)."
        )
        return
    kinds = ", ".join(sorted(rules.suspend))
    st.markdown(
        f"Flags of these kinds suspend an assessor from live scoring, with the flag's reason: "
        f"**{escape(kinds)}**."
    )
    if st.button("Suspend the flagged assessors", key="flags_apply"):
        try:
            done = services.suspend_flagged(
                engine=data.engine(url), actor=actor, rubric=rubric, until=until,
                days=None if days is None else int(days),
            )  # fmt: skip
        except CalibrateError as exc:
            error(exc)
            return
        made = [d["assessor"] for d in done if d["action"] == "suspended"]
        st.session_state[DONE] = (
            f"Suspended: {', '.join(made)}." if made else "Nobody new to suspend."
        )
        st.rerun()
