"""Bootstrap over units, exploiting that units with the same pattern of ratings are exchangeable.

Every count-based agreement statistic is a function of per-pattern sums (see
:class:`~calibrate.stats._tabulate.UnitTable`). Resampling ``n`` units with replacement is then
the same as drawing how many units of each pattern the resample holds, one multinomial vector
per resample; a batch of ``B`` resamples is a (B, P) matrix, and each statistic of all ``B``
resamples follows from one matrix product with the per-pattern terms. Nothing is re-run per
resample and no units x units array is formed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from calibrate.errors import StatisticsError
from calibrate.stats._input import Progress
from calibrate.stats._interval import ConfidenceInterval
from calibrate.stats._tabulate import FloatArray, IntArray

__all__ = [
    "BootstrapInterval",
    "Progress",
    "Seed",
    "bootstrap_units",
    "percentile_interval",
    "resample_units",
]

Seed = int | np.random.Generator | None
"""Seed for :func:`numpy.random.default_rng` (or a generator); ``None`` draws fresh entropy."""


@dataclass(frozen=True)
class BootstrapInterval(ConfidenceInterval):
    """Percentile bootstrap interval of one statistic: a :class:`ConfidenceInterval` with the
    resampling behind it.

    Attributes
    ----------
    low, high : float
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the resampled statistic
        (linear interpolation); NaN when no resample defines the statistic.
    level : float
        Nominal coverage, e.g. 0.95.
    n_boot : int
        Number of resamples drawn.
    n_undefined : int
        Resamples in which the statistic was undefined (e.g. every resampled value equal, so
        alpha is 0/0); they are left out of the quantiles.
    """

    n_boot: int
    n_undefined: int


def resample_units(
    multiplicity: IntArray, n_boot: int, rng: np.random.Generator, batch: int
) -> Iterator[FloatArray]:
    """Draw bootstrap resamples of units as counts per pattern.

    Parameters
    ----------
    multiplicity : ndarray of int, shape (P,)
        Units per pattern in the data; ``n = multiplicity.sum()``.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator
    batch : int
        Resamples per yielded block.

    Yields
    ------
    ndarray, shape (b, P)
        Row ``i``: units of each pattern in a resample of ``n`` units drawn with replacement,
        i.e. ``Multinomial(n, multiplicity / n)``.
    """
    n = int(multiplicity.sum())
    share = multiplicity / n
    for start in range(0, n_boot, batch):
        size = min(batch, n_boot - start)
        yield rng.multinomial(n, share, size=size).astype(np.float64)


def percentile_interval(
    replicates: FloatArray, confidence: float, n_boot: int | None = None
) -> BootstrapInterval:
    """Percentile interval of bootstrap replicates (NaN replicates = undefined, left out).

    Parameters
    ----------
    replicates : ndarray, shape (B,)
    confidence : float
        In (0, 1).
    n_boot : int, optional
        Resamples drawn; default ``B``.
    """
    finite = replicates[np.isfinite(replicates)]
    tail = (1.0 - confidence) / 2.0
    if finite.size:
        low, high = (float(q) for q in np.quantile(finite, [tail, 1.0 - tail]))
    else:
        low = high = float("nan")
    total = replicates.size if n_boot is None else n_boot
    return BootstrapInterval(low, high, confidence, total, int(replicates.size - finite.size))


def bootstrap_units(
    multiplicity: IntArray,
    statistics: Callable[[FloatArray], Mapping[str, FloatArray]],
    *,
    n_boot: int = 1000,
    seed: Seed = None,
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> dict[str, BootstrapInterval]:
    """Percentile bootstrap intervals over units for statistics of unit-pattern weightings.

    Parameters
    ----------
    multiplicity : ndarray of int, shape (P,)
        Units per pattern.
    statistics : callable
        ``statistics(w)`` with ``w`` of shape (b, P) (units of each pattern in each of ``b``
        resamples) returns named arrays of shape (b,); NaN marks an undefined value.
    n_boot : int
        Number of resamples (e.g. 1000).
    seed : int, numpy.random.Generator or None
        Same seed, same intervals.
    confidence : float
        Coverage of the intervals, in (0, 1).
    progress : callable, optional
        ``progress(done, n_boot, "bootstrap")`` after each batch
        (:data:`~calibrate.stats.Progress`).

    Returns
    -------
    dict of str to BootstrapInterval
        One interval per name returned by ``statistics``.

    Notes
    -----
    Units are the resampling units (submission x criterion in agreement studies), so the
    intervals reflect the sampling of submissions, the usual target of inference. Percentile
    intervals (Efron & Tibshirani 1993, ch. 13). Hayes & Krippendorff (2007) bootstrap alpha
    differently, by resampling pairs of values with the expected disagreement fixed; resampling
    units keeps each unit's values together and lets the expected disagreement vary.

    References
    ----------
    .. [1] Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. New York:
       Chapman & Hall.
    .. [2] Hayes, A. F., & Krippendorff, K. (2007). Answering the call for a standard reliability
       measure for coding data. Communication Methods and Measures, 1(1), 77-89.
       doi:10.1080/19312450709336664

    Examples
    --------
    Mean of a two-pattern population (units scoring 0 or 1), resampled 1,000 times:

    >>> def mean(w):
    ...     return {"mean": w[:, 1] / w.sum(axis=1)}
    >>> ci = bootstrap_units(np.array([60, 40]), mean, n_boot=1000, seed=1)["mean"]
    >>> 0.29 < ci.low < 0.32 and 0.48 < ci.high < 0.51
    True
    """
    if n_boot < 1:
        raise StatisticsError(f"n_boot must be a positive number of resamples, got {n_boot}")
    if not 0 < confidence < 1:
        raise StatisticsError(f"confidence must be between 0 and 1, got {confidence}")
    rng = np.random.default_rng(seed)
    batch = max(1, min(n_boot, (1 << 22) // max(1, multiplicity.size), max(n_boot // 20, 50)))
    parts: dict[str, list[FloatArray]] = {}
    done = 0
    for w in resample_units(multiplicity, n_boot, rng, batch):
        for name, values in statistics(w).items():
            parts.setdefault(name, []).append(np.asarray(values, dtype=np.float64))
        done += w.shape[0]
        if progress is not None:
            progress(done, n_boot, "bootstrap")
    return {
        name: percentile_interval(np.concatenate(chunks), confidence)
        for name, chunks in parts.items()
    }
