"""The My queue, My history, Adjudication and Assessors pages with Streamlit's AppTest (issue
11, parts 3-6), on a SQLite store holding the shipped rubrics and anchor sets of issuer
``north`` and the accounts amy and ben (assessors), lea (lead assessor) and ada
(administrator): a queue item scored through the page with a comment, then the next one; an
item given back only with a reason; the reason in words when there is no item (not qualified,
suspended); seeded validity anchors that leave nothing on the page or in the session state
that a live submission would not (no anchor key, rationale, "validity" or "expert", the same
page once the item's own text is set aside); a discrepant pair resolved by the lead only with a
reason, its stored text shown as text; an administrator suspending and reinstating an assessor
and filtering results; an assessor's history after a round in words with intervals."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import streamlit as st
from google.protobuf import text_format
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from calibrate import services, store
from calibrate.dashboard import adjudication, my_queue, scoring
from calibrate.dashboard.my_history import INTERVAL
from calibrate.dashboard.session import TOKEN
from calibrate.dashboard.text import WORD_JOINER, escape
from calibrate.services import queue as q
from calibrate.store.engine import reading
from calibrate.store.queue import ASSIGNMENT
from tests.conftest import OPERATOR, ROOT, SetRules
from tests.test_dashboard_access import HTML_IMAGE, IMAGE, LINK, SCRIPT
from tests.test_dashboard_calibration import (
    _words,
    anchors_of,
    choose,
    confirm,
    held,
    practise,
    rendered,
    review,
)
from tests.test_dashboard_pages import PAGE, session_token
from tests.test_queue import (
    ADA,
    AMY,
    BEN,
    LEA,
    RUBRIC,
    add,
    kind,
    levels,
    qualify,
    rubric,
)

PASSWORD = "a password long enough"
ACCOUNTS = {"amy": AMY, "ben": BEN, "lea": LEA, "ada": ADA}
HANDLE = re.compile(r"S\\*-[0-9a-f]{10}")  # escaped for Markdown or not
TIME = re.compile(r"\d{4}\\*-\d\d\\*-\d\d \d\d\\*:\d\d")


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A SQLite store with the shipped rubrics and anchor sets of issuer ``north`` and the
    accounts of :data:`ACCOUNTS` (the actors of :mod:`tests.test_queue`)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = store.open_store(url)
    services.import_definitions(
        ROOT / "rubrics", ROOT / "anchor_sets", engine=engine, actor=OPERATOR, issuer="north"
    )
    for name, actor in ACCOUNTS.items():
        services.add_account(
            engine=engine,
            actor=OPERATOR,
            username=name,
            role=actor.role,
            password=PASSWORD,
            issuer="north",
            assessor=actor.assessor,
        )
    engine.dispose()
    yield url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = store.open_store(url)
    yield eng
    eng.dispose()


class Dashboard:
    """``app.py`` on the store at ``url``, logged in as ``user``, opened on page ``path``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, url: str, path: str, user: str) -> None:
        monkeypatch.setenv("CALIBRATE_DATABASE_URL", url)
        monkeypatch.setenv("CALIBRATE_DEMO", "0")

        def page(*args: Any, **kwargs: Any) -> Any:
            return PAGE(*args, **{**kwargs, "default": kwargs.get("url_path") == path})

        monkeypatch.setattr(st, "Page", page)
        self.at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        self.at.session_state[TOKEN] = session_token(url, user, PASSWORD)
        self.run()

    def run(self) -> AppTest:
        self.at.run()
        assert not self.at.exception, self.at.exception
        return self.at


def texts(at: AppTest) -> str:
    """The values of the run's text elements, backslash escapes removed."""
    kinds = ("title", "subheader", "caption", "markdown", "text", "info", "success", "warning",
             "error")  # fmt: skip
    said = "\n".join(str(e.value) for k in kinds for e in at.get(k))
    return said.replace("\\", "").replace(WORD_JOINER, "")


def click(at: AppTest, key: str) -> None:
    at.button(key=key).click().run()
    assert not at.exception, at.exception


def press(at: AppTest, label: str) -> None:
    """Click the one button labelled ``label`` (a form's submit button has no key)."""
    (button,) = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception, at.exception


def frame(at: AppTest, column: str) -> Any:
    """The data frame of the run with a column named ``column``."""
    (found,) = [d.value for d in at.dataframe if column in d.value.columns]
    return found


def suspensions(at: AppTest) -> list[dict[str, str]]:
    """The rows of the suspensions table (escapes removed)."""
    (found,) = [t.value for t in at.table if escape("suspended by") in t.value.columns]
    return [
        {k.replace("\\", ""): str(v).replace("\\", "") for k, v in row.items()}
        for row in found.to_dict("records")
    ]


def current(engine: Engine, actor: Any = AMY) -> q.QueueItem:
    """The item the page shows: the one the assessor holds (the service gives it back)."""
    got = q.queue_next(engine=engine, actor=actor)
    assert got.item is not None, got.message
    return got.item


# --- My queue -----------------------------------------------------------------------------------


def test_score_an_item_with_a_comment_then_the_next(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, rules: SetRules
) -> None:
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY)
    add(engine, "s1", "s2")
    at = Dashboard(monkeypatch, url, "my-queue", "amy").at
    assert at.title[0].value == "My queue"
    item = current(engine)
    shown = my_queue.as_item(item)
    assert item.artifact["title"] == "Lesson plan s1"
    assert escape("Lesson plan s1") in [s.value for s in at.subheader]
    assert item.handle in texts(at) and "Score it by" in texts(at)
    r = rubric(engine)
    for c in r.criterion_ids:  # the shared widget: a radio per criterion, nothing chosen
        assert at.radio(key=scoring.widget_key(shown, c)).value is None

    comment = "The plan names the benchmark; the evidence is thin."
    at.text_area(key=my_queue.comment_key(shown)).input(comment).run()
    given = levels(engine, 3, 2)
    choose(at, shown, given)
    review(at, shown)
    (listed,) = at.table  # the confirmation: the levels, and the comment as it will be kept
    assert list(listed.value[escape("your level")])[:2] == [
        escape("3 · Demonstrated"),
        escape("2 · Progressing"),
    ]
    assert any(f"Your comment: {escape(comment)}" in m.value for m in at.markdown)
    assert q.queue_next(engine=engine, actor=AMY).item == item  # nothing sent yet
    confirm(at, shown)

    assert f"Scores of submission {item.handle} recorded (5 criteria)." in texts(at)
    following = current(engine)
    assert following.handle != item.handle and following.artifact["title"] == "Lesson plan s2"
    assert escape("Lesson plan s2") in [s.value for s in at.subheader]
    after = my_queue.as_item(following)
    assert at.radio(key=scoring.widget_key(after, r.criterion_ids[0])).value is None
    assert at.text_area(key=my_queue.comment_key(after)).value in ("", None)
    for key in [*(scoring.widget_key(shown, c) for c in r.criterion_ids),
                my_queue.comment_key(shown)]:  # fmt: skip
        assert key not in at.session_state  # the submitted item's input is gone
    (decided,) = [x for x in q.results(engine=engine, actor=ADA) if x["submission"] == "s1"]
    assert decided["status"] == "decided" and decided["result"]["scores"] == given
    with reading(engine) as conn:
        kept = conn.execute(
            sa.select(ASSIGNMENT.c.comment).where(ASSIGNMENT.c.handle == item.handle)
        ).scalar_one()
    assert kept == comment


def test_give_back_needs_a_reason(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, rules: SetRules
) -> None:
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY, BEN)
    add(engine, "s1")
    at = Dashboard(monkeypatch, url, "my-queue", "amy").at
    item = current(engine)
    shown = my_queue.as_item(item)
    release = f"{scoring.prefix(shown)}-release"
    click(at, release)  # no reason
    (refusal,) = at.error
    assert "the reason for giving it back is empty: say why" in refusal.value.replace("\\", "")
    assert current(engine) == item  # still hers

    at.text_input(key=my_queue.reason_key(shown)).input("I know the earner").run()
    click(at, release)
    assert f"Submission {item.handle} given back. Your reason: I know the earner" in texts(at)
    assert "Nothing waiting for you on" in texts(at)  # it never comes back to her
    assert not at.radio
    assert current(engine, BEN).artifact == item.artifact


def test_no_item_says_why_in_words(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, rules: SetRules
) -> None:
    rules({"live.double_share": 0, "live.validity_rate": 0})
    add(engine, "s1")
    app = Dashboard(monkeypatch, url, "my-queue", "amy")
    at = app.at
    assert len(at.info) == 1
    said = texts(at)
    assert f"No passed qualification round yet on {RUBRIC}, ct-unplugged@1 and " in said
    assert "open Qualification round in the menu" in said.replace("*", "")
    assert not at.radio

    qualify(engine, AMY)
    reason = "scores given from the title alone in a spot check"
    q.suspend(engine=engine, actor=ADA, assessor="A-amy", rubric=RUBRIC, reason=reason)
    at = app.run()
    assert len(at.warning) == 1
    said = texts(at)
    assert re.search(
        rf"You are suspended from live scoring on {RUBRIC} since \d{{4}}-\d\d-\d\d: {reason}\.",
        said,
    )
    assert "administrator lifts a suspension" in said
    # the other rubrics: not qualified there, in one line
    assert "No passed qualification round yet on ct-unplugged@1 and inquiry-lead@1." in said
    assert not at.radio


def page_text(at: AppTest) -> str:
    """The run's elements serialised as :func:`rendered` does, but without the item's own
    text (the artifact's container) and element ids, handles and times replaced: what would
    differ between two items were the page to treat them differently."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            text = text_format.MessageToString(proto, as_utf8=True)
            if scoring.STICKY in text:  # the artifact: the item's own content
                return
            parts.append("\n".join(x for x in text.splitlines() if not x.strip().startswith("id:")))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    for frame in (*at.table, *at.dataframe):
        parts.append(json.dumps(frame.value.astype(str).values.tolist(), ensure_ascii=False))
    return _words(TIME.sub("TIME", HANDLE.sub("HANDLE", "\n".join(parts))))


def state_keys(at: AppTest) -> list[str]:
    return sorted(HANDLE.sub("HANDLE", str(k)) for k in at.session_state)


def test_validity_anchors_leave_no_trace_on_the_page_or_in_the_session(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, rules: SetRules
) -> None:
    """Half of the items are anchors (rule live.validity_rate 0.5, misses never suspend):
    every run, for every item, before and during the confirmation and after submitting, holds
    no anchor key, rationale, "validity" or "expert"; and once the item's own text, handle and
    times are set aside, the page and the session state's keys are the same for both kinds."""
    rules({"live.double_share": 0, "live.validity_rate": 0.5, "live.validity_misses": 0})
    qualify(engine, AMY)
    add(engine, *(f"s{i:02d}" for i in range(30)))
    sets = store.stored_anchor_sets(engine=engine)
    anchors = [a for s in sets for a in s.anchors]
    secrets = [_words(a.id) for a in anchors] + [
        _words(text)[:60] for a in anchors for text in a.rationale.values()
    ]
    app = Dashboard(monkeypatch, url, "my-queue", "amy")
    at = app.at
    seen: dict[str, int] = {"anchor": 0, "submission": 0}
    pages: dict[str, set[str]] = {"fresh": set(), "confirm": set()}
    keys: set[tuple[str, ...]] = set()

    def check(stage: str, item: q.QueueItem) -> None:
        page, state = rendered(at), _words(held(at))
        for word in ("validity", "expert"):  # "rationale" is in a descriptor of the rubric
            assert word not in page and word not in state, (stage, word)
        assert "rationale" not in state
        for secret in secrets:
            assert secret not in page and secret not in state, stage
        pages[stage].add(page_text(at))

    for _ in range(24):  # stops once both kinds were seen twice (6 anchors in the pool)
        item = current(engine)
        seen[kind(engine, item.handle)] += 1
        shown = my_queue.as_item(item)
        if sum(seen.values()) > 1:  # after the first: the receipt of the one before
            check("fresh", item)
            keys.add(tuple(state_keys(at)))
        choose(at, shown, levels(engine, 2))
        review(at, shown)
        check("confirm", item)
        confirm(at, shown)
        if min(seen.values()) >= 2:
            break
    assert min(seen.values()) >= 2, seen
    assert len(pages["fresh"]) == 1 and len(pages["confirm"]) == 1  # one page for both kinds
    (fresh,) = pages["fresh"]
    for words in ("Your scores", "Comment (optional)", "Give this submission back", "handle"):
        assert _words(words) in fresh  # all but the artifact was compared
    assert len(keys) == 1


# --- Adjudication -------------------------------------------------------------------------------


def discrepant_pair(engine: Engine) -> None:
    """Submission ``apart`` read by amy (all 1s, with a comment) and ben (all 3s)."""
    qualify(engine, AMY, BEN)
    add(engine, "apart")
    q.queue_score(
        engine=engine,
        actor=AMY,
        handle=current(engine, AMY).handle,
        scores=levels(engine, 1),
        comment="No benchmark named anywhere.",
    )
    q.queue_score(
        engine=engine, actor=BEN, handle=current(engine, BEN).handle, scores=levels(engine, 3)
    )


def test_a_lead_resolves_a_pair_only_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, rules: SetRules
) -> None:
    rules({"live.double_share": 1, "live.validity_rate": 0})
    discrepant_pair(engine)
    at = Dashboard(monkeypatch, url, "adjudication", "lea").at
    assert at.title[0].value == "Adjudication"
    (listed,) = at.dataframe
    assert list(listed.value["submission"]) == ["apart"]
    (pair,) = q.adjudications(engine=engine, actor=LEA)
    r = rubric(engine)
    said = texts(at)
    assert (
        "Why it is here: the readings are more than one level apart on 5 of 5 criteria, and "
        "reach different pass decisions. By the first reading (A-amy) the work does not pass "
        "yet; by the second reading (A-ben) the work passes."
    ) in said
    for c in r.criteria:  # both readings per criterion, with labels and descriptors
        assert f"{c.title}**  :orange[**✗ 2 levels apart: too far**]" in said
    assert "First reading (A-amy): **1 · Not met**" in said
    assert "Second reading (A-ben): **3 · Demonstrated**" in said
    assert _words(r.criteria[0].descriptors[1]) in _words(said)
    assert _words(r.criteria[0].descriptors[3]) in _words(said)
    assert "No benchmark named anywhere." in [t.value for t in at.text]
    assert "No comment." in [t.value for t in at.text]

    item = adjudication.item_of(pair)
    third = levels(engine, 2, 3)
    choose(at, item, third)
    review(at, item)
    assert "No reason yet" in texts(at)
    confirm(at, item)  # refused: no reason
    assert any("reason of an adjudication is empty" in e.value.replace("\\", "") for e in at.error)
    (row,) = q.results(engine=engine, actor=ADA)
    assert row["status"] == "awaiting adjudication"

    at.text_area(key=adjudication.reason_key(pair)).input("The plan cites its evidence.").run()
    assert "Your reason: The plan cites its evidence." in texts(at)  # the confirmation again
    confirm(at, item)
    said = texts(at)
    assert "Submission apart resolved: under the rubric's pass rule the work" in said
    assert "Rule used: third reading replaces both. Decided by lea" in said
    assert "Your reason: The plan cites its evidence." in said
    (final,) = at.table
    columns = [c.replace("\\", "") for c in final.value.columns]
    assert columns == [
        "criterion",
        "first reading (A-amy)",
        "second reading (A-ben)",
        "your reading",
        "final score",
    ]
    assert [v.replace("\\", "") for v in final.value.iloc[:, -1]] == [
        f"{v} · {r.label(v)}" for v in third.values()
    ]
    (row,) = q.results(engine=engine, actor=ADA)
    assert row["status"] == "decided" and row["result"]["decided_by"] == "lea"
    assert row["result"]["reason"] == "The plan cites its evidence."
    click(at, "adjudication_back")
    assert "No pairs are waiting for adjudication" in texts(at)


# --- Assessors ----------------------------------------------------------------------------------


def test_the_administrator_suspends_reinstates_and_filters_results(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, rules: SetRules
) -> None:
    rules({"live.double_share": 0, "live.validity_rate": 0})
    qualify(engine, AMY)
    add(engine, "s1", "s2")
    q.queue_score(engine=engine, actor=AMY, handle=current(engine).handle, scores=levels(engine, 3))
    app = Dashboard(monkeypatch, url, "assessors", "ada")
    at = app.at
    assert at.title[0].value == "Assessors"
    at.selectbox(key="assessors_rubric").select(RUBRIC).run()
    standing = frame(at, "qualified until")
    amy = standing[standing["assessor"] == "A-amy"].iloc[0]
    assert amy["status"] == "qualified" and amy["rubric"] == RUBRIC
    assert standing[standing["assessor"] == "A-ben"].iloc[0]["status"] == "not qualified"
    assert "No suspensions on these rubrics." in texts(at)

    at.selectbox(key="assessors_suspend_who").select("A-amy")
    press(at, "Suspend")  # no reason
    assert "the reason of a suspension is empty" in at.error[0].value.replace("\\", "")
    reason = "scores given from the title alone in a spot check"
    at.selectbox(key="assessors_suspend_who").select("A-amy")
    at.text_area(key="assessors_suspend_reason").input(reason)
    press(at, "Suspend")
    assert f"Suspended A-amy from live scoring on {RUBRIC}." in texts(at)
    (held_,) = suspensions(at)
    assert held_["status"].startswith("in force since") and held_["reason"] == reason
    assert held_["suspended by"] == "ada" and held_["lifted"] == "–"
    assert reason in q.queue_next(engine=engine, actor=AMY).message

    at.text_area(key="assessors_reinstate_reason").input("retrained on the benchmark criterion")
    press(at, "Reinstate")
    assert f"Reinstated A-amy on {RUBRIC}." in texts(at)
    (lifted,) = suspensions(at)
    assert lifted["status"].startswith("lifted")
    assert lifted["lifted"].endswith("by ada: retrained on the benchmark criterion")
    assert q.queue_next(engine=engine, actor=AMY).item is not None

    results = frame(at, "final scores")
    assert list(results["submission"]) == ["s1", "s2"]
    at.selectbox(key="assessors_status").select("decided").run()
    (decided,) = frame(at, "final scores").to_dict("records")
    assert decided["submission"] == "s1" and decided["final scores"] == "3 · 3 · 3 · 3 · 3"
    assert decided["decision"] == "passes" and decided["decided by"] == "rule"
    assert decided["rule"] == "single reading"
    # a row selected: the result in full, the criteria by name
    at.session_state["assessors_results"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    said = texts(at)
    assert "Submission s1 (crsel-intro@1): attempt 1, received" in said
    assert "Passes under the rubric's pass rule. Rule: single reading. Decided by rule on" in said
    (details,) = [t.value for t in at.table if escape("final score") in t.value.columns]
    assert [v.replace("\\", "") for v in details[escape("final score")]] == [
        "3 · Demonstrated"
    ] * len(rubric(engine).criteria)
    assert escape(rubric(engine).criteria[0].title) in list(details[escape("criterion")])
    at.session_state["assessors_results"] = {"selection": {"rows": [], "columns": [], "cells": []}}
    at.selectbox(key="assessors_status").select("in scoring").run()  # s2: amy holds it
    assert list(frame(at, "final scores")["submission"]) == ["s2"]


# --- My history ---------------------------------------------------------------------------------


def test_my_history_in_words_with_intervals_after_a_round(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    practise(engine)
    view = services.round_start(engine=engine, actor=AMY, rubric=RUBRIC)
    for position, anchor in enumerate(anchors_of(engine, view.attempt), start=1):
        services.round_score(
            engine=engine,
            actor=AMY,
            attempt=view.attempt,
            position=position,
            scores=dict(anchor.expert),
        )
    (history,) = services.my_history(engine=engine, actor=AMY)
    assert history.overall is not None
    at = Dashboard(monkeypatch, url, "my-history", "amy").at
    assert at.title[0].value == "My history"
    said = texts(at)
    words = history.overall.words
    assert f"In short.** {words[0].upper()}{words[1:]}" in said
    assert "95% interval" in said and INTERVAL in said.lower()
    assert "appear only for months that are over" in said
    assert at.get("vega_lite_chart")  # exact agreement by month with its band
    by_criterion, by_kind, rounds = [t.value for t in at.table]
    by_criterion.columns = [c.replace("\\", "") for c in by_criterion.columns]
    assert list(by_criterion.columns) == [
        "criterion",
        "anchors",
        "criterion scores",
        "same level as the experts (interval)",
        "within one level of the experts",
        "your level minus the experts', on average, in levels (interval)",
    ]
    first = history.by_criterion[0]
    cells = [str(v).replace("\\", "") for v in by_criterion.iloc[0]]
    low, high = first.exact_interval
    assert cells[0] == first.group
    assert cells[3] == f"{first.exact:.0%} ({low:.0%} to {high:.0%})"
    low, high = first.deviation_interval
    assert cells[5] == f"{signed(first.deviation)} ({signed(low)} to {signed(high)})"
    assert len(by_kind) == 2  # practice anchors, qualification rounds
    assert [str(v).replace("\\", "") for v in rounds.iloc[0]][-1] == "passed"


def signed(levels: float) -> str:
    """A difference in levels as the page writes it: two decimals, signed, a true minus."""
    value = round(levels, 2) + 0.0
    return "0.00" if value == 0 else f"{value:+.2f}".replace("-", "−")


def test_my_history_before_any_anchor_and_after_one(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    app = Dashboard(monkeypatch, url, "my-history", "amy")
    assert "No scores against the experts yet" in texts(app.at)
    practise(engine)  # one anchor: no interval, said so rather than "nan%"
    said = texts(app.run())
    assert "(too few anchors for an interval)" in said and "nan" not in said.lower()
    assert "No qualification round yet." in said


def test_stored_text_of_a_pair_is_shown_as_text(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, rules: SetRules
) -> None:
    """An artifact and comments holding Markdown, links and HTML reach the lead as text."""
    rules({"live.double_share": 1, "live.validity_rate": 0})
    qualify(engine, AMY, BEN)
    title = f"Plan {IMAGE}"
    add(engine, "hostile", artifact={"title": title, "excerpt": f"Excerpt {SCRIPT} **bold**"})
    for actor, value, comment in ((AMY, 1, f"See {LINK}"), (BEN, 3, HTML_IMAGE)):
        q.queue_score(
            engine=engine,
            actor=actor,
            handle=current(engine, actor).handle,
            scores=levels(engine, value),
            comment=comment,
        )
    at = Dashboard(monkeypatch, url, "adjudication", "lea").at
    assert escape(title) in [s.value for s in at.subheader]
    shown = [t.value for t in at.text]
    assert f"Excerpt {SCRIPT} **bold**" in shown  # st.text: no Markdown at all
    assert f"See {LINK}" in shown and HTML_IMAGE in shown
    marked = [m.value for m in (*at.markdown, *at.caption, *at.warning)]
    for raw in (IMAGE, LINK, HTML_IMAGE, SCRIPT):
        assert not any(raw in v for v in marked)
    assert title in at.selectbox(key=adjudication.PICK).options[0]  # options are plain text
