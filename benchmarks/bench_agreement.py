"""Benchmark: agreement statistics on the sparse live design, against today's Python peers.

Design (issue 3): submissions x 5 criteria; 824 assessors in 103 teams of 8; each submission
goes to one team and is scored by 2 (78%) or 3 (22%) of its assessors on every criterion, on a
1-4 scale (a unit = one submission x criterion). At 10^6 ratings: 90,000 submissions, 450,000
units, 2,884 assessor pairs with overlap.

For each size, in the same run and on the same data:

- floor: one ``np.bincount`` over the ratings' (unit, score) keys, the least any method must do;
- alpha, all four levels, from the long arrays (``coincidence_matrix`` + four ``.alpha``)
  versus ``krippendorff.alpha`` (four calls) on its best input, a units x values count matrix
  (built beforehand, untimed), and on its natural input, the assessors x units matrix (NaN =
  missing; skipped above ``--max-dense-gb`` of matrix plus its internal boolean cube);
- extra memory of our alpha (``tracemalloc`` peak, numpy buffers included);
- a 1,000-resample percentile bootstrap of alpha at all four levels (tabulation included)
  versus one alpha at all four levels;
- Cohen's kappa of all assessor pairs with overlap (``cohen_kappa_pairs``) versus looping
  ``sklearn.metrics.cohen_kappa_score`` over the pairs (their paired scores extracted
  beforehand, untimed);
- the cost of the run-time cross-check of alpha against the reference implementation
  (``calibrate.analyses.agreement.check_alpha``, one per summary: pooled and each of the 5
  criteria, as ``calibrate agreement`` runs it) against the agreement report itself
  (``agreement_report`` without the check: every statistic, pooled and per criterion), without
  and with a 1,000-resample bootstrap (second table).

Times are the best of ``--repeat`` runs (fewer for the slow peers at large sizes: 2 runs when a
peer takes over 2 s). Results are checked to agree (alpha to 1e-9, kappa to 1e-12).

Run from the repository root::

    .venv/bin/python benchmarks/bench_agreement.py                 # markdown table on stdout
    .venv/bin/python benchmarks/bench_agreement.py --sizes 1000 10000 --repeat 3
    .venv/bin/python benchmarks/bench_agreement.py --check-only --sizes 1000 10000 100000
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform
from typing import Any

import krippendorff
import numpy as np
import numpy.typing as npt
from _timing import best, peak_mib
from sklearn.metrics import cohen_kappa_score

from calibrate.analyses.agreement import agreement_report, check_alpha
from calibrate.ratings import Ratings
from calibrate.stats import long_ratings
from calibrate.stats._tabulate import tabulate
from calibrate.stats.agreement import ALPHA_LEVELS, cohen_kappa_pairs, coincidence_matrix
from calibrate.stats.alpha import alphas_of_coincidences, coincidences
from calibrate.stats.resample import bootstrap_units

N_TEAMS, TEAM_SIZE, N_CRITERIA, N_LEVELS = 103, 8, 5, 4
PATIENCE = 2.0  # seconds: a peer slower than this runs twice, not --repeat times
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def live_ratings(n_ratings: int, seed: int = 0) -> tuple[IntArray, IntArray, FloatArray]:
    """About ``n_ratings`` ratings of the sparse live design: unit, rater, value (long arrays)."""
    rng = np.random.default_rng(seed)
    n_subs = max(2, round(n_ratings / (N_CRITERIA * 2.22)))
    k = rng.choice([2, 3], size=n_subs, p=[0.78, 0.22])
    team = rng.integers(0, N_TEAMS, n_subs)
    sub = np.repeat(np.arange(n_subs), k)
    # k distinct members of the team: a random permutation's first k entries.
    order = np.argsort(rng.random((n_subs, TEAM_SIZE)), axis=1)
    slot = np.arange(sub.size) - np.repeat(np.cumsum(k) - k, k)
    rater = team[sub] * TEAM_SIZE + order[sub, slot]
    severity = rng.normal(0, 0.3, N_TEAMS * TEAM_SIZE)
    truth = rng.normal(2.5, 0.9, (n_subs, N_CRITERIA))
    unit = (sub[:, None] * N_CRITERIA + np.arange(N_CRITERIA)).ravel()
    rater_long = np.repeat(rater, N_CRITERIA)
    score = truth.ravel()[unit] + severity[rater_long] + rng.normal(0, 0.5, unit.size)
    value = np.clip(np.rint(score), 1, N_LEVELS)
    return unit.astype(np.int64), rater_long.astype(np.int64), value


def our_alpha(unit: IntArray, value: FloatArray) -> list[float]:
    return list(coincidence_matrix(unit, value).alphas(ALPHA_LEVELS).values())


def our_bootstrap(unit: IntArray, value: FloatArray, n_boot: int) -> dict[str, Any]:
    table = tabulate(long_ratings(unit, None, None, value))

    def alphas(w: FloatArray) -> dict[str, FloatArray]:
        return dict(alphas_of_coincidences(coincidences(table.counts, w), table.categories))

    return bootstrap_units(table.multiplicity, alphas, n_boot=n_boot, seed=0)


def sklearn_pairs(unit: IntArray, rater: IntArray, value: FloatArray) -> list[tuple[Any, Any]]:
    """Paired scores of every assessor pair with overlap (the peer's input, built untimed)."""
    order = np.lexsort((rater, unit))
    u, r, v = unit[order], rater[order], value[order]
    i, j = [], []
    for d in (1, 2):
        same = np.flatnonzero(u[d:] == u[:-d])
        i.append(same)
        j.append(same + d)
    a, b = np.concatenate(i), np.concatenate(j)
    key = r[a] * (int(r.max()) + 1) + r[b]
    by_pair = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[by_pair])) + 1
    return [(v[a[g]], v[b[g]]) for g in np.split(by_pair, bounds)]


def as_ratings(unit: IntArray, rater: IntArray, value: FloatArray) -> Ratings:
    """The long arrays as coded ratings: units are submissions, criteria their own code."""
    submission, criterion = unit // N_CRITERIA, unit % N_CRITERIA
    n_raters = int(rater.max()) + 1
    return Ratings(
        unit=submission,
        rater=rater,
        criterion=criterion,
        value=value,
        units=tuple(f"s{i}" for i in range(int(submission.max()) + 1)),
        raters=tuple(f"a{i}" for i in range(n_raters)),
        criteria=tuple(f"c{i}" for i in range(N_CRITERIA)),
    )


def alpha_checks(ratings: Ratings, alphas: list[dict[str, float]], levels: FloatArray) -> Any:
    """The cross-checks ``agreement_report`` runs: pooled, then each criterion."""
    pooled = ratings.unit * N_CRITERIA + ratings.criterion
    jobs = [(pooled, ratings.value)] + [
        (pooled[ratings.criterion == c], ratings.value[ratings.criterion == c])
        for c in range(N_CRITERIA)
    ]
    return [
        check_alpha(u, v, alpha, levels=levels)  # type: ignore[arg-type]
        for (u, v), alpha in zip(jobs, alphas, strict=True)
    ]


def run_check(n_ratings: int, repeat: int, n_boot: int) -> dict[str, Any]:
    """Time the alpha cross-check against the agreement report it checks (summaries over
    :data:`~calibrate.analyses.agreement.REFERENCE_CELLS` are skipped by the check)."""
    unit, rater, value = live_ratings(n_ratings)
    ratings = as_ratings(unit, rater, value)
    levels = np.arange(1.0, N_LEVELS + 1)
    row: dict[str, Any] = {"ratings": unit.size, "units": int(unit.max()) + 1}

    def report(boot: int) -> Any:
        return agreement_report(ratings, levels=levels, n_boot=boot, seed=0, reference_check=False)

    row["report"], plain = best(lambda: report(0), repeat, patience=PATIENCE)
    row["report_boot"], _ = best(lambda: report(n_boot), repeat, patience=PATIENCE)
    alphas = [plain.pooled.krippendorff_alpha] + [
        s.krippendorff_alpha for s in plain.criteria.values()
    ]
    row["check"], checks = best(
        lambda: alpha_checks(ratings, alphas, levels), repeat, patience=PATIENCE
    )
    assert all(c.agrees is not False for c in checks), [c.to_dict() for c in checks]
    run = [c for c in checks if c.skipped is None]
    row["checked"] = f"{len(run)} of {len(checks)}"
    row["worst"] = max((c.max_abs_difference or 0.0) for c in run) if run else float("nan")
    return row


def check_table(rows: list[dict[str, Any]], n_boot: int) -> str:
    head = (
        "| ratings | units | summaries checked | agreement report (ms) "
        "| alpha check (ms) | check / report "
        f"| report + bootstrap {n_boot:,} (ms) | check / that | largest difference |"
    )
    lines = [head, "|" + " ---: |" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['ratings']:,} | {r['units']:,} | {r['checked']} | {r['report'] * 1e3:,.1f} "
            f"| {r['check'] * 1e3:,.1f} | {r['check'] / r['report']:.2f} "
            f"| {r['report_boot'] * 1e3:,.1f} | {r['check'] / r['report_boot']:.2f} "
            f"| {r['worst']:.1e} |"
        )
    return "\n".join(lines)


def run(n_ratings: int, repeat: int, max_dense_gb: float, n_boot: int) -> dict[str, Any]:
    unit, rater, value = live_ratings(n_ratings)
    n_units = int(unit.max()) + 1
    row: dict[str, Any] = {"ratings": unit.size, "units": n_units}

    code = (value - 1).astype(np.int64)
    row["floor"], _ = best(lambda: np.bincount(unit * N_LEVELS + code), repeat, patience=PATIENCE)
    row["alpha"], ours = best(lambda: our_alpha(unit, value), repeat, patience=PATIENCE)
    row["peak"], _ = peak_mib(lambda: our_alpha(unit, value))

    counts = np.bincount(unit * N_LEVELS + code, minlength=n_units * N_LEVELS)
    counts = counts.reshape(n_units, N_LEVELS)
    domain = np.arange(1.0, N_LEVELS + 1)

    def kripp_counts() -> list[float]:
        return [
            krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=lv)
            for lv in ALPHA_LEVELS
        ]

    row["kripp_counts"], theirs = best(kripp_counts, repeat, patience=PATIENCE)
    assert np.allclose(ours, theirs, atol=1e-9, rtol=0), (ours, theirs)

    n_raters = int(rater.max()) + 1
    dense_gb = n_raters * n_units * (8 + N_LEVELS) / 1e9  # float64 matrix + its bool cube
    row["kripp_dense"] = None
    if dense_gb <= max_dense_gb:
        matrix = np.full((n_raters, n_units), np.nan)
        matrix[rater, unit] = value

        def kripp_dense() -> list[float]:
            return [
                krippendorff.alpha(reliability_data=matrix, level_of_measurement=lv)
                for lv in ALPHA_LEVELS
            ]

        row["kripp_dense"], theirs = best(kripp_dense, repeat, patience=PATIENCE)
        assert np.allclose(ours, theirs, atol=1e-9, rtol=0)
        del matrix
    else:
        row["dense_skipped"] = f"needs ~{dense_gb:.1f} GB > --max-dense-gb {max_dense_gb:g}"

    row["bootstrap"], _ = best(
        lambda: our_bootstrap(unit, value, n_boot), repeat, patience=PATIENCE
    )

    row["pairs_kappa"], pk = best(
        lambda: cohen_kappa_pairs(unit, rater, value), repeat, patience=PATIENCE
    )
    pairs = sklearn_pairs(unit, rater, value)
    row["n_pairs"] = len(pairs)
    assert len(pairs) == pk.kappa.size

    def sklearn_loop() -> list[float]:
        return [
            cohen_kappa_score(x, y) if np.unique(np.r_[x, y]).size > 1 else np.nan for x, y in pairs
        ]

    row["sklearn_loop"], sk = best(sklearn_loop, min(repeat, 3), patience=PATIENCE)
    assert np.allclose(np.sort(pk.kappa), np.sort(np.asarray(sk)), atol=1e-12, equal_nan=True)
    return row


def table(rows: list[dict[str, Any]], n_boot: int) -> str:
    head = (
        "| ratings | units | floor: 1 bincount (ms) | alpha x4 levels (ms) | / floor "
        "| krippendorff, value counts (ms) | speed-up | krippendorff, assessors x units (ms) "
        "| speed-up | peak extra memory (MiB) "
        f"| bootstrap {n_boot:,} x4 levels (ms) | / one alpha | pairs | all-pairs kappa (ms) "
        "| sklearn loop (ms) | speed-up |"
    )
    lines = [head, "|" + " ---: |" * (head.count("|") - 1)]
    for r in rows:
        ms = {
            k: r[k] * 1e3
            for k in ("floor", "alpha", "kripp_counts", "bootstrap", "pairs_kappa", "sklearn_loop")
        }
        dense = (
            f"{r['kripp_dense'] * 1e3:,.0f} | {r['kripp_dense'] / r['alpha']:,.0f}x"
            if r["kripp_dense"] is not None
            else "skipped | -"
        )
        lines.append(
            f"| {r['ratings']:,} | {r['units']:,} | {ms['floor']:.2f} | {ms['alpha']:.2f} "
            f"| {r['alpha'] / r['floor']:.1f} | {ms['kripp_counts']:,.1f} "
            f"| {r['kripp_counts'] / r['alpha']:.1f}x | {dense} | {r['peak']:.1f} "
            f"| {ms['bootstrap']:,.1f} | {r['bootstrap'] / r['alpha']:.1f} | {r['n_pairs']:,} "
            f"| {ms['pairs_kappa']:.1f} | {ms['sklearn_loop']:,.0f} "
            f"| {r['sklearn_loop'] / r['pairs_kappa']:.0f}x |"
        )
    notes = [
        f"- {r['ratings']:,} ratings: assessors x units matrix skipped, {r['dense_skipped']}"
        for r in rows
        if "dense_skipped" in r
    ]
    return "\n".join(lines + (["", *notes] if notes else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6])
    parser.add_argument("--repeat", type=int, default=5, help="best of N runs")
    parser.add_argument("--max-dense-gb", type=float, default=8.0)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument(
        "--check-only", action="store_true", help="only the alpha cross-check table"
    )
    args = parser.parse_args()
    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"krippendorff {importlib.metadata.version('krippendorff')}"
        f", best of {args.repeat}\n"
    )
    if not args.check_only:
        rows = [run(n, args.repeat, args.max_dense_gb, args.n_boot) for n in args.sizes]
        print(table(rows, args.n_boot))
        print()
    print(check_table([run_check(n, args.repeat, args.n_boot) for n in args.sizes], args.n_boot))


if __name__ == "__main__":
    main()
