"""The live scoring queue, results, adjudication and suspensions through the services, on both
backends (issue 11, parts 3-5): work only for qualified assessors, double scoring by two
different assessors, validity anchors that look like any submission, resubmissions to
another assessor, timeouts, adjudication by a lead who read neither reading, suspension after
validity misses, role checks, and concurrent scoring that loses and doubles nothing."""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.access import Actor
from calibrate.errors import AccessDenied, CalibrateError
from calibrate.rubric import Rubric
from calibrate.services import queue as q
from calibrate.store.calibration import ATTEMPT
from calibrate.store.engine import reading, writing
from calibrate.store.queue import ASSIGNMENT, RESULT, assignment_by_handle
from calibrate.store.scoring import RATING, anchors_by_id, assessor_id, stored_version
from calibrate.workflow import round_half_up
from tests.conftest import OPERATOR, ROOT, SetRules, table_rows

RUBRIC = "crsel-intro@1"
AMY = Actor("amy", "assessor", issuer="north", assessor="A-amy")
BEN = Actor("ben", "assessor", issuer="north", assessor="A-ben")
CAL = Actor("cal", "assessor", issuer="north", assessor="A-cal")
LEA = Actor("lea", "lead", issuer="north", assessor="L-lea")
LEO = Actor("leo", "lead", issuer="north", assessor="L-leo")
ADA = Actor("ada", "admin", issuer="north")
SAM = Actor("sam", "lead", issuer="south", assessor="L-sam")
OTTO = Actor("otto", "admin", issuer="south")
BOB = Actor("bob", "board", grants=frozenset({"north"}))
HANDLE = re.compile(r"S-[0-9a-f]{10}")
ITEM_KEYS = {"handle", "rubric", "artifact", "assigned_at", "due_at"}
ARTIFACT_KEYS = {"title", "description", "excerpt"}


@pytest.fixture
def north(engine: Engine) -> Iterator[Engine]:
    """The shipped rubrics and anchor sets, owned by issuer ``north``."""
    services.import_definitions(
        ROOT / "rubrics", ROOT / "anchor_sets", engine=engine, actor=OPERATOR, issuer="north"
    )
    yield engine


def rubric(engine: Engine) -> Rubric:
    return store.stored_rubric(RUBRIC, engine=engine)


def qualify(engine: Engine, *actors: Actor, at: datetime | None = None) -> None:
    """A passed qualification round for each actor, written directly (rounds are the business
    of services.calibration)."""
    found = rubric(engine)
    with writing(engine) as conn:
        version = stored_version(conn, found)
        for actor in actors:
            assert actor.assessor is not None
            finished = at or datetime.now(UTC)
            conn.execute(
                ATTEMPT.insert(),
                {
                    "key": f"Q-{secrets.token_hex(5)}",
                    "assessor_id": assessor_id(conn, actor.assessor),
                    "rubric_version_id": version.id,
                    "purpose": "qualification",
                    "started_at": finished - timedelta(hours=1),
                    "finished_at": finished,
                    "passed": True,
                },
            )


def add(engine: Engine, *keys: str, **kwargs: Any) -> list[dict[str, Any]]:
    """Enter submissions as the administrator, oldest first."""
    return [add_one(engine, key, **kwargs) for key in keys]


def add_one(engine: Engine, key: str, **kwargs: Any) -> dict[str, Any]:
    artifact = kwargs.pop("artifact", {"title": f"Lesson plan {key}", "excerpt": "Plan: ..."})
    return q.add_submission(
        engine=engine, actor=ADA, rubric=RUBRIC, key=key, artifact=artifact, **kwargs
    )


def kind(engine: Engine, handle: str) -> str:
    """ "anchor" or "submission": read as the test from the store, never from a service."""
    with reading(engine) as conn:
        found = assignment_by_handle(conn, handle)
    assert found is not None
    return "anchor" if found.anchor_id is not None else "submission"


def expert(engine: Engine, handle: str) -> dict[str, int]:
    with reading(engine) as conn:
        found = assignment_by_handle(conn, handle)
        assert found is not None and found.anchor_id is not None
        (anchor,) = anchors_by_id(conn, [found.anchor_id])
    return anchor.expert


def levels(engine: Engine, *values: int) -> dict[str, int]:
    """Scores by criterion: the values in criterion order, the last one repeated."""
    ids = rubric(engine).criterion_ids
    return {c: values[min(i, len(values) - 1)] for i, c in enumerate(ids)}


def far_from(scores: dict[str, int]) -> dict[str, int]:
    """Scores that miss the experts' on a 1-3 scale: 1s where any expert score is 3 (two
    levels off), else 3s (two levels off a 1, or another pass decision on all 2s)."""
    value = 1 if 3 in scores.values() else 3
    return {c: value for c in scores}


def score(engine: Engine, actor: Actor, handle: str, scores: dict[str, int], **kw: Any) -> Any:
    return q.queue_score(engine=engine, actor=actor, handle=handle, scores=scores, **kw)


def next_item(engine: Engine, actor: Actor, **kw: Any) -> q.QueueItem:
    got = q.queue_next(engine=engine, actor=actor, **kw)
    assert got.item is not None, got.message
    return got.item


def assert_verified(engine: Engine) -> None:
    found = services.verify(engine=engine, actor=OPERATOR)
    assert found.ok, found.problems


def by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["submission"]: r for r in rows}


# --- who gets live work ---------------------------------------------------------------------------


def test_only_qualified_assessors_not_suspended_get_live_work(north: Engine) -> None:
    engine = north
    add(engine, "s1", "s2")
    got = q.queue_next(engine=engine, actor=AMY, rubric=RUBRIC)
    assert got.item is None
    assert got.message == f"no passed qualification round on {RUBRIC}"
    assert [(r.kind, r.rubric) for r in got.reasons] == [("not qualified", RUBRIC)]
    qualify(engine, AMY, at=datetime.now(UTC) - timedelta(days=400))  # valid 365 days
    got = q.queue_next(engine=engine, actor=AMY)
    assert got.item is None and re.match(
        rf"qualification on {RUBRIC} expired on \d{{4}}-", got.message
    )
    assert got.reasons[0].kind == "expired" and got.message.startswith(got.reasons[0].text)
    qualify(engine, AMY)
    got = q.queue_next(engine=engine, actor=AMY)
    assert got.item is not None and got.message.startswith("score it by") and not got.reasons
    assert q.queue_next(engine=engine, actor=AMY) == got  # held: a reload loses nothing
    first = got.item

    reason = "scores given from the title alone in a spot check"
    q.suspend(engine=engine, actor=ADA, assessor="A-amy", rubric=RUBRIC, reason=reason)
    got = q.queue_next(engine=engine, actor=AMY, rubric=RUBRIC)
    assert got.item is None
    assert re.fullmatch(
        rf"suspended from live scoring on {RUBRIC} since \d{{4}}-\d\d-\d\d: {reason}", got.message
    )
    assert [(r.kind, r.rubric) for r in got.reasons] == [("suspended", RUBRIC)]
    with pytest.raises(CalibrateError, match=r"went back to the queue .*suspended"):
        score(engine, AMY, first.handle, levels(engine, 2))
    with pytest.raises(CalibrateError, match=r"suspended on .* already"):
        q.suspend(engine=engine, actor=ADA, assessor="A-amy", rubric=RUBRIC, reason="again")
    with pytest.raises(CalibrateError, match="reason of a reinstatement is empty"):
        q.reinstate(engine=engine, actor=ADA, assessor="A-amy", rubric=RUBRIC, reason=" ")
    (listed,) = q.suspensions(engine=engine, actor=ADA)
    assert listed["active"] and listed["kind"] == "manual" and listed["reason"] == reason

    q.reinstate(engine=engine, actor=ADA, assessor="A-amy", rubric=RUBRIC, reason="retrained")
    again = next_item(engine, AMY)
    assert again.handle != first.handle  # a new assignment, a new handle
    (listed,) = q.suspensions(engine=engine, actor=ADA)
    assert not listed["active"] and listed["lift_reason"] == "retrained"
    with pytest.raises(CalibrateError, match="not suspended"):
        q.reinstate(engine=engine, actor=ADA, assessor="A-amy", rubric=RUBRIC, reason="twice")
    with pytest.raises(CalibrateError, match="no assessor 'A-nobody'"):
        q.suspend(engine=engine, actor=ADA, assessor="A-nobody", rubric=RUBRIC, reason="x")
    events = [e.action for e in services.audit_log(engine=engine, actor=OPERATOR)]
    assert {"qualification.suspend", "qualification.reinstate", "submission.add"} <= set(events)
    assert_verified(engine)


def test_double_scoring_goes_to_two_different_assessors(north: Engine, rules: SetRules) -> None:
    engine = north
    rules({"live.double_share": 1, "live.validity_rate": 0})
    qualify(engine, AMY, BEN, CAL)
    (added,) = add(engine, "s1")
    assert added == {"key": "s1", "rubric": RUBRIC, "attempt": 1, "readings": 2}
    assert q.results(engine=engine, actor=ADA)[0]["status"] == "waiting"
    a = next_item(engine, AMY)
    b = next_item(engine, BEN)
    assert a.handle != b.handle and a.artifact == b.artifact
    assert next_item(engine, AMY) == a
    got = q.queue_next(engine=engine, actor=CAL)
    assert got.item is None and got.message.startswith("nothing waiting for you on crsel-intro@1")
    assert (got.reasons[0].kind, got.reasons[0].rubric) == ("nothing waiting", "crsel-intro@1")

    with pytest.raises(CalibrateError, match="no score for criterion"):
        score(engine, AMY, a.handle, {"sel-benchmark": 2})
    with pytest.raises(CalibrateError, match="at most 5,000"):
        score(engine, AMY, a.handle, levels(engine, 2), comment="x" * 5001)
    with pytest.raises(CalibrateError, match="control character U\\+0007"):
        score(engine, AMY, a.handle, levels(engine, 2), comment="ding\a")
    with pytest.raises(CalibrateError, match=r"no submission 'S-.*' in your queue"):
        score(engine, BEN, a.handle, levels(engine, 2))  # another's handle: no such
    receipt = score(engine, AMY, a.handle, levels(engine, 3, 2), comment="clear plan")
    assert set(receipt) == {"handle", "recorded", "at"} and receipt["recorded"] == 5
    with pytest.raises(CalibrateError, match="scored already"):
        score(engine, AMY, a.handle, levels(engine, 3))
    assert q.queue_next(engine=engine, actor=AMY).item is None  # never the same one twice
    (row,) = q.results(engine=engine, actor=ADA)
    assert row["status"] == "in scoring" and row["scored"] == 1

    score(engine, BEN, b.handle, levels(engine, 2))  # within one level, both Not yet
    (row,) = q.results(engine=engine, actor=ADA)
    assert row["status"] == "decided"
    assert row["result"]["rule"] == "first reading (the pair agrees)"
    assert row["result"]["scores"] == levels(engine, 3, 2) and row["result"]["passed"] is False
    assert row["result"]["decided_by"] == "rule"
    assert q.adjudications(engine=engine, actor=LEA) == []
    assert_verified(engine)


def test_validity_anchors_are_seeded_and_look_like_any_submission(
    north: Engine, rules: SetRules
) -> None:
    engine = north
    rules({"live.double_share": 0, "live.validity_rate": 0.5})
    qualify(engine, AMY, BEN, CAL)
    add(engine, *(f"s{i:02d}" for i in range(30)))
    items: dict[str, list[dict[str, Any]]] = {"anchor": [], "submission": []}
    receipts: list[set[str]] = []
    for actor in (AMY, BEN):
        while (got := q.queue_next(engine=engine, actor=actor)).item is not None:
            item = got.item
            items[kind(engine, item.handle)].append(item.to_dict())
            receipts.append(set(score(engine, actor, item.handle, levels(engine, 2))))
        assert got.message.startswith("nothing waiting")
    assert len(items["submission"]) == 30
    assert 1 <= len(items["anchor"]) <= 12  # 6 validity anchors each at most
    for it in items["anchor"] + items["submission"]:
        assert set(it) == ITEM_KEYS and set(it["artifact"]) == ARTIFACT_KEYS
        assert HANDLE.fullmatch(it["handle"]) and it["rubric"] == RUBRIC
    assert {frozenset(r) for r in receipts} == {frozenset({"handle", "recorded", "at"})}
    sets = store.stored_anchor_sets(engine=engine, rubric=RUBRIC)
    anchors = [a for s in sets for a in s.anchors]
    text = json.dumps(items["anchor"])
    for anchor in anchors:
        assert f'"{anchor.id}"' not in text
        for rationale in anchor.rationale.values():
            assert rationale[:50] not in text
    for word in ("expert", "rationale", "validity", "anchor", "score", "earner", "attempt"):
        assert word not in text.lower()
    # the live queue is empty: an assessor who had no anchor yet still gets none
    got = q.queue_next(engine=engine, actor=CAL)
    assert got.item is None and got.message.startswith("nothing waiting")
    assert_verified(engine)


def test_a_resubmission_goes_to_another_assessor_unless_the_rule_says_otherwise(
    north: Engine, rules: SetRules
) -> None:
    engine = north
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY, BEN)
    add(engine, "s1", earner="e-1")
    score(engine, AMY, next_item(engine, AMY).handle, levels(engine, 1))
    (again,) = add(engine, "s1-b", previous="s1")
    assert again["attempt"] == 2
    assert by_key(q.results(engine=engine, actor=ADA))["s1-b"]["earner"] == "e-1"
    assert q.queue_next(engine=engine, actor=AMY).item is None
    score(engine, BEN, next_item(engine, BEN).handle, levels(engine, 1))
    (third,) = add(engine, "s1-c", previous="s1-b")
    assert third["attempt"] == 3
    assert q.queue_next(engine=engine, actor=AMY).item is None  # she read attempt 1
    assert q.queue_next(engine=engine, actor=BEN).item is None  # he read attempt 2

    rules(
        {"live.double_share": 0, "live.validity_rate": 0, "resubmission.different_assessor": False}
    )
    item = next_item(engine, AMY)
    assert item.artifact["title"] == "Lesson plan s1-c"
    score(engine, AMY, item.handle, levels(engine, 1))
    assert by_key(q.results(engine=engine, actor=ADA))["s1-c"]["status"] == "decided"

    rules({"live.double_share": 0, "live.validity_rate": 0, "resubmission.max_attempts": 3})
    before = table_rows(engine, "submission")
    with pytest.raises(CalibrateError, match=r"attempt 4: .* at most 3 times \(rule resubmission"):
        add(engine, "s1-d", previous="s1-c")
    assert table_rows(engine, "submission") == before


def test_submissions_are_refused_with_the_broken_rule(north: Engine, rules: SetRules) -> None:
    engine = north
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY)
    add(engine, "s1", earner="e-1")
    before = table_rows(engine, "submission"), table_rows(engine, "audit_event")
    for kwargs, message in [
        ({"key": "S 1"}, "submission key 'S 1': lower-case letters"),
        ({"key": "s" * 101}, "at most 100 characters"),
        ({"key": "s1"}, "submission key 's1' is taken"),
        ({"key": "s2", "artifact": {"excerpt": "no title"}}, "title is required"),
        ({"key": "s2", "artifact": {"title": "T", "earner": "x"}}, "unknown field earner"),
        ({"key": "s2", "artifact": {"title": "two\nlines"}}, "title must be one line"),
        ({"key": "s2", "artifact": {"title": "T", "excerpt": "\x1b[31m"}}, "U\\+001B"),
        ({"key": "s2", "previous": "s9"}, "no submission 's9' of crsel-intro to resubmit"),
        ({"key": "s2", "previous": "s1", "earner": "e-2"}, "keeps the earner"),
        ({"key": "s2", "earner": "e\x00"}, "control character"),
        ({"key": "s2", "received_at": datetime(2026, 1, 1)}, "time zone"),
    ]:
        key = kwargs.pop("key")
        with pytest.raises(CalibrateError, match=message):
            add_one(engine, key, **kwargs)
    with pytest.raises(CalibrateError, match="not in the store"):
        q.add_submission(
            engine=engine, actor=OTTO, rubric=RUBRIC, key="s3", artifact={"title": "T"}
        )
    assert (table_rows(engine, "submission"), table_rows(engine, "audit_event")) == before
    # an attempt that earned the credential is not resubmitted; one attempt has one successor
    score(engine, AMY, next_item(engine, AMY).handle, levels(engine, 3))
    with pytest.raises(CalibrateError, match="earned the credential"):
        add_one(engine, "s2", previous="s1")
    add(engine, "t1")
    add(engine, "t1-b", previous="t1")
    with pytest.raises(CalibrateError, match="already resubmitted as t1-b"):
        add_one(engine, "t1-c", previous="t1")


# --- time-outs and giving back --------------------------------------------------------------------


def test_unscored_work_returns_to_the_queue_and_late_scores_are_refused(
    north: Engine, rules: SetRules
) -> None:
    engine = north
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY, BEN)
    add(engine, "s1")
    late = next_item(engine, AMY)
    assert late.due_at - late.assigned_at == timedelta(days=5)
    later = datetime.now(UTC) + timedelta(days=6)
    taken = next_item(engine, BEN, at=later)
    assert taken.artifact == late.artifact and taken.handle != late.handle
    with pytest.raises(CalibrateError, match="went back to the queue after 5 days without scores"):
        score(engine, AMY, late.handle, levels(engine, 2))
    score(engine, BEN, taken.handle, levels(engine, 2), at=later)
    assert by_key(q.results(engine=engine, actor=ADA))["s1"]["status"] == "decided"

    add(engine, "s2")
    given = next_item(engine, AMY)
    with pytest.raises(CalibrateError, match="reason for giving it back is empty"):
        q.queue_release(engine=engine, actor=AMY, handle=given.handle, reason="")
    q.queue_release(engine=engine, actor=AMY, handle=given.handle, reason="I know this teacher")
    assert q.queue_next(engine=engine, actor=AMY).item is None  # never back to her
    assert next_item(engine, BEN).artifact == given.artifact
    with pytest.raises(CalibrateError, match="went back to the queue \\(given back: I know"):
        score(engine, AMY, given.handle, levels(engine, 2))
    assert_verified(engine)


def test_a_reading_the_database_refuses_passes_to_the_next_candidate(
    north: Engine, rules: SetRules, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique index on open readings is the last line of defence: an assignment it
    refuses (a reading taken meanwhile) rolls back to its savepoint and the next candidate is
    tried in the same transaction."""
    from calibrate.store import queue as store_queue

    engine = north
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY, BEN)
    add(engine, "s1", "s2")
    taken = next_item(engine, AMY)
    with reading(engine) as conn:
        held_by_amy = assignment_by_handle(conn, taken.handle)
    assert held_by_amy is not None and held_by_amy.submission_id is not None
    real = store_queue.candidates

    def stale(*args: Any, **kwargs: Any) -> list[store_queue.Candidate]:
        gone = store_queue.Candidate(held_by_amy.submission_id, held_by_amy.version_id, (1,))
        return [gone, *real(*args, **kwargs)]

    monkeypatch.setattr(store_queue, "candidates", stale)
    assert next_item(engine, BEN).artifact["title"] == "Lesson plan s2"
    assert_verified(engine)


# --- results and adjudication ---------------------------------------------------------------------


@pytest.mark.parametrize("replaces", [True, False], ids=["third-replaces", "closest-mean"])
def test_a_discrepant_pair_goes_to_a_lead_who_read_neither(
    north: Engine, rules: SetRules, replaces: bool
) -> None:
    engine = north
    rules(
        {
            "live.double_share": 1,
            "live.validity_rate": 0,
            "adjudication.third_reader_replaces": replaces,
        }
    )
    qualify(engine, AMY, BEN, LEO)
    add(engine, "agree", "apart")
    for actor, values in ((AMY, (2,)), (BEN, (2, 3))):  # agree: within one level, both Not yet
        score(engine, actor, next_item(engine, actor).handle, levels(engine, *values))
    score(engine, AMY, next_item(engine, AMY).handle, levels(engine, 1))
    score(engine, LEO, next_item(engine, LEO).handle, levels(engine, 3, 1))  # 2 levels apart
    rows = by_key(q.results(engine=engine, actor=ADA))
    assert rows["agree"]["result"]["scores"] == levels(engine, 2)  # the first reading stands
    assert rows["apart"]["status"] == "awaiting adjudication" and rows["apart"]["result"] is None

    assert q.adjudications(engine=engine, actor=LEO) == []  # he read it
    (pending,) = q.adjudications(engine=engine, actor=LEA)
    assert pending["submission"] == "apart" and pending["rubric"] == RUBRIC
    assert [r["assessor"] for r in pending["readings"]] == ["A-amy", "L-leo"]
    assert pending["criteria_apart"] == [rubric(engine).criterion_ids[0]]
    assert pending["decisions_differ"] is False
    assert q.adjudications(engine=engine, actor=SAM) == []  # another issuer's lead

    third = levels(engine, 2, 3)
    with pytest.raises(CalibrateError, match="you read submission apart yourself"):
        q.adjudicate(engine=engine, actor=LEO, submission="apart", scores=third, reason="mine")
    with pytest.raises(CalibrateError, match="reason of an adjudication is empty"):
        q.adjudicate(engine=engine, actor=LEA, submission="apart", scores=third, reason="  ")
    with pytest.raises(CalibrateError, match="no submission 'apart'"):
        q.adjudicate(engine=engine, actor=SAM, submission="apart", scores=third, reason="x")
    with pytest.raises(CalibrateError, match="already resolved by rule"):
        q.adjudicate(engine=engine, actor=LEA, submission="agree", scores=third, reason="x")
    done = q.adjudicate(
        engine=engine, actor=LEA, submission="apart", scores=third, reason="plan cites evidence"
    )
    # readings: Amy 1 1 1 1 1, Leo 3 1 1 1 1, Lea 2 3 3 3 3
    if replaces:
        assert done["scores"] == third and done["rule"] == "third reading replaces both"
    else:  # closest pairs: (Lea, Amy) 2 and 1 on the first criterion, (Amy, Leo) 1 and 1 after
        assert done["scores"] == levels(engine, int(round_half_up([1.5])[0]), 1)
        assert done["rule"] == "mean of the two closest readings, halves rounded up"
    assert done["passed"] is False and done["decided_by"] == "lea"
    with pytest.raises(CalibrateError, match="already resolved by lea"):
        q.adjudicate(engine=engine, actor=LEA, submission="apart", scores=third, reason="again")
    result = by_key(q.results(engine=engine, actor=ADA))["apart"]["result"]
    assert result["third_reading"] == third and result["reason"] == "plan cites evidence"
    assert q.adjudications(engine=engine, actor=LEA) == []
    assert_verified(engine)


def test_two_leads_resolving_at_once_get_one_result(north: Engine, rules: SetRules) -> None:
    engine = north
    rules({"live.double_share": 1, "live.validity_rate": 0})
    qualify(engine, AMY, BEN)
    add(engine, "apart")
    score(engine, AMY, next_item(engine, AMY).handle, levels(engine, 1))
    score(engine, BEN, next_item(engine, BEN).handle, levels(engine, 3))
    lia = Actor("lia", "lead", issuer="north", assessor="L-lia")
    start = threading.Barrier(2, timeout=60)
    outcome: dict[str, Any] = {}

    def resolve(lead: Actor) -> None:
        start.wait()
        try:
            outcome[lead.name] = q.adjudicate(
                engine=engine, actor=lead, submission="apart", scores=levels(engine, 2), reason="r"
            )
        except CalibrateError as exc:
            outcome[lead.name] = exc

    threads = [threading.Thread(target=resolve, args=(a,), daemon=True) for a in (LEA, lia)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    won = [n for n, o in outcome.items() if isinstance(o, dict)]
    lost = [o for o in outcome.values() if isinstance(o, CalibrateError)]
    assert len(won) == 1 and len(lost) == 1, outcome
    assert f"already resolved by {won[0]}" in str(lost[0])
    assert table_rows(engine, "submission_result") == 1
    assert_verified(engine)


def test_validity_misses_suspend_at_the_next_live_scoring(north: Engine, rules: SetRules) -> None:
    engine = north
    rules(
        {
            "live.double_share": 0,
            "live.validity_rate": 0.5,
            "live.validity_misses": 2,
            "live.validity_window": 10,
        }
    )
    qualify(engine, AMY)
    add(engine, *(f"s{i:02d}" for i in range(40)))
    misses = 0
    while True:
        item = next_item(engine, AMY)
        if kind(engine, item.handle) == "anchor":
            score(engine, AMY, item.handle, far_from(expert(engine, item.handle)))
            misses += 1
            assert q.suspensions(engine=engine, actor=ADA) == []  # never at the anchor
            continue
        score(engine, AMY, item.handle, levels(engine, 2))
        if misses >= 2:
            break
    (suspended,) = q.suspensions(engine=engine, actor=ADA)
    assert suspended["kind"] == "validity" and suspended["started_by"] == "rule"
    got = q.queue_next(engine=engine, actor=AMY, rubric=RUBRIC)
    assert got.item is None
    assert re.fullmatch(
        rf"suspended from live scoring on {RUBRIC} since \d{{4}}-\d\d-\d\d: ({misses}) of your "
        rf"last {misses} checks against expert scores were more than one level off or reached "
        "another pass decision",
        got.message,
    ), got.message
    assert services.audit_log(engine=engine, actor=OPERATOR, action="qualification.suspend")

    # reinstated: the misses before it no longer count
    q.reinstate(engine=engine, actor=ADA, assessor="A-amy", rubric=RUBRIC, reason="retrained")
    while kind(engine, (item := next_item(engine, AMY)).handle) == "anchor":
        score(engine, AMY, item.handle, expert(engine, item.handle))
    score(engine, AMY, item.handle, levels(engine, 2))
    assert all(not s["active"] for s in q.suspensions(engine=engine, actor=ADA))
    assert_verified(engine)


# --- roles ----------------------------------------------------------------------------------------


def test_each_role_reaches_only_its_own_steps(north: Engine, rules: SetRules) -> None:
    engine = north
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY)
    add(engine, "s1")
    item = next_item(engine, AMY)
    scores = levels(engine, 2)
    for actor in (AMY, BOB):
        for call in (
            lambda a: q.add_submission(
                engine=engine, actor=a, rubric=RUBRIC, key="s9", artifact={"title": "T"}
            ),
            lambda a: q.adjudications(engine=engine, actor=a),
            lambda a: q.adjudicate(
                engine=engine, actor=a, submission="s1", scores=scores, reason="x"
            ),
            lambda a: q.results(engine=engine, actor=a),
            lambda a: q.suspensions(engine=engine, actor=a),
            lambda a: q.suspend(
                engine=engine, actor=a, assessor="A-amy", rubric=RUBRIC, reason="x"
            ),
            lambda a: q.reinstate(
                engine=engine, actor=a, assessor="A-amy", rubric=RUBRIC, reason="x"
            ),
        ):
            with pytest.raises(AccessDenied):
                call(actor)
    for actor in (ADA, BOB, OPERATOR):
        with pytest.raises(AccessDenied):
            q.queue_next(engine=engine, actor=actor)
        with pytest.raises(AccessDenied):
            score(engine, actor, item.handle, scores)
        with pytest.raises(AccessDenied):
            q.queue_release(engine=engine, actor=actor, handle=item.handle, reason="x")
    # another issuer sees nothing of north's queue
    assert q.results(engine=engine, actor=OTTO) == []
    assert q.suspensions(engine=engine, actor=OTTO) == []
    with pytest.raises(CalibrateError, match="not in the store"):
        q.results(engine=engine, actor=OTTO, rubric=RUBRIC)
    with pytest.raises(CalibrateError, match="not in the store"):
        q.suspend(engine=engine, actor=OTTO, assessor="A-amy", rubric=RUBRIC, reason="x")
    assert q.queue_next(engine=engine, actor=SAM).message == "your issuer has no rubric to score"
    # the operator sees every issuer
    assert [r["submission"] for r in q.results(engine=engine, actor=OPERATOR)] == ["s1"]


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_assessors_score_every_reading_once(north: Engine, rules: SetRules) -> None:
    """8 assessors in 8 threads, each with its own connections to one store, loop next/score
    over 40 double-scored submissions until nothing is left for them."""
    engine = north
    rules({"live.double_share": 1})  # seeded anchors at the default rate, on top
    crowd = [Actor(f"a{i}", "assessor", issuer="north", assessor=f"A-{i}") for i in range(8)]
    qualify(engine, *crowd)
    add(engine, *(f"s{i:02d}" for i in range(40)))
    scores = levels(engine, 2)
    failures: list[BaseException] = []

    def work(actor: Actor) -> None:
        try:
            for _ in range(200):  # bounded: 80 readings and 48 anchors in all
                item = q.queue_next(engine=engine, actor=actor).item
                if item is None:
                    return
                score(engine, actor, item.handle, scores)
            raise AssertionError(f"{actor.name} never ran out of work")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(a,), daemon=True) for a in crowd]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a scorer did not finish in time"
    assert not failures, failures
    with reading(engine) as conn:
        live = conn.execute(
            sa.select(sa.func.count()).where(RATING.c.submission_id.is_not(None))
        ).scalar_one()
        readings = conn.execute(
            sa.select(
                ASSIGNMENT.c.submission_id, ASSIGNMENT.c.reading, ASSIGNMENT.c.assessor_id
            ).where(ASSIGNMENT.c.submission_id.is_not(None), ASSIGNMENT.c.released_at.is_(None))
        ).all()
        open_ = conn.execute(
            sa.select(sa.func.count()).where(ASSIGNMENT.c.finished_at.is_(None))
        ).scalar_one()
        decided = conn.execute(sa.select(sa.func.count()).select_from(RESULT)).scalar_one()
    assert live == 40 * 2 * len(rubric(engine).criteria)
    assert len(readings) == 80 and open_ == 0
    assert len({(s, r) for s, r, _ in readings}) == 80  # every reading once
    assert len({(s, a) for s, _, a in readings}) == 80  # no assessor twice on a submission
    assert decided == 40
    assert_verified(engine)


def test_queue_view_gives_back_an_open_item_as_it_was_handed_out(north: Engine) -> None:
    engine = north
    add(engine, "s1")
    qualify(engine, AMY)
    item = next_item(engine, AMY)
    assert q.queue_view(engine=engine, actor=AMY, handle=item.handle) == item
    with pytest.raises(CalibrateError, match="in your queue"):
        q.queue_view(engine=engine, actor=BEN, handle=item.handle)
    score(engine, AMY, item.handle, levels(engine, 2, 2, 2, 2, 2))
    with pytest.raises(CalibrateError, match="scored already"):
        q.queue_view(engine=engine, actor=AMY, handle=item.handle)
