"""The many-facet Rasch fit against a published example and an independent implementation.

Published example: the Liking for Science data (Wright & Masters 1982, *Rating Scale Analysis*,
p. 18), with the item measures, model standard errors and fit statistics Winsteps prints for it
(Linacre, *Winsteps Help*, "Example 0", Table 13); data and source in
``tests/reference/wright_masters1982_lfs``. It has two facets (children and activities): it is
fitted as a one-assessor programme, children as submissions and activities as criteria.

Independent implementation: :func:`reference_jmle` below, plain alternating JMLE in the way of
Wright & Masters (1982, ch. 4) and BIGSTEPS, written from the textbook, sharing no code with
:mod:`calibrate.stats.rasch` (which takes joint Newton steps over all facets).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence

import numpy as np
import pytest
from numpy.typing import NDArray

from calibrate.stats.rasch import RaschResult, fit_mfrm
from tests.conftest import ROOT

LFS = ROOT / "tests" / "reference" / "wright_masters1982_lfs"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def reference_jmle(
    codes: Sequence[IntArray],
    signs: Sequence[int],
    x: IntArray,
    n_categories: int,
    *,
    lconv: float,
    rconv: float,
    max_iter: int = 5000,
) -> tuple[list[FloatArray], FloatArray]:
    """Alternating JMLE of the rating-scale model log(P_k / P_k-1) = sum_f s_f theta_f - tau_k.

    Every iteration: one Newton step per element from its score residual, all facets from the
    same probabilities (steps capped at 1 logit); facets after the first centred at 0; then the
    Andrich thresholds moved by the log ratio of observed to expected adjacent category counts
    and centred. Stops when both the largest logit change <= ``lconv`` and the largest score
    residual <= ``rconv`` (BIGSTEPS' ``CONVERGE=B``). No element may have an extreme score.
    """
    k = np.arange(n_categories, dtype=np.float64)
    theta = [np.zeros(int(c.max()) + 1) for c in codes]
    tau = np.zeros(n_categories - 1)
    observed = np.bincount(x, minlength=n_categories).astype(np.float64)

    def probabilities() -> FloatArray:
        eta = sum(s * th[c] for th, c, s in zip(theta, codes, signs, strict=True))
        logits = (
            k[:, None] * np.asarray(eta)[None, :] - np.concatenate([[0.0], np.cumsum(tau)])[:, None]
        )
        p = np.exp(logits - logits.max(axis=0))
        return p / p.sum(axis=0)

    for _ in range(max_iter):
        p = probabilities()
        expected = k @ p
        variance = (k**2) @ p - expected**2
        residuals = [np.bincount(c, x - expected) for c in codes]
        steps = [
            np.clip(s * r / np.bincount(c, variance), -1.0, 1.0)
            for c, s, r in zip(codes, signs, residuals, strict=True)
        ]
        for f, step in enumerate(steps):
            theta[f] += step
            if f:
                theta[f] -= theta[f].mean()
        counts = probabilities().sum(axis=1)
        tau_step = np.log(observed[:-1] / observed[1:]) - np.log(counts[:-1] / counts[1:])
        tau += tau_step
        tau -= tau.mean()
        change = max(max(float(np.abs(s).max()) for s in steps), float(np.abs(tau_step).max()))
        residual = max(float(np.abs(r).max()) for r in residuals)
        if change <= lconv and residual <= rconv:
            return theta, tau
    raise AssertionError("reference JMLE did not converge")


# --------------------------------------------------------------- Liking for Science


def lfs_ratings() -> tuple[IntArray, IntArray, IntArray]:
    """Child, activity (0-based) and rating of the 1,875 ratings."""
    lines = (LFS / "responses.txt").read_text().split()
    grid = np.array([[int(ch) for ch in line] for line in lines], dtype=np.int64)
    assert grid.shape == (75, 25)
    child, item = np.indices(grid.shape)
    return child.ravel(), item.ravel(), grid.ravel()


def lfs_published() -> dict[int, dict[str, float]]:
    """Winsteps Table 13 by activity number (1-based), numbers as printed."""
    with (LFS / "winsteps_table13.csv").open() as f:
        return {
            int(row["ENTRY_NUMBER"]): {k: float(v) for k, v in row.items() if k != "ACT"}
            for row in csv.DictReader(f)
        }


@pytest.fixture(scope="module")
def lfs_fit() -> RaschResult:
    child, item, score = lfs_ratings()
    return fit_mfrm(child, np.zeros_like(child), item, score, tol=1e-8, max_iter=1000)


def test_liking_for_science_raw_scores_match_the_table() -> None:
    # The transcription: item scores over the 74 non-extreme children are the printed ones.
    child, item, score = lfs_ratings()
    extreme = np.bincount(child, score) == 50
    assert np.flatnonzero(extreme).tolist() == [1]  # child 2 likes everything
    keep = ~extreme[child]
    raw = np.bincount(item[keep], score[keep])
    for number, row in lfs_published().items():
        assert raw[number - 1] == row["RAW_SCORE"]
        assert row["COUNT"] == 74


def test_liking_for_science_reproduces_winsteps_table_13(lfs_fit: RaschResult) -> None:
    # Wright & Masters (1982) data; Winsteps Table 13 (Linacre, Winsteps Help, Example 0).
    # Measures agree within 0.012 logits: the printed run stopped at a looser convergence
    # criterion (see the next test); standard errors and fit statistics follow the measures.
    assert lfs_fit.converged
    assert lfs_fit.submissions.elements[1].status == "extreme_max"
    published = lfs_published()
    for element in lfs_fit.criteria.elements:
        row = published[element.code + 1]
        assert element.measure == pytest.approx(row["MEASURE"], abs=0.015)
        assert element.se == pytest.approx(row["MODEL_SE"], abs=0.006)
        assert element.infit == pytest.approx(row["INFIT_MNSQ"], abs=0.025)
        assert element.outfit == pytest.approx(row["OUTFIT_MNSQ"], abs=0.03)
        assert element.infit_z == pytest.approx(row["INFIT_ZSTD"], abs=0.1)
        assert element.outfit_z == pytest.approx(row["OUTFIT_ZSTD"], abs=0.1)
    measures = np.array([e.measure for e in lfs_fit.criteria.elements])
    assert measures.mean() == pytest.approx(0.0, abs=1e-9)  # printed mean .00
    assert measures.std() == pytest.approx(1.41, abs=0.005)  # printed S.D. 1.41
    # Extreme children are left out of estimation and fit, as in Winsteps (count 74).
    assert lfs_fit.n_estimation == 74 * 25


def test_liking_for_science_printed_measures_are_jmle_at_bigsteps_convergence(
    lfs_fit: RaschResult,
) -> None:
    # Stopped where BIGSTEPS 2.59 stopped (logit change <= .01 and score residual <= .5, both:
    # Winsteps Help, CONVERGE=), plain JMLE gives every printed measure to its two decimals;
    # run to convergence, it gives calibrate's measures and thresholds.
    child, item, score = lfs_ratings()
    keep = np.bincount(child, score)[child] < 50
    child = np.unique(child[keep], return_inverse=True)[1]
    item, score = item[keep], score[keep]
    published = lfs_published()
    printed = np.array([published[i + 1]["MEASURE"] for i in range(25)])

    (_, loose), _ = reference_jmle([child, item], [1, -1], score, 3, lconv=0.01, rconv=0.5)
    np.testing.assert_array_equal(np.round(loose, 2) + 0.0, printed)

    (_, tight), tau = reference_jmle([child, item], [1, -1], score, 3, lconv=1e-10, rconv=1e-8)
    ours = np.array([e.measure for e in lfs_fit.criteria.elements])
    np.testing.assert_allclose(ours, tight, atol=1e-6)
    np.testing.assert_allclose(lfs_fit.thresholds[0].tau, tau, atol=1e-6)
    assert np.abs(tight - printed).max() > 0.005  # the printed run was not fully converged


# --------------------------------------------------------------- three facets


def test_three_facets_agree_with_the_reference_implementation() -> None:
    # Submissions x assessors x criteria, every assessor on every submission (no extremes),
    # categories 0-3: the joint-Newton fit and alternating JMLE reach the same solution.
    rng = np.random.default_rng(5)
    unit, rater, crit = (a.ravel() for a in np.indices((60, 4, 3)))
    eta = (
        rng.normal(0, 1.2, 60)[unit]
        - np.array([-0.6, -0.1, 0.2, 0.5])[rater]
        - np.array([-0.4, 0.0, 0.4])[crit]
    )
    steps = np.array([-1.2, 0.0, 1.2])
    logits = np.arange(4)[:, None] * eta - np.concatenate([[0.0], np.cumsum(steps)])[:, None]
    p = np.exp(logits - logits.max(axis=0))
    p /= p.sum(axis=0)
    score = (rng.random(len(eta)) > np.cumsum(p, axis=0)[:-1]).sum(axis=0)
    assert np.all((np.bincount(unit, score) > 0) & (np.bincount(unit, score) < 36))

    res = fit_mfrm(unit, rater, crit, score, tol=1e-9, max_iter=1000)
    (ability, severity, difficulty), tau = reference_jmle(
        [unit, rater, crit], [1, -1, -1], score, 4, lconv=1e-10, rconv=1e-8
    )
    for report, expected in (
        (res.submissions, ability),
        (res.assessors, severity),
        (res.criteria, difficulty),
    ):
        np.testing.assert_allclose([e.measure for e in report.elements], expected, atol=1e-6)
    np.testing.assert_allclose(res.thresholds[0].tau, tau, atol=1e-6)
