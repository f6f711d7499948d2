"""Benchmark: ``gstudy`` on the sparse live design at 10^4, 10^5 and 10^6 ratings.

Design: each submission is scored by 2 or 3 (60% / 40%) of 800 assessors on 5 criteria, with
scores from the (r:p) x i random-effects model, rounded to a 1-4 scale. For each size: the best
wall time of ``--repeat`` runs of :func:`calibrate.stats.gtheory.gstudy` (design detection,
variance components, coefficients, D study), the peak memory of one run under ``tracemalloc``
(numpy allocations included), and the growth exponent b in time ~ n^b between successive sizes.

Run from the repository root::

    .venv/bin/python benchmarks/bench_gtheory.py            # markdown table on stdout
    .venv/bin/python benchmarks/bench_gtheory.py --sizes 10000 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import math
import platform

import numpy as np
import numpy.typing as npt
from _timing import best, peak_mib

from calibrate.stats.gtheory import gstudy

N_ASSESSORS = 800
N_CRITERIA = 5
COMPONENTS = {"p": 0.5, "i": 0.1, "r:p": 0.2, "pi": 0.1, "ri:p": 0.3}

Arrays = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]


def live_ratings(n_ratings: int, seed: int = 0) -> Arrays:
    """About ``n_ratings`` ratings of the sparse nested live design: unit, rater, criterion,
    value (the input contract's order)."""
    rng = np.random.default_rng(seed)
    n_units = max(2, round(n_ratings / (N_CRITERIA * 2.4)))
    k = rng.choice([2, 3], size=n_units, p=[0.6, 0.4])
    n_pairs = int(k.sum())
    unit_of_pair = np.repeat(np.arange(n_units), k)
    # 2-3 distinct assessors per submission: a random start and distinct offsets mod 800.
    offset = np.concatenate([[0], np.cumsum(k)[:-1]])
    slot = np.arange(n_pairs) - np.repeat(offset, k)
    rater_of_pair = (rng.integers(0, N_ASSESSORS, n_units)[unit_of_pair] + slot * 97) % N_ASSESSORS
    unit = np.repeat(unit_of_pair, N_CRITERIA)
    rater = np.repeat(rater_of_pair, N_CRITERIA)
    criterion = np.tile(np.arange(N_CRITERIA), n_pairs)
    pair = np.repeat(np.arange(n_pairs), N_CRITERIA)
    sd = {k: math.sqrt(v) for k, v in COMPONENTS.items()}
    latent = (
        2.5
        + rng.normal(0, sd["p"], n_units)[unit]
        + rng.normal(0, sd["i"], N_CRITERIA)[criterion]
        + rng.normal(0, sd["r:p"], n_pairs)[pair]
        + rng.normal(0, sd["pi"], n_units * N_CRITERIA)[unit * N_CRITERIA + criterion]
        + rng.normal(0, sd["ri:p"], len(unit))
    )
    value = np.clip(np.rint(latent), 1, 4)
    return unit.astype(np.int64), rater.astype(np.int64), criterion.astype(np.int64), value


def measure(n_ratings: int, repeat: int) -> tuple[int, float, float, float]:
    """(ratings, best seconds, peak MiB, Phi) for one size."""
    unit, rater, criterion, value = live_ratings(n_ratings)
    seconds, study = best(lambda: gstudy(unit, rater, criterion, value), repeat)
    peak, _ = peak_mib(lambda: gstudy(unit, rater, criterion, value))
    return len(value), seconds, peak, study.phi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print()
    print(
        "| ratings | submissions | time (s) | peak memory (MiB) | bytes / rating | growth b "
        "(time ~ n^b) | Phi |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    previous: tuple[int, float] | None = None
    first: tuple[int, float] | None = None
    for size in args.sizes:
        n, seconds, mib, phi = measure(size, args.repeat)
        growth = (
            ""
            if previous is None
            else f"{math.log(seconds / previous[1]) / math.log(n / previous[0]):.2f}"
        )
        submissions = round(size / (N_CRITERIA * 2.4))
        print(
            f"| {n:,} | {submissions:,} | {seconds:.3f} | {mib:.1f} | "
            f"{mib * 2**20 / n:.0f} | {growth} | {phi:.3f} |"
        )
        previous = (n, seconds)
        first = first or previous
    if first is not None and previous is not None and previous[0] > first[0]:
        overall = math.log(previous[1] / first[1]) / math.log(previous[0] / first[0])
        print()
        print(f"growth over the whole range: time ~ n^{overall:.2f}")


if __name__ == "__main__":
    main()
