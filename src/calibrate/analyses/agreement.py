"""Agreement among assessors, per criterion and pooled: the use case behind ``calibrate agreement``.

One function, :func:`agreement_report`, turns coded ratings into an :class:`AgreementReport`; the
CLI and the dashboard both call it, so the two doors show the same numbers. Each summary's
Krippendorff's alpha is cross-checked against the reference implementation, the
``krippendorff`` package (:func:`check_alpha`), and the outcome recorded on the report.
"""

from __future__ import annotations

import importlib.metadata
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibrate.errors import CalibrateError, StatisticsError
from calibrate.ratings import Ratings
from calibrate.stats import Progress, long_ratings
from calibrate.stats.agreement import ALPHA_LEVELS, AgreementSummary, AlphaLevel, summarize

__all__ = [
    "AGREE_WITHIN",
    "REFERENCE_CELLS",
    "AgreementReport",
    "AlphaCheck",
    "AlphaCheckWarning",
    "Progress",
    "agreement_report",
    "check_alpha",
]

POOLED = "\x00pooled"  # key no criterion label can take

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

REFERENCE_CELLS = 2_000_000
"""Largest dense array the cross-check lets the reference implementation build, in cells:
pairable units x the larger of the most ratings of a unit (its reliability matrix) and
levels x levels (its per-unit coincidences). Above it the check is skipped, not run: at the
bound (125,000 pairable units on 4 levels) one check takes about 0.4 s and 55 MiB."""

AGREE_WITHIN = 1e-9
"""Largest absolute difference between our alpha and the reference's counted as agreement."""


class AlphaCheckWarning(UserWarning):
    """Our Krippendorff's alpha differs from the reference implementation's."""


@cache
def _reference() -> str:
    return f"krippendorff {importlib.metadata.version('krippendorff')}"


@dataclass(frozen=True)
class AlphaCheck:
    """Our Krippendorff's alpha at the four levels against the reference implementation's.

    Attributes
    ----------
    reference : str
        The reference implementation and its version, e.g. ``"krippendorff 0.9.0"``.
    max_abs_difference : float or None
        Largest absolute difference over the four levels (0 where both are undefined, infinite
        where only one is); None when skipped.
    agrees : bool or None
        ``max_abs_difference <= AGREE_WITHIN`` (1e-9); None when skipped.
    skipped : str or None
        Why the check did not run (the data are too large for the reference implementation's
        dense matrix).
    """

    reference: str
    max_abs_difference: float | None
    agrees: bool | None
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"reference", "max_abs_difference", "agrees"}``, or ``{"reference", "skipped"}``."""
        if self.skipped is not None:
            return {"reference": self.reference, "skipped": self.skipped}
        return {
            "reference": self.reference,
            "max_abs_difference": self.max_abs_difference,
            "agrees": self.agrees,
        }


def check_alpha(
    unit: ArrayLike,
    value: ArrayLike,
    alpha: Mapping[AlphaLevel, float],
    *,
    levels: ArrayLike | None = None,
    where: str = "",
) -> AlphaCheck:
    """Recompute Krippendorff's alpha with the reference implementation and compare.

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Unit codes of the ratings the alphas were computed on.
    value : array_like of float, shape (n,)
        Their scores; NaN = missing.
    alpha : mapping of level to float
        Our alpha at ``nominal``, ``ordinal``, ``interval`` and ``ratio``
        (:attr:`AgreementSummary.krippendorff_alpha`).
    levels : array_like, shape (C,), optional
        The rubric's level scores, handed to the reference as its ``value_domain``; default the
        values observed.
    where : str
        What the ratings are (``"criterion 'plan'"``), for the warning.

    Returns
    -------
    AlphaCheck
        A disagreement beyond :data:`AGREE_WITHIN` is recorded (``agrees=False``) and warned
        about (:class:`AlphaCheckWarning`), not raised.

    Notes
    -----
    The reference, ``krippendorff.alpha`` (Castro 2017, fast-krippendorff), is called once per
    level on its natural input, a dense reliability matrix (coders x units, NaN = missing),
    from which it tabulates the values itself. Alpha does not depend on which coder gave a
    value, only on which values share a unit (Krippendorff 2011), so row ``k`` of the matrix
    holds the ``k``-th rating of each unit: the matrix has as many rows as the most ratings
    any unit received (2-3 in live scoring), not one per assessor, and its size grows with the
    ratings, not with units x assessors. Units with one rating are left out: they are not
    pairable and contribute nothing to alpha, in the reference as in ours. The reference's
    largest arrays are this matrix and its units x levels x levels coincidences (time and
    memory grow with both); when either exceeds :data:`REFERENCE_CELLS` cells the check is
    skipped, saying so.

    References
    ----------
    .. [1] Castro, S. (2017). Fast Krippendorff: Fast computation of Krippendorff's alpha
       agreement measure. https://github.com/pln-fing-udelar/fast-krippendorff
    .. [2] Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg
       School for Communication, University of Pennsylvania.

    Examples
    --------
    Krippendorff (2011, p. 8), 4 observers x 12 units, values 1-5 with missing values; the
    reference prints 0.743, 0.815, 0.849 and 0.797 for the four levels:

    >>> from calibrate.stats.agreement import krippendorff_alpha
    >>> unit = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5,
    ...         6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 9, 9, 9, 10, 10, 11]
    >>> value = [1, 1, 1, 2, 2, 3, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 1, 2, 3, 4,
    ...          4, 4, 4, 4, 1, 1, 2, 1, 2, 2, 2, 2, 5, 5, 5, 1, 1, 3]
    >>> ours = {lv: krippendorff_alpha(unit, value, level=lv) for lv in ALPHA_LEVELS}
    >>> check = check_alpha(unit, value, ours, levels=[1, 2, 3, 4, 5])
    >>> check.agrees, check.max_abs_difference < 1e-15
    (True, True)
    """
    data = long_ratings(unit, None, None, value)
    domain = None if levels is None else np.unique(np.asarray(levels, dtype=np.float64))
    matrix, too_large = _reliability_matrix(data.unit, data.value, domain)
    if matrix is None:
        return AlphaCheck(_reference(), None, None, skipped=too_large)
    worst = 0.0
    for level in ALPHA_LEVELS:
        theirs = _reference_alpha(matrix, domain, level)
        ours = float(alpha[level])
        if math.isnan(ours) and math.isnan(theirs):
            continue
        worst = max(worst, abs(ours - theirs) if not math.isnan(ours - theirs) else math.inf)
    agrees = worst <= AGREE_WITHIN
    if not agrees:
        warnings.warn(
            f"Krippendorff's alpha{' (' + where + ')' if where else ''} differs from the "
            f"reference implementation ({_reference()}) by {worst:.3g}, more than "
            f"{AGREE_WITHIN:g}: do not report it before this is understood",
            AlphaCheckWarning,
            stacklevel=2,
        )
    return AlphaCheck(_reference(), worst, agrees)


def _reliability_matrix(
    unit: IntArray, value: FloatArray, domain: FloatArray | None
) -> tuple[FloatArray | None, str]:
    """The ratings of pairable units as a (most ratings of a unit) x units matrix, row ``k``
    holding each unit's ``k``-th rating (NaN where it has fewer); no matrix but the reason
    when the reference's arrays would exceed :data:`REFERENCE_CELLS` cells."""
    if unit.size and int(unit.max()) > 4 * unit.size + 1024:  # sparse codes: relabel densely
        unit = np.unique(unit, return_inverse=True)[1].astype(np.int64)
    per_unit = np.bincount(unit)
    pairable = per_unit >= 2
    keep = pairable[unit]
    n_units = int(np.count_nonzero(pairable))
    depth = int(per_unit.max(initial=0)) if n_units else 0
    n_levels = domain.size if domain is not None else int(np.unique(value[keep]).size)
    cells = n_units * max(depth, n_levels * n_levels)
    if cells > REFERENCE_CELLS:
        shape = (
            f"{depth} ratings" if depth > n_levels * n_levels else f"{n_levels}x{n_levels} levels"
        )
        return None, (
            f"too large for the reference implementation's dense matrices: {n_units:,} units "
            f"x {shape} = {cells:,} cells > {REFERENCE_CELLS:,}"
        )
    column = (np.cumsum(pairable) - 1)[unit[keep]]
    order = np.argsort(column, kind="stable")
    column = column[order]
    sizes = per_unit[pairable]
    row = np.arange(column.size) - (np.cumsum(sizes) - sizes)[column]
    matrix = np.full((depth, n_units), np.nan)
    matrix[row, column] = value[keep][order]
    return matrix, ""


def _reference_alpha(matrix: FloatArray, domain: FloatArray | None, level: AlphaLevel) -> float:
    """``krippendorff.alpha`` at one level; NaN where it finds alpha undefined (it refuses a
    single value, and divides 0 by 0 when every pairable value is equal, as ours returns NaN)."""
    import krippendorff  # the cross-check alone needs it

    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(
                krippendorff.alpha(
                    reliability_data=matrix, value_domain=domain, level_of_measurement=level
                )
            )
    except ValueError:
        return math.nan


@dataclass(frozen=True)
class AgreementReport:
    """Agreement statistics of a ratings file.

    Attributes
    ----------
    pooled : AgreementSummary
        Over all criteria: each unit is one (submission, criterion) pair. With one criterion,
        that criterion's summary.
    criteria : dict of str to AgreementSummary
        One summary per criterion label, only when there are several criteria (else empty).
    alpha_check : AlphaCheck or None
        The pooled summary's alpha against the reference implementation (:func:`check_alpha`);
        None when the check was not asked for.
    criteria_alpha_check : dict of str to AlphaCheck
        The same for each summary in ``criteria``.
    """

    pooled: AgreementSummary
    criteria: dict[str, AgreementSummary]
    alpha_check: AlphaCheck | None = None
    criteria_alpha_check: dict[str, AlphaCheck] = field(default_factory=dict)

    def warnings(self) -> list[str]:
        """Plain-language warnings a reader must see: alphas that disagree with the reference
        implementation."""
        checks = {"pooled" if self.criteria else "all": self.alpha_check}
        checks.update({f"criterion {k!r}": c for k, c in self.criteria_alpha_check.items()})
        return [
            f"Krippendorff's alpha ({where}) differs from the reference implementation "
            f"({c.reference}) by {c.max_abs_difference:.3g}, more than {AGREE_WITHIN:g}."
            for where, c in checks.items()
            if c is not None and c.agrees is False
        ]

    def to_dict(self) -> dict[str, Any]:
        """The pooled object (:meth:`AgreementSummary.to_dict`) with its ``alpha_check``
        (:meth:`AlphaCheck.to_dict`), plus ``criteria`` mapping each criterion to the same
        object when there are several."""
        out = self.pooled.to_dict()
        if self.alpha_check is not None:
            out["alpha_check"] = self.alpha_check.to_dict()
        if self.criteria:
            out["criteria"] = {}
            for name, s in self.criteria.items():
                out["criteria"][name] = one = s.to_dict()
                if name in self.criteria_alpha_check:
                    one["alpha_check"] = self.criteria_alpha_check[name].to_dict()
        return out


def agreement_report(
    ratings: Ratings,
    *,
    criterion: str | None = None,
    levels: ArrayLike | None = None,
    n_boot: int = 0,
    seed: int | None = None,
    confidence: float = 0.95,
    progress: Progress | None = None,
    reference_check: bool = True,
) -> AgreementReport:
    """Agreement among assessors for each criterion of ``ratings`` and pooled over criteria.

    Parameters
    ----------
    ratings : Ratings
        Coded long ratings (:func:`calibrate.ratings.read_ratings_csv` or the store).
    criterion : str, optional
        Report only this criterion (its label).
    levels : array_like, optional
        The rubric's level scores (default: the scores observed), see :func:`summarize`.
    n_boot, seed, confidence
        Bootstrap intervals over units (:func:`summarize`); each criterion and the pooled
        summary get their own stream spawned from ``seed``, so results do not depend on the
        order in which criteria are computed.
    progress : callable, optional
        ``progress(done, total, stage)`` during bootstraps (``stage`` names the criterion).
    reference_check : bool
        Cross-check every summary's Krippendorff's alpha against the reference implementation
        (:func:`check_alpha`, recorded in ``alpha_check``); off only to time the statistics
        alone.

    Returns
    -------
    AgreementReport

    Raises
    ------
    CalibrateError
        Unknown criterion, or a criterion without any unit rated by two assessors (named).
    """
    names = list(ratings.criteria)
    codes = list(range(len(names)))
    if criterion is not None:
        if criterion not in names:
            raise CalibrateError(
                f"criterion {criterion!r} is not in the ratings (criteria: {', '.join(names)})"
            )
        codes = [names.index(criterion)]
    present = set(np.unique(ratings.criterion).tolist())
    codes = [c for c in codes if c in present]
    if not codes:
        raise StatisticsError("the ratings hold no ratings to summarise")
    several = len(codes) > 1
    jobs = (
        [(POOLED, codes)] + [(names[c], [c]) for c in codes]
        if several
        else [(names[codes[0]], codes)]
    )
    streams = np.random.SeedSequence(seed).spawn(len(jobs))
    total = n_boot * len(jobs)
    results: dict[str, AgreementSummary] = {}
    checks: dict[str, AlphaCheck] = {}
    for k, ((name, chosen), stream) in enumerate(zip(jobs, streams, strict=True)):
        keep = np.isin(ratings.criterion, chosen)
        # Pooled: one unit per (submission, criterion) pair.
        unit = ratings.unit[keep] * len(names) + ratings.criterion[keep]

        def step(done: int, _total: int, _stage: str, k: int = k, name: str = name) -> None:
            if progress is not None:
                progress(k * n_boot + done, total, "pooled" if name == POOLED else name)

        try:
            results[name] = summarize(
                unit,
                ratings.rater[keep],
                ratings.value[keep],
                levels=levels,
                n_boot=n_boot,
                seed=np.random.default_rng(stream),
                confidence=confidence,
                progress=step,
            )
        except StatisticsError as exc:
            where = "pooled over criteria" if name == POOLED else f"criterion {name!r}"
            raise StatisticsError(f"{where}: {exc}") from None
        if reference_check:
            checks[name] = check_alpha(
                unit,
                ratings.value[keep],
                results[name].krippendorff_alpha,
                levels=levels,
                where="pooled over criteria" if name == POOLED else f"criterion {name!r}",
            )
    if not several:
        name = jobs[0][0]
        return AgreementReport(results[name], {}, checks.get(name))
    pooled = results.pop(POOLED)
    return AgreementReport(pooled, results, checks.pop(POOLED, None), checks)
