"""Rubrics and anchor sets: check files, store them, list what the store holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from calibrate.access import Actor, require
from calibrate.anchors import load_anchor_sets
from calibrate.errors import AccessDenied
from calibrate.rubric import Rubric, load_rubrics
from calibrate.store import ImportReport, import_definition_dirs, stored_rubrics


@dataclass(frozen=True)
class DefinitionCheck:
    """What a folder of rubrics (and anchor sets) holds, all of it valid."""

    n_rubrics: int
    n_anchor_sets: int


def validate_definitions(rubrics_dir: Path, anchors_dir: Path | None = None) -> DefinitionCheck:
    """Check rubric and anchor-set files without storing anything.

    Raises
    ------
    ValidationError
        Every problem in the files (file, line, field, reason).
    """
    found = load_rubrics(rubrics_dir)
    known = {(r.id, r.version): r for r in found}
    sets = load_anchor_sets(anchors_dir, known) if anchors_dir is not None else []
    return DefinitionCheck(len(found), len(sets))


def import_definitions(
    rubrics_dir: Path,
    anchors_dir: Path | None = None,
    *,
    engine: Engine,
    actor: Actor,
    issuer: str | None = None,
) -> ImportReport:
    """Validate every rubric and anchor-set file of the folders, then store them all or
    nothing (:func:`calibrate.store.import_definition_dirs`), owned by ``issuer``: an
    administrator's own (the default), or for the operator any (default ``default``).

    Raises
    ------
    AccessDenied
        Not an administrator or the operator; another issuer than the administrator's.
    """
    require(actor, "definitions.import")
    if not actor.is_operator:
        if issuer is not None and issuer != actor.issuer:
            raise AccessDenied(f"{actor.name} imports for issuer {actor.issuer!r} only")
        issuer = actor.issuer
    return import_definition_dirs(
        rubrics_dir,
        anchors_dir,
        engine=engine,
        imported_by=actor.name,
        issuer=issuer or "default",
    )


def rubrics(*, engine: Engine, actor: Actor) -> list[Rubric]:
    """The rubric versions ``actor`` may read (their issuer's; a board reviewer's granted
    issuers'; all for the operator), in the order they were stored."""
    require(actor, "rubrics.read")
    return stored_rubrics(engine=engine, issuers=actor.issuers)
