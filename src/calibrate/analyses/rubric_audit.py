"""Rubric-quality audit: which criterion nobody scores alike, and why, with recommendations.

One function, :func:`audit_rubric`, reads the live ratings of one rubric version (and, when
given, the assessors' ratings of anchors with the experts' scores) and returns a
:class:`RubricAudit`: a list of :class:`Finding` values, each one figure with its interval, the
threshold it is judged against, the size of the evidence, a verdict that follows the interval,
one plain-language sentence and a short recommendation. An issuer reads it to learn what to
rewrite; a board reads it to see that the rubric was audited, by which rules and on how much
evidence.

Finding kinds (:data:`Kind`), per rubric (``criteria == ()``) and per criterion:

``reliability``
    Krippendorff's alpha (ordinal or interval metric, stated in ``statistic``) of each criterion
    and of the total score, with a percentile bootstrap interval over double-scored submissions.
``weighted_kappa``
    Quadratic weighted kappa between the first and the second reading of each submission.
``level_usage``
    The share of ratings at each level of each criterion; rare and unused levels, in effect
    not distinguished from their neighbours.
``level_distinction``
    Whether assessors tell two adjacent levels apart: alpha restricted to the two levels.
``threshold_order``
    The advance between consecutive Rasch-Andrich thresholds (partial-credit fit per criterion):
    disordered, too close or too far apart (Linacre 2002).
``criterion_difficulty``
    Each criterion's Rasch difficulty against the mean of the others, with its mean level.
``redundancy``
    Within-reading correlation between two criteria; pairs that rank submissions alike.
``halo``
    On anchors: the assessors' inter-criterion correlation minus the experts' on the same
    anchors.
``decision_agreement``, ``decision_kappa``
    Agreement and Cohen's kappa on the pass decision between the first two readings.
``discrepancy_driver``
    The share of discrepant pairs (readings more than one level apart on a criterion, or with
    different decisions) each criterion accounts for.
``generalizability``
    G (E rho^2) and Phi of the G study (:func:`calibrate.stats.gtheory.gstudy`), point values.

Every threshold is a field of :class:`AuditThresholds`, with its default and source in
:data:`THRESHOLD_SOURCES`, so that the programme rules table can supply them.

References
----------
.. [1] Krippendorff, K. (2004). *Content analysis: An introduction to its methodology* (2nd
   ed.). Thousand Oaks, CA: Sage. (p. 241: rely on alpha >= .800, tentative >= .667.)
.. [2] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
   Communication, University of Pennsylvania. https://repository.upenn.edu/asc_papers/43
.. [3] Hayes, A. F., & Krippendorff, K. (2007). Answering the call for a standard reliability
   measure for coding data. *Communication Methods and Measures, 1*(1), 77-89.
   doi:10.1080/19312450709336664
.. [4] Cohen, J. (1968). Weighted kappa. *Psychological Bulletin, 70*(4), 213-220.
   doi:10.1037/h0026256
.. [5] Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and use of
   automated scoring. *Educational Measurement: Issues and Practice, 31*(1), 2-13.
   doi:10.1111/j.1745-3992.2011.00223.x
.. [6] Linacre, J. M. (2002). Optimizing rating scale category effectiveness. *Journal of
   Applied Measurement, 3*(1), 85-106.
.. [7] Andrich, D. (1978). A rating formulation for ordered response categories.
   *Psychometrika, 43*(4), 561-573. doi:10.1007/BF02293814
.. [8] Masters, G. N. (1982). A Rasch model for partial credit scoring. *Psychometrika, 47*(2),
   149-174. doi:10.1007/BF02296272
.. [9] Myford, C. M., & Wolfe, E. W. (2003, 2004). Detecting and measuring rater effects using
   many-facet Rasch measurement, parts I and II. *Journal of Applied Measurement, 4*(4),
   386-422; *5*(2), 189-227.
.. [10] Landis, J. R., & Koch, G. G. (1977). The measurement of observer agreement for
   categorical data. *Biometrics, 33*(1), 159-174. doi:10.2307/2529310
.. [11] Darroch, J. N., & McCloud, P. I. (1986). Category distinguishability and observer
   agreement. *Australian Journal of Statistics, 28*(3), 371-388.
.. [12] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
   inference. *Journal of the American Statistical Association, 22*(158), 209-212.
.. [13] Kish, L. (1965). *Survey sampling*. New York: Wiley. (Design effect of cluster samples.)
.. [14] Efron, B., & Tibshirani, R. J. (1993). *An introduction to the bootstrap*. New York:
   Chapman & Hall.
.. [15] Brennan, R. L. (2001). *Generalizability theory*. New York: Springer.
   doi:10.1007/978-1-4757-3456-0
.. [16] National Center for Education Statistics. NAEP Technical Documentation: Within-Year
   Interrater Agreement; Qualifying Sets. https://nces.ed.gov/nationsreportcard/tdw/scoring/
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from itertools import combinations
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from calibrate.analyses.accuracy import anchor_ids_of, procedure_rows
from calibrate.anchors import AnchorSet
from calibrate.errors import CalibrateError, StatisticsError
from calibrate.ratings import Ratings, factorize
from calibrate.rubric import Rubric
from calibrate.stats import ConfidenceInterval
from calibrate.stats.accuracy import decision_agreement
from calibrate.stats.alpha import AlphaLevel, alphas_of_coincidences, coincidences
from calibrate.stats.gtheory import GStudy, gstudy
from calibrate.stats.kappa import cohen_kappa
from calibrate.stats.rasch import Model, RaschResult, Thresholds, fit_mfrm
from calibrate.stats.resample import bootstrap_units

__all__ = [
    "KINDS",
    "THRESHOLD_SOURCES",
    "AuditThresholds",
    "Correlation",
    "Evidence",
    "Finding",
    "Kind",
    "Metric",
    "RubricAudit",
    "Verdict",
    "audit_rubric",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

Metric = Literal["ordinal", "interval"]
"""Krippendorff's difference function for the alphas: ordinal (ranks; rubric levels are ordered
categories) or interval (level scores as equally spaced numbers)."""

Correlation = Literal["spearman", "pearson"]
"""Inter-criterion correlation: Spearman's rho (Pearson on mid-ranks of the levels, ties as
:func:`scipy.stats.spearmanr`) or Pearson's r on the level scores."""

Kind = Literal[
    "reliability",
    "weighted_kappa",
    "level_usage",
    "level_distinction",
    "threshold_order",
    "criterion_difficulty",
    "redundancy",
    "halo",
    "decision_agreement",
    "decision_kappa",
    "discrepancy_driver",
    "generalizability",
]
KINDS: tuple[Kind, ...] = get_args(Kind)

Evidence = Literal[
    "double-scored submissions", "ratings", "submissions", "anchors", "discrepant pairs"
]
"""What a finding's ``n`` counts: the units its interval resamples or rests on."""

Verdict = Literal[
    # reliability
    "reliable",
    "tentative",
    "not reliable",
    # a standard to meet (weighted kappa, decisions, G/Phi)
    "meets standard",
    "below standard",
    # level usage
    "in use",
    "rare",
    "unused",
    # adjacent levels
    "distinguished",
    "not distinguished",
    # threshold advance
    "ordered",
    "disordered",
    "too close",
    "too far apart",
    # criterion difficulty
    "in line with the rest",
    "harder than the rest",
    "easier than the rest",
    # correlations
    "redundant",
    "distinct",
    "halo",
    "no halo",
    # discrepancy drivers
    "drives discrepancies",
    "below its share",
    # not enough evidence, or nothing to judge
    "too few double-scored submissions to tell",
    "too few ratings to tell",
    "too few submissions to tell",
    "too few anchors to tell",
    "too few discrepant pairs to tell",
    "no double-scored submissions",
    "undefined",
    "not applicable",
    "no interval",
]

CONCERNS: frozenset[str] = frozenset(
    {
        "tentative",
        "not reliable",
        "below standard",
        "rare",
        "unused",
        "not distinguished",
        "disordered",
        "too close",
        "too far apart",
        "harder than the rest",
        "easier than the rest",
        "redundant",
        "halo",
        "drives discrepancies",
    }
)
"""Verdicts that call for action (``Finding.concern``)."""

_NO_CHANGE = "No change needed."


# --------------------------------------------------------------------------- thresholds


_KRIPPENDORFF = "Krippendorff (2004), Content analysis (2nd ed.), p. 241"
_LINACRE = (
    "Linacre (2002), Optimizing rating scale category effectiveness, J Appl Meas 3(1), 85-106"
)
_LANDIS_KOCH = "Landis & Koch (1977), Biometrics 33(1), 159-174, p. 165"
_CHOICE = "Programme choice; the field publishes no figure."

THRESHOLD_SOURCES: Mapping[str, tuple[str, str]] = {
    "alpha_reliable": (
        "Krippendorff's alpha whose interval lies at or above this is reliable.",
        f"Rely on variables with alpha >= .800. {_KRIPPENDORFF}.",
    ),
    "alpha_tentative": (
        "Alpha at or above this, but below the reliable level, supports tentative conclusions.",
        f"Tentative conclusions from .667 <= alpha < .800. {_KRIPPENDORFF}.",
    ),
    "qwk_min": (
        "Quadratic weighted kappa between two human readings must reach this.",
        "Williamson, Xi & Breyer (2012), EM:IP 31(1), 2-13 (human-human QWK >= .70).",
    ),
    "rare_share": (
        "A level used for less than this share of a criterion's ratings is rare.",
        f"{_CHOICE} Linacre's (2002) guideline 2 asks for a regular distribution over levels.",
    ),
    "min_category_count": (
        "Fewest ratings in a level for the Rasch thresholds next to it to be judged.",
        f"Guideline 1: at least 10 observations of each category. {_LINACRE}.",
    ),
    "distinction_min": (
        "Alpha restricted to two adjacent levels below this: assessors do not tell them apart.",
        f"Upper end of the 'slight' band (.00-.20) of kappa-type coefficients. {_LANDIS_KOCH}.",
    ),
    "min_advance": (
        "Smallest advance (logits) between consecutive Rasch-Andrich thresholds; "
        "None: the binomial-trials advance for the scale's length (1.4 logits for 3 levels).",
        f"Guideline 7: thresholds advance by at least 1.4 logits (three categories). {_LINACRE}.",
    ),
    "max_advance": (
        "Largest advance (logits) between consecutive thresholds before a gap opens.",
        f"Guideline 8: thresholds advance by less than 5.0 logits. {_LINACRE}.",
    ),
    "difficulty_gap": (
        "A criterion this many logits harder or easier than the mean of the others stands out.",
        _CHOICE,
    ),
    "redundancy_r": (
        "Two criteria correlating above this within readings rank submissions alike.",
        f"{_CHOICE} r = .90 is 81% shared variance.",
    ),
    "halo_margin": (
        "Assessors' inter-criterion correlation on anchors exceeding the experts' by more than "
        "this is halo.",
        f"{_CHOICE} Halo as a rater effect: Myford & Wolfe (2003, 2004).",
    ),
    "decision_agreement_min": (
        "Share of double-scored submissions whose two readings reach the same decision.",
        "NAEP within-year exact agreement target for 2-level items (85%).",
    ),
    "decision_kappa_min": (
        "Cohen's kappa on the pass decision between two readings must reach this.",
        f"Lower end of the 'substantial' band (.61-.80). {_LANDIS_KOCH}.",
    ),
    "discrepancy_levels": (
        "Readings further apart than this many levels on a criterion are discrepant.",
        "State assessment practice: scores more than one point apart go to a third reader.",
    ),
    "driver_share": (
        "A criterion accounting for more than this share of discrepant pairs drives them; "
        "None: the even share, 1 / number of criteria.",
        _CHOICE,
    ),
    "g_target": (
        "G and Phi coefficients at or above this are dependable.",
        f"{_CHOICE} The default target of calibrate.stats.gtheory.gstudy.",
    ),
    "min_submissions": (
        "Fewest submissions (double-scored ones, for agreement) behind a bootstrap verdict.",
        f"{_CHOICE} A percentile bootstrap over few units cannot show what the sample missed.",
    ),
    "min_discrepant": (
        "Fewest discrepant pairs behind a verdict on which criterion drives them.",
        _CHOICE,
    ),
    "min_anchors": (
        "Fewest anchors behind a halo verdict.",
        "NAEP qualifying sets hold 10-12 papers.",
    ),
}
"""For each field of :class:`AuditThresholds`: one plain-language sentence of help and the
source of its default."""


@dataclass(frozen=True)
class AuditThresholds:
    """The thresholds an audit judges its figures against, with documented defaults.

    Each field's help and source are in :data:`THRESHOLD_SOURCES`.

    Attributes
    ----------
    alpha_reliable, alpha_tentative : float
        Krippendorff's (2004) conventions, .800 and .667.
    qwk_min : float
        Quadratic weighted kappa between readings, .70 (Williamson, Xi & Breyer 2012).
    rare_share : float
        A level below this share of a criterion's ratings is rare; 0.05.
    min_category_count : int
        Linacre's (2002) guideline 1: 10 ratings per level around a threshold.
    distinction_min : float
        Alpha restricted to two adjacent levels; .20 (Landis & Koch 1977, 'slight').
    min_advance : float or None
        Linacre's (2002) guideline 7; None: the binomial-trials advance (1.39 logits for three
        levels, 1.10 for four; see :func:`audit_rubric`).
    max_advance : float
        Linacre's (2002) guideline 8: 5.0 logits.
    difficulty_gap : float
        1.0 logit.
    redundancy_r : float
        .90.
    halo_margin : float
        .10.
    decision_agreement_min : float
        .85 (NAEP, 2-level items).
    decision_kappa_min : float
        .61 (Landis & Koch 1977, 'substantial').
    discrepancy_levels : int
        1: readings more than one level apart are discrepant.
    driver_share : float or None
        None: the even share 1 / number of criteria.
    g_target : float
        .80.
    min_submissions, min_discrepant, min_anchors : int
        20, 10, 10.

    Raises
    ------
    CalibrateError
        A share or coefficient outside its range, a tentative alpha above the reliable one, a
        negative count.
    """

    alpha_reliable: float = 0.800
    alpha_tentative: float = 0.667
    qwk_min: float = 0.70
    rare_share: float = 0.05
    min_category_count: int = 10
    distinction_min: float = 0.20
    min_advance: float | None = None
    max_advance: float = 5.0
    difficulty_gap: float = 1.0
    redundancy_r: float = 0.90
    halo_margin: float = 0.10
    decision_agreement_min: float = 0.85
    decision_kappa_min: float = 0.61
    discrepancy_levels: int = 1
    driver_share: float | None = None
    g_target: float = 0.80
    min_submissions: int = 20
    min_discrepant: int = 10
    min_anchors: int = 10

    def __post_init__(self) -> None:
        for name in ("rare_share", "decision_agreement_min"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise CalibrateError(f"threshold {name} must be between 0 and 1, got {value}")
        if self.driver_share is not None and not 0 < self.driver_share < 1:
            raise CalibrateError(
                f"threshold driver_share must be between 0 and 1, got {self.driver_share}"
            )
        for name in (
            "alpha_reliable",
            "alpha_tentative",
            "qwk_min",
            "distinction_min",
            "redundancy_r",
            "decision_kappa_min",
            "g_target",
        ):
            value = getattr(self, name)
            if not -1 <= value <= 1:
                raise CalibrateError(f"threshold {name} must be between -1 and 1, got {value}")
        if self.alpha_tentative > self.alpha_reliable:
            raise CalibrateError(
                f"threshold alpha_tentative ({self.alpha_tentative}) must be at most "
                f"alpha_reliable ({self.alpha_reliable})"
            )
        for name in ("difficulty_gap", "max_advance", "halo_margin"):
            if not getattr(self, name) >= 0:
                raise CalibrateError(f"threshold {name} must be at least 0")
        if self.min_advance is not None and not 0 <= self.min_advance <= self.max_advance:
            raise CalibrateError(
                f"threshold min_advance must be between 0 and max_advance ({self.max_advance}), "
                f"got {self.min_advance}"
            )
        for name in (
            "min_category_count",
            "discrepancy_levels",
            "min_submissions",
            "min_discrepant",
            "min_anchors",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CalibrateError(f"threshold {name} must be a whole number >= 0, got {value}")

    def to_dict(self) -> dict[str, Any]:
        """The thresholds as plain data."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------- results


def _json_float(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class Finding:
    """One audited figure with its interval, threshold, evidence, verdict and advice.

    Attributes
    ----------
    kind : Kind
        What is audited (see the module docstring).
    criteria : tuple of str
        The criterion ids concerned: ``()`` for the rubric as a whole (the total score, the pass
        decision, a shared rating scale), one for a criterion, two for a pair of criteria.
    levels : tuple of int
        The level scores concerned (level usage: one; adjacent levels and thresholds: the pair
        ``(k, k + 1)`` whose descriptors are at issue); ``()`` otherwise.
    statistic : str
        The figure's statistic: ``"krippendorff_alpha.ordinal"`` (or ``.interval``),
        ``"quadratic_weighted_kappa"``, ``"share"``, ``"krippendorff_alpha.two_levels"``,
        ``"threshold_advance"`` (logits), ``"relative_difficulty"`` (logits), ``"spearman"``
        (or ``"pearson"``), ``"spearman_difference"`` (or ``"pearson_difference"``),
        ``"percent"``, ``"cohen_kappa"``, ``"attributed_share"``, ``"g"``, ``"phi"``.
    figure : float
        Its value on these data; NaN where undefined (e.g. every rating at one level).
    interval : ConfidenceInterval or None
        Its confidence interval (bootstrap, Wald, Wilson: see :func:`audit_rubric`); None for the
        G study's coefficients, whose bootstrap intervals :mod:`calibrate.stats.gtheory` supplies.
    threshold : float or None
        What the figure is judged against (from :class:`AuditThresholds`).
    n : int
        Size of the evidence, in units of ``evidence``.
    evidence : Evidence
        What ``n`` counts.
    verdict : Verdict
        Decided by the interval's bounds against ``threshold`` (never by the point value alone),
        or a reason no verdict can be drawn.
    concern : bool
        Whether the verdict calls for action (:data:`CONCERNS`).
    sentence : str
        One plain-language sentence stating the finding.
    recommendation : str
        What to do, in plain words.
    """

    kind: Kind
    criteria: tuple[str, ...]
    levels: tuple[int, ...]
    statistic: str
    figure: float
    interval: ConfidenceInterval | None
    threshold: float | None
    n: int
    evidence: Evidence
    verdict: Verdict
    concern: bool
    sentence: str
    recommendation: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``interval`` as ``[low, high]`` (None when absent), None for NaN."""
        return {
            "kind": self.kind,
            "criteria": list(self.criteria),
            "levels": list(self.levels),
            "statistic": self.statistic,
            "figure": _json_float(self.figure),
            "interval": None
            if self.interval is None
            else [_json_float(self.interval.low), _json_float(self.interval.high)],
            "threshold": _json_float(self.threshold),
            "n": self.n,
            "evidence": self.evidence,
            "verdict": self.verdict,
            "concern": self.concern,
            "sentence": self.sentence,
            "recommendation": self.recommendation,
        }


@dataclass(frozen=True)
class RubricAudit:
    """The audit of one rubric version: its findings and how they were reached.

    Attributes
    ----------
    rubric : str
        ``id@version``.
    level : float
        Coverage of every interval, e.g. 0.95.
    n_boot : int
        Bootstrap resamples behind each bootstrap interval.
    seed : int or None
        Seed of the bootstraps (the same seed reproduces every interval).
    metric : Metric
        Krippendorff's alpha metric used.
    correlation : Correlation
        Inter-criterion correlation used.
    thresholds : AuditThresholds
        The thresholds the verdicts apply.
    n_ratings, n_submissions, n_assessors : int
        Live ratings audited, the submissions and assessors among them.
    n_double_scored : int
        Submissions with at least two readings (on some criterion).
    n_anchors : int
        Anchors with ratings behind the halo findings (0 without anchors).
    rasch_model : {"partial-credit", "rating-scale"} or None
        The Rasch model behind the threshold and difficulty findings; None when no fit was
        possible (see ``notes``).
    findings : tuple of Finding
        In the order of :data:`KINDS`, rubric-level first, then criteria in rubric order.
    notes : tuple of str
        What a reader must know about how the findings were reached (a fallback model, a fit
        that did not converge, a criterion without ratings...).
    """

    rubric: str
    level: float
    n_boot: int
    seed: int | None
    metric: Metric
    correlation: Correlation
    thresholds: AuditThresholds
    n_ratings: int
    n_submissions: int
    n_assessors: int
    n_double_scored: int
    n_anchors: int
    rasch_model: Model | None
    findings: tuple[Finding, ...]
    notes: tuple[str, ...]

    def concerns(self) -> tuple[Finding, ...]:
        """The findings whose verdict calls for action."""
        return tuple(f for f in self.findings if f.concern)

    def select(self, kind: Kind | None = None, criterion: str | None = None) -> tuple[Finding, ...]:
        """The findings of one kind and/or naming one criterion (``""``: rubric-level ones)."""
        out = self.findings
        if kind is not None:
            out = tuple(f for f in out if f.kind == kind)
        if criterion is not None:
            out = tuple(
                f for f in out if (criterion in f.criteria if criterion else not f.criteria)
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe plain data: the attributes, ``findings`` as :meth:`Finding.to_dict`."""
        return {
            "rubric": self.rubric,
            "level": self.level,
            "n_boot": self.n_boot,
            "seed": self.seed,
            "metric": self.metric,
            "correlation": self.correlation,
            "thresholds": self.thresholds.to_dict(),
            "n_ratings": self.n_ratings,
            "n_submissions": self.n_submissions,
            "n_assessors": self.n_assessors,
            "n_double_scored": self.n_double_scored,
            "n_anchors": self.n_anchors,
            "rasch_model": self.rasch_model,
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- the use case


def audit_rubric(
    ratings: Ratings,
    rubric: Rubric,
    *,
    anchors: Sequence[AnchorSet] | None = None,
    anchor_ratings: Ratings | None = None,
    seed: int | None = 0,
    level: float = 0.95,
    n_boot: int = 1000,
    metric: Metric = "ordinal",
    correlation: Correlation = "spearman",
    thresholds: AuditThresholds | None = None,
) -> RubricAudit:
    r"""Audit a rubric version from its live ratings (and anchors): findings with intervals.

    Parameters
    ----------
    ratings : Ratings
        Live ratings of ``rubric``: ``unit`` = submission, ``rater`` = assessor,
        ``criterion`` (labels: the rubric's criterion ids), ``value`` (level scores). Rows of
        another context (a ``context`` column) or another rubric (a ``rubric`` column) are left
        out. One rating per submission x assessor x criterion (a *reading* is one assessor's
        scoring of one submission); readings of a submission are ordered by their first row
        (first reader, second reader...). Double-scored submissions give the agreement evidence.
    rubric : Rubric
        The rubric version: its levels, criteria and pass rule.
    anchors : sequence of AnchorSet, optional
        Anchor sets of ``rubric`` with the experts' scores; with ``anchor_ratings``, they give
        the halo findings.
    anchor_ratings : Ratings, optional
        The assessors' ratings of those anchors (units labelled with the anchor id or
        ``anchor:<id>``; rows of the live context or of another rubric are left out). Repeated
        scorings of an anchor by one assessor (rounds, retakes) count as separate readings.
    seed : int or None
        Seed of every bootstrap; each statistic draws from its own stream spawned from it, so
        the intervals do not depend on the order of computation. Default 0: an audit re-run on
        the same ratings reproduces its figures.
    level : float
        Coverage of the intervals, in (0, 1).
    n_boot : int
        Bootstrap resamples per interval.
    metric : {"ordinal", "interval"}
        Krippendorff's alpha metric; rubric levels are ordered categories, so ``ordinal`` by
        default.
    correlation : {"spearman", "pearson"}
        Inter-criterion correlation (Spearman's rho on the levels by default).
    thresholds : AuditThresholds, optional
        Default :class:`AuditThresholds()`.

    Returns
    -------
    RubricAudit

    Raises
    ------
    CalibrateError
        No live rating of the rubric; a criterion that is not the rubric's; a score that is not
        one of its levels; a submission scored twice on a criterion by one assessor; an anchor
        set of another rubric, anchors without their ratings (or the reverse), anchor ratings
        naming no anchor of the sets; ``level``, ``n_boot``, ``metric`` or ``correlation`` out
        of range.

    Notes
    -----
    *Verdicts follow intervals.* A figure with interval :math:`[L, U]` is judged above a
    threshold :math:`t` when :math:`L \ge t`, below it when :math:`U < t`, and otherwise "too
    few ... to tell", as also when its evidence is below the documented minimum
    (``min_submissions``, ``min_discrepant``, ``min_anchors``, ``min_category_count``).
    Degenerate but valid data give documented verdicts, not errors: ``no double-scored
    submissions``; ``undefined`` (e.g. alpha with every rating at one level, where expected
    disagreement is 0); ``not applicable`` (difficulty and drivers with one criterion); ``no
    interval`` (G and Phi, until :mod:`calibrate.stats.gtheory` supplies intervals).

    *Reliability* ([1]_, [2]_). Per criterion, units are submissions and values their ratings;
    for the total, values are the totals of complete readings (every criterion scored). Alpha
    comes from the coincidence matrix :math:`o_{ck}` of the double-scored submissions
    (:func:`~calibrate.stats.alpha.coincidences`,
    :func:`~calibrate.stats.alpha.alphas_of_coincidences`):
    :math:`\alpha = 1 - (n - 1) \sum o_{ck}\delta^2_{ck} / \sum n_c n_k \delta^2_{ck}`, the same
    numbers as :func:`calibrate.stats.agreement.krippendorff_alpha`. Its interval is the
    percentile bootstrap over double-scored submissions
    (:func:`~calibrate.stats.resample.bootstrap_units`; [14]_). Verdict: *reliable* when
    :math:`L \ge` ``alpha_reliable``; *tentative* when ``alpha_tentative`` :math:`\le L` and
    :math:`U <` ``alpha_reliable``; *not reliable* when :math:`U <` ``alpha_reliable`` and
    :math:`L <` ``alpha_tentative``. Quadratic weighted kappa ([4]_) is between each
    submission's first and second reading (:func:`~calibrate.stats.kappa.cohen_kappa` on the
    rubric's levels, or on the possible totals), with the Fleiss-Cohen-Everitt Wald interval
    clipped to :math:`[-1, 1]`, against ``qwk_min`` ([5]_).

    *Level usage*. The share :math:`p_k` of a criterion's ratings at level :math:`k`, with a
    Wilson (1927) interval [12]_ on the effective sample size :math:`n_{eff}` = number of
    submissions rated on the criterion: ratings of one submission are correlated, the design
    effect of :math:`m` readings per submission is at most :math:`m` ([13]_), so this is
    conservative, and unlike the bootstrap it stays informative when a level is never used.
    *unused*: no rating and :math:`U <` ``rare_share``; *rare*: :math:`U <` ``rare_share``;
    *in use*: :math:`L \ge` ``rare_share``.

    *Adjacent levels*. Whether assessors tell levels :math:`k` and :math:`k+1` apart: alpha
    computed from the :math:`2 \times 2` block of the coincidence matrix for the two levels,
    i.e. from the pairs of readings that both fall in :math:`\{k, k+1\}` (the idea of category
    distinguishability of Darroch & McCloud [11]_). With two values it is the nominal alpha,
    :math:`1 - (n - 1) o_{k,k+1} / (n_k n_{k+1})`; near 0 the two readings of a submission
    pick between the levels at random. *not distinguished*: :math:`U <` ``distinction_min``.

    *Rasch thresholds and difficulty* ([6]_-[9]_). A many-facet Rasch fit
    (:func:`~calibrate.stats.rasch.fit_mfrm`; submission, assessor, criterion), partial-credit
    (a scale per criterion) when every criterion uses two levels or more, else rating-scale.
    For consecutive Rasch-Andrich thresholds :math:`F_j` (levels :math:`k-1|k`) and
    :math:`F_{j+1}` (levels :math:`k|k+1`) the advance :math:`d = F_{j+1} - F_j` has standard
    error :math:`\sqrt{a^\top H^{-1} a}`, :math:`a = e_{j+1} - e_j`, from the thresholds' joint
    information :math:`H_{jl} = \sum_n [P(X_n \ge \max(j, l)) - P(X_n \ge j) P(X_n \ge l)]`
    with the other measures held fixed (the diagonal of :math:`H` gives the fit's threshold
    SEs; the covariance matters: adjacent thresholds share the middle level's count). Linacre's
    (2002) guidelines applied: (1) at least ``min_category_count`` ratings in each of the three
    levels, else "too few ratings to tell"; (5) thresholds advance: *disordered* when
    :math:`U < 0`, the middle level is never the most probable, and the descriptors of levels
    :math:`k` and :math:`k+1` overlap; (7) advance by at least ``min_advance``, *too close*
    when :math:`U <` ``min_advance`` (default: the advance of the binomial-trials scale with
    :math:`M` thresholds, :math:`F_j = \ln(j / (M - j + 1))`, i.e.
    :math:`\ln[(j+1)(M-j+1) / (j(M-j))]`: 1.39 logits for three levels, Linacre's 1.4, and
    1.10 for four); (8) advance by less than ``max_advance``, *too far apart* when
    :math:`L \ge` ``max_advance``. Joint maximum likelihood spreads thresholds (by about
    :math:`L/(L-1)` for :math:`L` ratings per submission; see
    :func:`~calibrate.stats.rasch.fit_mfrm`), so with few ratings per submission advances are
    overstated and "too close" errs on the lenient side. The criterion's difficulty relative
    to the others is :math:`D_i - \frac{1}{I-1}\sum_{j \ne i} D_j`, with SE
    :math:`\sqrt{s_i^2 + \sum_{j \ne i} s_j^2 / (I-1)^2}` (joint SEs where the fit has them),
    judged against :math:`\pm` ``difficulty_gap`` (harder: :math:`L \ge` gap; easier:
    :math:`U <` -gap; in line: the interval within them).

    *Correlation* between criteria within readings: Spearman's rho (or Pearson's r) over the
    readings scoring both, computed from the weighted contingency table of the two criteria's
    levels, with a percentile bootstrap interval over submissions (readings of a submission
    stay together). *redundant*: :math:`L \ge` ``redundancy_r``. *Halo* (on anchors): the
    assessors' correlation over their readings of anchors minus the experts' correlation over
    the same readings' anchors (each anchor weighted by its readings), bootstrapped over
    anchors; *halo*: :math:`L \ge` ``halo_margin``.

    *Decisions* between each submission's first two complete readings
    (:func:`~calibrate.stats.accuracy.decision_agreement`): percent agreement with a Wilson
    interval, Cohen's kappa with its Wald interval.

    *Discrepancy drivers*. A pair of first and second complete readings is discrepant when it
    differs by more than ``discrepancy_levels`` on a criterion or in its decision. A criterion
    accounts for the pair when it is one of those more than ``discrepancy_levels`` apart, or,
    for a decision difference, when giving one reading the other's score on that criterion
    alone would change that reading's decision (if none would, every criterion on which the
    readings differ accounts). Each discrepant pair is shared equally among the criteria
    accounting for it, so the attributed shares sum to 1; interval: bootstrap over
    double-scored submissions; *drives discrepancies* when :math:`L \ge` ``driver_share``.

    *Generalizability* ([15]_): :func:`calibrate.stats.gtheory.gstudy` on all live ratings;
    G and Phi at the observed design, point values. Their bootstrap intervals are supplied by
    :mod:`calibrate.stats.gtheory`; until then these findings carry ``interval=None`` and the
    verdict ``no interval``.

    Examples
    --------
    Krippendorff's (2011, p. 8) reliability data as one criterion of a 1-5 rubric: four
    assessors, twelve submissions, some not read by all. He prints ordinal alpha 0.815 and
    interval alpha 0.849; with eleven double-scored submissions the audit draws no verdict:

    >>> from calibrate.rubric import rubric_from_data
    >>> rubric = rubric_from_data({"id": "k", "version": 1, "title": "K", "competency": "C.",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in range(1, 6)],
    ...     "criteria": [{"id": "c", "title": "C", "descriptors": {s: "d" for s in range(1, 6)}}],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="example")
    >>> readers = ["123321412...", "1233224125.3", ".3332342251.", "12332441251."]
    >>> rows = [(u, j, v) for j, o in enumerate(readers) for u, v in enumerate(o) if v != "."]
    >>> u, r, v = (np.array(x) for x in zip(*rows))
    >>> ratings = Ratings(u, r, np.zeros(u.size, dtype=np.int64), v.astype(float),
    ...                   tuple(f"u{i:02}" for i in range(12)), tuple("ABCD"), ("c",))
    >>> audit = audit_rubric(ratings, rubric, n_boot=200)
    >>> alpha = audit.select("reliability")[0]
    >>> round(alpha.figure, 3), alpha.n, alpha.verdict
    (0.815, 11, 'too few double-scored submissions to tell')
    >>> interval = audit_rubric(ratings, rubric, n_boot=200, metric="interval")
    >>> round(interval.select("reliability")[0].figure, 3)
    0.849
    """
    th = thresholds if thresholds is not None else AuditThresholds()
    if not 0 < level < 1:
        raise CalibrateError(f"level must be between 0 and 1 (a confidence level), got {level}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 1:
        raise CalibrateError(f"n_boot must be a whole number of resamples >= 1, got {n_boot}")
    if metric not in get_args(Metric):
        raise CalibrateError(f"metric must be 'ordinal' or 'interval', got {metric!r}")
    if correlation not in get_args(Correlation):
        raise CalibrateError(f"correlation must be 'spearman' or 'pearson', got {correlation!r}")
    if (anchors is None) != (anchor_ratings is None):
        raise CalibrateError(
            "anchors and anchor_ratings go together: give the anchor sets and the assessors' "
            "ratings of their anchors, or neither"
        )
    live = _prepare_live(ratings, rubric)
    anchor_data = None
    if anchors is not None and anchor_ratings is not None:
        anchor_data = _prepare_anchors(anchor_ratings, anchors, rubric)
    root = np.random.SeedSequence(seed)
    ctx = _Context(live, rubric, th, level, n_boot, root, metric, correlation)
    notes: list[str] = [
        f"criterion {c!r} has no live ratings: it is not audited, and without complete "
        "readings no pass decisions are compared"
        for i, c in enumerate(rubric.criterion_ids)
        if not live.rated[i]
    ]
    rasch_findings, rasch_notes, model = _rasch_findings(ctx)
    notes += rasch_notes
    g_findings, g_notes = _generalizability(ctx)
    notes += g_notes
    found = (
        _reliability(ctx)
        + _weighted_kappa(ctx)
        + _level_usage(ctx)
        + _level_distinction(ctx)
        + rasch_findings
        + _redundancy(ctx)
        + (_halo(ctx, anchor_data) if anchor_data is not None else [])
        + _decisions(ctx)
        + _discrepancy_drivers(ctx)
        + g_findings
    )
    order = {k: i for i, k in enumerate(KINDS)}
    found.sort(key=lambda f: order[f.kind])  # stable: within a kind, the order built
    return RubricAudit(
        rubric=rubric.key,
        level=level,
        n_boot=n_boot,
        seed=seed,
        metric=metric,
        correlation=correlation,
        thresholds=th,
        n_ratings=int(live.value.size),
        n_submissions=live.n_sub,
        n_assessors=int(np.unique(live.rater).size),
        n_double_scored=int(np.count_nonzero(np.bincount(live.reading_sub) >= 2)),
        n_anchors=0 if anchor_data is None else anchor_data.n_anchors,
        rasch_model=model,
        findings=tuple(found),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class _Live:
    """Live ratings coded against the rubric.

    ``sub``, ``rater``, ``crit`` (rubric index), ``lev`` (level index), ``value``: one entry
    per rating. Readings (one assessor's scoring of one submission): ``table`` (R, I) of scores
    (NaN = not scored), ``reading_sub`` and ``reading_rank`` (0 = the submission's first
    reading, by first row).
    """

    sub: IntArray
    rater: IntArray
    crit: IntArray
    lev: IntArray
    value: FloatArray
    n_sub: int
    table: FloatArray
    reading_sub: IntArray
    reading_rank: IntArray
    rated: BoolArray


def _criterion_index(labels: Sequence[str], rubric: Rubric, what: str) -> IntArray:
    known = {c: i for i, c in enumerate(rubric.criterion_ids)}
    unknown = [c for c in labels if c not in known]
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:5])
        raise CalibrateError(
            f"{what} name criteria that {rubric.key} does not have: {shown} "
            f"(its criteria: {', '.join(rubric.criterion_ids)})"
        )
    return np.array([known[c] for c in labels], dtype=np.int64)


def _level_index(value: FloatArray, rubric: Rubric, what: str) -> IntArray:
    scores = np.asarray(rubric.scores, dtype=np.float64)
    if not np.isfinite(value).all():
        raise CalibrateError(f"{what} hold missing or infinite scores; give level scores only")
    pos = np.clip(np.searchsorted(scores, value), 0, scores.size - 1)
    bad = scores[pos] != value
    if bad.any():
        raise CalibrateError(
            f"{what} hold score {value[bad][0]:g}, which is not a level of {rubric.key} "
            f"(levels {', '.join(map(str, rubric.scores))})"
        )
    return pos.astype(np.int64)


def _prepare_live(ratings: Ratings, rubric: Rubric) -> _Live:
    rows = procedure_rows(ratings, rubric, ("live",))
    if len(rows) == 0:
        raise CalibrateError(f"the ratings hold no live rating of {rubric.key} to audit")
    crit = _criterion_index(rows.criteria, rubric, "the ratings")[rows.criterion]
    lev = _level_index(rows.value, rubric, "the ratings")
    sub, n_sub = _dense(rows.unit)
    rater, n_rater = _dense(rows.rater)
    n_crit = len(rubric.criteria)
    cell = (sub * n_rater + rater) * n_crit + crit
    sorted_cell = np.sort(cell)
    dup = np.flatnonzero(sorted_cell[1:] == sorted_cell[:-1])
    if dup.size:
        i = int(np.flatnonzero(cell == sorted_cell[dup[0]])[0])
        raise CalibrateError(
            f"assessor {rows.raters[rows.rater[i]]!r} scored submission "
            f"{rows.units[rows.unit[i]]!r} on criterion {rubric.criterion_ids[crit[i]]!r} more "
            "than once: the audit takes one reading per cell (choose it with "
            "Ratings.select(keep='first'))"
        )
    reading_key = sub * n_rater + rater
    keys, reading = np.unique(reading_key, return_inverse=True)
    reading = reading.astype(np.int64)
    n_read = keys.size
    first_row = np.full(n_read, rows.value.size, dtype=np.int64)
    np.minimum.at(first_row, reading, np.arange(rows.value.size))
    reading_sub = (keys // n_rater).astype(np.int64)
    order = np.lexsort((first_row, reading_sub))
    reading_rank = np.empty(n_read, dtype=np.int64)
    reading_rank[order] = _rank_within(reading_sub[order])
    table = np.full((n_read, n_crit), np.nan)
    table[reading, crit] = rows.value
    return _Live(
        sub=sub,
        rater=rater,
        crit=crit,
        lev=lev,
        value=rows.value.astype(np.float64),
        n_sub=n_sub,
        table=table,
        reading_sub=reading_sub,
        reading_rank=reading_rank,
        rated=np.bincount(crit, minlength=n_crit) > 0,
    )


@dataclass(frozen=True)
class _Anchors:
    """Readings of anchors: ``table`` (R, I) of scores (NaN = not scored), ``anchor`` (R,),
    and the experts' scores ``expert`` (A, I)."""

    table: FloatArray
    anchor: IntArray
    expert: FloatArray
    n_anchors: int


def _prepare_anchors(
    ratings: Ratings, anchor_sets: Sequence[AnchorSet], rubric: Rubric
) -> _Anchors:
    sets = tuple(anchor_sets)
    ids = anchor_ids_of(sets, rubric, empty="anchors must hold at least one anchor set")
    expert = np.vstack([s.expert_scores(rubric.criterion_ids) for s in sets]).astype(np.float64)
    rows = procedure_rows(ratings, rubric, ("practice", "qualification", "validity"))
    if len(rows) == 0:
        raise CalibrateError(f"anchor_ratings hold no rating of an anchor of {rubric.key}")
    index = {a: i for i, a in enumerate(ids)}
    labels = [u.removeprefix("anchor:") for u in rows.units]
    unknown = [u for u in labels if u not in index]
    if unknown:
        raise CalibrateError(
            "anchor_ratings name submissions that are not anchors of the sets given: "
            + ", ".join(repr(u) for u in unknown[:5])
        )
    anchor = np.array([index[u] for u in labels], dtype=np.int64)[rows.unit]
    crit = _criterion_index(rows.criteria, rubric, "anchor_ratings")[rows.criterion]
    _level_index(rows.value, rubric, "anchor_ratings")
    round_code = (
        factorize(rows.columns["round"])[0]
        if "round" in rows.columns
        else np.zeros(len(rows), dtype=np.int64)
    )
    # A reading: one assessor, anchor and round; a cell scored again in the same round (a
    # retake) starts another reading, the k-th score of each criterion forming the k-th one.
    n = len(rows)
    base = np.stack([anchor, rows.rater, round_code])
    order = np.lexsort((np.arange(n), crit, *base[::-1]))
    cell = np.vstack([base, crit])[:, order]
    new = np.r_[True, (cell[:, 1:] != cell[:, :-1]).any(axis=0)]
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = _rank_within(np.cumsum(new))
    ids_r, reading = np.unique(np.vstack([base, occurrence]).T, axis=0, return_inverse=True)
    table = np.full((ids_r.shape[0], len(rubric.criteria)), np.nan)
    table[reading.ravel(), crit] = rows.value
    return _Anchors(
        table=table,
        anchor=ids_r[:, 0].astype(np.int64),
        expert=expert,
        n_anchors=int(np.unique(anchor).size),
    )


def _dense(codes: IntArray) -> tuple[IntArray, int]:
    labels, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64), int(labels.size)


def _rank_within(groups: NDArray[Any]) -> IntArray:
    """0, 1, 2... within runs of equal values of sorted ``groups``."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, groups[1:] != groups[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return (np.arange(n) - first).astype(np.int64)


# --------------------------------------------------------------------------- shared machinery


@dataclass(frozen=True)
class _Context:
    live: _Live
    rubric: Rubric
    th: AuditThresholds
    level: float
    n_boot: int
    root: np.random.SeedSequence
    metric: Metric
    correlation: Correlation

    def rng(self, *key: int) -> np.random.Generator:
        """The bootstrap stream of one statistic, keyed by (kind, criterion, ...)."""
        return np.random.default_rng(
            np.random.SeedSequence(self.root.entropy, spawn_key=(*self.root.spawn_key, *key))
        )

    @property
    def criteria(self) -> tuple[str, ...]:
        return self.rubric.criterion_ids

    @property
    def cats(self) -> FloatArray:
        return np.asarray(self.rubric.scores, dtype=np.float64)

    @property
    def z(self) -> float:
        return float(ndtri(0.5 + self.level / 2))

    def pct(self) -> str:
        return f"{self.level:.0%}"

    def interval_text(self, ci: ConfidenceInterval | None, digits: int = 2) -> str:
        if ci is None or not (math.isfinite(ci.low) and math.isfinite(ci.high)):
            return "no interval"
        return f"{self.pct()} interval {ci.low:.{digits}f} to {ci.high:.{digits}f}"

    def bootstrap(
        self,
        rows: FloatArray,
        statistics: Callable[[FloatArray, FloatArray], Mapping[str, FloatArray]],
        key: tuple[int, ...],
    ) -> tuple[dict[str, float], dict[str, ConfidenceInterval]]:
        """Point values and percentile intervals over units, each unit one row of ``rows``.

        Units with equal rows are exchangeable: they are grouped into patterns and resampled
        as multinomial counts (:func:`~calibrate.stats.resample.bootstrap_units`).
        ``statistics(patterns, w)`` gets the (P, k) patterns and (b, P) weights.
        """
        patterns, mult = _patterns(rows)
        point = {
            name: float(v[0])
            for name, v in statistics(patterns, mult[None, :].astype(np.float64)).items()
        }
        boot = bootstrap_units(
            mult.astype(np.int64),
            lambda w: statistics(patterns, w),
            n_boot=self.n_boot,
            seed=self.rng(*key),
            confidence=self.level,
        )
        return point, dict(boot.items())


def _patterns(rows: FloatArray) -> tuple[FloatArray, IntArray]:
    """Distinct rows of ``rows`` (U, k), sorted, and how many units show each. Rows of small
    non-negative whole numbers (counts, the usual case) are read as numbers in base
    ``max + 1``: one key per unit and a 1-D sort, instead of sorting rows."""
    top = float(rows.max(initial=0.0))
    whole = bool((rows >= 0).all() and (rows == np.round(rows)).all())
    base = int(top) + 1
    if whole and rows.shape[1] * math.log2(base) < 62:
        powers = base ** np.arange(rows.shape[1] - 1, -1, -1, dtype=np.int64)
        keys, mult = np.unique(rows.astype(np.int64) @ powers, return_counts=True)
        patterns = (keys[:, None] // powers) % base
        return patterns.astype(np.float64), mult.astype(np.int64)
    patterns, mult = np.unique(rows, axis=0, return_counts=True)
    return patterns, mult.astype(np.int64)


def _nan_interval(level: float) -> ConfidenceInterval:
    return ConfidenceInterval(math.nan, math.nan, level)


def _band(ci: ConfidenceInterval | None, threshold: float) -> Literal["above", "below", "both"]:
    """Where an interval lies against a threshold: wholly at or above, wholly below, or both
    (including an undefined interval)."""
    if ci is None or not (math.isfinite(ci.low) and math.isfinite(ci.high)):
        return "both"
    if ci.low >= threshold:
        return "above"
    if ci.high < threshold:
        return "below"
    return "both"


def _finding(
    kind: Kind,
    criteria: tuple[str, ...],
    statistic: str,
    figure: float,
    interval: ConfidenceInterval | None,
    threshold: float | None,
    n: int,
    evidence: Evidence,
    verdict: Verdict,
    sentence: str,
    recommendation: str,
    levels: tuple[int, ...] = (),
) -> Finding:
    return Finding(
        kind=kind,
        criteria=criteria,
        levels=levels,
        statistic=statistic,
        figure=float(figure),
        interval=interval,
        threshold=threshold,
        n=int(n),
        evidence=evidence,
        verdict=verdict,
        concern=verdict in CONCERNS,
        sentence=sentence,
        recommendation=recommendation,
    )


def _name(criteria: tuple[str, ...]) -> str:
    if not criteria:
        return "The total score"
    if len(criteria) == 1:
        return f"Criterion {criteria[0]!r}"
    return f"Criteria {criteria[0]!r} and {criteria[1]!r}"


def _more_double_scoring(th: AuditThresholds) -> str:
    return (
        f"Double-score more submissions (at least {th.min_submissions}, NAEP second-scores 25% "
        "of small samples) before judging."
    )


def _first_two(sub: IntArray, rank: IntArray, keep: BoolArray) -> tuple[IntArray, IntArray]:
    """Indices of the first and the second kept reading of every submission with two."""
    idx = np.flatnonzero(keep)
    order = idx[np.lexsort((rank[idx], sub[idx]))]
    pos = _rank_within(sub[order])
    first, second = order[pos == 0], order[pos == 1]
    return first[np.isin(sub[first], sub[second])], second


def _reading_values(ctx: _Context, criteria: tuple[str, ...]) -> FloatArray:
    """Per reading (R,): its score on the one criterion named, or with ``()`` its total over
    all criteria; NaN where the reading lacks it."""
    table = ctx.live.table
    values: FloatArray = (
        table[:, ctx.criteria.index(criteria[0])]
        if criteria
        else table.sum(axis=1)  # NaN unless every criterion is scored
    )
    return values


def _total_levels(ctx: _Context) -> FloatArray:
    """Every possible total score, lowest first."""
    n_crit = len(ctx.criteria)
    lo, hi = min(ctx.rubric.scores) * n_crit, max(ctx.rubric.scores) * n_crit
    return np.arange(lo, hi + 1, dtype=np.float64)


def _unit_counts(ctx: _Context, values: FloatArray, cats: FloatArray) -> FloatArray:
    """Readings per submission and category of ``values`` (R,), shape (S, C): one row per
    submission with a value."""
    live = ctx.live
    has = ~np.isnan(values)
    pos = np.searchsorted(cats, values[has])
    flat = np.bincount(live.reading_sub[has] * cats.size + pos, minlength=live.n_sub * cats.size)
    counts = flat.reshape(live.n_sub, cats.size).astype(np.float64)
    rated: FloatArray = counts[counts.sum(axis=1) > 0]
    return rated


def _jobs(ctx: _Context) -> list[tuple[tuple[str, ...], FloatArray, FloatArray, int]]:
    """(criteria, per-reading values, categories, key) for the total (with two criteria or
    more, all rated) and for each rated criterion."""
    jobs: list[tuple[tuple[str, ...], FloatArray, FloatArray, int]] = []
    if len(ctx.criteria) > 1 and ctx.live.rated.all():
        jobs.append(((), _reading_values(ctx, ()), _total_levels(ctx), 0))
    for c, cid in enumerate(ctx.criteria):
        if ctx.live.rated[c]:
            jobs.append(((cid,), _reading_values(ctx, (cid,)), ctx.cats, c + 1))
    return jobs


# --------------------------------------------------------------------------- 1. reliability


def _alpha_statistics(
    cats: FloatArray, metric: AlphaLevel, pairs: bool
) -> Callable[[FloatArray, FloatArray], dict[str, FloatArray]]:
    """Alpha (and, with ``pairs``, alpha restricted to each two adjacent levels) of unit
    patterns (P, C) under weightings (b, P)."""

    def statistics(patterns: FloatArray, w: FloatArray) -> dict[str, FloatArray]:
        o = coincidences(patterns.astype(np.int64), w)
        out = {"alpha": alphas_of_coincidences(o, cats, (metric,))[metric]}
        if pairs:
            for k in range(cats.size - 1):
                block = o[..., k : k + 2, k : k + 2]
                out[f"pair{k}"] = alphas_of_coincidences(block, cats[k : k + 2], ("nominal",))[
                    "nominal"
                ]
        return out

    return statistics


def _alpha_verdict(figure: float, ci: ConfidenceInterval, n: int, th: AuditThresholds) -> Verdict:
    if n == 0:
        return "no double-scored submissions"
    if math.isnan(figure):
        return "undefined"
    if n < th.min_submissions:
        return "too few double-scored submissions to tell"
    band = _band(ci, th.alpha_reliable)
    if band == "above":
        return "reliable"
    if band == "below":
        return "tentative" if ci.low >= th.alpha_tentative else "not reliable"
    return "too few double-scored submissions to tell"


_ALPHA_ADVICE: dict[str, str] = {
    "reliable": _NO_CHANGE,
    "tentative": (
        "Use these scores for tentative conclusions only: sharpen the level descriptors with "
        "concrete evidence for each level and recalibrate assessors on anchors."
    ),
    "not reliable": (
        "Assessors do not score this alike: rewrite the level descriptors with concrete "
        "evidence for each level, add anchors at every level with rationales, and recalibrate "
        "assessors before relying on these scores."
    ),
    "undefined": "Check whether this criterion separates submissions at all.",
}


def _reliability(ctx: _Context) -> list[Finding]:
    th = ctx.th
    out: list[Finding] = []
    statistic = f"krippendorff_alpha.{ctx.metric}"
    for criteria, values, cats, key in _jobs(ctx):
        counts = _unit_counts(ctx, values, cats)
        double = counts[counts.sum(axis=1) >= 2]
        n = double.shape[0]
        if n:
            point, ci_all = ctx.bootstrap(
                double, _alpha_statistics(cats, ctx.metric, False), (1, key)
            )
            figure, ci = point["alpha"], ci_all["alpha"]
        else:
            figure, ci = math.nan, _nan_interval(ctx.level)
        verdict = _alpha_verdict(figure, ci, n, th)
        what = f"{_name(criteria)}: Krippendorff's alpha ({ctx.metric})"
        if verdict == "no double-scored submissions":
            sentence = f"{what} cannot be computed: no submission was read twice."
            advice = _more_double_scoring(th)
        elif verdict == "undefined":
            sentence = (
                f"{what} is undefined: every double-scored rating is at one level, so there is "
                "no variation to agree on."
            )
            advice = _ALPHA_ADVICE["undefined"]
        else:
            judged = {
                "reliable": f"reliable (at least {th.alpha_reliable:.3f})",
                "tentative": (
                    f"tentative only (between {th.alpha_tentative:.3f} and {th.alpha_reliable:.3f})"
                ),
                "not reliable": f"not reliable (below {th.alpha_reliable:.3f})",
            }.get(
                verdict,
                f"too few double-scored submissions to tell against {th.alpha_reliable:.3f}",
            )
            sentence = (
                f"{what} is {figure:.3f} ({ctx.interval_text(ci, 3)}) over {n} double-scored "
                f"submissions: {judged}."
            )
            advice = _ALPHA_ADVICE.get(verdict, _more_double_scoring(th))
        out.append(
            _finding(
                "reliability",
                criteria,
                statistic,
                figure,
                ci,
                th.alpha_reliable,
                n,
                "double-scored submissions",
                verdict,
                sentence,
                advice,
            )
        )
    return out


def _weighted_kappa(ctx: _Context) -> list[Finding]:
    th, live = ctx.th, ctx.live
    out: list[Finding] = []
    for criteria, values, levels, _ in _jobs(ctx):
        keep = ~np.isnan(values)
        first, second = _first_two(live.reading_sub, live.reading_rank, keep)
        n = first.size
        figure, ci = math.nan, _nan_interval(ctx.level)
        if n:
            kappa = cohen_kappa(values[first], values[second], weights="quadratic", levels=levels)
            figure = kappa.kappa
            wald = kappa.confidence_interval(ctx.level)
            ci = ConfidenceInterval(max(wald.low, -1.0), min(wald.high, 1.0), ctx.level)
        verdict = _standard_verdict(figure, ci, n, th.qwk_min, th.min_submissions)
        what = f"{_name(criteria)}: quadratic weighted kappa between first and second readings"
        out.append(
            _finding(
                "weighted_kappa",
                criteria,
                "quadratic_weighted_kappa",
                figure,
                ci,
                th.qwk_min,
                n,
                "double-scored submissions",
                verdict,
                _standard_sentence(ctx, what, figure, ci, n, th.qwk_min, verdict),
                _standard_advice(
                    verdict,
                    th,
                    "Human readings should reach this (Williamson, Xi & Breyer 2012): clarify "
                    "the descriptors and recalibrate assessors on anchors.",
                ),
            )
        )
    return out


def _standard_verdict(
    figure: float, ci: ConfidenceInterval, n: int, threshold: float, minimum: int
) -> Verdict:
    if n == 0:
        return "no double-scored submissions"
    if math.isnan(figure):
        return "undefined"
    if n < minimum:
        return "too few double-scored submissions to tell"
    band = _band(ci, threshold)
    if band == "above":
        return "meets standard"
    if band == "below":
        return "below standard"
    return "too few double-scored submissions to tell"


def _standard_sentence(
    ctx: _Context,
    what: str,
    figure: float,
    ci: ConfidenceInterval,
    n: int,
    threshold: float,
    verdict: Verdict,
) -> str:
    if verdict == "no double-scored submissions":
        return f"{what} cannot be computed: no submission was read twice."
    if verdict == "undefined":
        return f"{what} is undefined: both readings put every submission in one category."
    judged = {
        "meets standard": f"meets the standard of {threshold:.2f}",
        "below standard": f"is below the standard of {threshold:.2f}",
    }.get(verdict, f"too few double-scored submissions to tell against {threshold:.2f}")
    return f"{what} is {figure:.2f} ({ctx.interval_text(ci)}) over {n} submissions: {judged}."


def _standard_advice(verdict: Verdict, th: AuditThresholds, below: str) -> str:
    if verdict == "meets standard":
        return _NO_CHANGE
    if verdict == "below standard":
        return below
    if verdict == "undefined":
        return "Check whether the readings vary at all before judging agreement."
    return _more_double_scoring(th)


# --------------------------------------------------------------------------- 2. level usage


def _wilson(x: float, n: float, z: float, level: float) -> ConfidenceInterval:
    """Wilson (1927) score interval of a proportion ``x / n``."""
    if n <= 0:
        return _nan_interval(level)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0))
    return ConfidenceInterval(max(centre - half, 0.0), min(centre + half, 1.0), level)


def _level_usage(ctx: _Context) -> list[Finding]:
    th = ctx.th
    scores = ctx.rubric.scores
    out: list[Finding] = []
    for c, cid in enumerate(ctx.criteria):
        if not ctx.live.rated[c]:
            continue
        counts = _unit_counts(ctx, ctx.live.table[:, c], ctx.cats)
        per_level = counts.sum(axis=0)
        n = int(per_level.sum())
        n_eff = counts.shape[0]
        for k, lv in enumerate(ctx.rubric.levels):
            share = float(per_level[k] / n)
            ci = _wilson(share * n_eff, n_eff, ctx.z, ctx.level)
            band = _band(ci, th.rare_share)
            verdict: Verdict
            if band == "below":
                verdict = "unused" if per_level[k] == 0 else "rare"
            elif band == "above":
                verdict = "in use"
            else:
                verdict = "too few ratings to tell"
            used = (
                f"was never used in {n} ratings ({ctx.interval_text(ci, 3)})"
                if per_level[k] == 0
                else f"holds {share:.1%} of {n} ratings ({ctx.interval_text(ci, 3)})"
            )
            judged = {
                "unused": "it is unused",
                "rare": f"rare (below {th.rare_share:.0%})",
                "in use": "in use",
            }.get(verdict, f"too few ratings to tell whether it is below {th.rare_share:.0%}")
            sentence = f"Criterion {cid!r}: level {lv.score} ({lv.label}) {used}: {judged}."
            if verdict in ("unused", "rare"):
                near = [str(x) for x in scores[max(k - 1, 0) : k + 2] if x != lv.score]
                sentence = (
                    f"{sentence[:-1]}; in effect it is not distinguished from level "
                    f"{' or '.join(near)}."
                )
            if verdict in ("unused", "rare"):
                advice = (
                    f"Assessors {'never' if verdict == 'unused' else 'seldom'} give level "
                    f"{lv.score} on {cid!r}: check that its descriptor describes work earners "
                    "submit, add an anchor at this level, or merge it with a neighbouring level."
                )
            elif verdict == "in use":
                advice = _NO_CHANGE
            else:
                advice = "Collect more ratings before judging how this level is used."
            out.append(
                _finding(
                    "level_usage",
                    (cid,),
                    "share",
                    share,
                    ci,
                    th.rare_share,
                    n,
                    "ratings",
                    verdict,
                    sentence,
                    advice,
                    levels=(lv.score,),
                )
            )
    return out


def _level_distinction(ctx: _Context) -> list[Finding]:
    th = ctx.th
    out: list[Finding] = []
    scores = ctx.rubric.scores
    for c, cid in enumerate(ctx.criteria):
        if not ctx.live.rated[c]:
            continue
        counts = _unit_counts(ctx, ctx.live.table[:, c], ctx.cats)
        double = counts[counts.sum(axis=1) >= 2]
        point: dict[str, float] = {}
        cis: dict[str, ConfidenceInterval] = {}
        if double.shape[0]:
            point, cis = ctx.bootstrap(double, _alpha_statistics(ctx.cats, "nominal", True), (2, c))
        for k in range(len(scores) - 1):
            pair = (scores[k], scores[k + 1])
            n = int(np.count_nonzero(double[:, k : k + 2].sum(axis=1) >= 2))
            figure = point.get(f"pair{k}", math.nan)
            ci = cis.get(f"pair{k}", _nan_interval(ctx.level))
            verdict: Verdict
            if double.shape[0] == 0:
                verdict = "no double-scored submissions"
            elif math.isnan(figure):
                verdict = "undefined"
            elif n < th.min_submissions:
                verdict = "too few double-scored submissions to tell"
            else:
                band = _band(ci, th.distinction_min)
                if band == "above":
                    verdict = "distinguished"
                elif band == "below":
                    verdict = "not distinguished"
                else:
                    verdict = "too few double-scored submissions to tell"
            what = f"Criterion {cid!r}, levels {pair[0]} and {pair[1]}"
            if verdict == "no double-scored submissions":
                sentence = f"{what}: no submission was read twice."
                advice = _more_double_scoring(th)
            elif verdict == "undefined":
                sentence = (
                    f"{what}: no two readings of a submission both fall in these levels "
                    "with each level used, so whether assessors tell them apart is unknown."
                )
                advice = "See the usage of these levels."
            else:
                judged = {
                    "distinguished": "assessors tell them apart",
                    "not distinguished": "assessors do not tell them apart",
                }.get(verdict, "too few double-scored submissions to tell")
                sentence = (
                    f"{what}: alpha restricted to the two levels is {figure:.2f} "
                    f"({ctx.interval_text(ci)}) over {n} submissions read twice within them: "
                    f"{judged}."
                )
                advice = {
                    "distinguished": _NO_CHANGE,
                    "not distinguished": (
                        f"Descriptors of levels {pair[0]} and {pair[1]} overlap: sharpen them or "
                        "merge the levels."
                    ),
                }.get(verdict, _more_double_scoring(th))
            out.append(
                _finding(
                    "level_distinction",
                    (cid,),
                    "krippendorff_alpha.two_levels",
                    figure,
                    ci,
                    th.distinction_min,
                    n,
                    "double-scored submissions",
                    verdict,
                    sentence,
                    advice,
                    levels=pair,
                )
            )
    return out


# --------------------------------------------------------------------------- 3-4. Rasch


def _binomial_advance(j: int, m: int) -> float:
    """Advance between thresholds ``j`` and ``j + 1`` (1-based) of the binomial-trials scale
    with ``m`` thresholds, ``F_j = ln(j / (m - j + 1))``."""
    return math.log((j + 1) * (m - j + 1) / (j * (m - j)))


def _fit(ctx: _Context, live: _Live) -> tuple[RaschResult | None, list[str]]:
    notes: list[str] = []
    models: tuple[Model, ...] = (
        ("partial-credit", "rating-scale") if live.rated.sum() > 1 else ("rating-scale",)
    )
    for model in models:
        try:
            fit = fit_mfrm(
                live.sub,
                live.rater,
                live.crit,
                live.value,
                model=model,
                categories=ctx.rubric.scores,
                on_disconnected="flag",
            )
        except StatisticsError as exc:
            notes.append(f"The {model} Rasch model cannot be fitted: {exc}.")
            continue
        if model == "rating-scale" and len(models) > 1:
            notes.append("Thresholds come from one rating scale shared by all criteria.")
        if not fit.converged:
            notes.append(
                f"The {model} Rasch model did not converge in {fit.iterations} iterations: its "
                "thresholds and difficulties are not judged."
            )
        if not fit.connected:
            notes.append(
                f"The assessors fall into {len(fit.subsets)} subsets no shared submissions link; "
                "criterion difficulties and thresholds are still comparable."
            )
        return fit, notes
    return None, notes


def _measures(report: Any, size: int) -> tuple[FloatArray, BoolArray]:
    measure = np.zeros(size)
    extreme = np.zeros(size, dtype=bool)
    for e in report.elements:
        measure[e.code] = e.measure
        extreme[e.code] = e.status in ("extreme_min", "extreme_max")
    return measure, extreme


def _threshold_information(
    fit: RaschResult, live: _Live, scale: Thresholds
) -> tuple[FloatArray, int]:
    """The joint information (M, M) of one scale's thresholds with every other measure fixed,
    and the ratings behind it (see Notes of :func:`audit_rubric`)."""
    b, b_x = _measures(fit.submissions, live.n_sub)
    size_r = int(live.rater.max()) + 1
    size_c = int(live.crit.max()) + 1
    c_m, c_x = _measures(fit.assessors, size_r)
    d_m, d_x = _measures(fit.criteria, size_c)
    active = ~(b_x[live.sub] | c_x[live.rater] | d_x[live.crit])
    if scale.criterion is not None:
        active &= live.crit == scale.criterion
    eta = (b[live.sub] - c_m[live.rater] - d_m[live.crit])[active]
    m = len(scale.tau)
    psi = np.concatenate([[0.0], np.cumsum(scale.tau)])
    logits = np.outer(eta, np.arange(m + 1)) - psi
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    at_least = np.cumsum(p[:, ::-1], axis=1)[:, ::-1][:, 1:]  # P(X >= j), j = 1..m
    top = np.maximum.outer(np.arange(m), np.arange(m))
    h = at_least[:, top].sum(axis=0) - at_least.T @ at_least
    return h, int(eta.size)


def _rasch_findings(ctx: _Context) -> tuple[list[Finding], list[str], Model | None]:
    # The fit sees the rated criteria only, coded 0..k-1 (``names`` gives their ids).
    rated = np.flatnonzero(ctx.live.rated)
    names = tuple(ctx.criteria[i] for i in rated.tolist())
    live = replace(
        ctx.live, crit=np.searchsorted(rated, ctx.live.crit), rated=np.ones(rated.size, bool)
    )
    fit, notes = _fit(ctx, live)
    if fit is None:
        return [], notes, None
    findings = _thresholds(ctx, fit, live, names) + _difficulty(ctx, fit, names)
    return findings, notes, fit.model


def _thresholds(
    ctx: _Context, fit: RaschResult, live: _Live, names: tuple[str, ...]
) -> list[Finding]:
    th = ctx.th
    out: list[Finding] = []
    for scale in fit.thresholds:
        criteria = () if scale.criterion is None else (names[scale.criterion],)
        cats = [int(c) for c in scale.categories]
        m = len(scale.tau)
        if m < 2:
            continue
        h, n = _threshold_information(fit, live, scale)
        try:
            cov = np.linalg.inv(h)
        except np.linalg.LinAlgError:
            cov = np.full_like(h, np.nan)
        on = np.ones(live.value.size, dtype=bool) if not criteria else live.crit == scale.criterion
        count = {v: int(np.count_nonzero(live.value[on] == v)) for v in cats}
        for j in range(1, m):
            a = np.zeros(m)
            a[j], a[j - 1] = 1.0, -1.0
            advance = scale.tau[j] - scale.tau[j - 1]
            se = math.sqrt(max(float(a @ cov @ a), 0.0)) if np.isfinite(cov).all() else math.nan
            ci = ConfidenceInterval(advance - ctx.z * se, advance + ctx.z * se, ctx.level)
            minimum = th.min_advance if th.min_advance is not None else _binomial_advance(j, m)
            below, middle, above = cats[j - 1], cats[j], cats[j + 1]
            sparse = [v for v in (below, middle, above) if count[v] < th.min_category_count]
            verdict: Verdict
            if not fit.converged or not math.isfinite(se):
                verdict = "undefined"
            elif sparse:
                verdict = "too few ratings to tell"
            elif _band(ci, 0.0) == "below":
                verdict = "disordered"
            elif _band(ci, minimum) == "below":
                verdict = "too close"
            elif _band(ci, th.max_advance) == "above":
                verdict = "too far apart"
            elif _band(ci, minimum) == "above":
                verdict = "ordered"
            else:
                verdict = "too few ratings to tell"
            scale_name = f"criterion {criteria[0]!r}" if criteria else "the shared rating scale"
            what = (
                f"On {scale_name}, the threshold between levels {middle} and {above} advances "
                f"{advance:+.2f} logits ({ctx.interval_text(ci)}) past the one between levels "
                f"{below} and {middle}"
            )
            judged = {
                "disordered": f"disordered: level {middle} is never the most probable level",
                "too close": f"less than the {minimum:.1f} logits Linacre's guideline 7 asks",
                "too far apart": f"more than {th.max_advance:.1f} logits (Linacre's guideline 8)",
                "ordered": f"ordered, by at least {minimum:.1f} logits",
                "undefined": "no advance can be judged: the Rasch model did not converge",
            }.get(
                verdict,
                (
                    f"fewer than {th.min_category_count} ratings at level(s) "
                    f"{', '.join(map(str, sparse))} (Linacre's guideline 1), too few to tell"
                    if sparse
                    else f"too few ratings to tell whether it reaches {minimum:.1f} logits"
                ),
            )
            advice = {
                "disordered": (
                    f"Descriptors of levels {middle} and {above} overlap: sharpen them or merge "
                    "the levels."
                ),
                "too close": (
                    f"Levels {middle} and {above} are barely told apart: sharpen their "
                    "descriptors so that each marks a clear step."
                ),
                "too far apart": (
                    f"The step from level {middle} to {above} is very large: consider a level "
                    "between them."
                ),
                "ordered": _NO_CHANGE,
                "undefined": "Collect more linked ratings (double scoring) and refit.",
            }.get(verdict, "Collect more ratings at these levels before judging the thresholds.")
            out.append(
                _finding(
                    "threshold_order",
                    criteria,
                    "threshold_advance",
                    advance,
                    ci,
                    minimum,
                    n,
                    "ratings",
                    verdict,
                    f"{what}: {judged}.",
                    advice,
                    levels=(middle, above),
                )
            )
    return out


def _difficulty(ctx: _Context, fit: RaschResult, names: tuple[str, ...]) -> list[Finding]:
    th = ctx.th
    elements = {e.code: e for e in fit.criteria.elements}
    codes = sorted(elements)
    out: list[Finding] = []
    k = len(codes)
    for c in codes:
        e = elements[c]
        cid = names[c]
        if k < 2:
            out.append(
                _finding(
                    "criterion_difficulty",
                    (cid,),
                    "relative_difficulty",
                    math.nan,
                    None,
                    th.difficulty_gap,
                    e.n,
                    "ratings",
                    "not applicable",
                    f"Criterion {cid!r} is the only criterion rated: there is nothing to compare "
                    f"its difficulty with (mean level {e.observed_average:.2f}).",
                    _NO_CHANGE,
                )
            )
            continue

        def se_of(x: Any) -> float:
            return float(x.se_joint if math.isfinite(x.se_joint) else x.se)

        others = [elements[o] for o in codes if o != c]
        relative = e.measure - float(np.mean([o.measure for o in others]))
        se = math.sqrt(se_of(e) ** 2 + sum(se_of(o) ** 2 for o in others) / (k - 1) ** 2)
        ci = ConfidenceInterval(relative - ctx.z * se, relative + ctx.z * se, ctx.level)
        verdict: Verdict
        if not fit.converged or not math.isfinite(se):
            verdict = "undefined"
        elif _band(ci, th.difficulty_gap) == "above":
            verdict = "harder than the rest"
        elif _band(ci, -th.difficulty_gap) == "below":
            verdict = "easier than the rest"
        elif _band(ci, -th.difficulty_gap) == "above" and _band(ci, th.difficulty_gap) == "below":
            verdict = "in line with the rest"
        else:
            verdict = "too few ratings to tell"
        mean_others = float(np.mean([o.observed_average for o in others]))
        judged = {
            "harder than the rest": f"more than {th.difficulty_gap:.1f} logit harder",
            "easier than the rest": f"more than {th.difficulty_gap:.1f} logit easier",
            "in line with the rest": f"within {th.difficulty_gap:.1f} logit",
            "undefined": "not judged: the Rasch model did not converge",
        }.get(verdict, "too few ratings to tell")
        sentence = (
            f"Criterion {cid!r} is {relative:+.2f} logits ({ctx.interval_text(ci)}) from the mean "
            f"difficulty of the others (mean level {e.observed_average:.2f} against "
            f"{mean_others:.2f}): {judged}."
        )
        advice = {
            "harder than the rest": (
                f"Check that the upper levels of {cid!r} do not ask for more than the other "
                "criteria's, and that the task lets earners show it."
            ),
            "easier than the rest": (
                f"Check that the upper levels of {cid!r} ask for as much as the other "
                "criteria's: assessors may credit it by default."
            ),
            "in line with the rest": _NO_CHANGE,
            "undefined": "Collect more linked ratings (double scoring) and refit.",
        }.get(verdict, "Collect more ratings before judging this criterion's difficulty.")
        out.append(
            _finding(
                "criterion_difficulty",
                (cid,),
                "relative_difficulty",
                relative,
                ci,
                th.difficulty_gap,
                e.n,
                "ratings",
                verdict,
                sentence,
                advice,
            )
        )
    return out


# --------------------------------------------------------------------------- 5. correlation


def _table_correlation(
    tables: FloatArray, x: FloatArray, y: FloatArray, method: Correlation
) -> FloatArray:
    """Correlation of two level variables from weighted contingency tables (..., A, B).

    Spearman: Pearson on mid-ranks, the mid-rank of level ``a`` being the mean position of its
    ratings among all, ``sum_{a' < a} r_{a'} + (r_a + 1) / 2`` (ties as scipy's ``spearmanr``).
    NaN where a variable is constant.
    """
    n = tables.sum(axis=(-2, -1))
    rows, cols = tables.sum(axis=-1), tables.sum(axis=-2)
    if method == "spearman":
        xs = np.cumsum(rows, axis=-1) - (rows - 1) / 2
        ys = np.cumsum(cols, axis=-1) - (cols - 1) / 2
    else:
        xs = np.broadcast_to(x, rows.shape)
        ys = np.broadcast_to(y, cols.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (rows * xs).sum(axis=-1) / n
        my = (cols * ys).sum(axis=-1) / n
        dx = xs - mx[..., None]
        dy = ys - my[..., None]
        cov = np.einsum("...ab,...a,...b->...", tables, dx, dy)
        vx = (rows * dx * dx).sum(axis=-1)
        vy = (cols * dy * dy).sum(axis=-1)
        den = np.sqrt(vx * vy)
        r = cov / den
    return np.asarray(np.where(den > 1e-12 * np.maximum(n, 1) ** 2, r, np.nan), dtype=np.float64)


def _pair_tables(
    table: FloatArray, group: IntArray, n_groups: int, a: int, b: int, cats: FloatArray
) -> FloatArray:
    """Readings scoring criteria ``a`` and ``b``, counted per group (submission or anchor) and
    pair of levels: shape (n_groups, L * L)."""
    both = ~np.isnan(table[:, a]) & ~np.isnan(table[:, b])
    n_lev = cats.size
    la = np.searchsorted(cats, table[both, a])
    lb = np.searchsorted(cats, table[both, b])
    flat = np.bincount((group[both] * n_lev + la) * n_lev + lb, minlength=n_groups * n_lev * n_lev)
    return flat.reshape(n_groups, n_lev * n_lev).astype(np.float64)


def _redundancy(ctx: _Context) -> list[Finding]:
    th, live, cats = ctx.th, ctx.live, ctx.cats
    n_lev = cats.size
    out: list[Finding] = []
    rated = [c for c in range(len(ctx.criteria)) if live.rated[c]]
    for a, b in combinations(rated, 2):
        per_sub = _pair_tables(live.table, live.reading_sub, live.n_sub, a, b, cats)
        per_sub = per_sub[per_sub.sum(axis=1) > 0]
        n = per_sub.shape[0]
        n_read = int(per_sub.sum())

        def statistics(patterns: FloatArray, w: FloatArray) -> dict[str, FloatArray]:
            tables = (w @ patterns).reshape(-1, n_lev, n_lev)
            return {"r": _table_correlation(tables, cats, cats, ctx.correlation)}

        figure, ci = math.nan, _nan_interval(ctx.level)
        if n:
            point, cis = ctx.bootstrap(per_sub, statistics, (3, a, b))
            figure, ci = point["r"], cis["r"]
        criteria = (ctx.criteria[a], ctx.criteria[b])
        verdict: Verdict
        if n == 0 or math.isnan(figure):
            verdict = "undefined"
        elif n < th.min_submissions:
            verdict = "too few submissions to tell"
        elif _band(ci, th.redundancy_r) == "above":
            verdict = "redundant"
        elif _band(ci, th.redundancy_r) == "below":
            verdict = "distinct"
        else:
            verdict = "too few submissions to tell"
        name = "Spearman's rho" if ctx.correlation == "spearman" else "Pearson's r"
        if verdict == "undefined":
            sentence = (
                f"{_name(criteria)}: no correlation within readings can be computed (no reading "
                "scores both with both varying)."
            )
        else:
            judged = {
                "redundant": f"above {th.redundancy_r:.2f}: they rank submissions alike",
                "distinct": f"below {th.redundancy_r:.2f}: not redundant",
            }.get(verdict, f"too few submissions to tell against {th.redundancy_r:.2f}")
            sentence = (
                f"{_name(criteria)}: {name} within readings is {figure:.2f} "
                f"({ctx.interval_text(ci)}) over {n_read} readings of {n} submissions: {judged}."
            )
        advice = {
            "redundant": (
                f"{criteria[0]!r} and {criteria[1]!r} are scored as one: merge them, or rewrite "
                "their descriptors so that each asks for different evidence."
            ),
            "distinct": _NO_CHANGE,
            "undefined": "Collect readings that score both criteria.",
        }.get(verdict, "Collect more readings before judging.")
        out.append(
            _finding(
                "redundancy",
                criteria,
                ctx.correlation,
                figure,
                ci,
                th.redundancy_r,
                n,
                "submissions",
                verdict,
                sentence,
                advice,
            )
        )
    return out


def _halo(ctx: _Context, anchors: _Anchors) -> list[Finding]:
    th, cats = ctx.th, ctx.cats
    n_lev = cats.size
    n_anchor = anchors.expert.shape[0]
    out: list[Finding] = []
    rated = [c for c in range(len(ctx.criteria)) if ctx.live.rated[c]]
    for a, b in combinations(rated, 2):
        readings = _pair_tables(anchors.table, anchors.anchor, n_anchor, a, b, cats)
        # The experts' scores of the same readings' anchors: one expert cell per anchor,
        # weighted by the anchor's readings.
        ea = np.searchsorted(cats, anchors.expert[:, a])
        eb = np.searchsorted(cats, anchors.expert[:, b])
        experts = np.zeros_like(readings)
        experts[np.arange(n_anchor), ea * n_lev + eb] = readings.sum(axis=1)
        used = readings.sum(axis=1) > 0
        rows = np.hstack([readings, experts])[used]
        n = rows.shape[0]

        def statistics(patterns: FloatArray, w: FloatArray) -> dict[str, FloatArray]:
            t = w @ patterns
            half = n_lev * n_lev
            ra = _table_correlation(
                t[:, :half].reshape(-1, n_lev, n_lev), cats, cats, ctx.correlation
            )
            re = _table_correlation(
                t[:, half:].reshape(-1, n_lev, n_lev), cats, cats, ctx.correlation
            )
            return {"difference": ra - re, "assessors": ra, "experts": re}

        figure, ci = math.nan, _nan_interval(ctx.level)
        point: dict[str, float] = {}
        if n:
            point, cis = ctx.bootstrap(rows, statistics, (4, a, b))
            figure, ci = point["difference"], cis["difference"]
        criteria = (ctx.criteria[a], ctx.criteria[b])
        verdict: Verdict
        if n == 0 or math.isnan(figure):
            verdict = "undefined"
        elif n < th.min_anchors:
            verdict = "too few anchors to tell"
        elif _band(ci, th.halo_margin) == "above":
            verdict = "halo"
        elif _band(ci, th.halo_margin) == "below":
            verdict = "no halo"
        else:
            verdict = "too few anchors to tell"
        if verdict == "undefined":
            sentence = (
                f"{_name(criteria)}: halo cannot be judged on the anchors (no reading scores "
                "both, or the experts' or assessors' scores of one criterion do not vary)."
            )
        else:
            judged = {
                "halo": "assessors score them alike more than the experts' scores warrant (halo)",
                "no halo": "no more alike than the experts' scores warrant",
            }.get(verdict, "too few anchors to tell")
            sentence = (
                f"{_name(criteria)}: on {n} anchors the assessors' correlation "
                f"({point['assessors']:.2f}) minus the experts' ({point['experts']:.2f}) is "
                f"{figure:+.2f} ({ctx.interval_text(ci)}): {judged}."
            )
        advice = {
            "halo": (
                f"Assessors let one impression carry from {criteria[0]!r} to {criteria[1]!r}: "
                "train them to score each criterion from its own evidence (anchors whose "
                "criteria differ), and consider scoring criteria in separate passes."
            ),
            "no halo": _NO_CHANGE,
            "undefined": "Include anchors whose expert scores vary on both criteria.",
        }.get(verdict, "Collect ratings of more anchors before judging halo.")
        out.append(
            _finding(
                "halo",
                criteria,
                f"{ctx.correlation}_difference",
                figure,
                ci,
                th.halo_margin,
                n,
                "anchors",
                verdict,
                sentence,
                advice,
            )
        )
    return out


# --------------------------------------------------------------------------- 6-7. decisions


def _decision_pairs(ctx: _Context) -> tuple[IntArray, IntArray]:
    live = ctx.live
    complete = np.asarray(~np.isnan(live.table).any(axis=1), dtype=bool)
    return _first_two(live.reading_sub, live.reading_rank, complete)


def _decisions(ctx: _Context) -> list[Finding]:
    th, live = ctx.th, ctx.live
    if not live.rated.all():
        return []
    first, second = _decision_pairs(ctx)
    n = first.size
    a = ctx.rubric.passes(live.table[first].astype(np.int64)) if n else np.zeros(0, bool)
    b = ctx.rubric.passes(live.table[second].astype(np.int64)) if n else np.zeros(0, bool)
    percent, ci_p = math.nan, _nan_interval(ctx.level)
    kappa, ci_k = math.nan, _nan_interval(ctx.level)
    n_discrepant = 0
    if n:
        agree = decision_agreement(a, b)
        percent = agree.percent
        n_discrepant = agree.n_discrepant
        ci_p = _wilson(percent * n, n, ctx.z, ctx.level)
        kappa = agree.kappa.kappa
        wald = agree.kappa.confidence_interval(ctx.level)
        ci_k = ConfidenceInterval(max(wald.low, -1.0), min(wald.high, 1.0), ctx.level)
    out: list[Finding] = []
    verdict = _standard_verdict(percent, ci_p, n, th.decision_agreement_min, th.min_submissions)
    if verdict in ("no double-scored submissions", "undefined"):
        sentence = (
            "No submission has two readings scoring every criterion, so no decisions compare."
        )
    else:
        judged = {
            "meets standard": f"meets the target of {th.decision_agreement_min:.0%}",
            "below standard": f"below the target of {th.decision_agreement_min:.0%}",
        }.get(
            verdict,
            f"too few double-scored submissions to tell against {th.decision_agreement_min:.0%}",
        )
        sentence = (
            f"The first two readings reach the same pass decision on {percent:.1%} of {n} "
            f"submissions ({ctx.interval_text(ci_p, 3)}; {n_discrepant} differ): {judged}."
        )
    out.append(
        _finding(
            "decision_agreement",
            (),
            "percent",
            percent,
            ci_p,
            th.decision_agreement_min,
            n,
            "double-scored submissions",
            verdict,
            sentence,
            _standard_advice(
                verdict,
                th,
                "Readings split on the decision too often: see which criteria drive the "
                "discrepant pairs, and make the pass level of each criterion unmistakable.",
            ),
        )
    )
    verdict = _standard_verdict(kappa, ci_k, n, th.decision_kappa_min, th.min_submissions)
    what = "Cohen's kappa on the pass decision between first and second readings"
    sentence = _standard_sentence(ctx, what, kappa, ci_k, n, th.decision_kappa_min, verdict)
    if verdict == "undefined":
        sentence = (
            f"{what} is undefined: both readings made the same decision on every submission "
            f"(all {'pass' if n and a.all() else 'not yet'})."
        )
    out.append(
        _finding(
            "decision_kappa",
            (),
            "cohen_kappa",
            kappa,
            ci_k,
            th.decision_kappa_min,
            n,
            "double-scored submissions",
            verdict,
            sentence,
            _standard_advice(
                verdict,
                th,
                "Agreement on the decision beyond chance is low: make the pass level of each "
                "criterion unmistakable in its descriptor and anchors.",
            ),
        )
    )
    return out


def _accounting(
    rubric: Rubric, x: FloatArray, y: FloatArray, apart: int
) -> tuple[BoolArray, BoolArray]:
    """Which pairs of readings ``x``, ``y`` (m, I) are discrepant, and which criteria account
    for each (m, I) (see Notes of :func:`audit_rubric`)."""
    xi, yi = x.astype(np.int64), y.astype(np.int64)
    px, py = rubric.passes(xi), rubric.passes(yi)
    diff = np.abs(x - y)
    far = diff > apart
    split = px != py
    pivotal = np.zeros_like(far)
    for c in range(x.shape[1]):
        x_c, y_c = xi.copy(), yi.copy()
        x_c[:, c], y_c[:, c] = yi[:, c], xi[:, c]
        pivotal[:, c] = (rubric.passes(x_c) != px) | (rubric.passes(y_c) != py)
    pivotal &= split[:, None]
    none = split & ~pivotal.any(axis=1)
    pivotal[none] = diff[none] > 0
    return far.any(axis=1) | split, far | pivotal


def _discrepancy_drivers(ctx: _Context) -> list[Finding]:
    th, live = ctx.th, ctx.live
    if not live.rated.all():
        return []
    first, second = _decision_pairs(ctx)
    n_pairs = first.size
    n_crit = len(ctx.criteria)
    share_threshold = th.driver_share if th.driver_share is not None else 1.0 / n_crit
    discrepant = np.zeros(0, dtype=bool)
    involved = np.zeros((0, n_crit), dtype=bool)
    if n_pairs:
        discrepant, involved = _accounting(
            ctx.rubric, live.table[first], live.table[second], th.discrepancy_levels
        )
    n_disc = int(discrepant.sum())
    count = involved[discrepant].sum(axis=0)
    point: dict[str, float] = {}
    cis: dict[str, ConfidenceInterval] = {}
    if n_disc:
        rows = np.hstack([discrepant[:, None], involved]).astype(np.float64)

        def statistics(patterns: FloatArray, w: FloatArray) -> dict[str, FloatArray]:
            # Each discrepant pair shared equally among the criteria accounting for it.
            share = patterns[:, 1:] / np.maximum(patterns[:, 1:].sum(axis=1, keepdims=True), 1)
            pairs = w @ patterns[:, 0]
            with np.errstate(invalid="ignore", divide="ignore"):
                return {f"c{c}": (w @ share[:, c]) / pairs for c in range(n_crit)}

        point, cis = ctx.bootstrap(rows, statistics, (5,))
    out: list[Finding] = []
    for c, cid in enumerate(ctx.criteria):
        figure = point.get(f"c{c}", math.nan)
        ci = cis.get(f"c{c}", _nan_interval(ctx.level))
        verdict: Verdict
        if n_crit == 1:
            verdict = "not applicable"
        elif n_pairs == 0:
            verdict = "no double-scored submissions"
        elif n_disc == 0:
            verdict = "undefined"
        elif n_disc < th.min_discrepant:
            verdict = "too few discrepant pairs to tell"
        elif _band(ci, share_threshold) == "above":
            verdict = "drives discrepancies"
        elif _band(ci, share_threshold) == "below":
            verdict = "below its share"
        else:
            verdict = "too few discrepant pairs to tell"
        if verdict == "not applicable":
            sentence = (
                f"Criterion {cid!r} is the rubric's only criterion: it accounts for every "
                "discrepancy."
            )
        elif verdict == "no double-scored submissions":
            sentence = (
                "No submission has two readings scoring every criterion: no discrepancies to trace."
            )
        elif verdict == "undefined":
            sentence = (
                f"None of the {n_pairs} double-scored submissions is discrepant (readings more "
                f"than {th.discrepancy_levels} level apart, or different decisions)."
            )
        else:
            judged = {
                "drives discrepancies": f"more than its share ({share_threshold:.0%})",
                "below its share": f"less than its share ({share_threshold:.0%})",
            }.get(
                verdict,
                f"too few discrepant pairs to tell against its share ({share_threshold:.0%})",
            )
            sentence = (
                f"Criterion {cid!r} accounts for {figure:.0%} of the {n_disc} discrepant pairs "
                f"({ctx.interval_text(ci)}; involved in {int(count[c])}): {judged}."
            )
        advice = {
            "drives discrepancies": (
                f"Most adjudications trace to {cid!r}: rewrite its descriptors around the "
                "evidence that separates its levels, especially at the pass level, and add "
                "anchors with rationales at its boundaries."
            ),
            "below its share": _NO_CHANGE,
            "not applicable": _NO_CHANGE,
            "undefined": _NO_CHANGE,
            "no double-scored submissions": _more_double_scoring(th),
        }.get(verdict, "Collect more double-scored submissions before judging.")
        out.append(
            _finding(
                "discrepancy_driver",
                (cid,),
                "attributed_share",
                figure,
                ci,
                share_threshold,
                n_disc,
                "discrepant pairs",
                verdict,
                sentence,
                advice,
            )
        )
    return out


# --------------------------------------------------------------------------- 8. G study


def _coefficient_interval(
    study: GStudy, coefficient: Literal["g", "phi"], level: float
) -> ConfidenceInterval | None:
    """The bootstrap interval of G or Phi at the observed design (resamples of whole
    submissions, :func:`calibrate.stats.gtheory.gstudy`); None when the study was run without
    resamples."""
    if study.intervals is None:
        return None
    return study.confidence_interval(coefficient)


def _generalizability(ctx: _Context) -> tuple[list[Finding], list[str]]:
    th, live = ctx.th, ctx.live
    try:
        study = gstudy(
            live.sub, live.rater, live.crit, live.value, target=th.g_target,
            n_boot=ctx.n_boot, seed=ctx.rng(99), confidence=ctx.level,
        )  # fmt: skip
    except StatisticsError as exc:
        return [], [f"The G study cannot be estimated: {exc}."]
    n = live.n_sub
    out: list[Finding] = []
    coefficients: tuple[tuple[Literal["g", "phi"], str], ...] = (
        ("g", "G (E rho^2)"),
        ("phi", "Phi"),
    )
    for coefficient, label in coefficients:
        figure = float(getattr(study, coefficient))
        ci = _coefficient_interval(study, coefficient, ctx.level)
        verdict: Verdict
        if math.isnan(figure):
            verdict = "undefined"
        elif ci is None:
            verdict = "no interval"
        else:
            band = _band(ci, th.g_target)
            if band == "above":
                verdict = "meets standard"
            elif band == "below":
                verdict = "below standard"
            else:
                verdict = "too few submissions to tell"
        design = study.components.notation
        where = (
            f"for the observed design ({design}, "
            f"{study.components.assessors_per_submission:.2f} assessors per submission)"
        )
        if verdict == "undefined":
            sentence = f"The rubric's {label} {where} is undefined: the ratings do not vary."
        elif ci is None:
            sentence = (
                f"The rubric's {label} {where} is {figure:.2f}, against a target of "
                f"{th.g_target:.2f}; its interval is not computed here."
            )
        else:
            sentence = (
                f"The rubric's {label} {where} is {figure:.2f} ({ctx.interval_text(ci)}), "
                f"against a target of {th.g_target:.2f}."
            )
        needed = study.assessors_needed_phi if coefficient == "phi" else study.assessors_needed_g
        if verdict == "undefined":
            advice = "Check whether the ratings vary at all."
        elif needed is not None:
            advice = f"{needed} assessor(s) per submission would reach {th.g_target:.2f} (D study)."
        else:
            advice = (
                f"No number of assessors reaches {th.g_target:.2f}: the criteria themselves "
                "limit dependability."
            )
        out.append(
            _finding(
                "generalizability",
                (),
                coefficient,
                figure,
                ci,
                th.g_target,
                n,
                "submissions",
                verdict,
                sentence,
                advice,
            )
        )
    return out, []
