"""The Streamlit dashboard: a router (:func:`run`) over thin pages that call the library.

No page shows anything before a login (:mod:`calibrate.dashboard.session`); after it, the
navigation holds the pages of the account's role, each page receives the acting account and
passes it to every service, and the services enforce what it may see. A refusal (or any
rule a service states) shows as one line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate.dashboard import (
    accounts,
    accuracy,
    adjudication,
    agreement,
    assessor,
    assessors,
    attempts,
    audit,
    data,
    drift,
    flags,
    my_history,
    my_queue,
    my_ratings,
    overview,
    practice,
    qualification,
    raters,
    reliability,
    rubric_audit,
    rubrics,
    rules,
    session,
)
from calibrate.dashboard.text import error
from calibrate.errors import CalibrateError
from calibrate.settings import get_settings

if TYPE_CHECKING:
    from calibrate.access import Actor

Render = Callable[["Actor"], None]

# (render, title, url path) of every page, and the pages of each role, in menu order.
PAGES: dict[str, tuple[Render, str]] = {
    "overview": (overview.render, "Overview"),
    "practice": (practice.render, "Practice"),
    "qualification": (qualification.render, "Qualification round"),
    "my-queue": (my_queue.render, "My queue"),
    "my-history": (my_history.render, "My history"),
    "my-ratings": (my_ratings.render, "My ratings"),
    "rubrics": (rubrics.render, "Rubrics"),
    "agreement": (agreement.render, "Agreement"),
    "raters": (raters.render, "Rater effects"),
    "accuracy": (accuracy.render, "Accuracy"),
    "reliability": (reliability.render, "Reliability (G study)"),
    "attempts": (attempts.render, "Attempts"),
    "drift": (drift.render, "Drift"),
    "rubric-audit": (rubric_audit.render, "Rubric audit"),
    "flags": (flags.render, "Flags"),
    "assessor": (assessor.render, "Assessor"),
    "rules": (rules.render, "Programme rules"),
    "adjudication": (adjudication.render, "Adjudication"),
    "assessors": (assessors.render, "Assessors"),
    "accounts": (accounts.render, "Accounts"),
    "audit": (audit.render, "Audit log"),
}
ANALYSES = (
    "overview", "flags", "assessor", "agreement", "raters", "accuracy", "reliability",
    "attempts", "drift", "rubric-audit", "rules",
)  # fmt: skip
ROLE_PAGES: dict[str, tuple[str, ...]] = {
    "assessor": ("practice", "qualification", "my-queue", "my-history", "my-ratings", "rubrics"),
    "lead": (
        *ANALYSES,
        "adjudication",
        "my-queue",
        "practice",
        "qualification",
        "my-history",
        "my-ratings",
    ),
    "admin": (*ANALYSES, "assessors", "accounts", "audit"),
    "board": (*ANALYSES, "audit"),
}
"""The pages each role's menu lists (the services refuse the rest anyway)."""


def _page(actor: Actor, url_path: str) -> Any:
    render, title = PAGES[url_path]

    def page() -> None:
        try:
            render(actor)
        except CalibrateError as exc:  # AccessDenied included: the rule, in one line
            error(exc)

    return st.Page(
        page, title=title, url_path=url_path, default=url_path == ROLE_PAGES[actor.role][0]
    )


def run() -> None:
    """Build the navigation of the logged-in account's role (or the login page) and run the
    selected page."""
    st.set_page_config(page_title="calibrate", layout="wide")
    if get_settings().demo:
        session.demo_banner()
    url = data.database_url()
    actor = session.current_actor(url)
    if actor is None:
        # The login form at every page's address too, so that a bookmark (or a reload, which
        # starts a new session) asks for a login and then opens that page.
        login = [
            st.Page(
                lambda: session.render_login(url),
                title="Log in",
                url_path=path,
                default=path == "login",
            )
            for path in ("login", *PAGES)
        ]
        st.navigation(login, position="hidden").run()
        return
    session.sidebar(actor, url)
    paths = ROLE_PAGES.get(actor.role, ())
    if not paths:  # the operator has no dashboard account
        error(f"{actor.name} ({actor.role}) has no pages in the dashboard")
        return
    sections: dict[str, list[Any]] = {}
    for path in paths:
        sections.setdefault(_section(path), []).append(_page(actor, path))
    st.navigation(sections if len(sections) > 1 else _flat(sections), expanded=True).run()


def _section(path: str) -> str:
    """The menu section of a page: the issuer's monitoring, the administration, or one's own
    scoring work."""
    if path in ANALYSES:
        return "Monitoring"
    return "Administration" if path in ("assessors", "accounts", "audit") else "Scoring"


def _flat(sections: dict[str, list[Any]]) -> list[Any]:
    return [page for pages in sections.values() for page in pages]
