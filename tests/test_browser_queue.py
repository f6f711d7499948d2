"""End to end in headless Chromium (issue 11, part 6): the dashboard served with the README's
command (``calibrate serve``) on a store holding the shipped rubrics and anchor sets of issuer
``north``, with every submission double-scored (rule ``live.double_share`` 1, so that a
discrepant pair can be built) and no seeded anchors. Built through the services beforehand:
amy's practice over two earlier months and a passed qualification round, ben qualified, a pair
two levels apart on every criterion (amy and ben) and two submissions waiting, and a
suspension.

The assessor amy scores a submission of her queue with a comment (the confirmation shows it),
gets the next one, gives it back with a reason and reads the empty queue's message, then reads
her history; the lead assessor lea resolves the pair with a reason and reads the result; the
administrator ada reads the Assessors page. Screenshots of every state go to the ``shots``
folder."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.dashboard.text import WORD_JOINER
from calibrate.services import queue as q
from tests.conftest import OPERATOR, ROOT
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, log_in, need_chromium
from tests.test_browser_calibration import body, calibrate_serve, choose, errors, shot
from tests.test_dashboard_calibration import anchors_of
from tests.test_queue import ADA, AMY, BEN, LEA, RUBRIC, add, levels, qualify

pytestmark = pytest.mark.browser

PASSWORD = "a password long enough"
COMMENT = "The benchmark is named but the sign of success is vague."
PAIR_COMMENTS = ("No benchmark named anywhere.", "Every part of the plan is there.")
SUSPENSION = "scored three submissions from their titles alone in a spot check"


def history(engine: Engine) -> None:
    """amy: two practice anchors in each of the two months before this one (all levels 2),
    then a qualification round this month with the experts' levels but one criterion one
    level up on three anchors (a pass, with misses to show)."""
    now = datetime.now(UTC)
    for days in (62, 60, 33, 31):
        at = now - timedelta(days=days)
        item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC, at=at)
        services.practice_score(
            engine=engine, actor=AMY, attempt=item.attempt, scores=levels(engine, 2), at=at
        )
    view = services.round_start(engine=engine, actor=AMY, rubric=RUBRIC)
    changed = 0
    for position, anchor in enumerate(anchors_of(engine, view.attempt), start=1):
        scores = dict(anchor.expert)
        low = [c for c, s in scores.items() if s == 1]
        if low and changed < 3:  # 1 -> 2: the decision stays "not yet"
            scores[low[0]] = 2
            changed += 1
        services.round_score(
            engine=engine, actor=AMY, attempt=view.attempt, position=position, scores=scores
        )
    assert services.qualification(engine=engine, actor=AMY, rubric=RUBRIC).status == "qualified"


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_chromium()
    folder = tmp_path_factory.mktemp("e2e-queue")
    rules = folder / "rules.yaml"
    rules.write_text(
        json.dumps({"live.double_share": 1, "live.validity_rate": 0}), encoding="utf-8"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CALIBRATE_RULES_FILE", str(rules))  # this process and the server's
        url = f"sqlite:///{folder / 'store.db'}"
        engine = store.open_store(url)
        services.import_definitions(
            ROOT / "rubrics", ROOT / "anchor_sets", engine=engine, actor=OPERATOR, issuer="north"
        )
        for actor in (AMY, BEN, LEA, ADA):
            services.add_account(
                engine=engine,
                actor=OPERATOR,
                username=actor.name,
                role=actor.role,
                password=PASSWORD,
                issuer="north",
                assessor=actor.assessor,
            )
        history(engine)
        qualify(engine, BEN)
        add(engine, "apart")
        for actor, score, comment in zip((AMY, BEN), (1, 3), PAIR_COMMENTS, strict=True):
            got = q.queue_next(engine=engine, actor=actor)
            assert got.item is not None, got.message
            q.queue_score(
                engine=engine,
                actor=actor,
                handle=got.item.handle,
                scores=levels(engine, score),
                comment=comment,
            )
        add(engine, "s1", "s2")
        q.suspend(engine=engine, actor=ADA, assessor="A-ben", rubric=RUBRIC, reason=SUSPENSION)
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def server(url: str) -> Iterator[str]:
    with calibrate_serve(url) as address:
        yield address


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = store.open_store(url)
    yield eng
    eng.dispose()


def open_menu(page: Any, title: str, wait_for: str) -> None:
    page.get_by_role("link", name=title).click()
    page.get_by_text(wait_for).first.wait_for(timeout=30_000)


def snap(page: Any, folder: Path, name: str) -> None:
    """:func:`shot` once no element is still loading (Streamlit's placeholders are gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stSkeleton]')", timeout=30_000
    )
    shot(page, folder, name)


def score_all(page: Any, values: list[int]) -> None:
    for i, value in enumerate(values):
        choose(page, i, value)


def test_queue_history_adjudication_and_assessors(server: str, engine: Engine, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    r = store.stored_rubric(RUBRIC, engine=engine)
    n = len(r.criteria)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        # --- amy: My queue --------------------------------------------------------------------
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log_in(page, server, "amy", PASSWORD)
        open_menu(page, "My queue", "Your scores")
        page.get_by_text("Lesson plan s1").first.wait_for(timeout=30_000)
        snap(page, shots, "queue-item")
        assert "Score it by" in body(page)
        score_all(page, [3, 2, 2, 3, 2][:n])
        page.get_by_role("textbox", name="Comment (optional)").fill(COMMENT)
        page.get_by_role("button", name="Review and submit").click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for(timeout=30_000)
        dialog.get_by_text("Your comment").wait_for(timeout=30_000)
        snap(page, shots, "queue-confirm")
        confirming = dialog.inner_text()
        assert COMMENT in confirming and "3 · Demonstrated" in confirming
        dialog.get_by_role("button", name="Submit", exact=True).click()
        dialog.wait_for(state="detached", timeout=30_000)
        page.get_by_text("recorded (5 criteria)").wait_for(timeout=30_000)
        page.get_by_text("Lesson plan s2").first.wait_for(timeout=30_000)
        snap(page, shots, "queue-after-submit")

        page.get_by_text("Give this submission back").click()
        page.get_by_role("textbox", name="Reason").fill("I coached this earner last year.")
        page.get_by_role("button", name="Give it back").click()
        page.get_by_text("Nothing waiting for you on").wait_for(timeout=30_000)
        page.get_by_text("Submissions of a rubric reach you").wait_for(timeout=30_000)  # last
        page.get_by_role("button", name="Give it back").wait_for(state="detached")
        empty = body(page).replace(WORD_JOINER, "")
        snap(page, shots, "queue-empty")
        assert "given back. Your reason: I coached this earner last year." in empty
        assert "No passed qualification round yet on ct-unplugged@1 and inquiry-lead@1" in empty

        # --- amy: My history ------------------------------------------------------------------
        open_menu(page, "My history", "In short.")
        page.get_by_text("Qualification rounds", exact=True).wait_for(timeout=30_000)
        page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=30_000)
        snap(page, shots, "my-history")
        mine = body(page)
        assert "95% interval" in mine and "the range the true figure probably lies in" in mine
        assert "passed" in mine
        amy_errors = errors(page)
        page.close()

        # --- lea: Adjudication ----------------------------------------------------------------
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log_in(page, server, "lea", PASSWORD)
        open_menu(page, "Adjudication", "Waiting for adjudication: 1")
        page.get_by_text("The two readings").wait_for(timeout=30_000)
        expect(page.get_by_role("combobox", name="Submission to adjudicate")).to_have_value(
            re.compile("5 criteria apart, decisions differ$"), timeout=30_000
        )
        snap(page, shots, "adjudication-list")
        pair = body(page)
        assert all(comment in pair for comment in PAIR_COMMENTS)
        assert "2 levels apart: too far" in pair and "reach different pass decisions" in pair
        assert "more than one level apart on 5 of 5 criteria" in pair
        page.get_by_text("Your reading", exact=True).scroll_into_view_if_needed()
        snap(page, shots, "adjudication-pair")
        score_all(page, [2, 3, 2, 2, 2][:n])
        page.get_by_role("textbox", name="Reason (required)").fill(
            "The plan names a benchmark and a sign of success; the evidence is partial."
        )
        page.get_by_role("button", name="Review and submit").click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for(timeout=30_000)
        dialog.get_by_text("Your reason").wait_for(timeout=30_000)
        dialog.get_by_role("button", name="Submit", exact=True).click()
        dialog.wait_for(state="detached", timeout=30_000)
        page.get_by_text("Submission apart resolved").wait_for(timeout=30_000)
        snap(page, shots, "adjudication-resolved")
        resolved = body(page)
        assert "Rule used: third reading replaces both" in resolved
        assert "final score" in resolved
        lea_errors = errors(page)
        page.close()

        # --- ada: Assessors -------------------------------------------------------------------
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log_in(page, server, "ada", PASSWORD)
        open_menu(page, "Assessors", "Submissions and results")
        page.get_by_text("Select a row").wait_for(timeout=30_000)
        snap(page, shots, "assessors")
        admin = body(page)
        # the first row's selection box (the grid is drawn on a canvas): the details
        results = page.get_by_test_id("stDataFrame").last
        results.scroll_into_view_if_needed()
        grid = results.bounding_box()
        page.mouse.click(grid["x"] + 16, grid["y"] + 35 + 17)
        page.get_by_text("under the rubric's pass rule. Rule:").wait_for(timeout=30_000)
        snap(page, shots, "assessors-details")
        details = body(page).replace(WORD_JOINER, "")
        ada_errors = errors(page)
        browser.close()
    (row,) = [x for x in q.results(engine=engine, actor=ADA) if x["submission"] == "apart"]
    assert row["status"] == "decided" and row["result"]["decided_by"] == "lea"
    assert row["result"]["scores"] == dict(zip(r.criterion_ids, [2, 3, 2, 2, 2], strict=False))
    assert "Suspend an assessor" in admin and "Reinstate an assessor" in admin
    assert "Rule: third reading replaces both. Decided by lea" in details
    assert "Reason: The plan names a benchmark" in details
    assert (amy_errors, lea_errors, ada_errors) == (0, 0, 0)
