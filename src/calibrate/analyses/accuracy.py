"""Accuracy against anchors and agreement on pass decisions: the use cases behind
``calibrate accuracy``.

:func:`accuracy_report` joins ratings of anchors with the anchors' expert scores, applies the
rubric's pass rule to every complete reading and computes the statistics of
:mod:`calibrate.stats.accuracy` per assessor, per criterion, per assessor x criterion and
overall. The services call it on files (:func:`load_anchor_definitions`) or on the store, so
every door shows the same numbers.
:func:`live_decision_agreement` compares the pass decisions of two readings of the same live
submissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from calibrate.anchors import AnchorSet, load_anchor_set_files
from calibrate.errors import CalibrateError, StatisticsError
from calibrate.ratings import ANCHOR_CONTEXTS, CONTEXTS, Keep, Ratings, factorize
from calibrate.rubric import Rubric, load_rubrics
from calibrate.stats import ConfidenceInterval
from calibrate.stats.accuracy import (
    AnchorAccuracy,
    DecisionAccuracy,
    DecisionAgreement,
    anchor_accuracy,
    decision_accuracy,
    decision_agreement,
)

ANCHOR_PREFIX = "anchor:"
"""How the store labels anchors among submissions (``anchor:<anchor-id>``)."""

IntArray = NDArray[np.int64]
Verdict = Literal["harsher", "more lenient", "in line", "cannot tell yet", "too few anchors"]


@dataclass(frozen=True)
class AccuracyRow:
    """Accuracy of one assessor, one criterion, one assessor x criterion cell, or overall.

    Attributes
    ----------
    n : int
        Ratings of anchors paired with an expert score.
    n_anchors : int
        Distinct anchors rated.
    exact, adjacent : float
        Shares of ratings equal to / within one level of the expert score.
    mean_deviation : float
        Mean of rating minus expert score: negative = harsher than the experts.
    mean_deviation_se : float
        Its standard error, clustered by anchor (NaN with one anchor).
    mean_deviation_ci : ConfidenceInterval
        Student's t interval on ``n_anchors - 1`` df (JSON: ``[low, high]``).
    mae : float
        Mean absolute error.
    qwk : float
        Quadratic weighted kappa with the expert scores.
    n_decisions : int or None
        Complete readings (every criterion of an anchor scored) whose pass decision was
        compared with the experts'; None for criteria and assessor x criterion cells.
    decision_accuracy : float or None
        Share of those decisions equal to the experts' decision.
    false_pass, false_fail : int or None
        Readings passed that the experts fail, and failed that the experts pass.
    """

    n: int
    n_anchors: int
    exact: float
    adjacent: float
    mean_deviation: float
    mean_deviation_se: float
    mean_deviation_ci: ConfidenceInterval
    mae: float
    qwk: float
    n_decisions: int | None
    decision_accuracy: float | None
    false_pass: int | None
    false_fail: int | None

    def verdict(self, tolerance: float = 0.0) -> Verdict:
        """Harsher or more lenient than the experts, judged by the interval of the mean
        deviation against a tolerance band ``[-tolerance, +tolerance]`` (in levels).

        ``"harsher"`` when the whole interval lies below ``-tolerance``, ``"more lenient"``
        when it lies above ``+tolerance``, ``"in line"`` when it lies within the band (with no
        tolerance: only an interval of zero width at zero, every rating equal to the experts'),
        ``"cannot tell yet"`` when it crosses a bound of the band, and
        ``"too few anchors"`` when there is no interval (one anchor).

        Notes
        -----
        An equivalence reading of a confidence interval: a deviation is asserted only when the
        interval excludes the band, and conformity only when the interval lies within it
        (Schuirmann 1987; Walker & Nowacki 2011, Figure 1).

        References
        ----------
        Schuirmann, D. J. (1987). A comparison of the two one-sided tests procedure and the
        power approach for assessing the equivalence of average bioavailability. *Journal of
        Pharmacokinetics and Biopharmaceutics*, 15(6), 657-680.
        Walker, E., & Nowacki, A. S. (2011). Understanding equivalence and noninferiority
        testing. *Journal of General Internal Medicine*, 26(2), 192-196.

        Examples
        --------
        >>> from calibrate.stats import ConfidenceInterval
        >>> row = AccuracyRow(20, 5, 0.6, 0.95, -0.3, 0.08, ConfidenceInterval(-0.52, -0.08, 0.95),
        ...                   0.4, 0.7, None, None, None, None)
        >>> row.verdict(), row.verdict(0.25), row.verdict(0.6)
        ('harsher', 'cannot tell yet', 'in line')
        """
        low, high = self.mean_deviation_ci.low, self.mean_deviation_ci.high
        if low != low or high != high:
            return "too few anchors"
        if high < -tolerance:
            return "harsher"
        if low > tolerance:
            return "more lenient"
        if -tolerance <= low and high <= tolerance:
            return "in line"
        return "cannot tell yet"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the attributes, ``mean_deviation_ci`` as ``[low, high]``, and
        ``verdict`` (:meth:`verdict` with no tolerance)."""
        out = asdict(self)
        out["mean_deviation_ci"] = self.mean_deviation_ci.to_list()
        out["verdict"] = self.verdict()
        return out


@dataclass(frozen=True)
class AccuracyReport:
    """Accuracy of assessors against the anchors of one rubric version.

    Attributes
    ----------
    rubric : str
        ``id@version``.
    anchor_sets : tuple of str
        Ids of the anchor sets whose expert scores were used.
    contexts : tuple of str
        The contexts of the ratings used (practice, qualification, validity).
    keep : {"first", "last"} or None
        Which reading counted when an assessor scored an anchor on a criterion more than once;
        None: every reading counted.
    confidence : float
        Coverage of the ``mean_deviation_ci`` intervals.
    assessors : dict of str to AccuracyRow
        Per assessor, in id order.
    criteria : dict of str to AccuracyRow
        Per criterion with ratings (rubric order); no decision fields.
    assessor_criteria : dict of (str, str) to AccuracyRow
        Per (assessor, criterion) with ratings, assessors in id order and criteria in rubric
        order; no decision fields.
    overall : AccuracyRow
        All ratings and all complete readings together.
    """

    rubric: str
    anchor_sets: tuple[str, ...]
    contexts: tuple[str, ...]
    keep: Keep | None
    confidence: float
    assessors: dict[str, AccuracyRow]
    criteria: dict[str, AccuracyRow]
    assessor_criteria: dict[tuple[str, str], AccuracyRow]
    overall: AccuracyRow

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``calibrate accuracy --json``: ``rubric``, ``anchor_sets``,
        ``contexts``, ``keep``, ``confidence``, ``assessors`` (list of ``{"id", ...row}``),
        ``criteria`` (same), ``assessor_criteria`` (list of ``{"assessor", "criterion",
        ...row}``) and ``overall``, each row as :meth:`AccuracyRow.to_dict`."""
        return {
            "rubric": self.rubric,
            "anchor_sets": list(self.anchor_sets),
            "contexts": list(self.contexts),
            "keep": self.keep,
            "confidence": self.confidence,
            "assessors": [{"id": k, **row.to_dict()} for k, row in self.assessors.items()],
            "criteria": [{"id": k, **row.to_dict()} for k, row in self.criteria.items()],
            "assessor_criteria": [
                {"assessor": a, "criterion": c, **row.to_dict()}
                for (a, c), row in self.assessor_criteria.items()
            ],
            "overall": self.overall.to_dict(),
        }


def accuracy_report(
    ratings: Ratings,
    anchor_sets: Sequence[AnchorSet],
    rubric: Rubric,
    *,
    context: str | None = None,
    keep: Keep | None = None,
    confidence: float = 0.95,
) -> AccuracyReport:
    """Accuracy of every assessor against the anchors' expert scores.

    Parameters
    ----------
    ratings : Ratings
        Ratings whose units are anchors: labelled with the anchor id (a ratings file) or
        ``anchor:<anchor-id>`` (the store). Rows of another rubric (``rubric`` column) or of
        live scoring (``context`` column) are left out; every other row must name an anchor
        of ``anchor_sets`` and a criterion of ``rubric``, with a level score.
    anchor_sets : sequence of AnchorSet
        The anchor sets, all of ``rubric``.
    rubric : Rubric
        The rubric version the anchors were scored under: its levels, criteria and pass rule.
    context : str, optional
        Only ratings of this context (practice, qualification or validity; any case); default
        all three (:func:`anchor_contexts`).
    keep : {"first", "last"}, optional
        One rating per assessor, anchor and criterion: the first (the independent first
        reading) or the latest (:meth:`calibrate.ratings.Ratings.one_per_cell`). Default:
        every reading counts (retakes are readings too).
    confidence : float
        Coverage of the intervals of the mean deviation.

    Returns
    -------
    AccuracyReport

    Raises
    ------
    CalibrateError
        A context that is not an anchor context or a ``keep`` neither first nor last; anchor
        sets of another rubric or with a repeated anchor id; no anchor ratings; ratings
        naming submissions that are not anchors of the sets, unknown criteria, or scores that
        are not levels of the rubric (each named).

    Notes
    -----
    A *reading* is one assessor's scoring of one anchor: the rows of one assessor, anchor and
    ``round`` (a column of ratings files) in order of appearance, the first score of each
    criterion forming the first reading, the second the second, and so on. Its pass decision
    is ``rubric.passes`` on its scores when it scores every criterion of the rubric; readings
    missing a criterion count in the criterion statistics only. Statistics:
    :func:`~calibrate.stats.accuracy.anchor_accuracy` and
    :func:`~calibrate.stats.accuracy.decision_accuracy`.
    """
    sets = tuple(anchor_sets)
    anchor_ids = anchor_ids_of(sets, rubric, empty="no anchor sets given")
    criteria = rubric.criterion_ids
    expert = np.vstack([s.expert_scores(criteria) for s in sets])  # (n_anchors, n_criteria)
    expert_pass = rubric.passes(expert)
    names = ", ".join(s.id for s in sets)
    contexts = anchor_contexts(context)
    rows = procedure_rows(ratings, rubric, contexts)
    if keep is not None:
        rows = rows.one_per_cell(keep)
    if not len(rows):
        raise CalibrateError(
            f"the ratings hold no ratings of the anchors of {names} ({', '.join(contexts)})"
        )
    unit_anchor = lookup_labels(
        tuple(u.removeprefix(ANCHOR_PREFIX) for u in rows.units),
        anchor_ids,
        f"the ratings name submission(s) that are not anchors of {names}",
    )
    crit = lookup_labels(rows.criteria, criteria, f"unknown criterion for {rubric.key}")[
        rows.criterion
    ]
    anchor = unit_anchor[rows.unit]
    value = rows.value
    bad = ~np.isin(value, rubric.scores)
    if bad.any():
        raise CalibrateError(
            f"score {value[bad][0]:g} is not a level of {rubric.key} "
            f"(levels {', '.join(map(str, rubric.scores))})"
        )
    rater, n_raters, n_crit = rows.rater, len(rows.raters), len(criteria)

    def accuracy(group: IntArray, n_groups: int) -> AnchorAccuracy:
        return anchor_accuracy(
            anchor, group, value, expert[anchor, crit], n_groups=n_groups, levels=rubric.scores
        )

    reading_anchor, reading_rater, scores, _ = _readings(
        anchor, rater, crit, round_codes(rows), n_crit, value
    )
    complete = ~np.isnan(scores).any(axis=1)
    passed = rubric.passes(scores[complete].astype(np.int64))
    truth = expert_pass[reading_anchor[complete]]

    def decisions(group: IntArray, n_groups: int) -> DecisionAccuracy:
        return decision_accuracy(group, passed, truth, n_groups=n_groups)

    everyone = np.zeros(value.size, dtype=np.int64)
    per_assessor = _rows(
        accuracy(rater, n_raters), decisions(reading_rater[complete], n_raters), confidence
    )
    per_criterion = _rows(accuracy(crit, n_crit), None, confidence)
    per_cell = _rows(accuracy(rater * n_crit + crit, n_raters * n_crit), None, confidence)
    overall = _rows(
        accuracy(everyone, 1), decisions(np.zeros(int(passed.size), dtype=np.int64), 1), confidence
    )
    by_label = sorted(range(n_raters), key=rows.raters.__getitem__)
    return AccuracyReport(
        rubric=rubric.key,
        anchor_sets=tuple(s.id for s in sets),
        contexts=contexts,
        keep=keep,
        confidence=confidence,
        assessors={rows.raters[j]: per_assessor[j] for j in by_label if per_assessor[j].n},
        criteria={criteria[c]: row for c, row in enumerate(per_criterion) if row.n},
        assessor_criteria={
            (rows.raters[j], criteria[c]): per_cell[j * n_crit + c]
            for j in by_label
            for c in range(n_crit)
            if per_cell[j * n_crit + c].n
        },
        overall=overall[0],
    )


def live_decision_agreement(ratings: Ratings, rubric: Rubric) -> DecisionAgreement:
    """Pass-decision agreement between the first two readings of double-scored live work.

    Parameters
    ----------
    ratings : Ratings
        Live ratings (rows of other contexts, per a ``context`` column, and of other rubrics,
        per a ``rubric`` column, are left out), in the order they were made.
    rubric : Rubric
        The rubric version whose pass rule makes the decisions.

    Returns
    -------
    DecisionAgreement
        Over submissions with two complete readings (every criterion scored): the first two in
        order of appearance, i.e. first reader against second reader; a third (adjudicating)
        reading is not counted.

    Raises
    ------
    CalibrateError
        Unknown criteria or scores, or no submission with two complete readings.

    Notes
    -----
    Exact-plus-adjacent agreement on criteria can hide disagreement on the decision: under a
    conjunctive pass rule one criterion read one level lower by the second reader is an
    adjacent agreement and a different decision. Report both (DESIGN.md, Decisions).
    """
    rows = procedure_rows(ratings, rubric, ("live",))
    criteria = rubric.criterion_ids
    crit = lookup_labels(rows.criteria, criteria, f"unknown criterion for {rubric.key}")[
        rows.criterion
    ]
    if not np.isin(rows.value, rubric.scores).all():
        raise CalibrateError(f"the ratings hold scores that are not levels of {rubric.key}")
    unit, _, scores, first_row = _readings(
        rows.unit, rows.rater, crit, round_codes(rows), len(criteria), rows.value
    )
    complete = ~np.isnan(scores).any(axis=1)
    unit, first_row = unit[complete], first_row[complete]
    passed = rubric.passes(scores[complete].astype(np.int64))
    order = np.lexsort((first_row, unit))
    unit, passed = unit[order], passed[order]
    starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
    rank = np.arange(unit.size) - np.repeat(starts, np.diff(np.r_[starts, unit.size]))
    second = np.flatnonzero(rank == 1)
    if second.size == 0:
        raise StatisticsError(
            f"no live submission of {rubric.key} has two readings scoring every criterion"
        )
    return decision_agreement(passed[second - 1], passed[second])


def load_anchor_definitions(
    anchors: Path, rubric_dir: Path
) -> tuple[Rubric, tuple[AnchorSet, ...]]:
    """Read an anchor-set file, or every ``*.yaml`` anchor set of a folder, validated against
    the rubric version they name (from the rubric files in ``rubric_dir``).

    Raises
    ------
    ValidationError
        Every problem in the rubric and anchor-set files.
    CalibrateError
        No anchor-set file at ``anchors``, or sets naming different rubric versions.
    """
    rubrics = {(r.id, r.version): r for r in load_rubrics(rubric_dir)}
    if anchors.is_file():
        files = [anchors]
    elif anchors.is_dir():
        files = sorted(anchors.glob("*.yaml"))
        if not files:
            raise CalibrateError(
                f"no anchor-set files (*.yaml) in {anchors}; give one rubric's folder or file"
            )
    else:
        raise CalibrateError(f"anchor set {anchors}: no such file or folder")
    sets = load_anchor_set_files(files, rubrics)
    keys = sorted({s.rubric_key for s in sets})
    if len(keys) > 1:
        raise CalibrateError(
            f"the anchor sets are scored under several rubric versions ({', '.join(keys)}); "
            "give the sets of one"
        )
    return rubrics[(sets[0].rubric_id, sets[0].rubric_version)], tuple(sets)


def anchor_ids_of(sets: Sequence[AnchorSet], rubric: Rubric, *, empty: str) -> list[str]:
    """The anchor ids of ``sets`` in order, after checking that there is a set (else
    ``empty``), that every set is scored under ``rubric`` and that no id is in two sets.

    Raises
    ------
    CalibrateError
        Naming the rule broken.
    """
    if not sets:
        raise CalibrateError(empty)
    others = sorted({s.rubric_key for s in sets} - {rubric.key})
    if others:
        raise CalibrateError(
            f"the anchor sets are scored under {', '.join(others)}, not {rubric.key}"
        )
    ids = [a.id for s in sets for a in s.anchors]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise CalibrateError(f"anchor id(s) in more than one anchor set: {', '.join(repeated)}")
    return ids


def anchor_contexts(context: str | None) -> tuple[str, ...]:
    """The anchor contexts ``context`` names (any case), or all of them when it is None.

    Raises
    ------
    CalibrateError
        A context that is unknown, or live (earners' work has no expert scores).

    >>> anchor_contexts("Validity"), anchor_contexts(None)
    (('validity',), ('practice', 'qualification', 'validity'))
    """
    if context is None:
        return ANCHOR_CONTEXTS
    chosen = context.lower()
    if chosen in ANCHOR_CONTEXTS:
        return (chosen,)
    if chosen in CONTEXTS:
        raise CalibrateError(
            f"accuracy compares ratings of anchors with the experts' scores: choose context "
            f"{', '.join(ANCHOR_CONTEXTS)}, not {chosen}"
        )
    raise CalibrateError(f"unknown context {context!r} (one of {', '.join(ANCHOR_CONTEXTS)})")


def procedure_rows(ratings: Ratings, rubric: Rubric, contexts: Sequence[str]) -> Ratings:
    """The rows of ``rubric`` (per a ``rubric`` column) and of ``contexts`` (per a ``context``
    column); files without these columns are taken to hold only such rows."""
    keep = np.ones(len(ratings), dtype=bool)
    if "rubric" in ratings.columns:
        keep &= np.isin(ratings.columns["rubric"], [rubric.key, rubric.id, ""])
    if "context" in ratings.columns:
        keep &= np.isin(ratings.columns["context"], list(contexts))
    return ratings if keep.all() else ratings.subset(keep)


def lookup_labels(labels: Sequence[str], known: Sequence[str], what: str) -> IntArray:
    """Index of each label in ``known``; a CalibrateError naming the labels not in it."""
    index = {k: i for i, k in enumerate(known)}
    missing = [x for x in labels if x not in index]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise CalibrateError(f"{what}: {shown}")
    return np.array([index[x] for x in labels], dtype=np.int64)


def round_codes(ratings: Ratings) -> IntArray:
    """Codes of the ``round`` column (all 0 without one)."""
    if "round" not in ratings.columns:
        return np.zeros(len(ratings), dtype=np.int64)
    return factorize(ratings.columns["round"])[0]


def reading_index(
    unit: IntArray, rater: IntArray, criterion: IntArray, round_code: IntArray
) -> tuple[IntArray, IntArray]:
    """The reading of each row (n,): one assessor's scoring of one unit in one round, the k-th
    score of each criterion in row order forming the k-th reading (so rows must come in time
    order when a unit is read twice in one round).

    Returns
    -------
    ids : ndarray of int64, shape (m, 4)
        Per reading: unit, rater, round code and occurrence (0 for the first reading).
    reading : ndarray of int64, shape (n,)
        The reading of each row, indexing ``ids``.
    """
    n = unit.size
    row = np.arange(n)
    order = np.lexsort((row, round_code, criterion, unit, rater))
    keys = np.stack([rater, unit, criterion, round_code])[:, order]
    starts = np.flatnonzero(np.r_[True, (keys[:, 1:] != keys[:, :-1]).any(axis=0)])
    run_length = np.diff(np.r_[starts, n])
    occurrence = np.empty(n, dtype=np.int64)
    occurrence[order] = row - np.repeat(starts, run_length)
    ids, reading = np.unique(
        np.stack([unit, rater, round_code, occurrence], axis=1), axis=0, return_inverse=True
    )
    return ids.astype(np.int64), reading.ravel().astype(np.int64)


def _readings(
    unit: IntArray,
    rater: IntArray,
    criterion: IntArray,
    round_code: IntArray,
    n_criteria: int,
    value: NDArray[np.float64],
) -> tuple[IntArray, IntArray, NDArray[np.float64], IntArray]:
    """Group rows (n,) into readings: one assessor's scoring of one unit in one round, the k-th
    score of each criterion in row order forming the k-th reading.

    Returns
    -------
    unit, rater : ndarray of int64, shape (m,)
        Of each reading (``unit`` is the first argument: the anchor or the submission).
    scores : ndarray, shape (m, n_criteria)
        NaN where the reading has no score of a criterion.
    first_row : ndarray of int64, shape (m,)
        The reading's first row (its place in the order of appearance).
    """
    n = unit.size
    row = np.arange(n)
    ids, reading = reading_index(unit, rater, criterion, round_code)
    scores = np.full((ids.shape[0], n_criteria), np.nan)
    scores[reading, criterion] = value
    first_row = np.full(ids.shape[0], n, dtype=np.int64)
    np.minimum.at(first_row, reading, row)
    return ids[:, 0].astype(np.int64), ids[:, 1].astype(np.int64), scores, first_row


def _rows(
    acc: AnchorAccuracy, decisions: DecisionAccuracy | None, confidence: float
) -> list[AccuracyRow]:
    intervals = acc.confidence_interval(confidence)
    out = []
    for g in range(acc.n.size):
        out.append(
            AccuracyRow(
                n=int(acc.n[g]),
                n_anchors=int(acc.n_anchors[g]),
                exact=float(acc.exact[g]),
                adjacent=float(acc.adjacent[g]),
                mean_deviation=float(acc.mean_deviation[g]),
                mean_deviation_se=float(acc.se[g]),
                mean_deviation_ci=intervals[g],
                mae=float(acc.mae[g]),
                qwk=float(acc.qwk[g]),
                n_decisions=None if decisions is None else int(decisions.n[g]),
                decision_accuracy=None if decisions is None else float(decisions.accuracy[g]),
                false_pass=None if decisions is None else int(decisions.false_pass[g]),
                false_fail=None if decisions is None else int(decisions.false_fail[g]),
            )
        )
    return out
