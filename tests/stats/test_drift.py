"""Drift detection (calibrate.stats.drift): charts, run lengths, observations, change tests.

- Published ARLs: Lucas & Crosier (1982) and Montgomery (2009) for the two-sided CUSUM,
  Hawkins (1993) for its decision intervals, Lucas & Saccucci (1990) and Crowder (1987) for the
  EWMA; Brook & Evans (1972) for their own Markov chain.
- Monte Carlo: the implemented charts' run lengths against the computed ARLs, in control and
  under a one-SD shift. Tolerance: 4 Monte Carlo standard errors (a false failure about once in
  16,000 runs; the seeds are fixed, so the outcome is reproducible).
- Properties (hypothesis): non-negative statistics, independence of groups, alarms monotone in
  h, invariance to the order of the input rows; the recursions against a plain loop.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats as sps
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from calibrate.errors import StatisticsError
from calibrate.stats.accuracy import anchor_accuracy
from calibrate.stats.drift import (
    anchor_observations,
    cusum,
    cusum_arl,
    cusum_h,
    ewma,
    ewma_arl,
    ewma_L,
    pool_drift,
    severity_change,
)


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Any:
    # The machine's cores are shared: the Markov chains' solves need no threads.
    with threadpool_limits(1):
        yield


def sig3(x: float) -> float:
    """``x`` to three significant digits, as the ARL tables print it."""
    return float(f"{x:.3g}")


# -- published average run lengths -------------------------------------------------------------

SHIFTS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0]


def test_cusum_arl_lucas_crosier_1982_table_1() -> None:
    # Lucas, J. M. & Crosier, R. B. (1982), Technometrics 24(3), Table 1: two-sided CUSUM,
    # k = 0.5, h = 4, no head start; also Montgomery (2009, 6th ed.), Table 9.3, column h = 4.
    published = [168.0, 74.2, 26.6, 13.3, 8.38, 4.75, 3.34, 2.62, 2.19, 1.71]
    computed = [sig3(cusum_arl(0.5, 4.0, shift=d)) for d in SHIFTS]
    assert computed == published
    # Same table, shift 5: 1.31.
    assert sig3(cusum_arl(0.5, 4.0, shift=5.0)) == 1.31


def test_cusum_arl_montgomery_2009_table_9_3() -> None:
    # Montgomery, D. C. (2009), Introduction to Statistical Quality Control, 6th ed., Table 9.3
    # "ARL performance of the tabular CUSUM with k = 1/2 and h = 4 or h = 5", column h = 5.
    published = [465.0, 139.0, 38.0, 17.0, 10.4, 5.75, 4.01, 3.11, 2.57, 2.01]
    computed = [sig3(cusum_arl(0.5, 5.0, shift=d)) for d in SHIFTS]
    assert computed == published


def test_cusum_arl_brook_evans_1972_section_4_3() -> None:
    # Brook, D. & Evans, D. A. (1972), Biometrika 59(3), Subsection 4.3: one-sided CUSUM,
    # k = 0.5, h = 3, by their Markov chain: L0 = 117.59, L1 (shift 1.5) = 3.75. The chain
    # converges to 117.5957 (Nystroem solution of the integral equation, 80 Gauss-Legendre
    # nodes, computed for this test): within 0.01 of the printed value.
    assert cusum_arl(0.5, 3.0, sided="one") == pytest.approx(117.59, abs=0.01)
    assert round(cusum_arl(0.5, 3.0, shift=1.5, sided="one"), 2) == 3.75


def test_cusum_h_hawkins_1993() -> None:
    # Hawkins, D. M. (1993), Quality Engineering 5(3), reproduced in Montgomery (2009, 6th ed.),
    # Table 9.4: h giving an in-control ARL of 370 for the two-sided CUSUM, printed to 0.01.
    # All round to the printed value except k = 1.5, computed 1.604 (ARL 370.0; h = 1.61 gives
    # 376): hence a tolerance of one unit in the last printed digit.
    published = {0.25: 8.01, 0.5: 4.77, 0.75: 3.34, 1.0: 2.52, 1.25: 1.99, 1.5: 1.61}
    for k, h in published.items():
        found = cusum_h(370.0, k=k, states=200)
        assert found == pytest.approx(h, abs=0.01 + 1e-9), k
        assert cusum_arl(k, found, states=200) == pytest.approx(370.0, rel=1e-6)


# Lucas, J. M. & Saccucci, M. S. (1990), Technometrics 32(1), Table 3: two-sided EWMA with
# asymptotic (fixed) limits, zero-state ARLs, designs with an in-control ARL of 500; columns
# lambda = 0.5 (L = 3.071) and lambda = 0.03 (L = 2.437), as transcribed in the examples of R
# package spc (xewma.arl, Knoth).
LS_SHIFTS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0]
LS_TABLE_3 = {
    (0.5, 3.071): [500.0, 255.0, 88.8, 35.9, 17.5, 6.53, 3.63, 2.50, 1.93, 1.58, 1.34, 1.07],
    (0.03, 2.437): [500.0, 76.7, 29.3, 17.6, 12.6, 8.07, 5.99, 4.80, 4.03, 3.49, 3.11, 2.55],
}


@pytest.mark.parametrize(("lam", "L"), list(LS_TABLE_3))
def test_ewma_arl_lucas_saccucci_1990_table_3(lam: float, L: float) -> None:
    computed = [sig3(ewma_arl(lam, L, shift=d, limits="asymptotic")) for d in LS_SHIFTS]
    assert computed == LS_TABLE_3[lam, L]


def test_ewma_arl_lucas_saccucci_1990_default_design() -> None:
    # Lucas & Saccucci (1990), Table 3, lambda = 0.1, L = 2.814 (also Montgomery 2009, 6th ed.,
    # Table 9.11): in-control ARL 500, one-SD shift 10.3.
    assert sig3(ewma_arl(0.1, 2.814, limits="asymptotic")) == 500.0
    assert sig3(ewma_arl(0.1, 2.814, shift=1.0, limits="asymptotic")) == 10.3


def test_ewma_arl_crowder_1987_table_1() -> None:
    # Crowder, S. V. (1987), Technometrics 29(4), Table 1: two-sided EWMA, fixed limits at
    # L = 2 SDs of z; lambda = 0.5: 26.45 in control, 4.91 at a one-SD shift; lambda = 0.05:
    # 127.53 and 8.38, to 0.01 (which lambda = 0.05 needs 1601 states to reach).
    assert round(ewma_arl(0.5, 2.0, limits="asymptotic"), 2) == 26.45
    assert round(ewma_arl(0.5, 2.0, shift=1.0, limits="asymptotic"), 2) == 4.91
    assert round(ewma_arl(0.05, 2.0, limits="asymptotic", states=1601), 2) == 127.53
    assert round(ewma_arl(0.05, 2.0, shift=1.0, limits="asymptotic", states=1601), 2) == 8.38


def test_ewma_arl_shewhart_is_exact() -> None:
    # lambda = 1 is the Shewhart chart: ARL = 1 / P(|x - shift| > L), exactly, for any states.
    for limits in ("exact", "asymptotic"):
        assert ewma_arl(1.0, 3.0, limits=limits, states=11) == pytest.approx(
            1 / (2 * sps.norm.sf(3.0)), rel=1e-12
        )
        p_out = sps.norm.sf(3.0 - 1.0) + sps.norm.cdf(-3.0 - 1.0)
        assert ewma_arl(1.0, 3.0, shift=1.0, limits=limits) == pytest.approx(1 / p_out)


def test_ewma_L_lucas_saccucci_designs() -> None:
    # Lucas & Saccucci (1990), Table 3: L for an in-control ARL of 500, printed to 0.001.
    assert round(ewma_L(500.0, lam=0.1, limits="asymptotic", states=301), 3) == 2.814
    assert round(ewma_L(500.0, lam=0.5, limits="asymptotic", states=301), 3) == 3.071


def test_exact_limits_alarm_earlier() -> None:
    # Narrow early limits: more early alarms, true and false; the asymptotic chain is the limit.
    assert ewma_arl(0.1, 2.814) < ewma_arl(0.1, 2.814, limits="asymptotic")
    assert ewma_arl(0.1, 2.814, shift=1.0) < ewma_arl(0.1, 2.814, shift=1.0, limits="asymptotic")
    assert ewma_L(500.0, lam=0.1, states=301) > 2.814


def test_markov_chains_converge_and_are_monotone() -> None:
    # Error of order 1 / states^2: doubling the states cuts the change about fourfold.
    a, b, c = (cusum_arl(0.5, 4.0, sided="one", states=m) for m in (100, 200, 400))
    assert (b - a) / (c - b) == pytest.approx(4.0, rel=0.05)
    # The exact value (Nystroem, 80 nodes; computed for this test): 335.36758.
    assert c == pytest.approx(335.36758, rel=2e-5)
    arls = [cusum_arl(0.5, h) for h in (1.0, 2.0, 3.0, 4.0, 5.0)]
    assert arls == sorted(arls)
    assert cusum_arl(0.5, 4.0, shift=0.5) == cusum_arl(0.5, 4.0, shift=-0.5)
    widths = [ewma_arl(0.2, L) for L in (1.0, 2.0, 3.0)]
    assert widths == sorted(widths)


# -- Monte Carlo: the charts against the chains ------------------------------------------------


def run_lengths(
    chart: Callable[..., Any], n: int, length: int, shift: float, seed: int, **design: Any
) -> np.ndarray:
    """Run lengths of ``n`` independent streams of ``length`` N(shift, 1) observations, each a
    group of the chart (0 = no alarm within ``length``), simulated in chunks."""
    rng = np.random.default_rng(seed)
    out = []
    chunk = max(1, 1_500_000 // length)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        group = np.repeat(np.arange(m), length)
        time = np.tile(np.arange(length, dtype=float), m)
        x = rng.standard_normal(m * length) + shift
        out.append(chart(group, time, x, **design).run_length)
    return np.concatenate(out)


def in_control_arl(rl: np.ndarray, length: int) -> tuple[float, float]:
    """ARL estimate (observations per alarm, censored streams counted in full) and its SE
    (run lengths nearly geometric: SD about the mean)."""
    alarms = int((rl > 0).sum())
    estimate = float(np.where(rl > 0, rl, length).sum()) / alarms
    return estimate, estimate / math.sqrt(alarms)


def test_cusum_in_control_run_length_matches_markov_chain() -> None:
    # k = 0.5, h = 4: ARL 167.7 (chain). 4000 streams of 1200 (censored: about 0.1%).
    rl = run_lengths(cusum, 4000, 1200, 0.0, seed=11, k=0.5, h=4.0)
    estimate, se = in_control_arl(rl, 1200)
    assert abs(estimate - cusum_arl(0.5, 4.0)) < 4 * se


def test_ewma_in_control_run_length_matches_markov_chain() -> None:
    # lambda = 0.25, L = 2.5, exact and asymptotic limits: ARLs 120.7 and 124.2 (chain).
    for limits in ("exact", "asymptotic"):
        rl = run_lengths(ewma, 4000, 1000, 0.0, seed=12, lam=0.25, L=2.5, limits=limits)
        estimate, se = in_control_arl(rl, 1000)
        assert abs(estimate - ewma_arl(0.25, 2.5, limits=limits)) < 4 * se, limits


@pytest.mark.parametrize(
    ("chart", "design", "published"),
    [
        # Lucas & Crosier (1982), Table 1: k = 0.5, h = 4, shift 1: 8.38.
        (cusum, {"k": 0.5, "h": 4.0}, 8.38),
        # Montgomery (2009, 6th ed.), Table 9.3: k = 0.5, h = 5, shift 1: 10.4.
        (cusum, {"k": 0.5, "h": 5.0}, 10.4),
        # Lucas & Saccucci (1990), Table 3: lambda = 0.1, L = 2.814, shift 1: 10.3.
        (ewma, {"lam": 0.1, "L": 2.814, "limits": "asymptotic"}, 10.3),
    ],
)
def test_one_sd_shift_is_detected_as_the_tables_say(
    chart: Callable[..., Any], design: dict[str, Any], published: float
) -> None:
    # 4000 streams shifted by one SD from the first observation (zero-state ARL); tolerance
    # 4 Monte Carlo SEs plus half a unit of the printed last digit.
    rl = run_lengths(chart, 4000, 100, 1.0, seed=13, **design)
    assert (rl > 0).all()
    se = rl.std(ddof=1) / math.sqrt(rl.size)
    assert abs(rl.mean() - published) < 4 * se + 0.05


def test_default_ewma_shift_detection_matches_its_chain() -> None:
    # The default chart (exact limits): ARL 8.16 at a one-SD shift (chain), 10.3 with
    # asymptotic limits.
    rl = run_lengths(ewma, 4000, 100, 1.0, seed=14)
    se = rl.std(ddof=1) / math.sqrt(rl.size)
    assert abs(rl.mean() - ewma_arl(0.1, 2.814, shift=1.0)) < 4 * se


@pytest.mark.slow
def test_default_designs_in_control_run_length() -> None:
    # The defaults: CUSUM k = 0.5, h = 5 (ARL 465.4, Montgomery 2009, Table 9.3) and EWMA
    # lambda = 0.1, L = 2.814 with exact limits (ARL 486.4, chain). 4000 streams of 3000
    # (censored: about 0.2%); about 25 s.
    rl = run_lengths(cusum, 4000, 3000, 0.0, seed=21)
    estimate, se = in_control_arl(rl, 3000)
    assert abs(estimate - cusum_arl(0.5, 5.0)) < 4 * se
    rl = run_lengths(ewma, 4000, 3000, 0.0, seed=22)
    estimate, se = in_control_arl(rl, 3000)
    assert abs(estimate - ewma_arl(0.1, 2.814)) < 4 * se


# -- the charts --------------------------------------------------------------------------------


def loop_cusum(x: list[float], k: float) -> tuple[list[float], list[float]]:
    """Page's (1954) recursions, one observation at a time."""
    up, down, ups, downs = 0.0, 0.0, [], []
    for v in x:
        up = max(0.0, v - k + up)
        down = max(0.0, -v - k + down)
        ups.append(up)
        downs.append(down)
    return ups, downs


def test_cusum_matches_the_recursion_with_interleaved_groups_and_tied_times() -> None:
    rng = np.random.default_rng(5)
    group = rng.integers(0, 4, 200)
    time = rng.integers(0, 30, 200).astype(float)
    x = rng.normal(0.3, 1.2, 200)
    result = cusum(group, time, x, k=0.4, h=3.0, n_groups=5)
    for g in range(4):
        rows = [i for i in np.lexsort((np.arange(200), time)) if group[i] == g]
        ups, downs = loop_cusum(x[rows].tolist(), 0.4)
        assert result.upper[rows].tolist() == ups
        assert result.lower[rows].tolist() == downs
        first = next(
            (j for j, (u, d) in enumerate(zip(ups, downs, strict=True)) if u > 3 or d > 3), None
        )
        if first is None:
            assert result.alarm[g] == -1 and result.run_length[g] == 0
        else:
            assert result.alarm[g] == rows[first]
            assert result.run_length[g] == first + 1
            assert result.alarm_time[g] == time[rows[first]]
            assert result.direction[g] == (1 if ups[first] > 3 else -1)
    assert result.n.tolist() == np.bincount(group, minlength=5).tolist()
    assert result.n[4] == 0 and result.alarm[4] == -1 and np.isnan(result.alarm_time[4])


def test_ewma_matches_the_recursion() -> None:
    rng = np.random.default_rng(6)
    group = rng.integers(0, 3, 90)
    time = rng.normal(size=90)
    x = rng.normal(size=90)
    result = ewma(group, time, x, lam=0.2, L=2.0)
    for g in range(3):
        rows = [i for i in np.argsort(time) if group[i] == g]
        z, zs = 0.0, []
        for v in x[rows]:
            z = 0.2 * v + 0.8 * z
            zs.append(z)
        assert result.z[rows] == pytest.approx(zs, rel=1e-12)
        t = np.arange(1, len(rows) + 1)
        limit = 2.0 * np.sqrt(0.2 / 1.8 * (1 - 0.8 ** (2 * t)))
        assert result.limit[rows] == pytest.approx(limit, rel=1e-12)
    steady = ewma(group, time, x, lam=0.2, L=2.0, limits="asymptotic")
    assert np.allclose(steady.limit, 2.0 * math.sqrt(0.2 / 1.8))


def test_lenient_and_severe_assessors_are_told_apart() -> None:
    # Assessor 0 turns lenient by 1.5 SD at time 20, assessor 1 severe, assessor 2 steady.
    rng = np.random.default_rng(8)
    n = 60
    group = np.repeat([0, 1, 2], n)
    time = np.tile(np.arange(n, dtype=float), 3)
    x = rng.standard_normal(3 * n) * 0.5
    x[(group == 0) & (time >= 20)] += 1.5
    x[(group == 1) & (time >= 20)] -= 1.5
    for result in (cusum(group, time, x), ewma(group, time, x)):
        assert result.direction.tolist() == [1, -1, 0]
        assert (result.alarm_time[:2] >= 20).all()
        assert result.to_dict()["direction"] == ["lenient", "severe", None]


def test_empty_streams_and_groups_without_observations() -> None:
    empty = np.zeros(0, dtype=int)
    result = cusum(empty, [], [], n_groups=2)
    assert result.upper.size == 0 and result.n.tolist() == [0, 0]
    assert result.alarm.tolist() == [-1, -1] and result.run_length.tolist() == [0, 0]
    assert np.isnan(result.alarm_time).all() and result.direction.tolist() == [0, 0]
    assert ewma(empty, [], []).n.size == 0


def test_to_dict_is_json() -> None:
    c = cusum([0, 0, 1], [1, 2, 1], [6.0, 0.0, 0.0], n_groups=3)
    d = c.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["alarm"] == [0, None, None] and d["run_length"] == [1, None, None]
    assert d["alarm_time"] == [1.0, None, None] and d["n"] == [2, 1, 0]
    assert d["upper"] == [5.5, 5.0, 0.0]
    e = ewma([0, 1], [1, 1], [4.0, 0.0]).to_dict()
    json.dumps(e, allow_nan=False)
    assert e["direction"] == ["lenient", None] and e["limits"] == "exact"


streams = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 6),
        st.floats(-4, 4, allow_nan=False, allow_subnormal=False),
    ),
    max_size=40,
)


def unzip(rows: list[tuple[int, int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.float64)
    x = np.array([r[2] for r in rows], dtype=np.float64)
    return g, t, x


@settings(max_examples=150, deadline=None)
@given(streams, st.floats(0, 2), st.floats(0.1, 6))
def test_cusum_statistics_are_non_negative_and_mirror(
    rows: list[tuple[int, int, float]], k: float, h: float
) -> None:
    g, t, x = unzip(rows)
    result = cusum(g, t, x, k=k, h=h, n_groups=4)
    assert (result.upper >= 0).all() and (result.lower >= 0).all()
    mirror = cusum(g, t, -x, k=k, h=h, n_groups=4)
    assert mirror.upper.tolist() == result.lower.tolist()
    assert mirror.direction.tolist() == (-result.direction).tolist()
    hit = result.alarm >= 0
    assert (result.run_length[hit] >= 1).all() and (result.run_length[~hit] == 0).all()


@settings(max_examples=150, deadline=None)
@given(streams, st.integers(0, 3), st.floats(-3, 3))
def test_shifting_one_group_leaves_the_others_alone(
    rows: list[tuple[int, int, float]], target: int, shift: float
) -> None:
    g, t, x = unzip(rows)
    moved = np.where(g == target, x + shift, x)
    others = g != target
    for chart in (cusum, ewma):
        a = chart(g, t, x, n_groups=4)
        b = chart(g, t, moved, n_groups=4)
        for field in ("upper", "lower", "z"):
            if hasattr(a, field):
                assert getattr(a, field)[others].tolist() == getattr(b, field)[others].tolist()
        keep = np.arange(4) != target
        assert a.alarm[keep].tolist() == b.alarm[keep].tolist()
        assert a.direction[keep].tolist() == b.direction[keep].tolist()


@settings(max_examples=150, deadline=None)
@given(streams, st.floats(0.1, 4), st.floats(0.1, 4))
def test_alarms_come_no_earlier_with_a_wider_decision_interval(
    rows: list[tuple[int, int, float]], h1: float, h2: float
) -> None:
    g, t, x = unzip(rows)
    low, high = sorted((h1, h2))
    narrow = cusum(g, t, x, h=low, n_groups=4).run_length
    wide = cusum(g, t, x, h=high, n_groups=4).run_length
    never = np.iinfo(np.int64).max
    assert (np.where(narrow == 0, never, narrow) <= np.where(wide == 0, never, wide)).all()


@settings(max_examples=100, deadline=None)
@given(streams, st.randoms(use_true_random=False))
def test_input_row_order_does_not_matter_given_distinct_times(
    rows: list[tuple[int, int, float]], rnd: Any
) -> None:
    # Distinct times within each group (ties keep input order, so they may not be shuffled).
    rows = list({(r[0], r[1]): r for r in rows}.values())
    g, t, x = unzip(rows)
    perm = np.array(rnd.sample(range(len(rows)), len(rows)), dtype=np.int64)
    a = cusum(g, t, x, n_groups=4)
    b = cusum(g[perm], t[perm], x[perm], n_groups=4)
    assert a.upper[perm].tolist() == b.upper.tolist()
    assert a.run_length.tolist() == b.run_length.tolist()
    assert a.alarm_time.tolist() == pytest.approx(b.alarm_time.tolist(), nan_ok=True)
    hit = a.alarm >= 0
    assert (perm[b.alarm[hit]] == a.alarm[hit]).all()


@settings(max_examples=100, deadline=None)
@given(streams, st.floats(0.01, 1))
def test_ewma_stays_within_the_observations(rows: list[tuple[int, int, float]], lam: float) -> None:
    g, t, x = unzip(rows)
    z = ewma(g, t, x, lam=lam).z
    for code in np.unique(g):
        mine = g == code
        assert z[mine].max() <= max(0.0, x[mine].max()) + 1e-12
        assert z[mine].min() >= min(0.0, x[mine].min()) - 1e-12


# -- observations from anchor readings ---------------------------------------------------------


def test_anchor_observations_hand_computed() -> None:
    # Assessor 0: readings 10 (t 1), 11 (t 3); assessor 1: 12 (t 2), 13 (t 5), 14 (t 4), each
    # on two criteria. Deviations: 10: (+1, 0) -> 0.5; 11: (+1, +1) -> 1; 12: (-1, 0) -> -0.5;
    # 13: (0, 0) -> 0; 14: (-1, -1) -> -1. Moving ranges in time order: assessor 0 |1 - 0.5|
    # = 0.5; assessor 1 (12, 14, 13): 0.5, 1. Mean 2/3; sd = (2/3) / (2 / sqrt(pi)).
    reading = [10, 10, 11, 11, 12, 12, 13, 13, 14, 14]
    group = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    time = [1, 1, 3, 3, 2, 2, 5, 5, 4, 4]
    value = [3, 2, 3, 3, 1, 2, 2, 2, 1, 1]
    expert = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    obs = anchor_observations(reading, group, time, value, expert)
    sd = (2 / 3) / (2 / math.sqrt(math.pi))
    assert obs.reading.tolist() == [10, 11, 12, 13, 14]
    assert obs.group.tolist() == [0, 0, 1, 1, 1]
    assert obs.time.tolist() == [1.0, 3.0, 2.0, 5.0, 4.0]
    assert obs.n_criteria.tolist() == [2] * 5
    assert obs.deviation.tolist() == [0.5, 1.0, -0.5, 0.0, -1.0]
    assert obs.sd == pytest.approx(sd) and obs.n_ranges == 3
    assert obs.sd_source == "moving range"
    assert obs.x == pytest.approx(np.array([0.5, 1.0, -0.5, 0.0, -1.0]) / sd)
    # Per-assessor targets and a given sd.
    given_sd = anchor_observations(reading, group, time, value, expert, target=[0.5, -0.5], sd=0.5)
    assert given_sd.x.tolist() == [0.0, 1.0, 0.0, 1.0, -1.0]
    assert given_sd.sd_source == "given" and given_sd.n_ranges == 0
    json.dumps(given_sd.to_dict(), allow_nan=False)


def test_reading_time_is_its_latest_rating() -> None:
    obs = anchor_observations([0, 0, 1], [0, 0, 0], [1.0, 1.5, 2.0], [2, 2, 2], [2, 2, 2], sd=1)
    assert obs.time.tolist() == [1.5, 2.0]


def test_moving_range_sd_ignores_severity_differences_and_a_shift() -> None:
    # 200 assessors, 30 readings each, within-assessor SD 0.4; severities spread with SD 0.5;
    # a quarter shift by +1 halfway. The pooled SD of all readings absorbs both; the moving
    # range stays near 0.4 (a shift adds |1| to one range in 29: +0.25/29 * 1 / 1.128).
    rng = np.random.default_rng(9)
    n_a, n_r = 200, 30
    group = np.repeat(np.arange(n_a), n_r)
    time = np.tile(np.arange(n_r), n_a).astype(float)
    d = rng.normal(0, 0.5, n_a)[group] + rng.normal(0, 0.4, n_a * n_r)
    d[(group < 50) & (time >= 15)] += 1.0
    reading = np.arange(n_a * n_r)
    obs = anchor_observations(reading, group, time, d, np.zeros(n_a * n_r))
    assert obs.sd == pytest.approx(0.4, rel=0.05)
    assert d.std() > 0.6


def test_anchor_observations_errors() -> None:
    ok = ([0, 1], [0, 0], [1, 2], [2, 3], [2, 2])
    with pytest.raises(StatisticsError, match="one assessor: reading 0 has groups 0 and 1"):
        anchor_observations([0, 0], [0, 1], [1, 1], [2, 2], [2, 2])
    with pytest.raises(StatisticsError, match="an assessor with two readings"):
        anchor_observations([0, 1], [0, 1], [1, 1], [2, 2], [2, 2])
    with pytest.raises(StatisticsError, match="moving ranges is 0"):
        anchor_observations([0, 1], [0, 0], [1, 2], [2, 2], [2, 2])
    with pytest.raises(StatisticsError, match="sd must be positive"):
        anchor_observations(*ok, sd=0)
    with pytest.raises(StatisticsError, match="sd must be finite"):
        anchor_observations(*ok, sd=float("nan"))
    with pytest.raises(
        StatisticsError, match=r"target must be a number or an array of shape \(1,\)"
    ):
        anchor_observations(*ok, target=[0, 0])
    with pytest.raises(StatisticsError, match="at least one rating"):
        anchor_observations([], [], [], [], [])
    with pytest.raises(StatisticsError, match="expert must be finite"):
        anchor_observations([0, 1], [0, 0], [1, 2], [2, 3], [2, float("nan")])
    with pytest.raises(
        StatisticsError, match=r"group must be a 1-D array as long as reading \(2\)"
    ):
        anchor_observations([0, 1], [0], [1, 2], [2, 3], [2, 2])


# -- severity change between windows -----------------------------------------------------------


def test_severity_change_against_scipy() -> None:
    a = np.array([0.1, -0.3, 0.5, np.nan])
    sa = np.array([0.15, 0.2, 0.1, np.nan])
    b = np.array([-0.4, -0.2, 0.9, 0.2])
    sb = np.array([0.2, 0.25, 0.1, 0.3])
    change = severity_change(a, sa, b, sb)
    se = np.sqrt(sa**2 + sb**2)
    z = (b - a) / se
    assert change.z[:3] == pytest.approx(z[:3])
    assert change.p_value[:3] == pytest.approx(2 * sps.norm.sf(np.abs(z[:3])))
    ci = change.confidence_interval(0.9)
    assert ci.low[:3] == pytest.approx((b - a - sps.norm.ppf(0.95) * se)[:3])
    # An assessor missing from a window: NaN throughout.
    assert np.isnan([change.difference[3], change.z[3], change.p_value[3], ci.high[3]]).all()
    d = change.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["z"][3] is None and d["ci"][3] == [None, None]


def test_severity_change_errors() -> None:
    with pytest.raises(StatisticsError, match="se_a must hold positive standard errors"):
        severity_change([0.0], [0.0], [1.0], [0.1])
    with pytest.raises(StatisticsError, match=r"se_b must be a 1-D array as long as estimate_a"):
        severity_change([0.0, 1.0], [0.1, 0.1], [1.0, 1.0], [0.1])
    with pytest.raises(StatisticsError, match="estimate_b must be finite"):
        severity_change([0.0], [0.1], [np.inf], [0.1])
    with pytest.raises(StatisticsError, match="confidence must be between 0 and 1"):
        severity_change([0.0], [0.1], [1.0], [0.1]).confidence_interval(1.0)


# -- pool drift between terms ------------------------------------------------------------------


def test_pool_drift_one_rating_per_anchor_is_the_paired_t_test() -> None:
    rng = np.random.default_rng(10)
    n_a = 25
    expert = rng.integers(1, 5, n_a)
    before = np.clip(expert + rng.integers(-1, 2, n_a), 1, 4)
    after = np.clip(expert + rng.integers(-1, 3, n_a), 1, 4)
    anchor = np.tile(np.arange(n_a), 2)
    term = np.repeat([0, 1], n_a)
    drift = pool_drift(
        anchor, term, np.arange(2 * n_a), np.concatenate([before, after]), np.tile(expert, 2)
    )
    paired = sps.ttest_rel(after - expert, before - expert)
    assert drift.statistic == pytest.approx(paired.statistic)
    assert drift.p_value == pytest.approx(paired.pvalue)
    ci = drift.confidence_interval(0.9)
    ref = paired.confidence_interval(0.9)
    assert (ci.low, ci.high) == pytest.approx((ref.low, ref.high))
    assert drift.df == n_a - 1 and drift.n_anchors == n_a and drift.n_dropped == 0


def test_pool_drift_per_term_matches_anchor_accuracy() -> None:
    # Several assessors and criteria per anchor and term, unbalanced: each term's mean and
    # clustered SE are anchor_accuracy's with the term as the group.
    rng = np.random.default_rng(12)
    n = 600
    anchor = rng.integers(0, 15, n)
    term = rng.integers(0, 2, n)
    assessor = rng.integers(0, 40, n)
    expert = rng.integers(1, 5, n)
    value = np.clip(expert + rng.integers(-1, 2, n) + (term & (rng.random(n) < 0.2)), 1, 4)
    drift = pool_drift(anchor, term, assessor, value, expert)
    acc = anchor_accuracy(anchor, term, value, expert)
    assert drift.mean == pytest.approx(acc.mean_deviation)
    assert drift.se == pytest.approx(acc.se)
    assert drift.change == pytest.approx(acc.mean_deviation[1] - acc.mean_deviation[0])
    # The terms share anchors, so the change's variance is not the sum of the terms'; it is
    # the clustered sandwich of the regression of d on a term dummy (Cameron & Miller 2015).
    x = np.column_stack([np.ones(n), term])
    d = value - expert
    beta = np.linalg.lstsq(x, d, rcond=None)[0]
    bread = np.linalg.inv(x.T @ x)
    scores = np.zeros((15, 2))
    np.add.at(scores, anchor, x * (d - x @ beta)[:, None])
    sandwich = 15 / 14 * bread @ scores.T @ scores @ bread
    assert drift.change_se == pytest.approx(math.sqrt(sandwich[1, 1]))
    assert drift.n.tolist() == np.bincount(term).tolist()
    assert drift.n_assessors.tolist() == [np.unique(assessor[term == t]).size for t in (0, 1)]
    json.dumps(drift.to_dict(), allow_nan=False)


def test_pool_drift_drops_anchors_and_assessors_of_one_term() -> None:
    # Anchor 2 only in term 0; assessor 9 only in term 1.
    anchor = [0, 1, 2, 0, 1, 0]
    term = [0, 0, 0, 1, 1, 1]
    assessor = [1, 1, 1, 1, 1, 9]
    value = [2, 2, 3, 3, 2, 1]
    expert = [2, 2, 2, 2, 2, 2]
    drift = pool_drift(anchor, term, assessor, value, expert)
    assert drift.n_anchors == 2 and drift.n_dropped == 1 and drift.n.tolist() == [2, 3]
    assert drift.mean.tolist() == [0.0, 0.0]
    same = pool_drift(anchor, term, assessor, value, expert, same_assessors=True)
    assert same.n_dropped == 2 and same.n.tolist() == [2, 2] and same.n_assessors.tolist() == [1, 1]
    assert same.change == 0.5


def test_pool_drift_one_anchor_has_no_interval() -> None:
    drift = pool_drift([0, 0], [0, 1], [0, 0], [2, 3], [2, 2])
    assert drift.change == 1.0 and drift.df == 0
    assert math.isnan(drift.change_se) and math.isnan(drift.p_value)
    assert math.isnan(drift.confidence_interval().low)
    d = drift.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["change_ci"] == [None, None] and d["se"] == [None, None]


def test_pool_drift_errors() -> None:
    with pytest.raises(StatisticsError, match=r"term must hold 0 \(earlier term\) or 1"):
        pool_drift([0, 0], [0, 2], [0, 0], [2, 2], [2, 2])
    with pytest.raises(StatisticsError, match="an anchor scored in both terms"):
        pool_drift([0, 1], [0, 1], [0, 0], [2, 2], [2, 2])
    with pytest.raises(StatisticsError, match="an anchor scored in both terms"):
        pool_drift([], [], [], [], [])
    with pytest.raises(StatisticsError, match="an anchor scored in both terms"):
        pool_drift([0, 0], [0, 1], [0, 1], [2, 2], [2, 2], same_assessors=True)
    with pytest.raises(StatisticsError, match="rater must hold non-negative integer codes"):
        pool_drift([0, 0], [0, 1], [0.5, 1], [2, 2], [2, 2])


# -- input errors of the charts and chains -----------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cusum([0, 1], [1], [0.0, 1.0]), r"time must be a 1-D array as long as group"),
        (lambda: cusum([0, 1], [1, 2], [0.0]), r"x must be a 1-D array as long as group \(2\)"),
        (lambda: cusum([0.0, 1.0], [1, 2], [0, 1]), "group must hold non-negative integer"),
        (lambda: cusum([0, -1], [1, 2], [0, 1]), "group must hold non-negative integer codes"),
        (lambda: cusum([0, 1], [1, np.nan], [0, 1]), "time must be finite"),
        (lambda: cusum([0, 1], ["a", "b"], [0, 1]), "time must hold numbers"),
        (lambda: cusum([0, 1], [1, 2], [0, np.nan]), "x must be finite"),
        (lambda: cusum([0], [1], [0.0], k=-0.1), "k must be non-negative"),
        (lambda: cusum([0], [1], [0.0], h=0), "h must be positive"),
        (lambda: cusum([0], [1], [0.0], h=np.inf), "h must be finite"),
        (lambda: cusum([0, 3], [1, 1], [0.0, 0.0], n_groups=2), r"n_groups \(2\) must exceed"),
        (lambda: ewma([0], [1], [0.0], lam=0), r"lam must be in \(0, 1\]"),
        (lambda: ewma([0], [1], [0.0], lam=1.5), r"lam must be in \(0, 1\]"),
        (lambda: ewma([0], [1], [0.0], L=-1), "L must be positive"),
        (lambda: ewma([0], [1], [0.0], limits="fixed"), "limits must be 'exact' or 'asymptotic'"),
        (lambda: cusum_arl(0.5, 4.0, states=5), "states must be an integer of at least 10"),
        (lambda: cusum_arl(0.5, 4.0, states=100.0), "states must be an integer"),
        (lambda: cusum_arl(0.5, 4.0, sided="upper"), "sided must be 'two' or 'one'"),
        (lambda: cusum_arl(0.5, 4.0, shift=np.nan), "shift must be finite"),
        (lambda: ewma_arl(0.1, 2.8, shift="x"), "shift must be a number"),
        (lambda: cusum_h(1.2, k=0.5), "target_arl must exceed 1.6"),
        (lambda: cusum_h(np.inf), "target_arl must be finite"),
        (lambda: ewma_L(0.5), "target_arl must exceed 1"),
    ],
)
def test_input_errors(call: Callable[[], object], message: str) -> None:
    with pytest.raises(StatisticsError, match=message):
        call()
