"""Benchmark: the rater-effect statistics of :mod:`calibrate.stats.rater_effects` at monitoring
scale, after the :func:`~calibrate.stats.severity.fit_severity` fit they condition on.

Design: the sparse live design of ``bench_severity.py`` (submissions x 2 assessors x 5
criteria, 4 categories) with 5,000 assessors. Times (best of ``--repeat``) of the fit, of
:func:`~calibrate.stats.rater_effects.local_shift` for assessor x criterion (differential
severity) and for assessor x 4 time windows (drift, the submissions in order as time),
:func:`~calibrate.stats.rater_effects.scale_spread` per assessor,
:func:`~calibrate.stats.rater_effects.mean_squares` and
:func:`~calibrate.stats.rater_effects.rating_moments`.

Run from the repository root::

    .venv/bin/python benchmarks/bench_rater_effects.py            # 10^6 ratings
    .venv/bin/python benchmarks/bench_rater_effects.py --ratings 100000 --repeat 2
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable
from typing import Any

import numpy as np
from _timing import best
from bench_severity import N_CRITERIA, live_ratings

from calibrate.stats import rater_effects as re
from calibrate.stats.severity import fit_severity

N_ASSESSORS = 5000
N_WINDOWS = 4


def run(n_ratings: int, repeat: int) -> str:
    unit, rater, criterion, value = live_ratings(n_ratings, n_assessors=N_ASSESSORS)
    data = (unit, rater, criterion, value)
    t_fit, fit = best(lambda: fit_severity(*data), repeat)
    window = unit * N_WINDOWS // (int(unit.max()) + 1)
    by_criterion = rater * N_CRITERIA + criterion
    by_window = rater * N_WINDOWS + window
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("local_shift, assessor x criterion", lambda: re.local_shift(fit, *data, by_criterion)),
        ("local_shift, assessor x 4 windows", lambda: re.local_shift(fit, *data, by_window)),
        ("scale_spread, assessor", lambda: re.scale_spread(fit, *data, rater)),
        ("mean_squares", lambda: re.mean_squares(fit, *data)),
        ("rating_moments", lambda: re.rating_moments(fit, *data)),
    ]  # fmt: skip
    rows = [f"| fit_severity | {t_fit:.2f} |"]
    total = t_fit
    for name, job in jobs:
        t, _ = best(job, repeat)
        rows.append(f"| {name} | {t:.2f} |")
        total += t if name != "rating_moments" else 0.0
    rows.append(f"| fit + the four monitoring statistics | {total:.2f} |")
    head = [
        f"{unit.size:,} ratings, {N_ASSESSORS:,} assessors, {unit.max() + 1:,} submissions "
        f"({fit.nodes} nodes); numpy {np.__version__}, Python {platform.python_version()}, "
        f"best of {repeat}",
        "",
        "| step | time (s) |",
        "| --- | ---: |",
    ]
    return "\n".join(head + rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(run(args.ratings, args.repeat))


if __name__ == "__main__":
    main()
