"""Agreement among assessors: one summary of every agreement statistic, with bootstrap intervals.

:func:`summarize` is the entry point used by the CLI and the dashboard. The statistics live in
their family modules and are re-exported here:

- percent agreement: :mod:`calibrate.stats.percent_agreement`
- Cohen's and Fleiss' kappa: :mod:`calibrate.stats.kappa`
- Krippendorff's alpha: :mod:`calibrate.stats.alpha`
- Gwet's AC1/AC2: :mod:`calibrate.stats.gwet`
- intraclass correlations: :mod:`calibrate.stats.icc`
- bootstrap over units: :mod:`calibrate.stats.resample`
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

import numpy as np
from numpy.typing import ArrayLike

from calibrate.errors import StatisticsError
from calibrate.stats._input import Progress, long_ratings, scores
from calibrate.stats._interval import ConfidenceInterval
from calibrate.stats._tabulate import (
    FloatArray,
    IntArray,
    UnitTable,
    Weights,
    agreement_weights,
    distinct_codes,
    tabulate,
)
from calibrate.stats.alpha import (
    ALPHA_LEVELS,
    AlphaLevel,
    Coincidences,
    alphas_of_coincidences,
    coincidence_matrix,
    coincidences,
    krippendorff_alpha,
)
from calibrate.stats.gwet import GwetAC, gwet_ac, gwet_ac_parts
from calibrate.stats.icc import ICC, ICC_FORMS, ICCForm, icc
from calibrate.stats.kappa import (
    CohenKappa,
    FleissKappa,
    PairwiseKappa,
    cohen_kappa,
    cohen_kappa_pairs,
    fleiss_kappa,
    fleiss_kappa_parts,
    kappa_parts,
)
from calibrate.stats.percent_agreement import (
    observed_agreement,
    percent_agreement,
    within_weights,
)
from calibrate.stats.resample import BootstrapInterval, Seed, bootstrap_units

__all__ = [
    "ALPHA_LEVELS",
    "ICC",
    "ICC_FORMS",
    "AgreementSummary",
    "AlphaLevel",
    "BootstrapInterval",
    "CohenKappa",
    "Coincidences",
    "ConfidenceInterval",
    "FleissKappa",
    "GwetAC",
    "ICCForm",
    "PairwiseKappa",
    "Progress",
    "Weights",
    "cohen_kappa",
    "cohen_kappa_pairs",
    "coincidence_matrix",
    "fleiss_kappa",
    "gwet_ac",
    "icc",
    "krippendorff_alpha",
    "percent_agreement",
    "standardized_mean_difference",
    "summarize",
]

WeightedScheme = Literal["linear", "quadratic"]
WEIGHTED: tuple[WeightedScheme, ...] = get_args(WeightedScheme)
KAPPA_WEIGHTS: tuple[Weights, ...] = get_args(Weights)


def standardized_mean_difference(x: ArrayLike, y: ArrayLike) -> float:
    r"""Standardized mean difference between two raters' scores of the same units.

    Parameters
    ----------
    x, y : array_like of float, shape (n,)
        Paired scores; a unit missing (NaN) in either is dropped.

    Returns
    -------
    float
        :math:`(\bar y - \bar x) / \sqrt{(s_x^2 + s_y^2) / 2}` with sample (n - 1) variances:
        positive when ``y`` scores higher. NaN when both raters' scores are constant (no
        spread to standardise by).

    Raises
    ------
    StatisticsError
        With fewer than two units scored by both.

    Notes
    -----
    Pooled-SD form used for human-human comparisons by ETS's RSMTool; flag when
    :math:`|SMD| > 0.15` (Williamson, Xi & Breyer 2012).

    References
    ----------
    .. [1] Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and use
       of automated scoring. Educational Measurement: Issues and Practice, 31(1), 2-13.
       doi:10.1111/j.1745-3992.2011.00223.x

    Examples
    --------
    >>> round(standardized_mean_difference([1, 2, 3, 4], [2, 3, 4, 5]), 4)
    0.7746
    """
    a = scores(x, "x", allow_nan=True)
    b = scores(y, "y", a.size, like="x", allow_nan=True)
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    if a.size < 2:
        raise StatisticsError("x and y must have at least two units scored by both raters")
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2.0)
    return float((b.mean() - a.mean()) / pooled) if pooled > 0 else float("nan")


@dataclass(frozen=True)
class AgreementSummary:
    """Every agreement statistic of one set of ratings (one criterion, or pooled).

    ``to_dict()`` gives the JSON object of ``calibrate agreement --json``; its keys are the
    attribute names below. NaN (JSON ``null``) marks a statistic undefined on these data.

    Attributes
    ----------
    n_units : int
        Units (submission x criterion) with at least one rating.
    n_raters : int
        Distinct raters.
    n_ratings : int
        Non-missing ratings.
    percent_exact : float
        Share of pairs of ratings within a unit that are equal, averaged over units rated two
        or more times (:func:`percent_agreement`).
    percent_adjacent : float
        Same, counting pairs at most one score point apart as agreeing.
    krippendorff_alpha : dict
        Alpha for ``nominal``, ``ordinal``, ``interval`` and ``ratio`` data
        (:func:`krippendorff_alpha`).
    gwet_ac1 : float
        Gwet's AC1 (:func:`gwet_ac`).
    gwet_ac2 : dict
        Gwet's AC2 with ``linear`` and ``quadratic`` weights on the score values.
    fleiss_kappa : float
        Fleiss' kappa, generalised to unequal numbers of ratings per unit
        (:func:`fleiss_kappa`); NaN when one category holds every rating.
    cohen_kappa : dict or None
        Only with exactly two raters: Cohen's kappa ``unweighted``, ``linear``, ``quadratic``
        (:func:`cohen_kappa`), over the units both rated.
    standardized_mean_difference : float or None
        Only with exactly two raters: second rater (larger code) minus first, in pooled SDs
        (:func:`standardized_mean_difference`).
    icc : ICC or None
        Only for complete designs (every rater scored every unit): the six Shrout & Fleiss
        ICCs (:func:`icc`).
    ci : dict of str to BootstrapInterval, or None
        With ``n_boot > 0``: percentile bootstrap intervals over units, keyed by the dotted name
        of the statistic (``"krippendorff_alpha.ordinal"``, ``"gwet_ac1"``...); every
        statistic above except ``standardized_mean_difference`` and ``icc`` (whose F-based
        intervals are :meth:`ICC.confidence_interval`).
    levels : ndarray, shape (C,)
        Score categories the statistics used.
    """

    n_units: int
    n_raters: int
    n_ratings: int
    percent_exact: float
    percent_adjacent: float
    krippendorff_alpha: dict[AlphaLevel, float]
    gwet_ac1: float
    gwet_ac2: dict[WeightedScheme, float]
    fleiss_kappa: float
    cohen_kappa: dict[Weights, float] | None
    standardized_mean_difference: float | None
    icc: ICC | None
    ci: dict[str, BootstrapInterval] | None
    levels: FloatArray

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: scalars, nested objects per statistic family, ``ci`` as
        ``[low, high]`` lists nested the same way. Keys absent where the statistic does not
        apply (``cohen_kappa``, ``standardized_mean_difference``, ``icc``, ``ci``).
        """
        out: dict[str, Any] = {
            "n_units": self.n_units,
            "n_raters": self.n_raters,
            "n_ratings": self.n_ratings,
            "percent_exact": self.percent_exact,
            "percent_adjacent": self.percent_adjacent,
            "krippendorff_alpha": dict(self.krippendorff_alpha),
            "gwet_ac1": self.gwet_ac1,
            "gwet_ac2": dict(self.gwet_ac2),
            "fleiss_kappa": self.fleiss_kappa,
        }
        if self.cohen_kappa is not None:
            out["cohen_kappa"] = dict(self.cohen_kappa)
        if self.standardized_mean_difference is not None:
            out["standardized_mean_difference"] = self.standardized_mean_difference
        if self.icc is not None:
            out["icc"] = self.icc.to_dict()
        if self.ci is not None:
            nested: dict[str, Any] = {}
            for name, interval in self.ci.items():
                family, _, variant = name.partition(".")
                if variant:
                    nested.setdefault(family, {})[variant] = interval.to_list()
                else:
                    nested[family] = interval.to_list()
            out["ci"] = nested
        return out


def summarize(
    unit: ArrayLike,
    rater: ArrayLike,
    value: ArrayLike,
    *,
    levels: ArrayLike | None = None,
    n_boot: int = 0,
    seed: Seed = None,
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> AgreementSummary:
    """All agreement statistics of a set of ratings, with optional bootstrap intervals.

    Parameters
    ----------
    unit, rater : array_like of int, shape (n,)
        Unit (submission x criterion) and rater codes.
    value : array_like of float, shape (n,)
        Scores; NaN = missing.
    levels : array_like, shape (C,), optional
        The rubric's level scores; default the scores observed. They set the number of
        categories of AC1/AC2 and the span of the linear/quadratic weights.
    n_boot : int
        Bootstrap resamples of units for the intervals in ``ci`` (0: none).
    seed : int, numpy.random.Generator or None
        Seed of the bootstrap; the same seed gives the same intervals.
    confidence : float
        Coverage of the intervals.
    progress : callable, optional
        ``progress(done, n_boot, "bootstrap")`` during the bootstrap
        (:data:`~calibrate.stats.Progress`).

    Returns
    -------
    AgreementSummary

    Raises
    ------
    StatisticsError
        When no unit is rated twice, a rater rated a unit twice, or an argument is invalid.

    Notes
    -----
    All count-based statistics (percent agreement, alpha, AC1/AC2, Fleiss' and, for two raters,
    Cohen's kappa) are evaluated from one tabulation of the ratings into unit patterns, for
    the data and for every resample alike (:func:`~calibrate.stats.resample.bootstrap_units`).

    Examples
    --------
    Two raters, five units, 1-3 scale:

    >>> s = summarize([0, 0, 1, 1, 2, 2, 3, 3, 4, 4], [0, 1] * 5, [1, 1, 2, 2, 3, 2, 1, 1, 3, 3])
    >>> s.percent_exact, round(s.krippendorff_alpha["interval"], 3), s.to_dict()["n_raters"]
    (0.8, 0.87, 2)
    """
    data = long_ratings(unit, rater, None, value)
    u, r, v = data.unit, cast(IntArray, data.rater), data.value
    table = tabulate(data, levels=levels)
    if not (table.ratings_per_unit >= 2).any():
        raise StatisticsError("ratings must have at least one unit rated by two assessors")
    n_raters = int(distinct_codes(r).size)
    point = {
        name: float(v)
        for name, v in _statistics(table, table.multiplicity.astype(np.float64)).items()
    }
    ci = None
    if n_boot > 0:
        ci = bootstrap_units(
            table.multiplicity,
            lambda w: _statistics(table, w),
            n_boot=n_boot,
            seed=seed,
            confidence=confidence,
            progress=progress,
        )
    two = table.pair_cell is not None
    smd = _two_rater_smd(u, r, v) if two else None
    complete = table.n_ratings == table.n_units * n_raters and table.n_units >= 2
    return AgreementSummary(
        n_units=table.n_units,
        n_raters=n_raters,
        n_ratings=table.n_ratings,
        percent_exact=point["percent_exact"],
        percent_adjacent=point["percent_adjacent"],
        krippendorff_alpha={lv: point[f"krippendorff_alpha.{lv}"] for lv in ALPHA_LEVELS},
        gwet_ac1=point["gwet_ac1"],
        gwet_ac2={w: point[f"gwet_ac2.{w}"] for w in WEIGHTED},
        fleiss_kappa=point["fleiss_kappa"],
        cohen_kappa={w: point[f"cohen_kappa.{w}"] for w in KAPPA_WEIGHTS} if two else None,
        standardized_mean_difference=smd,
        icc=icc(u, r, v) if complete and n_raters >= 2 else None,
        ci=ci,
        levels=table.categories,
    )


def _two_rater_smd(u: IntArray, r: IntArray, v: FloatArray) -> float:
    first, second = np.unique(r)
    n_units = int(u.max()) + 1
    scores = np.full((2, n_units), np.nan)
    scores[0, u[r == first]] = v[r == first]
    scores[1, u[r == second]] = v[r == second]
    both = ~np.isnan(scores).any(axis=0)
    if both.sum() < 2:
        return float("nan")
    return standardized_mean_difference(scores[0, both], scores[1, both])


def _statistics(table: UnitTable, w: FloatArray) -> dict[str, FloatArray]:
    """Every count-based statistic for unit-pattern weightings ``w`` (..., P)."""
    counts, cats = table.counts, table.categories
    out: dict[str, FloatArray] = {
        "percent_exact": observed_agreement(counts, w, within_weights(cats, 0.0)),
        "percent_adjacent": observed_agreement(counts, w, within_weights(cats, 1.0)),
    }
    for level, alpha in alphas_of_coincidences(coincidences(counts, w), cats).items():
        out[f"krippendorff_alpha.{level}"] = alpha
    out["gwet_ac1"] = gwet_ac_parts(counts, w, agreement_weights(cats, "unweighted"))[0]
    for scheme in WEIGHTED:
        out[f"gwet_ac2.{scheme}"] = gwet_ac_parts(counts, w, agreement_weights(cats, scheme))[0]
    out["fleiss_kappa"] = fleiss_kappa_parts(counts, w, agreement_weights(cats, "unweighted"))[0]
    if table.pair_cell is not None:
        n_cat = cats.size
        rated_by_both = table.pair_cell >= 0
        cells = np.zeros((table.pair_cell.size, n_cat * n_cat))
        cells[np.flatnonzero(rated_by_both), table.pair_cell[rated_by_both]] = 1.0
        tables = (w @ cells).reshape(*w.shape[:-1], n_cat, n_cat)
        for scheme_k in KAPPA_WEIGHTS:
            weights = agreement_weights(cats, scheme_k)
            out[f"cohen_kappa.{scheme_k}"] = kappa_parts(tables, weights)[0]
    return out
