"""Benchmark: ``fit_mfrm`` on the sparse live design at 10^4, 10^5 and 10^6 ratings.

Design: each submission is scored by 2 of 800 assessors on 5 criteria, 4 score categories, from
the rating-scale many-facet Rasch model (abilities N(0, 1), severities N(0, 0.5), difficulties
-0.5..0.5, thresholds -1.5, 0, 1.5). Assessors are assigned at random after a ring that links
them all (so the design is connected at every size). For each size: the best wall time of
``--repeat`` runs of :func:`calibrate.stats.rasch.fit_mfrm` (extremes, connectivity, JMLE to
0.0001 logits, fit statistics, summaries, bias terms), the JMLE iterations, the peak memory of
one run under ``tracemalloc`` (numpy allocations included, the input arrays excluded), and the
growth exponent b in time ~ n^b (and memory ~ n^b) between successive sizes.

Run from the repository root::

    .venv/bin/python benchmarks/bench_rasch.py            # markdown table on stdout
    .venv/bin/python benchmarks/bench_rasch.py --sizes 10000 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import math
import platform

import numpy as np
import numpy.typing as npt
from _timing import best, peak_mib

from calibrate.stats.rasch import fit_mfrm

N_ASSESSORS = 800
N_CRITERIA = 5
TAU = np.array([-1.5, 0.0, 1.5])

Arrays = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]


def live_ratings(n_ratings: int, seed: int = 0) -> Arrays:
    """About ``n_ratings`` ratings: submissions x 2 assessors x 5 criteria."""
    rng = np.random.default_rng(seed)
    n_units = max(N_ASSESSORS, n_ratings // (2 * N_CRITERIA))
    first = np.arange(n_units) % N_ASSESSORS
    step = rng.integers(1, N_ASSESSORS, n_units)
    step[:N_ASSESSORS] = 1  # the ring: unit u links assessors u and u + 1
    second = (first + step) % N_ASSESSORS
    readers = np.stack([first, second], axis=1).ravel()
    unit = np.repeat(np.arange(n_units), 2 * N_CRITERIA)
    rater = np.repeat(readers, N_CRITERIA)
    criterion = np.tile(np.arange(N_CRITERIA), 2 * n_units)
    eta = (
        rng.normal(0.0, 1.0, n_units)[unit]
        - np.linspace(-0.5, 0.5, N_CRITERIA)[criterion]
        - rng.normal(0.0, 0.5, N_ASSESSORS)[rater]
    )
    psi = np.concatenate([[0.0], np.cumsum(TAU)])
    logits = np.multiply.outer(np.arange(psi.size), eta) - psi[:, None]
    p = np.exp(logits - logits.max(axis=0))
    p /= p.sum(axis=0)
    u = rng.random((eta.size,))
    value = (np.cumsum(p, axis=0) < u).sum(axis=0).astype(np.float64) + 1.0
    return unit, rater, criterion, value


def run(sizes: list[int], repeat: int) -> str:
    rows = []
    prev: tuple[int, float, float] | None = None
    for n in sizes:
        data = live_ratings(n)
        seconds, res = best(lambda: fit_mfrm(*data), repeat)  # noqa: B023 (called at once)
        iterations = res.iterations
        peak, _ = peak_mib(lambda: fit_mfrm(*data))  # noqa: B023
        n_actual = data[0].size
        if prev is None:
            growth = "-"
        else:
            dn = math.log(n_actual / prev[0])
            growth = f"{math.log(seconds / prev[1]) / dn:.2f} / {math.log(peak / prev[2]) / dn:.2f}"
        rows.append(
            f"| {n_actual:,} | {n_actual // (2 * N_CRITERIA):,} | {iterations} | {seconds:.2f} "
            f"| {peak:,.0f} | {growth} |"
        )
        prev = (n_actual, seconds, peak)
    head = [
        f"fit_mfrm, sparse live design (2 of {N_ASSESSORS} assessors x {N_CRITERIA} criteria, "
        f"4 categories); numpy {np.__version__}, Python {platform.python_version()}, "
        f"best of {repeat}",
        "",
        "| ratings | submissions | JMLE iterations | time (s) | peak memory (MiB) "
        "| growth b (time / memory) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    return "\n".join(head + rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(run(args.sizes, args.repeat))


if __name__ == "__main__":
    main()
