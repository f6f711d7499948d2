"""Percent agreement among raters: the share of agreeing pairs of ratings within units.

Also the two building blocks that the chance-corrected coefficients of Fleiss (1971) and Gwet
(2008) share with it: the observed (weighted) agreement ``pa`` and the category prevalences
``pi``, both computed from unit patterns so that one weighting of the patterns (the
multiplicities, or a bootstrap resample) gives all of them at once.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from calibrate.errors import StatisticsError
from calibrate.stats._distributions import t_ppf
from calibrate.stats._input import long_ratings
from calibrate.stats._interval import ConfidenceInterval
from calibrate.stats._tabulate import FloatArray, IntArray, tabulate


def percent_agreement(
    unit: ArrayLike, value: ArrayLike, *, within: float = 0.0, levels: ArrayLike | None = None
) -> float:
    r"""Pairwise percent agreement: exact (``within=0``) or adjacent (``within=1``).

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Unit codes.
    value : array_like of float, shape (n,)
        Scores; NaN = missing.
    within : float
        Two ratings agree when ``|x - y| <= within``: 0 for exact agreement, 1 for exact or
        adjacent agreement on a rubric whose level scores are consecutive integers.
    levels : array_like, shape (C,), optional
        Possible values; only checked (each value must be one of them).

    Returns
    -------
    float
        Proportion in [0, 1].

    Raises
    ------
    StatisticsError
        When no unit has two or more ratings.

    Notes
    -----
    Each unit with :math:`m_u \ge 2` ratings counts once, with the share of its
    :math:`m_u (m_u - 1)` ordered pairs of ratings that agree (Gwet 2014, eq. 2.9; irrCAC
    ``pa.coeff.raw``):

    .. math::

        p_a = \frac{1}{n'} \sum_{u: m_u \ge 2} \frac{\sum_k n_{uk} (n^*_{uk} - 1)}{m_u (m_u - 1)},
        \quad n^*_{uk} = \sum_l w_{kl} n_{ul},

    with :math:`w_{kl} = [|x_k - x_l| \le \text{within}]` and :math:`n'` the number of units
    with two or more ratings. With two ratings per unit this is the plain share of units whose
    two scores agree. Units with one rating contribute nothing.

    References
    ----------
    .. [1] Gwet, K. L. (2014). Handbook of Inter-Rater Reliability (4th ed.). Gaithersburg, MD:
       Advanced Analytics. ISBN 978-0970806284.

    Examples
    --------
    Krippendorff (2011) data as in irrCAC ``cac.raw4raters``: Gwet (2014) / irrCAC print
    percent agreement 0.8181818.

    >>> unit = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5,
    ...         6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 10, 10, 11]
    >>> value = [1, 1, 1, 2, 2, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 2, 3, 4,
    ...          4, 4, 4, 4, 1, 1, 2, 1, 2, 2, 2, 2, 5, 5, 5, 1, 1, 3]
    >>> round(percent_agreement(unit, value), 7)
    0.8181818
    """
    table = tabulate(long_ratings(unit, None, None, value), levels=levels)
    weights = within_weights(table.categories, within)
    return float(observed_agreement(table.counts, table.multiplicity.astype(float), weights))


def within_weights(categories: FloatArray, within: float) -> FloatArray:
    """Agreement weights ``[|x_k - x_l| <= within]``, shape (C, C)."""
    if not within >= 0:
        raise StatisticsError(f"within must be a non-negative number, got {within}")
    gap = np.abs(categories[:, None] - categories[None, :])
    return (gap <= within + 1e-9 * max(1.0, within)).astype(np.float64)


def observed_agreement(
    counts: IntArray, unit_weights: FloatArray, weights: FloatArray
) -> FloatArray:
    """Gwet's weighted observed agreement ``pa`` for one or many weightings of the patterns.

    Parameters
    ----------
    counts : ndarray of int, shape (P, C)
        Category counts of each unit pattern.
    unit_weights : ndarray, shape (..., P)
        Units per pattern (multiplicities or bootstrap counts).
    weights : ndarray, shape (C, C)
        Agreement weights (identity for exact agreement).

    Returns
    -------
    ndarray, shape (...)
        NaN for a weighting without any unit rated twice (possible only in a resample).

    Raises
    ------
    StatisticsError
        When no pattern has two or more ratings.
    """
    m = counts.sum(axis=1)
    pairable = m >= 2
    if not pairable.any():
        raise StatisticsError("ratings must have at least one unit rated two or more times")
    c = counts[pairable].astype(np.float64)
    mp = m[pairable].astype(np.float64)
    per_unit = ((c * (c @ weights.T)).sum(axis=1) - mp) / (mp * (mp - 1.0))
    w = unit_weights[..., pairable]
    n_pairable = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((w @ per_unit) / n_pairable)


def category_prevalence(counts: IntArray, unit_weights: FloatArray) -> FloatArray:
    r"""Gwet's category prevalences :math:`\pi_k = \frac{1}{n} \sum_u n_{uk} / m_u`.

    Averaged over all units with at least one rating (Gwet 2014; irrCAC), shape (..., C).
    """
    m = counts.sum(axis=1).astype(np.float64)
    share = counts / m[:, None]
    return np.asarray((unit_weights @ share) / unit_weights.sum(axis=-1)[..., None])


PE_ONE = 1 - 1e-12
"""Chance agreement counted as 1: a chance-corrected coefficient is undefined (0/0) there."""


def chance_corrected(pa: FloatArray, pe: FloatArray) -> FloatArray:
    """``(pa - pe) / (1 - pe)``, the form of every chance-corrected coefficient here (kappas,
    AC1/AC2); NaN where chance agreement is 1 (:data:`PE_ONE`)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = np.where(pe < PE_ONE, (pa - pe) / (1.0 - pe), np.nan)
    return out


def chance_corrected_variance(
    counts: IntArray,
    multiplicity: IntArray,
    weights: FloatArray,
    coefficient: float,
    pe: float,
    pe_per_unit: FloatArray,
) -> float:
    r"""Gwet's linearisation variance of :math:`(p_a - p_e) / (1 - p_e)` over units.

    Parameters
    ----------
    counts : ndarray of int, shape (P, C)
        Category counts of each unit pattern.
    multiplicity : ndarray of int, shape (P,)
        Units per pattern.
    weights : ndarray, shape (C, C)
        Agreement weights.
    coefficient, pe : float
        The coefficient and its chance agreement.
    pe_per_unit : ndarray, shape (P,)
        Each pattern's contribution :math:`p_{e|u}` to the chance agreement.

    Returns
    -------
    float
        The variance; NaN with fewer than two units or when :math:`p_e = 1`.

    Notes
    -----
    Gwet (2008, eqs. 13-15; 2014, ch. 5), as irrCAC ``gwet.ac1.raw`` / ``fleiss.kappa.raw``
    with no finite-population correction:

    .. math::

        \kappa_u = \frac{n}{n'} \frac{p_{a|u} - p_e [m_u \ge 2]}{1 - p_e}, \quad
        \kappa^\star_u = \kappa_u - 2 (1 - \kappa) \frac{p_{e|u} - p_e}{1 - p_e},

        v(\kappa) = \frac{1}{n (n - 1)} \sum_u (\kappa^\star_u - \kappa)^2.
    """
    m = counts.sum(axis=1).astype(np.float64)
    f = multiplicity.astype(np.float64)
    n, n_pairable = f.sum(), f[m >= 2].sum()
    if n < 2 or not pe < PE_ONE:
        return float("nan")
    c = counts.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pa_unit = np.where(m >= 2, ((c * (c @ weights.T)).sum(axis=1) - m) / (m * (m - 1)), 0.0)
    term = (n / n_pairable) * (pa_unit - pe * (m >= 2)) / (1 - pe)
    term -= 2 * (1 - coefficient) * (pe_per_unit - pe) / (1 - pe)
    return float((f * (term - coefficient) ** 2).sum() / (n * (n - 1)))


def t_interval(estimate: float, se: float, n_units: int, confidence: float) -> ConfidenceInterval:
    """Wald interval with Student's t on ``n_units - 1`` df, upper end capped at 1 (irrCAC)."""
    half = se * float(t_ppf(0.5 + confidence / 2, n_units - 1))
    return ConfidenceInterval(estimate - half, min(1.0, estimate + half), confidence)
