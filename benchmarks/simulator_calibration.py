"""The figures behind the simulator's defaults (``calibrate.simulate``, Notes: calibration).

For each seed, one ``pilot`` programme on the demo rubrics and anchor sets with the default
:class:`~calibrate.simulate.SimulationConfig`; pooled over the seeds:

- the share of earned credentials earned on the first attempt (Washington pilot: 18/132, 13.6%);
- per rubric, human-human agreement of the live submissions double-scored by two
  well-calibrated assessors (the first reading against the second, as operational programmes
  report reader 1 against reader 2): exact and adjacent agreement, quadratic weighted kappa and
  ordinal Krippendorff alpha (:func:`calibrate.stats.agreement.summarize`), and the G
  coefficient of all double-scored live work (:func:`calibrate.stats.gtheory.gstudy`, nested
  design, planted assessors included); mean and range over the seeds;
- qualification: the share of rounds passed by round number, and of each effect's assessors
  who qualify.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/simulator_calibration.py --seeds 0 60
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from calibrate.anchors import load_anchor_sets
from calibrate.ratings import CONTEXTS
from calibrate.rubric import Rubric, load_rubrics
from calibrate.simulate import EFFECTS, Programme, simulate_programme
from calibrate.stats.agreement import summarize
from calibrate.stats.gtheory import gstudy

ROOT = Path(__file__).resolve().parents[1]
LIVE = CONTEXTS.index("live")


def live_agreement(programme: Programme, rubrics: dict[str, Rubric]) -> dict[str, dict[str, float]]:
    """Per rubric key: agreement of calibrated pairs and G of all double-scored live work."""
    truth, subs = programme.truth, programme.truth.submissions
    calibrated = np.array([a.effect == "calibrated" for a in truth.assessors])
    row = {s: i for i, s in enumerate(subs.id)}
    sub = np.array([row.get(s, -1) for s in programme.submissions])[programme.submission]
    out = {}
    for r, key in enumerate(programme.rubrics):
        live = (programme.context == LIVE) & (programme.rubric == r)
        second = np.where(live, subs.second_reader[sub], -1)
        double = live & (second >= 0)
        pair = double & calibrated[subs.first_reader[sub]] & calibrated[np.maximum(second, 0)]
        unit = programme.submission * len(programme.criteria) + programme.criterion
        score = programme.score.astype(np.float64)
        levels = rubrics[key].scores
        reading = (programme.assessor == second).astype(np.int64)  # 0 first, 1 second
        by_reading = summarize(unit[pair], reading[pair], score[pair], levels=levels)
        by_assessor = summarize(unit[pair], programme.assessor[pair], score[pair], levels=levels)
        g = gstudy(
            programme.submission[double],
            programme.assessor[double],
            programme.criterion[double],
            score[double],
        )
        kappa = by_reading.cohen_kappa or {}
        out[key] = {
            "exact": by_reading.percent_exact,
            "adjacent": by_reading.percent_adjacent,
            "qwk": kappa.get("quadratic", float("nan")),
            "alpha": by_assessor.krippendorff_alpha["ordinal"],
            "G": g.observed.g,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs=2, type=int, default=[0, 60], metavar=("FROM", "TO"))
    parser.add_argument("--size", default="pilot")
    args = parser.parse_args()
    rubrics = load_rubrics(ROOT / "rubrics")
    sets = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    seeds = range(*args.seeds)
    earned = first = 0
    figures: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    qualified: dict[str, list[bool]] = defaultdict(list)
    rounds: dict[int, list[bool]] = defaultdict(list)
    for seed in seeds:
        programme = simulate_programme(rubrics, sets, size=args.size, seed=seed)
        summary = programme.summary()
        earned += summary.earned
        first += summary.earned_by_attempt.get(1, 0)
        for key, values in live_agreement(programme, {r.key: r for r in rubrics}).items():
            for name, value in values.items():
                figures[key][name].append(value)
        for a in programme.truth.assessors:
            qualified[a.effect].append(a.qualified)
            for r in a.rounds:
                rounds[r.number].append(r.passed)
    print(f"seeds {seeds.start}-{seeds.stop - 1}, size {args.size}")
    print(f"first attempt: {first}/{earned} = {first / earned:.1%} of earned credentials")
    for key, values in figures.items():
        cells = ", ".join(
            f"{name} {np.nanmean(v):.3f} ({np.nanmin(v):.2f}-{np.nanmax(v):.2f})"
            for name, v in values.items()
        )
        print(f"{key}: {cells}")
    print(
        "rounds passed: " + ", ".join(f"round {n} {np.mean(rounds[n]):.1%}" for n in sorted(rounds))
    )
    print(
        "qualified: "
        + ", ".join(f"{e} {np.mean(qualified[e]):.0%}" for e in EFFECTS if qualified[e])
    )


if __name__ == "__main__":
    main()
