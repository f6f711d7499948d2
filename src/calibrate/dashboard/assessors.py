"""Assessors page (issuer administrators): who may score live work, the suspensions from it
(suspend and reinstate with a reason), and where every submission stands with its result.

Thin over :func:`calibrate.services.qualifications`, :func:`~calibrate.services.suspensions`,
:func:`~calibrate.services.suspend`, :func:`~calibrate.services.reinstate` and
:func:`~calibrate.services.results`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from calibrate import services
from calibrate.dashboard import data
from calibrate.dashboard.text import error, escape, table
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.access import Actor
    from calibrate.services.calibration import Qualification

DONE = "assessors_done"
"""Session-state key of the message on what the last change did (shown after the rerun)."""
ALL = "all"
STATUSES = ("waiting", "in scoring", "awaiting adjudication", "decided")
STATUS_WORDS = {
    "waiting": "waiting: no assessor has it yet",
    "in scoring": "in scoring: an assessor has it, or one of two readings is in",
    "awaiting adjudication": "awaiting adjudication: two readings too far apart",
    "decided": "decided: final scores and pass decision",
}
SUSPENDED_BY = {"rule": "the rule on missed checks"}


def render(actor: Actor) -> None:
    st.title("Assessors")
    st.caption(
        f"Issuer {escape(actor.issuer)}: who may score earners' work on each rubric version, "
        "who is suspended from it and why, and where every submission stands. Every "
        "suspension and reinstatement is in the audit log."
    )
    url = data.database_url()
    engine = data.engine(url)
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    done = st.session_state.pop(DONE, None)
    if done:
        st.success(escape(done), icon=":material/check:")
    rubric: str = st.selectbox(
        "Rubric version",
        [ALL, *versions],
        format_func=lambda v: (
            "All rubric versions" if v == ALL else data.rubric_option(v, versions)
        ),
        key="assessors_rubric",
    )
    chosen = None if rubric == ALL else rubric
    standing = services.qualifications(engine=engine, actor=actor, rubric=chosen)
    held = services.suspensions(engine=engine, actor=actor, rubric=chosen)
    st.subheader("Qualifications", anchor=False)
    _qualifications(url, actor, standing)
    st.subheader("Suspensions from live scoring", anchor=False)
    _suspensions(held)
    suspend, reinstate = st.columns(2, gap="large")
    with suspend:
        _suspend(engine, actor, sorted({q.assessor for q in standing}), list(versions), chosen)
    with reinstate:
        _reinstate(engine, actor, [s for s in held if s["active"]])
    st.subheader("Submissions and results", anchor=False)
    _results(engine, actor, chosen, versions)


def _date(moment: datetime | str | None) -> str:
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment:%Y-%m-%d}"


def _qualifications(url: str, actor: Actor, standing: list[Qualification]) -> None:
    if not standing:
        st.info("No assessor accounts and no qualification rounds on these rubrics yet.")
        return
    period = {
        q.rubric: data.programme_rules(url, q.rubric, actor).qualification.period_days
        for q in standing
    }
    st.dataframe(
        pd.DataFrame(
            {
                "assessor": [q.assessor for q in standing],
                "rubric": [q.rubric for q in standing],
                "status": [q.status for q in standing],
                "qualified until": [_date(q.qualified_until) for q in standing],
                "rounds used": [
                    f"{q.eligibility.rounds_in_period} of {q.eligibility.max_rounds} "
                    f"in {period[q.rubric]} days"
                    for q in standing
                ],
                "rounds in all": [len(q.rounds) for q in standing],
                "reason": [q.reason for q in standing],
            }
        ),
        hide_index=True,
        key="assessors_qualifications",
        column_config={
            "assessor": st.column_config.TextColumn(width=80),
            "rubric": st.column_config.TextColumn(width=110),
            "status": st.column_config.TextColumn(width=100),
            "qualified until": st.column_config.TextColumn(width=100),
            "rounds used": st.column_config.TextColumn(
                width=130,
                help="Qualification rounds started in the period (rule "
                "qualification.period_days), of the most allowed in it "
                "(qualification.max_rounds).",
            ),
            "rounds in all": st.column_config.NumberColumn(width=95),
            "reason": st.column_config.TextColumn(width=300),
        },
    )
    st.caption(
        "Qualified: passed a qualification round that has not expired, and not suspended; only "
        "then does an assessor get earners' work on that rubric version. A suspension's full "
        "reason is in the table below."
    )


def _suspensions(held: list[dict[str, Any]]) -> None:
    if not held:
        st.markdown("No suspensions on these rubrics.")
        return

    def lifted(s: dict[str, Any]) -> str:
        if s["active"]:
            return "–"
        return f"{_date(s['lifted_at'])} by {s['lifted_by']}: {s['lift_reason']}"

    table(
        {
            "assessor": [s["assessor"] for s in held],
            "rubric": [s["rubric"] for s in held],
            "status": [
                f"in force since {_date(s['started_at'])}"
                if s["active"]
                else f"lifted (from {_date(s['started_at'])})"
                for s in held
            ],
            "suspended by": [SUSPENDED_BY.get(s["started_by"], s["started_by"]) for s in held],
            "reason": [s["reason"] for s in held],
            "lifted": [lifted(s) for s in held],
        }
    )


def _apply(message: str, action: Callable[[], object]) -> None:
    """Run a change; on success rerun with ``message``, on a refusal say why in one line."""
    try:
        action()
    except CalibrateError as exc:
        error(exc)
        return
    st.session_state[DONE] = message
    st.rerun()


def _suspend(
    engine: Engine, actor: Actor, assessors: list[str], rubrics: list[str], chosen: str | None
) -> None:
    st.markdown("**Suspend an assessor**")
    st.caption(
        "From live scoring on one rubric version, at once: their open submissions go back to "
        "the queue. The assessor reads the reason in My queue."
    )
    if not assessors:
        st.markdown("No assessors yet.")
        return
    with st.form("assessors_suspend", clear_on_submit=True):
        who = st.selectbox("Assessor", assessors, key="assessors_suspend_who")
        rubric = st.selectbox(
            "Rubric version",
            rubrics,
            index=rubrics.index(chosen) if chosen in rubrics else 0,
            key="assessors_suspend_rubric",
        )
        reason = st.text_area(
            "Reason (required)", key="assessors_suspend_reason", height=90, max_chars=5_000
        )
        submitted = st.form_submit_button("Suspend", type="primary")
    if submitted and who is not None and rubric is not None:
        _apply(
            f"Suspended {who} from live scoring on {rubric}.",
            lambda: services.suspend(
                engine=engine, actor=actor, assessor=who, rubric=rubric, reason=reason
            ),
        )


def _reinstate(engine: Engine, actor: Actor, active: list[dict[str, Any]]) -> None:
    st.markdown("**Reinstate an assessor**")
    st.caption(
        "Lift a suspension in force. Missed checks before it no longer count towards another."
    )
    if not active:
        st.markdown("No suspension in force.")
        return
    options = {f"{s['assessor']} on {s['rubric']}": s for s in active}
    with st.form("assessors_reinstate", clear_on_submit=True):
        picked = st.selectbox(
            "Suspension",
            list(options),
            format_func=lambda k: f"{k} (since {_date(options[k]['started_at'])})",
            key="assessors_reinstate_which",
        )
        reason = st.text_area(
            "Reason (required)", key="assessors_reinstate_reason", height=90, max_chars=5_000
        )
        submitted = st.form_submit_button("Reinstate", type="primary")
    if submitted and picked is not None:
        found = options[picked]
        _apply(
            f"Reinstated {found['assessor']} on {found['rubric']}.",
            lambda: services.reinstate(
                engine=engine,
                actor=actor,
                assessor=found["assessor"],
                rubric=found["rubric"],
                reason=reason,
            ),
        )


def _results(
    engine: Engine, actor: Actor, chosen: str | None, versions: dict[str, dict[str, Any]]
) -> None:
    rows = services.results(engine=engine, actor=actor, rubric=chosen)
    if not rows:
        st.info("No submissions entered for live scoring on these rubrics yet.")
        return
    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    cols = st.columns(len(STATUSES))
    for col, status in zip(cols, STATUSES, strict=True):
        col.metric(status.capitalize(), f"{counts[status]:,}", help=STATUS_WORDS[status] + ".")
    status = st.selectbox(
        "Status",
        [ALL, *STATUSES],
        format_func=lambda s: "All statuses" if s == ALL else STATUS_WORDS[s],
        key="assessors_status",
    )
    shown = rows if status == ALL else [r for r in rows if r["status"] == status]
    if not shown:
        st.markdown("No submissions with this status.")
        return
    order = {k: [c["id"] for c in r["criteria"]] for k, r in versions.items()}

    def result(r: dict[str, Any], key: str) -> Any:
        return None if r["result"] is None else r["result"][key]

    def final(r: dict[str, Any]) -> str:
        scores = result(r, "scores")
        if scores is None:
            return "–"
        ids = order.get(r["rubric"], list(scores))
        return " · ".join(str(scores[c]) for c in ids if c in scores)

    def passed(r: dict[str, Any]) -> str:
        value = result(r, "passed")
        return "–" if value is None else "passes" if value else "does not pass yet"

    picked = st.dataframe(
        pd.DataFrame(
            {
                "submission": [r["submission"] for r in shown],
                "rubric": [r["rubric"] for r in shown],
                "status": [r["status"] for r in shown],
                "final scores": [final(r) for r in shown],
                "decision": [passed(r) for r in shown],
                "rule": [result(r, "rule") or "–" for r in shown],
                "decided by": [result(r, "decided_by") or "–" for r in shown],
            }
        ),
        hide_index=True,
        key="assessors_results",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "submission": st.column_config.TextColumn(width=115),
            "rubric": st.column_config.TextColumn(width=100),
            "status": st.column_config.TextColumn(width=150),
            "final scores": st.column_config.TextColumn(
                width=115,
                help="One level per criterion, in the rubric's order. Select a row for the "
                "criteria by name.",
            ),
            "decision": st.column_config.TextColumn(width=110),
            "rule": st.column_config.TextColumn(width=200),
            "decided by": st.column_config.TextColumn(width=80),
        },
    )
    selected = list(getattr(getattr(picked, "selection", None), "rows", []) or [])
    if not selected:
        st.caption(
            "Select a row (the box at its left) for the submission's details: its scores by "
            "criterion, how it was decided, and why."
        )
        return
    _details(shown[int(selected[0])], versions)


def _details(row: dict[str, Any], versions: dict[str, dict[str, Any]]) -> None:
    """One submission: when received, its earner and attempt, and its result in full."""
    st.markdown(
        escape(
            f"Submission {row['submission']} ({row['rubric']}): attempt {row['attempt']}"
            + (f" of earner {row['earner']}" if row["earner"] else "")
            + f", received {_date(row['received_at'])}; {row['scored']} of the "
            f"{row['readings']} readings it needs are in; {row['status']}."
        )
    )
    done = row["result"]
    if done is None:
        return
    rubric = versions.get(row["rubric"])
    criteria = rubric["criteria"] if rubric else [{"id": c, "title": c} for c in done["scores"]]
    labels = {lv["score"]: lv["label"] for lv in rubric["levels"]} if rubric else {}
    columns: dict[str, Any] = {
        "criterion": [c["title"] for c in criteria],
        "final score": [
            f"{done['scores'][c['id']]} · {labels.get(done['scores'][c['id']], '')}"
            for c in criteria
        ],
    }
    if done.get("third_reading"):
        columns["lead assessor's reading"] = [
            f"{done['third_reading'][c['id']]} · {labels.get(done['third_reading'][c['id']], '')}"
            for c in criteria
        ]
    table(columns)
    words = (
        f"{'Passes' if done['passed'] else 'Does not pass yet'} under the rubric's pass rule. "
        f"Rule: {done['rule']}. Decided by {done['decided_by']} on {_date(done['decided_at'])}"
    )
    if done.get("reason"):
        words += f". Reason: {done['reason']}"
    st.markdown(escape(words))
