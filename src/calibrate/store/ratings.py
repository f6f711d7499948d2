"""Ratings in the store: all-or-nothing imports from files, and reading the current ratings back
as coded long arrays for the statistics core (never ORM rows)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy import Engine, func
from sqlalchemy.engine import Connection

from calibrate.errors import CalibrateError, Problem, ValidationError
from calibrate.ratings import (
    ANCHOR_CONTEXTS,
    CONTEXTS,
    MAX_INT,
    MAX_PROBLEMS,
    RatingRows,
    Ratings,
    iso_utc,
    parse_ratings,
    read_csv_bytes,
)
from calibrate.rubric import Rubric, parse_rubric_key, rubric_from_data
from calibrate.store import models as m
from calibrate.store.audit import append_event, seal_ratings
from calibrate.store.bulk import (
    CHUNK,
    ImportReport,
    Progress,
    bulk_insert,
    db_time,
    ensure_keys,
    fetch_ints,
    first_index,
    insert_new,
    lookup,
    micros,
    nullable,
    stored_keys,
    timestamps,
    to_datetime,
)
from calibrate.store.engine import reading, writing
from calibrate.store.guards import check_name, check_sha256, name_problem

NEW = -1  # the id of a key not stored yet, while an import is checked


@dataclass(frozen=True)
class _RubricInfo:
    id: int
    rubric: Rubric
    criteria: dict[str, int]
    anchors: dict[str, int]
    issuer: str | None


@dataclass(frozen=True)
class _Stored:
    """What an import's checks need from the store: keys and what they are stored with."""

    assessors: dict[str, int]
    submissions: dict[
        str, tuple[int, int, str, int | None]
    ]  # key -> id, rubric version, earner, attempt
    rounds: dict[str, tuple[int, str, int, str]]  # key -> id, assessor, rubric version, context


def import_ratings_file(
    path: str | Path,
    *,
    engine: Engine,
    rubric: str | None = None,
    wide: bool = False,
    criterion: str | None = None,
    imported_by: str = "calibrate",
    progress: Progress | None = None,
    ignore_unknown: bool = False,
    issuer: str | None = None,
) -> ImportReport:
    """Read, check and store a ratings CSV, all or nothing (see :func:`import_ratings`).

    Every problem is reported at once: those of the file's form (:func:`parse_ratings` with
    ``collect=True``) and those found against the rubric versions and the store on the other
    rows. ``ignore_unknown`` drops columns the format does not know instead of refusing them.
    """
    check_name(imported_by, "imported_by")
    path = Path(path)
    data = read_csv_bytes(path)
    rows = parse_ratings(
        data,
        source=str(path),
        wide=wide,
        criterion=criterion,
        progress=progress,
        collect=True,
        ignore_unknown=ignore_unknown,
    )
    return import_ratings(
        rows,
        engine=engine,
        rubric=rubric,
        sha256=hashlib.sha256(data).hexdigest(),
        imported_by=imported_by,
        progress=progress,
        issuer=issuer,
    )


def import_ratings(
    rows: RatingRows,
    *,
    engine: Engine,
    rubric: str | None = None,
    sha256: str = "",
    imported_by: str = "calibrate",
    progress: Progress | None = None,
    issuer: str | None = None,
) -> ImportReport:
    """Check ratings against their rubric versions and the store, and store them in one
    transaction, sealed by an audit event (:func:`calibrate.store.audit.seal_ratings`).
    ``issuer`` limits the rubric versions to that issuer's.

    Each row names its rubric version in a ``rubric`` column (``id@version``, or ``id`` for the
    latest stored version) or takes ``rubric``. Ratings in the practice, qualification and validity
    contexts name an anchor of that rubric in the ``submission`` column; live ratings name a
    submission, created on first sight (with ``earner`` and ``attempt`` when the file has them, and
    linked to the earner's previous attempt). A rating already stored with the same score is
    skipped, so re-importing a file adds nothing; a different score for a stored rating is refused
    (corrections go through :func:`correct_rating`, which keeps the old revision). What is stored
    does not change: a submission stored with another earner or attempt, or a ``round`` stored for
    another assessor, rubric version or context, is refused.

    The problems of ``rows`` (:attr:`RatingRows.problems`, from ``collect=True``) are reported
    with the store's own, found on the rows without them (:attr:`RatingRows.bad`). Imports take
    turns (:func:`calibrate.store.engine.writing`): the same file imported twice at once is stored
    once.

    Raises
    ------
    ValidationError
        Every problem (file, line, column, reason), in line order; the database is left as it was.
    StoreError
        ``imported_by`` is not a name (empty, over 100 characters, control characters), ``sha256``
        not a SHA-256, or the store stayed busy with another import past the timeout.
    """
    check_name(imported_by, "imported_by")
    check_sha256(sha256)
    parsed = list(rows.problems)
    more = parsed.pop() if len(parsed) > MAX_PROBLEMS else None  # "... and N more"
    n_rows = len(rows)
    if rows.bad.any():
        rows = rows.take(~rows.bad)
    n = len(rows)
    context = rows.column("context", "live")
    live = ~np.isin(context, ANCHOR_CONTEXTS)
    with writing(engine) as conn:
        infos = _rubric_infos(conn, issuer)
        rv, problems = _resolve_rubrics(rows, rubric, infos)
        problems += _value_problems(rows)
        crit_id = np.zeros(n, dtype=np.int64)
        anchor_id = np.zeros(n, dtype=np.int64)
        for info in infos.values():
            idx = np.flatnonzero(rv == info.id)
            if len(idx):
                problems += _check_group(rows, idx, info, ~live, crit_id, anchor_id)
        stored = _stored(conn)
        problems += _submission_problems(rows, rv, live, stored.submissions, infos)
        problems += _submission_conflicts(rows, live & (rv > 0), stored.submissions)
        problems += _round_conflicts(rows, rv, context, stored.rounds, infos)
        keys = _identities(rows, live, crit_id, anchor_id, stored)
        score = np.nan_to_num(rows.score).clip(-MAX_INT - 1, MAX_INT + 1).astype(np.int64)
        new, conflicts = _against_stored(conn, keys, score, rows)
        problems = parsed + problems + conflicts
        if problems:
            raise ValidationError(_in_line_order(problems, more))

        now = db_time(datetime.now(UTC), conn.dialect.name == "postgresql")
        assessor_id = ensure_keys(conn, m.Assessor, rows.assessor, created_at=now)
        submission_id = np.zeros(n, dtype=np.int64)
        if live.any():
            submission_id[live] = _ensure_submissions(conn, rows, live, rv, infos)
        attempt_id = _ensure_attempts(conn, rows, rv, assessor_id, context)
        keys = np.stack([assessor_id, submission_id, anchor_id, crit_id, attempt_id], axis=1)
        written = int(new.sum())
        if written:  # an import that adds nothing leaves no trace
            table = m.ImportBatch.__table__  # type: ignore[attr-defined]
            batch = conn.execute(
                table.insert().returning(table.c.id),
                {
                    "kind": "ratings",
                    "source": rows.source,
                    "sha256": sha256,
                    "n_rows": n_rows,
                    "n_written": written,
                    "imported_by": imported_by,
                    "imported_at": datetime.now(UTC),
                },
            ).scalar_one()
            _bulk_insert_ratings(
                conn,
                keys[new],
                score[new],
                context[new],
                None if rows.timestamp is None else rows.timestamp[new],
                recorded_by=imported_by,
                batch=int(batch),
                progress=progress,
            )
            owners = sorted(
                {str(i.issuer) for i in infos.values() if i.issuer and (rv[new] == i.id).any()}
            )
            append_event(
                conn,
                actor=imported_by,
                action="ratings.import",
                issuer=owners[0] if len(owners) == 1 else None,
                subject=rows.source,
                detail={
                    "issuers": owners,
                    "rows": n_rows,
                    "written": written,
                    "file_sha256": sha256,
                    "ratings": [seal_ratings(conn, batch=int(batch))],
                },
            )
    return ImportReport("ratings", rows.source, n_rows, written, n_rows - written)


def _in_line_order(problems: list[Problem], more: Problem | None) -> list[Problem]:
    """Problems of the whole file first, then by line; the count of those left out last."""
    ordered = sorted(problems, key=lambda p: (p.line is not None, p.line or 0))
    return ordered if more is None else [*ordered, more]


def _rubric_infos(conn: Connection, issuer: str | None = None) -> dict[str, _RubricInfo]:
    """Stored rubric versions by ``id@version`` (of ``issuer`` alone when given: another
    issuer's rubrics are unknown to its imports), with their criterion and anchor ids."""
    rv = m.RubricVersion.__table__  # type: ignore[attr-defined]
    owner = m.Issuer.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    anc = m.Anchor.__table__  # type: ignore[attr-defined]
    criteria: dict[int, dict[str, int]] = {}
    for rv_id, key, cid in conn.execute(sa.select(crit.c.rubric_version_id, crit.c.key, crit.c.id)):
        criteria.setdefault(rv_id, {})[key] = cid
    anchors: dict[int, dict[str, int]] = {}
    for rv_id, key, aid in conn.execute(sa.select(anc.c.rubric_version_id, anc.c.key, anc.c.id)):
        anchors.setdefault(rv_id, {})[key] = aid
    infos = {}
    query = sa.select(rv.c.id, rv.c.definition, owner.c.key).select_from(
        rv.outerjoin(owner, owner.c.id == rv.c.issuer_id)
    )
    if issuer is not None:
        query = query.where(owner.c.key == issuer)
    for rv_id, definition, issuer_key in conn.execute(query.order_by(rv.c.id)):
        rubric = rubric_from_data(json.loads(definition), source=f"store:{rv_id}")
        infos[rubric.key] = _RubricInfo(
            rv_id, rubric, criteria.get(rv_id, {}), anchors.get(rv_id, {}), issuer_key
        )
    return infos


def _stored(conn: Connection) -> _Stored:
    """The stored assessors, submissions (with earner and attempt) and calibration rounds."""
    sub = m.Submission.__table__  # type: ignore[attr-defined]
    earner = m.Earner.__table__  # type: ignore[attr-defined]
    att = m.CalibrationAttempt.__table__  # type: ignore[attr-defined]
    assessor = m.Assessor.__table__  # type: ignore[attr-defined]
    submissions = {
        key: (sid, rv_id, earner_key or "", number)
        for key, sid, rv_id, earner_key, number in conn.execute(
            sa.select(sub.c.key, sub.c.id, sub.c.rubric_version_id, earner.c.key, sub.c.attempt)
            .select_from(sub)
            .outerjoin(earner, earner.c.id == sub.c.earner_id)
        )
    }
    rounds = {
        key: (aid, assessor_key, rv_id, purpose)
        for key, aid, assessor_key, rv_id, purpose in conn.execute(
            sa.select(att.c.key, att.c.id, assessor.c.key, att.c.rubric_version_id, att.c.purpose)
            .select_from(att)
            .join(assessor, assessor.c.id == att.c.assessor_id)
        )
    }
    assessors = {k: v[0] for k, v in stored_keys(conn, m.Assessor).items()}
    return _Stored(assessors, submissions, rounds)


def _resolve_rubrics(
    rows: RatingRows, default: str | None, infos: Mapping[str, _RubricInfo]
) -> tuple[NDArray[np.int64], list[Problem]]:
    """The rubric version id of every row (0 where it cannot be resolved) and the problems."""
    given = rows.column("rubric", "")
    if default:
        given = np.where(given == "", default, given)
    if "rubric" not in rows.columns and not default:
        return np.zeros(len(rows), dtype=np.int64), [
            Problem(
                rows.source,
                "no rubric version: add a rubric column or pass --rubric ID[@VERSION]",
                field="rubric",
            )
        ]
    latest: dict[str, _RubricInfo] = {}
    for candidate in infos.values():
        rid = candidate.rubric.id
        if rid not in latest or candidate.rubric.version > latest[rid].rubric.version:
            latest[rid] = candidate
    inverse, names = pd.factorize(given)
    ids = np.zeros(len(names), dtype=np.int64)
    problems: list[Problem] = []
    stored = ", ".join(sorted(infos)) or "none; import rubrics first"
    for j, name in enumerate(names.tolist()):
        try:
            rid, version = parse_rubric_key(name)
        except CalibrateError as exc:
            problems += _row_problems(rows, np.flatnonzero(inverse == j), "rubric", str(exc))
            continue
        info = latest.get(rid) if version is None else infos.get(f"{rid}@{version}")
        if info is not None:
            ids[j] = info.id
            continue
        reason = (
            "no rubric version: add a rubric column or pass --rubric ID[@VERSION]"
            if not name
            else f"unknown rubric version {name!r} (stored: {stored})"
        )
        problems += _row_problems(rows, np.flatnonzero(inverse == j), "rubric", reason)
    return ids[inverse], problems


def _value_problems(rows: RatingRows) -> list[Problem]:
    """Keys, scores and attempts the store's columns cannot hold, the same on every database.

    A file read by :func:`parse_ratings` has none (its reader refuses them first); this guards
    rows built by other callers of :func:`import_ratings`.
    """
    problems: list[Problem] = []
    keys = {"submission": rows.submission, "assessor": rows.assessor, "criterion": rows.criterion}
    for name in ("submission", "assessor", "criterion", "earner", "round"):
        values = keys[name] if name in keys else rows.column(name, "")
        codes, uniq = pd.factorize(values)
        reasons = [
            None if (u == "" and name in ("earner", "round")) else name_problem(u, name)
            for u in uniq.tolist()
        ]
        for j, reason in enumerate(reasons):
            if reason is not None:
                problems += _row_problems(rows, np.flatnonzero(codes == j), name, reason)
    score = rows.score
    bad = ~(np.isfinite(score) & (score == np.round(score)) & (np.abs(score) <= MAX_INT))
    problems += _row_problems(
        rows,
        np.flatnonzero(bad),
        "score",
        lambda i: f"score {score[i]:g} is not a whole number within +-{MAX_INT:_}",
    )
    if "attempt" in rows.columns:
        text = rows.columns["attempt"]
        _, ok = _attempt_numbers(text)
        problems += _row_problems(
            rows,
            np.flatnonzero(~ok),
            "attempt",
            lambda i: f"attempt {text[i]!r} is not a whole number >= 1 (at most {MAX_INT:_})",
        )
    return problems


def _attempt_numbers(text: NDArray[np.object_]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Attempt numbers of attempt cells (0 where empty or bad) and which cells are valid."""
    num = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(np.float64)
    whole = np.isfinite(num) & (num == np.round(num)) & (num >= 1) & (num <= MAX_INT)
    numbers = np.where(whole, num, 0).astype(np.int64)
    return numbers, whole | (text == "")


def _check_group(
    rows: RatingRows,
    idx: NDArray[np.intp],
    info: _RubricInfo,
    is_anchor: NDArray[np.bool_],
    crit_id: NDArray[np.int64],
    anchor_id: NDArray[np.int64],
) -> list[Problem]:
    """Check one rubric version's rows; fill in criterion and anchor ids."""
    key = info.rubric.key
    problems: list[Problem] = []
    cid = lookup(rows.criterion[idx], info.criteria)
    crit_id[idx] = cid
    known = ", ".join(info.criteria)
    problems += _row_problems(
        rows,
        idx[cid == 0],
        "criterion",
        lambda i: f"unknown criterion {rows.criterion[i]!r} for {key} (criteria: {known})",
    )
    scores = info.rubric.scores
    bad_score = ~np.isin(rows.score[idx], scores)
    problems += _row_problems(
        rows,
        idx[bad_score],
        "score",
        lambda i: (
            f"score {rows.score[i]:g} is not a level of {key} (levels {min(scores)}-{max(scores)})"
        ),
    )
    a_idx = idx[is_anchor[idx]]
    aid = lookup(rows.submission[a_idx], info.anchors)
    anchor_id[a_idx] = aid
    problems += _row_problems(
        rows,
        a_idx[aid == 0],
        "submission",
        lambda i: (
            f"unknown anchor {rows.submission[i]!r} for {key}: practice, qualification and "
            "validity ratings name an anchor in the submission column"
        ),
    )
    return problems


def _submission_problems(
    rows: RatingRows,
    rv: NDArray[np.int64],
    live: NDArray[np.bool_],
    stored: Mapping[str, tuple[int, int, str, int | None]],
    infos: Mapping[str, _RubricInfo],
) -> list[Problem]:
    """A submission belongs to one rubric version: the stored one, else its first row's."""
    names = {info.id: key for key, info in infos.items()}
    idx = np.flatnonzero(live & (rv > 0))
    codes, uniq = pd.factorize(rows.submission[idx])
    owner = rv[idx][first_index(codes, len(uniq))]
    for j, sub in enumerate(uniq.tolist()):
        if sub in stored:
            owner[j] = stored[sub][1]
    bad = idx[owner[codes] != rv[idx]]
    return _row_problems(
        rows,
        bad,
        "rubric",
        lambda i: (
            f"submission {rows.submission[i]!r} belongs to "
            f"{names.get(int(owner[codes[np.searchsorted(idx, i)]]), '?')}, not {names[int(rv[i])]}"
        ),
    )


def _submission_conflicts(
    rows: RatingRows,
    live: NDArray[np.bool_],
    stored: Mapping[str, tuple[int, int, str, int | None]],
) -> list[Problem]:
    """A stored submission keeps its earner and attempt: rows saying otherwise are refused."""
    idx = np.flatnonzero(live)
    codes, uniq = pd.factorize(rows.submission[idx])
    known = np.array([u in stored for u in uniq.tolist()], dtype=bool)
    if not known.any():
        return []
    record = [stored.get(u, (0, 0, "", None)) for u in uniq.tolist()]
    problems: list[Problem] = []
    if "earner" in rows.columns:
        earner = rows.columns["earner"]
        was = np.array([r[2] for r in record], dtype=object)[codes]
        bad = idx[known[codes] & (earner[idx] != "") & (earner[idx] != was)]

        def earner_reason(i: int) -> str:
            stored_earner = stored[rows.submission[i]][2]
            with_earner = f"with earner {stored_earner!r}" if stored_earner else "without an earner"
            return (
                f"submission {rows.submission[i]!r} is stored {with_earner}, not "
                f"{earner[i]!r}: a stored submission keeps its earner"
            )

        problems += _row_problems(rows, bad, "earner", earner_reason)
    if "attempt" in rows.columns:
        number, _ = _attempt_numbers(rows.columns["attempt"])
        was_n = np.array([r[3] or 0 for r in record], dtype=np.int64)[codes]
        bad = idx[known[codes] & (number[idx] > 0) & (number[idx] != was_n)]

        def attempt_reason(i: int) -> str:
            stored_attempt = stored[rows.submission[i]][3]
            as_attempt = (
                f"as attempt {stored_attempt}" if stored_attempt else "without an attempt number"
            )
            return (
                f"submission {rows.submission[i]!r} is stored {as_attempt}, not attempt "
                f"{number[i]}: a stored submission keeps its attempt"
            )

        problems += _row_problems(rows, bad, "attempt", attempt_reason)
    return problems


def _round_conflicts(
    rows: RatingRows,
    rv: NDArray[np.int64],
    context: NDArray[np.object_],
    stored: Mapping[str, tuple[int, str, int, str]],
    infos: Mapping[str, _RubricInfo],
) -> list[Problem]:
    """A stored round stays one assessor's attempt at one rubric version in one context."""
    rounds = rows.column("round", "")
    idx = np.flatnonzero((rounds != "") & (rv > 0))
    codes, uniq = pd.factorize(rounds[idx])
    record = [stored.get(u) for u in uniq.tolist()]
    if all(r is None for r in record):
        return []
    names = {info.id: key for key, info in infos.items()}
    bad = [
        i
        for i, j in zip(idx.tolist(), codes.tolist(), strict=True)
        if (r := record[j]) is not None
        and (r[1], r[2], r[3]) != (rows.assessor[i], int(rv[i]), context[i])
    ]

    def reason(i: int) -> str:
        _, assessor, rv_id, purpose = stored[rounds[i]]
        return (
            f"round {rounds[i]!r} is stored as {assessor}'s {purpose} round on "
            f"{names.get(rv_id, '?')}, not {rows.assessor[i]}'s {context[i]} round on "
            f"{names.get(int(rv[i]), '?')}: a round is one assessor's attempt at one rubric in "
            "one context"
        )

    return _row_problems(rows, np.asarray(bad, dtype=np.intp), "round", reason)


def _row_problems(
    rows: RatingRows, idx: NDArray[np.intp], column: str, reason: str | Callable[[int], str]
) -> list[Problem]:
    """One problem per row in ``idx`` (at most ``MAX_PROBLEMS``), the reason fixed or computed
    per row."""
    return [
        Problem(
            rows.source, reason if isinstance(reason, str) else reason(i), int(rows.line[i]), column
        )
        for i in idx[:MAX_PROBLEMS].tolist()
    ]


def _identities(
    rows: RatingRows,
    live: NDArray[np.bool_],
    crit_id: NDArray[np.int64],
    anchor_id: NDArray[np.int64],
    stored: _Stored,
) -> NDArray[np.int64]:
    """Each row's rating identity in stored ids, shape (n, 5): assessor, submission, anchor,
    criterion, round (0: none; :data:`NEW`: a key not stored yet, so the rating is new)."""
    n = len(rows)
    assessor = lookup(rows.assessor, stored.assessors)
    submission = np.zeros(n, dtype=np.int64)
    submission[live] = lookup(
        rows.submission[live], {k: v[0] for k, v in stored.submissions.items()}
    )
    rounds = rows.column("round", "")
    has = rounds != ""
    attempt = np.zeros(n, dtype=np.int64)
    attempt[has] = lookup(rounds[has], {k: v[0] for k, v in stored.rounds.items()})
    assessor[assessor == 0] = NEW
    submission[live & (submission == 0)] = NEW
    attempt[has & (attempt == 0)] = NEW
    return np.stack([assessor, submission, anchor_id, crit_id, attempt], axis=1)


def _ensure_submissions(
    conn: Connection,
    rows: RatingRows,
    live: NDArray[np.bool_],
    rv: NDArray[np.int64],
    infos: Mapping[str, _RubricInfo],
) -> NDArray[np.int64]:
    """Submission ids of the live rows; new submissions are created and linked to the previous
    attempt of the same earner at the same credential (rubric id, any version)."""
    table = m.Submission.__table__  # type: ignore[attr-defined]
    codes, uniq = pd.factorize(rows.submission[live])
    first = first_index(codes, len(uniq))
    stored = stored_keys(conn, m.Submission)
    new = [j for j, u in enumerate(uniq.tolist()) if u not in stored]
    if new:
        rows_live = np.flatnonzero(live)[first[new]]
        earner = rows.column("earner", "")[rows_live]
        earner_id = np.zeros(len(rows_live), dtype=np.int64)
        has_earner = earner != ""
        if has_earner.any():
            earner_id[has_earner] = ensure_keys(conn, m.Earner, earner[has_earner])
        attempt, _ = _attempt_numbers(rows.column("attempt", "")[rows_live])
        insert_new(
            conn,
            table.name,
            ["key", "rubric_version_id", "earner_id", "attempt"],
            (
                (uniq[j], int(rv[r]), e or None, a or None)
                for j, r, e, a in zip(
                    new, rows_live.tolist(), earner_id.tolist(), attempt.tolist(), strict=True
                )
            ),
        )
        _link_attempts(conn, infos)
        stored = stored_keys(conn, m.Submission)
    ids = np.array([stored[u][0] for u in uniq.tolist()], dtype=np.int64)
    return ids[codes]


def _link_attempts(conn: Connection, infos: Mapping[str, _RubricInfo]) -> None:
    """Point each unlinked attempt > 1 at the same earner's previous attempt at the credential."""
    table = m.Submission.__table__  # type: ignore[attr-defined]
    credential = {info.id: info.rubric.id for info in infos.values()}
    subs = conn.execute(
        sa.select(
            table.c.id,
            table.c.earner_id,
            table.c.rubric_version_id,
            table.c.attempt,
            table.c.previous_id,
        ).where(table.c.earner_id.is_not(None), table.c.attempt.is_not(None))
    ).all()
    by_attempt = {(e, credential[v], a): i for i, e, v, a, _ in subs}
    links = [
        {"sid": i, "prev": by_attempt[(e, credential[v], a - 1)]}
        for i, e, v, a, prev in subs
        if prev is None and a > 1 and (e, credential[v], a - 1) in by_attempt
    ]
    if links:
        conn.execute(
            table.update()
            .where(table.c.id == sa.bindparam("sid"))
            .values(previous_id=sa.bindparam("prev")),
            links,
        )


def _ensure_attempts(
    conn: Connection,
    rows: RatingRows,
    rv: NDArray[np.int64],
    assessor_id: NDArray[np.int64],
    context: NDArray[np.object_],
) -> NDArray[np.int64]:
    """Calibration-attempt ids from the ``round`` column (0 where a row has none)."""
    out = np.zeros(len(rows), dtype=np.int64)
    rounds = rows.column("round", "")
    has = np.flatnonzero(rounds != "")
    if not len(has):
        return out
    table = m.CalibrationAttempt.__table__  # type: ignore[attr-defined]
    stored = stored_keys(conn, m.CalibrationAttempt)
    codes, uniq = pd.factorize(rounds[has])
    first = first_index(codes, len(uniq))
    new = [
        (u, has[f]) for u, f in zip(uniq.tolist(), first.tolist(), strict=True) if u not in stored
    ]
    if new:
        postgres = conn.dialect.name == "postgresql"
        insert_new(
            conn,
            table.name,
            ["key", "assessor_id", "rubric_version_id", "purpose", "started_at"],
            (
                (
                    u,
                    int(assessor_id[i]),
                    int(rv[i]),
                    str(context[i]),
                    None
                    if rows.timestamp is None or (moment := to_datetime(rows.timestamp[i])) is None
                    else db_time(moment, postgres),
                )
                for u, i in new
            ),
        )
        stored = stored_keys(conn, m.CalibrationAttempt)
    out[has] = lookup(rounds[has], {k: v[0] for k, v in stored.items()})
    return out


def _against_stored(
    conn: Connection, keys: NDArray[np.int64], score: NDArray[np.int64], rows: RatingRows
) -> tuple[NDArray[np.bool_], list[Problem]]:
    """Which rows are new. A row matching any stored revision of its rating is not new (so a
    file re-imported after a correction adds nothing); any other score for it is a conflict.
    Rows with a key not stored yet (:data:`NEW`) are new."""
    new = np.ones(len(score), dtype=bool)
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    known = ~(keys == NEW).any(axis=1)
    if not known.any() or conn.execute(sa.select(rating.c.id).limit(1)).first() is None:
        return new, []
    stored: dict[tuple[int, ...], set[int]] = {}
    assessors = np.unique(keys[known, 0]).tolist()
    for start in range(0, len(assessors), 10_000):  # only the file's assessors' ratings
        for a, s, an, c, t, sc in conn.execute(
            sa.select(
                rating.c.assessor_id,
                rating.c.submission_id,
                rating.c.anchor_id,
                rating.c.criterion_id,
                rating.c.calibration_attempt_id,
                rating.c.score,
            ).where(rating.c.assessor_id.in_(assessors[start : start + 10_000]))
        ):
            stored.setdefault((a, s or 0, an or 0, c, t or 0), set()).add(sc)
    conflicts: list[Problem] = []
    for i in np.flatnonzero(known).tolist():
        scores = stored.get(tuple(keys[i].tolist()))
        if scores is None:
            continue
        new[i] = False
        if score[i] not in scores and len(conflicts) < MAX_PROBLEMS:
            conflicts.append(
                Problem(
                    rows.source,
                    f"rating already stored with score {sorted(scores)[-1]}; to change it, record "
                    "a correction (calibrate correct), which keeps the old revision",
                    int(rows.line[i]),
                    "score",
                )
            )
    return new, conflicts


RATING_COLUMNS = (
    "assessor_id",
    "submission_id",
    "anchor_id",
    "criterion_id",
    "calibration_attempt_id",
    "score",
    "context",
    "rated_at",
    "revision",
    "recorded_by",
    "recorded_at",
    "import_batch_id",
)


def _bulk_insert_ratings(
    conn: Connection,
    keys: NDArray[np.int64],
    score: NDArray[np.int64],
    context: NDArray[np.object_],
    timestamp: NDArray[np.datetime64] | None,
    *,
    recorded_by: str,
    batch: int,
    progress: Progress | None,
) -> None:
    """Insert ratings in chunks with :func:`bulk_insert`, reporting progress.

    The foreign keys are checked row by row (PostgreSQL takes a share lock on each referenced
    key), never by dropping and re-adding them: that would lock the table against readers until
    the import commits.
    """
    n = len(score)
    postgres = conn.dialect.name == "postgresql"
    cols: list[list[Any]] = [
        keys[:, 0].tolist(),
        *(nullable(keys[:, j]) for j in (1, 2)),
        keys[:, 3].tolist(),
        nullable(keys[:, 4]),
        score.tolist(),
        context.tolist(),
        timestamps(timestamp, n, postgres),
    ]
    fixed = (1, recorded_by, db_time(datetime.now(UTC), postgres), batch)
    for start in range(0, n, CHUNK):
        part = [c[start : start + CHUNK] for c in cols]
        bulk_insert(
            conn, "rating", RATING_COLUMNS, ((*row, *fixed) for row in zip(*part, strict=True))
        )
        if progress is not None:
            progress(min(start + CHUNK, n), n, "writing")


NO_TIME = -(2**62)  # microseconds standing for "no rating time" in bulk reads


def load_ratings(
    *,
    engine: Engine,
    rubric: str | None = None,
    contexts: Iterable[str] = ("live",),
) -> Ratings:
    """Current ratings (corrections applied) as coded long arrays for the statistics core.

    ``rubric`` is ``id@version`` (one version) or ``id`` (all its versions); ``contexts`` selects
    live, practice, qualification and/or validity ratings. Units are submissions, or anchors
    (labelled ``anchor:<id>``) for anchor contexts. ``columns`` holds, as text in the form
    reading a ratings file gives (:meth:`calibrate.ratings.RatingRows.encode`), every column a
    ratings file carries and the import batch:

    - ``timestamp``: UTC ISO 8601 (``2026-03-01T14:05:00Z``; microseconds when not whole seconds);
    - ``attempt``, ``earner``: the submission's (empty for anchors and where not known);
    - ``rubric``: ``id@version``; ``context``: lowercase; ``round``: the calibration round;
    - ``batch``: the id of the import that stored the rating (empty for a correction).

    Empty text means none. Rows come in order of rating time (rows without one first), then of
    storing, so ``select(keep=...)`` picks first or latest readings. All is read from one
    snapshot of the store (an import running meanwhile is not seen, and not waited for), with the
    database's bulk path (``COPY TO STDOUT`` on PostgreSQL, one cursor fetch on SQLite).

    Raises
    ------
    CalibrateError
        A ``rubric`` whose version is not a whole number 1..2_147_483_647, or an unknown context.
    """
    contexts = list(contexts)
    unknown = [c for c in contexts if c not in CONTEXTS]
    if unknown:
        raise CalibrateError(f"unknown context {unknown[0]!r} (one of {', '.join(CONTEXTS)})")
    rid, version = parse_rubric_key(rubric) if rubric else (None, None)
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    rvt = m.RubricVersion.__table__  # type: ignore[attr-defined]
    with reading(engine) as conn:
        versions = {
            i: (key, v)
            for i, key, v in conn.execute(sa.select(rvt.c.id, rvt.c.rubric_key, rvt.c.version))
        }
        criteria = {
            i: (key, v)
            for i, key, v in conn.execute(
                sa.select(crit.c.id, crit.c.key, crit.c.rubric_version_id)
            )
        }
        query = sa.select(
            rating.c.id,
            func.coalesce(rating.c.submission_id, -rating.c.anchor_id),
            rating.c.assessor_id,
            rating.c.criterion_id,
            rating.c.score,
            func.coalesce(rating.c.calibration_attempt_id, 0),
            func.coalesce(rating.c.import_batch_id, 0),
            sa.case({c: i for i, c in enumerate(CONTEXTS)}, value=rating.c.context, else_=-1),
            func.coalesce(micros(conn, rating.c.rated_at), NO_TIME),
        ).where(rating.c.context.in_(contexts))
        if rid is not None:
            chosen = {i for i, (key, v) in versions.items() if key == rid and version in (None, v)}
            query = query.where(
                rating.c.criterion_id.in_(
                    sorted(c for c, (_, v) in criteria.items() if v in chosen)
                )
            )
        arr = fetch_ints(conn, query, 9)
        superseded = conn.execute(  # few: corrections are rare; cheaper than an anti-join
            sa.select(rating.c.supersedes_id).where(rating.c.supersedes_id.is_not(None))
        ).scalars()
        arr = arr[~np.isin(arr[:, 0], np.fromiter(superseded, dtype=np.int64))]
        arr = arr[np.lexsort((arr[:, 0], arr[:, 8]))]
        sub = m.Submission.__table__  # type: ignore[attr-defined]
        submissions = conn.execute(
            sa.select(sub.c.id, sub.c.key, sub.c.earner_id, sub.c.attempt)
        ).all()
        units = {i: k for i, k, _, _ in submissions}
        units.update({-i: f"anchor:{k}" for k, (i,) in stored_keys(conn, m.Anchor).items()})
        assessors = {i: k for k, (i,) in stored_keys(conn, m.Assessor).items()}
        earners = {i: k for k, (i,) in stored_keys(conn, m.Earner).items()}
        rounds = {i: k for k, (i,) in stored_keys(conn, m.CalibrationAttempt).items()}
    target = arr[:, 1]
    earner_of = {i: earners[e] for i, _, e, _ in submissions if e is not None}
    attempt_of = {i: str(a) for i, _, _, a in submissions if a is not None}
    unit, unit_labels = _coded(target, units)
    rater, rater_labels = _coded(arr[:, 2], assessors)
    criterion, criterion_labels = _coded(arr[:, 3], {i: k for i, (k, _) in criteria.items()})
    return Ratings(
        unit=unit,
        rater=rater,
        criterion=criterion,
        value=arr[:, 4].astype(np.float64),
        units=unit_labels,
        raters=rater_labels,
        criteria=criterion_labels,
        columns={
            "timestamp": _iso_text(arr[:, 8]),
            "attempt": _text(target, attempt_of.get),
            "rubric": _text(arr[:, 3], lambda c: "{}@{}".format(*versions[criteria[c][1]])),
            "context": _text(arr[:, 7], lambda i: CONTEXTS[i] if i >= 0 else ""),
            "earner": _text(target, earner_of.get),
            "round": _text(arr[:, 5], rounds.get),
            "batch": _text(arr[:, 6], lambda b: str(b) if b else ""),
        },
    )


def _text(ids: NDArray[np.int64], label: Callable[[int], str | None]) -> NDArray[np.object_]:
    """Text per row from integer ids, ``label`` called once per distinct id (None -> empty)."""
    codes, uniq = pd.factorize(ids)
    names = np.array([label(i) or "" for i in uniq.tolist()], dtype=object)
    return names[codes]


def _iso_text(micros: NDArray[np.int64]) -> NDArray[np.object_]:
    """:func:`calibrate.ratings.iso_utc` of microseconds since 1970 (:data:`NO_TIME`: empty),
    once per distinct time."""
    codes, uniq = pd.factorize(micros)
    moments = np.where(uniq == NO_TIME, np.iinfo(np.int64).min, uniq).view("datetime64[us]")
    return iso_utc(moments)[codes]


def _coded(
    ids: NDArray[np.int64], labels: Mapping[int, str]
) -> tuple[NDArray[np.int64], tuple[str, ...]]:
    """Codes of database ids following their sorted labels, as :meth:`RatingRows.encode` codes a
    file, so that the store and an export of it give the same codes.

    Not :func:`calibrate.ratings.factorize` of the labels: the ids are coded, so two records that
    share a label (criterion ``reflection`` of two rubrics, an anchor id reused in a later rubric
    version) keep distinct codes when one load spans them. The codes agree with ``factorize``
    whenever the labels are distinct, as they are within one rubric version.
    """
    used, inverse = np.unique(ids, return_inverse=True)
    names = [labels[i] for i in used.tolist()]
    order = np.argsort(np.array(names, dtype=object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse], tuple(names[i] for i in order.tolist())


def assessor_ratings(
    *, engine: Engine, assessor: str, issuers: Collection[str] | None
) -> list[dict[str, Any]]:
    """The current ratings of one assessor (under the rubric versions of ``issuers``; None:
    all), oldest first: rubric, target (``("s", id)`` a submission, ``("a", id)`` an anchor),
    criterion, score, context, time, revision. Internal ids only; the services turn targets
    into handles."""
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    who = m.Assessor.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    rv = m.RubricVersion.__table__  # type: ignore[attr-defined]
    owner = m.Issuer.__table__  # type: ignore[attr-defined]
    later = rating.alias("later")
    query = (
        sa.select(
            rv.c.rubric_key,
            rv.c.version,
            rating.c.submission_id,
            rating.c.anchor_id,
            crit.c.key,
            rating.c.score,
            rating.c.context,
            rating.c.rated_at,
            rating.c.revision,
        )
        .select_from(
            rating.join(who, who.c.id == rating.c.assessor_id)
            .join(crit, crit.c.id == rating.c.criterion_id)
            .join(rv, rv.c.id == crit.c.rubric_version_id)
            .outerjoin(owner, owner.c.id == rv.c.issuer_id)
        )
        .where(
            who.c.key == assessor,
            ~sa.exists().where(later.c.supersedes_id == rating.c.id),
        )
        .order_by(rating.c.rated_at, rating.c.id)
    )
    if issuers is not None:
        query = query.where(owner.c.key.in_(list(issuers)))
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    return [
        {
            "rubric": f"{key}@{version}",
            "target": ("s", int(sub)) if sub is not None else ("a", int(anchor)),
            "criterion": criterion,
            "score": int(score),
            "context": context,
            "rated_at": rated_at,
            "revision": int(revision),
        }
        for key, version, sub, anchor, criterion, score, context, rated_at, revision in rows
    ]
