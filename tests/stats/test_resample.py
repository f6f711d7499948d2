"""Bootstrap over units by pattern counts: same statistics as resampling units one by one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibrate.errors import StatisticsError
from calibrate.stats import ConfidenceInterval, long_ratings
from calibrate.stats._tabulate import agreement_weights, tabulate
from calibrate.stats.agreement import (
    gwet_ac,
    krippendorff_alpha,
    percent_agreement,
    summarize,
)
from calibrate.stats.alpha import alphas_of_coincidences, coincidences
from calibrate.stats.gwet import gwet_ac_parts
from calibrate.stats.percent_agreement import observed_agreement
from calibrate.stats.resample import (
    bootstrap_units,
    percentile_interval,
    resample_units,
)


def sparse(seed: int, n_units: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    per_unit = rng.integers(1, 4, n_units)
    unit = np.repeat(np.arange(n_units), per_unit)
    rater = np.concatenate([rng.choice(30, k, replace=False) for k in per_unit])
    truth = rng.integers(1, 5, n_units)[unit]
    value = np.clip(truth + rng.integers(-1, 2, unit.size), 1, 4).astype(float)
    return unit, rater, value


def test_pattern_resample_equals_explicit_resample_of_units() -> None:
    unit, _, value = sparse(1)
    table = tabulate(long_ratings(unit, None, None, value))
    rng = np.random.default_rng(5)
    (draws,) = list(resample_units(table.multiplicity, 3, rng, batch=3))
    assert draws.shape == (3, table.multiplicity.size)
    assert (draws.sum(axis=1) == table.n_units).all()
    o = coincidences(table.counts, draws)
    ac1 = gwet_ac_parts(table.counts, draws, agreement_weights(table.categories, "unweighted"))[0]
    exact = observed_agreement(table.counts, draws, np.eye(table.categories.size))
    for b in range(3):
        # The resample spelled out: pattern p's multiset of scores, repeated draws[b, p] times.
        u, v, next_unit = [], [], 0
        for p, k in enumerate(draws[b].astype(int)):
            scores = np.repeat(table.categories, table.counts[p])
            for _ in range(k):
                u += [next_unit] * scores.size
                v += scores.tolist()
                next_unit += 1
        for level in ("nominal", "ordinal", "interval", "ratio"):
            assert alphas_of_coincidences(o[b], table.categories)[level] == pytest.approx(
                krippendorff_alpha(u, v, level=level), abs=1e-12
            )
        assert ac1[b] == pytest.approx(gwet_ac(u, v).coefficient, abs=1e-12)
        assert exact[b] == pytest.approx(percent_agreement(u, v), abs=1e-12)


def test_same_seed_same_intervals() -> None:
    unit, rater, value = sparse(2)
    first = summarize(unit, rater, value, n_boot=300, seed=42).to_dict()["ci"]
    again = summarize(unit, rater, value, n_boot=300, seed=42).to_dict()["ci"]
    other = summarize(unit, rater, value, n_boot=300, seed=43).to_dict()["ci"]
    assert first == again
    assert first != other


def test_interval_width_matches_naive_unit_bootstrap() -> None:
    unit, _, value = sparse(3, n_units=400)
    table = tabulate(long_ratings(unit, None, None, value))
    ours = bootstrap_units(
        table.multiplicity,
        lambda w: {
            "alpha": alphas_of_coincidences(
                coincidences(table.counts, w), table.categories, ("interval",)
            )["interval"]
        },
        n_boot=2000,
        seed=0,
    )["alpha"]
    # Naive: draw units with replacement, recompute alpha each time.
    rng = np.random.default_rng(1)
    units = np.unique(unit)
    by_unit = [value[unit == u] for u in units]
    naive = []
    for _ in range(400):
        pick = rng.integers(0, units.size, units.size)
        u = np.repeat(np.arange(units.size), [by_unit[i].size for i in pick])
        v = np.concatenate([by_unit[i] for i in pick])
        naive.append(krippendorff_alpha(u, v))
    naive_ci = np.quantile(naive, [0.025, 0.975])
    point = krippendorff_alpha(unit, value)
    assert ours.low < point < ours.high
    assert ours.high - ours.low == pytest.approx(naive_ci[1] - naive_ci[0], rel=0.25)
    assert ours.n_boot == 2000 and ours.n_undefined == 0
    assert isinstance(ours, ConfidenceInterval) and ours.level == 0.95
    assert ours.to_list() == [ours.low, ours.high]


def test_percentile_interval_leaves_out_undefined_resamples() -> None:
    interval = percentile_interval(np.array([0.1, np.nan, 0.2, 0.3, np.nan]), 0.5)
    assert interval.n_undefined == 2
    assert interval.low == pytest.approx(0.15) and interval.high == pytest.approx(0.25)
    empty = percentile_interval(np.array([np.nan]), 0.95)
    assert math.isnan(empty.low) and empty.n_undefined == 1


def test_small_data_resamples_can_be_undefined() -> None:
    # Two units only: some resamples hold one category only, where alpha is 0/0.
    summary = summarize([0, 0, 1, 1], [0, 1, 0, 1], [1, 1, 2, 2], n_boot=200, seed=0)
    assert summary.ci is not None
    assert summary.ci["krippendorff_alpha.nominal"].n_undefined > 0


def test_progress_reports_every_batch() -> None:
    unit, rater, value = sparse(4)
    seen: list[tuple[int, int, str]] = []
    summarize(unit, rater, value, n_boot=1000, seed=0, progress=lambda *call: seen.append(call))
    assert seen[-1] == (1000, 1000, "bootstrap")
    assert len(seen) > 1 and all(t == 1000 and s == "bootstrap" for _, t, s in seen)


@pytest.mark.parametrize("n_boot", [0, -5])
def test_bootstrap_needs_resamples(n_boot: int) -> None:
    with pytest.raises(StatisticsError, match="n_boot"):
        bootstrap_units(np.array([3, 4]), lambda w: {"x": w[:, 0]}, n_boot=n_boot)
