"""The store's engine: database URL, connection and Alembic migrations, transactions, row counts.

Writers take turns: every write (an import, a correction, a migration) runs in :func:`writing`,
which holds the store's one writer lock for its transaction (``pg_advisory_xact_lock`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two imports of the same file at the same moment
store it once and imports sharing new keys never collide. Readers never wait for a writer: they read
one consistent snapshot (:func:`reading`: ``REPEATABLE READ`` on PostgreSQL, a read transaction in
write-ahead-log mode on SQLite). What the database refuses becomes a :class:`StoreError`, never a
traceback.

Within one process (the dashboard's server, a benchmark's threads), writers of an engine queue
first in arrival order (:class:`_Turns`) and take a connection from the pool only when their
turn comes: a hundred assessors submitting at once hold one connection, not a hundred, and wait
in order rather than in the database's lock queue.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, func
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DataError, IntegrityError, OperationalError

from calibrate.errors import StoreError
from calibrate.settings import get_settings
from calibrate.store import models as m

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_TIMEOUT = 60.0
"""Seconds a SQLite writer waits for another to finish before giving up (``?timeout=N`` in the
URL sets another)."""
SQLITE_CACHE_KIB = 65_536  # page cache per connection: an import's index pages stay in memory
WRITER_LOCK = 0x63616C69  # the PostgreSQL advisory lock key of the store's writer ("cali")
_WRITE = "calibrate_write"  # execution option: this connection's transaction writes


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` and ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_store_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: the ``CALIBRATE_DATABASE_URL`` setting).

    SQLite files get their folder created, foreign keys enforced, write-ahead logging (readers
    and the writer do not block each other), a 64 MiB page cache (:data:`SQLITE_CACHE_KIB`: the
    rating table's indexes of a large import are written in memory, not re-read from disk) and a
    writer that waits :data:`SQLITE_TIMEOUT` seconds for another; transactions begin as
    :func:`writing` and :func:`reading` say.
    """
    url = normalise_url(url or get_settings().database_url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        file = bool(parsed.database) and parsed.database != ":memory:"
        if file:
            Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        timeout = {} if "timeout" in parsed.query else {"timeout": SQLITE_TIMEOUT}
        engine = create_engine(url, connect_args=timeout)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # the driver leaves BEGIN to _begin
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            if file:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    return create_engine(url)


class _Turns:
    """A lock whose waiters get it in arrival order (``threading.Lock`` promises no order, and
    unordered waiting gives the last writers of a busy minute the longest waits)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._busy = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float | None) -> bool:
        with self._guard:
            if not self._busy:
                self._busy = True
                return True
            mine = threading.Event()
            self._waiting.append(mine)
        if mine.wait(timeout):
            return True  # handed over by release()
        with self._guard:
            if mine.is_set():
                return True  # handed over as the wait ended
            self._waiting.remove(mine)
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()  # the turn passes on; still busy
            else:
                self._busy = False


_TURNS: weakref.WeakKeyDictionary[Engine, _Turns] = weakref.WeakKeyDictionary()
_TURNS_GUARD = threading.Lock()


def _turns(engine: Engine) -> _Turns:
    with _TURNS_GUARD:
        found = _TURNS.get(engine)
        if found is None:
            found = _TURNS[engine] = _Turns()
        return found


def _busy(started: float) -> StoreError:
    return StoreError(
        f"the store is busy: another import or correction held it for "
        f"{time.monotonic() - started:.0f} s; try again when it has finished"
    )


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One write transaction, committed at the end (rolled back on any exception), holding the
    store's writer lock: writers wait for each other, readers wait for nobody.

    Raises
    ------
    StoreError
        SQLite: another writer held the store longer than the timeout. Any backend: the database
        refused a value (the last line of defence behind the store's own checks).
    """
    started = time.monotonic()
    sqlite = engine.dialect.name == "sqlite"
    turns = _turns(engine)
    timeout = engine.url.query.get("timeout", SQLITE_TIMEOUT)
    waited = float(str(timeout)) if sqlite else None  # PostgreSQL writers wait their turn
    if not turns.acquire(waited):
        raise _busy(started)
    try:
        with refusals(started), engine.connect() as conn:
            conn.execution_options(**{_WRITE: True})
            with conn.begin():
                if not sqlite:
                    conn.execute(sa.select(func.pg_advisory_xact_lock(WRITER_LOCK)))
                yield conn
    finally:
        turns.release()


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction on one consistent snapshot of the store (every query sees the
    same committed state), which never waits for a writer."""
    with refusals(time.monotonic()), engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


@contextmanager
def refusals(started: float) -> Iterator[None]:
    """Turn what the database refuses into a one-line :class:`StoreError`."""
    try:
        yield
    except OperationalError as exc:
        text = str(exc.orig)
        if "locked" not in text and "busy" not in text:
            raise
        raise _busy(started) from None
    except (DataError, IntegrityError) as exc:
        raise StoreError(f"the database refused the data{_where(exc.orig)}") from None
    except OverflowError:  # sqlite3 refuses integers beyond 64 bits before the database sees them
        raise StoreError("the database refused the data: a number beyond 64 bits") from None


def _where(orig: Any) -> str:
    """``" (table t, column c): message"`` from a driver error, with what the driver names."""
    diag = getattr(orig, "diag", None)
    names = []
    if diag is not None:
        names = [
            f"{what} {value}"
            for what, value in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
            )
            if value
        ]
        context = (diag.context or "").splitlines()
        if not names and context:
            names = [context[0]]  # COPY names the table, line and column
        message = diag.message_primary or str(orig)
    else:
        message = str(orig)
    where = f" ({', '.join(names)})" if names else ""
    return f"{where}: {message.splitlines()[0] if message else 'no reason given'}"


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (empty database -> head on first use).

    A store already at head is left alone without taking the writer lock, so opening a store
    never waits for an import.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        if revision == "head":
            heads = set(ScriptDirectory.from_config(config).get_heads())
            with engine.connect() as conn:
                if set(MigrationContext.configure(conn).get_current_heads()) == heads:
                    return
        with writing(engine) as connection:
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
    m.Issuer,
    m.Account,
    m.AuditEvent,
)


def counts(*, engine: Engine, issuers: list[str] | None = None) -> dict[str, int]:
    """Row counts per table (for status displays and tests); with ``issuers``, the counts of
    what those issuers own (rubric versions, anchor sets, submissions, assessors who rated them,
    ratings, accounts, audit events)."""
    if issuers is None:
        tables = [model.__table__ for model in _TABLES]  # type: ignore[union-attr]
        with reading(engine) as conn:
            return {
                t.name: conn.execute(sa.select(func.count()).select_from(t)).scalar_one()
                for t in tables
            }
    t = {model.__tablename__: model.__table__ for model in _TABLES}  # type: ignore[union-attr]
    rv, owner = t["rubric_version"], t["issuer"]
    owned = (
        sa.select(rv.c.id).join(owner, owner.c.id == rv.c.issuer_id).where(owner.c.key.in_(issuers))
    )
    crit = t["criterion"]
    rated = t["rating"].c.criterion_id.in_(
        sa.select(crit.c.id).where(crit.c.rubric_version_id.in_(owned))
    )
    queries = {
        "rubric_version": sa.select(func.count()).where(rv.c.id.in_(owned)),
        "anchor_set": sa.select(func.count()).where(t["anchor_set"].c.rubric_version_id.in_(owned)),
        "submission": sa.select(func.count()).where(t["submission"].c.rubric_version_id.in_(owned)),
        "assessor": sa.select(func.count(sa.distinct(t["rating"].c.assessor_id))).where(rated),
        "rating": sa.select(func.count()).where(rated),
        "account": sa.select(func.count())
        .select_from(t["account"].join(owner, owner.c.id == t["account"].c.issuer_id))
        .where(owner.c.key.in_(issuers)),
        "audit_event": sa.select(func.count()).where(t["audit_event"].c.issuer.in_(issuers)),
    }
    with reading(engine) as conn:
        return {name: int(conn.execute(q).scalar_one()) for name, q in queries.items()}
