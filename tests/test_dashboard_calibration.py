"""The Practice and Qualification round pages with Streamlit's AppTest (issue 11, parts 1, 2
and 6), on a SQLite store holding the shipped rubrics and anchor sets and one assessor account:
a practice anchor scored through the page's widgets with the experts' feedback after submitting
and nothing of the answer key before (not in any rendered element, not in the session state), a
criterion left without a level refused, chosen levels kept over reruns and page switches, a
round failed then passed with the figures and the missed criteria shown, a retake whose
anchors were all seen before saying so, and a hostile rubric and anchor shown as text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from google.protobuf import text_format
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from calibrate import services, store
from calibrate.dashboard import scoring
from calibrate.dashboard.session import TOKEN
from calibrate.dashboard.text import escape
from calibrate.errors import CalibrateError
from calibrate.rubric import Rubric
from calibrate.services.calibration import AnchorItem
from calibrate.store.calibration import attempt_anchors, attempt_by_key
from calibrate.store.engine import reading
from calibrate.store.scoring import PoolAnchor, anchors_by_id
from tests.conftest import OPERATOR, ROOT, table_rows
from tests.test_calibration import AMY, BEN, RUBRIC, answer_key
from tests.test_dashboard_access import (
    HOSTILE,
    HOSTILE_CRITERION,
    HOSTILE_DESCRIPTOR,
    HOSTILE_RUBRIC,
    HTML_IMAGE,
    IMAGE,
    LINK,
    SCRIPT,
    _q,
)
from tests.test_dashboard_pages import PAGE, session_token

PASSWORD = "a password long enough"


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """A SQLite store with the shipped rubrics and anchor sets of issuer ``north`` and the
    assessor accounts ``amy`` and ``ben`` (the assessor keys of
    :data:`tests.test_calibration.AMY` and ``BEN``)."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = store.open_store(url)
    services.import_definitions(
        ROOT / "rubrics", ROOT / "anchor_sets", engine=engine, actor=OPERATOR, issuer="north"
    )
    services.add_account(
        engine=engine,
        actor=OPERATOR,
        username="amy",
        role="assessor",
        password=PASSWORD,
        issuer="north",
        assessor=AMY.assessor,
    )
    services.add_account(
        engine=engine,
        actor=OPERATOR,
        username="ben",
        role="assessor",
        password=PASSWORD,
        issuer="north",
        assessor=BEN.assessor,
    )
    engine.dispose()
    yield url


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = store.open_store(url)
    yield eng
    eng.dispose()


class Dashboard:
    """``app.py`` on the store at ``url``, logged in as ``amy``, opened on page ``path`` (at an
    address with the ``query`` parameters)."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        url: str,
        path: str,
        query: dict[str, Any] | None = None,
    ) -> None:
        monkeypatch.setenv("CALIBRATE_DATABASE_URL", url)
        monkeypatch.setenv("CALIBRATE_DEMO", "0")

        def page(*args: Any, **kwargs: Any) -> Any:
            return PAGE(*args, **{**kwargs, "default": kwargs.get("url_path") == path})

        monkeypatch.setattr(st, "Page", page)
        self.at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        self.at.session_state[TOKEN] = session_token(url, "amy", PASSWORD)
        self.at.query_params.update(query or {})
        self.run()

    def run(self, title: str | None = None) -> AppTest:
        """Run again, on the page of the menu titled ``title`` when given (as a click in the
        menu: the same session; AppTest's ``switch_page`` takes page files only, so the run
        asks for the navigation's page by its hash)."""
        if title is not None:
            (self.at._page_hash,) = [
                h for h, info in self.at._registered_pages.items() if info["page_name"] == title
            ]
        self.at.run()
        assert not self.at.exception, self.at.exception
        return self.at


# --- what the page and the session hold ------------------------------------------------------


def _words(text: str) -> str:
    """Letters and digits only: a text found whatever escapes or quoting surround it."""
    return re.sub(r"[\W_]+", "", text.lower())


def rendered(at: AppTest) -> str:
    """Every element of the last run serialised (labels, values, options, captions, help),
    with the cells of tables and data frames, as letters and digits only."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(text_format.MessageToString(proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    for frame in (*at.table, *at.dataframe):
        parts.append(json.dumps(frame.value.astype(str).values.tolist(), ensure_ascii=False))
    return _words("\n".join(parts))


def held(at: AppTest) -> str:
    """The session state serialised."""
    return json.dumps({k: at.session_state[k] for k in at.session_state}, default=str)


def shown_rationales(engine: Engine, at: AppTest) -> set[str]:
    """The expert rationales of the rubric's anchors that the page or the session state hold."""
    page, state = rendered(at), _words(held(at))
    return {r for r in answer_key(engine) if _words(r)[:80] in page or _words(r)[:80] in state}


def assert_no_answer_key(engine: Engine, at: AppTest) -> None:
    assert not shown_rationales(engine, at)
    state = held(at)
    assert "expert" not in state and "rationale" not in state


# --- helpers over the store (the test reads the answer key; the pages never do) ---------------


def rubric(engine: Engine) -> Rubric:
    return store.stored_rubric(RUBRIC, engine=engine)


def anchors_of(engine: Engine, attempt: str) -> list[PoolAnchor]:
    with reading(engine) as conn:
        found = attempt_by_key(conn, attempt)
        assert found is not None
        return anchors_by_id(conn, attempt_anchors(conn, [found.id])[found.id])


def choose(at: AppTest, item: AnchorItem, scores: dict[str, int]) -> None:
    """Choose the levels of ``scores`` on the item's radio groups, then run."""
    for criterion, score in scores.items():
        at.radio(key=scoring.widget_key(item, criterion)).set_value(score)
    at.run()
    assert not at.exception, at.exception


def review(at: AppTest, item: AnchorItem) -> None:
    at.button(key=f"{scoring.prefix(item)}-review").click().run()
    assert not at.exception, at.exception


def confirm(at: AppTest, item: AnchorItem) -> None:
    at.button(key=f"{scoring.prefix(item)}-submit").click().run()
    assert not at.exception, at.exception


def practise(engine: Engine) -> None:
    """Score a practice anchor through the service (a round needs one first)."""
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    services.practice_score(
        engine=engine,
        actor=AMY,
        attempt=item.attempt,
        scores={c: 2 for c in rubric(engine).criterion_ids},
    )


def wrong(anchor: PoolAnchor) -> dict[str, int]:
    """Every criterion one level away from the experts' (3 levels: 1 <-> 2, 3 -> 2)."""
    return {c: 2 if s != 2 else 1 for c, s in anchor.expert.items()}


# --- practice ----------------------------------------------------------------------------------


def test_practice_feedback_after_submit_and_no_answer_key_before(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    app = Dashboard(monkeypatch, url, "practice")
    at = app.at
    assert at.title[0].value == "Practice"
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)  # the open one
    (anchor,) = anchors_of(engine, item.attempt)
    r = rubric(engine)
    # the artifact, and the level descriptors of every criterion as the options' captions
    assert escape(anchor.artifact["title"]) in [s.value for s in at.subheader]
    radios = [at.radio(key=scoring.widget_key(item, c)) for c in r.criterion_ids]
    assert [x.options for x in radios] == [[f"{s} · {r.label(s)}" for s in r.scores]] * len(radios)
    assert all(x.value is None for x in radios)  # nothing chosen for the assessor
    page = rendered(at)
    for c in r.criteria:
        for descriptor in c.descriptors.values():
            assert _words(descriptor) in page
    assert_no_answer_key(engine, at)

    given = {c: 2 for c in r.criterion_ids}
    choose(at, item, given)
    review(at, item)
    # the confirmation lists the choices; still nothing of the answer key
    (listed,) = at.table
    assert list(listed.value[escape("your level")]) == [escape("2 · Progressing")] * len(given)
    assert_no_answer_key(engine, at)
    assert services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC) == item  # not sent

    confirm(at, item)
    assert "Scores submitted" in at.success[0].value
    assert shown_rationales(engine, at) == set(anchor.rationale.values())  # this anchor's only
    page = rendered(at)
    for c in r.criteria:  # both levels with their descriptors, or one when they agree
        expert = anchor.expert[c.id]
        both = f"Experts' score: {expert} · {r.label(expert)}"
        one = f"Your score and the experts': 2 · {r.label(2)}"
        assert _words(one if expert == 2 else both) in page
        assert _words(c.descriptors[expert]) in page and _words(c.descriptors[2]) in page
    state = held(at)
    assert "rationale" not in state and "expert" not in state  # the attempt key only
    assert item.attempt in state
    for key in [scoring.widget_key(item, c) for c in r.criterion_ids]:
        assert key not in at.session_state  # the submitted choices are gone

    at.button(key="practice_next").click().run()
    assert not at.exception, at.exception
    following = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    assert following.attempt != item.attempt
    assert at.radio(key=scoring.widget_key(following, r.criterion_ids[0])).value is None
    assert_no_answer_key(engine, at)


def test_another_account_in_the_same_browser_session_starts_afresh(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    """After amy's feedback, ben logs in in the same session: his own anchor, not amy's
    feedback (nor an error about a practice that is not his)."""
    app = Dashboard(monkeypatch, url, "practice")
    at = app.at
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    choose(at, item, dict.fromkeys(rubric(engine).criterion_ids, 2))
    review(at, item)
    confirm(at, item)
    assert "Scores submitted" in at.success[0].value
    at.session_state[TOKEN] = session_token(url, "ben", PASSWORD)
    app.run()
    assert not at.error and not at.success
    assert "amy" not in at.sidebar.caption[0].value
    own = services.practice_next(engine=engine, actor=BEN, rubric=RUBRIC)
    assert at.radio(key=scoring.widget_key(own, rubric(engine).criterion_ids[0])).value is None


def test_a_criterion_without_a_level_is_named_and_nothing_is_submitted(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    app = Dashboard(monkeypatch, url, "practice")
    at = app.at
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    r = rubric(engine)
    before = table_rows(engine, "rating"), table_rows(engine, "audit_event")
    choose(at, item, {c: 3 for c in r.criterion_ids[:-1]})
    review(at, item)
    (refusal,) = at.error
    last = r.criteria[-1]
    assert escape(f"{len(r.criteria)}. {last.title}") in refusal.value
    assert "Nothing was submitted" in refusal.value
    for c in r.criteria[:-1]:
        assert escape(c.title) not in refusal.value
    assert not at.table  # no confirmation
    assert (table_rows(engine, "rating"), table_rows(engine, "audit_event")) == before
    with pytest.raises(CalibrateError, match="not scored yet"):
        services.practice_feedback(engine=engine, actor=AMY, attempt=item.attempt)
    assert_no_answer_key(engine, at)


def test_chosen_levels_survive_a_rerun_a_visit_to_another_page_and_a_reload(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    app = Dashboard(monkeypatch, url, "practice")
    at = app.at
    item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)
    r = rubric(engine)
    chosen = {c: 1 + i % 3 for i, c in enumerate(r.criterion_ids[:3])}
    choose(at, item, chosen)
    app.run()  # a rerun
    for c in r.criterion_ids:
        assert at.radio(key=scoring.widget_key(item, c)).value == chosen.get(c)
    app.run("My ratings")
    assert at.title[0].value == "My ratings" and not at.radio
    app.run("Practice")
    for c in r.criterion_ids:
        assert at.radio(key=scoring.widget_key(item, c)).value == chosen.get(c)
    # a reload: a new session (logged in again) on the same address keeps them too
    address = dict(at.query_params)
    assert set(address) == {scoring.widget_key(item, c) for c in chosen}
    reloaded = Dashboard(monkeypatch, url, "practice", query=address).at
    for c in r.criterion_ids:
        assert reloaded.radio(key=scoring.widget_key(item, c)).value == chosen.get(c)
    # and a confirmation, dismissed with "Go back and change", keeps them too
    choose(at, item, {c: 2 for c in r.criterion_ids[3:]})
    review(at, item)
    assert at.table
    at.button(key=f"{scoring.prefix(item)}-back").click().run()
    assert not at.table
    assert at.radio(key=scoring.widget_key(item, r.criterion_ids[0])).value == 1


# --- qualification rounds ----------------------------------------------------------------------


def standing_texts(at: AppTest) -> str:
    parts = [str(e.value) for kind in ("info", "success", "warning", "error", "markdown")
             for e in at.get(kind)]  # fmt: skip
    return "\n".join(parts)


def finish_round_on_the_page(
    app: Dashboard, engine: Engine, scores: list[dict[str, int]], *, before_last: Any = None
) -> None:
    """Score all anchors but the last of the open round through the service, the last one
    through the page's widgets (``before_last(app)`` runs when it is on the page)."""
    standing = services.qualification(engine=engine, actor=AMY, rubric=RUBRIC)
    attempt = standing.eligibility.open_round
    assert attempt is not None
    for position, given in enumerate(scores[:-1], start=1):
        services.round_score(
            engine=engine, actor=AMY, attempt=attempt, position=position, scores=given
        )
    at = app.run()
    view = services.round_view(engine=engine, actor=AMY, attempt=attempt)
    item = view.next_item
    assert item is not None and item.position == len(scores)
    n = len(scores)
    assert f"Anchor {n} of {n}" in [s.value for s in at.subheader]
    (bar,) = at.get("progress")
    assert bar.value == round((n - 1) / n * 100) and f"{n - 1} of {n} anchors scored" in bar.text
    if before_last is not None:
        before_last(app)
    choose(at, item, scores[-1])
    review(at, item)
    assert "final" in " ".join(m.value for m in at.markdown)
    confirm(at, item)


def figures(at: AppTest) -> dict[str, dict[str, str]]:
    """The figures table: figure name -> its row."""
    (frame,) = [t.value for t in at.table if escape("figure") in t.value.columns]
    frame.columns = [c.replace("\\", "") for c in frame.columns]
    return {
        row["figure"].replace("\\", ""): {k: str(v).replace("\\", "") for k, v in row.items()}
        for _, row in frame.iterrows()
    }


def test_fail_a_round_then_retake_and_pass(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    practise(engine)
    app = Dashboard(monkeypatch, url, "qualification")
    at = app.at
    assert at.title[0].value == "Qualification round"
    assert "Not qualified" in standing_texts(at)
    metric = {m.label: m.value for m in at.metric}
    assert metric["Rounds used"] == "0 of 3" and metric["Next round possible"] == "now"
    assert "exact agreement" in standing_texts(at)  # the standard, explained before the round
    at.button(key="qualification_start").click().run()
    assert not at.exception, at.exception

    # round 1: the experts' scores but one criterion wrong per anchor on the first five, then
    # the whole last anchor wrong, scored on the page: exact agreement 80% -> (50-5-5)/50 = 80%
    # would pass; so all of anchor 10 and one criterion of anchors 1-6: 39/50 fails.
    attempt = services.qualification(engine=engine, actor=AMY, rubric=RUBRIC)
    first = attempt.eligibility.open_round
    assert first is not None
    anchors = anchors_of(engine, first)
    r = rubric(engine)
    scores = [dict(a.expert) for a in anchors]
    c0 = r.criterion_ids[0]
    for s in scores[:6]:
        s[c0] = 2 if s[c0] != 2 else 1
    scores[-1] = wrong(anchors[-1])

    def blind(app: Dashboard) -> None:  # the round's last anchor, before it is submitted
        assert_no_answer_key(engine, app.at)
        assert not [t for t in app.at.table if escape("figure") in t.value.columns]

    finish_round_on_the_page(app, engine, scores, before_last=blind)
    texts = standing_texts(at)
    assert "Not passed" in texts and "exact agreement too low" in texts
    shown = figures(at)
    assert shown["Exact agreement"]["met"] == "✗ not met"
    assert shown["Exact agreement"]["yours"] == "78% (39 of 50 criterion scores)"
    assert shown["Exact agreement"]["needed"] == "at least 80%"
    assert shown["Adjacent agreement"]["met"] == "✓ met"
    assert shown["Scores two or more levels off"]["needed"] == "at most 0"
    assert "your score equals the experts'" in shown["Exact agreement"]["what it means"]
    # the missed criteria: anchors 1-6 on the first criterion, all of anchor 10, with rationale
    missed = [t.value for t in at.table if escape("why the experts chose their level") in t.value]
    assert len(missed) == 7
    cells = " ".join(json.dumps(m.astype(str).values.tolist()) for m in missed)
    assert _words(anchors[-1].rationale[r.criterion_ids[-1]]) in _words(cells)
    assert _words(anchors[0].rationale[c0]) in _words(cells)
    assert _words(anchors[7].rationale[c0]) not in _words(cells)  # anchor 8 all exact
    assert len(at.expander) == 10  # every anchor, criterion by criterion
    # a retake needs a practice anchor first: the reason, in words, and no button
    assert "score a practice anchor first since your last round" in texts.replace("\\", "")
    assert not [b for b in at.button if b.key == "qualification_start"]

    practise(engine)
    at = app.run()
    (start,) = [b for b in at.button if b.key == "qualification_start"]
    assert start.label == "Start a new round (retake)"
    start.click().run()
    assert not at.exception, at.exception
    second = services.qualification(engine=engine, actor=AMY, rubric=RUBRIC).eligibility
    assert second.open_round not in (None, first)
    assert second.open_round is not None
    again = anchors_of(engine, second.open_round)
    assert not {a.key for a in again} & {a.key for a in anchors}  # fresh anchors
    finish_round_on_the_page(app, engine, [dict(a.expert) for a in again])
    texts = standing_texts(at)
    assert "Passed" in texts and "Qualified" in texts
    assert all(row["met"] == "✓ met" for row in figures(at).values())
    assert "Nowhere: every criterion score and every pass decision equals the experts'" in texts
    assert "No round needed now" in texts.replace("\\", "")
    # the earlier round stays readable
    rounds = at.selectbox(key="qualification_result")
    assert rounds.options[0].startswith("Round 2") and rounds.options[1].startswith("Round 1")
    rounds.select(first).run()
    assert figures(at)["Exact agreement"]["met"] == "✗ not met"


def test_a_retake_whose_anchors_were_all_seen_says_so_then_the_limit_holds(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine
) -> None:
    """The shipped pool holds 20 qualification anchors: a third round has seen them all."""
    for _ in range(2):
        practise(engine)
        view = services.round_start(engine=engine, actor=AMY, rubric=RUBRIC)
        for position, anchor in enumerate(anchors_of(engine, view.attempt), start=1):
            services.round_score(
                engine=engine,
                actor=AMY,
                attempt=view.attempt,
                position=position,
                scores=wrong(anchor),
            )
    practise(engine)
    app = Dashboard(monkeypatch, url, "qualification")
    at = app.at
    assert {m.label: m.value for m in at.metric}["Rounds used"] == "2 of 3"
    at.button(key="qualification_start").click().run()
    assert not at.exception, at.exception
    notes = [i.value for i in at.info if "About this round" in i.value]
    assert notes and "10 of the 10 anchors were in your earlier rounds" in notes[0].replace(
        "\\", ""
    )
    attempt = services.qualification(engine=engine, actor=AMY, rubric=RUBRIC)
    assert attempt.eligibility.open_round is not None
    anchors = anchors_of(engine, attempt.eligibility.open_round)
    finish_round_on_the_page(app, engine, [wrong(a) for a in anchors])
    texts = standing_texts(at).replace("\\", "")
    assert "Not passed" in texts and "10 of the 10 anchors were in your earlier rounds" in texts
    assert "3 rounds in the last 90 days" in texts and "the next round is possible from" in texts
    assert not [b for b in at.button if b.key == "qualification_start"]
    assert {m.label: m.value for m in at.metric}["Rounds used"] == "3 of 3"


# --- stored text is text -------------------------------------------------------------------------

HOSTILE_ANCHOR = f"""\
id: hostile-practice
rubric: hostile
rubric_version: 1
title: Hostile practice
purpose: practice
anchors:
  - id: hostile-p01
    artifact:
      title: {_q("Artifact " + IMAGE)}
      description: {_q("Description " + LINK + " " + HTML_IMAGE)}
      excerpt: {_q("Excerpt " + SCRIPT + " **not bold**")}
    scores: {{first: 2, second: 1}}
    rationale:
      first: {_q("Rationale " + IMAGE + " " + LINK)}
      second: {_q("Second rationale " + HTML_IMAGE + " :red[red]")}
"""


def test_rubric_and_anchor_text_is_shown_as_text(
    monkeypatch: pytest.MonkeyPatch, url: str, engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "hostile"
    (folder / "rubrics").mkdir(parents=True)
    (folder / "anchors" / "hostile").mkdir(parents=True)
    (folder / "rubrics" / "hostile.yaml").write_text(HOSTILE_RUBRIC, encoding="utf-8")
    (folder / "anchors" / "hostile" / "practice.yaml").write_text(HOSTILE_ANCHOR, encoding="utf-8")
    services.import_definitions(
        folder / "rubrics", folder / "anchors", engine=engine, actor=OPERATOR, issuer="north"
    )
    app = Dashboard(monkeypatch, url, "practice")
    at = app.at
    at.selectbox(key="practice_rubric").select(HOSTILE).run()
    assert not at.exception, at.exception
    item = services.practice_next(engine=engine, actor=AMY, rubric=HOSTILE)
    assert escape("Artifact " + IMAGE) in [s.value for s in at.subheader]
    assert escape("Description " + LINK + " " + HTML_IMAGE) in [m.value for m in at.markdown]
    assert "Excerpt " + SCRIPT + " **not bold**" in [t.value for t in at.text]  # st.text
    first = at.radio(key=scoring.widget_key(item, "first"))
    assert first.label == f"**1\\. {escape(HOSTILE_CRITERION)}**"
    assert first.options == [escape("1 · Low " + IMAGE), escape("2 · High " + LINK)]
    assert list(first.proto.captions) == [escape(HOSTILE_DESCRIPTOR), escape("Second " + LINK)]
    choose(at, item, {"first": 1, "second": 2})
    review(at, item)
    (listed,) = at.table
    assert escape(HOSTILE_CRITERION) in list(listed.value[escape("criterion")])
    confirm(at, item)
    shown = [m.value for m in at.markdown]
    assert f"**Why the experts chose this level:** {escape('Rationale ' + IMAGE + ' ' + LINK)}" in (
        shown
    )
    for raw in (IMAGE, LINK, HTML_IMAGE, SCRIPT):
        assert not any(raw in v for v in shown)  # every Markdown element escaped
