"""Statistics core: pure functions over long arrays (unit, rater, criterion, value), typed results.

Imports only numpy, scipy, krippendorff and :mod:`calibrate.errors`.

The input contract shared by every public function (:mod:`calibrate.stats._input`): ratings are
parallel 1-D arrays named and ordered ``unit, rater, criterion, value`` (those a function does
not use left out), checked by one validator, :func:`long_ratings`; long computations report
through one :data:`Progress` callback, ``progress(done, total, stage)``; intervals are
:class:`ConfidenceInterval` values.
"""

from calibrate.stats._input import LongRatings, Progress, long_ratings
from calibrate.stats._interval import ConfidenceInterval, ConfidenceIntervals

__all__ = [
    "ConfidenceInterval",
    "ConfidenceIntervals",
    "LongRatings",
    "Progress",
    "long_ratings",
]
