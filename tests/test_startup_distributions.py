"""The distribution functions of the statistics core (``calibrate.stats._distributions``),
taken from ``scipy.special`` so that a command need not import ``scipy.stats`` (about a second
of start-up, see test_startup.py), return exactly what ``scipy.stats`` returns: bit for bit, edge
cases included (parameters not positive or NaN, probabilities 0, 1, outside [0, 1] or NaN, infinite
statistics), scalars and arrays alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats as sps

from calibrate.stats._distributions import chi2_sf, f_ppf, norm_ppf, t_ppf, t_sf

rng = np.random.default_rng(20260301)
EDGE_Q = [0.0, 1.0, 0.5, -0.1, 1.1, np.nan, np.inf, -np.inf, 1e-300, 1 - 1e-16, 0.9, 0.95, 0.975]
EDGE_DF = [0, -1, 0.5, 1, 2, 3, 3.7, 29, 1e6, np.nan, np.inf, 1e-3]
EDGE_X = [0.0, -0.0, 1, -1, 40, 1e4, 1e-300, np.inf, -np.inf, np.nan]
Q = np.concatenate([EDGE_Q, rng.random(60)])
DF = np.concatenate([EDGE_DF, rng.random(20) * 60])
X = np.concatenate([EDGE_X, rng.normal(size=40) * 5])


def bits(a: Any) -> Any:
    """The float64 bit patterns (NaN payloads aside), to compare exactly, signed zeros included."""
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isnan(a), np.nan, a).view(np.int64)


def assert_identical(ours: Any, theirs: Any) -> None:
    assert np.shape(ours) == np.shape(theirs)
    np.testing.assert_array_equal(bits(ours), bits(theirs))


CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any], tuple[Any, ...]]] = {
    "norm.ppf": (norm_ppf, sps.norm.ppf, (Q,)),
    "t.ppf": (t_ppf, sps.t.ppf, np.meshgrid(Q, DF)),
    "f.ppf": (f_ppf, sps.f.ppf, np.meshgrid(Q, DF, DF)),
    "t.sf": (t_sf, sps.t.sf, np.meshgrid(X, DF)),
    "chi2.sf": (chi2_sf, sps.chi2.sf, np.meshgrid(np.abs(X) * 3, DF)),
}


@pytest.mark.parametrize("name", CASES)
def test_identical_to_scipy_stats_on_arrays(name: str) -> None:
    ours, theirs, args = CASES[name]
    assert_identical(ours(*args), theirs(*args))


@pytest.mark.parametrize("name", CASES)
def test_identical_to_scipy_stats_on_scalars(name: str) -> None:
    """One value at a time, as the interval methods call them (``float(...)`` of the result)."""
    ours, theirs, args = CASES[name]
    for point in zip(*(np.ravel(a)[:: max(1, np.size(a) // 400)] for a in args), strict=True):
        assert_identical(ours(*point), theirs(*point))


def test_integer_degrees_of_freedom() -> None:
    """As the callers pass them: ``n_units - 1`` (0 for one unit) and the rater model's
    ``np.maximum(df, 1)`` of int64 counts."""
    df = np.arange(-1, 40)
    assert_identical(t_ppf(0.975, df), sps.t.ppf(0.975, df))
    assert_identical(t_sf(np.abs(X)[:, None], df[None]), sps.t.sf(np.abs(X)[:, None], df[None]))
    assert_identical(chi2_sf(3.2, 4), sps.chi2.sf(3.2, 4))
    assert_identical(f_ppf(0.975, 9, 18), sps.f.ppf(0.975, 9, 18))
