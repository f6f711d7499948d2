"""Many-facet Rasch model (calibrate.stats.rasch): input rules, FACETS conventions, recovery.

Recovery targets are simulated from the rating-scale many-facet Rasch model (Linacre 1989) with
:func:`simulate`, so every expected number below comes from the planted truth, not from a run of
the code under test.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from calibrate.errors import StatisticsError
from calibrate.stats import rasch
from calibrate.stats.rasch import EXTREME_ADJUSTMENT, RaschResult, fit_mfrm

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Simulated:
    """Ratings and the truth they were drawn from."""

    unit: IntArray
    rater: IntArray
    criterion: IntArray
    value: FloatArray
    ability: FloatArray
    severity: FloatArray
    difficulty: FloatArray
    tau: FloatArray
    anchor: FloatArray  # "expert" score: a severity-0 assessor's expected score, rounded


def draw_categories(eta: FloatArray, psi: FloatArray, rng: np.random.Generator) -> IntArray:
    """Categories 0..m-1 drawn from P(k) ∝ exp(k eta - psi_k); psi shape (m,) or (n, m)."""
    k = np.arange(psi.shape[-1])
    logits = np.multiply.outer(eta, k) - psi
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random((eta.shape[0],))
    drawn: IntArray = (p.cumsum(axis=1) < u[:, None]).sum(axis=1)
    return drawn


def simulate(
    *,
    n_units: int = 600,
    n_raters: int = 50,
    n_criteria: int = 5,
    per_unit: int = 2,
    tau: tuple[float, ...] = (-1.5, 0.0, 1.5),
    sd_ability: float = 1.0,
    sd_severity: float = 0.5,
    lowest: int = 1,
    interaction: tuple[int, int, float] | None = None,
    seed: int = 0,
) -> Simulated:
    """The sparse live design: each submission scored by ``per_unit`` of ``n_raters`` assessors
    on every criterion, ratings from the rating-scale MFRM with thresholds ``tau``.

    ``interaction = (assessor, criterion, logits)`` adds a differential severity to one cell.
    """
    rng = np.random.default_rng(seed)
    ability = rng.normal(0.0, sd_ability, n_units)
    severity = rng.normal(0.0, sd_severity, n_raters)
    severity -= severity.mean()
    difficulty = np.linspace(-0.5, 0.5, n_criteria)
    # raters assigned round-robin from a shuffled order keeps every assessor busy and linked
    order = rng.permutation(n_units * per_unit) % n_raters
    pairs = order.reshape(n_units, per_unit)
    for row in pairs:  # avoid the same assessor twice on one submission
        while np.unique(row).size < per_unit:
            row[:] = rng.choice(n_raters, per_unit, replace=False)
    unit = np.repeat(np.arange(n_units), per_unit * n_criteria)
    rater = np.repeat(pairs.ravel(), n_criteria)
    criterion = np.tile(np.arange(n_criteria), n_units * per_unit)
    eta = ability[unit] - difficulty[criterion] - severity[rater]
    if interaction is not None:
        j, i, size = interaction
        eta = eta - size * ((rater == j) & (criterion == i))
    t = np.asarray(tau, dtype=np.float64)
    psi = np.concatenate([[0.0], np.cumsum(t)])
    x = draw_categories(eta, psi, rng)
    k = np.arange(psi.size)
    logits = np.multiply.outer(ability[unit] - difficulty[criterion], k) - psi
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return Simulated(
        unit=unit,
        rater=rater,
        criterion=criterion,
        value=(x + lowest).astype(np.float64),
        ability=ability,
        severity=severity,
        difficulty=difficulty,
        tau=t,
        anchor=np.rint(p @ k) + lowest,
    )


def fit(sim: Simulated, **kwargs: object) -> RaschResult:
    return fit_mfrm(sim.unit, sim.rater, sim.criterion, sim.value, **kwargs)  # type: ignore[arg-type]


def measures(res: RaschResult, facet: str = "assessors") -> FloatArray:
    return np.array([e.measure for e in getattr(res, facet).elements])


@pytest.fixture(scope="module")
def small() -> Simulated:
    return simulate(n_units=300, n_raters=20, seed=11)


@pytest.fixture(scope="module")
def small_fit(small: Simulated) -> RaschResult:
    return fit(small)


# ------------------------------------------------------------------------------ input rules


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([0, 1], [0, 1], [0, 0], [1, 2, 3]), "value must be a 1-D array as long as unit"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0], [1, 2.5, 3]), "integer categories"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0], [1, np.nan, 3]), "finite"),
        (([0, 1, 2], [0, 1, 0], [0, 0, 0], [2, 2, 2]), "at least two score categories"),
        (([0, 1, 2], [0, -1, 0], [0, 0, 0], [1, 2, 3]), "non-negative"),
        (([0, 1, 2], [0, 1.5, 0], [0, 0, 0], [1, 2, 3]), "rater must hold non-negative integer"),
        (
            ([0, 1, 2], [0, 1, 0], [0, 0, 0.0], [1, 2, 3]),
            "criterion must hold non-negative integer",
        ),
        (([], [], [], []), "must not be empty"),
    ],
)
def test_bad_input_raises_with_the_rule(args: tuple[list[float], ...], message: str) -> None:
    with pytest.raises(StatisticsError, match=message):
        fit_mfrm(*args)


def test_bad_options_raise(small: Simulated) -> None:
    with pytest.raises(StatisticsError, match="model must be"):
        fit(small, model="graded")
    with pytest.raises(StatisticsError, match="declared categories"):
        fit(small, categories=[1, 2, 3])
    with pytest.raises(StatisticsError, match="max_iter"):
        fit(small, max_iter=0)


def test_partial_credit_needs_two_categories_per_criterion() -> None:
    sim = simulate(n_units=100, n_raters=10, n_criteria=3, seed=3)
    value = sim.value.copy()
    value[sim.criterion == 2] = 2.0
    with pytest.raises(StatisticsError, match="criterion 2 uses a single category"):
        fit_mfrm(sim.unit, sim.rater, sim.criterion, value, model="partial-credit")


def test_all_extreme_raises() -> None:
    unit = np.repeat(np.arange(4), 2)
    rater = np.tile([0, 1], 4)
    value = np.array([1, 1, 3, 3, 1, 1, 3, 3])
    with pytest.raises(StatisticsError, match="no ratings left once extreme"):
        fit_mfrm(unit, rater, np.zeros(8, dtype=int), value)


# ------------------------------------------------------------------------ FACETS conventions


def test_identification_follows_facets(small_fit: RaschResult) -> None:
    # Linacre (1989); FACETS Non-centered = submissions: other facets centred at 0, thresholds
    # sum to 0 (Andrich), submissions float.
    assert small_fit.converged
    assert abs(measures(small_fit, "assessors").mean()) < 1e-9
    assert abs(measures(small_fit, "criteria").mean()) < 1e-9
    assert abs(sum(small_fit.thresholds[0].tau)) < 1e-9
    assert len(small_fit.thresholds[0].tau) == 3


def test_scores_are_renumbered_by_rank(small: Simulated) -> None:
    # FACETS "ordinal" default: the scale's categories keep their order, not their spacing.
    base = fit(small)
    spaced = fit_mfrm(small.unit, small.rater, small.criterion, small.value * 10 + 5)
    np.testing.assert_allclose(measures(spaced), measures(base), atol=1e-9)
    ob = [e.observed_average for e in base.assessors.elements]
    os_ = [e.observed_average for e in spaced.assessors.elements]
    np.testing.assert_allclose(os_, np.asarray(ob) * 10 + 5)
    assert spaced.thresholds[0].categories == (15.0, 25.0, 35.0, 45.0)


def test_declared_unused_category_is_listed(small: Simulated) -> None:
    res = fit(small, categories=[0, 1, 2, 3, 4])
    assert [c.category for c in res.categories] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert res.categories[0].count == 0
    assert sum(c.count for c in res.categories) == small.value.size
    assert math.isclose(sum(c.percent for c in res.categories), 100.0)


def test_order_of_ratings_does_not_matter(small: Simulated) -> None:
    perm = np.random.default_rng(5).permutation(small.value.size)
    a = fit(small)
    b = fit_mfrm(small.unit[perm], small.rater[perm], small.criterion[perm], small.value[perm])
    np.testing.assert_allclose(measures(a), measures(b), atol=1e-8)
    np.testing.assert_allclose(measures(a, "submissions"), measures(b, "submissions"), atol=1e-8)


def test_fit_statistics_of_model_data_are_near_one(small_fit: RaschResult) -> None:
    # Data simulated from the model: mean squares average about 1 (Wright & Masters 1982, ch. 5).
    infit = [e.infit for e in small_fit.assessors.elements]
    outfit = [e.outfit for e in small_fit.assessors.elements]
    assert 0.9 < float(np.mean(infit)) < 1.1
    assert 0.9 < float(np.mean(outfit)) < 1.1
    z = [e.infit_z for e in small_fit.assessors.elements]
    assert abs(float(np.mean(z))) < 0.6


def test_facet_summary_formulas(small_fit: RaschResult) -> None:
    # Wright & Masters (1982, pp. 91-93); FACETS Table 7 summary lines.
    rep = small_fit.assessors
    m = measures(small_fit)
    se = np.array([e.se for e in rep.elements])
    sd = m.std()
    rmse = math.sqrt(float(np.mean(se**2)))
    true_sd = math.sqrt(sd**2 - rmse**2)
    assert math.isclose(rep.separation, true_sd / rmse)
    assert math.isclose(rep.strata, (4 * rep.separation + 1) / 3)
    assert math.isclose(rep.reliability, true_sd**2 / sd**2)
    w = 1 / se**2
    chi = float(np.sum(w * m**2) - np.sum(w * m) ** 2 / np.sum(w))
    assert math.isclose(rep.chi_square, chi)
    assert rep.df == len(m) - 1
    assert math.isclose(rep.p, float(stats.chi2.sf(chi, rep.df)))


def test_fair_average_removes_severity(small_fit: RaschResult) -> None:
    # FACETS Fair(M): a harsher assessor has a lower fair average, monotone in severity.
    sev = measures(small_fit)
    fair = np.array([e.fair_average for e in small_fit.assessors.elements])
    assert stats.spearmanr(sev, fair)[0] == pytest.approx(-1.0)
    assert np.all((fair > 1) & (fair < 4))


def test_extreme_submission_is_estimated_beyond_the_others() -> None:
    sim = simulate(n_units=200, n_raters=10, seed=2)
    value = sim.value.copy()
    top = sim.unit == 7
    value[top] = 4.0
    res = fit_mfrm(sim.unit, sim.rater, sim.criterion, value)
    by_code = {e.code: e for e in res.submissions.elements}
    e7 = by_code[7]
    assert e7.status == "extreme_max"
    assert math.isnan(e7.infit) and math.isnan(e7.outfit)
    others = [e.measure for e in res.submissions.elements if e.status == "estimated"]
    assert e7.measure > max(others)
    assert res.n_estimation == res.n - int(top.sum())
    # The estimate reproduces the score moved inward (FACETS Xtreme = 0.3): at the fitted
    # measures, the expected scores of its 10 ratings (Andrich 1978, from the definition, in
    # the model's 0-based categories 0-3) sum to 10 * 3 - EXTREME_ADJUSTMENT = 29.7.
    severity, difficulty = measures(res), measures(res, "criteria")
    tau = res.thresholds[0].tau
    assert len(tau) == 3  # categories 1-4 renumbered 0-3
    expected = sum(
        naive_moments(e7.measure - difficulty[c] - severity[r], tau)[1]
        for r, c in zip(sim.rater[top], sim.criterion[top], strict=True)
    )
    assert EXTREME_ADJUSTMENT == 0.3
    assert expected == pytest.approx(3 * int(top.sum()) - EXTREME_ADJUSTMENT, abs=1e-5)


def test_disconnected_assessors_raise_or_are_flagged() -> None:
    a = simulate(n_units=100, n_raters=6, seed=1)
    b = simulate(n_units=100, n_raters=6, seed=2)
    unit = np.concatenate([a.unit, b.unit + 100])
    rater = np.concatenate([a.rater, b.rater + 6])
    crit = np.concatenate([a.criterion, b.criterion])
    value = np.concatenate([a.value, b.value])
    with pytest.raises(StatisticsError, match="2 disconnected subsets"):
        fit_mfrm(unit, rater, crit, value)
    res = fit_mfrm(unit, rater, crit, value, on_disconnected="flag")
    assert not res.connected
    assert [s.assessors for s in res.subsets] == [tuple(range(6)), tuple(range(6, 12))]
    sev = measures(res)
    assert abs(sev[:6].mean()) < 1e-9 and abs(sev[6:].mean()) < 1e-9
    assert {e.subset for e in res.assessors.elements} == {0, 1}


def test_criteria_nested_in_assessors_raise() -> None:
    # assessor 0 only ever scores criterion 0 and assessor 1 only criterion 1: severity and
    # difficulty are confounded.
    unit = np.repeat(np.arange(20), 2)
    rater = np.tile([0, 1], 20)
    crit = rater.copy()
    value = np.random.default_rng(0).integers(1, 4, 40)
    with pytest.raises(StatisticsError, match="criteria are not linked through assessors"):
        fit_mfrm(unit, rater, crit, value)


def test_extra_facet_crossed_is_measured_nested_is_anchored() -> None:
    sim = simulate(n_units=400, n_raters=20, seed=4)
    rng = np.random.default_rng(0)
    window = rng.integers(0, 3, sim.value.size)  # crossed with submissions and assessors
    res = fit(sim, facet=window, facet_name="window")
    assert res.facet is not None and res.facet.name == "window"
    assert all(e.status == "estimated" for e in res.facet.elements)
    assert abs(measures(res, "facet").mean()) < 1e-9
    group = sim.rater % 2  # assessor group: nested in assessors
    res = fit(sim, facet=group, facet_name="group")
    assert res.facet is not None
    assert all(e.status == "anchored" and e.measure == 0.0 for e in res.facet.elements)
    assert len(res.bias_facet) == 20  # each assessor meets one group
    base = fit(sim)
    np.testing.assert_allclose(measures(res), measures(base), atol=1e-8)


def test_planted_interaction_is_the_largest_bias() -> None:
    # Differential severity (Myford & Wolfe 2004): +1.5 logits for assessor 3 on criterion 2.
    sim = simulate(n_units=1500, n_raters=15, seed=8, interaction=(3, 2, 1.5))
    res = fit(sim)
    worst = max(res.bias_criterion, key=lambda b: abs(b.t))
    assert (worst.assessor, worst.other) == (3, 2)
    assert worst.bias > 0.8 and worst.t > 4 and worst.p < 1e-4
    assert worst.observed_average < worst.expected_average
    assert worst.df == worst.n - 1


def test_disordered_thresholds_are_flagged() -> None:
    sim = simulate(n_units=1500, n_raters=20, tau=(0.8, -0.8), seed=6)
    res = fit(sim)
    assert res.disordered and res.thresholds[0].disordered
    tau = res.thresholds[0].tau
    assert tau[0] > tau[1]


def test_partial_credit_recovers_per_criterion_thresholds() -> None:
    rng = np.random.default_rng(9)
    n_units, n_raters = 2000, 20
    unit = np.repeat(np.arange(n_units), 4)
    rater = np.repeat(rng.integers(0, n_raters, (n_units, 2)).ravel(), 2)
    crit = np.tile([0, 1], n_units * 2)
    ability = rng.normal(0, 1, n_units)
    tau = np.array([[-1.0, 1.0], [-0.3, 0.3]])
    psi = np.concatenate([np.zeros((2, 1)), np.cumsum(tau, axis=1)], axis=1)
    x = draw_categories(ability[unit], psi[crit], rng)
    res = fit_mfrm(unit, rater, crit, x, model="partial-credit")
    assert [t.criterion for t in res.thresholds] == [0, 1]
    # JMLE spreads thresholds by about L/(L-1) with L = 4 ratings per submission
    est = np.array([t.tau for t in res.thresholds])
    assert est[0, 1] - est[0, 0] > est[1, 1] - est[1, 0] + 0.8
    np.testing.assert_allclose(est, tau * 4 / 3, atol=0.35)


def test_progress_reports_every_iteration(small: Simulated) -> None:
    # The shared progress contract: progress(done, total, stage), done the iteration, total
    # the iteration limit, the stage naming the largest change.
    seen: list[tuple[int, int, str]] = []
    res = fit(small, progress=lambda done, total, stage: seen.append((done, total, stage)))
    assert [done for done, _, _ in seen] == list(range(1, res.iterations + 1))
    assert {total for _, total, _ in seen} == {500}
    assert seen[-1][2] == f"iteration {res.iterations}, largest change {res.max_change:.5f} logits"
    assert res.max_change < 1e-4


def test_no_convergence_is_reported_not_hidden(small: Simulated) -> None:
    res = fit(small, max_iter=2)
    assert not res.converged and res.iterations == 2


def test_result_serialises(small_fit: RaschResult) -> None:
    d = small_fit.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["assessors"]["elements"][0]["code"] == 0
    assert set(d) >= {"submissions", "assessors", "criteria", "thresholds", "subsets"}


# ------------------------------------------------------------------------- recovery


def recovery(sim: Simulated, res: RaschResult) -> tuple[float, float, float, float]:
    """Correlation, spread (slope of estimate on truth), RMSE and 95% model-SE coverage of
    severities.

    The mean signed error is 0 by construction (both are centred), so the spread stands for
    the bias: JMLE stretches measures by about L/(L-1) when each submission has L ratings
    (Wright & Masters 1982, p. 93; Linacre, FACETS manual, "estimation bias").
    """
    est = measures(res)
    se = np.array([e.se for e in res.assessors.elements])
    err = est - sim.severity
    return (
        float(np.corrcoef(est, sim.severity)[0, 1]),
        float(np.polyfit(sim.severity, est, 1)[0]),
        float(np.sqrt(np.mean(err**2))),
        float(np.mean(np.abs(err) <= 1.96 * se)),
    )


def test_recovery_small_programme() -> None:
    # 50 assessors, 1000 submissions double-scored on 5 criteria (10,000 ratings).
    sim = simulate(n_units=1000, n_raters=50, seed=21)
    res = fit(sim)
    r, spread, rmse, coverage = recovery(sim, res)
    assert r > 0.95
    assert 1.0 < spread < 1.25
    assert rmse < 0.2
    assert coverage > 0.6
    np.testing.assert_allclose(measures(res, "criteria"), sim.difficulty, atol=0.1)


@pytest.mark.slow
@pytest.mark.parametrize(("n_raters", "n_units"), [(50, 2500), (200, 10000), (500, 25000)])
def test_recovery_at_programme_sizes(n_raters: int, n_units: int) -> None:
    # 50 submissions per assessor (100 readings of 5 criteria), 2 assessors per submission.
    # Over 3 seeds each: r 0.985-0.986, spread 1.10-1.13, RMSE 0.10-0.11 logits, coverage
    # 0.74-0.79 (0.82-0.83 after shrinking by (L-1)/L): the model SE holds the submission
    # measures fixed, though with L = 10 ratings they are themselves uncertain. The joint SE
    # (submissions profiled out) covers 0.89-0.92 (seeds n_raters, n_raters + 1).
    sim = simulate(n_units=n_units, n_raters=n_raters, seed=n_raters)
    res = fit(sim)
    r, spread, rmse, coverage = recovery(sim, res)
    assert res.converged
    assert r > 0.97
    assert 1.0 < spread < 1.2
    assert rmse < 0.15
    assert 0.65 < coverage < 0.9
    err = measures(res) - sim.severity
    joint = np.array([e.se_joint for e in res.assessors.elements])
    assert 0.85 < np.mean(np.abs(err) <= 1.96 * joint) < 0.98
    # thresholds (-1.5, 0, 1.5 planted) are stretched by the same JMLE factor as the severities:
    # the spread measured above (about L/(L-1), L = 10 ratings per submission; see recovery).
    # The tolerance is finer than the stretch itself, so unstretched thresholds would fail.
    assert 1.5 * (spread - 1) > 0.08
    np.testing.assert_allclose(res.thresholds[0].tau, sim.tau * spread, atol=0.08)


def test_joint_se_is_the_constrained_inverse_of_the_full_information(
    small: Simulated, small_fit: RaschResult
) -> None:
    # Independent computation: the full information matrix X'WX over submissions, assessors and
    # criteria at the estimates, bordered by the two centring constraints and inverted densely
    # (the constrained covariance, e.g. Silvey 1975, ch. 3); ratings of extreme submissions
    # carry no information and are left out, as in estimation.
    res = small_fit
    estimated = np.array([e.status == "estimated" for e in res.submissions.elements])
    keep = estimated[small.unit]
    u, r, c = small.unit[keep], small.rater[keep], small.criterion[keep]
    n_u, n_r, n_c = len(estimated), len(small.severity), len(small.difficulty)
    eta = measures(res, "submissions")[u] - measures(res)[r] - measures(res, "criteria")[c]
    psi = np.concatenate([[0.0], np.cumsum(res.thresholds[0].tau)])
    k = np.arange(psi.size)
    logits = np.multiply.outer(eta, k) - psi
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    w = p @ k**2 - (p @ k) ** 2
    x = np.zeros((len(u), n_u + n_r + n_c))
    rows = np.arange(len(u))
    x[rows, u], x[rows, n_u + r], x[rows, n_u + n_r + c] = 1.0, -1.0, -1.0
    info = x.T @ (w[:, None] * x)
    extreme = np.flatnonzero(~estimated)
    info[extreme, extreme] = 1.0  # extreme submissions: no information here, decoupled
    constraints = np.zeros((2, info.shape[0]))
    constraints[0, n_u : n_u + n_r] = 1.0
    constraints[1, n_u + n_r :] = 1.0
    bordered = np.block([[info, constraints.T], [constraints, np.zeros((2, 2))]])
    cov = np.linalg.inv(bordered)[: info.shape[0], : info.shape[0]]
    se = np.sqrt(np.diag(cov))
    joint = [e.se_joint for e in res.assessors.elements]
    np.testing.assert_allclose(joint, se[n_u : n_u + n_r], rtol=1e-6)
    np.testing.assert_allclose(
        [e.se_joint for e in res.criteria.elements], se[n_u + n_r :], rtol=1e-6
    )
    model = np.array([e.se for e in res.assessors.elements])
    assert np.all(np.array(joint) > model)  # the submissions' uncertainty adds to the model SE
    assert all(math.isnan(e.se_joint) for e in res.submissions.elements)


def test_severity_and_anchor_deviation_rank_assessors_alike() -> None:
    # Issue 4 part 4c: when every submission also has an expert (anchor) score, MFRM severity
    # and each assessor's mean signed deviation from the anchor scores rank assessors alike
    # (Spearman, severity against minus the deviation: harsh assessors score below anchors).
    sim = simulate(n_units=2000, n_raters=40, seed=33, sd_severity=0.6)
    res = fit(sim)
    dev = np.bincount(sim.rater, sim.value - sim.anchor) / np.bincount(sim.rater)
    rho = stats.spearmanr(measures(res), -dev)[0]
    assert rho > 0.9


def test_iterative_solver_agrees_with_direct(
    small: Simulated, small_fit: RaschResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Designs with more than _DIRECT_LIMIT assessors/criteria use conjugate gradients for the
    # joint Newton step; the maximum-likelihood estimates are the same.
    monkeypatch.setattr(rasch, "_DIRECT_LIMIT", 0)
    res = fit(small)
    assert res.converged
    np.testing.assert_allclose(measures(res), measures(small_fit), atol=1e-6)


def test_sparse_ring_design_converges() -> None:
    # 200 assessors with 10 readings each, linked only along a ring (each to the next two):
    # joint Newton steps converge in a few iterations where facet-by-facet steps crawl along
    # the ring. (Severities far apart on the ring are poorly determined: that is the design.)
    rng = np.random.default_rng(0)
    n_units, n_raters = 1000, 200
    first = np.arange(n_units) % n_raters
    second = (first + 1 + (np.arange(n_units) // n_raters) % 2) % n_raters
    unit = np.repeat(np.arange(n_units), 10)
    rater = np.repeat(np.stack([first, second], axis=1).ravel(), 5)
    crit = np.tile(np.arange(5), 2 * n_units)
    eta = rng.normal(0, 1, n_units)[unit] - rng.normal(0, 0.5, n_raters)[rater]
    x = draw_categories(eta, np.array([0.0, -1.5, -3.0, -4.5]), rng)
    res = fit_mfrm(unit, rater, crit, x)
    assert res.converged and res.iterations < 30


def naive_moments(eta: float, tau: tuple[float, ...]) -> tuple[FloatArray, float, float]:
    """Category probabilities, expectation and variance of one rating, from the definition
    P_k ∝ exp(sum_{j<=k} (eta - F_j)) (Andrich 1978; Wright & Masters 1982, Eq. 3.1.1)."""
    psi = np.concatenate([[0.0], np.cumsum(tau)])
    num = np.exp(np.arange(psi.size) * eta - psi)
    p = num / num.sum()
    k = np.arange(psi.size)
    e = float(p @ k)
    return p, e, float(p @ (k - e) ** 2)


def test_estimates_solve_the_jmle_score_equations() -> None:
    # JMLE (Wright & Masters 1982, ch. 5; Linacre 1989): at the solution every element's
    # observed score equals its expected score and every category's count its expected count,
    # computed here rating by rating from the definition, independently of the vectorised code.
    sim = simulate(n_units=60, n_raters=6, n_criteria=3, seed=13)
    res = fit(sim)
    ability = {e.code: e.measure for e in res.submissions.elements}
    severity = measures(res)
    difficulty = measures(res, "criteria")
    extreme = {e.code for e in res.submissions.elements if e.status != "estimated"}
    tau = res.thresholds[0].tau
    x = sim.value - 1
    obs = {"u": np.zeros(60), "r": np.zeros(6), "c": np.zeros(3), "k": np.zeros(4)}
    exp = {key: np.zeros_like(v) for key, v in obs.items()}
    for n in range(x.size):
        u, r, c = int(sim.unit[n]), int(sim.rater[n]), int(sim.criterion[n])
        if u in extreme:
            continue
        p, e, _ = naive_moments(ability[u] - difficulty[c] - severity[r], tau)
        for key, j in (("u", u), ("r", r), ("c", c)):
            obs[key][j] += x[n]
            exp[key][j] += e
        obs["k"][int(x[n])] += 1
        exp["k"] += p
    for key in obs:
        np.testing.assert_allclose(obs[key], exp[key], atol=2e-3)


def test_fit_statistics_match_their_definitions(small: Simulated, small_fit: RaschResult) -> None:
    # Wright & Masters (1982, pp. 99-101): outfit = mean z^2, infit = sum y^2 / sum W, ZSTD by
    # the Wilson-Hilferty cube root with q^2 from the fourth central moments; SE = 1/sqrt(sum W).
    ability = {e.code: e.measure for e in small_fit.submissions.elements}
    extreme = {e.code for e in small_fit.submissions.elements if e.status != "estimated"}
    severity, difficulty = measures(small_fit), measures(small_fit, "criteria")
    tau = small_fit.thresholds[0].tau
    j = 4  # one assessor
    ys, ws, cs = [], [], []
    for n in np.flatnonzero(small.rater == j):
        u, c = int(small.unit[n]), int(small.criterion[n])
        if u in extreme:
            continue
        p, e, var = naive_moments(ability[u] - difficulty[c] - severity[j], tau)
        ys.append(small.value[n] - 1 - e)
        ws.append(var)
        cs.append(float(p @ (np.arange(4) - e) ** 4))
    y, w, c4 = np.array(ys), np.array(ws), np.array(cs)
    outfit, infit = float(np.mean(y**2 / w)), float(np.sum(y**2) / np.sum(w))
    q_out = math.sqrt(np.sum(c4 / w**2) / y.size**2 - 1 / y.size)
    q_in = math.sqrt(np.sum(c4 - w**2) / np.sum(w) ** 2)
    el = small_fit.assessors.elements[j]
    assert el.outfit == pytest.approx(outfit, rel=1e-6)
    assert el.infit == pytest.approx(infit, rel=1e-6)
    assert el.outfit_z == pytest.approx((outfit ** (1 / 3) - 1) * 3 / q_out + q_out / 3, rel=1e-6)
    assert el.infit_z == pytest.approx((infit ** (1 / 3) - 1) * 3 / q_in + q_in / 3, rel=1e-6)
    assert el.se == pytest.approx(1 / math.sqrt(np.sum(w)), rel=1e-6)


def test_assessor_of_only_extreme_submissions_is_extreme() -> None:
    # Setting extreme submissions aside can leave an assessor with no ratings to estimate from;
    # if all their ratings are in the lowest category they are extreme too (FACETS: Minimum),
    # estimated last, harsher than everyone.
    sim = simulate(n_units=200, n_raters=10, seed=3)
    value = sim.value.copy()
    value[np.isin(sim.unit, sim.unit[sim.rater == 9])] = 1.0
    res = fit_mfrm(sim.unit, sim.rater, sim.criterion, value, on_disconnected="flag")
    e9 = res.assessors.elements[9]
    assert e9.status == "extreme_min" and e9.subset == -1
    assert e9.measure > max(e.measure for e in res.assessors.elements[:9])
    assert math.isnan(e9.infit)


def test_relabelling_assessors_permutes_their_measures(small: Simulated) -> None:
    # Codes are labels: a permutation of assessor codes permutes the report and nothing else.
    perm = np.random.default_rng(1).permutation(20)
    a = fit(small, tol=1e-9)
    b = fit_mfrm(small.unit, perm[small.rater], small.criterion, small.value, tol=1e-9)
    np.testing.assert_allclose(measures(b)[perm], measures(a), atol=1e-8)
    np.testing.assert_allclose(measures(b, "criteria"), measures(a, "criteria"), atol=1e-8)
