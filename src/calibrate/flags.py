"""Flags on assessors that weigh evidence rather than rank: each says what was measured, its
interval, the threshold it crosses, how much evidence there is, the data it read, and holds when
hundreds of assessors are tested at once.

Every kind of flag is a *test*: one statistic per assessor (or assessor x criterion) compared
with a threshold from the programme rules (``flags.*``, per rubric). A flag is raised when the
statistic lies beyond its threshold by more than chance allows: the p-value is that of the
interval null (the true value lies on the acceptable side of the threshold; Wellek 2010 [3]_),
and the Benjamini-Hochberg procedure [1]_ at rule ``flags.fdr`` runs over the assessors of each
test, which keeps the expected share of false flags among a test's flags at or below that rate:
a report of ``R`` flags holds about ``fdr x R`` false ones at most, on average (reported as
:attr:`FlagReport.expected_false`). An assessor with fewer than ``flags.min_ratings`` ratings
behind a statistic, or whom the data cannot place, is listed as not tested, never flagged or
cleared: ten ratings never make a flag.

The tests (:data:`TESTS`; Myford & Wolfe's rater effects [2]_ and RSMTool's human-human
thresholds [4]_):

- ``severe`` / ``lenient``: severity from the random-effects rater model
  (:func:`calibrate.stats.severity.fit_severity`) beyond ``flags.severity_levels``; and the mean
  signed deviation from the experts on validity anchors beyond ``flags.deviation_levels``.
  The model's logits are converted to score levels at each assessor's own ratings (times the
  mean slope of the expected score, the model variance of a rating), so that a tolerance means
  the same on every scale.
- ``differential``: the assessor's severity on one criterion, beyond their own overall
  (FACETS' assessor-by-criterion bias, :func:`calibrate.stats.rater_effects.local_shift`),
  beyond ``flags.differential_levels``; tested per assessor x criterion.
- ``inconsistent``: the infit mean square above ``flags.fit_high`` (chi-square test on the
  model's degrees of freedom, :func:`calibrate.stats.rater_effects.mean_square_intervals`).
- ``central``: the assessor's rating-scale thresholds spread wider than the pool's by more than
  ``flags.central_spread`` (:func:`calibrate.stats.rater_effects.scale_spread`): the middle
  levels take more of the continuum.
- ``inaccurate``: exact agreement with the experts' scores of the validity anchors below
  ``flags.min_exact`` (the floor RSMTool sets for agreement between two human readers: an
  assessor should agree with the experts at least as often), clustered by reading.
- ``discrepant``: in double scoring, the assessor's exact and adjacent agreement, quadratic
  weighted kappa and correlation with the other readers of the same submissions below
  ``flags.min_exact``, ``flags.min_adjacent``, ``flags.min_qwk``, ``flags.min_correlation``,
  or their standardized mean difference from them beyond ``flags.max_smd`` (RSMTool's
  human-human thresholds), each with a standard error clustered by submission
  (:func:`calibrate.stats.discrepancy.reader_discrepancy`).
- ``halo``: the assessor's readings are flatter across criteria than reference readings of the
  same submissions (the other reader's in double scoring, the experts' on validity anchors) by
  more than keeping ``flags.halo_share`` of the reference's variance allows
  (:func:`calibrate.stats.discrepancy.halo_index`).
- ``drift``: the assessor's two-sided CUSUM on validity-anchor readings against the experts
  (:func:`calibrate.analyses.drift.control_charts`, rules ``drift.*``) signals. A chart is a
  sequential test, not a p-value: its false alarms are held by the in-control average run
  length ``drift.arl0`` (an assessor who has not drifted signals once in that many readings,
  on average), so the expected number of false drift flags is the readings charted over
  ``drift.arl0``, not ``fdr`` x flags.

References
----------
.. [1] Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate: a practical
   and powerful approach to multiple testing. *Journal of the Royal Statistical Society, Series
   B, 57*(1), 289-300.
.. [2] Myford, C. M., & Wolfe, E. W. (2003, 2004). Detecting and measuring rater effects using
   many-facet Rasch measurement, parts I and II. *Journal of Applied Measurement, 4*(4),
   386-422; *5*(2), 189-227.
.. [3] Wellek, S. (2010). *Testing statistical hypotheses of equivalence and noninferiority*
   (2nd ed.). Chapman & Hall/CRC (the interval-null test used here, ch. 2).
.. [4] Williamson, D. M., Xi, X., & Breyer, F. J. (2012). A framework for evaluation and use of
   automated scoring. *Educational Measurement: Issues and Practice, 31*(1), 2-13 (RSMTool's
   defaults).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import false_discovery_control, norm

from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from calibrate.analyses.drift import AssessorChart
    from calibrate.anchors import AnchorSet
    from calibrate.ratings import Ratings
    from calibrate.rubric import Rubric
    from calibrate.rules import DriftDesign, FlagThresholds
    from calibrate.stats import Progress
    from calibrate.stats.discrepancy import HaloIndex, ReaderDiscrepancy
    from calibrate.stats.rater_effects import MeanSquareTest

Kind = Literal[
    "severe",
    "lenient",
    "inconsistent",
    "central",
    "halo",
    "differential",
    "inaccurate",
    "discrepant",
    "drift",
]
Direction = Literal["beyond", "above", "below"]
BOUNDS = {"share": (0.0, 1.0), "coefficient": (-1.0, 1.0)}
"""The range of a statistic by its unit: intervals are clipped to it."""
FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- what a test is


@dataclass(frozen=True)
class FlagTest:
    """One statistic tested over assessors.

    Attributes
    ----------
    name : str
        Short identifier (``"severity"``), the key in JSON.
    statistic : str
        What is measured, in words (``"severity from the rater model"``).
    unit : str
        Its unit (``"logits"``, ``"score levels"``, ``"share"``).
    rule : str
        The programme rule holding the threshold.
    direction : {"beyond", "above", "below"}
        ``"beyond"``: flagged when ``|value|`` lies beyond the threshold (the sign picks
        :attr:`kinds` [0] for positive, [1] for negative); ``"above"`` / ``"below"``: when the
        value lies above / below it.
    kinds : tuple of Kind
        The kind of the flag raised (two for ``"beyond"``).
    source : str
        Where the statistic comes from (``"rater model"``, ``"validity anchors"``,
        ``"double scoring"``, ``"control chart"``).
    """

    name: str
    statistic: str
    unit: str
    rule: str
    direction: Direction
    kinds: tuple[Kind, ...]
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "statistic": self.statistic,
            "unit": self.unit,
            "rule": self.rule,
            "direction": self.direction,
            "source": self.source,
        }


SEVERITY = FlagTest(
    "severity", "severity from the rater model", "score levels", "flags.severity_levels",
    "beyond", ("severe", "lenient"), "rater model",
)  # fmt: skip
DIFFERENTIAL = FlagTest(
    "differential", "severity on one criterion beyond the assessor's own", "score levels",
    "flags.differential_levels", "beyond", ("differential", "differential"), "rater model",
)  # fmt: skip
INCONSISTENT = FlagTest(
    "inconsistent", "infit mean square (unpredictability of the scores)", "mean square",
    "flags.fit_high", "above", ("inconsistent",), "rater model",
)  # fmt: skip
CENTRAL = FlagTest(
    "central", "spread of the assessor's thresholds against the pool's", "factor",
    "flags.central_spread", "above", ("central",), "rater model",
)  # fmt: skip
DEVIATION = FlagTest(
    "anchor_deviation", "mean deviation from the experts on validity anchors", "score levels",
    "flags.deviation_levels", "beyond", ("lenient", "severe"), "validity anchors",
)  # fmt: skip
INACCURATE = FlagTest(
    "inaccurate", "exact agreement with the experts on validity anchors", "share",
    "flags.min_exact", "below", ("inaccurate",), "validity anchors",
)  # fmt: skip
DISCREPANCY: dict[str, FlagTest] = {
    "exact": FlagTest(
        "exact",
        "exact agreement with the other readers",
        "share",
        "flags.min_exact",
        "below",
        ("discrepant",),
        "double scoring",
    ),
    "adjacent": FlagTest(
        "adjacent",
        "adjacent agreement with the other readers",
        "share",
        "flags.min_adjacent",
        "below",
        ("discrepant",),
        "double scoring",
    ),
    "qwk": FlagTest(
        "qwk",
        "quadratic weighted kappa with the other readers",
        "coefficient",
        "flags.min_qwk",
        "below",
        ("discrepant",),
        "double scoring",
    ),
    "correlation": FlagTest(
        "correlation",
        "correlation with the other readers",
        "coefficient",
        "flags.min_correlation",
        "below",
        ("discrepant",),
        "double scoring",
    ),
    "smd": FlagTest(
        "smd",
        "standardized mean difference from the other readers",
        "sd units",
        "flags.max_smd",
        "beyond",
        ("discrepant", "discrepant"),
        "double scoring",
    ),
}
HALO = FlagTest(
    "halo",
    "spread across criteria within a reading, less the reference reading's",
    "score levels",
    "flags.halo_share",
    "below",
    ("halo",),
    "double scoring, validity anchors",
)
DRIFT = FlagTest(
    "drift", "mean deviation from the experts since the control chart's alarm run began",
    "score levels", "drift.arl0", "beyond", ("drift", "drift"), "control chart",
)  # fmt: skip
TESTS: tuple[FlagTest, ...] = (
    SEVERITY, DIFFERENTIAL, INCONSISTENT, CENTRAL, DEVIATION, INACCURATE,
    *DISCREPANCY.values(), HALO, DRIFT,
)  # fmt: skip
"""Every test, in report order."""


def suspending_kind(kind: Kind) -> str:
    """The name of a flag kind in the rules ``flags.suspend_<name>``
    (:data:`calibrate.rules.SUSPENDING`): severe and lenient are one, ``severity``.

    >>> suspending_kind("lenient"), suspending_kind("halo")
    ('severity', 'halo')
    """
    return "severity" if kind in ("severe", "lenient") else kind


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Flag:
    """One flag on one assessor (and criterion, for a test per criterion).

    Attributes
    ----------
    kind : Kind
    assessor : str
    test : str
        The :attr:`FlagTest.name` that raised it.
    value : float
        The statistic (in the test's unit).
    low, high : float
        Its confidence interval at the report's level.
    threshold : float
        The threshold it lies beyond (for ``"beyond"`` tests: the tolerance around 0).
    n : int
        Ratings (or readings, or pairs: the test's evidence) behind it.
    p_value, q_value : float
        The interval-null test and its Benjamini-Hochberg adjusted value (``q <= fdr``).
    reason : str
        The flag in words an assessor could read.
    criterion : str or None
        The criterion, for a test per criterion.
    """

    kind: Kind
    assessor: str
    test: str
    value: float
    low: float
    high: float
    threshold: float
    n: int
    p_value: float
    q_value: float
    reason: str
    criterion: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "assessor": self.assessor,
            "criterion": self.criterion,
            "test": self.test,
            "value": self.value,
            "interval": [self.low, self.high],
            "threshold": self.threshold,
            "n": self.n,
            "p_value": self.p_value,
            "q_value": self.q_value,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Figure:
    """One assessor's (or assessor x criterion cell's) statistic in a test, flagged or not.

    Attributes
    ----------
    assessor : str
    criterion : str or None
    value, low, high : float
        The statistic and its interval (NaN where undefined).
    n : int
        Its evidence.
    tested : bool
        Whether the entry was tested (enough evidence, placed by the data).
    """

    assessor: str
    criterion: str | None
    value: float
    low: float
    high: float
    n: int
    tested: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "interval": [self.low, self.high],
            "n": self.n,
            "tested": self.tested,
        }


@dataclass(frozen=True)
class FlagTestResult:
    """One test over the assessors.

    Attributes
    ----------
    test : FlagTest
    threshold : float
    flags : tuple of Flag
        Raised, strongest evidence first.
    tested : int
        Assessors (or cells) tested.
    not_tested : dict of str -> str
        Assessors not tested, with why (``"12 ratings, fewer than 30"``).
    fdr : float
    figures : tuple of Figure
        Every entry's statistic, tested or not (for tables and charts of the whole pool).
    """

    test: FlagTest
    threshold: float
    flags: tuple[Flag, ...]
    tested: int
    not_tested: dict[str, str]
    fdr: float
    figures: tuple[Figure, ...] = ()
    false_by_chance: float | None = None
    """Expected false flags when the test holds them otherwise than by the false discovery
    rate (a control chart: readings / in-control ARL)."""

    @property
    def expected_false(self) -> float:
        """Expected number of false flags among those raised, at most (``fdr`` x flags), or
        :attr:`false_by_chance` where the test says so."""
        if self.false_by_chance is not None:
            return self.false_by_chance
        return self.fdr * len(self.flags)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.test.to_dict(),
            "threshold": self.threshold,
            "tested": self.tested,
            "flagged": len(self.flags),
            "expected_false_flags": self.expected_false,
            "not_tested": dict(self.not_tested),
        }


@dataclass(frozen=True)
class FlagReport:
    """Every test over the assessors of one window of data.

    Attributes
    ----------
    results : tuple of FlagTestResult
    assessors : tuple of str
        Every assessor in the data, sorted.
    fdr, level : float
        The false discovery rate of each test and the coverage of the intervals.
    window : str
        The data read (``"live work and validity anchors on crsel-intro@1, 2026-01-05 to
        2026-06-30"``).
    """

    results: tuple[FlagTestResult, ...]
    assessors: tuple[str, ...]
    fdr: float
    level: float
    window: str
    notes: tuple[str, ...] = field(default=())

    @property
    def flags(self) -> tuple[Flag, ...]:
        """Every flag, strongest evidence first."""
        return tuple(sorted((f for r in self.results for f in r.flags), key=lambda f: f.q_value))

    @property
    def expected_false(self) -> float:
        """Expected number of false flags among all raised, at most."""
        return sum(r.expected_false for r in self.results)

    def of(self, assessor: str) -> tuple[Flag, ...]:
        """The flags of one assessor."""
        return tuple(f for f in self.flags if f.assessor == assessor)

    def result(self, name: str) -> FlagTestResult | None:
        """The result of the test named ``name`` (None when it did not run)."""
        return next((r for r in self.results if r.test.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        by: dict[str, list[dict[str, Any]]] = {a: [] for a in self.assessors}
        for f in self.flags:
            by.setdefault(f.assessor, []).append(f.to_dict())
        not_tested: dict[str, dict[str, str]] = {a: {} for a in self.assessors}
        for r in self.results:
            for who, why in r.not_tested.items():
                not_tested.setdefault(who.split(" / ")[0], {})[r.test.name] = why
        figures: dict[str, dict[str, Any]] = {a: {} for a in self.assessors}
        for r in self.results:
            for g in r.figures:
                key = r.test.name if g.criterion is None else f"{r.test.name}/{g.criterion}"
                figures.setdefault(g.assessor, {})[key] = g.to_dict()
        return {
            "window": self.window,
            "fdr": self.fdr,
            "level": self.level,
            "expected_false_flags": self.expected_false,
            "tests": [r.to_dict() for r in self.results],
            "assessors": [
                {
                    "id": a,
                    "flags": by[a],
                    "not_tested": not_tested.get(a, {}),
                    "figures": figures.get(a, {}),
                }
                for a in by
            ],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------- the test


def beyond_tolerance(estimate: ArrayLike, se: ArrayLike, tolerance: float) -> FloatArray:
    """One-sided p-values of the interval null ``|theta| <= tolerance`` against ``|theta| >
    tolerance`` in the direction of each estimate: ``1 - Phi((|estimate| - tolerance) / se)``
    (the test dual to an interval lying beyond the tolerance; Wellek 2010, ch. 2).

    >>> beyond_tolerance([1.5, 0.5, -1.5], [0.25, 0.25, 0.25], 0.5).round(5).tolist()
    [3e-05, 0.5, 3e-05]
    """
    x = np.abs(np.asarray(estimate, dtype=float)) - tolerance
    return np.asarray(norm.sf(x / np.asarray(se, dtype=float)), dtype=float)


def one_sided(
    estimate: ArrayLike,
    se: ArrayLike,
    threshold: float,
    direction: Direction,
    df: ArrayLike | None = None,
) -> FloatArray:
    """p-values of the null that the statistic lies on the acceptable side of ``threshold``:
    ``"above"`` tests ``theta > threshold``, ``"below"`` tests ``theta < threshold``,
    ``"beyond"`` tests ``|theta| > threshold``; normal, or Student's t on ``df`` degrees of
    freedom (NaN where ``df`` < 1).

    >>> one_sided([0.40, 0.60], [0.05, 0.05], 0.5, "below").round(4).tolist()
    [0.0228, 0.9772]
    """
    from scipy.stats import t as student

    e = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    if direction == "beyond":
        x = np.abs(e) - threshold
    else:
        x = e - threshold if direction == "above" else threshold - e
    with np.errstate(invalid="ignore", divide="ignore"):
        z = x / s
        if df is None:
            return np.asarray(norm.sf(z), dtype=float)
        dof = np.asarray(df, dtype=float)
        return np.asarray(student.sf(z, np.where(dof >= 1, dof, np.nan)), dtype=float)


def run_test(
    test: FlagTest,
    assessors: Sequence[str],
    value: ArrayLike,
    low: ArrayLike,
    high: ArrayLike,
    p_value: ArrayLike,
    n: ArrayLike,
    *,
    threshold: float,
    min_n: int,
    fdr: float,
    untested: dict[int, str] | None = None,
    criteria: Sequence[str | None] | None = None,
    reason: Callable[[int, Kind], str],
    evidence: str = "ratings",
) -> FlagTestResult:
    """Flag the entries (assessors, or assessor x criterion cells) whose ``p_value`` survives
    Benjamini-Hochberg at ``fdr`` among the entries tested: those with at least ``min_n`` of
    evidence, a finite value and p-value, and not in ``untested`` (entry -> why).

    ``reason(j, kind)`` words the flag of entry ``j``.

    Raises
    ------
    CalibrateError
        Arrays of different lengths, ``fdr`` outside (0, 1).

    Examples
    --------
    >>> r = run_test(SEVERITY, ["A", "B", "C"], [1.6, 0.1, -0.9], [1.2, -0.3, -1.5],
    ...              [2.0, 0.5, -0.3], beyond_tolerance([1.6, 0.1, -0.9], [0.2, 0.2, 0.3], 0.5),
    ...              [80, 80, 10], threshold=0.5, min_n=30, fdr=0.05,
    ...              reason=lambda j, kind: kind)
    >>> [(f.assessor, f.kind) for f in r.flags], r.not_tested
    ([('A', 'severe')], {'C': '10 ratings, fewer than 30'})
    """
    v, lo, hi, p = (np.asarray(a, dtype=float) for a in (value, low, high, p_value))
    if test.unit in BOUNDS:  # a Wald interval of a share or a coefficient stays in its range
        lo, hi = (np.clip(x, *BOUNDS[test.unit]) for x in (lo, hi))
    counts = np.asarray(n, dtype=np.int64)
    if not (len(assessors) == v.size == lo.size == hi.size == p.size == counts.size):
        raise CalibrateError(f"flags ({test.name}): the arrays differ in length")
    if criteria is not None and len(criteria) != v.size:
        raise CalibrateError(f"flags ({test.name}): criteria differ in length")
    if not 0 < fdr < 1:
        raise CalibrateError("flags: the false discovery rate must lie in (0, 1)")
    untested = dict(untested or {})

    def label(j: int) -> str:
        c = None if criteria is None else criteria[j]
        return assessors[j] if c is None else f"{assessors[j]} / {c}"

    for j in range(v.size):
        if j in untested:
            continue
        if counts[j] < min_n:
            untested[j] = f"{counts[j]:,} {evidence}, fewer than {min_n:,}"
        elif not (np.isfinite(v[j]) and np.isfinite(p[j])):
            untested[j] = "the statistic is undefined on their data"
    idx = np.array([j for j in range(v.size) if j not in untested], dtype=np.int64)
    flags: list[Flag] = []
    if idx.size:
        q = false_discovery_control(p[idx], method="bh")
        for k in np.argsort(q, kind="stable"):
            if q[k] > fdr:
                break
            j = int(idx[k])
            kind = test.kinds[0] if test.direction != "beyond" or v[j] > 0 else test.kinds[1]
            flags.append(
                Flag(
                    kind=kind,
                    assessor=assessors[j],
                    test=test.name,
                    value=float(v[j]),
                    low=float(lo[j]),
                    high=float(hi[j]),
                    threshold=threshold,
                    n=int(counts[j]),
                    p_value=float(p[j]),
                    q_value=float(q[k]),
                    reason=reason(j, kind),
                    criterion=None if criteria is None else criteria[j],
                )
            )
    return FlagTestResult(
        test=test,
        threshold=threshold,
        flags=tuple(flags),
        tested=int(idx.size),
        not_tested={label(j): why for j, why in sorted(untested.items())},
        fdr=fdr,
        figures=tuple(
            Figure(
                assessors[j], None if criteria is None else criteria[j], float(v[j]),
                float(lo[j]), float(hi[j]), int(counts[j]), j not in untested,
            )
            for j in range(v.size)
        ),
    )  # fmt: skip


def _normal_interval(value: FloatArray, se: FloatArray, level: float) -> tuple[FloatArray, ...]:
    z = float(norm.ppf(0.5 + level / 2))
    return value - z * se, value + z * se


def _fdr_words(fdr: float) -> str:
    return f"flagged with a false discovery rate of {fdr:.0%}"


# --------------------------------------------------------------------------- the tests


def severity_test(
    assessors: Sequence[str],
    severity: ArrayLike,
    se: ArrayLike,
    n: ArrayLike,
    placed: ArrayLike,
    *,
    tolerance: float,
    min_ratings: int,
    fdr: float,
    level: float = 0.95,
    window: str = "",
) -> FlagTestResult:
    """Severity or leniency: the assessor's severity from the random-effects rater model, in
    score levels (positive = harsher), lies beyond ``tolerance`` levels of the pool's average
    (Myford & Wolfe 2003's severity effect with a tolerance worth acting on). Assessors the
    model cannot place (``placed`` False) are not tested.

    Examples
    --------
    >>> r = severity_test(["A", "B", "C"], [1.6, 0.1, -0.9], [0.2, 0.2, 0.3], [80, 80, 10],
    ...                   [True, True, True], tolerance=0.5, min_ratings=30, fdr=0.05)
    >>> [(f.assessor, f.kind) for f in r.flags], r.not_tested
    ([('A', 'severe')], {'C': '10 ratings, fewer than 30'})
    """
    s, e = np.asarray(severity, dtype=float), np.asarray(se, dtype=float)
    ok = np.asarray(placed, dtype=bool)
    if not (len(assessors) == s.size == e.size == ok.size):
        raise CalibrateError("severity flags: assessors, severity, se and placed differ in length")
    _check(tolerance, level)
    low, high = _normal_interval(s, e, level)
    counts = np.asarray(n, dtype=np.int64)

    def reason(j: int, kind: Kind) -> str:
        word = "more severely" if kind == "severe" else "more leniently"
        return (
            f"{assessors[j]} scores {word} than the pool's average by {abs(s[j]):.2f} score "
            f"levels ({level:.0%} interval {low[j]:+.2f} to {high[j]:+.2f}), beyond the "
            f"tolerance of {tolerance:g} levels, on {counts[j]:,} ratings{_of(window)}; "
            f"{_fdr_words(fdr)}."
        )

    return run_test(
        SEVERITY, assessors, s, low, high, beyond_tolerance(s, e, tolerance), counts,
        threshold=tolerance, min_n=min_ratings, fdr=fdr, reason=reason,
        untested={j: "the data cannot place them" for j in np.flatnonzero(~ok).tolist()},
    )  # fmt: skip


def deviation_test(
    assessors: Sequence[str],
    deviation: ArrayLike,
    low: ArrayLike,
    high: ArrayLike,
    se: ArrayLike,
    df: ArrayLike,
    n: ArrayLike,
    *,
    tolerance: float,
    min_ratings: int,
    fdr: float,
    level: float = 0.95,
    window: str = "",
) -> FlagTestResult:
    """Leniency or severity against the experts: the assessor's mean signed deviation from the
    expert scores of the validity anchors they scored lies beyond ``tolerance`` score levels,
    with the anchor-clustered standard error and Student's t on ``df`` (anchors - 1) degrees of
    freedom (:func:`calibrate.stats.accuracy.anchor_accuracy`).

    Examples
    --------
    >>> r = deviation_test(["A", "B"], [0.6, 0.1], [0.45, -0.1], [0.75, 0.3], [0.07, 0.1],
    ...                    [30, 30], [90, 90], tolerance=0.25, min_ratings=30, fdr=0.05)
    >>> [(f.assessor, f.kind) for f in r.flags]
    [('A', 'lenient')]
    """
    d, e = np.asarray(deviation, dtype=float), np.asarray(se, dtype=float)
    lo, hi = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    _check(tolerance, level)
    dof = np.asarray(df, dtype=float)
    p = one_sided(d, e, tolerance, "beyond", dof)
    counts = np.asarray(n, dtype=np.int64)

    def reason(j: int, kind: Kind) -> str:
        word = "above" if kind == "lenient" else "below"
        return (
            f"{assessors[j]} scores validity anchors {abs(d[j]):.2f} levels {word} the experts "
            f"on average ({level:.0%} interval {lo[j]:+.2f} to {hi[j]:+.2f}), beyond the "
            f"tolerance of {tolerance:g} levels, on {counts[j]:,} ratings of "
            f"{int(dof[j]) + 1:,} anchors{_of(window)}; {_fdr_words(fdr)}."
        )

    return run_test(
        DEVIATION, assessors, d, lo, hi, p, counts, threshold=tolerance, min_n=min_ratings,
        fdr=fdr, reason=reason,
        untested={j: "fewer than 2 anchors" for j in np.flatnonzero(~(dof >= 1)).tolist()},
    )  # fmt: skip


def differential_test(
    assessors: Sequence[str],
    criteria: Sequence[str],
    shift: ArrayLike,
    se: ArrayLike,
    n: ArrayLike,
    *,
    tolerance: float,
    min_ratings: int,
    fdr: float,
    level: float = 0.95,
    window: str = "",
) -> FlagTestResult:
    """Differential severity: one assessor x criterion cell's severity beyond the assessor's
    own, in score levels (positive = harsher on that criterion), beyond ``tolerance``; one
    entry per cell, the false discovery rate held over the cells tested."""
    v, e = np.asarray(shift, dtype=float), np.asarray(se, dtype=float)
    _check(tolerance, level)
    low, high = _normal_interval(v, e, level)
    counts = np.asarray(n, dtype=np.int64)

    def reason(j: int, kind: Kind) -> str:
        word = "more severely" if v[j] > 0 else "more leniently"
        return (
            f"{assessors[j]} scores criterion {criteria[j]} {word} than their own scores of "
            f"the other criteria predict, by {abs(v[j]):.2f} score levels ({level:.0%} "
            f"interval {low[j]:+.2f} to {high[j]:+.2f}), beyond the tolerance of "
            f"{tolerance:g} levels, on {counts[j]:,} ratings of it{_of(window)}; "
            f"{_fdr_words(fdr)}."
        )

    return run_test(
        DIFFERENTIAL, assessors, v, low, high, beyond_tolerance(v, e, tolerance), counts,
        threshold=tolerance, min_n=min_ratings, fdr=fdr, reason=reason, criteria=criteria,
    )  # fmt: skip


def inconsistent_test(
    assessors: Sequence[str],
    found: MeanSquareTest,
    n: ArrayLike,
    *,
    min_ratings: int,
    fdr: float,
    window: str = "",
) -> FlagTestResult:
    """Inconsistency: the assessor's infit mean square (information-weighted unpredictability
    of their scores given the submissions, criteria and their own severity) above the
    productive range's top, ``found.upper`` (Wright & Linacre 1994: 0.5-1.5), by the
    chi-square test on the model's degrees of freedom."""
    ms, ci = found.estimate, found.interval
    counts = np.asarray(n, dtype=np.int64)
    level = ci.level

    def reason(j: int, kind: Kind) -> str:
        return (
            f"{assessors[j]}'s scores are less predictable than the model expects: infit mean "
            f"square {ms[j]:.2f} ({level:.0%} interval {ci.low[j]:.2f} to {ci.high[j]:.2f}, 1 "
            f"expected), above {found.upper:g}, on {counts[j]:,} ratings{_of(window)}; "
            f"{_fdr_words(fdr)}."
        )

    return run_test(
        INCONSISTENT, assessors, ms, ci.low, ci.high, found.p_above, counts,
        threshold=found.upper, min_n=min_ratings, fdr=fdr, reason=reason,
    )  # fmt: skip


def central_test(
    assessors: Sequence[str],
    spread: ArrayLike,
    se: ArrayLike,
    n: ArrayLike,
    *,
    threshold: float,
    min_ratings: int,
    fdr: float,
    level: float = 0.95,
    window: str = "",
) -> FlagTestResult:
    """Central tendency: the multiplier of the assessor's rating-scale thresholds against the
    pool's (1: the pool's scale) above ``threshold``: the middle levels take more of the
    continuum, the top and bottom levels are avoided (Myford & Wolfe 2004)."""
    v, e = np.asarray(spread, dtype=float), np.asarray(se, dtype=float)
    _check(threshold, level)
    low, high = _normal_interval(v, e, level)
    counts = np.asarray(n, dtype=np.int64)

    def reason(j: int, kind: Kind) -> str:
        return (
            f"{assessors[j]} keeps to the middle levels: their scale's thresholds are spread "
            f"{v[j]:.2f} times the pool's ({level:.0%} interval {low[j]:.2f} to {high[j]:.2f}), "
            f"above {threshold:g}, on {counts[j]:,} ratings{_of(window)}; {_fdr_words(fdr)}."
        )

    return run_test(
        CENTRAL, assessors, v, low, high, one_sided(v, e, threshold, "above"), counts,
        threshold=threshold, min_n=min_ratings, fdr=fdr, reason=reason,
    )  # fmt: skip


def discrepancy_tests(
    assessors: Sequence[str],
    found: ReaderDiscrepancy,
    thresholds: FlagThresholds,
    *,
    level: float = 0.95,
    window: str = "",
) -> list[FlagTestResult]:
    """Discrepancy in double scoring against RSMTool's human-human thresholds (Williamson, Xi
    & Breyer 2012): exact and adjacent agreement, quadratic weighted kappa and correlation
    with the other readers below their minimum, standardized mean difference beyond its
    maximum; t tests on the submissions (clusters) less one, evidence counted in pairs."""
    t = thresholds
    limits = {
        "exact": t.min_exact,
        "adjacent": t.min_adjacent,
        "qwk": t.min_qwk,
        "correlation": t.min_correlation,
        "smd": t.max_smd,
    }
    pairs, units = found.n_pairs, found.n_units
    out = []
    for name, test in DISCREPANCY.items():
        value = getattr(found, name)
        se = getattr(found, f"{name}_se")
        ci = found.confidence_interval(name, level)  # type: ignore[arg-type]
        limit = limits[name]
        p = one_sided(value, se, limit, test.direction, units - 1)

        def reason(j: int, kind: Kind, name: str = name, v: Any = value, ci: Any = ci) -> str:
            figure = _discrepancy_words(
                name, v[j], ci.low[j], ci.high[j], limits[name], int(pairs[j]), level
            )
            return (f"{assessors[j]} {figure}, on {units[j]:,} double-scored submissions"
                    f"{_of(window)}; {_fdr_words(t.fdr)}.")  # fmt: skip

        out.append(
            run_test(
                test, assessors, value, ci.low, ci.high, p, pairs, threshold=limit,
                min_n=t.min_ratings, fdr=t.fdr, reason=reason, evidence="paired scores",
            )
        )  # fmt: skip
    return out


def _discrepancy_words(
    name: str, v: float, lo: float, hi: float, limit: float, pairs: int, level: float
) -> str:
    """What a discrepancy statistic says, in words."""
    if name in ("exact", "adjacent"):
        what = "exactly" if name == "exact" else "within one level"
        return (
            f"agrees {what} with the other readers of the same submissions on {v:.0%} of "
            f"{pairs:,} scores ({level:.0%} interval {lo:.0%} to {hi:.0%}), below {limit:.0%}"
        )
    if name == "smd":
        side = "above" if v > 0 else "below"
        return (
            f"scores {abs(v):.2f} standard deviations {side} the other readers of the same "
            f"submissions ({level:.0%} interval {lo:+.2f} to {hi:+.2f}), beyond {limit:g}"
        )
    what = "quadratic weighted kappa" if name == "qwk" else "correlation"
    return (
        f"has a {what} of {v:.2f} with the other readers of the same submissions "
        f"({level:.0%} interval {lo:.2f} to {hi:.2f}), below {limit:g}"
    )


def inaccurate_test(
    assessors: Sequence[str],
    found: ReaderDiscrepancy,
    thresholds: FlagThresholds,
    *,
    level: float = 0.95,
    window: str = "",
) -> FlagTestResult:
    """Low accuracy on validity anchors: the assessor's exact agreement with the experts'
    scores below ``flags.min_exact``; ``found`` pairs each assessor's scores with the experts'
    (:func:`calibrate.stats.discrepancy.reader_discrepancy`, one unit per reading), t test on
    the readings less one."""
    t = thresholds
    ci = found.confidence_interval("exact", level)
    p = one_sided(found.exact, found.exact_se, t.min_exact, "below", found.n_units - 1)
    exact, pairs, readings = found.exact, found.n_pairs, found.n_units

    def reason(j: int, kind: Kind) -> str:
        return (
            f"{assessors[j]} gives the experts' score on {exact[j]:.0%} of {pairs[j]:,} scores "
            f"of validity anchors ({level:.0%} interval {ci.low[j]:.0%} to {ci.high[j]:.0%}), "
            f"below {t.min_exact:.0%}, on {readings[j]:,} readings{_of(window)}; "
            f"{_fdr_words(t.fdr)}."
        )

    return run_test(
        INACCURATE, assessors, exact, ci.low, ci.high, p, pairs, threshold=t.min_exact,
        min_n=t.min_ratings, fdr=t.fdr, reason=reason, evidence="scores of anchors",
    )  # fmt: skip


def halo_test(
    assessors: Sequence[str],
    found: HaloIndex,
    *,
    share: float,
    min_readings: int,
    fdr: float,
    level: float = 0.95,
    window: str = "",
) -> FlagTestResult:
    """Halo: the assessor's readings are flatter across criteria than the reference readings
    of the same submissions by more than keeping ``share`` of the reference's variance allows:
    the threshold is ``-(1 - sqrt(share))`` times the mean reference SD across criteria (the
    0.5 lower bound of productive fit mean squares, Wright & Linacre 1994, read as variance
    kept; halo shows as overfit, Myford & Wolfe 2004). t test on the clustered SE."""
    n = found.n_readings
    weight = n.sum()
    reference = float(np.nansum(found.reference_sd * n) / weight) if weight else float("nan")
    limit = -(1.0 - float(np.sqrt(share))) * reference
    ci = found.confidence_interval(level)
    p = one_sided(found.halo, found.se, limit, "below", found.n_units - 1)
    h = found.halo

    def reason(j: int, kind: Kind) -> str:
        return (
            f"{assessors[j]} scores the criteria of one submission more alike than the other "
            f"reader or the experts do: their spread across criteria is {abs(h[j]):.2f} levels "
            f"{'smaller' if h[j] < 0 else 'larger'} on average ({level:.0%} interval "
            f"{ci.low[j]:+.2f} to {ci.high[j]:+.2f}), beyond {abs(limit):.2f} (keeping under "
            f"{share:.0%} of the reference's variation), on {n[j]:,} readings{_of(window)}; "
            f"{_fdr_words(fdr)}."
        )

    return run_test(
        HALO, assessors, h, ci.low, ci.high, p, n, threshold=limit, min_n=min_readings,
        fdr=fdr, reason=reason, evidence="paired readings",
    )  # fmt: skip


def drift_test(
    charts: Sequence[AssessorChart],
    *,
    sd: float,
    k: float,
    arl0: int,
    min_readings: int,
    level: float = 0.95,
    window: str = "",
) -> FlagTestResult:
    """Drift: an assessor's control chart on validity anchors signalled. The figure is the
    mean deviation from the experts over the run of readings that raised the alarm (the
    CUSUM's estimate of the shift, Montgomery 2009 Eq. 9.4), in score levels, with a normal
    interval from the charts' in-control SD (optimistic: the run was chosen by the chart);
    the threshold is the drift the chart is tuned beyond (``k`` SDs, in levels). Charts on
    fewer than ``min_readings`` readings are not tested, alarm or not (ten ratings never make
    a flag); the false flags expected are the readings charted over ``arl0``."""
    z = float(norm.ppf(0.5 + level / 2))
    flags: list[Flag] = []
    not_tested: dict[str, str] = {}
    tested = 0
    for chart in charts:
        alarm = chart.alarm
        if chart.n_readings < min_readings:  # an alarm too: the chart's SD is the pool's
            not_tested[chart.assessor] = (
                f"{chart.n_readings:,} validity readings, fewer than {min_readings:,}"
            )
            continue
        tested += 1
        if alarm is None:
            continue
        run = alarm.reading - alarm.start_reading + 1
        half = z * sd / float(np.sqrt(run))
        value = alarm.shift_score
        flags.append(
            Flag(
                kind="drift",
                assessor=chart.assessor,
                test=DRIFT.name,
                value=value,
                low=value - half,
                high=value + half,
                threshold=k * sd,
                n=alarm.readings,
                p_value=float("nan"),
                q_value=float("nan"),
                reason=(
                    f"{alarm.sentence} ({level:.0%} interval {value - half:+.2f} to "
                    f"{value + half:+.2f} levels), on {alarm.readings:,} validity readings"
                    f"{_of(window)}; the chart signals by chance once in {arl0:,} readings."
                ),
            )
        )
    figures = []
    for chart in charts:  # the mean deviation of all readings (of the alarm's run if any)
        mine = [f for f in flags if f.assessor == chart.assessor]
        if mine:
            value, low, high = mine[0].value, mine[0].low, mine[0].high
        else:
            value = float(np.mean(chart.deviation))
            half = z * sd / float(np.sqrt(chart.n_readings))
            low, high = value - half, value + half
        figures.append(
            Figure(
                chart.assessor,
                None,
                value,
                low,
                high,
                chart.n_readings,
                chart.assessor not in not_tested,
            )
        )
    return FlagTestResult(
        test=DRIFT,
        threshold=k * sd,
        flags=tuple(flags),
        tested=tested,
        not_tested=not_tested,
        fdr=float("nan"),
        figures=tuple(figures),
        false_by_chance=sum(c.n_readings for c in charts) / arl0,
    )


def _check(tolerance: float, level: float) -> None:
    if tolerance < 0 or not 0 < level < 1:
        raise CalibrateError("flags: a tolerance >= 0 and a level in (0, 1)")


def _of(window: str) -> str:
    return f" of {window}" if window else ""


# --------------------------------------------------------------------------- all tests at once


def assessor_flags(
    ratings: Ratings,
    rubric: Rubric,
    thresholds: FlagThresholds,
    *,
    anchor_sets: Sequence[AnchorSet] = (),
    drift: DriftDesign | None = None,
    level: float = 0.95,
    window: str = "",
    progress: Progress | None = None,
) -> FlagReport:
    """Every test (:data:`TESTS`) over the assessors of one rubric's live work.

    Parameters
    ----------
    ratings : Ratings
        Live ratings and the ratings of validity anchors seeded among them (units of anchors
        labelled ``anchor:<id>``, as the store gives them, or the bare anchor id in a file with
        a ``context`` column saying ``validity``); rows of other rubrics or contexts are left
        out.
    rubric : Rubric
    thresholds : FlagThresholds
        The rubric's programme rules ``flags.*``.
    anchor_sets : sequence of AnchorSet
        The rubric's anchor sets, for the tests against the experts (left out without them).
    drift : DriftDesign, optional
        The rubric's rules ``drift.*``: the control charts on validity anchors (left out
        without them, or without anchor sets).
    level : float
        Coverage of the intervals.
    window : str
        The data read, in words (part of every reason).
    progress : callable, optional
        ``progress(step, steps, label)`` as each test runs.

    Raises
    ------
    CalibrateError
        No live rating of the rubric; anchors that are not in ``anchor_sets``.
    """
    from calibrate.analyses.accuracy import accuracy_report, procedure_rows
    from calibrate.stats.discrepancy import reader_discrepancy

    work = procedure_rows(ratings, rubric, ("live", "validity"))
    if not len(work):
        raise CalibrateError(f"no live ratings of {rubric.key} to flag from")
    steps = 5
    say = progress or (lambda step, total, label: None)
    t = thresholds
    names = list(work.raters)
    say(0, steps, "rater model")
    results = _rater_model_tests(work, rubric, t, level=level, window=window)
    notes = []
    say(1, steps, "validity anchors")
    validity, expert = _validity(work, rubric, anchor_sets)
    if validity is not None:
        report = accuracy_report(validity, anchor_sets, rubric, confidence=level)
        who = sorted(report.assessors)
        rows = [report.assessors[w] for w in who]
        results.append(
            deviation_test(
                who,
                [r.mean_deviation for r in rows],
                [r.mean_deviation_ci.low for r in rows],
                [r.mean_deviation_ci.high for r in rows],
                [r.mean_deviation_se for r in rows],
                [r.n_anchors - 1 for r in rows],
                [r.n for r in rows],
                tolerance=t.deviation_levels, min_ratings=t.min_ratings, fdr=t.fdr,
                level=level, window=window,
            )
        )  # fmt: skip
        results.append(inaccurate_test(names, _against_experts(work, expert, rubric), t,
                                       level=level, window=window))  # fmt: skip
    else:
        notes.append("no validity anchors with expert scores: the tests against the experts "
                     "were not run")  # fmt: skip
    say(2, steps, "double scoring")
    live = ~_is_validity(work)
    cells = work.unit[live] * (len(work.criteria) + 1) + work.criterion[live]
    double = np.unique(cells).size < cells.size  # some submission and criterion read twice
    if double:
        results += discrepancy_tests(
            names,
            reader_discrepancy(
                work.unit[live], work.rater[live], work.criterion[live], work.value[live],
                n_raters=len(names), levels=rubric.scores,
            ),
            t, level=level, window=window,
        )  # fmt: skip
    else:
        notes.append("no live submission was read twice: the tests of double scoring were not "
                     "run")  # fmt: skip
    say(3, steps, "halo")
    if len(work.criteria) > 1 and (double or (~live & ~np.isnan(expert)).any()):
        n_criteria = max(len(rubric.criterion_ids), 1)
        results.append(
            halo_test(
                names, _halo(work, live, expert), share=t.halo_share,
                min_readings=-(-t.min_ratings // n_criteria), fdr=t.fdr, level=level,
                window=window,
            )
        )  # fmt: skip
    say(4, steps, "control charts")
    if drift is not None and validity is not None:
        from calibrate.analyses.drift import control_charts

        _, sd, charts, chart_notes = control_charts(
            work, anchor_sets, rubric, k=drift.k, arl0=drift.arl0,
            min_readings=drift.min_readings,
        )  # fmt: skip
        notes += chart_notes
        results.append(
            drift_test(charts, sd=sd, k=drift.k, arl0=drift.arl0,
                       min_readings=drift.min_readings, level=level, window=window)
        )  # fmt: skip
    say(steps, steps, "done")
    return FlagReport(
        results=tuple(results),
        assessors=tuple(sorted(names)),
        fdr=t.fdr,
        level=level,
        window=window,
        notes=tuple(notes),
    )


def _rater_model_tests(
    work: Ratings, rubric: Rubric, t: FlagThresholds, *, level: float, window: str
) -> list[FlagTestResult]:
    """Severity, differential severity, inconsistency and central tendency from one fit of
    the random-effects rater model to the live work; logits converted to score levels at each
    assessor's (cell's) ratings: the mean change of the expected score when the effect is
    removed (Linacre's fair average), its standard error by the mean slope of the expected
    score (the model variance of a rating; delta method)."""
    from calibrate.stats.rater_effects import (
        local_shift,
        mean_square_intervals,
        mean_squares,
        rating_moments,
        scale_spread,
        score_shift,
    )
    from calibrate.stats.severity import fit_severity

    names = list(work.raters)
    u, r, c, x = work.unit, work.rater, work.criterion, work.value
    fit = fit_severity(u, r, c, x, categories=rubric.scores, level=level)
    a = fit.assessors
    variance = rating_moments(fit, u, r, c, x).variance  # levels per logit, per rating
    sev = np.zeros(len(names))
    sev[a.code] = a.severity
    levels = _mean_by(r, score_shift(fit, u, r, c, x, sev[r]), len(names))[a.code]
    slope = _mean_by(r, variance, len(names))[a.code]
    results = [
        severity_test(
            [names[int(k)] for k in a.code], levels, a.se * slope, a.n, a.placed,
            tolerance=t.severity_levels, min_ratings=t.min_ratings, fdr=t.fdr, level=level,
            window=window,
        )
    ]  # fmt: skip
    n_crit = len(work.criteria)
    n_cells = len(names) * n_crit
    cell = r * n_crit + c
    bias = local_shift(fit, u, r, c, x, cell, n_groups=n_cells)
    known = np.nan_to_num(bias.estimate)
    moved = _mean_by(cell, score_shift(fit, u, r, c, x, known[cell]), n_cells)
    moved[~np.isfinite(bias.estimate)] = np.nan
    codes = np.arange(n_cells)
    results.append(
        differential_test(
            [names[k // n_crit] for k in codes], [work.criteria[k % n_crit] for k in codes],
            moved, bias.se * _mean_by(cell, variance, n_cells), bias.n,
            tolerance=t.differential_levels, min_ratings=t.min_ratings, fdr=t.fdr,
            level=level, window=window,
        )
    )  # fmt: skip
    ms = mean_squares(fit, u, r, c, x)
    tested = mean_square_intervals(
        ms.infit, ms.infit_df, level=level, lower=t.fit_low, upper=t.fit_high
    )
    results.append(
        inconsistent_test(
            [names[int(k)] for k in ms.code],
            tested,
            ms.n,
            min_ratings=t.min_ratings,
            fdr=t.fdr,
            window=window,
        )
    )
    spread = scale_spread(fit, u, r, c, x, r, n_groups=len(names))
    results.append(
        central_test(
            names, spread.estimate, spread.se, spread.n, threshold=t.central_spread,
            min_ratings=t.min_ratings, fdr=t.fdr, level=level, window=window,
        )
    )  # fmt: skip
    return results


def _mean_by(group: NDArray[np.int64], x: FloatArray, size: int) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.bincount(group, weights=x, minlength=size) / np.bincount(group, minlength=size)


def _is_validity(work: Ratings) -> NDArray[np.bool_]:
    if "context" not in work.columns:
        return np.zeros(len(work), dtype=bool)
    return np.asarray(work.columns["context"] == "validity", dtype=bool)


def _validity(
    work: Ratings, rubric: Rubric, anchor_sets: Sequence[AnchorSet]
) -> tuple[Ratings | None, FloatArray]:
    """The rows of validity anchors (None without any, or without anchor sets) and the expert
    score of each row of ``work`` (NaN for live work)."""
    from calibrate.analyses.accuracy import ANCHOR_PREFIX

    expert = np.full(len(work), np.nan)
    is_validity = _is_validity(work)
    if not anchor_sets or not is_validity.any():
        return None, expert
    criteria = rubric.criterion_ids
    score = {
        (a.id, c): float(v)
        for s in anchor_sets
        for a, row in zip(s.anchors, s.expert_scores(criteria), strict=True)
        for c, v in zip(criteria, row, strict=True)
    }
    for i in np.flatnonzero(is_validity):
        anchor = work.units[work.unit[i]].removeprefix(ANCHOR_PREFIX)
        expert[i] = score.get((anchor, work.criteria[work.criterion[i]]), np.nan)
    return work.subset(is_validity), expert


def _against_experts(work: Ratings, expert: FloatArray, rubric: Rubric) -> ReaderDiscrepancy:
    """Each assessor's scores of validity anchors paired with the experts' (a reader of code
    ``len(raters)``), one unit per reading so that assessors are never paired together."""
    from calibrate.analyses.accuracy import reading_index, round_codes
    from calibrate.stats.discrepancy import ReaderDiscrepancy, reader_discrepancy

    rows = np.flatnonzero(~np.isnan(expert))
    _, reading = reading_index(
        work.unit[rows], work.rater[rows], work.criterion[rows], round_codes(work)[rows]
    )  # an anchor read twice by one assessor is two readings
    n = len(work.raters)
    found = reader_discrepancy(
        np.concatenate([reading, reading]),
        np.concatenate([work.rater[rows], np.full(rows.size, n)]),
        np.concatenate([work.criterion[rows], work.criterion[rows]]),
        np.concatenate([work.value[rows], expert[rows]]),
        n_raters=n + 1, levels=rubric.scores,
    )  # fmt: skip
    kept: dict[str, Any] = {
        f: getattr(found, f)[:n] if f != "levels" else found.levels
        for f in ReaderDiscrepancy.__dataclass_fields__
    }
    return ReaderDiscrepancy(**kept)


def _halo(work: Ratings, live: NDArray[np.bool_], expert: FloatArray) -> HaloIndex:
    """:func:`~calibrate.stats.discrepancy.halo_index` over paired readings: each live reading
    against every other reading of the same submission (both ways), and each reading of a
    validity anchor against the experts' scores."""
    from calibrate.analyses.accuracy import reading_index, round_codes
    from calibrate.stats._tabulate import pairs_within
    from calibrate.stats.discrepancy import halo_index

    idx = np.flatnonzero(live)
    order = idx[np.lexsort((work.rater[idx], work.criterion[idx], work.unit[idx]))]
    key = work.unit[order] * (len(work.criteria) + 1) + work.criterion[order]
    i, j = pairs_within(key)
    first, second = order[i], order[j]
    both = np.concatenate([first, second])
    other = np.concatenate([second, first])
    anchors = np.flatnonzero(~live & ~np.isnan(expert))
    _, occasion = reading_index(
        work.unit[anchors], work.rater[anchors], work.criterion[anchors],
        round_codes(work)[anchors],
    )  # fmt: skip
    rows = np.concatenate([both, anchors])
    reference = np.concatenate([work.value[other], expert[anchors]])
    partner = np.concatenate([work.rater[other], -1 - occasion])  # the experts, per reading
    _, reading = np.unique(
        np.stack([work.unit[rows], work.rater[rows], partner]), axis=1, return_inverse=True
    )
    return halo_index(
        reading.ravel(), work.rater[rows], work.criterion[rows], work.value[rows], reference,
        cluster=work.unit[rows], n_raters=len(work.raters),
    )  # fmt: skip
