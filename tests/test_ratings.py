"""Ratings CSV files: encodings, quoting, and one test per kind of bad row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibrate.errors import CalibrateError, ValidationError
from calibrate.ratings import Keep, parse_ratings, read_ratings_csv

HEADER = "submission,assessor,criterion,score"


def problems(text: str | bytes, **kw: object) -> list[tuple[int | None, str | None, str]]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(ValidationError) as info:
        parse_ratings(data, source="r.csv", **kw)  # type: ignore[arg-type]
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_long_format_codes_labels() -> None:
    rows = parse_ratings(
        f"{HEADER}\nS2,A1,plan,3\nS1,A2,plan,2\nS1,A1,reflect,1\n".encode(), source="r.csv"
    )
    r = rows.encode()
    assert r.units == ("S1", "S2") and r.raters == ("A1", "A2")
    assert r.criteria == ("plan", "reflect")
    assert r.unit.tolist() == [1, 0, 0] and r.rater.tolist() == [0, 1, 0]
    assert r.value.tolist() == [3.0, 2.0, 1.0]
    assert rows.line.tolist() == [2, 3, 4]
    plan = r.subset(r.criterion == 0)
    assert plan.value.tolist() == [3.0, 2.0] and plan.units == ("S1", "S2")
    reflect = r.subset(r.criterion == 1)
    assert reflect.units == ("S1",) and reflect.raters == ("A1",) and reflect.unit.tolist() == [0]


def test_bom_crlf_and_quoted_fields() -> None:
    text = (
        "\ufeff" + HEADER + ",context\r\n"
        '"S,1",A1,plan,3,live\r\n'
        '"S\n2",A1,plan,2,\r\n'
        "S3,A1,plan,1,validity\r\n"
    )
    rows = parse_ratings(text.encode("utf-8"), source="r.csv")
    assert rows.submission.tolist() == ["S,1", "S\n2", "S3"]
    # a quoted field spanning two lines: the next row starts on line 5
    assert rows.line.tolist() == [2, 3, 5]
    assert rows.columns["context"].tolist() == ["live", "live", "validity"]


def test_wide_format() -> None:
    r = parse_ratings(
        b"unit,r1,r2,r3\nu1,1,2,\nu2,3,,3\n", source="w.csv", wide=True, criterion="plan"
    ).encode()
    assert r.units == ("u1", "u2") and r.raters == ("r1", "r2", "r3")
    assert sorted(zip(r.unit.tolist(), r.rater.tolist(), r.value.tolist(), strict=True)) == [
        (0, 0, 1.0),
        (0, 1, 2.0),
        (1, 0, 3.0),
        (1, 2, 3.0),
    ]
    assert r.criteria == ("plan",)
    assert problems(b"unit,r1,r1\nu1,1,2\n", wide=True) == [(1, "r1", "column appears twice")]
    assert problems(b"unit,r1,r2\nu1,1,x\n", wide=True) == [(2, "r2", "score 'x' is not a number")]


@pytest.mark.parametrize(
    ("body", "line", "field", "words"),
    [
        ("S1,A1,plan,x", 2, "score", "is not a number"),
        ("S1,A1,plan,2.5", 2, "score", "not a whole number"),
        ("S1,A1,plan,", 2, "score", "empty score"),
        (",A1,plan,2", 2, "submission", "empty value"),
        ("S1,A1,plan", 2, None, "expected 4 fields, found 3"),
        ("S1,A1,plan,2\nS1,A1,plan,3", 3, "criterion", "duplicate rating"),
    ],
)
def test_bad_rows(body: str, line: int, field: str | None, words: str) -> None:
    found = problems(f"{HEADER}\n{body}\n")
    assert any(ln == line and f == field and words in msg for ln, f, msg in found), found


def test_bad_optional_columns() -> None:
    found = problems(
        f"{HEADER},timestamp,attempt,context\n"
        "S1,A1,plan,2,2026-02-30T10:00Z,1,live\n"
        "S2,A1,plan,2,2026-02-01T10:00Z,0,live\n"
        "S3,A1,plan,2,2026-02-01,2,scoring\n"
    )
    assert (
        2,
        "timestamp",
        "unparseable timestamp '2026-02-30T10:00Z' (use ISO 8601, e.g. 2026-03-01T14:05:00Z)",
    ) in found
    assert (3, "attempt", "attempt '0' is not a whole number >= 1") in found
    assert any(ln == 4 and f == "context" for ln, f, _ in found)


def test_every_bad_row_is_listed() -> None:
    body = "\n".join(f"S{i},A1,plan,{'x' if i % 2 else 2}" for i in range(10))
    found = problems(f"{HEADER}\n{body}\n")
    assert [ln for ln, _, _ in found] == [3, 5, 7, 9, 11]


def test_missing_column_and_no_header() -> None:
    assert problems(b"submission,assessor,score\nS1,A1,2\n") == [
        (
            1,
            "criterion",
            "missing column; the first line must be a header naming submission, "
            "assessor, criterion, score (found 'submission', 'assessor', 'score')",
        )
    ]
    found = problems(b"S1,A1,plan,2\nS2,A1,plan,3\n")
    assert {f for _, f, _ in found} == {"submission", "assessor", "criterion", "score"}


def test_empty_and_non_utf8_files() -> None:
    assert problems(b"") == [(None, None, "the file is empty; expected a header row")]
    assert problems(b"  \r\n") == [(None, None, "the file is empty; expected a header row")]
    found = problems(f"{HEADER}\nS1,Andr\xe9,plan,2\n".encode("latin-1"))
    assert found[0][0] == 2 and "not UTF-8" in found[0][2]


def test_timestamps_are_utc(tmp_path: Path) -> None:
    rows = parse_ratings(
        f"{HEADER},timestamp\nS1,A1,plan,2,2026-03-01T14:05:00+02:00\nS2,A1,plan,2,\n".encode(),
        source="r.csv",
    )
    assert rows.timestamp is not None
    assert rows.timestamp[0] == np.datetime64("2026-03-01T12:05:00")
    assert np.isnat(rows.timestamp[1])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="file not found"):
        read_ratings_csv(tmp_path / "nope.csv")


def test_header_only() -> None:
    assert problems(f"{HEADER}\n") == [(1, None, "no ratings: the file has a header but no rows")]


def test_select_context_and_rubric() -> None:
    r = parse_ratings(
        f"{HEADER},context,rubric\n"
        "S1,A1,plan,3,live,demo@1\nS1,A2,plan,2,,demo@1\nX1,A1,plan,1,validity,demo@1\n"
        "S2,A1,plan,2,live,other@1\n".encode(),
        source="r.csv",
    ).encode()
    with pytest.raises(CalibrateError, match=r"mix contexts \(live, validity\): choose one"):
        r.select()
    with pytest.raises(CalibrateError, match=r"mix rubrics \(demo@1, other@1\)"):
        r.select(context="live")
    live = r.select(context="LIVE", rubric="demo@1")
    assert live.units == ("S1",) and live.raters == ("A1", "A2")
    with pytest.raises(CalibrateError, match="no ratings with context 'practice'"):
        r.select(context="practice")


RETAKES = (
    f"{HEADER},timestamp,context,rubric,round\n"
    "Q1,A1,plan,1,2026-03-02T09:00:00Z,qualification,demo@1,A1-q2\n"  # retake, later
    "Q1,A1,plan,3,2026-03-01T09:00:00Z,qualification,demo@1,A1-q1\n"  # first reading
    "Q1,A2,plan,2,2026-03-01T10:00:00Z,qualification,demo@1,A2-q1\n"
    "Q1,A1,data,2,2026-03-01T09:00:00Z,qualification,demo@1,A1-q1\n"
)


def test_repeated_cells_need_a_choice_of_reading() -> None:
    r = parse_ratings(RETAKES.encode(), source="r.csv").encode()
    with pytest.raises(CalibrateError, match=r"assessor A1 scored Q1 on plan 2 times \(1 cells"):
        r.select()
    with pytest.raises(CalibrateError, match="keep must be 'first' or 'last'"):
        r.select(keep="middle")  # type: ignore[arg-type]


@pytest.mark.parametrize(("keep", "a1_plan"), [("first", 3.0), ("last", 1.0)])
def test_keep_takes_the_first_or_latest_reading_by_time(keep: Keep, a1_plan: float) -> None:
    r = parse_ratings(RETAKES.encode(), source="r.csv").encode().select(keep=keep)
    assert len(r) == 3
    rows = {
        (r.raters[a], r.criteria[c]): v
        for a, c, v in zip(r.rater.tolist(), r.criterion.tolist(), r.value.tolist(), strict=True)
    }
    assert rows == {("A1", "plan"): a1_plan, ("A2", "plan"): 2.0, ("A1", "data"): 2.0}


def test_keep_without_times_follows_the_rows() -> None:
    text = f"{HEADER},round\nS1,A1,plan,1,r1\nS1,A1,plan,3,r2\nS1,A2,plan,2,r1\n"
    r = parse_ratings(text.encode(), source="r.csv").encode()
    assert sorted(r.select(keep="first").value.tolist()) == [1.0, 2.0]
    assert sorted(r.select(keep="last").value.tolist()) == [2.0, 3.0]
    single = r.subset(np.array([True, False, True]))
    assert single.select(keep="last") is single  # nothing repeated: unchanged


def test_bare_rubric_id_means_its_only_version() -> None:
    text = f"{HEADER},rubric\nS1,A1,plan,1,demo@1\nS1,A2,plan,2,other@1\nS2,A1,plan,2,other@2\n"
    r = parse_ratings(text.encode(), source="r.csv").encode()
    assert r.select(rubric="demo").units == ("S1",)
    with pytest.raises(CalibrateError, match=r"2 versions of rubric 'other' \(other@1, other@2\)"):
        r.select(rubric="other")
    with pytest.raises(CalibrateError, match="no ratings with rubric 'nope'"):
        r.select(rubric="nope")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 3),  # submission
            st.integers(0, 2),  # assessor
            st.integers(0, 1),  # criterion
            st.integers(1, 4),  # score
            st.integers(0, 5),  # day of the rating
        ),
        min_size=1,
        max_size=40,
    ),
    keep=st.sampled_from(["first", "last"]),
)
def test_keep_leaves_one_rating_per_cell_the_first_or_latest(
    rows: list[tuple[int, int, int, int, int]], keep: Keep
) -> None:
    # Reference: per (submission, assessor, criterion), the row with the earliest (latest) day,
    # ties broken by row order; each row is its own round, so the file is valid.
    lines = [f"{HEADER},timestamp,round"] + [
        f"S{s},A{a},C{c},{v},2026-03-{1 + d:02d}T09:00:00Z,r{i}"
        for i, (s, a, c, v, d) in enumerate(rows)
    ]
    ratings = parse_ratings("\n".join(lines).encode(), source="r.csv").encode()
    chosen = ratings.select(keep=keep)
    expected: dict[tuple[str, str, str], tuple[int, int, float]] = {}
    for i, (s, a, c, v, d) in enumerate(rows):
        key = (f"S{s}", f"A{a}", f"C{c}")
        rank = (d, i)
        best = expected.get(key)
        if best is None or (rank < best[:2] if keep == "first" else rank >= best[:2]):
            expected[key] = (d, i, float(v))
    got = {
        (chosen.units[u], chosen.raters[r], chosen.criteria[c]): v
        for u, r, c, v in zip(
            chosen.unit.tolist(),
            chosen.rater.tolist(),
            chosen.criterion.tolist(),
            chosen.value.tolist(),
            strict=True,
        )
    }
    assert len(got) == len(chosen)  # one rating per cell
    assert got == {key: value for key, (_, _, value) in expected.items()}
