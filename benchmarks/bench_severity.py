"""Benchmark: ``fit_severity`` against its JMLE peer ``fit_mfrm`` on the sparse live design.

Design: submissions x 5 criteria, each submission scored by 2 of 800 assessors, 4 score
categories, from the rating-scale many-facet Rasch model (abilities N(0, 1), severities
N(0, 0.5), difficulties -0.5..0.5, thresholds -1.5, 0, 1.5). The first submissions chain the
assessors (submission u links assessors u and u + 1), the rest pair them at random, so the design
is connected at every size; at 10^3 ratings only the 101 chained assessors appear. For each size
and the same data: the best wall time of ``--repeat`` runs of
:func:`calibrate.stats.severity.fit_severity` (marginal maximum likelihood, severities as random
effects, to 0.0001 logits, quadrature refined until the log-likelihood settles, intervals and fit)
and of :func:`calibrate.stats.rasch.fit_mfrm` (JMLE as FACETS, to 0.0001 logits, with FACETS'
tables), their iterations, and the ratio of the times.

Run from the repository root::

    .venv/bin/python benchmarks/bench_severity.py            # markdown table on stdout
    .venv/bin/python benchmarks/bench_severity.py --sizes 1000 10000 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import numpy.typing as npt
from _timing import best

from calibrate.stats.rasch import fit_mfrm
from calibrate.stats.severity import fit_severity

N_ASSESSORS = 800
N_CRITERIA = 5
TAU = np.array([-1.5, 0.0, 1.5])

Arrays = tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]


def live_ratings(n_ratings: int, seed: int = 0, n_assessors: int = N_ASSESSORS) -> Arrays:
    """``n_ratings`` ratings (rounded to whole submissions): submissions x 2 of
    ``n_assessors`` assessors x 5 criteria."""
    rng = np.random.default_rng(seed)
    n_units = max(1, n_ratings // (2 * N_CRITERIA))
    first = np.arange(n_units) % n_assessors
    step = rng.integers(1, n_assessors, n_units)
    step[:n_assessors] = 1  # the chain: unit u links assessors u and u + 1
    second = (first + step) % n_assessors
    readers = np.stack([first, second], axis=1).ravel()
    unit = np.repeat(np.arange(n_units), 2 * N_CRITERIA)
    rater = np.repeat(readers, N_CRITERIA)
    criterion = np.tile(np.arange(N_CRITERIA), 2 * n_units)
    eta = (
        rng.normal(0.0, 1.0, n_units)[unit]
        - np.linspace(-0.5, 0.5, N_CRITERIA)[criterion]
        - rng.normal(0.0, 0.5, n_assessors)[rater]
    )
    psi = np.concatenate([[0.0], np.cumsum(TAU)])
    logits = np.multiply.outer(np.arange(psi.size), eta) - psi[:, None]
    p = np.exp(logits - logits.max(axis=0))
    p /= p.sum(axis=0)
    value = (np.cumsum(p, axis=0) < rng.random(eta.size)).sum(axis=0).astype(np.float64) + 1.0
    return unit, rater, criterion, value


def run(sizes: list[int], repeat: int, patience: float) -> str:
    rows = []
    for n in sizes:
        data = live_ratings(n)
        t_sev, sev = best(lambda: fit_severity(*data), repeat, patience=patience)  # noqa: B023
        t_jml, jml = best(
            lambda: fit_mfrm(*data, on_disconnected="flag"),  # noqa: B023 (called at once)
            repeat,
            patience=patience,
        )
        n_actual = data[0].size
        rows.append(
            f"| {n_actual:,} | {n_actual // (2 * N_CRITERIA):,} | {len(sev.assessors)} "
            f"| {t_sev:.2f} | {sev.iterations} | {sev.nodes} "
            f"| {t_jml:.2f} | {jml.iterations} | {t_sev / t_jml:.2f} |"
        )
    head = [
        f"fit_severity (MML, random severities) vs fit_mfrm (JMLE), sparse live design (2 of "
        f"{N_ASSESSORS} assessors x {N_CRITERIA} criteria, 4 categories); numpy "
        f"{np.__version__}, Python {platform.python_version()}, best of {repeat}",
        "",
        "| ratings | submissions | assessors | fit_severity (s) | Newton iterations | nodes "
        "| fit_mfrm (s) | JMLE iterations | time ratio (severity / JMLE) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    return "\n".join(head + rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--patience", type=float, default=60.0, help="stop repeating a fit slower than this (s)"
    )
    args = parser.parse_args()
    print(run(args.sizes, args.repeat, args.patience))


if __name__ == "__main__":
    main()
