"""Rater severities on sparse designs (calibrate.stats.severity): coverage, recovery, checks.

Every expected number comes from a planted truth (:func:`simulate`, the rating-scale many-facet
Rasch model of Linacre 1989 with normal abilities and severities), from an independent
brute-force computation (``scipy.integrate.quad`` over each submission's ability, central
differences), or from the JMLE peer :func:`calibrate.stats.rasch.fit_mfrm`, never from a run of
the code under test. Severities are compared with the truth centred at the assessors' mean, the
quantity :func:`fit_severity` estimates (its severities sum to 0, as FACETS centres them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import integrate

from calibrate.errors import StatisticsError
from calibrate.stats import severity
from calibrate.stats.rasch import fit_mfrm
from calibrate.stats.severity import NODES, SeverityResult, fit_severity

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Simulated:
    """Ratings and the truth they were drawn from."""

    unit: IntArray
    rater: IntArray
    criterion: IntArray
    value: FloatArray
    severity: FloatArray  # as drawn (not centred)

    @property
    def centred(self) -> FloatArray:
        """Severities relative to the assessors' mean: what the estimator targets."""
        return self.severity - self.severity.mean()


def simulate(
    *,
    n_units: int = 600,
    n_raters: int = 50,
    per_unit: int = 2,
    n_criteria: int = 5,
    tau: tuple[float, ...] = (-1.5, 0.0, 1.5),
    sd_severity: float = 0.5,
    severities: FloatArray | None = None,
    sd_ability: float = 1.0,
    seed: int = 0,
) -> Simulated:
    """The sparse live design: each submission read by ``per_unit`` of ``n_raters`` assessors
    (round robin over a shuffled order, so every assessor is busy) on every criterion;
    abilities N(0, sd_ability^2), severities N(0, sd_severity^2) unless given, difficulties
    -0.5..0.5,
    scores 1..len(tau)+1."""
    rng = np.random.default_rng(seed)
    ability = rng.normal(0.0, sd_ability, n_units)
    sev = rng.normal(0.0, sd_severity, n_raters) if severities is None else severities
    pairs = (rng.permutation(n_units * per_unit) % n_raters).reshape(n_units, per_unit)
    for row in pairs:  # the same assessor twice on one submission: draw again
        while np.unique(row).size < per_unit:
            row[:] = rng.choice(n_raters, per_unit, replace=False)
    unit = np.repeat(np.arange(n_units), per_unit * n_criteria)
    rater = np.repeat(pairs.ravel(), n_criteria)
    criterion = np.tile(np.arange(n_criteria), n_units * per_unit)
    eta = ability[unit] - np.linspace(-0.5, 0.5, n_criteria)[criterion] - sev[rater]
    psi = np.concatenate([[0.0], np.cumsum(tau)])
    logits = np.multiply.outer(eta, np.arange(psi.size)) - psi
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    x = (p.cumsum(axis=1) < rng.random(eta.size)[:, None]).sum(axis=1)
    return Simulated(unit, rater, criterion, (x + 1).astype(np.float64), np.asarray(sev))


def fit(sim: Simulated, **kwargs: object) -> SeverityResult:
    return fit_severity(sim.unit, sim.rater, sim.criterion, sim.value, **kwargs)  # type: ignore[arg-type]


def covered(res: SeverityResult, truth: FloatArray) -> NDArray[np.bool_]:
    ci = res.assessors.interval
    return (ci.low <= truth) & (truth <= ci.high)


# ------------------------------------------------------------------------------ input rules


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 1], [0, 1], [0, 0], [1, 2, 3]), "value must be a 1-D array as long as unit"),
        (([[0, 1]], [0, 1], [0, 0], [1, 2]), "unit must be a 1-D array"),
        (([0, 1, 2], [0, 1.5, 0], [0, 0, 0], [1, 2, 3]), "rater must hold non-negative integer"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0.0], [1, 2, 3]), "criterion must hold non-negative integ"),
        (([0, 1, 2], [0, -1, 0], [0, 0, 0], [1, 2, 3]), "non-negative"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0], [1, 2.5, 3]), "integer categories; rating 1 is 2.5"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0], [1, np.nan, 3]), "finite"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0], ["a", "b", "c"]), "must hold numbers"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0], [2, 2, 2]), "at least two score categories"),
        (([], [], [], []), "must not be empty"),
        (
            ([0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 0, 1], [1, 3, 2, 3]),
            "every rating of criterion 1 is 3, so its difficulty is infinite",
        ),
        (
            ([0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 0, 1], [1, 3, 1, 2]),
            "every rating of criterion 0 is 1",
        ),
    ],
)
def test_bad_input_raises_with_the_rule(args: tuple[list[float], ...], message: str) -> None:
    with pytest.raises(StatisticsError, match=message):
        fit_severity(*args)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"categories": [1, 2, 3]}, r"declared categories \[1.0, 2.0, 3.0\]; rating \d+ is 4"),
        ({"categories": ["low", "high"]}, "categories must be numbers"),
        ({"level": 1.0}, "level must be between 0 and 1"),
        ({"nodes": 3}, "nodes must be at least 5"),
        ({"max_iter": 0}, "max_iter must be at least 1"),
        ({"tol": 0.0}, "tol positive"),
        ({"min_information": 1.5}, "min_information must be between 0 and 1"),
        ({"min_ratings": -1}, "min_ratings must be non-negative"),
    ],
)
def test_bad_options_raise(option: dict[str, object], message: str) -> None:
    sim = simulate(n_units=60, n_raters=6, seed=1)
    with pytest.raises(StatisticsError, match=message):
        fit(sim, **option)
    with pytest.raises(StatisticsError, match="level must be between 0 and 1"):
        fit(sim).assessors.confidence_interval(0.0)


# ---------------------------------------------------------------- recovery and coverage


def coverage_run(n_raters: int, n_units: int, seeds: range) -> tuple[float, list[float]]:
    """Share of 95% intervals covering the centred truth over all assessors and seeds, and the
    correlation of estimates with the truth per seed."""
    hits, corr = [], []
    for seed in seeds:
        sim = simulate(n_units=n_units, n_raters=n_raters, seed=seed)
        res = fit(sim)
        a = res.assessors
        assert res.converged
        assert np.isfinite(a.severity).all() and np.isfinite(a.se).all()
        assert abs(float(a.severity.sum())) < 1e-6  # centred, as FACETS
        hits.append(covered(res, sim.centred))
        corr.append(float(np.corrcoef(a.severity, sim.centred)[0, 1]))
    return float(np.mean(np.concatenate(hits))), corr


def test_coverage_and_recovery_50_assessors() -> None:
    # 600 submissions x 2 readings x 5 criteria; each assessor ~24 submissions (120 ratings).
    # Measured: coverage 0.947 over 20 x 50 intervals; correlations 0.91-0.98 (mean 0.95).
    rate, corr = coverage_run(50, 600, range(2000, 2020))
    assert 0.90 <= rate <= 0.97
    assert min(corr) > 0.88
    assert float(np.mean(corr)) > 0.93


def test_coverage_and_recovery_500_assessors() -> None:
    # 3,000 submissions x 2 readings x 5 criteria; each assessor ~12 submissions (60 ratings).
    # Measured: coverage 0.943 over 3 x 500 intervals; correlations 0.905-0.909.
    rate, corr = coverage_run(500, 3000, range(100, 103))
    assert 0.90 <= rate <= 0.97
    assert min(corr) > 0.88


@pytest.mark.slow
def test_coverage_and_recovery_5000_assessors() -> None:
    # 20,000 submissions x 2 readings x 5 criteria (200,000 ratings); each assessor 8
    # submissions (40 ratings). Severity SEs by belief propagation (over 300 assessors).
    # Measured: coverage 0.948 over 2 x 5,000 intervals; correlations 0.859-0.860.
    rate, corr = coverage_run(5000, 20000, range(7, 9))
    assert 0.90 <= rate <= 0.97
    assert min(corr) > 0.83


def test_non_normal_severities_find_the_planted_assessors() -> None:
    # 90 assessors N(0, 0.4^2) plus 5 planted at +1.5 and 5 at -1.5 logits, 150 ratings each.
    # The normal prior pulls the planted ones in, so their intervals cover less often.
    # Measured over 3 replications: coverage 0.93 overall, 0.83 for the planted ten; every
    # planted interval excludes 0.
    hits, planted_hits = [], []
    for rep in range(3):
        sev = np.random.default_rng(50 + rep).normal(0.0, 0.4, 100)
        sev[:5], sev[5:10] = 1.5, -1.5
        sim = simulate(n_units=1500, n_raters=100, severities=sev, seed=60 + rep)
        res = fit(sim)
        a = res.assessors
        assert (a.n[:10] >= 60).all()
        assert (a.interval.low[:5] > 0).all() and (a.interval.high[5:10] < 0).all()
        assert all(s == "placed" for s in a.status[:10])
        h = covered(res, sim.centred)
        hits.append(h)
        planted_hits.append(h[:10])
    assert float(np.mean(np.concatenate(hits))) >= 0.88
    assert float(np.mean(np.concatenate(planted_hits))) >= 0.6


def test_extreme_and_thin_assessors_stay_finite_and_are_not_placed() -> None:
    # JMLE gives such assessors infinite or absurd measures; here each keeps a finite severity
    # on the right side of 0, a finite interval, and the status "not placed".
    sim = simulate(seed=3)
    extra = [  # (assessor, score, submissions): all top, all bottom, a single submission
        (50, 4.0, [0, 1, 2]),
        (51, 1.0, [3, 4, 5]),
        (52, 3.0, [6]),
    ]
    unit, rater, crit, value = [sim.unit], [sim.rater], [sim.criterion], [sim.value]
    for code, score, subs in extra:
        for s in subs:
            unit.append(np.full(5, s))
            rater.append(np.full(5, code))
            crit.append(np.arange(5))
            value.append(np.full(5, score))
    res = fit_severity(*(np.concatenate(a) for a in (unit, rater, crit, value)))
    a = res.assessors
    assert list(a.code[-3:]) == [50, 51, 52]
    assert np.isfinite(a.severity).all() and np.isfinite(a.se).all()
    assert (a.se[-3:] < 1.0).all()
    assert a.severity[-3] < -0.5 and a.severity[-2] > 0.5  # lenient, severe
    assert a.status[-3:] == ("not placed", "not placed", "not placed")
    assert a.n[-1] == 5 and a.information[-1] < 0.6
    assert sum(s == "placed" for s in a.status[:50]) == 50


# ------------------------------------------------------- independent implementation checks


def tiny() -> Simulated:
    return simulate(n_units=12, n_raters=5, n_criteria=3, seed=3)


def brute_loglik(
    sim: Simulated, s: FloatArray, delta: FloatArray, tau: FloatArray, mu: float, sig: float
) -> float:
    """Marginal log-likelihood by adaptive quadrature over each submission's ability:
    ``sum_n log int prod_r P(x_r | theta) phi(theta; mu, sig) dtheta`` (Bock & Aitkin 1981)."""
    psi = np.concatenate([[0.0], np.cumsum(tau)])
    k = np.arange(psi.size)
    x = (sim.value - sim.value.min()).astype(int)
    total = 0.0
    for n in np.unique(sim.unit):
        sel = sim.unit == n
        eta0 = -delta[sim.criterion[sel]] - s[sim.rater[sel]]
        xs = x[sel]

        def f(theta: float, eta0: FloatArray = eta0, xs: IntArray = xs) -> float:
            lg = np.multiply.outer(theta + eta0, k) - psi
            top = lg.max(axis=1)
            lp = lg[np.arange(xs.size), xs] - top - np.log(np.exp(lg - top[:, None]).sum(1))
            z = (theta - mu) / sig
            return float(np.exp(lp.sum() - 0.5 * z * z) / (sig * math.sqrt(2 * math.pi)))

        v, _ = integrate.quad(f, mu - 12 * sig, mu + 12 * sig, points=[mu], epsabs=0.0,
                              epsrel=1e-13, limit=500)  # fmt: skip
        total += math.log(v)
    return total


def test_reported_loglik_is_the_marginal_likelihood_at_a_stationary_point() -> None:
    # The reported log-likelihood at the reported estimates equals the brute-force marginal
    # likelihood, and the brute-force penalised objective is flat there (central differences):
    # the fit solved the score equations of the right function.
    sim = tiny()
    res = fit(sim, nodes=121, tol=1e-10)
    sig_s = res.severity_sd
    s0 = res.assessors.severity
    d0, t0 = res.criteria.difficulty, np.asarray(res.thresholds.tau)
    mu, sig = res.submission_mean, res.submission_sd
    assert res.loglik == pytest.approx(brute_loglik(sim, s0, d0, t0, mu, sig), abs=1e-8)

    def objective(v: FloatArray) -> float:
        s, d = v[:5], np.append(v[5:7], -v[5:7].sum())
        t = np.append(v[9:11], -v[9:11].sum())
        return brute_loglik(sim, s, d, t, v[7], v[8]) - float(s @ s) / (2 * sig_s**2)

    v0 = np.concatenate([s0, d0[:2], [mu, sig], t0[:2]])
    h = 1e-5
    grad = [(objective(v0 + h * e) - objective(v0 - h * e)) / (2 * h) for e in np.eye(v0.size)]
    np.testing.assert_allclose(grad, 0.0, atol=1e-6)


def free_params(v: FloatArray, n_raters: int) -> severity._Params:
    """Free coordinates of the private model (severities, difficulties but the last, mean,
    log SD, thresholds but the last) to parameters."""
    j = n_raters
    s, d = v[:j], np.append(v[j : j + 2], -v[j : j + 2].sum())
    t = np.append(v[j + 4 : j + 6], -v[j + 4 : j + 6].sum())
    return severity._Params(s, d, t, float(v[j + 2]), float(np.exp(v[j + 3])))


def private_model(sim: Simulated, nodes: int) -> severity._Model:
    data = severity._validate(
        sim.unit, sim.rater, sim.criterion, sim.value, None, 0.95, 0.5, 10, None, None, 100, 1e-4
    )
    return severity._Model(severity._Design(data), nodes)


def test_loglik_gradient_and_information_match_brute_force() -> None:
    # At an arbitrary point: the quadrature log-likelihood equals adaptive quad to 1e-8, the
    # analytic gradient equals central differences of the brute-force penalised objective, and
    # the observed information (Louis 1982) equals the finite-difference Jacobian of the
    # analytic gradient.
    sim = tiny()
    model = private_model(sim, 121)
    rng = np.random.default_rng(0)
    v0 = np.concatenate([rng.normal(0, 0.5, 5), [-0.3, 0.1, 0.2, np.log(1.3), -1.2, 0.2]])
    p = free_params(v0, 5)
    sig_s = 0.7
    brute = brute_loglik(sim, p.s, p.delta, p.tau, p.mu, p.sig)
    assert model.loglik(p) == pytest.approx(brute, abs=1e-8)

    def objective(v: FloatArray) -> float:
        q = free_params(v, 5)
        return brute_loglik(sim, q.s, q.delta, q.tau, q.mu, q.sig) - float(q.s @ q.s) / (
            2 * sig_s**2
        )

    ev = model.evaluate(p, sig_s, information=True)
    analytic = np.concatenate([ev.g_s, ev.g_f])
    h = 1e-5
    numeric = [(objective(v0 + h * e) - objective(v0 - h * e)) / (2 * h) for e in np.eye(11)]
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)

    def gradient(v: FloatArray) -> FloatArray:
        e = model.evaluate(free_params(v, 5), sig_s, information=False)
        return np.concatenate([e.g_s, e.g_f])

    jac = np.array([(gradient(v0 + 1e-6 * e) - gradient(v0 - 1e-6 * e)) / 2e-6 for e in np.eye(11)])
    info = np.zeros((11, 11))
    assert ev.h_diag is not None and ev.h_edge is not None and ev.h_sf is not None
    assert ev.h_ff is not None
    info[:5, :5] = np.diag(ev.h_diag)
    d = model.d
    np.add.at(info, (d.edge_a, d.edge_b), -ev.h_edge)
    np.add.at(info, (d.edge_b, d.edge_a), -ev.h_edge)
    info[:5, 5:], info[5:, :5], info[5:, 5:] = ev.h_sf, ev.h_sf.T, ev.h_ff
    np.testing.assert_allclose(info, -jac, atol=1e-6)


def test_trapezoidal_quadrature_is_accurate_where_gauss_hermite_is_not() -> None:
    # 40 ratings per submission (ten readings of four criteria): a peaked posterior.
    # Trefethen & Weideman (2014): the trapezoidal rule converges exponentially for integrands
    # analytic in a strip. Measured on these 60 submissions (sigma_theta = 1.5): 121
    # trapezoidal nodes match quad to 6e-9, Gauss-Hermite is off by 0.0046 with 201 nodes and
    # needs 301 to get within 1e-6.
    sim = simulate(n_units=60, n_raters=10, per_unit=10, n_criteria=4, seed=3)
    model = private_model(sim, 121)
    p = severity._Params(
        sim.centred, np.linspace(-0.5, 0.5, 4), np.array([-1.5, 0.0, 1.5]), 0.0, 1.5
    )
    brute = brute_loglik(sim, p.s, p.delta, p.tau, p.mu, p.sig)
    assert model.loglik(p) == pytest.approx(brute, abs=1e-7)
    z, w = np.polynomial.hermite_e.hermegauss(201)
    gh = private_model(sim, 201)
    gh.z, gh.lw = z, np.log(w / w.sum())
    assert abs(gh.loglik(p) - brute) > 1e-3


def test_quadrature_is_refined_until_the_likelihood_settles() -> None:
    # Same peaked design: 41 nodes are not enough, the fit doubles them.
    sim = simulate(n_units=100, n_raters=10, per_unit=10, n_criteria=4, seed=0)
    res = fit(sim)
    assert res.nodes > NODES
    assert res.quadrature_error <= severity.QUADRATURE_TOL * res.n_submissions
    fixed = fit(sim, nodes=NODES)
    assert fixed.nodes == NODES and fixed.quadrature_error > res.quadrature_error


def test_dense_design_agrees_with_jmle() -> None:
    # Every assessor reads every submission (10 x 100 x 4 criteria): well linked, 400 ratings
    # per assessor, so JMLE is sound and the two estimators must agree up to two known,
    # opposite, small effects: JMLE stretches measures by about L/(L-1) (L = 40 ratings per
    # submission, ~2.5%) and the normal prior shrinks by h/(h + 1/sigma_s^2) (~2%). Hence:
    # correlation > 0.999, slope of MML on JMLE within 0.90-1.00, no severity more than
    # 0.1 logit apart, difficulties within 0.05, and MML SEs within 10% of JMLE's joint SEs
    # (which account for the ability estimates). Measured: slope 0.952, largest gap 0.043.
    sim = simulate(n_units=100, n_raters=10, per_unit=10, n_criteria=4, seed=0)
    mml = fit(sim)
    jmle = fit_mfrm(sim.unit, sim.rater, sim.criterion, sim.value)
    js = np.array([e.measure for e in jmle.assessors.elements])
    jse = np.array([e.se_joint for e in jmle.assessors.elements])
    jd = np.array([e.measure for e in jmle.criteria.elements])
    ms = mml.assessors.severity
    assert np.corrcoef(ms, js)[0, 1] > 0.999
    assert 0.90 <= np.polyfit(js, ms, 1)[0] <= 1.00
    assert np.abs(ms - js).max() < 0.1
    assert np.abs(mml.criteria.difficulty - jd).max() < 0.05
    np.testing.assert_allclose(mml.assessors.se, jse, rtol=0.10)


def test_belief_propagation_matches_the_exact_inverse(monkeypatch: pytest.MonkeyPatch) -> None:
    # Above 300 assessors the severity SEs come from Gaussian belief propagation (exact on
    # trees); on a sparse two-reading design it must match the dense inverse within 1%.
    sim = simulate(n_units=1200, n_raters=200, seed=4)
    exact = fit(sim)
    monkeypatch.setattr(severity, "_EXACT_LIMIT", 0)
    approx = fit(sim)
    np.testing.assert_allclose(approx.assessors.severity, exact.assessors.severity, atol=1e-3)
    np.testing.assert_allclose(approx.assessors.se, exact.assessors.se, rtol=0.01)


# ------------------------------------------------------------------ fit and degenerate input


def test_fit_statistics_flag_erratic_and_muted_assessors() -> None:
    # Model data: mean squares average 1 (posterior-integrated residuals; Wright & Masters
    # 1982, ch. 5). Assessor 0 scores at random (infit well above 1), assessor 1 only uses
    # the middle scores 2-3 (well below 1).
    sim = simulate(seed=3)
    base = fit(sim).assessors
    assert 0.9 < float(np.mean(base.infit)) < 1.1
    assert 0.9 < float(np.mean(base.outfit)) < 1.1
    value = sim.value.copy()
    erratic, muted = sim.rater == 0, sim.rater == 1
    value[erratic] = np.random.default_rng(0).integers(1, 5, int(erratic.sum()))
    value[muted] = np.clip(value[muted], 2, 3)
    a = fit_severity(sim.unit, sim.rater, sim.criterion, value).assessors
    assert a.infit[0] > 1.5 and a.outfit[0] > 1.5
    assert a.infit[1] < 0.6 and a.outfit[1] < 0.6


def test_a_single_assessor_is_the_mean_and_not_placed() -> None:
    # Degenerate but valid: one assessor is their own mean (severity 0, SE 0 of the deviation),
    # the severity SD is not estimable (NaN), nobody is placed.
    res = fit_severity(
        np.arange(20), np.zeros(20, int), np.zeros(20, int), np.tile([1, 2, 3, 2], 5)
    )
    a = res.assessors
    assert a.severity[0] == pytest.approx(0.0, abs=1e-12)
    assert a.se[0] == 0.0 and a.information[0] == 0.0
    assert a.status == ("not placed",)
    assert math.isnan(res.severity_sd)


def test_binary_scale_and_single_criterion() -> None:
    sim = simulate(n_units=400, n_raters=20, n_criteria=1, tau=(0.0,), seed=2)
    res = fit(sim)
    assert res.converged
    assert res.thresholds.tau == (0.0,) and res.thresholds.categories == (1.0, 2.0)
    assert res.criteria.difficulty.tolist() == [0.0]
    assert np.corrcoef(res.assessors.severity, sim.centred)[0, 1] > 0.75


def test_disconnected_subsets_are_reported() -> None:
    # Two groups of assessors that never share a submission: compared only through the
    # assumption that all submissions come from one population.
    a = simulate(n_units=200, n_raters=10, seed=5)
    b = simulate(n_units=200, n_raters=10, seed=6)
    res = fit_severity(
        np.concatenate([a.unit, b.unit + 200]),
        np.concatenate([a.rater, b.rater + 10]),
        np.concatenate([a.criterion, b.criterion]),
        np.concatenate([a.value, b.value]),
    )
    assert res.n_subsets == 2
    assert res.assessors.subset.tolist() == [0] * 10 + [1] * 10


def test_result_api() -> None:
    sim = simulate(n_units=200, n_raters=20, seed=8)
    calls: list[tuple[int, int, str]] = []
    res = fit(sim, level=0.9, progress=lambda *a: calls.append(a))
    a = res.assessors
    assert len(a) == 20 and a.code.tolist() == list(range(20))
    z = 1.6448536269514722  # scipy.stats.norm.ppf(0.95)
    np.testing.assert_allclose(a.interval.high - a.severity, z * a.se)
    assert a.interval.level == 0.9 and a.interval[0].level == 0.9
    wide = a.confidence_interval(0.99)
    assert (wide.low < a.interval.low).all() and (wide.high > a.interval.high).all()
    assert a.placed.tolist() == [s == "placed" for s in a.status]
    assert calls and calls[0][:2] == (1, severity.MAX_ITER) and "severity SD" in calls[0][2]
    assert res.iterations == len(calls) and res.converged
    out = json.loads(json.dumps(res.to_dict()))
    assert out["assessors"]["code"] == list(range(20))
    assert out["assessors"]["level"] == 0.9
    assert len(out["criteria"]["difficulty"]) == 5
    assert out["thresholds"]["categories"] == [1.0, 2.0, 3.0, 4.0]
    assert sum(res.criteria.difficulty) == pytest.approx(0.0, abs=1e-12)
    assert sum(res.thresholds.tau) == pytest.approx(0.0, abs=1e-12)
    assert (res.criteria.se > 0).all() and all(s > 0 for s in res.thresholds.se)


# ---------------------------------------------------------------------------- properties


def small_design(seed: int, n_units: int, n_raters: int) -> Simulated:
    return simulate(
        n_units=n_units, n_raters=n_raters, n_criteria=2, tau=(-1.0, 1.0), sd_severity=0.7,
        seed=seed,
    )  # fmt: skip


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_units=st.integers(12, 30), n_raters=st.integers(3, 7))
def test_relabelling_permutes_the_results(seed: int, n_units: int, n_raters: int) -> None:
    sim = small_design(seed, n_units, n_raters)
    rng = np.random.default_rng(seed)
    new_rater = rng.permutation(1000)[:n_raters]  # assessor j gets code new_rater[j]
    new_unit = rng.permutation(n_units) * 7 + 3
    new_crit = np.array([5, 2])
    order = rng.permutation(sim.value.size)
    base = fit(sim, tol=1e-9, max_iter=500)
    moved = fit_severity(
        new_unit[sim.unit][order], new_rater[sim.rater][order], new_crit[sim.criterion][order],
        sim.value[order], tol=1e-9, max_iter=500,
    )  # fmt: skip
    by_code = np.argsort(new_rater)  # moved reports assessors in order of their new codes
    np.testing.assert_allclose(moved.assessors.code, new_rater[by_code])
    # equal up to where the iterations stop (tol 1e-9; the severity SD converges linearly)
    np.testing.assert_allclose(
        moved.assessors.severity, base.assessors.severity[by_code], atol=1e-5
    )
    np.testing.assert_allclose(moved.assessors.se, base.assessors.se[by_code], atol=1e-5)
    np.testing.assert_allclose(moved.criteria.difficulty, base.criteria.difficulty[::-1], atol=1e-5)
    assert moved.loglik == pytest.approx(base.loglik, abs=1e-5)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.integers(-3, 5))
def test_only_the_order_of_scores_matters(seed: int, shift: int) -> None:
    # Scores are renumbered by rank (FACETS' ordinal default): a constant added to every
    # score changes nothing; a declared scale refuses scores the shift pushed off it.
    sim = small_design(seed, 25, 5)
    base = fit(sim)
    moved = fit_severity(sim.unit, sim.rater, sim.criterion, sim.value + shift)
    np.testing.assert_allclose(moved.assessors.severity, base.assessors.severity, atol=1e-9)
    assert moved.thresholds.categories == tuple(c + shift for c in base.thresholds.categories)
    if shift > 0:
        with pytest.raises(StatisticsError, match="declared categories"):
            fit_severity(sim.unit, sim.rater, sim.criterion, sim.value + shift,
                         categories=[1, 2, 3])  # fmt: skip


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_units=st.integers(40, 80),
    n_raters=st.integers(4, 6),
    pick=st.integers(0, 10**6),
)
def test_raising_a_rating_never_makes_its_assessor_harsher(
    seed: int, n_units: int, n_raters: int, pick: int
) -> None:
    # Monotonicity: one rating one step higher (keeping the set of observed scores) moves its
    # assessor's severity down (more lenient), never up, the spread of severities given.
    # On tens of ratings one rating also moves the thresholds and the spreads, which rescale
    # every measure and can undo the step: with 12 submissions and 3 assessors (48 ratings),
    # seed=12, pick=67927 moves assessor 2 from -0.615 to -0.586 even with both spreads held,
    # the thresholds narrowing from +-0.84 to +-0.56; seed=250289, pick=12 moves assessor 0
    # from -1.292 to -1.275 with the severity SD re-estimated (to -1.297 with it held).
    sim = small_design(seed, n_units, n_raters)
    counts = np.bincount(sim.value.astype(int), minlength=5)
    can = np.flatnonzero((sim.value < 3) & (counts[sim.value.astype(int)] >= 2))
    if np.unique(sim.value).size < 3 or can.size == 0:  # the raise would change the scale
        return
    r = can[pick % can.size]
    raised = sim.value.copy()
    raised[r] += 1
    options = {"severity_sd": 0.7, "tol": 1e-7, "max_iter": 500}
    try:
        before = fit(sim, **options)
        after = fit_severity(sim.unit, sim.rater, sim.criterion, raised, **options)  # type: ignore[arg-type]
    except StatisticsError as error:  # a criterion left with only top (bottom) scores
        assert "difficulty is infinite" in str(error)
        return
    j = int(np.searchsorted(before.assessors.code, sim.rater[r]))
    assert after.assessors.severity[j] < before.assessors.severity[j]


def test_a_given_severity_sd_is_used() -> None:
    sim = simulate(n_units=100, n_raters=5, seed=9)
    res = fit(sim, severity_sd=0.3)
    assert res.severity_sd == 0.3
    wider = fit(sim, severity_sd=3.0)  # a weaker prior shrinks less
    assert np.abs(wider.assessors.severity).sum() > np.abs(res.assessors.severity).sum()
    with pytest.raises(StatisticsError, match="severity_sd must be a positive number"):
        fit(sim, severity_sd=0.0)
