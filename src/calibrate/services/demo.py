"""Simulated programmes: ``calibrate simulate`` (files with known truth) and the demo programme
(shipped rubrics and anchor sets plus a simulated programme, in the store).

A demo programme is one size and seed: its files (``ratings.csv``, ``truth.json`` in the ``out``
folder) and its ratings in the store belong together. Building the same demo again on the same
store and folder adds nothing; building a different one where another programme already is (a
folder holding other demo files, a store holding ratings but not this demo's) is refused before
anything is written, so that neither the other programme's files nor the store change.

The simulated programme is the demo's historical term; on top of it, the demo issuer's current
term is played through the calibration workflow (:mod:`calibrate.services.demo_workflow`).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from calibrate.access import Actor, require
from calibrate.errors import CalibrateError
from calibrate.ratings import CONTEXTS
from calibrate.services.connection import connected
from calibrate.services.demo_workflow import WorkflowReport, play_workflow
from calibrate.settings import shipped
from calibrate.simulate import Programme, simulate_files, simulate_programme
from calibrate.store import ImportReport, counts, import_definition_dirs, import_ratings_file
from calibrate.store import load_ratings as load_stored_ratings

DEFAULT_SIZE, DEFAULT_SEED = "pilot", 2026
FILES = ("ratings.csv", "truth.json")
"""What a demo writes into its ``out`` folder."""


class DemoConflict(CalibrateError):
    """The store or the folder already holds another programme; nothing was written."""


@dataclass(frozen=True)
class DemoReport:
    definitions: ImportReport
    ratings: ImportReport
    ratings_csv: Path
    truth_json: Path
    summary: dict[str, Any]
    workflow: WorkflowReport | None = None
    """The current term played through the workflow; None when not asked for, or when the store
    held it already."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "definitions": self.definitions.to_dict(),
            "ratings": self.ratings.to_dict(),
            "ratings_csv": str(self.ratings_csv),
            "truth_json": str(self.truth_json),
            "programme": self.summary,
            "workflow": None if self.workflow is None else self.workflow.to_dict(),
        }


def simulate(
    rubrics_dir: Path | None,
    anchors_dir: Path | None,
    out: Path,
    *,
    size: str | int = "classroom",
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> Programme:
    """Simulate a programme on the rubric and anchor-set files (default: the shipped ones) and
    write ``out/ratings.csv`` (the import format) and ``out/truth.json``
    (:func:`calibrate.simulate.simulate_files`)."""
    return simulate_files(
        rubrics_dir or shipped("rubrics"),
        anchors_dir or shipped("anchor_sets"),
        out,
        size=size,
        seed=seed,
        progress=progress,
    )


def simulate_demo(
    *,
    size: str = DEFAULT_SIZE,
    seed: int = DEFAULT_SEED,
    out: Path | None = None,
    rubrics_dir: Path | None = None,
    anchors_dir: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Programme:
    """Simulate the demo programme on the shipped files (or those given), in memory: no file and
    no store is touched, so a bad size or invalid files fail here. ``out``, the folder the
    programme will be written to, is checked first: a file in its place fails at once, before
    the simulation."""
    if out is not None and out.exists() and not out.is_dir():
        raise CalibrateError(f"cannot write to {out}: not a folder")
    from calibrate.anchors import load_anchor_sets
    from calibrate.rubric import load_rubrics
    from calibrate.simulate import preset_name

    wanted = preset_name(size)
    rubrics = load_rubrics(rubrics_dir or shipped("rubrics"))
    if not rubrics:
        raise CalibrateError(f"no rubrics (*.yaml) found in {rubrics_dir}")
    sets = load_anchor_sets(
        anchors_dir or shipped("anchor_sets"), {(r.id, r.version): r for r in rubrics}
    )
    return simulate_programme(rubrics, sets, size=wanted, seed=seed, progress=progress)


DEMO_PASSWORD = "calibrate-demo"
"""The password of every demo account (demo mode prints it; never a real store)."""


def store_demo(
    programme: Programme,
    *,
    out: Path,
    actor: Actor,
    engine: Engine | None = None,
    database: str | None = None,
    rubrics_dir: Path | None = None,
    anchors_dir: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workflow: bool = True,
) -> DemoReport:
    """Write the programme's files into ``out`` and store it (in ``engine``, else the store at
    ``database``) with the shipped rubrics and anchor sets, its ratings through the same
    all-or-nothing import as any scoring platform's export.

    Running it again with the same programme on the same store and folder adds nothing (also
    after other ratings were imported into that store, or some corrected).

    The demo issuer gets one account per role (:func:`demo_accounts`), made once, and then
    (``workflow``, as ``calibrate demo`` does) a current term played through the calibration
    workflow in the weeks before now (:func:`calibrate.services.demo_workflow.play_workflow`:
    qualification rounds, a live queue, adjudications waiting, a suspension), also once.

    Raises
    ------
    AccessDenied
        Not the operator.
    DemoConflict
        ``out`` holds the files of another programme (checked before the store is opened), or
        the store holds ratings but not this programme's: nothing is written (files and store
        unchanged).
    """
    require(actor, "demo.build")
    with tempfile.TemporaryDirectory(prefix="calibrate-demo-") as tmp:
        staged = Path(tmp)
        programme.write_csv(staged / "ratings.csv")
        programme.write_truth(staged / "truth.json")
        _check_folder(programme, staged, out)
        if engine is None:
            with connected(database) as opened:
                return _store(programme, staged, opened, out, rubrics_dir, anchors_dir,
                              progress, actor, workflow)  # fmt: skip
        return _store(programme, staged, engine, out, rubrics_dir, anchors_dir, progress, actor,
                      workflow)  # fmt: skip


def _store(
    programme: Programme,
    staged: Path,
    engine: Engine,
    out: Path,
    rubrics_dir: Path | None,
    anchors_dir: Path | None,
    progress: Callable[[int, int, str], None] | None,
    actor: Actor,
    workflow: bool,
) -> DemoReport:
    _check_store(programme, engine=engine)
    definitions = import_definition_dirs(
        rubrics_dir or shipped("rubrics"),
        anchors_dir or shipped("anchor_sets"),
        engine=engine,
        imported_by=actor.name,
        issuer=DEMO_ISSUER,
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            shutil.copyfile(staged / name, out / name)
    except OSError as exc:
        raise CalibrateError(f"cannot write to {out}: {exc.strerror or exc}") from None
    csv_path, truth_path = out / "ratings.csv", out / "truth.json"
    ratings = import_ratings_file(
        csv_path, engine=engine, imported_by=actor.name, progress=progress
    )
    _demo_accounts(programme, engine=engine, actor=actor)
    term = None
    if workflow:
        term = play_workflow(
            programme,
            engine=engine,
            actor=actor,
            now=datetime.now(UTC),
            rng=np.random.default_rng(programme.seed),
            progress=progress,
        )
    return DemoReport(
        definitions, ratings, csv_path, truth_path, programme.summary().to_dict(), term
    )


DEMO_ISSUER = "demo"


def demo_accounts() -> list[tuple[str, str, str]]:
    """The demo accounts: ``(user name, role, what to try)``; the password is
    :data:`DEMO_PASSWORD`."""
    return [
        (
            "demo-admin",
            "admin",
            "qualifications (one assessor suspended, with the reason), results of the live "
            "work, the audit log; analyses, accounts and verify",
        ),
        (
            "demo-lead",
            "lead",
            "resolve the adjudications waiting; the issuer's ratings and answer keys; corrections",
        ),
        (
            "demo-assessor",
            "assessor",
            "only their own ratings, validity anchors unmarked; practise and take a "
            "qualification round on crsel-intro; score the submissions waiting in My queue",
        ),
        ("demo-board", "board", "pseudonymised aggregates of the demo issuer"),
    ]


def _demo_accounts(programme: Programme, *, engine: Engine, actor: Actor) -> None:
    """Add the demo accounts that are missing; the assessor and lead are the programme's first
    two assessors."""
    from calibrate.services.accounts import add_account
    from calibrate.store.accounts import find_account

    assessors = sorted(set(programme.column("assessor")))
    keys = {"demo-assessor": assessors[0], "demo-lead": assessors[1 % len(assessors)]}
    for username, role, _ in demo_accounts():
        if find_account(engine=engine, username=username) is not None:
            continue
        add_account(
            engine=engine,
            actor=actor,
            username=username,
            role=role,
            password=DEMO_PASSWORD,
            issuer=None if role == "board" else DEMO_ISSUER,
            assessor=keys.get(username),
            display_name=f"Demo {role}",
            grants=(DEMO_ISSUER,) if role == "board" else (),
        )


def build_demo(
    *,
    engine: Engine,
    out: Path,
    size: str = DEFAULT_SIZE,
    seed: int = DEFAULT_SEED,
    rubrics_dir: Path | None = None,
    anchors_dir: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    actor: Actor,
    workflow: bool = True,
) -> DemoReport:
    """:func:`simulate_demo`, then :func:`store_demo`: simulate first, so that a bad size or
    invalid files fail before anything reaches the store or the folder.

    ``workflow=False`` leaves out the current term (:mod:`calibrate.services.demo_workflow`):
    the store then holds the simulated programme alone and answers as its files do."""
    programme = simulate_demo(
        size=size,
        seed=seed,
        out=out,
        rubrics_dir=rubrics_dir,
        anchors_dir=anchors_dir,
        progress=progress,
    )
    return store_demo(
        programme,
        engine=engine,
        actor=actor,
        out=out,
        rubrics_dir=rubrics_dir,
        anchors_dir=anchors_dir,
        progress=progress,
        workflow=workflow,
    )


# --- is the store or the folder another programme's? ------------------------------------------


def _label(programme: Programme) -> str:
    return f"the {programme.summary_size} demo (seed {programme.seed})"


def _elsewhere(programme: Programme) -> str:
    """The advice of a refusal: the command that builds this demo in a store and folder of its
    own."""
    size, seed = programme.summary_size, programme.seed
    name, seeded = (size, "") if seed == DEFAULT_SEED else (f"{size}-{seed}", f" --seed {seed}")
    return (
        "to build it beside the other programme, give it a store and a folder of its own: "
        f"calibrate demo --size {size}{seeded} --database sqlite:///var/{name}.db --out var/{name}"
    )


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_folder(programme: Programme, staged: Path, out: Path) -> None:
    """Refuse when ``out`` holds demo files that differ from this programme's."""
    differ = [
        name
        for name in FILES
        if (out / name).exists()
        and (not (out / name).is_file() or _digest(out / name) != _digest(staged / name))
    ]
    if differ:
        raise DemoConflict(
            f"{out} already holds the files of another programme ({_describe_folder(out)}), "
            f"not those of {_label(programme)}; {_elsewhere(programme)}"
        )


def _describe_folder(out: Path) -> str:
    """What the demo files in ``out`` are, from their ``truth.json`` where it says."""
    import json

    try:
        truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
        return f"the {truth['size']} demo, seed {truth['seed']}"
    except (OSError, ValueError, KeyError, TypeError):
        return ", ".join(name for name in FILES if (out / name).exists())


def _check_store(programme: Programme, *, engine: Engine) -> None:
    """Refuse when the store holds ratings but not every one of this programme's: the demo is
    built in an empty store, or is already there (then re-importing it adds nothing, whatever
    was imported or corrected since)."""
    if not counts(engine=engine).get("rating", 0):
        return
    stored = load_stored_ratings(engine=engine, contexts=CONTEXTS)
    context = programme.column("context")
    submission = programme.column("submission")
    unit = [s if c == "live" else f"anchor:{s}" for s, c in zip(submission, context, strict=True)]
    assessor, criterion = programme.column("assessor"), programme.column("criterion")
    ours = set(zip(unit, assessor, criterion, strict=True))
    theirs = {
        (stored.units[u], stored.raters[r], stored.criteria[c])
        for u, r, c in zip(
            stored.unit.tolist(), stored.rater.tolist(), stored.criterion.tolist(), strict=True
        )
    }
    if ours <= theirs:
        return
    where = engine.url.render_as_string(hide_password=True)
    raise DemoConflict(
        f"the store {where} already holds {len(stored):,} ratings of another programme, not "
        f"those of {_label(programme)}; {_elsewhere(programme)}"
    )
