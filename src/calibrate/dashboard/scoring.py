"""Scoring one anchor in the dashboard, shared by the Practice and Qualification round pages.

The artifact stands beside the rubric's criteria; each criterion is a radio group whose options
read ``score · label`` with that level's descriptor under each option, so the descriptors are in
view while choosing and the keyboard moves through the levels (arrow keys) and the criteria
(Tab). Nothing is submitted before a confirmation that lists the choices; a criterion left
without a level is named and nothing is submitted. After a practice anchor is scored,
:func:`feedback` sets the assessor's score beside the experts' criterion by criterion.

The chosen levels live in ``st.session_state`` under keys derived from the attempt, the
anchor's position in it and the criterion (:func:`widget_key`), kept for the whole browser
session (``persist_state="session"``) and bound to the page's address (``bind="query-params"``):
a rerun, a visit to another page and back, and a reload of the page (a new session: log in
again) lose no choice. The address then holds the assessor's own choices until they submit
(never anything of the answer key); submitting clears them. The answer key never enters the
session state: the pages keep attempt keys only and ask the services for the feedback, which
they give only once the anchor is scored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate.dashboard.text import error, escape, table
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from calibrate.services.calibration import AnchorFeedback, AnchorItem, CriterionFeedback

Submit = Callable[[dict[str, int]], None]
"""``submit(scores)``: hand the confirmed scores (criterion id -> level score) to a service."""

CONFIRM = "scoring_confirm"
"""Session-state key: the :func:`prefix` of the anchor whose scores await confirmation."""
TOP = "scoring_top"
"""Session-state key: scroll to the top of the page in the next run (a new anchor or the
feedback replaced the form the assessor had scrolled down)."""


def to_top() -> None:
    """Ask the next run to show the page from its top."""
    st.session_state[TOP] = True


def scroll_top() -> None:
    """Scroll the page to its top when :func:`to_top` asked for it (constant script, no data)."""
    if st.session_state.pop(TOP, False):
        st.html(
            "<script>(document.querySelector('[data-testid=stMain]') || "
            "document.scrollingElement).scrollTo(0, 0)</script>",
            unsafe_allow_javascript=True,
        )


def prefix(item: AnchorItem) -> str:
    """``score-<attempt>-<position>``: the start of every widget key of one anchor."""
    return f"score-{item.attempt}-{item.position}"


def widget_key(item: AnchorItem, criterion: str) -> str:
    """The key of the level choice of ``criterion`` on ``item`` (stable across reruns)."""
    return f"{prefix(item)}-{criterion}"


def level_text(rubric: dict[str, Any], score: int) -> str:
    """``score · label`` of a level of ``rubric`` (stored text: escape before Markdown)."""
    labels = {lv["score"]: lv["label"] for lv in rubric["levels"]}
    return f"{score} · {labels.get(score, '')}".strip()


_LABELLED_LINE = re.compile(r"\n(?=[A-Z][\w' -]{0,40}:\s)")


def reflow(text: str) -> str:
    r"""Hard-wrapped lines joined into paragraphs, so that the text wraps to the column: a blank
    line, or a line that opens with a label (``Video: ...``), starts a new paragraph.

    >>> reflow("Plan: a plan that\nwraps here.\nVideo: pairs\n\nlast")
    'Plan: a plan that wraps here.\n\nVideo: pairs\n\nlast'
    """
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        for part in _LABELLED_LINE.split(block):
            paragraphs.append(" ".join(line.strip() for line in part.splitlines()))
    return "\n\n".join(paragraphs)


def artifact(item: AnchorItem) -> None:
    """The anchor's artifact as plain text: title, description, excerpt."""
    shown = item.artifact
    st.subheader(escape(shown.get("title") or "Untitled artifact"), anchor=False)
    description, excerpt = shown.get("description"), shown.get("excerpt")
    if description:
        st.markdown(escape(description))
    if excerpt:
        with st.container(border=True):
            st.caption("From the submission")
            st.text(reflow(excerpt))


STICKY = "scoring_artifact"
"""The key of the artifact's container (Streamlit gives it the CSS class ``st-key-<key>``)."""


def _stick() -> None:
    """Keep the artifact in view while the criteria beside it scroll: its container sticks to
    the top of the page and scrolls on its own when taller than the window."""
    st.html(
        f"<style>[data-testid=stColumn]:has(.st-key-{STICKY}) {{position: sticky; top: 3.75rem; "
        "align-self: flex-start; max-height: calc(100vh - 5rem); overflow-y: auto;}</style>"
    )


def beside(item: AnchorItem) -> None:
    """:func:`artifact` in a column that stays in view while the column beside it scrolls."""
    with st.container(key=STICKY):
        artifact(item)
    _stick()


def chosen(item: AnchorItem, rubric: dict[str, Any]) -> dict[str, int | None]:
    """The level chosen for each criterion so far (None: not chosen yet)."""
    return {c["id"]: st.session_state.get(widget_key(item, c["id"])) for c in rubric["criteria"]}


def forget(item: AnchorItem, rubric: dict[str, Any]) -> None:
    """Drop the chosen levels of a submitted anchor from the session."""
    for c in rubric["criteria"]:
        st.session_state.pop(widget_key(item, c["id"]), None)


def score_item(
    item: AnchorItem,
    rubric: dict[str, Any],
    submit: Submit,
    *,
    note: str,
) -> None:
    """The artifact beside the criteria with a level choice each, and a "Review and submit"
    button that names any criterion left without a level or asks for a confirmation
    (``note`` says what happens after submitting)."""
    left, right = st.columns([2, 3], gap="large")
    with left:
        beside(item)
    with right:
        st.subheader("Your scores", anchor=False)
        st.caption(
            "Choose one level per criterion. Each level's description is under its button. "
            "Keyboard: Tab moves to the next criterion, the arrow keys change the level."
        )
        for number, criterion in enumerate(rubric["criteria"], start=1):
            _criterion(item, rubric, criterion, number)
        review = st.button(
            "Review and submit", type="primary", key=f"{prefix(item)}-review", width="stretch"
        )
        if review:
            choices = chosen(item, rubric)
            missing = [
                f"{n}. {c['title']}"
                for n, c in enumerate(rubric["criteria"], start=1)
                if choices[c["id"]] is None
            ]
            if missing:
                st.session_state.pop(CONFIRM, None)
                error(
                    "Choose a level for every criterion before submitting; still without a "
                    f"level: {'; '.join(missing)}. Nothing was submitted."
                )
            else:
                st.session_state[CONFIRM] = prefix(item)
    if st.session_state.get(CONFIRM) == prefix(item):
        scores = {k: int(v) for k, v in chosen(item, rubric).items() if v is not None}
        if len(scores) == len(rubric["criteria"]):
            _confirm(item, rubric, scores, submit, note)
        else:  # a choice vanished (another tab): ask again
            st.session_state.pop(CONFIRM, None)


def _criterion(
    item: AnchorItem, rubric: dict[str, Any], criterion: dict[str, Any], number: int
) -> None:
    scores = [lv["score"] for lv in rubric["levels"]]
    with st.container(border=True):
        st.radio(
            f"**{number}\\. {escape(criterion['title'])}**",
            scores,
            index=None,
            format_func=lambda s: escape(level_text(rubric, s)),
            captions=[escape(criterion["descriptors"][str(s)]) for s in scores],
            key=widget_key(item, criterion["id"]),
            width="stretch",
            persist_state="session",
            bind="query-params",
        )


def _dismissed() -> None:
    st.session_state.pop(CONFIRM, None)


@st.dialog("Submit these scores?", width="medium", on_dismiss=_dismissed)
def _confirm(
    item: AnchorItem,
    rubric: dict[str, Any],
    scores: dict[str, int],
    submit: Submit,
    note: str,
) -> None:
    st.markdown(note)
    table(
        {
            "criterion": [c["title"] for c in rubric["criteria"]],
            "your level": [level_text(rubric, scores[c["id"]]) for c in rubric["criteria"]],
        }
    )
    go, back = st.columns(2)
    if go.button("Submit", type="primary", key=f"{prefix(item)}-submit", width="stretch"):
        try:
            submit(scores)
        except CalibrateError as exc:
            error(exc)
            return
        st.session_state.pop(CONFIRM, None)
        forget(item, rubric)
        to_top()
        st.rerun()
    if back.button("Go back and change", key=f"{prefix(item)}-back", width="stretch"):
        st.session_state.pop(CONFIRM, None)
        st.rerun()


# --- feedback against the experts -----------------------------------------------------------


def gap_words(gap: int) -> str:
    """A score minus the experts', in words ("one level below the experts'")."""
    if gap == 0:
        return "the same as the experts'"
    side = "above" if gap > 0 else "below"
    steps = "one level" if abs(gap) == 1 else f"{abs(gap)} levels"
    return f"{steps} {side} the experts'"


def _mark(gap: int) -> str:
    return ":green[✓ same as the experts]" if gap == 0 else f":orange[✗ {gap_words(gap)}]"


def summary(fb: AnchorFeedback) -> str:
    """One sentence: how many criteria equal the experts', how many are one level off or
    further."""
    n = len(fb.criteria)
    same = sum(c.gap == 0 for c in fb.criteria)
    near = sum(abs(c.gap) == 1 for c in fb.criteria)
    far = n - same - near
    parts = [f"your score equals the experts' on {same} of {n} criteria"]
    if near:
        parts.append(f"{near} {'is' if near == 1 else 'are'} one level off")
    if far:
        parts.append(f"{far} {'is' if far == 1 else 'are'} two or more levels off")
    text = ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]
    return text[0].upper() + text[1:] + "."


def decision_words(fb: AnchorFeedback) -> str:
    """The pass decision by the assessor's scores and by the experts', in plain words."""

    def says(passed: bool) -> str:
        return "passes" if passed else "does not pass yet"

    if fb.decision == fb.expert_decision:
        return (
            f"Same decision as the experts: under the rubric's pass rule the work "
            f"{says(fb.decision)} both by your scores and by theirs."
        )
    return (
        f"Different decision from the experts: by your scores the work {says(fb.decision)}, "
        f"by the experts' scores it {says(fb.expert_decision)}."
    )


def feedback(fb: AnchorFeedback, rule: str = "") -> None:
    """A scored anchor against the experts: how many criteria agree, the pass decision both
    ways (with the rubric's pass ``rule`` in words), then per criterion both levels with their
    descriptors side by side and the experts' rationale."""
    st.markdown(summary(fb))
    same = fb.decision == fb.expert_decision
    box = st.success if same else st.warning
    box(decision_words(fb) + (f" {escape(rule)}" if rule else ""))
    for number, c in enumerate(fb.criteria, start=1):
        _criterion_feedback(c, number)


def _criterion_feedback(c: CriterionFeedback, number: int) -> None:
    with st.container(border=True):
        st.markdown(f"**{number}\\. {escape(c.title)}**  {_mark(c.gap)}")
        if c.gap == 0:
            st.markdown(f"Your score and the experts': **{c.score} · {escape(c.score_label)}**")
            st.caption(escape(c.score_descriptor))
        else:
            yours, theirs = st.columns(2, gap="medium")
            yours.markdown(f"Your score: **{c.score} · {escape(c.score_label)}**")
            yours.caption(escape(c.score_descriptor))
            theirs.markdown(f"Experts' score: **{c.expert} · {escape(c.expert_label)}**")
            theirs.caption(escape(c.expert_descriptor))
        st.markdown(f"**Why the experts chose this level:** {escape(c.rationale)}")


__all__ = [
    "CONFIRM",
    "artifact",
    "beside",
    "chosen",
    "decision_words",
    "feedback",
    "forget",
    "gap_words",
    "level_text",
    "prefix",
    "score_item",
    "scroll_top",
    "summary",
    "to_top",
    "widget_key",
]
