"""Rater effects beyond severity (calibrate.stats.rater_effects): recovery, calibration, checks.

Expected numbers come from planted truths (the rating-scale many-facet Rasch model of Linacre
1989 with the effects planted as :mod:`calibrate.simulate` plants them: an extra severity on one
criterion or from a date, thresholds multiplied by lambda, N(0, noise_sd) added to eta), from an
independent computation (``scipy.integrate.quad`` over a submission's ability; R's ``pchisq``)
or from the JMLE peer :func:`calibrate.stats.rasch.fit_mfrm`, never from a run of the code under
test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import integrate, stats

from calibrate.errors import StatisticsError
from calibrate.stats import rater_effects as re
from calibrate.stats.rasch import fit_mfrm
from calibrate.stats.severity import SeverityResult, fit_severity

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Data = tuple[IntArray, IntArray, IntArray, FloatArray]
TAU = np.array([-1.5, 0.0, 1.5])


def simulate(
    *,
    n_units: int = 600,
    n_raters: int = 40,
    n_criteria: int = 5,
    seed: int = 0,
    shift: FloatArray | None = None,
    late_shift: FloatArray | None = None,
    spread: FloatArray | None = None,
    noise: FloatArray | None = None,
    per_unit: int = 2,
) -> Data:
    """Sparse live design: each submission read by ``per_unit`` assessors on every criterion.
    ``shift`` (J, I): extra severity per assessor x criterion; ``late_shift`` (J,): extra
    severity on the second half of the submissions (drift); ``spread`` (J,): lambda;
    ``noise`` (J,): SD of normal noise on eta. Scores 1-4."""
    rng = np.random.default_rng(seed)
    readers = np.stack([rng.choice(n_raters, per_unit, replace=False) for _ in range(n_units)])
    chain = np.arange(min(n_raters, n_units))
    readers[chain, 0], readers[chain, 1] = chain, (chain + 1) % n_raters
    unit = np.repeat(np.arange(n_units), per_unit * n_criteria)
    rater = np.repeat(readers.ravel(), n_criteria)
    crit = np.tile(np.arange(n_criteria), per_unit * n_units)
    eta = rng.normal(0, 1, n_units)[unit] - np.linspace(-0.5, 0.5, n_criteria)[crit]
    eta -= rng.normal(0, 0.5, n_raters)[rater]
    if shift is not None:
        eta -= shift[rater, crit]
    if late_shift is not None:
        eta -= np.where(unit >= n_units // 2, late_shift[rater], 0.0)
    if noise is not None:
        eta += noise[rater] * rng.standard_normal(eta.size)
    lam = np.ones(n_raters) if spread is None else spread
    steps = eta[:, None] - lam[rater][:, None] * TAU
    psi = np.concatenate([np.zeros((eta.size, 1)), np.cumsum(steps, axis=1)], axis=1)
    p = np.exp(psi - psi.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    value = (np.cumsum(p, axis=1)[:, :-1] < rng.random((eta.size, 1))).sum(axis=1) + 1.0
    return unit, rater, crit, value


@pytest.fixture(scope="module")
def null() -> tuple[Data, SeverityResult]:
    data = simulate(seed=11)
    return data, fit_severity(*data)


# --------------------------------------------------------------------------- rating_moments


@pytest.mark.parametrize("n", [0, 7])  # a submission read by its chain pair, one at random
def test_rating_moments_match_quadrature_of_the_posterior(
    null: tuple[Data, SeverityResult], n: int
):
    # Independent: the posterior of one submission's ability by scipy.integrate.quad_vec, with
    # the fitted severities, difficulties and thresholds (rating-scale model, Andrich 1978).
    (unit, rater, crit, value), fit = null
    mom = re.rating_moments(fit, unit, rater, crit, value)
    psi = np.concatenate([[0.0], np.cumsum(fit.thresholds.tau)])
    k = np.arange(4)
    rows = np.flatnonzero(unit == n)
    loc = -(fit.criteria.difficulty[crit[rows]] + fit.assessors.severity[rater[rows]])
    observed = value[rows].astype(int) - 1

    def moments(theta: float) -> FloatArray:
        lg = k[None] * (theta + loc)[:, None] - psi[None]
        p = np.exp(lg - lg.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        dens = float(np.prod(p[np.arange(rows.size), observed])) * stats.norm.pdf(
            theta, fit.submission_mean, fit.submission_sd
        )
        e = p @ (k + 1.0)
        return dens * np.concatenate([[1.0], e, p @ (k + 1.0) ** 2 - e * e, p @ psi])

    got = integrate.quad_vec(moments, -10, 10, epsabs=1e-13)[0]
    got = got[1:].reshape(3, rows.size) / got[0]
    np.testing.assert_allclose(mom.expected[rows], got[0], atol=1e-6)
    np.testing.assert_allclose(mom.variance[rows], got[1], atol=1e-6)
    np.testing.assert_allclose(mom.expected_psi[rows], got[2], atol=1e-6)


# --------------------------------------------------------------------------- recovery


def test_local_shift_recovers_planted_differential_severity():
    # +1 logit on criterion 0 for assessors 0-5: relative to their fitted severity (the mean
    # over their five criteria) the planted group is 1 - 1/5 = +0.8, the other four -0.2.
    shift = np.zeros((40, 5))
    shift[:6, 0] = 1.0
    unit, rater, crit, value = simulate(seed=1, shift=shift)
    fit = fit_severity(unit, rater, crit, value)
    res = re.local_shift(fit, unit, rater, crit, value, rater * 5 + crit)
    est = res.estimate.reshape(40, 5)
    assert res.converged
    assert est[:6, 0].mean() == pytest.approx(0.8, abs=0.2)
    assert est[:6, 1:].mean() == pytest.approx(-0.2, abs=0.1)
    assert np.all(res.t.reshape(40, 5)[:6, 0] > 1.5)
    assert np.abs(est[6:]).mean() < 0.3
    assert res.n.tolist() == np.bincount(rater * 5 + crit, minlength=200).tolist()
    assert np.all(res.assessor == np.repeat(np.arange(40), 5))


def test_local_shift_recovers_planted_drift():
    # +1 logit from the middle of the submissions for assessors 0-5: window 1 less window 0.
    late = np.zeros(40)
    late[:6] = 1.0
    unit, rater, crit, value = simulate(seed=2, late_shift=late)
    fit = fit_severity(unit, rater, crit, value)
    window = (unit >= 300).astype(np.int64)
    res = re.local_shift(fit, unit, rater, crit, value, rater * 2 + window)
    est = res.estimate.reshape(40, 2)
    assert (est[:6, 1] - est[:6, 0]).mean() == pytest.approx(1.0, abs=0.25)
    assert np.abs(est[6:, 1] - est[6:, 0]).mean() < 0.4
    assert np.all(res.n_submissions == np.bincount(
        (rater * 2 + window)[::5], minlength=80
    ))  # fmt: skip


def test_scale_spread_recovers_planted_central_tendency():
    # lambda = 1.75 (simulate.EffectSizes.spread) for assessors 0-7, 1 for the rest. The
    # fitted thresholds are the pool's (stretched by about 1 + 0.75 * 8/40 = 1.15), and lambda
    # is relative to them: the planted over the rest is 1.75, each about 1.75/1.15 and 1/1.15.
    lam = np.ones(40)
    lam[:8] = 1.75
    unit, rater, crit, value = simulate(seed=3, spread=lam)
    fit = fit_severity(unit, rater, crit, value)
    res = re.scale_spread(fit, unit, rater, crit, value, rater)
    assert res.null == 1.0
    planted, rest = res.estimate[:8].mean(), res.estimate[8:].mean()
    assert planted / rest == pytest.approx(1.75, abs=0.25)
    assert rest == pytest.approx(1 / 1.15, abs=0.07)
    assert np.all(res.t[:8] > 2.0)
    assert np.all(res.confidence_interval(0.95).low[:8] > 1.0)


def test_planted_inconsistency_raises_the_mean_squares():
    noise = np.zeros(40)
    noise[:6] = 2.0  # simulate.EffectSizes.noise_sd
    unit, rater, crit, value = simulate(seed=4, noise=noise)
    fit = fit_severity(unit, rater, crit, value)
    ms = re.mean_squares(fit, unit, rater, crit, value)
    # the pool's scale absorbs part of the noise (a flatter scale), so the others overfit a
    # little (median infit 0.87 here) and the noisy stand out against them
    assert np.all(ms.infit[:6] > 1.3 * np.median(ms.infit[6:]))
    assert np.all(ms.outfit[:6] > 1.3 * np.median(ms.outfit[6:]))
    assert 0.8 < np.median(ms.infit[6:]) < 1.0
    test = re.mean_square_intervals(ms.infit, ms.infit_df, lower=1.0, upper=1.0)
    assert np.all(test.p_above[:6] < 0.05)


# --------------------------------------------------------------------------- calibration


def test_null_z_statistics_are_standard_normal(null: tuple[Data, SeverityResult]):
    # No planted effect: 200 assessor x criterion shifts, 40 spreads, 80 window shifts.
    (unit, rater, crit, value), fit = null
    z = [
        re.local_shift(fit, unit, rater, crit, value, rater * 5 + crit).t,
        re.scale_spread(fit, unit, rater, crit, value, rater).t,
        re.local_shift(fit, unit, rater, crit, value, rater * 2 + (unit >= 300)).t,
    ]
    allz = np.concatenate(z)
    assert abs(allz.mean()) < 0.15
    assert 0.8 < allz.std() < 1.15


@pytest.mark.slow
def test_null_coverage_over_replications():
    # 20 replications: z of every statistic has mean ~0 and SD ~1; the 95% intervals cover
    # (measured: SD 0.96, 0.97, 0.96; 4.1%, 4.1%, 4.0% beyond 1.96).
    zs: list[list[FloatArray]] = [[], [], []]
    for seed in range(100, 120):
        unit, rater, crit, value = simulate(seed=seed)
        fit = fit_severity(unit, rater, crit, value)
        zs[0].append(re.local_shift(fit, unit, rater, crit, value, rater * 5 + crit).t)
        zs[1].append(re.scale_spread(fit, unit, rater, crit, value, rater).t)
        zs[2].append(re.local_shift(fit, unit, rater, crit, value, rater * 2 + (unit >= 300)).t)
    for z in map(np.concatenate, zs):
        assert abs(z.mean()) < 0.06
        assert 0.92 < z.std() < 1.05
        assert 0.03 < np.mean(np.abs(z) > 1.96) < 0.065


@pytest.mark.slow
def test_mean_square_tests_under_the_null():
    # Share of assessors with p < 0.05 against the model's own expectation (bounds 1, 1);
    # measured 3.0% (infit above), 1.7% (outfit above), 7.3% / 6.7% below (the fitted severity
    # absorbs part of the residual: mean squares average 0.98 at 120 ratings).
    above, below, beyond = [], [], []
    for seed in range(200, 210):
        unit, rater, crit, value = simulate(seed=seed)
        fit = fit_severity(unit, rater, crit, value)
        ms = re.mean_squares(fit, unit, rater, crit, value)
        for m, df in ((ms.infit, ms.infit_df), (ms.outfit, ms.outfit_df)):
            t = re.mean_square_intervals(m, df, lower=1.0, upper=1.0)
            above.append(t.p_above < 0.05)
            below.append(t.p_below < 0.05)
            beyond.append(re.mean_square_intervals(m, df).p_above < 0.05)
    assert 0.01 < np.mean(np.concatenate(above)) < 0.07
    assert 0.02 < np.mean(np.concatenate(below)) < 0.10
    assert np.mean(np.concatenate(beyond)) == 0.0  # nobody flagged beyond 1.5


# --------------------------------------------------------------------------- JMLE agreement


def test_local_shift_agrees_with_fit_mfrm_bias_terms_on_a_dense_design():
    # 6 assessors each score all 150 submissions on 4 criteria: abilities rest on 24 ratings,
    # so JMLE (abilities fixed at estimates, FACETS' bias analysis) and the marginal version
    # (abilities integrated) differ only by JMLE's small incidental-parameter stretch and the
    # posterior's shrinkage: within 0.1 logits, correlation above 0.97.
    rng = np.random.default_rng(5)
    nu, nj, ni = 150, 6, 4
    unit = np.repeat(np.arange(nu), nj * ni)
    rater = np.tile(np.repeat(np.arange(nj), ni), nu)
    crit = np.tile(np.arange(ni), nu * nj)
    bias = rng.normal(0, 0.4, (nj, ni))
    eta = rng.normal(0, 1.2, nu)[unit] - rng.normal(0, 0.5, nj)[rater] - bias[rater, crit]
    psi = np.concatenate([[0.0], np.cumsum(TAU)])
    lg = np.arange(4)[None] * eta[:, None] - psi[None]
    p = np.exp(lg - lg.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    value = (np.cumsum(p, axis=1)[:, :-1] < rng.random((eta.size, 1))).sum(axis=1) + 1.0
    jml = fit_mfrm(unit, rater, crit, value)
    ref = np.zeros((nj, ni))
    for b in jml.bias_criterion:
        ref[b.assessor, b.other] = b.bias
    fit = fit_severity(unit, rater, crit, value)
    got = re.local_shift(fit, unit, rater, crit, value, rater * ni + crit).estimate
    assert np.abs(got - ref.ravel()).max() < 0.1
    assert np.corrcoef(got, ref.ravel())[0, 1] > 0.97


# --------------------------------------------------------------------------- properties


@settings(max_examples=10, deadline=None)
@given(st.permutations(list(range(10))))
def test_relabelling_groups_permutes_the_results(perm: list[int]):
    unit, rater, crit, value = simulate(n_units=60, n_raters=5, n_criteria=2, seed=6)
    fit = fit_severity(unit, rater, crit, value)
    group = rater * 2 + crit
    base = re.local_shift(fit, unit, rater, crit, value, group)
    relabel = np.asarray(perm)
    moved = re.local_shift(fit, unit, rater, crit, value, relabel[group])
    np.testing.assert_allclose(moved.estimate[relabel], base.estimate, atol=1e-8)
    np.testing.assert_allclose(moved.se[relabel], base.se, atol=1e-8)
    spread = re.scale_spread(fit, unit, rater, crit, value, relabel[group])
    base_spread = re.scale_spread(fit, unit, rater, crit, value, group)
    np.testing.assert_allclose(spread.estimate[relabel], base_spread.estimate, atol=1e-8)


@settings(max_examples=5, deadline=None)
@given(st.integers(-5, 5))
def test_adding_a_constant_to_every_score_changes_nothing(c: int):
    unit, rater, crit, value = simulate(n_units=60, n_raters=5, n_criteria=2, seed=7)
    group = rater * 2 + crit
    fit0 = fit_severity(unit, rater, crit, value)
    fit1 = fit_severity(unit, rater, crit, value + c)
    a = re.local_shift(fit0, unit, rater, crit, value, group)
    b = re.local_shift(fit1, unit, rater, crit, value + c, group)
    np.testing.assert_allclose(a.estimate, b.estimate, atol=1e-8)
    np.testing.assert_allclose(a.se, b.se, atol=1e-8)
    s0 = re.scale_spread(fit0, unit, rater, crit, value, rater)
    s1 = re.scale_spread(fit1, unit, rater, crit, value + c, rater)
    np.testing.assert_allclose(s0.estimate, s1.estimate, atol=1e-8)


def test_extreme_and_empty_groups_are_nan():
    unit, rater, crit, value = simulate(n_units=80, n_raters=5, n_criteria=3, seed=8)
    value = value.copy()
    value[(rater == 0) & (crit == 0)] = 1.0  # all lowest: infinite severity
    fit = fit_severity(unit, rater, crit, value)
    res = re.local_shift(fit, unit, rater, crit, value, rater * 3 + crit, n_groups=16)
    assert math.isnan(res.estimate[0]) and math.isnan(res.se[0]) and math.isnan(res.t[0])
    assert res.n[15] == 0 and math.isnan(res.estimate[15]) and res.assessor[15] == -1
    assert np.all(np.isfinite(res.estimate[1:15]))
    # only the two extreme categories (largest psi): lambda runs off to minus infinity
    ends = value.copy()
    ends[rater == 1] = np.where(value[rater == 1] <= 2, 1.0, 4.0)
    fit_m = fit_severity(unit, rater, crit, ends)
    spread = re.scale_spread(fit_m, unit, rater, crit, ends, rater)
    assert math.isnan(spread.estimate[1]) and np.isfinite(spread.estimate[[0, 2, 3, 4]]).all()


# --------------------------------------------------------------------------- mean squares


def test_mean_squares_match_the_fit(null: tuple[Data, SeverityResult]):
    (unit, rater, crit, value), fit = null
    ms = re.mean_squares(fit, unit, rater, crit, value)
    np.testing.assert_allclose(ms.infit, fit.assessors.infit, rtol=1e-6)
    np.testing.assert_allclose(ms.outfit, fit.assessors.outfit, rtol=1e-6)
    assert np.all(ms.n == fit.assessors.n)
    assert np.all(ms.n_submissions == fit.assessors.n_submissions)
    # posterior smoothing makes the mean squares steadier than N independent ratings
    assert np.all(ms.infit_df > 0.5 * ms.n)


def test_mean_square_intervals_reference():
    # R: pchisq(80, 60, lower.tail = FALSE) = 0.04322868; pchisq(30, 60) = 0.0003958...;
    # qchisq(c(0.975, 0.025), 60) = 83.29767, 40.48175
    res = re.mean_square_intervals([2.0, 0.25], [60.0, 60.0], level=0.95)
    assert res.p_above[0] == pytest.approx(0.04322868, rel=1e-6)
    assert res.p_below[1] == pytest.approx(stats.chi2.cdf(30.0, 60), rel=1e-12)
    assert res.interval.low[0] == pytest.approx(120 / 83.29767, rel=1e-6)
    assert res.interval.high[0] == pytest.approx(120 / 40.48175, rel=1e-6)
    # Wilson-Hilferty: (MS^(1/3) - 1)(3/q) + q/3, q = sqrt(2/df)
    q = math.sqrt(2 / 60)
    assert res.zstd[0] == pytest.approx((2 ** (1 / 3) - 1) * 3 / q + q / 3, rel=1e-12)


# --------------------------------------------------------------------------- validation


def test_input_errors(null: tuple[Data, SeverityResult]):
    (unit, rater, crit, value), fit = null
    group = rater * 5 + crit
    with pytest.raises(StatisticsError, match="one code per rating"):
        re.local_shift(fit, unit, rater, crit, value, group[:-1])
    with pytest.raises(StatisticsError, match="non-negative integers"):
        re.local_shift(fit, unit, rater, crit, value, group - 1)
    with pytest.raises(StatisticsError, match="below n_groups"):
        re.scale_spread(fit, unit, rater, crit, value, group, n_groups=10)
    with pytest.raises(StatisticsError, match="one assessor"):
        re.local_shift(fit, unit, rater, crit, value, crit)
    with pytest.raises(StatisticsError, match="assessor must be in the fit"):
        re.local_shift(fit, unit, rater + 100, crit, value, group)
    with pytest.raises(StatisticsError, match="fit's categories"):
        re.mean_squares(fit, unit, rater, crit, value + 10)
    with pytest.raises(StatisticsError, match="max_iter"):
        re.scale_spread(fit, unit, rater, crit, value, rater, max_iter=0)
    with pytest.raises(StatisticsError, match="df must be positive"):
        re.mean_square_intervals([1.0], [0.0])
    with pytest.raises(StatisticsError, match="lower <= upper"):
        re.mean_square_intervals([1.0], [10.0], lower=1.5, upper=0.5)
    with pytest.raises(StatisticsError, match="one length"):
        re.mean_square_intervals([1.0, 2.0], [10.0])
    with pytest.raises(StatisticsError, match="level"):
        re.local_shift(fit, unit, rater, crit, value, group).confidence_interval(1.5)
