"""Imports at the same moment, and readers during an import, on both backends.

Writers take turns (the store's writer lock), a rating's identity is unique in the database, keys
are inserted with ``ON CONFLICT DO NOTHING``, and readers read one snapshot without waiting.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import store
from calibrate.errors import StoreError
from calibrate.rubric import Rubric
from calibrate.store import engine as store_engine
from tests.conftest import filled_at, table_rows
from tests.test_store import GOOD, write

HEADER = "submission,assessor,criterion,score,earner,attempt\n"


def ratings_file(tmp_path: Path, name: str, n_submissions: int, shift: int = 0) -> Path:
    """Two ratings (plan, reflect) per submission T0.. (earner F0..) by assessor
    B((i + shift) mod 50): files with other shifts share every submission, earner and assessor,
    and no rating."""
    body = "".join(
        f"T{i},B{(i + shift) % 50},{c},{1 + (i + k) % 3},F{i},1\n"
        for i in range(n_submissions)
        for k, c in enumerate(("plan", "reflect"))
    )
    return write(tmp_path, HEADER + body, name)


def importing(path: Path, engine: Engine) -> store.ImportReport:
    return store.import_ratings_file(path, engine=engine, rubric="demo")


def at_once(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs in threads released together; their results or exceptions."""
    start = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = jobs[i]()
        except Exception as exc:  # reported by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_same_file_imported_three_times_at_once_is_stored_once(
    loaded: Engine, tmp_path: Path
) -> None:
    path = ratings_file(tmp_path, "r.csv", 2_500)  # 5,000 ratings
    reports = at_once([lambda: store.import_ratings_file(path, engine=loaded, rubric="demo")] * 3)
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sorted(r.n_written for r in reports) == [0, 0, 5_000]
    counts = store.counts(engine=loaded)
    assert (counts["rating"], counts["submission"], counts["assessor"]) == (5_000, 2_500, 50)
    assert counts["import_batch"] == 2  # the rubric's, and the one import that wrote


def test_files_sharing_new_keys_imported_at_once_are_all_stored(
    loaded: Engine, tmp_path: Path
) -> None:
    """Three files share new submissions, earners and assessors (not ratings): all stored."""
    paths = [ratings_file(tmp_path, f"r{k}.csv", 1_000, shift=17 * k) for k in range(3)]
    reports = at_once([functools.partial(importing, path, loaded) for path in paths])
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert [r.n_written for r in reports] == [2_000] * 3
    counts = store.counts(engine=loaded)
    assert (counts["rating"], counts["submission"], counts["earner"]) == (6_000, 1_000, 1_000)
    assert counts["assessor"] == 50


def test_reader_does_not_wait_for_an_import(loaded: Engine, tmp_path: Path) -> None:
    """An import held open mid-write (20,000 ratings: large enough that PostgreSQL imports once
    dropped the rating table's foreign keys, locking out readers): a reader meanwhile reads the
    store as it was, at once."""
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    path = ratings_file(tmp_path, "big.csv", 10_000)
    writing_now, release = threading.Event(), threading.Event()

    def hold(_done: int, _total: int, stage: str) -> None:
        if stage == "writing":
            writing_now.set()
            release.wait(timeout=20)

    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(
                store.import_ratings_file(path, engine=loaded, rubric="demo", progress=hold)
            )
        except Exception as exc:  # reported by the test
            outcome.append(exc)
            writing_now.set()

    importer = threading.Thread(target=run)
    importer.start()
    try:
        assert writing_now.wait(timeout=30)
        started = time.monotonic()
        during = store.load_ratings(engine=loaded)
        counted = store.counts(engine=loaded)
        waited = time.monotonic() - started
    finally:
        release.set()
        importer.join(timeout=60)
    assert outcome and outcome[0].n_written == 20_000, outcome
    assert waited < 5, f"the reader waited {waited:.1f} s for the import"
    assert len(during) == 4 and counted["rating"] == 4  # the snapshot before the import
    assert len(store.load_ratings(engine=loaded)) == 4 + 20_000


def test_a_writer_waits_for_another(loaded: Engine, tmp_path: Path) -> None:
    """A second import while another holds the store waits for it, then runs."""
    path = write(tmp_path, GOOD)
    result: list[Any] = []
    with store_engine.writing(loaded):  # another writer holds the store
        second = threading.Thread(
            target=lambda: result.append(
                store.import_ratings_file(path, engine=loaded, rubric="demo")
            )
        )
        second.start()
        second.join(timeout=1)
        assert second.is_alive()  # waiting
    second.join(timeout=30)
    assert result and result[0].n_written == 4


def test_busy_sqlite_store_is_a_clear_error(loaded: Engine, db_url: str, tmp_path: Path) -> None:
    """SQLite: a writer waits the URL's timeout (default 60 s), then a one-line StoreError."""
    if not db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL writers wait without a timeout")
    impatient = store.create_store_engine(f"{db_url}?timeout=0.3")
    try:
        with (
            store_engine.writing(loaded),
            pytest.raises(StoreError, match="the store is busy: another"),
        ):
            store.import_ratings_file(write(tmp_path, GOOD), engine=impatient, rubric="demo")
    finally:
        impatient.dispose()
    assert store.counts(engine=loaded)["rating"] == 0


def test_rating_identity_is_unique_in_the_database(loaded: Engine, tmp_path: Path) -> None:
    """A copy of a stored rating (same assessor, submission, criterion, no round, revision 1) is
    refused by the database itself, NULL round and anchor included."""
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    copy = (
        "INSERT INTO rating (assessor_id, submission_id, anchor_id, criterion_id, "
        "calibration_attempt_id, score, context, rated_at, revision, recorded_by, recorded_at) "
        "SELECT assessor_id, submission_id, anchor_id, criterion_id, calibration_attempt_id, "
        "score, context, rated_at, revision, recorded_by, recorded_at FROM rating "
        "WHERE id = (SELECT min(id) FROM rating)"
    )
    with pytest.raises(sa.exc.IntegrityError), loaded.begin() as conn:
        conn.execute(sa.text(copy))
    # the store turns it into a one-line refusal naming what was refused
    with (
        pytest.raises(StoreError, match=r"the database refused the data.*uq_rating_identity"),
        store_engine.writing(loaded) as conn,
    ):
        conn.execute(sa.text(copy))
    assert store.counts(engine=loaded)["rating"] == 4


def fill(rubric: Rubric, folder: Path, engine: Engine) -> None:
    store.import_definitions([rubric], engine=engine)
    store.import_ratings_file(write(folder, GOOD), engine=engine, rubric="demo")


def copy_ratings(engine: Engine, score: str = "score") -> None:
    """Store every rating a second time under a second import batch, as two imports racing
    each other did before the identity was unique."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO import_batch (kind, source, sha256, n_rows, n_written, imported_by, "
                "imported_at) SELECT kind, source, sha256, n_rows, n_written, imported_by, "
                "imported_at FROM import_batch WHERE kind = 'ratings'"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO rating (assessor_id, submission_id, anchor_id, criterion_id, "
                "calibration_attempt_id, score, context, rated_at, revision, recorded_by, "
                f"recorded_at, import_batch_id) SELECT assessor_id, submission_id, anchor_id, "
                f"criterion_id, calibration_attempt_id, {score}, context, rated_at, revision, "
                "recorded_by, recorded_at, (SELECT max(id) FROM import_batch) FROM rating"
            )
        )


def test_migration_0003_removes_copies_of_a_file_stored_twice(
    db_url: str, demo_rubric: Rubric, tmp_path: Path
) -> None:
    engine = store.create_store_engine(db_url)
    try:
        filled_at(engine, "0002", functools.partial(fill, demo_rubric, tmp_path))
        copy_ratings(engine)
        assert table_rows(engine, "rating") == 8
        store.migrate(engine)
        assert store.counts(engine=engine)["rating"] == 4
        with engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT max(id) FROM rating")).scalar_one()
            written = (
                conn.execute(
                    sa.text("SELECT n_written FROM import_batch WHERE kind = 'ratings' ORDER BY id")
                )
                .scalars()
                .all()
            )
        assert kept == 4 and written == [4, 0]  # the first copies stay; the second batch wrote none
    finally:
        engine.dispose()


def test_migration_0003_stops_at_copies_it_cannot_choose_between(
    db_url: str, demo_rubric: Rubric, tmp_path: Path
) -> None:
    engine = store.create_store_engine(db_url)
    try:
        filled_at(engine, "0002", functools.partial(fill, demo_rubric, tmp_path))
        copy_ratings(engine, score="CASE WHEN score = 1 THEN 2 ELSE 1 END")
        with pytest.raises(StoreError, match=r"4 rating\(s\) are stored several times"):
            store.migrate(engine)
        assert table_rows(engine, "rating") == 8  # nothing changed
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == "0002"
    finally:
        engine.dispose()
