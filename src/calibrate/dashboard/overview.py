"""Overview page: what the store holds (rubrics, anchors, assessors, ratings)."""

from __future__ import annotations

import streamlit as st

from calibrate.dashboard import data


def render() -> None:
    st.title("calibrate")
    st.caption("Scoring rigor for educator micro-credentials: agreement, rater effects, evidence.")
    url = data.database_url()
    n = data.counts(url)
    cols = st.columns(4)
    cols[0].metric("Rubric versions", n["rubric_version"])
    cols[1].metric("Anchors", n["anchor"])
    cols[2].metric("Assessors", n["assessor"])
    cols[3].metric("Ratings", f"{n['rating']:,}")
    rubrics = data.rubrics(url)
    if not rubrics:
        st.info(data.EMPTY_STORE)
        return
    st.subheader("Rubrics")
    for r in rubrics:
        with st.expander(f"{r['title']}  ·  {r['id']}@{r['version']}"):
            st.write(r["competency"])
            levels = {str(lv["score"]): lv["label"] for lv in r["levels"]}
            st.table(
                {
                    "criterion": [c["title"] for c in r["criteria"]],
                    **{
                        f"{s} {label}": [c["descriptors"][s] for c in r["criteria"]]
                        for s, label in levels.items()
                    },
                }
            )
