"""Krippendorff's alpha from the coincidence matrix, for sparse long ratings.

Local names follow Krippendorff (2011): ``o`` the coincidence matrix, ``n_c`` its marginals, ``n``
the number of pairable values, ``delta`` the difference function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike

from calibrate.errors import StatisticsError
from calibrate.stats._input import long_ratings
from calibrate.stats._tabulate import FloatArray, IntArray, UnitTable, tabulate

AlphaLevel = Literal["nominal", "ordinal", "interval", "ratio"]
"""Level of measurement, selecting Krippendorff's difference function."""

ALPHA_LEVELS: tuple[AlphaLevel, ...] = get_args(AlphaLevel)


@dataclass(frozen=True)
class Coincidences:
    """Krippendorff's coincidence matrix of a set of ratings.

    Attributes
    ----------
    categories : ndarray, shape (C,)
        Sorted category values.
    o : ndarray, shape (C, C)
        ``o[c, k]``: number of c-k pairs of values within units, each unit's pairs weighted by
        ``1 / (m_u - 1)`` (Krippendorff 2011, p. 3). Symmetric; sums to ``n_pairable``.
    """

    categories: FloatArray
    o: FloatArray

    @property
    def n_pairable(self) -> float:
        """Number of pairable values ``n`` (values in units with at least two values)."""
        return float(self.o.sum())

    def alpha(self, level: AlphaLevel = "interval") -> float:
        """Krippendorff's alpha at ``level``; NaN when all pairable values are equal (see below).

        Returns NaN, not an error, when the expected disagreement is zero: every pairable value
        is the same category, so there is no variation to be reliable about (Krippendorff 2011,
        p. 5 calls alpha undefined there).
        """
        return self.alphas((level,))[level]

    def alphas(self, levels: Sequence[AlphaLevel] = ALPHA_LEVELS) -> dict[AlphaLevel, float]:
        """Alpha at each of ``levels`` (default all four), sharing the work between them."""
        return {
            level: float(a)
            for level, a in alphas_of_coincidences(self.o, self.categories, levels).items()
        }


def coincidence_matrix(unit: ArrayLike, value: ArrayLike) -> Coincidences:
    """Coincidence matrix of long ratings, built with one bincount over (unit, category).

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Unit codes.
    value : array_like of float, shape (n,)
        Values; NaN = missing (dropped). Which coder gave a value does not enter alpha.

    Returns
    -------
    Coincidences

    Raises
    ------
    StatisticsError
        When no unit has two or more values (nothing is pairable).

    Examples
    --------
    Krippendorff (2011, p. 8), units 1-3 of the worked example:

    >>> c = coincidence_matrix([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2], [1, 1, 1, 2, 2, 3, 2, 3, 3, 3, 3])
    >>> c.o.tolist()
    [[3.0, 0.0, 0.0], [0.0, 2.0, 1.0], [0.0, 1.0, 4.0]]
    """
    return coincidences_from_table(tabulate(long_ratings(unit, None, None, value)))


def coincidences_from_table(table: UnitTable) -> Coincidences:
    """:class:`Coincidences` of a tabulated set of ratings (see :func:`coincidence_matrix`)."""
    o = coincidences(table.counts, table.multiplicity.astype(np.float64))
    if not o.any():
        raise StatisticsError("ratings must have at least one unit with two or more values")
    return Coincidences(table.categories, o)


def krippendorff_alpha(
    unit: ArrayLike, value: ArrayLike, *, level: AlphaLevel = "interval"
) -> float:
    r"""Krippendorff's alpha for any number of coders, missing values and unequal units.

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Unit codes (one unit = one submission x criterion).
    value : array_like of float, shape (n,)
        Values; NaN = missing. Coders do not enter the formula, so no coder array is needed.
    level : {'nominal', 'ordinal', 'interval', 'ratio'}
        Level of measurement (difference function).

    Returns
    -------
    float
        Alpha; NaN when every pairable value is the same category (undefined, see
        :meth:`Coincidences.alpha`).

    Raises
    ------
    StatisticsError
        When no unit has two or more values.

    Notes
    -----
    With :math:`n_{uc}` values of category :math:`c` in unit :math:`u` and
    :math:`m_u = \sum_c n_{uc} \ge 2` (Krippendorff 2011, pp. 3-5):

    .. math::

        o_{ck} = \sum_u \frac{n_{uc} n_{uk} - [c = k] n_{uc}}{m_u - 1}, \quad
        n_c = \sum_k o_{ck}, \quad n = \sum_c n_c,

        \alpha = 1 - \frac{D_o}{D_e}
               = 1 - (n - 1) \frac{\sum_{ck} o_{ck} \delta^2_{ck}}{\sum_{ck} n_c n_k \delta^2_{ck}}.

    Difference functions: nominal :math:`[c \ne k]`; interval :math:`(c - k)^2`; ratio
    :math:`((c - k) / (c + k))^2`; ordinal
    :math:`(\sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2`, which equals :math:`(r_c - r_k)^2` for the
    mid-ranks :math:`r_c = \sum_{g \le c} n_g - n_c / 2`, so ordinal alpha is interval alpha on
    mid-ranks of the pairable values. Units with one value are not pairable and contribute
    nothing. Interpretation (Krippendorff 2004, p. 241): rely on data with
    :math:`\alpha \ge .800`, draw tentative conclusions from :math:`.667 \le \alpha < .800`.

    The coincidence matrix is built from one bincount over (unit, category) and the units'
    count patterns (:func:`~calibrate.stats._tabulate.tabulate`); its cost grows with the number
    of ratings, never with units x coders.

    References
    ----------
    .. [1] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School
       for Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43
    .. [2] Krippendorff, K. (2004). Content Analysis: An Introduction to Its Methodology (2nd ed.).
       Thousand Oaks, CA: Sage.
    .. [3] Hayes, A. F., & Krippendorff, K. (2007). Answering the call for a standard reliability
       measure for coding data. Communication Methods and Measures, 1(1), 77-89.
       doi:10.1080/19312450709336664

    Examples
    --------
    Krippendorff (2011, p. 8): 4 observers x 12 units, values 1-5, missing values (unit, value):

    >>> unit = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5,
    ...         6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 10, 10, 11]
    >>> value = [1, 1, 1, 2, 2, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 2, 3, 4,
    ...          4, 4, 4, 4, 1, 1, 2, 1, 2, 2, 2, 2, 5, 5, 5, 1, 1, 3]
    >>> [round(krippendorff_alpha(unit, value, level=lv), 3) for lv in ALPHA_LEVELS]
    [0.743, 0.815, 0.849, 0.797]
    """
    return coincidence_matrix(unit, value).alpha(level)


def coincidences(counts: IntArray, unit_weights: FloatArray) -> FloatArray:
    """Coincidence matrices for one or many weightings of the unit patterns.

    Parameters
    ----------
    counts : ndarray of int, shape (P, C)
        Category counts of each unit pattern.
    unit_weights : ndarray, shape (..., P)
        How many units show each pattern (the multiplicities, or bootstrap counts).

    Returns
    -------
    ndarray, shape (..., C, C)
    """
    m = counts.sum(axis=1)
    pairable = m >= 2
    c = counts[pairable].astype(np.float64)
    n_cat = counts.shape[1]
    # Eq. for o_ck in [1], p. 3: each unit's ordered pairs of values, weighted by 1 / (m_u - 1).
    per_unit = c[:, :, None] * c[:, None, :]
    per_unit[:, np.arange(n_cat), np.arange(n_cat)] -= c
    per_unit /= (m[pairable] - 1)[:, None, None].astype(np.float64)
    o: FloatArray = unit_weights[..., pairable] @ per_unit.reshape(c.shape[0], n_cat * n_cat)
    return o.reshape(*unit_weights.shape[:-1], n_cat, n_cat)


def alphas_of_coincidences(
    o: FloatArray, categories: FloatArray, levels: Sequence[AlphaLevel] = ALPHA_LEVELS
) -> dict[AlphaLevel, FloatArray]:
    """Alpha of coincidence matrices at each of ``levels`` (formula in :func:`krippendorff_alpha`).

    Parameters
    ----------
    o : ndarray, shape (..., C, C)
        Coincidence matrices (:func:`coincidences`), e.g. one per bootstrap resample.
    categories : ndarray, shape (C,)
    levels : sequence of {'nominal', 'ordinal', 'interval', 'ratio'}

    Returns
    -------
    dict of level to ndarray, shape (...)
        NaN where the expected disagreement is zero.
    """
    n_c = o.sum(axis=-1)
    n = n_c.sum(axis=-1)
    pairs = n_c[..., :, None] * n_c[..., None, :]
    diff = categories[:, None] - categories[None, :]
    out: dict[AlphaLevel, FloatArray] = {}
    for level in levels:
        if level == "nominal":
            delta = 1.0 - np.eye(categories.size)
        elif level == "ordinal":
            mid = np.cumsum(n_c, axis=-1) - n_c / 2.0
            delta = (mid[..., :, None] - mid[..., None, :]) ** 2
        elif level == "interval":
            delta = diff**2
        elif level == "ratio":
            total = categories[:, None] + categories[None, :]
            delta = np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
        else:
            raise StatisticsError(f"level must be one of {list(ALPHA_LEVELS)}, got {level!r}")
        observed = (o * delta).sum(axis=(-2, -1))
        expected = (pairs * delta).sum(axis=(-2, -1))
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = 1.0 - (n - 1.0) * observed / expected
        out[level] = np.asarray(np.where(expected > 0, alpha, np.nan), dtype=np.float64)
    return out
