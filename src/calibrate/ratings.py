"""Ratings files: long and wide CSV in, coded long arrays out.

The long format has one rating per row::

    submission,assessor,criterion,score[,timestamp,attempt,rubric,context,earner,round]

The wide format holds one criterion: a unit column, then one column per assessor (empty cell =
not rated). Reading checks everything that can be checked without a rubric and reports every bad
row at once (file, line, column, reason); :mod:`calibrate.store` checks the rest against the
rubric version before writing anything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from calibrate.errors import CalibrateError, Problem, ValidationError

Context = Literal["practice", "qualification", "live", "validity"]
CONTEXTS: tuple[Context, ...] = ("practice", "qualification", "live", "validity")
ANCHOR_CONTEXTS: tuple[Context, ...] = ("practice", "qualification", "validity")
REQUIRED = ("submission", "assessor", "criterion", "score")
OPTIONAL = ("timestamp", "attempt", "rubric", "context", "earner", "round")
MAX_PROBLEMS = 1000

ObjectArray = NDArray[np.object_]
Progress = Callable[[int, int, str], None]
Keep = Literal["first", "last"]


@dataclass(frozen=True)
class RatingRows:
    """Rows of a ratings file, checked for form, before coding.

    Attributes
    ----------
    source : str
        File name, for messages.
    line : int array, shape (n,)
        1-based line on which each row starts.
    submission, assessor, criterion : str arrays, shape (n,)
    score : float array, shape (n,)
    columns : dict of str -> str array, shape (n,)
        The other columns present, as text (``timestamp`` normalised to UTC ISO 8601; ``context``
        filled with ``"live"`` where empty).
    timestamp : datetime64[us] array, shape (n,), or None
        Parsed UTC timestamps (NaT where the cell is empty).
    """

    source: str
    line: NDArray[np.int64]
    submission: ObjectArray
    assessor: ObjectArray
    criterion: ObjectArray
    score: NDArray[np.float64]
    columns: dict[str, ObjectArray] = field(default_factory=dict)
    timestamp: NDArray[np.datetime64] | None = None

    def __len__(self) -> int:
        return len(self.line)

    def column(self, name: str, default: str = "") -> ObjectArray:
        """An optional column, or ``default`` repeated when the file does not have it."""
        if name in self.columns:
            return self.columns[name]
        return np.full(len(self), default, dtype=object)

    def encode(self) -> Ratings:
        """Code labels as integers (sorted labels) for the statistics core."""
        unit, units = factorize(self.submission)
        rater, raters = factorize(self.assessor)
        criterion, criteria = factorize(self.criterion)
        return Ratings(
            unit=unit,
            rater=rater,
            criterion=criterion,
            value=self.score,
            units=units,
            raters=raters,
            criteria=criteria,
            columns=dict(self.columns),
        )


@dataclass(frozen=True)
class Ratings:
    """Long-format ratings coded for the statistics core.

    Attributes
    ----------
    unit, rater, criterion : int64 arrays, shape (n,)
        Codes indexing ``units``, ``raters``, ``criteria``.
    value : float64 array, shape (n,)
        The scores.
    units, raters, criteria : tuple of str
        Labels of the codes.
    columns : dict of str -> array, shape (n,)
        Other columns of the source (e.g. ``attempt``, ``timestamp``, ``context``), as text.
    """

    unit: NDArray[np.int64]
    rater: NDArray[np.int64]
    criterion: NDArray[np.int64]
    value: NDArray[np.float64]
    units: tuple[str, ...]
    raters: tuple[str, ...]
    criteria: tuple[str, ...]
    columns: dict[str, ObjectArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.value)

    def subset(self, keep: NDArray[np.bool_]) -> Ratings:
        """The rows in ``keep``; codes renumbered densely, labels of unused codes dropped."""

        def recode(codes: NDArray[np.int64], labels: tuple[str, ...]) -> tuple[Any, Any]:
            used, dense = np.unique(codes[keep], return_inverse=True)
            return dense.astype(np.int64), tuple(labels[i] for i in used.tolist())

        unit, units = recode(self.unit, self.units)
        rater, raters = recode(self.rater, self.raters)
        criterion, criteria = recode(self.criterion, self.criteria)
        return Ratings(
            unit=unit,
            rater=rater,
            criterion=criterion,
            value=self.value[keep],
            units=units,
            raters=raters,
            criteria=criteria,
            columns={k: v[keep] for k, v in self.columns.items()},
        )

    def select(
        self,
        *,
        context: str | None = None,
        rubric: str | None = None,
        keep: Keep | None = None,
    ) -> Ratings:
        """The ratings of one context and one rubric, one per cell: a statistic describes one
        procedure.

        A file without a ``context`` column holds live ratings; without a ``rubric`` column,
        one rubric. When the file mixes contexts (or rubrics) and none is chosen, the error
        lists them. ``rubric`` is ``id@version``, or a bare ``id`` when the ratings hold one
        version of it.

        An assessor may score the same submission on the same criterion more than once (a
        practice or qualification retake on the same anchor); the statistics take one rating per
        cell, so ``keep`` says which counts: ``"first"`` (the independent first reading) or
        ``"last"`` (the latest), by ``timestamp`` when there is one (rows without a time count
        as earliest) and else in the order of the rows.

        Raises
        ------
        CalibrateError
            Mixed contexts or rubrics with none chosen, no rows of the chosen one, or repeated
            cells with no ``keep``.
        """
        if keep not in (None, "first", "last"):
            raise CalibrateError(f"keep must be 'first' or 'last', not {keep!r}")
        keep_rows = np.ones(len(self), dtype=bool)
        for name, chosen in (("context", context and context.lower()), ("rubric", rubric)):
            default = "live" if name == "context" else ""
            values = self.columns.get(name, np.full(len(self), default, dtype=object))
            found = sorted({str(v) for v in values[keep_rows].tolist()})
            if chosen is not None:
                if name == "rubric" and "@" not in chosen:
                    chosen = _version_of(chosen, found)
                keep_rows &= values == chosen
                if not keep_rows.any():
                    raise CalibrateError(
                        f"no ratings with {name} {chosen!r} (found: {', '.join(found)})"
                    )
            elif len(found) > 1:
                raise CalibrateError(
                    f"the ratings mix {name}s ({', '.join(found)}): choose one with --{name}"
                )
        chosen_rows = self if keep_rows.all() else self.subset(keep_rows)
        return chosen_rows._one_per_cell(keep)

    def _one_per_cell(self, keep: Keep | None) -> Ratings:
        n_raters, n_criteria = len(self.raters), len(self.criteria)
        cell = (self.unit * n_raters + self.rater) * n_criteria + self.criterion
        stamp = self.columns.get("timestamp")
        order = (
            np.arange(len(self)) if stamp is None else np.argsort(stamp.astype(str), kind="stable")
        )
        if keep == "last":
            order = order[::-1]
        cells, first, count = np.unique(cell[order], return_index=True, return_counts=True)
        if len(cells) == len(self):
            return self
        if keep is None:
            j = int(np.argmax(count > 1))
            i = int(order[first[j]])
            raise CalibrateError(
                f"assessor {self.raters[self.rater[i]]} scored {self.units[self.unit[i]]} on "
                f"{self.criteria[self.criterion[i]]} {int(count[j])} times "
                f"({int((count > 1).sum()):,} cells are scored more than once, e.g. practice or "
                "qualification retakes): choose the reading that counts with --keep first (the "
                "independent first reading) or --keep last"
            )
        rows = np.zeros(len(self), dtype=bool)
        rows[order[first]] = True
        return self.subset(rows)


def _version_of(rubric: str, found: Sequence[str]) -> str:
    """``rubric@version`` of a bare rubric id, when the ratings hold exactly one version of it."""
    versions = [v for v in found if v.partition("@")[0] == rubric]
    if len(versions) > 1:
        raise CalibrateError(
            f"the ratings hold {len(versions)} versions of rubric {rubric!r} "
            f"({', '.join(versions)}): choose one as id@version"
        )
    return versions[0] if versions else rubric


def read_ratings_csv(
    path: str | Path,
    *,
    wide: bool = False,
    criterion: str | None = None,
    progress: Progress | None = None,
) -> Ratings:
    """Read a long (or, with ``wide=True``, wide) ratings CSV into coded arrays.

    Raises
    ------
    ValidationError
        Every bad row, with line, column and reason.
    """
    return read_rating_rows(path, wide=wide, criterion=criterion, progress=progress).encode()


def read_rating_rows(
    path: str | Path,
    *,
    wide: bool = False,
    criterion: str | None = None,
    progress: Progress | None = None,
) -> RatingRows:
    """Read and check a ratings CSV (see :func:`read_ratings_csv`) without coding it."""
    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ValidationError([Problem(source, "file not found")]) from None
    except IsADirectoryError:
        raise ValidationError([Problem(source, "is a directory, not a CSV file")]) from None
    return parse_ratings(data, source=source, wide=wide, criterion=criterion, progress=progress)


def parse_ratings(
    data: bytes,
    *,
    source: str,
    wide: bool = False,
    criterion: str | None = None,
    progress: Progress | None = None,
) -> RatingRows:
    """Parse ratings CSV bytes (UTF-8 with or without BOM, any newline convention)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(
            [Problem(source, f"not UTF-8 text (byte {exc.start}); save the file as UTF-8", line)]
        ) from None
    if not text.strip():
        raise ValidationError([Problem(source, "the file is empty; expected a header row")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ValidationError([Problem(source, f"unreadable CSV: {exc}", 1)]) from None
    header = [h.strip().lower() for h in header]
    fast = _arrow_columns(data, len(header), progress)
    if fast is not None:
        columns, lines = fast
        problems: list[Problem] = []
    else:
        columns, lines, problems = _read_columns(reader, len(header), source, text, progress)
    if wide:
        return _wide(header, columns, lines, problems, source, criterion or "score")
    return _long(header, columns, lines, problems, source)


def _arrow_columns(
    data: bytes, width: int, progress: Progress | None
) -> tuple[list[ObjectArray], NDArray[np.int64]] | None:
    """Fast path: parse with Arrow's CSV reader when every record is one physical line.

    Returns None (use the line-tracking reader instead) for anything unusual: blank lines,
    quoted newlines, rows of the wrong width.
    """
    body = data.removeprefix(b"\xef\xbb\xbf")
    n_lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
    names = [f"c{i}" for i in range(width)]
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(skip_rows=1, column_names=names),
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if table.num_rows != n_lines - 1:
        return None
    if progress is not None:
        progress(table.num_rows, table.num_rows, "reading")
    columns = [
        pc.utf8_trim_whitespace(table.column(i)).to_numpy(zero_copy_only=False)
        for i in range(width)
    ]
    return columns, np.arange(2, table.num_rows + 2, dtype=np.int64)


def _read_columns(
    reader: Any, width: int, source: str, text: str, progress: Progress | None
) -> tuple[list[ObjectArray], NDArray[np.int64], list[Problem]]:
    """Line-tracking path (quoted newlines, blank lines, ragged rows): every problem located."""
    rows, lines, problems = _read_rows(reader, width, source, text, progress)
    columns = [
        np.array([cell.strip() for cell in col], dtype=object)
        for col in (zip(*rows, strict=True) if rows else [()] * width)
    ]
    return columns, np.asarray(lines, dtype=np.int64), problems


def _read_rows(
    reader: Any, width: int, source: str, text: str, progress: Progress | None
) -> tuple[list[list[str]], list[int], list[Problem]]:
    """Rows of the right width with the line each starts on; wrong widths become problems."""
    rows: list[list[str]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    start = reader.line_num + 1
    total = text.count("\n")
    step = max(total // 100, 50_000)
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                if len(row) != width:
                    problems.append(
                        Problem(source, f"expected {width} fields, found {len(row)}", start)
                    )
                else:
                    rows.append(row)
                    lines.append(start)
            start = reader.line_num + 1
            if progress is not None and len(rows) % step == 0:
                progress(start, total, "reading")
    except csv.Error as exc:
        problems.append(Problem(source, f"unreadable CSV: {exc}", reader.line_num))
    return rows, lines, problems


def _long(
    header: list[str],
    columns: list[ObjectArray],
    line: NDArray[np.int64],
    problems: list[Problem],
    source: str,
) -> RatingRows:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        found = ", ".join(repr(h) for h in header)
        raise ValidationError(
            [
                Problem(
                    source,
                    f"missing column; the first line must be a header naming "
                    f"{', '.join(REQUIRED)} (found {found})",
                    1,
                    c,
                )
                for c in missing
            ]
        )
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise ValidationError([Problem(source, "column appears twice", 1, d) for d in dups])
    table = dict(zip(header, columns, strict=True))
    return _check(table, line, problems, source)


def _wide(
    header: list[str],
    columns: list[ObjectArray],
    lines: NDArray[np.int64],
    problems: list[Problem],
    source: str,
    criterion: str,
) -> RatingRows:
    if len(header) < 3:
        raise ValidationError(
            [Problem(source, "wide format needs a unit column and at least two rater columns", 1)]
        )
    raters = header[1:]
    empty = [i + 2 for i, r in enumerate(raters) if not r]
    if empty:
        raise ValidationError(
            [Problem(source, f"rater column {i} has no name", 1, f"column {i}") for i in empty]
        )
    dups = sorted({r for r in raters if raters.count(r) > 1})
    if dups:
        raise ValidationError([Problem(source, "column appears twice", 1, d) for d in dups])
    cells = np.stack(columns, axis=1) if len(lines) else np.empty((0, len(header)), dtype=object)
    r_idx, c_idx = np.nonzero(cells[:, 1:] != "")
    table = {
        "submission": cells[r_idx, 0],
        "assessor": np.asarray(raters, dtype=object)[c_idx],
        "criterion": np.full(len(r_idx), criterion, dtype=object),
        "score": cells[r_idx, c_idx + 1],
    }
    return _check(table, lines[r_idx], problems, source, wide_columns=raters)


def _check(
    table: dict[str, ObjectArray],
    line: NDArray[np.int64],
    problems: list[Problem],
    source: str,
    wide_columns: Sequence[str] | None = None,
) -> RatingRows:
    def report(mask: NDArray[np.bool_], column: str, reason: Callable[[int], str]) -> None:
        for i in np.flatnonzero(mask)[: max(MAX_PROBLEMS - len(problems), 0)]:
            col = column if wide_columns is None else str(table["assessor"][i])
            problems.append(Problem(source, reason(int(i)), int(line[i]), col))

    for name in ("submission", "assessor", "criterion"):
        report(table[name] == "", name, lambda i: "empty value")
    score_text = table["score"]
    score = pd.to_numeric(pd.Series(score_text), errors="coerce").to_numpy(dtype=np.float64)
    report(score_text == "", "score", lambda i: "empty score")
    report(
        ~np.isfinite(score) & (score_text != ""),
        "score",
        lambda i: f"score {score_text[i]!r} is not a number",
    )
    report(
        np.isfinite(score) & (score != np.round(score)),
        "score",
        lambda i: f"score {score_text[i]!r} is not a whole number (scores are rubric levels)",
    )

    columns = {k: v for k, v in table.items() if k not in REQUIRED}
    timestamp = None
    if "timestamp" in columns:
        raw = columns["timestamp"]
        parsed = pd.to_datetime(pd.Series(raw), utc=True, errors="coerce", format="ISO8601")
        report(
            parsed.isna().to_numpy() & (raw != ""),
            "timestamp",
            lambda i: f"unparseable timestamp {raw[i]!r} (use ISO 8601, e.g. 2026-03-01T14:05:00Z)",
        )
        timestamp = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    if "attempt" in columns:
        att = columns["attempt"]
        num = pd.to_numeric(pd.Series(att), errors="coerce").to_numpy(dtype=np.float64)
        report(
            (att != "") & ~((num >= 1) & (num == np.round(num))),
            "attempt",
            lambda i: f"attempt {att[i]!r} is not a whole number >= 1",
        )
    if "context" in columns:
        lower = pd.Series(columns["context"], dtype=object).str.lower().to_numpy(dtype=object)
        ctx = np.where(lower == "", "live", lower).astype(object)
        report(
            ~np.isin(ctx, CONTEXTS),
            "context",
            lambda i: f"unknown context {columns['context'][i]!r} (one of {', '.join(CONTEXTS)})",
        )
        columns["context"] = ctx

    key_cols = [table["submission"], table["assessor"], table["criterion"]]
    if "context" in columns:
        key_cols.append(columns["context"])
    if "round" in columns:
        key_cols.append(columns["round"])
    first = _first_of_duplicates(key_cols)
    report(
        first >= 0,
        "criterion",
        lambda i: (
            f"duplicate rating: same submission, assessor and criterion as line {line[first[i]]}"
        ),
    )
    if not problems and len(line) == 0:
        problems.append(Problem(source, "no ratings: the file has a header but no rows", 1))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ValidationError(problems)
    return RatingRows(
        source=source,
        line=line,
        submission=table["submission"],
        assessor=table["assessor"],
        criterion=table["criterion"],
        score=score,
        columns=columns,
        timestamp=timestamp,
    )


def _first_of_duplicates(columns: Sequence[ObjectArray]) -> NDArray[np.int64]:
    """For each row, the index of an earlier row with the same key, else -1."""
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(col)
        key = pd.factorize(key * len(uniques) + codes)[0].astype(np.int64)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    same = np.zeros(n, dtype=bool)
    same[1:] = sorted_key[1:] == sorted_key[:-1]
    group_start = np.maximum.accumulate(np.where(same, 0, np.arange(n)))
    first = np.full(n, -1, dtype=np.int64)
    first[order[same]] = order[group_start[same]]
    return first


def factorize(labels: ObjectArray) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """Integer codes for string labels, codes following the sorted labels (hash-based, fast)."""
    codes, uniques = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), tuple(str(u) for u in uniques)
