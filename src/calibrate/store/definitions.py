"""Rubric versions and anchor sets in the store: all-or-nothing imports, and reading them back
as validated domain objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, select

from calibrate.anchors import AnchorSet, anchor_set_from_data, load_anchor_sets
from calibrate.errors import Problem, StoreError, ValidationError
from calibrate.rubric import Rubric, load_rubrics, parse_rubric_key, rubric_from_data
from calibrate.store import models as m
from calibrate.store.accounts import issuer_id
from calibrate.store.audit import append_event
from calibrate.store.bulk import ImportReport
from calibrate.store.engine import reading, writing
from calibrate.store.guards import check_name


def import_definitions(
    rubrics: Sequence[Rubric],
    anchor_sets: Sequence[AnchorSet] = (),
    *,
    engine: Engine,
    source: str = "api",
    imported_by: str = "calibrate",
    issuer: str = "default",
) -> ImportReport:
    """Store rubric versions and anchor sets in one transaction, owned by ``issuer`` (created
    on first use) and audited.

    Content already stored under the same id and version is left alone; *different* content under
    a stored version is refused (a rubric that changes must carry a new version). Stored anchor
    sets do not change either: a changed set is stored as a new set, with a new id and new anchor
    ids (anchor ids are unique within a rubric version). Anchor-set problems name the set's file
    when it was read from one. The expert scores and rationales are stored once, in
    ``anchor_score``; the set's stored JSON holds the rest.

    Raises
    ------
    ValidationError
        Changed content under a stored version or set id, reused anchor ids, a set whose rubric
        version is not stored, a rubric version or anchor set another issuer owns; nothing is
        written.
    StoreError
        ``imported_by`` is not a name (empty, over 100 characters, control characters).
    """
    check_name(imported_by, "imported_by")
    problems: list[Problem] = []
    written = unchanged = 0
    with writing(engine) as conn, Session(bind=conn) as session:
        owner = issuer_id(conn, issuer, create=True, by=imported_by)
        versions: dict[tuple[str, int], int] = {}
        stored: list[str] = []
        for rubric in rubrics:
            row = _rubric_row(session, rubric.id, rubric.version)
            digest = rubric.content_hash()
            if row is not None:
                if row.issuer_id != owner:
                    problems.append(
                        Problem(
                            source,
                            f"rubric {rubric.key} belongs to another issuer; rubric ids are "
                            "shared by every issuer of the store: choose another id",
                            field="id",
                        )
                    )
                elif row.content_hash != digest:
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
                issuer_id=owner,
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
            stored.append(rubric.key)
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
                if row.issuer_id != owner:
                    problems.append(
                        Problem(
                            aset_source,
                            f"anchor set {aset.id}: rubric {aset.rubric_key} belongs to another "
                            "issuer",
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
                definition=_anchor_set_json(aset, scores=False),
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
            stored.append(f"anchor set {aset.id}")
        if problems:
            raise ValidationError(problems)  # rolls the transaction back
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
            append_event(
                conn,
                actor=imported_by,
                action="definitions.import",
                issuer=issuer,
                subject=source,
                detail={"stored": stored, "unchanged": unchanged},
            )
        session.flush()
    return ImportReport("definitions", source, n_rows, written, unchanged)


def import_definition_dirs(
    rubrics_dir: str | Path,
    anchors_dir: str | Path | None,
    *,
    engine: Engine,
    imported_by: str = "calibrate",
    issuer: str = "default",
) -> ImportReport:
    """Validate every rubric (and anchor set) file in the folders, then store them all or nothing,
    owned by ``issuer``.

    Anchor sets may name rubric versions already in the store as well as those in ``rubrics_dir``.
    """
    rubrics = load_rubrics(rubrics_dir)
    known = {(r.id, r.version): r for r in stored_rubrics(engine=engine)}
    known.update({(r.id, r.version): r for r in rubrics})
    sets = load_anchor_sets(anchors_dir, known) if anchors_dir is not None else []
    return import_definitions(
        rubrics,
        sets,
        engine=engine,
        source=str(rubrics_dir),
        imported_by=imported_by,
        issuer=issuer,
    )


def stored_rubrics(*, engine: Engine, issuers: Collection[str] | None = None) -> list[Rubric]:
    """Every rubric version in the store (of ``issuers`` alone when given), old versions
    included."""
    with reading(engine) as conn, Session(bind=conn) as session:
        return _rubrics_where(session, *_owned_by(issuers))


def _owned_by(issuers: Collection[str] | None) -> list[Any]:
    """SQL conditions on ``rubric_version`` for the rubrics of ``issuers`` (None: all)."""
    if issuers is None:
        return []
    owners = select(m.Issuer.id).where(m.Issuer.key.in_(list(issuers)))  # type: ignore[attr-defined]
    return [m.RubricVersion.issuer_id.in_(owners)]  # type: ignore[union-attr]


def stored_rubric(rubric: str, *, engine: Engine, issuers: Collection[str] | None = None) -> Rubric:
    """The stored rubric version ``rubric``: ``id@version``, or ``id`` when the store holds one
    version of it; with ``issuers``, a rubric of another issuer is not there.

    Raises
    ------
    StoreError
        Not in the store, or several versions and none chosen.
    CalibrateError
        ``rubric`` is not of the form ``id`` or ``id@version``.
    """
    rid, version = parse_rubric_key(rubric)
    with reading(engine) as conn, Session(bind=conn) as session:
        found = _rubrics_where(session, *_rubric_filter(rid, version), *_owned_by(issuers))
        if not found:
            stored = session.exec(
                select(m.RubricVersion.rubric_key, m.RubricVersion.version).where(
                    *_owned_by(issuers)
                )
            )
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
    rubric (``id``); None keeps all. Sets come in the order they were stored, their expert scores
    and rationales joined from ``anchor_score``.
    """
    conditions = [] if rubric is None else _rubric_filter(*parse_rubric_key(rubric))
    with reading(engine) as conn, Session(bind=conn) as session:
        rubrics = {(r.id, r.version): r for r in _rubrics_where(session, *conditions)}
        query = select(m.AnchorSet).order_by(m.AnchorSet.id)  # type: ignore[arg-type]
        if conditions:
            query = query.join(
                m.RubricVersion,
                m.RubricVersion.id == m.AnchorSet.rubric_version_id,  # type: ignore[arg-type]
            ).where(*conditions)
        rows = session.exec(query).all()
        answers = _expert_scores(conn, [r.id for r in rows if r.id is not None])
    sets = []
    for r in rows:
        data = json.loads(r.definition)
        for anchor in data["anchors"]:
            scores, rationale = answers.get((r.id, anchor["id"]), ({}, {}))
            anchor.update(scores=scores, rationale=rationale)
        sets.append(anchor_set_from_data(data, rubrics, source=f"store:{r.key}"))
    return sets


def _expert_scores(
    conn: sa.Connection, set_ids: Sequence[int]
) -> dict[tuple[int | None, str], tuple[dict[str, int], dict[str, str]]]:
    """``(anchor set id, anchor id) -> (scores, rationales)`` by criterion, in stored order."""
    anchor = m.Anchor.__table__  # type: ignore[attr-defined]
    crit = m.Criterion.__table__  # type: ignore[attr-defined]
    score = m.AnchorScore.__table__  # type: ignore[attr-defined]
    out: dict[tuple[int | None, str], tuple[dict[str, int], dict[str, str]]] = {}
    if not set_ids:
        return out
    for set_id, anchor_key, criterion, value, rationale in conn.execute(
        sa.select(
            anchor.c.anchor_set_id, anchor.c.key, crit.c.key, score.c.score, score.c.rationale
        )
        .join(anchor, anchor.c.id == score.c.anchor_id)
        .join(crit, crit.c.id == score.c.criterion_id)
        .where(anchor.c.anchor_set_id.in_(set_ids))
        .order_by(score.c.id)
    ):
        scores, rationales = out.setdefault((set_id, anchor_key), ({}, {}))
        scores[criterion] = value
        rationales[criterion] = rationale
    return out


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


def _anchor_set_json(aset: AnchorSet, *, scores: bool = True) -> str:
    """The set as canonical JSON; without ``scores``, its anchors leave out the expert scores and
    rationales (as stored: ``anchor_score`` holds them)."""
    hidden = None if scores else {"scores", "rationale"}
    return json.dumps(
        {
            "id": aset.id,
            "rubric": aset.rubric_id,
            "rubric_version": aset.rubric_version,
            "title": aset.title,
            "anchors": [a.model_dump(exclude_none=True, exclude=hidden) for a in aset.anchors],
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _anchor_set_hash(aset: AnchorSet) -> str:
    """SHA-256 of the whole set, expert scores and rationales included."""
    return hashlib.sha256(_anchor_set_json(aset).encode()).hexdigest()
