"""Benchmark: ``simulate_programme`` on the demo rubrics, from the classroom preset to 10^6 ratings.

For each size: ratings, assessors and earners; the best wall time of ``--repeat`` runs of the
simulation, of writing ``ratings.csv`` and of writing ``truth.json``; the peak memory of one
simulation under ``tracemalloc`` (numpy allocations included); and the attempt distribution of
earned credentials (share on the first attempt; the Washington pilot had 18 of 132, 13.6%).

Run from the repository root::

    .venv/bin/python benchmarks/bench_simulate.py                  # markdown table on stdout
    .venv/bin/python benchmarks/bench_simulate.py --sizes classroom pilot --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import tracemalloc
from functools import partial
from pathlib import Path
from typing import cast

from _timing import best

from calibrate.anchors import load_anchor_sets
from calibrate.rubric import load_rubrics
from calibrate.simulate import PRESETS, Programme, SizeName, simulate_programme

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["classroom", "pilot", "100000", "state"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rubrics = load_rubrics(ROOT / "rubrics")
    sets = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})

    print(
        "| size | ratings | assessors | earners | simulate s | csv s | truth s | peak MB "
        "| earned by attempt 1/2/3/4/5 | first |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for name in args.sizes:
        size = int(name) if name.isdigit() else cast(SizeName, name)
        if size not in PRESETS and not isinstance(size, int):
            parser.error(f"unknown size {name!r}")

        def simulate(size: SizeName | int = size) -> Programme:
            return simulate_programme(rubrics, sets, size=size, seed=args.seed)

        tracemalloc.start()
        programme = simulate()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        t_sim, _ = best(simulate, args.repeat)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            t_csv, _ = best(partial(programme.write_csv, out / "r.csv"), args.repeat)
            t_json, _ = best(partial(programme.write_truth, out / "t.json"), args.repeat)
        s = programme.summary()
        dist = "/".join(str(v) for v in s.earned_by_attempt.values())
        print(
            f"| {name} | {s.ratings:,} | {s.assessors:,} | {s.earners:,} | {t_sim:.2f} "
            f"| {t_csv:.2f} | {t_json:.2f} | {peak:.0f} | {dist} | {s.first_attempt_share:.1%} |"
        )


if __name__ == "__main__":
    main()
