"""Drift of assessors over time: the use case behind ``calibrate drift``.

:func:`drift_report` reads one rubric's live work (live submissions and the validity anchors
seeded among them) three ways:

- **Accuracy on validity anchors, charted**: each reading of an anchor gives the mean signed
  deviation of the assessor's scores from the experts' (positive = lenient), standardised by
  the in-control SD of one assessor's readings
  (:func:`~calibrate.stats.drift.anchor_observations`) and centred on the assessor's own level
  over their first ``drift.min_readings`` readings (a steady leniency is the severity tests'
  finding; drift is change); a two-sided tabular CUSUM per assessor
  (:func:`~calibrate.stats.drift.cusum`) with the reference value ``drift.k`` and the decision
  interval ``h`` that gives the in-control average run length ``drift.arl0`` allowing for the
  estimated centre (:func:`chart_design`). An alarm says when, in which direction, and from
  which reading the shift likely started.
- **Severity per time window**: one random-effects rater model
  (:func:`~calibrate.stats.severity.fit_severity`) over the whole period in which each
  assessor is a separate rater in each window of ``drift.window_days``, so every
  assessor-window severity lies on one scale; the change between an assessor's consecutive
  windows is tested by :func:`~calibrate.stats.drift.severity_change`.
- **Pool drift**: the whole pool's mean deviation from the experts on validity anchors read in
  two consecutive windows, and its change (:func:`~calibrate.stats.drift.pool_drift`).

The store has no term column: windows run from the first rating, ``drift.window_days`` long.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import brentq

from calibrate.analyses.accuracy import (
    ANCHOR_PREFIX,
    anchor_ids_of,
    lookup_labels,
    procedure_rows,
    reading_index,
    round_codes,
)
from calibrate.anchors import AnchorSet
from calibrate.errors import CalibrateError, StatisticsError
from calibrate.ratings import Ratings, iso_utc
from calibrate.rubric import Rubric
from calibrate.stats import ConfidenceInterval
from calibrate.stats._input import Progress
from calibrate.stats.drift import (
    anchor_observations,
    cusum,
    cusum_arl,
    cusum_h,
    pool_drift,
    severity_change,
)
from calibrate.stats.severity import fit_severity

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
Direction = Literal["lenient", "severe"]
ChartStatus = Literal["alarm", "no drift detected", "too few readings"]
Verdict = Literal["more lenient", "more severe", "no change shown", "too few to tell"]

_DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class DriftAlarm:
    """The first signal of an assessor's chart.

    Attributes
    ----------
    assessor : str
    direction : {"lenient", "severe"}
        The upper statistic signalled (scores above the experts') or the lower one.
    statistic : float
        The signalling CUSUM statistic (:math:`C^+` or :math:`C^-`), in SD units.
    h : float
        The decision interval it exceeded.
    time : str
        When the alarming reading was made (UTC ISO 8601).
    reading : int
        The alarming reading's 1-based position in the assessor's stream.
    readings : int
        Validity-anchor readings of the assessor in the period.
    start_reading : int
        1-based position of the reading where the shift likely started: the first of the run of
        readings over which the signalling statistic stayed above 0 (Montgomery 2009, Sect.
        9.1.2).
    start_time : str
        When that reading was made.
    shift_sd : float
        Estimated shift of the assessor's mean deviation since then, in SDs (signed, positive =
        lenient): :math:`k + C/N` with :math:`N` readings in the run (Montgomery 2009, Eq. 9.4).
    shift_score : float
        The same in score levels per criterion (``shift_sd`` times the in-control SD).
    sentence : str
    """

    assessor: str
    direction: Direction
    statistic: float
    h: float
    time: str
    reading: int
    readings: int
    start_reading: int
    start_time: str
    shift_sd: float
    shift_score: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AssessorChart:
    """One assessor's CUSUM over their validity-anchor readings, in time order.

    Attributes
    ----------
    assessor : str
    status : {"alarm", "no drift detected", "too few readings"}
        An alarm; no alarm on at least ``drift.min_readings`` readings; no alarm on fewer.
    time : tuple of str
        Each reading's time (UTC ISO 8601).
    deviation : tuple of float
        Each reading's mean signed deviation from the experts, in score levels.
    upper, lower : tuple of float
        :math:`C^+` and :math:`C^-` after each reading (both non-negative).
    alarm : DriftAlarm or None
    """

    assessor: str
    status: ChartStatus
    time: tuple[str, ...]
    deviation: tuple[float, ...]
    upper: tuple[float, ...]
    lower: tuple[float, ...]
    alarm: DriftAlarm | None

    @property
    def n_readings(self) -> int:
        return len(self.time)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["n_readings"] = self.n_readings
        out["alarm"] = None if self.alarm is None else self.alarm.to_dict()
        for name in ("time", "deviation", "upper", "lower"):
            out[name] = list(out[name])
        return out


@dataclass(frozen=True)
class WindowSeverity:
    """An assessor's severity in one window (logits, positive = harsher than the pool average
    over all assessor-windows), from the whole-period fit."""

    assessor: str
    window: int
    n: int
    severity: float
    se: float
    placed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeverityShift:
    """Change of an assessor's severity from one window to their next.

    Attributes
    ----------
    assessor : str
    window_from, window_to : int
    change : float
        Severity in ``window_to`` minus in ``window_from`` (logits; positive = harsher).
    se : float
    interval : ConfidenceInterval
    p_value : float
    verdict : {"more lenient", "more severe", "no change shown", "too few to tell"}
        Follows the interval: it lies below / above 0, spans 0; "too few to tell" when either
        window does not place the assessor (no test).
    """

    assessor: str
    window_from: int
    window_to: int
    change: float
    se: float
    interval: ConfidenceInterval
    p_value: float
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = self.interval.to_list()
        return out


@dataclass(frozen=True)
class PoolShift:
    """The pool's mean deviation from the experts on validity anchors read in two consecutive
    windows, and its change.

    Attributes
    ----------
    window_from, window_to : int
    n_anchors : int
        Anchors read in both windows (the clusters); 0 when none was.
    n_ratings : tuple of int
        Ratings used in each window.
    n_assessors : tuple of int
        Assessors among them.
    mean : tuple of float
        Mean of assessor minus expert score in each window (score levels; positive = lenient).
    change : float
        ``mean[1] - mean[0]``.
    interval : ConfidenceInterval
        Student's t on ``n_anchors - 1`` df, clustered by anchor; NaN below two anchors.
    p_value : float
    verdict : {"more lenient", "more severe", "no change shown", "too few to tell"}
        The interval lies above 0, below 0, spans 0; fewer than two anchors read in both.
    sentence : str
    """

    window_from: int
    window_to: int
    n_anchors: int
    n_ratings: tuple[int, int]
    n_assessors: tuple[int, int]
    mean: tuple[float, float]
    change: float
    interval: ConfidenceInterval
    p_value: float
    verdict: Verdict
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = self.interval.to_list()
        for name in ("n_ratings", "n_assessors", "mean"):
            out[name] = list(out[name])
        return out


@dataclass(frozen=True)
class DriftReport:
    """Drift of one rubric's assessors over the period of its live work.

    Attributes
    ----------
    rubric : str
        ``id@version``.
    k, h : float
        The charts' reference value and decision interval (SD units).
    arl0 : float
        In-control average run length of the chart (readings), by the Markov chain
        (:func:`~calibrate.stats.drift.cusum_arl`) at ``k`` and ``h``.
    arl1 : float
        Average readings to signal a shift of ``2k`` SDs present from the first reading.
    sd : float
        In-control SD of one reading's mean deviation (score levels), from the readings'
        moving ranges within assessor (NaN without two readings of one assessor).
    min_readings : int
        Readings needed before a chart without alarm says "no drift detected".
    n_readings : int
        Validity-anchor readings charted.
    expected_false_alarms : float
        Alarms expected by chance over the charts shown if no assessor drifted:
        ``n_readings / arl0`` (each reading of an in-control assessor signals with probability
        about ``1 / arl0``).
    charts : tuple of AssessorChart
        One per assessor with a validity-anchor reading, in id order.
    window_days : int
    windows : tuple of (str, str)
        Start and end (UTC ISO 8601) of each window, from the first rating.
    severities : tuple of WindowSeverity
        Per assessor and window with ratings.
    severity_shifts : tuple of SeverityShift
        Per assessor, between consecutive windows in which they rated.
    expected_false_shifts : float
        Severity changes whose interval excludes 0 expected by chance among those tested
        (5% of them at 95% intervals).
    pool : tuple of PoolShift
        Between each pair of consecutive windows.
    confidence : float
    notes : tuple of str
        What was left out and why.
    """

    rubric: str
    k: float
    h: float
    arl0: float
    arl1: float
    sd: float
    min_readings: int
    n_readings: int
    expected_false_alarms: float
    charts: tuple[AssessorChart, ...]
    window_days: int
    windows: tuple[tuple[str, str], ...]
    severities: tuple[WindowSeverity, ...]
    severity_shifts: tuple[SeverityShift, ...]
    expected_false_shifts: float
    pool: tuple[PoolShift, ...]
    confidence: float
    notes: tuple[str, ...]

    @property
    def alarms(self) -> tuple[DriftAlarm, ...]:
        """The alarms, in order of their time."""
        found = [c.alarm for c in self.charts if c.alarm is not None]
        return tuple(sorted(found, key=lambda a: (a.time, a.assessor)))

    def chart(self, assessor: str) -> AssessorChart:
        """The chart of ``assessor``.

        Raises
        ------
        CalibrateError
            No validity-anchor reading of that assessor.
        """
        for c in self.charts:
            if c.assessor == assessor:
                return c
        raise CalibrateError(f"assessor {assessor!r} has no validity-anchor reading charted")

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (see README, Monitoring); NaN (no figure) as None."""
        out: dict[str, Any] = _no_nan(
            {
                "rubric": self.rubric,
                "k": self.k,
                "h": self.h,
                "arl0": self.arl0,
                "arl1": self.arl1,
                "sd": self.sd,
                "min_readings": self.min_readings,
                "n_readings": self.n_readings,
                "expected_false_alarms": self.expected_false_alarms,
                "alarms": [a.to_dict() for a in self.alarms],
                "charts": [c.to_dict() for c in self.charts],
                "window_days": self.window_days,
                "windows": [list(w) for w in self.windows],
                "severities": [s.to_dict() for s in self.severities],
                "severity_shifts": [s.to_dict() for s in self.severity_shifts],
                "expected_false_shifts": self.expected_false_shifts,
                "pool": [p.to_dict() for p in self.pool],
                "confidence": self.confidence,
                "notes": list(self.notes),
            }
        )
        return out


def _no_nan(x: Any) -> Any:
    """``x`` with every NaN float, at any depth of dicts and lists, as None."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_no_nan(v) for v in x]
    return x


def drift_report(
    ratings: Ratings,
    anchor_sets: Sequence[AnchorSet],
    rubric: Rubric,
    *,
    k: float,
    arl0: int,
    min_readings: int,
    window_days: int,
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> DriftReport:
    """Drift of every assessor of ``rubric``: control charts on validity anchors, severity by
    time window, and the pool's drift between windows.

    Parameters
    ----------
    ratings : Ratings
        Live and validity ratings of ``rubric`` with ``context`` and ``timestamp`` columns
        (validity units labelled ``anchor:<anchor-id>``, as the store gives them). Rows of
        other contexts or rubrics, and rows without a time, are left out (the notes count them).
    anchor_sets : sequence of AnchorSet
        The rubric's anchor sets: the expert scores of the validity anchors.
    rubric : Rubric
    k : float
        Reference value of the charts, in SDs of a reading's mean deviation (rule ``drift.k``).
    arl0 : int
        Target in-control average run length, in readings (rule ``drift.arl0``): sets ``h``.
    min_readings : int
        Readings before a chart without alarm says "no drift detected" (``drift.min_readings``).
    window_days : int
        Length of the windows of severity and pool drift (rule ``drift.window_days``).
    confidence : float
        Coverage of the intervals of the severity changes and the pool's change.
    progress : callable, optional
        ``progress(done, total, stage)`` of the severity fit (its Newton iterations).

    Returns
    -------
    DriftReport

    Raises
    ------
    CalibrateError
        No live or validity rating with a time; validity ratings of anchors not in the sets;
        a design whose ``arl0`` no ``h`` reaches.

    Notes
    -----
    *Charts.* The observations are deviations from the experts, each assessor's centred on
    their mean over their first ``min_readings`` readings (Phase I); ``h`` is widened for that
    estimated centre (:func:`chart_design`); the in-control SD is that of one assessor's
    consecutive readings (pooled moving ranges), so the anchors' own spread of difficulty is
    part of it. The chart's ARLs assume normal observations; a
    mean over a few criteria of a few levels is coarser, which the tests check by simulation.

    *Severity by window.* Fitting each window alone would put each on its own scale (the
    severities are centred per fit). Here one fit takes each assessor in each window as a rater
    of their own, so criteria, thresholds and the submissions' distribution are shared and the
    windows are linked by the anchors read in several of them. The difference between two
    windows of one assessor is then tested as if the two estimates were independent (they
    share the fixed effects, a small covariance, ignored); both are shrunk toward the pool
    average, which makes the test conservative. Severities are relative to the pool: a pool
    drifting as a whole shows in :attr:`DriftReport.pool`, not here.

    References
    ----------
    .. [1] Montgomery, D. C. (2009). Introduction to Statistical Quality Control (6th ed.),
       Sect. 9.1. Wiley.
    .. [2] Page, E. S. (1954). Continuous inspection schemes. Biometrika, 41(1/2), 100-115.
    """
    rows, stamps, days, notes = _timed(ratings, rubric)
    micros = stamps.view(np.int64)
    origin = int(micros.min())
    window = np.floor(days / window_days).astype(np.int64)
    n_windows = int(window.max()) + 1
    windows = tuple(
        tuple(
            str(v)
            for v in iso_utc(
                np.array([origin + w * window_days * _DAY_US, origin + (w + 1)
                          * window_days * _DAY_US], dtype="datetime64[us]")
            )
        )
        for w in range(n_windows)
    )  # fmt: skip

    h, arl0_chart, arl1 = chart_design(k, arl0, min_readings)
    validity, anchors = _validity_rows(rows, anchor_sets, rubric)
    sd, charts = _charted(rows, anchors, days, stamps, k, h, min_readings, notes)
    n_readings = sum(c.n_readings for c in charts)
    severities, shifts = _severities(rows, window, rubric, confidence, progress, notes)
    pool = _pool(rows, validity, anchors, window, n_windows, confidence)
    return DriftReport(
        rubric=rubric.key,
        k=k,
        h=h,
        arl0=arl0_chart,
        arl1=arl1,
        sd=sd,
        min_readings=min_readings,
        n_readings=n_readings,
        expected_false_alarms=n_readings / arl0_chart,
        charts=charts,
        window_days=window_days,
        windows=windows,  # type: ignore[arg-type]
        severities=severities,
        severity_shifts=shifts,
        expected_false_shifts=(1 - confidence)
        * sum(s.verdict != "too few to tell" for s in shifts),
        pool=pool,
        confidence=confidence,
        notes=tuple(notes),
    )


def control_charts(
    ratings: Ratings,
    anchor_sets: Sequence[AnchorSet],
    rubric: Rubric,
    *,
    k: float,
    arl0: int,
    min_readings: int,
) -> tuple[float, float, tuple[AssessorChart, ...], tuple[str, ...]]:
    """The assessors' control charts on validity anchors alone (as :func:`drift_report`
    draws them, without the severity fits): the decision interval ``h``, the in-control SD
    of a reading's mean deviation (score levels), the charts, and notes on what was left out.

    Raises
    ------
    CalibrateError
        As :func:`drift_report`.
    """
    rows, stamps, days, notes = _timed(ratings, rubric)
    h = chart_design(k, arl0, min_readings)[0]
    _, anchors = _validity_rows(rows, anchor_sets, rubric)
    sd, charts = _charted(rows, anchors, days, stamps, k, h, min_readings, notes)
    return h, sd, charts, tuple(notes)


def _timed(
    ratings: Ratings, rubric: Rubric
) -> tuple[Ratings, NDArray[np.datetime64], FloatArray, list[str]]:
    """The live and validity rows of ``rubric`` that have a time, their times and days since
    the first, and a note on the rows left out."""
    rows = procedure_rows(ratings, rubric, ["live", "validity"])
    stamps = rows.times()
    timed = ~np.isnat(stamps)
    notes = []
    if not timed.all():
        notes.append(f"{int((~timed).sum()):,} ratings without a time are left out")
        rows, stamps = rows.subset(timed), stamps[timed]
    if not len(rows):
        raise CalibrateError(f"no live or validity rating of {rubric.key} with a time")
    micros = stamps.view(np.int64)
    return rows, stamps, (micros - int(micros.min())) / _DAY_US, notes


def _validity_rows(
    rows: Ratings, anchor_sets: Sequence[AnchorSet], rubric: Rubric
) -> tuple[NDArray[np.bool_], _Anchored | None]:
    context = rows.columns.get("context", np.full(len(rows), "live", dtype=object))
    validity = np.asarray(context == "validity", dtype=bool)
    return validity, _anchor_rows(rows, validity, anchor_sets, rubric)


def _charted(
    rows: Ratings,
    anchors: _Anchored | None,
    days: FloatArray,
    stamps: NDArray[np.datetime64],
    k: float,
    h: float,
    min_readings: int,
    notes: list[str],
) -> tuple[float, tuple[AssessorChart, ...]]:
    if anchors is None:
        return math.nan, ()
    sd, charts, note = _charts(rows, anchors, days, stamps, k, h, min_readings)
    notes += note
    return sd, charts


@functools.lru_cache(maxsize=16)
def chart_design(k: float, arl0: int, baseline: int = 0) -> tuple[float, float, float]:
    r"""The decision interval ``h`` of a two-sided CUSUM with reference value ``k`` and target
    in-control ARL ``arl0``, its in-control ARL and its ARL for a shift of ``2k`` SDs (Markov
    chain, :func:`~calibrate.stats.drift.cusum_h` on 200 states, the ARLs on 400).

    With ``baseline`` = m > 0 the chart's centre is each assessor's mean over their first m
    readings, itself uncertain (SD :math:`1/\sqrt{m}`): a chart centred off the true level
    alarms sooner, so ``h`` is widened until the false-alarm rate per reading averaged over
    that uncertainty, :math:`E_e[1 / ARL(h, e)]` with :math:`e \sim N(0, 1/m)` (15-point
    Gauss-Hermite), is ``1 / arl0`` (the effect of estimated parameters on the CUSUM: Jones,
    Champ & Rigdon 2004, J. Quality Technology 36(1), 95-108). The ARLs returned are then
    ``1 / rate`` and the shift's ARL at the true centre.

    >>> h, arl0, arl1 = chart_design(0.5, 370)
    >>> round(h, 2), round(arl0), round(arl1, 1)
    (4.77, 370, 9.9)
    >>> h10, arl0_10, _ = chart_design(0.5, 370, baseline=10)
    >>> bool(h10 > h), round(arl0_10)
    (True, 370)
    """
    h = cusum_h(float(arl0), k=k, states=200)
    if baseline <= 0:
        return h, cusum_arl(k, h), cusum_arl(k, h, shift=2 * k)
    nodes, weights = np.polynomial.hermite_e.hermegauss(15)
    shifts, weights = nodes / np.sqrt(baseline), weights / weights.sum()

    def rate(width: float) -> float:
        return float(sum(w / cusum_arl(k, width, shift=e, states=200)
                         for e, w in zip(shifts, weights, strict=True)))  # fmt: skip

    wide = brentq(lambda width: rate(width) - 1.0 / arl0, h, h + 10.0, xtol=1e-4)
    return wide, 1.0 / rate(wide), cusum_arl(k, wide, shift=2 * k)


@dataclass(frozen=True)
class _Anchored:
    """Validity rows (indices into the rows) with their anchor, criterion and expert score."""

    row: IntArray
    anchor: IntArray
    criterion: IntArray
    expert: FloatArray


def _anchor_rows(
    rows: Ratings, validity: NDArray[np.bool_], sets: Sequence[AnchorSet], rubric: Rubric
) -> _Anchored | None:
    row = np.flatnonzero(validity).astype(np.int64)
    if row.size == 0:
        return None
    ids = anchor_ids_of(sets, rubric, empty=f"no anchor sets of {rubric.key} in the store")
    criteria = rubric.criterion_ids
    expert = np.vstack([s.expert_scores(criteria) for s in sets]).astype(np.float64)
    unit_anchor = _anchor_of_units(rows, row, ids, rubric)
    crit = lookup_labels(rows.criteria, criteria, f"unknown criterion for {rubric.key}")
    anchor = unit_anchor[rows.unit[row]]
    c = crit[rows.criterion[row]]
    return _Anchored(row, anchor, c, expert[anchor, c])


def _anchor_of_units(rows: Ratings, row: IntArray, ids: Sequence[str], rubric: Rubric) -> IntArray:
    """Anchor index of every unit read in a validity row (-1 for the others)."""
    used = np.unique(rows.unit[row])
    out = np.full(len(rows.units), -1, dtype=np.int64)
    out[used] = lookup_labels(
        tuple(rows.units[u].removeprefix(ANCHOR_PREFIX) for u in used.tolist()),
        ids,
        f"validity ratings name submission(s) that are not anchors of {rubric.key}",
    )
    return out


def _charts(
    rows: Ratings,
    a: _Anchored,
    days: FloatArray,
    stamps: NDArray[np.datetime64],
    k: float,
    h: float,
    min_readings: int,
) -> tuple[float, tuple[AssessorChart, ...], list[str]]:
    rater = rows.rater[a.row]
    rounds = round_codes(rows)[a.row]
    _, reading = reading_index(a.anchor, rater, a.criterion, rounds)
    try:
        obs = anchor_observations(
            reading, rater, days[a.row], rows.value[a.row], a.expert, n_groups=len(rows.raters)
        )
    except StatisticsError as exc:
        return math.nan, (), [f"no control charts: {exc}"]
    x = obs.x - _baseline(obs.group, obs.time, obs.x, min_readings, len(rows.raters))
    chart = cusum(obs.group, obs.time, x, k=k, h=h, n_groups=len(rows.raters))
    # a reading's time stamp: the latest of its ratings'
    reading_stamp = np.full(obs.reading.size, np.datetime64("NaT"), dtype="datetime64[us]")
    latest = np.full(obs.reading.size, -np.inf)
    np.maximum.at(latest, reading, days[a.row])
    for i, r in enumerate(reading.tolist()):
        if days[a.row[i]] == latest[r]:
            reading_stamp[r] = stamps[a.row[i]]
    shown = iso_utc(reading_stamp)
    charts = []
    for g in sorted(np.unique(obs.group).tolist(), key=rows.raters.__getitem__):
        mine = np.flatnonzero(obs.group == g)
        mine = mine[np.lexsort((mine, obs.time[mine]))]
        up, down = chart.upper[mine], chart.lower[mine]
        alarm = None
        if chart.alarm[g] >= 0:
            alarm = _alarm(
                rows.raters[g], int(chart.run_length[g]) - 1, up, down, shown[mine], k, h,
                obs.sd,
            )  # fmt: skip
        status: ChartStatus = (
            "alarm"
            if alarm is not None
            else "no drift detected"
            if mine.size >= min_readings
            else "too few readings"
        )
        charts.append(
            AssessorChart(
                assessor=rows.raters[g],
                status=status,
                time=tuple(str(t) for t in shown[mine]),
                deviation=tuple(float(d) for d in obs.deviation[mine]),
                upper=tuple(float(v) for v in up),
                lower=tuple(float(v) for v in down),
                alarm=alarm,
            )
        )
    return obs.sd, tuple(charts), []


def _baseline(
    group: IntArray, time: FloatArray, x: FloatArray, first: int, n_groups: int
) -> FloatArray:
    """Each observation's group baseline: the mean of the group's first ``first`` observations
    in time order (Phase I of a control chart, Montgomery 2009, Sect. 9.1: the chart watches
    for a change from the assessor's own level, so that an assessor lenient from the start is
    the severity tests' finding, not drift)."""
    order = np.lexsort((np.arange(group.size), time, group))
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    rank = np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size]))
    early = order[rank < first]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group[early], x[early], n_groups) / np.bincount(
            group[early], None, n_groups
        )
    return np.asarray(mean[group], dtype=np.float64)


def _alarm(
    assessor: str,
    at: int,
    up: FloatArray,
    down: FloatArray,
    time: NDArray[np.object_],
    k: float,
    h: float,
    sd: float,
) -> DriftAlarm:
    """The alarm at 0-based position ``at`` of one assessor's stream."""
    lenient = bool(up[at] > h)
    path = up if lenient else down
    start = at
    while start > 0 and path[start - 1] > 0:
        start -= 1
    run = at - start + 1
    shift = (k + float(path[at]) / run) * (1 if lenient else -1)  # Montgomery (2009), Eq. 9.4
    direction: Direction = "lenient" if lenient else "severe"
    since = (
        f"the shift likely started at reading {start + 1} ({time[start]})"
        if start
        else f"{direction} from the first reading ({time[start]}) on, not a change"
    )
    sentence = (
        f"{assessor}: {direction} alarm on validity anchors, the CUSUM reached "
        f"{float(path[at]):.2f} > h = {h:.2f} at reading {at + 1} of {up.size} "
        f"({time[at]}); {since}: about {shift * sd:+.2f} score levels per criterion from "
        "their own level over their first readings"
    )
    return DriftAlarm(
        assessor=assessor,
        direction=direction,
        statistic=float(path[at]),
        h=h,
        time=str(time[at]),
        reading=at + 1,
        readings=int(up.size),
        start_reading=start + 1,
        start_time=str(time[start]),
        shift_sd=shift,
        shift_score=shift * sd,
        sentence=sentence,
    )


def _severities(
    rows: Ratings,
    window: IntArray,
    rubric: Rubric,
    confidence: float,
    progress: Progress | None,
    notes: list[str],
) -> tuple[tuple[WindowSeverity, ...], tuple[SeverityShift, ...]]:
    n_windows = int(window.max()) + 1
    pair, rater = np.unique(rows.rater * n_windows + window, return_inverse=True)
    try:
        fit = fit_severity(
            rows.unit, rater.ravel(), rows.criterion, rows.value, categories=rubric.scores,
            level=confidence, progress=progress,
        )  # fmt: skip
    except StatisticsError as exc:
        notes.append(f"no severities by window: {exc}")
        return (), ()
    a = fit.assessors
    placed = a.placed
    severities = []
    by_assessor: dict[int, list[int]] = {}
    for j in a.code.tolist():
        who, w = divmod(int(pair[j]), n_windows)
        severities.append(
            WindowSeverity(
                assessor=rows.raters[who],
                window=w,
                n=int(a.n[j]),
                severity=float(a.severity[j]),
                se=float(a.se[j]),
                placed=bool(placed[j]),
            )
        )
        by_assessor.setdefault(who, []).append(j)
    shifts = []
    for who in sorted(by_assessor, key=rows.raters.__getitem__):
        mine = sorted(by_assessor[who], key=lambda j: int(pair[j]))
        for j0, j1 in itertools.pairwise(mine):
            test = severity_change([a.severity[j0]], [a.se[j0]], [a.severity[j1]], [a.se[j1]])
            ci = test.confidence_interval(confidence)[0]
            both = bool(placed[j0] and placed[j1])
            shifts.append(
                SeverityShift(
                    assessor=rows.raters[who],
                    window_from=int(pair[j0]) % n_windows,
                    window_to=int(pair[j1]) % n_windows,
                    change=float(test.difference[0]),
                    se=float(test.se[0]),
                    interval=ci,
                    p_value=float(test.p_value[0]),
                    # severity rises = harsher: the interval above 0 is "more severe"
                    verdict=_verdict(ci, lenient_when="below") if both else "too few to tell",
                )
            )
    severities.sort(key=lambda s: (s.assessor, s.window))
    return tuple(severities), tuple(shifts)


def _verdict(ci: ConfidenceInterval, *, lenient_when: Literal["above", "below"]) -> Verdict:
    if math.isnan(ci.low) or math.isnan(ci.high):
        return "too few to tell"
    if ci.low <= 0 <= ci.high:
        return "no change shown"
    above = ci.low > 0
    return "more lenient" if above == (lenient_when == "above") else "more severe"


def _pool(
    rows: Ratings,
    validity: NDArray[np.bool_],
    a: _Anchored | None,
    window: IntArray,
    n_windows: int,
    confidence: float,
) -> tuple[PoolShift, ...]:
    if a is None:
        return ()
    w = window[a.row]
    rater = rows.rater[a.row]
    value = rows.value[a.row]
    out = []
    for t in range(n_windows - 1):
        pair = (w == t) | (w == t + 1)
        if not (w == t).any() or not (w == t + 1).any():
            continue
        try:
            d = pool_drift(a.anchor[pair], (w[pair] - t), rater[pair], value[pair], a.expert[pair])
        except StatisticsError:
            out.append(_no_pool_shift(t, confidence))
            continue
        ci = d.confidence_interval(confidence)
        verdict = _verdict(ci, lenient_when="above")
        interval = (
            f"{confidence:.0%} interval [{ci.low:+.2f}, {ci.high:+.2f}]"
            if verdict != "too few to tell"
            else "no interval: fewer than two anchors read in both"
        )
        out.append(
            PoolShift(
                window_from=t,
                window_to=t + 1,
                n_anchors=d.n_anchors,
                n_ratings=(int(d.n[0]), int(d.n[1])),
                n_assessors=(int(d.n_assessors[0]), int(d.n_assessors[1])),
                mean=(float(d.mean[0]), float(d.mean[1])),
                change=d.change,
                interval=ci,
                p_value=d.p_value,
                verdict=verdict,
                sentence=(
                    f"window {t + 1} to {t + 2}: the pool's mean deviation from the experts on "
                    f"{d.n_anchors} validity anchor{'s' if d.n_anchors != 1 else ''} read in "
                    f"both went from {d.mean[0]:+.2f} to {d.mean[1]:+.2f} score levels, a "
                    f"change of {d.change:+.2f} ({interval}): {verdict}"
                ),
            )
        )
    return tuple(out)


def _no_pool_shift(t: int, confidence: float) -> PoolShift:
    nan = ConfidenceInterval(math.nan, math.nan, confidence)
    return PoolShift(
        window_from=t,
        window_to=t + 1,
        n_anchors=0,
        n_ratings=(0, 0),
        n_assessors=(0, 0),
        mean=(math.nan, math.nan),
        change=math.nan,
        interval=nan,
        p_value=math.nan,
        verdict="too few to tell",
        sentence=f"window {t + 1} to {t + 2}: no validity anchor was read in both",
    )


__all__ = [
    "AssessorChart",
    "DriftAlarm",
    "DriftReport",
    "PoolShift",
    "SeverityShift",
    "WindowSeverity",
    "chart_design",
    "drift_report",
]
