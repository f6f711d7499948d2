"""Benchmark: detection and false-flag rates of ``assessor_flags`` on simulated programmes.

Design. Each replication simulates one programme (:func:`calibrate.simulate.simulate_programme`)
on one of the demo rubrics, in turn ct-unplugged (4 levels, 5 criteria), inquiry-lead (4 levels,
6 criteria) and crsel-intro (3 levels, 5 criteria), with its anchor sets:

- a pool of ``--assessors`` assessors (60), 7% of them planted with each effect (severe,
  lenient, inconsistent, central, halo, drift starting in the middle 40% of the live window,
  differential severity on one criterion): 4 of each per programme, 32 well-calibrated (the
  simulator keeps the calibrated a majority, so 7% per effect is the most it allows);
- earners in turn ``--earners`` (150, 400, 1000), so that the assessors' live workloads spread
  from a handful of ratings to over a thousand and every bin of the table fills;
- the qualification standard waived (every minimum set to 0), so planted assessors reach live
  work, as in ``tests/test_simulate.py``;
- the default live rules but validity anchors seeded at 10% of each queue rather than 5%
  (NAEP's backreading floor is 5%, so 10% is a generous but realistic programme; the anchor
  tests and the drift charts need a few dozen anchor readings); double scoring at the default
  25% (NAEP's rate for small samples).

Effect sizes, two tiers, alternating over the replications (a score level is
``threshold_step`` = 10 logits wide):

- ``half``: the simulator's defaults, half a score level: severity, drift and differential
  5 logits, inconsistency noise SD 5 logits, central tendency thresholds stretched by 1.75
  (on 4 levels the outer thresholds move 7.5 logits, three quarters of a level), halo
  removing 80% of each score's deviation from the reading's mean;
- ``quarter``: every size halved, a quarter of a level: 2.5 logits, noise SD 2.5, stretch
  1.375, halo 40%. A quarter of a level is the tolerance of the severity, differential and
  anchor tests (``flags.*_levels`` = 0.25), so these effects sit on the thresholds by design
  and a flag needs the estimate beyond them by more than chance.

:func:`calibrate.flags.assessor_flags` then runs over the rubric's live work and validity
anchors with the default rules of the rubric (``rules_for(rubric).flags`` and ``.drift``) and its
anchor sets. A planted assessor is *detected* when flagged with the matching kind (severe ->
severe, lenient -> lenient, inconsistent, central, halo, drift -> drift, differential ->
differential on the planted criterion); *any flag* counts a flag of any kind. A *false flag* is
any flag on a well-calibrated assessor. Assessors are binned by their live ratings (criterion
scores, anchors not counted). Every rate has its Wilson 95% interval and the count behind it.
A third table gives, for assessors with 50 or more live ratings, the share flagged with each
kind (what else a planted effect sets off).

Run from the repository root (a replication takes 3-10 s)::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_flags.py --reps 120
    PYTHONPATH=src .venv/bin/python benchmarks/bench_flags.py --reps 2 --earners 120  # smoke
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from calibrate.anchors import AnchorSet, load_anchor_sets
from calibrate.flags import assessor_flags
from calibrate.ratings import CONTEXTS, read_ratings_csv
from calibrate.rubric import Rubric, load_rubrics
from calibrate.rules import RuleOverrides, rules_for
from calibrate.simulate import EFFECTS, EffectSizes, ProgrammeSize, SimulationConfig
from calibrate.simulate import simulate_programme as simulate

ROOT = Path(__file__).resolve().parents[1]
RUBRICS = ("ct-unplugged@1", "inquiry-lead@1", "crsel-intro@1")
PLANTED = EFFECTS[1:]
KINDS = ("severe", "lenient", "inconsistent", "central", "halo", "differential", "drift",
         "discrepant", "inaccurate")  # fmt: skip
SHARE = 0.07
HALF = EffectSizes()
TIERS = {
    "half": HALF,
    "quarter": replace(
        HALF, severity=HALF.severity / 2, noise_sd=HALF.noise_sd / 2,
        spread=1 + (HALF.spread - 1) / 2, halo=HALF.halo / 2, drift=HALF.drift / 2,
        differential=HALF.differential / 2,
    ),
}  # fmt: skip
RULES = {
    "qualification.min_exact": 0.0,
    "qualification.min_adjacent": 0.0,
    "qualification.max_non_adjacent": 1000,
    "qualification.min_decision": 0.0,
    "live.validity_rate": 0.10,
}
BINS = (0, 50, 100, 200)
LIVE = CONTEXTS.index("live")


@dataclass(frozen=True)
class Outcome:
    """One assessor of one replication: tier, planted effect, live ratings, flag kinds, and
    whether the matching flag was raised."""

    tier: str
    effect: str
    ratings: int
    kinds: frozenset[str]
    detected: bool


def bin_label(n: int) -> str:
    """The ratings bin of ``n`` live ratings (``"<50"``, ``"50-99"``, ..., ``"200+"``)."""
    i = int(np.searchsorted(BINS, n, side="right")) - 1
    if i == 0:
        return f"<{BINS[1]}"
    if i == len(BINS) - 1:
        return f"{BINS[-1]}+"
    return f"{BINS[i]}-{BINS[i + 1] - 1}"


@cache
def definitions(key: str) -> tuple[Rubric, list[AnchorSet]]:
    """The demo rubric ``key`` and its anchor sets."""
    rubrics = load_rubrics(ROOT / "rubrics")
    every = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    (rubric,) = [r for r in rubrics if r.key == key]
    return rubric, [s for s in every if s.rubric_key == key]


def replicate(rep: int, seed: int, assessors: int, earners: Sequence[int]) -> list[Outcome]:
    """Simulate replication ``rep`` and flag its assessors."""
    tier = list(TIERS)[rep % len(TIERS)]
    key = RUBRICS[(rep // len(TIERS)) % len(RUBRICS)]
    n_earners = earners[(rep // (len(TIERS) * len(RUBRICS))) % len(earners)]
    rubric, sets = definitions(key)
    config = SimulationConfig(
        effects=TIERS[tier],
        effect_shares=dict.fromkeys(PLANTED, SHARE),
        rules=RuleOverrides(RULES),
    )
    size = ProgrammeSize(assessors=assessors, earners=n_earners)
    programme = simulate([rubric], sets, size=size, seed=seed + rep, config=config)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ratings.csv"
        programme.write_csv(path)
        ratings = read_ratings_csv(path)
    rules = rules_for(rubric)
    report = assessor_flags(ratings, rubric, rules.flags, anchor_sets=sets, drift=rules.drift)
    live = programme.context == LIVE
    counts = np.bincount(programme.assessor[live], minlength=len(programme.assessors))
    kinds: dict[str, set[str]] = defaultdict(set)
    differential: dict[str, set[str | None]] = defaultdict(set)
    for flag in report.flags:
        kinds[flag.assessor].add(flag.kind)
        if flag.kind == "differential":
            differential[flag.assessor].add(flag.criterion)
    out = []
    for j, a in enumerate(programme.truth.assessors):
        if not a.qualified:
            continue  # cannot happen with the standard waived; kept out if it ever does
        mine = kinds.get(a.id, set())
        if a.effect == "differential":
            hit = a.differential_criterion in differential.get(a.id, set())
        else:
            hit = a.effect in mine
        out.append(Outcome(tier, a.effect, int(counts[j]), frozenset(mine), hit))
    return out


def rate(k: int, n: int, *, count: bool = True) -> str:
    """``k / n`` as a percentage with its Wilson 95% interval (and ``n``, with ``count``)."""
    if n == 0:
        return "-"
    ci = binomtest(k, n).proportion_ci(method="wilson")
    return f"{100 * k / n:.0f} ({100 * ci.low:.0f}-{100 * ci.high:.0f})" + (
        f" n={n}" if count else ""
    )


def in_bin(o: Outcome, b: str) -> bool:
    """Whether ``o`` falls in ratings bin ``b`` (``"50+"``: every bin from 50 ratings up)."""
    return o.ratings >= BINS[1] if b == "50+" else bin_label(o.ratings) == b


def tables(outcomes: Sequence[Outcome]) -> str:
    """The three markdown tables."""
    bins = [*(bin_label(b) for b in BINS), "50+"]
    tiers = list(TIERS)
    lines = [
        "Detection: % of planted assessors flagged with the matching kind, and with any flag "
        "(Wilson 95% interval, n assessors)",
        "",
        "| effect | live ratings | "
        + " | ".join(f"{t}: matching | {t}: any flag" for t in tiers)
        + " |",
        "| --- | --- |" + " ---: | ---: |" * len(tiers),
    ]
    for effect in PLANTED:
        for b in bins:
            cells = []
            for t in tiers:
                group = [o for o in outcomes if o.tier == t and o.effect == effect and in_bin(o, b)]
                cells.append(rate(sum(o.detected for o in group), len(group)))
                cells.append(rate(sum(bool(o.kinds) for o in group), len(group)))
            lines.append(f"| {effect} | {b} | " + " | ".join(cells) + " |")
    shown = [k for k in KINDS if any(k in o.kinds for o in outcomes)]
    lines += [
        "",
        "False flags: % of well-calibrated assessors with any flag, and with each kind "
        "(Wilson 95% interval; n calibrated assessors in the first cell)",
        "",
        "| tier | live ratings | any flag | " + " | ".join(shown) + " |",
        "| --- | --- | ---: |" + " ---: |" * len(shown),
    ]
    for t in tiers:
        for b in bins:
            group = [
                o for o in outcomes if o.tier == t and o.effect == "calibrated" and in_bin(o, b)
            ]
            n = len(group)
            row = [rate(sum(bool(o.kinds) for o in group), n)]
            row += [rate(sum(k in o.kinds for o in group), n, count=False) for k in shown]
            lines.append(f"| {t} | {b} | " + " | ".join(row) + " |")
    lines += [
        "",
        "What each effect sets off: % of assessors with 50 or more live ratings flagged with "
        "each kind (half-level tier)",
        "",
        "| effect | n | " + " | ".join(shown) + " |",
        "| --- | ---: |" + " ---: |" * len(shown),
    ]
    for effect in EFFECTS:
        group = [
            o for o in outcomes if o.tier == "half" and o.effect == effect and in_bin(o, "50+")
        ]
        count = Counter(k for o in group for k in o.kinds)
        share = [f"{100 * count[k] / len(group):.0f}" if group else "-" for k in shown]
        lines.append(f"| {effect} | {len(group)} | " + " | ".join(share) + " |")
    return "\n".join(lines)


def run(reps: int, seed: int, assessors: int, earners: Sequence[int], jobs: int = 1) -> str:
    """Run ``reps`` replications and return the tables with a heading line."""
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    one = partial(replicate, seed=seed, assessors=assessors, earners=earners)
    with ProcessPoolExecutor(jobs) if jobs > 1 else nullcontext() as pool:
        done = pool.map(one, range(reps)) if pool else map(one, range(reps))
        for rep, got in enumerate(done):
            outcomes += got
            elapsed = time.perf_counter() - start
            print(f"replication {rep + 1}/{reps}, {elapsed:.0f} s", file=sys.stderr, flush=True)
    head = (
        f"{reps} replications (seeds {seed}-{seed + reps - 1}), {assessors} assessors "
        f"({SHARE:.0%} per planted effect), earners {', '.join(map(str, earners))} in turn, "
        f"rubrics {', '.join(RUBRICS)} in turn; default flag and drift rules, validity rate "
        f"{RULES['live.validity_rate']:.0%}, qualification waived; Python "
        f"{platform.python_version()}, numpy {np.__version__}; "
        f"{jobs} process(es), {time.perf_counter() - start:.0f} s"
    )
    return head + "\n\n" + tables(outcomes)


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=120, help="replications (programmes)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first replication")
    parser.add_argument("--assessors", type=int, default=60, help="assessors per programme")
    parser.add_argument(
        "--earners", "--sizes", type=int, nargs="+", default=[150, 400, 1000],
        help="earners per programme, taken in turn (sets the live ratings per assessor)",
    )  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="processes running replications")
    args = parser.parse_args(argv)
    text = run(args.reps, args.seed, args.assessors, args.earners, args.jobs)
    print(text)
    return text


if __name__ == "__main__":
    main()
