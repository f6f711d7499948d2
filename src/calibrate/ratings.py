"""Ratings files: long and wide CSV in, coded long arrays out.

The long format has one rating per row::

    submission,assessor,criterion,score[,timestamp,attempt,rubric,context,earner,round]

The wide format holds one criterion: a unit column, then one column per assessor (empty cell =
not rated); the header cells after the unit column are assessor keys, kept exactly as written.
Reading checks everything that can be checked without a rubric and reports every bad row at once
(file, line, column, reason); :mod:`calibrate.store` checks the rest against the rubric version
before writing anything. With ``collect=True`` the reader returns the rows with their problems
instead of raising, so that the store can add its own and report everything in one error.

Rules checked here, the same whatever database the rows go to:

- the header names known columns (:data:`REQUIRED`, :data:`OPTIONAL`; case-insensitive), each once;
- keys (:data:`KEYS`) are at most :data:`MAX_KEY_LENGTH` characters of printable text (no C0 or C1
  control character, no DEL); submission, assessor and criterion are not empty;
- ``score`` is a whole number within -:data:`MAX_INT`..:data:`MAX_INT`; ``attempt`` a whole number
  1..:data:`MAX_INT`; ``timestamp`` ISO 8601; ``context`` one of :data:`CONTEXTS` (any case);
  ``rubric`` ``id`` or ``id@version`` (:func:`calibrate.rubric.parse_rubric_key`);
- a live submission has one earner and one attempt; a ``round`` belongs to one assessor, rubric and
  context, and live ratings have none (rounds are calibration attempts on anchors);
- no rating twice (same submission, assessor, criterion, context and round).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import stat
from collections import Counter
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
KEYS = ("submission", "assessor", "criterion", "earner", "round", "rubric")
MAX_KEY_LENGTH = 100  # characters of a key: the width of the store's key columns
MAX_INT = 2_147_483_647  # scores and attempts fit a 32-bit integer column
MAX_PROBLEMS = 1000
MAX_FILE_BYTES = 1 << 30
"""Largest ratings file read (1 GiB, about ten million long-format ratings): a larger one is
refused before it is read, not parsed until memory runs out."""
"""Problems kept for one file, a bound on memory for a file of millions of bad rows. The problems
of the earliest lines are kept, whatever their kind, then one more counts those left out;
:attr:`RatingRows.bad` still marks every bad row."""

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0, DEL, C1
_CONTROL_RE2 = "[\\x{0}-\\x{1f}\\x{7f}-\\x{9f}]"  # the same, for Arrow's RE2

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
        NaN (or inf) where the text is not a number.
    columns : dict of str -> str array, shape (n,)
        The other columns present, as text: ``context`` in lowercase, ``"live"`` where empty;
        the ``earner`` and ``attempt`` of a live submission given on one of its rows fill its
        rows that leave them empty. Bad cells keep their text.
    timestamp : datetime64[us] array, shape (n,), or None
        Parsed UTC timestamps (NaT where the cell is empty or bad).
    score_text : str array, shape (n,)
        The score cells as written.
    problems : tuple of Problem
        With ``collect=True``: every problem found in the file, by line (at most
        :data:`MAX_PROBLEMS`, then one counting the rest), including those of records that could
        not be read as rows (wrong number of fields); else empty.
    bad : bool array, shape (n,)
        Rows with a problem; rubric checks belong to the other rows.
    """

    source: str
    line: NDArray[np.int64]
    submission: ObjectArray
    assessor: ObjectArray
    criterion: ObjectArray
    score: NDArray[np.float64]
    columns: dict[str, ObjectArray] = field(default_factory=dict)
    timestamp: NDArray[np.datetime64] | None = None
    score_text: ObjectArray = field(default_factory=lambda: np.empty(0, dtype=object))
    problems: tuple[Problem, ...] = ()
    bad: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        n = len(self.line)
        if n and not len(self.score_text):
            text = np.array([f"{s:g}" for s in self.score.tolist()], dtype=object)
            object.__setattr__(self, "score_text", text)
        if n and not len(self.bad):
            object.__setattr__(self, "bad", np.zeros(n, dtype=bool))
        if len(self.score_text) != n or len(self.bad) != n:
            raise ValueError("score_text and bad must have one entry per row")

    def __len__(self) -> int:
        return len(self.line)

    def take(self, keep: NDArray[np.bool_]) -> RatingRows:
        """The rows in ``keep`` (bool array, shape (n,)), e.g. ``rows.take(~rows.bad)``; the
        problems stay with them."""
        return RatingRows(
            source=self.source,
            line=self.line[keep],
            submission=self.submission[keep],
            assessor=self.assessor[keep],
            criterion=self.criterion[keep],
            score=self.score[keep],
            columns={k: v[keep] for k, v in self.columns.items()},
            timestamp=None if self.timestamp is None else self.timestamp[keep],
            score_text=self.score_text[keep],
            problems=self.problems,
            bad=self.bad[keep],
        )

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

    def times(self) -> NDArray[np.datetime64]:
        """Rating times (UTC, microseconds) from the ``timestamp`` column; NaT where a rating
        has none (every row without the column)."""
        if "timestamp" not in self.columns:
            return np.full(len(self), np.datetime64("NaT"), dtype="datetime64[us]")
        return rating_times(self.columns["timestamp"])

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
        _check_keep(keep)
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
        return chosen_rows.one_per_cell(keep)

    def one_per_cell(self, keep: Keep | None) -> Ratings:
        """One rating per assessor, submission and criterion: the first (``keep="first"``) or
        the latest (``"last"``) as :meth:`select` orders them.

        Raises
        ------
        CalibrateError
            ``keep`` neither first nor last, or repeated cells with no ``keep``.
        """
        _check_keep(keep)
        n_raters, n_criteria = len(self.raters), len(self.criteria)
        cell = (self.unit * n_raters + self.rater) * n_criteria + self.criterion
        stamp = self.columns.get("timestamp")
        order = (
            np.arange(len(self))
            if stamp is None
            else np.argsort(rating_times(stamp).view(np.int64), kind="stable")  # NaT: earliest
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


def _check_keep(keep: object) -> None:
    if keep not in (None, "first", "last"):
        raise CalibrateError(f"keep must be 'first' or 'last', not {keep!r}")


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
    ignore_unknown: bool = False,
) -> Ratings:
    """Read a long (or, with ``wide=True``, wide) ratings CSV into coded arrays.

    Raises
    ------
    ValidationError
        Every bad row, with line, column and reason.
    """
    rows = read_rating_rows(
        path, wide=wide, criterion=criterion, progress=progress, ignore_unknown=ignore_unknown
    )
    return rows.encode()


def read_rating_rows(
    path: str | Path,
    *,
    wide: bool = False,
    criterion: str | None = None,
    progress: Progress | None = None,
    collect: bool = False,
    ignore_unknown: bool = False,
) -> RatingRows:
    """Read and check a ratings CSV (see :func:`parse_ratings`) without coding it."""
    path = Path(path)
    return parse_ratings(
        read_csv_bytes(path),
        source=str(path),
        wide=wide,
        criterion=criterion,
        progress=progress,
        collect=collect,
        ignore_unknown=ignore_unknown,
    )


def read_csv_bytes(path: Path) -> bytes:
    """The bytes of a ratings file: a regular file (not a folder, device or pipe) of at most
    :data:`MAX_FILE_BYTES`.

    Raises
    ------
    ValidationError
        Missing, not a regular file, too large, or unreadable.
    """
    source = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ValidationError([Problem(source, "file not found")]) from None
    except OSError as exc:
        raise ValidationError([Problem(source, f"cannot read: {exc.strerror or exc}")]) from None
    if stat.S_ISDIR(info.st_mode):
        raise ValidationError([Problem(source, "is a directory, not a CSV file")])
    if not stat.S_ISREG(info.st_mode):
        raise ValidationError([Problem(source, "is not a regular file (a device or a pipe)")])
    if info.st_size > MAX_FILE_BYTES:
        raise ValidationError(
            [
                Problem(
                    source,
                    f"is {info.st_size:,} bytes; a ratings file may have at most "
                    f"{MAX_FILE_BYTES:,} bytes: split it into several imports",
                )
            ]
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError([Problem(source, f"cannot read: {exc.strerror or exc}")]) from None


def parse_ratings(
    data: bytes,
    *,
    source: str,
    wide: bool = False,
    criterion: str | None = None,
    progress: Progress | None = None,
    collect: bool = False,
    ignore_unknown: bool = False,
) -> RatingRows:
    """Parse ratings CSV bytes (UTF-8 with or without BOM, any newline convention).

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        The file name, for messages.
    wide : bool
        Wide format: a unit column, then one column per assessor, the header cells being the
        assessor keys (kept exactly, surrounding whitespace stripped).
    criterion : str, optional
        The criterion of a wide file (default ``"score"``).
    progress : callable, optional
        Called as ``progress(done, total, stage)`` while reading.
    collect : bool
        Return the rows with their problems (:attr:`RatingRows.problems`, :attr:`RatingRows.bad`)
        instead of raising, so that a caller adding rubric checks on the good rows can report
        everything at once.
    ignore_unknown : bool
        Drop columns the long format does not know instead of refusing the file.

    Raises
    ------
    ValidationError
        A file that is not UTF-8, empty, or has no ratings; a bad header (missing, repeated or
        unknown columns; bad assessor keys of a wide file); and, unless ``collect``, every
        problem of every row.
    """
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
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise ValidationError([Problem(source, f"unreadable CSV: {exc}", 1)]) from None
    fast = _arrow_columns(data, len(header), progress)
    records: list[tuple[int, str]] = []
    unlisted = 0
    if fast is not None:
        columns, lines = fast
    else:
        columns, lines, records, unlisted = _read_columns(reader, len(header), text, progress)
    if wide:
        table, lines, fields = _wide(header, columns, lines, source, criterion or "score")
    else:
        table, fields = _long(header, columns, source, ignore_unknown), {}
    found = _Found(source, lines)
    found.records = [Problem(source, message, line) for line, message in records]
    found.unlisted_records = unlisted
    rows = _check(table, found, fields, wide)
    if rows.problems and not collect:
        raise ValidationError(list(rows.problems))
    return rows


class _Found:
    """The problems of one file: rows marked bad, messages built for the earliest lines only.

    ``flag`` records a rule broken by the rows of a mask, with its reason (fixed or per row);
    ``problems`` builds at most :data:`MAX_PROBLEMS` of them, by line, and counts the rest.
    """

    def __init__(self, source: str, line: NDArray[np.int64]) -> None:
        self.source = source
        self.line = line
        self.bad = np.zeros(len(line), dtype=bool)
        self.flags: list[tuple[NDArray[np.intp], str | None, Callable[[int], str]]] = []
        self.records: list[Problem] = []  # records that are not rows (wrong number of fields)
        self.unlisted_records = 0  # ... and how many more of them were not kept

    def flag(
        self, mask: NDArray[np.bool_], column: str | None, reason: str | Callable[[int], str]
    ) -> None:
        idx = np.flatnonzero(mask)
        if len(idx):
            self.bad[idx] = True
            self.flags.append(
                (idx, column, (lambda i: reason) if isinstance(reason, str) else reason)
            )

    def problems(self, field_of: Callable[[str | None, int], str | None]) -> list[Problem]:
        if not self.flags:
            found = list(self.records)
        else:
            kind = np.concatenate([np.full(len(f[0]), k) for k, f in enumerate(self.flags)])
            row = np.concatenate([f[0] for f in self.flags])
            first = np.lexsort((kind, self.line[row]))[:MAX_PROBLEMS]
            found = [
                Problem(
                    self.source,
                    self.flags[k][2](i),
                    int(self.line[i]),
                    field_of(self.flags[k][1], i),
                )
                for k, i in zip(kind[first].tolist(), row[first].tolist(), strict=True)
            ]
            found = sorted(found + self.records, key=lambda p: p.line or 0)
        total = sum(len(f[0]) for f in self.flags) + len(self.records) + self.unlisted_records
        found = found[:MAX_PROBLEMS]
        if total > len(found):
            found.append(
                Problem(
                    self.source,
                    f"... and {total - len(found):,} more problem(s) after line "
                    f"{found[-1].line}, not listed (at most {MAX_PROBLEMS:,} are kept)",
                )
            )
        return found


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
    reader: Any, width: int, text: str, progress: Progress | None
) -> tuple[list[ObjectArray], NDArray[np.int64], list[tuple[int, str]], int]:
    """Line-tracking path (quoted newlines, blank lines, ragged rows): every problem located.

    Returns the columns of the rows of the right width, their lines, ``(line, message)`` of the
    other records (the first :data:`MAX_PROBLEMS`) and the number of other records not kept.
    """
    rows: list[list[str]] = []
    lines: list[int] = []
    records: list[tuple[int, str]] = []
    unlisted = 0
    start = reader.line_num + 1
    total = text.count("\n")
    step = max(total // 100, 50_000)
    try:
        for row in reader:
            if row and any(cell.strip() for cell in row):
                if len(row) != width:
                    if len(records) < MAX_PROBLEMS:
                        records.append((start, f"expected {width} fields, found {len(row)}"))
                    else:
                        unlisted += 1
                else:
                    rows.append(row)
                    lines.append(start)
            start = reader.line_num + 1
            if progress is not None and len(rows) % step == 0:
                progress(start, total, "reading")
    except csv.Error as exc:
        records.append((reader.line_num, f"unreadable CSV: {exc}"))
    columns = [
        np.array([cell.strip() for cell in col], dtype=object)
        for col in (zip(*rows, strict=True) if rows else [()] * width)
    ]
    return columns, np.asarray(lines, dtype=np.int64), records, unlisted


def _long(
    header: list[str], columns: list[ObjectArray], source: str, ignore_unknown: bool
) -> dict[str, ObjectArray]:
    """The columns by (lowercase) name; a header that is not the long format's is refused."""
    names = [h.lower() for h in header]
    known = (*REQUIRED, *OPTIONAL)
    problems: list[Problem] = []
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        found = ", ".join(repr(h) for h in header)
        problems += [
            Problem(
                source,
                f"missing column; the first line must be a header naming "
                f"{', '.join(REQUIRED)} (found {found})",
                1,
                c,
            )
            for c in missing
        ]
    counts = Counter(names)
    problems += [
        Problem(source, "column appears twice", 1, d)
        for d in sorted(c for c, k in counts.items() if k > 1 and c in known)
    ]
    keep = [True] * len(names)
    if len(missing) < len(REQUIRED):  # else the first line is not a header: one message says so
        for i, name in enumerate(names):
            if name in known:
                continue
            keep[i] = False
            if ignore_unknown or (not name and not (columns[i] != "").any()):
                continue  # asked for, or a nameless empty column (a trailing comma)
            if len(problems) >= MAX_PROBLEMS:
                break
            problems.append(_unknown_column(source, i, header[i], known))
    if problems:
        raise ValidationError(problems)
    return {n: c for n, c, k in zip(names, columns, keep, strict=True) if k}


def _unknown_column(source: str, i: int, name: str, known: Sequence[str]) -> Problem:
    if not name:
        return Problem(source, f"column {i + 1} has no name", 1, f"column {i + 1}")
    close = difflib.get_close_matches(name.lower(), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    plain = _key_problem("column", name) is None  # short, printable: fit to name the field
    shown = repr(name) if plain else repr(name[:40]) + "..."
    return Problem(
        source,
        f"unknown column {shown}; {hint}the columns are {', '.join(known)}",
        1,
        name if plain else f"column {i + 1}",
    )


def _wide(
    header: list[str],
    columns: list[ObjectArray],
    lines: NDArray[np.int64],
    source: str,
    criterion: str,
) -> tuple[dict[str, ObjectArray], NDArray[np.int64], dict[str, str]]:
    """Long columns of a wide file (one row per filled cell), their lines, and the name of the
    file's column holding the submissions."""
    if len(header) < 3:
        raise ValidationError(
            [Problem(source, "wide format needs a unit column and at least two rater columns", 1)]
        )
    raters = header[1:]
    problems = [
        Problem(source, f"rater column {i} has no name", 1, f"column {i}")
        for i, r in enumerate(raters, start=2)
        if not r
    ]
    counts = Counter(raters)
    problems += [
        Problem(source, "column appears twice", 1, r)
        for r in sorted(r for r, k in counts.items() if k > 1 and r)
    ]
    for i, r in enumerate(raters, start=2):
        reason = _key_problem("assessor", r) if r else None
        if reason is not None and len(problems) < MAX_PROBLEMS:
            problems.append(Problem(source, f"{reason} (column {i})", 1, f"column {i}"))
    reason = _key_problem("criterion", criterion)
    if reason is not None:
        problems.append(Problem(source, reason, None, "criterion"))
    if problems:
        raise ValidationError(problems)
    cells = np.stack(columns, axis=1) if len(lines) else np.empty((0, len(header)), dtype=object)
    r_idx, c_idx = np.nonzero(cells[:, 1:] != "")
    table = {
        "submission": cells[r_idx, 0],
        "assessor": np.asarray(raters, dtype=object)[c_idx],
        "criterion": np.full(len(r_idx), criterion, dtype=object),
        "score": cells[r_idx, c_idx + 1],
    }
    return table, lines[r_idx], {"submission": header[0] or "column 1"}


def _key_problem(name: str, value: str) -> str | None:
    """Why ``value`` cannot be a key (None if it can): too long, or a control character."""
    if len(value) > MAX_KEY_LENGTH and name != "rubric":
        return f"{name} is {len(value):,} characters long (keys are at most {MAX_KEY_LENGTH})"
    control = _CONTROL.search(value)
    if control is not None:
        return (
            f"{name} contains the control character U+{ord(control.group()):04X} "
            "(keys are printable text)"
        )
    if name == "rubric":
        from calibrate.rubric import parse_rubric_key  # pydantic and YAML: only for this column

        try:
            parse_rubric_key(value)
        except CalibrateError as exc:
            return str(exc)
    return None


def _check(
    table: dict[str, ObjectArray], found: _Found, fields: dict[str, str], wide: bool
) -> RatingRows:
    """Check every row (see the module docstring); the rows with their problems."""
    source = found.source
    line = found.line
    if len(line) == 0 and not found.records:
        raise ValidationError([Problem(source, "no ratings: the file has a header but no rows", 1)])
    flag = found.flag

    for name in ("submission", "assessor", "criterion"):
        flag(table[name] == "", name, "empty value")
    for name in KEYS:
        if name in table and not (wide and name in ("assessor", "criterion")):  # checked in _wide
            _check_keys(found, name, table[name])

    score_text = table["score"]
    score = pd.to_numeric(pd.Series(score_text), errors="coerce").to_numpy(dtype=np.float64)
    flag(score_text == "", "score", "empty score")
    flag(
        np.isnan(score) & (score_text != ""),
        "score",
        lambda i: f"score {score_text[i]!r} is not a number",
    )
    flag(np.isinf(score), "score", lambda i: f"score {score_text[i]!r} is not a finite number")
    whole = np.isfinite(score) & (score == np.round(score))
    flag(
        np.isfinite(score) & ~whole,
        "score",
        lambda i: f"score {score_text[i]!r} is not a whole number (scores are rubric levels)",
    )
    flag(
        whole & (np.abs(score) > MAX_INT),
        "score",
        lambda i: f"score {score_text[i]!r} is out of range (scores are within +-{MAX_INT:_})",
    )

    columns = {k: v for k, v in table.items() if k not in REQUIRED}
    timestamp = None
    if "timestamp" in columns:
        raw = columns["timestamp"]
        parsed = pd.to_datetime(pd.Series(raw), utc=True, errors="coerce", format="ISO8601")
        flag(
            parsed.isna().to_numpy() & (raw != ""),
            "timestamp",
            lambda i: f"unparseable timestamp {raw[i]!r} (use ISO 8601, e.g. 2026-03-01T14:05:00Z)",
        )
        timestamp = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        good = ~np.isnat(timestamp)
        columns["timestamp"] = np.where(good, iso_utc(timestamp), raw).astype(object)
    attempt_ok = np.ones(len(line), dtype=bool)
    if "attempt" in columns:
        att = columns["attempt"]
        num = pd.to_numeric(pd.Series(att), errors="coerce").to_numpy(dtype=np.float64)
        attempt_ok = (num >= 1) & (num <= MAX_INT) & (num == np.round(num))
        flag(
            (att != "") & ~attempt_ok,
            "attempt",
            lambda i: f"attempt {att[i]!r} is not a whole number >= 1 (at most {MAX_INT:_})",
        )
        attempt_number = att.copy()  # "2" for "2.0", to compare the rows of a submission
        if attempt_ok.any():
            attempt_number[attempt_ok] = num[attempt_ok].astype(np.int64).astype(str)
    context = np.full(len(line), "live", dtype=object)
    if "context" in columns:
        raw_context = columns["context"]
        lower = pd.Series(raw_context, dtype=object).str.lower().to_numpy(dtype=object)
        context = np.where(lower == "", "live", lower).astype(object)
        flag(
            ~np.isin(context, CONTEXTS),
            "context",
            lambda i: f"unknown context {raw_context[i]!r} (one of {', '.join(CONTEXTS)})",
        )
        columns["context"] = context
    live = context == "live"
    if "round" in columns:
        _check_rounds(found, table, columns, context)
    submission = _Keys(table["submission"])
    if "earner" in columns:
        earner = columns["earner"]
        _one_per_submission(found, submission, columns, "earner", live, earner)
    if "attempt" in columns:
        number = np.where(attempt_ok, attempt_number, "").astype(object)
        _one_per_submission(found, submission, columns, "attempt", live, number)

    key_cols = [submission.codes, table["assessor"], table["criterion"]]
    if "context" in columns:
        key_cols.append(columns["context"])
    if "round" in columns:
        key_cols.append(columns["round"])
    first = _first_of_duplicates(key_cols)
    flag(
        first >= 0,
        "criterion",
        lambda i: (
            f"duplicate rating: same submission, assessor and criterion as line {line[first[i]]}"
        ),
    )

    def field_of(column: str | None, i: int) -> str | None:
        if wide and column == "score":
            return str(table["assessor"][i])
        return fields.get(column, column) if column is not None else None

    return RatingRows(
        source=source,
        line=line,
        submission=table["submission"],
        assessor=table["assessor"],
        criterion=table["criterion"],
        score=score,
        columns=columns,
        timestamp=timestamp,
        score_text=score_text,
        problems=tuple(found.problems(field_of)),
        bad=found.bad,
    )


def _check_keys(found: _Found, name: str, values: ObjectArray) -> None:
    """Flag the rows whose ``name`` cell cannot be a key (see :func:`_key_problem`)."""
    if name == "rubric":  # few distinct values, each parsed once
        codes, uniques = pd.factorize(values)
        reasons = [_key_problem(name, str(u)) for u in uniques.tolist()]
        bad = np.array([r is not None for r in reasons], dtype=bool)[codes]
    else:  # vectorised (Arrow): one key per row in the big columns
        text = pa.array(values, type=pa.string())
        too_long = pc.greater(pc.utf8_length(text), MAX_KEY_LENGTH)
        control = pc.match_substring_regex(text, _CONTROL_RE2)
        bad = pc.or_(too_long, control).to_numpy(zero_copy_only=False)
    found.flag(bad, name, lambda i: str(_key_problem(name, str(values[i]))))


def _check_rounds(
    found: _Found,
    table: dict[str, ObjectArray],
    columns: dict[str, ObjectArray],
    context: ObjectArray,
) -> None:
    """A round is one assessor's calibration attempt at one rubric in one context (not live)."""
    rounds = columns["round"]
    found.flag(
        (rounds != "") & (context == "live"),
        "round",
        lambda i: (
            f"round {rounds[i]!r} on a live rating: rounds are calibration attempts on anchors "
            "(practice, qualification, validity); leave it empty for live ratings"
        ),
    )
    has = np.flatnonzero((rounds != "") & np.isin(context, ANCHOR_CONTEXTS))
    if not len(has):
        return
    codes, uniques = pd.factorize(rounds[has])
    first = has[_first_index(codes, len(uniques))][codes]  # for each row, its round's first row
    owners = [("assessor", table["assessor"]), ("context", context)]
    if "rubric" in columns:
        owners.insert(1, ("rubric", columns["rubric"]))
    rule = "a round is one assessor's attempt at one rubric in one context"
    for what, values in owners:
        _flag_conflicts(found, "round", rounds, what, values, has, first, rule, column="round")


class _Keys:
    """A key column with its codes (``pd.factorize``), computed once for several checks."""

    def __init__(self, labels: ObjectArray) -> None:
        codes, uniques = pd.factorize(labels)
        self.labels = labels
        self.codes = codes.astype(np.intp)
        self.n = len(uniques)


def _one_per_submission(
    found: _Found,
    submission: _Keys,
    columns: dict[str, ObjectArray],
    name: str,
    live: NDArray[np.bool_],
    same: ObjectArray,
) -> None:
    """A live submission has one ``name`` (earner, attempt): flag rows giving another than its
    first, and fill the rows leaving it empty.

    ``same`` is the value to compare (``""`` where not given or not valid).
    """
    values = columns[name]
    has = np.flatnonzero(live & (same != ""))
    if not len(has):
        return
    first_of = np.full(submission.n, -1, dtype=np.intp)  # first row giving it, per submission
    first_of[submission.codes[has][::-1]] = has[::-1]
    first = first_of[submission.codes[has]]
    rule = f"a submission has one {name}"
    _flag_conflicts(
        found, "submission", submission.labels, name, values, has, first, rule, compare=same
    )
    empty = np.flatnonzero(live & (values == ""))
    source = first_of[submission.codes[empty]]
    if (source >= 0).any():
        values = values.copy()
        values[empty[source >= 0]] = values[source[source >= 0]]
        columns[name] = values


def _flag_conflicts(
    found: _Found,
    key: str,
    keys: ObjectArray,
    what: str,
    values: ObjectArray,
    rows: NDArray[np.intp],
    first: NDArray[np.intp],
    rule: str,
    column: str | None = None,
    compare: ObjectArray | None = None,
) -> None:
    """Flag (in ``column``, default ``what``) the ``rows`` whose ``values`` (as ``compare``
    has them, by default as written) differ from those of the first row with the same ``keys``
    (``first``, aligned with ``rows``), naming its line."""
    same = values if compare is None else compare
    differs = same[rows] != same[first]
    if not differs.any():
        return
    mask = np.zeros(len(values), dtype=bool)
    mask[rows[differs]] = True
    earlier = dict(zip(rows[differs].tolist(), first[differs].tolist(), strict=True))
    line = found.line

    def reason(i: int) -> str:
        j = earlier[i]
        return (
            f"{key} {keys[i]!r} has {what} {values[j]!r} on line {line[j]}, not {values[i]!r}: "
            f"{rule}"
        )

    found.flag(mask, column or what, reason)


def _first_index(codes: NDArray[np.intp], n: int) -> NDArray[np.intp]:
    """Index of the first occurrence of each code ``0..n-1`` (every code occurring), in one
    O(n) scatter: assigning in reverse, the first occurrence is written last and so kept."""
    first = np.empty(n, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first


def _first_of_duplicates(columns: Sequence[NDArray[Any]]) -> NDArray[np.int64]:
    """For each row, the index of an earlier row with the same key (the values of ``columns``:
    labels or codes), else -1."""
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


def iso_utc(moments: NDArray[np.datetime64]) -> NDArray[np.object_]:
    """The one text form of a rating time, shared by files and the store: UTC ISO 8601, whole
    seconds as ``2026-03-01T14:05:00Z``, else with six decimals; empty for NaT.

    >>> iso_utc(np.array(["2026-03-01T14:05:00", "2026-03-01T14:05:00.5", "NaT"], "M8[us]"))
    array(['2026-03-01T14:05:00Z', '2026-03-01T14:05:00.500000Z', ''],
          dtype=object)
    """
    moments = moments.astype("datetime64[us]")
    micros = moments.view(np.int64)
    whole = micros % 1_000_000 == 0
    shown = np.where(
        whole,
        np.datetime_as_string(moments, unit="s"),
        np.datetime_as_string(moments, unit="us"),
    )
    out = np.char.add(shown.astype(str), "Z").astype(object)
    out[np.isnat(moments)] = ""
    return out


def rating_times(text: ObjectArray) -> NDArray[np.datetime64]:
    """Rating times from their text (:func:`iso_utc`'s form, or any ISO 8601); NaT where empty or
    unreadable, so that rows without a time count as earliest when sorted by their int64 view."""
    parsed = pd.to_datetime(
        pd.Series(text.astype(str)), utc=True, errors="coerce", format="ISO8601"
    )
    return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
