"""Practice on anchors with feedback, and qualification rounds with retakes (issue 11, parts 1-2).

An assessor practises on the practice anchors of a rubric version one at a time: the artifact
and the rubric first, and after they submit, per criterion their score beside the experts'
score, the rationale and the descriptors of both levels. A qualification round draws
``qualification.anchors`` anchors from the qualification pool (unseen ones first, spread across
levels and decisions: :func:`calibrate.workflow.draw_round`), scored blind, then judged against
the qualification standard (:func:`calibrate.workflow.judge_round`). Nothing of an anchor's
answer key leaves a service before the assessor has scored that anchor (practice) or finished
the round (qualification): the items carry a handle, the rubric and the artifact only.

Who: ``calibration.take`` (assessors and leads, their own attempts). Results of others' rounds:
``workflow.manage`` (administrators of the issuer, the operator).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from calibrate.access import Actor, require
from calibrate.errors import AccessDenied, CalibrateError, StoreError
from calibrate.rubric import Rubric
from calibrate.workflow import check_scores, draw_round, judge_round

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.engine import Connection

    from calibrate.rules import ProgrammeRules
    from calibrate.store.calibration import Attempt
    from calibrate.store.scoring import PoolAnchor, StoredVersion


def _now(at: datetime | None) -> datetime:
    return datetime.now(UTC) if at is None else at


def _assessor_key(actor: Actor) -> str:
    if not actor.assessor:
        raise AccessDenied(f"{actor.name} ({actor.role}) has no assessor key: nothing to score")
    return actor.assessor


def _rubric(engine: Engine, actor: Actor, rubric: str) -> Rubric:
    from calibrate.store import stored_rubric

    return stored_rubric(rubric, engine=engine, issuers=actor.issuers)


def _rules(rubric: Rubric) -> ProgrammeRules:
    from calibrate.services.rules import programme_rules

    return programme_rules(rubric=rubric)


# --- what an assessor sees ------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorItem:
    """An anchor to score, as the assessor sees it before scoring: no key, no answer.

    Attributes
    ----------
    attempt : str
        The practice or round key (``P-`` or ``Q-`` and 10 hex digits).
    position, of : int
        Its place in the attempt (1-based) and the attempt's size.
    rubric : str
        ``id@version``.
    artifact : dict
        ``title``, ``description``, ``excerpt`` (None when the anchor has none).
    scored : bool
        Whether the assessor has scored it.
    """

    attempt: str
    position: int
    of: int
    rubric: str
    artifact: dict[str, str | None]
    scored: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _artifact(anchor: PoolAnchor) -> dict[str, str | None]:
    return {k: anchor.artifact.get(k) for k in ("title", "description", "excerpt")}


@dataclass(frozen=True)
class CriterionFeedback:
    """One criterion of a scored anchor against the experts."""

    criterion: str
    title: str
    score: int
    score_label: str
    score_descriptor: str
    expert: int
    expert_label: str
    expert_descriptor: str
    rationale: str

    @property
    def gap(self) -> int:
        return self.score - self.expert

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "gap": self.gap}


@dataclass(frozen=True)
class AnchorFeedback:
    """A scored anchor: the assessor's scores beside the experts', criterion by criterion."""

    attempt: str
    position: int
    rubric: str
    artifact: dict[str, str | None]
    criteria: tuple[CriterionFeedback, ...]
    decision: bool
    expert_decision: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "position": self.position,
            "rubric": self.rubric,
            "artifact": self.artifact,
            "criteria": [c.to_dict() for c in self.criteria],
            "decision": self.decision,
            "expert_decision": self.expert_decision,
        }


def _feedback(
    attempt: str, position: int, rubric: Rubric, anchor: PoolAnchor, scores: Mapping[str, int]
) -> AnchorFeedback:
    rows = []
    for c in rubric.criteria:
        s, e = int(scores[c.id]), int(anchor.expert[c.id])
        rows.append(
            CriterionFeedback(
                c.id,
                c.title,
                s,
                rubric.label(s),
                c.descriptors[s],
                e,
                rubric.label(e),
                c.descriptors[e],
                anchor.rationale.get(c.id, ""),
            )
        )
    ordered = [[int(scores[c]) for c in rubric.criterion_ids]]
    expert = [[int(anchor.expert[c]) for c in rubric.criterion_ids]]
    return AnchorFeedback(
        attempt,
        position,
        rubric.key,
        _artifact(anchor),
        tuple(rows),
        bool(rubric.passes(ordered)[0]),
        bool(rubric.passes(expert)[0]),
    )


# --- practice -------------------------------------------------------------------------------


def practice_next(
    *, engine: Engine, actor: Actor, rubric: str, at: datetime | None = None
) -> AnchorItem:
    """The practice anchor to score next: the open one, or a new practice attempt on the anchor
    the assessor has practised least (ties at random).

    ``at`` backdates the attempt (the demo's history); the doors never pass it.

    Raises
    ------
    AccessDenied
        Not an assessor or lead.
    CalibrateError
        The rubric is not in the actor's issuers, or has no practice anchors.
    """
    from calibrate.store.calibration import attempt_anchors, attempts_of, create_attempt
    from calibrate.store.engine import writing
    from calibrate.store.scoring import anchor_pool, assessor_id, stored_version

    require(actor, "calibration.take")
    key = _assessor_key(actor)
    found = _rubric(engine, actor, rubric)
    now = _now(at)
    with writing(engine) as conn:
        version = stored_version(conn, found)
        who = assessor_id(conn, key)
        pool = anchor_pool(conn, version.id, "practice")
        if not pool:
            raise CalibrateError(f"{found.key} has no practice anchors: ask your administrator")
        done = attempts_of(conn, who, version.id, "practice")
        drawn = attempt_anchors(conn, [a.id for a in done])
        # an attempt without drawn anchors came with imported ratings: history, not open
        open_ = [a for a in done if a.finished_at is None and drawn.get(a.id)]
        if open_:
            anchor = next(p for p in pool if p.id == drawn[open_[-1].id][0])
            return AnchorItem(open_[-1].key, 1, 1, found.key, _artifact(anchor), False)
        times = {p.id: 0 for p in pool}
        for a in done:
            for anchor_id in drawn[a.id]:
                times[anchor_id] = times.get(anchor_id, 0) + 1
        fewest = min(times[p.id] for p in pool)
        choices = [p for p in pool if times[p.id] == fewest]
        anchor = choices[secrets.randbelow(len(choices))]
        attempt_key = f"P-{secrets.token_hex(5)}"
        create_attempt(
            conn,
            key=attempt_key,
            assessor=who,
            version=version.id,
            purpose="practice",
            at=now,
            anchors=[anchor.id],
        )
    return AnchorItem(attempt_key, 1, 1, found.key, _artifact(anchor), False)


def practice_view(*, engine: Engine, actor: Actor, attempt: str) -> AnchorItem:
    """The actor's practice anchor ``attempt`` as an item (its rubric, its artifact), open or
    scored; never its answer key (see :func:`practice_feedback`)."""
    from calibrate.store.calibration import attempt_anchors
    from calibrate.store.engine import reading
    from calibrate.store.scoring import anchors_by_id

    require(actor, "calibration.take")
    with reading(engine) as conn:
        found, rubric, _ = _own_attempt(conn, engine, actor, attempt, "practice")
        anchor = anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])[0]
    return AnchorItem(attempt, 1, 1, rubric.key, _artifact(anchor), found.finished_at is not None)


def practice_score(
    *,
    engine: Engine,
    actor: Actor,
    attempt: str,
    scores: Mapping[str, int],
    at: datetime | None = None,
) -> AnchorFeedback:
    """Record the assessor's scores of their open practice anchor and return the feedback: per
    criterion their score and the experts', the rationale, the descriptors of both levels.

    Raises
    ------
    CalibrateError
        Not the actor's open practice attempt; scores incomplete or not levels.
    """
    from calibrate.store.calibration import attempt_anchors, finish_attempt
    from calibrate.store.engine import writing
    from calibrate.store.scoring import anchors_by_id, record_scores

    require(actor, "calibration.take")
    now = _now(at)
    with writing(engine) as conn:
        found, rubric, version = _own_attempt(conn, engine, actor, attempt, "practice")
        if found.finished_at is not None:
            raise CalibrateError(f"practice {attempt} is already scored: ask for the next anchor")
        reading = check_scores(scores, rubric)
        given = dict(zip(rubric.criterion_ids, reading.tolist(), strict=True))
        anchor = anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])[0]
        record_scores(
            conn,
            assessor=found.assessor_id,
            version=version,
            scores=given,
            target=("a", anchor.id),
            context="practice",
            at=now,
            recorded_by=actor.name,
            action="practice.score",
            subject=f"practice {attempt}",
            attempt=found.id,
        )
        finish_attempt(conn, found.id, at=now)
    return _feedback(attempt, 1, rubric, anchor, given)


def practice_feedback(*, engine: Engine, actor: Actor, attempt: str) -> AnchorFeedback:
    """The feedback of a practice anchor the assessor has scored.

    Raises
    ------
    CalibrateError
        Not the actor's practice, or not scored yet (no answer key before scoring).
    """
    from calibrate.store.calibration import attempt_anchors, attempt_scores
    from calibrate.store.engine import reading
    from calibrate.store.scoring import anchors_by_id

    require(actor, "calibration.take")
    with reading(engine) as conn:
        found, rubric, _ = _own_attempt(conn, engine, actor, attempt, "practice")
        if found.finished_at is None:
            raise CalibrateError(f"practice {attempt} is not scored yet: score it first")
        anchor = anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])[0]
        given = attempt_scores(conn, found.id)[anchor.id]
    return _feedback(attempt, 1, rubric, anchor, given)


def _own_attempt(
    conn: Connection, engine: Engine, actor: Actor, key: str, purpose: str
) -> tuple[Attempt, Rubric, StoredVersion]:
    """The actor's own attempt ``key`` of ``purpose``, its rubric and stored version; anyone
    else's is "no such" (its existence is not confirmed)."""
    from calibrate.store.calibration import attempt_by_key
    from calibrate.store.scoring import stored_version

    what = "practice" if purpose == "practice" else "qualification round"
    found = attempt_by_key(conn, key) if isinstance(key, str) else None
    if found is None or found.purpose != purpose or found.assessor != _assessor_key(actor):
        raise CalibrateError(f"no {what} {key!r} of yours")
    rubric = _rubric(engine, actor, found.rubric)
    return found, rubric, stored_version(conn, rubric)


# --- qualification rounds -------------------------------------------------------------------


@dataclass(frozen=True)
class RoundResult:
    """A finished qualification round: each figure against its threshold, every criterion of
    every anchor against the experts (with the rationale), pass or fail."""

    attempt: str
    assessor: str
    rubric: str
    passed: bool
    figures: tuple[dict[str, Any], ...]
    anchors: tuple[AnchorFeedback, ...]
    started_at: datetime | None
    finished_at: datetime | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "assessor": self.assessor,
            "rubric": self.rubric,
            "passed": self.passed,
            "figures": list(self.figures),
            "anchors": [a.to_dict() for a in self.anchors],
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "note": self.note,
        }


@dataclass(frozen=True)
class RoundView:
    """A round as its assessor sees it: the anchors (scored or not) and, once finished, the
    result."""

    attempt: str
    rubric: str
    items: tuple[AnchorItem, ...]
    note: str | None
    result: RoundResult | None = None

    @property
    def scored(self) -> int:
        return sum(i.scored for i in self.items)

    @property
    def next_item(self) -> AnchorItem | None:
        return next((i for i in self.items if not i.scored), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "rubric": self.rubric,
            "scored": self.scored,
            "of": len(self.items),
            "items": [i.to_dict() for i in self.items],
            "note": self.note,
            "result": None if self.result is None else self.result.to_dict(),
        }


@dataclass(frozen=True)
class Eligibility:
    """Whether an assessor may start a qualification round now, and why not."""

    allowed: bool
    reason: str
    rounds_in_period: int
    max_rounds: int
    next_round_at: datetime | None = None
    open_round: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["next_round_at"] = (
            None if self.next_round_at is None else self.next_round_at.isoformat()
        )
        return out


@dataclass(frozen=True)
class Qualification:
    """An assessor's standing on one rubric version."""

    assessor: str
    rubric: str
    status: str  # "qualified", "not qualified", "expired", "suspended"
    reason: str
    qualified_until: datetime | None
    eligibility: Eligibility
    rounds: tuple[dict[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "assessor": self.assessor,
            "rubric": self.rubric,
            "status": self.status,
            "reason": self.reason,
            "qualified_until": None
            if self.qualified_until is None
            else self.qualified_until.isoformat(),
            "eligibility": self.eligibility.to_dict(),
            "rounds": list(self.rounds),
        }


def _standing(
    conn: Connection, who: int, assessor: str, rubric: Rubric, version: StoredVersion, now: datetime
) -> Qualification:
    """Qualification and eligibility of one assessor on one rubric version at ``now``."""
    from calibrate.store.calibration import attempt_anchors, attempts_of
    from calibrate.store.queue import qualified

    rules = _rules(rubric)
    std = rules.qualification
    attempts = attempts_of(conn, who, version.id)
    rounds = [a for a in attempts if a.purpose == "qualification"]
    finished = [a for a in rounds if a.finished_at is not None]
    now_standing = qualified(conn, who, version.id, now, std.valid_days)
    status, reason, until = now_standing.status, now_standing.reason, now_standing.until
    drawn = attempt_anchors(conn, [a.id for a in rounds])  # none: imported with ratings
    open_round = next((a.key for a in rounds if a.finished_at is None and drawn.get(a.id)), None)
    window = now - timedelta(days=std.period_days)
    recent = [a for a in rounds if a.started_at is not None and _aware(a.started_at) > window]
    last_round = _aware(finished[-1].finished_at) if finished else None
    practised = any(
        a.purpose == "practice"
        and a.finished_at is not None
        and (last_round is None or _aware(a.finished_at) > last_round)
        for a in attempts
    )
    if open_round is not None:
        eligibility = Eligibility(True, "a round is open: finish it", len(recent), std.max_rounds,
                                  open_round=open_round)  # fmt: skip
    elif status == "qualified":
        eligibility = Eligibility(False, reason, len(recent), std.max_rounds)
    elif len(recent) >= std.max_rounds:
        first = min(_aware(a.started_at) for a in recent if a.started_at is not None)
        again = first + timedelta(days=std.period_days)
        eligibility = Eligibility(
            False,
            f"{len(recent)} rounds in the last {std.period_days} days (rule "
            f"qualification.max_rounds: {std.max_rounds}): the next round is possible from "
            f"{again:%Y-%m-%d}",
            len(recent),
            std.max_rounds,
            next_round_at=again,
        )
    elif rules.practice_required and not practised:
        eligibility = Eligibility(
            False,
            "score a practice anchor first"
            + (" since your last round" if last_round is not None else "")
            + " (rule practice.required)",
            len(recent),
            std.max_rounds,
        )
    else:
        eligibility = Eligibility(True, "you may start a round", len(recent), std.max_rounds)
    summary = tuple(
        {
            "attempt": a.key,
            "started_at": None if a.started_at is None else a.started_at.isoformat(),
            "finished_at": None if a.finished_at is None else a.finished_at.isoformat(),
            "passed": a.passed,
        }
        for a in rounds
    )
    return Qualification(assessor, rubric.key, status, reason, until, eligibility, summary)


def _aware(moment: datetime | None) -> datetime:
    """A stored time as an aware UTC datetime (SQLite returns naive UTC)."""
    assert moment is not None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def qualification(
    *, engine: Engine, actor: Actor, rubric: str, at: datetime | None = None
) -> Qualification:
    """The acting assessor's standing on a rubric version: qualified (until when), not yet,
    expired or suspended (with the reason), and whether a round may start now."""
    from calibrate.store.engine import reading
    from calibrate.store.scoring import stored_version

    require(actor, "calibration.take")
    key = _assessor_key(actor)
    found = _rubric(engine, actor, rubric)
    with reading(engine) as conn:
        version = stored_version(conn, found)
        who = _existing_assessor(conn, key)
        return _standing(conn, -1 if who is None else who, key, found, version, _now(at))


def _existing_assessor(conn: Connection, key: str) -> int | None:
    import sqlalchemy as sa

    from calibrate.store.scoring import ASSESSOR

    found = conn.execute(sa.select(ASSESSOR.c.id).where(ASSESSOR.c.key == key)).scalar()
    return None if found is None else int(found)


def qualifications(
    *, engine: Engine, actor: Actor, rubric: str | None = None, at: datetime | None = None
) -> list[Qualification]:
    """Every assessor's standing on the issuer's rubric versions (or one): those with an
    account of the issuer and those who took a round on its rubrics (administrators and the
    operator, ``workflow.manage``)."""
    from calibrate.store.calibration import attempts_in
    from calibrate.store.definitions import stored_rubrics
    from calibrate.store.engine import reading
    from calibrate.store.scoring import stored_version

    require(actor, "workflow.manage")
    chosen = (
        [_rubric(engine, actor, rubric)]
        if rubric is not None
        else stored_rubrics(engine=engine, issuers=actor.issuers)
    )
    keys = _issuer_assessors(engine, actor)
    now = _now(at)
    out = []
    with reading(engine) as conn:
        for found in chosen:
            version = stored_version(conn, found)
            takers = {
                (a.assessor, a.assessor_id)
                for a in attempts_in(conn, [version.id], "qualification")
            }
            known = {k: _existing_assessor(conn, k) for k in keys}
            everyone = takers | {(k, i if i is not None else -1) for k, i in known.items()}
            for key, who in sorted(everyone):
                out.append(_standing(conn, who, key, found, version, now))
    return out


def _issuer_assessors(engine: Engine, actor: Actor) -> set[str]:
    """Assessor keys of the accounts of the actor's issuers."""
    from calibrate.store.accounts import list_accounts

    scope = actor.issuers
    return {
        a.assessor
        for a in list_accounts(engine=engine)
        if a.assessor and a.role in ("assessor", "lead") and (scope is None or a.issuer in scope)
    }


def round_start(
    *, engine: Engine, actor: Actor, rubric: str, at: datetime | None = None
) -> RoundView:
    """Start a qualification round (or return the open one): ``qualification.anchors`` anchors
    from the pool, unseen in the assessor's earlier rounds where the pool allows; when it does
    not, the least recently seen fill the round and the round's note says how many.

    Raises
    ------
    CalibrateError
        Already qualified; the round limit of the period reached (with the date of the next
        possible round); practice required first; no qualification anchors.
    """
    from calibrate.store.audit import append_event
    from calibrate.store.calibration import attempt_anchors, attempts_of, create_attempt
    from calibrate.store.engine import writing
    from calibrate.store.scoring import anchor_pool, assessor_id, stored_version

    require(actor, "calibration.take")
    key = _assessor_key(actor)
    found = _rubric(engine, actor, rubric)
    now = _now(at)
    with writing(engine) as conn:
        version = stored_version(conn, found)
        who = assessor_id(conn, key)
        standing = _standing(conn, who, key, found, version, now)
        if standing.eligibility.open_round is not None:
            return _round_view(conn, engine, actor, standing.eligibility.open_round)
        if not standing.eligibility.allowed:
            raise CalibrateError(standing.eligibility.reason)
        pool = anchor_pool(conn, version.id, "qualification")
        if not pool:
            raise CalibrateError(
                f"{found.key} has no qualification anchors: ask your administrator"
            )
        rounds = [a for a in attempts_of(conn, who, version.id, "qualification")]
        drawn = attempt_anchors(conn, [a.id for a in rounds])
        last_seen = np.full(len(pool), -1, dtype=np.int64)
        index = {p.id: i for i, p in enumerate(pool)}
        for number, a in enumerate(rounds):
            for anchor_id in drawn[a.id]:
                if anchor_id in index:
                    last_seen[index[anchor_id]] = number
        expert = np.array([[p.expert[c] for c in found.criterion_ids] for p in pool])
        n = _rules(found).qualification.anchors
        draw = draw_round(
            expert,
            found.passes(expert),
            last_seen,
            n,
            np.random.default_rng(secrets.randbits(64)),
        )
        notes = []
        if len(pool) < n:
            notes.append(
                f"the pool holds {len(pool)} qualification anchors, fewer than the "
                f"{n} a round asks for (rule qualification.anchors): the round has all of them"
            )
        if draw.reused:
            notes.append(
                f"{draw.reused} of the {len(draw.chosen)} anchors were in your earlier rounds "
                f"(the pool of {len(pool)} has no more unseen ones): the least recently seen"
            )
        attempt_key = f"Q-{secrets.token_hex(5)}"
        create_attempt(
            conn,
            key=attempt_key,
            assessor=who,
            version=version.id,
            purpose="qualification",
            at=now,
            anchors=[pool[i].id for i in draw.chosen],
            note="; ".join(notes) or None,
        )
        append_event(
            conn,
            actor=actor.name,
            action="round.start",
            issuer=version.issuer,
            subject=f"qualification round {attempt_key}",
            detail={"rubric": found.key, "anchors": len(draw.chosen), "reused": draw.reused},
        )
        return _round_view(conn, engine, actor, attempt_key)


def _round_view(conn: Connection, engine: Engine, actor: Actor, key: str) -> RoundView:
    from calibrate.store.calibration import attempt_anchors, attempt_scores
    from calibrate.store.scoring import anchors_by_id

    found, rubric, _ = _own_attempt(conn, engine, actor, key, "qualification")
    anchors = anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])
    given = attempt_scores(conn, found.id)
    items = tuple(
        AnchorItem(key, i, len(anchors), rubric.key, _artifact(a), a.id in given)
        for i, a in enumerate(anchors, start=1)
    )
    result = None
    if found.finished_at is not None:
        result = _round_result(found, rubric, anchors, given)
    return RoundView(key, rubric.key, items, found.note, result)


def _round_result(
    found: Attempt, rubric: Rubric, anchors: list[PoolAnchor], given: dict[int, dict[str, int]]
) -> RoundResult:
    stored = found.result or {}
    return RoundResult(
        attempt=found.key,
        assessor=found.assessor,
        rubric=rubric.key,
        passed=bool(found.passed),
        figures=tuple(stored.get("figures", ())),
        anchors=tuple(
            _feedback(found.key, i, rubric, a, given[a.id]) for i, a in enumerate(anchors, start=1)
        ),
        started_at=found.started_at,
        finished_at=found.finished_at,
        note=found.note,
    )


def round_view(*, engine: Engine, actor: Actor, attempt: str) -> RoundView:
    """The actor's round: its anchors, which are scored, and the result once finished."""
    from calibrate.store.engine import reading

    require(actor, "calibration.take")
    with reading(engine) as conn:
        return _round_view(conn, engine, actor, attempt)


def round_score(
    *,
    engine: Engine,
    actor: Actor,
    attempt: str,
    position: int,
    scores: Mapping[str, int],
    at: datetime | None = None,
) -> RoundView:
    """Record the scores of one anchor of the actor's open round (final: a round's scores are
    not revised); after the last anchor the round is judged against the qualification standard
    and the view carries the result.

    Raises
    ------
    CalibrateError
        Not the actor's round; finished; no such position; the anchor already scored; scores
        incomplete or not levels.
    """
    from calibrate.store.audit import append_event
    from calibrate.store.calibration import attempt_anchors, attempt_scores, finish_attempt
    from calibrate.store.engine import writing
    from calibrate.store.scoring import anchors_by_id, record_scores

    require(actor, "calibration.take")
    now = _now(at)
    with writing(engine) as conn:
        found, rubric, version = _own_attempt(conn, engine, actor, attempt, "qualification")
        if found.finished_at is not None:
            raise CalibrateError(f"round {attempt} is finished: see its result")
        anchor_ids = attempt_anchors(conn, [found.id])[found.id]
        if (
            isinstance(position, bool)
            or not isinstance(position, int)
            or not (1 <= position <= len(anchor_ids))
        ):
            raise CalibrateError(
                f"round {attempt} has anchors 1 to {len(anchor_ids)}, not {position!r}"
            )
        given = attempt_scores(conn, found.id)
        target = anchor_ids[position - 1]
        if target in given:
            raise CalibrateError(
                f"anchor {position} of round {attempt} is already scored: a round's scores "
                "are final"
            )
        reading = check_scores(scores, rubric)
        record_scores(
            conn,
            assessor=found.assessor_id,
            version=version,
            scores=dict(zip(rubric.criterion_ids, reading.tolist(), strict=True)),
            target=("a", target),
            context="qualification",
            at=now,
            recorded_by=actor.name,
            action="round.score",
            subject=f"qualification round {attempt}",
            attempt=found.id,
            detail={"position": position},
        )
        given = attempt_scores(conn, found.id)
        if len(given) == len(anchor_ids):
            anchors = anchors_by_id(conn, anchor_ids)
            s = np.array([[given[a.id][c] for c in rubric.criterion_ids] for a in anchors])
            e = np.array([[a.expert[c] for c in rubric.criterion_ids] for a in anchors])
            judgement = judge_round(s, e, rubric, _rules(rubric).qualification)
            figures = [f.to_dict() for f in judgement.figures]
            finish_attempt(
                conn, found.id, at=now, passed=judgement.passed, result={"figures": figures}
            )
            append_event(
                conn,
                actor=actor.name,
                action="round.finish",
                issuer=version.issuer,
                subject=f"qualification round {attempt}",
                detail={"rubric": rubric.key, "passed": judgement.passed, "figures": figures},
            )
        return _round_view(conn, engine, actor, attempt)


def round_result(*, engine: Engine, actor: Actor, attempt: str) -> RoundResult:
    """A finished round's result: the assessor's own, or (``workflow.manage``) any round on the
    issuer's rubrics.

    Raises
    ------
    CalibrateError
        No such round in scope, or not finished (no answer key before the round is done).
    """
    from calibrate.store.calibration import attempt_anchors, attempt_by_key, attempt_scores
    from calibrate.store.engine import reading
    from calibrate.store.scoring import anchors_by_id

    with reading(engine) as conn:
        if actor.may("workflow.manage"):
            found = attempt_by_key(conn, attempt) if isinstance(attempt, str) else None
            if found is None or found.purpose != "qualification":
                raise CalibrateError(f"no qualification round {attempt!r}")
            try:
                rubric = _rubric(engine, actor, found.rubric)
            except StoreError:
                raise CalibrateError(f"no qualification round {attempt!r}") from None
        else:
            require(actor, "calibration.take")
            found, rubric, _ = _own_attempt(conn, engine, actor, attempt, "qualification")
        if found.finished_at is None:
            raise CalibrateError(f"round {attempt} is not finished: score its anchors first")
        anchors = anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])
        return _round_result(found, rubric, anchors, attempt_scores(conn, found.id))


# --- an assessor's own history -------------------------------------------------------------


@dataclass(frozen=True)
class AccuracyLine:
    """Agreement with the experts over one group of an assessor's anchor scores, with 95%
    intervals clustered by anchor (:func:`calibrate.stats.accuracy.anchor_accuracy`)."""

    group: str
    anchors: int
    ratings: int
    exact: float
    exact_interval: tuple[float, float]
    adjacent: float
    deviation: float
    deviation_interval: tuple[float, float]

    @property
    def words(self) -> str:
        """The line in plain words."""
        low, high = self.exact_interval
        side = "above" if self.deviation > 0 else "below"
        lean = (
            "on average level with them"
            if abs(self.deviation) < 0.05
            else f"on average {abs(self.deviation):.2f} levels {side} them"
        )
        return (
            f"{self.group}: your score equalled the experts' on {self.exact:.0%} of "
            f"{self.ratings} criterion scores over {self.anchors} anchors (95% interval "
            f"{low:.0%} to {high:.0%}), and you scored {lean}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "words": self.words}


@dataclass(frozen=True)
class History:
    """An assessor's accuracy against the experts on one rubric version: overall, by kind of
    work, by month and by criterion, and their rounds."""

    rubric: str
    overall: AccuracyLine | None
    by_kind: tuple[AccuracyLine, ...]
    by_month: tuple[AccuracyLine, ...]
    by_criterion: tuple[AccuracyLine, ...]
    rounds: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rubric": self.rubric,
            "overall": None if self.overall is None else self.overall.to_dict(),
            "by_kind": [x.to_dict() for x in self.by_kind],
            "by_month": [x.to_dict() for x in self.by_month],
            "by_criterion": [x.to_dict() for x in self.by_criterion],
            "rounds": list(self.rounds),
        }


KIND_WORDS = {
    "practice": "practice anchors",
    "qualification": "qualification rounds",
    "validity": "checks hidden in your live work",
}


def _lines(rows: list[dict[str, Any]], labels: list[str]) -> list[AccuracyLine]:
    """One line per distinct label, in order of first appearance."""
    from calibrate.stats.accuracy import anchor_accuracy

    names = list(dict.fromkeys(labels))
    group = np.array([names.index(x) for x in labels], dtype=np.int64)
    unit = np.unique([r["anchor"] for r in rows], return_inverse=True)[1]
    score = np.array([r["score"] for r in rows], dtype=float)
    expert = np.array([r["expert"] for r in rows], dtype=float)
    deviation = anchor_accuracy(unit, group, score, expert, n_groups=len(names))
    # The exact share is the mean of a 0/1 "hit" against 0: the same mean with the same
    # anchor-clustered interval.
    hit = (score == expert).astype(float)
    exact = anchor_accuracy(unit, group, hit, np.zeros_like(hit), n_groups=len(names),
                            levels=[0.0, 1.0])  # fmt: skip
    d_ci, e_ci = deviation.confidence_interval(), exact.confidence_interval()
    return [
        AccuracyLine(
            name,
            int(deviation.n_anchors[g]),
            int(deviation.n[g]),
            float(exact.mean_deviation[g]),
            (float(np.clip(e_ci.low[g], 0.0, 1.0)), float(np.clip(e_ci.high[g], 0.0, 1.0))),
            float(deviation.adjacent[g]),
            float(deviation.mean_deviation[g]),
            (float(d_ci.low[g]), float(d_ci.high[g])),
        )
        for g, name in enumerate(names)
    ]


def my_history(
    *, engine: Engine, actor: Actor, rubric: str | None = None, at: datetime | None = None
) -> list[History]:
    """The acting assessor's accuracy against the experts per rubric version: practice,
    qualification rounds and the validity anchors hidden in their live work.

    Validity anchors count only from calendar months that are over, so that the history does
    not tell an assessor which item of the current month was a check. Intervals are 95%,
    clustered by anchor (NaN bounds with fewer than two anchors).
    """
    from calibrate.store.calibration import anchor_readings, attempts_of
    from calibrate.store.engine import reading

    require(actor, "calibration.take")
    key = _assessor_key(actor)
    now = _now(at)
    month = now.strftime("%Y-%m")
    versions = {r.key: r for r in _rubrics_of(engine, actor)}
    allowed = set(versions)
    with reading(engine) as conn:
        rows = [
            r
            for r in anchor_readings(conn, key)
            if r["rubric"] in allowed
            and not (
                r["context"] == "validity"
                and (r["rated_at"] is None or _aware(r["rated_at"]).strftime("%Y-%m") >= month)
            )
        ]
        who = _existing_assessor(conn, key)
        rounds = [] if who is None else attempts_of(conn, who, purpose="qualification")
    chosen = sorted({r["rubric"] for r in rows} | {a.rubric for a in rounds})
    if rubric is not None:
        chosen = [k for k in chosen if k == _rubric(engine, actor, rubric).key]
    out = []
    for key_ in chosen:
        mine = [r for r in rows if r["rubric"] == key_]
        summary = tuple(
            {
                "attempt": a.key,
                "started_at": None if a.started_at is None else a.started_at.isoformat(),
                "finished_at": None if a.finished_at is None else a.finished_at.isoformat(),
                "passed": a.passed,
            }
            for a in rounds
            if a.rubric == key_
        )
        if not mine:
            out.append(History(key_, None, (), (), (), summary))
            continue
        out.append(
            History(
                key_,
                _lines(mine, ["all anchors"] * len(mine))[0],
                tuple(_lines(mine, [KIND_WORDS.get(r["context"], r["context"]) for r in mine])),
                tuple(
                    _lines(
                        mine,
                        [
                            "no date" if r["rated_at"] is None else f"{_aware(r['rated_at']):%Y-%m}"
                            for r in mine
                        ],
                    )
                ),
                tuple(_lines(mine, [_title(versions[key_], r["criterion"]) for r in mine])),
                summary,
            )
        )
    return out


def _title(rubric: Rubric, criterion: str) -> str:
    return next((c.title for c in rubric.criteria if c.id == criterion), criterion)


def _rubrics_of(engine: Engine, actor: Actor) -> list[Rubric]:
    from calibrate.store.definitions import stored_rubrics

    return stored_rubrics(engine=engine, issuers=actor.issuers)


__all__ = [
    "AccuracyLine",
    "AnchorFeedback",
    "AnchorItem",
    "CriterionFeedback",
    "Eligibility",
    "History",
    "Qualification",
    "RoundResult",
    "RoundView",
    "my_history",
    "practice_feedback",
    "practice_next",
    "practice_score",
    "practice_view",
    "qualification",
    "qualifications",
    "round_result",
    "round_score",
    "round_start",
    "round_view",
]
