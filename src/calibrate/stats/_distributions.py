"""The few distribution functions the statistics core needs, from :mod:`scipy.special`.

Confidence intervals need quantiles of the normal, Student's t and F distributions, and the
rater model two tail probabilities (t, chi-square). ``scipy.stats`` computes each with one
``scipy.special`` function (Cephes) wrapped in argument checks, but importing ``scipy.stats``
takes three to four times as long as ``scipy.special`` (imported here only when a function
is first called, so that a command reporting no interval imports neither).

Each function returns exactly what its ``scipy.stats`` counterpart returns, bit for bit,
including its edge cases (``rv_continuous.ppf`` / ``rv_continuous.sf``): NaN for a parameter
that is not positive or is NaN and for a probability outside [0, 1]; the support's ends at
probabilities 0 and 1; a survival probability of 1 at or below the support's lower end and 0
at or above its upper end. Scalars in give 0-d arrays out (``float(...)`` them).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def _positive(params: list[FloatArray]) -> NDArray[np.bool_]:
    valid = np.ones(params[0].shape, dtype=bool)
    for p in params:
        valid &= p > 0
    return valid


def _ppf(
    fn: Callable[..., FloatArray], q: ArrayLike, low: float, high: float, *params: ArrayLike
) -> FloatArray:
    """``rv_continuous.ppf`` with ``fn(*params, q)`` the distribution's ``_ppf``."""
    q_, *p = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (q, *params)))
    valid = _positive(p) if p else np.ones(q_.shape, dtype=bool)
    out = np.full(q_.shape, np.nan)
    out[valid & (q_ == 0)] = low
    out[valid & (q_ == 1)] = high
    inner = valid & (q_ > 0) & (q_ < 1)
    if inner.any():
        out[inner] = fn(*(a[inner] for a in p), q_[inner]) + 0.0  # scipy adds loc = 0
    return out


def _sf(
    fn: Callable[..., FloatArray], x: ArrayLike, low: float, high: float, *params: ArrayLike
) -> FloatArray:
    """``rv_continuous.sf`` with ``fn(x, *params)`` the distribution's ``_sf``."""
    x_, *p = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (x, *params)))
    valid = _positive(p)
    out = np.zeros(x_.shape)
    out[~valid | np.isnan(x_)] = np.nan
    out[valid & (x_ <= low)] = 1.0
    inner = valid & (x_ > low) & (x_ < high)
    if inner.any():
        out[inner] = fn(x_[inner], *(a[inner] for a in p))
    return out


def norm_ppf(q: ArrayLike) -> FloatArray:
    """Standard normal quantile: ``scipy.stats.norm.ppf(q)`` (``scipy.special.ndtri``)."""
    from scipy.special import ndtri

    return _ppf(ndtri, q, -np.inf, np.inf)


def t_ppf(q: ArrayLike, df: ArrayLike) -> FloatArray:
    """Student's t quantile: ``scipy.stats.t.ppf(q, df)`` (``scipy.special.stdtrit``)."""
    from scipy.special import stdtrit

    return _ppf(lambda df_, q_: stdtrit(df_, q_), q, -np.inf, np.inf, df)


def f_ppf(q: ArrayLike, dfn: ArrayLike, dfd: ArrayLike) -> FloatArray:
    """F quantile: ``scipy.stats.f.ppf(q, dfn, dfd)`` (``scipy.special.fdtri``)."""
    from scipy.special import fdtri

    return _ppf(lambda n, d, q_: fdtri(n, d, q_), q, 0.0, np.inf, dfn, dfd)


def t_sf(statistic: ArrayLike, df: ArrayLike) -> FloatArray:
    """Student's t upper tail: ``scipy.stats.t.sf(statistic, df)``
    (``scipy.special.stdtr(df, -statistic)``)."""
    from scipy.special import stdtr

    return _sf(lambda x, df_: stdtr(df_, -x), statistic, -np.inf, np.inf, df)


def chi2_sf(statistic: ArrayLike, df: ArrayLike) -> FloatArray:
    """Chi-square upper tail: ``scipy.stats.chi2.sf(statistic, df)`` (``scipy.special.chdtrc``)."""
    from scipy.special import chdtrc

    return _sf(lambda x, df_: chdtrc(df_, x), statistic, 0.0, np.inf, df)
