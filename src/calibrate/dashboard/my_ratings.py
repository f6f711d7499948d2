"""My ratings page: an assessor's own scores (:func:`calibrate.services.my_ratings`).

What the service returns is all an assessor may see: each submission is an opaque handle, a
validity anchor seeded into live work reads as live work, and there is no expert score,
rationale or rating id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from calibrate import services
from calibrate.dashboard import data

if TYPE_CHECKING:
    from calibrate.access import Actor

KIND = {
    "live": "earner's work",
    "practice": "practice round",
    "qualification": "qualification round",
}
"""The kind of work in plain words (validity anchors read as earners' work, by design)."""


def render(actor: Actor) -> None:
    st.title("My ratings")
    st.caption(
        "Every score you gave, newest first: earners' work and your calibration rounds "
        "(practice and qualification). Submissions are shown by a reference number, the same "
        "each time you see them. A corrected score shows its revision (2 or more)."
    )
    url = data.database_url()
    rows = services.my_ratings(engine=data.engine(url), actor=actor)
    if not rows:
        st.info(
            "You have no ratings in the store yet. Once your scores from the scoring platform "
            "are imported, they appear here."
        )
        return
    versions = data.rubric_versions(url, actor)
    table = _table(rows, versions)
    cols = st.columns(4)
    cols[0].metric("Scores", f"{len(table):,}")
    cols[1].metric("Submissions", f"{table['submission'].nunique():,}")
    live = table["kind of work"] == KIND["live"]
    cols[2].metric("Earners' work", f"{int(live.sum()):,}", help="Scores of earners' work.")
    cols[3].metric(
        "Calibration",
        f"{int((~live).sum()):,}",
        help="Scores in practice and qualification rounds.",
    )
    rubrics = ["all", *sorted(table["rubric"].unique())]
    chosen = st.selectbox(
        "Rubric",
        rubrics,
        format_func=lambda v: (
            "All rubrics" if v == "all" else data.rubric_option(v, versions) if v in versions else v
        ),
        key="my_ratings_rubric",
    )
    shown = table if chosen == "all" else table[table["rubric"] == chosen].drop(columns="rubric")
    if (shown["revision"] == 1).all():  # nothing corrected: no column to read
        shown = shown.drop(columns="revision")
    st.dataframe(
        shown,
        hide_index=True,
        key="my_ratings_table",
        column_config={  # widths: every column in view, the criterion's title the widest
            "scored at": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", width=125),
            "submission": st.column_config.TextColumn(width=105),
            "criterion": st.column_config.TextColumn(width=340),
            "score": st.column_config.TextColumn(width=115),
            "kind of work": st.column_config.TextColumn(width=125),
            "rubric": st.column_config.TextColumn(width=110),
            "revision": st.column_config.NumberColumn(
                width=75, help="1: as you scored it; 2 or more: corrected afterwards."
            ),
        },
    )


def _table(rows: list[dict[str, Any]], versions: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per score, newest first, criteria by their titles and scores with their level."""
    titles = {
        key: {c["id"]: c["title"] for c in r["criteria"]} for key, r in versions.items()
    }  # fmt: skip
    labels = {
        key: {lv["score"]: lv["label"] for lv in r["levels"]} for key, r in versions.items()
    }  # fmt: skip
    table = pd.DataFrame(
        {
            "scored at": [r["rated_at"] for r in rows],
            "submission": [r["submission"] for r in rows],
            "criterion": [
                titles.get(r["rubric"], {}).get(r["criterion"], r["criterion"]) for r in rows
            ],
            "score": [
                f"{r['score']} {labels.get(r['rubric'], {}).get(r['score'], '')}".strip()
                for r in rows
            ],
            "kind of work": [KIND.get(r["context"], r["context"]) for r in rows],
            "rubric": [r["rubric"] for r in rows],
            "revision": [r["revision"] for r in rows],
        }
    )
    return table.iloc[::-1].reset_index(drop=True)
