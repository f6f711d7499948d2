"""Values that reach the store other than through a parsed file, refused the same way on both
backends with one clear message (SQLite once stored what PostgreSQL refused with a traceback, and
some numbers crashed both): who imports or corrects, rating ids, rubric versions, rows built by
callers of ``import_ratings``, and whatever the database itself still refuses."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import store
from calibrate.errors import CalibrateError, StoreError, ValidationError
from calibrate.ratings import RatingRows
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.store import engine as store_engine
from tests.test_store import GOOD, write

BAD_NAMES = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("x" * 101, "is 101 characters long"),  # the width of the recorded_by / imported_by columns
    (
        "lead\x00one",
        "contains the control character U+0000",
    ),  # NUL: PostgreSQL refuses it, SQLite stored it
    ("lead\tone", "contains the control character U+0009"),
    ("lead\x85one", "contains the control character U+0085"),
]


def first_rating(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT min(id) FROM rating")).scalar_one())


@pytest.mark.parametrize(("name", "words"), BAD_NAMES)
def test_who_imports_must_be_a_name(
    loaded: Engine, demo_rubric: Rubric, tmp_path: Path, name: str, words: str
) -> None:
    before = store.counts(engine=loaded)
    with pytest.raises(StoreError, match=re.escape(f"imported_by {words}")):
        store.import_ratings_file(
            write(tmp_path, GOOD), engine=loaded, rubric="demo", imported_by=name
        )
    other = rubric_from_data({**demo_rubric.to_dict(), "id": "other"}, source="other")
    with pytest.raises(StoreError, match=re.escape(f"imported_by {words}")):
        store.import_definitions([other], engine=loaded, imported_by=name)
    assert store.counts(engine=loaded) == before


@pytest.mark.parametrize(("name", "words"), BAD_NAMES)
def test_who_corrects_must_be_a_name(loaded: Engine, tmp_path: Path, name: str, words: str) -> None:
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    before = store.counts(engine=loaded)
    with pytest.raises(StoreError, match=re.escape(f"recorded_by {words}")):
        store.correct_rating(
            first_rating(loaded), 2, engine=loaded, recorded_by=name, reason="typo"
        )
    assert store.counts(engine=loaded) == before


def test_names_of_100_characters_are_stored(loaded: Engine, tmp_path: Path) -> None:
    name = "é" * 100  # characters, not bytes
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo", imported_by=name)
    new = store.correct_rating(
        first_rating(loaded), 2, engine=loaded, recorded_by=name, reason="typo"
    )
    history = store.rating_history(new, engine=loaded)
    assert [h["recorded_by"] for h in history] == [name, name]


@pytest.mark.parametrize("rating_id", [0, -1, 2**31, 2**63, 10**30, -(2**63) - 1])
def test_rating_ids_no_rating_can_have(loaded: Engine, rating_id: int) -> None:
    with pytest.raises(StoreError, match=f"no rating with id {rating_id}"):
        store.correct_rating(rating_id, 2, engine=loaded, recorded_by="lead", reason="typo")
    with pytest.raises(StoreError, match=f"no rating with id {rating_id}"):
        store.rating_history(rating_id, engine=loaded)


def test_largest_rating_id_is_looked_up(loaded: Engine) -> None:
    largest = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL
    with pytest.raises(StoreError, match=f"no rating with id {largest}$"):
        store.rating_history(largest, engine=loaded)


@pytest.mark.parametrize("reason", ["bad\x00reason", "bad\x1breason"])
def test_reasons_hold_no_control_characters(loaded: Engine, tmp_path: Path, reason: str) -> None:
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    with pytest.raises(StoreError, match="the reason contains the control character"):
        store.correct_rating(first_rating(loaded), 2, engine=loaded, recorded_by="l", reason=reason)
    ok = store.correct_rating(
        first_rating(loaded), 2, engine=loaded, recorded_by="l", reason="two lines\n\tindented"
    )
    assert store.rating_history(ok, engine=loaded)[-1]["reason"] == "two lines\n\tindented"


def test_rubric_versions_beyond_the_column(loaded: Engine, tmp_path: Path) -> None:
    """demo@10^20 is a clear refusal wherever the store reads ``id@version``."""
    key = f"demo@{10**20}"
    words = "the version after '@' must be a whole number from 1 to 2_147_483_647"
    with pytest.raises(CalibrateError, match=words):
        store.load_ratings(engine=loaded, rubric=key)
    with pytest.raises(CalibrateError, match=words):
        store.stored_rubric(key, engine=loaded)
    with pytest.raises(CalibrateError, match=words):
        store.stored_anchor_sets(engine=loaded, rubric=key)
    with pytest.raises(ValidationError, match=words):
        store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric=key)
    assert store.counts(engine=loaded)["rating"] == 0


def rows_of(**columns: list[str]) -> RatingRows:
    """Rows as a caller of ``import_ratings`` may build them, unchecked: one rating per entry."""
    n = len(next(iter(columns.values())))
    base = {"submission": ["S1"] * n, "assessor": ["A1"] * n, "criterion": ["plan"] * n}
    base.update({k: v for k, v in columns.items() if k in base})
    score = np.array([float(s) for s in columns.get("score", ["2"] * n)])
    return RatingRows(
        source="api",
        line=np.arange(2, n + 2),
        submission=np.array(base["submission"], dtype=object),
        assessor=np.array(base["assessor"], dtype=object),
        criterion=np.array(base["criterion"], dtype=object),
        score=score,
        columns={
            k: np.array(v, dtype=object) for k, v in columns.items() if k not in (*base, "score")
        },
    )


@pytest.mark.parametrize(
    ("columns", "field", "words"),
    [
        ({"assessor": ["a" * 101]}, "assessor", "assessor is 101 characters long"),
        ({"submission": ["S\x001"]}, "submission", "control character U+0000"),
        ({"earner": ["E\x07"], "attempt": ["1"]}, "earner", "control character U+0007"),
        ({"attempt": ["3e9"]}, "attempt", "attempt '3e9' is not a whole number >= 1"),
        ({"attempt": ["inf"]}, "attempt", "attempt 'inf' is not a whole number >= 1"),
        ({"attempt": ["1e30"]}, "attempt", "attempt '1e30' is not a whole number >= 1"),
        ({"score": ["1e30"]}, "score", "score 1e+30 is not a whole number"),
        ({"score": ["nan"]}, "score", "score nan is not a whole number"),
    ],
)
def test_rows_not_from_a_file_are_checked(
    loaded: Engine, columns: dict[str, list[str]], field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as info:
        store.import_ratings(rows_of(**columns), engine=loaded, rubric="demo")
    assert any(p.line == 2 and p.field == field and words in p.message for p in info.value.problems)
    assert store.counts(engine=loaded)["rating"] == 0


@pytest.mark.parametrize("sha256", ["x" * 64, "a" * 65, "A" * 64])
def test_file_digests_are_sha256(loaded: Engine, sha256: str) -> None:
    with pytest.raises(StoreError, match="sha256 must be 64 hexadecimal digits"):
        store.import_ratings(rows_of(score=["2"]), engine=loaded, rubric="demo", sha256=sha256)
    assert store.counts(engine=loaded)["rating"] == 0


def test_what_the_database_refuses_is_one_line(loaded: Engine) -> None:
    """The last line of defence: a refusal by the database becomes a StoreError naming the
    table (and, where the database says, the column or constraint), never a traceback."""
    with store_engine.writing(loaded) as conn:
        conn.execute(sa.text("INSERT INTO assessor (key, created_at) VALUES ('A1', '2026-01-01')"))
    with (
        pytest.raises(StoreError, match=r"the database refused the data.*assessor") as info,
        store_engine.writing(loaded) as conn,
    ):
        conn.execute(sa.text("INSERT INTO assessor (key, created_at) VALUES ('A1', '2026-01-01')"))
    assert "\n" not in str(info.value)
    assert store.counts(engine=loaded)["assessor"] == 1
