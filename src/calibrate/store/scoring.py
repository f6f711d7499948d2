"""What the calibration workflow reads and writes inside one transaction: the rubric version and
its issuer, assessors, anchor pools with their answer keys, and the scores of one reading
(ratings sealed in the audit log).

Functions here take an open :class:`~sqlalchemy.engine.Connection` so that a service can
compose them in one :func:`~calibrate.store.engine.writing` transaction: a reading, the decision
it leads to and its audit event commit together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from calibrate.errors import StoreError
from calibrate.rubric import Rubric
from calibrate.store import models as m
from calibrate.store.audit import append_event, seal_ratings

RATING = m.Rating.__table__  # type: ignore[attr-defined]
ASSESSOR = m.Assessor.__table__  # type: ignore[attr-defined]
CRITERION = m.Criterion.__table__  # type: ignore[attr-defined]
RUBRIC_VERSION = m.RubricVersion.__table__  # type: ignore[attr-defined]
ISSUER = m.Issuer.__table__  # type: ignore[attr-defined]
ANCHOR = m.Anchor.__table__  # type: ignore[attr-defined]
ANCHOR_SET = m.AnchorSet.__table__  # type: ignore[attr-defined]
ANCHOR_SCORE = m.AnchorScore.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoredVersion:
    """A rubric version's row id, its issuer key and its criteria's row ids by key."""

    id: int
    issuer: str | None
    criteria: dict[str, int]


def stored_version(conn: Connection, rubric: Rubric) -> StoredVersion:
    """The stored row of ``rubric`` (``rubric.key``).

    Raises
    ------
    StoreError
        Not in the store.
    """
    row = conn.execute(
        sa.select(RUBRIC_VERSION.c.id, ISSUER.c.key)
        .select_from(RUBRIC_VERSION.outerjoin(ISSUER, ISSUER.c.id == RUBRIC_VERSION.c.issuer_id))
        .where(RUBRIC_VERSION.c.rubric_key == rubric.id, RUBRIC_VERSION.c.version == rubric.version)
    ).first()
    if row is None:
        raise StoreError(f"rubric {rubric.key!r} is not in the store")
    criteria: dict[Any, Any] = dict(
        conn.execute(
            sa.select(CRITERION.c.key, CRITERION.c.id).where(
                CRITERION.c.rubric_version_id == row[0]
            )
        ).all()
    )
    return StoredVersion(int(row[0]), row[1], {str(k): int(v) for k, v in criteria.items()})


def assessor_id(conn: Connection, key: str) -> int:
    """The row id of assessor ``key``, added when new."""
    found = conn.execute(sa.select(ASSESSOR.c.id).where(ASSESSOR.c.key == key)).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            ASSESSOR.insert().returning(ASSESSOR.c.id), {"key": key, "created_at": m.utcnow()}
        ).scalar_one()
    )


@dataclass(frozen=True)
class PoolAnchor:
    """An anchor with its artifact and its answer key (never sent to an assessor before they
    scored it: the services decide what leaves)."""

    id: int
    key: str
    artifact: dict[str, str]
    expert: dict[str, int]
    rationale: dict[str, str]


def anchor_pool(conn: Connection, version: int, purpose: str) -> list[PoolAnchor]:
    """The anchors of one purpose of a rubric version (row id ``version``), in stored order."""
    rows = conn.execute(
        sa.select(ANCHOR.c.id, ANCHOR.c.key, ANCHOR_SET.c.definition)
        .join(ANCHOR_SET, ANCHOR_SET.c.id == ANCHOR.c.anchor_set_id)
        .where(ANCHOR.c.rubric_version_id == version, ANCHOR.c.purpose == purpose)
        .order_by(ANCHOR.c.id)
    ).all()
    return anchors_by_id(conn, [int(r[0]) for r in rows], rows)


def anchors_by_id(
    conn: Connection, ids: list[int], rows: Sequence[Any] | None = None
) -> list[PoolAnchor]:
    """Anchors by row id, in the order of ``ids``, with artifact and answer key."""
    if rows is None:
        rows = conn.execute(
            sa.select(ANCHOR.c.id, ANCHOR.c.key, ANCHOR_SET.c.definition)
            .join(ANCHOR_SET, ANCHOR_SET.c.id == ANCHOR.c.anchor_set_id)
            .where(ANCHOR.c.id.in_(ids))
        ).all()
    keys: dict[int, str] = {}
    artifacts: dict[int, dict[str, str]] = {}
    definitions: dict[str, dict[str, Any]] = {}
    for aid, key, definition in rows:
        data = definitions.setdefault(definition, json.loads(definition))
        found = next((a for a in data["anchors"] if a["id"] == key), None)
        keys[int(aid)] = str(key)
        artifacts[int(aid)] = dict(found["artifact"]) if found else {"title": str(key)}
    expert: dict[int, dict[str, int]] = {i: {} for i in keys}
    rationale: dict[int, dict[str, str]] = {i: {} for i in keys}
    for aid, criterion, score, why in conn.execute(
        sa.select(
            ANCHOR_SCORE.c.anchor_id,
            CRITERION.c.key,
            ANCHOR_SCORE.c.score,
            ANCHOR_SCORE.c.rationale,
        )
        .join(CRITERION, CRITERION.c.id == ANCHOR_SCORE.c.criterion_id)
        .where(ANCHOR_SCORE.c.anchor_id.in_(list(keys)))
        .order_by(ANCHOR_SCORE.c.id)
    ):
        expert[int(aid)][str(criterion)] = int(score)
        rationale[int(aid)][str(criterion)] = str(why)
    return [PoolAnchor(i, keys[i], artifacts[i], expert[i], rationale[i]) for i in ids if i in keys]


def record_scores(
    conn: Connection,
    *,
    assessor: int,
    version: StoredVersion,
    scores: Mapping[str, int],
    target: tuple[str, int],
    context: str,
    at: datetime,
    recorded_by: str,
    action: str,
    subject: str,
    attempt: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> list[int]:
    """Write one reading (a score per criterion of ``version``) of a submission (``("s",
    id)``) or an anchor (``("a", id)``) as ratings, and seal them in an audit event
    ``action``. Returns the rating ids.

    Raises
    ------
    StoreError
        The assessor already has a rating of that target in that attempt (the database's
        identity rule: one reading per assessor and target).
    """
    kind, target_id = target
    rows = [
        {
            "assessor_id": assessor,
            "submission_id": target_id if kind == "s" else None,
            "anchor_id": target_id if kind == "a" else None,
            "criterion_id": version.criteria[criterion],
            "score": int(score),
            "context": context,
            "rated_at": at,
            "calibration_attempt_id": attempt,
            "revision": 1,
            "recorded_by": recorded_by,
            "recorded_at": at,
        }
        for criterion, score in scores.items()
    ]
    ids = [int(i) for i in conn.execute(RATING.insert().returning(RATING.c.id), rows).scalars()]
    append_event(
        conn,
        actor=recorded_by,
        action=action,
        issuer=version.issuer,
        subject=subject,
        detail={**(detail or {}), "ratings": [seal_ratings(conn, ids=ids)]},
    )
    return ids
