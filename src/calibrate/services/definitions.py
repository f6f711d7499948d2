"""Rubrics and anchor sets: check files, store them, list what the store holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from calibrate.anchors import load_anchor_sets
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
    rubrics_dir: Path, anchors_dir: Path | None = None, *, engine: Engine, by: str
) -> ImportReport:
    """Validate every rubric and anchor-set file of the folders, then store them all or
    nothing (:func:`calibrate.store.import_definition_dirs`)."""
    return import_definition_dirs(rubrics_dir, anchors_dir, engine=engine, imported_by=by)


def rubrics(*, engine: Engine) -> list[Rubric]:
    """Every rubric version in the store, in the order they were stored."""
    return stored_rubrics(engine=engine)
