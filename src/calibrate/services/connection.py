"""The store a door works on: opened (and migrated) by URL, closed when the job is done.

The store (SQLAlchemy, SQLModel, Alembic: about a second to import) is imported when a store is
opened, not with this module, so that commands on a file start without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.access import Actor


def open_store(url: str | None = None) -> Engine:
    """The migrated store at ``url`` (default: the ``CALIBRATE_DATABASE_URL`` setting):
    :func:`calibrate.store.open_store`."""
    from calibrate.store import open_store as open_migrated

    return open_migrated(url)


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


def store_status(*, engine: Engine, actor: Actor) -> dict[str, int]:
    """Row counts of the store (``calibrate status``, the Overview page): every table for the
    operator, what their issuers own for an account (a board reviewer: the granted issuers')."""
    from calibrate.access import require
    from calibrate.store import counts

    require(actor, "rubrics.read")
    scope = actor.issuers
    return counts(engine=engine, issuers=None if scope is None else sorted(scope))


__all__ = ["connected", "open_store", "store_status"]
