r"""Rater effects beyond overall severity, conditional on a random-effects many-facet Rasch fit.

Given a fit of :func:`calibrate.stats.severity.fit_severity` and its ratings, every statistic
here holds the fitted severities, difficulties, thresholds and submission population fixed and
integrates each submission's ability over its posterior (the fit's quadrature nodes), as the
fit's infit and outfit do:

- :func:`rating_moments`: each rating's expected score, its model variance and the expected
  cumulative threshold :math:`\Psi_k` of its category, integrated over the posterior.
- :func:`local_shift`: the additional severity (logits) of a group of one assessor's ratings,
  e.g. assessor x criterion (differential severity, FACETS' bias/interaction terms) or assessor x
  time window (drift); positive = more severe, as FACETS orients severities.
- :func:`scale_spread`: a multiplier :math:`\lambda` of the thresholds for a group of one
  assessor's ratings; :math:`\lambda > 1` stretches them apart (central tendency, restricted
  range), :math:`\lambda < 1` squeezes them (extreme scores).
- :func:`mean_squares` and :func:`mean_square_intervals`: infit/outfit mean squares with
  model-based degrees of freedom, intervals, ZSTD and one-sided p values against the bounds of
  the productive range.

Every estimate comes with a standard error and its evidence (ratings and submissions) so that
a flags layer can test "the interval lies beyond a tolerance" and control the false discovery
rate over many assessors; the tests check by simulation that the standard errors are honest.

Each group's parameter :math:`\phi_g` enters the log-numerator of category :math:`k` of its
ratings as :math:`k\eta - \Psi_k - \phi_g a_k`, with :math:`a_k = k` (a shift of the location)
or :math:`a_k = \Psi_k` (:math:`\lambda_g = 1 + \phi_g`). Its marginal log-likelihood, with
every other rating at the fit and each submission's ability integrated out, is maximised by
Newton's method with Louis' observed information ([4]_):

.. math:: U_g = \sum_{n} E_{\theta\mid x,\phi}\Big[\sum_{r\in g,n} E_r[a]\Big] - \sum_{r\in g}
          a_{x_r}, \qquad
          I_g = \sum_n E_{\theta\mid x,\phi}\Big[\sum_{r\in g,n}\mathrm{Var}_r[a]\Big]
          - \mathrm{Var}_{\theta\mid x,\phi}\Big[\sum_{r\in g,n}E_r[a]\Big],

the posterior of submission :math:`n` updated for the group's parameter at each step.

References
----------
.. [1] Linacre, J. M. (2023). *A user's guide to FACETS: Rasch-model computer programs*
   (program manual 3.86). Winsteps.com. "Bias/interaction analysis" (Table 13-14).
.. [2] Myford, C. M., & Wolfe, E. W. (2003). Detecting and measuring rater effects using
   many-facet Rasch measurement: Part I. *Journal of Applied Measurement, 4*(4), 386-422.
.. [3] Myford, C. M., & Wolfe, E. W. (2004). Detecting and measuring rater effects using
   many-facet Rasch measurement: Part II. *Journal of Applied Measurement, 5*(2), 189-227.
.. [4] Louis, T. A. (1982). Finding the observed information matrix when using the EM
   algorithm. *Journal of the Royal Statistical Society, Series B, 44*(2), 226-233.
.. [5] Wolfe, E. W., & McVay, A. (2012). Application of latent trait models to identifying
   substantively interesting raters. *Educational Measurement: Issues and Practice, 31*(3),
   31-37.
.. [6] Wright, B. D., & Masters, G. N. (1982). *Rating scale analysis*. Chicago: MESA Press.
   Chapter 5 (fit mean squares, their variances and the cube-root standardisation).
.. [7] Wright, B. D., & Linacre, J. M. (1994). Reasonable mean-square fit values. *Rasch
   Measurement Transactions, 8*(3), 370.
.. [8] Wilson, E. B., & Hilferty, M. M. (1931). The distribution of chi-square. *Proceedings
   of the National Academy of Sciences, 17*(12), 684-688.
.. [9] Andrich, D. (1978). A rating formulation for ordered response categories.
   *Psychometrika, 43*(4), 561-573.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse, stats

from calibrate.errors import StatisticsError
from calibrate.stats._distributions import norm_ppf
from calibrate.stats._interval import ConfidenceIntervals
from calibrate.stats.severity import (
    W_FLOOR,
    RatingPosterior,
    SeverityResult,
    category_tables,
    rating_posterior,
)

__all__ = [
    "GroupEstimates",
    "MeanSquareTest",
    "MeanSquares",
    "RatingMoments",
    "local_shift",
    "mean_square_intervals",
    "mean_squares",
    "rating_moments",
    "scale_spread",
    "score_shift",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MAX_ITER = 50
"""Default most Newton iterations of :func:`local_shift` and :func:`scale_spread`."""
TOL = 1e-4
"""Default convergence: largest Newton step of any group (logits, or units of lambda); Newton
converges quadratically, so the estimates are then good to about ``TOL**2``."""

_MAX_STEP = 1.0  # largest Newton step
_CHUNK = 1 << 20  # floats per (rows x nodes) block
_NEGLIGIBLE = 1e-13  # posterior node weight left out of the window


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RatingMoments:
    """Posterior-integrated moments of every rating, in input order. Arrays of shape (n,).

    Attributes
    ----------
    expected : ndarray
        Expected score (in the input's score units), :math:`E_{\\theta\\mid x}[E_r(\\theta)]`.
    variance : ndarray
        Model variance of the score, :math:`E_{\\theta\\mid x}[W_r(\\theta)]` (the infit
        denominator's term).
    expected_psi : ndarray
        Expected cumulative threshold of the category, :math:`E_{\\theta\\mid
        x}[E_r(\\Psi_k)]` (logits); :math:`\\sum (E[\\Psi] - \\Psi_x)` is the score of
        :func:`scale_spread`.
    """

    expected: FloatArray
    variance: FloatArray
    expected_psi: FloatArray


@dataclass(frozen=True)
class GroupEstimates:
    """Per-group rater effect of :func:`local_shift` or :func:`scale_spread`. Arrays of shape
    (G,), indexed by group code.

    Attributes
    ----------
    estimate : ndarray
        The shift (logits, positive = more severe) or the threshold multiplier lambda; NaN for
        a group without ratings or whose ratings all sit where the estimate is infinite.
    se : ndarray
        Standard error, allowing for the assessor's severity being fitted to the same ratings.
    t : ndarray
        ``(estimate - null) / se``.
    null : float
        The value of no effect: 0 (shift) or 1 (lambda).
    n, n_submissions : ndarray of int64
        Ratings and distinct submissions in the group.
    assessor : ndarray of int64
        The code of the group's assessor (-1 for an empty group).
    converged : bool
        Whether every group's Newton iterations converged.
    """

    estimate: FloatArray
    se: FloatArray
    t: FloatArray
    null: float
    n: IntArray
    n_submissions: IntArray
    assessor: IntArray
    converged: bool

    def __len__(self) -> int:
        return int(self.estimate.size)

    def confidence_interval(self, level: float = 0.95) -> ConfidenceIntervals:
        """Wald intervals ``estimate -+ z se`` at coverage ``level``."""
        _check_level(level)
        half = float(norm_ppf(0.5 + level / 2)) * self.se
        return ConfidenceIntervals(self.estimate - half, self.estimate + half, level)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of lists (NaN stays NaN)."""
        return {
            "estimate": self.estimate.tolist(),
            "se": self.se.tolist(),
            "t": self.t.tolist(),
            "null": self.null,
            "n": self.n.tolist(),
            "n_submissions": self.n_submissions.tolist(),
            "assessor": self.assessor.tolist(),
            "converged": self.converged,
        }


@dataclass(frozen=True)
class MeanSquares:
    """Infit and outfit mean squares of each assessor with their model degrees of freedom.
    Arrays of shape (J,), in the fit's assessor order.

    Attributes
    ----------
    code : ndarray of int64
        Assessor codes.
    infit, outfit : ndarray
        Posterior-integrated mean squares (as :func:`~calibrate.stats.severity.fit_severity`).
    infit_df, outfit_df : ndarray
        Degrees of freedom ``2 / Var(MS)`` of the chi-square approximation
        ``MS ~ chi2(df) / df`` (Notes of :func:`mean_squares`).
    n, n_submissions : ndarray of int64
        Ratings and distinct submissions of each assessor.
    """

    code: IntArray
    infit: FloatArray
    outfit: FloatArray
    infit_df: FloatArray
    outfit_df: FloatArray
    n: IntArray
    n_submissions: IntArray


@dataclass(frozen=True)
class MeanSquareTest:
    """Intervals and tests of mean squares against the productive range. Arrays of shape (G,).

    Attributes
    ----------
    estimate, df : ndarray
        The mean squares and their degrees of freedom, as given.
    interval : ConfidenceIntervals
        Interval for the expected mean square (the noise ratio) at ``interval.level``.
    zstd : ndarray
        Wilson-Hilferty standardised mean square (FACETS' ZSTD), N(0, 1) under the model.
    p_above : ndarray
        One-sided p value that the expected mean square exceeds ``upper`` (erratic).
    p_below : ndarray
        One-sided p value that it is below ``lower`` (too predictable, muted).
    lower, upper : float
        The bounds tested.
    """

    estimate: FloatArray
    df: FloatArray
    interval: ConfidenceIntervals
    zstd: FloatArray
    p_above: FloatArray
    p_below: FloatArray
    lower: float
    upper: float


# --------------------------------------------------------------------------- public functions


def rating_moments(
    fit: SeverityResult,
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
) -> RatingMoments:
    """Expected score, its variance and the expected :math:`\\Psi` of every rating.

    Parameters
    ----------
    fit : SeverityResult
        A fit of :func:`~calibrate.stats.severity.fit_severity`.
    unit, rater, criterion : array_like of int, shape (n,)
        The ratings' codes (those of the fit).
    value : array_like of float, shape (n,)
        Scores, each one of the fit's categories.

    Returns
    -------
    RatingMoments

    Raises
    ------
    StatisticsError
        As :func:`~calibrate.stats.severity.rating_posterior`.

    Notes
    -----
    With :math:`P_k(\\theta)` the rating-scale probabilities of the rating's cell ([9]_),
    ``expected`` is :math:`\\sum_q \\pi_{nq} \\sum_k c_k P_k(\\theta_q)` (:math:`c_k` the
    scores, :math:`\\pi_{nq}` the posterior weights of the submission's ability), ``variance``
    :math:`\\sum_q \\pi_{nq} \\mathrm{Var}_{P(\\theta_q)}(c)` and ``expected_psi``
    :math:`\\sum_q \\pi_{nq} \\sum_k \\Psi_k P_k(\\theta_q)`.

    Examples
    --------
    >>> import numpy as np
    >>> from calibrate.stats.severity import fit_severity
    >>> unit = np.repeat(np.arange(10), 6)
    >>> rater = np.tile(np.repeat([0, 1, 2], 2), 10)
    >>> crit = np.tile([0, 1], 30)
    >>> score = [int(s) for s in "313131332211333233333212322331323223332332323233212111221311"]
    >>> mom = rating_moments(fit_severity(unit, rater, crit, score), unit, rater, crit, score)
    >>> bool(abs(mom.expected.sum() - sum(score)) < 1.0)
    True
    """
    post = rating_posterior(fit, unit, rater, criterion, value)
    cats = np.asarray(fit.thresholds.categories)
    _, prob = _tables(post.eta, post.psi, np.zeros(post.eta.shape[0]), post.psi)
    e = np.einsum("k,kcq->cq", cats, prob)
    w = np.einsum("k,kcq->cq", cats * cats, prob) - e * e
    ep = np.einsum("k,kcq->cq", post.psi, prob)
    table = np.stack([e, w, ep])
    out = np.empty((3, post.x.size))
    for r0, r1 in _chunks(post.x.size, post.theta.size):
        pi = post.weights[post.unit[r0:r1]]
        out[:, r0:r1] = np.einsum("rq,trq->tr", pi, table[:, post.cell[r0:r1]])
    return RatingMoments(expected=out[0], variance=out[1], expected_psi=out[2])


def score_shift(
    fit: SeverityResult,
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    shift: ArrayLike,
) -> FloatArray:
    """The change of every rating's expected score when its location moves by ``shift``
    logits: a rater effect in score levels (Linacre's "fair average": the expected score with
    and without the effect, the submissions' abilities integrated over their posteriors).

    Parameters
    ----------
    fit, unit, rater, criterion, value
        As :func:`rating_moments`.
    shift : array_like of float, shape (n,)
        Logits added to each rating's location :math:`\theta - \\delta_i - s_j`, the same for
        every rating of one assessor and criterion (e.g. the assessor's severity: the score
        change when their severity is removed; positive = they score lower than the average
        assessor would).

    Returns
    -------
    ndarray, shape (n,)
        :math:`\\sum_q \\pi_{nq} (E[c \\mid \\eta + \text{shift}] - E[c \\mid \\eta])`.

    Raises
    ------
    StatisticsError
        As :func:`rating_moments`; a shift that is not finite, or differs within a cell.

    Examples
    --------
    >>> import numpy as np
    >>> from calibrate.stats.severity import fit_severity
    >>> unit = np.repeat(np.arange(10), 6)
    >>> rater = np.tile(np.repeat([0, 1, 2], 2), 10)
    >>> crit = np.tile([0, 1], 30)
    >>> score = [int(s) for s in "313131332211333233333212322331323223332332323233212111221311"]
    >>> fit = fit_severity(unit, rater, crit, score)
    >>> small = score_shift(fit, unit, rater, crit, score, np.full(60, 1e-4))
    >>> slope = rating_moments(fit, unit, rater, crit, score).variance
    >>> bool(np.allclose(small, 1e-4 * slope, rtol=1e-3))
    True
    """
    post = rating_posterior(fit, unit, rater, criterion, value)
    moved = np.asarray(shift, dtype=np.float64)
    if moved.shape != post.x.shape or not np.isfinite(moved).all():
        raise StatisticsError("score_shift: shift must be finite, one per rating")
    by_cell = np.zeros(post.eta.shape[0])
    by_cell[post.cell] = moved
    if not np.array_equal(by_cell[post.cell], moved):
        raise StatisticsError("score_shift: shift differs within an assessor x criterion cell")
    cats = np.asarray(fit.thresholds.categories)
    none = np.zeros(post.eta.shape[0])
    _, before = _tables(post.eta, post.psi, none, post.psi)
    _, after = _tables(post.eta + by_cell[:, None], post.psi, none, post.psi)
    table = np.einsum("k,kcq->cq", cats, after - before)
    out = np.empty(post.x.size)
    for r0, r1 in _chunks(post.x.size, post.theta.size):
        out[r0:r1] = np.einsum("rq,rq->r", post.weights[post.unit[r0:r1]], table[post.cell[r0:r1]])
    return out


def local_shift(
    fit: SeverityResult,
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    group: ArrayLike,
    *,
    n_groups: int | None = None,
    max_iter: int = MAX_ITER,
    tol: float = TOL,
) -> GroupEstimates:
    """The additional severity of each group of one assessor's ratings (bias, drift).

    Parameters
    ----------
    fit : SeverityResult
        A fit of :func:`~calibrate.stats.severity.fit_severity` to these ratings.
    unit, rater, criterion : array_like of int, shape (n,)
        The ratings' codes.
    value : array_like of float, shape (n,)
        Scores, each one of the fit's categories.
    group : array_like of int, shape (n,)
        Group code of each rating, ``0 <= group < n_groups``; each group's ratings must come
        from one assessor, e.g. ``assessor * n_criteria + criterion`` (differential severity)
        or ``assessor * n_windows + window`` (drift).
    n_groups : int, optional
        Number of groups (default ``max(group) + 1``); groups without ratings get NaN.
    max_iter : int
        Most Newton iterations.
    tol : float
        Convergence when no group's step exceeds ``tol`` logits.

    Returns
    -------
    GroupEstimates
        ``estimate`` in logits, positive = the group's ratings are lower than the assessor's
        fitted severity predicts (FACETS' severity orientation); ``null`` 0.

    Raises
    ------
    StatisticsError
        Inputs breaking the long-ratings contract, ratings or scores the fit does not know, a
        group code out of range, a group holding ratings of two assessors, options out of range.

    Notes
    -----
    FACETS' bias/interaction analysis ([1]_; differential severity in [3]_) estimates, holding
    every measure fixed, the shift :math:`b_g` that makes a group's expected score equal its
    observed score. Here the submissions' abilities are not fixed at estimates but integrated
    over their posteriors (which the shift updates), the shift being the maximum of the
    marginal likelihood (module Notes, :math:`a_k = k`). A group all of whose ratings are in
    the lowest (highest) category has an infinite maximum-likelihood shift (no finite value
    makes its expected score reach the observed one); it gets NaN, as does an empty group.
    (FACETS instead moves such scores by 0.3 of a category and reports a finite value.)

    *Standard error*. The assessor's severity :math:`\\hat s_j` was fitted to the same
    ratings, so the group's score at the fit is a deviation from a mean that includes it:
    :math:`\\mathrm{Var}(U_g) \\approx I_g - I_{gs}^2 V_j`, with :math:`I_{gs}` the
    information shared by :math:`b_g` and :math:`s_j` and :math:`V_j` the severity's posterior
    variance (``se**2`` of the fit); ``se`` :math:`= \\sqrt{\\mathrm{Var}(U_g)} / I_g`. For a
    group holding all the assessor's ratings this is :math:`1/I_g - V_j`, the variance of a
    sub-mean about a mean that contains it; FACETS' :math:`1/\\sqrt{I_g}` overstates it by the
    factor :math:`(1 - I_g V_j)^{-1/2}` (about 1.12 for one of five criteria), so its t
    statistics have SD below 1 under the model. The criteria and thresholds rest on all
    assessors and are held fixed.

    Examples
    --------
    >>> import numpy as np
    >>> from calibrate.stats.severity import fit_severity
    >>> unit = np.repeat(np.arange(10), 6)
    >>> rater = np.tile(np.repeat([0, 1, 2], 2), 10)
    >>> crit = np.tile([0, 1], 30)
    >>> score = [int(s) for s in "313131332211333233333212322331323223332332323233212111221311"]
    >>> fit = fit_severity(unit, rater, crit, score)
    >>> res = local_shift(fit, unit, rater, crit, score, rater * 2 + crit)
    >>> res.n.tolist()
    [10, 10, 10, 10, 10, 10]
    """
    post, groups = _prepare(fit, unit, rater, criterion, value, group, n_groups, max_iter, tol)
    a = np.arange(post.psi.size, dtype=np.float64)
    return _estimate(fit, post, groups, a, 0.0, max_iter, tol)


def scale_spread(
    fit: SeverityResult,
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    group: ArrayLike,
    *,
    n_groups: int | None = None,
    max_iter: int = MAX_ITER,
    tol: float = TOL,
) -> GroupEstimates:
    """A multiplier of the thresholds for each group of one assessor's ratings (central
    tendency, restriction of range, extreme scoring).

    Parameters
    ----------
    fit, unit, rater, criterion, value, group, n_groups, max_iter, tol
        As :func:`local_shift` (``group`` usually the assessor, or assessor x window).

    Returns
    -------
    GroupEstimates
        ``estimate`` :math:`\\lambda_g`, ``null`` 1: above 1 the thresholds are stretched
        apart and the middle categories take more of the continuum (central tendency,
        restricted range); below 1 they are squeezed together (extreme categories favoured).

    Raises
    ------
    StatisticsError
        As :func:`local_shift`.

    Notes
    -----
    The rating-scale model ([9]_) with the group's thresholds multiplied by
    :math:`\\lambda_g`: the log-numerator of category :math:`k` is :math:`\\sum_{h\\le k}
    (\\eta - \\lambda_g\\tau_h) = k\\eta - \\lambda_g\\Psi_k`, the fitted thresholds summing to
    0 so that :math:`\\lambda` stretches them about the scale's centre (as
    :mod:`calibrate.simulate` plants central tendency). :math:`\\lambda_g` is the maximum of
    the marginal likelihood holding the rest of the fit fixed (module Notes, :math:`a_k =
    \\Psi_k`: score :math:`\\sum E[\\Psi] - \\Psi_x`, information :math:`\\sum
    \\mathrm{Var}(\\Psi)` less the posterior share). It is a one-parameter form of the
    rater-specific threshold structures used to detect central tendency (the rater's own
    rating-scale structure, Myford & Wolfe [2]_ [3]_; rater-specific thresholds and their
    spread as a central-tendency index, Wolfe & McVay [5]_). The standard error allows for
    the assessor's fitted severity as in :func:`local_shift`. A group whose every rating is
    in the categories of largest :math:`\\Psi` (the two extremes of an ordered scale), or all
    in the one of smallest :math:`\\Psi` (a middle category), has an infinite estimate and gets
    NaN. :math:`\\lambda` is relative to the fitted thresholds, which are the pool's: where
    many assessors share a tendency the thresholds carry part of it (with 8 of 40 assessors at
    1.75, the rest come out near 0.87 and the 8 near 1.5; their ratio is the planted 1.75).

    Examples
    --------
    >>> import numpy as np
    >>> from calibrate.stats.severity import fit_severity
    >>> unit = np.repeat(np.arange(10), 6)
    >>> rater = np.tile(np.repeat([0, 1, 2], 2), 10)
    >>> crit = np.tile([0, 1], 30)
    >>> score = [int(s) for s in "313131332211333233333212322331323223332332323233212111221311"]
    >>> fit = fit_severity(unit, rater, crit, score)
    >>> res = scale_spread(fit, unit, rater, crit, score, rater)
    >>> res.null, res.n.tolist()
    (1.0, [20, 20, 20])
    """
    post, groups = _prepare(fit, unit, rater, criterion, value, group, n_groups, max_iter, tol)
    return _estimate(fit, post, groups, post.psi, 1.0, max_iter, tol)


def mean_squares(
    fit: SeverityResult,
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
) -> MeanSquares:
    """Infit and outfit mean squares of each assessor with model degrees of freedom.

    Parameters
    ----------
    fit : SeverityResult
        A fit of :func:`~calibrate.stats.severity.fit_severity` to these ratings.
    unit, rater, criterion : array_like of int, shape (n,)
    value : array_like of float, shape (n,)

    Returns
    -------
    MeanSquares

    Raises
    ------
    StatisticsError
        As :func:`~calibrate.stats.severity.rating_posterior`.

    Notes
    -----
    Wright & Masters ([6]_, ch. 5) give the model variance of a mean square from the fourth
    central moments :math:`C_r` and variances :math:`W_r` of the ratings:
    :math:`q^2_{out} = \\sum_r (C_r/W_r^2 - 1) / N^2`, :math:`q^2_{in} = \\sum_r (C_r - W_r^2)
    / (\\sum_r W_r)^2`, treating the ratings as independent. Here the residuals are integrated
    over each submission's posterior, :math:`\\text{MS} = E[\\text{MS}_\\theta \\mid x]`, whose
    variance is smaller by the posterior variance: with :math:`D` the numerator less its
    expectation at the true abilities, :math:`\\mathrm{Var}(E[D\\mid x]) = \\mathrm{Var}(D) -
    E[\\mathrm{Var}(D\\mid x)]`, the second term summed over the assessor's readings (the
    ratings of one reading share the submission's posterior, so their residuals move
    together under it). Both terms are estimated by posterior averages, and ``df = 2 /
    Var(MS)`` makes :math:`\\text{MS} \\cdot df \\sim \\chi^2_{df}` match the first two moments.
    Using the number of ratings as ``df`` would instead overstate the precision of outfit when
    categories are improbable, and ignore the posterior smoothing.
    """
    post = rating_posterior(fit, unit, rater, criterion, value)
    m, q = post.psi.size, post.theta.size
    k = np.arange(m, dtype=np.float64)
    _, prob = _tables(post.eta, post.psi, np.zeros(post.eta.shape[0]), post.psi)
    e = np.einsum("k,kcq->cq", k, prob)
    # floored so that w**2 and 1/w stay finite at nodes where a score is all but certain
    # (wide thresholds put most nodes there; their posterior weight is ~0 anyway)
    w = np.maximum(np.einsum("k,kcq->cq", k * k, prob) - e * e, W_FLOOR)
    dev = k[:, None, None] - e[None]
    c4 = np.einsum("kcq,kcq->cq", dev**4, prob)
    nc, nu = post.eta.shape[0], post.weights.shape[0]
    x = post.x.astype(np.float64)
    ones = np.ones(x.size)
    at = [_csr(v, post.cell, post.unit, (nc, nu)) for v in (ones, x, x * x)]
    m0, m1, m2 = (mat @ post.weights for mat in at)
    sq = m2 - 2.0 * e * m1 + e * e * m0
    cell_j = np.zeros(nc, dtype=np.int64)
    cell_j[post.cell] = post.rater
    nj = fit.assessors.code.size
    n = np.bincount(post.rater, minlength=nj)

    def by_j(values: FloatArray) -> FloatArray:
        return _sums(cell_j, values.sum(axis=1), nj)

    wsum = by_j(m0 * w)
    infit = by_j(sq) / wsum
    outfit = by_j(sq / w) / n
    var_in = by_j(m0 * (c4 - w * w))
    var_out = by_j(m0 * (c4 / (w * w) - 1.0))
    # the posterior share, reading by reading (Notes)
    keys, reading = np.unique(post.unit * nj + post.rater, return_inverse=True)
    read_u, read_j = keys // nj, keys % nj
    b0, b1, b2 = (_csr(v, reading, post.cell, (keys.size, nc)) for v in (ones, x, x * x))
    x2 = np.bincount(reading, x * x, minlength=keys.size)
    post_in, post_out = np.zeros(keys.size), np.zeros(keys.size)
    ew, e2w = e / w, e * e / w
    for r0, r1 in _chunks(keys.size, q):
        pi = post.weights[read_u[r0:r1]]
        d_in = x2[r0:r1, None] - 2.0 * (b1[r0:r1] @ e) + b0[r0:r1] @ (e * e - w)
        d_out = b2[r0:r1] @ (1.0 / w) - 2.0 * (b1[r0:r1] @ ew) + b0[r0:r1] @ (e2w - 1.0)
        post_in[r0:r1] = _posterior_variance(pi, d_in)
        post_out[r0:r1] = _posterior_variance(pi, d_out)
    var_in -= np.bincount(read_j, post_in, minlength=nj)
    var_out -= np.bincount(read_j, post_out, minlength=nj)
    return MeanSquares(
        code=fit.assessors.code.copy(),
        infit=infit,
        outfit=outfit,
        infit_df=2.0 * wsum**2 / np.maximum(var_in, 1e-300),
        outfit_df=2.0 * n.astype(np.float64) ** 2 / np.maximum(var_out, 1e-300),
        n=n.astype(np.int64),
        n_submissions=np.bincount(read_j, minlength=nj).astype(np.int64),
    )


def mean_square_intervals(
    ms: ArrayLike,
    df: ArrayLike,
    *,
    level: float = 0.95,
    lower: float = 0.5,
    upper: float = 1.5,
) -> MeanSquareTest:
    """Intervals, ZSTD and one-sided tests of mean squares against the productive range.

    Parameters
    ----------
    ms : array_like of float, shape (G,)
        Infit or outfit mean squares.
    df : array_like of float, shape (G,)
        Their degrees of freedom (:func:`mean_squares`), positive.
    level : float
        Coverage of the intervals, in (0, 1).
    lower, upper : float
        Bounds of the productive range ([7]_: 0.5-1.5), ``0 < lower <= upper`` (both 1 to
        test against the model's expectation itself).

    Returns
    -------
    MeanSquareTest

    Raises
    ------
    StatisticsError
        Arrays of different shapes, a non-positive df, bounds or level out of range.

    Notes
    -----
    Under the model :math:`\\text{MS}\\cdot df \\sim \\chi^2_{df}` ([6]_); if the ratings are
    noisier by a factor :math:`\\rho` (the expected mean square), :math:`\\text{MS}\\cdot
    df/\\rho \\sim \\chi^2_{df}`. Hence the interval :math:`[\\text{MS}\\,df /
    \\chi^2_{df,(1+L)/2},\\ \\text{MS}\\,df / \\chi^2_{df,(1-L)/2}]` for :math:`\\rho`,
    ``p_above`` :math:`= P(\\chi^2_{df} \\ge \\text{MS}\\,df/\\text{upper})` for :math:`H_0:
    \\rho \\le` upper, and ``p_below`` :math:`= P(\\chi^2_{df} \\le \\text{MS}\\,df /
    \\text{lower})` for :math:`H_0: \\rho \\ge` lower. ZSTD is the Wilson-Hilferty cube-root
    transform ([8]_; [6]_ ch. 5, as FACETS prints it), :math:`(\\text{MS}^{1/3} - 1)(3/q) +
    q/3`, :math:`q = \\sqrt{2/df}`. Missing values (NaN) give NaN.

    Examples
    --------
    A mean square of 2.0 on 60 degrees of freedom: ``P(chi2(60) >= 2.0 * 60 / 1.5 = 80) =
    0.0432`` (R: ``pchisq(80, 60, lower.tail = FALSE)``), so it lies above 1.5 at the 5% level;
    the 95% interval for the expected mean square is 1.44 to 2.96:

    >>> res = mean_square_intervals([2.0], [60.0])
    >>> round(float(res.p_above[0]), 4), round(float(res.zstd[0]), 2)
    (0.0432, 4.33)
    >>> round(float(res.interval.low[0]), 2), round(float(res.interval.high[0]), 2)
    (1.44, 2.96)
    """
    _check_level(level)
    if not 0 < lower <= upper:
        raise StatisticsError(f"bounds must satisfy 0 < lower <= upper, got {lower}, {upper}")
    try:
        msa = np.asarray(ms, dtype=np.float64)
        dfa = np.asarray(df, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatisticsError("ms and df must be numbers") from None
    if msa.ndim != 1 or msa.shape != dfa.shape:
        raise StatisticsError(
            f"ms and df must be 1-D arrays of one length, got shapes {msa.shape} and {dfa.shape}"
        )
    if np.any(dfa <= 0):
        raise StatisticsError("df must be positive")
    if np.any(msa < 0):
        raise StatisticsError("mean squares must be non-negative")
    chi = msa * dfa
    a = (1.0 - level) / 2.0
    low = chi / stats.chi2.isf(a, dfa)
    high = chi / stats.chi2.ppf(a, dfa)
    q = np.sqrt(2.0 / dfa)
    zstd = (np.cbrt(msa) - 1.0) * (3.0 / q) + q / 3.0
    return MeanSquareTest(
        estimate=msa,
        df=dfa,
        interval=ConfidenceIntervals(low, high, level),
        zstd=zstd,
        p_above=stats.chi2.sf(chi / upper, dfa),
        p_below=stats.chi2.cdf(chi / lower, dfa),
        lower=float(lower),
        upper=float(upper),
    )


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Window:
    """Each submission's posterior on the few nodes that carry it: ``width`` consecutive
    nodes from ``start`` (U,), outside which every node's weight is below :data:`_NEGLIGIBLE`
    (the posterior is log-concave, so its support above a level is one run of nodes)."""

    start: IntArray
    width: int
    q: int

    @classmethod
    def of(cls, weights: FloatArray) -> _Window:
        q = weights.shape[1]
        above = weights > _NEGLIGIBLE
        first = np.argmax(above, axis=1)
        last = q - 1 - np.argmax(above[:, ::-1], axis=1)
        width = int((last - first).max(initial=0)) + 1
        return cls(np.minimum(first, q - width).astype(np.int64), width, q)

    def take(self, table: FloatArray, row: IntArray, unit: IntArray) -> FloatArray:
        """``table[row, start[unit] + w]`` for ``w < width``: shape (r, width)."""
        at = (row * self.q + self.start[unit])[:, None] + np.arange(self.width)
        return np.asarray(np.take(table, at), dtype=np.float64)


@dataclass(frozen=True)
class _Groups:
    """Ratings sorted into segments (one submission x one group; each within one reading),
    with their combos (one group x one cell)."""

    g: IntArray  # group per rating (n,), input order
    ng: int
    seg_unit: IntArray  # (S,)
    seg_group: IntArray  # (S,)
    seg_reading: IntArray  # (S,)
    seg_first: IntArray  # (S + 1,) first rating of each segment in sorted order
    combo: IntArray  # (n,) combo of each rating, sorted by segment
    combo_group: IntArray  # (K,)
    combo_cell: IntArray  # (K,)
    b: sparse.csr_matrix  # (R, C) ratings of each cell in each reading
    n: IntArray  # (G,)
    n_submissions: IntArray  # (G,)
    assessor: IntArray  # (G,) assessor index, -1 for none


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise StatisticsError(f"level must be between 0 and 1, got {level}")


def _prepare(
    fit: SeverityResult,
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    group: ArrayLike,
    n_groups: int | None,
    max_iter: int,
    tol: float,
) -> tuple[RatingPosterior, _Groups]:
    if max_iter < 1 or not tol > 0:
        raise StatisticsError("max_iter must be at least 1 and tol positive")
    post = rating_posterior(fit, unit, rater, criterion, value)
    try:
        raw = np.asarray(group, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatisticsError("group must be integer codes") from None
    if raw.shape != post.x.shape:
        raise StatisticsError(
            f"group must have one code per rating: {raw.size} codes for {post.x.size} ratings"
        )
    if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)) or np.any(raw < 0):
        raise StatisticsError("group codes must be non-negative integers")
    g = raw.astype(np.int64)
    ng = int(g.max()) + 1 if n_groups is None else int(n_groups)
    if g.max() >= ng:
        raise StatisticsError(f"group codes must be below n_groups={ng}; found {int(g.max())}")
    j = post.rater
    nj = fit.assessors.code.size
    lo = np.full(ng, nj, dtype=np.int64)
    hi = np.full(ng, -1, dtype=np.int64)
    np.minimum.at(lo, g, j)
    np.maximum.at(hi, g, j)
    mixed = np.flatnonzero((hi >= 0) & (lo != hi))
    if mixed.size:
        c = fit.assessors.code
        gm = int(mixed[0])
        raise StatisticsError(
            f"each group must hold the ratings of one assessor; group {gm} holds ratings of "
            f"assessors {int(c[lo[gm]])} and {int(c[hi[gm]])}"
        )
    seg_keys, seg = np.unique(post.unit * ng + g, return_inverse=True)
    nc = post.eta.shape[0]
    combo_keys, combo = np.unique(g * nc + post.cell, return_inverse=True)
    read_keys, reading = np.unique(post.unit * nj + j, return_inverse=True)
    seg_reading = np.zeros(seg_keys.size, dtype=np.int64)
    seg_reading[seg] = reading
    order = np.argsort(seg, kind="stable")
    return post, _Groups(
        g=g,
        ng=ng,
        seg_unit=seg_keys // ng,
        seg_group=seg_keys % ng,
        seg_reading=seg_reading,
        seg_first=np.searchsorted(seg[order], np.arange(seg_keys.size + 1)).astype(np.int64),
        combo=combo[order].astype(np.int64),
        combo_group=combo_keys // nc,
        combo_cell=combo_keys % nc,
        b=_csr(np.ones(g.size), reading, post.cell, (read_keys.size, nc)),
        n=np.bincount(g, minlength=ng).astype(np.int64),
        n_submissions=np.bincount(seg_keys % ng, minlength=ng).astype(np.int64),
        assessor=np.where(hi >= 0, hi, -1),
    )


def _estimate(
    fit: SeverityResult,
    post: RatingPosterior,
    grp: _Groups,
    a: FloatArray,
    null: float,
    max_iter: int,
    tol: float,
) -> GroupEstimates:
    """Newton's method on every group's parameter at once (module Notes), then the SE."""
    ng = grp.ng
    ax = a[post.x]
    total = np.bincount(grp.g, ax, minlength=ng)
    span = float(np.ptp(a))
    at_max = np.bincount(grp.g, ax >= a.max() - 1e-9 * span, minlength=ng)
    at_min = np.bincount(grp.g, ax <= a.min() + 1e-9 * span, minlength=ng)
    # an empty group, or a sufficient statistic at the edge of its range: infinite estimate
    finite = (grp.n > 0) & (at_max < grp.n) & (at_min < grp.n)
    phi = np.zeros(ng)
    active = finite.copy()
    converged = False
    eta_c = post.eta[grp.combo_cell]
    window = _Window.of(post.weights)
    units = np.arange(post.weights.shape[0])
    lognorm0, prob0 = _tables(eta_c, post.psi, np.zeros(eta_c.shape[0]), a)
    k = np.arange(post.psi.size, dtype=np.float64)
    fixed = _Fixed(
        eta=eta_c,
        lognorm=lognorm0,
        ek=np.einsum("k,kcq->cq", k, prob0),
        window=window,
        logw=window.take(np.log(np.maximum(post.weights, 1e-300)), units, units),
        at=grp.combo * window.q + window.start[np.repeat(grp.seg_unit, np.diff(grp.seg_first))],
    )
    for _ in range(max_iter):
        score, info, _ = _pass(post, grp, fixed, a, phi, cross=False)
        step = np.zeros(ng)
        ok = active & (info > 0)
        step[ok] = np.clip((score[ok] - total[ok]) / info[ok], -_MAX_STEP, _MAX_STEP)
        phi += step
        active &= np.abs(step) >= tol
        if not active.any():
            converged = True
            break
    _, info, cross = _pass(post, grp, fixed, a, phi, cross=True)
    v = np.where(grp.assessor >= 0, fit.assessors.se[np.maximum(grp.assessor, 0)] ** 2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.maximum(info - cross * cross * v, 0.0)) / info
    estimate = np.where(finite, null + phi, np.nan)
    se = np.where(finite, se, np.nan)
    codes = fit.assessors.code
    return GroupEstimates(
        estimate=estimate,
        se=se,
        t=phi / np.where(finite, se, np.nan),
        null=null,
        n=grp.n,
        n_submissions=grp.n_submissions,
        assessor=np.where(grp.assessor >= 0, codes[np.maximum(grp.assessor, 0)], -1),
        converged=converged,
    )


@dataclass(frozen=True)
class _Fixed:
    """What the Newton passes reuse: per combo at no effect, the locations (K, Q), log
    normalisers (K, Q) and expected categories (K, Q); the nodes' window and the log posterior
    weights on it (U, width)."""

    eta: FloatArray
    lognorm: FloatArray
    ek: FloatArray
    window: _Window
    logw: FloatArray  # (U, width)
    at: IntArray  # (n,) flat index of each sorted rating's first window node in a (K, Q) table


def _pass(
    post: RatingPosterior,
    grp: _Groups,
    fixed: _Fixed,
    a: FloatArray,
    phi: FloatArray,
    *,
    cross: bool,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per group: the expected sum of ``a`` over its ratings, the Louis information of its
    parameter and (``cross``) the information it shares with the assessor's severity."""
    lognorm, prob = _tables(fixed.eta, post.psi, phi[grp.combo_group], a)
    dlog = lognorm - fixed.lognorm
    k = np.arange(post.psi.size, dtype=np.float64)
    ea = np.einsum("k,kcq->cq", a, prob)
    va = np.einsum("k,kcq->cq", a * a, prob) - ea * ea
    ek = np.einsum("k,kcq->cq", k, prob)
    cak = np.einsum("k,kcq->cq", a * k, prob) - ea * ek
    dek = ek - fixed.ek
    k_read = None
    if cross:  # each reading's expected score at the fit, from its cells
        _, prob_c = _tables(post.eta, post.psi, np.zeros(post.eta.shape[0]), a)
        k_read = grp.b @ np.einsum("k,kcq->cq", k, prob_c)
    win = fixed.window
    # (K * Q, T): the tables of one combo and node side by side, so that a rating's window is
    # one contiguous block and segment sums run over contiguous rows
    tables = np.stack([dlog, ea, va] + ([dek, cak] if cross else []), axis=-1)
    tables = tables.reshape(dlog.size, -1)
    nseg = grp.seg_unit.size
    ea_s, info_s, cross_s = np.zeros(nseg), np.zeros(nseg), np.zeros(nseg)
    single = nseg == grp.combo.size  # one rating per segment
    nt = tables.shape[1]
    for s0, s1 in _chunks(nseg, win.width * nt):
        r0, r1 = int(grp.seg_first[s0]), int(grp.seg_first[s1])
        units = grp.seg_unit[s0:s1]
        per_rating = np.take(tables, fixed.at[r0:r1, None] + np.arange(win.width), axis=0)
        if single:
            per_seg = per_rating
        else:
            flat = per_rating.reshape(r1 - r0, -1)
            per_seg = np.add.reduceat(flat, grp.seg_first[s0:s1] - r0, axis=0).reshape(
                s1 - s0, win.width, nt
            )
        per_seg = np.moveaxis(per_seg, -1, 0)
        lg = fixed.logw[units] - per_seg[0]
        lg -= lg.max(axis=1, keepdims=True)
        pi = np.exp(lg)
        pi /= pi.sum(axis=1, keepdims=True)
        big_a = per_seg[1]
        mean_a = np.einsum("rq,rq->r", pi, big_a)
        ea_s[s0:s1] = mean_a
        info_s[s0:s1] = np.einsum("rq,rq->r", pi, per_seg[2]) - _posterior_variance(pi, big_a)
        if k_read is not None:
            big_k = win.take(k_read, grp.seg_reading[s0:s1], units) + per_seg[3]
            cov = np.einsum("rq,rq,rq->r", pi, big_a, big_k) - mean_a * np.einsum(
                "rq,rq->r", pi, big_k
            )
            cross_s[s0:s1] = np.einsum("rq,rq->r", pi, per_seg[4]) - cov
    return (
        _sums(grp.seg_group, ea_s, grp.ng),
        _sums(grp.seg_group, info_s, grp.ng),
        _sums(grp.seg_group, cross_s, grp.ng),
    )


def _sums(index: IntArray, values: FloatArray, size: int) -> FloatArray:
    """Segment sums: ``values`` added up by ``index`` into ``size`` bins."""
    return np.asarray(np.bincount(index, values, minlength=size), dtype=np.float64)


def _logits(eta: FloatArray, psi: FloatArray, shift: FloatArray, a: FloatArray) -> FloatArray:
    """Log-numerators ``k eta - psi_k - shift a_k`` (m, C, Q) of cells ``eta`` (C, Q)."""
    k = np.arange(psi.size, dtype=np.float64)
    return (
        k[:, None, None] * eta[None] - psi[:, None, None] - a[:, None, None] * shift[None, :, None]
    )


def _tables(
    eta: FloatArray, psi: FloatArray, shift: FloatArray, a: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Log normaliser (C, Q) and probabilities (m, C, Q) of cells ``eta`` (C, Q)."""
    logits = _logits(eta, psi, shift, a)
    return category_tables(logits, logits.max(axis=0))


def _posterior_variance(pi: FloatArray, values: FloatArray) -> FloatArray:
    """Row-wise variance of ``values`` (R, Q) under the weights ``pi`` (R, Q)."""
    mean = np.einsum("rq,rq->r", pi, values)
    return np.asarray(np.einsum("rq,rq->r", pi, values * values) - mean * mean)


def _chunks(rows: int, q: int) -> list[tuple[int, int]]:
    step = max(1, _CHUNK // max(q, 1))
    return [(r0, min(rows, r0 + step)) for r0 in range(0, rows, step)]


def _csr(values: FloatArray, row: IntArray, col: IntArray, shape: tuple[int, int]) -> Any:
    """A sparse matrix, duplicate entries summed (scipy sums them converting from COO)."""
    return sparse.csr_matrix((values, (row, col)), shape=shape)
