"""Hostile and out-of-range inputs: a clear ValidationError naming file, line and field, never a
traceback, and the same refusal whatever database the rows were going to.

Rules under test: keys (submission, assessor, criterion, earner, round, rubric) are at most 100
characters (the store's ``max_length=100`` key columns) of printable text (no C0/C1 control
character, no DEL: PostgreSQL refuses NUL, other bytes corrupt one-line messages); attempts are
whole numbers 1..2_147_483_647 and scores whole numbers within +-2_147_483_647 (32-bit integer
columns); YAML files are bounded in size, nesting and aliases.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import store
from calibrate.errors import ValidationError
from calibrate.ratings import MAX_INT, MAX_KEY_LENGTH, parse_ratings
from calibrate.rubric import load_rubric
from calibrate.yamlfile import MAX_YAML_BYTES, MAX_YAML_DEPTH, read_yaml
from tests.conftest import DEMO_RUBRIC

LONG = "submission,assessor,criterion,score,timestamp,attempt,rubric,context,earner,round"
GOOD_ROW = {
    "submission": "S1",
    "assessor": "A1",
    "criterion": "plan",
    "score": "2",
    "timestamp": "2026-03-01T10:00:00Z",
    "attempt": "1",
    "rubric": "demo@1",
    "context": "live",
    "earner": "E1",
    "round": "",
}


def row(**cells: str) -> str:
    """The header and one row: GOOD_ROW with ``cells`` changed (CSV-quoted)."""
    values = {**GOOD_ROW, **cells}
    quoted = ['"' + values[c].replace('"', '""') + '"' for c in LONG.split(",")]
    return f"{LONG}\n{','.join(quoted)}\n"


def problems(text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(ValidationError) as info:
        parse_ratings(text.encode(), source="r.csv")
    assert all(p.source == "r.csv" for p in info.value.problems)
    return [(p.line, p.field, p.message) for p in info.value.problems]


KEY_COLUMNS = ("submission", "assessor", "criterion", "earner")  # round: see below


@pytest.mark.parametrize("column", KEY_COLUMNS)
def test_keys_of_101_characters_are_refused_100_accepted(column: str) -> None:
    """Keys are at most 100 characters (the store's key columns: ``max_length=100``)."""
    at_limit = "é" * MAX_KEY_LENGTH  # characters, not bytes (200 bytes of UTF-8)
    rows = parse_ratings(row(**{column: at_limit}).encode(), source="r.csv")
    kept = rows.column(column) if column == "earner" else getattr(rows, column)
    assert kept.tolist() == [at_limit]
    assert problems(row(**{column: "k" * 101})) == [
        (2, column, f"{column} is 101 characters long (keys are at most 100)")
    ]


@pytest.mark.parametrize("column", [*KEY_COLUMNS, "round", "rubric"])
@pytest.mark.parametrize("char", ["\x00", "\x07", "\t", "\x1b", "\x7f", "\x85", "\x9f"], ids=repr)
def test_control_characters_in_keys_are_refused(column: str, char: str) -> None:
    """Keys are printable text: no C0 (NUL, BEL, TAB, ESC), DEL or C1 (NEL) character."""
    cells = {column: f"k{char}1"}
    if column == "round":
        cells["context"] = "practice"
    if column == "rubric":
        cells[column] = f"demo{char}@1"
    assert problems(row(**cells)) == [
        (
            2,
            column,
            f"{column} contains the control character U+{ord(char):04X} (keys are printable text)",
        )
    ]


def test_quoted_newline_inside_a_key_is_refused() -> None:
    """A newline is a C0 control character: refused inside a key (it is stripped at its ends)."""
    text = 'submission,assessor,criterion,score\n"S\n2",A1,plan,2\n'
    assert problems(text) == [
        (
            2,
            "submission",
            "submission contains the control character U+000A (keys are printable text)",
        )
    ]


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("demo@2147483647", True),
        ("demo@2147483648", False),
        ("demo@100000000000000000000", False),
        ("demo@0", False),
        ("demo@-1", False),
        ("d" * 101 + "@1", False),
        ("d" * 100 + "@1", True),
    ],
)
def test_rubric_column_is_id_at_version_within_bounds(version: str, ok: bool) -> None:
    """``rubric`` is ``id@version``: id at most 100 characters, version 1..2_147_483_647."""
    text = row(rubric=version)
    if ok:
        assert parse_ratings(text.encode(), source="r.csv").column("rubric").tolist() == [version]
    else:
        [(line, field, message)] = problems(text)
        assert (line, field) == (2, "rubric") and message.startswith("rubric")


@pytest.mark.parametrize(
    "attempt", ["3e9", "2147483648", "inf", "-inf", "1e30", "nan", "1.5", "0", "-1", "two", "0x2"]
)
def test_attempt_is_a_whole_number_from_1_to_int32_max(attempt: str) -> None:
    """Attempts are whole numbers 1..2_147_483_647 (a 32-bit integer column)."""
    assert problems(row(attempt=attempt)) == [
        (2, "attempt", f"attempt {attempt!r} is not a whole number >= 1 (at most 2_147_483_647)")
    ]


@pytest.mark.parametrize("attempt", ["1", "2147483647", "2.0"])
def test_attempts_within_the_bounds_are_accepted(attempt: str) -> None:
    assert parse_ratings(row(attempt=attempt).encode(), source="r.csv").column(
        "attempt"
    ).tolist() == [attempt]


@pytest.mark.parametrize(
    ("score", "words"),
    [
        ("1e30", "is out of range (scores are within +-2_147_483_647)"),
        ("3e9", "is out of range (scores are within +-2_147_483_647)"),
        ("-2147483648", "is out of range (scores are within +-2_147_483_647)"),
        ("inf", "is not a finite number"),
        ("-inf", "is not a finite number"),
        ("nan", "is not a number"),
        ("1.5", "is not a whole number (scores are rubric levels)"),
    ],
)
def test_scores_are_finite_whole_numbers_within_int32(score: str, words: str) -> None:
    """Scores are whole numbers that fit the store's 32-bit score column."""
    assert problems(row(score=score)) == [(2, "score", f"score {score!r} {words}")]
    assert MAX_INT == 2_147_483_647


@pytest.mark.parametrize("context", ["LIVE", "Practice", " validity ", "QUALIFICATION", ""])
def test_context_is_case_insensitive(context: str) -> None:
    """``context`` is one of live, practice, qualification, validity in any case ('' = live)."""
    rows = parse_ratings(row(context=context).encode(), source="r.csv")
    assert rows.column("context").tolist() == [context.strip().lower() or "live"]


def test_unknown_context_is_named() -> None:
    assert problems(row(context="scoring")) == [
        (2, "context", "unknown context 'scoring' (one of practice, qualification, live, validity)")
    ]


HOSTILE_FILES = [
    row(submission="s" * 101),
    row(assessor="a\x00b"),
    row(earner="e\x7f"),
    row(attempt="3e9"),
    row(score="1e30"),
    row(criterion="pl\x85an"),
    row(rubric="demo@100000000000000000000"),
]


@pytest.mark.parametrize("text", HOSTILE_FILES, ids=range(len(HOSTILE_FILES)))
def test_both_backends_refuse_before_the_database_with_equal_errors(
    loaded: Engine, tmp_path: Path, text: str
) -> None:
    """One validation before the database: SQLite and PostgreSQL give the parser's own problems
    (so equal ones), and write nothing."""
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode())
    with pytest.raises(ValidationError) as stored:
        store.import_ratings_file(path, engine=loaded, rubric="demo")
    with pytest.raises(ValidationError) as parsed:
        parse_ratings(text.encode(), source=str(path))
    assert [str(p) for p in stored.value.problems] == [str(p) for p in parsed.value.problems]
    with loaded.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rating")).scalar_one() == 0


def test_both_backends_store_keys_at_the_limits(loaded: Engine, tmp_path: Path) -> None:
    """100-character keys (non-ASCII: characters, not bytes) and attempt 2_147_483_647 fit."""
    key = "é" * MAX_KEY_LENGTH
    text = row(submission=key, assessor=key, earner=key, attempt=str(MAX_INT), rubric="demo")
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    assert store.import_ratings_file(path, engine=loaded).n_written == 1
    ratings = store.load_ratings(engine=loaded)
    assert ratings.units == (key,) and ratings.raters == (key,)


# --- YAML (rubrics and anchor sets) -------------------------------------------------------------


def refused_cheaply(path: Path, seconds: float = 1.0, megabytes: float = 20) -> ValidationError:
    """The ValidationError of ``load_rubric(path)``, failing unless it comes fast and with little
    memory (timed on its own: tracemalloc slows Python code about tenfold)."""
    start = time.perf_counter()
    with pytest.raises(ValidationError):
        load_rubric(path)
    elapsed = time.perf_counter() - start
    assert elapsed < seconds, f"took {elapsed:.2f} s"
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError) as info:
            load_rubric(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.0f} MB"
    return info.value


def billion_laughs() -> str:
    """The classic alias bomb: 9 levels of 9 aliases, 9**9 strings once expanded, in 702 bytes."""
    lines = ['lol0: &lol0 "lol"']
    for i in range(1, 10):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def yaml_problems(tmp_path: Path, text: str | bytes) -> list[tuple[int | None, str]]:
    path = tmp_path / "hostile.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    error = refused_cheaply(path)
    assert all(p.source == str(path) for p in error.problems)
    return [(p.line, p.message) for p in error.problems]


def test_alias_bomb_is_refused_at_the_first_alias(tmp_path: Path) -> None:
    """Aliases are refused (the shipped rubrics and anchor sets use none): a "billion laughs"
    file cannot expand (before: 2.7 GB and 19 s, then MemoryError)."""
    assert len(billion_laughs()) < 1_000
    assert yaml_problems(tmp_path, billion_laughs()) == [
        (2, "invalid YAML: aliases (*lol0) are not allowed; write the value out")
    ]


def test_shipped_definitions_use_no_aliases() -> None:
    """The rule above costs nothing: no shipped file uses an alias."""
    from tests.conftest import ROOT

    files = sorted((ROOT / "rubrics").glob("*.yaml")) + sorted(
        (ROOT / "anchor_sets").glob("*/*.yaml")
    )
    assert files
    for path in files:
        read_yaml(path)  # would raise on an alias


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 20_000 + "]" * 20_000 + "\n",  # flow sequences
        "a: " + "{b: " * 20_000 + "1" + "}" * 20_000 + "\n",  # flow mappings
        "".join(" " * i + f"k{i}:\n" for i in range(1_000)) + " " * 1_000 + "v: 1\n",  # block
        "- " * 20_000 + "1\n",  # compact block sequences
    ],
    ids=["flow-sequences", "flow-mappings", "block-mappings", "block-sequences"],
)
def test_deep_nesting_is_refused(tmp_path: Path, text: str) -> None:
    """At most 64 levels of nesting (before: RecursionError at 20,000 levels)."""
    [(line, message)] = yaml_problems(tmp_path, text)
    assert message == f"invalid YAML: nested more than {MAX_YAML_DEPTH} levels deep"
    assert line is not None


def test_nesting_at_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1) + "\n")
    data, _ = read_yaml(path)
    assert isinstance(data, dict)


def test_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    """At most 2 MB (the shipped files are 5-25 kB)."""
    text = "# padding\n" * (MAX_YAML_BYTES // 10) + "id: demo\n"
    assert yaml_problems(tmp_path, text) == [
        (None, "file is larger than 2,000,000 bytes (the YAML limit)")
    ]


def test_huge_integer_is_refused_not_a_traceback(tmp_path: Path) -> None:
    """An integer of 5,000 digits is a problem (Python refuses to convert it: ValueError), and a
    base-60 integer cannot grow a huge number from a short text."""
    text = DEMO_RUBRIC.replace("version: 1\n", "version: " + "9" * 5_000 + "\n")
    assert yaml_problems(tmp_path, text) == [
        (2, "invalid YAML: integer of 5000 characters is too long (at most 32)")
    ]
    text = DEMO_RUBRIC.replace("version: 1\n", "version: 1" + ":59" * 20_000 + "\n")
    assert yaml_problems(tmp_path, text) == [
        (2, "invalid YAML: integer of 60001 characters is too long (at most 32)")
    ]


def test_non_ascii_digit_key_is_not_a_traceback(tmp_path: Path) -> None:
    """A key like '²' (str.isdigit but not int()) no longer crashes the line index."""
    text = DEMO_RUBRIC.replace("title: Demo credential\n", "title: Demo credential\n²: x\n")
    found = yaml_problems(tmp_path, text)
    assert any(message == "unknown field" for _, message in found), found


def test_not_a_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is a folder, not a YAML file"):
        read_yaml(tmp_path)


def test_a_ratings_file_must_be_a_regular_file_of_bounded_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calibrate import ratings as ratings_module
    from calibrate.ratings import read_ratings_csv

    with pytest.raises(ValidationError, match="not a regular file"):
        read_ratings_csv(Path("/dev/zero"))  # would never end
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match="not a regular file"):
        read_ratings_csv(fifo)  # would block
    big = tmp_path / "big.csv"
    big.write_text("submission,assessor,criterion,score\n" + "s,a,c,1\n" * 200)
    monkeypatch.setattr(ratings_module, "MAX_FILE_BYTES", 1024)
    with pytest.raises(ValidationError, match="at most 1,024 bytes: split it"):
        read_ratings_csv(big)
