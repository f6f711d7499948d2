"""What monitoring reads besides ratings: the final decisions of submissions and the
qualification rounds of a rubric version, as long arrays (the store hands the core arrays)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy import Engine

from calibrate.store.calibration import ATTEMPT, attempt_scores
from calibrate.store.engine import reading
from calibrate.store.queue import RESULT, SUBMISSION
from calibrate.store.scoring import ASSESSOR, anchors_by_id

ObjectArray = NDArray[np.object_]


@dataclass(frozen=True)
class Decisions:
    """Current final decisions of submissions: ``submission`` keys and ``passed``, shape (m,)."""

    submission: ObjectArray
    passed: NDArray[np.bool_]


@dataclass(frozen=True)
class Rounds:
    """Qualification rounds of one rubric version.

    Per anchor rating, shape (n,): ``assessor`` key, ``round`` (the assessor's 1st, 2nd, ...
    round on the version, by start), ``anchor`` id, ``criterion``, ``score`` and ``expert``.
    Per judged round, shape (r,): ``judged_assessor``, ``judged_round``, ``passed``.
    """

    assessor: ObjectArray
    round: NDArray[np.int64]
    anchor: ObjectArray
    criterion: ObjectArray
    score: NDArray[np.float64]
    expert: NDArray[np.float64]
    judged_assessor: ObjectArray
    judged_round: NDArray[np.int64]
    passed: NDArray[np.bool_]


def final_decisions(*, engine: Engine, version: int) -> Decisions:
    """The current result (the revision no other supersedes) of every submission of the rubric
    version (row id ``version``) that has one."""
    later = RESULT.alias("later")
    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(SUBMISSION.c.key, RESULT.c.passed)
            .join(RESULT, RESULT.c.submission_id == SUBMISSION.c.id)
            .where(
                SUBMISSION.c.rubric_version_id == version,
                ~sa.exists().where(later.c.supersedes_id == RESULT.c.id),
            )
            .order_by(SUBMISSION.c.key)
        ).all()
    return Decisions(
        np.array([str(r[0]) for r in rows], dtype=object),
        np.array([bool(r[1]) for r in rows], dtype=bool),
    )


def qualification_rounds(*, engine: Engine, version: int) -> Rounds:
    """Every qualification round on the rubric version (row id ``version``) with its scores of
    anchors against the experts' scores; rounds numbered per assessor by start time."""
    scored: list[tuple[str, int, str, str, float, float]] = []
    judged: list[tuple[str, int, bool]] = []
    with reading(engine) as conn:
        rounds = conn.execute(
            sa.select(ATTEMPT.c.id, ASSESSOR.c.key, ATTEMPT.c.passed, ATTEMPT.c.finished_at)
            .join(ASSESSOR, ASSESSOR.c.id == ATTEMPT.c.assessor_id)
            .where(ATTEMPT.c.rubric_version_id == version, ATTEMPT.c.purpose == "qualification")
            .order_by(ASSESSOR.c.key, ATTEMPT.c.started_at, ATTEMPT.c.id)
        ).all()
        number: dict[str, int] = {}
        for attempt, assessor, passed, finished in rounds:
            k = number[assessor] = number.get(assessor, 0) + 1
            given = attempt_scores(conn, int(attempt))
            experts = {a.id: a.expert for a in anchors_by_id(conn, list(given))}
            for anchor, scores in given.items():
                for criterion, score in scores.items():
                    expert = experts[anchor].get(criterion)
                    if expert is not None:
                        scored.append((assessor, k, str(anchor), criterion, score, expert))
            if finished is not None and passed is not None:
                judged.append((assessor, k, bool(passed)))
    return Rounds(
        assessor=np.array([s[0] for s in scored], dtype=object),
        round=np.array([s[1] for s in scored], dtype=np.int64),
        anchor=np.array([s[2] for s in scored], dtype=object),
        criterion=np.array([s[3] for s in scored], dtype=object),
        score=np.array([s[4] for s in scored], dtype=np.float64),
        expert=np.array([s[5] for s in scored], dtype=np.float64),
        judged_assessor=np.array([j[0] for j in judged], dtype=object),
        judged_round=np.array([j[1] for j in judged], dtype=np.int64),
        passed=np.array([j[2] for j in judged], dtype=bool),
    )
