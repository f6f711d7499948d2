"""Adjudication page (lead assessors): the double-scored submissions whose two readings are too
far apart, both readings side by side with the rubric, the lead's own reading with a reason,
and the result.

Thin over :func:`calibrate.services.adjudications` and :func:`~calibrate.services.adjudicate`;
the lead scores with the shared scoring widget (:mod:`calibrate.dashboard.scoring`: the artifact
beside the level descriptors, a confirmation before submit). The final scores follow the
programme's rule (``adjudication.third_reader_replaces``) and the pass decision the rubric's
pass rule; the page shows both once the pair is resolved.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate import services
from calibrate.dashboard import data, scoring
from calibrate.dashboard.rubrics import _pass_rule
from calibrate.dashboard.text import escape, table
from calibrate.services.calibration import AnchorItem

if TYPE_CHECKING:
    from calibrate.access import Actor

RESOLVED = "adjudication_resolved"
"""Session-state key: ``{"user": the lead's user name, "pair": the pair as listed, "result":
what the service returned, "yours": the lead's scores, "reason": their reason}`` of the pair the
lead just resolved (shown to them until they go back to the list)."""
PICK = "adjudication_pick"
"""The key of the select box of pending pairs."""
READERS = ("First reading", "Second reading")


def item_of(pair: dict[str, Any]) -> AnchorItem:
    """A pending pair as the scoring widget takes it (keys derived from the submission key)."""
    return AnchorItem(
        f"adjudication-{pair['submission']}", 1, 1, pair["rubric"], dict(pair["artifact"]), False
    )


def reason_key(pair: dict[str, Any]) -> str:
    return f"{scoring.prefix(item_of(pair))}-reason"


def render(actor: Actor) -> None:
    scoring.scroll_top()
    st.title("Adjudication")
    st.caption(
        "Submissions scored by two assessors whose scores are too far apart: a criterion more "
        "than the allowed number of levels apart, or a different pass decision. You read "
        "both readings, score the work yourself and say why; the final scores follow the "
        "programme's rule. You never adjudicate a submission you scored."
    )
    url = data.database_url()
    resolved = st.session_state.get(RESOLVED)
    if resolved is not None and resolved["user"] != actor.name:  # another login since
        st.session_state.pop(RESOLVED, None)
        resolved = None
    if resolved is not None:
        _resolved(url, actor, resolved)
        return
    pending = services.adjudications(engine=data.engine(url), actor=actor)
    if not pending:
        st.info("No pairs are waiting for adjudication. Discrepant pairs appear here.")
        return
    st.subheader(f"Waiting for adjudication: {len(pending)}", anchor=False)
    _list(pending)
    by_key = {p["submission"]: p for p in pending}
    chosen = st.selectbox(
        "Submission to adjudicate",
        list(by_key),
        format_func=lambda k: _option(by_key[k]),
        key=PICK,
    )
    pair = by_key[chosen]
    rubric = data.rubric_versions(url, actor)[pair["rubric"]]
    _pair(pair, rubric, data.programme_rules(url, pair["rubric"], actor).adjudication.max_gap)
    _score(url, actor, pair, rubric)


def _date(moment: str | None) -> str:
    return "–" if moment is None else f"{datetime.fromisoformat(moment):%Y-%m-%d}"


def _apart_words(pair: dict[str, Any], of: int, gap: int) -> str:
    """Where the readings part, in words ("are more than one level apart on 2 of 5 criteria,
    and reach different pass decisions")."""
    apart = len(pair["criteria_apart"])
    parts = []
    if apart:
        parts.append(f"are more than {_gap(gap)} apart on {apart} of {of} criteria")
    if pair["decisions_differ"]:
        parts.append("reach different pass decisions")
    return ", and ".join(parts) or "are too far apart"


def _option(pair: dict[str, Any]) -> str:
    """A select box's option: plain text (Streamlit shows options as text)."""
    title = pair["artifact"].get("title") or "Untitled artifact"
    apart = len(pair["criteria_apart"])
    why = [f"{apart} {'criterion' if apart == 1 else 'criteria'} apart"] if apart else []
    if pair["decisions_differ"]:
        why.append("decisions differ")
    return (
        f"{pair['submission']} · {title} · {pair['rubric']} · received "
        f"{_date(pair['received_at'])} · {', '.join(why)}"
    )


def _list(pending: list[dict[str, Any]]) -> None:
    titles = {
        p["submission"]: p["artifact"].get("title") or "Untitled artifact" for p in pending
    }  # fmt: skip
    st.dataframe(
        {
            "submission": [p["submission"] for p in pending],
            "title": [titles[p["submission"]] for p in pending],
            "rubric": [p["rubric"] for p in pending],
            "received": [_date(p["received_at"]) for p in pending],
            "criteria too far apart": [len(p["criteria_apart"]) for p in pending],
            "pass decisions": ["differ" if p["decisions_differ"] else "the same" for p in pending],
        },
        hide_index=True,
        key="adjudication_list",
        column_config={
            "submission": st.column_config.TextColumn(width=120),
            "title": st.column_config.TextColumn(width=320),
            "rubric": st.column_config.TextColumn(width=115),
            "received": st.column_config.TextColumn(width=95),
            "criteria too far apart": st.column_config.NumberColumn(width=145),
            "pass decisions": st.column_config.TextColumn(width=110),
        },
    )


def _level(rubric: dict[str, Any], criterion: dict[str, Any], score: int) -> tuple[str, str]:
    return scoring.level_text(rubric, score), criterion["descriptors"][str(score)]


def _says(passed: bool) -> str:
    return "passes" if passed else "does not pass yet"


def _pair(pair: dict[str, Any], rubric: dict[str, Any], max_gap: int) -> None:
    """Both readings side by side per criterion, the criteria apart marked in words."""
    readings = pair["readings"]
    st.subheader("The two readings", anchor=False)
    decisions = "; ".join(
        f"by the {READERS[i].lower()} ({r['assessor']}) the work {_says(r['passed'])}"
        for i, r in enumerate(readings[:2])
    )
    why = _apart_words(pair, len(rubric["criteria"]), max_gap)
    st.warning(escape(f"Why it is here: the readings {why}. {_capital(decisions)}."))
    rule = _pass_rule(rubric)
    if rule:
        st.caption(escape(rule))
    apart = set(pair["criteria_apart"])
    for number, criterion in enumerate(rubric["criteria"], start=1):
        scores = [r["scores"][criterion["id"]] for r in readings[:2]]
        gap = abs(scores[0] - scores[-1])
        with st.container(border=True):
            if criterion["id"] in apart:
                flag = f":orange[**✗ {_gap(gap)} apart: too far**]"
            elif gap:
                flag = f"✓ {_gap(gap)} apart: close enough"
            else:
                flag = "✓ the same level"
            st.markdown(f"**{number}\\. {escape(criterion['title'])}**  {flag}")
            columns = st.columns(2, gap="medium")
            for i, (column, r) in enumerate(zip(columns, readings[:2], strict=True)):
                text, descriptor = _level(rubric, criterion, r["scores"][criterion["id"]])
                column.markdown(f"{READERS[i]} ({escape(r['assessor'])}): **{escape(text)}**")
                column.caption(escape(descriptor))
    columns = st.columns(2, gap="medium")
    for i, (column, r) in enumerate(zip(columns, readings[:2], strict=True)):
        with column:
            st.markdown(
                f"**{READERS[i]}'s comment** ({escape(r['assessor'])}, {_date(r['finished_at'])})"
            )
            st.text(r["comment"] or "No comment.")


def _gap(gap: int) -> str:
    return "one level" if gap == 1 else f"{gap} levels"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rule_words(url: str, actor: Actor, rubric: str) -> str:
    rule = data.programme_rules(url, rubric, actor).adjudication
    if rule.third_reader_replaces:
        return "your scores replace both readings (rule adjudication.third_reader_replaces)"
    return (
        "each final score is the mean of the two closest of the three readings, halves rounded "
        "up (rule adjudication.third_reader_replaces: no)"
    )


def _score(url: str, actor: Actor, pair: dict[str, Any], rubric: dict[str, Any]) -> None:
    """The lead's reading with the shared widget, and the reason (required)."""
    st.subheader("Your reading", anchor=False)
    how = _rule_words(url, actor, pair["rubric"])
    st.caption(escape(f"Score the work yourself. Then {how}."))
    item = item_of(pair)
    key = reason_key(pair)
    reason = (st.session_state.get(key) or "").strip()
    engine = data.engine(url)

    def submit(scores: dict[str, int]) -> None:
        result = services.adjudicate(
            engine=engine,
            actor=actor,
            submission=pair["submission"],
            scores=scores,
            reason=st.session_state.get(key) or "",
        )
        st.session_state.pop(PICK, None)
        st.session_state[RESOLVED] = {
            "user": actor.name,
            "pair": pair,
            "result": result,
            "yours": scores,
            "reason": (st.session_state.pop(key, None) or "").strip(),
        }

    said = (
        f"Your reason: {escape(reason)}"
        if reason
        else "**No reason yet**: go back and write one in the box under your scores (required)."
    )
    scoring.score_item(
        item,
        rubric,
        submit,
        note=f"{said}\n\nThe result is final: {escape(how)}.",
    )
    _, right = st.columns([2, 3], gap="large")
    with right:
        st.text_area(
            "Reason (required)",
            key=key,
            max_chars=5_000,
            height=110,
            placeholder="Why these levels: what in the work decides each criterion apart.",
            help="Kept with the result and in the audit log.",
            persist_state="session",
        )


def _resolved(url: str, actor: Actor, resolved: dict[str, Any]) -> None:
    """The result of the pair just resolved: final scores beside the three readings, the pass
    decision and the rule used."""
    pair, result, yours = resolved["pair"], resolved["result"], resolved["yours"]
    rubric = data.rubric_versions(url, actor)[pair["rubric"]]
    st.success(
        escape(
            f"Submission {result['submission']} resolved: under the rubric's pass rule the work "
            f"{_says(result['passed'])}."
        ),
        icon=":material/check:",
    )
    st.markdown(
        escape(
            f"Rule used: {result['rule']}. Decided by {result['decided_by']} on "
            f"{_date(result['decided_at'])}. Your reason: {resolved['reason']}"
        )
    )
    readings = pair["readings"]
    criteria = rubric["criteria"]
    table(
        {
            "criterion": [c["title"] for c in criteria],
            **{
                f"{READERS[i].lower()} ({r['assessor']})": [
                    scoring.level_text(rubric, r["scores"][c["id"]]) for c in criteria
                ]
                for i, r in enumerate(readings[:2])
            },
            "your reading": [scoring.level_text(rubric, yours[c["id"]]) for c in criteria],
            "final score": [
                scoring.level_text(rubric, result["scores"][c["id"]]) for c in criteria
            ],
        }
    )
    rule = _pass_rule(rubric)
    if rule:
        st.caption(escape(rule))
    if st.button("Back to the waiting pairs", type="primary", key="adjudication_back"):
        st.session_state.pop(RESOLVED, None)
        scoring.to_top()
        st.rerun()
