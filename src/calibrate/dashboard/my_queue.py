"""My queue page: score the next submission of the assessor's live queue, or give it back.

Thin over :func:`calibrate.services.queue_next`, :func:`~calibrate.services.queue_score` and
:func:`~calibrate.services.queue_release`. The item (its handle, rubric and artifact) is shown
with the shared scoring widget (:mod:`calibrate.dashboard.scoring`: the artifact beside the
level descriptors, a confirmation before submit), with an optional comment; once submitted, the
next item follows. Without an item, the service's reason in words: not qualified (the
Qualification round page), suspended (the reason), nothing waiting.

Everything the page shows and keeps is what the service handed out, and the service hands out
the same for every item: the page adds nothing that could tell one item from another (the
widget keys and the session state hold the item's handle only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate import services
from calibrate.dashboard import data, scoring
from calibrate.dashboard.text import error, escape
from calibrate.errors import CalibrateError
from calibrate.services.calibration import AnchorItem

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.services.queue import QueueItem, Reason

DONE = "my_queue_done"
"""Session-state key: the line on what the last submission or give-back did (shown once)."""
MAX_COMMENT = 5_000
"""Characters of a comment (the service's limit, :data:`calibrate.services.queue.MAX_TEXT`)."""


def comment_key(item: AnchorItem) -> str:
    """The key of the comment box of an item."""
    return f"{scoring.prefix(item)}-comment"


def reason_key(item: AnchorItem) -> str:
    """The key of the give-back reason of an item."""
    return f"{scoring.prefix(item)}-give-back"


def as_item(item: QueueItem) -> AnchorItem:
    """A queue item as the scoring widget takes it (keys derived from the handle)."""
    return AnchorItem(item.handle, 1, 1, item.rubric, dict(item.artifact), False)


def render(actor: Actor) -> None:
    scoring.scroll_top()
    st.title("My queue")
    st.caption(
        "Earners' submissions waiting for your scores, one at a time, on the rubrics you are "
        "qualified on. Scores are final once submitted. If you cannot score a submission (you "
        "know the earner, for instance), give it back: it goes to another assessor."
    )
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(escape(done), icon=":material/check:")
    url = data.database_url()
    engine = data.engine(url)
    got = services.queue_next(engine=engine, actor=actor)
    if got.item is None:
        _nothing(got.reasons)
        return
    item = got.item
    rubric = _rubric(url, actor, item.rubric)
    shown = as_item(item)
    st.markdown(
        f"Submission **{escape(item.handle)}** on {escape(rubric['title'])} "
        f"({escape(item.rubric)}). Score it by **{item.due_at:%Y-%m-%d %H:%M} UTC**, or it goes "
        "back to the queue for another assessor."
    )

    def submit(scores: dict[str, int]) -> None:
        receipt = services.queue_score(
            engine=engine,
            actor=actor,
            handle=item.handle,
            scores=scores,
            comment=st.session_state.get(comment_key(shown)) or None,
        )
        st.session_state.pop(comment_key(shown), None)
        st.session_state[DONE] = (
            f"Scores of submission {receipt['handle']} recorded ({receipt['recorded']} criteria)."
        )

    scoring.score_item(shown, rubric, submit, note=_note(shown))
    _, right = st.columns([2, 3], gap="large")
    with right:
        st.text_area(
            "Comment (optional)",
            key=comment_key(shown),
            max_chars=MAX_COMMENT,
            height=110,
            placeholder="What a lead assessor should know about your scores, if anything.",
            help="Kept with your scores. When two assessors' scores of a submission are far "
            "apart, the lead assessor who decides it reads both comments.",
            persist_state="session",
        )
        _give_back(actor, shown)


def _rubric(url: str, actor: Actor, key: str) -> dict[str, Any]:
    """The stored rubric version ``key`` (read again when the cached list predates it)."""
    versions = data.rubric_versions(url, actor)
    if key not in versions:
        data.rubrics.clear()
        versions = data.rubric_versions(url, actor)
    return versions[key]


def _note(item: AnchorItem) -> str:
    """What the confirmation says: the comment as it will be kept, and that scores are final."""
    comment = (st.session_state.get(comment_key(item)) or "").strip()
    said = (
        f"Your comment: {escape(comment)}"
        if comment
        else "No comment (optional: the box under the scores)."
    )
    return f"{said}\n\nYour scores are final once submitted; the next submission follows."


def _give_back(actor: Actor, item: AnchorItem) -> None:
    """Give the item back with a reason (required)."""
    with st.expander("Give this submission back"):
        st.caption(
            "It goes back to the queue for another assessor and never comes back to you. Say "
            "why: the reason is kept with the assignment."
        )
        reason = st.text_input(
            "Reason",
            key=reason_key(item),
            placeholder="For example: I know the earner.",
        )
        if st.button("Give it back", key=f"{scoring.prefix(item)}-release"):
            try:
                services.queue_release(
                    engine=data.engine(data.database_url()),
                    actor=actor,
                    handle=item.attempt,
                    reason=reason,
                )
            except CalibrateError as exc:
                error(exc)
                return
            for key in (reason_key(item), comment_key(item), scoring.CONFIRM):
                st.session_state.pop(key, None)
            st.session_state[DONE] = (
                f"Submission {item.attempt} given back. Your reason: {reason.strip()}"
            )
            scoring.to_top()
            st.rerun()


def _nothing(reasons: tuple[Reason, ...]) -> None:
    """No item: the service's reasons (one per rubric version), each in words with what to do
    about it."""
    suspended = [r for r in reasons if r.kind == "suspended"]
    unqualified = [r for r in reasons if r.kind in ("not qualified", "expired")]
    waiting = [str(r.rubric) for r in reasons if r.kind == "nothing waiting"]
    if waiting:
        st.info(escape(f"Nothing waiting for you on {_and(waiting)}: come back later."))
    for r in reasons:
        if r.kind == "no rubric":
            st.info(escape(_capital(r.text) + "."))
    for r in suspended:
        st.warning(escape(f"You are {r.text}."), icon=":material/block:")
    if suspended:
        st.markdown(
            "Your issuer's administrator lifts a suspension once it is resolved: ask them about it."
        )
    if unqualified:
        never = [str(r.rubric) for r in unqualified if r.kind == "not qualified"]
        lines = [f"{_capital(r.text)}." for r in unqualified if r.kind == "expired"]
        if never:
            lines.insert(0, f"No passed qualification round yet on {_and(never)}.")
        st.info(escape(" ".join(lines)))
        st.markdown(
            "Submissions of a rubric reach you once you pass a qualification round on it: "
            "open **Qualification round** in the menu (it says if a practice anchor comes first)."
        )


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
