"""``calibrate agreement | raters | gstudy`` without a file: the ratings in the store.

On both backends the store answers as the exported file does (same numbers from the same
ratings), one rubric version and context at a time, with the reading chosen by ``--keep``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from calibrate import store
from calibrate.access import Actor
from calibrate.analyses.accuracy import live_decision_agreement
from calibrate.analyses.agreement import agreement_report
from calibrate.services.demo import build_demo
from tests.conftest import ROOT, Result

Run = Callable[..., Result]


@pytest.fixture
def demo(engine: Engine, db_url: str, tmp_path: Path) -> tuple[str, Path]:
    """A classroom demo programme in the store, and the ratings file it was imported from."""
    build_demo(
        engine=engine,
        out=tmp_path / "demo",
        size="classroom",
        workflow=False,
        seed=2026,
        actor=Actor.operator(),
    )
    return db_url, tmp_path / "demo" / "ratings.csv"


@pytest.mark.parametrize(
    ("command", "rubric", "context", "keep"),
    [
        ("agreement", "crsel-intro", "live", None),
        ("raters", "inquiry-lead", "live", None),
        ("gstudy", "crsel-intro", "live", None),
        ("agreement", "crsel-intro", "qualification", "first"),
        ("gstudy", "ct-unplugged", "practice", "last"),
    ],
)
def test_store_answers_as_the_exported_file(
    calibrate: Run,
    demo: tuple[str, Path],
    command: str,
    rubric: str,
    context: str,
    keep: str | None,
) -> None:
    url, csv = demo
    options = ["--context", context, "--rubric", rubric, "--json"]
    options += ["--keep", keep] if keep else []
    from_store = calibrate(command, *options, db=url)
    assert from_store.returncode == 0, from_store.stderr
    from_file = calibrate(command, str(csv), *options)
    assert from_file.returncode == 0, from_file.stderr
    # The store and the file list the ratings in other orders: sums agree to rounding, and the
    # rater model's iterations (stopped at 0.0001 logits) take other paths to the solution.
    tolerance = 1e-3 if command == "raters" else 1e-9
    stored, filed = json.loads(from_store.stdout), json.loads(from_file.stdout)
    for path in (stored, filed):
        path.pop("iterations", None)
        path.pop("max_change", None)
    # The file is read with the programme's rubric files (./rubrics): the same levels and pass
    # rule as the store, so the same answer, pass decisions included.
    live_agreement = command == "agreement" and context == "live"
    assert ("decisions" in stored) == ("decisions" in filed) == live_agreement
    assert_same(stored, filed, tolerance)


def labels(row: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in row.items() if isinstance(v, str)}, sort_keys=True)


def assert_same(
    a: Any, b: Any, tolerance: float, where: str = "", *, any_order: bool = True
) -> None:
    """Equal JSON, floats to ``tolerance`` (relative and absolute); lists of rows in any order
    unless ``any_order`` is False."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=tolerance, abs=tolerance), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], tolerance, f"{where}.{key}", any_order=any_order)
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        if any_order and all(isinstance(x, dict) for x in a + b):  # rows tied on the sort key
            a, b = (sorted(v, key=labels) for v in (a, b))
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, tolerance, f"{where}[{i}]", any_order=any_order)
    else:
        assert a == b, where


def test_store_analyses_use_the_stored_rubric_levels(
    calibrate: Run, demo: tuple[str, Path], engine: Engine
) -> None:
    # The chance terms of AC1/AC2 count the rubric's levels, used or not: from the store the
    # command knows them, as the dashboard does.
    url, _ = demo
    rubric = store.stored_rubric("ct-unplugged", engine=engine)
    levels = [float(level.score) for level in rubric.levels]
    ratings = store.load_ratings(engine=engine, rubric=rubric.key, contexts=["live"])
    expected = agreement_report(ratings, levels=levels).to_dict()
    shown = calibrate("agreement", "--rubric", "ct-unplugged@1", "--json", db=url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["gwet_ac1"] == pytest.approx(expected["gwet_ac1"])
    text = calibrate("agreement", "--rubric", "ct-unplugged", db=url)
    assert text.stdout.startswith("store: ct-unplugged@1, live:")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("gstudy",), "give RATINGS.csv, or --rubric ID[@VERSION]"),
        (("raters", "--rubric", "nope"), "rubric 'nope' is not in the store"),
        (("agreement", "--rubric", "crsel-intro", "--context", "someday"), "unknown context"),
        (("agreement", "--rubric", "crsel-intro", "--wide"), "--wide describes a file"),
        (("gstudy", "--rubric", "crsel-intro", "--context", "practice"), "--keep first"),
    ],
)
def test_store_mistakes_are_one_line(
    calibrate: Run, demo: tuple[str, Path], args: tuple[str, ...], message: str
) -> None:
    url, _ = demo
    result = calibrate(*args, db=url)
    assert result.returncode == 1
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_store_agreement_adds_pass_decisions_of_live_work(
    calibrate: Run, demo: tuple[str, Path], engine: Engine
) -> None:
    url, csv = demo
    rubric = store.stored_rubric("crsel-intro", engine=engine)
    ratings = store.load_ratings(engine=engine, rubric=rubric.key, contexts=["live"])
    expected = live_decision_agreement(ratings, rubric).to_dict()
    shown = json.loads(calibrate("agreement", "--rubric", "crsel-intro", "--json", db=url).stdout)
    assert_same(shown["decisions"], expected, 1e-12)
    text = calibrate("agreement", "--rubric", "crsel-intro", db=url).stdout
    assert "pass decisions, first against second reading (crsel-intro@1 pass rule): " in text
    assert f"same decision      {100 * expected['percent']:.1f}%" in text
    # A file with the programme's rubric files gets the same decisions; without them it carries
    # no pass rule. Anchor contexts have expert scores instead (accuracy).
    options = ("--context", "live", "--rubric", "crsel-intro@1", "--json")
    with_rubrics = json.loads(calibrate("agreement", str(csv), *options).stdout)
    assert_same(with_rubrics["decisions"], expected, 1e-12)
    elsewhere = csv.parent / "no-rubrics-here"
    elsewhere.mkdir()
    bare = calibrate("agreement", str(csv), *options[:-1], cwd=elsewhere)
    assert bare.returncode == 0, bare.stderr
    assert "pass decisions" not in bare.stdout
    anchors = calibrate(
        "agreement",
        "--rubric",
        "crsel-intro",
        "--context",
        "qualification",
        "--keep",
        "first",
        "--json",
        db=url,
    )
    assert "decisions" not in json.loads(anchors.stdout)


@pytest.mark.parametrize("command", ["agreement", "raters", "gstudy"])
def test_store_without_ratings_is_one_line(
    calibrate: Run, engine: Engine, db_url: str, command: str
) -> None:
    store.import_definition_dirs(ROOT / "rubrics", None, engine=engine)
    result = calibrate(command, "--rubric", "crsel-intro", db=db_url)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "error: no ratings in the store: crsel-intro@1, live\n"


def test_a_missing_rubric_folder_is_one_clear_error(
    calibrate: Run, demo: tuple[str, Path], tmp_path: Path
) -> None:
    """--rubric-dir naming no folder is refused in one line (nothing is written: analyses
    write nothing and do not say so)."""
    _, csv = demo
    missing = tmp_path / "no-such-folder"
    result = calibrate(
        "agreement",
        str(csv),
        "--context",
        "live",
        "--rubric",
        "crsel-intro@1",
        "--rubric-dir",
        str(missing),
    )
    assert result.returncode == 1 and result.stdout == ""
    assert str(missing) in result.stderr and "Traceback" not in result.stderr
    assert "nothing was written" not in result.stderr
