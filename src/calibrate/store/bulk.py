"""Bulk I/O shared by the store's modules: the fastest path each database offers for writing
and reading many rows (COPY on PostgreSQL, executemany and one fetch on SQLite), key lookups, and
the report of an import."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Connection

Progress = Callable[[int, int, str], None]


CHUNK = 50_000


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, rows written, rows already present (skipped)."""

    kind: str
    source: str
    n_rows: int
    n_written: int
    n_unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "rows": self.n_rows,
            "written": self.n_written,
            "unchanged": self.n_unchanged,
        }


def stored_keys(conn: Connection, model: Any, *extra: str) -> dict[str, tuple[int, ...]]:
    """``key -> (id, *extra columns)`` for every row of a keyed table."""
    table = model.__table__
    cols = [table.c.key, table.c.id, *(table.c[e] for e in extra)]
    return {row[0]: tuple(row[1:]) for row in conn.execute(sa.select(*cols))}


def ensure_keys(
    conn: Connection, model: Any, labels: NDArray[np.object_], **defaults: Any
) -> NDArray[np.int64]:
    """Ids for the keys in ``labels``, inserting the keys not stored yet (with ``defaults`` as
    database-ready values)."""
    table = model.__table__
    stored = {k: v[0] for k, v in stored_keys(conn, model).items()}
    inverse, uniq = pd.factorize(labels)
    missing = [u for u in uniq.tolist() if u not in stored]
    if missing:
        insert_new(conn, table.name, ["key", *defaults], ([k, *defaults.values()] for k in missing))
        stored = {k: v[0] for k, v in stored_keys(conn, model).items()}
    return np.array([stored[u] for u in uniq.tolist()], dtype=np.int64)[inverse]


def insert_new(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert rows, skipping those whose unique key is stored already (``ON CONFLICT DO
    NOTHING``): keys are shared, so a writer never fails on a key another stored first.

    PostgreSQL: COPY into a temporary table, then one ``INSERT ... SELECT``; SQLite: one
    prepared statement with executemany.
    """
    names = ", ".join(columns)
    if conn.dialect.name != "postgresql":
        bulk_insert(conn, table, columns, rows, on_conflict="ON CONFLICT DO NOTHING")
        return
    scratch = f"new_{table}"
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {scratch} ON COMMIT DROP AS "
        f"SELECT {names} FROM {table} WITH NO DATA"
    )
    bulk_insert(conn, scratch, columns, rows)
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {scratch} ON CONFLICT DO NOTHING"
    )
    conn.exec_driver_sql(f"DROP TABLE {scratch}")


def first_index(codes: NDArray[np.intp], n: int) -> NDArray[np.intp]:
    """Index of the first occurrence of each code ``0..n-1`` (every code occurring).

    Equal to ``np.unique(codes, return_index=True)[1]``, in one O(n) scatter instead of a sort
    (about 20 times faster on 10 million rows): assigning in reverse, the first occurrence is
    written last and so kept.
    """
    first = np.empty(n, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first


def lookup(labels: NDArray[np.object_], ids: Mapping[str, int]) -> NDArray[np.int64]:
    """Map labels to ids (0 for unknown) with one dictionary lookup per distinct label."""
    codes, uniq = pd.factorize(labels)
    return np.array([ids.get(u, 0) for u in uniq.tolist()], dtype=np.int64)[codes]


def bulk_insert(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    on_conflict: str = "",
) -> None:
    """Insert rows (None = NULL) with the database's bulk path: COPY on PostgreSQL (psycopg
    escapes every value), one prepared statement with executemany on SQLite (followed by
    ``on_conflict``, SQLite only)."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    names = ", ".join(columns)
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) {on_conflict}"
            cursor.executemany(sql, rows)  # type: ignore[arg-type]  # sqlite3 takes any iterable
    finally:
        cursor.close()


def db_time(moment: datetime, postgres: bool) -> str:
    """A UTC time as the text each database's DateTime column reads."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text + "+00" if postgres else text


def nullable(ids: NDArray[np.int64]) -> list[int | None]:
    return [i if i else None for i in ids.tolist()]


def timestamps(ts: NDArray[np.datetime64] | None, n: int, postgres: bool) -> list[str | None]:
    """UTC timestamps as the text each database reads: ``YYYY-MM-DD HH:MM:SS.ffffff[+00]``."""
    if ts is None:
        return [None] * n
    text = np.datetime_as_string(ts, unit="us").astype("S26")
    text.view(np.uint8).reshape(n, 26)[:, 10] = ord(" ")  # the ISO "T" becomes a space
    out: list[Any] = text.astype("U26").tolist()
    if postgres:
        out = [t + "+00" for t in out]
    for i in np.flatnonzero(np.isnat(ts)).tolist():
        out[i] = None
    return out


def to_datetime(value: np.datetime64) -> datetime | None:
    if np.isnat(value):
        return None
    return datetime.fromisoformat(str(value.astype("datetime64[us]"))).replace(tzinfo=UTC)


def fetch_ints(conn: Connection, query: sa.Select[Any], width: int) -> NDArray[np.int64]:
    """Run a query of non-null integer columns into an array of shape (n, width), in bulk:
    ``COPY TO STDOUT`` parsed by Arrow's CSV reader on PostgreSQL, one fetch on SQLite."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            buf = io.BytesIO()
            with cursor.copy(f"COPY ({sql}) TO STDOUT") as copy:
                for block in copy:
                    buf.write(block)
            if not buf.tell():
                return np.empty((0, width), dtype=np.int64)
            names = [f"c{i}" for i in range(width)]
            table = pacsv.read_csv(
                pa.py_buffer(buf.getbuffer()),
                read_options=pacsv.ReadOptions(column_names=names),
                parse_options=pacsv.ParseOptions(delimiter="\t"),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.int64())),
            )
            return np.column_stack([c.to_numpy() for c in table.columns]).astype(
                np.int64, copy=False
            )
        else:
            cursor.execute(sql)
            flat = np.array(cursor.fetchall(), dtype=np.int64).ravel()
    finally:
        cursor.close()
    return flat.reshape(-1, width)


def micros(conn: Connection, column: Any) -> Any:
    """SQL: a timestamp column as whole microseconds since 1970 UTC (NULL stays NULL)."""
    if conn.dialect.name == "postgresql":
        return sa.cast(sa.extract("epoch", column) * 1_000_000, sa.BigInteger)
    # SQLite holds "YYYY-MM-DD HH:MM:SS.ffffff": seconds from strftime, microseconds as written
    seconds = sa.cast(sa.func.strftime("%s", column), sa.BigInteger)
    return seconds * 1_000_000 + sa.cast(sa.func.substr(column, 21, 6), sa.BigInteger)
