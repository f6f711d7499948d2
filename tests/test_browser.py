"""End to end in headless Chromium: the served dashboard on the demo programme (shipped rubrics,
anchor sets and a simulated classroom programme), logged in through the login form."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from calibrate import store
from calibrate.rubric import load_rubric
from calibrate.services.demo import DEMO_PASSWORD
from tests.conftest import ROOT
from tests.test_dashboard_pages import OPERATOR, build_demo_store

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CALIBRATE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def need_chromium() -> None:
    """Skip without Chromium (fail when CALIBRATE_REQUIRE_BROWSER=1)."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        if os.environ.get("CALIBRATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CALIBRATE_REQUIRE_BROWSER=1 but no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a store holding the classroom demo and its accounts."""
    need_chromium()
    return build_demo_store(tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="module")
def server(demo_store: str) -> Iterator[str]:
    with serving(demo_store) as address:
        yield address


@contextmanager
def serving(url: str, **env: str) -> Iterator[str]:
    """``streamlit run app.py`` on the store at ``url`` (with settings ``env``), as served by
    ``calibrate serve``; yields its address."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        env={**os.environ, "CALIBRATE_DATABASE_URL": url, **env},
        cwd=ROOT,  # its .streamlit/config.toml
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("streamlit did not start within 60 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def log_in(page: Any, address: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Open the dashboard at ``address`` (or the page it is on) and log in through the form."""
    if address:
        page.goto(address)
    page.get_by_label("User name").fill(username)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_role("button", name="Log out").wait_for(timeout=30_000)


def test_overview_in_chromium(server: str, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server)
        page.get_by_label("User name").wait_for(timeout=30_000)
        before = page.inner_text("body")
        page.screenshot(path=str(shots / "login.png"))
        log_in(page, "", "demo-admin")
        page.get_by_text("Rubric versions").wait_for(timeout=30_000)
        page.get_by_text("crsel-intro@1").first.wait_for(timeout=30_000)
        body = page.inner_text("body")
        deploy = page.get_by_test_id("stAppDeployButton").count()
        page.screenshot(path=str(shots / "overview.png"))
        browser.close()
    assert "Rubric versions" not in before and "Introduction to Culturally" not in before
    assert "Scoring rigor for educator micro-credentials" in body
    assert "Introduction to Culturally Responsive" in body
    # .streamlit/config.toml (what `calibrate serve` passes): an application, no Deploy button
    assert deploy == 0 and "Deploy" not in body


def test_agreement_page_in_chromium(server: str, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    criteria = [c.id for c in load_rubric(ROOT / "rubrics" / "crsel-intro.yaml").criteria]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        log_in(page, server, "demo-admin")
        page.get_by_role("link", name="Agreement").click()
        page.get_by_text("Agreement statistics").wait_for(timeout=30_000)
        # The data grid draws on a canvas and keeps a hidden table of its cells in the DOM.
        alpha = page.locator("[role=gridcell]", has_text="Krippendorff α, ordinal")
        alpha.first.wait_for(state="attached", timeout=30_000)
        headers = page.locator("[role=columnheader]").all_inner_texts()
        cells = page.locator("[role=gridcell]").all_inner_texts()
        page.screenshot(path=str(shots / "agreement.png"))
        # Again from the cache: Streamlit replays the recorded progress bar without error. A
        # reload starts a new browser session: log in again, on the same page.
        page.reload()
        log_in(page, "", "demo-admin")
        alpha.first.wait_for(state="attached", timeout=30_000)
        errors = page.get_by_test_id("stException").count()
        body = page.inner_text("body")
        # Qualification rounds repeat anchors: the page asks which reading counts.
        page.get_by_role("combobox").nth(1).click()
        page.get_by_role("option", name="qualification (anchor submissions)").click()
        page.get_by_text("Repeated readings").wait_for(timeout=30_000)
        page.get_by_text("Latest reading").click()
        alpha.first.wait_for(state="attached", timeout=30_000)
        errors += page.get_by_test_id("stException").count()
        retakes = page.inner_text("body")
        browser.close()
    assert page.url.endswith("/agreement")
    assert "Pass decisions" in body and "Agreed" in body
    assert "Pass decisions" not in retakes and "Agreement statistics" in retakes
    assert headers[:2] == ["statistic", "all criteria"]
    assert set(criteria) <= set(headers)  # one column per criterion in the grid itself
    assert any(c.endswith("]") and c.count(",") == 1 for c in cells)  # value [low, high]
    assert "500 resamples, seed 2026" in body
    assert errors == 0


def test_rater_effects_page_in_chromium(server: str, demo_store: str, shots: Path) -> None:
    """The random-effects page: a caterpillar chart, the assessors not placed listed with why
    (no number), two tables whose every column shows at 900 px and 1400 px."""
    from playwright.sync_api import sync_playwright

    from calibrate.services import rater_effects, stored_selection

    engine = store.open_store(demo_store)
    report = rater_effects(stored_selection(engine=engine, actor=OPERATOR, rubric="crsel-intro@1"))
    engine.dispose()
    unplaced = [a["id"] for a in report.to_dict()["assessors"] if a["status"] != "placed"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width in (1400, 900):
            page = browser.new_page(viewport={"width": width, "height": 2600})
            log_in(page, server, "demo-admin")
            page.get_by_role("link", name="Rater effects").click()
            page.get_by_text("Criteria and rating scale").wait_for(timeout=60_000)
            page.locator("[role=gridcell]").first.wait_for(state="attached", timeout=30_000)
            page.wait_for_timeout(1000)
            body = page.inner_text("body")
            errors = page.get_by_test_id("stException").count()
            # every column of the assessors' tables fits: none ends beyond its grid
            overflow = page.evaluate(
                """() => [...document.querySelectorAll('[data-testid=stDataFrame]')].slice(0, 2)
                    .map(f => f.querySelector('.dvn-scroller'))
                    .map(s => s ? s.scrollWidth - s.clientWidth : 0)"""
            )
            page.screenshot(path=str(shots / f"raters-{width}.png"), full_page=True)
            page.close()
            assert errors == 0
            assert "Severity of each assessor" in body and "most severe" not in body
            assert all(o <= 1 for o in overflow), (width, overflow)
            for name in unplaced:
                assert f"{name} (" in body  # listed below the chart, with why
        browser.close()
    assert ("Not trustworthy" in body) is not report.converged
