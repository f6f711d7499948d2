"""Programme rules as data: the qualification standard, practice, live scoring, resubmission,
adjudication, flag thresholds and reliability conventions of a micro-credential programme.

Every rule is a :class:`Rule` in one table, :data:`RULES`: a dotted name, a default, a kind
(share, count, days, logits...) with bounds, one plain-language sentence of help and the source
of the default. The table drives the command line (``calibrate rules``), the dashboard, the
documentation (``docs/rules.md`` is :func:`rules_markdown`, checked by a test) and the simulator.

:func:`rules_for` resolves the table for one rubric, with an issuer's overrides, into a
:class:`ProgrammeRules` with typed views (:attr:`ProgrammeRules.qualification` ...). Some defaults
depend on the rubric's scale: NAEP asks for 90% exact agreement with the experts on 2-level
items, 80% on 3-level and 70% on 4-level and longer scales [1]_. Overrides are checked against
the table (unknown name, wrong type, out of bounds: a :class:`~calibrate.errors.CalibrateError`
naming the rule); per-rubric overrides are allowed only for rules marked ``per_rubric``.
:func:`read_rules` reads them from a YAML file::

    live.double_share: 0.10             # any rule, for the whole programme
    rubrics:
      crsel-intro:                      # a rubric id, or id@version for one version
        qualification.min_exact: 0.85   # rules marked "per rubric" only

References
----------
.. [1] National Center for Education Statistics. NAEP Technical Documentation: Qualifying Sets.
   https://nces.ed.gov/nationsreportcard/tdw/scoring/training_scorers_guide_qualify.asp

Examples
--------
>>> rules = rules_for(levels=3)
>>> rules.qualification.min_exact, rules.qualification.min_adjacent
(0.8, 0.95)
>>> rules_for(levels=4, overrides={"live.double_share": 0.1}).live.double_share
0.1
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibrate.errors import CalibrateError, Problem, ValidationError
from calibrate.rubric import Rubric
from calibrate.yamlfile import format_path, read_yaml

Value = bool | int | float
Kind = Literal[
    "share", "count", "days", "levels", "score levels", "logits", "mean square", "t", "sd units",
    "coefficient", "switch",
]  # fmt: skip
KINDS: tuple[Kind, ...] = get_args(Kind)
Group = Literal[
    "qualification", "practice", "live", "resubmission", "adjudication", "flags", "drift",
    "reliability",
]  # fmt: skip
GROUPS: tuple[Group, ...] = get_args(Group)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

_WHOLE: tuple[Kind, ...] = ("count", "days", "levels")
_GROUP_TITLES: dict[Group, str] = {
    "qualification": "Qualification: before an assessor scores live work",
    "practice": "Practice",
    "live": "Live scoring",
    "resubmission": "Resubmissions",
    "adjudication": "Adjudication of discrepant double scores",
    "flags": "Flags: findings about an assessor",
    "drift": "Drift: change over time",
    "reliability": "Reliability conventions",
}

# --- sources: full citations, quoted by the rules below --------------------------------------


def _source(note: str, *references: str) -> str:
    """A rule's source: what the field says (or why the default was chosen), then the works."""
    return f"{note} References: {'; '.join(references)}." if references else note


_NCES = "National Center for Education Statistics, NAEP Technical Documentation"
NAEP_QUALIFYING = (
    f"{_NCES}: Qualifying Sets, "
    "https://nces.ed.gov/nationsreportcard/tdw/scoring/training_scorers_guide_qualify.asp"
)
NAEP_PRACTICE = (
    f"{_NCES}: Practice Sets, "
    "https://nces.ed.gov/nationsreportcard/tdw/scoring/training_scorers_guide_practice.aspx"
)
NAEP_WITHIN_YEAR = (
    f"{_NCES}: Within-Year Interrater Agreement, "
    "https://nces.ed.gov/nationsreportcard/tdw/scoring/scoring_within.aspx"
)
NAEP_SECOND_SCORING = (
    f"{_NCES}: Science Interrater Agreement, "
    "https://nces.ed.gov/nationsreportcard/tdw/scoring/scoring_within_sci.asp"
)
NAEP_BACKREADING = (
    f"{_NCES}: Backreading, "
    "https://nces.ed.gov/nationsreportcard/tdw/scoring/scoring_backreading.aspx"
)
RSMTOOL = (
    "Educational Testing Service, RSMTool report sections Consistency (human-human agreement) "
    "and Evaluation, https://github.com/EducationalTestingService/rsmtool"
)
WILLIAMSON_2012 = (
    "Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and use of "
    "automated scoring. Educational Measurement: Issues and Practice, 31(1), 2-13"
)
LINACRE_2002 = (
    "Linacre, J. M. (2002). What do infit and outfit, mean-square and standardized mean? "
    "Rasch Measurement Transactions, 16(2), 878"
)
FACETS = "Linacre, J. M. A user's guide to FACETS: Rasch-model computer programs. Winsteps.com"
MYFORD_WOLFE = (
    "Myford, C. M., & Wolfe, E. W. (2003, 2004). Detecting and measuring rater effects using "
    "many-facet Rasch measurement, parts I and II. Journal of Applied Measurement, 4(4), "
    "386-422; 5(2), 189-227"
)
LINACRE_1994 = (
    "Linacre, J. M. (1994). Sample size and item calibration stability. Rasch Measurement "
    "Transactions, 7(4), 328"
)
BENJAMINI_HOCHBERG = (
    "Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate: A practical "
    "and powerful approach to multiple testing. Journal of the Royal Statistical Society, "
    "Series B, 57(1), 289-300"
)
KRIPPENDORFF_2004 = (
    "Krippendorff, K. (2004). Content analysis: An introduction to its methodology (2nd ed.). "
    "Sage, p. 241"
)
LANDIS_KOCH = (
    "Landis, J. R., & Koch, G. G. (1977). The measurement of observer agreement for "
    "categorical data. Biometrics, 33(1), 159-174, p. 165"
)
NBPTS = (
    "National Board for Professional Teaching Standards (2021). Scoring guide: Understanding "
    "your scores (v1.9, prepared by Pearson)"
)
BLOOMBOARD_POLICY = (
    "BloomBoard, Maximum Micro-credential Submission Policy, "
    "https://support.bloomboard.com/hc/en-us/articles/4407359903373"
)
BLOOMBOARD_WINDOW = (
    "BloomBoard, Expected Time for Submission Assessment, "
    "https://support.bloomboard.com/hc/en-us/articles/4406740684557"
)
WASHINGTON_PILOT = (
    "Washington Professional Educator Standards Board. The potential of micro-credentials in "
    "Washington State (report on the 2016-2019 pilots)"
)
MONTGOMERY_2009 = (
    "Montgomery, D. C. (2009). Introduction to statistical quality control (6th ed.). Wiley, "
    "Sect. 9.1 (the tabular CUSUM), Tables 9.3 and 9.4"
)
HAWKINS_1993 = (
    "Hawkins, D. M. (1993). Cumulative sum control charting: An underutilized SPC tool. "
    "Quality Engineering, 5(3), 463-477"
)
DESIGN_BRIEF = "calibrate design brief (DESIGN.md), Decisions"
NO_FIGURE = "Programme choice; the field publishes no figure."


# --- the rule and the table --------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One programme rule: a named setting with a default, help text and source.

    Attributes
    ----------
    name : str
        Dotted name, group first (``qualification.min_exact``).
    default : bool, int, float or None
        The default; None when it depends on the rubric's scale (see ``by_levels``).
    kind : Kind
        What the value measures; sets its Python type (``count``, ``days`` and ``levels`` are
        whole numbers, ``switch`` is true/false, the others are numbers).
    help : str
        One plain-language sentence for a new issuer.
    source : str
        Full citation of the default (or the reason for it where the field has no figure).
    per_rubric : bool
        Whether an issuer may set it differently for one rubric.
    bounds : (low, high)
        Inclusive limits; None for no limit.
    by_levels : tuple of (levels, value)
        Scale-dependent defaults, ascending: a rubric with ``k`` levels takes the value of the
        last entry whose ``levels`` is at most ``k``.
    """

    name: str
    default: Value | None
    kind: Kind
    help: str
    source: str
    per_rubric: bool = False
    bounds: tuple[float | None, float | None] = (None, None)
    by_levels: tuple[tuple[int, Value], ...] = ()

    def __post_init__(self) -> None:
        if (self.default is None) == (not self.by_levels):
            raise ValueError(f"rule {self.name}: give exactly one of default and by_levels")
        if self.name.split(".")[0] not in GROUPS:
            raise ValueError(f"rule {self.name}: the first part must be one of {GROUPS}")

    @property
    def type(self) -> type:
        """``bool``, ``int`` or ``float``."""
        if self.kind == "switch":
            return bool
        return int if self.kind in _WHOLE else float

    @property
    def group(self) -> Group:
        group: Group = next(g for g in GROUPS if g == self.name.split(".")[0])
        return group

    def default_for(self, levels: int | None) -> Value | None:
        """The default for a rubric with ``levels`` levels (None if it depends on an unknown
        scale)."""
        if not self.by_levels:
            return self.default
        if levels is None:
            return None
        fitting = [value for at_least, value in self.by_levels if at_least <= levels]
        return fitting[-1] if fitting else self.by_levels[0][1]

    def check(self, value: Any) -> Value:
        """``value`` as this rule's type.

        Raises
        ------
        CalibrateError
            Wrong type (a number for a switch, a fraction for a count...) or out of bounds.
        """
        if self.type is bool:
            if not isinstance(value, bool):
                raise CalibrateError(f"rule {self.name} must be true or false, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalibrateError(f"rule {self.name} must be {self._wanted()}, got {value!r}")
        if self.type is int:
            if isinstance(value, float) and not value.is_integer():
                raise CalibrateError(f"rule {self.name} must be {self._wanted()}, got {value!r}")
            checked: Value = int(value)
        else:
            if not math.isfinite(value):
                raise CalibrateError(f"rule {self.name} must be a finite number, got {value!r}")
            checked = float(value)
        low, high = self.bounds
        if (low is not None and checked < low) or (high is not None and checked > high):
            raise CalibrateError(f"rule {self.name} must be {self.range_text()}, got {value!r}")
        return checked

    def _wanted(self) -> str:
        return "a whole number" if self.type is int else "a number"

    def range_text(self) -> str:
        """The bounds in words (``between 0 and 1``, ``at least 1``, ``any number``)."""
        low, high = self.bounds
        if low is not None and high is not None:
            return f"between {_fmt(low)} and {_fmt(high)}"
        if low is not None:
            return f"at least {_fmt(low)}"
        if high is not None:
            return f"at most {_fmt(high)}"
        return "any number"

    def default_text(self) -> str:
        """The default in words, by scale where it depends on it."""
        if not self.by_levels:
            return _fmt(self.default)
        ends: list[int | None] = [k - 1 for k, _ in self.by_levels[1:]]
        parts = []
        for (start, value), end in zip(self.by_levels, [*ends, None], strict=True):
            scale = f"{start} or more" if end is None else f"{start} to {end}"
            parts.append(f"{_fmt(value)} ({scale if end != start else start} levels)")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain data for JSON (``by_levels`` as ``{"2": 0.9, ...}`` or None)."""
        return {
            "name": self.name,
            "default": self.default,
            "default_by_levels": {str(k): v for k, v in self.by_levels} or None,
            "kind": self.kind,
            "bounds": list(self.bounds),
            "per_rubric": self.per_rubric,
            "help": self.help,
            "source": self.source,
        }


def _fmt(value: Value | float | None) -> str:
    if value is None:
        return "depends on the scale"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}"


SHARE = (0.0, 1.0)
_RSM = (RSMTOOL, WILLIAMSON_2012)
_FIT_NOTE = (
    "Mean squares between 0.5 and 1.5 are productive for measurement; below 0.5 ratings are "
    "too predictable (overfit, as central tendency and halo show), above 1.5 they are erratic."
)
SUSPENDING: tuple[tuple[str, str], ...] = (
    ("severity", "severe or lenient (rater model or validity anchors)"),
    ("inconsistent", "inconsistent (erratic fit)"),
    ("central", "central tendency"),
    ("halo", "halo"),
    ("differential", "differential severity on a criterion"),
    ("inaccurate", "inaccurate on validity anchors"),
    ("discrepant", "discrepant in double scoring"),
    ("drift", "drifting"),
)
"""Flag kinds an issuer may have suspend an assessor (rules ``flags.suspend_<kind>``)."""


def _suspend_rule(kind: str, words: str) -> Rule:
    return Rule(
        f"flags.suspend_{kind}",
        False,
        "switch",
        f"A flag for being {words} suspends the assessor from live scoring on the rubric, "
        "with the flag's reason, when an administrator applies the flags.",
        _source(
            NO_FIGURE + " Off by default: a flag is evidence for a lead to review; an issuer "
            "who trusts it to act turns it on (the assessor is reinstated by an administrator).",
        ),
        per_rubric=True,
    )


RULES: tuple[Rule, ...] = (
    # qualification ---------------------------------------------------------------------------
    Rule(
        "qualification.min_exact",
        None,
        "share",
        "Share of an assessor's criterion scores in a qualification round that must equal the "
        "experts' scores.",
        _source(
            "NAEP's qualifying criteria: 90 percent exact agreement on 2-point items, 80 on "
            "3-point items, 70 on 4- to 6-point items (a rubric's levels are NAEP's score "
            "points).",
            NAEP_QUALIFYING,
        ),
        per_rubric=True,
        bounds=SHARE,
        by_levels=((2, 0.90), (3, 0.80), (4, 0.70)),
    ),
    Rule(
        "qualification.min_adjacent",
        0.95,
        "share",
        "Share of an assessor's criterion scores in a qualification round that must be within "
        "one level of the experts' scores.",
        _source(
            "RSMTool highlights human-human adjacent agreement below 95 percent; agreement with "
            "the experts should be no lower. NAEP's qualifying criteria name exact agreement "
            "only.",
            *_RSM,
        ),
        per_rubric=True,
        bounds=SHARE,
    ),
    Rule(
        "qualification.max_non_adjacent",
        0,
        "count",
        "Criterion scores in a qualification round that may be more than one level away from "
        "the experts' scores (0: none).",
        _source(
            "Scores more than one level apart are the discrepancy that operational scoring "
            "sends to a third reader (see adjudication.max_gap), so a qualifying assessor makes "
            "none on anchors whose scores the experts agreed.",
            NBPTS,
        ),
        per_rubric=True,
        bounds=(0, None),
    ),
    Rule(
        "qualification.min_decision",
        0.90,
        "share",
        "Share of the qualification anchors on which the assessor's pass decision (Earned or "
        "Not yet) must match the experts' decision.",
        _source(
            "The pass decision is a 2-category judgement, held to NAEP's 90 percent exact "
            "agreement for 2-point items.",
            NAEP_QUALIFYING,
        ),
        per_rubric=True,
        bounds=SHARE,
    ),
    Rule(
        "qualification.anchors",
        10,
        "count",
        "Anchors in one qualification round, together covering every level of the scale.",
        _source(
            "NAEP qualifying sets hold 10 to 12 papers covering the range of scores.",
            NAEP_QUALIFYING,
        ),
        per_rubric=True,
        bounds=(1, None),
    ),
    Rule(
        "qualification.max_rounds",
        3,
        "count",
        "Qualification rounds an assessor may take in one period: the first round and the retakes.",
        _source(
            "Programme choice: a first round and two retakes. NAEP prepares two qualifying sets "
            "and has a trainer retrain a scorer who fails; BloomBoard allows three submissions "
            "before coaching.",
            NAEP_QUALIFYING,
            BLOOMBOARD_POLICY,
        ),
        per_rubric=True,
        bounds=(1, None),
    ),
    Rule(
        "qualification.period_days",
        90,
        "days",
        "Length of the period over which qualification rounds are counted; the count starts "
        "again when it ends.",
        NO_FIGURE + " A quarter: room for practice, a round and two retakes 14 days apart, and "
        "for retraining before the next period.",
        per_rubric=True,
        bounds=(1, None),
    ),
    Rule(
        "qualification.valid_days",
        365,
        "days",
        "Days a passed qualification stays valid; after that the assessor qualifies again "
        "before scoring live work.",
        _source(
            NO_FIGURE + " Yearly. NAEP scorers qualify afresh for each item of each scoring "
            "project.",
            NAEP_QUALIFYING,
        ),
        per_rubric=True,
        bounds=(1, None),
    ),
    # practice --------------------------------------------------------------------------------
    Rule(
        "practice.required",
        True,
        "switch",
        "Assessors score practice anchors, and see the experts' scores and rationales, before "
        "each qualification round.",
        _source(
            "NAEP scorers score one or two practice sets of 10 to 12 papers, discussed with the "
            "trainer, before they qualify.",
            NAEP_PRACTICE,
        ),
        per_rubric=True,
    ),
    # live ------------------------------------------------------------------------------------
    Rule(
        "live.double_share",
        0.25,
        "share",
        "Share of live submissions scored by a second assessor, so agreement between assessors "
        "can be measured.",
        _source(
            "NAEP second-scores 25 percent of responses to items with smaller samples (5 "
            "percent for large ones); a micro-credential programme is a small sample.",
            NAEP_SECOND_SCORING,
        ),
        per_rubric=True,
        bounds=SHARE,
    ),
    Rule(
        "live.validity_rate",
        0.05,
        "share",
        "Share of each assessor's live queue that is anchors slipped in unannounced, so "
        "accuracy is checked all along and not once.",
        _source(
            "NAEP backreads at least 5 percent of each scorer's daily work; seeded anchors "
            "check the same share against expert scores. At most half of a queue.",
            NAEP_BACKREADING,
        ),
        per_rubric=True,
        bounds=(0.0, 0.5),
    ),
    Rule(
        "live.target_exact",
        None,
        "share",
        "Exact agreement between first and second readings that a rubric's live scoring should "
        "reach; below it, the rubric's scoring needs attention.",
        _source(
            "NAEP's within-year targets: 85 percent exact agreement on 2-point scales, 80 on "
            "3-point, 75 on 4- and 5-point, 60 on 6-point scales.",
            NAEP_WITHIN_YEAR,
        ),
        per_rubric=True,
        bounds=SHARE,
        by_levels=((2, 0.85), (3, 0.80), (4, 0.75), (6, 0.60)),
    ),
    Rule(
        "live.assignment_timeout_days",
        5,
        "days",
        "Days an assigned submission may wait unscored before it goes back to the queue for "
        "another assessor.",
        _source(
            "BloomBoard assesses submissions within a 5-business-day window; taking an "
            "assignment back after 5 days is a programme choice that keeps to it.",
            BLOOMBOARD_WINDOW,
        ),
        per_rubric=True,
        bounds=(1, None),
    ),
    Rule(
        "live.validity_misses",
        3,
        "count",
        "Missed validity anchors (a criterion more than adjudication.max_gap levels from the "
        "experts' score, or another pass decision) within the window that suspend an assessor "
        "from live scoring; 0 never suspends.",
        _source(
            NO_FIGURE + " NAEP retrains a scorer whose backreading or validity agreement drops "
            "and removes one who does not recover; three misses of ten keeps one unlucky miss "
            "from suspending anyone.",
            NAEP_BACKREADING,
        ),
        per_rubric=True,
        bounds=(0, None),
    ),
    Rule(
        "live.validity_window",
        10,
        "count",
        "The assessor's most recent validity anchors (of one rubric version) over which misses "
        "are counted.",
        NO_FIGURE + " Ten anchors are about 200 live submissions at the default validity rate.",
        per_rubric=True,
        bounds=(1, None),
    ),
    # resubmission ----------------------------------------------------------------------------
    Rule(
        "resubmission.max_attempts",
        5,
        "count",
        "Submissions an earner may make for one credential, the first included.",
        _source(
            "In Washington's pilot three, 132 micro-credentials were earned: 18 on the first "
            "submission, 114 on the second through the fifth; five submissions cut none of "
            "them short.",
            WASHINGTON_PILOT,
        ),
        per_rubric=True,
        bounds=(1, None),
    ),
    Rule(
        "resubmission.coaching_after",
        3,
        "count",
        "After this many Not yet decisions the earner meets a coach before submitting again.",
        _source(
            "BloomBoard: at most three submissions before a participant meets a coach, who "
            "supports the next resubmission.",
            BLOOMBOARD_POLICY,
        ),
        per_rubric=True,
        bounds=(1, None),
    ),
    Rule(
        "resubmission.different_assessor",
        True,
        "switch",
        "A resubmission is scored by an assessor other than the one whose scores decided the "
        "previous attempt.",
        _source(
            "Programme choice for an independent second look; the National Board double-scores "
            "every retake for the same reason.",
            NBPTS,
        ),
        per_rubric=True,
    ),
    # adjudication ----------------------------------------------------------------------------
    Rule(
        "adjudication.max_gap",
        1,
        "levels",
        "Two readings whose scores on any criterion are further apart than this many levels go "
        "to a third reader.",
        _source(
            "State assessment practice: adjacent scores stand (averaged, or either one), scores "
            "more than one point apart go to a third reader. The National Board has a trainer "
            "rescore a discrepancy of more than 1.25 points on its scale.",
            NBPTS,
        ),
        per_rubric=True,
        bounds=(0, None),
    ),
    Rule(
        "adjudication.on_decision",
        True,
        "switch",
        "Two readings that reach different pass decisions go to a third reader, even when "
        "every score is within the gap.",
        _source(
            "The pass decision is what reaches the earner: discrepant pairs are those with "
            "scores more than one level apart or different pass decisions.",
            DESIGN_BRIEF,
        ),
        per_rubric=True,
    ),
    Rule(
        "adjudication.third_reader_replaces",
        True,
        "switch",
        "The third reader's scores replace both discrepant readings instead of being averaged "
        "with them.",
        _source(
            "State assessment practice: the third reader's score replaces both; the National "
            "Board's trainer gives the score that stands.",
            NBPTS,
        ),
        per_rubric=True,
    ),
    # flags -----------------------------------------------------------------------------------
    Rule(
        "flags.min_exact",
        0.50,
        "share",
        "An assessor whose exact agreement with the other readers of the same submissions is "
        "below this share is flagged.",
        _source("RSMTool highlights human-human exact agreement below 50 percent.", *_RSM),
        bounds=SHARE,
    ),
    Rule(
        "flags.min_adjacent",
        0.95,
        "share",
        "An assessor whose scores are within one level of the other readers' less often than "
        "this share is flagged.",
        _source("RSMTool highlights human-human adjacent agreement below 95 percent.", *_RSM),
        bounds=SHARE,
    ),
    Rule(
        "flags.min_qwk",
        0.70,
        "coefficient",
        "An assessor whose quadratic weighted kappa with the other readers is below this is "
        "flagged.",
        _source("RSMTool highlights human-human quadratic weighted kappa below 0.7.", *_RSM),
        bounds=(-1.0, 1.0),
    ),
    Rule(
        "flags.min_correlation",
        0.70,
        "coefficient",
        "An assessor whose scores correlate with the other readers' less than this is flagged.",
        _source("RSMTool highlights human-human correlations below 0.7.", *_RSM),
        bounds=(-1.0, 1.0),
    ),
    Rule(
        "flags.max_smd",
        0.15,
        "sd units",
        "An assessor whose mean score differs from the other readers' on the same submissions "
        "by more than this many standard deviations is flagged.",
        _source(
            "RSMTool highlights standardized mean differences below -0.15 or above 0.15.", *_RSM
        ),
        bounds=(0.0, None),
    ),
    Rule(
        "flags.fit_low",
        0.5,
        "mean square",
        "An assessor whose infit or outfit mean square is below this is flagged as too "
        "predictable (often central tendency or halo).",
        _source(_FIT_NOTE, LINACRE_2002, FACETS, MYFORD_WOLFE),
        bounds=(0.0, None),
    ),
    Rule(
        "flags.fit_high",
        1.5,
        "mean square",
        "An assessor whose infit or outfit mean square is above this is flagged as erratic.",
        _source(_FIT_NOTE, LINACRE_2002, FACETS, MYFORD_WOLFE),
        bounds=(0.0, None),
    ),
    Rule(
        "flags.bias_t",
        2.0,
        "t",
        "An assessor-by-criterion bias term with a t statistic at least this large (either "
        "sign) is flagged as severity on that criterion only.",
        _source(
            "FACETS reports assessor-by-criterion bias with a t statistic; an absolute t of "
            "about 2 or more is significant at about the 5 percent level.",
            FACETS,
            MYFORD_WOLFE,
        ),
        bounds=(0.0, None),
    ),
    Rule(
        "flags.halo_share",
        0.5,
        "share",
        "An assessor whose scores of one submission vary across the criteria less than the "
        "reference readings of the same submissions do (the other reader's, the experts'), "
        "keeping less than this share of their variation, beyond chance, is flagged for halo.",
        _source(
            "Halo shows as overfit, and mean squares below 0.5 are less productive for "
            "measurement; read here as the share of the reference's variance across criteria "
            "an assessor keeps.",
            LINACRE_2002,
            MYFORD_WOLFE,
        ),
        bounds=(0.01, 1.0),
        per_rubric=True,
    ),
    Rule(
        "flags.severity_levels",
        0.25,
        "score levels",
        "An assessor whose severity from the rater model moves their scores away from the "
        "pool's average by more than this many score levels, beyond chance, is flagged as "
        "severe or lenient.",
        _source(
            NO_FIGURE + " The size of a severity difference worth acting on, on top of the "
            "test of significance Myford & Wolfe apply: a quarter of a level, as "
            "flags.deviation_levels (the model's logits converted to score levels at the "
            "assessor's own ratings, the slope of the expected score).",
            MYFORD_WOLFE,
        ),
        bounds=(0.0, None),
        per_rubric=True,
    ),
    Rule(
        "flags.differential_levels",
        0.25,
        "score levels",
        "An assessor whose severity on one criterion departs from their own severity on the "
        "others by more than this many score levels, beyond chance, is flagged for "
        "differential severity on that criterion.",
        _source(
            NO_FIGURE + " The assessor-by-criterion bias of FACETS (Myford & Wolfe's "
            "differential severity), judged by its size as flags.severity_levels, the "
            "false discovery rate held over every assessor and criterion tested.",
            FACETS,
            MYFORD_WOLFE,
        ),
        bounds=(0.0, None),
        per_rubric=True,
    ),
    Rule(
        "flags.central_spread",
        1.3,
        "coefficient",
        "An assessor whose rating-scale thresholds are spread wider than the pool's by more "
        "than this factor, beyond chance, is flagged for central tendency: they keep to the "
        "middle levels.",
        _source(
            NO_FIGURE + " The thresholds' multiplier per assessor (the rating-scale analogue "
            "of FACETS' rater-specific scale structure for central tendency); 1.3 is about "
            "the spread at which a four-level scale's middle levels take a third more of "
            "the continuum.",
            MYFORD_WOLFE,
            FACETS,
        ),
        bounds=(1.0, None),
        per_rubric=True,
    ),
    Rule(
        "flags.deviation_levels",
        0.25,
        "score levels",
        "An assessor whose scores of validity anchors differ from the experts' by more than "
        "this many score levels on average, beyond chance, is flagged as lenient or severe.",
        _source(
            NO_FIGURE + " A quarter of a level: a systematic deviation of half a level (one "
            "criterion in two scored a level off, all in one direction) lies well beyond it, "
            "while an assessor within it moves fewer than one score in four.",
            MYFORD_WOLFE,
        ),
        bounds=(0.0, None),
        per_rubric=True,
    ),
    Rule(
        "flags.window_days",
        365,
        "days",
        "Flags read the ratings of this many days up to the latest one (or the end date asked "
        "for): an assessor is judged on recent work, not on how they scored years ago.",
        _source(
            NO_FIGURE + " A year: a state programme's scoring cycle, long enough for an "
            "assessor to reach the minimum evidence at the live pace.",
        ),
        bounds=(1, None),
    ),
    Rule(
        "flags.min_ratings",
        30,
        "count",
        "Fewest ratings an assessor must have before a statistic about them can raise a flag.",
        _source(
            "16 to 36 observations estimate a Rasch measure to within one logit with 95 "
            "percent confidence.",
            LINACRE_1994,
        ),
        bounds=(1, None),
    ),
    Rule(
        "flags.fdr",
        0.05,
        "share",
        "Expected share of false alarms among the flags raised together (false discovery rate).",
        _source("0.05 is the conventional level of the procedure.", BENJAMINI_HOCHBERG),
        bounds=(0.001, 0.5),
    ),
    *(_suspend_rule(kind, words) for kind, words in SUSPENDING),
    # drift -----------------------------------------------------------------------------------
    Rule(
        "drift.k",
        0.5,
        "sd units",
        "Reference value of each assessor's control chart on validity anchors: half the shift "
        "it is tuned to catch, in standard deviations of one reading's mean deviation from the "
        "experts (0.5 tunes it to a shift of one SD, about half a score level per criterion).",
        _source(
            "k = 0.5 is the standard design: it detects a shift of one SD fastest for a given "
            "false-alarm rate.",
            MONTGOMERY_2009,
        ),
        bounds=(0.0, 2.0),
    ),
    Rule(
        "drift.arl0",
        370,
        "count",
        "Readings of validity anchors an assessor who has not drifted makes, on average, "
        "before a false alarm (in-control average run length); the chart's width is set to "
        "give it.",
        _source(
            "370 is the in-control ARL of a Shewhart chart with 3-sigma limits, the usual "
            "benchmark; k = 0.5 then needs h = 4.77 and detects a one-SD shift after about 10 "
            "readings.",
            MONTGOMERY_2009,
            HAWKINS_1993,
        ),
        bounds=(20, 100_000),
    ),
    Rule(
        "drift.min_readings",
        10,
        "count",
        "Fewest validity-anchor readings an assessor must have before a chart without alarm "
        "counts as no drift detected (with fewer it is too few to tell); alarms count at any "
        "number.",
        _source(
            "About the readings the chart needs on average to signal the one-SD shift it is "
            "tuned for (9.9 at k = 0.5 and an in-control ARL of 370).",
            MONTGOMERY_2009,
        ),
        bounds=(1, None),
    ),
    Rule(
        "drift.window_days",
        90,
        "days",
        "Length of the time windows (terms) over which severity is estimated and compared, "
        "from the first rating on.",
        _source(
            NO_FIGURE + " About one academic term, long enough for an assessor's live "
            "readings to place their severity."
        ),
        bounds=(7, 730),
    ),
    # reliability -----------------------------------------------------------------------------
    Rule(
        "reliability.alpha_reliable",
        0.800,
        "coefficient",
        "Krippendorff's alpha at or above this is reported as reliable.",
        _source("Rely on variables with alpha of at least .800.", KRIPPENDORFF_2004),
        bounds=(0.0, 1.0),
    ),
    Rule(
        "reliability.alpha_tentative",
        0.667,
        "coefficient",
        "Krippendorff's alpha at or above this, but below the reliable level, supports only "
        "tentative conclusions.",
        _source(
            "Consider variables with alpha from .667 to .800 only for tentative conclusions.",
            KRIPPENDORFF_2004,
        ),
        bounds=(0.0, 1.0),
    ),
)
RULE_BY_NAME: Mapping[str, Rule] = MappingProxyType({r.name: r for r in RULES})

KAPPA_BANDS: tuple[tuple[float, str], ...] = (
    (-1.0, "poor"),
    (0.0, "slight"),
    (0.21, "fair"),
    (0.41, "moderate"),
    (0.61, "substantial"),
    (0.81, "almost perfect"),
)
"""Landis & Koch (1977) bands for kappa: (lower bound, label), ascending; a kappa takes the
label of the last band whose lower bound it reaches (kappa is reported to two decimals)."""
KAPPA_BANDS_SOURCE = LANDIS_KOCH


def kappa_band(kappa: float) -> str:
    """Landis & Koch (1977) label of a kappa (``"no kappa"`` for NaN).

    >>> kappa_band(0.62), kappa_band(0.6), kappa_band(-0.1)
    ('substantial', 'moderate', 'poor')
    """
    if math.isnan(kappa):
        return "no kappa"
    value = round(kappa, 2)
    return [label for low, label in KAPPA_BANDS if value >= low][-1] if value >= -1 else "poor"


def rule(name: str) -> Rule:
    """The rule called ``name``.

    Raises
    ------
    CalibrateError
        No such rule (the message suggests close names).
    """
    try:
        return RULE_BY_NAME[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(RULE_BY_NAME), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise CalibrateError(f"unknown rule {name!r}{hint}") from None


# --- typed views -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundAgreement:
    """Agreement of qualification rounds with the experts, arrays of shape (n_rounds,).

    Attributes
    ----------
    exact, adjacent : float arrays
        Shares of criterion scores equal to / within one level of the expert scores.
    non_adjacent : int array
        Criterion scores more than one level from the expert scores.
    decision : float array
        Share of anchors whose pass decision (the rubric's pass rule on the assessor's scores)
        matches the decision on the expert scores.
    """

    exact: FloatArray
    adjacent: FloatArray
    non_adjacent: IntArray
    decision: FloatArray


def round_agreement(scores: ArrayLike, expert: ArrayLike, rubric: Rubric) -> RoundAgreement:
    """Agreement with the experts of one or more qualification rounds.

    Parameters
    ----------
    scores : int array of shape (n_rounds, n_anchors, n_criteria)
        Level scores given in each round, criteria in the rubric's order.
    expert : int array of shape (n_anchors, n_criteria) or (n_rounds, n_anchors, n_criteria)
        The experts' level scores of the same anchors (per round when each round saw the
        anchors in its own order).
    rubric : Rubric
        Its pass rule gives the decisions.

    Returns
    -------
    RoundAgreement

    Examples
    --------
    >>> from calibrate.rubric import rubric_from_data
    >>> three = rubric_from_data({"id": "r", "version": 1, "title": "R", "competency": "C",
    ...     "levels": [{"score": s, "label": f"L{s}"} for s in (1, 2, 3)],
    ...     "criteria": [{"id": c, "title": c, "descriptors": {1: "a", 2: "b", 3: "c"}}
    ...                  for c in ("a", "b")],
    ...     "pass_rule": {"every_criterion_at_least": 3}}, source="r.yaml")
    >>> got = round_agreement([[[3, 3], [3, 2], [1, 1]]], [[3, 3], [3, 3], [3, 1]], three)
    >>> got.exact.round(3), got.non_adjacent, got.decision.round(3)
    (array([0.667]), array([1]), array([0.667]))
    """
    s = np.asarray(scores, dtype=np.int64)
    if s.ndim != 3 or s.shape[1] == 0 or s.shape[2] != len(rubric.criteria):
        raise CalibrateError(
            f"scores must have shape (rounds, anchors >= 1, {len(rubric.criteria)}), got {s.shape}"
        )
    e = np.asarray(expert, dtype=np.int64)
    if e.shape not in (s.shape, s.shape[1:]):
        raise CalibrateError(
            f"expert scores must have shape {s.shape[1:]} or {s.shape}, got {e.shape}"
        )
    e = np.broadcast_to(e, s.shape)
    gap = np.abs(s - e).reshape(s.shape[0], -1)
    passed = rubric.passes(s.reshape(-1, s.shape[2])).reshape(s.shape[:2])
    expert_passed = rubric.passes(e.reshape(-1, s.shape[2])).reshape(s.shape[:2])
    return RoundAgreement(
        exact=(gap == 0).mean(axis=1),
        adjacent=(gap <= 1).mean(axis=1),
        non_adjacent=(gap > 1).sum(axis=1).astype(np.int64),
        decision=(passed == expert_passed).mean(axis=1),
    )


@dataclass(frozen=True)
class QualificationStandard:
    """What an assessor must reach on a qualification round to score live work (rules
    ``qualification.*``; see :data:`RULES` for help and sources)."""

    min_exact: float
    min_adjacent: float
    max_non_adjacent: int
    min_decision: float
    anchors: int
    max_rounds: int
    period_days: int
    valid_days: int

    def passes(
        self,
        *,
        exact: ArrayLike,
        adjacent: ArrayLike,
        non_adjacent: ArrayLike,
        decision: ArrayLike,
    ) -> BoolArray:
        """Whether rounds with this agreement with the experts meet the standard (all four
        conditions), shape of the broadcast arguments (see :func:`round_agreement`).

        >>> std = rules_for(levels=4).qualification
        >>> std.passes(exact=[0.7, 0.7, 0.7, 0.69], adjacent=[0.95, 0.95, 1, 1],
        ...            non_adjacent=[0, 1, 0, 0], decision=[0.9, 1, 0.8, 1])
        array([ True, False, False, False])
        """
        return np.asarray(
            (np.asarray(exact) >= self.min_exact)
            & (np.asarray(adjacent) >= self.min_adjacent)
            & (np.asarray(non_adjacent) <= self.max_non_adjacent)
            & (np.asarray(decision) >= self.min_decision)
        )


@dataclass(frozen=True)
class LivePolicy:
    """Live scoring (rules ``live.*``; ``target_exact`` is NaN when the scale is unknown)."""

    double_share: float
    validity_rate: float
    target_exact: float
    assignment_timeout_days: int
    validity_misses: int
    validity_window: int


@dataclass(frozen=True)
class ResubmissionPolicy:
    """Resubmissions after Not yet (rules ``resubmission.*``)."""

    max_attempts: int
    coaching_after: int
    different_assessor: bool


@dataclass(frozen=True)
class AdjudicationRule:
    """When two readings of a submission go to a third reader (rules ``adjudication.*``)."""

    max_gap: int
    on_decision: bool
    third_reader_replaces: bool

    def needs_third_reader(
        self, first: ArrayLike, second: ArrayLike, first_passed: ArrayLike, second_passed: ArrayLike
    ) -> BoolArray:
        """Pairs of readings that are discrepant.

        Parameters
        ----------
        first, second : int arrays of shape (m, n_criteria)
            Level scores of the two readings of ``m`` submissions.
        first_passed, second_passed : bool arrays of shape (m,)
            The pass decisions of the two readings.

        Returns
        -------
        bool array of shape (m,)

        Examples
        --------
        >>> rule = rules_for().adjudication
        >>> rule.needs_third_reader([[3, 3], [3, 1], [3, 2]], [[2, 3], [3, 3], [3, 3]],
        ...                         [True, False, False], [False, True, True])
        array([ True,  True,  True])
        >>> rule.needs_third_reader([[3, 2]], [[2, 2]], [False], [False])
        array([False])
        """
        gap = np.abs(np.asarray(first) - np.asarray(second))
        out = (gap > self.max_gap).any(axis=-1)
        if self.on_decision:
            out = out | (np.asarray(first_passed) != np.asarray(second_passed))
        return np.asarray(out)


@dataclass(frozen=True)
class FlagThresholds:
    """When a finding about an assessor becomes a flag (rules ``flags.*``)."""

    min_exact: float
    min_adjacent: float
    min_qwk: float
    min_correlation: float
    max_smd: float
    fit_low: float
    fit_high: float
    bias_t: float
    severity_levels: float
    differential_levels: float
    central_spread: float
    halo_share: float
    deviation_levels: float
    window_days: int
    min_ratings: int
    fdr: float
    suspend: frozenset[str]
    """The flag kinds (:data:`SUSPENDING`) whose flags suspend an assessor."""


@dataclass(frozen=True)
class DriftDesign:
    """Control charts on validity anchors and severity by time window (rules ``drift.*``)."""

    k: float
    arl0: int
    min_readings: int
    window_days: int


@dataclass(frozen=True)
class ReliabilityBands:
    """Krippendorff's (2004) conventions for alpha (rules ``reliability.*``)."""

    alpha_reliable: float
    alpha_tentative: float

    def alpha_verdict(self, alpha: float, low: float | None, high: float | None) -> AlphaVerdict:
        """Judge an alpha by its confidence interval ``[low, high]`` (None: none computed):
        a point estimate above a mark with an interval reaching far below it is no evidence
        (six submissions can give alpha = .81 with a 95% interval of [-.03, 1.00]).

        >>> judge = rules_for().reliability.alpha_verdict
        >>> judge(0.81, -0.03, 1.0).verdict, judge(0.86, 0.82, 0.89).verdict
        ('too few to tell', 'reliable')
        >>> judge(0.75, 0.70, 0.79).verdict, judge(0.4, 0.3, 0.5).verdict
        ('tentative', 'below tentative')
        """
        if math.isnan(alpha):
            return AlphaVerdict("undefined", "alpha is undefined: every rating is the same")
        if low is None or high is None or math.isnan(low) or math.isnan(high):
            return AlphaVerdict("too few to tell", "alpha has no interval, so it cannot be judged")
        where = f"its interval [{low:.3f}, {high:.3f}]"
        reliable, tentative = self.alpha_reliable, self.alpha_tentative
        if low >= reliable:
            return AlphaVerdict("reliable", f"{where} lies at or above {reliable:g}")
        if low >= tentative:
            return AlphaVerdict(
                "tentative", f"{where} lies above {tentative:g} but reaches below {reliable:g}"
            )
        if high < tentative:
            return AlphaVerdict("below tentative", f"{where} lies below {tentative:g}")
        marks = f"{tentative:g}" if high < reliable else f"{tentative:g} and {reliable:g}"
        return AlphaVerdict(
            "too few to tell",
            f"{where} spans {marks}: more double-scored submissions are needed to tell",
        )


@dataclass(frozen=True)
class AlphaVerdict:
    """What an alpha and its interval support (:meth:`ReliabilityBands.alpha_verdict`).

    Attributes
    ----------
    verdict : {"reliable", "tentative", "below tentative", "too few to tell", "undefined"}
        Lower bound at or above the reliable mark; at or above the tentative mark; upper bound
        below the tentative mark; the interval spans a mark, or there is none; alpha undefined.
    reason : str
        The verdict's grounds in one phrase.
    """

    verdict: Literal["reliable", "tentative", "below tentative", "too few to tell", "undefined"]
    reason: str


# --- resolving the table -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProgrammeRules:
    """Every rule resolved for one rubric (or for the programme, when no rubric is given).

    Attributes
    ----------
    values : mapping of str -> value
        Every rule by name, in table order; None for a scale-dependent rule when the scale is
        unknown.
    overridden : frozenset of str
        Names whose value came from an override.
    rubric : str or None
        The rubric key (``id@version``) the rules were resolved for.
    levels : int or None
        Levels of that rubric's scale.
    """

    values: Mapping[str, Value | None]
    overridden: frozenset[str]
    rubric: str | None
    levels: int | None

    def __getitem__(self, name: str) -> Value:
        value = self.values[rule(name).name]
        if value is None:
            raise CalibrateError(
                f"rule {name} depends on the rubric's scale: resolve the rules for a rubric"
            )
        return value

    def _float(self, name: str) -> float:
        return float(self[name])

    def _int(self, name: str) -> int:
        return int(self[name])

    def _bool(self, name: str) -> bool:
        return bool(self[name])

    @property
    def qualification(self) -> QualificationStandard:
        """The qualification standard (needs the scale: ``min_exact`` depends on it)."""
        return QualificationStandard(
            min_exact=self._float("qualification.min_exact"),
            min_adjacent=self._float("qualification.min_adjacent"),
            max_non_adjacent=self._int("qualification.max_non_adjacent"),
            min_decision=self._float("qualification.min_decision"),
            anchors=self._int("qualification.anchors"),
            max_rounds=self._int("qualification.max_rounds"),
            period_days=self._int("qualification.period_days"),
            valid_days=self._int("qualification.valid_days"),
        )

    @property
    def practice_required(self) -> bool:
        """Rule ``practice.required``."""
        return self._bool("practice.required")

    @property
    def live(self) -> LivePolicy:
        target = self.values["live.target_exact"]
        return LivePolicy(
            double_share=self._float("live.double_share"),
            validity_rate=self._float("live.validity_rate"),
            target_exact=math.nan if target is None else float(target),
            assignment_timeout_days=self._int("live.assignment_timeout_days"),
            validity_misses=self._int("live.validity_misses"),
            validity_window=self._int("live.validity_window"),
        )

    @property
    def resubmission(self) -> ResubmissionPolicy:
        return ResubmissionPolicy(
            max_attempts=self._int("resubmission.max_attempts"),
            coaching_after=self._int("resubmission.coaching_after"),
            different_assessor=self._bool("resubmission.different_assessor"),
        )

    @property
    def adjudication(self) -> AdjudicationRule:
        return AdjudicationRule(
            max_gap=self._int("adjudication.max_gap"),
            on_decision=self._bool("adjudication.on_decision"),
            third_reader_replaces=self._bool("adjudication.third_reader_replaces"),
        )

    @property
    def flags(self) -> FlagThresholds:
        return FlagThresholds(
            min_exact=self._float("flags.min_exact"),
            min_adjacent=self._float("flags.min_adjacent"),
            min_qwk=self._float("flags.min_qwk"),
            min_correlation=self._float("flags.min_correlation"),
            max_smd=self._float("flags.max_smd"),
            fit_low=self._float("flags.fit_low"),
            fit_high=self._float("flags.fit_high"),
            bias_t=self._float("flags.bias_t"),
            severity_levels=self._float("flags.severity_levels"),
            differential_levels=self._float("flags.differential_levels"),
            central_spread=self._float("flags.central_spread"),
            halo_share=self._float("flags.halo_share"),
            deviation_levels=self._float("flags.deviation_levels"),
            window_days=self._int("flags.window_days"),
            min_ratings=self._int("flags.min_ratings"),
            fdr=self._float("flags.fdr"),
            suspend=frozenset(k for k, _ in SUSPENDING if self._bool(f"flags.suspend_{k}")),
        )

    @property
    def drift(self) -> DriftDesign:
        return DriftDesign(
            k=self._float("drift.k"),
            arl0=self._int("drift.arl0"),
            min_readings=self._int("drift.min_readings"),
            window_days=self._int("drift.window_days"),
        )

    @property
    def reliability(self) -> ReliabilityBands:
        return ReliabilityBands(
            alpha_reliable=self._float("reliability.alpha_reliable"),
            alpha_tentative=self._float("reliability.alpha_tentative"),
        )

    def to_dict(self) -> dict[str, Value | None]:
        """Rule name -> resolved value."""
        return dict(self.values)

    def rows(self) -> list[dict[str, Any]]:
        """One plain-data row per rule, in table order, for the CLI, the dashboard and JSON:
        the rule's :meth:`Rule.to_dict` fields plus ``value``, ``default`` (at this scale) and
        ``overridden``."""
        return [
            {
                **r.to_dict(),
                "value": self.values[r.name],
                "default": r.default_for(self.levels),
                "overridden": r.name in self.overridden,
            }
            for r in RULES
        ]


def _checked(values: Mapping[str, Any], *, rubric_level: bool, where: str) -> dict[str, Value]:
    if not isinstance(values, Mapping):
        raise CalibrateError(f"{where} must map rule names to values")
    out: dict[str, Value] = {}
    for name, value in values.items():
        r = rule(str(name))
        if rubric_level and not r.per_rubric:
            raise CalibrateError(
                f"rule {r.name} applies to the whole programme and cannot be set for one "
                f"rubric ({where})"
            )
        out[r.name] = r.check(value)
    return out


@dataclass(frozen=True)
class RuleOverrides:
    """An issuer's departures from the defaults, checked against :data:`RULES`.

    Attributes
    ----------
    values : mapping of str -> value
        For the whole programme (any rule).
    rubrics : mapping of str -> mapping of str -> value
        By rubric id (every version) or ``id@version`` (that version; wins over the id); only
        rules marked ``per_rubric``.

    Raises
    ------
    CalibrateError
        An unknown rule, a wrong type, a value out of bounds, or a programme-wide rule set for a
        rubric; the message names the rule.
    """

    values: Mapping[str, Any] = field(default_factory=dict)
    rubrics: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked = _checked(self.values, rubric_level=False, where="overrides")
        if not isinstance(self.rubrics, Mapping):
            raise CalibrateError("rubric overrides must map rubric ids to rules")
        by_rubric = {
            str(rid): MappingProxyType(_checked(v, rubric_level=True, where=f"rubric {rid}"))
            for rid, v in self.rubrics.items()
        }
        object.__setattr__(self, "values", MappingProxyType(checked))
        object.__setattr__(self, "rubrics", MappingProxyType(by_rubric))

    def resolve(self, rubric: Rubric | None = None, *, levels: int | None = None) -> ProgrammeRules:
        """:func:`rules_for` with these overrides."""
        return rules_for(rubric, self, levels=levels)

    def to_dict(self) -> dict[str, Any]:
        """The overrides as plain data, in the shape of the YAML file."""
        out: dict[str, Any] = dict(self.values)
        if self.rubrics:
            out["rubrics"] = {rid: dict(v) for rid, v in self.rubrics.items()}
        return out


def rules_for(
    rubric: Rubric | None = None,
    overrides: RuleOverrides | Mapping[str, Any] | None = None,
    *,
    levels: int | None = None,
) -> ProgrammeRules:
    """Resolve the programme rules for a rubric.

    Parameters
    ----------
    rubric : Rubric, optional
        Gives the scale (for scale-dependent defaults) and selects its per-rubric overrides.
        Without it (and without ``levels``) scale-dependent rules stay unresolved (None).
    overrides : RuleOverrides or mapping of str -> value, optional
        A mapping is taken as programme-wide overrides.
    levels : int, optional
        Number of levels of the scale, when there is no rubric (or to override its count).

    Returns
    -------
    ProgrammeRules

    Raises
    ------
    CalibrateError
        A bad override (see :class:`RuleOverrides`), or values that contradict each other
        (exact agreement required above adjacent, a tentative alpha above the reliable one,
        a low fit limit at or above the high one).
    """
    if overrides is None:
        overrides = RuleOverrides()
    elif not isinstance(overrides, RuleOverrides):
        overrides = RuleOverrides(values=overrides)
    if levels is None and rubric is not None:
        levels = len(rubric.levels)
    if levels is not None and levels < 2:
        raise CalibrateError(f"a rating scale has at least 2 levels, got {levels}")
    chosen: dict[str, Value] = dict(overrides.values)
    if rubric is not None:
        chosen.update(overrides.rubrics.get(rubric.id, {}))
        chosen.update(overrides.rubrics.get(rubric.key, {}))
    values = {r.name: chosen.get(r.name, r.default_for(levels)) for r in RULES}
    _check_together(values)
    return ProgrammeRules(
        values=MappingProxyType(values),
        overridden=frozenset(chosen),
        rubric=rubric.key if rubric is not None else None,
        levels=levels,
    )


def _check_together(values: Mapping[str, Value | None]) -> None:
    pairs = [
        ("qualification.min_exact", "qualification.min_adjacent", "at most"),
        ("flags.min_exact", "flags.min_adjacent", "at most"),
        ("reliability.alpha_tentative", "reliability.alpha_reliable", "at most"),
        ("flags.fit_low", "flags.fit_high", "below"),
        ("live.validity_misses", "live.validity_window", "at most"),
    ]
    for low, high, relation in pairs:
        a, b = values[low], values[high]
        if a is None or b is None:
            continue
        if (relation == "below" and a >= b) or a > b:
            raise CalibrateError(f"rule {low} ({_fmt(a)}) must be {relation} {high} ({_fmt(b)})")


def read_rules(path: str | Path) -> RuleOverrides:
    """Read an issuer's overrides from a YAML file (format in the module docstring).

    Raises
    ------
    ValidationError
        Unreadable file or YAML, or bad overrides: each with the file, line and rule.
    """
    path = Path(path)
    source = str(path)
    data, locate = read_yaml(path)
    if data is None:
        return RuleOverrides()
    if not isinstance(data, dict):
        raise ValidationError([Problem(source, "a rules file must map rule names to values")])
    problems: list[Problem] = []

    def problem(where: Sequence[str | int], exc: CalibrateError) -> None:
        problems.append(Problem(source, str(exc), locate(where), format_path(where)))

    values: dict[str, Any] = {}
    for name, value in data.items():
        if name == "rubrics":
            continue
        try:
            values.update(_checked({name: value}, rubric_level=False, where="overrides"))
        except CalibrateError as exc:
            problem((str(name),), exc)
    rubrics: dict[str, dict[str, Any]] = {}
    raw = data.get("rubrics") or {}
    if not isinstance(raw, dict):
        problem(("rubrics",), CalibrateError("rubrics must map rubric ids to rules"))
        raw = {}
    for rid, rules in raw.items():
        if not isinstance(rules, dict):
            problem(("rubrics", str(rid)), CalibrateError("must map rule names to values"))
            continue
        for name, value in rules.items():
            try:
                checked = _checked({name: value}, rubric_level=True, where=f"rubric {rid}")
                rubrics.setdefault(str(rid), {}).update(checked)
            except CalibrateError as exc:
                problem(("rubrics", str(rid), str(name)), exc)
    if problems:
        raise ValidationError(problems)
    return RuleOverrides(values=values, rubrics=rubrics)


# --- documentation -----------------------------------------------------------------------------


def rules_markdown() -> str:
    """``docs/rules.md``: every rule with its default, kind, help and source, by group.

    Regenerate the file with ``python -m calibrate.rules > docs/rules.md``; a test checks that
    it matches.
    """
    lines = [
        "# Programme rules",
        "",
        "<!-- Generated from calibrate.rules.RULES by rules_markdown(); do not edit by hand:",
        "     python -m calibrate.rules > docs/rules.md -->",
        "",
        "The rules of a micro-credential programme: what an assessor must reach to qualify,",
        "how live work is double-scored and seeded with anchors, when an earner may resubmit,",
        "when two readings go to a third reader, and when a finding about an assessor becomes a",
        "flag. Each has a default taken from the field (the source says where from, or says that",
        "the default is a programme choice) and can be changed by an issuer; rules marked",
        '"per rubric" can also be changed for one rubric.',
        "",
        "Overrides go in a YAML file (read by `calibrate.rules.read_rules`):",
        "",
        "```yaml",
        "live.double_share: 0.10             # any rule, for the whole programme",
        "rubrics:",
        "  crsel-intro:                      # a rubric id, or id@version for one version",
        "    qualification.min_exact: 0.85   # rules marked per rubric only",
        "```",
        "",
        "A value of the wrong type or out of bounds, an unknown rule, or a programme-wide rule",
        "set for one rubric is refused with the rule's name.",
    ]
    for group in GROUPS:
        lines += ["", f"## {_GROUP_TITLES[group]}"]
        for r in RULES:
            if r.group != group:
                continue
            kind = r.kind if r.type is bool else f"{r.kind}, {r.range_text()}"
            lines += [
                "",
                f"### `{r.name}`",
                "",
                r.help,
                "",
                f"- default: {r.default_text()}",
                f"- kind: {kind}",
                f"- per rubric: {'yes' if r.per_rubric else 'no'}",
                f"- source: {r.source}",
            ]
    lines += [
        "",
        "## Kappa bands",
        "",
        "Labels for Cohen's and Fleiss' kappa (`calibrate.rules.kappa_band`), fixed by the source:",
        "",
        "| kappa from | label |",
        "| --- | --- |",
        *(f"| {low:g} | {label} |" for low, label in KAPPA_BANDS),
        "",
        f"Source: {KAPPA_BANDS_SOURCE}",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(rules_markdown(), end="")
