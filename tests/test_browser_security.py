"""Stored text stays text in a real browser (headless Chromium): a rubric whose title,
competency, criterion titles, level labels and descriptors hold Markdown images and links, HTML
images and a script is shown literally on every page that shows it, the DOM holds no link or
image made from it, and the browser requests nothing from any host but the dashboard's own.

Also end to end: the login form is the only thing a visitor sees, and a board reviewer sees
pseudonyms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, log_in, need_chromium, serving
from tests.test_dashboard_access import (
    HOSTILE,
    HOSTILE_COMPETENCY,
    HOSTILE_CRITERION,
    HOSTILE_DESCRIPTOR,
    HOSTILE_TITLE,
    add_hostile_and_other,
)
from tests.test_dashboard_pages import build_demo_store

pytestmark = pytest.mark.browser

FOREIGN = ("127.0.0.2", "127.0.0.3", "example.invalid")
"""The hosts the hostile rubric's links and images point at."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need_chromium()
    folder = tmp_path_factory.mktemp("hostile")
    url = build_demo_store(folder)
    add_hostile_and_other(url, folder)
    with serving(url, CALIBRATE_DEMO="1") as address:
        yield address


class Browser:
    """A Chromium context that records every request it makes."""

    def __init__(self, playwright: Any) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(viewport={"width": 1400, "height": 1200})
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))

    def foreign(self, address: str) -> list[str]:
        """Requests to anywhere but ``address`` (the dashboard)."""
        own = urlsplit(address).netloc
        return [u for u in self.requests if urlsplit(u).netloc != own and not u.startswith("data:")]


@pytest.fixture
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = Browser(p)
        yield browser
        browser.browser.close()


def plain(page: Any) -> str:
    """The page's visible text, without the invisible word joiners that keep URLs unlinked."""
    return str(page.inner_text("body")).replace("\u2060", "")


def made_from_hostile_text(page: Any) -> dict[str, int]:
    """Links, images and scripts in the DOM that the hostile text could have made."""
    return {
        "links": page.locator(", ".join(f"a[href*='{host}']" for host in FOREIGN)).count(),
        "images": page.locator(", ".join(f"img[src*='{host}']" for host in FOREIGN)).count(),
        "scripts": page.locator("script", has_text="owned").count(),
    }


def choose(page: Any, combobox: int, option: str) -> None:
    """Choose the option that starts with ``option`` in the page's ``combobox``-th select box
    (checking that the open list made nothing of the hostile text either)."""
    from playwright.sync_api import expect

    box = page.get_by_role("combobox").nth(combobox)
    box.click()
    listed = page.get_by_role("option", name=re.compile("^" + re.escape(option)))
    listed.wait_for(timeout=30_000)
    assert made_from_hostile_text(page) == {"links": 0, "images": 0, "scripts": 0}
    listed.click()
    expect(box).to_have_value(re.compile("^" + re.escape(option)), timeout=30_000)


def test_a_visitor_sees_the_login_form_only(server: str, chromium: Browser) -> None:
    page = chromium.context.new_page()
    for path in ("", "/agreement", "/raters", "/accounts"):
        page.goto(server + path)
        page.get_by_label("User name").wait_for(timeout=30_000)
        body = plain(page)
        assert "Log in" in body and "Demo." in body  # demo mode: the banner, the accounts
        assert "Rubric versions" not in body and "Agreement statistics" not in body
        assert page.get_by_role("link", name="Agreement").count() == 0
    assert not chromium.foreign(server)


def test_hostile_rubric_is_plain_text_for_an_administrator(
    server: str, chromium: Browser, shots: Any
) -> None:
    page = chromium.context.new_page()
    log_in(page, server, "demo-admin")
    page.get_by_text("Rubric versions").wait_for(timeout=30_000)
    page.get_by_text(f"· {HOSTILE}").click()  # the expander
    page.get_by_text("Plain second criterion").wait_for(timeout=30_000)
    page.wait_for_timeout(1_000)  # the expander's opening animation
    page.screenshot(path=str(shots / "hostile-overview.png"), full_page=True)
    body = plain(page)
    for text in (HOSTILE_TITLE, HOSTILE_COMPETENCY, HOSTILE_CRITERION, HOSTILE_DESCRIPTOR):
        assert text in body, text
    assert made_from_hostile_text(page) == {"links": 0, "images": 0, "scripts": 0}

    page.get_by_role("link", name="Agreement").click()
    page.get_by_text("Agreement statistics").wait_for(timeout=60_000)
    choose(page, 0, HOSTILE)
    page.get_by_text("second (Plain second criterion").wait_for(timeout=90_000)
    page.screenshot(path=str(shots / "hostile-agreement.png"), full_page=True)
    body = plain(page)
    assert f"first ({HOSTILE_CRITERION})" in body  # the caption on the criterion
    chosen = page.get_by_role("combobox").nth(0).input_value()
    assert chosen == f"{HOSTILE} · {HOSTILE_TITLE}"  # the select box's option: text as is
    assert made_from_hostile_text(page) == {"links": 0, "images": 0, "scripts": 0}
    assert page.title() != "owned"
    assert not chromium.foreign(server), chromium.foreign(server)


def test_hostile_rubric_is_plain_text_for_an_assessor(
    server: str, chromium: Browser, shots: Any
) -> None:
    page = chromium.context.new_page()
    log_in(page, server, "demo-assessor")
    page.get_by_role("link", name="My ratings").click()  # the menu opens on Practice
    page.get_by_text("Earners' work").first.wait_for(timeout=30_000)
    page.locator("[role=gridcell]").first.wait_for(state="attached", timeout=30_000)
    cells = page.locator("[role=gridcell]").all_inner_texts()
    headers = page.locator("[role=columnheader]").all_inner_texts()
    page.screenshot(path=str(shots / "my-ratings.png"))
    assert "criterion" in headers and not {"expert", "rating id", "id"} & set(headers)
    assert any(c.startswith("S-") for c in cells)

    page.get_by_role("link", name="Rubrics").click()
    page.get_by_text("Read only").wait_for(timeout=30_000)
    choose(page, 0, HOSTILE)
    page.get_by_text("Plain second criterion").wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "hostile-rubrics.png"), full_page=True)
    body = plain(page)
    for text in (HOSTILE_TITLE, HOSTILE_COMPETENCY, HOSTILE_CRITERION, HOSTILE_DESCRIPTOR):
        assert text in body, text
    assert made_from_hostile_text(page) == {"links": 0, "images": 0, "scripts": 0}
    assert page.title() != "owned"
    assert not chromium.foreign(server), chromium.foreign(server)


def test_board_reviewer_sees_pseudonyms(server: str, chromium: Browser, shots: Any) -> None:
    page = chromium.context.new_page()
    log_in(page, server, "demo-board")
    page.get_by_role("link", name="Rater effects").click()
    page.get_by_text("Spread of severities").wait_for(timeout=60_000)
    pseudonym = page.locator("[role=gridcell]", has_text=re.compile(r"^A-[0-9a-f]{10}$"))
    pseudonym.first.wait_for(state="attached", timeout=30_000)
    cells = page.locator("[role=gridcell]").all_inner_texts()
    page.screenshot(path=str(shots / "raters-board.png"), full_page=True)
    assert any(re.fullmatch(r"A-[0-9a-f]{10}", c) for c in cells)
    assert not any(re.fullmatch(r"A\d{4}", c) for c in cells)  # no assessor keys
    assert page.get_by_role("link", name="Accounts").count() == 0
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("User name").wait_for(timeout=30_000)
    # the page's elements go once the run that replaced them ends
    page.get_by_text("Spread of severities").wait_for(state="detached", timeout=30_000)
    assert page.locator("[role=gridcell]").count() == 0
    assert not chromium.foreign(server)
