"""Rubrics page (read only): the criteria and level descriptors an assessor scores against."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.overview import rubric_text
from calibrate.dashboard.text import escape

if TYPE_CHECKING:
    from calibrate.access import Actor


def render(actor: Actor) -> None:
    st.title("Rubrics")
    st.caption(
        "The criteria you score and what each level means. Read only: your issuer's "
        "administrator publishes new rubric versions."
    )
    versions = data.rubric_versions(data.database_url(), actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    chosen = data.choose_rubric(st, versions, key="rubrics_rubric")
    r = versions[chosen]
    st.subheader(escape(r["title"]))
    rubric_text(r)
    rule = _pass_rule(r)
    if rule:
        st.text(rule)


def _pass_rule(r: dict[str, Any]) -> str:
    """The pass rule in words, with the stored level labels and criterion titles."""
    rule = r.get("pass_rule") or {}
    labels = {lv["score"]: f"{lv['label']} ({lv['score']})" for lv in r["levels"]}
    titles = {c["id"]: c["title"] for c in r["criteria"]}
    parts = []
    if rule.get("every_criterion_at_least") is not None:
        parts.append(f"every criterion at least {labels.get(rule['every_criterion_at_least'])}")
    for criterion, level in (rule.get("criteria_at_least") or {}).items():
        parts.append(f"{titles.get(criterion, criterion)} at least {labels.get(level, level)}")
    if rule.get("total_at_least") is not None:
        parts.append(f"a total of at least {rule['total_at_least']}")
    return "A submission passes with " + "; ".join(parts) + "." if parts else ""
