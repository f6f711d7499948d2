"""The demo programme's current term, played through the calibration workflow (issue 11,
part 8): what each demo account finds at once, the full loop on the demo content through the
services (practice, a failed round, a retake with fresh anchors, a pass, live scoring with
seeding and double scoring, an adjudication), and a rebuild that adds nothing."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.access import Actor
from calibrate.errors import CalibrateError
from calibrate.services import calibration as cal
from calibrate.services import queue as q
from calibrate.services.demo import DEMO_PASSWORD, build_demo
from calibrate.services.demo_workflow import CALIBRATION_DAYS, PENDING_PAIRS
from calibrate.store.calibration import attempt_anchors, attempt_by_key
from calibrate.store.engine import reading
from calibrate.store.queue import (
    ASSIGNMENT,
    assignment_by_handle,
    existing_assessor,
    readings_of,
    received,
    submission_by_id,
)
from calibrate.store.scoring import PoolAnchor, anchor_pool, anchors_by_id, stored_version
from tests.conftest import OPERATOR, SetRules, table_rows

SIZE, SEED = "classroom", 7
PRACTICE, QUEUE = "crsel-intro@1", "ct-unplugged@1"
"""Where demo-assessor practises and where their queue is (in this demo their assessor,
A0001, scored inquiry-lead last term, so the preferred rubrics are theirs)."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The classroom demo, built once into a SQLite store: the store's file."""
    folder = tmp_path_factory.mktemp("built")
    engine = store.open_store(f"sqlite:///{folder / 'store.db'}")
    try:
        build_demo(engine=engine, actor=OPERATOR, out=folder / "demo", size=SIZE, seed=SEED,
                   workflow=True)  # fmt: skip
    finally:
        engine.dispose()
    return folder / "store.db"


@pytest.fixture
def demo(built: Path, tmp_path: Path) -> Iterator[Engine]:
    """A copy of the built demo's store, for one test to change."""
    copy = tmp_path / "store.db"
    with closing(sqlite3.connect(built)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    engine = store.open_store(f"sqlite:///{copy}")
    yield engine
    engine.dispose()


def as_(engine: Engine, username: str) -> Actor:
    return services.login(username, DEMO_PASSWORD, engine=engine).actor


# --- what each account finds -----------------------------------------------------------------


def test_each_demo_account_finds_the_loop_at_once(demo: Engine) -> None:
    you, lead, admin = (as_(demo, u) for u in ("demo-assessor", "demo-lead", "demo-admin"))
    # demo-assessor: practised on crsel-intro, not qualified there, may start a round now
    standing = cal.qualification(engine=demo, actor=you, rubric=PRACTICE)
    assert standing.status == "not qualified"
    assert standing.eligibility.allowed and standing.eligibility.open_round is None
    (history,) = cal.my_history(engine=demo, actor=you, rubric=PRACTICE)
    assert [line.group for line in history.by_kind] == ["practice anchors"]
    # ... and qualified on ct-unplugged, where an item waits in their queue
    assert cal.qualification(engine=demo, actor=you, rubric=QUEUE).status == "qualified"
    item = q.queue_next(engine=demo, actor=you, rubric=QUEUE).item
    assert item is not None and item.rubric == QUEUE
    # demo-lead: qualified on crsel-intro; discrepant pairs they did not read wait for them
    assert cal.qualification(engine=demo, actor=lead, rubric=PRACTICE).status == "qualified"
    waiting = q.adjudications(engine=demo, actor=lead)
    assert len(waiting) >= PENDING_PAIRS
    assert all(p["criteria_apart"] or p["decisions_differ"] for p in waiting)
    assert not {r["assessor"] for p in waiting for r in p["readings"]} & {lead.assessor}
    # demo-admin: assessors qualified, not yet and one suspended with the reason
    statuses = Counter(s.status for s in cal.qualifications(engine=demo, actor=admin))
    assert statuses["qualified"] >= 3 and statuses["not qualified"] >= 3
    assert statuses["suspended"] == 1
    (suspension,) = [s for s in q.suspensions(engine=demo, actor=admin) if s["active"]]
    assert suspension["reason"] and suspension["assessor"] not in (you.assessor, lead.assessor)
    # ... results of decided submissions, and work still waiting
    found = q.results(engine=demo, actor=admin)
    status = Counter(s["status"] for s in found)
    assert 0.3 < status["decided"] / len(found) < 0.9
    assert status["waiting"] + status["in scoring"] > 0
    assert status["awaiting adjudication"] == len(waiting)
    # ... with the times of the weeks before now, and the audit log of it all
    now = datetime.now(UTC)
    for s in found:
        assert now - timedelta(days=CALIBRATION_DAYS) < datetime.fromisoformat(s["received_at"])
        if s["result"] is not None:
            assert datetime.fromisoformat(s["result"]["decided_at"]) < now
    actions = {e.action for e in services.audit_log(engine=demo, actor=admin, limit=None)}
    assert {"practice.score", "round.start", "round.score", "round.finish", "submission.add",
            "queue.score", "qualification.suspend"} <= actions  # fmt: skip


def test_live_work_is_anchor_text_word_for_word(demo: Engine) -> None:
    """The demo has no teachers' work: a submission is the artifact of one of its rubric's
    anchors, copied field for field (validity anchors' too), so that nothing in the text tells
    a seeded validity anchor from live work."""
    with reading(demo) as conn:
        for rubric in store.stored_rubrics(engine=demo, issuers={"demo"}):
            version = stored_version(conn, rubric).id
            anchors = [
                {k: a.artifact.get(k) for k in ("title", "description", "excerpt")}
                for purpose in ("practice", "qualification", "validity")
                for a in anchor_pool(conn, version, purpose)
            ]
            live = received(conn, [version])
            assert live
            for s in live:
                assert {
                    k: s.artifact.get(k) for k in ("title", "description", "excerpt")
                } in anchors


# --- the full loop on the demo content ---------------------------------------------------------


def practice_anchor(engine: Engine, attempt: str) -> PoolAnchor:
    """The anchor of a practice attempt, answer key included (read as the test)."""
    return round_anchors(engine, attempt)[0]


def round_anchors(engine: Engine, attempt: str) -> list[PoolAnchor]:
    """The anchors of an attempt in order, answer key included (read as the test)."""
    with reading(engine) as conn:
        found = attempt_by_key(conn, attempt)
        assert found is not None
        return anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])


def practise(engine: Engine, you: Actor) -> None:
    item = cal.practice_next(engine=engine, actor=you, rubric=PRACTICE)
    assert set(item.to_dict()) == {"attempt", "position", "of", "rubric", "artifact", "scored"}
    anchor = practice_anchor(engine, item.attempt)
    given = {**anchor.expert}
    top = max(given, key=lambda c: given[c])
    step = -1 if given[top] > store.stored_rubric(PRACTICE, engine=engine).scores[0] else 1
    given[top] += step  # one criterion a level off the experts
    feedback = cal.practice_score(engine=engine, actor=you, attempt=item.attempt, scores=given)
    gaps = {c.criterion: c.gap for c in feedback.criteria}
    assert gaps[top] == step and sum(map(abs, gaps.values())) == 1
    assert all(c.rationale == anchor.rationale[c.criterion] for c in feedback.criteria)


def answer(engine: Engine, handle: str, rubric: str) -> dict[str, int]:
    """The experts' scores of an item of a queue (read as the test): the validity anchor's, or
    those of the anchor whose text a demo submission carries."""
    with reading(engine) as conn:
        held = assignment_by_handle(conn, handle)
        assert held is not None
        if held.anchor_id is not None:
            return anchors_by_id(conn, [held.anchor_id])[0].expert
        assert held.submission_id is not None
        artifact = submission_by_id(conn, held.submission_id).artifact
        version = stored_version(conn, store.stored_rubric(rubric, engine=engine)).id
        keys = {
            json.dumps(a.expert, sort_keys=True)
            for purpose in ("practice", "qualification", "validity")
            for a in anchor_pool(conn, version, purpose)
            if a.artifact["title"] == artifact["title"]
            and a.artifact.get("excerpt") == artifact.get("excerpt")
        }
        (key,) = keys  # one answer key for the text (were two anchors alike, they agree)
        expert: dict[str, int] = json.loads(key)
        return expert


def finished(engine: Engine, actor: Actor) -> list[tuple[int | None, int | None]]:
    """(anchor, submission) of the items the actor scored from their queue, in order (read as
    the test: nothing the assessor receives says which was an anchor)."""
    with reading(engine) as conn:
        me = existing_assessor(conn, str(actor.assessor))
        return [
            (r[0], r[1])
            for r in conn.execute(
                sa.select(ASSIGNMENT.c.anchor_id, ASSIGNMENT.c.submission_id)
                .where(ASSIGNMENT.c.assessor_id == me, ASSIGNMENT.c.finished_at.is_not(None))
                .order_by(ASSIGNMENT.c.id)
            )
        ]


def _versions(conn: Any, engine: Engine) -> list[Any]:
    return [stored_version(conn, r) for r in store.stored_rubrics(engine=engine, issuers={"demo"})]


def play_the_loop(engine: Engine, rules: SetRules) -> None:
    you, lead, admin = (as_(engine, u) for u in ("demo-assessor", "demo-lead", "demo-admin"))
    levels = store.stored_rubric(PRACTICE, engine=engine).scores

    # practice: the feedback after scoring, the rationale with it
    practise(engine, you)

    # a failed round: one criterion two levels off the experts
    first = cal.round_start(engine=engine, actor=you, rubric=PRACTICE)
    seen = round_anchors(engine, first.attempt)
    off = next((i, c) for i, a in enumerate(seen) for c, e in a.expert.items()
               if e in (levels[0], levels[-1]))  # fmt: skip
    for position, anchor in enumerate(seen, start=1):
        scores = {**anchor.expert}
        if position - 1 == off[0]:
            scores[off[1]] = levels[-1] if scores[off[1]] == levels[0] else levels[0]
        view = cal.round_score(engine=engine, actor=you, attempt=first.attempt,
                               position=position, scores=scores)  # fmt: skip
    assert view.result is not None and not view.result.passed
    missed = [f for f in view.result.figures if not f["met"]]
    assert [f["name"] for f in missed] == ["non_adjacent"], missed

    # a retake: practice first, then anchors none of which were in the first round
    with pytest.raises(CalibrateError, match="practice"):
        cal.round_start(engine=engine, actor=you, rubric=PRACTICE)
    practise(engine, you)
    second = cal.round_start(engine=engine, actor=you, rubric=PRACTICE)
    fresh = round_anchors(engine, second.attempt)
    assert not {a.id for a in fresh} & {a.id for a in seen} and second.note is None
    for position, anchor in enumerate(fresh, start=1):  # a pass, from the answer key
        view = cal.round_score(engine=engine, actor=you, attempt=second.attempt,
                               position=position, scores=anchor.expert)  # fmt: skip
    assert view.result is not None and view.result.passed
    assert cal.qualification(engine=engine, actor=you, rubric=PRACTICE).status == "qualified"

    # live scoring on ct-unplugged: twenty more submissions come in (the demo's kind of text),
    # and validity anchors are seeded at the highest rate, so that the test sees some
    rules({"rubrics": {QUEUE.split("@")[0]: {"live.validity_rate": 0.5}}})
    with reading(engine) as conn:
        version = stored_version(conn, store.stored_rubric(QUEUE, engine=engine)).id
        texts = [a.artifact for a in anchor_pool(conn, version, "qualification")]
    for i in range(20):
        text = {**texts[i % len(texts)]}
        q.add_submission(engine=engine, actor=admin, rubric=QUEUE, key=f"loop-{i:02d}",
                         artifact=text)  # fmt: skip
    before = len(q.adjudications(engine=engine, actor=lead))
    done_before = len(finished(engine, you))
    scored = 0
    while scored < 40:
        item = q.queue_next(engine=engine, actor=you, rubric=QUEUE).item
        if item is None:
            break
        expert = answer(engine, item.handle, QUEUE)
        q.queue_score(engine=engine, actor=you, handle=item.handle, scores=expert)
        scored += 1
    mine = finished(engine, you)[done_before:]
    seeded = [a for a, _ in mine if a is not None]
    live = [s for _, s in mine if s is not None]
    assert len(mine) == scored and seeded and len(live) >= 20
    with reading(engine) as conn:  # every double-scored submission: two different readers
        every = [s.id for s in received(conn, [v.id for v in _versions(conn, engine)])]
        pairs = [r for r in readings_of(conn, every).values() if len(r) == 2]
    assert pairs and all(r[0].assessor != r[1].assessor for r in pairs)
    assert not any(s["active"] for s in q.suspensions(engine=engine, actor=admin)
                   if s["assessor"] == you.assessor)  # fmt: skip

    # an adjudication by demo-lead, with the reason
    waiting = q.adjudications(engine=engine, actor=lead)
    assert len(waiting) >= before >= PENDING_PAIRS
    pair = waiting[0]
    third = pair["readings"][0]["scores"]
    done = q.adjudicate(engine=engine, actor=lead, submission=pair["submission"], scores=third,
                        reason="the first reading matches the descriptors")  # fmt: skip
    assert done["decided_by"] == "demo-lead"
    assert len(q.adjudications(engine=engine, actor=lead)) == len(waiting) - 1
    (result,) = [s for s in q.results(engine=engine, actor=admin)
                 if s["submission"] == pair["submission"]]  # fmt: skip
    assert result["status"] == "decided"
    assert result["result"]["reason"] == "the first reading matches the descriptors"

    assert services.verify(engine=engine, actor=admin).ok


def test_the_full_loop_on_the_demo_content(demo: Engine, rules: SetRules) -> None:
    play_the_loop(demo, rules)


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_full_loop_on_the_demo_content_on_postgresql(
    engine: Engine, tmp_path: Path, rules: SetRules
) -> None:
    report = build_demo(engine=engine, actor=OPERATOR, out=tmp_path / "demo", size=SIZE,
                        seed=SEED, workflow=True)  # fmt: skip
    assert report.workflow is not None
    assert report.workflow.accounts["demo-assessor"] == {"practice": PRACTICE, "queue": QUEUE}
    play_the_loop(engine, rules)


# --- once --------------------------------------------------------------------------------------


def test_building_the_same_demo_again_adds_nothing(demo: Engine, tmp_path: Path) -> None:
    tables = ("assignment", "submission", "submission_result", "calibration_attempt",
              "suspension", "rating", "audit_event")  # fmt: skip
    before = {t: table_rows(demo, t) for t in tables}
    counts = store.counts(engine=demo)
    again = build_demo(engine=demo, actor=OPERATOR, out=tmp_path / "demo", size=SIZE, seed=SEED,
                       workflow=True)  # fmt: skip
    assert again.workflow is None and again.ratings.n_written == 0
    # last term's ratings all there, the current term's beside them
    assert again.ratings.n_unchanged == again.ratings.n_rows == again.summary["ratings"]
    assert before["rating"] > again.ratings.n_rows
    assert {t: table_rows(demo, t) for t in tables} == before
    assert store.counts(engine=demo) == counts
