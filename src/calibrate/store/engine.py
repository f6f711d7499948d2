"""The store's engine: database URL, connection and Alembic migrations, and row counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from calibrate.errors import StoreError
from calibrate.settings import get_settings
from calibrate.store import models as m

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` and ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_store_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: the ``CALIBRATE_DATABASE_URL`` setting).

    SQLite files get their folder created and foreign keys enforced.
    """
    url = normalise_url(url or get_settings().database_url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    return create_engine(url)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (empty database -> head on first use)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise StoreError(f"cannot open the database: {exc.orig}") from None


def open_store(url: str | None = None) -> Engine:
    """Engine for ``url`` with the schema migrated to head."""
    engine = create_store_engine(url)
    migrate(engine)
    return engine


_TABLES = (
    m.RubricVersion,
    m.Criterion,
    m.Level,
    m.AnchorSet,
    m.Anchor,
    m.AnchorScore,
    m.Assessor,
    m.Earner,
    m.Submission,
    m.CalibrationAttempt,
    m.ImportBatch,
    m.Rating,
)


def counts(*, engine: Engine) -> dict[str, int]:
    """Row counts per table (for status displays and tests)."""
    tables = [model.__table__ for model in _TABLES]  # type: ignore[union-attr]
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(func.count()).select_from(t)).scalar_one()
            for t in tables
        }
