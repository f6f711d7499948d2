"""Flags feed the workflow (issue 12, part 2): a flag of a kind the issuer's rules set to
suspend (``flags.suspend_<kind>``) suspends the assessor from live scoring with the flag's
reason; other kinds, and rules left off, suspend nobody; applying twice suspends once. On
SQLite and PostgreSQL, through the API and the CLI; a ratings file gives the same flags as the
store."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.access import Actor
from calibrate.errors import AccessDenied, CalibrateError
from tests.conftest import OPERATOR, Result
from tests.stats.test_severity import simulate

KEY = "demo@1"
PLANTED = "A00"  # 2.5 logits more severe than the others: far beyond the 0.5 tolerance


@pytest.fixture
def ratings_file(tmp_path: Path) -> Path:
    """Live ratings of the demo rubric (2 criteria, levels 1-3) on the sparse design: 600
    submissions each read by 2 of 20 assessors, A00 planted severe."""
    sev = np.random.default_rng(5).normal(0.0, 0.2, 20)
    sev[0] = 2.5
    sim = simulate(n_units=600, n_raters=20, n_criteria=2, tau=(-1.0, 1.0), severities=sev,
                   seed=11)  # fmt: skip
    path = tmp_path / "live.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["submission", "assessor", "criterion", "score", "rubric", "timestamp"])
        for u, r, c, v in zip(sim.unit, sim.rater, sim.criterion, sim.value, strict=True):
            day = 1 + int(u) % 28
            out.writerow([f"S{u:04d}", f"A{r:02d}", ("plan", "reflect")[c], int(v), KEY,
                          f"2026-03-{day:02d}T10:00:00Z"])  # fmt: skip
    return path


@pytest.fixture
def flagged(loaded: Engine, ratings_file: Path) -> Engine:
    services.import_ratings(ratings_file, engine=loaded, actor=OPERATOR)
    return loaded


def test_flags_suspend_only_the_kinds_the_rules_say(
    flagged: Engine, rules: Callable[[dict[str, Any]], None]
) -> None:
    report = services.assessor_flags(engine=flagged, actor=OPERATOR, rubric=KEY)
    assert [(f.assessor, f.kind) for f in report.flags if f.test == "severity"] == [
        (PLANTED, "severe")
    ]
    assert services.suspend_flagged(engine=flagged, actor=OPERATOR, rubric=KEY) == []
    rules({"flags.suspend_halo": True})  # a kind nobody is flagged for
    assert services.suspend_flagged(engine=flagged, actor=OPERATOR, rubric=KEY) == []
    rules({"flags.suspend_severity": True})
    (done,) = services.suspend_flagged(engine=flagged, actor=OPERATOR, rubric=KEY)
    assert done["assessor"] == PLANTED and done["action"] == "suspended"
    assert done["kinds"] == ["severe"] and "more severely than the pool's average" in done["reason"]
    (held,) = services.suspensions(engine=flagged, actor=OPERATOR, rubric=KEY)
    assert held["assessor"] == PLANTED and held["kind"] == "flag"
    assert held["reason"] == done["reason"] and held["lifted_at"] is None
    again = services.suspend_flagged(engine=flagged, actor=OPERATOR, rubric=KEY)
    assert [r["action"] for r in again] == ["suspended already"]
    assert len(services.suspensions(engine=flagged, actor=OPERATOR, rubric=KEY)) == 1
    events = [e for e in services.audit_log(engine=flagged, actor=OPERATOR)
              if e.action == "qualification.suspend"]  # fmt: skip
    assert len(events) == 1 and events[0].detail["kind"] == "flag"


@pytest.mark.parametrize("role", ["assessor", "lead", "board"])
def test_only_administrators_apply_flags(flagged: Engine, role: str) -> None:
    actor = Actor("who", role, issuer="default", assessor="A01" if role == "assessor" else None)
    with pytest.raises(AccessDenied):
        services.suspend_flagged(engine=flagged, actor=actor, rubric=KEY)


def test_the_cli_applies_flags_and_a_file_gives_the_stores_flags(
    flagged: Engine,
    db_url: str,
    ratings_file: Path,
    demo_rubric_file: Path,
    rules: Callable[[dict[str, Any]], None],
    calibrate: Callable[..., Result],
) -> None:
    from_store = calibrate("flags", "--rubric", KEY, "--json", db=db_url)
    from_file = calibrate("flags", str(ratings_file), "--rubric", KEY, "--rubric-dir",
                          str(demo_rubric_file.parent), "--json")  # fmt: skip
    assert from_store.returncode == 0 and from_file.returncode == 0, from_file.stderr
    a, b = json.loads(from_store.stdout), json.loads(from_file.stdout)
    assert a["tests"] == b["tests"]

    def figures(shown: dict[str, Any]) -> list[Any]:
        """The flags without their reasons (which name the source), numbers to 9 digits (the
        store reads rows in time order, the file in its own: sums differ in the last bit)."""

        def num(v: Any) -> Any:
            if isinstance(v, float):
                return float(f"{v:.9g}")
            return [num(x) for x in v] if isinstance(v, list) else v

        return [[{k: num(v) for k, v in f.items() if k != "reason"} for f in x["flags"]]
                for x in shown["assessors"]]  # fmt: skip

    assert figures(a) == figures(b) and figures(a)[0]
    # rule flags.window_days: the 365 days up to the latest rating (2026-03-28)
    assert a["window"] == "live work on demo@1, 2025-03-29 to 2026-03-28"
    assert b["window"] == "live.csv on demo@1, 2025-03-29 to 2026-03-28"
    rules({"flags.suspend_severity": True})
    out = calibrate("suspend-flagged", "--rubric", KEY, "--json", db=db_url)
    assert out.returncode == 0, out.stderr
    assert [r["assessor"] for r in json.loads(out.stdout)] == [PLANTED]
    text = calibrate("suspend-flagged", "--rubric", KEY, db=db_url)
    assert f"{PLANTED}: suspended already (severe)" in text.stdout


def test_a_file_without_anchors_or_rubric_is_refused_in_one_line(
    ratings_file: Path, demo_rubric_file: Path, calibrate: Callable[..., Result]
) -> None:
    out = calibrate("flags", str(ratings_file))
    assert out.returncode == 1 and "--anchors" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(CalibrateError, match="no such rubric"):
        services.flags_from_files(ratings_file, rubric_dir=demo_rubric_file.parent, rubric="nope")


def test_the_window_keeps_the_days_asked_for(flagged: Engine) -> None:
    ratings = store.load_ratings(engine=flagged, rubric=KEY)
    from calibrate.services.monitoring import flag_window

    kept, words = flag_window(ratings, 7, None)
    times = kept.times().astype("datetime64[D]")
    assert words == "2026-03-22 to 2026-03-28"
    assert times.min() == np.datetime64("2026-03-22") and times.max() == np.datetime64("2026-03-28")
    with pytest.raises(CalibrateError, match="at least 1"):
        flag_window(ratings, 0, None)
