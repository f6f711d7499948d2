"""Practice, qualification rounds and standing through the command line (issue 11, parts 1, 2
and 7): the answer key of an anchor never printed before the assessor has scored it, feedback
after, a failed round and a passing retake, the refusals in one line.

The store holds the shipped rubrics and anchor sets, owned by issuer ``north``, and accounts made
as the operator through the services: assessors ``amy`` (``A-amy``) and ``ben`` (``A-ben``), an
administrator ``ada``. Commands run through the real entry point (the ``calibrate`` fixture) as
the account logged in with ``calibrate login --password-stdin``. The test reads the experts'
scores of a round's anchors from the store itself (as the test, not through a service) to choose
the scores it submits, and drives the anchors whose output it does not check through the services
to keep the number of commands small.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.access import Actor
from calibrate.rubric import Rubric
from calibrate.store.calibration import attempt_anchors, attempt_by_key
from calibrate.store.engine import reading
from calibrate.store.scoring import PoolAnchor, anchors_by_id
from tests.conftest import OPERATOR, ROOT, Result, table_rows

RUBRIC = "crsel-intro@1"
PASSWORD = "correct-horse-battery"
AMY = Actor("amy", "assessor", issuer="north", assessor="A-amy")
BEN = Actor("ben", "assessor", issuer="north", assessor="A-ben")


@dataclass
class Store:
    """The north store, its engine (for the test's own reads), and the CLI on it."""

    url: str
    engine: Engine
    dir: Path
    run: Callable[..., Result]
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return self.run(*args, db=self.url, cwd=self.dir)

    def as_(self, user: str) -> None:
        out = self("login", "--user", user, "--password-stdin", stdin=PASSWORD + "\n")
        assert out.returncode == 0, out.stderr

    def json(self, *args: str) -> Any:
        out = self(*args, "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    @property
    def rubric(self) -> Rubric:
        return store.stored_rubric(RUBRIC, engine=self.engine)


def north_store(
    url: str, tmp_path: Path, run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    monkeypatch.setenv("CALIBRATE_SESSION_FILE", str(tmp_path / "config" / "session.json"))
    monkeypatch.delenv("CALIBRATE_DEMO", raising=False)
    engine = store.open_store(url)
    services.import_definitions(
        ROOT / "rubrics", ROOT / "anchor_sets", engine=engine, actor=OPERATOR, issuer="north"
    )
    for username, role, key in (("amy", "assessor", "A-amy"), ("ben", "assessor", "A-ben"),
                                ("ada", "admin", None)):  # fmt: skip
        services.add_account(
            engine=engine,
            actor=OPERATOR,
            username=username,
            role=role,
            password=PASSWORD,
            issuer="north",
            assessor=key,
        )
    yield Store(url, engine, tmp_path, run, monkeypatch)
    engine.dispose()


@pytest.fixture
def s(
    db_url: str,
    tmp_path: Path,
    calibrate: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Store]:
    """The north store on each backend."""
    yield from north_store(db_url, tmp_path, calibrate, monkeypatch)


@pytest.fixture
def lite(
    tmp_path: Path, calibrate: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """The north store on SQLite."""
    yield from north_store(f"sqlite:///{tmp_path / 'store.db'}", tmp_path, calibrate, monkeypatch)


def refused(out: Result, *words: str) -> None:
    """Refused in one line, exit status 1, no traceback."""
    assert out.returncode == 1, out.stdout
    lines = out.stderr.splitlines()
    assert lines and lines[0].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr and not out.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])


def words(text: str) -> str:
    return " ".join(text.split())


def anchors_of_rubric(engine: Engine) -> list[Any]:
    return [
        a for aset in store.stored_anchor_sets(engine=engine, rubric=RUBRIC) for a in aset.anchors
    ]


def assert_no_answer(printed: str, payload: Any, engine: Engine) -> None:
    """Neither the text ``printed`` nor the JSON ``payload`` holds anything of the answer key:
    no rationale (whitespace aside), no anchor id, no expert field."""
    strings: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                assert not any(w in str(key) for w in ("expert", "rationale", "purpose")), key
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            strings.append(words(node))

    walk(payload)
    flat = words(printed)
    for anchor in anchors_of_rubric(engine):
        assert anchor.id not in flat and not any(anchor.id in t for t in strings), anchor.id
        for text in anchor.rationale.values():
            head = words(text)[:50]
            assert head not in flat and not any(head in t for t in strings), head


def round_anchors(engine: Engine, attempt: str) -> list[PoolAnchor]:
    """A round's anchors in order with the experts' scores, read as the test."""
    with reading(engine) as conn:
        found = attempt_by_key(conn, attempt)
        assert found is not None
        return anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])


def practise(s: Store, actor: Actor = AMY) -> str:
    item = services.practice_next(engine=s.engine, actor=actor, rubric=RUBRIC)
    services.practice_score(
        engine=s.engine,
        actor=actor,
        attempt=item.attempt,
        scores={c: 2 for c in s.rubric.criterion_ids},
    )
    return item.attempt


def labelled(scores: dict[str, int], r: Rubric) -> list[str]:
    """CRITERION=LEVEL arguments, the levels as labels spelt ``not met``, ``NOT MET``,
    ``Not-met`` in turn."""
    out = []
    for i, c in enumerate(r.criterion_ids):
        label = r.label(scores[c])
        out.append(f"{c}={(label.lower(), label.upper(), label.replace(' ', '-'))[i % 3]}")
    return out


# --- practice ------------------------------------------------------------------------------------


def test_practice_shows_the_answer_only_after_scoring(s: Store) -> None:
    r = s.rubric
    s.as_("amy")
    out = s("practice", "next", "--rubric", "crsel-intro")
    assert out.returncode == 0, out.stderr
    item = s.json("practice", "next", "--rubric", "crsel-intro")  # the open one again
    attempt = item["attempt"]
    assert attempt.startswith("P-") and f"calibrate practice score {attempt} --rubric" in out.stdout
    assert_no_answer(out.stdout, item, s.engine)
    # the rubric to score by: every criterion's levels with their descriptors
    assert [c["id"] for c in item["criteria"]] == list(r.criterion_ids)
    assert item["criteria"][0]["levels"][2] == {
        "score": 3,
        "label": "Demonstrated",
        "descriptor": r.criteria[0].descriptors[3],
    }
    assert words(r.criteria[-1].descriptors[1]) in words(out.stdout)
    refused(s("practice", "feedback", attempt), "not scored yet")

    anchor = next(
        a for a in anchors_of_rubric(s.engine) if a.artifact.title == item["artifact"]["title"]
    )
    given = {c: 1 + i % 3 for i, c in enumerate(r.criterion_ids)}
    out = s("practice", "score", attempt, *labelled(given, r))
    assert out.returncode == 0, out.stderr
    printed = words(out.stdout)
    for c in r.criteria:
        assert words(anchor.rationale[c.id]) in printed
        assert words(c.descriptors[given[c.id]]) in printed
        assert words(c.descriptors[anchor.scores[c.id]]) in printed
    feedback = s.json("practice", "feedback", attempt)
    rows = {row["criterion"]: row for row in feedback["criteria"]}
    for key in r.criterion_ids:
        row = rows[key]
        assert row["score"] == given[key] and row["expert"] == anchor.scores[key]
        assert row["gap"] == given[key] - anchor.scores[key]
        assert row["rationale"] == anchor.rationale[key]
    assert feedback["expert_decision"] == bool(
        r.passes([[anchor.scores[c] for c in r.criterion_ids]])[0]
    )


# --- qualification rounds ------------------------------------------------------------------------


def test_a_failed_round_then_a_passing_retake(lite: Store) -> None:
    s, r = lite, lite.rubric
    practise(s)
    s.as_("amy")
    view = s.json("round", "start", "--rubric", "crsel-intro")
    first = view["attempt"]
    assert view["scored"] == 0 and view["of"] == 10 and view["result"] is None
    assert_no_answer("", view, s.engine)
    anchors = round_anchors(s.engine, first)
    # anchor 1 through the CLI with the experts' levels as labels; 2-9 scored 1 everywhere
    out = s("round", "score", first, "1", *labelled(dict(anchors[0].expert), r))
    assert out.returncode == 0, out.stderr
    assert f"anchor 1 of round {first} scored: 1 of 10 done" in out.stdout
    given = [dict(anchors[0].expert)] + [{c: 1 for c in r.criterion_ids}] * 8
    for i in range(2, 10):
        services.round_score(
            engine=s.engine, actor=AMY, attempt=first, position=i, scores=given[i - 1]
        )
    out = s("round", "show", first)
    assert out.returncode == 0, out.stderr
    assert "9 of 10 anchors scored" in out.stdout and "next: anchor 10 of 10" in out.stdout
    assert f"calibrate round score {first} 10 " in out.stdout
    assert_no_answer(out.stdout, {}, s.engine)  # nothing until the round is finished
    last = dict(anchors[9].expert)
    given.append(last)
    out = s(
        "round", "score", first, "10", "--scores", ",".join(str(last[c]) for c in r.criterion_ids)
    )
    assert out.returncode == 0, out.stderr
    assert "NOT PASSED" in out.stdout and "NOT MET" in out.stdout and "missed" in out.stdout

    result = s.json("round", "result", first)
    assert result["passed"] is False and result["assessor"] == "A-amy"
    figures = {f["name"]: f for f in result["figures"]}
    score = [[g[c] for c in r.criterion_ids] for g in given]
    expert = [[a.expert[c] for c in r.criterion_ids] for a in anchors]
    cells = [
        (x, y) for gs, es in zip(score, expert, strict=True) for x, y in zip(gs, es, strict=True)
    ]
    assert figures["exact"]["value"] == pytest.approx(sum(x == y for x, y in cells) / 50)
    assert figures["exact"]["threshold"] == 0.8  # NAEP, 3 levels: docs/rules.md
    assert figures["non_adjacent"]["value"] == sum(abs(x - y) > 1 for x, y in cells) > 0
    assert figures["non_adjacent"]["met"] is False
    assert len(result["anchors"]) == 10
    gaps = [row["gap"] for a in result["anchors"] for row in a["criteria"]]
    assert gaps == [x - y for x, y in cells]

    # the retake: practise again, a fresh round, the experts' scores
    practise(s)
    second = s.json("round", "start", "--rubric", "crsel-intro")["attempt"]
    assert second != first
    retake = round_anchors(s.engine, second)
    assert not {a.id for a in retake} & {a.id for a in anchors}  # unseen anchors first
    for i, a in enumerate(retake[:-1], start=1):
        services.round_score(
            engine=s.engine, actor=AMY, attempt=second, position=i, scores=a.expert
        )
    out = s("round", "score", second, "10", *(f"{c}={v}" for c, v in retake[-1].expert.items()))
    assert out.returncode == 0, out.stderr
    assert f"qualification round {second} of A-amy on {RUBRIC}: PASSED" in out.stdout
    assert "NOT MET" not in out.stdout
    out = s("qualification", "--rubric", "crsel-intro")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split()[:3] == ["A-amy", RUBRIC, "qualified"]

    s.as_("ada")
    standing = s.json("qualification", "--all", "--rubric", "crsel-intro")["qualifications"]
    assert {(q["assessor"], q["status"]) for q in standing} == {
        ("A-amy", "qualified"),
        ("A-ben", "not qualified"),
    }
    out = s("round", "result", first)  # an administrator reads the issuer's rounds
    assert out.returncode == 0 and "NOT PASSED" in out.stdout


# --- refusals ------------------------------------------------------------------------------------


def test_refusals_are_one_line_and_write_nothing(lite: Store) -> None:
    s = lite
    theirs = services.practice_next(engine=s.engine, actor=AMY, rubric=RUBRIC).attempt
    mine = services.practice_next(engine=s.engine, actor=BEN, rubric=RUBRIC).attempt
    before = table_rows(s.engine, "rating"), table_rows(s.engine, "audit_event")
    refused(
        s("practice", "next", "--rubric", "crsel-intro"),
        "(operator) may not practise",
        "the operator has no assessor key",
    )
    s.as_("ada")
    refused(s("practice", "next", "--rubric", "crsel-intro"), "ada (admin) may not practise")
    s.as_("ben")
    twos = [f"{c}=2" for c in s.rubric.criterion_ids]
    refused(s("practice", "score", theirs, *twos), f"no practice {theirs!r} of yours")
    for args, message in (
        (["reflection", *twos[:-1]], "'reflection' is not CRITERION=LEVEL"),
        ([*twos[:-1], "reflection=Great"], "'reflection=Great': 'Great' is not a level of"),
        (["nonsense=3", *twos], "unknown criterion 'nonsense' in 'nonsense=3'"),
        (["--scores", "2,2"], "--scores '2,2' gives 2 levels"),
    ):
        refused(s("practice", "score", mine, *args), message)
    assert (table_rows(s.engine, "rating"), table_rows(s.engine, "audit_event")) == before


def test_the_readme_documents_every_command() -> None:
    import typer

    from calibrate.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    groups: Any = typer.main.get_command(app)
    for group in ("practice", "round"):
        names = sorted(groups.commands[group].commands)
        assert names, group
        for name in names:
            assert f"`calibrate {group} {name}" in readme, (group, name)
            assert f"`{group} {name}`" in readme, f"JSON of {group} {name}"
    assert "`calibrate qualification" in readme and '{"qualifications": [' in readme
