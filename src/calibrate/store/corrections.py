"""Corrections of stored ratings: a new revision that keeps the old one, and the history of a
rating."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from calibrate.errors import StoreError
from calibrate.store import models as m
from calibrate.store.audit import append_event, seal_ratings
from calibrate.store.engine import reading, writing
from calibrate.store.guards import check_name, check_rating_id, check_reason
from calibrate.store.ratings import RATING_COLUMNS


def correct_rating(
    rating_id: int, score: int, *, engine: Engine, recorded_by: str, reason: str
) -> int:
    """Record a corrected score for a rating; the old revision is kept. Returns the new id.

    Raises
    ------
    StoreError
        Unknown or already-corrected rating; a score that is not a level of its rubric, or the
        score the rating already has; an empty reason; ``recorded_by`` not a name (empty, over 100
        characters, control characters).
    """
    rating_id = check_rating_id(rating_id)
    check_name(recorded_by, "recorded_by")
    check_reason(reason)
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    level = m.Level.__table__  # type: ignore[attr-defined]
    with writing(engine) as conn:
        old = conn.execute(sa.select(rating).where(rating.c.id == rating_id)).mappings().first()
        if old is None:
            raise StoreError(f"no rating with id {rating_id}")
        newer = conn.execute(
            sa.select(rating.c.id).where(rating.c.supersedes_id == rating_id)
        ).first()
        if newer is not None:
            raise StoreError(
                f"rating {rating_id} was already corrected by rating {newer[0]}; correct that one"
            )
        levels = set(
            conn.execute(
                sa.select(level.c.score)
                .join(crit, crit.c.rubric_version_id == level.c.rubric_version_id)
                .where(crit.c.id == old["criterion_id"])
            ).scalars()
        )
        if score not in levels:
            raise StoreError(
                f"score {score} is not a level of the rubric (levels {sorted(levels)})"
            )
        if score == old["score"]:
            raise StoreError(
                f"rating {rating_id} already has score {score}: a correction changes the score"
            )
        values = {k: old[k] for k in RATING_COLUMNS}
        values.update(
            score=score,
            revision=old["revision"] + 1,
            supersedes_id=rating_id,
            reason=reason,
            recorded_by=recorded_by,
            recorded_at=datetime.now(UTC),
            import_batch_id=None,
        )
        new = int(conn.execute(rating.insert().returning(rating.c.id), values).scalar_one())
        append_event(
            conn,
            actor=recorded_by,
            action="rating.correct",
            issuer=rating_issuer(conn, rating_id),
            subject=f"rating {rating_id}",
            detail={
                "from": old["score"],
                "to": score,
                "reason": reason,
                "ratings": [seal_ratings(conn, ids=[new])],
            },
        )
        return new


def rating_issuer(conn: Connection, rating_id: int) -> str | None:
    """The issuer owning a rating (through its criterion's rubric version)."""
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    rv = m.RubricVersion.__table__  # type: ignore[attr-defined]
    owner = m.Issuer.__table__  # type: ignore[attr-defined]
    return conn.execute(
        sa.select(owner.c.key)
        .select_from(
            rating.join(crit, crit.c.id == rating.c.criterion_id)
            .join(rv, rv.c.id == crit.c.rubric_version_id)
            .join(owner, owner.c.id == rv.c.issuer_id)
        )
        .where(rating.c.id == rating_id)
    ).scalar()


def rating_history(rating_id: int, *, engine: Engine) -> list[dict[str, Any]]:
    """Every revision of a rating, oldest first (follows corrections both ways).

    Raises
    ------
    StoreError
        No rating with that id.
    """
    rating_id = check_rating_id(rating_id)
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    with reading(engine) as conn:

        def revision(condition: Any) -> dict[str, Any] | None:
            row = conn.execute(sa.select(rating).where(condition)).mappings().one_or_none()
            return None if row is None else dict(row)

        start = revision(rating.c.id == rating_id)
        if start is None:
            raise StoreError(f"no rating with id {rating_id}")
        chain = [start]  # one short query per revision: correction chains are short
        while chain[0]["supersedes_id"]:
            older = revision(rating.c.id == chain[0]["supersedes_id"])
            if older is None:  # ruled out by the foreign key
                break
            chain.insert(0, older)
        while (newer := revision(rating.c.supersedes_id == chain[-1]["id"])) is not None:
            chain.append(newer)
    return chain


def issuer_of_rating(rating_id: int, *, engine: Engine) -> str | None:
    """The issuer owning rating ``rating_id`` (None: no such rating)."""
    with reading(engine) as conn:
        return rating_issuer(conn, check_rating_id(rating_id))
