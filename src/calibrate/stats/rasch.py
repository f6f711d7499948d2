"""Many-facet Rasch measurement of rater effects (Linacre 1989; FACETS conventions).

One public function, :func:`fit_mfrm`, fits the rating-scale or partial-credit many-facet Rasch
model to long, sparse ratings (``unit``, ``rater``, ``criterion``, ``value`` and an optional extra
facet) by joint maximum likelihood, as the FACETS program does, and returns a
:class:`RaschResult`: measures, standard errors and fit for every submission, assessor, criterion
(and extra-facet element), facet separation and reliability, assessor x criterion (and assessor x
extra-facet) bias terms, category statistics and the connected subsets of the design.

References
----------
.. [1] Linacre, J. M. (1989, 2nd ed. 1994). *Many-facet Rasch measurement*. Chicago: MESA Press.
.. [2] Linacre, J. M. *A user's guide to FACETS: Rasch-model computer programs* (program manual),
   Winsteps.com. Tables 7 (measurement report), 8 (category statistics), 13-14 (bias).
.. [3] Wright, B. D., & Masters, G. N. (1982). *Rating scale analysis*. Chicago: MESA Press.
.. [4] Myford, C. M., & Wolfe, E. W. (2003). Detecting and measuring rater effects using
   many-facet Rasch measurement: Part I. *Journal of Applied Measurement, 4*(4), 386-422.
.. [5] Myford, C. M., & Wolfe, E. W. (2004). Detecting and measuring rater effects using
   many-facet Rasch measurement: Part II. *Journal of Applied Measurement, 5*(2), 189-227.
.. [6] Eckes, T. (2015). *Introduction to many-facet Rasch measurement* (2nd ed.).
   Frankfurt am Main: Peter Lang.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import cg, splu

from calibrate.errors import StatisticsError
from calibrate.stats._distributions import chi2_sf, t_sf
from calibrate.stats._input import Progress, codes, long_ratings

__all__ = [
    "JOINT_SE_LIMIT",
    "MAX_ITER",
    "TOL",
    "BiasTerm",
    "CategoryStatistics",
    "Element",
    "FacetReport",
    "Model",
    "Progress",
    "RaschResult",
    "Subset",
    "Thresholds",
    "fit_mfrm",
]

Model = Literal["rating-scale", "partial-credit"]
Status = Literal["estimated", "extreme_min", "extreme_max", "anchored"]
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

EXTREME_ADJUSTMENT = 0.3
"""Score points by which an extreme score is pulled inward before estimation (FACETS Xtreme=)."""

_MAX_STEP = 1.0  # largest Newton step in logits per iteration (FACETS-style damping)
_DIRECT_LIMIT = 3000  # unknowns of the reduced Newton system solved by sparse LU
JOINT_SE_LIMIT = _DIRECT_LIMIT  # joint standard errors: one dense inverse up to this size
MAX_ITER = 500  # default joint iterations
TOL = 1e-4  # default convergence: largest change in logits
JointSE = Literal["computed", "fixed", "too_large", "singular"]


@dataclass(frozen=True)
class Element:
    """One element (a submission, assessor, criterion or extra-facet element) of a facet.

    Attributes
    ----------
    code : int
        The element's code in the input arrays.
    measure : float
        Logits. Submissions: ability (positive = more able). Criteria: difficulty, assessors:
        severity, extra facet: difficulty (positive = harder / harsher = lower ratings).
    se : float
        Model standard error, ``1 / sqrt(information)`` (FACETS' "Model S.E."): the other
        measures taken as known.
    se_joint : float
        Standard error from the joint information with the submission measures profiled out
        (assessors, criteria and the extra facet; NaN for submissions, extreme or anchored
        elements, and designs over 3,000 assessors + criteria + facet elements). In the sparse
        live design each submission rests on few ratings and the model SE understates the
        uncertainty of severities; this one does not (see Notes of :func:`fit_mfrm`).
    infit, outfit : float
        Information-weighted and unweighted mean-square fit (expected 1; NaN for extreme
        elements, whose residuals carry no information).
    infit_z, outfit_z : float
        The mean squares standardized with the Wilson-Hilferty cube-root transformation (ZSTD).
    observed_average : float
        Mean of the element's ratings, in the input's score units.
    fair_average : float
        FACETS Fair(M) average: the expected rating for this element with every other facet at
        the mean of its measures, in the input's score units.
    n : int
        Number of ratings of the element.
    status : {"estimated", "extreme_min", "extreme_max", "anchored"}
        ``extreme_*``: every rating in the lowest (highest) category; estimated after the others
        from the score moved inward by :data:`EXTREME_ADJUSTMENT`. ``anchored``: an extra-facet
        element held at 0 because its facet is nested in submissions or assessors.
    subset : int
        Index of the connected subset of the design the element belongs to (-1 when it has no
        rating linked to the rest of the design, e.g. an extreme submission).
    """

    code: int
    measure: float
    se: float
    se_joint: float
    infit: float
    outfit: float
    infit_z: float
    outfit_z: float
    observed_average: float
    fair_average: float
    n: int
    status: Status
    subset: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class FacetReport:
    """The elements of one facet with its summary statistics (FACETS Table 7).

    Summary statistics use the estimated (non-extreme, non-anchored) elements.

    Attributes
    ----------
    name : str
        ``"submission"``, ``"assessor"``, ``"criterion"`` or the extra facet's name.
    elements : tuple of Element
        In code order.
    mean, sd : float
        Mean and population standard deviation of the measures.
    rmse : float
        Root mean square of the standard errors.
    true_sd : float
        ``sqrt(max(sd**2 - rmse**2, 0))``.
    separation, strata, reliability : float
        ``G = true_sd / rmse``, ``(4G + 1) / 3`` and ``true_sd**2 / sd**2`` (NaN when ``sd == 0``).
    chi_square, df, p : float, int, float
        Fixed (all same) chi-square test that the elements share one measure.
    """

    name: str
    elements: tuple[Element, ...]
    mean: float
    sd: float
    rmse: float
    true_sd: float
    separation: float
    strata: float
    reliability: float
    chi_square: float
    df: int
    p: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``elements`` becomes a list of dicts."""
        out = {k: v for k, v in asdict(self).items() if k != "elements"}
        out["elements"] = [e.to_dict() for e in self.elements]
        return out


@dataclass(frozen=True)
class Thresholds:
    """Rasch-Andrich thresholds of one rating scale (FACETS Table 8).

    Attributes
    ----------
    criterion : int or None
        The criterion code under the partial-credit model; None for the shared rating scale.
    categories : tuple of float
        The observed categories of the scale, in the input's score units.
    tau, se : tuple of float
        Thresholds ``F_k`` between category ``k-1`` and ``k`` (k = 1..m-1), centred at 0, with
        model standard errors.
    disordered : bool
        True when some threshold is not above the previous one.
    """

    criterion: int | None
    categories: tuple[float, ...]
    tau: tuple[float, ...]
    se: tuple[float, ...]
    disordered: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class CategoryStatistics:
    """Use of one score category (FACETS Table 8).

    Attributes
    ----------
    category : float
        The score, in the input's units.
    count : int
        Ratings in the category (all ratings, extreme elements included).
    percent : float
        ``100 * count / n``.
    average_measure : float
        Mean linear predictor (ability - difficulty - severity...) of the ratings in the category
        that entered estimation (NaN when none did); it should rise with the category.
    """

    category: float
    count: int
    percent: float
    average_measure: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class BiasTerm:
    """An assessor x criterion (or assessor x extra-facet) interaction (FACETS Tables 13-14).

    Attributes
    ----------
    assessor, other : int
        The assessor code and the criterion (or extra-facet element) code.
    n : int
        Ratings in the cell.
    observed_average, expected_average : float
        Mean observed rating and mean rating expected from the main-effect measures.
    bias : float
        Logits, severity-oriented: positive = the assessor rated this cell more harshly than their
        overall severity predicts. (FACETS with its default ``Bias = Ability`` prints the opposite
        sign.)
    se, t, df, p : float, float, int, float
        Model standard error, ``t = bias / se`` with ``n - 1`` degrees of freedom and its
        two-sided p value (NaN when ``n < 2``).
    """

    assessor: int
    other: int
    n: int
    observed_average: float
    expected_average: float
    bias: float
    se: float
    t: float
    df: int
    p: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class Subset:
    """A connected subset of the design: assessors linked through shared submissions.

    Attributes
    ----------
    index : int
        Subset number (the ``subset`` of its elements).
    assessors : tuple of int
        Assessor codes in the subset.
    submissions : int
        Number of (non-extreme) submissions in the subset.
    ratings : int
        Number of ratings in the subset.
    """

    index: int
    assessors: tuple[int, ...]
    submissions: int
    ratings: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)


@dataclass(frozen=True)
class RaschResult:
    """Result of :func:`fit_mfrm`.

    Attributes
    ----------
    model : {"rating-scale", "partial-credit"}
    submissions, assessors, criteria : FacetReport
    facet : FacetReport or None
        The optional extra facet.
    thresholds : tuple of Thresholds
        One shared scale (rating-scale) or one per criterion (partial-credit).
    categories : tuple of CategoryStatistics
        Over all criteria; declared but unused categories have count 0.
    disordered : bool
        True when any scale has disordered thresholds.
    bias_criterion, bias_facet : tuple of BiasTerm
        Assessor x criterion and assessor x extra-facet interactions.
    subsets : tuple of Subset
        Connected subsets of assessors; more than one means measures are comparable only
        within a subset (see ``connected``).
    connected : bool
        True when the design forms one subset.
    n, n_estimation : int
        Ratings given, and ratings that entered estimation (those not involving an extreme
        element).
    iterations : int
    converged : bool
    max_change : float
        Largest change of any estimate (logits) in the last iteration.
    joint_se : {"computed", "fixed", "too_large", "singular"}
        Whether the elements' ``se_joint`` were computed: ``fixed`` when no assessor,
        criterion or facet measure is free (one element each), ``too_large`` over
        :data:`JOINT_SE_LIMIT` of them, ``singular`` when the information matrix cannot be
        inverted (NaN ``se_joint`` in the last three cases).
    """

    model: Model
    submissions: FacetReport
    assessors: FacetReport
    criteria: FacetReport
    facet: FacetReport | None
    thresholds: tuple[Thresholds, ...]
    categories: tuple[CategoryStatistics, ...]
    disordered: bool
    bias_criterion: tuple[BiasTerm, ...]
    bias_facet: tuple[BiasTerm, ...]
    subsets: tuple[Subset, ...]
    connected: bool
    n: int
    n_estimation: int
    iterations: int
    converged: bool
    max_change: float
    joint_se: JointSE

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (NaN stays NaN: serialise with a NaN-aware writer)."""
        return {
            "model": self.model,
            "submissions": self.submissions.to_dict(),
            "assessors": self.assessors.to_dict(),
            "criteria": self.criteria.to_dict(),
            "facet": None if self.facet is None else self.facet.to_dict(),
            "thresholds": [t.to_dict() for t in self.thresholds],
            "categories": [c.to_dict() for c in self.categories],
            "disordered": self.disordered,
            "bias_criterion": [b.to_dict() for b in self.bias_criterion],
            "bias_facet": [b.to_dict() for b in self.bias_facet],
            "subsets": [s.to_dict() for s in self.subsets],
            "connected": self.connected,
            "n": self.n,
            "n_estimation": self.n_estimation,
            "iterations": self.iterations,
            "converged": self.converged,
            "max_change": self.max_change,
            "joint_se": self.joint_se,
        }


def fit_mfrm(
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    *,
    model: Model = "rating-scale",
    facet: ArrayLike | None = None,
    facet_name: str = "facet",
    categories: Sequence[float] | None = None,
    on_disconnected: Literal["raise", "flag"] = "raise",
    max_iter: int = MAX_ITER,
    tol: float = TOL,
    progress: Progress | None = None,
) -> RaschResult:
    r"""Fit the many-facet Rasch model by joint maximum likelihood, as FACETS does.

    Parameters
    ----------
    unit, rater, criterion : array_like of int, shape (n,)
        Non-negative codes of the submission, the assessor and the rubric criterion of each
        rating (the long, sparse shape: each submission meets a few of many assessors).
    value : array_like of float, shape (n,)
        Integer category scores (any integers, e.g. 1-4). They are mapped to ``0..m-1`` by rank
        among the categories observed in the ratings that enter estimation (FACETS' default
        "ordinal" renumbering: an unused score leaves no gap); averages are reported in the
        input's units.
    model : {"rating-scale", "partial-credit"}
        One Andrich rating scale shared by all criteria, or thresholds per criterion (each
        criterion's observed categories renumbered separately).
    facet : array_like of int, shape (n,), optional
        Codes of an extra facet (time window, attempt, assessor group...), oriented like severity.
        It is measured when it links both submissions and assessors (each bipartite graph
        connected); when it is nested in submissions or in assessors (an assessor group, the
        attempt of a submission, a time window without re-scored anchors) its measures would
        be confounded with theirs, so, as a FACETS dummy facet, it is anchored at 0 and used
        only for the assessor x facet bias terms.
    facet_name : str
        Name of the extra facet in the result.
    categories : sequence of float, optional
        The scale's declared scores: every ``value`` must be one of them, and declared but
        unused scores are listed in ``categories`` of the result with count 0.
    on_disconnected : {"raise", "flag"}
        Assessors fall into disconnected subsets when no chain of shared submissions links
        them: their severities are then not comparable. ``"raise"`` (default) raises
        :class:`~calibrate.errors.StatisticsError` naming the subsets; ``"flag"`` returns the
        fit with assessors centred within each subset, ``connected=False``, and each element's
        ``subset``, so that measures are compared only within a subset.
    max_iter : int
        Maximum number of joint iterations.
    tol : float
        Convergence when no estimate moves by more than ``tol`` logits in an iteration.
    progress : callable, optional
        Called as ``progress(iteration, max_iter, "iteration 7, largest change 0.00012
        logits")`` after every iteration (:data:`~calibrate.stats.Progress`; the fit stops
        before ``max_iter`` once converged).

    Returns
    -------
    RaschResult

    Raises
    ------
    StatisticsError
        Arrays of different lengths or no ratings; negative or non-integer codes; non-integer
        or non-finite scores; a score outside ``categories``; a single category used (by a
        criterion, under the partial-credit model); nothing left once extreme elements are set
        aside; criteria that no submission links; disconnected assessors with
        ``on_disconnected="raise"``; any other design that does not identify the measures
        (a singular information matrix).

    Notes
    -----
    *Model* ([1]_, [2]_). The probability that submission :math:`n` receives category :math:`k`
    (of :math:`0..m-1`) from assessor :math:`j` on criterion :math:`i` (in extra-facet element
    :math:`g`) is

    .. math:: \log\frac{P_{nijgk}}{P_{nijg(k-1)}} = B_n - D_i - C_j - E_g - F_k,

    with :math:`F_{ik}` in place of :math:`F_k` under the partial-credit model. Submissions are
    positively oriented (ability), the other facets negatively (difficulty, severity), as in
    FACETS with ``Positive = submission``. Identification follows FACETS: criteria, assessors
    and the extra facet are centred at 0, submissions float, and each scale's thresholds sum
    to 0.

    *Estimation*: joint (unconditional) maximum likelihood, as FACETS, but with a joint rather
    than a facet-by-facet Newton-Raphson step for the measures: with residuals :math:`x - E` and
    variances :math:`W`, the step solves :math:`(X^T W X)\,\Delta = X^T (x - E)` (``X`` the
    signed design matrix). The submission block of :math:`X^T W X` is diagonal, so submissions
    are eliminated (Schur complement) and the reduced sparse system over assessors, criteria
    and the extra facet is solved by sparse LU, one element per facet held as reference and
    the facets re-centred afterwards; the step is scaled so that nothing moves more than 1
    logit. A full Newton step for the thresholds (category-count equations) follows. Joint
    steps converge in a few iterations even in sparse designs where facet-by-facet steps crawl
    along chains of assessors. All sums over ratings are segment sums (``numpy.bincount``) on
    the long arrays, so time and memory grow linearly with the ratings. Like FACETS, no
    correction is made for the statistical bias of JMLE, which spreads the measures by a factor
    of roughly :math:`L/(L-1)` when submissions have :math:`L` ratings each.

    *Extreme scores*: an element all of whose ratings are in the lowest (highest) category has
    an infinite estimate. As in FACETS, such elements are found iteratively (setting them aside
    can make others extreme), excluded while the other measures are estimated, and then
    estimated with the others held fixed from their score moved inward by 0.3 score points
    (FACETS ``Xtreme = 0.3``). They get no fit statistics and do not enter the facet summaries.

    *Few ratings*: there is no minimum count. An element with few ratings gets a large standard
    error (and, under JMLE, a stretched measure); a single rating in an end category makes it
    extreme. Sparse data can also have no finite maximum-likelihood solution although no
    element is extreme (a group of elements whose ratings are all higher than those of the
    elements they are linked to): the estimates then drift outward, and the result says
    ``converged=False``, as FACETS does with its "estimates keep increasing".

    *Residuals and fit* ([3]_ ch. 5, [2]_): with :math:`E = \sum_k kP_k`,
    :math:`W = \sum_k (k-E)^2 P_k`, :math:`C = \sum_k (k-E)^4 P_k` and :math:`z = (x-E)/\sqrt W`,

    .. math:: \text{outfit} = \frac{1}{N}\sum z^2, \qquad
              \text{infit} = \frac{\sum (x-E)^2}{\sum W},

    standardized (ZSTD) as :math:`t = (\text{MnSq}^{1/3} - 1)(3/q) + q/3` with
    :math:`q^2_{out} = \sum (C/W^2)/N^2 - 1/N` and :math:`q^2_{in} = \sum (C - W^2)/(\sum W)^2`.
    Mean squares near 1 are expected; about 0.5-1.5 is productive for measurement, values
    below 1 (overfit) in assessors suggest central tendency or halo, above 1 inconsistency
    ([4]_, [5]_). The model standard error is :math:`1/\sqrt{\sum W}`.

    *Joint standard error* (``se_joint``): the model SE holds every other measure fixed. When
    each submission has only ~10 ratings its ability is itself uncertain, and a severity
    compared through it is less certain than the model SE says (in recovery runs with two
    assessors per submission, 95% model intervals cover the true severity 74-79% of the time).
    ``se_joint`` is the square root of the diagonal of the inverse of the joint information
    :math:`X^T W X` with the submissions profiled out (the reduced matrix of the Newton step,
    Schur complement), mapped to the centred parametrisation: it covers 89-92% in the same
    runs, the rest being the JMLE stretch of the estimates (see *Estimation*).

    *Facet summaries* ([3]_ pp. 91-93, [2]_): observed (population) SD, RMSE of the standard
    errors, true SD :math:`\sqrt{SD^2 - RMSE^2}`, separation :math:`G = SD_{true}/RMSE`, strata
    :math:`(4G+1)/3`, reliability :math:`SD^2_{true}/SD^2`, and the fixed chi-square
    :math:`\sum w_j d_j^2 - (\sum w_j d_j)^2/\sum w_j` with :math:`w_j = 1/SE_j^2` on
    :math:`J - 1` degrees of freedom. For assessors, a *high* separation reliability means
    assessors differ reliably in severity, which is the finding to act on ([6]_ ch. 5).

    *Fair average*: FACETS' Fair(M): :math:`\sum_k v_k P_k` at the element's measure with the
    other facets at their mean measure, :math:`v_k` the category's score in input units
    (under the partial-credit model, averaged over the criteria's scales, except for a
    criterion, which uses its own).

    *Bias/interaction* ([2]_ Tables 13-14, [6]_ ch. 8): for each assessor x criterion cell,
    one extra term :math:`b` in the linear predictor is estimated by Newton-Raphson with all
    measures held fixed (extreme cells adjusted by 0.3 points); its SE is
    :math:`1/\sqrt{\sum W}` and :math:`t = b/SE` on :math:`n-1` degrees of freedom.

    *Category statistics*: counts, percentages, average measure of the ratings in each
    category (should increase), and the Rasch-Andrich thresholds with model SEs (the
    information of each threshold with the others fixed); thresholds that do not increase
    are flagged as disordered.

    *Connectedness*: assessors are grouped into subsets by the connected components of the
    submission-assessor bipartite graph of the ratings that enter estimation
    (``scipy.sparse.csgraph.connected_components``). The criteria must also be linked (the
    submission-criterion and assessor-criterion graphs connected), otherwise a
    :class:`~calibrate.errors.StatisticsError` is raised. Any other confounding of the main
    effects makes the reduced information matrix singular, which the sparse LU detects (also
    a :class:`~calibrate.errors.StatisticsError`).

    *Differences from FACETS*: convergence is on the largest change (``tol``, default
    0.0001 logits, stricter than FACETS' default 0.01); threshold SEs hold the other
    parameters fixed; facet summaries exclude extreme elements; the extra facet is anchored
    automatically when nested (FACETS needs it declared a dummy facet).

    Examples
    --------
    Ten submissions, each scored by the same three assessors on two criteria (scores 1-3,
    simulated with severities -0.8, 0 and 0.8 logits):

    >>> import numpy as np
    >>> unit = np.repeat(np.arange(10), 6)
    >>> rater = np.tile(np.repeat([0, 1, 2], 2), 10)
    >>> crit = np.tile([0, 1], 30)
    >>> score = [int(s) for s in "313131332211333233333212322331323223332332323233212111221311"]
    >>> res = fit_mfrm(unit, rater, crit, score)
    >>> [round(e.measure, 2) for e in res.assessors.elements]
    [-0.79, -0.01, 0.81]
    >>> res.converged, res.connected
    (True, True)
    """
    data = _validate(unit, rater, criterion, value, facet, model, categories, max_iter, tol)
    est = _Estimation(data, model, facet_name, on_disconnected)
    est.fit(max_iter, tol, progress)
    return est.result()


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class _Data:
    unit: IntArray
    rater: IntArray
    criterion: IntArray
    facet: IntArray | None
    value: FloatArray
    declared: tuple[float, ...] | None


def _validate(
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    facet: ArrayLike | None,
    model: str,
    categories: Sequence[float] | None,
    max_iter: int,
    tol: float,
) -> _Data:
    if model not in ("rating-scale", "partial-credit"):
        raise StatisticsError(f"model must be 'rating-scale' or 'partial-credit', not {model!r}")
    if max_iter < 1 or not tol > 0:
        raise StatisticsError("max_iter must be at least 1 and tol positive")
    data = long_ratings(unit, rater, criterion, value, missing="refuse")
    v = data.value
    n = v.shape[0]
    if n == 0:
        raise StatisticsError("ratings must not be empty")
    bad = np.flatnonzero(v != np.round(v))
    if bad.size:
        raise StatisticsError(
            f"scores must be integer categories; rating {int(bad[0])} is {v[bad[0]]:g}"
        )
    declared = None
    if categories is not None:
        declared = tuple(sorted({float(c) for c in categories}))
        outside = np.flatnonzero(~np.isin(v, declared))
        if outside.size:
            raise StatisticsError(
                f"scores must be one of the declared categories {declared}; "
                f"rating {int(outside[0])} is {v[outside[0]]:g}"
            )
    if np.unique(v).size < 2:
        raise StatisticsError(
            f"ratings must use at least two score categories; every score is {v[0]:g}"
        )
    return _Data(
        unit=data.unit,
        rater=cast(IntArray, data.rater),
        criterion=cast(IntArray, data.criterion),
        facet=None if facet is None else codes(facet, "facet", n),
        value=v,
        declared=declared,
    )


# --------------------------------------------------------------------------- estimation


def _moments(
    eta: FloatArray, psi: FloatArray, k: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Category probabilities P (M, n), expectation E and variance W, shape (n,).

    ``psi`` holds the cumulative thresholds, shape (M,) or (M, n); ``+inf`` marks a category
    the observation's scale lacks. Categories run along the first axis so that the reductions
    over them are element-wise operations on contiguous rows.
    """
    p = np.multiply.outer(k, eta)
    p -= psi if psi.ndim == 2 else psi[:, None]
    p -= p.max(axis=0)
    np.exp(p, out=p)
    p /= p.sum(axis=0)
    e = k @ p
    w = (k * k) @ p - e * e
    np.maximum(w, 1e-12, out=w)
    return p, e, w


def _psi(tau: FloatArray) -> FloatArray:
    """Cumulative thresholds ``psi_k = sum_{j<=k} F_j`` with ``psi_0 = 0``; shape (G, M)."""
    return np.concatenate([np.zeros((tau.shape[0], 1)), np.cumsum(tau, axis=1)], axis=1)


class _Estimation:
    """State of one JMLE fit; see :func:`fit_mfrm`."""

    def __init__(self, data: _Data, model: Model, facet_name: str, on_disconnected: str) -> None:
        self.d = data
        self.model: Model = model
        self.facet_name = facet_name
        self.on_disconnected = on_disconnected
        self.n = data.value.shape[0]
        # facet index arrays and orientation (+1 ability, -1 difficulty/severity)
        self.idx: list[IntArray] = [data.unit, data.rater, data.criterion]
        if data.facet is not None:
            self.idx.append(data.facet)
        self.sign = np.array([1.0, -1.0, -1.0, -1.0][: len(self.idx)])
        self.size = [int(a.max()) + 1 for a in self.idx]
        self.group = data.criterion if model == "partial-credit" else np.zeros(self.n, np.int64)
        self.n_groups = int(self.group.max()) + 1
        self._scale_and_extremes()
        self._design()
        self.theta = [np.zeros(s) for s in self.size]
        self.iterations = 0
        self.converged = False
        self.max_change = float("nan")

    # ---------------------------------------------------------------- categories, extremes

    def _scale_and_extremes(self) -> None:
        """Ordinal categories per scale and extreme elements, iterated to a fixed point."""
        active = np.ones(self.n, dtype=bool)
        extreme = [np.zeros(s, dtype=np.int8) for s in self.size]  # -1 min, +1 max
        while True:
            cats = self._categories(active)
            x, top = self._ordinal(cats)
            changed = False
            for f, ix in enumerate(self.idx[:3]):  # the extra facet is crossed by design
                score = np.bincount(ix[active], x[active], minlength=self.size[f])
                most = np.bincount(ix[active], top[active], minlength=self.size[f])
                has = np.bincount(ix[active], minlength=self.size[f]) > 0
                lo = has & (score == 0)
                hi = has & (score == most)
                new = (lo | hi) & (extreme[f] == 0)
                if new.any():
                    extreme[f][lo & new] = -1
                    extreme[f][hi & new] = 1
                    active &= ~new[ix]
                    changed = True
            if not changed:
                break
            if not active.any():
                raise StatisticsError(
                    "no ratings left once extreme elements are set aside: every submission "
                    "(or assessor, or criterion) has all its ratings in the lowest or the "
                    "highest category"
                )
        present = np.bincount(self.group, minlength=self.n_groups) > 0
        used = np.bincount(self.group[active], minlength=self.n_groups) > 0
        for g in range(self.n_groups):
            if present[g] and (not used[g] or len(cats[g]) == 1):
                raise StatisticsError(
                    f"criterion {g} uses a single category once extreme elements are set "
                    "aside; the partial-credit model needs at least two per criterion "
                    "(use model='rating-scale')"
                )
        self.groups_used = np.flatnonzero(used)
        self.active = active
        self.extreme = extreme
        self.cats = cats
        self.x, self.top = x, top
        self.m = max(len(c) for c in cats)
        self.k = np.arange(self.m, dtype=np.float64)
        # category values in input units, padded (G, M); unavailable categories get +inf psi
        self.values = np.zeros((self.n_groups, self.m))
        self.valid = np.zeros((self.n_groups, self.m), dtype=bool)
        for g, c in enumerate(cats):
            self.values[g, : len(c)] = c
            self.valid[g, : len(c)] = used[g]

    def _categories(self, active: NDArray[np.bool_]) -> list[FloatArray]:
        cats: list[FloatArray] = []
        for g in range(self.n_groups):
            sel = active & (self.group == g) if self.n_groups > 1 else active
            # a criterion without ratings keeps a placeholder scale that no rating uses
            cats.append(np.unique(self.d.value[sel]) if sel.any() else np.unique(self.d.value))
        return cats

    def _ordinal(self, cats: list[FloatArray]) -> tuple[FloatArray, FloatArray]:
        """Category index x and the scale's top index, per rating (values outside clip)."""
        x = np.empty(self.n)
        top = np.empty(self.n)
        for g, c in enumerate(cats):
            sel = self.group == g if self.n_groups > 1 else slice(None)
            x[sel] = np.clip(np.searchsorted(c, self.d.value[sel]), 0, len(c) - 1)
            top[sel] = len(c) - 1
        return x, top

    # ---------------------------------------------------------------- design connectivity

    def _design(self) -> None:
        a = self.active
        u, r, c = self.d.unit[a], self.d.rater[a], self.d.criterion[a]
        nu, nr, nc = self.size[0], self.size[1], self.size[2]
        # criteria must be linked through submissions and through assessors
        for name, left, nl in (("submissions", u, nu), ("assessors", r, nr)):
            ncomp, lab = _components(left, c, nl, nc)
            crit_lab = lab[nl:][np.bincount(c, minlength=nc) > 0]
            if np.unique(crit_lab).size > 1:
                raise StatisticsError(
                    f"criteria are not linked through {name}: some criteria are never scored "
                    f"by the same {name} as the others, so their difficulties cannot be "
                    "compared"
                )
        ncomp, lab = _components(u, r, nu, nr)
        rater_lab = lab[nu:]
        used_r = np.bincount(r, minlength=nr) > 0
        comps = np.unique(rater_lab[used_r])
        remap = np.full(ncomp, -1, dtype=np.int64)
        remap[comps] = np.arange(comps.size)
        unit_sub = np.where(np.bincount(u, minlength=nu) > 0, remap[lab[:nu]], -1)
        rater_sub = np.where(used_r, remap[rater_lab], -1)
        self.unit_subset, self.rater_subset = unit_sub, rater_sub
        self.n_subsets = comps.size
        if self.n_subsets > 1 and self.on_disconnected == "raise":
            sizes = np.bincount(rater_sub[used_r], minlength=self.n_subsets)
            raise StatisticsError(
                f"the design falls into {self.n_subsets} disconnected subsets of assessors "
                f"(sizes {sorted(sizes.tolist(), reverse=True)}): no chain of shared "
                "submissions links them, so their severities are not comparable; add "
                "double-scored links or fit with on_disconnected='flag'"
            )
        # the extra facet is measured only when it links submissions and assessors
        self.facet_measured = False
        if self.d.facet is not None:
            g = self.d.facet[a]
            ng = self.size[3]
            used = np.bincount(g, minlength=ng) > 0
            linked = True
            for left, nl in ((u, nu), (r, nr)):
                _, lab2 = _components(left, g, nl, ng)
                linked &= np.unique(lab2[nl:][used]).size == 1
            self.facet_measured = bool(linked and np.count_nonzero(used) > 1)

    # ---------------------------------------------------------------- JMLE

    def _eta(self, sel: NDArray[np.bool_] | slice = slice(None)) -> FloatArray:
        eta = np.zeros(self.n)[sel]
        for f, ix in enumerate(self.idx):
            eta += self.sign[f] * self.theta[f][ix[sel]]
        return eta

    def _psi_valid(self) -> FloatArray:
        """Cumulative thresholds per scale, +inf for categories a scale does not have."""
        psi = _psi(self.tau)
        psi[~self.valid] = np.inf
        return psi

    def _psi_rows(self, sel: NDArray[np.bool_] | slice) -> FloatArray:
        psi = self._psi_valid()
        rows: FloatArray = psi[0] if self.n_groups == 1 else psi.T[:, self.group[sel]]
        return rows

    def _start(self) -> None:
        a = self.active
        x, top = self.x[a], self.top[a]
        for f, ix in enumerate(self.idx):
            if f == 3 and not self.facet_measured:
                continue
            i = ix[a]
            s = np.bincount(i, x, minlength=self.size[f]) + 0.5
            t = np.bincount(i, top, minlength=self.size[f]) + 1.0
            lo = np.log(s / (t - s + 1e-9))
            lo[np.bincount(i, minlength=self.size[f]) == 0] = 0.0
            self.theta[f] = self.sign[f] * lo
            self._centre(f)
        # thresholds from adjacent category counts: F_k = log(N_{k-1} / N_k)
        g = self.group[a]
        counts = np.zeros((self.n_groups, self.m))
        np.add.at(counts, (g, x.astype(np.int64)), 1.0)
        tau = np.log((counts[:, :-1] + 0.5) / (counts[:, 1:] + 0.5))
        self.tau = self._centre_tau(tau)

    def _centre_tau(self, tau: FloatArray) -> FloatArray:
        valid = self.valid[:, 1:]
        tau = np.where(valid, tau, 0.0)
        mean = tau.sum(axis=1, keepdims=True) / np.maximum(valid.sum(axis=1, keepdims=True), 1)
        return np.where(valid, tau - mean, 0.0)

    def _centre(self, f: int, compensate: bool = False) -> None:
        """Centre facet ``f`` at 0 over its estimated elements (assessors within each subset);
        with ``compensate`` the submissions move too, so that no linear predictor changes."""
        if f == 0:
            return
        th = self.theta[f]
        ix = self.idx[f][self.active]
        used = np.bincount(ix, minlength=self.size[f]) > 0
        est = used & (self.extreme[f] == 0)
        if f == 1 and self.n_subsets > 1:
            sub = self.rater_subset
            for s in range(self.n_subsets):
                m = est & (sub == s)
                if m.any():
                    shift = th[m].mean()
                    th[sub == s] -= shift
                    if compensate:
                        self.theta[0][self.unit_subset == s] -= shift
        elif est.any():
            shift = th[est].mean()
            th -= shift
            if compensate:
                self.theta[0] -= shift

    def fit(self, max_iter: int, tol: float, progress: Progress | None) -> None:
        self._start()
        a = self.active
        x = self.x[a]
        group = self.group[a]
        system = _NewtonSystem(self)
        obs_ge = np.zeros((self.n_groups, self.m - 1))
        for kk in range(1, self.m):
            obs_ge[:, kk - 1] = np.bincount(group, x >= kk, minlength=self.n_groups)
        for it in range(1, max_iter + 1):
            eta = self._eta(a)
            psi = self._psi_rows(a)
            _, e, w = _moments(eta, psi, self.k)
            change = system.step(x - e, w)
            p, _, _ = _moments(self._eta(a), psi, self.k)
            change = max(change, self._threshold_step(p, group, obs_ge))
            self.iterations, self.max_change = it, change
            if progress is not None:
                progress(it, max_iter, f"iteration {it}, largest change {change:.5f} logits")
            if change < tol:
                self.converged = True
                break
        self.system = system
        self._fit_extremes()

    def _cumulative(self, p: FloatArray) -> FloatArray:
        """``S[k-1] = P(X >= k)`` for k = 1..M-1, shape (M-1, n)."""
        return np.cumsum(p[::-1], axis=0)[::-1][1:]

    def _threshold_info(self, p: FloatArray, group: IntArray) -> tuple[FloatArray, FloatArray]:
        """Expected counts at or above each step (G, M-1) and their information (G, M-1, M-1)."""
        s = self._cumulative(p)
        mm = self.m - 1
        exp_ge = np.stack(
            [np.bincount(group, s[j], minlength=self.n_groups) for j in range(mm)], axis=1
        ).astype(np.float64)
        h = np.zeros((self.n_groups, mm, mm))
        for j in range(mm):
            for kk in range(j, mm):
                # Cov([X>=j], [X>=k]) = P(X >= max(j,k)) - P(X>=j) P(X>=k)
                v = np.bincount(group, s[kk] - s[j] * s[kk], minlength=self.n_groups)
                h[:, j, kk] = h[:, kk, j] = v
        return exp_ge, h

    def _threshold_step(self, p: FloatArray, group: IntArray, obs_ge: FloatArray) -> float:
        exp_ge, h = self._threshold_info(p, group)
        valid = self.valid[:, 1:]
        g = np.where(valid, exp_ge - obs_ge, 0.0)
        eye = np.broadcast_to(np.eye(self.m - 1), h.shape)
        invalid2 = ~(valid[:, :, None] & valid[:, None, :])
        h = np.where(invalid2, eye, h)
        step = np.linalg.solve(h, g[..., None])[..., 0]
        step = np.clip(step, -_MAX_STEP, _MAX_STEP)
        new = self._centre_tau(self.tau + step)
        # F_k - c for all k equals a linear predictor lower by c: keep the predictions
        shift = (self.tau + step - new)[:, 0]
        if self.n_groups == 1:
            self.theta[0] -= shift[0]
        else:
            self.theta[2] += shift
            self._centre(2, compensate=True)
        change = float(np.abs(step).max())
        self.tau = new
        return change

    def _fit_extremes(self) -> None:
        """Estimate extreme elements (and elements left without active ratings), others fixed."""
        pending = []
        for f, ix in enumerate(self.idx):
            if f == 3 and not self.facet_measured:
                continue
            has_active = np.bincount(ix[self.active], minlength=self.size[f]) > 0
            present = np.bincount(ix, minlength=self.size[f]) > 0
            todo = present & ~has_active
            if todo.any():
                pending.append((f, todo))
                # an element left without active ratings is extreme if all its ratings are
                # (e.g. an assessor who scored only extreme submissions, all in the end category)
                if f < 3:
                    score = np.bincount(ix, self.x, minlength=self.size[f])
                    most = np.bincount(ix, self.top, minlength=self.size[f])
                    fresh = todo & (self.extreme[f] == 0)
                    self.extreme[f][fresh & (score == 0)] = -1
                    self.extreme[f][fresh & (score == most)] = 1
                # start just beyond the estimated range in the extreme's direction
                th = self.theta[f]
                ref = th[has_active] if has_active.any() else np.zeros(1)
                direction = self.sign[f] * self.extreme[f].astype(np.float64)
                th[todo] = np.where(
                    direction[todo] > 0,
                    ref.max() + 1.0,
                    np.where(direction[todo] < 0, ref.min() - 1.0, ref.mean()),
                )
        if not pending:
            return
        for _ in range(100):
            change = 0.0
            for f, todo in pending:
                sel = todo[self.idx[f]]
                i = self.idx[f][sel]
                _, e, w = _moments(self._eta(sel), self._psi_rows(sel), self.k)
                size = self.size[f]
                score = np.bincount(i, self.x[sel], minlength=size)
                most = np.bincount(i, self.top[sel], minlength=size)
                target = np.where(
                    self.extreme[f] > 0,
                    score - EXTREME_ADJUSTMENT,
                    np.where(self.extreme[f] < 0, score + EXTREME_ADJUSTMENT, score),
                )
                target = np.clip(
                    target,
                    EXTREME_ADJUSTMENT,
                    np.maximum(most - EXTREME_ADJUSTMENT, EXTREME_ADJUSTMENT),
                )
                res = target - np.bincount(i, e, minlength=size)
                info = np.bincount(i, w, minlength=size)
                step = np.zeros(size)
                ok = todo & (info > 0)
                step[ok] = np.clip(res[ok] / info[ok], -_MAX_STEP, _MAX_STEP)
                self.theta[f] += self.sign[f] * step
                change = max(change, float(np.abs(step).max()))
            if change < 1e-6:
                break

    # ---------------------------------------------------------------- reporting

    def result(self) -> RaschResult:
        d = self.d
        eta = self._eta()
        psi = self._psi_rows(slice(None))
        p, e, w = _moments(eta, psi, self.k)
        dev = self.k[:, None] - e
        c4 = np.einsum("kn,kn->n", p, dev**4)
        del dev
        if self.n_groups > 1:
            exp_value = np.einsum("kn,kn->n", p, self.values.T[:, self.group])
        else:
            exp_value = self.values[0] @ p
        del p
        y = self.x - e
        # extremes moved after the fit touch no active rating: w of those is the final one
        self.joint_var, joint_se = self.system.joint_variances(w[self.active])
        reports = []
        names = ["submission", "assessor", "criterion", self.facet_name]
        means = [
            float(np.mean(th[np.bincount(ix, minlength=s) > 0]))
            for th, ix, s in zip(self.theta, self.idx, self.size, strict=True)
        ]
        for f, ix in enumerate(self.idx):
            reports.append(self._facet_report(f, names[f], ix, y, w, c4, means))
        thresholds = self._thresholds()
        bias_c = self._bias(self.d.criterion, eta, exp_value)
        bias_f = () if d.facet is None else self._bias(d.facet, eta, exp_value)
        subsets = self._subsets()
        return RaschResult(
            model=self.model,
            submissions=reports[0],
            assessors=reports[1],
            criteria=reports[2],
            facet=reports[3] if d.facet is not None else None,
            thresholds=thresholds,
            categories=self._category_stats(eta),
            disordered=any(t.disordered for t in thresholds),
            bias_criterion=bias_c,
            bias_facet=bias_f,
            subsets=subsets,
            connected=self.n_subsets == 1,
            n=self.n,
            n_estimation=int(self.active.sum()),
            iterations=self.iterations,
            converged=self.converged,
            max_change=self.max_change,
            joint_se=joint_se,
        )

    def _facet_report(
        self,
        f: int,
        name: str,
        ix: IntArray,
        y: FloatArray,
        w: FloatArray,
        c4: FloatArray,
        means: list[float],
    ) -> FacetReport:
        size = self.size[f]
        a = self.active
        n_all = np.bincount(ix, minlength=size)
        present = n_all > 0
        ia = ix[a]
        na = np.bincount(ia, minlength=size).astype(np.float64)
        wa = np.bincount(ia, w[a], minlength=size)
        w_all = np.bincount(ix, w, minlength=size)
        z2 = y[a] ** 2 / w[a]
        outfit = _div(np.bincount(ia, z2, minlength=size), na)
        infit = _div(np.bincount(ia, y[a] ** 2, minlength=size), wa)
        q_out = np.sqrt(
            np.maximum(
                _div(np.bincount(ia, c4[a] / w[a] ** 2, minlength=size), na**2) - _div(1.0, na), 0
            )
        )
        q_in = np.sqrt(
            np.maximum(_div(np.bincount(ia, c4[a] - w[a] ** 2, minlength=size), wa**2), 0)
        )
        anchored = f == 3 and not self.facet_measured
        se = np.where(anchored, np.nan, 1.0 / np.sqrt(np.where(wa > 0, wa, w_all)))
        status = np.array(["estimated"] * size, dtype=object)
        if anchored:
            status[:] = "anchored"
        else:
            status[self.extreme[f] < 0] = "extreme_min"
            status[self.extreme[f] > 0] = "extreme_max"
        no_fit = (status == "extreme_min") | (status == "extreme_max") | (na == 0)
        infit[no_fit] = outfit[no_fit] = np.nan
        infit_z, outfit_z = _zstd(infit, q_in), _zstd(outfit, q_out)
        se_joint = np.sqrt(self.joint_var[f - 1]) if f else np.full(size, np.nan)
        obs_avg = _div(np.bincount(ix, self.d.value, minlength=size), n_all.astype(np.float64))
        fair = self._fair(f, means)
        if f == 0:
            subset = self.unit_subset
        elif f == 1:
            subset = self.rater_subset
        else:
            subset = np.zeros(size, dtype=np.int64)
        th = self.theta[f]
        elements = tuple(
            Element(
                code=int(j),
                measure=float(th[j]),
                se=float(se[j]),
                se_joint=float(se_joint[j]),
                infit=float(infit[j]),
                outfit=float(outfit[j]),
                infit_z=float(infit_z[j]),
                outfit_z=float(outfit_z[j]),
                observed_average=float(obs_avg[j]),
                fair_average=float(fair[j]),
                n=int(n_all[j]),
                status=status[j],
                subset=int(subset[j]),
            )
            for j in np.flatnonzero(present)
        )
        est = present & (status == "estimated") & np.isfinite(se)
        return _summary(name, elements, th[est], se[est])

    def _expected_value(self, eta: FloatArray, groups: Sequence[int]) -> FloatArray:
        """Expected score in input units at each ``eta``, averaged over the given scales."""
        psi = self._psi_valid()
        out = np.zeros(eta.shape[0])
        for g in groups:
            p, _, _ = _moments(eta, psi[g], self.k)
            out += self.values[g] @ p
        return out / len(groups)

    def _fair(self, f: int, means: list[float]) -> FloatArray:
        base = sum(
            self.sign[h] * means[h]
            for h in range(len(self.idx))
            if h != f and not (h == 3 and not self.facet_measured)
        )
        eta = base + self.sign[f] * self.theta[f]
        if self.n_groups == 1:
            return self._expected_value(eta, [0])
        if f == 2:
            out = np.zeros(self.size[2])
            for g in range(self.n_groups):
                out[g] = self._expected_value(eta[g : g + 1], [g])[0]
            return out
        return self._expected_value(eta, self.groups_used.tolist())

    def _thresholds(self) -> tuple[Thresholds, ...]:
        a = self.active
        p, _, _ = _moments(self._eta(a), self._psi_rows(a), self.k)
        _, h = self._threshold_info(p, self.group[a])
        out = []
        for g in self.groups_used.tolist():
            mg = len(self.cats[g]) - 1
            tau = self.tau[g, :mg]
            info = np.diagonal(h[g])[:mg]
            se = np.where(info > 0, 1.0 / np.sqrt(np.where(info > 0, info, 1.0)), np.nan)
            out.append(
                Thresholds(
                    criterion=g if self.model == "partial-credit" else None,
                    categories=tuple(float(c) for c in self.cats[g]),
                    tau=tuple(float(t) for t in tau),
                    se=tuple(float(s) for s in se),
                    disordered=bool(np.any(np.diff(tau) <= 0)),
                )
            )
        return tuple(out)

    def _category_stats(self, eta: FloatArray) -> tuple[CategoryStatistics, ...]:
        v = self.d.value
        cats = np.unique(v)
        if self.d.declared is not None:
            cats = np.asarray(self.d.declared)
        a = self.active
        pos = np.searchsorted(cats, v)
        count = np.bincount(pos, minlength=cats.size)
        n_act = np.bincount(pos[a], minlength=cats.size).astype(np.float64)
        avg = _div(np.bincount(pos[a], eta[a], minlength=cats.size), n_act)
        return tuple(
            CategoryStatistics(
                category=float(c),
                count=int(count[j]),
                percent=float(100.0 * count[j] / self.n),
                average_measure=float(avg[j]),
            )
            for j, c in enumerate(cats)
        )

    def _bias(
        self, other: IntArray, eta: FloatArray, exp_value: FloatArray
    ) -> tuple[BiasTerm, ...]:
        a = self.active
        r, o = self.d.rater[a], other[a]
        n_other = int(other.max()) + 1
        cell_all = r * n_other + o
        cells, cell = np.unique(cell_all, return_inverse=True)
        nc = cells.size
        x, top, eta_a = self.x[a], self.top[a], eta[a]
        psi = self._psi_rows(a)
        n = np.bincount(cell, minlength=nc).astype(np.float64)
        score = np.bincount(cell, x, minlength=nc)
        most = np.bincount(cell, top, minlength=nc)
        target = np.where(
            score == 0,
            EXTREME_ADJUSTMENT,
            np.where(score == most, score - EXTREME_ADJUSTMENT, score),
        )
        b = np.zeros(nc)
        for _ in range(50):
            _, e, w = _moments(eta_a - b[cell], psi, self.k)
            res = np.bincount(cell, e, minlength=nc) - target
            info = np.bincount(cell, w, minlength=nc)
            step = np.clip(res / info, -_MAX_STEP, _MAX_STEP)
            b += step
            if np.abs(step).max() < 1e-7:
                break
        _, _, w = _moments(eta_a - b[cell], psi, self.k)
        se = 1.0 / np.sqrt(np.bincount(cell, w, minlength=nc))
        obs = np.bincount(cell, self.d.value[a], minlength=nc) / n
        expv = np.bincount(cell, exp_value[a], minlength=nc) / n
        t = b / se
        df = n.astype(np.int64) - 1
        pval = np.where(df > 0, 2.0 * t_sf(np.abs(t), np.maximum(df, 1)), np.nan)
        return tuple(
            BiasTerm(
                assessor=int(cells[j] // n_other),
                other=int(cells[j] % n_other),
                n=int(n[j]),
                observed_average=float(obs[j]),
                expected_average=float(expv[j]),
                bias=float(b[j]),
                se=float(se[j]),
                t=float(t[j]),
                df=int(df[j]),
                p=float(pval[j]),
            )
            for j in range(nc)
        )

    def _subsets(self) -> tuple[Subset, ...]:
        a = self.active
        sub_of_rating = self.rater_subset[self.d.rater[a]]
        ratings = np.bincount(sub_of_rating, minlength=self.n_subsets)
        units = np.bincount(self.unit_subset[self.unit_subset >= 0], minlength=self.n_subsets)
        return tuple(
            Subset(
                index=s,
                assessors=tuple(int(j) for j in np.flatnonzero(self.rater_subset == s)),
                submissions=int(units[s]),
                ratings=int(ratings[s]),
            )
            for s in range(self.n_subsets)
        )


class _NewtonSystem:
    """Joint Newton-Raphson step for all linear parameters (submissions eliminated).

    The information matrix of the linear parameters is :math:`X^T W X` (``X`` the signed design
    matrix). Its submission block is diagonal, so the submissions are eliminated (Schur
    complement) and the reduced system over assessors, criteria and the extra facet is solved
    by sparse LU, one reference element per facet (per subset of assessors) held fixed; the
    submission steps follow by back-substitution. A singular reduced system means that the
    design does not identify the measures.
    """

    def __init__(self, est: _Estimation) -> None:
        self.est = est
        a = est.active
        self.u = est.idx[0][a]
        self.nu = est.size[0]
        facets = [1, 2] + ([3] if est.facet_measured else [])
        self.facets = facets
        self.var: list[IntArray] = []  # per facet: element -> variable (-1 when fixed)
        self.obs_var: list[IntArray] = []  # per facet: rating -> variable (-1 when fixed)
        self.free: list[NDArray[np.bool_]] = []
        offset = 0
        for f in facets:
            ix = est.idx[f][a]
            used = np.bincount(ix, minlength=est.size[f]) > 0
            free = used.copy()
            if f == 1:
                for s in range(est.n_subsets):
                    members = np.flatnonzero(used & (est.rater_subset == s))
                    free[members[0]] = False
            else:
                free[np.flatnonzero(used)[0]] = False
            var = np.full(est.size[f], -1, dtype=np.int64)
            var[free] = offset + np.arange(int(free.sum()))
            offset += int(free.sum())
            self.var.append(var)
            self.obs_var.append(var[ix])
            self.free.append(free)
        self.nq = offset
        # fixed sparsity patterns: links submission-variable (C) and variable-variable across
        # facets (upper triangle of A); values are re-summed each iteration with bincount
        self.c_pattern = _Pattern(
            np.concatenate([self.u[q >= 0] for q in self.obs_var]),
            np.concatenate([q[q >= 0] for q in self.obs_var]),
            (self.nu, self.nq),
        )
        self.c_mask = [q >= 0 for q in self.obs_var]
        pairs = [
            (fi, fj) for fi in range(len(self.obs_var)) for fj in range(fi + 1, len(self.obs_var))
        ]
        self.pair_mask = [(self.obs_var[i] >= 0) & (self.obs_var[j] >= 0) for i, j in pairs]
        self.a_pattern = _Pattern(
            np.concatenate(
                [self.obs_var[i][m] for (i, _), m in zip(pairs, self.pair_mask, strict=True)]
                or [np.zeros(0, np.int64)]
            ),
            np.concatenate(
                [self.obs_var[j][m] for (_, j), m in zip(pairs, self.pair_mask, strict=True)]
                or [np.zeros(0, np.int64)]
            ),
            (self.nq, self.nq),
        )

    def step(self, res: FloatArray, w: FloatArray) -> float:
        """Apply one joint Newton step (scaled to move nothing by more than 1 logit);
        return the largest change (logits)."""
        est, u, nu, nq = self.est, self.u, self.nu, self.nq
        g_u = np.bincount(u, res, minlength=nu)
        g_q = np.zeros(nq)
        for q, ok in zip(self.obs_var, self.c_mask, strict=True):
            g_q -= np.bincount(q[ok], res[ok], minlength=nq)
        schur, c, inv_d = self._reduced(w)
        rhs = g_q - c.T @ (g_u * inv_d)
        dq = _solve_spd(schur, rhs)
        du = (g_u - c @ dq) * inv_d
        largest = max(float(np.abs(dq).max(initial=0.0)), float(np.abs(du).max(initial=0.0)))
        scale = min(1.0, _MAX_STEP / largest) if largest > 0 else 1.0
        est.theta[0] += scale * du
        change = scale * largest
        for fi, f in enumerate(self.facets):
            free = self.free[fi]
            delta = np.zeros(est.size[f])
            delta[free] = scale * dq[self.var[fi][free]]
            est.theta[f] += delta  # dq is the parameter change itself (X = -1)
            est._centre(f, compensate=True)
        return change

    def _reduced(self, w: FloatArray) -> tuple[sparse.csc_matrix, sparse.csr_matrix, FloatArray]:
        """The reduced information matrix (submissions eliminated), the submission-variable
        block ``C`` and the inverse submission information."""
        nq = self.nq
        diag = np.zeros(nq)
        for q, ok in zip(self.obs_var, self.c_mask, strict=True):
            diag += np.bincount(q[ok], w[ok], minlength=nq)
        c = self.c_pattern.matrix(-np.concatenate([w[ok] for ok in self.c_mask]))
        upper = self.a_pattern.matrix(
            np.concatenate([w[m] for m in self.pair_mask] or [np.zeros(0)])
        )
        d_u = np.bincount(self.u, w, minlength=self.nu)
        inv_d = 1.0 / np.where(d_u > 0, d_u, np.inf)
        cs = sparse.diags(np.sqrt(inv_d)) @ c
        return (sparse.diags(diag) + upper + upper.T - cs.T @ cs).tocsc(), c, inv_d

    def joint_variances(self, w: FloatArray) -> tuple[list[FloatArray], JointSE]:
        """Per facet after the submissions (assessor, criterion, extra facet): the sampling
        variance of each centred measure from the joint information with the submissions
        profiled out (the inverse of the reduced matrix, mapped from reference-element to
        centred parametrisation), and whether they could be computed (see
        :attr:`RaschResult.joint_se`); NaN for elements not estimated, and for all unless
        computed."""
        est = self.est
        out = [np.full(size, np.nan) for size in est.size[1:]]
        if self.nq == 0:
            return out, "fixed"
        if self.nq > JOINT_SE_LIMIT:
            return out, "too_large"
        try:
            cov = np.linalg.inv(self._reduced(w)[0].toarray())
        except np.linalg.LinAlgError:
            return out, "singular"
        for fi, f in enumerate(self.facets):
            ix = est.idx[f][est.active]
            used = (np.bincount(ix, minlength=est.size[f]) > 0) & (est.extreme[f] == 0)
            groups = est.rater_subset if f == 1 else np.zeros(est.size[f], dtype=np.int64)
            var = self.var[fi]
            for g in np.unique(groups[used]):
                members = np.flatnonzero(used & (groups == g))
                v = var[members]  # -1: the reference element, fixed at 0
                free = v >= 0
                block = np.zeros((members.size, members.size))
                block[np.ix_(free, free)] = cov[np.ix_(v[free], v[free])]
                # centred t - mean(t): var = C_jj - 2 mean_k C_jk + mean_kl C_kl
                centred = np.diag(block) - 2 * block.mean(axis=1) + block.mean()
                out[f - 1][members] = np.maximum(centred, 0.0)  # rounding below 0: 0
        return out, "computed"


def _solve_spd(a: sparse.csc_matrix, b: FloatArray) -> FloatArray:
    """Solve the reduced Newton system: sparse LU up to :data:`_DIRECT_LIMIT` unknowns (exact,
    and it detects a singular design), Jacobi-preconditioned conjugate gradients above, where
    LU fill-in would cost more than the iterations."""
    n = b.shape[0]
    if n == 0:
        return np.zeros(0)
    if n <= _DIRECT_LIMIT:
        try:
            x: FloatArray = splu(a).solve(b)
        except RuntimeError:
            raise StatisticsError(
                "the design does not identify the measures (singular information matrix): "
                "some assessors, criteria or facet elements are confounded"
            ) from None
        return x
    d = a.diagonal()
    precond = sparse.diags(1.0 / np.where(d > 0, d, 1.0))
    x, _ = cg(a, b, rtol=1e-10, maxiter=10 * n, M=precond)
    if not np.all(np.isfinite(x)):
        raise StatisticsError("the design does not identify the measures (the Newton step failed)")
    return np.asarray(x, dtype=np.float64)


class _Pattern:
    """A sparse matrix pattern from (row, col) links, duplicates summed by ``matrix``."""

    def __init__(self, row: IntArray, col: IntArray, shape: tuple[int, int]) -> None:
        keys, self.inverse = np.unique(row * shape[1] + col, return_inverse=True)
        self.n = keys.size
        self.indices = keys % shape[1]
        self.indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(keys // shape[1], minlength=shape[0]))]
        )
        self.shape = shape

    def matrix(self, values: FloatArray) -> sparse.csr_matrix:
        data = np.bincount(self.inverse, values, minlength=self.n)
        return sparse.csr_matrix((data, self.indices, self.indptr), shape=self.shape)


# --------------------------------------------------------------------------- helpers


def _components(left: IntArray, right: IntArray, nl: int, nr: int) -> tuple[int, IntArray]:
    """Connected components of the bipartite graph of (left, right) links; labels (nl + nr,)."""
    ones = np.ones(left.shape[0], dtype=np.int8)
    graph = sparse.coo_matrix((ones, (left, nl + right)), shape=(nl + nr, nl + nr)).tocsr()
    ncomp, labels = connected_components(graph, directed=False)
    return int(ncomp), labels.astype(np.int64)


def _div(num: NDArray[Any] | float, den: NDArray[Any]) -> FloatArray:
    """``num / den`` where ``den > 0``, NaN elsewhere."""
    den = np.asarray(den, dtype=np.float64)
    out = np.full(den.shape, np.nan)
    ok = den > 0
    out[ok] = (np.broadcast_to(num, den.shape))[ok] / den[ok]
    return out


def _zstd(mnsq: FloatArray, q: FloatArray) -> FloatArray:
    """Wilson-Hilferty standardization of mean squares (Wright & Masters 1982, p. 101)."""
    ok = np.isfinite(mnsq) & np.isfinite(q) & (q > 0)
    qs = np.where(ok, q, 1.0)
    return np.where(ok, (np.cbrt(np.where(ok, mnsq, 1.0)) - 1.0) * (3.0 / qs) + qs / 3.0, np.nan)


def _summary(
    name: str, elements: tuple[Element, ...], measure: FloatArray, se: FloatArray
) -> FacetReport:
    j = measure.size
    if j == 0:
        nan = float("nan")
        return FacetReport(name, elements, nan, nan, nan, nan, nan, nan, nan, nan, 0, nan)
    mean = float(measure.mean())
    sd = float(measure.std())
    rmse = float(np.sqrt(np.mean(se**2)))
    true_var = max(sd**2 - rmse**2, 0.0)
    true_sd = float(np.sqrt(true_var))
    sep = true_sd / rmse if rmse > 0 else float("nan")
    rel = true_var / sd**2 if sd > 0 else float("nan")
    wts = 1.0 / se**2
    chi = float(np.sum(wts * measure**2) - np.sum(wts * measure) ** 2 / np.sum(wts))
    df = j - 1
    p = float(chi2_sf(chi, df)) if df > 0 else float("nan")
    return FacetReport(
        name=name,
        elements=elements,
        mean=mean,
        sd=sd,
        rmse=rmse,
        true_sd=true_sd,
        separation=sep,
        strata=(4.0 * sep + 1.0) / 3.0,
        reliability=rel,
        chi_square=chi,
        df=df,
        p=p,
    )
