"""Rubric audit page: what the live ratings say about a rubric version's quality.

Thin over :func:`calibrate.services.audit_rubric`: the findings of concern first, each with
its figure, 95% interval, threshold, evidence, verdict (which follows the interval) and what to
do; then every finding by kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.analyses.rubric_audit import Finding

KINDS = {
    "reliability": "Reliability (Krippendorff's α)",
    "weighted_kappa": "Weighted kappa between readings",
    "level_usage": "Level usage",
    "level_distinction": "Adjacent levels told apart",
    "threshold_order": "Threshold order",
    "criterion_difficulty": "Criterion difficulty",
    "redundancy": "Redundant criteria",
    "halo": "Halo",
    "decision_agreement": "Pass decisions: agreement",
    "decision_kappa": "Pass decisions: kappa",
    "discrepancy_driver": "Criteria behind discrepant pairs",
    "generalizability": "G and Φ",
}
"""Each kind of finding, in plain words, in the order shown."""


def render(actor: Actor) -> None:
    st.title("Rubric audit")
    st.caption(
        "Is the rubric itself working? Whether assessors score each criterion alike, whether "
        "every level is used and told apart from its neighbours, whether criteria measure "
        "different things, and what drives disagreements. A verdict is given only where the "
        "95% interval supports it."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    rubric = data.choose_rubric(st, versions, key="audit_rubric")
    with st.spinner("Auditing the rubric (1,000 resamples per interval)"):
        audit = data.rubric_audit(url, actor, rubric)

    concerns = audit.concerns()
    sizes = st.columns(4)
    sizes[0].metric("Findings", f"{len(audit.findings):,}")
    sizes[1].metric("Of concern", f"{len(concerns):,}")
    sizes[2].metric("Submissions", f"{audit.n_submissions:,}")
    sizes[3].metric("Double-scored", f"{audit.n_double_scored:,}")
    for note in audit.notes:
        st.caption(escape(note))

    st.subheader("Findings of concern")
    unsure = sum(f.verdict.startswith("too few") for f in audit.findings)
    if not concerns:
        st.info(
            "No finding of concern"
            + (
                f", but {unsure} of {len(audit.findings)} findings cannot be judged yet: their "
                "intervals are too wide (too few double-scored submissions, ratings or anchors)."
                if unsure
                else ": every verdict the intervals support is favourable."
            )
        )
    elif unsure:
        st.caption(f"{unsure} more findings cannot be judged yet: their intervals are too wide.")
    for f in concerns:
        where = ", ".join(f.criteria) if f.criteria else "the rubric as a whole"
        st.markdown(
            f":orange[**{escape(KINDS.get(f.kind, f.kind))}**] ({escape(where)}): "
            f"{escape(f.sentence)}"
        )
        if f.recommendation:
            st.markdown(f"What to do: {escape(f.recommendation)}")

    st.subheader("Every finding")
    for kind, title in KINDS.items():
        found = [f for f in audit.findings if f.kind == kind]
        if not found:
            continue
        worry = sum(f.concern for f in found)
        with st.expander(f"{title} ({len(found)}{f', {worry} of concern' if worry else ''})"):
            st.dataframe(_table(found), hide_index=True, height="content")
            for f in found:
                st.markdown(f"- {escape(f.sentence)}")


def _table(found: list[Finding]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "criteria": [", ".join(f.criteria) or "rubric" for f in found],
            "levels": [", ".join(str(v) for v in f.levels) for f in found],
            "figure": [f.figure for f in found],
            "low": [float("nan") if f.interval is None else f.interval.low for f in found],
            "high": [float("nan") if f.interval is None else f.interval.high for f in found],
            "threshold": [f.threshold for f in found],
            "evidence": [f.n for f in found],
            "verdict": [f.verdict for f in found],
        }
    )
