"""Gwet's first- and second-order agreement coefficients AC1 and AC2."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from calibrate.stats._input import long_ratings
from calibrate.stats._interval import ConfidenceInterval
from calibrate.stats._tabulate import (
    FloatArray,
    IntArray,
    UnitTable,
    Weights,
    agreement_weights,
    tabulate,
)
from calibrate.stats.percent_agreement import (
    category_prevalence,
    chance_corrected,
    chance_corrected_variance,
    observed_agreement,
    t_interval,
)


@dataclass(frozen=True)
class GwetAC:
    """Gwet's AC1 (unweighted) or AC2 (weighted) with its standard error.

    Attributes
    ----------
    coefficient : float
        AC1/AC2; NaN when fewer than two categories are possible (see :func:`gwet_ac`).
    pa : float
        Weighted observed agreement.
    pe : float
        Chance agreement.
    se : float
        Standard error (Gwet 2008 linearisation, no finite-population correction); NaN with one
        unit.
    n_units : int
        Units with at least one rating.
    weights : {'unweighted', 'linear', 'quadratic'}
        Agreement weights used.
    """

    coefficient: float
    pa: float
    pe: float
    se: float
    n_units: int
    weights: Weights

    def confidence_interval(self, confidence: float = 0.95) -> ConfidenceInterval:
        """Wald interval with Student's t on ``n_units - 1`` df, upper end capped at 1 (irrCAC)."""
        return t_interval(self.coefficient, self.se, self.n_units, confidence)


def gwet_ac(
    unit: ArrayLike,
    value: ArrayLike,
    *,
    weights: Weights = "unweighted",
    levels: ArrayLike | None = None,
) -> GwetAC:
    r"""Gwet's AC1 (``weights='unweighted'``) or AC2 (linear or quadratic weights).

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Unit codes; any number of raters per unit, missing ratings allowed.
    value : array_like of float, shape (n,)
        Scores; NaN = missing.
    weights : {'unweighted', 'linear', 'quadratic'}
        Agreement weights on the category values (see Notes).
    levels : array_like, shape (q,), optional
        The possible scores (the rubric's levels). Default: the scores observed. ``q`` enters the
        chance agreement, so pass the rubric's levels when some are unused.

    Returns
    -------
    GwetAC

    Raises
    ------
    StatisticsError
        When no unit has two or more ratings.

    Notes
    -----
    Gwet (2008; 2014, ch. 4-5), as irrCAC ``gwet.ac1.raw``. With :math:`n_{uk}` ratings of
    category :math:`k` in unit :math:`u`, :math:`m_u` ratings in the unit, :math:`n` units with a
    rating, :math:`n'` units with two or more, agreement weights :math:`w_{kl}` and
    :math:`T_w = \sum_{kl} w_{kl}`:

    .. math::

        p_a = \frac{1}{n'} \sum_{u: m_u \ge 2}
              \frac{\sum_k n_{uk} (\sum_l w_{kl} n_{ul} - 1)}{m_u (m_u - 1)}, \quad
        \pi_k = \frac{1}{n} \sum_u \frac{n_{uk}}{m_u},

        p_e = \frac{T_w}{q (q - 1)} \sum_k \pi_k (1 - \pi_k), \quad
        AC = \frac{p_a - p_e}{1 - p_e}.

    Weights: linear :math:`1 - |x_k - x_l| / (x_{max} - x_{min})`, quadratic
    :math:`1 - (x_k - x_l)^2 / (x_{max} - x_{min})^2` on the category values. Unlike alpha,
    units with a single rating count in :math:`\pi_k` (Gwet's convention). With :math:`q < 2`
    the chance agreement is undefined and the coefficient is NaN. Unlike kappa, AC1 stays high
    when raters agree on a dominant category (the "kappa paradox"; Gwet 2008). The standard
    error is Gwet's (2008) linearisation (:func:`chance_corrected_variance`).

    References
    ----------
    .. [1] Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the presence
       of high agreement. British Journal of Mathematical and Statistical Psychology, 61(1),
       29-48. doi:10.1348/000711006X126600
    .. [2] Gwet, K. L. (2014). Handbook of Inter-Rater Reliability (4th ed.). Gaithersburg, MD:
       Advanced Analytics. ISBN 978-0970806284.

    Examples
    --------
    Krippendorff (2011) data (irrCAC ``cac.raw4raters``); Gwet (2014) / irrCAC print AC1
    0.77544 and chance agreement 0.1903212:

    >>> unit = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5,
    ...         6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 10, 10, 11]
    >>> value = [1, 1, 1, 2, 2, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 2, 3, 4,
    ...          4, 4, 4, 4, 1, 1, 2, 1, 2, 2, 2, 2, 5, 5, 5, 1, 1, 3]
    >>> ac1 = gwet_ac(unit, value)
    >>> round(ac1.coefficient, 5), round(ac1.pe, 7)
    (0.77544, 0.1903212)
    """
    table = tabulate(long_ratings(unit, None, None, value), levels=levels)
    return gwet_ac_from_table(table, weights=weights)


def gwet_ac_from_table(table: UnitTable, *, weights: Weights = "unweighted") -> GwetAC:
    """:func:`gwet_ac` on tabulated ratings."""
    w = agreement_weights(table.categories, weights)
    f = table.multiplicity.astype(np.float64)
    coefficient, pa, pe = (float(x) for x in gwet_ac_parts(table.counts, f, w))
    q = w.shape[0]
    se = float("nan")
    if q >= 2:
        pi = category_prevalence(table.counts, f)
        m = table.ratings_per_unit.astype(np.float64)
        pe_unit = w.sum() / (q * (q - 1)) * (table.counts @ (1.0 - pi)) / m
        se = np.sqrt(
            chance_corrected_variance(table.counts, table.multiplicity, w, coefficient, pe, pe_unit)
        )
    return GwetAC(coefficient, pa, pe, float(se), table.n_units, weights)


def gwet_ac_parts(
    counts: IntArray, unit_weights: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """AC, ``pa`` and ``pe`` for one or many weightings of the unit patterns.

    Parameters
    ----------
    counts : ndarray of int, shape (P, C)
    unit_weights : ndarray, shape (..., P)
    weights : ndarray, shape (C, C)
        Agreement weights.

    Returns
    -------
    coefficient, pa, pe : ndarray, shape (...)
    """
    q = weights.shape[0]
    pa = observed_agreement(counts, unit_weights, weights)
    if q < 2:
        nan = np.full(np.shape(pa), np.nan)
        return nan, pa, nan
    pi = category_prevalence(counts, unit_weights)
    # Eq. 4.6 in [2]: chance agreement of AC1/AC2.
    pe = weights.sum() / (q * (q - 1)) * (pi * (1.0 - pi)).sum(axis=-1)
    return chance_corrected(pa, pe), pa, pe
