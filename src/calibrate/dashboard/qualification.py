"""Qualification round page: the assessor's standing on a rubric version, a round to start
when the rules allow, its anchors scored blind one at a time, and the result against the
qualification standard.

Thin over :func:`calibrate.services.qualification`, :func:`~calibrate.services.round_start`,
:func:`~calibrate.services.round_view`, :func:`~calibrate.services.round_score` and
:func:`~calibrate.services.round_result`; scoring uses the Practice page's widget
(:mod:`calibrate.dashboard.scoring`). During a round nothing of the experts' scores is shown or
kept; the result, with every criterion of every anchor against the experts, once it is over.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate import services
from calibrate.dashboard import data, scoring
from calibrate.dashboard.rubrics import _pass_rule
from calibrate.dashboard.text import escape, table

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.rules import QualificationStandard
    from calibrate.services.calibration import Qualification, RoundResult, RoundView

FIGURES: dict[str, tuple[str, str]] = {
    "exact": ("Exact agreement", "your score equals the experts'"),
    "adjacent": ("Adjacent agreement", "your score is the experts' or one level next to it"),
    "non_adjacent": (
        "Scores two or more levels off",
        "your score is two levels or more from the experts'",
    ),
    "decision": (
        "Decision agreement",
        "your scores and the experts' give the same pass or not-yet decision on an anchor",
    ),
}
"""Each figure of a round: its name and what it means, in words."""

STATUS = {
    "qualified": "Qualified",
    "not qualified": "Not qualified",
    "expired": "Expired",
    "suspended": "Suspended",
}
"""Each standing (:attr:`calibrate.services.calibration.Qualification.status`) as a heading."""


def render(actor: Actor) -> None:
    scoring.scroll_top()
    st.title("Qualification round")
    st.caption(
        "A round is a set of anchors (pieces of work the experts have already scored) that you "
        "score one at a time, without seeing the experts' scores until the round is over. "
        "Passing it qualifies you to score earners' work on the rubric."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    chosen = data.choose_rubric(st, versions, key="qualification_rubric")
    rubric = versions[chosen]
    engine = data.engine(url)
    standing = services.qualification(engine=engine, actor=actor, rubric=chosen)
    open_round = standing.eligibility.open_round
    if open_round is not None:  # the round, nothing else
        view = services.round_view(engine=engine, actor=actor, attempt=open_round)
        _round(actor, view, rubric)
        return
    standard = data.programme_rules(url, chosen, actor).qualification
    _standing(standing, standard)
    finished = [r for r in standing.rounds if r["finished_at"] is not None]
    result = _results(actor, finished) if finished else None
    _next_round(actor, chosen, standing, standard, retake=bool(finished))
    if result is not None:
        _details(result, rubric)


def _date(moment: datetime | str | None) -> str:
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment:%Y-%m-%d}"


def _standing(standing: Qualification, standard: QualificationStandard) -> None:
    """Status, until when, rounds used in the period and when the next round is possible."""
    elig = standing.eligibility
    words = f"{STATUS.get(standing.status, standing.status)}: {standing.reason}."
    if standing.status == "qualified" and standing.qualified_until is not None:
        words = (
            f"Qualified: you may score earners' work on {standing.rubric} until "
            f"{_date(standing.qualified_until)}."
        )
    if standing.status == "qualified":
        st.success(escape(words))
    elif standing.status in ("expired", "suspended"):
        st.warning(escape(words))
    else:
        st.info(escape(words))
    cols = st.columns(3)
    cols[0].metric(
        "Qualified until",
        _date(standing.qualified_until),
        help=f"A passed round qualifies you for {standard.valid_days} days.",
    )
    cols[1].metric(
        "Rounds used",
        f"{elig.rounds_in_period} of {elig.max_rounds}",
        help=f"Rounds started in the last {standard.period_days} days, of the "
        f"{elig.max_rounds} allowed in that time.",
    )
    if elig.allowed:
        when = "now"
    elif elig.next_round_at is not None:
        when = _date(elig.next_round_at)
    elif standing.status == "qualified":
        when = "not needed"
    elif "practice" in elig.reason:  # rule practice.required
        when = "after practice"
    else:
        when = "–"
    cols[2].metric("Next round possible", when)


def _standard_words(standard: QualificationStandard) -> str:
    """What a round asks for, in words."""
    return (
        f"A round has {standard.anchors} anchors. You pass when all four hold: "
        f"**exact agreement** (your score equals the experts') on at least "
        f"{standard.min_exact:.0%} of the criterion scores; **adjacent agreement** (your score "
        f"is the experts' or one level next to it) on at least {standard.min_adjacent:.0%}; "
        f"at most {standard.max_non_adjacent} criterion scores two or more levels off; and "
        f"**decision agreement** (the same pass or not-yet decision as the experts) on at least "
        f"{standard.min_decision:.0%} of the anchors."
    ).replace("%", "\\%")


def _next_round(
    actor: Actor,
    chosen: str,
    standing: Qualification,
    standard: QualificationStandard,
    *,
    retake: bool,
) -> None:
    """Start a round when the rules allow; the reason in words when they do not."""
    elig = standing.eligibility
    st.subheader(
        "Retake" if retake and standing.status != "qualified" else "Next round", anchor=False
    )
    if standing.status == "qualified" and not elig.allowed:
        st.markdown(escape(f"No round needed now: you are {elig.reason}."))
        return
    if not elig.allowed:
        st.info(escape(f"You cannot start a round now: {elig.reason}."))
        if "practice.required" in elig.reason:
            st.markdown(
                "A practice anchor comes first: open **Practice** in the menu, score one anchor "
                "and read the experts' feedback, then come back here."
            )
        return
    st.markdown(_standard_words(standard))
    label = "Start a new round (retake)" if retake else "Start round"
    if st.button(label, type="primary", key="qualification_start"):
        services.round_start(engine=data.engine(data.database_url()), actor=actor, rubric=chosen)
        st.rerun()


def _round(actor: Actor, view: RoundView, rubric: dict[str, Any]) -> None:
    """The open round: progress, and the next anchor to score."""
    item = view.next_item
    n = len(view.items)
    if not n:  # an attempt that came with imported ratings: no anchors drawn here
        st.warning(
            escape(
                f"Round {view.attempt} is open but holds no anchors to score here (it came "
                "with ratings imported from a scoring platform): ask your administrator."
            )
        )
        return
    if item is None:  # not reached: the last score finishes the round
        st.info("Every anchor of this round is scored.")
        return
    st.subheader(f"Anchor {item.position} of {n}", anchor=False)
    st.progress(view.scored / n, text=f"{view.scored} of {n} anchors scored")
    st.caption(
        f"No feedback during the round: the experts' scores, and how yours compare, are shown "
        f"once all {n} anchors are scored."
    )
    if view.note:
        st.info(escape(f"About this round: {view.note}."))
    engine = data.engine(data.database_url())

    def submit(scores: dict[str, int]) -> None:
        services.round_score(
            engine=engine, actor=actor, attempt=view.attempt, position=item.position, scores=scores
        )

    last = view.scored + 1 == n
    scoring.score_item(
        item,
        rubric,
        submit,
        note="Scores in a qualification round are final: they cannot be changed after you "
        "submit. "
        + (
            "This is the last anchor: the result follows."
            if last
            else "The experts' scores are shown when the round is over."
        ),
    )


def _results(actor: Actor, finished: list[dict[str, Any]]) -> RoundResult:
    """The result of a finished round (the latest, or an earlier one chosen): pass or fail and
    each figure against its threshold; the details follow the next round's button."""
    st.subheader("Your round's result", anchor=False)
    keys = [r["attempt"] for r in finished][::-1]  # newest first
    number = {r["attempt"]: i for i, r in enumerate(finished, start=1)}
    by_key = {r["attempt"]: r for r in finished}
    attempt = keys[0]
    if len(keys) > 1:
        attempt = st.selectbox(
            "Round",
            keys,
            format_func=lambda k: (
                f"Round {number[k]}, {_date(by_key[k]['finished_at'])}: "
                + ("passed" if by_key[k]["passed"] else "not passed")
            ),
            key="qualification_result",
        )
    result = services.round_result(
        engine=data.engine(data.database_url()), actor=actor, attempt=attempt
    )
    _result(result)
    return result


def _figure_cells(figure: dict[str, Any], ratings: int, anchors: int) -> tuple[str, str]:
    """Yours and needed, in words."""
    value, threshold = figure["value"], figure["threshold"]
    if figure["name"] == "non_adjacent":
        return f"{int(value)} of {ratings} criterion scores", f"at most {int(threshold)}"
    total = anchors if figure["name"] == "decision" else ratings
    what = "anchors" if figure["name"] == "decision" else "criterion scores"
    return (
        f"{value:.0%} ({round(value * total)} of {total} {what})",
        f"{figure['direction']} {threshold:.0%}",
    )


def _names(figure: dict[str, Any]) -> tuple[str, str]:
    """A figure's name and what it means, in words."""
    return FIGURES.get(figure["name"], (figure["label"], figure["label"]))


def _shortfall(figure: dict[str, Any]) -> str:
    """What an unmet figure says, in words."""
    name = _names(figure)[0].lower()
    return f"too many {name}" if figure["direction"] == "at most" else f"{name} too low"


def _result(result: RoundResult) -> None:
    anchors = len(result.anchors)
    ratings = sum(len(a.criteria) for a in result.anchors)
    figures = result.figures
    finished = _date(result.finished_at)
    if result.passed:
        st.success(f"Passed (round finished {finished}): every figure meets the standard.")
    else:
        unmet = "; ".join(_shortfall(f) for f in figures if not f["met"])
        st.error(
            f"Not passed (round finished {finished}): {unmet}. The table shows each figure "
            "against what is needed; further down, the anchors and criteria where your "
            "scores differ from the experts'."
        )
    if result.note:
        st.info(escape(f"About this round: {result.note}."))
    cells = [_figure_cells(f, ratings, anchors) for f in figures]
    table(
        {
            "figure": [_names(f)[0] for f in figures],
            "what it means": [_names(f)[1] for f in figures],
            "yours": [yours for yours, _ in cells],
            "needed": [needed for _, needed in cells],
            "met": ["✓ met" if f["met"] else "✗ not met" for f in figures],
        }
    )


def _details(result: RoundResult, rubric: dict[str, Any]) -> None:
    """Where the scores differ from the experts', then every anchor against the experts."""
    st.subheader("Your round against the experts", anchor=False)
    _missed(result)
    st.markdown("**Every anchor of the round, criterion by criterion**")
    rule = _pass_rule(rubric)
    for fb in result.anchors:
        same = sum(c.gap == 0 for c in fb.criteria)
        title = fb.artifact.get("title") or "Untitled artifact"
        with st.expander(
            f"Anchor {fb.position}: {escape(title)} · {same} of {len(fb.criteria)} criteria "
            "equal to the experts'"
            + ("" if fb.decision == fb.expert_decision else " · different decision")
        ):
            scoring.feedback(fb, rule)


def _missed(result: RoundResult) -> None:
    """Per anchor with a miss, the criterion scores that differ from the experts' (with their
    rationale) and whether the pass decision differs."""
    missed = [
        fb
        for fb in result.anchors
        if fb.decision != fb.expert_decision or any(c.gap for c in fb.criteria)
    ]
    st.markdown("**Where your scores differ from the experts'**")
    if not missed:
        st.markdown("Nowhere: every criterion score and every pass decision equals the experts'.")
        return
    for fb in missed:
        rows = [c for c in fb.criteria if c.gap]
        title = fb.artifact.get("title") or "Untitled artifact"
        words = [f"{len(rows)} of {len(fb.criteria)} criteria differ"]
        if fb.decision != fb.expert_decision:
            words.append(
                f"pass decision differs: by your scores the work {_says(fb.decision)}, by "
                f"the experts' it {_says(fb.expert_decision)}"
            )
        st.markdown(f"Anchor {fb.position}: **{escape(title)}**. {escape('; '.join(words))}.")
        if rows:
            table(
                {
                    "criterion": [c.title for c in rows],
                    "your score": [_unbroken(c.score, c.score_label) for c in rows],
                    "experts' score": [_unbroken(c.expert, c.expert_label) for c in rows],
                    "difference from the experts'": [
                        scoring.gap_words(c.gap).removesuffix(" the experts'") for c in rows
                    ],
                    "why the experts chose their level": [c.rationale for c in rows],
                }
            )


def _unbroken(score: int, label: str) -> str:
    """``score · label`` kept on one line in a table cell (no-break spaces)."""
    return f"{score} · {label}".replace(" ", "\u00a0")


def _says(passed: bool) -> str:
    return "passes" if passed else "does not pass yet"
