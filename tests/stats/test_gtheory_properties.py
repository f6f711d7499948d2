"""Independent checks of the G-study estimator: classical ANOVA, REML, unbiasedness, recovery.

- Balanced data: Henderson's Method 1 must equal the ANOVA/EMS estimates, computed here from
  mean squares on a dense array (Brennan 2001, ch. 3).
- REML, by a dense likelihood maximised with scipy: equal to ANOVA on balanced data when no
  estimate is negative (Searle, Casella & McCulloch 1992, ch. 6); close on unbalanced data.
- Method 1 is unbiased on unbalanced data (Henderson 1953; Searle et al. 1992, ch. 5):
  Monte Carlo means must sit within a few standard errors of the true components.
- Programme-scale recovery of known components in the sparse live design.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg, optimize
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from calibrate.stats.gtheory import Design, VarianceComponents, variance_components


def anova_crossed(x: np.ndarray) -> dict[str, float]:
    """EMS estimates for balanced p x r x i, x of shape (n_p, n_r, n_i) (Brennan 2001, ch. 3)."""
    n_p, n_r, n_i = x.shape
    m = x.mean()
    mp, mr, mi = x.mean((1, 2)), x.mean((0, 2)), x.mean((0, 1))
    mpr, mpi, mri = x.mean(2), x.mean(1), x.mean(0)
    ms = {
        "p": n_r * n_i * np.sum((mp - m) ** 2) / (n_p - 1),
        "r": n_p * n_i * np.sum((mr - m) ** 2) / (n_r - 1),
        "pr": n_i * np.sum((mpr - mp[:, None] - mr[None, :] + m) ** 2) / ((n_p - 1) * (n_r - 1)),
        "pri": np.sum(
            (
                x
                - mpr[:, :, None]
                - mpi[:, None, :]
                - mri[None, :, :]
                + mp[:, None, None]
                + mr[None, :, None]
                + mi[None, None, :]
                - m
            )
            ** 2
        ),
    }
    if n_i == 1:
        ms["pri"] = ms["pr"]
        return {
            "p": (ms["p"] - ms["pr"]) / n_r,
            "r": (ms["r"] - ms["pr"]) / n_p,
            "pr,e": ms["pr"],
        }
    ms["pri"] /= (n_p - 1) * (n_r - 1) * (n_i - 1)
    ms["i"] = n_p * n_r * np.sum((mi - m) ** 2) / (n_i - 1)
    ms["pi"] = n_r * np.sum((mpi - mp[:, None] - mi[None, :] + m) ** 2) / ((n_p - 1) * (n_i - 1))
    ms["ri"] = n_p * np.sum((mri - mr[:, None] - mi[None, :] + m) ** 2) / ((n_r - 1) * (n_i - 1))
    return {
        "p": (ms["p"] - ms["pr"] - ms["pi"] + ms["pri"]) / (n_r * n_i),
        "r": (ms["r"] - ms["pr"] - ms["ri"] + ms["pri"]) / (n_p * n_i),
        "i": (ms["i"] - ms["pi"] - ms["ri"] + ms["pri"]) / (n_p * n_r),
        "pr": (ms["pr"] - ms["pri"]) / n_i,
        "pi": (ms["pi"] - ms["pri"]) / n_r,
        "ri": (ms["ri"] - ms["pri"]) / n_p,
        "pri,e": ms["pri"],
    }


def anova_nested(x: np.ndarray) -> dict[str, float]:
    """EMS estimates for balanced (r:p) x i, x of shape (n_p, n_r, n_i), r local to p."""
    n_p, n_r, n_i = x.shape
    m = x.mean()
    mp, mi, mpr, mpi = x.mean((1, 2)), x.mean((0, 1)), x.mean(2), x.mean(1)
    ms_p = n_r * n_i * np.sum((mp - m) ** 2) / (n_p - 1)
    ms_rp = n_i * np.sum((mpr - mp[:, None]) ** 2) / (n_p * (n_r - 1))
    if n_i == 1:
        return {"p": (ms_p - ms_rp) / n_r, "r:p,e": ms_rp}
    ms_i = n_p * n_r * np.sum((mi - m) ** 2) / (n_i - 1)
    ms_pi = n_r * np.sum((mpi - mp[:, None] - mi[None, :] + m) ** 2) / ((n_p - 1) * (n_i - 1))
    ms_e = np.sum((x - mpr[:, :, None] - mpi[:, None, :] + mp[:, None, None]) ** 2) / (
        n_p * (n_r - 1) * (n_i - 1)
    )
    return {
        "p": (ms_p - ms_pi - ms_rp + ms_e) / (n_r * n_i),
        "i": (ms_i - ms_pi) / (n_p * n_r),
        "r:p": (ms_rp - ms_e) / n_i,
        "pi": (ms_pi - ms_e) / n_r,
        "ri:p,e": ms_e,
    }


def fit_dense(x: np.ndarray, design: Design) -> VarianceComponents:
    _, n_r, n_i = x.shape
    p, r, i = np.indices(x.shape)
    rater = r if design == "crossed" else p * n_r + r
    criterion = i.ravel() if n_i > 1 else None
    return variance_components(p.ravel(), rater.ravel(), criterion, x.ravel(), design=design)


@settings(max_examples=60, deadline=None)
@given(
    design=st.sampled_from(["crossed", "nested"]),
    shape=st.tuples(st.integers(2, 6), st.integers(2, 4), st.integers(1, 3)),
    seed=st.integers(0, 2**32 - 1),
    integer=st.booleans(),
)
def test_balanced_data_give_the_anova_estimates(
    design: Design, shape: tuple[int, int, int], seed: int, integer: bool
) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=shape).astype(float) if integer else rng.normal(size=shape) * 3
    vc = fit_dense(x, design)
    expected = anova_crossed(x) if design == "crossed" else anova_nested(x)
    assert vc.balanced
    assert {c.effect: c.raw for c in vc.components} == pytest.approx(expected, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-50, 50), scale=st.floats(0.1, 10))
def test_location_scale_and_row_order(seed: int, shift: float, scale: float) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    k = rng.integers(1, 4, size=n)
    unit = np.repeat(np.arange(n), k * 2)
    rater = np.repeat(np.concatenate([rng.choice(12, m, replace=False) for m in k]), 2)
    criterion = np.tile([0, 1], len(unit) // 2)
    value = rng.integers(1, 5, size=len(unit)).astype(float)
    base = variance_components(unit, rater, criterion, value)
    moved = variance_components(unit, rater, criterion, shift + scale * value)
    order = rng.permutation(len(unit))
    shuffled = variance_components(unit[order], rater[order], criterion[order], value[order])
    for a, b, c in zip(base.components, moved.components, shuffled.components, strict=True):
        assert b.raw == pytest.approx(scale**2 * a.raw, abs=1e-8 * scale**2)
        assert c.raw == pytest.approx(a.raw, abs=1e-9)


# --- REML by a dense likelihood --------------------------------------------------------------


def reml(y: np.ndarray, z: list[np.ndarray], start: np.ndarray) -> np.ndarray:
    """Restricted ML for y = mu + sum_b Z_b u_b + e (last component: the residual).

    -2 l_R = log|V| + log|1' V^-1 1| + r' V^-1 r, r = y - mu_GLS (Searle et al. 1992, ch. 6).
    """
    n = len(y)
    zz = [zb @ zb.T for zb in z] + [np.eye(n)]
    ones = np.ones(n)

    def deviance(s2: np.ndarray) -> tuple[float, np.ndarray]:
        v = sum(s * m for s, m in zip(s2, zz, strict=True))
        c = linalg.cho_factor(v)
        vi = linalg.cho_solve(c, np.eye(n))
        vi_1 = vi @ ones
        p = vi - np.outer(vi_1, vi_1) / (ones @ vi_1)  # P = V^-1 - V^-1 1 (1'V^-1 1)^-1 1'V^-1
        py = p @ y
        value = 2 * np.sum(np.log(np.diag(c[0]))) + np.log(ones @ vi_1) + y @ py
        # d(-2 l_R)/d s2_b = tr(P Z_b Z_b') - y'P Z_b Z_b' P y (Searle et al. 1992, ch. 6)
        grad = np.array([np.sum(p * m) - py @ m @ py for m in zz])
        return float(value), grad

    bounds = [(0.0, None)] * len(z) + [(1e-8, None)]
    # One BLAS thread: small dense solves only slow down when threads contend on 2 shared cores.
    with threadpool_limits(1):
        fit = optimize.minimize(
            deviance,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 500},
        )
    return np.asarray(fit.x)


def one_hot(codes: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(codes, return_inverse=True)
    return np.eye(inverse.max() + 1)[inverse]


def nested_design_matrices(
    unit: np.ndarray, rater: np.ndarray, criterion: np.ndarray
) -> list[np.ndarray]:
    """Z for p, i, r:p, pi of the (r:p) x i design."""
    pair = unit * 10_000 + rater
    return [one_hot(unit), one_hot(criterion), one_hot(pair), one_hot(unit * 100 + criterion)]


def simulate_nested(
    rng: np.random.Generator, k: np.ndarray, n_raters: int, n_i: int, s2: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normal data from the (r:p) x i model with components ``s2``; k assessors per unit."""
    n_p = len(k)
    unit = np.repeat(np.repeat(np.arange(n_p), k), n_i)
    rater = np.repeat(np.concatenate([rng.choice(n_raters, m, replace=False) for m in k]), n_i)
    criterion = np.tile(np.arange(n_i), int(k.sum()))
    pair = np.repeat(np.arange(int(k.sum())), n_i)
    y = (
        3.0
        + rng.normal(0, np.sqrt(s2["p"]), n_p)[unit]
        + rng.normal(0, np.sqrt(s2["i"]), n_i)[criterion]
        + rng.normal(0, np.sqrt(s2["r:p"]), int(k.sum()))[pair]
        + rng.normal(0, np.sqrt(s2["pi"]), n_p * n_i)[unit * n_i + criterion]
        + rng.normal(0, np.sqrt(s2["ri:p,e"]), len(unit))
    )
    return unit, rater, criterion, y


TRUE = {"p": 0.5, "i": 0.2, "r:p": 0.3, "pi": 0.15, "ri:p,e": 0.4}


def test_reml_equals_method1_on_balanced_data() -> None:
    rng = np.random.default_rng(11)
    unit, rater, criterion, y = simulate_nested(rng, np.full(12, 2), 30, 3, TRUE)
    vc = variance_components(unit, rater, criterion, y)
    assert vc.balanced and all(c.raw > 0 for c in vc.components)
    method1 = np.array([c.raw for c in vc.components])
    fitted = reml(y, nested_design_matrices(unit, rater, criterion), method1 * 1.3)
    # Searle, Casella & McCulloch (1992), ch. 6: balanced REML = ANOVA when all are positive
    assert fitted == pytest.approx(method1, rel=2e-3, abs=2e-4)


def test_reml_and_method1_agree_on_unbalanced_data() -> None:
    """Different estimators of the same components: close, within sampling error.

    Method 1 weights cells by counts, REML by the inverse covariance, so they part by sampling
    noise only. Monte Carlo SDs of the Method 1 estimates in this design are 0.04-0.17; the two
    differ here by at most 0.009, and the test allows 0.03.
    """
    rng = np.random.default_rng(5)
    k = rng.choice([1, 2, 3], size=45, p=[0.2, 0.5, 0.3])
    unit, rater, criterion, y = simulate_nested(rng, k, 40, 4, TRUE)
    vc = variance_components(unit, rater, criterion, y)
    assert not vc.balanced
    method1 = np.array([c.raw for c in vc.components])
    fitted = reml(y, nested_design_matrices(unit, rater, criterion), np.maximum(method1, 0.05))
    assert fitted == pytest.approx(method1, abs=0.03)


def test_method1_is_unbiased_on_unbalanced_data() -> None:
    """Monte Carlo mean over 300 data sets within 4 standard errors of each true component."""
    rng = np.random.default_rng(2024)
    k = rng.choice([1, 2, 3], size=40, p=[0.2, 0.5, 0.3])
    draws = np.array(
        [
            [c.raw for c in variance_components(*simulate_nested(rng, k, 40, 3, TRUE)).components]
            for _ in range(300)
        ]
    )
    mean = draws.mean(axis=0)
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    truth = np.array(list(TRUE.values()))
    assert np.all(np.abs(mean - truth) <= 4 * se), (mean, truth, se)


def test_recovery_at_programme_scale() -> None:
    """10^5 ratings, 2-3 of 800 assessors per submission, 5 criteria."""
    rng = np.random.default_rng(7)
    k = rng.choice([2, 3], size=8_500, p=[0.6, 0.4])
    unit, rater, criterion, y = simulate_nested(rng, k, 800, 5, TRUE)
    assert len(y) > 100_000
    vc = variance_components(unit, rater, criterion, y)
    assert vc.design == "nested"
    for component in vc.components:
        # sampling SDs here are 0.005-0.02, except sigma^2(i) from 5 criteria only (about 0.14)
        tol = 0.35 if component.effect == "i" else 0.05
        assert component.raw == pytest.approx(TRUE[component.effect], abs=tol)


def test_sparse_crossed_recovery_with_recurring_assessors() -> None:
    """Live-style sparse data (2 of 8 assessors per submission) fitted as crossed with missing
    cells: Method 1 recovers the components that do not hinge on only 8 assessors."""
    rng = np.random.default_rng(3)
    s2 = {"p": 0.5, "r": 0.3, "i": 0.1, "pr": 0.1, "pi": 0.1, "ri": 0.05, "pri,e": 0.3}
    n_p, n_r, n_i = 10_000, 8, 4
    raters = np.argsort(rng.random((n_p, n_r)), axis=1)[:, :2].ravel()
    unit = np.repeat(np.repeat(np.arange(n_p), 2), n_i)
    rater = np.repeat(raters, n_i)
    criterion = np.tile(np.arange(n_i), 2 * n_p)

    def effect(name: str, cell: np.ndarray, n: int) -> np.ndarray:
        return rng.normal(0, np.sqrt(s2[name]), n)[cell]  # type: ignore[no-any-return]

    y = (
        effect("p", unit, n_p)
        + effect("r", rater, n_r)
        + effect("i", criterion, n_i)
        + effect("pr", unit * n_r + rater, n_p * n_r)
        + effect("pi", unit * n_i + criterion, n_p * n_i)
        + effect("ri", rater * n_i + criterion, n_r * n_i)
        + rng.normal(0, np.sqrt(s2["pri,e"]), len(unit))
    )
    vc = variance_components(unit, rater, criterion, y, design="crossed")
    assert not vc.balanced
    for name in ("p", "pr", "pi", "pri,e"):
        # sampling SDs 0.01-0.02 at this size
        assert vc[name].raw == pytest.approx(s2[name], abs=0.06)
