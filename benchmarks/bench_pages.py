"""Page interactions in a real browser on the demo programme: what an assessor waits for.

Builds the classroom demo (its current term played through the workflow) in a temporary store,
serves it with ``calibrate serve`` and drives Debian's Chromium with Playwright as
``demo-assessor``. Timed, from the click to the moment the page shows the result:

- ``practice submit``: *Submit* in the confirmation dialog -> the experts' rationale shown;
- ``practice next``: *Next practice anchor* -> the next anchor ready to score;
- ``queue submit``: *Submit* in the confirmation dialog on My queue -> the line saying the
  scores were recorded, above the next item.

The peer, in the same run on the same pages: *Review and submit* -> the confirmation dialog
shown, a rerun of the page with no service write, the floor of any Streamlit interaction on
this machine. Goal (issue 11): every interaction under 1 s.

Run: ``python benchmarks/bench_pages.py [--repeat 10]`` (Chromium at /usr/bin/chromium or
``CALIBRATE_CHROMIUM``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from calibrate import store
from calibrate.access import Actor
from calibrate.services.demo import DEMO_PASSWORD, build_demo

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CALIBRATE_CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 60_000  # ms


@contextmanager
def served(url: str) -> Iterator[str]:
    """``calibrate serve`` on a free port in its own process group."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "calibrate", "serve", "--database", url, "--port", str(port),
         "--headless"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "CALIBRATE_DEMO": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def timed(action: Callable[[], None], done: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    done()
    return time.perf_counter() - start


def settle(page: Any) -> None:
    """Wait until the page's rerun has finished (Streamlit's running indicator gone)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon]')",
        timeout=TIMEOUT,
    )


def choose_all(page: Any, level: int) -> None:
    """Choose the ``level``-th level (0-based) of every criterion."""
    radios = page.get_by_test_id("stRadio")
    for i in range(radios.count()):
        radios.nth(i).locator("label").nth(level).click()
        settle(page)


def confirm(page: Any, peer: list[float]) -> Any:
    """Open the confirmation dialog (timed: the peer) and return its Submit button."""
    dialog = page.get_by_role("dialog")
    peer.append(timed(page.get_by_role("button", name="Review and submit").click,
                      lambda: dialog.wait_for(timeout=TIMEOUT)))  # fmt: skip
    return dialog.get_by_role("button", name="Submit", exact=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    url = f"sqlite:///{folder / 'store.db'}"
    engine = store.open_store(url)
    start = time.perf_counter()
    report = build_demo(engine=engine, actor=Actor.operator("bench@bench_pages"),
                        out=folder / "demo", size="classroom", seed=2026)  # fmt: skip
    engine.dispose()
    print(f"classroom demo built in {time.perf_counter() - start:.1f} s", flush=True)
    assert report.workflow is not None
    peer = "review -> dialog (peer)"
    times: dict[str, list[float]] = {peer: [], "practice submit": [], "practice next": [],
                                     "queue submit": []}  # fmt: skip
    with served(url) as address, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(address)
        page.get_by_label("User name").fill("demo-assessor")
        page.locator("input[type=password]").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in", exact=True).click()
        page.get_by_role("button", name="Log out").wait_for(timeout=TIMEOUT)

        page.get_by_role("link", name="Practice").click()
        for _ in range(args.repeat):
            page.get_by_role("button", name="Review and submit").wait_for(timeout=TIMEOUT)
            choose_all(page, 1)
            submit = confirm(page, times[peer])
            times["practice submit"].append(timed(submit.click, lambda: page.get_by_text(
                "Why the experts chose this level").first.wait_for(timeout=TIMEOUT)))  # fmt: skip
            following = page.get_by_role("button", name="Next practice anchor")
            if not following.count():
                break  # the practice pool is used up
            times["practice next"].append(timed(following.click, lambda: page.get_by_role(
                "button", name="Review and submit").wait_for(timeout=TIMEOUT)))  # fmt: skip

        page.get_by_role("link", name="My queue").click()
        for _ in range(args.repeat):
            ready = page.get_by_role("button", name="Review and submit")
            try:
                ready.wait_for(timeout=15_000)
            except Exception:  # the queue is empty
                break
            choose_all(page, 1)
            submit = confirm(page, times[peer])
            times["queue submit"].append(
                timed(
                    submit.click,
                    lambda: page.get_by_text("criteria).").first.wait_for(timeout=TIMEOUT),
                )
            )  # "Scores of ... recorded (5 criteria)."
            settle(page)
        browser.close()
    floor = float(np.median(times[peer]))
    print("| interaction | n | p50 s | p95 s | max s | p50 / peer p50 |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, values in times.items():
        if not values:
            print(f"| {name} | 0 | | | | |")
            continue
        a = np.asarray(values)
        print(f"| {name} | {a.size} | {np.median(a):.2f} | {np.percentile(a, 95):.2f} | "
              f"{a.max():.2f} | {np.median(a) / floor:.1f} |")  # fmt: skip


if __name__ == "__main__":
    main()
