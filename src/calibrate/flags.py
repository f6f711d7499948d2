"""Flags on assessors that weigh evidence rather than rank: each says what was measured, its
interval, the threshold it crosses, how much evidence there is, and holds when many assessors
are tested at once.

A flag is raised when a statistic lies beyond its threshold by more than chance allows, tested
for every assessor with enough evidence (rule ``flags.min_ratings``) and controlled for the
number of assessors tested together: the Benjamini-Hochberg procedure at rule ``flags.fdr``
keeps the expected share of false flags among the flags raised at or below that rate [1]_, so
a report of ``R`` flags holds about ``fdr x R`` false ones at most, on average. An assessor with
too little evidence, or whom the data cannot place, is listed as such, never flagged or cleared.

Kinds so far: ``severe`` and ``lenient`` (the assessor's severity from the random-effects rater
model, :func:`calibrate.stats.severity.fit_severity`, lies beyond ``flags.severity_logits`` of
the pool's average: Myford & Wolfe's severity effect [2]_ with a tolerance worth acting on).

References
----------
.. [1] Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate: a practical
   and powerful approach to multiple testing. *Journal of the Royal Statistical Society, Series
   B, 57*(1), 289-300.
.. [2] Myford, C. M., & Wolfe, E. W. (2003). Detecting and measuring rater effects using
   many-facet Rasch measurement: Part I. *Journal of Applied Measurement, 4*(4), 386-422.
.. [3] Wellek, S. (2010). *Testing statistical hypotheses of equivalence and noninferiority*
   (2nd ed.). Chapman & Hall/CRC (the interval-null test used here, ch. 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import false_discovery_control, norm

from calibrate.errors import CalibrateError

Kind = Literal["severe", "lenient"]


@dataclass(frozen=True)
class Flag:
    """One flag on one assessor.

    Attributes
    ----------
    kind : {"severe", "lenient"}
    assessor : str
    figure : float
        The statistic (severity in logits, + more severe than the pool's average).
    low, high : float
        Its confidence interval at the report's level.
    threshold : float
        The tolerance it lies beyond.
    evidence : int
        Ratings behind it.
    p_value, q_value : float
        The test that the statistic lies within the tolerance, and its Benjamini-Hochberg
        adjusted value (the flag is raised when ``q_value <= fdr``).
    sentence : str
        The flag in words an assessor could read.
    """

    kind: Kind
    assessor: str
    figure: float
    low: float
    high: float
    threshold: float
    evidence: int
    p_value: float
    q_value: float
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "assessor": self.assessor,
            "figure": self.figure,
            "interval": [self.low, self.high],
            "threshold": self.threshold,
            "evidence": self.evidence,
            "p_value": self.p_value,
            "q_value": self.q_value,
            "sentence": self.sentence,
        }


@dataclass(frozen=True)
class FlagReport:
    """The flags of one test over many assessors.

    Attributes
    ----------
    flags : tuple of Flag
        Raised, strongest evidence first.
    tested : tuple of str
        Assessors tested (enough evidence, placed by the data).
    not_tested : dict of str -> str
        Assessors not tested, with why ("12 ratings, fewer than 30"; "the data cannot place
        them").
    fdr : float
        The false discovery rate the flags are held to.
    level : float
        Coverage of the intervals.
    window : str
        The data the test read (e.g. "live ratings of crsel-intro@1").
    """

    flags: tuple[Flag, ...]
    tested: tuple[str, ...]
    not_tested: dict[str, str]
    fdr: float
    level: float
    window: str

    @property
    def expected_false(self) -> float:
        """Expected number of false flags among those raised, at most (``fdr`` x flags)."""
        return self.fdr * len(self.flags)

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "fdr": self.fdr,
            "level": self.level,
            "tested": len(self.tested),
            "expected_false_flags": self.expected_false,
            "flags": [f.to_dict() for f in self.flags],
            "not_tested": dict(self.not_tested),
        }


def beyond_tolerance(estimate: ArrayLike, se: ArrayLike, tolerance: float) -> np.ndarray:
    """One-sided p-values of the interval null ``|theta| <= tolerance`` against ``|theta| >
    tolerance`` in the direction of each estimate: ``1 - Phi((|estimate| - tolerance) / se)``
    (the test dual to an interval lying beyond the tolerance; Wellek 2010, ch. 2).

    >>> beyond_tolerance([1.5, 0.5, -1.5], [0.25, 0.25, 0.25], 0.5).round(5).tolist()
    [3e-05, 0.5, 3e-05]
    """
    x = np.abs(np.asarray(estimate, dtype=float)) - tolerance
    s = np.asarray(se, dtype=float)
    return np.asarray(norm.sf(x / s), dtype=float)


def severity_flags(
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
) -> FlagReport:
    """Flag assessors whose severity lies beyond ``tolerance`` logits of the pool's average,
    controlling the false discovery rate at ``fdr`` over the assessors tested (see the module
    notes). ``placed`` says which the data can place; those and assessors with fewer than
    ``min_ratings`` ratings are not tested.

    Raises
    ------
    CalibrateError
        Arrays of different lengths, a negative tolerance, ``fdr`` or ``level`` outside (0, 1).

    Examples
    --------
    >>> r = severity_flags(["A", "B", "C"], [1.6, 0.1, -0.9], [0.2, 0.2, 0.3], [80, 80, 10],
    ...                    [True, True, True], tolerance=0.5, min_ratings=30, fdr=0.05)
    >>> [(f.assessor, f.kind) for f in r.flags], r.not_tested
    ([('A', 'severe')], {'C': '10 ratings, fewer than 30'})
    """
    s = np.asarray(severity, dtype=float)
    e = np.asarray(se, dtype=float)
    counts = np.asarray(n, dtype=np.int64)
    ok = np.asarray(placed, dtype=bool)
    if not (len(assessors) == s.size == e.size == counts.size == ok.size):
        raise CalibrateError(
            "severity_flags: assessors, severity, se, n and placed differ in length"
        )
    if tolerance < 0 or not 0 < fdr < 1 or not 0 < level < 1:
        raise CalibrateError("severity_flags: tolerance >= 0, fdr and level in (0, 1)")
    not_tested: dict[str, str] = {}
    for j, name in enumerate(assessors):
        if not ok[j]:
            not_tested[name] = "the data cannot place them"
        elif counts[j] < min_ratings:
            not_tested[name] = f"{counts[j]} ratings, fewer than {min_ratings}"
    tested = np.array([a not in not_tested for a in assessors], dtype=bool)
    idx = np.flatnonzero(tested & np.isfinite(s) & np.isfinite(e) & (e > 0))
    flags: list[Flag] = []
    if idx.size:
        p = beyond_tolerance(s[idx], e[idx], tolerance)
        q = false_discovery_control(p, method="bh")
        z = float(norm.ppf(0.5 + level / 2))
        for k in np.argsort(q, kind="stable"):
            if q[k] > fdr:
                break
            j = int(idx[k])
            kind: Kind = "severe" if s[j] > 0 else "lenient"
            low, high = s[j] - z * e[j], s[j] + z * e[j]
            word = "more severely" if kind == "severe" else "more leniently"
            flags.append(
                Flag(
                    kind=kind,
                    assessor=assessors[j],
                    figure=float(s[j]),
                    low=float(low),
                    high=float(high),
                    threshold=tolerance,
                    evidence=int(counts[j]),
                    p_value=float(p[k]),
                    q_value=float(q[k]),
                    sentence=(
                        f"{assessors[j]} scores {word} than the pool's average by "
                        f"{abs(s[j]):.2f} logits ({level:.0%} interval {low:+.2f} to {high:+.2f}), "
                        f"beyond the tolerance of {tolerance:g} logits, on {counts[j]:,} ratings"
                        f"{f' of {window}' if window else ''}; flagged at a false discovery "
                        f"rate of {fdr:.0%}."
                    ),
                )
            )
    return FlagReport(
        flags=tuple(flags),
        tested=tuple(a for a, t in zip(assessors, tested, strict=True) if t),
        not_tested=not_tested,
        fdr=fdr,
        level=level,
        window=window,
    )
