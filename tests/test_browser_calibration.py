"""End to end in headless Chromium (issue 11, parts 1, 2 and 6): the dashboard served with the
README's command (``calibrate serve --database URL --port P --headless``) on a store holding the
shipped rubrics and anchor sets and an assessor account; the assessor logs in through the form,
practises on an anchor (a level chosen with the keyboard, a criterion left out and named, the
confirmation, the experts' rationale after submitting and not before), then fails a
qualification round (its last anchor's levels chosen, the page reloaded, the levels still
there), practises again, retakes it and passes.

Screenshots of every state go to the folder named by ``CALIBRATE_SCREENSHOTS`` (default: a
temporary folder), full height, for review and as CI artifacts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from calibrate import services, store
from tests.conftest import OPERATOR, ROOT
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, log_in, need_chromium
from tests.test_calibration import AMY, RUBRIC
from tests.test_dashboard_calibration import anchors_of, practise, wrong

pytestmark = pytest.mark.browser

PASSWORD = "a password long enough"
LABELS = {1: "1 · Not met", 2: "2 · Progressing", 3: "3 · Demonstrated"}  # crsel-intro's levels


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with the shipped rubrics and anchor sets (issuer ``north``) and the
    assessor ``amy``."""
    need_chromium()
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-calibration') / 'store.db'}"
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
    engine.dispose()
    return url


@contextmanager
def calibrate_serve(url: str) -> Iterator[str]:
    """``calibrate serve --database URL --port P --headless`` (the README's command) on a free
    port, in its own process group (the command runs Streamlit as a child); yields the address
    and stops both at the end."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "calibrate",
            "serve",
            "--database",
            url,
            "--port",
            str(port),
            "--headless",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("calibrate serve did not listen within 60 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(url: str) -> Iterator[str]:
    with calibrate_serve(url) as address:
        yield address


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = store.open_store(url)
    yield eng
    eng.dispose()


def shot(page: Any, folder: Path, name: str) -> None:
    """``name``.png of the page as seen (1400 x 1000) and ``name``-full.png of the whole page:
    Streamlit scrolls its main block, not the document, so the window is made as tall as it."""
    page.wait_for_timeout(400)  # the last rerun's elements settle
    page.screenshot(path=str(folder / f"{name}.png"))
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], "
        "[data-testid=stMainBlockContainer]')].map(e => e.scrollHeight), 1000)"
    )
    page.set_viewport_size({"width": 1400, "height": int(height) + 200})
    page.wait_for_timeout(300)
    page.screenshot(path=str(folder / f"{name}-full.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def radios(page: Any) -> Any:
    return page.get_by_test_id("stRadio")


def choose(page: Any, criterion: int, score: int) -> None:
    """Click level ``score`` of the ``criterion``-th criterion (0-based)."""
    radios(page).nth(criterion).get_by_text(LABELS[score], exact=True).click()
    page.wait_for_timeout(150)


def submit(page: Any) -> None:
    """Review, confirm in the dialog and wait for it to close."""
    page.get_by_role("button", name="Review and submit").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=30_000)
    dialog.get_by_role("button", name="Submit", exact=True).click()
    dialog.wait_for(state="detached", timeout=30_000)


def body(page: Any) -> str:
    return str(page.inner_text("body"))


def errors(page: Any) -> int:
    return int(page.get_by_test_id("stException").count())


def test_practice_then_fail_retake_and_pass_a_round(
    server: str, engine: Engine, shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    rubric = store.stored_rubric(RUBRIC, engine=engine)
    n = len(rubric.criteria)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        log_in(page, server, "amy", PASSWORD)

        # --- practice: the anchor, the rubric's descriptors, no answer key --------------------
        page.get_by_text("Your scores", exact=True).wait_for(timeout=30_000)
        item = services.practice_next(engine=engine, actor=AMY, rubric=RUBRIC)  # the open one
        (anchor,) = anchors_of(engine, item.attempt)
        before = body(page)
        shot(page, shots, "practice-item")
        assert str(anchor.artifact["title"]) in before
        assert rubric.criteria[0].descriptors[3].split()[0] in before
        # keyboard: a click on the first level, then the arrow key moves to the next
        choose(page, 0, 1)
        page.keyboard.press("ArrowDown")
        expect(radios(page).nth(0).get_by_role("radio", name=LABELS[2])).to_be_checked()
        for i in range(1, n - 1):
            choose(page, i, 2)
        page.get_by_role("button", name="Review and submit").click()
        page.get_by_text("still without a level").wait_for(timeout=30_000)
        missing = body(page)
        shot(page, shots, "practice-missing-criterion")
        assert f"{n}. {rubric.criteria[-1].title}" in missing and "Nothing was submitted" in missing
        choose(page, n - 1, 3)
        page.get_by_role("button", name="Review and submit").click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for(timeout=30_000)
        confirming = body(page)
        shot(page, shots, "practice-confirm")
        assert "Submit these scores?" in confirming and "3 · Demonstrated" in dialog.inner_text()
        for text in anchor.rationale.values():
            assert text[:40] not in before and text[:40] not in confirming
        dialog.get_by_role("button", name="Submit", exact=True).click()
        page.get_by_text("Why the experts chose this level").first.wait_for(timeout=30_000)
        page.get_by_role("button", name="Next practice anchor").wait_for(timeout=30_000)  # last
        shown = body(page)
        shot(page, shots, "practice-feedback")
        for text in anchor.rationale.values():
            assert " ".join(text.split())[:40] in " ".join(shown.split())
        assert "Experts' score" in shown or "Your score and the experts'" in shown
        page.get_by_role("button", name="Next practice anchor").click()
        page.get_by_role("button", name="Review and submit").wait_for(timeout=30_000)
        assert "Why the experts chose this level" not in body(page)

        # --- a qualification round, failed ------------------------------------------------------
        page.get_by_role("link", name="Qualification round").click()
        page.get_by_role("button", name="Start round").wait_for(timeout=30_000)
        shot(page, shots, "round-start")
        assert "exact agreement (your score equals the experts')" in body(page)
        page.get_by_role("button", name="Start round").click()
        page.get_by_text("Anchor 1 of 10").wait_for(timeout=30_000)
        shot(page, shots, "round-progress")
        standing = services.qualification(engine=engine, actor=AMY, rubric=RUBRIC)
        attempt = standing.eligibility.open_round
        assert attempt is not None
        anchors = anchors_of(engine, attempt)
        for i, c in enumerate(rubric.criterion_ids):  # anchor 1 on the page, every score off
            choose(page, i, {1: 3, 2: 1, 3: 1}[anchors[0].expert[c]])
        submit(page)
        page.get_by_text("Anchor 2 of 10").wait_for(timeout=30_000)
        assert "Why the experts chose" not in body(page)  # no feedback during a round
        for position in range(2, 10):  # through the service: 2-4 one level off, then right
            anchor = anchors[position - 1]
            services.round_score(
                engine=engine,
                actor=AMY,
                attempt=attempt,
                position=position,
                scores=wrong(anchor) if position <= 4 else dict(anchor.expert),
            )
        page.reload()  # a new browser session: the login form at the same page
        log_in(page, "", "amy", PASSWORD)
        page.get_by_text("Anchor 10 of 10").wait_for(timeout=30_000)
        for i, c in enumerate(rubric.criterion_ids):
            choose(page, i, anchors[-1].expert[c])
        shot(page, shots, "round-last-anchor")
        page.reload()  # the chosen levels survive a reload (and the login it asks for)
        log_in(page, "", "amy", PASSWORD)
        page.get_by_text("Anchor 10 of 10").wait_for(timeout=30_000)
        for i, c in enumerate(rubric.criterion_ids):
            level = radios(page).nth(i).get_by_role("radio", name=LABELS[anchors[-1].expert[c]])
            expect(level).to_be_checked()
        submit(page)
        page.get_by_text("Your round's result").wait_for(timeout=30_000)
        page.get_by_text("Anchor 10: ").last.wait_for(timeout=30_000)  # the page's last element
        failed = body(page)
        shot(page, shots, "round-result-failed")
        assert "Not passed" in failed and "Exact agreement" in failed and "✗ not met" in failed
        missed = anchors[0].rationale[rubric.criterion_ids[0]]  # in the table of misses
        assert " ".join(missed.split())[:40] in " ".join(failed.split())
        assert "score a practice anchor first" in failed

        # --- practice again, retake, pass -----------------------------------------------------
        practise(engine)
        page.reload()
        log_in(page, "", "amy", PASSWORD)
        page.get_by_role("button", name="Start a new round (retake)").click()
        page.get_by_text("Anchor 1 of 10").wait_for(timeout=30_000)
        attempt = services.qualification(
            engine=engine, actor=AMY, rubric=RUBRIC
        ).eligibility.open_round
        assert attempt is not None
        anchors = anchors_of(engine, attempt)
        for position in range(1, 10):
            services.round_score(
                engine=engine,
                actor=AMY,
                attempt=attempt,
                position=position,
                scores=dict(anchors[position - 1].expert),
            )
        page.reload()
        log_in(page, "", "amy", PASSWORD)
        page.get_by_text("Anchor 10 of 10").wait_for(timeout=30_000)
        for i, c in enumerate(rubric.criterion_ids):
            choose(page, i, anchors[-1].expert[c])
        submit(page)
        page.get_by_text("Passed (round finished").wait_for(timeout=30_000)
        page.get_by_text("Anchor 10: ").last.wait_for(timeout=30_000)
        passed = body(page)
        shot(page, shots, "round-result-passed")
        count = errors(page)
        browser.close()
    assert "Qualified" in passed and "No round needed now" in passed
    assert passed.count("✓ met") == 4
    assert count == 0
