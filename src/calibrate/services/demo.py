"""Simulated programmes: ``calibrate simulate`` (files with known truth) and the demo programme
(shipped rubrics and anchor sets plus a simulated programme, in the store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from calibrate.errors import CalibrateError
from calibrate.settings import ANCHOR_SETS, RUBRICS
from calibrate.simulate import Programme, simulate_files
from calibrate.store import ImportReport, import_definition_dirs, import_ratings_file


@dataclass(frozen=True)
class DemoReport:
    definitions: ImportReport
    ratings: ImportReport
    ratings_csv: Path
    truth_json: Path
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "definitions": self.definitions.to_dict(),
            "ratings": self.ratings.to_dict(),
            "ratings_csv": str(self.ratings_csv),
            "truth_json": str(self.truth_json),
            "programme": self.summary,
        }


def simulate(
    rubrics_dir: Path,
    anchors_dir: Path,
    out: Path,
    *,
    size: str | int = "classroom",
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> Programme:
    """Simulate a programme on the rubric and anchor-set files and write ``out/ratings.csv``
    (the import format) and ``out/truth.json`` (:func:`calibrate.simulate.simulate_files`)."""
    return simulate_files(rubrics_dir, anchors_dir, out, size=size, seed=seed, progress=progress)


def simulate_demo(
    *,
    out: Path,
    size: str = "pilot",
    seed: int = 2026,
    rubrics_dir: Path = RUBRICS,
    anchors_dir: Path = ANCHOR_SETS,
    progress: Callable[[int, int, str], None] | None = None,
) -> Programme:
    """Simulate the demo programme on the shipped files into ``out`` (``ratings.csv``,
    ``truth.json``), touching no store: a bad size or invalid files fail here."""
    if not rubrics_dir.is_dir():
        raise CalibrateError(f"rubric folder {rubrics_dir} not found (run from a checkout)")
    return simulate_files(rubrics_dir, anchors_dir, out, size=size, seed=seed, progress=progress)


def store_demo(
    programme: Programme,
    *,
    engine: Engine,
    out: Path,
    rubrics_dir: Path = RUBRICS,
    anchors_dir: Path = ANCHOR_SETS,
    progress: Callable[[int, int, str], None] | None = None,
) -> DemoReport:
    """Store the shipped rubrics and anchor sets and import the simulated ``out/ratings.csv``
    through the same all-or-nothing import as any scoring platform's export. Running it again
    on the same store adds nothing."""
    definitions = import_definition_dirs(
        rubrics_dir, anchors_dir, engine=engine, imported_by="demo"
    )
    csv_path, truth_path = out / "ratings.csv", out / "truth.json"
    ratings = import_ratings_file(csv_path, engine=engine, imported_by="demo", progress=progress)
    return DemoReport(definitions, ratings, csv_path, truth_path, programme.summary().to_dict())


def build_demo(
    *,
    engine: Engine,
    out: Path,
    size: str = "pilot",
    seed: int = 2026,
    rubrics_dir: Path = RUBRICS,
    anchors_dir: Path = ANCHOR_SETS,
    progress: Callable[[int, int, str], None] | None = None,
) -> DemoReport:
    """:func:`simulate_demo`, then :func:`store_demo`: simulate first, so that a bad size or
    invalid files fail before anything reaches the store."""
    programme = simulate_demo(
        out=out,
        size=size,
        seed=seed,
        rubrics_dir=rubrics_dir,
        anchors_dir=anchors_dir,
        progress=progress,
    )
    return store_demo(
        programme,
        engine=engine,
        out=out,
        rubrics_dir=rubrics_dir,
        anchors_dir=anchors_dir,
        progress=progress,
    )
