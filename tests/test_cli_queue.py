"""The live scoring queue, adjudication, submissions, results and suspensions through the
command line (issue 11, parts 3-5 and 7): an administrator enters submissions, a qualified
assessor takes, scores and takes the next, a lead sees both readings of a discrepant pair side
by side and resolves it with a reason, an administrator suspends and reinstates with reasons
the assessor reads; a validity anchor's ``queue next`` has the shape of any submission's and
nothing of its answer key; refusals in one line, nothing written.

The store is tests/test_cli_calibration.py's (the shipped rubrics and anchor sets owned by
issuer ``north``; assessors ``amy`` and ``ben``, administrator ``ada``) with a lead ``lea``
(``L-lea``). Assessors qualify through the services (practice, then a round scored with the
experts' scores, read from the store by the test); the programme rules come from a rules file
(``CALIBRATE_RULES_FILE``, read on every call). Work whose output is not checked is done
through the services, to keep the number of commands small.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from calibrate import services
from calibrate.access import Actor
from calibrate.services import queue as q
from calibrate.store.calibration import SUSPENSION
from calibrate.store.engine import reading
from calibrate.store.queue import ASSIGNMENT, RESULT, SUBMISSION, assignment_by_handle
from calibrate.store.scoring import RATING
from tests.conftest import OPERATOR, Result, SetRules, table_rows
from tests.test_cli_calibration import (
    AMY,
    BEN,
    PASSWORD,
    RUBRIC,
    Store,
    assert_no_answer,
    labelled,
    north_store,
    practise,
    round_anchors,
    words,
)

ADA = Actor("ada", "admin", issuer="north")
HANDLE = re.compile(r"S-[0-9a-f]{10}")
ITEM_KEYS = {"handle", "rubric", "artifact", "assigned_at", "due_at"}
NEXT_KEYS = {"item", "message", "reasons", "rubric_title", "levels", "criteria"}
WRITTEN = (
    SUBMISSION.name,
    ASSIGNMENT.name,
    RATING.name,
    RESULT.name,
    SUSPENSION.name,
    "audit_event",
)


def queue_store(
    url: str, tmp_path: Path, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    for s in north_store(url, tmp_path, run, monkeypatch):
        services.add_account(
            engine=s.engine,
            actor=OPERATOR,
            username="lea",
            role="lead",
            password=PASSWORD,
            issuer="north",
            assessor="L-lea",
        )
        yield s


@pytest.fixture
def lite(
    tmp_path: Path, calibrate: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """The north store on SQLite, with a lead."""
    yield from queue_store(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, calibrate, monkeypatch)


def qualify(s: Store, *actors: Actor) -> None:
    """A practice anchor, then a round scored with the experts' scores: qualified."""
    for actor in actors:
        practise(s, actor)
        attempt = services.round_start(engine=s.engine, actor=actor, rubric=RUBRIC).attempt
        for i, anchor in enumerate(round_anchors(s.engine, attempt), start=1):
            view = services.round_score(
                engine=s.engine, actor=actor, attempt=attempt, position=i, scores=anchor.expert
            )
        assert view.result is not None and view.result.passed


def add(s: Store, *keys: str) -> None:
    """Enter submissions through the service, every artifact field given (as an anchor's)."""
    for key in keys:
        artifact = {"title": f"Plan {key}", "description": "Grade 4 plan.", "excerpt": "Plan: ..."}
        q.add_submission(engine=s.engine, actor=ADA, rubric=RUBRIC, key=key, artifact=artifact)


def held(s: Store, actor: Actor) -> str:
    got = q.queue_next(engine=s.engine, actor=actor)
    assert got.item is not None, got.message
    return got.item.handle


def score(s: Store, actor: Actor, handle: str, scores: dict[str, int]) -> None:
    q.queue_score(engine=s.engine, actor=actor, handle=handle, scores=scores)


def kind(s: Store, handle: str) -> str:
    """ "anchor" or "submission", read as the test from the store."""
    with reading(s.engine) as conn:
        found = assignment_by_handle(conn, handle)
    assert found is not None
    return "anchor" if found.anchor_id is not None else "submission"


def counts(s: Store) -> tuple[int, ...]:
    return tuple(table_rows(s.engine, t) for t in WRITTEN)


def refused(out: Result, *parts: str, wrote: bool = True) -> None:
    """Refused in one line (and, for a command that writes, "nothing was written"), exit status
    1, no traceback, nothing on stdout."""
    assert out.returncode == 1, out.stdout
    lines = out.stderr.splitlines()
    assert lines[1:] == (["nothing was written"] if wrote else []), out.stderr
    assert lines[0].startswith("error: ") and not out.stdout, out.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])


def shape(node: Any) -> Any:
    """The keys and value types of a JSON payload, its values aside."""
    if isinstance(node, dict):
        return {k: shape(v) for k, v in node.items()}
    if isinstance(node, list):
        return [shape(v) for v in node[:1]]
    return type(node).__name__


# --- the loop: submissions, the queue, adjudication, results, suspensions ------------------------


def test_submissions_scored_adjudicated_and_suspensions(lite: Store, rules: SetRules) -> None:
    s, r = lite, lite.rubric
    ids = r.criterion_ids
    rules({"live.double_share": 1, "live.validity_rate": 0})
    qualify(s, AMY, BEN)
    (s.dir / "plan.txt").write_text("Five lessons on self-management,\nwith exit tickets.\n")
    (s.dir / "excerpt.txt").write_text("Day 3: students chart what they do when stuck.\n")

    s.as_("ada")
    added = s.json(
        "submissions", "add", "--rubric", "crsel-intro", "--key", "s1", "--title",
        "Lesson plan s1", "--description-file", "plan.txt", "--excerpt-file", "excerpt.txt",
        "--earner", "e-1",
    )  # fmt: skip
    assert added == {"key": "s1", "rubric": RUBRIC, "attempt": 1, "readings": 2}
    out = s(
        "submissions", "add", "--rubric", RUBRIC, "--key", "s2", "--title", "Lesson plan s2",
        "--description", "A unit plan",
    )  # fmt: skip
    assert out.stdout == f"submission s2 entered on {RUBRIC}: attempt 1, two readings\n"
    bens = held(s, BEN)  # s1, reading 1

    s.as_("amy")
    out = s("queue", "next")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()
    assert re.fullmatch(rf"next: S-[0-9a-f]{{10}} on {RUBRIC}, handed to you .* UTC", first[0])
    assert first[1].startswith("score it by ")
    payload = s.json("queue", "next")  # the item she holds, again
    assert set(payload) == NEXT_KEYS and set(payload["item"]) == ITEM_KEYS
    handle = payload["item"]["handle"]
    assert HANDLE.fullmatch(handle) and handle in first[0] and handle != bens
    assert payload["item"]["artifact"] == {
        "title": "Lesson plan s1",
        "description": "Five lessons on self-management,\nwith exit tickets.",
        "excerpt": "Day 3: students chart what they do when stuck.",
    }
    assert [c["id"] for c in payload["criteria"]] == list(ids)
    printed = words(out.stdout)
    assert "artifact: Lesson plan s1" in printed and "Day 3: students chart" in printed
    for c in r.criteria:
        assert all(words(text) in printed for text in c.descriptors.values())
    assert f"calibrate queue score {handle} --rubric {RUBRIC} {ids[0]}=LEVEL" in printed
    assert f"calibrate queue release {handle} --reason TEXT" in printed

    before = counts(s)
    twos = [f"{c}=2" for c in ids]
    refused(s("queue", "score", handle, ids[0], *twos[1:]), f"'{ids[0]}' is not CRITERION=LEVEL")
    refused(s("queue", "score", bens, *twos), f"no submission '{bens}' in your queue")
    refused(s("queue", "score", "S-0000000000", *twos), "no submission 'S-0000000000' in your")
    refused(s("queue", "release", handle, "--reason", " "), "reason for giving it back is empty")
    refused(
        s("adjudicate", "list"),
        "amy (assessor) may not resolve discrepant",
        "only lead",
        wrote=False,
    )
    assert counts(s) == before

    amys = {c: 1 for c in ids}
    out = s("queue", "score", handle, *labelled(amys, r), "--comment", "No evidence of benchmark")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(
        rf"{handle} scored: 5 criteria recorded \S+ \S+ UTC; the next one: calibrate queue next\n",
        out.stdout,
    )
    second = s.json("queue", "next")["item"]
    assert second["artifact"] == {"title": "Lesson plan s2", "description": "A unit plan",
                                  "excerpt": None}  # fmt: skip
    score(s, AMY, second["handle"], {c: 2 for c in ids})
    bens_scores = {c: 3 if c == ids[0] else 2 for c in ids}  # two levels from Amy's on the first
    score(s, BEN, bens, bens_scores)
    score(s, BEN, held(s, BEN), {c: 2 for c in ids})  # s2: the pair agrees

    s.as_("lea")
    out = s("adjudicate", "list")
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()[:2]
    assert header.split()[:3] == ["submission", "rubric", "received"]
    differ = bool(r.passes([[bens_scores[c] for c in ids]])[0]) != bool(
        r.passes([[1] * len(ids)])[0]
    )
    assert row.split()[:2] == ["s1", RUBRIC] and row.split()[-2:] == [
        ids[0],
        "differ" if differ else "agree",
    ]
    out = s("adjudicate", "show", "s1")
    assert out.returncode == 0, out.stderr
    shown = out.stdout.splitlines()
    assert shown[0].startswith(f"adjudication of submission s1 on {RUBRIC}, received ")
    table = shown[2].split()
    assert table == ["criterion", "reading", "1", "(A-ben)", "reading", "2", "(A-amy)", "apart"]
    assert shown[3].split()[:6] == [ids[0], "3", "Demonstrated", "1", "Not", "met"]
    assert shown[3].endswith("2 levels: more than allowed")
    printed = words(out.stdout)
    assert "No evidence of benchmark" in printed and "Five lessons on self-management" in printed
    c0 = r.criteria[0]
    for level, mark in ((3, "[1  ]"), (2, "[   ]"), (1, "[  2]")):
        assert f"{words(mark)} {level} {r.label(level)}: {words(c0.descriptors[level])}" in printed
    assert f"calibrate adjudicate resolve s1 --rubric {RUBRIC} {ids[0]}=LEVEL" in printed

    before = counts(s)
    refused(
        s("adjudicate", "resolve", "s1", *twos, "--reason", "  "),
        "the reason of an adjudication is empty",
    )
    assert counts(s) == before
    done = s.json("adjudicate", "resolve", "s1", *twos, "--reason", "benchmark met on day 3")
    assert set(done) == {"submission", "scores", "passed", "rule", "decided_by", "decided_at"}
    assert done["submission"] == "s1" and done["decided_by"] == "lea"
    assert done["rule"] == "third reading replaces both" and done["scores"] == {c: 2 for c in ids}

    s.as_("ada")
    found = {row["submission"]: row for row in s.json("results")["results"]}
    assert {k: row["status"] for k, row in found.items()} == {"s1": "decided", "s2": "decided"}
    assert found["s1"]["earner"] == "e-1" and found["s1"]["scored"] == found["s1"]["readings"] == 2
    assert found["s1"]["result"]["reason"] == "benchmark met on day 3"
    assert found["s2"]["result"]["decided_by"] == "rule"

    # suspension: the reason reaches the assessor's queue; reinstatement with a reason
    add(s, "s3")
    before = counts(s)
    refused(
        s("suspend", "A-amy", "--rubric", "crsel-intro", "--reason", ""),
        "the reason of a suspension is empty",
    )
    assert counts(s) == before
    why = "scored from the titles in a spot check"
    out = s("suspend", "A-amy", "--rubric", "crsel-intro", "--reason", why)
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(rf"A-amy suspended from live scoring on {RUBRIC} \S+ \S+ UTC: {why}\n",
                        out.stdout)  # fmt: skip
    (listed,) = s.json("suspensions")["suspensions"]
    assert listed["active"] and listed["kind"] == "manual" and listed["reason"] == why
    s.as_("amy")
    out = s("queue", "next", "--rubric", "crsel-intro")
    assert out.returncode == 0, out.stderr
    assert re.fullmatch(
        rf"suspended from live scoring on {RUBRIC} since \d{{4}}-\d\d-\d\d: {why}\n", out.stdout
    )
    s.as_("ada")
    lifted = s.json("reinstate", "A-amy", "--rubric", "crsel-intro", "--reason", "retrained")
    assert lifted["lift_reason"] == "retrained" and lifted["lifted_by"] == "ada"
    assert held(s, AMY)  # back to live work


# --- validity anchors look like any submission ---------------------------------------------------


def test_a_validity_anchor_looks_like_any_submission(lite: Store, rules: SetRules) -> None:
    """With anchors seeded at half the items, the JSON and text of ``queue next`` have the
    same shape for both kinds and nothing of an anchor's answer key (the chance of 16 items of
    one kind is 2**-15)."""
    s = lite
    rules({"live.double_share": 0, "live.validity_rate": 0.5})
    qualify(s, AMY)
    add(s, *(f"s{i:02d}" for i in range(16)))
    s.as_("amy")
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(16):
        payload = s.json("queue", "next")
        handle = payload["item"]["handle"]
        if kind(s, handle) == "anchor" and "anchor" not in seen:
            out = s("queue", "next")  # the anchor she holds, as text
        seen.setdefault(kind(s, handle), payload)
        if len(seen) == 2:
            break
        score(s, AMY, handle, {c: 2 for c in s.rubric.criterion_ids})
    assert set(seen) == {"anchor", "submission"}
    anchor, live = seen["anchor"], seen["submission"]
    assert shape(anchor) == shape(live)
    assert anchor["message"].startswith("score it by ")
    assert out.returncode == 0, out.stderr
    assert re.match(rf"next: {anchor['item']['handle']} on {RUBRIC}, handed to you ", out.stdout)
    assert_no_answer(out.stdout, anchor, s.engine)
    item = json.dumps(anchor["item"]).lower()  # the rubric's own text says "rationale"
    for word in ("validity", "anchor", "expert", "rationale", "purpose", "crsel-v"):
        assert word not in item, word
    for word in ("validity", "anchor", "expert", "crsel-v"):
        assert word not in out.stdout.lower(), word


# --- both backends -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_queue_on_postgresql(
    db_url: str,
    tmp_path: Path,
    calibrate: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    rules: SetRules,
) -> None:
    """A smoke test on PostgreSQL (SQLite: the tests above)."""
    for s in queue_store(db_url, tmp_path, calibrate, monkeypatch):
        rules({"live.double_share": 0, "live.validity_rate": 0})
        qualify(s, AMY)
        s.as_("ada")
        added = s.json("submissions", "add", "--rubric", RUBRIC, "--key", "p1", "--title", "P 1")
        assert added["readings"] == 1
        s.as_("amy")
        item = s.json("queue", "next")["item"]
        assert item["artifact"]["title"] == "P 1"
        receipt = s.json(
            "queue", "score", item["handle"], "--rubric", RUBRIC, "--scores", "3,3,3,3,3"
        )
        assert receipt["handle"] == item["handle"] and receipt["recorded"] == 5
        assert s.json("queue", "next")["item"] is None
        s.as_("ada")
        (row,) = s.json("results", "--rubric", "crsel-intro")["results"]
        assert row["status"] == "decided" and row["result"]["scores"] == dict.fromkeys(
            s.rubric.criterion_ids, 3
        )


def test_the_readme_documents_every_command() -> None:
    import typer

    from calibrate.cli import app

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    groups: Any = typer.main.get_command(app)
    for group in ("queue", "adjudicate", "submissions"):
        names = sorted(groups.commands[group].commands)
        assert names, group
        for name in names:
            assert f"`calibrate {group} {name}" in readme, (group, name)
            assert f"`{group} {name}`" in readme, f"JSON of {group} {name}"
    for name in ("results", "suspensions", "suspend", "reinstate"):
        assert f"`calibrate {name}" in readme and f"`{name}`" in readme, name


def test_submissions_add_refuses_bad_files_and_writes_nothing(lite: Store) -> None:
    s = lite
    (s.dir / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    before = counts(s)
    for args, message in (
        (["--description-file", "missing.txt"], "--description-file missing.txt: no such file"),
        (["--excerpt-file", "latin1.txt"], "--excerpt-file latin1.txt: not UTF-8 text"),
        (["--description", "x", "--description-file", "latin1.txt"], "not both"),
        (["--title", "two\nlines"], "title must be one line"),
    ):
        out = s("submissions", "add", "--rubric", RUBRIC, "--key", "k1", "--title", "T", *args)
        refused(out, message)
    assert counts(s) == before
