r"""Consistency across earners' attempts: do resubmissions pass on their merits?

Resubmission is the norm in micro-credentials (Washington pilot 3: 114 of 132 credentials were
earned on attempts 2 to 5), so an issuer must see whether resubmissions pass because the work got
better or because a different, more lenient assessor looked, and a board must see that this is
watched. :func:`attempt_report` answers from the live ratings of one rubric version, each figure
with its interval, its evidence (submissions, readings, earners) and a verdict that follows the
interval:

1. pass rate by attempt (1, 2, 3, 4+) and the share of earners who have earned the credential
   by attempt *k* (:class:`PassRateRow`, :class:`EarnedRow`);
2. per-criterion score change between an earner's consecutive attempts (:class:`ScoreChangeRow`);
3. resubmissions read by an assessor who read the previous attempt ("same") against those read
   by one who did not ("new") (:class:`AssessorContinuity`);
4. leniency toward later attempts per assessor, from double-scored submissions
   (:class:`Leniency`);
5. with calibration rounds, assessors' accuracy against anchors by round number and the share
   who qualify on their 1st, 2nd, 3rd round (:func:`calibration_progress`).

Verdicts
--------
Every comparison is a :class:`Difference` whose verdict follows its interval and a margin of no
practical importance (:data:`RATE_MARGIN` for shares, :data:`SCORE_MARGIN` for scores):
``"higher"`` when the whole interval lies above 0, ``"lower"`` when it lies below, ``"about the
same"`` when it lies within ``[-margin, +margin]`` (equivalence by the two one-sided tests,
Schuirmann 1987: with a 95% two-sided interval, each one-sided bound holds with 97.5%
confidence), and ``"too few to tell"`` otherwise, or when the interval is undefined. A section
with no resubmission says ``"no resubmissions"`` and has empty tables.

What the store supplies
-----------------------
``ratings`` (:class:`~calibrate.ratings.Ratings`)
    Current live ratings of one rubric version (``store.load_ratings(context="live",
    rubric=key)``), one per (submission, assessor, criterion), with the text columns
    ``earner`` (the earner's key) and ``attempt`` (the submission's attempt number, ``"1"`` for
    a first submission). Rows of another context (``context`` column) or rubric (``rubric``
    column) are left out.
``results`` (:class:`FinalResults`, optional)
    The current (not superseded) ``submission_result`` of every decided submission: two
    parallel arrays of shape (m,), ``submission`` (the submission key, as in ``ratings.units``)
    and ``passed`` (bool). Results of submissions without live ratings are ignored.
``calibration`` (:class:`CalibrationRounds`, optional)
    Ratings of anchors in qualification rounds of the same rubric version, shape (n,) each:
    ``assessor`` (key), ``round`` (the assessor's round number: 1 for their first
    qualification round of this rubric version, 2 for the retake, ...), ``anchor`` (anchor
    id), ``criterion`` (criterion id), ``score`` and ``expert`` (the anchor's expert score of
    that criterion); and, per finished round, shape (r,) each: ``flag_assessor``,
    ``flag_round`` and ``passed`` (the round's judgement).

References
----------
.. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
   inference. *Journal of the American Statistical Association, 22*(158), 209-212.
   doi:10.1080/01621459.1927.10502953
.. [2] Newcombe, R. G. (1998). Interval estimation for the difference between independent
   proportions: comparison of eleven methods. *Statistics in Medicine, 17*(8), 873-890.
   doi:10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I
.. [3] Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
   inference. *Journal of Human Resources, 50*(2), 317-372. doi:10.3368/jhr.50.2.317
.. [4] Kish, L. (1965). *Survey sampling*. New York: Wiley (the design effect).
.. [5] Korn, E. L., & Graubard, B. I. (1998). Confidence intervals for proportions with small
   expected number of positive counts estimated from survey data. *Survey Methodology,
   24*(2), 193-201.
.. [6] Schuirmann, D. J. (1987). A comparison of the two one-sided tests procedure and the
   power approach for assessing the equivalence of average bioavailability. *Journal of
   Pharmacokinetics and Biopharmaceutics, 15*(6), 657-680. doi:10.1007/BF01068419
.. [7] Myford, C. M., & Wolfe, E. W. (2004). Detecting and measuring rater effects using
   many-facet Rasch measurement: Part II. *Journal of Applied Measurement, 5*(2), 189-227.
.. [8] Newcombe, R. G. (1998a). Two-sided confidence intervals for the single proportion:
   comparison of seven methods. *Statistics in Medicine, 17*(8), 857-872.
   doi:10.1002/(SICI)1097-0258(19980430)17:8<857::AID-SIM777>3.0.CO;2-E
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri, stdtrit

from calibrate.errors import CalibrateError
from calibrate.ratings import MAX_INT, Ratings
from calibrate.rubric import Rubric
from calibrate.stats import ConfidenceInterval
from calibrate.stats.accuracy import anchor_accuracy

__all__ = [
    "BINS",
    "MIN_DOUBLE_SCORED",
    "RATE_MARGIN",
    "SCORE_MARGIN",
    "AssessorContinuity",
    "AssessorLeniency",
    "AttemptReport",
    "CalibrationProgress",
    "CalibrationRounds",
    "CalibrationRow",
    "ContinuityGroup",
    "Difference",
    "EarnedRow",
    "Figure",
    "FinalResults",
    "Leniency",
    "PassRateRow",
    "QualificationRow",
    "ScoreChangeRow",
    "Verdict",
    "attempt_report",
    "calibration_progress",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
ObjectArray = NDArray[np.object_]

Verdict = Literal["higher", "lower", "about the same", "too few to tell", "no resubmissions"]
"""What an interval says about a difference (see the module docstring)."""

BINS = ("1", "2", "3", "4+")
"""Attempt (and calibration round) numbers as reported: attempts 4 and later are pooled."""

MIN_DOUBLE_SCORED = 10
"""Fewest double-scored readings an assessor needs on resubmissions, and on first attempts,
before a leniency figure is given for them (fewer: no figure, verdict "too few to tell")."""

RATE_MARGIN = 0.10
"""Difference of two shares (10 percentage points) within which they count as about the same."""

SCORE_MARGIN = 0.25
"""Difference of mean scores (a quarter of a level) within which they count as about the same."""

# Decisions of a submission (item 1): passed, not yet, readings disagree, no complete reading.
_PASS, _FAIL, _SPLIT, _UNSCORED = 1, 0, -1, -2

_WILSON = "Wilson score interval"
_NEWCOMBE = "Newcombe hybrid score (method 10)"
_CLUSTER_EARNER = "cluster-robust by earner, Student's t on earners - 1 df"


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinalResults:
    """Final pass decisions of submissions, as the workflow decided them.

    Attributes
    ----------
    submission : str array, shape (m,)
        Submission keys, as in :attr:`Ratings.units`; each at most once.
    passed : bool array, shape (m,)
        The decision of the current result.

    Raises
    ------
    CalibrateError
        Arrays of different lengths, decisions that are not booleans (or 0/1), an empty key or
        a submission given twice.
    """

    submission: ObjectArray
    passed: BoolArray

    def __post_init__(self) -> None:
        sub = np.asarray(self.submission, dtype=object).ravel()
        passed = _booleans(self.passed, "results.passed")
        if sub.size != passed.size:
            raise CalibrateError(
                f"results.submission and results.passed must have the same length, got "
                f"{sub.size} and {passed.size}"
            )
        labels = np.array([str(s) for s in sub.tolist()], dtype=object)
        if any(not s for s in labels.tolist()):
            raise CalibrateError("results.submission must not hold an empty submission key")
        uniq, count = np.unique(labels.astype(str), return_counts=True)
        if (count > 1).any():
            raise CalibrateError(
                f"submission {str(uniq[count > 1][0])!r} has {int(count.max())} final "
                "results: give the current (not superseded) result of each submission once"
            )
        object.__setattr__(self, "submission", labels)
        object.__setattr__(self, "passed", passed)


@dataclass(frozen=True)
class CalibrationRounds:
    """Qualification rounds of assessors on anchors, as long arrays.

    Attributes
    ----------
    assessor : str array, shape (n,)
        Assessor key of each rating of an anchor.
    round : int array, shape (n,)
        The assessor's round number of the rating: 1 for their first qualification round of
        the rubric version, 2 for their first retake, ...
    anchor : str array, shape (n,)
        Anchor id (the cluster of the intervals).
    criterion : str array, shape (n,)
        Criterion id.
    score, expert : float arrays, shape (n,)
        The assessor's score and the experts' score of the same anchor and criterion.
    flag_assessor : str array, shape (r,)
        Assessor of each finished round with a judgement (may be empty).
    flag_round : int array, shape (r,)
        Its round number.
    passed : bool array, shape (r,)
        Whether the round met the qualification standard.

    Raises
    ------
    CalibrateError
        Arrays of different lengths, round numbers that are not whole numbers >= 1, scores
        that are not finite, or a round with two judgements.
    """

    assessor: ObjectArray
    round: IntArray
    anchor: ObjectArray
    criterion: ObjectArray
    score: FloatArray
    expert: FloatArray
    flag_assessor: ObjectArray | None = None
    flag_round: IntArray | None = None
    passed: BoolArray | None = None

    def __post_init__(self) -> None:
        text = {
            name: np.array([str(v) for v in np.asarray(getattr(self, name)).ravel().tolist()])
            for name in ("assessor", "anchor", "criterion")
        }
        rounds = _whole(self.round, "calibration.round")
        score = np.asarray(self.score, dtype=np.float64).ravel()
        expert = np.asarray(self.expert, dtype=np.float64).ravel()
        sizes = {k: v.size for k, v in text.items()}
        sizes.update(round=rounds.size, score=score.size, expert=expert.size)
        if len(set(sizes.values())) > 1:
            shown = ", ".join(f"{k} {v}" for k, v in sizes.items())
            raise CalibrateError(f"calibration arrays must have the same length, got {shown}")
        if not (np.isfinite(score).all() and np.isfinite(expert).all()):
            raise CalibrateError("calibration.score and calibration.expert must be finite")
        flags = (self.flag_assessor, self.flag_round, self.passed)
        if all(f is None for f in flags):
            f_assessor = np.empty(0, dtype=object)
            f_round = np.empty(0, dtype=np.int64)
            f_passed = np.empty(0, dtype=bool)
        elif any(f is None for f in flags):
            raise CalibrateError(
                "calibration pass flags need flag_assessor, flag_round and passed together"
            )
        else:
            f_assessor = np.array([str(v) for v in np.asarray(self.flag_assessor).ravel()])
            f_round = _whole(self.flag_round, "calibration.flag_round")
            f_passed = _booleans(self.passed, "calibration.passed")
            if not f_assessor.size == f_round.size == f_passed.size:
                raise CalibrateError(
                    "calibration.flag_assessor, flag_round and passed must have the same length"
                )
            key = np.char.add(np.char.add(f_assessor.astype(str), "\x00"), f_round.astype(str))
            _, first, count = np.unique(key, return_index=True, return_counts=True)
            if (count > 1).any():
                i = int(first[np.argmax(count > 1)])
                raise CalibrateError(
                    f"round {int(f_round[i])} of assessor {str(f_assessor[i])!r} has "
                    f"{int(count.max())} judgements: give each round's judgement once"
                )
        for name, value in (*text.items(), ("flag_assessor", f_assessor)):
            object.__setattr__(self, name, np.asarray(value, dtype=object))
        object.__setattr__(self, "round", rounds)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "expert", expert)
        object.__setattr__(self, "flag_round", f_round)
        object.__setattr__(self, "passed", f_passed)


# --- results ------------------------------------------------------------------------------------


class _Plain:
    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready data: intervals as ``[low, high]``, NaN as None."""
        return cast(dict[str, Any], _plain(self))


@dataclass(frozen=True)
class Figure(_Plain):
    """One estimate with its interval and the evidence behind it.

    Attributes
    ----------
    estimate : float
        The figure (a share in [0, 1], or a mean in levels); NaN without evidence.
    interval : ConfidenceInterval
        Its interval (JSON: ``[low, high]``); NaN bounds where undefined.
    n : int
        Units behind it: submissions, readings, cells or ratings (each class says which).
    n_clusters : int
        Independent clusters among them: earners for live work, anchors for calibration.
    method : str
        How the interval was computed.
    """

    estimate: float
    interval: ConfidenceInterval
    n: int
    n_clusters: int
    method: str


@dataclass(frozen=True)
class Difference(Figure):
    """A difference (or change) with its interval and the verdict that follows from it.

    Attributes
    ----------
    margin : float
        Differences within ``[-margin, margin]`` are of no practical importance.
    verdict : {"higher", "lower", "about the same", "too few to tell"}
        The interval lies above 0, below 0, within the margin, or none of these (or is
        undefined). Each field says what "higher" means for it.
    """

    margin: float
    verdict: Verdict


@dataclass(frozen=True)
class PassRateRow(_Plain):
    """Pass rate of the submissions of one attempt number.

    Attributes
    ----------
    attempt : {"1", "2", "3", "4+"}
    n_submissions : int
        Submissions of this attempt number.
    n_decided : int
        Those with a decision: a final result, or readings that all pass or all fail.
    n_passed : int
        Decided submissions that passed.
    n_undecided : int
        Submissions without a final result whose complete readings disagree; counted apart.
    n_unscored : int
        Submissions without a final result and without a reading of every criterion.
    pass_rate : Figure
        ``n_passed / n_decided``, Wilson interval; ``n`` decided submissions, ``n_clusters``
        their earners.
    vs_first : Difference or None
        This pass rate minus the first attempts' (Newcombe's interval); "higher" = passes more
        often than first attempts. None for attempt 1, or without decided submissions here or
        at attempt 1.
    sentence : str
    """

    attempt: str
    n_submissions: int
    n_decided: int
    n_passed: int
    n_undecided: int
    n_unscored: int
    pass_rate: Figure
    vs_first: Difference | None
    sentence: str


@dataclass(frozen=True)
class EarnedRow(_Plain):
    """Share of earners who have earned the credential by attempt *k*.

    Attributes
    ----------
    by_attempt : {"1", "2", "3", "4+"}
        ``"4+"``: by any attempt.
    n_earners : int
        Earners with a first attempt whose status by attempt *k* is known.
    n_earned : int
        Those with a passed submission at attempt *k* or earlier.
    n_unknown : int
        Earners left out: no pass yet and an undecided submission with no later attempt.
    share : Figure
        ``n_earned / n_earners``, Wilson interval; ``n`` = ``n_clusters`` = earners.
    sentence : str
    """

    by_attempt: str
    n_earners: int
    n_earned: int
    n_unknown: int
    share: Figure
    sentence: str


@dataclass(frozen=True)
class ScoreChangeRow(_Plain):
    """Mean change of one criterion's score from an earner's attempt *k-1* to attempt *k*.

    Attributes
    ----------
    criterion : str
        Criterion id, or ``"all criteria"`` for every criterion pooled.
    change : Difference
        Mean of (score at *k*) - (score at *k-1*) in levels, a submission's score being the
        mean of its readings; ``n`` pairs of consecutive submissions (criterion x pairs for
        the pooled row), ``n_clusters`` earners; cluster-robust interval. "higher" = improves.
    sentence : str
    """

    criterion: str
    change: Difference
    sentence: str


@dataclass(frozen=True)
class ContinuityGroup(_Plain):
    """Resubmission readings of one group: assessors who read the previous attempt, or not.

    Attributes
    ----------
    n_readings : int
        Complete readings (every criterion scored) of resubmissions in this group.
    n_split : int
        Resubmissions whose readings in this group disagree on the decision (left out of the
        pass rate).
    pass_rate : Figure
        Share of resubmissions passed by this group's readings (one decision per resubmission
        and group, readings agreeing), Wilson interval; ``n`` resubmissions, ``n_clusters``
        earners.
    mean_score : Figure
        Mean criterion score (levels) of this group's readings, averaged per resubmission;
        ``n`` resubmissions, ``n_clusters`` earners; cluster-robust interval.
    """

    n_readings: int
    n_split: int
    pass_rate: Figure
    mean_score: Figure


@dataclass(frozen=True)
class AssessorContinuity(_Plain):
    """Resubmissions read by an assessor who read the previous attempt ("same") or not ("new").

    Descriptive only: resubmissions are not assigned at random (the workflow sends a
    resubmission to a new first reader by default), so a difference may come from which
    resubmissions reach which assessors, not from the assessors.

    Attributes
    ----------
    n_resubmissions : int
        Submissions of attempt >= 2 whose previous attempt (*k-1*) is among the ratings.
    n_without_previous : int
        Submissions of attempt >= 2 whose attempt *k-1* is not (left out).
    same, new : ContinuityGroup
    pass_difference : Difference
        New minus same pass rate, Newcombe's interval; "higher" = new assessors pass
        resubmissions more often.
    score_difference : Difference
        New minus same mean score, cluster-robust by earner.
    paired_score_difference : Difference
        Within resubmissions read by both a same and a new assessor: mean of (new - same).
        The cleanest of the three, on the fewest submissions.
    verdict : {"higher", "lower", "about the same", "too few to tell", "no resubmissions"}
        Of ``pass_difference``.
    sentence : str
    """

    n_resubmissions: int
    n_without_previous: int
    same: ContinuityGroup
    new: ContinuityGroup
    pass_difference: Difference
    score_difference: Difference
    paired_score_difference: Difference
    verdict: Verdict
    sentence: str


@dataclass(frozen=True)
class AssessorLeniency(_Plain):
    """One assessor's leniency toward later attempts.

    Attributes
    ----------
    assessor : str
    n_first, n_later : int
        The assessor's complete readings of double-scored submissions at attempt 1, and at
        attempt >= 2.
    within : Difference
        Mean of (assessor's mean score - the other readers' mean) on resubmissions minus the
        same on first attempts, in levels, less :attr:`Leniency.centre` (relative to the
        median assessor); cluster-robust by earner; NaN below
        ``min_double_scored`` readings in either group. "higher" = more lenient on
        resubmissions than on first attempts, relative to the other readers. The verdict uses
        :attr:`simultaneous_interval`.
    simultaneous_interval : ConfidenceInterval
        The Bonferroni interval at confidence ``1 - (1 - confidence) / m`` over the ``m``
        assessors with a figure, so that the verdicts hold together.
    own_gap : Figure
        The assessor's mean score on resubmissions minus on first attempts, all their complete
        readings (single-scored too); NaN below ``min_double_scored`` readings in either
        group. It includes the genuine improvement of resubmissions: read it against
        :attr:`Leniency.pooled_gap`, not against 0.
    verdict : {"higher", "lower", "about the same", "too few to tell"}
        Of ``within`` by the simultaneous interval.
    sentence : str
    """

    assessor: str
    n_first: int
    n_later: int
    within: Difference
    simultaneous_interval: ConfidenceInterval
    own_gap: Figure
    verdict: Verdict
    sentence: str


@dataclass(frozen=True)
class Leniency(_Plain):
    """Leniency toward later attempts, per assessor and pooled.

    Attributes
    ----------
    assessors : tuple of AssessorLeniency
        Assessors with a complete reading of a double-scored resubmission, by key.
    pooled_gap : Figure
        Mean score of all complete readings on resubmissions minus on first attempts (levels),
        cluster-robust by earner: genuine improvement plus any leniency shared by all
        assessors, which the ratings cannot separate.
    n_eligible : int
        Assessors with at least ``min_double_scored`` double-scored readings on first attempts
        and on resubmissions.
    centre : float
        The median of the eligible assessors' figures before centring, subtracted from every
        assessor's :attr:`AssessorLeniency.within` so that it is relative to the median
        assessor; NaN (no centring) with fewer than three eligible assessors.
    min_double_scored : int
    flagged : tuple of str
        Assessors whose verdict is "higher" (more lenient on resubmissions).
    verdict : {"higher", "lower", "about the same", "too few to tell", "no resubmissions"}
        "higher" when an assessor is flagged; "lower" when none is but one is more severe on
        resubmissions; "about the same" when every eligible assessor is; "too few to tell"
        otherwise (or with no eligible assessor).
    sentence : str
    """

    assessors: tuple[AssessorLeniency, ...]
    pooled_gap: Figure
    n_eligible: int
    centre: float
    min_double_scored: int
    flagged: tuple[str, ...]
    verdict: Verdict
    sentence: str


@dataclass(frozen=True)
class CalibrationRow(_Plain):
    """Accuracy against the anchors' expert scores in one round number.

    Attributes
    ----------
    round : {"1", "2", "3", "4+"}
    n_ratings, n_anchors, n_assessors : int
    exact, adjacent : Figure
        Shares of ratings equal to / within one level of the expert score; Wilson intervals on
        the effective sample size of ratings clustered by anchor; ``n`` ratings,
        ``n_clusters`` anchors.
    mean_deviation : Figure
        Mean of score - expert (negative: harsher than the experts), cluster-robust by anchor
        (:func:`calibrate.stats.accuracy.anchor_accuracy`).
    exact_vs_first : Difference or None
        Exact agreement minus round 1's (Newcombe's method on the clustered Wilson intervals);
        "higher" = closer to the experts than in first rounds. None for round 1.
    sentence : str
    """

    round: str
    n_ratings: int
    n_anchors: int
    n_assessors: int
    exact: Figure
    adjacent: Figure
    mean_deviation: Figure
    exact_vs_first: Difference | None
    sentence: str


@dataclass(frozen=True)
class QualificationRow(_Plain):
    """Assessors passing their *k*-th qualification round, and qualified by round *k*.

    Attributes
    ----------
    round : {"1", "2", "3", "4+"}
    n_assessors, n_passed : int
        Assessors with a judged round of this number, and those who passed it.
    pass_rate : Figure
        ``n_passed / n_assessors``, Wilson interval.
    qualified_by : Figure
        Share of the assessors with a judged first round who passed a round numbered *k* or
        lower (``"4+"``: any round), Wilson interval; ``n`` those assessors.
    sentence : str
    """

    round: str
    n_assessors: int
    n_passed: int
    pass_rate: Figure
    qualified_by: Figure
    sentence: str


@dataclass(frozen=True)
class CalibrationProgress(_Plain):
    """Assessors' accuracy across their calibration (qualification) rounds.

    Attributes
    ----------
    rounds : tuple of CalibrationRow
        Round numbers with ratings, in order.
    qualification : tuple of QualificationRow
        Round numbers with judgements (empty without pass flags).
    sentence : str
    """

    rounds: tuple[CalibrationRow, ...]
    qualification: tuple[QualificationRow, ...]
    sentence: str


@dataclass(frozen=True)
class AttemptReport(_Plain):
    """Consistency of scoring across earners' attempts at one rubric version.

    Attributes
    ----------
    rubric : str
        ``id@version``.
    confidence : float
        Coverage of every interval but the simultaneous ones.
    n_ratings, n_submissions, n_earners, n_resubmissions : int
        Live ratings used, their submissions, earners, and submissions of attempt >= 2.
    n_from_results : int
        Submissions whose decision is the final result given, not the readings.
    n_earners_without_first : int
        Earners whose first attempt is not among the ratings (left out of ``earned``).
    pass_rates : tuple of PassRateRow
        Attempt numbers with submissions, in order.
    earned : tuple of EarnedRow
        By attempt 1, 2, 3 and any, up to the highest attempt seen.
    score_changes : tuple of ScoreChangeRow
        Criteria in rubric order, then ``"all criteria"``; empty without resubmissions.
    continuity : AssessorContinuity
    leniency : Leniency
    calibration : CalibrationProgress or None
        When calibration rounds were given.
    verdict : {"no resubmissions"} or None
        ``"no resubmissions"`` when no earner resubmitted (the tables of 2-4 are then empty).
    """

    rubric: str
    confidence: float
    n_ratings: int
    n_submissions: int
    n_earners: int
    n_resubmissions: int
    n_from_results: int
    n_earners_without_first: int
    pass_rates: tuple[PassRateRow, ...]
    earned: tuple[EarnedRow, ...]
    score_changes: tuple[ScoreChangeRow, ...]
    continuity: AssessorContinuity
    leniency: Leniency
    calibration: CalibrationProgress | None
    verdict: Verdict | None


# --- the use cases ------------------------------------------------------------------------------


def attempt_report(
    ratings: Ratings,
    rubric: Rubric,
    *,
    results: FinalResults | None = None,
    calibration: CalibrationRounds | None = None,
    confidence: float = 0.95,
    min_double_scored: int = MIN_DOUBLE_SCORED,
    rate_margin: float = RATE_MARGIN,
    score_margin: float = SCORE_MARGIN,
) -> AttemptReport:
    r"""Consistency of scoring across earners' attempts (see the module docstring).

    Parameters
    ----------
    ratings : Ratings
        Live ratings of ``rubric`` with the columns ``earner`` and ``attempt`` (text or whole
        numbers >= 1), one rating per (submission, assessor, criterion).
    rubric : Rubric
        The rubric version: criteria, levels and pass rule.
    results : FinalResults, optional
        Final decisions; a submission with one is decided by it, not by its readings.
    calibration : CalibrationRounds, optional
        Qualification rounds, for :attr:`AttemptReport.calibration`
        (:func:`calibration_progress`).
    confidence : float
        Coverage of the intervals, in (0, 1).
    min_double_scored : int
        Fewest double-scored readings, on first attempts and on resubmissions, for an
        assessor's leniency figure (:data:`MIN_DOUBLE_SCORED`).
    rate_margin, score_margin : float
        Margins of no practical importance for shares and for mean scores in levels.

    Returns
    -------
    AttemptReport

    Raises
    ------
    CalibrateError
        No ``earner`` or ``attempt`` column; a live rating without an earner or attempt; an
        attempt that is not a whole number >= 1; a submission with two attempts or two
        earners; an earner with two submissions of one attempt number; criteria or scores not
        of the rubric; a cell rated twice; no live ratings of the rubric; bad parameters.

    Notes
    -----
    **Readings and decisions.** A reading is one assessor's scores of one submission; it is
    complete when it scores every criterion, and its decision is ``rubric.passes`` on those
    scores. A submission's decision is its final result when given; otherwise its complete
    readings' decision when they all agree, else it is *undecided* (readings disagree) or
    *unscored* (no complete reading), both counted apart.

    **1. Pass rates** :math:`\hat p = x / n` over decided submissions, with Wilson's (1927)
    score interval [1]_ (Newcombe 1998a's method 3 [8]_):

    .. math::

        \frac{x + z^2/2 \mp z \sqrt{n \hat p (1 - \hat p) + z^2/4}}{n + z^2},

    :math:`z` the normal quantile. Attempt *k* against attempt 1: :math:`\hat p_k - \hat p_1`
    with Newcombe's hybrid score interval [2]_ (method 10), built from the two Wilson
    intervals :math:`(l_k, u_k)`, :math:`(l_1, u_1)`:

    .. math::

        \big(\hat\delta - \sqrt{(\hat p_k - l_k)^2 + (u_1 - \hat p_1)^2},\;
        \hat\delta + \sqrt{(u_k - \hat p_k)^2 + (\hat p_1 - l_1)^2}\big).

    Both treat submissions as independent; an earner's attempts 4, 5, ... share the "4+" row,
    and the attempt groups are the same earners' earlier and later work, so read the
    comparison as descriptive. *Earned by k*: among earners with a first attempt here, the
    share with a passed submission at attempt *k* or earlier (Wilson). An earner who has not
    passed is counted as not (yet) earned when each of their submissions is decided "not yet"
    or was followed by a later attempt (a resubmission follows a "Not yet"); with an undecided
    last submission the status is unknown and the earner left out. Earners still revising
    count as not earned, so late rows are a lower bound while a cohort is open.

    **2. Score change.** For an earner's consecutive attempts *k-1* and *k* both among the
    ratings, :math:`d = \bar x_{k} - \bar x_{k-1}` per criterion (:math:`\bar x` the mean of
    the submission's readings of it). The mean :math:`\bar d` has the cluster-robust variance
    of a mean with earners as clusters [3]_,

    .. math::

        \widehat{var}(\bar d) = \frac{G}{G - 1} \frac{1}{N^2} \sum_g \Big(\sum_{i \in g}
        (d_i - \bar d)\Big)^2,

    :math:`G` earners, :math:`N` pairs, and a Student's t interval on :math:`G - 1` degrees of
    freedom (Cameron & Miller's advice with few clusters). Earners who resubmit failed the
    previous attempt, partly by chance of reading, so part of any improvement is regression to
    the mean.

    **3. Same vs new assessor.** A reading of attempt :math:`k \ge 2` is *same* when its
    assessor also read attempt *k-1* of that earner, else *new*. Per resubmission and group,
    the group's complete readings give one decision when they agree (else *split*) and one
    mean score (the mean over readings of their mean criterion score). Pass rates: Wilson;
    their difference: Newcombe [2]_, which assumes independent groups; a resubmission read by
    both a same and a new assessor is in both, a positive correlation that makes the interval
    conservative, while an earner's attempts 2 and 3 in one group make it slightly liberal.
    Mean scores and their difference (a regression on a "new" indicator): cluster-robust by
    earner with the variance :math:`\frac{G}{G-1}\sum_g (\sum_{i \in g} w_i e_i)^2`,
    :math:`w_i = 1/n_{new}` or :math:`-1/n_{same}`, :math:`e_i` the residual from the group
    mean. The paired difference, over resubmissions read by both groups, removes the
    submission's quality. Assignment is not random (the workflow sends resubmissions to new
    assessors by default, and a returning assessor may be chosen for a reason), so none of the
    three is a causal effect of continuity: they describe.

    **4. Leniency toward later attempts.** On double-scored submissions (two or more complete
    readings), each reading's mean criterion score :math:`m_r` is compared with the mean of
    the other readings of the same submission, :math:`D_r = m_r - \bar m_{-r}`; this removes
    the submission's quality, so genuine improvement of resubmissions cancels. An assessor's
    leniency toward later attempts is

    .. math::

        \hat\lambda_a = \bar D_{a,\,k \ge 2} - \bar D_{a,\,k = 1},

    which also removes their general severity, with the cluster-robust variance above (earners
    as clusters). :math:`D` sums to zero over a submission's readings, so one lenient assessor
    pushes their co-readers' figures the other way; with three or more eligible assessors every
    :math:`\hat\lambda_a` is therefore centred on the median of the eligible assessors' (the
    typical assessor, robust to a minority who deviate), the median's variance
    :math:`\pi \tilde v / (2m)` (:math:`\tilde v` the median squared standard error) added to
    each as if independent, which is conservative. Verdicts use Bonferroni intervals over the
    :math:`m` assessors with a figure, so that with hundreds of assessors a "higher" is not a
    chance finding.

    Limits. The figure is relative to the other readers: with two assessors who always read
    together the figures are mirror images and the data cannot say which of the two moved. A
    shift shared by all assessors cancels in :math:`D` and cannot be told from genuine
    improvement: :attr:`Leniency.pooled_gap` (every reading, later minus first) bounds it from
    above. On a bounded scale a generally lenient assessor's lead shrinks as work improves
    (more of everyone's scores reach the top level), so small negative figures for generally
    lenient assessors are expected without any change of behaviour. An assessor's
    :attr:`AssessorLeniency.own_gap` needs no double scoring but depends on which submissions
    they were sent. These are the differential-severity checks of Myford & Wolfe (2004) [7]_,
    with attempt number as the group.

    **5.** :func:`calibration_progress`.

    The tables use ``n`` and ``n_clusters`` as stated per field; with ``"4+"`` pooling, a row
    may hold several submissions of one earner.

    Examples
    --------
    Two earners; both fail attempt 1, one passes attempt 2 (rubric: both criteria at level 3):

    >>> from calibrate.ratings import RatingRows
    >>> from calibrate.rubric import rubric_from_data
    >>> rubric = rubric_from_data({"id": "r", "version": 1, "title": "R", "competency": "C",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in (1, 2, 3)],
    ...     "criteria": [{"id": c, "title": c, "descriptors": {1: "a", 2: "b", 3: "c"}}
    ...                  for c in ("a", "b")],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="r.yaml")
    >>> sub = ["s1", "s1", "s2", "s2", "t1", "t1", "t2", "t2"]
    >>> rows = RatingRows(source="x", line=np.arange(8), submission=np.array(sub, dtype=object),
    ...     assessor=np.array(["A"] * 8, dtype=object),
    ...     criterion=np.array(["a", "b"] * 4, dtype=object),
    ...     score=np.array([2, 3, 3, 3, 2, 2, 2, 3], dtype=float),
    ...     columns={"earner": np.array([s[0] for s in sub], dtype=object),
    ...              "attempt": np.array([s[1] for s in sub], dtype=object)})
    >>> report = attempt_report(rows.encode(), rubric)
    >>> [(r.attempt, r.n_passed, r.n_decided) for r in report.pass_rates]
    [('1', 0, 2), ('2', 1, 2)]
    >>> [round(r.change.estimate, 2) for r in report.score_changes]
    [0.5, 0.5, 0.5]
    """
    _check_parameters(confidence, min_double_scored, rate_margin, score_margin)
    live = _live(ratings, rubric, results)
    resubmissions = int(np.count_nonzero(live.sub_attempt >= 2))
    pass_rates = _pass_rates(live, confidence, rate_margin)
    earned = _earned(live, confidence)
    changes = _score_changes(live, rubric, confidence, score_margin)
    continuity = _continuity(live, rubric, confidence, rate_margin, score_margin)
    leniency = _leniency(live, confidence, min_double_scored, score_margin)
    progress = (
        None
        if calibration is None
        else calibration_progress(calibration, confidence=confidence, rate_margin=rate_margin)
    )
    has_first = np.zeros(len(live.earners), dtype=bool)
    has_first[live.sub_earner[live.sub_attempt == 1]] = True
    return AttemptReport(
        rubric=rubric.key,
        confidence=confidence,
        n_ratings=live.n_ratings,
        n_submissions=int(live.sub_attempt.size),
        n_earners=len(live.earners),
        n_resubmissions=resubmissions,
        n_from_results=int(np.count_nonzero(live.from_results)),
        n_earners_without_first=int(np.count_nonzero(~has_first)),
        pass_rates=pass_rates,
        earned=earned,
        score_changes=changes,
        continuity=continuity,
        leniency=leniency,
        calibration=progress,
        verdict="no resubmissions" if resubmissions == 0 else None,
    )


def calibration_progress(
    rounds: CalibrationRounds, *, confidence: float = 0.95, rate_margin: float = RATE_MARGIN
) -> CalibrationProgress:
    r"""Assessors' accuracy across their calibration rounds, and who qualifies when.

    Parameters
    ----------
    rounds : CalibrationRounds
        Ratings of anchors in qualification rounds by round number, with the rounds'
        judgements when known.
    confidence : float
        Coverage of the intervals.
    rate_margin : float
        Margin of no practical importance for a difference of shares.

    Returns
    -------
    CalibrationProgress

    Notes
    -----
    Exact and adjacent agreement are shares of ratings, but the ratings of one anchor are not
    independent (every assessor reads the same anchor). The Wilson interval [1]_ is therefore
    computed on the effective sample size :math:`n / \mathrm{deff}` [4]_ [5]_, with the design
    effect :math:`\mathrm{deff} = \widehat{var}_{CR}(\hat p) / (\hat p (1 - \hat p) / n)` the
    ratio of the cluster-robust variance (anchors as clusters, :math:`G/(G-1)` factor) [3]_
    to the binomial one, at least 1 (Korn & Graubard truncate it so); where it cannot be
    estimated (every rating agreeing, or one anchor) the mean number of ratings per anchor,
    the design effect of perfectly correlated clusters, is used: a conservative bound. Round
    *k* against round 1: Newcombe's method 10 [2]_ on these intervals. Assessors who retake
    are those who failed, so a later round's accuracy describes a different, selected group.
    Mean deviation: :func:`~calibrate.stats.accuracy.anchor_accuracy` (t on anchors - 1 df).
    Pass shares: Wilson, one judgement per assessor and round.

    Examples
    --------
    >>> rounds = CalibrationRounds(assessor=np.array(["A", "A", "B", "B"], dtype=object),
    ...     round=np.array([1, 1, 1, 1]), anchor=np.array(["x", "y", "x", "y"], dtype=object),
    ...     criterion=np.array(["c"] * 4, dtype=object), score=np.array([2.0, 3, 2, 1]),
    ...     expert=np.array([2.0, 3, 2, 3]))
    >>> row = calibration_progress(rounds).rounds[0]
    >>> row.exact.estimate, row.adjacent.estimate
    (0.75, 0.75)
    """
    _check_parameters(confidence, MIN_DOUBLE_SCORED, rate_margin, SCORE_MARGIN)
    rows: list[CalibrationRow] = []
    if rounds.score.size:
        anchor, _ = _factorize(rounds.anchor)
        assessor, _ = _factorize(rounds.assessor)
        b = _bin(rounds.round)
        d = rounds.score - rounds.expert
        acc = anchor_accuracy(anchor, b, rounds.score, rounds.expert, n_groups=len(BINS))
        dev_ci = acc.confidence_interval(confidence)
        exact = _clustered_shares(d == 0, b, anchor, len(BINS), confidence)
        adjacent = _clustered_shares(np.abs(d) <= 1, b, anchor, len(BINS), confidence)
        method = "Wilson score interval on the effective sample size (clustered by anchor)"
        for g in np.flatnonzero(acc.n).tolist():
            exact_fig = _figure(exact, g, int(acc.n_anchors[g]), method)
            vs_first = None
            if g > 0 and acc.n[0]:
                n_both = int(np.unique(anchor[(b == g) | (b == 0)]).size)
                vs_first = _newcombe_difference(exact, g, 0, rate_margin, n_both)
            n_assessors = int(np.unique(assessor[b == g]).size)
            rows.append(
                CalibrationRow(
                    round=BINS[g],
                    n_ratings=int(acc.n[g]),
                    n_anchors=int(acc.n_anchors[g]),
                    n_assessors=n_assessors,
                    exact=exact_fig,
                    adjacent=_figure(adjacent, g, int(acc.n_anchors[g]), method),
                    mean_deviation=Figure(
                        float(acc.mean_deviation[g]),
                        dev_ci[g],
                        int(acc.n[g]),
                        int(acc.n_anchors[g]),
                        "cluster-robust by anchor, Student's t on anchors - 1 df",
                    ),
                    exact_vs_first=vs_first,
                    sentence=_calibration_sentence(
                        BINS[g], n_assessors, exact_fig, float(adjacent.estimate[g]), vs_first
                    ),
                )
            )
    qualification = _qualification(rounds, confidence)
    if rows or qualification:
        parts = []
        if rows:
            parts.append(
                f"exact agreement with the experts was {_pct(rows[0].exact.estimate)} in "
                f"first rounds"
                + (
                    f" and {_pct(rows[-1].exact.estimate)} in rounds {rows[-1].round}"
                    if len(rows) > 1
                    else ""
                )
            )
        if qualification:
            known = [r for r in qualification if not math.isnan(r.qualified_by.estimate)]
            parts.append(
                f"{_pct(qualification[0].pass_rate.estimate)} of assessors qualified on their "
                "first round"
                + (
                    f" and {_pct(known[-1].qualified_by.estimate)} by round {known[-1].round}"
                    if len(known) > 1
                    else ""
                )
            )
        sentence = "In calibration, " + "; ".join(parts) + "."
    else:
        sentence = "No calibration rounds were given."
    return CalibrationProgress(tuple(rows), qualification, sentence)


# --- live ratings: checks and readings ----------------------------------------------------------


@dataclass(frozen=True)
class _Live:
    """Live ratings grouped into submissions and readings.

    ``sub_*`` have shape (S,), one per submission (code = index in ``ratings.units`` after
    filtering); ``reading_*`` and ``scores`` shape (m,) and (m, C)."""

    units: tuple[str, ...]
    earners: tuple[str, ...]
    raters: tuple[str, ...]
    sub_earner: IntArray
    sub_attempt: IntArray
    sub_previous: IntArray  # submission of attempt k-1 of the same earner, -1 when absent
    sub_decision: IntArray  # _PASS, _FAIL, _SPLIT, _UNSCORED
    from_results: BoolArray
    reading_sub: IntArray
    reading_rater: IntArray
    scores: FloatArray  # NaN where the reading does not score a criterion
    n_ratings: int

    @property
    def complete(self) -> BoolArray:
        return cast(BoolArray, ~np.isnan(self.scores).any(axis=1))


def _live(ratings: Ratings, rubric: Rubric, results: FinalResults | None) -> _Live:
    for name in ("earner", "attempt"):
        if name not in ratings.columns:
            raise CalibrateError(
                f"ratings must have an {name!r} column: attempts are compared per earner, and "
                f"each live submission needs its earner and attempt number"
            )
    keep = np.ones(len(ratings), dtype=bool)
    if "context" in ratings.columns:
        keep &= np.isin(ratings.columns["context"], ["live", ""])
    if "rubric" in ratings.columns:
        keep &= np.isin(ratings.columns["rubric"], [rubric.key, rubric.id, ""])
    rows = ratings if keep.all() else ratings.subset(keep)
    if not len(rows):
        raise CalibrateError(f"the ratings hold no live ratings of {rubric.key}")
    criteria = rubric.criterion_ids
    unknown = [c for c in rows.criteria if c not in criteria]
    if unknown:
        raise CalibrateError(f"unknown criterion for {rubric.key}: {', '.join(unknown[:5])}")
    crit = np.array([criteria.index(c) for c in rows.criteria], dtype=np.int64)[rows.criterion]
    bad = ~np.isin(rows.value, rubric.scores)
    if bad.any():
        raise CalibrateError(
            f"score {rows.value[bad][0]:g} is not a level of {rubric.key} "
            f"(levels {', '.join(map(str, rubric.scores))})"
        )
    unit = rows.unit
    n_units = len(rows.units)
    attempt = _row_attempts(rows)
    earner_code, earners = _factorize(rows.columns["earner"])
    missing = earner_code < 0
    if missing.any():
        s = rows.units[unit[missing][0]]
        raise CalibrateError(
            f"submission {s!r} has no earner: every live rating needs the earner's key"
        )
    sub_attempt = np.zeros(n_units, dtype=np.int64)
    sub_attempt[unit] = attempt
    sub_earner = np.zeros(n_units, dtype=np.int64)
    sub_earner[unit] = earner_code
    for what, per_row, per_sub, labels in (
        ("attempts", attempt, sub_attempt, None),
        ("earners", earner_code, sub_earner, earners),
    ):
        clash = np.flatnonzero(per_row != per_sub[unit])
        if clash.size:
            i = int(clash[0])
            a, b = per_sub[unit[i]], per_row[i]
            shown = (a, b) if labels is None else (labels[a], labels[b])
            raise CalibrateError(
                f"submission {rows.units[unit[i]]!r} is recorded with two {what} "
                f"({shown[0]} and {shown[1]}): a submission is one attempt of one earner"
            )
    key = sub_earner * (int(sub_attempt.max()) + 1) + sub_attempt
    uniq, first, count = np.unique(key, return_index=True, return_counts=True)
    if (count > 1).any():
        k = int(uniq[np.argmax(count > 1)])
        both = np.flatnonzero(key == k)[:2]
        raise CalibrateError(
            f"earner {earners[sub_earner[both[0]]]!r} has two submissions of attempt "
            f"{int(sub_attempt[both[0]])} ({rows.units[both[0]]!r} and {rows.units[both[1]]!r}): "
            "number an earner's attempts 1, 2, 3, ... once each"
        )
    previous_key = key - 1
    where = np.searchsorted(uniq, previous_key)
    found = (sub_attempt >= 2) & (where < uniq.size)
    found[found] &= uniq[where[found]] == previous_key[found]
    sub_previous = np.where(found, first[np.minimum(where, uniq.size - 1)], -1).astype(np.int64)

    n_raters, n_crit = len(rows.raters), len(criteria)
    readings, reading = np.unique(unit * n_raters + rows.rater, return_inverse=True)
    reading = reading.ravel()
    cells = reading * n_crit + crit
    if np.unique(cells).size != cells.size:
        dup = np.flatnonzero(np.bincount(cells) > 1)[0]
        r, c = divmod(int(dup), n_crit)
        raise CalibrateError(
            f"assessor {rows.raters[readings[r] % n_raters]!r} scored submission "
            f"{rows.units[readings[r] // n_raters]!r} on {criteria[c]!r} more than once: keep "
            "one reading per cell (Ratings.select(keep='first' or 'last'))"
        )
    scores = np.full((readings.size, n_crit), np.nan)
    scores[reading, crit] = rows.value
    reading_sub = (readings // n_raters).astype(np.int64)
    reading_rater = (readings % n_raters).astype(np.int64)

    complete = ~np.isnan(scores).any(axis=1)
    passes = rubric.passes(scores[complete].astype(np.int64))
    n_complete = np.bincount(reading_sub[complete], minlength=n_units)
    n_pass = np.bincount(reading_sub[complete], weights=passes, minlength=n_units)
    decision = np.full(n_units, _SPLIT, dtype=np.int64)
    decision[n_pass == n_complete] = _PASS
    decision[n_pass == 0] = _FAIL
    decision[n_complete == 0] = _UNSCORED
    from_results = np.zeros(n_units, dtype=bool)
    if results is not None:
        at = pd.Index(list(rows.units)).get_indexer(pd.Index(list(results.submission)))
        known = at >= 0
        decision[at[known]] = np.where(results.passed[known], _PASS, _FAIL)
        from_results[at[known]] = True
    return _Live(
        units=rows.units,
        earners=earners,
        raters=rows.raters,
        sub_earner=sub_earner,
        sub_attempt=sub_attempt,
        sub_previous=sub_previous,
        sub_decision=decision,
        from_results=from_results,
        reading_sub=reading_sub,
        reading_rater=reading_rater,
        scores=scores,
        n_ratings=len(rows),
    )


def _row_attempts(rows: Ratings) -> IntArray:
    """Attempt number of every row; a CalibrateError naming the first bad or missing one."""
    code, uniques = pd.factorize(np.asarray(rows.columns["attempt"], dtype=object))
    numbers = np.array([_attempt_number(v) for v in uniques.tolist()], dtype=np.int64)
    if (code < 0).any() or (numbers < 1).any():
        i = int(np.flatnonzero((code < 0) | (numbers[code] < 1))[0])
        s = rows.units[rows.unit[i]]
        if code[i] < 0 or str(uniques[code[i]]).strip() == "":
            raise CalibrateError(
                f"submission {s!r} has no attempt number: every live rating needs its attempt "
                "(1 for a first submission)"
            )
        raise CalibrateError(
            f"attempt {str(uniques[code[i]])!r} of submission {s!r} is not a whole number >= 1 "
            f"(at most {MAX_INT:_})"
        )
    return numbers[code]


def _attempt_number(value: Any) -> int:
    """A whole number >= 1 from a cell, else 0."""
    if isinstance(value, bool | np.bool_):
        return 0
    if isinstance(value, int | np.integer):
        return int(value) if 1 <= value <= MAX_INT else 0
    try:
        number = float(str(value).strip())
    except ValueError:
        return 0
    if not number.is_integer() or number < 1 or number > MAX_INT:
        return 0
    return int(number)


# --- 1. pass rates ------------------------------------------------------------------------------


def _pass_rates(live: _Live, confidence: float, margin: float) -> tuple[PassRateRow, ...]:
    b = _bin(live.sub_attempt)
    decided = live.sub_decision >= 0
    k = len(BINS)
    n_sub = np.bincount(b, minlength=k)
    n_dec = np.bincount(b[decided], minlength=k)
    n_pass = np.bincount(b[live.sub_decision == _PASS], minlength=k)
    n_split = np.bincount(b[live.sub_decision == _SPLIT], minlength=k)
    n_unscored = np.bincount(b[live.sub_decision == _UNSCORED], minlength=k)
    rates = _shares(n_pass, n_dec, confidence)
    clusters = _distinct(b[decided], live.sub_earner[decided], k)
    rows = []
    for g in np.flatnonzero(n_sub).tolist():
        fig = _figure(rates, g, int(clusters[g]), _WILSON)
        vs = None
        if g > 0 and n_dec[0] and n_dec[g]:
            both = decided & ((b == g) | (b == 0))
            n_both = int(np.unique(live.sub_earner[both]).size)
            vs = _newcombe_difference(rates, g, 0, margin, n_both)
        rows.append(
            PassRateRow(
                attempt=BINS[g],
                n_submissions=int(n_sub[g]),
                n_decided=int(n_dec[g]),
                n_passed=int(n_pass[g]),
                n_undecided=int(n_split[g]),
                n_unscored=int(n_unscored[g]),
                pass_rate=fig,
                vs_first=vs,
                sentence=_pass_sentence(BINS[g], int(n_pass[g]), fig, vs, rates),
            )
        )
    return tuple(rows)


def _earned(live: _Live, confidence: float) -> tuple[EarnedRow, ...]:
    n_earners = len(live.earners)
    e, attempt, decision = live.sub_earner, live.sub_attempt, live.sub_decision
    cohort = np.zeros(n_earners, dtype=bool)
    cohort[e[attempt == 1]] = True
    last = np.zeros(n_earners, dtype=np.int64)
    np.maximum.at(last, e, attempt)
    passed = decision == _PASS
    known_no = (decision == _FAIL) | (attempt < last[e])
    rows = []
    for g in range(int(_bin(np.array([last.max()]))[0]) + 1):
        upto = attempt <= g + 1 if g < len(BINS) - 1 else np.ones(attempt.size, dtype=bool)
        earned = np.bincount(e[upto & passed], minlength=n_earners) > 0
        open_ = np.bincount(e[upto & ~passed & ~known_no], minlength=n_earners) > 0
        known = cohort & (earned | ~open_)
        n, x = int(known.sum()), int((known & earned).sum())
        share = _shares(np.array([x]), np.array([n]), confidence)
        fig = _figure(share, 0, n, _WILSON)
        label = BINS[g]
        by = "by any attempt" if label == "4+" else f"by attempt {label}"
        rows.append(
            EarnedRow(
                by_attempt=label,
                n_earners=n,
                n_earned=x,
                n_unknown=int((cohort & ~known).sum()),
                share=fig,
                sentence=(
                    f"{by.capitalize()}, {x} of {n} earners ({_pct(fig.estimate)}, "
                    f"{_ci_pct(fig.interval)}) had earned the credential."
                    if n
                    else f"{by.capitalize()}, no earner's status is known."
                ),
            )
        )
    return tuple(rows)


# --- 2. score change ----------------------------------------------------------------------------


def _submission_scores(live: _Live) -> FloatArray:
    """Mean score of each submission's readings per criterion, shape (S, C); NaN if unread."""
    n_sub, n_crit = live.sub_attempt.size, live.scores.shape[1]
    scored = ~np.isnan(live.scores)
    total = np.zeros((n_sub, n_crit))
    count = np.zeros((n_sub, n_crit))
    np.add.at(total, live.reading_sub, np.where(scored, live.scores, 0.0))
    np.add.at(count, live.reading_sub, scored)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: FloatArray = total / count
    return mean


def _score_changes(
    live: _Live, rubric: Rubric, confidence: float, margin: float
) -> tuple[ScoreChangeRow, ...]:
    later = np.flatnonzero(live.sub_previous >= 0)
    if later.size == 0:
        return ()
    sub_scores = _submission_scores(live)
    d = sub_scores[later] - sub_scores[live.sub_previous[later]]  # (pairs, C)
    n_crit = d.shape[1]
    ok = ~np.isnan(d)
    pair, crit = np.nonzero(ok)
    y = d[ok]
    earner = live.sub_earner[later][pair]
    group = np.concatenate([crit, np.full(y.size, n_crit)])
    y2 = np.concatenate([y, y])
    cluster = np.concatenate([earner, earner])
    mean = _cluster_means(y2, group, cluster, n_crit + 1, confidence)
    labels = (*rubric.criterion_ids, "all criteria")
    rows = []
    for g in range(n_crit + 1):
        if mean.n[g] == 0:
            continue
        change = _difference_of(mean, g, margin)
        n_pairs = int(np.unique(pair[crit == g]).size) if g < n_crit else later.size
        what = f"on {labels[g]!r}" if g < n_crit else "on all criteria together"
        word = {
            "higher": "it improves",
            "lower": "it declines",
            "about the same": "it hardly changes",
        }.get(change.verdict, "too few to tell whether it changes")
        rows.append(
            ScoreChangeRow(
                criterion=labels[g],
                change=change,
                sentence=(
                    f"From one attempt to the next, scores {what} changed by "
                    f"{_lv(change.estimate)} levels on average ({_ci_lv(change.interval)}; "
                    f"{n_pairs} resubmissions by {change.n_clusters} earners): {word}."
                ),
            )
        )
    return tuple(rows)


# --- 3. same vs new assessor --------------------------------------------------------------------


def _continuity(
    live: _Live, rubric: Rubric, confidence: float, rate_margin: float, score_margin: float
) -> AssessorContinuity:
    n_raters = len(live.raters)
    sub = live.reading_sub
    with_previous = live.sub_previous[sub] >= 0
    read_key = sub * n_raters + live.reading_rater
    previous_key = live.sub_previous[sub] * n_raters + live.reading_rater
    same = with_previous & np.isin(previous_key, read_key)
    use = with_previous & live.complete
    r_sub, r_new = sub[use], (~same[use]).astype(np.int64)
    r_mean = live.scores[use].mean(axis=1)
    r_pass = rubric.passes(live.scores[use].astype(np.int64))
    # Cells: (resubmission, group), one decision when the group's readings agree.
    cell_key, cell = np.unique(r_sub * 2 + r_new, return_inverse=True)
    cell = cell.ravel()
    cell_sub, cell_new = cell_key // 2, cell_key % 2
    n_read = np.bincount(cell)
    n_pass = np.bincount(cell, weights=r_pass)
    cell_score = np.bincount(cell, weights=r_mean) / np.maximum(n_read, 1)
    agree = (n_pass == 0) | (n_pass == n_read)
    cell_earner = live.sub_earner[cell_sub]
    pass_x = np.bincount(cell_new[agree], weights=n_pass[agree] > 0, minlength=2)
    pass_n = np.bincount(cell_new[agree], minlength=2)
    rates = _shares(pass_x, pass_n, confidence)
    rate_clusters = _distinct(cell_new[agree], cell_earner[agree], 2)
    means = _cluster_means(cell_score, cell_new, cell_earner, 2, confidence)
    groups = []
    for g in (0, 1):
        groups.append(
            ContinuityGroup(
                n_readings=int(np.count_nonzero(r_new == g)),
                n_split=int(np.count_nonzero(~agree & (cell_new == g))),
                pass_rate=_figure(rates, g, int(rate_clusters[g]), _WILSON),
                mean_score=_figure(means, g, int(means.clusters[g]), _CLUSTER_EARNER),
            )
        )
    pass_difference = _newcombe_difference(
        rates, 1, 0, rate_margin, int(np.unique(cell_earner[agree]).size)
    )
    diff = _cluster_differences(
        cell_score, cell_new == 1, np.zeros(cell_score.size, np.int64), cell_earner, 1, confidence
    )
    score_difference = _difference_of(diff, 0, score_margin)
    both = np.flatnonzero(np.bincount(cell_sub, minlength=live.sub_attempt.size) == 2)
    pos = np.searchsorted(cell_key, both * 2)
    paired = cell_score[pos + 1] - cell_score[pos]  # new minus same
    paired_mean = _cluster_means(
        paired, np.zeros(both.size, np.int64), live.sub_earner[both], 1, confidence
    )
    paired_difference = _difference_of(paired_mean, 0, score_margin)
    n_resub = int(np.count_nonzero(live.sub_previous >= 0))
    n_without = int(np.count_nonzero((live.sub_attempt >= 2) & (live.sub_previous < 0)))
    verdict: Verdict = pass_difference.verdict if n_resub else "no resubmissions"
    return AssessorContinuity(
        n_resubmissions=n_resub,
        n_without_previous=n_without,
        same=groups[0],
        new=groups[1],
        pass_difference=pass_difference,
        score_difference=score_difference,
        paired_score_difference=paired_difference,
        verdict=verdict,
        sentence=_continuity_sentence(groups[0], groups[1], pass_difference, n_resub),
    )


# --- 4. leniency toward later attempts ----------------------------------------------------------


def _leniency(live: _Live, confidence: float, minimum: int, margin: float) -> Leniency:
    n_raters = len(live.raters)
    complete = live.complete
    sub, rater = live.reading_sub[complete], live.reading_rater[complete]
    m = live.scores[complete].mean(axis=1)
    later = live.sub_attempt[sub] >= 2
    earner = live.sub_earner[sub]
    k = np.bincount(sub, minlength=live.sub_attempt.size)[sub]
    total = np.bincount(sub, weights=m, minlength=live.sub_attempt.size)[sub]
    double = k >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        dev = m - (total - m) / (k - 1)  # D_r: reading minus the mean of the other readings
    within = _cluster_differences(
        dev[double], later[double], rater[double], earner[double], n_raters, confidence
    )
    own = _cluster_differences(m, later, rater, earner, n_raters, confidence)
    pooled = _cluster_differences(m, later, np.zeros(m.size, np.int64), earner, 1, confidence)
    n_first = np.bincount(rater[double & ~later], minlength=n_raters)
    n_later = np.bincount(rater[double & later], minlength=n_raters)
    eligible = (n_first >= minimum) & (n_later >= minimum)
    n_eligible = int(eligible.sum())
    centre = math.nan
    if n_eligible >= 3:
        # Relative to the median assessor; its variance pi/(2m) * v (the large-sample variance
        # of the median of m normal estimates), added as if independent (conservative).
        centre = float(np.median(within.estimate[eligible]))
        v = within.se[eligible] ** 2
        v = v[np.isfinite(v)]
        v_centre = math.pi / (2 * n_eligible) * float(np.median(v)) if v.size else math.nan
        se = np.sqrt(within.se**2 + v_centre)
        low, high = _t_interval(within.estimate - centre, se, within.df, confidence)
        within = _Estimates(
            within.estimate - centre,
            low,
            high,
            within.n,
            within.clusters,
            confidence,
            se,
            within.df,
        )
    simultaneous = 1 - (1 - confidence) / max(n_eligible, 1)
    sim_low, sim_high = _t_interval(within.estimate, within.se, within.df, simultaneous)
    own_first = np.bincount(rater[~later], minlength=n_raters)
    own_later = np.bincount(rater[later], minlength=n_raters)
    own_ok = (own_first >= minimum) & (own_later >= minimum)
    pooled_fig = _figure(pooled, 0, int(pooled.clusters[0]), _CLUSTER_EARNER)
    rows = []
    for a in sorted(np.flatnonzero(n_later).tolist(), key=live.raters.__getitem__):
        if eligible[a]:
            sim = ConfidenceInterval(float(sim_low[a]), float(sim_high[a]), simultaneous)
            verdict = _verdict(sim.low, sim.high, margin)
            fig = _difference_of(within, a, margin, verdict=verdict)
        else:
            sim = ConfidenceInterval(math.nan, math.nan, simultaneous)
            verdict = "too few to tell"
            fig = Difference(
                math.nan,
                ConfidenceInterval(math.nan, math.nan, confidence),
                int(n_first[a] + n_later[a]),
                int(within.clusters[a]),
                _CLUSTER_EARNER,
                margin,
                verdict,
            )
        own_fig = (
            _figure(own, a, int(own.clusters[a]), _CLUSTER_EARNER)
            if own_ok[a]
            else Figure(
                math.nan,
                ConfidenceInterval(math.nan, math.nan, confidence),
                int(own_first[a] + own_later[a]),
                int(own.clusters[a]),
                _CLUSTER_EARNER,
            )
        )
        rows.append(
            AssessorLeniency(
                assessor=live.raters[a],
                n_first=int(n_first[a]),
                n_later=int(n_later[a]),
                within=fig,
                simultaneous_interval=sim,
                own_gap=own_fig,
                verdict=verdict,
                sentence=_leniency_sentence(
                    live.raters[a], fig, sim, int(n_first[a]), int(n_later[a]), minimum
                ),
            )
        )
    flagged = tuple(r.assessor for r in rows if r.verdict == "higher")
    verdicts = {r.verdict for r in rows if not math.isnan(r.within.estimate)}
    section: Verdict
    if not np.any(live.sub_attempt >= 2):
        section = "no resubmissions"
    elif flagged:
        section = "higher"
    elif "lower" in verdicts:
        section = "lower"
    elif verdicts == {"about the same"}:
        section = "about the same"
    else:
        section = "too few to tell"
    return Leniency(
        assessors=tuple(rows),
        pooled_gap=pooled_fig,
        n_eligible=n_eligible,
        centre=centre,
        min_double_scored=minimum,
        flagged=flagged,
        verdict=section,
        sentence=_leniency_section_sentence(section, flagged, n_eligible, pooled_fig, minimum),
    )


# --- 5. calibration rounds ----------------------------------------------------------------------


def _qualification(rounds: CalibrationRounds, confidence: float) -> tuple[QualificationRow, ...]:
    passed = cast(BoolArray, rounds.passed)
    if not passed.size:
        return ()
    assessor, labels = _factorize(cast(ObjectArray, rounds.flag_assessor))
    number = cast(IntArray, rounds.flag_round)
    b = _bin(number)
    k = len(BINS)
    n = np.bincount(b, minlength=k)
    x = np.bincount(b[passed], minlength=k)
    rates = _shares(x, n, confidence)
    cohort = np.zeros(len(labels), dtype=bool)
    cohort[assessor[number == 1]] = True
    rows = []
    for g in np.flatnonzero(n).tolist():
        upto = number <= g + 1 if g < k - 1 else np.ones(number.size, dtype=bool)
        qualified = np.bincount(assessor[upto & passed], minlength=len(labels)) > 0
        q = _shares(
            np.array([int((qualified & cohort).sum())]), np.array([cohort.sum()]), confidence
        )
        fig = _figure(rates, g, int(n[g]), _WILSON)
        qfig = _figure(q, 0, int(cohort.sum()), _WILSON)
        nth = {"1": "first", "2": "second", "3": "third", "4+": "fourth or later"}[BINS[g]]
        rows.append(
            QualificationRow(
                round=BINS[g],
                n_assessors=int(n[g]),
                n_passed=int(x[g]),
                pass_rate=fig,
                qualified_by=qfig,
                sentence=(
                    f"Of {_many(int(n[g]), 'assessor')} taking a {nth} qualification round, "
                    f"{int(x[g])} passed ({_pct(fig.estimate)}, {_ci_pct(fig.interval)})"
                    + (
                        "."
                        if math.isnan(qfig.estimate)
                        else f"; {_pct(qfig.estimate)} of those who started had qualified by then."
                    )
                ),
            )
        )
    return tuple(rows)


# --- interval machinery -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Estimates:
    """Per-group estimates with intervals (all shape (G,))."""

    estimate: FloatArray
    low: FloatArray
    high: FloatArray
    n: IntArray
    clusters: IntArray
    level: float
    se: FloatArray
    df: FloatArray


def _z(confidence: float) -> float:
    return float(ndtri(0.5 + confidence / 2))


def _wilson(x: FloatArray, n: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Wilson's (1927) score interval for ``x`` successes in ``n`` trials (``x`` may be
    fractional, ``x = p n`` on an effective sample size); NaN where ``n == 0``.

    >>> low, high = _wilson(np.array([81.0]), np.array([263.0]), 0.95)
    >>> round(float(low[0]), 4), round(float(high[0]), 4)
    (0.2553, 0.3662)

    (Newcombe 1998a, Table I, 81/263, method 3.)
    """
    z = _z(confidence)
    x = np.asarray(x, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        centre = (x + z * z / 2) / (n + z * z)
        half = z * np.sqrt(np.maximum(n * p * (1 - p), 0) + z * z / 4) / (n + z * z)
        low = np.where(n > 0, np.clip(np.minimum(centre - half, p), 0, 1), np.nan)
        high = np.where(n > 0, np.clip(np.maximum(centre + half, p), 0, 1), np.nan)
    return low, high


def _newcombe(
    p1: float, l1: float, u1: float, p2: float, l2: float, u2: float
) -> tuple[float, float]:
    """Newcombe's (1998) hybrid score interval for ``p1 - p2`` from the two proportions'
    Wilson intervals (method 10).

    >>> l1, u1 = _wilson(np.array([56.0]), np.array([70.0]), 0.95)
    >>> l2, u2 = _wilson(np.array([48.0]), np.array([80.0]), 0.95)
    >>> low, high = _newcombe(56 / 70, l1[0], u1[0], 48 / 80, l2[0], u2[0])
    >>> round(low, 4), round(high, 4)
    (0.0524, 0.3339)

    (Newcombe 1998, Table II, example (a), method 10.)
    """
    d = p1 - p2
    return (
        float(d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)),
        float(d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)),
    )


def _shares(x: ArrayLike, n: ArrayLike, confidence: float) -> _Estimates:
    xs = np.asarray(x, dtype=np.float64)
    ns = np.asarray(n, dtype=np.float64)
    low, high = _wilson(xs, ns, confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = xs / ns
    nan = np.full(p.shape, np.nan)
    return _Estimates(p, low, high, ns.astype(np.int64), ns.astype(np.int64), confidence, nan, nan)


def _clustered_shares(
    hit: BoolArray, group: IntArray, cluster: IntArray, n_groups: int, confidence: float
) -> _Estimates:
    """Shares of ``hit`` per group, with Wilson intervals on the effective sample size
    ``n / deff`` (see :func:`calibration_progress`)."""
    y = hit.astype(np.float64)
    means = _cluster_means(y, group, cluster, n_groups, confidence)
    n = means.n.astype(np.float64)
    p = means.estimate
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = means.se**2 / (p * (1 - p) / n)
        undefined = ~np.isfinite(deff) | (p <= 0) | (p >= 1)
        deff = np.where(undefined, n / means.clusters, deff)
        n_eff = n / np.maximum(deff, 1.0)
    low, high = _wilson(p * n_eff, n_eff, confidence)
    return _Estimates(p, low, high, means.n, means.clusters, confidence, means.se, means.df)


def _t_interval(
    estimate: FloatArray, se: FloatArray, df: FloatArray, confidence: float
) -> tuple[FloatArray, FloatArray]:
    safe = np.where(df >= 1, df, 1.0)
    t = np.where(df >= 1, stdtrit(safe, 0.5 + confidence / 2), np.nan)
    half = se * t
    return estimate - half, estimate + half


def _cluster_means(
    y: FloatArray, group: IntArray, cluster: IntArray, n_groups: int, confidence: float
) -> _Estimates:
    r"""Mean of ``y`` per group with the cluster-robust variance
    :math:`\frac{G}{G-1} \frac{1}{N^2} \sum_g (\sum_{i \in g} (y_i - \bar y))^2` and a t
    interval on ``G - 1`` df (Cameron & Miller 2015); NaN below two clusters."""
    n = np.bincount(group, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=y, minlength=n_groups) / n
    e = y - mean[group] if y.size else y
    s, clusters = _cluster_scores(e, group, cluster, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(clusters >= 2, clusters / (clusters - 1) * s / n.astype(float) ** 2, np.nan)
    se = np.sqrt(var)
    df = np.where(clusters >= 2, clusters - 1.0, np.nan)
    low, high = _t_interval(mean, se, df, confidence)
    return _Estimates(mean, low, high, n.astype(np.int64), clusters, confidence, se, df)


def _cluster_differences(
    y: FloatArray,
    second: BoolArray,
    group: IntArray,
    cluster: IntArray,
    n_groups: int,
    confidence: float,
) -> _Estimates:
    r"""Per group, mean of ``y`` where ``second`` minus mean where not: the slope of a
    regression of ``y`` on ``second`` (and a constant), with the cluster-robust variance
    :math:`\frac{G}{G-1} \sum_g (\sum_{i \in g} w_i e_i)^2`, :math:`w_i = 1/n_1` or
    :math:`-1/n_0`, :math:`e_i` the residual from its side's mean; t on ``G - 1`` df. NaN
    when a side is empty or below two clusters."""
    side = group * 2 + second.astype(np.int64)
    n_side = np.bincount(side, minlength=2 * n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_side = np.bincount(side, weights=y, minlength=2 * n_groups) / n_side
        w = np.where(second, 1.0, -1.0) / n_side[side]
    e = (y - mean_side[side]) * w if y.size else y
    s, clusters = _cluster_scores(e, group, cluster, n_groups)
    estimate = mean_side[1::2] - mean_side[0::2]
    ok = (clusters >= 2) & (n_side[1::2] > 0) & (n_side[0::2] > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(ok, clusters / (clusters - 1) * s, np.nan)
    se = np.sqrt(var)
    df = np.where(ok, clusters - 1.0, np.nan)
    low, high = _t_interval(estimate, se, df, confidence)
    n = (n_side[1::2] + n_side[0::2]).astype(np.int64)
    return _Estimates(estimate, low, high, n, clusters, confidence, se, df)


def _cluster_scores(
    e: FloatArray, group: IntArray, cluster: IntArray, n_groups: int
) -> tuple[FloatArray, IntArray]:
    """Per group: the sum over clusters of (sum of ``e`` in the cluster) squared, and the
    number of clusters."""
    if not e.size:
        return np.zeros(n_groups), np.zeros(n_groups, dtype=np.int64)
    width = int(cluster.max()) + 1
    cells, cell = np.unique(group * width + cluster, return_inverse=True)
    cell_group = cells // width
    sums = np.bincount(cell.ravel(), weights=e)
    return (
        np.bincount(cell_group, weights=sums**2, minlength=n_groups).astype(np.float64),
        np.bincount(cell_group, minlength=n_groups).astype(np.int64),
    )


def _verdict(low: float, high: float, margin: float) -> Verdict:
    """What an interval says about a difference (see the module docstring).

    >>> _verdict(0.02, 0.30, 0.1), _verdict(-0.05, 0.08, 0.1), _verdict(-0.05, 0.2, 0.1)
    ('higher', 'about the same', 'too few to tell')
    """
    if math.isnan(low) or math.isnan(high):
        return "too few to tell"
    if low > 0:
        return "higher"
    if high < 0:
        return "lower"
    if -margin <= low and high <= margin:
        return "about the same"
    return "too few to tell"


def _figure(est: _Estimates, g: int, n_clusters: int, method: str) -> Figure:
    return Figure(
        float(est.estimate[g]),
        ConfidenceInterval(float(est.low[g]), float(est.high[g]), est.level),
        int(est.n[g]),
        n_clusters,
        method,
    )


def _difference_of(
    est: _Estimates, g: int, margin: float, *, verdict: Verdict | None = None
) -> Difference:
    low, high = float(est.low[g]), float(est.high[g])
    return Difference(
        float(est.estimate[g]),
        ConfidenceInterval(low, high, est.level),
        int(est.n[g]),
        int(est.clusters[g]),
        _CLUSTER_EARNER,
        margin,
        _verdict(low, high, margin) if verdict is None else verdict,
    )


def _newcombe_difference(
    est: _Estimates, a: int, b: int, margin: float, n_clusters: int
) -> Difference:
    """Share ``a`` minus share ``b`` with Newcombe's interval on their (Wilson) intervals;
    ``n_clusters`` the distinct clusters of both."""
    pa, pb = float(est.estimate[a]), float(est.estimate[b])
    if math.isnan(pa) or math.isnan(pb):
        low = high = math.nan
    else:
        low, high = _newcombe(
            pa, float(est.low[a]), float(est.high[a]), pb, float(est.low[b]), float(est.high[b])
        )
    return Difference(
        pa - pb,
        ConfidenceInterval(low, high, est.level),
        int(est.n[a] + est.n[b]),
        n_clusters,
        _NEWCOMBE,
        margin,
        _verdict(low, high, margin),
    )


# --- small helpers ------------------------------------------------------------------------------


def _check_parameters(
    confidence: float, min_double_scored: int, rate_margin: float, score_margin: float
) -> None:
    if not 0 < confidence < 1:
        raise CalibrateError(f"confidence must be between 0 and 1, got {confidence}")
    if isinstance(min_double_scored, bool) or not isinstance(min_double_scored, int | np.integer):
        raise CalibrateError(f"min_double_scored must be a whole number, got {min_double_scored!r}")
    if min_double_scored < 2:
        raise CalibrateError(f"min_double_scored must be at least 2, got {min_double_scored}")
    for name, value in (("rate_margin", rate_margin), ("score_margin", score_margin)):
        if not (math.isfinite(value) and value >= 0):
            raise CalibrateError(f"{name} must be a finite number >= 0, got {value}")


def _bin(attempt: IntArray) -> IntArray:
    """Index in :data:`BINS` of attempt (or round) numbers >= 1."""
    return (np.minimum(attempt, len(BINS)) - 1).astype(np.int64)


def _distinct(group: IntArray, member: IntArray, n_groups: int) -> IntArray:
    """Distinct members per group."""
    if not group.size:
        return np.zeros(n_groups, dtype=np.int64)
    pairs = np.unique(group * (int(member.max()) + 1) + member)
    return np.bincount(pairs // (int(member.max()) + 1), minlength=n_groups).astype(np.int64)


def _factorize(values: ArrayLike) -> tuple[IntArray, tuple[str, ...]]:
    """Codes of text values in sorted label order; ``-1`` for empty or missing cells."""
    code, uniques = pd.factorize(np.asarray(values, dtype=object).ravel())
    labels = np.array([str(v) for v in uniques.tolist()], dtype=object)
    empty = labels == ""
    order = np.argsort(labels.astype(str), kind="stable")
    order = order[~empty[order]]
    rank = np.full(labels.size + 1, -1, dtype=np.int64)  # the last entry: missing (-1)
    rank[order] = np.arange(order.size)
    return rank[code].astype(np.int64), tuple(str(x) for x in labels[order].tolist())


def _whole(values: Any, name: str) -> IntArray:
    arr = np.asarray(values, dtype=object).ravel()
    numbers = np.array([_attempt_number(v) for v in arr.tolist()], dtype=np.int64)
    if (numbers < 1).any():
        bad = arr[numbers < 1][0]
        raise CalibrateError(f"{name} {bad!r} is not a whole number >= 1 (at most {MAX_INT:_})")
    return numbers


def _booleans(values: Any, name: str) -> BoolArray:
    arr = np.asarray(values).ravel()
    if arr.dtype == bool:
        return arr
    if arr.size and not (np.issubdtype(arr.dtype, np.number) and np.isin(arr, [0, 1]).all()):
        raise CalibrateError(f"{name} must hold booleans (or 0/1)")
    return arr.astype(bool)


def _plain(x: Any) -> Any:
    if isinstance(x, ConfidenceInterval):
        return [_plain(x.low), _plain(x.high)]
    if is_dataclass(x) and not isinstance(x, type):
        return {f.name: _plain(getattr(x, f.name)) for f in fields(x)}
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, bool | np.bool_):
        return bool(x)
    if isinstance(x, int | np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(x) else None
    return x


# --- sentences ----------------------------------------------------------------------------------


def _level(x: float) -> str:
    return f"{100 * x:.4g}%"


def _many(n: int, noun: str) -> str:
    """``1 assessor``, ``2 assessors``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.0f}%"


def _ci_pct(ci: ConfidenceInterval) -> str:
    if math.isnan(ci.low) or math.isnan(ci.high):
        return f"{_level(ci.level)} CI undefined"
    return f"{_level(ci.level)} CI {100 * ci.low:.0f}% to {100 * ci.high:.0f}%"


def _pts(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:+.0f} points"


def _ci_pts(ci: ConfidenceInterval) -> str:
    if math.isnan(ci.low) or math.isnan(ci.high):
        return f"{_level(ci.level)} CI undefined"
    return f"{_level(ci.level)} CI {100 * ci.low:+.0f} to {100 * ci.high:+.0f}"


def _lv(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.2f}"


def _ci_lv(ci: ConfidenceInterval) -> str:
    if math.isnan(ci.low) or math.isnan(ci.high):
        return f"{_level(ci.level)} CI undefined"
    return f"{_level(ci.level)} CI {ci.low:+.2f} to {ci.high:+.2f}"


def _pass_sentence(
    label: str, x: int, fig: Figure, vs: Difference | None, rates: _Estimates
) -> str:
    nth = {"1": "first", "2": "second", "3": "third", "4+": "fourth and later"}[label]
    if not fig.n:
        return f"No {nth} attempt has a decision yet."
    head = (
        f"Of {fig.n} {nth} attempts with a decision, {x} passed ({_pct(fig.estimate)}, "
        f"{_ci_pct(fig.interval)})"
    )
    if vs is None:
        return head + "."
    word = {
        "higher": "more often than",
        "lower": "less often than",
        "about the same": "about as often as",
    }.get(vs.verdict, "too few to tell whether more or less often than")
    return (
        f"{head}; against {_pct(float(rates.estimate[0]))} of first attempts that is "
        f"{_pts(vs.estimate)} ({_ci_pts(vs.interval)}): {word} first attempts."
    )


def _continuity_sentence(
    same: ContinuityGroup, new: ContinuityGroup, diff: Difference, n_resub: int
) -> str:
    if not n_resub:
        return "No earner resubmitted after an attempt among these ratings: no resubmissions."
    word = {
        "higher": "assessors new to the earner pass resubmissions more often",
        "lower": "assessors new to the earner pass resubmissions less often",
        "about the same": "both pass resubmissions about as often",
    }.get(diff.verdict, "too few to tell whether either passes resubmissions more often")
    return (
        f"On resubmissions, assessors new to the earner passed {_pct(new.pass_rate.estimate)} "
        f"(n={new.pass_rate.n}) and assessors who had read the previous attempt "
        f"{_pct(same.pass_rate.estimate)} (n={same.pass_rate.n}), a difference of "
        f"{_pts(diff.estimate)} ({_ci_pts(diff.interval)}): {word}; resubmissions are not "
        "assigned at random, so this describes rather than explains."
    )


def _leniency_sentence(
    assessor: str,
    fig: Difference,
    sim: ConfidenceInterval,
    n_first: int,
    n_later: int,
    minimum: int,
) -> str:
    if math.isnan(fig.estimate):
        return (
            f"Assessor {assessor} has double-scored readings of {n_later} resubmission(s) and "
            f"{n_first} first attempt(s), fewer than the {minimum} of each needed: too few to "
            "tell."
        )
    word = {
        "higher": "more lenient on resubmissions",
        "lower": "more severe on resubmissions",
        "about the same": "even-handed between first attempts and resubmissions",
    }.get(fig.verdict, "too few to tell")
    return (
        f"Relative to the other reader, assessor {assessor} scored resubmissions "
        f"{_lv(fig.estimate)} levels away from how they scored first attempts "
        f"({_ci_lv(fig.interval)}; {_ci_lv(sim)} jointly over assessors; {n_later} "
        f"resubmissions, {n_first} first attempts): {word}."
    )


def _leniency_section_sentence(
    verdict: Verdict, flagged: tuple[str, ...], n_eligible: int, pooled: Figure, minimum: int
) -> str:
    if verdict == "no resubmissions":
        return "No earner resubmitted: no resubmissions."
    gap = (
        f"all readings of resubmissions score {_lv(pooled.estimate)} levels against first "
        f"attempts ({_ci_lv(pooled.interval)}), genuine improvement and any shared leniency "
        "together"
    )
    if n_eligible == 0:
        return (
            f"No assessor has {minimum} double-scored first attempts and resubmissions, too few "
            f"to tell who is lenient on resubmissions; {gap}."
        )
    if flagged:
        return (
            f"Of {n_eligible} assessors with enough double scoring, {', '.join(flagged)} "
            f"{'is' if len(flagged) == 1 else 'are'} more lenient on resubmissions than the "
            f"other readers; {gap}."
        )
    word = {
        "lower": "none is more lenient on resubmissions, but some are more severe",
        "about the same": "every one is even-handed between first attempts and resubmissions",
    }.get(verdict, "none is shown more lenient on resubmissions, but not all can be cleared")
    return f"Of {n_eligible} assessors with enough double scoring, {word}; {gap}."


def _calibration_sentence(
    label: str, n_assessors: int, exact: Figure, adjacent: float, vs: Difference | None
) -> str:
    nth = {"1": "first", "2": "second", "3": "third", "4+": "fourth and later"}[label]
    head = (
        f"In {nth} rounds ({_many(n_assessors, 'assessor')}, {_many(exact.n_clusters, 'anchor')}), "
        f"{_pct(exact.estimate)} of scores matched the experts exactly ({_ci_pct(exact.interval)})"
        f" and {_pct(adjacent)} within one level"
    )
    if vs is None:
        return head + "."
    word = {
        "higher": "closer to the experts than in first rounds",
        "lower": "further from the experts than in first rounds",
        "about the same": "about as close as in first rounds",
    }.get(vs.verdict, "too few to tell against first rounds")
    return f"{head}: {_pts(vs.estimate)} ({_ci_pts(vs.interval)}), {word}."
