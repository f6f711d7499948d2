"""The README's main job: the demo programme lands in the store, once; a different demo never
overwrites it; an installed wheel builds it too."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from calibrate import cli, store
from calibrate.anchors import load_anchor_sets
from calibrate.errors import CalibrateError
from calibrate.ratings import ANCHOR_CONTEXTS
from calibrate.rubric import load_rubrics
from calibrate.services.demo import build_demo
from tests.conftest import OPERATOR, ROOT, Result


def test_demo_programme_in_store(engine: Engine, tmp_path: Path) -> None:
    report = build_demo(
        engine=engine,
        actor=OPERATOR,
        out=tmp_path / "demo",
        size="classroom",
        workflow=False,
        seed=7,
    )
    n = store.counts(engine=engine)
    # the demo stores the shipped rubric and anchor-set files, each once
    rubrics = load_rubrics(ROOT / "rubrics")
    sets = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    shipped = len(rubrics) + len(sets)
    assert report.definitions.n_written == n["rubric_version"] + n["anchor_set"] == shipped
    # every simulated rating is stored (the simulation's own count, per context)
    by_context = report.summary["ratings_by_context"]
    assert report.ratings.n_rows == report.ratings.n_written == n["rating"]
    assert n["rating"] == report.summary["ratings"] == sum(by_context.values()) > 0
    assert (tmp_path / "demo" / "truth.json").stat().st_size > 0
    live = store.load_ratings(engine=engine)
    anchors = store.load_ratings(engine=engine, contexts=["practice", "qualification", "validity"])
    assert len(live) + len(anchors) == n["rating"]
    assert len(live) == by_context["live"]
    assert len(anchors) == sum(by_context[c] for c in ANCHOR_CONTEXTS)
    assert all(u.startswith("anchor:") for u in anchors.units)
    assert n["calibration_attempt"] > 0 and n["submission"] > 0
    again = build_demo(
        engine=engine,
        actor=OPERATOR,
        out=tmp_path / "demo",
        size="classroom",
        workflow=False,
        seed=7,
    )
    assert again.ratings.n_written == 0 and again.definitions.n_written == 0
    assert store.counts(engine=engine) == n


def test_bad_demo_size_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    before = store.counts(engine=engine)
    with pytest.raises(CalibrateError, match="size must be one of classroom, pilot, state"):
        build_demo(engine=engine, actor=OPERATOR, out=tmp_path / "demo", size="county")
    assert store.counts(engine=engine) == before


# --- a second demo where one already is ---------------------------------------------------------


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def status(calibrate: Callable[..., Result], db: str) -> dict[str, int]:
    out = calibrate("status", "--json", db=db)
    assert out.returncode == 0, out.stderr
    counts: dict[str, int] = json.loads(out.stdout)
    return counts


def test_a_different_demo_is_refused_before_anything_is_written(
    calibrate: Callable[..., Result], tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``./scripts/demo`` (pilot) then ``calibrate demo --size classroom --no-serve`` overwrote
    the pilot's files and failed with 486 problems. Two classroom demos of different seeds stand
    for them here (the same rule, a tenth of the time)."""
    first = calibrate("demo", "--size", "classroom", "--seed", "7", "--no-serve", db=db_url,
                      cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    files, counts = snapshot(tmp_path), status(calibrate, db_url)

    again = calibrate("demo", "--size", "classroom", "--no-serve")
    assert again.returncode == 1 and again.stdout == ""
    errors = [line for line in again.stderr.splitlines() if not line.startswith("simulate: ")]
    assert errors == [
        "error: var/demo already holds the files of another programme (the classroom demo, "
        "seed 7), not those of the classroom demo (seed 2026); to build it beside the other "
        "programme, give it a store and a folder of its own: calibrate demo --size classroom "
        "--database sqlite:///var/classroom.db --out var/classroom",
        "nothing was written",
    ]
    assert snapshot(tmp_path) == files and status(calibrate, db_url) == counts

    # Another folder, the same store: the store's ratings are not this demo's.
    other = calibrate("demo", "--size", "classroom", "--no-serve", "--out", "var/elsewhere")
    assert other.returncode == 1
    message = other.stderr.splitlines()[-2]
    # the classroom demo's ratings and its current term's, a count that varies a little
    assert message.startswith("error: the store ")
    assert re.search(r" already holds \d,\d{3} ratings ", message), message
    assert message.endswith(
        "ratings of another programme, not those of the classroom demo (seed 2026); to build it "
        "beside the other programme, give it a store and a folder of its own: calibrate demo "
        "--size classroom --database sqlite:///var/classroom.db --out var/classroom"
    )
    assert snapshot(tmp_path) == files and status(calibrate, db_url) == counts

    # The advice works as given (serving included: the server is not started here).
    served: list[list[str]] = []
    monkeypatch.setattr(cli, "port_problem", lambda address, port: None)
    monkeypatch.setattr(cli, "run_streamlit", lambda cmd, env: served.append(cmd) or 0)
    advice = shlex.split(message.split(": calibrate ")[-1])
    built = calibrate(*advice)
    assert built.returncode == 0, built.stderr
    assert len(served) == 1
    assert (tmp_path / "var" / "classroom" / "ratings.csv").is_file()
    assert status(calibrate, db_url) == counts  # the first store is left alone


def test_the_same_demo_again_adds_nothing(
    calibrate: Callable[..., Result], tmp_path: Path, db_url: str
) -> None:
    """Also after ratings were imported into the demo's store, or corrected."""
    args = ("demo", "--size", "classroom", "--no-serve", "--json")
    first = calibrate(*args, db=db_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (tmp_path / "more.csv").write_text(
        "submission,assessor,criterion,score\nX1,B1,reflection,3\nX1,B2,reflection,2\n"
    )
    more = calibrate("import", "ratings", "more.csv", "--rubric", "crsel-intro")
    assert more.returncode == 0, more.stderr
    fixed = calibrate("history", "1", "--json")
    score = json.loads(fixed.stdout)[-1]["score"]
    correction = ("correct", "1", str(1 if score != 1 else 2), "--reason", "typo")
    assert calibrate(*correction).returncode == 0
    files, counts = snapshot(tmp_path / "var"), status(calibrate, db_url)

    again = calibrate(*args)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["ratings"]["written"] == report["definitions"]["written"] == 0
    assert report["ratings"]["unchanged"] == json.loads(first.stdout)["ratings"]["written"]
    assert snapshot(tmp_path / "var") == files and status(calibrate, db_url) == counts


# --- packaging: the shipped content travels with the package --------------------------------------


def test_every_package_is_in_the_wheel() -> None:
    """pyproject lists the packages (to map the top-level rubrics/ and anchor_sets/ into the
    wheel as calibrate/content/): a new package under src/ must be listed too."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    src = ROOT / "src"
    found = {  # namespace packages too (calibrate.analyses has no __init__.py)
        ".".join(module.parent.relative_to(src).parts)
        for module in src.rglob("*.py")
        if "__pycache__" not in module.parts
    }
    content = {"calibrate.content.rubrics", "calibrate.content.anchor_sets"}
    assert set(config["packages"]) == found | content
    assert {config["package-dir"][name] for name in content} == {"rubrics", "anchor_sets"}


@pytest.mark.slow
def test_an_installed_wheel_runs_the_demo(tmp_path: Path) -> None:
    """Built and installed like any package (not from this checkout), the demo finds its rubrics
    and anchor sets in the package."""
    wheels, venv, run = tmp_path / "wheels", tmp_path / "venv", tmp_path / "run"
    source = tmp_path / "source"  # a copy: setuptools leaves build/ and *.egg-info behind
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    for name in ("src", "rubrics", "anchor_sets"):
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(wheels), "-q"],
        check=True,
        cwd=tmp_path,
        timeout=600,
    )
    (wheel,) = wheels.glob("calibrate-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # The dependencies from this environment (a path after the venv's own, where the wheel goes).
    (Path(site) / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True,
        timeout=300,
    )
    run.mkdir()
    where = subprocess.run(
        [python, "-c", "import calibrate.settings as s; print(s.shipped('rubrics'))"],
        check=True, capture_output=True, text=True, cwd=run,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(venv) and Path(where).parts[-2:] == ("content", "rubrics")
    demo = subprocess.run(
        [venv / "bin" / "calibrate", "demo", "--size", "classroom", "--no-serve",
         "--database", "sqlite:///x.db", "--out", "x"],
        capture_output=True, text=True, cwd=run, timeout=600,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "rubrics and anchor sets: 12 stored" in demo.stdout
    assert (run / "x" / "ratings.csv").is_file() and (run / "x.db").is_file()
