"""Kappa coefficients: Cohen's (one pair or all pairs of raters at once) and Fleiss'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from calibrate.errors import StatisticsError
from calibrate.stats._distributions import norm_ppf
from calibrate.stats._input import long_ratings, scores
from calibrate.stats._interval import ConfidenceInterval
from calibrate.stats._tabulate import (
    FloatArray,
    IntArray,
    UnitTable,
    Weights,
    agreement_weights,
    category_codes,
    pairs_within,
    tabulate,
)
from calibrate.stats.percent_agreement import (
    PE_ONE,
    category_prevalence,
    chance_corrected,
    chance_corrected_variance,
    observed_agreement,
    t_interval,
)


@dataclass(frozen=True)
class CohenKappa:
    """Cohen's kappa between two raters, with large-sample standard errors.

    Attributes
    ----------
    kappa : float
        Kappa; NaN when chance agreement is 1 (both raters used one and the same category).
    po, pe : float
        Weighted observed and chance agreement.
    se : float
        Standard error (Fleiss, Cohen & Everitt 1969), for intervals.
    se_h0 : float
        Standard error under H0: kappa = 0 (Fleiss, Cohen & Everitt 1969; as R irr ``kappa2``).
    n_units : int
        Units rated by both raters.
    weights : {'unweighted', 'linear', 'quadratic'}
    """

    kappa: float
    po: float
    pe: float
    se: float
    se_h0: float
    n_units: int
    weights: Weights

    @property
    def z(self) -> float:
        """``kappa / se_h0``, the statistic of irr's ``kappa2``."""
        return self.kappa / self.se_h0 if self.se_h0 > 0 else float("nan")

    def confidence_interval(self, confidence: float = 0.95) -> ConfidenceInterval:
        """Normal-approximation (Wald) interval ``kappa +- z * se``."""
        half = self.se * float(norm_ppf(0.5 + confidence / 2))
        return ConfidenceInterval(self.kappa - half, self.kappa + half, confidence)


def cohen_kappa(
    x: ArrayLike,
    y: ArrayLike,
    *,
    weights: Weights = "unweighted",
    levels: ArrayLike | None = None,
) -> CohenKappa:
    r"""Cohen's kappa, unweighted or with linear/quadratic weights, for two paired raters.

    Parameters
    ----------
    x, y : array_like of float, shape (n,)
        The two raters' scores of the same ``n`` units; a unit missing (NaN) in either is
        dropped.
    weights : {'unweighted', 'linear', 'quadratic'}
        Agreement weights on the category values (see Notes).
    levels : array_like, shape (C,), optional
        Possible scores (the rubric's levels); default the scores observed. Sets the
        denominator of the weights (max - min).

    Returns
    -------
    CohenKappa

    Raises
    ------
    StatisticsError
        When no unit is rated by both.

    Notes
    -----
    With the joint proportions :math:`p_{kl}`, margins :math:`p_{k\cdot}`, :math:`p_{\cdot l}`
    and agreement weights :math:`w_{kl}` (Cohen 1960, 1968):

    .. math::

        p_o = \sum_{kl} w_{kl} p_{kl}, \quad p_e = \sum_{kl} w_{kl} p_{k\cdot} p_{\cdot l},
        \quad \kappa = \frac{p_o - p_e}{1 - p_e}.

    Weights are on the category values: linear :math:`1 - |x_k - x_l| / (x_{max} - x_{min})`,
    quadratic :math:`1 - (x_k - x_l)^2 / (x_{max} - x_{min})^2` (Gwet 2014; irrCAC; sklearn
    with integer scores). R's irr ``kappa2`` spaces weights by the rank of the levels in use
    instead; passing rank-coded scores reproduces it. Standard errors, with
    :math:`\bar w_{k\cdot} = \sum_l p_{\cdot l} w_{kl}` and
    :math:`\bar w_{\cdot l} = \sum_k p_{k\cdot} w_{kl}` (Fleiss, Cohen & Everitt 1969, eqs. 11
    and 16):

    .. math::

        \widehat{var}(\kappa) = \frac{\sum_{kl} p_{kl} [w_{kl} - (\bar w_{k\cdot} +
        \bar w_{\cdot l})(1 - \kappa)]^2 - [\kappa - p_e (1 - \kappa)]^2}{n (1 - p_e)^2},

        \widehat{var}_0(\kappa) = \frac{\sum_{kl} p_{k\cdot} p_{\cdot l} [w_{kl} -
        (\bar w_{k\cdot} + \bar w_{\cdot l})]^2 - p_e^2}{n (1 - p_e)^2}.

    Landis & Koch (1977) bands: < 0 poor, .00-.20 slight, .21-.40 fair, .41-.60 moderate,
    .61-.80 substantial, .81-1.00 almost perfect. Operational scoring programmes commonly
    require quadratic weighted kappa >= .70 between humans (Williamson, Xi & Breyer 2012).

    References
    ----------
    .. [1] Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
       Psychological Measurement, 20(1), 37-46. doi:10.1177/001316446002000104
    .. [2] Cohen, J. (1968). Weighted kappa. Psychological Bulletin, 70(4), 213-220.
       doi:10.1037/h0026256
    .. [3] Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample standard errors of
       kappa and weighted kappa. Psychological Bulletin, 72(5), 323-327. doi:10.1037/h0028106
    .. [4] Landis, J. R., & Koch, G. G. (1977). The measurement of observer agreement for
       categorical data. Biometrics, 33(1), 159-174. doi:10.2307/2529310
    .. [5] Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and use
       of automated scoring. Educational Measurement: Issues and Practice, 31(1), 2-13.

    Examples
    --------
    Gwet (2014) / irrCAC ``cont3x3abstractors`` (100 women, 2 abstractors; categories 1-3):
    kappa 0.7964094, quadratic 0.8921569.

    >>> table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    >>> x = [k + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> y = [l + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> round(cohen_kappa(x, y).kappa, 7), round(cohen_kappa(x, y, weights="quadratic").kappa, 7)
    (0.7964094, 0.8921569)
    """
    a = scores(x, "x", allow_nan=True)
    b = scores(y, "y", a.size, like="x", allow_nan=True)
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    if a.size == 0:
        raise StatisticsError("x and y must have at least one unit rated by both raters")
    categories, code = category_codes(np.concatenate([a, b]), levels)
    n_cat = categories.size
    cells = np.bincount(code[: a.size] * n_cat + code[a.size :], minlength=n_cat * n_cat)
    table = cells.reshape(n_cat, n_cat).astype(np.float64)
    w = agreement_weights(categories, weights)
    kappa, po, pe = (float(v) for v in kappa_parts(table, w))
    se, se_h0 = _kappa_se(table, w, kappa, pe)
    return CohenKappa(kappa, po, pe, se, se_h0, int(a.size), weights)


def kappa_parts(
    tables: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cohen's kappa, ``po`` and ``pe`` of contingency tables.

    Parameters
    ----------
    tables : ndarray, shape (..., C, C)
        Counts (or proportions) of rater A's category (rows) x rater B's (columns).
    weights : ndarray, shape (C, C)
        Agreement weights.

    Returns
    -------
    kappa, po, pe : ndarray, shape (...)
        NaN where a table is empty or ``pe == 1``.
    """
    total = tables.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = tables / total[..., None, None]
        po = (p * weights).sum(axis=(-2, -1))
        rows, cols = p.sum(axis=-1), p.sum(axis=-2)
        pe = np.einsum("...k,kl,...l->...", rows, weights, cols)
    return chance_corrected(po, pe), po, pe


def _kappa_se(table: FloatArray, w: FloatArray, kappa: float, pe: float) -> tuple[float, float]:
    """Fleiss, Cohen & Everitt (1969) standard errors of kappa: non-null and under H0."""
    n = table.sum()
    if not pe < PE_ONE:
        return float("nan"), float("nan")
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    w_bar = (w @ cols)[:, None] + (rows @ w)[None, :]  # w-bar_k. + w-bar_.l
    # Eq. 11 in [3]
    var = ((p * (w - w_bar * (1 - kappa)) ** 2).sum() - (kappa - pe * (1 - kappa)) ** 2) / (
        n * (1 - pe) ** 2
    )
    # Eq. 16 in [3]
    var0 = ((np.outer(rows, cols) * (w - w_bar) ** 2).sum() - pe**2) / (n * (1 - pe) ** 2)
    return float(np.sqrt(max(var, 0.0))), float(np.sqrt(max(var0, 0.0)))


@dataclass(frozen=True)
class PairwiseKappa:
    """Cohen's kappa for every pair of raters who rated at least one unit in common.

    Attributes
    ----------
    rater_a, rater_b : ndarray of int64, shape (K,)
        Rater codes of each pair, ``rater_a < rater_b``, sorted.
    n_units : ndarray of int64, shape (K,)
        Units the pair rated in common.
    kappa : ndarray, shape (K,)
        Kappa of the pair; NaN where its chance agreement is 1 (both used one same category).
    po : ndarray, shape (K,)
        Weighted observed agreement of the pair.
    weights : {'unweighted', 'linear', 'quadratic'}
    """

    rater_a: IntArray
    rater_b: IntArray
    n_units: IntArray
    kappa: FloatArray
    po: FloatArray
    weights: Weights


def cohen_kappa_pairs(
    unit: ArrayLike,
    rater: ArrayLike,
    value: ArrayLike,
    *,
    weights: Weights = "unweighted",
    levels: ArrayLike | None = None,
) -> PairwiseKappa:
    """Cohen's kappa of all pairs of raters with overlap, in one vectorised pass.

    Parameters
    ----------
    unit, rater : array_like of int, shape (n,)
        Unit and rater codes.
    value : array_like of float, shape (n,)
        Scores; NaN = missing.
    weights : {'unweighted', 'linear', 'quadratic'}
        As :func:`cohen_kappa`.
    levels : array_like, shape (C,), optional
        Possible scores; default the scores observed (in the whole data, so that every pair
        uses the same weights).

    Returns
    -------
    PairwiseKappa

    Raises
    ------
    StatisticsError
        When a rater rated a unit twice, or no unit has two ratings.

    Notes
    -----
    Groups ratings by unit (a stable sort, linear on data already grouped), enumerates the
    pairs of ratings within each unit, and builds every pair's contingency table with one
    ``bincount`` over (pair, category of A, category of B); kappa then follows for all tables
    at once (formula in :func:`cohen_kappa`). Cost grows with the number of pairs of ratings,
    not with raters squared.

    Examples
    --------
    Fleiss (1971) diagnoses, rating slots as raters: the mean of the 15 pairwise kappas is
    Light's kappa, 0.459 in irr ``kappam.light``; here subjects 1-3 only:

    >>> unit = [0] * 6 + [1] * 6 + [2] * 6
    >>> rater = [0, 1, 2, 3, 4, 5] * 3
    >>> value = [4, 4, 4, 4, 4, 4, 2, 2, 2, 5, 5, 5, 2, 3, 3, 3, 3, 5]
    >>> pk = cohen_kappa_pairs(unit, rater, value)
    >>> int(pk.kappa.size), pk.n_units.tolist()[:3]
    (15, [3, 3, 3])
    """
    data = long_ratings(unit, rater, None, value)
    u, r, v = data.unit, cast(IntArray, data.rater), data.value
    categories, code = category_codes(v, levels)
    n_cat = categories.size
    order = np.argsort(u, kind="stable")
    u, r, code = u[order], r[order], code[order]
    i, j = pairs_within(u)
    if i.size == 0:
        raise StatisticsError("ratings must have at least one unit rated by two raters")
    ra, rb, ca, cb = r[i], r[j], code[i], code[j]
    if (ra == rb).any():
        k = int(np.flatnonzero(ra == rb)[0])
        raise StatisticsError(
            f"each rater may rate a unit only once; rater code {ra[k]} rated unit code "
            f"{u[i[k]]} more than once"
        )
    swap = ra > rb
    ra, rb = np.where(swap, rb, ra), np.where(swap, ra, rb)
    ca, cb = np.where(swap, cb, ca), np.where(swap, ca, cb)
    n_r = int(rb.max()) + 1
    key = ra * n_r + rb
    if n_r * n_r <= 4 * key.size + (1 << 20):
        present = np.bincount(key, minlength=n_r * n_r) > 0
        keys = np.flatnonzero(present)
        pair = (np.cumsum(present) - 1)[key]
    else:
        keys, pair = np.unique(key, return_inverse=True)
    n_pairs = keys.size
    cells = np.bincount((pair * n_cat + ca) * n_cat + cb, minlength=n_pairs * n_cat * n_cat)
    tables = cells.reshape(n_pairs, n_cat, n_cat).astype(np.float64)
    kappa, po, _ = kappa_parts(tables, agreement_weights(categories, weights))
    return PairwiseKappa(
        keys // n_r,
        keys % n_r,
        tables.sum(axis=(1, 2)).astype(np.int64),
        kappa,
        po,
        weights,
    )


@dataclass(frozen=True)
class FleissKappa:
    """Fleiss' kappa (generalised to any number of ratings per unit), with standard errors.

    Attributes
    ----------
    kappa : float
        Kappa; NaN when chance agreement is 1 (a single category used).
    pa, pe : float
        Observed and chance agreement.
    se : float
        Standard error (Gwet 2014 linearisation; irrCAC ``fleiss.kappa.raw``), any design.
    se_h0 : float
        Standard error under H0: kappa = 0 (Fleiss, Nee & Landis 1979; R irr
        ``kappam.fleiss``). Defined for unweighted kappa when every unit has the same number of
        ratings; NaN otherwise.
    categories : ndarray, shape (C,)
    category_kappa : ndarray, shape (C,)
        Fleiss' (1971) kappa of each category against all others (NaN for a category no-one or
        every rating used); unweighted.
    n_units : int
        Units with at least one rating.
    weights : {'unweighted', 'linear', 'quadratic'}
    """

    kappa: float
    pa: float
    pe: float
    se: float
    se_h0: float
    categories: FloatArray
    category_kappa: FloatArray
    n_units: int
    weights: Weights

    @property
    def z(self) -> float:
        """``kappa / se_h0``, the statistic of irr's ``kappam.fleiss``."""
        return self.kappa / self.se_h0 if self.se_h0 > 0 else float("nan")

    def confidence_interval(self, confidence: float = 0.95) -> ConfidenceInterval:
        """Wald interval on ``se`` with Student's t on ``n_units - 1`` df, capped at 1 (irrCAC)."""
        return t_interval(self.kappa, self.se, self.n_units, confidence)


def fleiss_kappa(
    unit: ArrayLike,
    value: ArrayLike,
    *,
    weights: Weights = "unweighted",
    levels: ArrayLike | None = None,
) -> FleissKappa:
    r"""Fleiss' kappa, generalised to unequal numbers of ratings per unit (Gwet 2014).

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Unit codes; the raters may differ from unit to unit.
    value : array_like of float, shape (n,)
        Scores; NaN = missing.
    weights : {'unweighted', 'linear', 'quadratic'}
        Agreement weights on the category values (as :func:`cohen_kappa`).
    levels : array_like, shape (C,), optional
        Possible scores; default the scores observed.

    Returns
    -------
    FleissKappa

    Raises
    ------
    StatisticsError
        When no unit has two or more ratings.

    Notes
    -----
    Fleiss (1971) assumes every unit has the same number :math:`m` of ratings. The
    generalisation used here (Gwet 2014, ch. 2, "Fleiss' generalized kappa"; irrCAC
    ``fleiss.kappa.raw``) averages the observed agreement over the :math:`n'` units with two or
    more ratings and the category shares over the :math:`n` units with at least one:

    .. math::

        p_a = \frac{1}{n'} \sum_{u: m_u \ge 2}
              \frac{\sum_k n_{uk} (\sum_l w_{kl} n_{ul} - 1)}{m_u (m_u - 1)}, \quad
        \pi_k = \frac{1}{n} \sum_u \frac{n_{uk}}{m_u},

        p_e = \sum_{kl} w_{kl} \pi_k \pi_l, \quad \kappa = \frac{p_a - p_e}{1 - p_e}.

    With equal :math:`m_u` and identity weights this is exactly Fleiss' (1971) kappa (equal to
    Scott's pi for two ratings per unit). Category kappas: Fleiss (1971, eq. 11) kappa of the
    data dichotomised into category :math:`j` versus the rest. SE under H0 (Fleiss, Nee &
    Landis 1979), with :math:`p_j = \pi_j`:

    .. math::

        var_0(\kappa) = \frac{2}{n m (m - 1)}
        \frac{(\sum_j p_j q_j)^2 - \sum_j p_j q_j (q_j - p_j)}{(\sum_j p_j q_j)^2},
        \quad q_j = 1 - p_j.

    References
    ----------
    .. [1] Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
       Psychological Bulletin, 76(5), 378-382. doi:10.1037/h0031619
    .. [2] Fleiss, J. L., Nee, J. C. M., & Landis, J. R. (1979). Large sample variance of kappa
       in the case of different sets of raters. Psychological Bulletin, 86(5), 974-977.
       doi:10.1037/0033-2909.86.5.974
    .. [3] Gwet, K. L. (2014). Handbook of Inter-Rater Reliability (4th ed.). Gaithersburg, MD:
       Advanced Analytics. ISBN 978-0970806284.

    Examples
    --------
    With two ratings per unit Fleiss' kappa is Scott's pi: Gwet (2014) / irrCAC print 0.7962397
    for ``cont3x3abstractors`` (100 women, 2 abstractors, categories 1-3):

    >>> table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    >>> a = [k + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> b = [l + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> unit = list(range(100)) * 2
    >>> round(fleiss_kappa(unit, a + b).kappa, 7)
    0.7962397
    """
    table = tabulate(long_ratings(unit, None, None, value), levels=levels)
    return fleiss_kappa_from_table(table, weights=weights)


def fleiss_kappa_from_table(table: UnitTable, *, weights: Weights = "unweighted") -> FleissKappa:
    """:func:`fleiss_kappa` on tabulated ratings."""
    w = agreement_weights(table.categories, weights)
    f = table.multiplicity.astype(np.float64)
    kappa, pa, pe = (float(x) for x in fleiss_kappa_parts(table.counts, f, w))
    pi = category_prevalence(table.counts, f)
    m = table.ratings_per_unit
    pe_unit = (table.counts @ ((w @ pi + w.T @ pi) / 2.0)) / m
    se = np.sqrt(chance_corrected_variance(table.counts, table.multiplicity, w, kappa, pe, pe_unit))
    se_h0 = float("nan")
    if weights == "unweighted" and m.min() == m.max() >= 2 and pe < PE_ONE:
        nr, ns = float(m[0]), float(f.sum())
        pq = pi * (1.0 - pi)
        # [2], eq. 12 (as irr kappam.fleiss)
        spread = pq.sum()
        var0 = 2 / (ns * nr * (nr - 1)) * (spread**2 - (pq * (1 - 2 * pi)).sum()) / spread**2
        se_h0 = float(np.sqrt(var0))
    # Category kappas: generalised Fleiss kappa of each dichotomy j vs rest ([1], eq. 11).
    binary = np.stack([table.counts, m[:, None] - table.counts], axis=-1)  # (P, C, 2)
    category_kappa = np.array(
        [fleiss_kappa_parts(binary[:, j, :], f, np.eye(2))[0] for j in range(w.shape[0])],
        dtype=np.float64,
    )
    return FleissKappa(
        kappa, pa, pe, float(se), se_h0, table.categories, category_kappa, table.n_units, weights
    )


def fleiss_kappa_parts(
    counts: IntArray, unit_weights: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Generalised Fleiss kappa, ``pa`` and ``pe`` for one or many weightings of the patterns.

    Parameters
    ----------
    counts : ndarray of int, shape (P, C)
    unit_weights : ndarray, shape (..., P)
    weights : ndarray, shape (C, C)

    Returns
    -------
    kappa, pa, pe : ndarray, shape (...)
        NaN kappa where ``pe == 1``.
    """
    pa = observed_agreement(counts, unit_weights, weights)
    pi = category_prevalence(counts, unit_weights)
    pe = np.einsum("...k,kl,...l->...", pi, weights, pi)
    return chance_corrected(pa, pe), pa, pe
