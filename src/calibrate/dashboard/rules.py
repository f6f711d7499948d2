"""Programme rules page: the standards this programme holds assessors and scores to, with where
each default comes from (``calibrate rules`` in the browser)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.report.text import rule_value

if TYPE_CHECKING:
    from calibrate.access import Actor

PROGRAMME = "the whole programme"


def render(actor: Actor) -> None:
    st.title("Programme rules")
    st.caption(
        "What an assessor must reach to qualify, how live work is double-scored and seeded with "
        "anchors, when an earner may resubmit, when two readings go to a third reader, and when "
        "a finding about an assessor becomes a flag. Defaults come from large-scale scoring "
        "practice (the source column says where); an issuer changes them in a rules file "
        "(CALIBRATE_RULES_FILE)."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    chosen = st.selectbox(
        "Rules for",
        [PROGRAMME, *versions],
        format_func=lambda v: v if v == PROGRAMME else data.rubric_option(v, versions),
        key="rules_rubric",
        help="Some rules depend on the rubric's scale (e.g. exact agreement to qualify: 90% on "
        "2 levels, 80% on 3, 70% on 4 or more) or are set per rubric: choose a rubric version "
        "to see the values that apply to it.",
    )
    rules = data.programme_rules(url, None if chosen == PROGRAMME else chosen, actor)
    if rules.rubric is None:
        st.info("Rules shown as 'by scale' depend on the rubric's levels: choose a rubric.")
    else:
        st.caption(f"{rules.rubric}: {rules.levels} levels.")
    rows = rules.rows()
    table = pd.DataFrame(
        {
            "rule": [r["name"] for r in rows],
            "value": [rule_value(r["value"]) + (" (set)" if r["overridden"] else "") for r in rows],
            "default": [rule_value(r["default"]) for r in rows],
            "applies to": ["each rubric" if r["per_rubric"] else "programme" for r in rows],
            "meaning": [r["help"] for r in rows],
            "source": [r["source"] for r in rows],
        }
    )
    st.table(table.set_index("rule"))  # wraps long text: nothing cut off
    st.caption("(set): changed by the issuer's rules file. Full text: docs/rules.md.")
