"""Import and load-back speed of the store against the database's own bulk path.

For 10^3..10^6 ratings in the sparse live design (submissions x 5 criteria, 2 of 800 assessors
each), on SQLite and (with --postgres URL) PostgreSQL, this times:

- ``import``: ``calibrate.store.import_ratings_file`` on an empty store: CSV parsing, validation
  against the rubric, key resolution, and the write, in one transaction;
- its peers, the database's bulk path with no validation: (a) "bare": the CSV read with
  ``csv.reader`` and its raw text rows written to a bare table (no keys, no indexes) by
  ``executemany`` on one prepared INSERT (SQLite) or the file streamed with ``COPY FROM STDIN``
  (PostgreSQL); (b) "same table": the CSV read with ``csv.reader`` and the same rows, already
  resolved to ids, written into the ``rating`` table itself (its foreign keys and indexes) by
  ``executemany`` or ``COPY`` -- what an import costs the database with no checking at all;
- ``load``: ``calibrate.store.load_ratings`` (current ratings as coded long arrays);
- its peer: the raw rows read back with one SELECT + fetchall (SQLite) or ``COPY TO STDOUT``
  (PostgreSQL) into a NumPy array;
- ``verify``: ``calibrate.store.audit.verify_store`` (the audit chain, every rating against its
  seal, revisions, references), against the same raw read-back (its ratio: what checking costs
  over reading every rating once).

Run: ``python benchmarks/bench_store.py [--sizes 1000 10000 100000 1000000] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from _timing import best

from calibrate import store
from calibrate.rubric import rubric_from_data
from calibrate.store.audit import verify_store

RUBRIC = {
    "id": "bench",
    "version": 1,
    "title": "Benchmark credential",
    "competency": "Benchmarks.",
    "levels": [{"score": s, "label": f"L{s}"} for s in range(1, 5)],
    "criteria": [
        {"id": f"c{k}", "title": f"C{k}", "descriptors": {s: f"d{s}" for s in range(1, 5)}}
        for k in range(5)
    ],
    "pass_rule": {"every_criterion_at_least": 3},
}


def make_csv(path: Path, n_ratings: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    n_sub = max(n_ratings // 10, 1)
    sub = np.repeat(np.arange(n_sub), 10)[:n_ratings]
    slot = np.tile(np.repeat([0, 1], 5), n_sub)[:n_ratings]
    crit = np.tile(np.arange(5), 2 * n_sub)[:n_ratings]
    pair = rng.choice(800, size=(n_sub, 2), replace=True)
    pair[:, 1] = (pair[:, 0] + 1 + rng.integers(0, 799, n_sub)) % 800
    assessor = pair[sub, slot]
    score = rng.integers(1, 5, n_ratings)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["submission", "assessor", "criterion", "score", "timestamp"])
        stamp = "2026-03-01T10:00:00Z"
        w.writerows(
            zip(
                (f"S{s:07d}" for s in sub.tolist()),
                (f"A{a:04d}" for a in assessor.tolist()),
                (f"c{c}" for c in crit.tolist()),
                score.tolist(),
                [stamp] * n_ratings,
                strict=True,
            )
        )


def reset(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        eng = sa.create_engine(store.normalise_url(url))
        with eng.begin() as c:
            c.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        eng.dispose()
    engine = store.open_store(url)
    store.import_definitions([rubric_from_data(RUBRIC, source="bench")], engine=engine)
    return engine


def clear(engine: sa.Engine) -> None:
    """Empty the rating table between runs, as the database owner: the store's triggers keep it
    append-only (disabled here for this transaction on PostgreSQL, dropped and re-created on
    SQLite)."""
    with engine.begin() as c:
        triggers: list[tuple[str, str]] = []
        if c.dialect.name == "postgresql":
            c.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            triggers = [
                (name, sql)
                for name, sql in c.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'rating'"
                )
            ]
            for name, _ in triggers:
                c.exec_driver_sql(f"DROP TRIGGER {name}")
        c.exec_driver_sql("DELETE FROM rating")
        c.exec_driver_sql("DELETE FROM import_batch")
        for _, sql in triggers:
            c.exec_driver_sql(sql)


def bulk_import(engine: sa.Engine, path: Path) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS raw_rating")
        conn.exec_driver_sql(
            "CREATE TABLE raw_rating (submission TEXT, assessor TEXT, criterion TEXT, "
            "score INTEGER, rated_at TEXT)"
        )
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        if conn.dialect.name == "postgresql":
            with (
                path.open("rb") as f,
                cur.copy("COPY raw_rating FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                while data := f.read(1 << 20):
                    copy.write(data)
        else:
            with path.open(newline="") as f:
                reader = csv.reader(f)
                next(reader)
                cur.executemany("INSERT INTO raw_rating VALUES (?, ?, ?, ?, ?)", reader)
        cur.close()


def bulk_same_table(engine: sa.Engine, path: Path, resolved: list[tuple[object, ...]]) -> None:
    """Read the CSV with csv.reader, then write pre-resolved rows into ``rating`` in bulk."""
    with path.open(newline="") as f:
        n = sum(1 for _ in csv.reader(f)) - 1
    assert n == len(resolved)
    cols = (
        "assessor_id, submission_id, criterion_id, score, context, rated_at, revision, "
        "recorded_by, recorded_at"
    )
    clear(engine)
    with engine.begin() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        if conn.dialect.name == "postgresql":
            with cur.copy(f"COPY rating ({cols}) FROM STDIN") as copy:
                for row in resolved:
                    copy.write_row(row)
        else:
            cur.executemany(
                f"INSERT INTO rating ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", resolved
            )
        cur.close()


def resolved_rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.exec_driver_sql(
                "SELECT assessor_id, submission_id, criterion_id, score, context, rated_at, "
                "revision, recorded_by, recorded_at FROM rating"
            )
        ]


def bulk_load(engine: sa.Engine) -> np.ndarray:
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        if conn.dialect.name == "postgresql":
            buf = io.BytesIO()
            with cur.copy(
                "COPY (SELECT submission_id, anchor_id, assessor_id, criterion_id, score "
                "FROM rating) TO STDOUT"
            ) as copy:
                for block in copy:
                    buf.write(block)
            text = buf.getvalue().replace(b"\\N", b"0")
            out = np.array(text.split(), dtype=np.int64).reshape(-1, 5)
        else:
            cur.execute(
                "SELECT submission_id, anchor_id, assessor_id, criterion_id, score FROM rating"
            )
            out = np.array(cur.fetchall(), dtype=object)
        cur.close()
        return out


def measure(name: str, url: str, path: Path, n: int, repeat: int) -> None:
    """Time ours and the peers on one backend and print one table row."""
    engine = reset(url)

    def ours() -> None:
        clear(engine)
        store.import_ratings_file(path, engine=engine, rubric="bench")

    t_import, _ = best(ours, repeat)
    t_bulk, _ = best(lambda: bulk_import(engine, path), repeat)
    resolved = resolved_rows(engine)
    t_same, _ = best(lambda: bulk_same_table(engine, path, resolved), repeat)
    ours()
    assert len(store.load_ratings(engine=engine)) == n
    t_load, _ = best(lambda: store.load_ratings(engine=engine), repeat)
    t_bulk_load, _ = best(lambda: bulk_load(engine), repeat)
    t_verify, report = best(lambda: verify_store(engine), repeat)
    assert report.ratings == n
    print(
        f"{name:<11}{n:>10,}{t_import:>10.2f}{t_bulk:>8.2f}{t_import / t_bulk:>7.2f}"
        f"{t_same:>8.2f}{t_import / t_same:>7.2f}"
        f"{t_load:>9.2f}{t_bulk_load:>9.2f}{t_load / t_bulk_load:>7.2f}"
        f"{t_verify:>10.2f}{t_verify / t_bulk_load:>7.2f}",
        flush=True,
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--postgres", help="PostgreSQL URL of a scratch database (dropped!)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    backends = [("sqlite", f"sqlite:///{tmp / 'bench.db'}")]
    if args.postgres:
        backends.append(("postgresql", args.postgres))
    print(
        f"{'backend':<11}{'ratings':>10}{'import s':>10}{'bare s':>8}{'ratio':>7}"
        f"{'same s':>8}{'ratio':>7}{'load s':>9}{'bulk s':>9}{'ratio':>7}"
        f"{'verify s':>10}{'ratio':>7}"
    )
    for n in args.sizes:
        path = tmp / f"ratings_{n}.csv"
        make_csv(path, n)
        repeat = args.repeat if n < 1_000_000 else 1
        for name, url in backends:
            measure(name, url, path, n, repeat)


if __name__ == "__main__":
    main()
