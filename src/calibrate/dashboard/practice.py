"""Practice page: score practice anchors one at a time, then compare with the experts.

An anchor is a piece of work the experts have already scored. The page shows the assessor's
open practice anchor (:func:`calibrate.services.practice_next`) with the shared scoring widget
(:mod:`calibrate.dashboard.scoring`); once the scores are confirmed and submitted
(:func:`calibrate.services.practice_score`) it shows, per criterion, the assessor's level
beside the experts' with both descriptors and the experts' rationale, and the pass decision both
ways (:func:`calibrate.services.practice_feedback`). The session keeps the key of the scored
practice only, never what the experts said.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate import services
from calibrate.dashboard import data, scoring
from calibrate.dashboard.rubrics import _pass_rule
from calibrate.services.calibration import AnchorFeedback, AnchorItem

if TYPE_CHECKING:
    from calibrate.access import Actor

SCORED = "practice_scored"
"""Session-state key: ``{"<user name> <rubric version>": practice key}`` of the anchors whose
feedback is shown (by account: another login in the same browser session starts afresh)."""


def render(actor: Actor) -> None:
    scoring.scroll_top()
    st.title("Practice")
    st.caption(
        "Score an anchor, a piece of work the experts have already scored, and compare your "
        "scores with theirs criterion by criterion. Practice never counts against you; a "
        "qualification round asks for at least one practice anchor first."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    chosen = data.choose_rubric(st, versions, key="practice_rubric")
    rubric = versions[chosen]
    engine = data.engine(url)
    shown = f"{actor.name} {chosen}"
    scored: dict[str, str] = st.session_state.setdefault(SCORED, {})
    if shown in scored:
        _feedback(actor, shown, rubric, scored[shown])
        return
    item = services.practice_next(engine=engine, actor=actor, rubric=chosen)

    def submit(scores: dict[str, int]) -> None:
        services.practice_score(engine=engine, actor=actor, attempt=item.attempt, scores=scores)
        st.session_state.setdefault(SCORED, {})[shown] = item.attempt

    scoring.score_item(
        item,
        rubric,
        submit,
        note="After you submit, you see the experts' scores and why they chose them. "
        "Your practice scores cannot be changed afterwards.",
    )


def _feedback(actor: Actor, shown: str, rubric: dict[str, Any], attempt: str) -> None:
    engine = data.engine(data.database_url())
    fb = services.practice_feedback(engine=engine, actor=actor, attempt=attempt)
    st.success("Scores submitted. Here is how they compare with the experts'.")
    left, right = st.columns([2, 3], gap="large")
    with left:
        scoring.beside(_item(fb))
    with right:
        st.subheader("Your scores and the experts'", anchor=False)
        scoring.feedback(fb, _pass_rule(rubric))
        if st.button("Next practice anchor", type="primary", key="practice_next", width="stretch"):
            st.session_state[SCORED].pop(shown, None)
            scoring.to_top()
            st.rerun()


def _item(fb: AnchorFeedback) -> AnchorItem:
    """The scored anchor as an item (for :func:`scoring.beside`)."""
    return AnchorItem(fb.attempt, fb.position, 1, fb.rubric, fb.artifact, True)
