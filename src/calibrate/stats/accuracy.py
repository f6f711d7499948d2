"""Accuracy against anchors, and agreement on pass decisions.

Anchors are submissions scored by expert consensus; an assessor's accuracy is how close their
scores of the anchors come to the expert scores. What the earner lives with is the pass decision,
so decisions are compared too: with the experts' (:func:`decision_accuracy`) and between two
assessors reading the same live submission (:func:`decision_agreement`).

- :func:`anchor_accuracy`: exact and adjacent agreement with the experts, mean signed deviation
  (severity) with a standard error clustered by anchor, mean absolute error and quadratic weighted
  kappa, for every group of ratings at once (per assessor, per criterion, per assessor x
  criterion, or all together: the grouping is an array of codes).
- :func:`decision_accuracy`: share of pass decisions agreeing with the experts' and counts of
  false passes and false fails, per group.
- :func:`decision_agreement`: percent agreement, Cohen's kappa and Gwet's AC1 on the pass/fail
  decisions of a first and a second reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibrate.errors import StatisticsError
from calibrate.stats._cluster import clustered_variance
from calibrate.stats._distributions import t_ppf
from calibrate.stats._input import codes, long_ratings, scores
from calibrate.stats._interval import ConfidenceIntervals
from calibrate.stats._tabulate import (
    FloatArray,
    IntArray,
    agreement_weights,
    category_codes,
)
from calibrate.stats.gwet import GwetAC, gwet_ac
from calibrate.stats.kappa import CohenKappa, cohen_kappa, kappa_parts

BoolArray = NDArray[np.bool_]

__all__ = [
    "AnchorAccuracy",
    "DecisionAccuracy",
    "DecisionAgreement",
    "anchor_accuracy",
    "decision_accuracy",
    "decision_agreement",
]


@dataclass(frozen=True)
class AnchorAccuracy:
    """Accuracy of ratings against expert scores, one entry per group of ratings.

    Every array has shape (G,), one entry per group code ``0 .. G-1``; a group without ratings
    has ``n == 0`` and NaN statistics.

    Attributes
    ----------
    n : ndarray of int64
        Ratings paired with an expert score.
    n_anchors : ndarray of int64
        Distinct anchors among them: the clusters of :attr:`se`.
    exact, adjacent : ndarray
        Shares of ratings equal to / at most one score point from the expert score.
    mean_deviation : ndarray
        Mean of rating minus expert score: negative = harsher than the experts (severe),
        positive = more lenient.
    se : ndarray
        Standard error of :attr:`mean_deviation`, clustered by anchor (see
        :func:`anchor_accuracy`); NaN with fewer than two anchors.
    mae : ndarray
        Mean absolute error, the mean of ``|rating - expert|``.
    qwk : ndarray
        Quadratic weighted kappa between the experts and the group's ratings (Cohen 1968);
        NaN where chance agreement is 1 (experts and ratings all in one and the same level).
    levels : ndarray, shape (C,)
        Score levels spanning the quadratic weights.
    """

    n: IntArray
    n_anchors: IntArray
    exact: FloatArray
    adjacent: FloatArray
    mean_deviation: FloatArray
    se: FloatArray
    mae: FloatArray
    qwk: FloatArray
    levels: FloatArray

    def confidence_interval(self, confidence: float = 0.95) -> ConfidenceIntervals:
        """Interval for :attr:`mean_deviation`: ``mean +- t * se``, Student's t on
        ``n_anchors - 1`` degrees of freedom (Cameron & Miller 2015); NaN below two anchors.

        Returns
        -------
        ConfidenceIntervals
            ``low``, ``high`` of shape (G,), one interval per group.
        """
        if not 0 < confidence < 1:
            raise StatisticsError(f"confidence must be between 0 and 1, got {confidence}")
        df = (self.n_anchors - 1).astype(np.float64)
        df[df < 1] = np.nan
        half = self.se * t_ppf(0.5 + confidence / 2, df)
        return ConfidenceIntervals(
            self.mean_deviation - half, self.mean_deviation + half, confidence
        )


def anchor_accuracy(
    unit: ArrayLike,
    group: ArrayLike,
    value: ArrayLike,
    expert: ArrayLike,
    *,
    n_groups: int | None = None,
    levels: ArrayLike | None = None,
) -> AnchorAccuracy:
    r"""Accuracy of ratings of anchors against the expert scores, per group of ratings.

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Anchor code of each rating (the rated unit; the clusters of the standard error).
    group : array_like of int, shape (n,)
        Group code of each rating, in the place of ``rater`` in the input contract: the
        assessor code for accuracy per assessor, the criterion code per criterion,
        ``assessor * n_criteria + criterion`` per assessor x criterion, zeros for all ratings
        together.
    value : array_like of float, shape (n,)
        The assessors' scores.
    expert : array_like of float, shape (n,)
        The expert score of the same anchor and criterion.
    n_groups : int, optional
        Number of groups ``G`` (default: largest group code + 1).
    levels : array_like, shape (C,), optional
        The rubric's level scores; they span the quadratic weights. Default: the scores seen in
        ``value`` and ``expert`` together (the same weights for every group).

    Returns
    -------
    AnchorAccuracy

    Raises
    ------
    StatisticsError
        No rating, arrays of different lengths, codes that are not non-negative integers, scores
        that are not finite or not among ``levels``.

    Notes
    -----
    With :math:`d_i = x_i - e_i` the deviation of rating :math:`i` from the expert score, a
    group's statistics are :math:`\bar d = \frac{1}{N} \sum_i d_i` (mean signed deviation),
    :math:`\frac{1}{N} \sum_i |d_i|` (mean absolute error) and the shares of :math:`d_i = 0`
    (exact) and :math:`|d_i| \le 1` (adjacent; rubric levels are consecutive integers).

    Ratings of one anchor are not independent (an assessor's halo across its criteria; an
    anchor whose expert scores every assessor reads differently), so the standard error of
    :math:`\bar d` treats anchors as clusters: with :math:`D_a` and :math:`n_a` the sum of
    deviations and the number of ratings on anchor :math:`a`, and :math:`A` anchors,

    .. math::

        \widehat{var}(\bar d) = \frac{A}{A - 1} \frac{1}{N^2}
            \sum_a (D_a - \bar d\, n_a)^2,

    the cluster-robust (sandwich) variance of a mean, i.e. of the intercept of a regression of
    :math:`d` on a constant, with the usual :math:`A / (A - 1)` factor for few clusters
    (Cameron & Miller 2015). It is the analytic counterpart of a bootstrap over anchors; with
    one rating per anchor (one assessor, one criterion) it is the :math:`s^2 / N` of the
    ordinary t interval over ratings. Intervals use Student's t on :math:`A - 1` degrees of
    freedom, as Cameron & Miller recommend with few clusters
    (:meth:`AnchorAccuracy.confidence_interval`).

    Quadratic weighted kappa (Cohen 1968) takes the expert scores as rater A and the group's
    ratings as rater B, with weights :math:`1 - (x_k - x_l)^2 / (x_{max} - x_{min})^2` on
    ``levels`` (formula in :func:`~calibrate.stats.kappa.cohen_kappa`, whose tables are built
    here for every group in one pass). Operational scoring programmes flag human scoring with
    quadratic weighted kappa below .70, exact agreement below 50%, adjacent agreement below 95%
    or a standardized mean difference beyond .15 (Williamson, Xi & Breyer 2012).

    References
    ----------
    .. [1] Cohen, J. (1968). Weighted kappa. Psychological Bulletin, 70(4), 213-220.
       doi:10.1037/h0026256
    .. [2] Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
       inference. Journal of Human Resources, 50(2), 317-372. doi:10.3368/jhr.50.2.317
    .. [3] Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and
       use of automated scoring. Educational Measurement: Issues and Practice, 31(1), 2-13.
       doi:10.1111/j.1745-3992.2011.00223.x

    Examples
    --------
    Gwet (2014) / irrCAC ``cont3x3abstractors`` read as 100 anchors, abstractor 1 the expert and
    abstractor 2 one assessor: exact agreement 0.89 and quadratic weighted kappa 0.8921569 as
    published; abstractor 2 is slightly lenient (7 scores one level above the expert's, 4 below).

    >>> table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    >>> e = [k + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> x = [l + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> acc = anchor_accuracy(range(100), [0] * 100, x, e)
    >>> acc.exact.tolist(), round(float(acc.qwk[0]), 7), acc.mean_deviation.tolist()
    ([0.89], 0.8921569, [0.03])
    """
    data = long_ratings(unit, None, None, value, missing="refuse")
    a, v = data.unit, data.value
    g = codes(group, "group", a.size)
    e = scores(expert, "expert", a.size)
    if g.size == 0:
        raise StatisticsError("ratings must hold at least one rating paired with an expert score")
    n_g = _n_groups(g, n_groups)
    d = v - e
    n = np.bincount(g, minlength=n_g)
    with np.errstate(invalid="ignore", divide="ignore"):
        exact = np.bincount(g, weights=d == 0, minlength=n_g) / n
        adjacent = np.bincount(g, weights=np.abs(d) <= 1, minlength=n_g) / n
        mean_deviation = np.bincount(g, weights=d, minlength=n_g) / n
        mae = np.bincount(g, weights=np.abs(d), minlength=n_g) / n
    # Cluster-robust variance of the mean [2], with the A / (A - 1) factor.
    var, n_anchors = clustered_variance(g, a, d - mean_deviation[g], n_g)
    categories, code = category_codes(np.concatenate([e, v]), levels)
    n_cat = categories.size
    tables = np.bincount(
        (g * n_cat + code[: g.size]) * n_cat + code[g.size :], minlength=n_g * n_cat * n_cat
    ).reshape(n_g, n_cat, n_cat)
    qwk = kappa_parts(tables.astype(np.float64), agreement_weights(categories, "quadratic"))[0]
    return AnchorAccuracy(
        n=n.astype(np.int64),
        n_anchors=n_anchors.astype(np.int64),
        exact=exact,
        adjacent=adjacent,
        mean_deviation=mean_deviation,
        se=np.sqrt(var),
        mae=mae,
        qwk=np.asarray(qwk, dtype=np.float64),
        levels=categories,
    )


@dataclass(frozen=True)
class DecisionAccuracy:
    """Pass decisions compared with the experts' decisions, one entry per group.

    Every array has shape (G,).

    Attributes
    ----------
    n : ndarray of int64
        Decisions compared.
    accuracy : ndarray
        Share of decisions equal to the experts' (NaN where ``n == 0``).
    false_pass : ndarray of int64
        Decisions "pass" where the experts' decision is "not yet".
    false_fail : ndarray of int64
        Decisions "not yet" where the experts' decision is "pass".
    """

    n: IntArray
    accuracy: FloatArray
    false_pass: IntArray
    false_fail: IntArray


def decision_accuracy(
    group: ArrayLike,
    decision: ArrayLike,
    expert: ArrayLike,
    *,
    n_groups: int | None = None,
) -> DecisionAccuracy:
    """Agreement of pass decisions with the experts' decisions, per group.

    Parameters
    ----------
    group : array_like of int, shape (m,)
        Group code of each decision (e.g. the assessor).
    decision : array_like of bool, shape (m,)
        ``True`` = pass, from the pass rule applied to one reading of an anchor (every criterion
        scored).
    expert : array_like of bool, shape (m,)
        The pass rule applied to the expert scores of the same anchor.
    n_groups : int, optional
        Number of groups ``G`` (default: largest group code + 1).

    Returns
    -------
    DecisionAccuracy

    Raises
    ------
    StatisticsError
        Arrays of different lengths, decisions that are not booleans (or 0/1), bad group codes.

    Notes
    -----
    A false pass credits an earner the experts would not; a false fail sends back work the
    experts would pass. Criterion-level agreement does not bound decision accuracy: under a
    conjunctive rule, one criterion scored one level low on an anchor at the pass boundary
    turns a pass into "not yet" while still counting as adjacent agreement.

    Examples
    --------
    Assessor 0 passes 3 anchors out of 4, one of which the experts fail; assessor 1 fails the
    one anchor the experts pass:

    >>> acc = decision_accuracy([0, 0, 0, 0, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 1])
    >>> acc.accuracy.tolist(), acc.false_pass.tolist(), acc.false_fail.tolist()
    ([0.75, 0.0], [1, 0], [0, 1])
    """
    passed = _decisions(decision, "decision")
    truth = _decisions(expert, "expert")
    if passed.shape != truth.shape:
        raise StatisticsError(
            f"decision and expert must have the same shape, got {passed.shape} and {truth.shape}"
        )
    g = codes(group, "group", passed.size, like="decision")
    n_g = _n_groups(g, n_groups)
    n = np.bincount(g, minlength=n_g)
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.bincount(g, weights=passed == truth, minlength=n_g) / n
    return DecisionAccuracy(
        n=n.astype(np.int64),
        accuracy=accuracy,
        false_pass=np.bincount(g[passed & ~truth], minlength=n_g).astype(np.int64),
        false_fail=np.bincount(g[~passed & truth], minlength=n_g).astype(np.int64),
    )


@dataclass(frozen=True)
class DecisionAgreement:
    """Agreement on pass/fail between a first and a second reading of the same submissions.

    Attributes
    ----------
    n : int
        Submissions with both decisions.
    percent : float
        Share of submissions with the same decision.
    n_discrepant : int
        Submissions with different decisions (candidates for adjudication).
    kappa : CohenKappa
        Cohen's (1960) kappa, first reading (rows) against second (columns); NaN when chance
        agreement is 1 (both readings pass, or fail, everything).
    ac1 : GwetAC
        Gwet's (2008) AC1 on the two categories pass and not yet.
    """

    n: int
    percent: float
    n_discrepant: int
    kappa: CohenKappa
    ac1: GwetAC

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: ``n``, ``percent``, ``n_discrepant``, ``cohen_kappa``, ``gwet_ac1``,
        and their 95% intervals as ``cohen_kappa_ci`` and ``gwet_ac1_ci`` (``[low, high]``)."""
        return {
            "n": self.n,
            "percent": self.percent,
            "n_discrepant": self.n_discrepant,
            "cohen_kappa": self.kappa.kappa,
            "cohen_kappa_ci": self.kappa.confidence_interval().to_list(),
            "gwet_ac1": self.ac1.coefficient,
            "gwet_ac1_ci": self.ac1.confidence_interval().to_list(),
        }


def decision_agreement(first: ArrayLike, second: ArrayLike) -> DecisionAgreement:
    r"""Agreement between two readings' pass decisions: percent, Cohen's kappa, Gwet's AC1.

    Parameters
    ----------
    first, second : array_like of bool, shape (n,)
        Pass (``True``) or not yet, of the first and the second reading of each double-scored
        submission.

    Returns
    -------
    DecisionAgreement

    Raises
    ------
    StatisticsError
        No submission, arrays of different lengths, decisions that are not booleans (or 0/1).

    Notes
    -----
    The decisions are scored 1 (pass) and 0 (not yet) and handed to the agreement functions:
    :func:`~calibrate.stats.kappa.cohen_kappa` (first reading as rater A, second as rater B, as
    operational programmes report human 1 against human 2) and
    :func:`~calibrate.stats.gwet.gwet_ac` with both categories possible; the percent agreement
    is AC1's observed agreement :math:`p_a`, the number
    :func:`~calibrate.stats.percent_agreement.percent_agreement` returns. When nearly every
    submission passes, kappa can be low or undefined despite high agreement (the "kappa
    paradox"); AC1 stays close to the percent agreement (Gwet 2008). Criterion agreement can
    hide decision disagreement: two readings within one level on every criterion disagree on the
    decision whenever one of them falls below the pass level on any criterion the rule needs.

    References
    ----------
    .. [1] Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and
       Psychological Measurement, 20(1), 37-46. doi:10.1177/001316446002000104
    .. [2] Gwet, K. L. (2008). Computing inter-rater reliability and its variance in the
       presence of high agreement. British Journal of Mathematical and Statistical Psychology,
       61(1), 29-48. doi:10.1348/000711006X126600

    Examples
    --------
    Ten submissions, eight passed by both readings, one by the first only, one by neither:
    :math:`p_o = 0.9`; margins (0.9, 0.1) and (0.8, 0.2) give
    :math:`p_e = 0.9 \cdot 0.8 + 0.1 \cdot 0.2 = 0.74` and :math:`\kappa = 0.16 / 0.26`;
    prevalence of pass :math:`\pi = 0.85` gives :math:`p_e = 2 \cdot 0.85 \cdot 0.15 = 0.255` and
    AC1 :math:`= 0.645 / 0.745`.

    >>> agree = decision_agreement([1] * 9 + [0], [1] * 8 + [0, 0])
    >>> agree.percent, agree.n_discrepant
    (0.9, 1)
    >>> round(agree.kappa.kappa, 4), round(agree.ac1.coefficient, 4)
    (0.6154, 0.8658)
    """
    a = _decisions(first, "first")
    b = _decisions(second, "second")
    if a.ndim != 1 or a.shape != b.shape:
        raise StatisticsError(
            f"first and second must be 1-D arrays of equal length, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        raise StatisticsError("decisions must cover at least one submission read twice")
    unit = np.tile(np.arange(a.size), 2)
    value = np.concatenate([a, b]).astype(np.float64)
    both = [0.0, 1.0]
    ac1 = gwet_ac(unit, value, levels=both)
    return DecisionAgreement(
        n=int(a.size),
        percent=ac1.pa,  # AC1's observed agreement is the percent agreement (Gwet 2014, eq. 2.9)
        n_discrepant=int((a != b).sum()),
        kappa=cohen_kappa(a.astype(np.float64), b.astype(np.float64), levels=both),
        ac1=ac1,
    )


def _decisions(x: ArrayLike, name: str) -> BoolArray:
    arr = np.asarray(x)
    if arr.dtype != np.bool_ and (arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all()):
        raise StatisticsError(f"{name} must hold pass decisions: booleans, or 1 and 0")
    return arr.astype(np.bool_)


def _n_groups(g: IntArray, n_groups: int | None) -> int:
    top = int(g.max()) + 1 if g.size else 0
    if n_groups is None:
        return top
    if n_groups < top:
        raise StatisticsError(f"n_groups ({n_groups}) must exceed every group code (max {top - 1})")
    return n_groups
