"""Invariants of the agreement statistics (hypothesis)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from calibrate.stats.agreement import ALPHA_LEVELS, summarize

Long = tuple[np.ndarray, np.ndarray, np.ndarray]


@st.composite
def ratings(draw: st.DrawFn, min_units: int = 2) -> Long:
    """Sparse long ratings: units with 1-4 distinct raters out of up to 6, scores 1-4."""
    n_units = draw(st.integers(min_units, 25))
    n_raters = draw(st.integers(2, 6))
    unit, rater, value = [], [], []
    for u in range(n_units):
        who = draw(st.sets(st.integers(0, n_raters - 1), min_size=1, max_size=min(4, n_raters)))
        for r in sorted(who):
            unit.append(u)
            rater.append(r)
            value.append(draw(st.sampled_from([1.0, 2.0, 3.0, 4.0])))
    # At least one unit rated twice (otherwise every statistic refuses the data).
    unit += [n_units, n_units]
    rater += [0, 1]
    value += [float(draw(st.sampled_from([1, 2, 3, 4])))] * 2
    return np.array(unit), np.array(rater), np.array(value)


def flat(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        elif isinstance(v, int | float):
            out[prefix + k] = float(v)
    return out


def same(a: dict[str, float], b: dict[str, float], skip: tuple[str, ...] = ()) -> bool:
    keys = set(a) - set(skip)
    if keys != set(b) - set(skip):
        return False
    for k in keys:
        x, y = a[k], b[k]
        if math.isnan(x) or math.isnan(y):
            if not (math.isnan(x) and math.isnan(y)):
                return False
        elif not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
            return False
    return True


def stats(unit: np.ndarray, rater: np.ndarray, value: np.ndarray) -> dict[str, float]:
    return flat(summarize(unit, rater, value, levels=[1, 2, 3, 4]).to_dict())


@settings(max_examples=60, deadline=None)
@given(ratings(), st.randoms(use_true_random=False))
def test_invariant_under_relabelling_raters(data: Long, rnd: Any) -> None:
    unit, rater, value = data
    labels = list(range(50))
    rnd.shuffle(labels)
    relabelled = np.array(labels)[rater]
    # Cohen's kappa is symmetric in the two raters; the SMD changes sign when their order flips.
    before, after = stats(unit, rater, value), stats(unit, relabelled, value)
    assert same(before, after, skip=("standardized_mean_difference",))
    if "standardized_mean_difference" in before:
        smd_before, smd_after = (
            before["standardized_mean_difference"],
            after["standardized_mean_difference"],
        )
        assert math.isnan(smd_before) or math.isclose(abs(smd_before), abs(smd_after))


@settings(max_examples=60, deadline=None)
@given(ratings(), st.randoms(use_true_random=False))
def test_invariant_under_reordering_and_relabelling_units(data: Long, rnd: Any) -> None:
    unit, rater, value = data
    rows = list(range(unit.size))
    rnd.shuffle(rows)
    labels = list(range(unit.max() + 1))
    rnd.shuffle(labels)
    order = np.array(rows)
    assert same(
        stats(unit, rater, value),
        stats(np.array(labels)[unit[order]], rater[order], value[order]),
    )


@settings(max_examples=60, deadline=None)
@given(ratings())
def test_added_all_missing_unit_changes_nothing(data: Long) -> None:
    unit, rater, value = data
    new = unit.max() + 7
    more = stats(np.r_[unit, new, new], np.r_[rater, 0, 1], np.r_[value, np.nan, np.nan])
    assert same(stats(unit, rater, value), more)


@settings(max_examples=60, deadline=None)
@given(ratings(), st.sampled_from([1.0, 2.0, 3.0, 4.0]))
def test_added_single_rating_unit_changes_no_pairwise_statistic(data: Long, score: float) -> None:
    unit, rater, value = data
    new = unit.max() + 1
    before = stats(unit, rater, value)
    after = stats(np.r_[unit, new], np.r_[rater, 0], np.r_[value, score])
    # A unit with one rating has no pair: alpha, percent agreement and Cohen's kappa ignore it.
    # Gwet's AC1/AC2 and the generalised Fleiss kappa count it in the category shares pi_k
    # (Gwet 2014; irrCAC), and the ICC design becomes incomplete, so those may change.
    pairwise = [k for k in before if k.startswith(("krippendorff_alpha", "percent", "cohen"))]
    assert same({k: before[k] for k in pairwise}, {k: after[k] for k in pairwise})


@settings(max_examples=60, deadline=None)
@given(ratings())
def test_perfect_agreement_gives_one(data: Long) -> None:
    unit, rater, _ = data
    value = (unit % 4 + 1).astype(float)  # every rater gives a unit the same score
    result = summarize(unit, rater, value, levels=[1, 2, 3, 4])
    assert result.percent_exact == 1.0
    assert result.percent_adjacent == 1.0
    assert result.gwet_ac1 == 1.0
    assert all(v == 1.0 for v in result.gwet_ac2.values())
    pairable_values = np.unique(value[np.isin(unit, np.flatnonzero(np.bincount(unit) >= 2))])
    if pairable_values.size >= 2:  # otherwise chance agreement is 1 and kappa/alpha undefined
        assert all(math.isclose(result.krippendorff_alpha[lv], 1.0) for lv in ALPHA_LEVELS)
    if np.unique(value).size >= 2:
        assert math.isclose(result.fleiss_kappa, 1.0)
    if result.cohen_kappa is not None and not math.isnan(result.cohen_kappa["unweighted"]):
        assert all(math.isclose(v, 1.0) for v in result.cohen_kappa.values())
