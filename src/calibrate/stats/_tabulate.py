"""Long ratings -> per-unit category counts, grouped into patterns.

Every count-based agreement statistic (percent agreement, Fleiss' kappa, Gwet's AC1/AC2,
Krippendorff's alpha) is a function of how many ratings of each category each unit received, and
is a sum of per-unit terms. Units with the same counts contribute identically, so a
:class:`UnitTable` keeps one row per distinct *pattern* of counts and the number of units showing
it. The live design (2-3 ratings per unit on a 3-6 level rubric) has a few dozen patterns whatever
the number of units, which makes point estimates and bootstrap resamples cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibrate.errors import StatisticsError
from calibrate.stats._input import LongRatings

Weights = Literal["unweighted", "linear", "quadratic"]
"""Agreement weights between categories: identity, or linear/quadratic in the category values."""

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_DENSE_CODES = 4  # bincount over codes when max code <= _DENSE_CODES * n + 1024, else np.unique


@dataclass(frozen=True)
class UnitTable:
    """Ratings tabulated per unit and grouped into patterns (the sufficient statistics).

    Attributes
    ----------
    categories : ndarray, shape (C,)
        Sorted category values (the rubric's level scores, or the distinct values observed).
    counts : ndarray of int64, shape (P, C)
        ``counts[p, c]``: number of ratings of category ``c`` in a unit of pattern ``p``. Every
        pattern has at least one rating; units without ratings do not appear.
    multiplicity : ndarray of int64, shape (P,)
        Number of units showing pattern ``p``.
    pair_cell : ndarray of int64, shape (P,) or None
        Only when the ratings come from exactly two raters: ``a * C + b`` for the categories
        ``a`` (rater with the smaller code) and ``b`` (the other) of a unit rated by both, ``-1``
        for a unit rated by one of them. Patterns are then ordered pairs, not multisets.
    raters : ndarray of int64, shape (2,) or None
        The two rater codes behind ``pair_cell``.
    n_ratings : int
        Number of (non-missing) ratings tabulated.
    """

    categories: FloatArray
    counts: IntArray
    multiplicity: IntArray
    pair_cell: IntArray | None
    raters: IntArray | None
    n_ratings: int

    @property
    def n_units(self) -> int:
        """Number of units with at least one rating."""
        return int(self.multiplicity.sum())

    @property
    def ratings_per_unit(self) -> IntArray:
        """Number of ratings in each pattern, shape (P,)."""
        per_pattern: IntArray = self.counts.sum(axis=1)
        return per_pattern


def category_codes(value: FloatArray, levels: ArrayLike | None) -> tuple[FloatArray, IntArray]:
    """Map values to 0-based category codes.

    Parameters
    ----------
    value : ndarray, shape (n,)
        Finite scores.
    levels : array_like, shape (C,), optional
        The possible values (e.g. the rubric's level scores). Default: the distinct values seen.

    Returns
    -------
    categories : ndarray, shape (C,)
        Sorted categories.
    code : ndarray of int64, shape (n,)
        ``categories[code] == value``.
    """
    if levels is not None:
        categories = np.unique(np.asarray(levels, dtype=np.float64))
        if categories.size == 0 or not np.isfinite(categories).all():
            raise StatisticsError("levels must be a non-empty list of finite values")
        code = np.searchsorted(categories, value)
        inside = code < categories.size
        bad = ~inside
        bad[inside] = categories[code[inside]] != value[inside]
        if bad.any():
            raise StatisticsError(
                f"every value must be one of the levels {categories.tolist()}; "
                f"got {value[bad][0]:g}"
            )
        return categories, code.astype(np.int64, copy=False)
    if value.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    lo, hi = float(value.min()), float(value.max())
    as_int = value.astype(np.int64)
    if hi - lo <= _DENSE_CODES * value.size + 1024 and (as_int == value).all():
        # Integer scores (the rubric case): one bincount instead of a sort.
        shifted = as_int - int(lo)
        present = np.bincount(shifted) > 0
        lookup = np.cumsum(present) - 1
        categories = (np.flatnonzero(present) + lo).astype(np.float64)
        return categories, lookup[shifted].astype(np.int64, copy=False)
    categories, inverse = np.unique(value, return_inverse=True)
    return categories, inverse.astype(np.int64, copy=False)


def dense_codes(codes: IntArray) -> tuple[IntArray, int]:
    """Relabel codes to 0..K-1 (order kept) unless they are already reasonably dense."""
    if codes.size == 0:
        return codes, 0
    top = int(codes.max()) + 1
    if top <= _DENSE_CODES * codes.size + 1024:
        return codes, top
    labels, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64, copy=False), int(labels.size)


def distinct_codes(codes: IntArray) -> IntArray:
    """Sorted distinct codes: a bincount when they are dense, else a sort."""
    if codes.size and int(codes.max()) <= _DENSE_CODES * codes.size + 1024:
        return np.flatnonzero(np.bincount(codes)).astype(np.int64)
    return np.unique(codes).astype(np.int64)


def pairs_within(key: IntArray) -> tuple[IntArray, IntArray]:
    """Index pairs ``(i, j)``, ``i < j``, of entries sharing a key, for keys grouped (sorted).

    Parameters
    ----------
    key : ndarray of int64, shape (n,)
        Keys with equal keys adjacent (e.g. unit codes after a stable sort).

    Returns
    -------
    i, j : ndarray of int64, shape (K,)
        Every pair of positions within a group once, grouped by lag ``j - i``. The cost grows
        with the number of pairs, one vectorised pass per lag up to the largest group size.

    Examples
    --------
    >>> i, j = pairs_within(np.array([0, 0, 0, 1, 2, 2]))
    >>> list(zip(i.tolist(), j.tolist()))
    [(0, 1), (1, 2), (4, 5), (0, 2)]
    """
    first: list[IntArray] = []
    second: list[IntArray] = []
    for lag in range(1, key.size):
        i = np.flatnonzero(key[lag:] == key[:-lag])
        if i.size == 0:
            break
        first.append(i)
        second.append(i + lag)
    if not first:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(first).astype(np.int64), np.concatenate(second).astype(np.int64)


def tabulate(ratings: LongRatings, *, levels: ArrayLike | None = None) -> UnitTable:
    """Tabulate validated long ratings into a :class:`UnitTable`.

    Parameters
    ----------
    ratings : LongRatings
        From :func:`~calibrate.stats._input.long_ratings` (missing values dropped). ``unit``:
        unit codes (for agreement among assessors one unit is one submission x criterion);
        ``rater``, optional: needed only to keep the order of the two raters of a two-rater
        design (for Cohen's kappa) and to refuse a rater scoring the same unit twice.
    levels : array_like, shape (C,), optional
        Possible values; default the distinct values observed.

    Returns
    -------
    UnitTable

    Examples
    --------
    >>> from calibrate.stats import long_ratings
    >>> t = tabulate(long_ratings([0, 0, 1, 1, 2, 2], None, None, [1, 1, 2, 3, 1, 1]))
    >>> t.categories.tolist(), t.counts.tolist(), t.multiplicity.tolist()
    ([1.0, 2.0, 3.0], [[2, 0, 0], [0, 1, 1]], [2, 1])
    """
    u, r, v = ratings.unit, ratings.rater, ratings.value
    categories, code = category_codes(v, levels)
    n_cat = categories.size
    u, n_units = dense_codes(u)
    pair_cell: IntArray | None = None
    raters: IntArray | None = None
    if r is not None:
        _refuse_duplicates(u, r)
        raters = distinct_codes(r)
        if raters.size != 2:
            raters = None
    if raters is not None and r is not None:
        # Two raters: a unit's pattern is the ordered pair of its two scores (-1 = not rated).
        first = r == raters[0]
        slots = np.full((2, n_units), -1, dtype=np.int64)
        slots[0, u[first]] = code[first]
        slots[1, u[~first]] = code[~first]
        key = (slots[0] + 1) * (n_cat + 1) + (slots[1] + 1)
        key = key[key > 0]
        mult = np.bincount(key, minlength=(n_cat + 1) ** 2)
        seen = np.flatnonzero(mult)
        a, b = seen // (n_cat + 1) - 1, seen % (n_cat + 1) - 1
        counts = np.zeros((seen.size, n_cat), dtype=np.int64)
        np.add.at(counts, (np.flatnonzero(a >= 0), a[a >= 0]), 1)
        np.add.at(counts, (np.flatnonzero(b >= 0), b[b >= 0]), 1)
        pair_cell = np.where((a >= 0) & (b >= 0), a * n_cat + b, -1)
        return UnitTable(categories, counts, mult[seen], pair_cell, raters, int(v.size))
    per_unit = np.bincount(u * n_cat + code, minlength=n_units * n_cat).reshape(n_units, n_cat)
    counts, mult = _patterns(per_unit)
    return UnitTable(categories, counts, mult, None, None, int(v.size))


def _refuse_duplicates(unit: IntArray, rater: IntArray) -> None:
    key = np.sort(unit * (int(rater.max()) + 1) + rater)
    dup = np.flatnonzero(key[1:] == key[:-1])
    if dup.size:
        k = int(key[dup[0]])
        n_r = int(rater.max()) + 1
        raise StatisticsError(
            f"each rater may rate a unit only once; rater code {k % n_r} rated unit code "
            f"{k // n_r} more than once"
        )


def _patterns(per_unit: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct non-empty rows of ``per_unit`` (U, C) and how often each occurs."""
    n_units, n_cat = per_unit.shape
    base = int(per_unit.max(initial=0)) + 1
    if n_cat * np.log2(base) >= 62:
        rows, mult = np.unique(per_unit[per_unit.any(axis=1)], axis=0, return_counts=True)
        return rows.astype(np.int64), mult.astype(np.int64)
    # Each row read as a number in base `base`: one key per unit, 0 for a unit without ratings.
    powers = base ** np.arange(n_cat, dtype=np.int64)
    key = per_unit @ powers
    if base**n_cat <= _DENSE_CODES * n_units + 1024:
        mult = np.bincount(key, minlength=1)
        mult[0] = 0
        seen = np.flatnonzero(mult)
        mult = mult[seen]
    else:
        seen, mult = np.unique(key, return_counts=True)
        seen, mult = seen[seen > 0], mult[seen > 0]
    rows = (seen[:, None] // powers) % base
    return rows.astype(np.int64), mult.astype(np.int64)


def agreement_weights(categories: FloatArray, weights: Weights) -> FloatArray:
    """Agreement weights ``w[k, l]`` between categories, shape (C, C).

    ``unweighted``: identity. ``linear``: ``1 - |x_k - x_l| / (max - min)``. ``quadratic``:
    ``1 - (x_k - x_l)**2 / (max - min)**2``, on the category *values* (Gwet 2014, ch. 3; irrCAC).
    R's irr instead spaces categories by their rank among the levels in use; pass rank-coded
    values (0, 1, 2, ...) to reproduce it.
    """
    if weights == "unweighted" or categories.size < 2:
        return np.eye(categories.size)
    diff = np.abs(categories[:, None] - categories[None, :]) / (categories[-1] - categories[0])
    if weights == "linear":
        return np.asarray(1.0 - diff, dtype=np.float64)
    if weights == "quadratic":
        return np.asarray(1.0 - diff**2, dtype=np.float64)
    raise StatisticsError(f"weights must be 'unweighted', 'linear' or 'quadratic', got {weights!r}")
