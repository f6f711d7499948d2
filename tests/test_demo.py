"""The README's main job: the demo programme lands in the store, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from calibrate import store
from calibrate.anchors import load_anchor_sets
from calibrate.services.demo import build_demo
from calibrate.errors import CalibrateError
from calibrate.ratings import ANCHOR_CONTEXTS
from calibrate.rubric import load_rubrics
from tests.conftest import ROOT


def test_demo_programme_in_store(engine: Engine, tmp_path: Path) -> None:
    report = build_demo(engine=engine, out=tmp_path / "demo", size="classroom", seed=7)
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
    again = build_demo(engine=engine, out=tmp_path / "demo", size="classroom", seed=7)
    assert again.ratings.n_written == 0 and again.definitions.n_written == 0
    assert store.counts(engine=engine) == n


def test_bad_demo_size_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    before = store.counts(engine=engine)
    with pytest.raises(CalibrateError, match="size must be one of classroom, pilot, state"):
        build_demo(engine=engine, out=tmp_path / "demo", size="county")
    assert store.counts(engine=engine) == before
