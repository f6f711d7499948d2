"""Speed of the monitoring services on a stored programme: flags, drift and the rubric audit.

For programmes simulated at 10^4..10^6 ratings (:func:`calibrate.simulate.simulate_programme`
on the demo rubrics; the largest with ``--assessors`` assessors, 5,000 by default, a state
programme) imported into a SQLite store (or PostgreSQL with ``--postgres URL``), this times, per
rubric and summed over the rubrics, what an issuer's monitoring reads from the store:

- ``flags``: :func:`calibrate.services.assessor_flags` (every test of :mod:`calibrate.flags`);
- ``drift``: :func:`calibrate.services.drift_report` (control charts, severity per window, pool);
- ``audit``: :func:`calibrate.services.audit_rubric` with ``--bootstrap`` resamples;

and, as the peer measured in the same run on the same ratings, ``load`` + ``fit``: the store's
read of the rubric's live and validity ratings (:func:`calibrate.store.load_ratings`) and one
random-effects rater model (:func:`calibrate.stats.severity.fit_severity`), the least any of
these services must do. The ratio says what the rest of the monitoring costs over that.

Run from the repository root (the 10^6 row takes minutes; progress on stderr)::

    .venv/bin/python benchmarks/bench_monitoring.py                       # 10^4, 10^5, 10^6
    .venv/bin/python benchmarks/bench_monitoring.py --sizes 10000 100000 --bootstrap 200
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from calibrate import services, store
from calibrate.access import Actor
from calibrate.simulate import ProgrammeSize, simulate_programme
from calibrate.stats.severity import fit_severity

if TYPE_CHECKING:
    from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[1]
OPERATOR = Actor.operator("bench@localhost")
T = TypeVar("T")


def timed(label: str, fn: Callable[[], T]) -> tuple[float, T]:
    print(f"  {label} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    out = fn()
    took = time.perf_counter() - start
    print(f"  {label}: {took:.1f} s", file=sys.stderr, flush=True)
    return took, out


def programme_store(url: str, size: int, assessors: int, folder: Path, seed: int) -> int:
    """Simulate and import a programme of about ``size`` ratings; its rating count."""
    engine = store.open_store(url)
    services.import_definitions(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine,
                                actor=OPERATOR)  # fmt: skip
    rubrics = store.stored_rubrics(engine=engine)
    sets = store.stored_anchor_sets(engine=engine)
    chosen: int | ProgrammeSize = size
    if size >= 1_000_000:
        chosen = ProgrammeSize(assessors=assessors, earners=44_000)
    programme = simulate_programme(rubrics, sets, size=chosen, seed=seed)
    programme.write_csv(folder / "ratings.csv")
    services.import_ratings(folder / "ratings.csv", engine=engine, actor=OPERATOR)
    engine.dispose()
    return len(programme)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--assessors", type=int, default=5_000)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", help="a PostgreSQL URL (its tables are dropped)")
    parser.add_argument(
        "--keep", type=Path, help="a folder to keep the largest programme's SQLite store in"
    )
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()}, {platform.machine()}, {args.bootstrap} resamples")
    print()
    print("| ratings | assessors | rubric | load + fit (s) | flags (s) | drift (s) | audit (s) "
          "| total (s) | total / (load + fit) |")  # fmt: skip
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if args.keep is not None and size == max(args.sizes):
                folder = args.keep
                folder.mkdir(parents=True, exist_ok=True)
            url = args.postgres or f"sqlite:///{folder / 'store.db'}"
            if args.postgres:
                from tests.conftest import _reset_postgres

                _reset_postgres(url)
            print(f"{size:,} ratings: simulate and import", file=sys.stderr, flush=True)
            n = programme_store(url, size, args.assessors, folder, args.seed)
            engine = store.open_store(url)
            sums = [0.0] * 5
            for rubric in store.stored_rubrics(engine=engine):
                print(f" {rubric.key}", file=sys.stderr, flush=True)
                times, assessors = measure(engine, rubric.key, args.bootstrap)
                sums = [a + b for a, b in zip(sums, times, strict=True)]
                print(row(n, f"{assessors:,}", rubric.key, times), flush=True)
            print(row(n, "", "all", sums), flush=True)
            engine.dispose()


def measure(engine: Engine, key: str, n_boot: int) -> tuple[list[float], int]:
    """The times of the peer, flags, drift, audit and their total on one rubric, and its
    number of assessors."""

    def peer() -> object:
        live = store.load_ratings(engine=engine, rubric=key, contexts=["live", "validity"])
        return fit_severity(live.unit, live.rater, live.criterion, live.value)

    base, _ = timed("load + fit", peer)
    flags, report = timed(
        "flags", lambda: services.assessor_flags(engine=engine, actor=OPERATOR, rubric=key)
    )
    drift, _ = timed(
        "drift", lambda: services.drift_report(engine=engine, actor=OPERATOR, rubric=key)
    )
    audit, _ = timed(
        "audit",
        lambda: services.audit_rubric(engine=engine, actor=OPERATOR, rubric=key, n_boot=n_boot),
    )
    return [base, flags, drift, audit, flags + drift + audit], len(report.assessors)


def row(n: int, assessors: str, rubric: str, t: list[float]) -> str:
    return (
        f"| {n:,} | {assessors} | {rubric} | {t[0]:.1f} | {t[1]:.1f} | {t[2]:.1f} | {t[3]:.1f} "
        f"| {t[4]:.1f} | {t[4] / t[0]:.1f} |"
    )


if __name__ == "__main__":
    main()
