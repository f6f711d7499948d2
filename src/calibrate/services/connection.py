"""The store a door works on: opened (and migrated) by URL, closed when the job is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from calibrate.store import counts, open_store


@contextmanager
def connected(database: str | None = None) -> Iterator[Engine]:
    """The migrated store at ``database`` (default: the ``CALIBRATE_DATABASE_URL`` setting) for
    one job, its connections closed afterwards.

    Raises
    ------
    StoreError
        Not a database URL, an unsupported database, or a database that cannot be opened.
    """
    engine = open_store(database)
    try:
        yield engine
    finally:
        engine.dispose()


def store_status(*, engine: Engine) -> dict[str, int]:
    """Row counts of every table of the store (``calibrate status``, the Overview page)."""
    return counts(engine=engine)


__all__ = ["connected", "open_store", "store_status"]
