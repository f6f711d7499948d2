"""The README's main job: the demo programme lands in the store, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from calibrate import store
from calibrate.demo import build_demo
from calibrate.errors import CalibrateError


def test_demo_programme_in_store(engine: Engine, tmp_path: Path) -> None:
    report = build_demo(engine=engine, out=tmp_path / "demo", size="classroom", seed=7)
    n = store.counts(engine=engine)
    assert report.definitions.n_written == n["rubric_version"] + n["anchor_set"] == 12
    assert report.ratings.n_rows == report.ratings.n_written == n["rating"] > 1000
    assert (tmp_path / "demo" / "truth.json").stat().st_size > 0
    live = store.load_ratings(engine=engine)
    anchors = store.load_ratings(engine=engine, contexts=["practice", "qualification", "validity"])
    assert len(live) + len(anchors) == n["rating"]
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
