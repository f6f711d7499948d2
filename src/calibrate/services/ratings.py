"""Ratings in the store: imports from scoring platforms' files, corrections and their history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from calibrate.access import Actor, require
from calibrate.errors import StoreError
from calibrate.store import ImportReport, correct_rating, import_ratings_file, rating_history
from calibrate.store.bulk import Progress


def import_ratings(
    path: Path,
    *,
    engine: Engine,
    actor: Actor,
    rubric: str | None = None,
    wide: bool = False,
    criterion: str | None = None,
    progress: Progress | None = None,
    ignore_unknown: bool = False,
) -> ImportReport:
    """Check a ratings CSV against its rubric versions and store it, all or nothing
    (:func:`calibrate.store.import_ratings_file`; ``ignore_unknown`` drops columns the format
    does not know instead of refusing the file). An administrator's file may name their
    issuer's rubric versions only (others are unknown to it)."""
    require(actor, "ratings.import")
    return import_ratings_file(
        path,
        engine=engine,
        rubric=rubric,
        wide=wide,
        criterion=criterion,
        imported_by=actor.name,
        progress=progress,
        ignore_unknown=ignore_unknown,
        issuer=None if actor.is_operator else actor.issuer,
    )


def _in_scope(rating_id: int, *, engine: Engine, actor: Actor) -> None:
    """Refuse a rating outside ``actor``'s issuers as if it did not exist."""
    from calibrate.store.corrections import issuer_of_rating

    if actor.is_operator:
        return
    owner = issuer_of_rating(rating_id, engine=engine)
    if owner is None or not actor.sees_issuer(owner):
        raise StoreError(f"no rating with id {rating_id}")


def correct(rating_id: int, score: int, *, engine: Engine, actor: Actor, reason: str) -> int:
    """Record a corrected score as a new revision (lead assessor, administrator, operator, of
    the rating's issuer); returns its id (:func:`calibrate.store.correct_rating`)."""
    require(actor, "ratings.correct")
    _in_scope(rating_id, engine=engine, actor=actor)
    return correct_rating(rating_id, score, engine=engine, recorded_by=actor.name, reason=reason)


def history(rating_id: int, *, engine: Engine, actor: Actor) -> list[dict[str, Any]]:
    """Every revision of a rating, oldest first (lead assessor, administrator, operator, of the
    rating's issuer)."""
    require(actor, "ratings.read")
    _in_scope(rating_id, engine=engine, actor=actor)
    return rating_history(rating_id, engine=engine)


def my_ratings(*, engine: Engine, actor: Actor) -> list[dict[str, Any]]:
    """An assessor's (or lead's) own current ratings, oldest first, as they may see them.

    Each submission or anchor is a handle (``S-`` and ten hex digits, keyed by the store's
    secret), so a validity anchor seeded into live work looks like any live submission, and its
    context reads ``live``; no expert score, rationale or rating id is included.

    Raises
    ------
    AccessDenied
        An account without its own ratings (administrator, board reviewer, operator).
    """
    from calibrate.access import pseudonym
    from calibrate.store.accounts import pseudonym_secret
    from calibrate.store.ratings import assessor_ratings

    require(actor, "own_ratings.read")
    if not actor.assessor:
        return []
    secret = pseudonym_secret(engine=engine)
    rows = assessor_ratings(engine=engine, assessor=actor.assessor, issuers=actor.issuers)
    return [
        {
            "rubric": r["rubric"],
            "submission": pseudonym(secret, "submission", f"{actor.assessor}:{r['target']}"),
            "criterion": r["criterion"],
            "score": r["score"],
            "context": "live" if r["context"] == "validity" else r["context"],
            "rated_at": r["rated_at"],
            "revision": r["revision"],
        }
        for r in rows
    ]
