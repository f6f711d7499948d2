"""The store: rubric versions, anchor sets and ratings in SQLite (default) or PostgreSQL.

Everything goes in through all-or-nothing imports (one transaction; any bad row and nothing is
written) and comes out as plain long arrays for the statistics core, never ORM rows. The schema is
managed by Alembic migrations, applied by :func:`open_store`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from numpy.typing import NDArray
from sqlalchemy import Engine, create_engine, event, func
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlmodel import Session, select

from calibrate import models as m
from calibrate.anchors import AnchorSet, anchor_set_from_data, load_anchor_sets
from calibrate.errors import CalibrateError, Problem, StoreError, ValidationError
from calibrate.ratings import (
    ANCHOR_CONTEXTS,
    MAX_PROBLEMS,
    RatingRows,
    Ratings,
    parse_ratings,
)
from calibrate.rubric import Rubric, load_rubrics, parse_rubric_key, rubric_from_data
from calibrate.settings import get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
Progress = Callable[[int, int, str], None]
_CHUNK = 50_000
_BULK_FK_ROWS = 20_000  # PostgreSQL imports this large check foreign keys once, not per row


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, rows written, rows already present (skipped)."""

    kind: str
    source: str
    n_rows: int
    n_written: int
    n_unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "rows": self.n_rows,
            "written": self.n_written,
            "unchanged": self.n_unchanged,
        }


# --- engine and migrations ---------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` and ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_store_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: the ``CALIBRATE_DATABASE_URL`` setting).

    SQLite files get their folder created and foreign keys enforced.
    """
    url = normalise_url(url or get_settings().database_url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {url!r}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() != "postgresql":
        raise StoreError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    return create_engine(url)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` with Alembic (empty database -> head on first use)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise StoreError(f"cannot open the database: {exc.orig}") from None


def open_store(url: str | None = None) -> Engine:
    """Engine for ``url`` with the schema migrated to head."""
    engine = create_store_engine(url)
    migrate(engine)
    return engine


# --- rubrics and anchor sets -------------------------------------------------------------------


def import_definitions(
    rubrics: Sequence[Rubric],
    anchor_sets: Sequence[AnchorSet] = (),
    *,
    engine: Engine,
    source: str = "api",
    imported_by: str = "calibrate",
) -> ImportReport:
    """Store rubric versions and anchor sets in one transaction.

    Content already stored under the same id and version is left alone; *different* content under
    a stored version is refused (a rubric that changes must carry a new version). Stored anchor
    sets do not change either: a changed set is stored as a new set, with a new id and new anchor
    ids (anchor ids are unique within a rubric version). Anchor-set problems name the set's file
    when it was read from one.
    """
    problems: list[Problem] = []
    written = unchanged = 0
    with Session(engine) as session, session.begin():
        versions: dict[tuple[str, int], int] = {}
        for rubric in rubrics:
            row = _rubric_row(session, rubric.id, rubric.version)
            digest = rubric.content_hash()
            if row is not None:
                if row.content_hash != digest:
                    problems.append(
                        Problem(
                            source,
                            f"rubric {rubric.key} is already stored with different content; "
                            "a rubric that changes must carry a new version",
                            field="version",
                        )
                    )
                unchanged += 1
                assert row.id is not None
                versions[(rubric.id, rubric.version)] = row.id
                continue
            rv = m.RubricVersion(
                rubric_key=rubric.id,
                version=rubric.version,
                title=rubric.title,
                content_hash=digest,
                definition=json.dumps(rubric.to_dict(), ensure_ascii=False),
            )
            session.add(rv)
            session.flush()
            assert rv.id is not None
            versions[(rubric.id, rubric.version)] = rv.id
            session.add_all(
                m.Level(rubric_version_id=rv.id, score=lv.score, label=lv.label)
                for lv in rubric.levels
            )
            session.add_all(
                m.Criterion(
                    rubric_version_id=rv.id, key=c.id, title=c.title, part=c.part, position=i
                )
                for i, c in enumerate(rubric.criteria)
            )
            written += 1
        session.flush()
        for aset in anchor_sets:
            aset_source = aset.source or source
            rv_id = versions.get((aset.rubric_id, aset.rubric_version))
            if rv_id is None:
                row = _rubric_row(session, aset.rubric_id, aset.rubric_version)
                if row is None:
                    problems.append(
                        Problem(
                            aset_source,
                            f"anchor set {aset.id}: rubric {aset.rubric_key} is not stored",
                            field="rubric_version",
                        )
                    )
                    continue
                assert row.id is not None
                rv_id = row.id
            digest = _anchor_set_hash(aset)
            existing = session.exec(select(m.AnchorSet).where(m.AnchorSet.key == aset.id)).first()
            if existing is not None:
                if existing.content_hash != digest:
                    problems.append(
                        Problem(
                            aset_source,
                            f"anchor set {aset.id} is already stored with different content; "
                            "stored anchor sets do not change: store the changed set under a new "
                            "id, with new anchor ids (anchor ids are unique within a rubric "
                            "version)",
                            field="id",
                        )
                    )
                unchanged += 1
                continue
            row_set = m.AnchorSet(
                key=aset.id,
                rubric_version_id=rv_id,
                title=aset.title,
                content_hash=digest,
                definition=_anchor_set_json(aset),
            )
            session.add(row_set)
            session.flush()
            criteria: dict[str, int] = dict(
                session.exec(  # type: ignore[arg-type]
                    select(m.Criterion.key, m.Criterion.id).where(
                        m.Criterion.rubric_version_id == rv_id
                    )
                ).all()
            )
            for a in aset.anchors:
                clash = session.exec(
                    select(m.AnchorSet.key)
                    .join(m.Anchor, m.Anchor.anchor_set_id == m.AnchorSet.id)  # type: ignore[arg-type]
                    .where(m.Anchor.rubric_version_id == rv_id, m.Anchor.key == a.id)
                ).first()
                if clash is not None:
                    problems.append(
                        Problem(
                            aset_source,
                            f"anchor {a.id} of {aset.rubric_key} is already stored in anchor set "
                            f"{clash}; give it a new id (anchor ids are unique within a rubric "
                            "version)",
                            field="anchors.id",
                        )
                    )
                    continue
                assert row_set.id is not None
                anchor = m.Anchor(
                    anchor_set_id=row_set.id,
                    rubric_version_id=rv_id,
                    key=a.id,
                    purpose=a.purpose,
                    title=a.artifact.title,
                )
                session.add(anchor)
                session.flush()
                assert anchor.id is not None
                session.add_all(
                    m.AnchorScore(
                        anchor_id=anchor.id,
                        criterion_id=criteria[c],
                        score=s,
                        rationale=a.rationale[c],
                    )
                    for c, s in a.scores.items()
                )
            written += 1
        if problems:
            session.rollback()
            raise ValidationError(problems)
        n_rows = len(rubrics) + len(anchor_sets)
        if written:
            digests = [r.content_hash() for r in rubrics] + [
                _anchor_set_hash(a) for a in anchor_sets
            ]
            session.add(
                m.ImportBatch(
                    kind="definitions",
                    source=source,
                    sha256=hashlib.sha256("".join(digests).encode()).hexdigest(),
                    n_rows=n_rows,
                    n_written=written,
                    imported_by=imported_by,
                )
            )
    return ImportReport("definitions", source, n_rows, written, unchanged)


def import_definition_dirs(
    rubrics_dir: str | Path,
    anchors_dir: str | Path | None,
    *,
    engine: Engine,
    imported_by: str = "calibrate",
) -> ImportReport:
    """Validate every rubric (and anchor set) file in the folders, then store them all or nothing.

    Anchor sets may name rubric versions already in the store as well as those in ``rubrics_dir``.
    """
    rubrics = load_rubrics(rubrics_dir)
    known = {(r.id, r.version): r for r in stored_rubrics(engine=engine)}
    known.update({(r.id, r.version): r for r in rubrics})
    sets = load_anchor_sets(anchors_dir, known) if anchors_dir is not None else []
    return import_definitions(
        rubrics, sets, engine=engine, source=str(rubrics_dir), imported_by=imported_by
    )


def stored_rubrics(*, engine: Engine) -> list[Rubric]:
    """Every rubric version in the store, old versions included."""
    with Session(engine) as session:
        return _rubrics_where(session)


def stored_rubric(rubric: str, *, engine: Engine) -> Rubric:
    """The stored rubric version ``rubric``: ``id@version``, or ``id`` when the store holds one
    version of it.

    Raises
    ------
    StoreError
        Not in the store, or several versions and none chosen.
    CalibrateError
        ``rubric`` is not of the form ``id`` or ``id@version``.
    """
    rid, version = parse_rubric_key(rubric)
    with Session(engine) as session:
        found = _rubrics_where(session, *_rubric_filter(rid, version))
        if not found:
            stored = session.exec(select(m.RubricVersion.rubric_key, m.RubricVersion.version))
            known = ", ".join(sorted(f"{k}@{v}" for k, v in stored)) or "none"
            raise StoreError(f"rubric {rubric!r} is not in the store (stored: {known})")
    if len(found) > 1:
        raise StoreError(
            f"the store holds several versions of {rid} ({', '.join(r.key for r in found)}): "
            "choose one as ID@VERSION"
        )
    return found[0]


def stored_anchor_sets(*, engine: Engine, rubric: str | None = None) -> list[AnchorSet]:
    """The anchor sets in the store, validated against their stored rubric versions.

    ``rubric`` keeps the sets of one rubric version (``id@version``) or of every version of a
    rubric (``id``); None keeps all. Sets come in the order they were stored.
    """
    conditions = [] if rubric is None else _rubric_filter(*parse_rubric_key(rubric))
    with Session(engine) as session:
        rubrics = {(r.id, r.version): r for r in _rubrics_where(session, *conditions)}
        query = select(m.AnchorSet).order_by(m.AnchorSet.id)  # type: ignore[arg-type]
        if conditions:
            query = query.join(
                m.RubricVersion,
                m.RubricVersion.id == m.AnchorSet.rubric_version_id,  # type: ignore[arg-type]
            ).where(*conditions)
        rows = session.exec(query).all()
        return [
            anchor_set_from_data(json.loads(r.definition), rubrics, source=f"store:{r.key}")
            for r in rows
        ]


def _rubric_filter(rid: str, version: int | None) -> list[Any]:
    """SQL conditions on ``rubric_version`` for rubric ``rid`` (one version, or all of them)."""
    conditions = [m.RubricVersion.rubric_key == rid]
    if version is not None:
        conditions.append(m.RubricVersion.version == version)
    return conditions


def _rubrics_where(session: Session, *conditions: Any) -> list[Rubric]:
    """The stored rubric versions meeting ``conditions``, in the order they were stored."""
    rows = session.exec(
        select(m.RubricVersion).where(*conditions).order_by(m.RubricVersion.id)  # type: ignore[arg-type]
    ).all()
    return [
        rubric_from_data(json.loads(r.definition), source=f"store:{r.rubric_key}@{r.version}")
        for r in rows
    ]


def _rubric_row(session: Session, key: str, version: int) -> m.RubricVersion | None:
    return session.exec(
        select(m.RubricVersion).where(
            m.RubricVersion.rubric_key == key, m.RubricVersion.version == version
        )
    ).first()


def _anchor_set_json(aset: AnchorSet) -> str:
    return json.dumps(
        {
            "id": aset.id,
            "rubric": aset.rubric_id,
            "rubric_version": aset.rubric_version,
            "title": aset.title,
            "anchors": [a.model_dump(exclude_none=True) for a in aset.anchors],
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _anchor_set_hash(aset: AnchorSet) -> str:
    return hashlib.sha256(_anchor_set_json(aset).encode()).hexdigest()


# --- ratings -----------------------------------------------------------------------------------


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
        stored_subs = _stored_keys(conn, m.Submission, "rubric_version_id")
        problems += _submission_problems(rows, rv, ~is_anchor, stored_subs, infos)
        if problems:
            raise ValidationError(sorted(problems, key=lambda p: p.line or 0))

        now = _db_time(datetime.now(UTC), conn.dialect.name == "postgresql")
        assessor_id = _ensure_keys(conn, m.Assessor, rows.assessor, created_at=now)
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
    cid = _lookup(rows.criterion[idx], info.criteria)
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
    aid = _lookup(rows.submission[a_idx], info.anchors)
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
    owner = rv[idx][_first_index(codes, len(uniq))]
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


def _lookup(labels: NDArray[np.object_], ids: Mapping[str, int]) -> NDArray[np.int64]:
    """Map labels to ids (0 for unknown) with one dictionary lookup per distinct label."""
    codes, uniq = pd.factorize(labels)
    return np.array([ids.get(u, 0) for u in uniq.tolist()], dtype=np.int64)[codes]


def _stored_keys(conn: Connection, model: Any, *extra: str) -> dict[str, tuple[int, ...]]:
    """``key -> (id, *extra columns)`` for every row of a keyed table."""
    table = model.__table__
    cols = [table.c.key, table.c.id, *(table.c[e] for e in extra)]
    return {row[0]: tuple(row[1:]) for row in conn.execute(sa.select(*cols))}


def _ensure_keys(
    conn: Connection, model: Any, labels: NDArray[np.object_], **defaults: Any
) -> NDArray[np.int64]:
    """Ids for the keys in ``labels``, inserting the keys not stored yet (with ``defaults`` as
    database-ready values)."""
    table = model.__table__
    stored = {k: v[0] for k, v in _stored_keys(conn, model).items()}
    inverse, uniq = pd.factorize(labels)
    missing = [u for u in uniq.tolist() if u not in stored]
    if missing:
        _bulk_insert(
            conn, table.name, ["key", *defaults], ([k, *defaults.values()] for k in missing)
        )
        stored = {k: v[0] for k, v in _stored_keys(conn, model).items()}
    return np.array([stored[u] for u in uniq.tolist()], dtype=np.int64)[inverse]


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
    first = _first_index(codes, len(uniq))
    stored = _stored_keys(conn, m.Submission)
    new = [j for j, u in enumerate(uniq.tolist()) if u not in stored]
    if new:
        rows_live = np.flatnonzero(live)[first[new]]
        earner = rows.column("earner", "")[rows_live]
        earner_id = np.zeros(len(rows_live), dtype=np.int64)
        has_earner = earner != ""
        if has_earner.any():
            earner_id[has_earner] = _ensure_keys(conn, m.Earner, earner[has_earner])
        attempt = rows.column("attempt", "")[rows_live]
        _bulk_insert(
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
        stored = _stored_keys(conn, m.Submission)
    ids = np.array([stored[u][0] for u in uniq.tolist()], dtype=np.int64)
    return ids[codes]


def _first_index(codes: NDArray[np.intp], n: int) -> NDArray[np.intp]:
    """Index of the first occurrence of each code ``0..n-1`` (every code occurring).

    Equal to ``np.unique(codes, return_index=True)[1]``, in one O(n) scatter instead of a sort
    (about 20 times faster on 10 million rows): assigning in reverse, the first occurrence is
    written last and so kept.
    """
    first = np.empty(n, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return first


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
    stored = _stored_keys(conn, m.CalibrationAttempt)
    codes, uniq = pd.factorize(rounds[has])
    first = _first_index(codes, len(uniq))
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
                    "started_at": _to_datetime(rows.timestamp[i])
                    if rows.timestamp is not None
                    else None,
                }
                for u, i in new
            ],
        )
        stored = _stored_keys(conn, m.CalibrationAttempt)
    out[has] = _lookup(rounds[has], {k: v[0] for k, v in stored.items()})
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


def _current(rating: Any) -> Any:
    """SQL condition: the rating is not superseded by a correction."""
    later = rating.alias("later")
    return ~sa.select(later.c.id).where(later.c.supersedes_id == rating.c.id).exists()


_RATING_COLUMNS = (
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
    """Insert ratings in chunks with :func:`_bulk_insert`, reporting progress."""
    n = len(score)
    postgres = conn.dialect.name == "postgresql"
    cols: list[list[Any]] = [
        keys[:, 0].tolist(),
        *(_nullable(keys[:, j]) for j in (1, 2)),
        keys[:, 3].tolist(),
        _nullable(keys[:, 4]),
        score.tolist(),
        context.tolist(),
        _timestamps(timestamp, n, postgres),
    ]
    fixed = (1, recorded_by, _db_time(datetime.now(UTC), postgres), batch)
    with _foreign_keys_checked_once(conn, bulk=postgres and n >= _BULK_FK_ROWS):
        for start in range(0, n, _CHUNK):
            part = [c[start : start + _CHUNK] for c in cols]
            _bulk_insert(
                conn, "rating", _RATING_COLUMNS, ((*row, *fixed) for row in zip(*part, strict=True))
            )
            if progress is not None:
                progress(min(start + _CHUNK, n), n, "writing")


def _bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert rows (None = NULL) with the database's bulk path: COPY on PostgreSQL (psycopg
    escapes every value), one prepared statement with executemany on SQLite."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    names = ", ".join(columns)
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
            cursor.executemany(sql, rows)  # type: ignore[arg-type]  # sqlite3 takes any iterable
    finally:
        cursor.close()


def _db_time(moment: datetime, postgres: bool) -> str:
    """A UTC time as the text each database's DateTime column reads."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return text + "+00" if postgres else text


@contextmanager
def _foreign_keys_checked_once(conn: Connection, *, bulk: bool) -> Iterator[None]:
    """On PostgreSQL, for a large import: drop the rating table's foreign keys, then add them back.

    Re-adding a foreign key checks every row in one join, instead of one locking lookup per row
    per key (the advice of the PostgreSQL manual, "Populating a Database"). It happens inside the
    import's transaction, so a failed check rolls everything back; the table is locked meanwhile.
    """
    if not bulk:
        yield
        return
    keys = conn.exec_driver_sql(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'rating'::regclass AND contype = 'f' ORDER BY conname"
    ).all()
    conn.exec_driver_sql(
        "ALTER TABLE rating " + ", ".join(f'DROP CONSTRAINT "{name}"' for name, _ in keys)
    )
    yield
    conn.exec_driver_sql(
        "ALTER TABLE rating "
        + ", ".join(f'ADD CONSTRAINT "{name}" {definition}' for name, definition in keys)
    )


def _nullable(ids: NDArray[np.int64]) -> list[int | None]:
    return [i if i else None for i in ids.tolist()]


def _timestamps(ts: NDArray[np.datetime64] | None, n: int, postgres: bool) -> list[str | None]:
    """UTC timestamps as the text each database reads: ``YYYY-MM-DD HH:MM:SS.ffffff[+00]``."""
    if ts is None:
        return [None] * n
    text = np.datetime_as_string(ts, unit="us").astype("S26")
    text.view(np.uint8).reshape(n, 26)[:, 10] = ord(" ")  # the ISO "T" becomes a space
    out: list[Any] = text.astype("U26").tolist()
    if postgres:
        out = [t + "+00" for t in out]
    for i in np.flatnonzero(np.isnat(ts)).tolist():
        out[i] = None
    return out


def _to_datetime(value: np.datetime64) -> datetime | None:
    if np.isnat(value):
        return None
    return datetime.fromisoformat(str(value.astype("datetime64[us]"))).replace(tzinfo=UTC)


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
        .where(rating.c.context.in_(list(contexts)), _current(rating))
        .order_by(rating.c.rated_at.asc().nulls_first(), rating.c.id)
    )
    if rubric:
        rid, version = parse_rubric_key(rubric)
        query = query.where(rv.c.rubric_key == rid)
        if version is not None:
            query = query.where(rv.c.version == version)
    with engine.connect() as conn:
        arr = _fetch_ints(conn, query, 5)
        units = {i: k for k, (i,) in _stored_keys(conn, m.Submission).items()}
        units.update({-i: f"anchor:{k}" for k, (i,) in _stored_keys(conn, m.Anchor).items()})
        assessors = {i: k for k, (i,) in _stored_keys(conn, m.Assessor).items()}
        criteria: dict[int, str] = {i: k for i, k in conn.execute(sa.select(crit.c.id, crit.c.key))}
        rounds = {i: k for k, (i,) in _stored_keys(conn, m.CalibrationAttempt).items()}
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


def _fetch_ints(conn: Connection, query: sa.Select[Any], width: int) -> NDArray[np.int64]:
    """Run a query of non-null integer columns into an array of shape (n, width), in bulk."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    raw = conn.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            buf = io.BytesIO()
            with cursor.copy(f"COPY ({sql}) TO STDOUT") as copy:
                for block in copy:
                    buf.write(block)
            flat = np.array(buf.getvalue().split(), dtype=np.int64)
        else:
            cursor.execute(sql)
            flat = np.array(cursor.fetchall(), dtype=np.int64).ravel()
    finally:
        cursor.close()
    return flat.reshape(-1, width)


def correct_rating(
    rating_id: int, score: int, *, engine: Engine, recorded_by: str, reason: str
) -> int:
    """Record a corrected score for a rating; the old revision is kept. Returns the new id.

    Raises
    ------
    StoreError
        Unknown or already-corrected rating, or a score that is not a level of its rubric.
    """
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    level = m.Level.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        old = conn.execute(sa.select(rating).where(rating.c.id == rating_id)).mappings().first()
        if old is None:
            raise StoreError(f"no rating with id {rating_id}")
        newer = conn.execute(
            sa.select(rating.c.id).where(rating.c.supersedes_id == rating_id)
        ).first()
        if newer is not None:
            raise StoreError(
                f"rating {rating_id} was already corrected by rating {newer[0]}; correct that one"
            )
        levels = set(
            conn.execute(
                sa.select(level.c.score)
                .join(crit, crit.c.rubric_version_id == level.c.rubric_version_id)
                .where(crit.c.id == old["criterion_id"])
            ).scalars()
        )
        if score not in levels:
            raise StoreError(
                f"score {score} is not a level of the rubric (levels {sorted(levels)})"
            )
        values = {k: old[k] for k in _RATING_COLUMNS}
        values.update(
            score=score,
            revision=old["revision"] + 1,
            supersedes_id=rating_id,
            reason=reason,
            recorded_by=recorded_by,
            recorded_at=datetime.now(UTC),
            import_batch_id=None,
        )
        return int(conn.execute(rating.insert().returning(rating.c.id), values).scalar_one())


def rating_history(rating_id: int, *, engine: Engine) -> list[dict[str, Any]]:
    """Every revision of a rating, oldest first (follows corrections both ways)."""
    rating = m.Rating.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:

        def revision(condition: Any) -> dict[str, Any] | None:
            row = conn.execute(sa.select(rating).where(condition)).mappings().one_or_none()
            return None if row is None else dict(row)

        start = revision(rating.c.id == rating_id)
        if start is None:
            raise StoreError(f"no rating with id {rating_id}")
        chain = [start]  # one short query per revision: correction chains are short
        while chain[0]["supersedes_id"]:
            older = revision(rating.c.id == chain[0]["supersedes_id"])
            if older is None:  # ruled out by the foreign key
                break
            chain.insert(0, older)
        while (newer := revision(rating.c.supersedes_id == chain[-1]["id"])) is not None:
            chain.append(newer)
    return chain


_TABLES = (
    m.RubricVersion,
    m.Criterion,
    m.Level,
    m.AnchorSet,
    m.Anchor,
    m.AnchorScore,
    m.Assessor,
    m.Earner,
    m.Submission,
    m.CalibrationAttempt,
    m.ImportBatch,
    m.Rating,
)


def counts(*, engine: Engine) -> dict[str, int]:
    """Row counts per table (for status displays and tests)."""
    tables = [model.__table__ for model in _TABLES]  # type: ignore[union-attr]
    with engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(func.count()).select_from(t)).scalar_one()
            for t in tables
        }
