"""Confidence intervals as typed values, for every result of the statistics core that has one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ConfidenceInterval:
    """A two-sided confidence interval of one statistic.

    Attributes
    ----------
    low, high : float
        The bounds; NaN where the interval is undefined (e.g. too few units, or an undefined
        statistic).
    level : float
        Nominal coverage, e.g. 0.95.

    Examples
    --------
    >>> ci = ConfidenceInterval(0.61, 0.74, 0.95)
    >>> ci.to_list()
    [0.61, 0.74]
    """

    low: float
    high: float
    level: float

    def to_list(self) -> list[float]:
        """``[low, high]``: the JSON form."""
        return [self.low, self.high]


@dataclass(frozen=True)
class ConfidenceIntervals:
    """Confidence intervals of one statistic in each of ``G`` groups (e.g. per assessor).

    Attributes
    ----------
    low, high : ndarray, shape (G,)
        The bounds per group; NaN where a group's interval is undefined.
    level : float
        Nominal coverage, e.g. 0.95.
    """

    low: FloatArray
    high: FloatArray
    level: float

    def __len__(self) -> int:
        return int(self.low.size)

    def __getitem__(self, group: int) -> ConfidenceInterval:
        """The interval of one group."""
        return ConfidenceInterval(float(self.low[group]), float(self.high[group]), self.level)
