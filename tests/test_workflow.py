"""The calibration workflow's pure decisions (:mod:`calibrate.workflow`) against the rules written
in docs/workflow.md and the sources it names: the scores of one reading, the draw of a
qualification round, its judgement at the edges of the qualification standard (NAEP's
90/80/70 percent exact agreement by scale length), the final scores of one, two or three
readings, and a missed validity anchor. The services' tests (tests/test_calibration.py,
tests/test_queue.py) take the same decisions through the store.

References
----------
NAEP Qualifying Sets: National Center for Education Statistics, NAEP Technical Documentation,
https://nces.ed.gov/nationsreportcard/tdw/scoring/training_scorers_guide_qualify.asp
NAEP Science Interrater Agreement (first score is the score of record):
https://nces.ed.gov/nationsreportcard/tdw/scoring/scoring_within_sci.asp
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibrate.errors import CalibrateError
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.rules import AdjudicationRule, QualificationStandard, rules_for
from calibrate.workflow import (
    check_scores,
    draw_round,
    judge_round,
    missed,
    resolve_adjudication,
    resolve_readings,
    round_half_up,
)

PROPERTY = settings(max_examples=40, deadline=None)

# --- rubrics -----------------------------------------------------------------------------------


def _data(
    levels: int,
    criteria: Sequence[str] = ("a", "b"),
    pass_rule: dict[str, Any] | None = None,
    low: int = 1,
    rid: str = "r",
) -> dict[str, Any]:
    scores = range(low, low + levels)
    return {
        "id": rid,
        "version": 1,
        "title": rid,
        "competency": "A competency.",
        "levels": [{"score": s, "label": f"Level {s}"} for s in scores],
        "criteria": [
            {"id": c, "title": c, "descriptors": {s: f"{c} at {s}" for s in scores}}
            for c in criteria
        ],
        "pass_rule": pass_rule or {"every_criterion_at_least": low + levels - 1},
    }


def _rubric(levels: int, criteria: Sequence[str] = ("a", "b"), **kwargs: Any) -> Rubric:
    return rubric_from_data(_data(levels, criteria, **kwargs), source="test.yaml")


def _relabelled(data: dict[str, Any], order: Sequence[int]) -> tuple[Rubric, list[str]]:
    """The same rubric with its criteria renamed and listed in ``order`` (the pass rule follows
    the names): the column ``order[i]`` of a score array becomes column ``i``."""
    names = {c["id"]: f"x-{c['id']}-renamed" for c in data["criteria"]}
    rule = dict(data["pass_rule"])
    if "criteria_at_least" in rule:
        rule["criteria_at_least"] = {names[k]: v for k, v in rule["criteria_at_least"].items()}
    criteria = [{**data["criteria"][i], "id": names[data["criteria"][i]["id"]]} for i in order]
    other = {**data, "criteria": criteria, "pass_rule": rule}
    return rubric_from_data(other, source="relabelled.yaml"), [c["id"] for c in criteria]


def _cases() -> list[dict[str, Any]]:
    """Rubric data of 2, 3, 4 and 6 levels, 1 to 3 criteria, each kind of pass rule."""
    out = []
    for levels, low in ((2, 1), (3, 1), (4, 1), (6, 0)):
        top = low + levels - 1
        for n in (1, 2, 3):
            criteria = [f"c{j}" for j in range(n)]
            rules: list[dict[str, Any]] = [
                {"every_criterion_at_least": top},
                {"every_criterion_at_least": low + 1},
                {"criteria_at_least": {"c0": top}},
                {"total_at_least": n * top - 1},
            ]
            out += [_data(levels, criteria, rule, low=low) for rule in rules]
    return out


CASES = _cases()
RUBRICS = [rubric_from_data(d, source="case.yaml") for d in CASES]


@st.composite
def rubric_and_rows(draw: st.DrawFn, rows: int | tuple[int, int]) -> tuple[int, Rubric, np.ndarray]:
    """A rubric (by its index in CASES) and an int array of level scores (rows, criteria)."""
    i = draw(st.integers(0, len(RUBRICS) - 1))
    rubric = RUBRICS[i]
    m = rows if isinstance(rows, int) else draw(st.integers(*rows))
    k = len(rubric.criteria)
    values = draw(st.lists(st.sampled_from(rubric.scores), min_size=m * k, max_size=m * k))
    return i, rubric, np.array(values, dtype=np.int64).reshape(m, k)


def _adjudication(rubric: Rubric, **overrides: Any) -> AdjudicationRule:
    return rules_for(rubric, {f"adjudication.{k}": v for k, v in overrides.items()}).adjudication


# --- check_scores: one reading -----------------------------------------------------------------

THREE = _rubric(3, ("a", "b"))


def test_check_scores_returns_the_levels_in_the_rubric_order() -> None:
    # docs/workflow.md: "everything here works on arrays of level scores with criteria in the
    # rubric's order" (workflow.py); a reading scores every criterion once, at a level
    got = check_scores({"b": 2, "a": 3}, THREE)
    assert got.dtype == np.int64
    assert got.tolist() == [3, 2]
    # numpy integers are whole numbers too
    assert check_scores({"a": np.int64(1), "b": np.int8(3)}, THREE).tolist() == [1, 3]


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({"a": 3}, "no score for criterion b: score every criterion"),
        ({}, "no score for criterion a, b"),
        ({"a": 3, "b": 2, "z": 1}, "unknown criterion z (criteria of r@1: a, b)"),
        ({"a": 3, "b": 2, 1: 1}, "unknown criterion 1"),
        ({"a": 2.0, "b": 2}, "criterion a: 2.0 is not a level score"),
        ({"a": 3, "b": 2.5}, "criterion b: 2.5 is not a level score"),
        ({"a": 3, "b": True}, "criterion b: True is not a level score"),
        ({"a": False, "b": 2}, "criterion a: False is not a level score"),
        ({"a": np.True_, "b": 2}, "is not a level score"),
        ({"a": 0, "b": 2}, "criterion a: 0 is not a level of r@1 (levels 1, 2, 3)"),
        ({"a": 3, "b": 4}, "criterion b: 4 is not a level of r@1 (levels 1, 2, 3)"),
        ({"a": -1, "b": 2}, "criterion a: -1 is not a level of r@1"),
        ({"a": 10**30, "b": 2}, "is not a level of r@1"),
        ({"a": float("nan"), "b": 2}, "criterion a: nan is not a level score"),
        ({"a": np.float64(2.0), "b": 2}, "criterion a: "),
        ({"a": "2", "b": 2}, "criterion a: '2' is not a level score"),
        ({"a": "Level 2", "b": 2}, "criterion a: 'Level 2' is not a level score"),
        ({"a": None, "b": 2}, "criterion a: None is not a level score"),
    ],
)
def test_check_scores_refuses_each_kind_of_bad_input(scores: Any, message: str) -> None:
    with pytest.raises(CalibrateError) as caught:
        check_scores(scores, THREE)
    assert message in str(caught.value)


@pytest.mark.parametrize("scores", [[3, 2], (3, 2), "a=3,b=2", None, 3])
def test_check_scores_refuses_anything_but_a_mapping(scores: Any) -> None:
    with pytest.raises(CalibrateError, match="scores must map each criterion to a level score"):
        check_scores(scores, THREE)


@PROPERTY
@given(case=rubric_and_rows(1), order=st.permutations(range(3)))
def test_check_scores_property_any_key_order_and_consistent_relabelling(
    case: tuple[int, Rubric, np.ndarray], order: list[int]
) -> None:
    i, rubric, rows = case
    row = rows[0]
    order = [j for j in order if j < len(rubric.criteria)]
    scores = {c: int(v) for c, v in zip(rubric.criterion_ids, row, strict=True)}
    shuffled = {rubric.criterion_ids[j]: scores[rubric.criterion_ids[j]] for j in order}
    assert check_scores(shuffled, rubric).tolist() == row.tolist()
    other, names = _relabelled(CASES[i], order)
    renamed = {n: int(row[j]) for n, j in zip(names, order, strict=True)}
    assert check_scores(renamed, other).tolist() == row[order].tolist()


# --- draw_round: the anchors of a qualification round -------------------------------------------


def _targets(expert: np.ndarray, passed: np.ndarray, rows: Sequence[int]) -> set[tuple[Any, ...]]:
    """What a set of anchors covers: (criterion, level) pairs and pass decisions."""
    out: set[tuple[Any, ...]] = {("decision", bool(passed[i])) for i in rows}
    out |= {(j, int(expert[i, j])) for i in rows for j in range(expert.shape[1])}
    return out


def _pool(seed: int, size: int = 20) -> tuple[Rubric, np.ndarray, np.ndarray]:
    """A pool like the shipped ones (20 anchors, docs/workflow.md): 3 criteria of 4 levels, the
    four 'diagonal' anchors first so every level and both decisions are in it."""
    rubric = _rubric(4, ("a", "b", "c"), pass_rule={"every_criterion_at_least": 3})
    rng = np.random.default_rng(seed)
    diagonal = np.repeat(np.arange(1, 5)[:, None], 3, axis=1)
    expert = np.vstack([diagonal, rng.integers(1, 5, size=(size - 4, 3))])
    return rubric, expert, rubric.passes(expert)


def test_a_round_holds_ten_anchors_by_default() -> None:
    # docs/workflow.md, Qualification rounds: qualification.anchors, default 10 ("NAEP
    # qualifying sets hold 10 to 12 papers", NAEP Qualifying Sets)
    rubric, expert, passed = _pool(0)
    n = rules_for(rubric).qualification.anchors
    assert n == 10
    got = draw_round(expert, passed, np.full(20, -1), n, np.random.default_rng(0))
    assert len(got.chosen) == 10
    assert len(set(got.chosen.tolist())) == 10
    assert got.reused == 0


@pytest.mark.parametrize("seed", range(25))
def test_a_round_covers_every_level_of_every_criterion_and_both_decisions(seed: int) -> None:
    # docs/workflow.md, Qualification rounds, "spread": each pick adds the most levels of
    # criteria and pass / not-yet decisions not yet in the round (NAEP's qualifying sets
    # "cover the range of scores"); a 20-anchor pool of 3 criteria x 4 levels allows it in 10
    _, expert, passed = _pool(seed)
    got = draw_round(expert, passed, np.full(20, -1), 10, np.random.default_rng(seed))
    assert _targets(expert, passed, got.chosen) == _targets(expert, passed, range(20))


def test_an_anchor_that_alone_has_a_level_is_always_drawn() -> None:
    # docs/workflow.md, "spread": in a default round of 10 from 13 anchors, the only anchor
    # with level 4 on criterion b adds what no other anchor adds. (With 5 anchors the greedy
    # rule may miss it although 4 anchors, [1, 1] ... [4, 4], cover everything: greedy
    # picks are what docs/workflow.md documents, not a smallest cover.)
    rubric = _rubric(4, ("a", "b"), pass_rule={"criteria_at_least": {"a": 4}})
    expert = np.array([[1, 1], [2, 2], [3, 3], [4, 3]] + [[2, 1]] * 8 + [[4, 4]])
    passed = rubric.passes(expert)
    assert passed.sum() == 2
    for seed in range(20):
        got = draw_round(expert, passed, np.full(13, -1), 10, np.random.default_rng(seed))
        assert 12 in got.chosen  # the only (b, 4)
        assert _targets(expert, passed, got.chosen) == _targets(expert, passed, range(13))


def test_what_the_pool_does_not_hold_is_not_covered_and_the_round_is_still_full() -> None:
    # docs/workflow.md: coverage "where the pool allows"; the round keeps its size
    # (qualification.anchors) even when the pool has no passing anchor or lacks a level
    rubric = _rubric(4, ("a", "b"))
    expert = np.array([[1, 2], [2, 1], [3, 1], [1, 3], [2, 2], [3, 3], [1, 1], [2, 3]] * 2)
    passed = rubric.passes(expert)
    assert not passed.any()  # no passing anchor, and level 4 nowhere
    got = draw_round(expert, passed, np.full(16, -1), 10, np.random.default_rng(3))
    assert len(set(got.chosen.tolist())) == 10
    assert _targets(expert, passed, got.chosen) == _targets(expert, passed, range(16))


def test_unseen_anchors_come_first_a_first_retake_is_entirely_fresh() -> None:
    # docs/workflow.md, "unseen first": a 20-anchor pool makes a first retake entirely fresh
    _, expert, passed = _pool(1)
    first = draw_round(expert, passed, np.full(20, -1), 10, np.random.default_rng(1))
    last_seen = np.full(20, -1)
    last_seen[first.chosen] = 0
    retake = draw_round(expert, passed, last_seen, 10, np.random.default_rng(2))
    assert set(retake.chosen.tolist()) == set(range(20)) - set(first.chosen.tolist())
    assert retake.reused == 0


def test_when_unseen_anchors_run_out_the_least_recently_seen_fill_the_round() -> None:
    # docs/workflow.md, "unseen first": "when the pool runs out of them, the least recently
    # seen fill the round, and the round's note says how many" (Draw.reused)
    _, expert, passed = _pool(2, size=15)
    last_seen = np.array([-1] * 3 + [2] * 4 + [0] * 4 + [1] * 4)
    got = draw_round(expert, passed, last_seen, 10, np.random.default_rng(0))
    chosen = set(got.chosen.tolist())
    assert {0, 1, 2} <= chosen  # every unseen one
    assert set(range(7, 11)) <= chosen  # all four of round 0, the least recently seen
    assert len(chosen & set(range(11, 15))) == 3  # then three of round 1
    assert not chosen & set(range(3, 7))  # none of round 2, the latest
    assert got.reused == 7


def test_a_pool_smaller_than_a_round_gives_the_whole_pool() -> None:
    # docs/workflow.md: "A pool smaller than a round gives a round of the whole pool"
    _, expert, passed = _pool(3, size=6)
    got = draw_round(expert, passed, [-1, -1, 0, -1, 1, -1], 10, np.random.default_rng(0))
    assert sorted(got.chosen.tolist()) == list(range(6))
    assert got.reused == 2


@pytest.mark.parametrize("n", [0, -3])
def test_a_round_of_no_anchors_is_empty(n: int) -> None:
    _, expert, passed = _pool(0, size=8)
    got = draw_round(expert, passed, np.full(8, -1), n, np.random.default_rng(0))
    assert got.chosen.tolist() == []
    assert got.reused == 0


def test_seen_anchors_equally_old_are_still_drawn_for_spread() -> None:
    # docs/workflow.md, Qualification rounds: "unseen first ... the least recently seen fill
    # the round" and "spread: each pick is the anchor that adds the most levels of criteria and
    # pass / not-yet decisions not yet in the round (ties at random)". Anchors 0, 1 and 2 were
    # all last seen in round 0; anchor 3 is unseen. After anchor 3 (level 2, not yet), anchor 2
    # alone adds a level (3) and the pass decision; anchors 0 and 1 add level 1 only.
    rubric = _rubric(3, ("a",))
    expert = np.array([[1], [1], [3], [2]])
    passed = rubric.passes(expert)
    for seed in range(10):
        got = draw_round(expert, passed, [0, 0, 0, -1], 2, np.random.default_rng(seed))
        assert sorted(got.chosen.tolist()) == [2, 3]


def test_beyond_coverage_the_rest_mirror_the_pool() -> None:
    # workflow.draw_round's docstring (commit 47b51a2): "once everything is covered, the rest at
    # random, so that beyond the coverage the round mirrors the pool (... forcing half the
    # anchors to pass would make a round harder than the programme's work)". NOTE: the
    # "spread" item of docs/workflow.md still says "once everything is covered, the decision
    # the round holds fewer of", which would give 5 passing anchors here on every seed.
    rubric = _rubric(2, ("a",))
    expert = np.array([[1]] * 41 + [[2]] * 5)
    passed = rubric.passes(expert)
    draws = [
        draw_round(expert, passed, np.full(46, -1), 10, np.random.default_rng(s)) for s in range(60)
    ]
    counts = [int(passed[d.chosen].sum()) for d in draws]
    # coverage takes one of each; 8 more at random from 40 not yet and 4 passing: E = 1 + 8 * 4/44
    assert min(counts) >= 1
    assert 1.3 < np.mean(counts) < 2.3
    assert counts.count(5) < 3


def test_ties_are_broken_at_random_and_the_order_shown_is_shuffled() -> None:
    # docs/workflow.md: "ties at random"; "The order shown is shuffled"
    rubric = _rubric(2, ("a",))
    expert = np.array([[1]] * 6 + [[2]] * 6)
    passed = rubric.passes(expert)
    draws = [
        draw_round(expert, passed, np.full(12, -1), 4, np.random.default_rng(s)) for s in range(30)
    ]
    assert len({tuple(sorted(d.chosen.tolist())) for d in draws}) > 5
    assert any(d.chosen.tolist() != sorted(d.chosen.tolist()) for d in draws)
    # every draw covers both levels (and with them both decisions)
    assert all(set(expert[d.chosen, 0].tolist()) == {1, 2} for d in draws)


def test_draw_round_is_deterministic_given_a_seeded_rng() -> None:
    _, expert, passed = _pool(4)
    last_seen = np.array([-1] * 12 + [0] * 8)
    a = draw_round(expert, passed, last_seen, 10, np.random.default_rng(42))
    b = draw_round(expert, passed, last_seen, 10, np.random.default_rng(42))
    assert a.chosen.tolist() == b.chosen.tolist()
    assert a.reused == b.reused


@pytest.mark.parametrize(
    ("expert", "passed", "last_seen"),
    [
        ([1, 2, 3], [True, False, True], [-1, -1, -1]),  # expert not (pool, criteria)
        ([[1], [2]], [True], [-1, -1]),
        ([[1], [2]], [True, False], [-1]),
        ([[1], [2]], [[True, False]], [-1, -1]),
    ],
)
def test_draw_round_refuses_arrays_of_the_wrong_shape(
    expert: Any, passed: Any, last_seen: Any
) -> None:
    with pytest.raises(CalibrateError, match=r"expert \(pool, criteria\), passed and last_seen"):
        draw_round(expert, passed, last_seen, 2, np.random.default_rng(0))


@PROPERTY
@given(
    case=rubric_and_rows((0, 25)),
    data=st.data(),
    n=st.integers(0, 30),
    seed=st.integers(0, 2**32 - 1),
)
def test_draw_round_property_a_subset_of_the_pool_of_the_right_size(
    case: tuple[int, Rubric, np.ndarray], data: st.DataObject, n: int, seed: int
) -> None:
    _, rubric, expert = case
    size = expert.shape[0]
    passed = rubric.passes(expert)
    last_seen = np.array(data.draw(st.lists(st.integers(-1, 3), min_size=size, max_size=size)))
    got = draw_round(expert, passed, last_seen, n, np.random.default_rng(seed))
    chosen = got.chosen.tolist()
    # the right size, no duplicates, from the pool
    assert len(chosen) == max(0, min(n, size))
    assert len(set(chosen)) == len(chosen)
    assert set(chosen) <= set(range(size))
    # unseen first; then the least recently seen (docs/workflow.md, "unseen first")
    unseen = set(np.flatnonzero(last_seen < 0).tolist())
    taken_seen = [i for i in chosen if i not in unseen]
    assert got.reused == len(taken_seen)
    if taken_seen:
        assert unseen <= set(chosen)
        left = [i for i in range(size) if i not in chosen and i not in unseen]
        assert all(last_seen[i] <= last_seen[j] for i in taken_seen for j in left)
    # spread: every unseen pick adds something new until the unseen pool's levels and
    # decisions are all in the round
    taken_unseen = [i for i in chosen if i in unseen]
    available = _targets(expert, passed, sorted(unseen))
    covered = _targets(expert, passed, taken_unseen)
    assert len(covered) >= min(len(taken_unseen), len(available))
    if len(taken_unseen) >= len(available):
        assert covered == available
    # deterministic given the seed
    again = draw_round(expert, passed, last_seen, n, np.random.default_rng(seed))
    assert again.chosen.tolist() == chosen


# --- judge_round: a round against the qualification standard ------------------------------------

NAEP_MIN_EXACT = {2: 0.90, 3: 0.80, 4: 0.70, 6: 0.70}


def _judged_rubric(levels: int, n_criteria: int) -> Rubric:
    """Criterion a alone decides the pass (at the top level), so gaps on the other criteria
    leave every decision as the experts'."""
    criteria = ["a", *[f"b{j}" for j in range(1, n_criteria)]]
    return _rubric(levels, criteria, pass_rule={"criteria_at_least": {"a": levels}})


def _round(
    rubric: Rubric,
    anchors: int,
    *,
    adjacent: int = 0,
    non_adjacent: int = 0,
    flips: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Assessor and expert scores of a round: on the criteria other than a, ``adjacent``
    scores one level above the experts' and then ``non_adjacent`` two levels above; on the last
    ``flips`` anchors, criterion a one level off, which flips the pass decision."""
    top, k = len(rubric.levels), len(rubric.criteria)
    expert = np.ones((anchors, k), dtype=np.int64)
    expert[:, 0] = np.where(np.arange(anchors) % 2 == 0, top, top - 1)
    scores = expert.copy()
    slots = [(i, j) for j in range(1, k) for i in range(anchors)]
    for i, j in slots[:adjacent]:
        scores[i, j] += 1
    for i, j in slots[adjacent : adjacent + non_adjacent]:
        scores[i, j] += 2
    for i in range(anchors - flips, anchors):
        scores[i, 0] = top - 1 if expert[i, 0] == top else top
    return scores, expert


def _met(judgement: Any) -> dict[str, bool]:
    return {f.name: f.met for f in judgement.figures}


@pytest.mark.parametrize("levels", [2, 3, 4, 6])
def test_exact_agreement_thresholds_follow_the_scale_length(levels: int) -> None:
    # docs/workflow.md, Qualification rounds: qualification.min_exact is 90% (2 levels),
    # 80% (3), 70% (4 or more), NAEP Qualifying Sets ("90/80/70 percent exact agreement")
    standard = rules_for(_judged_rubric(levels, 2)).qualification
    assert standard.min_exact == NAEP_MIN_EXACT[levels]
    # the other figures do not depend on the scale: 95% adjacent (RSMTool), 0 non-adjacent,
    # 90% decisions (NAEP's 2-point items)
    assert (standard.min_adjacent, standard.max_non_adjacent, standard.min_decision) == (
        0.95,
        0,
        0.90,
    )


@pytest.mark.parametrize("levels", [2, 3, 4, 6])
@pytest.mark.parametrize(("anchors", "n_criteria"), [(10, 2), (10, 3), (12, 5)])
def test_exact_agreement_exactly_at_the_threshold_meets_it(
    levels: int, anchors: int, n_criteria: int
) -> None:
    rubric = _judged_rubric(levels, n_criteria)
    standard = rules_for(rubric).qualification
    total = anchors * n_criteria
    off = round(total * (1 - NAEP_MIN_EXACT[levels]))
    # docs/workflow.md: "each figure exactly at its threshold meeting it"; NAEP 90/80/70%
    at = judge_round(*_round(rubric, anchors, adjacent=off), rubric, standard)
    assert at.figures[0].name == "exact"
    assert at.figures[0].value == (total - off) / total == standard.min_exact
    assert _met(at) == {"exact": True, "adjacent": True, "non_adjacent": True, "decision": True}
    assert at.passed
    # one rating under: one more criterion score off by a level
    under = judge_round(*_round(rubric, anchors, adjacent=off + 1), rubric, standard)
    assert under.figures[0].value == (total - off - 1) / total
    assert _met(under) == {
        "exact": False,
        "adjacent": True,
        "non_adjacent": True,
        "decision": True,
    }
    assert not under.passed


@pytest.mark.parametrize("levels", [3, 4, 6])
@pytest.mark.parametrize(("anchors", "n_criteria"), [(10, 2), (12, 5)])
def test_adjacent_agreement_exactly_at_95_percent_meets_it(
    levels: int, anchors: int, n_criteria: int
) -> None:
    # docs/workflow.md: qualification.min_adjacent 95% (RSMTool's human-human flag). A score
    # not adjacent is also counted by max_non_adjacent (0 by default), so the round fails on
    # that figure while the adjacent figure itself is met; with max_non_adjacent raised the
    # round passes at the edge. (On a 2-level scale every score is adjacent.)
    rubric = _judged_rubric(levels, n_criteria)
    total = anchors * n_criteria
    far = round(total * 0.05)
    default = rules_for(rubric).qualification
    at = judge_round(*_round(rubric, anchors, non_adjacent=far), rubric, default)
    assert at.figures[1].name == "adjacent"
    assert at.figures[1].value == 0.95
    assert _met(at) == {"exact": True, "adjacent": True, "non_adjacent": False, "decision": True}
    assert not at.passed
    lenient = rules_for(rubric, {"qualification.max_non_adjacent": far + 1}).qualification
    assert judge_round(*_round(rubric, anchors, non_adjacent=far), rubric, lenient).passed
    under = judge_round(*_round(rubric, anchors, non_adjacent=far + 1), rubric, lenient)
    assert under.figures[1].value == (total - far - 1) / total
    assert _met(under) == {
        "exact": True,
        "adjacent": False,
        "non_adjacent": True,
        "decision": True,
    }
    assert not under.passed


@pytest.mark.parametrize("levels", [3, 4, 6])
@pytest.mark.parametrize("allowed", [0, 2])
def test_non_adjacent_scores_at_most_the_allowed_count(levels: int, allowed: int) -> None:
    # docs/workflow.md: qualification.max_non_adjacent, default 0 (a gap the programme would
    # send to a third reader, NBPTS); "at most": the count itself meets it
    # (20 anchors x 3 criteria: up to 3 non-adjacent scores keep adjacent agreement at 95%)
    rubric = _judged_rubric(levels, 3)
    standard = rules_for(rubric, {"qualification.max_non_adjacent": allowed}).qualification
    at = judge_round(*_round(rubric, 20, non_adjacent=allowed), rubric, standard)
    assert at.figures[2].name == "non_adjacent"
    assert at.figures[2].direction == "at most"
    assert at.figures[2].value == allowed
    assert at.figures[2].met
    assert at.passed
    over = judge_round(*_round(rubric, 20, non_adjacent=allowed + 1), rubric, standard)
    assert over.figures[2].value == allowed + 1
    assert _met(over) == {"exact": True, "adjacent": True, "non_adjacent": False, "decision": True}
    assert not over.passed


@pytest.mark.parametrize("levels", [2, 3, 4, 6])
@pytest.mark.parametrize("anchors", [10, 20])
def test_decision_agreement_exactly_at_90_percent_meets_it(levels: int, anchors: int) -> None:
    # docs/workflow.md: qualification.min_decision 90% (the pass decision is a 2-category
    # judgement, held to NAEP's 90% for 2-point items)
    rubric = _judged_rubric(levels, 3)
    standard = rules_for(rubric).qualification
    flips = anchors // 10
    at = judge_round(*_round(rubric, anchors, flips=flips), rubric, standard)
    assert at.figures[3].name == "decision"
    assert at.figures[3].value == 0.9
    assert at.passed
    under = judge_round(*_round(rubric, anchors, flips=flips + 1), rubric, standard)
    assert under.figures[3].value == (anchors - flips - 1) / anchors
    assert _met(under) == {"exact": True, "adjacent": True, "non_adjacent": True, "decision": False}
    assert not under.passed


def test_the_judgement_carries_every_criterion_of_every_anchor() -> None:
    # docs/workflow.md: "The result shows every criterion of every anchor (score, the experts'
    # score, the gap ...), each figure against its threshold, and pass or fail"
    rubric = _judged_rubric(4, 3)
    standard = rules_for(rubric).qualification
    scores, expert = _round(rubric, 10, adjacent=2, non_adjacent=1, flips=1)
    got = judge_round(scores, expert, rubric, standard)
    # gaps: the assessor's score minus the experts', shape (anchors, criteria)
    assert got.gaps.shape == (10, 3)
    assert got.gaps.tolist() == (scores - expert).tolist()
    assert got.gaps[0, 1] == 1 and got.gaps[1, 1] == 1 and got.gaps[2, 1] == 2
    assert got.gaps[9, 0] == 1  # anchor 9: expert 3 (not yet), assessor 4 (pass)
    assert np.count_nonzero(got.gaps) == 4
    # decisions: whether each anchor's pass decision matched the experts'
    assert got.decisions.dtype == np.bool_
    assert got.decisions.tolist() == [True] * 9 + [False]
    assert [f.name for f in got.figures] == ["exact", "adjacent", "non_adjacent", "decision"]
    assert [f.threshold for f in got.figures] == [0.7, 0.95, 0, 0.9]
    assert [f.direction for f in got.figures] == ["at least", "at least", "at most", "at least"]
    assert [f.value for f in got.figures] == [26 / 30, 29 / 30, 1, 0.9]
    assert got.figures[0].to_dict() == {
        "name": "exact",
        "label": "criterion scores equal to the experts'",
        "value": 26 / 30,
        "threshold": 0.7,
        "direction": "at least",
        "met": True,
    }
    assert not got.passed  # one non-adjacent score


@PROPERTY
@given(
    case=rubric_and_rows((2, 24)),
    data=st.data(),
    order=st.permutations(range(3)),
)
def test_judge_round_property_figures_relabelling_and_determinism(
    case: tuple[int, Rubric, np.ndarray], data: st.DataObject, order: list[int]
) -> None:
    i, rubric, both = case
    half = both.shape[0] // 2
    scores, expert = both[:half], both[half : 2 * half]
    standard = rules_for(rubric).qualification
    got = judge_round(scores, expert, rubric, standard)
    gap = np.abs(scores - expert)
    decisions = rubric.passes(scores) == rubric.passes(expert)
    assert [f.value for f in got.figures] == [
        (gap == 0).mean(),
        (gap <= 1).mean(),
        (gap > 1).sum(),
        decisions.mean(),
    ]
    for f in got.figures:
        assert f.met == (
            f.value >= f.threshold if f.direction == "at least" else f.value <= f.threshold
        )
    assert got.passed == all(f.met for f in got.figures)
    assert got.gaps.tolist() == (scores - expert).tolist()
    assert got.decisions.tolist() == decisions.tolist()
    # the same round again: the same judgement
    again = judge_round(scores, expert, rubric, standard)
    assert (again.figures, again.passed) == (got.figures, got.passed)
    assert again.gaps.tolist() == got.gaps.tolist()
    # criteria relabelled and reordered consistently: nothing changes but the column order
    order = [j for j in order if j < len(rubric.criteria)]
    other, _ = _relabelled(CASES[i], order)
    relabelled = judge_round(
        scores[:, order], expert[:, order], other, rules_for(other).qualification
    )
    assert relabelled.figures == got.figures
    assert relabelled.passed == got.passed
    assert relabelled.gaps.tolist() == got.gaps[:, order].tolist()
    assert relabelled.decisions.tolist() == got.decisions.tolist()
    # anchors in another order: the same figures
    perm = data.draw(st.permutations(range(half)))
    shuffled = judge_round(scores[perm], expert[perm], rubric, standard)
    assert [f.value for f in shuffled.figures] == pytest.approx([f.value for f in got.figures])
    assert shuffled.passed == got.passed


def test_judge_round_takes_any_standard() -> None:
    # a standard of 100% exact: one gap fails it; the Figure carries the standard's threshold
    rubric = _judged_rubric(3, 2)
    strict = QualificationStandard(1.0, 1.0, 0, 1.0, 10, 3, 90, 365)
    assert judge_round(*_round(rubric, 10), rubric, strict).passed
    got = judge_round(*_round(rubric, 10, adjacent=1), rubric, strict)
    assert _met(got)["exact"] is False
    assert got.figures[0].threshold == 1.0


# --- round_half_up ----------------------------------------------------------------------------


def test_round_half_up_examples() -> None:
    # docs/workflow.md, Final scores and adjudication: "halves rounded up (2.5 -> 3)"
    assert round_half_up([2.5, 1.5, 0.5, 3.5]).tolist() == [3, 2, 1, 4]
    assert round_half_up([2.0, 1.0, 0.0, -4.0]).tolist() == [2, 1, 0, -4]
    assert round_half_up([2.25, 2.75, 1.49, 1.51]).tolist() == [2, 3, 1, 2]
    # up means toward the higher level on a scale of negative scores too
    assert round_half_up([-2.5, -0.5]).tolist() == [-2, 0]
    assert round_half_up(2.5).tolist() == 3
    assert round_half_up([2.5]).dtype == np.int64


@PROPERTY
@given(a=st.integers(-(2**31), 2**31), b=st.integers(-(2**31), 2**31))
def test_round_half_up_property_on_means_of_two_levels(a: int, b: int) -> None:
    # the means the workflow rounds: two level scores (|score| <= 2**31 - 1, rubric.MAX_SCORE)
    mean = (a + b) / 2
    got = int(round_half_up(mean))
    # never more than half a level from the mean, and a half goes up
    assert mean - 0.5 < got <= mean + 0.5
    if (a + b) % 2 == 0:
        assert got == (a + b) // 2  # exact integers unchanged
    else:
        assert got == (a + b + 1) // 2


@PROPERTY
@given(xs=st.lists(st.integers(-(2**40), 2**40).map(lambda k: k / 1024), min_size=2, max_size=20))
def test_round_half_up_property_nearest_and_monotone(xs: list[float]) -> None:
    got = round_half_up(xs)
    x = np.asarray(xs)
    assert np.all(np.abs(got - x) <= 0.5)
    assert np.all(got - x > -0.5)  # a half goes up, never down
    order = np.argsort(x, kind="stable")
    assert np.all(np.diff(got[order]) >= 0)  # monotone


@PROPERTY
@given(x=st.floats(-1e15, 1e15, allow_nan=False), y=st.floats(-1e15, 1e15, allow_nan=False))
def test_round_half_up_property_monotone_on_any_floats(x: float, y: float) -> None:
    lo, hi = min(x, y), max(x, y)
    assert int(round_half_up(lo)) <= int(round_half_up(hi))


@pytest.mark.parametrize("x", [0.49999999999999994, 2.0**52 + 1])
def test_round_half_up_is_nearest_for_floats_next_to_a_binade(x: float) -> None:
    got = int(round_half_up(x))
    assert abs(Fraction(got) - Fraction(x)) <= Fraction(1, 2)  # exactly, not in floats
    if x == int(x):
        assert got == x


# --- resolve_readings: one or two readings ------------------------------------------------------

FOUR = _rubric(4, ("a", "b"), pass_rule={"every_criterion_at_least": 3})


def test_one_reading_stands() -> None:
    # docs/workflow.md, Final scores: "One reading: it stands."
    got = resolve_readings([[3, 2]], FOUR, _adjudication(FOUR))
    assert got is not None
    assert got.scores.tolist() == [3, 2]
    assert got.passed is False
    assert got.rule == "single reading"
    top = resolve_readings([[4, 3]], FOUR, _adjudication(FOUR))
    assert top is not None and top.passed is True


@pytest.mark.parametrize("max_gap", [0, 1, 2])
def test_a_pair_within_max_gap_agrees_and_the_first_reading_is_the_score_of_record(
    max_gap: int,
) -> None:
    # docs/workflow.md: "Two readings that agree (no criterion more than adjudication.max_gap
    # levels apart ...): the first reading is the score of record, as in NAEP, where the second
    # score measures agreement" (NAEP Science Interrater Agreement); max_gap default 1 (NBPTS)
    rule = _adjudication(FOUR, max_gap=max_gap, on_decision=False)
    at_gap = [[1, 1 + max_gap], [1, 1]]
    got = resolve_readings(at_gap, FOUR, rule)
    assert got is not None
    assert got.scores.tolist() == [1, 1 + max_gap]
    assert got.rule == "first reading (the pair agrees)"
    # one level more on one criterion: a third reader
    assert resolve_readings([[1, 2 + max_gap], [1, 1]], FOUR, rule) is None
    assert resolve_readings([[1, 1], [2 + max_gap, 1]], FOUR, rule) is None


def test_default_max_gap_is_one_level() -> None:
    # docs/workflow.md: scores more than one level apart go to a third reader (NBPTS)
    rule = _adjudication(FOUR)
    assert (rule.max_gap, rule.on_decision, rule.third_reader_replaces) == (1, True, True)
    assert resolve_readings([[1, 2], [2, 1]], FOUR, rule) is not None
    assert resolve_readings([[1, 3], [1, 1]], FOUR, rule) is None


def test_different_pass_decisions_go_to_a_third_reader_when_on_decision() -> None:
    # docs/workflow.md: "with adjudication.on_decision, the same pass decision"; the pair
    # [3, 3] (passes) and [3, 2] (not yet) is within one level
    pair = [[3, 3], [3, 2]]
    assert resolve_readings(pair, FOUR, _adjudication(FOUR, on_decision=True)) is None
    got = resolve_readings(pair, FOUR, _adjudication(FOUR, on_decision=False))
    assert got is not None
    # the pass decision follows the rubric's pass rule on the final (first) scores
    assert got.scores.tolist() == [3, 3]
    assert got.passed is True
    swapped = resolve_readings(pair[::-1], FOUR, _adjudication(FOUR, on_decision=False))
    assert swapped is not None and swapped.passed is False


@pytest.mark.parametrize(
    "readings",
    [[], [[3, 3]] * 3, [[3, 3, 3]], [3, 3], [[[3, 3]]], [[3], [3]]],
)
def test_resolve_readings_refuses_other_shapes(readings: Any) -> None:
    with pytest.raises(CalibrateError, match=r"readings must have shape \(1 or 2, 2\)"):
        resolve_readings(readings, FOUR, _adjudication(FOUR))


@PROPERTY
@given(
    case=rubric_and_rows(2),
    max_gap=st.integers(0, 3),
    on_decision=st.booleans(),
    order=st.permutations(range(3)),
)
def test_resolve_readings_property_documented_rule_symmetry_and_relabelling(
    case: tuple[int, Rubric, np.ndarray], max_gap: int, on_decision: bool, order: list[int]
) -> None:
    i, rubric, pair = case
    rule = _adjudication(rubric, max_gap=max_gap, on_decision=on_decision)
    first, second = pair
    passed = rubric.passes(pair)
    discrepant = bool(np.abs(first - second).max() > max_gap) or (
        on_decision and passed[0] != passed[1]
    )
    got = resolve_readings(pair, rubric, rule)
    assert (got is None) == discrepant
    # whether a pair goes to a third reader does not depend on which reading came first
    assert (resolve_readings(pair[::-1], rubric, rule) is None) == discrepant
    # a validity reading misses exactly when it and the experts' would be a discrepant pair
    assert missed(first, second, rubric, rule) == discrepant
    if got is not None:
        assert got.scores.tolist() == first.tolist()
        assert got.passed == bool(passed[0])
        if on_decision:
            assert passed[0] == passed[1]  # both readings share the pass decision
    # deterministic, and relabelling criteria consistently changes nothing
    again = resolve_readings(pair, rubric, rule)
    assert (again is None) == (got is None)
    order = [j for j in order if j < len(rubric.criteria)]
    other, _ = _relabelled(CASES[i], order)
    relabelled = resolve_readings(pair[:, order], other, rule)
    assert (relabelled is None) == (got is None)
    if got is not None and relabelled is not None:
        assert relabelled.scores.tolist() == got.scores[order].tolist()
        assert relabelled.passed == got.passed


# --- resolve_adjudication: a discrepant pair and a third reading --------------------------------


def test_the_third_reading_replaces_both_by_default() -> None:
    # docs/workflow.md: "With adjudication.third_reader_replaces (default on) the lead's scores
    # replace both" (state practice, NBPTS); the pass decision follows the pass rule on them
    rule = _adjudication(FOUR)
    got = resolve_adjudication([1, 4], [4, 1], [3, 2], FOUR, rule)
    assert got.scores.tolist() == [3, 2]
    assert got.passed is False
    assert got.rule == "third reading replaces both"
    assert resolve_adjudication([1, 1], [4, 4], [3, 4], FOUR, rule).passed is True


MEAN = _adjudication(FOUR, third_reader_replaces=False)


@pytest.mark.parametrize(
    ("first", "second", "third", "final"),
    [
        # the lead's pair is the closest: (3 + 4) / 2 = 3.5 -> 4
        ([1], [4], [3], [4]),
        # the two readings are the closest: (1 + 2) / 2 = 1.5 -> 2
        ([1], [2], [4], [2]),
        # equal readings: their level
        ([3], [3], [1], [3]),
        # (lead, first) = (4, 3) and (first, second) = (3, 2) both 1 apart: the lead's pair,
        # 3.5 -> 4 (the readings' pair would give 2.5 -> 3)
        ([3], [2], [4], [4]),
        # the lead equal to one reading: that level
        ([1], [4], [4], [4]),
    ],
)
def test_the_mean_of_the_two_closest_readings_rounded_half_up(
    first: list[int], second: list[int], third: list[int], final: list[int]
) -> None:
    # docs/workflow.md: "per criterion the mean of the two closest of the three readings (of
    # two equally close pairs, the one including the lead's), halves rounded up (2.5 -> 3)"
    one = _rubric(4, ("a",), pass_rule={"every_criterion_at_least": 3})
    rule = _adjudication(one, third_reader_replaces=False)
    got = resolve_adjudication(first, second, third, one, rule)
    assert got.scores.tolist() == final
    assert got.rule == "mean of the two closest readings, halves rounded up"
    assert got.passed == bool(final[0] >= 3)


def test_the_mean_rule_works_criterion_by_criterion() -> None:
    # resolve_adjudication's docstring example. Criterion a: readings 1 and 4, lead 3: the
    # closest pair is (lead, second) = (3, 4), 3.5 -> 4. Criterion b: readings 4 and 3, lead
    # 2: (lead, second) = (2, 3) and (first, second) = (4, 3) are both 1 apart; the lead's
    # pair, 2.5 -> 3 (the readings' pair would give 3.5 -> 4)
    got = resolve_adjudication([1, 4], [4, 3], [3, 2], FOUR, MEAN)
    assert got.scores.tolist() == [4, 3]
    assert got.passed is True  # every criterion at least 3


def test_the_mean_rule_does_not_depend_on_which_reading_came_first() -> None:
    # docs/workflow.md, Final scores and adjudication: the mean of the two closest of the three
    # readings, of two equally close pairs the one including the lead's. Readings 1 and 3 and
    # the lead's 2: both (2, 1) and (2, 3) include the lead and are 1 apart. In the order
    # given the final score is 1.5 -> 2 (not yet, pass rule: every criterion at least 3);
    # with the readings swapped it is 2.5 -> 3 (pass).
    one = _rubric(4, ("a",), pass_rule={"every_criterion_at_least": 3})
    rule = _adjudication(one, third_reader_replaces=False)
    a = resolve_adjudication([1], [3], [2], one, rule)
    b = resolve_adjudication([3], [1], [2], one, rule)
    assert a.scores.tolist() == b.scores.tolist()
    assert a.passed == b.passed


def test_resolve_adjudication_refuses_readings_of_another_length() -> None:
    with pytest.raises(CalibrateError, match="a reading has 2 criterion scores"):
        resolve_adjudication([1, 2, 3], [1, 2, 3], [1, 2, 3], FOUR, MEAN)


@PROPERTY
@given(
    case=rubric_and_rows(3),
    replaces=st.booleans(),
    order=st.permutations(range(3)),
)
def test_resolve_adjudication_property(
    case: tuple[int, Rubric, np.ndarray], replaces: bool, order: list[int]
) -> None:
    i, rubric, three = case
    first, second, third = three
    rule = _adjudication(rubric, third_reader_replaces=replaces)
    got = resolve_adjudication(first, second, third, rubric, rule)
    # the final pass decision follows the rubric's pass rule on the final scores
    assert got.passed == bool(rubric.passes(got.scores[None])[0])
    assert set(got.scores.tolist()) <= set(rubric.scores)
    if replaces:
        assert got.scores.tolist() == third.tolist()
    else:
        for j in range(len(rubric.criteria)):
            pairs = {
                "lead": [(third[j], first[j]), (third[j], second[j])],
                "readers": [(first[j], second[j])],
            }
            gap = min(abs(a - b) for group in pairs.values() for a, b in group)
            closest = [(a, b) for a, b in pairs["lead"] if abs(a - b) == gap] or [
                (a, b) for a, b in pairs["readers"] if abs(a - b) == gap
            ]
            midway = third[j] - first[j] == second[j] - third[j] != 0
            if midway:  # both closest pairs hold the lead's reading: the lead's score decides
                assert got.scores[j] == third[j]
            else:  # the mean of the two closest readings (the lead's pair first), halves up
                assert got.scores[j] in {(a + b + 1) // 2 for a, b in closest}
            lo, hi = sorted(three[:, j].tolist())[0], sorted(three[:, j].tolist())[-1]
            assert lo <= got.scores[j] <= hi
            # symmetric in the two readings (docs/workflow.md: which came first never matters)
            swapped = resolve_adjudication(second, first, third, rubric, rule)
            assert swapped.scores[j] == got.scores[j]
    # deterministic, and relabelling criteria consistently changes nothing
    again = resolve_adjudication(first, second, third, rubric, rule)
    assert (again.scores.tolist(), again.passed, again.rule) == (
        got.scores.tolist(),
        got.passed,
        got.rule,
    )
    order = [j for j in order if j < len(rubric.criteria)]
    other, _ = _relabelled(CASES[i], order)
    relabelled = resolve_adjudication(first[order], second[order], third[order], other, rule)
    assert relabelled.scores.tolist() == got.scores[order].tolist()
    assert relabelled.passed == got.passed
    assert relabelled.rule == got.rule


# --- missed: a validity anchor ------------------------------------------------------------------


@pytest.mark.parametrize("max_gap", [0, 1, 2])
def test_a_validity_reading_misses_beyond_max_gap(max_gap: int) -> None:
    # docs/workflow.md, Validity anchors and suspension: a reading misses when it would send a
    # pair of readings to a third reader against the experts' scores: "a criterion more than
    # adjudication.max_gap levels off, or another pass decision"
    six = _rubric(6, ("a", "b"), pass_rule={"every_criterion_at_least": 6})
    rule = _adjudication(six, max_gap=max_gap)
    expert = [3, 3]
    assert not missed(expert, expert, six, rule)
    assert not missed([3 + max_gap, 3], expert, six, rule)
    assert not missed([3, 3 - max_gap], expert, six, rule)
    assert missed([4 + max_gap, 3], expert, six, rule)
    assert missed([3, 2 - max_gap], expert, six, rule)


def test_a_validity_reading_with_another_pass_decision_misses_when_on_decision() -> None:
    # docs/workflow.md: "or another pass decision" (adjudication.on_decision, default on); the
    # rules table (live.validity_misses) states the same two conditions
    expert = [3, 3]  # passes
    assert missed([3, 2], expert, FOUR, _adjudication(FOUR))
    assert missed([2, 3], expert, FOUR, _adjudication(FOUR, on_decision=True))
    # without on_decision a pair within the gap never goes to a third reader
    assert not missed([3, 2], expert, FOUR, _adjudication(FOUR, on_decision=False))
    assert missed([3, 1], expert, FOUR, _adjudication(FOUR, on_decision=False))
    # the same decision and every criterion within a level: no miss
    assert not missed([4, 4], expert, FOUR, _adjudication(FOUR))


@PROPERTY
@given(
    case=rubric_and_rows(2),
    max_gap=st.integers(0, 3),
    on_decision=st.booleans(),
    order=st.permutations(range(3)),
)
def test_missed_property(
    case: tuple[int, Rubric, np.ndarray], max_gap: int, on_decision: bool, order: list[int]
) -> None:
    i, rubric, pair = case
    scores, expert = pair
    rule = _adjudication(rubric, max_gap=max_gap, on_decision=on_decision)
    passes = rubric.passes(pair)
    expected = bool(np.abs(scores - expert).max() > max_gap) or (
        on_decision and bool(passes[0] != passes[1])
    )
    got = missed(scores, expert, rubric, rule)
    assert got is expected
    assert missed(expert, scores, rubric, rule) is expected  # symmetric
    order = [j for j in order if j < len(rubric.criteria)]
    other, _ = _relabelled(CASES[i], order)
    assert missed(scores[order], expert[order], other, rule) is expected
