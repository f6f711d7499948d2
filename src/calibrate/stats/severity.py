r"""Rater severities that hold on sparse live designs: a random-effects many-facet Rasch model.

One public function, :func:`fit_severity`, fits the rating-scale many-facet Rasch model to long,
sparse ratings (``unit``, ``rater``, ``criterion``, ``value``) with the submissions integrated out
(marginal maximum likelihood) and the assessor severities treated as normal random effects whose
spread is estimated from the data (empirical Bayes). It returns a :class:`SeverityResult`: every
assessor's severity with a posterior standard error, an interval, fit mean squares and a status,
``"placed"`` or ``"not placed"``; the criterion difficulties with standard errors; the thresholds;
and the spreads of submissions and severities.

Why this estimator. Live designs give each submission 2 readings on a few criteria, so joint
maximum likelihood (:func:`calibrate.stats.rasch.fit_mfrm`, as FACETS) estimates one ability per
5-16 ratings: the incidental-parameter problem stretches every measure and makes weakly linked or
extreme assessors run off to tens of logits with useless standard errors. Integrating the
submissions out against a normal population (Bock & Aitkin [1]_) removes the incidental
parameters, and a normal prior on the severities (the random-effects facets model of Wang &
Wilson [3]_; hierarchical treatments in [4]_, [5]_) keeps every severity finite, pulling an
assessor toward the mean exactly as far as their data are thin, with the amount of pulling set by
the estimated spread of severities (Morris [8]_). A full Bayesian fit ([4]_) or a marginal
likelihood over both crossed random effects ([3]_) would need MCMC or two-dimensional
integration per submission; the penalised marginal likelihood here needs one dimension per
submission, runs in seconds on a million ratings, and its posterior intervals cover at the
nominal rate in simulation (see the tests).

References
----------
.. [1] Bock, R. D., & Aitkin, M. (1981). Marginal maximum likelihood estimation of item
   parameters: Application of an EM algorithm. *Psychometrika, 46*(4), 443-459.
.. [2] Louis, T. A. (1982). Finding the observed information matrix when using the EM
   algorithm. *Journal of the Royal Statistical Society, Series B, 44*(2), 226-233.
.. [3] Wang, W.-C., & Wilson, M. (2005). Exploring local item dependence using a random-effects
   facet model. *Applied Psychological Measurement, 29*(4), 296-318.
.. [4] Muckle, T. J., & Karabatsos, G. (2009). Hierarchical generalized linear models for the
   analysis of judge ratings. *Journal of Educational Measurement, 46*(2), 198-219.
.. [5] DeCarlo, L. T., Kim, Y. K., & Johnson, M. S. (2011). A hierarchical rater model for
   constructed responses, with a signal detection rater model. *Journal of Educational
   Measurement, 48*(3), 333-356.
.. [6] Linacre, J. M. (1989). *Many-facet Rasch measurement*. Chicago: MESA Press.
.. [7] Andrich, D. (1978). A rating formulation for ordered response categories.
   *Psychometrika, 43*(4), 561-573.
.. [8] Morris, C. N. (1983). Parametric empirical Bayes inference: Theory and applications.
   *Journal of the American Statistical Association, 78*(381), 47-55.
.. [9] Breslow, N. E., & Clayton, D. G. (1993). Approximate inference in generalized linear
   mixed models. *Journal of the American Statistical Association, 88*(421), 9-25.
.. [10] Trefethen, L. N., & Weideman, J. A. C. (2014). The exponentially convergent trapezoidal
   rule. *SIAM Review, 56*(3), 385-458.
.. [11] Weiss, Y., & Freeman, W. T. (2001). Correctness of belief propagation in Gaussian
   graphical models of arbitrary topology. *Neural Computation, 13*(10), 2173-2200.
.. [12] Wright, B. D., & Masters, G. N. (1982). *Rating scale analysis*. Chicago: MESA Press.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from calibrate.errors import StatisticsError
from calibrate.stats._distributions import norm_ppf
from calibrate.stats._input import Progress, long_ratings
from calibrate.stats._interval import ConfidenceIntervals

__all__ = [
    "MAX_DATA_SE",
    "MAX_ITER",
    "MAX_NODES",
    "MIN_INFORMATION",
    "MIN_RATINGS",
    "NODES",
    "QUADRATURE_TOL",
    "SD_FLOOR",
    "TOL",
    "AssessorSeverities",
    "CriterionDifficulties",
    "RatingPosterior",
    "ScaleThresholds",
    "SeverityResult",
    "Status",
    "category_tables",
    "fit_severity",
    "rating_posterior",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
Status = Literal["placed", "not placed"]

MIN_INFORMATION = 0.5
"""An assessor is placed when the data carry at least this share of what is known about their
severity: ``1 - posterior variance / prior variance`` (0.5: the data say as much as the prior)."""
MAX_DATA_SE = 0.5
"""An assessor is also placed when the data alone (the likelihood's information about their
severity, the prior left out) give a standard error of at most this many logits: their severity
is known to within about one logit either way, whatever the spread of the pool (Linacre 1994:
16 to 36 observations estimate a measure to within one logit with 95% confidence)."""
MIN_RATINGS = 10
"""An assessor with fewer ratings is not placed, whatever the information (two submissions on
five criteria)."""
NODES = 41
"""Quadrature nodes to start with (doubled, up to :data:`MAX_NODES`, until the log-likelihood
settles to :data:`QUADRATURE_TOL` per submission)."""
MAX_NODES = 321
"""Most quadrature nodes the automatic refinement goes to."""
QUADRATURE_TOL = 1e-6
"""Change of the log-likelihood per submission, when the nodes are doubled, below which the
quadrature is taken as settled."""
MAX_ITER = 100
"""Default most Newton iterations (per quadrature refinement)."""
TOL = 1e-4
"""Default convergence: largest change of any estimate, in logits."""
SD_FLOOR = 1e-3
"""Smallest submission and severity SD (logits): a spread estimated at 0 is reported as this."""

_SPAN = 8.0  # quadrature range, standard deviations of the submission distribution
_MAX_STEP = 2.0  # largest Newton step (logits)
_CHUNK = 1 << 21  # floats per chunk of the information pass
W_FLOOR = 1e-10
"""Smallest model variance of a rating at a node used in the outfit mean squares."""
_EXACT_LIMIT = 300  # assessors up to which the severity block is inverted exactly


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class AssessorSeverities:
    """Severity of every assessor in the ratings, in code order (FACETS orientation: positive =
    harsher, lower ratings). Every array has shape (J,).

    Attributes
    ----------
    code : ndarray of int64
        The assessor codes.
    severity : ndarray
        Posterior mode (logits) of the deviation from the assessors' mean (they sum to 0),
        shrunk toward 0 as far as the assessor's data are thin.
    se : ndarray
        Posterior standard deviation of that deviation, the uncertainty about the submissions'
        abilities, the other assessors, the criteria and thresholds included.
    interval : ConfidenceIntervals
        ``severity -+ z * se`` at the requested level.
    information : ndarray
        ``1 - se**2 / (severity_sd**2 * (1 - 1/J))``: the share of what is known about the
        severity that comes from the data rather than the prior (0: nothing, 1: everything).
    n, n_submissions : ndarray of int64
        Ratings and distinct submissions of the assessor.
    observed_average : ndarray
        Mean rating, in the input's score units.
    infit, outfit : ndarray
        Information-weighted and unweighted mean squares of the posterior-integrated residuals
        (expected 1; see Notes of :func:`fit_severity`).
    subset : ndarray of int64
        Connected subset of the design (assessors linked by chains of shared submissions).
    status : tuple of {"placed", "not placed"}
        ``"not placed"``: information below ``min_information`` and a data-only standard error
        above :data:`MAX_DATA_SE`, fewer than ``min_ratings`` ratings, or every rating in the
        lowest (highest) category. The severity is then mostly
        the prior's: keep it for the record, but do not rank or act on it.
    """

    code: IntArray
    severity: FloatArray
    se: FloatArray
    interval: ConfidenceIntervals
    information: FloatArray
    n: IntArray
    n_submissions: IntArray
    observed_average: FloatArray
    infit: FloatArray
    outfit: FloatArray
    subset: IntArray
    status: tuple[Status, ...]

    def __len__(self) -> int:
        return int(self.code.size)

    @property
    def placed(self) -> BoolArray:
        """True where the status is ``"placed"``, shape (J,)."""
        return np.array([s == "placed" for s in self.status], dtype=bool)

    def confidence_interval(self, level: float = 0.95) -> ConfidenceIntervals:
        """Normal posterior interval ``severity -+ z_{(1+level)/2} * se`` at another level."""
        _check_level(level)
        half = float(norm_ppf(0.5 + level / 2)) * self.se
        return ConfidenceIntervals(self.severity - half, self.severity + half, level)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of lists, one entry per assessor (NaN stays NaN)."""
        return {
            "code": self.code.tolist(),
            "severity": self.severity.tolist(),
            "se": self.se.tolist(),
            "low": self.interval.low.tolist(),
            "high": self.interval.high.tolist(),
            "level": self.interval.level,
            "information": self.information.tolist(),
            "n": self.n.tolist(),
            "n_submissions": self.n_submissions.tolist(),
            "observed_average": self.observed_average.tolist(),
            "infit": self.infit.tolist(),
            "outfit": self.outfit.tolist(),
            "subset": self.subset.tolist(),
            "status": list(self.status),
        }


@dataclass(frozen=True)
class CriterionDifficulties:
    """Difficulty of every criterion in the ratings, in code order (fixed effects, summing to
    0). Every array has shape (I,).

    Attributes
    ----------
    code : ndarray of int64
    difficulty, se : ndarray
        Logits (positive = harder, lower ratings) and standard error.
    n : ndarray of int64
        Ratings of the criterion.
    """

    code: IntArray
    difficulty: FloatArray
    se: FloatArray
    n: IntArray

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of lists."""
        return {
            "code": self.code.tolist(),
            "difficulty": self.difficulty.tolist(),
            "se": self.se.tolist(),
            "n": self.n.tolist(),
        }


@dataclass(frozen=True)
class ScaleThresholds:
    """Rasch-Andrich thresholds of the shared rating scale.

    Attributes
    ----------
    categories : tuple of float
        The observed categories, in the input's score units (an unused score leaves no gap).
    tau, se : tuple of float
        Thresholds between successive categories (summing to 0) and standard errors.
    disordered : bool
        True when some threshold is not above the previous one.
    """

    categories: tuple[float, ...]
    tau: tuple[float, ...]
    se: tuple[float, ...]
    disordered: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "categories": list(self.categories),
            "tau": list(self.tau),
            "se": list(self.se),
            "disordered": self.disordered,
        }


@dataclass(frozen=True)
class SeverityResult:
    """Result of :func:`fit_severity`.

    Attributes
    ----------
    assessors : AssessorSeverities
    criteria : CriterionDifficulties
    thresholds : ScaleThresholds
    submission_mean, submission_sd : float
        Mean and SD (logits) of the submissions' abilities (:math:`\\mu`, :math:`\\sigma_\\theta`);
        the mean carries the overall level of the scores.
    severity_sd : float
        SD of the assessors' severities (:math:`\\sigma_s`); :data:`SD_FLOOR` when the ratings
        show no spread of severity beyond chance (then no assessor is placed); NaN with a
        single assessor, who is their own mean (severity 0, SE 0, not placed).
    loglik : float
        Marginal log-likelihood of the ratings (submissions integrated out) at the estimates.
    n, n_submissions : int
        Ratings and submissions.
    n_subsets : int
        Connected subsets of assessors; above 1, the subsets are compared only through the
        assumption that their submissions come from one population.
    nodes : int
        Quadrature nodes used.
    quadrature_error : float
        Change of :attr:`loglik` when the nodes are doubled (the integration error, roughly).
    iterations : int
        Newton iterations, over all quadrature refinements.
    converged : bool
    max_change : float
        Largest change of any estimate (logits) in the last iteration.
    """

    assessors: AssessorSeverities
    criteria: CriterionDifficulties
    thresholds: ScaleThresholds
    submission_mean: float
    submission_sd: float
    severity_sd: float
    loglik: float
    n: int
    n_submissions: int
    n_subsets: int
    nodes: int
    quadrature_error: float
    iterations: int
    converged: bool
    max_change: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN stays NaN: serialise with a NaN-aware writer)."""
        return {
            "assessors": self.assessors.to_dict(),
            "criteria": self.criteria.to_dict(),
            "thresholds": self.thresholds.to_dict(),
            "submission_mean": self.submission_mean,
            "submission_sd": self.submission_sd,
            "severity_sd": self.severity_sd,
            "loglik": self.loglik,
            "n": self.n,
            "n_submissions": self.n_submissions,
            "n_subsets": self.n_subsets,
            "nodes": self.nodes,
            "quadrature_error": self.quadrature_error,
            "iterations": self.iterations,
            "converged": self.converged,
            "max_change": self.max_change,
        }


# --------------------------------------------------------------------------- public function


def fit_severity(
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    *,
    categories: Sequence[float] | None = None,
    level: float = 0.95,
    min_information: float = MIN_INFORMATION,
    min_ratings: int = MIN_RATINGS,
    severity_sd: float | None = None,
    nodes: int | None = None,
    max_iter: int = MAX_ITER,
    tol: float = TOL,
    progress: Progress | None = None,
) -> SeverityResult:
    r"""Assessor severities with honest intervals on sparse designs (random-effects MFRM).

    Parameters
    ----------
    unit, rater, criterion : array_like of int, shape (n,)
        Non-negative codes of the submission, the assessor and the rubric criterion of each
        rating (the long, sparse shape: each submission meets a few of many assessors).
    value : array_like of float, shape (n,)
        Integer category scores (e.g. 1-4). Only their order matters: they are renumbered by
        rank among the observed scores (FACETS' "ordinal" default), so adding a constant to
        every score changes nothing.
    categories : sequence of float, optional
        The scale's declared scores: every ``value`` must be one of them.
    level : float
        Coverage of the assessors' intervals, in (0, 1).
    min_information : float
        Placement threshold on ``information`` (default :data:`MIN_INFORMATION`), in [0, 1].
    min_ratings : int
        Placement threshold on the assessor's number of ratings (default :data:`MIN_RATINGS`).
    severity_sd : float, optional
        The SD of severities (logits) to use instead of estimating it, e.g. the programme's
        value from earlier rounds when a round has few assessors (three assessors say little
        about how far severities spread).
    nodes : int, optional
        Quadrature nodes over the submission distribution (at least 5). Default: start at
        :data:`NODES` and double until the log-likelihood changes by less than
        :data:`QUADRATURE_TOL` per submission.
    max_iter : int
        Maximum Newton iterations (per quadrature refinement).
    tol : float
        Convergence when no estimate (severity SD included) moves by more than ``tol`` logits.
    progress : callable, optional
        Called as ``progress(iteration, max_iter, "iteration 3, largest change 0.0012 logits,
        severity SD 0.4871")`` after every iteration (:data:`~calibrate.stats.Progress`).

    Returns
    -------
    SeverityResult

    Raises
    ------
    StatisticsError
        Arrays of different lengths or no ratings; negative or non-integer codes; non-integer
        or non-finite scores (NaN included: drop missing ratings first); a score outside
        ``categories``; a single category used; a criterion (of two or more) all of whose
        ratings are in the lowest, or all in the highest, category (its difficulty is infinite);
        options out of range.

    Notes
    -----
    *Model* ([6]_, [7]_). With categories renumbered :math:`0..m-1`, submission :math:`n`,
    criterion :math:`i`, assessor :math:`j`:

    .. math:: \log\frac{P_{nijk}}{P_{nij(k-1)}} = \theta_n - \delta_i - s_j - \tau_k,
              \qquad \theta_n \sim N(\mu, \sigma_\theta^2), \quad s_j \sim N(0, \sigma_s^2),

    independently. Criteria and thresholds are fixed effects, :math:`\sum_i\delta_i = 0`,
    :math:`\sum_k\tau_k = 0`. The severities' population mean is 0 and the submissions' mean
    :math:`\mu` is free (FACETS centres the assessors and lets the submissions float): with
    both means fixed at 0 nothing would carry the overall level of the scores. At the estimates
    the severities sum to exactly 0 (the score equation of :math:`\mu`).

    *Estimation*. The penalised marginal log-likelihood

    .. math:: \ell_p = \sum_n \log \int \prod_{r \in n} P(x_r \mid \theta)\,
              \phi(\theta; \mu, \sigma_\theta)\, d\theta \;-\; \sum_j \frac{s_j^2}{2\sigma_s^2}

    is maximised over :math:`(s, \delta, \tau, \mu, \sigma_\theta)` for given
    :math:`\sigma_s`; the integral is a trapezoidal rule on :math:`\theta = \mu +
    \sigma_\theta z`, :math:`z` equally spaced on :math:`[-8, 8]` with weights
    :math:`\propto e^{-z^2/2}` ([1]_). For these integrands (analytic in a strip) the
    trapezoidal rule converges exponentially in the number of nodes and needs fewer than
    Gauss-Hermite ([10]_; on 60 submissions with 40 ratings each and :math:`\sigma_\theta =
    1.5`, 121 trapezoidal nodes match adaptive ``scipy.integrate.quad`` to 1e-8 where
    Gauss-Hermite needs 301, 201 being 0.005 off).
    Because the nodes are shared, the linear predictor at a node depends on a rating only
    through its cell (assessor x criterion), so probabilities are computed on a cells x nodes
    table and summed to submissions by sparse products: time and memory grow linearly with
    the ratings. Each Newton step uses the observed information of the marginal likelihood
    (Louis [2]_),

    .. math:: I = \sum_n \Big( E_{\theta \mid x_n}\big[-\nabla^2 \log f_n\big]
              - \mathrm{Cov}_{\theta \mid x_n}\big[\nabla \log f_n\big] \Big),

    whose severity block is sparse (assessors sharing submissions) and is solved by
    Jacobi-preconditioned conjugate gradients, the few fixed effects eliminated by their Schur
    complement; steps are halved until the objective rises. The submission SD is stepped on
    the log scale, and held at :data:`SD_FLOOR` when the data put it at 0. Between steps
    :math:`\sigma_s` takes the EM step of the Laplace approximation to the likelihood with the
    severities integrated out ([9]_), :math:`\sigma_s^2 \leftarrow \overline{\hat s_j^2 +
    V_j}` (:math:`V_j` below, uncentred), extrapolated by Aitken's method where EM is slow
    (few or thinly rated assessors).

    *Standard errors*. The posterior covariance is the inverse of the full information (prior
    included): the diagonal of the inverse of the sparse severity block, dense up to 300
    assessors and by Gaussian belief propagation above ([11]_; exact where the assessor graph
    is a tree, within 1% of the dense inverse on two-reading designs), plus, by the Woodbury
    identity, the share of the uncertainty about the criteria, thresholds, :math:`\mu` and
    :math:`\sigma_\theta`. Severities are reported as deviations from the assessors' mean,
    and ``se`` is the posterior SD of that deviation, :math:`V_j = C_{jj} - 2(C\mathbf 1)_j/J +
    \mathbf 1'C\mathbf 1/J^2`. The interval :math:`\hat s_j \mp z_{(1+\text{level})/2}
    \sqrt{V_j}` is an empirical Bayes interval ([8]_): over assessors drawn from the normal
    population it covers at the nominal rate (94.7%, 94.3% and 94.8% of 95% intervals with 50,
    500 and 5,000 assessors and two readings per submission, in the tests); a far-out assessor
    is pulled in, so where severities are not normal the most extreme few are covered less
    often (83% for planted +-1.5 logit assessors, all still found).

    *Placement*. ``information`` :math:`= 1 - V_j / (\sigma_s^2 (1 - 1/J))`, the share of the
    prior variance of the deviation that the data remove. An assessor is placed when it is at
    least ``min_information`` or the data alone give a standard error of at most
    :data:`MAX_DATA_SE` (so that a pool of alike assessors, whose small :math:`\sigma_s` leaves
    the prior strong, does not make every well-observed assessor unplaceable), they have at
    least ``min_ratings`` ratings, and their ratings
    are not all in the lowest or all in the highest category (the data then bound the severity
    on one side only; its value comes from the prior). An assessor who met one submission, or
    gave only top (bottom) scores, keeps a finite severity on the right side of the mean with
    a finite interval and is ``"not placed"``.

    *Monotonicity*. One rating raised lowers its assessor's severity (property-tested with
    :math:`\sigma_s` given, on 40-80 submissions). On a few dozen ratings that one rating also
    moves the thresholds and the spreads, which rescale every measure and can undo the step
    (see the tests).

    *Fit* ([12]_). Residuals are integrated over each submission's posterior rather than taken
    at a point estimate of its ability: with :math:`E_r(\theta)`, :math:`W_r(\theta)` the mean
    and variance of rating :math:`r`'s category,

    .. math:: \text{infit}_j = \frac{\sum_r E_{\theta\mid x}[(x_r - E_r)^2]}
              {\sum_r E_{\theta\mid x}[W_r]}, \qquad
              \text{outfit}_j = \frac{1}{N_j}\sum_r E_{\theta\mid x}\Big[
              \frac{(x_r - E_r)^2}{W_r}\Big].

    A posterior draw of :math:`\theta` has the same joint law with the data as the true
    ability, so both have expectation 1 under the model, also with 5-16 ratings per submission
    (residuals at a point estimate overfit there, pulling mean squares below 1).

    Examples
    --------
    Ten submissions, each scored by the same three assessors on two criteria (scores 1-3,
    simulated with severities -0.8, 0 and 0.8 logits; the data of the
    :func:`~calibrate.stats.rasch.fit_mfrm` example, where JMLE gives -0.79, -0.01, 0.81).
    With three assessors the spread of severities is itself uncertain, and the prior pulls
    them in:

    >>> import numpy as np
    >>> unit = np.repeat(np.arange(10), 6)
    >>> rater = np.tile(np.repeat([0, 1, 2], 2), 10)
    >>> crit = np.tile([0, 1], 30)
    >>> score = [int(s) for s in "313131332211333233333212322331323223332332323233212111221311"]
    >>> res = fit_severity(unit, rater, crit, score)
    >>> res.assessors.severity.round(2).tolist(), res.assessors.se.round(2).tolist()
    ([-0.42, -0.02, 0.44], [0.24, 0.23, 0.23])
    >>> res.assessors.status
    ('placed', 'placed', 'placed')
    """
    data = _validate(
        unit, rater, criterion, value, categories, level, min_information, min_ratings,
        severity_sd, nodes, max_iter, tol,
    )  # fmt: skip
    design = _Design(data)
    q = NODES if nodes is None else nodes
    state: _State | None = None
    iterations = 0
    while True:
        state = _newton(_Model(design, q), state, severity_sd, max_iter, tol, progress)
        iterations += state.iterations
        finer = 2 * q - 1
        error = abs(_Model(design, finer).loglik(state.params) - state.loglik)
        if nodes is not None or q >= MAX_NODES or error <= QUADRATURE_TOL * design.nu:
            break
        if progress is not None:
            progress(
                iterations, max_iter, f"refining quadrature: {q} -> {finer} nodes "
                f"(log-likelihood moved {error:.2g})",
            )  # fmt: skip
        q = finer
    return _result(
        design, state, q, error, iterations, level, min_information, min_ratings,
        fixed_sd=severity_sd is not None,
    )  # fmt: skip


@dataclass(frozen=True)
class RatingPosterior:
    """Each submission's ability posterior under a :func:`fit_severity` fit, on the fit's nodes.

    Attributes
    ----------
    theta : ndarray, shape (Q,)
        The quadrature nodes (abilities, logits): ``mu + sigma_theta z``.
    weights : ndarray, shape (U, Q)
        Posterior weight of each node for each submission, given all its ratings (rows sum
        to 1); submissions in code order.
    unit, rater, criterion, x : ndarray of int64, shape (n,)
        Per rating: the submission (row of ``weights``), the assessor (index into
        ``result.assessors``), the criterion (index into ``result.criteria``) and the category
        (0-based index into ``result.thresholds.categories``).
    cell : ndarray of int64, shape (n,)
        Per rating: its (assessor, criterion) cell, a row of ``eta``.
    eta : ndarray, shape (C, Q)
        Location of each cell at each node, ``theta_q - delta_i - s_j``.
    psi : ndarray, shape (m,)
        Cumulative thresholds, ``psi_0 = 0``, ``psi_k = tau_1 + ... + tau_k``.
    """

    theta: FloatArray
    weights: FloatArray
    unit: IntArray
    rater: IntArray
    criterion: IntArray
    x: IntArray
    cell: IntArray
    eta: FloatArray
    psi: FloatArray


def rating_posterior(
    result: SeverityResult,
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
) -> RatingPosterior:
    """The submissions' ability posteriors under a fit, for statistics that condition on it.

    Parameters
    ----------
    result : SeverityResult
        A fit of :func:`fit_severity`.
    unit, rater, criterion : array_like of int, shape (n,)
        The ratings' codes, as given to the fit (normally the same ratings).
    value : array_like of float, shape (n,)
        Scores, each one of ``result.thresholds.categories``.

    Returns
    -------
    RatingPosterior

    Raises
    ------
    StatisticsError
        Inputs breaking the long-ratings contract (NaN included), an assessor or criterion
        the fit does not know, or a score that is not one of the fit's categories.

    Notes
    -----
    The posterior of submission ``n`` on the fit's trapezoidal nodes is proportional to the
    normal weight of the node times the likelihood of all its ratings at the fitted
    severities, difficulties and thresholds (Bock & Aitkin [1]_): the same weights the fit's
    infit and outfit integrate over.
    """
    data = long_ratings(unit, rater, criterion, value, missing="refuse")
    if data.value.size == 0:
        raise StatisticsError("ratings must not be empty")
    cats = np.asarray(result.thresholds.categories)
    x = _index_of(cats, data.value, "scores must be one of the fit's categories", "score")
    j = _index_of(
        result.assessors.code, cast(IntArray, data.rater), "every assessor must be in the fit",
        "assessor",
    )  # fmt: skip
    i = _index_of(
        result.criteria.code, cast(IntArray, data.criterion),
        "every criterion must be in the fit", "criterion",
    )  # fmt: skip
    _, u = np.unique(data.unit, return_inverse=True)
    u = u.astype(np.int64)
    ni = result.criteria.code.size
    cells, cell = np.unique(j * ni + i, return_inverse=True)
    z, w = _nodes(result.nodes)
    theta = result.submission_mean + result.submission_sd * z
    s, delta = result.assessors.severity, result.criteria.difficulty
    eta = theta[None, :] - (delta[cells % ni] + s[cells // ni])[:, None]
    psi = np.concatenate([[0.0], np.cumsum(result.thresholds.tau)])
    logits = np.arange(cats.size, dtype=np.float64)[:, None, None] * eta[None] - psi[:, None, None]
    lognorm, _ = category_tables(logits, logits.max(axis=0))
    nu = int(u.max()) + 1
    a = _csr(np.ones(x.size), u, cell.astype(np.int64), (nu, cells.size))
    xn = np.bincount(u, x.astype(np.float64), minlength=nu)
    _, weights = _node_posterior(np.log(w), theta, xn, a, lognorm)
    return RatingPosterior(
        theta=_floats(theta), weights=weights, unit=u, rater=j, criterion=i, x=x,
        cell=cell.astype(np.int64), eta=_floats(eta), psi=_floats(psi),
    )  # fmt: skip


def _index_of(known: Any, values: Any, rule: str, name: str) -> IntArray:
    """Positions of ``values`` in the sorted array ``known``; a value not in it is an error."""
    at = np.minimum(np.searchsorted(known, values), known.size - 1)
    bad = np.flatnonzero(known[at] != values)
    if bad.size:
        raise StatisticsError(f"{rule}; rating {int(bad[0])} has {name} {values[bad[0]]:g}")
    out: IntArray = np.asarray(at, dtype=np.int64)
    return out


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Data:
    unit: IntArray
    rater: IntArray
    criterion: IntArray
    value: FloatArray
    x: IntArray  # ordinal category 0..m-1
    categories: FloatArray  # observed scores, (m,)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise StatisticsError(f"level must be between 0 and 1, got {level}")


def _validate(
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    categories: Sequence[float] | None,
    level: float,
    min_information: float,
    min_ratings: int,
    severity_sd: float | None,
    nodes: int | None,
    max_iter: int,
    tol: float,
) -> _Data:
    _check_level(level)
    if severity_sd is not None and not (np.isfinite(severity_sd) and severity_sd > 0):
        raise StatisticsError(f"severity_sd must be a positive number, got {severity_sd}")
    if not 0 <= min_information <= 1:
        raise StatisticsError(f"min_information must be between 0 and 1, got {min_information}")
    if min_ratings < 0:
        raise StatisticsError(f"min_ratings must be non-negative, got {min_ratings}")
    if nodes is not None and nodes < 5:
        raise StatisticsError(f"nodes must be at least 5, got {nodes}")
    if max_iter < 1 or not tol > 0:
        raise StatisticsError("max_iter must be at least 1 and tol positive")
    data = long_ratings(unit, rater, criterion, value, missing="refuse")
    v = data.value
    if v.size == 0:
        raise StatisticsError("ratings must not be empty")
    bad = np.flatnonzero(v != np.round(v))
    if bad.size:
        raise StatisticsError(
            f"scores must be integer categories; rating {int(bad[0])} is {v[bad[0]]:g}"
        )
    if categories is not None:
        try:
            declared = np.unique(np.asarray(categories, dtype=np.float64))
        except (TypeError, ValueError):
            raise StatisticsError("categories must be numbers (the scale's scores)") from None
        outside = np.flatnonzero(~np.isin(v, declared))
        if outside.size:
            raise StatisticsError(
                f"scores must be one of the declared categories {declared.tolist()}; "
                f"rating {int(outside[0])} is {v[outside[0]]:g}"
            )
    observed, x = np.unique(v, return_inverse=True)
    if observed.size < 2:
        raise StatisticsError(
            f"ratings must use at least two score categories; every score is {v[0]:g}"
        )
    crit = cast(IntArray, data.criterion)
    codes, ci = np.unique(crit, return_inverse=True)
    if codes.size > 1:
        n_c = np.bincount(ci)
        top = observed.size - 1
        for end, name in ((0, "lowest"), (top, "highest")):
            at_end = np.bincount(ci, x == end, minlength=codes.size) == n_c
            if at_end.any():
                c = int(codes[np.flatnonzero(at_end)[0]])
                raise StatisticsError(
                    f"each criterion needs a rating outside the {name} category; every rating "
                    f"of criterion {c} is {observed[end]:g}, so its difficulty is infinite"
                )
    return _Data(data.unit, cast(IntArray, data.rater), crit, v, x.astype(np.int64), observed)


# --------------------------------------------------------------------------- design


class _Design:
    """Compressed codes, index arrays and sparse incidence matrices of the long ratings.

    Cells are the (assessor, criterion) pairs rated; readings the (submission, assessor)
    pairs, sorted by submission; pairs the readings that share a submission."""

    def __init__(self, data: _Data) -> None:
        self.data = data
        self.unit_codes, u = np.unique(data.unit, return_inverse=True)
        self.rater_codes, j = np.unique(data.rater, return_inverse=True)
        self.criterion_codes, i = np.unique(data.criterion, return_inverse=True)
        u, j, i = u.astype(np.int64), j.astype(np.int64), i.astype(np.int64)
        x = data.x
        self.n, self.m = x.size, data.categories.size
        nu, nj, ni = self.unit_codes.size, self.rater_codes.size, self.criterion_codes.size
        self.nu, self.nj, self.ni = nu, nj, ni
        self.j, self.i = j, i
        xf = x.astype(np.float64)
        cells, cell = np.unique(j * ni + i, return_inverse=True)
        self.nc = cells.size
        self.cell_j, self.cell_i = cells // ni, cells % ni
        ones = np.ones(self.n)
        self.a = _csr(ones, u, cell, (nu, self.nc))
        self.at = _csr(ones, cell, u, (self.nc, nu))
        self.at_x = _csr(xf, cell, u, (self.nc, nu))
        self.at_x2 = _csr(xf * xf, cell, u, (self.nc, nu))
        self.a_by_criterion = [
            _csr(ones[i == c], u[i == c], cell[i == c], (nu, self.nc)) for c in range(ni)
        ]
        self.xn = np.bincount(u, xf, minlength=nu)
        self.xc = np.bincount(cell, xf, minlength=self.nc)
        self.nk = np.bincount(x, minlength=self.m).astype(np.float64)
        keys, reading = np.unique(u * nj + j, return_inverse=True)
        self.np_ = keys.size
        self.read_u, self.read_j = keys // nj, keys % nj
        self.b = _csr(ones, reading, cell, (self.np_, self.nc))
        self.read_start = np.searchsorted(self.read_u, np.arange(nu + 1))
        self.read_slot = np.arange(self.np_) - self.read_start[self.read_u]
        # every pair of readings of one submission: reading p pairs with the later ones
        per_unit = np.diff(self.read_start)
        later = per_unit[self.read_u] - 1 - self.read_slot
        self.pa = np.repeat(np.arange(self.np_), later)
        offset = np.arange(self.pa.size) - np.repeat(np.cumsum(later) - later, later)
        self.pb = self.pa + 1 + offset
        ja, jb = self.read_j[self.pa], self.read_j[self.pb]
        edges, self.pair_edge = np.unique(
            np.minimum(ja, jb) * nj + np.maximum(ja, jb), return_inverse=True
        )
        self.edge_a, self.edge_b = edges // nj, edges % nj
        self.r_assessor = _csr(np.ones(self.np_), self.read_j, np.arange(self.np_), (nj, self.np_))
        self.n_rater = np.bincount(j, minlength=nj)
        self.n_rater_units = np.bincount(self.read_j, minlength=nj)
        self.n_criterion = np.bincount(i, minlength=ni)
        self.rater_average = np.bincount(j, data.value, minlength=nj) / self.n_rater
        score = np.bincount(j, xf, minlength=nj)
        self.rater_extreme = (score == 0) | (score == (self.m - 1) * self.n_rater)
        graph = _csr(np.ones(self.np_), self.read_u, nu + self.read_j, (nu + nj, nu + nj))
        _, labels = connected_components(graph, directed=False)
        _, subset = np.unique(labels[nu:], return_inverse=True)
        self.subset = subset.astype(np.int64)
        self.n_subsets = int(self.subset.max()) + 1


def _floats(a: Any) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def _csr(
    values: FloatArray, row: IntArray, col: IntArray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    out = sparse.csr_matrix((values, (row, col)), shape=shape)
    out.sum_duplicates()
    return out


# --------------------------------------------------------------------------- the model


@dataclass
class _Params:
    """Severities (J,), difficulties (I,), thresholds (m-1,), submission mean and SD."""

    s: FloatArray
    delta: FloatArray
    tau: FloatArray
    mu: float
    sig: float

    def psi(self) -> FloatArray:
        """Cumulative thresholds, ``psi_0 = 0``, shape (m,)."""
        return np.concatenate([[0.0], np.cumsum(self.tau)])

    def copy(self) -> _Params:
        return _Params(self.s.copy(), self.delta.copy(), self.tau.copy(), self.mu, self.sig)


@dataclass
class _Eval:
    """The penalised objective, its gradient and (optionally) its information at one point.

    Fixed effects in free coordinates: difficulties but the last, submission mean, log SD,
    thresholds but the last. The severity block of the information is ``diag(h_diag)`` minus
    ``h_edge`` on each assessor pair that shares a submission."""

    params: _Params
    sigma_s: float
    loglik: float
    objective: float
    g_s: FloatArray
    g_f: FloatArray
    pi: FloatArray  # (U, Q) posterior node weights per submission
    m0: FloatArray  # (C, Q) posterior-weighted ratings per cell and node
    e: FloatArray  # (C, Q) expected category
    w: FloatArray  # (C, Q) category variance
    h_diag: FloatArray | None = None
    h_edge: FloatArray | None = None
    h_sf: FloatArray | None = None  # (J, F)
    h_ff: FloatArray | None = None  # (F, F)


def _nodes(q: int) -> tuple[FloatArray, FloatArray]:
    """Trapezoidal rule for the standard normal: ``q`` equally spaced nodes on [-8, 8]."""
    z = np.linspace(-_SPAN, _SPAN, q)
    w = np.exp(-0.5 * z * z)
    return z, w / w.sum()


def _contrast(k: int) -> FloatArray:
    """Sum-to-zero coding: ``k`` values from ``k - 1`` free ones, shape (k, k-1)."""
    c = np.zeros((k, max(k - 1, 0)))
    if k > 1:
        c[:-1] = np.eye(k - 1)
        c[-1] = -1.0
    return c


def category_tables(logits: FloatArray, top: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Log normaliser (C, Q) and category probabilities (m, C, Q) of the rating-scale model
    from its log-numerators ``logits`` (m, C, Q), e.g. ``k eta - psi_k`` per category, cell and
    node, and their maximum over categories ``top`` (C, Q); ``logits`` is overwritten (it
    becomes the probabilities)."""
    np.subtract(logits, top, out=logits)
    np.exp(logits, out=logits)
    tot = logits.sum(axis=0)
    logits /= tot
    return _floats(top + np.log(tot)), logits


def _node_posterior(
    lw: FloatArray, theta: FloatArray, xn: NDArray[Any], a: sparse.csr_matrix, lam: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Log marginal likelihood (U,) up to a constant and posterior node weights (U, Q) of each
    submission: ``log f_n(q) = log w_q + X_n theta_q - sum_c A_nc lam_cq``, ``X_n`` the
    submission's total category, ``A`` its ratings per cell, ``lam`` the log normalisers."""
    lg = lw + np.multiply.outer(xn, theta) - a @ lam
    top = lg.max(axis=1, keepdims=True)
    lg -= top
    np.exp(lg, out=lg)
    tot = lg.sum(axis=1, keepdims=True)
    lg /= tot
    return _floats(top[:, 0] + np.log(tot[:, 0])), _floats(lg)


class _Model:
    """Marginal likelihood on one quadrature rule: value, gradient, Louis information."""

    def __init__(self, d: _Design, q: int) -> None:
        self.d, self.q = d, q
        self.z, w = _nodes(q)
        self.lw = np.log(w)
        self.k = np.arange(d.m, dtype=np.float64)
        ni, km = d.ni, d.m - 1
        self.c_tau = _contrast(km)
        # free fixed effects -> (difficulties, mean, SD, cumulative thresholds psi_1..psi_km)
        self.f_full = ni + 2 + km
        t = np.zeros((self.f_full, (ni - 1) + 2 + max(km - 1, 0)))
        t[:ni, : ni - 1] = _contrast(ni)
        t[ni, ni - 1] = 1.0
        t[ni + 1, ni] = 1.0
        t[ni + 2 :, ni + 1 :] = np.tril(np.ones((km, km))) @ self.c_tau
        self.t = t

    def tables(self, p: _Params) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Per cell and node: log normaliser (C, Q), probabilities (m, C, Q), mean and
        variance of the category (C, Q)."""
        lognorm, prob = category_tables(*self._logits(p))
        e = np.zeros_like(lognorm)
        w = np.zeros_like(lognorm)
        for k in range(1, self.d.m):
            e += k * prob[k]
            w += (k * k) * prob[k]
        w -= e * e
        np.maximum(w, 1e-300, out=w)
        return lognorm, prob, e, w

    def _logits(self, p: _Params) -> tuple[FloatArray, FloatArray]:
        """``k eta - psi_k`` per category, cell and node (m, C, Q), and its maximum over k."""
        d = self.d
        theta = p.mu + p.sig * self.z
        eta = theta[None, :] - (p.delta[d.cell_i] + p.s[d.cell_j])[:, None]
        logits = self.k[:, None, None] * eta[None] - p.psi()[:, None, None]
        return logits, logits.max(axis=0)

    def _normaliser(self, p: _Params) -> FloatArray:
        """The log normaliser alone (C, Q), for the log-likelihood."""
        logits, top = self._logits(p)
        np.subtract(logits, top, out=logits)
        np.exp(logits, out=logits)
        return _floats(top + np.log(logits.sum(axis=0)))

    def _posterior(self, p: _Params, lam: FloatArray) -> tuple[float, FloatArray]:
        """Marginal log-likelihood and the posterior node weights of each submission (U, Q)."""
        d = self.d
        log_f, pi = _node_posterior(self.lw, p.mu + p.sig * self.z, d.xn, d.a, lam)
        const = -float(d.xc @ (p.delta[d.cell_i] + p.s[d.cell_j])) - float(d.nk @ p.psi())
        return float(log_f.sum()) + const, pi

    def loglik(self, p: _Params) -> float:
        return self._posterior(p, self._normaliser(p))[0]

    def objective(self, p: _Params, sigma_s: float) -> float:
        return self.loglik(p) - float(p.s @ p.s) / (2.0 * sigma_s**2)

    def evaluate(self, p: _Params, sigma_s: float, information: bool) -> _Eval:
        d, ni = self.d, self.d.ni
        lam, prob, e, w = self.tables(p)
        ll, pi = self._posterior(p, lam)
        m0 = d.at @ pi
        me = m0 * e
        r = d.xc - me.sum(axis=1)  # observed minus expected score per cell
        g_s = -np.bincount(d.cell_j, r, minlength=d.nj) - p.s / sigma_s**2
        g = np.zeros(self.f_full)
        g[:ni] = -np.bincount(d.cell_i, r, minlength=ni)
        g[ni] = r.sum()
        g[ni + 1] = float(self.z @ (pi.T @ d.xn - me.sum(axis=0)))
        g[ni + 2 :] = (np.einsum("cq,kcq->k", m0, prob) - d.nk)[1:]
        obj = ll - float(p.s @ p.s) / (2.0 * sigma_s**2)
        g_f = self.t.T @ g
        ev = _Eval(p, sigma_s, ll, obj, g_s, g_f, pi, m0, e, w)
        if information:
            self._information(ev, prob)
            assert ev.h_ff is not None and ev.h_sf is not None
            # the submission SD on the log scale, u = log(sig): chain rule
            ev.h_ff[ni, ni] = p.sig**2 * ev.h_ff[ni, ni] - p.sig * g_f[ni]
            ev.h_ff[ni, :ni] *= p.sig
            ev.h_ff[ni, ni + 1 :] *= p.sig
            ev.h_ff[:ni, ni] *= p.sig
            ev.h_ff[ni + 1 :, ni] *= p.sig
            ev.h_sf[:, ni] *= p.sig
        g_f[ni] *= p.sig
        return ev

    def _information(self, ev: _Eval, prob: FloatArray) -> None:
        """Observed information (Louis 1982): the complete-data information (cell level) minus
        the posterior covariance of the complete-data score (submission level, in chunks).

        The score of submission ``n`` at node ``q`` depends on the node through "channels":
        each reading's expected score (severity), the expected score per criterion
        (difficulty), minus the total (mean), ``z_q`` times the total residual (SD) and the
        expected count in each category above 0 (cumulative thresholds)."""
        d, z = self.d, self.z
        m0, e, w, pi = ev.m0, ev.e, ev.w, ev.pi
        ni, nj, f, km = d.ni, d.nj, self.f_full, d.m - 1
        imu, isg, ips = ni, ni + 1, slice(ni + 2, f)
        mw = m0 * w
        cw, cwz, cwz2 = mw.sum(axis=1), mw @ z, mw @ (z * z)
        pk = prob[1:] * (self.k[1:, None, None] - e[None])  # d^2 log-normaliser / d eta d psi
        gk = np.einsum("cq,kcq->kc", m0, pk)
        gkz = np.einsum("cq,kcq,q->k", m0, pk, z)
        comp = np.zeros((f, f))
        di = np.arange(ni)
        by_i = np.bincount(d.cell_i, cw, minlength=ni)
        comp[di, di] = by_i
        comp[di, imu] = comp[imu, di] = -by_i
        comp[di, isg] = comp[isg, di] = -np.bincount(d.cell_i, cwz, minlength=ni)
        comp[imu, imu], comp[isg, isg] = cw.sum(), cwz2.sum()
        comp[imu, isg] = comp[isg, imu] = cwz.sum()
        gki = np.stack([np.bincount(d.cell_i, g, minlength=ni) for g in gk], axis=1)
        comp[:ni, ips], comp[ips, :ni] = gki, gki.T
        comp[imu, ips] = comp[ips, imu] = -gk.sum(axis=1)
        comp[isg, ips] = comp[ips, isg] = -gkz
        pp = prob[1:]
        psi2 = -np.einsum("cq,kcq,lcq->kl", m0, pp, pp)
        psi2[np.arange(km), np.arange(km)] += np.einsum("cq,kcq->k", m0, pp)
        comp[ips, ips] = psi2
        comp_sf = np.zeros((nj, f))
        np.add.at(comp_sf, (d.cell_j, d.cell_i), cw)
        comp_sf[:, imu] = -np.bincount(d.cell_j, cw, minlength=nj)
        comp_sf[:, isg] = -np.bincount(d.cell_j, cwz, minlength=nj)
        for k in range(km):
            comp_sf[:, ni + 2 + k] = np.bincount(d.cell_j, gk[k], minlength=nj)
        cov_ff = np.zeros((f, f))
        cov_sp = np.zeros((d.np_, f))
        var_p = np.zeros(d.np_)
        cov_pair = np.zeros(d.pa.size)
        per_unit = max(1, -(-d.np_ // d.nu))
        step = max(1, _CHUNK // (f * self.q * per_unit))
        for n0 in range(0, d.nu, step):
            n1 = min(d.nu, n0 + step)
            uc = n1 - n0
            ch = np.empty((f, uc, self.q))
            for c in range(ni):
                ch[c] = d.a_by_criterion[c][n0:n1] @ e
            np.sum(ch[:ni], axis=0, out=ch[imu])
            np.multiply(d.xn[n0:n1, None] - ch[imu], z, out=ch[isg])
            np.negative(ch[imu], out=ch[imu])
            rows = d.a[n0:n1]
            for k in range(km):
                ch[ni + 2 + k] = rows @ prob[k + 1]
            pc = pi[n0:n1]
            sq = np.sqrt(pc)
            ch -= np.einsum("fnq,nq->fn", ch, pc)[:, :, None]
            ch *= sq
            flat = ch.reshape(f, uc * self.q)
            cov_ff += flat @ flat.T
            r0, r1 = int(d.read_start[n0]), int(d.read_start[n1])
            up = d.read_u[r0:r1] - n0
            sp = d.b[r0:r1] @ e
            sp -= np.einsum("pq,pq->p", sp, pc[up])[:, None]
            sp *= sq[up]
            var_p[r0:r1] = np.einsum("pq,pq->p", sp, sp)
            slot = d.read_slot[r0:r1]
            for t in range(int(slot.max(initial=-1)) + 1):
                sel = np.flatnonzero(slot == t)
                cht = ch if sel.size == uc else ch[:, up[sel]]
                cov_sp[r0 + sel] = np.einsum("fnq,nq->nf", cht, sp[sel])
            k0, k1 = np.searchsorted(d.pa, [r0, r1])
            cov_pair[k0:k1] = np.einsum("pq,pq->p", sp[d.pa[k0:k1] - r0], sp[d.pb[k0:k1] - r0])
        comp_ss = np.bincount(d.cell_j, cw, minlength=nj)
        ev.h_diag = _floats(
            comp_ss - np.bincount(d.read_j, var_p, minlength=nj) + 1.0 / ev.sigma_s**2
        )
        ev.h_edge = _floats(np.bincount(d.pair_edge, cov_pair, minlength=d.edge_a.size))
        ev.h_sf = (comp_sf - d.r_assessor @ cov_sp) @ self.t
        ev.h_ff = self.t.T @ (comp - cov_ff) @ self.t

    # ---------------------------------------------------------------- linear algebra

    def _solve_ss(self, ev: _Eval, rhs: FloatArray) -> FloatArray | None:
        """Solve the severity block for many right-hand sides by Jacobi-preconditioned
        conjugate gradients; None when the block is not positive definite."""
        d = self.d
        assert ev.h_diag is not None and ev.h_edge is not None
        off = sparse.coo_matrix((ev.h_edge, (d.edge_a, d.edge_b)), shape=(d.nj, d.nj))
        hs = (sparse.diags(ev.h_diag) - off - off.T).tocsr()
        dg = ev.h_diag[:, None]
        if np.any(dg <= 0):
            return None
        x = np.zeros_like(rhs)
        res = rhs.copy()
        pre = res / dg
        direction = pre.copy()
        rz = np.einsum("jk,jk->k", res, pre)
        norm0 = np.sqrt(np.einsum("jk,jk->k", rhs, rhs))
        norm0[norm0 == 0] = 1.0
        for _ in range(max(100, 2 * d.nj)):
            ap = hs @ direction
            den = np.einsum("jk,jk->k", direction, ap)
            active = rz > 0
            if np.any(den[active] <= 0):
                return None
            alpha = np.where(active, rz / np.where(active, den, 1.0), 0.0)
            x += alpha * direction
            res -= alpha * ap
            if np.all(np.sqrt(np.einsum("jk,jk->k", res, res)) <= 1e-10 * norm0):
                break
            pre = res / dg
            rz_new = np.einsum("jk,jk->k", res, pre)
            beta = np.where(active, rz_new / np.where(active, rz, 1.0), 0.0)
            direction = pre + beta * direction
            rz = rz_new
        return x

    def newton(self, ev: _Eval) -> _Step:
        """Newton step (severities, free fixed effects) by the Schur complement of the
        severity block, with what the posterior variances need."""
        assert ev.h_sf is not None and ev.h_ff is not None and ev.h_diag is not None
        rhs = np.column_stack([ev.g_s, ev.h_sf, np.ones(self.d.nj)])
        sol = self._solve_ss(ev, rhs)
        if sol is None:  # far from the mode: complete-data curvature, always positive
            ev.h_diag = np.maximum(ev.h_diag, 1.0 / ev.sigma_s**2)
            ev.h_edge = np.zeros_like(ev.h_edge)
            sol = self._solve_ss(ev, rhs)
            assert sol is not None
        y = sol[:, 1:-1]
        schur = ev.h_ff - ev.h_sf.T @ y
        schur = (schur + schur.T) / 2.0
        rhs_f = ev.g_f - ev.h_sf.T @ sol[:, 0]
        # The submission SD is held out of the joint step at its floor when the likelihood
        # pushes below it (projected Newton), and where the likelihood is not concave in it
        # (near 0, where it is flat: the likelihood is even in the SD); _newton then moves it
        # alone along its gradient.
        k = self.d.ni
        pinned = ev.params.sig <= SD_FLOOR * (1.0 + 1e-9) and ev.g_f[k] <= 0
        held = pinned or schur[k, k] <= 1e-8 * max(1.0, float(np.abs(np.diag(schur)).max()))
        if held:
            schur[k, :] = schur[:, k] = 0.0
            schur[k, k] = 1.0
            rhs_f[k] = 0.0
        # on the unit-diagonal scale (Jacobi): not concave here -> Levenberg-Marquardt
        unit = np.sqrt(np.maximum(np.abs(np.diag(schur)), 1e-300))
        schur /= np.outer(unit, unit)
        low = float(np.linalg.eigvalsh(schur).min())
        if low <= 1e-8:
            schur += (1e-3 - low) * np.eye(schur.shape[0])
        cov_f = _floats(np.linalg.inv(schur) / np.outer(unit, unit))
        if held:
            cov_f[k, :] = cov_f[:, k] = 0.0
        df = cov_f @ rhs_f
        slide = 0.0 if pinned or not held else float(np.sign(ev.g_f[k]))
        return _Step(sol[:, 0] - y @ df, df, y, cov_f, sol[:, -1], slide)

    def severity_variance(
        self, ev: _Eval, step: _Step
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Posterior variance of each severity given the fixed effects, marginal over them, and
        of its deviation from the assessors' mean.

        The diagonal of the inverse severity block plus the fixed effects' share by the
        Woodbury identity, ``diag(Y S^-1 Y')``; for the deviation ``s_j - mean(s)``, with the
        full covariance ``V``: ``V_jj - 2 (V 1)_j / J + 1'V1 / J^2``."""
        y, cov_f = step.y, step.cov_f
        cond = self._inverse_diagonal(ev)
        var = cond + np.einsum("jf,fg,jg->j", y, cov_f, y)
        y1 = y.sum(axis=0)
        row = step.ones + y @ (cov_f @ y1)  # V 1
        total = float(step.ones.sum() + y1 @ cov_f @ y1)  # 1'V1
        nj = self.d.nj
        centred = np.maximum(var - 2.0 * row / nj + total / nj**2, 0.0)
        return cond, _floats(var), _floats(centred)

    def _inverse_diagonal(self, ev: _Eval) -> FloatArray:
        """Diagonal of the inverse severity block: exact (dense) up to :data:`_EXACT_LIMIT`
        assessors, else by Gaussian belief propagation (Weiss & Freeman 2001), exact where the
        assessor graph is a tree and close to it where the graph is sparse."""
        d = self.d
        assert ev.h_diag is not None and ev.h_edge is not None
        dg = ev.h_diag
        if d.nj <= _EXACT_LIMIT:
            dense = np.diag(dg)
            np.add.at(dense, (d.edge_a, d.edge_b), -ev.h_edge)
            np.add.at(dense, (d.edge_b, d.edge_a), -ev.h_edge)
            return _floats(np.diag(np.linalg.inv(dense)))
        src = np.concatenate([d.edge_a, d.edge_b])
        dst = np.concatenate([d.edge_b, d.edge_a])
        w2 = np.concatenate([ev.h_edge, ev.h_edge]) ** 2
        ne = d.edge_a.size
        rev = np.concatenate([np.arange(ne, 2 * ne), np.arange(ne)])
        msg = np.zeros(2 * ne)  # precision message along each directed edge
        for _ in range(200):
            inc = np.bincount(dst, msg, minlength=d.nj)
            new = -w2 / (dg[src] + inc[src] - msg[rev])
            done = np.abs(new - msg).max(initial=0.0) <= 1e-12 * dg.max()
            msg = new
            if done:
                break
        return _floats(1.0 / (dg + np.bincount(dst, msg, minlength=d.nj)))

    def moved(self, p: _Params, ds: FloatArray, df: FloatArray, alpha: float) -> _Params:
        ni = self.d.ni
        full = self.t @ df
        q = p.copy()
        q.s += alpha * ds
        q.delta += alpha * full[:ni]
        q.mu += alpha * full[ni]
        q.sig = max(q.sig * np.exp(alpha * full[ni + 1]), SD_FLOOR)
        q.tau += alpha * (self.c_tau @ df[ni + 1 :])
        return q


def _severity_sd(s: FloatArray, v: FloatArray) -> float:
    """EM update of the severity variance under the Laplace approximation (Breslow & Clayton
    1993): ``sigma_s^2 = mean(s_j^2 + V_j)``, ``V_j`` the posterior variance of severity ``j``
    (the fixed effects' uncertainty included)."""
    return float(np.mean(s * s + v))


@dataclass
class _Step:
    ds: FloatArray  # severity step (J,)
    df: FloatArray  # free fixed-effect step (F,)
    y: FloatArray  # H_ss^-1 H_sf (J, F)
    cov_f: FloatArray  # inverse Schur complement (F, F)
    ones: FloatArray  # H_ss^-1 1 (J,)
    slide: float  # direction to move the log submission SD alone (0: none)


@dataclass
class _State:
    params: _Params
    sigma_s: float
    loglik: float
    ev: _Eval
    var_s: FloatArray
    cov_f: FloatArray
    iterations: int
    converged: bool
    change: float


def _distance(p: _Params, q: _Params) -> float:
    """Largest change of any parameter between two points (logits)."""
    return max(
        float(np.abs(q.s - p.s).max(initial=0.0)),
        float(np.abs(q.delta - p.delta).max(initial=0.0)),
        float(np.abs(q.tau - p.tau).max(initial=0.0)),
        abs(q.mu - p.mu),
        abs(q.sig - p.sig),
    )


def _start(d: _Design) -> tuple[_Params, float]:
    x = d.data.x.astype(np.float64)
    top = d.m - 1
    tau = np.log((d.nk[:-1] + 0.5) / (d.nk[1:] + 0.5))
    mean_i = np.bincount(d.i, x, minlength=d.ni) / d.n_criterion
    logit_i = np.log((mean_i + 0.5) / (top - mean_i + 0.5))
    mean = float(x.mean())
    mu = float(np.log((mean + 0.5) / (top - mean + 0.5)))
    return _Params(np.zeros(d.nj), logit_i.mean() - logit_i, tau - tau.mean(), mu, 1.0), 0.5


def _newton(
    model: _Model,
    state: _State | None,
    severity_sd: float | None,
    max_iter: int,
    tol: float,
    progress: Progress | None,
) -> _State:
    """Newton-Raphson on the penalised marginal likelihood, the severity SD (unless given)
    updated between steps, to convergence (or ``max_iter``)."""
    p, sigma_s = _start(model.d) if state is None else (state.params, state.sigma_s)
    fixed = severity_sd is not None or model.d.nj == 1
    if severity_sd is not None:
        sigma_s = severity_sd
    elif model.d.nj == 1:  # one assessor is their own mean: severity 0, no SD to estimate
        sigma_s = SD_FLOOR
    last: tuple[float, float] | None = None  # previous (t, EM update of t), t = sigma_s^2
    converged = False
    change = float("nan")
    it = 0
    for it in range(1, max_iter + 1):
        ev = model.evaluate(p, sigma_s, information=True)
        step = model.newton(ev)
        ds, df = step.ds, step.df
        full = model.t @ df
        big = max(float(np.abs(ds).max(initial=0.0)), float(np.abs(full).max(initial=0.0)))
        alpha = min(1.0, _MAX_STEP / big) if big > 0 else 1.0
        floor = ev.objective - 1e-10 * (1.0 + abs(ev.objective))
        while True:
            q = model.moved(p, ds, df, alpha)
            if model.objective(q, sigma_s) >= floor:
                break
            alpha /= 2.0
            if alpha * big < 1e-10:
                q = p  # no ascent left along the Newton direction: at the optimum
                break
        if step.slide:  # the submission SD alone, by up to a factor e, if that gains
            base = model.objective(q, sigma_s)
            for factor in np.exp(step.slide * np.array([1.0, 0.5, 0.25, 0.125])):
                r = q.copy()
                r.sig = max(q.sig * float(factor), SD_FLOOR)
                if model.objective(r, sigma_s) > base:
                    q = r
                    break
        change = _distance(p, q)
        p = q
        new_sd = sigma_s
        if not fixed:
            t, em = sigma_s**2, _severity_sd(p.s, model.severity_variance(ev, step)[1])
            new_t = em
            if last is not None and change < 0.05 and t != last[0]:
                # EM converges at the rate g' = d em / d t, slowly where the data say little
                # about sigma_s: once the rest has settled, step (em - t) / (1 - g') instead
                # (Aitken), g' from the last two updates, by at most a factor 10, never past
                # where EM turned back
                rate = (em - last[1]) / (t - last[0])
                turned = (em - t) * (last[1] - last[0]) < 0
                if 0 < rate < 1 and not turned:
                    new_t = min(max(t + (em - t) / (1.0 - rate), t / 10.0), 10.0 * t)
            last = (t, em)
            new_sd = max(float(np.sqrt(new_t)), SD_FLOOR)
        sd_change = abs(new_sd - sigma_s)
        change = max(change, sd_change)
        sigma_s = new_sd
        if progress is not None:
            progress(
                it, max_iter, f"iteration {it}, largest change {change:.5f} logits, "
                f"severity SD {sigma_s:.4f}",
            )  # fmt: skip
        if change < tol:
            converged = True
            break
    ev = model.evaluate(p, sigma_s, information=True)
    step = model.newton(ev)
    _, _, var_s = model.severity_variance(ev, step)
    return _State(p, sigma_s, ev.loglik, ev, var_s, step.cov_f, it, converged, change)


# --------------------------------------------------------------------------- reporting


def _result(
    d: _Design,
    state: _State,
    nodes: int,
    error: float,
    iterations: int,
    level: float,
    min_information: float,
    min_ratings: int,
    *,
    fixed_sd: bool,
) -> SeverityResult:
    model = _Model(d, nodes)
    p, ev = state.params, state.ev
    se = np.sqrt(state.var_s)
    half = float(norm_ppf(0.5 + level / 2)) * se
    prior = state.sigma_s**2 * (d.nj - 1) / d.nj  # prior variance of s_j - mean(s)
    info = np.clip(1.0 - state.var_s / prior, 0.0, 1.0) if d.nj > 1 else np.zeros(1)
    if d.nj > 1 and prior > 0:  # one assessor is the mean itself: nothing to place
        precision = np.divide(
            1.0, state.var_s, out=np.zeros_like(state.var_s), where=state.var_s > 0
        )
        known = precision - 1.0 / prior >= 1.0 / MAX_DATA_SE**2
    else:
        known = np.zeros(d.nj, dtype=bool)
    placed = ((info >= min_information) | known) & (d.n_rater >= min_ratings) & ~d.rater_extreme
    status: tuple[Status, ...] = tuple("placed" if ok else "not placed" for ok in placed)
    # posterior-integrated residuals per cell: sum_q M2 - 2 E M1 + E^2 M0 (M_k: x^k-weighted)
    m1, m2 = d.at_x @ ev.pi, d.at_x2 @ ev.pi
    sq = m2 - 2.0 * ev.e * m1 + ev.e**2 * ev.m0
    infit = np.bincount(d.cell_j, sq.sum(axis=1), minlength=d.nj) / np.bincount(
        d.cell_j, (ev.m0 * ev.w).sum(axis=1), minlength=d.nj
    )
    # a score all but impossible at a node (wide thresholds) has w ~ 1e-300 there: floored, so
    # that nodes the posterior does not reach cannot make the mean square overflow
    outfit = (
        np.bincount(d.cell_j, (sq / np.maximum(ev.w, W_FLOOR)).sum(axis=1), minlength=d.nj)
        / d.n_rater
    )
    assessors = AssessorSeverities(
        code=d.rater_codes.astype(np.int64),
        severity=p.s.copy(),
        se=se,
        interval=ConfidenceIntervals(p.s - half, p.s + half, level),
        information=info,
        n=d.n_rater.astype(np.int64),
        n_submissions=d.n_rater_units.astype(np.int64),
        observed_average=d.rater_average,
        infit=infit,
        outfit=outfit,
        subset=d.subset,
        status=status,
    )
    cov_full = model.t @ state.cov_f @ model.t.T
    ni = d.ni
    cov_tau = model.c_tau @ state.cov_f[ni + 1 :, ni + 1 :] @ model.c_tau.T
    criteria = CriterionDifficulties(
        code=d.criterion_codes.astype(np.int64),
        difficulty=p.delta.copy(),
        se=np.sqrt(np.maximum(np.diag(cov_full)[:ni], 0.0)),
        n=d.n_criterion.astype(np.int64),
    )
    thresholds = ScaleThresholds(
        categories=tuple(float(c) for c in d.data.categories),
        tau=tuple(float(t) for t in p.tau),
        se=tuple(float(s) for s in np.sqrt(np.maximum(np.diag(cov_tau), 0.0))),
        disordered=bool(np.any(np.diff(p.tau) <= 0)),
    )
    return SeverityResult(
        assessors=assessors,
        criteria=criteria,
        thresholds=thresholds,
        submission_mean=float(p.mu),
        submission_sd=float(p.sig),
        severity_sd=float(state.sigma_s) if d.nj > 1 or fixed_sd else float("nan"),
        loglik=float(state.loglik),
        n=d.n,
        n_submissions=d.nu,
        n_subsets=d.n_subsets,
        nodes=nodes,
        quadrature_error=float(error),
        iterations=iterations,
        converged=state.converged,
        max_change=float(state.change),
    )
