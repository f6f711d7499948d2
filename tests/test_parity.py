"""The store answers as the file it was imported from, on both backends.

The classroom demo writes ``ratings.csv`` and imports it (:func:`build_demo`). Every analysis
command then runs through the real entry point twice, ``--json``: once on the file (narrowed with
``--context``, ``--rubric``, ``--keep``, with the programme's rubric files: ``--rubric-dir``) and
once on the store. The store reads its ratings back in the file's order (by rating time, then as
stored: the demo file is in time order), so the answers are equal exactly, iterations of the rater
model included. The one difference by documented design (:func:`calibrate.store.load_ratings`):

- unit labels of anchor contexts: the store labels anchors ``anchor:<id>`` (so that an anchor and a
  live submission with the same key stay apart), a file by the anchor id it holds.

Without the rubric files a file door counts only the levels the ratings use and knows no pass
rule: ``decisions`` and the chance terms of AC1/AC2 then differ (checked last).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from calibrate import store
from calibrate.ratings import Keep, read_ratings_csv
from calibrate.services.demo import build_demo
from tests.conftest import OPERATOR, POSTGRES_URL, REQUIRE_POSTGRES, ROOT, Result, _reset_postgres
from tests.test_cli_analyses_store import assert_same

Run = Callable[..., Result]

LEVEL_COUNTED = ("gwet_ac1", "gwet_ac2")  # chance agreement over the rubric's levels
ROUNDING = 1e-12  # sums over the rubric's categories or the observed ones: last-digit differences
FILE_COLUMNS = ("timestamp", "attempt", "rubric", "context", "earner", "round")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, Engine]]:
    """The classroom demo in a store on each backend (built once per backend): the store's URL,
    the ratings file it was imported from, and an engine."""
    folder = tmp_path_factory.mktemp(f"parity-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'store.db'}"
    elif POSTGRES_URL:
        _reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    elif REQUIRE_POSTGRES:
        pytest.fail("CALIBRATE_REQUIRE_POSTGRES=1 but CALIBRATE_TEST_POSTGRES_URL is not set")
    else:
        pytest.skip("set CALIBRATE_TEST_POSTGRES_URL to run the PostgreSQL tests")
    engine = store.open_store(url)
    # a seed whose live designs link every assessor, so that the rater model converges on both
    # doors (placing weakly linked assessors on sparse designs is the monitoring issue's work)
    build_demo(
        engine=engine,
        actor=OPERATOR,
        out=folder / "demo",
        size="classroom",
        workflow=False,
        seed=2028,
    )
    yield url, folder / "demo" / "ratings.csv", engine
    engine.dispose()


ANALYSES: list[tuple[str, str, str, Keep | None, tuple[str, ...]]] = [
    ("agreement", "live", "crsel-intro@1", None, ()),
    ("agreement", "live", "ct-unplugged@1", None, ("--bootstrap", "200", "--seed", "7")),
    ("agreement", "qualification", "crsel-intro@1", "first", ()),
    ("raters", "live", "crsel-intro@1", None, ()),
    ("raters", "live", "ct-unplugged@1", None, ("--model", "jmle")),
    ("raters", "live", "crsel-intro@1", None, ("--model", "jmle", "--facet", "attempt")),
    ("raters", "live", "inquiry-lead@1", None, ("--model", "jmle", "--scale", "partial-credit")),
    ("raters", "qualification", "ct-unplugged@1", "last", ("--model", "jmle", "--facet", "round")),
    ("gstudy", "live", "crsel-intro@1", None, ()),
    ("gstudy", "practice", "ct-unplugged@1", "last", ("--target", "0.7")),
]


@pytest.mark.parametrize(
    ("command", "context", "rubric", "keep", "options"),
    ANALYSES,
    ids=[f"{c}-{x}-{r}-{' '.join(o) or 'plain'}" for c, x, r, _, o in ANALYSES],
)
def test_store_answers_as_the_file(
    calibrate: Run,
    demo: tuple[str, Path, Engine],
    command: str,
    context: str,
    rubric: str,
    keep: Keep | None,
    options: tuple[str, ...],
) -> None:
    url, csv, _ = demo
    chosen = ["--context", context, "--rubric", rubric, *options, "--json"]
    chosen += ["--keep", keep] if keep else []
    from_store = calibrate(command, *chosen, db=url)
    # 3: a JMLE fit that did not converge (sparse live designs), said on both doors alike
    assert from_store.returncode in (0, 3), from_store.stderr
    from_file = calibrate(command, str(csv), *chosen, "--rubric-dir", str(ROOT / "rubrics"))
    assert from_file.returncode == from_store.returncode, from_file.stderr
    stored, filed = json.loads(from_store.stdout), json.loads(from_file.stdout)
    if context != "live":  # by design: the store labels anchors anchor:<id>
        stored = relabel(stored, lambda label: label.removeprefix("anchor:"))
    assert stored == filed
    if command == "agreement" and context == "live":
        assert stored["decisions"] is not None  # the pass rule was applied on both doors


def test_a_file_without_its_rubric_differs_only_where_the_rubric_counts(
    calibrate: Run, demo: tuple[str, Path, Engine], tmp_path: Path
) -> None:
    """Run where no rubric files are at hand, the file door knows no pass rule (no
    ``decisions``) and counts only the levels used: AC1 and AC2 of a criterion that leaves a
    level unused differ (chance agreement counts categories), the rest agrees to rounding."""
    url, csv, engine = demo
    chosen = ["--context", "live", "--rubric", "inquiry-lead@1", "--json"]
    stored = json.loads(calibrate("agreement", *chosen, db=url).stdout)
    bare = calibrate("agreement", str(csv), *chosen, cwd=tmp_path)  # no ./rubrics there
    assert bare.returncode == 0, bare.stderr
    filed = json.loads(bare.stdout)
    assert set(stored) - set(filed) == {"decisions"}
    stored.pop("decisions")
    unused = unused_levels(engine, "inquiry-lead@1", "live", None)
    assert unused  # the case under test: the simulation leaves a level unused
    for criterion in unused:
        for part in (stored["criteria"][criterion], filed["criteria"][criterion]):
            for key in LEVEL_COUNTED:
                part.pop(key)
    ratings = store.load_ratings(engine=engine, rubric="inquiry-lead@1", contexts=["live"])
    if set(ratings.value.astype(int).tolist()) != set(
        store.stored_rubric("inquiry-lead@1", engine=engine).scores
    ):  # a level nobody used: the pooled figures count categories too
        for part in (stored, filed):
            for key in LEVEL_COUNTED:
                part.pop(key)
    assert_same(stored, filed, ROUNDING, any_order=False)  # the store keeps the file order


def test_accuracy_from_the_store_is_accuracy_from_the_files(
    calibrate: Run, demo: tuple[str, Path, Engine]
) -> None:
    url, csv, _ = demo
    from_store = calibrate("accuracy", "--rubric", "crsel-intro@1", "--json", db=url)
    assert from_store.returncode == 0, from_store.stderr
    from_file = calibrate(
        "accuracy",
        str(csv),
        "--anchors",
        str(ROOT / "anchor_sets" / "crsel-intro"),
        "--rubric-dir",
        str(ROOT / "rubrics"),
        "--json",
    )
    assert from_file.returncode == 0, from_file.stderr
    assert json.loads(from_store.stdout) == json.loads(from_file.stdout)


@pytest.mark.parametrize("contexts", [["live"], ["practice", "qualification", "validity"]])
def test_load_ratings_carries_the_files_columns(
    demo: tuple[str, Path, Engine], contexts: list[str]
) -> None:
    """Every column of the file, as text in the form reading the file gives, row for row; and
    the import batch of each rating."""
    _, csv, engine = demo
    filed = read_ratings_csv(csv)
    filed = filed.subset(np.isin(filed.columns["context"], contexts))
    stored = store.load_ratings(engine=engine, contexts=contexts)
    assert len(stored) == len(filed)
    for name in FILE_COLUMNS:
        assert stored.columns[name].tolist() == filed.columns[name].tolist(), name
    assert [stored.units[u].removeprefix("anchor:") for u in stored.unit] == [
        filed.units[u] for u in filed.unit
    ]
    assert [stored.raters[r] for r in stored.rater] == [filed.raters[r] for r in filed.rater]
    assert stored.value.tolist() == filed.value.tolist()
    assert set(stored.columns["batch"].tolist()) == {str(demo_batch(engine))}


def test_raters_facet_attempt_from_the_store(
    calibrate: Run, demo: tuple[str, Path, Engine]
) -> None:
    """The reported failure: ``--facet attempt`` from the store said "no such column". (JMLE
    may not converge on the demo's sparse live design: exit 3 with the fit, not an error.)"""
    url, _, _ = demo
    result = calibrate(
        "raters", "--rubric", "crsel-intro@1", "--model", "jmle", "--facet", "attempt", db=url
    )
    assert result.returncode in (0, 3), result.stderr
    assert "attempt" in result.stdout and "no such column" not in result.stderr


def demo_batch(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT max(id) FROM import_batch").scalar_one())


def unused_levels(engine: Engine, rubric: str, context: str, keep: Keep | None) -> list[str]:
    """Criteria on which the store's selection leaves a level of the rubric unused."""
    levels = set(store.stored_rubric(rubric, engine=engine).scores)
    ratings = store.load_ratings(engine=engine, rubric=rubric, contexts=[context])
    ratings = ratings.select(keep=keep)
    return [
        name
        for k, name in enumerate(ratings.criteria)
        if set(ratings.value[ratings.criterion == k].astype(int).tolist()) != levels
    ]


def relabel(payload: Any, change: Callable[[str], str]) -> Any:
    """``payload`` with every string changed by ``change``."""
    if isinstance(payload, dict):
        return {change(k): relabel(v, change) for k, v in payload.items()}
    if isinstance(payload, list):
        return [relabel(v, change) for v in payload]
    return change(payload) if isinstance(payload, str) else payload
