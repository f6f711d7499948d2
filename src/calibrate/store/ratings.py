"""Ratings in the store: all-or-nothing imports from files, and reading the current ratings back
as coded long arrays for the statistics core (never ORM rows)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
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
    MAX_PROBLEMS,
    RatingRows,
    Ratings,
    parse_ratings,
)
from calibrate.rubric import Rubric, parse_rubric_key, rubric_from_data
from calibrate.store import models as m
from calibrate.store.bulk import (
    BULK_FK_ROWS,
    CHUNK,
    ImportReport,
    Progress,
    bulk_insert,
    db_time,
    ensure_keys,
    fetch_ints,
    first_index,
    foreign_keys_checked_once,
    lookup,
    nullable,
    stored_keys,
    timestamps,
    to_datetime,
)


@dataclass(frozen=True)
class _RubricInfo:
    id: int
    rubric: Rubric
    criteria: dict[str, int]
    anchors: dict[str, int]


def import_ratings_file(
    path: str | Path,
    *,
    engine: Engine,
    rubric: str | None = None,
    wide: bool = False,
    criterion: str | None = None,
    imported_by: str = "calibrate",
    progress: Progress | None = None,
) -> ImportReport:
    """Read, check and store a ratings CSV, all or nothing (see :func:`import_ratings`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise ValidationError([Problem(str(path), "file not found")]) from None
    rows = parse_ratings(data, source=str(path), wide=wide, criterion=criterion, progress=progress)
    return import_ratings(
        rows,
        engine=engine,
        rubric=rubric,
        sha256=hashlib.sha256(data).hexdigest(),
        imported_by=imported_by,
        progress=progress,
    )


def import_ratings(
    rows: RatingRows,
    *,
    engine: Engine,
    rubric: str | None = None,
    sha256: str = "",
    imported_by: str = "calibrate",
    progress: Progress | None = None,
) -> ImportReport:
    """Check ratings against their rubric versions and store them in one transaction.

    Each row names its rubric version in a ``rubric`` column (``id@version``, or ``id`` for the
    latest stored version) or takes ``rubric``. Ratings in the practice, qualification and validity
    contexts name an anchor of that rubric in the ``submission`` column; live ratings name a
    submission, created on first sight (with ``earner`` and ``attempt`` when the file has them, and
    linked to the earner's previous attempt). A rating already stored with the same score is
    skipped, so re-importing a file adds nothing; a different score for a stored rating is refused
    (corrections go through :func:`correct_rating`, which keeps the old revision).

    Raises
    ------
    ValidationError
        Every bad row (file, line, column, reason); the database is left as it was.
    """
    n = len(rows)
    context = rows.column("context", "live")
    is_anchor = np.isin(context, ANCHOR_CONTEXTS)
    with engine.begin() as conn:
        infos = _rubric_infos(conn)
        rv, problems = _resolve_rubrics(rows, rubric, infos)
        crit_id = np.zeros(n, dtype=np.int64)
        anchor_id = np.zeros(n, dtype=np.int64)
        for info in infos.values():
            idx = np.flatnonzero(rv == info.id)
            if len(idx):
                problems += _check_group(rows, idx, info, is_anchor, crit_id, anchor_id)
        stored_subs = stored_keys(conn, m.Submission, "rubric_version_id")
        problems += _submission_problems(rows, rv, ~is_anchor, stored_subs, infos)
        if problems:
            raise ValidationError(sorted(problems, key=lambda p: p.line or 0))

        now = db_time(datetime.now(UTC), conn.dialect.name == "postgresql")
        assessor_id = ensure_keys(conn, m.Assessor, rows.assessor, created_at=now)
        submission_id = np.zeros(n, dtype=np.int64)
        if (~is_anchor).any():
            submission_id[~is_anchor] = _ensure_submissions(conn, rows, ~is_anchor, rv, infos)
        attempt_id = _ensure_attempts(conn, rows, rv, assessor_id, context)
        keys = np.stack([assessor_id, submission_id, anchor_id, crit_id, attempt_id], axis=1)
        score = rows.score.astype(np.int64)
        new, conflicts = _against_stored(conn, keys, score, rows)
        if conflicts:
            raise ValidationError(conflicts)
        written = int(new.sum())
        if written:  # an import that adds nothing leaves no trace
            table = m.ImportBatch.__table__  # type: ignore[attr-defined]
            batch = conn.execute(
                table.insert().returning(table.c.id),
                {
                    "kind": "ratings",
                    "source": rows.source,
                    "sha256": sha256,
                    "n_rows": n,
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
    return ImportReport("ratings", rows.source, n, written, n - written)


def _rubric_infos(conn: Connection) -> dict[str, _RubricInfo]:
    """Stored rubric versions by ``id@version``, with their criterion and anchor ids."""
    rv = m.RubricVersion.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    anc = m.Anchor.__table__  # type: ignore[attr-defined]
    criteria: dict[int, dict[str, int]] = {}
    for rv_id, key, cid in conn.execute(sa.select(crit.c.rubric_version_id, crit.c.key, crit.c.id)):
        criteria.setdefault(rv_id, {})[key] = cid
    anchors: dict[int, dict[str, int]] = {}
    for rv_id, key, aid in conn.execute(sa.select(anc.c.rubric_version_id, anc.c.key, anc.c.id)):
        anchors.setdefault(rv_id, {})[key] = aid
    infos = {}
    for rv_id, definition in conn.execute(sa.select(rv.c.id, rv.c.definition).order_by(rv.c.id)):
        rubric = rubric_from_data(json.loads(definition), source=f"store:{rv_id}")
        infos[rubric.key] = _RubricInfo(
            rv_id, rubric, criteria.get(rv_id, {}), anchors.get(rv_id, {})
        )
    return infos


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
    stored: Mapping[str, tuple[int, ...]],
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
        attempt = rows.column("attempt", "")[rows_live]
        bulk_insert(
            conn,
            table.name,
            ["key", "rubric_version_id", "earner_id", "attempt"],
            (
                (uniq[j], int(rv[r]), int(e) or None, int(float(a)) if a else None)
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
        from sqlalchemy import bindparam

        conn.execute(
            table.update()
            .where(table.c.id == bindparam("sid"))
            .values(previous_id=bindparam("prev")),
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
        conn.execute(
            table.insert(),
            [
                {
                    "key": u,
                    "assessor_id": int(assessor_id[i]),
                    "rubric_version_id": int(rv[i]),
                    "purpose": str(context[i]),
                    "started_at": to_datetime(rows.timestamp[i])
                    if rows.timestamp is not None
                    else None,
                }
                for u, i in new
            ],
        )
        stored = stored_keys(conn, m.CalibrationAttempt)
    out[has] = lookup(rounds[has], {k: v[0] for k, v in stored.items()})
    return out


def _against_stored(
    conn: Connection, keys: NDArray[np.int64], score: NDArray[np.int64], rows: RatingRows
) -> tuple[NDArray[np.bool_], list[Problem]]:
    """Which rows are new. A row matching any stored revision of its rating is not new (so a
    file re-imported after a correction adds nothing); any other score for it is a conflict."""
    new = np.ones(len(score), dtype=bool)
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    if conn.execute(sa.select(func.count()).select_from(rating)).scalar_one() == 0:
        return new, []
    stored: dict[tuple[int, ...], set[int]] = {}
    assessors = np.unique(keys[:, 0]).tolist()
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
    for i, key in enumerate(map(tuple, keys.tolist())):
        scores = stored.get(key)
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


def current(rating: Any) -> Any:
    """SQL condition: the rating is not superseded by a correction."""
    later = rating.alias("later")
    return ~sa.select(later.c.id).where(later.c.supersedes_id == rating.c.id).exists()


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
    """Insert ratings in chunks with :func:`bulk_insert`, reporting progress."""
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
    with foreign_keys_checked_once(conn, bulk=postgres and n >= BULK_FK_ROWS):
        for start in range(0, n, CHUNK):
            part = [c[start : start + CHUNK] for c in cols]
            bulk_insert(
                conn, "rating", RATING_COLUMNS, ((*row, *fixed) for row in zip(*part, strict=True))
            )
            if progress is not None:
                progress(min(start + CHUNK, n), n, "writing")


def load_ratings(
    *,
    engine: Engine,
    rubric: str | None = None,
    contexts: Iterable[str] = ("live",),
) -> Ratings:
    """Current ratings (corrections applied) as coded long arrays for the statistics core.

    ``rubric`` is ``id@version`` (one version) or ``id`` (all its versions); ``contexts`` selects
    live, practice, qualification and/or validity ratings. Units are submissions, or anchors
    (labelled ``anchor:<id>``) for anchor contexts; ``columns["round"]`` holds the calibration
    attempt of each rating (empty for live ratings). Rows come in order of rating time (then of
    storing), so ``select(keep=...)`` picks first or latest readings. Rows are read with the
    database's bulk path
    (``COPY TO STDOUT`` on PostgreSQL, one cursor fetch on SQLite). A ``rubric`` whose version is
    not a whole number raises :class:`~calibrate.errors.CalibrateError`.
    """
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    rv = m.RubricVersion.__table__  # type: ignore[attr-defined]
    target = func.coalesce(rating.c.submission_id, -rating.c.anchor_id)
    query = (
        sa.select(
            target,
            rating.c.assessor_id,
            rating.c.criterion_id,
            rating.c.score,
            func.coalesce(rating.c.calibration_attempt_id, 0),
        )
        .join(crit, crit.c.id == rating.c.criterion_id)
        .join(rv, rv.c.id == crit.c.rubric_version_id)
        .where(rating.c.context.in_(list(contexts)), current(rating))
        .order_by(rating.c.rated_at.asc().nulls_first(), rating.c.id)
    )
    if rubric:
        rid, version = parse_rubric_key(rubric)
        query = query.where(rv.c.rubric_key == rid)
        if version is not None:
            query = query.where(rv.c.version == version)
    with engine.connect() as conn:
        arr = fetch_ints(conn, query, 5)
        units = {i: k for k, (i,) in stored_keys(conn, m.Submission).items()}
        units.update({-i: f"anchor:{k}" for k, (i,) in stored_keys(conn, m.Anchor).items()})
        assessors = {i: k for k, (i,) in stored_keys(conn, m.Assessor).items()}
        criteria: dict[int, str] = {i: k for i, k in conn.execute(sa.select(crit.c.id, crit.c.key))}
        rounds = {i: k for k, (i,) in stored_keys(conn, m.CalibrationAttempt).items()}
        rounds[0] = ""
    unit, unit_labels = _coded(arr[:, 0], units)
    rater, rater_labels = _coded(arr[:, 1], assessors)
    criterion, criterion_labels = _coded(arr[:, 2], criteria)
    return Ratings(
        unit=unit,
        rater=rater,
        criterion=criterion,
        value=arr[:, 3].astype(np.float64),
        units=unit_labels,
        raters=rater_labels,
        criteria=criterion_labels,
        columns={"round": np.array([rounds[i] for i in arr[:, 4].tolist()], dtype=object)},
    )


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
