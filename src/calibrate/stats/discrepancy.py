r"""Per-assessor discrepancy from the other readings of the same work, for assessor flags.

Two readings of one submission (live double scoring; or an assessor's reading of a validity
anchor and the experts' scores) show how an assessor departs from another reader:

- :func:`reader_discrepancy`: each assessor's ratings paired with every other reader's rating of
  the same submission and criterion; exact and adjacent agreement, quadratic weighted kappa,
  Pearson correlation and standardized mean difference against those partners, the statistics
  and thresholds of operational human-human monitoring (Williamson, Xi & Breyer 2012; ETS's
  RSMTool).
- :func:`halo_index`: how much flatter across criteria an assessor's readings are than the
  reference readings of the same submissions (halo).

Every statistic comes per assessor with a standard error clustered by submission (the ratings of
one submission share its quality, and one reader's scores of its criteria share the reader's
impression of it: they are not independent) and the evidence behind it (pairs or readings, and
distinct submissions), so that a flag can test whether the interval lies beyond a threshold and
control the false discovery rate over the assessors tested. The standard errors linearise each
statistic (influence functions, the delta method) and sum the influence values within
submissions (:mod:`calibrate.stats._cluster`; Cameron & Miller 2015); in simulation their 95%
intervals cover at close to the nominal rate on sparse designs with two readings per submission
(see the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

import numpy as np
from numpy.typing import ArrayLike

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
    dense_codes,
    pairs_within,
)
from calibrate.stats.kappa import kappa_parts

__all__ = [
    "STATISTICS",
    "HaloIndex",
    "ReaderDiscrepancy",
    "Statistic",
    "halo_index",
    "reader_discrepancy",
]

Statistic = Literal["exact", "adjacent", "qwk", "correlation", "smd"]
"""The statistics of :class:`ReaderDiscrepancy` that have a standard error."""
STATISTICS: tuple[Statistic, ...] = get_args(Statistic)


def _t_intervals(
    estimate: FloatArray, se: FloatArray, n_units: IntArray, confidence: float
) -> ConfidenceIntervals:
    """``estimate +- t * se`` with Student's t on ``n_units - 1`` df; NaN below two units."""
    if not 0 < confidence < 1:
        raise StatisticsError(f"confidence must be between 0 and 1, got {confidence}")
    df = (n_units - 1).astype(np.float64)
    df[df < 1] = np.nan
    half = se * t_ppf(0.5 + confidence / 2, df)
    return ConfidenceIntervals(estimate - half, estimate + half, confidence)


def _n_groups(top: int, n_raters: int | None) -> int:
    if n_raters is None:
        return top
    if n_raters < top:
        raise StatisticsError(f"n_raters ({n_raters}) must exceed every rater code (max {top - 1})")
    return n_raters


@dataclass(frozen=True)
class ReaderDiscrepancy:
    """Each assessor against the other readers of the same submissions and criteria.

    Every array has shape (G,), one entry per rater code ``0 .. G-1``. An assessor without
    pairs has ``n_pairs == 0`` and NaN statistics; a standard error is NaN where its statistic
    is, and with fewer than two submissions.

    Attributes
    ----------
    n_pairs : ndarray of int64
        Pairs (the assessor's rating, a partner's rating of the same submission and criterion).
        A submission read by three gives each of its readers two pairs per criterion.
    n_units : ndarray of int64
        Distinct submissions among the pairs: the clusters of the standard errors.
    exact, exact_se : ndarray
        Share of pairs with equal scores, and its standard error.
    adjacent, adjacent_se : ndarray
        Share of pairs at most one score point apart, and its standard error.
    qwk, qwk_se : ndarray
        Quadratic weighted kappa of the assessor (rows) against the partners (columns)
        (Cohen 1968), and its standard error. NaN where chance agreement is 1 (assessor and
        partners all used one and the same score).
    correlation, correlation_se : ndarray
        Pearson correlation of the assessor's scores with the partners', and its standard
        error. NaN where either side's scores are constant.
    smd, smd_se : ndarray
        Standardized mean difference: the assessor's mean minus the partners' mean over the
        pooled SD, :math:`\\sqrt{(s_x^2 + s_y^2) / 2}` (sample variances); positive = more
        lenient than the partners. NaN with fewer than two pairs or both sides constant.
    levels : ndarray, shape (C,)
        Score levels of the kappa tables.
    """

    n_pairs: IntArray
    n_units: IntArray
    exact: FloatArray
    exact_se: FloatArray
    adjacent: FloatArray
    adjacent_se: FloatArray
    qwk: FloatArray
    qwk_se: FloatArray
    correlation: FloatArray
    correlation_se: FloatArray
    smd: FloatArray
    smd_se: FloatArray
    levels: FloatArray

    def confidence_interval(
        self, statistic: Statistic, confidence: float = 0.95
    ) -> ConfidenceIntervals:
        """Wald interval ``estimate +- t * se`` of one statistic, Student's t on
        ``n_units - 1`` degrees of freedom (few clusters: Cameron & Miller 2015, sec. VI).

        Parameters
        ----------
        statistic : {"exact", "adjacent", "qwk", "correlation", "smd"}
        confidence : float
            Nominal coverage.

        Returns
        -------
        ConfidenceIntervals
            ``low``, ``high`` of shape (G,); NaN below two submissions. Not clipped to the
            statistic's range.
        """
        if statistic not in STATISTICS:
            raise StatisticsError(f"statistic must be one of {list(STATISTICS)}, got {statistic!r}")
        estimate = cast(FloatArray, getattr(self, statistic))
        se = cast(FloatArray, getattr(self, f"{statistic}_se"))
        return _t_intervals(estimate, se, self.n_units, confidence)


def reader_discrepancy(
    unit: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike | None,
    value: ArrayLike,
    *,
    n_raters: int | None = None,
    levels: ArrayLike | None = None,
) -> ReaderDiscrepancy:
    r"""Agreement of each assessor with the other readers of the same submissions.

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Submission code of each rating (the clusters of the standard errors).
    rater : array_like of int, shape (n,)
        Assessor code of each rating.
    criterion : array_like of int, shape (n,), or None
        Criterion code of each rating; None for a single criterion.
    value : array_like of float, shape (n,)
        Scores; NaN = missing (the rating is dropped).
    n_raters : int, optional
        Number of assessors ``G`` (default: largest rater code + 1).
    levels : array_like, shape (C,), optional
        The rubric's level scores; every score must be one of them. Default: the scores seen.

    Returns
    -------
    ReaderDiscrepancy

    Raises
    ------
    StatisticsError
        Arrays of different lengths, bad codes or scores, a score not among ``levels``, an
        assessor rating a submission and criterion twice, or no submission and criterion read
        by two assessors.

    Notes
    -----
    **Pairs.** Ratings of the same submission and criterion by different assessors are paired;
    each unordered pair enters twice, once for each reader as the assessor :math:`x` with the
    other as partner :math:`y`. An assessor's statistics are those of their pairs
    :math:`(x_i, y_i)`, :math:`i = 1..N` (RSMTool's human-human "consistency" metrics with the
    assessor as H2 and the partners as H1 [5]_), pooled over partners:

    - exact :math:`= \frac{1}{N}\sum_i [x_i = y_i]`; adjacent
      :math:`= \frac{1}{N}\sum_i [|x_i - y_i| \le 1]` (one level on rubrics with consecutive
      integer levels, as :func:`~calibrate.stats.accuracy.anchor_accuracy` and RSMTool);
    - quadratic weighted kappa (Cohen 1968 [1]_) of the assessor x partner table (computed by
      :func:`~calibrate.stats.kappa.kappa_parts`). With weights quadratic in the score values
      it equals :math:`1 - D/E`, :math:`D = \overline{(x - y)^2}` and
      :math:`E = s_x^2 + s_y^2 + (\bar x - \bar y)^2` (divisor :math:`N`) [2]_;
    - Pearson's :math:`r`;
    - :math:`SMD = (\bar x - \bar y) / \sqrt{(s_x^2 + s_y^2)/2}`, sample (:math:`N - 1`)
      variances: RSMTool's human-human SMD ("pooled" method) [5]_, with the assessor in the
      place of the second human.

    Operational scoring flags human-human agreement with exact agreement below .50, adjacent
    below .95, quadratic weighted kappa or correlation below .70, or :math:`|SMD| > .15`
    (Williamson, Xi & Breyer 2012 [6]_; RSMTool's defaults).

    **Standard errors.** Pairs of one submission are dependent (its criteria share its quality
    and the reader's impression; a third reader gives an assessor two partners on the same
    scores), so each statistic is linearised, :math:`\hat\theta - \theta \approx
    \frac{1}{N}\sum_i \psi_i`, and the influence values are summed within submissions
    (:func:`~calibrate.stats._cluster.clustered_variance`; Cameron & Miller 2015 [4]_). With
    :math:`\dot x_i = x_i - \bar x`, :math:`\dot y_i = y_i - \bar y` and divisor-:math:`N`
    moments:

    - shares :math:`p`: :math:`\psi_i = [\cdot]_i - p`;
    - kappa, from :math:`1 - D/E`: :math:`\psi_i = -(\psi^D_i - (1 - \kappa)\psi^E_i)/E` with
      :math:`\psi^D_i = (x_i - y_i)^2 - D` and
      :math:`\psi^E_i = \dot x_i^2 - s_x^2 + \dot y_i^2 - s_y^2 + 2(\bar x - \bar y)
      (\dot x_i - \dot y_i)`. With one pair per submission this is the large-sample variance
      of Fleiss, Cohen & Everitt (1969, eq. 11) [3]_ for quadratic weights, times
      :math:`A/(A-1)`;
    - correlation: :math:`\psi_i = z_{x,i} z_{y,i} - \frac{r}{2}(z_{x,i}^2 + z_{y,i}^2)`, the
      influence function of Pearson's :math:`r` (Devlin, Gnanadesikan & Kettenring 1975 [7]_);
    - SMD :math:`= \Delta / \sqrt{P}`: :math:`\psi_i = (\dot x_i - \dot y_i)/\sqrt{P} -
      \frac{SMD}{4P}(\dot x_i^2 - s_x^2 + \dot y_i^2 - s_y^2)`.

    Intervals use Student's t on :math:`A - 1` degrees of freedom for :math:`A` submissions
    (:meth:`ReaderDiscrepancy.confidence_interval`). Wald intervals of a share are degenerate
    when every pair agrees (standard error 0); they matter where a flag's threshold lies, well
    inside (0, 1).

    Cost: one sort of the ratings by submission and criterion, pairs enumerated by lag
    (:func:`~calibrate.stats._tabulate.pairs_within`), then bincounts over pairs and over
    (assessor, submission) cells: 1-3 s for :math:`10^6` ratings and 5,000 assessors on a shared
    two-core machine.

    References
    ----------
    .. [1] Cohen, J. (1968). Weighted kappa. Psychological Bulletin, 70(4), 213-220.
       doi:10.1037/h0026256
    .. [2] Fleiss, J. L., & Cohen, J. (1973). The equivalence of weighted kappa and the
       intraclass correlation coefficient as measures of reliability. Educational and
       Psychological Measurement, 33(3), 613-619. doi:10.1177/001316447303300309
    .. [3] Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample standard errors of
       kappa and weighted kappa. Psychological Bulletin, 72(5), 323-327. doi:10.1037/h0028106
    .. [4] Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
       inference. Journal of Human Resources, 50(2), 317-372. doi:10.3368/jhr.50.2.317
    .. [5] Educational Testing Service. RSMTool documentation, "Evaluation metrics":
       human-human agreement, standardized mean difference (``method="pooled"``).
       https://rsmtool.readthedocs.io/en/stable/evaluation.html
    .. [6] Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and
       use of automated scoring. Educational Measurement: Issues and Practice, 31(1), 2-13.
       doi:10.1111/j.1745-3992.2011.00223.x
    .. [7] Devlin, S. J., Gnanadesikan, R., & Kettenring, J. R. (1975). Robust estimation and
       outlier detection with correlation coefficients. Biometrika, 62(3), 531-545.
       doi:10.1093/biomet/62.3.531

    Examples
    --------
    Gwet (2014) / irrCAC ``cont3x3abstractors``, 100 submissions read by assessors 0 and 1:
    exact agreement 0.89 and quadratic weighted kappa 0.8921569 for both, as published.
    Assessor 1's mean is 2.50 against assessor 0's 2.47, sample variances 0.51515 and 0.51424:
    SMD = 0.03 / 0.71743 = 0.0418 for assessor 1, -0.0418 for assessor 0.

    >>> table = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
    >>> x = [k + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> y = [l + 1 for k in range(3) for l in range(3) for _ in range(table[k][l])]
    >>> d = reader_discrepancy(list(range(100)) * 2, [0] * 100 + [1] * 100, None, x + y)
    >>> d.exact.tolist(), d.qwk.round(7).tolist(), d.n_pairs.tolist()
    ([0.89, 0.89], [0.8921569, 0.8921569], [100, 100])
    >>> bool(d.smd[0] == -d.smd[1]), round(float(d.smd[1]), 4)
    (True, 0.0418)
    """
    data = long_ratings(unit, rater, criterion, value)
    u, r, v = data.unit, cast(IntArray, data.rater), data.value
    c = data.criterion if data.criterion is not None else np.zeros_like(u)
    categories, code = category_codes(v, levels)
    n_g = _n_groups(int(r.max()) + 1 if r.size else 0, n_raters)
    # Pairs within submission x criterion cells.
    u_dense, _ = dense_codes(u)
    c_dense, n_crit = dense_codes(c)
    order = np.argsort(u_dense * max(n_crit, 1) + c_dense, kind="stable")
    cell = (u_dense * max(n_crit, 1) + c_dense)[order]
    i, j = pairs_within(cell)
    if i.size == 0:
        raise StatisticsError(
            "ratings must have at least one submission and criterion read by two assessors"
        )
    i, j = order[i], order[j]
    same = r[i] == r[j]
    if same.any():
        k = int(np.flatnonzero(same)[0])
        raise StatisticsError(
            f"each rater may rate a submission and criterion only once; rater code {r[i[k]]} "
            f"rated unit code {u[i[k]]}, criterion code {c[i[k]]} more than once"
        )
    # Every unordered pair twice: (assessor, partner) both ways.
    me, other = np.concatenate([i, j]), np.concatenate([j, i])
    g, cluster = r[me], u_dense[me]
    x, y = v[me], v[other]
    n = np.bincount(g, minlength=n_g)

    def mean(w: FloatArray) -> FloatArray:
        with np.errstate(invalid="ignore", divide="ignore"):
            out: FloatArray = np.bincount(g, weights=w, minlength=n_g) / n
        return out

    equal = (x == y).astype(np.float64)
    near = (np.abs(x - y) <= 1).astype(np.float64)
    exact, adjacent = mean(equal), mean(near)
    mx, my = mean(x), mean(y)
    dx, dy = x - mx[g], y - my[g]
    vx, vy, cxy = mean(dx**2), mean(dy**2), mean(dx * dy)
    n_cat = categories.size
    tables = np.bincount(
        (g * n_cat + code[me]) * n_cat + code[other], minlength=n_g * n_cat * n_cat
    ).reshape(n_g, n_cat, n_cat)
    qwk = kappa_parts(tables.astype(np.float64), agreement_weights(categories, "quadratic"))[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.where((vx > 0) & (vy > 0), cxy / np.sqrt(vx * vy), np.nan)
        pooled = (vx + vy) / 2 * n / (n - 1)  # sample variances, as RSMTool
        smd = np.where((n >= 2) & (pooled > 0), (mx - my) / np.sqrt(pooled), np.nan)
        # Influence values (see Notes), evaluated per pair.
        e_kappa = vx + vy + (mx - my) ** 2
        psi_d = (x - y) ** 2 - mean((x - y) ** 2)[g]
        psi_e = dx**2 - vx[g] + dy**2 - vy[g] + 2 * (mx - my)[g] * (dx - dy)
        psi_qwk = -(psi_d - (1 - qwk[g]) * psi_e) / e_kappa[g]
        zx, zy = dx / np.sqrt(vx[g]), dy / np.sqrt(vy[g])
        psi_r = zx * zy - correlation[g] / 2 * (zx**2 + zy**2)
        sd_p = np.sqrt(pooled)[g]
        psi_smd = (dx - dy) / sd_p - smd[g] / (4 * sd_p**2) * (dx**2 - vx[g] + dy**2 - vy[g])
    psi = np.stack([equal - exact[g], near - adjacent[g], psi_qwk, psi_r, psi_smd])
    var, n_units = clustered_variance(g, cluster, psi, n_g)
    se = np.sqrt(var)
    estimates = np.stack([exact, adjacent, qwk, correlation, smd])
    se[np.isnan(estimates)] = np.nan
    return ReaderDiscrepancy(
        n_pairs=n.astype(np.int64),
        n_units=n_units,
        exact=exact,
        exact_se=se[0],
        adjacent=adjacent,
        adjacent_se=se[1],
        qwk=np.asarray(qwk, dtype=np.float64),
        qwk_se=se[2],
        correlation=correlation,
        correlation_se=se[3],
        smd=smd,
        smd_se=se[4],
        levels=categories,
    )


@dataclass(frozen=True)
class HaloIndex:
    """How much flatter across criteria each assessor's readings are than the reference.

    Every array has shape (G,), one entry per rater code ``0 .. G-1``; an assessor without a
    usable reading has ``n_readings == 0`` and NaN figures.

    Attributes
    ----------
    n_readings : ndarray of int64
        Readings compared (each with at least two criteria scored by both sides).
    n_units : ndarray of int64
        Distinct clusters among them (submissions when ``unit`` is given, else readings): the
        clusters of :attr:`se`.
    halo : ndarray
        Mean over readings of the assessor's SD across criteria minus the reference's SD across
        the same criteria, in score points. Negative = flatter than the reference (halo);
        positive = more spread across criteria than the reference.
    se : ndarray
        Its standard error, clustered by submission; NaN with fewer than two clusters.
    assessor_sd, reference_sd : ndarray
        Mean SD across criteria of the assessor's readings and of the reference readings
        (``halo = assessor_sd - reference_sd``): the scale against which to read ``halo``.
    """

    n_readings: IntArray
    n_units: IntArray
    halo: FloatArray
    se: FloatArray
    assessor_sd: FloatArray
    reference_sd: FloatArray

    def confidence_interval(self, confidence: float = 0.95) -> ConfidenceIntervals:
        """Interval for :attr:`halo`: ``halo +- t * se``, Student's t on ``n_units - 1``
        degrees of freedom (Cameron & Miller 2015); NaN below two clusters."""
        return _t_intervals(self.halo, self.se, self.n_units, confidence)


def halo_index(
    reading: ArrayLike,
    rater: ArrayLike,
    criterion: ArrayLike,
    value: ArrayLike,
    reference: ArrayLike,
    *,
    cluster: ArrayLike | None = None,
    n_raters: int | None = None,
) -> HaloIndex:
    r"""Halo per assessor: their spread across criteria within a reading against a reference's.

    Parameters
    ----------
    reading : array_like of int, shape (n,)
        Reading code of each row: one assessor's reading of one submission compared with one
        reference reading of it. (With three readers of a submission, give each pairing of a
        reading with another reading its own code, and pass ``cluster``.)
    rater : array_like of int, shape (n,)
        Assessor code of each row; one per reading.
    criterion : array_like of int, shape (n,)
        Criterion code of each row; each criterion at most once per reading.
    value : array_like of float, shape (n,)
        The assessor's score of the criterion; NaN = missing (the row is dropped).
    reference : array_like of float, shape (n,)
        The reference score of the same submission and criterion: the experts' score of a
        validity anchor, or the other reader's score in double scoring; NaN = missing.
    cluster : array_like of int, shape (n,), optional
        Submission code of each row; one per reading. Readings of the same submission are then
        one cluster of the standard error (default: each reading its own cluster).
    n_raters : int, optional
        Number of assessors ``G`` (default: largest rater code + 1).

    Returns
    -------
    HaloIndex

    Raises
    ------
    StatisticsError
        Arrays of different lengths, bad codes or scores, a reading with two raters or two
        submissions, a criterion twice in one reading, or no reading with two criteria scored.

    Notes
    -----
    Per reading :math:`k` of assessor :math:`j` with :math:`m_k \ge 2` criteria scored by both,
    the sample SDs across those criteria of the assessor's scores and of the reference scores
    give :math:`d_k = s_k^{assessor} - s_k^{reference}`; an assessor's index is
    :math:`\bar d_j`, with the cluster-robust standard error of a mean
    (:func:`~calibrate.stats._cluster.clustered_variance`). Readings with fewer than two
    criteria scored by both are left out.

    Why this index. Halo is a reader's failure to discriminate among criteria, scoring them
    alike from one overall impression (Thorndike 1920; Myford & Wolfe 2003 [1]_). Its two
    classical measures are the correlations between criteria across the reader's ratings and
    the SD across criteria within each rating (Fisicaro & Vance 1994 [5]_: neither uniformly
    better). Both confuse halo with *true* halo: work that is genuinely even across criteria
    (Cooper 1981 [3]_), which is why the correlational measure is taken as observed minus true
    intercorrelations (Fisicaro & Lance 1990 [4]_), and the raw SD measure also varies with the
    criteria's different difficulties (Pulakos, Schmitt & Ostroff 1986 [6]_). Subtracting the
    SD of an independent reference reading of the same submission over the same criteria
    removes both: the submission's own evenness and the criteria's difficulties are in both
    readings. Bechger, Maris & Hsiao (2010) [2]_ likewise detect halo with a second, independent
    rating of the same performances. The SD form is defined for every single reading, so it
    averages over an assessor's readings with an honest clustered standard error; a
    correlational measure needs an assessor's inter-criterion correlation matrix, unstable on
    the 10-50 readings an assessor has in a live term and undefined for readers using few
    levels. In many-facet Rasch analyses halo shows as overfit (infit/outfit well below 1;
    Engelhard 1994 [7]_; Myford & Wolfe 2004 [8]_), which needs the fitted model; this index
    needs only the paired readings.

    Reading it. Under exchangeable readers (two calibrated assessors) :math:`E[d] = 0`. Against
    expert scores, whose consensus carries less noise than one reading, a well-calibrated
    assessor's readings are *more* spread (:math:`d > 0`); an erratic (inconsistent) assessor
    shows large positive :math:`d`. Central tendency (compressing the scale) also flattens
    readings and lowers :math:`d`, less than halo does on equal terms; read the index alongside
    the assessor's spread across submissions. :attr:`HaloIndex.reference_sd` gives the scale:
    :math:`\bar d_j = -\,\text{reference\_sd}_j` means every reading was flat.

    References
    ----------
    .. [1] Myford, C. M., & Wolfe, E. W. (2003). Detecting and measuring rater effects using
       many-facet Rasch measurement: Part I. Journal of Applied Measurement, 4(4), 386-422.
    .. [2] Bechger, T. M., Maris, G., & Hsiao, Y. P. (2010). Detecting halo effects in
       performance-based examinations. Applied Psychological Measurement, 34(8), 607-619.
       doi:10.1177/0146621610367897
    .. [3] Cooper, W. H. (1981). Ubiquitous halo. Psychological Bulletin, 90(2), 218-244.
       doi:10.1037/0033-2909.90.2.218
    .. [4] Fisicaro, S. A., & Lance, C. E. (1990). Implications of three causal models for the
       measurement of halo error. Applied Psychological Measurement, 14(4), 419-429.
       doi:10.1177/014662169001400407
    .. [5] Fisicaro, S. A., & Vance, R. J. (1994). Comments on the measurement of halo.
       Educational and Psychological Measurement, 54(2), 366-371.
       doi:10.1177/0013164494054002010
    .. [6] Pulakos, E. D., Schmitt, N., & Ostroff, C. (1986). A warning about the use of a
       standard deviation across dimensions within ratees to measure halo. Journal of Applied
       Psychology, 71(1), 29-32. doi:10.1037/0021-9010.71.1.29
    .. [7] Engelhard, G. (1994). Examining rater errors in the assessment of written
       composition with a many-faceted Rasch model. Journal of Educational Measurement, 31(2),
       93-112. doi:10.1111/j.1745-3984.1994.tb00436.x
    .. [8] Myford, C. M., & Wolfe, E. W. (2004). Detecting and measuring rater effects using
       many-facet Rasch measurement: Part II. Journal of Applied Measurement, 5(2), 189-227.

    Examples
    --------
    Assessor 0 scores two submissions (1, 2, 3) and (2, 2, 2) where the reference reads
    (1, 2, 3) and (1, 2, 3): SDs 1 and 0 against 1 and 1, so d = (0, -1) and the index -0.5.

    >>> h = halo_index([0, 0, 0, 1, 1, 1], [0] * 6, [0, 1, 2] * 2, [1, 2, 3, 2, 2, 2],
    ...                [1, 2, 3, 1, 2, 3])
    >>> h.halo.tolist(), h.n_readings.tolist(), h.se.tolist()
    ([-0.5], [2], [0.5])
    """
    k = codes(reading, "reading")
    n_all = k.size
    r = codes(rater, "rater", n_all, like="reading")
    c = codes(criterion, "criterion", n_all, like="reading")
    v = scores(value, "value", n_all, like="reading", allow_nan=True)
    ref = scores(reference, "reference", n_all, like="reading", allow_nan=True)
    s = None if cluster is None else codes(cluster, "cluster", n_all, like="reading")
    keep = ~(np.isnan(v) | np.isnan(ref))
    k, r, c, v, ref = k[keep], r[keep], c[keep], v[keep], ref[keep]
    n_g = _n_groups(int(r.max()) + 1 if r.size else 0, n_raters)
    k, n_k = dense_codes(k)
    key = np.sort(k * (int(c.max()) + 1 if c.size else 1) + c)
    if (key[1:] == key[:-1]).any():
        raise StatisticsError("each criterion may appear at most once in a reading")
    owner = _one_per_reading(k, r, n_k, "rater")
    cluster = np.arange(n_k) if s is None else _one_per_reading(k, s[keep], n_k, "unit")
    m = np.bincount(k, minlength=n_k)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd_own = _sd_by(k, v, m)
        sd_ref = _sd_by(k, ref, m)
    usable = m >= 2
    if not usable.any():
        raise StatisticsError("ratings must hold at least one reading with two criteria scored")
    g, d = owner[usable], (sd_own - sd_ref)[usable]
    n = np.bincount(g, minlength=n_g)
    with np.errstate(invalid="ignore", divide="ignore"):
        halo = np.bincount(g, weights=d, minlength=n_g) / n
        own = np.bincount(g, weights=sd_own[usable], minlength=n_g) / n
        other = np.bincount(g, weights=sd_ref[usable], minlength=n_g) / n
    var, n_units = clustered_variance(g, cluster[usable], d - halo[g], n_g)
    return HaloIndex(
        n_readings=n.astype(np.int64),
        n_units=n_units,
        halo=halo,
        se=np.sqrt(var),
        assessor_sd=own,
        reference_sd=other,
    )


def _one_per_reading(reading: IntArray, code: IntArray, n_readings: int, name: str) -> IntArray:
    """The one ``code`` of each reading; an error if a reading has two."""
    first = np.zeros(n_readings, dtype=np.int64)
    first[reading] = code
    if (first[reading] != code).any():
        raise StatisticsError(f"each reading must have one {name}; a reading has two")
    return first


def _sd_by(reading: IntArray, x: FloatArray, m: IntArray) -> FloatArray:
    """Sample SD of ``x`` within each reading (NaN below two values)."""
    mean = np.bincount(reading, weights=x, minlength=m.size) / m
    ss = np.bincount(reading, weights=(x - mean[reading]) ** 2, minlength=m.size)
    out: FloatArray = np.where(m >= 2, np.sqrt(ss / (m - 1)), np.nan)
    return out
