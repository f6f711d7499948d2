"""Practice and qualification rounds through the services, on both backends (issue 11, parts 1
and 2): feedback after scoring and never before, rounds drawn unseen-first, judged at the edges
of the standard, retakes limited per period, qualification expiring."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.access import Actor
from calibrate.errors import AccessDenied, CalibrateError
from calibrate.rubric import Rubric
from calibrate.services import calibration as cal
from calibrate.store.calibration import attempt_anchors, attempt_by_key
from calibrate.store.engine import reading
from calibrate.store.scoring import PoolAnchor, anchors_by_id
from tests.conftest import OPERATOR, ROOT, table_rows

RUBRIC = "crsel-intro@1"
AMY = Actor("amy", "assessor", issuer="north", assessor="A-amy")
BEN = Actor("ben", "assessor", issuer="north", assessor="A-ben")
ADA = Actor("ada", "admin", issuer="north")
OTTO = Actor("otto", "admin", issuer="south")


@pytest.fixture
def north(engine: Engine) -> Iterator[Engine]:
    """The shipped rubrics and anchor sets, owned by issuer ``north``."""
    services.import_definitions(
        ROOT / "rubrics", ROOT / "anchor_sets", engine=engine, actor=OPERATOR, issuer="north"
    )
    yield engine


def rubric(engine: Engine) -> Rubric:
    return store.stored_rubric(RUBRIC, engine=engine)


def answer_key(engine: Engine) -> list[str]:
    """Every expert rationale of the rubric's anchors (none may reach an assessor early)."""
    return [
        text
        for aset in store.stored_anchor_sets(engine=engine, rubric=RUBRIC)
        for anchor in aset.anchors
        for text in anchor.rationale.values()
    ]


def anchor_keys(engine: Engine) -> list[str]:
    return [a.id for s in store.stored_anchor_sets(engine=engine, rubric=RUBRIC) for a in s.anchors]


def assert_no_answer(payload: Any, engine: Engine) -> None:
    """Nothing of the answer key (rationales, anchor keys, expert fields) in ``payload``."""
    text = json.dumps(payload, default=str)
    for rationale in answer_key(engine):
        assert rationale[:60] not in text
    for key in anchor_keys(engine):
        assert f'"{key}"' not in text
    for field in ("expert", "rationale", "scores", "purpose", "validity"):
        assert f'"{field}' not in text


def round_anchors(engine: Engine, attempt: str) -> list[PoolAnchor]:
    """The anchors of a round in order, answer key included (read as the test, not a service)."""
    with reading(engine) as conn:
        found = attempt_by_key(conn, attempt)
        assert found is not None
        return anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])


def practise(engine: Engine, actor: Actor = AMY, at: datetime | None = None) -> None:
    item = services.practice_next(engine=engine, actor=actor, rubric=RUBRIC, at=at)
    services.practice_score(
        engine=engine,
        actor=actor,
        attempt=item.attempt,
        scores={c: 2 for c in rubric(engine).criterion_ids},
        at=at,
    )


def take_round(
    engine: Engine,
    scores: list[dict[str, int]] | None = None,
    *,
    actor: Actor = AMY,
    at: datetime | None = None,
) -> cal.RoundView:
    """Start a round and score every anchor: the experts' scores unless ``scores`` given."""
    view = services.round_start(engine=engine, actor=actor, rubric=RUBRIC, at=at)
    anchors = round_anchors(engine, view.attempt)
    for i, anchor in enumerate(anchors, start=1):
        given = scores[i - 1] if scores is not None else dict(anchor.expert)
        view = services.round_score(
            engine=engine, actor=actor, attempt=view.attempt, position=i, scores=given, at=at
        )
    return view


# --- practice ----------------------------------------------------------------------------------


def test_practice_feedback_comes_after_scoring_and_never_before(north: Engine) -> None:
    engine = north
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    assert item.attempt.startswith("P-") and len(item.attempt) == 12
    assert item.artifact["title"] and set(item.artifact) == {"title", "description", "excerpt"}
    assert_no_answer(item.to_dict(), engine)
    with pytest.raises(CalibrateError, match="not scored yet"):
        services.practice_feedback(engine=engine, actor=AMY, attempt=item.attempt)
    # the same open anchor again (a reload loses nothing)
    assert services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC) == item
    r = rubric(engine)
    given = {c: 1 for c in r.criterion_ids}
    feedback = services.practice_score(engine=engine, actor=AMY, attempt=item.attempt, scores=given)
    anchor = next(
        a
        for s in store.stored_anchor_sets(engine=engine, rubric=RUBRIC)
        for a in s.anchors
        if a.artifact.title == item.artifact["title"]
    )
    assert anchor.purpose == "practice"
    for row, criterion in zip(feedback.criteria, r.criteria, strict=True):
        assert row.score == 1 and row.expert == anchor.scores[criterion.id]
        assert row.rationale == anchor.rationale[criterion.id]
        assert row.score_descriptor == criterion.descriptors[1]
        assert row.expert_descriptor == criterion.descriptors[row.expert]
        assert row.expert_label == r.label(row.expert)
    assert feedback.expert_decision == bool(
        r.passes([[anchor.scores[c] for c in r.criterion_ids]])[0]
    )
    again = services.practice_feedback(engine=engine, actor=AMY, attempt=item.attempt)
    assert again.to_dict() == feedback.to_dict()
    with pytest.raises(CalibrateError, match="already scored"):
        services.practice_score(engine=engine, actor=AMY, attempt=item.attempt, scores=given)


def test_practice_cycles_through_the_pool_least_practised_first(north: Engine) -> None:
    engine = north
    pool = len(store.stored_anchor_sets(engine=engine, rubric=RUBRIC)[0].anchors)
    titles = []
    for _ in range(pool):
        item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
        titles.append(item.artifact["title"])
        services.practice_score(
            engine=engine,
            actor=AMY,
            attempt=item.attempt,
            scores={c: 2 for c in rubric(engine).criterion_ids},
        )
    assert len(set(titles)) == pool


def test_nobody_scores_or_reads_another_assessors_practice(north: Engine) -> None:
    engine = north
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    scores = {c: 2 for c in rubric(engine).criterion_ids}
    for call in (
        lambda: services.practice_score(
            engine=engine, actor=BEN, attempt=item.attempt, scores=scores
        ),
        lambda: services.practice_feedback(engine=engine, actor=BEN, attempt=item.attempt),
    ):
        with pytest.raises(CalibrateError, match=r"no practice 'P-.*' of yours"):
            call()
    for actor in (ADA, Actor("bo", "board", grants=frozenset({"north"}))):
        with pytest.raises(AccessDenied):
            services.practice_next(engine=engine, actor=actor, rubric=RUBRIC)
    with pytest.raises(CalibrateError, match="not in the store"):
        services.practice_next(
            engine=engine,
            actor=Actor("sam", "assessor", issuer="south", assessor="S"),
            rubric=RUBRIC,
        )


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({}, "no score for criterion"),
        ({"nonsense": 2}, "unknown criterion nonsense"),
        ("all twos", "must map each criterion"),
    ],
)
def test_bad_scores_are_refused_and_write_nothing(north: Engine, scores: Any, message: str) -> None:
    engine = north
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    before = table_rows(engine, "rating"), table_rows(engine, "audit_event")
    with pytest.raises(CalibrateError, match=message):
        services.practice_score(engine=engine, actor=AMY, attempt=item.attempt, scores=scores)
    bad_level = {c: 2 for c in rubric(engine).criterion_ids} | {"reflection": 7}
    with pytest.raises(CalibrateError, match="reflection: 7 is not a level"):
        services.practice_score(engine=engine, actor=AMY, attempt=item.attempt, scores=bad_level)
    assert (table_rows(engine, "rating"), table_rows(engine, "audit_event")) == before


# --- qualification rounds ----------------------------------------------------------------------


def test_a_round_needs_practice_first_and_reveals_nothing_until_finished(north: Engine) -> None:
    engine = north
    with pytest.raises(CalibrateError, match=r"practice anchor first \(rule practice.required\)"):
        services.round_start(engine=engine, actor=AMY, rubric=RUBRIC)
    practise(engine)
    view = services.round_start(engine=engine, actor=AMY, rubric=RUBRIC)
    assert view.attempt.startswith("Q-") and len(view.items) == 10 and view.scored == 0
    assert_no_answer(view.to_dict(), engine)
    # open round: start again returns it
    assert services.round_start(engine=engine, actor=AMY, rubric=RUBRIC).attempt == view.attempt
    anchors = round_anchors(engine, view.attempt)
    for i, anchor in enumerate(anchors[:-1], start=1):
        step = services.round_score(
            engine=engine, actor=AMY, attempt=view.attempt, position=i, scores=anchor.expert
        )
        assert step.result is None and step.scored == i
        assert_no_answer(step.to_dict(), engine)
        with pytest.raises(CalibrateError, match="not finished"):
            services.round_result(engine=engine, actor=AMY, attempt=view.attempt)
    with pytest.raises(CalibrateError, match="already scored: a round's scores are final"):
        services.round_score(
            engine=engine, actor=AMY, attempt=view.attempt, position=1, scores=anchors[0].expert
        )
    with pytest.raises(CalibrateError, match="has anchors 1 to 10, not 11"):
        services.round_score(
            engine=engine, actor=AMY, attempt=view.attempt, position=11, scores=anchors[0].expert
        )
    done = services.round_score(
        engine=engine,
        actor=AMY,
        attempt=view.attempt,
        position=len(anchors),
        scores=anchors[-1].expert,
    )
    assert done.result is not None and done.result.passed
    figures = {f["name"]: f for f in done.result.figures}
    assert figures["exact"]["value"] == 1.0 and figures["exact"]["threshold"] == 0.8
    assert all(f["met"] for f in figures.values())
    rationales = [c.rationale for a in done.result.anchors for c in a.criteria]
    assert rationales == [a.rationale[c] for a in anchors for c in rubric(engine).criterion_ids]
    standing = services.qualification(engine=engine, actor=AMY, rubric=RUBRIC)
    assert standing.status == "qualified" and not standing.eligibility.allowed


def near_misses(anchors: list[PoolAnchor], r: Rubric, n: int) -> list[dict[str, int]]:
    """The experts' scores with ``n`` criterion scores moved one level, none changing an
    anchor's pass decision (so only exact agreement falls)."""
    scores = [dict(a.expert) for a in anchors]
    changed = 0
    for s in scores:
        for c in r.criterion_ids:
            if changed == n:
                return scores
            before = bool(r.passes([[s[k] for k in r.criterion_ids]])[0])
            for step in (-1, 1):
                if s[c] + step not in r.scores:
                    continue
                trial = s | {c: s[c] + step}
                if bool(r.passes([[trial[k] for k in r.criterion_ids]])[0]) == before:
                    s[c] += step
                    changed += 1
                    break
    assert changed == n, "not enough scores to move without changing a decision"
    return scores


@pytest.mark.parametrize(("moved", "passed"), [(10, True), (11, False)])
def test_exact_agreement_at_the_threshold_passes_and_one_rating_under_fails(
    north: Engine, moved: int, passed: bool
) -> None:
    """crsel-intro has 3 levels: NAEP's 80% exact agreement; 10 anchors x 5 criteria, so 40
    of 50 exact meets it and 39 does not."""
    engine = north
    practise(engine)
    view = services.round_start(engine=engine, actor=AMY, rubric=RUBRIC)
    anchors = round_anchors(engine, view.attempt)
    scores = near_misses(anchors, rubric(engine), moved)
    for i, given in enumerate(scores, start=1):
        view = services.round_score(
            engine=engine, actor=AMY, attempt=view.attempt, position=i, scores=given
        )
    assert view.result is not None
    figures = {f["name"]: f for f in view.result.figures}
    assert figures["exact"]["value"] == pytest.approx((50 - moved) / 50)
    assert figures["exact"]["met"] is passed and view.result.passed is passed
    assert figures["adjacent"]["met"] and figures["non_adjacent"]["met"]
    assert figures["decision"]["value"] == 1.0


def test_one_score_two_levels_off_fails_on_non_adjacent(north: Engine) -> None:
    engine = north
    practise(engine)
    view = services.round_start(engine=engine, actor=AMY, rubric=RUBRIC)
    anchors = round_anchors(engine, view.attempt)
    r = rubric(engine)
    scores = [dict(a.expert) for a in anchors]
    # a criterion the experts scored 1 or 3 moved two levels (the decision may change too)
    i, c = next((i, c) for i, s in enumerate(scores) for c in r.criterion_ids if s[c] != 2)
    scores[i][c] = 4 - scores[i][c]
    view = take_round_from(engine, view, scores)
    assert view.result is not None and not view.result.passed
    figures = {f["name"]: f for f in view.result.figures}
    assert figures["non_adjacent"]["value"] == 1 and not figures["non_adjacent"]["met"]
    missed = [
        (a.position, row.criterion)
        for a in view.result.anchors
        for row in a.criteria
        if abs(row.gap) > 1
    ]
    assert missed == [(i + 1, c)]


def take_round_from(
    engine: Engine, view: cal.RoundView, scores: list[dict[str, int]]
) -> cal.RoundView:
    for i, given in enumerate(scores, start=1):
        view = services.round_score(
            engine=engine, actor=AMY, attempt=view.attempt, position=i, scores=given
        )
    return view


def test_retakes_draw_unseen_anchors_then_say_which_were_seen(north: Engine) -> None:
    engine = north
    r = rubric(engine)
    pool = [a for s in store.stored_anchor_sets(engine=engine, rubric=RUBRIC) for a in s.anchors]
    pool_size = sum(a.purpose == "qualification" for a in pool)
    wrong = [{c: 1 for c in r.criterion_ids}] * 10
    seen: list[set[str]] = []
    for _ in range(3):
        practise(engine)
        view = take_round(engine, wrong)
        assert view.result is not None and not view.result.passed
        titles = {a.artifact["title"] for a in view.result.anchors}
        assert len(titles) == 10
        fresh = max(0, min(10, pool_size - 10 * len(seen)))
        unseen = titles - set().union(*seen) if seen else titles
        assert len(unseen) == fresh or (fresh == 0 and not unseen)
        if fresh < 10:
            assert view.note is not None and f"{10 - fresh} of the 10 anchors" in view.note
        else:
            assert view.note is None
        seen.append(titles)
    # every level of every criterion in the first round (the pool covers them)
    first = round_anchors(
        engine, services.qualification(engine=engine, actor=AMY, rubric=RUBRIC).rounds[0]["attempt"]
    )
    expert = np.array([[a.expert[c] for c in r.criterion_ids] for a in first])
    for j in range(len(r.criterion_ids)):
        assert set(expert[:, j]) == set(r.scores)
    decisions = r.passes(expert)
    assert decisions.any() and not decisions.all()


def test_the_round_limit_holds_for_the_period_then_opens_again(north: Engine) -> None:
    engine = north
    r = rubric(engine)
    wrong = [{c: 1 for c in r.criterion_ids}] * 10
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    for k in range(3):
        practise(engine, at=start + timedelta(days=k))
        take_round(engine, wrong, at=start + timedelta(days=k, hours=1))
    practise(engine, at=start + timedelta(days=4))
    with pytest.raises(CalibrateError, match=r"3 rounds in the last 90 days .* from 2026-04-05"):
        services.round_start(engine=engine, actor=AMY, rubric=RUBRIC, at=start + timedelta(days=5))
    standing = services.qualification(
        engine=engine, actor=AMY, rubric=RUBRIC, at=start + timedelta(days=5)
    )
    assert standing.eligibility.rounds_in_period == 3 and not standing.eligibility.allowed
    later = start + timedelta(days=91)
    view = services.round_start(engine=engine, actor=AMY, rubric=RUBRIC, at=later)
    assert view.scored == 0


def test_qualification_expires_after_the_valid_days(north: Engine) -> None:
    engine = north
    passed_at = datetime(2025, 1, 10, tzinfo=UTC)
    practise(engine, at=passed_at)
    view = take_round(engine, at=passed_at)
    assert view.result is not None and view.result.passed
    still = services.qualification(
        engine=engine, actor=AMY, rubric=RUBRIC, at=passed_at + timedelta(days=364)
    )
    assert still.status == "qualified" and still.qualified_until == passed_at + timedelta(days=365)
    gone = services.qualification(
        engine=engine, actor=AMY, rubric=RUBRIC, at=passed_at + timedelta(days=366)
    )
    assert gone.status == "expired" and "expired on 2026-01-10" in gone.reason
    assert not gone.eligibility.allowed  # practice again first
    practise(engine, at=passed_at + timedelta(days=366))
    assert services.qualification(
        engine=engine, actor=AMY, rubric=RUBRIC, at=passed_at + timedelta(days=367)
    ).eligibility.allowed


def test_rounds_are_private_to_their_assessor_and_issuer(north: Engine) -> None:
    engine = north
    practise(engine)
    view = take_round(engine)
    with pytest.raises(CalibrateError, match="no qualification round"):
        services.round_view(engine=engine, actor=BEN, attempt=view.attempt)
    with pytest.raises(CalibrateError, match="no qualification round"):
        services.round_result(engine=engine, actor=BEN, attempt=view.attempt)
    with pytest.raises(CalibrateError, match="no qualification round"):
        services.round_result(engine=engine, actor=OTTO, attempt=view.attempt)
    seen = services.round_result(engine=engine, actor=ADA, attempt=view.attempt)
    assert seen.assessor == "A-amy" and seen.passed
    standings = services.qualifications(engine=engine, actor=ADA, rubric=RUBRIC)
    assert [(q.assessor, q.status) for q in standings] == [("A-amy", "qualified")]
    with pytest.raises(AccessDenied):
        services.qualifications(engine=engine, actor=AMY)


def test_every_step_is_sealed_and_verify_finds_nothing_wrong(north: Engine) -> None:
    engine = north
    practise(engine)
    take_round(engine)
    actions = [e.action for e in services.audit_log(engine=engine, actor=OPERATOR, limit=None)]
    assert actions.count("round.score") == 10 and actions.count("practice.score") == 1
    assert "round.start" in actions and "round.finish" in actions
    assert services.verify(engine=engine, actor=OPERATOR).ok


def test_repo_pool_spreads_levels_for_every_rubric() -> None:
    """The shipped qualification pools can fill a round covering every level."""
    from calibrate.anchors import load_anchor_set_files
    from calibrate.rubric import load_rubrics

    rubrics = {(r.id, r.version): r for r in load_rubrics(ROOT / "rubrics")}
    for path in sorted((ROOT / "anchor_sets").glob("*/qualification.yaml")):
        (aset,) = load_anchor_set_files([path], rubrics)
        r = rubrics[(aset.rubric_id, aset.rubric_version)]
        expert = aset.expert_scores(r.criterion_ids)
        assert len(aset.anchors) >= 10, path
        for j in range(len(r.criterion_ids)):
            assert set(expert[:, j]) == set(r.scores), (path, r.criterion_ids[j])


def test_my_history_reports_accuracy_with_intervals_and_hides_this_months_checks(
    north: Engine,
) -> None:
    engine = north
    r = rubric(engine)
    march = datetime(2026, 3, 10, tzinfo=UTC)
    practise(engine, at=march)  # all twos
    take_round(engine, at=march + timedelta(hours=1))  # the experts' scores
    (history,) = services.my_history(engine=engine, actor=AMY, at=march + timedelta(days=1))
    assert history.rubric == RUBRIC and len(history.rounds) == 1
    kinds = {line.group: line for line in history.by_kind}
    assert kinds["qualification rounds"].exact == 1.0
    assert kinds["qualification rounds"].anchors == 10
    practice = kinds["practice anchors"]
    assert practice.anchors == 1 and practice.ratings == len(r.criterion_ids)
    assert history.overall is not None and history.overall.ratings == 11 * len(r.criterion_ids)
    low, high = history.overall.exact_interval
    assert low <= history.overall.exact <= high and low >= 0 and high <= 1
    assert [line.group for line in history.by_criterion] == [c.title for c in r.criteria]
    assert [line.group for line in history.by_month] == ["2026-03"]
    assert "your score equalled the experts'" in history.overall.words
    # another assessor has no history; an administrator has no assessor key
    assert services.my_history(engine=engine, actor=BEN) == []
    with pytest.raises(AccessDenied):
        services.my_history(engine=engine, actor=ADA)


def test_practice_view_gives_the_item_not_the_key(north: Engine) -> None:
    engine = north
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    assert services.practice_view(engine=engine, actor=AMY, attempt=item.attempt) == item
    with pytest.raises(CalibrateError, match="of yours"):
        services.practice_view(engine=engine, actor=BEN, attempt=item.attempt)
