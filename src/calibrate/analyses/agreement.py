"""Agreement among assessors, per criterion and pooled: the use case behind ``calibrate agreement``.

One function, :func:`agreement_report`, turns coded ratings into an :class:`AgreementReport`; the
CLI and the dashboard both call it, so the two doors show the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from calibrate.errors import CalibrateError, StatisticsError
from calibrate.ratings import Ratings
from calibrate.stats.agreement import AgreementSummary, summarize

POOLED = "\x00pooled"  # key no criterion label can take

Progress = Callable[[int, int, str], None]
"""``progress(done, total, stage)`` during bootstraps (``stage`` names the criterion)."""


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
    """

    pooled: AgreementSummary
    criteria: dict[str, AgreementSummary]

    def to_dict(self) -> dict[str, Any]:
        """The pooled object (:meth:`AgreementSummary.to_dict`), plus ``criteria`` mapping each
        criterion to the same object when there are several."""
        out = self.pooled.to_dict()
        if self.criteria:
            out["criteria"] = {name: s.to_dict() for name, s in self.criteria.items()}
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
        ``progress(done, total, stage)`` during bootstraps.

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
    for k, ((name, chosen), stream) in enumerate(zip(jobs, streams, strict=True)):
        keep = np.isin(ratings.criterion, chosen)
        # Pooled: one unit per (submission, criterion) pair.
        unit = ratings.unit[keep] * len(names) + ratings.criterion[keep]

        def step(done: int, _total: int, k: int = k, name: str = name) -> None:
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
    if not several:
        return AgreementReport(pooled=results[jobs[0][0]], criteria={})
    pooled = results.pop(POOLED)
    return AgreementReport(pooled=pooled, criteria=results)
