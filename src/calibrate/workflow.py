"""The calibration workflow's decisions as pure functions: which anchors a qualification round
draws, how a round is judged against the qualification standard, how the readings of a
submission become its final scores, and when a validity anchor is missed.

The store and the services apply them (:mod:`calibrate.services.calibration`,
:mod:`calibrate.services.queue`); everything here works on arrays of level scores with criteria
in the rubric's order, and on the typed rules of :mod:`calibrate.rules`.

References
----------
.. [1] National Center for Education Statistics. NAEP Technical Documentation: Qualifying Sets
   (10 to 12 papers covering the range of scores; 90/80/70 percent exact agreement).
   https://nces.ed.gov/nationsreportcard/tdw/scoring/training_scorers_guide_qualify.asp
.. [2] National Center for Education Statistics. NAEP Technical Documentation: Science
   Interrater Agreement (the first score is the score of record; second scores measure
   agreement). https://nces.ed.gov/nationsreportcard/tdw/scoring/scoring_within_sci.asp
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibrate.errors import CalibrateError
from calibrate.rubric import Rubric
from calibrate.rules import AdjudicationRule, QualificationStandard, round_agreement

IntArray = NDArray[np.int64]


# --- a reading ---------------------------------------------------------------------------------


def check_scores(scores: Mapping[str, Any], rubric: Rubric) -> IntArray:
    """One reading as level scores in the rubric's criterion order: every criterion once, each
    a level of the scale (a whole number; a label is not accepted).

    Raises
    ------
    CalibrateError
        A criterion missing or unknown, or a score that is not a level, named in the message.

    >>> from calibrate.rubric import rubric_from_data
    >>> rubric = rubric_from_data({"id": "r", "version": 1, "title": "R", "competency": "C",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in (1, 2, 3)],
    ...     "criteria": [{"id": c, "title": c, "descriptors": {1: "a", 2: "b", 3: "c"}}
    ...                  for c in ("a", "b")],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="r.yaml")
    >>> check_scores({"b": 2, "a": 3}, rubric).tolist()
    [3, 2]
    >>> check_scores({"a": 4, "b": 1}, rubric)
    Traceback (most recent call last):
    calibrate.errors.CalibrateError: criterion a: 4 is not a level of r@1 (levels 1, 2, 3)
    """
    if not isinstance(scores, Mapping):
        raise CalibrateError("scores must map each criterion to a level score")
    unknown = sorted(str(k) for k in scores if k not in rubric.criterion_ids)
    if unknown:
        raise CalibrateError(
            f"unknown criterion {', '.join(unknown)} (criteria of {rubric.key}: "
            f"{', '.join(rubric.criterion_ids)})"
        )
    missing = [c for c in rubric.criterion_ids if c not in scores]
    if missing:
        raise CalibrateError(f"no score for criterion {', '.join(missing)}: score every criterion")
    out = []
    for c in rubric.criterion_ids:
        value = scores[c]
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise CalibrateError(f"criterion {c}: {value!r} is not a level score")
        if int(value) not in rubric.scores:
            levels = ", ".join(map(str, rubric.scores))
            raise CalibrateError(
                f"criterion {c}: {value} is not a level of {rubric.key} (levels {levels})"
            )
        out.append(int(value))
    return np.array(out, dtype=np.int64)


# --- drawing a qualification round -------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    """The anchors a round draws, as indices into the pool, in the order they are shown.

    Attributes
    ----------
    chosen : int array
        Pool indices.
    reused : int
        How many of them the assessor saw in an earlier round (0 when the pool had enough
        unseen anchors).
    """

    chosen: IntArray
    reused: int


def draw_round(
    expert: ArrayLike,
    passed: ArrayLike,
    last_seen: ArrayLike,
    n: int,
    rng: np.random.Generator,
) -> Draw:
    """Draw ``n`` anchors for a qualification round, unseen ones first, spread across the levels
    of each criterion and across pass / not-yet decisions [1]_.

    Greedy: each pick is the candidate that covers the most (criterion, level) pairs and
    decisions not yet in the round, ties broken at random; once everything is covered, the rest
    at random, so that beyond the coverage the round mirrors the pool (NAEP's sets "cover the
    range of scores"; forcing half the anchors to pass would make a round harder than the
    programme's work). Anchors the assessor has seen are candidates only when the unseen ones
    run out, least recently seen first (those last seen in the same round are candidates
    together, the greedy rule choosing among them).

    Parameters
    ----------
    expert : int array of shape (pool, n_criteria)
        The experts' scores of the pool's anchors.
    passed : bool array of shape (pool,)
        The experts' pass decision per anchor.
    last_seen : int array of shape (pool,)
        -1 for an anchor the assessor never had in a round, otherwise the number of the last
        round that held it (higher: more recent).
    n : int
        Anchors wanted; the whole pool when it holds fewer.
    rng : numpy Generator

    Examples
    --------
    >>> expert = [[1, 1], [2, 2], [3, 3], [3, 2], [1, 3]]
    >>> got = draw_round(expert, [False, False, True, False, False], [-1, -1, -1, 0, 0], 3,
    ...                  np.random.default_rng(1))
    >>> sorted(got.chosen.tolist()), got.reused
    ([0, 1, 2], 0)
    """
    e = np.asarray(expert, dtype=np.int64)
    p = np.asarray(passed, dtype=bool)
    seen = np.asarray(last_seen, dtype=np.int64)
    if e.ndim != 2 or p.shape != (e.shape[0],) or seen.shape != p.shape:
        raise CalibrateError("draw_round: expert (pool, criteria), passed and last_seen (pool,)")
    n = min(int(n), e.shape[0])
    # the unseen first, then those seen, a round at a time from the least recent
    groups = [np.flatnonzero(seen < 0)] + [
        np.flatnonzero(seen == r) for r in np.unique(seen[seen >= 0])
    ]
    chosen: list[int] = []
    covered: set[tuple[int, int]] = set()
    decisions = [0, 0]  # not yet, passed
    candidates: list[int] = []
    while len(chosen) < n:
        while not candidates:
            candidates = [int(i) for i in groups.pop(0)]
        gains = np.array(
            [
                sum((j, int(e[i, j])) not in covered for j in range(e.shape[1]))
                + (decisions[int(p[i])] == 0)
                for i in candidates
            ]
        )
        best = np.flatnonzero(gains == gains.max())
        pick = candidates.pop(int(rng.choice(best)))
        chosen.append(pick)
        covered.update((j, int(e[pick, j])) for j in range(e.shape[1]))
        decisions[int(p[pick])] += 1
    shown = np.array(chosen, dtype=np.int64)
    rng.shuffle(shown)
    return Draw(shown, int(np.count_nonzero(seen[shown] >= 0)))


# --- judging a round ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One figure of a round against its threshold."""

    name: str
    label: str
    value: float
    threshold: float
    direction: Literal["at least", "at most"]
    met: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "threshold": self.threshold,
            "direction": self.direction,
            "met": self.met,
        }


@dataclass(frozen=True)
class Judgement:
    """A qualification round judged against the standard.

    Attributes
    ----------
    figures : tuple of Figure
        Exact agreement, adjacent agreement, non-adjacent scores and decision agreement, each
        against its threshold.
    passed : bool
        Every figure met.
    gaps : int array of shape (anchors, criteria)
        The assessor's score minus the experts'.
    decisions : bool array of shape (anchors,)
        Whether the assessor's pass decision matched the experts' on each anchor.
    """

    figures: tuple[Figure, ...]
    passed: bool
    gaps: IntArray
    decisions: NDArray[np.bool_]


def judge_round(
    scores: ArrayLike, expert: ArrayLike, rubric: Rubric, standard: QualificationStandard
) -> Judgement:
    """Judge one round: agreement with the experts (:func:`calibrate.rules.round_agreement`)
    against the qualification standard; a figure exactly at its threshold meets it.

    Examples
    --------
    >>> from calibrate.rubric import rubric_from_data
    >>> from calibrate.rules import rules_for
    >>> rubric = rubric_from_data({"id": "r", "version": 1, "title": "R", "competency": "C",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in (1, 2, 3)],
    ...     "criteria": [{"id": c, "title": c, "descriptors": {1: "a", 2: "b", 3: "c"}}
    ...                  for c in ("a", "b")],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="r.yaml")
    >>> std = rules_for(rubric).qualification
    >>> got = judge_round([[3, 3], [3, 2], [1, 1]], [[3, 3], [3, 3], [1, 1]], rubric, std)
    >>> got.passed, [f.met for f in got.figures]
    (False, [True, True, True, False])
    """
    s = np.asarray(scores, dtype=np.int64)
    e = np.asarray(expert, dtype=np.int64)
    agreement = round_agreement(s[None], e, rubric)
    exact = float(agreement.exact[0])
    adjacent = float(agreement.adjacent[0])
    non_adjacent = float(agreement.non_adjacent[0])
    decision = float(agreement.decision[0])
    figures = (
        Figure(
            "exact",
            "criterion scores equal to the experts'",
            exact,
            standard.min_exact,
            "at least",
            bool(standard.passes(exact=exact, adjacent=1, non_adjacent=0, decision=1)),
        ),
        Figure(
            "adjacent",
            "criterion scores within one level of the experts'",
            adjacent,
            standard.min_adjacent,
            "at least",
            bool(standard.passes(exact=1, adjacent=adjacent, non_adjacent=0, decision=1)),
        ),
        Figure(
            "non_adjacent",
            "criterion scores more than one level from the experts'",
            non_adjacent,
            standard.max_non_adjacent,
            "at most",
            bool(standard.passes(exact=1, adjacent=1, non_adjacent=non_adjacent, decision=1)),
        ),
        Figure(
            "decision",
            "anchors with the experts' pass decision",
            decision,
            standard.min_decision,
            "at least",
            bool(standard.passes(exact=1, adjacent=1, non_adjacent=0, decision=decision)),
        ),
    )
    return Judgement(
        figures=figures,
        passed=all(f.met for f in figures),
        gaps=s - e,
        decisions=rubric.passes(s) == rubric.passes(e),
    )


# --- final scores of a submission --------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    """Final scores of a submission and the rule that gave them."""

    scores: IntArray
    passed: bool
    rule: str


def round_half_up(x: ArrayLike) -> IntArray:
    """Round to the nearest level, halves up (2.5 -> 3): the rule stated for means of two
    readings.

    >>> round_half_up([2.5, 1.5, 2.0, 2.25, 0.49999999999999994]).tolist()
    [3, 2, 2, 2, 0]
    """
    v = np.asarray(x, dtype=float)
    whole = np.floor(v)
    up: IntArray = (whole + (v - whole >= 0.5)).astype(np.int64)  # not floor(v + 0.5): 0.49999...
    return up


def resolve_readings(
    readings: ArrayLike, rubric: Rubric, rule: AdjudicationRule
) -> Resolution | None:
    """Final scores from the independent readings of a submission, or None when two readings
    are discrepant (they go to a third reader, :func:`resolve_adjudication`).

    One reading stands. Two readings that agree (:meth:`AdjudicationRule.needs_third_reader`
    false) resolve to the first reading, the score of record, as NAEP does [2]_; the second
    measures agreement. Both share the pass decision, which is therefore the first reading's.

    >>> from calibrate.rubric import rubric_from_data
    >>> from calibrate.rules import rules_for
    >>> rubric = rubric_from_data({"id": "r", "version": 1, "title": "R", "competency": "C",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in (1, 2, 3)],
    ...     "criteria": [{"id": c, "title": c, "descriptors": {1: "a", 2: "b", 3: "c"}}
    ...                  for c in ("a", "b")],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="r.yaml")
    >>> resolve_readings([[3, 2], [2, 2]], rubric, rules_for(rubric).adjudication).rule
    'first reading (the pair agrees)'
    >>> resolve_readings([[3, 3], [2, 3]], rubric, rules_for(rubric).adjudication) is None
    True
    """
    r = np.asarray(readings, dtype=np.int64)
    if r.ndim != 2 or r.shape[0] not in (1, 2) or r.shape[1] != len(rubric.criteria):
        raise CalibrateError(f"readings must have shape (1 or 2, {len(rubric.criteria)})")
    passed = rubric.passes(r)
    if r.shape[0] == 2:
        if rule.needs_third_reader(r[:1], r[1:], passed[:1], passed[1:])[0]:
            return None
        return Resolution(r[0], bool(passed[0]), "first reading (the pair agrees)")
    return Resolution(r[0], bool(passed[0]), "single reading")


def resolve_adjudication(
    first: ArrayLike,
    second: ArrayLike,
    third: ArrayLike,
    rubric: Rubric,
    rule: AdjudicationRule,
) -> Resolution:
    """Final scores of a discrepant pair after a third reading: the third reading replaces both
    (``adjudication.third_reader_replaces``), or per criterion the mean of the two closest of
    the three readings, rounded half up (:func:`round_half_up`); of two equally close pairs, the
    one that includes the third reading, and when the third reading lies midway between the
    other two (both pairs include it), the third reading itself, so that the order of the first
    two readings never matters. The pass decision follows the rubric's pass rule on the final
    scores.

    >>> from calibrate.rubric import rubric_from_data
    >>> from calibrate.rules import rules_for
    >>> rubric = rubric_from_data({"id": "r", "version": 1, "title": "R", "competency": "C",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in (1, 2, 3, 4)],
    ...     "criteria": [{"id": c, "title": c, "descriptors": {1: "a", 2: "b", 3: "c", 4: "d"}}
    ...                  for c in ("a", "b")],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="r.yaml")
    >>> mean = rules_for(rubric, overrides={"adjudication.third_reader_replaces": False})
    >>> resolve_adjudication([1, 4], [4, 3], [3, 2], rubric, mean.adjudication).scores.tolist()
    [4, 3]
    """
    readings = np.stack([np.asarray(x, dtype=np.int64) for x in (first, second, third)])
    if readings.shape[1] != len(rubric.criteria):
        raise CalibrateError(f"a reading has {len(rubric.criteria)} criterion scores")
    if rule.third_reader_replaces:
        final = readings[2]
        how = "third reading replaces both"
    else:
        # pairs (third, first), (third, second), (first, second): ties keep the first listed
        pairs = ((2, 0), (2, 1), (0, 1))
        gaps = np.stack([np.abs(readings[a] - readings[b]) for a, b in pairs])
        best = np.argmin(gaps, axis=0)
        means = np.array(
            [(readings[pairs[k][0], j] + readings[pairs[k][1], j]) / 2 for j, k in enumerate(best)]
        )
        midway = (gaps[0] == gaps[1]) & (gaps[0] <= gaps[2])
        final = np.where(midway, readings[2], round_half_up(means))
        how = "mean of the two closest readings, halves rounded up"
    return Resolution(final, bool(rubric.passes(final[None])[0]), how)


def missed(scores: ArrayLike, expert: ArrayLike, rubric: Rubric, rule: AdjudicationRule) -> bool:
    """Whether a reading of a validity anchor misses the experts' scores: it would send a pair
    of readings to a third reader (a criterion further than ``adjudication.max_gap`` levels
    away, or, with ``adjudication.on_decision``, another pass decision).

    >>> from calibrate.rubric import rubric_from_data
    >>> from calibrate.rules import rules_for
    >>> rubric = rubric_from_data({"id": "r", "version": 1, "title": "R", "competency": "C",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in (1, 2, 3)],
    ...     "criteria": [{"id": "a", "title": "a", "descriptors": {1: "x", 2: "y", 3: "z"}}],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="r.yaml")
    >>> rule = rules_for(rubric).adjudication
    >>> missed([2], [2], rubric, rule), missed([3], [2], rubric, rule)
    (False, True)
    """
    s = np.asarray(scores, dtype=np.int64)[None]
    e = np.asarray(expert, dtype=np.int64)[None]
    return bool(rule.needs_third_reader(s, e, rubric.passes(s), rubric.passes(e))[0])
