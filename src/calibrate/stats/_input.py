"""The input contract of the statistics core: long ratings, one validator, one progress type.

Every public function of :mod:`calibrate.stats` that takes ratings takes parallel 1-D arrays in
one order with one set of names, leaving out those it does not use::

    unit, rater, criterion, value      # fit_mfrm, gstudy, variance_components
    unit, rater, value                 # summarize, icc, cohen_kappa_pairs
    unit, value                        # krippendorff_alpha, percent_agreement, gwet_ac, ...

Further arrays (an extra Rasch facet, an accuracy grouping, expert scores) follow ``unit`` in
``rater``'s place (``anchor_accuracy(unit, group, value, expert)``), follow ``value``, or are
keyword arguments. :func:`long_ratings` checks them all with the same rules and the same
messages, which state the rule and name the argument. The paired forms take two raters' scores
of the same units instead (``cohen_kappa(x, y)``, ``standardized_mean_difference(x, y)``; their
long forms are ``cohen_kappa_pairs`` and ``summarize``), checked by the same :func:`scores`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibrate.errors import StatisticsError

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

Progress = Callable[[int, int, str], None]
"""``progress(done, total, stage)``, called as a long computation advances: ``done`` of
``total`` steps finished, ``stage`` saying what runs. Bootstraps: resamples drawn of ``n_boot``,
stage ``"bootstrap"``. The Rasch fit: ``done`` the iteration, ``total`` the iteration limit
(``max_iter``; the fit usually stops earlier, at convergence), stage
``"iteration 7, largest change 0.00012 logits"``."""

Missing = Literal["drop", "refuse"]
"""What a NaN value means: a missing rating whose row is dropped, or an error."""


@dataclass(frozen=True)
class LongRatings:
    """Validated long ratings: one entry per rating, in the order given (missing rows dropped).

    Attributes
    ----------
    unit : ndarray of int64, shape (n,)
        Non-negative unit codes (a submission, or a submission x criterion).
    rater : ndarray of int64, shape (n,), or None
        Non-negative rater codes, when given.
    criterion : ndarray of int64, shape (n,), or None
        Non-negative criterion codes, when given.
    value : ndarray of float64, shape (n,)
        Finite scores.
    n_missing : int
        Rows dropped because their value was NaN (0 when NaN is refused).
    """

    unit: IntArray
    rater: IntArray | None
    criterion: IntArray | None
    value: FloatArray
    n_missing: int

    @property
    def n(self) -> int:
        """Number of ratings kept."""
        return int(self.value.size)


def long_ratings(
    unit: ArrayLike,
    rater: ArrayLike | None,
    criterion: ArrayLike | None,
    value: ArrayLike,
    *,
    missing: Missing = "drop",
) -> LongRatings:
    """Check long ratings against the input contract and return them as typed arrays.

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Unit codes.
    rater, criterion : array_like of int, shape (n,), or None
        Rater and criterion codes; None where the statistic does not use them.
    value : array_like of float, shape (n,)
        Scores.
    missing : {"drop", "refuse"}
        ``"drop"``: NaN marks a missing rating, whose row is dropped from every array.
        ``"refuse"``: NaN is an error (estimators that need every cell they are given).

    Returns
    -------
    LongRatings

    Raises
    ------
    StatisticsError
        Naming the argument and the rule it breaks: an array that is not 1-D or not as long as
        ``unit``; codes that are not non-negative integers (an integer array: float codes are
        refused, so that scores passed in a code's place are caught); values that are not
        numbers, infinite, or NaN with ``missing="refuse"``.

    Examples
    --------
    >>> r = long_ratings([0, 0, 1, 1], [0, 1, 0, 1], None, [1, 2, float("nan"), 3])
    >>> r.unit.tolist(), r.rater.tolist(), r.value.tolist(), r.n_missing
    ([0, 0, 1], [0, 1, 1], [1.0, 2.0, 3.0], 1)
    >>> try:
    ...     long_ratings([0, 1], [0, 1.5], None, [1, 2])
    ... except StatisticsError as error:
    ...     print(error)
    rater must hold non-negative integer codes (an integer array), got dtype float64
    """
    u = codes(unit, "unit")
    n = u.size
    r = None if rater is None else codes(rater, "rater", n)
    c = None if criterion is None else codes(criterion, "criterion", n)
    v = scores(value, "value", n, allow_nan=missing == "drop")
    n_missing = 0
    if missing == "drop":
        gap = np.isnan(v)
        n_missing = int(np.count_nonzero(gap))
        if n_missing:
            keep = ~gap
            u, v = u[keep], v[keep]
            r = None if r is None else r[keep]
            c = None if c is None else c[keep]
    elif missing != "refuse":
        raise StatisticsError(f"missing must be 'drop' or 'refuse', got {missing!r}")
    return LongRatings(u, r, c, v, n_missing)


def codes(x: ArrayLike, name: str, n: int | None = None, *, like: str = "unit") -> IntArray:
    """Check one array of codes: 1-D, as long as ``like`` (``n`` entries), non-negative integers.

    Parameters
    ----------
    x : array_like of int, shape (n,)
    name : str
        The argument's name, for the message.
    n : int, optional
        Required length (that of ``like``); default any.
    like : str
        Name of the argument whose length ``n`` is.

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    a = np.asarray(x)
    _shape(a, name, n, like)
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.dtype.kind not in "iu":
        raise StatisticsError(
            f"{name} must hold non-negative integer codes (an integer array), got dtype {a.dtype}"
        )
    out = a.astype(np.int64, copy=False)
    low = int(out.min())
    if low < 0:
        raise StatisticsError(f"{name} must hold non-negative integer codes, got {low}")
    return out


def scores(
    x: ArrayLike, name: str, n: int | None = None, *, like: str = "unit", allow_nan: bool = False
) -> FloatArray:
    """Check one array of scores: 1-D, as long as ``like`` (``n`` entries), finite numbers
    (NaN too with ``allow_nan``, marking a missing rating).

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    try:
        v = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatisticsError(f"{name} must hold numbers (scores)") from None
    _shape(v, name, n, like)
    if allow_nan:
        if np.isinf(v).any():
            raise StatisticsError(f"{name} must be finite (NaN marks a missing rating)")
    elif not np.isfinite(v).all():
        raise StatisticsError(f"{name} must be finite (no NaN or infinite scores)")
    return v


def _shape(a: NDArray[Any], name: str, n: int | None, like: str) -> None:
    if a.ndim != 1:
        raise StatisticsError(f"{name} must be a 1-D array, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise StatisticsError(
            f"{name} must be a 1-D array as long as {like} ({n}), got shape {a.shape}"
        )
