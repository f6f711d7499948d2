"""Overview page: what the store holds of the account's issuers (rubrics, anchors, assessors,
ratings)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape, table

if TYPE_CHECKING:
    from calibrate.access import Actor


def render(actor: Actor) -> None:
    st.title("calibrate")
    st.caption("Scoring rigor for educator micro-credentials: agreement, rater effects, evidence.")
    url = data.database_url()
    n = data.counts(url, actor)
    cols = st.columns(4)
    cols[0].metric("Rubric versions", n["rubric_version"])
    cols[1].metric("Anchor sets", n["anchor_set"])
    cols[2].metric("Assessors", n["assessor"])
    cols[3].metric("Ratings", f"{n['rating']:,}")
    rubrics = data.rubrics(url, actor)
    if not rubrics:
        data.no_rubrics_notice(actor)
        return
    st.subheader("Rubrics")
    for r in rubrics:
        with st.expander(f"{escape(r['title'])}  ·  {r['id']}@{r['version']}"):
            rubric_text(r)


def rubric_text(r: dict[str, Any]) -> None:
    """A rubric version as plain text: its competency, then one row per criterion with its
    descriptor at each level (stored text: never rendered as Markdown)."""
    st.text(r["competency"])
    levels = {str(lv["score"]): lv["label"] for lv in r["levels"]}
    table(
        {
            "criterion": [c["title"] for c in r["criteria"]],
            **{
                f"{s} {label}": [c["descriptors"][s] for c in r["criteria"]]
                for s, label in levels.items()
            },
        }
    )
