"""The issuer's pages in a real browser on a stored programme: first computation, then again.

Serves a store with ``calibrate serve`` and drives Debian's Chromium with Playwright as an
administrator. For each issuer page (Flags, Assessor, Rater effects, Accuracy, Drift, Rubric
audit, Attempts) on the store's first rubric it times, from the click on the page's link to the
moment the page shows a text that follows its figures and has finished running:

- ``first``: the first visit, which computes (the services' results are then cached);
- ``again``: the same page opened again in a new browser session, on the cached results: what
  an issuer waits for once the programme's figures are computed (goal: under 2 s).

The peer, in the same run: the Overview page opened the same way (counts only, the floor of a
page visit on this machine). The store is the one ``--database`` names (e.g. the programme
``benchmarks/bench_monitoring.py --keep`` leaves), or a pilot demo built for the run; an
administrator account ``bench-admin`` is added to it if missing.

Run: ``python benchmarks/bench_issuer_pages.py [--database URL] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_pages import CHROMIUM, TIMEOUT, served, settle

from calibrate import services, store
from calibrate.access import Actor
from calibrate.errors import CalibrateError
from calibrate.services.demo import DEMO_PASSWORD, build_demo

OPERATOR = Actor.operator("bench@bench_issuer_pages")
USER, PASSWORD = "bench-admin", "a bench password long enough"
PAGES = {
    "Overview": "Rubrics",
    "Flags": "Data read:",
    "Assessor": "Severity among peers",
    "Rater effects": "Severity of each assessor",
    "Accuracy": "Each criterion",
    "Drift": "The pool between windows",
    "Rubric audit": "Every finding",
    "Attempts": "Pass rate by attempt",
}
"""Each page (its link's title) and a text it shows once its figures are computed."""


def admin_store(url: str | None) -> tuple[str, str, str]:
    """The store's URL and an administrator's user name and password: the demo's
    ``demo-admin`` in a pilot demo built when no store is given, else :data:`USER` of issuer
    ``default`` (the issuer of definitions imported without one), added if missing."""
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="bench-issuer-"))
        url = f"sqlite:///{folder / 'store.db'}"
        engine = store.open_store(url)
        build_demo(engine=engine, actor=OPERATOR, out=folder / "demo", size="pilot", seed=2026)
        engine.dispose()
        return url, "demo-admin", DEMO_PASSWORD
    engine = store.open_store(url)
    with contextlib.suppress(CalibrateError):  # there already
        services.add_account(engine=engine, actor=OPERATOR, username=USER, role="admin",
                             password=PASSWORD, issuer="default")  # fmt: skip
    engine.dispose()
    return url, USER, PASSWORD


def visit(browser: Any, address: str, login: tuple[str, str], title: str) -> float:
    """Log in in a new session and time the click on ``title``'s link to the page settled."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(address)
    page.get_by_label("User name").fill(login[0])
    page.locator("input[type=password]").fill(login[1])
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_role("button", name="Log out").wait_for(timeout=TIMEOUT)
    settle(page)
    start = time.perf_counter()
    page.get_by_role("link", name=title, exact=True).click()
    page.get_by_text(PAGES[title]).first.wait_for(timeout=10 * TIMEOUT)
    settle(page)
    took = time.perf_counter() - start
    page.close()
    return took


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="the store (default: a pilot demo built for the run)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url, *login = admin_store(args.database)
    who = (login[0], login[1])
    rows: list[tuple[str, float, list[float]]] = []
    with served(url) as address, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        for title in PAGES:
            first = visit(browser, address, who, title)
            again = [visit(browser, address, who, title) for _ in range(args.repeat)]
            rows.append((title, first, again))
            print(f"{title}: first {first:.2f} s, again {np.median(again):.2f} s", flush=True)
        browser.close()
    floor = float(np.median(rows[0][2]))
    print("| page | first visit s | again p50 s | again max s | again / Overview |")
    print("|---|---:|---:|---:|---:|")
    for title, first, again in rows:
        a = np.asarray(again)
        print(f"| {title} | {first:.2f} | {np.median(a):.2f} | {a.max():.2f} | "
              f"{np.median(a) / floor:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
