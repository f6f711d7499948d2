"""The flags benchmark (``benchmarks/bench_flags.py``, docs/benchmarks.md "Flags: detection and
false flags") runs end to end at its smallest settings: one programme, every planted effect
reported in every table. Its rates are the benchmark's to measure, not this test's."""

from __future__ import annotations

import importlib.util
import re
import sys
from types import ModuleType

import pytest

from calibrate.simulate import EFFECTS
from tests.conftest import ROOT


def _bench() -> ModuleType:
    if "bench_flags" not in sys.modules:
        path = ROOT / "benchmarks" / "bench_flags.py"
        spec = importlib.util.spec_from_file_location("bench_flags", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_flags"] = module  # dataclasses look their module up while defined
        spec.loader.exec_module(module)
    return sys.modules["bench_flags"]


def test_ratings_bins() -> None:
    label = _bench().bin_label
    assert [label(n) for n in (0, 49, 50, 99, 100, 199, 200, 5000)] == [
        "<50", "<50", "50-99", "50-99", "100-199", "100-199", "200+", "200+",
    ]  # fmt: skip


@pytest.mark.slow
def test_smallest_run_has_a_row_per_effect(capsys: pytest.CaptureFixture[str]) -> None:
    text = _bench().main(["--reps", "1", "--earners", "60"])
    assert capsys.readouterr().out.strip() == text.strip()
    detection, false_flags, confusion = text.split("\n\n")[2::2]
    rows = [line.split(" | ")[:2] for line in detection.splitlines()[2:]]
    planted = EFFECTS[1:]
    bins = ["<50", "50-99", "100-199", "200+", "50+"]
    assert rows == [[f"| {e}", b] for e in planted for b in bins]
    assert re.findall(r"^\| (\w+) \| \d+ \|", confusion, re.M) == list(EFFECTS)
    tiers = [line.split(" | ")[:2] for line in false_flags.splitlines()[2:]]
    assert tiers == [[f"| {t}", b] for t in ("half", "quarter") for b in bins]
