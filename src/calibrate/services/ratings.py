"""Ratings in the store: imports from scoring platforms' files, corrections and their history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from calibrate.store import ImportReport, correct_rating, import_ratings_file, rating_history
from calibrate.store.bulk import Progress


def import_ratings(
    path: Path,
    *,
    engine: Engine,
    by: str,
    rubric: str | None = None,
    wide: bool = False,
    criterion: str | None = None,
    progress: Progress | None = None,
    ignore_unknown: bool = False,
) -> ImportReport:
    """Check a ratings CSV against its rubric versions and store it, all or nothing
    (:func:`calibrate.store.import_ratings_file`; ``ignore_unknown`` drops columns the format
    does not know instead of refusing the file)."""
    return import_ratings_file(
        path,
        engine=engine,
        rubric=rubric,
        wide=wide,
        criterion=criterion,
        imported_by=by,
        progress=progress,
        ignore_unknown=ignore_unknown,
    )


def correct(rating_id: int, score: int, *, engine: Engine, by: str, reason: str) -> int:
    """Record a corrected score as a new revision; returns its id
    (:func:`calibrate.store.correct_rating`)."""
    return correct_rating(rating_id, score, engine=engine, recorded_by=by, reason=reason)


def history(rating_id: int, *, engine: Engine) -> list[dict[str, Any]]:
    """Every revision of a rating, oldest first."""
    return rating_history(rating_id, engine=engine)
