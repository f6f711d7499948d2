"""The programme simulator: sizes, attempts, calibration rounds, planted effects, determinism.

Planted effects are checked with the simple statistics a reviewer would reach for first (mean
signed deviation from the expert scores, spread of scores, spread across criteria of one reading),
never with the model that generated them. Thresholds sit between what well-calibrated assessors
and planted ones reach at the default effect sizes (see ``EffectSizes``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from calibrate.anchors import AnchorSet, anchor_set_from_data, load_anchor_sets
from calibrate.cli import app
from calibrate.errors import CalibrateError
from calibrate.ratings import CONTEXTS, read_rating_rows
from calibrate.rubric import Rubric, load_rubrics, rubric_from_data
from calibrate.rules import RuleOverrides, rules_for
from calibrate.simulate import (
    COLUMNS,
    OUTCOMES,
    PRESETS,
    Programme,
    ProgrammeSize,
    SimulationConfig,
    simulate_programme,
)
from tests.conftest import Result

REPO = Path(__file__).resolve().parents[1]
LIVE, VALIDITY = CONTEXTS.index("live"), CONTEXTS.index("validity")
ANCHOR = [CONTEXTS.index(c) for c in ("practice", "qualification", "validity")]
MIN_ANCHOR = 150  # anchor ratings an assessor needs for per-assessor statistics (30 a criterion)
MIN_LIVE = 200  # live ratings an assessor needs for the within-reading spread
MIN_SIDE = 40  # validity ratings needed on each side of a date to compare means
PILOT_FIRST_SHARE = 18 / 132  # Washington PESB pilot three: 18 of 132 earned on the 1st attempt


# --- small rubrics and anchor sets built here (independent of the demo files) -------------------


def _rubric(rid: str, labels: list[str], n_criteria: int, pass_label: str) -> Rubric:
    levels = [{"score": i + 1, "label": lab} for i, lab in enumerate(labels)]
    criteria = [
        {
            "id": f"c{c + 1}",
            "title": f"Criterion {c + 1}",
            "descriptors": {i + 1: f"{lab} on criterion {c + 1}" for i, lab in enumerate(labels)},
        }
        for c in range(n_criteria)
    ]
    data = {
        "id": rid,
        "version": 1,
        "title": rid,
        "competency": "A test competency.",
        "levels": levels,
        "criteria": criteria,
        "pass_rule": {"every_criterion_at_least": pass_label},
    }
    return rubric_from_data(data, source=f"{rid}.yaml")


def _anchor_set(rubric: Rubric, purpose: str, n: int, offset: int) -> AnchorSet:
    """``n`` anchors cycling through the levels; in each, one criterion is a level off the rest
    (real anchors are mostly even across criteria, with a weaker or stronger part)."""
    k, ids = len(rubric.levels), rubric.criterion_ids

    def score(i: int, j: int) -> int:
        level = (offset + i) % k
        if j == i % len(ids):
            level += 1 if level < k - 1 else -1
        return 1 + level

    anchors = [
        {
            "id": f"{rubric.id}-{purpose[0]}{i + 1:02d}",
            "artifact": {"title": f"Anchor {i + 1}", "excerpt": "Evidence."},
            "scores": {c: score(i, j) for j, c in enumerate(ids)},
            "rationale": {c: "Because." for c in ids},
        }
        for i in range(n)
    ]
    data = {
        "id": f"{rubric.id}-{purpose}",
        "rubric": rubric.id,
        "rubric_version": 1,
        "title": purpose,
        "purpose": purpose,
        "anchors": anchors,
    }
    return anchor_set_from_data(data, rubric, source=f"{rubric.id}/{purpose}.yaml")


THREE = _rubric("three-level", ["Not met", "Progressing", "Demonstrated"], 5, "Demonstrated")
FOUR = _rubric(
    "four-level", ["Beginning", "Developing", "Proficient", "Exemplary"], 4, "Proficient"
)
RUBRICS = [THREE, FOUR]
BY_KEY = {r.key: r for r in RUBRICS}
# A qualification standard every assessor meets: every planted effect reaches live work.
EVERYONE_QUALIFIES = {
    "qualification.min_exact": 0.0,
    "qualification.min_adjacent": 0.0,
    "qualification.max_non_adjacent": 1000,
    "qualification.min_decision": 0.0,
}
SETS = [
    _anchor_set(r, purpose, n, offset)
    for r in RUBRICS
    for purpose, n, offset in (("practice", 6, 0), ("qualification", 10, 1), ("validity", 6, 2))
]


def _expert(programme: Programme, sets: list[AnchorSet]) -> np.ndarray:
    """Expert score of every anchor rating (NaN for live ratings), shape (n,)."""
    table = {
        (s.rubric_key, a.id, c): score
        for s in sets
        for a in s.anchors
        for c, score in a.scores.items()
    }
    sub, rub, crit = (programme.column(name) for name in ("submission", "rubric", "criterion"))
    anchor = np.isin(programme.context, ANCHOR)
    out = np.full(len(programme), np.nan)
    out[anchor] = [table[key] for key in zip(rub[anchor], sub[anchor], crit[anchor], strict=True)]
    return out


def _by_effect(
    programme: Programme, statistic: Any, within: np.ndarray, minimum: int
) -> dict[str, np.ndarray]:
    """``statistic(mine)`` of every assessor with at least ``minimum`` ratings in ``within``
    (``mine`` masks those ratings), grouped by planted effect. Assessors below the minimum are
    left out: a statistic of a handful of ratings says more about chance than about the effect."""
    out: dict[str, list[float]] = {}
    for j, a in enumerate(programme.truth.assessors):
        mine = within & (programme.assessor == j)
        if mine.sum() >= minimum:
            out.setdefault(a.effect, []).append(statistic(mine))
    return {effect: np.asarray(values) for effect, values in out.items()}


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def classroom() -> Programme:
    return simulate_programme(RUBRICS, SETS, size="classroom", seed=3)


@pytest.fixture(scope="module")
def effects_run() -> Programme:
    """80 assessors (4 or more per planted effect), 6,000 earners and 3 in 10 of every queue a
    validity anchor: a few hundred anchor ratings per assessor, so simple statistics separate
    the planted effects from sampling noise. The qualification standard is one every assessor
    meets, so every planted effect reaches live work: these tests study the generating model,
    not the screening (the default standard screens most halo, severe, inconsistent and central
    assessors out, see ``test_default_standard_screens_out_planted_effects``). The thresholds
    below were checked on seeds 0-79, not only on this one: all hold but three (seeds 14, 41 and
    51: a differential assessor with 165 to 280 anchor ratings stands out by 2.80 to 2.96 standard
    errors where the test asks for 3)."""
    config = SimulationConfig(
        rules=RuleOverrides({**EVERYONE_QUALIFIES, "live.validity_rate": 0.3})
    )
    return simulate_programme(
        RUBRICS, SETS, size=ProgrammeSize(assessors=80, earners=6000), seed=5, config=config
    )


def _anchor_deviation(programme: Programme) -> tuple[np.ndarray, np.ndarray]:
    """Signed deviation from the expert score of every anchor rating (NaN elsewhere), and the
    mask of anchor ratings."""
    expert = _expert(programme, SETS)
    return programme.score - expert, np.isin(programme.context, ANCHOR)


def _reading_spread(programme: Programme, mask: np.ndarray) -> float:
    """Mean over readings (one assessor x one submission) of the SD of the criterion scores."""
    key = programme.submission[mask] * len(programme.assessors) + programme.assessor[mask]
    _, reading = np.unique(key, return_inverse=True)
    score = programme.score[mask].astype(float)
    n = np.bincount(reading)
    mean = np.bincount(reading, score) / n
    return float(np.sqrt(np.bincount(reading, (score - mean[reading]) ** 2) / n).mean())


# --- sizes --------------------------------------------------------------------------------------


def test_classroom_preset_sizes(classroom: Programme) -> None:
    truth = classroom.truth
    assert len(truth.assessors) == PRESETS["classroom"].assessors == 15
    assert len(truth.earners) == PRESETS["classroom"].earners
    assert 1_000 < len(classroom) < 5_000
    summary = classroom.summary()
    assert summary.ratings == len(classroom)
    assert sum(summary.ratings_by_context.values()) == len(classroom)
    # every planted effect once, the well-calibrated the majority
    assert summary.assessors_by_effect == {
        "calibrated": 8,
        "severe": 1,
        "lenient": 1,
        "inconsistent": 1,
        "central": 1,
        "halo": 1,
        "drift": 1,
        "differential": 1,
    }


def test_ratings_target_is_met() -> None:
    programme = simulate_programme(RUBRICS, SETS, size=12_000, seed=1)
    assert abs(len(programme) - 12_000) / 12_000 < 0.05
    assert programme.summary().size == "12000 ratings"


def test_ratings_target_below_calibration_is_refused() -> None:
    with pytest.raises(CalibrateError, match="too small"):
        simulate_programme(RUBRICS, SETS, size=500, seed=1)


@pytest.mark.slow
def test_state_preset_is_a_million_ratings_in_seconds() -> None:
    begin = time.perf_counter()
    programme = simulate_programme(RUBRICS, SETS, size="state", seed=1)
    elapsed = time.perf_counter() - begin
    assert 0.8e6 < len(programme) < 1.3e6
    assert len(programme.truth.assessors) == PRESETS["state"].assessors
    assert elapsed < 30


# --- the attempt pattern ------------------------------------------------------------------------


def test_first_attempt_share_matches_the_pilot() -> None:
    """The defaults are tuned on the demo rubrics under the default programme rules (the pilot
    preset, pooled over seeds; see the ``simulate`` module notes): the share of earned
    credentials earned on the first attempt is 18/132 = 13.6% in the source. One pilot run
    varies by about 2.3 points (pool composition and earners); 10 pooled runs by under 1 point,
    hence the 2.5-point tolerance."""
    rubrics = load_rubrics(REPO / "rubrics")
    sets = load_anchor_sets(REPO / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    by_attempt = np.zeros(6, dtype=np.int64)
    for seed in range(10):
        summary = simulate_programme(rubrics, sets, size="pilot", seed=seed).summary()
        assert set(summary.earned_by_attempt) == {1, 2, 3, 4, 5}
        by_attempt[1:] += list(summary.earned_by_attempt.values())
    share = by_attempt / by_attempt.sum()
    assert share[1] == pytest.approx(PILOT_FIRST_SHARE, abs=0.025)
    # most are earned on the 2nd to 5th attempt, as in the pilot (114 of 132)
    assert share[2:].sum() > 0.8


def test_attempts_follow_each_credential(classroom: Programme) -> None:
    subs, creds = classroom.truth.submissions, classroom.truth.credentials
    assert subs.attempt.max() <= 5
    earned = creds.outcome == OUTCOMES.index("earned")
    # one submission per attempt; the last one decides the outcome
    key = subs.earner * len(RUBRICS) + subs.rubric
    cred_key = creds.earner * len(RUBRICS) + creds.rubric
    for k, attempts, won in zip(cred_key, creds.attempts, earned, strict=True):
        mine = key == k
        assert sorted(subs.attempt[mine]) == list(range(1, attempts + 1))
        assert subs.passed[mine].sum() == int(won)
        if won:
            assert subs.passed[mine][subs.attempt[mine] == attempts].all()
    used = creds.outcome == OUTCOMES.index("attempts used")
    assert (creds.attempts[used] == 5).all()


def test_summary_attempt_distribution(classroom: Programme) -> None:
    summary = classroom.summary()
    creds = classroom.truth.credentials
    earned = creds.attempts[creds.outcome == OUTCOMES.index("earned")]
    assert summary.earned == earned.size
    assert summary.earned_by_attempt == {a: int((earned == a).sum()) for a in range(1, 6)}
    assert summary.first_attempt_share == pytest.approx((earned == 1).mean())
    assert "first attempt" in str(summary)
    json.dumps(summary.to_dict())


# --- calibration rounds -------------------------------------------------------------------------


def test_qualification_rounds_follow_the_standard(classroom: Programme) -> None:
    """Recompute every round's agreement from the written ratings and apply the rubric's
    standard from the programme rules (NAEP by scale: 80% exact on the 3-level rubric, 70% on
    the 4-level one; 95% adjacent, no score more than one level off, 90% of pass decisions):
    rounds stop at the first pass or after 3; only qualified assessors score live work, and
    only after qualifying."""
    expert = _expert(classroom, SETS)
    rounds, subs = classroom.column("round"), classroom.column("submission")
    exact_needed = {"three-level@1": 0.80, "four-level@1": 0.70}
    for j, a in enumerate(classroom.truth.assessors):
        rubric = BY_KEY[a.rubric]
        standard = rules_for(rubric).qualification
        assert standard.min_exact == exact_needed[a.rubric]
        assert 1 <= len(a.rounds) <= standard.max_rounds == 3
        assert [r.number for r in a.rounds] == list(range(1, len(a.rounds) + 1))
        assert not any(r.passed for r in a.rounds[:-1])
        assert a.rounds[-1].passed or len(a.rounds) == standard.max_rounds
        for r in a.rounds:
            mine = rounds == r.round
            gap = np.abs(classroom.score[mine] - expert[mine])
            assert gap.size == 10 * len(rubric.criteria)  # every anchor, every criterion
            assert r.exact == pytest.approx((gap == 0).mean())
            assert r.adjacent == pytest.approx((gap <= 1).mean())
            assert r.non_adjacent == (gap > 1).sum()
            # pass decisions per anchor: the rubric's rule on the assessor's and the experts'
            # scores (rows in criterion order: every reading lists the criteria in that order)
            anchors = subs[mine].reshape(10, -1)
            assert (anchors == anchors[:, :1]).all()
            given = classroom.score[mine].reshape(10, -1)
            right = expert[mine].reshape(10, -1).astype(np.int64)
            agree = (rubric.passes(given) == rubric.passes(right)).mean()
            assert r.decision == pytest.approx(agree)
            assert r.passed == (
                r.exact >= standard.min_exact
                and r.adjacent >= 0.95
                and r.non_adjacent == 0
                and r.decision >= 0.90
            )
            practice = f"{a.id}-prac-{r.number}"
            assert (classroom.column("context")[rounds == practice] == "practice").all()
        scoring = (classroom.assessor == j) & np.isin(classroom.context, [LIVE, VALIDITY])
        if a.qualified:
            assert (classroom.timestamp[scoring] > np.datetime64(a.rounds[-1].timestamp)).all()
        else:
            assert not scoring.any()


def test_retakes_and_a_stricter_standard() -> None:
    one_round = SimulationConfig(rules=RuleOverrides({"qualification.max_rounds": 1}))
    programme = simulate_programme(RUBRICS, SETS, size="pilot", seed=2, config=one_round)
    assert all(len(a.rounds) == 1 for a in programme.truth.assessors)
    rates = programme.summary().qualification_pass_rate
    assert set(rates) == {1}
    # Perfect agreement with the experts on every score of a round: at the default step (10
    # logits) a well-calibrated assessor gives the experts' level with probability about
    # 1 - 2 exp(-5) = 0.987 per score, so about half their rounds of 10 anchors are perfect; at a
    # step of 4 logits it is at most 1 / (1 + 2 exp(-2)) = 0.79 per score, and a round of 50 or
    # more scores is perfect with probability below 1e-5.
    impossible = SimulationConfig(
        rules=RuleOverrides({"qualification.min_exact": 1.0, "qualification.min_adjacent": 1.0}),
        threshold_step=4.0,
    )
    with pytest.raises(CalibrateError, match="no assessor qualified"):
        simulate_programme(RUBRICS, SETS, size="pilot", seed=2, config=impossible)


def test_default_standard_screens_out_planted_effects() -> None:
    """Under the default standard every well-calibrated assessor qualifies within three rounds,
    fewer of those planted with the effects qualification is there to catch (on the demo
    rubrics, seeds 0-59 of the pilot: 100% against 13-67%, see the simulate module notes). Here
    a pool of 80 on the test rubrics (2 assessors per effect); on seeds 0-79 the well-calibrated
    share was 1 on every seed, and the share of halo, severe, inconsistent and central
    assessors 0.50 on average but up to 0.88 on a seed: the 0.6 bound is this seed's, not one
    that holds on every seed (with half-level effects the default standard catches about half
    of these assessors)."""
    size = ProgrammeSize(assessors=80, earners=50)
    programme = simulate_programme(RUBRICS, SETS, size=size, seed=5)
    qualified: dict[str, list[bool]] = {}
    for a in programme.truth.assessors:
        qualified.setdefault(a.effect, []).append(a.qualified)
    caught = [q for e in ("halo", "severe", "inconsistent", "central") for q in qualified[e]]
    assert np.mean(qualified["calibrated"]) >= 0.85
    assert np.mean(caught) <= 0.6


# --- live scoring -------------------------------------------------------------------------------


def test_live_ratings_match_the_truth(classroom: Programme) -> None:
    subs = classroom.truth.submissions
    live = classroom.context == LIVE
    code = classroom.submission[live] - (len(classroom.submissions) - len(subs.id))
    assert (np.asarray(subs.id)[code] == classroom.column("submission")[live]).all()
    assert (classroom.attempt[live] == subs.attempt[code]).all()
    assert (classroom.rubric[live] == subs.rubric[code]).all()
    assert (classroom.earner[live] - 1 == subs.earner[code]).all()
    readers = classroom.assessor[live]
    assert np.all((readers == subs.first_reader[code]) | (readers == subs.second_reader[code]))
    assert (subs.first_reader != subs.second_reader).all()
    # ids follow the order of submission
    assert (np.diff(subs.submitted.astype(np.int64)) >= 0).all()


def test_double_scoring_and_validity_shares() -> None:
    """The programme rules' shares: 25% of submissions double-scored (NAEP, small samples); 1 in
    20 of a queue is a validity anchor. This pilot has about 1,150 submissions and 1,500
    readings: binomial standard errors of 1.3 and 0.6 points, and tolerances over 3 of them."""
    live_rules = rules_for(THREE).live
    assert (live_rules.double_share, live_rules.validity_rate) == (0.25, 0.05)
    programme = simulate_programme(RUBRICS, SETS, size="pilot", seed=4)
    subs = programme.truth.submissions
    assert (subs.second_reader >= 0).mean() == pytest.approx(0.25, abs=0.04)

    def readings(context: int) -> int:
        mask = programme.context == context
        keys = np.stack(
            [programme.submission[mask], programme.assessor[mask], programme.round[mask]]
        )
        return int(np.unique(keys, axis=1).shape[1])

    live, validity = readings(LIVE), readings(VALIDITY)
    assert live == len(subs.id) + int((subs.second_reader >= 0).sum())
    assert validity / (validity + live) == pytest.approx(0.05, abs=0.02)


def _first_readers_by_attempt(programme: Programme) -> list[tuple[int, int]]:
    """(first reader of attempt a - 1, first reader of attempt a) for every resubmission."""
    subs = programme.truth.submissions
    key = (subs.earner * len(programme.rubrics) + subs.rubric).tolist()
    reader = {
        (k, int(a)): int(f) for k, a, f in zip(key, subs.attempt, subs.first_reader, strict=True)
    }
    return [(reader[(k, a - 1)], f) for (k, a), f in reader.items() if a > 1]


def test_a_resubmission_goes_to_another_first_reader() -> None:
    """Rule ``resubmission.different_assessor`` (on by default): the assessor whose scores
    decided an attempt does not decide the next one. Switched off, readers drawn by capacity
    repeat now and then (a pool of a few qualified assessors per rubric)."""
    pairs = _first_readers_by_attempt(simulate_programme(RUBRICS, SETS, size="pilot", seed=6))
    assert pairs and all(before != after for before, after in pairs)
    same = SimulationConfig(rules=RuleOverrides({"resubmission.different_assessor": False}))
    pairs = _first_readers_by_attempt(
        simulate_programme(RUBRICS, SETS, size="pilot", seed=6, config=same)
    )
    assert any(before == after for before, after in pairs)


def test_rules_apply_per_rubric() -> None:
    """Per-rubric overrides: two attempts and no double scoring on the 3-level rubric, no
    practice on the 4-level one; the other rubric keeps the defaults."""
    overrides = RuleOverrides(
        rubrics={
            "three-level": {"resubmission.max_attempts": 2, "live.double_share": 0.0},
            "four-level@1": {"practice.required": False},
        }
    )
    programme = simulate_programme(
        RUBRICS, SETS, size="pilot", seed=4, config=SimulationConfig(rules=overrides)
    )
    assert [r.rubric for r in programme.rules] == ["three-level@1", "four-level@1"]
    assert programme.rules[0].resubmission.max_attempts == 2
    subs, creds = programme.truth.submissions, programme.truth.credentials
    three = subs.rubric == 0
    assert subs.attempt[three].max() == 2 and subs.attempt[~three].max() > 2
    assert (subs.second_reader[three] == -1).all() and (subs.second_reader[~three] >= 0).any()
    used = creds.outcome == OUTCOMES.index("attempts used")
    assert set(creds.attempts[used & (creds.rubric == 0)]) == {2}
    assert set(creds.attempts[used & (creds.rubric == 1)]) <= {5}
    practice = programme.context == CONTEXTS.index("practice")
    assert set(programme.rubric[practice]) == {0}
    assert set(programme.summary().earned_by_attempt) == {1, 2, 3, 4, 5}


# --- planted effects, recovered with simple statistics ------------------------------------------


def test_every_effect_scores_live_work(effects_run: Programme) -> None:
    live = effects_run.context == LIVE
    effects = {effects_run.truth.assessors[j].effect for j in np.unique(effects_run.assessor[live])}
    assert effects == {
        "calibrated",
        "severe",
        "lenient",
        "inconsistent",
        "central",
        "halo",
        "drift",
        "differential",
    }


def test_severe_and_lenient_deviate_from_the_experts(effects_run: Programme) -> None:
    """Mean signed deviation from the expert scores on anchors (practice, qualification and
    validity): 5 logits of severity (half a 10-logit level) puts an anchor on the threshold
    below its level, moving scores by up to half a level (less at the bottom of the scale);
    well-calibrated assessors (severity SD 0.75 logits) centre on the experts."""
    deviation, anchor = _anchor_deviation(effects_run)
    mean = _by_effect(effects_run, lambda m: deviation[m].mean(), anchor, MIN_ANCHOR)
    low, mid, high = np.quantile(mean["calibrated"], [0.1, 0.5, 0.9])
    assert abs(mid) < 0.05
    assert mean["severe"].max() < min(low, 0)
    assert mean["lenient"].min() > max(high, 0)
    assert mean["severe"].mean() < -0.15 and mean["lenient"].mean() > 0.15


def test_inconsistent_assessors_scatter_about_the_experts(effects_run: Programme) -> None:
    """SD of the deviations from the expert scores: extra noise of 5 logits (SD, half a level)
    widens it."""
    deviation, anchor = _anchor_deviation(effects_run)
    sd = _by_effect(effects_run, lambda m: deviation[m].std(), anchor, MIN_ANCHOR)
    assert sd["inconsistent"].min() > np.quantile(sd["calibrated"], 0.9)
    assert sd["inconsistent"].mean() > sd["calibrated"].mean() + 0.1


def test_central_tendency_compresses_scores(effects_run: Programme) -> None:
    """SD of an assessor's anchor scores over the SD of the expert scores of the same ratings."""
    expert = _expert(effects_run, SETS)
    _, anchor = _anchor_deviation(effects_run)
    ratio = _by_effect(
        effects_run, lambda m: effects_run.score[m].std() / expert[m].std(), anchor, MIN_ANCHOR
    )
    assert ratio["central"].max() < 0.9 < ratio["calibrated"].min()


def test_halo_flattens_a_reading_across_criteria(effects_run: Programme) -> None:
    """Mean SD of the criterion scores within one live reading. On seeds 0-11 of this run the
    halo assessors' largest was 0.03 to 0.07 and the well-calibrated assessors' smallest 0.13 to
    0.20 (mean 0.18 to 0.25): with a level 10 logits wide and criteria 1.5 logits apart, a
    calibrated reading's criterion scores differ less than they did at 4 logits a level."""
    live = effects_run.context == LIVE
    spread = _by_effect(effects_run, lambda m: _reading_spread(effects_run, m), live, MIN_LIVE)
    assert spread["halo"].max() < 0.1 < spread["calibrated"].min()


def test_drift_changes_the_deviation_after_the_drift_date(effects_run: Programme) -> None:
    """Mean deviation on validity anchors after the drift date minus before: a drifter turning
    severe (shift > 0) scores lower afterwards, one turning lenient higher (by up to half a
    level for 5 logits). Well-calibrated assessors show no such change at mid-programme.
    """
    deviation, _ = _anchor_deviation(effects_run)
    validity = effects_run.context == VALIDITY
    stamps = effects_run.timestamp

    def change(mine: np.ndarray, after: np.ndarray) -> float:
        if min((mine & after).sum(), (mine & ~after).sum()) < MIN_SIDE:
            return np.nan
        return float(deviation[mine & after].mean() - deviation[mine & ~after].mean())

    drifted = []
    for j, a in enumerate(effects_run.truth.assessors):
        if a.effect == "drift" and a.drift_date is not None:
            mine = validity & (effects_run.assessor == j)
            drifted.append(
                -np.sign(a.drift_shift) * change(mine, stamps >= np.datetime64(a.drift_date))
            )
    toward_shift = np.asarray(drifted)[~np.isnan(drifted)]
    assert toward_shift.size and toward_shift.min() > 0 and toward_shift.mean() > 0.15

    later = stamps >= stamps[0] + (stamps[-1] - stamps[0]) / 2
    calm = _by_effect(effects_run, lambda m: change(m, later), validity, 2 * MIN_SIDE)["calibrated"]
    calm = calm[~np.isnan(calm)]
    assert calm.size >= 20 and np.mean(np.abs(calm) < 0.15) >= 0.9


def test_differential_severity_is_on_one_criterion(effects_run: Programme) -> None:
    """Per criterion, an assessor's mean deviation from the experts minus the well-calibrated
    assessors' mean deviation on that criterion (anchors at the top of the scale can only be
    under-scored, so raw per-criterion means differ even for calibrated assessors), with its
    standard error. The planted criterion stands out from the assessor's other criteria by more
    than 3 standard errors, no other criterion does; 5 logits on one criterion move it by up to
    half a level."""
    deviation, anchor = _anchor_deviation(effects_run)
    criterion = effects_run.column("criterion")
    calibrated = [j for j, a in enumerate(effects_run.truth.assessors) if a.effect == "calibrated"]
    peers = anchor & np.isin(effects_run.assessor, calibrated)
    gaps = []
    for j, a in enumerate(effects_run.truth.assessors):
        mine = anchor & (effects_run.assessor == j)
        if a.effect != "differential" or mine.sum() < MIN_ANCHOR:
            continue
        rubric = effects_run.rubric == effects_run.rubrics.index(a.rubric)
        ids = list(np.unique(criterion[mine]))
        contrast, se = np.zeros(len(ids)), np.zeros(len(ids))
        for i, c in enumerate(ids):
            own, ref = (
                deviation[mine & (criterion == c)],
                deviation[peers & rubric & (criterion == c)],
            )
            contrast[i] = own.mean() - ref.mean()
            se[i] = np.sqrt(own.var() / own.size + ref.var() / ref.size)
        k = ids.index(a.differential_criterion)
        others = np.delete(contrast, k)
        # the others' common level is the assessor's own severity, which may be off zero
        assert others.mean() - contrast[k] > 3 * se[k]
        assert (np.abs(others - others.mean()) < 3 * np.delete(se, k)).all()
        gaps.append(contrast[k] - others.mean())
    assert gaps and np.mean(gaps) < -0.25


def test_truth_records_the_planted_parameters(effects_run: Programme) -> None:
    for a in effects_run.truth.assessors:
        assert (a.drift_date is not None) == (a.effect == "drift") == (a.drift_shift != 0)
        assert (a.differential_criterion is not None) == (a.effect == "differential")
        assert (a.noise_sd > 0) == (a.effect == "inconsistent")
        assert (a.spread != 1) == (a.effect == "central")
        assert (a.halo > 0) == (a.effect == "halo")
        if a.effect == "severe":
            assert a.severity > 0.5
        if a.effect == "lenient":
            assert a.severity < -0.5
        if a.drift_date is not None:
            assert effects_run.start < a.drift_date < effects_run.end


# --- determinism and files ----------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    paths = []
    for name, seed in (("a", 9), ("b", 9), ("c", 10)):
        programme = simulate_programme(RUBRICS, SETS, size="classroom", seed=seed)
        programme.write_csv(tmp_path / f"{name}.csv")
        programme.write_truth(tmp_path / f"{name}.json")
        paths.append(name)
    read = {
        n: (tmp_path / f"{n}.csv").read_bytes() + (tmp_path / f"{n}.json").read_bytes()
        for n in paths
    }
    assert read["a"] == read["b"]
    assert read["a"] != read["c"]


def test_csv_is_the_import_format(classroom: Programme, tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    classroom.write_csv(path)
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    rows = read_rating_rows(path)  # the importer's own checks: no bad row, no duplicate rating
    assert len(rows) == len(classroom)
    stamps = rows.timestamp
    assert stamps is not None and (np.diff(stamps.astype(np.int64)) >= 0).all()
    context = rows.column("context")
    anchor = context != "live"
    assert (rows.column("attempt")[anchor] == "").all() and (
        rows.column("earner")[anchor] == ""
    ).all()
    assert (rows.column("round")[~anchor] == "").all() and (
        rows.column("round")[anchor] != ""
    ).all()
    assert all(e.startswith("E") for e in rows.column("earner")[~anchor])
    assert set(rows.column("rubric")) == {"three-level@1", "four-level@1"}
    assert text.splitlines()[1].split(",")[4].endswith("Z")
    assert np.datetime64(classroom.start) <= classroom.timestamp[0]
    assert classroom.timestamp[-1] < np.datetime64(classroom.end)


def test_truth_json(classroom: Programme, tmp_path: Path) -> None:
    path = tmp_path / "truth.json"
    classroom.write_truth(path)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert data["seed"] == 3 and data["size"] == "classroom"
    assert len(data["assessors"]) == 15
    assert {a["effect"] for a in data["assessors"]} >= {"severe", "drift", "differential"}
    assert len(data["submissions"]["submission"]) == len(classroom.truth.submissions.id)
    # the rules each rubric was simulated under, resolved per scale (NAEP: 80% / 70% exact)
    assert data["rules"]["three-level@1"]["qualification.min_exact"] == 0.8
    assert data["rules"]["four-level@1"]["qualification.min_exact"] == 0.7
    assert data["rules"]["four-level@1"] == rules_for(FOUR).to_dict()
    assert data["config"]["rules"] == {}


def test_progress_reports_every_stage() -> None:
    calls: list[tuple[int, int, str]] = []
    simulate_programme(RUBRICS, SETS, seed=1, progress=lambda d, t, s: calls.append((d, t, s)))
    assert [d for d, _, _ in calls] == list(range(1, len(calls) + 1))
    assert {t for _, t, _ in calls} == {len(calls)}
    assert calls[-1][2] == "assembling"


# --- refusals -----------------------------------------------------------------------------------


def test_refusals() -> None:
    no_qualification = [s for s in SETS if not s.id.endswith("qualification")]
    with pytest.raises(CalibrateError, match="no qualification anchors"):
        simulate_programme(RUBRICS, no_qualification)
    with pytest.raises(CalibrateError, match="not among the rubrics"):
        simulate_programme([THREE], SETS)
    with pytest.raises(CalibrateError, match="too small"):
        simulate_programme(RUBRICS, SETS, size=ProgrammeSize(assessors=10, earners=5))
    with pytest.raises(CalibrateError, match="30 days of live work"):
        simulate_programme(RUBRICS, SETS, months=2)
    with pytest.raises(CalibrateError, match=r"live\.validity_rate must be between 0 and 0\.5"):
        SimulationConfig(rules=RuleOverrides({"live.validity_rate": 0.7}))


# --- command line -------------------------------------------------------------------------------


def test_cli_writes_files_and_summary(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "demo"
    result = runner.invoke(app, ["simulate", "--seed", "2", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["size"] == "classroom" and summary["seed"] == 2
    assert (out / "ratings.csv").is_file() and (out / "truth.json").is_file()
    lines = (out / "ratings.csv").read_text(encoding="utf-8").count("\n")
    assert lines == summary["ratings"] + 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--size", "pilot", "--ratings", "9000"], "not both"),
        (["simulate", "--size", "county"], "classroom, pilot, state"),
        (["demo", "--size", "county", "--no-serve"], "classroom, pilot, state"),
    ],
)
def test_cli_mistakes_are_one_line_and_write_nothing(
    calibrate: Callable[..., Result], tmp_path: Path, args: list[str], message: str
) -> None:
    out, db = tmp_path / "out", tmp_path / "store.db"
    result = calibrate(*args, "--out", str(out), db=f"sqlite:///{db}")
    assert result.returncode == 1
    # one line; the demo, a command that writes, adds that nothing was written
    lines = result.stderr.splitlines()
    assert message in lines[0]
    assert lines[1:] == (["nothing was written"] if args[0] == "demo" else [])
    assert result.stdout == ""
    assert not out.exists() and not db.exists()  # no folder, no database created


@pytest.mark.parametrize("command", ["simulate", "demo"])
def test_cli_output_that_is_a_file_is_refused_before_simulating(
    calibrate: Callable[..., Result], tmp_path: Path, command: str
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    db = tmp_path / "store.db"
    args = ["--no-serve"] if command == "demo" else []
    result = calibrate(command, "--out", str(taken), *args, db=f"sqlite:///{db}")
    assert result.returncode == 1
    assert f"cannot write to {taken}" in result.stderr and "Traceback" not in result.stderr
    assert "calibration" not in result.stderr  # refused before the simulation printed progress
    assert taken.read_text() == "not a folder" and not db.exists()
