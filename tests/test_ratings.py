"""Ratings CSV files: encodings, quoting, and one test per kind of bad row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibrate.errors import CalibrateError, Problem, ValidationError
from calibrate.ratings import MAX_PROBLEMS, Keep, parse_ratings, read_ratings_csv

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
        '"S2\n",A1,plan,2,\r\n'
        "S3,A1,plan,1,validity\r\n"
    )
    rows = parse_ratings(text.encode("utf-8"), source="r.csv")
    # the quoted newline is surrounding whitespace: stripped (inside a key it is refused)
    assert rows.submission.tolist() == ["S,1", "S2", "S3"]
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
    assert (3, "attempt", "attempt '0' is not a whole number >= 1 (at most 2_147_483_647)") in found
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
    text = (
        f"{HEADER},context,round\n"
        "S1,A1,plan,1,practice,r1\nS1,A1,plan,3,practice,r2\nS1,A2,plan,2,practice,r3\n"
    )
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
    # ties broken by row order; each row is its own practice round, so the file is valid.
    lines = [f"{HEADER},timestamp,context,round"] + [
        f"S{s},A{a},C{c},{v},2026-03-{1 + d:02d}T09:00:00Z,practice,r{i}"
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


# --- wide header keys are kept exactly ------------------------------------------------------------


def test_wide_header_keys_are_assessor_keys_kept_exactly() -> None:
    """Wide format: header cells after the unit column are assessor keys, kept as written (only
    surrounding whitespace stripped): ``A0002`` stays ``A0002``, not a phantom ``a0002``."""
    rows = parse_ratings(
        b"Unit, A0002 ,a0002,B-7\nu1,1,2,3\n", source="w.csv", wide=True, criterion="plan"
    )
    assert rows.assessor.tolist() == ["A0002", "a0002", "B-7"]
    assert rows.submission.tolist() == ["u1", "u1", "u1"]


def test_wide_and_long_files_name_the_same_assessor() -> None:
    """The same assessor in a long and a wide file has the same key."""
    long = parse_ratings(f"{HEADER}\nu1,A0002,plan,2\n".encode(), source="l.csv")
    wide = parse_ratings(b"unit,A0002,B1\nu1,2,\n", source="w.csv", wide=True, criterion="plan")
    assert long.assessor.tolist() == wide.assessor.tolist() == ["A0002"]


def test_wide_header_keys_break_the_key_rules_at_line_1() -> None:
    found = problems(b"unit,A1,A\x072\nu1,1,2\n", wide=True)
    assert found == [
        (
            1,
            "column 3",
            "assessor contains the control character U+0007 (keys are printable text) (column 3)",
        )
    ]


_KEY_CHARS = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters='",\r\n')


@settings(max_examples=100, deadline=None)
@given(
    keys=st.lists(
        st.text(_KEY_CHARS, min_size=1, max_size=20).filter(lambda k: k == k.strip()),
        min_size=2,
        max_size=6,
        unique=True,
    )
)
def test_wide_header_keys_round_trip_exactly(keys: list[str]) -> None:
    """Any printable key (case, Unicode, punctuation) read from a wide header is the key."""
    header = ",".join(["unit", *keys])
    body = ",".join(["u1", *["2"] * len(keys)])
    rows = parse_ratings(f"{header}\n{body}\n".encode(), source="w.csv", wide=True)
    assert rows.assessor.tolist() == keys


# --- every problem at once (collect) -------------------------------------------------------------

MIXED = (
    f"{HEADER},timestamp\n"
    "S1,A1,plan,5,2026-03-01T10:00:00Z\n"  # 5: not a level (a rubric check: the store's)
    "S1,A1,plna,2,2026-03-01T10:00:00Z\n"  # misspelt criterion (also the store's)
    "S2,A1,plan,two,2026-03-01T10:00:00Z\n"  # not a number
    "S3,A1,plan,2,2026-02-30T10:00:00Z\n"  # no such date
    "S1,A1,plan,3,2026-03-01T10:00:00Z\n"  # duplicate of line 2
    "S4,A1\n"  # not a row
)


def test_collect_returns_every_row_with_every_form_problem() -> None:
    """Every problem of every row at once: with ``collect=True`` the reader does not raise, but
    returns all rows (bad ones with their text), the problems by line and a mask of bad rows, so
    the caller checks the rubric on the other rows and reports everything in one error."""
    rows = parse_ratings(MIXED.encode(), source="r.csv", collect=True)
    assert rows.line.tolist() == [2, 3, 4, 5, 6]  # line 7 cannot be a row: a problem only
    assert rows.bad.tolist() == [False, False, True, True, True]
    assert rows.score_text.tolist() == ["5", "2", "two", "2", "3"]
    assert [(p.line, p.field) for p in rows.problems] == [
        (4, "score"),
        (5, "timestamp"),
        (6, "criterion"),
        (7, None),
    ]
    good = rows.take(~rows.bad)
    assert good.criterion.tolist() == ["plan", "plna"] and good.score.tolist() == [5.0, 2.0]
    with pytest.raises(ValidationError) as info:  # default: raise with the same problems
        parse_ratings(MIXED.encode(), source="r.csv")
    assert info.value.problems == list(rows.problems)


def test_collect_on_a_clean_file_has_no_problems() -> None:
    rows = parse_ratings(f"{HEADER}\nS1,A1,plan,2\n".encode(), source="r.csv", collect=True)
    assert rows.problems == () and rows.bad.tolist() == [False]


def test_problems_beyond_the_bound_are_counted_earliest_lines_kept() -> None:
    """MAX_PROBLEMS bounds memory, not what is seen first: the earliest lines are kept whatever
    the kind of problem (a bad time on line 3 is not hidden by 1,500 bad scores), every bad row
    is marked, and one last problem counts the rest."""
    body = ["S0,A1,plan,x,", "S1,A1,plan,2,nope"] + [f"S{i},A1,plan,x," for i in range(2, 1502)]
    rows = parse_ratings(
        (f"{HEADER},timestamp\n" + "\n".join(body) + "\n").encode(), source="r.csv", collect=True
    )
    assert len(rows.problems) == MAX_PROBLEMS + 1
    assert (rows.problems[1].line, rows.problems[1].field) == (3, "timestamp")
    assert rows.problems[-1].message == (
        "... and 502 more problem(s) after line 1001, not listed (at most 1,000 are kept)"
    )
    assert int(rows.bad.sum()) == 1502


def test_records_that_are_not_rows_are_counted_beyond_the_bound() -> None:
    """Records of the wrong width are problems only (not rows), bounded and counted alike."""
    text = f"{HEADER}\n" + "S1,A1\n" * 1_500 + "S2,A1,plan,x\n"
    rows = parse_ratings(text.encode(), source="r.csv", collect=True)
    assert len(rows) == 1 and rows.bad.tolist() == [True]
    assert rows.problems[0] == Problem("r.csv", "expected 4 fields, found 2", 2)
    assert rows.problems[-1].message == (
        "... and 501 more problem(s) after line 1001, not listed (at most 1,000 are kept)"
    )


# --- unknown columns ------------------------------------------------------------------------------


def test_unknown_column_is_refused_with_a_suggestion() -> None:
    """A misspelt ``contxt`` is not silently dropped (its validity ratings would become live)."""
    text = f"{HEADER},contxt\nS1,A1,plan,2,validity\n"
    assert problems(text) == [
        (
            1,
            "contxt",
            "unknown column 'contxt'; did you mean 'context'? the columns are submission, "
            "assessor, criterion, score, timestamp, attempt, rubric, context, earner, round",
        )
    ]
    rows = parse_ratings(text.encode(), source="r.csv", ignore_unknown=True)
    assert rows.columns == {}


def test_unknown_column_without_a_close_match_and_a_nameless_column() -> None:
    found = problems(f"{HEADER},notes,\nS1,A1,plan,2,ok,x\n")
    assert [(ln, f) for ln, f, _ in found] == [(1, "notes"), (1, "column 6")]
    assert "did you mean" not in found[0][2]
    assert found[1][2] == "column 6 has no name"


def test_trailing_empty_column_is_not_a_problem() -> None:
    """A trailing comma on every line (spreadsheet exports) names no column and holds nothing."""
    rows = parse_ratings(f"{HEADER},\nS1,A1,plan,2,\n".encode(), source="r.csv")
    assert rows.columns == {} and rows.score.tolist() == [2.0]


def test_long_column_names_are_case_insensitive() -> None:
    rows = parse_ratings(
        b"Submission,ASSESSOR,Criterion,Score,Context\nS1,A1,plan,2,LIVE\n", source="r.csv"
    )
    assert rows.columns["context"].tolist() == ["live"] and rows.assessor.tolist() == ["A1"]


# --- one earner and attempt per submission; rounds ------------------------------------------------


def test_submission_has_one_earner_and_one_attempt() -> None:
    """A submission given two earners (or attempts) is a problem on the later row, naming the
    earlier line (before: the second was silently dropped)."""
    text = (
        f"{HEADER},earner,attempt\n"
        "S1,A1,plan,2,E1,1\n"
        "S1,A2,plan,2,E2,1.0\n"  # 1.0 is attempt 1: the same
        "S1,A3,plan,2,E1,2\n"
    )
    assert problems(text) == [
        (
            3,
            "earner",
            "submission 'S1' has earner 'E1' on line 2, not 'E2': a submission has one earner",
        ),
        (
            4,
            "attempt",
            "submission 'S1' has attempt '1' on line 2, not '2': a submission has one attempt",
        ),
    ]


def test_earner_and_attempt_given_once_hold_for_the_whole_submission() -> None:
    """Rows of a submission that leave earner or attempt empty take the one given (the store
    creates a submission from its first row)."""
    text = f"{HEADER},earner,attempt\nS1,A1,plan,2,,\nS1,A2,plan,2,E1,2\nS2,A1,plan,2,,\n"
    rows = parse_ratings(text.encode(), source="r.csv")
    assert rows.columns["earner"].tolist() == ["E1", "E1", ""]
    assert rows.columns["attempt"].tolist() == ["2", "2", ""]


def test_round_belongs_to_one_assessor_rubric_and_context() -> None:
    """A calibration round is one assessor's attempt at one rubric in one context (before: a
    second assessor's ratings were linked to the first one's round)."""
    text = (
        f"{HEADER},context,rubric,round\n"
        "Q1,A1,plan,2,qualification,demo@1,R1\n"
        "Q1,A2,plan,2,qualification,demo@1,R1\n"
        "Q2,A1,plan,2,qualification,demo@2,R1\n"
        "Q3,A1,plan,2,practice,demo@1,R1\n"
    )
    rule = "a round is one assessor's attempt at one rubric in one context"
    assert problems(text) == [
        (3, "round", f"round 'R1' has assessor 'A1' on line 2, not 'A2': {rule}"),
        (4, "round", f"round 'R1' has rubric 'demo@1' on line 2, not 'demo@2': {rule}"),
        (5, "round", f"round 'R1' has context 'qualification' on line 2, not 'practice': {rule}"),
    ]


def test_round_on_a_live_rating_is_refused() -> None:
    """Rounds are calibration attempts on anchors (practice, qualification, validity)."""
    found = problems(f"{HEADER},round\nS1,A1,plan,2,R1\n")
    assert [(ln, f) for ln, f, _ in found] == [(2, "round")]
    assert "on a live rating" in found[0][2]


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["S0", "S1", "S2", ""]),  # submission
            st.sampled_from(["A0", "A1"]),  # assessor
            st.sampled_from(["c0", "c1"]),  # criterion
            st.sampled_from(["1", "2", "x", "1.5", "", "1e30"]),  # score
            st.sampled_from(["", "live", "practice", "nope"]),  # context
            st.sampled_from(["", "R1", "R2"]),  # round
            st.sampled_from(["", "E1", "E2"]),  # earner
        ),
        min_size=1,
        max_size=25,
    )
)
def test_collected_problems_are_the_raised_ones_and_the_good_rows_are_clean(
    rows: list[tuple[str, ...]],
) -> None:
    """Invariants of ``collect``: the problems are those the default raises; a row is marked bad
    exactly when a problem names its line; and the good rows alone form a clean file."""
    header = f"{HEADER},context,round,earner"
    text = "\n".join([header, *(",".join(r) for r in rows)]) + "\n"
    got = parse_ratings(text.encode(), source="r.csv", collect=True)
    assert {p.line for p in got.problems} == set(got.line[got.bad].tolist())
    if got.problems:
        with pytest.raises(ValidationError) as info:
            parse_ratings(text.encode(), source="r.csv")
        assert info.value.problems == list(got.problems)
    good = [r for r, bad in zip(rows, got.bad.tolist(), strict=True) if not bad]
    if good:
        clean = "\n".join([header, *(",".join(r) for r in good)]) + "\n"
        assert parse_ratings(clean.encode(), source="r.csv", collect=True).problems == ()


def test_rating_times_have_one_text_form_and_sort_as_times(tmp_path: Path) -> None:
    """Times are read as UTC and kept in one text form (the store's), and --keep orders by time,
    not by text: 14:05:00.5Z comes after 14:05:00Z although '.' sorts before 'Z', and an offset
    +02:00 is two hours earlier in UTC."""
    path = tmp_path / "times.csv"
    path.write_text(
        "submission,assessor,criterion,score,context,round,timestamp\n"
        "s1,a,c,1,practice,r1,2026-03-01T14:05:00.5Z\n"
        "s1,a,c,2,practice,r2,2026-03-01T14:05:00Z\n"
        "s1,a,c,3,practice,r3,2026-03-01T15:00:00+02:00\n"
    )
    ratings = read_ratings_csv(path)
    assert list(ratings.columns["timestamp"]) == [
        "2026-03-01T14:05:00.500000Z",
        "2026-03-01T14:05:00Z",
        "2026-03-01T13:00:00Z",
    ]
    assert list(ratings.select(keep="first").value) == [3.0]  # 13:00 UTC is the earliest
    assert list(ratings.select(keep="last").value) == [1.0]  # 14:05:00.5 is the latest
