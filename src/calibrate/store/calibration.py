"""Practice and qualification attempts in the store: the anchors an attempt drew, the scores
given so far, and the end of an attempt with its judgement. Connection-level, for the services
to compose in one transaction (see :mod:`calibrate.store.scoring`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from calibrate.errors import StoreError
from calibrate.store import models as m
from calibrate.store.scoring import ASSESSOR, CRITERION, RATING, RUBRIC_VERSION

ATTEMPT = m.CalibrationAttempt.__table__  # type: ignore[attr-defined]
ATTEMPT_ANCHOR = m.AttemptAnchor.__table__  # type: ignore[attr-defined]
SUSPENSION = m.Suspension.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Attempt:
    """A practice or qualification attempt as stored."""

    id: int
    key: str
    assessor: str
    assessor_id: int
    version_id: int
    rubric: str
    purpose: str
    started_at: datetime | None
    finished_at: datetime | None
    passed: bool | None
    result: dict[str, Any] | None
    note: str | None


def _attempts(conn: Connection, *conditions: Any) -> list[Attempt]:
    rows = conn.execute(
        sa.select(
            ATTEMPT,
            ASSESSOR.c.key.label("assessor_key"),
            RUBRIC_VERSION.c.rubric_key,
            RUBRIC_VERSION.c.version,
        )
        .join(ASSESSOR, ASSESSOR.c.id == ATTEMPT.c.assessor_id)
        .join(RUBRIC_VERSION, RUBRIC_VERSION.c.id == ATTEMPT.c.rubric_version_id)
        .where(*conditions)
        .order_by(ATTEMPT.c.started_at, ATTEMPT.c.id)
    ).mappings()
    return [
        Attempt(
            id=int(r["id"]),
            key=str(r["key"]),
            assessor=str(r["assessor_key"]),
            assessor_id=int(r["assessor_id"]),
            version_id=int(r["rubric_version_id"]),
            rubric=f"{r['rubric_key']}@{r['version']}",
            purpose=str(r["purpose"]),
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            passed=r["passed"],
            result=None if r["result"] is None else json.loads(r["result"]),
            note=r["note"],
        )
        for r in rows
    ]


def attempt_by_key(conn: Connection, key: str) -> Attempt | None:
    found = _attempts(conn, ATTEMPT.c.key == key)
    return found[0] if found else None


def attempts_of(
    conn: Connection, assessor: int, version: int | None = None, purpose: str | None = None
) -> list[Attempt]:
    """An assessor's attempts (of one rubric version, of one purpose), oldest first."""
    conditions = [ATTEMPT.c.assessor_id == assessor]
    if version is not None:
        conditions.append(ATTEMPT.c.rubric_version_id == version)
    if purpose is not None:
        conditions.append(ATTEMPT.c.purpose == purpose)
    return _attempts(conn, *conditions)


def attempts_in(conn: Connection, versions: list[int], purpose: str) -> list[Attempt]:
    """Every attempt of ``purpose`` on the rubric versions ``versions``, oldest first."""
    return _attempts(conn, ATTEMPT.c.rubric_version_id.in_(versions), ATTEMPT.c.purpose == purpose)


def create_attempt(
    conn: Connection,
    *,
    key: str,
    assessor: int,
    version: int,
    purpose: str,
    at: datetime,
    anchors: list[int],
    note: str | None = None,
) -> int:
    """A new attempt holding ``anchors`` in that order (positions 1, 2, ...)."""
    attempt = int(
        conn.execute(
            ATTEMPT.insert().returning(ATTEMPT.c.id),
            {
                "key": key,
                "assessor_id": assessor,
                "rubric_version_id": version,
                "purpose": purpose,
                "started_at": at,
                "note": note,
            },
        ).scalar_one()
    )
    conn.execute(
        ATTEMPT_ANCHOR.insert(),
        [
            {"attempt_id": attempt, "anchor_id": a, "position": i}
            for i, a in enumerate(anchors, start=1)
        ],
    )
    return attempt


def attempt_anchors(conn: Connection, attempts: list[int]) -> dict[int, list[int]]:
    """Attempt id -> its anchor ids in position order."""
    out: dict[int, list[int]] = {a: [] for a in attempts}
    for attempt, anchor in conn.execute(
        sa.select(ATTEMPT_ANCHOR.c.attempt_id, ATTEMPT_ANCHOR.c.anchor_id)
        .where(ATTEMPT_ANCHOR.c.attempt_id.in_(attempts))
        .order_by(ATTEMPT_ANCHOR.c.attempt_id, ATTEMPT_ANCHOR.c.position)
    ):
        out[int(attempt)].append(int(anchor))
    return out


def attempt_scores(conn: Connection, attempt: int) -> dict[int, dict[str, int]]:
    """Anchor id -> criterion key -> score of the current ratings given in an attempt."""
    later = RATING.alias("later")
    out: dict[int, dict[str, int]] = {}
    for anchor, criterion, score in conn.execute(
        sa.select(RATING.c.anchor_id, CRITERION.c.key, RATING.c.score)
        .join(CRITERION, CRITERION.c.id == RATING.c.criterion_id)
        .where(
            RATING.c.calibration_attempt_id == attempt,
            ~sa.exists().where(later.c.supersedes_id == RATING.c.id),
        )
    ):
        out.setdefault(int(anchor), {})[str(criterion)] = int(score)
    return out


def finish_attempt(
    conn: Connection,
    attempt: int,
    *,
    at: datetime,
    passed: bool | None = None,
    result: Mapping[str, Any] | None = None,
) -> None:
    """Close an open attempt once, with its judgement (a qualification round)."""
    done = conn.execute(
        ATTEMPT.update()
        .where(ATTEMPT.c.id == attempt, ATTEMPT.c.finished_at.is_(None))
        .values(
            finished_at=at,
            passed=passed,
            result=None if result is None else json.dumps(result, sort_keys=True),
        )
    )
    if done.rowcount != 1:
        raise StoreError(f"attempt {attempt} was already finished")


def active_suspension(conn: Connection, assessor: int, version: int) -> tuple[datetime, str] | None:
    """When and why an assessor is suspended from live scoring on a rubric version (None: not
    suspended); the earliest suspension not lifted."""
    row = conn.execute(
        sa.select(SUSPENSION.c.started_at, SUSPENSION.c.reason)
        .where(
            SUSPENSION.c.assessor_id == assessor,
            SUSPENSION.c.rubric_version_id == version,
            SUSPENSION.c.lifted_at.is_(None),
        )
        .order_by(SUSPENSION.c.started_at, SUSPENSION.c.id)
        .limit(1)
    ).first()
    return None if row is None else (row[0], str(row[1]))


def anchor_readings(conn: Connection, assessor: str) -> list[dict[str, Any]]:
    """An assessor's current ratings of anchors beside the experts' scores: rubric
    (``id@version``), anchor id, criterion key, score, expert score, context, time; oldest
    first."""
    later = RATING.alias("later")
    score = m.AnchorScore.__table__  # type: ignore[attr-defined]
    rows = conn.execute(
        sa.select(
            RUBRIC_VERSION.c.rubric_key,
            RUBRIC_VERSION.c.version,
            RATING.c.anchor_id,
            CRITERION.c.key,
            RATING.c.score,
            score.c.score.label("expert"),
            RATING.c.context,
            RATING.c.rated_at,
        )
        .select_from(
            RATING.join(ASSESSOR, ASSESSOR.c.id == RATING.c.assessor_id)
            .join(CRITERION, CRITERION.c.id == RATING.c.criterion_id)
            .join(RUBRIC_VERSION, RUBRIC_VERSION.c.id == CRITERION.c.rubric_version_id)
            .join(
                score,
                sa.and_(
                    score.c.anchor_id == RATING.c.anchor_id,
                    score.c.criterion_id == RATING.c.criterion_id,
                ),
            )
        )
        .where(
            ASSESSOR.c.key == assessor,
            RATING.c.anchor_id.is_not(None),
            ~sa.exists().where(later.c.supersedes_id == RATING.c.id),
        )
        .order_by(RATING.c.rated_at, RATING.c.id)
    ).all()
    return [
        {
            "rubric": f"{key}@{version}",
            "anchor": int(anchor),
            "criterion": str(criterion),
            "score": int(s),
            "expert": int(e),
            "context": str(context),
            "rated_at": rated_at,
        }
        for key, version, anchor, criterion, s, e, context, rated_at in rows
    ]
