"""Who sees what in the dashboard (issue #10), with Streamlit's AppTest on a demo store that also
holds a second issuer's rubric and a hostile rubric: login required, the login form's messages,
each role's navigation, pseudonyms for a board reviewer, one issuer's rubrics for its
administrator, nothing secret in the session state, the demo banner, logging out, the accounts
and audit pages, stored text shown as text."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from calibrate import services, store
from calibrate.dashboard.session import DEMO_BANNER, TOKEN
from calibrate.dashboard.text import escape
from calibrate.errors import AuthenticationError
from calibrate.services.demo import DEMO_PASSWORD
from tests.conftest import ROOT
from tests.test_dashboard_pages import OPERATOR, PAGE, build_demo_store, session_token

# Stored text that Markdown would turn into an image fetched from elsewhere, a link, and HTML.
IMAGE = "![x](http://127.0.0.2:9/pixel.png)"
LINK = "[click](http://example.invalid/)"
HTML_IMAGE = "<img src=http://127.0.0.3:9/x.png>"
SCRIPT = "<script>document.title='owned'</script>"
HOSTILE_TITLE = f"Hostile {IMAGE} {LINK} {HTML_IMAGE} {SCRIPT}"
HOSTILE_CRITERION = f"Criterion {LINK} **bold** {IMAGE}"
HOSTILE_DESCRIPTOR = f"Level text {HTML_IMAGE} {IMAGE} :red[red] $x^2$ {SCRIPT}"
HOSTILE_COMPETENCY = f"# Heading {IMAGE} {LINK} {HTML_IMAGE} {SCRIPT}"
HOSTILE = "hostile@1"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


HOSTILE_RUBRIC = f"""\
id: hostile
version: 1
title: {_q(HOSTILE_TITLE)}
competency: {_q(HOSTILE_COMPETENCY)}
levels:
  - {{score: 1, label: {_q("Low " + IMAGE)}}}
  - {{score: 2, label: {_q("High " + LINK)}}}
criteria:
  - id: first
    title: {_q(HOSTILE_CRITERION)}
    descriptors: {{1: {_q(HOSTILE_DESCRIPTOR)}, 2: {_q("Second " + LINK)}}}
  - id: second
    title: {_q("Plain second criterion " + HTML_IMAGE)}
    descriptors: {{1: {_q("Low " + SCRIPT)}, 2: {_q("High " + IMAGE)}}}
pass_rule:
  every_criterion_at_least: 2
"""

OTHER = "other-credential@1"
"""A rubric of issuer ``other``: no demo account may see it."""


def add_hostile_and_other(url: str, folder: Path) -> None:
    """Store the hostile rubric in the demo issuer with live ratings of it (the demo assessor,
    A0001, among the assessors), and a copy of a shipped rubric in issuer ``other``."""
    hostile = folder / "hostile"
    hostile.mkdir()
    (hostile / "hostile.yaml").write_text(HOSTILE_RUBRIC, encoding="utf-8")
    other = folder / "other"
    other.mkdir()
    text = (ROOT / "rubrics" / "crsel-intro.yaml").read_text(encoding="utf-8")
    (other / "other.yaml").write_text(
        text.replace("id: crsel-intro", "id: other-credential"), encoding="utf-8"
    )
    ratings = folder / "hostile.csv"
    with ratings.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["submission", "assessor", "criterion", "score", "timestamp", "rubric"])
        for s in range(6):
            for a, assessor in enumerate(("A0001", "A0003", "A0004")):
                for criterion in ("first", "second"):
                    score = 1 + (s + a * (s % 2) + (criterion == "second")) % 2
                    out.writerow(
                        [
                            f"h{s}",
                            assessor,
                            criterion,
                            score,
                            f"2026-01-0{1 + a}T10:00:00Z",
                            HOSTILE,
                        ]
                    )
    engine = store.open_store(url)
    try:
        services.import_definitions(hostile, engine=engine, actor=OPERATOR, issuer="demo")
        services.import_definitions(other, engine=engine, actor=OPERATOR, issuer="other")
        services.import_ratings(ratings, engine=engine, actor=OPERATOR)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("access")
    url = build_demo_store(folder)
    add_hostile_and_other(url, folder)
    return url


@pytest.fixture
def nav(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """The url paths of the pages each ``st.navigation`` call of a run listed (by their titles:
    the default page's url path reads empty)."""
    from calibrate.dashboard import PAGES

    paths = {title: path for path, (_, title) in PAGES.items()} | {"Log in": "login"}
    calls: list[list[str]] = []
    navigation = st.navigation

    def recording(pages: Any, **kwargs: Any) -> Any:
        listed = (
            [p for group in pages.values() for p in group] if isinstance(pages, dict) else pages
        )
        calls.append([paths[p.title] for p in listed])
        return navigation(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", recording)
    yield calls


def app(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    user: str | None = None,
    url_path: str | None = None,
    *,
    demo: bool = False,
) -> AppTest:
    """``app.py`` on the store at ``url``: logged in as ``user`` (a session token, as the login
    form leaves it) or not, with page ``url_path`` opened, in demo mode or not."""
    monkeypatch.setenv("CALIBRATE_DATABASE_URL", url)
    monkeypatch.setenv("CALIBRATE_DEMO", "1" if demo else "0")
    if url_path is not None:

        def default_page(*args: Any, **kwargs: Any) -> Any:
            return PAGE(*args, **{**kwargs, "default": kwargs.get("url_path") == url_path})

        monkeypatch.setattr(st, "Page", default_page)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    if user is not None:
        at.session_state[TOKEN] = session_token(url, user)
    at.run()
    assert not at.exception, at.exception
    return at


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    """Fill in and submit the login form."""
    at.text_input(key="login_username").input(username)
    (secret,) = [t for t in at.text_input if t.label == "Password"]
    secret.input(password)
    (submit,) = [b for b in at.button if b.label == "Log in"]
    submit.click().run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    """Every text the run put on the page (values and labels), one string."""
    parts: list[str] = []
    for kind in ("title", "subheader", "caption", "markdown", "text", "info", "warning", "error"):
        parts += [str(e.value) for e in at.get(kind)]
    parts += [str(e.label) for e in at.get("expander")]
    return "\n".join(parts)


def state(at: AppTest) -> dict[str, Any]:
    return {k: at.session_state[k] for k in at.session_state}


# --- logging in ----------------------------------------------------------------------------------


def test_nothing_before_a_login(monkeypatch: pytest.MonkeyPatch, url: str, nav: Any) -> None:
    at = app(monkeypatch, url)
    assert len(nav) == 1 and set(nav[0]) == {"login"}  # the login form at every address
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    assert [b.label for b in at.button] == ["Log in"]  # no SSO without secrets, no demo
    assert not at.metric and not at.dataframe and not at.table and not at.selectbox
    assert not at.expander and TOKEN not in state(at)
    assert DEMO_BANNER not in texts(at)


def test_login_form_logs_in_and_keeps_no_password(
    monkeypatch: pytest.MonkeyPatch, url: str, nav: Any
) -> None:
    at = log_in(app(monkeypatch, url), "demo-admin", DEMO_PASSWORD)
    assert nav[-1][0] == "overview"
    assert at.title[0].value == "calibrate" and at.metric
    token = state(at)[TOKEN]
    engine = store.open_store(url)
    assert services.session_actor(token, engine=engine).name == "demo-admin"
    engine.dispose()
    assert DEMO_PASSWORD not in repr(state(at))
    assert not any(t.label == "Password" for t in at.text_input)  # the form is gone


def test_wrong_password_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    at = log_in(app(monkeypatch, url), "demo-lead", "not the password at all")
    assert [e.value for e in at.error] == [escape("wrong user name or password")]
    assert TOKEN not in state(at) and not at.metric
    assert "not the password at all" not in repr(state(at))
    assert [t.label for t in at.text_input] == ["User name", "Password"]


def test_too_many_failures_are_refused_even_with_the_right_password(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("CALIBRATE_LOGIN_FAILURES", "2")
    at = app(monkeypatch, url)
    for _ in range(2):
        log_in(at, "demo-board", "wrong password, again")
    log_in(at, "demo-board", DEMO_PASSWORD)
    (message,) = at.error
    assert "too many failed logins for" in message.value
    assert TOKEN not in state(at) and not at.metric


# --- each role's navigation ----------------------------------------------------------------------

NAVIGATION = {
    "demo-assessor": [
        "practice",
        "qualification",
        "my-queue",
        "my-history",
        "my-ratings",
        "rubrics",
    ],
    "demo-lead": [
        "overview",
        "flags",
        "assessor",
        "agreement",
        "raters",
        "accuracy",
        "reliability",
        "attempts",
        "drift",
        "rubric-audit",
        "rules",
        "adjudication",
        "my-queue",
        "practice",
        "qualification",
        "my-history",
        "my-ratings",
    ],
    "demo-admin": [
        "overview",
        "flags",
        "assessor",
        "agreement",
        "raters",
        "accuracy",
        "reliability",
        "attempts",
        "drift",
        "rubric-audit",
        "rules",
        "assessors",
        "accounts",
        "audit",
    ],
    "demo-board": [
        "overview",
        "flags",
        "assessor",
        "agreement",
        "raters",
        "accuracy",
        "reliability",
        "attempts",
        "drift",
        "rubric-audit",
        "rules",
        "audit",
    ],
}


@pytest.mark.parametrize("user", list(NAVIGATION))
def test_each_role_has_its_pages(
    monkeypatch: pytest.MonkeyPatch, url: str, nav: Any, user: str
) -> None:
    at = app(monkeypatch, url, user)
    assert nav == [NAVIGATION[user]]
    assert f"Logged in as **{escape(user)}**" in at.sidebar.caption[0].value
    assert [b.label for b in at.sidebar.button] == ["Log out"]


def test_an_assessor_reaching_an_analysis_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # Not in an assessor's menu; and were a page reached, the service refuses, in words.
    from calibrate import dashboard

    pages = ("flags", "agreement", "raters", "accuracy", "audit")
    monkeypatch.setitem(dashboard.ROLE_PAGES, "assessor", pages)
    for path in pages:
        at = app(monkeypatch, url, "demo-assessor", path)
        (error,) = at.error
        assert "demo\\-assessor \\(assessor\\) may not" in error.value
        assert not at.dataframe and not at.metric


def test_assessor_sees_own_ratings_only_in_plain_words(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    at = app(monkeypatch, url, "demo-assessor", "my-ratings")
    assert at.title[0].value == "My ratings"
    table = at.dataframe[0].value
    assert list(table.columns) == [
        "scored at",
        "submission",
        "criterion",
        "score",
        "kind of work",
        "rubric",
    ]  # and "revision" once a score was corrected
    engine = store.open_store(url)
    mine = store.load_ratings(engine=engine, rubric="crsel-intro@1")
    own = services.my_ratings(engine=engine, actor=_actor(url, "demo-assessor"))
    engine.dispose()
    assert len(table) == len(own)  # the service's rows, all of them
    assert table["submission"].str.match(r"^S-[0-9a-f]{10}$").all()
    assert not set(table["submission"]) & set(mine.units)  # no submission or anchor ids
    assert set(table["kind of work"]) <= {"earner's work", "practice round", "qualification round"}
    assert HOSTILE_CRITERION in set(table["criterion"])  # a title, as stored, in a cell
    assert not {"expert", "rationale", "id", "rating_id", "validity"} & set(table.columns)


def _actor(url: str, user: str) -> Any:
    engine = store.open_store(url)
    try:
        return services.session_actor(session_token(url, user), engine=engine)
    finally:
        engine.dispose()


def test_assessor_reads_rubrics_as_plain_text(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    at = app(monkeypatch, url, "demo-assessor", "rubrics")
    assert at.title[0].value == "Rubrics"
    options = at.selectbox(key="rubrics_rubric").options
    assert OTHER not in " ".join(options)
    at.selectbox(key="rubrics_rubric").select(HOSTILE).run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == escape(HOSTILE_TITLE)
    assert at.text[0].value == HOSTILE_COMPETENCY  # st.text: no Markdown at all
    table = at.table[0].value
    assert escape(HOSTILE_CRITERION) in list(table[escape("criterion")])
    assert escape(HOSTILE_DESCRIPTOR) in list(table[escape("1 Low " + IMAGE)])


def test_board_sees_pseudonyms_after_the_administrator_saw_names(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # The cache is keyed by the account: the board reviewer never gets the administrator's
    # cached fit with the assessors' keys.
    admin = app(monkeypatch, url, "demo-admin", "raters")
    names = list(admin.dataframe[0].value["assessor"])
    assert names and all(n.startswith("A0") for n in names)
    board = app(monkeypatch, url, "demo-board", "raters")
    shown = list(board.dataframe[0].value["assessor"])
    assert len(shown) == len(names)
    assert all(a.startswith("A-") and len(a) == 12 for a in shown)
    assert not set(shown) & set(names)
    assert not any(n in texts(board) for n in names)


def test_administrator_sees_only_their_issuers_rubrics(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    engine = store.open_store(url)
    everything = [f"{r.id}@{r.version}" for r in store.stored_rubrics(engine=engine)]
    engine.dispose()
    assert OTHER in everything
    at = app(monkeypatch, url, "demo-admin")
    labels = " ".join(e.label for e in at.expander)
    assert len(at.expander) == len(everything) - 1 and OTHER not in labels
    at = app(monkeypatch, url, "demo-admin", "agreement")
    options = at.selectbox(key="agreement_rubric").options
    assert len(options) == len(everything) - 1
    assert not any(OTHER in o for o in options)


def test_session_state_holds_no_password_and_no_answer_key(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    runs = [log_in(app(monkeypatch, url), "demo-lead", DEMO_PASSWORD)]
    runs += [app(monkeypatch, url, "demo-lead", path) for path in NAVIGATION["demo-lead"]]
    for at in runs:
        seen = state(at)
        assert TOKEN in seen
        held = repr(seen)
        assert DEMO_PASSWORD not in held
        assert "expert" not in held and "rationale" not in held


def test_demo_banner_on_every_page(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    at = app(monkeypatch, url, demo=True)
    assert at.warning[0].value == DEMO_BANNER
    buttons = [b.label for b in at.button]
    assert buttons[1:] == [
        "Log in as demo-admin",
        "Log in as demo-lead",
        "Log in as demo-assessor",
        "Log in as demo-board",
    ]
    assert "Assessor**: only their own ratings" in texts(at)
    for user, paths in NAVIGATION.items():
        for path in paths:
            at = app(monkeypatch, url, user, path, demo=True)
            assert at.warning[0].value == DEMO_BANNER, (user, path)


def test_demo_account_button_logs_in(monkeypatch: pytest.MonkeyPatch, url: str, nav: Any) -> None:
    at = app(monkeypatch, url, demo=True)
    at.button(key="demo_demo-board").click().run()
    assert not at.exception, at.exception
    assert nav[-1] == NAVIGATION["demo-board"]
    assert at.warning[0].value == DEMO_BANNER


def test_no_demo_banner_outside_demo_mode(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    at = app(monkeypatch, url, "demo-admin")
    assert DEMO_BANNER not in texts(at)


def test_single_sign_on_button_only_when_configured(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("CALIBRATE_DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "calibrate",
        "client_secret": "secret",
        "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
    }
    at.run()
    assert not at.exception, at.exception
    assert "Log in with single sign-on" in [b.label for b in at.button]
    assert not at.error and TOKEN not in state(at)  # no one logged in by single sign-on yet


def test_single_sign_on_button_per_provider(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("CALIBRATE_DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    provider = {
        "client_id": "calibrate",
        "client_secret": "secret",
        "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
    }
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "google": provider,
        "microsoft": provider,
    }
    at.run()
    assert not at.exception, at.exception
    labels = [b.label for b in at.button]
    assert "Log in with single sign-on (google)" in labels
    assert "Log in with single sign-on (microsoft)" in labels


# --- logging out, and sessions that end ----------------------------------------------------------


def test_log_out_ends_the_session(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    at = app(monkeypatch, url, "demo-lead")
    token = state(at)[TOKEN]
    at.sidebar.button[0].click().run()
    assert not at.exception, at.exception
    assert TOKEN not in state(at) and not at.metric
    assert [t.label for t in at.text_input] == ["User name", "Password"]
    engine = store.open_store(url)
    with pytest.raises(AuthenticationError):
        services.session_actor(token, engine=engine)
    engine.dispose()


def test_disabling_an_account_ends_its_session_at_the_next_click(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    lead = app(monkeypatch, url, "demo-lead", "rules")
    admin = app(monkeypatch, url, "demo-admin", "accounts")
    admin.selectbox(key="accounts_who").select("demo-lead")
    admin.text_input(key="accounts_reason").input("left the programme")
    admin.button(key="accounts_disable").click().run()
    assert not admin.exception, admin.exception
    assert "Disabled demo\\-lead" in admin.success[0].value
    table = admin.dataframe[0].value
    assert table.set_index("user name").loc["demo-lead", "status"] == "disabled"
    lead.run()  # the lead's next click
    assert TOKEN not in state(lead) and not lead.metric and not lead.table
    assert "ended" in lead.warning[0].value  # disabling ended the account's sessions
    assert [t.label for t in lead.text_input] == ["User name", "Password"]
    admin.button(key="accounts_enable").click().run()
    assert admin.dataframe[0].value.set_index("user name").loc["demo-lead", "status"] == "active"


# --- administrators: accounts and the audit log; board: the audit log ---------------------------


def test_administrator_adds_an_account_and_changes_its_role(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    at = app(monkeypatch, url, "demo-admin", "accounts")
    at.text_input(key="accounts_add_username").input("new-assessor")
    at.selectbox(key="accounts_add_role").select("assessor")
    at.text_input(key="accounts_add_assessor").input("A0005")
    (secret,) = [t for t in at.text_input if t.label == "Password"]
    secret.input("short")
    (add,) = [b for b in at.button if b.label == "Add account"]
    add.click().run()
    assert not at.exception, at.exception
    assert "at least 12 characters" in at.error[0].value  # the service's rule, in one line
    at.text_input(key="accounts_add_username").input("new-assessor")
    at.selectbox(key="accounts_add_role").select("assessor")
    at.text_input(key="accounts_add_assessor").input("A0005")
    (secret,) = [t for t in at.text_input if t.label == "Password"]
    secret.input("a long enough password")
    (add,) = [b for b in at.button if b.label == "Add account"]
    add.click().run()
    assert not at.exception, at.exception
    assert "Added new\\-assessor" in at.success[0].value
    table = at.dataframe[0].value.set_index("user name")
    assert table.loc["new-assessor", "role"] == "assessor"
    assert table.loc["new-assessor", "assessor key"] == "A0005"
    assert "a long enough password" not in repr(state(at))
    at.selectbox(key="accounts_who").select("new-assessor").run()
    at.selectbox(key="accounts_new_role").select("lead")
    at.button(key="accounts_set_role").click().run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.set_index("user name").loc["new-assessor", "role"] == "lead"
    # a change the service refuses: its rule, in one line
    at.selectbox(key="accounts_who").select("demo-admin").run()
    at.selectbox(key="accounts_new_role").select("assessor")
    at.button(key="accounts_set_role").click().run()
    assert not at.exception, at.exception
    (refused,) = at.error
    assert "demo\\-admin" in refused.value and "assessor key" in refused.value


@pytest.mark.parametrize("user", ["demo-admin", "demo-board"])
def test_audit_log_and_verify(monkeypatch: pytest.MonkeyPatch, url: str, user: str) -> None:
    at = app(monkeypatch, url, user, "audit")
    assert at.title[0].value == "Audit log"
    events = at.dataframe[0].value
    assert list(events.columns) == [
        "seq",
        "at",
        "by",
        "action",
        "issuer",
        "subject",
        "detail",
        "hash",
    ]
    assert len(events) and set(events["issuer"]) <= {"demo", ""}
    at.button(key="audit_verify").click().run()
    assert not at.exception, at.exception
    assert "The store holds together" in at.success[0].value
    (head,) = at.code
    assert head.value.split(":")[0].isdigit() and len(head.value.split(":")[1]) == 64
    at.text_input(key="audit_expect").input(head.value)
    at.button(key="audit_verify").click().run()
    assert "The store holds together" in at.success[0].value
    at.text_input(key="audit_expect").input("1:" + "0" * 64)
    at.button(key="audit_verify").click().run()
    assert not at.exception, at.exception
    assert at.error  # a head the chain does not hold: a problem, in words


# --- stored text is text -------------------------------------------------------------------------


def test_hostile_rubric_is_escaped_on_the_overview_and_agreement(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    at = app(monkeypatch, url, "demo-admin")
    (label,) = [e.label for e in at.expander if HOSTILE in e.label]
    assert label.startswith(escape(HOSTILE_TITLE))
    assert HOSTILE_COMPETENCY in [t.value for t in at.text]
    at = app(monkeypatch, url, "demo-admin", "agreement")
    at.selectbox(key="agreement_rubric").select(HOSTILE)
    at.number_input(key="agreement_resamples").set_value(0).run()
    assert not at.exception, at.exception
    lines = [c.value for c in at.caption if "**first**" in c.value]
    assert lines and escape(HOSTILE_CRITERION) in lines[0]
    assert IMAGE not in texts(at) and LINK not in texts(at) and HTML_IMAGE not in texts(at)


def test_board_sees_pseudonyms_on_the_accuracy_page(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    admin = app(monkeypatch, url, "demo-admin", "accuracy")
    names = list(admin.dataframe[0].value["assessor"])
    assert names and all(n.startswith("A0") for n in names)
    board = app(monkeypatch, url, "demo-board", "accuracy")
    shown = board.dataframe[0].value
    assert len(shown) == len(names)
    assert all(a.startswith("A-") and len(a) == 12 for a in shown["assessor"])
    assert not any(n in texts(board) for n in names)
    # the same figures under other names (anchors keep their ids: nobody's personal data)
    assert sorted(shown["mean dev."]) == sorted(admin.dataframe[0].value["mean dev."])
