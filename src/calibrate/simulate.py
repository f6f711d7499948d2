"""Simulated micro-credential programmes with known truth.

:func:`simulate_programme` plays a whole programme for the given rubrics and anchor sets: a pool of
assessors with planted rater effects practises on anchors and takes qualification rounds (with
retakes), earners submit and resubmit until they earn the credential, stop or run out of attempts,
qualified assessors score the live work (a share double-scored) with validity anchors seeded into
their queues. Every rating comes from a many-facet Rasch model whose parameters are kept as the
ground truth, so statistics and flags can be tested against what was planted.

Notes
-----
Ratings follow the rating-scale many-facet Rasch model (Linacre 1989, Eq. 1; Andrich 1978). A
reading of criterion :math:`i` of submission :math:`n` by assessor :math:`j` falls in category
:math:`k = 0, \\dots, K-1` (score ``k + lowest level``) with

.. math::

    P(X = k) \\propto \\exp \\sum_{h=1}^{k} (\\eta_{nij} - \\lambda_j \\tau_h), \\qquad
    \\eta_{nij} = \\theta_n - \\delta_i + \\tau_p - \\alpha_j(t) - \\beta_{ij} + \\varepsilon_{nij}

- :math:`\\tau_h = s\\,(h - K/2)`: equally spaced thresholds, ``threshold_step`` :math:`s` logits
  apart and centred on the scale.
- :math:`\\theta_n`: the submission's quality, measured from the pass boundary: :math:`\\tau_p` is
  the threshold into the pass level :math:`p` of the rubric's pass rule, so a submission with
  :math:`\\theta_n = 0` sits on the boundary of the pass level on a criterion of average
  difficulty whatever the scale. :math:`\\theta_n = \\theta_e + g_e\\,(a - 1) + u_n`: the earner's
  ability, their growth per resubmission times the attempt number less one, and a submission
  deviation :math:`u_n \\sim N(0, \\sigma_u)`.
- :math:`\\delta_i \\sim N(0, \\sigma_\\delta)`: criterion difficulty (centred per rubric).
- Anchors replace :math:`\\theta_n - \\delta_i + \\tau_p` by the centre of the expert's category,
  :math:`s\\,(k - (K-1)/2)`, where a well-calibrated assessor most often agrees with the experts.

Planted effects (one per assessor; sizes in :class:`EffectSizes`) modify the model as follows:

================  ======================================================================
calibrated        :math:`\\alpha_j \\sim N(0, \\text{base\\_sd})`, nothing else
severe / lenient  :math:`\\alpha_j` plus / minus ``severity`` logits
inconsistent      :math:`\\varepsilon_{nij} \\sim N(0, \\text{noise\\_sd})` (zero for others)
central           :math:`\\lambda_j` = ``spread`` > 1: thresholds stretched about the scale
                  centre, so the middle levels take more of the continuum
halo              scores of one reading pulled toward their mean across criteria,
                  :math:`x' = \\lfloor \\bar x + (1 - h)(x - \\bar x) + U \\rfloor` with one
                  :math:`U \\sim U(0, 1)` per reading (unbiased rounding shared by the criteria,
                  so the pull neither shifts the mean nor leaves ties split), ``halo`` :math:`h`
drift             :math:`\\alpha_j(t) = \\alpha_j \\pm` ``drift`` for :math:`t` from the drift date
                  (sign at random, date uniform in the middle 40% of the live window)
differential      :math:`\\beta_{ij}` = ``differential`` logits on one criterion, 0 on the others
================  ======================================================================

All assessors have :math:`\\lambda_j = 1`, :math:`\\beta_{ij} = 0` and :math:`\\varepsilon = 0`
unless their effect says otherwise. Each assessor scores one rubric (credential).

The programme follows the programme rules (:mod:`calibrate.rules`), resolved per rubric with
the overrides in :attr:`SimulationConfig.rules`: the qualification standard (by default NAEP's
exact agreement for the rubric's scale, 80% on 3 levels and 70% on 4, with 95% adjacent
agreement, no score more than one level off and 90% agreement on the pass decisions of the
anchors, :meth:`~calibrate.rules.QualificationStandard.passes`) and the rounds allowed, practice
before each round, the double-scoring share, the validity seeding rate, the attempts allowed
and a different first reader for a resubmission. Rules the simulation does not model:
adjudication (the first reader decides; discrepant pairs are not sent to a third reader), the
assignment timeout, coaching after three attempts, and the qualification period and validity
(the whole calibration window lies within one period). A qualification round holds
``qualification.anchors`` anchors drawn as the workflow draws them
(:func:`calibrate.workflow.draw_round`: unseen first, spread across levels and decisions).

Timeline: calibration takes 14 days per allowed qualification round (practice, then the
qualification round a few days later; a failed round is retaken after new practice). Live work
starts after that window; first attempts arrive in the first ``first_window`` of the live window;
the first reader scores within a week and their scores decide the attempt (the second reading
serves agreement monitoring, as NAEP second scoring does); after "Not yet" the earner resubmits
with probability ``persistence`` after a gamma-distributed revision time, to a first reader
other than the previous attempt's when the rubric has more than one qualified assessor.
Attempts that would arrive less than 10 days before the end are not made ("out of time").

Calibration of the defaults. Human-human agreement is set to the range operational scoring of
short rubric scales reports, with the planted effects on top (a minority: 3% of the pool each,
at least one assessor per effect, 21% in all). The published figures used:

- NAEP 2015 reading, constructed-response items used in scaling, percentage of exact agreement
  between first and second scorers [5]: items on 3 levels 78% to 95% (grade 4) and 74% to 98%
  (grade 12); on 4 levels 73% to 91% (grade 4) and 70% to 88% (grade 12). NAEP's within-year
  targets are 80% exact on 3 levels and 75% on 4-5 (the programme rules' sources).
- Quadratic weighted kappa between two human readers of at least .70, exact agreement not below
  50% and adjacent agreement not below 95% [6] (the thresholds ETS's RSMTool flags).
- Krippendorff's alpha of at least .667 for tentative and .800 for firm conclusions [7].

In the model a reading falls on the level of :math:`\\eta` plus the unit-scale logistic noise of
the Rasch model (SD about 1.8 logits), whatever the step, so agreement that high needs levels
wide against that noise and submissions spread across levels: ``threshold_step`` 10 logits (a
level), ``ability_sd`` 5, ``submission_sd`` 2, ``difficulty_sd`` 1.5 and ``base_sd`` 0.75
(severity SD of the well-calibrated). The planted sizes are half a level: ``severity``,
``drift`` and ``differential`` 5 logits, ``noise_sd`` 5 logits. ``ability_mean`` -5 and
``growth`` 4 logits then give the pilot's share of credentials earned on the first attempt, 18
of 132 (13.6%) in the Washington pilot [4].

Measured with the ``pilot`` preset on the demo rubrics (``rubrics/``: one 3-level rubric passed
at the top level, two 4-level ones passed at level 3, 5-6 criteria, conjunctive), by
``PYTHONPATH=src python benchmarks/simulator_calibration.py --seeds 0 60`` (and ``60 120``):
live submissions double-scored by two well-calibrated assessors, first reading against second,
mean (range over seeds 0-59) per rubric:

============  ===============  ========  ==============  ===============  ==============
rubric        exact            adjacent  QWK             alpha (ordinal)  G (all pairs)
============  ===============  ========  ==============  ===============  ==============
crsel-intro   .811 (.77-.87)   1.000     .770 (.69-.85)  .767 (.68-.85)   .941
ct-unplugged  .784 (.70-.84)   1.000     .765 (.65-.84)  .764 (.64-.85)   .943
inquiry-lead  .792 (.74-.84)   1.000     .781 (.73-.87)  .781 (.72-.87)   .959
============  ===============  ========  ==============  ===============  ==============

(seeds 60-119: exact .807, .785, .788; QWK .766, .769, .779). 13.6% of earned credentials
were earned on the first attempt on seeds 0-59 (2,565 of 18,820; 13.4% on seeds 60-119).
Qualification: 87% of first rounds pass (30% of second, 22% of third rounds); all the
well-calibrated and drifting assessors qualify (drift comes later), 82% of the differential,
67% of the central, 58% of the inconsistent, 57% of the lenient, 43% of the halo and 13% of
the severe ones. The G coefficient is of all double-scored live work
(:func:`calibrate.stats.gtheory.gstudy`, planted assessors included); QWK is Cohen's quadratic
weighted kappa and alpha is over assessors, both by :func:`calibrate.stats.agreement.summarize`.

References
----------
.. [1] Linacre, J. M. (1989). *Many-facet Rasch measurement*. MESA Press.
.. [2] Andrich, D. (1978). A rating formulation for ordered response categories.
   *Psychometrika*, 43(4), 561-573.
.. [3] Myford, C. M., & Wolfe, E. W. (2003, 2004). Detecting and measuring rater effects using
   many-facet Rasch measurement, parts I and II. *Journal of Applied Measurement*, 4(4), 386-422;
   5(2), 189-227.
.. [4] Washington Professional Educator Standards Board. *The potential of micro-credentials in
   Washington State* (report on the 2016-2019 pilots): in pilot three, 132 micro-credentials
   earned, 18 on the first attempt, 114 on the second through fifth.
.. [5] National Center for Education Statistics. *NAEP Technical Documentation*: score range and
   percentage of exact agreement for the constructed-response items used in scaling, grade 4
   and grade 12 reading assessments, by item and block: 2015 (tables under "Constructed-Response
   Interrater Reliability").
.. [6] Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and use of
   automated scoring. *Educational Measurement: Issues and Practice*, 31(1), 2-13.
.. [7] Krippendorff, K. (2004). *Content analysis: An introduction to its methodology* (2nd ed.),
   section 11.4. Sage.

Examples
--------
The classroom preset on the demo rubrics and anchor sets of this repository:

>>> root = Path(__file__).resolve().parents[2]
>>> rubrics = load_rubrics(root / "rubrics")
>>> sets = load_anchor_sets(root / "anchor_sets", {(r.id, r.version): r for r in rubrics})
>>> programme = simulate_programme(rubrics, sets, size="classroom", seed=7)
>>> len(programme.truth.assessors), len(programme.truth.earners)
(15, 40)
>>> sorted({a.effect for a in programme.truth.assessors})  # doctest: +NORMALIZE_WHITESPACE
['calibrated', 'central', 'differential', 'drift', 'halo', 'inconsistent', 'lenient',
 'severe']
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import NDArray

from calibrate.anchors import AnchorSet, load_anchor_sets
from calibrate.errors import CalibrateError
from calibrate.ratings import CONTEXTS, Context
from calibrate.rubric import Rubric, load_rubrics
from calibrate.rules import ProgrammeRules, RoundAgreement, RuleOverrides, round_agreement
from calibrate.workflow import draw_round

SizeName = Literal["classroom", "pilot", "state"]
Effect = Literal[
    "calibrated", "severe", "lenient", "inconsistent", "central", "halo", "drift", "differential"
]
EFFECTS: tuple[Effect, ...] = get_args(Effect)
Outcome = Literal["earned", "stopped", "attempts used", "out of time"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
COLUMNS = (
    "submission",
    "assessor",
    "criterion",
    "score",
    "timestamp",
    "attempt",
    "rubric",
    "context",
    "earner",
    "round",
)
Progress = Callable[[int, int, str], None]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFAULT_START = date(2025, 9, 1)
DAYS_PER_MONTH = 365.25 / 12
ROUND_DAYS = 14.0  # calibration days per allowed qualification round
ANCHOR_MINUTES = 20.0  # time an assessor spends on one anchor
CLOSING_DAYS = 10.0  # last days of the programme: no new submissions, scoring only
PROBE_EARNERS = 2000  # earners of the trial run that sizes a programme for a ratings target
CSV_CHUNK = 100_000  # rows converted to text at a time when writing

_CTX = {name: code for code, name in enumerate(CONTEXTS)}


@dataclass(frozen=True)
class EffectSizes:
    """Sizes of the planted rater effects (the model is in the module Notes).

    Attributes
    ----------
    severity : float
        Logits added to a severe assessor's severity, subtracted for a lenient one.
    noise_sd : float
        SD (logits) of the normal noise added to every reading location of an inconsistent
        assessor.
    spread : float
        Factor (> 1) stretching a central-tendency assessor's thresholds about the scale centre.
    halo : float
        Share (0 to 1) of each score's deviation from the reading's mean across criteria that a
        halo assessor removes (score points; 1 gives every criterion the reading's mean, rounded
        up or down at random in proportion).
    drift : float
        Size (logits) of a drifting assessor's severity change from the drift date; the sign is
        drawn at random and kept in the truth.
    differential : float
        Logits added to a differential assessor's severity on one criterion of their rubric.
    base_sd : float
        SD (logits) of every assessor's own severity: the spread among well-calibrated ones.
    """

    severity: float = 5.0
    noise_sd: float = 5.0
    spread: float = 1.75
    halo: float = 0.8
    drift: float = 5.0
    differential: float = 5.0
    base_sd: float = 0.75


DEFAULT_SHARES: dict[Effect, float] = {effect: 0.03 for effect in EFFECTS[1:]}


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of the simulated programme (defaults reproduce the pilot attempt pattern).

    Attributes
    ----------
    effects : EffectSizes
        Sizes of the planted rater effects.
    effect_shares : mapping of effect -> float
        Share of the assessor pool given each effect (every effect with a positive share gets at
        least one assessor); the rest are well-calibrated. Effects not named get none.
    rules : RuleOverrides
        Departures from the programme rules (:mod:`calibrate.rules`), which the simulated
        programme follows per rubric: the qualification standard and rounds allowed, practice,
        the double-scoring share, the validity seeding rate, the attempts allowed and whether a
        resubmission goes to another assessor.
    threshold_step : float
        Logits between adjacent thresholds of the rating scale.
    difficulty_sd : float
        SD (logits) of criterion difficulties within a rubric.
    ability_mean, ability_sd : float
        Earner abilities (logits from the pass boundary), normal.
    growth, growth_sd : float
        Mean and SD (logits) of an earner's gain per resubmission (negative draws become 0).
    submission_sd : float
        SD (logits) of a submission's quality about the earner's level at that attempt.
    persistence : float
        Probability that an earner resubmits after "Not yet".
    resubmission_days : float
        Mean days between feedback and resubmission (gamma, shape 2).
    credentials_per_earner : tuple of float
        Probabilities that an earner pursues 1, 2, ... credentials (capped at the rubric count).
    first_window : float
        Share of the live window in which first attempts arrive (uniformly).
    """

    effects: EffectSizes = EffectSizes()
    effect_shares: Mapping[Effect, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    rules: RuleOverrides = field(default_factory=RuleOverrides)
    threshold_step: float = 10.0
    difficulty_sd: float = 1.5
    ability_mean: float = -5.0
    ability_sd: float = 5.0
    growth: float = 4.0
    growth_sd: float = 1.5
    submission_sd: float = 2.0
    persistence: float = 0.85
    resubmission_days: float = 21.0
    credentials_per_earner: tuple[float, ...] = (0.8, 0.15, 0.05)
    first_window: float = 0.6


@dataclass(frozen=True)
class ProgrammeSize:
    """Numbers of assessors and earners of a simulated programme."""

    assessors: int
    earners: int


PRESETS: dict[SizeName, ProgrammeSize] = {
    "classroom": ProgrammeSize(assessors=15, earners=40),
    "pilot": ProgrammeSize(assessors=40, earners=400),
    "state": ProgrammeSize(assessors=1500, earners=44_000),
}


@dataclass(frozen=True)
class RoundResult:
    """One qualification round of an assessor.

    Attributes
    ----------
    round : str
        Round id as in the ratings (``A0007-qual-2``).
    number : int
        1 for the first round, 2 for the first retake, ...
    timestamp : datetime
        When the round was taken (UTC, first anchor).
    exact, adjacent : float
        Shares of criterion scores equal to / within one level of the expert scores.
    non_adjacent : int
        Criterion scores more than one level from the expert scores.
    decision : float
        Share of anchors on which the assessor's pass decision matches the experts'.
    passed : bool
        Whether the round met the rubric's qualification standard
        (:attr:`calibrate.rules.ProgrammeRules.qualification`).
    """

    round: str
    number: int
    timestamp: datetime
    exact: float
    adjacent: float
    non_adjacent: int
    decision: float
    passed: bool


@dataclass(frozen=True)
class AssessorTruth:
    """The planted truth about one assessor (parameters in logits unless stated).

    Attributes
    ----------
    id, rubric : str
        Assessor id and the rubric key (``id@version``) they score.
    effect : Effect
        The planted effect.
    severity : float
        :math:`\\alpha_j` before any drift (positive = severe).
    noise_sd, spread, halo : float
        Extra noise SD (0 unless inconsistent), threshold stretch (1 unless central) and halo
        share (0 unless halo, score points).
    drift_date : datetime or None
        When a drifting assessor's severity changes (UTC).
    drift_shift : float
        The change in severity from ``drift_date`` (0 unless drift).
    differential_criterion : str or None
        The criterion a differential assessor is severe on.
    differential_shift : float
        Severity added on that criterion (0 unless differential).
    rounds : tuple of RoundResult
        Qualification rounds taken, in order.
    """

    id: str
    rubric: str
    effect: Effect
    severity: float
    noise_sd: float
    spread: float
    halo: float
    drift_date: datetime | None
    drift_shift: float
    differential_criterion: str | None
    differential_shift: float
    rounds: tuple[RoundResult, ...]

    @property
    def qualified(self) -> bool:
        """Whether any qualification round was passed (only then does the assessor score live)."""
        return any(r.passed for r in self.rounds)


@dataclass(frozen=True)
class RubricTruth:
    """The rating-scale parameters behind one rubric's ratings.

    Attributes
    ----------
    rubric : str
        ``id@version``.
    thresholds : tuple of float
        :math:`\\tau_1 \\dots \\tau_{K-1}` (logits).
    pass_level : int
        The level score whose lower threshold is the pass boundary (:math:`\\theta = 0`).
    difficulty : dict of str -> float
        Criterion difficulties :math:`\\delta_i`.
    """

    rubric: str
    thresholds: tuple[float, ...]
    pass_level: int
    difficulty: dict[str, float]


@dataclass(frozen=True, eq=False)
class SubmissionTruth:
    """Every live submission (one row per attempt), arrays of shape (n_submissions,).

    Attributes
    ----------
    id : tuple of str
        Submission ids as in the ratings.
    earner, rubric : int arrays
        Codes into :attr:`Truth.earners` and :attr:`Truth.rubrics`.
    attempt : int array
        1 for the first attempt.
    quality : float array
        :math:`\\theta_n` (logits from the pass boundary).
    submitted : datetime64[s] array
        When the attempt was submitted (UTC).
    first_reader, second_reader : int arrays
        Codes into :attr:`Truth.assessors`; ``second_reader`` is -1 when not double-scored.
    passed : bool array
        The decision (from the first reader's scores).
    """

    id: tuple[str, ...]
    earner: IntArray
    rubric: IntArray
    attempt: IntArray
    quality: FloatArray
    submitted: NDArray[np.datetime64]
    first_reader: IntArray
    second_reader: IntArray
    passed: BoolArray


@dataclass(frozen=True, eq=False)
class CredentialTruth:
    """Every credential pursued (one earner x one rubric), arrays of shape (n_credentials,).

    Attributes
    ----------
    earner, rubric : int arrays
        Codes into :attr:`Truth.earners` and :attr:`Truth.rubrics`.
    attempts : int array
        Attempts submitted.
    outcome : int array
        Codes into :data:`OUTCOMES`: earned; stopped after "Not yet"; attempts used up; out of time.
    """

    earner: IntArray
    rubric: IntArray
    attempts: IntArray
    outcome: IntArray


@dataclass(frozen=True, eq=False)
class Truth:
    """Everything planted or decided in a simulated programme.

    Attributes
    ----------
    assessors : tuple of AssessorTruth
        In id order (codes of :attr:`SubmissionTruth.first_reader`).
    rubrics : tuple of RubricTruth
        In the order given to :func:`simulate_programme`.
    earners : tuple of str
        Earner ids.
    ability, growth : float arrays, shape (n_earners,)
        :math:`\\theta_e` and :math:`g_e` (logits).
    submissions : SubmissionTruth
    credentials : CredentialTruth
    """

    assessors: tuple[AssessorTruth, ...]
    rubrics: tuple[RubricTruth, ...]
    earners: tuple[str, ...]
    ability: FloatArray
    growth: FloatArray
    submissions: SubmissionTruth
    credentials: CredentialTruth

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: records for assessors and rubrics, columns for the arrays."""
        subs, creds = self.submissions, self.credentials
        reader = np.asarray([""] + [a.id for a in self.assessors], dtype=object)
        rubric = np.asarray([r.rubric for r in self.rubrics], dtype=object)
        earner = np.asarray(self.earners, dtype=object)
        return {
            "assessors": [_assessor_dict(a) for a in self.assessors],
            "rubrics": [
                {
                    "rubric": r.rubric,
                    "thresholds": [round(t, 4) for t in r.thresholds],
                    "pass_level": r.pass_level,
                    "difficulty": {k: round(v, 4) for k, v in r.difficulty.items()},
                }
                for r in self.rubrics
            ],
            "earners": {
                "earner": list(self.earners),
                "ability": np.round(self.ability, 4).tolist(),
                "growth": np.round(self.growth, 4).tolist(),
            },
            "submissions": {
                "submission": list(subs.id),
                "earner": earner[subs.earner].tolist(),
                "rubric": rubric[subs.rubric].tolist(),
                "attempt": subs.attempt.tolist(),
                "quality": np.round(subs.quality, 4).tolist(),
                "submitted": _iso(subs.submitted).tolist(),
                "first_reader": reader[subs.first_reader + 1].tolist(),
                "second_reader": reader[subs.second_reader + 1].tolist(),
                "passed": subs.passed.tolist(),
            },
            "credentials": {
                "earner": earner[creds.earner].tolist(),
                "rubric": rubric[creds.rubric].tolist(),
                "attempts": creds.attempts.tolist(),
                "outcome": np.asarray(OUTCOMES, dtype=object)[creds.outcome].tolist(),
            },
        }


def _assessor_dict(a: AssessorTruth) -> dict[str, Any]:
    return {
        "assessor": a.id,
        "rubric": a.rubric,
        "effect": a.effect,
        "severity": round(a.severity, 4),
        "noise_sd": a.noise_sd,
        "spread": a.spread,
        "halo": a.halo,
        "drift_date": _iso_one(a.drift_date) if a.drift_date else None,
        "drift_shift": a.drift_shift,
        "differential_criterion": a.differential_criterion,
        "differential_shift": a.differential_shift,
        "qualified": a.qualified,
        "rounds": [
            {
                "round": r.round,
                "timestamp": _iso_one(r.timestamp),
                "exact": round(r.exact, 4),
                "adjacent": round(r.adjacent, 4),
                "non_adjacent": r.non_adjacent,
                "decision": round(r.decision, 4),
                "passed": r.passed,
            }
            for r in a.rounds
        ],
    }


@dataclass(frozen=True)
class ProgrammeSummary:
    """Sizes and outcomes of a simulated programme.

    Attributes
    ----------
    seed : int
    size : str
        Preset name, ``"<n> ratings"`` target, or ``"<a> assessors, <e> earners"``.
    start, end : str
        The programme's span (UTC ISO 8601).
    ratings : int
    ratings_by_context : dict of str -> int
    assessors, qualified : int
        Pool size and assessors who passed a qualification round.
    assessors_by_effect : dict of str -> int
    qualification_pass_rate : dict of int -> float
        Per round number: passed / taken.
    earners, credentials, submissions : int
        Earners, credentials pursued, live submissions (all attempts).
    double_scored : float
        Share of live submissions read twice.
    earned : int
    earned_by_attempt : dict of int -> int
        Earned credentials by the attempt that earned them.
    first_attempt_share : float
        Share of earned credentials earned on the first attempt (NaN if none was earned).
    outcomes : dict of str -> int
        Credentials by outcome.
    """

    seed: int
    size: str
    start: str
    end: str
    ratings: int
    ratings_by_context: dict[str, int]
    assessors: int
    qualified: int
    assessors_by_effect: dict[str, int]
    qualification_pass_rate: dict[int, float]
    earners: int
    credentials: int
    submissions: int
    double_scored: float
    earned: int
    earned_by_attempt: dict[int, int]
    first_attempt_share: float
    outcomes: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data (field names as keys)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def __str__(self) -> str:
        ctx = ", ".join(f"{k} {v}" for k, v in self.ratings_by_context.items())
        eff = ", ".join(f"{k} {v}" for k, v in self.assessors_by_effect.items())
        qual = ", ".join(f"round {k} {v:.0%}" for k, v in self.qualification_pass_rate.items())
        by_attempt = ", ".join(f"{k}: {v}" for k, v in self.earned_by_attempt.items())
        outcomes = ", ".join(f"{k} {v}" for k, v in self.outcomes.items())
        return "\n".join(
            [
                f"simulated programme ({self.size}, seed {self.seed}), {self.start} to {self.end}",
                f"ratings: {self.ratings} ({ctx})",
                f"assessors: {self.assessors} ({eff}); qualified {self.qualified}",
                f"qualification pass rate: {qual}",
                f"earners: {self.earners}; credentials pursued {self.credentials}; "
                f"submissions {self.submissions} ({self.double_scored:.0%} double-scored)",
                f"earned: {self.earned} by attempt ({by_attempt}); "
                f"first attempt {self.first_attempt_share:.1%}",
                f"outcomes: {outcomes}",
            ]
        )


@dataclass(frozen=True, eq=False)
class Programme:
    """A simulated programme: ratings in the long import format, sorted by time, and the truth.

    The ratings are parallel arrays of shape (n,), string columns coded as int64 indices into
    label tuples (``""`` marks an empty cell: the earner and round of anchor and live ratings).

    Attributes
    ----------
    submission, assessor, criterion, rubric, earner, round : int arrays
        Codes into :attr:`submissions`, :attr:`assessors`, :attr:`criteria`, :attr:`rubrics`,
        :attr:`earners`, :attr:`rounds`. Anchor ratings hold the anchor id as submission.
    score : int array
        Level scores.
    timestamp : datetime64[s] array
        UTC, non-decreasing.
    attempt : int array
        Attempt number of live ratings, 0 (empty cell) for anchors.
    context : int array
        Codes into :data:`calibrate.ratings.CONTEXTS`.
    submissions, assessors, criteria, rubrics, earners, rounds : tuple of str
        Labels. ``assessors`` is in id order, as :attr:`Truth.assessors`.
    truth : Truth
    summary_size : str
        How the size was asked for (for :meth:`summary`).
    seed : int
    start, end : datetime
        The programme's span (naive, UTC).
    config : SimulationConfig
    rules : tuple of ProgrammeRules
        The programme rules each rubric was simulated under, in the order of :attr:`rubrics`.
    """

    submission: IntArray
    assessor: IntArray
    criterion: IntArray
    score: IntArray
    timestamp: NDArray[np.datetime64]
    attempt: IntArray
    rubric: IntArray
    context: IntArray
    earner: IntArray
    round: IntArray
    submissions: tuple[str, ...]
    assessors: tuple[str, ...]
    criteria: tuple[str, ...]
    rubrics: tuple[str, ...]
    earners: tuple[str, ...]
    rounds: tuple[str, ...]
    truth: Truth
    summary_size: str
    seed: int
    start: datetime
    end: datetime
    config: SimulationConfig
    rules: tuple[ProgrammeRules, ...]

    def __len__(self) -> int:
        return len(self.score)

    def column(self, name: str) -> NDArray[np.object_]:
        """One column of the import format as text, shape (n,) (see :data:`COLUMNS`)."""
        return self._text(name, slice(None))

    def _text(self, name: str, rows: slice) -> NDArray[np.object_]:
        coded = {
            "submission": (self.submission, self.submissions),
            "assessor": (self.assessor, self.assessors),
            "criterion": (self.criterion, self.criteria),
            "rubric": (self.rubric, self.rubrics),
            "context": (self.context, CONTEXTS),
            "earner": (self.earner, self.earners),
            "round": (self.round, self.rounds),
        }
        if name in coded:
            codes, labels = coded[name]
            text: NDArray[np.object_] = np.asarray(labels, dtype=object)[codes[rows]]
            return text
        if name == "score":
            return _int_text(self.score[rows])
        if name == "attempt":
            return _int_text(self.attempt[rows], zero="")
        if name == "timestamp":
            return _iso(self.timestamp[rows])
        raise KeyError(f"unknown column {name!r} (columns: {', '.join(COLUMNS)})")

    def write_csv(self, path: str | Path) -> None:
        """Write the ratings as a long import CSV (UTF-8, header, ``\\n`` line ends, by time)."""
        with Path(path).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(COLUMNS)
            for start in range(0, len(self), CSV_CHUNK):
                rows = slice(start, start + CSV_CHUNK)
                writer.writerows(zip(*(self._text(name, rows) for name in COLUMNS), strict=True))

    def write_truth(self, path: str | Path) -> None:
        """Write the truth (and the settings it was drawn with) as JSON."""
        payload = {
            "seed": self.seed,
            "size": self.summary_size,
            "start": _iso_one(self.start),
            "end": _iso_one(self.end),
            "config": _config_dict(self.config),
            "rules": {r.rubric: r.to_dict() for r in self.rules},
            **self.truth.to_dict(),
        }
        Path(path).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")

    def summary(self) -> ProgrammeSummary:
        """Sizes, the attempt distribution of earned credentials, qualification pass rates."""
        t = self.truth
        contexts = np.bincount(self.context, minlength=len(CONTEXTS))
        effects = [a.effect for a in t.assessors]
        rounds = [r for a in t.assessors for r in a.rounds]
        rates = {
            n: float(np.mean([r.passed for r in rounds if r.number == n]))
            for n in sorted({r.number for r in rounds})
        }
        creds = t.credentials
        earned = creds.outcome == OUTCOMES.index("earned")
        most = max(r.resubmission.max_attempts for r in self.rules)
        by_attempt = np.bincount(creds.attempts[earned], minlength=most + 1)
        n_earned = int(earned.sum())
        return ProgrammeSummary(
            seed=self.seed,
            size=self.summary_size,
            start=_iso_one(self.start),
            end=_iso_one(self.end),
            ratings=len(self),
            ratings_by_context={c: int(n) for c, n in zip(CONTEXTS, contexts, strict=True)},
            assessors=len(t.assessors),
            qualified=sum(a.qualified for a in t.assessors),
            assessors_by_effect={e: effects.count(e) for e in EFFECTS},
            qualification_pass_rate=rates,
            earners=len(t.earners),
            credentials=len(creds.outcome),
            submissions=len(t.submissions.id),
            double_scored=float(np.mean(t.submissions.second_reader >= 0))
            if len(t.submissions.id)
            else math.nan,
            earned=n_earned,
            earned_by_attempt={a: int(by_attempt[a]) for a in range(1, len(by_attempt))},
            first_attempt_share=float(by_attempt[1] / n_earned) if n_earned else math.nan,
            outcomes={
                o: int(n)
                for o, n in zip(
                    OUTCOMES, np.bincount(creds.outcome, minlength=len(OUTCOMES)), strict=True
                )
            },
        )


def simulate_programme(
    rubrics: Sequence[Rubric],
    anchor_sets: Sequence[AnchorSet],
    *,
    size: SizeName | int | ProgrammeSize = "classroom",
    seed: int = 0,
    start: date = DEFAULT_START,
    months: float = 15,
    config: SimulationConfig | None = None,
    progress: Progress | None = None,
) -> Programme:
    """Simulate a micro-credential programme with planted rater effects.

    Parameters
    ----------
    rubrics : sequence of Rubric
        The credentials; earners choose among them with weights 1, 1/2, 1/3, ... in this order
        (and assessors are shared out in the same proportion, at least 3 per rubric).
    anchor_sets : sequence of AnchorSet
        Anchors of these rubrics: every rubric needs qualification anchors; practice and validity
        anchors are used when present.
    size : {"classroom", "pilot", "state"}, int or ProgrammeSize
        A preset (:data:`PRESETS`; about 1.5 thousand, 10 thousand and 1 million ratings), a
        target number of ratings (met to within a few percent; the pool grows as the presets do),
        or explicit numbers of assessors and earners.
    seed : int
        Same seed, same arguments: identical programme.
    start : date
        First day (midnight UTC).
    months : float
        Length of the programme (calibration window included).
    config : SimulationConfig, optional
        Model parameters; defaults reproduce the pilot's attempt pattern.
    progress : callable, optional
        Called as ``progress(done, total, stage)`` after each stage.

    Returns
    -------
    Programme

    Raises
    ------
    CalibrateError
        A rubric without qualification anchors, an anchor set for a rubric not given, a pool too
        small for the planted effects, a span too short for calibration and live work, a ratings
        target too small for the pool's calibration, or no assessor qualifying for a rubric.
    """
    cfg = config or SimulationConfig()
    setup = _Setup.build(rubrics, anchor_sets, cfg, start, months)
    if isinstance(size, ProgrammeSize):
        counts, label = size, f"{size.assessors} assessors, {size.earners} earners"
    elif isinstance(size, str):
        name = preset_name(size)
        counts, label = PRESETS[name], name
    else:
        counts, label = _size_for_ratings(int(size), setup, seed), f"{int(size)} ratings"
    return _Run(setup, counts, seed, progress).programme(label)


def preset_name(name: str) -> SizeName:
    """``name`` as a preset name.

    Raises
    ------
    CalibrateError
        ``name`` is not a preset.
    """
    for preset in PRESETS:
        if preset == name:
            return preset
    raise CalibrateError(f"size must be one of {', '.join(PRESETS)} or a number of ratings")


def simulate_files(
    rubrics_dir: str | Path,
    anchors_dir: str | Path,
    out_dir: str | Path,
    *,
    size: str | int | ProgrammeSize = "classroom",
    seed: int = 0,
    progress: Progress | None = None,
) -> Programme:
    """Load rubrics and anchor sets, simulate, write ``ratings.csv`` and ``truth.json``.

    The use case behind ``calibrate simulate``; arguments as :func:`simulate_programme` (a
    preset name may come as any string, checked here).

    Raises
    ------
    CalibrateError
        No rubric found, invalid files (:class:`calibrate.errors.ValidationError`), or any reason
        of :func:`simulate_programme`.
    """
    rubrics = load_rubrics(rubrics_dir)
    if not rubrics:
        raise CalibrateError(f"no rubrics (*.yaml) found in {rubrics_dir}")
    sets = load_anchor_sets(anchors_dir, {(r.id, r.version): r for r in rubrics})
    wanted = preset_name(size) if isinstance(size, str) else size
    out = Path(out_dir)
    try:  # before the simulation: a bad folder fails at once
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CalibrateError(f"cannot write to {out}: {exc.strerror or exc}") from None
    programme = simulate_programme(rubrics, sets, size=wanted, seed=seed, progress=progress)
    programme.write_csv(out / "ratings.csv")
    programme.write_truth(out / "truth.json")
    return programme


# --- setup: rubric scales and anchors ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Scale:
    """One rubric's rating scale, anchors and criterion codes."""

    rubric: Rubric
    tau: FloatArray  # (K-1,) thresholds
    pass_level: int
    reference: float  # tau of the pass boundary, added to submission quality
    criterion_codes: IntArray  # (C,) codes into the criteria labels
    anchors: dict[str, tuple[IntArray, FloatArray, IntArray]]  # purpose -> codes, locs, experts


@dataclass(frozen=True)
class _Setup:
    rubrics: tuple[Rubric, ...]
    scales: tuple[_Scale, ...]
    submissions: tuple[str, ...]  # anchor ids (live ids are appended per run)
    criteria: tuple[str, ...]
    config: SimulationConfig
    rules: tuple[ProgrammeRules, ...]  # per scale
    start: datetime
    days: float  # programme length
    live_start: float  # first day of live work

    @staticmethod
    def build(
        rubrics: Sequence[Rubric],
        anchor_sets: Sequence[AnchorSet],
        cfg: SimulationConfig,
        start: date,
        months: float,
    ) -> _Setup:
        _check_config(cfg)
        if not rubrics:
            raise CalibrateError("simulation needs at least one rubric")
        keys = [r.key for r in rubrics]
        if len(set(keys)) != len(keys):
            raise CalibrateError("rubrics must be distinct (a rubric version is given twice)")
        for s in anchor_sets:
            if s.rubric_key not in keys:
                raise CalibrateError(
                    f"anchor set {s.id} is for {s.rubric_key}, which is not among the rubrics"
                )
        rules = tuple(cfg.rules.resolve(r) for r in rubrics)
        days = float(round(months * DAYS_PER_MONTH))
        live_start = ROUND_DAYS * max(r.qualification.max_rounds for r in rules)
        if days - CLOSING_DAYS - live_start < 30:
            raise CalibrateError(
                f"months must leave at least 30 days of live work after {live_start:.0f} days of "
                f"calibration and before the {CLOSING_DAYS:.0f} closing days (got {months})"
            )
        criteria: list[str] = []
        anchor_ids: list[str] = []
        scales = []
        for rubric in rubrics:
            for c in rubric.criterion_ids:
                if c not in criteria:
                    criteria.append(c)
            scales.append(_scale(rubric, anchor_sets, cfg, criteria, anchor_ids))
        return _Setup(
            rubrics=tuple(rubrics),
            scales=tuple(scales),
            submissions=tuple(anchor_ids),
            criteria=tuple(criteria),
            config=cfg,
            rules=rules,
            start=datetime(start.year, start.month, start.day),
            days=days,
            live_start=live_start,
        )


def _check_config(cfg: SimulationConfig) -> None:
    rules = [
        (0 <= cfg.persistence <= 1, "persistence must be between 0 and 1"),
        (0 < cfg.first_window <= 1, "first_window must be above 0 and at most 1"),
        (cfg.threshold_step > 0, "threshold_step must be positive"),
        (cfg.resubmission_days > 0, "resubmission_days must be positive"),
        (0 <= cfg.effects.halo <= 1, "halo must be between 0 and 1"),
        (cfg.effects.spread > 0, "spread must be positive"),
        (all(v >= 0 for v in cfg.effect_shares.values()), "effect shares must be non-negative"),
        (sum(cfg.effect_shares.values()) < 1, "effect shares must leave room for calibrated ones"),
        (
            all(e in EFFECTS and e != "calibrated" for e in cfg.effect_shares),
            f"effect shares name the planted effects ({', '.join(EFFECTS[1:])})",
        ),
        (
            len(cfg.credentials_per_earner) >= 1
            and min(cfg.credentials_per_earner) >= 0
            and sum(cfg.credentials_per_earner) > 0,
            "credentials_per_earner must be non-negative probabilities, not all 0",
        ),
    ]
    for ok, rule in rules:
        if not ok:
            raise CalibrateError(rule)


def _scale(
    rubric: Rubric,
    anchor_sets: Sequence[AnchorSet],
    cfg: SimulationConfig,
    criteria: list[str],
    anchor_ids: list[str],
) -> _Scale:
    k = len(rubric.levels)
    low = rubric.scores[0]
    s = cfg.threshold_step
    tau = np.asarray(s * (np.arange(1, k) - k / 2), dtype=np.float64)
    centre = np.asarray(s * (np.arange(k) - (k - 1) / 2), dtype=np.float64)
    rule = rubric.pass_rule
    if rule.every_criterion_at_least is not None:
        level = rule.every_criterion_at_least
    elif rule.criteria_at_least:
        level = max(rule.criteria_at_least.values())
    else:
        level = math.ceil((rule.total_at_least or low) / len(rubric.criteria))
    boundary = max(level - low, 1)  # the lowest level has no lower threshold: use the next one
    anchors: dict[str, tuple[IntArray, FloatArray, IntArray]] = {}
    cids = rubric.criterion_ids
    for purpose in ("practice", "qualification", "validity"):
        found = [
            a
            for s_ in anchor_sets
            if s_.rubric_key == rubric.key
            for a in s_.anchors
            if a.purpose == purpose
        ]
        if not found:
            continue
        codes = []
        for a in found:
            if a.id not in anchor_ids:
                anchor_ids.append(a.id)
            codes.append(anchor_ids.index(a.id))
        expert = np.array([[a.scores[c] - low for c in cids] for a in found], dtype=np.int64)
        anchors[purpose] = (np.asarray(codes, dtype=np.int64), centre[expert], expert)
    if "qualification" not in anchors:
        raise CalibrateError(
            f"rubric {rubric.key} has no qualification anchors, so no assessor can qualify"
        )
    return _Scale(
        rubric=rubric,
        tau=tau,
        pass_level=low + boundary,
        reference=float(tau[boundary - 1]),
        criterion_codes=np.asarray([criteria.index(c) for c in cids], dtype=np.int64),
        anchors=anchors,
    )


# --- the generating model -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Pool:
    """Assessor parameters, arrays of shape (n_assessors,), in id order."""

    rubric: IntArray
    effect: IntArray  # codes into EFFECTS
    severity: FloatArray
    noise_sd: FloatArray
    spread: FloatArray
    halo: FloatArray
    drift_at: FloatArray  # day of the drift, inf for none
    drift_shift: FloatArray
    diff_criterion: IntArray  # column within the rubric, -1 for none
    diff_shift: FloatArray
    capacity: FloatArray  # relative share of live work


def _rate(
    rng: np.random.Generator,
    loc: FloatArray,
    who: IntArray,
    when: FloatArray,
    pool: _Pool,
    tau: FloatArray,
) -> IntArray:
    """Category indices (0-based), shape (m, C), of readings at locations ``loc`` (m, C).

    ``who`` (m,) are the assessors, ``when`` (m,) the days of the readings.
    """
    m, c = loc.shape
    alpha = pool.severity[who] + np.where(when >= pool.drift_at[who], pool.drift_shift[who], 0.0)
    beta = np.where(
        np.arange(c) == pool.diff_criterion[who][:, None], pool.diff_shift[who][:, None], 0.0
    )
    eta = loc - alpha[:, None] - beta + pool.noise_sd[who][:, None] * rng.standard_normal((m, c))
    # Rating-scale model: log-numerator of category k is sum_{h<=k} (eta - lambda * tau_h)
    steps = eta[:, :, None] - pool.spread[who][:, None, None] * tau
    psi = np.concatenate([np.zeros((m, c, 1)), np.cumsum(steps, axis=2)], axis=2)
    cum = np.cumsum(np.exp(psi - psi.max(axis=2, keepdims=True)), axis=2)
    u = rng.random((m, c, 1)) * cum[:, :, -1:]
    k: IntArray = (u >= cum[:, :, :-1]).sum(axis=2).astype(np.int64)
    h = pool.halo[who]
    shared = rng.random((m, 1))
    halo = h > 0
    if halo.any():
        x = k[halo].astype(np.float64)
        mean = x.mean(axis=1, keepdims=True)
        pulled = mean + (1 - h[halo, None]) * (x - mean)
        k[halo] = np.floor(pulled + shared[halo]).astype(np.int64)
    return k


def _build_pool(rng: np.random.Generator, n: int, setup: _Setup) -> _Pool:
    """Draw the assessor pool: planted effects shared out over the rubrics in proportion to
    their pool size, then ids given in random order."""
    cfg, eff, n_rub = setup.config, setup.config.effects, len(setup.scales)
    counts = _planted(n, cfg)
    planted = sum(counts.values())
    if not _pool_fits(n, cfg, n_rub):
        raise CalibrateError(
            f"a pool of {n} assessors is too small for {n_rub} rubric(s) (3 each) and the "
            f"planted effects with well-calibrated assessors the majority: use at least "
            f"{_min_pool(setup)}"
        )
    per_rubric = _share_out(n, _popularity(n_rub), minimum=3)
    planted_list = np.array(
        [EFFECTS.index(e) for e in EFFECTS[1:] for _ in range(counts[e])], dtype=np.int64
    )
    rng.shuffle(planted_list)
    target = planted * per_rubric / n
    taken = np.zeros(n_rub)
    effect_rubric = np.empty(planted, dtype=np.int64)
    for i in range(planted):
        r = int(np.argmax(np.where(taken < per_rubric - 1, target - taken, -np.inf)))
        effect_rubric[i] = r
        taken[r] += 1
    effect = np.concatenate([planted_list, np.zeros(n - planted, dtype=np.int64)])
    rubric = np.concatenate(
        [effect_rubric, np.repeat(np.arange(n_rub), (per_rubric - taken).astype(np.int64))]
    )
    order = rng.permutation(n)  # ids in random order, so ids do not give effects away
    effect, rubric = effect[order], rubric[order]

    def is_(name: Effect) -> BoolArray:
        return np.asarray(effect == EFFECTS.index(name))

    severity = rng.normal(0.0, eff.base_sd, n)
    severity += eff.severity * (is_("severe").astype(float) - is_("lenient"))
    live_days = setup.days - CLOSING_DAYS - setup.live_start
    drift_day = setup.live_start + live_days * rng.uniform(0.3, 0.7, n)
    sign = rng.choice(np.array([-1.0, 1.0]), n)
    n_crit = np.array([len(s.rubric.criteria) for s in setup.scales])[rubric]
    diff_col = np.floor(rng.random(n) * n_crit).astype(np.int64)
    return _Pool(
        rubric=rubric,
        effect=effect,
        severity=severity,
        noise_sd=np.where(is_("inconsistent"), eff.noise_sd, 0.0),
        spread=np.where(is_("central"), eff.spread, 1.0),
        halo=np.where(is_("halo"), eff.halo, 0.0),
        drift_at=np.where(is_("drift"), drift_day, np.inf),
        drift_shift=np.where(is_("drift"), sign * eff.drift, 0.0),
        diff_criterion=np.where(is_("differential"), diff_col, -1),
        diff_shift=np.where(is_("differential"), eff.differential, 0.0),
        capacity=rng.gamma(2.0, 1.0, n),
    )


def _popularity(n: int) -> FloatArray:
    w = 1.0 / np.arange(1, n + 1)
    return np.asarray(w / w.sum())


def _share_out(n: int, weights: FloatArray, minimum: int) -> FloatArray:
    """Split ``n`` in proportion to ``weights`` (largest remainders), at least ``minimum`` each."""
    ideal = n * weights
    out = np.maximum(np.floor(ideal), minimum)
    while out.sum() > n:
        out[np.argmax(np.where(out > minimum, out - ideal, -np.inf))] -= 1
    while out.sum() < n:
        out[np.argmax(ideal - out)] += 1
    return out


# --- one run ------------------------------------------------------------------------------------


class _Ratings:
    """Ratings collected during a run, in chunks of readings."""

    def __init__(self) -> None:
        self.parts: dict[str, list[NDArray[Any]]] = {
            key: [] for key in ("day", *(c for c in COLUMNS if c != "timestamp"))
        }

    def add(
        self,
        *,
        submission: IntArray,
        assessor: IntArray,
        scale: _Scale,
        rubric: int,
        category: IntArray,
        day: FloatArray,
        context: Context,
        attempt: int = 0,
        earner: IntArray | None = None,
        round_: IntArray | None = None,
    ) -> None:
        """Add readings: ``category`` has shape (m, C), the arrays shape (m,)."""
        m, c = category.shape
        zeros = np.zeros(m, dtype=np.int64)
        per_reading = {
            "submission": submission,
            "assessor": assessor,
            "day": day,
            "attempt": np.full(m, attempt, dtype=np.int64),
            "rubric": np.full(m, rubric, dtype=np.int64),
            "context": np.full(m, _CTX[context], dtype=np.int64),
            "earner": zeros if earner is None else earner,
            "round": zeros if round_ is None else round_,
        }
        for key, value in per_reading.items():
            self.parts[key].append(np.repeat(value, c))
        self.parts["criterion"].append(np.tile(scale.criterion_codes, m))
        self.parts["score"].append((category + scale.rubric.scores[0]).ravel())

    def arrays(self) -> dict[str, NDArray[Any]]:
        return {key: np.concatenate(value) for key, value in self.parts.items()}


@dataclass(frozen=True, eq=False)
class _Live:
    """What the live stage drew and decided."""

    difficulty: list[FloatArray]
    ability: FloatArray
    growth: FloatArray
    credential_earner: IntArray
    credential_rubric: IntArray
    attempts: IntArray
    outcome: IntArray
    submission: dict[str, NDArray[Any]]  # credential, attempt, quality, day, first, second, passed
    rank: IntArray  # (n_submissions,) order of submission, by the code given at creation
    reader: IntArray  # every live reading (first and second): assessor ...
    read_day: FloatArray  # ... and day, for seeding validity anchors


class _Run:
    """One simulation: independent random streams per stage, so a stage's draws never shift
    another's (a trial run with fewer earners has the same pool and calibration)."""

    def __init__(
        self, setup: _Setup, counts: ProgrammeSize, seed: int, progress: Progress | None
    ) -> None:
        if counts.earners < 1:
            raise CalibrateError("a programme needs at least one earner")
        self.setup, self.counts, self.seed, self.progress = setup, counts, seed, progress
        pool, cal, earners, live, validity = np.random.SeedSequence(seed).spawn(5)
        self.rng_pool = np.random.default_rng(pool)
        self.rng_cal = np.random.default_rng(cal)
        self.rng_earners = np.random.default_rng(earners)
        self.rng_live = np.random.default_rng(live)
        self.rng_validity = np.random.default_rng(validity)
        self.max_attempts = max(r.resubmission.max_attempts for r in setup.rules)
        self.total = len(setup.scales) + self.max_attempts + 2
        self.done = 0
        self.ratings = _Ratings()
        self.round_labels: list[str] = [""]
        self.last_seen: dict[int, IntArray] = {}

    def _step(self, stage: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, stage)

    def programme(self, label: str) -> Programme:
        setup = self.setup
        pool = _build_pool(self.rng_pool, self.counts.assessors, setup)
        width = max(4, len(str(self.counts.assessors)))
        ids = tuple(f"A{i + 1:0{width}d}" for i in range(self.counts.assessors))
        rounds = self.calibrate(pool, ids)
        qualified = np.array([any(r.passed for r in rs) for rs in rounds], dtype=bool)
        live = self.live(pool, qualified)
        self.validity(pool, ids, live)
        truth = self.truth(pool, ids, rounds, live)
        data = self.ratings.arrays()
        anchors = len(setup.submissions)
        live_rows = data["submission"] >= anchors  # submission ids follow the order of submission
        data["submission"][live_rows] = anchors + live.rank[data["submission"][live_rows] - anchors]
        order = np.argsort(data["day"], kind="stable")
        seconds = _clock(data["day"][order]).astype("timedelta64[s]")
        self._step("assembling")
        return Programme(
            submission=data["submission"][order],
            assessor=data["assessor"][order],
            criterion=data["criterion"][order],
            score=data["score"][order],
            timestamp=np.datetime64(setup.start, "s") + seconds,
            attempt=data["attempt"][order],
            rubric=data["rubric"][order],
            context=data["context"][order],
            earner=data["earner"][order],
            round=data["round"][order],
            submissions=setup.submissions + truth.submissions.id,
            assessors=ids,
            criteria=setup.criteria,
            rubrics=tuple(r.key for r in setup.rubrics),
            earners=("", *truth.earners),
            rounds=tuple(self.round_labels),
            truth=truth,
            summary_size=label,
            seed=self.seed,
            start=setup.start,
            end=setup.start + timedelta(days=setup.days),
            config=setup.config,
            rules=setup.rules,
        )

    # calibration ------------------------------------------------------------------------------

    def calibrate(self, pool: _Pool, ids: tuple[str, ...]) -> list[list[RoundResult]]:
        """Practice (when the rubric's rules ask for it), then a qualification round judged by
        the rubric's qualification standard, until passed or out of rounds; each assessor's
        rounds in order."""
        rng = self.rng_cal
        results: list[list[RoundResult]] = [[] for _ in ids]
        for r, scale in enumerate(self.setup.scales):
            rules = self.setup.rules[r]
            std = rules.qualification
            pending = np.flatnonzero(pool.rubric == r)
            for number in range(1, std.max_rounds + 1):
                if pending.size == 0:
                    break
                day = ROUND_DAYS * (number - 1) + rng.uniform(0, 3, pending.size)
                if rules.practice_required and "practice" in scale.anchors:
                    day = self._anchor_round(pool, pending, ids, r, "practice", number, day)[0]
                day = day + rng.uniform(1, 4, pending.size)
                _, got = self._anchor_round(pool, pending, ids, r, "qualification", number, day)
                passed = std.passes(
                    exact=got.exact,
                    adjacent=got.adjacent,
                    non_adjacent=got.non_adjacent,
                    decision=got.decision,
                )
                for i, j in enumerate(pending):
                    results[j].append(
                        RoundResult(
                            round=f"{ids[j]}-qual-{number}",
                            number=number,
                            timestamp=_moment(self.setup.start, float(day[i])),
                            exact=float(got.exact[i]),
                            adjacent=float(got.adjacent[i]),
                            non_adjacent=int(got.non_adjacent[i]),
                            decision=float(got.decision[i]),
                            passed=bool(passed[i]),
                        )
                    )
                pending = pending[~passed]
            self._step(f"calibration {scale.rubric.key}")
        return results

    def _anchor_round(
        self,
        pool: _Pool,
        who: IntArray,
        ids: tuple[str, ...],
        rubric: int,
        purpose: Literal["practice", "qualification"],
        number: int,
        day: FloatArray,
    ) -> tuple[FloatArray, RoundAgreement]:
        """Assessors ``who`` (n,) each score anchors of ``purpose`` from ``day`` (n,): every
        practice anchor in their own random order; for a qualification round, the
        ``qualification.anchors`` that :func:`calibrate.workflow.draw_round` draws for them
        (unseen in their earlier rounds first, spread across levels and decisions), as the
        workflow does. Returns the day they finish, shape (n,), and their agreement with the
        experts (:func:`calibrate.rules.round_agreement`)."""
        rng, scale = self.rng_cal, self.setup.scales[rubric]
        codes, loc, expert = scale.anchors[purpose]
        n = who.size
        if purpose == "qualification":
            order = self._draw_rounds(who, rubric, number).ravel()
            q = order.size // max(n, 1)
        else:
            q = codes.size
            order = np.argsort(rng.random((n, q)), axis=1).ravel()
        tag = "prac" if purpose == "practice" else "qual"
        first = len(self.round_labels)
        self.round_labels.extend(f"{ids[j]}-{tag}-{number}" for j in who)
        reader = np.repeat(who, q)
        when = (day[:, None] + np.arange(q) * ANCHOR_MINUTES / 1440).ravel()
        k = _rate(rng, loc[order], reader, when, pool, scale.tau)
        self.ratings.add(
            submission=codes[order],
            assessor=reader,
            scale=scale,
            rubric=rubric,
            category=k,
            day=when,
            context=purpose,
            round_=np.repeat(np.arange(first, first + n, dtype=np.int64), q),
        )
        low, c = scale.rubric.scores[0], k.shape[1]
        got = round_agreement(
            (k + low).reshape(n, q, c), (expert[order] + low).reshape(n, q, c), scale.rubric
        )
        return day + q * ANCHOR_MINUTES / 1440, got

    def _draw_rounds(self, who: IntArray, rubric: int, number: int) -> IntArray:
        """The pool indices of each assessor's qualification round ``number``, shape
        (n, anchors per round); remembers what each assessor saw."""
        scale = self.setup.scales[rubric]
        expert = scale.anchors["qualification"][2] + scale.rubric.scores[0]
        passed = scale.rubric.passes(expert)
        wanted = self.setup.rules[rubric].qualification.anchors
        rows = []
        for j in who:
            seen = self.last_seen.setdefault(int(j), np.full(len(expert), -1, dtype=np.int64))
            chosen = draw_round(expert, passed, seen, wanted, self.rng_cal).chosen
            seen[chosen] = number
            rows.append(chosen)
        return np.array(rows, dtype=np.int64).reshape(len(rows), -1)

    # live work --------------------------------------------------------------------------------

    def live(self, pool: _Pool, qualified: BoolArray) -> _Live:
        """Earners and credentials, then attempt after attempt: submission, first (and second)
        reading, decision, resubmission or not, under each rubric's rules (double-scoring
        share, attempts allowed, a resubmission's first reader other than the previous one's
        when the pool allows)."""
        setup, cfg = self.setup, self.setup.config
        double_share = np.array([r.live.double_share for r in setup.rules])
        policy = [r.resubmission for r in setup.rules]
        limit = np.array([p.max_attempts for p in policy], dtype=np.int64)
        rng_e, rng = self.rng_earners, self.rng_live
        n_rub = len(setup.scales)
        readers = []
        for r, scale in enumerate(setup.scales):
            members = np.flatnonzero((pool.rubric == r) & qualified)
            if members.size == 0:
                raise CalibrateError(
                    f"no assessor qualified for {scale.rubric.key}; lower the standard, allow "
                    "more rounds or simulate a larger pool"
                )
            weights = np.cumsum(pool.capacity[members])
            readers.append((members, weights / weights[-1]))
        difficulty = []
        for scale in setup.scales:
            d = rng_e.normal(0.0, cfg.difficulty_sd, len(scale.rubric.criteria))
            difficulty.append(d - d.mean())

        n_e = self.counts.earners
        ability = rng_e.normal(cfg.ability_mean, cfg.ability_sd, n_e)
        growth = np.maximum(rng_e.normal(cfg.growth, cfg.growth_sd, n_e), 0.0)
        probs = np.zeros(n_rub)
        wanted = np.asarray(cfg.credentials_per_earner, dtype=np.float64)
        np.add.at(probs, np.minimum(np.arange(wanted.size), n_rub - 1), wanted)  # cap at n_rub
        how_many = 1 + rng_e.choice(probs.size, n_e, p=probs / probs.sum())
        # Gumbel top-k: credentials drawn without replacement with the popularity weights
        ranked = np.argsort(-(np.log(_popularity(n_rub)) + rng_e.gumbel(size=(n_e, n_rub))), axis=1)
        take = np.arange(n_rub) < how_many[:, None]
        cred_earner = np.nonzero(take)[0].astype(np.int64)
        cred_rubric = ranked[take].astype(np.int64)
        n_c = cred_earner.size
        last_day = setup.days - CLOSING_DAYS
        due = setup.live_start + rng_e.uniform(
            0, (last_day - setup.live_start) * cfg.first_window, n_c
        )
        attempts = np.zeros(n_c, dtype=np.int64)
        outcome = np.full(n_c, OUTCOMES.index("stopped"), dtype=np.int64)

        subs: dict[str, list[NDArray[Any]]] = {
            key: []
            for key in ("credential", "attempt", "quality", "day", "first", "second", "passed")
        }
        reader_parts: list[IntArray] = []
        day_parts: list[FloatArray] = []
        active = np.arange(n_c)
        n_subs = len(setup.submissions)
        previous = np.full(n_c, -1, dtype=np.int64)  # first reader of the last attempt
        for a in range(1, self.max_attempts + 1):
            late = due[active] > last_day
            outcome[active[late]] = OUTCOMES.index("out of time")
            active = active[~late]
            attempts[active] = a
            m = active.size
            earner = cred_earner[active]
            quality = (
                ability[earner] + growth[earner] * (a - 1) + rng.normal(0.0, cfg.submission_sd, m)
            )
            first = np.zeros(m, dtype=np.int64)
            second = np.full(m, -1, dtype=np.int64)
            passed = np.zeros(m, dtype=bool)
            t1 = due[active] + rng.uniform(0.5, 7, m)
            t2 = due[active] + rng.uniform(0.5, 9.5, m)  # all readings before the end
            double = rng.random(m) < double_share[cred_rubric[active]]
            code = n_subs + np.arange(m, dtype=np.int64)
            for r, scale in enumerate(setup.scales):
                rows = np.flatnonzero(cred_rubric[active] == r)
                members, cum = readers[r]
                first[rows] = members[np.searchsorted(cum, rng.random(rows.size), side="right")]
                if policy[r].different_assessor and members.size > 1:
                    first[rows] = _redraw(rng, members, cum, first[rows], previous[active[rows]])
                two = rows[double[rows]] if members.size > 1 else rows[:0]
                second[two] = _redraw(rng, members, cum, first[two], first[two])  # all anew
                loc = quality[:, None] - difficulty[r] + scale.reference
                k1 = _rate(rng, loc[rows], first[rows], t1[rows], pool, scale.tau)
                k2 = _rate(rng, loc[two], second[two], t2[two], pool, scale.tau)
                passed[rows] = scale.rubric.passes(k1 + scale.rubric.scores[0])
                for who, k, when, at in ((first, k1, t1, rows), (second, k2, t2, two)):
                    self.ratings.add(
                        submission=code[at],
                        assessor=who[at],
                        scale=scale,
                        rubric=r,
                        category=k,
                        day=when[at],
                        context="live",
                        attempt=a,
                        earner=earner[at] + 1,
                    )
                    reader_parts.append(who[at])
                    day_parts.append(when[at])
            n_subs += m
            for key, value in (
                ("credential", active),
                ("attempt", np.full(m, a)),
                ("quality", quality),
                ("day", due[active]),
                ("first", first),
                ("second", second),
                ("passed", passed),
            ):
                subs[key].append(value)
            previous[active] = first
            outcome[active[passed]] = OUTCOMES.index("earned")
            failed, t_failed = active[~passed], t1[~passed]
            used = a >= limit[cred_rubric[failed]]
            outcome[failed[used]] = OUTCOMES.index("attempts used")
            failed, t_failed = failed[~used], t_failed[~used]
            if failed.size:
                again = rng.random(failed.size) < cfg.persistence
                active = failed[again]
                gap = rng.gamma(2.0, cfg.resubmission_days / 2, active.size)
                due[active] = t_failed[again] + gap
            else:
                active = failed
            self._step(f"live attempt {a}")
        by_time = np.argsort(np.concatenate(subs["day"]), kind="stable")
        rank = np.empty_like(by_time)
        rank[by_time] = np.arange(by_time.size)
        return _Live(
            difficulty=difficulty,
            ability=ability,
            growth=growth,
            credential_earner=cred_earner,
            credential_rubric=cred_rubric,
            attempts=attempts,
            outcome=outcome,
            submission={key: np.concatenate(value)[by_time] for key, value in subs.items()},
            rank=rank,
            reader=np.concatenate(reader_parts),
            read_day=np.concatenate(day_parts),
        )

    def validity(self, pool: _Pool, ids: tuple[str, ...], live: _Live) -> None:
        """Seed validity anchors into the live queues.

        After each live reading the assessor meets a validity anchor with probability
        ``rate / (1 - rate)``, so anchors make up ``rate`` of the queue (``rate``: the rule
        ``live.validity_rate`` of the assessor's rubric). Each assessor goes through
        the rubric's validity anchors in their own random order, one cycle after another; the
        cycle is the rating's round (``A0007-val-2``), so no rating repeats an earlier one.
        """
        rng = self.rng_validity
        rates = np.array([r.live.validity_rate for r in self.setup.rules])
        rate = rates[pool.rubric[live.reader]]  # the rate of the reader's rubric
        seeded = rng.random(live.reader.size) < rate / (1 - rate)
        who, day = live.reader[seeded], live.read_day[seeded] + rng.uniform(0, 0.2, seeded.sum())
        for r, scale in enumerate(self.setup.scales):
            if "validity" not in scale.anchors:
                continue
            codes, loc, _ = scale.anchors["validity"]
            v = codes.size
            mine = pool.rubric[who] == r
            order = np.lexsort((day[mine], who[mine]))
            w, d = who[mine][order], day[mine][order]
            if w.size == 0:
                continue
            new_group = np.r_[True, w[1:] != w[:-1]]
            starts = np.flatnonzero(new_group)
            nth = np.arange(w.size) - np.repeat(starts, np.diff(np.r_[starts, w.size]))
            perms = np.argsort(rng.random((starts.size, v)), axis=1)
            anchor = perms[np.cumsum(new_group) - 1, nth % v]
            cycle = nth // v + 1
            pair = np.unique(np.stack([w, cycle]), axis=1, return_inverse=True)
            first = len(self.round_labels)
            self.round_labels.extend(f"{ids[j]}-val-{c}" for j, c in pair[0].T.tolist())
            self.ratings.add(
                submission=codes[anchor],
                assessor=w,
                scale=scale,
                rubric=r,
                category=_rate(rng, loc[anchor], w, d, pool, scale.tau),
                day=d,
                context="validity",
                round_=first + pair[1].astype(np.int64).ravel(),
            )
        self._step("validity anchors")

    def truth(
        self, pool: _Pool, ids: tuple[str, ...], rounds: list[list[RoundResult]], live: _Live
    ) -> Truth:
        setup = self.setup
        start = setup.start
        n_e = self.counts.earners
        width = max(5, len(str(n_e)))
        sub = live.submission
        n_s = sub["credential"].size
        s_width = max(6, len(str(n_s)))
        assessors = []
        for j, name in enumerate(ids):
            scale = setup.scales[int(pool.rubric[j])]
            col = int(pool.diff_criterion[j])
            drift = float(pool.drift_at[j])
            assessors.append(
                AssessorTruth(
                    id=name,
                    rubric=scale.rubric.key,
                    effect=EFFECTS[int(pool.effect[j])],
                    severity=float(pool.severity[j]),
                    noise_sd=float(pool.noise_sd[j]),
                    spread=float(pool.spread[j]),
                    halo=float(pool.halo[j]),
                    drift_date=_moment(start, drift) if math.isfinite(drift) else None,
                    drift_shift=float(pool.drift_shift[j]),
                    differential_criterion=scale.rubric.criterion_ids[col] if col >= 0 else None,
                    differential_shift=float(pool.diff_shift[j]),
                    rounds=tuple(rounds[j]),
                )
            )
        credential = sub["credential"]
        return Truth(
            assessors=tuple(assessors),
            rubrics=tuple(
                RubricTruth(
                    rubric=s.rubric.key,
                    thresholds=tuple(float(t) for t in s.tau),
                    pass_level=s.pass_level,
                    difficulty={
                        c: float(d) for c, d in zip(s.rubric.criterion_ids, diff, strict=True)
                    },
                )
                for s, diff in zip(setup.scales, live.difficulty, strict=True)
            ),
            earners=tuple(f"E{i + 1:0{width}d}" for i in range(n_e)),
            ability=live.ability,
            growth=live.growth,
            submissions=SubmissionTruth(
                id=tuple(f"S{i + 1:0{s_width}d}" for i in range(n_s)),
                earner=live.credential_earner[credential],
                rubric=live.credential_rubric[credential],
                attempt=sub["attempt"].astype(np.int64),
                quality=sub["quality"],
                submitted=np.datetime64(start, "s") + _clock(sub["day"]).astype("timedelta64[s]"),
                first_reader=sub["first"],
                second_reader=sub["second"],
                passed=sub["passed"],
            ),
            credentials=CredentialTruth(
                earner=live.credential_earner,
                rubric=live.credential_rubric,
                attempts=live.attempts,
                outcome=live.outcome,
            ),
        )


def _redraw(
    rng: np.random.Generator, members: IntArray, cum: FloatArray, drawn: IntArray, avoid: IntArray
) -> IntArray:
    """Readers drawn like the first (by capacity), redrawn until none is the one to ``avoid``
    (-1: none); ``drawn`` and ``avoid`` have shape (m,). ``members`` needs two or more
    assessors."""
    out = drawn.copy()
    same = out == avoid
    while same.any():
        out[same] = members[np.searchsorted(cum, rng.random(int(same.sum())), side="right")]
        same = out == avoid
    return out


def _size_for_ratings(target: int, setup: _Setup, seed: int) -> ProgrammeSize:
    """Pool and earners for about ``target`` ratings.

    The pool grows as from the pilot preset (40 assessors, about 10^4 ratings) to the state one
    (1500, about 10^6); a trial run with :data:`PROBE_EARNERS` earners and the same seed (so the
    same pool and calibration ratings) gives the live ratings per earner.
    """
    pilot, state = PRESETS["pilot"].assessors, PRESETS["state"].assessors
    exponent = math.log(state / pilot) / math.log(100)
    assessors = max(_min_pool(setup), round(pilot * (target / 10_000) ** exponent))
    trial = _Run(setup, ProgrammeSize(assessors, PROBE_EARNERS), seed, None).programme("trial")
    calibration = int(np.isin(trial.context, [_CTX["practice"], _CTX["qualification"]]).sum())
    per_earner = (len(trial) - calibration) / PROBE_EARNERS
    earners = round((target - calibration) / per_earner)
    if earners < 1:
        raise CalibrateError(
            f"a target of {target} ratings is too small: calibrating the smallest pool "
            f"({assessors} assessors) already gives {calibration} ratings"
        )
    return ProgrammeSize(assessors, earners)


def _planted(n: int, cfg: SimulationConfig) -> dict[Effect, int]:
    """Assessors per planted effect in a pool of ``n``: at least one for each positive share."""
    return {
        e: max(1, math.floor(share * n)) if (share := cfg.effect_shares.get(e, 0.0)) > 0 else 0
        for e in EFFECTS[1:]
    }


def _pool_fits(n: int, cfg: SimulationConfig, n_rubrics: int) -> bool:
    planted = sum(_planted(n, cfg).values())
    return n >= 3 * n_rubrics and n - planted >= max(planted + 1, n_rubrics)


def _min_pool(setup: _Setup) -> int:
    n = 3 * len(setup.scales)
    while not _pool_fits(n, setup.config, len(setup.scales)):
        n += 1
    return n


# --- time and text ----------------------------------------------------------------------------


def _clock(day: FloatArray) -> IntArray:
    """Seconds from the start for programme days: day ``d`` maps into working hours 08:00 to
    20:00 UTC of day ``floor(d)`` (order kept, so the same comparisons hold)."""
    whole = np.floor(day)
    return np.asarray(np.rint(whole * 86400 + 8 * 3600 + (day - whole) * 12 * 3600), np.int64)


def _moment(start: datetime, day: float) -> datetime:
    return start + timedelta(seconds=int(_clock(np.array([day]))[0]))


def _iso(stamps: NDArray[np.datetime64]) -> NDArray[np.object_]:
    """UTC ISO 8601 text (``2025-09-01T14:03:27Z``) of datetime64 values, shape kept."""
    text = np.datetime_as_string(stamps.astype("datetime64[s]"), unit="s")
    return np.char.add(text, "Z").astype(object)


def _iso_one(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_text(values: IntArray, zero: str = "0") -> NDArray[np.object_]:
    """Integers as text through a small lookup table (fast for millions of small values)."""
    low, high = int(values.min(initial=0)), int(values.max(initial=0))
    table = np.array([str(v) for v in range(low, high + 1)], dtype=object)
    if low <= 0 <= high:
        table[-low] = zero
    return np.asarray(table[values - low])


def _config_dict(cfg: SimulationConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in cfg.__dataclass_fields__:
        value = getattr(cfg, name)
        if isinstance(value, EffectSizes):
            value = {f: getattr(value, f) for f in value.__dataclass_fields__}
        elif isinstance(value, RuleOverrides):
            value = value.to_dict()
        elif isinstance(value, Mapping):
            value = dict(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return out
