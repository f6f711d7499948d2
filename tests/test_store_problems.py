"""An import reports every problem of a file at once, on both backends: those of its form (read
with ``collect=True``) and those against the rubric version and the store, by line; and it drops
unknown columns only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from calibrate import store
from calibrate.errors import ValidationError
from calibrate.ratings import MAX_PROBLEMS
from tests.test_store import write


def test_every_problem_is_reported_at_once(loaded: Engine, tmp_path: Path) -> None:
    text = (
        "submission,assessor,criterion,score,timestamp\n"
        "S1,A1,plan,3,2026-01-05T10:00:00Z\n"
        "S1,A2,plan,5,\n"  # a score that is not a level (rubric)
        "S2,A1,plann,2,\n"  # a misspelt criterion (rubric)
        "S3,A1,plan,two,\n"  # not a number (form)
        "S4,A1,plan,2,2026-13-01\n"  # a bad date (form)
        "S1,A1,plan,3,\n"  # a duplicate of line 2 (form)
    )
    with pytest.raises(ValidationError) as info:
        store.import_ratings_file(write(tmp_path, text), engine=loaded, rubric="demo")
    found = [(p.line, p.field, p.message) for p in info.value.problems]
    assert [(line, field) for line, field, _ in found] == [
        (3, "score"),
        (4, "criterion"),
        (5, "score"),
        (6, "timestamp"),
        (7, "criterion"),
    ]
    for (_, _, message), words in zip(
        found,
        [
            "score 5 is not a level of demo@1",
            "unknown criterion 'plann' for demo@1",
            "score 'two' is not a number",
            "unparseable timestamp '2026-13-01'",
            "duplicate rating: same submission, assessor and criterion as line 2",
        ],
        strict=True,
    ):
        assert words in message
    assert store.counts(engine=loaded)["rating"] == 0


def test_problems_left_out_are_counted_last(loaded: Engine, tmp_path: Path) -> None:
    """Beyond MAX_PROBLEMS the reader keeps the earliest lines and counts the rest: the count
    stays last, after the store's own problems."""
    bad = "".join(f"S{i},A1,plan,two\n" for i in range(MAX_PROBLEMS + 5))
    text = "submission,assessor,criterion,score\nS0,A1,plann,2\n" + bad
    with pytest.raises(ValidationError) as info:
        store.import_ratings_file(write(tmp_path, text), engine=loaded, rubric="demo")
    problems = info.value.problems
    assert (problems[0].line, problems[0].field) == (2, "criterion")
    assert problems[-1].line is None and "more problem(s)" in problems[-1].message
    assert [p.line for p in problems[:-1]] == sorted(p.line or 0 for p in problems[:-1])


def test_unknown_columns_are_dropped_only_when_asked(loaded: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, "submission,assessor,criterion,score,notes\nS1,A1,plan,2,late\n")
    with pytest.raises(ValidationError, match="unknown column 'notes'"):
        store.import_ratings_file(path, engine=loaded, rubric="demo")
    assert store.counts(engine=loaded)["rating"] == 0
    report = store.import_ratings_file(path, engine=loaded, rubric="demo", ignore_unknown=True)
    assert report.n_written == 1
